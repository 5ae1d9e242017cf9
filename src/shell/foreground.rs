//! Running one line of the interactive shell in the foreground of the
//! terminal, and getting the terminal back afterwards.
//!
//! The policy, written down (docs/SHELL.md has the operator's version):
//! - Each line's shell (`bash -c`, see `shell_state`) runs in a process
//!   group of its own, which is made the terminal's foreground group. So
//!   editors, pagers and `top` own the terminal, and Ctrl-C / Ctrl-\ go to
//!   the line's processes only: the wrapper is not in that group and never
//!   sees them.
//! - Ctrl-Z is refused: when the line's shell stops (SIGTSTP, or SIGSTOP
//!   sent to it), the wrapper says so and continues the whole group with
//!   SIGCONT. A stopped line would otherwise leave its audit outcome open
//!   and its state unsaved; and there is no `fg` to forget about. A program
//!   that suspends itself (vim, less) redraws and goes on.
//! - A stop by SIGTTIN/SIGTTOU (the child touched the terminal before it
//!   was handed over) is answered by handing it over and continuing.
//! - Afterwards the wrapper takes the terminal back and restores the
//!   terminal modes saved before the line ran, so a program that died in
//!   raw mode leaves a usable prompt behind.
//! - The wrapper blocks SIGTTOU only around its own terminal calls while
//!   it is in the background (blocked, not ignored: an ignored signal would
//!   be inherited by the next child, and std resets the mask at spawn).
//!
//! Without a terminal (lines read from a pipe) the child stays in the
//! wrapper's group and is waited for like any program.
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

    /// The terminal's current modes.
    pub fn modes(&self) -> Option<Termios> {
        termios::tcgetattr(&self.fd).ok()
    }

    /// Puts `modes` back (after a child, or when leaving).
    pub fn restore(&self, modes: &Termios) {
        let _ = with_ttou_blocked(|| termios::tcsetattr(&self.fd, SetArg::TCSADRAIN, modes));
    }

    /// Makes `group` the foreground process group.
    fn give_to(&self, group: Pid) -> nix::Result<()> {
        with_ttou_blocked(|| tcsetpgrp(&self.fd, group))
    }

    /// Makes the wrapper's group the foreground group again.
    fn take_back(&self) {
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

/// What the operator reads when Ctrl-Z is refused.
pub const STOP_REFUSED: &str = "\r\nsafe-run: stopping a command (Ctrl-Z) is not supported in this shell; it goes on. Ctrl-C interrupts it.\r\n";

/// The runner for the interactive shell: runs each line through the
/// shell state's wrapper, in the foreground, and takes the state back.
pub struct ForegroundRunner<'a> {
    pub state: &'a mut ShellState,
    /// `None`: no terminal (lines from a pipe).
    pub terminal: Option<&'a Terminal>,
    /// The running child's process group (0: none), for the signal thread
    /// that passes SIGTERM/SIGHUP on.
    pub child: &'a AtomicI32,
    /// Problems met while taking the state back, for the caller to show.
    pub warnings: Vec<String>,
}

impl Runner for ForegroundRunner<'_> {
    fn run(&mut self, program: &Program) -> Outcome {
        let Program::Shell { shell, line } = program else {
            return crate::exec::run(program);
        };
        let started = Instant::now();
        self.state.clear_save();
        let mut command = self.state.command(shell, line);
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
            // The child is its own group's leader (std set it up before
            // exec), so the group exists now.
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
        let applied = self.state.take_back();
        self.warnings.extend(applied.warnings);
        let (exit, signal, error) = match ended {
            Ok(Ended::Exited(code)) => (Some(code), None, None),
            Ok(Ended::Killed(sig)) => (None, Some(sig), None),
            Err(e) => (Some(1), None, Some(format!("lost track of {shell}: {e}"))),
        };
        let status = exit::of_wait(exit, signal);
        if signal == Some(Signal::SIGINT as i32) {
            // As bash does: the prompt starts on a fresh line after ^C.
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

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    Exited(i32),
    Killed(i32),
}

/// Waits for the child; with a terminal, also watches it stop and
/// continues it (see the module's policy).
fn wait_foreground(pid: Pid, terminal: Option<&Terminal>) -> Result<Ended, Errno> {
    let flags = terminal.map(|_| WaitPidFlag::WUNTRACED);
    // Stops for the terminal in a short time: a child that keeps getting
    // them cannot be helped and must not spin the wrapper.
    let mut terminal_stops: Vec<Instant> = Vec::new();
    loop {
        match waitpid(pid, flags) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Ended::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(Ended::Killed(sig as i32)),
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
