//! What a test sets up on disk: a temp directory with a config file, an
//! audit log, a HOME and fake programs first on PATH, and the binary run
//! in it without a terminal.
//!
//! Tests never run a real risky command: `reboot`, `apt-get` and the like
//! are `/bin/sh` scripts in the temp dir's `bin/`, first on PATH, that
//! print what they were asked and can leave a marker file.
//!
//! Every run without a pty goes through `setsid -w`, with stdin from a pipe
//! or /dev/null, so the binary never has a controlling terminal: a
//! developer who runs `cargo test` in a terminal must not get a prompt.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use tempfile::TempDir;

use super::bin::{Run, bin, clean_env, run_within, system_path, without_forks};

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

/// A temp directory with `bin/` (fakes, first on PATH), `home/` (HOME),
/// `config.toml` and `audit.jsonl`.
pub struct Env {
    pub dir: TempDir,
    pub bin: PathBuf,
    pub home: PathBuf,
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
        let home = dir.path().join("home");
        for d in [&bin, &home] {
            fs::create_dir(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        }
        let config = dir.path().join("config.toml");
        let text = format!(
            "color = \"never\"\n{}\n[audit]\npath = {}\n",
            extra(dir.path()),
            toml_str(audit)
        );
        write_file(&config, text.as_bytes(), 0o644);
        Env {
            bin,
            home,
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
        p.push(":");
        p.push(system_path());
        p
    }

    /// `safe-run --config CONFIG --no-site-rules ARGS…` in the temp dir,
    /// with a clean environment (`bin::clean_env`: PATH with the fakes
    /// first, HOME the temp `home/`); streams and session are the caller's.
    pub fn bare_command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(bin());
        clean_env(&mut c, &self.path_var(), &self.home);
        c.arg("--config")
            .arg(&self.config)
            .arg("--no-site-rules")
            .args(args)
            .current_dir(self.path());
        c
    }

    /// `bare_command` with no controlling terminal (`setsid -w` execs the
    /// binary, same PID, in a new session), stdin from /dev/null, stdout
    /// and stderr piped; run it with `run_cmd`.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = without_terminal(self.bare_command(args));
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs the binary with no terminal and stdin from /dev/null.
    #[track_caller]
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        self.run_cmd(self.command(args), None)
    }

    /// Runs the binary with no terminal and `input` on a stdin pipe.
    #[track_caller]
    pub fn run_stdin<S: AsRef<OsStr>>(&self, args: &[S], input: &[u8]) -> Run {
        self.run_cmd(self.command(args), Some(input))
    }

    /// Runs a prepared command (from `command`) to its end, bounded,
    /// feeding `input` if given.
    #[track_caller]
    pub fn run_cmd(&self, cmd: Command, input: Option<&[u8]>) -> Run {
        run_within(cmd, input, super::bin::RUN_LIMIT)
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
    #[track_caller]
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

/// `setsid -w PROGRAM ARGS…` with `cmd`'s environment and directory: the
/// program runs in a new session, so it has no controlling terminal.
pub fn without_terminal(cmd: Command) -> Command {
    let mut c = Command::new("setsid");
    c.arg("-w").arg(cmd.get_program()).args(cmd.get_args());
    // `cmd` starts from an empty environment (`clean_env`); so does this.
    c.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        c.current_dir(dir);
    }
    c
}

/// Parses a JSON Lines audit log.
#[track_caller]
pub fn read_records(path: &Path) -> Vec<Value> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

/// The rule ids of a decision record's findings.
pub fn rules_of(decision: &Value) -> Vec<String> {
    decision["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["rule"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Writes a file with `mode` while no test thread forks (see
/// `bin::SPAWN_LOCK`): it may be an executable that is run next.
#[track_caller]
pub fn write_file(path: &Path, data: &[u8], mode: u32) {
    without_forks(|| {
        fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    });
}

/// Copies `from` to `to` (an executable, such as the binary) with `mode`,
/// while no test thread forks.
#[track_caller]
pub fn copy_file(from: &Path, to: &Path, mode: u32) {
    without_forks(|| {
        fs::copy(from, to)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
        fs::set_permissions(to, fs::Permissions::from_mode(mode)).expect("chmod");
    });
}

/// Creates `path` and its parents, then gives it `mode`.
#[track_caller]
pub fn mkdir(path: &Path, mode: u32) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
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

/// `n` bytes of every value, in a pattern that is not periodic at
/// pipe-buffer sizes (xorshift from `seed`).
pub fn payload(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}
