//! The shell state that outlives one line of the interactive shell: the
//! working directory, the exported environment, the shell variables and
//! the umask — so `cd /var/log && ls`, `export X=1; …` or `umask 077`
//! typed on one line still hold on the next, as in any shell.
//!
//! Why it is shaped this way: every line must go through the pipeline and
//! run in a real shell (`bash -c`), and a child cannot change its parent.
//! So each line runs as
//!
//! ```text
//! <prologue: restore variables, set the EXIT trap, restore $?>; LINE
//! ```
//!
//! and the EXIT trap — which runs however the line ends: at its end, on
//! `exit N` inside it, on `set -e`, on Ctrl-C — writes `$?`, the working
//! directory, the umask, the exported environment and `declare -p` of the
//! shell variables to a private directory (0700), then exits with the
//! line's own status. The wrapper reads that back after the child ends and
//! applies it to itself (working directory, umask) and to the environment
//! it passes to the next child. The status file is written last and marks
//! a complete save; a line that replaced the trap or exec'd another program
//! leaves no save and the previous state stays.
//!
//! The prologue sits on the line's first line, so bash's messages about
//! the line say `line 1`. What is deliberately *not* carried from one line
//! to the next: functions and aliases (a function defined on one line and
//! called on the next would run commands the checks never saw), shell
//! options (`set -e`), traps, and bash's own special variables.
//!
//! The environment is kept in a map here rather than in the process
//! environment (`set_var` is not thread-safe), and given to each child.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::stat::{Mode, umask};
use nix::unistd::Pid;

/// Variables never carried from one line to the next: bash's own (many are
/// read-only or change on their own), and the ones the save uses.
const SKIPPED_VARS: &str = "BASH*|COMP_*|__safe_run_*|_|EUID|UID|PPID|SHELLOPTS|SHLVL|PWD|\
RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|FUNCNAME|GROUPS|DIRSTACK|PIPESTATUS|EPOCHREALTIME|\
EPOCHSECONDS|COLUMNS|LINES|OPTIND|OPTERR|HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|IFS";

/// Environment entries a child sets up for itself and the wrapper must not
/// take back (SHLVL would grow by one on every line).
const NOT_TAKEN_BACK: &[&str] = &["SHLVL", "_"];

/// The saved files, in the private directory.
const STATUS: &str = "status";
const CWD: &str = "cwd";
const UMASK: &str = "umask";
const ENV: &str = "env";
const VARS_NEXT: &str = "vars.next";
const VARS: &str = "vars";

/// A private directory (0700) that is removed when dropped.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// Creates `$TMPDIR/safe-run-PID-N` (or under /tmp), mode 0700.
    pub fn create() -> io::Result<StateDir> {
        let base = std::env::var_os("TMPDIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last = None;
        for attempt in 0..100u32 {
            let path = base.join(format!(
                "safe-run-{}-{:08x}",
                std::process::id(),
                nanos.wrapping_add(attempt.wrapping_mul(0x9e37_79b9))
            ));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(StateDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("cannot create a private directory")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// What is carried from one line to the next.
#[derive(Debug)]
pub struct ShellState {
    env: BTreeMap<OsString, OsString>,
    cwd: PathBuf,
    /// The status of the last line (`$?`).
    pub last_status: i32,
    /// Where lines save their state; `None` when it could not be created.
    dir: Option<StateDir>,
    /// Whether lines carry their state: the shell is bash (which the
    /// prologue needs) and there is a directory. Otherwise each line runs
    /// plainly and nothing is carried over.
    wraps: bool,
    /// The shell variables the last line left (exported or not), with
    /// their values: what the next line is judged with.
    shell_vars: Vec<(String, String)>,
}

/// What changed after a line, for the caller to act on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The line saved its state (false: the previous state stays).
    pub saved: bool,
    /// Problems applying it, for the operator.
    pub warnings: Vec<String>,
}

impl ShellState {
    /// A state starting from `env` and the current directory. `shell` is
    /// the configured shell; the state is carried over only for bash.
    pub fn new(
        env: impl IntoIterator<Item = (OsString, OsString)>,
        shell: &str,
    ) -> io::Result<ShellState> {
        let is_bash = Path::new(shell)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("bash"));
        let mut state = ShellState::without_carry(env);
        state.dir = Some(StateDir::create()?);
        state.wraps = is_bash;
        Ok(state)
    }

    /// A state that carries nothing from one line to the next (each line
    /// runs plainly): the fallback when no private directory can be made.
    pub fn without_carry(env: impl IntoIterator<Item = (OsString, OsString)>) -> ShellState {
        let env: BTreeMap<OsString, OsString> = env.into_iter().collect();
        let cwd = logical_cwd(env.get(OsStr::new("PWD")).map(PathBuf::from));
        let mut state = ShellState {
            env,
            cwd,
            last_status: 0,
            dir: None,
            wraps: false,
            shell_vars: Vec::new(),
        };
        let cwd = state.cwd.clone().into_os_string();
        state.env.insert("PWD".into(), cwd);
        state
    }

    /// Whether lines carry their state to the next (the shell is bash).
    pub fn carries_state(&self) -> bool {
        self.wraps
    }

    /// The environment given to the next child.
    pub fn env(&self) -> &BTreeMap<OsString, OsString> {
        &self.env
    }

    /// One variable of that environment.
    pub fn var(&self, name: &str) -> Option<&OsStr> {
        self.env.get(OsStr::new(name)).map(OsString::as_os_str)
    }

    /// The working directory, as the shell spells it (symbolic links kept).
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// The shell's variables as the last line left them, exported or not
    /// (`D=/etc` typed on one line is known on the next).
    pub fn shell_vars(&self) -> &[(String, String)] {
        &self.shell_vars
    }

    /// The private directory (for cleaning up on a fatal signal).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(StateDir::path)
    }

    /// A file of the private directory.
    fn file(&self, name: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.file(name))
    }

    /// Replaces the environment by `entries` (the login profile's), keeping
    /// what describes this process rather than the profile's shell.
    pub fn import_env(&mut self, entries: Vec<(OsString, OsString)>) {
        let keep: Vec<(OsString, OsString)> = ["SHLVL", "PWD", "OLDPWD"]
            .iter()
            .filter_map(|k| self.env.get_key_value(OsStr::new(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.env = entries
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_bytes(), b"SHLVL" | b"PWD" | b"OLDPWD" | b"_"))
            .collect();
        self.env.extend(keep);
    }

    /// The script that runs `line` and saves the state afterwards.
    pub fn script(&self, line: &str) -> String {
        let Some(dir) = self.dir.as_ref().filter(|_| self.wraps) else {
            return line.to_string();
        };
        let vars = sh_quote(&dir.file(VARS).to_string_lossy());
        let dir = sh_quote(&dir.path().to_string_lossy());
        // One line: the first line of the operator's input shares it.
        let prologue = [
            format!("declare -r __safe_run_dir={dir}"),
            format!("if [[ -f {vars} ]]; then builtin . {vars} 2>/dev/null; fi"),
            save_function(),
            "__safe_run_status() { return \"$1\"; }".to_string(),
            "trap '__safe_run_save \"$?\" \"${IFS+set}\" \"$IFS\"' EXIT".to_string(),
            format!("__safe_run_status {}", self.last_status & 0xff),
        ]
        .join("; ");
        format!("{prologue}; {line}\n")
    }

    /// The command that runs `line` with `shell`, in this state. The
    /// child inherits the working directory of this process, which
    /// `take_back` keeps at the shell's (inheriting also works when the
    /// directory has been removed, where naming it would fail the spawn).
    pub fn command(&self, shell: &str, line: &str) -> Command {
        let mut c = Command::new(shell);
        c.arg("-c")
            .arg(self.script(line))
            .env_clear()
            .envs(&self.env);
        c
    }

    /// Forgets the last save, before a line runs.
    pub fn clear_save(&self) {
        for f in [STATUS, CWD, UMASK, ENV, VARS_NEXT] {
            if let Some(path) = self.file(f) {
                let _ = fs::remove_file(path);
            }
        }
    }

    /// Takes back what the line saved, if it saved anything: the working
    /// directory and umask of this process, the environment for the next
    /// child, the variables for the next prologue.
    pub fn take_back(&mut self) -> Applied {
        let mut applied = Applied::default();
        let Some(dir) = self.dir.as_ref().filter(|_| self.wraps) else {
            return applied;
        };
        let [status, cwd_file, umask_file, env_file, vars_next, vars] =
            [STATUS, CWD, UMASK, ENV, VARS_NEXT, VARS].map(|f| dir.file(f));
        if !status.exists() {
            return applied;
        }
        applied.saved = true;
        if let Ok(cwd) = fs::read(cwd_file) {
            let mut cwd = cwd;
            if cwd.last() == Some(&b'\n') {
                cwd.pop();
            }
            let cwd = PathBuf::from(OsString::from_vec(cwd));
            if cwd.is_absolute() && cwd != self.cwd {
                match std::env::set_current_dir(&cwd) {
                    Ok(()) => self.cwd = cwd,
                    Err(e) => applied.warnings.push(format!(
                        "cannot follow the shell into {}: {e}",
                        crate::term::sanitize::clean(&cwd.to_string_lossy(), false)
                    )),
                }
            }
        }
        if let Ok(text) = fs::read_to_string(umask_file)
            && let Some(mask) = parse_umask(&text)
        {
            umask(Mode::from_bits_truncate(mask));
        }
        if let Ok(bytes) = fs::read(env_file) {
            let mut env = parse_env0(&bytes);
            env.retain(|(k, _)| !NOT_TAKEN_BACK.iter().any(|n| k.as_bytes() == n.as_bytes()));
            let kept: Vec<(OsString, OsString)> = NOT_TAKEN_BACK
                .iter()
                .filter_map(|k| self.env.get_key_value(OsStr::new(k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.env = env.into_iter().chain(kept).collect();
            self.env
                .insert("PWD".into(), self.cwd.clone().into_os_string());
        }
        if fs::rename(vars_next, &vars).is_err() {
            let _ = fs::remove_file(&vars);
        }
        self.shell_vars = fs::read_to_string(&vars)
            .map(|text| declared_scalars(&text))
            .unwrap_or_default();
        applied
    }
}

/// The EXIT trap's function. `$1` is the line's status, `$2`/`$3` the
/// caller's IFS (a `local IFS` here would hide it from `declare -p`).
/// Everything is a builtin, called as `builtin …` so that a function of
/// the same name defined by the line cannot get in the way.
const SAVE_FUNCTION: &str = concat!(
    "__safe_run_save() { ",
    "local __safe_run_st=\"$1\" __safe_run_v IFS=$' \\t\\n'; ",
    "local -a __safe_run_names=(); ",
    "builtin set +eux +o noclobber +o noglob; ",
    "for __safe_run_v in $(builtin compgen -v); do ",
    "case $__safe_run_v in (@SKIPPED@) continue;; esac; ",
    "__safe_run_names+=(\"$__safe_run_v\"); ",
    "done; ",
    "{ if (( ${#__safe_run_names[@]} )); then builtin declare -p \"${__safe_run_names[@]}\"; fi; ",
    "if [[ $2 == set ]]; then builtin printf 'IFS=%q\\n' \"$3\"; fi; ",
    "} >| \"$__safe_run_dir/vars.next\" 2>/dev/null; ",
    "for __safe_run_v in $(builtin compgen -e); do ",
    "builtin printf '%s=%s\\0' \"$__safe_run_v\" \"${!__safe_run_v}\"; ",
    "done >| \"$__safe_run_dir/env\" 2>/dev/null; ",
    "builtin pwd >| \"$__safe_run_dir/cwd\" 2>/dev/null; ",
    "builtin umask >| \"$__safe_run_dir/umask\" 2>/dev/null; ",
    "builtin printf '%s' \"$__safe_run_st\" >| \"$__safe_run_dir/status\" 2>/dev/null; ",
    "builtin exit \"$__safe_run_st\"; ",
    "}"
);

/// The scalar variables of `declare -p` output (`declare -- D="/etc"`,
/// `declare -x X="1"`), read with the shell parser so that quoting is
/// undone as bash does it. Arrays and associative arrays are left out.
fn declared_scalars(text: &str) -> Vec<(String, String)> {
    let Ok(script) = crate::parse::parse_line(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for cmd in &script.commands {
        let args = cmd.args();
        let flags = args.first().map_or("", |w| w.text.as_str());
        if cmd.program() != Some("declare") || flags.contains(['a', 'A']) {
            continue;
        }
        for w in args.iter().skip(1).filter(|w| !w.dynamic) {
            if let Some((name, value)) = w.text.split_once('=') {
                out.push((name.to_string(), value.to_string()));
            }
        }
    }
    out
}

/// The save function with the skipped names filled in.
fn save_function() -> String {
    SAVE_FUNCTION.replace("@SKIPPED@", SKIPPED_VARS)
}

/// The working directory: `$PWD` when it names the same directory (so a
/// path through a symbolic link stays as typed), else the real one.
fn logical_cwd(pwd: Option<PathBuf>) -> PathBuf {
    let real = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if let Some(pwd) = pwd
        && pwd.is_absolute()
        && fs::canonicalize(&pwd).ok() == fs::canonicalize(&real).ok()
    {
        return pwd;
    }
    real
}

/// `0022` → 0o022.
pub fn parse_umask(text: &str) -> Option<u32> {
    let t = text.trim();
    if t.is_empty() || t.len() > 4 {
        return None;
    }
    u32::from_str_radix(t, 8).ok().filter(|m| *m <= 0o777)
}

/// `K=V\0K=V\0…` → pairs (entries without `=` are dropped).
pub fn parse_env0(bytes: &[u8]) -> Vec<(OsString, OsString)> {
    bytes
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let eq = entry.iter().position(|b| *b == b'=')?;
            if eq == 0 {
                return None;
            }
            Some((
                OsString::from_vec(entry[..eq].to_vec()),
                OsString::from_vec(entry[eq + 1..].to_vec()),
            ))
        })
        .collect()
}

/// A single-quoted shell word.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// What the login profile gives a login shell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginEnv {
    pub env: Vec<(OsString, OsString)>,
    pub umask: Option<u32>,
    /// What the profile printed (a greeting, a notice), for the operator.
    pub printed: Vec<u8>,
}

/// Marks where the profile's own output ends and ours starts.
const LOGIN_MARK: &[u8] = b"\0safe-run-login-env\0";

/// Runs `SHELL -l -c '…'` once (stdin closed, its own process group so it
/// cannot take the terminal, killed after `timeout`) and reads back the
/// environment and umask that `/etc/profile` and `~/.profile` produce.
pub fn login_environment(
    shell: &str,
    env: &BTreeMap<OsString, OsString>,
    timeout: Duration,
) -> Result<LoginEnv, String> {
    let script = "builtin printf '\\0safe-run-login-env\\0'; builtin umask; builtin printf '\\0'; exec env -0";
    let mut child = Command::new(shell)
        .arg("-l")
        .arg("-c")
        .arg(script)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {shell}: {e}"))?;
    let mut out = child.stdout.take().ok_or("no pipe from the login shell")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.by_ref().take(4 << 20).read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let pid = i32::try_from(child.id()).unwrap_or(0);
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = child.wait();
                return Err(format!(
                    "`{shell} -l` did not finish within {} s (a profile waiting for input?)",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("lost track of `{shell} -l`: {e}")),
        }
    };
    let bytes = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("`{shell} -l` failed ({status})"));
    }
    parse_login_output(&bytes).ok_or_else(|| format!("`{shell} -l` printed no environment"))
}

/// Parses `[profile noise] \0mark\0 UMASK\n \0 K=V\0…`.
fn parse_login_output(bytes: &[u8]) -> Option<LoginEnv> {
    let at = bytes
        .windows(LOGIN_MARK.len())
        .rposition(|w| w == LOGIN_MARK)?;
    let rest = &bytes[at + LOGIN_MARK.len()..];
    let nul = rest.iter().position(|b| *b == 0)?;
    let umask = std::str::from_utf8(&rest[..nul]).ok().and_then(parse_umask);
    let env = parse_env0(&rest[nul + 1..]);
    (!env.is_empty()).then(|| LoginEnv {
        env,
        umask,
        printed: bytes[..at].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn bash() -> Option<&'static str> {
        ["/bin/bash", "/usr/bin/bash"]
            .into_iter()
            .find(|p| Path::new(p).exists())
    }

    #[test]
    fn declared_scalars_are_read_with_their_quoting_undone() {
        let text = "declare -- D=\"/etc\"\ndeclare -x X=\"a b\"\ndeclare -a A=([0]=\"x\")\ndeclare -i N=\"5\"\ndeclare -- Q=\"say \\\"hi\\\"\"\n";
        let vars = declared_scalars(text);
        assert_eq!(
            vars,
            vec![
                ("D".to_string(), "/etc".to_string()),
                ("X".to_string(), "a b".to_string()),
                ("N".to_string(), "5".to_string()),
                ("Q".to_string(), "say \"hi\"".to_string()),
            ]
        );
    }

    #[test]
    fn umask_and_env_parsing() {
        assert_eq!(parse_umask("0022\n"), Some(0o022));
        assert_eq!(parse_umask("077"), Some(0o077));
        assert_eq!(parse_umask("u=rwx"), None);
        assert_eq!(parse_umask(""), None);
        let env = parse_env0(b"A=1\0B=x=y\0\0junk\0=bad\0C=\0");
        let want: Vec<(OsString, OsString)> = [("A", "1"), ("B", "x=y"), ("C", "")]
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect();
        assert_eq!(env, want);
    }

    #[test]
    fn login_output_skips_what_the_profile_printed() {
        let out = b"Welcome!\nA=not-this\0safe-run-login-env\x000027\n\0PATH=/x\0HOME=/h\0";
        let got = parse_login_output(out).expect("parsed");
        assert_eq!(got.umask, Some(0o027));
        assert_eq!(got.env.len(), 2);
        assert_eq!(got.env[0].0, "PATH");
        assert_eq!(got.printed, b"Welcome!\nA=not-this");
        assert!(parse_login_output(b"nothing").is_none());
    }

    #[test]
    fn the_private_directory_is_0700_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = StateDir::create().expect("create");
        let path = dir.path().to_path_buf();
        let mode = fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn the_save_function_lists_the_skipped_names() {
        let text = save_function();
        assert!(text.contains("(BASH*|COMP_*|"), "{text}");
        assert!(!text.contains("@SKIPPED@"));
    }

    /// Runs lines one after another the way the shell does (without the
    /// wrapper's own directory change, which would race other tests).
    struct Session {
        state: ShellState,
    }

    impl Session {
        fn new(bash: &str) -> Session {
            let env = [
                ("PATH", "/usr/local/bin:/usr/bin:/bin"),
                ("HOME", "/tmp"),
                ("SHLVL", "1"),
            ]
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
            Session {
                state: ShellState::new(env, bash).expect("state"),
            }
        }

        fn run(&mut self, bash: &str, line: &str) -> (i32, String) {
            self.state.clear_save();
            let out = Command::new(bash)
                .arg("-c")
                .arg(self.state.script(line))
                .env_clear()
                .envs(self.state.env())
                .current_dir(self.state.cwd())
                .output()
                .expect("run bash");
            let status = out.status.code().unwrap_or(-1);
            // Take the state back without moving this test process.
            if self.state.file(STATUS).expect("dir").exists() {
                let cwd = fs::read_to_string(self.state.file(CWD).expect("dir")).expect("cwd");
                self.state.cwd = PathBuf::from(cwd.trim_end_matches('\n'));
                let env = parse_env0(&fs::read(self.state.file(ENV).expect("dir")).expect("env"));
                let shlvl = self.state.env.get(OsStr::new("SHLVL")).cloned();
                self.state.env = env.into_iter().collect();
                self.state.env.remove(OsStr::new("_"));
                if let Some(s) = shlvl {
                    self.state.env.insert("SHLVL".into(), s);
                }
                fs::rename(
                    self.state.file(VARS_NEXT).expect("dir"),
                    self.state.file(VARS).expect("dir"),
                )
                .expect("vars");
            }
            self.state.last_status = status;
            (status, String::from_utf8_lossy(&out.stdout).into_owned())
        }
    }

    #[test]
    fn state_persists_between_lines_like_in_a_shell() {
        let Some(bash) = bash() else { return };
        let mut s = Session::new(bash);
        assert_eq!(s.run(bash, "cd /usr && true"), (0, String::new()));
        assert_eq!(s.state.cwd(), Path::new("/usr"));
        assert_eq!(s.run(bash, "pwd").1, "/usr\n");
        s.run(bash, "export X=1; Y=two; declare -a A=(1 'b c' $'d\\ne')");
        assert_eq!(s.state.var("X"), Some(OsStr::new("1")));
        assert_eq!(s.state.var("Y"), None, "Y is not exported");
        let (_, out) = s.run(
            bash,
            "echo \"$X $Y ${A[1]} ${#A[@]}\"; printf '%s' \"${A[2]}\"",
        );
        assert_eq!(out, "1 two b c 3\nd\ne");
        s.run(bash, "unset X");
        assert_eq!(s.state.var("X"), None);
        assert_eq!(s.run(bash, "echo \"[${X-unset}]\"").1, "[unset]\n");
        s.run(bash, "cd /; cd /tmp");
        assert_eq!(s.run(bash, "cd - >/dev/null; pwd").1, "/\n");
        assert_eq!(
            s.state.var("SHLVL"),
            Some(OsStr::new("1")),
            "SHLVL does not grow"
        );
    }

    #[test]
    fn status_and_exit_inside_a_line() {
        let Some(bash) = bash() else { return };
        let mut s = Session::new(bash);
        assert_eq!(s.run(bash, "false").0, 1);
        assert_eq!(
            s.run(bash, "echo $?").1,
            "1\n",
            "$? is the last line's status"
        );
        assert_eq!(s.run(bash, "cd /usr && exit 3").0, 3);
        assert_eq!(s.state.cwd(), Path::new("/usr"), "saved on exit");
        assert_eq!(s.run(bash, "set -e; cd /; false; echo no").0, 1);
        assert_eq!(s.state.cwd(), Path::new("/"));
        let (status, out) = s.run(bash, "set -u; echo ok");
        assert_eq!((status, out.as_str()), (0, "ok\n"));
        assert_eq!(
            s.run(bash, "echo \"${NOPE-fine}\"").1,
            "fine\n",
            "set -u is not kept"
        );
    }

    #[test]
    fn functions_and_user_builtins_do_not_break_the_save() {
        let Some(bash) = bash() else { return };
        let mut s = Session::new(bash);
        s.run(
            bash,
            "f() { echo hi; }; printf() { :; }; pwd() { :; }; cd /usr; IFS=:",
        );
        assert_eq!(s.state.cwd(), Path::new("/usr"));
        let (_, out) = s.run(
            bash,
            "type f >/dev/null 2>&1 && echo has-f; echo \"[$IFS]\"",
        );
        assert_eq!(out, "[:]\n", "functions are not carried, IFS is");
    }

    #[test]
    fn a_line_that_replaces_the_trap_keeps_the_previous_state() {
        let Some(bash) = bash() else { return };
        let mut s = Session::new(bash);
        s.run(bash, "cd /usr");
        let (status, out) = s.run(bash, "trap 'echo bye' EXIT; cd /; exit 4");
        assert_eq!((status, out.as_str()), (4, "bye\n"));
        assert_eq!(s.state.cwd(), Path::new("/usr"));
    }
}
