//! The fuzz targets' properties on stable Rust, as part of `cargo test`.
//!
//! cargo-fuzz (fuzz/, `bash scripts/fuzz.sh`) needs a nightly toolchain;
//! this file checks the same properties, from the same file
//! (fuzz/invariants.rs), with proptest's random inputs instead of
//! coverage-guided ones: random bytes, and — the way a fuzzer mutates its
//! corpus — the shipped rules' example lines and a real audit log with
//! random bytes replaced, inserted and removed.
//!
//! And, exhaustively rather than at random, what the hash chain promises:
//! every single-byte change, every removed record, every swap of two
//! neighbours and every cut inside a line of a sealed log is reported by
//! `record::verify`. Dropping whole records from the end is not (nothing
//! after them names them), nor, unless the file is checked as the start
//! of a chain, from the beginning: that is why the syslog copy matters.
//! The tests pin those limits down.

#[path = "../../fuzz/invariants.rs"]
mod invariants;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use safe_run::audit::log::AuditLog;
use safe_run::audit::record::{self, Actor, DecisionDetails, FindingRecord, Record};
use safe_run::rules::RuleSet;
use safe_run::verdict::Risk;
use safe_run::verdict::{Decision, Mode};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// One edit a fuzzer's mutator might make: at a position (a fraction of the
/// length), replace a byte, insert bytes, or remove a run.
#[derive(Clone, Debug)]
enum Edit {
    Replace(f64, u8),
    Insert(f64, Vec<u8>),
    Remove(f64, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop::sample::select(&b"\n\"'\\{}[]:,0123456789abcdef$`;|&()<> \x00\xff"[..]);
    prop_oneof![
        3 => (0.0..1.0, prop_oneof![any::<u8>(), interesting]).prop_map(|(at, b)| Edit::Replace(at, b)),
        2 => (0.0..1.0, prop::collection::vec(any::<u8>(), 1..12)).prop_map(|(at, b)| Edit::Insert(at, b)),
        2 => (0.0..1.0, 1usize..64).prop_map(|(at, n)| Edit::Remove(at, n)),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let at = |f: f64| ((data.len() as f64) * f) as usize;
        match e {
            Edit::Replace(f, b) if !data.is_empty() => {
                let i = at(*f).min(data.len() - 1);
                data[i] = *b;
            }
            Edit::Replace(..) => {}
            Edit::Insert(f, bytes) => {
                let i = at(*f);
                data.splice(i..i, bytes.iter().copied());
            }
            Edit::Remove(f, n) => {
                let i = at(*f);
                let end = (i + n).min(data.len());
                data.drain(i..end);
            }
        }
    }
    data
}

// ---------------------------------------------------------------------------
// parse + classify + `safe-run check`

#[test]
fn parse_classify_holds_on_random_bytes() {
    let bytes = prop::collection::vec(any::<u8>(), 0..2048);
    runner(2000)
        .run(&bytes, |data| {
            invariants::parse_classify(&data);
            Ok(())
        })
        .unwrap();
}

#[test]
fn parse_classify_holds_on_mutated_rule_examples() {
    let rules = RuleSet::builtin();
    let examples: Vec<String> = rules
        .iter()
        .flat_map(|r| {
            let spec = r.spec();
            spec.match_examples
                .iter()
                .chain(&spec.allow_examples)
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(examples.len() > 1000, "{} examples", examples.len());
    // Every example as it is, then mutated ones.
    for line in &examples {
        invariants::parse_classify(line.as_bytes());
    }
    let cases = (
        prop::sample::select(examples),
        prop::collection::vec(edit(), 1..6),
    );
    runner(4000)
        .run(&cases, |(line, edits)| {
            invariants::parse_classify(&apply(line.into_bytes(), &edits));
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// audit verification

fn record(i: usize) -> Record {
    let actor = Actor {
        host: "core-1".into(),
        user: "ops".into(),
        uid: 1001,
        login_user: Some("alice".into()),
        ssh: Some("203.0.113.7 52144".into()),
        tty: Some("/dev/pts/3".into()),
    };
    Record::decision(
        format!("id-{i}"),
        "2026-11-21T22:41:07.123+00:00",
        &actor,
        DecisionDetails {
            cwd: "/root".into(),
            mode: Mode::Shell,
            line: format!("sudo apt-get upgrade -y # ünïcode {i}"),
            argv: None,
            findings: vec![FindingRecord {
                rule: "apt-full-upgrade".into(),
                risk: Risk::High,
            }],
            risk: Risk::High,
            decision: Decision::Confirmed,
            reason: Some("CHG-4411 openssl".into()),
        },
    )
}

/// A log of `n` sealed records, written the way safe-run writes it.
fn sealed_log(n: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path).unwrap();
    for i in 0..n {
        log.append(&record(i), false).unwrap();
    }
    std::fs::read(&path).unwrap()
}

/// Verifies with nothing to report: no problem, and no note (an
/// incomplete record is reported as a note, not a failure).
fn verifies(data: &[u8]) -> bool {
    record::verify(data, None).is_ok_and(|summary| summary.notes.is_empty())
}

#[test]
fn audit_verify_holds_on_random_bytes() {
    let bytes = prop::collection::vec(any::<u8>(), 0..4096);
    runner(2000)
        .run(&bytes, |data| {
            invariants::audit_verify(&data);
            Ok(())
        })
        .unwrap();
}

#[test]
fn audit_verify_holds_on_mutated_logs() {
    let log = sealed_log(8);
    invariants::audit_verify(&log);
    runner(4000)
        .run(&prop::collection::vec(edit(), 1..6), |edits| {
            invariants::audit_verify(&apply(log.clone(), &edits));
            Ok(())
        })
        .unwrap();
}

/// Every byte of a sealed log, changed to any other value that could
/// appear in a text file (and to a few that could not), is caught.
#[test]
fn every_single_byte_change_is_caught() {
    let log = sealed_log(6);
    assert!(verifies(&log));
    let mut tried = 0;
    let mut missed = Vec::new();
    for i in 0..log.len() {
        for to in [b'0', b'a', b'f', b' ', b'"', b'\n', b'}', 0x00, 0xff] {
            if log[i] == to {
                continue;
            }
            let mut tampered = log.clone();
            tampered[i] = to;
            tried += 1;
            if verifies(&tampered) {
                missed.push((i, to));
            }
        }
    }
    eprintln!(
        "{tried} single-byte changes of a {}-byte log: {} missed",
        log.len(),
        missed.len()
    );
    assert!(missed.is_empty(), "not caught: {missed:?}");
}

/// Removing any record but the last, swapping any two neighbours, and
/// cutting the log anywhere inside a line are caught. (The first record's
/// removal only when the file is checked as the start of its chain, which
/// `safe-run audit verify` points out: "continues a chain from an older
/// file that was not given".)
#[test]
fn removals_swaps_and_cuts_are_caught() {
    let log = sealed_log(10);
    let lines: Vec<&[u8]> = log.split_inclusive(|b| *b == b'\n').collect();
    assert_eq!(lines.len(), 10);
    let mut tried = 0;
    for i in 0..lines.len() - 1 {
        let mut removed = lines.clone();
        removed.remove(i);
        let removed = removed.concat();
        if i == 0 {
            // Without the first record the file looks like the rest of a
            // rotated log: caught when it is checked as the start of the
            // chain, and never reported as starting one.
            assert!(record::verify(&removed[..], Some(record::GENESIS)).is_err());
            let summary = record::verify(&removed[..], None).unwrap();
            assert!(!summary.starts_chain());
        } else {
            assert!(!verifies(&removed), "record {i} removed");
        }
        let mut swapped = lines.clone();
        swapped.swap(i, i + 1);
        assert!(
            !verifies(&swapped.concat()),
            "records {i} and {} swapped",
            i + 1
        );
        tried += 2;
    }
    let mut boundaries = vec![0];
    for line in &lines {
        boundaries.push(boundaries.last().unwrap() + line.len());
    }
    for cut in 1..log.len() {
        // A cut right before a newline leaves a complete record that only
        // lacks its newline: the writer's torn-line rule counts it.
        if boundaries.contains(&cut) || log[cut] == b'\n' {
            continue;
        }
        assert!(!verifies(&log[..cut]), "cut at byte {cut}");
        tried += 1;
    }
    eprintln!("{tried} removals, swaps and cuts: all caught");
}

/// The limit: a log cut exactly after a record verifies, because no
/// later record names the dropped ones. Only a copy kept elsewhere (the
/// syslog copy on a central store) shows records missing from the end.
#[test]
fn dropping_records_from_the_end_is_not_detectable_in_the_file_alone() {
    let log = sealed_log(4);
    let first_three: usize = log
        .split_inclusive(|b| *b == b'\n')
        .take(3)
        .map(<[u8]>::len)
        .sum();
    assert!(verifies(&log[..first_three]));
}
