//! The `allowed_signers` file: who may approve, with which key. The format
//! is ssh-keygen(1)'s ALLOWED SIGNERS, so one file serves `ssh-keygen -Y
//! verify` and safe-run alike:
//!
//! ```text
//! # principals  [options]  key
//! alice@example.com ssh-ed25519 AAAAC3Nz… alice's laptop
//! bob,robert namespaces="safe-run-approval",valid-before="20271231" ecdsa-sha2-nistp256 AAAAE2Vj…
//! ```
//!
//! Pure: the file's text comes in. A line that cannot be read is reported
//! with its number and skipped — it grants nothing, so skipping it can
//! only refuse an approval, never accept one. `cert-authority` lines are
//! reported as not supported (an approval must name one person's key).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use ssh_key::PublicKey;

use super::Requester;

/// One line of the file.
#[derive(Clone, Debug)]
pub struct Signer {
    /// The names this key signs as (patterns with `*` or `?` allowed).
    pub principals: Vec<String>,
    /// `namespaces="…"`: the namespaces this key may sign in; `None`: any.
    pub namespaces: Option<Vec<String>>,
    pub valid_after: Option<Timestamp>,
    pub valid_before: Option<Timestamp>,
    pub key: PublicKey,
    /// 1-based line number, for messages.
    pub line: usize,
}

impl Signer {
    /// Whether the key may sign in `namespace` at `now`.
    pub fn allows(&self, namespace: &str, now: Timestamp) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|ns| ns.iter().any(|n| glob(n, namespace)))
            && self.valid_after.is_none_or(|t| now >= t)
            && self.valid_before.is_none_or(|t| now < t)
    }

    /// Whether one of the principals stands for the requester (by name,
    /// pattern or local part: [`Requester::is`]).
    pub fn names(&self, requester: &Requester) -> bool {
        self.principals.iter().any(|p| requester.is(p))
    }

    /// Whether every principal is a plain name (no pattern).
    pub fn named_plainly(&self) -> bool {
        self.principals.iter().all(|p| !p.contains(['*', '?']))
    }
}

/// A line that could not be read: its number and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerProblem {
    pub line: usize,
    pub why: String,
}

/// Reads the file's text: the signers, and a problem for every line that
/// cannot be read.
pub fn parse(text: &str) -> (Vec<Signer>, Vec<SignerProblem>) {
    let mut signers = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line, i + 1) {
            Ok(s) => signers.push(s),
            Err(why) => problems.push(SignerProblem { line: i + 1, why }),
        }
    }
    (signers, problems)
}

fn parse_line(line: &str, number: usize) -> Result<Signer, String> {
    let (principals, rest) = split_field(line);
    let rest = rest.trim_start();
    let principals = unquote(principals)?;
    let principals: Vec<String> = principals
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if principals.is_empty() {
        return Err("no principal (the name the key signs as)".into());
    }
    // Options come before the key when the next word is not a key type.
    let (options, key_text) = if looks_like_key_type(rest) {
        ("", rest)
    } else {
        let (options, rest) = split_field(rest);
        (options, rest.trim_start())
    };
    let mut signer = Signer {
        principals,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key: PublicKey::from_openssh(key_text.trim())
            .map_err(|e| format!("the key cannot be read ({e})"))?,
        line: number,
    };
    for option in split_options(options) {
        let (name, value) = match option.split_once('=') {
            Some((n, v)) => (
                n.to_ascii_lowercase(),
                Some(v.trim_matches('"').to_string()),
            ),
            None => (option.to_ascii_lowercase(), None),
        };
        match (name.as_str(), value) {
            ("cert-authority", _) => {
                return Err(
                    "cert-authority keys are not supported: list each approver's own key".into(),
                );
            }
            ("namespaces", Some(v)) => {
                signer.namespaces = Some(v.split(',').map(str::to_string).collect());
            }
            ("valid-after", Some(v)) => signer.valid_after = Some(ssh_time(&v)?),
            ("valid-before", Some(v)) => signer.valid_before = Some(ssh_time(&v)?),
            (other, _) => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(signer)
}

/// The first field: up to unquoted whitespace.
fn split_field(text: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&text[..i], &text[i..]),
            _ => {}
        }
    }
    (text, "")
}

/// The principals field without its quotes, as ssh-keygen reads it:
/// `"alice,bob"` is the two principals alice and bob. Kept quoted, the
/// first would be `"alice`, which matches no login name — and so would
/// never be taken for the requester. A quote anywhere else makes the line
/// unreadable (it then grants nothing).
fn unquote(field: &str) -> Result<&str, String> {
    let inner = match field.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or("the principals' quotes are not closed")?,
        None => field,
    };
    if inner.contains('"') {
        return Err("a quote inside the principals".into());
    }
    Ok(inner)
}

/// Options split at unquoted commas.
fn split_options(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out.into_iter().filter(|o| !o.is_empty()).collect()
}

fn looks_like_key_type(text: &str) -> bool {
    text.starts_with("ssh-") || text.starts_with("ecdsa-") || text.starts_with("sk-")
}

/// `YYYYMMDD[HHMM[SS]][Z]`, local time unless it ends in `Z` (as
/// ssh-keygen reads it); this host's time zone is UTC here, the pure way:
/// a time without `Z` is read as UTC too, and docs/APPROVALS.md says so.
fn ssh_time(text: &str) -> Result<Timestamp, String> {
    let bad = || format!("`{text}` is not a time: write YYYYMMDD[HHMM[SS]][Z]");
    let digits = text.strip_suffix(['Z', 'z']).unwrap_or(text);
    if !digits.chars().all(|c| c.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let n = |range: std::ops::Range<usize>| -> Result<i16, String> {
        digits
            .get(range)
            .map_or(Ok(0), |d| d.parse::<i16>().map_err(|_| bad()))
    };
    let date = Date::new(n(0..4)?, n(4..6)? as i8, n(6..8)? as i8).map_err(|_| bad())?;
    let time =
        Time::new(n(8..10)? as i8, n(10..12)? as i8, n(12..14)? as i8, 0).map_err(|_| bad())?;
    DateTime::from_parts(date, time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// ssh's pattern match: `*` any run of characters, `?` one.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfZfG1KaT0PtFDJ/XFSqti";

    #[test]
    fn lines_read_with_and_without_options() {
        let text = format!(
            "# approvers\n\nbob@example.com {KEY} bob's laptop\ncarol,caz namespaces=\"safe-run-approval,git\",valid-before=\"20271231Z\" {KEY}\n"
        );
        let (signers, problems) = parse(&text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(signers.len(), 2);
        assert_eq!(signers[0].principals, ["bob@example.com"]);
        assert_eq!(signers[0].line, 3);
        assert_eq!(signers[1].principals, ["carol", "caz"]);
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
        assert!(signers[1].allows("safe-run-approval", now));
        assert!(!signers[1].allows("file", now));
        let later: Timestamp = "2028-01-01T00:00:00Z".parse().unwrap();
        assert!(!signers[1].allows("safe-run-approval", later));
    }

    #[test]
    fn a_bad_line_is_reported_and_grants_nothing() {
        let text = format!(
            "alice ssh-ed25519 AAAAnotakey\nroot cert-authority {KEY}\nbob frobnicate {KEY}\nok {KEY}\n"
        );
        let (signers, problems) = parse(&text);
        assert_eq!(signers.len(), 1);
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [1, 2, 3]);
        assert!(problems[1].why.contains("cert-authority"));
        assert!(problems[2].why.contains("frobnicate"));
    }

    #[test]
    fn quoted_principals_are_read_as_ssh_keygen_reads_them() {
        let text = format!("\"alice,bob\" {KEY}\n\"carol {KEY}\nda\"ve {KEY}\n");
        let (signers, problems) = parse(&text);
        assert_eq!(signers.len(), 1, "{problems:?}");
        assert_eq!(signers[0].principals, ["alice", "bob"]);
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [2, 3]);
    }

    #[test]
    fn a_principal_is_the_requester_by_any_name_or_local_part() {
        let r = Requester::new("root", &["alice"]);
        for p in [
            "alice",
            "alice@example.com",
            "ALICE@corp",
            "root",
            "a*",
            "*@x",
        ] {
            assert!(r.is(p), "{p}");
        }
        for p in ["bob", "bob@alice", "alicia@example.com", ""] {
            assert!(!r.is(p), "{p}");
        }
    }

    #[test]
    fn principals_match_as_ssh_patterns() {
        assert!(glob("*@example.com", "bob@example.com"));
        assert!(glob("b?b", "bob"));
        assert!(!glob("bob", "bobby"));
        assert!(glob("*", ""));
    }
}
