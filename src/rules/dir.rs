//! Reading rule files from disk: the small edge that keeps `rules` pure.
//!
//! A directory's `*.toml` files are read in name order, so that when two
//! files define the same id the later name wins predictably. Nothing here
//! stops at the first problem: a file that cannot be read, or a rule with a
//! mistake, becomes a [`Diagnostic`] and every valid rule is still returned,
//! because a broken site rule must never lock the operator out. A file or
//! directory that others could change is refused the same way.

use std::io;
use std::path::{Path, PathBuf};

use crate::config::file::{check_dir, describe, read_trusted};
use crate::rules::{Rule, RuleSet};
use crate::term::diag::Diagnostic;

/// The `*.toml` files directly in `dir`, sorted by name; hidden files and
/// directories are skipped. A missing directory has no files.
pub fn toml_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if name.ends_with(".toml") && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// A rule file larger than this is refused rather than read.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads one rule file: its valid rules, and every error in it. A file
/// that others than root and this user could change, or that is not a
/// regular file, is refused (`config::file`), as sudo refuses such a
/// sudoers file.
pub fn load_file(path: &Path) -> (Vec<Rule>, Vec<Diagnostic>) {
    let name = path.display().to_string();
    let what = "the rule file";
    match read_trusted(path, MAX_FILE_BYTES, what) {
        Err(problem) => (
            Vec::new(),
            vec![Diagnostic::whole_file(&name, describe(&problem, what))],
        ),
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => RuleSet::parse_file_lenient(&text, &name),
            Err(_) => (
                Vec::new(),
                vec![Diagnostic::whole_file(
                    &name,
                    "the rule file is not UTF-8 text",
                )],
            ),
        },
    }
}

/// Reads every `*.toml` file of `dir` in name order. A missing directory
/// means no rules and no error; a directory others could add files to is
/// refused whole.
pub fn load_dir(dir: &Path) -> (Vec<Rule>, Vec<Diagnostic>) {
    if let Err(why) = check_dir(dir) {
        let name = dir.display().to_string();
        return (Vec::new(), vec![Diagnostic::whole_file(&name, why)]);
    }
    let files = match toml_files(dir) {
        Ok(files) => files,
        Err(e) => {
            let name = dir.display().to_string();
            let error = Diagnostic::whole_file(&name, format!("cannot list the rule files: {e}"));
            return (Vec::new(), vec![error]);
        }
    };
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let (file_rules, file_errors) = load_file(&file);
        rules.extend(file_rules);
        errors.extend(file_errors);
    }
    (rules, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"
[[rule]]
id = "ID"
risk = "high"
programs = ["reboot"]
why = "Restarts the host."
instead = "Drain it first."
match = ["reboot", "sudo reboot"]
allow = ["uptime", "echo reboot"]
"#;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).expect("test file is written");
    }

    #[test]
    fn a_missing_directory_is_no_rules_and_no_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (rules, errors) = load_dir(&dir.path().join("absent"));
        assert!(rules.is_empty());
        assert!(errors.is_empty());
    }

    #[test]
    fn toml_files_are_read_in_name_order_and_others_are_ignored() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "b.toml", &RULE.replace("ID", "from-b"));
        write(dir.path(), "a.toml", &RULE.replace("ID", "from-a"));
        write(dir.path(), "notes.txt", "not rules");
        write(dir.path(), ".hidden.toml", "not = rules");
        std::fs::create_dir(dir.path().join("sub.toml")).expect("dir");
        let (rules, errors) = load_dir(dir.path());
        assert!(errors.is_empty(), "{errors:?}");
        let ids: Vec<&str> = rules.iter().map(Rule::id).collect();
        assert_eq!(ids, vec!["from-a", "from-b"]);
        assert!(rules[0].source.0.ends_with("a.toml"));
        assert_eq!(rules[0].source.1, 2);
    }

    #[test]
    fn a_broken_file_keeps_the_other_files_and_its_valid_rules() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "a.toml", "[[rule]\n");
        write(
            dir.path(),
            "b.toml",
            &format!(
                "{}{}",
                RULE.replace("ID", "good"),
                RULE.replace("ID", "Bad")
            ),
        );
        write(dir.path(), "c.toml", &RULE.replace("ID", "also-good"));
        std::fs::write(dir.path().join("d.toml"), [0xff, 0xfe]).expect("written");
        let (rules, errors) = load_dir(dir.path());
        let ids: Vec<&str> = rules.iter().map(Rule::id).collect();
        assert_eq!(ids, vec!["good", "also-good"]);
        let places: Vec<(bool, usize)> = errors
            .iter()
            .map(|e| (e.file.ends_with(".toml"), e.line))
            .collect();
        assert_eq!(places.len(), 3, "{errors:#?}");
        assert!(places.iter().all(|(toml, _)| *toml));
        assert_eq!(errors[1].line, 12);
        assert_eq!(
            errors[2].to_string(),
            format!("{}: the rule file is not UTF-8 text", errors[2].file)
        );
    }
}
