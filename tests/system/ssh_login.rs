//! A real login shell over OpenSSH: the built binary is a test user's login
//! shell, behind an sshd of the test's own on 127.0.0.1, and the real
//! clients (ssh, scp, sftp, rsync) talk to it. This is how safe-run is used
//! on a production box: sshd runs it as `-safe-run` for an interactive
//! login and as `safe-run -c LINE` for `ssh host LINE`, scp, rsync and the
//! sftp subsystem.
//!
//! Needs root (to create the user and run sshd) and the OpenSSH server and
//! clients and rsync (`.ci/run` installs them); without them the test
//! prints a `skipped:` line and passes, or under `CI=true` fails
//! (`common::tools`).
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
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, chown};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::{self, LocalFlags};
use nix::unistd::{Pid, User, geteuid};
use serde_json::Value;
use tempfile::TempDir;

use crate::common::bin::{cmd, run_within};
use crate::common::fixtures::{copy_file, mkdir, payload};
use crate::common::pty::TIMEOUT;
use crate::common::tools::{require_exe, require_tools};
use crate::common::{
    Pty, Run, bin, read_records, require, rules_of, short_host, spawn, toml_str, wait_for,
    write_file,
};

/// How long one client command (a transfer) may take before it is killed.
const COMMAND_LIMIT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Runs `cmd` with stdin from /dev/null and the output captured; kills it
/// and fails if it has not ended within `limit`.
#[track_caller]
fn run_bounded(cmd: Command, limit: Duration) -> Run {
    run_within(cmd, None, limit)
}

/// Runs a setup command that must succeed.
#[track_caller]
fn must(cmd: Command) -> Run {
    let what = format!("{cmd:?}");
    let out = run_bounded(cmd, COMMAND_LIMIT);
    assert_eq!(out.status, 0, "{what} failed: {out:?}");
    out
}

/// A file's bytes, failing with its name.
fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
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

/// The sshd to run, or `None` when the test cannot run here (after a
/// `skipped:` line; under `CI=true` the test fails instead).
fn prerequisites() -> Option<PathBuf> {
    if !require(
        geteuid().is_root(),
        "not root (needs to create a user and run sshd)",
    ) {
        return None;
    }
    let sshd = require_exe("sshd (openssh-server)", &["/usr/sbin/sshd"])?;
    require_tools(&[
        "ssh",
        "scp",
        "sftp",
        "ssh-keygen",
        "rsync",
        "useradd",
        "userdel",
        "usermod",
    ])?;
    Some(sshd)
}

/// Creates the user, its files, the config and the sshd, and waits until
/// sshd accepts connections.
fn setup(sshd: &Path) -> Fixture {
    let dir = tempfile::Builder::new()
        .prefix("safe-run-ssh-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
    let root = dir.path().to_path_buf();

    let shell = root.join("safe-run");
    copy_file(Path::new(bin()), &shell, 0o755);

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
        sftp_server: [
            "/usr/lib/openssh/sftp-server",
            "/usr/libexec/openssh/sftp-server",
            "/usr/lib/ssh/sftp-server",
            "/usr/libexec/sftp-server",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file()),
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
    must(cmd(sshd, &["-t", "-f", &sshd_config]));
    let log = fs::File::create(&fx.sshd_log).expect("sshd log");
    let mut daemon = cmd(sshd, &["-D", "-e", "-f", &sshd_config]);
    daemon
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log);
    let child = spawn(&mut daemon);
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
    let Some(sshd) = prerequisites() else {
        return;
    };
    let fx = setup(&sshd);
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
        let mut s = Pty::spawn(fx.ssh(&["-tt"], None));
        let banner = "every command line is checked against";
        s.expect(banner);
        s.expect(&format!("{}@", fx.user));
        fx.wait_remote_reading();
        let outcomes = fx
            .records()
            .iter()
            .filter(|r| r["kind"] == "outcome")
            .count();
        // Matched on text the typed line does not contain: the editor
        // echoes what is typed.
        s.send_line("echo x-$((6*7))");
        s.expect("x-42");
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
        s.send_line("exit");
        assert_eq!(s.exit_code(), 0);
    });

    steps.run(
        "7. ssh -t host 'reboot' asks on the remote terminal; a wrong answer aborts",
        || {
            let mut s = Pty::spawn(fx.ssh(&["-tt"], Some("reboot")));
            let before = s.expect("Type the host name");
            assert!(
                before.contains("power-reboot"),
                "the explanation names the rule: {before}"
            );
            fx.wait_remote_reading();
            s.send_line(&format!("{}-not", short_host()));
            s.expect("Nothing was run");
            assert_eq!(s.exit_code(), 1);
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
                bin(),
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
