//! The verdict as people read it: the one-line headline, the line with the
//! risky commands underlined, and each finding with its why and instead
//! wrapped to the width. Used by `check` and by the explanation shown
//! before a confirmation, so both say the same thing the same way. Pure:
//! the colour and the width come in as a [`Style`].

use std::io::{self, Write};

use crate::term::paint::{Style, risk_sgr};
use crate::term::sanitize::clean;
use crate::term::width::field;
use crate::verdict::{Action, Ask, Finding, Risk, Verdict};

/// A one-line summary of what a verdict comes to when its level asks
/// `ask` (the policy's answer), e.g. `CONFIRM (high): …`.
pub fn headline(verdict: &Verdict, ask: Ask) -> String {
    match (verdict.action, ask, verdict.risk) {
        (Action::Allow, _, Risk::None) if verdict.findings.is_empty() => {
            "ALLOW: nothing risky found".to_string()
        }
        (Action::Deny, _, risk) | (_, Ask::Deny, risk) => {
            format!("DENY ({risk}): refused by policy")
        }
        (_, Ask::Run, risk) => format!("ALLOW ({risk}): runs without a notice or a confirmation"),
        (_, Ask::Notice, risk) => format!("ALLOW with a notice ({risk})"),
        (_, Ask::ConfirmYes | Ask::ConfirmHost, risk) => {
            format!("CONFIRM ({risk}): needs a typed confirmation and a reason")
        }
    }
}

/// The line with the findings' commands underlined, cleaned for a terminal.
pub fn underline(line: &str, findings: &[Finding], style: Style) -> String {
    let one_line = clean(line, false);
    let mut marks: Vec<bool> = vec![false; one_line.chars().count()];
    for f in findings {
        let (s, e) = (f.span.0.min(line.len()), f.span.1.min(line.len()));
        let (Some(pre), Some(mid)) = (line.get(..s), line.get(s..e)) else {
            continue;
        };
        let start = clean(pre, false).chars().count();
        let len = clean(mid, false).chars().count();
        for m in marks.iter_mut().skip(start).take(len) {
            *m = true;
        }
    }
    let carets: String = marks.iter().map(|m| if *m { '^' } else { ' ' }).collect();
    format!(
        "  {one_line}\n  {}",
        style.paint(risk_sgr(Risk::High), carets.trim_end())
    )
}

pub fn write_findings(out: &mut dyn Write, findings: &[Finding], style: Style) -> io::Result<()> {
    for f in findings {
        let command = clean(&f.command.join(" "), false);
        writeln!(
            out,
            "  [{}] {} ({}): {}",
            style.risk(f.risk),
            f.rule,
            f.action,
            command
        )?;
        writeln!(out, "{}", field("why", &f.why, style.width))?;
        writeln!(out, "{}", field("instead", &f.instead, style.width))?;
        if let Some(p) = &f.preview {
            writeln!(out, "{}", field("preview", &p.join(" "), style.width))?;
        }
    }
    Ok(())
}
