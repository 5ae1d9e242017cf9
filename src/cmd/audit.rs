//! `safe-run audit`: list, show, follow, stats and verify — the edge around
//! `review`. It opens the inputs (files, rotated `.1` and `.gz` files,
//! stdin), reads the clock, the time zone and the terminal, and prints
//! tables, details, summaries or JSON lines. Filtering, joining, merging
//! and counting are `review`'s; the hash chain is `audit`'s.
//!
//! - **Inputs.** The configured log by default; any number of files (merged
//!   by time, so logs of several hosts or a rotated set read as one), or
//!   `-` for stdin. A gzip file is recognised by its first bytes, not its
//!   name. Lines are read one at a time, at most `record::MAX_LINE` long.
//! - **Output.** One row per command. The terminal width cuts the line and
//!   the reason (`COLUMNS` wins; no cutting when stdout is not a terminal);
//!   every text from the log passes `sanitize::clean`; colour only on a
//!   terminal and never with `NO_COLOR`; times in the viewer's time zone
//!   (`TZ`), `--json` keeps them as written.
//! - **Follow.** Polls the file (200 ms) like `tail -F`: reads what was
//!   appended, and notices the path being renamed away and recreated (the
//!   old file is read to its end first, and a little longer for writers
//!   that had it open) or truncated (read again from the start). Rows come
//!   out when their outcome arrives, or after a second as `running`.
//! - **Verify.** Files are grouped by the log they were rotated from and
//!   each group is checked oldest first as one chain (`review::rotation_groups`):
//!   the order on the command line does not matter.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::audit::record::{self, MAX_LINE, SlotEvent};
use crate::audit::review::{
    self, Body, Counted, Entry, Filter, JoinOptions, Merge, Origin, Review, Row, Stats, Status,
};
use crate::config::{self, Config};
use crate::exit::Error;
use crate::term::paint::{self, BOLD, ColorChoice, paint, risk_sgr};
use crate::term::sanitize::clean;
use crate::term::width::{self, fit};
use crate::verdict::{Decision, Mode, Risk};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and the chain; exit 1 naming the first bad record.
    Verify {
        /// Log files (default: the configured log); `.gz` too. A rotated set (audit.jsonl.2.gz, .1, audit.jsonl) is checked oldest first as one chain, whatever the order given.
        files: Vec<PathBuf>,
    },
    /// Everything about one command, by its decision id (or a unique prefix).
    Show(ShowArgs),
    /// Print commands as they are logged, with the same filters (also `audit -f`).
    Follow(FollowArgs),
    /// Counts by decision, rule, user, host and day; the most frequent risky and refused lines.
    Stats(StatsArgs),
}

/// `safe-run audit [FILTERS] [FILES…]`, or one of its subcommands.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    #[command(flatten)]
    pub list: ListArgs,
}

/// The conditions every listed command must meet.
#[derive(Clone, Debug, Default, Args)]
#[command(next_help_heading = "Filters (combined: a command must meet every one given)")]
pub struct FilterArgs {
    /// Only commands at or after WHEN: a duration before now (2h, 3d, 1h30m), today, yesterday, a date (2026-11-21), a local time (2026-11-21 14:00) or RFC 3339.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only commands at or before WHEN (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only commands by USER: the user, or the person behind sudo/su. May be repeated.
    #[arg(long, value_name = "USER")]
    pub user: Vec<String>,
    /// Only commands on HOST (its full or short name). May be repeated.
    #[arg(long, value_name = "HOST")]
    pub host: Vec<String>,
    /// Only commands of at least this risk: low, medium, high, critical.
    #[arg(long, value_name = "LEVEL", value_parser = parse_risk)]
    pub risk: Option<Risk>,
    /// Only these decisions: allowed, confirmed, refused, denied, aborted (comma-separated or repeated).
    #[arg(long, value_name = "DECISION", value_delimiter = ',', value_parser = review::parse_decision)]
    pub decision: Vec<Decision>,
    /// Only commands a rule with this id found. May be repeated.
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// Only commands whose line or reason matches REGEX.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub grep: Option<regex::Regex>,
    /// Only commands that ran and failed (non-zero exit, or killed by a signal).
    #[arg(long)]
    pub failed: bool,
    /// Only lines with a fleet slot event: held, refused, unreachable,
    /// break-glass, released, kept, or any (comma-separated).
    #[arg(long, value_name = "EVENT", value_delimiter = ',', value_parser = parse_slot)]
    pub slot: Vec<SlotChoice>,
    /// Only commands run with break-glass: during a change freeze, or without a fleet slot.
    #[arg(long)]
    pub break_glass: bool,
    /// Only commands that needed a two-person approval (accepted or refused).
    #[arg(long)]
    pub approval: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Newest first.
    #[arg(long, conflicts_with = "follow")]
    pub reverse: bool,
    /// Only the N most recent matching commands.
    #[arg(long, short = 'n', value_name = "N", conflicts_with = "follow")]
    pub limit: Option<usize>,
    /// Keep printing commands as they are logged (as `audit follow`).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// One JSON object per command (decision and outcome joined), for jq.
    #[arg(long)]
    pub json: bool,
    /// Log files: rotated `.1` and `.gz` files too; several are merged by time; `-` reads stdin. Default: the configured log.
    pub files: Vec<PathBuf>,
    // Last: its help heading applies to what follows it.
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The decision id, or a prefix of it that only one command has.
    pub id: String,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
    /// Log files to search (default: the configured log).
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FollowArgs {
    /// One JSON object per command.
    #[arg(long)]
    pub json: bool,
    /// The log to follow (default: the configured log); `-` reads stdin to its end.
    pub file: Option<PathBuf>,
    /// How often to look for new records, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 200, hide = true)]
    pub poll_ms: u64,
    // Last: its help heading applies to what follows it.
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// How many entries each ranking shows.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
    /// Log files (default: the configured log).
    pub files: Vec<PathBuf>,
    // Last: its help heading applies to what follows it.
    #[command(flatten)]
    pub filter: FilterArgs,
}

fn parse_risk(text: &str) -> Result<Risk, String> {
    Risk::parse(text.trim()).ok_or_else(|| {
        format!("unknown risk `{text}` (expected none, low, medium, high or critical)")
    })
}

fn parse_regex(text: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(text).map_err(|e| e.to_string())
}

/// The log to read when no file is named: the configured one, else the
/// first default place that holds a log (unlike writing, reading does not
/// need the directory to be writable).
pub fn default_log(config: &Config) -> Result<PathBuf, String> {
    if let Some(path) = &config.audit.path {
        return Ok(path.clone());
    }
    let xdg = std::env::var("XDG_STATE_HOME").ok();
    let home = std::env::var("HOME").ok();
    let candidates = config::default_audit_paths(xdg.as_deref(), home.as_deref());
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .ok_or_else(|| {
            let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!(
                "no audit log found (looked for {}); name a FILE, or set [audit] path in the configuration",
                tried.join(", ")
            )
        })
}

/// What the output depends on besides the arguments.
struct Env {
    now: Timestamp,
    tz: TimeZone,
    color: bool,
    /// Terminal columns to fit rows into; `None`: do not cut.
    width: Option<usize>,
}

impl Env {
    fn from_process(color: ColorChoice) -> Env {
        Env {
            now: Timestamp::now(),
            tz: TimeZone::system(),
            color: paint::use_color(color, paint::no_color_env(), io::stdout().is_terminal()),
            width: width::of_stdout_table(),
        }
    }
}

/// Runs `safe-run audit …`; `default_log` names the configured log when
/// no file is given.
pub fn run(
    args: &AuditArgs,
    color: ColorChoice,
    default_log: &mut dyn FnMut() -> Result<PathBuf, Error>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Error> {
    let env = Env::from_process(color);
    let mut files_or_default = |files: &[PathBuf]| -> Result<Vec<PathBuf>, Error> {
        if files.is_empty() {
            Ok(vec![default_log()?])
        } else {
            Ok(files.to_vec())
        }
    };
    match &args.command {
        None if args.list.follow => {
            let list = &args.list;
            if list.files.len() > 1 {
                return Err(Error::Usage("follow reads one log at a time".into()));
            }
            let file = files_or_default(&list.files)?.remove(0);
            let filter = make_filter(&list.filter, &env)?;
            follow(&file, filter, list.json, 200, &env, out, err)
        }
        None => {
            let files = files_or_default(&args.list.files)?;
            list(&args.list, &files, &env, out, err)
        }
        Some(AuditCommand::Verify { files }) => verify(&files_or_default(files)?, out),
        Some(AuditCommand::Show(show_args)) => {
            let files = files_or_default(&show_args.files)?;
            show(show_args, &files, &env, out, err)
        }
        Some(AuditCommand::Follow(follow_args)) => {
            let file = match &follow_args.file {
                Some(file) => file.clone(),
                None => files_or_default(&[])?.remove(0),
            };
            let filter = make_filter(&follow_args.filter, &env)?;
            let poll = follow_args.poll_ms.clamp(10, 10_000);
            follow(&file, filter, follow_args.json, poll, &env, out, err)
        }
        Some(AuditCommand::Stats(stats_args)) => {
            let files = files_or_default(&stats_args.files)?;
            stats(stats_args, &files, &env, out, err)
        }
    }
}

fn make_filter(args: &FilterArgs, env: &Env) -> Result<Filter, Error> {
    let when = |text: &Option<String>| {
        text.as_deref()
            .map(|t| review::parse_when(t, env.now, &env.tz))
            .transpose()
            .map_err(Error::Usage)
    };
    Ok(Filter {
        since: when(&args.since)?,
        until: when(&args.until)?,
        users: args.user.clone(),
        hosts: args.host.clone(),
        min_risk: args.risk,
        decisions: args.decision.clone(),
        rules: args.rules.clone(),
        grep: args.grep.clone(),
        failed: args.failed,
        id_prefix: None,
        slots: args.slot.iter().flat_map(|c| c.0.iter().copied()).collect(),
        break_glass: args.break_glass,
        approval: args.approval,
    })
}

/// The events one `--slot` word stands for.
#[derive(Clone, Debug)]
pub struct SlotChoice(Vec<SlotEvent>);

/// Reads a `--slot` word; `any` is every event.
fn parse_slot(word: &str) -> Result<SlotChoice, String> {
    match word.trim() {
        "any" => Ok(SlotChoice(SlotEvent::ALL.to_vec())),
        w => SlotEvent::parse(w).map(|e| SlotChoice(vec![e])).ok_or_else(|| {
            format!(
                "unknown slot event `{w}` (expected held, refused, unreachable, break-glass, released, kept or any)"
            )
        }),
    }
}

// ---------------------------------------------------------------- inputs

const READ_BUFFER: usize = 256 * 1024;

fn read_error(path: &Path, source: io::Error) -> Error {
    Error::Read {
        path: path.display().to_string(),
        source,
    }
}

/// Opens a log for reading: `-` is stdin; gzip is recognised by its magic
/// bytes.
fn open(path: &Path) -> Result<Box<dyn BufRead>, Error> {
    open_reader(path).map_err(|e| read_error(path, e))
}

fn open_reader(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path)?)
    };
    let mut reader = BufReader::with_capacity(READ_BUFFER, raw);
    let gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(
            READ_BUFFER,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Reads one line into `buf` (without its newline), keeping at most
/// `max` bytes. `None` at the end; `Some(true)` when the line was longer
/// (the rest of it is skipped).
fn read_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<bool>> {
    let limit = max as u64 + 1;
    if reader.take(limit).read_until(b'\n', buf)? == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(false));
    }
    if (buf.len() as u64) < limit {
        return Ok(Some(false)); // the last line, without its newline
    }
    buf.clear();
    let mut skipped = Vec::new();
    loop {
        skipped.clear();
        let n = reader.take(64 * 1024).read_until(b'\n', &mut skipped)?;
        if n == 0 || skipped.last() == Some(&b'\n') {
            return Ok(Some(true));
        }
    }
}

/// The entries of one input, line by line.
struct Lines {
    reader: Box<dyn BufRead>,
    source: usize,
    line: u64,
}

impl Iterator for Lines {
    type Item = io::Result<Entry>;

    fn next(&mut self) -> Option<io::Result<Entry>> {
        let mut buf = Vec::with_capacity(512);
        let too_long = match read_line(self.reader.as_mut(), &mut buf, MAX_LINE) {
            Ok(None) => return None,
            Ok(Some(too_long)) => too_long,
            Err(e) => return Some(Err(tagged(self.source, e))),
        };
        self.line += 1;
        let at = Origin {
            source: self.source,
            line: self.line,
        };
        Some(Ok(if too_long {
            Entry {
                ts: None,
                at,
                body: Body::Bad,
            }
        } else {
            review::read_entry(buf, at)
        }))
    }
}

/// The files of one rotated set, oldest first, read one after the other
/// (each opened when the one before ends).
struct Chained {
    files: VecDeque<(usize, PathBuf)>,
    current: Option<Lines>,
}

impl Iterator for Chained {
    type Item = io::Result<Entry>;

    fn next(&mut self) -> Option<io::Result<Entry>> {
        loop {
            if let Some(entry) = self.current.as_mut().and_then(Iterator::next) {
                return Some(entry);
            }
            let (source, path) = self.files.pop_front()?;
            match open_reader(&path) {
                Ok(reader) => {
                    self.current = Some(Lines {
                        reader,
                        source,
                        line: 0,
                    })
                }
                Err(e) => return Some(Err(tagged(source, e))),
            }
        }
    }
}

/// A read error and the index of the input it came from.
#[derive(Debug)]
struct Tagged(usize, io::Error);

fn tagged(source: usize, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), Tagged(source, error))
}

impl std::fmt::Display for Tagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.1.fmt(f)
    }
}

impl std::error::Error for Tagged {}

/// The inputs of a review: rotated sets, each oldest first.
struct Inputs {
    /// Every file, numbered as `Origin::source`.
    names: Vec<PathBuf>,
    /// The indexes of each set's files.
    sets: Vec<Vec<usize>>,
}

impl Inputs {
    /// Groups `files` into rotated sets; a file that cannot be opened is
    /// an error now rather than halfway through the output.
    fn new(files: &[PathBuf]) -> Result<Inputs, Error> {
        let mut names = Vec::new();
        let mut sets = Vec::new();
        for set in review::rotation_groups(files) {
            let mut indexes = Vec::new();
            for path in set {
                if path.as_os_str() != "-" {
                    File::open(&path).map_err(|e| read_error(&path, e))?;
                }
                indexes.push(names.len());
                names.push(path);
            }
            sets.push(indexes);
        }
        Ok(Inputs { names, sets })
    }

    fn name(&self, origin: Origin) -> String {
        self.names
            .get(origin.source)
            .map_or_else(|| "?".into(), |p| p.display().to_string())
    }

    /// Feeds every record to `review`: the files of a rotated set one
    /// after the other, the sets merged by time. Rows go to `on_row`.
    fn drive(
        &self,
        review: &mut Review,
        on_row: &mut dyn FnMut(Row) -> io::Result<()>,
    ) -> Result<(), Error> {
        let mut streams: Vec<Chained> = self
            .sets
            .iter()
            .map(|set| Chained {
                files: set.iter().map(|&i| (i, self.names[i].clone())).collect(),
                current: None,
            })
            .collect();
        let entries: Box<dyn Iterator<Item = io::Result<Entry>>> = match streams.len() {
            1 => Box::new(streams.remove(0)),
            _ => Box::new(Merge::new(streams)),
        };
        let mut rows = Vec::new();
        for entry in entries {
            review.feed(entry.map_err(|e| self.error(e))?, &mut |row| rows.push(row));
            for row in rows.drain(..) {
                on_row(row)?;
            }
        }
        review.finish(&mut |row| rows.push(row));
        for row in rows.drain(..) {
            on_row(row)?;
        }
        Ok(())
    }

    /// A read error, named after its file.
    fn error(&self, e: io::Error) -> Error {
        let kind = e.kind();
        match e.into_inner().map(|inner| inner.downcast::<Tagged>()) {
            Some(Ok(tagged)) => {
                let Tagged(source, error) = *tagged;
                let name = self.name(Origin { source, line: 0 });
                read_error(Path::new(&name), error)
            }
            Some(Err(other)) => Error::Io(io::Error::new(kind, other)),
            None => Error::Io(io::Error::from(kind)),
        }
    }

    /// Says on stderr how many lines held no record.
    fn report_skipped(&self, review: &Review, err: &mut dyn Write) {
        let counts = &review.counts;
        if let Some(first) = counts.first_skipped {
            let _ = writeln!(
                err,
                "safe-run: skipped {} line(s) that hold no audit record (the first: {}:{})",
                counts.skipped,
                self.name(first),
                first.line
            );
        }
    }
}

// ---------------------------------------------------------------- list

fn list(
    args: &ListArgs,
    files: &[PathBuf],
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Error> {
    let filter = make_filter(&args.filter, env)?;
    let inputs = Inputs::new(files)?;
    let mut review = Review::new(filter, JoinOptions::default());
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut printer = Printer::new(env, args.json, None);
    let mut shown = 0u64;
    // --limit keeps the last N rows; --reverse needs them all before the
    // first can be printed. Otherwise rows are printed as they come.
    let mut held: VecDeque<Row> = VecDeque::new();
    let hold = args.limit.is_some() || args.reverse;
    inputs.drive(&mut review, &mut |row| {
        shown += 1;
        if hold {
            held.push_back(row);
            if args.limit.is_some_and(|n| held.len() > n) {
                held.pop_front();
            }
        } else {
            printer.row(&mut out, row)?;
        }
        Ok(())
    })?;
    if args.reverse {
        held.make_contiguous().reverse();
    }
    for row in held {
        printer.row(&mut out, row)?;
    }
    printer.finish(&mut out)?;
    out.flush()?;
    inputs.report_skipped(&review, err);
    if shown == 0 && !args.json {
        let _ = writeln!(
            err,
            "safe-run: no command matches ({} record(s) read)",
            review.counts.records
        );
    }
    Ok(0)
}

/// The row's time in the viewer's zone, `YYYY-MM-DD HH:MM:SS`.
fn local_time(ts: &str, tz: &TimeZone) -> String {
    match ts.parse::<Timestamp>() {
        Ok(t) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S")
            .to_string(),
        Err(_) => clean(ts, false),
    }
}

fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal).map_or_else(
        |_| format!("sig{signal}"),
        |s| s.as_str().trim_start_matches("SIG").to_string(),
    )
}

/// The EXIT column: the status, the signal's name, `-` (never ran), `?`
/// (no outcome recorded), `…` (still running).
fn exit_text(row: &Row) -> String {
    let outcome = row.outcome.as_ref();
    match row.status {
        Status::Ok | Status::Failed => outcome
            .and_then(|o| o.exit)
            .map_or_else(|| "?".into(), |e| e.to_string()),
        Status::Killed => outcome
            .and_then(|o| o.signal)
            .map_or_else(|| "?".into(), signal_name),
        Status::NotRun => "-".into(),
        Status::NoOutcome => "?".into(),
        Status::Running => "…".into(),
    }
}

/// What was run: the line, or the argv of `safe-run -- PROG ARGS…`.
fn command_text(row: &Row) -> String {
    let d = &row.decision;
    let text = match (&d.line, &d.argv) {
        (Some(line), _) if !line.is_empty() => clean(line, false),
        (_, Some(argv)) => clean(&argv.join(" "), false),
        _ => String::new(),
    };
    // The change controls, before the line: a reviewer scanning a table
    // sees what ran through a freeze or on a second operator's word.
    let mut marks = String::new();
    if d.break_glass == Some(true) {
        marks.push_str("[BREAK-GLASS] ");
    } else if d.freeze.is_some() {
        marks.push_str("[frozen] ");
    }
    match &d.approval {
        Some(a) if a.refused.is_some() => marks.push_str("[approval refused] "),
        Some(a) => marks.push_str(&format!(
            "[approved by {}] ",
            clean(a.approver.as_deref().unwrap_or("?"), false)
        )),
        None => {}
    }
    marks + &text
}

const TIME_W: usize = 19;
const RISK_W: usize = 8;
const DECISION_W: usize = 9;
const EXIT_W: usize = 4;
/// Rows looked at to size the host and user columns.
const LAYOUT_ROWS: usize = 64;

/// The end of a table row: the line and the reason in their own columns
/// when the terminal is wide enough, else together (`LINE  # REASON`), cut
/// to the width if there is one.
enum Tail {
    Columns(usize, usize),
    Together(Option<usize>),
}

/// Prints rows as a table or as JSON lines. The host and user columns are
/// sized from the first rows (then fixed: the output streams).
struct Printer {
    json: bool,
    color: bool,
    width: Option<usize>,
    tz: TimeZone,
    /// (host, user) column widths, once decided.
    columns: Option<(usize, usize)>,
    waiting: Vec<Row>,
}

impl Printer {
    fn new(env: &Env, json: bool, columns: Option<(usize, usize)>) -> Printer {
        Printer {
            json,
            color: env.color,
            width: env.width,
            tz: env.tz.clone(),
            columns,
            waiting: Vec::new(),
        }
    }

    fn row(&mut self, out: &mut dyn Write, row: Row) -> io::Result<()> {
        if self.json {
            serde_json::to_writer(&mut *out, &row.json()).map_err(io::Error::other)?;
            return out.write_all(b"\n");
        }
        if self.columns.is_none() {
            self.waiting.push(row);
            if self.waiting.len() >= LAYOUT_ROWS {
                self.flush_waiting(out)?;
            }
            return Ok(());
        }
        self.line(out, &row)
    }

    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if !self.waiting.is_empty() {
            self.flush_waiting(out)?;
        }
        Ok(())
    }

    fn flush_waiting(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let host = self
            .waiting
            .iter()
            .map(|r| clean(&r.decision.host, false).width())
            .max()
            .unwrap_or(0);
        let user = self
            .waiting
            .iter()
            .map(|r| clean(&r.who(), false).width())
            .max()
            .unwrap_or(0);
        self.columns = Some((host.clamp(4, 16), user.clamp(4, 16)));
        self.header(out)?;
        for row in std::mem::take(&mut self.waiting) {
            self.line(out, &row)?;
        }
        Ok(())
    }

    /// How the line and the reason share what is left of the row.
    fn tail(&self) -> Tail {
        let (host, user) = self.columns.unwrap_or((12, 12));
        let fixed = TIME_W + host + user + RISK_W + DECISION_W + EXIT_W + 6;
        match self.width {
            None => Tail::Together(None),
            Some(width) => {
                let rest = width.saturating_sub(fixed).max(10);
                if rest >= 60 {
                    let reason = (rest / 2).min(40);
                    Tail::Columns(rest - reason - 1, reason)
                } else {
                    Tail::Together(Some(rest))
                }
            }
        }
    }

    fn header(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        let (host, user) = self.columns.unwrap_or((12, 12));
        let mut text = format!(
            "{} {} {} {} {} {} ",
            fit("TIME", TIME_W, true),
            fit("HOST", host, true),
            fit("USER", user, true),
            fit("RISK", RISK_W, true),
            fit("DECISION", DECISION_W, true),
            fit("EXIT", EXIT_W, true),
        );
        match self.tail() {
            Tail::Columns(line, _) => text.push_str(&format!("{} REASON", fit("LINE", line, true))),
            Tail::Together(_) => text.push_str("LINE  # REASON"),
        }
        writeln!(out, "{}", paint(self.color, BOLD, text.trim_end()))
    }

    fn line(&self, out: &mut dyn Write, row: &Row) -> io::Result<()> {
        let d = &row.decision;
        let (host_w, user_w) = self.columns.unwrap_or((12, 12));
        let risk = d.risk.unwrap_or_default();
        let exit = exit_text(row);
        let exit_cell = fit(&exit, EXIT_W, true);
        let exit_cell = match row.status {
            Status::Failed | Status::Killed => paint(self.color, risk_sgr(Risk::High), &exit_cell),
            _ => exit_cell,
        };
        let mut text = format!(
            "{} {} {} {} {} {} ",
            fit(&local_time(&d.ts, &self.tz), TIME_W, true),
            fit(&clean(&d.host, false), host_w, true),
            fit(&clean(&row.who(), false), user_w, true),
            paint(
                self.color,
                risk_sgr(risk),
                &fit(risk.as_str(), RISK_W, true)
            ),
            fit(d.decision.map_or("?", Decision::as_str), DECISION_W, true),
            exit_cell,
        );
        let command = command_text(row);
        let reason = d
            .reason
            .as_deref()
            .map(|r| clean(r, false))
            .unwrap_or_default();
        match self.tail() {
            Tail::Columns(line_w, reason_w) => {
                text.push_str(&fit(&command, line_w, true));
                text.push(' ');
                text.push_str(&fit(&reason, reason_w, false));
            }
            Tail::Together(width) => {
                let together = if reason.is_empty() {
                    command
                } else {
                    format!("{command}  # {reason}")
                };
                match width {
                    Some(w) => text.push_str(&fit(&together, w, false)),
                    None => text.push_str(&together),
                }
            }
        }
        writeln!(out, "{}", text.trim_end())
    }
}

// ---------------------------------------------------------------- show

/// How many distinct commands an ambiguous prefix lists.
const SHOW_CANDIDATES: usize = 10;

fn show(
    args: &ShowArgs,
    files: &[PathBuf],
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Error> {
    let prefix = args.id.trim();
    if prefix.is_empty() {
        return Err(Error::Usage("give a decision id (or its start)".into()));
    }
    let filter = Filter {
        id_prefix: Some(prefix.to_string()),
        ..Filter::default()
    };
    let inputs = Inputs::new(files)?;
    let mut review = Review::new(filter, JoinOptions::default());
    let mut found: Vec<Row> = Vec::new();
    let mut more = 0u64;
    inputs.drive(&mut review, &mut |row| {
        match found.iter().position(|r| r.decision.id == row.decision.id) {
            // A late outcome completes the row shown before.
            Some(i) if row.outcome.is_some() => found[i] = row,
            Some(_) => {}
            None if found.len() < SHOW_CANDIDATES => found.push(row),
            None => more += 1,
        }
        Ok(())
    })?;
    inputs.report_skipped(&review, err);
    let mut out = BufWriter::new(out);
    let code = match found.as_slice() {
        [] => {
            writeln!(
                err,
                "safe-run: no command has an id starting with `{}` in {}",
                clean(prefix, false),
                inputs
                    .names
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
            1
        }
        [row] if args.json => {
            serde_json::to_writer(&mut out, &row.json()).map_err(io::Error::other)?;
            writeln!(out)?;
            0
        }
        [row] => {
            write_details(&mut out, row, &inputs, env)?;
            0
        }
        rows => {
            writeln!(
                err,
                "safe-run: `{}` is the start of {} commands' ids; give more of it:",
                clean(prefix, false),
                rows.len() as u64 + more
            )?;
            for row in rows {
                writeln!(
                    err,
                    "  {}  {}  {}",
                    clean(&row.decision.id, false),
                    local_time(&row.decision.ts, &env.tz),
                    fit(&command_text(row), 60, false)
                )?;
            }
            if more > 0 {
                writeln!(err, "  … and {more} more")?;
            }
            1
        }
    };
    out.flush()?;
    Ok(code)
}

/// `1.234 s`, `3 min 12 s`, `2 h 05 min`.
fn duration_text(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{}.{:03} s", secs, ms % 1000),
        60..3600 => format!("{} min {:02} s", secs / 60, secs % 60),
        _ => format!("{} h {:02} min", secs / 3600, secs / 60 % 60),
    }
}

fn write_details(out: &mut dyn Write, row: &Row, inputs: &Inputs, env: &Env) -> io::Result<()> {
    let d = &row.decision;
    let c = |s: &str| clean(s, false);
    let field = |out: &mut dyn Write, name: &str, value: &str| -> io::Result<()> {
        writeln!(out, "  {name:<11}{value}")
    };
    writeln!(
        out,
        "{}",
        paint(env.color, BOLD, &format!("Command {}", c(&d.id)))
    )?;
    field(
        out,
        "time",
        &format!("{}  ({})", local_time(&d.ts, &env.tz), c(&d.ts)),
    )?;
    field(out, "host", &c(&d.host))?;
    field(out, "user", &format!("{} (uid {})", c(&d.user), d.uid))?;
    if let Some(login) = &d.login_user {
        field(out, "login user", &c(login))?;
    }
    if let Some(ssh) = &d.ssh {
        field(out, "ssh from", &c(ssh))?;
    }
    if let Some(tty) = &d.tty {
        field(out, "tty", &c(tty))?;
    }
    if let Some(cwd) = &d.cwd {
        field(out, "cwd", &c(cwd))?;
    }
    if let Some(mode) = d.mode {
        let mode = match mode {
            Mode::Shell => "interactive shell",
            Mode::DashC => "-c (a remote or scripted line)",
            Mode::Argv => "-- (a program, no shell)",
        };
        field(out, "mode", mode)?;
    }
    if let Some(line) = &d.line {
        field(out, "line", &c(line))?;
    }
    if let Some(argv) = &d.argv {
        let quoted: Vec<String> = argv.iter().map(|a| format!("{:?}", c(a))).collect();
        field(out, "argv", &quoted.join(" "))?;
    }
    let risk = d.risk.unwrap_or_default();
    field(
        out,
        "risk",
        &paint(env.color, risk_sgr(risk), risk.as_str()),
    )?;
    let findings = d.findings.as_deref().unwrap_or_default();
    if findings.is_empty() {
        field(out, "findings", "none")?;
    }
    for (i, f) in findings.iter().enumerate() {
        let name = if i == 0 { "findings" } else { "" };
        field(out, name, &format!("{} ({})", c(&f.rule), f.risk))?;
    }
    field(out, "decision", d.decision.map_or("?", Decision::as_str))?;
    field(
        out,
        "reason",
        &d.reason.as_deref().map_or_else(|| "-".into(), c),
    )?;
    // What the previews' summaries showed the operator, one fact a line.
    for (i, (name, value)) in d.preview.iter().flatten().enumerate() {
        let value = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let label = if i == 0 { "preview" } else { "" };
        field(out, label, &format!("{}: {}", c(name), c(&value)))?;
    }
    // The fleet slot: taken, refused or broken through; then given back
    // or kept.
    for (label, slot) in [
        ("slot", d.slot.as_ref()),
        (
            "slot after",
            row.outcome.as_ref().and_then(|o| o.slot.as_ref()),
        ),
    ] {
        let Some(slot) = slot else { continue };
        let mut text = format!(
            "{} {} ({})",
            slot.event.as_str(),
            c(&slot.groups.join(", ")),
            c(&slot.store)
        );
        for h in &slot.holders {
            text.push_str(&format!(
                "; held by {} in {} ({} since {}: {})",
                c(&h.host),
                c(&h.group),
                c(&h.user),
                c(&h.since),
                c(&h.reason)
            ));
        }
        if let Some(e) = &slot.error {
            text.push_str(&format!("; {}", c(e)));
        }
        field(out, label, &text)?;
    }
    // The change controls: the freeze in force, break-glass, the approval.
    if let Some(freeze) = &d.freeze {
        let glass = if d.break_glass == Some(true) {
            "BREAK-GLASS: run during "
        } else {
            "held back by "
        };
        field(out, "freeze", &format!("{glass}{}", c(freeze)))?;
    }
    if let Some(a) = &d.approval {
        let said = match (&a.refused, &a.approver) {
            (Some(why), _) => format!("REFUSED: {}", c(why)),
            (None, Some(approver)) => format!(
                "approved by {} ({})",
                c(approver),
                c(a.key.as_deref().unwrap_or("?"))
            ),
            (None, None) => "approved".to_string(),
        };
        field(
            out,
            "approval",
            &format!(
                "{said}; code {}, asked by {}, valid until {}",
                c(&a.code),
                c(&a.requester),
                c(&a.expires)
            ),
        )?;
    }
    // Where the session's configuration and rules came from: a policy
    // that is not the site's own shows here.
    if let Some(s) = &d.sources {
        let mut config = format!("{} ({})", c(&s.config), c(&s.config_from));
        if s.config_errors {
            config.push_str(", with errors");
        }
        if s.overridden {
            config.push_str(", OVERRIDDEN in this session");
        }
        field(out, "config", &config)?;
        let mut rules = if s.rule_dirs.is_empty() {
            "built-in only".to_string()
        } else {
            format!("built-in + {}", c(&s.rule_dirs.join(", ")))
        };
        if !s.disabled.is_empty() {
            rules.push_str(&format!("; disabled: {}", c(&s.disabled.join(", "))));
        }
        field(out, "rules", &rules)?;
    }
    let outcome = match (&row.outcome, row.status) {
        (Some(o), _) => {
            let how = match (o.exit, o.signal) {
                (_, Some(signal)) => format!("killed by SIG{}", signal_name(signal)),
                (Some(exit), None) => format!("exit {exit}"),
                (None, None) => "no exit status".into(),
            };
            let took = o.duration_ms.map(duration_text).unwrap_or_default();
            format!(
                "{how} after {took}, ended {}",
                local_time(&o.ts, &env.tz)
            )
        }
        (None, Status::NotRun) => "not run".into(),
        (None, _) => "none recorded: safe-run was killed, the command is still running, or its outcome is in a log not read".into(),
    };
    field(out, "outcome", &outcome)?;
    let mut records = format!("{}:{} (decision)", inputs.name(row.at), row.at.line);
    if let (Some(at), Some(o)) = (row.outcome_at, &row.outcome) {
        records.push_str(&format!(
            ", {}:{} (outcome {})",
            inputs.name(at),
            at.line,
            c(&o.id)
        ));
    }
    field(out, "records", &records)
}

// ---------------------------------------------------------------- stats

#[derive(Serialize)]
struct JsonStats<'a> {
    records: u64,
    skipped_lines: u64,
    #[serde(flatten)]
    stats: &'a Stats,
    #[serde(flatten)]
    tops: review::StatsTops,
}

fn stats(
    args: &StatsArgs,
    files: &[PathBuf],
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Error> {
    let filter = make_filter(&args.filter, env)?;
    let inputs = Inputs::new(files)?;
    let mut review = Review::new(filter, JoinOptions::default());
    let mut stats = Stats::new();
    inputs.drive(&mut review, &mut |row| {
        stats.add(&row);
        Ok(())
    })?;
    inputs.report_skipped(&review, err);
    let mut out = BufWriter::new(out);
    if args.json {
        let json = JsonStats {
            records: review.counts.records,
            skipped_lines: review.counts.skipped,
            stats: &stats,
            tops: stats.tops(args.top),
        };
        serde_json::to_writer(&mut out, &json).map_err(io::Error::other)?;
        writeln!(out)?;
    } else {
        write_stats(&mut out, &stats, &review, args.top, env)?;
    }
    out.flush()?;
    Ok(0)
}

fn write_stats(
    out: &mut dyn Write,
    stats: &Stats,
    review: &Review,
    top: usize,
    env: &Env,
) -> io::Result<()> {
    let title =
        |out: &mut dyn Write, text: &str| writeln!(out, "\n{}", paint(env.color, BOLD, text));
    let span = match (&stats.first, &stats.last) {
        (Some(first), Some(last)) => format!(
            ", {} to {}",
            local_time(first, &env.tz),
            local_time(last, &env.tz)
        ),
        _ => String::new(),
    };
    writeln!(
        out,
        "{} command(s) from {} record(s){span}",
        stats.commands, review.counts.records
    )?;
    let ranked = |map: &std::collections::BTreeMap<String, u64>| -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = map.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all
    };
    let list = |out: &mut dyn Write, rows: &[(String, u64)], limit: usize| -> io::Result<()> {
        if rows.is_empty() {
            writeln!(out, "  (none)")?;
        }
        for (key, count) in rows.iter().take(limit) {
            writeln!(out, "  {count:>8}  {}", clean(key, false))?;
        }
        if rows.len() > limit {
            writeln!(out, "  {:>8}  … {} more", "", rows.len() - limit)?;
        }
        Ok(())
    };
    title(out, "By decision")?;
    let decisions: Vec<(String, u64)> = [
        "allowed",
        "confirmed",
        "refused",
        "denied",
        "aborted",
        "unknown",
    ]
    .iter()
    .filter_map(|d| stats.by_decision.get(d).map(|n| (d.to_string(), *n)))
    .collect();
    list(out, &decisions, usize::MAX)?;
    title(out, "By outcome")?;
    let statuses: Vec<(String, u64)> = [
        Status::Ok,
        Status::Failed,
        Status::Killed,
        Status::NotRun,
        Status::NoOutcome,
    ]
    .iter()
    .filter_map(|s| {
        stats
            .by_status
            .get(s.as_str())
            .filter(|n| **n > 0)
            .map(|n| (s.as_str().to_string(), *n))
    })
    .collect();
    list(out, &statuses, usize::MAX)?;
    if stats.held_by_freeze + stats.break_glass + stats.approvals + stats.approvals_refused > 0 {
        title(out, "Change controls")?;
        let controls: Vec<(String, u64)> = [
            ("held back by a freeze", stats.held_by_freeze),
            ("break-glass (a freeze, a fleet slot)", stats.break_glass),
            ("two-person approvals accepted", stats.approvals),
            ("two-person approvals refused", stats.approvals_refused),
        ]
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
        list(out, &controls, usize::MAX)?;
        if !stats.approvals_by_approver.is_empty() {
            title(out, "Approvals by approver")?;
            list(out, &ranked(&stats.approvals_by_approver), top)?;
        }
    }
    title(out, "By risk")?;
    let risks: Vec<(String, u64)> = stats
        .by_risk
        .iter()
        .rev()
        .map(|(r, n)| (r.as_str().to_string(), *n))
        .collect();
    list(out, &risks, usize::MAX)?;
    title(out, "By rule")?;
    list(out, &ranked(&stats.by_rule), top)?;
    title(out, "By user")?;
    list(out, &ranked(&stats.by_user), top)?;
    title(out, "By host")?;
    list(out, &ranked(&stats.by_host), top)?;
    title(out, "By day")?;
    let days: Vec<(String, u64)> = stats.by_day.iter().map(|(k, v)| (k.clone(), *v)).collect();
    list(out, &days, usize::MAX)?;
    title(out, "Confirmations by user")?;
    list(out, &ranked(&stats.confirmations_by_user), top)?;
    if !stats.by_slot.is_empty() {
        title(out, "Fleet slots")?;
        let events: Vec<(String, u64)> = SlotEvent::ALL
            .iter()
            .filter_map(|e| {
                stats
                    .by_slot
                    .get(e.as_str())
                    .map(|n| (e.as_str().to_string(), *n))
            })
            .collect();
        list(out, &events, usize::MAX)?;
    }
    let tops = stats.tops(top);
    let counted = |rows: &[Counted]| -> Vec<(String, u64)> {
        rows.iter()
            .map(|c| {
                let approx = if c.error > 0 { " (approximate)" } else { "" };
                (format!("{}{approx}", c.key), c.count)
            })
            .collect()
    };
    title(out, "Most frequent risky commands (medium and above)")?;
    list(out, &counted(&tops.risky_commands), top)?;
    title(out, "Refused, denied and aborted")?;
    list(out, &counted(&tops.refused_and_aborted), top)
}

// ---------------------------------------------------------------- follow

/// How long a command may run before follow shows it as running.
const FOLLOW_GRACE: Duration = Duration::from_secs(1);
/// How long a renamed-away log is still read after the switch, for
/// writers that had it open.
const OLD_FILE_GRACE: Duration = Duration::from_secs(2);

/// One open file being followed.
struct Followed {
    file: File,
    identity: (u64, u64),
    pos: u64,
    partial: Vec<u8>,
    line: u64,
}

impl Followed {
    /// Opens `path` at `start` (`None`: at its end, after its last whole line).
    fn open(path: &Path, start: Option<u64>) -> io::Result<Followed> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let pos = match start {
            Some(pos) => pos,
            None => after_last_newline(&mut file, meta.len())?,
        };
        file.seek(SeekFrom::Start(pos))?;
        Ok(Followed {
            file,
            identity: (meta.dev(), meta.ino()),
            pos,
            partial: Vec::new(),
            line: 0,
        })
    }

    /// Reads what was appended; whole lines go to `on_line`. Returns
    /// whether anything was read.
    fn read_new(&mut self, on_line: &mut dyn FnMut(Vec<u8>, u64)) -> io::Result<bool> {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut any = false;
        loop {
            let n = self.file.read(&mut chunk)?;
            if n == 0 {
                return Ok(any);
            }
            any = true;
            self.pos += n as u64;
            self.partial.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(nl) = memchr::memchr(b'\n', &self.partial[start..]) {
                self.line += 1;
                on_line(self.partial[start..start + nl].to_vec(), self.line);
                start += nl + 1;
            }
            self.partial.drain(..start);
            if self.partial.len() > MAX_LINE {
                self.line += 1;
                self.partial.clear();
                on_line(b"(an overlong line)".to_vec(), self.line);
            }
        }
    }
}

/// Opens a log that just appeared at `path`, from its start; `None` if it
/// is gone again.
fn reopen(path: &Path) -> Result<Option<Followed>, Error> {
    match Followed::open(path, Some(0)) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_error(path, e)),
    }
}

/// Where the last whole line of a file ends (so following does not start
/// in the middle of a record being written).
fn after_last_newline(file: &mut File, len: u64) -> io::Result<u64> {
    let back = len.min(64 * 1024);
    file.seek(SeekFrom::Start(len - back))?;
    let mut tail = vec![0u8; back as usize];
    file.read_exact(&mut tail)?;
    Ok(match memchr::memrchr(b'\n', &tail) {
        Some(i) => len - back + i as u64 + 1,
        None if back < len => len, // one huge line: start after it
        None => 0,
    })
}

fn follow(
    path: &Path,
    filter: Filter,
    json: bool,
    poll_ms: u64,
    env: &Env,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Error> {
    let mut review = Review::new(
        filter,
        JoinOptions {
            grace: Some(FOLLOW_GRACE),
            ..JoinOptions::default()
        },
    );
    let mut printer = Printer::new(env, json, Some((12, 12)));
    let mut out = BufWriter::new(out);
    printer.header(&mut out)?;
    out.flush()?;
    if path.as_os_str() == "-" {
        return follow_stdin(&mut review, &mut printer, &mut out);
    }
    let poll = Duration::from_millis(poll_ms);
    let name = path.display().to_string();
    let mut current = match Followed::open(path, None) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            writeln!(err, "safe-run: waiting for {name} to appear")?;
            None
        }
        Err(e) => return Err(read_error(path, e)),
    };
    writeln!(err, "safe-run: following {name} (Ctrl-C to stop)")?;
    let mut old: Option<(Followed, Instant)> = None;
    let mut skipped_reported = 0;
    let mut rows = Vec::new();
    loop {
        let mut feed = |line: Vec<u8>, number: u64| {
            let entry = review::read_entry(
                line,
                Origin {
                    source: 0,
                    line: number,
                },
            );
            review.feed(entry, &mut |row| rows.push(row));
        };
        let mut any = false;
        if let Some((file, until)) = &mut old {
            any |= file.read_new(&mut feed).map_err(|e| read_error(path, e))?;
            if Instant::now() >= *until {
                old = None;
            }
        }
        if let Some(file) = &mut current {
            any |= file.read_new(&mut feed).map_err(|e| read_error(path, e))?;
        }
        // When the path is missing, the log was renamed away and not
        // recreated yet: keep reading the old file.
        if let Ok(meta) = std::fs::metadata(path) {
            match &mut current {
                Some(file) if (meta.dev(), meta.ino()) != file.identity => {
                    // Renamed away (or deleted) and recreated: finish the
                    // old one, keep reading it a little, go on with the new.
                    file.read_new(&mut feed).map_err(|e| read_error(path, e))?;
                    if let Some(new) = reopen(path)? {
                        if let Some(previous) = current.replace(new) {
                            old = Some((previous, Instant::now() + OLD_FILE_GRACE));
                        }
                        any = true;
                    }
                }
                Some(file) if meta.len() < file.pos => {
                    writeln!(
                        err,
                        "safe-run: {name} was truncated; reading it again from its start"
                    )?;
                    file.file
                        .seek(SeekFrom::Start(0))
                        .map_err(|e| read_error(path, e))?;
                    file.pos = 0;
                    file.partial.clear();
                    any = true;
                }
                Some(_) => {}
                None => {
                    current = reopen(path)?;
                    any = current.is_some();
                }
            }
        }
        review.tick(Instant::now(), &mut |row| rows.push(row));
        for row in rows.drain(..) {
            printer.row(&mut out, row)?;
        }
        out.flush()?;
        if review.counts.skipped > skipped_reported {
            skipped_reported = review.counts.skipped;
            writeln!(
                err,
                "safe-run: skipped {skipped_reported} line(s) that hold no audit record so far"
            )?;
        }
        if !any {
            std::thread::sleep(poll);
        }
    }
}

fn follow_stdin(
    review: &mut Review,
    printer: &mut Printer,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let mut reader = BufReader::new(io::stdin().lock());
    let mut rows = Vec::new();
    let mut number = 0;
    loop {
        let mut buf = Vec::new();
        let Some(too_long) =
            read_line(&mut reader, &mut buf, MAX_LINE).map_err(|e| Error::Read {
                path: "stdin".into(),
                source: e,
            })?
        else {
            break;
        };
        number += 1;
        let at = Origin {
            source: 0,
            line: number,
        };
        let entry = if too_long {
            Entry {
                ts: None,
                at,
                body: Body::Bad,
            }
        } else {
            review::read_entry(buf, at)
        };
        review.feed(entry, &mut |row| rows.push(row));
        review.tick(Instant::now(), &mut |row| rows.push(row));
        for row in rows.drain(..) {
            printer.row(out, row)?;
        }
        out.flush()?;
    }
    review.finish(&mut |row| rows.push(row));
    for row in rows.drain(..) {
        printer.row(out, row)?;
    }
    out.flush()?;
    Ok(0)
}

// ---------------------------------------------------------------- verify

/// `safe-run audit verify FILES…`: each rotated set checked oldest first
/// as one chain. Exit 0 when every chain is intact, 1 naming the first bad
/// record of each one that is not.
pub fn verify(files: &[PathBuf], out: &mut dyn Write) -> Result<i32, Error> {
    let mut status = 0;
    for group in review::rotation_groups(files) {
        let mut readers = Vec::with_capacity(group.len());
        for path in &group {
            readers.push(open(path)?);
        }
        let names: Vec<String> = group.iter().map(|p| p.display().to_string()).collect();
        match record::verify_chain(readers, None) {
            Ok(summary) => {
                writeln!(
                    out,
                    "ok: {} records in {} file(s), hash chain intact",
                    summary.records,
                    group.len()
                )?;
                if group.len() > 1 {
                    writeln!(out, "  checked in this order: {}", names.join(", "))?;
                }
                if summary.records > 0 && !summary.starts_chain() {
                    writeln!(
                        out,
                        "  note: {} continues a chain from an older file that was not given (its first record does not start a chain)",
                        names[0]
                    )?;
                }
                for note in &summary.notes {
                    let name = names
                        .get(note.file)
                        .map_or_else(String::new, |n| format!("{n}:"));
                    writeln!(out, "  note: {name}{note}")?;
                }
            }
            Err(e) => {
                status = 1;
                let name = names
                    .get(e.file)
                    .map_or_else(String::new, |n| format!("{n}:"));
                writeln!(out, "FAILED: {name}{e}")?;
                if e.kind == record::VerifyErrorKind::Broken(record::Break::NotContinued)
                    && let Some(path) = group.get(e.file)
                    && starts_new_chain(path)
                {
                    writeln!(
                        out,
                        "  {name} starts a new chain instead of continuing {}: the log was rotated without the chain being carried over (see docs/AUDIT.md, \"Rotation\"), or older records were replaced",
                        names
                            .get(e.file.wrapping_sub(1))
                            .map_or("the file before it", String::as_str)
                    )?;
                }
            }
        }
    }
    Ok(status)
}

/// Does the file's first record start a chain (`prev` is the genesis hash)?
fn starts_new_chain(path: &Path) -> bool {
    let Ok(mut reader) = open(path) else {
        return false;
    };
    let mut first = Vec::new();
    matches!(
        read_line(reader.as_mut(), &mut first, MAX_LINE),
        Ok(Some(false))
    ) && record::prev_of_line(&first).as_deref() == Some(record::GENESIS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_by_terminal_columns_and_pads() {
        assert_eq!(fit("abcdef", 4, true), "abc…");
        assert_eq!(fit("ab", 4, true), "ab  ");
        assert_eq!(fit("日本語です", 5, false), "日本…");
        assert_eq!(fit("x", 0, false), "");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(48_211), "48.211 s");
        assert_eq!(duration_text(192_000), "3 min 12 s");
        assert_eq!(duration_text(7_500_000), "2 h 05 min");
    }

    #[test]
    fn long_lines_are_cut_not_loaded() {
        let mut text = vec![b'x'; 100];
        text.extend_from_slice(b"\nok\n");
        let mut reader: &[u8] = &text;
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 10).unwrap(), Some(true));
        buf.clear();
        assert_eq!(read_line(&mut reader, &mut buf, 10).unwrap(), Some(false));
        assert_eq!(buf, b"ok");
        buf.clear();
        assert_eq!(read_line(&mut reader, &mut buf, 10).unwrap(), None);
    }
}
