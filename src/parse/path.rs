//! Paths as the line's context reads them: relative paths against the
//! working directory, `~` against the home directory, `.` and `..`
//! removed. Pure string work — no file system: `..` is taken lexically, as
//! bash's `cd` does by default (`cd -L`), so a symbolic link is not
//! followed.

/// Programs whose operands are files, so that a bare word (`rm -rf usr`
/// in `/`) names a path in the working directory. Elsewhere only words
/// that look like paths (`./x`, `a/b`, `*`, `..`, `~/x`) are resolved, so
/// that `systemctl stop nginx` is not read as a file.
pub(super) const FILE_OPERAND_PROGRAMS: &[&str] = &[
    "rm",
    "rmdir",
    "unlink",
    "shred",
    "srm",
    "wipe",
    "find",
    "chmod",
    "chown",
    "chgrp",
    "chattr",
    "setfacl",
    "mv",
    "cp",
    "ln",
    "install",
    "truncate",
    "tee",
    "rsync",
    "wipefs",
    "blkdiscard",
    "mkswap",
    "mkfs",
];

/// `path` with `//`, `.` and `..` removed. `path` must be absolute; `..`
/// above the root stays at the root.
pub(super) fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::with_capacity(path.len());
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Does a normalised form add anything to `text`? Only when the text is
/// not already absolute and normal.
fn is_normal_absolute(text: &str) -> bool {
    text.starts_with('/')
        && !text.contains("//")
        && !text.split('/').any(|p| p == "." || p == "..")
        && (text == "/" || !text.ends_with('/'))
}

/// The absolute path a word names, or `None` when the context cannot say
/// (a relative path with no known directory, `~user`). `cwd` and `home`
/// are absolute.
pub(super) fn resolve(text: &str, cwd: Option<&str>, home: Option<&str>) -> Option<String> {
    if text.is_empty() {
        return None;
    }
    if let Some(rest) = text.strip_prefix('~') {
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        return Some(normalize(&format!("{}/{rest}", home?)));
    }
    if text.starts_with('/') {
        return Some(normalize(text));
    }
    Some(normalize(&format!("{}/{text}", cwd?)))
}

/// The path form of a word, when it says more than the word: absolute and
/// normalised, written `~/…` when it is in the home directory (what rules
/// about home directories look for, however the path was typed: `~`,
/// `$HOME`, `/home/u`, `..` from a directory below it). `None` when it
/// would be the text itself, and when nothing is known.
pub(super) fn resolved_form(text: &str, cwd: Option<&str>, home: Option<&str>) -> Option<String> {
    let home = home.filter(|h| h.len() > 1 && h.starts_with('/'));
    if is_normal_absolute(text) && home.is_none_or(|h| !text.starts_with(h)) {
        return None;
    }
    let path = resolve(text, cwd, home)?;
    let path = match home.map(|h| h.trim_end_matches('/')) {
        Some(h) if path == h => "~".to_string(),
        Some(h) if path.starts_with(h) && path[h.len()..].starts_with('/') => {
            format!("~{}", &path[h.len()..])
        }
        _ => path,
    };
    (path != text).then_some(path)
}

/// Could this word be a path whatever the program (for programs not in
/// [`FILE_OPERAND_PROGRAMS`])? A path shape: a slash, `~`, `.`/`..`, or a
/// glob, and no `=` or `:` (`of=/dev/sda`, `host:/dir`, URLs).
pub(super) fn looks_like_path(text: &str) -> bool {
    !text.contains(['=', ':'])
        && (text.contains('/')
            || text.starts_with('~')
            || text == "."
            || text == ".."
            || text.contains(['*', '?']))
}

/// Could this word be a file operand of a program in
/// [`FILE_OPERAND_PROGRAMS`]? Anything but an option, an assignment or a
/// remote or URL form.
pub(super) fn is_operand(text: &str) -> bool {
    !text.starts_with('-') && !text.contains(['=', ':']) && !text.is_empty()
}

/// The interpreter a `#!` line names, by its name: `#!/bin/sh` → `sh`,
/// `#!/usr/bin/env -S bash -e` → `bash`. `None` without a `#!` line.
pub(super) fn shebang(first_line: &str) -> Option<&str> {
    let rest = first_line.strip_prefix("#!")?;
    let mut words = rest.split_whitespace();
    let interpreter = words.next().unwrap_or("");
    let name = interpreter.rsplit('/').next().unwrap_or(interpreter);
    if name == "env" {
        return Some(
            words
                .find(|w| !w.starts_with('-') && !w.contains('='))
                .unwrap_or(""),
        );
    }
    Some(name)
}

/// Shells whose scripts are read as this shell's (`#!/bin/sh`,
/// `#!/usr/bin/env bash`).
pub(super) const SHELL_INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "ash", "ksh", "mksh", "posix", "rbash", "busybox", "yash", "zsh",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_resolved_and_normalised() {
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
        let cases: &[Case] = &[
            ("*", Some("/etc"), None, Some("/etc/*")),
            ("usr", Some("/"), None, Some("/usr")),
            (
                "./build",
                Some("/home/u/src"),
                None,
                Some("/home/u/src/build"),
            ),
            ("..", Some("/home/u/src"), None, Some("/home/u")),
            ("../../..", Some("/a"), None, Some("/")),
            ("/tmp/../etc", None, None, Some("/etc")),
            ("//etc/", None, None, Some("/etc")),
            ("/etc", None, None, None),
            ("x", None, None, None),
            ("~", None, Some("/home/u"), None),
            ("~/", None, Some("/home/u"), Some("~")),
            ("~/.cache", None, Some("/home/u"), None),
            ("/home/u", None, Some("/home/u"), Some("~")),
            ("/home/u2", None, Some("/home/u"), None),
            ("*", Some("/home/u"), Some("/home/u"), Some("~/*")),
            ("..", Some("/home/u/src"), Some("/home/u"), Some("~")),
            ("~bob/x", None, Some("/home/u"), None),
            ("~", None, None, None),
            ("/", None, Some("/"), None),
        ];
        for (text, cwd, home, want) in cases {
            assert_eq!(
                resolved_form(text, *cwd, *home).as_deref(),
                *want,
                "{text:?} in {cwd:?}"
            );
        }
    }

    #[test]
    fn interpreters_are_read_from_the_shebang() {
        assert_eq!(shebang("#!/bin/sh"), Some("sh"));
        assert_eq!(shebang("#! /bin/bash -e"), Some("bash"));
        assert_eq!(shebang("#!/usr/bin/env -S bash -x"), Some("bash"));
        assert_eq!(shebang("#!/usr/bin/python3"), Some("python3"));
        assert_eq!(shebang("echo hi"), None);
    }
}
