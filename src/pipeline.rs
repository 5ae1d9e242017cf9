//! The one place that knows the order of the steps:
//!
//! ```text
//! line ──parse──▶ commands ──classify──▶ verdict ──freeze──▶ ──confirm──▶ ──approval──▶ ──slot──▶ decision ──audit──▶ exec ──audit──▶ outcome
//! ```
//!
//! (`freeze`: a change freeze holds a risky line back unless break-glass
//! is given, `gate`. `approval`: a line the site reserves for two people
//! runs only with a second operator's signature, `gate`. `slot`: a line
//! that disrupts this node takes a fleet slot, `fleet`, or runs without
//! one with break-glass. The slot comes last: a line the freeze, the
//! operator or a missing approval stops never holds one; and an approval
//! is used up only after it, so a line refused its slot keeps it.)
//!
//! Each step is its own module (`parse`, `classify`, `confirm`, `audit`,
//! `exec`); this file only calls them in order and decides what happens
//! when a step fails. Everything with side effects comes in through `Io` —
//! the prompter (the terminal, or none), the audit sink, the runner and the
//! previewer — so the policy is tested with scripted fakes, and the binary
//! passes the real ones. Exit statuses are `exit`'s.

use std::io::Write;
use std::time::Duration;

use crate::approval;
use crate::audit::record::{SlotEvent, SlotRecord};
use crate::audit::recorder::{AuditSink, ChangeNote, DecisionInfo};
use crate::classify::classify;
use crate::confirm::{self, Approval, Conversation, PreviewRun, Prompter, rule_list};
use crate::context::LineContext;
use crate::controls::Controls;
use crate::exec::{Program, Runner};
use crate::exit;
use crate::fleet::{HeldSlot, Slots, Take};
use crate::freeze;
use crate::gate::{self, ApprovalGate, FreezeGate};
use crate::parse::{ParseError, Script, parse_argv, parse_argv_in, parse_line_in};
use crate::policy::Policy;
use crate::preview::PreviewOutput;
use crate::rules::RuleSet;
use crate::term::sanitize::clean;
use crate::verdict::{Action, Ask, Decision, Mode, Risk, Verdict};

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
    /// `--break-glass`: run a risky line during a change freeze
    /// (docs/FREEZES.md), or a disruptive one when no fleet slot can be had
    /// (docs/FLEET.md). Either way it needs the longer reason, and the
    /// record says so.
    pub break_glass: bool,
    /// `--approval FILE`: a second operator's approval, the file's text.
    pub approval: Option<String>,
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
    /// Where the line runs: working directory, variables, home, and the
    /// reader of the scripts it runs.
    pub place: &'a LineContext<'a>,
    /// The fleet's slots, when this host is in a group (docs/FLEET.md).
    pub fleet: Option<&'a mut dyn Slots>,
    /// The change controls: the freeze in force, approvals.
    pub controls: &'a mut dyn Controls,
}

/// Shows the audit sink's warnings (a syslog copy that could not be sent).
fn show_warnings(io: &mut Io) {
    for w in io.audit.take_warnings() {
        let _ = writeln!(io.err, "safe-run: warning: {w}");
    }
}

/// Runs one request through the whole pipeline; returns the exit status.
pub fn run_request(req: &Request, rules: &RuleSet, policy: &Policy, io: &mut Io) -> i32 {
    run_checked(req, None, rules, policy, io)
}

/// [`run_request`] where the checks see `checked` instead of the line: the
/// interactive shell's line with its aliases expanded and the definitions
/// of the session's functions it may call written before it, so that a
/// call is judged by what it runs. The explanation shows that text (the
/// findings point into it); the line as typed is what is logged and run.
pub fn run_checked(
    req: &Request,
    checked: Option<&str>,
    rules: &RuleSet,
    policy: &Policy,
    io: &mut Io,
) -> i32 {
    // 1. parse
    let parsed: Result<(String, Script), (String, ParseError)> = match &req.target {
        Target::Line(line) => parse_line_in(checked.unwrap_or(line), io.place)
            .map(|s| (line.clone(), s))
            .map_err(|e| (line.clone(), e)),
        Target::Argv(argv) => parse_argv_in(argv, io.place).map_err(|e| (argv.join(" "), e)),
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
                preview: None,
                slot: None,
                change: ChangeNote::default(),
            };
            let recorded = io.audit.decision(&info, true);
            show_warnings(io);
            if let Err(e) = recorded {
                let _ = writeln!(io.err, "safe-run: warning: {e}");
            }
            return exit::USAGE;
        }
    };

    // 2. classify
    let verdict = classify(&script, rules);
    let ask = policy.action_for(&verdict);

    // 2b. a change freeze holds a risky line back unless break-glass is given
    let frozen = if ask != Ask::Deny && freeze::holds(io.controls.freeze_settings(), verdict.risk) {
        io.controls.freeze()
    } else {
        None
    };
    let held = gate::freeze_gate(
        &verdict,
        ask,
        frozen,
        io.controls.freeze_settings(),
        req.break_glass,
        match io.prompter.as_deref_mut() {
            Some(p) => Some(p),
            None => None,
        },
        &mut *io.err,
    );
    let mut change = ChangeNote {
        freeze: held.freeze().map(freeze::Freeze::describe),
        ..ChangeNote::default()
    };
    let freeze_glass = matches!(held, FreezeGate::BreakGlass(_));
    let glass_policy;
    let (ask, policy) = match held {
        FreezeGate::Clear => (ask, policy),
        FreezeGate::BreakGlass(_) => {
            let min = io.controls.freeze_settings().break_glass_reason_min;
            glass_policy = gate::break_glass_policy(policy, min);
            (gate::break_glass_ask(ask), &glass_policy)
        }
        FreezeGate::Stopped {
            decision, status, ..
        } => {
            let info = DecisionInfo {
                mode: req.mode,
                line: &line,
                argv,
                verdict: &verdict,
                decision,
                reason: None,
                preview: None,
                slot: None,
                change,
            };
            let recorded = io.audit.decision(&info, true);
            show_warnings(io);
            if let Err(e) = recorded {
                let _ = writeln!(io.err, "safe-run: warning: {e}");
            }
            return status;
        }
    };

    // 2c. a line that disrupts this node takes a fleet slot once it is
    // confirmed and approved (step 3c); with --break-glass it runs without
    // one should none be free, so it needs break-glass's longer reason now
    let disruptive = match io.fleet.as_deref() {
        Some(fleet) if ask != Ask::Deny => fleet.disruptive(&verdict, rules),
        _ => None,
    };
    let fleet_glass_policy;
    let (ask, policy) = if req.break_glass && disruptive.is_some() {
        let min = io.controls.freeze_settings().break_glass_reason_min;
        if !freeze_glass {
            let _ = writeln!(
                io.err,
                "safe-run: BREAK-GLASS: should no fleet slot be free, this disruptive line runs without one, recorded as break-glass; its reason needs at least {min} characters."
            );
        }
        fleet_glass_policy = gate::break_glass_policy(policy, min);
        (gate::break_glass_ask(ask), &fleet_glass_policy)
    } else {
        (ask, policy)
    };

    // Nobody is asked for a reason that cannot be recorded.
    if matches!(ask, Ask::ConfirmYes | Ask::ConfirmHost)
        && let Err(e) = io.audit.ready()
    {
        let _ = writeln!(
            io.err,
            "safe-run: refused: this line needs confirmation ({}), and the audit log cannot be written: {e}\n  A risky line runs only once its decision is on record. Nothing was asked or run.",
            rule_list(&verdict)
        );
        return exit::REFUSED;
    }

    // 3. confirm (a preview is classified before it runs)
    let mut answer = {
        let previewer = &mut *io.previewer;
        let mut preview = |argv: &[String]| {
            if preview_is_safe(argv, rules) {
                PreviewRun::Ran(previewer(
                    argv,
                    policy.preview_timeout,
                    policy.preview_lines,
                ))
            } else {
                PreviewRun::Unsafe
            }
        };
        let mut talk = Conversation {
            prompter: match io.prompter.as_deref_mut() {
                Some(p) => Some(p),
                None => None,
            },
            err: &mut *io.err,
            preview: &mut preview,
        };
        let given = Approval {
            reason: req.reason.as_deref(),
            confirm: req.confirm.as_deref(),
        };
        let shown = checked.unwrap_or(&line);
        confirm::decide(shown, &verdict, ask, policy, given, &mut talk)
    };
    let mut decision = answer.decision;
    let mut status = answer.status;

    // 3b. a line the site reserves for two people waits for a second
    // operator's signed approval
    let mut spend = None;
    if decision.runs()
        && let Some(why) = approval::needs(io.controls.approval_settings(), &verdict)
    {
        // The approval is for what runs: the line as judged, through the
        // session's aliases and functions (an alias redefined after the
        // approval no longer matches it).
        let approved = gate::approval_gate(
            checked.unwrap_or(&line),
            &why,
            &policy.host,
            req.approval.as_deref(),
            &mut *io.controls,
            match io.prompter.as_deref_mut() {
                Some(p) => Some(p),
                None => None,
            },
            &mut *io.err,
        );
        match approved {
            ApprovalGate::Approved(record, used) => {
                change.approval = Some(record);
                spend = Some(used);
            }
            ApprovalGate::Refused {
                record,
                decision: not_run,
                status: why_not,
            } => {
                change.approval = Some(record);
                decision = not_run;
                status = why_not;
            }
        }
    }

    // 3c. a fleet slot, when the line disrupts this node (docs/FLEET.md):
    // only for a line that will run, so a frozen, declined or unapproved
    // line never holds one
    let mut held = None;
    let mut slot = None;
    if decision.runs()
        && let Some(what) = &disruptive
        && let Some(fleet) = io.fleet.as_deref_mut()
    {
        match fleet.take(what, &line, answer.reason.as_deref().unwrap_or("")) {
            Take::Held(h, record) => {
                let _ = writeln!(
                    io.err,
                    "safe-run: took a fleet slot of {} ({}).",
                    clean(&record.groups.join(", "), false),
                    clean(&record.store, false)
                );
                held = Some(h);
                slot = Some(record);
            }
            Take::Refused(record, message) if req.break_glass => {
                let _ = writeln!(
                    io.err,
                    "safe-run: BREAK-GLASS: running without a fleet slot ({}):\n  {}",
                    rule_list(&verdict),
                    clean_lines(&message).replace('\n', "\n  ")
                );
                slot = Some(SlotRecord {
                    event: SlotEvent::BreakGlass,
                    ..record
                });
            }
            Take::Refused(record, message)
                if let Some(reason) = slot_break_glass_at_terminal(
                    io,
                    &message,
                    answer.reason.as_deref(),
                    policy,
                    verdict.risk,
                ) =>
            {
                answer.reason = Some(reason);
                slot = Some(SlotRecord {
                    event: SlotEvent::BreakGlass,
                    ..record
                });
            }
            Take::Refused(record, message) => {
                let _ = writeln!(
                    io.err,
                    "safe-run: refused: {}\n  A break-glass run needs a reason of at least {} characters (--reason).\nNothing was run.",
                    clean_lines(&message),
                    io.controls.freeze_settings().break_glass_reason_min
                );
                let info = DecisionInfo {
                    mode: req.mode,
                    line: &line,
                    argv,
                    verdict: &verdict,
                    decision: Decision::Refused,
                    reason: answer.reason.as_deref(),
                    preview: answer.preview.as_ref(),
                    slot: Some(&record),
                    change,
                };
                let recorded = io.audit.decision(&info, true);
                show_warnings(io);
                if let Err(e) = recorded {
                    let _ = writeln!(io.err, "safe-run: warning: {e}");
                }
                return exit::REFUSED;
            }
        }
    }

    // 3d. the approval is used up only now that the line will run: one
    // refused its slot keeps it for the next try. A reuse is refused here,
    // under the ledger's lock, and gives back the slot just taken.
    if decision.runs()
        && let Some(used) = spend
        && let Err(why) = io.controls.spend(&used.id, used.expires)
    {
        let _ = writeln!(
            io.err,
            "safe-run: refused: the approval is not accepted: {}. Nothing was run.",
            clean(&why, false)
        );
        if let Some(a) = change.approval.as_mut() {
            a.refused = Some(why);
        }
        decision = Decision::Refused;
        status = exit::REFUSED;
        give_back(held.take(), io);
        slot = None;
    }

    // break-glass: the line runs through a freeze, or without its slot
    change.break_glass = decision.runs()
        && (change.freeze.is_some()
            || slot
                .as_ref()
                .is_some_and(|s| s.event == SlotEvent::BreakGlass));

    // 4. audit the decision, before anything runs; a line is risky when
    // a rule or the site's policy asks for more than a notice
    let risky = verdict.action != Action::Allow
        || ask.action() != Action::Allow
        || verdict.risk >= Risk::Medium;
    let info = DecisionInfo {
        mode: req.mode,
        line: &line,
        argv,
        verdict: &verdict,
        decision,
        reason: answer.reason.as_deref(),
        preview: answer.preview.as_ref(),
        slot: slot.as_ref(),
        change,
    };
    let recorded = io.audit.decision(&info, risky);
    let offhost_failed = io.audit.offhost_failed();
    show_warnings(io);
    if policy.syslog_required && risky && decision.runs() && offhost_failed {
        let status = refuse_without_offhost_copy(&info, io);
        give_back(held, io);
        return status;
    }
    let decision_id = match recorded {
        Ok(id) => Some(id),
        Err(e) if risky && decision.runs() => {
            let _ = writeln!(
                io.err,
                "safe-run: refused: {e}\n  A risky line runs only once its decision is on record. Fix the audit log (space, permissions, path in the config) and try again."
            );
            give_back(held, io);
            return exit::REFUSED;
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
        return status;
    }
    if decision == Decision::Confirmed && req.confirm.is_some() {
        let _ = writeln!(
            io.err,
            "safe-run: approved by --confirm for {}: {}",
            rule_list(&verdict),
            clean(answer.reason.as_deref().unwrap_or(""), false)
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

    // 5b. the slot: a change gives it back, a reboot keeps it
    let slot = held.and_then(|h| finish_slot(h, outcome.exit == Some(0), io));

    // 6. audit the outcome
    if let Some(id) = decision_id {
        let recorded = io.audit.outcome_with_slot(&id, &outcome, slot.as_ref());
        show_warnings(io);
        if let Err(e) = recorded {
            let _ = writeln!(io.err, "safe-run: warning: {e}");
        }
    }
    outcome.status
}

/// A message of several lines, each sanitised (holders' reasons and host
/// names come from other hosts).
fn clean_lines(text: &str) -> String {
    text.lines()
        .map(|l| clean(l, false))
        .collect::<Vec<_>>()
        .join("\n")
}

/// At a terminal, a line refused its slot may still run without one, as
/// with --break-glass: the operator types it, with a reason long enough
/// for one (`gate::slot_break_glass`). The reason to record, or `None`.
fn slot_break_glass_at_terminal(
    io: &mut Io,
    refusal: &str,
    given: Option<&str>,
    policy: &Policy,
    risk: Risk,
) -> Option<String> {
    let min = io.controls.freeze_settings().break_glass_reason_min;
    let reasons = gate::break_glass_policy(policy, min).reason_policy(risk);
    let said = format!("safe-run: no fleet slot is free: {}", clean_lines(refusal));
    let prompter = io.prompter.as_deref_mut()?;
    gate::slot_break_glass(prompter, &said, given, &reasons)
}

/// Gives back a slot taken for a line that did not run after all.
fn give_back(held: Option<HeldSlot>, io: &mut Io) {
    if let Some(h) = held {
        finish_slot(h, false, io);
    }
}

/// Ends a slot's hold and tells the operator what became of it.
fn finish_slot(held: HeldSlot, ran_ok: bool, io: &mut Io) -> Option<SlotRecord> {
    let fleet = io.fleet.as_deref_mut()?;
    let record = fleet.finish(held, ran_ok);
    let groups = record.groups.join(", ");
    match (&record.event, &record.error) {
        (SlotEvent::Kept, _) => {
            let _ = writeln!(
                io.err,
                "safe-run: the fleet slot of {groups} stays held until this host is back from a reboot, or `safe-run release` once it is back in service."
            );
        }
        (_, Some(e)) => {
            let _ = writeln!(
                io.err,
                "safe-run: warning: the fleet slot of {groups} could not be given back: {}\n  It expires with its lease, or run `safe-run release`.",
                clean(e, false)
            );
        }
        _ => {}
    }
    Some(record)
}

/// `syslog.required`: a risky line whose decision could not be copied off
/// the host does not run. The local log already has the decision that
/// would have run it, so the refusal is recorded after it: a reviewer
/// reads both, and no outcome.
fn refuse_without_offhost_copy(info: &DecisionInfo, io: &mut Io) -> i32 {
    let _ = writeln!(
        io.err,
        "safe-run: refused: the off-host copy of this decision (syslog) could not be sent, and this site requires one before a risky line runs (syslog.required). Nothing was run.\n  Check that the syslog daemon or journald is running and its socket is where the configuration says, then try again."
    );
    let refused = DecisionInfo {
        decision: Decision::Refused,
        reason: Some("the off-host audit copy (syslog) could not be sent; syslog.required"),
        ..info.clone()
    };
    let recorded = io.audit.decision(&refused, true);
    show_warnings(io);
    if let Err(e) = recorded {
        let _ = writeln!(io.err, "safe-run: warning: {e}");
    }
    exit::REFUSED
}

/// A preview runs only if it is itself harmless: it must parse as one
/// argv that the rules in force allow.
fn preview_is_safe(preview: &[String], rules: &RuleSet) -> bool {
    match parse_argv(preview) {
        Ok((_, script)) => classify(&script, rules).action == Action::Allow,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::recorder::SinkError;
    use crate::confirm::PromptError;
    use crate::controls::Fixed;
    use crate::exec::Outcome;
    use crate::exit::{ABORTED, REFUSED, USAGE};
    use crate::freeze::Freeze;

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
        changes: Vec<ChangeNote>,
        /// The slot event each decision carried.
        slots: Vec<Option<SlotEvent>>,
        outcomes: usize,
        fail: bool,
        /// The off-host copy of every record fails.
        offhost_down: bool,
        not_ready: bool,
    }

    impl AuditSink for Log {
        fn decision(&mut self, info: &DecisionInfo, _risky: bool) -> Result<String, SinkError> {
            if self.fail {
                return Err(SinkError::NotWritten(
                    "cannot write the audit log /x: disk full".into(),
                ));
            }
            self.decisions.push((
                info.decision.as_str().to_string(),
                info.reason.map(str::to_string),
            ));
            self.changes.push(info.change.clone());
            self.slots.push(info.slot.map(|s| s.event));
            Ok(format!("id{}", self.decisions.len()))
        }
        fn outcome(&mut self, _id: &str, _o: &Outcome) -> Result<(), SinkError> {
            self.outcomes += 1;
            Ok(())
        }
        fn offhost_failed(&self) -> bool {
            self.offhost_down
        }
        fn ready(&mut self) -> Result<(), SinkError> {
            if self.not_ready {
                return Err(SinkError::NoLog("no writable place".into()));
            }
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
        run_with(line, answers, tty, flags, false, &mut Fixed::default())
    }

    fn run_with(
        line: &str,
        answers: Vec<Result<String, PromptError>>,
        tty: bool,
        flags: (Option<&str>, Option<&str>),
        break_glass: bool,
        controls: &mut Fixed,
    ) -> (i32, Log, Fake, String) {
        let mut log = Log::default();
        let mut fake = Fake { ran: vec![] };
        let mut err = Vec::new();
        let mut prompter = Script {
            answers,
            said: String::new(),
        };
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
        let req = Request {
            mode: Mode::DashC,
            target: Target::Line(line.into()),
            reason: flags.0.map(str::to_string),
            confirm: flags.1.map(str::to_string),
            break_glass,
            approval: None,
        };
        let status = {
            let mut io = Io {
                prompter: if tty { Some(&mut prompter) } else { None },
                err: &mut err,
                audit: &mut log,
                runner: &mut fake,
                previewer: &mut previewer,
                place: &LineContext::default(),
                fleet: None,
                controls,
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
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
        let mut io = Io {
            prompter: None,
            err: &mut err,
            audit: &mut log,
            runner: &mut fake,
            previewer: &mut previewer,
            place: &LineContext::default(),
            fleet: None,
            controls: &mut Fixed::default(),
        };
        let risky = Request {
            mode: Mode::Argv,
            target: Target::Argv(vec!["reboot".into()]),
            reason: Some("CHG-1 kernel patch".into()),
            confirm: Some("core-1".into()),
            break_glass: false,
            approval: None,
        };
        assert_eq!(run_request(&risky, &rules(), &policy(), &mut io), REFUSED);
        let safe = Request {
            mode: Mode::Argv,
            target: Target::Argv(vec!["ls".into()]),
            reason: None,
            confirm: None,
            break_glass: false,
            approval: None,
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
    fn a_required_offhost_copy_that_fails_refuses_a_risky_line_but_not_a_safe_one() {
        let mut log = Log {
            offhost_down: true,
            ..Log::default()
        };
        let mut fake = Fake { ran: vec![] };
        let mut err = Vec::new();
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
        let policy = Policy {
            syslog_required: true,
            ..policy()
        };
        let mut io = Io {
            prompter: None,
            err: &mut err,
            audit: &mut log,
            runner: &mut fake,
            previewer: &mut previewer,
            place: &LineContext::default(),
            fleet: None,
            controls: &mut Fixed::default(),
        };
        let approved = Request {
            mode: Mode::Argv,
            target: Target::Argv(vec!["reboot".into()]),
            reason: Some("CHG-1 kernel patch".into()),
            confirm: Some("core-1".into()),
            break_glass: false,
            approval: None,
        };
        assert_eq!(run_request(&approved, &rules(), &policy, &mut io), REFUSED);
        let safe = Request {
            mode: Mode::Argv,
            target: Target::Argv(vec!["ls".into()]),
            reason: None,
            confirm: None,
            break_glass: false,
            approval: None,
        };
        assert_eq!(run_request(&safe, &rules(), &policy, &mut io), 0);
        assert_eq!(fake.ran.len(), 1, "only the safe line ran");
        let said: Vec<&str> = log.decisions.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(said, ["confirmed", "refused", "allowed"]);
        assert!(
            log.decisions[1]
                .1
                .as_deref()
                .unwrap_or("")
                .contains("syslog")
        );
        let text = String::from_utf8_lossy(&err);
        assert!(text.contains("syslog.required"), "{text}");
    }

    #[test]
    fn an_offhost_copy_that_fails_is_only_a_warning_when_not_required() {
        let mut log = Log {
            offhost_down: true,
            ..Log::default()
        };
        let mut fake = Fake { ran: vec![] };
        let mut err = Vec::new();
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
        let mut io = Io {
            prompter: None,
            err: &mut err,
            audit: &mut log,
            runner: &mut fake,
            previewer: &mut previewer,
            place: &LineContext::default(),
            fleet: None,
            controls: &mut Fixed::default(),
        };
        let approved = Request {
            mode: Mode::Argv,
            target: Target::Argv(vec!["reboot".into()]),
            reason: Some("CHG-1 kernel patch".into()),
            confirm: Some("core-1".into()),
            break_glass: false,
            approval: None,
        };
        assert_eq!(run_request(&approved, &rules(), &policy(), &mut io), 0);
        assert_eq!(fake.ran.len(), 1);
    }

    /// A fleet with one slot, taken or not, that notes what it was asked.
    #[derive(Default)]
    struct OneSlot {
        /// How many times a slot was asked for.
        asked: usize,
        taken: bool,
        refuse: bool,
        finished: Vec<bool>,
    }

    impl Slots for OneSlot {
        fn disruptive(
            &self,
            verdict: &Verdict,
            _rules: &RuleSet,
        ) -> Option<crate::fleet::Disruptive> {
            verdict
                .findings
                .iter()
                .any(|f| f.rule == "test-reboot")
                .then(|| crate::fleet::Disruptive {
                    rules: vec!["test-reboot".into()],
                    kind: crate::rules::spec::Disruption::Reboot,
                })
        }
        fn take(&mut self, _what: &crate::fleet::Disruptive, _line: &str, _reason: &str) -> Take {
            self.asked += 1;
            let record = crate::fleet::slot_record(
                if self.refuse {
                    SlotEvent::Refused
                } else {
                    SlotEvent::Held
                },
                &["core".to_string()],
                "test",
                Vec::new(),
                None,
            );
            if self.refuse {
                return Take::Refused(record, "held by core-2\nwait".into());
            }
            self.taken = true;
            Take::Held(
                HeldSlot {
                    groups: vec!["core".into()],
                    kind: crate::rules::spec::Disruption::Reboot,
                    lease: None,
                    renewing: None,
                },
                record,
            )
        }
        fn finish(&mut self, held: HeldSlot, ran_ok: bool) -> SlotRecord {
            self.finished.push(ran_ok);
            crate::fleet::slot_record(SlotEvent::Kept, &held.groups, "test", Vec::new(), None)
        }
    }

    fn run_with_fleet(
        fleet: &mut OneSlot,
        log: &mut Log,
        line: &str,
        glass: bool,
    ) -> (i32, usize, String) {
        let reason = if glass { LONG } else { "CHG-1 kernel patch" };
        run_in_fleet(fleet, log, line, glass, reason, &mut Fixed::default())
    }

    fn run_in_fleet(
        fleet: &mut OneSlot,
        log: &mut Log,
        line: &str,
        glass: bool,
        reason: &str,
        controls: &mut Fixed,
    ) -> (i32, usize, String) {
        let mut fake = Fake { ran: vec![] };
        let mut err = Vec::new();
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
        let req = Request {
            mode: Mode::DashC,
            target: Target::Line(line.into()),
            reason: Some(reason.into()),
            confirm: Some("core-1".into()),
            break_glass: glass,
            approval: None,
        };
        let status = {
            let mut io = Io {
                prompter: None,
                err: &mut err,
                audit: log,
                runner: &mut fake,
                previewer: &mut previewer,
                place: &LineContext::default(),
                fleet: Some(fleet),
                controls,
            };
            run_request(&req, &rules(), &policy(), &mut io)
        };
        (
            status,
            fake.ran.len(),
            String::from_utf8_lossy(&err).to_string(),
        )
    }

    #[test]
    fn a_disruptive_line_runs_only_with_a_slot_or_break_glass() {
        let mut log = Log::default();
        let mut fleet = OneSlot::default();
        assert_eq!(run_with_fleet(&mut fleet, &mut log, "ls", false).0, 0);
        assert!(!fleet.taken, "a safe line asks for no slot");
        let (status, ran, _) = run_with_fleet(&mut fleet, &mut log, "reboot", false);
        assert_eq!((status, ran), (0, 1));
        assert_eq!(fleet.finished, [true]);

        let mut full = OneSlot {
            refuse: true,
            ..OneSlot::default()
        };
        let (status, ran, err) = run_with_fleet(&mut full, &mut log, "reboot", false);
        assert_eq!((status, ran), (REFUSED, 0));
        assert!(err.contains("held by core-2\nwait"), "{err}");
        assert_eq!(log.decisions.last().unwrap().0, "refused");
        let (status, ran, err) = run_with_fleet(&mut full, &mut log, "reboot", true);
        assert_eq!((status, ran), (0, 1));
        assert!(err.contains("BREAK-GLASS"), "{err}");
        assert_eq!(log.slots.last().unwrap(), &Some(SlotEvent::BreakGlass));
        assert!(
            log.changes.last().unwrap().break_glass,
            "recorded as break-glass"
        );
    }

    #[test]
    fn break_glass_past_a_full_fleet_needs_the_long_reason_too() {
        let mut log = Log::default();
        let mut full = OneSlot {
            refuse: true,
            ..OneSlot::default()
        };
        let short = "CHG-1 kernel patch";
        let (status, ran, err) = run_in_fleet(
            &mut full,
            &mut log,
            "reboot",
            true,
            short,
            &mut Fixed::default(),
        );
        assert_eq!((status, ran), (REFUSED, 0), "{err}");
        assert_eq!(full.asked, 0, "refused before a slot was asked for");
        assert!(!log.changes.last().unwrap().break_glass, "it did not run");
    }

    #[test]
    fn at_a_terminal_a_line_refused_its_slot_may_run_as_break_glass() {
        let attempt = |answers: Vec<Result<String, PromptError>>| {
            let mut fleet = OneSlot {
                refuse: true,
                ..OneSlot::default()
            };
            let (mut log, mut fake) = (Log::default(), Fake { ran: vec![] });
            let mut err = Vec::new();
            let mut prompter = Script {
                answers,
                said: String::new(),
            };
            let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
            let req = Request {
                mode: Mode::Shell,
                target: Target::Line("reboot".into()),
                reason: Some("CHG-1 kernel patch".into()),
                confirm: Some("core-1".into()),
                break_glass: false,
                approval: None,
            };
            let status = {
                let mut io = Io {
                    prompter: Some(&mut prompter),
                    err: &mut err,
                    audit: &mut log,
                    runner: &mut fake,
                    previewer: &mut previewer,
                    place: &LineContext::default(),
                    fleet: Some(&mut fleet),
                    controls: &mut Fixed::default(),
                };
                run_request(&req, &rules(), &policy(), &mut io)
            };
            (status, fake.ran.len(), log, prompter.said)
        };
        // Typed, with a reason long enough: it runs, recorded as break-glass.
        let (status, ran, log, said) = attempt(vec![Ok("break-glass".into()), Ok(LONG.into())]);
        assert_eq!((status, ran), (0, 1), "{said}");
        assert!(
            said.contains("held by core-2"),
            "the holders are shown: {said}"
        );
        assert_eq!(log.slots.last().unwrap(), &Some(SlotEvent::BreakGlass));
        assert!(log.changes.last().unwrap().break_glass);
        // Anything else: not run.
        let (status, ran, _, said) = attempt(vec![Ok("no".into())]);
        assert_eq!((status, ran), (REFUSED, 0), "{said}");
        // A reason too short for break-glass, three times: not run.
        let short = || Ok("CHG-2 now".to_string());
        let (status, ran, _, said) =
            attempt(vec![Ok("break-glass".into()), short(), short(), short()]);
        assert_eq!((status, ran), (REFUSED, 0), "{said}");
    }

    #[test]
    fn a_frozen_or_unapproved_line_never_takes_a_slot() {
        // Frozen, no break-glass: refused by the freeze, the store is not asked.
        let mut log = Log::default();
        let mut fleet = OneSlot::default();
        let (status, ran, err) =
            run_in_fleet(&mut fleet, &mut log, "reboot", false, LONG, &mut frozen());
        assert_eq!((status, ran), (REFUSED, 0), "{err}");
        assert_eq!(fleet.asked, 0);
        assert_eq!(log.slots.last().unwrap(), &None);
        assert!(log.changes.last().unwrap().freeze.is_some());

        // Reserved for two people and no approval given: refused by the
        // approval gate, the store is not asked.
        let mut two_person = Fixed::default();
        two_person.approval.risks = vec![Risk::High];
        let mut log = Log::default();
        let (status, ran, err) =
            run_in_fleet(&mut fleet, &mut log, "reboot", false, LONG, &mut two_person);
        assert_eq!((status, ran), (REFUSED, 0), "{err}");
        assert_eq!(fleet.asked, 0);
        assert_eq!(log.slots.last().unwrap(), &None);
        assert!(log.changes.last().unwrap().approval.is_some());

        // Frozen with break-glass: it runs, and then takes its slot.
        let mut log = Log::default();
        let (status, ran, err) =
            run_in_fleet(&mut fleet, &mut log, "reboot", true, LONG, &mut frozen());
        assert_eq!((status, ran), (0, 1), "{err}");
        assert_eq!(fleet.asked, 1);
        assert_eq!(log.slots.last().unwrap(), &Some(SlotEvent::Held));
        assert!(log.changes.last().unwrap().break_glass);
    }

    /// Runs `typed` (judged as `checked`) with `approval` given in
    /// advance: the status, how many commands ran, why the approval was
    /// refused (if it was), and what was said.
    fn run_signed(
        controls: &mut Fixed,
        fleet: Option<&mut OneSlot>,
        typed: &str,
        checked: Option<&str>,
        approval: &str,
    ) -> (i32, usize, Option<String>, String) {
        let (mut log, mut fake) = (Log::default(), Fake { ran: vec![] });
        let mut err = Vec::new();
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
        let req = Request {
            mode: Mode::DashC,
            target: Target::Line(typed.into()),
            reason: Some("CHG-1 kernel patch".into()),
            confirm: Some("core-1".into()),
            break_glass: false,
            approval: Some(approval.into()),
        };
        let status = {
            let mut io = Io {
                prompter: None,
                err: &mut err,
                audit: &mut log,
                runner: &mut fake,
                previewer: &mut previewer,
                place: &LineContext::default(),
                fleet: fleet.map(|f| f as &mut dyn Slots),
                controls,
            };
            run_checked(&req, checked, &rules(), &policy(), &mut io)
        };
        let refused = log
            .changes
            .last()
            .and_then(|c| c.approval.as_ref())
            .and_then(|a| a.refused.clone());
        (
            status,
            fake.ran.len(),
            refused,
            String::from_utf8_lossy(&err).to_string(),
        )
    }

    #[test]
    fn an_approval_is_used_up_only_when_its_line_runs() {
        use crate::approval::testing::{PUBLIC, approval_text};
        use crate::approval::{ApprovalRequest, Requester};
        let mut controls = Fixed {
            now: "2026-11-21T12:00:00Z".parse().unwrap(),
            requester: Requester::new("alice", &[]),
            signers: format!("bob {PUBLIC}"),
            ..Fixed::default()
        };
        controls.approval.risks = vec![Risk::High];
        let request = ApprovalRequest::new(
            &policy().host,
            "alice",
            "reboot",
            controls.now,
            controls.approval.ttl,
        );
        let approval = approval_text(&request);
        // No slot free: not run, and the approval is not used up.
        let mut full = OneSlot {
            refuse: true,
            ..OneSlot::default()
        };
        let (status, ran, _, err) =
            run_signed(&mut controls, Some(&mut full), "reboot", None, &approval);
        assert_eq!((status, ran), (REFUSED, 0), "{err}");
        assert!(controls.spent.is_empty(), "kept for the next try");

        // A slot is free: the same approval runs the line, once.
        let mut free = OneSlot::default();
        let (status, ran, refused, err) =
            run_signed(&mut controls, Some(&mut free), "reboot", None, &approval);
        assert_eq!((status, ran, refused), (0, 1, None), "{err}");
        assert_eq!(controls.spent, [request.id()]);

        // Used: refused, and the slot just taken is given back.
        let mut again = OneSlot::default();
        let (status, ran, refused, err) =
            run_signed(&mut controls, Some(&mut again), "reboot", None, &approval);
        assert_eq!((status, ran), (REFUSED, 0), "{err}");
        assert!(refused.is_some_and(|r| r.contains("already used")), "{err}");
        assert_eq!(again.finished, [false], "the slot went back unused");
    }

    #[test]
    fn a_slot_is_given_back_when_the_decision_cannot_be_recorded() {
        let mut log = Log {
            fail: true,
            ..Log::default()
        };
        let mut fleet = OneSlot::default();
        let (status, ran, _) = run_with_fleet(&mut fleet, &mut log, "reboot", false);
        assert_eq!((status, ran), (REFUSED, 0));
        assert!(fleet.taken);
        assert_eq!(fleet.finished, [false], "given back, not kept");
    }

    #[test]
    fn unparseable_line_is_not_run() {
        let (status, _, fake, text) = run("ls )", vec![], true, (None, None));
        assert_eq!((status, fake.ran.len()), (USAGE, 0));
        assert!(text.contains("cannot tell"));
    }

    #[test]
    fn a_risky_line_is_refused_before_asking_when_the_log_cannot_be_written() {
        let mut log = Log {
            not_ready: true,
            ..Log::default()
        };
        let mut fake = Fake { ran: vec![] };
        let mut err = Vec::new();
        let mut prompter = Script {
            answers: vec![Ok("core-1".into()), Ok("CHG-1 kernel patch".into())],
            said: String::new(),
        };
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
        let mut io = Io {
            prompter: Some(&mut prompter),
            err: &mut err,
            audit: &mut log,
            runner: &mut fake,
            previewer: &mut previewer,
            place: &LineContext::default(),
            fleet: None,
            controls: &mut Fixed::default(),
        };
        let req = Request {
            mode: Mode::Shell,
            target: Target::Line("reboot".into()),
            reason: None,
            confirm: None,
            break_glass: false,
            approval: None,
        };
        assert_eq!(run_request(&req, &rules(), &policy(), &mut io), REFUSED);
        let safe = Request {
            target: Target::Line("ls".into()),
            ..req
        };
        assert_eq!(run_request(&safe, &rules(), &policy(), &mut io), 0);
        assert_eq!(fake.ran.len(), 1, "only the safe line ran");
        assert!(
            prompter.said.is_empty(),
            "nothing was asked: {}",
            prompter.said
        );
        assert!(String::from_utf8_lossy(&err).contains("Nothing was asked"));
    }

    #[test]
    fn checked_text_is_judged_and_the_typed_line_is_logged_and_run() {
        let (mut log, mut fake) = (Log::default(), Fake { ran: vec![] });
        let mut err = Vec::new();
        let mut previewer = |_: &[String], _: Duration, _: usize| PreviewOutput::default();
        let mut io = Io {
            prompter: None,
            err: &mut err,
            audit: &mut log,
            runner: &mut fake,
            previewer: &mut previewer,
            place: &LineContext::default(),
            fleet: None,
            controls: &mut Fixed::default(),
        };
        let req = Request {
            mode: Mode::Shell,
            target: Target::Line("f".into()),
            reason: None,
            confirm: None,
            break_glass: false,
            approval: None,
        };
        let status = run_checked(
            &req,
            Some("f() { reboot; }\nf"),
            &rules(),
            &policy(),
            &mut io,
        );
        assert_eq!(status, REFUSED, "the function's body needs confirmation");
        assert!(fake.ran.is_empty());
        assert_eq!(log.decisions[0].0, "refused");
        let text = String::from_utf8_lossy(&err);
        assert!(text.contains("test-reboot"), "{text}");
    }
    #[test]
    fn an_approval_is_for_what_runs_through_the_sessions_aliases() {
        use crate::approval::testing::{PUBLIC, approval_text};
        use crate::approval::{ApprovalRequest, Requester};
        let mut controls = Fixed {
            now: "2026-11-21T12:00:00Z".parse().unwrap(),
            requester: Requester::new("alice", &[]),
            signers: format!("bob {PUBLIC}"),
            ..Fixed::default()
        };
        controls.approval.risks = vec![Risk::High];
        let signed_for = |line: &str, controls: &Fixed| {
            approval_text(&ApprovalRequest::new(
                &policy().host,
                "alice",
                line,
                controls.now,
                controls.approval.ttl,
            ))
        };
        // `deploy` is an alias of `reboot` in this session.
        // Signed for the name typed: not what runs, refused.
        let typed = signed_for("deploy", &controls);
        let (status, ran, _, err) =
            run_signed(&mut controls, None, "deploy", Some("reboot"), &typed);
        assert_eq!((status, ran), (REFUSED, 0), "{err}");
        // Signed for what the alias runs: accepted.
        let expanded = signed_for("reboot", &controls);
        let (status, ran, _, err) =
            run_signed(&mut controls, None, "deploy", Some("reboot"), &expanded);
        assert_eq!((status, ran), (0, 1), "{err}");
    }

    fn frozen() -> Fixed {
        Fixed {
            frozen: Some(Freeze {
                name: "weekend".into(),
                message: "No changes over the weekend.".into(),
                until: Some("Mon 08:00".into()),
            }),
            ..Fixed::default()
        }
    }

    const LONG: &str = "INC-77 the disk is failing and the node must restart now";

    #[test]
    fn a_freeze_refuses_a_risky_line_without_break_glass_and_records_the_freeze() {
        let (status, log, fake, text) = run_with(
            "reboot",
            vec![],
            false,
            (Some(LONG), Some("core-1")),
            false,
            &mut frozen(),
        );
        assert_eq!((status, fake.ran.len()), (REFUSED, 0));
        assert_eq!(log.decisions[0].0, "refused");
        assert!(
            log.changes[0]
                .freeze
                .as_deref()
                .unwrap()
                .starts_with("weekend")
        );
        assert!(!log.changes[0].break_glass);
        assert!(text.contains("--break-glass"), "{text}");
        // A safe line runs during the freeze, and is not marked.
        let (status, log, fake, _) =
            run_with("ls", vec![], false, (None, None), false, &mut frozen());
        assert_eq!((status, fake.ran.len()), (0, 1));
        assert_eq!(log.changes[0], ChangeNote::default());
    }

    #[test]
    fn break_glass_runs_it_with_a_long_reason_and_is_recorded() {
        let short = "CHG-1 kernel patch";
        let (status, log, fake, text) = run_with(
            "reboot",
            vec![],
            false,
            (Some(short), Some("core-1")),
            true,
            &mut frozen(),
        );
        assert_eq!((status, fake.ran.len()), (REFUSED, 0), "{text}");
        assert!(!log.changes[0].break_glass, "it did not run");
        let (status, log, fake, text) = run_with(
            "reboot",
            vec![],
            false,
            (Some(LONG), Some("core-1")),
            true,
            &mut frozen(),
        );
        assert_eq!((status, fake.ran.len()), (0, 1), "{text}");
        assert_eq!(log.decisions[0].0, "confirmed");
        assert!(log.changes[0].break_glass);
        assert!(text.contains("BREAK-GLASS"), "{text}");
    }

    #[test]
    fn at_the_prompt_break_glass_is_typed_before_the_usual_confirmation() {
        let answers = vec![
            Ok("break-glass".into()),
            Ok("core-1".into()),
            Ok(LONG.into()),
        ];
        let (status, log, fake, text) =
            run_with("reboot", answers, true, (None, None), false, &mut frozen());
        assert_eq!((status, fake.ran.len()), (0, 1), "{text}");
        assert!(log.changes[0].break_glass);
        let (status, log, fake, _) = run_with(
            "reboot",
            vec![Ok("no".into())],
            true,
            (None, None),
            false,
            &mut frozen(),
        );
        assert_eq!((status, fake.ran.len()), (ABORTED, 0));
        assert_eq!(log.decisions[0].0, "aborted");
    }
}
