//! The shell's history: bash's history expansion (`!!`, `!$`, `!N`,
//! `!-N`, `!prefix`), what is kept (a line typed with a leading space is
//! not, as with bash's `ignorespace`), and the history file, where secrets
//! are masked the way the audit log masks them (`audit::redact`).
//!
//! In memory the session keeps the lines as typed (Up recalls them
//! whole); the file gets them redacted, in rustyline's `#V2` format (one
//! entry per line, `\n` and `\\` escaped), appended after every line.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rustyline::history::{FileHistory, History, SearchDirection};

use crate::audit::redact::redact;
use crate::term::sanitize::clean;

/// Whether a typed line is kept in the history: not blank, and not typed
/// with a leading space.
pub fn keeps(line: &str) -> bool {
    !line.trim().is_empty() && !line.starts_with([' ', '\t'])
}

/// `history [N]`: numbered entries, the last `n` of them.
pub fn listing(entries: &FileHistory, n: Option<usize>) -> String {
    let skip = n.map_or(0, |n| entries.len().saturating_sub(n));
    let mut out = String::new();
    for (i, entry) in entries.iter().enumerate().skip(skip) {
        out.push_str(&format!("{:5}  {}\n", i + 1, clean(entry, false)));
    }
    out
}

/// Appends `line`, redacted, to the history file.
pub fn append(path: &Path, line: &str) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let mut text = String::new();
    if file.metadata()?.len() == 0 {
        text.push_str("#V2\n");
    }
    text.push_str(&escape(&redact(line)));
    text.push('\n');
    file.write_all(text.as_bytes())
}

/// Empties the history file (`history -c`).
pub fn clear(path: &Path) -> io::Result<()> {
    std::fs::write(path, "#V2\n")
}

fn escape(entry: &str) -> String {
    entry.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Performs history expansion on `line` with `entries` (oldest first).
/// `Ok(None)`: nothing to expand; `Err`: an event that does not exist
/// (bash's "event not found"; the line is not run).
pub fn expand(line: &str, entries: &[String]) -> Result<Option<String>, String> {
    if !line.contains('!') {
        return Ok(None);
    }
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut changed = false;
    let mut in_single = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if !in_single => {
                out.push(c);
                if let Some(n) = chars.get(i + 1) {
                    out.push(*n);
                }
                i += 2;
                continue;
            }
            '\'' => in_single = !in_single,
            '!' if !in_single => {
                let next = chars.get(i + 1).copied();
                let event: Option<(String, usize)> = match next {
                    Some('!') => Some((last(entries)?.to_string(), 2)),
                    Some('$') => {
                        let prev = last(entries)?;
                        Some((last_word(prev).to_string(), 2))
                    }
                    Some(d) if d.is_ascii_digit() || d == '-' => {
                        let mut j = i + 1;
                        if d == '-' {
                            j += 1;
                        }
                        let start = j;
                        while j < chars.len() && chars[j].is_ascii_digit() {
                            j += 1;
                        }
                        let digits: String = chars[start..j].iter().collect();
                        match digits.parse::<usize>() {
                            Ok(n) if n > 0 => {
                                let index = if d == '-' {
                                    entries.len().checked_sub(n)
                                } else {
                                    Some(n - 1)
                                };
                                let text: String = chars[i..j].iter().collect();
                                let entry = index
                                    .and_then(|k| entries.get(k))
                                    .ok_or_else(|| format!("{text}: event not found"))?;
                                Some((entry.clone(), j - i))
                            }
                            _ => None,
                        }
                    }
                    Some(ch) if ch.is_alphanumeric() || "/._-".contains(ch) => {
                        let mut j = i + 1;
                        while j < chars.len()
                            && !chars[j].is_whitespace()
                            && !";|&()<>'\"".contains(chars[j])
                        {
                            j += 1;
                        }
                        let prefix: String = chars[i + 1..j].iter().collect();
                        let entry = entries
                            .iter()
                            .rev()
                            .find(|e| e.starts_with(&prefix))
                            .ok_or_else(|| format!("!{prefix}: event not found"))?;
                        Some((entry.clone(), j - i))
                    }
                    _ => None,
                };
                if let Some((text, used)) = event {
                    out.push_str(&text);
                    changed = true;
                    i += used;
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    Ok(changed.then_some(out))
}

fn last(entries: &[String]) -> Result<&str, String> {
    entries
        .last()
        .map(String::as_str)
        .ok_or_else(|| "!!: event not found".to_string())
}

/// The last word of a line (for `!$`), split at blanks.
fn last_word(line: &str) -> &str {
    line.split_whitespace().last().unwrap_or("")
}

/// The history's entries, oldest first.
pub fn entries(history: &FileHistory) -> Vec<String> {
    let mut out = Vec::with_capacity(history.len());
    for i in 0..history.len() {
        if let Ok(Some(e)) = history.get(i, SearchDirection::Forward) {
            out.push(e.entry.into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn events_expand_like_bash() {
        let e = h(&["ls /tmp", "systemctl restart nginx", "echo last-arg"]);
        let cases: &[(&str, Option<&str>)] = &[
            ("!!", Some("echo last-arg")),
            ("sudo !!", Some("sudo echo last-arg")),
            ("cat !$", Some("cat last-arg")),
            ("!1", Some("ls /tmp")),
            ("!-2", Some("systemctl restart nginx")),
            ("!sys", Some("systemctl restart nginx")),
            ("echo 'a!!b'", None),
            ("echo a\\!b", None),
            ("echo hi!", None),
            ("[ ! -f x ]", None),
            ("ls", None),
        ];
        for (line, want) in cases {
            assert_eq!(
                expand(line, &e).expect("expands"),
                want.map(str::to_string),
                "{line:?}"
            );
        }
        assert!(expand("!9", &e).is_err());
        assert!(expand("!nope", &e).is_err());
        assert!(expand("!!", &[]).is_err());
    }

    #[test]
    fn leading_space_lines_are_not_kept() {
        assert!(keeps("ls"));
        assert!(!keeps(" export TOKEN=x"));
        assert!(!keeps("   "));
    }

    #[test]
    fn the_file_gets_redacted_escaped_entries() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("h");
        append(&path, "mysql -u root -phunter2").expect("append");
        append(&path, "echo \"a\nb\\c\"").expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text, "#V2\nmysql -u root -p***\necho \"a\\nb\\\\c\"\n");
        clear(&path).expect("clear");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "#V2\n");
    }
}
