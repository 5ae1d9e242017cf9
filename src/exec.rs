//! Running the approved command, and reporting how it ended.
//!
//! The signal policy, written down (as `just` does):
//! - Ctrl-C and Ctrl-\ are sent by the terminal to the whole foreground
//!   process group, so the child gets them directly. The wrapper catches
//!   SIGINT and SIGQUIT and does nothing with them, so it outlives the child
//!   and can log the outcome.
//! - SIGTERM and SIGHUP sent to the wrapper alone (a supervisor, a closed
//!   ssh connection) end the whole job, not only the child: `bash -c 'a;
//!   b'` does not pass signals on, so a lone `kill` of bash would leave `a`
//!   running. Without a controlling terminal the child leads its own
//!   process group and the whole group is signalled (SIGINT and SIGQUIT
//!   too). With a terminal the child stays in the terminal's foreground
//!   group (Ctrl-C and Ctrl-Z reach it and the wrapper together, and job
//!   control of the calling shell keeps working), so the group cannot be
//!   the target: the signal goes to the child and to every process
//!   descending from it, found in `/proc` and signalled again until none is
//!   left that was not (a process that forks while being signalled is
//!   caught in the next round). A daemon that double-forks away from the
//!   tree escapes, as it would from a shell.
//! - The child starts with default dispositions and an empty signal mask:
//!   caught signals are reset by `exec`, and the standard library clears the
//!   mask and SIGPIPE. The wrapper never *ignores* a signal while a child
//!   is started, because an ignored signal would be inherited.
//! - The exit status comes back as a shell reports it: the child's code,
//!   128+N when killed by signal N, 127 not found, 126 cannot run.
//!
//! No `unsafe` here: handlers come from signal-hook, `kill` from nix.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::exit;

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// An argv, run directly without a shell (`safe-run -- PROG ARGS…`).
    Argv(Vec<String>),
    /// A line run by a shell (`safe-run -c LINE`): `SHELL -c LINE`.
    Shell { shell: String, line: String },
}

impl Program {
    fn command(&self) -> Option<Command> {
        match self {
            Program::Argv(argv) => {
                let (first, rest) = argv.split_first()?;
                let mut c = Command::new(first);
                c.args(rest);
                Some(c)
            }
            Program::Shell { shell, line } => {
                let mut c = Command::new(shell);
                c.arg("-c").arg(line);
                Some(c)
            }
        }
    }

    /// The program's name for messages.
    pub fn name(&self) -> &str {
        match self {
            Program::Argv(argv) => argv.first().map_or("", String::as_str),
            Program::Shell { shell, .. } => shell,
        }
    }
}

/// How the command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code, when it exited (126/127 when it could not start).
    pub exit: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// The status a shell would report: code, 128+N, 126 or 127.
    pub status: i32,
    pub duration: Duration,
    /// Why it could not start, when it could not.
    pub error: Option<String>,
}

/// Runs the approved program: the process runner for `--` and `-c`, the
/// foreground runner in the interactive shell, scripted fakes in tests.
pub trait Runner {
    fn run(&mut self, program: &Program) -> Outcome;
}

/// The runner of `--` and `-c`: [`run`].
pub struct ProcessRunner;

impl Runner for ProcessRunner {
    fn run(&mut self, program: &Program) -> Outcome {
        run(program)
    }
}

/// Runs the program in the foreground with the wrapper's terminal,
/// environment, working directory and standard streams, and waits for it.
pub fn run(program: &Program) -> Outcome {
    run_with(program, !has_controlling_terminal())
}

/// Does this process have a controlling terminal?
pub fn has_controlling_terminal() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .open("/dev/tty")
        .is_ok()
}

/// [`run`], choosing whether the child gets a process group of its own.
///
/// With no controlling terminal (`ssh host 'a; b'`, cron, CI) the child
/// leads its own process group and signals go to the whole group, so a
/// SIGTERM or SIGHUP to the wrapper also ends what a `-c` line started
/// (`bash -c 'a; b'` does not pass signals on). With a terminal the child
/// stays in the terminal's foreground group, where Ctrl-C reaches it
/// directly, and only the child itself is signalled.
pub fn run_with(program: &Program, own_group: bool) -> Outcome {
    let started = Instant::now();
    let Some(mut command) = program.command() else {
        return failed(started, exit::NOT_FOUND, "nothing to run".into());
    };
    if own_group {
        command.process_group(0);
    }
    let child_pid = Arc::new(AtomicI32::new(0));
    let pending = Arc::new(AtomicI32::new(0));
    let forwarder = start_forwarding(Arc::clone(&child_pid), Arc::clone(&pending), own_group);
    let outcome = match command.spawn() {
        Err(e) => {
            let (status, what) = exit::of_spawn_error(&e);
            failed(started, status, format!("{}: {what}", program.name()))
        }
        Ok(mut child) => {
            let pid = i32::try_from(child.id()).unwrap_or(0);
            child_pid.store(pid, Ordering::SeqCst);
            // A SIGTERM/SIGHUP that arrived while the child was starting.
            let early = pending.swap(0, Ordering::SeqCst);
            if early > 0
                && let Ok(sig) = Signal::try_from(early)
            {
                deliver(pid, own_group, sig);
            }
            let waited = child.wait();
            child_pid.store(0, Ordering::SeqCst);
            match waited {
                Ok(status) => {
                    let (code, signal) = (status.code(), status.signal());
                    Outcome {
                        exit: code,
                        signal,
                        status: exit::of_wait(code, signal),
                        duration: started.elapsed(),
                        error: None,
                    }
                }
                Err(e) => failed(started, 1, format!("lost track of {}: {e}", program.name())),
            }
        }
    };
    if let Some(handle) = forwarder {
        handle.close();
    }
    outcome
}

fn failed(started: Instant, status: i32, error: String) -> Outcome {
    Outcome {
        exit: Some(status),
        signal: None,
        status,
        duration: started.elapsed(),
        error: Some(error),
    }
}

/// Catches SIGINT/SIGQUIT (so the wrapper outlives the child) and passes
/// SIGTERM/SIGHUP on to the child.
/// The pid to signal: the child, or its whole process group.
fn target(pid: i32, group: bool) -> Pid {
    if group {
        Pid::from_raw(-pid)
    } else {
        Pid::from_raw(pid)
    }
}

/// Sends `sig` to the child's process group (`group`), or else to the
/// child and all its descendants (see the module header).
fn deliver(pid: i32, group: bool, sig: Signal) {
    if group {
        let _ = kill(target(pid, true), sig);
        return;
    }
    if !matches!(sig, Signal::SIGTERM | Signal::SIGHUP) {
        let _ = kill(Pid::from_raw(pid), sig);
        return;
    }
    let mut signalled = std::collections::HashSet::new();
    for _ in 0..8 {
        let tree = process_tree(pid);
        let fresh: Vec<i32> = tree.into_iter().filter(|p| signalled.insert(*p)).collect();
        if fresh.is_empty() {
            break;
        }
        for p in fresh {
            let _ = kill(Pid::from_raw(p), sig);
        }
    }
}

/// `root` and every process descending from it, read from `/proc` (the
/// parent of each process). Just `root` when `/proc` cannot be read.
fn process_tree(root: i32) -> Vec<i32> {
    let mut parents: Vec<(i32, i32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                continue;
            };
            if let Some(ppid) = parent_of(pid) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, ppid)| *ppid == parent)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    tree
}

/// The parent pid from `/proc/PID/stat` (`pid (comm) state ppid …`; the
/// command name may hold spaces and parentheses, so read after the last `)`).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn start_forwarding(
    child: Arc<AtomicI32>,
    pending: Arc<AtomicI32>,
    group: bool,
) -> Option<signal_hook::iterator::Handle> {
    let mut signals = Signals::new([SIGINT, SIGQUIT, SIGTERM, SIGHUP]).ok()?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let forward = match sig {
                SIGTERM => Signal::SIGTERM,
                SIGHUP => Signal::SIGHUP,
                // With no terminal, nobody else delivers these to the child.
                SIGINT if group => Signal::SIGINT,
                SIGQUIT if group => Signal::SIGQUIT,
                _ => continue,
            };
            let pid = child.load(Ordering::SeqCst);
            if pid > 0 {
                deliver(pid, group, forward);
            } else {
                // The child is not started yet: leave the signal for `run`,
                // and take it back if the child appeared meanwhile (whoever
                // swaps it out first delivers it).
                pending.store(forward as i32, Ordering::SeqCst);
                let pid = child.load(Ordering::SeqCst);
                if pid > 0 && pending.swap(0, Ordering::SeqCst) != 0 {
                    deliver(pid, group, forward);
                }
            }
        }
    });
    Some(handle)
}
