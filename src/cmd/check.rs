//! `safe-run check`: classify without running, for people and for tools.
//!
//! Takes text and a rule set, writes a report, returns the exit status
//! (0: everything would run without a prompt; 1: something needs a
//! confirmation or is refused; 2: the input cannot be parsed). No process,
//! terminal or environment access: colour is decided by the caller.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::classify::{classify, classify_command, push_unique};
use crate::command::Target;
use crate::context::LineContext;
use crate::exit;
use crate::parse::{ParseError, parse_line, parse_script_in};
use crate::rules::RuleSet;
use crate::term::paint::Style;
use crate::term::report::{headline, underline, write_findings};
use crate::term::sanitize::clean;
use crate::verdict::{Action, Finding, Risk, Verdict};

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
    /// Where the command acts, when it is not this host.
    #[serde(skip_serializing_if = "Target::is_local")]
    target: &'a Target,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    lineno: Option<usize>,
    line: &'a str,
    verdict: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk: Option<Risk>,
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<Vec<JsonFinding<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
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
            target: &f.target,
        })
        .collect()
}

fn write_json(out: &mut dyn Write, report: &JsonReport) -> io::Result<()> {
    let text = serde_json::to_string(report).map_err(io::Error::other)?;
    writeln!(out, "{text}")
}

fn status(verdict: &Verdict) -> i32 {
    if verdict.runs_silently() {
        exit::CHECK_SILENT
    } else {
        exit::CHECK_NEEDS_APPROVAL
    }
}

/// `safe-run check LINE`.
pub fn check_line(
    rules: &RuleSet,
    line: &str,
    json: bool,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<i32> {
    match parse_line(line) {
        Err(e) => {
            report_error(out, None, line, &e, json)?;
            Ok(exit::CHECK_ERROR)
        }
        Ok(script) => {
            let verdict = classify(&script, rules);
            if json {
                write_json(
                    out,
                    &JsonReport {
                        lineno: None,
                        line,
                        verdict: verdict.action.as_str(),
                        risk: Some(verdict.risk),
                        findings: Some(json_findings(&verdict.findings)),
                        error: None,
                    },
                )?;
            } else {
                writeln!(out, "{}", headline(&verdict))?;
                if !verdict.findings.is_empty() {
                    writeln!(out, "{}", underline(line, &verdict.findings, style))?;
                    write_findings(out, &verdict.findings, style)?;
                }
            }
            Ok(status(&verdict))
        }
    }
}

fn report_error(
    out: &mut dyn Write,
    lineno: Option<usize>,
    line: &str,
    e: &ParseError,
    json: bool,
) -> io::Result<()> {
    if json {
        write_json(
            out,
            &JsonReport {
                lineno,
                line,
                verdict: "error",
                risk: None,
                findings: None,
                error: Some(e.to_string()),
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

/// Where each line of a text starts, to turn byte offsets into line
/// numbers in O(log n) (counting newlines from the start for every command
/// made checking a script quadratic in its length).
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

    /// The 1-based line number of a byte offset.
    fn number(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|s| *s <= offset.min(self.text.len()))
    }

    /// The byte offset where line `n` (1-based) starts.
    fn start(&self, n: usize) -> usize {
        self.starts.get(n - 1).copied().unwrap_or(self.text.len())
    }

    /// Line `n` (1-based), without its newline.
    fn line(&self, n: usize) -> &'t str {
        let start = self.start(n);
        let end = self.starts.get(n).map_or(self.text.len(), |e| e - 1);
        let line = self.text.get(start..end.max(start)).unwrap_or("");
        line.strip_suffix('\r').unwrap_or(line)
    }
}

/// `safe-run check --file PATH`: every command of a script, reported with
/// the number of the line it starts on. Function bodies are checked where
/// they are defined (`parse_script_in`), called or not. Time is linear in
/// the script's length.
pub fn check_script(
    rules: &RuleSet,
    name: &str,
    text: &str,
    json: bool,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<i32> {
    let lines = Lines::new(text);
    let script = match parse_script_in(text, &LineContext::default()) {
        Ok(s) => s,
        Err(e) => {
            let lineno = match &e {
                ParseError::Syntax { line, .. } => *line,
                _ => 1,
            };
            let line = lines.line(lineno.max(1));
            if !json {
                write!(out, "{name}: ")?;
            }
            report_error(out, Some(lineno), line, &e, json)?;
            return Ok(exit::CHECK_ERROR);
        }
    };
    // Group commands by the line they start on, in order.
    let mut by_line: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();
    for cmd in &script.commands {
        let fs = by_line.entry(lines.number(cmd.span.0)).or_default();
        for f in classify_command(cmd, rules) {
            push_unique(fs, f);
        }
    }
    let mut worst = exit::CHECK_SILENT;
    let mut counted = 0usize;
    for (n, findings) in by_line {
        let verdict = Verdict::from_findings(findings);
        let line = lines.line(n);
        worst = worst.max(status(&verdict));
        if json {
            write_json(
                out,
                &JsonReport {
                    lineno: Some(n),
                    line,
                    verdict: verdict.action.as_str(),
                    risk: Some(verdict.risk),
                    findings: Some(json_findings(&verdict.findings)),
                    error: None,
                },
            )?;
        } else if !verdict.findings.is_empty() {
            counted += 1;
            writeln!(out, "{name}:{n}: {}", headline(&verdict))?;
            // Spans are offsets in the whole text; show them on this line.
            let start = lines.start(n);
            let shifted: Vec<Finding> = verdict
                .findings
                .iter()
                .map(|f| {
                    let mut g = f.clone();
                    g.span = (
                        f.span.0.saturating_sub(start),
                        f.span.1.saturating_sub(start).min(line.len()),
                    );
                    g
                })
                .collect();
            writeln!(out, "{}", underline(line, &shifted, style))?;
            write_findings(out, &verdict.findings, style)?;
        }
    }
    if !json && counted == 0 {
        writeln!(
            out,
            "{name}: ALLOW: nothing risky found in {} commands",
            script.commands.len()
        )?;
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_count_newlines_before_the_offset() {
        let lines = Lines::new("a\nbb\nccc");
        assert_eq!(lines.number(0), 1);
        assert_eq!(lines.number(1), 1);
        assert_eq!(lines.number(2), 2);
        assert_eq!(lines.number(5), 3);
        assert_eq!(lines.number(99), 3);
        assert_eq!(
            (lines.line(1), lines.line(2), lines.line(3)),
            ("a", "bb", "ccc")
        );
        assert_eq!(lines.start(3), 5);
    }

    #[test]
    fn underline_marks_the_span_after_cleaning() {
        let f = Finding {
            rule: "r".into(),
            risk: Risk::High,
            action: Action::Confirm,
            command: vec!["reboot".into()],
            span: (6, 12),
            why: String::new(),
            instead: String::new(),
            preview: None,
            target: Default::default(),
        };
        let u = underline("echo; reboot", &[f], Style::default());
        assert_eq!(u, "  echo; reboot\n        ^^^^^^");
    }
}
