//! The rule set that judges commands: the built-in library plus extra rule
//! files, indexed by program name, and the matching semantics of
//! docs/RULES.md.
//!
//! Pure: no file system, environment or clock (reading directories is
//! `rules_dir`'s job). Shaped by start-up cost, because every
//! `safe-run check LINE` is a fresh process with a budget well under a
//! millisecond:
//!
//! - [`RuleSet::builtin`] decodes only the index of the postcard blob that
//!   `build.rs` embeds (borrowing its strings). A rule is decoded the first
//!   time a command of one of its programs is seen, and then only the part
//!   matching needs ([`MatchSpec`]); its text (why, instead, examples) is
//!   decoded when it is shown.
//! - A rule's regexes are compiled the first time they are needed
//!   (`OnceLock` per pattern), only after the cheap structural checks
//!   (program, subcommand, flags) have passed, and only when there is text
//!   to match. ASCII text is matched with `regex-lite`, which compiles in
//!   microseconds where `regex` takes a tenth of a millisecond or more; see
//!   `LazyRegex` for why the results are the same.
//! - A pattern that does not compile (only possible for a rule built
//!   without [`RuleSet::parse_file`]'s validation) makes the rule match
//!   rather than be skipped: fail closed, never panic.
//! - A `[[program]]` declaration ([`Program`]: abbreviated subcommand
//!   words and long options, value flags) is decoded the first time a
//!   command of that program is matched, and applied while a rule sorts the
//!   command's words ([`RuleSet::rules_for_command`] binds it to each rule):
//!   `ip a d` reaches the rules as `ip address delete`. A program without
//!   one costs a binary search over a dozen names.

pub(crate) mod dir;
pub mod spec;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use regex::Regex;
use serde::Deserialize;

use crate::command::{RedirectKind, SimpleCommand, Word, program_name};
use crate::rules::spec::{
    ANY_PROGRAM, Blob, BlobProgram, DYNAMIC_PROGRAM, Level, MatchSpec, PLACEHOLDERS, Patterns,
    PrefixMode, ProgramSpec, RECURSIVE_FUNCTION, RuleAction, RuleSpec, resolve_long_option,
    resolve_word,
};
use crate::term::diag::Diagnostic;
use crate::verdict::{Action, Risk};

/// The shipped rules, validated and encoded by `build.rs`.
static BUILTIN_BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/rules.bin"));

/// The marker the parser puts in `Context::via` for a command that is a call
/// of a function defined in the line that calls itself.
const RECURSIVE_VIA: &str = "recursive-function";

/// What a rule saw in the command it hit: the subcommand words that matched
/// and the targets after them. Used to fill the preview.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleMatch {
    pub subcommand: Vec<String>,
    pub targets: Vec<String>,
}

/// A `[[program]]` declaration (docs/RULES.md), ready to read commands
/// with: the subcommand words as a tree, how abbreviations of them are
/// read, the long options an unambiguous prefix stands for, and value
/// flags for every rule of the program. A built-in one borrows its words
/// from the embedded bytes.
#[derive(Clone, Debug, Default)]
pub struct Program {
    prefixes: Option<PrefixMode>,
    commands: Option<CommandTree>,
    long_options: Vec<Text>,
    value_flags: Vec<Text>,
}

/// A word of a declaration: borrowed from the embedded rules, or owned
/// when read from a file.
type Text = Cow<'static, str>;

/// A [`ProgramSpec`] decoded in place from the embedded bytes: the same
/// fields in the same order (postcard writes a `String` and a `&str`
/// alike), borrowing every word rather than copying it.
#[derive(Deserialize)]
struct EmbeddedProgram<'a> {
    #[serde(borrow)]
    _programs: Vec<&'a str>,
    subcommand_prefixes: Option<PrefixMode>,
    #[serde(borrow)]
    commands: Option<Vec<&'a str>>,
    #[serde(borrow)]
    subcommands: Option<BTreeMap<&'a str, Vec<&'a str>>>,
    #[serde(borrow)]
    long_options: Option<Vec<&'a str>>,
    #[serde(borrow)]
    value_flags: Option<Vec<&'a str>>,
}

/// The words a program accepts at one place in its subcommand path, and
/// for each the words that may follow it (when the table lists them).
#[derive(Clone, Debug, Default)]
struct CommandTree {
    words: Vec<Text>,
    next: Vec<Option<CommandTree>>,
}

impl CommandTree {
    fn new(words: Vec<Text>) -> CommandTree {
        let next = words.iter().map(|_| None).collect();
        CommandTree { words, next }
    }

    /// Hangs `words` under `path`. A path through words that are not
    /// listed is ignored (the validation of the table reports it).
    fn insert(&mut self, path: &[&str], words: Vec<Text>) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let Some(i) = self.words.iter().position(|w| w == first) else {
            return;
        };
        match (rest.is_empty(), &mut self.next[i]) {
            (true, slot) => *slot = Some(CommandTree::new(words)),
            (false, Some(next)) => next.insert(rest, words),
            (false, None) => {}
        }
    }
}

impl Program {
    /// A declaration read from a file.
    pub fn new(spec: ProgramSpec) -> Program {
        let owned = |words: Vec<String>| words.into_iter().map(Cow::Owned).collect::<Vec<Text>>();
        Program::build(
            spec.subcommand_prefixes,
            spec.commands.map(owned),
            spec.subcommands
                .into_iter()
                .flatten()
                .map(|(path, words)| (path, owned(words))),
            spec.long_options.map(owned),
            spec.value_flags.map(owned),
        )
    }

    /// A built-in declaration, decoded in place from the embedded bytes.
    fn embedded(bytes: &'static [u8]) -> Option<Program> {
        let spec = postcard::from_bytes::<EmbeddedProgram<'static>>(bytes).ok()?;
        let borrowed =
            |words: Vec<&'static str>| words.into_iter().map(Cow::Borrowed).collect::<Vec<Text>>();
        Some(Program::build(
            spec.subcommand_prefixes,
            spec.commands.map(borrowed),
            spec.subcommands
                .into_iter()
                .flatten()
                .map(|(path, words)| (path, borrowed(words))),
            spec.long_options.map(borrowed),
            spec.value_flags.map(borrowed),
        ))
    }

    fn build<P: AsRef<str>>(
        prefixes: Option<PrefixMode>,
        commands: Option<Vec<Text>>,
        subcommands: impl Iterator<Item = (P, Vec<Text>)>,
        long_options: Option<Vec<Text>>,
        value_flags: Option<Vec<Text>>,
    ) -> Program {
        let mut commands = commands.map(CommandTree::new);
        if let Some(top) = &mut commands {
            // Sorted keys: a path comes before the longer paths through it.
            for (path, words) in subcommands {
                top.insert(&path.as_ref().split_whitespace().collect::<Vec<_>>(), words);
            }
        }
        Program {
            prefixes,
            commands,
            long_options: long_options.unwrap_or_default(),
            value_flags: value_flags.unwrap_or_default(),
        }
    }

    /// Writes the leading subcommand words of `positionals` out in full, as
    /// the program reads them (`a d` → `address delete`), as far as the
    /// table lists words and each word stands for one of them.
    fn read_subcommands<'a>(&'a self, positionals: &mut [&'a str]) {
        let mut level = self.commands.as_ref();
        for word in positionals.iter_mut() {
            let Some(current) = level else { break };
            let Some(i) = resolve_word(&current.words, word, self.prefixes) else {
                break;
            };
            *word = &current.words[i];
            level = current.next[i].as_ref();
        }
    }

    /// The long option an option word stands for (`--recur` →
    /// `--recursive`, `--forc=yes` → `--force=yes`), or the word itself.
    fn long_option<'w>(&self, word: &'w str) -> Cow<'w, str> {
        if self.long_options.is_empty() {
            return Cow::Borrowed(word);
        }
        resolve_long_option(&self.long_options, word).map_or(Cow::Borrowed(word), Cow::Owned)
    }
}

/// The declarations of one rule file, by program name: they apply to that
/// file's rules (the built-in ones apply to every rule).
type Declarations = Vec<(String, Program)>;

/// One rule, ready to match: what matching needs, the full spec as written
/// (decoded only when its text is wanted), where it came from, and its
/// matchers (regexes compiled on first use).
#[derive(Clone, Debug)]
pub struct Rule {
    matcher: MatchSpec,
    spec: OnceLock<RuleSpec>,
    /// The embedded postcard bytes the full spec is decoded from.
    raw: Option<&'static [u8]>,
    /// The `[[program]]` tables of the file the rule was read from, if it
    /// had any; they come before the rule set's.
    local: Option<Arc<Declarations>>,
    /// File name and 1-based line of the rule's `[[rule]]` header.
    pub source: (String, usize),
    /// Each `subcommand` alternative split into words.
    subcommands: Vec<Vec<String>>,
    args: Option<Regexes>,
    targets: Option<Regexes>,
    redirect: Option<Regexes>,
    truncate: Option<Regexes>,
    input: Option<Regexes>,
    unless_args: Option<Regexes>,
    unless_targets: Option<Regexes>,
}

impl Rule {
    /// Builds a rule from a spec without validating it; use
    /// [`RuleSet::parse_file`] for rules from files. A pattern that does
    /// not compile makes the rule match conservatively.
    pub fn new(spec: RuleSpec, file: impl Into<String>, line: usize) -> Rule {
        Rule::build(
            MatchSpec::from(&spec),
            OnceLock::from(spec),
            None,
            (file.into(), line),
        )
    }

    /// A built-in rule from its postcard bytes: only the part matching
    /// needs is decoded now.
    fn embedded(bytes: &'static [u8], file: &str, line: usize) -> Option<Rule> {
        let matcher = postcard::from_bytes::<MatchSpec>(bytes).ok()?;
        Some(Rule::build(
            matcher,
            OnceLock::new(),
            Some(bytes),
            (file.to_string(), line),
        ))
    }

    fn build(
        matcher: MatchSpec,
        spec: OnceLock<RuleSpec>,
        raw: Option<&'static [u8]>,
        source: (String, usize),
    ) -> Rule {
        let regexes = |p: &Option<Patterns>| p.as_ref().map(Regexes::new);
        Rule {
            subcommands: matcher
                .subcommand
                .iter()
                .flatten()
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .collect(),
            args: regexes(&matcher.args),
            targets: regexes(&matcher.targets),
            redirect: regexes(&matcher.redirect),
            truncate: regexes(&matcher.truncate),
            input: regexes(&matcher.input),
            unless_args: regexes(&matcher.unless_args),
            unless_targets: regexes(&matcher.unless_targets),
            matcher,
            spec,
            raw,
            local: None,
            source,
        }
    }

    /// The declaration of the command's program in the rule's own file.
    fn local_program(&self, cmd: &SimpleCommand) -> Option<&Program> {
        let local = self.local.as_ref()?;
        let name = cmd.program()?;
        local.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// The rule as written. For a built-in rule this decodes its text the
    /// first time it is asked for.
    pub fn spec(&self) -> &RuleSpec {
        self.spec.get_or_init(|| {
            self.raw
                .and_then(|bytes| postcard::from_bytes::<RuleSpec>(bytes).ok())
                .unwrap_or_else(|| unreadable_spec(&self.matcher.id))
        })
    }

    /// The program names the rule applies to.
    pub fn programs(&self) -> &[String] {
        &self.matcher.programs
    }

    pub fn id(&self) -> &str {
        &self.matcher.id
    }

    pub fn why(&self) -> &str {
        &self.spec().why
    }

    pub fn instead(&self) -> &str {
        &self.spec().instead
    }

    /// How the command disrupts this node, if the rule says it does
    /// (`disruptive`): the fleet takes a slot before it runs.
    pub fn disruption(&self) -> Option<spec::Disruption> {
        self.spec().disruptive
    }

    /// Does the rule refuse the command whatever the answer (`action = "deny"`)?
    pub fn denies(&self) -> bool {
        self.matcher.action == Some(RuleAction::Deny)
    }

    pub fn file(&self) -> &str {
        &self.source.0
    }

    /// The rule's domain: the name of the file it comes from without its
    /// directory and `.toml` (`rules/cloud.toml` → `cloud`).
    pub fn domain(&self) -> &str {
        let file = self.file();
        let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
        name.strip_suffix(".toml")
            .filter(|stem| !stem.is_empty())
            .unwrap_or(name)
    }

    pub fn line(&self) -> usize {
        self.source.1
    }

    pub fn risk(&self) -> Risk {
        match self.matcher.risk {
            Level::Low => Risk::Low,
            Level::Medium => Risk::Medium,
            Level::High => Risk::High,
            Level::Critical => Risk::Critical,
        }
    }

    /// `deny` when the rule says so; otherwise what the risk asks for.
    pub fn action(&self) -> Action {
        if self.denies() {
            Action::Deny
        } else {
            Action::for_risk(self.risk())
        }
    }

    /// Does the rule apply to this command's program? `*` applies to every
    /// command, `<dynamic>` to one whose program is only known at run time,
    /// `<recursive-function>` to a call of a self-calling function.
    pub fn applies_to(&self, cmd: &SimpleCommand) -> bool {
        let program = cmd.program();
        // `program()` is `None` exactly when argv[0] is only known at run time.
        let dynamic = program.is_none();
        self.matcher.programs.iter().any(|p| match p.as_str() {
            ANY_PROGRAM => true,
            DYNAMIC_PROGRAM => dynamic,
            RECURSIVE_FUNCTION => is_recursive_call(cmd),
            name => program == Some(name),
        })
    }

    /// Judges one command against this rule alone (docs/RULES.md), with
    /// the `[[program]]` tables of the rule's own file but none of a rule
    /// set's: [`RuleSet::rules_for_command`] yields rules bound to those.
    pub fn matches(&self, cmd: &SimpleCommand) -> Option<RuleMatch> {
        self.matches_with(cmd, self.local_program(cmd))
    }

    /// Judges one command against this rule, reading its words as
    /// `program` declares (abbreviations written out, its value flags
    /// added to the rule's): every matcher present must hold, and no
    /// `unless_*` may. Structural checks run first; regexes are compiled
    /// only when they are reached.
    fn matches_with(&self, cmd: &SimpleCommand, program: Option<&Program>) -> Option<RuleMatch> {
        if !self.applies_to(cmd) {
            return None;
        }
        let spec = &self.matcher;
        let args = cmd.args();
        let value_flags = ValueFlags {
            rule: spec.value_flags.as_deref().unwrap_or(&[]),
            program: program.map_or(&[], |p| &p.value_flags),
        };
        let words = Words::split(args, value_flags, spec.max_options, program);

        let sub_len = if spec.subcommand.is_some() {
            self.subcommand_len(&words.positionals)?
        } else {
            0
        };
        let targets = &words.positionals[sub_len..];

        if spec
            .no_targets
            .is_some_and(|none| targets.is_empty() != none)
        {
            return None;
        }
        if let Some(flags) = &spec.flags
            && !flags.iter().any(|f| words.has_flag(f, value_flags))
        {
            return None;
        }
        if let Some(flags) = &spec.all_flags
            && !flags.iter().all(|f| words.has_flag(f, value_flags))
        {
            return None;
        }
        if let Some(sources) = &spec.stdin_from {
            let from = cmd.context.stdin_from.as_deref().map(program_name)?;
            if !sources.iter().any(|s| s == from) {
                return None;
            }
        }
        if let Some(flags) = &spec.unless_flags
            && flags.iter().any(|f| words.has_flag(f, value_flags))
        {
            return None;
        }
        if let Some(sources) = &spec.unless_stdin
            && sources.iter().any(|s| stdin_is(cmd, s))
        {
            return None;
        }

        let arg_texts = || args.iter().map(|w| w.text.as_str());
        let target_texts = || targets.iter().copied();
        let written = || {
            cmd.redirects
                .iter()
                .filter(|r| r.kind.writes())
                .map(|r| r.target.text.as_str())
        };
        let truncated = || {
            cmd.redirects
                .iter()
                .filter(|r| r.kind == RedirectKind::Truncate)
                .map(|r| r.target.text.as_str())
        };
        let input = || cmd.context.input.iter().map(String::as_str);
        let fails = |re: &Option<Regexes>, held: &dyn Fn(&Regexes) -> bool| {
            re.as_ref().is_some_and(|re| !held(re))
        };
        if fails(&self.args, &|re| re.hold(arg_texts))
            || fails(&self.targets, &|re| re.hold(target_texts))
            || fails(&self.redirect, &|re| re.hold(written))
            || fails(&self.truncate, &|re| re.hold(truncated))
            || fails(&self.input, &|re| re.hold(input))
        {
            return None;
        }
        if self
            .unless_args
            .as_ref()
            .is_some_and(|re| re.exempt(arg_texts))
            || self
                .unless_targets
                .as_ref()
                .is_some_and(|re| re.exempt(target_texts))
        {
            return None;
        }

        Some(RuleMatch {
            subcommand: words.positionals[..sub_len]
                .iter()
                .map(|w| w.to_string())
                .collect(),
            targets: targets.iter().map(|w| w.to_string()).collect(),
        })
    }

    /// The number of positionals taken by the longest `subcommand`
    /// alternative they start with, or `None` if they start with none.
    fn subcommand_len(&self, positionals: &[&str]) -> Option<usize> {
        self.subcommands
            .iter()
            .filter(|alt| {
                !alt.is_empty()
                    && alt.len() <= positionals.len()
                    && alt.iter().zip(positionals).all(|(a, p)| a == p)
            })
            .map(Vec::len)
            .max()
    }

    /// The rule's dry-run command with the command's words filled in, or
    /// `None` if the rule has no preview. A word that is exactly a
    /// placeholder becomes as many words as it stands for; a placeholder
    /// inside a longer word is replaced by those words joined with spaces.
    pub fn preview(&self, cmd: &SimpleCommand, found: &RuleMatch) -> Option<Vec<String>> {
        let template = self.spec().preview.as_ref()?;
        let args: Vec<&str> = cmd.args().iter().map(|w| w.text.as_str()).collect();
        let words_for = |placeholder: &str| -> Vec<&str> {
            match placeholder {
                "{args}" => args.clone(),
                "{subcommand}" => found.subcommand.iter().map(String::as_str).collect(),
                "{targets}" => found.targets.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            }
        };
        let mut out = Vec::new();
        for part in template {
            if PLACEHOLDERS.contains(&part.as_str()) {
                out.extend(words_for(part).into_iter().map(str::to_string));
                continue;
            }
            let mut filled = String::new();
            let mut rest = part.as_str();
            while let Some(open) = rest.find('{') {
                filled.push_str(&rest[..open]);
                rest = &rest[open..];
                match PLACEHOLDERS.iter().find(|p| rest.starts_with(**p)) {
                    Some(p) => {
                        filled.push_str(&words_for(p).join(" "));
                        rest = &rest[p.len()..];
                    }
                    None => {
                        filled.push('{');
                        rest = &rest[1..];
                    }
                }
            }
            filled.push_str(rest);
            out.push(filled);
        }
        Some(out)
    }

    #[cfg(test)]
    fn compiled_regexes(&self) -> usize {
        [
            &self.args,
            &self.targets,
            &self.redirect,
            &self.truncate,
            &self.input,
            &self.unless_args,
            &self.unless_targets,
        ]
        .into_iter()
        .flatten()
        .flat_map(|r| &r.0)
        .map(LazyRegex::compiled)
        .sum()
    }
}

fn is_recursive_call(cmd: &SimpleCommand) -> bool {
    cmd.context.via.iter().any(|v| v.contains(RECURSIVE_VIA))
}

/// Is the command's stdin of this kind (`unless_stdin`, see
/// [`spec::STDIN_SOURCES`])? `script`: text the guard knows reaches stdin (a
/// here-document, a here-string, `echo`/`printf` piped in); the walk checks
/// it as a script of its own. `file`: stdin is redirected from a file. A
/// pipe from a program whose output is unknown (`curl … | bash`) is neither.
fn stdin_is(cmd: &SimpleCommand, source: &str) -> bool {
    match source {
        "script" => !cmd.context.input.is_empty(),
        // `< /dev/tty` and `< /dev/stdin` are the terminal again.
        "file" => cmd.redirects.iter().any(|r| {
            r.kind == RedirectKind::Read
                && r.fd.is_none_or(|fd| fd == 0)
                && !matches!(
                    r.target.text.as_str(),
                    "/dev/tty" | "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0"
                )
        }),
        _ => false,
    }
}

/// Values that turn a `--name=VALUE` option off: `--dry-run=none`,
/// `--force=false`. Such a word does not count as the option `--name`.
const OFF_VALUES: &[&str] = &["false", "no", "none", "off"];

/// One option word, with its value when it has one: `--name=value`, or the
/// word after a value flag (`-s HUP`), or the rest of a short value flag
/// (`-sHUP`). A long option given by an unambiguous prefix of a declared
/// one is written out in full (`--forc` is `--force`).
#[derive(Clone, Debug)]
struct OptionWord<'c> {
    word: Cow<'c, str>,
    value: Option<&'c str>,
}

/// The options that take the next word as their value: the rule's own
/// `value_flags` and those of its program's `[[program]]` table.
#[derive(Clone, Copy, Debug)]
struct ValueFlags<'a> {
    rule: &'a [String],
    program: &'a [Text],
}

impl<'a> ValueFlags<'a> {
    fn iter(self) -> impl Iterator<Item = &'a str> {
        let rule = self.rule.iter().map(String::as_str);
        rule.chain(self.program.iter().map(|f| f.as_ref()))
    }

    fn contains(self, word: &str) -> bool {
        self.iter().any(|f| f == word)
    }
}

/// The arguments of a command sorted into options and positionals, for one
/// rule's `value_flags`.
struct Words<'c> {
    /// Words starting with `-` (other than `-` itself) before `--`.
    options: Vec<OptionWord<'c>>,
    /// Everything else, except values of `value_flags` and the `--` itself;
    /// the leading subcommand words written out in full as the program's
    /// `[[program]]` table says.
    positionals: Vec<&'c str>,
}

impl<'c> Words<'c> {
    /// `max_options`: after that many option words, every word is a
    /// positional (`kill -9 -1`: `-1` is a PID).
    fn split(
        args: &'c [Word],
        value_flags: ValueFlags<'_>,
        max_options: Option<u32>,
        program: Option<&'c Program>,
    ) -> Words<'c> {
        let mut options = Vec::new();
        let mut positionals = Vec::new();
        let mut words = args.iter().map(|w| w.text.as_str());
        let max_options = max_options.map_or(usize::MAX, |m| m as usize);
        while let Some(word) = words.next() {
            if word == "--" {
                positionals.extend(words.by_ref());
                break;
            }
            if word.len() > 1 && word.starts_with('-') && options.len() < max_options {
                let written = program.map_or(Cow::Borrowed(word), |p| p.long_option(word));
                let value = if takes_next_word(&written, value_flags) {
                    words.next()
                } else {
                    inline_value(word, value_flags)
                };
                options.push(OptionWord {
                    word: written,
                    value,
                });
            } else {
                positionals.push(word);
            }
        }
        if let Some(program) = program {
            program.read_subcommands(&mut positionals);
        }
        Words {
            options,
            positionals,
        }
    }

    fn has_flag(&self, spec: &str, value_flags: ValueFlags<'_>) -> bool {
        // `-ff`: the same short flag given twice, however spelled
        // (`-ff`, `-f -f`, `-fvf`).
        if let Some(letters) = spec.strip_prefix('-')
            && letters.len() > 1
            && letters.chars().all(|c| c.is_ascii_alphabetic())
            && let Some(first) = letters.chars().next()
            && letters.chars().all(|c| c == first)
        {
            let seen: usize = self
                .options
                .iter()
                .filter_map(|o| bundle_letters(&o.word, value_flags))
                .map(|letters| letters.filter(|c| *c == first).count())
                .sum();
            return seen >= letters.len();
        }
        self.options
            .iter()
            .any(|option| flag_matches(spec, option, value_flags))
    }
}

/// The value a single option word carries itself: `--name=value`, or the
/// rest of a short value flag (`-sHUP` when `-s` is a value flag).
fn inline_value<'w>(word: &'w str, value_flags: ValueFlags<'_>) -> Option<&'w str> {
    if word.starts_with("--") {
        return word.split_once('=').map(|(_, v)| v);
    }
    let mut chars = word.char_indices().skip(1);
    let (_, first) = chars.next()?;
    let (rest, _) = chars.next()?;
    is_short_value_flag(first, value_flags).then(|| &word[rest..])
}

/// Is `-c` one of the value flags?
fn is_short_value_flag(c: char, value_flags: ValueFlags<'_>) -> bool {
    value_flags.iter().any(|f| {
        let mut chars = f.chars();
        chars.next() == Some('-') && chars.next() == Some(c) && chars.next().is_none()
    })
}

/// The letters of a bundle of short flags (`-rf`), stopping after a value
/// flag (whose value is the rest of the word). `None` if the word is not a
/// bundle: `--x`, `-`, `-1`.
fn bundle_letters<'w>(
    word: &'w str,
    value_flags: ValueFlags<'w>,
) -> Option<impl Iterator<Item = char> + 'w> {
    let body = word.strip_prefix('-')?;
    if !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut stopped = false;
    Some(body.chars().map_while(move |c| {
        if stopped || !c.is_ascii_alphabetic() {
            return None;
        }
        stopped = is_short_value_flag(c, value_flags);
        Some(c)
    }))
}

/// Does option word `word` take the next word as its value?
fn takes_next_word(word: &str, value_flags: ValueFlags<'_>) -> bool {
    if value_flags.contains(word) {
        return true;
    }
    if word.starts_with("--") {
        return false;
    }
    let Some(body) = word.strip_prefix('-') else {
        return false;
    };
    if !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return false;
    }
    for (i, c) in body.char_indices() {
        if !c.is_ascii_alphabetic() {
            return false;
        }
        if is_short_value_flag(c, value_flags) {
            // `-yo VALUE` takes the next word; `-oVALUE` carries its own.
            return i + c.len_utf8() == body.len();
        }
    }
    false
}

/// Does option spec `spec` match option word `word`?
///
/// `--name` matches `--name` and `--name=value`; a spec with `=` matches
/// only that exact word. `-f` matches `-f` and any bundle of short flags
/// containing `f` (`-rf`). A single-dash spec with several letters
/// (`-delete`, find-style) matches only that exact word.
///
/// A spec `NAME=VALUE` matches the option NAME given the value VALUE however
/// it is written (`--when=cancel`, `--when cancel`, `-s HUP`, `-sHUP`, the
/// last two when NAME is a value flag); VALUE may list alternatives
/// separated by `|` (`-s=HUP|USR1`). `--name` does not match `--name=VALUE`
/// when VALUE turns it off ([`OFF_VALUES`]: `--dry-run=none`).
fn flag_matches(spec: &str, option: &OptionWord<'_>, value_flags: ValueFlags<'_>) -> bool {
    let word: &str = &option.word;
    if let Some((name, values)) = spec.split_once('=')
        && name.starts_with('-')
    {
        let short_inline = name.len() == 2
            && !name.starts_with("--")
            && word.len() > 2
            && word.starts_with(name)
            && option.value == word.get(2..);
        let named =
            word == name || word.split_once('=').is_some_and(|(n, _)| n == name) || short_inline;
        return named
            && option
                .value
                .is_some_and(|v| values.split('|').any(|alt| alt == v));
    }
    if spec == word {
        return true;
    }
    if spec.starts_with("--") {
        return word
            .split_once('=')
            .is_some_and(|(name, value)| name == spec && !OFF_VALUES.contains(&value));
    }
    let mut letters = spec.chars().skip(1);
    match (letters.next(), letters.next()) {
        (Some(letter), None) => {
            bundle_letters(word, value_flags).is_some_and(|mut bundle| bundle.any(|c| c == letter))
        }
        _ => false,
    }
}

/// A rule's patterns for one key, each compiled on first use.
#[derive(Clone, Debug)]
struct Regexes(Vec<LazyRegex>);

/// One pattern with two engines, each compiled the first time it is needed.
///
/// The `regex` crate costs 0.1–0.8 ms to compile one of the shipped
/// patterns (Unicode classes, literal prefilters), more than the whole
/// start-up budget of a `safe-run check`; `regex-lite` compiles them in a few
/// microseconds. The two agree exactly on ASCII text: they differ only in
/// what `\w`, `\s`, `\d`, `\b` and `(?i)` do with non-ASCII characters, and
/// in `regex-lite` lacking `\p{…}` and class set operations. So ASCII text
/// goes to `regex-lite`, and anything else — non-ASCII text, or a pattern
/// `regex-lite` cannot compile — to `regex`: the semantics are the `regex`
/// crate's (docs/RULES.md), the cost is `regex-lite`'s.
///
/// A long-lived process (the interactive shell, whose live hint classifies
/// the line on every keystroke) uses a pattern many times: after
/// [`HOT_AFTER`] uses it switches to `regex`, whose matching is some 20
/// times faster, so the compile cost is paid only where it pays back.
#[derive(Debug)]
struct LazyRegex {
    pattern: String,
    /// `Some(None)` once compilation has failed.
    lite: OnceLock<Option<regex_lite::Regex>>,
    full: OnceLock<Option<Regex>>,
    uses: AtomicU32,
}

/// Uses of a pattern after which it is compiled with `regex`.
const HOT_AFTER: u32 = 32;

impl Clone for LazyRegex {
    fn clone(&self) -> Self {
        LazyRegex {
            pattern: self.pattern.clone(),
            lite: self.lite.clone(),
            full: self.full.clone(),
            uses: AtomicU32::new(self.uses.load(Ordering::Relaxed)),
        }
    }
}

impl LazyRegex {
    /// Does the pattern match `text`? `None` if it does not compile.
    fn is_match(&self, text: &str) -> Option<bool> {
        if self.uses.fetch_add(1, Ordering::Relaxed) >= HOT_AFTER
            && let Some(re) = self.full.get_or_init(|| Regex::new(&self.pattern).ok())
        {
            return Some(re.is_match(text));
        }
        if text.is_ascii()
            && let Some(re) = self
                .lite
                .get_or_init(|| regex_lite::Regex::new(&self.pattern).ok())
        {
            return Some(re.is_match(text));
        }
        self.full
            .get_or_init(|| Regex::new(&self.pattern).ok())
            .as_ref()
            .map(|re| re.is_match(text))
    }

    #[cfg(test)]
    fn compiled(&self) -> usize {
        usize::from(self.lite.get().is_some()) + usize::from(self.full.get().is_some())
    }
}

impl Regexes {
    fn new(patterns: &Patterns) -> Regexes {
        Regexes(
            patterns
                .0
                .iter()
                .map(|p| LazyRegex {
                    pattern: p.clone(),
                    lite: OnceLock::new(),
                    full: OnceLock::new(),
                    uses: AtomicU32::new(0),
                })
                .collect(),
        )
    }

    /// Does some text match some pattern? A pattern that does not compile
    /// counts as matching (when there is text to match), so a broken rule
    /// errs on the side of asking.
    fn hold<'t, I: Iterator<Item = &'t str>>(&self, texts: impl Fn() -> I) -> bool {
        // Nothing to match (no arguments, no redirection): no pattern can
        // hold, and none is compiled — start-up cost is paid only for rules
        // that have something to look at.
        if texts().next().is_none() {
            return false;
        }
        self.0
            .iter()
            .any(|p| texts().any(|t| p.is_match(t) != Some(false)))
    }

    /// Does some text match some pattern that compiles? A broken pattern
    /// never exempts.
    fn exempt<'t, I: Iterator<Item = &'t str>>(&self, texts: impl Fn() -> I) -> bool {
        self.0
            .iter()
            .any(|p| texts().any(|t| p.is_match(t) == Some(true)))
    }
}

/// A rule's place in the set: decoded from the embedded blob on first use,
/// or loaded from a file.
#[derive(Clone, Debug)]
struct Slot {
    id: Cow<'static, str>,
    /// False once disabled; the slot stays so indices remain valid.
    live: bool,
    rule: SlotRule,
}

#[derive(Clone, Debug)]
enum SlotRule {
    Embedded {
        spec: &'static [u8],
        file: &'static str,
        line: usize,
        decoded: OnceLock<Box<Rule>>,
    },
    Loaded(Box<Rule>),
}

impl Slot {
    fn rule(&self) -> &Rule {
        match &self.rule {
            SlotRule::Loaded(rule) => rule,
            SlotRule::Embedded {
                spec,
                file,
                line,
                decoded,
            } => decoded.get_or_init(|| {
                Box::new(
                    Rule::embedded(spec, file, *line)
                        .unwrap_or_else(|| unreadable_rule(&self.id, file, *line)),
                )
            }),
        }
    }
}

/// Stands in for a built-in rule that cannot be decoded (a damaged build):
/// it asks about every command it is consulted for, rather than letting
/// them through unchecked.
fn unreadable_rule(id: &str, file: &str, line: usize) -> Rule {
    Rule::new(unreadable_spec(id), file, line)
}

fn unreadable_spec(id: &str) -> RuleSpec {
    RuleSpec {
        id: id.to_string(),
        risk: Level::Critical,
        action: None,
        programs: vec![ANY_PROGRAM.to_string()],
        value_flags: None,
        max_options: None,
        subcommand: None,
        flags: None,
        all_flags: None,
        args: None,
        targets: None,
        no_targets: None,
        redirect: None,
        truncate: None,
        input: None,
        stdin_from: None,
        unless_flags: None,
        unless_args: None,
        unless_targets: None,
        unless_stdin: None,
        disruptive: None,
        why: format!(
            "This copy of safe-run cannot read its built-in rule `{id}`, so it cannot tell whether this command is safe."
        ),
        instead: "Reinstall safe-run; until then, check each command by hand before confirming."
            .to_string(),
        preview: None,
        match_examples: Vec::new(),
        allow_examples: Vec::new(),
    }
}

/// A built-in `[[program]]` declaration: its postcard bytes, decoded and
/// compiled the first time a command of that program is matched.
#[derive(Clone, Debug)]
struct Declared {
    name: &'static str,
    spec: &'static [u8],
    program: OnceLock<Option<Program>>,
}

/// A rule as it applies to one command: bound to the built-in `[[program]]`
/// declaration of the command's program, if there is one, so that its
/// [`BoundRule::matches`] reads `ip a d` as `ip address delete`. Everything
/// else is the rule's ([`Deref`]).
#[derive(Clone, Copy, Debug)]
pub struct BoundRule<'s> {
    rule: &'s Rule,
    program: Option<&'s Program>,
}

impl<'s> BoundRule<'s> {
    /// The rule itself.
    pub fn rule(&self) -> &'s Rule {
        self.rule
    }

    /// Judges the command (the one the rule was found for) against the
    /// rule, reading its words as the program's declaration says: the
    /// declaration in the rule's own file if it has one, else the built-in
    /// one.
    pub fn matches(&self, cmd: &SimpleCommand) -> Option<RuleMatch> {
        let program = self.rule.local_program(cmd).or(self.program);
        self.rule.matches_with(cmd, program)
    }
}

impl Deref for BoundRule<'_> {
    type Target = Rule;

    fn deref(&self) -> &Rule {
        self.rule
    }
}

/// The built-in `[[program]]` tables as written, for checking the
/// subcommand words of rules from other files against them. Decoded once.
fn builtin_program_specs() -> &'static [ProgramSpec] {
    static SPECS: OnceLock<Vec<ProgramSpec>> = OnceLock::new();
    SPECS.get_or_init(|| {
        let Ok(blob) = postcard::from_bytes::<Blob<'static>>(BUILTIN_BLOB) else {
            return Vec::new();
        };
        let mut specs: Vec<ProgramSpec> = Vec::new();
        for declared in blob.declared {
            if let Ok(spec) = postcard::from_bytes::<ProgramSpec>(declared.spec)
                && !specs.contains(&spec)
            {
                specs.push(spec);
            }
        }
        specs
    })
}

/// Every rule in force, indexed by program name.
///
/// The built-in rules keep the index `build.rs` wrote (sorted program names,
/// searched in place); rules added later get a small map of their own. A
/// replaced or disabled rule is only marked dead, so no index is rewritten.
/// The map from id to rule is built the first time it is needed, since a
/// plain `safe-run check` never needs it.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    slots: Vec<Slot>,
    live: usize,
    /// The embedded index, sorted by program name.
    embedded: Vec<BlobProgram<'static>>,
    /// Program name (`*`, `<dynamic>` and `<recursive-function>` included)
    /// to the slots of added rules, ascending.
    added: HashMap<String, Vec<usize>>,
    by_id: OnceLock<HashMap<Cow<'static, str>, usize>>,
    /// The built-in `[[program]]` declarations, sorted by name.
    declared: Vec<Declared>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> RuleSet {
        RuleSet::default()
    }

    /// The rules shipped in `rules/`, compiled into the binary. Cheap: only
    /// the index is decoded here, borrowing from the embedded bytes.
    pub fn builtin() -> RuleSet {
        RuleSet::from_blob(BUILTIN_BLOB)
    }

    fn from_blob(bytes: &'static [u8]) -> RuleSet {
        let Ok(blob) = postcard::from_bytes::<Blob<'static>>(bytes) else {
            let mut set = RuleSet::new();
            set.add([unreadable_rule("builtin-rules-unreadable", "rules", 0)]);
            return set;
        };
        let slots: Vec<Slot> = blob
            .rules
            .into_iter()
            .map(|rule| Slot {
                id: Cow::Borrowed(rule.id),
                live: true,
                rule: SlotRule::Embedded {
                    spec: rule.spec,
                    file: blob.files.get(rule.file).copied().unwrap_or("rules"),
                    line: rule.line,
                    decoded: OnceLock::new(),
                },
            })
            .collect();
        let mut embedded = blob.programs;
        // build.rs writes it sorted; a lookup must never miss because of order.
        if !embedded.is_sorted_by(|a, b| a.name <= b.name) {
            embedded.sort_by(|a, b| a.name.cmp(b.name));
        }
        let mut declared: Vec<Declared> = blob
            .declared
            .into_iter()
            .map(|d| Declared {
                name: d.name,
                spec: d.spec,
                program: OnceLock::new(),
            })
            .collect();
        if !declared.is_sorted_by(|a, b| a.name <= b.name) {
            declared.sort_by(|a, b| a.name.cmp(b.name));
        }
        RuleSet {
            live: slots.len(),
            slots,
            embedded,
            added: HashMap::new(),
            by_id: OnceLock::new(),
            declared,
        }
    }

    /// The built-in `[[program]]` declaration of a program, if it has one.
    /// A declaration that does not decode (a damaged build) counts as none:
    /// the words are then read as written.
    pub fn program(&self, name: &str) -> Option<&Program> {
        let at = self.declared.binary_search_by(|d| d.name.cmp(name)).ok()?;
        let declared = &self.declared[at];
        declared
            .program
            .get_or_init(|| Program::embedded(declared.spec))
            .as_ref()
    }

    /// Reads and validates a rule file. Every error in the file is
    /// returned, in order; if there is any, no rule is.
    pub fn parse_file(text: &str, file_name: &str) -> Result<Vec<Rule>, Vec<Diagnostic>> {
        match RuleSet::parse_file_lenient(text, file_name) {
            (rules, errors) if errors.is_empty() => Ok(rules),
            (_, errors) => Err(errors),
        }
    }

    /// Like [`RuleSet::parse_file`], but also returns the rules that are
    /// valid when others are not, so that one broken rule in an extra file
    /// does not take its neighbours out of force. A TOML syntax error
    /// still yields no rules.
    ///
    /// The file's `[[program]]` tables apply to its own rules. Every rule's
    /// subcommand words are checked against them and the built-in ones.
    pub fn parse_file_lenient(text: &str, file_name: &str) -> (Vec<Rule>, Vec<Diagnostic>) {
        let parsed = spec::parse_document(text, builtin_program_specs());
        let local: Option<Arc<Declarations>> = (!parsed.programs.is_empty()).then(|| {
            Arc::new(
                parsed
                    .programs
                    .iter()
                    .flat_map(|p| {
                        p.spec
                            .programs
                            .iter()
                            .map(|name| (name.clone(), Program::new(p.spec.clone())))
                    })
                    .collect(),
            )
        });
        let rules = parsed
            .rules
            .into_iter()
            .map(|p| {
                let mut rule = Rule::new(p.spec, file_name, p.line);
                rule.local = local.clone();
                rule
            })
            .collect();
        let errors = parsed
            .errors
            .iter()
            .map(|e| Diagnostic::at(file_name, text, e.span.clone(), e.message.clone()))
            .collect();
        (rules, errors)
    }

    /// The id map, built from the live slots.
    fn build_ids(&self) -> HashMap<Cow<'static, str>, usize> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live)
            .map(|(i, s)| (s.id.clone(), i))
            .collect()
    }

    /// Adds rules in order. A rule whose id is already in the set replaces
    /// it; the new rule is listed where it was added.
    pub fn add(&mut self, rules: impl IntoIterator<Item = Rule>) {
        let mut ids = self.by_id.take().unwrap_or_else(|| self.build_ids());
        for rule in rules {
            let index = self.slots.len();
            if let Some(old) = ids.insert(Cow::Owned(rule.id().to_string()), index)
                && let Some(slot) = self.slots.get_mut(old)
            {
                slot.live = false;
                self.live = self.live.saturating_sub(1);
            }
            for program in rule.programs() {
                let list = self.added.entry(program.clone()).or_default();
                if list.last() != Some(&index) {
                    list.push(index);
                }
            }
            self.slots.push(Slot {
                id: Cow::Owned(rule.id().to_string()),
                live: true,
                rule: SlotRule::Loaded(Box::new(rule)),
            });
            self.live += 1;
        }
        self.by_id = OnceLock::from(ids);
    }

    /// Takes rules out of force by id. Returns the ids that matched no rule,
    /// so the caller can say so.
    pub fn disable(&mut self, ids: &[String]) -> Vec<String> {
        let mut known = self.by_id.take().unwrap_or_else(|| self.build_ids());
        let mut unknown = Vec::new();
        for id in ids {
            match known.remove(id.as_str()) {
                Some(index) => {
                    if let Some(slot) = self.slots.get_mut(index) {
                        slot.live = false;
                        self.live = self.live.saturating_sub(1);
                    }
                }
                None => unknown.push(id.clone()),
            }
        }
        self.by_id = OnceLock::from(known);
        unknown
    }

    /// Appends the slots listed for `program`, built-in and added.
    fn collect_indices(&self, program: &str, into: &mut Vec<usize>) {
        if let Ok(at) = self.embedded.binary_search_by(|p| p.name.cmp(program))
            && let Some(entry) = self.embedded.get(at)
        {
            into.extend(entry.indices());
        }
        if let Some(list) = self.added.get(program) {
            into.extend_from_slice(list);
        }
    }

    /// The live rules at these slots, in slot order, each once.
    fn rules_at(&self, mut indices: Vec<usize>) -> impl Iterator<Item = &Rule> + use<'_> {
        indices.sort_unstable();
        indices.dedup();
        indices
            .into_iter()
            .filter_map(|i| self.slots.get(i))
            .filter(|s| s.live)
            .map(Slot::rule)
    }

    /// The rules for a program name (`*` rules included), in load order.
    /// `<dynamic>` and `<recursive-function>` are looked up like names.
    pub fn rules_for(&self, program: &str) -> impl Iterator<Item = &Rule> + use<'_> {
        let mut indices = Vec::new();
        self.collect_indices(program, &mut indices);
        if program != ANY_PROGRAM {
            self.collect_indices(ANY_PROGRAM, &mut indices);
        }
        self.rules_at(indices)
    }

    /// The rules that could match a command: those for its program name
    /// (or `<dynamic>`), `<recursive-function>` rules if it is a call of a
    /// self-calling function, and `*` rules; in load order, each once, and
    /// each bound to the command's program's `[[program]]` declaration.
    pub fn rules_for_command(
        &self,
        cmd: &SimpleCommand,
    ) -> impl Iterator<Item = BoundRule<'_>> + use<'_> {
        let mut indices = Vec::new();
        self.collect_indices(ANY_PROGRAM, &mut indices);
        // `program()` is `None` exactly when argv[0] is only known at run time.
        let name = cmd.program();
        self.collect_indices(name.unwrap_or(DYNAMIC_PROGRAM), &mut indices);
        if is_recursive_call(cmd) {
            self.collect_indices(RECURSIVE_FUNCTION, &mut indices);
        }
        let program = name.and_then(|n| self.program(n));
        self.rules_at(indices)
            .map(move |rule| BoundRule { rule, program })
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        let index = *self.by_id.get_or_init(|| self.build_ids()).get(id)?;
        self.slots.get(index).filter(|s| s.live).map(Slot::rule)
    }

    /// Every rule in force, in load order. Decodes every built-in rule.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.slots.iter().filter(|s| s.live).map(Slot::rule)
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Context, Redirect};

    fn word(text: &str) -> Word {
        Word::literal(text, (0, 0))
    }

    fn cmd(line: &str) -> SimpleCommand {
        SimpleCommand {
            argv: line.split_whitespace().map(word).collect(),
            ..SimpleCommand::default()
        }
    }

    /// A rule from the given keys plus the required ones it does not set.
    fn rule(keys: &str) -> Rule {
        let mut text = format!("[[rule]]\n{keys}\n");
        for (key, value) in [
            ("id", "\"test-rule\""),
            ("risk", "\"high\""),
            ("programs", "[\"rm\"]"),
            ("why", "\"w\""),
            ("instead", "\"i\""),
            ("match", "[\"a\", \"b\"]"),
            ("allow", "[\"c\", \"d\"]"),
        ] {
            if !keys.lines().any(|l| l.starts_with(&format!("{key} ="))) {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        match RuleSet::parse_file(&text, "test.toml") {
            Ok(mut rules) if rules.len() == 1 => rules.remove(0),
            other => panic!("bad test rule {text}: {other:?}"),
        }
    }

    /// Table-driven: (rule keys, command line, should it hit).
    fn check_cases(cases: &[(&str, &str, bool)]) {
        for (keys, line, expected) in cases {
            let got = rule(keys).matches(&cmd(line)).is_some();
            assert_eq!(got, *expected, "rule {{{keys}}} on `{line}`");
        }
    }

    #[test]
    fn program_is_matched_by_name_through_paths() {
        check_cases(&[
            ("programs = [\"reboot\"]", "reboot", true),
            (
                "programs = [\"reboot\"]",
                "/usr/sbin/../sbin/reboot now",
                true,
            ),
            ("programs = [\"reboot\"]", "rebooter", false),
            ("programs = [\"*\"]", "anything at all", true),
        ]);
    }

    #[test]
    fn star_rules_see_commands_that_are_only_redirections() {
        let r = rule("programs = [\"*\"]\ntruncate = \"^/etc/passwd$\"");
        let only_redirect = SimpleCommand {
            redirects: vec![Redirect {
                fd: None,
                kind: RedirectKind::Truncate,
                target: word("/etc/passwd"),
            }],
            ..SimpleCommand::default()
        };
        assert!(r.matches(&only_redirect).is_some());
    }

    #[test]
    fn dynamic_program_matches_only_a_run_time_argv0() {
        let r = rule("programs = [\"<dynamic>\"]");
        let mut dynamic = cmd("$CMD now");
        dynamic.argv[0].dynamic = true;
        assert!(r.matches(&dynamic).is_some());
        assert!(r.matches(&cmd("reboot")).is_none());
        assert!(
            r.matches(&SimpleCommand::default()).is_none(),
            "no argv at all"
        );
    }

    #[test]
    fn recursive_function_is_seen_through_the_context() {
        let r = rule("programs = [\"<recursive-function>\"]");
        let mut bomb = cmd(":");
        assert!(r.matches(&bomb).is_none());
        bomb.context = Context {
            via: vec!["recursive-function".into()],
            ..Context::default()
        };
        assert!(r.matches(&bomb).is_some());
    }

    #[test]
    fn short_flags_match_inside_bundles_but_not_numbers_or_dashes() {
        check_cases(&[
            ("flags = [\"-f\"]", "rm -f x", true),
            ("flags = [\"-f\"]", "rm -rf /", true),
            ("flags = [\"-f\"]", "rm -Rvf /", true),
            ("flags = [\"-f\"]", "rm -r /", false),
            ("flags = [\"-f\"]", "rm -1f x", false),
            ("flags = [\"-f\"]", "rm - f", false),
            ("flags = [\"-f\"]", "rm --force x", false),
            ("flags = [\"-1\"]", "rm -1 x", true),
            ("all_flags = [\"-r\", \"-f\"]", "rm -fr /", true),
            ("all_flags = [\"-r\", \"-f\"]", "rm -r -f /", true),
            ("all_flags = [\"-r\", \"-f\"]", "rm -f /", false),
            // A repeated letter: that flag at least twice, however spelled.
            ("flags = [\"-ff\"]", "rm -ff x", true),
            ("flags = [\"-ff\"]", "rm -f -f x", true),
            ("flags = [\"-ff\"]", "rm -fvf x", true),
            ("flags = [\"-ff\"]", "rm -f x", false),
            ("flags = [\"-ff\"]", "rm -f -- -f", false),
        ]);
    }

    #[test]
    fn multi_letter_single_dash_specs_match_only_that_word() {
        check_cases(&[
            (
                "programs = [\"find\"]\nflags = [\"-delete\"]",
                "find . -delete",
                true,
            ),
            (
                "programs = [\"find\"]\nflags = [\"-delete\"]",
                "find . -d",
                false,
            ),
            (
                "programs = [\"find\"]\nflags = [\"-delete\"]",
                "find . -deleted",
                false,
            ),
            (
                "programs = [\"find\"]\nflags = [\"-exec\"]",
                "find . -exec rm {} ;",
                true,
            ),
            (
                "programs = [\"find\"]\nflags = [\"-exec\"]",
                "find . -execdir rm {} ;",
                false,
            ),
        ]);
    }

    #[test]
    fn long_flags_match_with_or_without_a_value() {
        check_cases(&[
            ("flags = [\"--force\"]", "rm --force x", true),
            ("flags = [\"--force\"]", "rm --force=yes x", true),
            ("flags = [\"--force\"]", "rm --forced x", false),
            (
                "flags = [\"--dry-run=client\"]",
                "rm --dry-run=client",
                true,
            ),
            (
                "flags = [\"--dry-run=client\"]",
                "rm --dry-run=server",
                false,
            ),
            ("flags = [\"--dry-run=client\"]", "rm --dry-run", false),
        ]);
    }

    #[test]
    fn double_dash_ends_options() {
        check_cases(&[
            ("flags = [\"-f\"]", "rm -- -f", false),
            ("targets = \"^-rf$\"", "rm -- -rf", true),
            ("targets = \"^-rf$\"", "rm -rf", false),
            ("no_targets = true", "rm -rf --", true),
        ]);
    }

    #[test]
    fn value_flags_take_the_next_word_out_of_the_positionals() {
        let keys = "programs = [\"apt-get\"]\nvalue_flags = [\"-o\", \"--target-release\"]\nsubcommand = [\"upgrade\"]";
        check_cases(&[
            (keys, "apt-get upgrade", true),
            (keys, "apt-get -o Dpkg::Opt=1 upgrade", true),
            (keys, "apt-get -yo Dpkg::Opt=1 upgrade", true),
            (keys, "apt-get -oDpkg::Opt=1 upgrade", true),
            (keys, "apt-get --target-release stable upgrade", true),
            (keys, "apt-get --target-release=stable upgrade", true),
            // Not a value flag: its value is taken for the subcommand.
            (keys, "apt-get -t stable upgrade", false),
            // A value flag's value is not an option either.
            (
                "flags = [\"-f\"]\nvalue_flags = [\"-e\"]",
                "rm -e -f x",
                false,
            ),
        ]);
    }

    #[test]
    fn subcommands_are_word_sequences_and_the_longest_wins() {
        let r = rule(
            "programs = [\"kubeadm\"]\nsubcommand = [\"init\", \"init phase certs\"]\nvalue_flags = [\"--config\"]",
        );
        let found = r
            .matches(&cmd("kubeadm --config c.yaml init phase certs ca"))
            .expect("hits");
        assert_eq!(found.subcommand, vec!["init", "phase", "certs"]);
        assert_eq!(found.targets, vec!["ca"]);
        let found = r.matches(&cmd("kubeadm init --dry-run")).expect("hits");
        assert_eq!(found.subcommand, vec!["init"]);
        assert!(found.targets.is_empty());
        assert!(r.matches(&cmd("kubeadm phase init")).is_none());
        assert!(r.matches(&cmd("kubeadm")).is_none());
    }

    #[test]
    fn no_targets_true_wants_none_and_false_wants_some() {
        let yum = "programs = [\"yum\"]\nsubcommand = [\"update\"]";
        check_cases(&[
            (&format!("{yum}\nno_targets = true"), "yum -y update", true),
            (
                &format!("{yum}\nno_targets = true"),
                "yum update nginx",
                false,
            ),
            (
                &format!("{yum}\nno_targets = false"),
                "yum update nginx",
                true,
            ),
            (&format!("{yum}\nno_targets = false"), "yum update", false),
        ]);
    }

    #[test]
    fn args_and_targets_regexes_are_searched_not_anchored() {
        check_cases(&[
            ("args = \"-rf\"", "rm -rf /tmp/x", true),
            ("targets = \"^/$\"", "rm -rf /", true),
            ("targets = \"^/$\"", "rm -rf /tmp", false),
            ("targets = [\"^/$\", \"^/\\\\*$\"]", "rm -rf /*", true),
            ("targets = \"etc\"", "rm -rf /etc/x", true),
            ("args = \"(?i)^DROP$\"", "rm drop", true),
        ]);
    }

    #[test]
    fn redirect_covers_every_writing_kind_and_truncate_only_truncating_ones() {
        let with = |kind| SimpleCommand {
            redirects: vec![Redirect {
                fd: None,
                kind,
                target: word("/dev/sda"),
            }],
            ..cmd("rm")
        };
        let redirect = rule("redirect = \"^/dev/sd\"");
        let truncate = rule("truncate = \"^/dev/sd\"");
        use RedirectKind::*;
        for (kind, writes, truncates) in [
            (Truncate, true, true),
            (Append, true, false),
            (ReadWrite, true, false),
            (Read, false, false),
            (Duplicate, false, false),
        ] {
            assert_eq!(redirect.matches(&with(kind)).is_some(), writes, "{kind:?}");
            assert_eq!(
                truncate.matches(&with(kind)).is_some(),
                truncates,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn input_and_stdin_from_look_at_what_feeds_the_command() {
        let mut psql = cmd("psql prod");
        psql.context.input = vec!["select 1;".into(), "drop table users;".into()];
        let r = rule("programs = [\"psql\"]\ninput = \"(?i)\\\\bdrop\\\\s+table\\\\b\"");
        assert!(r.matches(&psql).is_some());
        psql.context.input.pop();
        assert!(r.matches(&psql).is_none());

        let r = rule("programs = [\"bash\"]\nstdin_from = [\"curl\", \"wget\"]");
        let mut bash = cmd("bash");
        assert!(r.matches(&bash).is_none());
        bash.context.stdin_from = Some("/usr/bin/curl".into());
        assert!(r.matches(&bash).is_some());
        bash.context.stdin_from = Some("cat".into());
        assert!(r.matches(&bash).is_none());
    }

    #[test]
    fn flag_values_are_read_however_they_are_written() {
        let systemctl =
            "programs = [\"systemctl\"]\nvalue_flags = [\"-s\", \"--signal\", \"--when\"]";
        let unless = "unless_flags = [\"-s=HUP|USR1\", \"--signal=HUP|USR1\", \"--when=cancel\"]";
        let rule_keys = format!("{systemctl}\n{unless}");
        check_cases(&[
            (&rule_keys, "systemctl kill -s HUP nginx", false),
            (&rule_keys, "systemctl kill -sUSR1 nginx", false),
            (&rule_keys, "systemctl kill --signal=HUP nginx", false),
            (&rule_keys, "systemctl kill --signal HUP nginx", false),
            (&rule_keys, "systemctl kill -s KILL nginx", true),
            (&rule_keys, "systemctl kill nginx", true),
            (&rule_keys, "systemctl halt --when cancel", false),
            (&rule_keys, "systemctl halt --when=cancel", false),
            (&rule_keys, "systemctl halt --when +5", true),
        ]);
    }

    #[test]
    fn an_option_turned_off_by_its_value_does_not_count() {
        let keys = "programs = [\"kubectl\"]\nunless_flags = [\"--dry-run\"]";
        check_cases(&[
            (keys, "kubectl delete ns prod --dry-run=none", true),
            (keys, "kubectl delete ns prod --dry-run=false", true),
            (keys, "kubectl delete ns prod --dry-run", false),
            (keys, "kubectl delete ns prod --dry-run=client", false),
            (keys, "kubectl delete ns prod --dry-run=server", false),
        ]);
    }

    #[test]
    fn max_options_makes_later_dash_words_operands() {
        let keys = "programs = [\"kill\"]\nvalue_flags = [\"-s\", \"-n\"]\nmax_options = 1\ntargets = \"^-1$\"";
        check_cases(&[
            (keys, "kill -9 -1", true),
            (keys, "kill -s KILL -1", true),
            (keys, "kill -- -1", true),
            (keys, "kill -1 1234", false),
            (keys, "kill -1", false),
            (keys, "kill -HUP 1234", false),
        ]);
    }

    #[test]
    fn unless_stdin_exempts_a_known_script_or_a_file() {
        let r = rule("programs = [\"bash\"]\nunless_stdin = [\"script\", \"file\"]");
        let mut bash = cmd("bash");
        assert!(r.matches(&bash).is_some());
        bash.context.stdin_from = Some("curl".into());
        assert!(r.matches(&bash).is_some(), "unknown output piped in");
        bash.context.input = vec!["uptime".into()];
        assert!(r.matches(&bash).is_none(), "a script the guard reads");
        let mut from_file = cmd("bash");
        from_file.redirects.push(Redirect {
            fd: None,
            kind: RedirectKind::Read,
            target: word("deploy.sh"),
        });
        assert!(r.matches(&from_file).is_none(), "bash < deploy.sh");
    }

    #[test]
    fn unless_stdin_names_only_known_kinds() {
        let mut spec = rule("programs = [\"bash\"]").spec().clone();
        spec.unless_stdin = Some(vec!["pipe".into()]);
        let problems = spec::validate(&spec);
        assert!(
            problems.iter().any(|p| p.message.contains("`pipe`")),
            "{problems:?}"
        );
    }

    #[test]
    fn unless_keys_exempt_a_command() {
        let apt = "programs = [\"apt-get\"]\nsubcommand = [\"upgrade\"]";
        check_cases(&[
            (
                &format!("{apt}\nunless_flags = [\"-s\", \"--simulate\"]"),
                "apt-get -ys upgrade",
                false,
            ),
            (
                &format!("{apt}\nunless_flags = [\"-s\", \"--simulate\"]"),
                "apt-get --simulate upgrade",
                false,
            ),
            (
                &format!("{apt}\nunless_flags = [\"-s\", \"--simulate\"]"),
                "apt-get -y upgrade",
                true,
            ),
            (
                &format!("{apt}\nunless_args = \"^--dry\""),
                "apt-get upgrade --dry-run",
                false,
            ),
            (
                &format!("{apt}\nunless_targets = \"^nginx$\""),
                "apt-get upgrade nginx",
                false,
            ),
            (
                &format!("{apt}\nunless_targets = \"^nginx$\""),
                "apt-get upgrade",
                true,
            ),
        ]);
    }

    fn broken(key: &str) -> Rule {
        let mut spec = rule("programs = [\"rm\"]").spec().clone();
        let bad = Some(Patterns(vec!["(unclosed".into()]));
        match key {
            "args" => spec.args = bad,
            "unless_args" => spec.unless_args = bad,
            _ => unreachable!(),
        }
        Rule::new(spec, "test.toml", 1)
    }

    #[test]
    fn a_regex_that_does_not_compile_fails_closed() {
        // As a condition it holds; as an exemption it never exempts.
        assert!(broken("args").matches(&cmd("rm x")).is_some());
        assert!(broken("unless_args").matches(&cmd("rm x")).is_some());
    }

    #[test]
    fn regexes_keep_the_regex_crate_semantics_on_non_ascii_text() {
        // Unicode `\w` and case folding: `regex-lite` alone would say no.
        check_cases(&[
            ("targets = \"^\\\\w+$\"", "rm café", true),
            ("targets = \"^\\\\w+$\"", "rm cafe", true),
            ("targets = \"^\\\\w+$\"", "rm a-b", false),
            ("targets = \"(?i)^k$\"", "rm \u{212a}", true),
            // A pattern only the full engine knows, on ASCII text.
            ("targets = \"^\\\\p{Greek}+$\"", "rm abc", false),
            ("targets = \"^\\\\p{Greek}+$\"", "rm αβγ", true),
        ]);
        // A no-break space is `\s` to the regex crate.
        let mut nbsp = cmd("rm");
        nbsp.argv.push(word("a\u{a0}b"));
        assert!(rule("targets = \"^a\\\\sb$\"").matches(&nbsp).is_some());
    }

    #[test]
    fn regexes_compile_only_when_the_structure_already_matches() {
        let r = rule(
            "programs = [\"apt-get\"]\nsubcommand = [\"upgrade\"]\nargs = \"\\\\S\"\nunless_args = \"^--dry\"",
        );
        assert!(r.matches(&cmd("apt-get update")).is_none());
        assert!(r.matches(&cmd("ls")).is_none());
        assert_eq!(r.compiled_regexes(), 0);
        assert!(r.matches(&cmd("apt-get upgrade")).is_some());
        assert_eq!(r.compiled_regexes(), 2);
    }

    #[test]
    fn preview_fills_placeholders_as_words_or_inside_words() {
        let r = rule(
            "programs = [\"apt-get\"]\nsubcommand = [\"upgrade\", \"dist-upgrade\"]\npreview = [\"apt-get\", \"-s\", \"{subcommand}\", \"{targets}\", \"--all={args}\", \"{}\"]",
        );
        let c = cmd("apt-get -y dist-upgrade a b");
        let found = r.matches(&c).expect("hits");
        assert_eq!(
            r.preview(&c, &found),
            Some(
                [
                    "apt-get",
                    "-s",
                    "dist-upgrade",
                    "a",
                    "b",
                    "--all=-y dist-upgrade a b",
                    "{}"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(rule("").preview(&cmd("rm"), &RuleMatch::default()), None);
    }

    #[test]
    fn the_domain_is_the_file_name_without_toml() {
        for (file, domain) in [
            ("rules/cloud.toml", "cloud"),
            ("/etc/safe-run/rules.d/50-site.toml", "50-site"),
            ("local.toml", "local"),
            ("notes", "notes"),
            (".toml", ".toml"),
        ] {
            assert_eq!(rule("").with_file(file).domain(), domain, "{file}");
        }
    }

    impl Rule {
        fn with_file(mut self, file: &str) -> Rule {
            self.source.0 = file.to_string();
            self
        }
    }

    #[test]
    fn action_is_deny_when_set_and_otherwise_follows_the_risk() {
        assert_eq!(rule("risk = \"low\"").action(), Action::Allow);
        assert_eq!(rule("risk = \"medium\"").action(), Action::Confirm);
        assert_eq!(
            rule("risk = \"low\"\naction = \"deny\"").action(),
            Action::Deny
        );
        assert_eq!(rule("risk = \"critical\"").risk(), Risk::Critical);
    }

    fn named(id: &str, programs: &str) -> Rule {
        rule(&format!("id = \"{id}\"\nprograms = {programs}"))
    }

    fn ids<'a>(rules: impl Iterator<Item = &'a Rule>) -> Vec<&'a str> {
        rules.map(Rule::id).collect()
    }

    fn bound_ids<'a>(rules: impl Iterator<Item = BoundRule<'a>>) -> Vec<&'a str> {
        rules.map(|r| r.rule().id()).collect()
    }

    #[test]
    fn rules_for_gives_the_programs_rules_and_star_rules_in_load_order() {
        let mut set = RuleSet::new();
        set.add([
            named("a", "[\"rm\"]"),
            named("b", "[\"*\"]"),
            named("c", "[\"rm\", \"shred\"]"),
            named("d", "[\"<dynamic>\"]"),
        ]);
        assert_eq!(ids(set.rules_for("rm")), vec!["a", "b", "c"]);
        assert_eq!(ids(set.rules_for("shred")), vec!["b", "c"]);
        assert_eq!(ids(set.rules_for("ls")), vec!["b"]);
        assert_eq!(ids(set.rules_for("*")), vec!["b"]);
        let mut dynamic = cmd("$X");
        dynamic.argv[0].dynamic = true;
        assert_eq!(bound_ids(set.rules_for_command(&dynamic)), vec!["b", "d"]);
        let mut glob = cmd("/sbin/reb*");
        glob.argv[0].glob = true;
        assert_eq!(bound_ids(set.rules_for_command(&glob)), vec!["b", "d"]);
        let only_redirect = SimpleCommand::default();
        assert_eq!(bound_ids(set.rules_for_command(&only_redirect)), vec!["b"]);
        assert_eq!(
            bound_ids(set.rules_for_command(&cmd("rm x"))),
            vec!["a", "b", "c"]
        );
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn a_rule_with_a_known_id_replaces_the_old_one() {
        let mut set = RuleSet::new();
        set.add([named("a", "[\"rm\"]"), named("b", "[\"rm\"]")]);
        set.add([named("a", "[\"shred\"]")]);
        assert_eq!(set.len(), 2);
        assert_eq!(ids(set.iter()), vec!["b", "a"], "listed where it was added");
        assert_eq!(ids(set.rules_for("rm")), vec!["b"]);
        assert_eq!(ids(set.rules_for("shred")), vec!["a"]);
        assert_eq!(
            set.get("a").map(|r| r.programs().to_vec()),
            Some(vec!["shred".to_string()])
        );
    }

    #[test]
    fn an_added_rule_replaces_a_builtin_one_with_the_same_id() {
        let mut set = RuleSet::builtin();
        let Some(first) = set.iter().next().map(|r| r.id().to_string()) else {
            return; // no shipped rules yet
        };
        let before = set.len();
        set.add([named(&first, "[\"only-this-program\"]")]);
        assert_eq!(set.len(), before);
        let replaced = set.get(&first).expect("still there");
        assert_eq!(replaced.programs(), vec!["only-this-program".to_string()]);
        assert_eq!(
            ids(set.rules_for("only-this-program")).last(),
            Some(&first.as_str())
        );
        assert_eq!(set.iter().filter(|r| r.id() == first).count(), 1);
    }

    #[test]
    fn disabled_rules_are_gone_and_unknown_ids_are_returned() {
        let mut set = RuleSet::new();
        set.add([named("a", "[\"rm\"]"), named("b", "[\"*\"]")]);
        let unknown = set.disable(&["b".into(), "nope".into()]);
        assert_eq!(unknown, vec!["nope".to_string()]);
        assert_eq!(ids(set.rules_for("rm")), vec!["a"]);
        assert!(set.get("b").is_none());
        assert_eq!(ids(set.iter()), vec!["a"]);
        assert_eq!(set.len(), 1);
        // Adding it again brings it back.
        set.add([named("b", "[\"*\"]")]);
        assert_eq!(ids(set.rules_for("rm")), vec!["a", "b"]);
    }

    #[test]
    fn builtin_rules_all_decode_with_their_source() {
        let set = RuleSet::builtin();
        assert!(set.get("builtin-rules-unreadable").is_none());
        for rule in set.iter() {
            assert!(rule.source.0.starts_with("rules/"), "{:?}", rule.source);
            assert!(rule.source.1 >= 1);
            assert_eq!(set.get(rule.id()).map(Rule::id), Some(rule.id()));
            for program in rule.programs() {
                assert!(ids(set.rules_for(program)).contains(&rule.id()));
            }
        }
    }

    #[test]
    fn an_unreadable_blob_fails_closed() {
        let set = RuleSet::from_blob(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
        let found: Vec<_> = set
            .rules_for_command(&cmd("ls"))
            .filter_map(|r| r.matches(&cmd("ls")).map(|_| r.rule().id()))
            .collect();
        assert_eq!(found, vec!["builtin-rules-unreadable"]);
    }

    #[test]
    fn an_unreadable_embedded_rule_fails_closed() {
        // Index 7 does not exist: it is skipped, not a panic.
        let indices = BlobProgram::encode(&[0, 7]);
        let blob = Blob {
            files: vec!["rules/x.toml"],
            rules: vec![spec::BlobRule {
                id: "broken",
                file: 0,
                line: 4,
                spec: &[0xff, 0xff],
            }],
            programs: vec![BlobProgram {
                name: "rm",
                rules: &indices,
            }],
            declared: vec![],
        };
        let bytes: &'static [u8] = Box::leak(
            postcard::to_allocvec(&blob)
                .expect("encodes")
                .into_boxed_slice(),
        );
        let set = RuleSet::from_blob(bytes);
        let rule = set.rules_for("rm").next().expect("indexed");
        assert_eq!(rule.id(), "broken");
        assert_eq!(rule.risk(), Risk::Critical);
        assert_eq!(rule.source, ("rules/x.toml".to_string(), 4));
        assert!(rule.matches(&cmd("rm x")).is_some());
    }

    /// A rule file with a `[[program]]` table for `tool` and one rule.
    fn declared(table: &str, keys: &str) -> Rule {
        let text = format!(
            "[[program]]\nprograms = [\"tool\"]\n{table}\n\n[[rule]]\nid = \"t\"\nrisk = \"high\"\nprograms = [\"tool\"]\n{keys}\nwhy = \"w\"\ninstead = \"i\"\nmatch = [\"a\", \"b\"]\nallow = [\"c\", \"d\"]\n"
        );
        match RuleSet::parse_file(&text, "t.toml") {
            Ok(mut rules) if rules.len() == 1 => rules.remove(0),
            other => panic!("bad test file {text}: {other:?}"),
        }
    }

    #[test]
    fn declared_abbreviations_reach_rules_written_in_full() {
        let first = "subcommand_prefixes = \"first\"\ncommands = [\"address\", \"addrlabel\", \"route\", \"rule\"]\n[program.subcommands]\naddress = [\"add\", \"delete\", \"show\", \"flush\"]\nrule = [\"list\", \"show\", \"flush\"]";
        let r = declared(first, "subcommand = [\"address delete\", \"rule flush\"]");
        for (line, hits) in [
            ("tool a d 10.0.0.1/24 dev eth0", true),
            ("tool addr del 10.0.0.1/24", true),
            ("tool address delete 10.0.0.1/24", true),
            ("tool ru f", true),
            ("tool r f", false), // route: no words listed after it
            ("tool a s", false),
            ("tool addrl d", false),
            ("tool -4 a d x", true),
            ("tool x a d", false),
        ] {
            assert_eq!(r.matches(&cmd(line)).is_some(), hits, "{line}");
        }
        let found = r.matches(&cmd("tool a d 10.0.0.1/24")).expect("hits");
        assert_eq!(found.subcommand, vec!["address", "delete"]);
        assert_eq!(found.targets, vec!["10.0.0.1/24"]);

        let unique = "subcommand_prefixes = \"unique\"\ncommands = [\"scrub\", \"send\", \"subvolume\"]\n[program.subcommands]\nsubvolume = [\"delete\", \"list\"]";
        let r = declared(unique, "subcommand = [\"subvolume delete\"]");
        for (line, hits) in [
            ("tool su d /x", true),
            ("tool sub del /x", true),
            ("tool s d /x", false),
            ("tool subvolume delete /x", true),
        ] {
            assert_eq!(r.matches(&cmd(line)).is_some(), hits, "{line}");
        }
        // Without prefixes a table lists exact words only.
        let exact = "commands = [\"subvolume\"]";
        let r = declared(exact, "subcommand = [\"subvolume\"]");
        assert!(r.matches(&cmd("tool subvolume x")).is_some());
        assert!(r.matches(&cmd("tool sub x")).is_none());
    }

    #[test]
    fn declared_long_options_and_value_flags_apply_to_every_rule() {
        let table = "long_options = [\"--force\", \"--format\", \"--recursive\", \"--dry-run\", \"--namespace\"]\nvalue_flags = [\"--namespace\"]";
        let r = declared(
            table,
            "subcommand = [\"delete\"]\nflags = [\"--recursive\"]\nunless_flags = [\"--dry-run\"]",
        );
        for (line, hits) in [
            ("tool delete --recursive x", true),
            ("tool delete --rec x", true),
            ("tool delete --r x", true),
            ("tool delete --recursive=yes x", true),
            ("tool delete --rec --dry x", false),
            ("tool delete --rec --d x", false),
            ("tool delete x", false),
            // --namespace (a prefix of it too) takes the next word.
            ("tool --names delete --rec x", false),
            ("tool --names prod delete --rec x", true),
        ] {
            assert_eq!(r.matches(&cmd(line)).is_some(), hits, "{line}");
        }
        let r = declared(table, "flags = [\"--force\"]");
        assert!(r.matches(&cmd("tool --forc x")).is_some());
        assert!(
            r.matches(&cmd("tool --fo x")).is_none(),
            "--force or --format"
        );
    }

    #[test]
    fn rules_for_command_binds_rules_to_the_builtin_declaration() {
        let set = RuleSet::builtin();
        let Some(ip) = set.program("ip") else {
            return; // no shipped declaration for ip
        };
        let mut words = vec!["a", "d", "10.0.0.1/24"];
        ip.read_subcommands(&mut words);
        assert_eq!(words, vec!["address", "delete", "10.0.0.1/24"]);
        assert!(set.program("ls").is_none());
        // A rule added without a table of its own reads through the
        // built-in one when found through the set, and alone it does not.
        let mut set = set;
        set.add([rule(
            "id = \"site-ip\"\nprograms = [\"ip\"]\nsubcommand = [\"neighbor flush\"]",
        )]);
        let c = cmd("ip n f all");
        let hit: Vec<&str> = set
            .rules_for_command(&c)
            .filter_map(|r| r.matches(&c).map(|_| r.rule().id()))
            .collect();
        assert!(hit.contains(&"site-ip"), "{hit:?}");
        assert!(set.get("site-ip").expect("added").matches(&c).is_none());
    }

    #[test]
    fn an_embedded_declaration_reads_words_as_the_written_one() {
        let text = "[[program]]\nprograms = [\"tool\"]\nsubcommand_prefixes = \"first\"\ncommands = [\"address\", \"route\"]\nlong_options = [\"--force\", \"--format\"]\nvalue_flags = [\"-n\"]\n[program.subcommands]\naddress = [\"add\", \"delete\"]\n";
        let spec = spec::parse_document(text, &[]).programs.remove(0).spec;
        let bytes: &'static [u8] = Box::leak(
            postcard::to_allocvec(&spec)
                .expect("encodes")
                .into_boxed_slice(),
        );
        let embedded = Program::embedded(bytes).expect("decodes in place");
        let written = Program::new(spec);
        for program in [&embedded, &written] {
            let mut words = vec!["a", "d", "x"];
            program.read_subcommands(&mut words);
            assert_eq!(words, vec!["address", "delete", "x"]);
            assert_eq!(program.long_option("--forc"), "--force");
            assert_eq!(program.long_option("--fo"), "--fo");
            assert_eq!(program.value_flags, vec!["-n"]);
        }
        assert!(Program::embedded(&[0xff; 4]).is_none());
    }

    #[test]
    fn builtin_declarations_decode_and_name_programs() {
        let set = RuleSet::builtin();
        for declared in &set.declared {
            assert!(
                set.program(declared.name).is_some(),
                "{} does not decode",
                declared.name
            );
        }
        assert!(builtin_program_specs().len() <= set.declared.len());
    }

    #[test]
    fn rule_error_shows_the_line_and_a_caret_under_the_column() {
        let error = Diagnostic {
            file: "rules.d/x.toml".into(),
            line: 12,
            col: 3,
            width: 1,
            message: "unknown key `progams`".into(),
            source_line: "\tprogams = [\"x\"]".into(),
        };
        assert_eq!(
            error.to_string(),
            "rules.d/x.toml:12:3: unknown key `progams`\n12 | \\tprogams = [\"x\"]\n   |    ^"
        );
        let whole = Diagnostic::whole_file("x.toml", "cannot read the file: denied");
        assert_eq!(whole.to_string(), "x.toml: cannot read the file: denied");
    }

    #[test]
    fn control_characters_in_errors_are_shown_escaped() {
        let error = Diagnostic::whole_file("x\u{1b}[31m.toml", "bad");
        assert_eq!(error.to_string(), "x\\e[31m.toml: bad");
    }

    /// Every error of a bad file, in one pass, at the right line and column.
    #[test]
    fn every_error_in_a_bad_file_is_reported_at_its_line_and_column() {
        let text = include_str!("../../tests/fixtures/bad_rules.toml");
        let errors = RuleSet::parse_file(text, "bad_rules.toml").expect_err("the file is bad");
        let got: Vec<String> = errors
            .iter()
            .map(|e| format!("{}:{}: {}", e.line, e.col, e.message))
            .collect();
        let expected = [
            "5:1: unknown key `progams`, did you mean `programs`? (expected one of `id`, `risk`, `action`, `programs`, `value_flags`, `max_options`, `subcommand`, `flags`, `all_flags`, `args`, `targets`, `no_targets`, `redirect`, `truncate`, `input`, `stdin_from`, `unless_flags`, `unless_args`, `unless_targets`, `unless_stdin`, `why`, `instead`, `preview`, `disruptive`, `match`, `allow`)",
            "13:6: rule id `Bad_Id` is not kebab-case: use lower-case letters, digits and single dashes, like `apt-full-upgrade`",
            "14:8: `risk` must be one of `low`, `medium`, `high` or `critical`, not `severe`",
            "15:24: item 2 of `programs` must be a string, not an integer",
            "21:1: this rule has no `why`, which every rule needs",
            "25:19: `(unclosed` in `targets` is not a valid regex: unclosed group",
            "27:35: unknown placeholder `{target}` in `preview` (expected one of `{args}`, `{subcommand}` or `{targets}`)",
            "28:9: `match` needs at least 2 example lines, found 1",
            "41:6: duplicate id `valid-rule`: the rule at line 31 already uses it",
        ];
        assert_eq!(got, expected);
        assert_eq!(errors[0].source_line, "progams = [\"apt-get\"]");

        // The valid rule in the same file survives a lenient load.
        let (rules, errors) = RuleSet::parse_file_lenient(text, "bad_rules.toml");
        assert_eq!(errors.len(), expected.len());
        assert_eq!(ids(rules.iter()), vec!["valid-rule"]);
    }
}
