//! The audit trail under faults and misuse, through the binary, on real
//! mechanisms: a real tmpfs filled to its last bytes, a real second user
//! holding `flock` on the log, real rsyslogd daemons listening on a
//! datagram socket (imuxsock) and on a stream socket (imptcp `path=`), a
//! real local log that cannot be written.
//!
//! Risky commands are fakes first on PATH. What needs root (mounting,
//! adding a user) or a package (rsyslogd, flock, runuser) says why it
//! skips; under `CI=true`, where `.ci/run` has installed them and runs as
//! root, a missing piece is a failure.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{Sandbox, in_ci, is_root, records, short_host, toml_str, verify, wait_for};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use tempfile::TempDir;

const REASON: &str = "CHG-1234 kernel patch rollout";
const TIMEOUT: Duration = Duration::from_secs(10);

/// Skips (returns `None`) with a reason, or fails under CI.
fn skip<T>(why: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "{why}: CI (root, .ci/run's packages) must run this"
    );
    eprintln!("SKIP: {why}");
    None
}

// ---------------------------------------------------------------- disk full

/// A small tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn new(size: &str) -> Option<Tmpfs> {
        if !is_root() {
            eprintln!("SKIP: not root: mounting a small tmpfs needs CAP_SYS_ADMIN");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let point = dir.path().join("mnt");
        fs::create_dir(&point).expect("mkdir mnt");
        let options = format!("size={size},mode=0755");
        if let Err(e) = mount(
            Some("tmpfs"),
            &point,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(options.as_str()),
        ) {
            return skip(&format!("mounting a tmpfs failed: {e}"));
        }
        Some(Tmpfs { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("mnt").join(name)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = umount2(&self.dir.path().join("mnt"), MntFlags::MNT_DETACH);
    }
}

/// Fills the filesystem of `path` to its last byte with that file.
fn fill(path: &Path) {
    let mut filler = File::create(path).expect("create filler");
    for chunk in [4096usize, 1] {
        let block = vec![b'x'; chunk];
        while filler.write_all(&block).is_ok() {}
    }
}

#[test]
fn a_full_disk_leaves_no_torn_record_and_refuses_risky_lines() {
    let Some(tmpfs) = Tmpfs::new("64k") else {
        return;
    };
    let audit = tmpfs.path("audit.jsonl");
    let env = Sandbox::new(&audit, "", "");
    env.fake_marked("reboot");
    env.run(&["--", "true"]).expect_status(0);
    fill(&tmpfs.path("filler"));

    // Records go on filling the log's last page until one does not fit:
    // its first part is written, the rest is refused (ENOSPC), and the
    // part is cut off again.
    let mut failed = None;
    for _ in 0..20 {
        let before = fs::metadata(&audit).unwrap().len();
        let run = env.run(&["--", "true"]);
        run.expect_status(0);
        if run.stderr.contains("No space left on device") {
            failed = Some((before, run));
            break;
        }
    }
    let (before, run) = failed.expect("the disk never filled up");
    assert!(
        !before.is_multiple_of(4096),
        "the log ended on a page boundary: no partial write was tried"
    );
    assert!(
        run.stderr.contains("running without an audit record"),
        "{}",
        run.stderr
    );
    let text = fs::read(&audit).unwrap();
    assert_eq!(
        text.len() as u64,
        before,
        "the partial record was not cut off"
    );
    assert_eq!(text.last(), Some(&b'\n'));

    // A risky line is refused while its record cannot be written.
    let host = short_host();
    let run = env.run(&["--reason", REASON, "--confirm", &host, "--", "reboot"]);
    run.expect_status(77);
    assert!(!env.ran("reboot"));

    let checked = verify(&[&audit]);
    checked.expect_status(0);
    assert!(!checked.stdout.contains("note"), "{}", checked.stdout);

    // Space again: the chain goes on.
    fs::remove_file(tmpfs.path("filler")).unwrap();
    env.run(&["--", "true"]).expect_status(0);
    let checked = verify(&[&audit]);
    checked.expect_status(0);
    assert!(!checked.stdout.contains("note"), "{}", checked.stdout);
}

#[test]
fn a_torn_last_line_is_reported_as_such_and_the_log_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let env = Sandbox::new(&audit, "", "");
    env.run(&["--", "true"]).expect_status(0);
    // What a writer that died mid-write leaves: the start of a record.
    let mut file = fs::OpenOptions::new().append(true).open(&audit).unwrap();
    file.write_all(br#"{"v":1,"id":"019a-torn","kind":"decision","ts":"2026-"#)
        .unwrap();
    drop(file);

    let checked = verify(&[&audit]);
    checked.expect_status(0);
    assert!(
        checked
            .stdout
            .contains("line 3: the last record is incomplete: a writer died or the disk filled"),
        "{}",
        checked.stdout
    );

    // The next writer ends the torn line and chains from the last whole
    // record: the log verifies, the torn line noted where it is.
    env.run(&["--", "true"]).expect_status(0);
    let checked = verify(&[&audit]);
    checked.expect_status(0);
    assert!(
        checked.stdout.contains("ok: 4 records"),
        "{}",
        checked.stdout
    );
    assert!(
        checked
            .stdout
            .contains("line 3: record is incomplete: a writer died or the disk filled (the chain goes on around it)"),
        "{}",
        checked.stdout
    );
}

// ---------------------------------------------------------------- misuse

const LOCK_USER: &str = "safe-run-lockt";

/// Another process (another user, as root) holding `flock` on `log`.
struct Holder {
    child: Child,
    created_user: bool,
}

impl Holder {
    fn start(log: &Path) -> Option<Holder> {
        let have = |tool: &str| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !have("flock") {
            return skip("flock(1) is not installed (util-linux)");
        }
        let mut created_user = false;
        let mut cmd = if is_root() && have("useradd") && have("runuser") {
            let exists = Command::new("id")
                .arg(LOCK_USER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !exists {
                let made = Command::new("useradd")
                    .args(["-M", "-s", "/bin/sh", LOCK_USER])
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(made, "useradd {LOCK_USER} failed");
                created_user = true;
            }
            let mut c = Command::new("runuser");
            c.args(["-u", LOCK_USER, "--"]);
            c
        } else {
            eprintln!("note: not root: the lock is held by a second process of the same user");
            Command::new("env")
        };
        cmd.args(["flock", "-x"])
            .arg(log)
            .args(["sleep", "60"])
            .stdin(Stdio::null())
            .process_group(0);
        let child = cmd.spawn().expect("start the lock holder");
        let holder = Holder {
            child,
            created_user,
        };
        let mine = File::open(log).unwrap();
        let held = wait_for(TIMEOUT, || match mine.try_lock() {
            Ok(()) => {
                mine.unlock().unwrap();
                None
            }
            Err(_) => Some(()),
        });
        assert!(held.is_some(), "the holder never took the lock");
        Some(holder)
    }
}

impl Holder {
    /// Ends the holder: runuser, flock and sleep (one process group).
    fn release(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
        // Until the whole group is gone (userdel refuses a user with live
        // processes).
        let _ = wait_for(TIMEOUT, || {
            nix::sys::signal::killpg(group, None).is_err().then_some(())
        });
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.release();
        if self.created_user {
            let _ = Command::new("userdel").arg(LOCK_USER).status();
        }
    }
}

#[test]
fn a_lock_held_by_another_user_costs_a_moment_per_line_not_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let env = Sandbox::new(&audit, "", "");
    env.fake_marked("reboot");
    env.run(&["--", "true"]).expect_status(0);
    // Readable by the holder (flock(1) opens the file to lock it).
    fs::set_permissions(&audit, fs::Permissions::from_mode(0o644)).unwrap();
    let Some(mut holder) = Holder::start(&audit) else {
        return;
    };

    let mut slowest = Duration::ZERO;
    for line in ["true", "echo one", "echo two", "ls"] {
        let run = env.run(&["-c", line]);
        run.expect_status(0);
        assert!(!run.stderr.contains("warning"), "{}", run.stderr);
        slowest = slowest.max(run.took);
    }
    let host = short_host();
    let run = env.run(&["--reason", REASON, "--confirm", &host, "--", "reboot"]);
    run.expect_status(0);
    assert!(env.ran("reboot"), "the confirmed line did not run");
    slowest = slowest.max(run.took);
    eprintln!("slowest line while another user held the lock: {slowest:?}");
    // Two appends a line, each at most 200 ms behind the lock, instead of
    // the 2 s wait that gave up.
    assert!(slowest < Duration::from_millis(1500), "{slowest:?}");

    // Queued while the lock was held; verify says so and fails nothing.
    let checked = verify(&[&audit]);
    checked.expect_status(0);
    assert!(
        checked.stdout.contains("not sealed into the chain yet"),
        "{}",
        checked.stdout
    );

    // Released: the next writer seals them all into the chain.
    holder.release();
    env.run(&["--", "true"]).expect_status(0);
    let checked = verify(&[&audit]);
    checked.expect_status(0);
    assert!(
        checked.stdout.contains("ok: 14 records"),
        "{}",
        checked.stdout
    );
    assert!(!checked.stdout.contains("note"), "{}", checked.stdout);

    // Each command is listed once, with its outcome.
    let mut list = Command::new(crate::support::bin());
    list.args(["audit", "--json"]).arg(&audit);
    let listed = crate::support::run_timed(list);
    listed.expect_status(0);
    let rows: Vec<serde_json::Value> = listed
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 7, "{}", listed.stdout);
    assert!(
        rows.iter().all(|r| r["status"] == "ok"),
        "{}",
        listed.stdout
    );
}

// ---------------------------------------------------------------- syslog

/// rsyslogd on PATH or in the usual sbin directories.
fn find_rsyslogd() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("rsyslogd"))
        .find(|p| p.is_file())
}

/// A private rsyslogd writing safe-run's messages in the traditional file
/// format (`Nov 21 09:00:00 host safe-run[4242]: {…}`); killed when dropped.
struct Rsyslogd {
    child: Child,
    socket: PathBuf,
    out: PathBuf,
}

impl Rsyslogd {
    fn start(dir: &Path, stream: bool) -> Option<Rsyslogd> {
        let Some(exe) = find_rsyslogd() else {
            return skip("rsyslogd is not installed (.ci/run installs rsyslog)");
        };
        let socket = dir.join("log.sock");
        let out = dir.join("out.log");
        let work = dir.join("rsyslog-work");
        fs::create_dir(&work).unwrap();
        let input = if stream {
            // A stream socket: what syslog-ng's unix-stream() and
            // rsyslog's imptcp with path= give.
            format!(
                "module(load=\"imptcp\")\ninput(type=\"imptcp\" path=\"{}\" unlink=\"on\")",
                socket.display()
            )
        } else {
            format!(
                "module(load=\"imuxsock\" SysSock.Use=\"off\")\ninput(type=\"imuxsock\" Socket=\"{}\" CreatePath=\"on\")",
                socket.display()
            )
        };
        let conf = dir.join("rsyslog.conf");
        fs::write(
            &conf,
            format!(
                "global(workDirectory=\"{}\")\n{input}\nif $programname == 'safe-run' then action(type=\"omfile\" file=\"{}\" template=\"RSYSLOG_TraditionalFileFormat\")\n",
                work.display(),
                out.display()
            ),
        )
        .unwrap();
        let child = Command::new(exe)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(File::create(dir.join("rsyslogd.stdout")).unwrap())
            .stderr(File::create(dir.join("rsyslogd.stderr")).unwrap())
            .spawn()
            .expect("start rsyslogd");
        let daemon = Rsyslogd { child, socket, out };
        let up = wait_for(TIMEOUT, || daemon.socket.exists().then_some(()));
        assert!(
            up.is_some(),
            "rsyslogd made no socket: {}",
            fs::read_to_string(dir.join("rsyslogd.stderr")).unwrap_or_default()
        );
        Some(daemon)
    }

    fn lines(&self) -> Vec<String> {
        fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The syslog copy holds exactly the local log's sealed lines, in order,
/// and verifies as a chain with `safe-run audit verify`.
fn the_syslog_copy_is_the_sealed_chain(stream: bool) {
    let dir = tempfile::tempdir().unwrap();
    let Some(daemon) = Rsyslogd::start(dir.path(), stream) else {
        return;
    };
    let audit = dir.path().join("audit.jsonl");
    let syslog = format!(
        "[syslog]\nenabled = true\nsocket = {}\n",
        toml_str(&daemon.socket)
    );
    let env = Sandbox::new(&audit, "", &syslog);
    env.fake_marked("reboot");
    let host = short_host();
    env.run(&["--", "true"]).expect_status(0);
    env.run(&["-c", "echo one; echo two"]).expect_status(0);
    env.run(&["--", "reboot"]).expect_status(77);
    let run = env.run(&["--reason", REASON, "--confirm", &host, "--", "reboot"]);
    run.expect_status(0);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);

    let local: Vec<String> = fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(local.len(), 7);
    let copy = wait_for(TIMEOUT, || {
        let lines = daemon.lines();
        (lines.len() >= local.len()).then_some(lines)
    })
    .unwrap_or_else(|| panic!("rsyslogd got {:?}", daemon.lines()));
    let bodies: Vec<&str> = copy
        .iter()
        .map(|l| &l[l.find("{\"v\":").expect("a record")..])
        .collect();
    assert_eq!(bodies, local, "the syslog copy is not the local chain");
    assert!(copy[0].contains(" safe-run["), "{}", copy[0]);

    let checked = verify(&[&daemon.out]);
    checked.expect_status(0);
    assert!(
        checked.stdout.contains("ok: 7 records"),
        "{}",
        checked.stdout
    );
}

#[test]
fn the_syslog_copy_over_a_datagram_socket_verifies() {
    the_syslog_copy_is_the_sealed_chain(false);
}

#[test]
fn the_syslog_copy_over_a_stream_socket_verifies() {
    the_syslog_copy_is_the_sealed_chain(true);
}

/// A local log that cannot be written: the confirmed risky line is
/// refused, and syslog hears nothing, least of all "confirmed".
#[test]
fn a_refusal_for_a_failing_log_never_reaches_syslog_as_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("log.sock");
    let receiver = UnixDatagram::bind(&socket).unwrap();
    receiver.set_nonblocking(true).unwrap();
    let not_a_dir = dir.path().join("file");
    fs::write(&not_a_dir, "").unwrap();
    let audit = not_a_dir.join("audit.jsonl");
    let syslog = format!("[syslog]\nenabled = true\nsocket = {}\n", toml_str(&socket));
    let env = Sandbox::new(&audit, "", &syslog);
    env.fake_marked("reboot");

    let host = short_host();
    let run = env.run(&["--reason", REASON, "--confirm", &host, "--", "reboot"]);
    run.expect_status(77);
    assert!(!env.ran("reboot"));
    assert!(run.stderr.contains("refused"), "{}", run.stderr);
    env.run(&["--", "true"]).expect_status(0);

    let mut buf = [0u8; 65536];
    match receiver.recv(&mut buf) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok(n) => panic!(
            "syslog got a record the local log does not have: {}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("recv: {e}"),
    }
}

// ---------------------------------------------------------------- secrets

/// Secrets of each form in lines that really run (fakes): none reaches the
/// log or the syslog copy; the programs get their real arguments.
#[test]
fn secrets_of_every_form_stay_out_of_the_log_and_syslog() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("log.sock");
    let receiver = UnixDatagram::bind(&socket).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Read as they come: a Unix datagram socket queues only a few
    // (net.unix.max_dgram_qlen, 10 by default), then senders wait.
    let reader = std::thread::spawn(move || {
        let mut copies = String::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = receiver.recv(&mut buf) {
            copies.push_str(&String::from_utf8_lossy(&buf[..n]));
            copies.push('\n');
        }
        copies
    });
    let audit = dir.path().join("audit.jsonl");
    let syslog = format!("[syslog]\nenabled = true\nsocket = {}\n", toml_str(&socket));
    let env = Sandbox::new(&audit, "", &syslog);
    for fake in ["redis-cli", "mongosh", "vault", "htpasswd", "curl", "glab"] {
        env.fake_marked(fake);
    }
    let secrets = [
        "Sekr1t-redis",
        "Sekr1t-mongo",
        "s.Sekr1tVaultToken",
        "Sekr1t-htpasswd",
        "Sekr1t-bearer",
        "Sekr1t-smtp",
        "AKIAZZZZSEKR1TZZZZZZ",
        "glpat-Sekr1tSekr1tSekr1t",
    ];
    let lines = [
        "redis-cli -a Sekr1t-redis ping",
        "mongosh -u admin -p Sekr1t-mongo db1",
        "vault login s.Sekr1tVaultToken",
        "htpasswd -b ./pw bob Sekr1t-htpasswd",
        "curl --oauth2-bearer Sekr1t-bearer https://h/",
        "SMTP_PASS=Sekr1t-smtp curl https://h/",
        "echo AKIAZZZZSEKR1TZZZZZZ",
        "glab auth login --token glpat-Sekr1tSekr1tSekr1t",
    ];
    for line in lines {
        let run = env.run(&["-c", line]);
        run.expect_status(0);
    }
    let run = env.run(&["--", "redis-cli", "-a", "Sekr1t-redis", "ping"]);
    run.expect_status(0);
    assert!(
        run.stdout.contains("Sekr1t-redis"),
        "the fake got its argument"
    );

    let local = fs::read_to_string(&audit).unwrap();
    assert_eq!(records(&audit).len(), 2 * (lines.len() + 1));
    let copies = reader.join().unwrap();
    assert_eq!(copies.lines().count(), 2 * (lines.len() + 1), "{copies}");
    for secret in secrets {
        assert!(!local.contains(secret), "{secret} in the log:\n{local}");
        assert!(!copies.contains(secret), "{secret} in syslog:\n{copies}");
    }
}
