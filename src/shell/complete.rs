//! Tab completion for the interactive shell: safe-run's own commands and
//! the programs on PATH for the first word of a command, file paths
//! elsewhere (rustyline's `FilenameCompleter`, which knows quoting and
//! `~`).
//!
//! PATH is the shell's, not the process's: `export PATH=…` on one line
//! changes what the next Tab offers. The word splitting here is only good
//! enough to complete — checking a line is the parser's job.
//!
//! Subcommands and options (`systemctl sta<Tab>`, `kubectl get po<Tab>`)
//! come from the host's bash-completion scripts, as in bash: a bash is
//! started with the command's script sourced, `COMP_WORDS`/`COMP_CWORD`
//! set, the function the script registered is called and `COMPREPLY`
//! read back — within [`BASH_COMPLETION_BUDGET`], after which it is killed
//! and files are offered instead. Like bash's, these scripts may run the
//! command to list things (`systemctl list-units`); they are the host's
//! own, nothing the operator typed.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use rustyline::completion::{FilenameCompleter, Pair};

/// safe-run's own commands, and the shell builtins typed most often.
pub const COMMAND_WORDS: &[&str] = &[
    "help", "check", "why", "rules", "history", "exit", "logout", "cd", "export", "unset", "umask",
    "pwd", "echo", "printf", "source", "type", "set", "test", "time", "kill", "ulimit",
];

/// Words after which the next word is again a program name.
const PROGRAM_RUNNERS: &[&str] = &[
    "sudo", "doas", "time", "nohup", "nice", "exec", "command", "env", "xargs", "watch", "timeout",
    "stdbuf", "setsid", "ionice", "chroot",
];

/// At most this many programs are offered (a huge PATH stays responsive).
const MAX_CANDIDATES: usize = 2000;

/// Where the word under the cursor starts, and whether it names a program
/// (first word of a command, or after `sudo`, `|`, `;`, `&&`, `(`…).
pub fn word_at(line: &str, pos: usize) -> (usize, bool) {
    let pos = pos.min(line.len());
    let before = &line[..pos];
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace() || ";|&()<>`".contains(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let head = before[..start].trim_end();
    let command = match head.chars().last() {
        None => true,
        Some(c) if ";|&(`{\n".contains(c) => true,
        Some(_) => {
            let prev = head
                .rsplit(|c: char| c.is_whitespace() || ";|&()`".contains(c))
                .next()
                .unwrap_or("");
            PROGRAM_RUNNERS.contains(&prev) || matches!(prev, "then" | "do" | "else" | "!")
        }
    };
    (start, command)
}

/// The executables on `path` whose names start with `prefix`, sorted.
pub fn programs_on_path(path: &OsStr, prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for dir in std::env::split_paths(path) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".").to_path_buf()
        } else {
            dir
        };
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !name.starts_with(prefix) {
                continue;
            }
            // Follows symbolic links, as PATH lookup does.
            let executable = fs::metadata(entry.path())
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            if executable {
                found.push(name);
            }
            if found.len() >= MAX_CANDIDATES {
                break;
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// `$VA` → the session's variables starting with `VA`.
pub fn variables(env: &BTreeMap<OsString, OsString>, prefix: &str) -> Vec<String> {
    env.keys()
        .filter_map(|k| k.to_str())
        .filter(|k| k.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// `~ro` → the users (from `/etc/passwd`) starting with `ro`.
pub fn users(passwd: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = passwd
        .lines()
        .filter_map(|l| l.split(':').next())
        .filter(|u| !u.is_empty() && u.starts_with(prefix))
        .map(str::to_string)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// How long a bash-completion script may take before files are offered.
pub const BASH_COMPLETION_BUDGET: Duration = Duration::from_millis(1500);

/// Where bash-completion scripts are looked for, in order.
pub fn completion_dirs(env: &BTreeMap<OsString, OsString>) -> Vec<PathBuf> {
    let var = |k: &str| env.get(OsStr::new(k)).map(PathBuf::from);
    let mut dirs = Vec::new();
    if let Some(d) = var("BASH_COMPLETION_USER_DIR") {
        dirs.push(d.join("completions"));
    }
    match var("XDG_DATA_HOME").filter(|d| d.is_absolute()) {
        Some(d) => dirs.push(d.join("bash-completion/completions")),
        None => {
            if let Some(h) = var("HOME") {
                dirs.push(h.join(".local/share/bash-completion/completions"));
            }
        }
    }
    dirs.push(PathBuf::from(
        "/usr/local/share/bash-completion/completions",
    ));
    dirs.push(PathBuf::from("/usr/share/bash-completion/completions"));
    dirs.push(PathBuf::from("/etc/bash_completion.d"));
    dirs
}

/// The script that asks a completion function: `$1` the script, `$2` the
/// main bash-completion file (or empty), `$3` COMP_LINE, `$4` COMP_POINT,
/// `$5` COMP_CWORD, then the words.
const ASK: &str = r#"[ -n "$2" ] && . "$2" >/dev/null 2>&1
. "$1" >/dev/null 2>&1
__spec=$(complete -p -- "$6" 2>/dev/null) || exit 1
[[ $__spec =~ -F\ ([^ ]+) ]] || exit 1
COMP_LINE=$3 COMP_POINT=$4 COMP_CWORD=$5 COMP_TYPE=9 COMP_KEY=9
shift 5
COMP_WORDS=("$@")
COMPREPLY=()
"${BASH_REMATCH[1]}" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" </dev/null >/dev/null 2>&1
printf '%s\n' "${COMPREPLY[@]}""#;

/// The words of the command being typed up to `pos` (from its last `;`,
/// `|`, `&` or `(`), and the index of the word under the cursor.
pub fn command_words(line: &str, pos: usize) -> (Vec<String>, usize) {
    let before = &line[..pos.min(line.len())];
    let start = before
        .rfind([';', '|', '&', '(', '\n'])
        .map_or(0, |i| i + 1);
    let mut words: Vec<String> = before[start..]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if before.ends_with(char::is_whitespace) || words.is_empty() {
        words.push(String::new());
    }
    // `sudo -E systemctl …`: the command is the one run.
    while words.len() > 1 && PROGRAM_RUNNERS.contains(&words[0].as_str()) {
        words.remove(0);
        while words.len() > 1 && words[0].starts_with('-') {
            words.remove(0);
        }
    }
    let cword = words.len() - 1;
    (words, cword)
}

/// Asks the host's bash-completion script for `words[0]`; `None` when
/// there is none, it registered no function, or it took too long.
pub fn bash_completion(
    env: &BTreeMap<OsString, OsString>,
    line: &str,
    pos: usize,
) -> Option<Vec<String>> {
    let (words, cword) = command_words(line, pos);
    let cmd = words.first().filter(|w| !w.is_empty() && cword > 0)?;
    let name = Path::new(cmd).file_name()?.to_str()?;
    if name.starts_with('.') {
        return None;
    }
    let dirs = completion_dirs(env);
    let script = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())?;
    let main = ["/usr/share/bash-completion/bash_completion"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .map(|p| p.into_os_string())
        .unwrap_or_default();
    let point = line[..pos.min(line.len())].len().to_string();
    let mut child = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", ASK, "bash"])
        .arg(&script)
        .arg(main)
        .arg(&line[..pos.min(line.len())])
        .arg(point)
        .arg(cword.to_string())
        .args(&words)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    let mut out = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.by_ref().take(1 << 20).read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + BASH_COMPLETION_BUDGET;
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(0));
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = killpg(pid, Signal::SIGKILL);
                let _ = child.wait();
                return None;
            }
        }
    };
    // Whatever the function left running gets no more time either.
    let _ = killpg(pid, Signal::SIGKILL);
    let bytes = reader.join().ok()?;
    if !status.success() {
        return None;
    }
    let mut found: Vec<String> = String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    found.sort_unstable();
    found.dedup();
    (!found.is_empty()).then_some(found)
}

/// Completes the word at `pos`; returns where it starts and the candidates.
pub fn complete(
    files: &FilenameCompleter,
    path: Option<&OsStr>,
    env: &BTreeMap<OsString, OsString>,
    line: &str,
    pos: usize,
) -> (usize, Vec<Pair>) {
    let (start, command) = word_at(line, pos);
    let word = &line[start..pos.min(line.len())];
    if let Some(prefix) = word.strip_prefix('$')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        let pairs = variables(env, prefix)
            .into_iter()
            .map(|v| Pair {
                display: format!("${v}"),
                replacement: format!("${v}"),
            })
            .collect();
        return (start, pairs);
    }
    if let Some(prefix) = word.strip_prefix('~')
        && !prefix.contains('/')
    {
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        let pairs = users(&passwd, prefix)
            .into_iter()
            .map(|u| Pair {
                display: format!("~{u}"),
                replacement: format!("~{u}/"),
            })
            .collect();
        return (start, pairs);
    }
    let names_a_program = command
        && !word.is_empty()
        && !word.contains('/')
        && !word.starts_with(['~', '.', '$', '"', '\'']);
    if names_a_program {
        let mut names: Vec<String> = COMMAND_WORDS
            .iter()
            .filter(|w| w.starts_with(word))
            .map(|w| (*w).to_string())
            .collect();
        if let Some(path) = path {
            names.extend(programs_on_path(path, word));
        }
        names.sort_unstable();
        names.dedup();
        let pairs = names
            .into_iter()
            .map(|n| Pair {
                replacement: format!("{n} "),
                display: n,
            })
            .collect();
        return (start, pairs);
    }
    if let Some(found) = bash_completion(env, line, pos) {
        let pairs = found
            .into_iter()
            .map(|c| Pair {
                replacement: if c.ends_with(['/', '=']) {
                    c.clone()
                } else {
                    format!("{c} ")
                },
                display: c,
            })
            .collect();
        return (start, pairs);
    }
    files.complete_path(line, pos).unwrap_or((pos, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn command_positions() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("ls", true),
            ("ls -l", false),
            ("ls /v", false),
            ("cd /tmp && ls", true),
            ("cd /tmp; sy", true),
            ("cat x | gr", true),
            ("sudo sys", true),
            ("sudo -u bob sys", false),
            ("(ech", true),
            ("if true; then rebo", true),
            ("echo $(dat", true),
            ("time kube", true),
            ("echo a b", false),
        ];
        for (line, want) in cases {
            assert_eq!(word_at(line, line.len()).1, *want, "{line:?}");
        }
        assert_eq!(word_at("ls /va", 6), (3, false));
        assert_eq!(word_at("a; bé", 6), (3, true));
    }

    #[test]
    fn programs_are_found_on_the_given_path_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, mode: u32| {
            let p = dir.path().join(name);
            fs::write(&p, "#!/bin/sh\n").expect("write");
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
        };
        write("zz-safe-run-tool", 0o755);
        write("zz-safe-run-text", 0o644);
        write("zz-other", 0o755);
        fs::create_dir(dir.path().join("zz-safe-run-dir")).expect("mkdir");
        let path = OsString::from(dir.path());
        assert_eq!(
            programs_on_path(&path, "zz-safe"),
            vec!["zz-safe-run-tool".to_string()]
        );
        let files = FilenameCompleter::new();
        let env = BTreeMap::new();
        let (start, pairs) = complete(&files, Some(&path), &env, "sudo zz-s", 9);
        assert_eq!(start, 5);
        let shown: Vec<&str> = pairs.iter().map(|p| p.display.as_str()).collect();
        assert_eq!(shown, vec!["zz-safe-run-tool"]);
        assert_eq!(pairs[0].replacement, "zz-safe-run-tool ");
        let (_, pairs) = complete(&files, Some(&path), &env, "che", 3);
        assert!(pairs.iter().any(|p| p.display == "check"));
    }

    #[test]
    fn the_words_of_the_command_being_typed() {
        assert_eq!(
            command_words("ls; systemctl sta", 17),
            (vec!["systemctl".to_string(), "sta".to_string()], 1)
        );
        assert_eq!(
            command_words("kubectl get ", 12),
            (
                vec!["kubectl".to_string(), "get".to_string(), String::new()],
                2
            )
        );
    }

    #[test]
    fn a_completion_script_is_asked_for_subcommands() {
        let dir = tempfile::tempdir().expect("temp dir");
        let comp = dir.path().join("bash-completion/completions");
        fs::create_dir_all(&comp).expect("mkdir");
        fs::write(
            comp.join("zz-svc"),
            "_zz() { COMPREPLY=( $(compgen -W 'start status stop' -- \"${COMP_WORDS[COMP_CWORD]}\") ); }\ncomplete -F _zz zz-svc\n",
        )
        .expect("script");
        let mut env = BTreeMap::new();
        env.insert(
            OsString::from("XDG_DATA_HOME"),
            dir.path().as_os_str().to_owned(),
        );
        env.insert(OsString::from("PATH"), OsString::from("/usr/bin:/bin"));
        assert_eq!(
            bash_completion(&env, "zz-svc sta", 10),
            Some(vec!["start".to_string(), "status".to_string()])
        );
        assert_eq!(bash_completion(&env, "zz-other sta", 12), None);
        let files = FilenameCompleter::new();
        let (start, pairs) = complete(&files, None, &env, "sudo zz-svc sto", 15);
        assert_eq!((start, pairs.len()), (12, 1));
        assert_eq!(pairs[0].replacement, "stop ");
    }

    #[test]
    fn variables_and_users() {
        let env: BTreeMap<OsString, OsString> = [("HOME", "/h"), ("HOSTNAME", "x"), ("PATH", "/b")]
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect();
        assert_eq!(variables(&env, "HO"), vec!["HOME", "HOSTNAME"]);
        let files = FilenameCompleter::new();
        let (start, pairs) = complete(&files, None, &env, "echo $PA", 8);
        assert_eq!(start, 5);
        assert_eq!(pairs[0].replacement, "$PATH");
        let passwd = "root:x:0:0::/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/sh\nopsbot:x:1001:1001::/:/bin/sh\n";
        assert_eq!(users(passwd, "op"), vec!["ops", "opsbot"]);
    }

    #[test]
    fn other_words_complete_as_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("notes.txt"), "x").expect("write");
        let files = FilenameCompleter::new();
        let line = format!("cat {}/no", dir.path().display());
        let (start, pairs) = complete(&files, None, &BTreeMap::new(), &line, line.len());
        assert_eq!(start, 4);
        assert_eq!(pairs.len(), 1);
        assert!(
            pairs[0].replacement.ends_with("notes.txt"),
            "{:?}",
            pairs[0].replacement
        );
    }
}
