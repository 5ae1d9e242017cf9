//! The interactive confirmation on a real pseudo-terminal: the binary is
//! spawned as the session leader of a pty (its controlling terminal, so
//! `/dev/tty` is the pty) and the test types the answers.
//!
//! The prompter reads with the terminal in non-canonical mode, switching
//! to it (with TCSAFLUSH, which drops input typed ahead) only after the
//! question is printed. So before typing, a test waits until the pty is in
//! that mode (`Pty::wait_reading`), instead of sleeping and hoping.
//!
//! Timeouts (`common::pty`) are generous and only bound a hang; nothing
//! here asserts on wall-clock time.

use std::fs;

use crate::common::{Env, Pty, sh_quote, short_host};

const REASON: &str = "CHG-1234 kernel patch rollout";

/// Spawns `safe-run ARGS…` on a new pty with the env's config and PATH.
fn spawn_pty(env: &Env, args: &[&str]) -> Pty {
    Pty::spawn(env.bare_command(args))
}

/// The host-name question of a high-risk line, then the typed answer.
fn answer_host_prompt(s: &mut Pty, answer: &str) {
    s.expect("Type the host name");
    s.wait_reading();
    s.send_line(answer);
}

#[test]
fn a_wrong_host_name_aborts() {
    let env = Env::new();
    env.fake_marked("reboot");
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    let before = s.expect("Type the host name");
    assert!(
        before.contains("power-reboot"),
        "the explanation names the rule: {before}"
    );
    s.wait_reading();
    let wrong = format!("{}-not", short_host());
    s.send_line(&wrong);
    s.expect("Nothing was run");
    assert_eq!(s.exit_code(), 1);
    assert!(!env.ran("reboot"), "reboot ran after a wrong host name");
    let d = env.last_decision();
    assert_eq!(d["decision"], "aborted", "{d}");
    assert_eq!(d["findings"][0]["rule"], "power-reboot");
    assert!(env.outcome_of(&d).is_none());
}

#[test]
fn the_right_host_name_and_a_reason_run_it() {
    let env = Env::new();
    env.fake_marked("reboot");
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    answer_host_prompt(&mut s, &short_host());
    s.expect("Reason (");
    s.wait_reading();
    s.send_line(REASON);
    s.expect("FAKE-reboot");
    assert_eq!(s.exit_code(), 0);
    assert!(env.ran("reboot"));
    let d = env.last_decision();
    assert_eq!(d["decision"], "confirmed", "{d}");
    assert_eq!(d["reason"], REASON);
    assert!(
        d["tty"].as_str().is_some_and(|t| t.starts_with("/dev/")),
        "the tty is recorded: {d}"
    );
    assert_eq!(env.outcome_of(&d).expect("outcome")["exit"], 0);
}

#[test]
fn a_reason_that_says_nothing_is_asked_again() {
    let env = Env::new();
    env.fake_marked("reboot");
    let mut s = spawn_pty(&env, &["-c", "reboot"]);
    answer_host_prompt(&mut s, &short_host());
    s.expect("Reason (");
    s.wait_reading();
    s.send_line("........");
    s.expect("Not accepted");
    s.expect("Reason (");
    s.wait_reading();
    s.send_line(REASON);
    s.expect("FAKE-reboot");
    assert_eq!(s.exit_code(), 0);
    let d = env.last_decision();
    assert_eq!(
        (d["decision"].as_str(), d["reason"].as_str()),
        (Some("confirmed"), Some(REASON))
    );
}

#[test]
fn ctrl_c_at_the_prompt_aborts() {
    let env = Env::new();
    env.fake_marked("reboot");
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    s.expect("Type the host name");
    s.wait_reading();
    s.send("\x03");
    s.expect("Nothing was run");
    assert_eq!(s.exit_code(), 1);
    assert!(!env.ran("reboot"));
    let d = env.last_decision();
    assert_eq!(d["decision"], "aborted", "{d}");
    assert!(env.outcome_of(&d).is_none());
}

#[test]
fn ctrl_c_or_ctrl_d_at_the_reason_prompt_aborts() {
    for key in ["\x03", "\x04"] {
        let env = Env::new();
        env.fake_marked("reboot");
        let mut s = spawn_pty(&env, &["--", "reboot"]);
        answer_host_prompt(&mut s, &short_host());
        s.expect("Reason (");
        s.wait_reading();
        s.send(key);
        s.expect("Nothing was run");
        assert_eq!(s.exit_code(), 1, "key {key:?}");
        assert!(!env.ran("reboot"), "key {key:?}");
        assert_eq!(env.last_decision()["decision"], "aborted", "key {key:?}");
    }
}

#[test]
fn medium_risk_asks_for_yes() {
    let env = Env::new();
    env.fake_marked("apt-get");
    let mut s = spawn_pty(&env, &["--", "apt-get", "install", "docker-ce"]);
    s.expect("Type yes");
    s.wait_reading();
    s.send_line("yes");
    s.expect("Reason (");
    s.wait_reading();
    s.send_line(REASON);
    s.expect("FAKE-apt-get install docker-ce");
    assert_eq!(s.exit_code(), 0);
    let d = env.last_decision();
    assert_eq!(
        (d["decision"].as_str(), d["risk"].as_str()),
        (Some("confirmed"), Some("medium"))
    );
}

#[test]
fn the_preview_output_is_shown_before_the_prompt() {
    let env = Env::new();
    let calls = env.path().join("apt-get-calls");
    env.fake(
        "apt-get",
        &format!(
            "echo \"$*\" >> {}\necho \"PREVIEW-OUTPUT $*\"",
            sh_quote(&calls.display().to_string())
        ),
    );
    let mut s = spawn_pty(&env, &["--", "apt-get", "upgrade"]);
    let before_preview = s.expect("PREVIEW-OUTPUT -s upgrade");
    assert!(
        before_preview.contains("apt-full-upgrade"),
        "{before_preview}"
    );
    let between = s.expect("Type the host name");
    assert!(
        !between.contains("PREVIEW-OUTPUT"),
        "the preview is shown once: {between}"
    );
    s.wait_reading();
    s.send_line("wrong-host");
    s.expect("Nothing was run");
    assert_eq!(s.exit_code(), 1);
    // Only the dry run ran, never the upgrade itself.
    let ran = fs::read_to_string(&calls).unwrap_or_default();
    assert_eq!(ran, "-s upgrade\n");
    let d = env.last_decision();
    assert_eq!(d["decision"], "aborted");
    assert_eq!(d["findings"][0]["rule"], "apt-full-upgrade");
}

#[test]
fn every_interactive_case_is_logged_and_the_chain_verifies() {
    let env = Env::new();
    env.fake_marked("reboot");
    // aborted: wrong answer
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    answer_host_prompt(&mut s, "nope");
    assert_eq!(s.exit_code(), 1);
    // aborted: Ctrl-C
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    s.expect("Type the host name");
    s.wait_reading();
    s.send("\x03");
    assert_eq!(s.exit_code(), 1);
    // confirmed
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    answer_host_prompt(&mut s, &short_host());
    s.expect("Reason (");
    s.wait_reading();
    s.send_line(REASON);
    s.expect("FAKE-reboot");
    assert_eq!(s.exit_code(), 0);
    // allowed, on a terminal: no prompt at all
    let s = spawn_pty(&env, &["--", "true"]);
    assert_eq!(s.exit_code(), 0);

    let kinds: Vec<String> = env
        .decisions()
        .iter()
        .map(|d| d["decision"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        kinds,
        ["aborted", "aborted", "confirmed", "allowed"],
        "{}",
        env.audit_text()
    );
    assert_eq!(env.outcomes().len(), 2);
    let verify = env.run(&["audit", "verify"]);
    verify.expect_status(0);
}
