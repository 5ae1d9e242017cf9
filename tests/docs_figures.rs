//! The figures the documentation states about the binary come from the
//! binary: every "N rules" in README.md, docs/ and BENCHMARKS.md is the
//! number of rules compiled in, and every file path the docs name in
//! backquotes exists in the repository.

use std::fs;
use std::path::{Path, PathBuf};

use safe_run::rules::RuleSet;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md"), root().join("BENCHMARKS.md")];
    let mut in_docs: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    in_docs.sort();
    docs.extend(in_docs);
    docs
}

/// `(line number, N)` for each "N rules" / "N shipped rules" / "N built-in
/// rules" in `text`.
fn rule_counts(text: &str) -> Vec<(usize, usize)> {
    let pattern =
        regex::Regex::new(r"\b(\d[\d,]*) (?:shipped |built-in )?rules\b").expect("a valid pattern");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        for c in pattern.captures_iter(line) {
            if let Ok(n) = c[1].replace(',', "").parse() {
                out.push((i + 1, n));
            }
        }
    }
    out
}

#[test]
fn every_rule_count_in_the_docs_is_the_binarys() {
    let actual = RuleSet::builtin().len();
    let mut wrong = Vec::new();
    for doc in documents() {
        let text = fs::read_to_string(&doc).expect("a readable document");
        for (line, n) in rule_counts(&text) {
            if n != actual {
                wrong.push(format!(
                    "{}:{line}: says {n} rules; the binary has {actual}",
                    doc.strip_prefix(root()).unwrap_or(&doc).display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_rule_count_pattern_finds_the_forms_the_docs_use() {
    assert_eq!(
        rule_counts("checked against 1,234 rules; the 12 shipped rules; 3 built-in rules"),
        vec![(1, 1234), (1, 12), (1, 3)]
    );
    assert!(rule_counts("the rules in force").is_empty());
}

/// Paths like `src/x.rs`, `docs/X.md`, `scripts/x.sh`, `tests/x.rs` named in
/// backquotes or links.
fn named_paths(text: &str) -> Vec<String> {
    let pattern = regex::Regex::new(
        r"(?:`|\()((?:src|docs|scripts|tests|benches|rules|packaging|fuzz|\.ci)/[A-Za-z0-9_./-]+)(?:`|\)|#)",
    )
    .expect("a valid pattern");
    pattern
        .captures_iter(text)
        .map(|c| c[1].trim_end_matches('.').to_string())
        .collect()
}

#[test]
fn every_repository_path_the_docs_name_exists() {
    let mut missing = Vec::new();
    let mut docs = documents();
    docs.push(root().join("RELIABILITY.md"));
    for doc in docs {
        let text = fs::read_to_string(&doc).expect("a readable document");
        for path in named_paths(&text) {
            if path.contains('*') || path.contains("NAME") {
                continue;
            }
            if !root().join(&path).exists() {
                missing.push(format!(
                    "{} names {path}, which is not in the repository",
                    doc.strip_prefix(root()).unwrap_or(&doc).display()
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
