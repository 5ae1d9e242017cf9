//! The properties the fuzz targets check, in one place: the cargo-fuzz
//! targets (fuzz_targets/*.rs, nightly) and the stable stand-in
//! (tests/engine/fuzz_smoke.rs, part of `cargo test`) both include this file, so
//! a property added here is checked by both.

#![allow(dead_code)] // each includer uses some of it

use safe_run::audit::record::{self, GENESIS};
use safe_run::classify;
use safe_run::cmd::check;
use safe_run::exit;
use safe_run::rules::RuleSet;
use safe_run::term::paint::Style;

thread_local! {
    static RULES: RuleSet = RuleSet::builtin();
}

/// Any text as a command line: parse, classify with the built-in rules, and
/// render both outputs of `safe-run check` (the human one slices the line
/// by the findings' spans to underline them).
///
/// Must hold for every input (besides no panic and no hang): the spans lie
/// inside the line, on character boundaries; `check` exits 2 exactly when
/// the line cannot be parsed, else 0 when it would run silently and 1 when
/// it would not, in both output formats.
pub fn parse_classify(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    RULES.with(|rules| {
        let verdict = classify::check_line(line, rules);
        if let Ok(verdict) = &verdict {
            for f in &verdict.findings {
                let (start, end) = f.span;
                assert!(
                    start <= end && end <= line.len(),
                    "span {:?} of {} outside a line of {} bytes",
                    f.span,
                    f.rule,
                    line.len()
                );
                assert!(line.is_char_boundary(start) && line.is_char_boundary(end));
            }
        }
        let mut out = Vec::new();
        let style = Style {
            color: true,
            width: 60,
        };
        let human = check::check_line(rules, line, false, style, &mut out).unwrap();
        let json = check::check_line(rules, line, true, style, &mut out).unwrap();
        assert_eq!(human, json, "the two formats disagree on the status");
        let want = match &verdict {
            Err(_) => exit::CHECK_ERROR,
            Ok(v) if v.runs_silently() => 0,
            Ok(_) => 1,
        };
        assert_eq!(human, want);
    });
}

/// Any bytes as an audit log: `record::verify` (stops at the first problem)
/// and `record::verify_report` (goes on and lists them all), as one file and
/// split in two as a rotated set chained from the genesis hash.
///
/// Must hold for every input (besides no panic and no hang): the two agree
/// on the first problem; a clean result counts no more records than there
/// are lines.
pub fn audit_verify(data: &[u8]) {
    let first = record::verify(data, None);
    let report = record::verify_report([data], None);
    assert_eq!(first.as_ref().err(), report.problems.first());
    if let Ok(summary) = &first {
        let lines = data.split(|b| *b == b'\n').count() as u64;
        assert!(summary.records <= lines);
    }
    let (older, newer) = data.split_at(data.len() / 2);
    let chain = record::verify_chain([older, newer], Some(GENESIS));
    let report = record::verify_report([older, newer], Some(GENESIS));
    assert_eq!(chain.as_ref().err(), report.problems.first());
}
