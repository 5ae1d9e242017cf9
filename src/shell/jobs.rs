//! The session's jobs, followed for the audit log: which line started each
//! one, and how and when it ended.
//!
//! Bash runs the jobs (`shell::bash`); after every line and at every
//! prompt it reports `jobs -l`. A job that appears during a line belongs to
//! that line's decision, whose outcome then waits for the job: it is
//! written when the job ends — its status, and the time from the line's
//! start to when the end was seen — rather than when the line returned
//! (`sleep 30 &` returns at once). A job that ends in the foreground
//! (`fg`, `wait`) gets the status of the line that ran it.
//!
//! Pure apart from the clock: report text in, finished jobs out. The one
//! edge is [`EndWatch`]: a job that ends while the prompt waits is only
//! reported by bash at the next prompt, so a thread notes when each job's
//! process went away, and the outcome's duration ends there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A shell's `$?` as the audit log records it: an exit code, or the
/// signal for 129–159 (128+N, as bash reports a job killed by N).
pub fn split_status(status: i32) -> (Option<i32>, Option<i32>) {
    if (129..160).contains(&status) {
        (None, Some(status - 128))
    } else {
        (Some(status), None)
    }
}

/// A job's state as `jobs -l` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    Running,
    Stopped,
    /// Ended: an exit code, or the signal that killed it (either may be
    /// unknown).
    Ended {
        exit: Option<i32>,
        signal: Option<i32>,
    },
}

/// One `[N]± PID STATE COMMAND` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLine {
    pub number: u32,
    pub pid: i32,
    pub state: JobState,
    pub command: String,
}

/// glibc's signal descriptions (bash prints them for a killed job).
const SIGNALS: &[(&str, i32)] = &[
    ("Hangup", 1),
    ("Interrupt", 2),
    ("Quit", 3),
    ("Illegal instruction", 4),
    ("Trace/breakpoint trap", 5),
    ("Aborted", 6),
    ("Bus error", 7),
    ("Floating point exception", 8),
    ("Killed", 9),
    ("User defined signal 1", 10),
    ("Segmentation fault", 11),
    ("User defined signal 2", 12),
    ("Broken pipe", 13),
    ("Alarm clock", 14),
    ("Terminated", 15),
];

/// Parses `jobs -l` (the lines of a pipeline's other processes are
/// skipped: a job is followed by its first process).
pub fn parse_jobs(text: &str) -> Vec<JobLine> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix('[') else {
            continue;
        };
        let Some((number, rest)) = rest.split_once(']') else {
            continue;
        };
        let Ok(number) = number.parse() else { continue };
        let rest = rest.trim_start_matches(['+', '-']).trim_start();
        // `jobs -l` has the pid; bash's own notices do not.
        let (pid, rest) = match rest.split_once(' ') {
            Some((p, r)) if p.bytes().all(|b| b.is_ascii_digit()) => {
                (p.parse().unwrap_or(0), r.trim_start())
            }
            _ => (0, rest),
        };
        let (state, command) = if let Some(r) = rest.strip_prefix("Running") {
            (JobState::Running, r)
        } else if let Some(r) = rest.strip_prefix("Stopped") {
            // `Stopped(SIGTTIN)` and the like.
            let r = r.split_once(' ').map_or("", |(_, c)| c);
            (JobState::Stopped, r)
        } else if let Some(r) = rest.strip_prefix("Done") {
            (
                JobState::Ended {
                    exit: Some(0),
                    signal: None,
                },
                r,
            )
        } else if let Some(r) = rest.strip_prefix("Exit ") {
            let (code, r) = r.split_once(' ').unwrap_or((r, ""));
            (
                JobState::Ended {
                    exit: code.trim().parse().ok(),
                    signal: None,
                },
                r,
            )
        } else if let Some((name, sig)) = SIGNALS.iter().find(|(n, _)| rest.starts_with(n)) {
            let r = &rest[name.len()..];
            let r = r.trim_start_matches(" (core dumped)");
            (
                JobState::Ended {
                    exit: None,
                    signal: Some(*sig),
                },
                r,
            )
        } else {
            // Some other way of ending, spelled in another language.
            let r = rest.split_once("  ").map_or("", |(_, c)| c);
            (
                JobState::Ended {
                    exit: None,
                    signal: None,
                },
                r,
            )
        };
        let command = command.trim();
        let command = command
            .rsplit_once("  (wd: ")
            .map_or(command, |(c, _)| c)
            .trim();
        out.push(JobLine {
            number,
            pid,
            state,
            command: command.to_string(),
        });
    }
    out
}

/// A job being followed.
#[derive(Clone, Debug)]
pub struct Tracked {
    pub number: u32,
    pub pid: i32,
    /// The decision of the line that started it (none: not logged).
    pub decision: Option<String>,
    pub started: Instant,
    pub command: String,
}

/// A job that has ended, with what to log and show.
#[derive(Clone, Debug)]
pub struct Finished {
    pub job: Tracked,
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    pub duration: Duration,
    /// The line to show, as bash would: `[1]+  Done    sleep 30`.
    pub notice: String,
}

/// The line during which a report was taken.
#[derive(Clone, Copy, Debug)]
pub struct During<'a> {
    pub decision: Option<&'a str>,
    pub started: Instant,
    pub status: i32,
}

/// Notes when the followed jobs' processes go away (checked every 200 ms
/// in `/proc`; bash reaps its children at once, so a gone process is an
/// ended job).
#[derive(Clone, Debug, Default)]
pub struct EndWatch {
    watched: Arc<Mutex<Vec<i32>>>,
    ended: Arc<Mutex<HashMap<i32, Instant>>>,
    started: Arc<std::sync::atomic::AtomicBool>,
}

impl EndWatch {
    /// Follows `pids` from now on (the thread starts with the first).
    pub fn watch(&self, pids: &[i32]) {
        if let Ok(mut w) = self.watched.lock() {
            *w = pids.to_vec();
        }
        if pids.is_empty() {
            return;
        }
        let (watched, ended) = (Arc::clone(&self.watched), Arc::clone(&self.ended));
        if !self.started.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let _ = std::thread::Builder::new()
                .name("job-ends".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_millis(200));
                        let pids = watched.lock().map(|w| w.clone()).unwrap_or_default();
                        for pid in pids {
                            let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
                            if gone && let Ok(mut e) = ended.lock() {
                                e.entry(pid).or_insert_with(Instant::now);
                            }
                        }
                    }
                });
        }
    }

    /// When `pid` was seen gone, if it was.
    pub fn ended_at(&self, pid: i32) -> Option<Instant> {
        self.ended.lock().ok()?.remove(&pid)
    }
}

/// The jobs followed so far.
#[derive(Debug, Default)]
pub struct Jobs {
    pub tracked: Vec<Tracked>,
    pub watch: EndWatch,
}

impl Jobs {
    /// Takes a report in: new jobs are followed (belonging to `during`'s
    /// line), ended and vanished ones are returned.
    /// `status_of` asks bash what it remembers of a process gone from its
    /// table (`wait PID`).
    /// `notices` is what bash printed on its own before the report: the
    /// jobs it saw end and then forgot.
    pub fn update(
        &mut self,
        report: &str,
        notices: &str,
        during: Option<During<'_>>,
        status_of: &mut dyn FnMut(i32) -> Option<i32>,
    ) -> Vec<Finished> {
        let now = Instant::now();
        let lines: Vec<JobLine> = parse_jobs(report)
            .into_iter()
            .filter(|j| j.pid > 0)
            .collect();
        let notices = parse_jobs(notices);
        let mut finished = Vec::new();
        for j in &lines {
            if !self.tracked.iter().any(|t| t.pid == j.pid) {
                self.tracked.push(Tracked {
                    number: j.number,
                    pid: j.pid,
                    decision: during.and_then(|d| d.decision.map(str::to_string)),
                    started: during.map_or(now, |d| d.started),
                    command: j.command.clone(),
                });
            }
        }
        let mut kept = Vec::new();
        for t in self.tracked.drain(..) {
            let seen = lines.iter().find(|j| j.pid == t.pid);
            let noticed = notices.iter().find_map(|n| match n.state {
                JobState::Ended { exit, signal } if n.number == t.number => Some((exit, signal)),
                _ => None,
            });
            let ended = match seen.map(|j| j.state) {
                Some(JobState::Ended { exit, signal }) => Some((exit, signal, "")),
                Some(_) => None,
                None if noticed.is_some() => noticed.map(|(e, s)| (e, s, "")),
                // Gone from the table without a notice: `wait` or `fg`
                // took it. Bash remembers the status of what ran in the
                // background; a job brought to the foreground by the line
                // just run ended with that line's status.
                None => Some(match status_of(t.pid).or(during.map(|d| d.status)) {
                    Some(status) => {
                        let (e, s) = split_status(status);
                        (e, s, "")
                    }
                    None => (None, None, ""),
                }),
            };
            match ended {
                None => kept.push(t),
                Some((exit, signal, _)) => {
                    let state = match (exit, signal) {
                        (Some(0), _) => "Done".to_string(),
                        (Some(n), _) => format!("Exit {n}"),
                        (None, Some(s)) => SIGNALS
                            .iter()
                            .find(|(_, n)| *n == s)
                            .map_or(format!("Signal {s}"), |(name, _)| (*name).to_string()),
                        (None, None) => "Done".to_string(),
                    };
                    let notice = format!("[{}]   {state:<24}{}", t.number, t.command);
                    let end = self.watch.ended_at(t.pid).unwrap_or(now);
                    finished.push(Finished {
                        duration: end.saturating_duration_since(t.started),
                        exit,
                        signal,
                        notice,
                        job: t,
                    });
                }
            }
        }
        self.tracked = kept;
        let pids: Vec<i32> = self.tracked.iter().map(|t| t.pid).collect();
        self.watch.watch(&pids);
        // Only the ones seen ending get a notice (bash shows none for a
        // job brought to the foreground).
        for f in &mut finished {
            if !lines.iter().any(|j| j.pid == f.job.pid) {
                f.notice.clear();
            }
        }
        finished
    }

    /// Whether a job is stopped, from the last report.
    pub fn any_stopped(report: &str) -> bool {
        parse_jobs(report)
            .iter()
            .any(|j| j.state == JobState::Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_notes_when_a_process_is_gone() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = i32::try_from(child.id()).expect("pid");
        child.wait().expect("reaped");
        let watch = EndWatch::default();
        watch.watch(&[pid]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let seen = loop {
            if let Some(at) = watch.ended_at(pid) {
                break Some(at);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(seen.is_some(), "the end of {pid} was not seen");
    }

    #[test]
    fn jobs_l_is_read() {
        let text = "[1]   4242 Running                 sleep 30 &\n[2]-  4250 Stopped                 vim x\n[3]+  4260 Exit 3                  false  (wd: /tmp)\n[4]   4270 Terminated              sleep 9\n[5]   4280 Done                    true\n[6]   4290 Segmentation fault (core dumped) ./crash\n[7]   4300 Running                 a &\n      4301                       | b &\n";
        let jobs = parse_jobs(text);
        assert_eq!(jobs.len(), 7);
        assert_eq!(jobs[0].state, JobState::Running);
        assert_eq!(jobs[0].command, "sleep 30 &");
        assert_eq!(jobs[1].state, JobState::Stopped);
        assert_eq!(
            jobs[2].state,
            JobState::Ended {
                exit: Some(3),
                signal: None
            }
        );
        assert_eq!(jobs[2].command, "false");
        assert_eq!(
            jobs[3].state,
            JobState::Ended {
                exit: None,
                signal: Some(15)
            }
        );
        assert_eq!(jobs[5].command, "./crash");
        assert_eq!(jobs[6].pid, 4300);
    }

    #[test]
    fn a_job_belongs_to_the_line_that_started_it_and_ends_once() {
        let mut jobs = Jobs::default();
        let started = Instant::now();
        let during = During {
            decision: Some("d1"),
            started,
            status: 0,
        };
        let mut unknown = |_: i32| None;
        assert!(
            jobs.update(
                "[1]+  10 Running   sleep 30 &\n",
                "",
                Some(during),
                &mut unknown
            )
            .is_empty()
        );
        assert_eq!(jobs.tracked[0].decision.as_deref(), Some("d1"));
        let done = jobs.update("[1]+  10 Terminated   sleep 30\n", "", None, &mut unknown);
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].exit, done[0].signal), (None, Some(15)));
        assert!(done[0].notice.contains("Terminated"), "{}", done[0].notice);
        assert!(jobs.tracked.is_empty());
        // Brought to the foreground and ended there: the line's status.
        jobs.update(
            "[1]+  11 Stopped   sleep 5\n",
            "",
            Some(during),
            &mut unknown,
        );
        let fg = During {
            decision: Some("d2"),
            started,
            status: 130,
        };
        let done = jobs.update("", "", Some(fg), &mut unknown);
        assert_eq!((done[0].exit, done[0].signal), (None, Some(2)));
        // What bash remembers comes first (`kill %1; wait; echo`).
        jobs.update(
            "[1]+  12 Running   sleep 5 &\n",
            "",
            Some(during),
            &mut unknown,
        );
        let done = jobs.update("", "", Some(fg), &mut |_| Some(143));
        assert_eq!((done[0].exit, done[0].signal), (None, Some(15)));
        // Bash's own notice of the end, printed before the report.
        jobs.update(
            "[2]+  13 Running   sleep 5 &\n",
            "",
            Some(during),
            &mut unknown,
        );
        let done = jobs.update("", "[2]+  Killed   sleep 5\n", Some(fg), &mut unknown);
        assert_eq!((done[0].exit, done[0].signal), (None, Some(9)));
        assert_eq!(done[0].job.decision.as_deref(), Some("d1"));
        assert!(done[0].notice.is_empty());
    }
}
