//! Running a rule's dry-run command to show what would change, and
//! summarising what it printed into the few facts that answer the
//! operator's real question.
//!
//! A preview (`apt-get -s upgrade`, `kubeadm certs check-expiration`) runs
//! as an argv without a shell, with stdin closed, under a timeout, and its
//! output is cut to a few lines. The pipeline checks that the preview
//! itself classifies as allow before calling this. A preview that fails,
//! hangs or cannot start is reported and never blocks or approves anything.
//!
//! This file is the runner, the only part with I/O (it also reads
//! `/proc/self/mounts` for the summaries that need it). The summaries are
//! pure parsers, one file each, chosen by the preview command by
//! [`summarise`]: text and the command that was hit in, facts out.
//!
//! | preview | file | says |
//! | --- | --- | --- |
//! | `apt-get -s …`, `apt -s …` | `apt` | packages changed, new major versions, the host's critical packages, what restarts |
//! | `yum … --assumeno`, `dnf … --assumeno` | `dnf` | the same, from dnf's or yum's transaction table |
//! | `kubeadm certs check-expiration` | `pki` | what the command replaces, whether the CA is touched, when the CA expires |
//! | `kubectl get nodes`, `oc get nodes` | `nodes` | the peers' state; this node as the last Ready one |
//! | `xfs_repair -n`, `fsck -n`, `e2fsck -n` | `fsrepair` | mounted or not, problems found, what `-L`/`-y` throw away |
//! | `pg_lsclusters`, `patronictl list` | `dbcluster` | the leader, the replicas' lag, whether this is the leader |
//!
//! A summary only ever adds lines above the raw output: it cannot lower a
//! risk, skip a prompt or hide what the tool printed.

mod apt;
mod dbcluster;
mod dnf;
mod fact;
mod fsrepair;
mod nodes;
mod pkg;
mod pki;
mod version;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use fact::{Context, Level, Summary};
pub use pkg::DEFAULT_CRITICAL;

/// Most bytes read from each of a preview's stdout and stderr.
const MAX_READ: u64 = 1 << 20;

/// What a preview showed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreviewOutput {
    /// The first lines of stdout and stderr together.
    pub lines: Vec<String>,
    /// Lines left out.
    pub more: usize,
    /// How it ended, when not cleanly: "timed out after 10 s", "exit 100".
    pub problem: Option<String>,
    /// All it printed (stdout, then stderr): what a summary reads.
    pub text: String,
    /// It ran to its end and all its output was read. A preview that did
    /// not start, was stopped or killed, or printed more than is read, is
    /// not summarised (a partial list would look like a short one).
    pub complete: bool,
    /// `/proc/self/mounts`, read when this preview's summary needs it.
    pub mounts: Option<String>,
}

/// Cuts text to `max` lines, counting the rest.
pub fn cut(text: &str, max: usize) -> (Vec<String>, usize) {
    let all: Vec<&str> = text.lines().collect();
    let shown = all.iter().take(max).map(|l| (*l).to_string()).collect();
    (shown, all.len().saturating_sub(max))
}

/// Runs `argv` for at most `timeout` and returns at most `max_lines` lines.
pub fn run_preview(argv: &[String], timeout: Duration, max_lines: usize) -> PreviewOutput {
    let problem = |p: String| PreviewOutput {
        problem: Some(p),
        ..PreviewOutput::default()
    };
    let Some((program, args)) = argv.split_first() else {
        return problem("empty preview command".into());
    };
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("LC_ALL", "C")
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return problem(format!("could not start {program}: {e}")),
    };
    // Read both streams on threads so a chatty preview cannot block on a
    // full pipe while we wait for it.
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.by_ref().take(MAX_READ + 1).read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let deadline = Instant::now() + timeout;
    let mut problem_text = None;
    let mut complete = false;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                complete = status.code().is_some();
                if !status.success() {
                    problem_text = Some(match status.code() {
                        Some(c) => format!("the preview exited with status {c}"),
                        None => "the preview was killed by a signal".to_string(),
                    });
                }
                break;
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                problem_text = Some(format!(
                    "the preview did not finish within {} s and was stopped",
                    timeout.as_secs()
                ));
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                problem_text = Some(format!("lost track of the preview: {e}"));
                break;
            }
        }
    }
    let mut text = String::new();
    for r in readers {
        match r.join() {
            Ok(mut buf) => {
                if buf.len() as u64 > MAX_READ {
                    buf.truncate(MAX_READ as usize);
                    complete = false;
                }
                text.push_str(&String::from_utf8_lossy(&buf));
            }
            Err(_) => complete = false,
        }
    }
    let (lines, more) = cut(&text, max_lines);
    let mounts = if wants_mounts(argv) {
        std::fs::read_to_string("/proc/self/mounts").ok()
    } else {
        None
    };
    PreviewOutput {
        lines,
        more,
        problem: problem_text,
        text,
        complete,
        mounts,
    }
}

/// The summary of a preview's output, when a summariser knows the preview
/// command; `None` when none does (the raw lines are all there is).
/// `command` is the argv of the command the finding hit (`xfs_repair -L
/// /dev/sdb1`), since what it will do depends on its flags. `ctx` gives
/// the host and the critical packages; the mounts come with the output.
pub fn summarise(
    preview: &[String],
    command: &[String],
    out: &PreviewOutput,
    ctx: &Context,
) -> Option<Summary> {
    let kind = Kind::of(preview)?;
    if !out.complete {
        return Some(Summary::Failed(
            "the preview did not run to its end".to_string(),
        ));
    }
    if out.text.trim().is_empty() {
        return Some(Summary::Failed("the preview printed nothing".to_string()));
    }
    let ctx = Context {
        mounts: out.mounts.as_deref(),
        ..*ctx
    };
    let found = match kind {
        Kind::Apt => apt::summarise(&out.text, command, &ctx),
        Kind::Dnf => dnf::summarise(&out.text, command, &ctx),
        Kind::Pki => pki::summarise(&out.text, command, &ctx),
        Kind::Nodes => nodes::summarise(&out.text, command, &ctx),
        Kind::XfsRepair => fsrepair::summarise_xfs(&out.text, command, &ctx),
        Kind::E2fsck => fsrepair::summarise_e2fsck(&out.text, command, &ctx),
        Kind::PgLsClusters => dbcluster::summarise_pg_lsclusters(&out.text, command, &ctx),
        Kind::Patroni => dbcluster::summarise_patroni(&out.text, command, &ctx),
    };
    Some(match found {
        Ok(facts) if facts.is_empty() => Summary::Failed("nothing to report".to_string()),
        Ok(facts) => Summary::Facts(fact::loud_first(facts)),
        Err(why) => Summary::Failed(why),
    })
}

/// Does this preview's summary want the mount table?
fn wants_mounts(preview: &[String]) -> bool {
    matches!(Kind::of(preview), Some(Kind::XfsRepair | Kind::E2fsck))
}

/// The summariser a preview command gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Apt,
    Dnf,
    Pki,
    Nodes,
    XfsRepair,
    E2fsck,
    PgLsClusters,
    Patroni,
}

impl Kind {
    fn of(preview: &[String]) -> Option<Kind> {
        let args = preview.get(1..).unwrap_or_default();
        let has = |word: &str| args.iter().any(|a| a == word);
        match fact::program(preview) {
            "apt-get" | "apt" if apt::simulates(args) => Some(Kind::Apt),
            "yum" | "dnf" | "dnf-3" | "dnf4" | "dnf5" | "microdnf" if has("--assumeno") => {
                Some(Kind::Dnf)
            }
            "kubeadm" if has("check-expiration") => Some(Kind::Pki),
            "kubectl" | "oc" if has("get") && (has("nodes") || has("node") || has("no")) => {
                Some(Kind::Nodes)
            }
            "xfs_repair" if has("-n") => Some(Kind::XfsRepair),
            "fsck" | "e2fsck" | "fsck.ext2" | "fsck.ext3" | "fsck.ext4" if has("-n") => {
                Some(Kind::E2fsck)
            }
            "pg_lsclusters" => Some(Kind::PgLsClusters),
            "patronictl" if has("list") => Some(Kind::Patroni),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_string()).collect()
    }

    #[test]
    fn the_summariser_is_chosen_by_the_preview_command() {
        let kind = |w: &[&str]| Kind::of(&argv(w));
        assert_eq!(kind(&["apt-get", "-s", "upgrade"]), Some(Kind::Apt));
        assert_eq!(kind(&["apt-get", "-qs", "dist-upgrade"]), Some(Kind::Apt));
        assert_eq!(kind(&["apt-get", "upgrade"]), None);
        assert_eq!(
            kind(&["yum", "--assumeno", "--setopt=debuglevel=3", "upgrade"]),
            Some(Kind::Dnf)
        );
        assert_eq!(kind(&["dnf", "remove", "--assumeno", "x"]), Some(Kind::Dnf));
        assert_eq!(kind(&["yum", "check-update"]), None);
        assert_eq!(
            kind(&["kubeadm", "certs", "check-expiration"]),
            Some(Kind::Pki)
        );
        assert_eq!(kind(&["kubectl", "get", "nodes"]), Some(Kind::Nodes));
        assert_eq!(kind(&["oc", "get", "nodes"]), Some(Kind::Nodes));
        assert_eq!(kind(&["kubectl", "get", "pods"]), None);
        assert_eq!(
            kind(&["xfs_repair", "-n", "/dev/sdb1"]),
            Some(Kind::XfsRepair)
        );
        assert_eq!(kind(&["fsck", "-n", "/dev/sdb1"]), Some(Kind::E2fsck));
        assert_eq!(kind(&["/sbin/pg_lsclusters"]), Some(Kind::PgLsClusters));
        assert_eq!(kind(&["patronictl", "list"]), Some(Kind::Patroni));
        assert_eq!(kind(&["systemctl", "status", "docker"]), None);
    }

    #[test]
    fn a_preview_that_did_not_finish_or_printed_nothing_is_not_summarised() {
        let ctx = Context::default();
        let cmd = argv(&["apt-get", "upgrade"]);
        let preview = argv(&["apt-get", "-s", "upgrade"]);
        let started_not = run_preview(
            &argv(&["/nonexistent/apt-get", "-s", "upgrade"]),
            Duration::from_secs(1),
            5,
        );
        assert_eq!(
            summarise(&preview, &cmd, &started_not, &ctx),
            Some(Summary::Failed("the preview did not run to its end".into()))
        );
        let silent = PreviewOutput {
            complete: true,
            ..PreviewOutput::default()
        };
        assert_eq!(
            summarise(&preview, &cmd, &silent, &ctx),
            Some(Summary::Failed("the preview printed nothing".into()))
        );
        // A preview no summariser knows gets none.
        assert_eq!(summarise(&argv(&["free", "-h"]), &cmd, &silent, &ctx), None);
    }

    #[test]
    fn the_whole_output_is_kept_for_the_summary_and_mounts_only_when_needed() {
        let out = run_preview(&argv(&["seq", "1", "30"]), Duration::from_secs(5), 3);
        assert!(out.complete);
        assert_eq!(out.text.lines().count(), 30);
        assert_eq!(out.mounts, None);
        // A preview that exits non-zero (a check that found problems) is
        // complete: its output is summarised.
        let out = run_preview(
            &argv(&["sh", "-c", "echo found; exit 4"]),
            Duration::from_secs(5),
            3,
        );
        assert!(out.complete);
        assert_eq!(
            out.problem.as_deref(),
            Some("the preview exited with status 4")
        );
        // A filesystem check brings the mount table for its summary.
        let out = run_preview(
            &argv(&["e2fsck", "-n", "/nonexistent/device"]),
            Duration::from_secs(5),
            3,
        );
        assert!(out.mounts.is_some());
        let slow = run_preview(&argv(&["sleep", "5"]), Duration::from_millis(100), 5);
        assert!(!slow.complete);
    }

    #[test]
    fn cut_counts_the_lines_left_out() {
        let (shown, more) = cut("a\nb\nc\nd\n", 2);
        assert_eq!(shown, vec!["a", "b"]);
        assert_eq!(more, 2);
        assert_eq!(cut("a", 5), (vec!["a".to_string()], 0));
    }

    #[test]
    fn a_missing_preview_program_is_reported_not_fatal() {
        let out = run_preview(
            &["/nonexistent/preview-tool".into()],
            Duration::from_secs(1),
            5,
        );
        assert!(out.problem.unwrap().contains("could not start"));
    }

    #[test]
    fn a_slow_preview_is_stopped() {
        let out = run_preview(&["sleep".into(), "5".into()], Duration::from_millis(100), 5);
        assert!(out.problem.unwrap().contains("did not finish"));
    }

    #[test]
    fn output_is_captured_and_cut() {
        let out = run_preview(
            &["seq".into(), "1".into(), "30".into()],
            Duration::from_secs(5),
            20,
        );
        assert_eq!(out.lines.len(), 20);
        assert_eq!(out.more, 10);
        assert_eq!(out.problem, None);
    }
}
