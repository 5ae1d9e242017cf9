//! The paste path of two-person approval on a real pseudo-terminal: the
//! request is shown at the prompt, a second operator's `safe-run approve`
//! signs it with a real ed25519 key (`ssh-keygen -Y sign`), and the
//! approval's lines are pasted in one burst, as a terminal delivers a
//! paste: none may be lost between two reads. No network, no store.

use crate::common::bin::{cmd, run};
use crate::common::{Env, Pty, require_tool, short_host, toml_str, write_file};

const REASON: &str = "CHG-88 rotate the node after the kernel patch";

#[test]
fn an_approval_pasted_at_the_prompt_runs_the_line() {
    if require_tool("ssh-keygen").is_none() {
        return;
    }
    let env = Env::with_config(|dir| {
        format!(
            "[approval]\nrisks = [\"high\"]\nallowed_signers = {}\nstate_dir = {}\n",
            toml_str(&dir.join("allowed_signers")),
            toml_str(&dir.join("state"))
        )
    });
    env.fake_marked("reboot");
    let key = env.path().join("bob");
    run(cmd(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "bob",
            "-f",
            &key.display().to_string(),
        ],
    ))
    .expect_status(0);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    write_file(
        &env.path().join("allowed_signers"),
        format!("bob {public}").as_bytes(),
        0o644,
    );

    let mut s = Pty::spawn(env.bare_command(&["--", "reboot"]));
    s.expect("Type the host name");
    s.wait_reading();
    s.send_line(&short_host());
    s.expect("Reason (");
    s.wait_reading();
    s.send_line(REASON);
    let shown = s.expect("Paste the approval");
    let token = shown
        .split_whitespace()
        .find(|w| w.starts_with("sr1."))
        .unwrap_or_else(|| panic!("no request shown: {shown}"))
        .to_string();
    let approved = env.run(&["approve", &token, "--key", &key.display().to_string()]);
    approved.expect_status(0);
    s.wait_reading();
    // The whole block at once, lines ended by Enter, as a paste arrives.
    s.send(&approved.stdout.replace('\n', "\r"));
    s.expect("approved by bob");
    s.expect("FAKE-reboot");
    assert_eq!(s.exit_code(), 0);
    assert!(env.ran("reboot"));
    let d = env.last_decision();
    assert_eq!(d["decision"], "confirmed", "{d}");
    assert_eq!(d["approval"]["approver"], "bob", "{d}");
}
