//! The session's bash: one long-lived `bash -i` per interactive session,
//! which runs every approved line, so that everything a shell keeps from
//! one line to the next — the directory, variables, aliases, functions,
//! the directory stack, jobs, `$!`, options — is simply kept by bash.
//!
//! Why this shape (docs/SHELL.md has the operator's version): a fresh
//! `bash -c` per line cannot keep jobs (`sleep 30 &` then `fg`), `$!`,
//! Ctrl-Z or `exit` inside a compound line; only the shell that started a
//! job can wait for it. So bash lives for the session and safe-run feeds
//! it, one approved line at a time:
//!
//! - bash's **stdin is a pipe from safe-run**: bash only ever runs what
//!   safe-run writes there (every word quoted against the operator's
//!   aliases, every function read-only), which is, per line,
//!   `\builtin eval -- 'LINE' <the operator's stdio>` followed by
//!   `__safe_run_report`. Interactive (`-i`), bash gives each job its own
//!   process group and the terminal, and Ctrl-C abandons the line and
//!   goes back to reading the next command — exactly what a shell does
//!   at its prompt. `--noediting` keeps readline off.
//! - the **line's own stdin, stdout and stderr** are safe-run's (the
//!   terminal, or the pipes of `echo … | safe-run`), handed to bash as
//!   extra descriptors at start and given to each `eval` by redirection,
//!   closed for everything else.
//! - bash's **stdout is the report pipe**: after each line,
//!   `__safe_run_report` (a read-only function) writes `$?`, the working
//!   directory, the exported environment, the aliases, the functions and
//!   the jobs, NUL-separated. The aliases and functions are what the next
//!   line is checked with (`shell::expand`).
//! - bash's **stderr is the message pipe**: what bash says between lines
//!   (a job's end is reported by safe-run instead), shown before the
//!   prompt rather than over it.
//!
//! What bash would run on its own, without a line, is switched off:
//! `PS0`, `PS1`, `PS2`, `PS4` and `PROMPT_COMMAND` are read-only and
//! empty (they expand command substitutions), mail checking is off, and
//! after each line its traps are removed and `set -e` undone (docs).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use nix::unistd::Pid;

/// Names the session's bash uses for itself; not carried, not shown.
pub const PRIVATE_PREFIX: &str = "__safe_run_";

/// Marks every process a session runs: the session bash's pid. A
/// `safe-run` started inside a session takes approval given in advance
/// only from its own command line (see [`approval_from_env_allowed`]).
pub const SESSION_VAR: &str = "SAFE_RUN_SESSION";

/// Approval given in advance through the environment: never passed to
/// what a session runs.
pub const APPROVAL_VARS: &[&str] = &["SAFE_RUN_REASON", "SAFE_RUN_CONFIRM"];

/// The traps removed after each line.
const TRAPS: &str = "EXIT ERR DEBUG RETURN HUP INT QUIT TERM USR1 USR2 ALRM CHLD WINCH PIPE CONT URG XCPU XFSZ VTALRM PROF IO SYS";

/// Set up once, before the first line: the operator's stdio descriptors
/// moved to high numbers, hooks switched off, the report defined.
fn init_script(fds: [i32; 3]) -> String {
    let [i, o, e] = fds;
    format!(
        r#"\builtin exec {{__safe_run_0}}<&{i} {{__safe_run_1}}>&{o} {{__safe_run_2}}>&{e} {i}<&- {o}>&- {e}>&-
\builtin readonly __safe_run_0 __safe_run_1 __safe_run_2
\builtin declare -r PS0= PS1= PS2= PS4='+ ' PROMPT_COMMAND= MAILCHECK=-1
\builtin export -n PS0 PS1 PS2 PS4 PROMPT_COMMAND MAILCHECK
\builtin declare -rx {SESSION_VAR}=$$
\builtin unset -v HISTFILE {approval}
\builtin set +o history
\builtin shopt -s expand_aliases checkwinsize
__safe_run_report() {{
\builtin local __safe_run_st=$?
\builtin export -n {approval}
\builtin printf '\0%s\0S%s\0D' "{MARK}" "$__safe_run_st"
\builtin pwd
\builtin printf '\0E'
\builtin declare -px
\builtin printf '\0A'
\builtin alias -p
\builtin printf '\0F'
\builtin declare -f
\builtin printf '\0J'
LC_ALL=C \builtin jobs -l
\builtin printf '\0Z\0'
}}
__safe_run_rc() {{ \builtin return "$1"; }}
__safe_run_wait() {{ \builtin wait "$1" 2>/dev/null; \builtin printf 'S%s\0Z\0' "$?"; }}
\builtin readonly -f __safe_run_report __safe_run_rc __safe_run_wait
__safe_run_report
"#,
        approval = APPROVAL_VARS.join(" "),
        MARK = MARK,
    )
}

/// Opens every report: what comes before it on the pipe (a trap's output,
/// before the traps are removed) is not part of the report.
const MARK: &str = "@safe-run-report@";

/// After a line, at the top level (a DEBUG or RETURN trap removed inside a
/// function comes back when it returns): `$?` kept, traps removed, `set -e`
/// undone, then the report.
fn after_line() -> String {
    format!(
        "__safe_run_st=$?; \\builtin trap - {TRAPS}; \\builtin set +e; \\__safe_run_rc \"$__safe_run_st\" && :; \\__safe_run_report\n"
    )
}

/// What bash reports after a line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// `$?` after the line.
    pub status: i32,
    /// The working directory, as bash spells it (symbolic links kept).
    pub cwd: PathBuf,
    /// The exported environment.
    pub env: Vec<(OsString, OsString)>,
    /// `alias -p`.
    pub aliases: String,
    /// `declare -f`.
    pub functions: String,
    /// `jobs -l`.
    pub jobs: String,
}

/// How a session's bash came to an end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The status to leave with (`exit N` gives N).
    pub status: i32,
}

/// The session's bash and its pipes.
pub struct SessionBash {
    child: Child,
    commands: ChildStdin,
    reports: ChildStdout,
    pending: Vec<u8>,
    /// bash's stderr, non-blocking: what bash wrote before a report is
    /// there once the report has come.
    messages: std::process::ChildStderr,
    ended: Option<Ended>,
}

impl SessionBash {
    /// Starts `bash` with `env` (approval variables removed), in its own
    /// process group, and waits for its first report.
    /// `foreground` is called with bash's process group as soon as it
    /// exists: an interactive bash waits until its group owns the
    /// terminal.
    pub fn start(
        bash: &str,
        env: &BTreeMap<OsString, OsString>,
        foreground: impl FnOnce(Pid),
    ) -> io::Result<(SessionBash, Report)> {
        // dup() leaves close-on-exec off: these three are inherited.
        let stdio = [
            nix::unistd::dup(io::stdin().as_fd())?,
            nix::unistd::dup(io::stdout().as_fd())?,
            nix::unistd::dup(io::stderr().as_fd())?,
        ];
        let fds = [0, 1, 2].map(|i| stdio[i].as_raw_fd());
        let mut command = Command::new(bash);
        command
            .args(["--noprofile", "--norc", "--noediting", "-i"])
            .env_clear()
            .envs(
                env.iter()
                    .filter(|(k, _)| !is_approval_var(k) && k.as_bytes() != b"PROMPT_COMMAND"),
            )
            // Empty from the start: bash prints PS1 before its first read.
            .env("PS1", "")
            .env("PS2", "")
            .env("PS0", "")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let spawned = command.spawn();
        drop(stdio);
        let mut child = spawned?;
        let (Some(commands), Some(reports), Some(messages)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(io::Error::other("no pipes to bash"));
        };
        let flags = nix::fcntl::fcntl(&messages, nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&messages, nix::fcntl::FcntlArg::F_SETFL(flags))?;
        foreground(Pid::from_raw(i32::try_from(child.id()).unwrap_or(0)));
        let mut bash = SessionBash {
            child,
            commands,
            reports,
            pending: Vec::new(),
            messages,
            ended: None,
        };
        bash.write(init_script(fds).as_bytes())?;
        match bash.report() {
            Ok(first) => {
                // Without a terminal, bash says it has no job control.
                bash.take_messages();
                Ok((bash, first))
            }
            Err(e) => Err(io::Error::other(format!(
                "bash ended at once (status {})",
                e.status
            ))),
        }
    }

    /// The bash process (its process group has the same number).
    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0))
    }

    fn write(&mut self, text: &[u8]) -> io::Result<()> {
        self.commands.write_all(text)?;
        self.commands.flush()
    }

    /// Sends one approved line, then the report; `$?` starts as `status`
    /// (the last line's, which bash did not see when safe-run refused it or
    /// ran one of its own commands). The report (on an input line of its
    /// own: Ctrl-C abandons the line, and bash goes on with the next).
    /// Before reading the report, bash prints (on the message pipe) the
    /// jobs that ended, and forgets them: see [`SessionBash::take_messages`].
    pub fn send_line(&mut self, line: &str, status: i32) -> io::Result<()> {
        let text = format!(
            "\\__safe_run_rc {} && :; \\builtin eval -- {} 0<&$__safe_run_0 1>&$__safe_run_1 2>&$__safe_run_2 {{__safe_run_0}}<&- {{__safe_run_1}}>&- {{__safe_run_2}}>&-\n{}",
            status & 0xff,
            sh_quote(line),
            after_line()
        );
        self.write(text.as_bytes())
    }

    /// Asks for a report without running anything (the jobs' states).
    pub fn send_query(&mut self) -> io::Result<()> {
        self.write(b"\\__safe_run_report\n")
    }

    /// The status bash remembers for a job's process that is gone from its
    /// table (`wait PID`); `None` when bash does not know it (127) or has
    /// ended.
    pub fn status_of(&mut self, pid: i32) -> Option<i32> {
        self.write(format!("\\__safe_run_wait {pid}\n").as_bytes())
            .ok()?;
        let status = self.report().ok()?.status;
        (status != 127).then_some(status)
    }

    /// Waits for the next report; `Err` when bash has ended.
    pub fn report(&mut self) -> Result<Report, Ended> {
        if let Some(e) = self.ended {
            return Err(e);
        }
        let mut buf = [0u8; 8192];
        loop {
            if let Some(end) = find_end(&self.pending) {
                let bytes: Vec<u8> = self.pending.drain(..end).collect();
                let mark = format!("\0{MARK}\0");
                let from = bytes
                    .windows(mark.len())
                    .rposition(|w| w == mark.as_bytes())
                    .map_or(0, |at| at + mark.len());
                return Ok(parse_report(&bytes[from..]));
            }
            match self.reports.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let status = match self.child.wait() {
            Ok(s) => {
                use std::os::unix::process::ExitStatusExt;
                crate::exit::of_wait(s.code(), s.signal())
            }
            Err(_) => 1,
        };
        let ended = Ended { status };
        self.ended = Some(ended);
        Err(ended)
    }

    /// What bash printed on its own since the last call: job ends
    /// (`[1]+  Done  sleep 3`), `exit`.
    pub fn take_messages(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.messages.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        out
    }

    /// Ends bash: its input is closed (as Ctrl-D would), and it is waited
    /// for. Running jobs go on, as when bash itself exits.
    pub fn close(mut self) {
        drop(self.commands);
        if self.ended.is_none() {
            let _ = self.child.wait();
        }
    }
}

/// Whether `name` is one of the approval variables.
pub fn is_approval_var(name: &OsStr) -> bool {
    APPROVAL_VARS
        .iter()
        .any(|v| name.as_bytes() == v.as_bytes())
}

/// Whether approval read from the environment (`SAFE_RUN_REASON`,
/// `SAFE_RUN_CONFIRM`) may count for one `safe-run -- CMD` / `-c LINE`:
/// always outside a session; inside one (`SAFE_RUN_SESSION` set), only when
/// the session's bash itself started this process — the variables were
/// then written on the very line the session checked (`SAFE_RUN_CONFIRM=…
/// safe-run -- cmd`), never inherited through another program (an editor's
/// `:!cmd`, a script). `session` is the variable's value, `parent` this
/// process's parent.
pub fn approval_from_env_allowed(session: Option<&OsStr>, parent: i32) -> bool {
    match session {
        None => true,
        Some(v) => v
            .to_str()
            .and_then(|v| v.parse::<i32>().ok())
            .is_some_and(|pid| pid == parent),
    }
}

/// [`approval_from_env_allowed`] for this process.
pub fn env_approval_counts() -> bool {
    let session = std::env::var_os(SESSION_VAR);
    approval_from_env_allowed(session.as_deref(), nix::unistd::getppid().as_raw())
}

/// Where a complete report ends (after `Z\0`), if one is there.
fn find_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(nul) = bytes[at..].iter().position(|b| *b == 0) {
        let field = &bytes[at..at + nul];
        at += nul + 1;
        if field == b"Z" {
            return Some(at);
        }
    }
    None
}

/// Parses `S…\0D…\0E…\0A…\0F…\0J…\0Z\0`.
pub fn parse_report(bytes: &[u8]) -> Report {
    let mut r = Report::default();
    for field in bytes.split(|b| *b == 0) {
        let Some((&tag, value)) = field.split_first() else {
            continue;
        };
        let text = || String::from_utf8_lossy(value).into_owned();
        match tag {
            b'S' => r.status = text().trim().parse().unwrap_or(0),
            b'D' => {
                let v = value.strip_suffix(b"\n").unwrap_or(value);
                r.cwd = PathBuf::from(OsString::from_vec(v.to_vec()));
            }
            b'E' => r.env = parse_declare_px(value),
            b'A' => r.aliases = text(),
            b'F' => r.functions = text(),
            b'J' => r.jobs = text(),
            _ => {}
        }
    }
    r
}

/// Parses `declare -px`: `declare -x NAME="VALUE"` (bash's double-quote
/// escapes) or `declare -x NAME=$'…'`; names without a value are skipped.
pub fn parse_declare_px(bytes: &[u8]) -> Vec<(OsString, OsString)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(start) = find(rest, b"declare -") else {
            break;
        };
        rest = &rest[start + b"declare -".len()..];
        // Attributes, then the name.
        let Some(sp) = rest.iter().position(|b| *b == b' ') else {
            break;
        };
        rest = &rest[sp + 1..];
        let name_end = rest
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_vec();
        rest = &rest[name_end..];
        if rest.first() != Some(&b'=') {
            continue;
        }
        rest = &rest[1..];
        let (value, used) = match rest.first() {
            Some(b'"') => unquote_double(&rest[1..]),
            Some(b'$') if rest.get(1) == Some(&b'\'') => unquote_ansi(&rest[2..]),
            _ => {
                let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
                (rest[..end].to_vec(), end)
            }
        };
        rest = &rest[used.min(rest.len())..];
        if !name.is_empty() && !name.starts_with(PRIVATE_PREFIX.as_bytes()) {
            out.push((OsString::from_vec(name), OsString::from_vec(value)));
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The inside of `"…"` up to the closing quote: `(value, bytes used with
/// the quotes)`.
fn unquote_double(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() && b"\"\\$`".contains(&bytes[i + 1]) => {
                out.push(bytes[i + 1]);
                i += 2;
            }
            b'"' => return (out, i + 2),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (out, bytes.len() + 1)
}

/// The inside of `$'…'`: `(value, bytes used with `$'` and `'`)`.
fn unquote_ansi(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => {
                let c = bytes[i + 1];
                i += 2;
                match c {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'e' | b'E' => out.push(0x1b),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'0'..=b'7' => {
                        let mut v = u32::from(c - b'0');
                        let mut n = 1;
                        while n < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                            v = v * 8 + u32::from(bytes[i] - b'0');
                            i += 1;
                            n += 1;
                        }
                        out.push((v & 0xff) as u8);
                    }
                    b'x' => {
                        let mut v = 0u32;
                        let mut n = 0;
                        while n < 2 && i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                            v = v * 16 + char::from(bytes[i]).to_digit(16).unwrap_or(0);
                            i += 1;
                            n += 1;
                        }
                        out.push((v & 0xff) as u8);
                    }
                    other => out.push(other),
                }
            }
            b'\'' => return (out, i + 3),
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (out, bytes.len() + 2)
}

/// A single-quoted shell word.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_variables_are_read_back_with_their_quoting() {
        let text = b"declare -x A=\"1\"\ndeclare -x B=\"x \\\"y\\\" \\$z\\\\\nline2\"\ndeclare -x UNSET\ndeclare -rx C=$'a\\tb\\001'\ndeclare -x __safe_run_x=\"no\"\ndeclare -x D=\"\"\n";
        let got = parse_declare_px(text);
        let want: Vec<(OsString, OsString)> = vec![
            ("A".into(), "1".into()),
            ("B".into(), "x \"y\" $z\\\nline2".into()),
            ("C".into(), "a\tb\u{1}".into()),
            ("D".into(), "".into()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn reports_are_split_into_their_fields() {
        let bytes = b"S3\0D/tmp/a b\n\0Edeclare -x X=\"1\"\n\0Aalias ll='ls -l'\n\0Ff () \n{ \n    echo\n}\n\0J[1]+  42 Running    sleep 9 &\n\0Z\0";
        assert_eq!(find_end(bytes), Some(bytes.len()));
        assert_eq!(find_end(&bytes[..bytes.len() - 1]), None);
        let r = parse_report(bytes);
        assert_eq!(r.status, 3);
        assert_eq!(r.cwd, PathBuf::from("/tmp/a b"));
        assert_eq!(r.env, vec![("X".into(), "1".into())]);
        assert_eq!(r.aliases, "alias ll='ls -l'\n");
        assert!(r.functions.starts_with("f () "));
        assert!(r.jobs.contains("sleep 9"));
    }

    #[test]
    fn approval_from_the_environment_inside_a_session() {
        assert!(approval_from_env_allowed(None, 1), "outside a session");
        assert!(approval_from_env_allowed(Some(OsStr::new("77")), 77));
        assert!(!approval_from_env_allowed(Some(OsStr::new("77")), 78));
        assert!(!approval_from_env_allowed(Some(OsStr::new("x")), 78));
    }
}
