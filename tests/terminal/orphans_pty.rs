//! One-shot mode on a real terminal: SIGHUP or SIGTERM sent to safe-run
//! alone ends the whole job it started, not only its child, and the
//! outcome is logged.
//!
//! With a terminal the child stays in the terminal's foreground process
//! group (so Ctrl-C reaches it), so safe-run cannot signal a group of its
//! own; and `bash -c 'a; b'` does not pass a signal on to `a`. The test
//! runs `safe-run -c 'sleep N; echo'` and `-c 'sleep N | cat'` as the
//! child of a shell that leads the session of a pty (as when an operator
//! types it at a prompt; were safe-run itself the session leader, the
//! kernel's hangup of the terminal on its exit would end the job anyway),
//! with a marker in `sleep`'s argument, signals safe-run, and looks in
//! `/proc` for any process still holding the marker while the shell goes
//! on.
//!
//! Nothing risky runs: `sleep`, `echo` and `cat` only. Self-contained (no
//! shared test module), so it stands alone whatever the layout of tests/.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use expectrl::process::unix::WaitStatus;
use expectrl::{Expect, Session};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const TIMEOUT: Duration = Duration::from_secs(10);

type Pty = expectrl::session::OsSession;

/// Polls `f` every 20 ms until it returns `Some`, for at most `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids of live (not zombie) `sleep` processes with the argument `marker`.
fn holding(marker: &str) -> Vec<i32> {
    processes(|args| {
        args.first().is_some_and(|a| a.ends_with(b"sleep")) && args.contains(&marker.as_bytes())
    })
}

/// The pid of the safe-run process whose arguments mention `marker`.
fn safe_run_pid(marker: &str) -> Option<i32> {
    processes(|args| {
        args.first().is_some_and(|a| a.ends_with(b"safe-run"))
            && args
                .iter()
                .any(|a| String::from_utf8_lossy(a).contains(marker))
    })
    .first()
    .copied()
}

/// The pids of live (not zombie) processes whose arguments pass `test`.
fn processes(test: impl Fn(&[&[u8]]) -> bool) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, r)| r.split_whitespace().next().map(|st| st == "Z"))
            })
            .unwrap_or(true);
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if !zombie && test(&args) {
            found.push(pid);
        }
    }
    found
}

/// Runs `line` with safe-run on a pty, signals safe-run with `sig` once
/// `sleep MARKER` runs, and checks that nothing with the marker is left.
fn signal_ends_the_whole_job(line_of: impl Fn(&str) -> String, sig: Signal, case: u32) {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let config = dir.path().join("config.toml");
    fs::write(
        &config,
        format!(
            "color = \"never\"\n[audit]\npath = \"{}\"\n",
            audit.display()
        ),
    )
    .unwrap();
    // Unique to this run: sleep takes fractional seconds.
    let marker = format!("1000.{}{case}", std::process::id());
    let line = line_of(&marker);
    // The session's shell runs safe-run, reports its status, and stays a
    // while, so the terminal is not hung up when safe-run ends.
    let script =
        "\"$0\" --config \"$1\" --no-site-rules -c \"$2\"; echo \"safe-run exited $?\"; sleep 5";
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_safe-run"))
        .arg(&config)
        .arg(&line)
        .current_dir(dir.path())
        .env_remove("SAFE_RUN_CONFIG")
        .env("NO_COLOR", "1");
    let mut session: Pty =
        crate::common::bin::without_forks(|| Session::spawn(cmd)).expect("spawn a shell on a pty");
    session.set_expect_timeout(Some(TIMEOUT));

    let started = wait_for(TIMEOUT, || (!holding(&marker).is_empty()).then_some(()));
    assert!(started.is_some(), "sleep {marker} never started: {line}");
    let pid = safe_run_pid(&marker).expect("safe-run's pid");
    kill(Pid::from_raw(pid), sig).unwrap();

    let want = 128 + sig as i32;
    if let Err(e) = session.expect(format!("safe-run exited {want}").as_str()) {
        panic!("safe-run did not exit with {want} ({line}): {e}");
    }
    // Signals are delivered at once, but a process takes a moment to die;
    // the session's shell is still there (its `sleep 5`).
    let left = wait_for(Duration::from_secs(3), || {
        let left = holding(&marker);
        left.is_empty().then_some(())
    });
    let orphans = holding(&marker);
    for p in &orphans {
        let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
    }
    assert!(
        left.is_some(),
        "{sig:?} to safe-run left `sleep {marker}` running ({orphans:?}): {line}"
    );
    let shell = Pid::from_raw(session.get_process().pid().as_raw());
    let _ = kill(shell, Signal::SIGKILL);
    let _ = wait_for(TIMEOUT, || match session.get_process().status() {
        Ok(WaitStatus::StillAlive) => None,
        _ => Some(()),
    });

    // The outcome is on record: killed by the signal.
    let log = fs::read_to_string(&audit).unwrap();
    let outcome: serde_json::Value = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["kind"] == "outcome")
        .unwrap_or_else(|| panic!("no outcome record: {log}"));
    assert_eq!(outcome["signal"], sig as i32, "{log}");
    verify(&audit);
}

fn verify(audit: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_safe-run"))
        .args(["audit", "verify"])
        .arg(audit)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn sighup_ends_a_list_that_bash_runs() {
    signal_ends_the_whole_job(|m| format!("sleep {m}; echo after"), Signal::SIGHUP, 1);
}

#[test]
fn sigterm_ends_a_list_that_bash_runs() {
    signal_ends_the_whole_job(|m| format!("sleep {m}; echo after"), Signal::SIGTERM, 2);
}

#[test]
fn sighup_ends_a_pipeline() {
    signal_ends_the_whole_job(|m| format!("sleep {m} | cat"), Signal::SIGHUP, 3);
}

#[test]
fn sigterm_ends_a_pipeline() {
    signal_ends_the_whole_job(|m| format!("sleep {m} | cat"), Signal::SIGTERM, 4);
}
