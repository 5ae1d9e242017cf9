//! The live risk hint: what the interactive prompt shows after the cursor
//! while a line is being typed, and which part of the line it marks.
//!
//! Pure: a line and the rules in, an [`Assessment`] out; the text of the
//! hint and the highlighted line are plain functions of it, so the
//! rustyline glue in `shell_editor` stays thin and this is tested (and
//! benchmarked, `benches/hint.rs`) without a terminal. It runs on every key
//! press, so it does one parse and one classification of the whole line —
//! the same `check_line_in`, in the same place (the session's directory
//! and variables), that the pipeline uses, so the hint never disagrees
//! with what Enter will ask.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;

use crate::classify::check_line_in;
use crate::context::LineContext;
use crate::rules::RuleSet;
use crate::term::paint;
use crate::term::sanitize::clean;
use crate::verdict::{Action, Finding, Risk, Verdict};

/// What the line typed so far would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assessment {
    /// Nothing but blanks.
    Empty,
    /// Parsed, and no rule has anything to say.
    Quiet,
    /// Not finished yet (an open quote, `if` without `fi`): Enter continues
    /// on the next line, so there is nothing to say yet.
    Incomplete,
    /// Parsed, with findings.
    Findings(Verdict),
    /// Cannot be parsed: Enter will refuse it.
    Unparseable(String),
}

impl Assessment {
    /// The findings' spans, when there are findings.
    pub fn findings(&self) -> &[Finding] {
        match self {
            Assessment::Findings(v) => &v.findings,
            _ => &[],
        }
    }

    /// How loudly the hint should be painted.
    pub fn tone(&self) -> Tone {
        match self {
            Assessment::Findings(v) if v.action == Action::Deny => Tone::Deny,
            Assessment::Findings(v) => match v.risk {
                Risk::None | Risk::Low => Tone::Notice,
                Risk::Medium => Tone::Warn,
                Risk::High | Risk::Critical => Tone::Danger,
            },
            Assessment::Unparseable(_) => Tone::Deny,
            _ => Tone::Notice,
        }
    }
}

/// The colour class of a hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Notice,
    Warn,
    Danger,
    Deny,
}

impl Tone {
    /// The SGR parameters for this tone.
    pub fn sgr(self) -> &'static str {
        match self {
            Tone::Notice => paint::DIM,
            Tone::Warn => paint::risk_sgr(Risk::Medium),
            Tone::Danger => paint::risk_sgr(Risk::High),
            Tone::Deny => paint::risk_sgr(Risk::Critical),
        }
    }
}

/// Classifies the line typed so far, where it will run: the session's
/// directory and variables, as Enter will judge it.
pub fn assess(line: &str, rules: &RuleSet, place: &LineContext) -> Assessment {
    if line.trim().is_empty() {
        return Assessment::Empty;
    }
    match check_line_in(line, rules, place) {
        Ok(v) if v.findings.is_empty() => Assessment::Quiet,
        Ok(v) => Assessment::Findings(v),
        Err(e) if e.is_incomplete() => Assessment::Incomplete,
        Err(e) => Assessment::Unparseable(e.to_string()),
    }
}

/// The first sentence of a rule's `why`: up to the first `. ` (or the end).
pub fn first_sentence(text: &str) -> &str {
    let text = text.trim();
    let mut from = 0;
    while let Some(at) = text[from..].find(". ") {
        let end = from + at;
        // `e.g. ` and `i.e. ` do not end a sentence.
        let before = &text[..end];
        if before.ends_with("e.g") || before.ends_with("i.e") || before.ends_with("etc") {
            from = end + 2;
            continue;
        }
        return &text[..=end];
    }
    text
}

/// The most serious finding: a denial first, then the highest risk, then
/// the first in the line.
fn worst(findings: &[Finding]) -> Option<&Finding> {
    findings
        .iter()
        .enumerate()
        .max_by_key(|(i, f)| (f.action, f.risk, std::cmp::Reverse(*i)))
        .map(|(_, f)| f)
}

/// The hint's text, at most `width` terminal columns wide (the cut end is
/// marked `…`); `None` when there is nothing to say. Untrusted text (rule
/// texts from site files, the parse error quoting the line) is cleaned.
pub fn hint_text(assessment: &Assessment, width: usize) -> Option<String> {
    let mut text = String::from("  ");
    // `(+N more)` is kept when the rest is cut, while it fits at all.
    let mut more = String::new();
    match assessment {
        Assessment::Empty | Assessment::Quiet | Assessment::Incomplete => return None,
        Assessment::Findings(v) => {
            let f = worst(&v.findings)?;
            let (mark, level) = if f.action == Action::Deny {
                ("✖", "denied")
            } else if f.risk <= Risk::Low {
                ("·", f.risk.as_str())
            } else {
                ("⚠", f.risk.as_str())
            };
            let _ = write!(
                text,
                "{mark} {level} {}: {}",
                clean(&f.rule, false),
                clean(first_sentence(&f.why), false)
            );
            let others = v.findings.len() - 1;
            if others > 0 {
                more = format!(" (+{others} more)");
            }
        }
        Assessment::Unparseable(e) => {
            let _ = write!(text, "✖ cannot tell what this runs: {}", clean(e, false));
        }
    }
    let more_width = display_width(&more);
    if more_width > 0 && width >= more_width + 8 {
        return Some(cut_to_width(&text, width - more_width) + &more);
    }
    Some(cut_to_width(&(text + &more), width))
}

/// Cuts `text` to at most `width` columns, ending in `…` when cut.
pub fn cut_to_width(text: &str, width: usize) -> String {
    let total: usize = text.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// The display width of `text` in terminal columns.
pub fn display_width(text: &str) -> usize {
    text.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// The byte ranges of `line` to mark: the findings' spans, clamped to the
/// line and to character boundaries, sorted and merged.
pub fn marked_ranges(line: &str, findings: &[Finding]) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = findings
        .iter()
        .filter_map(|f| {
            let (mut s, mut e) = (f.span.0.min(line.len()), f.span.1.min(line.len()));
            if s >= e {
                return None;
            }
            while s > 0 && !line.is_char_boundary(s) {
                s -= 1;
            }
            while e < line.len() && !line.is_char_boundary(e) {
                e += 1;
            }
            (s < e).then_some((s, e))
        })
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// The line with `ranges` painted with SGR `code`. Only escape sequences
/// are added, so the display width is unchanged (rustyline relies on it).
/// The typed text itself is shown as typed: rustyline renders control
/// characters in the buffer, and the hint explains the rest.
pub fn paint_ranges(line: &str, ranges: &[(usize, usize)], code: &str) -> String {
    let mut out = String::with_capacity(line.len() + ranges.len() * 12);
    let mut at = 0;
    for &(s, e) in ranges {
        out.push_str(&line[at..s]);
        let _ = write!(out, "\x1b[{code}m");
        // A newline inside a marked range ends the colour for the line
        // (some terminals extend the background to the edge otherwise).
        for (i, piece) in line[s..e].split('\n').enumerate() {
            if i > 0 {
                let _ = write!(out, "\x1b[0m\n\x1b[{code}m");
            }
            out.push_str(piece);
        }
        out.push_str("\x1b[0m");
        at = e;
    }
    out.push_str(&line[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Span;

    /// A line judged with nothing known of where it runs.
    fn nowhere() -> LineContext<'static> {
        LineContext::default()
    }

    fn rules() -> RuleSet {
        let toml = r#"
[[rule]]
id = "test-reboot"
risk = "high"
programs = ["reboot"]
why = "Reboots the host at once. Every session is cut."
instead = "Schedule it."
match = ["reboot", "sudo reboot"]
allow = ["echo reboot", "ls"]

[[rule]]
id = "test-bomb"
risk = "critical"
action = "deny"
programs = ["bomb"]
why = "Bad, e.g. very bad. Really."
instead = "Don't."
match = ["bomb", "sudo bomb"]
allow = ["echo bomb", "ls"]

[[rule]]
id = "test-note"
risk = "low"
programs = ["note"]
why = "Just so you know."
instead = "Nothing."
match = ["note", "sudo note"]
allow = ["echo note", "ls"]
"#;
        let mut set = RuleSet::new();
        set.add(RuleSet::parse_file(toml, "test.toml").expect("test rules parse"));
        set
    }

    fn finding(span: Span) -> Finding {
        Finding {
            rule: "r".into(),
            risk: Risk::High,
            action: Action::Confirm,
            command: vec![],
            span,
            why: String::new(),
            instead: String::new(),
            preview: None,
            target: Default::default(),
        }
    }

    #[test]
    fn lines_are_assessed_like_the_pipeline_would() {
        let rules = rules();
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            ("ls -l", "quiet"),
            ("echo reboot", "quiet"),
            ("reboot", "findings"),
            ("sudo reboot now", "findings"),
            ("echo \"a", "incomplete"),
            ("if true; then", "incomplete"),
            ("echo )", "unparseable"),
        ];
        for (line, want) in cases {
            let got = match assess(line, &rules, &nowhere()) {
                Assessment::Empty => "empty",
                Assessment::Quiet => "quiet",
                Assessment::Incomplete => "incomplete",
                Assessment::Findings(_) => "findings",
                Assessment::Unparseable(_) => "unparseable",
            };
            assert_eq!(got, *want, "{line:?}");
        }
    }

    #[test]
    fn the_hint_names_the_risk_the_rule_and_the_first_sentence() {
        let rules = rules();
        let a = assess("reboot", &rules, &nowhere());
        assert_eq!(
            hint_text(&a, 200).as_deref(),
            Some("  ⚠ high test-reboot: Reboots the host at once.")
        );
        assert_eq!(a.tone(), Tone::Danger);
        let a = assess("note; bomb; reboot", &rules, &nowhere());
        assert_eq!(
            hint_text(&a, 200).as_deref(),
            Some("  ✖ denied test-bomb: Bad, e.g. very bad. (+2 more)")
        );
        assert_eq!(a.tone(), Tone::Deny);
        let a = assess("note", &rules, &nowhere());
        assert_eq!(
            hint_text(&a, 200).as_deref(),
            Some("  · low test-note: Just so you know.")
        );
        assert!(hint_text(&assess("ls", &rules, &nowhere()), 200).is_none());
        assert!(hint_text(&assess("echo \"a", &rules, &nowhere()), 200).is_none());
        let bad = hint_text(&assess("echo )", &rules, &nowhere()), 200)
            .expect("a hint for a parse error");
        assert!(bad.contains("cannot tell what this runs"), "{bad}");
    }

    #[test]
    fn hints_are_cut_to_the_width_they_are_given() {
        let a = assess("reboot", &rules(), &nowhere());
        let h = hint_text(&a, 20).expect("hint");
        assert_eq!(h, "  ⚠ high test-reboo…");
        assert_eq!(display_width(&h), 20);
        assert_eq!(cut_to_width("abc", 3), "abc");
        assert_eq!(cut_to_width("abcd", 3), "ab…");
        assert_eq!(cut_to_width("abcd", 0), "");
        let many = assess("note; bomb; reboot", &rules(), &nowhere());
        let h = hint_text(&many, 30).expect("hint");
        assert!(h.ends_with("… (+2 more)"), "{h}");
        assert_eq!(display_width(&h), 30);
    }

    #[test]
    fn control_characters_in_rule_texts_are_shown_not_obeyed() {
        let mut set = RuleSet::new();
        let toml = "[[rule]]\nid = \"x\"\nrisk = \"high\"\nprograms = [\"x\"]\nwhy = \"Bad\\u001b[2J thing.\"\ninstead = \"y\"\nmatch = [\"x\", \"sudo x\"]\nallow = [\"echo x\", \"ls\"]\n";
        set.add(RuleSet::parse_file(toml, "t.toml").expect("parse"));
        let h = hint_text(&assess("x", &set, &nowhere()), 200).expect("hint");
        assert!(!h.contains('\x1b') && h.contains("\\e[2J"), "{h:?}");
    }

    #[test]
    fn first_sentences() {
        assert_eq!(first_sentence("One. Two."), "One.");
        assert_eq!(first_sentence("No full stop"), "No full stop");
        assert_eq!(first_sentence("Like e.g. this. Then"), "Like e.g. this.");
        assert_eq!(first_sentence("Ends here."), "Ends here.");
    }

    #[test]
    fn ranges_are_clamped_sorted_and_merged() {
        let line = "aé; reboot; reboot";
        let fs = [
            finding((12, 18)),
            finding((5, 11)),
            finding((9, 13)),
            finding((2, 2)),
        ];
        assert_eq!(marked_ranges(line, &fs), vec![(5, 18)]);
        // A span that ends inside `é` is widened to the whole character.
        assert_eq!(marked_ranges(line, &[finding((0, 2))]), vec![(0, 3)]);
        assert_eq!(marked_ranges("ab", &[finding((1, 99))]), vec![(1, 2)]);
    }

    #[test]
    fn painting_adds_only_escapes() {
        let line = "ls; reboot";
        let painted = paint_ranges(line, &[(4, 10)], "1;31");
        assert_eq!(painted, "ls; \x1b[1;31mreboot\x1b[0m");
        let plain: String = painted.replace("\x1b[1;31m", "").replace("\x1b[0m", "");
        assert_eq!(plain, line);
        assert_eq!(
            paint_ranges("a\nb", &[(0, 3)], "7"),
            "\x1b[7ma\x1b[0m\n\x1b[7mb\x1b[0m"
        );
    }
}
