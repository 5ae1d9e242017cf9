#!/usr/bin/env python3
"""How many of another command guard's own destructive examples a safe-run
build flags.

shellfirm (an interactive command guard) ships its test cases as YAML files,
one list per file of `{test: LINE, expect_ids: [ID, ...]}`; a case with an
id is a line shellfirm means to catch. This runs the binary's `check --json`
on every such line (git's pages left aside: git is a developer's tool, out
of safe-run's scope) and prints, per shellfirm domain (the id's part before
`:`), how many lines there are and how many are flagged (a confirmation or
a refusal), then the lines left allowed.

    scripts/other-guard.py BINARY DIR     # DIR: shellfirm's tests/checks

Needs PyYAML. Read-only: nothing is run but `safe-run check`.
"""

import collections
import concurrent.futures
import glob
import json
import os
import subprocess
import sys

import yaml


def cases(directory):
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        if os.path.basename(path).startswith("git"):
            continue
        with open(path, encoding="utf-8") as f:
            for case in yaml.safe_load(f) or []:
                ids = case.get("expect_ids") or []
                if ids and not ids[0].startswith("git"):
                    yield ids[0], case["test"]


def verdict(binary, line):
    done = subprocess.run(
        [binary, "--no-site-rules", "--config", os.devnull, "check", "--json", "--", line],
        capture_output=True,
        text=True,
        timeout=30,
    )
    out = done.stdout.strip().splitlines()
    return json.loads(out[-1])["verdict"] if out else "error"


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    binary, directory = argv
    rows = list(cases(directory))
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        verdicts = list(pool.map(lambda r: verdict(binary, r[1]), rows))
    per = collections.defaultdict(lambda: [0, 0])
    left = []
    for (ident, line), v in zip(rows, verdicts):
        domain = ident.split(":")[0]
        per[domain][0] += 1
        if v in ("confirm", "deny"):
            per[domain][1] += 1
        else:
            left.append((ident, v, line))
    print("| domain | lines | flagged |")
    print("| --- | --- | --- |")
    for domain, (n, flagged) in sorted(per.items()):
        print(f"| {domain} | {n} | {flagged} |")
    total = sum(n for n, _ in per.values())
    flagged = sum(f for _, f in per.values())
    print(f"\n{flagged} of {total} flagged ({100 * flagged / total:.1f} %)\n")
    for ident, v, line in left:
        print(f"{ident}\t{v}\t{line}")


if __name__ == "__main__":
    main(sys.argv[1:])
