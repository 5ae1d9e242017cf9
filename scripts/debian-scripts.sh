#!/usr/bin/env bash
# Runs `safe-run check --file` over every shell script of this Debian
# install, for BENCHMARKS.md ("The host's own shell scripts"): the scripts
# a parser meets in real life, written by many hands over decades.
#
# A script is a regular file under /usr/bin, /usr/sbin, /usr/share, /etc or
# /var/lib/dpkg/info whose first line is a `#!` line naming sh, bash or
# dash (directly or through env), and that `bash -n` accepts. Every one
# must parse: a parse error is a bug to fix in src/parse or
# vendor/brush-parser, or one to explain.
#
#   scripts/debian-scripts.sh              # results in target/debian-scripts
#   scripts/debian-scripts.sh DIR…         # other directories
#   SAFE_RUN_BIN=old/safe-run OUT=target/debian-old \
#     LIST=target/debian-scripts/scripts.txt scripts/debian-scripts.sh
#                                          # another build over the same
#                                          # scripts, for a before/after
#
# Prints the number of scripts and of command lines (the lines of a script
# where a command starts; `check --file --json` reports each), the share of
# those lines flagged (anything but allow), the rules that hit most, the
# time per file (median and p99: in-process and warm, by
# examples/check_files.rs; and of the whole `safe-run check --file`
# process), and every parse error with its file. Needs jq. Read-only:
# nothing is run but `bash -n`, `safe-run check` and the timing example.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${OUT:-target/debian-scripts}
mkdir -p "$out"
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(/usr/bin /usr/sbin /usr/share /etc /var/lib/dpkg/info)

cargo build --release --quiet --bin safe-run --example check_files
bin=${SAFE_RUN_BIN:-$PWD/target/release/safe-run}

# 1. The scripts: a shell #! line, and bash -n accepts them (or the list
# of an earlier run, LIST, so that two builds judge the same files).
list=$out/scripts.txt
if [ -n "${LIST:-}" ]; then
    [ "$LIST" -ef "$list" ] || cp "$LIST" "$list"
else
: >"$list"
while IFS= read -r -d '' f; do
    first=$(head -c 200 "$f" 2>/dev/null | head -n 1 | tr -d '\0') || continue
    case $first in
        '#!'*) ;;
        *) continue ;;
    esac
    # The interpreter's name, through `env [-S]` when it is used.
    read -r -a words <<<"${first#\#!}"
    interp=${words[0]:-}
    interp=${interp##*/}
    if [ "$interp" = env ]; then
        for w in "${words[@]:1}"; do
            case $w in -*|*=*) ;; *) interp=${w##*/}; break ;; esac
        done
    fi
    case $interp in sh|bash|dash) ;; *) continue ;; esac
    bash -n "$f" 2>/dev/null </dev/null || continue
    printf '%s\n' "$f" >>"$list"
done < <(find "${dirs[@]}" -xdev -type f -size -1024k -print0 2>/dev/null | sort -z)
fi
total=$(wc -l <"$list")
echo "scripts: $total (shell #! line, accepted by bash -n)"

# 2. check --file on each, timed.
results=$out/results.jsonl
times=$out/times.txt
errors=$out/errors.txt
: >"$results"; : >"$times"; : >"$errors"
while IFS= read -r f; do
    start=$(date +%s%N)
    status=0
    json=$("$bin" --no-site-rules check --file "$f" --json 2>/dev/null </dev/null) || status=$?
    end=$(date +%s%N)
    echo $(( (end - start) / 1000 )) >>"$times"
    if [ -z "$json" ]; then
        # Nothing to report is fine (a file of function definitions only);
        # no output with a failure status is not.
        [ "$status" -eq 0 ] || printf '%s\tno output (exit %s)\n' "$f" "$status" >>"$errors"
        continue
    fi
    printf '%s\n' "$json" | jq -c --arg f "$f" '. + {file: $f}' >>"$results"
    printf '%s\n' "$json" | jq -r --arg f "$f" 'select(.verdict == "error") | "\($f):\(.lineno): \(.error)"' >>"$errors"
done <"$list"

# 3. The figures.
lines=$(jq -s '[.[] | select(.verdict != "error")] | length' "$results")
flagged=$(jq -s '[.[] | select(.verdict == "confirm" or .verdict == "deny")] | length' "$results")
files_flagged=$(jq -rs '[.[] | select(.verdict == "confirm" or .verdict == "deny") | .file] | unique | length' "$results")
echo "command lines: $lines; flagged: $flagged ($(awk -v a="$flagged" -v b="$lines" 'BEGIN { printf "%.2f", b ? 100 * a / b : 0 }') %), in $files_flagged scripts"
echo "top rules (command lines):"
jq -rs '[.[] | select(.findings) | . as $l | [.findings[].rule] | unique | .[]] | group_by(.) | map({rule: .[0], n: length}) | sort_by(-.n) | .[:12][] | "  \(.n)\t\(.rule)"' "$results"
# Median, p99 and max of a column of microseconds.
percentiles() {
    sort -n | awk -v what="$1" '{ t[NR] = $1 } END {
        if (NR == 0) exit
        m = t[int((NR + 1) / 2)]; p = t[int(NR * 0.99 + 0.999)]
        printf "%s: median %.2f ms, p99 %.2f ms, max %.2f ms (%d files)\n", what, m / 1000, p / 1000, t[NR] / 1000, NR }'
}
target/release/examples/check_files <"$list" >"$out/inprocess.txt"
cut -d' ' -f1 "$out/inprocess.txt" | percentiles "time per file, in-process"
percentiles "time per file, whole process" <"$times"
echo "parse errors: $(wc -l <"$errors")"
cat "$errors"
