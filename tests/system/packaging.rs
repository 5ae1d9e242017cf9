//! What the Debian package ships, checked against the code it comes from,
//! so none of it can drift: the configuration file, the rules.d README's
//! example, the maintainer scripts, the man pages and the completion
//! scripts. The package itself is built, installed and purged by
//! scripts/deb-check.sh (run by CI after the tests).
//!
//! Checks that need a program the machine may not have (man, zsh, fish,
//! shellcheck) print a `skipped:` line and pass where it is missing, except
//! under `CI=true`, where they fail (`common::tools`): CI installs them.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::bin::{cmd, run};
use crate::common::{Run, SafeRun, require_tool};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary with no site rules or configuration of this machine
/// (common::bin: a clean environment, `SAFE_RUN_CONFIG=/dev/null`).
fn safe_run(args: &[&str]) -> Run {
    SafeRun::new(args).run()
}

/// `/etc/safe-run/config.toml` as shipped is `config::commented_defaults()`
/// byte for byte. After a settings change, regenerate it with
/// `SAFE_RUN_UPDATE_SHIPPED=1 cargo test --test system packaging::`.
#[test]
fn the_shipped_config_is_the_commented_defaults() {
    let path = root().join("packaging/etc/config.toml");
    let want = safe_run::config::commented_defaults();
    if std::env::var_os("SAFE_RUN_UPDATE_SHIPPED").is_some() {
        fs::write(&path, &want).unwrap();
    }
    let got = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "packaging/etc/config.toml is not config::commented_defaults(); regenerate it with \
         SAFE_RUN_UPDATE_SHIPPED=1 cargo test --test system packaging::"
    );
}

/// Read the way safe-run reads /etc/safe-run/config.toml, the shipped file
/// is exactly the defaults, and `safe-run config` accepts it.
#[test]
fn the_shipped_config_loads_as_the_defaults() {
    let path = root().join("packaging/etc/config.toml");
    let loaded = safe_run::config::load(Some(&path), None).unwrap();
    assert_eq!(loaded.config, safe_run::config::Config::default());
    let out = safe_run(&["--config", path.to_str().unwrap(), "config"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
}

/// The example rule in /etc/safe-run/rules.d/README lints clean and passes
/// its own examples.
#[test]
fn the_rules_d_readme_example_is_a_working_rule() {
    let readme = fs::read_to_string(root().join("packaging/etc/rules.d/README")).unwrap();
    let example: Vec<&str> = readme
        .lines()
        .skip_while(|l| l.trim() != "[[rule]]")
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    assert!(example.len() > 5, "no example rule found in the README");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    fs::write(&file, example.join("\n") + "\n").unwrap();
    let file = file.to_str().unwrap();
    for command in ["lint", "test"] {
        let out = safe_run(&["rules", command, file]);
        assert_eq!(
            out.status, 0,
            "rules {command}: {}{}",
            out.stdout, out.stderr
        );
    }
}

/// The maintainer scripts are POSIX sh (dpkg runs them with /bin/sh), and
/// shellcheck-clean where shellcheck is installed.
#[test]
fn the_maintainer_scripts_are_valid_sh() {
    let scripts = ["postinst", "prerm", "postrm"].map(|s| root().join("packaging/debian").join(s));
    for script in &scripts {
        let out = run(cmd("sh", &["-n", script.to_str().unwrap()]));
        assert_eq!(out.status, 0, "sh -n {}: {out:?}", script.display());
        let text = fs::read_to_string(script).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{}", script.display());
        assert!(text.contains("\nset -e\n"), "{}", script.display());
    }
    match require_tool("shellcheck") {
        None => {}
        Some(shellcheck) => {
            let mut shellcheck = cmd(shellcheck, &["-s", "sh"]);
            shellcheck.args(&scripts);
            let out = run(shellcheck);
            assert_eq!(out.status, 0, "{}", out.stdout);
        }
    }
}

/// Every page renders with man(1) without a single groff warning.
#[test]
fn the_man_pages_render_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = safe_run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let pages: Vec<&str> = out.stdout.lines().collect();
    assert!(pages.len() >= 10, "{pages:?}");
    let Some(man) = require_tool("man") else {
        return;
    };
    for page in pages {
        let mut render = cmd(&man, &["--warnings", "-l", page]);
        render
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat");
        let out = run(render);
        assert_eq!(out.status, 0, "{page}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{page}");
        assert!(out.stdout.contains("SYNOPSIS"), "{page}");
    }
}

/// Writes the completion script for `shell` to a temp file.
fn completion_file(dir: &Path, shell: &str, name: &str) -> PathBuf {
    let out = safe_run(&["completions", shell]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let path = dir.join(name);
    fs::write(&path, &out.stdout_bytes).unwrap();
    path
}

/// bash loads the script, registers it for `safe-run`, and completes
/// `safe-run ch<TAB>` to `check` and `safe-run rules <TAB>` to its
/// subcommands.
#[test]
fn the_bash_completion_loads_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let script = completion_file(dir.path(), "bash", "safe-run");
    let probe = r#"
        set -e
        source "$1"
        complete -p safe-run
        complete_words() {
            COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
            _safe__run safe-run "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            echo "${COMPREPLY[*]}"
        }
        complete_words safe-run ch
        complete_words safe-run rules ''
        complete_words safe-run completions ''
    "#;
    let mut bash = cmd("bash", &["--norc", "--noprofile", "-c", probe, "probe"]);
    bash.arg(&script);
    let out = run(bash);
    let stdout = &out.stdout;
    assert_eq!(out.status, 0, "{stdout}{}", out.stderr);
    assert_eq!(out.stderr, "");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("-F _safe__run") && lines[0].ends_with(" safe-run"));
    assert_eq!(lines[1], "check");
    for sub in ["list", "show", "lint", "test"] {
        assert!(lines[2].split(' ').any(|w| w == sub), "{}", lines[2]);
    }
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        assert!(lines[3].split(' ').any(|w| w == shell), "{}", lines[3]);
    }
}

/// zsh loads the script through compinit the way the package installs it
/// (a `_safe-run` file on `fpath`) and binds it to `safe-run`.
#[test]
fn the_zsh_completion_loads() {
    let Some(zsh) = require_tool("zsh") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    completion_file(dir.path(), "zsh", "_safe-run");
    let probe = r#"
        fpath=("$1" $fpath)
        autoload -Uz compinit && compinit -u -D
        print -r -- "$_comps[safe-run]"
    "#;
    let mut zsh = cmd(zsh, &["-f", "-c", probe, "probe"]);
    zsh.arg(dir.path());
    let out = run(zsh);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    assert_eq!(out.stdout.trim(), "_safe-run");
}

/// fish loads the script and completes `safe-run ch` to `check`.
#[test]
fn the_fish_completion_loads_and_completes() {
    let Some(fish) = require_tool("fish") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = completion_file(dir.path(), "fish", "safe-run.fish");
    let mut fish = cmd(fish, &["--no-config", "-c"]);
    fish.arg(format!(
        "source {}; complete -C'safe-run ch'",
        script.display()
    ))
    .env("HOME", dir.path())
    .env("XDG_CONFIG_HOME", dir.path())
    .env("XDG_DATA_HOME", dir.path());
    let out = run(fish);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    assert!(
        out.stdout.lines().any(|l| l.starts_with("check\t")),
        "{}",
        out.stdout
    );
}
