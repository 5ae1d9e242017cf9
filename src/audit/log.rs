//! Appending sealed records to the audit log file.
//!
//! The edge around `audit`: it opens, locks, reads the tail, writes and
//! flushes; the record and the chain rules live in `audit`. Shaped by four
//! promises:
//!
//! - **Nothing lost or torn with many writers.** Every session appends to
//!   one file. Each append takes an exclusive `flock` (`File::try_lock`) on
//!   its own open file description, reads the last record's hash from the
//!   end of the file, and writes the sealed line and its newline with one
//!   `write` on an `O_APPEND` descriptor, then unlocks. Reading the tail
//!   under the lock is what keeps the chain linear across processes.
//! - **A lock held by someone else costs a moment, not the session.** The
//!   lock can be held by anyone who can open the file (a group member's
//!   `flock`, a stuck program), so the product's appends
//!   ([`append_bounded`]) wait for it at most [`LOCK_WAIT`] and then
//!   *queue* the record: its JSON with the last member `"queued":true`
//!   ([`record::QUEUED_MARK`]) and no seal, one whole line in one
//!   `O_APPEND` write (writes to a local file are not interleaved), flushed
//!   like any other. Only a writer that holds the lock seals: it first seals
//!   the queued records that follow the last sealed line (same records,
//!   same ids), then its own, and after its write, the records queued while
//!   it read the tail (they landed before its write, behind no sealed
//!   line). So the chain never forks, whoever holds the lock for however
//!   long; `record::verify` skips queued lines and notes those never sealed.
//! - **No torn record, no record of what did not happen.** A write that
//!   fails part-way (a full disk) is cut back to the file's previous length
//!   under the lock, so the file never ends in half a record that safe-run
//!   wrote (an append-only file, `chattr +a`, refuses the cut: the torn line
//!   then stays, and the next append ends it with a newline first, in the
//!   same `write`, and chains from the last whole record). A failed flush
//!   (`fdatasync`) is cut back too: the caller is told "not written", so the
//!   file must not say otherwise.
//! - **The shell never freezes on the log.** [`append_bounded`] runs the
//!   open, lock, read, write and flush on a helper thread and waits at most
//!   its timeout. A thread stuck in the kernel cannot be cancelled, so the
//!   caller and the thread agree under a mutex: the thread checks, *after*
//!   it holds the lock and *before* its `write`, that the caller still
//!   waits; a caller that gives up first makes sure the record is never
//!   written ([`AuditError::Timeout`]). A caller that gives up while the
//!   `write` or flush is already in the kernel gets
//!   [`AuditError::LateWrite`]: if that call returns while the process
//!   lives, the thread appends right behind the record the caller's
//!   `void` record (the pipeline's "not run" outcome), so the log never
//!   says a refused command was confirmed without saying it did not run.
//!   While a thread is stuck on a log, further appends to it fail at once
//!   ([`AuditError::Stuck`]) instead of waiting again or piling up threads.
//!   Process exit does not wait for such threads.
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
use std::io::{self, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::audit::record::{self, GENESIS, Record, SEAL_LEN};

/// How long an append may take before the caller gives up on it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long [`append_bounded`] waits for a lock held by another process
/// before it queues the record instead (at most half its timeout).
pub const LOCK_WAIT: Duration = Duration::from_millis(200);

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
    /// Nothing was written, and nothing will be: the writer checks that the
    /// caller still waits before it writes.
    #[error(
        "the audit log {} did not answer within {after:?} (another process holds its lock, or its filesystem hangs)",
        path.display()
    )]
    Timeout { path: PathBuf, after: Duration },
    /// The write or flush was in the kernel when the caller gave up: the
    /// record may land later, followed by the caller's void record.
    #[error(
        "the audit log {} did not finish writing within {after:?} (its filesystem hangs); if the record lands later, a record saying the command did not run follows it",
        path.display()
    )]
    LateWrite { path: PathBuf, after: Duration },
    #[error("the audit log {} is not answering: an earlier write to it is still hung", path.display())]
    Stuck { path: PathBuf },
    #[error("cannot start a thread to write the audit log {}: {source}", path.display())]
    Thread { path: PathBuf, source: io::Error },
    /// The writer found that its caller had stopped waiting, and wrote
    /// nothing (nobody sees this one but the writer thread itself).
    #[error("the audit log {} was not written: the caller stopped waiting", path.display())]
    Abandoned { path: PathBuf },
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

/// A copy of each sealed line for somewhere else (syslog): called with the
/// line while the log is still locked, so copies leave in chain order.
/// Returns a warning when the copy could not be made.
pub type CopyFn = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// How [`append_bounded`] appends.
#[derive(Clone, Default)]
pub struct Options {
    /// Flush the record to disk before returning.
    pub fsync: bool,
    /// The whole append (open, lock, read, write, flush) at most this long.
    pub timeout: Duration,
    /// Appended right behind the record when its write finishes after the
    /// caller gave up ([`AuditError::LateWrite`]): the "not run" outcome.
    pub void: Option<Record>,
    /// Where each sealed line is copied once it is in the file.
    pub copy: Option<Arc<CopyFn>>,
}

/// What an append wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The new record's hash.
    pub hash: String,
    /// The sealed line, without its newline.
    pub line: String,
    /// Whether the lock was held (false: it was held by another process
    /// for longer than [`LOCK_WAIT`], and the record was queued; `hash` is
    /// then empty and `line` the queued line).
    pub locked: bool,
    /// Copies that could not be made.
    pub copy_errors: Vec<String>,
}

/// What the writing code asks of its caller, and may do for it.
struct Hooks<'a> {
    /// Wait for the lock at most this long, then queue the record.
    bypass_after: Option<Duration>,
    /// Asked with the lock held, just before the write: may it go ahead?
    /// (It also tells the caller that the write is starting.)
    gate: &'a dyn Fn() -> bool,
    /// Asked once the record is written: did the caller give up meanwhile?
    abandoned: &'a dyn Fn() -> bool,
    void: Option<&'a Record>,
    copy: Option<&'a CopyFn>,
}

impl Hooks<'_> {
    /// Wait for the lock until the deadline; nobody gives up early.
    const STRICT: Hooks<'static> = Hooks {
        bypass_after: None,
        gate: &|| true,
        abandoned: &|| false,
        void: None,
        copy: None,
    };
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

    /// Like [`append`](Self::append), waiting for the lock at most
    /// `lock_wait`: a lock held longer is an [`AuditError::Timeout`].
    pub fn append_waiting(
        &self,
        record: &Record,
        fsync: bool,
        lock_wait: Duration,
    ) -> Result<String, AuditError> {
        self.append_until(
            record,
            fsync,
            deadline_after(lock_wait),
            lock_wait,
            &Hooks::STRICT,
        )
        .map(|appended| appended.hash)
    }

    fn append_until(
        &self,
        record: &Record,
        fsync: bool,
        deadline: Instant,
        budget: Duration,
        hooks: &Hooks,
    ) -> Result<Appended, AuditError> {
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
        let lock_until = match hooks.bypass_after {
            Some(wait) => deadline.min(deadline_after(wait.min(budget / 2))),
            None => deadline,
        };
        let old_lock = lock_or_bypass(&inner.file, path, lock_until, budget, hooks)?;
        // Checked under the lock: a rotation that renames the file while
        // holding its lock cannot slip between the check and the write.
        let replacement = match std::fs::metadata(path) {
            Ok(meta) if (meta.dev(), meta.ino()) == inner.identity => None,
            _ => Some(open_file(path)?),
        };
        let written = match &replacement {
            None => write_record(
                &inner.file,
                path,
                record,
                fsync,
                None,
                old_lock.is_some(),
                hooks,
            ),
            Some(new) => {
                let new_lock = lock_or_bypass(&new.file, path, lock_until, budget, hooks)?;
                let empty = new.file.metadata().map(|m| m.len() == 0).unwrap_or(false);
                let carried = match empty {
                    true => Some(
                        last_hash(&inner.file)
                            .map_err(|source| read_error(path, source))?
                            .prev,
                    ),
                    false => None,
                };
                write_record(
                    &new.file,
                    path,
                    record,
                    fsync,
                    carried,
                    new_lock.is_some(),
                    hooks,
                )
            }
        };
        drop(old_lock);
        if let Some(new) = replacement {
            *inner = new;
        }
        written
    }
}

/// The lock on `file`, waiting until `until`; `None` when it is held by
/// someone else that long and `hooks` allow queueing instead.
fn lock_or_bypass<'a>(
    file: &'a File,
    path: &Path,
    until: Instant,
    budget: Duration,
    hooks: &Hooks,
) -> Result<Option<Locked<'a>>, AuditError> {
    match Locked::acquire(file, path, until, budget) {
        Ok(lock) => Ok(Some(lock)),
        Err(AuditError::Timeout { .. }) if hooks.bypass_after.is_some() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Appends `record` to the log at `path` on a helper thread and waits at
/// most `timeout` for it, lock included. Returns the new record's hash.
/// [`append_bounded`] without a copy or a void record.
pub fn append_with_timeout(
    path: &Path,
    record: &Record,
    fsync: bool,
    timeout: Duration,
) -> Result<String, AuditError> {
    let options = Options {
        fsync,
        timeout,
        ..Options::default()
    };
    append_bounded(path, record, options).map(|appended| appended.hash)
}

/// Logs with a writer thread that outlived its caller, once per thread.
static STUCK: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn stuck() -> MutexGuard<'static, Vec<PathBuf>> {
    STUCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the caller and its writer thread share (see the module header).
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// The writer passed the gate: its write may be in the kernel.
    writing: bool,
    /// The caller stopped waiting.
    abandoned: bool,
    result: Option<Result<Appended, AuditError>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The bounded append the product uses: opens `path` on a helper thread,
/// waits for its lock at most [`LOCK_WAIT`] (then queues the record),
/// seals `record`, writes and flushes it, copies the line, and waits for
/// all of that at most `options.timeout` (see the module header for what a
/// timeout guarantees).
pub fn append_bounded(
    path: &Path,
    record: &Record,
    options: Options,
) -> Result<Appended, AuditError> {
    if stuck().iter().any(|p| p == path) {
        return Err(AuditError::Stuck {
            path: path.to_path_buf(),
        });
    }
    let timeout = options.timeout;
    let deadline = deadline_after(timeout);
    let shared = Arc::new(Shared::default());
    let (owned_path, owned_record) = (path.to_path_buf(), record.clone());
    let theirs = Arc::clone(&shared);
    let spawned = std::thread::Builder::new()
        .name("audit-append".into())
        .spawn(move || {
            let shared = theirs;
            let gate = || {
                let mut state = shared.state();
                state.writing = !state.abandoned;
                state.writing
            };
            let abandoned = || shared.state().abandoned;
            let hooks = Hooks {
                bypass_after: Some(LOCK_WAIT),
                gate: &gate,
                abandoned: &abandoned,
                void: options.void.as_ref(),
                copy: options.copy.as_deref(),
            };
            let result = AuditLog::open(&owned_path).and_then(|log| {
                log.append_until(&owned_record, options.fsync, deadline, timeout, &hooks)
            });
            let mut state = shared.state();
            if state.abandoned {
                let mut stuck = stuck();
                if let Some(i) = stuck.iter().position(|p| *p == owned_path) {
                    stuck.swap_remove(i);
                }
            } else {
                state.result = Some(result);
                shared.done.notify_all();
            }
        });
    if let Err(source) = spawned {
        return Err(AuditError::Thread {
            path: path.to_path_buf(),
            source,
        });
    }
    let mut state = shared.state();
    loop {
        if let Some(result) = state.result.take() {
            return result;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        state = shared
            .done
            .wait_timeout(state, deadline - now)
            .map(|(guard, _)| guard)
            .unwrap_or_else(|poisoned| poisoned.into_inner().0);
    }
    state.abandoned = true;
    stuck().push(path.to_path_buf());
    let path = path.to_path_buf();
    Err(match state.writing {
        true => AuditError::LateWrite {
            path,
            after: timeout,
        },
        false => AuditError::Timeout {
            path,
            after: timeout,
        },
    })
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
        && let Err(err) = std::fs::metadata(parent)
    {
        // Anything but "not there" (a dead mount: ENOTCONN, EIO) is the
        // open's error, not a reason to create it.
        if err.kind() != io::ErrorKind::NotFound {
            return Err(AuditError::Open {
                path: path.to_path_buf(),
                source: err,
            });
        }
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
/// `locked`: this writer holds the lock; it then first seals the records
/// queued since the last sealed one, and a failed write may be cut back.
/// Without the lock, the record is queued instead (see the module header).
fn write_record(
    file: &File,
    path: &Path,
    record: &Record,
    fsync: bool,
    carried: Option<String>,
    locked: bool,
    hooks: &Hooks,
) -> Result<Appended, AuditError> {
    let read = |source| read_error(path, source);
    let tail = last_hash(file).map_err(read)?;
    let mut bytes = Vec::new();
    if tail.torn {
        bytes.push(b'\n');
    }
    if !locked {
        let line = record::queued_line(record);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        if !(hooks.gate)() {
            return Err(AuditError::Abandoned {
                path: path.to_path_buf(),
            });
        }
        write_and_flush(file, path, &bytes, fsync, false)?;
        if (hooks.abandoned)()
            && let Some(void) = hooks.void
        {
            let mut bytes = record::queued_line(void).into_bytes();
            bytes.push(b'\n');
            let _ = write_and_flush(file, path, &bytes, fsync, false);
        }
        return Ok(Appended {
            hash: String::new(),
            line,
            locked: false,
            copy_errors: Vec::new(),
        });
    }
    let empty = !tail.torn && tail.prev == GENESIS && tail.len == 0;
    let carried = match carried {
        Some(prev) => Some(prev),
        // Rotation by rename + create (docs/AUDIT.md): the first record of
        // the new, empty file continues the renamed one's chain, whichever
        // process writes it.
        None if empty => rotated_tail(path),
        None => None,
    };
    let mut prev = carried.unwrap_or(tail.prev);
    let mut sealed = Vec::new();
    for queued in queued_between(file, tail.sealed_end, tail.len).map_err(read)? {
        seal_into(&queued, &mut prev, &mut sealed, &mut bytes);
    }
    seal_into(record, &mut prev, &mut sealed, &mut bytes);
    let (line, hash) = (sealed[sealed.len() - 1].clone(), prev.clone());
    if !(hooks.gate)() {
        return Err(AuditError::Abandoned {
            path: path.to_path_buf(),
        });
    }
    write_sealed(file, path, bytes, fsync, tail.len, &mut prev, &mut sealed)?;
    let mut copy_errors = Vec::new();
    let mut copy = |line: &str| {
        if let Some(Err(e)) = hooks.copy.map(|copy| copy(line)) {
            copy_errors.push(e);
        }
    };
    for line in &sealed {
        copy(line);
    }
    if (hooks.abandoned)()
        && let Some(void) = hooks.void
    {
        // The caller acted as if this record were not written: say so
        // behind it, under the same lock.
        let mut lines = Vec::new();
        let mut bytes = Vec::new();
        seal_into(void, &mut prev, &mut lines, &mut bytes);
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if write_sealed(file, path, bytes, fsync, len, &mut prev, &mut lines).is_ok() {
            for line in &lines {
                copy(line);
            }
        }
    }
    Ok(Appended {
        hash,
        line,
        locked: true,
        copy_errors,
    })
}

/// Seals `record` after `prev`: the line goes to `lines`, its bytes and
/// newline to `bytes`, its hash becomes `prev`.
fn seal_into(record: &Record, prev: &mut String, lines: &mut Vec<String>, bytes: &mut Vec<u8>) {
    let line = record::seal(record, prev);
    *prev = record::hash_of_line(line.as_bytes()).unwrap_or_default();
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    lines.push(line);
}

/// The queued records in the file between `from` and `to` (whole lines
/// only), in order. At most the last 16 MiB are read.
fn queued_between(file: &File, from: u64, to: u64) -> io::Result<Vec<Record>> {
    let from = from.max(to.saturating_sub(record::MAX_LINE as u64));
    if to <= from {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; (to - from) as usize];
    file.read_exact_at(&mut buf, from)?;
    Ok(buf
        .split_inclusive(|b| *b == b'\n')
        .filter(|line| line.ends_with(b"\n") && record::is_queued_line(line))
        .filter_map(|line| serde_json::from_slice::<Record>(line).ok())
        .collect())
}

/// Writes sealed lines (`bytes`, chained up to `prev`, each also in
/// `sealed`) with the lock held; `from`: the file's length when its tail
/// was read. Records queued by writers that skipped the lock may have
/// landed between `from` and the write: no later writer would see them
/// (they are behind a sealed line), so they are sealed and written now,
/// and so on for those that land before that write (a few rounds at most).
fn write_sealed(
    file: &File,
    path: &Path,
    mut bytes: Vec<u8>,
    fsync: bool,
    mut from: u64,
    prev: &mut String,
    sealed: &mut Vec<String>,
) -> Result<(), AuditError> {
    for _ in 0..8 {
        let Some(start) = write_and_flush(file, path, &bytes, fsync, true)? else {
            return Ok(()); // not a file with positions (a device)
        };
        if start <= from {
            return Ok(());
        }
        let raced = queued_between(file, from, start).map_err(|e| read_error(path, e))?;
        from = start + bytes.len() as u64;
        bytes.clear();
        for queued in raced {
            seal_into(&queued, prev, sealed, &mut bytes);
        }
        if bytes.is_empty() {
            return Ok(());
        }
    }
    Ok(())
}

/// Writes whole lines at the end of the file (`O_APPEND`), flushed when
/// asked; returns where they start, when the file has positions. On
/// failure, a writer that holds the lock cuts its own bytes off again when
/// nothing else was appended behind them, so no half record stays (best
/// effort: an append-only file refuses, and verify then notes the torn
/// line).
fn write_and_flush(
    file: &File,
    path: &Path,
    bytes: &[u8],
    fsync: bool,
    locked: bool,
) -> Result<Option<u64>, AuditError> {
    let mut start = None;
    let mut written = 0usize;
    let cut_back = |start: Option<u64>, written: usize| {
        if let Some(start) = start.filter(|_| locked)
            && file
                .metadata()
                .is_ok_and(|m| m.len() == start + written as u64)
        {
            let _ = file.set_len(start);
        }
    };
    // Normally one `write`; more only if the kernel wrote less (a full
    // disk), each going at the end.
    while written < bytes.len() {
        match (&*file).write(&bytes[written..]) {
            Ok(0) => {
                cut_back(start, written);
                return Err(AuditError::Write {
                    path: path.to_path_buf(),
                    source: io::ErrorKind::WriteZero.into(),
                });
            }
            Ok(n) => {
                if written == 0 {
                    start = (&*file)
                        .stream_position()
                        .ok()
                        .and_then(|end| end.checked_sub(n as u64));
                }
                written += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                cut_back(start, written);
                return Err(AuditError::Write {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    if fsync && let Err(source) = file.sync_data() {
        cut_back(start, written);
        return Err(AuditError::Sync {
            path: path.to_path_buf(),
            source,
        });
    }
    Ok(start)
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
    /// The file's length when it was read.
    len: u64,
    /// Where the line after the last sealed one starts (0: none sealed).
    sealed_end: u64,
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
            len,
            sealed_end: 0,
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
                return Ok(Tail {
                    prev,
                    torn,
                    len,
                    sealed_end: (end + 1).min(len),
                });
            }
        }
        match newline_before(file, end)? {
            Some(newline) => end = newline,
            None => {
                return Ok(Tail {
                    prev: GENESIS.to_string(),
                    torn,
                    len,
                    sealed_end: 0,
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

    /// The writer's side of giving up (the caller's side, a real hang, is
    /// in tests/audit/fuse.rs): given up before the write, nothing is
    /// written; given up while it was in the kernel, the void follows it.
    #[test]
    fn a_write_given_up_on_is_never_made_or_is_followed_by_its_void() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = AuditLog::open(&path).unwrap();
        let decision = Record {
            id: "d1".into(),
            ..Record::default()
        };
        let void = Record::not_run("o1", "t", &decision, "refused");
        let wait = Duration::from_secs(5);
        let before_write = Hooks {
            bypass_after: None,
            gate: &|| false,
            abandoned: &|| true,
            void: Some(&void),
            copy: None,
        };
        let err = log
            .append_until(&decision, true, deadline_after(wait), wait, &before_write)
            .unwrap_err();
        assert!(matches!(err, AuditError::Abandoned { .. }), "{err}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

        static COPIED: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let copy = |line: &str| {
            COPIED.lock().unwrap().push(line.to_string());
            Ok(())
        };
        let during_write = Hooks {
            bypass_after: None,
            gate: &|| true,
            abandoned: &|| true,
            void: Some(&void),
            copy: Some(&copy),
        };
        log.append_until(&decision, true, deadline_after(wait), wait, &during_write)
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<Record> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].decision_id.as_deref(), Some("d1"));
        assert_eq!(records[1].not_run.as_deref(), Some("refused"));
        assert_eq!(*COPIED.lock().unwrap(), text.lines().collect::<Vec<_>>());
        let summary = record::verify(text.as_bytes(), None).unwrap();
        assert_eq!((summary.records, summary.notes.len()), (2, 0));
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
