//! The site configuration: `/etc/safe-run/config.toml` (docs/CONFIG.md).
//!
//! Everything has a default, so a host with no file at all is fully
//! configured. Parsing and validation are pure ([`Config::from_toml`],
//! [`Loaded::read_toml`]): the text comes in, a [`Config`] or every error
//! of the file comes out — or, for the running paths, the file's valid
//! settings with every setting it meant to set but that cannot be read at
//! its strictest reading (the `strict` of the settings table), so a broken file never
//! weakens the policy. Only [`read_file`] (and [`load`], which picks the
//! file) touches the file system, through [`mod@file`], which refuses a file
//! others could change, one that is not a regular file, and one too large.
//! Files are never layered: the file that is read decides every setting it
//! names, and every other setting is its default. Which file a command
//! reads is `session`'s decision.
//!
//! The document is parsed as a spanned table (`toml::de::DeTable`), not
//! deserialized into a struct, so that each key is checked on its own: a
//! file with five mistakes reports five `file:line:col` errors in one pass,
//! each with a caret under the value it is about.
//!
//! One table, `SETTINGS`, lists every key with its help line, how to read
//! it and how to print it. Parsing, [`render`] (`safe-run config`) and
//! [`commented_defaults`] (the shipped file) are all driven by it, so a new
//! key cannot be parsed but missing from the printed defaults, or the other
//! way round.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::audit::log::FsyncPolicy;
use crate::audit::syslog::Facility;
use crate::rules::spec::closest;
use crate::term::diag::Diagnostic;
use crate::term::paint::ColorChoice;
use crate::term::sanitize::clean;
use crate::verdict::{Ask, Risk};

pub mod file;
mod windows;

use windows::freeze_windows_toml;

use file::FileProblem;

/// The system-wide configuration file, read when it exists.
pub const SYSTEM_CONFIG: &str = "/etc/safe-run/config.toml";
/// The environment variable naming a configuration file.
pub const ENV_VAR: &str = "SAFE_RUN_CONFIG";
/// The audit log tried first when `[audit] path` is not set.
pub const SYSTEM_AUDIT_LOG: &str = "/var/log/safe-run/audit.jsonl";
/// A configuration file larger than this is refused rather than read
/// (`--config /dev/zero` must not eat the machine's memory).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The placeholders the prompt format may use.
pub const PROMPT_FIELDS: &[&str] = &["env", "user", "host", "cwd", "sigil"];

// ---------------------------------------------------------------------------
// The values a setting can take.

/// The private face of the keyword enums, so one reader serves them all.
trait Keyword: Copy + 'static {
    /// Every value, in the order the documentation lists them.
    const ALL: &'static [Self];
    /// The value as spelt in the file.
    fn name(self) -> &'static str;

    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|v| v.name()).collect()
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
}

/// An enum spelt in the file as one of a fixed set of lower-case words.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order the documentation lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// Every value as spelt in the file.
            pub const NAMES: &'static [&'static str] = &[$($text,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl Keyword for $name {
            const ALL: &'static [Self] = $name::ALL;
            fn name(self) -> &'static str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

impl Keyword for Ask {
    const ALL: &'static [Self] = &Ask::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Keyword for Risk {
    const ALL: &'static [Self] = &Risk::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Keyword for ColorChoice {
    const ALL: &'static [Self] = &ColorChoice::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Keyword for FsyncPolicy {
    const ALL: &'static [Self] = &FsyncPolicy::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Keyword for Facility {
    const ALL: &'static [Self] = &Facility::ALL;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

keyword_enum! {
    /// The colour of the environment banner: the 8 basic ANSI colours and
    /// their bright variants.
    pub enum Color {
        Black = "black",
        Red = "red",
        Green = "green",
        Yellow = "yellow",
        Blue = "blue",
        Magenta = "magenta",
        Cyan = "cyan",
        White = "white",
        BrightBlack = "bright-black",
        BrightRed = "bright-red",
        BrightGreen = "bright-green",
        BrightYellow = "bright-yellow",
        BrightBlue = "bright-blue",
        BrightMagenta = "bright-magenta",
        BrightCyan = "bright-cyan",
        BrightWhite = "bright-white",
    }
}

impl Color {
    /// The SGR parameter for this colour as the foreground (30–37, 90–97).
    pub fn ansi_fg(self) -> u8 {
        let index = Color::ALL.iter().position(|c| *c == self).unwrap_or(0) as u8;
        if index < 8 {
            30 + index
        } else {
            90 + index - 8
        }
    }

    /// The SGR parameter for this colour as the background (40–47, 100–107).
    pub fn ansi_bg(self) -> u8 {
        self.ansi_fg() + 10
    }
}

/// A regex a reason must contain a match of. Compared by its text, so a
/// [`Config`] can be compared as a whole.
#[derive(Clone, Debug)]
pub struct ReasonPattern(Regex);

impl ReasonPattern {
    /// Compiles a pattern; the error is a short sentence.
    pub fn new(pattern: &str) -> Result<ReasonPattern, String> {
        if pattern.is_empty() {
            return Err("an empty pattern matches every reason: remove the key instead".into());
        }
        Regex::new(pattern)
            .map(ReasonPattern)
            .map_err(|e| format!("`{pattern}` is not a valid regex: {}", regex_reason(&e)))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the reason contains a match (the pattern is not anchored
    /// unless it says so with `^…$`).
    pub fn is_match(&self, reason: &str) -> bool {
        self.0.is_match(reason)
    }
}

impl PartialEq for ReasonPattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ReasonPattern {}

keyword_enum! {
    /// Where fleet slots are kept (`[fleet] store`).
    #[derive(Default)]
    pub enum Store {
        /// A directory of lock files on this host.
        #[default]
        Local = "local",
        /// An etcd v3 cluster, through its JSON gateway.
        Etcd = "etcd",
        /// A server of Zincati's FleetLock protocol.
        FleetLock = "fleetlock",
    }
}

// ---------------------------------------------------------------------------
// The configuration.

/// Every setting in force. `Config::default()` is what a host with no
/// configuration file gets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Top-level `color`.
    pub color: ColorChoice,
    pub environment: Environment,
    pub confirm: Confirm,
    pub audit: Audit,
    pub syslog: Syslog,
    pub shell: Shell,
    pub preview: Preview,
    pub rules: Rules,
    pub session: SessionPolicy,
    /// `[freeze]`: change freezes (`freeze`, docs/FREEZES.md).
    pub freeze: crate::freeze::FreezeSettings,
    /// `[approval]`: two-person approval (`approval`, docs/APPROVALS.md).
    pub approval: crate::approval::ApprovalSettings,
    pub fleet: Fleet,
}

/// `[environment]`: what kind of machine this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    pub color: Color,
}

impl Default for Environment {
    fn default() -> Self {
        Environment {
            name: "production".into(),
            color: Color::Red,
        }
    }
}

/// `[confirm]`: what each risk level asks, and what a reason must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirm {
    pub low: Ask,
    pub medium: Ask,
    pub high: Ask,
    pub critical: Ask,
    pub reason_min_chars: usize,
    pub critical_reason_min_chars: usize,
    pub reason_pattern: Option<ReasonPattern>,
}

impl Default for Confirm {
    fn default() -> Self {
        Confirm {
            low: Ask::Notice,
            medium: Ask::ConfirmYes,
            high: Ask::ConfirmHost,
            critical: Ask::ConfirmHost,
            reason_min_chars: 8,
            critical_reason_min_chars: 20,
            reason_pattern: None,
        }
    }
}

/// `[audit]`: the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    /// `None`: automatic, see [`default_audit_paths`].
    pub path: Option<PathBuf>,
    pub fsync: FsyncPolicy,
    /// How long to wait for the log before giving up (`wait_ms`).
    pub wait: Duration,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            path: None,
            fsync: FsyncPolicy::Risky,
            wait: Duration::from_millis(2000),
        }
    }
}

/// `[syslog]`: a copy of every audit record for the local syslog/journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syslog {
    pub enabled: bool,
    /// A risky line runs only once its decision's copy was sent (`true`
    /// also turns the copy on).
    pub required: bool,
    pub facility: Facility,
    pub socket: PathBuf,
}

impl Syslog {
    /// Whether records are copied to syslog: `enabled`, or `required`.
    pub fn sends(&self) -> bool {
        self.enabled || self.required
    }
}

impl Default for Syslog {
    fn default() -> Self {
        Syslog {
            enabled: false,
            required: false,
            facility: Facility::Authpriv,
            socket: PathBuf::from("/dev/log"),
        }
    }
}

/// `[shell]`: the shell that runs checked lines, and the interactive prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shell {
    pub program: PathBuf,
    /// Checked when read: only [`PROMPT_FIELDS`] placeholders; see
    /// [`expand_prompt`].
    pub prompt: String,
}

impl Default for Shell {
    fn default() -> Self {
        Shell {
            program: PathBuf::from("/bin/bash"),
            prompt: "[{env}] {user}@{host}:{cwd}{sigil} ".into(),
        }
    }
}

/// `[preview]`: the dry-run commands rules offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    /// `timeout_secs`.
    pub timeout: Duration,
    pub max_lines: usize,
    /// Name patterns of the packages this host's workload runs on, which
    /// an upgrade's summary names loudly.
    pub critical_packages: Vec<String>,
}

impl Default for Preview {
    fn default() -> Self {
        Preview {
            timeout: Duration::from_secs(10),
            max_lines: 20,
            critical_packages: crate::preview::DEFAULT_CRITICAL
                .iter()
                .map(|p| (*p).to_string())
                .collect(),
        }
    }
}

/// `[session]`: what a login shell or `-c` session takes from the command
/// line and the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Honour `--config`, `--rules`, `--no-site-rules`, `SAFE_RUN_CONFIG`
    /// and `SAFE_RUN_RULES_DIR` in login shells and `-c` sessions. Only
    /// read from the system file.
    pub allow_overrides: bool,
}

/// `[rules]`: changes to the rule set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Rule ids turned off.
    pub disable: Vec<String>,
    /// Extra rule directories, read after the site's.
    pub dirs: Vec<PathBuf>,
}

/// `[fleet]`: at most N hosts of a group in a disruptive change at once
/// (docs/FLEET.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fleet {
    /// The groups this host belongs to; none: no slots are taken.
    pub groups: Vec<String>,
    /// How many hosts of a group may be disrupted at once; a group not
    /// listed: 1.
    pub limits: Vec<(String, u32)>,
    /// The name this host holds slots under; `None`: its host name.
    pub host: Option<String>,
    pub store: Store,
    /// The local store's lock files and this host's note of a slot kept
    /// over a reboot.
    pub dir: PathBuf,
    /// etcd client URLs (`http://HOST:PORT`), tried in order.
    pub endpoints: Vec<String>,
    /// The etcd key prefix the slots live under.
    pub prefix: String,
    /// The longest a disruptive line waits for the store (`wait_secs`).
    pub wait: Duration,
    /// An etcd lease's time to live while a change runs (`ttl_secs`).
    pub ttl: Duration,
    /// An etcd lease's time to live for a slot kept over a reboot
    /// (`reboot_ttl_secs`).
    pub reboot_ttl: Duration,
    /// Rule ids that count as disruptive changes besides the rules marked
    /// `disruptive` (`disruptive_rules`).
    pub disruptive_rules: Vec<String>,
    /// A `[fleet]` setting that decides whether or where slots are taken
    /// cannot be read: every disruptive line is refused (the strictest
    /// reading) until it is fixed, unless break-glass is given.
    pub unreadable: bool,
}

impl Fleet {
    /// The limit of `group`: its `limits` entry, else 1.
    pub fn limit(&self, group: &str) -> u32 {
        self.limits
            .iter()
            .find(|(g, _)| g == group)
            .map_or(1, |(_, n)| *n)
    }

    /// Whether this host takes slots at all.
    pub fn active(&self) -> bool {
        !self.groups.is_empty() || self.unreadable
    }
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            groups: Vec::new(),
            limits: Vec::new(),
            host: None,
            store: Store::Local,
            dir: PathBuf::from("/var/lib/safe-run/fleet"),
            endpoints: vec!["http://127.0.0.1:2379".into()],
            prefix: "/safe-run/slots".into(),
            wait: Duration::from_secs(5),
            ttl: Duration::from_secs(15),
            reboot_ttl: Duration::from_secs(3600),
            disruptive_rules: Vec::new(),
            unreadable: false,
        }
    }
}

impl Config {
    /// Reads a configuration file's text. `file_name` is only used in the
    /// errors' `file:line:col`. Returns every error of the file, in order.
    pub fn from_toml(text: &str, file_name: &str) -> Result<Config, Vec<ConfigError>> {
        let reading = read_document(text);
        if reading.bad.is_empty() {
            Ok(reading.config)
        } else {
            Err(diagnostics(text, file_name, reading.bad))
        }
    }
}

/// Where the automatic audit log may go, best first: the system log, then
/// the user's state directory (`$XDG_STATE_HOME`, else `~/.local/state`,
/// as the XDG spec says; relative values are ignored, as it also says).
/// The caller takes the first one it can write.
pub fn default_audit_paths(xdg_state_home: Option<&str>, home: Option<&str>) -> Vec<PathBuf> {
    let absolute = |dir: Option<&str>| dir.filter(|d| d.starts_with('/')).map(PathBuf::from);
    let mut paths = vec![PathBuf::from(SYSTEM_AUDIT_LOG)];
    let state = absolute(xdg_state_home).or_else(|| absolute(home).map(|h| h.join(".local/state")));
    if let Some(state) = state {
        paths.push(state.join("safe-run/audit.jsonl"));
    }
    paths
}

/// The values the prompt's placeholders stand for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PromptValues<'a> {
    pub env: &'a str,
    pub user: &'a str,
    pub host: &'a str,
    pub cwd: &'a str,
    /// `#` for root, `$` otherwise.
    pub sigil: &'a str,
}

/// Fills in a prompt format. The format of a [`Config`] was checked when it
/// was read; anything unexpected in another one is kept as it is. The
/// values are inserted as given: sanitizing them is the caller's job.
pub fn expand_prompt(format: &str, values: &PromptValues<'_>) -> String {
    let mut out = String::with_capacity(format.len() + 32);
    for piece in prompt_pieces(format) {
        match piece {
            PromptPiece::Text(text) => out.push_str(text),
            PromptPiece::Field(name) => out.push_str(match name {
                "env" => values.env,
                "user" => values.user,
                "host" => values.host,
                "cwd" => values.cwd,
                "sigil" => values.sigil,
                _ => "",
            }),
            PromptPiece::Bad(text, _) => out.push_str(text),
        }
    }
    out
}

enum PromptPiece<'a> {
    Text(&'a str),
    Field(&'static str),
    /// Something that is not valid, with why.
    Bad(&'a str, String),
}

/// Splits a prompt format into text and placeholders. `{{` and `}}` are
/// literal braces.
fn prompt_pieces(format: &str) -> Vec<PromptPiece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = format;
    while let Some(at) = rest.find(['{', '}']) {
        if at > 0 {
            pieces.push(PromptPiece::Text(&rest[..at]));
        }
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            pieces.push(PromptPiece::Text(&tail[..1]));
            rest = after;
        } else if let Some(after) = tail.strip_prefix('}') {
            pieces.push(PromptPiece::Bad(
                "}",
                "a lone `}` (write `}}` for a literal brace)".into(),
            ));
            rest = after;
        } else if let Some(close) = tail.find('}') {
            let name = &tail[1..close];
            match PROMPT_FIELDS.iter().find(|f| **f == name) {
                Some(field) => pieces.push(PromptPiece::Field(field)),
                None => pieces.push(PromptPiece::Bad(
                    &tail[..=close],
                    format!(
                        "unknown placeholder `{{{name}}}` (expected {})",
                        one_of(
                            &PROMPT_FIELDS
                                .iter()
                                .map(|f| format!("{{{f}}}"))
                                .collect::<Vec<_>>()
                        )
                    ),
                )),
            }
            rest = &tail[close + 1..];
        } else {
            pieces.push(PromptPiece::Bad(
                tail,
                "a `{` that is never closed (write `{{` for a literal brace)".into(),
            ));
            rest = "";
        }
    }
    if !rest.is_empty() {
        pieces.push(PromptPiece::Text(rest));
    }
    pieces
}

// ---------------------------------------------------------------------------
// Errors.

/// Why a configuration could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// One problem at a place in the file.
    #[error("{0}")]
    At(Diagnostic),
    /// The file could not be read (a missing `--config` file is this).
    #[error("cannot read the configuration file {}: {source}", clean(&.path.display().to_string(), false))]
    Read { path: PathBuf, source: io::Error },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the configuration file {} is larger than {} bytes: this is not a configuration file", clean(&.path.display().to_string(), false), MAX_FILE_BYTES)]
    TooLarge { path: PathBuf },
    /// Anyone may write to the file, so anyone could turn every check off.
    #[error("the configuration file {} is writable by every user (mode {mode:o}): run `chmod o-w` on it", clean(&.path.display().to_string(), false))]
    WorldWritable { path: PathBuf, mode: u32 },
    /// Someone besides root and this user could change the file.
    #[error("the configuration file {} is refused: {why}", clean(&.path.display().to_string(), false))]
    NotTrusted { path: PathBuf, why: String },
    /// The file has errors; each is an [`ConfigError::At`].
    #[error("{}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        errors: Vec<ConfigError>,
    },
}

/// A problem found while reading the document: a byte span and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Bad {
    span: Range<usize>,
    message: String,
}

impl From<Bad> for Vec<Bad> {
    fn from(bad: Bad) -> Self {
        vec![bad]
    }
}

fn diagnostics(text: &str, file_name: &str, mut bad: Vec<Bad>) -> Vec<ConfigError> {
    bad.sort_by_key(|b| (b.span.start, b.span.end));
    bad.into_iter()
        .map(|b| ConfigError::At(Diagnostic::at(file_name, text, b.span, b.message)))
        .collect()
}

// ---------------------------------------------------------------------------
// Loading.

/// Where an effective setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    /// The file meant to set it but its value cannot be read (or the file
    /// cannot be read or trusted at all): the strictest reading is in force.
    Strict(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "from {}", clean(&path.display().to_string(), false)),
            Source::Strict(path) => write!(
                f,
                "STRICTEST READING: {} has an error here",
                clean(&path.display().to_string(), false)
            ),
        }
    }
}

/// The configuration in force, and where each setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub config: Config,
    /// The file that was read, if any.
    pub path: Option<PathBuf>,
    /// The settings (dotted names) the file sets.
    set: BTreeSet<&'static str>,
    /// The settings at their strictest reading because the file's value
    /// for them cannot be read.
    strict: BTreeSet<&'static str>,
}

impl Loaded {
    /// No file: every setting is its default.
    pub fn defaults() -> Loaded {
        Loaded {
            config: Config::default(),
            path: None,
            set: BTreeSet::new(),
            strict: BTreeSet::new(),
        }
    }

    /// Reads a file's text as if it had been loaded from `path`; any error
    /// makes it an error. Pure.
    pub fn from_toml(text: &str, path: &Path) -> Result<Loaded, Vec<ConfigError>> {
        match Loaded::read_toml(text, path) {
            (loaded, errors) if errors.is_empty() => Ok(loaded),
            (_, errors) => Err(errors),
        }
    }

    /// Reads a file's text as if it had been loaded from `path`, keeping
    /// every valid setting and putting each one the file meant to set but
    /// that cannot be read at its strictest reading (see the module's
    /// `read_document`). Returns every error too. Pure.
    pub fn read_toml(text: &str, path: &Path) -> (Loaded, Vec<ConfigError>) {
        let reading = read_document(text);
        let errors = diagnostics(text, &path.display().to_string(), reading.bad);
        let loaded = Loaded {
            config: reading.config,
            path: Some(path.to_path_buf()),
            set: reading.set,
            strict: reading.strict,
        };
        (loaded, errors)
    }

    /// A file that cannot be read or trusted at all: it might have set
    /// anything, so every risk level is refused (`deny`). With every
    /// level refused nothing risky runs, so the other strict readings
    /// (`syslog.required`) would change nothing and stay at their
    /// defaults. What may still run — lines with no finding — is what it
    /// takes to see and fix the file. Pure.
    pub fn unreadable(path: &Path) -> Loaded {
        let mut loaded = Loaded {
            path: Some(path.to_path_buf()),
            ..Loaded::defaults()
        };
        for s in SETTINGS.iter().filter(|s| s.table() == "confirm") {
            if let Some(strict) = s.strict {
                strict(&mut loaded.config);
                loaded.strict.insert(s.name);
            }
        }
        loaded
    }

    /// Where a setting (dotted name, as in [`keys`]) came from. A name that
    /// is not a setting is reported as a default.
    pub fn source(&self, key: &str) -> Source {
        match &self.path {
            Some(path) if self.strict.contains(key) => Source::Strict(path.clone()),
            Some(path) if self.set.contains(key) => Source::File(path.clone()),
            _ => Source::Default,
        }
    }

    /// The settings at their strictest reading, each as `key = value`.
    pub fn strict_settings(&self) -> Vec<String> {
        SETTINGS
            .iter()
            .filter(|s| self.strict.contains(s.name))
            .map(|s| match (s.show)(&self.config) {
                Some(value) => format!("{} = {value}", s.name),
                None => s.name.to_string(),
            })
            .collect()
    }
}

/// One configuration file read: what is in force, and what was wrong with
/// the file. With a problem, `loaded` holds the file's valid settings and
/// the strictest reading of the rest ([`Loaded::read_toml`]), or, when the
/// file could not be read or trusted at all, [`Loaded::unreadable`].
#[derive(Debug)]
pub struct FileRead {
    pub loaded: Loaded,
    pub problem: Option<ConfigError>,
    /// The file could not be read or trusted at all: `loaded` is
    /// [`Loaded::unreadable`].
    pub unusable: bool,
}

impl FileRead {
    /// Whether the file was missing (and nothing else was wrong).
    pub fn is_missing(&self) -> bool {
        matches!(&self.problem, Some(ConfigError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Reads the configuration file at `path`. A missing file is the defaults
/// unless `required`, when it is a problem. Never fails: what is wrong is
/// in [`FileRead::problem`].
pub fn read_file(path: &Path, required: bool) -> FileRead {
    let unreadable = |problem| FileRead {
        loaded: Loaded::unreadable(path),
        problem: Some(problem),
        unusable: true,
    };
    let bytes = match file::read_trusted(path, MAX_FILE_BYTES, "the configuration file") {
        Ok(bytes) => bytes,
        Err(FileProblem::Io(e)) if !required && e.kind() == io::ErrorKind::NotFound => {
            return FileRead {
                loaded: Loaded::defaults(),
                problem: None,
                unusable: false,
            };
        }
        Err(FileProblem::Io(source)) => {
            return unreadable(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
        Err(FileProblem::TooLarge) => {
            return unreadable(ConfigError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        Err(FileProblem::WorldWritable(mode)) => {
            return unreadable(ConfigError::WorldWritable {
                path: path.to_path_buf(),
                mode,
            });
        }
        Err(FileProblem::NotTrusted(why)) => {
            return unreadable(ConfigError::NotTrusted {
                path: path.to_path_buf(),
                why,
            });
        }
    };
    let invalid = |errors| ConfigError::Invalid {
        path: path.to_path_buf(),
        errors,
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes());
            let message = "this file is not UTF-8 text".to_string();
            let here = Diagnostic::at(&path.display().to_string(), &lossy, at..at + 1, message);
            return unreadable(invalid(vec![ConfigError::At(here)]));
        }
    };
    let (loaded, errors) = Loaded::read_toml(&text, path);
    FileRead {
        loaded,
        problem: (!errors.is_empty()).then(|| invalid(errors)),
        unusable: false,
    }
}

/// Picks the configuration file and reads it: `explicit` (`--config`), else
/// `env_path` (`$SAFE_RUN_CONFIG`; an empty value counts as unset), else
/// [`SYSTEM_CONFIG`] if it exists, else the defaults. A file that was asked
/// for must exist; the system file may be missing. Any problem is an error:
/// for tools that only look (`safe-run config`); the running paths read
/// with [`read_file`] and keep the valid parts.
pub fn load(explicit: Option<&Path>, env_path: Option<&Path>) -> Result<Loaded, ConfigError> {
    load_with_system(explicit, env_path, Path::new(SYSTEM_CONFIG))
}

/// [`load`] with another system file, for tests.
pub fn load_with_system(
    explicit: Option<&Path>,
    env_path: Option<&Path>,
    system: &Path,
) -> Result<Loaded, ConfigError> {
    let env_path = env_path.filter(|p| !p.as_os_str().is_empty());
    let (path, required) = match (explicit, env_path) {
        (Some(path), _) | (None, Some(path)) => (path, true),
        (None, None) => (system, false),
    };
    let read = read_file(path, required);
    match read.problem {
        None => Ok(read.loaded),
        Some(problem) => Err(problem),
    }
}

// ---------------------------------------------------------------------------
// The settings table.

/// One key of the file.
struct Setting {
    /// Dotted name: `table.key`, or `key` for a top-level key.
    name: &'static str,
    /// One line for the shipped file and `docs/CONFIG.md`.
    help: &'static str,
    /// For a setting with no default value: an example, shown commented
    /// out (`key = value`).
    example: &'static str,
    /// What an unset setting means, for [`render`].
    unset: &'static str,
    /// The strictest reading, for when the file meant to set this but its
    /// value cannot be read: a broken file must never weaken the policy.
    /// `None`: the default is used (for most settings it is the strictest
    /// value there is, or there is no stricter one that can be guessed).
    strict: Option<fn(&mut Config)>,
    read: fn(&Field<'_, '_>, &mut Config) -> Result<(), Vec<Bad>>,
    /// The value as TOML, or `None` when unset.
    show: fn(&Config) -> Option<String>,
}

impl Setting {
    fn table(&self) -> &'static str {
        self.name.split_once('.').map_or("", |(t, _)| t)
    }

    fn key(&self) -> &'static str {
        self.name.split_once('.').map_or(self.name, |(_, k)| k)
    }
}

/// The tables of the file, in the order they are printed.
const TABLES: &[&str] = &[
    "environment",
    "confirm",
    "audit",
    "syslog",
    "shell",
    "preview",
    "rules",
    "session",
    "freeze",
    "approval",
    "fleet",
];

/// Every setting, top-level keys first, then table by table.
static SETTINGS: &[Setting] = &[
    Setting {
        name: "color",
        help: "Colour in safe-run's own output: auto (only on a terminal), always or never.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.color = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.color.as_str())),
    },
    Setting {
        name: "environment.name",
        help: "Name of this environment, shown in the prompt banner and written to every audit record.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.environment.name = f.label()?;
            Ok(())
        },
        show: |c| Some(toml_str(&c.environment.name)),
    },
    Setting {
        name: "environment.color",
        help: "Colour of the environment banner: black, red, green, yellow, blue, magenta, cyan, white, or bright-black … bright-white.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.environment.color = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.environment.color.as_str())),
    },
    Setting {
        name: "confirm.low",
        help: "What a low-risk line asks: run, notice, confirm-yes, confirm-host or deny.",
        example: "",
        unset: "",
        strict: Some(|c| c.confirm.low = Ask::Deny),
        read: |f, c| {
            c.confirm.low = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.confirm.low.as_str())),
    },
    Setting {
        name: "confirm.medium",
        help: "What a medium-risk line asks (same choices).",
        example: "",
        unset: "",
        strict: Some(|c| c.confirm.medium = Ask::Deny),
        read: |f, c| {
            c.confirm.medium = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.confirm.medium.as_str())),
    },
    Setting {
        name: "confirm.high",
        help: "What a high-risk line asks (same choices).",
        example: "",
        unset: "",
        strict: Some(|c| c.confirm.high = Ask::Deny),
        read: |f, c| {
            c.confirm.high = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.confirm.high.as_str())),
    },
    Setting {
        name: "confirm.critical",
        help: "What a critical-risk line asks (same choices).",
        example: "",
        unset: "",
        strict: Some(|c| c.confirm.critical = Ask::Deny),
        read: |f, c| {
            c.confirm.critical = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.confirm.critical.as_str())),
    },
    Setting {
        name: "confirm.reason_min_chars",
        help: "Fewest characters a reason may have, surrounding spaces not counted (1-1000).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.confirm.reason_min_chars = f.integer(1, 1000)? as usize;
            Ok(())
        },
        show: |c| Some(c.confirm.reason_min_chars.to_string()),
    },
    Setting {
        name: "confirm.critical_reason_min_chars",
        help: "Fewest characters of a reason at critical risk; the larger of this and reason_min_chars applies (1-1000).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.confirm.critical_reason_min_chars = f.integer(1, 1000)? as usize;
            Ok(())
        },
        show: |c| Some(c.confirm.critical_reason_min_chars.to_string()),
    },
    Setting {
        name: "confirm.reason_pattern",
        help: "A regex every reason must contain a match of, such as a ticket id. Not set by default.",
        example: "'[A-Z]+-[0-9]+'",
        unset: "not set: any reason of the right length is accepted",
        strict: None,
        read: |f, c| {
            let pattern = f.string()?;
            c.confirm.reason_pattern = Some(ReasonPattern::new(&pattern).map_err(|m| f.bad(m))?);
            Ok(())
        },
        show: |c| {
            c.confirm
                .reason_pattern
                .as_ref()
                .map(|p| toml_str(p.as_str()))
        },
    },
    Setting {
        name: "audit.path",
        help: "The audit log. Not set by default: /var/log/safe-run/audit.jsonl where writable, else $XDG_STATE_HOME/safe-run/audit.jsonl.",
        example: "\"/var/log/safe-run/audit.jsonl\"",
        unset: "not set: /var/log/safe-run/audit.jsonl where writable, else $XDG_STATE_HOME/safe-run/audit.jsonl",
        strict: None,
        read: |f, c| {
            c.audit.path = Some(f.absolute_path()?);
            Ok(())
        },
        show: |c| c.audit.path.as_deref().map(toml_path),
    },
    Setting {
        name: "audit.fsync",
        help: "Which records are flushed to disk before going on: risky (lines with any finding), always or never.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.audit.fsync = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.audit.fsync.as_str())),
    },
    Setting {
        name: "audit.wait_ms",
        help: "How long to wait for the audit log (its lock, the disk), in milliseconds, before giving up (0-60000).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.audit.wait = Duration::from_millis(f.integer(0, 60_000)?);
            Ok(())
        },
        show: |c| Some(c.audit.wait.as_millis().to_string()),
    },
    Setting {
        name: "syslog.enabled",
        help: "Also send every audit record to the local syslog/journal: true or false.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.syslog.enabled = f.boolean()?;
            Ok(())
        },
        show: |c| Some(c.syslog.enabled.to_string()),
    },
    Setting {
        name: "syslog.required",
        help: "Refuse a risky line when its audit record cannot be sent to syslog (the off-host copy): true or false. true also turns the copy on.",
        example: "",
        unset: "",
        strict: Some(|c| c.syslog.required = true),
        read: |f, c| {
            c.syslog.required = f.boolean()?;
            Ok(())
        },
        show: |c| Some(c.syslog.required.to_string()),
    },
    Setting {
        name: "syslog.facility",
        help: "Syslog facility: authpriv, auth, user, daemon or local0 … local7.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.syslog.facility = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.syslog.facility.as_str())),
    },
    Setting {
        name: "syslog.socket",
        help: "The local syslog socket.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.syslog.socket = f.absolute_path()?;
            Ok(())
        },
        show: |c| Some(toml_path(&c.syslog.socket)),
    },
    Setting {
        name: "shell.program",
        help: "The shell that runs checked command lines (safe-run -c LINE): an absolute path.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.shell.program = f.absolute_path()?;
            Ok(())
        },
        show: |c| Some(toml_path(&c.shell.program)),
    },
    Setting {
        name: "shell.prompt",
        help: "The interactive prompt; {env}, {user}, {host}, {cwd} and {sigil} are filled in, {{ and }} are braces.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.shell.prompt = f.prompt()?;
            Ok(())
        },
        show: |c| Some(toml_str(&c.shell.prompt)),
    },
    Setting {
        name: "preview.timeout_secs",
        help: "Longest a rule's dry-run preview may run, in seconds, before it is stopped (1-600).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.preview.timeout = Duration::from_secs(f.integer(1, 600)?);
            Ok(())
        },
        show: |c| Some(c.preview.timeout.as_secs().to_string()),
    },
    Setting {
        name: "preview.max_lines",
        help: "Most lines of a preview's output shown; the rest is cut (1-10000).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.preview.max_lines = f.integer(1, 10_000)? as usize;
            Ok(())
        },
        show: |c| Some(c.preview.max_lines.to_string()),
    },
    Setting {
        name: "preview.critical_packages",
        help: "Packages this host's workload runs on, as name patterns (*, ?, [0-9]): an upgrade's preview names them and what restarts.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.preview.critical_packages = f.list(|item| {
                (item.is_empty()
                    || !item.chars().all(|ch| {
                        ch.is_ascii_alphanumeric() || "+-._:*?[]".contains(ch)
                    }))
                .then(|| {
                    format!(
                        "`{item}` is not a package name pattern (letters, digits, + - . _ : and the wildcards * ? [ ])"
                    )
                })
            })?;
            Ok(())
        },
        show: |c| {
            Some(toml_list(
                c.preview.critical_packages.iter().map(|s| toml_str(s)),
            ))
        },
    },
    Setting {
        name: "rules.disable",
        help: "Ids of rules to turn off, e.g. [\"apt-full-upgrade\"].",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.rules.disable = f.list(|item| {
                (!is_rule_id(item)).then(|| {
                    format!(
                        "`{item}` is not a rule id: ids are kebab-case, like `apt-full-upgrade`"
                    )
                })
            })?;
            Ok(())
        },
        show: |c| Some(toml_list(c.rules.disable.iter().map(|s| toml_str(s)))),
    },
    Setting {
        name: "rules.dirs",
        help: "Extra directories of rule files (*.toml), read after /etc/safe-run/rules.d: absolute paths.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            let dirs = f.list(|item| {
                (!item.starts_with('/'))
                    .then(|| format!("`{item}` is not an absolute path (it must start with /)"))
            })?;
            c.rules.dirs = dirs.into_iter().map(PathBuf::from).collect();
            Ok(())
        },
        show: |c| Some(toml_list(c.rules.dirs.iter().map(|p| toml_path(p)))),
    },
    Setting {
        name: "session.allow_overrides",
        help: "Let login shells and -c sessions take another configuration or other rules from --config, --rules, --no-site-rules, SAFE_RUN_CONFIG or SAFE_RUN_RULES_DIR: true or false. Read only from /etc/safe-run/config.toml.",
        example: "",
        unset: "",
        strict: Some(|c| c.session.allow_overrides = false),
        read: |f, c| {
            c.session.allow_overrides = f.boolean()?;
            Ok(())
        },
        show: |c| Some(c.session.allow_overrides.to_string()),
    },
    Setting {
        name: "freeze.windows",
        help: "Change-freeze windows, each with a name, a message and either weekly = \"Fri 16:00 - Mon 08:00\" (in freeze.timezone) or start and end (dates or times), e.g. [{ name = \"weekend\", weekly = \"Fri 16:00 - Mon 08:00\", message = \"No changes over the weekend.\" }]. A window that cannot be read freezes the host until it is fixed.",
        example: "",
        unset: "",
        strict: Some(|c| c.freeze.unreadable = true),
        read: |f, c| {
            let (windows, bad) = f.freeze_windows();
            c.freeze.windows = windows;
            if bad.is_empty() { Ok(()) } else { Err(bad) }
        },
        show: |c| Some(freeze_windows_toml(&c.freeze.windows)),
    },
    Setting {
        name: "freeze.file",
        help: "A file whose presence freezes this host now (its text is the message shown): an absolute path.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.freeze.file = f.absolute_path()?;
            Ok(())
        },
        show: |c| Some(toml_path(&c.freeze.file)),
    },
    Setting {
        name: "freeze.timezone",
        help: "The time zone weekly windows and local dates are read in, an IANA name such as \"Europe/Paris\". Not set: the system's (/etc/localtime), else UTC; never $TZ.",
        example: "\"Europe/Paris\"",
        unset: "not set: the system's time zone (/etc/localtime), else UTC",
        // A zone that cannot be read leaves no way to tell when a window
        // holds: a freeze at all times, as for an unreadable window.
        strict: Some(|c| c.freeze.unreadable = true),
        read: |f, c| {
            let name = f.string()?;
            let tz = jiff::tz::TimeZone::get(&name).map_err(|_| {
                f.bad(format!(
                    "`{}` is not a time zone this host knows: write an IANA name such as \"Europe/Paris\" or \"UTC\"",
                    clean(&name, false)
                ))
            })?;
            c.freeze.timezone = Some(tz);
            Ok(())
        },
        show: |c| {
            c.freeze
                .timezone
                .as_ref()
                .and_then(|tz| tz.iana_name())
                .map(toml_str)
        },
    },
    Setting {
        name: "freeze.min_risk",
        help: "During a freeze, lines of at least this risk are refused unless break-glass is given: low, medium, high or critical.",
        example: "",
        unset: "",
        strict: Some(|c| c.freeze.min_risk = Risk::Low),
        read: |f, c| {
            let risk: Risk = f.keyword()?;
            if risk == Risk::None {
                return Err(f
                    .bad(
                        "`none` would hold back every line: use low, medium, high or critical"
                            .into(),
                    )
                    .into());
            }
            c.freeze.min_risk = risk;
            Ok(())
        },
        show: |c| Some(toml_str(c.freeze.min_risk.as_str())),
    },
    Setting {
        name: "freeze.break_glass_reason_min_chars",
        help: "Fewest characters of the reason for a break-glass run during a freeze (1-1000).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.freeze.break_glass_reason_min = f.integer(1, 1000)? as usize;
            Ok(())
        },
        show: |c| Some(c.freeze.break_glass_reason_min.to_string()),
    },
    Setting {
        name: "approval.risks",
        help: "Risk levels whose lines need a second operator's signed approval, e.g. [\"critical\"]: low, medium, high, critical.",
        example: "",
        unset: "",
        strict: Some(|c| c.approval.unreadable = true),
        read: |f, c| {
            let words = f.list(|item| {
                matches!(Risk::parse(item), None | Some(Risk::None)).then(|| {
                    format!("`{item}` is not a risk level (low, medium, high or critical)")
                })
            })?;
            c.approval.risks = words.iter().filter_map(|w| Risk::parse(w)).collect();
            Ok(())
        },
        show: |c| {
            Some(toml_list(
                c.approval.risks.iter().map(|r| toml_str(r.as_str())),
            ))
        },
    },
    Setting {
        name: "approval.rules",
        help: "Ids of rules whose lines need a second operator's signed approval, e.g. [\"pki-ca-rotate\"].",
        example: "",
        unset: "",
        strict: Some(|c| c.approval.unreadable = true),
        read: |f, c| {
            c.approval.rules = f.list(|item| {
                (!is_rule_id(item)).then(|| {
                    format!(
                        "`{item}` is not a rule id: ids are kebab-case, like `apt-full-upgrade`"
                    )
                })
            })?;
            Ok(())
        },
        show: |c| Some(toml_list(c.approval.rules.iter().map(|s| toml_str(s)))),
    },
    Setting {
        name: "approval.allowed_signers",
        help: "The keys of the operators who may approve, in ssh-keygen's allowed_signers format: an absolute path.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.approval.allowed_signers = f.absolute_path()?;
            Ok(())
        },
        show: |c| Some(toml_path(&c.approval.allowed_signers)),
    },
    Setting {
        name: "approval.ttl_minutes",
        help: "How long a request for approval stays valid, in minutes (1-1440).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.approval.ttl = Duration::from_secs(60 * f.integer(1, 1440)?);
            Ok(())
        },
        show: |c| Some((c.approval.ttl.as_secs() / 60).to_string()),
    },
    Setting {
        name: "approval.state_dir",
        help: "Where used approvals (single use) and pending requests are kept. Not set by default: the audit log's directory.",
        example: "\"/var/lib/safe-run\"",
        unset: "not set: the audit log's directory",
        strict: None,
        read: |f, c| {
            c.approval.state_dir = Some(f.absolute_path()?);
            Ok(())
        },
        show: |c| c.approval.state_dir.as_deref().map(toml_path),
    },
    Setting {
        name: "fleet.groups",
        help: "The fleet groups this host belongs to, e.g. [\"openshift-core\"]: a disruptive line (a reboot, a runtime restart) first takes a slot in each. Empty: no slots.",
        example: "",
        unset: "",
        strict: Some(|c| c.fleet.unreadable = true),
        read: |f, c| {
            c.fleet.groups = f.list(|item| name_problem(item, "a group name"))?;
            Ok(())
        },
        show: |c| Some(toml_list(c.fleet.groups.iter().map(|s| toml_str(s)))),
    },
    Setting {
        name: "fleet.limits",
        help: "How many hosts of each group may be in a disruptive change at once, e.g. { openshift-core = 1 }; a group not listed: 1 (1-1000).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.fleet.limits = f.limits()?;
            Ok(())
        },
        show: |c| {
            let items: Vec<String> = c
                .fleet
                .limits
                .iter()
                .map(|(g, n)| format!("{} = {n}", toml_key(g)))
                .collect();
            Some(if items.is_empty() {
                "{}".to_string()
            } else {
                format!("{{ {} }}", items.join(", "))
            })
        },
    },
    Setting {
        name: "fleet.host",
        help: "The name this host holds slots under. Not set by default: the host name.",
        example: "\"core-1\"",
        unset: "not set: the host name",
        strict: Some(|c| c.fleet.unreadable = true),
        read: |f, c| {
            let host = f.string()?;
            if let Some(problem) = name_problem(&host, "a host name") {
                return Err(f.bad(problem).into());
            }
            c.fleet.host = Some(host);
            Ok(())
        },
        show: |c| c.fleet.host.as_deref().map(toml_str),
    },
    Setting {
        name: "fleet.store",
        help: "Where slots are kept: local (lock files in fleet.dir, for one host), etcd (an etcd v3 cluster at fleet.endpoints, for a fleet) or fleetlock (a FleetLock server at fleet.endpoints, as Zincati uses).",
        example: "",
        unset: "",
        strict: Some(|c| c.fleet.unreadable = true),
        read: |f, c| {
            c.fleet.store = f.keyword()?;
            Ok(())
        },
        show: |c| Some(toml_str(c.fleet.store.as_str())),
    },
    Setting {
        name: "fleet.dir",
        help: "The local store's lock files, and this host's note of a slot it keeps over a reboot: an absolute path.",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.fleet.dir = f.absolute_path()?;
            Ok(())
        },
        show: |c| Some(toml_path(&c.fleet.dir)),
    },
    Setting {
        name: "fleet.endpoints",
        help: "The etcd cluster's client URLs (http://HOST:PORT), or the FleetLock server's base URL (http://HOST:PORT/PATH), tried in order.",
        example: "",
        unset: "",
        strict: Some(|c| c.fleet.unreadable = true),
        read: |f, c| {
            c.fleet.endpoints = f.list(|item| crate::fleet::http::Endpoint::parse(item).err())?;
            Ok(())
        },
        show: |c| Some(toml_list(c.fleet.endpoints.iter().map(|s| toml_str(s)))),
    },
    Setting {
        name: "fleet.prefix",
        help: "The etcd key prefix the slots live under.",
        example: "",
        unset: "",
        strict: Some(|c| c.fleet.unreadable = true),
        read: |f, c| {
            let prefix = f.string()?;
            if !prefix.starts_with('/') || prefix.ends_with('/') || prefix.len() < 2 {
                return Err(f
                    .bad(format!("`{prefix}` must start with / and not end with one, like \"/safe-run/slots\""))
                    .into());
            }
            c.fleet.prefix = prefix;
            Ok(())
        },
        show: |c| Some(toml_str(&c.fleet.prefix)),
    },
    Setting {
        name: "fleet.wait_secs",
        help: "Longest a disruptive line waits for the store, in seconds, before it is refused (1-120).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.fleet.wait = Duration::from_secs(f.integer(1, 120)?);
            Ok(())
        },
        show: |c| Some(c.fleet.wait.as_secs().to_string()),
    },
    Setting {
        name: "fleet.ttl_secs",
        help: "How long an etcd slot outlives a holder that stopped renewing it (crashed, cut off) while a change runs, in seconds (2-3600).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.fleet.ttl = Duration::from_secs(f.integer(2, 3600)?);
            Ok(())
        },
        show: |c| Some(c.fleet.ttl.as_secs().to_string()),
    },
    Setting {
        name: "fleet.reboot_ttl_secs",
        help: "How long an etcd slot kept over a reboot lasts if the host never comes back to release it, in seconds (2-604800).",
        example: "",
        unset: "",
        strict: None,
        read: |f, c| {
            c.fleet.reboot_ttl = Duration::from_secs(f.integer(2, 604_800)?);
            Ok(())
        },
        show: |c| Some(c.fleet.reboot_ttl.as_secs().to_string()),
    },
    Setting {
        name: "fleet.disruptive_rules",
        help: "Ids of rules whose commands are disruptive changes too, besides the rules marked disruptive, e.g. [\"svc-critical-restart\"]; \"*\" is every finding of high risk or more.",
        example: "",
        unset: "",
        strict: Some(|c| c.fleet.disruptive_rules = vec![crate::fleet::EVERY_HIGH_RISK.into()]),
        read: |f, c| {
            c.fleet.disruptive_rules = f.list(|item| {
                (!is_rule_id(item) && item != crate::fleet::EVERY_HIGH_RISK).then(|| {
                    format!(
                        "`{item}` is not a rule id: ids are kebab-case, like `svc-critical-restart` (or \"*\" for every finding of high risk or more)"
                    )
                })
            })?;
            Ok(())
        },
        show: |c| {
            Some(toml_list(
                c.fleet.disruptive_rules.iter().map(|s| toml_str(s)),
            ))
        },
    },
];

/// Every setting's dotted name (`environment.name`, …), in file order.
pub fn keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|s| s.name)
}

fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

// ---------------------------------------------------------------------------
// Reading the document.

/// What reading a document found.
#[derive(Debug, Default)]
struct Reading {
    /// The valid settings applied, the broken ones at their strictest
    /// reading, every other one its default.
    config: Config,
    /// The settings the file sets with a valid value.
    set: BTreeSet<&'static str>,
    /// The settings the file meant to set but that cannot be read, now at
    /// their strictest reading.
    strict: BTreeSet<&'static str>,
    /// Every problem, for the diagnostics.
    bad: Vec<Bad>,
}

impl Reading {
    /// Puts `setting` at its strictest reading, if it has one.
    fn make_strict(&mut self, setting: &'static Setting) {
        if setting.strict.is_some() {
            self.strict.insert(setting.name);
        }
    }
}

/// Reads every key of the document. Nothing stops the reading: a valid
/// setting is in force whatever is wrong elsewhere, and a setting the file
/// meant to set but that cannot be read takes its strictest reading
/// ([`Setting::strict`]):
///
/// - a value of the wrong type or out of range: that setting;
/// - an unknown key or table: the setting it is a misspelling of
///   (`hihg` is `high`), or that it belongs to (`required` under
///   `[audit]` is `syslog.required`);
/// - a table given as something else (`confirm = "yes"`): every setting
///   of that table;
/// - a TOML syntax error: every setting the file might have set, i.e.
///   whose key appears in it (or every one, if it has `\u` escapes, which
///   can spell any key). The settings without a strict reading keep what
///   was written in full before the first error; nothing after it is
///   trusted.
fn read_document(text: &str) -> Reading {
    let mut r = Reading::default();
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        r.bad = syntax
            .iter()
            .map(|e| Bad {
                span: e.span().unwrap_or(0..0),
                message: format!("this is not valid TOML: {}", e.message().trim()),
            })
            .collect();
        // Entries complete before the first error are what the site wrote:
        // TOML allows no key twice, so nothing after can change them.
        let cut = syntax
            .iter()
            .map(|e| e.span().map_or(0, |s| s.start))
            .min()
            .unwrap_or(0);
        for (setting, value) in leaves(&doc) {
            if setting.strict.is_none() && value.span().end < cut {
                let field = Field {
                    name: setting.name,
                    value,
                };
                if (setting.read)(&field, &mut r.config).is_ok() {
                    r.set.insert(setting.name);
                }
            }
        }
        for s in SETTINGS.iter().filter(|s| might_set(text, s)) {
            r.make_strict(s);
        }
        r.apply_strict();
        return r;
    }

    let read = |setting: &'static Setting, value: &Spanned<DeValue<'_>>, r: &mut Reading| {
        let field = Field {
            name: setting.name,
            value,
        };
        match (setting.read)(&field, &mut r.config) {
            Ok(()) => {
                r.set.insert(setting.name);
            }
            Err(problems) => {
                r.bad.extend(problems);
                r.make_strict(setting);
            }
        }
    };

    for (key, value) in doc.get_ref() {
        let name: &str = key.get_ref();
        if !TABLES.contains(&name) {
            match setting(name) {
                Some(s) if s.table().is_empty() => read(s, value, &mut r),
                _ => {
                    r.bad.push(Bad {
                        span: key.span(),
                        message: unknown_top_level(name, value.get_ref().is_table()),
                    });
                    match value.get_ref() {
                        DeValue::Table(table) => {
                            let meant = closest(name, TABLES);
                            for (key, _) in table {
                                if let Some(s) = meant_setting(meant, key.get_ref()) {
                                    r.make_strict(s);
                                }
                            }
                        }
                        _ => {
                            if let Some(s) = meant_setting(None, name) {
                                r.make_strict(s);
                            }
                        }
                    }
                }
            }
            continue;
        }
        let DeValue::Table(table) = value.get_ref() else {
            r.bad.push(Bad {
                span: value.span(),
                message: format!(
                    "`{name}` must be a table (a [{name}] section), not {}",
                    a_type(value.get_ref())
                ),
            });
            for s in SETTINGS.iter().filter(|s| s.table() == name) {
                r.make_strict(s);
            }
            continue;
        };
        for (key, value) in table {
            let key_name: &str = key.get_ref();
            match SETTINGS
                .iter()
                .find(|s| s.table() == name && s.key() == key_name)
            {
                Some(s) => read(s, value, &mut r),
                None => {
                    r.bad.push(Bad {
                        span: key.span(),
                        message: unknown_in_table(name, key_name),
                    });
                    if let Some(s) = meant_setting(Some(name), key_name) {
                        r.make_strict(s);
                    }
                }
            }
        }
    }
    r.apply_strict();
    r
}

impl Reading {
    /// Applies the strict readings, after every valid value: a misspelt
    /// `hihg = "run"` beside `high = "deny"` must not be what decides.
    fn apply_strict(&mut self) {
        for name in &self.strict {
            if let Some(strict) = setting(name).and_then(|s| s.strict) {
                strict(&mut self.config);
            }
        }
    }
}

/// Every known setting the document gives a value for, with that value.
fn leaves<'a, 'v>(
    doc: &'a Spanned<DeTable<'v>>,
) -> Vec<(&'static Setting, &'a Spanned<DeValue<'v>>)> {
    let mut found = Vec::new();
    for (key, value) in doc.get_ref() {
        let name: &str = key.get_ref();
        match value.get_ref() {
            DeValue::Table(table) if TABLES.contains(&name) => {
                for (key, value) in table {
                    let key_name: &str = key.get_ref();
                    if let Some(s) = SETTINGS
                        .iter()
                        .find(|s| s.table() == name && s.key() == key_name)
                    {
                        found.push((s, value));
                    }
                }
            }
            _ => {
                if let Some(s) = setting(name).filter(|s| s.table().is_empty()) {
                    found.push((s, value));
                }
            }
        }
    }
    found
}

/// The setting an unknown key in `table` (`None`: at the top, or in an
/// unknown table) most likely meant: a key of that name in another table,
/// else the closest key of that table (of every table, at the top).
fn meant_setting(table: Option<&str>, key: &str) -> Option<&'static Setting> {
    if let Some(s) = SETTINGS.iter().find(|s| s.key() == key) {
        return Some(s);
    }
    let in_scope: Vec<&'static Setting> = SETTINGS
        .iter()
        .filter(|s| table.is_none_or(|t| s.table() == t))
        .collect();
    let keys: Vec<&str> = in_scope.iter().map(|s| s.key()).collect();
    let close = closest(key, &keys)?;
    in_scope.into_iter().find(|s| s.key() == close)
}

/// Whether a file whose text cannot be parsed might set `setting`: its key
/// appears in the text as a word, or the text has an escape that could
/// spell it.
fn might_set(text: &str, setting: &Setting) -> bool {
    if text.contains("\\u") || text.contains("\\U") {
        return true;
    }
    let key = setting.key();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(key).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + key.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

fn unknown_top_level(name: &str, is_table: bool) -> String {
    let what = if is_table {
        format!("unknown table [{name}]")
    } else {
        format!("unknown key `{name}`")
    };
    // A table's key written at the top, before any [table] header.
    if let Some(s) = SETTINGS
        .iter()
        .find(|s| s.key() == name && !s.table().is_empty())
    {
        return format!("{what}: `{name}` belongs in the [{}] table", s.table());
    }
    let top_keys = SETTINGS
        .iter()
        .filter(|s| s.table().is_empty())
        .map(|s| s.name);
    let candidates: Vec<&str> = TABLES.iter().copied().chain(top_keys).collect();
    let expected = one_of(
        &candidates
            .iter()
            .map(|c| {
                if TABLES.contains(c) {
                    format!("[{c}]")
                } else {
                    format!("`{c}`")
                }
            })
            .collect::<Vec<_>>(),
    );
    match closest(name, &candidates) {
        Some(close) if TABLES.contains(&close) => {
            format!("{what}, did you mean [{close}]? (expected {expected})")
        }
        Some(close) => format!("{what}, did you mean `{close}`? (expected {expected})"),
        None => format!("{what} (expected {expected})"),
    }
}

fn unknown_in_table(table: &str, key: &str) -> String {
    let keys: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.table() == table)
        .map(Setting::key)
        .collect();
    let expected = one_of(&keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>());
    if let Some(close) = closest(key, &keys) {
        return format!(
            "unknown key `{key}` in [{table}], did you mean `{close}`? (expected {expected})"
        );
    }
    if let Some(s) = SETTINGS.iter().find(|s| s.key() == key) {
        let place = match s.table() {
            "" => "at the top of the file, before any [table]".to_string(),
            other => format!("in [{other}]"),
        };
        return format!("unknown key `{key}` in [{table}]: `{key}` belongs {place}");
    }
    format!("unknown key `{key}` in [{table}] (expected {expected})")
}

/// One value being read, with its setting's name for the messages.
struct Field<'a, 'v> {
    name: &'static str,
    value: &'a Spanned<DeValue<'v>>,
}

impl Field<'_, '_> {
    fn bad(&self, message: String) -> Bad {
        Bad {
            span: self.value.span(),
            message: format!("`{}`: {message}", self.name),
        }
    }

    fn wrong(&self, what: &str) -> Bad {
        Bad {
            span: self.value.span(),
            message: format!(
                "`{}` must be {what}, not {}",
                self.name,
                a_type(self.value.get_ref())
            ),
        }
    }

    /// A string without control characters (it will be printed).
    fn string(&self) -> Result<String, Bad> {
        let DeValue::String(s) = self.value.get_ref() else {
            return Err(self.wrong("a string"));
        };
        match text_problem(s) {
            Some(problem) => Err(self.bad(problem)),
            None => Ok(s.to_string()),
        }
    }

    fn keyword<T: Keyword>(&self) -> Result<T, Bad> {
        let expected = one_of(
            &T::names()
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>(),
        );
        let DeValue::String(s) = self.value.get_ref() else {
            return Err(self.wrong(&expected));
        };
        if let Some(value) = T::from_name(s) {
            return Ok(value);
        }
        let text = clean(s, false);
        let message = match closest(s, &T::names()) {
            Some(close) => format!(
                "`{}` must be {expected}, not `{text}` (did you mean `{close}`?)",
                self.name
            ),
            None => format!("`{}` must be {expected}, not `{text}`", self.name),
        };
        Err(Bad {
            span: self.value.span(),
            message,
        })
    }

    fn boolean(&self) -> Result<bool, Bad> {
        self.value
            .get_ref()
            .as_bool()
            .ok_or_else(|| self.wrong("true or false"))
    }

    fn integer(&self, min: u64, max: u64) -> Result<u64, Bad> {
        let DeValue::Integer(i) = self.value.get_ref() else {
            return Err(self.wrong(&format!("a whole number from {min} to {max}")));
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if n >= 0 && (min..=max).contains(&n.unsigned_abs()) => Ok(n.unsigned_abs()),
            parsed => {
                let shown = parsed.map_or_else(|_| i.as_str().to_string(), |n| n.to_string());
                Err(Bad {
                    span: self.value.span(),
                    message: format!("`{}` must be from {min} to {max}, not {shown}", self.name),
                })
            }
        }
    }

    fn absolute_path(&self) -> Result<PathBuf, Bad> {
        let path = self.string()?;
        if !path.starts_with('/') {
            return Err(self.bad(format!(
                "`{path}` is not an absolute path (it must start with /)"
            )));
        }
        Ok(PathBuf::from(path))
    }

    /// The environment's name: short, one line, not blank.
    fn label(&self) -> Result<String, Bad> {
        let name = self.string()?;
        if name.trim().is_empty() {
            return Err(self.bad("the name cannot be empty".into()));
        }
        let len = name.chars().count();
        if len > 64 {
            return Err(self.bad(format!("the name is {len} characters long; keep it to 64")));
        }
        Ok(name)
    }

    fn prompt(&self) -> Result<String, Bad> {
        let format = self.string()?;
        let problems: Vec<String> = prompt_pieces(&format)
            .into_iter()
            .filter_map(|p| match p {
                PromptPiece::Bad(_, why) => Some(why),
                _ => None,
            })
            .collect();
        match problems.first() {
            Some(first) => Err(self.bad(first.clone())),
            None => Ok(format),
        }
    }

    /// A list of strings, each checked by `problem`; one error per bad item.
    fn list(&self, problem: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, Vec<Bad>> {
        let Some(items) = self.value.get_ref().as_array() else {
            return Err(vec![self.wrong("a list of strings")]);
        };
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let item_bad = |message: String| Bad {
                span: item.span(),
                message: format!("item {} of `{}`: {message}", i + 1, self.name),
            };
            let DeValue::String(s) = item.get_ref() else {
                bad.push(item_bad(format!(
                    "must be a string, not {}",
                    a_type(item.get_ref())
                )));
                continue;
            };
            match text_problem(s).or_else(|| problem(s)) {
                Some(message) => bad.push(item_bad(message)),
                None => out.push(s.to_string()),
            }
        }
        if bad.is_empty() { Ok(out) } else { Err(bad) }
    }
}

impl Field<'_, '_> {
    /// `{ group = N, … }`: a table of group names to limits (1-1000).
    fn limits(&self) -> Result<Vec<(String, u32)>, Vec<Bad>> {
        let DeValue::Table(table) = self.value.get_ref() else {
            return Err(vec![
                self.wrong("a table of group = limit, like { openshift-core = 1 }"),
            ]);
        };
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for (key, value) in table {
            let group: &str = key.get_ref();
            if let Some(problem) = name_problem(group, "a group name") {
                bad.push(Bad {
                    span: key.span(),
                    message: format!("`{}`: {problem}", self.name),
                });
                continue;
            }
            let field = Field {
                name: self.name,
                value,
            };
            match field.integer(1, 1000) {
                Ok(n) => out.push((group.to_string(), n as u32)),
                Err(b) => bad.push(b),
            }
        }
        if bad.is_empty() { Ok(out) } else { Err(bad) }
    }
}

/// A group or host name goes into file names and store keys: letters,
/// digits, `.`, `_` and `-`, not starting with a dot, at most 64.
fn name_problem(name: &str, what: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    (!ok).then(|| {
        format!(
            "`{}` is not {what}: use letters, digits, `.`, `_` and `-` (at most 64, not starting with a dot)",
            clean(name, false)
        )
    })
}

/// Control characters (and bidi overrides) would act on the terminal that
/// shows the value, so no string setting may hold one.
fn text_problem(text: &str) -> Option<String> {
    let shown = clean(text, false);
    (shown != text)
        .then(|| format!("`{shown}` contains a control character; write the value without it"))
}

fn is_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn a_type(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

fn one_of<S: AsRef<str>>(names: &[S]) -> String {
    match names {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("one of {} or {}", init.join(", "), last.as_ref())
        }
    }
}

fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(&text);
    last.trim().trim_start_matches("error: ").to_string()
}

// ---------------------------------------------------------------------------
// Printing.

fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A table key, quoted only when it must be.
fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        toml_str(key)
    }
}

fn toml_path(path: &Path) -> String {
    toml_str(&path.to_string_lossy())
}

fn toml_list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

/// The comment column of [`render`]: values longer than this just get two
/// spaces before their comment.
const COMMENT_COLUMN: usize = 44;

/// The settings in force as a valid TOML file, each line commented with
/// where it came from (`# default` or `# from FILE`). What `safe-run
/// config` prints.
pub fn render(loaded: &Loaded) -> String {
    let mut out = String::new();
    match &loaded.path {
        Some(path) => out.push_str(&format!(
            "# The safe-run settings in force: those set in {}, the rest defaults.\n",
            clean(&path.display().to_string(), false)
        )),
        None => out.push_str(
            "# The safe-run settings in force: no configuration file was read, every setting is its default.\n",
        ),
    }
    let mut table = "";
    for s in SETTINGS {
        if s.table() != table {
            table = s.table();
            out.push_str(&format!("\n[{table}]\n"));
        }
        let code = match (s.show)(&loaded.config) {
            Some(value) => format!("{} = {value}", s.key()),
            None => format!("# {} is {}", s.key(), s.unset),
        };
        let pad = COMMENT_COLUMN.saturating_sub(code.chars().count()).max(2);
        out.push_str(&format!(
            "{code}{}# {}\n",
            " ".repeat(pad),
            loaded.source(s.name)
        ));
    }
    out
}

/// The full configuration file with every setting commented out at its
/// default and a line saying what it does: the file shipped as
/// `/etc/safe-run/config.toml`. Uncommenting a `#key = value` line gives
/// exactly the default; lines starting with `# ` are prose.
pub fn commented_defaults() -> String {
    let defaults = Config::default();
    let mut out = String::from(
        "# safe-run configuration: /etc/safe-run/config.toml\n\
         #\n\
         # Every setting is shown commented out at its default. To change one,\n\
         # remove the `#` in front of it and edit the value. Unknown keys are\n\
         # errors. `safe-run config` prints the settings in force and where each\n\
         # came from; CONFIG.md in the documentation is the full reference.\n\
         #\n\
         # Another file can be used with `safe-run --config FILE` or the\n\
         # SAFE_RUN_CONFIG environment variable; it then replaces this one.\n\
         # Login shells and -c sessions take another file only where\n\
         # [session] allow_overrides = true is set here.\n",
    );
    let mut table = "";
    for s in SETTINGS {
        if s.table() != table {
            table = s.table();
            out.push_str(&format!("\n[{table}]\n"));
        } else {
            out.push('\n');
        }
        out.push_str(&format!("# {}\n", s.help));
        match (s.show)(&defaults) {
            Some(value) => out.push_str(&format!("#{} = {value}\n", s.key())),
            None => out.push_str(&format!("# For example: {} = {}\n", s.key(), s.example)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"# Every key set, none to its default.
color = "never"

[environment]
name = "staging"
color = "bright-yellow"

[confirm]
low = "run"
medium = "notice"
high = "confirm-yes"
critical = "deny"
reason_min_chars = 12
critical_reason_min_chars = 40
reason_pattern = '[A-Z]+-[0-9]+'

[audit]
path = "/srv/audit/safe-run.jsonl"
fsync = "always"
wait_ms = 0

[syslog]
enabled = true
required = true
facility = "local3"
socket = "/run/systemd/journal/dev-log"

[shell]
program = "/usr/bin/zsh"
prompt = "{{{env}}} {user}@{host} {sigil} "

[preview]
timeout_secs = 3
max_lines = 100
critical_packages = ["docker-ce", "postgresql-1[0-9]"]

[rules]
disable = ["apt-full-upgrade", "reboot"]
dirs = ["/opt/site/rules"]

[session]
allow_overrides = true

[freeze]
windows = [{ name = "weekend", weekly = "Fri 16:00 - Mon 08:00", message = "No changes over the weekend." }]
file = "/run/safe-run/freeze"
timezone = "Europe/Paris"
min_risk = "high"
break_glass_reason_min_chars = 60

[approval]
risks = ["critical"]
rules = ["pki-ca-rotate"]
allowed_signers = "/srv/safe-run/allowed_signers"
ttl_minutes = 15
state_dir = "/var/lib/safe-run"

[fleet]
groups = ["openshift-core", "edge"]
limits = { openshift-core = 1, edge = 3 }
host = "core-1"
store = "etcd"
dir = "/srv/fleet"
endpoints = ["http://10.0.0.5:2379", "http://10.0.0.6:2379"]
prefix = "/site/slots"
wait_secs = 3
ttl_secs = 10
reboot_ttl_secs = 1800
disruptive_rules = ["svc-critical-restart"]
"#;

    fn full() -> Config {
        Config {
            color: ColorChoice::Never,
            environment: Environment {
                name: "staging".into(),
                color: Color::BrightYellow,
            },
            confirm: Confirm {
                low: Ask::Run,
                medium: Ask::Notice,
                high: Ask::ConfirmYes,
                critical: Ask::Deny,
                reason_min_chars: 12,
                critical_reason_min_chars: 40,
                reason_pattern: Some(ReasonPattern::new("[A-Z]+-[0-9]+").unwrap()),
            },
            audit: Audit {
                path: Some("/srv/audit/safe-run.jsonl".into()),
                fsync: FsyncPolicy::Always,
                wait: Duration::ZERO,
            },
            syslog: Syslog {
                enabled: true,
                required: true,
                facility: Facility::Local3,
                socket: "/run/systemd/journal/dev-log".into(),
            },
            shell: Shell {
                program: "/usr/bin/zsh".into(),
                prompt: "{{{env}}} {user}@{host} {sigil} ".into(),
            },
            preview: Preview {
                timeout: Duration::from_secs(3),
                max_lines: 100,
                critical_packages: vec!["docker-ce".into(), "postgresql-1[0-9]".into()],
            },
            rules: Rules {
                disable: vec!["apt-full-upgrade".into(), "reboot".into()],
                dirs: vec!["/opt/site/rules".into()],
            },
            session: SessionPolicy {
                allow_overrides: true,
            },
            freeze: crate::freeze::FreezeSettings {
                windows: vec![crate::freeze::Window {
                    name: "weekend".into(),
                    message: "No changes over the weekend.".into(),
                    when: crate::freeze::parse_weekly("Fri 16:00 - Mon 08:00").unwrap(),
                }],
                file: "/run/safe-run/freeze".into(),
                min_risk: Risk::High,
                break_glass_reason_min: 60,
                timezone: Some(jiff::tz::TimeZone::get("Europe/Paris").unwrap()),
                unreadable: false,
            },
            approval: crate::approval::ApprovalSettings {
                risks: vec![Risk::Critical],
                rules: vec!["pki-ca-rotate".into()],
                allowed_signers: "/srv/safe-run/allowed_signers".into(),
                ttl: Duration::from_secs(15 * 60),
                state_dir: Some("/var/lib/safe-run".into()),
                unreadable: false,
            },
            fleet: Fleet {
                groups: vec!["openshift-core".into(), "edge".into()],
                limits: vec![("edge".into(), 3), ("openshift-core".into(), 1)],
                host: Some("core-1".into()),
                store: Store::Etcd,
                dir: "/srv/fleet".into(),
                endpoints: vec!["http://10.0.0.5:2379".into(), "http://10.0.0.6:2379".into()],
                prefix: "/site/slots".into(),
                wait: Duration::from_secs(3),
                ttl: Duration::from_secs(10),
                reboot_ttl: Duration::from_secs(1800),
                disruptive_rules: vec!["svc-critical-restart".into()],
                unreadable: false,
            },
        }
    }

    fn parse(text: &str) -> Result<Config, Vec<ConfigError>> {
        Config::from_toml(text, "test.toml")
    }

    /// (line, col, message) of every error, in order.
    fn errors_of(text: &str) -> Vec<(usize, usize, String)> {
        match parse(text) {
            Ok(config) => panic!("expected errors, got {config:?}"),
            Err(errors) => errors
                .into_iter()
                .map(|e| match e {
                    ConfigError::At(d) => (d.line, d.col, d.message),
                    other => panic!("not a located error: {other}"),
                })
                .collect(),
        }
    }

    #[test]
    fn the_full_example_sets_every_key() {
        assert_eq!(parse(FULL).unwrap(), full());
        let loaded = Loaded::from_toml(FULL, Path::new("/etc/x.toml")).unwrap();
        for key in keys() {
            assert_eq!(
                loaded.source(key),
                Source::File("/etc/x.toml".into()),
                "{key}"
            );
        }
    }

    #[test]
    fn good_files() {
        type Edit = fn(&mut Config);
        let cases: &[(&str, &str, Edit)] = &[
            ("empty file", "", |_| {}),
            ("only comments", "# nothing here\n\n   # at all\n", |_| {}),
            (
                "empty tables",
                "[environment]\n[confirm]\n[rules]\n",
                |_| {},
            ),
            ("dotted key at the top", "confirm.low = \"deny\"\n", |c| {
                c.confirm.low = Ask::Deny
            }),
            (
                "inline table",
                "environment = { name = \"dev\", color = \"green\" }\n",
                |c| {
                    c.environment.name = "dev".into();
                    c.environment.color = Color::Green;
                },
            ),
            ("hex integer", "[audit]\nwait_ms = 0x10\n", |c| {
                c.audit.wait = Duration::from_millis(16)
            }),
            (
                "underscored integer",
                "[preview]\nmax_lines = 1_000\n",
                |c| c.preview.max_lines = 1000,
            ),
            ("empty lists", "[rules]\ndisable = []\ndirs = []\n", |_| {}),
            (
                "a default written out",
                "[syslog]\nfacility = \"authpriv\"\n",
                |_| {},
            ),
            (
                "multi-line list",
                "[rules]\ndisable = [\n  \"a-b\",\n  \"c\",\n]\n",
                |c| c.rules.disable = vec!["a-b".into(), "c".into()],
            ),
            (
                "non-ASCII name",
                "[environment]\nname = \"prod-zürich\"\n",
                |c| c.environment.name = "prod-zürich".into(),
            ),
            (
                "literal braces in the prompt",
                "[shell]\nprompt = \"{{x}} $ \"\n",
                |c| c.shell.prompt = "{{x}} $ ".into(),
            ),
            ("CRLF line ends", "[confirm]\r\nlow = \"run\"\r\n", |c| {
                c.confirm.low = Ask::Run
            }),
        ];
        for (name, text, edit) in cases {
            let mut expected = Config::default();
            edit(&mut expected);
            match parse(text) {
                Ok(config) => assert_eq!(config, expected, "{name}"),
                Err(errors) => panic!("{name}: {}", errors[0]),
            }
        }
    }

    #[test]
    fn bad_files_report_each_error_where_it_is() {
        let cases: &[(&str, &str, (usize, usize, &str))] = &[
            (
                "syntax error",
                "[confirm]\nlow = \n",
                (2, 7, "this is not valid TOML: string values must be quoted"),
            ),
            (
                "unknown top-level key",
                "colour = \"auto\"\n",
                (1, 1, "unknown key `colour`, did you mean `color`?"),
            ),
            (
                "unknown table",
                "[enviroment]\nname = \"x\"\n",
                (
                    1,
                    2,
                    "unknown table [enviroment], did you mean [environment]?",
                ),
            ),
            (
                "unknown key in a table",
                "[confirm]\nlwo = \"run\"\n",
                (2, 1, "unknown key `lwo` in [confirm], did you mean `low`?"),
            ),
            (
                "key in the wrong table",
                "[audit]\nfacility = \"auth\"\n",
                (
                    2,
                    1,
                    "unknown key `facility` in [audit]: `facility` belongs in [syslog]",
                ),
            ),
            (
                "table key at the top",
                "name = \"dev\"\n",
                (
                    1,
                    1,
                    "unknown key `name`: `name` belongs in the [environment] table",
                ),
            ),
            (
                "table given as a value",
                "confirm = \"yes\"\n",
                (
                    1,
                    11,
                    "`confirm` must be a table (a [confirm] section), not a string",
                ),
            ),
            (
                "array of tables",
                "[[audit]]\nfsync = \"always\"\n",
                (
                    1,
                    1,
                    "`audit` must be a table (a [audit] section), not a list",
                ),
            ),
            (
                "keyword of the wrong type",
                "[confirm]\nlow = 1\n",
                (
                    2,
                    7,
                    "`confirm.low` must be one of `run`, `notice`, `confirm-yes`, `confirm-host` or `deny`, not an integer",
                ),
            ),
            (
                "misspelt keyword",
                "[confirm]\nmedium = \"confirm_yes\"\n",
                (2, 10, "not `confirm_yes` (did you mean `confirm-yes`?)"),
            ),
            (
                "unknown colour",
                "[environment]\ncolor = \"orange\"\n",
                (2, 9, "`environment.color` must be one of `black`,"),
            ),
            (
                "unknown output colour choice",
                "color = \"yes\"\n",
                (
                    1,
                    9,
                    "`color` must be one of `auto`, `always` or `never`, not `yes`",
                ),
            ),
            (
                "kern facility",
                "[syslog]\nfacility = \"kern\"\n",
                (2, 12, "`syslog.facility` must be one of `user`,"),
            ),
            (
                "integer too small",
                "[confirm]\nreason_min_chars = 0\n",
                (
                    2,
                    20,
                    "`confirm.reason_min_chars` must be from 1 to 1000, not 0",
                ),
            ),
            (
                "negative integer",
                "[audit]\nwait_ms = -1\n",
                (2, 11, "`audit.wait_ms` must be from 0 to 60000, not -1"),
            ),
            (
                "integer past i64",
                "[audit]\nwait_ms = 99999999999999999999\n",
                (
                    2,
                    11,
                    "`audit.wait_ms` must be from 0 to 60000, not 99999999999999999999",
                ),
            ),
            (
                "float for an integer",
                "[preview]\ntimeout_secs = 1.5\n",
                (
                    2,
                    16,
                    "`preview.timeout_secs` must be a whole number from 1 to 600, not a float",
                ),
            ),
            (
                "string for a boolean",
                "[syslog]\nenabled = \"yes\"\n",
                (
                    2,
                    11,
                    "`syslog.enabled` must be true or false, not a string",
                ),
            ),
            (
                "bad regex",
                "[confirm]\nreason_pattern = \"(unclosed\"\n",
                (
                    2,
                    18,
                    "`confirm.reason_pattern`: `(unclosed` is not a valid regex: unclosed group",
                ),
            ),
            (
                "empty regex",
                "[confirm]\nreason_pattern = \"\"\n",
                (
                    2,
                    18,
                    "`confirm.reason_pattern`: an empty pattern matches every reason",
                ),
            ),
            (
                "relative shell",
                "[shell]\nprogram = \"bash\"\n",
                (
                    2,
                    11,
                    "`shell.program`: `bash` is not an absolute path (it must start with /)",
                ),
            ),
            (
                "relative audit path",
                "[audit]\npath = \"audit.jsonl\"\n",
                (2, 8, "`audit.path`: `audit.jsonl` is not an absolute path"),
            ),
            (
                "list item of the wrong type",
                "[rules]\ndisable = [\"ok-id\", 3]\n",
                (
                    2,
                    21,
                    "item 2 of `rules.disable`: must be a string, not an integer",
                ),
            ),
            (
                "bad rule id",
                "[rules]\ndisable = [\"Apt Upgrade\"]\n",
                (
                    2,
                    12,
                    "item 1 of `rules.disable`: `Apt Upgrade` is not a rule id",
                ),
            ),
            (
                "relative rule dir",
                "[rules]\ndirs = [\"/ok\", \"rules.d\"]\n",
                (
                    2,
                    16,
                    "item 2 of `rules.dirs`: `rules.d` is not an absolute path",
                ),
            ),
            (
                "list given as a string",
                "[rules]\ndirs = \"/opt/rules\"\n",
                (2, 8, "`rules.dirs` must be a list of strings, not a string"),
            ),
            (
                "unknown prompt placeholder",
                "[shell]\nprompt = \"{pwd} $ \"\n",
                (
                    2,
                    10,
                    "`shell.prompt`: unknown placeholder `{pwd}` (expected one of {env},",
                ),
            ),
            (
                "unclosed prompt brace",
                "[shell]\nprompt = \"{env $ \"\n",
                (2, 10, "`shell.prompt`: a `{` that is never closed"),
            ),
            (
                "lone closing brace in the prompt",
                "[shell]\nprompt = \"a}b\"\n",
                (2, 10, "`shell.prompt`: a lone `}`"),
            ),
            (
                "escape sequence in a name",
                "[environment]\nname = \"prod\\u001b[31m\"\n",
                (
                    2,
                    8,
                    "`environment.name`: `prod\\e[31m` contains a control character",
                ),
            ),
            (
                "blank name",
                "[environment]\nname = \"  \"\n",
                (2, 8, "`environment.name`: the name cannot be empty"),
            ),
            (
                "duplicate key",
                "[confirm]\nlow = \"run\"\nlow = \"deny\"\n",
                (3, 1, "this is not valid TOML: duplicate key"),
            ),
        ];
        for (name, text, (line, col, message)) in cases {
            let errors = errors_of(text);
            assert_eq!(errors.len(), 1, "{name}: {errors:?}");
            let (got_line, got_col, got_message) = &errors[0];
            assert_eq!(
                (*got_line, *got_col),
                (*line, *col),
                "{name}: {got_message}"
            );
            assert!(
                got_message.contains(message),
                "{name}: expected {message:?} in {got_message:?}"
            );
        }
    }

    #[test]
    fn every_error_of_a_file_is_reported_in_order() {
        let text = "\
colour = \"auto\"
[environment]
color = \"orange\"
[confirm]
low = \"maybe\"
reason_min_chars = -3
[rules]
disable = [1, \"ok\", \"Not Ok\"]
";
        let errors = errors_of(text);
        let places: Vec<(usize, usize)> = errors.iter().map(|(l, c, _)| (*l, *c)).collect();
        assert_eq!(
            places,
            [(1, 1), (3, 9), (5, 7), (6, 20), (8, 12), (8, 21)],
            "{errors:?}"
        );
    }

    #[test]
    fn an_error_prints_as_file_line_col_with_a_caret() {
        let errors = parse("[confirm]\nhigh = \"yes\"\n").unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "test.toml:2:8: `confirm.high` must be one of `run`, `notice`, `confirm-yes`, `confirm-host` or `deny`, not `yes`\n\
             2 | high = \"yes\"\n\
             \x20 |        ^^^^^"
        );
    }

    #[test]
    fn the_caret_stays_under_the_value_after_a_tab_and_non_ascii() {
        let errors = parse("[environment]\n\tname = \"ü\" # é\n\tcolor = \"grün\"\n").unwrap_err();
        let shown = errors[0].to_string();
        let lines: Vec<&str> = shown.lines().collect();
        // The tab is shown as `\t`, so the caret moves two columns along.
        assert_eq!(lines[1], "3 | \\tcolor = \"grün\"");
        assert_eq!(lines[2], "  |           ^^^^^^");
    }

    #[test]
    fn a_syntax_error_hides_the_rest_but_lists_all_syntax_errors() {
        let errors = errors_of("colour = 1\na = \nb = {\n");
        assert!(
            errors
                .iter()
                .all(|(_, _, m)| m.starts_with("this is not valid TOML")),
            "{errors:?}"
        );
        assert!(errors.len() >= 2, "{errors:?}");
        assert!(
            errors
                .windows(2)
                .all(|w| (w[0].0, w[0].1) <= (w[1].0, w[1].1))
        );
    }

    /// The file's valid settings, and the settings at their strictest
    /// reading, of a broken file.
    fn broken(text: &str) -> (Loaded, Vec<String>) {
        let (loaded, errors) = Loaded::read_toml(text, Path::new("/etc/x.toml"));
        assert!(!errors.is_empty(), "{text:?} should have errors");
        let strict = loaded.strict_settings();
        (loaded, strict)
    }

    #[test]
    fn a_broken_value_keeps_the_valid_settings_and_reads_strictest() {
        let (loaded, strict) =
            broken("[confirm]\nhigh = \"deny\"\nlow = \"maybe\"\n[environment]\nname = \"lab\"\n");
        let c = &loaded.config;
        assert_eq!((c.confirm.high, c.confirm.low), (Ask::Deny, Ask::Deny));
        assert_eq!(c.confirm.medium, Ask::ConfirmYes, "not named: its default");
        assert_eq!(c.environment.name, "lab", "a valid setting stays in force");
        assert_eq!(strict, ["confirm.low = \"deny\""]);
        assert_eq!(
            loaded.source("confirm.low"),
            Source::Strict("/etc/x.toml".into())
        );
        assert_eq!(
            loaded.source("confirm.high"),
            Source::File("/etc/x.toml".into())
        );
        // A setting without a strict reading falls back to its default.
        let (loaded, strict) = broken("[shell]\nprogram = \"bash\"\n");
        assert_eq!(loaded.config, Config::default());
        assert!(strict.is_empty());
        let (loaded, _) = broken("[syslog]\nrequired = \"yes\"\n");
        assert!(loaded.config.syslog.required);
    }

    #[test]
    fn an_unknown_key_reads_as_the_setting_it_misspells_at_its_strictest() {
        for text in [
            "[confirm]\nhihg = \"run\"\n",
            "[confirm]\nhigh = \"run\"\nhihg = \"run\"\n",
            "[confrim]\nhigh = \"run\"\n",
            "high = \"run\"\n",
        ] {
            let (loaded, strict) = broken(text);
            assert_eq!(loaded.config.confirm.high, Ask::Deny, "{text:?}");
            assert_eq!(strict, ["confirm.high = \"deny\""], "{text:?}");
        }
        // A key that belongs to another table.
        let (loaded, _) = broken("[audit]\nrequired = true\n");
        assert!(loaded.config.syslog.required);
        // Nothing close: nothing is guessed.
        let (loaded, strict) = broken("[confirm]\nzzzzzz = 1\n");
        assert_eq!(loaded.config, Config::default());
        assert!(strict.is_empty());
    }

    #[test]
    fn a_table_given_as_a_value_makes_each_of_its_settings_strict() {
        let (loaded, strict) = broken("confirm = \"yes\"\n[environment]\nname = \"lab\"\n");
        let c = &loaded.config.confirm;
        assert_eq!([c.low, c.medium, c.high, c.critical], [Ask::Deny; 4]);
        assert_eq!(strict.len(), 4);
        assert_eq!(loaded.config.environment.name, "lab");
    }

    #[test]
    fn a_syntax_error_makes_strict_every_setting_the_file_might_set() {
        // `high` and `low` appear, `medium` and `critical` do not.
        let (loaded, strict) = broken("[confirm]\nhigh = \"run\"\nlow = \n");
        let c = &loaded.config.confirm;
        assert_eq!((c.high, c.low), (Ask::Deny, Ask::Deny));
        assert_eq!((c.medium, c.critical), (Ask::ConfirmYes, Ask::ConfirmHost));
        assert_eq!(strict.len(), 2, "{strict:?}");
        // A word inside another word does not count.
        let (loaded, _) = broken("[environment]\nname = \"highlow\nx\n");
        assert_eq!(loaded.config, Config::default());
        // An escape could spell any key: everything is strict.
        let (loaded, _) = broken("\"\\u0068igh\" = 1\n[oops\n");
        assert_eq!(loaded.config.confirm.critical, Ask::Deny);
        assert!(loaded.config.syslog.required);
        assert!(!loaded.config.session.allow_overrides);
    }

    #[test]
    fn a_syntax_error_keeps_the_harmless_settings_written_before_it() {
        let text = "[audit]\npath = \"/srv/a.jsonl\"\n[confirm]\nhigh = \"run\"\nlow = \n[environment]\nname = \"lab\"\n";
        let (loaded, _) = broken(text);
        let c = &loaded.config;
        assert_eq!(c.audit.path.as_deref(), Some(Path::new("/srv/a.jsonl")));
        assert_eq!(
            c.confirm.high,
            Ask::Deny,
            "a level is never kept, only made strict"
        );
        assert_eq!(
            c.environment.name, "production",
            "after the error: not trusted"
        );
        // A string left open swallows the rest: none of it counts.
        let (loaded, _) = broken("[environment]\nname = \"\"\"abc\n[audit]\npath = \"/x\"\n");
        assert_eq!(loaded.config, Config::default());
    }

    #[test]
    fn an_unreadable_file_denies_every_risk_level() {
        let loaded = Loaded::unreadable(Path::new("/etc/x.toml"));
        let c = &loaded.config.confirm;
        assert_eq!([c.low, c.medium, c.high, c.critical], [Ask::Deny; 4]);
        assert_eq!(loaded.strict_settings().len(), 4);
        assert!(render(&loaded).contains("STRICTEST READING"));
    }

    #[test]
    fn the_strict_api_still_refuses_a_file_with_any_error() {
        assert!(Loaded::from_toml("[confirm]\nhigh = \"x\"\n", Path::new("/x")).is_err());
        assert!(Config::from_toml("[confirm]\nhigh = \"x\"\n", "x").is_err());
    }

    #[test]
    fn sources_say_which_settings_the_file_set() {
        let path = Path::new("/etc/safe-run/config.toml");
        let loaded = Loaded::from_toml("[confirm]\nlow = \"deny\"\n", path).unwrap();
        assert_eq!(loaded.source("confirm.low"), Source::File(path.into()));
        assert_eq!(loaded.source("confirm.medium"), Source::Default);
        assert_eq!(loaded.source("no.such.key"), Source::Default);
        assert_eq!(Loaded::defaults().source("confirm.low"), Source::Default);
        assert_eq!(
            Source::File(path.into()).to_string(),
            "from /etc/safe-run/config.toml"
        );
    }

    #[test]
    fn render_comments_every_line_with_its_source() {
        let path = Path::new("/etc/safe-run/config.toml");
        let loaded = Loaded::from_toml("[confirm]\nlow = \"deny\"\n", path).unwrap();
        let text = render(&loaded);
        assert!(
            text.lines().any(|l| l.starts_with("low = \"deny\"")
                && l.ends_with("# from /etc/safe-run/config.toml")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("medium = \"confirm-yes\"") && l.ends_with("# default"))
        );
        assert!(
            text.contains(
                "# reason_pattern is not set: any reason of the right length is accepted"
            )
        );
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('['))
        {
            assert!(line.contains('#'), "line without a comment: {line:?}");
        }
    }

    #[test]
    fn render_prints_toml_that_reads_back_to_the_same_settings() {
        for loaded in [
            Loaded::defaults(),
            Loaded::from_toml(FULL, Path::new("/etc/a\nb.toml")).unwrap(),
        ] {
            let text = render(&loaded);
            assert_eq!(parse(&text).unwrap(), loaded.config, "{text}");
        }
    }

    /// The shipped file, uncommented, is exactly the defaults.
    #[test]
    fn commented_defaults_uncommented_are_the_defaults() {
        let text = commented_defaults();
        assert_eq!(parse(&text).unwrap(), Config::default(), "as shipped");
        let mut uncommented = Vec::new();
        let mut settings = BTreeSet::new();
        for line in text.lines() {
            match line.strip_prefix('#') {
                Some(rest) if !rest.is_empty() && !rest.starts_with(' ') => {
                    settings.insert(rest.split(" = ").next().unwrap_or_default().to_string());
                    uncommented.push(rest);
                }
                _ => uncommented.push(line),
            }
        }
        let uncommented = uncommented.join("\n");
        assert_eq!(
            parse(&uncommented).unwrap(),
            Config::default(),
            "{uncommented}"
        );
        let with_values: BTreeSet<String> = SETTINGS
            .iter()
            .filter(|s| (s.show)(&Config::default()).is_some())
            .map(|s| s.key().to_string())
            .collect();
        assert_eq!(settings, with_values);
    }

    #[test]
    fn the_examples_of_unset_settings_are_valid() {
        for s in SETTINGS
            .iter()
            .filter(|s| (s.show)(&Config::default()).is_none())
        {
            let (table, key) = (s.table(), s.key());
            let text = format!("[{table}]\n{key} = {}\n", s.example);
            let config = parse(&text).unwrap_or_else(|e| panic!("{}: {}", s.name, e[0]));
            assert!((s.show)(&config).is_some(), "{}", s.name);
            assert!(!s.unset.is_empty(), "{} says what unset means", s.name);
        }
    }

    #[test]
    fn a_broken_fleet_setting_is_read_at_its_strictest() {
        let (loaded, errors) = Loaded::read_toml(
            "[fleet]\ngroups = [\"core\"]\ndisruptive_rules = \"x\"\nstore = \"zookeeper\"\nlimits = { core = 2 }\n",
            Path::new("/etc/x.toml"),
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        let fleet = &loaded.config.fleet;
        assert!(
            fleet.unreadable,
            "an unknown store refuses disruptive lines"
        );
        assert_eq!(fleet.disruptive_rules, ["*"]);
        assert_eq!(
            (fleet.groups.len(), fleet.limit("core"), fleet.limit("edge")),
            (1, 2, 1)
        );
        let (loaded, errors) = Loaded::read_toml(
            "[fleet]\ngroups = [\"core\"]\nlimits = { core = 0, \"bad/name\" = 1 }\n",
            Path::new("/etc/x.toml"),
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(!loaded.config.fleet.unreadable);
        assert_eq!(loaded.config.fleet.limit("core"), 1);
    }

    #[test]
    fn every_setting_is_documented() {
        let doc = include_str!("../../docs/CONFIG.md");
        for s in SETTINGS {
            let heading = format!("`{}`", s.name);
            assert!(
                doc.contains(&heading),
                "docs/CONFIG.md does not describe {heading}"
            );
        }
    }

    #[test]
    fn audit_paths_fall_back_to_the_state_directory() {
        let system = PathBuf::from(SYSTEM_AUDIT_LOG);
        let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
            (
                Some("/state"),
                Some("/home/ops"),
                Some("/state/safe-run/audit.jsonl"),
            ),
            (
                None,
                Some("/home/ops"),
                Some("/home/ops/.local/state/safe-run/audit.jsonl"),
            ),
            (
                Some(""),
                Some("/home/ops"),
                Some("/home/ops/.local/state/safe-run/audit.jsonl"),
            ),
            (
                Some("relative"),
                Some("/h"),
                Some("/h/.local/state/safe-run/audit.jsonl"),
            ),
            (None, None, None),
            (None, Some(""), None),
        ];
        for (xdg, home, second) in cases {
            let mut expected = vec![system.clone()];
            expected.extend(second.map(PathBuf::from));
            assert_eq!(
                default_audit_paths(*xdg, *home),
                expected,
                "{xdg:?} {home:?}"
            );
        }
    }

    #[test]
    fn prompts_expand_their_placeholders() {
        let values = PromptValues {
            env: "production",
            user: "ops",
            host: "core-1",
            cwd: "/root",
            sigil: "#",
        };
        let config = Config::default();
        assert_eq!(
            expand_prompt(&config.shell.prompt, &values),
            "[production] ops@core-1:/root# "
        );
        assert_eq!(expand_prompt("{{{env}}}", &values), "{production}");
        assert_eq!(expand_prompt("a}b{c", &values), "a}b{c");
    }

    #[test]
    fn colours_have_their_ansi_codes() {
        assert_eq!(Color::Black.ansi_fg(), 30);
        assert_eq!(Color::Red.ansi_fg(), 31);
        assert_eq!(Color::White.ansi_bg(), 47);
        assert_eq!(Color::BrightBlack.ansi_fg(), 90);
        assert_eq!(Color::BrightWhite.ansi_fg(), 97);
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn on_any_text(text in "\\PC{0,200}") {
                let _ = Config::from_toml(&text, "f").map_err(|e| e.iter().map(ToString::to_string).count());
            }

            #[test]
            fn on_a_mangled_good_file(cut in 0..FULL.len(), insert in "[\\[\\]{}=\"'\n#a-z0-9. ]{0,4}") {
                let mut text = FULL.to_string();
                let mut at = cut;
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, &insert);
                if let Err(errors) = Config::from_toml(&text, "f") {
                    for e in errors {
                        let _ = e.to_string();
                    }
                }
            }
        }
    }
}
