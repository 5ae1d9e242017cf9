//! Classification: judge every command of a parsed line against the rules.
//!
//! Pure and fast: a lookup of the rules by program name, then only those
//! rules' matchers. The verdict is the highest risk found (deny beats
//! everything), with every finding kept so the operator sees each reason.
//! The fleet blast radius lives here rather than in the rules: the same
//! `reboot` is one level riskier when it goes to several hosts at once.
//! So does the one judgement made before any rule: a command that only
//! asks for help or a version ([`asks_only_for_help`]) runs nothing.

use crate::command::SimpleCommand;
use crate::parse::{ParseError, Script, parse_line};
use crate::rules::RuleSet;
use crate::verdict::{Action, Finding, Verdict};

/// Programs whose `-h` is help wherever it appears (`docker stop -h`,
/// `kubectl delete -h`): their option parsers reserve it on every
/// subcommand. Elsewhere `-h` counts as help only when it is the only
/// argument, because for many programs it means something else (`df -h`,
/// `sort -h`, `chown -h`, `shutdown -h`).
const DASH_H_IS_HELP: &[&str] = &[
    "docker",
    "podman",
    "nerdctl",
    "crictl",
    "ctr",
    "kubectl",
    "oc",
    "helm",
    "kubeadm",
    "k3s",
    "etcdctl",
    "systemctl",
    "journalctl",
    "apt",
    "apt-get",
    "terraform",
    "vault",
    "consul",
    "nomad",
    "gh",
    "gcloud",
    "az",
    "virsh",
    "lxc",
    "incus",
];

/// Programs for which `-h` is never help, even alone: `shutdown -h`,
/// `halt -h` and `poweroff -h` halt the machine.
const DASH_H_IS_NOT_HELP: &[&str] = &["shutdown", "halt", "poweroff", "reboot"];

/// Does the command only ask for help or a version? Then the program prints
/// text and exits, whatever else the line says: `--help` and `--version`
/// count anywhere before `--` (GNU and most modern parsers act on them
/// first); `-h` counts when it is the only argument, or for the programs of
/// [`DASH_H_IS_HELP`], and never for those of [`DASH_H_IS_NOT_HELP`]. A
/// command whose program is only known at run time, or that writes a file
/// through a redirection, is never just asking.
pub fn asks_only_for_help(cmd: &SimpleCommand) -> bool {
    let Some(program) = cmd.program() else {
        return false;
    };
    if program.is_empty() || cmd.redirects.iter().any(|r| r.kind.writes()) {
        return false;
    }
    let args = cmd.args();
    let before_end = args.iter().take_while(|w| w.text != "--");
    let mut dash_h = false;
    for w in before_end {
        match w.text.as_str() {
            "--help" | "--version" => return true,
            "-h" => dash_h = true,
            _ => {}
        }
    }
    dash_h
        && !DASH_H_IS_NOT_HELP.contains(&program)
        && (args.len() == 1 || DASH_H_IS_HELP.contains(&program))
}

/// Every finding for one command.
pub fn classify_command(cmd: &SimpleCommand, rules: &RuleSet) -> Vec<Finding> {
    let mut findings = Vec::new();
    if asks_only_for_help(cmd) {
        return findings;
    }
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
