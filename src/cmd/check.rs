//! `safe-run check`: classify without running, for people and for tools.
//!
//! Takes text and a rule set, writes a report, returns the exit status
//! (0: everything would run without a prompt; 1: something needs a
//! confirmation or is refused; 2: the input cannot be parsed). No process,
//! terminal or environment access: colour is decided by the caller.

use std::io::{self, Write};

use serde::Serialize;

use crate::classify::{classify, classify_command, push_unique};
use crate::exit;
use crate::parse::{ParseError, parse_line};
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

/// The 1-based line number of a byte offset.
fn line_number(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `safe-run check --file PATH`: every command of a script, reported with
/// the number of the line it starts on.
pub fn check_script(
    rules: &RuleSet,
    name: &str,
    text: &str,
    json: bool,
    style: Style,
    out: &mut dyn Write,
) -> io::Result<i32> {
    let script = match parse_line(text) {
        Ok(s) => s,
        Err(e) => {
            let lineno = match &e {
                ParseError::Syntax { line, .. } => *line,
                _ => 1,
            };
            let line = text.lines().nth(lineno.saturating_sub(1)).unwrap_or("");
            if !json {
                write!(out, "{name}: ")?;
            }
            report_error(out, Some(lineno), line, &e, json)?;
            return Ok(exit::CHECK_ERROR);
        }
    };
    // Group commands by the line they start on, in order.
    let mut by_line: Vec<(usize, Vec<Finding>)> = Vec::new();
    for cmd in &script.commands {
        let n = line_number(text, cmd.span.0);
        let findings = classify_command(cmd, rules);
        match by_line.iter_mut().find(|(l, _)| *l == n) {
            Some((_, fs)) => {
                for f in findings {
                    push_unique(fs, f);
                }
            }
            None => by_line.push((n, findings)),
        }
    }
    by_line.sort_by_key(|(n, _)| *n);
    let mut worst = exit::CHECK_SILENT;
    let mut counted = 0usize;
    for (n, findings) in by_line {
        let verdict = Verdict::from_findings(findings);
        let line = text.lines().nth(n - 1).unwrap_or("");
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
            let start = text.lines().take(n - 1).map(|l| l.len() + 1).sum::<usize>();
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
        let text = "a\nbb\nccc";
        assert_eq!(line_number(text, 0), 1);
        assert_eq!(line_number(text, 2), 2);
        assert_eq!(line_number(text, 5), 3);
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
        };
        let u = underline("echo; reboot", &[f], Style::default());
        assert_eq!(u, "  echo; reboot\n        ^^^^^^");
    }
}
