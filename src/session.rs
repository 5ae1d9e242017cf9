//! The resolved run-time objects of one invocation: the configuration in
//! force, the rules in force, who and where we are, the policy, the audit
//! recorder and the terminal facts (colour, width). Built once, at the
//! edge, from what the command line and the environment asked for
//! ([`Sources`], [`EnvSources`]); the interactive shell keeps one for its
//! lifetime.
//!
//! [`load_setup`] is the one way the configuration, the rules and where
//! they came from are loaded: `check`, `rules`, `config`, `audit`, `--`,
//! `-c` and the shell all go through it, so `check` answers with exactly
//! what running would use. How the invocation uses them ([`Use`]) decides
//! only whether the command line and the environment may choose them: in
//! a login shell and a `-c` session — what sshd, login and su start —
//! only where the system configuration allows it
//! (`[session] allow_overrides`).
//!
//! Loading never stops a session: a broken configuration or rule file is
//! reported loudly on `err` and the valid parts stay in force, so a bad
//! file cannot lock an operator out of the host; what a broken
//! configuration cannot say takes its strictest reading, so a bad file
//! cannot weaken the policy either. The one error is a configuration file
//! that was asked for and does not exist: by `--config`, or by
//! `SAFE_RUN_CONFIG` outside a login shell or `-c` session (where an
//! inherited variable must not stop a login).

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::audit::identity::{self, Identity};
use crate::audit::record::Provenance;
use crate::audit::recorder::{self, Recorder, SyslogTarget};
use crate::config::{self, Config, FileRead, Loaded};
use crate::confirm::{Prompter, TtyPrompter};
use crate::context::LineContext;
use crate::controls::SiteControls;
use crate::exec::Runner;
use crate::exit;
use crate::fleet::Slots;
use crate::fleet::guard::FleetGuard;
use crate::pipeline::{self, Io, Request};
use crate::policy::Policy;
use crate::preview;
use crate::rules::RuleSet;
use crate::rules::dir::load_dir;
use crate::script_files::ScriptFiles;
use crate::term::sanitize::clean;
use crate::term::{paint, width};

/// Where site rules live unless `SAFE_RUN_RULES_DIR` says otherwise.
pub const SYSTEM_RULES_DIR: &str = "/etc/safe-run/rules.d";
/// The environment variable naming the site's rule directory.
pub const RULES_DIR_ENV: &str = "SAFE_RUN_RULES_DIR";

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

/// What the environment asked for; an empty value counts as unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvSources {
    /// `$SAFE_RUN_CONFIG`.
    pub config: Option<PathBuf>,
    /// `$SAFE_RUN_RULES_DIR`.
    pub rules_dir: Option<PathBuf>,
}

impl EnvSources {
    /// Reads `SAFE_RUN_CONFIG` and `SAFE_RUN_RULES_DIR`.
    pub fn from_env() -> EnvSources {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        EnvSources {
            config: var(config::ENV_VAR),
            rules_dir: var(RULES_DIR_ENV),
        }
    }
}

/// The site's own files: the system configuration and rule directory.
#[derive(Clone, Debug)]
pub struct SitePaths {
    pub config: PathBuf,
    pub rules_dir: PathBuf,
}

impl Default for SitePaths {
    fn default() -> Self {
        SitePaths {
            config: PathBuf::from(config::SYSTEM_CONFIG),
            rules_dir: PathBuf::from(SYSTEM_RULES_DIR),
        }
    }
}

/// How this invocation uses what it loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// `check`, `rules`, `config`, `audit`: nothing runs.
    Look,
    /// `safe-run -- PROG ARGS…`: one program, typically from a script.
    Argv,
    /// The interactive shell, started by hand.
    Shell,
    /// A login shell (`-l`, or `argv[0]` starting with `-`), as sshd and
    /// login start it.
    Login,
    /// `safe-run -c LINE`: how sshd, su, scp and rsync run a command
    /// through the login shell.
    DashC,
}

impl Use {
    /// Whether the command line and the environment need the site's
    /// permission to choose the configuration and the rules. Only for the
    /// sessions that the system starts on a person's behalf, where an
    /// override would come from an inherited environment (pam_env, sshd's
    /// AcceptEnv, a profile) rather than from what the person typed.
    pub fn guarded(self) -> bool {
        matches!(self, Use::Login | Use::DashC)
    }

    fn describe(self) -> &'static str {
        match self {
            Use::Login => "a login shell",
            Use::DashC => "a -c session",
            Use::Shell => "the shell",
            Use::Argv => "safe-run --",
            Use::Look => "this command",
        }
    }
}

/// The overrides asked for, as they were written.
fn overrides_asked(sources: &Sources, env: &EnvSources) -> Vec<String> {
    let shown = |p: &Path| clean(&p.display().to_string(), false);
    let mut asked = Vec::new();
    if let Some(p) = &sources.config {
        asked.push(format!("--config {}", shown(p)));
    }
    if let Some(p) = &env.config {
        asked.push(format!("{}={}", config::ENV_VAR, shown(p)));
    }
    for d in &sources.rule_dirs {
        asked.push(format!("--rules {}", shown(d)));
    }
    if !sources.site_rules {
        asked.push("--no-site-rules".into());
    }
    if let Some(p) = &env.rules_dir {
        asked.push(format!("{RULES_DIR_ENV}={}", shown(p)));
    }
    asked
}

/// Whether overrides are honoured. `system` is the system configuration
/// file's `session.allow_overrides`, or `None` when there is no such file:
/// a host without one (a build from source, a test machine) has no site
/// policy to protect beyond the built-in defaults, and no other way to be
/// configured without root. The package ships the file. Pure.
pub fn overrides_allowed(usage: Use, system: Option<bool>) -> bool {
    !usage.guarded() || system.unwrap_or(true)
}

/// Where the configuration file in force was chosen from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConfigFrom {
    Flag,
    Env,
    System,
}

impl ConfigFrom {
    fn as_str(self) -> &'static str {
        match self {
            ConfigFrom::Flag => "--config",
            ConfigFrom::Env => config::ENV_VAR,
            ConfigFrom::System => "system",
        }
    }
}

/// The configuration in force and how it was chosen.
struct ConfigInForce {
    loaded: Loaded,
    from: ConfigFrom,
    problem: bool,
    /// The sources that were honoured (the site's own when overrides were
    /// not allowed).
    sources: Sources,
    env: EnvSources,
    /// Overrides asked for and not honoured.
    ignored: Vec<String>,
    /// Overrides asked for and honoured.
    overridden: bool,
}

/// Prints a configuration problem and what is in force instead.
fn report_config_problem(read: &FileRead, err: &mut dyn Write) {
    let Some(problem) = &read.problem else {
        return;
    };
    let _ = writeln!(err, "safe-run: configuration error: {problem}");
    let path = read
        .loaded
        .path
        .as_deref()
        .map(|p| clean(&p.display().to_string(), false))
        .unwrap_or_default();
    let strict = read.loaded.strict_settings();
    let what = if read.unusable {
        format!(
            "safe-run: WARNING: {path} cannot be used, so the strictest policy is in force: every risky line is refused ({}) until the file is fixed. Lines with no finding still run, so it can be fixed from here.",
            strict.join(", ")
        )
    } else if strict.is_empty() {
        format!(
            "safe-run: WARNING: {path} has errors: its valid settings are in force, the broken ones are at their defaults."
        )
    } else {
        format!(
            "safe-run: WARNING: {path} has errors: its valid settings are in force, and what it meant to set but cannot be read is at its strictest reading: {}.",
            strict.join(", ")
        )
    };
    let _ = writeln!(
        err,
        "{what}\n  Fix the file; `safe-run config` shows every setting in force and where it came from."
    );
}

/// Reads the configuration in force for `usage`: decides whether the
/// command line and the environment may choose it, picks the file
/// (`--config`, else `SAFE_RUN_CONFIG`, else the system file), reads it
/// keeping its valid parts, and reports every problem on `err`.
fn load_config_in_force(
    sources: &Sources,
    env: &EnvSources,
    usage: Use,
    site: &SitePaths,
    err: &mut dyn Write,
) -> Result<ConfigInForce, exit::Error> {
    let asked = overrides_asked(sources, env);
    let mut system_read = None;
    let honoured = if asked.is_empty() || !usage.guarded() {
        true
    } else {
        let read = config::read_file(&site.config, false);
        let allows = read
            .loaded
            .path
            .is_some()
            .then_some(read.loaded.config.session.allow_overrides);
        system_read = Some(read);
        overrides_allowed(usage, allows)
    };
    let (sources, env, ignored) = if honoured {
        (sources.clone(), env.clone(), Vec::new())
    } else {
        let _ = writeln!(
            err,
            "safe-run: WARNING: not honoured in {}: {}. The site's configuration ({}) does not allow overrides here ([session] allow_overrides = false): the site's own configuration and rules are in force.",
            usage.describe(),
            asked.join(", "),
            clean(&site.config.display().to_string(), false)
        );
        let site_only = Sources {
            config: None,
            site_rules: true,
            rule_dirs: Vec::new(),
        };
        (site_only, EnvSources::default(), asked.clone())
    };
    let (path, from) = match (&sources.config, &env.config) {
        (Some(p), _) => (p.clone(), ConfigFrom::Flag),
        (None, Some(p)) => (p.clone(), ConfigFrom::Env),
        (None, None) => (site.config.clone(), ConfigFrom::System),
    };
    let read = match (from, system_read) {
        (ConfigFrom::System, Some(read)) => read,
        _ => config::read_file(&path, from != ConfigFrom::System),
    };
    if read.is_missing() {
        let missing = read
            .problem
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        match from {
            ConfigFrom::Flag => {
                return Err(exit::Error::Usage(format!(
                    "{missing}\n  --config names a file that does not exist: check the path, or leave --config out to use {}.",
                    clean(&site.config.display().to_string(), false)
                )));
            }
            ConfigFrom::Env if !usage.guarded() => {
                return Err(exit::Error::Usage(format!(
                    "{missing}\n  {} names a file that does not exist: check the path, or unset it.",
                    config::ENV_VAR
                )));
            }
            // A login must not fail over an inherited variable: the file
            // is reported and the strictest policy applies.
            _ => {}
        }
    }
    report_config_problem(&read, err);
    Ok(ConfigInForce {
        problem: read.problem.is_some(),
        loaded: read.loaded,
        from,
        sources,
        env,
        ignored,
        overridden: honoured && !asked.is_empty(),
    })
}

/// Everything loaded from files that decides what a line asks: the
/// configuration and the rules in force, and where they came from.
pub struct Setup {
    pub loaded: Loaded,
    pub rules: RuleSet,
    /// The rule directories read, in order.
    pub rule_dirs: Vec<PathBuf>,
    /// How many rule errors were reported (0 when all loaded).
    pub rule_errors: usize,
    pub provenance: Provenance,
}

impl Setup {
    /// The policy in force, with where it came from.
    pub fn policy(&self, host: &str, color: bool, width: usize) -> Policy {
        let mut policy = Policy::from_config(&self.loaded.config, host, color, width);
        policy.provenance = self.provenance.clone();
        policy
    }
}

/// Loads the configuration and the rules in force, for every command
/// alike (see the module's header). Problems are reported on `err`; the
/// only error is a `--config` file (or, outside login and `-c` sessions,
/// a `SAFE_RUN_CONFIG` file) that does not exist.
pub fn load_setup(
    sources: &Sources,
    env: &EnvSources,
    usage: Use,
    site: &SitePaths,
    err: &mut dyn Write,
) -> Result<Setup, exit::Error> {
    let cfg = load_config_in_force(sources, env, usage, site, err)?;
    let config = &cfg.loaded.config;
    let mut dirs = Vec::new();
    if cfg.sources.site_rules {
        dirs.push(cfg.env.rules_dir.clone().unwrap_or(site.rules_dir.clone()));
    }
    dirs.extend(cfg.sources.rule_dirs.iter().cloned());
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
            "safe-run: warning: [rules] disable names {:?}, which is not a rule in force",
            clean(&id, false)
        );
    }
    let provenance = Provenance {
        config: cfg
            .loaded
            .path
            .as_ref()
            .map_or_else(|| "default".to_string(), |p| p.display().to_string()),
        config_from: match (cfg.from, &cfg.loaded.path) {
            (ConfigFrom::System, None) => "none".to_string(),
            (from, _) => from.as_str().to_string(),
        },
        config_errors: cfg.problem,
        strict: cfg.loaded.strict_settings(),
        rule_dirs: dirs.iter().map(|d| d.display().to_string()).collect(),
        site_rules: cfg.sources.site_rules,
        disabled: config.rules.disable.clone(),
        rule_errors,
        ignored: cfg.ignored.clone(),
        overridden: cfg.overridden,
    };
    Ok(Setup {
        loaded: cfg.loaded,
        rules,
        rule_dirs: dirs,
        rule_errors,
        provenance,
    })
}

/// Only the configuration in force, for the commands that need nothing
/// else (`config`, `audit`): the same choice and reading as
/// [`load_setup`]. Also says whether the file has a problem.
pub fn load_config(
    sources: &Sources,
    env: &EnvSources,
    usage: Use,
    site: &SitePaths,
    err: &mut dyn Write,
) -> Result<(Loaded, bool), exit::Error> {
    load_config_in_force(sources, env, usage, site, err).map(|c| (c.loaded, c.problem))
}

/// The rule set in force: built-in rules, then each directory in order
/// (`rules::dir`). A broken or refused file never stops the others: its errors are printed
/// loudly and the valid rules stay in force. Also returns how many errors
/// were reported.
fn load_rules(dirs: &[PathBuf], err: &mut dyn Write) -> (RuleSet, usize) {
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
    /// The fleet's slots, when `[fleet] groups` puts this host in a group.
    pub fleet: Option<FleetGuard>,
    /// The change controls: freezes, approvals.
    pub controls: SiteControls,
}

impl Session {
    /// Loads everything; problems are reported on `err` and never stop a
    /// session (every valid setting and rule stays in force, and what a
    /// broken configuration cannot say is at its strictest reading). The
    /// one error is a `--config` file that does not exist.
    pub fn load(
        sources: &Sources,
        usage: Use,
        err: &mut dyn Write,
    ) -> Result<Session, exit::Error> {
        let setup = load_setup(
            sources,
            &EnvSources::from_env(),
            usage,
            &SitePaths::default(),
            err,
        )?;
        let identity = identity::current();
        let config = &setup.loaded.config;
        let color = paint::use_color(
            config.color,
            paint::no_color_env(),
            io::stderr().is_terminal(),
        );
        let policy = setup.policy(&identity.who.host, color, width::of_stderr());
        let syslog_target = config.syslog.sends().then(|| SyslogTarget {
            socket: config.syslog.socket.clone(),
            facility: config.syslog.facility,
        });
        let mut recorder = Recorder::new(
            audit_path(config),
            config.audit.fsync,
            config.audit.wait,
            syslog_target,
            &identity,
        );
        recorder.set_sources(policy.provenance.clone());
        let fleet = config.fleet.active().then(|| {
            FleetGuard::new(
                &config.fleet,
                &identity.who.host,
                &identity.who.user,
                recorder::now,
            )
        });
        let shown = identity
            .who
            .login_user
            .clone()
            .unwrap_or_else(|| identity.who.user.clone());
        // The approval check knows the requester by every name they may
        // go by here, not only the one shown: SUDO_USER may name anyone.
        let requester = crate::controls::requester_names(
            &shown,
            &identity.who.user,
            crate::audit::identity::login_uid_user().as_deref(),
            std::env::var("SUDO_USER").ok().as_deref(),
        );
        let controls = SiteControls::new(config, requester, recorder.log_path().ok());
        let mut session = Session {
            config: setup.loaded.config,
            config_path: setup.loaded.path,
            rules: setup.rules,
            rule_errors: setup.rule_errors,
            identity,
            policy,
            recorder,
            fleet,
            controls,
        };
        let mode = match usage {
            Use::DashC => crate::verdict::Mode::DashC,
            Use::Argv => crate::verdict::Mode::Argv,
            _ => crate::verdict::Mode::Shell,
        };
        session.release_after_boot(mode, err);
        Ok(session)
    }

    /// Gives back a fleet slot this host kept over its reboot, now that it
    /// is back (docs/FLEET.md), and records it.
    fn release_after_boot(&mut self, mode: crate::verdict::Mode, err: &mut dyn Write) {
        let Some(fleet) = self.fleet.as_mut() else {
            return;
        };
        let record = match fleet.release_after_boot() {
            Ok(Some(record)) => record,
            Ok(None) => return,
            // Never keep a session from starting over a note.
            Err(e) => {
                let _ = writeln!(
                    err,
                    "safe-run: warning: this host's note of a fleet slot kept over a reboot cannot be used: {}\n  Nothing is given back now; `safe-run release` gives this host's slots back by hand.",
                    clean(&e, false)
                );
                return;
            }
        };
        let groups = record.groups.join(", ");
        match &record.error {
            None => {
                let _ = writeln!(
                    err,
                    "safe-run: this host is back from its reboot: its fleet slot of {groups} is given back."
                );
            }
            Some(e) => {
                let _ = writeln!(
                    err,
                    "safe-run: warning: this host is back from its reboot, but its fleet slot of {groups} could not be given back: {}\n  It is tried again at the next start; `safe-run release` does it by hand.",
                    clean(e, false)
                );
            }
        }
        let recorded = self.recorder.slot_released(
            mode,
            "safe-run release",
            "the host is back from its reboot",
            &record,
        );
        if let Err(e) = recorded {
            let _ = writeln!(err, "safe-run: warning: {e}");
        }
    }

    /// `safe-run release`: gives back every fleet slot this host holds,
    /// and records it. Returns the exit status.
    pub fn release(&mut self, reason: Option<&str>, err: &mut dyn Write) -> i32 {
        let Some(fleet) = self.fleet.as_mut() else {
            let _ = writeln!(
                err,
                "safe-run: this host is in no fleet group ([fleet] groups in the configuration): it holds no slot."
            );
            return exit::OK;
        };
        let record = fleet.release_now();
        let groups = record.groups.join(", ");
        let host = clean(&fleet.host, false);
        let status = match &record.error {
            None => {
                let _ = writeln!(
                    err,
                    "safe-run: {host} holds no fleet slot of {groups} any more ({}).",
                    clean(&record.store, false)
                );
                exit::OK
            }
            Some(e) => {
                let _ = writeln!(
                    err,
                    "safe-run: the fleet slots of {groups} could not be given back: {}\n  Check the store and try again; a slot in etcd also expires with its lease.",
                    clean(e, false)
                );
                1
            }
        };
        let recorded = self.recorder.slot_released(
            crate::verdict::Mode::Argv,
            "safe-run release",
            reason.unwrap_or("given back by hand"),
            &record,
        );
        if let Err(e) = recorded {
            let _ = writeln!(err, "safe-run: warning: {e}");
        }
        status
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
            fleet: self.fleet.as_mut().map(|f| f as &mut dyn Slots),
            controls: &mut self.controls,
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
        // A fresh process: its environment is every variable there is.
        vars_complete: true,
        scripts: Some(scripts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Ask;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    /// A temp directory standing in for /etc/safe-run, and a file to
    /// override it with.
    struct Site {
        dir: tempfile::TempDir,
    }

    impl Site {
        fn new(system: Option<&str>) -> Site {
            let dir = tempfile::tempdir().unwrap();
            let site = Site { dir };
            if let Some(text) = system {
                site.write("config.toml", text);
            }
            fs::create_dir(site.dir.path().join("rules.d")).unwrap();
            site.write(
                "lax.toml",
                "[confirm]\nhigh = \"run\"\n[rules]\ndisable = [\"power-reboot\"]\n",
            );
            site
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join(name);
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            path
        }

        fn paths(&self) -> SitePaths {
            SitePaths {
                config: self.dir.path().join("config.toml"),
                rules_dir: self.dir.path().join("rules.d"),
            }
        }

        fn lax(&self) -> PathBuf {
            self.dir.path().join("lax.toml")
        }

        /// Loads for `usage` with `--config lax.toml`; returns what is in
        /// force and what was printed.
        fn load(&self, usage: Use) -> (Setup, String) {
            let sources = Sources {
                config: Some(self.lax()),
                site_rules: true,
                rule_dirs: Vec::new(),
            };
            let mut err = Vec::new();
            let setup = load_setup(
                &sources,
                &EnvSources::default(),
                usage,
                &self.paths(),
                &mut err,
            )
            .unwrap();
            (setup, String::from_utf8(err).unwrap())
        }
    }

    #[test]
    fn overrides_need_the_sites_permission_only_in_login_and_dash_c_sessions() {
        for usage in [Use::Look, Use::Argv, Use::Shell] {
            for system in [None, Some(false), Some(true)] {
                assert!(overrides_allowed(usage, system), "{usage:?} {system:?}");
            }
        }
        for usage in [Use::Login, Use::DashC] {
            assert!(overrides_allowed(usage, None), "no site file: {usage:?}");
            assert!(!overrides_allowed(usage, Some(false)), "{usage:?}");
            assert!(overrides_allowed(usage, Some(true)), "{usage:?}");
        }
    }

    #[test]
    fn overrides_are_named_as_they_were_written() {
        let sources = Sources {
            config: Some("/a.toml".into()),
            site_rules: false,
            rule_dirs: vec!["/r".into()],
        };
        let env = EnvSources {
            config: Some("/b.toml".into()),
            rules_dir: Some("/d".into()),
        };
        assert_eq!(
            overrides_asked(&sources, &env),
            [
                "--config /a.toml",
                "SAFE_RUN_CONFIG=/b.toml",
                "--rules /r",
                "--no-site-rules",
                "SAFE_RUN_RULES_DIR=/d"
            ]
        );
        let none = Sources {
            site_rules: true,
            ..Sources::default()
        };
        assert!(overrides_asked(&none, &EnvSources::default()).is_empty());
    }

    #[test]
    fn a_login_session_ignores_an_override_the_site_does_not_allow() {
        let site = Site::new(Some("[confirm]\nmedium = \"confirm-host\"\n"));
        let (setup, err) = site.load(Use::DashC);
        assert_eq!(
            setup.loaded.path.as_deref(),
            Some(site.paths().config.as_path())
        );
        assert_eq!(setup.loaded.config.confirm.high, Ask::ConfirmHost);
        assert!(setup.rules.get("power-reboot").is_some());
        assert!(
            err.contains("not honoured in a -c session: --config"),
            "{err}"
        );
        assert_eq!(setup.provenance.config_from, "system");
        assert_eq!(setup.provenance.ignored.len(), 1);
        assert!(!setup.provenance.overridden);
        // The same override, where the person typed it: honoured.
        let (setup, err) = site.load(Use::Argv);
        assert_eq!(setup.loaded.config.confirm.high, Ask::Run);
        assert!(setup.rules.get("power-reboot").is_none());
        assert!(err.is_empty(), "{err}");
        assert_eq!(setup.provenance.config_from, "--config");
        assert!(setup.provenance.overridden);
    }

    #[test]
    fn a_site_that_allows_overrides_gets_them_in_login_sessions() {
        let site = Site::new(Some("[session]\nallow_overrides = true\n"));
        let (setup, err) = site.load(Use::Login);
        assert_eq!(setup.loaded.config.confirm.high, Ask::Run);
        assert!(err.is_empty(), "{err}");
        // A broken system file allows nothing (the strictest reading).
        let site = Site::new(Some("[session]\nallow_overrides = \"yes\"\n"));
        let (setup, _) = site.load(Use::Login);
        assert_eq!(setup.loaded.config.confirm.high, Ask::ConfirmHost);
        // No system file at all: nothing to protect, honoured.
        let site = Site::new(None);
        let (setup, _) = site.load(Use::Login);
        assert_eq!(setup.loaded.config.confirm.high, Ask::Run);
    }

    #[test]
    fn a_missing_config_flag_is_an_error_and_a_missing_variable_is_strict_at_login() {
        let site = Site::new(None);
        let gone = site.dir.path().join("gone.toml");
        let flag = Sources {
            config: Some(gone.clone()),
            site_rules: true,
            rule_dirs: Vec::new(),
        };
        for usage in [Use::Look, Use::Argv, Use::Shell, Use::Login, Use::DashC] {
            let result = load_setup(
                &flag,
                &EnvSources::default(),
                usage,
                &site.paths(),
                &mut io::sink(),
            );
            assert!(
                matches!(&result, Err(exit::Error::Usage(m)) if m.contains("does not exist")),
                "{usage:?}"
            );
        }
        let env = EnvSources {
            config: Some(gone),
            rules_dir: None,
        };
        let site_only = Sources {
            site_rules: true,
            ..Sources::default()
        };
        let looked = load_setup(&site_only, &env, Use::Argv, &site.paths(), &mut io::sink());
        assert!(looked.is_err());
        let mut err = Vec::new();
        let login = load_setup(&site_only, &env, Use::Login, &site.paths(), &mut err).unwrap();
        assert_eq!(login.loaded.config.confirm.low, Ask::Deny);
        assert!(String::from_utf8_lossy(&err).contains("strictest policy"));
    }

    #[test]
    fn sources_name_the_rule_directories_and_disabled_rules() {
        let site = Site::new(Some(
            "[rules]\ndisable = [\"power-reboot\"]\ndirs = [\"/nonexistent-extra\"]\n",
        ));
        let sources = Sources {
            config: None,
            site_rules: true,
            rule_dirs: vec!["/nonexistent-cli".into()],
        };
        let setup = load_setup(
            &sources,
            &EnvSources::default(),
            Use::Look,
            &site.paths(),
            &mut io::sink(),
        )
        .unwrap();
        let p = &setup.provenance;
        assert_eq!(p.config_from, "system");
        assert_eq!(p.disabled, ["power-reboot"]);
        assert_eq!(p.rule_dirs.len(), 3);
        assert!(p.rule_dirs[0].ends_with("rules.d"));
        assert_eq!(p.rule_dirs[1], "/nonexistent-cli");
        assert_eq!(p.rule_dirs[2], "/nonexistent-extra");
        assert!(p.site_rules && p.overridden && !p.config_errors);
    }
}
