//! Confirmation: the whole conversation with the operator about one line —
//! the explanation, the previews, the typed token and the reason, or the
//! refusal when none can be asked for — and reading the answers from the
//! controlling terminal.
//!
//! [`decide`] takes the decision on a classified line under the policy.
//! The rules of the conversation (which token a risk asks for, what makes a
//! reason acceptable) are pure functions tested with plain values. The
//! conversation itself goes through the `Prompter` trait so the pipeline
//! can be tested with a scripted prompter; the real one, `TtyPrompter`,
//! talks to `/dev/tty` — never stdin, which may be a pipe feeding the
//! command, so `yes | safe-run -- reboot` cannot confirm.
//!
//! `TtyPrompter` reads with the terminal in non-canonical mode and signals
//! off, and does its own small line editing. That makes Ctrl-C and Ctrl-D
//! at a prompt plain keys that abort, with no signal dispositions to juggle
//! (an ignored SIGINT would be inherited by the command run next).

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};

use crate::audit::record::PreviewFacts;
use crate::command::Target;
use crate::exit;
use crate::parse::quote_word;
use crate::policy::{Policy, ReasonPolicy};
use crate::preview::{self, Context, Level, PreviewOutput, Summary};
use crate::term::paint::{BOLD, DIM, risk_sgr};
use crate::term::report::underline;
use crate::term::sanitize::clean;
use crate::term::width::{field, fit};
use crate::verdict::{Action, Ask, Decision, Finding, Risk, Verdict};

/// Approval given in advance (`--reason`, `--confirm`, or their variables).
#[derive(Clone, Copy, Debug, Default)]
pub struct Approval<'a> {
    pub reason: Option<&'a str>,
    pub confirm: Option<&'a str>,
}

/// The decision taken on a line, the reason given for it, the exit status
/// to use if the line does not run, and what the previews' summaries told
/// the operator (for the audit record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub decision: Decision,
    pub reason: Option<String>,
    pub status: i32,
    /// The summaries' facts, `None` when no preview was shown.
    pub preview: Option<PreviewFacts>,
}

impl Answer {
    fn new(decision: Decision, reason: Option<&str>, status: i32) -> Answer {
        Answer {
            decision,
            reason: reason.map(str::to_string),
            status,
            preview: None,
        }
    }

    fn shown(mut self, facts: &PreviewFacts) -> Answer {
        if !facts.is_empty() {
            self.preview = Some(facts.clone());
        }
        self
    }
}

/// What became of a rule's preview: not run because it is not harmless
/// itself, or run with this output.
pub enum PreviewRun {
    Unsafe,
    Ran(PreviewOutput),
}

/// Whom the conversation is with: the terminal (`None` without one), where
/// messages go when there is no terminal (stderr), and how to run a
/// preview (the pipeline classifies it first).
pub struct Conversation<'a> {
    pub prompter: Option<&'a mut dyn Prompter>,
    pub err: &'a mut dyn Write,
    pub preview: &'a mut dyn FnMut(&[String]) -> PreviewRun,
}

/// Takes the decision on a classified line: from the policy, from approval
/// given in advance, or by asking.
pub fn decide(
    line: &str,
    verdict: &Verdict,
    ask: Ask,
    policy: &Policy,
    given: Approval,
    talk: &mut Conversation,
) -> Answer {
    match ask {
        Ask::Run => return Answer::new(Decision::Allowed, given.reason, exit::OK),
        Ask::Notice => {
            for f in &verdict.findings {
                let _ = writeln!(
                    talk.err,
                    "safe-run: notice: [{}] {}: {}",
                    f.risk,
                    f.rule,
                    clean(&f.why, false)
                );
            }
            return Answer::new(Decision::Allowed, given.reason, exit::OK);
        }
        Ask::Deny => {
            let _ = writeln!(talk.err, "{}", explain(line, verdict, policy));
            let _ = writeln!(
                talk.err,
                "safe-run: denied by policy ({}). Only a rule change lifts this.",
                rule_list(verdict)
            );
            return Answer::new(Decision::Denied, given.reason, exit::REFUSED);
        }
        Ask::ConfirmYes | Ask::ConfirmHost => {}
    }
    let host = short_host(&policy.host).to_string();
    let targets = acted_on(verdict);
    let token = expected_token(ask, &host, &targets);
    let shown_token = clean(&quote_word(&token), false);
    let reason_policy = policy.reason_policy(verdict.risk);

    // Approval given in advance (scripts): checked exactly like a prompt.
    if given.confirm.is_some() || given.reason.is_some() {
        let typed = given.confirm.unwrap_or("").trim();
        if !token_matches(typed, &token) {
            let _ = writeln!(
                talk.err,
                "safe-run: refused: this line needs approval ({}){}, and the confirmation given {} is not the one asked for: pass --confirm {shown_token}.",
                rule_list(verdict),
                where_said(&targets, &host),
                if typed.is_empty() {
                    "(none)".to_string()
                } else {
                    format!("{:?}", clean(typed, false))
                },
            );
            return Answer::new(Decision::Refused, given.reason, exit::REFUSED);
        }
        let reason = given.reason.unwrap_or_default();
        if let Err(why) = validate_reason(reason, &reason_policy) {
            let _ = writeln!(
                talk.err,
                "safe-run: refused: the reason is not accepted: {why}."
            );
            return Answer::new(Decision::Refused, given.reason, exit::REFUSED);
        }
        return Answer::new(Decision::Confirmed, Some(reason), exit::OK);
    }

    let Some(prompter) = talk.prompter.as_deref_mut() else {
        let _ = writeln!(talk.err, "{}", explain(line, verdict, policy));
        let _ = writeln!(
            talk.err,
            "safe-run: refused: this line needs confirmation ({}){} and there is no terminal to ask on. Nothing was run.\n  To approve it from a script: --reason 'WHY, e.g. ticket id' --confirm {shown_token}\n  (or set SAFE_RUN_REASON and SAFE_RUN_CONFIRM={shown_token}).",
            rule_list(verdict),
            where_said(&targets, &host),
        );
        return Answer::new(Decision::Refused, None, exit::REFUSED);
    };

    // Interactive: explain, preview, ask.
    prompter.say(&format!("{}\n", explain(line, verdict, policy)));
    let mut shown = Vec::new();
    let mut facts = PreviewFacts::new();
    let ctx = Context {
        host: &policy.host,
        critical: &policy.critical_packages,
        mounts: None,
    };
    for f in &verdict.findings {
        let Some(preview) = &f.preview else { continue };
        if shown.contains(preview) || shown.len() >= 3 {
            continue;
        }
        shown.push(preview.clone());
        let run = (talk.preview)(preview);
        let (text, summary) = render_preview(preview, &f.command, run, f.risk, policy, &ctx);
        prompter.say(&text);
        note_facts(&mut facts, preview, summary.as_ref());
    }
    let question = question(ask, &host, &targets, &token, policy);
    match prompter.ask(&question) {
        Ok(answer) if token_matches(&answer, &token) => {}
        Ok(answer) => {
            prompter.say(&format!(
                "{:?} is not {token:?}. Nothing was run.\n",
                clean(answer.trim(), false)
            ));
            return Answer::new(Decision::Aborted, None, exit::ABORTED).shown(&facts);
        }
        Err(e) => {
            prompter.say(&format!("Cancelled: {e}. Nothing was run.\n"));
            return Answer::new(Decision::Aborted, None, exit::ABORTED).shown(&facts);
        }
    }
    let hint = if reason_policy.sentence {
        format!("a sentence, at least {} characters", reason_policy.min_len)
    } else {
        format!("at least {} characters", reason_policy.min_len)
    };
    for attempt in 1..=3 {
        let answer = match prompter.ask(&format!("Reason ({hint}; a ticket id helps): ")) {
            Ok(a) => a,
            Err(e) => {
                prompter.say(&format!("Cancelled: {e}. Nothing was run.\n"));
                return Answer::new(Decision::Aborted, None, exit::ABORTED).shown(&facts);
            }
        };
        match validate_reason(&answer, &reason_policy) {
            Ok(()) => {
                return Answer::new(Decision::Confirmed, Some(answer.trim()), exit::OK)
                    .shown(&facts);
            }
            Err(why) if attempt < 3 => prompter.say(&format!("Not accepted: {why}.\n")),
            Err(why) => {
                prompter.say(&format!("Not accepted: {why}. Nothing was run.\n"));
                return Answer::new(Decision::Aborted, Some(answer.trim()), exit::ABORTED)
                    .shown(&facts);
            }
        }
    }
    Answer::new(Decision::Aborted, None, exit::ABORTED).shown(&facts)
}

/// What a preview showed, as the operator sees it above the question: the
/// summary's facts first (loud ones in the finding's risk colour, marked
/// `!` so they stand out without colour too), then the raw lines, which
/// always stay. Also returns the summary, for the audit record. `command`
/// is the argv the finding hit; the summary reads its flags.
fn render_preview(
    preview: &[String],
    command: &[String],
    run: PreviewRun,
    risk: Risk,
    policy: &Policy,
    ctx: &Context,
) -> (String, Option<Summary>) {
    let shown = clean(&preview.join(" "), false);
    let out = match run {
        PreviewRun::Unsafe => {
            return (
                format!("Preview `{shown}` was not run: it is not a safe command itself.\n"),
                Some(Summary::Failed(
                    "not run: it is not a safe command itself".to_string(),
                )),
            );
        }
        PreviewRun::Ran(out) => out,
    };
    let summary = preview::summarise(preview, command, &out, ctx);
    let mut text = format!("Preview: {shown}\n");
    match &summary {
        Some(Summary::Facts(facts)) => {
            for fact in facts {
                let (mark, sgr) = match fact.level {
                    Level::Loud => ("!", risk_sgr(risk.max(Risk::Medium))),
                    Level::Plain => ("·", ""),
                };
                for (i, piece) in wrap(&clean(&fact.text, false), policy.width.saturating_sub(4))
                    .iter()
                    .enumerate()
                {
                    let lead = if i == 0 { mark } else { " " };
                    let piece = if sgr.is_empty() {
                        piece.clone()
                    } else {
                        policy.paint(sgr, piece)
                    };
                    let _ = writeln!(text, "  {lead} {piece}");
                }
            }
        }
        Some(Summary::Failed(why)) => {
            let _ = writeln!(
                text,
                "  {}",
                policy.paint(
                    DIM,
                    &format!("· could not summarise: {}", clean(why, false))
                )
            );
        }
        None => {}
    }
    let room = policy.width.saturating_sub(4).max(20);
    for l in &out.lines {
        let _ = writeln!(text, "  │ {}", fit(&clean(l, false), room, false));
    }
    if out.more > 0 {
        let _ = writeln!(text, "  │ … {} more lines", out.more);
    }
    if let Some(p) = &out.problem {
        let _ = writeln!(
            text,
            "  (preview: {}; this neither blocks nor approves anything)",
            clean(p, false)
        );
    }
    (text, summary)
}

/// Words of `text` in lines of at most `width` columns (a word longer
/// than that gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let width = width.max(20);
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !current.is_empty() && current.width() + 1 + word.width() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines
}

/// Adds a summary's facts to what the audit record keeps of the previews;
/// a preview that could not be summarised is listed with the reason.
fn note_facts(facts: &mut PreviewFacts, preview: &[String], summary: Option<&Summary>) {
    match summary {
        Some(s @ Summary::Facts(_)) => {
            for (key, value) in s.record() {
                let mut name = key.clone();
                let mut n = 2;
                while facts.contains_key(&name) {
                    name = format!("{key}_{n}");
                    n += 1;
                }
                facts.insert(name, value);
            }
        }
        Some(Summary::Failed(why)) => {
            let entry = serde_json::Value::from(format!("{}: {why}", preview.join(" ")));
            match facts
                .entry("not_summarised".to_string())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()))
            {
                serde_json::Value::Array(list) => list.push(entry),
                other => *other = serde_json::Value::Array(vec![entry]),
            }
        }
        None => {}
    }
}

/// `rule-a (high), rule-b (medium)`.
pub fn rule_list(verdict: &Verdict) -> String {
    let mut seen: Vec<String> = Vec::new();
    for f in &verdict.findings {
        let s = format!("{} ({})", f.rule, f.risk);
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    seen.join(", ")
}

/// The explanation shown before a prompt or a refusal.
pub fn explain(line: &str, verdict: &Verdict, policy: &Policy) -> String {
    let mut s = String::new();
    let label = format!("[{}]", policy.env_label.to_uppercase());
    let _ = writeln!(
        s,
        "safe-run: {} on {} — this line is {} risk:",
        policy.paint(&policy.env_color, &label),
        policy.paint(BOLD, &policy.host),
        verdict.risk
    );
    let _ = writeln!(s, "{}", underline(line, &verdict.findings, policy.style()));
    for f in &verdict.findings {
        let on = if f.target.is_local() {
            String::new()
        } else {
            format!(" (on {})", clean(&f.target.describe(), false))
        };
        let _ = writeln!(
            s,
            "  [{}] {}: {}{on}",
            f.risk,
            f.rule,
            clean(&f.command.join(" "), false)
        );
        let _ = writeln!(s, "{}", field("why", &f.why, policy.width));
        let _ = writeln!(s, "{}", field("instead", &f.instead, policy.width));
    }
    s.trim_end().to_string()
}

/// Where the line acts, in the order its findings name them, each once:
/// the targets of the findings that ask for something (of every finding
/// when none does).
pub fn acted_on(verdict: &Verdict) -> Vec<Target> {
    let asking: Vec<&Finding> = verdict
        .findings
        .iter()
        .filter(|f| f.action != Action::Allow)
        .collect();
    let findings = if asking.is_empty() {
        verdict.findings.iter().collect()
    } else {
        asking
    };
    let mut targets: Vec<Target> = Vec::new();
    for f in findings {
        if !targets.contains(&f.target) {
            targets.push(f.target.clone());
        }
    }
    targets
}

/// The exact text the operator must type (interactively or as `--confirm`)
/// when the level asks for a name: the name of what is acted on — this
/// host's short name for a command that acts here, the remote host's short
/// name (`ssh core-1 …`), every host of a literal list (`a b c`), the
/// cluster's context, or the text of a host known only at run time as
/// written (`$h`), which is never this host's name — joined by spaces, in
/// order, each once. `yes` for the levels that ask for `yes`.
pub fn expected_token(ask: Ask, host_short: &str, targets: &[Target]) -> String {
    if ask != Ask::ConfirmHost {
        return "yes".to_string();
    }
    let mut names: Vec<String> = Vec::new();
    for target in targets {
        let these = match target {
            Target::Local => vec![host_short.to_string()],
            other => other.names(),
        };
        for name in these {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if names.is_empty() {
        names.push(host_short.to_string());
    }
    names.join(" ")
}

/// Is the answer the token? Spaces between names do not matter (`a  b`
/// is `a b`); everything else must be exact.
fn token_matches(answer: &str, token: &str) -> bool {
    answer.split_whitespace().eq(token.split_whitespace())
}

/// What is acted on, in words, for a refusal: empty when it is this host.
fn where_said(targets: &[Target], host: &str) -> String {
    if targets.iter().all(Target::is_local) {
        return String::new();
    }
    format!(" on {}", targets_in_words(targets, host))
}

/// `this host (web-3) and host core-1`.
fn targets_in_words(targets: &[Target], host: &str) -> String {
    let words: Vec<String> = targets
        .iter()
        .map(|t| match t {
            Target::Local => format!("this host ({host})"),
            other => other.describe(),
        })
        .collect();
    let words = match words.as_slice() {
        [] => format!("this host ({host})"),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    // Host names come from the line: shown, never interpreted.
    clean(&words, false)
}

/// The question asked for the token: says what is acted on, in words,
/// and what to type.
fn question(ask: Ask, host: &str, targets: &[Target], token: &str, policy: &Policy) -> String {
    let local = targets.iter().all(Target::is_local);
    match ask {
        Ask::ConfirmHost if local => format!(
            "This runs on {}. Type the host name to run it (anything else cancels): ",
            policy.paint(BOLD, host)
        ),
        Ask::ConfirmHost => {
            let run_time = if targets.iter().any(|t| matches!(t, Target::Unknown(_))) {
                " (a name known only at run time: type it as written)"
            } else {
                ""
            };
            let not_here = if targets.contains(&Target::Local) {
                String::new()
            } else {
                format!(", not on this host ({host})")
            };
            format!(
                "This acts on {}{not_here}. Type {}{run_time} to run it (anything else cancels): ",
                targets_in_words(targets, host),
                policy.paint(BOLD, &clean(token, false))
            )
        }
        _ if local => "Type yes to run it (anything else cancels): ".to_string(),
        _ => format!(
            "This acts on {}. Type yes to run it (anything else cancels): ",
            targets_in_words(targets, host)
        ),
    }
}

/// The host name up to its first dot: `core-1.prod.example.com` → `core-1`.
pub fn short_host(host: &str) -> &str {
    crate::command::short_host(host)
}

/// Checks a reason; the error says what is missing, for the operator.
pub fn validate_reason(reason: &str, policy: &ReasonPolicy) -> Result<(), String> {
    let r = reason.trim();
    let chars: Vec<char> = r.chars().collect();
    if chars.len() < policy.min_len {
        return Err(format!(
            "a reason of at least {} characters is needed (got {})",
            policy.min_len,
            chars.len()
        ));
    }
    if !chars.iter().any(|c| c.is_alphanumeric()) {
        return Err("a reason made only of punctuation says nothing".to_string());
    }
    let distinct: std::collections::HashSet<char> = chars
        .iter()
        .filter(|c| !c.is_whitespace())
        .copied()
        .collect();
    if distinct.len() <= 1 {
        return Err("a reason made of one repeated character says nothing".to_string());
    }
    if policy.sentence
        && r.split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count()
            < 3
    {
        return Err(
            "this risk needs a reason of at least a sentence (three words or more)".to_string(),
        );
    }
    if let Some(p) = &policy.pattern
        && !p.is_match(r)
    {
        return Err(format!(
            "the reason must match the site's pattern `{}`",
            p.as_str()
        ));
    }
    Ok(())
}

/// Why a prompt ended without an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("interrupted (Ctrl-C)")]
    Interrupted,
    #[error("end of input (Ctrl-D)")]
    Eof,
    #[error("cannot use the terminal: {0}")]
    Terminal(String),
}

/// A conversation with the operator.
pub trait Prompter {
    /// Shows text (explanations, previews).
    fn say(&mut self, text: &str);
    /// Asks a question and returns the answer line.
    fn ask(&mut self, question: &str) -> Result<String, PromptError>;
    /// Asks for several lines at once (a pasted block): reads until a
    /// line for which `last` holds, an empty first line, or `max` lines.
    /// A terminal must not drop the rest of a paste between lines.
    fn ask_lines(
        &mut self,
        question: &str,
        last: &dyn Fn(&str) -> bool,
        max: usize,
    ) -> Result<Vec<String>, PromptError> {
        let mut lines = Vec::new();
        let mut q = question;
        while lines.len() < max {
            let line = self.ask(q)?;
            q = "";
            let done = last(&line) || (lines.is_empty() && line.trim().is_empty());
            lines.push(line);
            if done {
                break;
            }
        }
        Ok(lines)
    }
}

/// The controlling terminal.
pub struct TtyPrompter {
    tty: File,
}

impl TtyPrompter {
    /// Opens `/dev/tty`; fails when the process has no controlling terminal.
    pub fn open() -> io::Result<TtyPrompter> {
        let tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
        Ok(TtyPrompter { tty })
    }

    fn read_line(&mut self) -> Result<String, PromptError> {
        let term = |e: nix::Error| PromptError::Terminal(e.to_string());
        let saved = termios::tcgetattr(&self.tty).map_err(term)?;
        let mut raw = saved.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        termios::tcsetattr(&self.tty, SetArg::TCSAFLUSH, &raw).map_err(term)?;
        let result = self.edit_line();
        let _ = termios::tcsetattr(&self.tty, SetArg::TCSAFLUSH, &saved);
        let _ = self.tty.write_all(b"\r\n");
        result
    }

    fn edit_line(&mut self) -> Result<String, PromptError> {
        let mut bytes: Vec<u8> = Vec::new();
        let mut buf = [0u8; 1];
        loop {
            let n = self
                .tty
                .read(&mut buf)
                .map_err(|e| PromptError::Terminal(e.to_string()))?;
            if n == 0 {
                return Err(PromptError::Eof);
            }
            match buf[0] {
                b'\r' | b'\n' => break,
                0x03 => return Err(PromptError::Interrupted),
                0x04 if bytes.is_empty() => return Err(PromptError::Eof),
                0x04 => {}
                0x7f | 0x08 => {
                    // Remove one whole UTF-8 character.
                    let mut removed = false;
                    while let Some(b) = bytes.pop() {
                        removed = true;
                        if b & 0xC0 != 0x80 {
                            break;
                        }
                    }
                    if removed {
                        let _ = self.tty.write_all(b"\x08 \x08");
                    }
                }
                0x15 => {
                    // Ctrl-U: clear the answer.
                    let width = String::from_utf8_lossy(&bytes).chars().count();
                    let _ = self.tty.write_all("\x08 \x08".repeat(width).as_bytes());
                    bytes.clear();
                }
                0x1b => {
                    // Ignore escape sequences (arrow keys) rather than
                    // inserting them into the answer.
                    let _ = self.tty.read(&mut buf);
                    if buf[0] == b'[' || buf[0] == b'O' {
                        loop {
                            if self.tty.read(&mut buf).unwrap_or(0) == 0
                                || (0x40..=0x7e).contains(&buf[0])
                            {
                                break;
                            }
                        }
                    }
                }
                b if b < 0x20 => {}
                b => {
                    bytes.push(b);
                    let _ = self.tty.write_all(&[b]);
                }
            }
            let _ = self.tty.flush();
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Prompter for TtyPrompter {
    fn say(&mut self, text: &str) {
        let _ = self.tty.write_all(text.replace('\n', "\r\n").as_bytes());
        let _ = self.tty.flush();
    }

    fn ask(&mut self, question: &str) -> Result<String, PromptError> {
        self.say(question);
        self.read_line()
    }

    /// One raw-mode session for the whole block, so the lines of a paste
    /// that are already waiting are not flushed between two reads.
    fn ask_lines(
        &mut self,
        question: &str,
        last: &dyn Fn(&str) -> bool,
        max: usize,
    ) -> Result<Vec<String>, PromptError> {
        self.say(question);
        let term = |e: nix::Error| PromptError::Terminal(e.to_string());
        let saved = termios::tcgetattr(&self.tty).map_err(term)?;
        let mut raw = saved.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        termios::tcsetattr(&self.tty, SetArg::TCSAFLUSH, &raw).map_err(term)?;
        let mut lines = Vec::new();
        let result = loop {
            if lines.len() >= max {
                break Ok(());
            }
            match self.edit_line() {
                Ok(line) => {
                    let _ = self.tty.write_all(b"\r\n");
                    let done = last(&line) || (lines.is_empty() && line.trim().is_empty());
                    lines.push(line);
                    if done {
                        break Ok(());
                    }
                }
                Err(e) => break Err(e),
            }
        };
        let _ = termios::tcsetattr(&self.tty, SetArg::TCSADRAIN, &saved);
        result.map(|()| lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min_len: usize) -> ReasonPolicy {
        ReasonPolicy {
            min_len,
            pattern: None,
            sentence: false,
        }
    }

    /// A fixture's text without its `##` provenance header.
    fn fixture(text: &str) -> String {
        text.lines()
            .skip_while(|l| l.starts_with("##"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn ran(text: &str) -> PreviewRun {
        let (lines, more) = preview::cut(text, 20);
        PreviewRun::Ran(PreviewOutput {
            lines,
            more,
            text: text.to_string(),
            complete: true,
            ..PreviewOutput::default()
        })
    }

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn critical() -> Vec<String> {
        preview::DEFAULT_CRITICAL
            .iter()
            .map(|p| (*p).to_string())
            .collect()
    }

    const MAJOR: &str = include_str!("../tests/fixtures/previews/apt-upgrade-major.txt");

    #[test]
    fn facts_come_above_the_raw_lines_loud_ones_marked_and_in_the_risk_colour() {
        let critical = critical();
        let ctx = Context {
            host: "core-1",
            critical: &critical,
            mounts: None,
        };
        let mut policy = Policy {
            width: 200,
            ..Policy::default()
        };
        let (text, summary) = render_preview(
            &words("apt-get -s upgrade"),
            &words("apt-get upgrade -y"),
            ran(&fixture(MAJOR)),
            Risk::High,
            &policy,
            &ctx,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Preview: apt-get -s upgrade");
        assert_eq!(
            lines[1],
            "  ! new major version of what this host runs: docker-ce 19.03.15 → 20.10.5"
        );
        let first_raw = lines.iter().position(|l| l.starts_with("  │ ")).unwrap();
        let last_fact = lines
            .iter()
            .rposition(|l| l.starts_with("  ! ") || l.starts_with("  · "))
            .unwrap();
        assert!(last_fact < first_raw, "{text}");
        assert!(text.contains("  │ Inst docker-ce [5:19.03.15~3-0~debian-bookworm]"));
        assert!(matches!(summary, Some(Summary::Facts(_))));

        policy.color = true;
        let (text, _) = render_preview(
            &words("apt-get -s upgrade"),
            &words("apt-get upgrade"),
            ran(&fixture(MAJOR)),
            Risk::High,
            &policy,
            &ctx,
        );
        assert!(
            text.contains("  ! \x1b[1;31mnew major version of what this host runs"),
            "{text:?}"
        );
        assert!(
            text.contains("  · 5 packages change"),
            "plain facts are not painted"
        );
    }

    #[test]
    fn the_critical_list_comes_from_the_policy() {
        let major = fixture(include_str!(
            "../tests/fixtures/previews/apt-upgrade-major.txt"
        ));
        let verdict = verdict_with_preview("apt-get -s upgrade", "apt-get upgrade");
        let policy = Policy {
            critical_packages: vec!["libfoo*".into()],
            ..Policy::default()
        };
        let mut prompter = Scripted {
            answers: vec![],
            said: String::new(),
        };
        let mut err = Vec::new();
        let mut preview = |_: &[String]| ran(&major);
        let mut talk = Conversation {
            prompter: Some(&mut prompter),
            err: &mut err,
            preview: &mut preview,
        };
        let answer = decide(
            "apt-get upgrade",
            &verdict,
            Ask::ConfirmHost,
            &policy,
            Approval::default(),
            &mut talk,
        );
        let facts = answer.preview.unwrap();
        assert_eq!(facts["critical"], serde_json::json!(["libfoo1"]));
        assert!(
            prompter.said.contains(
                "! changes a package this host's workload runs on: libfoo1 1.6.20 → 1.6.21"
            )
        );
    }

    #[test]
    fn an_unsummarisable_preview_says_so_and_keeps_its_raw_lines() {
        let policy = Policy::default();
        let (text, summary) = render_preview(
            &words("apt-get -s upgrade"),
            &words("apt-get upgrade"),
            ran("Reading package lists...\n"),
            Risk::High,
            &policy,
            &Context::default(),
        );
        assert!(
            text.contains(
                "  · could not summarise: apt's output has no package count and no Inst/Remv lines"
            ),
            "{text}"
        );
        assert!(text.contains("  │ Reading package lists..."));
        let mut facts = PreviewFacts::new();
        note_facts(&mut facts, &words("apt-get -s upgrade"), summary.as_ref());
        assert_eq!(
            facts["not_summarised"],
            serde_json::json!([
                "apt-get -s upgrade: apt's output has no package count and no Inst/Remv lines"
            ])
        );
    }

    #[test]
    fn what_a_tool_prints_is_sanitised_in_facts_and_raw_lines() {
        let evil = "Inst docker-ce\x1b]0;pwned\x07 [1.0-1] (2.0-1 x [all])\n1 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n";
        let critical = critical();
        let ctx = Context {
            critical: &critical,
            ..Context::default()
        };
        let (text, _) = render_preview(
            &words("apt-get -s upgrade"),
            &words("apt-get upgrade"),
            ran(evil),
            Risk::High,
            &Policy::default(),
            &ctx,
        );
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
    }

    struct Scripted {
        answers: Vec<String>,
        said: String,
    }

    impl Prompter for Scripted {
        fn say(&mut self, text: &str) {
            self.said.push_str(text);
        }
        fn ask(&mut self, question: &str) -> Result<String, PromptError> {
            self.said.push_str(question);
            if self.answers.is_empty() {
                return Err(PromptError::Eof);
            }
            Ok(self.answers.remove(0))
        }
    }

    fn verdict_with_preview(preview: &str, command: &str) -> Verdict {
        Verdict::from_findings(vec![crate::verdict::Finding {
            target: Default::default(),
            rule: "apt-full-upgrade".into(),
            risk: Risk::High,
            action: crate::verdict::Action::Confirm,
            command: words(command),
            span: (0, command.len()),
            why: "Upgrades everything.".into(),
            instead: "Don't.".into(),
            preview: Some(words(preview)),
        }])
    }

    #[test]
    fn a_reassuring_summary_never_skips_the_prompt_and_is_kept_for_the_record() {
        let none = fixture(include_str!(
            "../tests/fixtures/previews/apt-upgrade-none.txt"
        ));
        let verdict = verdict_with_preview("apt-get -s upgrade", "apt-get upgrade");
        let policy = Policy {
            host: "core-1.example.com".into(),
            ..Policy::default()
        };
        let mut prompter = Scripted {
            answers: vec!["core-2".into()],
            said: String::new(),
        };
        let mut err = Vec::new();
        let mut preview = |_: &[String]| ran(&none);
        let mut talk = Conversation {
            prompter: Some(&mut prompter),
            err: &mut err,
            preview: &mut preview,
        };
        let answer = decide(
            "apt-get upgrade",
            &verdict,
            Ask::ConfirmHost,
            &policy,
            Approval::default(),
            &mut talk,
        );
        assert_eq!(answer.decision, Decision::Aborted);
        assert!(prompter.said.contains("· nothing changes: 0 upgraded"));
        assert!(prompter.said.contains("Type the host name to run it"));
        let facts = answer.preview.expect("the facts shown are on the answer");
        assert_eq!(facts["upgraded"], serde_json::json!(0));
    }

    #[test]
    fn tokens_follow_the_risk() {
        assert_eq!(expected_token(Ask::ConfirmYes, "core-1", &[]), "yes");
        assert_eq!(expected_token(Ask::ConfirmHost, "core-1", &[]), "core-1");
        assert_eq!(short_host("core-1.prod.example.com"), "core-1");
        assert_eq!(short_host("core-1"), "core-1");
    }

    #[test]
    fn the_token_is_the_name_of_what_is_acted_on() {
        let host = |h: &str| Target::Host(h.into());
        let cases: &[(&str, Vec<Target>, &str)] = &[
            ("this host", vec![Target::Local], "web-3"),
            (
                "a remote host",
                vec![host("root@core-1.prod.example.com")],
                "core-1",
            ),
            (
                "hosts of a loop",
                vec![Target::Hosts(vec!["a".into(), "b".into(), "c".into()])],
                "a b c",
            ),
            (
                "a cluster context",
                vec![Target::Cluster("prod-eu".into())],
                "prod-eu",
            ),
            (
                "a kubeconfig file",
                vec![Target::Cluster("/etc/kubernetes/admin.conf".into())],
                "admin",
            ),
            ("a run-time host", vec![Target::Unknown("$h".into())], "$h"),
            (
                "here and there",
                vec![Target::Local, host("core-1")],
                "web-3 core-1",
            ),
            (
                "each name once",
                vec![host("a"), host("a.example.com")],
                "a",
            ),
        ];
        for (name, targets, want) in cases {
            assert_eq!(
                expected_token(Ask::ConfirmHost, "web-3", targets),
                *want,
                "{name}"
            );
        }
        assert_eq!(
            expected_token(Ask::ConfirmYes, "web-3", &[host("core-1")]),
            "yes"
        );
        // The local name never confirms an action elsewhere.
        assert!(!token_matches("web-3", "core-1"));
        assert!(token_matches(" a  b c ", "a b c"));
        assert!(!token_matches("a b", "a b c"));
    }

    #[test]
    fn the_question_says_what_is_acted_on() {
        let policy = Policy::default();
        let q = question(
            Ask::ConfirmHost,
            "web-3",
            &[Target::Host("core-1".into())],
            "core-1",
            &policy,
        );
        assert!(
            q.contains("This acts on host core-1, not on this host (web-3)"),
            "{q}"
        );
        assert!(q.contains("Type core-1"), "{q}");
        let q = question(
            Ask::ConfirmHost,
            "web-3",
            &[Target::Cluster("prod-eu".into())],
            "prod-eu",
            &policy,
        );
        assert!(q.contains("This acts on cluster prod-eu"), "{q}");
        let q = question(
            Ask::ConfirmHost,
            "web-3",
            &[Target::Local],
            "web-3",
            &policy,
        );
        assert!(q.contains("Type the host name"), "{q}");
        let q = question(
            Ask::ConfirmHost,
            "web-3",
            &[Target::Unknown("$h".into())],
            "$h",
            &policy,
        );
        assert!(q.contains("known only at run time"), "{q}");
    }

    #[test]
    fn reasons_that_say_nothing_are_refused() {
        let p = policy(8);
        assert!(validate_reason("short", &p).is_err());
        assert!(validate_reason("........", &p).is_err());
        assert!(validate_reason("aaaaaaaaaaaa", &p).is_err());
        assert!(validate_reason("!!!! ???? ....", &p).is_err());
        assert!(validate_reason("CHG-4411 openssl patch", &p).is_ok());
    }

    #[test]
    fn critical_needs_a_sentence_and_the_pattern_when_set() {
        let p = ReasonPolicy {
            min_len: 20,
            pattern: Some(regex::Regex::new(r"[A-Z]+-[0-9]+").unwrap()),
            sentence: true,
        };
        assert!(validate_reason("CHG-1 aaaaaaaaaaaaaaaaaaaaaa", &p).is_err());
        assert!(validate_reason("rotate the etcd certificates now", &p).is_err());
        assert!(validate_reason("CHG-4411 rotate the etcd certificates now", &p).is_ok());
    }
}
