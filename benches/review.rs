//! The audit review core over an in-memory log: `cargo bench --bench review`.
//!
//! 100,000 sealed records of a busy fleet (the shape of
//! `tests/audit/review.rs`'s generator), read line by line as `safe-run audit`
//! reads a file: the filtered query of the issue (`--risk high --since`),
//! the full join (every row), the stats, and `audit verify`'s chain check.
//! Figures are records per second. The end-to-end figures on a
//! 1,000,000-record file (time and peak memory of the real binary) come
//! from `scripts/bench-audit.sh`; both are in BENCHMARKS.md.

use std::hint::black_box;
use std::io::BufRead;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use safe_run::audit::record::{self, Actor, DecisionDetails, FindingRecord, GENESIS, Record};
use safe_run::audit::review::{self, Filter, JoinOptions, Origin, Review, Stats};
use safe_run::verdict::Risk;
use safe_run::verdict::{Decision, Mode};

const RECORDS: usize = 100_000;

/// A sealed log of `n` records: a decision every 1.5 s, its outcome 0.7 s
/// later when it ran; one line in ten is risky.
fn log(n: usize) -> Vec<u8> {
    const LINES: &[(&str, Risk, Option<&str>)] = &[
        ("ls -la /var/log", Risk::None, None),
        ("systemctl status nginx", Risk::None, None),
        ("df -h", Risk::None, None),
        ("kubectl get pods -n prod -o wide", Risk::None, None),
        ("tail -n 100 /var/log/syslog", Risk::None, None),
        ("cat /etc/hosts", Risk::None, None),
        ("docker ps -a", Risk::None, None),
        ("free -m", Risk::None, None),
        ("apt-get update", Risk::Low, Some("apt-update")),
        (
            "sudo systemctl restart nginx",
            Risk::Medium,
            Some("service-restart"),
        ),
        (
            "sudo apt-get upgrade -y",
            Risk::High,
            Some("apt-full-upgrade"),
        ),
        ("sudo reboot", Risk::High, Some("power-reboot")),
        (
            "docker system prune -af --volumes",
            Risk::Critical,
            Some("docker-prune-volumes"),
        ),
    ];
    let start: jiff::Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let mut out = Vec::with_capacity(n * 420);
    let mut prev = GENESIS.to_string();
    let mut push = |record: &Record, out: &mut Vec<u8>| {
        let line = record::seal(record, &prev);
        prev = record::hash_of_line(line.as_bytes()).unwrap();
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    };
    let mut written = 0;
    let mut i = 0i64;
    while written < n {
        i += 1;
        let pick = if i % 10 == 0 {
            8 + (i / 10) as usize % 5
        } else {
            i as usize % 8
        };
        let (line, risk, rule) = LINES[pick];
        let decision = match (risk, i % 7) {
            (Risk::None | Risk::Low, _) => Decision::Allowed,
            (_, 0) => Decision::Refused,
            (Risk::Critical, _) => Decision::Denied,
            _ => Decision::Confirmed,
        };
        let actor = Actor {
            host: format!("web-{}", i % 8),
            user: format!("user{:02}", i % 20),
            uid: 1001,
            login_user: None,
            ssh: Some("203.0.113.7 52144".into()),
            tty: Some("/dev/pts/3".into()),
        };
        let ts = |ms: i64| (start + jiff::SignedDuration::from_millis(ms)).to_string();
        let record = Record::decision(
            format!("d{i:09}"),
            ts(i * 1500),
            &actor,
            DecisionDetails {
                cwd: "/root".into(),
                mode: Mode::Shell,
                line: line.into(),
                argv: None,
                findings: rule
                    .map(|rule| FindingRecord {
                        rule: rule.into(),
                        risk,
                    })
                    .into_iter()
                    .collect(),
                risk,
                decision,
                reason: (decision == Decision::Confirmed).then(|| "CHG-4411 maintenance".into()),
            },
        );
        push(&record, &mut out);
        written += 1;
        if decision.runs() && written < n {
            let outcome = Record::outcome(
                format!("o{i:09}"),
                ts(i * 1500 + 700),
                &record,
                Some(0),
                None,
                700,
            );
            push(&outcome, &mut out);
            written += 1;
        }
    }
    out
}

/// Reads `log` through a review as the binary does; returns the rows.
fn scan(log: &[u8], filter: Filter, mut on_row: impl FnMut(&review::Row)) -> u64 {
    let mut review = Review::new(filter, JoinOptions::default());
    let mut rows = 0u64;
    let mut emit = |row: review::Row| {
        rows += 1;
        on_row(&row);
    };
    for (i, line) in log.split(|b| *b == b'\n').enumerate() {
        let at = Origin {
            source: 0,
            line: i as u64 + 1,
        };
        review.feed(review::read_entry(line.to_vec(), at), &mut emit);
    }
    review.finish(&mut emit);
    rows
}

fn review_bench(c: &mut Criterion) {
    let log = log(RECORDS);
    let mut group = c.benchmark_group("review");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECORDS as u64));

    let since = "2026-11-01T18:00:00Z".parse().ok();
    group.bench_function("risk-high-since", |b| {
        b.iter(|| {
            let filter = Filter {
                min_risk: Some(Risk::High),
                since,
                ..Filter::default()
            };
            black_box(scan(&log, filter, |_| {}))
        })
    });
    group.bench_function("join-every-row", |b| {
        b.iter(|| {
            black_box(scan(&log, Filter::default(), |row| {
                black_box(row);
            }))
        })
    });
    group.bench_function("stats", |b| {
        b.iter(|| {
            let mut stats = Stats::new();
            scan(&log, Filter::default(), |row| stats.add(row));
            black_box(stats.tops(10))
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let summary = record::verify(log.as_slice(), None).unwrap();
            black_box(summary.records)
        })
    });
    group.bench_function("read-lines-only", |b| {
        b.iter(|| {
            let mut n = 0;
            let mut reader = log.as_slice();
            let mut buf = Vec::new();
            while reader.read_until(b'\n', &mut buf).unwrap() > 0 {
                n += 1;
                buf.clear();
            }
            black_box(n)
        })
    });
    group.finish();
}

criterion_group!(benches, review_bench);
criterion_main!(benches);
