//! The verdict on named lines of one domain each, kept as tables next to
//! the rule files: `tests/tables/*.tsv` (cloud, virtualisation, storage,
//! data stores, accounts).
//!
//! Each file is tab-separated with three columns — `name`, `expect`,
//! `line` — and lines starting with `#` are comments (the first one names
//! the columns). `expect` is written as in tests/verdicts.rs: the verdict's
//! action and risk (`allow none`, `allow low`, `confirm high`,
//! `deny critical`), optionally followed by a rule id that must be among
//! the findings. In `line`, `\n`, `\t` and `\\` stand for a newline, a tab
//! and a backslash, so here-documents fit on one row.
//!
//! About half of the rows are look-alikes that must stay silent: the
//! read-only verbs, --help and dry runs an operator types all day. Every
//! row runs through the real path (`check_line` with the shipped rules),
//! and every row that disagrees is reported at once by file and name.

use std::fs;
use std::path::{Path, PathBuf};

use safe_run::classify::check_line;
use safe_run::rules::RuleSet;
use safe_run::verdict::{Action, Risk, Verdict};

/// The tables must hold at least this many rows in all.
const MIN_ROWS: usize = 150;

struct Row {
    file: String,
    number: usize,
    name: String,
    expect: String,
    line: String,
}

struct Expect {
    action: Action,
    risk: Risk,
    rule: Option<String>,
}

fn tables_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tables")
}

/// `\n`, `\t` and `\\` in a table cell.
fn unescape(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut chars = cell.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Every row of every table, and the problems found reading them.
fn read_tables() -> (Vec<Row>, Vec<String>) {
    let mut paths: Vec<PathBuf> = fs::read_dir(tables_dir())
        .expect("tests/tables is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tsv"))
        .collect();
    paths.sort();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = fs::read_to_string(&path).expect("a table is readable");
        let mut names = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let cells: Vec<&str> = raw.split('\t').collect();
            let [name, expect, line] = cells[..] else {
                problems.push(format!(
                    "  {file}:{number}: expected 3 tab-separated cells, found {}",
                    cells.len()
                ));
                continue;
            };
            if names.contains(&name) {
                problems.push(format!(
                    "  {file}:{number}: the name {name:?} is used twice"
                ));
            }
            names.push(name);
            rows.push(Row {
                file: file.clone(),
                number,
                name: name.to_string(),
                expect: expect.to_string(),
                line: unescape(line),
            });
        }
    }
    (rows, problems)
}

fn parse_expect(text: &str) -> Result<Expect, String> {
    let mut words = text.split_whitespace();
    let action = match words.next() {
        Some("allow") => Action::Allow,
        Some("confirm") => Action::Confirm,
        Some("deny") => Action::Deny,
        other => return Err(format!("bad action in expectation {text:?}: {other:?}")),
    };
    let risk = words
        .next()
        .and_then(Risk::parse)
        .ok_or_else(|| format!("bad risk in expectation {text:?}"))?;
    let rule = words.next().map(str::to_string);
    if words.next().is_some() {
        return Err(format!("too many words in expectation {text:?}"));
    }
    Ok(Expect { action, risk, rule })
}

fn describe(v: &Verdict) -> String {
    let findings: Vec<String> = v
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} on {:?}",
                f.rule,
                f.risk,
                f.action,
                f.command.join(" ")
            )
        })
        .collect();
    format!("{} {} [{}]", v.action, v.risk, findings.join(", "))
}

/// `None` when the line behaves as the row says, else what went wrong.
fn check_row(rules: &RuleSet, line: &str, expect: &Expect) -> Option<String> {
    let verdict = match check_line(line, rules) {
        Ok(v) => v,
        Err(e) => return Some(format!("expected a verdict, got the error: {e}")),
    };
    let mut problems = Vec::new();
    if verdict.action != expect.action || verdict.risk != expect.risk {
        problems.push(format!("expected {} {}", expect.action, expect.risk));
    }
    if let Some(rule) = &expect.rule
        && !verdict.findings.iter().any(|f| &f.rule == rule)
    {
        problems.push(format!("expected a finding of rule {rule}"));
    }
    (!problems.is_empty())
        .then(|| format!("{}; got {}", problems.join(" and "), describe(&verdict)))
}

#[test]
fn every_domain_table_row_gets_its_verdict() {
    let rules = RuleSet::builtin();
    let (rows, mut failures) = read_tables();
    for row in &rows {
        let problem = match parse_expect(&row.expect) {
            Ok(expect) => check_row(&rules, &row.line, &expect),
            Err(e) => Some(e),
        };
        if let Some(problem) = problem {
            failures.push(format!(
                "  {}:{}: {}\n      line: {:?}\n      {problem}",
                row.file, row.number, row.name, row.line
            ));
        }
    }
    if rows.len() < MIN_ROWS {
        failures.push(format!(
            "  the tables hold {} rows, fewer than {MIN_ROWS}",
            rows.len()
        ));
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) in {} rows of tests/tables:\n{}\n",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
