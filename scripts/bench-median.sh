#!/usr/bin/env bash
# Median of the per-line parse+classify times from `cargo bench --bench engine`.
#   scripts/bench-median.sh                # lines judged with no context (group `each`)
#   scripts/bench-median.sh each_in_place  # the same lines with a cwd, a home and 40 variables
set -euo pipefail
cd "$(dirname "$0")/.."
GROUP=${1:-each} python3 - <<'PY'
import json, glob, os, statistics
vals = []
for f in sorted(glob.glob(f"target/criterion/{os.environ['GROUP']}/*/new/estimates.json")):
    vals.append(json.load(open(f))["median"]["point_estimate"] / 1000.0)
if not vals:
    raise SystemExit("no results: run `cargo bench --bench engine` first")
vals.sort()
print(f"lines: {len(vals)}  median of per-line medians: {statistics.median(vals):.2f} µs  "
      f"min {vals[0]:.2f} µs  p90 {vals[int(len(vals)*0.9)-1]:.2f} µs  max {vals[-1]:.2f} µs")
PY
