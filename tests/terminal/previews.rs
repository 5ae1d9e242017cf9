//! Preview summaries end to end: safe-run on a real pseudo-terminal runs a
//! rule's dry-run command, and the confirmation names what the operator
//! really needs to know above the raw output — then the test answers the
//! prompt wrongly, so nothing risky ever runs.
//!
//! - A real `apt-get -s upgrade` against a package repository built here:
//!   dummy packages made with `dpkg-deb --build`, a flat repository indexed
//!   by `dpkg-scanpackages`, the old versions installed with `dpkg` into a
//!   separate admin directory, and apt pointed at all of it with `-o
//!   Dir::…` options, so the machine's own packages and lists are never
//!   read or touched. The risky command is a fake program.
//! - A reboot on a cluster node whose two peers are NotReady, with a fake
//!   `kubectl` first on PATH, and a fake `reboot`.
//! - A preview that fails is reported and never blocks the question.
//!
//! dpkg-deb, dpkg-scanpackages (dpkg-dev) and apt-get are installed by
//! `.ci/run`; where one is missing the apt test prints a skip message and
//! passes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{Env, short_host, wait_for};
use expectrl::process::unix::WaitStatus;
use expectrl::{Expect, Session};
use nix::sys::termios::{self, LocalFlags};

const TIMEOUT: Duration = Duration::from_secs(20);

type Pty = expectrl::session::OsSession;

/// Spawns `safe-run ARGS…` on a new pty, wide enough that no fact wraps.
fn spawn_pty(env: &Env, args: &[&str]) -> Pty {
    let mut cmd = env.bare_command(args);
    cmd.env("COLUMNS", "200");
    let mut session =
        crate::common::bin::without_forks(|| Session::spawn(cmd)).expect("spawn safe-run on a pty");
    session.set_expect_timeout(Some(TIMEOUT));
    session
}

/// Waits until the prompt reads the terminal a key at a time.
fn wait_until_reading(session: &Pty) {
    let ready = wait_for(TIMEOUT, || {
        let t = termios::tcgetattr(session.get_stream()).ok()?;
        (!t.local_flags.contains(LocalFlags::ICANON)).then_some(())
    });
    assert!(
        ready.is_some(),
        "the prompt never started reading the terminal"
    );
}

/// Expects `text`; returns what came before it.
#[track_caller]
fn expect_text(session: &mut Pty, text: &str) -> String {
    match session.expect(text) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(e) => panic!("did not see {text:?}: {e}"),
    }
}

fn exit_code(session: &Pty) -> i32 {
    let status = wait_for(TIMEOUT, || match session.get_process().status() {
        Ok(WaitStatus::StillAlive) => None,
        Ok(s) => Some(s),
        Err(e) => panic!("waitpid: {e}"),
    });
    match status {
        Some(WaitStatus::Exited(_, code)) => code,
        other => panic!("safe-run did not exit normally: {other:?}"),
    }
}

/// The host-name question was seen: answer it with a wrong name, so
/// nothing runs.
fn answer_wrongly(session: &mut Pty) {
    wait_until_reading(session);
    session
        .send(format!("{}-not-this-one\r", short_host()))
        .expect("type");
    expect_text(session, "Nothing was run");
    assert_eq!(exit_code(session), 1);
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[track_caller]
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A dummy `.deb` of `name` at `version` in `out`.
fn build_deb(work: &Path, out: &Path, name: &str, version: &str) {
    let root = work.join(format!("{name}-{}", version.replace([':', '~'], "_")));
    fs::create_dir_all(root.join("DEBIAN")).unwrap();
    fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Test <test@example.com>\nDescription: dummy {name} for the preview tests\n"
        ),
    )
    .unwrap();
    let deb = out.join(format!("{name}_{}_all.deb", version.replace(':', "%3a")));
    run_ok(
        Command::new("dpkg-deb")
            .args(["--build", "--root-owner-group"])
            .arg(&root)
            .arg(&deb),
    );
}

/// The `-o` options that point apt at the test's own state, lists, cache
/// and sources, and nothing of the machine's.
fn apt_options(base: &Path) -> Vec<String> {
    let p = |s: &str| base.join(s).display().to_string();
    vec![
        format!("Dir::State={}", p("state")),
        format!("Dir::State::status={}", p("admin/status")),
        format!("Dir::Etc::SourceList={}", p("sources.list")),
        "Dir::Etc::SourceParts=/nonexistent".to_string(),
        format!("Dir::Etc::Preferences={}", p("preferences")),
        "Dir::Etc::PreferencesParts=/nonexistent".to_string(),
        format!("Dir::Cache={}", p("cache")),
        "Debug::NoLocking=1".to_string(),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect()
}

/// The repository, the installed old versions and fresh package lists;
/// returns the apt-get preview argv.
fn build_apt_world(base: &Path) -> Vec<String> {
    let work = base.join("build");
    let old = base.join("old");
    let repo = base.join("repo");
    for d in [&work, &old, &repo] {
        fs::create_dir_all(d).unwrap();
    }
    // Installed: docker-ce 19.03 (critical), libfoo1 1.6.20 (not critical).
    build_deb(&work, &old, "docker-ce", "5:19.03.15~3-0~debian-bookworm");
    build_deb(&work, &old, "libfoo1", "1.6.20-1");
    // Available: docker-ce 20.10 (a new major version), libfoo1 1.6.21.
    build_deb(&work, &repo, "docker-ce", "5:20.10.5~3-0~debian-bookworm");
    build_deb(&work, &repo, "libfoo1", "1.6.21-1");
    let packages = run_ok(
        Command::new("dpkg-scanpackages")
            .args(["--multiversion", "."])
            .current_dir(&repo),
    );
    fs::write(repo.join("Packages"), packages).unwrap();

    let admin = base.join("admin");
    fs::create_dir_all(admin.join("updates")).unwrap();
    fs::create_dir_all(admin.join("info")).unwrap();
    fs::write(admin.join("status"), "").unwrap();
    fs::write(admin.join("available"), "").unwrap();
    let instdir = base.join("root");
    fs::create_dir_all(&instdir).unwrap();
    let debs: Vec<PathBuf> = fs::read_dir(&old)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run_ok(
        Command::new("dpkg")
            .arg(format!("--admindir={}", admin.display()))
            .arg(format!("--instdir={}", instdir.display()))
            .args([
                "--force-not-root",
                "--force-script-chrootless",
                "--log=/dev/null",
                "-i",
            ])
            .args(&debs),
    );

    fs::create_dir_all(base.join("state/lists/partial")).unwrap();
    fs::create_dir_all(base.join("cache/archives/partial")).unwrap();
    fs::write(base.join("preferences"), "").unwrap();
    fs::write(
        base.join("sources.list"),
        format!("deb [trusted=yes] file:{} ./\n", repo.display()),
    )
    .unwrap();
    let options = apt_options(base);
    run_ok(
        Command::new("apt-get")
            .args(&options)
            .args(["-q", "update"])
            .env("LC_ALL", "C"),
    );
    let mut preview = vec!["apt-get".to_string()];
    preview.extend(options);
    preview.extend(["-s".to_string(), "upgrade".to_string()]);
    preview
}

#[test]
fn a_real_apt_simulation_names_the_major_bump_of_the_critical_package() {
    let missing: Vec<&str> = ["dpkg-deb", "dpkg", "dpkg-scanpackages", "apt-get"]
        .into_iter()
        .filter(|p| !have(p))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIP: {} not installed (.ci/run installs dpkg-dev and apt); the apt preview is not tested",
            missing.join(", ")
        );
        return;
    }
    let env = Env::new();
    let apt = env.path().join("apt");
    let preview = build_apt_world(&apt);

    // A rule whose preview is that simulation, for a fake risky program.
    let rules = env.path().join("rules");
    fs::create_dir(&rules).unwrap();
    let preview_toml: Vec<String> = preview.iter().map(|w| toml_string(w)).collect();
    fs::write(
        rules.join("fleet.toml"),
        format!(
            r#"[[rule]]
id = "test-fleet-upgrade"
risk = "high"
programs = ["fleet-upgrade"]
why = "Upgrades every package on this host."
instead = "Upgrade the package you mean."
preview = [{}]
match = ["fleet-upgrade", "sudo fleet-upgrade"]
allow = ["echo fleet-upgrade", "ls"]
"#,
            preview_toml.join(", ")
        ),
    )
    .unwrap();
    env.fake_marked("fleet-upgrade");

    let rules_arg = rules.display().to_string();
    let mut s = spawn_pty(&env, &["--rules", &rules_arg, "--", "fleet-upgrade"]);
    let shown = expect_text(&mut s, "Type the host name");
    assert!(
        shown.contains("! new major version of what this host runs: docker-ce 19.03.15 → 20.10.5"),
        "the major bump of the critical package is named:\n{shown}"
    );
    assert!(
        shown.contains(
            "! docker-ce: the docker daemon restarts: every container on it stops unless live-restore is on"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("· 2 packages change: 2 upgraded, 0 newly installed, 0 removed"),
        "{shown}"
    );
    // The raw output is still there, below the facts.
    let facts_at = shown.find("! new major version").unwrap();
    let raw_at = shown
        .find("│ Inst docker-ce [5:19.03.15~3-0~debian-bookworm]")
        .expect("raw lines");
    assert!(facts_at < raw_at, "{shown}");
    answer_wrongly(&mut s);
    assert!(!env.ran("fleet-upgrade"), "the risky program ran");

    // The record says what the operator was shown…
    let d = env.last_decision();
    assert_eq!(d["decision"], "aborted", "{d}");
    assert_eq!(
        d["preview"]["major_bumps"],
        serde_json::json!(["docker-ce 19.03.15→20.10.5"]),
        "{d}"
    );
    assert_eq!(d["preview"]["critical"], serde_json::json!(["docker-ce"]));
    assert_eq!(d["preview"]["upgraded"], 2);
    // …and `audit show` tells a reviewer.
    let id = d["id"].as_str().unwrap();
    let show = env.run(&["audit", "show", id]);
    show.expect_status(0);
    assert!(
        show.stdout
            .contains("  preview    critical: [\"docker-ce\"]")
            && show
                .stdout
                .contains("major_bumps: [\"docker-ce 19.03.15→20.10.5\"]"),
        "{}",
        show.stdout
    );
    let json = env.run(&["audit", "show", "--json", id]);
    let row: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(row["preview"]["critical"], serde_json::json!(["docker-ce"]));
    // The machine's own package state was never the one read.
    assert!(apt.join("state/lists").read_dir().unwrap().count() > 1);
}

/// A fake `kubectl` that prints `table` for `get nodes`.
fn fake_kubectl(env: &Env, table: &str, status: i32) {
    env.fake(
        "kubectl",
        &format!("cat <<'EOF'\n{table}EOF\nexit {status}"),
    );
}

#[test]
fn rebooting_the_last_ready_node_is_called_out_loudly() {
    let env = Env::new();
    let me = short_host();
    fake_kubectl(
        &env,
        &format!(
            "NAME        STATUS     ROLES    AGE   VERSION\n\
             {me:<11} Ready      <none>   41d   v1.29.4\n\
             peer-a      NotReady   <none>   41d   v1.29.4\n\
             peer-b      NotReady   <none>   41d   v1.29.4\n"
        ),
        0,
    );
    env.fake_marked("reboot");
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    let shown = expect_text(&mut s, "Type the host name");
    assert!(shown.contains("Preview: kubectl get nodes"), "{shown}");
    assert!(
        shown.contains(
            "! the other two nodes of this cluster are NotReady; rebooting this one takes the cluster down"
        ),
        "{shown}"
    );
    assert!(
        shown.contains(
            "· 3 nodes in this cluster: 1 Ready, not Ready: peer-a (NotReady), peer-b (NotReady)"
        ),
        "{shown}"
    );
    answer_wrongly(&mut s);
    assert!(!env.ran("reboot"), "reboot ran");
    let d = env.last_decision();
    assert_eq!(d["preview"]["last_ready"], true, "{d}");
    assert_eq!(d["findings"][0]["rule"], "power-reboot");
}

#[test]
fn a_failing_preview_is_shown_raw_with_why_and_the_question_still_comes() {
    let env = Env::new();
    fake_kubectl(
        &env,
        "The connection to the server localhost:8080 was refused - did you specify the right host or port?\n",
        1,
    );
    env.fake_marked("reboot");
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    let shown = expect_text(&mut s, "Type the host name");
    assert!(
        shown.contains("· could not summarise: kubectl could not list the nodes: The connection to the server localhost:8080 was refused"),
        "{shown}"
    );
    assert!(
        shown.contains("│ The connection to the server localhost:8080 was refused"),
        "the raw output stays: {shown}"
    );
    assert!(
        shown.contains(
            "(preview: the preview exited with status 1; this neither blocks nor approves anything)"
        ),
        "{shown}"
    );
    answer_wrongly(&mut s);
    assert!(!env.ran("reboot"));
    let d = env.last_decision();
    assert!(
        d["preview"]["not_summarised"][0]
            .as_str()
            .is_some_and(|n| n.starts_with("kubectl get nodes: kubectl could not list the nodes")),
        "{d}"
    );
}

#[test]
fn a_drain_reads_the_target_node_not_this_host() {
    let env = Env::new();
    fake_kubectl(
        &env,
        "NAME       STATUS                     ROLES           AGE   VERSION\n\
         cp-1       Ready                      control-plane   90d   v1.29.4\n\
         worker-1   Ready                      <none>          90d   v1.29.4\n\
         worker-2   Ready,SchedulingDisabled   <none>          90d   v1.29.4\n",
        0,
    );
    let mut s = spawn_pty(
        &env,
        &["--", "kubectl", "drain", "worker-1", "--ignore-daemonsets"],
    );
    let shown = expect_text(&mut s, "Type the host name");
    assert!(
        shown.contains("! the other worker node is Ready,SchedulingDisabled; draining it leaves its pods no node to run on"),
        "{shown}"
    );
    answer_wrongly(&mut s);
}
