//! Making untrusted text safe to show on a terminal.
//!
//! A command line, a rule's text or an audit row can contain escape
//! sequences that move the cursor, rewrite what is on screen or change the
//! title — enough to make `rm -rf /` look like `ls` at a confirmation
//! prompt. Everything shown to an operator passes through `clean`, which
//! renders control characters, DEL, C1 controls and bidirectional overrides
//! as visible escapes. Pure.

/// Renders every character that could change how the terminal shows text as
/// a visible escape (`\e`, `\x07`, `\u{202e}`). Tabs become `\t` too, so the
/// operator sees exactly what was typed; newlines are kept only when
/// `keep_newlines` is set (multi-line scripts).
pub fn clean(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x1b' => out.push_str("\\e"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c if is_bidi_control(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Characters that reorder the text around them on screen.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(clean("ls\x1b[2K\rrm -rf /", false), "ls\\e[2K\\rrm -rf /");
        assert_eq!(clean("a\x07b\x7f", false), "a\\x07b\\x7f");
        assert_eq!(clean("\u{9b}31m", false), "\\u{9b}31m");
    }

    #[test]
    fn bidi_overrides_are_shown() {
        assert_eq!(clean("echo \u{202e}fr- mr", false), "echo \\u{202e}fr- mr");
    }

    #[test]
    fn plain_text_and_unicode_pass_through() {
        assert_eq!(
            clean("kubectl delete ns café", false),
            "kubectl delete ns café"
        );
        assert_eq!(clean("a\nb", true), "a\nb");
        assert_eq!(clean("a\nb", false), "a\\nb");
    }
}
