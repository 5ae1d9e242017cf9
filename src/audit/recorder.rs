//! The real audit sink: turns the pipeline's decisions and outcomes into
//! records, removes secrets, appends them to the log file (bounded wait,
//! fsync for risky lines) and copies them to syslog when configured.
//!
//! The order is the point: a record is sealed into the local chain first,
//! and only the *sealed* line (with `prev` and `hash`) is sent to syslog,
//! from the writer thread while the log is still locked, so the off-host
//! copy holds exactly the local chain's records, in chain order, and
//! `safe-run audit verify` checks it like the file. A record the local log
//! did not take is not sent at all: the syslog copy never says "confirmed"
//! about a command that was refused because its record could not be
//! written. A risky decision that runs is passed a "not run" outcome to
//! append behind it should its write land after the pipeline gave up
//! (`audit::log`, `LateWrite`).
//!
//! An edge module: it reads the clock and writes files and sockets. The
//! record format and the hash chain live in `record`; the file locking in
//! `log`; what to do when a write fails is the pipeline's decision, so a
//! failure comes back as a typed [`SinkError`] and warnings (a syslog copy
//! that could not be sent) are handed over through
//! [`AuditSink::take_warnings`], never printed from here.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use nix::unistd::{AccessFlags, access};

use crate::audit::identity::Identity;
use crate::audit::log::{self, AuditError, AuditLog, FsyncPolicy, append_bounded};
use crate::audit::record::{
    Actor, ApprovalRecord, DecisionDetails, FindingRecord, PreviewFacts, Provenance, Record,
    SlotRecord,
};
use crate::audit::syslog;
use crate::exec::Outcome;
use crate::verdict::{Decision, Mode, Risk, Verdict};

/// Everything the audit log needs about a decision.
#[derive(Clone, Debug)]
pub struct DecisionInfo<'a> {
    pub mode: Mode,
    pub line: &'a str,
    pub argv: Option<&'a [String]>,
    pub verdict: &'a Verdict,
    pub decision: Decision,
    pub reason: Option<&'a str>,
    /// What the previews' summaries told the operator, if any were shown.
    pub preview: Option<&'a PreviewFacts>,
    /// A fleet slot taken, refused or broken through for the line.
    pub slot: Option<&'a SlotRecord>,
    /// What the change controls (freeze, break-glass, approval) said.
    pub change: ChangeNote,
}

/// What the change controls said about a decision, for its record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeNote {
    /// The freeze in force, when it held the line back or it ran through it.
    pub freeze: Option<String>,
    pub break_glass: bool,
    pub approval: Option<ApprovalRecord>,
}

/// Why a record is not (yet) in the log.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// No log is configured, or none of the candidate paths can be used.
    #[error("{0}")]
    NoLog(String),
    /// The record was not written.
    #[error("{0}")]
    NotWritten(String),
    /// The write did not finish within the bound; it may still land later.
    #[error("{0}")]
    TimedOut(String),
}

impl From<AuditError> for SinkError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Timeout { .. }
            | AuditError::LateWrite { .. }
            | AuditError::Stuck { .. } => SinkError::TimedOut(e.to_string()),
            other => SinkError::NotWritten(other.to_string()),
        }
    }
}

/// Where decisions and outcomes are recorded: the [`Recorder`], or a
/// scripted fake in tests.
pub trait AuditSink {
    /// Records a decision before anything runs; returns its id. `risky`
    /// asks for the record to be on disk (fsync) before returning; a risky
    /// decision that runs is carried out only if this returns `Ok` (the
    /// pipeline refuses it otherwise), so the sink must never leave it on
    /// record as the last word about that command.
    fn decision(&mut self, info: &DecisionInfo, risky: bool) -> Result<String, SinkError>;
    /// Records how the command ended.
    fn outcome(&mut self, decision_id: &str, outcome: &Outcome) -> Result<(), SinkError>;
    /// Records how the command ended and what became of its fleet slot
    /// (given back, or kept over a reboot). A sink that keeps no slot
    /// events records the outcome alone.
    fn outcome_with_slot(
        &mut self,
        decision_id: &str,
        outcome: &Outcome,
        slot: Option<&SlotRecord>,
    ) -> Result<(), SinkError> {
        let _ = slot;
        self.outcome(decision_id, outcome)
    }
    /// Problems that did not stop a record (a syslog copy that could not be
    /// sent), for the caller to show; each is returned once.
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// Whether the off-host copy (syslog) of the last record could not be
    /// sent. A sink that sends no copy never fails to.
    fn offhost_failed(&self) -> bool {
        false
    }

    /// Whether a record could be written now, asked before a risky line's
    /// conversation so that nobody is asked for a reason that cannot be
    /// recorded. Bounded in time; writes nothing.
    fn ready(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Decisions kept for outcomes that come later than the next decision (a
/// background job of the interactive shell ends after other lines ran).
const RECENT_DECISIONS: usize = 256;

/// How long [`Recorder::probe`] waits for the log to open.
pub const PROBE_WAIT: Duration = Duration::from_millis(300);

/// Syslog settings, resolved.
#[derive(Clone, Debug)]
pub struct SyslogTarget {
    pub socket: PathBuf,
    pub facility: syslog::Facility,
}

pub struct Recorder {
    /// The log file, or why there is none.
    path: Result<PathBuf, String>,
    fsync: FsyncPolicy,
    wait: Duration,
    syslog: Option<SyslogTarget>,
    actor: Actor,
    cwd: String,
    /// The last decisions, newest last, for their outcomes.
    recent: VecDeque<Record>,
    warnings: Vec<String>,
    /// Where the session's configuration and rules came from, written into
    /// every decision so a weakened session shows in review.
    sources: Option<Provenance>,
    /// The syslog copy of the last record could not be sent.
    offhost_failed: bool,
    /// A probe thread that has not come back (a hung filesystem): no new
    /// one is started while it is stuck.
    probing: Arc<AtomicBool>,
}

impl Recorder {
    pub fn new(
        path: Result<PathBuf, String>,
        fsync: FsyncPolicy,
        wait: Duration,
        syslog: Option<SyslogTarget>,
        identity: &Identity,
    ) -> Recorder {
        Recorder {
            path,
            fsync,
            wait,
            syslog,
            actor: identity.who.clone(),
            cwd: identity.cwd.clone(),
            recent: VecDeque::new(),
            warnings: Vec::new(),
            sources: None,
            offhost_failed: false,
            probing: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The working directory written to the next records (the interactive
    /// shell follows `cd`).
    pub fn set_cwd(&mut self, cwd: String) {
        self.cwd = cwd;
    }

    /// Where the session's configuration and rules came from, for every
    /// decision recorded from now on.
    pub fn set_sources(&mut self, sources: Provenance) {
        self.sources = Some(sources);
    }

    /// Records a fleet slot given back outside a line (`safe-run release`,
    /// or at the first start after a reboot) as a decision that ran, with
    /// the slot, and its outcome: 0, or 1 when the store could not be told.
    pub fn slot_released(
        &mut self,
        mode: Mode,
        line: &str,
        reason: &str,
        slot: &SlotRecord,
    ) -> Result<(), SinkError> {
        let verdict = Verdict::default();
        let info = DecisionInfo {
            mode,
            line,
            argv: None,
            verdict: &verdict,
            decision: Decision::Allowed,
            reason: Some(reason),
            preview: None,
            slot: Some(slot),
            change: ChangeNote::default(),
        };
        let id = self.decision(&info, true)?;
        let failed = slot.error.is_some();
        let outcome = Outcome {
            exit: Some(i32::from(failed)),
            signal: None,
            status: i32::from(failed),
            duration: Duration::ZERO,
            error: None,
        };
        self.outcome(&id, &outcome)
    }

    /// The log file, or why there is none.
    pub fn log_path(&self) -> Result<&Path, &str> {
        self.path.as_deref().map_err(String::as_str)
    }

    /// Whether the log can be opened for appending now: tried on a helper
    /// thread and waited for at most `wait`, so a log on a hung filesystem
    /// costs the caller `wait`, once (while that thread stays stuck, later
    /// probes fail at once). Writes nothing; a log that opens may still fail
    /// to take a record (a full disk), which the append then reports.
    pub fn probe(&self, wait: Duration) -> Result<(), SinkError> {
        let path = self
            .path
            .as_ref()
            .map_err(|why| SinkError::NoLog(why.clone()))?
            .clone();
        if self.probing.swap(true, Ordering::SeqCst) {
            return Err(SinkError::TimedOut(format!(
                "the audit log {} did not answer (a hung filesystem?)",
                path.display()
            )));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let probing = Arc::clone(&self.probing);
        let shown = path.display().to_string();
        let spawned = std::thread::Builder::new()
            .name("audit-probe".into())
            .spawn(move || {
                let result = AuditLog::open(&path).map(drop);
                probing.store(false, Ordering::SeqCst);
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            self.probing.store(false, Ordering::SeqCst);
            return Err(SinkError::NotWritten(format!(
                "cannot check the audit log {shown}: {e}"
            )));
        }
        match rx.recv_timeout(wait) {
            Ok(result) => result.map_err(SinkError::from),
            Err(_) => Err(SinkError::TimedOut(format!(
                "the audit log {shown} did not answer within {} ms (a hung filesystem?)",
                wait.as_millis()
            ))),
        }
    }

    /// Appends `record` (and copies its sealed line to syslog); `void`: the
    /// record to append behind it if its write lands after the wait.
    fn write(
        &mut self,
        record: &Record,
        risky: bool,
        void: Option<Record>,
    ) -> Result<(), SinkError> {
        self.offhost_failed = false;
        let path = self
            .path
            .as_ref()
            .map_err(|why| SinkError::NoLog(why.clone()))?;
        let copy = self.syslog.clone().map(|target| {
            let severity = if risky {
                syslog::Severity::Notice
            } else {
                syslog::Severity::Info
            };
            Arc::new(move |line: &str| {
                syslog::send(
                    &target.socket,
                    target.facility,
                    severity,
                    syslog::DEFAULT_TAG,
                    line,
                    SYSLOG_WAIT,
                )
                .map_err(|e| e.to_string())
            }) as Arc<log::CopyFn>
        });
        let options = log::Options {
            fsync: self.fsync.should_sync(risky),
            timeout: self.wait,
            void,
            copy,
        };
        let appended = append_bounded(path, record, options).map_err(SinkError::from)?;
        self.offhost_failed = !appended.copy_errors.is_empty();
        for e in appended.copy_errors {
            self.warnings
                .push(format!("{e} (the local audit log has the record)"));
        }
        Ok(())
    }
}

/// How long a syslog copy may wait for a full socket (it is sent while the
/// log is locked).
const SYSLOG_WAIT: Duration = Duration::from_millis(200);

impl AuditSink for Recorder {
    fn decision(&mut self, info: &DecisionInfo, risky: bool) -> Result<String, SinkError> {
        let details = DecisionDetails {
            cwd: self.cwd.clone(),
            mode: info.mode,
            line: info.line.to_string(),
            argv: info.argv.map(<[String]>::to_vec),
            findings: info
                .verdict
                .findings
                .iter()
                .map(FindingRecord::from)
                .collect(),
            risk: info.verdict.risk,
            decision: info.decision,
            reason: info.reason.map(str::to_string),
        };
        let mut record = Record::decision(new_id(), now(), &self.actor, details);
        record.preview = info.preview.cloned();
        record.freeze = info.change.freeze.clone();
        record.break_glass = info.change.break_glass.then_some(true);
        record.approval = info.change.approval.clone();
        record.sources = self.sources.clone();
        record.slot = info.slot.cloned();
        let record = record.redacted();
        // Should the record land after the pipeline gave up on it, the
        // pipeline has refused the command: the log must say so behind it.
        let void = (risky && info.decision.runs()).then(|| {
            Record::not_run(
                new_id(),
                now(),
                &record,
                "refused: this decision's record was written after safe-run had stopped waiting for the audit log",
            )
        });
        let result = self.write(&record, risky, void);
        let id = record.id.clone();
        self.recent.push_back(record);
        if self.recent.len() > RECENT_DECISIONS {
            self.recent.pop_front();
        }
        result.map(|()| id)
    }

    fn outcome(&mut self, decision_id: &str, outcome: &Outcome) -> Result<(), SinkError> {
        self.outcome_with_slot(decision_id, outcome, None)
    }

    fn outcome_with_slot(
        &mut self,
        decision_id: &str,
        outcome: &Outcome,
        slot: Option<&SlotRecord>,
    ) -> Result<(), SinkError> {
        let Some(decision) = self.recent.iter().rev().find(|d| d.id == decision_id) else {
            return Err(SinkError::NotWritten(format!(
                "no decision record {decision_id} to attach the outcome to"
            )));
        };
        let ms = u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX);
        let mut record =
            Record::outcome(new_id(), now(), decision, outcome.exit, outcome.signal, ms);
        record.slot = slot.cloned();
        let risky = decision.risk.is_some_and(|r| r >= Risk::Medium);
        self.write(&record, risky, None)
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn offhost_failed(&self) -> bool {
        self.offhost_failed
    }

    fn ready(&mut self) -> Result<(), SinkError> {
        self.probe(PROBE_WAIT)
    }
}

/// The time now, RFC 3339 with the local offset and milliseconds.
pub fn now() -> String {
    format_rfc3339(&jiff::Timestamp::now().to_zoned(local_zone()))
}

/// `2026-11-21T22:41:07.123+00:00`. Written out by hand: jiff's strftime
/// loads the time zone database on first use.
fn format_rfc3339(t: &jiff::Zoned) -> String {
    let offset = t.offset().seconds();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond(),
        offset / 3600,
        (offset % 3600) / 60
    )
}

/// The local time zone, read directly: `TZ` (a zone name, a file, or a
/// POSIX rule) or `/etc/localtime`. jiff's own discovery indexes the whole
/// zoneinfo tree on first use, which would cost every `safe-run -- CMD`
/// about a millisecond.
fn local_zone() -> jiff::tz::TimeZone {
    use jiff::tz::TimeZone;
    let from_file = |name: &str, path: &Path| {
        std::fs::read(path)
            .ok()
            .and_then(|data| TimeZone::tzif(name, &data).ok())
    };
    match std::env::var("TZ") {
        Ok(tz) if !tz.is_empty() => {
            let name = tz.trim_start_matches(':');
            if name.starts_with('/') {
                return from_file(name, Path::new(name)).unwrap_or(TimeZone::UTC);
            }
            if !name.contains("..")
                && let Some(zone) = from_file(name, &Path::new("/usr/share/zoneinfo").join(name))
            {
                return zone;
            }
            TimeZone::posix(name).unwrap_or(TimeZone::UTC)
        }
        _ => from_file("localtime", Path::new("/etc/localtime")).unwrap_or(TimeZone::UTC),
    }
}

/// A unique record id: time, process and a random part, sortable by time.
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    format!(
        "{:013x}-{:06x}-{:04x}-{:08x}",
        nanos / 1_000_000,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff,
        h.finish() as u32
    )
}

/// The audit log to use: the configured path (not looked at here: only the
/// bounded writer touches it), else the first of `candidates` whose
/// directory exists and is writable or can be created. The candidates are
/// looked at on a helper thread for at most [`RESOLVE_WAIT`], so a hung
/// filesystem (a home directory on a dead NFS server) delays a session by
/// that much at most, and then counts as no usable log.
pub fn resolve_log_path(
    configured: Option<&Path>,
    candidates: &[PathBuf],
) -> Result<PathBuf, String> {
    if let Some(p) = configured {
        return Ok(p.to_path_buf());
    }
    let tried = candidates
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let owned = candidates.to_vec();
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("audit-resolve".into())
        .spawn(move || {
            let _ = tx.send(first_usable(&owned));
        });
    if let Err(e) = spawned {
        return Err(format!(
            "cannot start a thread to look for the audit log's place: {e}"
        ));
    }
    match rx.recv_timeout(RESOLVE_WAIT) {
        Ok(Some(path)) => Ok(path),
        Ok(None) => Err(format!(
            "no writable place for the audit log (tried {tried}); set [audit] path in the configuration"
        )),
        Err(_) => Err(format!(
            "the places for the audit log did not answer within {RESOLVE_WAIT:?} (tried {tried}; a filesystem hangs); set [audit] path in the configuration"
        )),
    }
}

/// How long [`resolve_log_path`] looks at the candidate places.
pub const RESOLVE_WAIT: Duration = log::DEFAULT_TIMEOUT;

/// The first candidate whose directory is writable, or can be created.
fn first_usable(candidates: &[PathBuf]) -> Option<PathBuf> {
    for c in candidates {
        let Some(dir) = c.parent() else { continue };
        if dir.is_dir() {
            if access(dir, AccessFlags::W_OK).is_ok()
                || (c.exists() && access(c.as_path(), AccessFlags::W_OK).is_ok())
            {
                return Some(c.clone());
            }
            continue;
        }
        // The directory does not exist yet: usable if its parent is writable.
        if let Some(up) = dir.parent()
            && (access(up, AccessFlags::W_OK).is_ok() || !up.exists())
        {
            return Some(c.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_with_offset_and_milliseconds() {
        let ts: jiff::Timestamp = "2026-11-21T22:41:07.123456Z".parse().unwrap();
        let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(-5));
        assert_eq!(
            format_rfc3339(&ts.to_zoned(tz)),
            "2026-11-21T17:41:07.123-05:00"
        );
        let half = jiff::tz::Offset::from_seconds(5 * 3600 + 1800).unwrap();
        let tz = jiff::tz::TimeZone::fixed(half);
        assert_eq!(
            format_rfc3339(&ts.to_zoned(tz)),
            "2026-11-22T04:11:07.123+05:30"
        );
    }

    #[test]
    fn ids_are_unique_within_a_process() {
        assert_ne!(new_id(), new_id());
    }
}
