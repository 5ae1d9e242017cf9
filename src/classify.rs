//! Classification: judge every command of a parsed line against the rules.
//!
//! Pure and fast: a lookup of the rules by program name, then only those
//! rules' matchers. The verdict is the highest risk found (deny beats
//! everything), with every finding kept so the operator sees each reason.
//! The fleet blast radius lives here rather than in the rules: the same
//! `reboot` is one level riskier when it goes to several hosts at once.

use crate::command::SimpleCommand;
use crate::parse::{ParseError, Script, parse_line};
use crate::rules::RuleSet;
use crate::verdict::{Action, Finding, Verdict};

/// Every finding for one command.
pub fn classify_command(cmd: &SimpleCommand, rules: &RuleSet) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rule in rules.rules_for_command(cmd) {
        let Some(m) = rule.matches(cmd) else { continue };
        let mut risk = rule.risk();
        let mut why = rule.why().to_string();
        if cmd.context.fleet {
            risk = risk.raised();
            why.push_str(" It is sent to several hosts at once.");
        } else if cmd.context.loop_item {
            risk = risk.raised();
            why.push_str(" It runs once for every item of a loop, possibly on several hosts.");
        }
        let action = if rule.denies() {
            Action::Deny
        } else {
            Action::for_risk(risk)
        };
        findings.push(Finding {
            rule: rule.id().to_string(),
            risk,
            action,
            command: cmd.argv_text(),
            span: cmd.span,
            why,
            instead: rule.instead().to_string(),
            preview: rule.preview(cmd, &m),
        });
    }
    findings
}

/// Adds a finding unless the same rule already hit the same command at the
/// same place: a command can be reached twice (a substitution inside a
/// `bash -c` string is seen by both parses), and is reported once.
pub fn push_unique(findings: &mut Vec<Finding>, f: Finding) {
    let seen = findings
        .iter()
        .any(|g| g.rule == f.rule && g.command == f.command && g.span == f.span);
    if !seen {
        findings.push(f);
    }
}

/// The verdict on a parsed line.
pub fn classify(script: &Script, rules: &RuleSet) -> Verdict {
    let mut findings: Vec<Finding> = Vec::new();
    for cmd in &script.commands {
        for f in classify_command(cmd, rules) {
            push_unique(&mut findings, f);
        }
    }
    Verdict::from_findings(findings)
}

/// Parses `line` and classifies every command it could run. A line that
/// cannot be parsed is an error, never a verdict of "safe".
pub fn check_line(line: &str, rules: &RuleSet) -> Result<Verdict, ParseError> {
    Ok(classify(&parse_line(line)?, rules))
}
