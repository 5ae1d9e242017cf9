//! The interactive shell, end to end, in a real pseudo-terminal: the binary
//! is spawned as the session leader of a pty (so the pty is its controlling
//! terminal and `/dev/tty`), with fake risky programs first on PATH, a temp
//! config whose audit log is in a temp dir, no site rules, and HOME and
//! XDG_STATE_HOME in temp dirs.
//!
//! How the tests wait, instead of sleeping: for the prompt's text, then
//! for the terminal to leave canonical mode (rustyline and the
//! confirmation prompt read a key at a time), and for a running command by
//! watching the terminal's foreground process group change. Output is
//! matched on text the typed line does not contain (`echo x-$((6*7))` is
//! matched as `x-42`), since the editor redraws what is typed. Timeouts
//! are generous and only bound a hang; nothing asserts on wall-clock time.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use nix::sys::signal::Signal;

use crate::common::fixtures::without_terminal;
use crate::common::pty::TIMEOUT;
use crate::common::{Env, Pty, pid_alive, require_tool, sh_quote, short_host, wait_for};

const REASON: &str = "CHG-1234 kernel patch rollout";
/// The end of the test prompt (see `shell_env`).
const PROMPT: &str = "sr> ";

/// An env with a `reboot` that prints FAKE-REBOOT and records each run, a
/// prompt that is easy to find, and XDG_STATE_HOME in the temp dir.
fn shell_env() -> Env {
    let env =
        Env::with_config(|_| "[shell]\nprompt = \"[{env}] {user}@{host}:{cwd} sr> \"\n".into());
    let marker = env.marker("reboot");
    env.fake(
        "reboot",
        &format!(
            "echo ran >> {}\necho FAKE-REBOOT",
            sh_quote(&marker.display().to_string())
        ),
    );
    fs::create_dir(state_home(&env)).expect("mkdir");
    env
}

fn home(env: &Env) -> PathBuf {
    env.home.clone()
}

fn state_home(env: &Env) -> PathBuf {
    env.path().join("state")
}

/// `safe-run [ARGS]` with the env's settings, before spawning.
fn shell_command(env: &Env, args: &[&str]) -> Command {
    let mut cmd = env.bare_command(args);
    cmd.env("XDG_STATE_HOME", state_home(env))
        .env("TERM", "xterm");
    cmd
}

/// `shell_command` without a terminal (`setsid -w`), to run with
/// `Env::run_cmd`.
fn shell_without_terminal(env: &Env, args: &[&str]) -> Command {
    without_terminal(shell_command(env, args))
}

/// Spawns the interactive shell on a new pty and waits for its first
/// prompt.
fn spawn_shell(env: &Env, args: &[&str]) -> Pty {
    let mut session = Pty::spawn(shell_command(env, args));
    wait_prompt(&mut session);
    session
}

/// Waits for the next prompt, ready for keys.
#[track_caller]
fn wait_prompt(session: &mut Pty) -> String {
    let before = session.expect(PROMPT);
    session.wait_reading();
    before
}

/// Waits until a line that ran has ended and the next prompt reads keys:
/// its outcome is in the log (written after the terminal modes were put
/// back), then the editor leaves canonical mode again. Needed for lines
/// that print nothing, where the prompt's text alone could be a redraw of
/// the line being typed.
#[track_caller]
fn wait_ran(session: &Pty, env: &Env, outcomes_before: usize) {
    let done = wait_for(TIMEOUT, || {
        (env.outcomes().len() > outcomes_before).then_some(())
    });
    assert!(
        done.is_some(),
        "the line did not finish: {}",
        env.audit_text()
    );
    session.wait_reading();
}

/// Types a line that prints nothing and waits until it has run.
#[track_caller]
fn run_quiet(session: &mut Pty, env: &Env, line: &str) {
    let before = env.outcomes().len();
    session.send_line(line);
    wait_ran(session, env, before);
}

/// Waits until a command started from the shell owns the terminal: the
/// foreground group is neither safe-run's nor the session's bash's.
#[track_caller]
fn wait_child_in_foreground(session: &Pty) {
    let shell = session.pid().as_raw();
    session.wait_until("a command taking the terminal", || {
        let Some(group) = session.foreground_group() else {
            return false;
        };
        let comm = fs::read_to_string(format!("/proc/{group}/comm")).unwrap_or_default();
        group != shell && comm.trim() != "bash"
    });
}

/// Leaves with `exit` and checks the status.
#[track_caller]
fn leave(mut session: Pty, want: i32) {
    session.send_line("exit");
    assert_eq!(session.exit_code(), want);
}

#[test]
fn the_banner_names_the_environment_and_the_rules_and_a_safe_command_runs() {
    let env = shell_env();
    let cmd = shell_command(&env, &[]);
    let mut s = Pty::spawn(cmd);
    let banner = s.expect("rules before it runs");
    assert!(banner.contains("[PRODUCTION]"), "{banner}");
    assert!(banner.contains("checked against"), "{banner}");
    let before = wait_prompt(&mut s);
    assert!(
        before.contains("[PRODUCTION] ") && before.contains('@'),
        "the prompt shows the environment and user@host: {before:?}"
    );
    s.send_line("echo hello-$((6*7))");
    s.expect("hello-42");
    wait_prompt(&mut s);
    let d = env.last_decision();
    assert_eq!(d["mode"], "shell", "{d}");
    assert_eq!(d["decision"], "allowed", "{d}");
    assert_eq!(env.outcome_of(&d).expect("outcome")["exit"], 0);
    leave(s, 0);
}

#[test]
fn the_banner_warns_loudly_about_a_broken_rule_file() {
    let env = shell_env();
    let rules = env.path().join("rules.d");
    fs::create_dir(&rules).expect("mkdir");
    fs::write(
        rules.join("broken.toml"),
        "[[rule]]\nid = \"x\"\nrisk = \"nope\"\n",
    )
    .expect("write");
    let rules = rules.display().to_string();
    let cmd = shell_command(&env, &["--rules", &rules]);
    let mut s = Pty::spawn(cmd);
    let banner = wait_prompt(&mut s);
    assert!(
        banner.contains("broken.toml"),
        "the error names the file: {banner}"
    );
    assert!(
        banner.contains("WARNING") && banner.contains("NOT in force"),
        "{banner}"
    );
    assert!(banner.contains("rules before it runs"), "{banner}");
    leave(s, 0);
}

#[test]
fn cd_and_export_persist_also_inside_compound_lines() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    run_quiet(&mut s, &env, "cd /tmp && true");
    s.send_line("echo \"at=$(pwd)\"");
    s.expect("at=/tmp");
    wait_prompt(&mut s);
    run_quiet(&mut s, &env, "export X=1; true");
    s.send_line("echo \"x=$X\"");
    s.expect("x=1\r\n");
    wait_prompt(&mut s);
    // A plain assignment and a bare `cd` (home) carry over too.
    run_quiet(&mut s, &env, "Y=two; cd");
    s.send_line("echo \"y=$Y at=$(pwd)\"");
    s.expect(&format!("y=two at={}", home(&env).display()));
    // The prompt shows the home directory as ~.
    let prompt = wait_prompt(&mut s);
    assert!(prompt.contains(":~ "), "{prompt:?}");
    s.send_line("cd - >/dev/null; echo \"back=$(pwd)\"");
    s.expect("back=/tmp");
    wait_prompt(&mut s);
    // The audit log follows the shell's directory.
    run_quiet(&mut s, &env, "true");
    assert_eq!(env.last_decision()["cwd"], "/tmp");
    leave(s, 0);
}

#[test]
fn a_risky_line_asks_a_wrong_host_name_aborts_the_right_one_runs_it() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    s.send_line("reboot");
    let explained = s.expect("Type the host name");
    assert!(explained.contains("power-reboot"), "{explained}");
    s.wait_reading();
    s.send_line(&format!("{}-not", short_host()));
    s.expect("Nothing was run");
    wait_prompt(&mut s);
    assert!(!env.ran("reboot"), "reboot ran after a wrong host name");
    assert_eq!(env.last_decision()["decision"], "aborted");

    s.send_line("reboot");
    s.expect("Type the host name");
    s.wait_reading();
    s.send_line(&short_host());
    s.expect("Reason (");
    s.wait_reading();
    s.send_line(REASON);
    s.expect("FAKE-REBOOT");
    wait_prompt(&mut s);
    assert!(env.ran("reboot"));
    let d = env.last_decision();
    assert_eq!(d["decision"], "confirmed", "{d}");
    assert_eq!(d["reason"], REASON);
    assert_eq!(d["mode"], "shell");
    leave(s, 0);
}

#[test]
fn the_risk_hint_shows_while_typing_before_enter() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    s.send("reboot");
    let hint = s.expect("power-reboot");
    s.expect(":");
    assert!(hint.contains("high"), "the hint names the risk: {hint:?}");
    // Nothing ran or was logged: it was only typed.
    assert!(!env.ran("reboot"));
    assert!(env.decisions().is_empty(), "{}", env.audit_text());
    s.send("\x03");
    s.expect("[130] ");
    wait_prompt(&mut s);
    // `check` explains without running.
    s.send_line("check sudo reboot");
    s.expect("CONFIRM (high)");
    wait_prompt(&mut s);
    assert!(!env.ran("reboot"));
    // `check` sets $? as `safe-run check` would: 1, needs approval.
    leave(s, 1);
}

#[test]
fn an_unclosed_quote_continues_on_the_next_line() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    s.send_line("echo \"a-$((1+1))");
    s.send_line("b-$((2+2))\"");
    s.expect("a-2\r\nb-4");
    wait_prompt(&mut s);
    // One line in the log, run as one.
    let d = env.last_decision();
    assert_eq!(d["line"], "echo \"a-$((1+1))\nb-$((2+2))\"", "{d}");
    // An open `for` too.
    s.send_line("for i in 1 2; do");
    s.send_line("echo \"n-$((i*10))\"; done");
    s.expect("n-10\r\nn-20");
    wait_prompt(&mut s);
    leave(s, 0);
}

#[test]
fn ctrl_c_at_the_prompt_clears_the_line_and_the_shell_stays() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    s.send("reboot-never-typed-out");
    s.send("\x03");
    // The new prompt shows the status of an interrupted line, as bash.
    s.expect("[130] ");
    wait_prompt(&mut s);
    assert!(s.alive());
    s.send_line("echo still-$((40+2))-here");
    s.expect("still-42-here");
    wait_prompt(&mut s);
    assert!(
        env.decisions()
            .iter()
            .all(|d| d["line"] != "reboot-never-typed-out")
    );
    leave(s, 0);
}

#[test]
fn ctrl_d_leaves_with_the_last_status() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    run_quiet(&mut s, &env, "false");
    s.send("\x04");
    assert_eq!(s.exit_code(), 1);
}

#[test]
fn exit_with_a_status_and_exit_inside_a_compound_line() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    // A failed line's status is `$?` and shows in the prompt.
    run_quiet(&mut s, &env, "cd /tmp && (exit 4)");
    s.expect("[4] [PRODUCTION]");
    s.send_line("echo \"st=$? at=$(pwd)\"");
    s.expect("st=4 at=/tmp");
    wait_prompt(&mut s);
    // `exit` inside a compound line ends the shell, as in bash.
    s.send_line("cd / && exit 5");
    assert_eq!(s.exit_code(), 5);
    let mut s = spawn_shell(&env, &[]);
    s.send_line("exit 3");
    assert_eq!(s.exit_code(), 3);
}

#[test]
fn ctrl_c_interrupts_the_command_and_ctrl_z_never_hangs_the_session() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    s.send_line("sleep 60; echo after-$((1+1))");
    wait_child_in_foreground(&s);
    // Ctrl-Z stops the job, as in bash; `fg` brings it back.
    s.send("\x1a");
    s.expect("Stopped");
    wait_prompt(&mut s);
    s.send_line("fg");
    wait_child_in_foreground(&s);
    s.send("\x03");
    s.expect("[130] ");
    wait_prompt(&mut s);
    assert!(s.alive(), "the shell survives Ctrl-C");
    s.send_line("sleep 60; echo after-$((1+1))");
    wait_child_in_foreground(&s);
    s.send("\x03");
    s.expect("[130] ");
    let prompt = wait_prompt(&mut s);
    assert!(!prompt.contains("after-2"), "Ctrl-C ends the whole line");
    s.send_line("echo alive-$((2+3))");
    s.expect("alive-5");
    wait_prompt(&mut s);
    let d = env.decisions();
    let sleep = d
        .iter()
        .rev()
        .find(|d| d["line"].as_str().is_some_and(|l| l.starts_with("sleep")))
        .expect("the sleep line is logged");
    let outcome = env.outcome_of(sleep).expect("its outcome");
    assert!(
        outcome["exit"] == 130 || outcome["signal"] == 2,
        "interrupted: {outcome}"
    );
    leave(s, 0);
}

#[test]
fn a_hangup_ends_the_session_and_the_command_it_was_running() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    s.send_line("sh -c 'echo $$ > sleeper.pid; exec sleep 60'");
    let pid_file = env.path().join("sleeper.pid");
    let sleeper: i32 = wait_for(TIMEOUT, || {
        fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    })
    .expect("the command started");
    s.signal(Signal::SIGHUP);
    assert_eq!(s.exit_code(), 128 + 1);
    assert!(
        wait_for(TIMEOUT, || (!pid_alive(sleeper)).then_some(())).is_some(),
        "the command got the hangup too"
    );
    // At the prompt, SIGTERM ends the session at once.
    let s = spawn_shell(&env, &[]);
    s.signal(Signal::SIGTERM);
    assert_eq!(s.exit_code(), 128 + 15);
}

#[test]
fn a_full_screen_program_leaves_the_terminal_usable() {
    if require_tool("less").is_none() {
        return;
    }
    let env = shell_env();
    let text: String = (1..=200).map(|i| format!("LESS-LINE-{i}\n")).collect();
    fs::write(env.path().join("big.txt"), text).expect("write");
    let mut s = spawn_shell(&env, &[]);
    s.send_line("less big.txt");
    s.expect("LESS-LINE-3");
    s.wait_reading();
    let before = env.outcomes().len();
    s.send("q");
    wait_ran(&s, &env, before);
    s.send_line("echo ok-$((1+2))");
    s.expect("ok-3");
    wait_prompt(&mut s);
    leave(s, 0);
}

#[test]
fn a_program_that_dies_in_raw_mode_leaves_the_terminal_usable() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    // The shell puts back the modes it saved before the line ran.
    run_quiet(&mut s, &env, "stty raw -echo; sh -c 'kill -9 $$'");
    // The next line finds the terminal cooked again: line editing,
    // signal keys and output processing on (`stty raw` turned them off).
    s.send_line("echo \"modes-$(stty -a | tr ' ;' '\\n\\n' | grep -cxE 'icanon|isig|opost')\"");
    s.expect("modes-3");
    wait_prompt(&mut s);
    leave(s, 0);
}

#[test]
fn history_is_kept_in_a_private_file() {
    let env = shell_env();
    let mut s = spawn_shell(&env, &[]);
    s.send_line("echo first-$((1))");
    s.expect("first-1");
    wait_prompt(&mut s);
    leave(s, 0);
    let path = state_home(&env).join("safe-run/history");
    let text = fs::read_to_string(&path).expect("history file");
    assert!(text.contains("echo first-$((1))"), "{text}");
    let mode = fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // The next session sees it: up arrow twice (past `exit`) recalls it.
    let mut s = spawn_shell(&env, &[]);
    s.send("\x1b[A\x1b[A\r");
    s.expect("first-1");
    wait_prompt(&mut s);
    leave(s, 0);
}

#[test]
fn tab_completes_programs_on_the_path() {
    let env = shell_env();
    env.fake("zz-safe-run-probe", "echo PROBE-RAN-$((2*21))");
    let mut s = spawn_shell(&env, &[]);
    s.send("zz-safe-run-pr\t");
    s.send("\r");
    s.expect("PROBE-RAN-42");
    wait_prompt(&mut s);
    assert_eq!(env.last_decision()["line"], "zz-safe-run-probe ");
    leave(s, 0);
}

#[test]
fn the_shells_own_commands_work_without_a_terminal_too() {
    let env = shell_env();
    let run = env.run_cmd(
        shell_without_terminal(&env, &[]),
        Some(b"help\nrules\ncheck reboot\necho \"st=$?\"\nexit 5\necho not-reached\n"),
    );
    run.expect_status(5);
    assert!(run.stdout.contains("check LINE"), "{}", run.stdout);
    assert!(run.stdout.contains("power-reboot"), "{}", run.stdout);
    assert!(run.stdout.contains("CONFIRM (high)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("st=1\n"),
        "check's status is $?: {}",
        run.stdout
    );
    assert!(!run.stdout.contains("not-reached"));
    assert!(!env.ran("reboot"));
    // Only the echo ran through the pipeline; the builtins are not logged.
    let lines: Vec<String> = env
        .decisions()
        .iter()
        .map(|d| d["line"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(lines, ["echo \"st=$?\""]);
}

#[test]
fn lines_from_a_pipe_go_through_the_same_checks() {
    let env = shell_env();
    let input =
        b"cd /tmp\necho \"at=$(pwd)\"\nreboot\necho \"st=$?\"\necho \"a\nb\"\ncat\nfor-cat\n";
    let run = env.run_cmd(shell_without_terminal(&env, &[]), Some(input));
    run.expect_status(0);
    assert!(run.stdout.contains("at=/tmp\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("st=77\n"),
        "refused without a terminal: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("a\nb\n"),
        "a quote continued: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("for-cat\n"),
        "cat reads the rest: {}",
        run.stdout
    );
    assert!(!env.ran("reboot"));
    assert!(
        run.stderr.contains("no terminal to ask on"),
        "{}",
        run.stderr
    );
    let decisions = env.decisions();
    assert!(decisions.iter().all(|d| d["mode"] == "shell"));
    assert!(decisions.iter().any(|d| d["decision"] == "refused"));
    let run = env.run_cmd(shell_without_terminal(&env, &[]), Some(b"false\n"));
    run.expect_status(1);
    // A line that removes the directory it is in does not break the next.
    let run = env.run_cmd(
        shell_without_terminal(&env, &[]),
        Some(b"mkdir gone && cd gone\nrmdir ../gone\necho \"after-$((1+1))\"\n"),
    );
    run.expect_status(0);
    assert!(run.stdout.contains("after-2\n"), "{}", run.stderr);
}

#[test]
fn a_login_shell_takes_the_profiles_environment() {
    let env = shell_env();
    fs::write(
        home(&env).join(".profile"),
        "echo profile-greeting\nexport FROM_PROFILE=yes\numask 027\n",
    )
    .expect("profile");
    let run = env.run_cmd(
        shell_without_terminal(&env, &["-l"]),
        Some(b"echo \"fp=$FROM_PROFILE\"; umask\n"),
    );
    run.expect_status(0);
    assert!(run.stdout.contains("fp=yes\n"), "{}", run.stdout);
    assert!(run.stdout.contains("0027\n"), "{}", run.stdout);
    assert!(
        run.stdout.starts_with("profile-greeting\n"),
        "{}",
        run.stdout
    );
}
