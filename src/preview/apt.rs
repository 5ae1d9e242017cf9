//! `apt-get -s upgrade` (and `dist-upgrade`, `full-upgrade`, `install`):
//! what a whole-system upgrade would really do.
//!
//! apt's simulation prints one `Inst NAME [OLD] (NEW …)` line per package
//! it would install or upgrade, `Remv NAME [OLD]` per removal, the count
//! line (`5 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.`)
//! and `E:` lines when it would stop. From those this says how many
//! packages change, which move to a new major version, which of them run
//! this host's workload (the critical list) and what restarts when they
//! do: "docker-ce 19.03.15 → 20.10.5 is a new major version, and the docker
//! daemon restarts".

use std::sync::LazyLock;

use super::fact::{Context, Fact, Value, some_of};
use super::pkg::{self, Change};

/// Does this apt-get/apt argv simulate (`-s`, `--simulate`, `-qs` …)?
pub fn simulates(args: &[String]) -> bool {
    args.iter().any(|a| {
        matches!(
            a.as_str(),
            "-s" | "--simulate" | "--just-print" | "--dry-run" | "--recon" | "--no-act"
        ) || (a.len() > 1
            && a.starts_with('-')
            && !a.starts_with("--")
            && a[1..].chars().all(|c| c.is_ascii_alphabetic())
            && a[1..].contains('s'))
    })
}

static COUNT: LazyLock<regex_lite::Regex> = LazyLock::new(|| {
    regex_lite::Regex::new(r"^(\d+) (?:packages )?upgraded, (\d+) newly installed, (?:(\d+) downgraded, )?(\d+) to remove and (\d+) not upgraded")
        .expect("a valid pattern")
});

/// What apt's simulation said.
#[derive(Debug, Default)]
struct Plan {
    changes: Vec<Change>,
    counts: Option<[u64; 5]>,
    kept_back: Vec<String>,
    errors: Vec<String>,
    unmet: Vec<String>,
}

fn parse(text: &str) -> Plan {
    let mut plan = Plan::default();
    let mut section = "";
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Inst ") {
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let rest = rest[name.len()..].trim_start();
            let (old, rest) = match rest.strip_prefix('[') {
                Some(r) => match r.split_once(']') {
                    Some((old, rest)) => (Some(old.to_string()), rest.trim_start()),
                    None => (None, rest),
                },
                None => (None, rest),
            };
            let new = rest
                .strip_prefix('(')
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string);
            plan.changes.push(Change { name, old, new });
            continue;
        }
        if let Some(rest) = line.strip_prefix("Remv ") {
            let name = rest.split_whitespace().next().unwrap_or_default();
            let old = rest
                .split_once('[')
                .and_then(|(_, r)| r.split_once(']'))
                .map(|(v, _)| v.to_string());
            plan.changes.push(Change {
                name: name.to_string(),
                old,
                new: None,
            });
            continue;
        }
        if let Some(c) = COUNT.captures(line) {
            let n = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse().unwrap_or(0));
            plan.counts = Some([n(1), n(2), n(3), n(4), n(5)]);
            continue;
        }
        if let Some(e) = line.strip_prefix("E: ") {
            plan.errors.push(e.trim().to_string());
            continue;
        }
        if line.starts_with("The following packages have been kept back") {
            section = "kept";
            continue;
        }
        if line.starts_with("The following packages have unmet dependencies") {
            section = "unmet";
            continue;
        }
        if line.starts_with(' ') {
            match section {
                "kept" => plan
                    .kept_back
                    .extend(line.split_whitespace().map(str::to_string)),
                "unmet" if !line.trim().is_empty() => plan
                    .unmet
                    .push(line.split_whitespace().collect::<Vec<_>>().join(" ")),
                _ => {}
            }
            continue;
        }
        section = "";
    }
    plan
}

pub fn summarise(text: &str, _command: &[String], ctx: &Context) -> Result<Vec<Fact>, String> {
    let plan = parse(text);
    if plan.counts.is_none() && plan.changes.is_empty() && plan.errors.is_empty() {
        return Err("apt's output has no package count and no Inst/Remv lines".to_string());
    }
    let mut facts = Vec::new();

    if !plan.errors.is_empty() {
        let mut why = plan.errors.join(" ");
        if !plan.unmet.is_empty() {
            why.push_str(&format!(" ({})", some_of(&plan.unmet, 3)));
        }
        facts.push(
            Fact::loud(format!(
                "apt stops with an error, so nothing would change as typed: {why}"
            ))
            .with("errors", Value::List(plan.errors.clone())),
        );
    }

    let removed = plan.changes.iter().filter(|c| c.new.is_none()).count() as u64;
    let installed = plan
        .changes
        .iter()
        .filter(|c| c.old.is_none() && c.new.is_some())
        .count() as u64;
    let upgraded = plan
        .changes
        .iter()
        .filter(|c| c.old.is_some() && c.new.is_some())
        .count() as u64;
    let [up, new, down, remove, held] = plan.counts.unwrap_or([upgraded, installed, 0, removed, 0]);
    facts.push(pkg::counts_fact(up, new, down, remove, held));
    facts.extend(pkg::change_facts(&plan.changes, ctx));

    if !plan.kept_back.is_empty() {
        facts.push(
            Fact::plain(format!(
                "kept back (not upgraded by this command): {}",
                some_of(&plan.kept_back, 6)
            ))
            .with("kept_back", Value::List(plan.kept_back.clone())),
        );
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::fact::testing::{record, texts};
    use crate::preview::fact::{Level, fixture};
    use crate::preview::pkg::DEFAULT_CRITICAL;

    fn critical() -> Vec<String> {
        DEFAULT_CRITICAL.iter().map(|s| (*s).to_string()).collect()
    }

    fn run(text: &str) -> Vec<Fact> {
        let critical = critical();
        let ctx = Context {
            host: "core-1",
            critical: &critical,
            mounts: None,
        };
        summarise(&fixture(text), &["apt-get".into(), "upgrade".into()], &ctx).unwrap()
    }

    #[test]
    fn a_major_bump_of_docker_is_named_with_what_restarts() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/apt-upgrade-major.txt"
        ));
        let loud = texts(&facts, Level::Loud);
        assert!(
            loud.contains(
                &"new major version of what this host runs: docker-ce 19.03.15 → 20.10.5".into()
            ),
            "{loud:#?}"
        );
        assert!(loud.iter().any(|l| l.starts_with(
            "docker-ce: the docker daemon restarts: every container on it stops unless live-restore is on"
        )));
        assert!(
            loud.iter()
                .any(|l| l.starts_with("containerd.io: containerd restarts"))
        );
        let plain = texts(&facts, Level::Plain);
        assert!(
            plain.contains(&"5 packages change: 5 upgraded, 0 newly installed, 0 removed".into())
        );
        assert!(plain.contains(&"new major versions: acme-tools 2.4 → 3.0".into()));
        assert!(plain.contains(&"openssh-server: sshd restarts (existing sessions stay)".into()));
        // containerd.io and libfoo1 move within their major version.
        assert_eq!(
            record(&facts, "major_bumps"),
            Some(Value::List(vec![
                "acme-tools 2.4→3.0".into(),
                "docker-ce 19.03.15→20.10.5".into()
            ]))
        );
        assert_eq!(
            record(&facts, "critical"),
            Some(Value::List(vec![
                "containerd.io".into(),
                "docker-ce".into(),
                "openssh-server".into()
            ]))
        );
        // A patch of the same upstream version shows the revisions.
        assert!(
            loud.iter()
                .any(|l| l.contains("openssh-server 9.2p1-2 → 9.2p1-2+deb12u3"))
        );
    }

    #[test]
    fn nothing_to_upgrade_says_so_and_nothing_else() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/apt-upgrade-none.txt"
        ));
        assert_eq!(facts.len(), 1, "{facts:#?}");
        assert_eq!(facts[0].level, Level::Plain);
        assert_eq!(
            facts[0].text,
            "nothing changes: 0 upgraded, 0 newly installed, 0 removed"
        );
        assert_eq!(record(&facts, "upgraded"), Some(Value::Count(0)));
    }

    #[test]
    fn unmet_dependencies_are_an_error_that_changes_nothing() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/apt-upgrade-unmet.txt"
        ));
        let loud = texts(&facts, Level::Loud);
        assert_eq!(
            loud,
            vec!["apt stops with an error, so nothing would change as typed: Unmet dependencies. Try 'apt --fix-broken install' with no packages (or specify a solution). (broken-app : Depends: missing-lib but it is not installable)".to_string()]
        );
    }

    #[test]
    fn upgrade_keeps_back_what_needs_new_packages_and_dist_upgrade_installs_and_removes() {
        let kept = run(include_str!(
            "../../tests/fixtures/previews/apt-upgrade-kept-back.txt"
        ));
        assert!(
            texts(&kept, Level::Plain).contains(
                &"kept back (not upgraded by this command): acme-tools, docker-ce".into()
            )
        );
        assert!(record(&kept, "major_bumps").is_none());
        assert!(
            texts(&kept, Level::Plain).iter().any(|t| t
                == "2 packages change: 2 upgraded, 0 newly installed, 0 removed; 2 not upgraded")
        );

        let dist = run(include_str!(
            "../../tests/fixtures/previews/apt-dist-upgrade.txt"
        ));
        let loud = texts(&dist, Level::Loud);
        assert!(
            loud.contains(&"6 packages change: 4 upgraded, 1 newly installed, 1 removed".into()),
            "{loud:#?}"
        );
        assert!(loud.contains(&"removes libfoo1".into()));
        assert!(
            loud.iter()
                .any(|l| l.contains("docker-ce 19.03.15 → 20.10.5"))
        );
    }

    #[test]
    fn a_real_debian_point_release_names_systemd_and_postgresql() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/apt-upgrade-debian12.txt"
        ));
        let plain = texts(&facts, Level::Plain);
        assert!(
            plain.contains(
                &"138 packages change: 138 upgraded, 0 newly installed, 0 removed".into()
            )
        );
        let Some(Value::List(crit)) = record(&facts, "critical") else {
            panic!("no critical packages: {facts:#?}")
        };
        assert_eq!(crit, vec!["postgresql", "postgresql-15", "systemd"]);
        let loud = texts(&facts, Level::Loud);
        assert!(
            loud.iter()
                .any(|l| l
                    .starts_with("postgresql-15: the PostgreSQL clusters of this version restart")),
            "{loud:#?}"
        );
        assert!(
            record(&facts, "major_bumps").is_none(),
            "a point release has no major bump"
        );
    }

    #[test]
    fn simulation_flags_are_recognised_and_option_values_are_not() {
        let a = |w: &[&str]| simulates(&w.iter().map(|s| (*s).to_string()).collect::<Vec<_>>());
        assert!(a(&["-s", "upgrade"]));
        assert!(a(&["-qs", "upgrade"]));
        assert!(a(&["--simulate", "upgrade"]));
        assert!(!a(&["-oDir::State::status=/x/status", "upgrade"]));
        assert!(!a(&["-y", "upgrade"]));
    }

    #[test]
    fn output_that_is_not_apt_is_not_summarised() {
        let critical = critical();
        let ctx = Context {
            critical: &critical,
            ..Context::default()
        };
        assert!(summarise("Hello\n", &[], &ctx).is_err());
    }
}
