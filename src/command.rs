//! The analysed form of a shell line: every simple command that the line
//! could run, after quote removal and after seeing through wrappers.
//!
//! This is the contract between `parse`/`unwrap` (which produce it) and
//! `rules`/`classify` (which judge it). It is plain data with no behaviour
//! beyond small queries, so every other module can be tested with values
//! built by hand.

/// A byte range in the line that was checked, `start..end`.
pub type Span = (usize, usize);

/// One word of a command after quote removal.
///
/// `text` is what the program would receive when the word contains no
/// expansions. Parts only known at run time (parameter expansion, command
/// substitution, arithmetic) are kept as their source text, e.g. `$DIR/`,
/// and `dynamic` is set. Unquoted glob characters set `glob`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Some part of the word is only known at run time.
    pub dynamic: bool,
    /// The word contains unquoted glob characters (`*`, `?`, `[`).
    pub glob: bool,
    /// Where the word is in the checked line.
    pub span: Span,
}

impl Word {
    /// A literal word with no expansions, used for synthetic commands and tests.
    pub fn literal(text: &str, span: Span) -> Self {
        Word {
            text: text.to_string(),
            dynamic: false,
            glob: false,
            span,
        }
    }
}

/// The kind of a redirection, reduced to what matters for risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    /// `<`, `<&`
    Read,
    /// `>`, `>|`, `&>`: the target is truncated.
    Truncate,
    /// `>>`, `&>>`
    Append,
    /// `<>`
    ReadWrite,
    /// `>&N`, `<&N`: duplicates a descriptor, no file is opened.
    Duplicate,
}

impl RedirectKind {
    /// Does this redirection write to its target?
    pub fn writes(self) -> bool {
        matches!(
            self,
            RedirectKind::Truncate | RedirectKind::Append | RedirectKind::ReadWrite
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub fd: Option<u32>,
    pub kind: RedirectKind,
    pub target: Word,
}

/// How a command was reached, for rules and for the fleet blast radius.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Wrappers seen through on the way, outermost first, e.g. `["sudo", "bash -c"]`.
    pub via: Vec<String>,
    /// Inside a `for`/`while`/`until`/`select` loop body.
    pub in_loop: bool,
    /// Sent to another host (`ssh HOST CMD`).
    pub remote: bool,
    /// Sent to several hosts at once (pdsh, clush, ansible, or ssh in a loop).
    pub fleet: bool,
    /// The program of the pipeline stage feeding this command's stdin, if any.
    pub stdin_from: Option<String>,
    /// Text known to be fed on stdin: here-documents, here-strings, and the
    /// arguments of an `echo`/`printf`/`cat` piped in.
    pub input: Vec<String>,
    /// Found inside a command or process substitution.
    pub in_substitution: bool,
    /// Inside a loop, and its arguments use a loop variable: it runs once
    /// for every item (`for n in a b c; do kubectl drain $n; done`).
    pub loop_item: bool,
}

/// One program that the line could run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimpleCommand {
    /// `VAR=value` words before the program.
    pub assignments: Vec<(String, Word)>,
    /// The program (`argv[0]` as typed, after quote removal) and its arguments.
    pub argv: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// From the program word to the end of the command, in the checked line.
    /// Commands found inside a string that was parsed again (`bash -c '…'`)
    /// carry the span of that string.
    pub span: Span,
    pub context: Context,
}

impl SimpleCommand {
    /// The program's name for matching: the last path component of `argv[0]`,
    /// after `.`/`..` normalisation (`/usr/sbin/../sbin/reboot` is `reboot`).
    /// `None` when `argv[0]` is only known at run time (an expansion, a glob or
    /// a brace expansion: `/sbin/reboo*`, `{reboot,}`); `Some("")` for a
    /// command with no program (a bare redirection such as `> /etc/fstab`).
    pub fn program(&self) -> Option<&str> {
        let Some(first) = self.argv.first() else {
            return Some("");
        };
        if first.dynamic || first.glob {
            return None;
        }
        Some(program_name(&first.text))
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[Word] {
        self.argv.get(1..).unwrap_or(&[])
    }

    /// argv as plain strings, for display and JSON.
    pub fn argv_text(&self) -> Vec<String> {
        self.argv.iter().map(|w| w.text.clone()).collect()
    }
}

/// The name a program is matched by: the last non-empty path component.
/// `reboot`, `/sbin/reboot`, `/usr/sbin/../sbin/reboot` and `./reboot/`
/// all give `reboot`. A name made only of dots or slashes is kept as is.
pub fn program_name(text: &str) -> &str {
    let trimmed = text.trim_end_matches('/');
    let name = trimmed.rsplit('/').next().unwrap_or(trimmed);
    if name.is_empty() || name == "." || name == ".." {
        text
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_name_strips_directories_and_dot_dot() {
        assert_eq!(program_name("reboot"), "reboot");
        assert_eq!(program_name("/sbin/reboot"), "reboot");
        assert_eq!(program_name("/usr/sbin/../sbin/reboot"), "reboot");
        assert_eq!(program_name("./reboot/"), "reboot");
        assert_eq!(program_name(".."), "..");
        assert_eq!(program_name("/"), "/");
    }
}
