//! The real audit sink: turns the pipeline's decisions and outcomes into
//! records, removes secrets, appends them to the log file (bounded wait,
//! fsync for risky lines) and copies them to syslog when configured.
//!
//! An edge module: it reads the clock and writes files and sockets. The
//! record format and the hash chain live in `audit`; the file locking in
//! `audit_log`; what to do when a write fails is the pipeline's decision.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::{AccessFlags, access};

use crate::audit::identity::Identity;
use crate::audit::log::{FsyncPolicy, append_with_timeout};
use crate::audit::record::{self, Actor, DecisionDetails, FindingRecord, Record};
use crate::audit::syslog;
use crate::exec::Outcome;
use crate::pipeline::{AuditSink, Decision, DecisionInfo, Mode};
use crate::verdict::Risk;

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
    last_decision: Option<Record>,
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
            actor: Actor {
                host: identity.host.clone(),
                user: identity.user.clone(),
                uid: identity.uid,
                login_user: identity.login_user.clone(),
                ssh: identity.ssh.clone(),
                tty: identity.tty.clone(),
            },
            cwd: identity.cwd.clone(),
            last_decision: None,
        }
    }

    /// The working directory written to the next records (the interactive
    /// shell follows `cd`).
    pub fn set_cwd(&mut self, cwd: String) {
        self.cwd = cwd;
    }

    /// The log file, or why there is none.
    pub fn log_path(&self) -> Result<&Path, &str> {
        self.path.as_deref().map_err(String::as_str)
    }

    fn write(&self, record: &Record, risky: bool) -> Result<(), String> {
        if let Some(target) = &self.syslog {
            let severity = if risky {
                syslog::Severity::Notice
            } else {
                syslog::Severity::Info
            };
            let body = serde_json::to_string(record).unwrap_or_default();
            if let Err(e) = syslog::send(
                &target.socket,
                target.facility,
                severity,
                syslog::DEFAULT_TAG,
                &body,
                Duration::from_millis(200),
            ) {
                eprintln!("safe-run: warning: {e} (the local audit log still gets the record)");
            }
        }
        let path = self.path.as_ref().map_err(Clone::clone)?;
        append_with_timeout(path, record, self.fsync.should_sync(risky), self.wait)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

impl AuditSink for Recorder {
    fn decision(&mut self, info: &DecisionInfo, risky: bool) -> Result<String, String> {
        let details = DecisionDetails {
            cwd: self.cwd.clone(),
            mode: match info.mode {
                Mode::Shell => record::Mode::Shell,
                Mode::DashC => record::Mode::Command,
                Mode::Argv => record::Mode::Argv,
            },
            line: info.line.to_string(),
            argv: info.argv.map(<[String]>::to_vec),
            findings: info
                .verdict
                .findings
                .iter()
                .map(FindingRecord::from)
                .collect(),
            risk: info.verdict.risk,
            decision: match info.decision {
                Decision::Allowed => record::Decision::Allowed,
                Decision::Confirmed => record::Decision::Confirmed,
                Decision::Refused => record::Decision::Refused,
                Decision::Denied => record::Decision::Denied,
                Decision::Aborted => record::Decision::Aborted,
            },
            reason: info.reason.map(str::to_string),
        };
        let record = Record::decision(new_id(), now(), &self.actor, details).redacted();
        let result = self.write(&record, risky);
        let id = record.id.clone();
        self.last_decision = Some(record);
        result.map(|()| id)
    }

    fn outcome(&mut self, decision_id: &str, outcome: &Outcome) -> Result<(), String> {
        let Some(decision) = self.last_decision.as_ref().filter(|d| d.id == decision_id) else {
            return Err(format!(
                "no decision record {decision_id} to attach the outcome to"
            ));
        };
        let ms = u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX);
        let record = Record::outcome(new_id(), now(), decision, outcome.exit, outcome.signal, ms);
        let risky = decision.risk.is_some_and(|r| r >= Risk::Medium);
        self.write(&record, risky)
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

/// The audit log to use: the configured path, else the first of `candidates`
/// whose directory exists and is writable or can be created.
pub fn resolve_log_path(
    configured: Option<&Path>,
    candidates: &[PathBuf],
) -> Result<PathBuf, String> {
    if let Some(p) = configured {
        return Ok(p.to_path_buf());
    }
    for c in candidates {
        let Some(dir) = c.parent() else { continue };
        if dir.is_dir() {
            if access(dir, AccessFlags::W_OK).is_ok()
                || (c.exists() && access(c.as_path(), AccessFlags::W_OK).is_ok())
            {
                return Ok(c.clone());
            }
            continue;
        }
        // The directory does not exist yet: usable if its parent is writable.
        if let Some(up) = dir.parent()
            && (access(up, AccessFlags::W_OK).is_ok() || !up.exists())
        {
            return Ok(c.clone());
        }
    }
    Err(format!(
        "no writable place for the audit log (tried {}); set [audit] path in the configuration",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
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
