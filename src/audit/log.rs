//! Appending sealed records to the audit log file.
//!
//! The edge around `audit`: it opens, locks, reads the tail, writes and
//! flushes; the record and the chain rules live in `audit`. Shaped by three
//! promises:
//!
//! - **Nothing lost or torn with many writers.** Every session appends to
//!   one file. Each append takes an exclusive `flock` (`File::try_lock`) on
//!   its own open file description, reads the last record's hash from the
//!   end of the file, and writes the sealed line and its newline with one
//!   `write` on an `O_APPEND` descriptor, then unlocks. Reading the tail
//!   under the lock is what keeps the chain linear across processes.
//! - **A torn last line does not break the chain.** If the file does not end
//!   in a newline (a writer died mid-line, a disk filled), the append writes
//!   the newline first, in the same `write`. The new record chains from the
//!   last line that ends in a well-formed seal, skipping back over torn or
//!   foreign lines; a complete record that only lacked its newline counts.
//!   `record::verify` then reports the torn line as truncated and the new
//!   record as correctly chained: the same rule both ways.
//! - **The shell never freezes on the log.** Waiting for the lock is a
//!   `try_lock` loop with short sleeps until a deadline, never a blocking
//!   lock. [`append_with_timeout`] also runs the open and the write on a
//!   helper thread and waits at most the timeout, so a hung filesystem
//!   (NFS, a dying disk) costs the operator two seconds, not the session.
//!   A thread stuck in the kernel cannot be cancelled: it is left behind,
//!   and after [`MAX_STUCK`] of them further appends fail at once instead
//!   of piling up threads. `Timeout` means "not known to be written": the
//!   record may still land later.
//!
//! Files: the directory is created 0700 and the file 0600 when they do not
//! exist (existing ones keep their modes). The log must be a regular file
//! or a character device (`/dev/null` to discard, `/dev/full` in tests);
//! it is opened `O_NONBLOCK` and checked after opening, so a FIFO put in its
//! place is refused instead of blocking the open or swallowing records. If
//! the file is renamed away (rotation) while an [`AuditLog`] is open, the
//! next append notices, reopens the path, and, if the new file is empty,
//! chains its first record from the old file's last one: the rotation rule
//! of `record::verify_chain`. A fresh process that finds an empty file
//! chains from the last record of `PATH.1` (the file logrotate renamed it
//! to, docs/AUDIT.md) when there is one, else starts from `GENESIS`.
//!
//! Records are redacted by `record::seal`, not here.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::audit::record::{self, GENESIS, Record, SEAL_LEN};

/// How long an append may take before the caller gives up on it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How many helper threads may be stuck on a hung log before
/// [`append_with_timeout`] stops starting new ones.
pub const MAX_STUCK: usize = 4;

/// When records are flushed to disk (`fdatasync`) before the append returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// Records about risky lines (the caller says which): the record of a
    /// dangerous command is on disk before it runs. 55 µs on a quiet disk,
    /// milliseconds on a busy one, so not for every `ls`.
    #[default]
    Risky,
    Always,
    Never,
}

impl FsyncPolicy {
    pub const ALL: [FsyncPolicy; 3] = [FsyncPolicy::Risky, FsyncPolicy::Always, FsyncPolicy::Never];

    /// Should a record be flushed, given whether it is about a risky line?
    pub fn should_sync(self, risky: bool) -> bool {
        match self {
            FsyncPolicy::Risky => risky,
            FsyncPolicy::Always => true,
            FsyncPolicy::Never => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Risky => "risky",
            FsyncPolicy::Always => "always",
            FsyncPolicy::Never => "never",
        }
    }
}

impl std::fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FsyncPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [FsyncPolicy::Risky, FsyncPolicy::Always, FsyncPolicy::Never]
            .into_iter()
            .find(|policy| policy.as_str() == text)
            .ok_or_else(|| {
                format!("unknown fsync policy `{text}` (expected risky, always or never)")
            })
    }
}

/// What went wrong with the audit log, and where.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot create the audit log directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot open the audit log {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error("the audit log {} is {what}, not a regular file", path.display())]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("cannot lock the audit log {}: {source}", path.display())]
    Lock { path: PathBuf, source: io::Error },
    #[error("cannot read the end of the audit log {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the audit log {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot flush the audit log {} to disk: {source}", path.display())]
    Sync { path: PathBuf, source: io::Error },
    #[error(
        "the audit log {} did not answer within {after:?} (another process holds its lock, or its filesystem hangs)",
        path.display()
    )]
    Timeout { path: PathBuf, after: Duration },
    #[error("the audit log {} is not answering: earlier writes to it are still hung", path.display())]
    Stuck { path: PathBuf },
    #[error("cannot start a thread to write the audit log {}: {source}", path.display())]
    Thread { path: PathBuf, source: io::Error },
}

/// An open audit log. Appends from many threads and processes at once are
/// safe; each one locks the file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<Open>,
}

#[derive(Debug)]
struct Open {
    file: File,
    /// (device, inode) of `file`, to notice the path being renamed away.
    identity: (u64, u64),
}

impl AuditLog {
    /// Opens the log for appending, creating its directory (0700) and the
    /// file (0600) when missing.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let open = open_file(path)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            inner: Mutex::new(open),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seals `record` after the log's last record and appends it; flushes it
    /// to disk when `fsync`. Waits for the lock at most [`DEFAULT_TIMEOUT`].
    /// Returns the new record's hash.
    pub fn append(&self, record: &Record, fsync: bool) -> Result<String, AuditError> {
        self.append_waiting(record, fsync, DEFAULT_TIMEOUT)
    }

    /// Like [`append`](Self::append), waiting for the lock at most `lock_wait`.
    pub fn append_waiting(
        &self,
        record: &Record,
        fsync: bool,
        lock_wait: Duration,
    ) -> Result<String, AuditError> {
        self.append_until(record, fsync, deadline_after(lock_wait), lock_wait)
    }

    fn append_until(
        &self,
        record: &Record,
        fsync: bool,
        deadline: Instant,
        budget: Duration,
    ) -> Result<String, AuditError> {
        let path = self.path.as_path();
        // Threads sharing this log wait for each other with the same bound
        // as processes do.
        let mut backoff = Backoff::new(deadline, budget);
        let mut inner = loop {
            match self.inner.try_lock() {
                Ok(inner) => break inner,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => break poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => backoff.wait(path)?,
            }
        };
        let old_lock = Locked::acquire(&inner.file, path, deadline, budget)?;
        // Checked under the lock: a rotation that renames the file while
        // holding its lock cannot slip between the check and the write.
        let replacement = match std::fs::metadata(path) {
            Ok(meta) if (meta.dev(), meta.ino()) == inner.identity => None,
            _ => Some(open_file(path)?),
        };
        let written = match &replacement {
            None => write_record(&inner.file, path, record, fsync, None),
            Some(new) => {
                let _new_lock = Locked::acquire(&new.file, path, deadline, budget)?;
                let empty = new.file.metadata().map(|m| m.len() == 0).unwrap_or(false);
                let carried = match empty {
                    true => Some(
                        last_hash(&inner.file)
                            .map_err(|source| read_error(path, source))?
                            .prev,
                    ),
                    false => None,
                };
                write_record(&new.file, path, record, fsync, carried)
            }
        };
        drop(old_lock);
        if let Some(new) = replacement {
            *inner = new;
        }
        written
    }
}

/// Appends `record` to the log at `path` on a helper thread and waits at
/// most `timeout` for it, lock included: the bounded append for a shell
/// that must not freeze on a hung log (see the module header).
pub fn append_with_timeout(
    path: &Path,
    record: &Record,
    fsync: bool,
    timeout: Duration,
) -> Result<String, AuditError> {
    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
    /// Counts a helper thread for as long as it lives, however it ends.
    struct InFlight;
    impl Drop for InFlight {
        fn drop(&mut self) {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        }
    }

    if IN_FLIGHT.fetch_add(1, Ordering::SeqCst) >= MAX_STUCK {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        return Err(AuditError::Stuck {
            path: path.to_path_buf(),
        });
    }
    let in_flight = InFlight;
    let deadline = deadline_after(timeout);
    let (tx, rx) = mpsc::sync_channel(1);
    let (owned_path, owned_record) = (path.to_path_buf(), record.clone());
    let spawned = std::thread::Builder::new()
        .name("audit-append".into())
        .spawn(move || {
            let result = AuditLog::open(&owned_path)
                .and_then(|log| log.append_until(&owned_record, fsync, deadline, timeout));
            // No longer in flight before the caller can see the result, so a
            // quick next append does not count this thread as stuck.
            drop(in_flight);
            let _ = tx.send(result);
        });
    if let Err(source) = spawned {
        return Err(AuditError::Thread {
            path: path.to_path_buf(),
            source,
        });
    }
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(AuditError::Timeout {
            path: path.to_path_buf(),
            after: timeout,
        }),
    }
}

/// `now + wait`, without the overflow panic of `Instant + Duration` for an
/// absurd wait (which then means "a year").
fn deadline_after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

/// Short, growing sleeps between attempts, until a deadline.
struct Backoff {
    pause: Duration,
    deadline: Instant,
    budget: Duration,
}

impl Backoff {
    fn new(deadline: Instant, budget: Duration) -> Backoff {
        Backoff {
            pause: Duration::from_micros(50),
            deadline,
            budget,
        }
    }

    /// Sleeps a little, or fails with `Timeout` once the deadline is past.
    fn wait(&mut self, path: &Path) -> Result<(), AuditError> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(AuditError::Timeout {
                path: path.to_path_buf(),
                after: self.budget,
            });
        }
        std::thread::sleep(self.pause.min(self.deadline - now));
        self.pause = (self.pause * 2).min(Duration::from_millis(5));
        Ok(())
    }
}

/// An exclusive lock on a log file, released when dropped.
struct Locked<'a>(&'a File);

impl<'a> Locked<'a> {
    fn acquire(
        file: &'a File,
        path: &Path,
        deadline: Instant,
        budget: Duration,
    ) -> Result<Locked<'a>, AuditError> {
        let mut backoff = Backoff::new(deadline, budget);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Locked(file)),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(source)) => {
                    return Err(AuditError::Lock {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
            backoff.wait(path)?;
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; an error here cannot
        // undo a write that succeeded.
        let _ = self.0.unlock();
    }
}

fn open_file(path: &Path) -> Result<Open, AuditError> {
    // Only a missing directory is created; one that exists as something
    // else makes the open below fail with "Not a directory".
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|source| AuditError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
    }
    let mut options = OpenOptions::new();
    options
        .read(true)
        .append(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits());
    let open_error = |source| AuditError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = match options.clone().create_new(true).open(path) {
        Ok(file) => {
            // Make the new name durable too (best effort: the records are
            // flushed on their own).
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                let _ = File::open(parent).and_then(|dir| dir.sync_all());
            }
            file
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            options.open(path).map_err(open_error)?
        }
        Err(err) => return Err(open_error(err)),
    };
    let meta = file.metadata().map_err(open_error)?;
    let file_type = meta.file_type();
    let what = if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() {
        "a block device"
    } else {
        ""
    };
    if !what.is_empty() {
        return Err(AuditError::NotAFile {
            path: path.to_path_buf(),
            what,
        });
    }
    Ok(Open {
        file,
        identity: (meta.dev(), meta.ino()),
    })
}

/// Seals and writes one record (with the repairing newline first when the
/// file ends mid-line) in one write call. `carried`: the hash to chain from
/// instead of the file's own last record (a fresh file after rotation).
fn write_record(
    file: &File,
    path: &Path,
    record: &Record,
    fsync: bool,
    carried: Option<String>,
) -> Result<String, AuditError> {
    let tail = last_hash(file).map_err(|source| read_error(path, source))?;
    let empty = !tail.torn && tail.prev == GENESIS && file.metadata().is_ok_and(|m| m.len() == 0);
    let carried = match carried {
        Some(prev) => Some(prev),
        // Rotation by rename + create (docs/AUDIT.md): the first record of
        // the new, empty file continues the renamed one's chain, whichever
        // process writes it.
        None if empty => rotated_tail(path),
        None => None,
    };
    let prev = carried.unwrap_or(tail.prev);
    let line = record::seal(record, &prev);
    let mut bytes = Vec::with_capacity(line.len() + 2);
    if tail.torn {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let write_error = |source| AuditError::Write {
        path: path.to_path_buf(),
        source,
    };
    // O_APPEND: one write, at the end, whatever others did before the lock.
    // `write_all` only loops if the kernel wrote less (a full disk); the rest
    // still goes in under the lock.
    let mut writer = file;
    writer.write_all(&bytes).map_err(write_error)?;
    if fsync {
        file.sync_data().map_err(|source| AuditError::Sync {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(record::hash_of_line(line.as_bytes()).unwrap_or_default())
}

/// The last hash of `PATH.1`, the file `path` was rotated to, when it is
/// a plain regular file that ends in a record.
fn rotated_tail(path: &Path) -> Option<String> {
    let mut name = path.file_name()?.to_os_string();
    name.push(".1");
    let rotated = path.with_file_name(name);
    // Checked before opening: opening a FIFO put there would block.
    if !std::fs::symlink_metadata(&rotated).ok()?.is_file() {
        return None;
    }
    let tail = last_hash(&File::open(&rotated).ok()?).ok()?;
    (tail.prev != GENESIS).then_some(tail.prev)
}

fn read_error(path: &Path, source: io::Error) -> AuditError {
    AuditError::Read {
        path: path.to_path_buf(),
        source,
    }
}

/// The end of the log as the next append sees it.
struct Tail {
    /// The hash to chain from: the last well-formed record's, or `GENESIS`.
    prev: String,
    /// The file does not end in a newline.
    torn: bool,
}

/// Finds the last line ending in a well-formed seal, reading backwards
/// from the end with positioned reads (the descriptor is `O_APPEND`, the
/// lock is held). Usually one 151-byte read.
fn last_hash(file: &File) -> io::Result<Tail> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Tail {
            prev: GENESIS.to_string(),
            torn: false,
        });
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    let torn = last[0] != b'\n';
    // `end`: where the line being looked at ends (its newline, or EOF).
    let mut end = if torn { len } else { len - 1 };
    // The seal and the byte before it, which must belong to the same line.
    let window = SEAL_LEN as u64 + 1;
    let mut buf = [0u8; SEAL_LEN + 1];
    loop {
        if end >= window {
            file.read_exact_at(&mut buf, end - window)?;
            if buf[0] != b'\n'
                && let Some(prev) = record::hash_of_line(&buf)
            {
                return Ok(Tail { prev, torn });
            }
        }
        match newline_before(file, end)? {
            Some(newline) => end = newline,
            None => {
                return Ok(Tail {
                    prev: GENESIS.to_string(),
                    torn,
                });
            }
        }
    }
}

/// The position of the last newline before `end`, if any.
fn newline_before(file: &File, end: u64) -> io::Result<Option<u64>> {
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut chunk_end = end;
    while chunk_end > 0 {
        let start = chunk_end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(chunk_end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        chunk_end = start;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_policy_reads_and_decides() {
        assert_eq!("risky".parse(), Ok(FsyncPolicy::Risky));
        assert_eq!(
            "never".parse::<FsyncPolicy>().map(|p| p.should_sync(true)),
            Ok(false)
        );
        assert!(FsyncPolicy::Always.should_sync(false));
        assert!(!FsyncPolicy::default().should_sync(false));
        assert_eq!(
            "sometimes".parse::<FsyncPolicy>(),
            Err("unknown fsync policy `sometimes` (expected risky, always or never)".to_string())
        );
    }

    #[test]
    fn an_absurd_wait_does_not_overflow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        append_with_timeout(&path, &Record::default(), false, Duration::MAX).unwrap();
        let log = AuditLog::open(&path).unwrap();
        log.append_waiting(&Record::default(), false, Duration::MAX)
            .unwrap();
        log.append_waiting(&Record::default(), false, Duration::ZERO)
            .unwrap();
    }

    #[test]
    fn the_tail_is_found_behind_torn_and_foreign_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let record = Record::default();
        let first = record::seal(&record, GENESIS);
        let hash = record::hash_of_line(first.as_bytes()).unwrap();
        let cases: &[(&str, bool)] = &[
            ("\n", false),
            ("{\"v\":1,\"torn", true),
            ("garbage\n", false),
            ("garbage\n{\"v\":1,\"torn", true),
            ("\n\n\n{", true),
        ];
        for (after, torn) in cases {
            std::fs::write(&path, format!("{first}\n{after}")).unwrap();
            let tail = last_hash(&File::open(&path).unwrap()).unwrap();
            assert_eq!(
                (tail.prev.as_str(), tail.torn),
                (hash.as_str(), *torn),
                "{after:?}"
            );
        }
        // A whole record that only lacks its newline is chained from.
        std::fs::write(&path, &first).unwrap();
        let tail = last_hash(&File::open(&path).unwrap()).unwrap();
        assert_eq!((tail.prev.as_str(), tail.torn), (hash.as_str(), true));
        // Nothing sealed at all: a new chain.
        std::fs::write(&path, "x".repeat(200_000)).unwrap();
        let tail = last_hash(&File::open(&path).unwrap()).unwrap();
        assert_eq!((tail.prev.as_str(), tail.torn), (GENESIS, true));
    }
}
