//! Two-person approval with real SSH signatures: keys made by `ssh-keygen
//! -t ed25519`, requests signed by `safe-run approve` (which runs
//! `ssh-keygen -Y sign`) or by `ssh-keygen -Y sign` itself, and the
//! approval handed back with `--approval FILE`. A valid approval runs the
//! command once; an approval signed by the requester, by a key not in
//! allowed_signers, for another line, for another host, expired, or used
//! before is refused and nothing runs. The risky program is a fake.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use safe_run::approval::ApprovalRequest;

use crate::common::bin::{cmd, run};
use crate::common::{Env, Run, require, require_tool, short_host, toml_str, write_file};

const REASON: &str = "CHG-77 rotate the node after the kernel patch";

struct Approvals {
    env: Env,
    keys: PathBuf,
    /// Who the binary says asks (the user running the tests).
    requester: String,
    /// This host's name as requests carry it.
    host: String,
}

impl Approvals {
    /// An environment where high-risk lines need an approval, a fake
    /// `reboot`, keys for bob (listed), mallory (not listed) and the
    /// requester (listed under the requester's own name).
    fn new() -> Option<Approvals> {
        require_tool("ssh-keygen")?;
        // allowed_signers, and every directory above it, must be root's
        // alone; the temp dir these tests make is their runner's, so only
        // a run as root (as in CI) can hold a file safe-run accepts.
        if !require(
            nix::unistd::geteuid().is_root(),
            "allowed_signers must belong to root, and only a run as root can make one",
        ) {
            return None;
        }
        let env = Env::with_config(|dir| {
            format!(
                "[approval]\nrisks = [\"high\"]\nallowed_signers = {}\nstate_dir = {}\nttl_minutes = 30\n",
                toml_str(&dir.join("allowed_signers")),
                toml_str(&dir.join("state"))
            )
        });
        env.fake_marked("reboot");
        let keys = env.path().join("keys");
        std::fs::create_dir(&keys).expect("keys dir");
        for name in ["bob", "mallory", "me"] {
            let made = run(cmd(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    name,
                    "-f",
                    &keys.join(name).display().to_string(),
                ],
            ));
            made.expect_status(0);
        }
        // Ask once without an approval: refused, and the request names who
        // and where.
        let first = env.run(&[
            "--reason",
            REASON,
            "--confirm",
            &short_host(),
            "--",
            "reboot",
        ]);
        first.expect_status(77);
        let request = ApprovalRequest::from_token(&token_in(&first)).expect("a request token");
        let a = Approvals {
            env,
            keys,
            requester: request.user,
            host: request.host,
        };
        let signers = format!(
            "# approvers\nbob {}\n{} {}\n",
            a.public("bob"),
            a.requester,
            a.public("me")
        );
        write_file(
            &a.env.path().join("allowed_signers"),
            signers.as_bytes(),
            0o644,
        );
        Some(a)
    }

    fn public(&self, name: &str) -> String {
        std::fs::read_to_string(self.keys.join(format!("{name}.pub")))
            .expect("public key")
            .trim()
            .to_string()
    }

    fn key(&self, name: &str) -> String {
        self.keys.join(name).display().to_string()
    }

    /// A request for `line` on `host` by the requester, made `age` ago.
    fn request(&self, line: &str, host: &str, age: Duration) -> ApprovalRequest {
        ApprovalRequest::new(
            host,
            &self.requester,
            line,
            jiff::Timestamp::now() - age,
            Duration::from_secs(30 * 60),
        )
    }

    /// `safe-run approve TOKEN --key KEY`, its output saved as a file.
    fn approve(&self, token: &str, signer: &str, file: &str) -> PathBuf {
        let run = self
            .env
            .run(&["approve", token, "--key", &self.key(signer)]);
        run.expect_status(0);
        assert!(run.stdout.contains("BEGIN SSH SIGNATURE"), "{run:?}");
        let path = self.env.path().join(file);
        write_file(&path, run.stdout.as_bytes(), 0o644);
        path
    }

    /// Signs a request with `ssh-keygen -Y sign` directly (for requests
    /// `safe-run approve` would not sign, such as an expired one).
    fn sign_by_hand(&self, request: &ApprovalRequest, signer: &str, file: &str) -> PathBuf {
        let text = self.env.path().join(format!("{file}.request"));
        write_file(&text, request.text().as_bytes(), 0o644);
        run(cmd(
            "ssh-keygen",
            &[
                "-Y",
                "sign",
                "-n",
                "safe-run-approval",
                "-f",
                &self.key(signer),
                &text.display().to_string(),
            ],
        ))
        .expect_status(0);
        let sig = std::fs::read_to_string(text.with_extension("request.sig")).expect("sig");
        let path = self.env.path().join(file);
        write_file(
            &path,
            format!("{}\n{sig}", request.token()).as_bytes(),
            0o644,
        );
        path
    }

    fn run_with(&self, approval: &Path, args: &[&str]) -> Run {
        let host = short_host();
        let approval = approval.display().to_string();
        let mut all = vec![
            "--approval",
            approval.as_str(),
            "--reason",
            REASON,
            "--confirm",
            host.as_str(),
        ];
        all.extend_from_slice(args);
        self.env.run(&all)
    }

    /// Runs `reboot` with the approval in `file`; expects a refusal whose
    /// message and record say `why`, and that nothing ran.
    fn refused(&self, approval: &Path, args: &[&str], why: &str) {
        let _ = std::fs::remove_file(self.env.marker("reboot"));
        let run = self.run_with(approval, args);
        run.expect_status(77);
        assert!(run.stderr.contains(why), "want {why:?}: {run:?}");
        assert!(!self.env.ran("reboot"), "{run:?}");
        let d = self.env.last_decision();
        assert_eq!(d["decision"], "refused", "{d}");
        let refused = d["approval"]["refused"].as_str().unwrap_or_default();
        assert!(refused.contains(why), "{d}");
    }
}

/// The `sr1.…` word a refusal printed.
fn token_in(run: &Run) -> String {
    run.stderr
        .split_whitespace()
        .find(|w| w.starts_with("sr1."))
        .unwrap_or_else(|| panic!("no request token: {run:?}"))
        .to_string()
}

#[test]
fn a_valid_approval_runs_the_command_once_and_names_both_people() {
    let Some(a) = Approvals::new() else { return };
    let request = a.request("reboot", &a.host, Duration::ZERO);
    let approval = a.approve(&request.token(), "bob", "approval.txt");
    let run = a.run_with(&approval, &["--", "reboot"]);
    run.expect_status(0);
    assert!(a.env.ran("reboot"), "{run:?}");
    assert!(run.stderr.contains("approved by bob"), "{run:?}");
    let d = a.env.last_decision();
    assert_eq!(d["decision"], "confirmed", "{d}");
    let record: &Value = &d["approval"];
    assert_eq!(record["approver"], "bob", "{d}");
    assert_eq!(record["requester"], a.requester.as_str(), "{d}");
    assert_eq!(record["code"], request.code().as_str(), "{d}");
    assert!(
        record["key"].as_str().unwrap().starts_with("SHA256:"),
        "{d}"
    );
    assert!(record.get("refused").is_none(), "{d}");

    // Used once: the same approval again is refused.
    a.refused(&approval, &["--", "reboot"], "already used");

    // In review.
    let rows = a.env.run(&["audit", "--approval", "--json"]).json_lines();
    assert_eq!(
        rows.len(),
        3,
        "the first request, the approved run, the reuse"
    );
    let table = a.env.run(&["audit", "--approval"]).stdout;
    assert!(table.contains("[approved by bob] reboot"), "{table}");
    let stats = a.env.run(&["audit", "stats", "--json"]);
    let stats: Value = serde_json::from_str(stats.stdout.trim()).expect("stats JSON");
    assert_eq!(stats["approvals"], 1, "{stats}");
    assert_eq!(stats["approvals_refused"], 2, "{stats}");
    assert_eq!(stats["approvals_by_approver"]["bob"], 1, "{stats}");
}

#[test]
fn an_approval_signed_by_the_requester_is_refused() {
    let Some(a) = Approvals::new() else { return };
    let request = a.request("reboot", &a.host, Duration::ZERO);
    let approval = a.approve(&request.token(), "me", "mine.txt");
    a.refused(&approval, &["--", "reboot"], "requester's own key");
}

#[test]
fn an_approval_by_a_key_not_in_allowed_signers_is_refused() {
    let Some(a) = Approvals::new() else { return };
    let request = a.request("reboot", &a.host, Duration::ZERO);
    let approval = a.approve(&request.token(), "mallory", "mallory.txt");
    a.refused(&approval, &["--", "reboot"], "not in allowed_signers");
}

#[test]
fn an_approval_for_another_line_is_refused() {
    let Some(a) = Approvals::new() else { return };
    let request = a.request("reboot", &a.host, Duration::ZERO);
    let approval = a.approve(&request.token(), "bob", "other-line.txt");
    a.refused(
        &approval,
        &["-c", "reboot && echo done"],
        "approves another line",
    );
}

#[test]
fn an_approval_for_another_host_is_refused() {
    let Some(a) = Approvals::new() else { return };
    let request = a.request("reboot", "db-9.elsewhere.example", Duration::ZERO);
    let approval = a.approve(&request.token(), "bob", "other-host.txt");
    a.refused(&approval, &["--", "reboot"], "another host");
}

#[test]
fn an_expired_approval_is_refused() {
    let Some(a) = Approvals::new() else { return };
    let request = a.request("reboot", &a.host, Duration::from_secs(3600));
    // safe-run approve will not sign an expired request.
    let run = a
        .env
        .run(&["approve", &request.token(), "--key", &a.key("bob")]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("expired"), "{run:?}");
    let approval = a.sign_by_hand(&request, "bob", "expired.txt");
    a.refused(&approval, &["--", "reboot"], "expired");
}

#[test]
fn a_bare_signature_for_an_earlier_request_does_not_match_this_one() {
    let Some(a) = Approvals::new() else { return };
    // Signed for a request with another expiry, handed back without its
    // request line: checked against this run's own request, it fails.
    let request = a.request("reboot", &a.host, Duration::from_secs(120));
    let approval = a.sign_by_hand(&request, "bob", "bare.txt");
    let text = std::fs::read_to_string(&approval).unwrap();
    let bare = text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n";
    write_file(&approval, bare.as_bytes(), 0o644);
    a.refused(&approval, &["--", "reboot"], "does not match this request");
}

#[test]
fn approve_finds_a_request_of_this_host_by_its_code() {
    let Some(a) = Approvals::new() else { return };
    let first = a.env.run(&[
        "--reason",
        REASON,
        "--confirm",
        &short_host(),
        "--",
        "reboot",
    ]);
    first.expect_status(77);
    let request = ApprovalRequest::from_token(&token_in(&first)).unwrap();
    let by_code = a.env.run(&["approve", &request.code(), "--print-only"]);
    by_code.expect_status(0);
    assert!(by_code.stderr.contains(&request.token()), "{by_code:?}");
    assert!(
        by_code
            .stderr
            .contains("ssh-keygen -Y sign -n safe-run-approval"),
        "{by_code:?}"
    );
    let unknown = a.env.run(&["approve", "AAAAA-AAAAA"]);
    assert_eq!(unknown.status, 2, "{unknown:?}");
    assert!(unknown.stderr.contains("whole request"), "{unknown:?}");
}

#[test]
fn the_requesters_key_under_an_address_or_in_quotes_is_still_theirs() {
    let Some(a) = Approvals::new() else { return };
    for listed in [
        format!("{}@example.com", a.requester),
        format!("\"{},carol\"", a.requester),
    ] {
        let signers = format!("bob {}\n{listed} {}\n", a.public("bob"), a.public("me"));
        write_file(
            &a.env.path().join("allowed_signers"),
            signers.as_bytes(),
            0o644,
        );
        let request = a.request("reboot", &a.host, Duration::ZERO);
        let approval = a.approve(&request.token(), "me", "mine.txt");
        a.refused(&approval, &["--", "reboot"], "requester's own key");
    }
}

#[test]
fn a_sudo_user_set_by_hand_does_not_make_the_requester_someone_else() {
    let Some(a) = Approvals::new() else { return };
    // The real user's key, listed under the real user's name; the run
    // claims, through SUDO_USER, to be carol's.
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .expect("the user running the tests")
        .name;
    let signers = format!("bob {}\n{me} {}\n", a.public("bob"), a.public("me"));
    write_file(
        &a.env.path().join("allowed_signers"),
        signers.as_bytes(),
        0o644,
    );
    let host = short_host();
    let ask = |approval: Option<&Path>| {
        let mut args = vec!["--reason", REASON, "--confirm", host.as_str()];
        let shown = approval.map(|p| p.display().to_string());
        if let Some(p) = &shown {
            args.extend(["--approval", p.as_str()]);
        }
        args.extend(["--", "reboot"]);
        let mut c = a.env.command(&args);
        c.env("SUDO_USER", "carol");
        a.env.run_cmd(c, None)
    };
    let first = ask(None);
    first.expect_status(77);
    let request = ApprovalRequest::from_token(&token_in(&first)).expect("a request token");
    let approval = a.approve(&request.token(), "me", "spoofed.txt");
    let run = ask(Some(&approval));
    run.expect_status(77);
    assert!(run.stderr.contains("requester's own key"), "{run:?}");
    assert!(!a.env.ran("reboot"), "{run:?}");
}

#[test]
fn an_allowed_signers_file_the_requester_could_change_approves_nothing() {
    let Some(a) = Approvals::new() else { return };
    let request = a.request("reboot", &a.host, Duration::ZERO);
    let approval = a.approve(&request.token(), "bob", "approval.txt");
    let signers = a.env.path().join("allowed_signers");
    // Owned by an ordinary user, though this run is root's.
    nix::unistd::chown(&signers, Some(nix::unistd::Uid::from_raw(1000)), None).expect("chown");
    a.refused(&approval, &["--", "reboot"], "belongs to uid 1000");
    // Root's again, but its directory is writable by everyone.
    nix::unistd::chown(&signers, Some(nix::unistd::Uid::from_raw(0)), None).expect("chown");
    let dir = a.env.path();
    let mode = std::fs::metadata(dir).expect("dir").permissions();
    std::fs::set_permissions(
        dir,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o777),
    )
    .expect("chmod");
    a.refused(&approval, &["--", "reboot"], "chmod go-w");
    std::fs::set_permissions(dir, mode).expect("chmod back");
}
