//! A real login shell over OpenSSH: the built binary is a test user's login
//! shell, behind an sshd of the test's own on 127.0.0.1, and the real
//! clients (ssh, scp, sftp, rsync) talk to it. This is how safe-run is used
//! on a production box: sshd runs it as `-safe-run` for an interactive
//! login and as `safe-run -c LINE` for `ssh host LINE`, scp, rsync and the
//! sftp subsystem.
//!
//! Needs root (to create the user and run sshd) and the OpenSSH server and
//! clients and rsync (`.ci/run` installs them); without them the test
//! prints a `SKIP:` line and passes.
//!
//! The remote side's environment comes from sshd's `SetEnv`: PATH with a
//! fake `reboot` first (it prints FAKE-REBOOT and leaves a marker file;
//! nothing real is ever rebooted), `SAFE_RUN_CONFIG` naming a config whose
//! audit log is in the temp dir, and `SAFE_RUN_RULES_DIR` an empty
//! directory, so the machine's site rules play no part.
//!
//! Everything the test creates is removed by guards, also when a step
//! fails: sshd is stopped, the user's processes are ended by PID, the user
//! is deleted (`userdel -r`) and the temp dir removed.
//!
//! How the test waits, instead of sleeping: for the port to accept
//! connections, for text on the pty, and, before typing an answer, for the
//! *remote* terminal (the pty sshd gave the login shell) to leave canonical
//! mode — the confirmation prompt switches to it with TCSAFLUSH, which
//! drops whatever was typed before, and the local terminal says nothing
//! about the remote one since the ssh client keeps it raw throughout. Every
//! wait has a deadline; nothing asserts on wall-clock time.

use std::fs::{self, OpenOptions};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, chown};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use expectrl::process::unix::WaitStatus;
use expectrl::{Expect, Session};
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::{self, LocalFlags};
use nix::unistd::{Pid, User, geteuid};
use serde_json::Value;
use tempfile::TempDir;

/// How long a pty expectation or a poll may wait before the test fails.
const TIMEOUT: Duration = Duration::from_secs(15);
/// How long one client command (a transfer) may take before it is killed.
const COMMAND_LIMIT: Duration = Duration::from_secs(90);

type Pty = expectrl::session::OsSession;

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

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

/// The first of `candidates` that is an executable file.
fn find_exe(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// `name` on PATH (or in the usual system directories).
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain([
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The host's short name, as the confirmation prompt asks for it.
fn short_host() -> String {
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

/// A TOML basic string.
fn toml_str(path: &Path) -> String {
    let s = path.display().to_string();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn write_file(path: &Path, data: &[u8], mode: u32) {
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn mkdir(path: &Path, mode: u32) {
    fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// How a command run to its end went.
#[derive(Debug)]
struct Output {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with stdin from /dev/null and the output captured; kills it
/// and fails if it has not ended within `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    use std::os::unix::process::ExitStatusExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout pipe")));
    let err = drain(Box::new(child.stderr.take().expect("stderr pipe")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status: status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .expect("exit status"),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Runs a setup command that must succeed.
#[track_caller]
fn must(cmd: Command) -> Output {
    let what = format!("{cmd:?}");
    let out = run_bounded(cmd, COMMAND_LIMIT);
    assert_eq!(out.status, 0, "{what} failed: {out:?}");
    out
}

fn cmd(program: &str, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// A file's bytes, failing with its name.
fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `n` bytes of every value, in a pattern that is not periodic.
fn payload(n: usize, seed: u32) -> Vec<u8> {
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

/// Every entry under `root`, by relative path: file contents, link
/// targets, and directories.
fn tree(root: &Path) -> Vec<(PathBuf, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).expect("under root").to_path_buf();
            let meta = fs::symlink_metadata(&p).expect("lstat");
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&p).expect("readlink");
                out.push((rel, format!("link -> {}", target.display())));
            } else if meta.is_dir() {
                out.push((rel, "dir".into()));
                walk(root, &p, out);
            } else {
                let data = fs::read(&p).expect("read");
                out.push((
                    rel,
                    format!(
                        "file {:o} {} {:?}",
                        meta.permissions().mode() & 0o777,
                        data.len(),
                        data
                    ),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// Parses the JSON Lines audit log (empty when there is none yet).
fn read_records(path: &Path) -> Vec<Value> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

fn rules_of(decision: &Value) -> Vec<String> {
    decision["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["rule"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The PIDs of the processes whose real uid is `uid`.
fn pids_of_uid(uid: u32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|l| l.split_whitespace().next())
                    .and_then(|u| u.parse::<u32>().ok())
                    == Some(uid)
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The fixture: a user whose login shell is safe-run, and an sshd
// ---------------------------------------------------------------------------

/// Everything the test sets up; `Drop` takes it all down again, in order:
/// sshd, the user's processes, the user, then (as `dir` drops) the files.
struct Fixture {
    dir: TempDir,
    /// The copy of the binary that is the user's login shell.
    shell: PathBuf,
    user: String,
    uid: u32,
    /// Whether `useradd` succeeded (and so `userdel` is owed).
    user_created: bool,
    sshd: Option<Child>,
    port: u16,
    key: PathBuf,
    home: PathBuf,
    audit: PathBuf,
    marks: PathBuf,
    sshd_log: PathBuf,
    /// The sftp server run through the login shell; `None`: internal-sftp.
    sftp_server: Option<PathBuf>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mut sshd) = self.sshd.take() {
            let pid = Pid::from_raw(i32::try_from(sshd.id()).expect("pid"));
            let _ = kill(pid, Signal::SIGTERM);
            let ended = wait_for(TIMEOUT, || sshd.try_wait().ok().flatten());
            if ended.is_none() {
                let _ = sshd.kill();
                let _ = sshd.wait();
            }
        }
        if self.user_created {
            // Whatever the test user still runs was started by this test
            // (through sshd): end it by PID, so that userdel can go on.
            for _ in 0..3 {
                let pids = pids_of_uid(self.uid);
                if pids.is_empty() {
                    break;
                }
                for pid in pids {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
                let _ = wait_for(TIMEOUT, || pids_of_uid(self.uid).is_empty().then_some(()));
            }
            match run_bounded(cmd("userdel", &["-r", &self.user]), COMMAND_LIMIT) {
                out if out.status == 0 || out.status == 12 => {}
                out => eprintln!(
                    "WARNING: could not remove the test user {}: {out:?}",
                    self.user
                ),
            }
        }
    }
}

impl Fixture {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The common client options (`port_flag` is `-p` for ssh, `-P` for
    /// scp and sftp).
    fn client_opts(&self, port_flag: &str) -> Vec<String> {
        vec![
            "-F".into(),
            "/dev/null".into(),
            "-i".into(),
            self.key.display().to_string(),
            port_flag.into(),
            self.port.to_string(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
            "-o".into(),
            "ConnectTimeout=10".into(),
        ]
    }

    fn target(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    /// `ssh OPTS [extra…] user@127.0.0.1 [LINE]`.
    fn ssh(&self, extra: &[&str], line: Option<&str>) -> Command {
        let mut c = Command::new("ssh");
        c.args(self.client_opts("-p"))
            .args(extra)
            .arg(self.target());
        if let Some(line) = line {
            c.arg(line);
        }
        c
    }

    /// The `-e` command for rsync (no spaces in any of its words).
    fn rsync_rsh(&self) -> String {
        let mut words = vec!["ssh".to_string()];
        words.extend(self.client_opts("-p"));
        words.join(" ")
    }

    /// The audit log's records.
    fn records(&self) -> Vec<Value> {
        read_records(&self.audit)
    }

    fn decisions(&self) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["kind"] == "decision")
            .collect()
    }

    fn outcome_of(&self, decision: &Value) -> Option<Value> {
        let id = decision["id"].as_str().expect("decision id");
        self.records()
            .into_iter()
            .find(|r| r["kind"] == "outcome" && r["decision_id"] == id)
    }

    fn audit_text(&self) -> String {
        fs::read_to_string(&self.audit).unwrap_or_default()
    }

    fn sshd_log(&self) -> String {
        fs::read_to_string(&self.sshd_log).unwrap_or_default()
    }

    /// Whether the fake `reboot` ever ran.
    fn reboot_ran(&self) -> bool {
        self.marks.join("ran-reboot").exists()
    }

    /// Whether a login shell of the test user reads its terminal a key at
    /// a time (the line editor, or the confirmation prompt): the remote
    /// pty is found through /proc as the stdin of a process running the
    /// shell binary as the test user.
    fn remote_terminal_reading(&self) -> bool {
        for pid in pids_of_uid(self.uid) {
            let proc = PathBuf::from(format!("/proc/{pid}"));
            if fs::read_link(proc.join("exe")).ok().as_deref() != Some(self.shell.as_path()) {
                continue;
            }
            let Ok(tty) = fs::read_link(proc.join("fd/0")) else {
                continue;
            };
            if !tty.starts_with("/dev/pts/") {
                continue;
            }
            let Ok(file) = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(OFlag::O_NOCTTY.bits())
                .open(&tty)
            else {
                continue;
            };
            if let Ok(t) = termios::tcgetattr(&file)
                && !t.local_flags.contains(LocalFlags::ICANON)
            {
                return true;
            }
        }
        false
    }

    /// Waits until the remote terminal reads keys, so that what is typed
    /// next is not flushed away.
    #[track_caller]
    fn wait_remote_reading(&self) {
        assert!(
            wait_for(TIMEOUT, || self.remote_terminal_reading().then_some(())).is_some(),
            "the remote terminal never left canonical mode"
        );
    }

    /// Spawns a client command on a new 120×40 pty.
    fn spawn_pty(&self, mut cmd: Command) -> Pty {
        cmd.env("TERM", "xterm");
        let mut session = Session::spawn(cmd).expect("spawn on a pty");
        session.set_expect_timeout(Some(TIMEOUT));
        session
            .get_process_mut()
            .set_window_size(120, 40)
            .expect("window size");
        session
    }
}

/// Expects `text` on the pty; returns what came before it.
#[track_caller]
fn expect_text(session: &mut Pty, text: &str) -> String {
    match session.expect(text) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(e) => {
            // What did come, for the failure message.
            let seen = session
                .check(expectrl::Regex("(?s).+"))
                .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned())
                .unwrap_or_default();
            panic!("did not see {text:?}: {e}; the terminal showed (after the last match):\n{seen}")
        }
    }
}

/// Waits (bounded) for the program on the pty to end; returns its status.
fn exit_code(session: &Pty) -> i32 {
    let status = wait_for(TIMEOUT, || match session.get_process().status() {
        Ok(WaitStatus::StillAlive) => None,
        Ok(s) => Some(s),
        Err(e) => panic!("waitpid: {e}"),
    });
    match status {
        Some(WaitStatus::Exited(_, code)) => code,
        Some(other) => panic!("the client did not exit normally: {other:?}"),
        None => panic!("the client did not end within {TIMEOUT:?}"),
    }
}

/// A user name no earlier run can have left behind.
fn unique_user() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("srssh{}x{:05}", std::process::id(), nanos % 100_000)
}

/// A port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Why the test cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if !geteuid().is_root() {
        return Some("not root (needs to create a user and run sshd)".into());
    }
    if find_exe(&["/usr/sbin/sshd"]).is_none() {
        return Some("/usr/sbin/sshd is not installed (openssh-server)".into());
    }
    for tool in [
        "ssh",
        "scp",
        "sftp",
        "ssh-keygen",
        "rsync",
        "useradd",
        "userdel",
        "usermod",
    ] {
        if on_path(tool).is_none() {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    None
}

/// Creates the user, its files, the config and the sshd, and waits until
/// sshd accepts connections.
fn setup() -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("safe-run-ssh-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
    let root = dir.path().to_path_buf();

    let shell = root.join("safe-run");
    fs::copy(env!("CARGO_BIN_EXE_safe-run"), &shell).expect("copy the binary");
    fs::set_permissions(&shell, fs::Permissions::from_mode(0o755)).expect("chmod binary");

    let user = unique_user();
    let mut fx = Fixture {
        shell,
        user: user.clone(),
        uid: u32::MAX,
        user_created: false,
        sshd: None,
        port: 0,
        key: root.join("client_key"),
        home: root.join("home"),
        audit: root.join("log/audit.jsonl"),
        marks: root.join("marks"),
        sshd_log: root.join("sshd.log"),
        sftp_server: find_exe(&[
            "/usr/lib/openssh/sftp-server",
            "/usr/libexec/openssh/sftp-server",
            "/usr/lib/ssh/sftp-server",
            "/usr/libexec/sftp-server",
        ]),
        dir,
    };

    // The user, with the binary as its login shell. useradd leaves the
    // password locked (`!`), and sshd without PAM refuses a locked account
    // even for a key: `*` means "no password", not "locked".
    let home = fx.home.display().to_string();
    let shell = fx.shell.display().to_string();
    let out = run_bounded(
        cmd("useradd", &["-m", "-d", &home, "-s", &shell, &user]),
        COMMAND_LIMIT,
    );
    assert_eq!(out.status, 0, "useradd failed: {out:?}");
    fx.user_created = true;
    must(cmd("usermod", &["-p", "*", &user]));
    let account = User::from_name(&user)
        .expect("getpwnam")
        .expect("the new user exists");
    fx.uid = account.uid.as_raw();
    let (uid, gid) = (Some(account.uid.as_raw()), Some(account.gid.as_raw()));

    // The client key, in the user's authorized_keys.
    let key = fx.key.display().to_string();
    must(cmd(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "safe-run-test",
            "-f",
            &key,
        ],
    ));
    let ssh_dir = fx.home.join(".ssh");
    mkdir(&ssh_dir, 0o700);
    let authorized = ssh_dir.join("authorized_keys");
    write_file(&authorized, &read(&root.join("client_key.pub")), 0o600);
    for p in [&ssh_dir, &authorized] {
        chown(p, uid, gid).expect("chown .ssh");
    }

    // The fake risky program, the user-writable log and marker
    // directories, an empty site rules directory, and the config.
    let bin = root.join("bin");
    mkdir(&bin, 0o755);
    let marker = fx.marks.join("ran-reboot");
    write_file(
        &bin.join("reboot"),
        format!(
            "#!/bin/sh\necho ran >> '{}'\necho FAKE-REBOOT\n",
            marker.display()
        )
        .as_bytes(),
        0o755,
    );
    for d in [root.join("log"), fx.marks.clone()] {
        mkdir(&d, 0o755);
        chown(&d, uid, gid).expect("chown");
    }
    let rules_dir = root.join("rules.d");
    mkdir(&rules_dir, 0o755);
    let config = root.join("config.toml");
    write_file(
        &config,
        format!(
            "color = \"never\"\n\n[audit]\npath = {}\n",
            toml_str(&fx.audit)
        )
        .as_bytes(),
        0o644,
    );

    // sshd: its own host key, port, pid file and environment for sessions.
    let hostkey = root.join("hostkey");
    must(cmd(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            &hostkey.display().to_string(),
        ],
    ));
    if !Path::new("/run/sshd").is_dir() {
        // sshd's privilege separation directory.
        mkdir(Path::new("/run/sshd"), 0o755);
    }
    fx.port = free_port();
    let subsystem = fx
        .sftp_server
        .as_ref()
        .map_or_else(|| "internal-sftp".to_string(), |p| p.display().to_string());
    let sshd_config = root.join("sshd_config");
    write_file(
        &sshd_config,
        format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {hostkey}\n\
             PidFile {pidfile}\n\
             UsePAM no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             AuthorizedKeysFile .ssh/authorized_keys\n\
             AllowUsers {user}\n\
             PermitRootLogin no\n\
             StrictModes yes\n\
             UseDNS no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             X11Forwarding no\n\
             LogLevel VERBOSE\n\
             Subsystem sftp {subsystem}\n\
             SetEnv PATH={bin}:/usr/local/bin:/usr/bin:/bin SAFE_RUN_CONFIG={config} SAFE_RUN_RULES_DIR={rules}\n",
            port = fx.port,
            hostkey = hostkey.display(),
            pidfile = root.join("sshd.pid").display(),
            bin = bin.display(),
            config = config.display(),
            rules = rules_dir.display(),
        )
        .as_bytes(),
        0o600,
    );
    let sshd_config = sshd_config.display().to_string();
    must(cmd("/usr/sbin/sshd", &["-t", "-f", &sshd_config]));
    let log = fs::File::create(&fx.sshd_log).expect("sshd log");
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f", &sshd_config])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log)
        .spawn()
        .expect("start sshd");
    fx.sshd = Some(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], fx.port));
    let up = wait_for(TIMEOUT, || {
        if let Some(Ok(Some(status))) = fx.sshd.as_mut().map(Child::try_wait) {
            panic!("sshd ended ({status}):\n{}", fx.sshd_log());
        }
        TcpStream::connect_timeout(&addr, Duration::from_secs(1))
            .ok()
            .map(|_| ())
    });
    assert!(
        up.is_some(),
        "sshd never accepted connections on {addr}:\n{}",
        fx.sshd_log()
    );
    fx
}

/// Runs named steps, going on after a failure, and fails at the end
/// naming every step that failed (each one's panic message is printed as
/// it happens).
#[derive(Default)]
struct Steps {
    failed: Vec<&'static str>,
}

impl Steps {
    fn run(&mut self, name: &'static str, f: impl FnOnce()) {
        println!("--- step: {name}");
        if panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
            println!("--- FAILED: {name}");
            self.failed.push(name);
        } else {
            println!("--- ok: {name}");
        }
    }
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[test]
fn a_real_login_shell_over_openssh() {
    if let Some(why) = missing_prerequisite() {
        println!("SKIP: a_real_login_shell_over_openssh: {why}");
        return;
    }
    let fx = setup();
    let client = fx.path().join("client");
    mkdir(&client, 0o700);
    // Before anything risky is sent: the remote side must find the fake
    // `reboot` first on PATH, or a product bug could run the real one.
    let out = run_bounded(fx.ssh(&[], Some("command -v reboot")), COMMAND_LIMIT);
    let fake = fx.path().join("bin/reboot").display().to_string();
    assert_eq!(
        (out.status, out.stdout.trim()),
        (0, fake.as_str()),
        "the remote PATH does not start with the fakes: {out:?}\nsshd log:\n{}",
        fx.sshd_log()
    );
    let mut steps = Steps::default();

    steps.run("1. ssh host 'echo ok' runs through safe-run -c", || {
        let out = run_bounded(fx.ssh(&[], Some("echo ok")), COMMAND_LIMIT);
        assert_eq!(
            (out.status, out.stdout.as_str()),
            (0, "ok\n"),
            "{out:?}\nsshd log:\n{}",
            fx.sshd_log()
        );
        let d = fx
            .decisions()
            .into_iter()
            .find(|d| d["line"] == "echo ok")
            .unwrap_or_else(|| panic!("`echo ok` is not in the log:\n{}", fx.audit_text()));
        assert_eq!(d["mode"], "-c", "{d}");
        assert_eq!(d["decision"], "allowed", "{d}");
        assert_eq!(d["user"], fx.user.as_str(), "{d}");
        assert!(
            d["ssh"]
                .as_str()
                .is_some_and(|s| s.starts_with("127.0.0.1 ")),
            "the ssh client is recorded: {d}"
        );
        let o = fx.outcome_of(&d).expect("an outcome for `echo ok`");
        assert_eq!(o["exit"], 0, "{o}");
    });

    let data = payload(300_000, 0x5eed_1234);
    let up = client.join("payload.bin");
    write_file(&up, &data, 0o644);
    let scp = |legacy: bool, from: &str, to: &str| {
        let mut c = Command::new("scp");
        if legacy {
            c.arg("-O");
        }
        c.args(fx.client_opts("-P")).arg("-q").arg(from).arg(to);
        let out = run_bounded(c, COMMAND_LIMIT);
        assert_eq!(
            out.status,
            0,
            "scp {from} {to} (legacy: {legacy}): {out:?}\nsshd log:\n{}",
            fx.sshd_log()
        );
    };
    for (legacy, name) in [(true, "scp-legacy"), (false, "scp-sftp")] {
        let step = if legacy {
            "2a. scp -O (legacy protocol) up and down"
        } else {
            "2b. scp (sftp protocol) up and down"
        };
        steps.run(step, || {
            let remote_name = format!("{name}.bin");
            let back = client.join(format!("{name}-back.bin"));
            scp(
                legacy,
                &up.display().to_string(),
                &format!("{}:{remote_name}", fx.target()),
            );
            assert!(
                read(&fx.home.join(&remote_name)) == data,
                "the uploaded file differs"
            );
            scp(
                legacy,
                &format!("{}:{remote_name}", fx.target()),
                &back.display().to_string(),
            );
            assert!(read(&back) == data, "the downloaded file differs");
        });
    }

    steps.run("3. rsync -a of a directory, there and back", || {
        let src = client.join("tree");
        mkdir(&src.join("sub/deeper"), 0o755);
        write_file(&src.join("a.txt"), b"alpha\n", 0o644);
        write_file(&src.join("sub/b.bin"), &payload(70_000, 7), 0o600);
        write_file(&src.join("sub/deeper/run.sh"), b"#!/bin/sh\n", 0o755);
        write_file(&src.join("empty"), b"", 0o644);
        std::os::unix::fs::symlink("sub/b.bin", src.join("link")).expect("symlink");
        let rsh = fx.rsync_rsh();
        let out = run_bounded(
            cmd(
                "rsync",
                &[
                    "-a",
                    "-e",
                    &rsh,
                    &format!("{}/", src.display()),
                    &format!("{}:dest/", fx.target()),
                ],
            ),
            COMMAND_LIMIT,
        );
        assert_eq!(
            out.status,
            0,
            "rsync up: {out:?}\nsshd log:\n{}",
            fx.sshd_log()
        );
        assert_eq!(tree(&fx.home.join("dest")), tree(&src), "the tree sent");
        let back = client.join("tree-back");
        let out = run_bounded(
            cmd(
                "rsync",
                &[
                    "-a",
                    "-e",
                    &rsh,
                    &format!("{}:dest/", fx.target()),
                    &format!("{}/", back.display()),
                ],
            ),
            COMMAND_LIMIT,
        );
        assert_eq!(out.status, 0, "rsync down: {out:?}");
        assert_eq!(tree(&back), tree(&src), "the tree fetched back");
    });

    steps.run("4. sftp -b with put and get", || {
        let back = client.join("sftp-back.bin");
        let batch = client.join("batch");
        write_file(
            &batch,
            format!(
                "put {} sftp-up.bin\nget sftp-up.bin {}\n",
                up.display(),
                back.display()
            )
            .as_bytes(),
            0o644,
        );
        let mut c = Command::new("sftp");
        c.args(fx.client_opts("-P"))
            .arg("-b")
            .arg(&batch)
            .arg(fx.target());
        let out = run_bounded(c, COMMAND_LIMIT);
        assert_eq!(out.status, 0, "sftp: {out:?}\nsshd log:\n{}", fx.sshd_log());
        assert!(
            read(&fx.home.join("sftp-up.bin")) == data,
            "the file put differs"
        );
        assert!(read(&back) == data, "the file got differs");
    });

    steps.run(
        "5. ssh host 'reboot' with no terminal is refused (77)",
        || {
            let out = run_bounded(fx.ssh(&[], Some("reboot")), COMMAND_LIMIT);
            assert_eq!(out.status, 77, "{out:?}");
            assert!(!out.stdout.contains("FAKE-REBOOT"), "{out:?}");
            assert!(!out.stderr.contains("FAKE-REBOOT"), "{out:?}");
            assert!(
                out.stderr.contains("refused") && out.stderr.contains("Nothing was run"),
                "the refusal is explained: {out:?}"
            );
            assert!(!fx.reboot_ran(), "the fake reboot ran");
        },
    );

    steps.run("6. an interactive login shows the banner", || {
        let mut s = fx.spawn_pty(fx.ssh(&["-tt"], None));
        let banner = "every command line is checked against";
        expect_text(&mut s, banner);
        expect_text(&mut s, &format!("{}@", fx.user));
        fx.wait_remote_reading();
        let outcomes = fx
            .records()
            .iter()
            .filter(|r| r["kind"] == "outcome")
            .count();
        // Matched on text the typed line does not contain: the editor
        // echoes what is typed.
        s.send("echo x-$((6*7))\r").expect("type a line");
        expect_text(&mut s, "x-42");
        let ran = wait_for(TIMEOUT, || {
            (fx.records()
                .iter()
                .filter(|r| r["kind"] == "outcome")
                .count()
                > outcomes)
                .then_some(())
        });
        assert!(
            ran.is_some(),
            "the line did not finish: {}",
            fx.audit_text()
        );
        fx.wait_remote_reading();
        s.send("exit\r").expect("type exit");
        assert_eq!(exit_code(&s), 0);
    });

    steps.run(
        "7. ssh -t host 'reboot' asks on the remote terminal; a wrong answer aborts",
        || {
            let mut s = fx.spawn_pty(fx.ssh(&["-tt"], Some("reboot")));
            let before = expect_text(&mut s, "Type the host name");
            assert!(
                before.contains("power-reboot"),
                "the explanation names the rule: {before}"
            );
            fx.wait_remote_reading();
            s.send(format!("{}-not\r", short_host()))
                .expect("type a wrong host name");
            expect_text(&mut s, "Nothing was run");
            assert_eq!(exit_code(&s), 1);
            assert!(!fx.reboot_ran(), "the fake reboot ran");
        },
    );

    steps.run("8. all of it is in the audit log", || {
        let decisions = fx.decisions();
        let text = fx.audit_text();
        let find = |what: &str, pred: &dyn Fn(&Value) -> bool| -> Vec<Value> {
            let found: Vec<Value> = decisions.iter().filter(|d| pred(d)).cloned().collect();
            assert!(!found.is_empty(), "no decision for {what} in:\n{text}");
            found
        };
        let line = |d: &Value| d["line"].as_str().unwrap_or("").to_string();
        let ran_ok = |what: &str, ds: &[Value]| {
            for d in ds {
                assert_eq!(d["mode"], "-c", "{what}: {d}");
                assert_eq!(d["decision"], "allowed", "{what}: {d}");
                assert_eq!(d["user"], fx.user.as_str(), "{what}: {d}");
                let o = fx
                    .outcome_of(d)
                    .unwrap_or_else(|| panic!("{what}: no outcome for {d}"));
                assert_eq!(o["exit"], 0, "{what}: {o}");
            }
        };
        let legacy_up = find("scp -t", &|d| {
            line(d).starts_with("scp ") && line(d).contains(" -t ")
        });
        ran_ok("scp -t", &legacy_up);
        let legacy_down = find("scp -f", &|d| {
            line(d).starts_with("scp ") && line(d).contains(" -f ")
        });
        ran_ok("scp -f", &legacy_down);
        let rsyncs = find("rsync --server", &|d| line(d).starts_with("rsync --server"));
        assert!(rsyncs.len() >= 2, "rsync up and down: {rsyncs:?}");
        ran_ok("rsync", &rsyncs);
        if let Some(server) = &fx.sftp_server {
            let server = server.display().to_string();
            let sftp = find("the sftp server", &|d| line(d) == server);
            // scp up, scp down, sftp.
            assert!(sftp.len() >= 3, "three sftp sessions: {sftp:?}");
            ran_ok("sftp-server", &sftp);
        } else {
            println!("note: no sftp-server binary; internal-sftp does not go through the shell");
        }

        let reboots = find("reboot", &|d| d["line"] == "reboot");
        for d in &reboots {
            assert_eq!(d["mode"], "-c", "{d}");
            assert!(rules_of(d).contains(&"power-reboot".to_string()), "{d}");
            assert!(fx.outcome_of(d).is_none(), "reboot has an outcome: {d}");
        }
        let decided: Vec<&str> = reboots
            .iter()
            .map(|d| d["decision"].as_str().unwrap_or(""))
            .collect();
        assert!(decided.contains(&"refused"), "{decided:?}");
        assert!(decided.contains(&"aborted"), "{decided:?}");

        let typed = find("the interactive line", &|d| d["line"] == "echo x-$((6*7))");
        for d in &typed {
            assert_eq!(d["mode"], "shell", "{d}");
            assert_eq!(d["decision"], "allowed", "{d}");
            assert!(
                d["tty"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("/dev/pts/")),
                "the terminal is recorded: {d}"
            );
            let o = fx.outcome_of(d).expect("an outcome for the typed line");
            assert_eq!(o["exit"], 0, "{o}");
        }

        // Many sessions wrote the one log; its chain is intact.
        let out = run_bounded(
            cmd(
                env!("CARGO_BIN_EXE_safe-run"),
                &[
                    "--config",
                    "/dev/null",
                    "audit",
                    "verify",
                    &fx.audit.display().to_string(),
                ],
            ),
            COMMAND_LIMIT,
        );
        assert_eq!(out.status, 0, "audit verify: {out:?}");
    });

    println!(
        "audit log ({} records):\n{}",
        fx.records().len(),
        fx.audit_text()
    );
    assert!(
        steps.failed.is_empty(),
        "failed steps: {:#?}\nsshd log:\n{}",
        steps.failed,
        fx.sshd_log()
    );
}
