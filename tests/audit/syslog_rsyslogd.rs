//! The syslog copy of the audit records, received by a real rsyslogd.
//!
//! Each test starts its own rsyslogd in the foreground with a config in a
//! temp dir: a private imuxsock socket (not /dev/log), and every message
//! written to `out.log` as `FACILITY.SEVERITY TAG MSG`. safe-run is pointed
//! at that socket; the test polls `out.log` (bounded) for the records.
//!
//! rsyslogd is installed by `.ci/run`; where it is missing the tests print
//! a `skipped:` line and pass, or under `CI=true` fail (`common::tools`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{Env, require_tool, short_host, toml_str, wait_for};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A private rsyslogd, killed when dropped.
struct Rsyslogd {
    child: Child,
    socket: PathBuf,
    out: PathBuf,
    stderr: PathBuf,
}

impl Rsyslogd {
    /// Starts rsyslogd with its files in `dir` and waits for its socket.
    fn start(exe: &Path, dir: &Path) -> Rsyslogd {
        let socket = dir.join("log.sock");
        let out = dir.join("out.log");
        let conf = dir.join("rsyslog.conf");
        let work = dir.join("rsyslog-work");
        fs::create_dir(&work).expect("mkdir work");
        let q = |p: &Path| p.display().to_string();
        fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{socket}" CreatePath="on")
template(name="facsev" type="string" string="%syslogfacility-text%.%syslogseverity-text% %syslogtag%%msg%\n")
*.* action(type="omfile" file="{out}" template="facsev")
"#,
                work = q(&work),
                socket = q(&socket),
                out = q(&out),
            ),
        )
        .expect("write rsyslog.conf");
        let stderr = dir.join("rsyslogd.stderr");
        let mut cmd = Command::new(exe);
        cmd.arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("rsyslogd.stdout")).expect("stdout file"))
            .stderr(fs::File::create(&stderr).expect("stderr file"));
        let child = crate::common::spawn(&mut cmd);
        let mut daemon = Rsyslogd {
            child,
            socket,
            out,
            stderr,
        };
        let up = wait_for(TIMEOUT, || {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("rsyslogd exited early ({status}): {}", daemon.stderr_text());
            }
            daemon.socket.exists().then_some(())
        });
        assert!(
            up.is_some(),
            "rsyslogd did not create {} within {TIMEOUT:?}: {}",
            daemon.socket.display(),
            daemon.stderr_text()
        );
        daemon
    }

    fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn out_text(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Polls out.log until it has `n` safe-run records; returns each as
    /// (`facility.severity`, record).
    fn wait_records(&self, n: usize) -> Vec<(String, Value)> {
        let found = wait_for(TIMEOUT, || {
            let recs = parse_out(&self.out_text());
            (recs.len() >= n).then_some(recs)
        });
        found.unwrap_or_else(|| {
            panic!(
                "fewer than {n} safe-run records reached rsyslogd within {TIMEOUT:?}\n--- out.log:\n{}\n--- rsyslogd stderr:\n{}",
                self.out_text(),
                self.stderr_text()
            )
        })
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The safe-run lines of out.log: `FAC.SEV safe-run[PID]: {json}`.
fn parse_out(text: &str) -> Vec<(String, Value)> {
    text.lines()
        .filter_map(|l| {
            let (facsev, rest) = l.split_once(' ')?;
            if !rest.starts_with("safe-run[") {
                return None;
            }
            let json = &rest[rest.find('{')?..];
            let v: Value = serde_json::from_str(json).ok()?;
            Some((facsev.to_string(), v))
        })
        .collect()
}

/// rsyslogd and a safe-run env sending to it, or `None` (skip).
fn setup(facility: &str) -> Option<(Env, Rsyslogd)> {
    let exe = require_tool("rsyslogd")?;
    let facility = facility.to_string();
    let env = Env::with_config(|dir| {
        format!(
            "[syslog]\nenabled = true\nsocket = {}\nfacility = \"{facility}\"\n",
            toml_str(&dir.join("log.sock"))
        )
    });
    let daemon = Rsyslogd::start(&exe, env.path());
    Some((env, daemon))
}

#[test]
fn records_reach_rsyslogd_as_json() {
    let Some((env, daemon)) = setup("authpriv") else {
        return;
    };
    env.run(&["--", "true"]).expect_status(0);
    let recs = daemon.wait_records(2);

    let (facsev, decision) = &recs[0];
    assert_eq!(facsev, "authpriv.info", "a record with no finding is info");
    assert_eq!(decision["kind"], "decision");
    assert_eq!(decision["line"], "true");
    assert_eq!(decision["decision"], "allowed");
    let (facsev, outcome) = &recs[1];
    assert_eq!(facsev, "authpriv.info");
    assert_eq!(outcome["kind"], "outcome");
    assert_eq!(outcome["decision_id"], decision["id"]);
    assert_eq!(outcome["exit"], 0);

    // The same records as in the local log.
    let local = env.records();
    assert_eq!(local.len(), 2, "{}", env.audit_text());
    assert_eq!(local[0]["id"], decision["id"]);
    assert_eq!(local[1]["id"], outcome["id"]);
}

#[test]
fn a_risky_confirmed_line_is_a_notice_with_its_reason() {
    let Some((env, daemon)) = setup("local3") else {
        return;
    };
    env.fake_marked("reboot");
    let reason = "CHG-1234 kernel patch rollout";
    env.run(&[
        "--reason",
        reason,
        "--confirm",
        &short_host(),
        "--",
        "reboot",
    ])
    .expect_status(0);
    let recs = daemon.wait_records(2);
    let (facsev, decision) = &recs[0];
    assert_eq!(facsev, "local3.notice");
    assert_eq!(decision["decision"], "confirmed");
    assert_eq!(decision["reason"], reason);
    assert_eq!(decision["findings"][0]["rule"], "power-reboot");
    assert_eq!(recs[1].0, "local3.notice");
    assert_eq!(recs[1].1["decision_id"], decision["id"]);
}

#[test]
fn secrets_are_redacted_in_the_syslog_copy() {
    let Some((env, daemon)) = setup("authpriv") else {
        return;
    };
    env.fake_echo("tool");
    env.fake_echo("mysql");
    env.run(&["--", "tool", "--password=abcXYZ987"])
        .expect_status(0);
    env.run(&["-c", "mysql -psecret123 -e 'select 1'"])
        .expect_status(0);
    daemon.wait_records(4);
    let text = daemon.out_text();
    for secret in ["abcXYZ987", "secret123"] {
        assert!(!text.contains(secret), "{secret:?} reached syslog:\n{text}");
    }
    assert!(text.contains("--password=***"), "{text}");
}

#[test]
fn a_dead_syslog_socket_does_not_stop_the_command() {
    let Some((env, daemon)) = setup("authpriv") else {
        return;
    };
    drop(daemon);
    let gone = wait_for(TIMEOUT, || {
        let path = env.path().join("log.sock");
        std::os::unix::net::UnixDatagram::unbound()
            .ok()?
            .send_to(b"<14>probe: x", &path)
            .is_err()
            .then_some(())
    });
    assert!(gone.is_some(), "rsyslogd still receiving after kill");
    env.fake_echo("hello");
    let run = env.run(&["--", "hello"]);
    run.expect_status(0);
    assert!(run.stdout.contains("FAKE-hello"), "{run:?}");
    assert!(run.stderr.contains("warning"), "{}", run.stderr);
    // The local log still has both records.
    assert_eq!(env.records().len(), 2, "{}", env.audit_text());
}
