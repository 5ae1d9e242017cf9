//! `safe-run check`: classify without running, for people and for tools.
//!
//! Takes text, the rules and the policy in force — the ones running would
//! use, loaded the same way — and writes what running would do: the
//! verdict *under the policy* (a site's `[confirm] high = "deny"` makes a
//! high-risk line `deny` here too), what it would ask, and why. Returns
//! the exit status (0: everything would run without a prompt; 1:
//! something needs a confirmation or is refused; 2: the input cannot be
//! parsed). No process, terminal or environment access: colour is decided
//! by the caller.
//!
//! JSON objects carry `verdict` (`allow`, `confirm`, `deny`: the action
//! under the policy), `asks` (the level's answer: `run`, `notice`,
//! `confirm-yes`, `confirm-host`, `deny`), `risk`, `findings` (each with
//! its rule's own `action`) and `sources` (the configuration and rules
//! used, see `policy::Provenance`). Characters that could act on a
//! terminal are escaped in the JSON as in everything printed.

use std::io::{self, Write};

use serde::Serialize;

use crate::audit::record::Provenance;
use crate::classify::{classify, classify_command, push_unique};
use crate::exit;
use crate::parse::{ParseError, parse_line};
use crate::policy::{Held, Policy};
use crate::rules::RuleSet;
use crate::term::paint::Style;
use crate::term::report::{headline, underline, write_findings};
use crate::term::sanitize::clean;
use crate::verdict::{Action, Ask, Finding, Risk, Verdict};

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    risk: Risk,
    action: Action,
    command: &'a [String],
    span: [usize; 2],
    why: &'a str,
    instead: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<&'a [String]>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    lineno: Option<usize>,
    line: &'a str,
    /// The action under the policy: what running would do.
    verdict: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    asks: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk: Option<Risk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<Vec<JsonFinding<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The change controls the line meets: a freeze, an approval, a fleet
    /// slot (`policy::Held`).
    #[serde(skip_serializing_if = "Held::is_empty")]
    controls: Held,
    sources: &'a Provenance,
}

impl<'a> JsonReport<'a> {
    fn judged(
        lineno: Option<usize>,
        line: &'a str,
        verdict: &'a Verdict,
        ask: Ask,
        held: Held,
        policy: &'a Policy,
    ) -> Self {
        JsonReport {
            lineno,
            line,
            verdict: ask.action().as_str(),
            asks: Some(if held.freeze.is_some() {
                "break-glass"
            } else {
                ask.as_str()
            }),
            risk: Some(verdict.risk),
            findings: Some(json_findings(&verdict.findings)),
            error: None,
            controls: held,
            sources: &policy.provenance,
        }
    }
}

fn json_findings(findings: &[Finding]) -> Vec<JsonFinding<'_>> {
    findings
        .iter()
        .map(|f| JsonFinding {
            rule: &f.rule,
            risk: f.risk,
            action: f.action,
            command: &f.command,
            span: [f.span.0, f.span.1],
            why: &f.why,
            instead: &f.instead,
            preview: f.preview.as_deref(),
        })
        .collect()
}

fn write_json(out: &mut dyn Write, report: &JsonReport) -> io::Result<()> {
    let text = serde_json::to_string(report).map_err(io::Error::other)?;
    writeln!(out, "{}", escape_json(&text))
}

/// serde_json escapes the C0 controls; this escapes what else could act
/// on a terminal that shows the JSON (DEL, the C1 controls, bidi
/// overrides, line and paragraph separators) the same way, as `\uXXXX`.
/// Those characters only occur inside strings, so the JSON stays valid
/// and means the same. Pure.
pub(crate) fn escape_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let code = c as u32;
        if code == 0x7f
            || (0x80..=0x9f).contains(&code)
            || matches!(code, 0x061c | 0x200e | 0x200f | 0x2028 | 0x2029 | 0x202a..=0x202e | 0x2066..=0x2069)
        {
            out.push_str(&format!("\\u{code:04x}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// 0 when the line would run without a prompt (a notice is fine), 1 when
/// it needs a confirmation or is refused.
fn status(ask: Ask) -> i32 {
    if ask.action() == Action::Allow {
        exit::CHECK_SILENT
    } else {
        exit::CHECK_NEEDS_APPROVAL
    }
}

/// What running the line would do under the policy, in one line: the
/// report's headline, and a note naming the site's setting when the
/// policy answers otherwise than the built-in defaults. Pure.
fn headline_under(verdict: &Verdict, ask: Ask, policy: &Policy) -> String {
    let risk = verdict.risk;
    let text = headline(verdict, ask);
    if verdict.action == Action::Deny
        || verdict.findings.is_empty()
        || ask == Policy::default().level(risk)
    {
        return text;
    }
    let setting = format!("confirm.{risk}");
    let strict = policy
        .provenance
        .strict
        .iter()
        .any(|s| s.split(" = ").next() == Some(setting.as_str()));
    let why = if strict {
        ", the strictest reading: the configuration file has an error there"
    } else {
        ""
    };
    format!("{text} — this site's policy: [confirm] {risk} = \"{ask}\"{why}")
}

/// `safe-run check LINE` under the built-in policy, as on a host with no
/// configuration.
pub fn check_line(
    rules: &RuleSet,
    line: &str,
    json: bool,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<i32> {
    check_line_with(rules, &Policy::default(), line, json, style, out)
}

/// `safe-run check LINE` under `policy`: the one the session loaded, so
/// the answer is what running would do.
pub(crate) fn check_line_with(
    rules: &RuleSet,
    policy: &Policy,
    line: &str,
    json: bool,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<i32> {
    match parse_line(line) {
        Err(e) => {
            report_error(out, None, line, &e, json, policy)?;
            Ok(exit::CHECK_ERROR)
        }
        Ok(script) => {
            let verdict = classify(&script, rules);
            let ask = policy.action_for(&verdict);
            let held = policy.change.held(&verdict, ask, rules);
            if json {
                let report = JsonReport::judged(None, line, &verdict, ask, held, policy);
                write_json(out, &report)?;
            } else {
                writeln!(out, "{}", headline_under(&verdict, ask, policy))?;
                write_held(out, &held, policy)?;
                if !verdict.findings.is_empty() {
                    writeln!(out, "{}", underline(line, &verdict.findings, style))?;
                    write_findings(out, &verdict.findings, style)?;
                }
            }
            Ok(status(ask))
        }
    }
}

/// The change controls a line meets, one line each, under the headline.
fn write_held(out: &mut dyn Write, held: &Held, policy: &Policy) -> io::Result<()> {
    if let Some(freeze) = &held.freeze {
        writeln!(
            out,
            "  held back by the change freeze {}: it runs only with --break-glass and a reason of at least {} characters",
            clean(freeze, false),
            policy.change.freeze_settings.break_glass_reason_min
        )?;
    }
    if let Some(why) = &held.approval {
        writeln!(
            out,
            "  needs a second operator's approval ({}): safe-run approve CODE, from the code the prompt shows",
            clean(why, false)
        )?;
    }
    if !held.slot.is_empty() {
        writeln!(
            out,
            "  takes a fleet slot of {} before it runs; refused while none is free",
            clean(&held.slot.join(", "), false)
        )?;
    }
    Ok(())
}

fn report_error(
    out: &mut dyn Write,
    lineno: Option<usize>,
    line: &str,
    e: &ParseError,
    json: bool,
    policy: &Policy,
) -> io::Result<()> {
    if json {
        write_json(
            out,
            &JsonReport {
                lineno,
                line,
                verdict: "error",
                asks: None,
                risk: None,
                findings: None,
                error: Some(e.to_string()),
                controls: Held::default(),
                sources: &policy.provenance,
            },
        )
    } else {
        let at = lineno.map(|n| format!("line {n}: ")).unwrap_or_default();
        writeln!(
            out,
            "ERROR: {at}cannot tell what this would run: {e}\n  {}\n  Nothing was run. Fix the syntax, or check the line with `bash -n`.",
            clean(line, false)
        )
    }
}

/// Where each line of a text starts, for turning byte offsets into line
/// numbers in O(log n) (a script of thousands of commands stays linear).
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Lines { text, starts }
    }

    /// How many lines (a final newline does not start another).
    fn count(&self) -> usize {
        if self.text.ends_with('\n') {
            self.starts.len() - 1
        } else {
            self.starts.len()
        }
    }

    /// The 1-based line number of a byte offset.
    fn number(&self, offset: usize) -> usize {
        self.starts.partition_point(|s| *s <= offset).max(1)
    }

    /// The byte offset where 1-based line `n` starts.
    fn start(&self, n: usize) -> usize {
        self.starts
            .get(n.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The byte offset where 1-based line `n` ends (before its newline).
    fn end(&self, n: usize) -> usize {
        let next = self.start(n + 1);
        if next > 0 && self.text.as_bytes().get(next - 1) == Some(&b'\n') {
            next - 1
        } else {
            next
        }
    }

    /// Lines `from..=to` (1-based), as written.
    fn span(&self, from: usize, to: usize) -> &'t str {
        let (s, e) = (self.start(from), self.end(to.max(from)));
        self.text.get(s..e).unwrap_or("")
    }
}

/// A part of a script that parsed, or a region that did not.
enum Part {
    /// Commands, with spans into the whole text.
    Parsed(crate::parse::Script),
    /// A region could not be parsed; the error is reported at line `at`
    /// (1-based, in the whole text).
    Broken { at: usize, error: ParseError },
}

/// How many lines a construct may span while recovery looks for its end.
const MAX_CHUNK_LINES: usize = 2_000;

/// Parses a script; when the whole text does not parse, recovers at the
/// next top-level command: lines are parsed in chunks that grow while the
/// parser says "not finished", a syntax error is reported at its own line
/// and parsing starts again on the line after it, and a construct left
/// open to the end of the file is reported where it opens.
fn parse_parts(lines: &Lines) -> Vec<Part> {
    match parse_line(lines.text) {
        Ok(script) => return vec![Part::Parsed(script)],
        Err(e) if !matches!(e, ParseError::Syntax { .. } | ParseError::Incomplete { .. }) => {
            return vec![Part::Broken { at: 1, error: e }];
        }
        Err(_) => {}
    }
    let total = lines.count();
    let mut parts = Vec::new();
    let mut first = 1;
    while first <= total {
        let mut last = first;
        loop {
            let offset = lines.start(first);
            let chunk = lines.span(first, last);
            match parse_line(chunk) {
                Ok(mut script) => {
                    for cmd in &mut script.commands {
                        shift(cmd, offset);
                    }
                    parts.push(Part::Parsed(script));
                    first = last + 1;
                    break;
                }
                Err(e) if e.is_incomplete() && last < total && last - first < MAX_CHUNK_LINES => {
                    last += 1;
                }
                Err(e) => {
                    // A syntax error at its own line; a construct still
                    // open at the end of the file where the chunk began,
                    // which is where it opened.
                    let at = match &e {
                        ParseError::Syntax { line, .. } => first + line.saturating_sub(1),
                        _ => first,
                    };
                    let at = at.clamp(first, last);
                    // Say the line in the whole file, not in the chunk.
                    let error = match e {
                        ParseError::Syntax { col, near, .. } => ParseError::Syntax {
                            line: at,
                            col,
                            near,
                        },
                        ParseError::Incomplete { what, .. } => ParseError::Incomplete {
                            what: format!(
                                "{what} (it opens here and is still open at the end of the file)"
                            ),
                            line: at,
                            col: 1,
                        },
                        other => other,
                    };
                    parts.push(Part::Broken { at, error });
                    // Start again after the bad line (an unfinished
                    // construct: after the line that opened it).
                    first = at + 1;
                    break;
                }
            }
        }
    }
    parts
}

/// Moves a command's spans (and those of its redirections and words) by
/// `offset` bytes: from a chunk to the whole text.
fn shift(cmd: &mut crate::command::SimpleCommand, offset: usize) {
    cmd.span = (cmd.span.0 + offset, cmd.span.1 + offset);
    let words = cmd
        .argv
        .iter_mut()
        .chain(cmd.assignments.iter_mut().map(|(_, w)| w))
        .chain(cmd.redirects.iter_mut().map(|r| &mut r.target));
    for w in words {
        w.span = (w.span.0 + offset, w.span.1 + offset);
    }
}

/// `safe-run check --file PATH`: every command of a script, reported with
/// the number of the line it starts on. A part that cannot be parsed is
/// reported at its line, with that line's text, and the rest is still
/// checked; the status is then "error" (2).
pub fn check_script(
    rules: &RuleSet,
    policy: &Policy,
    name: &str,
    text: &str,
    json: bool,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<i32> {
    let lines = Lines::new(text);
    let shown_name = clean(name, false);
    // Each reported line: its number, the last physical line its commands
    // reach (a command continued with `\` is reported whole), and its
    // findings; or a parse error.
    enum Report {
        Findings { last: usize, findings: Vec<Finding> },
        Error(ParseError),
    }
    let mut reports: std::collections::BTreeMap<usize, Vec<Report>> = Default::default();
    let mut commands = 0usize;
    for part in parse_parts(&lines) {
        match part {
            Part::Broken { at, error } => {
                reports.entry(at).or_default().push(Report::Error(error));
            }
            Part::Parsed(script) => {
                for cmd in &script.commands {
                    commands += 1;
                    let n = lines.number(cmd.span.0);
                    let last = lines.number(cmd.span.1.saturating_sub(1).max(cmd.span.0));
                    let findings = classify_command(cmd, rules);
                    let entry = reports.entry(n).or_default();
                    match entry
                        .iter_mut()
                        .find(|r| matches!(r, Report::Findings { .. }))
                    {
                        Some(Report::Findings {
                            last: l,
                            findings: fs,
                        }) => {
                            *l = (*l).max(last);
                            for f in findings {
                                push_unique(fs, f);
                            }
                        }
                        _ => entry.push(Report::Findings { last, findings }),
                    }
                }
            }
        }
    }
    let mut worst = exit::CHECK_SILENT;
    let mut counted = 0usize;
    for (n, at_line) in reports {
        for report in at_line {
            match report {
                Report::Error(e) => {
                    worst = exit::CHECK_ERROR;
                    let line = lines.span(n, n);
                    if !json {
                        write!(out, "{shown_name}: ")?;
                    }
                    report_error(out, Some(n), line, &e, json, policy)?;
                }
                Report::Findings { last, findings } => {
                    let verdict = Verdict::from_findings(findings);
                    let ask = policy.action_for(&verdict);
                    let line = lines.span(n, last);
                    worst = worst.max(status(ask));
                    // Spans are offsets in the whole text; report them
                    // relative to the reported line.
                    let start = lines.start(n);
                    let mut relative = verdict.clone();
                    for f in &mut relative.findings {
                        f.span = (
                            f.span.0.saturating_sub(start).min(line.len()),
                            f.span.1.saturating_sub(start).min(line.len()),
                        );
                    }
                    let held = policy.change.held(&relative, ask, rules);
                    if json {
                        write_json(
                            out,
                            &JsonReport::judged(Some(n), line, &relative, ask, held, policy),
                        )?;
                    } else if !relative.findings.is_empty() {
                        counted += 1;
                        writeln!(
                            out,
                            "{shown_name}:{n}: {}",
                            headline_under(&relative, ask, policy)
                        )?;
                        write_held(out, &held, policy)?;
                        writeln!(out, "{}", underline(line, &relative.findings, style))?;
                        write_findings(out, &relative.findings, style)?;
                    }
                }
            }
        }
    }
    if !json && counted == 0 && worst != exit::CHECK_ERROR {
        writeln!(
            out,
            "{shown_name}: ALLOW: nothing risky found in {commands} commands"
        )?;
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_newlines_before_the_offset() {
        let text = "a\nbb\nccc";
        let lines = Lines::new(text);
        assert_eq!(lines.number(0), 1);
        assert_eq!(lines.number(2), 2);
        assert_eq!(lines.number(5), 3);
        assert_eq!(lines.count(), 3);
        assert_eq!(lines.span(2, 3), "bb\nccc");
        assert_eq!(Lines::new("x\n").count(), 1);
    }

    fn rules() -> RuleSet {
        let toml = r#"
[[rule]]
id = "test-reboot"
risk = "high"
programs = ["reboot"]
why = "Reboots."
instead = "Don't."
match = ["reboot", "sudo reboot"]
allow = ["ls", "echo reboot"]

[[rule]]
id = "test-cordon"
risk = "low"
programs = ["cordon"]
why = "Cordons."
instead = "Uncordon later."
match = ["cordon", "sudo cordon"]
allow = ["ls", "echo cordon"]
"#;
        let mut set = RuleSet::new();
        set.add(RuleSet::parse_file(toml, "t.toml").expect("test rules parse"));
        set
    }

    fn check(policy: &Policy, line: &str, json: bool) -> (i32, String) {
        let mut out = Vec::new();
        let code = check_line_with(&rules(), policy, line, json, Style::default(), &mut out)
            .expect("writing to a Vec");
        (code, String::from_utf8(out).expect("UTF-8"))
    }

    #[test]
    fn the_answer_and_the_status_follow_the_policy() {
        let default = Policy::default();
        let (code, out) = check(&default, "reboot", false);
        assert_eq!(code, 1);
        assert!(
            out.starts_with("CONFIRM (high): needs a typed confirmation and a reason\n"),
            "{out}"
        );
        let deny = Policy {
            high: Ask::Deny,
            ..Policy::default()
        };
        let (code, out) = check(&deny, "reboot", false);
        assert_eq!(code, 1);
        assert!(
            out.starts_with(
                "DENY (high): refused by policy — this site's policy: [confirm] high = \"deny\"\n"
            ),
            "{out}"
        );
        let run = Policy {
            high: Ask::Run,
            ..Policy::default()
        };
        let (code, out) = check(&run, "reboot", true);
        assert_eq!(code, 0, "a level the site set to run exits 0");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            (v["verdict"].as_str(), v["asks"].as_str()),
            (Some("allow"), Some("run"))
        );
        assert_eq!(v["risk"], "high");
        assert_eq!(
            v["findings"][0]["action"], "confirm",
            "the rule's own action"
        );
        let raised = Policy {
            low: Ask::ConfirmYes,
            ..Policy::default()
        };
        let (code, out) = check(&raised, "cordon", true);
        assert_eq!(code, 1);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["verdict"], "confirm");
    }

    #[test]
    fn json_names_its_sources_and_escapes_what_could_act_on_a_terminal() {
        let mut policy = Policy::default();
        policy.provenance.config = "/etc/x.toml".into();
        policy.provenance.disabled = vec!["a-b".into()];
        let line = "echo \u{1b}[2J\u{9b}31m\u{202e}x\u{7f}";
        let (_, out) = check(&policy, line, true);
        for bad in ['\u{1b}', '\u{9b}', '\u{202e}', '\u{7f}'] {
            assert!(!out.contains(bad), "{bad:?} in {out:?}");
        }
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["line"], line, "the escapes read back as the line");
        assert_eq!(v["sources"]["config"], "/etc/x.toml");
        assert_eq!(v["sources"]["disabled"][0], "a-b");
    }

    #[test]
    fn a_file_name_with_escapes_is_shown_cleaned() {
        let mut out = Vec::new();
        check_script(
            &rules(),
            &Policy::default(),
            "x\u{1b}[31m.sh",
            "reboot\n",
            false,
            Style::default(),
            &mut out,
        )
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("x\\e[31m.sh:1: CONFIRM"), "{out}");
    }

    #[test]
    fn underline_marks_the_span_after_cleaning() {
        let f = Finding {
            target: Default::default(),
            rule: "r".into(),
            risk: Risk::High,
            action: Action::Confirm,
            command: vec!["reboot".into()],
            span: (6, 12),
            why: String::new(),
            instead: String::new(),
            preview: None,
        };
        let u = underline("echo; reboot", &[f], Style::default());
        assert_eq!(u, "  echo; reboot\n        ^^^^^^");
    }
}
