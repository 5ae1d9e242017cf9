//! What the package summaries (`apt`, `dnf`) share: the default critical
//! list, what a change to a critical package does to the host, one
//! package's change and how it is shown, and the facts every full upgrade
//! gets (the counts, removals, new major versions, the critical packages
//! and their effects).
//!
//! Kept apart from the parsers so apt and dnf say the same thing in the
//! same words, and the audit record has the same keys, whatever the tool.
//! Debian and RPM names differ (`linux-image-*` and `kernel-core`,
//! `postgresql-15` and `postgresql15-server`): the lists hold both.

use super::fact::{Context, Fact, Value, glob_match, plural, some_of};
use super::version;

/// The packages that run a production host's workload, as name patterns:
/// the default of the critical list.
pub const DEFAULT_CRITICAL: &[&str] = &[
    "docker",
    "docker.io",
    "docker-ce",
    "containerd",
    "containerd.io",
    "cri-o",
    "runc",
    "kubelet",
    "kubeadm",
    "etcd",
    "etcd-server",
    "postgresql",
    "postgresql-[0-9]*",
    "postgresql-server",
    "postgresql[0-9]*-server",
    "mysql-server*",
    "mysql-community-server",
    "mariadb-server*",
    "openssh-server",
    "systemd",
    "linux-image*",
    "kernel",
    "kernel-core",
];

/// What happens on the host when a critical package changes: pattern,
/// loud (the workload stops or restarts) or not, and the effect.
const EFFECTS: &[(&str, bool, &str)] = &[
    (
        "docker-ce",
        true,
        "the docker daemon restarts: every container on it stops unless live-restore is on",
    ),
    (
        "docker.io",
        true,
        "the docker daemon restarts: every container on it stops unless live-restore is on",
    ),
    (
        "docker",
        true,
        "the docker daemon restarts: every container on it stops unless live-restore is on",
    ),
    (
        "containerd*",
        true,
        "containerd restarts: docker and the kubelet lose their runtime until it is back",
    ),
    (
        "cri-o",
        true,
        "CRI-O restarts: the kubelet loses its runtime until it is back",
    ),
    (
        "kubelet",
        true,
        "the kubelet restarts on the new version: it must not be newer than the cluster's API servers",
    ),
    (
        "etcd*",
        true,
        "etcd restarts: this member is out of the quorum until it is back",
    ),
    (
        "postgresql-[0-9]*",
        true,
        "the PostgreSQL clusters of this version restart: every connection drops",
    ),
    (
        "postgresql*-server",
        true,
        "the PostgreSQL server restarts: every connection drops",
    ),
    (
        "mysql-server*",
        true,
        "the MySQL server restarts: every connection drops",
    ),
    (
        "mysql-community-server",
        true,
        "the MySQL server restarts: every connection drops",
    ),
    (
        "mariadb-server*",
        true,
        "the MariaDB server restarts: every connection drops",
    ),
    (
        "openssh-server",
        false,
        "sshd restarts (existing sessions stay)",
    ),
    (
        "systemd",
        false,
        "systemd re-executes itself; running services stay up",
    ),
    ("linux-image*", false, "needs a reboot to take effect"),
    ("kernel*", false, "needs a reboot to take effect"),
    (
        "runc",
        false,
        "new containers start with the new runc; running ones are not touched",
    ),
];

/// The old version of an upgrade whose tool did not say what is installed.
pub const UNKNOWN: &str = "?";

/// One package a transaction changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub name: String,
    /// The installed version (none for a new package, or when the tool's
    /// output does not say).
    pub old: Option<String>,
    /// The version it becomes (none for a removal).
    pub new: Option<String>,
}

impl Change {
    /// `docker-ce 19.03.15 → 20.10.5`, `libfoo1 (removed)`.
    pub fn shown(&self, arrow: &str) -> String {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) if old == UNKNOWN => {
                format!("{}{arrow}{}", self.name, without_epoch(new))
            }
            (Some(old), Some(new)) => {
                let (a, b) = if version::short(old) == version::short(new) {
                    (without_epoch(old), without_epoch(new))
                } else {
                    (version::short(old), version::short(new))
                };
                format!("{} {a}{arrow}{b}", self.name)
            }
            (None, Some(new)) => format!("{} {} (new)", self.name, version::short(new)),
            (Some(_), None) | (None, None) => format!("{} (removed)", self.name),
        }
    }

    pub fn is_major(&self) -> bool {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => version::is_major_change(old, new),
            _ => false,
        }
    }
}

fn without_epoch(v: &str) -> &str {
    v.split_once(':')
        .filter(|(e, _)| e.bytes().all(|b| b.is_ascii_digit()))
        .map_or(v, |(_, rest)| rest)
}

/// The package name without its `:arch` (apt's `libfoo1:amd64`).
pub fn base_name(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

/// Is this package on the host's critical list?
pub fn is_critical(ctx: &Context, name: &str) -> bool {
    let name = base_name(name);
    ctx.critical.iter().any(|p| glob_match(p, name))
}

/// The effect of a change to a critical package, if the table has one.
fn effect(name: &str) -> Option<(bool, &'static str)> {
    EFFECTS
        .iter()
        .find(|(pattern, _, _)| glob_match(pattern, name))
        .map(|(_, loud, what)| (*loud, *what))
}

/// How many packages change, as one line: `5 packages change: 5 upgraded,
/// 0 newly installed, 0 removed`. Loud when something is removed.
pub fn counts_fact(up: u64, new: u64, down: u64, remove: u64, held: u64) -> Fact {
    let total = up + new + down + remove;
    let mut counts = if total == 0 {
        "nothing changes: 0 upgraded, 0 newly installed, 0 removed".to_string()
    } else {
        let mut s = format!(
            "{} change: {up} upgraded, {new} newly installed, {remove} removed",
            plural(total as usize, "package", "packages")
        );
        if down > 0 {
            s.push_str(&format!(", {down} downgraded"));
        }
        s
    };
    if held > 0 {
        counts.push_str(&format!("; {held} not upgraded"));
    }
    let fact = if remove > 0 {
        Fact::loud(counts)
    } else {
        Fact::plain(counts)
    };
    let mut fact = fact
        .with("upgraded", Value::Count(up))
        .with("newly_installed", Value::Count(new))
        .with("removed", Value::Count(remove))
        .with("not_upgraded", Value::Count(held));
    if down > 0 {
        fact = fact.with("downgraded", Value::Count(down));
    }
    fact
}

/// What the changes themselves say: removals, new major versions (loud for
/// the critical packages), the critical packages that change and what
/// happens on the host when they do.
pub fn change_facts(changes: &[Change], ctx: &Context) -> Vec<Fact> {
    let critical = |name: &str| is_critical(ctx, name);
    let mut facts = Vec::new();
    let removed: Vec<&Change> = changes.iter().filter(|c| c.new.is_none()).collect();
    if !removed.is_empty() {
        let names: Vec<String> = removed.iter().map(|c| c.name.clone()).collect();
        facts.push(
            Fact::loud(format!("removes {}", some_of(&names, 6)))
                .with("removed_packages", Value::List(names)),
        );
    }

    let majors: Vec<&Change> = changes.iter().filter(|c| c.is_major()).collect();
    let major_record: Vec<String> = majors.iter().map(|c| c.shown("→")).collect();
    let (critical_majors, other_majors): (Vec<&Change>, Vec<&Change>) =
        majors.iter().partition(|c| critical(&c.name));
    let mut major_key = Some(Value::List(major_record));
    if !critical_majors.is_empty() {
        let shown: Vec<String> = critical_majors.iter().map(|c| c.shown(" → ")).collect();
        let mut f = Fact::loud(format!(
            "new major version of what this host runs: {}",
            some_of(&shown, 4)
        ));
        if let Some(v) = major_key.take() {
            f = f.with("major_bumps", v);
        }
        facts.push(f);
    }
    if !other_majors.is_empty() {
        let shown: Vec<String> = other_majors.iter().map(|c| c.shown(" → ")).collect();
        let mut f = Fact::plain(format!("new major versions: {}", some_of(&shown, 4)));
        if let Some(v) = major_key.take() {
            f = f.with("major_bumps", v);
        }
        facts.push(f);
    }

    let mut crit: Vec<&Change> = changes.iter().filter(|c| critical(&c.name)).collect();
    crit.sort_by(|a, b| a.name.cmp(&b.name));
    if !crit.is_empty() {
        let shown: Vec<String> = crit.iter().map(|c| c.shown(" → ")).collect();
        facts.push(
            Fact::loud(format!(
                "{} this host's workload runs on: {}",
                if crit.len() == 1 {
                    "changes a package"
                } else {
                    "changes packages"
                },
                some_of(&shown, 6)
            ))
            .with(
                "critical",
                Value::List(crit.iter().map(|c| c.name.clone()).collect()),
            ),
        );
        let mut effects = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for c in &crit {
            let name = base_name(&c.name);
            let Some((loud, what)) = effect(name) else {
                continue;
            };
            if c.new.is_none() {
                effects.push((
                    true,
                    format!("{name} is removed: {what}, and does not come back"),
                ));
            } else if !seen.contains(&what) {
                seen.push(what);
                effects.push((loud, format!("{name}: {what}")));
            }
        }
        let record: Vec<String> = effects.iter().map(|(_, e)| e.clone()).collect();
        for (i, (loud, text)) in effects.into_iter().enumerate() {
            let mut f = if loud {
                Fact::loud(text)
            } else {
                Fact::plain(text)
            };
            if i == 0 {
                f = f.with("effects", Value::List(record.clone()));
            }
            facts.push(f);
        }
    }

    facts
}
