//! The live risk hint's cost per key press.
//!
//! `cargo bench --bench hint`. The interactive prompt classifies the whole
//! line typed so far on every key (`hint::assess`, then the hint text and
//! the highlighted line), so typing a line of N characters costs N
//! assessments of its prefixes. The budget is ≤ 1 ms per key press; the
//! figure to read is `per keystroke` (the mean over every prefix of a long,
//! realistic line, risky part included), printed at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

use safe_run::context::LineContext;
use safe_run::rules::RuleSet;
use safe_run::shell::hint::{assess, hint_text, marked_ranges, paint_ranges};

/// A long line of the kind typed on a production box: a pipeline, a loop
/// over hosts, quoting, a command substitution, and a risky command in the
/// middle, so prefixes go through every state (incomplete, quiet, risky).
const LONG_LINE: &str = concat!(
    "for h in $(grep -E '^core-[0-9]+' /etc/hosts | awk '{print $2}'); do ",
    "ssh -o BatchMode=yes \"$h\" 'sudo systemctl restart kubelet && journalctl -u kubelet --since \"5 min ago\" | tail -n 20'; ",
    "done; kubectl -n prod get pods -o wide | grep -v Running; ",
    "sudo apt-get -y upgrade && docker system prune -af --volumes; echo \"done on $(hostname -s) at $(date -Is)\""
);

/// Every prefix of `line` that ends on a character boundary: what the
/// prompt sees, key by key.
fn prefixes(line: &str) -> Vec<&str> {
    (1..=line.len())
        .filter(|&i| line.is_char_boundary(i))
        .map(|i| &line[..i])
        .collect()
}

/// One key press: classify, format the hint, paint the line.
fn keystroke(prefix: &str, rules: &RuleSet) -> usize {
    let a = assess(prefix, rules, &LineContext::default());
    let hint = hint_text(&a, 120).map_or(0, |h| h.len());
    let ranges = marked_ranges(prefix, a.findings());
    let painted = paint_ranges(prefix, &ranges, "1;31");
    hint + painted.len()
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::builtin();
    let keys = prefixes(LONG_LINE);
    // Warm the rules' lazily built matchers, as a session does on its
    // first lines.
    for p in &keys {
        black_box(keystroke(p, &rules));
    }

    c.bench_function("hint/typing the long line (all prefixes)", |b| {
        b.iter(|| {
            let mut total = 0;
            for p in &keys {
                total += keystroke(black_box(p), &rules);
            }
            total
        })
    });
    c.bench_function("hint/one key at the end of the long line", |b| {
        b.iter(|| keystroke(black_box(LONG_LINE), &rules))
    });

    // The figure for the issue: time per key press over many typings of
    // the line — mean, 99th percentile and the slowest (which includes
    // whatever else the machine was doing at that moment).
    let rounds = 20;
    let mut times: Vec<Duration> = Vec::with_capacity(rounds * keys.len());
    for _ in 0..rounds {
        for p in &keys {
            let t = Instant::now();
            black_box(keystroke(black_box(p), &rules));
            times.push(t.elapsed());
        }
    }
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let p99 = times[times.len() * 99 / 100];
    let max = times[times.len() - 1];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "\nper keystroke: mean {:.1} µs, p99 {:.1} µs, max {:.1} µs over {} key presses ({} rules, line of {} bytes); budget 1000 µs",
        us(mean),
        us(p99),
        us(max),
        times.len(),
        rules.len(),
        LONG_LINE.len()
    );
    assert!(
        mean < Duration::from_millis(1) && p99 < Duration::from_millis(1),
        "the hint costs {mean:?} per key press (p99 {p99:?}), over the 1 ms budget"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
