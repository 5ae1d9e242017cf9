//! The resolved run-time objects of one invocation: the configuration in
//! force, the rules in force, who and where we are, the policy, the audit
//! recorder and the terminal facts (colour, width). Built once, at the
//! edge, from what the command line asked for ([`Sources`]); the
//! interactive shell keeps one for its lifetime.
//!
//! Loading never stops a session: a broken configuration or rule file is
//! reported loudly on `err` and the valid parts stay in force, so a bad
//! file cannot lock an operator out of the host.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::audit::identity::{self, Identity};
use crate::audit::recorder::{self, Recorder, SyslogTarget};
use crate::config::{self, Config, Loaded};
use crate::confirm::{Prompter, TtyPrompter};
use crate::context::LineContext;
use crate::exec::Runner;
use crate::exit;
use crate::pipeline::{self, Io, Request};
use crate::policy::Policy;
use crate::preview;
use crate::rules::RuleSet;
use crate::rules::dir::load_dir;
use crate::script_files::ScriptFiles;
use crate::term::{paint, width};

/// Where site rules live unless `SAFE_RUN_RULES_DIR` says otherwise.
pub const SYSTEM_RULES_DIR: &str = "/etc/safe-run/rules.d";

/// What the command line asked for: a configuration file, extra rule
/// directories, and whether the site's rule directory is read.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// Read the site's rule directory (not `--no-site-rules`).
    pub site_rules: bool,
    /// `--rules DIR`, in order.
    pub rule_dirs: Vec<PathBuf>,
}

/// The site's rule directory: `$SAFE_RUN_RULES_DIR`, else /etc/safe-run/rules.d.
pub fn site_rules_dir() -> PathBuf {
    std::env::var_os("SAFE_RUN_RULES_DIR")
        .map_or_else(|| PathBuf::from(SYSTEM_RULES_DIR), PathBuf::from)
}

/// The rule directories in force: the site's (unless turned off), then
/// the ones given on the command line.
pub fn rule_dirs(sources: &Sources) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if sources.site_rules {
        dirs.push(site_rules_dir());
    }
    dirs.extend(sources.rule_dirs.iter().cloned());
    dirs
}

/// The rule set in force: built-in rules, then the site directory, then
/// the other directories. A broken file never stops the others: its errors
/// are printed loudly and the valid rules stay in force. Also returns how
/// many errors were reported.
pub fn load_rules(dirs: &[PathBuf], err: &mut dyn Write) -> (RuleSet, usize) {
    let mut set = RuleSet::builtin();
    let mut failed = 0;
    for dir in dirs {
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

/// Reads the configuration. For commands that only look (`config`), a
/// broken file is an error; for running commands it is reported loudly
/// and the defaults apply, so a bad file never locks anyone out.
pub fn load_config(
    path: Option<&Path>,
    strict: bool,
    err: &mut dyn Write,
) -> Result<Loaded, exit::Error> {
    let env_path = std::env::var_os(config::ENV_VAR).map(PathBuf::from);
    match config::load(path, env_path.as_deref()) {
        Ok(loaded) => Ok(loaded),
        Err(e) if strict => Err(exit::Error::Usage(e.to_string())),
        Err(e) => {
            let _ = writeln!(
                err,
                "safe-run: configuration error: {e}\nsafe-run: WARNING: using the built-in defaults until the configuration is fixed."
            );
            Ok(Loaded::defaults())
        }
    }
}

/// The audit log this user writes: `[audit] path`, else the first usable
/// default (the system log, then the user's state directory).
fn audit_path(config: &Config) -> Result<PathBuf, String> {
    let xdg = std::env::var("XDG_STATE_HOME").ok();
    let home = std::env::var("HOME").ok();
    let candidates = config::default_audit_paths(xdg.as_deref(), home.as_deref());
    recorder::resolve_log_path(config.audit.path.as_deref(), &candidates)
}

/// Everything a running session needs from the system, built once.
pub struct Session {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub rules: RuleSet,
    /// How many rule errors were reported while loading (0 when all loaded).
    pub rule_errors: usize,
    pub identity: Identity,
    pub policy: Policy,
    pub recorder: Recorder,
}

impl Session {
    /// Loads everything; problems are reported on `err` and never stop a
    /// session (the built-in defaults and every valid rule stay in force).
    pub fn load(sources: &Sources, err: &mut dyn Write) -> Session {
        let loaded = load_config(sources.config.as_deref(), false, err)
            .unwrap_or_else(|_| Loaded::defaults());
        let config = loaded.config;
        let mut dirs = rule_dirs(sources);
        dirs.extend(config.rules.dirs.iter().cloned());
        let (mut rules, rule_errors) = load_rules(&dirs, err);
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
        let color = paint::use_color(
            config.color,
            paint::no_color_env(),
            io::stderr().is_terminal(),
        );
        let policy = Policy::from_config(&config, &identity.who.host, color, width::of_stderr());
        let syslog_target = config.syslog.enabled.then(|| SyslogTarget {
            socket: config.syslog.socket.clone(),
            facility: config.syslog.facility,
        });
        let recorder = Recorder::new(
            audit_path(&config),
            config.audit.fsync,
            config.audit.wait,
            syslog_target,
            &identity,
        );
        Session {
            config,
            config_path: loaded.path,
            rules,
            rule_errors,
            identity,
            policy,
            recorder,
        }
    }

    /// Runs one request with the real terminal and previewer, judged where
    /// this process runs (its directory and environment; `-c` and `--`).
    pub fn run(&mut self, request: &Request, runner: &mut dyn Runner, err: &mut dyn Write) -> i32 {
        let mut tty = TtyPrompter::open().ok();
        let mut previewer = preview::run_preview;
        let scripts = ScriptFiles::default();
        let place = process_context(&scripts);
        let mut io = Io {
            prompter: tty.as_mut().map(|t| t as &mut dyn Prompter),
            err,
            audit: &mut self.recorder,
            runner,
            previewer: &mut previewer,
            place: &place,
        };
        pipeline::run_request(request, &self.rules, &self.policy, &mut io)
    }
}

/// Where this process runs, for `-c` and `--`: its working directory (as
/// `$PWD` spells it when that names the same place), its environment, its
/// home, and the scripts a line runs read from the file system.
fn process_context(scripts: &ScriptFiles) -> LineContext<'_> {
    let cwd = std::env::current_dir().ok();
    let pwd = std::env::var("PWD").ok().filter(|p| {
        Path::new(p).is_absolute()
            && cwd
                .as_ref()
                .is_some_and(|c| std::fs::canonicalize(p).ok().as_ref() == Some(c))
    });
    LineContext {
        cwd: pwd.or_else(|| cwd.and_then(|c| c.to_str().map(str::to_string))),
        home: std::env::var("HOME").ok().filter(|h| h.starts_with('/')),
        vars: std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect(),
        scripts: Some(scripts),
    }
}
