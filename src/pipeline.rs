//! The one place that knows the order of the steps:
//!
//! ```text
//! line ──parse──▶ commands ──classify──▶ verdict ──confirm──▶ decision ──audit──▶ exec ──audit──▶ outcome
//! ```
//!
//! Everything with side effects comes in through `Io` — the prompter (the
//! terminal, or none), the audit sink, the runner and the previewer — so
//! the policy is tested with scripted fakes, and the binary passes the real
//! ones. Exit statuses follow DESIGN.md: the child's own status when it
//! ran; 77 refused by policy; 1 aborted at a prompt; 2 a line that cannot
//! be parsed.

use std::fmt::Write as _;
use std::io::Write;
use std::time::Duration;

use crate::classify::classify;
use crate::cmd::check::{Style, underline};
use crate::confirm::{Ask, Prompter, ReasonPolicy, expected_token, short_host, validate_reason};
use crate::exec::{Outcome, Program};
use crate::parse::{ParseError, Script, parse_argv, parse_line};
use crate::preview::PreviewOutput;
use crate::rules::RuleSet;
use crate::term::sanitize::clean;
use crate::verdict::{Action, Risk, Verdict};

/// Refused by policy (denied, or approval missing or wrong without a prompt).
pub const REFUSED: i32 = 77;
/// The operator aborted at a prompt.
pub const ABORTED: i32 = 1;
/// The line cannot be parsed.
pub const UNPARSEABLE: i32 = 2;

/// How the line arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A line typed at safe-run's own prompt.
    Shell,
    /// `safe-run -c LINE` (what sshd runs).
    DashC,
    /// `safe-run -- PROG ARGS…`.
    Argv,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Shell => "shell",
            Mode::DashC => "-c",
            Mode::Argv => "--",
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub enum Target {
    Line(String),
    Argv(Vec<String>),
}

/// One request to run something.
#[derive(Clone, Debug)]
pub struct Request {
    pub mode: Mode,
    pub target: Target,
    /// Approval given in advance (`--reason`, `--confirm`).
    pub reason: Option<String>,
    pub confirm: Option<String>,
}

/// What a risk level asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelAction {
    Run,
    Notice,
    ConfirmYes,
    ConfirmHost,
    Deny,
}

/// The site's policy, resolved from the configuration.
#[derive(Clone, Debug)]
pub struct Policy {
    pub low: LevelAction,
    pub medium: LevelAction,
    pub high: LevelAction,
    pub critical: LevelAction,
    pub reason_min: usize,
    pub reason_min_critical: usize,
    pub reason_pattern: Option<regex::Regex>,
    pub host: String,
    pub env_label: String,
    /// ANSI colour code for the environment label.
    pub env_color: String,
    pub shell: String,
    pub preview_timeout: Duration,
    pub preview_lines: usize,
    pub color: bool,
    /// Columns to wrap explanations at.
    pub width: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            low: LevelAction::Notice,
            medium: LevelAction::ConfirmYes,
            high: LevelAction::ConfirmHost,
            critical: LevelAction::ConfirmHost,
            reason_min: 8,
            reason_min_critical: 20,
            reason_pattern: None,
            host: "localhost".into(),
            env_label: "production".into(),
            env_color: "31".into(),
            shell: "/bin/bash".into(),
            preview_timeout: Duration::from_secs(10),
            preview_lines: 20,
            color: false,
            width: 100,
        }
    }
}

impl Policy {
    fn level(&self, risk: Risk) -> LevelAction {
        match risk {
            Risk::None => LevelAction::Run,
            Risk::Low => self.low,
            Risk::Medium => self.medium,
            Risk::High => self.high,
            Risk::Critical => self.critical,
        }
    }

    /// What the verdict asks of the operator under this policy.
    pub fn action_for(&self, verdict: &Verdict) -> LevelAction {
        if verdict.action == Action::Deny {
            return LevelAction::Deny;
        }
        self.level(verdict.risk)
    }

    fn reason_policy(&self, risk: Risk) -> ReasonPolicy {
        let critical = risk >= Risk::Critical;
        ReasonPolicy {
            min_len: if critical {
                self.reason_min_critical
            } else {
                self.reason_min
            },
            pattern: self.reason_pattern.clone(),
            sentence: critical,
        }
    }

    fn style(&self) -> Style {
        Style {
            color: self.color,
            width: self.width,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The decision taken on a line, as the audit log spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Confirmed,
    Refused,
    Denied,
    Aborted,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Confirmed => "confirmed",
            Decision::Refused => "refused",
            Decision::Denied => "denied",
            Decision::Aborted => "aborted",
        }
    }

    fn runs(self) -> bool {
        matches!(self, Decision::Allowed | Decision::Confirmed)
    }
}

/// Everything the audit log needs about a decision.
#[derive(Clone, Debug)]
pub struct DecisionInfo<'a> {
    pub mode: Mode,
    pub line: &'a str,
    pub argv: Option<&'a [String]>,
    pub verdict: &'a Verdict,
    pub decision: Decision,
    pub reason: Option<&'a str>,
}

/// Where decisions and outcomes are recorded.
pub trait AuditSink {
    /// Records a decision before anything runs; returns its id. `risky`
    /// asks for the record to be on disk (fsync) before returning.
    fn decision(&mut self, info: &DecisionInfo, risky: bool) -> Result<String, String>;
    /// Records how the command ended.
    fn outcome(&mut self, decision_id: &str, outcome: &Outcome) -> Result<(), String>;
}

/// Runs the approved program.
pub trait Runner {
    fn run(&mut self, program: &Program) -> Outcome;
}

/// The real runner.
pub struct ProcessRunner;

impl Runner for ProcessRunner {
    fn run(&mut self, program: &Program) -> Outcome {
        crate::exec::run(program)
    }
}

/// The side effects the pipeline may use.
pub struct Io<'a> {
    /// The terminal to ask on; `None` without a controlling terminal.
    pub prompter: Option<&'a mut dyn Prompter>,
    /// Where messages for the operator go (stderr).
    pub err: &'a mut dyn Write,
    pub audit: &'a mut dyn AuditSink,
    pub runner: &'a mut dyn Runner,
    pub previewer: &'a mut dyn FnMut(&[String], Duration, usize) -> PreviewOutput,
}

/// Runs one request through the whole pipeline; returns the exit status.
pub fn run_request(req: &Request, rules: &RuleSet, policy: &Policy, io: &mut Io) -> i32 {
    // 1. parse
    let parsed: Result<(String, Script), (String, ParseError)> = match &req.target {
        Target::Line(line) => parse_line(line)
            .map(|s| (line.clone(), s))
            .map_err(|e| (line.clone(), e)),
        Target::Argv(argv) => parse_argv(argv).map_err(|e| (argv.join(" "), e)),
    };
    let argv = match &req.target {
        Target::Argv(a) => Some(a.as_slice()),
        Target::Line(_) => None,
    };
    let (line, script) = match parsed {
        Ok(ok) => ok,
        Err((line, e)) => {
            let _ = writeln!(
                io.err,
                "safe-run: cannot tell what this line would run: {e}\n  {}\nNothing was run.",
                clean(&line, false)
            );
            let verdict = Verdict::default();
            let info = DecisionInfo {
                mode: req.mode,
                line: &line,
                argv,
                verdict: &verdict,
                decision: Decision::Refused,
                reason: Some("line could not be parsed"),
            };
            if let Err(e) = io.audit.decision(&info, true) {
                let _ = writeln!(io.err, "safe-run: warning: {e}");
            }
            return UNPARSEABLE;
        }
    };

    // 2. classify
    let verdict = classify(&script, rules);
    let level = policy.action_for(&verdict);

    // 3. confirm
    let (decision, reason, refusal_status) = decide(req, &line, &verdict, level, policy, rules, io);

    // 4. audit the decision, before anything runs
    let risky = verdict.action != Action::Allow || verdict.risk >= Risk::Medium;
    let info = DecisionInfo {
        mode: req.mode,
        line: &line,
        argv,
        verdict: &verdict,
        decision,
        reason: reason.as_deref(),
    };
    let decision_id = match io.audit.decision(&info, risky) {
        Ok(id) => Some(id),
        Err(e) if risky && decision.runs() => {
            let _ = writeln!(
                io.err,
                "safe-run: refused: {e}\n  A risky line runs only once its decision is on record. Fix the audit log (space, permissions, path in the config) and try again."
            );
            return REFUSED;
        }
        Err(e) => {
            let _ = writeln!(
                io.err,
                "safe-run: warning: {e}; running without an audit record."
            );
            None
        }
    };
    if !decision.runs() {
        return refusal_status;
    }
    if decision == Decision::Confirmed && req.confirm.is_some() {
        let _ = writeln!(
            io.err,
            "safe-run: approved by --confirm for {}: {}",
            rule_list(&verdict),
            clean(reason.as_deref().unwrap_or(""), false)
        );
    }

    // 5. run
    let program = match &req.target {
        Target::Argv(a) => Program::Argv(a.clone()),
        Target::Line(l) => Program::Shell {
            shell: policy.shell.clone(),
            line: l.clone(),
        },
    };
    let outcome = io.runner.run(&program);
    if let Some(e) = &outcome.error {
        let _ = writeln!(io.err, "safe-run: {e}");
    }

    // 6. audit the outcome
    if let Some(id) = decision_id
        && let Err(e) = io.audit.outcome(&id, &outcome)
    {
        let _ = writeln!(io.err, "safe-run: warning: {e}");
    }
    outcome.status
}

/// Takes the decision: from the policy, from approval flags, or by asking.
/// Returns the decision, the reason given, and the exit status to use if
/// the line does not run.
fn decide(
    req: &Request,
    line: &str,
    verdict: &Verdict,
    level: LevelAction,
    policy: &Policy,
    rules: &RuleSet,
    io: &mut Io,
) -> (Decision, Option<String>, i32) {
    let ask = match level {
        LevelAction::Run => return (Decision::Allowed, req.reason.clone(), 0),
        LevelAction::Notice => {
            for f in &verdict.findings {
                let _ = writeln!(
                    io.err,
                    "safe-run: notice: [{}] {}: {}",
                    f.risk,
                    f.rule,
                    clean(&f.why, false)
                );
            }
            return (Decision::Allowed, req.reason.clone(), 0);
        }
        LevelAction::Deny => {
            let _ = writeln!(io.err, "{}", explain(line, verdict, policy));
            let _ = writeln!(
                io.err,
                "safe-run: denied by policy ({}). Only a rule change lifts this.",
                rule_list(verdict)
            );
            return (Decision::Denied, req.reason.clone(), REFUSED);
        }
        LevelAction::ConfirmYes => Ask::Yes,
        LevelAction::ConfirmHost => Ask::Host,
    };
    let host = short_host(&policy.host).to_string();
    let token = expected_token(ask, &host);
    let reason_policy = policy.reason_policy(verdict.risk);

    // Approval given in advance (scripts): checked exactly like a prompt.
    if req.confirm.is_some() || req.reason.is_some() {
        let given = req.confirm.as_deref().unwrap_or("").trim();
        if given != token {
            let _ = writeln!(
                io.err,
                "safe-run: refused: this line needs approval ({}), and the confirmation given {} is not the one asked for: pass --confirm {token}.",
                rule_list(verdict),
                if given.is_empty() {
                    "(none)".to_string()
                } else {
                    format!("{:?}", clean(given, false))
                },
            );
            return (Decision::Refused, req.reason.clone(), REFUSED);
        }
        let reason = req.reason.clone().unwrap_or_default();
        if let Err(why) = validate_reason(&reason, &reason_policy) {
            let _ = writeln!(
                io.err,
                "safe-run: refused: the reason is not accepted: {why}."
            );
            return (Decision::Refused, req.reason.clone(), REFUSED);
        }
        return (Decision::Confirmed, Some(reason), 0);
    }

    let Some(prompter) = io.prompter.as_deref_mut() else {
        let _ = writeln!(io.err, "{}", explain(line, verdict, policy));
        let _ = writeln!(
            io.err,
            "safe-run: refused: this line needs confirmation ({}) and there is no terminal to ask on. Nothing was run.\n  To approve it from a script: --reason 'WHY, e.g. ticket id' --confirm {token}\n  (or set SAFE_RUN_REASON and SAFE_RUN_CONFIRM={token}).",
            rule_list(verdict)
        );
        return (Decision::Refused, None, REFUSED);
    };

    // Interactive: explain, preview, ask.
    prompter.say(&format!("{}\n", explain(line, verdict, policy)));
    let mut shown = Vec::new();
    for f in &verdict.findings {
        let Some(preview) = &f.preview else { continue };
        if shown.contains(preview) || shown.len() >= 3 {
            continue;
        }
        shown.push(preview.clone());
        let text = run_safe_preview(
            preview,
            preview_is_safe(preview, rules),
            policy,
            io.previewer,
        );
        prompter.say(&text);
    }
    let question = match ask {
        Ask::Yes => "Type yes to run it (anything else cancels): ".to_string(),
        Ask::Host => format!(
            "This runs on {}. Type the host name to run it (anything else cancels): ",
            policy.paint("1", &host)
        ),
    };
    match prompter.ask(&question) {
        Ok(answer) if answer.trim() == token => {}
        Ok(answer) => {
            prompter.say(&format!(
                "{:?} is not {token:?}. Nothing was run.\n",
                clean(answer.trim(), false)
            ));
            return (Decision::Aborted, None, ABORTED);
        }
        Err(e) => {
            prompter.say(&format!("Cancelled: {e}. Nothing was run.\n"));
            return (Decision::Aborted, None, ABORTED);
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
                return (Decision::Aborted, None, ABORTED);
            }
        };
        match validate_reason(&answer, &reason_policy) {
            Ok(()) => return (Decision::Confirmed, Some(answer.trim().to_string()), 0),
            Err(why) if attempt < 3 => prompter.say(&format!("Not accepted: {why}.\n")),
            Err(why) => {
                prompter.say(&format!("Not accepted: {why}. Nothing was run.\n"));
                return (Decision::Aborted, Some(answer.trim().to_string()), ABORTED);
            }
        }
    }
    (Decision::Aborted, None, ABORTED)
}

/// A preview runs only if it is itself harmless: it must parse as one
/// argv that the rules in force allow.
fn preview_is_safe(preview: &[String], rules: &RuleSet) -> bool {
    match parse_argv(preview) {
        Ok((_, script)) => classify(&script, rules).action == Action::Allow,
        Err(_) => false,
    }
}

fn run_safe_preview(
    preview: &[String],
    allowed: bool,
    policy: &Policy,
    previewer: &mut dyn FnMut(&[String], Duration, usize) -> PreviewOutput,
) -> String {
    let shown = clean(&preview.join(" "), false);
    if !allowed {
        return format!("Preview `{shown}` was not run: it is not a safe command itself.\n");
    }
    let out = previewer(preview, policy.preview_timeout, policy.preview_lines);
    let mut text = format!("Preview: {shown}\n");
    for l in &out.lines {
        let _ = writeln!(text, "  │ {}", clean(l, false));
    }
    if out.more > 0 {
        let _ = writeln!(text, "  │ … {} more lines", out.more);
    }
    if let Some(p) = &out.problem {
        let _ = writeln!(
            text,
            "  (preview: {p}; this neither blocks nor approves anything)"
        );
    }
    text
}

/// `rule-a (high), rule-b (medium)`.
fn rule_list(verdict: &Verdict) -> String {
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
        policy.paint("1", &policy.host),
        verdict.risk
    );
    let _ = writeln!(s, "{}", underline(line, &verdict.findings, policy.style()));
    for f in &verdict.findings {
        let _ = writeln!(
            s,
            "  [{}] {}: {}",
            f.risk,
            f.rule,
            clean(&f.command.join(" "), false)
        );
        let _ = writeln!(
            s,
            "{}",
            crate::cmd::check::field("why", &f.why, policy.width)
        );
        let _ = writeln!(
            s,
            "{}",
            crate::cmd::check::field("instead", &f.instead, policy.width)
        );
    }
    s.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confirm::PromptError;

    struct Script {
        answers: Vec<Result<String, PromptError>>,
        said: String,
    }

    impl Prompter for Script {
        fn say(&mut self, text: &str) {
            self.said.push_str(text);
        }
        fn ask(&mut self, q: &str) -> Result<String, PromptError> {
            self.said.push_str(q);
            if self.answers.is_empty() {
                return Err(PromptError::Eof);
            }
            self.answers.remove(0)
        }
    }

    #[derive(Default)]
    struct Log {
        decisions: Vec<(String, Option<String>)>,
        outcomes: usize,
        fail: bool,
    }

    impl AuditSink for Log {
        fn decision(&mut self, info: &DecisionInfo, _risky: bool) -> Result<String, String> {
            if self.fail {
                return Err("cannot write the audit log /x: disk full".into());
            }
            self.decisions.push((
                info.decision.as_str().to_string(),
                info.reason.map(str::to_string),
            ));
            Ok(format!("id{}", self.decisions.len()))
        }
        fn outcome(&mut self, _id: &str, _o: &Outcome) -> Result<(), String> {
            self.outcomes += 1;
            Ok(())
        }
    }

    struct Fake {
        ran: Vec<Program>,
    }

    impl Runner for Fake {
        fn run(&mut self, program: &Program) -> Outcome {
            self.ran.push(program.clone());
            Outcome {
                exit: Some(0),
                signal: None,
                status: 0,
                duration: Duration::ZERO,
                error: None,
            }
        }
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
allow = ["echo reboot", "ls"]

[[rule]]
id = "test-bomb"
risk = "critical"
action = "deny"
programs = ["bomb"]
why = "Bad."
instead = "Don't."
match = ["bomb", "sudo bomb"]
allow = ["echo bomb", "ls"]
"#;
        let mut set = RuleSet::new();
        set.add(RuleSet::parse_file(toml, "test.toml").expect("test rules parse"));
        set
    }

    fn policy() -> Policy {
        Policy {
            host: "core-1.example.com".into(),
            ..Policy::default()
        }
    }

    fn run(
        line: &str,
        answers: Vec<Result<String, PromptError>>,
        tty: bool,
        flags: (Option<&str>, Option<&str>),
    ) -> (i32, Log, Fake, String) {
        let mut log = Log::default();
        let mut fake = Fake { ran: vec![] };
        let mut err = Vec::new();
        let mut prompter = Script {
            answers,
            said: String::new(),
        };
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput {
            lines: vec![],
            more: 0,
            problem: None,
        };
        let req = Request {
            mode: Mode::DashC,
            target: Target::Line(line.into()),
            reason: flags.0.map(str::to_string),
            confirm: flags.1.map(str::to_string),
        };
        let status = {
            let mut io = Io {
                prompter: if tty { Some(&mut prompter) } else { None },
                err: &mut err,
                audit: &mut log,
                runner: &mut fake,
                previewer: &mut previewer,
            };
            run_request(&req, &rules(), &policy(), &mut io)
        };
        let text = String::from_utf8_lossy(&err).to_string() + &prompter.said;
        (status, log, fake, text)
    }

    #[test]
    fn safe_line_runs_and_is_logged_with_its_outcome() {
        let (status, log, fake, _) = run("ls", vec![], false, (None, None));
        assert_eq!(status, 0);
        assert_eq!(fake.ran.len(), 1);
        assert_eq!(log.decisions[0].0, "allowed");
        assert_eq!(log.outcomes, 1);
    }

    #[test]
    fn risky_line_without_terminal_is_refused_with_77_and_how_to_approve() {
        let (status, log, fake, text) = run("reboot", vec![], false, (None, None));
        assert_eq!(status, REFUSED);
        assert!(fake.ran.is_empty());
        assert_eq!(log.decisions[0].0, "refused");
        assert!(text.contains("--confirm core-1"), "{text}");
        assert!(text.contains("test-reboot"), "{text}");
    }

    #[test]
    fn flags_with_the_right_token_and_reason_run_it() {
        let (status, log, fake, _) = run(
            "reboot",
            vec![],
            false,
            (Some("CHG-1 kernel patch"), Some("core-1")),
        );
        assert_eq!(status, 0);
        assert_eq!(fake.ran.len(), 1);
        assert_eq!(
            log.decisions[0],
            ("confirmed".into(), Some("CHG-1 kernel patch".into()))
        );
    }

    #[test]
    fn a_wrong_token_is_refused() {
        let (status, _, fake, _) = run(
            "reboot",
            vec![],
            false,
            (Some("CHG-1 kernel patch"), Some("yes")),
        );
        assert_eq!(status, REFUSED);
        assert!(fake.ran.is_empty());
    }

    #[test]
    fn interactive_wrong_host_aborts_and_right_host_with_reason_runs() {
        let (status, log, fake, text) =
            run("reboot", vec![Ok("core-2".into())], true, (None, None));
        assert_eq!((status, fake.ran.len()), (ABORTED, 0));
        assert_eq!(log.decisions[0].0, "aborted");
        assert!(text.contains("Nothing was run"));
        let (status, log, fake, _) = run(
            "reboot",
            vec![Ok("core-1".into()), Ok("CHG-7 rolling kernel".into())],
            true,
            (None, None),
        );
        assert_eq!((status, fake.ran.len()), (0, 1));
        assert_eq!(log.decisions[0].0, "confirmed");
    }

    #[test]
    fn ctrl_c_at_the_prompt_aborts() {
        let (status, log, fake, _) = run(
            "reboot",
            vec![Err(PromptError::Interrupted)],
            true,
            (None, None),
        );
        assert_eq!((status, fake.ran.len()), (ABORTED, 0));
        assert_eq!(log.decisions[0].0, "aborted");
    }

    #[test]
    fn a_reason_that_says_nothing_is_asked_again_then_aborts() {
        let answers = vec![
            Ok("core-1".into()),
            Ok("x".into()),
            Ok("........".into()),
            Ok("aaaaaaaaaa".into()),
        ];
        let (status, _, fake, text) = run("reboot", answers, true, (None, None));
        assert_eq!((status, fake.ran.len()), (ABORTED, 0));
        assert!(text.contains("Not accepted"));
    }

    #[test]
    fn denied_rule_is_refused_even_with_flags() {
        let (status, log, fake, _) = run(
            "bomb",
            vec![],
            true,
            (Some("a long reason here"), Some("core-1")),
        );
        assert_eq!((status, fake.ran.len()), (REFUSED, 0));
        assert_eq!(log.decisions[0].0, "denied");
    }

    #[test]
    fn unwritable_log_refuses_risky_but_runs_safe() {
        let mut log = Log {
            fail: true,
            ..Log::default()
        };
        let mut fake = Fake { ran: vec![] };
        let mut err = Vec::new();
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput {
            lines: vec![],
            more: 0,
            problem: None,
        };
        let mut io = Io {
            prompter: None,
            err: &mut err,
            audit: &mut log,
            runner: &mut fake,
            previewer: &mut previewer,
        };
        let risky = Request {
            mode: Mode::Argv,
            target: Target::Argv(vec!["reboot".into()]),
            reason: Some("CHG-1 kernel patch".into()),
            confirm: Some("core-1".into()),
        };
        assert_eq!(run_request(&risky, &rules(), &policy(), &mut io), REFUSED);
        let safe = Request {
            mode: Mode::Argv,
            target: Target::Argv(vec!["ls".into()]),
            reason: None,
            confirm: None,
        };
        assert_eq!(run_request(&safe, &rules(), &policy(), &mut io), 0);
        assert_eq!(fake.ran.len(), 1);
        let text = String::from_utf8_lossy(&err);
        assert!(
            text.contains("refused") && text.contains("warning"),
            "{text}"
        );
    }

    #[test]
    fn unparseable_line_is_not_run() {
        let (status, _, fake, text) = run("ls )", vec![], true, (None, None));
        assert_eq!((status, fake.ran.len()), (UNPARSEABLE, 0));
        assert!(text.contains("cannot tell"));
    }
}
