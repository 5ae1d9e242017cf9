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

use crate::classify::{classify, classify_command, push_unique};
use crate::exit;
use crate::parse::{ParseError, parse_line};
use crate::policy::{Policy, Provenance};
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
    sources: &'a Provenance,
}

impl<'a> JsonReport<'a> {
    fn judged(
        lineno: Option<usize>,
        line: &'a str,
        verdict: &'a Verdict,
        ask: Ask,
        policy: &'a Policy,
    ) -> Self {
        JsonReport {
            lineno,
            line,
            verdict: ask.action().as_str(),
            asks: Some(ask.as_str()),
            risk: Some(verdict.risk),
            findings: Some(json_findings(&verdict.findings)),
            error: None,
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
            if json {
                write_json(out, &JsonReport::judged(None, line, &verdict, ask, policy))?;
            } else {
                writeln!(out, "{}", headline_under(&verdict, ask, policy))?;
                if !verdict.findings.is_empty() {
                    writeln!(out, "{}", underline(line, &verdict.findings, style))?;
                    write_findings(out, &verdict.findings, style)?;
                }
            }
            Ok(status(ask))
        }
    }
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
pub(crate) fn check_script(
    rules: &RuleSet,
    policy: &Policy,
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
                write!(out, "{}: ", clean(name, false))?;
            }
            report_error(out, Some(lineno), line, &e, json, policy)?;
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
    let shown_name = clean(name, false);
    let mut worst = exit::CHECK_SILENT;
    let mut counted = 0usize;
    for (n, findings) in by_line {
        let verdict = Verdict::from_findings(findings);
        let ask = policy.action_for(&verdict);
        let line = text.lines().nth(n - 1).unwrap_or("");
        worst = worst.max(status(ask));
        if json {
            write_json(
                out,
                &JsonReport::judged(Some(n), line, &verdict, ask, policy),
            )?;
        } else if !verdict.findings.is_empty() {
            counted += 1;
            writeln!(
                out,
                "{shown_name}:{n}: {}",
                headline_under(&verdict, ask, policy)
            )?;
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
            "{shown_name}: ALLOW: nothing risky found in {} commands",
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
