//! Running a rule's dry-run command to show what would change.
//!
//! A preview (`apt-get -s upgrade`, `kubeadm certs check-expiration`) runs
//! as an argv without a shell, with stdin closed, under a timeout, and its
//! output is cut to a few lines. The pipeline checks that the preview
//! itself classifies as allow before calling this. A preview that fails,
//! hangs or cannot start is reported and never blocks or approves anything.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a preview showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviewOutput {
    /// The first lines of stdout and stderr together.
    pub lines: Vec<String>,
    /// Lines left out.
    pub more: usize,
    /// How it ended, when not cleanly: "timed out after 10 s", "exit 100".
    pub problem: Option<String>,
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
        lines: Vec::new(),
        more: 0,
        problem: Some(p),
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
            let _ = r.by_ref().take(1 << 20).read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let deadline = Instant::now() + timeout;
    let mut problem_text = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
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
        if let Ok(buf) = r.join() {
            text.push_str(&String::from_utf8_lossy(&buf));
        }
    }
    let (lines, more) = cut(&text, max_lines);
    PreviewOutput {
        lines,
        more,
        problem: problem_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
