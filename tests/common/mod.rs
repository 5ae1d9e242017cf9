//! Shared helpers for the tests that drive the built `safe-run` binary:
//! a temp directory with a config file, an audit log and fake programs
//! placed first on PATH, and ways to run the binary without a terminal.
//!
//! Every run without a pty goes through `setsid -w`, with stdin from a pipe
//! or /dev/null, so the binary never has a controlling terminal: a
//! developer who runs `cargo test` in a terminal must not get a prompt.

#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_safe-run")
}

/// Environment variables that would change what the binary does; removed
/// from every run so a developer's shell cannot leak into a test.
pub const CLEARED_VARS: &[&str] = &[
    "SAFE_RUN_REASON",
    "SAFE_RUN_CONFIRM",
    "SAFE_RUN_CONFIG",
    "SAFE_RUN_RULES_DIR",
    "SSH_CONNECTION",
    "SUDO_USER",
];

/// Held for writing while a fake program is written, for reading while a
/// process is spawned: a process forked by another test thread while an
/// executable is open for writing would make its exec fail with ETXTBSY.
static SPAWN_LOCK: RwLock<()> = RwLock::new(());

/// Spawns `cmd` so that no fake program is being written meanwhile.
pub fn spawn(cmd: &mut Command) -> Child {
    with_spawn_lock(|| {
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"))
    })
}

/// Runs `f`, which forks, while no fake program is being written.
pub fn with_spawn_lock<T>(f: impl FnOnce() -> T) -> T {
    let _guard = SPAWN_LOCK.read().unwrap_or_else(|e| e.into_inner());
    f()
}

/// The host's short name, as the binary asks for it: gethostname up to the
/// first dot.
pub fn short_host() -> String {
    let host = nix::unistd::gethostname()
        .expect("gethostname")
        .into_string()
        .expect("host name is UTF-8");
    host.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(&host)
        .to_string()
}

/// A temp directory with `bin/` (fakes, first on PATH), `config.toml` and
/// `audit.jsonl`.
pub struct Env {
    pub dir: TempDir,
    pub bin: PathBuf,
    pub config: PathBuf,
    pub audit: PathBuf,
}

impl Env {
    /// A config with the audit log in the temp dir and no colour.
    pub fn new() -> Env {
        Env::with_config(|_| String::new())
    }

    /// A config with the audit log in the temp dir, plus `extra` (given the
    /// temp dir, returns more TOML, e.g. a `[syslog]` table).
    pub fn with_config(extra: impl FnOnce(&Path) -> String) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let audit = dir.path().join("audit.jsonl");
        Env::with_audit_path(dir, &audit, extra)
    }

    /// A config whose `[audit] path` is `audit` (which may be unusable).
    pub fn with_audit_path(dir: TempDir, audit: &Path, extra: impl FnOnce(&Path) -> String) -> Env {
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).expect("mkdir bin");
        let config = dir.path().join("config.toml");
        let text = format!(
            "color = \"never\"\n{}\n[audit]\npath = {}\n",
            extra(dir.path()),
            toml_str(audit)
        );
        write_file(&config, text.as_bytes(), 0o644);
        Env {
            bin,
            config,
            audit: audit.to_path_buf(),
            dir,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes an executable `/bin/sh` script `bin/NAME` with `body`.
    pub fn fake(&self, name: &str, body: &str) -> PathBuf {
        let path = self.bin.join(name);
        write_file(&path, format!("#!/bin/sh\n{body}\n").as_bytes(), 0o755);
        path
    }

    /// A fake that prints `FAKE-NAME ARGS` and exits 0.
    pub fn fake_echo(&self, name: &str) -> PathBuf {
        self.fake(name, &format!("echo \"FAKE-{name} $*\""))
    }

    /// A fake that records each run by touching `ran-NAME` in the temp dir
    /// (for checking that something was NOT run) and prints like
    /// `fake_echo`.
    pub fn fake_marked(&self, name: &str) -> PathBuf {
        let marker = self.marker(name);
        self.fake(
            name,
            &format!(
                "echo ran >> {}\necho \"FAKE-{name} $*\"",
                sh_quote(&marker.display().to_string())
            ),
        )
    }

    /// The marker file of a `fake_marked` program.
    pub fn marker(&self, name: &str) -> PathBuf {
        self.path().join(format!("ran-{name}"))
    }

    /// Whether a `fake_marked` program ran.
    pub fn ran(&self, name: &str) -> bool {
        self.marker(name).exists()
    }

    /// PATH with the fakes first.
    pub fn path_var(&self) -> OsString {
        let mut p = OsString::from(self.bin.as_os_str());
        if let Some(rest) = std::env::var_os("PATH") {
            p.push(":");
            p.push(rest);
        } else {
            p.push(":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
        }
        p
    }

    /// `safe-run --config CONFIG --no-site-rules ARGS…` with PATH (fakes
    /// first), the temp dir as working directory and the variables of
    /// `CLEARED_VARS` removed; streams and session are the caller's.
    pub fn bare_command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--config")
            .arg(&self.config)
            .arg("--no-site-rules")
            .args(args)
            .current_dir(self.path())
            .env("PATH", self.path_var())
            .env("NO_COLOR", "1");
        for v in CLEARED_VARS {
            c.env_remove(v);
        }
        c
    }

    /// `setsid -w safe-run --config CONFIG --no-site-rules ARGS…`, stdin
    /// from /dev/null, stdout and stderr piped, in the temp dir.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new("setsid");
        c.arg("-w")
            .arg(bin())
            .arg("--config")
            .arg(&self.config)
            .arg("--no-site-rules")
            .args(args)
            .current_dir(self.path())
            .env("PATH", self.path_var())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for v in CLEARED_VARS {
            c.env_remove(v);
        }
        c
    }

    /// Runs the binary with no terminal and stdin from /dev/null.
    pub fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Run {
        self.run_cmd(self.command(args), None)
    }

    /// Runs the binary with no terminal and `input` on a stdin pipe.
    pub fn run_stdin<S: AsRef<std::ffi::OsStr>>(&self, args: &[S], input: &[u8]) -> Run {
        self.run_cmd(self.command(args), Some(input))
    }

    /// Runs a prepared command (from `command`), feeding `input` if given.
    pub fn run_cmd(&self, mut cmd: Command, input: Option<&[u8]>) -> Run {
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = spawn(&mut cmd);
        let writer = input.map(|data| {
            let mut stdin = child.stdin.take().expect("stdin pipe");
            let data = data.to_vec();
            std::thread::spawn(move || {
                // The child may exit without reading everything.
                let _ = stdin.write_all(&data);
            })
        });
        let out = child.wait_with_output().expect("wait for safe-run");
        if let Some(w) = writer {
            w.join().expect("stdin writer");
        }
        Run::from(out)
    }

    /// Every record of the audit log, parsed (empty if there is no log).
    pub fn records(&self) -> Vec<Value> {
        read_records(&self.audit)
    }

    /// The decision records.
    pub fn decisions(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["kind"] == "decision")
            .collect()
    }

    /// The outcome records.
    pub fn outcomes(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["kind"] == "outcome")
            .collect()
    }

    /// The last decision record.
    pub fn last_decision(&self) -> Value {
        self.decisions()
            .pop()
            .unwrap_or_else(|| panic!("no decision in {}", self.audit_text()))
    }

    /// The outcome of the decision `id`, if any.
    pub fn outcome_of(&self, decision: &Value) -> Option<Value> {
        let id = decision["id"].as_str().expect("decision id");
        self.outcomes().into_iter().find(|o| o["decision_id"] == id)
    }

    /// The audit log as text ("" if missing), for failure messages.
    pub fn audit_text(&self) -> String {
        fs::read_to_string(&self.audit).unwrap_or_default()
    }
}

/// Parses a JSON Lines audit log.
pub fn read_records(path: &Path) -> Vec<Value> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

/// How a run ended, and what it printed.
#[derive(Debug)]
pub struct Run {
    /// The exit status, or 128+N when killed by signal N.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        let status = out
            .status
            .code()
            .or_else(|| out.status.signal().map(|s| 128 + s))
            .expect("exit status");
        Run {
            status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            stdout_bytes: out.stdout,
        }
    }
}

impl Run {
    /// Asserts the exit status, showing the output when it differs.
    #[track_caller]
    pub fn expect_status(&self, want: i32) -> &Run {
        assert_eq!(
            self.status, want,
            "exit status\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Writes a file with `mode`, holding the spawn lock (see `SPAWN_LOCK`).
pub fn write_file(path: &Path, data: &[u8], mode: u32) {
    let _guard = SPAWN_LOCK.write().unwrap_or_else(|e| e.into_inner());
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A TOML basic string.
pub fn toml_str(path: &Path) -> String {
    let s = path.display().to_string();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A single-quoted /bin/sh word.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Polls `f` every 20 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
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

/// Whether a process with this PID exists (a zombie counts as gone).
pub fn pid_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state is the first field after the `(comm)`.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z" | "X"))
        }
        Err(_) => false,
    }
}
