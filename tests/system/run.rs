//! The built binary running commands without a terminal: exit statuses,
//! streams, signals, approval given as flags or environment variables,
//! refusals, the audit log it leaves behind, and what happens when that
//! log cannot be written.
//!
//! Risky programs are fakes (shell scripts first on PATH) that print and
//! exit; nothing real is ever rebooted. Every run goes through `setsid -w`
//! (see `common`), so the binary never has a terminal to prompt on.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::common::fixtures::payload;
use crate::common::{
    Env, Run, pid_alive, read_records, require, rules_of, sh_quote, short_host, spawn, wait_for,
};

const REASON: &str = "CHG-1234 kernel patch rollout";

// ---------------------------------------------------------------------------
// Exit statuses pass through
// ---------------------------------------------------------------------------

/// Runs `args` and checks the status and, when it ran, the outcome record.
fn check_status(env: &Env, args: &[&str], want: i32) -> Run {
    let run = env.run(args);
    run.expect_status(want);
    let decision = env.last_decision();
    assert_eq!(decision["decision"], "allowed", "{decision}");
    let outcome = env
        .outcome_of(&decision)
        .unwrap_or_else(|| panic!("no outcome for {args:?}:\n{}", env.audit_text()));
    if want > 128 {
        assert_eq!(outcome["signal"], want - 128, "{args:?}: {outcome}");
        assert!(outcome["exit"].is_null(), "{args:?}: {outcome}");
    } else {
        assert_eq!(outcome["exit"], want, "{args:?}: {outcome}");
        assert!(outcome["signal"].is_null(), "{args:?}: {outcome}");
    }
    run
}

#[test]
fn exit_statuses_pass_through_in_argv_mode() {
    let env = Env::new();
    let notexec = env.bin.join("notexec");
    crate::common::write_file(&notexec, b"#!/bin/sh\necho should not run\n", 0o644);
    let notexec = notexec.display().to_string();

    check_status(&env, &["--", "true"], 0);
    check_status(&env, &["--", "sh", "-c", "exit 3"], 3);
    let run = check_status(&env, &["--", &notexec], 126);
    assert!(!run.stdout.contains("should not run"), "{run:?}");
    check_status(&env, &["--", "notexec"], 126);
    let run = check_status(&env, &["--", "no-such-program-4f1d"], 127);
    assert!(run.stderr.contains("no-such-program-4f1d"), "{run:?}");
    check_status(&env, &["--", "sh", "-c", "kill -TERM $$"], 143);
}

#[test]
fn exit_statuses_pass_through_in_dash_c_mode() {
    let env = Env::new();
    let notexec = env.bin.join("notexec");
    crate::common::write_file(&notexec, b"#!/bin/sh\necho should not run\n", 0o644);
    let notexec = notexec.display().to_string();

    check_status(&env, &["-c", "true"], 0);
    check_status(&env, &["-c", "exit 3"], 3);
    check_status(&env, &["-c", "sh -c 'exit 3'"], 3);
    let run = check_status(&env, &["-c", &notexec], 126);
    assert!(!run.stdout.contains("should not run"), "{run:?}");
    check_status(&env, &["-c", "no-such-program-4f1d"], 127);
    check_status(&env, &["-c", "sh -c 'kill -TERM $$'"], 143);
}

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

#[test]
fn stdin_streams_to_the_command_unchanged() {
    let env = Env::new();
    let run = env.run_stdin(&["--", "cat"], b"data");
    run.expect_status(0);
    assert_eq!(run.stdout_bytes, b"data");

    let run = env.run_stdin(&["-c", "cat"], b"line one\nline two\n");
    run.expect_status(0);
    assert_eq!(run.stdout, "line one\nline two\n");
}

#[test]
fn a_large_binary_payload_streams_unchanged() {
    let env = Env::new();
    // 1 MiB of every byte value, in a pattern that is not periodic at
    // pipe-buffer sizes.
    let payload = payload(1 << 20, 0x1234_5678);
    let run = env.run_stdin(&["--", "cat"], &payload);
    run.expect_status(0);
    assert_eq!(run.stdout_bytes.len(), payload.len());
    assert!(run.stdout_bytes == payload, "the payload came back changed");
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

/// SIGTERM to the wrapper ends the child (no orphan), the wrapper exits
/// 143, and the outcome says the command was killed by signal 15.
fn sigterm_reaches_the_child(mode: &[&str]) {
    sigterm_reaches_the_command(mode, "long-task");
}

/// As above, for any command line that starts `long-task`.
fn sigterm_reaches_the_command(mode: &[&str], line: &str) {
    let env = Env::new();
    let pidfile = env.path().join("long-task.pid");
    env.fake(
        "long-task",
        &format!(
            "echo $$ > {}\nexec sleep 30",
            sh_quote(&pidfile.display().to_string())
        ),
    );
    let mut args: Vec<&str> = mode.to_vec();
    args.push(line);
    let mut cmd = env.command(&args);
    let mut wrapper = spawn(&mut cmd);
    let wrapper_pid = i32::try_from(wrapper.id()).expect("pid");

    let child_pid: i32 = wait_for(Duration::from_secs(10), || {
        fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    })
    .unwrap_or_else(|| {
        let _ = wrapper.kill();
        panic!("the fake long task never started")
    });
    // `setsid` without a fork execs the binary: the spawned PID is safe-run.
    let comm = fs::read_to_string(format!("/proc/{wrapper_pid}/comm")).unwrap_or_default();
    assert_eq!(
        comm.trim(),
        "safe-run",
        "the spawned process is not the wrapper"
    );
    assert!(pid_alive(child_pid));

    kill(Pid::from_raw(wrapper_pid), Signal::SIGTERM).expect("kill wrapper");
    let status = wait_for(Duration::from_secs(10), || {
        wrapper.try_wait().expect("try_wait")
    });
    let Some(status) = status else {
        let _ = kill(Pid::from_raw(child_pid), Signal::SIGKILL);
        let _ = wrapper.kill();
        panic!("the wrapper did not end within 10 s of SIGTERM");
    };
    let stderr = {
        use std::io::Read;
        let mut s = String::new();
        if let Some(mut e) = wrapper.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    };
    assert_eq!(
        status.code(),
        Some(143),
        "wrapper status {status:?} (signal {:?}); stderr: {stderr}",
        status.signal()
    );

    let gone = wait_for(Duration::from_secs(5), || {
        (!pid_alive(child_pid)).then_some(())
    });
    if gone.is_none() {
        let _ = kill(Pid::from_raw(child_pid), Signal::SIGKILL);
        panic!("child {child_pid} outlived the wrapper (orphan)");
    }

    let decision = env.last_decision();
    assert_eq!(decision["decision"], "allowed");
    let outcome = env.outcome_of(&decision).expect("an outcome record");
    assert_eq!(outcome["signal"], 15, "{outcome}");
    assert!(outcome["exit"].is_null(), "{outcome}");
}

#[test]
fn sigterm_to_the_wrapper_ends_the_child_argv_mode() {
    sigterm_reaches_the_child(&["--"]);
}

#[test]
fn sigterm_to_the_wrapper_ends_the_child_dash_c_mode() {
    sigterm_reaches_the_child(&["-c"]);
}

/// Regression: with a list, `bash -c` forks the command and does not pass
/// SIGTERM on; without a terminal the wrapper signals the whole process
/// group, so nothing the line started is left behind.
#[test]
fn sigterm_to_the_wrapper_ends_every_process_of_a_dash_c_list() {
    sigterm_reaches_the_command(&["-c"], "long-task; echo done");
}

// ---------------------------------------------------------------------------
// No terminal: approval only as flags or environment variables
// ---------------------------------------------------------------------------

#[test]
fn risky_without_terminal_is_refused_with_how_to_approve() {
    let env = Env::new();
    env.fake_marked("reboot");
    let run = env.run(&["--", "reboot"]);
    run.expect_status(77);
    assert!(!env.ran("reboot"), "reboot ran");
    assert!(run.stderr.contains("power-reboot"), "{}", run.stderr);
    assert!(run.stderr.contains("--confirm"), "{}", run.stderr);
    assert!(run.stderr.contains(&short_host()), "{}", run.stderr);
    let d = env.last_decision();
    assert_eq!(d["decision"], "refused");
    assert_eq!(d["mode"], "--");
    assert_eq!(d["risk"], "high");
    assert!(rules_of(&d).contains(&"power-reboot".to_string()), "{d}");
    assert!(env.outcome_of(&d).is_none());
}

#[test]
fn reason_and_the_right_confirm_run_it() {
    let env = Env::new();
    env.fake_marked("reboot");
    let host = short_host();
    let run = env.run(&["--reason", REASON, "--confirm", &host, "--", "reboot"]);
    run.expect_status(0);
    assert!(run.stdout.contains("FAKE-reboot"), "{run:?}");
    assert!(env.ran("reboot"));
    let d = env.last_decision();
    assert_eq!(d["decision"], "confirmed");
    assert_eq!(d["reason"], REASON);
    assert_eq!(d["argv"], serde_json::json!(["reboot"]));
    assert_eq!(env.outcome_of(&d).expect("outcome")["exit"], 0);

    // The same through -c.
    let run = env.run(&["--reason", REASON, "--confirm", &host, "-c", "reboot now"]);
    run.expect_status(0);
    assert!(run.stdout.contains("FAKE-reboot now"), "{run:?}");
    let d = env.last_decision();
    assert_eq!(
        (d["decision"].as_str(), d["mode"].as_str()),
        (Some("confirmed"), Some("-c"))
    );
}

#[test]
fn a_wrong_token_is_refused_and_nothing_runs() {
    let env = Env::new();
    env.fake_marked("reboot");
    for token in ["yes", "not-this-host", ""] {
        let run = env.run(&["--reason", REASON, "--confirm", token, "--", "reboot"]);
        run.expect_status(77);
        assert!(run.stderr.contains("--confirm"), "{}", run.stderr);
        assert!(!env.ran("reboot"), "ran with token {token:?}");
        assert_eq!(env.last_decision()["decision"], "refused");
    }
    // A reason alone is not an approval.
    env.run(&["--reason", REASON, "--", "reboot"])
        .expect_status(77);
    // Nor a token alone (no reason).
    env.run(&["--confirm", &short_host(), "--", "reboot"])
        .expect_status(77);
    assert!(!env.ran("reboot"));
}

#[test]
fn medium_risk_takes_yes_not_the_host_name() {
    let env = Env::new();
    env.fake_marked("apt-get");
    let args = |token: &str| -> Vec<String> {
        [
            "--reason",
            REASON,
            "--confirm",
            token,
            "--",
            "apt-get",
            "install",
            "docker-ce",
        ]
        .iter()
        .map(ToString::to_string)
        .collect()
    };
    // Only a medium rule must be hit for this test to mean anything.
    env.run(&args(&short_host())).expect_status(77);
    assert!(!env.ran("apt-get"));
    assert_eq!(env.last_decision()["risk"], "medium");
    env.run(&args("yes")).expect_status(0);
    assert!(env.ran("apt-get"));
}

#[test]
fn answers_on_a_stdin_pipe_cannot_confirm() {
    let env = Env::new();
    env.fake_marked("reboot");
    let input = format!("yes\n{}\n{REASON}\n", short_host());
    let run = env.run_stdin(&["--", "reboot"], input.as_bytes());
    run.expect_status(77);
    assert!(!env.ran("reboot"), "a pipe on stdin confirmed reboot");
    assert!(!run.stdout.contains("FAKE-reboot"));
    assert_eq!(env.last_decision()["decision"], "refused");
}

#[test]
fn environment_variables_work_like_the_flags() {
    let env = Env::new();
    env.fake_marked("reboot");

    let mut cmd = env.command(&["--", "reboot"]);
    cmd.env("SAFE_RUN_REASON", REASON)
        .env("SAFE_RUN_CONFIRM", short_host());
    let run = env.run_cmd(cmd, None);
    run.expect_status(0);
    assert!(run.stdout.contains("FAKE-reboot"), "{run:?}");
    let d = env.last_decision();
    assert_eq!(d["decision"], "confirmed");
    assert_eq!(d["reason"], REASON);

    fs::remove_file(env.marker("reboot")).expect("reset marker");
    let mut cmd = env.command(&["--", "reboot"]);
    cmd.env("SAFE_RUN_REASON", REASON)
        .env("SAFE_RUN_CONFIRM", "yes");
    env.run_cmd(cmd, None).expect_status(77);
    assert!(!env.ran("reboot"));
}

#[test]
fn a_reason_that_says_nothing_is_refused() {
    let env = Env::new();
    env.fake_marked("reboot");
    let host = short_host();
    for reason in ["!!!! ???? ....", "........", "short", "aaaaaaaaaaaa", "   "] {
        let run = env.run(&["--reason", reason, "--confirm", &host, "--", "reboot"]);
        run.expect_status(77);
        assert!(run.stderr.contains("reason"), "{reason:?}: {}", run.stderr);
        assert!(!env.ran("reboot"), "ran with reason {reason:?}");
        assert_eq!(env.last_decision()["decision"], "refused");
    }
}

// ---------------------------------------------------------------------------
// Low risk, denied, unparseable
// ---------------------------------------------------------------------------

#[test]
fn low_risk_prints_a_notice_and_runs() {
    let env = Env::new();
    env.fake_marked("kubectl");
    let run = env.run(&["--", "kubectl", "cordon", "worker-3"]);
    run.expect_status(0);
    assert!(
        run.stdout.contains("FAKE-kubectl cordon worker-3"),
        "{run:?}"
    );
    assert!(run.stderr.contains("notice"), "{}", run.stderr);
    assert!(run.stderr.contains("k8s-cordon"), "{}", run.stderr);
    assert!(
        !run.stdout.contains("k8s-cordon"),
        "the notice belongs on stderr"
    );
    let d = env.last_decision();
    assert_eq!(d["decision"], "allowed");
    assert_eq!(d["risk"], "low");
    assert_eq!(d["findings"][0]["rule"], "k8s-cordon");
    assert_eq!(d["findings"][0]["risk"], "low");
    assert_eq!(env.outcome_of(&d).expect("outcome")["exit"], 0);
}

#[test]
fn a_denied_line_is_refused_even_with_approval() {
    let env = Env::new();
    let bomb = ":(){ :|:& };:";
    let run = env.run(&["-c", bomb]);
    run.expect_status(77);
    assert!(run.stderr.contains("misc-fork-bomb"), "{}", run.stderr);
    let d = env.last_decision();
    assert_eq!(d["decision"], "denied");
    assert_eq!(d["line"], bomb);
    assert!(env.outcome_of(&d).is_none());

    let run = env.run(&["--reason", REASON, "--confirm", &short_host(), "-c", bomb]);
    run.expect_status(77);
    assert_eq!(env.last_decision()["decision"], "denied");
    assert!(env.outcomes().is_empty(), "{}", env.audit_text());
}

#[test]
fn an_unparseable_line_exits_2_and_runs_nothing() {
    let env = Env::new();
    env.fake_marked("ls");
    let run = env.run(&["-c", "ls )"]);
    run.expect_status(2);
    assert!(!env.ran("ls"), "ls ran");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("cannot tell"), "{}", run.stderr);
    assert!(env.outcomes().is_empty(), "{}", env.audit_text());
}

// ---------------------------------------------------------------------------
// The audit log after a session
// ---------------------------------------------------------------------------

#[test]
fn a_mixed_session_leaves_a_verifiable_log_with_paired_outcomes() {
    let env = Env::new();
    env.fake_marked("reboot");
    env.fake_marked("kubectl");
    let host = short_host();
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (vec!["--", "true"], 0),
        (vec!["-c", "echo hello | cat"], 0),
        (vec!["-c", "exit 3"], 3),
        (vec!["--", "reboot"], 77),
        (
            vec!["--reason", REASON, "--confirm", &host, "--", "reboot"],
            0,
        ),
        (vec!["--", "kubectl", "cordon", "worker-1"], 0),
        (vec!["-c", ":(){ :|:& };:"], 77),
        (vec!["-c", "ls )"], 2),
        (vec!["--", "no-such-program-4f1d"], 127),
        (vec!["--", "sh", "-c", "kill -TERM $$"], 143),
        (
            vec!["--reason", "...", "--confirm", &host, "-c", "reboot"],
            77,
        ),
    ];
    for (args, want) in &runs {
        let run = env.run(args);
        assert_eq!(run.status, *want, "{args:?}: {run:?}");
    }

    // Verified with the file named and with the configured path.
    let verify = env.run(&["audit", "verify", &env.audit.display().to_string()]);
    verify.expect_status(0);
    assert!(verify.stdout.contains("ok"), "{verify:?}");
    env.run(&["audit", "verify"]).expect_status(0);

    let records = read_records(&env.audit);
    let decisions: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    let outcomes: Vec<&Value> = records.iter().filter(|r| r["kind"] == "outcome").collect();
    assert_eq!(
        decisions.len(),
        runs.len(),
        "one decision per run:\n{}",
        env.audit_text()
    );
    for d in &decisions {
        let id = d["id"].as_str().expect("id");
        let mine: Vec<&&Value> = outcomes.iter().filter(|o| o["decision_id"] == id).collect();
        let ran = matches!(d["decision"].as_str(), Some("allowed" | "confirmed"));
        assert_eq!(
            mine.len(),
            usize::from(ran),
            "decision {d} has outcomes {mine:?}"
        );
    }
    for o in &outcomes {
        assert!(
            decisions.iter().any(|d| d["id"] == o["decision_id"]),
            "outcome without its decision: {o}"
        );
        assert!(o["duration_ms"].is_u64(), "{o}");
    }
    let kinds: Vec<&str> = decisions
        .iter()
        .filter_map(|d| d["decision"].as_str())
        .collect();
    for k in ["allowed", "confirmed", "refused", "denied"] {
        assert!(kinds.contains(&k), "no {k} decision in {kinds:?}");
    }
}

// ---------------------------------------------------------------------------
// An audit log that cannot be written
// ---------------------------------------------------------------------------

fn unwritable_log_refuses_risky_but_runs_safe(env: &Env) {
    env.fake_marked("reboot");
    env.fake_marked("hello");
    let run = env.run(&[
        "--reason",
        REASON,
        "--confirm",
        &short_host(),
        "--",
        "reboot",
    ]);
    run.expect_status(77);
    assert!(
        !env.ran("reboot"),
        "a risky line ran with no decision on record"
    );
    assert!(run.stderr.contains("audit log"), "{}", run.stderr);
    assert!(run.stderr.contains("refused"), "{}", run.stderr);

    let run = env.run(&["--", "hello"]);
    run.expect_status(0);
    assert!(run.stdout.contains("FAKE-hello"), "{run:?}");
    assert!(run.stderr.contains("warning"), "{}", run.stderr);

    env.run(&["--", "true"]).expect_status(0);
    env.run(&["-c", "true"]).expect_status(0);
}

#[test]
fn log_under_a_regular_file_refuses_risky_but_runs_safe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("file");
    fs::write(&file, "not a directory").expect("write");
    let audit = file.join("audit.jsonl");
    let env = Env::with_audit_path(dir, &audit, |_| String::new());
    unwritable_log_refuses_risky_but_runs_safe(&env);
}

#[test]
fn log_on_a_full_disk_refuses_risky_but_runs_safe() {
    let dev_full = std::path::Path::new("/dev/full");
    if !require(dev_full.exists(), "there is no /dev/full here") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let env = Env::with_audit_path(dir, dev_full, |_| String::new());
    unwritable_log_refuses_risky_but_runs_safe(&env);
}

// ---------------------------------------------------------------------------
// Secrets never reach the log
// ---------------------------------------------------------------------------

#[test]
fn secrets_are_redacted_in_the_log() {
    let env = Env::new();
    for p in ["mysql", "psql", "curl", "tool"] {
        env.fake_echo(p);
    }
    let secrets = ["secret123", "hunter2", "pw123", "tok123", "abcXYZ987"];
    let lines = [
        "mysql -psecret123 -e 'select 1'",
        "PGPASSWORD=hunter2 psql -c 'select 1'",
        "curl https://bob:pw123@host/",
        "curl -H 'Authorization: Bearer tok123' x",
        "tool --password=abcXYZ987",
    ];
    for line in lines {
        let run = env.run(&["-c", line]);
        run.expect_status(0);
        // The command itself got its arguments unchanged.
        assert!(run.stdout.contains("FAKE-"), "{line}: {run:?}");
    }
    let run = env.run(&["--", "mysql", "-psecret123", "-e", "select 1"]);
    run.expect_status(0);
    assert!(
        run.stdout.contains("-psecret123"),
        "the command must get the real password: {run:?}"
    );
    let argv_runs: [&[&str]; 4] = [
        &["--", "env", "PGPASSWORD=hunter2", "psql"],
        &["--", "curl", "https://bob:pw123@host/"],
        &["--", "curl", "-H", "Authorization: Bearer tok123", "x"],
        &["--", "tool", "--password=abcXYZ987"],
    ];
    for args in argv_runs {
        env.run(args).expect_status(0);
    }
    // A secret inside a risky, confirmed line's reason stays readable (it is
    // the operator's text) but the line itself is still redacted.
    env.fake_marked("reboot");
    env.run(&[
        "--reason",
        REASON,
        "--confirm",
        &short_host(),
        "-c",
        "PGPASSWORD=hunter2 reboot",
    ])
    .expect_status(0);

    let text = env.audit_text();
    assert_eq!(
        env.decisions().len(),
        lines.len() + 1 + argv_runs.len() + 1,
        "{text}"
    );
    for s in secrets {
        assert!(!text.contains(s), "secret {s:?} is in the log:\n{text}");
    }
    assert!(text.contains("***"), "{text}");
    // What is not secret stays for the auditor.
    assert!(text.contains("bob:***@host"), "{text}");
    assert!(text.contains("Bearer ***"), "{text}");
    env.run(&["audit", "verify"]).expect_status(0);
}
