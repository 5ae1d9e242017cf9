//! `safe-run audit` (list, filters, --json, show, stats, follow, verify)
//! driving the built binary on logs sealed here with `record::seal`: no
//! command is run. Times are shown in `TZ=UTC` and colour is off.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use safe_run::audit::record::{self, Actor, DecisionDetails, FindingRecord, GENESIS, Record};
use safe_run::verdict::Risk;
use safe_run::verdict::{Decision, Mode};
use serde_json::Value;

use crate::common::{Run, SafeRun, require_tool};

/// `safe-run ARGS` in `dir` (common::bin: a clean environment, no colour,
/// UTC), with a configuration that names `dir/audit.jsonl` (so the default
/// log is known).
fn safe_run(dir: &Path, args: &[&str]) -> SafeRun {
    let config = dir.join("config.toml");
    if !config.exists() {
        let log = dir.join("audit.jsonl");
        fs::write(
            &config,
            format!("[audit]\npath = {:?}\n", log.display().to_string()),
        )
        .unwrap();
    }
    SafeRun::new(args)
        .current_dir(dir)
        .env("SAFE_RUN_CONFIG", &config)
}

fn run(dir: &Path, args: &[&str]) -> Run {
    safe_run(dir, args).run()
}

fn run_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Run {
    safe_run(dir, args).input(input).run()
}

/// The ids of the rows printed by `--json`.
fn ids(run: &Run) -> Vec<String> {
    assert_eq!(run.status, 0, "{run:?}");
    rows(run)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn rows(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

// ---------------------------------------------------------------- logs

/// A sealed log being written: each record chained to the one before.
struct Log {
    text: String,
    prev: String,
}

impl Log {
    fn new() -> Log {
        Log::after(GENESIS)
    }

    /// A log continuing a chain whose last hash is `prev` (a rotated file).
    fn after(prev: &str) -> Log {
        Log {
            text: String::new(),
            prev: prev.to_string(),
        }
    }

    fn push(&mut self, record: &Record) -> &mut Log {
        let line = record::seal(record, &self.prev);
        self.prev = record::hash_of_line(line.as_bytes()).unwrap();
        self.text.push_str(&line);
        self.text.push('\n');
        self
    }

    fn write(&self, path: &Path) {
        fs::write(path, &self.text).unwrap();
    }

    fn append_to(&mut self, path: &Path, records: &[&Record]) {
        let start = self.text.len();
        for r in records {
            self.push(r);
        }
        let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
        file.write_all(&self.text.as_bytes()[start..]).unwrap();
    }
}

struct D<'a> {
    id: &'a str,
    ts: &'a str,
    host: &'a str,
    user: &'a str,
    login: Option<&'a str>,
    line: &'a str,
    risk: Risk,
    rule: Option<&'a str>,
    decision: Decision,
    reason: Option<&'a str>,
}

impl D<'_> {
    fn record(&self) -> Record {
        let actor = Actor {
            host: self.host.into(),
            user: self.user.into(),
            uid: if self.user == "root" { 0 } else { 1001 },
            login_user: self.login.map(str::to_string),
            ssh: Some("203.0.113.7 52144".into()),
            tty: Some("/dev/pts/3".into()),
        };
        Record::decision(
            self.id,
            self.ts,
            &actor,
            DecisionDetails {
                cwd: "/root".into(),
                mode: Mode::Shell,
                line: self.line.into(),
                argv: None,
                findings: self
                    .rule
                    .map(|rule| FindingRecord {
                        rule: rule.into(),
                        risk: self.risk,
                    })
                    .into_iter()
                    .collect(),
                risk: self.risk,
                decision: self.decision,
                reason: self.reason.map(str::to_string),
            },
        )
    }
}

fn plain<'a>(id: &'a str, ts: &'a str, host: &'a str, line: &'a str) -> D<'a> {
    D {
        id,
        ts,
        host,
        user: "ops",
        login: None,
        line,
        risk: Risk::None,
        rule: None,
        decision: Decision::Allowed,
        reason: None,
    }
}

fn outcome(id: &str, ts: &str, of: &Record, exit: Option<i32>, signal: Option<i32>) -> Record {
    Record::outcome(id, ts, of, exit, signal, 1500)
}

/// Seven commands on three hosts, one of each kind of ending.
fn sample() -> Vec<Record> {
    let d1 = D {
        login: Some("alice"),
        ..plain(
            "d1-0001",
            "2026-11-21T09:00:00Z",
            "core-1",
            "apt-get update",
        )
    }
    .record();
    let d2 = D {
        user: "root",
        login: Some("alice"),
        risk: Risk::High,
        rule: Some("apt-full-upgrade"),
        decision: Decision::Confirmed,
        reason: Some("CVE-2026-1234 openssl patch, CHG-4411"),
        ..plain(
            "d2-0002",
            "2026-11-21T09:05:00Z",
            "core-1",
            "sudo apt-get upgrade -y",
        )
    }
    .record();
    let d3 = D {
        user: "bob",
        risk: Risk::Critical,
        rule: Some("rm-root"),
        decision: Decision::Denied,
        ..plain("d3-0003", "2026-11-21T09:10:00Z", "web-2", "rm -rf /")
    }
    .record();
    let d4 = D {
        user: "bob",
        risk: Risk::High,
        rule: Some("kubectl-delete-namespace"),
        decision: Decision::Aborted,
        ..plain(
            "d4-0004",
            "2026-11-21T09:12:00Z",
            "web-2",
            "kubectl delete ns prod\x1b[2K",
        )
    }
    .record();
    let d5 = D {
        risk: Risk::Medium,
        rule: Some("service-restart"),
        decision: Decision::Confirmed,
        reason: Some("restart after the config change"),
        ..plain(
            "d5-0005",
            "2026-11-21T09:20:00Z",
            "core-1",
            "systemctl restart nginx",
        )
    }
    .record();
    let d6 = D {
        user: "carol",
        risk: Risk::Critical,
        rule: Some("sql-drop"),
        decision: Decision::Refused,
        ..plain(
            "d6-0006",
            "2026-11-21T09:30:00Z",
            "db-1.prod.example",
            "psql -c 'DROP TABLE users'",
        )
    }
    .record();
    let d7 = plain(
        "d7-0007",
        "2026-11-21T09:31:00Z",
        "core-1",
        "ls -la /var/log",
    )
    .record();
    vec![
        outcome("o0-0000", "2026-11-21T08:59:00Z", &d7, Some(0), None), // its decision is not in the log
        d1.clone(),
        outcome("o1-0001", "2026-11-21T09:00:01Z", &d1, Some(0), None),
        d2.clone(),
        d3,
        d4,
        outcome("o2-0002", "2026-11-21T09:15:00Z", &d2, Some(100), None),
        d5.clone(),
        outcome("o5-0005", "2026-11-21T09:25:00Z", &d5, None, Some(15)),
        d6,
        d7,
    ]
}

fn sample_log() -> Log {
    let mut log = Log::new();
    for r in sample() {
        log.push(&r);
    }
    log
}

fn dir_with_sample() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    sample_log().write(&path);
    (dir, path)
}

// ---------------------------------------------------------------- list

#[test]
fn the_table_matches_the_snapshot() {
    let (dir, _) = dir_with_sample();
    let run = safe_run(dir.path(), &["audit"]).env("COLUMNS", "100").run();
    assert_eq!(run.status, 0, "{run:?}");
    let expected = "\
TIME                HOST             USER        RISK     DECISION  EXIT LINE  # REASON
2026-11-21 09:00:00 core-1           ops(alice)  none     allowed   0    apt-get update
2026-11-21 09:05:00 core-1           root(alice) high     confirmed 100  sudo apt-get upgrade -y  #…
2026-11-21 09:10:00 web-2            bob         critical denied    -    rm -rf /
2026-11-21 09:12:00 web-2            bob         high     aborted   -    kubectl delete ns prod\\e[2K
2026-11-21 09:20:00 core-1           ops         medium   confirmed TERM systemctl restart nginx  #…
2026-11-21 09:30:00 db-1.prod.examp… carol       critical refused   -    psql -c 'DROP TABLE users'
2026-11-21 09:31:00 core-1           ops         none     allowed   ?    ls -la /var/log
";
    assert_eq!(run.stdout, expected, "\n{}", run.stdout);
}

/// Wide enough, the reason gets its own column.
#[test]
fn a_wide_table_gives_the_reason_its_own_column() {
    let (dir, _) = dir_with_sample();
    let run = safe_run(
        dir.path(),
        &["audit", "--host", "core-1", "--risk", "medium"],
    )
    .env("COLUMNS", "140")
    .run();
    let expected = "\
TIME                HOST   USER        RISK     DECISION  EXIT LINE                                   REASON
2026-11-21 09:05:00 core-1 root(alice) high     confirmed 100  sudo apt-get upgrade -y                CVE-2026-1234 openssl patch, CHG-4411
2026-11-21 09:20:00 core-1 ops         medium   confirmed TERM systemctl restart nginx                restart after the config change
";
    assert_eq!(run.stdout, expected, "\n{}", run.stdout);
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let (dir, _) = dir_with_sample();
    for args in [
        &["audit"][..],
        &["audit", "show", "d4"],
        &["audit", "stats"],
    ] {
        let run = run(dir.path(), args);
        assert!(!run.stdout.contains('\x1b'), "{args:?}: {run:?}");
    }
    let run = run(dir.path(), &["audit", "show", "d4"]);
    assert!(
        run.stdout.contains("kubectl delete ns prod\\e[2K"),
        "{run:?}"
    );
}

#[test]
fn each_filter_keeps_what_it_says() {
    let (dir, _) = dir_with_sample();
    let cases: &[(&[&str], &[&str])] = &[
        (&[], &["d1", "d2", "d3", "d4", "d5", "d6", "d7"]),
        (
            &["--since", "2026-11-21T09:10:00Z"],
            &["d3", "d4", "d5", "d6", "d7"],
        ),
        (&["--since", "2026-11-21 09:12"], &["d4", "d5", "d6", "d7"]),
        (&["--until", "2026-11-21 09:05"], &["d1", "d2"]),
        (
            &[
                "--since",
                "2026-11-21",
                "--until",
                "2026-11-21T09:00:00+01:00",
            ],
            &[],
        ),
        (&["--user", "alice"], &["d1", "d2"]),
        (&["--user", "bob", "--user", "carol"], &["d3", "d4", "d6"]),
        (&["--host", "web-2"], &["d3", "d4"]),
        (&["--host", "db-1"], &["d6"]),
        (&["--risk", "high"], &["d2", "d3", "d4", "d6"]),
        (&["--risk", "medium", "--host", "core-1"], &["d2", "d5"]),
        (&["--decision", "refused,denied"], &["d3", "d6"]),
        (&["--decision", "aborted"], &["d4"]),
        (&["--rule", "apt-full-upgrade"], &["d2"]),
        (&["--grep", "CVE|DROP"], &["d2", "d6"]),
        (&["--grep", "(?i)NGINX"], &["d5"]),
        (&["--failed"], &["d2", "d5"]),
        (&["--failed", "--user", "ops"], &["d5"]),
        (&["--reverse"], &["d7", "d6", "d5", "d4", "d3", "d2", "d1"]),
        (&["--limit", "2"], &["d6", "d7"]),
        (&["-n", "2", "--reverse"], &["d7", "d6"]),
    ];
    for (filter, want) in cases {
        let mut args = vec!["audit", "--json"];
        args.extend_from_slice(filter);
        let got: Vec<String> = ids(&run(dir.path(), &args))
            .into_iter()
            .map(|id| id[..2].to_string())
            .collect();
        assert_eq!(got, *want, "{filter:?}");
    }
}

#[test]
fn since_takes_durations_before_now() {
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now();
    let ago = |h: i64| (now - jiff::SignedDuration::from_hours(h)).to_string();
    let (t5, t3, t1) = (ago(50), ago(3), ago(1));
    let mut log = Log::new();
    log.push(&plain("old", &t5, "h", "ls").record())
        .push(&plain("mid", &t3, "h", "ls").record())
        .push(&plain("new", &t1, "h", "ls").record());
    log.write(&dir.path().join("audit.jsonl"));
    for (since, want) in [
        ("2h", vec!["new"]),
        ("4h", vec!["mid", "new"]),
        ("3d", vec!["old", "mid", "new"]),
    ] {
        assert_eq!(
            ids(&run(dir.path(), &["audit", "--json", "--since", since])),
            want,
            "{since}"
        );
    }
    let bad = run(dir.path(), &["audit", "--since", "last tuesday"]);
    assert_eq!(bad.status, 2, "{bad:?}");
    assert!(
        bad.stderr.contains("cannot read `last tuesday` as a time"),
        "{bad:?}"
    );
    let bad = run(dir.path(), &["audit", "--risk", "huge"]);
    assert_eq!(bad.status, 2, "{bad:?}");
}

#[test]
fn json_rows_join_decision_and_outcome() {
    let (dir, _) = dir_with_sample();
    let all = rows(&run(dir.path(), &["audit", "--json"]));
    let d2 = &all[1];
    assert_eq!(d2["id"], "d2-0002");
    assert_eq!(d2["user"], "root");
    assert_eq!(d2["login_user"], "alice");
    assert_eq!(d2["decision"], "confirmed");
    assert_eq!(d2["risk"], "high");
    assert_eq!(d2["findings"][0]["rule"], "apt-full-upgrade");
    assert_eq!(d2["reason"], "CVE-2026-1234 openssl patch, CHG-4411");
    assert_eq!(d2["status"], "failed");
    assert_eq!(d2["exit"], 100);
    assert_eq!(d2["duration_ms"], 1500);
    assert_eq!(d2["ended"], "2026-11-21T09:15:00Z");
    assert_eq!(d2["outcome_id"], "o2-0002");
    let statuses: Vec<&str> = all.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            "ok",
            "failed",
            "not-run",
            "not-run",
            "killed",
            "not-run",
            "no-outcome"
        ]
    );
    assert_eq!(all[4]["signal"], 15);
    assert!(all[6].get("exit").is_none());
}

// ---------------------------------------------------------------- show

#[test]
fn show_finds_a_command_by_id_or_unique_prefix() {
    let (dir, path) = dir_with_sample();
    let full = run(dir.path(), &["audit", "show", "d2-0002"]);
    assert_eq!(full.status, 0, "{full:?}");
    for want in [
        "Command d2-0002",
        "2026-11-21 09:05:00  (2026-11-21T09:05:00Z)",
        "root (uid 0)",
        "login user alice",
        "ssh from   203.0.113.7 52144",
        "line       sudo apt-get upgrade -y",
        "findings   apt-full-upgrade (high)",
        "decision   confirmed",
        "reason     CVE-2026-1234 openssl patch, CHG-4411",
        "outcome    exit 100 after 1.500 s, ended 2026-11-21 09:15:00",
    ] {
        assert!(full.stdout.contains(want), "{want:?} in {full:?}");
    }
    let name = path.display().to_string();
    assert!(
        full.stdout.contains(&format!(
            "records    {name}:4 (decision), {name}:7 (outcome o2-0002)"
        )),
        "{full:?}"
    );
    let prefix = run(dir.path(), &["audit", "show", "d2"]);
    assert_eq!(prefix.stdout, full.stdout);

    let killed = run(dir.path(), &["audit", "show", "d5"]);
    assert!(killed.stdout.contains("killed by SIGTERM"), "{killed:?}");
    let never = run(dir.path(), &["audit", "show", "d7"]);
    assert!(
        never.stdout.contains("outcome    none recorded"),
        "{never:?}"
    );
    let denied = run(dir.path(), &["audit", "show", "d3"]);
    assert!(denied.stdout.contains("outcome    not run"), "{denied:?}");

    let json = run(dir.path(), &["audit", "show", "--json", "d6"]);
    assert_eq!(rows(&json)[0]["host"], "db-1.prod.example");

    let ambiguous = run(dir.path(), &["audit", "show", "d"]);
    assert_eq!(ambiguous.status, 1, "{ambiguous:?}");
    assert!(
        ambiguous.stderr.contains("is the start of 7 commands' ids"),
        "{ambiguous:?}"
    );
    let missing = run(dir.path(), &["audit", "show", "zz"]);
    assert_eq!(missing.status, 1, "{missing:?}");
    assert!(
        missing
            .stderr
            .contains("no command has an id starting with `zz`"),
        "{missing:?}"
    );
    // An outcome's id is not a command's.
    assert_eq!(run(dir.path(), &["audit", "show", "o1"]).status, 1);
}

// ---------------------------------------------------------------- stats

#[test]
fn stats_count_by_every_dimension() {
    let (dir, _) = dir_with_sample();
    let text = run(dir.path(), &["audit", "stats"]);
    assert_eq!(text.status, 0, "{text:?}");
    for want in [
        "7 command(s) from 11 record(s), 2026-11-21 09:00:00 to 2026-11-21 09:31:00",
        "By decision\n         2  allowed\n         2  confirmed\n         1  refused\n         1  denied\n         1  aborted\n",
        "By rule\n",
        "By user\n         2  bob\n",
        "By host\n         4  core-1\n",
        "By day\n         7  2026-11-21\n",
        "Confirmations by user\n         1  ops\n         1  root(alice)\n",
        "Most frequent risky commands (medium and above)\n",
        "         1  sudo apt-get upgrade -y\n",
        "Refused, denied and aborted\n",
        "         1  denied: rm -rf /\n",
        "aborted: kubectl delete ns prod\\e[2K",
    ] {
        assert!(text.stdout.contains(want), "{want:?} in\n{}", text.stdout);
    }
    let json = run(
        dir.path(),
        &["audit", "stats", "--json", "--host", "core-1"],
    );
    let stats: Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(stats["commands"], 4);
    assert_eq!(stats["records"], 11);
    assert_eq!(stats["by_decision"]["confirmed"], 2);
    assert_eq!(stats["by_status"]["killed"], 1);
    assert_eq!(stats["by_rule"]["service-restart"], 1);
    assert_eq!(stats["confirmations_by_user"]["root(alice)"], 1);
    assert_eq!(stats["risky_commands"].as_array().unwrap().len(), 2);
}

// ---------------------------------------------------------------- inputs

#[test]
fn several_hosts_logs_merge_by_time_and_stay_distinguishable() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    let a1 = plain("a1", "2026-11-21T10:00:00+00:00", "web-1", "uptime").record();
    let b1 = plain("b1", "2026-11-21T11:00:30+01:00", "web-2", "uptime").record();
    let a2 = plain("a2", "2026-11-21T10:01:00+00:00", "web-1", "df -h").record();
    let b2 = plain("b2", "2026-11-21T10:02:00Z", "web-2", "free -m").record();
    let mut log_a = Log::new();
    log_a
        .push(&a1)
        .push(&a2)
        .push(&outcome("oa2", "2026-11-21T10:03:00Z", &a2, Some(1), None));
    log_a.write(&a);
    let mut log_b = Log::new();
    log_b
        .push(&b1)
        .push(&outcome("ob1", "2026-11-21T10:00:40Z", &b1, Some(0), None))
        .push(&b2);
    log_b.write(&b);
    let run = run(dir.path(), &["audit", "--json", "b.jsonl", "a.jsonl"]);
    let all = rows(&run);
    let got: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["host"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a1", "web-1", "no-outcome"),
            ("b1", "web-2", "ok"),
            ("a2", "web-1", "failed"),
            ("b2", "web-2", "no-outcome")
        ]
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A log rotated three times, as logrotate leaves it with `delaycompress`:
/// `audit.jsonl.2.gz` (oldest), `audit.jsonl.1`, `audit.jsonl`. A command
/// decided before a rotation ends after it.
fn rotated_set(dir: &Path) -> Vec<PathBuf> {
    let d1 = plain("r1", "2026-11-20T23:59:00Z", "core-1", "make backup").record();
    let d2 = plain("r2", "2026-11-21T00:30:00Z", "core-1", "ls").record();
    let d3 = plain("r3", "2026-11-21T23:59:59Z", "core-1", "sleep 10").record();
    let mut oldest = Log::new();
    oldest.push(&d1);
    let mut middle = Log::after(&oldest.prev);
    middle
        .push(&outcome("o-r1", "2026-11-21T00:10:00Z", &d1, Some(0), None))
        .push(&d2)
        .push(&outcome("o-r2", "2026-11-21T00:30:01Z", &d2, Some(0), None))
        .push(&d3);
    let mut current = Log::after(&middle.prev);
    current.push(&outcome("o-r3", "2026-11-22T00:00:09Z", &d3, Some(0), None));
    let paths = [".2.gz", ".1", ""].map(|s| dir.join(format!("audit.jsonl{s}")));
    fs::write(&paths[0], gzip(oldest.text.as_bytes())).unwrap();
    middle.write(&paths[1]);
    current.write(&paths[2]);
    paths.to_vec()
}

#[test]
fn a_rotated_set_with_gz_reads_as_one_log_and_verifies_as_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    rotated_set(dir.path());
    let listed = run(
        dir.path(),
        &[
            "audit",
            "--json",
            "audit.jsonl",
            "audit.jsonl.2.gz",
            "audit.jsonl.1",
        ],
    );
    let got: Vec<(String, String)> = rows(&listed)
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("r1", "ok"), ("r2", "ok"), ("r3", "ok")].map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // Any order on the command line: checked oldest first.
    let verified = run(
        dir.path(),
        &[
            "audit",
            "verify",
            "audit.jsonl",
            "audit.jsonl.1",
            "audit.jsonl.2.gz",
        ],
    );
    assert_eq!(verified.status, 0, "{verified:?}");
    assert!(
        verified.stdout.starts_with(
            "ok: 6 records in 3 file(s), hash chain intact\n  checked in this order: audit.jsonl.2.gz, audit.jsonl.1, audit.jsonl\n"
        ),
        "{verified:?}"
    );
    // Without the oldest file the chain is intact but does not start.
    let partial = run(
        dir.path(),
        &["audit", "verify", "audit.jsonl.1", "audit.jsonl"],
    );
    assert_eq!(partial.status, 0, "{partial:?}");
    assert!(
        partial
            .stdout
            .contains("note: audit.jsonl.1 continues a chain"),
        "{partial:?}"
    );
    // A missing middle file is a broken chain.
    let gap = run(
        dir.path(),
        &["audit", "verify", "audit.jsonl.2.gz", "audit.jsonl"],
    );
    assert_eq!(gap.status, 1, "{gap:?}");
    assert!(
        gap.stdout.starts_with("FAILED: audit.jsonl:line 1: the chain is broken: the first record does not continue the previous file"),
        "{gap:?}"
    );
}

#[test]
fn verify_reads_gz_and_finds_an_edit_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample_log()
        .text
        .replace("\"user\":\"carol\"", "\"user\":\"carl\"");
    fs::write(dir.path().join("audit.jsonl.1.gz"), gzip(text.as_bytes())).unwrap();
    let run = run(dir.path(), &["audit", "verify", "audit.jsonl.1.gz"]);
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("FAILED: audit.jsonl.1.gz:line 10: record was edited"),
        "{run:?}"
    );
}

#[test]
fn separate_logs_verify_as_separate_chains() {
    let dir = tempfile::tempdir().unwrap();
    for host in ["a", "b"] {
        fs::create_dir(dir.path().join(host)).unwrap();
        sample_log().write(&dir.path().join(host).join("audit.jsonl"));
    }
    let run = run(
        dir.path(),
        &["audit", "verify", "a/audit.jsonl", "b/audit.jsonl"],
    );
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(
        run.stdout.matches("ok: 11 records in 1 file(s)").count(),
        2,
        "{run:?}"
    );
}

#[test]
fn stdin_takes_exports_with_headers_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = String::new();
    for (i, line) in sample_log().text.lines().enumerate() {
        match i % 3 {
            0 => input.push_str(&format!("Nov 21 09:00:00 core-1 safe-run[{i}]: {line}\n")),
            1 => input.push_str(&format!(
                "{}\n",
                serde_json::json!({"__REALTIME_TIMESTAMP": "1763715600000000", "MESSAGE": line})
            )),
            _ => input.push_str(&format!("{line}\n")),
        }
    }
    input.push_str("Nov 21 09:00:00 core-1 kernel: something else\n\n{\"v\":1,\"id\":\"torn\n");
    let run = run_stdin(dir.path(), &["audit", "--json", "-"], input.as_bytes());
    let got: Vec<String> = ids(&run)
        .into_iter()
        .map(|id| id[..2].to_string())
        .collect();
    assert_eq!(got, ["d1", "d2", "d3", "d4", "d5", "d6", "d7"]);
    assert!(
        run.stderr
            .contains("skipped 2 line(s) that hold no audit record (the first: -:12)"),
        "{run:?}"
    );
    assert_eq!(rows(&run)[4]["status"], "killed");
}

#[test]
fn malformed_lines_are_skipped_and_counted_never_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("garbage\n\u{0}\u{1}binary\n{\"v\":1}\n");
    text.push_str(&sample_log().text);
    text.push_str(&"x".repeat(100_000));
    text.push('\n');
    text.push_str("{\"v\":1,\"id\":\"cut-off");
    fs::write(dir.path().join("audit.jsonl"), text).unwrap();
    for args in [
        &["audit"][..],
        &["audit", "stats"],
        &["audit", "show", "d1"],
    ] {
        let run = run(dir.path(), args);
        assert_eq!(run.status, 0, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("skipped 5 line(s)"),
            "{args:?}: {run:?}"
        );
    }
    assert_eq!(ids(&run(dir.path(), &["audit", "--json"])).len(), 7);
}

#[test]
fn a_damaged_gz_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let packed = gzip(sample_log().text.as_bytes());
    fs::write(
        dir.path().join("audit.jsonl.2.gz"),
        &packed[..packed.len() / 2],
    )
    .unwrap();
    for args in [
        &["audit", "audit.jsonl.2.gz"][..],
        &["audit", "verify", "audit.jsonl.2.gz"],
    ] {
        let run = run(dir.path(), args);
        assert_ne!(run.status, 0, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains("cannot read audit.jsonl.2.gz")
                || run.stdout.contains("FAILED: audit.jsonl.2.gz"),
            "{args:?}: {run:?}"
        );
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = run(dir.path(), &["audit", "nope.jsonl"]);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(run.stderr.contains("cannot read nope.jsonl"), "{run:?}");
}

#[test]
fn the_configured_log_is_the_default() {
    let (dir, _) = dir_with_sample();
    assert_eq!(
        ids(&run(dir.path(), &["audit", "--json", "--rule", "rm-root"])),
        ["d3-0003"]
    );
    assert_eq!(run(dir.path(), &["audit", "verify"]).status, 0);
}

// ---------------------------------------------------------------- follow

/// Lines of a child's stream, read on a thread so that waiting is bounded.
struct Reader(mpsc::Receiver<String>);

impl Reader {
    fn new(stream: impl Read + Send + 'static) -> Reader {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Reader(rx)
    }

    /// The next line containing `want`, waiting at most 10 s in all.
    fn wait_for(&self, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) if line.contains(want) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line with {want:?}: {e}"),
            }
        }
    }
}

#[test]
fn follow_survives_rename_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut log = sample_log();
    log.write(&path); // already there: not shown again
    // Killed when the test ends, passed or not.
    let mut follow = safe_run(
        dir.path(),
        &[
            "audit",
            "follow",
            "--json",
            "--poll-ms",
            "50",
            "--risk",
            "medium",
            path.to_str().unwrap(),
        ],
    )
    .start();
    let out = Reader::new(follow.child.stdout.take().unwrap());
    let err = Reader::new(follow.child.stderr.take().unwrap());
    err.wait_for("following");

    let risky = |id: &str, ts: &str| {
        D {
            risk: Risk::High,
            rule: Some("power-reboot"),
            decision: Decision::Confirmed,
            reason: Some("kernel update"),
            ..plain(id, ts, "core-1", "reboot")
        }
        .record()
    };
    let f1 = risky("f1", "2026-11-22T10:00:00Z");
    let safe = plain("f-safe", "2026-11-22T10:00:01Z", "core-1", "ls").record();
    log.append_to(
        &path,
        &[
            &f1,
            &safe,
            &outcome("o-f1", "2026-11-22T10:00:02Z", &f1, Some(0), None),
        ],
    );
    let row: Value = serde_json::from_str(&out.wait_for("\"f1\"")).unwrap();
    assert_eq!(
        (row["status"].as_str(), row["exit"].as_i64()),
        (Some("ok"), Some(0))
    );

    // logrotate: rename, create, and the writers go on in the new file.
    fs::rename(&path, dir.path().join("audit.jsonl.1")).unwrap();
    let f2 = risky("f2", "2026-11-22T10:01:00Z");
    let mut new = Log::after(&log.prev);
    new.push(&f2);
    new.write(&path);
    let row: Value = serde_json::from_str(&out.wait_for("\"f2\"")).unwrap();
    // Still running after a second: shown as such, then again when it ends.
    assert_eq!(row["status"], "running");
    new.append_to(
        &path,
        &[&outcome("o-f2", "2026-11-22T10:05:00Z", &f2, None, Some(9))],
    );
    let row: Value = serde_json::from_str(&out.wait_for("\"f2\"")).unwrap();
    assert_eq!(
        (row["status"].as_str(), row["late"].as_bool()),
        (Some("killed"), Some(true))
    );

    // Truncated in place (as copytruncate would): noticed when the file is
    // shorter than what was read, then read again from the start.
    fs::write(&path, "").unwrap();
    err.wait_for("was truncated");
    let mut again = Log::new();
    let f3 = risky("f3", "2026-11-22T10:10:00Z");
    again
        .push(&f3)
        .push(&outcome("o-f3", "2026-11-22T10:10:01Z", &f3, Some(1), None));
    again.write(&path);
    let row: Value = serde_json::from_str(&out.wait_for("\"f3\"")).unwrap();
    assert_eq!(row["status"], "failed");
    assert!(follow.child.try_wait().unwrap().is_none(), "follow exited");
}

#[test]
fn follow_reads_stdin_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_stdin(
        dir.path(),
        &["audit", "-f", "--decision", "denied", "-"],
        sample_log().text.as_bytes(),
    );
    assert_eq!(run.status, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(lines[0].starts_with("TIME"), "{run:?}");
    assert!(lines[1].contains("rm -rf /"), "{run:?}");
}

// ---------------------------------------------------------------- rotation

/// The writer the product uses (`append_with_timeout`, a fresh open per
/// record, as every `safe-run` process does) after logrotate's rename +
/// create. The rotation rule (docs/AUDIT.md) says the new file's first
/// record continues the rotated file's chain.
#[test]
fn logrotate_rename_and_create_keep_one_chain_for_fresh_writers() {
    use safe_run::audit::log::append_with_timeout;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let wait = Duration::from_secs(2);
    for i in 0..3 {
        let r = plain(&format!("x{i}"), "2026-11-21T10:00:00Z", "h", "ls").record();
        append_with_timeout(&path, &r, false, wait).unwrap();
    }
    fs::rename(&path, dir.path().join("audit.jsonl.1")).unwrap();
    fs::File::create(&path).unwrap(); // logrotate's `create`
    let r = plain("y0", "2026-11-21T10:00:01Z", "h", "ls").record();
    append_with_timeout(&path, &r, false, wait).unwrap();
    let run = run(
        dir.path(),
        &["audit", "verify", "audit.jsonl", "audit.jsonl.1"],
    );
    assert_eq!(run.status, 0, "{run:?}");
}

/// Until the gap above is closed, verify says what happened.
#[test]
fn verify_explains_a_chain_restarted_by_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = Log::new();
    old.push(&plain("x0", "2026-11-21T10:00:00Z", "h", "ls").record());
    old.write(&dir.path().join("audit.jsonl.1"));
    let mut new = Log::new();
    new.push(&plain("y0", "2026-11-21T10:00:01Z", "h", "ls").record());
    new.write(&dir.path().join("audit.jsonl"));
    let run = run(
        dir.path(),
        &["audit", "verify", "audit.jsonl", "audit.jsonl.1"],
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.stdout
            .contains("audit.jsonl: starts a new chain instead of continuing audit.jsonl.1"),
        "{run:?}"
    );
}

/// The shipped logrotate snippet, run by the real logrotate on a temp
/// directory (needs logrotate: `common::tools::require_tool`).
#[test]
fn the_logrotate_snippet_rotates_into_a_verifiable_set() {
    let Some(logrotate) = require_tool("logrotate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("log");
    fs::create_dir(&logs).unwrap();
    let path = logs.join("audit.jsonl");
    let snippet = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/logrotate/safe-run"),
    )
    .unwrap();
    // The same rules on the temp directory, run as whoever runs the test.
    let uid = nix::unistd::Uid::current();
    let user = nix::unistd::User::from_uid(uid).unwrap().unwrap().name;
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::current())
        .unwrap()
        .unwrap()
        .name;
    let conf = snippet
        .replace("/var/log/safe-run/audit.jsonl", &path.display().to_string())
        .replace(
            "create 0600 root root",
            &format!("create 0600 {user} {group}"),
        )
        .replace("su root root", &format!("su {user} {group}"));
    let conf_path = dir.path().join("logrotate.conf");
    fs::write(&conf_path, conf).unwrap();
    let state = dir.path().join("state");

    // Three rotations, with records before each; a long-lived writer (an
    // interactive shell's open log) carries the chain across each one.
    let log = safe_run::audit::log::AuditLog::open(&path).unwrap();
    for round in 0..3 {
        for i in 0..2 {
            let r = plain(&format!("r{round}-{i}"), "2026-11-21T10:00:00Z", "h", "ls").record();
            log.append(&r, false).unwrap();
        }
        let mut rotate = Command::new(&logrotate);
        rotate
            .arg("--force")
            .arg("--state")
            .arg(&state)
            .arg(&conf_path);
        let rotated = crate::common::bin::run(rotate);
        assert_eq!(rotated.status, 0, "logrotate: {rotated:?}");
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            0,
            "a new, empty log after each rotation"
        );
    }
    log.append(
        &plain("last", "2026-11-21T10:00:00Z", "h", "ls").record(),
        false,
    )
    .unwrap();
    let mut names: Vec<String> = fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "audit.jsonl",
            "audit.jsonl.1",
            "audit.jsonl.2.gz",
            "audit.jsonl.3.gz"
        ]
    );
    let mut args = vec!["audit".to_string(), "verify".into()];
    args.extend(names.iter().map(|n| format!("log/{n}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let verified = run(dir.path(), &args);
    assert_eq!(verified.status, 0, "{verified:?}");
    assert!(
        verified.stdout.starts_with("ok: 7 records in 4 file(s)"),
        "{verified:?}"
    );
    let listed = run(
        dir.path(),
        &[
            "audit",
            "--json",
            "log/audit.jsonl.3.gz",
            "log/audit.jsonl.2.gz",
            "log/audit.jsonl.1",
            "log/audit.jsonl",
        ],
    );
    assert_eq!(ids(&listed).len(), 7);
}

// ---------------------------------------------------------------- bench

/// Writes a large log for `scripts/bench-audit.sh`:
/// `SAFE_RUN_BENCH_LOG=PATH SAFE_RUN_BENCH_RECORDS=N cargo test --release
/// --test audit -- --ignored --exact review::generate_bench_log`.
#[test]
#[ignore = "a generator for scripts/bench-audit.sh"]
fn generate_bench_log() {
    let path = PathBuf::from(std::env::var("SAFE_RUN_BENCH_LOG").expect("SAFE_RUN_BENCH_LOG"));
    let records: usize = std::env::var("SAFE_RUN_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let file = fs::File::create(&path).unwrap();
    let mut out = std::io::BufWriter::new(file);
    let mut prev = GENESIS.to_string();
    for record in bench_records(records) {
        let line = record::seal(&record, &prev);
        prev = record::hash_of_line(line.as_bytes()).unwrap();
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

/// `n` records of a busy fleet: about a command every 1.5 s over the weeks
/// before 2026-11-21, 8 hosts, 20 users, mostly safe lines; every command
/// that runs gets its outcome right after it.
fn bench_records(n: usize) -> impl Iterator<Item = Record> {
    const LINES: &[(&str, Risk, Option<&str>)] = &[
        ("ls -la /var/log", Risk::None, None),
        ("systemctl status nginx", Risk::None, None),
        (
            "journalctl -u kubelet --since '1 hour ago' | grep -i error",
            Risk::None,
            None,
        ),
        ("df -h", Risk::None, None),
        ("kubectl get pods -n prod -o wide", Risk::None, None),
        ("tail -n 100 /var/log/syslog", Risk::None, None),
        ("cat /etc/hosts", Risk::None, None),
        ("docker ps -a", Risk::None, None),
        ("apt-get update", Risk::Low, Some("apt-update")),
        (
            "sudo systemctl restart nginx",
            Risk::Medium,
            Some("service-restart"),
        ),
        (
            "kubectl -n prod delete pod web-7d9f8-abcde",
            Risk::Medium,
            Some("kubectl-delete"),
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
    let mut i = 0usize;
    let mut pending: Option<Record> = None;
    let mut count = 0usize;
    std::iter::from_fn(move || {
        if count == n {
            return None;
        }
        count += 1;
        if let Some(decision) = pending.take() {
            let ts = (start + jiff::SignedDuration::from_millis(i as i64 * 1500 + 700)).to_string();
            return Some(Record::outcome(
                format!("o{i:09}"),
                ts,
                &decision,
                Some(if i.is_multiple_of(17) { 1 } else { 0 }),
                None,
                700,
            ));
        }
        i += 1;
        // Mostly safe lines; one in ten from the risky end of the list.
        let pick = if i.is_multiple_of(10) {
            8 + (i / 10) % 6
        } else {
            i % 8
        };
        let (line, risk, rule) = LINES[pick];
        let decision = match (risk, i % 7) {
            (Risk::None | Risk::Low, _) => Decision::Allowed,
            (_, 0) => Decision::Refused,
            (_, 1) => Decision::Aborted,
            (Risk::Critical, _) => Decision::Denied,
            _ => Decision::Confirmed,
        };
        let ts = (start + jiff::SignedDuration::from_millis(i as i64 * 1500)).to_string();
        let user = format!("user{:02}", i % 20);
        let d = D {
            user: &user,
            risk,
            rule,
            decision,
            reason: (decision == Decision::Confirmed).then_some("CHG-4411 planned maintenance"),
            ..plain(
                "",
                &ts,
                [
                    "core-1", "core-2", "core-3", "web-1", "web-2", "web-3", "db-1", "db-2",
                ][i % 8],
                line,
            )
        };
        let mut record = d.record();
        record.id = format!("d{i:09}");
        if decision.runs() {
            pending = Some(record.clone());
        }
        Some(record)
    })
}
