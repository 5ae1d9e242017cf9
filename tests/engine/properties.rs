//! Properties of the parser and classifier that must hold for every input.
//!
//! - No input crashes or hangs `parse_line`/`check_line`: random mixes of
//!   shell syntax, keywords, quotes and bytes up to 64 KB; pathological
//!   nesting 100,000 levels deep and 30 unclosed parentheses, which must
//!   come back as an error; long flat lines. These run in a child process
//!   (this test binary again) on a thread with a 2 MiB stack: a recursion
//!   too deep for a small stack is then a crash that is reported by name,
//!   instead of passing on a big stack or aborting every other test. No
//!   wall-clock limits: speed belongs in the benchmarks.
//! - Differential: plain lines give what a whitespace split gives, and
//!   quote removal agrees with a model of the words and with bash itself
//!   (when bash is installed).
//!
//! The proptest runners are built by hand (`TestRunner`) rather than with
//! `proptest!` so that one rule set serves every case, and with no failure
//! persistence so that a failing case is printed rather than written into
//! the source tree.

use std::process::Command;
use std::thread;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use safe_run::classify::check_line;
use safe_run::command::program_name;
use safe_run::parse::parse_line;
use safe_run::rules::RuleSet;
use safe_run::verdict::{Action, Risk};

use crate::common::bin::{cmd, current_test_exe, own_test, run};
use crate::common::require_tool;

/// 64 KB, the largest input the random cases build.
const MAX_INPUT: usize = 64 * 1024;

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

// ---------------------------------------------------------------------------
// Never a panic, whatever the input.

const SYNTAX: &[&str] = &[
    "(", ")", "((", "))", "{", "}", "{ ", " }", ";", ";;", ";&", "&", "&&", "|", "||", "|&", "!",
    "<", ">", ">>", ">|", "<>", "&>", "&>>", "2>&1", ">&-", "<<", "<<-", "<<<", "<(", ">(", "$(",
    "$((", "`", "${", "${#", "${x:-", "${x//", "$", "$'", "$\"", "'", "\"", "\\", "\\\n", "#",
    "\n", " ", "\t", "*", "?", "[", "]", "[[", "]]", "=", "+=", "~", ",", "-", "--", "\r", "\0",
    "$@", "$*", "$#", "$?", "$1", "@(", "!(", "}}", "{a,b}",
];

const WORDS: &[&str] = &[
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "for",
    "in",
    "do",
    "done",
    "while",
    "until",
    "case",
    "esac",
    "select",
    "function",
    "time",
    "coproc",
    "reboot",
    "sudo",
    "sudo -u root",
    "env -i",
    "bash -c",
    "sh -c",
    "eval",
    "exec",
    "ssh h",
    "xargs",
    "find . -exec",
    "\\;",
    "kubectl exec p --",
    "docker exec c",
    "pdsh -w n",
    "ansible all -a",
    "rm -rf /",
    "apt-get upgrade",
    "psql",
    "EOF",
    "f()",
    "x=reboot",
    "$x",
    "true",
    ":",
    "echo",
    "timeout 5",
    "watch",
    "su -c",
    "nice -n",
    "command",
    "builtin",
    "chroot /",
    "clush -a",
];

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => prop::sample::select(SYNTAX).prop_map(String::from),
        3 => prop::sample::select(WORDS).prop_map(String::from),
        3 => "[a-z0-9_./=-]{1,8}",
        1 => "\\PC{1,6}",
        1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Cuts `s` to at most `max` bytes, on a char boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Lines weighted small, with a few long ones up to 64 KB.
fn any_line() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::collection::vec(token(), 0..16).prop_map(|t| t.concat()),
        6 => prop::collection::vec(token(), 16..200).prop_map(|t| t.concat()),
        1 => (prop::collection::vec(token(), 1..40), 1usize..=MAX_INPUT).prop_map(|(t, len)| {
            let chunk = t.concat();
            let times = len / chunk.len().max(1) + 1;
            cut(chunk.repeat(times), len)
        }),
        1 => prop::collection::vec(any::<u8>(), 0..MAX_INPUT).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// The random property itself; runs in a child process (see below). Each
/// case is announced on stderr first (its length and start), so that when
/// one crashes the process the parent can say which.
fn random_lines_never_panic() -> Result<(), String> {
    let rules = RuleSet::builtin();
    let mut runner = runner(256);
    let result = runner.run(&any_line(), |line| {
        let head: String = line.chars().take(120).collect();
        eprintln!("CASE {} bytes: {head:?}", line.len());
        let parsed = parse_line(&line);
        let checked = check_line(&line, &rules);
        prop_assert_eq!(
            parsed.is_ok(),
            checked.is_ok(),
            "parse and check disagree on {:?}",
            line
        );
        if let Ok(v) = checked {
            let risk = v
                .findings
                .iter()
                .map(|f| f.risk)
                .max()
                .unwrap_or(Risk::None);
            let action = v
                .findings
                .iter()
                .map(|f| f.action)
                .max()
                .unwrap_or(Action::Allow);
            prop_assert_eq!((v.risk, v.action), (risk, action));
            for f in &v.findings {
                prop_assert!(
                    line.get(f.span.0..f.span.1).is_some(),
                    "span {:?} of rule {} is not a slice of the line",
                    f.span,
                    f.rule
                );
            }
        }
        Ok(())
    });
    result.map_err(|e| e.to_string())
}

#[test]
fn parse_and_classify_never_panic() {
    match run_isolated("random", "lines") {
        Outcome::Passed => {}
        other => panic!("random lines: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Pathological nesting: an error, not a crash or a hang.
//
// A stack overflow aborts the whole test process, which would hide every
// other result (and every other case). So each case runs in a child
// process — this test binary again, filtered to `isolated_case_runner` —
// and the child runs it on a thread with a 2 MiB stack (a typical small
// thread stack), so a recursion too deep for it is a crash that the parent
// reports by name.

const DEPTH: usize = 100_000;

/// Lines nested far too deep: each must be refused with an error.
fn deep_cases() -> Vec<(&'static str, String)> {
    vec![
        ("open parentheses", "(".repeat(DEPTH)),
        ("open parentheses with spaces", "( ".repeat(DEPTH)),
        ("open braces", "{ ".repeat(DEPTH)),
        ("open command substitutions", "$(".repeat(DEPTH)),
        ("open if", "if true; then ".repeat(DEPTH)),
        ("open while", "while true; do ".repeat(DEPTH)),
        ("open case", "case x in x) ".repeat(DEPTH)),
        ("open parameter expansions", "${x:-".repeat(DEPTH)),
        ("open substitutions in double quotes", "\"$(".repeat(DEPTH)),
        ("open arithmetic", "$((1+".repeat(DEPTH)),
        (
            "closed parentheses",
            format!("{}reboot{}", "(".repeat(DEPTH), ")".repeat(DEPTH)),
        ),
        (
            "closed spaced parentheses",
            format!("{}reboot{}", "( ".repeat(DEPTH), " )".repeat(DEPTH)),
        ),
        (
            "closed command substitutions",
            format!("{}reboot{}", "$(".repeat(DEPTH), ")".repeat(DEPTH)),
        ),
        (
            "closed braces",
            format!("{}reboot; {}", "{ ".repeat(DEPTH), "}; ".repeat(DEPTH)),
        ),
        (
            "closed ifs",
            format!(
                "{}reboot{}",
                "if true; then ".repeat(DEPTH),
                "; fi".repeat(DEPTH)
            ),
        ),
        ("thirty unclosed parentheses", "(".repeat(30)),
        ("thirty unclosed spaced parentheses", "( ".repeat(30)),
        (
            "thirty unclosed parentheses then a command",
            format!("{}reboot", "( ".repeat(30)),
        ),
        // Found by `parse_and_classify_never_panic`: inside `${…}` and `$(…)`
        // a `"` opens a new nested string, but the pre-parse nesting guard
        // takes it for the end of the outer one, so the `}` or `)` that
        // follows lowers its count and the real nesting (one level per
        // repetition) is never seen. 400 repetitions (1.6 KB) already
        // overflow a 2 MiB stack; 16,000 (64 KB) overflow 8 MiB.
        (
            "regression: quotes alternating with ${ (\"}${ repeated)",
            "\"}${".repeat(16_000),
        ),
        (
            "regression: quotes alternating with $( (\")$( repeated)",
            "\")$(".repeat(16_000),
        ),
    ]
}

/// Long but flat lines (no nesting at all): accepted or refused, either is
/// fine, but no crash on a small stack.
fn flat_cases() -> Vec<(&'static str, String)> {
    vec![
        ("long pipeline", format!("{}ls", "ls | ".repeat(10_000))),
        ("long and-list", format!("{}ls", "ls && ".repeat(10_000))),
        ("long ;-list", "ls; ".repeat(16_000)),
        ("long newline list", "ls\n".repeat(30_000)),
        ("many words", format!("echo {}", "a ".repeat(30_000))),
        (
            "many concatenated quotes",
            format!("echo {}", "'a'\"b\"".repeat(8_000)),
        ),
        (
            "many substitutions in one word",
            format!("echo {}", "$(ls)".repeat(5_000)),
        ),
        (
            "many redirections",
            format!("ls {}", "> /tmp/x ".repeat(6_000)),
        ),
    ]
}

/// Set in the child process to the `kind/name` of the case to run.
const CHILD_CASE: &str = "SAFE_RUN_PROPERTIES_CASE";

/// What one isolated case did.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// `check_line` returned an error.
    Error(String),
    /// `check_line` returned a verdict (action and risk).
    Verdict(String),
    /// The random property held for every case.
    Passed,
    /// The random property failed (the shrunk case is in the message).
    Failed(String),
    /// The child died without printing an outcome: a stack overflow or an
    /// abort. Holds the exit status, the last case it announced (if any)
    /// and its last line of stderr.
    Crashed(String),
}

/// Runs `f` on a thread with a 2 MiB stack, a typical small thread stack.
fn on_small_stack(f: impl FnOnce() -> String + Send + 'static) -> String {
    thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .unwrap_or_else(|_| "verdict panicked".to_string())
}

/// In the child process: runs the case named by `CHILD_CASE` and prints
/// its outcome. Outside a child (a normal test run) it does nothing.
#[test]
fn isolated_case_runner() {
    let Ok(id) = std::env::var(CHILD_CASE) else {
        return;
    };
    let (kind, name) = id.split_once('/').expect("kind/name");
    let outcome = if kind == "random" {
        on_small_stack(|| match random_lines_never_panic() {
            Ok(()) => "passed".to_string(),
            Err(e) => format!("failed {}", e.replace('\n', " | ")),
        })
    } else {
        let cases = if kind == "deep" {
            deep_cases()
        } else {
            flat_cases()
        };
        let (_, line) = cases
            .into_iter()
            .find(|(n, _)| *n == name)
            .expect("a known case");
        on_small_stack(move || {
            let rules = RuleSet::builtin();
            let parsed = parse_line(&line).map(drop);
            match (parsed, check_line(&line, &rules)) {
                (Err(e), Err(_)) => format!("error {e}"),
                (Ok(()), Ok(v)) => format!("verdict {} {}", v.action, v.risk),
                (p, c) => format!(
                    "verdict parse and check disagree: {p:?} / {:?}",
                    c.map(|v| v.risk)
                ),
            }
        })
    };
    println!("OUTCOME {outcome}");
}

/// Runs one case in a child process (this test binary, filtered to
/// `isolated_case_runner`) and reads its outcome.
fn run_isolated(kind: &str, name: &str) -> Outcome {
    let mut child = Command::new(current_test_exe());
    child
        .args([
            "--exact",
            &own_test(module_path!(), "isolated_case_runner"),
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_CASE, format!("{kind}/{name}"));
    let out = run(child);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    // libtest prints `test isolated_case_runner ... ` on the same line.
    let printed = stdout
        .lines()
        .find_map(|l| l.split_once("OUTCOME ").map(|(_, o)| o));
    match printed {
        Some(text) if out.status == 0 => {
            let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
            match word {
                "error" => Outcome::Error(rest.to_string()),
                "verdict" => Outcome::Verdict(rest.to_string()),
                "passed" => Outcome::Passed,
                _ => Outcome::Failed(rest.to_string()),
            }
        }
        _ => {
            let last_case = stderr
                .lines()
                .rev()
                .find(|l| l.starts_with("CASE "))
                .unwrap_or("");
            let last_line = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Outcome::Crashed(format!(
                "exit status {}; {last_case}; {last_line}",
                out.status
            ))
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let mut failures = Vec::new();
    for (name, _) in deep_cases() {
        match run_isolated("deep", name) {
            Outcome::Error(_) => {}
            other => failures.push(format!("  {name}: expected an error, got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} deep lines were not refused cleanly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn long_flat_lines_do_not_crash() {
    let mut failures = Vec::new();
    for (name, line) in flat_cases() {
        assert!(
            line.len() <= 2 * MAX_INPUT,
            "{name} is {} bytes",
            line.len()
        );
        if let outcome @ Outcome::Crashed(_) = run_isolated("flat", name) {
            failures.push(format!("  {name}: {outcome:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} flat lines crashed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Differential: plain lines against a whitespace split.

/// Words that make a plain line mean something else than "run the first
/// word": reserved words, and the wrappers that run another program.
const NOT_PLAIN_FIRST: &[&str] = &[
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "case",
    "esac",
    "for",
    "select",
    "while",
    "until",
    "do",
    "done",
    "in",
    "function",
    "time",
    "coproc",
    "sudo",
    "doas",
    "env",
    "nice",
    "ionice",
    "chrt",
    "taskset",
    "nohup",
    "builtin",
    "pkexec",
    "unbuffer",
    "catchsegv",
    "setsid",
    "stdbuf",
    "timeout",
    "command",
    "exec",
    "chroot",
    "xargs",
    "watch",
    "flock",
    "strace",
    "ltrace",
    "systemd-run",
    "nsenter",
    "sshpass",
    "bash",
    "sh",
    "dash",
    "zsh",
    "ksh",
    "ash",
    "mksh",
    "rbash",
    "busybox",
    "eval",
    "su",
    "runuser",
    "ssh",
    "find",
    "kubectl",
    "oc",
    "docker",
    "podman",
    "nerdctl",
    "crictl",
    "pdsh",
    "clush",
    "pssh",
    "parallel-ssh",
    "dsh",
    "ansible",
    "ip",
    "script",
];

fn plain_line() -> impl Strategy<Value = (Vec<String>, String)> {
    let word = "[a-z0-9./-]{1,12}";
    let gap = prop::sample::select(vec![" ", "  ", "\t", " \t "]);
    (
        prop::collection::vec((word, gap), 1..10),
        prop::sample::select(vec!["", " ", "\t"]),
    )
        .prop_filter("a reserved word or wrapper first", |(words, _)| {
            !NOT_PLAIN_FIRST.contains(&program_name(&words[0].0))
        })
        .prop_map(|(words, lead)| {
            let mut line = lead.to_string();
            for (i, (w, gap)) in words.iter().enumerate() {
                if i > 0 {
                    line.push_str(gap);
                }
                line.push_str(w);
            }
            (words.into_iter().map(|(w, _)| w).collect(), line)
        })
}

#[test]
fn plain_lines_are_split_on_whitespace() {
    let mut runner = runner(96);
    let result = runner.run(&plain_line(), |(words, line)| {
        // As typed (the fast path) and with a `;` after it (the full parser).
        for text in [line.clone(), format!("{line};")] {
            let script =
                parse_line(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
            prop_assert_eq!(script.commands.len(), 1, "{:?}", text);
            let cmd = &script.commands[0];
            prop_assert_eq!(cmd.argv_text(), words.clone(), "{:?}", text);
            let split: Vec<&str> = line.split_whitespace().collect();
            prop_assert_eq!(cmd.argv_text(), split, "{:?}", text);
            for w in &cmd.argv {
                prop_assert!(!w.dynamic && !w.glob, "{:?} in {:?}", w.text, text);
                prop_assert_eq!(
                    text.get(w.span.0..w.span.1),
                    Some(w.text.as_str()),
                    "span of {:?}",
                    w.text
                );
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------
// Differential: quote removal against a model, and against bash.

/// One piece of a word: its shell spelling and its value after quote removal.
fn piece() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        // Unquoted characters with no special meaning (no globs, braces,
        // tilde, `#`, `=` or `$`).
        3 => "[a-zA-Z0-9./_:@%+-]{1,6}".prop_map(|s| (s.clone(), s)),
        // Single quotes keep everything but `'`.
        2 => "[ -&(-~]{0,8}".prop_map(|s| (format!("'{s}'"), s)),
        // Double quotes: no `$`, backquote, `\` or `"` inside (those are
        // the escape pieces below), nor `!`.
        2 => "[ #%-\\[\\]-_a-~]{0,8}".prop_map(|s| (format!("\"{s}\""), s)),
        // A backslash outside quotes quotes the next character.
        1 => "[ -~]".prop_map(|c| (format!("\\{c}"), c)),
        // Inside double quotes only `$`, backquote, `"` and `\` lose the backslash.
        1 => prop::sample::select(vec![
            ("\"\\$\"", "$"),
            ("\"\\`\"", "`"),
            ("\"\\\"\"", "\""),
            ("\"\\\\\"", "\\"),
            ("\"\\a\"", "\\a"),
            ("\"a\\ b\"", "a\\ b"),
        ])
        .prop_map(|(s, v)| (s.to_string(), v.to_string())),
        // ANSI-C strings.
        1 => prop::sample::select(vec![
            ("$'a\\tb'", "a\tb"),
            ("$'\\x41'", "A"),
            ("$'\\101'", "A"),
            ("$'it\\'s'", "it's"),
            ("$'\\\\'", "\\"),
            ("$'x\\ny'", "x\ny"),
        ])
        .prop_map(|(s, v)| (s.to_string(), v.to_string())),
    ]
}

/// A word built of pieces, as (spelling, value).
fn quoted_word() -> impl Strategy<Value = (String, String)> {
    prop::collection::vec(piece(), 1..5).prop_map(|pieces| {
        let mut spelling = String::new();
        let mut value = String::new();
        for (s, v) in pieces {
            spelling.push_str(&s);
            value.push_str(&v);
        }
        (spelling, value)
    })
}

/// What bash passes to `printf` for this line, one value per argument.
fn bash_words(line: &str) -> Vec<String> {
    let mut bash = cmd("bash", &["--norc", "--noprofile", "-c", line]);
    bash.env("LC_ALL", "C");
    let out = run(bash);
    assert_eq!(out.status, 0, "bash failed on {line:?}: {}", out.stderr);
    let text = String::from_utf8(out.stdout_bytes).expect("bash printed UTF-8");
    let mut words: Vec<String> = text.split('\0').map(String::from).collect();
    // The output ends with a NUL, which leaves one empty string at the end.
    words.pop();
    words
}

#[test]
fn quote_removal_matches_the_model_and_bash() {
    // Without bash (and outside CI), compared with the model only.
    let bash = require_tool("bash").is_some();
    let mut runner = runner(if bash { 64 } else { 96 });
    let result = runner.run(&prop::collection::vec(quoted_word(), 1..6), |words| {
        let spelled: Vec<&str> = words.iter().map(|(s, _)| s.as_str()).collect();
        let line = format!("printf '%s\\0' {}", spelled.join(" "));
        let want: Vec<String> = words.iter().map(|(_, v)| v.clone()).collect();

        let script =
            parse_line(&line).map_err(|e| TestCaseError::fail(format!("{line:?}: {e}")))?;
        prop_assert_eq!(script.commands.len(), 1, "{:?}", line);
        let argv = script.commands[0].argv_text();
        prop_assert_eq!(
            &argv[..2],
            &["printf".to_string(), "%s\\0".to_string()][..],
            "{:?}",
            line
        );
        prop_assert_eq!(&argv[2..], &want[..], "model, {:?}", line);
        if bash {
            prop_assert_eq!(&argv[2..], &bash_words(&line)[..], "bash, {:?}", line);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
