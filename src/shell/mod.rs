//! The interactive shell: `safe-run` on a terminal, or as a login shell.
//!
//! A thin loop around the same pipeline as `safe-run -c`: read a line
//! (rustyline on a terminal, plain reads from a pipe), handle safe-run's
//! own commands (`help`, `check`, `rules`, `history`, `exit`), and send
//! everything else through parse → classify → confirm → audit → run in
//! `Mode::Shell`. Nothing typed here reaches a shell without the checks.
//!
//! The parts that needed design live in their own modules:
//! - `shell_state`: `cd`, `export`, variables and `umask` carrying over
//!   from one line to the next (each line is a fresh `bash -c`);
//! - `shell_exec`: the line in the terminal's foreground, Ctrl-C to it
//!   alone, Ctrl-Z refused, terminal modes restored;
//! - `shell_editor`, `hint`, `complete`: the live risk hint, multi-line
//!   input and completion.
//!
//! docs/SHELL.md is the operator's description of all this.

pub(crate) mod complete;
pub(crate) mod editor;
pub(crate) mod foreground;
pub mod hint;
pub(crate) mod state;

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::{Mode as FileMode, umask};
use nix::unistd::{Pid, geteuid};
use rustyline::config::{ColorMode, CompletionType};
use rustyline::error::ReadlineError;
use rustyline::history::{FileHistory, History};
use rustyline::{Cmd, Config as EditorConfig, Editor, KeyEvent};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP};
use signal_hook::iterator::Signals;

use crate::audit::recorder::Recorder;
use crate::cmd::check;
use crate::cmd::rules;
use crate::config::{self, PromptValues};
use crate::confirm::{Prompter, TtyPrompter, short_host};
use crate::context::LineContext;
use crate::exit;
use crate::parse::parse_line;
use crate::pipeline::{self, Io, Request, Target};
use crate::policy::Policy;
use crate::preview;
use crate::rules::RuleSet;
use crate::script_files::ScriptFiles;
use crate::session::Session;
use crate::shell::editor::ShellHelper;
use crate::shell::foreground::{ForegroundRunner, Terminal};
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

/// Runs the interactive shell until `exit`, `logout` or Ctrl-D; returns the
/// exit status.
pub fn run(mut system: Session, login: bool, err: &mut dyn Write) -> i32 {
    let shell = system.policy.shell.clone();
    let mut state = match ShellState::new(std::env::vars_os(), &shell) {
        Ok(s) => s,
        Err(e) => {
            // Never lock the operator out: run lines without carrying state.
            let _ = writeln!(
                err,
                "safe-run: WARNING: cannot create a private directory for the shell's state ({e}); cd, export and variables will not carry over from one line to the next."
            );
            ShellState::without_carry(std::env::vars_os())
        }
    };
    // The signal policy holds from here on: Ctrl-C during a slow login
    // profile must not end the session before it starts.
    let terminal = Terminal::from_stdin();
    let session = SignalPolicy::start(&state, terminal.as_ref());
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
    system.recorder.set_cwd(state.cwd().display().to_string());
    let status = if io::stdin().is_terminal() {
        interactive(
            &mut system,
            &mut state,
            terminal.as_ref(),
            &session,
            login,
            err,
        )
    } else {
        from_stdin(&mut system, &mut state, terminal.as_ref(), &session, err)
    };
    session.stop();
    match session.ending() {
        Some(sig) => exit::of_signal(sig),
        None => status,
    }
}

/// The session-wide signal policy. The shell itself is never stopped or
/// killed by the terminal's keys (SIGINT, SIGQUIT, SIGTSTP are caught and
/// dropped; caught, not ignored, so children still get the defaults).
/// SIGTERM and SIGHUP end the session: passed on to a running line first,
/// which then ends the session when it returns; at the prompt, at once.
struct SignalPolicy {
    child: Arc<AtomicI32>,
    ending: Arc<AtomicI32>,
    handle: Option<signal_hook::iterator::Handle>,
}

impl SignalPolicy {
    fn start(state: &ShellState, terminal: Option<&Terminal>) -> SignalPolicy {
        let child = Arc::new(AtomicI32::new(0));
        let ending = Arc::new(AtomicI32::new(0));
        let mut handle = None;
        if let Ok(mut signals) = Signals::new([SIGINT, SIGQUIT, SIGTSTP, SIGTERM, SIGHUP]) {
            handle = Some(signals.handle());
            let (child, ending) = (Arc::clone(&child), Arc::clone(&ending));
            let dir = state.dir().map(Path::to_path_buf);
            let restore = terminal.and_then(|t| Some((t.try_clone()?, t.modes()?)));
            std::thread::spawn(move || {
                for sig in signals.forever() {
                    if sig != SIGTERM && sig != SIGHUP {
                        continue;
                    }
                    ending.store(sig, Ordering::SeqCst);
                    let group = child.load(Ordering::SeqCst);
                    if group > 0 {
                        if let Ok(s) = Signal::try_from(sig) {
                            let _ = killpg(Pid::from_raw(group), s);
                            let _ = killpg(Pid::from_raw(group), Signal::SIGCONT);
                        }
                        continue;
                    }
                    // At the prompt: put the terminal back as it was before
                    // the editor's raw mode, clean up, and go.
                    if let Some((t, modes)) = &restore {
                        t.restore(modes);
                    }
                    if let Some(dir) = &dir {
                        let _ = fs::remove_dir_all(dir);
                    }
                    std::process::exit(exit::of_signal(sig));
                }
            });
        }
        SignalPolicy {
            child,
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
    /// `exit [N]`, `logout`.
    Exit(Option<i32>),
}

/// Recognises a builtin. `exit` with something other than one number is
/// left to the shell, which reports it (and ends only that line).
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
        "cd, export, unset, variables and umask carry over to the next line; functions, aliases, traps and `set` options do not (a function defined on one line and called on the next would run commands nobody checked)."
    } else {
        "This shell is not bash, so nothing carries over from one line to the next: use `cd DIR && CMD` on one line."
    };
    format!(
        "safe-run's own commands:\n\
         \x20 help              this text\n\
         \x20 check LINE        what LINE would run and what it would ask, without running it (also: why LINE)\n\
         \x20 rules             the rules in force, one per line\n\
         \x20 history [N]       the lines typed (the last N)\n\
         \x20 exit [N], logout  leave with status N or the last line's (Ctrl-D too)\n\
         Every other line is checked against the rules, confirmed if risky, logged, then run with {shell}.\n\
         {carry}\n\
         Keys: Tab completes, Ctrl-R searches the history, Ctrl-C clears the line (or interrupts the command running), Ctrl-D leaves.\n\
         Ctrl-Z does not stop commands here: a command goes on until it ends or Ctrl-C interrupts it.\n"
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

/// The banner at the start of an interactive session.
fn banner(system: &Session, state: &ShellState, color: bool) -> String {
    let paint = |sgr: &str, text: &str| paint::paint(color, sgr, text);
    let env = &system.config.environment;
    let label = paint(
        &format!("1;{}", env.color.ansi_fg()),
        &format!("[{}]", clean(&env.name.to_uppercase(), false)),
    );
    let mut text = String::new();
    let log = match system.recorder.log_path() {
        Ok(p) => format!("logged to {}", clean(&p.display().to_string(), false)),
        Err(_) => "logged".to_string(),
    };
    text.push_str(&format!(
        "safe-run: {label} {} — every command line is checked against {} rules before it runs, and {log}.\n",
        clean(&system.identity.who.host, false),
        system.rules.len()
    ));
    text.push_str("safe-run: risky commands are explained first and need a typed confirmation and a reason. Type `help` for safe-run's own commands.\n");
    if system.rule_errors > 0 {
        text.push_str(&paint(
            paint::risk_sgr(Risk::High),
            &format!(
                "safe-run: WARNING: {} rule error(s) while loading the rules (shown above): those rules are NOT in force. Every other rule is. Fix them and run `safe-run rules lint`.",
                system.rule_errors
            ),
        ));
        text.push('\n');
    }
    if let Err(e) = system.recorder.log_path() {
        text.push_str(&paint(
            paint::risk_sgr(Risk::High),
            &format!(
                "safe-run: WARNING: no audit log: {}. Risky lines will be refused until this is fixed.",
                clean(e, false)
            ),
        ));
        text.push('\n');
    }
    if !state.carries_state() {
        text.push_str(&format!(
            "safe-run: note: {} is not bash: cd, export and variables do not carry over from one line to the next.\n",
            clean(&system.policy.shell, false)
        ));
    }
    text
}

/// Runs one line through the pipeline, as typed at the prompt.
#[allow(clippy::too_many_arguments)]
fn run_line(
    line: &str,
    rules: &RuleSet,
    policy: &Policy,
    recorder: &mut Recorder,
    state: &mut ShellState,
    terminal: Option<&Terminal>,
    session: &SignalPolicy,
    err: &mut dyn Write,
) -> i32 {
    let request = Request {
        mode: Mode::Shell,
        target: Target::Line(line.to_string()),
        // Approval given in advance (--reason, SAFE_RUN_REASON) is for one
        // command, never for a whole session.
        reason: None,
        confirm: None,
    };
    let mut runner = ForegroundRunner {
        state,
        terminal,
        child: &session.child,
        warnings: Vec::new(),
    };
    let mut tty = TtyPrompter::open().ok();
    let mut previewer = preview::run_preview;
    let scripts = ScriptFiles::default();
    let place = line_context(runner.state, &scripts);
    let status = {
        let mut io = Io {
            prompter: tty.as_mut().map(|t| t as &mut dyn Prompter),
            err: &mut *err,
            audit: recorder,
            runner: &mut runner,
            previewer: &mut previewer,
            place: &place,
        };
        pipeline::run_request(&request, rules, policy, &mut io)
    };
    for w in &runner.warnings {
        let _ = writeln!(err, "safe-run: warning: {w}");
    }
    recorder.set_cwd(runner.state.cwd().display().to_string());
    status
}

/// Where the next line runs, from the shell's state: its directory, its
/// variables (the environment, then the shell's own), its home.
fn line_context<'a>(state: &ShellState, scripts: &'a ScriptFiles) -> LineContext<'a> {
    let mut vars: std::collections::HashMap<String, String> = state
        .env()
        .iter()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v.to_str()?.to_string())))
        .collect();
    vars.extend(state.shell_vars().iter().cloned());
    LineContext {
        cwd: state.cwd().to_str().map(str::to_string),
        home: vars.get("HOME").filter(|h| h.starts_with('/')).cloned(),
        vars,
        scripts: Some(scripts),
    }
}

/// Runs one of safe-run's own commands (not `exit`); returns its status,
/// which becomes `$?` as a shell builtin's does. `history` is `None`
/// without a line editor.
fn run_builtin(
    b: &Builtin<'_>,
    rules: &RuleSet,
    shell: &str,
    state: &ShellState,
    color: bool,
    history: Option<&FileHistory>,
) -> i32 {
    let mut out = io::stdout().lock();
    match b {
        Builtin::Help => {
            let _ = write!(out, "{}", help_text(shell, state.carries_state()));
            0
        }
        Builtin::Check("") => {
            let _ = writeln!(
                out,
                "usage: check LINE — shows what LINE would run and what it would ask, without running it"
            );
            exit::CHECK_ERROR
        }
        Builtin::Check(text) => check::check_line(
            rules,
            text,
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
            let skip = n.map_or(0, |n| entries.len().saturating_sub(n));
            for (i, entry) in entries.iter().enumerate().skip(skip) {
                let _ = writeln!(out, "{:5}  {}", i + 1, clean(entry, false));
            }
            0
        }
        Builtin::Exit(_) => state.last_status,
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

/// The loop on a terminal, with rustyline.
fn interactive(
    system: &mut Session,
    state: &mut ShellState,
    terminal: Option<&Terminal>,
    session: &SignalPolicy,
    login: bool,
    err: &mut dyn Write,
) -> i32 {
    let color = use_color(system.config.color, state);
    let _ = write!(err, "{}", banner(system, state, color));
    let config = EditorConfig::builder()
        .max_history_size(HISTORY_SIZE)
        .and_then(|b| b.history_ignore_dups(true))
        .map(|b| {
            b.auto_add_history(false)
                .completion_type(CompletionType::List)
                .color_mode(match system.config.color {
                    ColorChoice::Always => ColorMode::Forced,
                    ColorChoice::Never => ColorMode::Disabled,
                    ColorChoice::Auto => ColorMode::Enabled,
                })
                .build()
        });
    let config = config.unwrap_or_default();
    let mut editor: Editor<ShellHelper<'_>, FileHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            let _ = writeln!(
                err,
                "safe-run: cannot use the terminal for line editing ({e}); reading plain lines."
            );
            return from_stdin(system, state, terminal, session, err);
        }
    };
    // The hint and the marks need the rules; the pipeline needs them too,
    // with the policy and the log: disjoint parts of `system`.
    let Session {
        rules,
        policy,
        recorder,
        config,
        identity,
        ..
    } = system;
    let rules: &RuleSet = rules;
    editor.set_helper(Some(ShellHelper::new(rules)));
    // Ctrl-Z at the prompt would stop the shell itself: it does nothing.
    editor.bind_sequence(KeyEvent::ctrl('Z'), Cmd::Noop);

    let history = history_path(
        state.var("XDG_STATE_HOME").map(Path::new),
        state.var("HOME").map(Path::new),
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
    let env_sgr = format!("1;{}", config.environment.color.ansi_fg());
    let host = short_host(&identity.who.host).to_string();
    let root = geteuid().is_root();
    loop {
        let home = state.var("HOME").map(Path::new);
        let cwd = tilde(state.cwd(), home);
        let (plain, styled) = prompt(&PromptParts {
            format: &config.shell.prompt,
            env: &config.environment.name,
            env_sgr: &env_sgr,
            user: &identity.who.user,
            host: &host,
            cwd: &cwd,
            root,
            last_status: state.last_status,
        });
        let color = use_color(config.color, state);
        let shown = if color {
            (plain.clone(), styled)
        } else {
            (plain.clone(), plain.clone())
        };
        if let Some(h) = editor.helper() {
            h.color.set(color);
            let last_row = plain.rsplit('\n').next().unwrap_or("");
            h.prompt_width
                .set(crate::shell::hint::display_width(last_row));
            *h.path.borrow_mut() = state.var("PATH").map(|p| p.to_os_string());
        }
        if let Some((columns, _)) = editor.dimensions()
            && let Some(h) = editor.helper()
        {
            h.columns.set(columns as usize);
        }
        let line = match editor.readline(&shown) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                state.last_status = INTERRUPTED;
                continue;
            }
            Err(ReadlineError::Eof) => {
                let _ = writeln!(err, "{}", if login { "logout" } else { "exit" });
                break;
            }
            Err(e) => {
                let _ = writeln!(err, "safe-run: cannot read the terminal: {e}");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line.as_str());
        if let Some(path) = &history {
            let _ = editor.append_history(path);
        }
        match builtin(&line) {
            Some(Builtin::Exit(code)) => {
                let _ = writeln!(err, "{}", if login { "logout" } else { "exit" });
                return code.unwrap_or(state.last_status);
            }
            Some(other) => {
                let color = use_color(config.color, state);
                state.last_status = run_builtin(
                    &other,
                    rules,
                    &policy.shell,
                    state,
                    color,
                    Some(editor.history()),
                );
            }
            None => {
                state.last_status = run_line(
                    &line, rules, policy, recorder, state, terminal, session, err,
                );
            }
        }
        if session.ending().is_some() {
            break;
        }
    }
    state.last_status
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
fn from_stdin(
    system: &mut Session,
    state: &mut ShellState,
    terminal: Option<&Terminal>,
    session: &SignalPolicy,
    err: &mut dyn Write,
) -> i32 {
    let input = io::stdin().as_fd().try_clone_to_owned().map(File::from);
    let mut input = match input {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "safe-run: cannot read stdin: {e}");
            return 2;
        }
    };
    let color = use_color(system.config.color, state);
    loop {
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
            Some(Builtin::Exit(code)) => return code.unwrap_or(state.last_status),
            Some(other) => {
                state.last_status = run_builtin(
                    &other,
                    &system.rules,
                    &system.policy.shell,
                    state,
                    color,
                    None,
                );
            }
            None => {
                state.last_status = run_line(
                    &line,
                    &system.rules,
                    &system.policy,
                    &mut system.recorder,
                    state,
                    terminal,
                    session,
                    err,
                );
            }
        }
        if session.ending().is_some() {
            break;
        }
    }
    state.last_status
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
            ("history -c", None),
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
