//! The interactive shell (being written).

use std::io::Write;

use crate::cli::Cli;

/// Runs the interactive shell until `exit`, `logout` or Ctrl-D; returns the
/// exit status.
pub fn run(_cli: &Cli, err: &mut dyn Write) -> i32 {
    let _ = writeln!(
        err,
        "safe-run: the interactive shell is not available in this build; run a line with `safe-run -c LINE` or a program with `safe-run -- PROG ARGS...`"
    );
    2
}
