//! Width: how many columns the terminal has, and fitting text into them
//! (wrapping an explanation with a hanging indent, cutting a table cell).
//!
//! The width is `COLUMNS` when it is set (a person asked for it), else the
//! terminal's own size (`TIOCGWINSZ`, through `terminal_size`), else
//! [`DEFAULT`]. Only [`of_stdout`], [`of_stderr`] and [`of_stdout_table`]
//! look at the process; [`resolve`] and the fitting functions are pure.

use std::io;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::term::sanitize::clean;

/// The width when nothing says otherwise (not a terminal, no `COLUMNS`).
pub const DEFAULT: usize = 100;
/// Explanations are never wrapped narrower than this.
pub const MIN: usize = 40;

/// The width to wrap at, from `$COLUMNS` and the terminal's size: a
/// `COLUMNS` of at least [`MIN`] wins, then the terminal (at least
/// [`MIN`]), then [`DEFAULT`].
pub fn resolve(columns: Option<&str>, terminal: Option<usize>) -> usize {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w >= MIN)
        .or_else(|| terminal.map(|w| w.max(MIN)))
        .unwrap_or(DEFAULT)
}

fn columns_env() -> Option<String> {
    std::env::var("COLUMNS").ok()
}

/// The width for text written to stdout (`check`, `rules`).
pub fn of_stdout() -> usize {
    let terminal = terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| usize::from(w.0));
    resolve(columns_env().as_deref(), terminal)
}

/// The width for text written to stderr (explanations before a prompt).
pub fn of_stderr() -> usize {
    let terminal = terminal_size::terminal_size_of(io::stderr()).map(|(w, _)| usize::from(w.0));
    resolve(columns_env().as_deref(), terminal)
}

/// The width to cut table rows at (`audit`): `COLUMNS`, else the size of
/// stdout when it is a terminal; `None` (do not cut) when it is not.
pub fn of_stdout_table() -> Option<usize> {
    columns_env()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
        .or_else(|| terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| usize::from(w.0)))
}

/// `      why:     text…` with the text cleaned and wrapped at `width`
/// columns, continuation lines indented under the text.
pub fn field(label: &str, text: &str, width: usize) -> String {
    const INDENT: usize = 15;
    let head = format!("      {:<9}", format!("{label}:"));
    let room = width.saturating_sub(INDENT).max(30);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in clean(text, false).split(' ').filter(|w| !w.is_empty()) {
        let len = current.width();
        if len > 0 && len + 1 + word.width() > room {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    let pad = " ".repeat(INDENT);
    let mut out = head;
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(l);
    }
    out
}

/// `text` cut to `width` terminal columns (ending in `…` when cut) and
/// padded to exactly `width` when `pad`.
pub fn fit(text: &str, width: usize, pad: bool) -> String {
    let mut out = String::new();
    if text.width() <= width {
        out.push_str(text);
    } else {
        let mut used = 0;
        for c in text.chars() {
            let w = c.width().unwrap_or(0);
            if used + w + 1 > width {
                break;
            }
            out.push(c);
            used += w;
        }
        if width > 0 {
            out.push('…');
        }
    }
    if pad {
        let missing = width.saturating_sub(out.width());
        out.extend(std::iter::repeat_n(' ', missing));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_wins_then_the_terminal_then_the_default() {
        assert_eq!(resolve(Some("72"), Some(60)), 72);
        assert_eq!(resolve(None, Some(60)), 60);
        assert_eq!(resolve(Some("junk"), Some(60)), 60);
        assert_eq!(resolve(None, None), DEFAULT);
        assert_eq!(resolve(None, Some(20)), MIN);
    }

    #[test]
    fn a_field_wraps_within_the_width_with_a_hanging_indent() {
        let text = "word ".repeat(40);
        let wrapped = field("why", &text, 60);
        assert!(wrapped.lines().count() > 2, "{wrapped}");
        for line in wrapped.lines() {
            assert!(line.width() <= 60, "{line:?}");
        }
        assert!(
            wrapped
                .lines()
                .skip(1)
                .all(|l| l.starts_with(&" ".repeat(15)))
        );
    }

    #[test]
    fn fields_wrap_under_their_text() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let f = field("why", text, 45);
        assert_eq!(
            f,
            "      why:     one two three four five six\n               seven eight nine ten eleven\n               twelve"
        );
        assert_eq!(field("instead", "short", 80), "      instead: short");
    }

    #[test]
    fn fit_cuts_with_an_ellipsis_and_pads() {
        assert_eq!(fit("abcdef", 4, false), "abc…");
        assert_eq!(fit("ab", 4, true), "ab  ");
    }
}
