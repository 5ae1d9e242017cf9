//! The interactive shell: `safe-run` on a terminal, or as a login shell.
//!
//! A thin loop around the same pipeline as `safe-run -c`: read a line
//! (rustyline on a terminal, plain reads from a pipe), handle safe-run's
//! own commands (`help`, `check`, `rules`, `history`, `exit`), and send
//! everything else through parse → classify → confirm → audit → run in
//! `Mode::Shell`. Nothing typed here reaches a shell without the checks.
//!
//! The parts that needed design live in their own modules:
//! - `bash`: the session's one long-lived bash, which runs the approved
//!   lines and so keeps the directory, variables, aliases, functions and
//!   jobs from one line to the next; `state`: safe-run's mirror of it;
//! - `expand`: a line is checked through the aliases and functions it
//!   calls; `jobs`: a job's end goes to the audit log;
//! - `foreground`: the line in the terminal's foreground, terminal modes
//!   restored; `history`: history expansion, ignorespace, redaction;
//! - `editor`, `hint`, `complete`: the live risk hint, multi-line input,
//!   key bindings and completion.
//!
//! docs/SHELL.md is the operator's description of all this.

pub(crate) mod bash;
pub(crate) mod complete;
pub(crate) mod editor;
pub(crate) mod expand;
pub(crate) mod foreground;
pub mod hint;
pub(crate) mod history;
pub(crate) mod jobs;
pub(crate) mod state;

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::stat::{Mode as FileMode, umask};
use nix::unistd::{Pid, geteuid, tcgetpgrp};
use rustyline::config::Configurer;
use rustyline::config::{ColorMode, CompletionType, EditMode};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Cmd, Config as EditorConfig, Editor, KeyEvent};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};
use signal_hook::iterator::Signals;

use crate::audit::recorder::{AuditSink, DecisionInfo, PROBE_WAIT, Recorder, SinkError};
use crate::cmd::check;
use crate::cmd::rules;
use crate::config::{self, PromptValues};
use crate::confirm::{Prompter, TtyPrompter, short_host};
use crate::controls::{Controls, SiteControls};
use crate::exec::Outcome;
use crate::exit;
use crate::parse::parse_line;
use crate::pipeline::{self, Io, Request, Target};
use crate::policy::Policy;
use crate::preview;
use crate::rules::RuleSet;
use crate::script_files::ScriptFiles;
use crate::session::Session;
use crate::shell::bash::SessionBash;
use crate::shell::editor::ShellHelper;
use crate::shell::foreground::{ForegroundRunner, Terminal};
use crate::shell::jobs::{During, Finished, Jobs};
use crate::shell::state::{ShellState, login_environment};
use crate::term::paint::{self, ColorChoice, Style};
use crate::term::sanitize::clean;
use crate::verdict::{Mode, Risk};

/// How long the login profile may take to produce the environment.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Lines kept in the history file.
const HISTORY_SIZE: usize = 5000;

/// Status of a line cancelled with Ctrl-C at the prompt (as bash).
const INTERRUPTED: i32 = 130;

/// The operator's own start-up file, in the home directory.
pub const RC_FILE: &str = ".safe-runrc";

/// The rc file is read whole; a larger one is not run.
const RC_MAX: u64 = 1 << 20;

/// Everything a line needs besides its text.
struct Shell<'s> {
    rules: &'s RuleSet,
    policy: &'s Policy,
    recorder: &'s mut Recorder,
    /// The fleet's slots, when this host is in a group.
    fleet: Option<&'s mut crate::fleet::guard::FleetGuard>,
    state: ShellState,
    bash: Option<SessionBash>,
    jobs: Jobs,
    terminal: Option<&'s Terminal>,
    signals: &'s SignalPolicy,
    /// The session's bash ended (`exit` inside a line): its status.
    ended: Option<i32>,
    /// The change controls (freeze, approvals).
    controls: &'s mut SiteControls,
    /// What the operator was last told about the audit log.
    log_shown: Option<Result<(), String>>,
    /// `exit` was refused once because of stopped jobs.
    warned_stopped: bool,
}

/// Runs the interactive shell until `exit`, `logout` or Ctrl-D; returns the
/// exit status.
pub fn run(mut system: Session, login: bool, err: &mut dyn Write) -> i32 {
    let shell = system.policy.shell.clone();
    let mut state = ShellState::new(std::env::vars_os());
    // The signal policy holds from here on: Ctrl-C during a slow login
    // profile must not end the session before it starts.
    let terminal = Terminal::from_stdin();
    let signals = SignalPolicy::start(terminal.as_ref());
    if login {
        match login_environment(&shell, state.env(), LOGIN_TIMEOUT) {
            Ok(login) => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(&login.printed);
                let _ = out.flush();
                state.import_env(login.env);
                if let Some(mask) = login.umask {
                    umask(FileMode::from_bits_truncate(mask));
                }
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "safe-run: warning: could not read the login environment: {e}; going on with the inherited one."
                );
            }
        }
    }
    let is_bash = Path::new(&shell)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("bash"));
    let mut bash = None;
    if is_bash {
        match start_bash(&shell, &state, terminal.as_ref()) {
            Ok((b, report)) => {
                signals.bash.store(b.pid().as_raw(), Ordering::SeqCst);
                state.apply(report);
                bash = Some(b);
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "safe-run: WARNING: cannot start the session's {shell} ({e}); each line runs on its own and nothing carries over from one line to the next."
                );
            }
        }
    }
    system.recorder.set_cwd(state.cwd().display().to_string());
    let Session {
        rules,
        policy,
        recorder,
        config,
        identity,
        rule_errors,
        fleet,
        controls,
        ..
    } = &mut system;
    let mut sh = Shell {
        rules,
        policy,
        recorder,
        fleet: fleet.as_mut(),
        state,
        bash,
        jobs: Jobs::default(),
        terminal: terminal.as_ref(),
        signals: &signals,
        ended: None,
        controls,
        log_shown: None,
        warned_stopped: false,
    };
    let status = if io::stdin().is_terminal() {
        let color = use_color(config.color, &sh.state);
        let facts = BannerFacts {
            env_name: &config.environment.name,
            env_sgr: &format!("1;{}", config.environment.color.ansi_fg()),
            host: &identity.who.host,
            rules: sh.rules.len(),
            rule_errors: *rule_errors,
            shell: &shell,
            carries: sh.bash.is_some(),
        };
        let log = log_state(sh.recorder);
        let _ = write!(err, "{}", banner(&facts, sh.recorder, &log, color));
        if let Some(freeze) = crate::controls::freeze_now(sh.controls.freeze_settings()) {
            let said = format!(
                "safe-run: CHANGE FREEZE in force: {}. Lines of {} risk or more are held back unless you type break-glass.",
                clean(&freeze.describe(), false),
                sh.controls.freeze_settings().min_risk
            );
            let _ = writeln!(
                err,
                "{}",
                paint::paint(color, paint::risk_sgr(Risk::High), &said)
            );
        }
        sh.log_shown = Some(log);
        run_rc_file(&mut sh, err);
        let host = short_host(&identity.who.host).to_string();
        let prompt_facts = PromptFacts {
            format: config.shell.prompt.clone(),
            env: config.environment.name.clone(),
            env_sgr: format!("1;{}", config.environment.color.ansi_fg()),
            user: identity.who.user.clone(),
            host,
            color: config.color,
        };
        interactive(&mut sh, &prompt_facts, login, err)
    } else {
        let color = use_color(config.color, &sh.state);
        from_stdin(&mut sh, color, err)
    };
    let status = sh.ended.unwrap_or(status);
    if let Some(b) = sh.bash.take() {
        b.close();
    }
    signals.stop();
    match signals.ending() {
        Some(sig) => exit::of_signal(sig),
        None => status,
    }
}

/// Starts the session's bash in the foreground of the terminal (bash
/// waits until its group owns the terminal, then takes it).
fn start_bash(
    shell: &str,
    state: &ShellState,
    terminal: Option<&Terminal>,
) -> io::Result<(SessionBash, bash::Report)> {
    let modes = terminal.and_then(Terminal::modes);
    let started = SessionBash::start(shell, state.env(), |pid| {
        if let Some(t) = terminal {
            let _ = t.give_to(pid);
            // It may have stopped itself before it had the terminal.
            let _ = killpg(pid, Signal::SIGCONT);
        }
    });
    if let Some(t) = terminal {
        t.take_back();
        if let Some(m) = &modes {
            t.restore(m);
        }
    }
    started
}

/// What the audit log's state is now, as the recorder sees it.
fn log_state(recorder: &Recorder) -> Result<(), String> {
    recorder.probe(PROBE_WAIT).map_err(|e| e.to_string())
}

/// The session-wide signal policy. The shell itself is never stopped or
/// killed by the terminal's keys (SIGINT, SIGQUIT, SIGTSTP are caught and
/// dropped; caught, not ignored, so children still get the defaults).
/// SIGTERM and SIGHUP end the session: the line running gets the signal
/// (and SIGCONT) and the session's bash a hangup, which it passes on to
/// every job before it exits; at the prompt, the session ends at once.
struct SignalPolicy {
    /// The group running a line (the session's bash, or a line's own).
    child: Arc<AtomicI32>,
    /// The session's bash (0: none).
    bash: Arc<AtomicI32>,
    ending: Arc<AtomicI32>,
    handle: Option<signal_hook::iterator::Handle>,
}

impl SignalPolicy {
    fn start(terminal: Option<&Terminal>) -> SignalPolicy {
        let child = Arc::new(AtomicI32::new(0));
        let bash = Arc::new(AtomicI32::new(0));
        let ending = Arc::new(AtomicI32::new(0));
        let mut handle = None;
        if let Ok(mut signals) = Signals::new([SIGINT, SIGQUIT, SIGTSTP, SIGTERM, SIGHUP]) {
            handle = Some(signals.handle());
            let (child, bash, ending) =
                (Arc::clone(&child), Arc::clone(&bash), Arc::clone(&ending));
            let restore = terminal.and_then(|t| Some((t.try_clone()?, t.modes()?)));
            let tty = terminal.and_then(Terminal::try_clone);
            std::thread::spawn(move || {
                for sig in signals.forever() {
                    if sig != SIGTERM && sig != SIGHUP {
                        continue;
                    }
                    ending.store(sig, Ordering::SeqCst);
                    let Ok(s) = Signal::try_from(sig) else {
                        continue;
                    };
                    let group = child.load(Ordering::SeqCst);
                    let shell = bash.load(Ordering::SeqCst);
                    if group > 0 {
                        // The job in the foreground, if bash gave it the
                        // terminal, then bash (which passes a hangup on
                        // to its jobs and ends).
                        let fg = tty.as_ref().and_then(|t| tcgetpgrp(t.fd()).ok());
                        if let Some(fg) = fg.filter(|g| g.as_raw() != group && g.as_raw() > 0)
                            && fg != nix::unistd::getpgrp()
                        {
                            let _ = killpg(fg, s);
                            let _ = killpg(fg, Signal::SIGCONT);
                        }
                        if group == shell {
                            let _ = kill(Pid::from_raw(shell), Signal::SIGHUP);
                        } else {
                            let _ = killpg(Pid::from_raw(group), s);
                            let _ = killpg(Pid::from_raw(group), Signal::SIGCONT);
                        }
                        continue;
                    }
                    if shell > 0 {
                        let _ = kill(Pid::from_raw(shell), Signal::SIGHUP);
                    }
                    // At the prompt: put the terminal back as it was before
                    // the editor's raw mode, and go.
                    if let Some((t, modes)) = &restore {
                        t.restore(modes);
                    }
                    std::process::exit(exit::of_signal(sig));
                }
            });
        }
        SignalPolicy {
            child,
            bash,
            ending,
            handle,
        }
    }

    /// The signal that ends the session, if one came.
    fn ending(&self) -> Option<i32> {
        match self.ending.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(sig),
        }
    }

    fn stop(&self) {
        if let Some(h) = &self.handle {
            h.close();
        }
    }
}

/// safe-run's own commands, recognised only when they are the whole line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Builtin<'a> {
    Help,
    /// `check LINE` / `why LINE`: explain without running.
    Check(&'a str),
    Rules,
    History(Option<usize>),
    /// `history -c`: forget the history, in memory and on disk.
    HistoryClear,
    /// `exit [N]`, `logout`.
    Exit(Option<i32>),
}

/// Recognises a builtin. `exit` with something other than one number is
/// left to the shell, which reports it.
pub fn builtin(line: &str) -> Option<Builtin<'_>> {
    let line = line.trim();
    let (word, rest) = match line.find(char::is_whitespace) {
        Some(at) => (&line[..at], line[at..].trim()),
        None => (line, ""),
    };
    match (word, rest) {
        ("help", "") => Some(Builtin::Help),
        ("check" | "why", rest) => Some(Builtin::Check(rest)),
        ("rules", "") => Some(Builtin::Rules),
        ("history", "") => Some(Builtin::History(None)),
        ("history", "-c") => Some(Builtin::HistoryClear),
        ("history", n) => n.parse().ok().map(|n| Builtin::History(Some(n))),
        ("exit" | "logout", "") => Some(Builtin::Exit(None)),
        ("exit" | "logout", n) => n
            .parse::<i64>()
            .ok()
            .map(|n| Builtin::Exit(Some((n & 0xff) as i32))),
        _ => None,
    }
}

/// The help text of the shell.
fn help_text(shell: &str, carries: bool) -> String {
    let carry = if carries {
        "The session's bash keeps everything from one line to the next: cd, variables, aliases, functions, jobs (CMD &, jobs, fg, bg, Ctrl-Z). A call to an alias or a function is checked through what it runs."
    } else {
        "This shell is not bash, so nothing carries over from one line to the next: use `cd DIR && CMD` on one line."
    };
    format!(
        "safe-run's own commands:\n\
         \x20 help              this text\n\
         \x20 check LINE        what LINE would run and what it would ask, without running it (also: why LINE)\n\
         \x20 rules             the rules in force, one per line (`rules | grep ssh` works too)\n\
         \x20 history [N]       the lines typed (the last N); history -c forgets them\n\
         \x20 exit [N], logout  leave with status N or the last line's (Ctrl-D too)\n\
         Every other line is checked against the rules, confirmed if risky, logged, then run with {shell}.\n\
         {carry}\n\
         Keys: Tab completes, Ctrl-R searches the history, !! !$ !N recall, Alt-. the last argument, Ctrl-X Ctrl-E edits in $EDITOR, Ctrl-C clears the line (or interrupts the command running), Ctrl-D leaves.\n\
         A line typed with a leading space is not kept in the history.\n"
    )
}

/// The shell's colour choice for its prompt and hints.
fn use_color(choice: ColorChoice, state: &ShellState) -> bool {
    let no_color = state.var("NO_COLOR").is_some_and(|v| !v.is_empty()) || paint::no_color_env();
    paint::use_color(choice, no_color, io::stdout().is_terminal())
}

/// `/home/ops/x` → `~/x`.
pub fn tilde(cwd: &Path, home: Option<&Path>) -> String {
    if let Some(home) = home.filter(|h| h.is_absolute() && *h != Path::new("/"))
        && let Ok(rest) = cwd.strip_prefix(home)
    {
        if rest.as_os_str().is_empty() {
            return "~".into();
        }
        return format!("~/{}", rest.display());
    }
    cwd.display().to_string()
}

/// What the prompt is made of.
pub struct PromptParts<'a> {
    pub format: &'a str,
    pub env: &'a str,
    /// SGR parameters of the environment's colour.
    pub env_sgr: &'a str,
    pub user: &'a str,
    pub host: &'a str,
    pub cwd: &'a str,
    pub root: bool,
    pub last_status: i32,
}

/// The prompt as `(plain, styled)`: the same text, the styled one with the
/// environment label in its colour and a failed status in red. Every value
/// is cleaned, so a directory name cannot move the cursor.
pub fn prompt(p: &PromptParts<'_>) -> (String, String) {
    let env = clean(&p.env.to_uppercase(), false);
    let (user, host, cwd) = (
        clean(p.user, false),
        clean(p.host, false),
        clean(p.cwd, false),
    );
    let sigil = if p.root { "#" } else { "$" };
    let values = |env: &str| {
        config::expand_prompt(
            p.format,
            &PromptValues {
                env,
                user: &user,
                host: &host,
                cwd: &cwd,
                sigil,
            },
        )
    };
    let plain = values(&env);
    let styled = values(&paint::paint(true, p.env_sgr, &env));
    if p.last_status == 0 {
        return (plain, styled);
    }
    let status = format!("[{}] ", p.last_status);
    (
        format!("{status}{plain}"),
        format!("{}{styled}", paint::paint(true, paint::RED, &status)),
    )
}

/// What the banner names.
struct BannerFacts<'a> {
    env_name: &'a str,
    env_sgr: &'a str,
    host: &'a str,
    rules: usize,
    rule_errors: usize,
    shell: &'a str,
    carries: bool,
}

/// The banner at the start of an interactive session. It says where
/// records go only when the recorder says it can write there.
fn banner(
    f: &BannerFacts<'_>,
    recorder: &Recorder,
    log: &Result<(), String>,
    color: bool,
) -> String {
    let paint = |sgr: &str, text: &str| paint::paint(color, sgr, text);
    let label = paint(
        f.env_sgr,
        &format!("[{}]", clean(&f.env_name.to_uppercase(), false)),
    );
    let mut text = String::new();
    let logged = match (log, recorder.log_path()) {
        (Ok(()), Ok(p)) => format!(
            "every decision is logged to {}",
            clean(&p.display().to_string(), false)
        ),
        _ => "NOTHING CAN BE LOGGED".to_string(),
    };
    text.push_str(&format!(
        "safe-run: {label} {} — every command line is checked against {} rules before it runs, and {logged}.\n",
        clean(f.host, false),
        f.rules
    ));
    text.push_str("safe-run: risky commands are explained first and need a typed confirmation and a reason. Type `help` for safe-run's own commands.\n");
    if f.rule_errors > 0 {
        text.push_str(&paint(
            paint::risk_sgr(Risk::High),
            &format!(
                "safe-run: WARNING: {} rule error(s) while loading the rules (shown above): those rules are NOT in force. Every other rule is. Fix them and run `safe-run rules lint`.",
                f.rule_errors
            ),
        ));
        text.push('\n');
    }
    if let Err(e) = log {
        text.push_str(&paint(paint::risk_sgr(Risk::High), &log_warning(e)));
        text.push('\n');
    }
    if !f.carries {
        text.push_str(&format!(
            "safe-run: note: {} is not bash: cd, export and variables do not carry over from one line to the next.\n",
            clean(f.shell, false)
        ));
    }
    text
}

/// The warning for a log that cannot be written.
fn log_warning(why: &str) -> String {
    format!(
        "safe-run: WARNING: the audit log cannot be written ({}): risky commands will be refused until this is fixed.",
        clean(why, false)
    )
}

/// The audit sink of a shell line: the recorder, except that the line's
/// outcome waits when the line left a job behind (`CMD &`, Ctrl-Z): it is
/// written when the job ends (`shell::jobs`).
struct ShellAudit<'a> {
    inner: &'a mut Recorder,
    decision: Option<String>,
    defer: &'a Cell<bool>,
}

impl AuditSink for ShellAudit<'_> {
    fn decision(&mut self, info: &DecisionInfo, risky: bool) -> Result<String, SinkError> {
        let id = self.inner.decision(info, risky)?;
        self.decision = Some(id.clone());
        Ok(id)
    }
    fn outcome(&mut self, id: &str, outcome: &Outcome) -> Result<(), SinkError> {
        if self.defer.get() {
            return Ok(());
        }
        self.inner.outcome(id, outcome)
    }
    fn outcome_with_slot(
        &mut self,
        id: &str,
        outcome: &Outcome,
        slot: Option<&crate::audit::record::SlotRecord>,
    ) -> Result<(), SinkError> {
        if self.defer.get() {
            return Ok(());
        }
        self.inner.outcome_with_slot(id, outcome, slot)
    }
    fn take_warnings(&mut self) -> Vec<String> {
        self.inner.take_warnings()
    }
    fn ready(&mut self) -> Result<(), SinkError> {
        self.inner.ready()
    }
}

impl Shell<'_> {
    /// Runs one line through the pipeline, checked through the session's
    /// aliases and functions. `text` is what is logged and run.
    fn run_line(&mut self, text: &str, history: Option<&FileHistory>, err: &mut dyn Write) -> i32 {
        let request = Request {
            mode: Mode::Shell,
            target: Target::Line(text.to_string()),
            // Approval given in advance (--reason, SAFE_RUN_REASON) is for
            // one command, never for a whole session.
            reason: None,
            confirm: None,
            break_glass: false,
            approval: None,
        };
        let checked = expand::checked_text(text, &self.state.defs);
        self.warn_pending_input(checked.as_deref().unwrap_or(text), err);
        let started = Instant::now();
        let defer = Cell::new(false);
        let jobs_before = self.state.jobs.clone();
        let fed = self.feed_builtin(text, history);
        // Where the line runs: the session's directory and variables, and
        // the scripts it runs read from the file system.
        let scripts = ScriptFiles::default();
        let place = self.state.place(&scripts);
        let mut runner = ForegroundRunner {
            state: &mut self.state,
            bash: self.bash.as_mut(),
            terminal: self.terminal,
            child: &self.signals.child,
            warnings: Vec::new(),
            ended: None,
            defer: &defer,
            instead: None,
        };
        runner.instead = fed.as_ref().map(|(_, run)| run.clone());
        let mut audit = ShellAudit {
            inner: self.recorder,
            decision: None,
            defer: &defer,
        };
        let mut tty = TtyPrompter::open().ok();
        let mut previewer = preview::run_preview;
        let status = {
            let mut io = Io {
                prompter: tty.as_mut().map(|t| t as &mut dyn Prompter),
                err: &mut *err,
                audit: &mut audit,
                runner: &mut runner,
                previewer: &mut previewer,
                place: &place,
                fleet: self
                    .fleet
                    .as_deref_mut()
                    .map(|f| f as &mut dyn crate::fleet::Slots),
                controls: &mut *self.controls,
            };
            pipeline::run_checked(
                &request,
                checked.as_deref(),
                self.rules,
                self.policy,
                &mut io,
            )
        };
        let ended = runner.ended;
        if let Some((file, _)) = fed {
            let _ = fs::remove_file(file);
        }
        for w in &runner.warnings {
            let _ = writeln!(err, "safe-run: warning: {w}");
        }
        let decision = audit.decision.take();
        if let Some(e) = ended {
            self.ended = Some(e.status);
        }
        let notices = self.show_messages(err);
        if self.state.jobs != jobs_before || !self.jobs.tracked.is_empty() {
            let during = During {
                decision: decision.as_deref().filter(|_| defer.get()),
                started,
                status,
            };
            let jobs = self.state.jobs.clone();
            let bash = &mut self.bash;
            let mut status_of = |pid| bash.as_mut().and_then(|b| b.status_of(pid));
            let finished = self
                .jobs
                .update(&jobs, &notices, Some(during), &mut status_of);
            self.finish_jobs(finished, err);
        }
        self.recorder
            .set_cwd(self.state.cwd().display().to_string());
        self.state.last_status = status;
        status
    }

    /// A confirmation reads only what is typed after its question, and
    /// drops what waits in the terminal before it (the rest of a long paste
    /// the editor could not read ahead): the operator is told so first.
    fn warn_pending_input(&self, checked: &str, err: &mut dyn Write) {
        if self.terminal.is_none() {
            return;
        }
        let asks = crate::classify::check_line(checked, self.rules).is_ok_and(|v| {
            matches!(
                self.policy.action_for(&v),
                crate::verdict::Ask::ConfirmYes | crate::verdict::Ask::ConfirmHost
            )
        });
        if !asks {
            return;
        }
        let stdin = io::stdin();
        let mut fds = [nix::poll::PollFd::new(
            stdin.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let pending = nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).is_ok_and(|n| n > 0);
        if pending {
            let _ = writeln!(
                err,
                "safe-run: note: more pasted input is waiting; the confirmation below discards it (it reads only what is typed after its question). Paste the rest again afterwards."
            );
        }
    }

    /// `history [N] | …` and `rules | …`: safe-run's own output feeds the
    /// rest of the pipeline. The output goes to a private file, and bash
    /// runs `cat FILE | …` — the line checked and logged is the one typed.
    fn feed_builtin(&self, text: &str, history: Option<&FileHistory>) -> Option<(PathBuf, String)> {
        let (head, rest) = text.split_once('|')?;
        if rest.starts_with('|') || self.bash.is_none() {
            return None;
        }
        let output = match builtin(head)? {
            Builtin::History(n) => history::listing(history?, n),
            Builtin::Rules => {
                let mut out = Vec::new();
                rules::list(self.rules, false, &mut out).ok()?;
                String::from_utf8_lossy(&out).into_owned()
            }
            _ => return None,
        };
        let path = std::env::temp_dir().join(format!(
            "safe-run-{}-{}.out",
            std::process::id(),
            crate::audit::recorder::new_id()
        ));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .ok()?;
        file.write_all(output.as_bytes()).ok()?;
        let run = format!(
            "\\command cat -- {} |{rest}",
            bash::sh_quote(&path.to_string_lossy())
        );
        Some((path, run))
    }

    /// Asks bash how the jobs are doing (only when there are some).
    fn poll_jobs(&mut self, err: &mut dyn Write) {
        if self.jobs.tracked.is_empty() {
            return;
        }
        let Some(bash) = self.bash.as_mut() else {
            return;
        };
        let report = match bash.send_query() {
            Ok(()) => bash.report(),
            Err(_) => bash.report(),
        };
        match report {
            Ok(report) => {
                let status = self.state.last_status;
                let _ = self.state.apply(report);
                self.state.last_status = status;
                let notices = self.show_messages(err);
                let jobs = self.state.jobs.clone();
                let bash = &mut self.bash;
                let mut status_of = |pid| bash.as_mut().and_then(|b| b.status_of(pid));
                let finished = self.jobs.update(&jobs, &notices, None, &mut status_of);
                self.finish_jobs(finished, err);
            }
            Err(e) => self.ended = Some(e.status),
        }
    }

    /// Shows the jobs that ended, as bash does, and logs their outcomes.
    fn finish_jobs(&mut self, finished: Vec<Finished>, err: &mut dyn Write) {
        for f in finished {
            if !f.notice.is_empty() {
                let _ = writeln!(err, "{}", clean(&f.notice, false));
            }
            let Some(id) = &f.job.decision else { continue };
            let outcome = Outcome {
                exit: f.exit,
                signal: f.signal,
                status: exit::of_wait(f.exit, f.signal),
                duration: f.duration,
                error: None,
            };
            if let Err(e) = self.recorder.outcome(id, &outcome) {
                let _ = writeln!(err, "safe-run: warning: {e}");
            }
        }
    }

    /// What bash said on its own since the last line (the jobs it saw
    /// end, `exit`), shown now; also returned, for `Jobs::update`.
    fn show_messages(&mut self, err: &mut dyn Write) -> String {
        let Some(b) = &mut self.bash else {
            return String::new();
        };
        let m = b.take_messages();
        if !m.is_empty() {
            let _ = err.write_all(&m);
        }
        String::from_utf8_lossy(&m).into_owned()
    }

    /// Says so when the audit log's state changed since it was last told.
    fn show_log_changes(&mut self, color: bool, err: &mut dyn Write) {
        let now = log_state(self.recorder);
        if self.log_shown.as_ref() == Some(&now) {
            return;
        }
        match &now {
            Ok(()) => {
                if let Ok(p) = self.recorder.log_path() {
                    let _ = writeln!(
                        err,
                        "safe-run: the audit log can be written again: every decision is logged to {}.",
                        clean(&p.display().to_string(), false)
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "{}",
                    paint::paint(color, paint::risk_sgr(Risk::High), &log_warning(e))
                );
            }
        }
        self.log_shown = Some(now);
    }

    /// Whether a stopped job keeps `exit` from leaving (once, as bash).
    fn exit_blocked(&mut self, err: &mut dyn Write) -> bool {
        if self.warned_stopped || !Jobs::any_stopped(&self.state.jobs) {
            return false;
        }
        self.warned_stopped = true;
        let _ = writeln!(
            err,
            "There are stopped jobs. (`jobs` lists them; `exit` again leaves, and they get a hangup.)"
        );
        true
    }
}

/// Runs `~/.safe-runrc` in the session's bash, at start: the file's text
/// is one line, checked, confirmed if risky and logged like any, so what
/// it runs at start is checked now, and what it defines (aliases,
/// functions) is checked at each later call.
fn run_rc_file(sh: &mut Shell<'_>, err: &mut dyn Write) {
    if sh.bash.is_none() {
        return;
    }
    let Some(home) = sh.state.var("HOME").map(PathBuf::from) else {
        return;
    };
    let path = home.join(RC_FILE);
    let Ok(file) = File::open(&path) else { return };
    let mut text = String::new();
    if let Err(e) = file.take(RC_MAX + 1).read_to_string(&mut text) {
        let _ = writeln!(err, "safe-run: warning: cannot read ~/{RC_FILE}: {e}");
        return;
    }
    if text.len() as u64 > RC_MAX {
        let _ = writeln!(
            err,
            "safe-run: warning: ~/{RC_FILE} is larger than {} KiB; it was not run.",
            RC_MAX >> 10
        );
        return;
    }
    if text.trim().is_empty() {
        return;
    }
    let status = sh.run_line(&text, None, err);
    if status != 0 {
        let _ = writeln!(
            err,
            "safe-run: note: ~/{RC_FILE} ended with status {status}."
        );
    }
    sh.state.last_status = 0;
}

/// Runs one of safe-run's own commands (not `exit`); returns its status,
/// which becomes `$?` as a shell builtin's does. `history` is `None`
/// without a line editor.
fn run_builtin(
    b: &Builtin<'_>,
    rules: &RuleSet,
    policy: &Policy,
    carries: bool,
    defs: &expand::Definitions,
    color: bool,
    history: Option<&FileHistory>,
) -> i32 {
    let mut out = io::stdout().lock();
    match b {
        Builtin::Help => {
            let _ = write!(out, "{}", help_text(&policy.shell, carries));
            0
        }
        Builtin::Check("") => {
            let _ = writeln!(
                out,
                "usage: check LINE — shows what LINE would run and what it would ask, without running it"
            );
            exit::CHECK_ERROR
        }
        // Judged as Enter would judge it: through the session's aliases
        // and functions, and under the session's policy.
        Builtin::Check(text) => check::check_line_with(
            rules,
            &with_freeze_now(policy),
            &expand::checked_text(text, defs).unwrap_or_else(|| (*text).to_string()),
            false,
            Style {
                color,
                ..Style::default()
            },
            &mut out,
        )
        .unwrap_or(exit::CHECK_ERROR),
        Builtin::Rules => rules::list(rules, false, &mut out).unwrap_or(1),
        Builtin::History(n) => {
            let Some(entries) = history else { return 0 };
            let _ = out.write_all(history::listing(entries, *n).as_bytes());
            0
        }
        Builtin::HistoryClear | Builtin::Exit(_) => 0,
    }
}

/// The history file: `$XDG_STATE_HOME/safe-run/history`, else
/// `~/.local/state/safe-run/history` (relative values are ignored).
pub fn history_path(xdg_state_home: Option<&Path>, home: Option<&Path>) -> Option<PathBuf> {
    let state = xdg_state_home
        .filter(|p| p.is_absolute())
        .map(Path::to_path_buf)
        .or_else(|| {
            home.filter(|h| h.is_absolute())
                .map(|h| h.join(".local/state"))
        })?;
    Some(state.join("safe-run/history"))
}

/// Creates the history file's directory (0700) and the file (0600).
fn prepare_history(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let mut perms = file.metadata()?.permissions();
    if perms.mode() & 0o077 != 0 {
        perms.set_mode(0o600);
        file.set_permissions(perms)?;
    }
    Ok(())
}

/// What the prompt is made from, fixed for the session.
struct PromptFacts {
    format: String,
    env: String,
    env_sgr: String,
    user: String,
    host: String,
    color: ColorChoice,
}

/// The editing mode `~/.inputrc` asks for (`set editing-mode vi`), if any.
fn inputrc_mode(state: &ShellState) -> Option<EditMode> {
    let path = state
        .var("INPUTRC")
        .map(PathBuf::from)
        .or_else(|| state.var("HOME").map(|h| Path::new(h).join(".inputrc")))?;
    let text = fs::read_to_string(path).ok()?;
    let mut mode = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["set", "editing-mode", m] = words.as_slice() {
            mode = match *m {
                "vi" => Some(EditMode::Vi),
                "emacs" => Some(EditMode::Emacs),
                _ => mode,
            };
        }
    }
    mode
}

/// `set -o vi` / `set -o emacs` as a whole line: the editor's mode.
fn set_o_mode(line: &str) -> Option<EditMode> {
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["set", "-o", "vi"] => Some(EditMode::Vi),
        ["set", "-o", "emacs"] | ["set", "+o", "vi"] => Some(EditMode::Emacs),
        _ => None,
    }
}

/// zsh's PROMPT_SP: output that did not end its line (`printf ok`) is
/// kept, marked with a reverse-video `%`, and the prompt starts on a line
/// of its own. The mark and `columns - 1` blanks are written: from column
/// 0 they fit the line and `\r` comes back over them; from anywhere else
/// they wrap, and the output before them stays.
fn prompt_sp(columns: usize, color: bool) -> String {
    let mark = if color { "\x1b[7m%\x1b[0m" } else { "%" };
    format!("{mark}{}\r\x1b[K", " ".repeat(columns.saturating_sub(1)))
}

/// The editor configuration.
fn editor_config(color: ColorChoice, mode: EditMode) -> EditorConfig {
    EditorConfig::builder()
        .max_history_size(HISTORY_SIZE)
        .and_then(|b| b.history_ignore_dups(true))
        .map(|b| {
            b.auto_add_history(false)
                .completion_type(CompletionType::List)
                .edit_mode(mode)
                .bracketed_paste(true)
                .color_mode(match color {
                    ColorChoice::Always => ColorMode::Forced,
                    ColorChoice::Never => ColorMode::Disabled,
                    ColorChoice::Auto => ColorMode::Enabled,
                })
                .build()
        })
        .unwrap_or_default()
}

/// Ctrl-X Ctrl-E: `buffer` is edited with `$VISUAL`, `$EDITOR` or `vi`, in
/// the foreground; what is saved is the line to check and run (`None`:
/// nothing to run).
fn edit_in_editor(buffer: &str, state: &ShellState, err: &mut dyn Write) -> Option<String> {
    let editor = state
        .var("VISUAL")
        .or_else(|| state.var("EDITOR"))
        .filter(|e| !e.is_empty())
        .map_or_else(|| "vi".to_string(), |e| e.to_string_lossy().into_owned());
    let dir = std::env::temp_dir();
    let path = dir.join(format!("safe-run-edit-{}.sh", std::process::id()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{buffer}\n").as_bytes()));
    if let Err(e) = written {
        let _ = writeln!(err, "safe-run: cannot edit the line: {e}");
        return None;
    }
    // The editor is a program like any: it runs through `sh -c` with the
    // file's name as its argument, with the terminal.
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .env_clear()
        .envs(state.env())
        .status();
    let text = fs::read_to_string(&path).unwrap_or_default();
    let _ = fs::remove_file(&path);
    match status {
        Ok(s) if s.success() => {}
        _ => {
            let _ = writeln!(err, "safe-run: the editor failed; nothing was run.");
            return None;
        }
    }
    let text = text.trim_end_matches('\n').to_string();
    if text.trim().is_empty() {
        return None;
    }
    let _ = writeln!(err, "{}", clean(&text, false));
    Some(text)
}

/// The loop on a terminal, with rustyline.
fn interactive(sh: &mut Shell<'_>, facts: &PromptFacts, login: bool, err: &mut dyn Write) -> i32 {
    let mut mode = inputrc_mode(&sh.state).unwrap_or(EditMode::Emacs);
    let mut editor: Editor<ShellHelper<'_>, FileHistory> =
        match Editor::with_config(editor_config(facts.color, mode)) {
            Ok(e) => e,
            Err(e) => {
                let _ = writeln!(
                    err,
                    "safe-run: cannot use the terminal for line editing ({e}); reading plain lines."
                );
                let color = use_color(facts.color, &sh.state);
                return from_stdin(sh, color, err);
            }
        };
    let rules: &RuleSet = sh.rules;
    editor.set_helper(Some(ShellHelper::new(rules)));
    let requests = editor::bind_keys(&mut editor);
    // Ctrl-Z at the prompt would stop the shell itself: it does nothing.
    editor.bind_sequence(KeyEvent::ctrl('Z'), Cmd::Noop);

    let history = history_path(
        sh.state.var("XDG_STATE_HOME").map(Path::new),
        sh.state.var("HOME").map(Path::new),
    );
    if let Some(path) = &history {
        match prepare_history(path) {
            Ok(()) => {
                let _ = editor.load_history(path);
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "safe-run: warning: no history file ({}: {e}); history lasts for this session only.",
                    path.display()
                );
            }
        }
    }
    let root = geteuid().is_root();
    loop {
        if sh.ended.is_some() || sh.signals.ending().is_some() {
            break;
        }
        sh.poll_jobs(err);
        sh.show_messages(err);
        let color = use_color(facts.color, &sh.state);
        sh.show_log_changes(color, err);
        if sh.ended.is_some() {
            break;
        }
        let home = sh.state.var("HOME").map(Path::new);
        let cwd = tilde(sh.state.cwd(), home);
        let (plain, styled) = prompt(&PromptParts {
            format: &facts.format,
            env: &facts.env,
            env_sgr: &facts.env_sgr,
            user: &facts.user,
            host: &facts.host,
            cwd: &cwd,
            root,
            last_status: sh.state.last_status,
        });
        let shown = if color {
            (plain.clone(), styled)
        } else {
            (plain.clone(), plain.clone())
        };
        let columns = editor.dimensions().map_or(80, |(c, _)| c as usize);
        if let Some(h) = editor.helper() {
            h.color.set(color);
            let last_row = plain.rsplit('\n').next().unwrap_or("");
            h.prompt_width
                .set(crate::shell::hint::display_width(last_row));
            h.follow(&sh.state);
            h.columns.set(columns);
        }
        {
            let mut out = io::stdout().lock();
            let _ = out.write_all(prompt_sp(columns, color).as_bytes());
            let _ = out.flush();
        }
        let read = editor.readline(&shown);
        let edit = requests.lock().ok().and_then(|mut r| r.edit.take());
        let typed = match (read, edit) {
            // Ctrl-X Ctrl-E: the buffer, edited in $EDITOR, is the line.
            (_, Some(buffer)) => match edit_in_editor(&buffer, &sh.state, err) {
                Some(text) => text,
                None => continue,
            },
            (Ok(line), None) => line,
            (Err(ReadlineError::Interrupted), None) => {
                sh.state.last_status = INTERRUPTED;
                continue;
            }
            (Err(ReadlineError::Eof), None) => {
                if sh.exit_blocked(err) {
                    continue;
                }
                let _ = writeln!(err, "{}", if login { "logout" } else { "exit" });
                break;
            }
            (Err(e), None) => {
                let _ = writeln!(err, "safe-run: cannot read the terminal: {e}");
                break;
            }
        };
        if typed.trim().is_empty() {
            continue;
        }
        // History expansion first: the expanded line is shown, kept and
        // checked like a typed one.
        let line = match history::expand(&typed, &history::entries(editor.history())) {
            Ok(Some(expanded)) => {
                let _ = writeln!(err, "{}", clean(&expanded, false));
                expanded
            }
            Ok(None) => typed.clone(),
            Err(e) => {
                let _ = writeln!(err, "safe-run: {}", clean(&e, false));
                sh.state.last_status = 1;
                continue;
            }
        };
        if history::keeps(&typed) {
            let _ = editor.add_history_entry(line.as_str());
            if let Some(path) = &history {
                let _ = history::append(path, &line);
            }
        }
        if let Ok(mut r) = requests.lock() {
            r.last_line = line.clone();
        }
        // `set -o vi` / `set -o emacs` choose safe-run's line editing; bash
        // edits nothing here (and would lose its input switching).
        if let Some(m) = set_o_mode(&line) {
            mode = m;
            editor.set_edit_mode(mode);
            sh.state.last_status = 0;
            continue;
        }
        match builtin(&line) {
            Some(Builtin::Exit(code)) => {
                if sh.exit_blocked(err) {
                    continue;
                }
                let _ = writeln!(err, "{}", if login { "logout" } else { "exit" });
                return code.unwrap_or(sh.state.last_status);
            }
            Some(Builtin::HistoryClear) => {
                let _ = editor.clear_history();
                if let Some(path) = &history {
                    let _ = history::clear(path);
                }
                sh.state.last_status = 0;
            }
            Some(other) => {
                sh.state.last_status = run_builtin(
                    &other,
                    sh.rules,
                    sh.policy,
                    sh.bash.is_some(),
                    &sh.state.defs,
                    color,
                    Some(editor.history()),
                );
            }
            None => {
                sh.run_line(&line, Some(editor.history()), err);
            }
        }
    }
    sh.state.last_status
}

/// Reads one line from a raw (unbuffered) stdin: a line read through a
/// buffer would take input meant for the commands (`cat` reading the rest
/// of the script). `None` at the end of the input.
fn read_raw_line(input: &mut File) -> io::Result<Option<String>> {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => return Ok(Some(String::from_utf8_lossy(&bytes).into())),
            Ok(_) => bytes.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into()))
}

/// The loop without a terminal on stdin (`echo ls | safe-run`): lines are
/// read one at a time, continued while unfinished, and each goes through
/// the pipeline like a typed one. A risky line is confirmed on /dev/tty if
/// there is one, and refused otherwise.
fn from_stdin(sh: &mut Shell<'_>, color: bool, err: &mut dyn Write) -> i32 {
    let input = io::stdin().as_fd().try_clone_to_owned().map(File::from);
    let mut input = match input {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "safe-run: cannot read stdin: {e}");
            return 2;
        }
    };
    loop {
        if sh.ended.is_some() || sh.signals.ending().is_some() {
            break;
        }
        sh.show_messages(err);
        let mut line = match read_raw_line(&mut input) {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                let _ = writeln!(err, "safe-run: cannot read stdin: {e}");
                break;
            }
        };
        while parse_line(&line).is_err_and(|e| e.is_incomplete()) {
            match read_raw_line(&mut input) {
                Ok(Some(more)) => {
                    line.push('\n');
                    line.push_str(&more);
                }
                // Unfinished at the end: the pipeline says why it cannot run.
                _ => break,
            }
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || (trimmed.starts_with('#') && !trimmed.contains('\n')) {
            continue;
        }
        match builtin(&line) {
            Some(Builtin::Exit(code)) => return code.unwrap_or(sh.state.last_status),
            Some(other) => {
                sh.state.last_status = run_builtin(
                    &other,
                    sh.rules,
                    sh.policy,
                    sh.bash.is_some(),
                    &sh.state.defs,
                    color,
                    None,
                );
            }
            None => {
                sh.run_line(&line, None, err);
            }
        }
    }
    sh.show_messages(err);
    sh.state.last_status
}

/// `policy` with the freeze in force now, as the next line would meet it
/// (`check` in the shell answers what Enter would do).
fn with_freeze_now(policy: &Policy) -> Policy {
    let mut now = policy.clone();
    now.change.freeze = crate::controls::freeze_now(&now.change.freeze_settings);
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_whole_lines_only() {
        let cases: &[(&str, Option<Builtin>)] = &[
            ("help", Some(Builtin::Help)),
            ("  help  ", Some(Builtin::Help)),
            ("help cd", None),
            ("check reboot now", Some(Builtin::Check("reboot now"))),
            (
                "why  sudo apt-get upgrade",
                Some(Builtin::Check("sudo apt-get upgrade")),
            ),
            ("check", Some(Builtin::Check(""))),
            ("rules", Some(Builtin::Rules)),
            ("rules list", None),
            ("history", Some(Builtin::History(None))),
            ("history 5", Some(Builtin::History(Some(5)))),
            ("history -c", Some(Builtin::HistoryClear)),
            ("exit", Some(Builtin::Exit(None))),
            ("exit 3", Some(Builtin::Exit(Some(3)))),
            ("exit 256", Some(Builtin::Exit(Some(0)))),
            ("exit -1", Some(Builtin::Exit(Some(255)))),
            ("logout", Some(Builtin::Exit(None))),
            ("exit foo", None),
            ("exit 3 && ls", None),
            ("cd /tmp && exit", None),
            ("ls", None),
            ("helper", None),
        ];
        for (line, want) in cases {
            assert_eq!(builtin(line), *want, "{line:?}");
        }
    }

    #[test]
    fn prompts_show_the_environment_the_place_and_a_failed_status() {
        let parts = PromptParts {
            format: "[{env}] {user}@{host}:{cwd}{sigil} ",
            env: "production",
            env_sgr: "1;31",
            user: "ops",
            host: "core-1",
            cwd: "~/x",
            root: false,
            last_status: 0,
        };
        let (plain, styled) = prompt(&parts);
        assert_eq!(plain, "[PRODUCTION] ops@core-1:~/x$ ");
        assert_eq!(styled, "[\x1b[1;31mPRODUCTION\x1b[0m] ops@core-1:~/x$ ");
        let (plain, styled) = prompt(&PromptParts {
            root: true,
            last_status: 1,
            cwd: "/tmp/\x1b[2Jevil",
            ..parts
        });
        assert_eq!(plain, "[1] [PRODUCTION] ops@core-1:/tmp/\\e[2Jevil# ");
        assert!(styled.starts_with("\x1b[31m[1] \x1b[0m["), "{styled:?}");
    }

    #[test]
    fn home_is_shortened() {
        let home = Some(Path::new("/home/ops"));
        assert_eq!(tilde(Path::new("/home/ops"), home), "~");
        assert_eq!(tilde(Path::new("/home/ops/x/y"), home), "~/x/y");
        assert_eq!(tilde(Path::new("/home/opsx"), home), "/home/opsx");
        assert_eq!(tilde(Path::new("/etc"), home), "/etc");
        assert_eq!(tilde(Path::new("/etc"), Some(Path::new("/"))), "/etc");
        assert_eq!(tilde(Path::new("/etc"), None), "/etc");
    }

    #[test]
    fn the_history_file_follows_xdg() {
        assert_eq!(
            history_path(Some(Path::new("/s")), Some(Path::new("/h"))),
            Some(PathBuf::from("/s/safe-run/history"))
        );
        assert_eq!(
            history_path(Some(Path::new("rel")), Some(Path::new("/h"))),
            Some(PathBuf::from("/h/.local/state/safe-run/history"))
        );
        assert_eq!(history_path(None, None), None);
    }

    #[test]
    fn the_history_file_is_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("a/b/history");
        prepare_history(&path).expect("prepare");
        let mode = fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = fs::metadata(path.parent().expect("dir"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }

    #[test]
    fn raw_lines_leave_the_rest_of_the_input_unread() {
        use std::io::{Seek, SeekFrom};
        let mut f = tempfile::tempfile().expect("temp file");
        f.write_all(b"one\ntwo\nlast").expect("write");
        f.seek(SeekFrom::Start(0)).expect("seek");
        assert_eq!(read_raw_line(&mut f).expect("read").as_deref(), Some("one"));
        assert_eq!(f.stream_position().expect("pos"), 4, "nothing read ahead");
        assert_eq!(read_raw_line(&mut f).expect("read").as_deref(), Some("two"));
        assert_eq!(
            read_raw_line(&mut f).expect("read").as_deref(),
            Some("last")
        );
        assert_eq!(read_raw_line(&mut f).expect("read"), None);
    }
}
