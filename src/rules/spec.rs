//! The rule file schema of docs/RULES.md as plain serde types, and the checks
//! a rule — and a `[[program]]` declaration — must pass before it is used.
//!
//! This file is compiled twice: into the library, and into `build.rs`
//! (through `#[path]`), which validates the shipped `rules/*.toml` with
//! exactly this code and embeds them as a postcard blob. So it may use only
//! `serde`, `toml`, `regex` and std — no `crate::` paths.
//!
//! A file is checked in layers so that one mistake does not hide the next:
//! a TOML syntax error stops everything (the rest of the document cannot be
//! trusted), but after that every `[[rule]]` table is checked on its own,
//! and every key within it, so a file with five mistakes reports five
//! errors, each with the byte span it is about. Turning a span into
//! `file:line:col` is the caller's job ([`locate`] helps).
//!
//! A `[[program]]` table ([`ProgramSpec`]) says how one program reads its
//! command line — the subcommand words and long options it accepts
//! abbreviated, the options that take a value — once for every rule of
//! that program. Rules then name full words only, and [`subcommand_problems`]
//! checks that they do: a rule written with an abbreviation could never
//! match, because a command's words are written out in full before rules
//! see them.
//!
//! The blob format ([`Blob`]) lives here too because it is the contract
//! between `build.rs`, which writes it, and `rules`, which reads it. Each
//! rule is stored as its own postcard bytes behind a small index (ids,
//! program names), so start-up decodes only the index and a process that
//! checks `ls` never decodes the `kubeadm` rules.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};

/// A byte range in a rule file.
pub type ByteSpan = Range<usize>;

/// The program name that makes a rule apply to every command.
pub const ANY_PROGRAM: &str = "*";
/// A command whose program is only known at run time (`$CMD`, `$(which x)`).
pub const DYNAMIC_PROGRAM: &str = "<dynamic>";
/// A function defined in the line that calls itself (a fork bomb).
pub const RECURSIVE_FUNCTION: &str = "<recursive-function>";
/// A script the line runs that could not be read or checked (the program
/// name of the command `parse` records for it).
pub const UNREADABLE_SCRIPT: &str = "<unreadable-script>";

/// What `unless_stdin` may name: `script`, text the guard reads on the
/// command's stdin (a here-document, a here-string, `echo`/`printf` piped
/// in), which is checked as a script of its own; `file`, stdin redirected
/// from a file (`bash < deploy.sh`).
pub const STDIN_SOURCES: &[&str] = &["script", "file"];

/// Every key a `[[rule]]` table may have, in the order of docs/RULES.md.
pub const KEYS: &[&str] = &[
    "id",
    "risk",
    "action",
    "programs",
    "value_flags",
    "max_options",
    "subcommand",
    "flags",
    "all_flags",
    "args",
    "targets",
    "no_targets",
    "redirect",
    "truncate",
    "input",
    "stdin_from",
    "unless_flags",
    "unless_args",
    "unless_targets",
    "unless_stdin",
    "why",
    "instead",
    "preview",
    "disruptive",
    "match",
    "allow",
];

/// The keys every rule must have.
pub const REQUIRED_KEYS: &[&str] = &["id", "risk", "programs", "why", "instead", "match", "allow"];

/// The placeholders `preview` may use.
pub const PLACEHOLDERS: &[&str] = &["{args}", "{subcommand}", "{targets}"];

/// The fewest `match` and `allow` examples a rule may have.
pub const MIN_EXAMPLES: usize = 2;

/// Every key a `[[program]]` table may have, in the order of docs/RULES.md.
pub const PROGRAM_KEYS: &[&str] = &[
    "programs",
    "commands",
    "subcommands",
    "subcommand_prefixes",
    "long_options",
    "value_flags",
];

/// A rule's risk. `none` is not a level a rule can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const NAMES: &[&str] = &["low", "medium", "high", "critical"];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// The only action a rule may set; without it the risk decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    Deny,
}

/// How a command disrupts the node it runs on (`disruptive`): what decides
/// when its fleet slot is given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disruption {
    /// The node goes down: the slot is held until the host is back (the
    /// next safe-run start after the boot) or `safe-run release`.
    Reboot,
    /// The node is out of service after the command (a drain): the slot is
    /// held as for a reboot, which usually follows; `safe-run release`
    /// gives it back when the node is back in service without one.
    Hold,
    /// A change while the node stays up (a runtime restart): the slot is
    /// given back when the command ends.
    Change,
}

impl Disruption {
    pub const NAMES: &[&str] = &["reboot", "hold", "change"];

    pub fn as_str(self) -> &'static str {
        match self {
            Disruption::Reboot => "reboot",
            Disruption::Hold => "hold",
            Disruption::Change => "change",
        }
    }

    /// Whether the slot outlives the command (a reboot, a hold).
    pub fn keeps(self) -> bool {
        self != Disruption::Change
    }
}

/// How a program reads a subcommand word that is only the start of one of
/// its commands (`subcommand_prefixes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrefixMode {
    /// The word stands for the one listed word it begins; a word that
    /// begins several is refused by the program, and a listed word always
    /// stands for itself (btrfs, Proxmox's qm and pct).
    Unique,
    /// The word stands for the first listed word it begins, in the order
    /// listed, which is the program's own order (ip: `ip a` is `address`
    /// because ip tries `address` before `addrlabel`; nmcli).
    First,
}

impl PrefixMode {
    pub const NAMES: &[&str] = &["unique", "first"];
}

/// The index of the listed word that `word` stands for, read as a program
/// with these `subcommand_prefixes` reads it (`None`: exact words only).
/// `None` when it stands for none of them, or (`unique`) for several.
pub fn resolve_word<S: AsRef<str>>(
    words: &[S],
    word: &str,
    prefixes: Option<PrefixMode>,
) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    match prefixes {
        None => words.iter().position(|w| w.as_ref() == word),
        Some(PrefixMode::First) => words.iter().position(|w| w.as_ref().starts_with(word)),
        Some(PrefixMode::Unique) => {
            if let Some(exact) = words.iter().position(|w| w.as_ref() == word) {
                return Some(exact);
            }
            let mut found = None;
            for (i, w) in words.iter().enumerate() {
                if w.as_ref().starts_with(word) {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(i);
                }
            }
            found
        }
    }
}

/// The long option `word` stands for, read as `getopt_long` reads it: an
/// exact name is itself, and a prefix of exactly one of `long_options` is
/// that option (`--recur` is `--recursive`). The value of `--name=value`
/// is kept. `None` when the word is not a long option, is already one of
/// them, or begins none or several.
pub fn resolve_long_option<S: AsRef<str>>(long_options: &[S], word: &str) -> Option<String> {
    let (name, value) = match word.find('=') {
        Some(at) => word.split_at(at),
        None => (word, ""),
    };
    if name.len() <= 2 || !name.starts_with("--") {
        return None;
    }
    let mut found = None;
    for option in long_options {
        let option = option.as_ref();
        if option == name {
            return None;
        }
        if option.starts_with(name) {
            if found.is_some() {
                return None;
            }
            found = Some(option);
        }
    }
    found.map(|option| format!("{option}{value}"))
}

/// One `[[program]]` table: how a program reads its command line, stated
/// once for every rule of that program (docs/RULES.md).
///
/// `commands` lists the program's first subcommand words; `subcommands`
/// the words that may follow a command path (`"address"`, `"osd pool"`).
/// With `subcommand_prefixes`, a word that is only the start of a listed
/// word stands for it. `long_options` are read as `getopt_long` reads
/// them, so an unambiguous prefix stands for the option. `value_flags`
/// are added to every rule's own.
///
/// Like [`RuleSpec`], every field is always serialised (postcard).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    pub programs: Vec<String>,
    #[serde(default)]
    pub subcommand_prefixes: Option<PrefixMode>,
    #[serde(default)]
    pub commands: Option<Vec<String>>,
    #[serde(default)]
    pub subcommands: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub long_options: Option<Vec<String>>,
    #[serde(default)]
    pub value_flags: Option<Vec<String>>,
}

impl ProgramSpec {
    /// The words that may follow `path` (the command words so far, in
    /// full): `commands` for none, else the `subcommands` list of that path.
    pub fn words_after(&self, path: &[&str]) -> Option<&[String]> {
        if path.is_empty() {
            return self.commands.as_deref();
        }
        self.subcommands
            .as_ref()?
            .get(&path.join(" "))
            .map(Vec::as_slice)
    }

    /// Why a rule's `subcommand` alternative (its words) can never match a
    /// command of this program, or `None` if it can: every word at a level
    /// the table lists must be one of the listed words, written in full.
    pub fn subcommand_problem(&self, words: &[&str]) -> Option<String> {
        let program = self.programs.first().map_or("", String::as_str);
        let mut path: Vec<&str> = Vec::new();
        for &word in words {
            // Words past what the table lists are read as typed.
            let listed = self.words_after(&path)?;
            let at = |p: &[&str]| {
                std::iter::once(program)
                    .chain(p.iter().copied())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            match resolve_word(listed, word, self.subcommand_prefixes) {
                Some(i) if listed[i] == word => path.push(word),
                Some(i) => {
                    return Some(format!(
                        "`{word}` is read as `{}` by `{}`, and a command's words are written out in full before rules see them: write `{}`",
                        listed[i],
                        at(&path),
                        listed[i]
                    ));
                }
                None => {
                    return Some(format!(
                        "`{word}` is not one of the commands of `{}` in its [[program]] table ({})",
                        at(&path),
                        listed
                            .iter()
                            .map(|w| format!("`{w}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        None
    }
}

/// The `subcommand` alternatives of a rule that can never match, given the
/// `[[program]]` declarations in force (`declared` finds one by program
/// name). An alternative is fine if it can match for at least one of the
/// rule's programs: one without a declaration, or whose declaration
/// accepts it.
pub fn subcommand_problems<'d>(
    rule: &RuleSpec,
    declared: &dyn Fn(&str) -> Option<&'d ProgramSpec>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, alternative) in rule.subcommand.iter().flatten().enumerate() {
        let words: Vec<&str> = alternative.split_whitespace().collect();
        let mut reason = None;
        let fine = rule.programs.iter().any(|program| match declared(program) {
            None => true,
            Some(table) => match table.subcommand_problem(&words) {
                None => true,
                Some(why) => {
                    reason.get_or_insert(why);
                    false
                }
            },
        });
        if let (false, Some(reason)) = (fine, reason) {
            problems.push(Problem::new("subcommand", Some(i), reason));
        }
    }
    problems
}

/// A regex key's value: one regex or a list of them (`args = "^/$"` or
/// `args = ["^/$", "^/\\*$"]`). Always a list once read.
///
/// In TOML (a human-readable format) one pattern is written as a plain
/// string; in postcard it is always a sequence, because postcard cannot
/// tell a string from a list by looking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Patterns(pub Vec<String>);

impl Serialize for Patterns {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] if serializer.is_human_readable() => serializer.serialize_str(one),
            all => all.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Patterns {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if !deserializer.is_human_readable() {
            return Vec::<String>::deserialize(deserializer).map(Patterns);
        }
        struct OneOrMany;
        impl<'de> Visitor<'de> for OneOrMany {
            type Value = Patterns;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a regex or a list of regexes")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_string()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Patterns, A::Error> {
                let mut all = Vec::new();
                while let Some(one) = seq.next_element::<String>()? {
                    all.push(one);
                }
                Ok(Patterns(all))
            }
        }
        deserializer.deserialize_any(OneOrMany)
    }
}

/// One `[[rule]]` table, exactly as written (see docs/RULES.md for the
/// meaning of each key). Optional matchers are `None` when absent: a present
/// matcher must hold, an absent one does not constrain.
///
/// No `skip_serializing_if` here: postcard is not self-describing, so every
/// field must always be written. Field order matters too: [`MatchSpec`]
/// mirrors the leading fields so it can be decoded from the same bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub risk: Level,
    #[serde(default)]
    pub action: Option<RuleAction>,
    pub programs: Vec<String>,
    #[serde(default)]
    pub value_flags: Option<Vec<String>>,
    #[serde(default)]
    pub max_options: Option<u32>,
    #[serde(default)]
    pub subcommand: Option<Vec<String>>,
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    #[serde(default)]
    pub all_flags: Option<Vec<String>>,
    #[serde(default)]
    pub args: Option<Patterns>,
    #[serde(default)]
    pub targets: Option<Patterns>,
    #[serde(default)]
    pub no_targets: Option<bool>,
    #[serde(default)]
    pub redirect: Option<Patterns>,
    #[serde(default)]
    pub truncate: Option<Patterns>,
    #[serde(default)]
    pub input: Option<Patterns>,
    #[serde(default)]
    pub stdin_from: Option<Vec<String>>,
    #[serde(default)]
    pub unless_flags: Option<Vec<String>>,
    #[serde(default)]
    pub unless_args: Option<Patterns>,
    #[serde(default)]
    pub unless_targets: Option<Patterns>,
    #[serde(default)]
    pub unless_stdin: Option<Vec<String>>,
    pub why: String,
    pub instead: String,
    #[serde(default)]
    pub preview: Option<Vec<String>>,
    #[serde(rename = "match")]
    pub match_examples: Vec<String>,
    #[serde(rename = "allow")]
    pub allow_examples: Vec<String>,
    /// The command takes this node out of service (docs/FLEET.md): a
    /// slot of the host's fleet groups is taken before it runs. Last, so
    /// that [`MatchSpec`] never decodes it.
    #[serde(default)]
    pub disruptive: Option<Disruption>,
}

impl RuleSpec {
    /// Every regex of the rule with the key it belongs to, in key order.
    pub fn patterns(&self) -> impl Iterator<Item = (&'static str, &Patterns)> {
        [
            ("args", &self.args),
            ("targets", &self.targets),
            ("redirect", &self.redirect),
            ("truncate", &self.truncate),
            ("input", &self.input),
            ("unless_args", &self.unless_args),
            ("unless_targets", &self.unless_targets),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|p| (key, p)))
    }

    /// Every option list of the rule with its key.
    fn option_lists(&self) -> impl Iterator<Item = (&'static str, &Vec<String>)> {
        [
            ("value_flags", &self.value_flags),
            ("flags", &self.flags),
            ("all_flags", &self.all_flags),
            ("unless_flags", &self.unless_flags),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (key, v)))
    }
}

/// The leading fields of [`RuleSpec`] — everything matching needs — in the
/// same order and with the same types, so that postcard decodes it from a
/// whole `RuleSpec`'s bytes (postcard reads fields in order and ignores
/// what follows). Decoding only this skips the text (why, instead,
/// examples) that most lines never show, which is most of a rule's bytes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MatchSpec {
    pub id: String,
    pub risk: Level,
    pub action: Option<RuleAction>,
    pub programs: Vec<String>,
    pub value_flags: Option<Vec<String>>,
    pub max_options: Option<u32>,
    pub subcommand: Option<Vec<String>>,
    pub flags: Option<Vec<String>>,
    pub all_flags: Option<Vec<String>>,
    pub args: Option<Patterns>,
    pub targets: Option<Patterns>,
    pub no_targets: Option<bool>,
    pub redirect: Option<Patterns>,
    pub truncate: Option<Patterns>,
    pub input: Option<Patterns>,
    pub stdin_from: Option<Vec<String>>,
    pub unless_flags: Option<Vec<String>>,
    pub unless_args: Option<Patterns>,
    pub unless_targets: Option<Patterns>,
    pub unless_stdin: Option<Vec<String>>,
}

impl From<&RuleSpec> for MatchSpec {
    fn from(spec: &RuleSpec) -> MatchSpec {
        MatchSpec {
            id: spec.id.clone(),
            risk: spec.risk,
            action: spec.action,
            programs: spec.programs.clone(),
            value_flags: spec.value_flags.clone(),
            max_options: spec.max_options,
            subcommand: spec.subcommand.clone(),
            flags: spec.flags.clone(),
            all_flags: spec.all_flags.clone(),
            args: spec.args.clone(),
            targets: spec.targets.clone(),
            no_targets: spec.no_targets,
            redirect: spec.redirect.clone(),
            truncate: spec.truncate.clone(),
            input: spec.input.clone(),
            stdin_from: spec.stdin_from.clone(),
            unless_flags: spec.unless_flags.clone(),
            unless_args: spec.unless_args.clone(),
            unless_targets: spec.unless_targets.clone(),
            unless_stdin: spec.unless_stdin.clone(),
        }
    }
}

/// One rule read from a file, with the 1-based line of its `[[rule]]` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedRule {
    pub spec: RuleSpec,
    pub line: usize,
}

/// A problem in a rule file, at a byte span of that file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    pub span: ByteSpan,
    pub message: String,
}

/// One `[[program]]` table read from a file, with the 1-based line of its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedProgram {
    pub spec: ProgramSpec,
    pub line: usize,
}

/// Everything valid in a rule file, and every error found in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedFile {
    pub rules: Vec<ParsedRule>,
    pub programs: Vec<ParsedProgram>,
    pub errors: Vec<SpecError>,
}

/// A problem found by [`validate`] in a rule (or [`validate_program`] in a
/// `[[program]]` table) that is well-typed: which key, which entry of a
/// table key (`subcommands`), which item of a list, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub key: &'static str,
    pub entry: Option<String>,
    pub item: Option<usize>,
    pub message: String,
}

impl Problem {
    fn new(key: &'static str, item: Option<usize>, message: String) -> Self {
        Problem {
            key,
            entry: None,
            item,
            message,
        }
    }

    fn in_entry(key: &'static str, entry: &str, item: Option<usize>, message: String) -> Self {
        Problem {
            key,
            entry: Some(entry.to_string()),
            item,
            message,
        }
    }
}

/// Reads every rule of a rule file.
///
/// Returns the rules that are valid and every error found, sorted by
/// position. A rule with any error is left out; the others are returned,
/// so a caller may keep them (a broken extra file must not lock anyone out)
/// or refuse the whole file. A TOML syntax error yields no rules at all.
/// The file's `[[program]]` tables are checked too; [`parse_document`]
/// also returns them.
pub fn parse_file(text: &str) -> (Vec<ParsedRule>, Vec<SpecError>) {
    let parsed = parse_document(text, &[]);
    (parsed.rules, parsed.errors)
}

/// Reads a rule file: its `[[rule]]` and `[[program]]` tables.
///
/// Each rule's `subcommand` words are checked against the declarations in
/// force for its programs ([`subcommand_problems`]): this file's own, then
/// `elsewhere` (those of the other files that will be in force with it).
/// Errors are sorted by position; a rule or table with any error is left
/// out and the others are kept, as for [`parse_file`].
pub fn parse_document(text: &str, elsewhere: &[ProgramSpec]) -> ParsedFile {
    let (doc, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        let mut errors: Vec<SpecError> = syntax_errors
            .iter()
            .map(|e| SpecError {
                span: e.span().unwrap_or(0..0),
                message: format!("this is not valid TOML: {}", e.message().trim()),
            })
            .collect();
        sort_errors(&mut errors);
        return ParsedFile {
            errors,
            ..ParsedFile::default()
        };
    }

    let mut errors = Vec::new();
    let mut programs: Vec<ParsedProgram> = Vec::new();
    // Rules that passed their own checks, with their table and header, to
    // be checked against the declarations once all are read.
    let mut pending = Vec::new();
    // Ids seen so far in this file, with the line that used them first.
    let mut seen: HashMap<String, usize> = HashMap::new();
    // Program names declared so far in this file, with their table's line.
    let mut declared: HashMap<String, usize> = HashMap::new();
    for (key, value) in doc.get_ref() {
        let kind = key.get_ref().as_ref();
        if kind != "rule" && kind != "program" {
            errors.push(SpecError {
                span: key.span(),
                message: format!(
                    "unknown top-level key `{kind}`: a rule file holds only [[rule]] and [[program]] tables"
                ),
            });
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            errors.push(SpecError {
                span: value.span(),
                message: format!(
                    "`{kind}` must be a list of tables: start each one with [[{kind}]]"
                ),
            });
            continue;
        };
        for item in items.iter() {
            let DeValue::Table(table) = item.get_ref() else {
                errors.push(SpecError {
                    span: item.span(),
                    message: format!(
                        "each {kind} must be a table, not {}: start each one with [[{kind}]]",
                        a_type(item.get_ref())
                    ),
                });
                continue;
            };
            let header = item.span();
            let line = locate(text, header.start).line;
            if kind == "program" {
                match parse_program(table, header.clone()) {
                    Ok(spec) => {
                        let mut ok = true;
                        for (i, name) in spec.programs.iter().enumerate() {
                            if let Some(first) = declared.get(name) {
                                ok = false;
                                errors.push(SpecError {
                                    span: problem_span(
                                        table,
                                        &header,
                                        &Problem::new("programs", Some(i), String::new()),
                                    ),
                                    message: format!(
                                        "`{name}` is already declared by the [[program]] table at line {first}: one table per program"
                                    ),
                                });
                            }
                        }
                        if ok {
                            for name in &spec.programs {
                                declared.insert(name.clone(), line);
                            }
                            programs.push(ParsedProgram { spec, line });
                        }
                    }
                    Err(program_errors) => errors.extend(program_errors),
                }
                continue;
            }
            let mut ok = true;
            if let Some(id) = table.get("id")
                && let Some(id_text) = id.get_ref().as_str()
            {
                if let Some(first) = seen.get(id_text) {
                    ok = false;
                    errors.push(SpecError {
                        span: id.span(),
                        message: format!(
                            "duplicate id `{id_text}`: the rule at line {first} already uses it"
                        ),
                    });
                } else {
                    seen.insert(id_text.to_string(), line);
                }
            }
            match parse_rule(table, header.clone()) {
                Ok(spec) if ok => pending.push((spec, line, table, header)),
                Ok(_) => {}
                Err(rule_errors) => errors.extend(rule_errors),
            }
        }
    }

    let find = |name: &str| {
        programs
            .iter()
            .map(|p| &p.spec)
            .chain(elsewhere)
            .find(|p| p.programs.iter().any(|n| n == name))
    };
    let mut rules = Vec::new();
    for (spec, line, table, header) in pending {
        let problems = subcommand_problems(&spec, &find);
        if problems.is_empty() {
            rules.push(ParsedRule { spec, line });
        }
        for problem in problems {
            errors.push(SpecError {
                span: problem_span(table, &header, &problem),
                message: problem.message,
            });
        }
    }
    sort_errors(&mut errors);
    ParsedFile {
        rules,
        programs,
        errors,
    }
}

fn sort_errors(errors: &mut [SpecError]) {
    errors.sort_by_key(|e| (e.span.start, e.span.end));
}

/// Checks one `[[rule]]` table: every key, every value's type, then the
/// rule's meaning. Collects every error rather than stopping at the first.
fn parse_rule(table: &DeTable<'_>, header: ByteSpan) -> Result<RuleSpec, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut known = DeTable::new();
    // Keys suggested for a misspelt key, and keys whose value is unusable.
    let mut suggested = Vec::new();
    let mut broken: Vec<&'static str> = Vec::new();
    for (key, value) in table {
        let name: &str = key.get_ref();
        let Some(&name) = KEYS.iter().find(|k| **k == name) else {
            suggested.extend(closest_key(name));
            errors.push(SpecError {
                span: key.span(),
                message: unknown_key_message(name, KEYS),
            });
            continue;
        };
        if check_shape(name, shape_of(name), value, &mut errors) {
            known.insert(key.clone(), value.clone());
        } else {
            broken.push(name);
        }
    }
    for &required in REQUIRED_KEYS {
        if table.contains_key(required) {
            continue;
        }
        broken.push(required);
        // A misspelt key already got "did you mean": one error is enough.
        if !suggested.contains(&required) {
            errors.push(SpecError {
                span: header.clone(),
                message: format!("this rule has no `{required}`, which every rule needs"),
            });
        }
    }
    // So that the rest of the rule is still checked, broken or missing
    // required keys get a valid stand-in, and problems with stand-ins are
    // not reported.
    for &key in &broken {
        if let Some(value) = stand_in(key, &header) {
            known.insert(Spanned::new(header.clone(), key.into()), value);
        }
    }

    let root = Spanned::new(header.clone(), DeValue::Table(known));
    let spec = match RuleSpec::deserialize(ValueDeserializer::from(root)) {
        Ok(spec) => spec,
        Err(e) => {
            // Not expected after the shape checks; report it all the same.
            errors.push(SpecError {
                span: e.span().unwrap_or(header),
                message: format!("this rule cannot be read: {}", e.message()),
            });
            return Err(errors);
        }
    };
    for problem in validate(&spec) {
        if !broken.contains(&problem.key) {
            errors.push(SpecError {
                span: problem_span(table, &header, &problem),
                message: problem.message,
            });
        }
    }
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

/// A valid value for a required key, used in place of a missing or
/// ill-typed one so that the rest of the rule can still be checked.
fn stand_in(key: &str, header: &ByteSpan) -> Option<Spanned<DeValue<'static>>> {
    let text = |s: &'static str| Spanned::new(header.clone(), DeValue::String(s.into()));
    let list = |items: &[&'static str]| {
        let mut array = DeArray::new();
        for item in items {
            array.push(text(item));
        }
        Spanned::new(header.clone(), DeValue::Array(array))
    };
    match key {
        "id" => Some(text("stand-in")),
        "risk" => Some(text("low")),
        "why" | "instead" => Some(text("stand-in")),
        "programs" => Some(list(&["*"])),
        "match" | "allow" => Some(list(&["stand-in"; MIN_EXAMPLES])),
        _ => None,
    }
}

/// Checks one `[[program]]` table: every key and its value's type, then
/// what the declaration means ([`validate_program`]).
fn parse_program(table: &DeTable<'_>, header: ByteSpan) -> Result<ProgramSpec, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut known = DeTable::new();
    for (key, value) in table {
        let name: &str = key.get_ref();
        let Some(&name) = PROGRAM_KEYS.iter().find(|k| **k == name) else {
            errors.push(SpecError {
                span: key.span(),
                message: unknown_key_message(name, PROGRAM_KEYS),
            });
            continue;
        };
        if check_shape(name, program_shape_of(name), value, &mut errors) {
            known.insert(key.clone(), value.clone());
        }
    }
    if !table.contains_key("programs") {
        errors.push(SpecError {
            span: header.clone(),
            message: "this [[program]] table has no `programs`: name the programs it describes, like programs = [\"ip\"]".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let root = Spanned::new(header.clone(), DeValue::Table(known));
    let spec = ProgramSpec::deserialize(ValueDeserializer::from(root)).map_err(|e| {
        vec![SpecError {
            span: e.span().unwrap_or(header.clone()),
            message: format!("this [[program]] table cannot be read: {}", e.message()),
        }]
    })?;
    let errors: Vec<SpecError> = validate_program(&spec)
        .into_iter()
        .map(|problem| SpecError {
            span: problem_span(table, &header, &problem),
            message: problem.message,
        })
        .collect();
    if errors.is_empty() {
        Ok(spec)
    } else {
        Err(errors)
    }
}

fn unknown_key_message(name: &str, keys: &[&str]) -> String {
    let expected = keys
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest(name, keys) {
        Some(close) => {
            format!("unknown key `{name}`, did you mean `{close}`? (expected one of {expected})")
        }
        None => format!("unknown key `{name}` (expected one of {expected})"),
    }
}

/// The known key closest to a misspelt one, if it is close enough to be a typo.
fn closest_key(name: &str) -> Option<&'static str> {
    closest(name, KEYS)
}

/// The candidate closest to a misspelt name, if it is close enough to be a
/// typo (`progams` → `programs`). Also used for the configuration's keys.
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// What a key's value must look like.
#[derive(Clone, Copy)]
enum Shape {
    Text,
    Bool,
    Count,
    TextList,
    Patterns,
    OneOf(&'static [&'static str]),
    /// A table whose every value is a list of strings (`subcommands`).
    ListTable,
}

fn shape_of(key: &str) -> Shape {
    match key {
        "id" | "why" | "instead" => Shape::Text,
        "risk" => Shape::OneOf(Level::NAMES),
        "action" => Shape::OneOf(&["deny"]),
        "disruptive" => Shape::OneOf(Disruption::NAMES),
        "no_targets" => Shape::Bool,
        "max_options" => Shape::Count,
        "args" | "targets" | "redirect" | "truncate" | "input" | "unless_args"
        | "unless_targets" => Shape::Patterns,
        _ => Shape::TextList,
    }
}

fn program_shape_of(key: &str) -> Shape {
    match key {
        "subcommand_prefixes" => Shape::OneOf(PrefixMode::NAMES),
        "subcommands" => Shape::ListTable,
        _ => Shape::TextList,
    }
}

/// Checks a value's type against its key's shape, pushing one error per
/// wrong value (each wrong item of a list separately). Returns whether all
/// was well.
fn check_shape(
    key: &str,
    shape: Shape,
    value: &Spanned<DeValue<'_>>,
    errors: &mut Vec<SpecError>,
) -> bool {
    let before = errors.len();
    let wrong = |what: &str| SpecError {
        span: value.span(),
        message: format!("`{key}` must be {what}, not {}", a_type(value.get_ref())),
    };
    match (shape, value.get_ref()) {
        (Shape::Text, DeValue::String(_)) | (Shape::Bool, DeValue::Boolean(_)) => {}
        (Shape::Text, _) => errors.push(wrong("a string")),
        (Shape::Bool, _) => errors.push(wrong("true or false")),
        (Shape::Count, DeValue::Integer(i)) => {
            if !i.as_str().bytes().all(|b| b.is_ascii_digit()) {
                errors.push(wrong("a whole number of 0 or more"));
            }
        }
        (Shape::Count, _) => errors.push(wrong("a whole number")),
        (Shape::OneOf(names), DeValue::String(s)) => {
            if !names.contains(&s.as_ref()) {
                errors.push(SpecError {
                    span: value.span(),
                    message: format!("`{key}` must be {}, not `{s}`", one_of(names)),
                });
            }
        }
        (Shape::OneOf(names), _) => errors.push(wrong(&one_of(names))),
        (Shape::Patterns, DeValue::String(_)) => {}
        (Shape::TextList | Shape::Patterns, DeValue::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if !matches!(item.get_ref(), DeValue::String(_)) {
                    errors.push(SpecError {
                        span: item.span(),
                        message: format!(
                            "item {} of `{key}` must be a string, not {}",
                            i + 1,
                            a_type(item.get_ref())
                        ),
                    });
                }
            }
        }
        (Shape::TextList, _) => errors.push(wrong("a list of strings")),
        (Shape::Patterns, _) => errors.push(wrong("a regex string or a list of them")),
        (Shape::ListTable, DeValue::Table(entries)) => {
            for (entry, words) in entries {
                let entry_key = format!("{key}.\"{}\"", entry.get_ref());
                check_shape(&entry_key, Shape::TextList, words, errors);
            }
        }
        (Shape::ListTable, _) => errors.push(wrong(
            "a table of word lists, written [program.subcommands] under the [[program]] table",
        )),
    }
    errors.len() == before
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

fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("`{one}`"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {} or `{last}`", init.join(", "))
        }
    }
}

/// The span a [`Problem`] points at: the list item it names, else the key's
/// value (for an entry of a table key: the entry's name), else the table's
/// `[[rule]]` or `[[program]]` header.
fn problem_span(table: &DeTable<'_>, header: &ByteSpan, problem: &Problem) -> ByteSpan {
    let Some(value) = table.get(problem.key) else {
        return header.clone();
    };
    let value = match (&problem.entry, value.get_ref()) {
        (Some(entry), DeValue::Table(entries)) => {
            match entries.iter().find(|(k, _)| k.get_ref() == entry) {
                Some((name, _)) if problem.item.is_none() => return name.span(),
                Some((_, list)) => list,
                None => value,
            }
        }
        _ => value,
    };
    match (value.get_ref(), problem.item) {
        (DeValue::Array(items), Some(i)) => items.get(i).map_or(value.span(), |v| v.span()),
        _ => value.span(),
    }
}

/// Checks what a well-typed rule means. Pure; the same checks run at build
/// time on the shipped rules and at load time on extra files.
pub fn validate(spec: &RuleSpec) -> Vec<Problem> {
    let mut problems = Vec::new();

    if !is_kebab_case(&spec.id) {
        problems.push(Problem::new(
            "id",
            None,
            format!(
                "rule id `{}` is not kebab-case: use lower-case letters, digits and single dashes, like `apt-full-upgrade`",
                spec.id
            ),
        ));
    }

    if spec.programs.is_empty() {
        problems.push(Problem::new(
            "programs",
            None,
            "`programs` is empty: list the program names this rule applies to, or \"*\" for every program".into(),
        ));
    }
    for (i, program) in spec.programs.iter().enumerate() {
        if let Some(message) = program_problem(program) {
            problems.push(Problem::new("programs", Some(i), message));
        }
    }

    for (key, options) in spec.option_lists() {
        for (i, option) in options.iter().enumerate() {
            if !is_option(option) {
                problems.push(Problem::new(
                    key,
                    Some(i),
                    format!(
                        "`{option}` in `{key}` is not an option: options start with `-`, like `-f` or `--force`"
                    ),
                ));
            }
        }
    }

    if let Some(subcommands) = &spec.subcommand {
        for (i, sub) in subcommands.iter().enumerate() {
            if sub.split_whitespace().next().is_none() {
                problems.push(Problem::new(
                    "subcommand",
                    Some(i),
                    "a subcommand needs at least one word".into(),
                ));
            }
        }
    }

    // A present matcher must hold, so an empty list would make the rule dead.
    let lists = [
        ("subcommand", spec.subcommand.as_ref().map(Vec::len)),
        ("flags", spec.flags.as_ref().map(Vec::len)),
        ("stdin_from", spec.stdin_from.as_ref().map(Vec::len)),
        ("args", spec.args.as_ref().map(|p| p.0.len())),
        ("targets", spec.targets.as_ref().map(|p| p.0.len())),
        ("redirect", spec.redirect.as_ref().map(|p| p.0.len())),
        ("truncate", spec.truncate.as_ref().map(|p| p.0.len())),
        ("input", spec.input.as_ref().map(|p| p.0.len())),
    ];
    for (key, len) in lists {
        if len == Some(0) {
            problems.push(Problem::new(
                key,
                None,
                format!("`{key}` is empty, so this rule could never match: list at least one item or remove the key"),
            ));
        }
    }
    if let Some(sources) = &spec.unless_stdin {
        if sources.is_empty() {
            problems.push(Problem::new(
                "unless_stdin",
                None,
                "`unless_stdin` is empty, so it could never exempt anything: list `script`, `file` or both, or remove the key".into(),
            ));
        }
        for (i, source) in sources.iter().enumerate() {
            if !STDIN_SOURCES.contains(&source.as_str()) {
                problems.push(Problem::new(
                    "unless_stdin",
                    Some(i),
                    format!(
                        "`{source}` in `unless_stdin` is not a kind of stdin: use {}",
                        one_of(STDIN_SOURCES)
                    ),
                ));
            }
        }
    }
    if spec.no_targets == Some(true) && spec.targets.is_some() {
        problems.push(Problem::new(
            "no_targets",
            None,
            "`no_targets = true` and `targets` can never both hold: keep one of them".into(),
        ));
    }

    for (key, patterns) in spec.patterns() {
        for (i, pattern) in patterns.0.iter().enumerate() {
            if let Err(e) = regex::Regex::new(pattern) {
                problems.push(Problem::new(
                    key,
                    Some(i),
                    format!(
                        "`{pattern}` in `{key}` is not a valid regex: {}",
                        regex_reason(&e)
                    ),
                ));
            }
        }
    }

    for (key, text) in [("why", &spec.why), ("instead", &spec.instead)] {
        if text.trim().is_empty() {
            problems.push(Problem::new(
                key,
                None,
                format!("`{key}` is empty: say it in plain words for the person at the prompt"),
            ));
        }
    }

    if let Some(preview) = &spec.preview {
        if preview.is_empty() {
            problems.push(Problem::new(
                "preview",
                None,
                "`preview` is empty: give a dry-run command or remove the key".into(),
            ));
        }
        for (i, part) in preview.iter().enumerate() {
            for name in placeholders_in(part) {
                if !PLACEHOLDERS.contains(&name) {
                    problems.push(Problem::new(
                        "preview",
                        Some(i),
                        format!(
                            "unknown placeholder `{name}` in `preview` (expected {})",
                            one_of(PLACEHOLDERS)
                        ),
                    ));
                }
            }
        }
    }

    for (key, examples) in [
        ("match", &spec.match_examples),
        ("allow", &spec.allow_examples),
    ] {
        if examples.len() < MIN_EXAMPLES {
            problems.push(Problem::new(
                key,
                None,
                format!(
                    "`{key}` needs at least {MIN_EXAMPLES} example lines, found {}",
                    examples.len()
                ),
            ));
        }
    }

    problems
}

/// Checks what a well-typed `[[program]]` table means. Pure, like [`validate`].
pub fn validate_program(spec: &ProgramSpec) -> Vec<Problem> {
    let mut problems = Vec::new();

    if spec.programs.is_empty() {
        problems.push(Problem::new(
            "programs",
            None,
            "`programs` is empty: name the programs this table describes".into(),
        ));
    }
    for (i, program) in spec.programs.iter().enumerate() {
        let message = if program == ANY_PROGRAM || program.starts_with('<') {
            Some(format!(
                "a [[program]] table describes a program by its name, not `{program}`"
            ))
        } else {
            program_problem(program)
        };
        if let Some(message) = message {
            problems.push(Problem::new("programs", Some(i), message));
        }
    }

    if spec.subcommand_prefixes.is_none()
        && spec.commands.is_none()
        && spec.subcommands.is_none()
        && spec.long_options.is_none()
        && spec.value_flags.is_none()
    {
        problems.push(Problem::new(
            "programs",
            None,
            "this [[program]] table declares nothing: give `commands`, `long_options` or `value_flags`".into(),
        ));
    }
    for (key, present) in [
        ("subcommand_prefixes", spec.subcommand_prefixes.is_some()),
        ("subcommands", spec.subcommands.is_some()),
    ] {
        if present && spec.commands.is_none() {
            problems.push(Problem::new(
                key,
                None,
                format!("`{key}` needs `commands`: the program's first subcommand words"),
            ));
        }
    }

    if let Some(commands) = &spec.commands {
        check_words(&mut problems, "commands", None, commands);
    }
    for (path, words) in spec.subcommands.iter().flatten() {
        let steps: Vec<&str> = path.split_whitespace().collect();
        if steps.is_empty() {
            problems.push(Problem::in_entry(
                "subcommands",
                path,
                None,
                "a key of `subcommands` is the command path its words follow, like \"address\" or \"osd pool\"".into(),
            ));
        }
        for n in 0..steps.len() {
            let listed = spec.words_after(&steps[..n]);
            if listed.is_some_and(|l| l.iter().any(|w| w == steps[n])) {
                continue;
            }
            let parent = if n == 0 {
                "`commands`".to_string()
            } else {
                format!("subcommands.\"{}\"", steps[..n].join(" "))
            };
            problems.push(Problem::in_entry(
                "subcommands",
                path,
                None,
                format!(
                    "`{}` is not listed in {parent}: a path is made of words listed before it",
                    steps[n]
                ),
            ));
            break;
        }
        check_words(&mut problems, "subcommands", Some(path), words);
    }

    if let Some(options) = &spec.long_options {
        if options.is_empty() {
            problems.push(Problem::new(
                "long_options",
                None,
                "`long_options` is empty: list the program's long options or remove the key".into(),
            ));
        }
        for (i, option) in options.iter().enumerate() {
            let message = if !option.starts_with("--")
                || option.len() < 3
                || option.contains('=')
                || option.contains(char::is_whitespace)
            {
                Some(format!(
                    "`{option}` in `long_options` is not a long option: write its name, like `--force`, without a value"
                ))
            } else if options[..i].contains(option) {
                Some(format!("`{option}` is listed twice in `long_options`"))
            } else {
                None
            };
            if let Some(message) = message {
                problems.push(Problem::new("long_options", Some(i), message));
            }
        }
    }

    for (i, option) in spec.value_flags.iter().flatten().enumerate() {
        if !is_option(option) {
            problems.push(Problem::new(
                "value_flags",
                Some(i),
                format!(
                    "`{option}` in `value_flags` is not an option: options start with `-`, like `-f` or `--file`"
                ),
            ));
        }
    }

    problems
}

/// Checks a list of subcommand words: not empty, each a single word that
/// is not an option, each once.
fn check_words(
    problems: &mut Vec<Problem>,
    key: &'static str,
    entry: Option<&str>,
    words: &[String],
) {
    let problem = |item: Option<usize>, message: String| match entry {
        Some(entry) => Problem::in_entry(key, entry, item, message),
        None => Problem::new(key, item, message),
    };
    if words.is_empty() {
        problems.push(problem(
            None,
            format!("`{key}` has an empty list: list the words or remove it"),
        ));
    }
    for (i, word) in words.iter().enumerate() {
        let message =
            if word.is_empty() || word.contains(char::is_whitespace) || word.starts_with('-') {
                Some(format!(
                    "`{word}` is not a subcommand word: one word, not an option"
                ))
            } else if words[..i].contains(word) {
                Some(format!("`{word}` is listed twice"))
            } else {
                None
            };
        if let Some(message) = message {
            problems.push(problem(Some(i), message));
        }
    }
}

/// `apt-full-upgrade`: lower-case ASCII letters and digits in dash-separated groups.
pub fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// An option spec: `-f`, `-delete`, `--force`, `--dry-run=client`; not `-` or `--`.
pub fn is_option(spec: &str) -> bool {
    spec.len() >= 2 && spec.starts_with('-') && spec != "--"
}

fn program_problem(program: &str) -> Option<String> {
    if program.is_empty() {
        return Some("a program name cannot be empty".into());
    }
    if program.starts_with('<') {
        let known = [DYNAMIC_PROGRAM, RECURSIVE_FUNCTION, UNREADABLE_SCRIPT];
        return (!known.contains(&program)).then(|| {
            format!(
                "unknown special program `{program}` (expected `{DYNAMIC_PROGRAM}`, `{RECURSIVE_FUNCTION}` or `{UNREADABLE_SCRIPT}`)"
            )
        });
    }
    if program.contains('/') {
        let name = program
            .rsplit('/')
            .find(|p| !p.is_empty())
            .unwrap_or(program);
        return Some(format!(
            "`{program}` contains a `/`: programs are matched by name, so write `{name}`"
        ));
    }
    None
}

/// The `{name}` placeholders in a preview word. `{}` (as in `find -exec`) and
/// braces around anything that is not a name are literal text.
pub fn placeholders_in(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let open = rest.find('{')?;
            let after = &rest[open + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(after.len());
            if name_len > 0 && after[name_len..].starts_with('}') {
                let found = &rest[open..open + name_len + 2];
                rest = &after[name_len + 1..];
                return Some(found);
            }
            rest = after;
        }
    })
}

/// The last line of the regex crate's error ("error: unclosed group"),
/// which is the part that reads as a reason.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(&text);
    last.trim().trim_start_matches("error: ").to_string()
}

/// A position in a text: 1-based line and column (in characters), and the
/// text of that line without its line break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    pub line: usize,
    pub col: usize,
    pub line_text: &'a str,
}

/// Where byte `offset` of `text` is. An offset past the end or inside a
/// character is moved back to the nearest character boundary.
pub fn locate(text: &str, offset: usize) -> Location<'_> {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line_text = text[line_start..line_end].trim_end_matches('\r');
    Location {
        line: text[..line_start].matches('\n').count() + 1,
        col: text[line_start..offset].chars().count() + 1,
        line_text,
    }
}

/// The embedded rule library: an index that is cheap to decode, and each
/// rule's spec as its own postcard bytes, decoded only when needed.
/// Everything borrows from the embedded bytes: decoding the index
/// allocates two vectors and copies no text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob<'a> {
    /// Source file names, `rules/NAME.toml`.
    #[serde(borrow)]
    pub files: Vec<&'a str>,
    #[serde(borrow)]
    pub rules: Vec<BlobRule<'a>>,
    /// Sorted by name, each name once.
    #[serde(borrow)]
    pub programs: Vec<BlobProgram<'a>>,
    /// The `[[program]]` declarations, one per program name, sorted by name.
    #[serde(borrow)]
    pub declared: Vec<BlobDeclared<'a>>,
}

/// One program's `[[program]]` declaration, decoded the first time a
/// command of that program is matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobDeclared<'a> {
    pub name: &'a str,
    /// The postcard encoding of the [`ProgramSpec`].
    #[serde(serialize_with = "as_bytes")]
    pub spec: &'a [u8],
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRule<'a> {
    pub id: &'a str,
    /// Index into [`Blob::files`].
    pub file: usize,
    /// 1-based line of the rule's `[[rule]]` header.
    pub line: usize,
    /// The postcard encoding of the [`RuleSpec`].
    #[serde(serialize_with = "as_bytes")]
    pub spec: &'a [u8],
}

/// The rules listed for one program name (or `*`, `<dynamic>`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobProgram<'a> {
    pub name: &'a str,
    /// Indices into [`Blob::rules`], ascending, as little-endian `u32`s:
    /// read in place for the few programs a line names, never decoded
    /// into vectors at start-up.
    #[serde(serialize_with = "as_bytes")]
    pub rules: &'a [u8],
}

impl BlobProgram<'_> {
    /// Encodes rule indices for [`BlobProgram::rules`].
    pub fn encode(indices: &[u32]) -> Vec<u8> {
        indices.iter().flat_map(|i| i.to_le_bytes()).collect()
    }

    /// The rule indices, ascending. Trailing bytes that do not make a whole
    /// index are ignored.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.rules
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
    }
}

fn as_bytes<S: Serializer>(bytes: &&[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[rule]]
id = "apt-full-upgrade"
risk = "high"
programs = ["apt-get", "apt"]
value_flags = ["-o", "-c"]
subcommand = ["upgrade", "dist-upgrade"]
unless_flags = ["-s", "--simulate"]
args = "^x$"
why = "Upgrades everything."
instead = "apt-get install --only-upgrade PKG"
preview = ["apt-get", "-s", "{subcommand}"]
match = ["apt-get upgrade", "apt dist-upgrade"]
allow = ["apt-get update", "apt-get -s upgrade"]
"#;

    fn messages(text: &str) -> Vec<String> {
        parse_file(text).1.into_iter().map(|e| e.message).collect()
    }

    fn good_spec() -> RuleSpec {
        let (mut rules, errors) = parse_file(GOOD);
        assert_eq!(errors, vec![]);
        rules.remove(0).spec
    }

    #[test]
    fn a_valid_rule_is_read_with_its_header_line() {
        let (rules, errors) = parse_file(GOOD);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].line, 2);
        let spec = &rules[0].spec;
        assert_eq!(spec.id, "apt-full-upgrade");
        assert_eq!(spec.risk, Level::High);
        assert_eq!(spec.action, None);
        assert_eq!(spec.args, Some(Patterns(vec!["^x$".into()])));
        assert_eq!(spec.flags, None);
        assert_eq!(spec.match_examples.len(), 2);
    }

    #[test]
    fn a_regex_key_takes_a_string_or_a_list() {
        let text = GOOD.replace(r#"args = "^x$""#, r#"args = ["^a", "b$"]"#);
        let (rules, errors) = parse_file(&text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            rules[0].spec.args,
            Some(Patterns(vec!["^a".into(), "b$".into()]))
        );
    }

    #[test]
    fn keys_lists_every_field_of_the_spec() {
        let spec = good_spec();
        let value = toml::Value::try_from(&spec).expect("serialises");
        let table = value.as_table().expect("a table");
        for key in table.keys() {
            assert!(KEYS.contains(&key.as_str()), "{key} is missing from KEYS");
        }
        for key in REQUIRED_KEYS {
            assert!(table.contains_key(*key));
        }
    }

    #[test]
    fn postcard_round_trips_a_spec_with_single_and_listed_patterns() {
        let mut spec = good_spec();
        spec.targets = Some(Patterns(vec!["a".into(), "b".into()]));
        spec.no_targets = Some(false);
        let bytes = postcard::to_allocvec(&spec).expect("encodes");
        let back: RuleSpec = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, spec);
    }

    #[test]
    fn match_spec_decodes_from_the_front_of_a_full_spec() {
        let mut spec = good_spec();
        spec.targets = Some(Patterns(vec!["a".into(), "b".into()]));
        spec.no_targets = Some(true);
        spec.stdin_from = Some(vec!["curl".into()]);
        spec.action = Some(RuleAction::Deny);
        let bytes = postcard::to_allocvec(&spec).expect("encodes");
        let front: MatchSpec = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(front, MatchSpec::from(&spec));
    }

    #[test]
    fn toml_output_reads_back_as_the_same_rule() {
        let spec = good_spec();
        #[derive(Serialize)]
        struct File<'a> {
            rule: [&'a RuleSpec; 1],
        }
        let text = toml::to_string(&File { rule: [&spec] }).expect("serialises");
        assert!(text.contains("args = \"^x$\""), "{text}");
        let (rules, errors) = parse_file(&text);
        assert!(errors.is_empty(), "{errors:?}\n{text}");
        assert_eq!(rules[0].spec, spec);
    }

    #[test]
    fn blob_round_trips_through_postcard_borrowing_its_strings() {
        let indices = BlobProgram::encode(&[0, 70_000]);
        let blob = Blob {
            files: vec!["rules/a.toml"],
            rules: vec![BlobRule {
                id: "x",
                file: 0,
                line: 3,
                spec: &[1, 2, 3],
            }],
            programs: vec![BlobProgram {
                name: "rm",
                rules: &indices,
            }],
            declared: vec![BlobDeclared {
                name: "rm",
                spec: &[4, 5],
            }],
        };
        let bytes = postcard::to_allocvec(&blob).expect("encodes");
        let back: Blob<'_> = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, blob);
        let read: Vec<usize> = back.programs[0].indices().collect();
        assert_eq!(read, vec![0, 70_000]);
    }

    #[test]
    fn unknown_key_is_reported_at_the_key_with_a_suggestion() {
        let text = GOOD.replace("programs =", "progams =");
        let (rules, errors) = parse_file(&text);
        assert!(rules.is_empty());
        let unknown = errors
            .iter()
            .find(|e| e.message.starts_with("unknown key `progams`"))
            .expect("reported");
        assert_eq!(&text[unknown.span.clone()], "progams");
        assert!(unknown.message.contains("did you mean `programs`?"));
        assert!(unknown.message.contains("expected one of `id`, `risk`"));
        // The typo is not reported a second time as a missing key.
        assert_eq!(errors.len(), 1, "{errors:?}");
        let text = GOOD.replace("programs =", "targets_for =");
        let messages = messages(&text);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].starts_with("this rule has no `programs`"));
    }

    #[test]
    fn wrong_types_are_reported_per_value_and_per_list_item() {
        let text = GOOD
            .replace(r#"risk = "high""#, r#"risk = "hihg""#)
            .replace(
                r#"programs = ["apt-get", "apt"]"#,
                r#"programs = ["apt-get", 3]"#,
            )
            .replace(r#"args = "^x$""#, "args = 5");
        let errors = parse_file(&text).1;
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (&text[e.span.clone()], e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "\"hihg\"",
                    "`risk` must be one of `low`, `medium`, `high` or `critical`, not `hihg`"
                ),
                ("3", "item 2 of `programs` must be a string, not an integer"),
                (
                    "5",
                    "`args` must be a regex string or a list of them, not an integer"
                ),
            ]
        );
    }

    #[test]
    fn action_accepts_only_deny() {
        let text = GOOD.replace("risk = \"high\"", "risk = \"high\"\naction = \"confirm\"");
        assert_eq!(
            messages(&text),
            vec!["`action` must be `deny`, not `confirm`"]
        );
        let text = GOOD.replace("risk = \"high\"", "risk = \"high\"\naction = \"deny\"");
        let (rules, errors) = parse_file(&text);
        assert!(errors.is_empty());
        assert_eq!(rules[0].spec.action, Some(RuleAction::Deny));
    }

    #[test]
    fn meaning_errors_point_at_the_offending_item() {
        let text = GOOD
            .replace("\"apt-full-upgrade\"", "\"Apt_Upgrade\"")
            .replace(r#"args = "^x$""#, r#"args = ["ok", "(unclosed"]"#)
            .replace("\"{subcommand}\"", "\"{target}\"")
            .replace(r#""-o", "-c""#, r#""-o", "c""#)
            .replace(r#", "apt dist-upgrade"]"#, "]");
        let errors = parse_file(&text).1;
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (&text[e.span.clone()], e.message.as_str()))
            .collect();
        assert_eq!(got.len(), 5, "{got:#?}");
        assert_eq!(got[0].0, "\"Apt_Upgrade\"");
        assert!(got[0].1.contains("not kebab-case"));
        assert_eq!(got[1].0, "\"c\"");
        assert!(got[1].1.contains("is not an option"));
        assert_eq!(got[2].0, "\"(unclosed\"");
        assert_eq!(
            got[2].1,
            "`(unclosed` in `args` is not a valid regex: unclosed group"
        );
        assert_eq!(got[3].0, "\"{target}\"");
        assert!(got[3].1.starts_with("unknown placeholder `{target}`"));
        assert_eq!(got[4].0, "[\"apt-get upgrade\"]");
        assert_eq!(got[4].1, "`match` needs at least 2 example lines, found 1");
    }

    #[test]
    fn every_bad_rule_in_a_file_is_reported_and_good_ones_are_kept() {
        let text = format!(
            "{GOOD}\n{}\n{}",
            GOOD.replace("apt-full-upgrade", "second")
                .replace("why =", "wyh ="),
            GOOD.replace("apt-full-upgrade", "third")
        );
        let (rules, errors) = parse_file(&text);
        let ids: Vec<&str> = rules.iter().map(|r| r.spec.id.as_str()).collect();
        assert_eq!(ids, vec!["apt-full-upgrade", "third"]);
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].starts_with("unknown key `wyh`, did you mean `why`?"));
    }

    #[test]
    fn a_duplicate_id_in_one_file_is_an_error_at_the_second_id() {
        let text = format!("{GOOD}\n{GOOD}");
        let (rules, errors) = parse_file(&text);
        assert_eq!(rules.len(), 1);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].span.start > GOOD.len());
        assert_eq!(
            errors[0].message,
            "duplicate id `apt-full-upgrade`: the rule at line 2 already uses it"
        );
    }

    #[test]
    fn syntax_errors_stop_before_the_rules_are_read() {
        let (rules, errors) = parse_file("[[rule]]\nid = \"a\nrisk = 3\n");
        assert!(rules.is_empty());
        assert!(!errors.is_empty());
        assert!(errors[0].message.starts_with("this is not valid TOML"));
    }

    #[test]
    fn top_level_must_be_rule_tables() {
        assert_eq!(
            messages("title = \"x\"\n"),
            vec![
                "unknown top-level key `title`: a rule file holds only [[rule]] and [[program]] tables"
            ]
        );
        assert_eq!(
            messages("[rule]\nid = \"x\"\n"),
            vec!["`rule` must be a list of tables: start each one with [[rule]]"]
        );
        assert_eq!(parse_file(""), (vec![], vec![]));
    }

    #[test]
    fn programs_are_names_or_known_special_names() {
        assert_eq!(program_problem("reboot"), None);
        assert_eq!(program_problem("*"), None);
        assert_eq!(program_problem("<dynamic>"), None);
        assert_eq!(program_problem("<recursive-function>"), None);
        assert!(program_problem("<other>").is_some());
        assert_eq!(
            program_problem("/sbin/reboot").as_deref(),
            Some("`/sbin/reboot` contains a `/`: programs are matched by name, so write `reboot`")
        );
        let mut spec = good_spec();
        spec.programs.clear();
        assert_eq!(validate(&spec)[0].key, "programs");
    }

    #[test]
    fn empty_matcher_lists_and_contradictions_are_errors() {
        let mut spec = good_spec();
        spec.flags = Some(vec![]);
        spec.no_targets = Some(true);
        spec.targets = Some(Patterns(vec!["x".into()]));
        let keys: Vec<&str> = validate(&spec).iter().map(|p| p.key).collect();
        assert_eq!(keys, vec!["flags", "no_targets"]);
    }

    #[test]
    fn kebab_case_ids() {
        for ok in ["a", "apt-full-upgrade", "x2-y"] {
            assert!(is_kebab_case(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a b", "é"] {
            assert!(!is_kebab_case(bad), "{bad}");
        }
    }

    #[test]
    fn placeholders_are_braced_names_only() {
        let found: Vec<&str> = placeholders_in("{args}x{}{ y }{targets}{").collect();
        assert_eq!(found, vec!["{args}", "{targets}"]);
    }

    #[test]
    fn locate_counts_lines_and_characters_from_one() {
        let text = "ab\nçd = 1\r\nlast";
        assert_eq!(
            locate(text, 0),
            Location {
                line: 1,
                col: 1,
                line_text: "ab"
            }
        );
        let d = text.find('d').expect("present");
        assert_eq!(
            locate(text, d),
            Location {
                line: 2,
                col: 2,
                line_text: "çd = 1"
            }
        );
        assert_eq!(locate(text, d - 1).col, 1, "inside `ç` moves back");
        assert_eq!(locate(text, 999).line, 3);
        assert_eq!(
            locate("", 5),
            Location {
                line: 1,
                col: 1,
                line_text: ""
            }
        );
    }

    const IP: &str = r#"
[[program]]
programs = ["ip"]
subcommand_prefixes = "first"
value_flags = ["-n"]
commands = ["address", "addrlabel", "route", "rule", "link"]

[program.subcommands]
address = ["add", "delete", "list", "show", "flush"]
route = ["add", "delete", "list", "show", "flush"]
"#;

    fn ip_spec() -> ProgramSpec {
        let parsed = parse_document(IP, &[]);
        assert_eq!(parsed.errors, vec![]);
        parsed.programs[0].spec.clone()
    }

    #[test]
    fn a_program_table_is_read_with_its_header_line() {
        let parsed = parse_document(IP, &[]);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.programs.len(), 1);
        assert_eq!(parsed.programs[0].line, 2);
        let spec = &parsed.programs[0].spec;
        assert_eq!(spec.subcommand_prefixes, Some(PrefixMode::First));
        assert_eq!(spec.words_after(&[]).map(<[String]>::len), Some(5));
        assert_eq!(
            spec.words_after(&["route"])
                .and_then(|w| w.first())
                .map(String::as_str),
            Some("add")
        );
        assert_eq!(spec.words_after(&["link"]), None);
    }

    #[test]
    fn first_and_unique_prefixes_read_words_as_ip_and_btrfs_do() {
        let ip = ["address", "addrlabel", "route", "rule", "link"];
        let first = |w| resolve_word(&ip, w, Some(PrefixMode::First)).map(|i| ip[i]);
        assert_eq!(first("a"), Some("address"), "the first listed wins");
        assert_eq!(first("addrl"), Some("addrlabel"));
        assert_eq!(first("r"), Some("route"));
        assert_eq!(first("ru"), Some("rule"));
        assert_eq!(first("x"), None);
        assert_eq!(first(""), None);
        let btrfs = ["scrub", "send", "subvolume", "su"];
        let unique = |w| resolve_word(&btrfs, w, Some(PrefixMode::Unique)).map(|i| btrfs[i]);
        assert_eq!(unique("sub"), Some("subvolume"));
        assert_eq!(unique("s"), None, "ambiguous: the program refuses it");
        assert_eq!(unique("su"), Some("su"), "an exact word always wins");
        assert_eq!(
            resolve_word(&btrfs, "sub", None),
            None,
            "no prefixes: exact only"
        );
        assert_eq!(resolve_word(&btrfs, "send", None), Some(1));
    }

    #[test]
    fn long_options_are_read_as_getopt_long_reads_them() {
        let rm = [
            "--force",
            "--recursive",
            "--no-preserve-root",
            "--preserve-root",
        ];
        let read = |w| resolve_long_option(&rm, w);
        assert_eq!(read("--recur").as_deref(), Some("--recursive"));
        assert_eq!(read("--f=yes").as_deref(), Some("--force=yes"));
        assert_eq!(read("--no-p").as_deref(), Some("--no-preserve-root"));
        assert_eq!(read("--force"), None, "already in full");
        assert_eq!(read("--x"), None);
        assert_eq!(read("--"), None);
        assert_eq!(read("-r"), None);
        let ambiguous = ["--format", "--force"];
        assert_eq!(resolve_long_option(&ambiguous, "--fo"), None);
        assert_eq!(
            resolve_long_option(&ambiguous, "--for").as_deref(),
            None,
            "still two"
        );
        assert_eq!(
            resolve_long_option(&ambiguous, "--forc").as_deref(),
            Some("--force")
        );
    }

    #[test]
    fn program_tables_are_checked_key_by_key_at_their_place() {
        let text = IP
            .replace(
                "subcommand_prefixes = \"first\"",
                "subcommand_prefixes = \"shortest\"",
            )
            .replace(
                "value_flags = [\"-n\"]",
                "value_flags = [\"-n\"]\nlong_opts = [\"--x\"]",
            );
        let errors = parse_document(&text, &[]).errors;
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (&text[e.span.clone()], e.message.as_str()))
            .collect();
        assert_eq!(got.len(), 2, "{got:#?}");
        assert_eq!(got[0].0, "\"shortest\"");
        assert_eq!(
            got[0].1,
            "`subcommand_prefixes` must be one of `unique` or `first`, not `shortest`"
        );
        assert_eq!(got[1].0, "long_opts");
        assert!(
            got[1]
                .1
                .starts_with("unknown key `long_opts`, did you mean `long_options`?"),
            "{}",
            got[1].1
        );
    }

    #[test]
    fn program_meaning_errors_point_at_the_entry_or_item() {
        let text = IP
            .replace("\"link\"]", "\"link\", \"route\"]")
            .replace("route = [", "rout = [")
            .replace("\"show\", \"flush\"]\nrout", "\"show\", \"-f\"]\nrout")
            .replace(
                "value_flags = [\"-n\"]",
                "value_flags = [\"n\"]\nlong_options = [\"--force=yes\"]",
            );
        let errors = parse_document(&text, &[]).errors;
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (&text[e.span.clone()], e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "\"n\"",
                    "`n` in `value_flags` is not an option: options start with `-`, like `-f` or `--file`"
                ),
                (
                    "\"--force=yes\"",
                    "`--force=yes` in `long_options` is not a long option: write its name, like `--force`, without a value"
                ),
                ("\"route\"", "`route` is listed twice"),
                (
                    "\"-f\"",
                    "`-f` is not a subcommand word: one word, not an option"
                ),
                (
                    "rout",
                    "`rout` is not listed in `commands`: a path is made of words listed before it"
                ),
            ]
        );
    }

    #[test]
    fn a_program_table_must_declare_something_real() {
        let errors = |text: &str| -> Vec<String> {
            parse_document(text, &[])
                .errors
                .into_iter()
                .map(|e| e.message)
                .collect()
        };
        assert_eq!(
            errors("[[program]]\nprograms = [\"ip\"]\n"),
            vec![
                "this [[program]] table declares nothing: give `commands`, `long_options` or `value_flags`"
            ]
        );
        assert_eq!(
            errors("[[program]]\nprograms = [\"*\"]\nvalue_flags = [\"-x\"]\n"),
            vec!["a [[program]] table describes a program by its name, not `*`"]
        );
        assert_eq!(
            errors("[[program]]\nprograms = [\"ip\"]\nsubcommand_prefixes = \"first\"\n"),
            vec!["`subcommand_prefixes` needs `commands`: the program's first subcommand words"]
        );
        assert_eq!(
            errors("[[program]]\nvalue_flags = [\"-x\"]\n"),
            vec![
                "this [[program]] table has no `programs`: name the programs it describes, like programs = [\"ip\"]"
            ]
        );
        assert_eq!(
            errors(&format!("{IP}{IP}")),
            vec![
                "`ip` is already declared by the [[program]] table at line 2: one table per program"
            ]
        );
    }

    #[test]
    fn rules_must_name_full_listed_words_of_a_declared_program() {
        let rule = GOOD
            .replace("programs = [\"apt-get\", \"apt\"]", "programs = [\"ip\"]")
            .replace(
                "subcommand = [\"upgrade\", \"dist-upgrade\"]",
                "subcommand = [\"address delete\", \"a flush\", \"route del default\", \"neigh flush\"]",
            );
        let text = format!("{IP}\n{rule}");
        let parsed = parse_document(&text, &[]);
        assert!(parsed.rules.is_empty(), "a rule with an error is left out");
        let got: Vec<(&str, &str)> = parsed
            .errors
            .iter()
            .map(|e| (&text[e.span.clone()], e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "\"a flush\"",
                    "`a` is read as `address` by `ip`, and a command's words are written out in full before rules see them: write `address`"
                ),
                (
                    "\"route del default\"",
                    "`del` is read as `delete` by `ip route`, and a command's words are written out in full before rules see them: write `delete`"
                ),
                (
                    "\"neigh flush\"",
                    "`neigh` is not one of the commands of `ip` in its [[program]] table (`address`, `addrlabel`, `route`, `rule`, `link`)"
                ),
            ]
        );
        // A declaration from another file counts as well; one of the
        // rule's programs without a declaration accepts anything.
        let rule_only = parse_document(&rule, &[ip_spec()]);
        assert_eq!(rule_only.errors.len(), 3);
        let with_other = rule.replace("programs = [\"ip\"]", "programs = [\"ip\", \"ip-wrapper\"]");
        let parsed = parse_document(&with_other, &[ip_spec()]);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.rules.len(), 1);
    }

    #[test]
    fn postcard_round_trips_a_program_spec() {
        let spec = ip_spec();
        let bytes = postcard::to_allocvec(&spec).expect("encodes");
        let back: ProgramSpec = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, spec);
    }

    #[test]
    fn close_misspellings_get_a_suggestion_and_others_do_not() {
        assert_eq!(closest_key("progams"), Some("programs"));
        assert_eq!(closest_key("unless_flag"), Some("unless_flags"));
        assert_eq!(closest_key("matches"), Some("match"));
        assert_eq!(closest_key("colour"), None);
    }
}
