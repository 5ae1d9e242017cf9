//! Word-level helpers of the walk: brace expansion, the words inside a
//! parameter expression, char-indexed slices (brush-parser counts chars),
//! backquote unescaping and `$'…'` decoding. Pure string functions.

use brush_parser::word as bword;

/// Appends the expansions of `parts` to every prefix in `out`; `false` when
/// the expansion would be too large to be worth it (more than 64 words).
pub(super) fn brace_words(parts: &[bword::BraceExpressionOrText], out: &mut Vec<String>) -> bool {
    use bword::{BraceExpressionMember as M, BraceExpressionOrText as B};
    for part in parts {
        let alternatives: Vec<String> = match part {
            B::Text(t) => vec![t.clone()],
            B::Expr(members) => {
                let mut alts = Vec::new();
                for m in members {
                    match m {
                        M::Child(children) => {
                            let mut sub = vec![String::new()];
                            if !brace_words(children, &mut sub) {
                                return false;
                            }
                            alts.extend(sub);
                        }
                        // Sequences (`{1..3}`) only make arguments; keep
                        // them whole rather than enumerate them.
                        _ => return false,
                    }
                }
                alts
            }
        };
        let mut next = Vec::with_capacity(out.len() * alternatives.len());
        for prefix in out.iter() {
            for alt in &alternatives {
                next.push(format!("{prefix}{alt}"));
            }
        }
        if next.len() > 64 {
            return false;
        }
        *out = next;
    }
    true
}

/// The words inside a parameter expression that are expanded too
/// (`${x:-$(reboot)}`).
pub(super) fn parameter_words(expr: &bword::ParameterExpr) -> Vec<&str> {
    use bword::ParameterExpr as E;
    let mut out = Vec::new();
    match expr {
        E::UseDefaultValues {
            default_value: v, ..
        }
        | E::AssignDefaultValues {
            default_value: v, ..
        }
        | E::IndicateErrorIfNullOrUnset {
            error_message: v, ..
        }
        | E::UseAlternativeValue {
            alternative_value: v,
            ..
        }
        | E::RemoveSmallestSuffixPattern { pattern: v, .. }
        | E::RemoveLargestSuffixPattern { pattern: v, .. }
        | E::RemoveSmallestPrefixPattern { pattern: v, .. }
        | E::RemoveLargestPrefixPattern { pattern: v, .. } => out.extend(v.as_deref()),
        E::ReplaceSubstring {
            pattern,
            replacement,
            ..
        } => {
            out.push(pattern.as_str());
            out.extend(replacement.as_deref());
        }
        E::Substring { offset, length, .. } => {
            out.push(offset.value.as_str());
            out.extend(length.as_ref().map(|l| l.value.as_str()));
        }
        _ => {}
    }
    out
}

/// `s[start..end]` in chars, as brush-parser's word pieces count them.
pub(super) fn char_slice(s: &str, start: usize, end: usize) -> String {
    if s.is_ascii() {
        return s.get(start..end).unwrap_or("").to_string();
    }
    s.chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}

/// Inside backquotes, `\\`, `` \` `` and `\$` lose their backslash.
pub(super) fn unescape_backquoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&n) = chars.peek()
            && matches!(n, '\\' | '`' | '$')
        {
            out.push(n);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// Decodes the escapes of a `$'…'` string.
pub(super) fn ansi_c(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            out.push('\\');
            break;
        };
        let digits = |chars: &mut std::iter::Peekable<std::str::Chars>, radix: u32, max: usize| {
            let mut v = 0u32;
            let mut n = 0;
            while n < max
                && let Some(d) = chars.peek().and_then(|c| c.to_digit(radix))
            {
                v = v * radix + d;
                chars.next();
                n += 1;
            }
            (v, n)
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'e' | 'E' => out.push('\x1b'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            '\\' | '\'' | '"' | '?' => out.push(e),
            'x' => {
                let (v, n) = digits(&mut chars, 16, 2);
                if n == 0 {
                    out.push_str("\\x");
                } else {
                    out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
            }
            'u' | 'U' => {
                let (v, n) = digits(&mut chars, 16, if e == 'u' { 4 } else { 8 });
                if n == 0 {
                    out.push('\\');
                    out.push(e);
                } else {
                    out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                let (rest, n) = digits(&mut chars, 8, 2);
                if n > 0 {
                    v = v * 8u32.pow(n as u32) + rest;
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            'c' => {
                if let Some(ch) = chars.next() {
                    out.push(char::from_u32((ch as u32) & 0x1f).unwrap_or('\u{fffd}'));
                }
            }
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}
