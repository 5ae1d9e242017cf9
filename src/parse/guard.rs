//! The guards around brush-parser: a fast path for lines of plain words,
//! length and nesting limits checked before the parser sees a text, the
//! parser call itself with its panics caught, and the translation of its
//! errors into ours. brush-parser takes exponential time on unclosed
//! `( ( (` and overflows its stack on very deep input, so nothing reaches
//! it without passing [`guard`] first.

use brush_parser::ast;
use brush_parser::{ParserOptions, TokenizerError};

use super::{Limits, ParseError};
use crate::command::Span;

/// The words of a line made only of plain characters, with their spans, or
/// `None` when the line needs the real parser. Plain means: no quotes,
/// expansions, globs, operators, comments or newlines, and no reserved word
/// or assignment in first position.
pub(super) fn plain_words(line: &str) -> Option<Vec<(&str, Span)>> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b" \t_./:=,@%+-".contains(&b);
    if !line.bytes().all(plain) {
        return None;
    }
    let mut words = Vec::new();
    let mut start = None;
    for (i, b) in line.bytes().enumerate() {
        match (b == b' ' || b == b'\t', start) {
            (true, Some(s)) => {
                words.push((&line[s..i], (s, i)));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((&line[s..], (s, line.len())));
    }
    if let Some((first, _)) = words.first()
        && (first.contains('=') || RESERVED.contains(first))
    {
        return None;
    }
    Some(words)
}

pub(super) const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "time", "coproc",
];

/// Checks the length and nesting of `text` before the parser sees it.
pub(super) fn guard(text: &str, limits: &Limits) -> Result<(), ParseError> {
    if text.len() > limits.max_len {
        return Err(ParseError::TooLong {
            len: text.len(),
            max: limits.max_len,
        });
    }
    // A stack of the quoting and bracket contexts, as the shell nests them:
    // inside double quotes only `$(`, `${` and backquotes open a context,
    // and inside those, quotes start afresh (`"${x:-"a"}"`).
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Frame {
        Double,
        Paren,
        Brace,
        Backquote,
    }
    let too_deep = || ParseError::TooDeep {
        max: limits.max_depth,
    };
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut keywords: usize = 0;
    let mut word_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let quoted = stack.last() == Some(&Frame::Double);
        let next = bytes.get(i + 1).copied();
        match b {
            b'\\' => {
                i += 2;
                word_start = false;
                continue;
            }
            // A comment runs to the end of its line; nothing in it counts.
            // (`${#x}` is a length, not a comment.)
            b'#' if word_start && !quoted && stack.last() != Some(&Frame::Brace) => {
                i = bytes[i..]
                    .iter()
                    .position(|c| *c == b'\n')
                    .map_or(bytes.len(), |p| i + p);
                continue;
            }
            // A here-string, `<<<`, is one operator.
            b'<' if !quoted && next == Some(b'<') && bytes.get(i + 2) == Some(&b'<') => {
                i += 3;
                word_start = true;
                continue;
            }
            // `<<TAG` at the top level on the last line: the here-document's
            // text would follow on the next lines, so the line is not
            // finished. Said here, before the parser sees it, because such
            // input made brush-parser 0.4.0 loop forever (`true <<'' `,
            // `<<E$[` and two tabs; see vendor/brush-parser/PATCHES.md).
            b'<' if !quoted
                && stack.is_empty()
                && next == Some(b'<')
                && !bytes[i..].contains(&b'\n') =>
            {
                return Err(ParseError::Incomplete {
                    what: "a here-document starts on the last line; its text and end tag are still to come".into(),
                    line: text[..i].matches('\n').count() + 1,
                    col: text[..i].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
                });
            }
            b'\'' if !quoted => {
                // Single quotes: nothing inside counts.
                let close = bytes[i + 1..].iter().position(|c| *c == b'\'');
                i = close.map_or(bytes.len(), |p| i + 2 + p);
                word_start = false;
                continue;
            }
            b'"' if quoted => {
                stack.pop();
            }
            b'"' => stack.push(Frame::Double),
            b'`' if stack.last() == Some(&Frame::Backquote) => {
                stack.pop();
            }
            b'`' => stack.push(Frame::Backquote),
            b'$' if next == Some(b'(') || next == Some(b'{') => {
                stack.push(if next == Some(b'(') {
                    Frame::Paren
                } else {
                    Frame::Brace
                });
                i += 2;
                word_start = true;
                if stack.len() + keywords > limits.max_depth {
                    return Err(too_deep());
                }
                continue;
            }
            _ if quoted => {}
            b'(' => stack.push(Frame::Paren),
            b'{' => stack.push(Frame::Brace),
            b')' if stack.last() == Some(&Frame::Paren) => {
                stack.pop();
            }
            b'}' if stack.last() == Some(&Frame::Brace) => {
                stack.pop();
            }
            _ if word_start && b.is_ascii_alphabetic() => {
                let end = bytes[i..]
                    .iter()
                    .position(|c| !c.is_ascii_alphabetic())
                    .map_or(bytes.len(), |p| i + p);
                let ends_word = bytes.get(end).is_none_or(|c| b" \t\n;&|)".contains(c));
                if ends_word {
                    match &text[i..end] {
                        "if" | "case" | "do" => keywords += 1,
                        "fi" | "esac" | "done" => keywords = keywords.saturating_sub(1),
                        _ => {}
                    }
                }
                i = end;
                word_start = false;
                if stack.len() + keywords > limits.max_depth {
                    return Err(too_deep());
                }
                continue;
            }
            _ => {}
        }
        word_start = b" \t\n;&|(){}`".contains(&b);
        if stack.len() + keywords > limits.max_depth {
            return Err(too_deep());
        }
        i += 1;
    }
    let parens = stack.iter().filter(|f| **f == Frame::Paren).count();
    if parens > limits.max_unclosed_parens {
        return Err(ParseError::Unbalanced { count: parens });
    }
    Ok(())
}

pub(super) fn parse_program(
    text: &str,
    options: &ParserOptions,
) -> Result<ast::Program, ParseError> {
    // brush-parser can panic on input it did not expect (an `unwrap` on a
    // redirection's fd number above 2^31-1 was found by fuzzing). A panic
    // here would end an operator's login shell, so it is caught, kept off
    // the terminal, and becomes "cannot tell what runs".
    quiet_panics_in_parser();
    let result = std::panic::catch_unwind(|| {
        IN_PARSER.with(|f| f.set(true));
        let mut reader = std::io::Cursor::new(text.as_bytes());
        let mut parser = brush_parser::Parser::new(&mut reader, options);
        let parsed = parser.parse_program();
        IN_PARSER.with(|f| f.set(false));
        parsed
    });
    match result {
        Ok(parsed) => parsed.map_err(|e| convert_error(e, text)),
        Err(_) => {
            IN_PARSER.with(|f| f.set(false));
            Err(ParseError::Syntax {
                line: 1,
                col: 1,
                near: ": the shell parser could not read this line".into(),
            })
        }
    }
}

thread_local! {
    /// Set while brush-parser runs on this thread.
    static IN_PARSER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs, once, a panic hook that stays silent for panics inside the
/// parser (they are caught and reported as parse errors) and otherwise
/// defers to the hook that was there before.
pub(super) fn quiet_panics_in_parser() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_PARSER.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

pub(super) fn convert_error(e: brush_parser::ParseError, text: &str) -> ParseError {
    use brush_parser::ParseError as P;
    match e {
        P::ParsingAtEndOfInput => {
            let lines = text.split('\n').count();
            let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            ParseError::Incomplete {
                what: "the command is not complete".into(),
                line: lines,
                col,
            }
        }
        P::ParsingNear(pos) => {
            let near: String = text.chars().skip(pos.index).take(20).collect();
            let near = near.lines().next().unwrap_or("").to_string();
            ParseError::Syntax {
                line: pos.line,
                col: pos.column,
                near: if near.is_empty() {
                    String::new()
                } else {
                    format!(" near {near:?}")
                },
            }
        }
        P::Tokenizing { inner, position } => {
            // An unclosed quote is best shown where it opens.
            let opened = match &inner {
                TokenizerError::UnterminatedSingleQuote(p)
                | TokenizerError::UnterminatedAnsiCQuote(p)
                | TokenizerError::UnterminatedDoubleQuote(p)
                | TokenizerError::UnterminatedBackquote(p) => Some(p.clone()),
                _ => None,
            };
            let position = opened.or(position);
            let unfinished = matches!(
                inner,
                TokenizerError::UnterminatedEscapeSequence
                    | TokenizerError::UnterminatedSingleQuote(_)
                    | TokenizerError::UnterminatedAnsiCQuote(_)
                    | TokenizerError::UnterminatedDoubleQuote(_)
                    | TokenizerError::UnterminatedBackquote(_)
                    | TokenizerError::UnterminatedExtendedGlob(_)
                    | TokenizerError::UnterminatedVariable
                    | TokenizerError::UnterminatedCommandSubstitution
                    | TokenizerError::UnterminatedExpansion
                    | TokenizerError::UnterminatedHereDocuments(..)
                    | TokenizerError::MissingHereTagForDocumentBody
            );
            if unfinished {
                let (line, col) = position.map_or((0, 0), |p| (p.line, p.column));
                ParseError::Incomplete {
                    what: inner.to_string(),
                    line,
                    col,
                }
            } else {
                let (line, col) = position.map_or((1, 1), |p| (p.line, p.column));
                ParseError::Syntax {
                    line,
                    col,
                    near: format!(": {inner}"),
                }
            }
        }
    }
}

/// The byte offset in `text` of a 1-based line and (char) column.
fn byte_of_line_col(text: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (n, l) in text.split('\n').enumerate() {
        if n + 1 == line {
            return offset
                + l.char_indices()
                    .nth(col.saturating_sub(1))
                    .map_or(l.len(), |(b, _)| b);
        }
        offset += l.len() + 1;
    }
    text.len()
}

/// The 1-based line and column of a byte offset in `text`.
fn line_col_of_byte(text: &str, byte: usize) -> (usize, usize) {
    let byte = byte.min(text.len());
    let before = text.get(..byte).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where the byte at `offset` of `text` is in `root`, `text` being a
/// string parsed again from inside the word at `span` (`bash -c '…'`,
/// `ssh host '…'`, a here-document fed to a shell). The text is looked for
/// from the word on (a here-document's body follows its command); quote
/// removal can change it, so when it is not found as is, the part from
/// `offset` on is looked for; failing that, the word's start is used.
fn position_in_root(text: &str, offset: usize, span: Span, root: &str) -> usize {
    let from = span.0.min(root.len());
    let Some(after) = root.get(from..) else {
        return from;
    };
    if let Some(i) = after.find(text) {
        return from + i + offset;
    }
    let rest: String = text.get(offset..).unwrap_or("").chars().take(16).collect();
    let rest = rest.lines().next().unwrap_or("");
    if !rest.is_empty()
        && let Some(i) = after.find(rest)
    {
        return from + i;
    }
    from
}

/// Drops the tokenizer's own "at L,C" from a message: it counts within the
/// nested string, and the error is reported at its place in the line.
fn without_inner_position(what: &str) -> &str {
    match what.rsplit_once(" at ") {
        Some((head, pos))
            if !pos.is_empty() && pos.chars().all(|c| c.is_ascii_digit() || c == ',') =>
        {
            head
        }
        _ => what,
    }
}

/// An error found in a string parsed again from inside a word, moved to
/// where it is in the checked line. The string was closed (it is a word),
/// so no more input can finish it: "not finished" inside it is a syntax
/// error at the place it points to.
pub(super) fn relocate(err: ParseError, text: &str, span: Span, root: &str) -> ParseError {
    let (line, col, near) = match err {
        ParseError::Syntax { line, col, near } => (line, col, near),
        ParseError::Incomplete { what, line, col } => {
            let (line, col) = if line == 0 {
                line_col_of_byte(text, text.len())
            } else {
                (line, col)
            };
            let what = without_inner_position(&what);
            (
                line,
                col,
                format!(": the inner command is cut short: {what}"),
            )
        }
        other => return other,
    };
    let offset = byte_of_line_col(text, line, col);
    let (line, col) = line_col_of_byte(root, position_in_root(text, offset, span, root));
    ParseError::Syntax { line, col, near }
}
