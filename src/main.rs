//! The `safe-run` binary: parse arguments, run, turn the result into an
//! exit status. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let mut cli = safe_run::cli::Cli::parse();
    // sshd and login(1) start a login shell with argv[0] beginning with `-`.
    if std::env::args_os()
        .next()
        .is_some_and(|a| a.to_string_lossy().starts_with('-'))
    {
        cli.login = true;
    }
    match safe_run::cli::run(cli) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // `safe-run rules list | head`: the reader went away; not an error.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("safe-run: {e}");
            ExitCode::from(2)
        }
    }
}
