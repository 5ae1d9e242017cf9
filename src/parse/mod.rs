//! From a shell line to every simple command it could run.
//!
//! The grammar is brush-parser's (see NOTES.md for why), a patched 0.4.0
//! carried in vendor/brush-parser (PATCHES.md says what and why); this
//! module walks its syntax tree and removes quotes the way the shell does.
//! Around the parser sit the guards it needs: a length limit and a nesting
//! limit checked before parsing (brush-parser takes exponential time on
//! unclosed `( ( (` and overflows its stack on very deep input), "not
//! finished" for a here-document opened on the last line (the shape of the
//! inputs that made 0.4.0 loop forever), a bound on how often strings are
//! parsed again (`bash -c "bash -c '…'"`), and a step budget. Inside the
//! patched parser, the tokenizer's work is bounded by the input's length.
//! Whatever cannot be understood is an error — "cannot tell what runs" —
//! never a silent "safe".
//!
//! Also covered here, because only the walk knows the context:
//! - `( ( reboot ) )`, which brush-parser reads as arithmetic;
//! - functions defined in the line (calling one runs its body; a function
//!   calling itself is reported as `<recursive-function>`);
//! - literal assignments earlier in the line (`x=reboot; $x` runs `reboot`);
//! - pipelines (who feeds whose stdin) and here-documents;
//! - where the line runs ([`LineContext`]): the working directory, which a
//!   `cd` in the line changes for the commands after it, against which
//!   file operands are resolved (`Word::path`); the session's variables,
//!   substituted like the line's own; and the scripts the line runs
//!   (`bash x.sh`, `. x.sh`, `./x.sh`), read through the context's
//!   `ScriptSource` and walked as part of the line;
//! - where each command acts (`command::Target`): this host, the host of
//!   `ssh HOST`, each host of a loop over a literal list, a cluster.
//!
//! A fast path handles lines made only of plain words (no quotes, no
//! expansions, no operators), which are most lines typed at a prompt.

mod guard;
mod path;
mod walk;
mod word;

use crate::command::{SimpleCommand, Word};
use crate::context::LineContext;
use guard::plain_words;
use walk::{Ctx, Walker};

/// Bounds on the work one line may cause.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Bytes in the whole input.
    pub max_len: usize,
    /// Nesting of brackets and compound commands.
    pub max_depth: usize,
    /// Parentheses still open at the end of the input.
    pub max_unclosed_parens: usize,
    /// Strings parsed again inside strings (`bash -c`, `ssh host '…'`, `$(…)`).
    pub max_reparse_depth: usize,
    /// Simple commands, function calls and re-parses together.
    pub max_steps: usize,
    /// Scripts run by scripts (`bash a.sh` where a.sh runs `. b.sh`).
    pub max_script_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: 256 * 1024,
            max_depth: 64,
            max_unclosed_parens: 10,
            max_reparse_depth: 12,
            max_steps: 20_000,
            max_script_depth: 8,
        }
    }
}

/// Why a line could not be understood. Every one of these means "cannot
/// tell what runs": the line is never treated as safe.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the input is {len} bytes long; safe-run checks at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("the line nests more than {max} levels deep")]
    TooDeep { max: usize },
    #[error("the line leaves {count} parentheses open")]
    Unbalanced { count: usize },
    /// More input could finish the line. `line` and `col` (1-based) say
    /// where what is left open starts, when known (0 otherwise).
    #[error("the line is not finished: {what}")]
    Incomplete {
        what: String,
        line: usize,
        col: usize,
    },
    #[error("syntax error at line {line}, column {col}{near}")]
    Syntax {
        line: usize,
        col: usize,
        near: String,
    },
    #[error("too complex to check (more than {max} commands, calls and nested strings)")]
    TooComplex { max: usize },
    #[error("cannot read the word {word:?}: {what}")]
    BadWord { word: String, what: String },
}

impl ParseError {
    /// The line may become valid when more lines are added (an unclosed
    /// quote, `if` without `fi`, a trailing `|`): a prompt asks for more.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, ParseError::Incomplete { .. })
    }
}

/// Every simple command a line could run, in the order they appear.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub commands: Vec<SimpleCommand>,
}

/// Parses one line (or a whole script) with the default limits, knowing
/// nothing of where it runs.
pub fn parse_line(line: &str) -> Result<Script, ParseError> {
    parse_with(line, &Limits::default())
}

/// Parses one line as it runs in `place`: relative paths against its
/// working directory, its variables substituted, the scripts it runs read.
pub fn parse_line_in(line: &str, place: &LineContext) -> Result<Script, ParseError> {
    parse_full(line, &Limits::default(), place, false)
}

/// Parses a whole script file (`check --file`): as [`parse_line_in`], and
/// every function body is checked where it is defined, whether it is
/// called by a literal name or not.
pub fn parse_script_in(text: &str, place: &LineContext) -> Result<Script, ParseError> {
    // A script may hold many more commands than a line: its step budget
    // grows with its length (still linear, still bounded).
    let defaults = Limits::default();
    let limits = Limits {
        max_steps: defaults.max_steps.max(text.len() / 4),
        ..defaults
    };
    parse_full(text, &limits, place, true)
}

/// Parses with explicit limits.
pub fn parse_with(line: &str, limits: &Limits) -> Result<Script, ParseError> {
    parse_full(line, limits, &LineContext::default(), false)
}

fn parse_full(
    line: &str,
    limits: &Limits,
    place: &LineContext,
    whole_script: bool,
) -> Result<Script, ParseError> {
    let mut walker = Walker::new(limits, place);
    if whole_script {
        walker.walk_functions_at_definition();
    }
    walker.set_root(line);
    let ctx = Ctx::default();
    if line.len() > limits.max_len {
        return Err(ParseError::TooLong {
            len: line.len(),
            max: limits.max_len,
        });
    }
    if let Some(words) = plain_words(line) {
        let argv: Vec<Word> = words
            .into_iter()
            .map(|(t, s)| Word::literal(t, s))
            .collect();
        if !argv.is_empty() {
            let span = (argv[0].span.0, argv[argv.len() - 1].span.1);
            let cmd = SimpleCommand {
                argv,
                span,
                ..SimpleCommand::default()
            };
            walker.emit(cmd, &ctx, 0)?;
        }
    } else {
        walker.walk_text(line, None, &ctx, 0)?;
    }
    Ok(Script {
        commands: walker.into_commands(),
    })
}

/// Quotes one word for display the way a shell would read it back.
pub fn quote_word(word: &str) -> String {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"_./:=,@%+-^".contains(&b);
    if !word.is_empty() && word.bytes().all(safe) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// An argv given directly (`safe-run -- PROG ARGS…`): one simple command,
/// no shell involved, but wrappers are still seen through (`sudo reboot`,
/// `bash -c '…'`). Returns the display line (each word quoted as a shell
/// would need) and the commands, with spans into that line.
pub fn parse_argv(argv: &[String]) -> Result<(String, Script), ParseError> {
    parse_argv_in(argv, &LineContext::default())
}

/// [`parse_argv`] as the program runs in `place`.
pub fn parse_argv_in(argv: &[String], place: &LineContext) -> Result<(String, Script), ParseError> {
    let limits = Limits::default();
    let mut line = String::new();
    let mut words = Vec::with_capacity(argv.len());
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let start = line.len();
        line.push_str(&quote_word(a));
        words.push(Word::literal(a, (start, line.len())));
    }
    if line.len() > limits.max_len {
        return Err(ParseError::TooLong {
            len: line.len(),
            max: limits.max_len,
        });
    }
    let mut walker = Walker::new(&limits, place);
    walker.set_root(&line);
    if !words.is_empty() {
        let cmd = SimpleCommand {
            span: (0, line.len()),
            argv: words,
            ..SimpleCommand::default()
        };
        walker.emit(cmd, &Ctx::default(), 0)?;
    }
    Ok((
        line,
        Script {
            commands: walker.into_commands(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argvs(line: &str) -> Vec<Vec<String>> {
        parse_line(line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .commands
            .iter()
            .map(|c| c.argv_text())
            .collect()
    }

    #[test]
    fn finds_commands_in_every_construct() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("plain", "reboot now", &["reboot now"]),
            ("list", "ls; reboot", &["ls", "reboot"]),
            (
                "and or",
                "true && reboot || halt",
                &["true", "reboot", "halt"],
            ),
            ("pipeline", "ls | grep x", &["ls", "grep x"]),
            ("subshell", "(cd /; reboot)", &["cd /", "reboot"]),
            ("spaced nested subshells", "( ( reboot ) )", &["reboot"]),
            ("touching open, spaced close", "((reboot) )", &["reboot"]),
            (
                "substitution of a subshell",
                "echo $((reboot) )",
                &["reboot", "echo $((reboot) )"],
            ),
            ("brace group", "{ reboot; }", &["reboot"]),
            (
                "command substitution",
                "echo $(reboot)",
                &["reboot", "echo $(reboot)"],
            ),
            (
                "substitution in double quotes",
                "echo \"x $(reboot) y\"",
                &["reboot", "echo x $(reboot) y"],
            ),
            ("backquotes", "echo `reboot`", &["reboot", "echo `reboot`"]),
            (
                "default value",
                "echo ${x:-$(reboot)}",
                &["reboot", "echo ${x:-$(reboot)}"],
            ),
            (
                "process substitution",
                "diff <(reboot) x",
                &["reboot", "diff <(reboot) x"],
            ),
            (
                "if",
                "if true; then reboot; else halt; fi",
                &["true", "reboot", "halt"],
            ),
            ("for", "for h in a b; do reboot; done", &["reboot"]),
            ("while", "while true; do reboot; done", &["true", "reboot"]),
            ("case", "case $x in a) reboot;; esac", &["reboot"]),
            ("function called", "f() { reboot; }; f", &["reboot"]),
            ("function not called", "f() { reboot; }", &[]),
            ("quotes removed", "'re'\"bo\"ot", &["reboot"]),
            ("backslash in name", "r\\eboot", &["reboot"]),
            ("ansi c", "$'\\x72eboot'", &["reboot"]),
            ("assignment then variable", "x=reboot; $x", &["reboot"]),
            ("sudo", "sudo -u root reboot", &["reboot"]),
            ("bash -c list", "bash -c 'ls; reboot'", &["ls", "reboot"]),
            ("nested sh -c", "sh -c \"bash -c 'reboot'\"", &["reboot"]),
            ("ssh remote", "ssh web1 'sudo reboot'", &["reboot"]),
            ("eval", "eval 'reboot'", &["reboot"]),
            (
                "heredoc substitution",
                "cat <<EOF\n$(reboot)\nEOF",
                &["reboot", "cat"],
            ),
            ("comment", "ls # reboot", &["ls"]),
            ("brace expansion of the program", "{reboot,}", &["reboot"]),
            (
                "brace expansion makes arguments",
                "{echo,reboot}",
                &["echo reboot"],
            ),
            (
                "arithmetic with a substitution",
                "echo $(( $(date +%s) + 60 ))",
                &["date +%s", "echo $(( $(date +%s) + 60 ))"],
            ),
            (
                "array subscript substitution",
                "a[$(reboot)]=1",
                &["reboot"],
            ),
            (
                "subscript in an expansion",
                "echo ${x[$(reboot)]}",
                &["reboot", "echo ${x[$(reboot)]}"],
            ),
            (
                "printf escapes fed to sh",
                "printf 'ls\\nreboot\\n' | sh",
                &["printf ls\\nreboot\\n", "sh", "ls", "reboot"],
            ),
            (
                "at reads its stdin",
                "echo reboot | at now",
                &["echo reboot", "at now", "reboot"],
            ),
            (
                "script piped into a shell",
                "echo 'ls; reboot' | bash",
                &["echo ls; reboot", "bash", "ls", "reboot"],
            ),
            (
                "here-document into ssh",
                "ssh web1 <<'EOF'\nsudo reboot\nEOF",
                &["ssh web1", "reboot"],
            ),
            ("arithmetic stays arithmetic", "((i++))", &[]),
            ("newline list", "ls\nreboot", &["ls", "reboot"]),
        ];
        for (name, line, want) in cases {
            let got: Vec<String> = argvs(line).iter().map(|a| a.join(" ")).collect();
            assert_eq!(got, *want, "case {name}: {line:?}");
        }
    }

    #[test]
    fn fork_bomb_is_a_recursive_function() {
        let script = parse_line(":(){ :|:& };:").unwrap();
        assert!(
            script
                .commands
                .iter()
                .any(|c| c.context.via.iter().any(|v| v == "recursive-function"))
        );
    }

    #[test]
    fn spans_are_byte_offsets_even_after_non_ascii_text() {
        let line = "echo é; reboot now";
        let script = parse_line(line).unwrap();
        let reboot = &script.commands[1];
        assert_eq!(&line[reboot.span.0..reboot.span.1], "reboot now");
    }

    #[test]
    fn pipeline_records_who_feeds_stdin() {
        let script = parse_line("curl -s https://x | sudo bash").unwrap();
        let bash = script.commands.last().unwrap();
        assert_eq!(bash.program(), Some("bash"));
        assert_eq!(bash.context.stdin_from.as_deref(), Some("curl"));
        assert_eq!(bash.context.via, vec!["sudo"]);
    }

    #[test]
    fn echo_piped_in_and_heredocs_are_input() {
        let s = parse_line("echo 'DROP TABLE x' | psql").unwrap();
        assert_eq!(s.commands[1].context.input, vec!["DROP TABLE x"]);
        let s = parse_line("psql <<'EOF'\nDROP TABLE x;\nEOF").unwrap();
        assert_eq!(s.commands[0].context.input, vec!["DROP TABLE x;\n"]);
    }

    #[test]
    fn ssh_in_a_loop_is_fleet() {
        let s = parse_line("for h in a b c; do ssh $h reboot; done").unwrap();
        assert!(s.commands[0].context.fleet);
        let s = parse_line("ssh a reboot").unwrap();
        assert!(!s.commands[0].context.fleet && s.commands[0].context.remote);
    }

    #[test]
    fn unfinished_lines_are_incomplete_and_garbage_is_a_syntax_error() {
        for line in ["echo 'abc", "if true; then", "ls |", "echo \"a", "ls \\"] {
            assert!(parse_line(line).unwrap_err().is_incomplete(), "{line:?}");
        }
        let e = parse_line("ls )").unwrap_err();
        assert!(matches!(e, ParseError::Syntax { .. }), "{e:?}");
    }

    #[test]
    fn guard_counts_nesting_inside_quotes_and_expansions() {
        // Regression: a quote inside `${…}` used to be read as closing the
        // outer string, so this nesting went uncounted and overflowed the
        // parser's stack.
        for unit in ["\"}${", "\")$(", "\"$(", "${x:-\"", "`$(\""] {
            let line = unit.repeat(400);
            assert!(parse_line(&line).is_err(), "{unit:?}");
        }
        // Literal brackets in quotes are not nesting.
        assert!(parse_line("echo '((((((((((((((((((((((' \"{{{{{{{{{{{{{{{{{{{{{{{{\"").is_ok());
        assert!(parse_line("case $x in a) ls;; b) ls;; esac").is_ok());
    }

    #[test]
    fn a_panic_inside_the_parser_is_a_parse_error() {
        // Found by fuzzing: brush-parser unwraps a redirection fd that does
        // not fit in an i32.
        for line in ["true 2147483648>x", "echo RAN; true 99999999999<x"] {
            assert!(
                matches!(parse_line(line), Err(ParseError::Syntax { .. })),
                "{line:?}"
            );
        }
        // The parser still works afterwards.
        assert!(parse_line("ls 2>/dev/null").is_ok());
    }

    #[test]
    fn guards_reject_deep_and_unbalanced_input() {
        assert!(matches!(
            parse_line(&"( ".repeat(30)),
            Err(ParseError::Unbalanced { .. })
        ));
        assert!(matches!(
            parse_line(&"{ ".repeat(100_000)),
            Err(ParseError::TooDeep { .. })
        ));
        let long = "a".repeat(300 * 1024);
        assert!(matches!(parse_line(&long), Err(ParseError::TooLong { .. })));
    }

    #[test]
    fn argv_is_one_command_with_wrappers_seen_through() {
        let argv: Vec<String> = ["sudo", "sh", "-c", "ls; reboot"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (line, script) = parse_argv(&argv).unwrap();
        assert_eq!(line, "sudo sh -c 'ls; reboot'");
        let got: Vec<String> = script
            .commands
            .iter()
            .map(|c| c.argv_text().join(" "))
            .collect();
        assert_eq!(got, vec!["ls", "reboot"]);
        // A word with shell syntax is one literal argument, not a pipeline.
        let argv: Vec<String> = ["echo", "a | reboot"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (_, script) = parse_argv(&argv).unwrap();
        assert_eq!(script.commands.len(), 1);
        assert_eq!(quote_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn plain_fast_path_agrees_with_the_parser() {
        for line in [
            "apt-get upgrade -y",
            "  ls   -l  /tmp ",
            "kubectl -n prod get pods",
            "reboot",
        ] {
            let fast = parse_line(line).unwrap();
            let limits = Limits::default();
            let place = LineContext::default();
            let mut w = Walker::new(&limits, &place);
            w.walk_text(line, None, &Ctx::default(), 0).unwrap();
            assert_eq!(fast.commands, w.into_commands(), "{line:?}");
        }
    }
}
