//! A change freeze in the interactive shell: the banner says it is in
//! force, a risky line is explained and held back until `break-glass` is
//! typed, and then asks for the usual confirmation and a longer reason;
//! the run is recorded as break-glass. The freeze comes from the on-call's
//! freeze file, so no clock is involved.

use crate::common::{Env, Pty, short_host, toml_str, write_file};

const PROMPT: &str = "sr> ";
const LONG: &str = "INC-4411 the disk is failing, this node must restart now";

#[test]
fn the_shell_shows_the_freeze_and_break_glass_typed_at_the_prompt_runs_the_line() {
    let env = Env::with_config(|dir| {
        format!(
            "[shell]\nprompt = \"{{host}} sr> \"\n[freeze]\nfile = {}\n",
            toml_str(&dir.join("freeze"))
        )
    });
    env.fake_marked("reboot");
    write_file(
        &env.path().join("freeze"),
        b"INC-7 storage degraded, ask #oncall\n",
        0o644,
    );
    let state = env.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let mut cmd = env.bare_command::<&str>(&[]);
    cmd.env("XDG_STATE_HOME", &state).env("TERM", "xterm");
    let mut s = Pty::spawn(cmd);
    let banner = s.expect(PROMPT);
    assert!(
        banner.contains("CHANGE FREEZE in force") && banner.contains("INC-7 storage degraded"),
        "{banner}"
    );
    s.wait_reading();

    // Anything but break-glass holds it back.
    s.send_line("reboot");
    s.expect("Type break-glass");
    s.wait_reading();
    s.send_line("yes");
    s.expect("Held back by the freeze");
    s.expect(PROMPT);
    s.wait_reading();
    assert!(!env.ran("reboot"));
    assert_eq!(env.last_decision()["decision"], "aborted");

    s.send_line("reboot");
    let explained = s.expect("Type break-glass");
    assert!(
        explained.contains("change freeze is in force"),
        "{explained}"
    );
    s.wait_reading();
    s.send_line("break-glass");
    s.expect("Type the host name");
    s.wait_reading();
    s.send_line(&short_host());
    s.expect("Reason (at least 40 characters");
    s.wait_reading();
    s.send_line(LONG);
    s.expect("FAKE-reboot");
    s.expect(PROMPT);
    s.wait_reading();
    assert!(env.ran("reboot"));
    let d = env.last_decision();
    assert_eq!(d["decision"], "confirmed", "{d}");
    assert_eq!(d["break_glass"], true, "{d}");
    assert!(d["freeze"].as_str().unwrap().contains("INC-7"), "{d}");
    s.send_line("exit");
    assert_eq!(s.exit_code(), 0);
}
