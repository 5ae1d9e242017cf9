//! `yum`/`dnf … --assumeno` (upgrade, distro-sync, remove): the transaction
//! dnf would run, read into the same facts as apt's simulation.
//!
//! dnf prints a table (`Upgrading:`, `Installing dependencies:`,
//! `Removing:` … then `NAME ARCH VERSION REPO SIZE` lines, a name too long
//! for its column on a line of its own), the `Transaction Summary` counts,
//! and `Nothing to do.` or `Error: …` lines. The table gives only the new
//! version of an upgrade, so the rule's preview asks for
//! `--setopt=debuglevel=3`: dnf 4 then prints `---> Package NAME.ARCH EVR
//! will be upgraded` for the installed version (yum 3 prints the same
//! lines, `will be updated`, by default). dnf 5 ignores the setting but
//! prints the installed version itself, on a `replacing` line or after a
//! `<-` in the version column. Where neither says what is installed, the
//! summary says the old version is unknown rather than "no major bump".

use std::collections::HashMap;

use super::fact::{Context, Fact, Value, plural, some_of};
use super::pkg::{self, Change};

/// What a section of the table does to the packages listed in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Upgrade,
    Install,
    Remove,
    Downgrade,
    Reinstall,
    Skipped,
    /// A section this reader does not know (module streams, groups).
    Other,
    /// `Transaction Summary`: counts, not packages.
    Summary,
}

fn section_of(header: &str) -> Section {
    let h = header.trim_end_matches(':').to_ascii_lowercase();
    if h.starts_with("skipping") {
        Section::Skipped
    } else if h.starts_with("upgrading") || h.starts_with("updating") {
        if h.contains("group") {
            Section::Other
        } else {
            Section::Upgrade
        }
    } else if h.starts_with("installing") {
        if h.contains("module profiles") || h.contains("groups") {
            Section::Other
        } else {
            Section::Install
        }
    } else if h.starts_with("removing") || h.starts_with("erasing") {
        if h.contains("groups") {
            Section::Other
        } else {
            Section::Remove
        }
    } else if h.starts_with("downgrading") {
        Section::Downgrade
    } else if h.starts_with("reinstalling") {
        Section::Reinstall
    } else {
        Section::Other
    }
}

/// One package line of the table.
#[derive(Clone, Debug)]
struct Row {
    section: Section,
    name: String,
    /// The version column: the new version (the installed one for a removal).
    evr: String,
    /// The installed version, when dnf 5 printed it on the row.
    old: Option<String>,
}

/// The counts of the `Transaction Summary`.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    install: u64,
    upgrade: u64,
    remove: u64,
    downgrade: u64,
    skip: u64,
}

/// What dnf's output said.
#[derive(Debug, Default)]
struct Plan {
    rows: Vec<Row>,
    /// `name → installed version`, from the debug lines of dnf 4 and yum 3.
    installed: HashMap<String, String>,
    /// `(obsoleting, obsoleted)`: `replacing` lines naming another package.
    obsoleted: Vec<(String, String)>,
    counts: Option<Counts>,
    nothing_to_do: bool,
    errors: Vec<String>,
    /// `Problem: …` lines outside an error (dnf 4 with --nobest).
    problems: Vec<String>,
}

/// `name.arch` → `name`.
fn strip_arch(name_arch: &str) -> &str {
    name_arch
        .rsplit_once('.')
        .map_or(name_arch, |(name, _)| name)
}

/// Does this look like an RPM version (`[E:]V-R`, starting with a digit)?
fn looks_like_evr(s: &str) -> bool {
    let v = s.split_once(':').map_or(s, |(e, rest)| {
        if e.bytes().all(|b| b.is_ascii_digit()) {
            rest
        } else {
            s
        }
    });
    v.starts_with(|c: char| c.is_ascii_digit()) && v.contains('-')
}

/// A count line of the summary: `Upgrade  7 Packages` (dnf 4, yum 3),
/// ` Upgrading:   7 packages` (dnf 5). `Install  1 Package (+2 Dependent
/// packages)` counts both.
fn count_line(line: &str, counts: &mut Counts) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [what, n, unit, rest @ ..] = words.as_slice() else {
        return false;
    };
    if !unit.to_ascii_lowercase().starts_with("package") {
        return false;
    }
    let Ok(n) = n.parse::<u64>() else {
        return false;
    };
    let extra = rest
        .first()
        .and_then(|w| w.strip_prefix("(+"))
        .and_then(|w| w.parse::<u64>().ok())
        .unwrap_or(0);
    let slot = match what.trim_end_matches(':').to_ascii_lowercase().as_str() {
        "install" | "installing" => &mut counts.install,
        "upgrade" | "update" | "upgrading" => &mut counts.upgrade,
        "remove" | "removing" | "erase" => &mut counts.remove,
        "downgrade" | "downgrading" => &mut counts.downgrade,
        "skip" | "skipping" => &mut counts.skip,
        // dnf 5's `Replacing:` counts the old versions an upgrade replaces.
        "reinstall" | "reinstalling" | "replacing" => return true,
        _ => return false,
    };
    *slot += n + extra;
    true
}

fn parse(text: &str) -> Plan {
    let mut plan = Plan::default();
    let mut section: Option<Section> = None;
    // A name alone on its line: its columns come on the next one.
    let mut wrapped: Option<String> = None;
    let mut in_error = false;
    let mut in_problem: Option<bool> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        let words: Vec<&str> = trimmed.split_whitespace().collect();

        // The resolver's debug lines (dnf 4 with debuglevel 3, yum 3).
        if trimmed.starts_with("---> Package ") {
            if let [name_arch, evr, "will", "be", what] = words.get(2..).unwrap_or_default()
                && matches!(*what, "upgraded" | "updated" | "downgraded")
            {
                plan.installed
                    .insert(strip_arch(name_arch).to_string(), (*evr).to_string());
            }
            continue;
        }
        if trimmed.starts_with("--> ") {
            continue;
        }

        if trimmed.is_empty() {
            in_error = false;
            in_problem = None;
            continue;
        }
        if let Some(e) = trimmed.strip_prefix("Error:") {
            in_error = true;
            let e = e.trim();
            if !e.is_empty() {
                plan.errors.push(e.to_string());
            }
            continue;
        }
        if trimmed.starts_with("No match for argument")
            || trimmed.starts_with("No package ") && trimmed.ends_with("available.")
            || trimmed == "Failed to resolve the transaction:"
        {
            plan.errors.push(trimmed.to_string());
            in_error = true;
            continue;
        }
        if trimmed == "Nothing to do." || trimmed == "Nothing to do" {
            plan.nothing_to_do = true;
            continue;
        }
        if trimmed.starts_with("No packages marked for update")
            || trimmed.starts_with("No packages marked for upgrade")
        {
            // yum 3 prints it when there is nothing to do; dnf 4 after an
            // error, as `Error: No packages marked for upgrade.`
            plan.nothing_to_do = true;
            continue;
        }
        // ` Problem: …` and its `  - …` lines: part of the error after
        // `Error:`, a warning on their own (dnf 4 with --nobest).
        if trimmed.starts_with("Problem") {
            in_problem = Some(in_error);
        }
        if let Some(error) = in_problem
            && (trimmed.starts_with("Problem") || trimmed.starts_with("- "))
        {
            if error {
                plan.errors.push(trimmed.to_string());
            } else {
                plan.problems.push(trimmed.to_string());
            }
            continue;
        }
        in_problem = None;
        if in_error && line.starts_with(' ') {
            plan.errors.push(trimmed.to_string());
            continue;
        }
        in_error = false;

        if trimmed.starts_with("Transaction Summary") {
            section = Some(Section::Summary);
            plan.counts.get_or_insert_with(Counts::default);
            continue;
        }
        if section == Some(Section::Summary) {
            if let Some(counts) = plan.counts.as_mut() {
                count_line(trimmed, counts);
            }
            if !line.starts_with(' ')
                && !trimmed.starts_with('=')
                && !count_line(trimmed, &mut Counts::default())
            {
                section = None;
            }
            continue;
        }

        // A section header: not indented, ends with `:` (dnf 4's
        // "Skipping packages with conflicts:" is followed by a `(add …):`
        // line, which is no header of its own).
        if !line.starts_with(' ') && trimmed.ends_with(':') && !trimmed.starts_with('(') {
            section = Some(section_of(trimmed));
            wrapped = None;
            continue;
        }
        let Some(current) = section else { continue };
        if current == Section::Other || !line.starts_with(' ') {
            if !line.starts_with(' ') && !trimmed.starts_with('(') {
                section = None;
            }
            continue;
        }

        // `replacing  NAME.ARCH EVR` (dnf 4, yum 3's "replacing") or
        // `replacing NAME ARCH EVR REPO SIZE` (dnf 5).
        if words.first() == Some(&"replacing") {
            let (name, evr) = match words.as_slice() {
                [_, name_arch, evr] => (strip_arch(name_arch), Some(*evr)),
                [_, name, _arch, evr, ..] => (*name, Some(*evr)),
                [_, name_arch, ..] => (strip_arch(name_arch), None),
                _ => continue,
            };
            if let Some(row) = plan.rows.last_mut() {
                if row.name == name {
                    if let Some(evr) = evr.filter(|e| looks_like_evr(e)) {
                        row.old.get_or_insert_with(|| evr.to_string());
                    }
                } else {
                    plan.obsoleted.push((row.name.clone(), name.to_string()));
                }
            }
            continue;
        }

        // The columns of a wrapped name.
        if let Some(name) = wrapped.take()
            && let [_arch, evr, ..] = words.as_slice()
        {
            plan.rows.push(row(current, name, &words[1..], evr));
            continue;
        }
        match words.as_slice() {
            [name] => wrapped = Some((*name).to_string()),
            [name, _arch, evr, _repo, ..] if looks_like_evr(evr) => {
                plan.rows
                    .push(row(current, (*name).to_string(), &words[2..], evr));
            }
            // dnf 5 on a narrow terminal: the installed version on a line
            // of its own under the package (`ARCH EVR REPO SIZE`).
            [_, evr, _, ..] | [evr, _, ..] if looks_like_evr(evr) => {
                if let Some(row) = plan.rows.last_mut()
                    && matches!(row.section, Section::Upgrade | Section::Downgrade)
                    && row.old.is_none()
                {
                    row.old = Some((*evr).to_string());
                }
            }
            _ => {}
        }
    }
    plan
}

/// A row from the words from the version column on: `EVR [<- OLD] REPO …`.
fn row(section: Section, name: String, from_version: &[&str], evr: &str) -> Row {
    let old = match from_version {
        [_, "<-", old, ..] if looks_like_evr(old) => Some((*old).to_string()),
        _ => None,
    };
    Row {
        section,
        name,
        evr: evr.to_string(),
        old,
    }
}

pub fn summarise(text: &str, _command: &[String], ctx: &Context) -> Result<Vec<Fact>, String> {
    let plan = parse(text);
    if plan.rows.is_empty()
        && plan.counts.is_none()
        && !plan.nothing_to_do
        && plan.errors.is_empty()
    {
        return Err(
            "dnf's output has no transaction table, no summary and no \"Nothing to do.\""
                .to_string(),
        );
    }
    if !plan.rows.is_empty() && plan.counts.is_none() {
        // dnf prints the summary after every table: without it the list
        // may be cut short, and a short list would look like a small one.
        return Err("dnf's transaction table has no Transaction Summary after it".to_string());
    }
    let mut facts = Vec::new();

    if !plan.errors.is_empty() {
        facts.push(
            Fact::loud(format!(
                "dnf stops with an error, so nothing would change as typed: {}",
                plan.errors.join(" ")
            ))
            .with("errors", Value::List(plan.errors.clone())),
        );
    }

    let mut changes: Vec<Change> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    for row in &plan.rows {
        match row.section {
            Section::Upgrade | Section::Downgrade => {
                let old = row
                    .old
                    .clone()
                    .or_else(|| plan.installed.get(&row.name).cloned());
                if old.is_none() {
                    unknown.push(row.name.clone());
                }
                changes.push(Change {
                    name: row.name.clone(),
                    old: Some(old.unwrap_or_else(|| pkg::UNKNOWN.to_string())),
                    new: Some(row.evr.clone()),
                });
            }
            Section::Install => changes.push(Change {
                name: row.name.clone(),
                old: None,
                new: Some(row.evr.clone()),
            }),
            Section::Remove => changes.push(Change {
                name: row.name.clone(),
                old: Some(row.evr.clone()),
                new: None,
            }),
            Section::Skipped => skipped.push(row.name.clone()),
            Section::Reinstall | Section::Other | Section::Summary => {}
        }
    }
    for (_, gone) in &plan.obsoleted {
        if !changes.iter().any(|c| &c.name == gone) {
            changes.push(Change {
                name: gone.clone(),
                old: None,
                new: None,
            });
        }
    }

    let count = |s: Section| plan.rows.iter().filter(|r| r.section == s).count() as u64;
    let counts = plan.counts.unwrap_or(Counts {
        install: count(Section::Install),
        upgrade: count(Section::Upgrade),
        remove: count(Section::Remove),
        downgrade: count(Section::Downgrade),
        skip: count(Section::Skipped),
    });
    // Obsoleted packages go too, though dnf 4 does not count them.
    let removed = counts
        .remove
        .max(changes.iter().filter(|c| c.new.is_none()).count() as u64);
    if plan.errors.is_empty() || !changes.is_empty() {
        facts.push(pkg::counts_fact(
            counts.upgrade,
            counts.install,
            counts.downgrade,
            removed,
            counts.skip,
        ));
    }
    // Before the change facts: what they cannot say comes first.
    if !unknown.is_empty() {
        let (crit, other): (Vec<String>, Vec<String>) = unknown
            .iter()
            .cloned()
            .partition(|n| pkg::is_critical(ctx, n));
        let others = if other.is_empty() {
            String::new()
        } else {
            format!(
                " (nor of {})",
                plural(
                    other.len(),
                    "other upgraded package",
                    "other upgraded packages"
                )
            )
        };
        let record = Value::List(unknown.clone());
        if crit.is_empty() {
            facts.push(
                Fact::plain(format!(
                    "dnf does not say which version is installed of {}: a new major version cannot be ruled out",
                    some_of(&other, 4)
                ))
                .with("old_version_unknown", record),
            );
        } else {
            facts.push(
                Fact::loud(format!(
                    "dnf does not say which version is installed of {}, which this host runs{others}: a new major version cannot be ruled out",
                    some_of(&crit, 4)
                ))
                .with("old_version_unknown", record),
            );
        }
    }

    facts.extend(pkg::change_facts(&changes, ctx));

    if !skipped.is_empty() || !plan.problems.is_empty() {
        let mut text = if skipped.is_empty() {
            "some packages are not upgraded".to_string()
        } else {
            format!("not upgraded (skipped by dnf): {}", some_of(&skipped, 6))
        };
        if let Some(p) = plan.problems.iter().find(|p| p.starts_with("- ")) {
            text.push_str(&format!(" ({})", p.trim_start_matches("- ")));
        }
        facts.push(Fact::plain(text).with("kept_back", Value::List(skipped)));
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

    fn summary(text: &str) -> Result<Vec<Fact>, String> {
        let critical = critical();
        let ctx = Context {
            host: "core-1",
            critical: &critical,
            mounts: None,
        };
        summarise(&fixture(text), &["dnf".into(), "upgrade".into()], &ctx)
    }

    fn run(text: &str) -> Vec<Fact> {
        summary(text).unwrap()
    }

    fn list(items: &[&str]) -> Option<Value> {
        Some(Value::List(
            items.iter().map(|s| (*s).to_string()).collect(),
        ))
    }

    // dnf 4: real captures (tests/fixtures/previews/dnf4-*.txt).

    #[test]
    fn dnf4_a_major_bump_of_docker_is_named_with_what_restarts() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/dnf4-upgrade-major.txt"
        ));
        let loud = texts(&facts, Level::Loud);
        assert!(
            loud.contains(
                &"new major version of what this host runs: docker-ce 20.10.1 → 24.0.2".into()
            ),
            "{loud:#?}"
        );
        assert!(loud.contains(
            &"docker-ce: the docker daemon restarts: every container on it stops unless live-restore is on".into()
        ));
        // The obsoleted acme-legacy goes, though dnf's summary does not count it.
        assert!(
            loud.contains(&"9 packages change: 7 upgraded, 1 newly installed, 1 removed".into())
        );
        assert!(loud.contains(&"removes acme-legacy".into()));
        let plain = texts(&facts, Level::Plain);
        assert!(plain.contains(&"new major versions: acme-tools 2.4 → 3.0".into()));
        assert!(plain.contains(&"kernel-core: needs a reboot to take effect".into()));
        assert_eq!(
            record(&facts, "major_bumps"),
            list(&["acme-tools 2.4→3.0", "docker-ce 20.10.1→24.0.2"])
        );
        assert_eq!(
            record(&facts, "critical"),
            list(&[
                "containerd.io",
                "docker-ce",
                "kernel-core",
                "openssh-server"
            ])
        );
        assert_eq!(record(&facts, "old_version_unknown"), None);
        // A release-only change shows the releases.
        assert!(
            loud.iter()
                .any(|l| l.contains("openssh-server 8.7p1-34.el9 → 8.7p1-38.el9"))
        );
    }

    #[test]
    fn dnf4_without_the_installed_versions_says_a_major_bump_cannot_be_ruled_out() {
        for capture in [
            include_str!("../../tests/fixtures/previews/dnf4-upgrade-major-plain.txt"),
            // On a terminal, the long name on a line of its own.
            include_str!("../../tests/fixtures/previews/dnf4-upgrade-wrapped.txt"),
        ] {
            let facts = run(capture);
            let loud = texts(&facts, Level::Loud);
            assert_eq!(
                loud[1],
                "dnf does not say which version is installed of containerd.io, docker-ce, kernel-core, openssh-server, which this host runs (nor of 3 other upgraded packages): a new major version cannot be ruled out",
                "{loud:#?}"
            );
            assert_eq!(record(&facts, "major_bumps"), None);
            let Some(Value::List(unknown)) = record(&facts, "old_version_unknown") else {
                panic!("{facts:#?}")
            };
            assert_eq!(unknown.len(), 7, "the wrapped row is read too: {unknown:?}");
            assert!(loud.iter().any(|l| l.contains("docker-ce → 24.0.2-1.el9")));
            assert!(
                !loud.iter().any(|l| l.contains("(new)")),
                "an upgrade is no new package"
            );
        }
    }

    #[test]
    fn dnf4_nothing_to_do_says_so_and_nothing_else() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/dnf4-upgrade-none.txt"
        ));
        assert_eq!(facts.len(), 1, "{facts:#?}");
        assert_eq!(facts[0].level, Level::Plain);
        assert_eq!(
            facts[0].text,
            "nothing changes: 0 upgraded, 0 newly installed, 0 removed"
        );
    }

    #[test]
    fn dnf4_errors_say_that_nothing_would_change() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/dnf4-upgrade-broken-best.txt"
        ));
        assert_eq!(
            texts(&facts, Level::Loud),
            vec!["dnf stops with an error, so nothing would change as typed: Problem: cannot install the best update candidate for package docker-ce-3:20.10.1-3.el9.noarch - nothing provides containerd.io >= 1.7 needed by docker-ce-3:24.0.2-1.el9.noarch".to_string()]
        );
        assert!(texts(&facts, Level::Plain).is_empty());

        let facts = run(include_str!(
            "../../tests/fixtures/previews/dnf4-upgrade-no-match.txt"
        ));
        assert_eq!(
            record(&facts, "errors"),
            list(&[
                "No match for argument: no-such-package",
                "No packages marked for upgrade."
            ])
        );
        assert_eq!(facts.len(), 1, "{facts:#?}");
    }

    #[test]
    fn dnf4_a_skipped_upgrade_is_named_with_its_problem() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/dnf4-upgrade-broken-nobest.txt"
        ));
        assert_eq!(
            texts(&facts, Level::Plain),
            vec![
                "nothing changes: 0 upgraded, 0 newly installed, 0 removed; 1 not upgraded"
                    .to_string(),
                "not upgraded (skipped by dnf): docker-ce (nothing provides containerd.io >= 1.7 needed by docker-ce-3:24.0.2-1.el9.noarch)".to_string(),
            ]
        );
        assert!(texts(&facts, Level::Loud).is_empty());
    }

    #[test]
    fn dnf4_removing_a_critical_package_says_it_does_not_come_back() {
        let facts = run(include_str!(
            "../../tests/fixtures/previews/dnf4-remove.txt"
        ));
        let loud = texts(&facts, Level::Loud);
        assert!(loud.contains(&"removes docker-ce".into()), "{loud:#?}");
        assert!(
            loud.iter().any(|l| l.starts_with("docker-ce is removed: ")
                && l.ends_with("and does not come back"))
        );
    }

    // dnf 5 and yum 3 cannot be run here: these are written after their
    // output code (dnf5's libdnf5-cli transaction table, yum 3's
    // resolver messages), not captured, and marked so.

    const DNF5_UPGRADE: &str = "\
Updating and loading repositories:
Repositories loaded.
Package                    Arch   Version                  Repository          Size
Upgrading:
 docker-ce                 x86_64 3:24.0.2-1.fc39          docker-ce-stable 97.4 MiB
   replacing docker-ce     x86_64 3:20.10.1-3.fc39         docker-ce-stable 95.1 MiB
 openssh-server            x86_64 9.3p1-10.fc39            updates           1.4 MiB
   replacing openssh-server x86_64 9.3p1-9.fc39            updates           1.4 MiB
 libfoo                    x86_64 1.6.21-1.fc39             updates          10.0 KiB
Installing dependencies:
 docker-buildx-plugin      x86_64 0.10.5-1.fc39             docker-ce-stable 62.0 MiB

Transaction Summary:
 Installing:         1 package
 Upgrading:          3 packages
 Replacing:          3 packages

Total size of inbound packages is 161 MiB. Need to download 161 MiB.
After this operation, 64 MiB extra will be used (install 171 MiB, remove 107 MiB).
Operation aborted by the user.
";

    #[test]
    fn dnf5_replacing_lines_give_the_installed_version() {
        let facts = summary(DNF5_UPGRADE).unwrap();
        assert_eq!(
            record(&facts, "major_bumps"),
            list(&["docker-ce 20.10.1→24.0.2"])
        );
        assert!(
            texts(&facts, Level::Plain)
                .contains(&"4 packages change: 3 upgraded, 1 newly installed, 0 removed".into())
        );
        // libfoo has no replacing line: said, not guessed.
        assert_eq!(record(&facts, "old_version_unknown"), list(&["libfoo"]));
        // The wide form: `NEW <- OLD` in the version column.
        let wide = "Package Arch Version Repository Size\nUpgrading:\n kubelet x86_64 1.29.1-150500.1.1 <- 1.28.6-150500.1.1 kubernetes <- kubernetes 50.1 MiB <- 49.0 MiB\n\nTransaction Summary:\n Upgrading:         1 package\n Replacing:         1 package\n";
        let facts = summary(wide).unwrap();
        assert_eq!(record(&facts, "critical"), list(&["kubelet"]), "{facts:#?}");
        assert!(
            texts(&facts, Level::Loud)
                .iter()
                .any(|l| l.contains("kubelet 1.28.6 → 1.29.1"))
        );
        assert_eq!(
            summary("Updating and loading repositories:\nRepositories loaded.\nNothing to do.\n")
                .unwrap()[0]
                .text,
            "nothing changes: 0 upgraded, 0 newly installed, 0 removed"
        );
        let err = summary("Failed to resolve the transaction:\nNo match for argument: docker-cee\nYou can try to add to command line:\n  --skip-unavailable to skip unavailable packages\n").unwrap();
        assert_eq!(
            record(&err, "errors"),
            list(&[
                "Failed to resolve the transaction:",
                "No match for argument: docker-cee"
            ])
        );
    }

    #[test]
    fn yum3_resolver_lines_give_the_installed_version() {
        let text = "\
Resolving Dependencies
--> Running transaction check
---> Package docker-ce.x86_64 3:19.03.15-3.el7 will be updated
---> Package docker-ce.x86_64 3:20.10.5-3.el7 will be an update
--> Finished Dependency Resolution

Dependencies Resolved

================================================================================
 Package          Arch          Version                 Repository        Size
================================================================================
Updating:
 docker-ce        x86_64        3:20.10.5-3.el7         docker-ce-stable  27 M

Transaction Summary
================================================================================
Upgrade  1 Package

Total download size: 27 M
Exiting on user command
";
        let facts = summary(text).unwrap();
        assert_eq!(
            record(&facts, "major_bumps"),
            list(&["docker-ce 19.03.15→20.10.5"])
        );
        let none =
            summary("Loaded plugins: fastestmirror\nNo packages marked for update\n").unwrap();
        assert_eq!(
            none[0].text,
            "nothing changes: 0 upgraded, 0 newly installed, 0 removed"
        );
    }

    #[test]
    fn output_that_is_not_dnf_or_is_cut_is_never_made_to_look_safe() {
        assert!(summary("Hello\n").is_err());
        assert!(summary("").is_err());
        // Garbage and every truncation of a real capture: never a panic,
        // and a cut table never claims "nothing changes".
        let capture = fixture(include_str!(
            "../../tests/fixtures/previews/dnf4-upgrade-major.txt"
        ));
        for end in (0..capture.len()).filter(|i| capture.is_char_boundary(*i)) {
            let cut = &capture[..end];
            if cut.contains("Upgrading:\n ") && !cut.contains("Transaction Summary") {
                assert!(summary(cut).is_err(), "cut at {end}");
            }
            if let Ok(facts) = summary(cut) {
                let table_started = cut.contains("Upgrading:\n ");
                assert!(
                    !(table_started && facts.iter().any(|f| f.text.starts_with("nothing changes"))),
                    "cut at {end}: {facts:#?}"
                );
            }
        }
        for junk in [
            "\u{0}\u{1b}[31m:\n ::\n",
            "Upgrading:\n \n  -\n replacing\n",
            "Transaction Summary\n x 9 packages\n",
            "Error:\n Problem\n - \n",
        ] {
            let _ = summary(junk);
        }
    }
}
