//! Tab completion for the interactive shell: safe-run's own commands and
//! the programs on PATH for the first word of a command, file paths
//! elsewhere (rustyline's `FilenameCompleter`, which knows quoting and
//! `~`).
//!
//! PATH is the shell's, not the process's: `export PATH=…` on one line
//! changes what the next Tab offers. The word splitting here is only good
//! enough to complete — checking a line is the parser's job.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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
