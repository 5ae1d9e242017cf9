#!/usr/bin/env bash
# Audit review figures for BENCHMARKS.md ("Audit review"): generates
# 100,000- and 1,000,000-record logs (tests/audit/review.rs, generate_bench_log),
# times `audit verify` and `audit --risk high --since …` on the large one
# with hyperfine, and measures peak memory (max RSS, /usr/bin/time -v) of
# each command on both sizes: flat memory means the same figure for both.
#
#   scripts/bench-audit.sh            # logs and results in target/bench-audit
#
# Needs hyperfine and GNU time (/usr/bin/time). About 400 MB of disk for
# the large log (plus its .gz copy).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/bench-audit
mkdir -p "$dir"

cargo build --release --quiet
bin=target/release/safe-run

for n in 100000 1000000; do
    log=$dir/audit-$n.jsonl
    if [ ! -s "$log" ]; then
        echo "generating $log"
        SAFE_RUN_BENCH_LOG="$PWD/$log" SAFE_RUN_BENCH_RECORDS=$n \
            cargo test --release --quiet --test audit -- --ignored --exact review::generate_bench_log >/dev/null
    fi
done
big=$dir/audit-1000000.jsonl
small=$dir/audit-100000.jsonl
[ -s "$big.gz" ] || gzip -k -1 -c "$big" >"$big.gz"
# The generated log spans 2026-11-01 to 2026-11-09 (100k: one day).
since_big=2026-11-09T00:00:00Z
since_small=2026-11-01T18:00:00Z

echo "== machine"
nproc
uptime
echo "records: $(wc -l <"$big") in $(du -h "$big" | cut -f1) ($(du -h "$big.gz" | cut -f1) gzipped)"

echo "== time (1,000,000 records)"
hyperfine --warmup 1 --runs 10 --style basic -N \
    --export-markdown "$dir/hyperfine.md" \
    "$bin audit verify $big" \
    "$bin audit --risk high --since $since_big $big" \
    "$bin audit verify $big.gz" \
    "$bin audit --risk high --since $since_big $big.gz" \
    "$bin audit stats $big"
uptime

echo "== peak memory (max RSS, KB): 100,000 vs 1,000,000 records"
peak() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
printf '%-40s %10s %10s\n' command 100k 1M
printf '%-40s %10s %10s\n' "audit verify" "$(peak $bin audit verify $small)" "$(peak $bin audit verify $big)"
printf '%-40s %10s %10s\n' "audit --risk high --since" \
    "$(peak $bin audit --risk high --since $since_small $small)" "$(peak $bin audit --risk high --since $since_big $big)"
printf '%-40s %10s %10s\n' "audit (every row)" "$(peak $bin audit $small)" "$(peak $bin audit $big)"
printf '%-40s %10s %10s\n' "audit --json (every row)" "$(peak $bin audit --json $small)" "$(peak $bin audit --json $big)"
printf '%-40s %10s %10s\n' "audit stats" "$(peak $bin audit stats $small)" "$(peak $bin audit stats $big)"
printf '%-40s %10s %10s\n' "audit verify FILE.gz" "-" "$(peak $bin audit verify $big.gz)"
