//! The audit log on a filesystem that never answers: a real FUSE mount
//! whose server never reads a request. Every `stat`, `open` or `access` of
//! a path inside it blocks until the connection is aborted, as on a dead
//! NFS server or a wedged FUSE daemon.
//!
//! The "filesystem" is the smallest there is: the test opens /dev/fuse and
//! mounts it (`fd=N`), and then never reads from that descriptor, so not
//! even the kernel's INIT request is answered. Closing the descriptor
//! aborts the connection (every waiter gets ENOTCONN), and a lazy unmount
//! removes it; the test itself never touches a path inside it.
//!
//! Needs root and FUSE. Without them the tests say why and pass; under
//! `CI=true`, when the kernel lists FUSE and /dev/fuse exists and the test
//! runs as root, a mount that fails is a failure, not a skip.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{Sandbox, in_ci, is_root, short_host};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use safe_run::audit::log::{AuditError, append_with_timeout};
use safe_run::audit::record::Record;
use tempfile::TempDir;

/// A mounted FUSE filesystem that never answers; unmounted when dropped.
struct HungMount {
    dir: TempDir,
    fuse: Option<File>,
}

impl HungMount {
    /// The mount, or why there cannot be one here (a skip).
    fn new() -> Result<HungMount, String> {
        if !is_root() {
            return Err("not root: mounting needs CAP_SYS_ADMIN".into());
        }
        let listed = std::fs::read_to_string("/proc/filesystems")
            .is_ok_and(|fs| fs.lines().any(|l| l.trim_end().ends_with("\tfuse")));
        if !Path::new("/dev/fuse").exists() || !listed {
            return Err(
                "no FUSE here (no /dev/fuse, or the kernel lists no fuse filesystem)".into(),
            );
        }
        let fuse = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .map_err(|e| format!("cannot open /dev/fuse: {e}"))?;
        let dir = tempfile::tempdir().expect("temp dir");
        let point = dir.path().join("mnt");
        std::fs::create_dir(&point).expect("mkdir mnt");
        let data = format!(
            "fd={},rootmode=40000,user_id=0,group_id=0",
            fuse.as_raw_fd()
        );
        let mounted = mount(
            Some("safe-run-hung"),
            &point,
            Some("fuse"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(data.as_str()),
        );
        if let Err(e) = mounted {
            let why = format!("mounting FUSE failed: {e}");
            assert!(
                !in_ci(),
                "{why} (root, /dev/fuse and the kernel's fuse are all there, so CI must be able to)"
            );
            return Err(why);
        }
        Ok(HungMount {
            dir,
            fuse: Some(fuse),
        })
    }

    /// A path inside the hung filesystem (never touched by the test).
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("mnt").join(name)
    }

    /// Aborts the connection: everything waiting on it fails at once.
    fn abort(&mut self) {
        self.fuse.take();
    }
}

impl Drop for HungMount {
    fn drop(&mut self) {
        self.abort();
        let _ = umount2(&self.dir.path().join("mnt"), MntFlags::MNT_DETACH);
    }
}

fn hung_or_skip() -> Option<HungMount> {
    match HungMount::new() {
        Ok(mount) => Some(mount),
        Err(why) => {
            eprintln!("SKIP: {why}; the hung-filesystem tests did not run");
            None
        }
    }
}

/// How much longer than the audit wait a whole run may take: starting the
/// binary, loading the rules, running `true`.
const SLACK: Duration = Duration::from_millis(1500);

#[test]
fn a_hung_log_costs_one_wait_and_never_blocks_the_exit() {
    let Some(mount) = hung_or_skip() else {
        return;
    };
    let audit = mount.path("audit.jsonl");
    let wait = Duration::from_millis(500);
    let env = Sandbox::new(&audit, "wait_ms = 500", "");
    env.fake_marked("reboot");

    // A safe command runs, after the one bounded wait (no outcome is
    // appended to a log that did not take the decision).
    let run = env.run(&["--", "true"]);
    run.expect_status(0);
    eprintln!("safe-run -- true with a hung log: {:?}", run.took);
    assert!(run.took >= wait, "{:?}", run.took);
    assert!(run.took < wait + SLACK, "{:?}\n{}", run.took, run.stderr);
    assert!(
        run.stderr.contains("did not answer within 500ms"),
        "{}",
        run.stderr
    );

    let run = env.run(&["-c", "echo hello"]);
    run.expect_status(0);
    assert_eq!(run.stdout, "hello\n");
    assert!(run.took < wait + SLACK, "{:?}", run.took);

    // A risky one fails closed, as fast.
    let host = short_host();
    let run = env.run(&[
        "--reason",
        "CHG-1234 kernel patch rollout",
        "--confirm",
        &host,
        "--",
        "reboot",
    ]);
    run.expect_status(77);
    eprintln!("a confirmed risky command with a hung log: {:?}", run.took);
    assert!(!env.ran("reboot"), "reboot ran without its record");
    assert!(run.took < wait + SLACK, "{:?}", run.took);
    assert!(run.stderr.contains("refused"), "{}", run.stderr);
}

#[test]
fn the_default_wait_bounds_a_hung_log() {
    let Some(mount) = hung_or_skip() else {
        return;
    };
    let audit = mount.path("audit.jsonl");
    let env = Sandbox::new(&audit, "", "");
    let run = env.run(&["--", "true"]);
    run.expect_status(0);
    eprintln!("safe-run -- true, default wait, hung log: {:?}", run.took);
    let wait = Duration::from_secs(2);
    assert!(
        run.took >= wait && run.took < wait + SLACK,
        "{:?}",
        run.took
    );
}

/// In one process (the interactive shell's case): the first append waits
/// and is given up, with nothing written ever; the next fails at once;
/// once the filesystem comes back (here: fails fast), appends work again.
#[test]
fn a_stuck_writer_makes_later_appends_fail_at_once_until_it_returns() {
    let Some(mut mount) = hung_or_skip() else {
        return;
    };
    let path = mount.path("audit.jsonl");
    let record = Record::default();
    let wait = Duration::from_millis(300);

    let started = Instant::now();
    let err = append_with_timeout(&path, &record, true, wait).unwrap_err();
    assert!(matches!(err, AuditError::Timeout { .. }), "{err}");
    assert!(started.elapsed() < wait + Duration::from_millis(200));

    let started = Instant::now();
    let err = append_with_timeout(&path, &record, true, wait).unwrap_err();
    assert!(matches!(err, AuditError::Stuck { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_millis(50));

    // The stuck thread gets ENOTCONN and returns; then appends are tried
    // again (and fail for what the filesystem says, not for being stuck).
    mount.abort();
    let back = crate::support::wait_for(Duration::from_secs(5), || {
        match append_with_timeout(&path, &record, true, wait) {
            Err(AuditError::Stuck { .. }) => None,
            other => Some(other),
        }
    });
    let err = back.expect("the stuck writer never returned").unwrap_err();
    assert!(
        err.to_string()
            .contains("Transport endpoint is not connected"),
        "{err}"
    );
}
