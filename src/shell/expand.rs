//! What a line of the interactive shell is checked as: the line with the
//! session's aliases expanded, after the definitions of the session's
//! functions it may call. So `ll` (an alias for `sudo reboot`) or `f` (a
//! function whose body runs `reboot`) is confirmed like `reboot`.
//!
//! Pure: the line and the session's definitions in, a text out.
//!
//! - **Aliases** are expanded the way bash does it, on the text: an
//!   unquoted word in command position (the start of a command: after
//!   `;`, `&`, `|`, `(`, a newline, `then`, `do`, … or an assignment)
//!   that is an alias name is replaced by its value, recursively, each
//!   name at most once on the way; a value ending in a blank makes the
//!   next word a candidate too. Inside `$(…)` and backquotes as well,
//!   never inside quotes.
//! - **Functions**: the parser already follows a function defined earlier
//!   in the text into its body at each call (`parse::walk`), so the
//!   definitions of the functions whose names appear in the expanded line
//!   — and, through their bodies, the functions those call — are written
//!   before it. A name that merely appears (an argument) costs only some
//!   parsing.
//! - bash itself calls two functions without being asked, so their
//!   definitions are checked with every line when the session has them:
//!   `command_not_found_handle` (for a command that is not found) and a
//!   function named `builtin` (safe-run's own calls to bash go through
//!   the `builtin` builtin, which such a function would replace).

/// The session's aliases and functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Definitions {
    /// `(name, value)`.
    pub aliases: Vec<(String, String)>,
    /// `(name, definition text as bash prints it)`.
    pub functions: Vec<(String, String)>,
}

/// Functions bash calls on its own, checked with every line.
const IMPLICIT_FUNCTIONS: &[&str] = &["command_not_found_handle", "builtin"];

/// How deep aliases may expand into aliases.
const MAX_ALIAS_DEPTH: usize = 16;

/// Parses `alias -p`: `alias NAME='VALUE'` lines (values may span lines).
pub fn parse_aliases(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("alias ") {
        rest = &rest[at + "alias ".len()..];
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].to_string();
        rest = &rest[eq + 1..];
        // The value: single-quoted pieces joined by \' (bash's quoting).
        let mut value = String::new();
        loop {
            if let Some(r) = rest.strip_prefix('\'') {
                let Some(end) = r.find('\'') else {
                    value.push_str(r);
                    rest = "";
                    break;
                };
                value.push_str(&r[..end]);
                rest = &r[end + 1..];
            } else if let Some(r) = rest.strip_prefix("\\'") {
                value.push('\'');
                rest = r;
            } else {
                break;
            }
        }
        if !name.is_empty() && !name.contains(char::is_whitespace) {
            out.push((name, value));
        }
    }
    out
}

/// Parses `declare -f`: each function starts on a line `NAME () `.
pub fn parse_functions(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let head = line.trim_end_matches('\n').trim_end();
        let starts = !line.starts_with([' ', '\t', '{', '}'])
            && head.ends_with(" ()")
            && !head[..head.len() - 3].contains(char::is_whitespace);
        if starts {
            out.push((head[..head.len() - 3].to_string(), String::new()));
        }
        if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
        }
    }
    out
}

/// The text a line is checked as, or `None` when it is the line itself
/// (no alias in it, no function it could call).
pub fn checked_text(line: &str, defs: &Definitions) -> Option<String> {
    // Bash reads a line of several lines (a paste, the rc file) one input
    // line at a time, so an alias defined on one is in force on the next:
    // the aliases the text defines count too (over the whole text, the
    // careful side).
    let mut aliases = defs.aliases.clone();
    if line.contains('\n') {
        for (name, value) in aliases_defined_in(line) {
            aliases.retain(|(n, _)| *n != name);
            aliases.push((name, value));
        }
    }
    let mut expanded = if aliases.is_empty() {
        line.to_string()
    } else {
        expand_aliases(line, &aliases)
    };
    // `eval rb` parses `rb` again, in the session's shell: its aliases
    // apply there too. What eval is given is checked once more, quotes
    // removed and aliases expanded, after the line.
    for args in eval_arguments(line) {
        let plain: String = args
            .trim_start()
            .chars()
            .filter(|c| !"'\"\\".contains(*c))
            .collect();
        if words(&plain).any(|w| aliases.iter().any(|(n, _)| n == w)) {
            expanded.push('\n');
            expanded.push_str(&expand_aliases(&plain, &aliases));
        }
    }
    let mut wanted: Vec<&str> = Vec::new();
    let mut queue: Vec<&str> = vec![expanded.as_str()];
    let implicit: Vec<&str> = defs
        .functions
        .iter()
        .filter(|(n, _)| IMPLICIT_FUNCTIONS.contains(&n.as_str()))
        .map(|(n, _)| n.as_str())
        .collect();
    let mut calls: Vec<&str> = implicit.clone();
    wanted.extend(implicit);
    while let Some(text) = queue.pop() {
        for word in words(text) {
            if wanted.contains(&word) {
                continue;
            }
            if let Some((name, body)) = defs.functions.iter().find(|(n, _)| n == word) {
                wanted.push(name);
                queue.push(body);
            }
        }
    }
    for (name, _) in &defs.functions {
        // A name the line defines itself is its own, not the session's.
        if line.contains(&format!("{name}()")) || line.contains(&format!("{name} ()")) {
            wanted.retain(|w| w != name);
            calls.retain(|w| w != name);
        }
    }
    if wanted.is_empty() && expanded == line {
        return None;
    }
    let mut text = String::new();
    for (name, body) in &defs.functions {
        if wanted.contains(&name.as_str()) {
            text.push_str(body.trim_end());
            text.push('\n');
        }
    }
    text.push_str(&expanded);
    for call in calls {
        text.push('\n');
        text.push_str(call);
    }
    Some(text)
}

/// What follows each `eval` word of `text`, to the end of its line.
fn eval_arguments(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut from = 0;
        while let Some(at) = line[from..].find("eval") {
            let start = from + at;
            let end = start + "eval".len();
            let before = line[..start].chars().last();
            let after = line[end..].chars().next();
            if before.is_none_or(|c| c.is_whitespace() || ";&|(`".contains(c))
                && after.is_some_and(char::is_whitespace)
            {
                out.push(&line[end..]);
            }
            from = end;
        }
    }
    out
}

/// `alias NAME=VALUE` definitions written in `text` (the value single- or
/// double-quoted, or one plain word), for [`checked_text`].
pub fn aliases_defined_in(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("alias ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "alias ".len()..];
        if before.is_some_and(|c| !(c.is_whitespace() || ";&|(".contains(c))) {
            continue;
        }
        loop {
            let r = rest.trim_start_matches([' ', '\t']);
            let Some(eq) = r.find('=') else { break };
            let name = &r[..eq];
            if name.is_empty() || name.contains(|c: char| c.is_whitespace() || "'\";|&".contains(c))
            {
                break;
            }
            let v = &r[eq + 1..];
            let (value, used) = match v.chars().next() {
                Some(q @ ('\'' | '"')) => match v[1..].find(q) {
                    Some(end) => (v[1..=end].to_string(), end + 2),
                    None => (v[1..].to_string(), v.len()),
                },
                _ => {
                    let end = v
                        .find(|c: char| c.is_whitespace() || ";&|".contains(c))
                        .unwrap_or(v.len());
                    (v[..end].to_string(), end)
                }
            };
            out.push((name.to_string(), value));
            rest = &v[used..];
            if !rest.starts_with([' ', '\t']) {
                break;
            }
        }
    }
    out
}

/// The words of `text`, split at blanks, operators and quotes: the names a
/// function call could be spelled with.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || ";|&()<>{}'\"`$\\=".contains(c))
        .filter(|w| !w.is_empty())
}

/// Expands the aliases of `line` as bash would before running it.
pub fn expand_aliases(line: &str, aliases: &[(String, String)]) -> String {
    let mut busy = Vec::new();
    expand(line, aliases, &mut busy, 0, true)
}

/// Reserved words after which a command starts.
const OPENERS: &[&str] = &[
    "then", "do", "else", "elif", "if", "while", "until", "!", "{", "time",
];

fn expand(
    text: &str,
    aliases: &[(String, String)],
    busy: &mut Vec<String>,
    depth: usize,
    start_in_command: bool,
) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut command = start_in_command;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' => {
                out.push(c as char);
                i += 1;
            }
            b'\n' | b';' | b'&' | b'|' | b'(' | b')' => {
                out.push(c as char);
                i += 1;
                command = true;
            }
            b'<' | b'>' => {
                // A redirection: its target word is not a command.
                out.push(c as char);
                i += 1;
                while i < bytes.len() && matches!(bytes[i], b'<' | b'>' | b'&' | b'|') {
                    out.push(bytes[i] as char);
                    i += 1;
                }
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
                    out.push(bytes[i] as char);
                    i += 1;
                }
                let end = word_end(bytes, i);
                out.push_str(&text[i..end]);
                i = end;
            }
            b'#' => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                out.push_str(&text[i..end]);
                i = end;
            }
            _ => {
                let end = word_end(bytes, i);
                let word = &text[i..end];
                let plain = !word.contains(['\'', '"', '\\', '$', '`', '=', '/']);
                let alias = (command && plain && depth < MAX_ALIAS_DEPTH)
                    .then(|| aliases.iter().find(|(n, _)| n == word))
                    .flatten()
                    .filter(|(n, _)| !busy.contains(n));
                if let Some((name, value)) = alias {
                    busy.push(name.clone());
                    let expanded = expand(value, aliases, busy, depth + 1, true);
                    busy.pop();
                    out.push_str(&expanded);
                    // A value ending in a blank: the next word is a candidate.
                    command = value.ends_with([' ', '\t']);
                } else {
                    out.push_str(&expand_inside(word, aliases, busy, depth));
                    let assignment = word.split_once('=').is_some_and(|(n, _)| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    });
                    command = command && (assignment || OPENERS.contains(&word));
                }
                i = end;
            }
        }
    }
    out
}

/// Where the word starting at `i` ends: at an unquoted blank or operator.
fn word_end(bytes: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\'' if depth == 0 => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' if bytes.get(i + 1) == Some(&b'(') => {
                depth += 1;
                i += 2;
            }
            b'(' if depth > 0 => {
                depth += 1;
                i += 1;
            }
            b')' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' if depth == 0 => {
                break;
            }
            _ => i += 1,
        }
    }
    i.min(bytes.len())
}

/// A word with the command substitutions in it expanded (`$(…)`, `` `…` ``,
/// also inside double quotes); single-quoted parts are left alone.
fn expand_inside(
    word: &str,
    aliases: &[(String, String)],
    busy: &mut Vec<String>,
    depth: usize,
) -> String {
    if !word.contains("$(") && !word.contains('`') {
        return word.to_string();
    }
    let bytes = word.as_bytes();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    let mut in_double = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let end = (i + 2).min(bytes.len());
                out.push_str(&word[i..end]);
                i = end;
            }
            b'\'' if !in_double => {
                let end = word[i + 1..].find('\'').map_or(word.len(), |n| i + n + 2);
                out.push_str(&word[i..end.min(word.len())]);
                i = end.min(word.len());
            }
            b'"' => {
                in_double = !in_double;
                out.push('"');
                i += 1;
            }
            b'$' if bytes.get(i + 1) == Some(&b'(') && bytes.get(i + 2) != Some(&b'(') => {
                // Find the matching parenthesis (quotes respected).
                let mut d = 1;
                let mut j = i + 2;
                while j < bytes.len() && d > 0 {
                    match bytes[j] {
                        b'\\' => j += 1,
                        b'\'' => {
                            j += 1;
                            while j < bytes.len() && bytes[j] != b'\'' {
                                j += 1;
                            }
                        }
                        b'(' => d += 1,
                        b')' => d -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                let inner_end = if d == 0 { j - 1 } else { bytes.len() };
                out.push_str("$(");
                out.push_str(&expand(
                    &word[i + 2..inner_end],
                    aliases,
                    busy,
                    depth + 1,
                    true,
                ));
                if d == 0 {
                    out.push(')');
                }
                i = j.min(bytes.len());
            }
            b'`' => {
                let end = word[i + 1..].find('`').map_or(word.len(), |n| i + 1 + n);
                out.push('`');
                out.push_str(&expand(&word[i + 1..end], aliases, busy, depth + 1, true));
                if end < word.len() {
                    out.push('`');
                }
                i = (end + 1).min(word.len());
            }
            _ => {
                let ch = word[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn alias_p_is_read_back() {
        let text = "alias a='echo '\\''x'\\'''\nalias ll='ls -l'\nalias m='a\nb'\n";
        assert_eq!(
            parse_aliases(text),
            aliases(&[("a", "echo 'x'"), ("ll", "ls -l"), ("m", "a\nb")])
        );
    }

    #[test]
    fn aliases_expand_in_command_position_only() {
        let a = aliases(&[
            ("ll", "ls -l"),
            ("rb", "sudo reboot"),
            ("s", "sudo "),
            ("loop", "loop x"),
            ("x", "y"),
            ("y", "x"),
        ]);
        let cases: &[(&str, &str)] = &[
            ("ll /tmp", "ls -l /tmp"),
            ("echo ll", "echo ll"),
            ("'ll'", "'ll'"),
            ("\\ll", "\\ll"),
            ("cd /tmp && rb", "cd /tmp && sudo reboot"),
            ("true; rb|cat", "true; sudo reboot|cat"),
            ("s rb", "sudo  sudo reboot"),
            ("sudo rb", "sudo rb"),
            ("X=1 rb", "X=1 sudo reboot"),
            ("if true; then rb; fi", "if true; then sudo reboot; fi"),
            (
                "echo \"$(rb)\" `rb`",
                "echo \"$(sudo reboot)\" `sudo reboot`",
            ),
            ("echo 'rb' \"rb\"", "echo 'rb' \"rb\""),
            ("echo x > rb", "echo x > rb"),
            ("loop", "loop x"),
            ("x", "x"),
            ("# rb\nrb", "# rb\nsudo reboot"),
            ("(rb)", "(sudo reboot)"),
        ];
        for (line, want) in cases {
            assert_eq!(expand_aliases(line, &a), *want, "{line:?}");
        }
    }

    #[test]
    fn an_alias_defined_on_an_earlier_line_of_the_text_counts() {
        assert_eq!(
            aliases_defined_in("alias rb='sudo reboot' x=y\nrb; alias z=\"a b\"; noalias q=1"),
            aliases(&[("rb", "sudo reboot"), ("x", "y"), ("z", "a b")])
        );
        let text = checked_text("alias rb='reboot'\nrb", &Definitions::default()).expect("changed");
        assert!(text.ends_with("\nreboot"), "{text}");
        assert_eq!(
            checked_text("alias rb='reboot'; rb", &Definitions::default()),
            None
        );
    }

    #[test]
    fn what_eval_is_given_is_expanded_too() {
        let defs = Definitions {
            aliases: aliases(&[("rb", "reboot")]),
            functions: vec![],
        };
        let text = checked_text("eval rb", &defs).expect("changed");
        assert_eq!(text, "eval rb\nreboot");
        let text = checked_text("true && eval 'rb now'", &defs).expect("changed");
        assert!(text.ends_with("\nreboot now"), "{text}");
        assert_eq!(checked_text("evaluate rb", &defs), None);
        assert_eq!(checked_text("eval ls", &defs), None);
    }

    #[test]
    fn functions_are_read_from_declare_f() {
        let text = "f () \n{ \n    reboot\n}\nmy-g () \n{ \n    f;\n    echo \"a () \"\n}\n";
        let f = parse_functions(text);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].0, "f");
        assert_eq!(f[1].0, "my-g");
        assert!(f[1].1.contains("echo \"a () \""));
    }

    #[test]
    fn the_checked_text_has_the_functions_a_line_may_call() {
        let defs = Definitions {
            aliases: aliases(&[("go", "g now")]),
            functions: parse_functions(
                "f () \n{ \n    reboot\n}\ng () \n{ \n    f\n}\nh () \n{ \n    ls\n}\n",
            ),
        };
        assert_eq!(checked_text("ls -l", &defs), None);
        let text = checked_text("go", &defs).expect("changed");
        assert!(text.starts_with("f () "), "{text}");
        assert!(text.contains("g () "), "{text}");
        assert!(!text.contains("h () "), "{text}");
        assert!(text.ends_with("\ng now"), "{text}");
        // A function the line defines again is the line's own.
        assert_eq!(checked_text("f() { ls; }; f", &defs), None);
        let with_handler = Definitions {
            aliases: vec![],
            functions: parse_functions("command_not_found_handle () \n{ \n    reboot\n}\n"),
        };
        let text = checked_text("nosuchcmd", &with_handler).expect("changed");
        assert!(
            text.ends_with("nosuchcmd\ncommand_not_found_handle"),
            "{text}"
        );
    }

    #[test]
    fn checked_texts_parse_and_find_what_runs() {
        let rules = crate::rules::RuleSet::builtin();
        let defs = Definitions {
            aliases: aliases(&[("rb", "sudo reboot")]),
            functions: parse_functions(
                "f () \n{ \n    if true; then\n        reboot;\n    fi\n}\n",
            ),
        };
        for line in ["rb", "f", "echo x && f"] {
            let text = checked_text(line, &defs).expect("changed");
            let v = crate::classify::check_line(&text, &rules).expect("parses");
            assert!(
                v.findings
                    .iter()
                    .any(|f| f.command.first().is_some_and(|c| c == "reboot")),
                "{line}: {v:?}"
            );
        }
        let text = checked_text("echo f", &defs).expect("f is named");
        let v = crate::classify::check_line(&text, &rules).expect("parses");
        assert!(
            v.findings.is_empty(),
            "a definition alone runs nothing: {v:?}"
        );
    }
}
