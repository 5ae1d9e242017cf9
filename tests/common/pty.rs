//! The one pseudo-terminal driver of the tests (on expectrl): a program is
//! spawned as the session leader of a new 120×40 pty, so the pty is its
//! controlling terminal and `/dev/tty`, with `TERM=xterm`.
//!
//! How it waits, instead of sleeping: for text on the terminal
//! (`expect`), for the terminal to leave canonical mode (`wait_reading`:
//! the line editor and the confirmation prompt read a key at a time, and
//! the prompt switches with TCSAFLUSH, which drops what was typed ahead),
//! for a command to take the terminal's foreground (`wait_foreground`),
//! and for the program to end (`exit_code`). Every wait has a deadline,
//! generous, that only bounds a hang; nothing asserts on wall-clock time.

use std::process::Command;
use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::{Expect, Session};
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::{self, LocalFlags};
use nix::unistd::{Pid, tcgetpgrp};

use super::bin::without_forks;
use super::wait::wait_for;

/// How long one wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A program running on a pty of its own.
pub struct Pty {
    session: expectrl::session::OsSession,
    timeout: Duration,
    what: String,
}

impl Pty {
    /// Spawns `cmd` (its environment is the caller's, plus `TERM=xterm`)
    /// on a new 120×40 pty.
    #[track_caller]
    pub fn spawn(cmd: Command) -> Pty {
        Pty::spawn_sized(cmd, 120, 40)
    }

    /// [`Pty::spawn`] on a pty of `cols`×`rows`.
    #[track_caller]
    pub fn spawn_sized(mut cmd: Command, cols: u16, rows: u16) -> Pty {
        cmd.env("TERM", "xterm");
        let what = format!("{:?}", cmd.get_program());
        // The pty crate's master and error pipe are not close-on-exec: no
        // other test thread may fork while they are being set up.
        let mut session = without_forks(|| Session::spawn(cmd))
            .unwrap_or_else(|e| panic!("cannot spawn {what} on a pty: {e}"));
        session.set_expect_timeout(Some(TIMEOUT));
        session
            .get_process_mut()
            .set_window_size(cols, rows)
            .expect("set the window size");
        Pty {
            session,
            timeout: TIMEOUT,
            what,
        }
    }

    /// Waits up to `timeout` from now on (instead of `TIMEOUT`).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.session.set_expect_timeout(Some(timeout));
    }

    /// Expects `text` on the terminal; returns what came before it. On
    /// failure, shows what the terminal did show after the last match.
    #[track_caller]
    pub fn expect(&mut self, text: &str) -> String {
        match self.session.expect(text) {
            Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
            Err(e) => {
                let seen = self
                    .session
                    .check(expectrl::Regex("(?s).+"))
                    .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned())
                    .unwrap_or_default();
                panic!(
                    "{}: did not see {text:?}: {e}; the terminal showed (after the last match):\n{seen}",
                    self.what
                )
            }
        }
    }

    /// Everything the program still writes, until it closes the terminal
    /// (it ended).
    #[track_caller]
    pub fn rest(&mut self) -> String {
        match self.session.expect(expectrl::Eof) {
            Ok(found) => String::from_utf8_lossy(found.as_bytes()).into_owned(),
            Err(e) => panic!("{}: did not end: {e}", self.what),
        }
    }

    /// Types `keys` as they are (control keys included: "\x03" is Ctrl-C).
    #[track_caller]
    pub fn send(&mut self, keys: &str) {
        self.session
            .send(keys)
            .unwrap_or_else(|e| panic!("type {keys:?}: {e}"));
    }

    /// Types `line` and presses Enter.
    #[track_caller]
    pub fn send_line(&mut self, line: &str) {
        self.send(&format!("{line}\r"));
    }

    /// Polls `ready` until it holds; fails naming `what` at the deadline.
    #[track_caller]
    pub fn wait_until(&self, what: &str, mut ready: impl FnMut() -> bool) {
        assert!(
            wait_for(self.timeout, || ready().then_some(())).is_some(),
            "{}: {what} did not happen within {:?}",
            self.what,
            self.timeout
        );
    }

    /// Waits until the program reads a key at a time (the terminal is out
    /// of canonical mode), so that what is typed next is not flushed away.
    #[track_caller]
    pub fn wait_reading(&self) {
        let stream = self.session.get_stream();
        self.wait_until("leaving canonical mode (reading keys)", || {
            termios::tcgetattr(stream).is_ok_and(|t| !t.local_flags.contains(LocalFlags::ICANON))
        });
    }

    /// Waits until another process group than the program's own (a
    /// command it started) owns the terminal.
    #[track_caller]
    pub fn wait_foreground(&self) {
        let stream = self.session.get_stream();
        let own = self.pid().as_raw();
        self.wait_until("a command taking the terminal", || {
            tcgetpgrp(stream).is_ok_and(|g| g.as_raw() != own)
        });
    }

    /// Waits (bounded) for the program to end; returns its exit status.
    #[track_caller]
    pub fn exit_code(&self) -> i32 {
        let status = wait_for(self.timeout, || match self.session.get_process().status() {
            Ok(WaitStatus::StillAlive) => None,
            Ok(s) => Some(s),
            Err(e) => panic!("waitpid: {e}"),
        });
        match status {
            Some(WaitStatus::Exited(_, code)) => code,
            Some(other) => panic!("{} did not exit normally: {other:?}", self.what),
            None => panic!("{} did not end within {:?}", self.what, self.timeout),
        }
    }

    /// The terminal's foreground process group, when it can be read.
    pub fn foreground_group(&self) -> Option<i32> {
        tcgetpgrp(self.session.get_stream())
            .ok()
            .map(|g| g.as_raw())
    }

    /// The program's PID (expectrl has its own nix).
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.session.get_process().pid().as_raw())
    }

    /// Whether the program is still running.
    pub fn alive(&self) -> bool {
        matches!(
            self.session.get_process().status(),
            Ok(WaitStatus::StillAlive)
        )
    }

    /// Sends `signal` to the program.
    #[track_caller]
    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).unwrap_or_else(|e| panic!("kill {signal}: {e}"));
    }
}
