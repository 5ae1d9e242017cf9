//! Fleet slots: at most N hosts of a group in a disruptive change at once
//! (docs/FLEET.md). A reboot typed on three nodes of one cluster is right
//! on each and wrong together; one terminal cannot see the others, so the
//! hosts of a group share a counting semaphore in a store.
//!
//! This file is the concept and its pure parts: which findings of a line
//! disrupt this node ([`disruption`]), what a store keeps about a holder
//! ([`Holder`]), what the pipeline asks ([`Slots`]) and what it is told
//! ([`Take`], [`HeldSlot`]), and how a refusal reads ([`refusal_text`]).
//! The stores are edges behind one trait ([`Store`]): [`local`] (lock
//! files on this host, the default), [`etcd`] (leases and transactions,
//! so that a crashed holder's slot expires) and [`fleetlock`] (a server of
//! Zincati's reboot protocol). [`guard`] is what a session
//! builds: it opens the store only when a disruptive line asks, so a safe
//! line never touches it.

pub mod etcd;
pub mod fleetlock;
pub mod guard;
pub mod http;
pub mod local;

use serde::{Deserialize, Serialize};

use crate::audit::record::{SlotEvent, SlotHolder, SlotRecord};
use crate::rules::RuleSet;
use crate::rules::spec::Disruption;
use crate::verdict::{Risk, Verdict};

/// One host's hold on a slot of a group, as the store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Holder {
    pub host: String,
    pub user: String,
    /// When it was taken, RFC 3339, by the holder's clock (shown only:
    /// nothing expires by it).
    pub since: String,
    pub reason: String,
    /// The line that took it.
    pub line: String,
    /// `reboot` or `change`.
    pub kind: String,
    /// The safe-run process holding it (the local store drops the hold
    /// of a change whose process is gone).
    pub pid: u32,
    /// The boot the hold was taken in (a host that booted since is back).
    pub boot_id: String,
}

impl Holder {
    /// How a refusal names it.
    pub fn shown(&self, group: &str) -> SlotHolder {
        SlotHolder {
            group: group.to_string(),
            host: self.host.clone(),
            user: self.user.clone(),
            since: self.since.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// What a store answered to a request for slots.
#[derive(Debug)]
pub enum Taken {
    /// A slot in every group; `lease` is the store's handle on them (etcd's
    /// lease id), `renewing` keeps them alive until dropped or stopped.
    Held {
        lease: Option<String>,
        renewing: Option<Box<dyn Renewal>>,
    },
    /// Some group is full: its holders.
    Full(Vec<SlotHolder>),
}

/// Keeps a held slot alive while the command runs (etcd's lease
/// keep-alive); stopping it leaves the slot to its release or its expiry.
pub trait Renewal: Send + std::fmt::Debug {
    fn stop(&mut self);
}

/// Where slots are kept. Every call is bounded by the store's wait.
pub trait Store {
    /// Takes a slot in each of `groups` (name, limit) for `me`, all or
    /// none. A hold of `me.host` already there is replaced, not counted.
    fn take(&mut self, groups: &[(String, u32)], me: &Holder) -> Result<Taken, String>;
    /// Gives back `host`'s slots in `groups`; `lease` is the handle the
    /// take returned, if it was kept.
    fn release(&mut self, groups: &[String], host: &str, lease: Option<&str>)
    -> Result<(), String>;
    /// Whether `host` still holds its slots in `groups` (under `lease`, if
    /// given): asked before a change runs under the hold of a reboot or a
    /// drain this host's note names. A store that cannot tell says yes.
    fn still_held(
        &mut self,
        _groups: &[String],
        _host: &str,
        _lease: Option<&str>,
    ) -> Result<bool, String> {
        Ok(true)
    }
    /// `local DIR` or `etcd URL`, for messages and records.
    fn describe(&self) -> String;
}

/// In `fleet.disruptive_rules`: every finding of high risk or more is a
/// disruptive change. Also the strictest reading of a list that cannot be
/// read.
pub const EVERY_HIGH_RISK: &str = "*";

/// The part of a line that disrupts this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disruptive {
    /// The rules that say so.
    pub rules: Vec<String>,
    /// The strongest of theirs: `Reboot`, then `Hold`, then `Change`.
    pub kind: Disruption,
}

/// The findings of `verdict` that disrupt this node: a rule marked
/// `disruptive`, or one of `extra` (a change; [`EVERY_HIGH_RISK`]: any
/// finding of high risk or more), acting on this host (`ssh core-2
/// reboot` disrupts core-2, whose own safe-run takes its slot). Pure.
pub fn disruption(verdict: &Verdict, rules: &RuleSet, extra: &[String]) -> Option<Disruptive> {
    let mut found = Disruptive {
        rules: Vec::new(),
        kind: Disruption::Change,
    };
    for f in verdict.findings.iter().filter(|f| f.target.is_local()) {
        let marked = rules.get(&f.rule).and_then(|r| r.disruption());
        let kind = match marked {
            Some(kind) => kind,
            None if extra.contains(&f.rule) => Disruption::Change,
            None if f.risk >= Risk::High && extra.iter().any(|e| e == EVERY_HIGH_RISK) => {
                Disruption::Change
            }
            None => continue,
        };
        // The strongest wins: a reboot, then a hold, then a change.
        found.kind = match (found.kind, kind) {
            (Disruption::Reboot, _) | (_, Disruption::Reboot) => Disruption::Reboot,
            (Disruption::Hold, _) | (_, Disruption::Hold) => Disruption::Hold,
            _ => Disruption::Change,
        };
        if !found.rules.contains(&f.rule) {
            found.rules.push(f.rule.clone());
        }
    }
    (!found.rules.is_empty()).then_some(found)
}

/// A slot held for a line, from the take to the command's end.
#[derive(Debug)]
pub struct HeldSlot {
    pub groups: Vec<String>,
    pub kind: Disruption,
    pub lease: Option<String>,
    pub renewing: Option<Box<dyn Renewal>>,
}

/// What the pipeline is told when it asks for a slot.
#[derive(Debug)]
pub enum Take {
    /// Held: run, and hand the slot back to [`Slots::finish`].
    Held(HeldSlot, SlotRecord),
    /// Not had (full, store unreachable, configuration unreadable): the
    /// record says why, the message tells the operator.
    Refused(SlotRecord, String),
}

/// What the pipeline asks of the fleet. `None` in the pipeline's `Io`
/// (no groups configured): no slot is ever asked for.
pub trait Slots {
    /// The part of the line that disrupts this node, if any. Never
    /// touches the store.
    fn disruptive(&self, verdict: &Verdict, rules: &RuleSet) -> Option<Disruptive>;
    /// Takes a slot in each of the host's groups for `what`, bounded by
    /// the configured wait.
    fn take(&mut self, what: &Disruptive, line: &str, reason: &str) -> Take;
    /// The command ended (`ran_ok`: it exited 0): a change gives its slot
    /// back; a reboot that was started keeps it until the host is back.
    fn finish(&mut self, held: HeldSlot, ran_ok: bool) -> SlotRecord;
}

/// The operator's message for a refusal because `holders` fill the
/// host's groups (`limits`: each group's limit). A holder without a host
/// is a store's refusal that does not say who (FleetLock).
pub fn refusal_text(holders: &[SlotHolder], limits: &[(String, u32)], store: &str) -> String {
    let mut text = String::from("no fleet slot is free for this disruptive change:");
    for (group, limit) in limits {
        let of_group: Vec<&SlotHolder> = holders.iter().filter(|h| h.group == *group).collect();
        if of_group.is_empty() {
            continue;
        }
        if of_group.iter().all(|h| h.host.is_empty()) {
            for h in of_group {
                text.push_str(&format!("\n  {group}: {}", h.reason));
            }
            continue;
        }
        let hosts = if *limit == 1 { "host" } else { "hosts" };
        text.push_str(&format!(
            "\n  {group} allows {limit} {hosts} at once, and it is held by:"
        ));
        for h in of_group {
            text.push_str(&format!(
                "\n    {} — {} since {}: \"{}\"",
                h.host, h.user, h.since, h.reason
            ));
        }
    }
    text.push_str(&format!(
        "\n  ({store}.) Wait until they are done (their slot comes back when their change ends or their host is back from its reboot), or ask them. If this cannot wait, run it again with --break-glass: it runs without a slot, and the record says so."
    ));
    text
}

/// The record of a refusal or a break-glass.
pub fn slot_record(
    event: SlotEvent,
    groups: &[String],
    store: &str,
    holders: Vec<SlotHolder>,
    error: Option<String>,
) -> SlotRecord {
    SlotRecord {
        event,
        groups: groups.to_vec(),
        store: store.to_string(),
        holders,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Target;
    use crate::verdict::{Action, Finding, Risk};

    fn finding(rule: &str, target: Target) -> Finding {
        Finding {
            rule: rule.into(),
            risk: Risk::High,
            action: Action::Confirm,
            command: vec![],
            span: Default::default(),
            why: String::new(),
            instead: String::new(),
            preview: None,
            target,
        }
    }

    #[test]
    fn reboots_and_runtime_restarts_on_this_host_are_disruptive() {
        let rules = RuleSet::builtin();
        let reboot = Verdict::from_findings(vec![finding("power-reboot", Target::Local)]);
        assert_eq!(
            disruption(&reboot, &rules, &[]),
            Some(Disruptive {
                rules: vec!["power-reboot".into()],
                kind: Disruption::Reboot
            })
        );
        let restart = Verdict::from_findings(vec![finding("ctr-kubelet-restart", Target::Local)]);
        assert_eq!(
            disruption(&restart, &rules, &[]).map(|d| d.kind),
            Some(Disruption::Change)
        );
        let elsewhere =
            Verdict::from_findings(vec![finding("power-reboot", Target::Host("core-2".into()))]);
        assert_eq!(disruption(&elsewhere, &rules, &[]), None);
        let upgrade = Verdict::from_findings(vec![finding("apt-full-upgrade", Target::Local)]);
        assert_eq!(disruption(&upgrade, &rules, &[]), None);
        assert_eq!(
            disruption(&upgrade, &rules, &["apt-full-upgrade".into()]).map(|d| d.kind),
            Some(Disruption::Change)
        );
        assert_eq!(
            disruption(&upgrade, &rules, &[EVERY_HIGH_RISK.into()]).map(|d| d.kind),
            Some(Disruption::Change)
        );
    }

    #[test]
    fn a_refusal_names_every_holder_of_a_full_group() {
        let holders = vec![SlotHolder {
            group: "core".into(),
            host: "core-2".into(),
            user: "alice".into(),
            since: "2026-11-21T22:41:07Z".into(),
            reason: "CHG-1 kernel".into(),
        }];
        let text = refusal_text(
            &holders,
            &[("core".into(), 1), ("edge".into(), 2)],
            "local /x",
        );
        assert!(text.contains("core allows 1 host at once"), "{text}");
        assert!(
            text.contains("core-2 — alice since 2026-11-21T22:41:07Z: \"CHG-1 kernel\""),
            "{text}"
        );
        assert!(!text.contains("edge"), "{text}");
        assert!(text.contains("--break-glass"), "{text}");
    }
}
