//! Running the built binary, and any other program, from a test: a clean
//! environment, stdin closed or fed from a buffer, the output captured and
//! every run bounded by a deadline. Also the spawn lock, which every fork
//! of a test binary goes through.

use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_safe-run")
}

/// How long one run of a program may take before it is killed and the
/// test fails. Only bounds a hang; nothing asserts on wall-clock time.
pub const RUN_LIMIT: Duration = Duration::from_secs(90);

/// PATH for a child when the test process has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The test process's PATH (or the usual system directories).
pub fn system_path() -> std::ffi::OsString {
    std::env::var_os("PATH")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.into())
}

/// Empties the environment of `cmd` and sets what every run of the binary
/// gets: PATH (`path`), HOME (`home`), no colour and UTC. Nothing of the
/// developer's shell (SAFE_RUN_* variables, COLUMNS, XDG_STATE_HOME, TZ,
/// SUDO_USER, SSH_CONNECTION…) reaches the binary, and it never writes
/// into the real home directory.
pub fn clean_env(cmd: &mut Command, path: &OsStr, home: &Path) {
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("TZ", "UTC");
}

// ---------------------------------------------------------------------------
// The spawn lock
// ---------------------------------------------------------------------------

/// Every fork of a test binary holds this for reading; whatever must not
/// be inherited by a forked child holds it for writing:
///
/// - writing an executable (a fake program, a copy of the binary): a child
///   forked meanwhile by another test thread holds the file open for
///   writing until it execs, and an exec of the file then fails with
///   ETXTBSY;
/// - spawning on a pty: the pty crate opens the pty master and an error
///   pipe without close-on-exec, so a child forked meanwhile would keep
///   them, and the pty spawn would wait for that child to end.
///
/// Since tests of one binary run in parallel threads, one lock per binary
/// (this static) covers every test of every module in it.
static SPAWN_LOCK: RwLock<()> = RwLock::new(());

/// Spawns `cmd` so that nothing that must not be inherited is open.
#[track_caller]
pub fn spawn(cmd: &mut Command) -> Child {
    with_spawn_lock(|| {
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"))
    })
}

/// Runs `f`, which forks, while nothing that must not be inherited is open.
pub fn with_spawn_lock<T>(f: impl FnOnce() -> T) -> T {
    let _guard = SPAWN_LOCK.read().unwrap_or_else(|e| e.into_inner());
    f()
}

/// Runs `f` while no other thread forks (see `SPAWN_LOCK`).
pub fn without_forks<T>(f: impl FnOnce() -> T) -> T {
    let _guard = SPAWN_LOCK.write().unwrap_or_else(|e| e.into_inner());
    f()
}

// ---------------------------------------------------------------------------
// Runs and their results
// ---------------------------------------------------------------------------

/// How a run ended, and what it printed.
pub struct Run {
    /// The exit status, or 128+N when killed by signal N.
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "status {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// The exit status as a shell shows it: the code, or 128+N for signal N.
pub fn status_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .expect("an exit status or a signal")
}

impl Run {
    fn new(status: ExitStatus, stdout: Vec<u8>, stderr: Vec<u8>) -> Run {
        Run {
            status: status_code(status),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            stdout_bytes: stdout,
        }
    }

    /// Asserts the exit status, showing the output when it differs.
    #[track_caller]
    pub fn expect_status(&self, want: i32) -> &Run {
        assert_eq!(self.status, want, "exit status of {self:?}");
        self
    }

    /// Each line of stdout parsed as JSON (JSON Lines).
    #[track_caller]
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }
}

/// Runs `cmd` (its environment is the caller's) with stdin from /dev/null,
/// or from `input` on a pipe, and the output captured; kills it and fails
/// if it has not ended within `limit`.
#[track_caller]
pub fn run_within(mut cmd: Command, input: Option<&[u8]>, limit: Duration) -> Run {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let what = format!("{cmd:?}");
    let mut child = spawn(&mut cmd);
    let writer = input.map(|data| {
        let mut stdin = child.stdin.take().expect("stdin pipe");
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The child may exit without reading everything.
            let _ = stdin.write_all(&data);
        })
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout pipe")));
    let err = drain(Box::new(child.stderr.take().expect("stderr pipe")));
    let status = wait_child(&mut child, limit)
        .unwrap_or_else(|| panic!("{what} did not end within {limit:?}"));
    if let Some(w) = writer {
        w.join().expect("stdin writer");
    }
    Run::new(
        status,
        out.join().expect("stdout reader"),
        err.join().expect("stderr reader"),
    )
}

/// `run_within` with stdin from /dev/null and the usual limit.
#[track_caller]
pub fn run(cmd: Command) -> Run {
    run_within(cmd, None, RUN_LIMIT)
}

/// Waits for `child` to end, at most `limit`; kills and reaps it (and
/// returns `None`) if it has not.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("wait for a child") {
            return Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A program and its arguments, before it runs.
pub fn cmd<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

// ---------------------------------------------------------------------------
// The built binary, outside a fixture
// ---------------------------------------------------------------------------

/// `safe-run --no-site-rules ARGS…` with a clean environment (see
/// `clean_env`) whose HOME is a fresh temp dir, no configuration file
/// (`SAFE_RUN_CONFIG=/dev/null`, so the machine's /etc/safe-run is never
/// read; `--config` or another `SAFE_RUN_CONFIG` overrides it), stdin
/// closed unless `input` is given, and every run bounded.
pub struct SafeRun {
    cmd: Command,
    home: TempDir,
    input: Option<Vec<u8>>,
}

impl SafeRun {
    pub fn new<S: AsRef<OsStr>>(args: &[S]) -> SafeRun {
        let home = tempfile::tempdir().expect("temp HOME");
        let mut cmd = Command::new(bin());
        clean_env(&mut cmd, &system_path(), home.path());
        cmd.env("SAFE_RUN_CONFIG", "/dev/null")
            .current_dir(home.path())
            .arg("--no-site-rules")
            .args(args);
        SafeRun {
            cmd,
            home,
            input: None,
        }
    }

    /// The temp HOME (also the working directory unless changed).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> SafeRun {
        self.cmd.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> SafeRun {
        self.cmd.current_dir(dir);
        self
    }

    /// Feeds `data` on a stdin pipe.
    pub fn input(mut self, data: impl Into<Vec<u8>>) -> SafeRun {
        self.input = Some(data.into());
        self
    }

    /// Runs to the end (bounded) and returns what happened.
    #[track_caller]
    pub fn run(self) -> Run {
        run_within(self.cmd, self.input.as_deref(), RUN_LIMIT)
    }

    /// Starts it with stdout and stderr piped, for a test that reads them
    /// as they come; killed when the `Running` is dropped.
    #[track_caller]
    pub fn start(mut self) -> Running {
        assert!(self.input.is_none(), "start() takes no input");
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = spawn(&mut self.cmd);
        Running {
            child,
            _home: self.home,
        }
    }
}

/// A started `SafeRun`: killed and reaped when dropped, passed or not.
pub struct Running {
    pub child: Child,
    _home: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `safe-run check --json LINE` with the shipped rules only: the exit
/// status and the one JSON object printed.
#[track_caller]
pub fn check_json(line: &str) -> (i32, Value) {
    let run = SafeRun::new(&["check", "--json", line]).run();
    let mut lines = run.json_lines();
    assert_eq!(lines.len(), 1, "one JSON object for {line:?}: {run:?}");
    (run.status, lines.remove(0))
}

/// The path of a test binary's own test, for re-running the binary on just
/// that test (`--exact`): `module_path!()` without the crate's name, then
/// `name`.
pub fn own_test(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_, module)) => format!("{module}::{name}"),
        None => name.to_string(),
    }
}

/// The test binary itself, to re-run on one of its tests.
pub fn current_test_exe() -> PathBuf {
    std::env::current_exe().expect("the test binary")
}
