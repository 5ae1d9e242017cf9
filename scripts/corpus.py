#!/usr/bin/env python3
"""Measure a safe-run binary on a corpus of real command lines.

The corpus is a TSV file with the columns page, judgment, note, line (the
format of the tldr-pages corpus: a header line starting with `#`, then one
command line per row; `judgment` is blank, FAIR, FALSE, DESIGN, NAC or
MISS-*). Every line is checked with the binary's own `check --json`, one
process per line, with no site rules and no configuration, so any build
can be measured the same way: today's, and an older one to compare with.

    scripts/corpus.py verdicts BINARY CORPUS.tsv > after.tsv
        one row per corpus line: page, judgment, verdict, risk, rules, line
        (verdict: allow, confirm, deny or error; rules: the ids found,
        comma-separated). Runs as many checks at once as there are CPUs.

    scripts/corpus.py misses after.tsv
        the lines judged MISS-* that are still allowed, as a Markdown table.

    scripts/corpus.py changes before.tsv after.tsv
        the lines with no judgment whose verdict (action and risk) differs
        between two runs, as a Markdown table: line, before, after, rules.

    scripts/corpus.py summary after.tsv
        how many lines got each verdict, per judgment.

    scripts/corpus.py false after.tsv
        the lines judged FALSE (a false alarm) that are still flagged.

    scripts/corpus.py errors BINARY after.tsv
        the lines the binary could not check although `bash -n` accepts
        them (a parse error on a line bash takes), with the binary's error.

A line counts as flagged when it would need a confirmation or be refused
(`confirm`, `deny`); `allow low` is a notice and runs.
"""

import collections
import concurrent.futures
import json
import os
import subprocess
import sys

FLAGGED = ("confirm", "deny")


def read_corpus(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if not raw or raw.startswith("#"):
                continue
            cells = raw.split("\t")
            if len(cells) < 4:
                continue
            page, judgment, line = cells[0], cells[1], "\t".join(cells[3:])
            rows.append((page, judgment, line))
    return rows


def check(binary, line):
    """(verdict, risk, rules) for one line."""
    try:
        done = subprocess.run(
            [binary, "--no-site-rules", "--config", os.devnull, "check", "--json", "--", line],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return ("timeout", "-", "")
    out = done.stdout.strip().splitlines()
    if not out:
        return ("error", "-", "")
    report = json.loads(out[-1])
    rules = []
    for finding in report.get("findings") or []:
        if finding["rule"] not in rules:
            rules.append(finding["rule"])
    return (report["verdict"], report.get("risk") or "-", ",".join(rules))


def verdicts(binary, corpus):
    rows = read_corpus(corpus)
    workers = os.cpu_count() or 2
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda row: check(binary, row[2]), rows)
        print("# page\tjudgment\tverdict\trisk\trules\tline")
        for (page, judgment, line), (verdict, risk, rules) in zip(rows, results):
            print(f"{page}\t{judgment}\t{verdict}\t{risk}\t{rules}\t{line}")


def read_verdicts(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if not raw or raw.startswith("#"):
                continue
            page, judgment, verdict, risk, rules, line = raw.split("\t", 5)
            rows.append(
                dict(page=page, judgment=judgment, verdict=verdict, risk=risk, rules=rules, line=line)
            )
    return rows


def cell(text):
    """A line as Markdown table code: pipes escaped, backticks turned to quotes."""
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def misses(path):
    left = [
        r
        for r in read_verdicts(path)
        if r["judgment"].startswith("MISS") and r["verdict"] not in FLAGGED
    ]
    print("| page | judgment | line |")
    print("| --- | --- | --- |")
    for r in left:
        print(f"| {r['page']} | {r['judgment']} | {cell(r['line'])} |")
    print(f"\n{len(left)} MISS-* line(s) still allowed")


def changes(before_path, after_path):
    before = read_verdicts(before_path)
    after = read_verdicts(after_path)
    if [r["line"] for r in before] != [r["line"] for r in after]:
        sys.exit("the two runs are not of the same corpus")
    print("| line | before | after | rules |")
    print("| --- | --- | --- | --- |")
    count = 0
    for b, a in zip(before, after):
        if b["judgment"] or (b["verdict"], b["risk"]) == (a["verdict"], a["risk"]):
            continue
        count += 1
        print(
            f"| {cell(a['line'])} | {b['verdict']} {b['risk']} "
            f"| {a['verdict']} {a['risk']} | {a['rules'] or '-'} |"
        )
    print(f"\n{count} unlabelled line(s) changed verdict")


def false_alarms(path):
    left = [
        r for r in read_verdicts(path) if r["judgment"] == "FALSE" and r["verdict"] in FLAGGED
    ]
    print("| page | line | verdict | rules |")
    print("| --- | --- | --- | --- |")
    for r in left:
        print(f"| {r['page']} | {cell(r['line'])} | {r['verdict']} {r['risk']} | {r['rules']} |")
    print(f"\n{len(left)} FALSE line(s) still flagged")


def bash_accepts(line):
    done = subprocess.run(
        ["bash", "-n", "-c", line], stdin=subprocess.DEVNULL, capture_output=True, timeout=30
    )
    return done.returncode == 0


def error_message(binary, line):
    done = subprocess.run(
        [binary, "--no-site-rules", "--config", os.devnull, "check", "--json", "--", line],
        capture_output=True,
        text=True,
        timeout=30,
    )
    out = done.stdout.strip().splitlines()
    if out:
        report = json.loads(out[-1])
        if report.get("error"):
            return report["error"]
    return (done.stderr.strip().splitlines() or ["no output"])[-1]


def errors(binary, path):
    failed = [r for r in read_verdicts(path) if r["verdict"] not in ("allow", "confirm", "deny")]
    taken = [r for r in failed if bash_accepts(r["line"])]
    print("| page | judgment | line | error |")
    print("| --- | --- | --- | --- |")
    for r in taken:
        message = error_message(binary, r["line"])
        print(f"| {r['page']} | {r['judgment'] or '-'} | {cell(r['line'])} | {cell(message)} |")
    print(
        f"\n{len(failed)} line(s) not checked; {len(taken)} of them accepted by bash -n"
    )


def summary(path):
    counts = collections.Counter()
    for r in read_verdicts(path):
        counts[(r["judgment"] or "(none)", r["verdict"])] += 1
    for (judgment, verdict), n in sorted(counts.items()):
        print(f"{judgment}\t{verdict}\t{n}")


def main(argv):
    match argv:
        case ["verdicts", binary, corpus]:
            verdicts(binary, corpus)
        case ["misses", path]:
            misses(path)
        case ["changes", before, after]:
            changes(before, after)
        case ["summary", path]:
            summary(path)
        case ["false", path]:
            false_alarms(path)
        case ["errors", binary, path]:
            errors(binary, path)
        case _:
            sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
