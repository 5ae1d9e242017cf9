//! The interactive confirmation on a real pseudo-terminal: the binary is
//! spawned as the session leader of a pty (its controlling terminal, so
//! `/dev/tty` is the pty) and the test types the answers.
//!
//! The prompter reads with the terminal in non-canonical mode, switching
//! to it (with TCSAFLUSH, which drops input typed ahead) only after the
//! question is printed. So before typing, a test waits until the pty is in
//! that mode (`wait_until_reading`), instead of sleeping and hoping.
//!
//! Timeouts are generous (10 s) and only bound a hang; nothing here asserts
//! on wall-clock time.

use std::fs;
use std::time::Duration;

use crate::common::{Env, short_host, wait_for, with_spawn_lock};
use expectrl::process::unix::WaitStatus;
use expectrl::{Expect, Session};
use nix::sys::termios::{self, LocalFlags};

const TIMEOUT: Duration = Duration::from_secs(10);
const REASON: &str = "CHG-1234 kernel patch rollout";

type Pty = expectrl::session::OsSession;

/// Spawns `safe-run ARGS…` on a new pty with the env's config and PATH.
fn spawn_pty(env: &Env, args: &[&str]) -> Pty {
    let cmd = env.bare_command(args);
    let mut session = with_spawn_lock(|| Session::spawn(cmd)).expect("spawn safe-run on a pty");
    session.set_expect_timeout(Some(TIMEOUT));
    session
}

/// Waits until the program on the pty reads a key at a time (the prompt's
/// non-canonical mode), so that what is typed next is not flushed away.
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

/// Expects `text` in the output, with what came before it on failure.
#[track_caller]
fn expect_text(session: &mut Pty, text: &str) -> String {
    match session.expect(text) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(e) => panic!("did not see {text:?}: {e}"),
    }
}

/// Waits (bounded) for the program to end; returns its exit code.
fn exit_code(session: &Pty) -> i32 {
    let status = wait_for(TIMEOUT, || match session.get_process().status() {
        Ok(WaitStatus::StillAlive) => None,
        Ok(s) => Some(s),
        Err(e) => panic!("waitpid: {e}"),
    });
    match status {
        Some(WaitStatus::Exited(_, code)) => code,
        Some(other) => panic!("safe-run did not exit normally: {other:?}"),
        None => panic!("safe-run did not end within {TIMEOUT:?}"),
    }
}

/// The host-name question of a high-risk line, then the typed answer.
fn answer_host_prompt(session: &mut Pty, answer: &str) {
    expect_text(session, "Type the host name");
    wait_until_reading(session);
    session
        .send(format!("{answer}\r"))
        .expect("type the answer");
}

#[test]
fn a_wrong_host_name_aborts() {
    let env = Env::new();
    env.fake_marked("reboot");
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    let before = expect_text(&mut s, "Type the host name");
    assert!(
        before.contains("power-reboot"),
        "the explanation names the rule: {before}"
    );
    wait_until_reading(&s);
    let wrong = format!("{}-not", short_host());
    s.send(format!("{wrong}\r")).expect("type");
    expect_text(&mut s, "Nothing was run");
    assert_eq!(exit_code(&s), 1);
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
    expect_text(&mut s, "Reason (");
    wait_until_reading(&s);
    s.send(format!("{REASON}\r")).expect("type the reason");
    expect_text(&mut s, "FAKE-reboot");
    assert_eq!(exit_code(&s), 0);
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
    expect_text(&mut s, "Reason (");
    wait_until_reading(&s);
    s.send("........\r").expect("type");
    expect_text(&mut s, "Not accepted");
    expect_text(&mut s, "Reason (");
    wait_until_reading(&s);
    s.send(format!("{REASON}\r")).expect("type");
    expect_text(&mut s, "FAKE-reboot");
    assert_eq!(exit_code(&s), 0);
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
    expect_text(&mut s, "Type the host name");
    wait_until_reading(&s);
    s.send("\x03").expect("Ctrl-C");
    expect_text(&mut s, "Nothing was run");
    assert_eq!(exit_code(&s), 1);
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
        expect_text(&mut s, "Reason (");
        wait_until_reading(&s);
        s.send(key).expect("key");
        expect_text(&mut s, "Nothing was run");
        assert_eq!(exit_code(&s), 1, "key {key:?}");
        assert!(!env.ran("reboot"), "key {key:?}");
        assert_eq!(env.last_decision()["decision"], "aborted", "key {key:?}");
    }
}

#[test]
fn medium_risk_asks_for_yes() {
    let env = Env::new();
    env.fake_marked("apt-get");
    let mut s = spawn_pty(&env, &["--", "apt-get", "install", "docker-ce"]);
    expect_text(&mut s, "Type yes");
    wait_until_reading(&s);
    s.send("yes\r").expect("type");
    expect_text(&mut s, "Reason (");
    wait_until_reading(&s);
    s.send(format!("{REASON}\r")).expect("type");
    expect_text(&mut s, "FAKE-apt-get install docker-ce");
    assert_eq!(exit_code(&s), 0);
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
            crate::common::sh_quote(&calls.display().to_string())
        ),
    );
    let mut s = spawn_pty(&env, &["--", "apt-get", "upgrade"]);
    let before_preview = expect_text(&mut s, "PREVIEW-OUTPUT -s upgrade");
    assert!(
        before_preview.contains("apt-full-upgrade"),
        "{before_preview}"
    );
    let between = expect_text(&mut s, "Type the host name");
    assert!(
        !between.contains("PREVIEW-OUTPUT"),
        "the preview is shown once: {between}"
    );
    wait_until_reading(&s);
    s.send("wrong-host\r").expect("type");
    expect_text(&mut s, "Nothing was run");
    assert_eq!(exit_code(&s), 1);
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
    assert_eq!(exit_code(&s), 1);
    // aborted: Ctrl-C
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    expect_text(&mut s, "Type the host name");
    wait_until_reading(&s);
    s.send("\x03").expect("Ctrl-C");
    assert_eq!(exit_code(&s), 1);
    // confirmed
    let mut s = spawn_pty(&env, &["--", "reboot"]);
    answer_host_prompt(&mut s, &short_host());
    expect_text(&mut s, "Reason (");
    wait_until_reading(&s);
    s.send(format!("{REASON}\r")).expect("type");
    expect_text(&mut s, "FAKE-reboot");
    assert_eq!(exit_code(&s), 0);
    // allowed, on a terminal: no prompt at all
    let s = spawn_pty(&env, &["--", "true"]);
    assert_eq!(exit_code(&s), 0);

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
