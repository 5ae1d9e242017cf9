//! The change-control steps around confirmation: a change freeze holds a
//! risky line back unless break-glass is given (before `confirm`), and
//! (`approval`) a line the site reserves for two people waits for a second
//! operator's signed approval (after `confirm`, before anything is
//! recorded as run).
//!
//! The pipeline calls these in order; each returns what happened as a
//! value and says what it has to say to the operator through the same
//! `Prompter` and error stream as `confirm`, so the conversations are
//! tested with scripted prompters. The side effects (the clock, the
//! freeze file, the allowed signers, the ledger of used approvals) come
//! in through `controls::Controls`.

use std::io::Write;

use crate::approval::verify::{Verified, verify};
use crate::approval::{ApprovalRequest, Pasted, Requester};
use crate::audit::record::ApprovalRecord;
use crate::confirm::{Prompter, rule_list, validate_reason};
use crate::controls::Controls;
use crate::exit;
use crate::freeze::{self, BREAK_GLASS, Freeze, FreezeSettings};
use crate::policy::Policy;
use crate::term::sanitize::clean;
use crate::verdict::{Ask, Decision, Verdict};

/// What a freeze did to a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FreezeGate {
    /// No freeze in force, or the line is below its threshold.
    Clear,
    /// A freeze holds the line and break-glass was given: it goes on to
    /// the confirmation, with a break-glass reason.
    BreakGlass(Freeze),
    /// Held back: not run.
    Stopped {
        freeze: Freeze,
        decision: Decision,
        status: i32,
    },
}

impl FreezeGate {
    /// The freeze to name in the audit record, if it touched the line.
    pub fn freeze(&self) -> Option<&Freeze> {
        match self {
            FreezeGate::Clear => None,
            FreezeGate::BreakGlass(f) | FreezeGate::Stopped { freeze: f, .. } => Some(f),
        }
    }
}

/// Decides whether the freeze in force (if any) lets this line go on.
/// `break_glass`: given in advance (`--break-glass`). With a terminal and
/// without it, the operator is told about the freeze and may type
/// `break-glass`; without a terminal the line is refused with what to do.
pub fn freeze_gate(
    verdict: &Verdict,
    ask: Ask,
    freeze: Option<Freeze>,
    settings: &FreezeSettings,
    break_glass: bool,
    prompter: Option<&mut dyn Prompter>,
    err: &mut dyn Write,
) -> FreezeGate {
    let Some(freeze) = freeze else {
        return FreezeGate::Clear;
    };
    if ask == Ask::Deny || !freeze::holds(settings, verdict.risk) {
        return FreezeGate::Clear;
    }
    let said = clean(&freeze.describe(), false);
    if break_glass {
        let _ = writeln!(
            err,
            "safe-run: BREAK-GLASS during the change freeze {said}\n  This run is recorded as break-glass; its reason needs at least {} characters.",
            settings.break_glass_reason_min
        );
        return FreezeGate::BreakGlass(freeze);
    }
    let what = format!(
        "safe-run: a change freeze is in force: {said}\n  This line is {} risk ({}); during a freeze, lines of {} risk or more are held back.",
        verdict.risk,
        rule_list(verdict),
        settings.min_risk
    );
    let Some(prompter) = prompter else {
        let _ = writeln!(
            err,
            "{what}\nsafe-run: refused: nothing was run. If this cannot wait, run it again with --break-glass and a reason of at least {} characters (--reason); it is recorded as break-glass.",
            settings.break_glass_reason_min
        );
        return FreezeGate::Stopped {
            freeze,
            decision: Decision::Refused,
            status: exit::REFUSED,
        };
    };
    prompter.say(&format!("{what}\n"));
    let question = format!(
        "Type {BREAK_GLASS} to run it anyway, recorded as break-glass (anything else cancels): "
    );
    match prompter.ask(&question) {
        Ok(answer) if answer.trim() == BREAK_GLASS => FreezeGate::BreakGlass(freeze),
        Ok(_) => {
            prompter.say("Held back by the freeze. Nothing was run.\n");
            FreezeGate::Stopped {
                freeze,
                decision: Decision::Aborted,
                status: exit::ABORTED,
            }
        }
        Err(e) => {
            prompter.say(&format!("Cancelled: {e}. Nothing was run.\n"));
            FreezeGate::Stopped {
                freeze,
                decision: Decision::Aborted,
                status: exit::ABORTED,
            }
        }
    }
}

/// What became of a line that needs a second operator's approval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalGate {
    /// A valid approval was given and is now used up.
    /// Its single use is spent by the caller once the line will run
    /// ([`Spend`]), so a line stopped by a later step (a fleet slot that is
    /// not free) keeps its approval for the next try.
    Approved(ApprovalRecord, Spend),
    /// Not approved: not run.
    Refused {
        record: ApprovalRecord,
        decision: Decision,
        status: i32,
    },
}

/// An accepted approval, still to be recorded as used
/// (`Controls::spend`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spend {
    pub id: String,
    pub expires: jiff::Timestamp,
}

/// The most lines a pasted approval may have.
const PASTE_LINES: usize = 60;

/// Gets and checks the second operator's approval of `line` on `host`:
/// given in advance (`--approval FILE`, its text in `given`), delivered by
/// the store, or pasted at the prompt. `why`: what makes the line need
/// one. A valid approval comes back with its [`Spend`]: the caller uses it
/// up once the line will run (single use).
pub fn approval_gate(
    line: &str,
    why: &str,
    host: &str,
    given: Option<&str>,
    controls: &mut dyn Controls,
    mut prompter: Option<&mut dyn Prompter>,
    err: &mut dyn Write,
) -> ApprovalGate {
    let now = controls.now();
    let settings = controls.approval_settings().clone();
    let requester = controls.requester();
    let wanted = ApprovalRequest::new(host, &requester.name, line, now, settings.ttl);
    let record = |request: &ApprovalRequest, refused: Option<String>| ApprovalRecord {
        code: request.code(),
        requester: request.user.clone(),
        approver: None,
        key: None,
        expires: request.expires.to_string(),
        refused,
    };
    let refuse = |record: ApprovalRecord| ApprovalGate::Refused {
        record,
        decision: Decision::Refused,
        status: exit::REFUSED,
    };

    let delivered = given
        .map(str::to_string)
        .or_else(|| controls.store().delivered(&wanted));
    let text = match delivered {
        Some(text) => text,
        None => {
            let published = controls.store().publish(&wanted);
            let how = format!(
                "safe-run: this line needs a second operator's approval (two-person rule: {}).
  request {}: {} on {} by {}, valid until {}
  Another operator approves it, on any host, with:
    safe-run approve {}
{}",
                clean(why, false),
                wanted.code(),
                clean(line, false),
                clean(host, false),
                clean(&requester.name, false),
                wanted.expires,
                wanted.token(),
                match &published {
                    Ok(()) => format!(
                        "  (or, on this host, safe-run approve {})
",
                        wanted.code()
                    ),
                    Err(_) => String::new(),
                }
            );
            tell(&mut prompter, err, &how);
            let Some(p) = prompter.as_deref_mut() else {
                tell(
                    &mut prompter,
                    err,
                    &format!(
                        "safe-run: refused: no approval was given. Nothing was run.
  Save what `safe-run approve` prints in a file and run this again with --approval FILE within {} minutes.
",
                        settings.ttl.as_secs() / 60
                    ),
                );
                return refuse(record(&wanted, Some("no approval was given".into())));
            };
            match read_paste(p) {
                Some(text) => text,
                None => {
                    p.say("No approval pasted. Nothing was run.\n");
                    return ApprovalGate::Refused {
                        record: record(&wanted, Some("no approval was pasted".into())),
                        decision: Decision::Aborted,
                        status: exit::ABORTED,
                    };
                }
            }
        }
    };
    match check(&text, &wanted, &requester, now, &settings, controls, err) {
        Ok(v) => {
            tell(
                &mut prompter,
                err,
                &format!(
                    "safe-run: approved by {} ({}) for request {}.\n",
                    clean(&v.approver, false),
                    v.key,
                    v.request.code()
                ),
            );
            ApprovalGate::Approved(
                ApprovalRecord {
                    approver: Some(v.approver.clone()),
                    key: Some(v.key.clone()),
                    ..record(&v.request, None)
                },
                Spend {
                    id: v.request.id(),
                    expires: v.request.expires,
                },
            )
        }
        Err((asked, why)) => {
            tell(
                &mut prompter,
                err,
                &format!(
                    "safe-run: refused: the approval is not accepted: {}. Nothing was run.\n",
                    clean(&why, false)
                ),
            );
            refuse(record(asked.as_ref().unwrap_or(&wanted), Some(why)))
        }
    }
}

/// Says `text` on the terminal when there is one, else on `err`.
fn tell(prompter: &mut Option<&mut dyn Prompter>, err: &mut dyn Write, text: &str) {
    match prompter {
        Some(p) => p.say(text),
        None => {
            let _ = write!(err, "{text}");
        }
    }
}

/// Reads and verifies an approval (spending it is the caller's, once the
/// line will run: a reuse is refused then, under the ledger's lock); on
/// refusal, the request it named (if it named one) and why.
fn check(
    text: &str,
    wanted: &ApprovalRequest,
    requester: &Requester,
    now: jiff::Timestamp,
    settings: &crate::approval::ApprovalSettings,
    controls: &mut dyn Controls,
    err: &mut dyn Write,
) -> Result<Verified, (Option<ApprovalRequest>, String)> {
    let pasted = Pasted::parse(text).map_err(|why| (None, why))?;
    let asked = pasted.request.clone();
    let (signers, problems) = controls
        .allowed_signers()
        .map_err(|why| (asked.clone(), why))?;
    for problem in problems {
        let _ = writeln!(
            err,
            "safe-run: warning: allowed_signers line {}: {}; that line grants nothing",
            problem.line,
            clean(&problem.why, false)
        );
    }
    let v = verify(&pasted, wanted, now, settings.ttl, &signers, requester)
        .map_err(|why| (asked.clone(), why))?;
    Ok(v)
}

/// Reads a pasted approval up to its last line; `None` when the operator
/// gives nothing (an empty line, Ctrl-C, Ctrl-D).
fn read_paste(prompter: &mut dyn Prompter) -> Option<String> {
    let lines = prompter
        .ask_lines(
            "Paste the approval `safe-run approve` printed (an empty line cancels):\n",
            &Pasted::is_last_line,
            PASTE_LINES,
        )
        .ok()?;
    if lines.first().is_none_or(|l| l.trim().is_empty()) {
        return None;
    }
    Some(lines.join("\n") + "\n")
}

/// At a terminal, a disruptive line refused its fleet slot may still run
/// without one, as with `--break-glass`: the operator reads who holds the
/// slots, types `break-glass`, and gives a reason that meets `reasons`
/// (the one given at the confirmation when it is long enough, else a new
/// one). The reason to record, or `None`: not run.
pub fn slot_break_glass(
    prompter: &mut dyn Prompter,
    refusal: &str,
    given: Option<&str>,
    reasons: &crate::policy::ReasonPolicy,
) -> Option<String> {
    prompter.say(&format!("{}\n", refusal.trim_end()));
    let question = format!(
        "Type {BREAK_GLASS} to run it without a slot, recorded as break-glass (anything else cancels): "
    );
    match prompter.ask(&question) {
        Ok(answer) if answer.trim() == BREAK_GLASS => {}
        _ => {
            prompter.say("No slot was taken. Nothing was run.\n");
            return None;
        }
    }
    if let Some(reason) = given.filter(|r| validate_reason(r, reasons).is_ok()) {
        return Some(reason.to_string());
    }
    for _ in 0..3 {
        let asked = prompter.ask(&format!(
            "Why must it run without a slot? (at least {} characters): ",
            reasons.min_len
        ));
        let Ok(reason) = asked else { break };
        match validate_reason(reason.trim(), reasons) {
            Ok(()) => return Some(reason.trim().to_string()),
            Err(why) => prompter.say(&format!("{why}\n")),
        }
    }
    prompter.say("No reason given. Nothing was run.\n");
    None
}

/// What a line run through a freeze asks: at least a typed `yes` and a
/// reason, even where the site's levels would only notify.
pub fn break_glass_ask(ask: Ask) -> Ask {
    match ask {
        Ask::Run | Ask::Notice => Ask::ConfirmYes,
        other => other,
    }
}

/// The policy for a break-glass run: reasons of at least `min` characters.
pub fn break_glass_policy(policy: &Policy, min: usize) -> Policy {
    Policy {
        reason_min: policy.reason_min.max(min),
        reason_min_critical: policy.reason_min_critical.max(min),
        ..policy.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confirm::PromptError;
    use crate::verdict::{Action, Risk};

    struct Said {
        answers: Vec<Result<String, PromptError>>,
        text: String,
    }

    impl Prompter for Said {
        fn say(&mut self, text: &str) {
            self.text.push_str(text);
        }
        fn ask(&mut self, q: &str) -> Result<String, PromptError> {
            self.text.push_str(q);
            if self.answers.is_empty() {
                return Err(PromptError::Eof);
            }
            self.answers.remove(0)
        }
    }

    fn frozen() -> Option<Freeze> {
        Some(Freeze {
            name: "weekend".into(),
            message: "No changes over the weekend.".into(),
            until: Some("Mon 08:00".into()),
        })
    }

    fn verdict(risk: Risk) -> Verdict {
        Verdict {
            action: Action::for_risk(risk),
            risk,
            findings: Vec::new(),
        }
    }

    #[test]
    fn no_freeze_or_a_line_below_the_threshold_is_clear() {
        let s = FreezeSettings::default();
        let mut err = Vec::new();
        let v = verdict(Risk::High);
        assert_eq!(
            freeze_gate(&v, Ask::ConfirmHost, None, &s, false, None, &mut err),
            FreezeGate::Clear
        );
        let low = verdict(Risk::Low);
        assert_eq!(
            freeze_gate(&low, Ask::Notice, frozen(), &s, false, None, &mut err),
            FreezeGate::Clear
        );
        assert!(err.is_empty());
    }

    #[test]
    fn without_a_terminal_a_frozen_line_is_refused_with_what_to_do() {
        let s = FreezeSettings::default();
        let mut err = Vec::new();
        let v = verdict(Risk::High);
        let gate = freeze_gate(&v, Ask::ConfirmHost, frozen(), &s, false, None, &mut err);
        assert!(matches!(
            gate,
            FreezeGate::Stopped {
                decision: Decision::Refused,
                status: exit::REFUSED,
                ..
            }
        ));
        let text = String::from_utf8(err).unwrap();
        assert!(
            text.contains("weekend (until Mon 08:00): No changes"),
            "{text}"
        );
        assert!(text.contains("--break-glass"), "{text}");
        assert!(text.contains("40 characters"), "{text}");
    }

    #[test]
    fn at_a_terminal_only_the_words_break_glass_go_on() {
        let s = FreezeSettings::default();
        let v = verdict(Risk::Medium);
        for (answer, goes_on) in [
            (Ok("break-glass".to_string()), true),
            (Ok(" break-glass ".to_string()), true),
            (Ok("yes".to_string()), false),
            (Err(PromptError::Interrupted), false),
        ] {
            let mut p = Said {
                answers: vec![answer.clone()],
                text: String::new(),
            };
            let gate = freeze_gate(
                &v,
                Ask::ConfirmYes,
                frozen(),
                &s,
                false,
                Some(&mut p),
                &mut Vec::new(),
            );
            assert_eq!(
                matches!(gate, FreezeGate::BreakGlass(_)),
                goes_on,
                "{answer:?}"
            );
            assert!(p.text.contains("change freeze is in force"), "{}", p.text);
        }
    }

    #[test]
    fn break_glass_asks_for_a_confirmation_and_a_longer_reason() {
        assert_eq!(break_glass_ask(Ask::Notice), Ask::ConfirmYes);
        assert_eq!(break_glass_ask(Ask::ConfirmHost), Ask::ConfirmHost);
        let p = break_glass_policy(&Policy::default(), 40);
        assert_eq!(p.reason_policy(Risk::Medium).min_len, 40);
        assert_eq!(p.reason_policy(Risk::Critical).min_len, 40);
        let p = break_glass_policy(&Policy::default(), 5);
        assert_eq!(p.reason_policy(Risk::Critical).min_len, 20);
    }
}
