//! Colour: whether to use it, the one risk palette, and painting text.
//!
//! Every coloured word safe-run prints goes through [`paint`], so
//! `color = "never"`, `NO_COLOR` and "not a terminal" switch all of it off
//! at once. The decision itself ([`use_color`]) is a pure function of the
//! configured choice and the facts the edge gathered.

use std::fmt;

use crate::verdict::Risk;

/// Dim text: notices, ghost hints.
pub const DIM: &str = "2";
/// Bold text: host names, labels.
pub const BOLD: &str = "1";
/// Red: a failed status.
pub const RED: &str = "31";
/// Reverse video: a span marked inside a line.
pub const REVERSE: &str = "7";

/// Whether safe-run colours its own output (`color` in the configuration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ColorChoice {
    /// Only when writing to a terminal, and never with `NO_COLOR`.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub const ALL: [ColorChoice; 3] = [ColorChoice::Auto, ColorChoice::Always, ColorChoice::Never];

    pub fn as_str(self) -> &'static str {
        match self {
            ColorChoice::Auto => "auto",
            ColorChoice::Always => "always",
            ColorChoice::Never => "never",
        }
    }
}

impl fmt::Display for ColorChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Should output go out in colour? `always` and `never` decide alone;
/// `auto` means a terminal and no (non-empty) `NO_COLOR`.
pub fn use_color(choice: ColorChoice, no_color: bool, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && !no_color,
    }
}

/// Is `NO_COLOR` set to something (the convention: any non-empty value)?
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The SGR parameters of a risk level, the same in `check`, the
/// confirmation, the live hint and `audit`.
pub fn risk_sgr(risk: Risk) -> &'static str {
    match risk {
        Risk::None => DIM,
        Risk::Low => "36",
        Risk::Medium => "33",
        Risk::High => "1;31",
        Risk::Critical => "1;37;41",
    }
}

/// `text` in the colour `sgr`, or plain when `color` is off.
pub fn paint(color: bool, sgr: &str, text: &str) -> String {
    if color {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// How a report is drawn: colour or not, and the width to wrap at.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
    /// Columns to wrap explanations at.
    pub width: usize,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            color: false,
            width: crate::term::width::DEFAULT,
        }
    }
}

impl Style {
    pub fn paint(&self, sgr: &str, text: &str) -> String {
        paint(self.color, sgr, text)
    }

    /// A risk level's name in its colour.
    pub fn risk(&self, risk: Risk) -> String {
        self.paint(risk_sgr(risk), risk.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_means_no_colour_even_on_a_terminal_and_always_means_colour_off_one() {
        assert!(!use_color(ColorChoice::Never, false, true));
        assert!(use_color(ColorChoice::Always, true, false));
        assert!(use_color(ColorChoice::Auto, false, true));
        assert!(!use_color(ColorChoice::Auto, true, true));
        assert!(!use_color(ColorChoice::Auto, false, false));
    }

    #[test]
    fn plain_painting_adds_nothing() {
        assert_eq!(paint(false, "1", "x"), "x");
        assert_eq!(paint(true, "1", "x"), "\x1b[1mx\x1b[0m");
    }
}
