//! What the audit fault tests (faults.rs, fuse.rs) share: a
//! temp directory with a config, fake programs first on PATH, and runs of
//! the binary with no terminal, timed. Kept apart from tests/common so
//! that these tests stand alone; what is the same
//! everywhere (waiting, the host name, TOML strings) is `common`'s.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_safe-run")
}

/// Held for writing while a fake program is written, for reading while a
/// process is spawned (a fork while an executable is open for writing
/// makes its exec fail with ETXTBSY).
static SPAWN_LOCK: RwLock<()> = RwLock::new(());

/// A temp dir with `bin/` (fakes, first on PATH) and `config.toml`.
pub struct Sandbox {
    pub dir: TempDir,
    pub bin: PathBuf,
    pub config: PathBuf,
    pub audit: PathBuf,
}

impl Sandbox {
    /// `[audit] path = audit`, plus `extra` TOML (more `[audit]` keys
    /// first, then other tables).
    pub fn new(audit: &Path, audit_extra: &str, extra: &str) -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).expect("mkdir bin");
        let config = dir.path().join("config.toml");
        fs::write(
            &config,
            format!(
                "color = \"never\"\n{extra}\n[audit]\npath = {}\n{audit_extra}\n",
                toml_str(audit)
            ),
        )
        .expect("write config");
        Sandbox {
            dir,
            bin,
            config,
            audit: audit.to_path_buf(),
        }
    }

    /// A fake `name` that records each run in `ran-NAME` and prints.
    pub fn fake_marked(&self, name: &str) {
        let marker = self.dir.path().join(format!("ran-{name}"));
        let path = self.bin.join(name);
        let _guard = SPAWN_LOCK.write().unwrap_or_else(|e| e.into_inner());
        fs::write(
            &path,
            format!(
                "#!/bin/sh\necho ran >> '{}'\necho \"FAKE-{name} $*\"\n",
                marker.display()
            ),
        )
        .expect("write fake");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// Whether a `fake_marked` program ran.
    pub fn ran(&self, name: &str) -> bool {
        self.dir.path().join(format!("ran-{name}")).exists()
    }

    /// `setsid -w safe-run --config C --no-site-rules ARGS…`: no terminal,
    /// stdin from /dev/null, fakes first on PATH, in the temp dir.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut path = self.bin.clone().into_os_string();
        path.push(":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
        let mut c = Command::new("setsid");
        c.arg("-w")
            .arg(bin())
            .arg("--config")
            .arg(&self.config)
            .arg("--no-site-rules")
            .args(args)
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for v in [
            "SAFE_RUN_REASON",
            "SAFE_RUN_CONFIRM",
            "SAFE_RUN_CONFIG",
            "SAFE_RUN_RULES_DIR",
        ] {
            c.env_remove(v);
        }
        c
    }

    /// Runs the binary and times it.
    pub fn run(&self, args: &[&str]) -> Run {
        run_timed(self.command(args))
    }
}

/// How a run ended, what it printed, and how long it took.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// Runs `cmd` to its end (spawned under the spawn lock), timed.
pub fn run_timed(mut cmd: Command) -> Run {
    use std::os::unix::process::ExitStatusExt;
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let child = {
        let _guard = SPAWN_LOCK.read().unwrap_or_else(|e| e.into_inner());
        cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"))
    };
    let out = child.wait_with_output().expect("wait");
    let took = started.elapsed();
    Run {
        status: out
            .status
            .code()
            .or_else(|| out.status.signal().map(|s| 128 + s))
            .unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    }
}

impl Run {
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

/// `safe-run audit verify FILES…`.
pub fn verify(files: &[&Path]) -> Run {
    let mut c = Command::new(bin());
    c.args(["audit", "verify"]).args(files);
    run_timed(c)
}

/// The records of a log (sealed and queued lines), parsed.
pub fn records(path: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(&l[l.find("{\"v\":")?..]).ok())
        .collect()
}

/// Shared with the other groups.
pub use crate::common::{short_host, toml_str};

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The group's one wait with a deadline.
pub use crate::common::wait_for;

/// Whether this run is CI's (`CI=true`): a test whose mechanism should be
/// there fails instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
