//! What safe-run knows of the session between lines: the working
//! directory, the exported environment, `$?`, and the aliases, functions
//! and jobs of the session's bash — as bash last reported them
//! (`shell::bash`). The directory and the environment serve the prompt,
//! completion, the audit record's `cwd` and the programs safe-run starts
//! itself (previews, completion); the aliases and functions are what the
//! next line is checked with (`shell::expand`); the jobs are followed to
//! their end for the audit log (`shell::jobs`).
//!
//! Bash keeps the state itself; this is a mirror, refreshed after every
//! line. Also here: the login profile's environment, read once at start.
//!
//! The environment is kept in a map rather than in the process
//! environment (`set_var` is not thread-safe).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::context::{LineContext, ScriptSource};
use crate::shell::bash::Report;
use crate::shell::expand::{Definitions, parse_aliases, parse_functions};

/// What is carried from one line to the next.
#[derive(Debug, Default)]
pub struct ShellState {
    env: BTreeMap<OsString, OsString>,
    cwd: PathBuf,
    /// The status of the last line (`$?`).
    pub last_status: i32,
    /// The session's aliases and functions, for checking the next line.
    pub defs: Definitions,
    /// `jobs -l` as last reported.
    pub jobs: String,
}

impl ShellState {
    /// A state starting from `env` and the current directory.
    pub fn new(env: impl IntoIterator<Item = (OsString, OsString)>) -> ShellState {
        let env: BTreeMap<OsString, OsString> = env.into_iter().collect();
        let cwd = logical_cwd(env.get(OsStr::new("PWD")).map(PathBuf::from));
        let mut state = ShellState {
            env,
            cwd,
            ..ShellState::default()
        };
        let cwd = state.cwd.clone().into_os_string();
        state.env.insert("PWD".into(), cwd);
        state
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
    pub fn cwd(&self) -> &std::path::Path {
        &self.cwd
    }

    /// Where the next line runs, for the engine: the directory, `~` and the
    /// variables as text (a value that is not UTF-8 is left out: the
    /// engine then treats it as unknown). The scripts the line runs are
    /// read through `scripts`.
    pub fn place<'a>(&self, scripts: &'a dyn ScriptSource) -> LineContext<'a> {
        LineContext {
            cwd: self.cwd.to_str().map(str::to_string),
            home: self
                .var("HOME")
                .and_then(|h| h.to_str())
                .filter(|h| h.starts_with('/'))
                .map(str::to_string),
            vars: self
                .env
                .iter()
                .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v.to_str()?.to_string())))
                .collect(),
            // The session's unexported variables are not mirrored.
            vars_complete: false,
            scripts: Some(scripts),
        }
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

    /// Takes in what bash reported after a line: `$?`, the directory
    /// (this process follows it, so relative paths complete from there),
    /// the environment, aliases, functions and jobs. Returns problems for
    /// the operator.
    pub fn apply(&mut self, report: Report) -> Vec<String> {
        let mut warnings = Vec::new();
        self.last_status = report.status;
        let cwd = report.cwd;
        if cwd.is_absolute() && cwd != self.cwd {
            match std::env::set_current_dir(&cwd) {
                Ok(()) => self.cwd = cwd,
                Err(e) => warnings.push(format!(
                    "cannot follow the shell into {}: {e}",
                    crate::term::sanitize::clean(&cwd.to_string_lossy(), false)
                )),
            }
        }
        if !report.env.is_empty() {
            self.env = report.env.into_iter().collect();
            self.env
                .insert("PWD".into(), self.cwd.clone().into_os_string());
        }
        self.defs = Definitions {
            aliases: parse_aliases(&report.aliases),
            functions: parse_functions(&report.functions),
        };
        self.jobs = report.jobs;
        warnings
    }
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
    fn a_report_updates_the_mirror() {
        let mut s = ShellState::new([(OsString::from("A"), OsString::from("1"))]);
        let report = Report {
            status: 4,
            cwd: s.cwd().to_path_buf(),
            env: vec![("B".into(), "2".into())],
            aliases: "alias ll='ls -l'\n".into(),
            functions: "f () \n{ \n    reboot\n}\n".into(),
            jobs: String::new(),
        };
        assert!(s.apply(report).is_empty());
        assert_eq!(s.last_status, 4);
        assert_eq!(s.var("A"), None);
        assert_eq!(s.var("B"), Some(OsStr::new("2")));
        assert_eq!(
            s.defs.aliases,
            vec![("ll".to_string(), "ls -l".to_string())]
        );
        assert_eq!(s.defs.functions.len(), 1);
    }
}
