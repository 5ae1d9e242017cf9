//! The words every step speaks: risk levels, actions, findings and the
//! verdict on a line; what a risk level asks of the operator ([`Ask`]); how
//! a line arrived ([`Mode`]); and what was decided ([`Decision`]).
//!
//! Kept apart from `rules`, `classify`, `confirm` and `audit` because the
//! prompt, the audit log, the configuration and `check --json` all use
//! these words; each is defined once here, with its spelling (lower case,
//! as in the rule files, the configuration and the JSON). Pure data.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::command::{Span, Target};

/// How risky a command is. Ordered: `None < Low < … < Critical`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    #[default]
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub const ALL: [Risk; 5] = [
        Risk::None,
        Risk::Low,
        Risk::Medium,
        Risk::High,
        Risk::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::None => "none",
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }

    /// One level up, for the fleet blast radius. Critical stays critical.
    pub fn raised(self) -> Risk {
        match self {
            Risk::None => Risk::None,
            Risk::Low => Risk::Medium,
            Risk::Medium => Risk::High,
            Risk::High | Risk::Critical => Risk::Critical,
        }
    }

    pub fn parse(s: &str) -> Option<Risk> {
        Risk::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happens to a line. Ordered: `Allow < Confirm < Deny`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Runs without a prompt (a low risk prints a notice).
    #[default]
    Allow,
    /// Runs only after a typed confirmation and a reason.
    Confirm,
    /// Refused; only a rule change lifts it.
    Deny,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Confirm => "confirm",
            Action::Deny => "deny",
        }
    }

    /// The default action for a risk level (DESIGN.md): low only notifies.
    pub fn for_risk(risk: Risk) -> Action {
        match risk {
            Risk::None | Risk::Low => Action::Allow,
            Risk::Medium | Risk::High | Risk::Critical => Action::Confirm,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a risk level asks of the operator before the line runs: the
/// `[confirm]` table of the configuration, resolved per level by the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ask {
    /// Runs silently (still logged).
    Run,
    /// Prints a one-line notice, runs, logs.
    Notice,
    /// Explains; the operator types `yes` and gives a reason.
    ConfirmYes,
    /// Explains and previews; the operator types the host's short name and
    /// gives a reason.
    ConfirmHost,
    /// Refused; only a rule or configuration change lifts it.
    Deny,
}

impl Ask {
    /// Every value, in the order the documentation lists them.
    pub const ALL: [Ask; 5] = [
        Ask::Run,
        Ask::Notice,
        Ask::ConfirmYes,
        Ask::ConfirmHost,
        Ask::Deny,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ask::Run => "run",
            Ask::Notice => "notice",
            Ask::ConfirmYes => "confirm-yes",
            Ask::ConfirmHost => "confirm-host",
            Ask::Deny => "deny",
        }
    }

    /// The verdict action this answer belongs to.
    pub fn action(self) -> Action {
        match self {
            Ask::Run | Ask::Notice => Action::Allow,
            Ask::ConfirmYes | Ask::ConfirmHost => Action::Confirm,
            Ask::Deny => Action::Deny,
        }
    }
}

impl fmt::Display for Ask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the line reached safe-run; spelt as in the audit log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// Typed at the interactive shell.
    #[default]
    #[serde(rename = "shell")]
    Shell,
    /// `safe-run -c LINE` (sshd's remote command, scp, rsync).
    #[serde(rename = "-c")]
    DashC,
    /// `safe-run -- PROG ARGS…` (no shell).
    #[serde(rename = "--")]
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

/// What happened to the line; spelt as in the audit log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Ran without a prompt.
    #[default]
    Allowed,
    /// Ran after a typed confirmation.
    Confirmed,
    /// Not run: needed a confirmation that was not given (no terminal,
    /// wrong answer passed as a flag), or could not be recorded.
    Refused,
    /// Not run: a rule or the policy denies it.
    Denied,
    /// Not run: the operator gave up at the prompt.
    Aborted,
}

impl Decision {
    pub const ALL: [Decision; 5] = [
        Decision::Allowed,
        Decision::Confirmed,
        Decision::Refused,
        Decision::Denied,
        Decision::Aborted,
    ];

    pub fn parse(word: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == word)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Confirmed => "confirmed",
            Decision::Refused => "refused",
            Decision::Denied => "denied",
            Decision::Aborted => "aborted",
        }
    }

    /// Does the command run (and so is an outcome record to follow)?
    pub fn runs(self) -> bool {
        matches!(self, Decision::Allowed | Decision::Confirmed)
    }
}

/// One rule that hit one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: String,
    pub risk: Risk,
    pub action: Action,
    /// argv of the command that was hit, after unwrapping.
    pub command: Vec<String>,
    /// Byte span of that command in the checked line.
    pub span: Span,
    pub why: String,
    pub instead: String,
    /// The rule's dry-run command with the line's words filled in, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<Vec<String>>,
    /// Where the command acts: this host, another host, a cluster.
    #[serde(skip_serializing_if = "Target::is_local")]
    pub target: Target,
}

/// The judgement on a whole line: the highest risk found, and every finding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub action: Action,
    pub risk: Risk,
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// Builds the verdict from findings: deny beats everything, then the
    /// highest risk decides.
    pub fn from_findings(findings: Vec<Finding>) -> Verdict {
        let risk = findings.iter().map(|f| f.risk).max().unwrap_or_default();
        let action = findings.iter().map(|f| f.action).max().unwrap_or_default();
        Verdict {
            action,
            risk,
            findings,
        }
    }

    /// Would the line run without any prompt (a notice is allowed)?
    pub fn runs_silently(&self) -> bool {
        self.action == Action::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(risk: Risk, action: Action) -> Finding {
        Finding {
            rule: "r".into(),
            risk,
            action,
            command: vec![],
            span: (0, 0),
            why: String::new(),
            instead: String::new(),
            preview: None,
            target: Target::Local,
        }
    }

    #[test]
    fn deny_beats_a_higher_risk_that_only_confirms() {
        let v = Verdict::from_findings(vec![
            finding(Risk::Low, Action::Deny),
            finding(Risk::Critical, Action::Confirm),
        ]);
        assert_eq!(v.action, Action::Deny);
        assert_eq!(v.risk, Risk::Critical);
    }

    #[test]
    fn raising_stops_at_critical() {
        assert_eq!(Risk::Medium.raised(), Risk::High);
        assert_eq!(Risk::Critical.raised(), Risk::Critical);
        assert_eq!(Risk::None.raised(), Risk::None);
    }

    #[test]
    fn no_findings_is_allow_none() {
        let v = Verdict::from_findings(vec![]);
        assert_eq!((v.action, v.risk), (Action::Allow, Risk::None));
    }
}
