//! Command-line interface: clap types, and the dispatch from parsed
//! arguments to the library.
//!
//! Two phases, as in ripgrep: clap turns argv into plain values, then this
//! module builds what needs the system (rules loaded from disk, the
//! terminal's colour support) and calls the pure parts. Every error reaches
//! `main` as one `Result` and is printed once.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::check::{self, Style};
use crate::rules::RuleSet;
use crate::rules_cmd;
use crate::rules_dir::load_dir;

/// Where site rules live unless `SAFE_RUN_RULES_DIR` says otherwise.
pub const SYSTEM_RULES_DIR: &str = "/etc/safe-run/rules.d";

#[derive(Debug, Parser)]
#[command(
    name = "safe-run",
    version,
    about = "A guard rail for production shells: checks every command against readable rules, asks before risky ones run, and logs every decision.",
)]
pub struct Cli {
    /// Add the rule files (*.toml) of DIR; may be repeated.
    #[arg(long = "rules", value_name = "DIR", global = true)]
    pub rules_dirs: Vec<PathBuf>,

    /// Do not read the site rules in /etc/safe-run/rules.d.
    #[arg(long, global = true)]
    pub no_site_rules: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify a line or a script without running it.
    Check(CheckArgs),
    /// List, show, lint and test rules.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON object per line checked.
    #[arg(long)]
    pub json: bool,
    /// Check every command of a script file (`-` for stdin).
    #[arg(long, value_name = "PATH", conflicts_with = "line")]
    pub file: Option<PathBuf>,
    /// The command line to check.
    #[arg(value_name = "LINE", required_unless_present = "file")]
    pub line: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules in force.
    List {
        /// One JSON object per rule.
        #[arg(long)]
        json: bool,
    },
    /// Show one rule in full.
    Show {
        /// The rule's id.
        id: String,
    },
    /// Validate rule files; exit 1 listing every error.
    Lint {
        /// Files to check (default: the built-in rules and the site rules).
        files: Vec<PathBuf>,
    },
    /// Run every rule's `match` and `allow` examples; exit 1 naming each failure.
    Test {
        /// Rule files to test, layered over the built-in rules (default: all rules in force).
        files: Vec<PathBuf>,
    },
}

/// Errors that end the program with status 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Usage(String),
}

/// Should reports use colour? Only on a terminal, and never with NO_COLOR.
fn style_for_stdout() -> Style {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style {
        color: !no_color && io::stdout().is_terminal(),
    }
}

/// The rule set in force: built-in rules, then the site directory, then
/// `--rules` directories. A broken file never stops the others: its errors
/// are printed loudly and the valid rules stay in force.
pub fn load_rules(cli: &Cli, err: &mut dyn Write) -> RuleSet {
    let mut set = RuleSet::builtin();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if !cli.no_site_rules {
        let site = std::env::var_os("SAFE_RUN_RULES_DIR").map_or_else(|| PathBuf::from(SYSTEM_RULES_DIR), PathBuf::from);
        dirs.push(site);
    }
    dirs.extend(cli.rules_dirs.iter().cloned());
    let mut failed = 0;
    for dir in &dirs {
        let (rules, errors) = load_dir(dir);
        for e in &errors {
            let _ = writeln!(err, "safe-run: rule error: {e}");
        }
        failed += errors.len();
        set.add(rules);
    }
    if failed > 0 {
        let _ = writeln!(
            err,
            "safe-run: WARNING: {failed} rule error(s) above; those rules are NOT in force, every other rule is. Fix them and run `safe-run rules lint`."
        );
    }
    set
}

fn read_input(path: &Path) -> Result<String, CliError> {
    if path == Path::new("-") {
        let mut s = String::new();
        io::stdin().read_to_string(&mut s).map_err(|source| CliError::Read {
            path: "stdin".into(),
            source,
        })?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Runs the program; returns the exit status.
pub fn run(cli: Cli) -> Result<i32, CliError> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut err = io::stderr();
    match &cli.command {
        Some(Command::Check(args)) => {
            let rules = load_rules(&cli, &mut err);
            let style = style_for_stdout();
            let code = match (&args.file, &args.line) {
                (Some(path), _) => {
                    let text = read_input(path)?;
                    let name = path.display().to_string();
                    check::check_script(&rules, &name, &text, args.json, style, &mut out)?
                }
                (None, Some(line)) => check::check_line(&rules, line, args.json, style, &mut out)?,
                (None, None) => return Err(CliError::Usage("give a LINE or --file PATH".into())),
            };
            Ok(code)
        }
        Some(Command::Rules(cmd)) => {
            let rules = load_rules(&cli, &mut err);
            let code = match cmd {
                RulesCommand::List { json } => rules_cmd::list(&rules, *json, &mut out)?,
                RulesCommand::Show { id } => rules_cmd::show(&rules, id, &mut out)?,
                RulesCommand::Lint { files } => rules_cmd::lint(files, &mut out)?,
                RulesCommand::Test { files } => rules_cmd::test(&rules, files, &mut out)?,
            };
            Ok(code)
        }
        None => Err(CliError::Usage(
            "running commands is not available in this build yet; use `safe-run check LINE`".into(),
        )),
    }
}
