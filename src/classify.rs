//! Classification: judge every command of a parsed line against the rules.
//!
//! Pure and fast: a lookup of the rules by program name, then only those
//! rules' matchers. The verdict is the highest risk found (deny beats
//! everything), with every finding kept so the operator sees each reason.
//! The fleet blast radius lives here rather than in the rules: the same
//! `reboot` is one level riskier when it goes to several hosts at once.
//! So does the one judgement made before any rule: a command that only
//! asks for help or a version ([`asks_only_for_help`]) runs nothing.

use crate::command::{SimpleCommand, Span, Word};
use crate::context::LineContext;
use crate::parse::{ParseError, Script, parse_line, parse_line_in};
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

/// Every finding for one command. A command whose words name paths the
/// context resolved (`Word::path`) is judged as typed and as resolved:
/// `rm -rf *` in `/etc` is `rm -rf /etc/*`, `rm -rf /tmp/../etc` is
/// `rm -rf /etc`. Words that only name a place relative to the working
/// directory (`.`, `..`, `*`, `./*`) are judged only as resolved when it
/// is known, so `rm -rf .` in `/tmp/build` is not taken for deleting
/// whatever directory it might be.
pub fn classify_command(cmd: &SimpleCommand, rules: &RuleSet) -> Vec<Finding> {
    let mut findings = Vec::new();
    if asks_only_for_help(cmd) {
        return findings;
    }
    judge_forms(cmd, cmd, rules, &mut findings);
    // Each item of a loop it uses: `for d in /etc /usr; do rm -rf $d`.
    for argv in &cmd.context.variants {
        let mut form = cmd.clone();
        form.argv.clone_from(argv);
        form.context.variants = Vec::new();
        judge_forms(&form, cmd, rules, &mut findings);
    }
    findings
}

/// Judges `form` (`cmd` or one of its loop variants) as typed and, when it
/// names paths the context resolved, as resolved.
fn judge_forms(
    form: &SimpleCommand,
    cmd: &SimpleCommand,
    rules: &RuleSet,
    findings: &mut Vec<Finding>,
) {
    let words = || {
        form.argv
            .iter()
            .chain(form.redirects.iter().map(|r| &r.target))
    };
    if words().all(|w| w.path.is_none()) {
        judge(form, cmd, rules, findings);
        return;
    }
    let typed = resolved_view(form, |w| is_place_only(&w.text));
    judge(&typed, cmd, rules, findings);
    let resolved = resolved_view(form, |_| true);
    if resolved != typed {
        judge(&resolved, cmd, rules, findings);
    }
}

/// The command with the words that `replace` picks read as their path.
fn resolved_view(cmd: &SimpleCommand, replace: impl Fn(&Word) -> bool) -> SimpleCommand {
    let mut view = cmd.clone();
    let words = view
        .argv
        .iter_mut()
        .chain(view.redirects.iter_mut().map(|r| &mut r.target));
    for w in words {
        if let Some(path) = &w.path
            && replace(w)
        {
            w.text = path.clone();
        }
    }
    view
}

/// A relative word that only names a place through the working directory
/// (`.`, `..`, `./`, `*`, `.*`, `../*`).
fn is_place_only(text: &str) -> bool {
    !text.starts_with('/') && text.chars().all(|c| matches!(c, '.' | '/' | '*'))
}

/// Adds the findings of `view` (a form of `cmd`) that are not there yet.
fn judge(view: &SimpleCommand, cmd: &SimpleCommand, rules: &RuleSet, findings: &mut Vec<Finding>) {
    for rule in rules.rules_for_command(view) {
        if findings.iter().any(|f| f.rule == rule.id()) {
            continue;
        }
        let Some(m) = rule.matches(view) else {
            continue;
        };
        let mut risk = rule.risk();
        let mut why = rule.why().to_string();
        if cmd.context.fleet {
            risk = risk.raised();
            why.push_str(" It is sent to several hosts at once.");
        } else if cmd.context.loop_item {
            risk = risk.raised();
            why.push_str(" It runs once for every item of a loop, possibly on several hosts.");
        }
        let resolved: Vec<String> = cmd
            .argv
            .iter()
            .chain(cmd.redirects.iter().map(|r| &r.target))
            .zip(
                view.argv
                    .iter()
                    .chain(view.redirects.iter().map(|r| &r.target)),
            )
            .filter(|(typed, seen)| typed.text != seen.text)
            .take(3)
            .map(|(typed, seen)| format!("{} is {}", typed.text, seen.text))
            .collect();
        if !resolved.is_empty() {
            why.push_str(&format!(" Here, {}.", resolved.join(", ")));
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
            preview: rule.preview(view, &m),
            target: cmd.context.target.clone(),
        });
    }
}

/// Adds a finding unless the same rule already hit the same command at the
/// same place: a command can be reached twice (a substitution inside a
/// `bash -c` string is seen by both parses, once at its own place and once
/// at the string's), and is reported once.
pub fn push_unique(findings: &mut Vec<Finding>, f: Finding) {
    let nested = |a: Span, b: Span| (a.0 >= b.0 && a.1 <= b.1) || (b.0 >= a.0 && b.1 <= a.1);
    let seen = findings
        .iter()
        .any(|g| g.rule == f.rule && g.command == f.command && nested(g.span, f.span));
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

/// [`check_line`] for a line that runs in `place` (its working directory,
/// variables and scripts).
pub fn check_line_in(
    line: &str,
    rules: &RuleSet,
    place: &LineContext,
) -> Result<Verdict, ParseError> {
    Ok(classify(&parse_line_in(line, place)?, rules))
}
