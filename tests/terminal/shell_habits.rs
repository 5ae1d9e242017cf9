//! The interactive shell's habits, end to end in a real pseudo-terminal
//! (issue 12, "a login shell operators keep"): nothing lost on screen,
//! session state like a shell, job control, history and its secrets, an
//! honest banner, approval that is not inherited.
//!
//! Same set-up as tests/shell_pty.rs: the binary is the session leader of
//! a pty, fake risky programs are first on PATH, the audit log, HOME and
//! XDG_STATE_HOME are in a temp dir. Waiting is done on output and on the
//! terminal's state, with deadlines; nothing sleeps for a fixed time.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Env, sh_quote, short_host, wait_for};
use expectrl::process::unix::WaitStatus;
use expectrl::{Expect, Session};
use nix::sys::termios::{self, LocalFlags};
use nix::unistd::tcgetpgrp;

const TIMEOUT: Duration = Duration::from_secs(20);
const REASON: &str = "CHG-1234 kernel patch rollout";
/// The end of the test prompt.
const PROMPT: &str = "sr> ";

type Pty = expectrl::session::OsSession;

/// An env with a `reboot` that prints FAKE-REBOOT and records each run, a
/// prompt that is easy to find, and HOME / XDG_STATE_HOME in the temp dir.
fn shell_env() -> Env {
    shell_env_with("")
}

/// [`shell_env`] with more configuration.
fn shell_env_with(extra: &str) -> Env {
    let extra = extra.to_string();
    let env = Env::with_config(move |_| {
        format!("[shell]\nprompt = \"[{{env}}] {{user}}@{{host}}:{{cwd}} sr> \"\n{extra}")
    });
    let marker = env.marker("reboot");
    env.fake(
        "reboot",
        &format!(
            "echo ran >> {}\necho FAKE-REBOOT",
            sh_quote(&marker.display().to_string())
        ),
    );
    for d in ["home", "state", "data"] {
        fs::create_dir_all(env.path().join(d)).expect("mkdir");
    }
    env
}

fn home(env: &Env) -> PathBuf {
    env.path().join("home")
}

fn state_home(env: &Env) -> PathBuf {
    env.path().join("state")
}

/// `safe-run [ARGS]` with the env's settings, before spawning.
fn shell_command(env: &Env, args: &[&str]) -> Command {
    let mut cmd = env.bare_command(args);
    if let Some(bin) = std::env::var_os("SAFE_RUN_BENCH_BIN") {
        let mut c = Command::new(bin);
        c.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.current_dir(env.path());
        cmd = c;
    }
    cmd.env("HOME", home(env))
        .env("XDG_STATE_HOME", state_home(env))
        .env("XDG_DATA_HOME", env.path().join("data"))
        .env("TERM", "xterm")
        .env_remove("LESS")
        .env_remove("EDITOR")
        .env_remove("VISUAL")
        .env_remove("INPUTRC")
        .env_remove("PROMPT_COMMAND");
    cmd
}

/// Spawns the shell on a new 120×40 pty; does not wait for anything.
fn spawn_raw(env: &Env, args: &[&str]) -> Pty {
    spawn_raw_with(env, args, &[])
}

/// [`spawn_raw`] with `vars` in the session's environment.
fn spawn_raw_with(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Pty {
    let mut cmd = shell_command(env, args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut session =
        crate::common::bin::without_forks(|| Session::spawn(cmd)).expect("spawn safe-run on a pty");
    session.set_expect_timeout(Some(TIMEOUT));
    session
        .get_process_mut()
        .set_window_size(120, 40)
        .expect("window size");
    session
}

/// Spawns the interactive shell and waits for its first prompt.
fn spawn_shell(env: &Env, args: &[&str]) -> Pty {
    let mut session = spawn_raw(env, args);
    wait_prompt(&mut session);
    session
}

/// Expects `text` in the output; returns what came before it.
#[track_caller]
fn expect_text(session: &mut Pty, text: &str) -> String {
    match session.expect(text) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(e) => panic!("did not see {text:?}: {e}"),
    }
}

/// Whether the program on the pty reads a key at a time.
fn reading_keys(session: &Pty) -> bool {
    termios::tcgetattr(session.get_stream())
        .is_ok_and(|t| !t.local_flags.contains(LocalFlags::ICANON))
}

/// Waits until the program reads a key at a time (line editor or prompt).
#[track_caller]
fn wait_until_reading(session: &Pty) {
    let ready = wait_for(TIMEOUT, || reading_keys(session).then_some(()));
    assert!(ready.is_some(), "the terminal never left canonical mode");
}

/// Waits for the next prompt, ready for keys.
#[track_caller]
fn wait_prompt(session: &mut Pty) -> String {
    let before = expect_text(session, PROMPT);
    wait_until_reading(session);
    before
}

/// Types a line and presses Enter.
fn type_line(session: &mut Pty, line: &str) {
    session.send(format!("{line}\r")).expect("type");
}

/// Waits until a command started from the shell owns the terminal: the
/// foreground group is neither safe-run's nor the session's bash's.
#[track_caller]
fn wait_child_in_foreground(session: &Pty) {
    let shell = session.get_process().pid().as_raw();
    let running = wait_for(TIMEOUT, || {
        let group = tcgetpgrp(session.get_stream()).ok()?.as_raw();
        let comm = fs::read_to_string(format!("/proc/{group}/comm")).ok()?;
        (group != shell && comm.trim() != "bash").then_some(())
    });
    assert!(running.is_some(), "no command took the terminal");
}

/// Waits (bounded) for the shell to end; returns its exit status.
#[track_caller]
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

/// Leaves with `exit` and checks the status.
#[track_caller]
fn leave(mut session: Pty, want: i32) {
    type_line(&mut session, "exit");
    assert_eq!(exit_code(&session), want);
}

/// Answers a confirmation: the host name, then the reason.
#[track_caller]
fn confirm(session: &mut Pty) {
    expect_text(session, "Type the host name");
    wait_until_reading(session);
    type_line(session, &short_host());
    expect_text(session, "Reason (");
    wait_until_reading(session);
    type_line(session, REASON);
}

/// The lines of the audit log's decisions, in order.
fn logged_lines(env: &Env) -> Vec<String> {
    env.decisions()
        .iter()
        .map(|d| d["line"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Enter-to-prompt for `true`, 200 times: how long one line costs the
/// operator. Not a pass/fail test (BENCHMARKS.md has the figures):
/// `SAFE_RUN_BENCH_BIN=target/release/safe-run cargo test --test
/// terminal -- --ignored --nocapture per_line_cost`.
#[test]
#[ignore = "a measurement, run by hand"]
fn per_line_cost() {
    let env = Env::with_config(|_| "[shell]\nprompt = \"sr> \"\n".into());
    for d in ["home", "state", "data"] {
        fs::create_dir_all(env.path().join(d)).expect("mkdir");
    }
    let mut s = spawn_shell(&env, &[]);
    let mut times = Vec::new();
    for i in 0..220 {
        let started = Instant::now();
        s.send("true\r").expect("type");
        // The editor turns bracketed paste on as it starts reading a line.
        expect_text(&mut s, "\x1b[?2004h");
        let deadline = Instant::now() + TIMEOUT;
        while !reading_keys(&s) {
            assert!(Instant::now() < deadline, "no prompt");
            std::thread::sleep(Duration::from_micros(50));
        }
        if i >= 20 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    let total: Duration = times.iter().sum();
    let n = u32::try_from(times.len()).expect("count");
    println!(
        "per line (Enter to prompt, `true`, {n} lines): mean {:.2} ms, median {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms",
        (total / n).as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 9 / 10].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    leave(s, 0);
}

// 1. Nothing lost on screen.

#[test]
fn output_without_a_final_newline_stays_visible() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "printf ok-$((40+2))");
    // Marked and kept: the prompt starts on a line of its own.
    expect_text(&mut s, "ok-42%");
    wait_prompt(&mut s);
    leave(s, 0);
}

#[test]
fn a_paste_without_bracketed_paste_runs_every_line_checked() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    // Five lines arrive at once, as a terminal without bracketed paste
    // sends them; the third is risky.
    s.send("echo p-$((1*1))\recho p-$((2*1))\rreboot\recho p-$((4*1))\recho p-$((5*1))\r")
        .expect("paste");
    expect_text(&mut s, "p-1");
    expect_text(&mut s, "p-2");
    expect_text(&mut s, "Type the host name");
    wait_until_reading(&s);
    // The pasted lines after it did not answer the question.
    type_line(&mut s, "no");
    expect_text(&mut s, "Nothing was run");
    expect_text(&mut s, "p-4");
    expect_text(&mut s, "p-5");
    wait_prompt(&mut s);
    assert!(!env.ran("reboot"));
    assert_eq!(
        logged_lines(&env),
        [
            "echo p-$((1*1))",
            "echo p-$((2*1))",
            "reboot",
            "echo p-$((4*1))",
            "echo p-$((5*1))"
        ]
    );
    leave(s, 0);
}

// 2. Session state like a shell.

#[test]
fn aliases_and_functions_carry_over_and_are_checked_through_what_they_run() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(
        &mut s,
        "alias rb='reboot'; alias hi='echo hi-$((6*7))'; f() { echo in-f; reboot; }",
    );
    wait_prompt(&mut s);
    type_line(&mut s, "hi");
    expect_text(&mut s, "hi-42");
    wait_prompt(&mut s);
    // `check` judges a call as Enter will.
    type_line(&mut s, "check rb");
    expect_text(&mut s, "power-reboot");
    wait_prompt(&mut s);
    // The alias runs reboot: confirmed like reboot.
    type_line(&mut s, "rb");
    let explained = expect_text(&mut s, "Type the host name");
    assert!(explained.contains("power-reboot"), "{explained}");
    wait_until_reading(&s);
    type_line(&mut s, "not-this-host");
    expect_text(&mut s, "Nothing was run");
    wait_prompt(&mut s);
    assert!(!env.ran("reboot"));
    // So does the function, through its body; confirmed, it runs.
    type_line(&mut s, "f");
    confirm(&mut s);
    expect_text(&mut s, "FAKE-REBOOT");
    wait_prompt(&mut s);
    assert!(env.ran("reboot"));
    let d = env.last_decision();
    assert_eq!(
        (d["line"].as_str(), d["decision"].as_str()),
        (Some("f"), Some("confirmed"))
    );
    leave(s, 0);
}

#[test]
fn the_rc_file_is_run_at_start_and_its_definitions_are_checked_when_called() {
    let env = shell_env();
    fs::write(
        home(&env).join(".safe-runrc"),
        "alias hello='echo rc-hello-$((2*2))'\ng() { reboot; }\nexport FROM_RC=yes\n",
    )
    .expect("rc");
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "hello; echo \"rc=$FROM_RC\"");
    expect_text(&mut s, "rc-hello-4");
    expect_text(&mut s, "rc=yes");
    wait_prompt(&mut s);
    type_line(&mut s, "g");
    expect_text(&mut s, "Type the host name");
    wait_until_reading(&s);
    type_line(&mut s, "no");
    expect_text(&mut s, "Nothing was run");
    wait_prompt(&mut s);
    assert!(!env.ran("reboot"));
    // The rc file itself went through the checks and the log.
    assert!(logged_lines(&env)[0].contains("alias hello="));
    leave(s, 1);
}

#[test]
fn the_directory_stack_keeps_and_exit_inside_a_compound_line_ends_the_shell() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "cd /usr && pushd /tmp >/dev/null");
    wait_prompt(&mut s);
    type_line(&mut s, "echo \"stack=$(dirs | tr ' ' ,)\"");
    expect_text(&mut s, "stack=/tmp,/usr");
    wait_prompt(&mut s);
    type_line(&mut s, "popd >/dev/null; echo \"at=$PWD\"");
    expect_text(&mut s, "at=/usr");
    wait_prompt(&mut s);
    type_line(&mut s, "true && exit 7");
    assert_eq!(exit_code(&s), 7);
}

// 3. Job control.

#[test]
fn background_jobs_fg_and_ctrl_c_with_the_outcome_logged() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "sleep 30 &");
    expect_text(&mut s, "[1] ");
    wait_prompt(&mut s);
    type_line(&mut s, "jobs; echo \"bang=$(( $! > 0 ))\"");
    expect_text(&mut s, "Running");
    expect_text(&mut s, "bang=1");
    wait_prompt(&mut s);
    type_line(&mut s, "fg");
    expect_text(&mut s, "sleep 30");
    wait_child_in_foreground(&s);
    s.send("\x03").expect("Ctrl-C");
    expect_text(&mut s, "[130] ");
    wait_prompt(&mut s);
    let d = env
        .decisions()
        .into_iter()
        .find(|d| d["line"] == "sleep 30 &")
        .expect("the job's line is logged");
    let outcome = wait_for(TIMEOUT, || env.outcome_of(&d)).expect("the job's outcome");
    assert!(
        outcome["signal"] == 2 || outcome["exit"] == 130,
        "interrupted: {outcome}"
    );
    assert!(outcome["duration_ms"].as_u64().is_some(), "{outcome}");
    leave(s, 130);
}

#[test]
fn ctrl_z_stops_a_job_that_bg_and_kill_percent_n_then_end() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "sleep 30");
    wait_child_in_foreground(&s);
    s.send("\x1a").expect("Ctrl-Z");
    expect_text(&mut s, "Stopped");
    expect_text(&mut s, "[148] ");
    wait_prompt(&mut s);
    type_line(&mut s, "bg; jobs");
    expect_text(&mut s, "Running");
    wait_prompt(&mut s);
    // Until bash has seen it end; then its end is reported, as in bash.
    type_line(&mut s, "kill %1; while kill -0 %1 2>/dev/null; do :; done");
    expect_text(&mut s, "Terminated");
    wait_prompt(&mut s);
    let d = env
        .decisions()
        .into_iter()
        .find(|d| d["line"] == "sleep 30")
        .expect("logged");
    let outcome = wait_for(TIMEOUT, || env.outcome_of(&d)).expect("the job's outcome");
    assert!(
        outcome["signal"] == 15 || outcome["exit"] == 143,
        "terminated: {outcome}"
    );
    leave(s, 0);
}

// 4. Habits.

#[test]
fn history_expansion_is_shown_and_checked() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "echo hist-$((3*3))");
    expect_text(&mut s, "hist-9");
    wait_prompt(&mut s);
    type_line(&mut s, "!!");
    expect_text(&mut s, "echo hist-$((3*3))");
    expect_text(&mut s, "hist-9");
    wait_prompt(&mut s);
    type_line(&mut s, "reboot");
    expect_text(&mut s, "Type the host name");
    wait_until_reading(&s);
    type_line(&mut s, "no");
    wait_prompt(&mut s);
    // `!!` is the risky line again: asked again.
    type_line(&mut s, "!!");
    expect_text(&mut s, "Type the host name");
    wait_until_reading(&s);
    type_line(&mut s, "no");
    expect_text(&mut s, "Nothing was run");
    wait_prompt(&mut s);
    assert!(!env.ran("reboot"));
    assert_eq!(
        logged_lines(&env),
        [
            "echo hist-$((3*3))",
            "echo hist-$((3*3))",
            "reboot",
            "reboot"
        ]
    );
    leave(s, 1);
}

/// Types `ecHo vi-$((2*3))`, fixes the `H` in vi command mode, runs it.
fn vi_edit(s: &mut Pty) {
    s.send("ecHo vi-$((2*3))").expect("type");
    // Esc, to the start, two right, replace with h, Enter.
    s.send("\x1b").expect("Esc");
    s.send("0llrh\r").expect("vi keys");
    expect_text(s, "vi-6");
    wait_prompt(s);
}

#[test]
fn vi_mode_from_set_o_and_from_inputrc() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "set -o vi");
    wait_prompt(&mut s);
    vi_edit(&mut s);
    assert_eq!(
        logged_lines(&env).last().map(String::as_str),
        Some("echo vi-$((2*3))")
    );
    leave(s, 0);
    fs::write(home(&env).join(".inputrc"), "set editing-mode vi\n").expect("inputrc");
    let mut s = spawn_shell(&env, &[]);
    vi_edit(&mut s);
    leave(s, 0);
}

// 5. History and secrets.

#[test]
fn the_history_file_skips_leading_space_lines_masks_secrets_and_can_be_cleared() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, " echo hidden-$((1+1))");
    expect_text(&mut s, "hidden-2");
    wait_prompt(&mut s);
    type_line(&mut s, "echo --password=hunter2 shown-$((1+2))");
    expect_text(&mut s, "shown-3");
    wait_prompt(&mut s);
    let path = state_home(&env).join("safe-run/history");
    let text = fs::read_to_string(&path).expect("history file");
    assert!(!text.contains("hidden"), "{text}");
    assert!(text.contains("--password=*** shown-$((1+2))"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    type_line(&mut s, "history -c");
    wait_prompt(&mut s);
    let text = fs::read_to_string(&path).expect("history file");
    assert!(!text.contains("shown"), "{text}");
    leave(s, 0);
}

// 6. Honest status.

#[test]
fn the_banner_says_when_the_log_cannot_be_written_and_risky_lines_are_refused_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A log under a regular file can never be created, not even by root.
    fs::write(dir.path().join("not-a-dir"), "x").expect("file");
    let audit = dir.path().join("not-a-dir/audit.jsonl");
    let env = Env::with_audit_path(dir, &audit, |_| {
        "[shell]\nprompt = \"[{env}] {user}@{host}:{cwd} sr> \"\n".into()
    });
    env.fake_marked("reboot");
    for d in ["home", "state", "data"] {
        fs::create_dir_all(env.path().join(d)).expect("mkdir");
    }
    let mut s = spawn_raw(&env, &[]);
    let banner = wait_prompt(&mut s);
    assert!(banner.contains("cannot be written"), "{banner}");
    assert!(
        banner.contains("risky commands will be refused"),
        "{banner}"
    );
    assert!(!banner.contains("logged to"), "{banner}");
    type_line(&mut s, "reboot");
    let said = expect_text(&mut s, "Nothing was asked or run");
    assert!(!said.contains("Type the host name"), "{said}");
    wait_prompt(&mut s);
    assert!(!env.ran("reboot"));
    type_line(&mut s, "echo safe-$((2+2))");
    expect_text(&mut s, "safe-4");
    wait_prompt(&mut s);
    leave(s, 0);
}

// 7. Approval is not inherited.

#[test]
fn approval_in_the_sessions_environment_does_not_reach_child_programs() {
    let env = shell_env();
    // The nested safe-run finds the test's configuration in the session's
    // environment: naming another configuration on the line would itself
    // be a finding (rules/safe-run.toml).
    let config = env.config.display().to_string();
    let mut s = spawn_raw_with(&env, &[], &[("SAFE_RUN_CONFIG", &config)]);
    wait_prompt(&mut s);
    let inner = sh_quote(crate::common::bin());
    // Exported in the session, then a program runs safe-run, as vim runs
    // `$SHELL -c CMD` for `:!CMD` (here sh, which stays its parent).
    type_line(
        &mut s,
        &format!(
            "export SAFE_RUN_CONFIRM={} SAFE_RUN_REASON='{REASON}'; sh -c \"{} -c reboot; true\"",
            short_host(),
            inner.replace('"', "\\\"")
        ),
    );
    // The child asks on the terminal instead of taking the approval.
    expect_text(&mut s, "Type the host name");
    wait_until_reading(&s);
    type_line(&mut s, "no");
    expect_text(&mut s, "Nothing was run");
    wait_prompt(&mut s);
    assert!(!env.ran("reboot"));
    // The variables do not outlive their line either.
    type_line(
        &mut s,
        "echo \"left=${SAFE_RUN_CONFIRM:+exported}\"; env | grep -c '^SAFE_RUN_CONFIRM=' || true",
    );
    expect_text(&mut s, "left=");
    expect_text(&mut s, "0");
    wait_prompt(&mut s);
    // Given with the one command, on the line the session checked: counts.
    type_line(
        &mut s,
        &format!(
            "SAFE_RUN_CONFIRM={} SAFE_RUN_REASON='{REASON}' {inner} -- reboot",
            short_host()
        ),
    );
    expect_text(&mut s, "FAKE-REBOOT");
    wait_prompt(&mut s);
    assert!(env.ran("reboot"));
    leave(s, 0);
}

#[test]
fn tab_completes_subcommands_through_a_bash_completion_script() {
    let env = shell_env();
    env.fake_echo("zz-svc");
    let comp = env.path().join("data/bash-completion/completions");
    fs::create_dir_all(&comp).expect("mkdir");
    fs::write(
        comp.join("zz-svc"),
        "_zz_svc() { COMPREPLY=( $(compgen -W 'restart status stop' -- \"${COMP_WORDS[COMP_CWORD]}\") ); }\ncomplete -F _zz_svc zz-svc\n",
    )
    .expect("completion script");
    let mut s = spawn_shell(&env, &[]);
    s.send("zz-svc rest\t").expect("type, Tab");
    // The completed word is followed by a blank; then Enter.
    expect_text(&mut s, "restart ");
    s.send("\r").expect("Enter");
    expect_text(&mut s, "FAKE-zz-svc restart");
    wait_prompt(&mut s);
    assert_eq!(env.last_decision()["line"], "zz-svc restart ");
    leave(s, 0);
}

#[test]
fn history_and_rules_work_in_pipelines_alt_dot_and_ctrl_x_ctrl_e() {
    let env = shell_env();
    // An "editor" that appends to the line it is given.
    let editor = env.fake(
        "zz-editor",
        "sed -i 's/$/ \\&\\& echo edited-$((3*4))/' \"$1\"",
    );
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "echo first-$((1*1)) word-$((2*1))");
    expect_text(&mut s, "word-2");
    wait_prompt(&mut s);
    type_line(
        &mut s,
        "history | grep -c '[e]cho first-' | sed 's/^/count=/'",
    );
    expect_text(&mut s, "count=1");
    wait_prompt(&mut s);
    type_line(&mut s, "rules | grep -c power-reboot | sed 's/^/rules=/'");
    expect_text(&mut s, "rules=1");
    wait_prompt(&mut s);
    // Alt-. inserts the last word of the previous line.
    type_line(&mut s, "echo ok-$((5*5)) last-$((6*6))");
    expect_text(&mut s, "last-36");
    wait_prompt(&mut s);
    s.send("echo again \x1b.\r").expect("Alt-.");
    expect_text(&mut s, "again last-36");
    wait_prompt(&mut s);
    // Ctrl-X Ctrl-E: the edited text is the line, checked and logged.
    type_line(
        &mut s,
        &format!("export VISUAL={}", sh_quote(&editor.display().to_string())),
    );
    wait_prompt(&mut s);
    s.send("echo from-editor").expect("type");
    s.send("\x18\x05").expect("Ctrl-X Ctrl-E");
    expect_text(&mut s, "edited-12");
    wait_prompt(&mut s);
    assert_eq!(
        logged_lines(&env).last().map(String::as_str),
        Some("echo from-editor && echo edited-$((3*4))")
    );
    leave(s, 0);
}

#[test]
fn traps_last_for_their_line_and_exit_warns_once_about_stopped_jobs() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    type_line(&mut s, "trap 'echo TRAP-RAN' DEBUG; echo in-$((1+1))");
    expect_text(&mut s, "in-2");
    wait_prompt(&mut s);
    type_line(&mut s, "echo out-$((2+2))");
    let shown = expect_text(&mut s, "out-4");
    assert!(!shown.contains("TRAP-RAN"), "{shown}");
    wait_prompt(&mut s);
    type_line(&mut s, "sleep 30");
    wait_child_in_foreground(&s);
    s.send("\x1a").expect("Ctrl-Z");
    expect_text(&mut s, "Stopped");
    wait_prompt(&mut s);
    type_line(&mut s, "exit");
    expect_text(&mut s, "There are stopped jobs");
    wait_prompt(&mut s);
    type_line(&mut s, "exit");
    assert_eq!(exit_code(&s), 148);
}

#[test]
fn a_paste_too_long_to_read_ahead_is_not_dropped_without_a_word() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    // A risky first line, then more than the editor reads ahead (1 KiB).
    let mut paste = String::from("reboot\r");
    for i in 0..40 {
        paste.push_str(&format!("echo filler-{i:02}-{}\r", "x".repeat(40)));
    }
    s.send(paste).expect("paste");
    expect_text(&mut s, "more pasted input is waiting");
    expect_text(&mut s, "Type the host name");
    wait_until_reading(&s);
    type_line(&mut s, "no");
    expect_text(&mut s, "Nothing was run");
    assert!(!env.ran("reboot"));
    // What the editor had read ahead still runs; the last line it holds may
    // be cut short: Enter ends it before `exit`.
    s.send("\r").expect("Enter");
    leave(s, 0);
}
