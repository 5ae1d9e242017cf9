//! The manual pages and the shell completion scripts, generated from the
//! clap definitions in `cli`, so they always match what the binary accepts.
//!
//! - `safe-run completions SHELL` prints a completion script (clap_complete).
//! - The hidden `safe-run man [--dir DIR]` writes the manual (clap_mangen):
//!   `safe-run.1`, plus one page per subcommand (`safe-run-check.1`,
//!   `safe-run-rules-lint.1`, …) as git and cargo do. clap_mangen's command
//!   list points to those pages, so they have to exist. To clap's own
//!   sections, `safe-run.1` adds what a person opens a man page for: risk
//!   levels, exit statuses, environment, files.
//!
//! Both are generated when the package is built (scripts/deb-build.sh), not
//! by `build.rs`: an ordinary `cargo build` does not need them. Without
//! `--date` the page has no date, so the output depends only on the binary.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

/// The hidden `safe-run man` subcommand.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page (safe-run.1, safe-run-check.1, …) into DIR instead
    /// of printing safe-run.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The date shown in the pages' footer (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
}

/// The clap command as it is documented: the hidden `man` left out and
/// `help` not offered as a subcommand.
fn documented_command(cli: &clap::Command) -> clap::Command {
    let mut cmd = cli.clone().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The clap command as completions offer it. clap_complete also offers
/// hidden subcommands, so the command is rebuilt without them (only the
/// arguments and subcommands matter to a completion script).
fn completion_command(full: &clap::Command) -> clap::Command {
    let mut cmd = clap::Command::new("safe-run")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = full.get_about() {
        cmd = cmd.about(about.clone());
    }
    cmd
}

/// Prints the completion script for `shell`.
pub fn completions(shell: Shell, cli: &clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = completion_command(cli);
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "safe-run", &mut buf);
    if shell == Shell::Bash {
        // clap_complete's bash script names its states inconsistently when
        // the binary's name has a hyphen: the loop that finds the
        // subcommand arrives at `safe__run__subcmd__rules`, the arms that
        // complete it are labelled `safe__subcmd__run__subcmd__rules`, so
        // nothing after a subcommand would complete (clap-rs/clap#6421).
        // Spell the arms the loop's way; once clap is fixed this changes
        // nothing. tests/system/packaging.rs completes `safe-run rules <TAB>`.
        let text = String::from_utf8_lossy(&buf).replace("safe__subcmd__run", "safe__run");
        return out.write_all(text.as_bytes());
    }
    out.write_all(&buf)
}

/// Runs `safe-run man`.
pub fn run(args: &ManArgs, cli: &clap::Command, out: &mut dyn Write) -> io::Result<i32> {
    let date = args.date.as_deref().unwrap_or("");
    match &args.dir {
        None => render_main(cli, date, out)?,
        Some(dir) => {
            for path in write_pages(cli, dir, date)? {
                writeln!(out, "{}", path.display())?;
            }
        }
    }
    Ok(0)
}

/// Writes every page into `dir`; returns their paths, main page first.
pub fn write_pages(cli: &clap::Command, dir: &Path, date: &str) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let main = dir.join("safe-run.1");
    let mut text = Vec::new();
    render_main(cli, date, &mut text)?;
    std::fs::write(&main, text)?;
    let mut written = vec![main];
    let cmd = documented_command(cli);
    for sub in visible_subcommands(&cmd) {
        write_subcommand_pages(sub, dir, date, &mut written)?;
    }
    Ok(written)
}

fn visible_subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

fn write_subcommand_pages(
    cmd: &clap::Command,
    dir: &Path,
    date: &str,
    written: &mut Vec<PathBuf>,
) -> io::Result<()> {
    let man = Man::new(cmd.clone())
        .date(date)
        .manual("safe-run")
        .source(format!("safe-run {}", env!("CARGO_PKG_VERSION")));
    let path = dir.join(man.get_filename());
    let mut text = Vec::new();
    man.render(&mut text)?;
    // Every subcommand page points back to the main one.
    let see_also = see_also(&[("safe-run", "1")]).render();
    text.extend_from_slice(without_preamble(&see_also).as_bytes());
    std::fs::write(&path, text)?;
    written.push(path);
    for sub in visible_subcommands(cmd) {
        write_subcommand_pages(sub, dir, date, written)?;
    }
    Ok(())
}

/// safe-run.1: clap_mangen's sections, then safe-run's own.
pub fn render_main(cli: &clap::Command, date: &str, out: &mut dyn Write) -> io::Result<()> {
    let cmd = documented_command(cli);
    let man = Man::new(cmd.clone()).date(date).manual("safe-run");
    let mut pages: Vec<(String, &str)> = Vec::new();
    collect_pages(&cmd, &mut pages);
    let mut refs: Vec<(&str, &str)> = pages.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    refs.extend([("chsh", "1"), ("shells", "5"), ("rsyslog.conf", "5")]);
    // Each piece is rendered on its own, and each rendering starts with
    // roff's apostrophe preamble: the page keeps only the first.
    let mut page = String::new();
    let mut add = |render: &dyn Fn(&mut Vec<u8>) -> io::Result<()>| -> io::Result<()> {
        let mut buf = Vec::new();
        render(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        page.push_str(if page.is_empty() {
            &text
        } else {
            without_preamble(&text)
        });
        Ok(())
    };
    add(&|w| man.render_title(w))?;
    add(&|w| man.render_name_section(w))?;
    add(&|w| man.render_synopsis_section(w))?;
    add(&|w| description().to_writer(w))?;
    add(&|w| man.render_options_section(w))?;
    add(&|w| man.render_subcommands_section(w))?;
    add(&|w| own_sections().to_writer(w))?;
    add(&|w| see_also(&refs).to_writer(w))?;
    add(&|w| man.render_version_section(w))?;
    out.write_all(page.as_bytes())
}

/// Roff text without the apostrophe preamble that every rendering of the
/// `roff` crate starts with: a page needs it once, at its top.
fn without_preamble(text: &str) -> &str {
    let preamble = Roff::new().render();
    text.strip_prefix(preamble.as_str()).unwrap_or(text)
}

fn collect_pages(cmd: &clap::Command, pages: &mut Vec<(String, &'static str)>) {
    for sub in visible_subcommands(cmd) {
        let name = sub.get_display_name().unwrap_or_else(|| sub.get_name());
        pages.push((name.to_string(), "1"));
        collect_pages(sub, pages);
    }
}

/// A paragraph of plain text (roff escaping is the `roff` crate's).
fn para(roff: &mut Roff, text: &str) {
    roff.control("PP", []);
    roff.text([roman(text)]);
}

/// A `.TP` item: a bold term, then its explanation.
fn item(roff: &mut Roff, term: impl Into<Vec<Inline>>, text: &str) {
    roff.control("TP", []);
    roff.text(term);
    roff.text([roman(text)]);
}

fn description() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["DESCRIPTION"]);
    r.text([roman(
        "safe-run reads each command line the way the shell will, finds every program \
         it would run (through pipelines, lists, substitutions, functions, loops, sudo, \
         env, timeout, xargs, bash -c, ssh host and more), weighs it against rules that \
         operators can read and extend, and before anything risky runs explains the risk, \
         shows what would change, and asks for a typed confirmation and a reason. Every \
         decision and outcome is written to a tamper-evident audit log.",
    )]);
    para(
        &mut r,
        "It is a guard rail against mistakes, not a jail against attackers: an operator \
         who wants to bypass it can.",
    );
    para(&mut r, "Ways to run it:");
    item(
        &mut r,
        [bold("safe-run")],
        "With no arguments: an interactive shell. Each line is checked before it runs \
         (a call to an alias or function through what it runs); one bash per session \
         keeps cd, variables, aliases, functions and jobs between lines, and \
         ~/.safe-runrc is read at start. As a login shell \
         (chsh -s /usr/bin/safe-run, or argv[0] starting with `-') it takes the \
         environment of a bash login shell.",
    );
    item(
        &mut r,
        [bold("safe-run -c "), italic("LINE")],
        "Check LINE, then run it with the configured shell (/bin/bash -c). This is what \
         sshd runs for `ssh host LINE', scp, rsync and sftp when safe-run is the login \
         shell.",
    );
    item(
        &mut r,
        [
            bold("safe-run"),
            roman(" [--reason "),
            italic("TEXT"),
            roman("] [--confirm "),
            italic("TOKEN"),
            roman("] -- "),
            italic("PROG ARGS..."),
        ],
        "Check one program and its arguments, and run it directly, without a shell. \
         Without a terminal a risky command is refused (status 77) unless the reason and \
         the confirmation are given in advance.",
    );
    item(
        &mut r,
        [bold("safe-run check "), italic("LINE")],
        "Classify without running: what would be asked, and why (also --file and --json).",
    );
    para(
        &mut r,
        "Answers to prompts are read from the controlling terminal (/dev/tty), never from \
         standard input, so a pipe cannot confirm.",
    );
    r
}

fn own_sections() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["RISK LEVELS"]);
    r.text([roman(
        "What each risk level asks by default (configurable in [confirm] of the \
         configuration file):",
    )]);
    for (level, asks) in [
        ("none", "runs; still logged."),
        ("low", "a one-line notice on standard error, then it runs."),
        ("medium", "explains; type `yes' and give a reason."),
        (
            "high",
            "explains and shows the rule's dry-run preview; type the host's short name and \
             give a reason.",
        ),
        (
            "critical",
            "as high, and the reason must be at least a sentence (20 characters).",
        ),
        (
            "deny",
            "refused whatever the answer; only a rule change lifts it.",
        ),
    ] {
        item(&mut r, [bold(level)], asks);
    }

    r.control("SH", ["EXIT STATUS"]);
    for (status, meaning) in [
        (
            "the command's",
            "it ran; its status passes through (128+N when killed by signal N).",
        ),
        (
            "126, 127",
            "the program exists but cannot run / is not found.",
        ),
        (
            "77",
            "refused by policy: denied, or needed a confirmation that was not given, or the \
             audit log could not record a risky line.",
        ),
        ("1", "aborted at a prompt (wrong answer, Ctrl-C, Ctrl-D)."),
        (
            "2",
            "usage or configuration error, or a line that cannot be parsed.",
        ),
    ] {
        item(&mut r, [bold(status)], meaning);
    }
    para(
        &mut r,
        "safe-run check exits 0 when everything would run without a prompt, 1 when \
         something needs confirmation or is refused, 2 on a usage error or a line that \
         cannot be parsed.",
    );

    r.control("SH", ["ENVIRONMENT"]);
    for (var, meaning) in [
        (
            "SAFE_RUN_CONFIG",
            "The configuration file to read instead of /etc/safe-run/config.toml.",
        ),
        (
            "SAFE_RUN_REASON, SAFE_RUN_CONFIRM",
            "The same as --reason and --confirm, for scripts. Not applied to an interactive \
             session.",
        ),
        (
            "SAFE_RUN_RULES_DIR",
            "The site rule directory instead of /etc/safe-run/rules.d.",
        ),
        (
            "XDG_STATE_HOME",
            "Where a user's own audit log and shell history go when the system log cannot \
             be written (default ~/.local/state).",
        ),
        ("NO_COLOR", "When set and not empty: no colour."),
        ("COLUMNS", "The width explanations are wrapped at."),
    ] {
        item(&mut r, [bold(var)], meaning);
    }

    r.control("SH", ["FILES"]);
    for (file, meaning) in [
        (
            "/etc/safe-run/config.toml",
            "The configuration. Every setting has a default; the shipped file lists each \
             one commented out at its default. `safe-run config' prints the settings in \
             force and where each came from.",
        ),
        (
            "/etc/safe-run/rules.d/*.toml",
            "Site rules, added to the built-in ones; a rule with a built-in id replaces it. \
             A broken file is reported loudly and every valid rule stays in force.",
        ),
        (
            "/var/log/safe-run/audit.jsonl",
            "The audit log (JSON Lines, hash-chained), when it can be written; \
             `safe-run audit verify' checks it.",
        ),
        (
            "~/.local/state/safe-run/audit.jsonl",
            "A user's own audit log when the system one cannot be written.",
        ),
        (
            "~/.local/state/safe-run/history",
            "The interactive shell's history.",
        ),
        (
            "/etc/shells",
            "The Debian package lists /usr/bin/safe-run here, so it can be a login shell.",
        ),
    ] {
        item(&mut r, [bold(file)], meaning);
    }
    r
}

fn see_also(pages: &[(&str, &str)]) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["SEE ALSO"]);
    let mut inlines = Vec::new();
    for (i, (name, section)) in pages.iter().enumerate() {
        if i > 0 {
            inlines.push(roman(", "));
        }
        inlines.push(bold(*name));
        inlines.push(roman(format!("({section})")));
    }
    r.text(inlines);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    fn main_page() -> String {
        let mut out = Vec::new();
        render_main(&Cli::command(), "2026-11-22", &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_main_page_has_the_sections_a_reader_looks_for() {
        let page = main_page();
        assert!(page.contains("\n.TH safe-run 1 2026-11-22 "), "{page}");
        assert_eq!(
            page.matches(&Roff::new().render()).count(),
            1,
            "one preamble"
        );
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "\"RISK LEVELS\"",
            "\"EXIT STATUS\"",
            "ENVIRONMENT",
            "FILES",
            "\"SEE ALSO\"",
        ] {
            assert!(page.contains(&format!(".SH {section}\n")), "{section}");
        }
        assert!(page.contains("safe\\-run\\-check(1)"), "{page}");
        assert!(
            !page.contains("safe\\-run\\-man"),
            "the hidden command stays hidden"
        );
    }

    #[test]
    fn every_subcommand_page_is_written_and_the_hidden_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let pages = write_pages(&Cli::command(), dir.path(), "").unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "safe-run.1",
            "safe-run-check.1",
            "safe-run-rules.1",
            "safe-run-rules-lint.1",
            "safe-run-config.1",
            "safe-run-audit.1",
            "safe-run-completions.1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        assert!(
            !names
                .iter()
                .any(|n| n.contains("-man") || n.contains("-help"))
        );
    }

    #[test]
    fn completions_name_the_binary_and_its_subcommands() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            completions(shell, &Cli::command(), &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("safe-run"), "{shell}");
            assert!(text.contains("check"), "{shell}");
            assert!(
                !text.contains("manual pages"),
                "{shell}: the hidden `man` is not offered"
            );
        }
    }
}
