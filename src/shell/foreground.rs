//! Running one line of the interactive shell in the foreground of the
//! terminal, and getting the terminal back afterwards.
//!
//! The policy, written down (docs/SHELL.md has the operator's version):
//! - With the session's bash (`shell::bash`), the terminal is handed to
//!   bash's process group for the line; bash, interactive with job
//!   control, gives each job its own group and the terminal, so Ctrl-C and
//!   Ctrl-\\ reach the line's processes only and Ctrl-Z stops a job the
//!   way it does in bash (`fg` and `bg` bring it back). safe-run is in none
//!   of those groups and never sees those keys.
//! - Without bash (another shell is configured), each line's `SHELL -c`
//!   runs in a process group of its own, made the foreground group, and
//!   Ctrl-Z is refused: the line is continued at once, since nothing could
//!   bring it back. A stop by SIGTTIN/SIGTTOU (the child touched the
//!   terminal before it was handed over) is answered by handing it over.
//! - Afterwards the wrapper takes the terminal back and restores the
//!   terminal modes saved before the line ran, so a program that died in
//!   raw mode leaves a usable prompt behind.
//! - The wrapper blocks SIGTTOU only around its own terminal calls while
//!   it is in the background (blocked, not ignored: an ignored signal would
//!   be inherited by the next child, and std resets the mask at spawn).
//!
//! Without a terminal (lines read from a pipe) nothing is handed over.
//!
//! No `unsafe`: process groups come from std (`process_group`), the rest
//! from nix.

use std::io::{self, IsTerminal, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, killpg, pthread_sigmask};
use nix::sys::termios::{self, SetArg, Termios};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpgrp, tcgetpgrp, tcsetpgrp};

use crate::exec::{Outcome, Program, Runner};
use crate::exit;
use crate::shell::bash::{Ended, SessionBash, is_approval_var};
use crate::shell::state::ShellState;

/// The terminal the shell reads from, when the shell is in its foreground.
#[derive(Debug)]
pub struct Terminal {
    fd: OwnedFd,
    /// The wrapper's own process group, to take the terminal back to.
    group: Pid,
}

impl Terminal {
    /// The terminal on stdin, if stdin is one and this process's group is
    /// its foreground group (the shell is not running in the background).
    pub fn from_stdin() -> Option<Terminal> {
        let stdin = io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let fd = stdin.as_fd().try_clone_to_owned().ok()?;
        let group = getpgrp();
        (tcgetpgrp(&fd).ok()? == group).then_some(Terminal { fd, group })
    }

    /// Another handle on the same terminal (for the signal thread).
    pub fn try_clone(&self) -> Option<Terminal> {
        Some(Terminal {
            fd: self.fd.try_clone().ok()?,
            group: self.group,
        })
    }

    /// The terminal's descriptor.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The terminal's current modes.
    pub fn modes(&self) -> Option<Termios> {
        termios::tcgetattr(&self.fd).ok()
    }

    /// Puts `modes` back (after a child, or when leaving).
    pub fn restore(&self, modes: &Termios) {
        let _ = with_ttou_blocked(|| termios::tcsetattr(&self.fd, SetArg::TCSADRAIN, modes));
    }

    /// Makes `group` the foreground process group.
    pub fn give_to(&self, group: Pid) -> nix::Result<()> {
        with_ttou_blocked(|| tcsetpgrp(&self.fd, group))
    }

    /// Makes the wrapper's group the foreground group again.
    pub fn take_back(&self) {
        let _ = self.give_to(self.group);
    }
}

/// Runs `f` with SIGTTOU blocked in this thread, so that a terminal call
/// made while the wrapper is in the background does not stop it.
fn with_ttou_blocked<T>(f: impl FnOnce() -> T) -> T {
    let mut block = SigSet::empty();
    block.add(Signal::SIGTTOU);
    let mut old = SigSet::empty();
    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&block), Some(&mut old)).is_ok();
    let result = f();
    if blocked {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
    result
}

/// Writes a message for the operator while a child owns the terminal.
fn say(text: &str) {
    with_ttou_blocked(|| {
        let mut err = io::stderr();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    });
}

/// What the operator reads when Ctrl-Z is refused (a shell other than bash).
pub const STOP_REFUSED: &str = "\r\nsafe-run: stopping a command (Ctrl-Z) needs bash as the shell; it goes on. Ctrl-C interrupts it.\r\n";

/// The runner for the interactive shell: hands each approved line to the
/// session's bash ([`SessionBash`]) with the terminal, waits for its report
/// and takes the terminal back; or, when the configured shell is not bash,
/// runs `SHELL -c LINE` in the foreground and carries nothing over.
pub struct ForegroundRunner<'a> {
    pub state: &'a mut ShellState,
    /// The session's bash; `None`: each line runs on its own.
    pub bash: Option<&'a mut SessionBash>,
    /// `None`: no terminal (lines from a pipe).
    pub terminal: Option<&'a Terminal>,
    /// The process group running the line (0: none), for the signal
    /// thread that passes SIGTERM/SIGHUP on.
    pub child: &'a AtomicI32,
    /// Problems met while taking the state back, for the caller to show.
    pub warnings: Vec<String>,
    /// Set when the session's bash ended during the line (`exit` in it).
    pub ended: Option<Ended>,
    /// What bash runs instead of the line, when safe-run provides part of
    /// it (`history | grep x`: safe-run's output, then the rest).
    pub instead: Option<String>,
    /// Set when the line left a job behind (`CMD &`, Ctrl-Z): its
    /// outcome waits for the job (`shell::jobs`).
    pub defer: &'a std::cell::Cell<bool>,
}

impl Runner for ForegroundRunner<'_> {
    fn run(&mut self, program: &Program) -> Outcome {
        let Program::Shell { shell, line } = program else {
            return crate::exec::run(program);
        };
        match self.bash.as_deref_mut() {
            Some(bash) => {
                let started = Instant::now();
                let modes = self.terminal.and_then(Terminal::modes);
                let pid = bash.pid();
                self.child.store(pid.as_raw(), Ordering::SeqCst);
                if let Some(t) = self.terminal {
                    let _ = t.give_to(pid);
                }
                let text = self.instead.as_deref().unwrap_or(line);
                let sent = bash.send_line(text, self.state.last_status);
                let report = match sent {
                    Ok(()) => bash.report(),
                    Err(_) => bash.report(),
                };
                self.child.store(0, Ordering::SeqCst);
                if let Some(t) = self.terminal {
                    t.take_back();
                    if let Some(m) = &modes {
                        t.restore(m);
                    }
                }
                let status = match report {
                    Ok(report) => {
                        let status = report.status;
                        let new = crate::shell::jobs::parse_jobs(&report.jobs)
                            .iter()
                            .any(|j| {
                                !crate::shell::jobs::parse_jobs(&self.state.jobs)
                                    .iter()
                                    .any(|o| o.pid == j.pid)
                            });
                        self.defer.set(new);
                        let warnings = self.state.apply(report);
                        self.warnings.extend(warnings);
                        status
                    }
                    Err(ended) => {
                        self.ended = Some(ended);
                        ended.status
                    }
                };
                let (exit, signal) = crate::shell::jobs::split_status(status);
                Outcome {
                    exit,
                    signal,
                    status,
                    duration: started.elapsed(),
                    error: None,
                }
            }
            None => self.run_alone(shell, line),
        }
    }
}

impl ForegroundRunner<'_> {
    /// `SHELL -c LINE` in the foreground, for a shell that is not bash.
    fn run_alone(&mut self, shell: &str, line: &str) -> Outcome {
        let started = Instant::now();
        let mut command = std::process::Command::new(shell);
        command
            .arg("-c")
            .arg(line)
            .env_clear()
            .envs(self.state.env().iter().filter(|(k, _)| !is_approval_var(k)));
        let modes = self.terminal.and_then(Terminal::modes);
        if self.terminal.is_some() {
            command.process_group(0);
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                let (status, what) = exit::of_spawn_error(&e);
                return Outcome {
                    exit: Some(status),
                    signal: None,
                    status,
                    duration: started.elapsed(),
                    error: Some(format!("{shell}: {what}")),
                };
            }
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
        self.child.store(pid.as_raw(), Ordering::SeqCst);
        if let Some(t) = self.terminal {
            let _ = t.give_to(pid);
        }
        let ended = wait_foreground(pid, self.terminal);
        self.child.store(0, Ordering::SeqCst);
        if let Some(t) = self.terminal {
            t.take_back();
            if let Some(m) = &modes {
                t.restore(m);
            }
        }
        let (exit, signal, error) = match ended {
            Ok(Ended2::Exited(code)) => (Some(code), None, None),
            Ok(Ended2::Killed(sig)) => (None, Some(sig), None),
            Err(e) => (Some(1), None, Some(format!("lost track of {shell}: {e}"))),
        };
        let status = exit::of_wait(exit, signal);
        self.state.last_status = status;
        if signal == Some(Signal::SIGINT as i32) {
            say("\n");
        }
        Outcome {
            exit,
            signal,
            status,
            duration: started.elapsed(),
            error,
        }
    }
}

/// How a line run on its own ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended2 {
    Exited(i32),
    Killed(i32),
}

/// Waits for the child; with a terminal, also watches it stop and
/// continues it (see the module's policy).
fn wait_foreground(pid: Pid, terminal: Option<&Terminal>) -> Result<Ended2, Errno> {
    let flags = terminal.map(|_| WaitPidFlag::WUNTRACED);
    // Stops for the terminal in a short time: a child that keeps getting
    // them cannot be helped and must not spin the wrapper.
    let mut terminal_stops: Vec<Instant> = Vec::new();
    loop {
        match waitpid(pid, flags) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Ended2::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(Ended2::Killed(sig as i32)),
            Ok(WaitStatus::Stopped(_, sig)) => {
                if matches!(sig, Signal::SIGTTIN | Signal::SIGTTOU) {
                    let now = Instant::now();
                    terminal_stops.retain(|t| now.duration_since(*t) < Duration::from_secs(1));
                    terminal_stops.push(now);
                    if terminal_stops.len() > 20 {
                        say(
                            "\r\nsafe-run: the command keeps stopping to use the terminal and cannot be given it; ending it.\r\n",
                        );
                        let _ = killpg(pid, Signal::SIGHUP);
                    } else if let Some(t) = terminal {
                        let _ = t.give_to(pid);
                    }
                } else {
                    say(STOP_REFUSED);
                }
                let _ = killpg(pid, Signal::SIGCONT);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}
