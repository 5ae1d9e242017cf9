//! Command-line interface: the clap types, and the dispatch from parsed
//! arguments to a subcommand (`cmd/`), the interactive shell (`shell/`) or
//! one request through the pipeline.
//!
//! Two phases, as in ripgrep: clap turns argv into plain values, then the
//! dispatch asks `session` for what needs the system (configuration and
//! rules from disk, identity, the terminal's facts) and calls the library.
//! Every error reaches `main` as one `exit::Error` and is printed once.

use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::audit::identity;
use crate::cmd::{approve, audit, check, man, rules};
use crate::exec::ProcessRunner;
use crate::exit::{self, Error};
use crate::pipeline::{Request, Target};
use crate::session::{self, EnvSources, Session, Setup, SitePaths, Sources, Use};
use crate::term::paint::{self, ColorChoice, Style};
use crate::term::sanitize::clean;
use crate::term::width;
use crate::verdict::Mode;

#[derive(Debug, Parser)]
#[command(
    name = "safe-run",
    version,
    about = "A guard rail for production shells: checks every command against readable rules, asks before risky ones run, and logs every decision.",
    after_help = "Run a program:     safe-run [--reason TEXT --confirm TOKEN] -- PROG ARGS...\nRun a shell line:  safe-run -c 'LINE'   (what sshd runs for `ssh host LINE`, scp, rsync, sftp)\nExit status: the command's own; 77 refused by policy; 1 aborted at a prompt; 2 usage or parse error."
)]
pub struct Cli {
    /// Check LINE, then run it with the configured shell (`SHELL -c LINE`).
    #[arg(short = 'c', value_name = "LINE", conflicts_with = "argv")]
    pub line: Option<String>,

    /// The reason for a risky command, given in advance (scripts).
    #[arg(
        long,
        value_name = "TEXT",
        env = "SAFE_RUN_REASON",
        hide_env_values = true
    )]
    pub reason: Option<String>,

    /// The confirmation the prompt would ask for (`yes` or the host's short name), given in advance.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SAFE_RUN_CONFIRM",
        hide_env_values = true
    )]
    pub confirm: Option<String>,

    /// Run a risky command during a change freeze, or a disruptive one when no fleet slot can be
    /// had (all taken, or the store unreachable); it needs a longer reason and is recorded as
    /// break-glass.
    #[arg(long)]
    pub break_glass: bool,

    /// A second operator's approval for a two-person line: FILE holds what `safe-run approve` printed.
    #[arg(long, value_name = "FILE")]
    pub approval: Option<PathBuf>,

    /// Read the configuration from FILE instead of /etc/safe-run/config.toml (or $SAFE_RUN_CONFIG).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Start as a login shell (also when `argv[0]` starts with `-`).
    #[arg(short = 'l', long)]
    pub login: bool,

    /// Add the rule files (*.toml) of DIR; may be repeated.
    #[arg(long = "rules", value_name = "DIR", global = true)]
    pub rules_dirs: Vec<PathBuf>,

    /// Do not read the site rules in /etc/safe-run/rules.d.
    #[arg(long, global = true)]
    pub no_site_rules: bool,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// The program and its arguments, after `--`: run directly, without a shell.
    #[arg(last = true, value_name = "PROG")]
    pub argv: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify a line or a script without running it.
    Check(CheckArgs),
    /// List, show, lint and test rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Print the effective configuration and where each setting came from.
    Config,
    /// Approve another operator's request for a two-person line: signs it with ssh-keygen and prints the approval to hand back.
    Approve(approve::ApproveArgs),
    /// Review and verify the audit log: list (the default), show, follow, stats, verify.
    Audit(Box<audit::AuditArgs>),
    /// Give back the fleet slots this host holds (after a reboot, or a
    /// change that ended without giving its slot back).
    Release {
        /// Why, for the audit log.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// Print a completion script: `source <(safe-run completions bash)`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (used when the package is built).
    #[command(hide = true)]
    Man(man::ManArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON object per line checked.
    #[arg(long)]
    pub json: bool,
    /// Check every command of a script file (`-` for stdin).
    #[arg(long, value_name = "PATH", conflicts_with = "line")]
    pub file: Option<PathBuf>,
    /// The command line to check (it may start with `-`: `check -rf` checks `-rf`).
    #[arg(
        value_name = "LINE",
        required_unless_present = "file",
        allow_hyphen_values = true
    )]
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

impl Cli {
    /// The configuration and rule sources this command line asks for.
    pub fn sources(&self) -> Sources {
        Sources {
            config: self.config.clone(),
            site_rules: !self.no_site_rules,
            rule_dirs: self.rules_dirs.clone(),
        }
    }
}

/// How `check` and `rules` draw on stdout: the configured colour choice
/// (`auto`: only on a terminal and never with `NO_COLOR`), and the
/// terminal's width.
fn style_for_stdout(choice: ColorChoice) -> Style {
    Style {
        color: paint::use_color(choice, paint::no_color_env(), io::stdout().is_terminal()),
        width: width::of_stdout(),
    }
}

fn read_input(path: &Path) -> Result<String, Error> {
    if path == Path::new("-") {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .map_err(|source| Error::Read {
                path: "stdin".into(),
                source,
            })?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: clean(&path.display().to_string(), false),
        source,
    })
}

/// Loads the configuration and rules in force for a command that only
/// looks (`check`, `rules`): the same loading as running, see `session`.
fn setup_for_look(sources: &Sources, err: &mut dyn Write) -> Result<Setup, Error> {
    session::load_setup(
        sources,
        &EnvSources::from_env(),
        Use::Look,
        &SitePaths::default(),
        err,
    )
}

/// `--reason` / `--confirm`. Inside an interactive session
/// (`SAFE_RUN_SESSION`), values that came from the environment count only
/// when the session's shell started this process itself: approval set in
/// a session is not inherited by what its programs run (docs/SHELL.md).
fn approval(cli: &Cli) -> (Option<String>, Option<String>) {
    if crate::shell::bash::env_approval_counts() {
        return (cli.reason.clone(), cli.confirm.clone());
    }
    let matches = Cli::command()
        .try_get_matches_from(std::env::args_os())
        .ok();
    let typed = |id: &str| {
        matches
            .as_ref()
            .is_some_and(|m| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
    };
    (
        cli.reason.clone().filter(|_| typed("reason")),
        cli.confirm.clone().filter(|_| typed("confirm")),
    )
}

/// Runs the program; returns the exit status.
pub fn run(cli: Cli) -> Result<i32, Error> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut err = io::stderr();
    let sources = cli.sources();
    match &cli.command {
        Some(Command::Check(args)) => {
            let setup = setup_for_look(&sources, &mut err)?;
            let style = style_for_stdout(setup.loaded.config.color);
            let mut policy = setup.policy(&identity::host_name(), style.color, style.width);
            // The freeze in force now, as running would meet it.
            policy.change.freeze = crate::controls::freeze_now(&policy.change.freeze_settings);
            let code = match (&args.file, &args.line) {
                (Some(path), _) => {
                    let text = read_input(path)?;
                    let name = path.display().to_string();
                    check::check_script(
                        &setup.rules,
                        &policy,
                        &name,
                        &text,
                        args.json,
                        style,
                        &mut out,
                    )?
                }
                (None, Some(line)) => {
                    check::check_line_with(&setup.rules, &policy, line, args.json, style, &mut out)?
                }
                (None, None) => return Err(Error::Usage("give a LINE or --file PATH".into())),
            };
            Ok(code)
        }
        Some(Command::Rules(cmd)) => {
            let setup = setup_for_look(&sources, &mut err)?;
            let rules = &setup.rules;
            let code = match cmd {
                RulesCommand::List { json } => rules::list(rules, *json, &mut out)?,
                RulesCommand::Show { id } => rules::show(rules, id, &mut out)?,
                RulesCommand::Lint { files } if files.is_empty() => {
                    // The rule files in force: the site directory, --rules
                    // and [rules] dirs.
                    let dirs: Vec<PathBuf> =
                        setup.rule_dirs.into_iter().filter(|d| d.is_dir()).collect();
                    if dirs.is_empty() {
                        writeln!(
                            out,
                            "No rule files in force besides the built-in ones, which were checked when safe-run was built."
                        )?;
                        0
                    } else {
                        rules::lint(&dirs, &mut out)?
                    }
                }
                RulesCommand::Lint { files } => rules::lint(files, &mut out)?,
                RulesCommand::Test { files } => rules::test(rules, files, &mut out)?,
            };
            Ok(code)
        }
        Some(Command::Config) => {
            let (loaded, problem) = session::load_config(
                &sources,
                &EnvSources::from_env(),
                Use::Look,
                &SitePaths::default(),
                &mut err,
            )?;
            write!(out, "{}", crate::config::render(&loaded))?;
            if let Some(freeze) = crate::controls::freeze_now(&loaded.config.freeze) {
                writeln!(
                    out,
                    "\n# CHANGE FREEZE in force now: {}",
                    clean(&freeze.describe(), false)
                )?;
            }
            Ok(if problem { exit::USAGE } else { exit::OK })
        }
        Some(Command::Audit(args)) => {
            let (loaded, _) = session::load_config(
                &sources,
                &EnvSources::from_env(),
                Use::Look,
                &SitePaths::default(),
                &mut err,
            )?;
            let mut default_log = || -> Result<PathBuf, Error> {
                audit::default_log(&loaded.config).map_err(Error::Usage)
            };
            audit::run(
                args,
                loaded.config.color,
                &mut default_log,
                &mut out,
                &mut err,
            )
        }
        Some(Command::Release { reason }) => {
            drop(out);
            let mut session = Session::load(&sources, Use::Argv, &mut err)?;
            Ok(session.release(reason.as_deref(), &mut err))
        }
        Some(Command::Approve(args)) => {
            let (loaded, _) = session::load_config(
                &sources,
                &EnvSources::from_env(),
                Use::Look,
                &SitePaths::default(),
                &mut err,
            )?;
            let state = audit::default_log(&loaded.config).ok();
            approve::run(args, &loaded.config, state.as_deref(), &mut out, &mut err)
        }
        Some(Command::Completions { shell }) => {
            man::completions(*shell, &Cli::command(), &mut out)?;
            Ok(0)
        }
        Some(Command::Man(args)) => Ok(man::run(args, &Cli::command(), &mut out)?),
        None => {
            let (mode, target, usage) = match (&cli.line, cli.argv.is_empty()) {
                (Some(line), _) => (Mode::DashC, Target::Line(line.clone()), Use::DashC),
                (None, false) => (Mode::Argv, Target::Argv(cli.argv.clone()), Use::Argv),
                (None, true) => {
                    drop(out);
                    let usage = if cli.login { Use::Login } else { Use::Shell };
                    let session = Session::load(&sources, usage, &mut err)?;
                    return Ok(crate::shell::run(session, cli.login, &mut err));
                }
            };
            let (reason, confirm) = approval(&cli);
            let request = Request {
                mode,
                target,
                reason,
                confirm,
                break_glass: cli.break_glass,
                approval: match &cli.approval {
                    Some(path) => Some(approve::read_approval_file(path)?),
                    None => None,
                },
            };
            drop(out);
            let mut session = Session::load(&sources, usage, &mut err)?;
            Ok(session.run(&request, &mut ProcessRunner, &mut err))
        }
    }
}
