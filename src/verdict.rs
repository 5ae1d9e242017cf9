//! Risk levels, actions and the verdict on a line.
//!
//! Kept apart from `rules` and `classify` because the prompt, the audit log
//! and `check --json` all speak these words; their spelling (lower case, as
//! in the rule files and the JSON) is defined once here.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::command::Span;

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
