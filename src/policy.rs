//! The site's policy, resolved for one session: what each risk level asks
//! of the operator, what a reason must be, how the explanation looks
//! (environment label, host, colour, width), and how lines are run and
//! previewed; and the change controls a line meets besides its
//! confirmation ([`ChangeControls`]: a freeze, an approval, a fleet slot),
//! which `check` reports so that its answer stays what running would do.
//!
//! Built once from the configuration ([`Policy::from_config`]) by the
//! session, then read by the steps that need it (`confirm`, `exec`,
//! `preview`). Pure: the host name, the colour decision, the width and the
//! freeze in force come in as values.

use std::time::Duration;

use crate::approval::{self, ApprovalSettings};
use crate::audit::record::Provenance;
use crate::config::Config;
use crate::fleet;
use crate::freeze::{self, Freeze, FreezeSettings};
use crate::rules::RuleSet;
use crate::term::paint::{self, Style};
use crate::verdict::{Action, Ask, Risk, Verdict};

/// The site's policy, resolved from the configuration.
#[derive(Clone, Debug)]
pub struct Policy {
    pub low: Ask,
    pub medium: Ask,
    pub high: Ask,
    pub critical: Ask,
    pub reason_min: usize,
    pub reason_min_critical: usize,
    pub reason_pattern: Option<regex::Regex>,
    pub host: String,
    pub env_label: String,
    /// SGR parameters for the environment label.
    pub env_color: String,
    pub shell: String,
    pub preview_timeout: Duration,
    pub preview_lines: usize,
    /// Package name patterns an upgrade's preview treats as critical.
    pub critical_packages: Vec<String>,
    pub color: bool,
    /// Columns to wrap explanations at.
    pub width: usize,
    /// A risky line runs only once its decision's off-host copy (syslog)
    /// was sent (`syslog.required`).
    pub syslog_required: bool,
    /// Where the configuration and rules in force came from.
    pub provenance: Provenance,
    /// The change controls a line meets besides its confirmation.
    pub change: ChangeControls,
}

/// The change controls a line meets besides its confirmation: a freeze in
/// force, a second operator's approval, a fleet slot. The pipeline applies
/// them itself (`gate`, `fleet`); `check` reports them from here, so that
/// its answer stays the decision running would take.
#[derive(Clone, Debug, Default)]
pub struct ChangeControls {
    /// The freeze in force when the policy was made: the edge reads the
    /// clock and the freeze file (`controls::freeze_now`) and sets it.
    pub freeze: Option<Freeze>,
    pub freeze_settings: FreezeSettings,
    pub approval: ApprovalSettings,
    /// This host's fleet groups (none: no slots), and the rule ids the
    /// configuration adds to those marked disruptive.
    pub fleet_groups: Vec<String>,
    pub disruptive_rules: Vec<String>,
}

/// What the change controls would do to one line, in words. Empty when
/// none applies.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Held {
    /// The freeze that holds the line back: it runs only with
    /// break-glass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freeze: Option<String>,
    /// Why the line needs a second operator's approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The fleet groups it takes a slot of before it runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slot: Vec<String>,
}

impl Held {
    pub fn is_empty(&self) -> bool {
        *self == Held::default()
    }
}

impl ChangeControls {
    /// What these controls would do to a line judged `verdict` and
    /// answered `ask`. Pure: the freeze was read by the edge.
    pub fn held(&self, verdict: &Verdict, ask: Ask, rules: &RuleSet) -> Held {
        if ask == Ask::Deny || verdict.findings.is_empty() {
            return Held::default();
        }
        let freeze = self
            .freeze
            .as_ref()
            .filter(|_| freeze::holds(&self.freeze_settings, verdict.risk))
            .map(Freeze::describe);
        let approval = approval::needs(&self.approval, verdict);
        let slot = if self.fleet_groups.is_empty() {
            Vec::new()
        } else {
            fleet::disruption(verdict, rules, &self.disruptive_rules)
                .map(|_| self.fleet_groups.clone())
                .unwrap_or_default()
        };
        Held {
            freeze,
            approval,
            slot,
        }
    }
}

/// What a reason must satisfy.
#[derive(Clone, Debug, Default)]
pub struct ReasonPolicy {
    pub min_len: usize,
    /// A pattern the reason must contain (a ticket id, say).
    pub pattern: Option<regex::Regex>,
    /// At least a sentence: several words.
    pub sentence: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            low: Ask::Notice,
            medium: Ask::ConfirmYes,
            high: Ask::ConfirmHost,
            critical: Ask::ConfirmHost,
            reason_min: 8,
            reason_min_critical: 20,
            reason_pattern: None,
            host: "localhost".into(),
            env_label: "production".into(),
            env_color: "31".into(),
            shell: "/bin/bash".into(),
            preview_timeout: Duration::from_secs(10),
            preview_lines: 20,
            critical_packages: crate::config::Preview::default().critical_packages,
            color: false,
            width: crate::term::width::DEFAULT,
            syslog_required: false,
            provenance: Provenance::default(),
            change: ChangeControls::default(),
        }
    }
}

impl Policy {
    /// The policy in force, from the configuration and this host.
    pub fn from_config(config: &Config, host: &str, color: bool, width: usize) -> Policy {
        let c = &config.confirm;
        Policy {
            low: c.low,
            medium: c.medium,
            high: c.high,
            critical: c.critical,
            reason_min: c.reason_min_chars,
            reason_min_critical: c.critical_reason_min_chars.max(c.reason_min_chars),
            reason_pattern: c
                .reason_pattern
                .as_ref()
                .and_then(|p| regex::Regex::new(p.as_str()).ok()),
            host: host.to_string(),
            env_label: config.environment.name.clone(),
            env_color: format!("1;{}", config.environment.color.ansi_fg()),
            shell: config.shell.program.display().to_string(),
            preview_timeout: config.preview.timeout,
            preview_lines: config.preview.max_lines,
            critical_packages: config.preview.critical_packages.clone(),
            color,
            width,
            syslog_required: config.syslog.required,
            provenance: Provenance::default(),
            change: ChangeControls {
                freeze: None,
                freeze_settings: config.freeze.clone(),
                approval: config.approval.clone(),
                fleet_groups: config.fleet.groups.clone(),
                disruptive_rules: config.fleet.disruptive_rules.clone(),
            },
        }
    }

    /// What a risk level asks under this policy (`none` always runs).
    pub fn level(&self, risk: Risk) -> Ask {
        match risk {
            Risk::None => Ask::Run,
            Risk::Low => self.low,
            Risk::Medium => self.medium,
            Risk::High => self.high,
            Risk::Critical => self.critical,
        }
    }

    /// What the verdict asks of the operator under this policy.
    pub fn action_for(&self, verdict: &Verdict) -> Ask {
        if verdict.action == Action::Deny {
            return Ask::Deny;
        }
        self.level(verdict.risk)
    }

    /// What a reason for a line of this risk must be.
    pub fn reason_policy(&self, risk: Risk) -> ReasonPolicy {
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

    pub fn style(&self) -> Style {
        Style {
            color: self.color,
            width: self.width,
        }
    }

    pub fn paint(&self, sgr: &str, text: &str) -> String {
        paint::paint(self.color, sgr, text)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_change_controls_say_what_they_would_do_to_a_line() {
        let rules = RuleSet::builtin();
        let judged = |line: &str| crate::classify::check_line(line, &rules).unwrap();
        let mut c = ChangeControls::default();
        let reboot = judged("reboot");
        let ask = Policy::default().action_for(&reboot);
        assert!(
            c.held(&reboot, ask, &rules).is_empty(),
            "nothing configured"
        );

        c.freeze = Some(Freeze {
            name: "freeze file".into(),
            message: "INC-7".into(),
            until: None,
        });
        c.approval.risks = vec![Risk::High];
        c.fleet_groups = vec!["core".into()];
        let held = c.held(&reboot, ask, &rules);
        assert!(
            held.freeze.as_deref().is_some_and(|f| f.contains("INC-7")),
            "{held:?}"
        );
        assert_eq!(held.approval.as_deref(), Some("high risk"));
        assert_eq!(held.slot, ["core"], "a reboot is disruptive");

        // A safe line meets none of them; a refused one is refused anyway.
        let ls = judged("ls /etc");
        assert!(
            c.held(&ls, Policy::default().action_for(&ls), &rules)
                .is_empty()
        );
        assert!(c.held(&reboot, Ask::Deny, &rules).is_empty());
        // A line below the freeze's threshold is not held by it.
        c.freeze_settings.min_risk = Risk::Critical;
        assert_eq!(c.held(&reboot, ask, &rules).freeze, None);
    }
    use super::*;
    use crate::config::ReasonPattern;
    use crate::confirm::validate_reason;

    fn verdict(risk: Risk) -> Verdict {
        Verdict {
            action: Action::for_risk(risk),
            risk,
            findings: Vec::new(),
        }
    }

    #[test]
    fn the_default_configuration_asks_by_risk_and_agrees_with_the_default_actions() {
        let policy = Policy::from_config(&Config::default(), "core-1", false, 80);
        let asks: Vec<Ask> = Risk::ALL
            .iter()
            .map(|r| policy.action_for(&verdict(*r)))
            .collect();
        assert_eq!(
            asks,
            [
                Ask::Run,
                Ask::Notice,
                Ask::ConfirmYes,
                Ask::ConfirmHost,
                Ask::ConfirmHost
            ]
        );
        for risk in Risk::ALL {
            assert_eq!(
                policy.action_for(&verdict(risk)).action(),
                Action::for_risk(risk),
                "{risk}"
            );
        }
        let denied = Verdict {
            action: Action::Deny,
            ..verdict(Risk::Low)
        };
        assert_eq!(policy.action_for(&denied), Ask::Deny);
    }

    #[test]
    fn reasons_are_checked_by_length_and_pattern_and_critical_is_never_easier() {
        let mut config = Config::default();
        let policy = Policy::from_config(&config, "h", false, 80);
        let medium = policy.reason_policy(Risk::Medium);
        assert!(validate_reason("  short  ", &medium).is_err());
        assert!(validate_reason("patch CVE", &medium).is_ok());
        // Eight characters, not eight bytes.
        assert!(validate_reason("éèêëàâîï", &medium).is_ok());
        let critical = policy.reason_policy(Risk::Critical);
        assert!(validate_reason("patch CVE", &critical).is_err());
        assert!(validate_reason("patch CVE-2026-1234 now", &critical).is_ok());
        // Raising the general minimum raises critical too.
        config.confirm.reason_min_chars = 30;
        let policy = Policy::from_config(&config, "h", false, 80);
        assert_eq!(policy.reason_policy(Risk::Critical).min_len, 30);
        config.confirm.reason_min_chars = 8;
        config.confirm.reason_pattern = Some(ReasonPattern::new("[A-Z]+-[0-9]+").unwrap());
        let policy = Policy::from_config(&config, "h", false, 80);
        let medium = policy.reason_policy(Risk::Medium);
        assert!(validate_reason("rotate the cert", &medium).is_err());
        assert!(validate_reason("rotate the cert, CHG-4411", &medium).is_ok());
    }
}
