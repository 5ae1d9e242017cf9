//! `safe-run rules list | show | lint | test`: the rule author's tools.
//!
//! Each is a function that writes to a `&mut dyn Write` and returns the exit
//! status, so tests drive them with a buffer and `cli` stays a dispatcher.
//! `test` runs the examples through the real parse and classify path
//! (`classify::check_line_in`), because an example is only worth something
//! if it exercises what the operator's line will go through; they run in a
//! world with no files, so a script an example runs is unreadable. Everything taken
//! from a rule file or an example is passed through `sanitize::clean`
//! before it is printed, and `--json` escapes the same characters: a rule
//! file may hold escape sequences.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use std::collections::BTreeMap;

use crate::classify::check_line_in;
use crate::cmd::check::escape_json;
use crate::context::LineContext;
use crate::rules::dir::{load_file, toml_files};
use crate::rules::spec::RuleSpec;
use crate::rules::{Rule, RuleSet};
use crate::term::diag::Diagnostic;
use crate::term::sanitize::clean;

/// Every rule checked and every example behaved.
pub const OK: i32 = 0;
/// An error in a rule file, a failed example, or an unknown rule id.
pub const FAILED: i32 = 1;

fn show_text(text: &str) -> String {
    clean(text, false)
}

#[derive(Serialize)]
struct ListedRule<'a> {
    id: &'a str,
    domain: &'a str,
    risk: &'static str,
    action: &'static str,
    programs: &'a [String],
    file: &'a str,
    line: usize,
    why: &'a str,
    instead: &'a str,
}

/// Lists the rules in force, grouped by domain (the file a rule comes
/// from: `cloud`, `storage`, a site file's name) in the order the domains
/// were loaded, and in load order within each: a table under a heading per
/// domain for people, or one JSON object per line with `json`.
pub fn list(rules: &RuleSet, json: bool, out: &mut dyn Write) -> io::Result<i32> {
    let mut domains: Vec<(&str, Vec<&Rule>)> = Vec::new();
    for rule in rules.iter() {
        match domains.iter_mut().find(|(d, _)| *d == rule.domain()) {
            Some((_, members)) => members.push(rule),
            None => domains.push((rule.domain(), vec![rule])),
        }
    }

    if json {
        for rule in domains.iter().flat_map(|(_, members)| members) {
            let row = ListedRule {
                id: rule.id(),
                domain: rule.domain(),
                risk: rule.risk().as_str(),
                action: rule.action().as_str(),
                programs: rule.programs(),
                file: rule.file(),
                line: rule.line(),
                why: rule.why(),
                instead: rule.instead(),
            };
            let text = serde_json::to_string(&row).map_err(io::Error::other)?;
            writeln!(out, "{}", escape_json(&text))?;
        }
        return Ok(OK);
    }

    let row = |rule: &Rule| {
        [
            show_text(rule.id()),
            rule.risk().to_string(),
            rule.action().to_string(),
            show_text(&format!("{}:{}", rule.file(), rule.line())),
            show_text(&rule.programs().join(", ")),
        ]
    };
    let grouped: Vec<(String, Vec<[String; 5]>)> = domains
        .iter()
        .map(|(domain, members)| (show_text(domain), members.iter().map(|r| row(r)).collect()))
        .collect();
    let header = ["ID", "RISK", "ACTION", "SOURCE", "PROGRAMS"].map(String::from);
    // One set of column widths for every domain, so the tables line up.
    let mut widths = [0; 5];
    for row in std::iter::once(&header).chain(grouped.iter().flat_map(|(_, rows)| rows)) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 5]| {
        let mut line = String::from("  ");
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        line.trim_end().to_string()
    };
    let mut total = 0;
    for (i, (domain, rows)) in grouped.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{domain}: {} rule{}", rows.len(), plural(rows.len()))?;
        writeln!(out, "{}", line(&header))?;
        for row in rows {
            writeln!(out, "{}", line(row))?;
        }
        total += rows.len();
    }
    if !grouped.is_empty() {
        writeln!(out)?;
    }
    writeln!(
        out,
        "{total} rule{} in {} domain{}",
        plural(total),
        grouped.len(),
        plural(grouped.len())
    )?;
    Ok(OK)
}

/// Shows one rule in full, as TOML that can be copied into a site rule file
/// (a rule with the same id there replaces this one).
pub fn show(rules: &RuleSet, id: &str, out: &mut dyn Write) -> io::Result<i32> {
    let Some(rule) = rules.get(id) else {
        writeln!(out, "There is no rule with the id `{}`.", show_text(id))?;
        let similar = similar_ids(rules, id);
        if !similar.is_empty() {
            writeln!(out, "Similar ids: {}", show_text(&similar.join(", ")))?;
        }
        writeln!(out, "`safe-run rules list` shows every rule in force.")?;
        return Ok(FAILED);
    };
    #[derive(Serialize)]
    struct File<'a> {
        rule: [&'a RuleSpec; 1],
    }
    let toml = toml::to_string(&File {
        rule: [rule.spec()],
    })
    .map_err(|e| io::Error::other(format!("cannot show rule `{id}` as TOML: {e}")))?;
    writeln!(
        out,
        "# {}:{}: {} risk, {}",
        show_text(rule.file()),
        rule.line(),
        rule.risk(),
        match rule.action().as_str() {
            "deny" => "always refused",
            "confirm" => "asks for confirmation",
            _ => "runs with a notice",
        }
    )?;
    write!(out, "{}", clean(&toml, true))?;
    Ok(OK)
}

/// Rule ids that contain the given text or differ from it by a little.
fn similar_ids<'a>(rules: &'a RuleSet, id: &str) -> Vec<&'a str> {
    let mut similar: Vec<&str> = rules
        .iter()
        .map(Rule::id)
        .filter(|known| !id.is_empty() && (known.contains(id) || id.contains(known)))
        .take(5)
        .collect();
    similar.sort_unstable();
    similar
}

/// The rule files named, with each directory replaced by its `*.toml` files.
fn expand(paths: &[PathBuf], errors: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match toml_files(path) {
                Ok(found) => files.extend(found),
                Err(e) => errors.push(Diagnostic::whole_file(
                    &path.display().to_string(),
                    format!("cannot list the rule files: {e}"),
                )),
            }
        } else {
            files.push(path.clone());
        }
    }
    files
}

/// Checks rule files (or directories of them) without running their
/// examples. Exits 1 after listing every error of every file.
pub fn lint(files: &[PathBuf], out: &mut dyn Write) -> io::Result<i32> {
    if files.is_empty() {
        writeln!(
            out,
            "No rule files given. The built-in rules were checked when safe-run was built; name files or directories to check others."
        )?;
        return Ok(OK);
    }
    let mut errors = Vec::new();
    let files = expand(files, &mut errors);
    let mut rules = 0;
    for file in &files {
        let (found, file_errors) = load_file(file);
        rules += found.len();
        errors.extend(file_errors);
    }
    for error in &errors {
        writeln!(out, "{error}")?;
    }
    if errors.is_empty() {
        writeln!(
            out,
            "{rules} rule{} in {} file{}: no problems found.",
            plural(rules),
            files.len(),
            plural(files.len())
        )?;
        Ok(OK)
    } else {
        writeln!(out, "{} error{} found.", errors.len(), plural(errors.len()))?;
        Ok(FAILED)
    }
}

/// Runs every `match` and `allow` example through the real parse and
/// classify path. With no files, tests every rule in `rules`; with files,
/// tests only their rules, layered over `rules`. Names every example that
/// behaved differently, with what it got instead.
pub fn test(rules: &RuleSet, files: &[PathBuf], out: &mut dyn Write) -> io::Result<i32> {
    let mut errors = Vec::new();
    let (set, tested): (Cow<'_, RuleSet>, Vec<String>) = if files.is_empty() {
        let ids = rules.iter().map(|r| r.id().to_string()).collect();
        (Cow::Borrowed(rules), ids)
    } else {
        let mut layered = rules.clone();
        let mut ids = Vec::new();
        for file in expand(files, &mut errors) {
            let (found, file_errors) = load_file(&file);
            errors.extend(file_errors);
            ids.extend(found.iter().map(|r| r.id().to_string()));
            layered.add(found);
        }
        (Cow::Owned(layered), ids)
    };
    for error in &errors {
        writeln!(out, "{error}")?;
    }

    let mut examples = 0;
    let mut failures = 0;
    let mut tested_rules = 0;
    for id in dedup(&tested) {
        let Some(rule) = set.get(id) else { continue };
        tested_rules += 1;
        let spec = rule.spec();
        for (example, should_hit) in spec
            .match_examples
            .iter()
            .map(|e| (e, true))
            .chain(spec.allow_examples.iter().map(|e| (e, false)))
        {
            examples += 1;
            if let Some(problem) = run_example(rule, example, should_hit, &set) {
                failures += 1;
                writeln!(
                    out,
                    "{}:{}: rule `{}`: `{}` {problem}",
                    show_text(rule.file()),
                    rule.line(),
                    show_text(rule.id()),
                    show_text(example)
                )?;
            }
        }
    }

    if failures > 0 || !errors.is_empty() {
        let mut summary = format!(
            "{failures} of {examples} example{} failed",
            plural(examples)
        );
        if !errors.is_empty() {
            summary.push_str(&format!(
                ", and {} error{} in the rule files",
                errors.len(),
                plural(errors.len())
            ));
        }
        writeln!(out, "{summary}.")?;
        return Ok(FAILED);
    }
    writeln!(
        out,
        "All {examples} example{} of {tested_rules} rule{} behaved as written.",
        plural(examples),
        plural(tested_rules)
    )?;
    Ok(OK)
}

/// What went wrong with one example, or `None` if it behaved.
fn run_example(rule: &Rule, example: &str, should_hit: bool, rules: &RuleSet) -> Option<String> {
    let no_files: BTreeMap<String, String> = BTreeMap::new();
    let place = LineContext {
        scripts: Some(&no_files),
        ..LineContext::default()
    };
    let verdict = match check_line_in(example, rules, &place) {
        Ok(verdict) => verdict,
        Err(e) => return Some(format!("cannot be parsed: {}", show_text(&e.to_string()))),
    };
    let found: Vec<&str> = dedup_str(verdict.findings.iter().map(|f| f.rule.as_str()));
    let hit = found.contains(&rule.id());
    if hit == should_hit {
        return None;
    }
    let got = if found.is_empty() {
        "no findings".to_string()
    } else {
        show_text(&found.join(", "))
    };
    Some(if should_hit {
        format!("should hit this rule, got: {got}")
    } else {
        format!("should not hit this rule (an `allow` example), got: {got}")
    })
}

fn dedup(ids: &[String]) -> Vec<&str> {
    dedup_str(ids.iter().map(String::as_str))
}

fn dedup_str<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The path of a test fixture, for tests of this module and others.
#[cfg(test)]
fn fixture(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl FnOnce(&mut dyn Write) -> io::Result<i32>) -> (i32, String) {
        let mut out = Vec::new();
        let code = f(&mut out).expect("writing to a Vec cannot fail");
        (code, String::from_utf8(out).expect("UTF-8 output"))
    }

    fn fixture_rules() -> RuleSet {
        let text = include_str!("../../tests/fixtures/good_rules.toml");
        let mut set = RuleSet::new();
        set.add(RuleSet::parse_file(text, "good_rules.toml").expect("the fixture is valid"));
        set
    }

    #[test]
    fn lint_lists_every_error_of_every_file_and_fails() {
        let files = [fixture("bad_rules.toml"), fixture("good_rules.toml")];
        let (code, out) = run(|out| lint(&files, out));
        assert_eq!(code, FAILED);
        let located: Vec<&str> = out
            .lines()
            .filter(|l| l.contains("bad_rules.toml:"))
            .collect();
        assert_eq!(located.len(), 9, "{out}");
        assert!(located[0].ends_with("bad_rules.toml:5:1: unknown key `progams`, did you mean `programs`? (expected one of `id`, `risk`, `action`, `programs`, `value_flags`, `max_options`, `subcommand`, `flags`, `all_flags`, `args`, `targets`, `no_targets`, `redirect`, `truncate`, `input`, `stdin_from`, `unless_flags`, `unless_args`, `unless_targets`, `unless_stdin`, `why`, `instead`, `preview`, `disruptive`, `match`, `allow`)"), "{out}");
        assert!(
            out.contains("5 | progams = [\"apt-get\"]\n  | ^^^^^^^\n"),
            "{out}"
        );
        assert!(out.ends_with("9 errors found.\n"), "{out}");
    }

    #[test]
    fn lint_checks_program_tables_and_the_words_rules_use() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tool.toml");
        let table = "[[program]]\nprograms = [\"tool\"]\nsubcommand_prefixes = \"unique\"\ncommands = [\"volume\", \"version\"]\n";
        let rule = "\n[[rule]]\nid = \"tool-volume-delete\"\nrisk = \"high\"\nprograms = [\"tool\"]\nsubcommand = [\"vol delete\"]\nwhy = \"w\"\ninstead = \"i\"\nmatch = [\"tool vo delete x\", \"tool volume delete x\"]\nallow = [\"tool v delete x\", \"tool version\"]\n";
        std::fs::write(&path, format!("{table}{rule}")).expect("written");
        let (code, out) = run(|out| lint(std::slice::from_ref(&path), out));
        assert_eq!(code, FAILED);
        assert!(
            out.contains("tool.toml:10:15: `vol` is read as `volume` by `tool`, and a command's words are written out in full before rules see them: write `volume`"),
            "{out}"
        );
        std::fs::write(
            &path,
            format!("{table}{}", rule.replace("vol delete", "volume delete")),
        )
        .expect("written");
        let (code, out) = run(|out| lint(std::slice::from_ref(&path), out));
        assert_eq!(
            (code, out.as_str()),
            (OK, "1 rule in 1 file: no problems found.\n")
        );
        let (code, out) = run(|out| test(&RuleSet::new(), std::slice::from_ref(&path), out));
        assert_eq!(
            (code, out.as_str()),
            (OK, "All 4 examples of 1 rule behaved as written.\n")
        );
    }

    #[test]
    fn lint_of_good_files_and_directories_passes() {
        let (code, out) = run(|out| lint(&[fixture("good_rules.toml")], out));
        assert_eq!(
            (code, out.as_str()),
            (OK, "2 rules in 1 file: no problems found.\n")
        );
        let (code, out) = run(|out| lint(&[fixture("")], out));
        assert_eq!(
            code, FAILED,
            "the fixture directory holds the bad file too: {out}"
        );
    }

    #[test]
    fn lint_reports_a_missing_file() {
        let (code, out) = run(|out| lint(&[fixture("absent.toml")], out));
        assert_eq!(code, FAILED);
        assert!(
            out.contains("absent.toml: cannot read the rule file:"),
            "{out}"
        );
    }

    #[test]
    fn list_shows_a_table_per_domain_or_json_lines() {
        let mut rules = fixture_rules();
        let site = include_str!("../../tests/fixtures/good_rules.toml")
            .replace("fixture-reboot", "site-reboot")
            .replace("fixture-rm-root", "site-rm-root");
        rules.add(RuleSet::parse_file(&site, "rules.d/site.toml").expect("valid"));
        let (code, out) = run(|out| list(&rules, false, out));
        assert_eq!(code, OK);
        assert_eq!(
            out,
            "good_rules: 2 rules\n\
             \x20 ID               RISK      ACTION   SOURCE                PROGRAMS\n\
             \x20 fixture-reboot   high      confirm  good_rules.toml:2     reboot, shutdown\n\
             \x20 fixture-rm-root  critical  deny     good_rules.toml:11    rm\n\
             \n\
             site: 2 rules\n\
             \x20 ID               RISK      ACTION   SOURCE                PROGRAMS\n\
             \x20 site-reboot      high      confirm  rules.d/site.toml:2   reboot, shutdown\n\
             \x20 site-rm-root     critical  deny     rules.d/site.toml:11  rm\n\
             \n\
             4 rules in 2 domains\n"
        );
        let (code, out) = run(|out| list(&rules, true, out));
        assert_eq!(code, OK);
        let first: serde_json::Value =
            serde_json::from_str(out.lines().next().expect("a line")).expect("JSON");
        assert_eq!(first["id"], "fixture-reboot");
        assert_eq!(first["domain"], "good_rules");
        assert_eq!(first["action"], "confirm");
        assert_eq!(first["line"], 2);
        let last: serde_json::Value =
            serde_json::from_str(out.lines().last().expect("a line")).expect("JSON");
        assert_eq!(last["domain"], "site");
        assert_eq!(out.lines().count(), 4);
        let (_, empty) = run(|out| list(&RuleSet::new(), false, out));
        assert_eq!(empty, "0 rules in 0 domains\n");
    }

    #[test]
    fn list_json_escapes_what_could_act_on_a_terminal() {
        let text = include_str!("../../tests/fixtures/good_rules.toml").replacen(
            "why = \"",
            "why = \"\\u009b2J\\u001b[31m\\u202e",
            1,
        );
        let mut set = RuleSet::new();
        set.add(RuleSet::parse_file(&text, "r.toml").expect("still valid"));
        let (_, out) = run(|out| list(&set, true, out));
        for c in ['\u{9b}', '\u{1b}', '\u{202e}'] {
            assert!(!out.contains(c), "{c:?} in {out:?}");
        }
        let first: serde_json::Value =
            serde_json::from_str(out.lines().next().expect("a line")).expect("JSON");
        assert!(
            first["why"]
                .as_str()
                .unwrap()
                .starts_with("\u{9b}2J\u{1b}[31m")
        );
    }

    #[test]
    fn show_prints_the_rule_as_toml_that_reads_back() {
        let rules = fixture_rules();
        let (code, out) = run(|out| show(&rules, "fixture-rm-root", out));
        assert_eq!(code, OK);
        assert!(
            out.starts_with("# good_rules.toml:11: critical risk, always refused\n[[rule]]\n"),
            "{out}"
        );
        let again =
            RuleSet::parse_file(&out, "shown.toml").expect("shown TOML is a valid rule file");
        assert_eq!(
            again[0].spec(),
            rules.get("fixture-rm-root").expect("present").spec()
        );
    }

    #[test]
    fn show_of_an_unknown_id_fails_and_suggests_close_ones() {
        let (code, out) = run(|out| show(&fixture_rules(), "reboot", out));
        assert_eq!(code, FAILED);
        assert!(
            out.starts_with(
                "There is no rule with the id `reboot`.\nSimilar ids: fixture-reboot\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn test_names_each_failing_example_with_what_it_got() {
        // Whatever classify finds today, every example must be accounted
        // for: either it behaves, or it is named with its rule and source.
        let (code, out) = run(|out| test(&RuleSet::new(), &[fixture("good_rules.toml")], out));
        let failures: Vec<&str> = out.lines().filter(|l| l.contains(": rule `")).collect();
        for line in &failures {
            assert!(
                line.starts_with(&format!("{}:", fixture("good_rules.toml").display())),
                "{line}"
            );
            assert!(line.contains("got: "), "{line}");
        }
        if failures.is_empty() {
            assert_eq!(code, OK);
            assert_eq!(out, "All 8 examples of 2 rules behaved as written.\n");
        } else {
            assert_eq!(code, FAILED);
            assert!(
                out.ends_with(&format!("{} of 8 examples failed.\n", failures.len())),
                "{out}"
            );
        }
    }

    #[test]
    fn test_of_a_broken_file_fails_with_its_errors() {
        let (code, out) = run(|out| test(&RuleSet::new(), &[fixture("bad_rules.toml")], out));
        assert_eq!(code, FAILED);
        assert!(
            out.contains("bad_rules.toml:5:1: unknown key `progams`"),
            "{out}"
        );
        assert!(out.contains("and 9 errors in the rule files."), "{out}");
    }

    #[test]
    fn test_with_no_rules_passes_trivially() {
        let (code, out) = run(|out| test(&RuleSet::new(), &[], out));
        assert_eq!(
            (code, out.as_str()),
            (OK, "All 0 examples of 0 rules behaved as written.\n")
        );
    }
}
