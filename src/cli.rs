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

use crate::audit::identity::{self, Identity};
use crate::audit::log::FsyncPolicy;
use crate::audit::recorder::{self, Recorder, SyslogTarget};
use crate::cmd::audit;
use crate::cmd::check::{self, Style};
use crate::cmd::rules;
use crate::config::{self, Config, Loaded};
use crate::confirm::{Prompter, TtyPrompter};
use crate::pipeline::{self, Io, LevelAction, Mode, Policy, ProcessRunner, Request, Target};
use crate::preview;
use crate::rules::RuleSet;
use crate::rules::dir::load_dir;

/// Where site rules live unless `SAFE_RUN_RULES_DIR` says otherwise.
pub const SYSTEM_RULES_DIR: &str = "/etc/safe-run/rules.d";

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

    /// Read the configuration from FILE instead of /etc/safe-run/config.toml (or $SAFE_RUN_CONFIG).
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Start as a login shell (also when argv[0] starts with `-`).
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
    /// Review and verify the audit log: list (the default), show, follow, stats, verify.
    Audit(Box<audit::AuditArgs>),
    /// Print a completion script: `source <(safe-run completions bash)`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (used when the package is built).
    #[command(hide = true)]
    Man(crate::cmd::man::ManArgs),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every record's hash and the chain; exit 1 naming the first bad record.
    Verify {
        /// Log files (default: the configured log); `.gz` too. A rotated set (audit.jsonl.2.gz, .1, audit.jsonl) is checked oldest first as one chain, whatever the order given.
        files: Vec<PathBuf>,
    },
    /// Everything about one command, by its decision id (or a unique prefix).
    Show(audit::ShowArgs),
    /// Print commands as they are logged, with the same filters (also `audit -f`).
    Follow(audit::FollowArgs),
    /// Counts by decision, rule, user, host and day; the most frequent risky and refused lines.
    Stats(audit::StatsArgs),
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
        width: terminal_width(),
    }
}

/// The width to wrap explanations at: `$COLUMNS` when set, else 100.
pub fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

/// The site's rule directory: `$SAFE_RUN_RULES_DIR`, else /etc/safe-run/rules.d.
fn site_rules_dir() -> PathBuf {
    std::env::var_os("SAFE_RUN_RULES_DIR")
        .map_or_else(|| PathBuf::from(SYSTEM_RULES_DIR), PathBuf::from)
}

/// Which rule directories to read.
#[derive(Clone, Debug, Default)]
pub struct RuleLoad {
    pub site: bool,
    pub dirs: Vec<PathBuf>,
}

impl From<&Cli> for RuleLoad {
    fn from(cli: &Cli) -> Self {
        RuleLoad {
            site: !cli.no_site_rules,
            dirs: cli.rules_dirs.clone(),
        }
    }
}

/// The rule set in force for `check` and `rules`.
pub fn load_rules(cli: &Cli, err: &mut dyn Write) -> RuleSet {
    load_rule_dirs(&RuleLoad::from(cli), err)
}

/// The rule set in force: built-in rules, then the site directory, then
/// the other directories. A broken file never stops the others: its errors
/// are printed loudly and the valid rules stay in force.
pub fn load_rule_dirs(load: &RuleLoad, err: &mut dyn Write) -> RuleSet {
    load_rule_dirs_counted(load, err).0
}

/// [`load_rule_dirs`], also returning how many errors were reported.
pub fn load_rule_dirs_counted(load: &RuleLoad, err: &mut dyn Write) -> (RuleSet, usize) {
    let mut set = RuleSet::builtin();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if load.site {
        dirs.push(site_rules_dir());
    }
    dirs.extend(load.dirs.iter().cloned());
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
    (set, failed)
}

fn read_input(path: &Path) -> Result<String, CliError> {
    if path == Path::new("-") {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .map_err(|source| CliError::Read {
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
                RulesCommand::List { json } => rules::list(&rules, *json, &mut out)?,
                RulesCommand::Show { id } => rules::show(&rules, id, &mut out)?,
                RulesCommand::Lint { files } if files.is_empty() => {
                    // The rule files in force: the site directory and --rules.
                    let mut dirs = Vec::new();
                    if !cli.no_site_rules {
                        dirs.push(site_rules_dir());
                    }
                    dirs.extend(cli.rules_dirs.iter().cloned());
                    dirs.retain(|d| d.is_dir());
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
                RulesCommand::Test { files } => rules::test(&rules, files, &mut out)?,
            };
            Ok(code)
        }
        Some(Command::Config) => {
            let loaded = load_config(&cli, true, &mut err)?;
            write!(out, "{}", config::render(&loaded))?;
            Ok(0)
        }
        Some(Command::Audit(args)) => {
            let mut default_log = || -> Result<PathBuf, CliError> {
                let loaded = load_config(&cli, false, &mut io::stderr())?;
                audit::default_log(&loaded.config).map_err(CliError::Usage)
            };
            audit::run(args, &mut default_log, &mut out, &mut err)
        }
        Some(Command::Completions { shell }) => {
            crate::cmd::man::completions(*shell, &mut out)?;
            Ok(0)
        }
        Some(Command::Man(args)) => Ok(crate::cmd::man::run(args, &mut out)?),
        None => {
            let (mode, target) = match (&cli.line, cli.argv.is_empty()) {
                (Some(line), _) => (Mode::DashC, Target::Line(line.clone())),
                (None, false) => (Mode::Argv, Target::Argv(cli.argv.clone())),
                (None, true) => {
                    drop(out);
                    return Ok(crate::shell::run(&cli, &mut err));
                }
            };
            let request = Request {
                mode,
                target,
                reason: cli.reason.clone(),
                confirm: cli.confirm.clone(),
            };
            drop(out);
            Ok(run_request_with_system(&cli, &request, &mut err))
        }
    }
}

/// Reads the configuration. For commands that only look (`config`), a
/// broken file is an error; for running commands it is reported loudly
/// and the defaults apply, so a bad file never locks anyone out.
fn load_config(cli: &Cli, strict: bool, err: &mut dyn Write) -> Result<Loaded, CliError> {
    let env_path = std::env::var_os(config::ENV_VAR).map(PathBuf::from);
    match config::load(cli.config.as_deref(), env_path.as_deref()) {
        Ok(loaded) => Ok(loaded),
        Err(e) if strict => Err(CliError::Usage(e.to_string())),
        Err(e) => {
            let _ = writeln!(
                err,
                "safe-run: configuration error: {e}\nsafe-run: WARNING: using the built-in defaults until the configuration is fixed."
            );
            Ok(Loaded::defaults())
        }
    }
}

fn audit_path(config: &Config) -> Result<PathBuf, String> {
    let xdg = std::env::var("XDG_STATE_HOME").ok();
    let home = std::env::var("HOME").ok();
    let candidates = config::default_audit_paths(xdg.as_deref(), home.as_deref());
    recorder::resolve_log_path(config.audit.path.as_deref(), &candidates)
}

/// The policy in force, from the configuration and this host.
pub fn policy_from(config: &Config, identity: &Identity, color: bool) -> Policy {
    let level = |a: config::Ask| match a {
        config::Ask::Run => LevelAction::Run,
        config::Ask::Notice => LevelAction::Notice,
        config::Ask::ConfirmYes => LevelAction::ConfirmYes,
        config::Ask::ConfirmHost => LevelAction::ConfirmHost,
        config::Ask::Deny => LevelAction::Deny,
    };
    let c = &config.confirm;
    Policy {
        low: level(c.low),
        medium: level(c.medium),
        high: level(c.high),
        critical: level(c.critical),
        reason_min: c.reason_min_chars,
        reason_min_critical: c.critical_reason_min_chars.max(c.reason_min_chars),
        reason_pattern: c
            .reason_pattern
            .as_ref()
            .and_then(|p| regex::Regex::new(p.as_str()).ok()),
        host: identity.host.clone(),
        env_label: config.environment.name.clone(),
        env_color: format!("1;{}", config.environment.color.ansi_fg()),
        shell: config.shell.program.display().to_string(),
        preview_timeout: config.preview.timeout,
        preview_lines: config.preview.max_lines,
        color,
        width: terminal_width(),
    }
}

/// Everything a running session needs from the system, built once: the
/// configuration, the rules in force, who and where we are, the policy and
/// the audit recorder. The interactive shell keeps one for its lifetime.
pub struct System {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub rules: RuleSet,
    /// How many rule errors were reported while loading (0 when all loaded).
    pub rule_errors: usize,
    pub identity: Identity,
    pub policy: Policy,
    pub recorder: Recorder,
}

impl System {
    /// Loads everything; problems are reported on `err` and never stop a
    /// session (the built-in defaults and every valid rule stay in force).
    pub fn load(cli: &Cli, err: &mut dyn Write) -> System {
        let loaded = load_config(cli, false, err).unwrap_or_else(|_| Loaded::defaults());
        let config = loaded.config;
        let mut cli_rules = RuleLoad::from(cli);
        cli_rules.dirs.extend(config.rules.dirs.iter().cloned());
        let (mut rules, rule_errors) = load_rule_dirs_counted(&cli_rules, err);
        let unknown = if config.rules.disable.is_empty() {
            Vec::new()
        } else {
            rules.disable(&config.rules.disable)
        };
        for id in unknown {
            let _ = writeln!(
                err,
                "safe-run: warning: [rules] disable names {id:?}, which is not a rule in force"
            );
        }
        let identity = identity::current();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match config.color {
            config::ColorChoice::Always => true,
            config::ColorChoice::Never => false,
            config::ColorChoice::Auto => !no_color && io::stderr().is_terminal(),
        };
        let policy = policy_from(&config, &identity, color);
        let fsync = match config.audit.fsync {
            config::Fsync::Risky => FsyncPolicy::Risky,
            config::Fsync::Always => FsyncPolicy::Always,
            config::Fsync::Never => FsyncPolicy::Never,
        };
        let syslog_target = config.syslog.enabled.then(|| SyslogTarget {
            socket: config.syslog.socket.clone(),
            facility: config.syslog.facility.to_syslog(),
        });
        let recorder = Recorder::new(
            audit_path(&config),
            fsync,
            config.audit.wait,
            syslog_target,
            &identity,
        );
        System {
            config,
            config_path: loaded.path,
            rules,
            rule_errors,
            identity,
            policy,
            recorder,
        }
    }

    /// Runs one request with the real terminal, runner and previewer.
    pub fn run(
        &mut self,
        request: &Request,
        runner: &mut dyn pipeline::Runner,
        err: &mut dyn Write,
    ) -> i32 {
        let mut tty = TtyPrompter::open().ok();
        let mut previewer = preview::run_preview;
        let mut io = Io {
            prompter: tty.as_mut().map(|t| t as &mut dyn Prompter),
            err,
            audit: &mut self.recorder,
            runner,
            previewer: &mut previewer,
        };
        pipeline::run_request(request, &self.rules, &self.policy, &mut io)
    }
}

/// Runs one request with the real terminal, log, runner and previewer.
fn run_request_with_system(cli: &Cli, request: &Request, err: &mut dyn Write) -> i32 {
    let mut system = System::load(cli, err);
    system.run(request, &mut ProcessRunner, err)
}
