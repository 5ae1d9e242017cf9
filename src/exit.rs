//! Every exit status safe-run gives, and the one error type `main` prints.
//!
//! DESIGN.md's contract, in one place: a command that ran passes its own
//! status through (the shell's mapping: 126 cannot run, 127 not found,
//! 128+N killed by signal N); safe-run's own outcomes are 77 refused by
//! policy, 1 aborted at a prompt and 2 for usage or parse errors. `check`
//! answers 0 (would run without a prompt), 1 (needs approval or is
//! refused) and 2 (cannot be checked). Every mode maps a child's end and
//! a failed start through [`of_wait`] and [`of_spawn_error`], so `--`, `-c`
//! and the interactive shell report the same status for the same end.

use std::io;

/// Ran, or would run, without a prompt.
pub const OK: i32 = 0;
/// The operator aborted at a prompt.
pub const ABORTED: i32 = 1;
/// Usage error, or a line that cannot be parsed (so nothing ran).
pub const USAGE: i32 = 2;
/// Refused by policy: denied, or approval missing or wrong without a prompt.
pub const REFUSED: i32 = 77;
/// The program exists but cannot run (not executable, …).
pub const CANNOT_RUN: i32 = 126;
/// The program is not found.
pub const NOT_FOUND: i32 = 127;

/// `safe-run check`: everything would run without a prompt.
pub const CHECK_SILENT: i32 = 0;
/// `safe-run check`: something needs a confirmation or is refused.
pub const CHECK_NEEDS_APPROVAL: i32 = 1;
/// `safe-run check`: some input cannot be checked.
pub const CHECK_ERROR: i32 = 2;

/// The status a shell reports for a child that was killed by `signal`.
pub fn of_signal(signal: i32) -> i32 {
    128 + signal
}

/// The status a shell reports for a child that ended: its exit code, or
/// 128+N when signal N killed it (1 when neither is known).
pub fn of_wait(exit: Option<i32>, signal: Option<i32>) -> i32 {
    match (exit, signal) {
        (Some(code), _) => code,
        (None, Some(sig)) => of_signal(sig),
        (None, None) => 1,
    }
}

/// The status and the words for a program that could not be started.
pub fn of_spawn_error(e: &io::Error) -> (i32, String) {
    match e.kind() {
        io::ErrorKind::NotFound => (NOT_FOUND, "command not found".to_string()),
        io::ErrorKind::PermissionDenied => (
            CANNOT_RUN,
            "permission denied (not executable?)".to_string(),
        ),
        _ => (CANNOT_RUN, e.to_string()),
    }
}

/// Errors that end the program with status 2, printed once by `main`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// `safe-run rules list | head`: the reader went away. Not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_death_is_128_plus_the_signal_and_an_exit_code_passes_through() {
        assert_eq!(of_wait(None, Some(9)), 137);
        assert_eq!(of_wait(Some(3), None), 3);
        assert_eq!(of_wait(None, None), 1);
    }

    #[test]
    fn a_missing_program_is_127_and_an_unrunnable_one_126() {
        let missing = io::Error::from(io::ErrorKind::NotFound);
        assert_eq!(of_spawn_error(&missing).0, NOT_FOUND);
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(of_spawn_error(&denied).0, CANNOT_RUN);
    }
}
