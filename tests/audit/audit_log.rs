//! The audit log against real files: many writers, tampering, permissions,
//! failing disks, torn lines, held locks, rotation, and the syslog copy.
//!
//! The concurrency test runs real processes: this test binary re-runs
//! itself (`child_appender`, guarded by an environment variable), because
//! `flock` is per open file description and only separate processes show
//! that no append is lost or torn between them.

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use safe_run::audit::log::{AuditError, AuditLog, append_with_timeout};
use safe_run::audit::record::{
    self, Actor, Break, DecisionDetails, FindingRecord, GENESIS, Record, VerifyError,
    VerifyErrorKind,
};
use safe_run::audit::syslog::{self, Facility, Severity};
use safe_run::verdict::Risk;
use safe_run::verdict::{Decision, Mode};

use crate::common::require;
use crate::common::tools::skip_part;

const CHILD_LOG: &str = "SAFE_RUN_TEST_APPEND_LOG";
const CHILD_ID: &str = "SAFE_RUN_TEST_APPEND_CHILD";
const WRITERS: usize = 16;
const PER_WRITER: usize = 200;

fn record(id: &str) -> Record {
    let actor = Actor {
        host: "core-1".into(),
        user: "ops".into(),
        uid: 1001,
        login_user: Some("alice".into()),
        ssh: None,
        tty: Some("/dev/pts/3".into()),
    };
    Record::decision(
        id,
        "2026-11-21T22:41:07.123+00:00",
        &actor,
        DecisionDetails {
            cwd: "/root".into(),
            mode: Mode::Shell,
            line: format!("sudo apt-get upgrade -y # {id}"),
            argv: None,
            findings: vec![FindingRecord {
                rule: "apt-full-upgrade".into(),
                risk: Risk::High,
            }],
            risk: Risk::High,
            decision: Decision::Confirmed,
            reason: Some("CHG-4411".into()),
        },
    )
}

fn lines_of(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap();
    text.split_inclusive('\n').map(str::to_string).collect()
}

fn verify_file(path: &Path) -> Result<record::VerifySummary, VerifyError> {
    record::verify(BufReader::new(File::open(path).unwrap()), None)
}

fn write_log(path: &Path, records: usize) -> Vec<String> {
    let log = AuditLog::open(path).unwrap();
    for i in 0..records {
        log.append(&record(&format!("r{i}")), false).unwrap();
    }
    lines_of(path)
}

/// The child half of `sixteen_processes_lose_and_tear_nothing`: does
/// nothing unless started by it.
#[test]
fn child_appender() {
    let (Ok(path), Ok(child)) = (std::env::var(CHILD_LOG), std::env::var(CHILD_ID)) else {
        return;
    };
    let path = PathBuf::from(path);
    let wait = Duration::from_secs(60);
    let child: usize = child.parse().unwrap();
    // Half the writers keep one open log, half open it for every record
    // through the bounded helper: both paths take the lock.
    let log = AuditLog::open(&path).unwrap();
    for i in 0..PER_WRITER {
        let rec = record(&format!("{child}-{i}"));
        let fsync = i.is_multiple_of(50);
        if child.is_multiple_of(2) {
            log.append_waiting(&rec, fsync, wait).unwrap();
        } else {
            append_with_timeout(&path, &rec, fsync, wait).unwrap();
        }
    }
}

#[test]
fn sixteen_processes_lose_and_tear_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let exe = std::env::current_exe().unwrap();
    let child_test = crate::common::bin::own_test(module_path!(), "child_appender");
    let children: Vec<_> = (0..WRITERS)
        .map(|child| {
            let mut cmd = Command::new(&exe);
            cmd.args(["--exact", &child_test, "--test-threads=1", "--quiet"])
                .env(CHILD_LOG, &path)
                .env(CHILD_ID, child.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            crate::common::spawn(&mut cmd)
        })
        .collect();
    // Each child's own test report stays out of this one's, unless it failed.
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a writer failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // A writer that waited longer than LOCK_WAIT for the lock (a loaded
    // machine) queued its record instead; one more append seals what the
    // last of them queued.
    AuditLog::open(&path)
        .unwrap()
        .append(&record("99-0"), false)
        .unwrap();
    let all = lines_of(&path);
    let queued = all
        .iter()
        .filter(|l| record::is_queued_line(l.as_bytes()))
        .count();
    eprintln!("{queued} record(s) were queued and sealed later");
    let mut lines: Vec<String> = all
        .into_iter()
        .filter(|l| !record::is_queued_line(l.as_bytes()))
        .collect();
    assert_eq!(lines.pop().map(|l| l.contains("\"99-0\"")), Some(true));
    assert_eq!(lines.len(), WRITERS * PER_WRITER);
    let mut next = [0usize; WRITERS];
    for line in &lines {
        assert!(line.ends_with('\n'));
        let rec: Record = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let (child, i) = rec.id.split_once('-').unwrap();
        let (child, i): (usize, usize) = (child.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[child], "writer {child}'s records are out of order");
        next[child] += 1;
    }
    assert!(next.iter().all(|&n| n == PER_WRITER));
    let summary = verify_file(&path).unwrap();
    assert_eq!(summary.records, (WRITERS * PER_WRITER + 1) as u64);
    assert_eq!(summary.queued, queued as u64);
    assert!(summary.notes.is_empty(), "{:?}", summary.notes);
    assert!(summary.starts_chain());
}

#[test]
fn threads_sharing_one_log_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let log = &log;
            scope.spawn(move || {
                for i in 0..100 {
                    let rec = record(&format!("{t}-{i}"));
                    log.append_waiting(&rec, false, Duration::from_secs(60))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(verify_file(&path).unwrap().records, 800);
}

#[test]
fn tampering_is_caught_on_the_right_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let lines = write_log(&path, 10);
    assert_eq!(verify_file(&path).unwrap().records, 10);

    let check = |name: &str, lines: &[String]| {
        let tampered = dir.path().join(name);
        fs::write(&tampered, lines.concat()).unwrap();
        verify_file(&tampered).unwrap_err()
    };

    let mut edited = lines.clone();
    edited[3] = edited[3].replace("CHG-4411", "CHG-9999");
    let err = check("edited", &edited);
    assert_eq!((err.line, &err.kind), (4, &VerifyErrorKind::Edited));
    assert_eq!(
        err.to_string(),
        "line 4: record was edited (its hash does not match its content)"
    );

    let mut deleted = lines.clone();
    deleted.remove(4);
    let err = check("deleted", &deleted);
    assert_eq!(
        (err.line, err.kind),
        (5, VerifyErrorKind::Broken(Break::Missing))
    );

    let mut reordered = lines.clone();
    reordered.swap(6, 7);
    let err = check("reordered", &reordered);
    assert_eq!(
        (err.line, err.kind),
        (
            7,
            VerifyErrorKind::Broken(Break::Reordered {
                predecessor_line: 8
            })
        )
    );

    // A record cut short in the middle breaks the link of the next one.
    let mut truncated = lines.clone();
    truncated[5].truncate(120);
    truncated[5].push('\n');
    let err = check("truncated", &truncated);
    assert_eq!(
        (err.line, err.kind),
        (7, VerifyErrorKind::Broken(Break::Missing))
    );
}

#[test]
fn a_created_directory_is_0700_and_the_file_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("var/log/safe-run/audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    log.append(&record("a"), true).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("var/log/safe-run")), 0o700);
    assert_eq!(mode(&dir.path().join("var")), 0o700);
}

#[test]
fn a_full_disk_is_a_clear_error() {
    let full = Path::new("/dev/full");
    if !require(full.exists(), "there is no /dev/full here") {
        return;
    }
    let err = AuditLog::open(full)
        .and_then(|log| log.append(&record("a"), false))
        .unwrap_err();
    assert!(matches!(err, AuditError::Write { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "cannot write the audit log /dev/full: No space left on device (os error 28)"
    );
}

#[test]
fn an_unwritable_place_is_a_clear_error() {
    // A regular file where the directory should be stops root too.
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    fs::write(&not_a_dir, "").unwrap();
    let path = not_a_dir.join("audit.jsonl");
    let err = append_with_timeout(&path, &record("a"), false, Duration::from_secs(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open the audit log {}: Not a directory (os error 20)",
            path.display()
        )
    );

    // Permission bits stop everyone but root.
    if nix::unistd::geteuid().is_root() {
        skip_part(
            "the read-only directory case",
            "running as root, whom permission bits do not stop",
        );
        return;
    }
    let read_only = dir.path().join("ro");
    fs::create_dir(&read_only).unwrap();
    fs::set_permissions(&read_only, fs::Permissions::from_mode(0o500)).unwrap();
    let err = AuditLog::open(&read_only.join("audit.jsonl")).unwrap_err();
    assert!(err.to_string().contains("Permission denied"), "{err}");
}

#[test]
fn a_fifo_in_place_of_the_log_fails_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let err = append_with_timeout(&path, &record("a"), false, Duration::from_secs(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the audit log {} is a FIFO, not a regular file",
            path.display()
        )
    );
}

#[test]
fn a_torn_last_line_is_repaired_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let before = write_log(&path, 3);
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(br#"{"v":1,"id":"torn","kind":"dec"#)
        .unwrap();
    drop(file);

    let log = AuditLog::open(&path).unwrap();
    log.append(&record("after-1"), false).unwrap();
    log.append(&record("after-2"), false).unwrap();

    let lines = lines_of(&path);
    assert_eq!(lines.len(), 6);
    assert!(lines[3].starts_with(r#"{"v":1,"id":"torn""#) && lines[3].ends_with('\n'));
    // The chain goes on across the torn line: no problem, one note.
    let summary = verify_file(&path).unwrap();
    assert_eq!(summary.records, 5);
    assert_eq!(
        summary.notes,
        vec![VerifyError {
            file: 0,
            line: 4,
            kind: VerifyErrorKind::Truncated
        }]
    );
    // ...and the new records verify on their own from the last whole one.
    let carried = record::hash_of_line(before[2].as_bytes()).unwrap();
    let summary = record::verify(lines[4..].concat().as_bytes(), Some(&carried)).unwrap();
    assert_eq!(summary.records, 2);
}

#[test]
fn a_held_lock_queues_instead_of_freezing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    write_log(&path, 1);
    let holder = File::open(&path).unwrap();
    holder.lock().unwrap();

    // The product's bounded append queues the record after LOCK_WAIT
    // (at most half its timeout)...
    let started = std::time::Instant::now();
    append_with_timeout(&path, &record("a"), true, Duration::from_millis(200)).unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(190),
        "{:?}",
        started.elapsed()
    );
    assert!(record::is_queued_line(lines_of(&path)[1].as_bytes()));
    // ...the strict one gives up.
    let log = AuditLog::open(&path).unwrap();
    let err = log
        .append_waiting(&record("b"), false, Duration::from_millis(50))
        .unwrap_err();
    assert!(matches!(err, AuditError::Timeout { .. }), "{err}");
    assert!(
        err.to_string().contains("did not answer within 50ms"),
        "{err}"
    );
    let summary = verify_file(&path).unwrap();
    assert_eq!((summary.records, summary.queued), (1, 1));
    assert_eq!(summary.notes[0].kind, VerifyErrorKind::Unsealed);

    // The next writer that gets the lock seals the queued record first.
    holder.unlock().unwrap();
    log.append(&record("c"), false).unwrap();
    let summary = verify_file(&path).unwrap();
    assert_eq!((summary.records, summary.queued), (3, 1));
    assert!(summary.notes.is_empty(), "{:?}", summary.notes);
    let ids: Vec<String> = lines_of(&path)[2..]
        .iter()
        .map(|l| serde_json::from_str::<Record>(l).unwrap().id)
        .collect();
    assert_eq!(ids, ["a", "c"]);
}

#[test]
fn a_rotated_log_goes_on_as_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let rotated = dir.path().join("audit.jsonl.1");
    let log = AuditLog::open(&path).unwrap();
    for i in 0..3 {
        log.append(&record(&format!("old-{i}")), false).unwrap();
    }
    fs::rename(&path, &rotated).unwrap();
    for i in 0..2 {
        log.append(&record(&format!("new-{i}")), false).unwrap();
    }
    assert_eq!(lines_of(&rotated).len(), 3);
    assert_eq!(lines_of(&path).len(), 2);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let files = [&rotated, &path].map(|p| BufReader::new(File::open(p).unwrap()));
    let summary = record::verify_chain(files, None).unwrap();
    assert_eq!((summary.records, summary.files), (5, 2));
    assert!(!verify_file(&path).unwrap().starts_chain());
}

#[test]
fn a_record_reaches_syslog_and_its_copy_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("log");
    let receiver = UnixDatagram::bind(&socket).unwrap();
    let line = record::seal(&record("a"), GENESIS);
    syslog::send(
        &socket,
        Facility::Authpriv,
        Severity::Notice,
        "safe-run",
        &line,
        Duration::from_secs(1),
    )
    .unwrap();

    let mut buf = vec![0u8; 64 * 1024];
    let n = receiver.recv(&mut buf).unwrap();
    let message = std::str::from_utf8(&buf[..n]).unwrap();
    let prefix = format!("<85>safe-run[{}]: ", std::process::id());
    let body = message
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{message}"));
    assert_eq!(body, line);
    let summary = record::verify(format!("{body}\n").as_bytes(), None).unwrap();
    assert_eq!(summary.records, 1);
}
