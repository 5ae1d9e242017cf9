//! The audit record and its hash chain: what is written, and how a log is
//! checked for edited, missing, reordered or cut-off records.
//!
//! Pure: no clock, environment, file or process state. The time, the ids
//! and the person come in as values; [`seal`] turns a record into a line,
//! [`verify`] reads lines from any `BufRead`. Writing the file is
//! `audit_log`'s job, sending a copy off the box `syslog`'s.
//!
//! # Records
//!
//! One JSON object per line (JSON Lines), one record per *decision* and one
//! per *outcome*, fields in a fixed order, `None`s left out:
//!
//! | field | decision | outcome | meaning |
//! | --- | --- | --- | --- |
//! | `v` | ✓ | ✓ | format version, [`VERSION`] |
//! | `id` | ✓ | ✓ | unique id, chosen by the caller |
//! | `kind` | ✓ | ✓ | `decision` or `outcome` |
//! | `ts` | ✓ | ✓ | RFC 3339 time with offset, given by the caller |
//! | `host`, `user`, `uid` | ✓ | ✓ | who, where: on every record so that each line filters alone |
//! | `login_user`, `ssh`, `tty` | if known | if known | the person behind sudo/su, the ssh client, the terminal |
//! | `cwd`, `mode`, `line` | ✓ | – | where and what was typed (`mode`: `shell`, `-c`, `--`) |
//! | `argv` | `--` mode | – | the program and arguments, when there was no shell line |
//! | `findings`, `risk`, `decision` | ✓ | – | what the rules found (`[]` if nothing) and what happened |
//! | `reason` | if given | – | the operator's reason |
//! | `preview` | if shown | – | what the previews' summaries told the operator: fact name → value |
//! | `freeze`, `break_glass` | if frozen, or run without a fleet slot | – | the change freeze in force; `true` when break-glass ran the line through it, or without its fleet slot |
//! | `approval` | if asked | – | the two-person approval: `code`, `requester`, `approver`, `key`, `expires`, or `refused` and why |
//! | `decision_id` | – | ✓ | the `id` of the decision this outcome belongs to |
//! | `exit`, `signal` | – | one of them | exit status, or the signal that killed the command |
//! | `duration_ms` | – | ✓ | how long the command ran |
//! | `not_run` | – | if so | the command did not run after all, and why (its decision record was written after safe-run had given up on it: see `audit::log`) |
//! | `slot` | if so | if so | a fleet slot taken, refused or broken through (decisions), given back or kept over a reboot (outcomes): [`SlotRecord`], docs/FLEET.md |
//!
//! An outcome follows only an `allowed` or `confirmed` decision; a decision
//! with no outcome means the command never ran (refused, denied, aborted) or
//! safe-run itself was killed. [`Record::decision`] and [`Record::outcome`]
//! build the two shapes; [`Record::check`] says when a record has a field
//! its kind should not have, or lacks one. New fields must be `Option`s (or
//! carry `#[serde(default)]`) so that older lines still read; unknown
//! fields are ignored, so older binaries read newer lines.
//!
//! # The seal
//!
//! A record line is the record's compact JSON whose last two members are
//! `"prev"` and `"hash"`:
//!
//! ```text
//! {"v":1,"id":"…",…,"decision":"allowed","prev":"<64 hex>","hash":"<64 hex>"}
//! ```
//!
//! `hash` is the lower-case hex SHA-256 of the line's bytes up to and
//! including the `prev` member, i.e. everything before `,"hash":`. `prev` is
//! the previous record's `hash`, or [`GENESIS`] (64 zeros) for the first
//! record of a new chain. So every line ends in the same 149-byte shape
//! (150 with its newline), and checking it needs no JSON parsing: `verify`
//! hashes the prefix and compares two fixed slices. SHA-256 because it is
//! fast with the CPU's SHA instructions (~190 ns a record) and can be
//! checked with standard tools:
//! `head -c -76 <<<"$line" | sha256sum` (the line without its last 75
//! bytes and newline).
//!
//! A *queued* line is a record written while another process held the
//! log's lock: the record's JSON with the last member `"queued":true`
//! ([`QUEUED_MARK`]) and no seal. It is not a chain member; the next writer
//! that holds the lock appends its sealed copy (same record, same id).
//! [`verify`] counts queued lines and notes those with no sealed copy after
//! them ([`VerifyErrorKind::Unsealed`]); until sealed, nothing protects
//! them.
//!
//! `seal` redacts the record's `line`, `argv` and `reason` first
//! (`redact`): sealing is the only way into the log, so no secret reaches
//! it even if a caller forgets.
//!
//! # Chains across files (rotation)
//!
//! A rotated log is one chain over several files: the first record of each
//! new file carries the previous file's last hash as its `prev`.
//! [`verify_chain`] checks files in order with that link; [`verify`] with a
//! `start_prev` checks one file that continues another. Without a
//! `start_prev` the first record's `prev` may be anything, so a file cut at
//! its beginning is not detected on its own; [`VerifySummary::first_prev`]
//! tells whether the file starts a chain. Likewise, records cut from the
//! *end* leave no trace in the file: the copy sent to syslog is the anchor.
//!
//! # What `verify` reports
//!
//! The first problem, by 1-based line number: a line whose hash does not
//! match ([`VerifyErrorKind::Edited`]), a `prev` that does not name the
//! previous record ([`VerifyErrorKind::Broken`], saying whether the named
//! predecessor is elsewhere in the file, i.e. reordered, or nowhere, i.e.
//! missing), anything else ([`VerifyErrorKind::Malformed`]: garbage, an
//! empty line, a whole JSON record without a seal). [`verify_report`] goes
//! on past problems and lists them all: after a foreign line the chain goes
//! on from the last sealed record (the rule `audit_log` appends by), after
//! an edited or relinked one from that line's own hash.
//!
//! A line cut off before its seal — the start of a record and no end, what
//! a writer that died or a full disk leaves — is a *note*
//! ([`VerifyErrorKind::Truncated`], `TruncatedLast` for the log's last
//! line), not a problem: the writer chains the next record from the last
//! whole one, so the chain goes on around it. That costs no detection: a
//! whole record cut short by hand still breaks the link of the record after
//! it (which names the cut record's hash), and cutting the *last* record is
//! no more than removing records from the end, which the file alone never
//! shows (see above). A sealed record that only lacks its final newline is
//! whole.
//!
//! Text before `{"v":` on a line (a syslog header) is not part of the
//! record: the syslog copy of a log verifies like the log.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, Read};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::redact;
use crate::verdict::{Decision, Mode, Risk};

/// The record format version written in `v`.
pub const VERSION: u32 = 1;

/// The `prev` of the first record of a new chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Length of the seal at the end of every line: `,"prev":"…","hash":"…"}`.
pub const SEAL_LEN: usize = 149;

/// Lines longer than this are reported as malformed rather than read whole.
pub const MAX_LINE: usize = 16 << 20;

const PREV_KEY: &[u8] = b",\"prev\":\"";
const HASH_KEY: &[u8] = b",\"hash\":\"";
/// From the end of a line: where the hashed prefix ends (`,"hash":"…"}`).
const HASH_MEMBER_LEN: usize = HASH_KEY.len() + 64 + 2;

/// What the summaries of a line's previews told the operator, as `fact
/// name → value` (`{"major_bumps": ["docker-ce 19.03.15→20.10.5"]}`), so a
/// reviewer sees what the decision was taken on.
pub type PreviewFacts = BTreeMap<String, serde_json::Value>;

/// Whether a record is about a decision or the outcome of running it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Decision,
    Outcome,
}

/// One rule that hit, as the log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    pub rule: String,
    pub risk: Risk,
}

impl From<&crate::verdict::Finding> for FindingRecord {
    fn from(finding: &crate::verdict::Finding) -> Self {
        FindingRecord {
            rule: finding.rule.clone(),
            risk: finding.risk,
        }
    }
}

/// What happened to a fleet slot (docs/FLEET.md).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum SlotEvent {
    /// A slot was taken in every group before the command ran.
    #[default]
    Held,
    /// No slot was free: the command did not run.
    Refused,
    /// The store did not answer in time (or the fleet configuration cannot
    /// be read): the command did not run.
    Unreachable,
    /// No slot was had, and the operator went ahead with break-glass.
    BreakGlass,
    /// The slot was given back: the change ended, the host is back from
    /// its reboot, or `safe-run release`.
    Released,
    /// Kept after the command: a reboot, given back when the host is back.
    Kept,
}

impl SlotEvent {
    pub const ALL: [SlotEvent; 6] = [
        SlotEvent::Held,
        SlotEvent::Refused,
        SlotEvent::Unreachable,
        SlotEvent::BreakGlass,
        SlotEvent::Released,
        SlotEvent::Kept,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SlotEvent::Held => "held",
            SlotEvent::Refused => "refused",
            SlotEvent::Unreachable => "unreachable",
            SlotEvent::BreakGlass => "break-glass",
            SlotEvent::Released => "released",
            SlotEvent::Kept => "kept",
        }
    }

    pub fn parse(text: &str) -> Option<SlotEvent> {
        SlotEvent::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// Another host's hold on a slot, as a refusal names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlotHolder {
    pub group: String,
    pub host: String,
    pub user: String,
    /// When it was taken, by the holder's clock.
    pub since: String,
    pub reason: String,
}

/// A fleet slot event, carried by the record of the line it is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlotRecord {
    pub event: SlotEvent,
    /// The host's groups the event is about.
    pub groups: Vec<String>,
    /// Where the slots are kept: `local DIR` or `etcd URL`.
    pub store: String,
    /// Who holds the slots (a refusal, a break-glass).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<SlotHolder>,
    /// What went wrong with the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A two-person approval as the log keeps it: the request's code, who
/// asked, who signed (and with which key), until when it was valid, or
/// why it was refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub code: String,
    pub requester: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// The signing key's fingerprint (`SHA256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub expires: String,
    /// Why the approval was not accepted; absent when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// Who is acting and from where: the fields every record carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Actor {
    pub host: String,
    pub user: String,
    pub uid: u32,
    pub login_user: Option<String>,
    pub ssh: Option<String>,
    pub tty: Option<String>,
}

/// What a decision record says beyond the actor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecisionDetails {
    pub cwd: String,
    pub mode: Mode,
    pub line: String,
    pub argv: Option<Vec<String>>,
    pub findings: Vec<FindingRecord>,
    pub risk: Risk,
    pub decision: Decision,
    pub reason: Option<String>,
}

/// Where the configuration and the rules in force came from: what `check
/// --json` shows as `sources`, and what an audit record needs so that a
/// session whose policy is not the site's own shows in review. Filled in
/// by the session that loads them; the default is "nothing was read".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Provenance {
    /// The configuration file read, or `default` when none was.
    pub config: String,
    /// How that file was chosen: `--config`, `SAFE_RUN_CONFIG`, `system`,
    /// or `none`.
    pub config_from: String,
    /// Whether the configuration file has errors (reported when loaded).
    pub config_errors: bool,
    /// Settings at their strictest reading because the file has errors
    /// (`confirm.high = "deny"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub strict: Vec<String>,
    /// The rule directories read, in order (built-in rules come first and
    /// are always in force).
    pub rule_dirs: Vec<String>,
    /// Whether the site's rule directory is one of them.
    pub site_rules: bool,
    /// Rule ids the configuration turns off.
    pub disabled: Vec<String>,
    /// Rule files that could not be read, were refused or have errors.
    pub rule_errors: usize,
    /// Overrides asked for that the site does not allow in this session,
    /// and so were not honoured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
    /// Whether an override chose the configuration or the rules: the
    /// policy in force may not be the site's own.
    pub overridden: bool,
}

/// One audit record. See the module header for which fields each kind
/// carries; the field order here is the order in the JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    pub id: String,
    pub kind: Kind,
    pub ts: String,
    pub host: String,
    pub user: String,
    pub uid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<FindingRecord>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<PreviewFacts>,
    /// The change freeze in force, on a decision it held back or that ran
    /// through it (`freeze`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze: Option<String>,
    /// `true`: the line ran during a freeze, or without the fleet slot it
    /// needed, because break-glass was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<bool>,
    /// The second operator's approval this line needed (`approval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRecord>,
    /// Where the session's configuration and rules came from (decisions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Provenance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// A fleet slot taken, refused, given back or kept (docs/FLEET.md).
    /// Last but the seal: it holds no `risk` member, so the review's
    /// quick look at a decision's risk is not misled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<SlotRecord>,
    /// Read from a queued line ([`QUEUED_MARK`]); never written as a field.
    #[serde(default, skip_serializing)]
    pub queued: bool,
}

/// A record that does not have the shape of its kind (see [`Record::check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    pub kind: Kind,
    pub field: &'static str,
    /// `true`: the field is required and absent; `false`: it is present but
    /// belongs to the other kind.
    pub missing: bool,
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Decision => "a decision",
            Kind::Outcome => "an outcome",
        };
        let verb = if self.missing {
            "lacks"
        } else {
            "must not carry"
        };
        write!(f, "{kind} record {verb} `{}`", self.field)
    }
}

impl std::error::Error for ShapeError {}

impl Record {
    /// A decision record: `actor` decided `details` at `ts`.
    pub fn decision(
        id: impl Into<String>,
        ts: impl Into<String>,
        actor: &Actor,
        details: DecisionDetails,
    ) -> Record {
        Record {
            kind: Kind::Decision,
            cwd: Some(details.cwd),
            mode: Some(details.mode),
            line: Some(details.line),
            argv: details.argv,
            findings: Some(details.findings),
            risk: Some(details.risk),
            decision: Some(details.decision),
            reason: details.reason,
            ..Record::with_actor(id.into(), ts.into(), actor)
        }
    }

    /// The outcome of running what `decision` allowed: same actor, linked
    /// by `decision_id`. `exit` for a normal exit, `signal` when killed.
    pub fn outcome(
        id: impl Into<String>,
        ts: impl Into<String>,
        decision: &Record,
        exit: Option<i32>,
        signal: Option<i32>,
        duration_ms: u64,
    ) -> Record {
        Record {
            kind: Kind::Outcome,
            decision_id: Some(decision.id.clone()),
            exit,
            signal,
            duration_ms: Some(duration_ms),
            ..Record::with_actor(id.into(), ts.into(), &decision.actor())
        }
    }

    /// The outcome of a `decision` whose command did not run after all:
    /// no exit status, no signal, `not_run` says why.
    pub fn not_run(
        id: impl Into<String>,
        ts: impl Into<String>,
        decision: &Record,
        why: impl Into<String>,
    ) -> Record {
        Record {
            not_run: Some(why.into()),
            ..Record::outcome(id, ts, decision, None, None, 0)
        }
    }

    fn with_actor(id: String, ts: String, actor: &Actor) -> Record {
        Record {
            v: VERSION,
            id,
            ts,
            host: actor.host.clone(),
            user: actor.user.clone(),
            uid: actor.uid,
            login_user: actor.login_user.clone(),
            ssh: actor.ssh.clone(),
            tty: actor.tty.clone(),
            ..Record::default()
        }
    }

    /// Who acted, from the record's common fields.
    pub fn actor(&self) -> Actor {
        Actor {
            host: self.host.clone(),
            user: self.user.clone(),
            uid: self.uid,
            login_user: self.login_user.clone(),
            ssh: self.ssh.clone(),
            tty: self.tty.clone(),
        }
    }

    /// Checks that the record has the fields of its kind and none of the
    /// other kind's (see the module header).
    pub fn check(&self) -> Result<(), ShapeError> {
        let decision_fields = [
            ("cwd", self.cwd.is_some()),
            ("mode", self.mode.is_some()),
            ("line", self.line.is_some()),
            ("findings", self.findings.is_some()),
            ("risk", self.risk.is_some()),
            ("decision", self.decision.is_some()),
        ];
        let decision_optional = [
            ("argv", self.argv.is_some()),
            ("reason", self.reason.is_some()),
            ("preview", self.preview.is_some()),
            ("freeze", self.freeze.is_some()),
            ("break_glass", self.break_glass.is_some()),
            ("approval", self.approval.is_some()),
            ("sources", self.sources.is_some()),
        ];
        let outcome_fields = [
            ("decision_id", self.decision_id.is_some()),
            ("duration_ms", self.duration_ms.is_some()),
        ];
        let outcome_optional = [
            ("exit", self.exit.is_some()),
            ("signal", self.signal.is_some()),
            ("not_run", self.not_run.is_some()),
        ];
        let (required, forbidden): (Vec<_>, Vec<_>) = match self.kind {
            Kind::Decision => (
                decision_fields.to_vec(),
                [&outcome_fields[..], &outcome_optional[..]].concat(),
            ),
            Kind::Outcome => (
                outcome_fields.to_vec(),
                [&decision_fields[..], &decision_optional[..]].concat(),
            ),
        };
        let kind = self.kind;
        if let Some((field, _)) = required.iter().find(|(_, present)| !present) {
            return Err(ShapeError {
                kind,
                field,
                missing: true,
            });
        }
        if let Some((field, _)) = forbidden.iter().find(|(_, present)| *present) {
            return Err(ShapeError {
                kind,
                field,
                missing: false,
            });
        }
        Ok(())
    }

    /// The record with secrets removed from `line`, `argv` and `reason`.
    pub fn redacted(&self) -> Record {
        Record {
            line: self.line.as_deref().map(redact::redact),
            argv: self.argv.as_deref().map(redact::redact_argv),
            reason: self.reason.as_deref().map(redact::redact),
            slot: self.slot.as_ref().map(|slot| SlotRecord {
                holders: slot
                    .holders
                    .iter()
                    .map(|h| SlotHolder {
                        reason: redact::redact(&h.reason),
                        ..h.clone()
                    })
                    .collect(),
                ..slot.clone()
            }),
            ..self.clone()
        }
    }
}

/// The end of a queued line: a record appended while another process held
/// the log's lock, not yet sealed into the chain (see `audit::log`).
pub const QUEUED_MARK: &str = ",\"queued\":true}";

/// `record`, redacted, as a queued line (no trailing newline): its JSON
/// with [`QUEUED_MARK`] as the last member and no seal. The next writer
/// that holds the lock appends the sealed copy (same record, same id).
pub fn queued_line(record: &Record) -> String {
    let json = serde_json::to_string(&record.redacted()).unwrap_or_else(|_| String::from("{}"));
    let body = json.strip_suffix('}').unwrap_or(&json);
    format!("{body}{QUEUED_MARK}")
}

/// Is this (a newline allowed) a queued line, by its end?
pub fn is_queued_line(line: &[u8]) -> bool {
    strip_newline(line).ends_with(QUEUED_MARK.as_bytes())
}

/// The `id` of a line written by safe-run (sealed or queued), read from
/// its fixed start `{"v":1,"id":"…"`.
pub fn id_of_line(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(b"{\"v\":1,\"id\":\"")?;
    let end = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// Turns `record` into a sealed line (no trailing newline) that follows the
/// record whose hash is `prev` ([`GENESIS`] to start a chain). The record is
/// redacted first. A `prev` that is not 64 lower-case hex digits (a caller
/// bug) is sealed as `GENESIS`: `verify` then reports a broken link, and
/// the line itself is still well-formed.
pub fn seal(record: &Record, prev: &str) -> String {
    let prev = if is_hex64(prev.as_bytes()) {
        prev
    } else {
        GENESIS
    };
    let record = record.redacted();
    // Serialising a struct of strings, numbers and lists cannot fail.
    let json = serde_json::to_string(&record).unwrap_or_else(|_| String::from("{}"));
    let body = json.strip_suffix('}').unwrap_or(&json);
    let mut line = String::with_capacity(body.len() + SEAL_LEN);
    line.push_str(body);
    line.push_str(",\"prev\":\"");
    line.push_str(prev);
    line.push('"');
    let hash = sha256_hex(line.as_bytes());
    line.push_str(",\"hash\":\"");
    // Hex digits are ASCII.
    line.extend(hash.iter().map(|&b| char::from(b)));
    line.push_str("\"}");
    line
}

/// The `hash` of a sealed line (a trailing newline is allowed), read from
/// the fixed-shape seal at its end: only the last [`SEAL_LEN`] bytes are
/// looked at, and the line must have at least one byte before them. `None`
/// when the line does not end in a well-formed seal. The hash is not
/// checked against the content: that is [`verify`]'s job.
pub fn hash_of_line(line: &[u8]) -> Option<String> {
    parse_seal(strip_newline(line)).map(|seal| ascii(seal.hash))
}

/// The `prev` of a sealed line, like [`hash_of_line`].
pub fn prev_of_line(line: &[u8]) -> Option<String> {
    parse_seal(strip_newline(line)).map(|seal| ascii(seal.prev))
}

/// The record in a line: from `{"v":` on when something else (a syslog
/// header, `Nov 21 09:00:00 core-1 safe-run[4242]: `) comes before it. The
/// header is not part of the record, nor of its hash.
fn record_part(line: &[u8]) -> &[u8] {
    if line.first() == Some(&b'{') {
        return line;
    }
    match memchr::memmem::find(line, b"{\"v\":") {
        Some(start) => &line[start..],
        None => line,
    }
}

/// Is `line` one whole JSON value (a record someone wrote without a seal),
/// rather than the start of one (a torn line)?
fn is_json(line: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

fn ascii(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The parts of a line's seal.
struct Seal<'a> {
    /// Everything the hash covers.
    hashed: &'a [u8],
    prev: &'a [u8],
    hash: &'a [u8],
}

fn parse_seal(line: &[u8]) -> Option<Seal<'_>> {
    let len = line.len();
    if len <= SEAL_LEN {
        return None;
    }
    let seal = &line[len - SEAL_LEN..];
    let (prev, hash) = (&seal[9..73], &seal[83..147]);
    let well_formed = seal.starts_with(PREV_KEY)
        && seal[73] == b'"'
        && &seal[74..83] == HASH_KEY
        && seal.ends_with(b"\"}")
        && is_hex64(prev)
        && is_hex64(hash);
    well_formed.then(|| Seal {
        hashed: &line[..len - HASH_MEMBER_LEN],
        prev,
        hash,
    })
}

fn is_hex64(text: &[u8]) -> bool {
    text.len() == 64 && text.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256_hex(bytes: &[u8]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = [0u8; 64];
    for (i, byte) in digest.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(byte >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(byte & 0xf)];
    }
    out
}

/// What a clean verification saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifySummary {
    /// Sealed records checked.
    pub records: u64,
    /// Files (readers) read.
    pub files: usize,
    /// The first record's `prev`: [`GENESIS`] when the log starts a chain.
    pub first_prev: Option<String>,
    /// The last record's hash: the `start_prev` of the file that follows.
    pub last_hash: Option<String>,
    /// Queued lines seen (records appended while another process held the
    /// lock; not chain members themselves).
    pub queued: u64,
    /// Incomplete lines ([`VerifyErrorKind::Truncated`], `TruncatedLast`)
    /// and queued records never sealed ([`VerifyErrorKind::Unsealed`]):
    /// reported, but no failure (see "What `verify` reports" in the module
    /// header).
    pub notes: Vec<VerifyError>,
}

impl VerifySummary {
    /// Does the log begin a chain (rather than continue a rotated file)?
    pub fn starts_chain(&self) -> bool {
        self.first_prev.as_deref() == Some(GENESIS)
    }
}

/// Where and how the chain fails. `line` is 1-based within its file; `file`
/// is the 0-based position of that file in [`verify_chain`]'s sequence (0
/// for [`verify`]). Displays as `line 17: record was edited (…)`; the
/// caller prefixes the file's name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct VerifyError {
    pub file: usize,
    pub line: usize,
    pub kind: VerifyErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyErrorKind {
    #[error("record was edited (its hash does not match its content)")]
    Edited,
    #[error("the chain is broken: {0}")]
    Broken(Break),
    /// A note, not a failure: a line cut off before its seal (a writer
    /// died, the disk filled), with the chain going on around it.
    #[error("record is incomplete: a writer died or the disk filled (the chain goes on around it)")]
    Truncated,
    /// A note, not a failure: the log's last line is cut off before its seal.
    #[error("the last record is incomplete: a writer died or the disk filled")]
    TruncatedLast,
    /// A note, not a failure: a queued record with no sealed copy after it.
    #[error(
        "a record queued while another process held the lock, not sealed into the chain yet (the next safe-run that gets the lock seals it)"
    )]
    Unsealed,
    #[error("line is not an audit record ({0})")]
    Malformed(&'static str),
    #[error("cannot read the log: {0}")]
    Unreadable(String),
}

/// Why a record's `prev` does not name the record before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error(
        "a record before this one is missing (no record in the file has the hash this one names as its predecessor)"
    )]
    Missing,
    #[error("records are out of order (this record's predecessor is line {predecessor_line})")]
    Reordered { predecessor_line: usize },
    #[error(
        "the first record does not continue the previous file (its prev is not that file's last hash)"
    )]
    NotContinued,
}

/// Every problem found, for auditors who want the whole picture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub summary: VerifySummary,
    pub problems: Vec<VerifyError>,
}

/// Checks one log, streaming: each line's hash against its content and each
/// `prev` against the hash before it. `start_prev`: the hash the first
/// record must continue from (the previous file's last hash); without it
/// the first `prev` may be anything. Returns the first problem.
pub fn verify<R: BufRead>(
    reader: R,
    start_prev: Option<&str>,
) -> Result<VerifySummary, VerifyError> {
    verify_chain(std::iter::once(reader), start_prev)
}

/// Checks several files in order as one chain: each file's first record
/// must continue the previous file's last one.
pub fn verify_chain<R, I>(
    readers: I,
    start_prev: Option<&str>,
) -> Result<VerifySummary, VerifyError>
where
    R: BufRead,
    I: IntoIterator<Item = R>,
{
    let report = run(readers, start_prev, true);
    match report.problems.into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(report.summary),
    }
}

/// Like [`verify_chain`], but goes on past problems and reports them all.
pub fn verify_report<R, I>(readers: I, start_prev: Option<&str>) -> VerifyReport
where
    R: BufRead,
    I: IntoIterator<Item = R>,
{
    run(readers, start_prev, false)
}

fn run<R, I>(readers: I, start_prev: Option<&str>, stop_at_first: bool) -> VerifyReport
where
    R: BufRead,
    I: IntoIterator<Item = R>,
{
    let mut checker = Checker::new(start_prev, stop_at_first);
    let mut buf = Vec::with_capacity(1024);
    'files: for (index, mut reader) in readers.into_iter().enumerate() {
        if index > 0 {
            checker.next_file();
        }
        checker.summary.files += 1;
        loop {
            if checker.done() {
                break 'files;
            }
            match read_line(&mut reader, &mut buf, MAX_LINE) {
                Ok(None) => break,
                Ok(Some(end)) => checker.line(&buf, end),
                Err(err) => {
                    checker.line += 1;
                    checker.problem(VerifyErrorKind::Unreadable(err.to_string()));
                    break 'files;
                }
            }
        }
    }
    checker.finish()
}

/// How a line read by [`read_line`] ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineEnd {
    Newline,
    EndOfFile,
    /// Longer than the limit: cut, the rest skipped up to its newline.
    TooLong,
}

/// Reads one line into `buf` without its newline, keeping at most `max`
/// bytes. `None` at the end of input. (`read_until` finds newlines with
/// std's word-at-a-time search, which matters at a million lines a second.)
fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<Option<LineEnd>> {
    buf.clear();
    let limit = max as u64 + 1;
    if reader.by_ref().take(limit).read_until(b'\n', buf)? == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(LineEnd::Newline));
    }
    if (buf.len() as u64) < limit {
        return Ok(Some(LineEnd::EndOfFile));
    }
    // Too long: keep the start, skip the rest of the line in bounded steps.
    buf.truncate(max);
    let mut skipped = Vec::new();
    loop {
        skipped.clear();
        let n = reader
            .by_ref()
            .take(64 * 1024)
            .read_until(b'\n', &mut skipped)?;
        if n == 0 || skipped.last() == Some(&b'\n') {
            return Ok(Some(LineEnd::TooLong));
        }
    }
}

/// How many earlier hashes are remembered to tell "out of order" from
/// "missing" when a link breaks.
const RECENT: usize = 1024;
/// How many broken links at once wait for their predecessor to turn up
/// later in the file.
const MAX_PENDING: usize = 64;

struct Checker {
    stop_at_first: bool,
    /// The hash the next record must name as `prev`; `None`: anything.
    expected: Option<[u8; 64]>,
    /// The next sealed record is the first of its file and must continue
    /// `expected` from outside it.
    continues: bool,
    file: usize,
    line: usize,
    recent: VecDeque<([u8; 64], usize)>,
    /// Broken links whose cause is not known yet: (index in `problems`,
    /// the `prev` they name).
    pending: Vec<(usize, [u8; 64])>,
    problems: Vec<VerifyError>,
    notes: Vec<VerifyError>,
    /// Queued records waiting for their sealed copy: id → (file, line).
    queued: std::collections::HashMap<String, (usize, usize)>,
    summary: VerifySummary,
}

/// How many queued records at once wait for their sealed copy.
const MAX_QUEUED: usize = 100_000;

impl Checker {
    fn new(start_prev: Option<&str>, stop_at_first: bool) -> Checker {
        // A start that is not a hash can match nothing: the first record is
        // then reported as not continuing it.
        let expected = start_prev.map(|prev| prev.as_bytes().try_into().unwrap_or([b'?'; 64]));
        Checker {
            stop_at_first,
            continues: expected.is_some(),
            expected,
            file: 0,
            line: 0,
            recent: VecDeque::with_capacity(RECENT),
            pending: Vec::new(),
            problems: Vec::new(),
            notes: Vec::new(),
            queued: std::collections::HashMap::new(),
            summary: VerifySummary::default(),
        }
    }

    fn next_file(&mut self) {
        self.file += 1;
        self.line = 0;
        self.recent.clear();
        self.pending.clear();
        self.continues = self.expected.is_some();
    }

    /// In first-problem mode: stop once a problem is known and its cause
    /// settled.
    fn done(&self) -> bool {
        self.stop_at_first && !self.problems.is_empty() && self.pending.is_empty()
    }

    fn problem(&mut self, kind: VerifyErrorKind) {
        self.problems.push(VerifyError {
            file: self.file,
            line: self.line,
            kind,
        });
    }

    fn line(&mut self, line: &[u8], end: LineEnd) {
        self.line += 1;
        let line = record_part(line);
        let seal = parse_seal(line);
        if let Some(seal) = &seal {
            self.settle_pending(seal.hash);
            if !self.queued.is_empty()
                && let Some(id) = id_of_line(line)
            {
                self.queued.remove(id);
            }
        }
        if self.stop_at_first && !self.problems.is_empty() {
            return; // only looking ahead for a broken link's cause
        }
        let seal = match (seal, end) {
            (_, LineEnd::TooLong) => {
                return self.problem(VerifyErrorKind::Malformed("longer than 16 MiB"));
            }
            // A complete record that only lacks its final newline counts,
            // as it does for the writer.
            (Some(seal), LineEnd::Newline | LineEnd::EndOfFile) => seal,
            (None, _) => {
                let kind = match line.first() {
                    None => VerifyErrorKind::Malformed("empty line"),
                    Some(b'{') if is_queued_line(line) && is_json(line) => {
                        self.summary.queued += 1;
                        if let Some(id) = id_of_line(line)
                            && self.queued.len() < MAX_QUEUED
                        {
                            self.queued.insert(id.to_string(), (self.file, self.line));
                        }
                        return;
                    }
                    Some(b'{') if is_json(line) => VerifyErrorKind::Malformed(
                        "a record without a seal: safe-run seals every line it writes",
                    ),
                    Some(b'{') => {
                        let note = VerifyError {
                            file: self.file,
                            line: self.line,
                            kind: VerifyErrorKind::Truncated,
                        };
                        return self.notes.push(note);
                    }
                    Some(_) => VerifyErrorKind::Malformed("no JSON object with a seal"),
                };
                return self.problem(kind);
            }
        };
        let mut hash = [0u8; 64];
        hash.copy_from_slice(seal.hash);
        let mut prev = [0u8; 64];
        prev.copy_from_slice(seal.prev);

        if sha256_hex(seal.hashed) != hash {
            self.problem(VerifyErrorKind::Edited);
        } else if let Some(expected) = self.expected
            && prev != expected
        {
            self.broken(prev);
        }
        self.continues = false;
        self.summary.records += 1;
        if self.summary.first_prev.is_none() {
            self.summary.first_prev = Some(ascii(&prev));
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((hash, self.line));
        self.expected = Some(hash);
    }

    fn broken(&mut self, prev: [u8; 64]) {
        if self.continues {
            return self.problem(VerifyErrorKind::Broken(Break::NotContinued));
        }
        if let Some(&(_, line)) = self.recent.iter().rev().find(|(hash, _)| *hash == prev) {
            return self.problem(VerifyErrorKind::Broken(Break::Reordered {
                predecessor_line: line,
            }));
        }
        // Missing, unless the predecessor turns up further down.
        self.problem(VerifyErrorKind::Broken(Break::Missing));
        if self.pending.len() < MAX_PENDING {
            self.pending.push((self.problems.len() - 1, prev));
        }
    }

    fn settle_pending(&mut self, hash: &[u8]) {
        let line = self.line;
        let problems = &mut self.problems;
        self.pending.retain(|(index, prev)| {
            if prev.as_slice() != hash {
                return true;
            }
            problems[*index].kind = VerifyErrorKind::Broken(Break::Reordered {
                predecessor_line: line,
            });
            false
        });
    }

    fn finish(mut self) -> VerifyReport {
        if let Some(last) = self.notes.last_mut()
            && (last.file, last.line) == (self.file, self.line)
        {
            last.kind = VerifyErrorKind::TruncatedLast;
        }
        let mut unsealed: Vec<_> = self.queued.drain().map(|(_, at)| at).collect();
        unsealed.sort_unstable();
        self.notes
            .extend(unsealed.into_iter().map(|(file, line)| VerifyError {
                file,
                line,
                kind: VerifyErrorKind::Unsealed,
            }));
        self.notes.sort_by_key(|note| (note.file, note.line));
        self.summary.notes = std::mem::take(&mut self.notes);
        self.summary.last_hash = self
            .expected
            .filter(|_| self.summary.records > 0)
            .map(|h| ascii(&h));
        VerifyReport {
            summary: self.summary,
            problems: self.problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor() -> Actor {
        Actor {
            host: "core-1".into(),
            user: "ops".into(),
            uid: 1001,
            login_user: Some("alice".into()),
            ssh: Some("203.0.113.7 52144".into()),
            tty: Some("/dev/pts/3".into()),
        }
    }

    fn decision(id: &str) -> Record {
        Record::decision(
            id,
            "2026-11-21T22:41:07.123+00:00",
            &actor(),
            DecisionDetails {
                cwd: "/root".into(),
                mode: Mode::Shell,
                line: "sudo apt-get upgrade -y".into(),
                argv: None,
                findings: vec![FindingRecord {
                    rule: "apt-full-upgrade".into(),
                    risk: Risk::High,
                }],
                risk: Risk::High,
                decision: Decision::Confirmed,
                reason: Some("CVE-2026-1234 openssl patch, CHG-4411".into()),
            },
        )
    }

    /// A log of `n` sealed records, each line with its newline.
    fn log(n: usize) -> Vec<String> {
        let mut prev = GENESIS.to_string();
        (0..n)
            .map(|i| {
                let line = seal(&decision(&format!("id-{i}")), &prev);
                prev = hash_of_line(line.as_bytes()).unwrap();
                line + "\n"
            })
            .collect()
    }

    fn check(lines: &[String]) -> Result<VerifySummary, VerifyError> {
        verify(lines.concat().as_bytes(), None)
    }

    #[test]
    fn fields_come_in_the_documented_order() {
        let json = serde_json::to_string(&decision("a")).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"id":"a","kind":"decision","ts":"2026-11-21T22:41:07.123+00:00","host":"core-1","user":"ops","uid":1001,"login_user":"alice","ssh":"203.0.113.7 52144","tty":"/dev/pts/3","cwd":"/root","mode":"shell","line":"sudo apt-get upgrade -y","findings":[{"rule":"apt-full-upgrade","risk":"high"}],"risk":"high","decision":"confirmed","reason":"CVE-2026-1234 openssl patch, CHG-4411"}"#
        );
        let outcome = Record::outcome(
            "b",
            "2026-11-21T22:42:00+00:00",
            &decision("a"),
            Some(0),
            None,
            48211,
        );
        assert_eq!(
            serde_json::to_string(&outcome).unwrap(),
            r#"{"v":1,"id":"b","kind":"outcome","ts":"2026-11-21T22:42:00+00:00","host":"core-1","user":"ops","uid":1001,"login_user":"alice","ssh":"203.0.113.7 52144","tty":"/dev/pts/3","decision_id":"a","exit":0,"duration_ms":48211}"#
        );
    }

    #[test]
    fn modes_and_decisions_are_spelled_as_documented() {
        let json = |v: &Record| serde_json::to_string(v).unwrap();
        let mut record = decision("a");
        record.mode = Some(Mode::DashC);
        record.decision = Some(Decision::Aborted);
        assert!(json(&record).contains(r#""mode":"-c","#));
        assert!(json(&record).contains(r#""decision":"aborted","#));
        record.mode = Some(Mode::Argv);
        assert!(json(&record).contains(r#""mode":"--","#));
    }

    #[test]
    fn shapes_are_checked() {
        assert_eq!(decision("a").check(), Ok(()));
        let outcome = Record::outcome("b", "t", &decision("a"), None, Some(9), 5);
        assert_eq!(outcome.check(), Ok(()));
        let mut bad = outcome.clone();
        bad.line = Some("ls".into());
        let err = bad.check().unwrap_err();
        assert_eq!(err.to_string(), "an outcome record must not carry `line`");
        let mut bad = decision("a");
        bad.risk = None;
        assert_eq!(
            bad.check().unwrap_err().to_string(),
            "a decision record lacks `risk`"
        );
    }

    #[test]
    fn preview_facts_follow_the_reason_seal_verify_and_read_back() {
        let mut record = decision("a");
        let mut facts = PreviewFacts::new();
        facts.insert(
            "major_bumps".into(),
            serde_json::json!(["docker-ce 19.03.15→20.10.5"]),
        );
        facts.insert("upgraded".into(), serde_json::json!(5));
        record.preview = Some(facts);
        assert_eq!(record.check(), Ok(()));
        let json = serde_json::to_string(&record).unwrap();
        assert!(
            json.ends_with(
                r#""reason":"CVE-2026-1234 openssl patch, CHG-4411","preview":{"major_bumps":["docker-ce 19.03.15→20.10.5"],"upgraded":5}}"#
            ),
            "{json}"
        );
        let line = seal(&record, GENESIS) + "\n";
        assert!(verify(line.as_bytes(), None).is_ok());
        let back: Record = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(back.preview, record.preview);
        // Older lines without it still read; an outcome must not carry it.
        assert_eq!(
            serde_json::from_str::<Record>(&serde_json::to_string(&decision("b")).unwrap())
                .unwrap()
                .preview,
            None
        );
        let mut bad = Record::outcome("c", "t", &record, Some(0), None, 1);
        bad.preview = record.preview.clone();
        assert_eq!(
            bad.check().unwrap_err().to_string(),
            "an outcome record must not carry `preview`"
        );
    }

    #[test]
    fn records_read_back_and_ignore_unknown_fields() {
        let line = seal(&decision("a"), GENESIS);
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, decision("a"));
        let newer = r#"{"v":1,"id":"x","kind":"outcome","ts":"t","host":"h","user":"u","uid":0,"future":[1],"decision_id":"a","duration_ms":1}"#;
        let back: Record = serde_json::from_str(newer).unwrap();
        assert_eq!(back.decision_id.as_deref(), Some("a"));
    }

    #[test]
    fn the_seal_is_the_documented_suffix() {
        let line = seal(&decision("a"), GENESIS);
        let len = line.len();
        assert!(line[..len - SEAL_LEN].ends_with("\"CVE-2026-1234 openssl patch, CHG-4411\""));
        assert_eq!(&line[len - SEAL_LEN..len - SEAL_LEN + 9], ",\"prev\":\"");
        let hashed = &line[..line.find(",\"hash\":").unwrap()];
        let hash = sha256_hex(hashed.as_bytes());
        assert_eq!(hash_of_line(line.as_bytes()).unwrap().as_bytes(), &hash);
        assert_eq!(
            prev_of_line(format!("{line}\n").as_bytes()).unwrap(),
            GENESIS
        );
        assert!(line.ends_with(&format!(",\"hash\":\"{}\"}}", ascii(&hash))));
    }

    #[test]
    fn seal_redacts_secrets() {
        let mut record = decision("a");
        record.line = Some("PGPASSWORD=hunter2 psql".into());
        record.argv = Some(vec!["mysql".into(), "-phunter2".into()]);
        record.reason = Some("token=abc".into());
        let line = seal(&record, GENESIS);
        assert!(!line.contains("hunter2") && !line.contains("abc"), "{line}");
    }

    #[test]
    fn a_prev_that_is_not_a_hash_is_sealed_as_genesis() {
        let line = seal(&decision("a"), "\"},\"x");
        assert_eq!(prev_of_line(line.as_bytes()).unwrap(), GENESIS);
    }

    #[test]
    fn hash_of_line_rejects_what_is_not_sealed() {
        for text in ["", "{}", "{\"prev\":\"x\"}", &"x".repeat(400)] {
            assert_eq!(hash_of_line(text.as_bytes()), None, "{text}");
        }
        let line = seal(&decision("a"), GENESIS);
        assert_eq!(hash_of_line(&line.as_bytes()[..line.len() - 1]), None);
        let upper = line.to_uppercase();
        assert_eq!(hash_of_line(upper.as_bytes()), None);
    }

    #[test]
    fn a_syslog_copy_verifies_past_its_headers() {
        let lines = log(3);
        let copy: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("Nov 21 09:00:0{i} core-1 safe-run[4242]: {l}"))
            .collect();
        let summary = verify(copy.as_bytes(), None).unwrap();
        assert_eq!(summary.records, 3);
        // The header is not covered by the hash; the record still is.
        let edited = copy.replacen("\"ops\"", "\"eve\"", 1);
        assert_eq!(
            verify(edited.as_bytes(), None).unwrap_err().kind,
            VerifyErrorKind::Edited
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let lines = log(5);
        let summary = check(&lines).unwrap();
        assert_eq!(summary.records, 5);
        assert!(summary.starts_chain());
        assert_eq!(summary.last_hash, hash_of_line(lines[4].as_bytes()));
        assert_eq!(check(&[]).unwrap().records, 0);
    }

    #[test]
    fn each_kind_of_tampering_is_found_on_its_line() {
        let lines = log(6);
        let at = |lines: Vec<String>| check(&lines).unwrap_err();

        let mut edited = lines.clone();
        edited[2] = edited[2].replace("\"user\":\"ops\"", "\"user\":\"eve\"");
        assert_eq!(
            at(edited).to_string(),
            "line 3: record was edited (its hash does not match its content)"
        );

        let mut deleted = lines.clone();
        deleted.remove(3);
        let err = at(deleted);
        assert_eq!(
            (err.line, &err.kind),
            (4, &VerifyErrorKind::Broken(Break::Missing))
        );

        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        let err = at(swapped);
        let reordered = VerifyErrorKind::Broken(Break::Reordered {
            predecessor_line: 3,
        });
        assert_eq!((err.line, &err.kind), (2, &reordered));
        assert!(err.to_string().contains("out of order"), "{err}");

        let mut moved_back = lines.clone();
        let first = moved_back.remove(1);
        moved_back.insert(4, first); // 0 2 3 4 1 5
        let err = at(moved_back);
        assert_eq!(
            (err.line, err.kind),
            (
                2,
                VerifyErrorKind::Broken(Break::Reordered {
                    predecessor_line: 5
                })
            )
        );

        // A record cut short in the middle breaks the next record's link;
        // the cut line itself is a note.
        let mut cut = lines.clone();
        cut[3].truncate(100);
        cut[3].push('\n');
        let err = at(cut.clone());
        assert_eq!(
            (err.line, err.kind),
            (5, VerifyErrorKind::Broken(Break::Missing))
        );
        let report = verify_report([cut.concat().as_bytes()], None);
        assert_eq!(report.summary.notes[0].line, 4);
        assert_eq!(report.summary.notes[0].kind, VerifyErrorKind::Truncated);

        // The last record cut short: a note, like a writer that died.
        let mut cut = lines.clone();
        cut[5].truncate(100);
        let summary = check(&cut).unwrap();
        assert_eq!(summary.records, 5);
        assert_eq!(
            summary.notes,
            vec![VerifyError {
                file: 0,
                line: 6,
                kind: VerifyErrorKind::TruncatedLast
            }]
        );
        assert_eq!(
            summary.notes[0].to_string(),
            "line 6: the last record is incomplete: a writer died or the disk filled"
        );

        // A whole record without its final newline is whole.
        let mut no_newline = lines.clone();
        no_newline[5].pop();
        let summary = check(&no_newline).unwrap();
        assert_eq!((summary.records, summary.notes.len()), (6, 0));

        // A whole record without a seal was not written by safe-run.
        let mut unsealed = lines.clone();
        let record = serde_json::to_string(&decision("forged")).unwrap();
        unsealed.push(record + "\n");
        let err = at(unsealed);
        assert_eq!(err.line, 7);
        assert!(err.to_string().contains("without a seal"), "{err}");

        let mut garbage = lines.clone();
        garbage.insert(2, "hello\n".into());
        assert_eq!(at(garbage).line, 3);

        let mut blank = lines;
        blank.insert(0, "\n".into());
        assert_eq!(at(blank).kind, VerifyErrorKind::Malformed("empty line"));
    }

    #[test]
    fn the_report_goes_on_past_a_torn_line() {
        let mut lines = log(4);
        lines.insert(2, "{\"v\":1,\"id\":\"torn\n".into());
        let report = verify_report([lines.concat().as_bytes()], None);
        assert_eq!(report.summary.records, 4);
        assert_eq!(report.problems, vec![]);
        assert_eq!(
            report.summary.notes,
            vec![VerifyError {
                file: 0,
                line: 3,
                kind: VerifyErrorKind::Truncated
            }]
        );
    }

    #[test]
    fn the_report_lists_every_problem() {
        let mut lines = log(8);
        lines[1] = lines[1].replace("ops", "eve");
        lines.remove(5);
        let report = verify_report([lines.concat().as_bytes()], None);
        let found: Vec<_> = report
            .problems
            .iter()
            .map(|p| (p.line, p.kind.clone()))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, VerifyErrorKind::Edited),
                (6, VerifyErrorKind::Broken(Break::Missing))
            ]
        );
    }

    #[test]
    fn rotated_files_verify_as_one_chain() {
        let lines = log(6);
        let (old, new) = (lines[..3].concat(), lines[3..].concat());
        let summary = verify_chain([old.as_bytes(), new.as_bytes()], None).unwrap();
        assert_eq!((summary.records, summary.files), (6, 2));

        let carried = hash_of_line(lines[2].as_bytes()).unwrap();
        let alone = verify(new.as_bytes(), Some(&carried)).unwrap();
        assert!(!alone.starts_chain());
        let err = verify(new.as_bytes(), Some(GENESIS)).unwrap_err();
        assert_eq!(
            (err.line, err.kind),
            (1, VerifyErrorKind::Broken(Break::NotContinued))
        );

        let gap = lines[4..].concat();
        let err = verify_chain([old.as_bytes(), gap.as_bytes()], None).unwrap_err();
        assert_eq!((err.file, err.line), (1, 1));
        assert_eq!(err.kind, VerifyErrorKind::Broken(Break::NotContinued));
    }

    #[test]
    fn an_overlong_line_is_malformed_not_loaded() {
        let mut text = "x".repeat(MAX_LINE + 10);
        text.push('\n');
        text.push_str(&log(1).concat());
        let report = verify_report([text.as_bytes()], None);
        assert_eq!(report.problems.len(), 1);
        assert_eq!(
            report.problems[0].kind,
            VerifyErrorKind::Malformed("longer than 16 MiB")
        );
        assert_eq!(report.summary.records, 1);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_judged_without_panicking(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = verify_report([bytes.as_slice()], None);
            let _ = hash_of_line(&bytes);
        }

        #[test]
        fn any_damage_to_a_sealed_log_is_found(index in 0usize..3000, byte in proptest::num::u8::ANY) {
            let text = log(4).concat().into_bytes();
            let index = index % text.len();
            proptest::prop_assume!(text[index] != byte);
            let mut damaged = text.clone();
            damaged[index] = byte;
            // Found: a problem, or (damage that leaves the last record
            // looking cut off) a note about it.
            let found = verify(damaged.as_slice(), None).map_or(true, |s| !s.notes.is_empty());
            proptest::prop_assert!(found);
        }
    }

    #[test]
    fn read_errors_are_reported_not_panicked() {
        struct Failing;
        impl io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = verify(io::BufReader::new(Failing), None).unwrap_err();
        assert_eq!(err.to_string(), "line 1: cannot read the log: disk on fire");
    }
}
