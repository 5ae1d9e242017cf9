//! `file:line:col` diagnostics for rule and configuration files: one
//! format, with the line shown in a numbered gutter and a caret under the
//! spot, as compilers print them:
//!
//! ```text
//! /etc/safe-run/config.toml:4:7: unknown value `maybe` (expected run, …)
//! 4 | low = "maybe"
//!   |       ^^^^^^^
//! ```
//!
//! The file name, the message and the line are shown sanitized, and the
//! caret is placed by the sanitized width, so an escape sequence in a
//! broken file can neither act on the terminal nor shift the caret. Pure.

use std::fmt;
use std::ops::Range;

use crate::rules::spec::locate;
use crate::term::sanitize::clean;

/// A problem in a file, at a place in it (or about the whole file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as given.
    pub file: String,
    /// 1-based line; 0 when the problem is about the whole file.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// How many characters the caret line underlines (at least 1).
    pub width: usize,
    /// The text of that line, as it is in the file.
    pub source_line: String,
    pub message: String,
}

impl Diagnostic {
    /// A problem at byte span `span` of `text`, the contents of `file`.
    pub fn at(file: &str, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let at = locate(text, span.start);
        let end = locate(text, span.end.max(span.start));
        let width = if end.line == at.line {
            end.col.saturating_sub(at.col)
        } else {
            at.line_text
                .chars()
                .count()
                .saturating_sub(at.col.saturating_sub(1))
        };
        Diagnostic {
            file: file.to_string(),
            line: at.line,
            col: at.col,
            width: width.max(1),
            source_line: at.line_text.to_string(),
            message: message.into(),
        }
    }

    /// A problem about a whole file, such as one that cannot be read.
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            line: 0,
            col: 0,
            width: 0,
            source_line: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = clean(&self.file, false);
        let message = clean(&self.message, false);
        if self.line == 0 {
            return write!(f, "{file}: {message}");
        }
        let chars: Vec<char> = self.source_line.chars().collect();
        let start = self.col.saturating_sub(1).min(chars.len());
        let end = (start + self.width.max(1)).min(chars.len());
        let before: String = chars[..start].iter().collect();
        let under: String = chars[start..end].iter().collect();
        let indent = clean(&before, false).chars().count();
        let carets = clean(&under, false).chars().count().max(1);
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        write!(
            f,
            "{file}:{}:{}: {message}\n{number} | {}\n{gutter} | {}{}",
            self.line,
            self.col,
            clean(&self.source_line, false),
            " ".repeat(indent),
            "^".repeat(carets)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_line_in_a_gutter_with_a_caret_under_the_span() {
        let text = "[confirm]\nlow = \"maybe\"\n";
        let d = Diagnostic::at("c.toml", text, 16..23, "unknown value");
        assert_eq!(
            d.to_string(),
            "c.toml:2:7: unknown value\n2 | low = \"maybe\"\n  |       ^^^^^^^"
        );
    }

    #[test]
    fn escape_sequences_in_the_file_neither_act_nor_shift_the_caret() {
        let text = "a\x1b[2J = 1";
        let d = Diagnostic::at("r.toml", text, 8..9, "bad");
        let shown = d.to_string();
        assert!(!shown.contains('\x1b'), "{shown:?}");
        let lines: Vec<&str> = shown.lines().collect();
        let caret = lines[2].find('^').unwrap();
        let one = lines[1].rfind('1').unwrap();
        assert_eq!(caret, one, "{shown}");
    }

    #[test]
    fn a_whole_file_problem_has_no_place() {
        let d = Diagnostic::whole_file("x.toml", "cannot read: denied");
        assert_eq!(d.to_string(), "x.toml: cannot read: denied");
    }
}
