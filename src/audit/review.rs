//! Reviewing the audit log: reading records out of lines, joining each
//! decision with its outcome, filtering, merging several logs by time and
//! summarising. What `safe-run audit` (list, show, follow, stats) is made of.
//!
//! Pure: no files, clock, environment or terminal. Lines come in as bytes,
//! "now" and the time zone as values; rows go out through a callback.
//! `review_cmd` is the edge that opens files and prints.
//!
//! Shaped by one promise: **a log of any size is reviewed in bounded memory
//! and about as fast as it can be read.**
//!
//! - **Streaming.** Nothing holds more than a line, the rows waiting for
//!   their outcome ([`Joiner`]) and the counters of [`Stats`].
//! - **A cheap look before parsing.** A line written by `audit::seal` has a
//!   fixed shape: `{"v":1,"id":…,"kind":…,"ts":…,"host":…,"user":…,"uid":…`
//!   first, the 149-byte seal last, and a decision's top-level `risk` and
//!   `decision` as the last `,"risk":"…","decision":"…"` before the seal
//!   (nothing after them can hold an unescaped quote). [`peek`] reads those
//!   fields in place; the filters on time, user, host, risk, decision and id
//!   reject most lines without a JSON parse, and an outcome whose decision
//!   is not waiting is dropped on its `decision_id` alone. Anything that
//!   does not have exactly that shape (an escape inside a peeked field, a
//!   foreign writer, another version) is parsed in full instead: the fast
//!   path only ever decides what a full parse would decide.
//! - **Lenient input.** A line counts if it *contains* a record: a syslog or
//!   journal header before the JSON, a JSON wrapper holding the record as a
//!   string (`journalctl -o json`'s `MESSAGE`) or as an object. Anything
//!   else is counted as skipped, never an error. A record queued while
//!   another process held the lock (`audit::log`) is read from its queued
//!   line, and its sealed copy further down is skipped, so it shows once.
//! - **The join.** Rows come out in the order of their decisions. A
//!   decision that cannot have an outcome (refused, denied, aborted) is a
//!   complete row at once; one that ran waits for the outcome carrying its
//!   id. At most [`JoinOptions::max_waiting`] rows wait: past that the
//!   oldest goes out without an outcome (a crash, a command still running, a
//!   log cut before it ended), and if its outcome turns up later it goes out
//!   again, whole, marked `late`. In follow mode a row that has waited
//!   [`JoinOptions::grace`] goes out as `running`, for the same reason.
//! - **The merge.** Several logs (hosts, rotated files, an export) are one
//!   stream by time: a k-way merge on each stream's next record, ties to the
//!   earlier stream, each stream's own order kept (records of one file may be
//!   a little out of time order when sessions race for the lock).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, civil};
use memchr::memmem;
use serde::{Deserialize as _, Serialize};

use crate::audit::record::{
    ApprovalRecord, FindingRecord, Kind, PreviewFacts, Record, SEAL_LEN, SlotEvent, SlotRecord,
};
use crate::verdict::{Decision, Mode, Risk};

// ---------------------------------------------------------------- time

/// The instant of an RFC 3339 `ts`, or `None` when it is not one.
pub fn parse_ts(text: &[u8]) -> Option<Timestamp> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Reads a `--since`/`--until` value: a duration before `now` (`2h`, `3d`,
/// `1h30m`, `90 min ago`), `now`, `today`, `yesterday`, a date (its start,
/// in `tz`), a local date and time (`2026-11-21 14:00`, in `tz`), or an
/// RFC 3339 time with its offset.
pub fn parse_when(text: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, String> {
    let text = text.trim();
    let zoned_now = now.to_zoned(tz.clone());
    let day_start = |days_back: i64| {
        zoned_now
            .date()
            .checked_sub(Span::new().days(days_back))
            .and_then(|d| d.to_zoned(tz.clone()))
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string())
    };
    match text {
        "now" => return Ok(now),
        "today" => return day_start(0),
        "yesterday" => return day_start(1),
        _ => {}
    }
    let relative = text.strip_suffix("ago").map_or(text, str::trim_end);
    if relative.starts_with(|c: char| c.is_ascii_digit())
        && let Ok(span) = relative.parse::<Span>()
    {
        return zoned_now
            .checked_sub(span)
            .map(|z| z.timestamp())
            .map_err(|e| format!("`{text}` reaches too far back: {e}"));
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = text.parse::<civil::DateTime>() {
        return dt
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "cannot read `{text}` as a time: give a duration before now (2h, 3d, 1h30m), \
         today or yesterday, a date (2026-11-21), a local time (2026-11-21 14:00) \
         or an RFC 3339 time (2026-11-21T14:00:00Z)"
    ))
}

// ---------------------------------------------------------------- lines

/// Where a record was read: the input's index and the 1-based line number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub source: usize,
    pub line: u64,
}

/// What [`peek`] reads from a sealed line without parsing it. Ranges are
/// byte ranges of the JSON object; every one holds text with no escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peek {
    pub kind: Kind,
    pub id: Range<usize>,
    pub ts: Option<Timestamp>,
    pub host: Range<usize>,
    pub user: Range<usize>,
    pub login_user: Option<Range<usize>>,
    /// Outcomes: the decision it belongs to.
    pub decision_id: Option<Range<usize>>,
    /// Decisions: the top-level risk and decision.
    pub risk: Option<Risk>,
    pub decision: Option<Decision>,
}

/// Text of a peeked range (always valid: ranges hold checked UTF-8).
fn text<'a>(obj: &'a [u8], range: &Range<usize>) -> &'a str {
    obj.get(range.clone())
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("")
}

impl Peek {
    pub fn id<'a>(&self, obj: &'a [u8]) -> &'a str {
        text(obj, &self.id)
    }
    pub fn decision_id<'a>(&self, obj: &'a [u8]) -> Option<&'a str> {
        self.decision_id.as_ref().map(|r| text(obj, r))
    }
}

const NATIVE_START: &[u8] = b"{\"v\":1,\"id\":\"";

static RISK_KEY: LazyLock<memmem::FinderRev<'static>> =
    LazyLock::new(|| memmem::FinderRev::new(b",\"risk\":\""));
static DECISION_ID_KEY: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b",\"decision_id\":\""));

/// A string value starting at `start` (just after its opening quote): the
/// range up to the closing quote, or `None` if it holds an escape or is not
/// UTF-8 (then the caller parses the line in full).
fn plain_string(obj: &[u8], start: usize) -> Option<Range<usize>> {
    let rest = obj.get(start..)?;
    let end = start + memchr::memchr(b'"', rest)?;
    let value = &obj[start..end];
    if memchr::memchr(b'\\', value).is_some() || std::str::from_utf8(value).is_err() {
        return None;
    }
    Some(start..end)
}

/// `obj[at..]` starts with `key`: the position after it.
fn expect(obj: &[u8], at: usize, key: &[u8]) -> Option<usize> {
    obj.get(at..)?.starts_with(key).then_some(at + key.len())
}

/// The fast look at a line written by `audit::seal` (see the module
/// header). `None` when the line does not have exactly that shape; the
/// caller then parses it in full.
pub fn peek(obj: &[u8]) -> Option<Peek> {
    let len = obj.len();
    if len <= SEAL_LEN + NATIVE_START.len()
        || !obj.starts_with(NATIVE_START)
        || !obj[len - SEAL_LEN..].starts_with(b",\"prev\":\"")
        || !obj.ends_with(b"\"}")
    {
        return None;
    }
    let id = plain_string(obj, NATIVE_START.len())?;
    let at = expect(obj, id.end, b"\",\"kind\":\"")?;
    let (kind, at) = if let Some(at) = expect(obj, at, b"decision\"") {
        (Kind::Decision, at)
    } else {
        (Kind::Outcome, expect(obj, at, b"outcome\"")?)
    };
    let ts = plain_string(obj, expect(obj, at, b",\"ts\":\"")?)?;
    let host = plain_string(obj, expect(obj, ts.end, b"\",\"host\":\"")?)?;
    let user = plain_string(obj, expect(obj, host.end, b"\",\"user\":\"")?)?;
    let mut at = expect(obj, user.end, b"\",\"uid\":")?;
    let digits = obj[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    at += digits;
    let login_user = match expect(obj, at, b",\"login_user\":\"") {
        Some(start) => Some(plain_string(obj, start)?),
        None => None,
    };
    let body = &obj[..len - SEAL_LEN];
    let mut peek = Peek {
        kind,
        ts: parse_ts(&obj[ts.clone()]),
        id,
        host,
        user,
        login_user,
        decision_id: None,
        risk: None,
        decision: None,
    };
    match kind {
        Kind::Outcome => {
            let key = DECISION_ID_KEY.find(&body[at..])? + at;
            peek.decision_id = Some(plain_string(obj, key + 16)?);
        }
        Kind::Decision => {
            let key = RISK_KEY.rfind(body)?;
            let risk = plain_string(obj, key + 9)?;
            peek.risk = Some(Risk::parse(text(obj, &risk))?);
            let decision = plain_string(obj, expect(obj, risk.end, b"\",\"decision\":\"")?)?;
            peek.decision = Some(Decision::parse(text(obj, &decision))?);
        }
    }
    Some(peek)
}

/// Reads a `--decision` word.
pub fn parse_decision(word: &str) -> Result<Decision, String> {
    Decision::parse(word.trim()).ok_or_else(|| {
        format!(
            "unknown decision `{word}` (expected allowed, confirmed, refused, denied or aborted)"
        )
    })
}

static RECORD_START: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new(b"{\"v\":"));

/// Where the JSON object of a line is: the whole line when it is one,
/// else from the first `{"v":` (or, failing that, the first `{`) to the
/// last `}`: a syslog or journal header before the record is skipped.
pub fn locate(line: &[u8]) -> Option<Range<usize>> {
    let end = line.iter().rposition(|b| !b.is_ascii_whitespace())? + 1;
    if line[end - 1] != b'}' {
        return None;
    }
    let start = if line.first() == Some(&b'{') {
        0
    } else {
        RECORD_START
            .find(&line[..end])
            .or_else(|| memchr::memchr(b'{', &line[..end]))?
    };
    Some(start..end)
}

/// A record from a JSON object, leniently: the object itself, or a record
/// held by one of its members as an object or as a JSON string (an export
/// from a log store), searched two levels deep.
pub fn parse_record(obj: &[u8]) -> Option<Record> {
    if let Ok(record) = serde_json::from_slice::<Record>(obj) {
        return Some(record);
    }
    let value: serde_json::Value = serde_json::from_slice(obj).ok()?;
    record_inside(&value, 2)
}

fn record_inside(value: &serde_json::Value, depth: u8) -> Option<Record> {
    let serde_json::Value::Object(members) = value else {
        return None;
    };
    for member in members.values() {
        match member {
            serde_json::Value::String(s) if s.contains("{\"v\":") => {
                let bytes = s.as_bytes();
                if let Some(record) = locate(bytes).and_then(|r| parse_record(&bytes[r])) {
                    return Some(record);
                }
            }
            serde_json::Value::Object(_) => {
                if let Ok(record) = Record::deserialize(member) {
                    return Some(record);
                }
                if depth > 0
                    && let Some(record) = record_inside(member, depth - 1)
                {
                    return Some(record);
                }
            }
            _ => {}
        }
    }
    None
}

/// One line of input, read as far as merging needs.
#[derive(Debug)]
pub struct Entry {
    /// The record's time, when it has one that reads.
    pub ts: Option<Timestamp>,
    pub at: Origin,
    pub body: Body,
}

#[derive(Debug)]
pub enum Body {
    /// A line in the sealed shape, peeked, not parsed yet.
    Native {
        line: Vec<u8>,
        obj: Range<usize>,
        peek: Peek,
    },
    /// A record found some other way (already parsed).
    Parsed(Box<Record>),
    /// Only whitespace.
    Blank,
    /// No record in it.
    Bad,
}

/// Reads what merging and filtering need from one line.
pub fn read_entry(line: Vec<u8>, at: Origin) -> Entry {
    let Some(obj) = locate(&line) else {
        let blank = line.iter().all(u8::is_ascii_whitespace);
        let body = if blank { Body::Blank } else { Body::Bad };
        return Entry { ts: None, at, body };
    };
    if let Some(peek) = peek(&line[obj.clone()]) {
        return Entry {
            ts: peek.ts,
            at,
            body: Body::Native { line, obj, peek },
        };
    }
    match parse_record(&line[obj]) {
        Some(record) => Entry {
            ts: parse_ts(record.ts.as_bytes()),
            at,
            body: Body::Parsed(Box::new(record)),
        },
        None => Entry {
            ts: None,
            at,
            body: Body::Bad,
        },
    }
}

// ---------------------------------------------------------------- merge

/// Several streams of entries as one, in time order (see the module
/// header). An entry with no readable time keeps its place in its stream.
pub struct Merge<I> {
    streams: Vec<I>,
    /// The next entry of each stream, keyed by (time, stream).
    heads: BinaryHeap<Reverse<Head>>,
    last: Vec<Option<Timestamp>>,
    started: bool,
}

struct Head {
    key: (Option<Timestamp>, usize),
    entry: Entry,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl<I: Iterator<Item = io::Result<Entry>>> Merge<I> {
    pub fn new(streams: Vec<I>) -> Merge<I> {
        let n = streams.len();
        Merge {
            streams,
            heads: BinaryHeap::with_capacity(n),
            last: vec![None; n],
            started: false,
        }
    }

    fn pull(&mut self, stream: usize) -> io::Result<()> {
        if let Some(entry) = self.streams[stream].next().transpose()? {
            let ts = entry.ts.or(self.last[stream]);
            self.last[stream] = ts;
            self.heads.push(Reverse(Head {
                key: (ts, stream),
                entry,
            }));
        }
        Ok(())
    }
}

impl<I: Iterator<Item = io::Result<Entry>>> Iterator for Merge<I> {
    type Item = io::Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.started {
            self.started = true;
            for stream in 0..self.streams.len() {
                if let Err(e) = self.pull(stream) {
                    return Some(Err(e));
                }
            }
        }
        let Reverse(head) = self.heads.pop()?;
        if let Err(e) = self.pull(head.key.1) {
            return Some(Err(e));
        }
        Some(Ok(head.entry))
    }
}

// ---------------------------------------------------------------- filter

/// Which rows to keep. Every condition given must hold.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// The user, or the login user behind sudo/su.
    pub users: Vec<String>,
    /// The host, or its short name.
    pub hosts: Vec<String>,
    /// At least this risk.
    pub min_risk: Option<Risk>,
    pub decisions: Vec<Decision>,
    /// A finding of one of these rules.
    pub rules: Vec<String>,
    /// Matches the line or the reason.
    pub grep: Option<regex::Regex>,
    /// Ran and failed: a non-zero exit or killed by a signal.
    pub failed: bool,
    /// The decision's id starts with this.
    pub id_prefix: Option<String>,
    /// A fleet slot event of one of these, on the decision or its outcome.
    pub slots: Vec<SlotEvent>,
    /// Only lines run with break-glass: through a change freeze, or without
    /// a fleet slot.
    pub break_glass: bool,
    /// Only lines that asked for a two-person approval (given or refused).
    pub approval: bool,
}

fn host_matches(recorded: &str, wanted: &str) -> bool {
    recorded == wanted
        || (recorded.len() > wanted.len()
            && recorded.starts_with(wanted)
            && recorded.as_bytes()[wanted.len()] == b'.')
}

impl Filter {
    fn time_ok(&self, ts: Option<Timestamp>) -> bool {
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        ts.is_some_and(|ts| {
            self.since.is_none_or(|since| ts >= since) && self.until.is_none_or(|until| ts <= until)
        })
    }

    fn user_ok(&self, user: &str, login_user: Option<&str>) -> bool {
        self.users.is_empty()
            || self
                .users
                .iter()
                .any(|u| u == user || login_user == Some(u.as_str()))
    }

    fn host_ok(&self, host: &str) -> bool {
        self.hosts.is_empty() || self.hosts.iter().any(|h| host_matches(host, h))
    }

    fn risk_ok(&self, risk: Option<Risk>) -> bool {
        self.min_risk
            .is_none_or(|min| risk.unwrap_or_default() >= min)
    }

    fn decision_ok(&self, decision: Option<Decision>) -> bool {
        self.decisions.is_empty() || decision.is_some_and(|d| self.decisions.contains(&d))
    }

    /// Whether a peeked decision can be dropped without parsing it.
    pub fn rejects_peek(&self, obj: &[u8], peek: &Peek) -> bool {
        let login_user = peek.login_user.as_ref().map(|r| text(obj, r));
        !(self
            .id_prefix
            .as_deref()
            .is_none_or(|p| peek.id(obj).starts_with(p))
            && self.time_ok(peek.ts)
            && self.user_ok(text(obj, &peek.user), login_user)
            && self.host_ok(text(obj, &peek.host))
            && self.risk_ok(peek.risk)
            && self.decision_ok(peek.decision))
    }

    /// Whether a decision passes every condition that does not need its
    /// outcome.
    pub fn matches_decision(&self, record: &Record) -> bool {
        let findings = record.findings.as_deref().unwrap_or_default();
        self.id_prefix
            .as_deref()
            .is_none_or(|p| record.id.starts_with(p))
            && self.time_ok(parse_ts(record.ts.as_bytes()))
            && self.user_ok(&record.user, record.login_user.as_deref())
            && self.host_ok(&record.host)
            && self.risk_ok(record.risk)
            && self.decision_ok(record.decision)
            && (self.rules.is_empty() || findings.iter().any(|f| self.rules.contains(&f.rule)))
            && self.grep.as_ref().is_none_or(|re| {
                record.line.as_deref().is_some_and(|l| re.is_match(l))
                    || record.reason.as_deref().is_some_and(|r| re.is_match(r))
            })
            && (!self.break_glass || record.break_glass == Some(true))
            && (!self.approval || record.approval.is_some())
    }

    /// Whether a joined row passes the conditions on the outcome.
    pub fn matches_row(&self, row: &Row) -> bool {
        (!self.failed || matches!(row.status, Status::Failed | Status::Killed))
            && (self.slots.is_empty() || row.slot_events().any(|e| self.slots.contains(&e)))
    }
}

// ---------------------------------------------------------------- rows

/// How a command ended, as far as the log tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Exit status 0.
    Ok,
    /// A non-zero exit status.
    Failed,
    /// Killed by a signal.
    Killed,
    /// Refused, denied or aborted: it never ran.
    NotRun,
    /// It ran, and no outcome was found (safe-run was killed, the command
    /// is still running, or the outcome is in a log not read).
    NoOutcome,
    /// Follow mode: still running when shown.
    Running,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Killed => "killed",
            Status::NotRun => "not-run",
            Status::NoOutcome => "no-outcome",
            Status::Running => "running",
        }
    }

    fn of(decision: &Record, outcome: Option<&Record>, waiting: Status) -> Status {
        match outcome {
            Some(o) if o.not_run.is_some() => Status::NotRun,
            Some(o) => match (o.exit, o.signal) {
                (_, Some(_)) => Status::Killed,
                (Some(0), None) => Status::Ok,
                (Some(_), None) => Status::Failed,
                (None, None) => Status::NoOutcome,
            },
            None if decision.decision.is_some_and(Decision::runs) => waiting,
            None => Status::NotRun,
        }
    }
}

/// One command: its decision and, when it ran and it was seen, its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub decision: Record,
    pub at: Origin,
    pub outcome: Option<Record>,
    pub outcome_at: Option<Origin>,
    pub status: Status,
    /// Shown before without its outcome (see the module header).
    pub late: bool,
}

/// A row as `--json` prints it: the decision's fields, then the outcome's.
#[derive(Serialize)]
pub struct JsonRow<'a> {
    id: &'a str,
    ts: &'a str,
    host: &'a str,
    user: &'a str,
    uid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    login_user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ssh: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tty: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<Mode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    argv: Option<&'a [String]>,
    findings: &'a [FindingRecord],
    risk: Risk,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<&'a PreviewFacts>,
    /// The fleet slot taken, refused or broken through before it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    slot: Option<&'a SlotRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    freeze: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    break_glass: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<&'a ApprovalRecord>,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_run: Option<&'a str>,
    /// What became of the slot when it ended: given back, or kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    slot_after: Option<&'a SlotRecord>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    late: bool,
}

impl Row {
    pub fn json(&self) -> JsonRow<'_> {
        let d = &self.decision;
        let o = self.outcome.as_ref();
        JsonRow {
            id: &d.id,
            ts: &d.ts,
            host: &d.host,
            user: &d.user,
            uid: d.uid,
            login_user: d.login_user.as_deref(),
            ssh: d.ssh.as_deref(),
            tty: d.tty.as_deref(),
            cwd: d.cwd.as_deref(),
            mode: d.mode,
            line: d.line.as_deref(),
            argv: d.argv.as_deref(),
            findings: d.findings.as_deref().unwrap_or_default(),
            risk: d.risk.unwrap_or_default(),
            decision: d.decision,
            reason: d.reason.as_deref(),
            preview: d.preview.as_ref(),
            slot: d.slot.as_ref(),
            freeze: d.freeze.as_deref(),
            break_glass: d.break_glass,
            approval: d.approval.as_ref(),
            status: self.status,
            exit: o.and_then(|o| o.exit),
            signal: o.and_then(|o| o.signal),
            duration_ms: o.and_then(|o| o.duration_ms),
            ended: o.map(|o| o.ts.as_str()),
            outcome_id: o.map(|o| o.id.as_str()),
            not_run: o.and_then(|o| o.not_run.as_deref()),
            slot_after: o.and_then(|o| o.slot.as_ref()),
            late: self.late,
        }
    }

    /// The fleet slot events of the row: its decision's, then its outcome's.
    pub fn slot_events(&self) -> impl Iterator<Item = SlotEvent> + '_ {
        self.decision
            .slot
            .iter()
            .chain(self.outcome.as_ref().and_then(|o| o.slot.as_ref()))
            .map(|s| s.event)
    }

    /// Who ran it, for tables and counts: `user`, or `user(login_user)`
    /// when a different person is behind it (sudo, su).
    pub fn who(&self) -> String {
        let d = &self.decision;
        match d.login_user.as_deref() {
            Some(login) if login != d.user => format!("{}({login})", d.user),
            _ => d.user.clone(),
        }
    }
}

// ---------------------------------------------------------------- join

/// How the [`Joiner`] bounds its waiting.
#[derive(Clone, Copy, Debug)]
pub struct JoinOptions {
    /// Rows held back waiting for an outcome (or behind one that waits).
    pub max_waiting: usize,
    /// Decisions remembered after going out without their outcome, so a
    /// late outcome can still be joined.
    pub max_shown: usize,
    /// Follow mode: a row still running after this long goes out.
    pub grace: Option<Duration>,
}

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions {
            max_waiting: 10_000,
            max_shown: 10_000,
            grace: None,
        }
    }
}

struct Slot {
    row: Row,
    complete: bool,
    since: Option<Instant>,
}

/// Joins decisions with their outcomes in bounded memory (see the module
/// header).
pub struct Joiner {
    options: JoinOptions,
    queue: VecDeque<Slot>,
    /// Sequence number of `queue[0]`.
    first: u64,
    /// Decision id → sequence number, for rows waiting for their outcome.
    waiting: HashMap<String, u64>,
    /// Decisions that went out before their outcome, oldest first.
    shown: HashMap<String, (Record, Origin)>,
    shown_order: VecDeque<String>,
    now: Option<Instant>,
}

impl Joiner {
    pub fn new(options: JoinOptions) -> Joiner {
        Joiner {
            options,
            queue: VecDeque::new(),
            first: 0,
            waiting: HashMap::new(),
            shown: HashMap::new(),
            shown_order: VecDeque::new(),
            now: None,
        }
    }

    /// Is an outcome for this decision id still wanted?
    pub fn wants(&self, decision_id: &str) -> bool {
        self.waiting.contains_key(decision_id) || self.shown.contains_key(decision_id)
    }

    /// Rows held now.
    pub fn held(&self) -> usize {
        self.queue.len()
    }

    pub fn decision(&mut self, record: Record, at: Origin, emit: &mut dyn FnMut(Row)) {
        let runs = record.decision.is_some_and(Decision::runs);
        if runs {
            let seq = self.first + self.queue.len() as u64;
            self.waiting.insert(record.id.clone(), seq);
        }
        self.queue.push_back(Slot {
            row: Row {
                status: Status::of(&record, None, Status::NoOutcome),
                decision: record,
                at,
                outcome: None,
                outcome_at: None,
                late: false,
            },
            complete: !runs,
            since: self.now,
        });
        self.drain(emit);
    }

    /// Joins an outcome; `false` when no decision was waiting for it.
    pub fn outcome(&mut self, record: Record, at: Origin, emit: &mut dyn FnMut(Row)) -> bool {
        let Some(id) = record.decision_id.clone() else {
            return false;
        };
        if let Some(seq) = self.waiting.remove(&id) {
            let index = usize::try_from(seq - self.first).unwrap_or(usize::MAX);
            if let Some(slot) = self.queue.get_mut(index) {
                slot.row.status = Status::of(&slot.row.decision, Some(&record), Status::NoOutcome);
                slot.row.outcome = Some(record);
                slot.row.outcome_at = Some(at);
                slot.complete = true;
            }
            self.drain(emit);
            return true;
        }
        if let Some((decision, decision_at)) = self.shown.remove(&id) {
            emit(Row {
                status: Status::of(&decision, Some(&record), Status::NoOutcome),
                decision,
                at: decision_at,
                outcome: Some(record),
                outcome_at: Some(at),
                late: true,
            });
            return true;
        }
        false
    }

    /// Follow mode: the time is now `now`; rows that have waited past the
    /// grace go out as running.
    pub fn tick(&mut self, now: Instant, emit: &mut dyn FnMut(Row)) {
        self.now = Some(now);
        if let Some(grace) = self.options.grace {
            while self.queue.front().is_some_and(|slot| {
                !slot.complete
                    && slot
                        .since
                        .is_none_or(|since| now.saturating_duration_since(since) >= grace)
            }) {
                self.pop_incomplete(Status::Running, emit);
                self.drain(emit);
            }
        }
    }

    /// The end of the input: every row goes out.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Row)) {
        while let Some(slot) = self.queue.front() {
            if slot.complete {
                self.pop_complete(emit);
            } else {
                self.pop_incomplete(Status::NoOutcome, emit);
            }
        }
    }

    fn drain(&mut self, emit: &mut dyn FnMut(Row)) {
        loop {
            match self.queue.front() {
                Some(slot) if slot.complete => self.pop_complete(emit),
                Some(_) if self.queue.len() > self.options.max_waiting => {
                    let status = match self.options.grace {
                        Some(_) => Status::Running,
                        None => Status::NoOutcome,
                    };
                    self.pop_incomplete(status, emit);
                }
                _ => return,
            }
        }
    }

    fn pop_complete(&mut self, emit: &mut dyn FnMut(Row)) {
        if let Some(slot) = self.queue.pop_front() {
            self.first += 1;
            emit(slot.row);
        }
    }

    fn pop_incomplete(&mut self, status: Status, emit: &mut dyn FnMut(Row)) {
        let Some(mut slot) = self.queue.pop_front() else {
            return;
        };
        self.first += 1;
        let id = slot.row.decision.id.clone();
        if self.waiting.get(&id) == Some(&(self.first - 1)) {
            self.waiting.remove(&id);
        }
        if self.options.max_shown > 0 {
            if self.shown.len() >= self.options.max_shown
                && let Some(oldest) = self.shown_order.pop_front()
            {
                self.shown.remove(&oldest);
            }
            self.shown
                .insert(id.clone(), (slot.row.decision.clone(), slot.row.at));
            self.shown_order.push_back(id);
        }
        slot.row.status = status;
        emit(slot.row);
    }
}

// ---------------------------------------------------------------- review

/// What the reading saw besides rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines that held a record.
    pub records: u64,
    /// Lines that held none (blank lines are not counted).
    pub skipped: u64,
    pub first_skipped: Option<Origin>,
}

/// Records in, filtered and joined rows out: the whole of list, show,
/// follow and stats but for reading and printing.
pub struct Review {
    pub filter: Filter,
    joiner: Joiner,
    pub counts: Counts,
    /// Ids of queued records shown, whose sealed copies are skipped.
    queued: std::collections::HashSet<String>,
}

/// How many queued ids are remembered at once.
const MAX_QUEUED: usize = 10_000;

impl Review {
    pub fn new(filter: Filter, options: JoinOptions) -> Review {
        Review {
            filter,
            joiner: Joiner::new(options),
            counts: Counts::default(),
            queued: std::collections::HashSet::new(),
        }
    }

    fn skip(&mut self, at: Origin) {
        self.counts.skipped += 1;
        self.counts.first_skipped.get_or_insert(at);
    }

    /// Reads one entry; rows that are complete go to `emit`.
    pub fn feed(&mut self, entry: Entry, emit: &mut dyn FnMut(Row)) {
        let at = entry.at;
        let record = match entry.body {
            Body::Blank => return,
            Body::Bad => return self.skip(at),
            Body::Parsed(record) => {
                self.counts.records += 1;
                *record
            }
            Body::Native { line, obj, peek } => {
                let obj = &line[obj];
                // The sealed copy of a queued record already shown.
                if !self.queued.is_empty() && self.queued.remove(peek.id(obj)) {
                    return;
                }
                self.counts.records += 1;
                let wanted = match peek.kind {
                    Kind::Outcome => peek
                        .decision_id(obj)
                        .is_some_and(|id| self.joiner.wants(id)),
                    Kind::Decision => !self.filter.rejects_peek(obj, &peek),
                };
                if !wanted {
                    return;
                }
                match serde_json::from_slice::<Record>(obj) {
                    Ok(record) => record,
                    Err(_) => {
                        self.counts.records -= 1;
                        return self.skip(at);
                    }
                }
            }
        };
        // A record queued while the lock was held is shown once: as the
        // queued line, and its sealed copy further down is skipped.
        if record.queued {
            if self.queued.len() >= MAX_QUEUED {
                self.queued.clear();
            }
            self.queued.insert(record.id.clone());
        } else if !self.queued.is_empty() && self.queued.remove(&record.id) {
            self.counts.records -= 1;
            return;
        }
        let filter = &self.filter;
        let mut keep = |row: Row| {
            if filter.matches_row(&row) {
                emit(row);
            }
        };
        match record.kind {
            Kind::Decision if filter.matches_decision(&record) => {
                self.joiner.decision(record, at, &mut keep);
            }
            Kind::Decision => {}
            Kind::Outcome => {
                self.joiner.outcome(record, at, &mut keep);
            }
        }
    }

    /// See [`Joiner::tick`].
    pub fn tick(&mut self, now: Instant, emit: &mut dyn FnMut(Row)) {
        let filter = &self.filter;
        self.joiner.tick(now, &mut |row| {
            if filter.matches_row(&row) {
                emit(row)
            }
        });
    }

    /// The end of the input.
    pub fn finish(&mut self, emit: &mut dyn FnMut(Row)) {
        let filter = &self.filter;
        self.joiner.finish(&mut |row| {
            if filter.matches_row(&row) {
                emit(row)
            }
        });
    }
}

// ---------------------------------------------------------------- stats

/// The most frequent keys of a stream in bounded memory: counts are exact
/// while fewer than `2 × capacity` distinct keys were seen; past that the
/// rarest half is dropped now and then and a new key starts from the
/// largest count dropped (the Space-Saving bound), so a count is at most
/// `error` too high.
#[derive(Clone, Debug, Default)]
pub struct TopK {
    capacity: usize,
    counts: HashMap<String, (u64, u64)>,
    floor: u64,
}

/// One entry of [`TopK::top`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counted {
    pub key: String,
    pub count: u64,
    /// The count may be this much too high (0: exact).
    #[serde(skip_serializing_if = "is_zero")]
    pub error: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl TopK {
    pub fn new(capacity: usize) -> TopK {
        TopK {
            capacity: capacity.max(1),
            ..TopK::default()
        }
    }

    pub fn add(&mut self, key: &str) {
        if let Some(entry) = self.counts.get_mut(key) {
            entry.0 += 1;
            return;
        }
        if self.counts.len() >= 2 * self.capacity {
            let mut all: Vec<(String, (u64, u64))> = self.counts.drain().collect();
            all.sort_unstable_by_key(|(_, (count, _))| Reverse(*count));
            if let Some((_, (count, _))) = all.get(self.capacity) {
                self.floor = self.floor.max(*count);
            }
            all.truncate(self.capacity);
            self.counts.extend(all);
        }
        self.counts
            .insert(key.to_string(), (self.floor + 1, self.floor));
    }

    /// The `n` most frequent, most frequent first (ties by key).
    pub fn top(&self, n: usize) -> Vec<Counted> {
        let mut all: Vec<Counted> = self
            .counts
            .iter()
            .map(|(key, (count, error))| Counted {
                key: key.clone(),
                count: *count,
                error: *error,
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        all.truncate(n);
        all
    }
}

/// The summary `safe-run audit stats` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub commands: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    pub by_decision: BTreeMap<&'static str, u64>,
    pub by_status: BTreeMap<&'static str, u64>,
    pub by_risk: BTreeMap<Risk, u64>,
    pub by_rule: BTreeMap<String, u64>,
    pub by_user: BTreeMap<String, u64>,
    pub by_host: BTreeMap<String, u64>,
    /// By the date written in the record (the host's local date).
    pub by_day: BTreeMap<String, u64>,
    pub confirmations_by_user: BTreeMap<String, u64>,
    /// Fleet slot events (held, refused, break-glass, released, …).
    pub by_slot: BTreeMap<&'static str, u64>,
    /// Lines a change freeze held back (refused or aborted there).
    pub held_by_freeze: u64,
    /// Lines run with break-glass (through a freeze, or without a fleet slot).
    pub break_glass: u64,
    /// Two-person approvals accepted, and refused.
    pub approvals: u64,
    pub approvals_refused: u64,
    /// Accepted approvals by who signed them.
    pub approvals_by_approver: BTreeMap<String, u64>,
    #[serde(skip)]
    risky: TopK,
    #[serde(skip)]
    refused: TopK,
    #[serde(skip)]
    first_ts: Option<Timestamp>,
    #[serde(skip)]
    last_ts: Option<Timestamp>,
}

/// The top lists of [`Stats`], computed when printing.
#[derive(Clone, Debug, Serialize)]
pub struct StatsTops {
    /// Lines of at least medium risk, most frequent first.
    pub risky_commands: Vec<Counted>,
    /// `decision: line` of refused, denied and aborted commands.
    pub refused_and_aborted: Vec<Counted>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            commands: 0,
            first: None,
            last: None,
            by_decision: BTreeMap::new(),
            by_status: BTreeMap::new(),
            by_risk: BTreeMap::new(),
            by_rule: BTreeMap::new(),
            by_user: BTreeMap::new(),
            by_host: BTreeMap::new(),
            by_day: BTreeMap::new(),
            confirmations_by_user: BTreeMap::new(),
            by_slot: BTreeMap::new(),
            held_by_freeze: 0,
            break_glass: 0,
            approvals: 0,
            approvals_refused: 0,
            approvals_by_approver: BTreeMap::new(),
            risky: TopK::new(1000),
            refused: TopK::new(1000),
            first_ts: None,
            last_ts: None,
        }
    }

    pub fn add(&mut self, row: &Row) {
        fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
            *map.entry(key).or_default() += 1;
        }
        let d = &row.decision;
        // A late row repeats a command already counted.
        if row.late {
            if let Some(count) = self.by_status.get_mut(Status::NoOutcome.as_str()) {
                *count = count.saturating_sub(1);
            }
            bump(&mut self.by_status, row.status.as_str());
            return;
        }
        self.commands += 1;
        if let Some(ts) = parse_ts(d.ts.as_bytes()) {
            if self.first_ts.is_none_or(|first| ts < first) {
                self.first_ts = Some(ts);
                self.first = Some(d.ts.clone());
            }
            if self.last_ts.is_none_or(|last| ts > last) {
                self.last_ts = Some(ts);
                self.last = Some(d.ts.clone());
            }
        }
        let decision = d.decision.map_or("unknown", Decision::as_str);
        bump(&mut self.by_decision, decision);
        bump(&mut self.by_status, row.status.as_str());
        let risk = d.risk.unwrap_or_default();
        bump(&mut self.by_risk, risk);
        let findings = d.findings.as_deref().unwrap_or_default();
        for (i, f) in findings.iter().enumerate() {
            // A rule that hit twice in one line counts once.
            if !findings[..i].iter().any(|g| g.rule == f.rule) {
                bump(&mut self.by_rule, f.rule.clone());
            }
        }
        if d.break_glass == Some(true) {
            self.break_glass += 1;
        } else if d.freeze.is_some() && !d.decision.is_some_and(Decision::runs) {
            self.held_by_freeze += 1;
        }
        match &d.approval {
            Some(a) if a.refused.is_some() => self.approvals_refused += 1,
            Some(a) => {
                self.approvals += 1;
                bump(
                    &mut self.approvals_by_approver,
                    a.approver.clone().unwrap_or_default(),
                );
            }
            None => {}
        }
        let who = row.who();
        if d.decision == Some(Decision::Confirmed) {
            bump(&mut self.confirmations_by_user, who.clone());
        }
        bump(&mut self.by_user, who);
        for event in row.slot_events() {
            bump(&mut self.by_slot, event.as_str());
        }
        bump(&mut self.by_host, d.host.clone());
        bump(
            &mut self.by_day,
            d.ts.get(..10).unwrap_or(&d.ts).to_string(),
        );
        let line = d.line.as_deref().unwrap_or("");
        if risk >= Risk::Medium {
            self.risky.add(line);
        }
        if matches!(
            d.decision,
            Some(Decision::Refused | Decision::Denied | Decision::Aborted)
        ) {
            self.refused.add(&format!("{decision}: {line}"));
        }
    }

    pub fn tops(&self, n: usize) -> StatsTops {
        StatsTops {
            risky_commands: self.risky.top(n),
            refused_and_aborted: self.refused.top(n),
        }
    }
}

// ---------------------------------------------------------------- files

/// Where a file stands in a rotated set, oldest first: `NAME.3.gz`,
/// `NAME.2.gz`, `NAME.1`, then dated ones (`NAME-20261121`), then `NAME`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rotation {
    Numbered(Reverse<u64>),
    Dated(usize, String),
    Current,
}

/// The live log a file was rotated from, and its place among the rotated
/// files: `audit.jsonl.2.gz` → (`audit.jsonl`, `Numbered(2)`).
pub fn rotation_of(path: &Path) -> (PathBuf, Rotation) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let numbered = stem.rsplit_once('.').and_then(|(base, n)| {
        (!n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()))
            .then(|| (base, n.parse::<u64>().ok()))
    });
    let (base, rotation) = match numbered {
        Some((base, Some(n))) if !base.is_empty() => (base, Rotation::Numbered(Reverse(n))),
        _ => match stem.rsplit_once('-') {
            Some((base, date))
                if !base.is_empty()
                    && date.len() >= 8
                    && date.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (base, Rotation::Dated(date.len(), date.to_string()))
            }
            _ => (stem, Rotation::Current),
        },
    };
    (path.with_file_name(base), rotation)
}

/// Files grouped by the log they were rotated from (in the order each log
/// is first named), each group oldest first: one hash chain per group.
pub fn rotation_groups(files: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    let mut groups: Vec<(PathBuf, Vec<(Rotation, PathBuf)>)> = Vec::new();
    for file in files {
        let (base, rotation) = if file.as_os_str() == "-" {
            (file.clone(), Rotation::Current)
        } else {
            rotation_of(file)
        };
        match groups.iter_mut().find(|(b, _)| *b == base) {
            Some((_, members)) => members.push((rotation, file.clone())),
            None => groups.push((base, vec![(rotation, file.clone())])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut members)| {
            members.sort_by(|a, b| a.0.cmp(&b.0));
            members.into_iter().map(|(_, f)| f).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Actor, DecisionDetails, GENESIS, seal};

    fn actor(user: &str, login: Option<&str>) -> Actor {
        Actor {
            host: "core-1.prod".into(),
            user: user.into(),
            uid: 1001,
            login_user: login.map(str::to_string),
            ssh: None,
            tty: Some("/dev/pts/3".into()),
        }
    }

    fn decision(id: &str, ts: &str, line: &str, risk: Risk, decision: Decision) -> Record {
        Record::decision(
            id,
            ts,
            &actor("root", Some("alice")),
            DecisionDetails {
                cwd: "/root".into(),
                mode: Mode::Shell,
                line: line.into(),
                argv: None,
                findings: if risk > Risk::None {
                    vec![FindingRecord {
                        rule: "some-rule".into(),
                        risk,
                    }]
                } else {
                    vec![]
                },
                risk,
                decision,
                reason: Some("because \"risk\":\"none\"".into()),
            },
        )
    }

    fn entry(record: &Record, line: u64) -> Entry {
        read_entry(
            seal(record, GENESIS).into_bytes(),
            Origin { source: 0, line },
        )
    }

    #[test]
    fn peek_reads_what_a_full_parse_reads() {
        let d = decision(
            "01J",
            "2026-11-21T22:41:07.123+00:00",
            "echo '\"risk\":\"critical\",\"decision\":\"denied\"'",
            Risk::High,
            Decision::Confirmed,
        );
        let line = seal(&d, GENESIS);
        let obj = line.as_bytes();
        let p = peek(obj).expect("native line");
        assert_eq!(p.kind, Kind::Decision);
        assert_eq!(p.id(obj), "01J");
        assert_eq!(p.risk, Some(Risk::High));
        assert_eq!(p.decision, Some(Decision::Confirmed));
        assert_eq!(text(obj, &p.host), "core-1.prod");
        assert_eq!(text(obj, &p.user), "root");
        assert_eq!(p.login_user.as_ref().map(|r| text(obj, r)), Some("alice"));
        assert_eq!(p.ts, "2026-11-21T22:41:07.123Z".parse().ok());

        let o = Record::outcome("02J", "2026-11-21T22:42:00+00:00", &d, Some(0), None, 5);
        let line = seal(&o, GENESIS);
        let p = peek(line.as_bytes()).unwrap();
        assert_eq!(p.kind, Kind::Outcome);
        assert_eq!(p.decision_id(line.as_bytes()), Some("01J"));
    }

    #[test]
    fn peek_steps_aside_for_escapes_and_foreign_shapes() {
        let mut d = decision("a\"b", "t", "ls", Risk::None, Decision::Allowed);
        assert_eq!(peek(seal(&d, GENESIS).as_bytes()), None);
        d.id = "ok".into();
        d.user = "r\\oot".into();
        assert_eq!(peek(seal(&d, GENESIS).as_bytes()), None);
        let unsealed =
            serde_json::to_string(&decision("x", "t", "ls", Risk::Low, Decision::Allowed)).unwrap();
        assert_eq!(peek(unsealed.as_bytes()), None);
        // …and the full parse still reads them.
        let e = read_entry(seal(&d, GENESIS).into_bytes(), Origin::default());
        assert!(matches!(e.body, Body::Parsed(ref r) if r.user == "r\\oot"));
        let e = read_entry(unsealed.into_bytes(), Origin::default());
        assert!(matches!(e.body, Body::Parsed(_)));
    }

    proptest::proptest! {
        #[test]
        fn peek_agrees_with_the_parse_on_any_text(
            id in "\\PC{0,12}", user in "\\PC{0,8}", line in "\\PC{0,40}", reason in "\\PC{0,20}",
            risk in 0usize..5, dec in 0usize..5,
        ) {
            let decisions = [Decision::Allowed, Decision::Confirmed, Decision::Refused, Decision::Denied, Decision::Aborted];
            let mut d = decision(&id, "2026-11-21T22:41:07+01:00", &line, Risk::ALL[risk], decisions[dec]);
            d.user = user;
            d.reason = Some(reason);
            let sealed = seal(&d, GENESIS);
            let parsed: Record = serde_json::from_str(&sealed).unwrap();
            if let Some(p) = peek(sealed.as_bytes()) {
                let obj = sealed.as_bytes();
                proptest::prop_assert_eq!(p.id(obj), parsed.id.as_str());
                proptest::prop_assert_eq!(text(obj, &p.user), parsed.user.as_str());
                proptest::prop_assert_eq!(p.risk, parsed.risk);
                proptest::prop_assert_eq!(p.decision, parsed.decision);
            }
            let _ = read_entry(sealed.into_bytes(), Origin::default());
        }

        #[test]
        fn any_line_is_read_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut review = Review::new(Filter::default(), JoinOptions::default());
            review.feed(read_entry(bytes, Origin::default()), &mut |_| {});
            review.finish(&mut |_| {});
        }
    }

    #[test]
    fn records_are_found_inside_exports() {
        let d = decision(
            "01J",
            "2026-11-21T22:41:07Z",
            "reboot",
            Risk::High,
            Decision::Denied,
        );
        let sealed = seal(&d, GENESIS);
        let syslog = format!("Nov 21 22:41:07 core-1 safe-run[4242]: {sealed}\n");
        let journal =
            serde_json::json!({"__REALTIME_TIMESTAMP": "1", "MESSAGE": sealed}).to_string();
        let nested = serde_json::json!({"@timestamp": "x", "event": {"original": serde_json::from_str::<serde_json::Value>(&sealed).unwrap()}}).to_string();
        for line in [syslog, journal, nested, format!("{sealed}\r\n")] {
            let e = read_entry(line.clone().into_bytes(), Origin::default());
            let id = match &e.body {
                Body::Native { line, obj, peek } => peek.id(&line[obj.clone()]).to_string(),
                Body::Parsed(r) => r.id.clone(),
                other => panic!("{line}: {other:?}"),
            };
            assert_eq!(id, "01J", "{line}");
            assert!(e.ts.is_some());
        }
        for junk in ["hello", "{", "{\"a\":1}", "Nov 21 kernel: {oops}"] {
            let e = read_entry(junk.as_bytes().to_vec(), Origin::default());
            assert!(matches!(e.body, Body::Bad), "{junk}");
        }
        assert!(matches!(
            read_entry(b"  \n".to_vec(), Origin::default()).body,
            Body::Blank
        ));
    }

    fn run(filter: Filter, records: &[Record]) -> Vec<Row> {
        let mut review = Review::new(filter, JoinOptions::default());
        let mut rows = Vec::new();
        for (i, r) in records.iter().enumerate() {
            review.feed(entry(r, i as u64 + 1), &mut |row| rows.push(row));
        }
        review.finish(&mut |row| rows.push(row));
        rows
    }

    fn sample() -> Vec<Record> {
        let a = decision(
            "a",
            "2026-11-21T10:00:00Z",
            "sudo reboot",
            Risk::High,
            Decision::Confirmed,
        );
        let b = decision(
            "b",
            "2026-11-21T10:00:01Z",
            "ls",
            Risk::None,
            Decision::Allowed,
        );
        let c = decision(
            "c",
            "2026-11-21T10:00:02Z",
            "rm -rf /",
            Risk::Critical,
            Decision::Denied,
        );
        let ob = Record::outcome("ob", "2026-11-21T10:00:03Z", &b, Some(2), None, 1);
        let oa = Record::outcome("oa", "2026-11-21T10:05:00Z", &a, None, Some(9), 300_000);
        vec![a, b, c, ob, oa]
    }

    #[test]
    fn preview_facts_are_read_fast_and_shown_in_the_json_row() {
        let mut d = decision(
            "p",
            "2026-11-21T10:00:00Z",
            "sudo apt-get upgrade",
            Risk::High,
            Decision::Aborted,
        );
        let mut facts = PreviewFacts::new();
        facts.insert(
            "major_bumps".into(),
            serde_json::json!(["docker-ce 19.03.15→20.10.5"]),
        );
        d.preview = Some(facts);
        let line = seal(&d, GENESIS);
        let peek = peek(line.as_bytes()).expect("the fast path still reads it");
        assert_eq!(
            (peek.risk, peek.decision),
            (Some(Risk::High), Some(Decision::Aborted))
        );
        let rows = run(Filter::default(), &[d]);
        let json = serde_json::to_string(&rows[0].json()).unwrap();
        assert!(
            json.contains(r#""preview":{"major_bumps":["docker-ce 19.03.15→20.10.5"]}"#),
            "{json}"
        );
    }

    #[test]
    fn rows_come_out_in_decision_order_with_their_outcomes() {
        let rows = run(Filter::default(), &sample());
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.decision.id.as_str(),
                    r.status,
                    r.outcome_at.map(|o| o.line),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a", Status::Killed, Some(5)),
                ("b", Status::Failed, Some(4)),
                ("c", Status::NotRun, None)
            ]
        );
    }

    #[test]
    fn filters_combine() {
        let ids = |filter: Filter| -> Vec<String> {
            run(filter, &sample())
                .into_iter()
                .map(|r| r.decision.id)
                .collect()
        };
        let at = |s: &str| s.parse::<Timestamp>().ok();
        assert_eq!(
            ids(Filter {
                min_risk: Some(Risk::High),
                ..Filter::default()
            }),
            ["a", "c"]
        );
        assert_eq!(
            ids(Filter {
                failed: true,
                ..Filter::default()
            }),
            ["a", "b"]
        );
        assert_eq!(
            ids(Filter {
                since: at("2026-11-21T10:00:01Z"),
                ..Filter::default()
            }),
            ["b", "c"]
        );
        assert_eq!(
            ids(Filter {
                until: at("2026-11-21T10:00:01Z"),
                ..Filter::default()
            }),
            ["a", "b"]
        );
        assert_eq!(
            ids(Filter {
                decisions: vec![Decision::Denied, Decision::Allowed],
                ..Filter::default()
            }),
            ["b", "c"]
        );
        assert_eq!(
            ids(Filter {
                grep: regex::Regex::new("^sudo").ok(),
                ..Filter::default()
            }),
            ["a"]
        );
        assert_eq!(
            ids(Filter {
                users: vec!["alice".into()],
                hosts: vec!["core-1".into()],
                ..Filter::default()
            }),
            ["a", "b", "c"]
        );
        assert!(
            ids(Filter {
                hosts: vec!["core".into()],
                ..Filter::default()
            })
            .is_empty()
        );
        assert_eq!(
            ids(Filter {
                rules: vec!["some-rule".into()],
                min_risk: Some(Risk::Critical),
                ..Filter::default()
            }),
            ["c"]
        );
        assert_eq!(
            ids(Filter {
                id_prefix: Some("b".into()),
                ..Filter::default()
            }),
            ["b"]
        );
    }

    #[test]
    fn waiting_is_bounded_and_a_late_outcome_comes_out_whole() {
        let records = sample();
        let mut joiner = Joiner::new(JoinOptions {
            max_waiting: 1,
            ..JoinOptions::default()
        });
        let mut rows = Vec::new();
        for (i, r) in records.into_iter().enumerate() {
            let at = Origin {
                source: 0,
                line: i as u64,
            };
            match r.kind {
                Kind::Decision => joiner.decision(r, at, &mut |row| rows.push(row)),
                Kind::Outcome => {
                    joiner.outcome(r, at, &mut |row| rows.push(row));
                }
            }
            assert!(joiner.held() <= 1);
        }
        joiner.finish(&mut |row| rows.push(row));
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.decision.id.as_str(), r.status, r.late))
            .collect();
        assert_eq!(
            got,
            [
                ("a", Status::NoOutcome, false),
                ("b", Status::NoOutcome, false),
                ("c", Status::NotRun, false),
                ("b", Status::Failed, true),
                ("a", Status::Killed, true)
            ]
        );
    }

    #[test]
    fn follow_shows_a_long_command_as_running_after_the_grace() {
        let mut joiner = Joiner::new(JoinOptions {
            grace: Some(Duration::from_secs(1)),
            ..JoinOptions::default()
        });
        let t0 = Instant::now();
        let mut rows = Vec::new();
        joiner.tick(t0, &mut |row| rows.push(row));
        let records = sample();
        joiner.decision(records[0].clone(), Origin::default(), &mut |row| {
            rows.push(row)
        });
        joiner.tick(t0 + Duration::from_millis(500), &mut |row| rows.push(row));
        assert!(rows.is_empty());
        joiner.tick(t0 + Duration::from_secs(2), &mut |row| rows.push(row));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, Status::Running);
        joiner.outcome(records[4].clone(), Origin::default(), &mut |row| {
            rows.push(row)
        });
        assert_eq!((rows[1].status, rows[1].late), (Status::Killed, true));
    }

    #[test]
    fn the_merge_orders_by_time_and_keeps_each_stream_in_order() {
        let e = |id: &str, ts: &str, source: usize| -> io::Result<Entry> {
            let mut entry = entry(&decision(id, ts, "ls", Risk::None, Decision::Allowed), 0);
            entry.at.source = source;
            Ok(entry)
        };
        let a = vec![
            e("a1", "2026-11-21T10:00:00Z", 0),
            e("a2", "2026-11-21T10:00:05Z", 0),
            Ok(read_entry(b"junk".to_vec(), Origin { source: 0, line: 3 })),
            e("a3", "2026-11-21T09:00:00Z", 0),
        ];
        let b = vec![
            e("b1", "2026-11-21T11:00:01+01:00", 1),
            e("b2", "2026-11-21T10:00:05Z", 1),
        ];
        let merged: Vec<String> = Merge::new(vec![a.into_iter(), b.into_iter()])
            .map(|e| match e.unwrap().body {
                Body::Native { line, obj, peek } => peek.id(&line[obj]).to_string(),
                _ => "junk".into(),
            })
            .collect();
        assert_eq!(merged, ["a1", "b1", "a2", "junk", "a3", "b2"]);
    }

    #[test]
    fn stats_count_and_rank() {
        let mut stats = Stats::new();
        for row in run(Filter::default(), &sample()) {
            stats.add(&row);
        }
        assert_eq!(stats.commands, 3);
        assert_eq!(stats.by_decision.get("denied"), Some(&1));
        assert_eq!(stats.by_rule.get("some-rule"), Some(&2));
        assert_eq!(stats.by_user.get("root(alice)"), Some(&3));
        assert_eq!(stats.confirmations_by_user.get("root(alice)"), Some(&1));
        assert_eq!(stats.by_day.get("2026-11-21"), Some(&3));
        let tops = stats.tops(5);
        assert_eq!(tops.risky_commands.len(), 2);
        assert_eq!(tops.refused_and_aborted[0].key, "denied: rm -rf /");
    }

    #[test]
    fn top_k_is_exact_when_small_and_bounded_when_not() {
        let mut top = TopK::new(2);
        for key in ["a", "b", "a", "c", "a", "b"] {
            top.add(key);
        }
        assert_eq!(
            top.top(1)[0],
            Counted {
                key: "a".into(),
                count: 3,
                error: 0
            }
        );
        for i in 0..1000 {
            top.add(&format!("k{i}"));
            top.add("a");
        }
        assert!(top.counts.len() <= 4);
        assert_eq!(top.top(1)[0].key, "a");
    }

    #[test]
    fn times_read_in_every_documented_form() {
        let tz = TimeZone::fixed(jiff::tz::offset(2));
        let now: Timestamp = "2026-11-21T12:30:00Z".parse().unwrap();
        let at = |s: &str| parse_when(s, now, &tz).map(|t| t.to_string());
        assert_eq!(at("2h").unwrap(), "2026-11-21T10:30:00Z");
        assert_eq!(at("3d").unwrap(), "2026-11-18T12:30:00Z");
        assert_eq!(at("1h30m ago").unwrap(), "2026-11-21T11:00:00Z");
        assert_eq!(at("today").unwrap(), "2026-11-20T22:00:00Z");
        assert_eq!(at("yesterday").unwrap(), "2026-11-19T22:00:00Z");
        assert_eq!(at("2026-11-20").unwrap(), "2026-11-19T22:00:00Z");
        assert_eq!(at("2026-11-20 14:00").unwrap(), "2026-11-20T12:00:00Z");
        assert_eq!(
            at("2026-11-20T14:00:00+00:00").unwrap(),
            "2026-11-20T14:00:00Z"
        );
        assert!(at("last tuesday").unwrap_err().contains("cannot read"));
    }

    #[test]
    fn rotated_sets_sort_oldest_first_per_log() {
        let files: Vec<PathBuf> = [
            "/l/audit.jsonl",
            "/l/audit.jsonl.1",
            "/m/audit.jsonl",
            "/l/audit.jsonl.10.gz",
            "/l/audit.jsonl.2.gz",
        ]
        .map(PathBuf::from)
        .to_vec();
        let groups = rotation_groups(&files);
        let names: Vec<Vec<String>> = groups
            .iter()
            .map(|g| g.iter().map(|p| p.display().to_string()).collect())
            .collect();
        assert_eq!(
            names,
            [
                vec![
                    "/l/audit.jsonl.10.gz",
                    "/l/audit.jsonl.2.gz",
                    "/l/audit.jsonl.1",
                    "/l/audit.jsonl"
                ],
                vec!["/m/audit.jsonl"]
            ]
        );
        let dated = rotation_groups(&[
            PathBuf::from("a.jsonl"),
            PathBuf::from("a.jsonl-20261121.gz"),
            PathBuf::from("a.jsonl-20261120"),
        ]);
        assert_eq!(
            dated[0],
            ["a.jsonl-20261120", "a.jsonl-20261121.gz", "a.jsonl"].map(PathBuf::from)
        );
    }
}
