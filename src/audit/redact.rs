//! Removing secrets from command lines before anything is written.
//!
//! The audit log and syslog keep what an operator typed for years, and are
//! read by more people than the host's root: a password given on the
//! command line must not end up there. Every text bound for the log passes
//! through [`redact`] (a shell line) or [`redact_argv`] (an argument
//! vector); `audit::seal` calls them itself so that no record can be
//! written unredacted. Pure: no I/O, no state.
//!
//! What is replaced by `***` (one row of the test table per form):
//!
//! | form | example | becomes |
//! | --- | --- | --- |
//! | mysql family `-pSECRET` (only after a `mysql*`/`mariadb*` word) | `mysql -u root -phunter2` | `mysql -u root -p***` |
//! | `sshpass -p SECRET` / `-pSECRET` | `sshpass -p hunter2 ssh h` | `sshpass -p *** ssh h` |
//! | secret long options with `=` | `--password=x`, `--db-token=x` | `--password=***` |
//! | secret long options followed by a value | `--password x`, `--token x` | `--password ***` |
//! | assignments to secret names | `PGPASSWORD=x psql`, `export API_TOKEN=x` | `PGPASSWORD=*** psql` |
//! | URL user information | `https://bob:hunter2@host/` | `https://bob:***@host/` |
//! | secret query parameters | `https://h/x?token=abc&y=1` | `https://h/x?token=***&y=1` |
//! | secret headers | `-H 'Authorization: Bearer abc'` | `-H 'Authorization: Bearer ***'` |
//! | `curl -u user:pass` / `--user user:pass` | `curl -u bob:pw URL` | `curl -u bob:*** URL` |
//! | curl's proxy user, bearer token | `curl -U bob:pw`, `--oauth2-bearer T` | `curl -U bob:***`, `--oauth2-bearer ***` |
//! | `redis-cli -a SECRET` / `-aSECRET` | `redis-cli -a hunter2 ping` | `redis-cli -a *** ping` |
//! | `mongo`/`mongosh -p SECRET` | `mongosh -u admin -p hunter2` | `mongosh -u admin -p ***` |
//! | registry logins `-p SECRET` (docker, podman, nerdctl, buildah, skopeo, helm, oras) | `docker login -u bob -p hunter2 r` | `docker login -u bob -p *** r` |
//! | `vault login TOKEN` (the positional token) | `vault login s.abc` | `vault login ***` |
//! | `htpasswd -b FILE USER PASS`, `-nb USER PASS` | `htpasswd -b f bob hunter2` | `htpasswd -b f bob ***` |
//! | token shapes anywhere: AWS access key ids, GitHub, GitLab and Slack tokens, JWTs | `echo AKIAIOSFODNN7EXAMPLE` | `echo AKIA***` |
//! | the same inside a quoted script | `sh -c 'PGPASSWORD=x psql'` | `sh -c 'PGPASSWORD=*** psql'` |
//!
//! Decisions, each one a trade between losing a secret and losing what the
//! auditor needs to read:
//! - A *secret name* (assignments, query parameters) contains `PASSWORD`,
//!   `PASSWD`, `PASSPHRASE`, `TOKEN` or `SECRET` (any case), or has `KEY`,
//!   `PASS` or `PWD` as a whole `_`/`-`/`.`-separated word (`API_KEY`,
//!   `SSH_KEY`, `AWS_SECRET_ACCESS_KEY`, `SMTP_PASS`, `MYSQL_PWD`) or one of
//!   the run-together forms `APIKEY`, `ACCESSKEY`, `PRIVATEKEY`, `AUTHKEY`.
//!   So `keyboard=us`, `MONKEY=1`, `BYPASS=1`, `AUTHORIZED_KEYS=…`,
//!   `PWD=/root` and `OLDPWD=…` stay. A name whose last word says it holds
//!   where the secret is, not the secret (`…_FILE`, `…_PATH`, `…_DIR`,
//!   `…_FD`, `…_CMD`, `…_COMMAND`, `…_ENV`), is not one either:
//!   `TOKEN_FILE=/run/secrets/t` stays.
//! - A *secret long option* is the same, except that a bare `--key` (sort's
//!   field, curl's key *file*) is not one, and options that never carry the
//!   secret itself are not either: `--no-…`, `…-file`, `…-stdin`, `…-fd`,
//!   `…-env`, `…-prompt`, `…-command`, `…-cmd`, `…-path`.
//! - `--password VALUE`: the next word is masked unless it starts with `-`.
//!   For mysql a bare `--password` prompts and the next word is a database
//!   name; masking it too is the safe side of the trade.
//! - `-pVALUE` is a password only for the mysql family and sshpass, `-p
//!   VALUE` for sshpass, mongo/mongosh and a registry `login`, `-a VALUE`
//!   only for redis-cli, and only in the same simple command (the context
//!   resets at `;`, `|`, `&`, `(`, `)` and newlines): `ssh -p 2222 host`,
//!   `ssh -p2222 host`, `grep -p`, `ps -p 1`, `ls -a`, `docker run -p
//!   80:80`, `tar -xpf f` and a bare `mysql -p` (which prompts) stay.
//! - Token shapes are masked wherever they appear, past their prefix
//!   (`ghp_***`), so the reader still sees what kind leaked: `AKIA`/`ASIA`
//!   and 16 capitals or digits, `ghp_`/`gho_`/`ghs_`/`ghu_`/`ghr_` and 36
//!   letters or digits, `github_pat_…`, `glpat-…` (20 or more), Slack's
//!   `xoxa-`/`xoxb-`/`xoxp-`/`xoxr-…`, and JWTs (`eyJ….eyJ….…`).
//! - A URL's user name stays (`ssh://git@host`, `https://bob@host/`): only
//!   the part after `user:` is the password. Header values keep their
//!   scheme word (`Bearer`, `Basic`), so the reader still sees the kind.
//! - The tokenizer is a light one (quotes, backslashes, separators), not the
//!   shell parser: it must never fail, and on anything odd it errs toward
//!   masking. A masked value loses its quotes: `--password='a b'` becomes
//!   `--password=***`.

use std::borrow::Cow;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// How deep quoted scripts inside quoted scripts are followed
/// (`ssh h "sh -c 'mysql -pX'"` is two levels).
const MAX_DEPTH: u8 = 4;

/// Returns the shell line `text` with every secret it recognises replaced by
/// `***`. Never fails; text with nothing to hide comes back unchanged.
pub fn redact(text: &str) -> String {
    mask_token_shapes(&redact_shell(text, 0))
}

/// Returns `argv` with every secret replaced by `***`. The words are taken
/// literally (quotes are not removed, there is nothing to remove); a word
/// that holds a whole script (`sh -c 'SCRIPT'`) is redacted as a line.
pub fn redact_argv(argv: &[String]) -> Vec<String> {
    let mut ctx = Ctx::default();
    argv.iter()
        .map(|word| redact_word(&mut ctx, word, false, 0).unwrap_or_else(|| word.clone()))
        .map(|word| mask_token_shapes(&word))
        .collect()
}

/// Well-known token shapes, anywhere in the text (see the module header).
static TOKEN_SHAPES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(concat!(
        r"\b(?:(AKIA|ASIA)[0-9A-Z]{16}",
        r"|(gh[posur]_)[A-Za-z0-9]{36}",
        r"|(github_pat_)[A-Za-z0-9_]{22,}",
        r"|(glpat-)[A-Za-z0-9_-]{20,}",
        r"|(xox[abpr]-)[A-Za-z0-9-]{10,}",
        r"|(eyJ)[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,})",
        r"\b",
    ))
    .expect("the token shapes compile")
});

/// `text` with every well-known token shape masked past its prefix.
fn mask_token_shapes(text: &str) -> String {
    TOKEN_SHAPES
        .replace_all(text, |caps: &regex::Captures| {
            let prefix = (1..caps.len())
                .find_map(|i| caps.get(i))
                .map_or("", |m| m.as_str());
            format!("{prefix}{MASK}")
        })
        .into_owned()
}

fn redact_shell(text: &str, depth: u8) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut ctx = Ctx::default();
    for token in tokenize(text) {
        match token {
            Token::Separator => ctx = Ctx::default(),
            Token::Word(start, end) => {
                if let Some(new) = redact_word(&mut ctx, &text[start..end], true, depth) {
                    out.push_str(&text[copied..start]);
                    out.push_str(&new);
                    copied = end;
                }
            }
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// What the words seen so far in one simple command tell about the next.
#[derive(Default)]
struct Ctx {
    /// A `mysql*` or `mariadb*` word was seen: `-pX` is a password.
    mysql: bool,
    /// `sshpass` was seen: `-p X` and `-pX` are a password.
    sshpass: bool,
    /// `curl` was seen: `-u`/`--user` take `user:password`.
    curl: bool,
    /// `redis-cli` was seen: `-a X` / `-aX` is a password.
    redis: bool,
    /// `mongo` or `mongosh` was seen: `-p X` is a password.
    mongo: bool,
    /// A registry client (`docker`, `podman`, …) was seen, then `login`:
    /// `-p X` is a password.
    registry: bool,
    login: bool,
    /// `vault` was seen (1), then `login` (2): the next positional word
    /// without `=` is a token (then 3).
    vault: u8,
    /// `htpasswd` was seen: its flags and positional words so far.
    htpasswd: Option<Htpasswd>,
    /// The previous word was `-c`: this one is a script.
    script_next: bool,
    pending: Pending,
}

/// `htpasswd [-b] [-n] …`: with `-b` the password is the last positional
/// (`FILE USER PASS`, or `USER PASS` with `-n`).
#[derive(Default, Clone, Copy)]
struct Htpasswd {
    batch: bool,
    no_file: bool,
    positionals: u8,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Pending {
    #[default]
    Nothing,
    /// The next word is a secret value.
    Value,
    /// The next word is `user:password`.
    UserPass,
}

/// Returns the redacted form of one word, or `None` when it has nothing to
/// hide. `shell` says whether quotes in `raw` are shell quoting.
fn redact_word(ctx: &mut Ctx, raw: &str, shell: bool, depth: u8) -> Option<String> {
    let plain: Cow<'_, str> = if shell {
        unquote(raw)
    } else {
        Cow::Borrowed(raw)
    };
    match std::mem::take(&mut ctx.pending) {
        // A redirection (`--with-token <<< "$T"`) is not the value.
        Pending::Value if !plain.is_empty() && !plain.starts_with(['-', '<', '>']) => {
            return Some(MASK.to_string());
        }
        Pending::UserPass if !plain.starts_with('-') => {
            return raw.find(':').map(|i| mask_from(raw, i + 1, shell));
        }
        _ => {}
    }
    let program = match plain.contains(char::is_whitespace) {
        true => "",
        false => plain.rsplit('/').next().unwrap_or_default(),
    };
    if program.starts_with("mysql") || program.starts_with("mariadb") {
        ctx.mysql = true;
    }
    ctx.sshpass |= program == "sshpass";
    ctx.curl |= program == "curl";
    ctx.redis |= program == "redis-cli";
    ctx.mongo |= matches!(program, "mongo" | "mongosh");
    ctx.registry |= matches!(
        program,
        "docker" | "podman" | "nerdctl" | "buildah" | "skopeo" | "helm" | "oras"
    );
    ctx.login |= ctx.registry && plain == "login";
    match (ctx.vault, program) {
        (_, "vault") => ctx.vault = 1,
        (1, "login") => ctx.vault = 2,
        _ => {}
    }
    if program == "htpasswd" && ctx.htpasswd.is_none() {
        ctx.htpasswd = Some(Htpasswd::default());
        return None;
    }

    // A header is recognised first (its value may hold blanks). A word that
    // holds a script is redacted as a line: a quoted word with blanks in a
    // shell line, the word after `-c` in an argv (elsewhere an argv word with
    // blanks is first taken as a value: `API_TOKEN=a b`).
    let script_next = std::mem::replace(&mut ctx.script_next, plain == "-c");
    let as_script = |raw: &str| match shell {
        _ if depth >= MAX_DEPTH => None,
        true => redact_quoted_script(raw, depth),
        false if raw.contains(char::is_whitespace) => Some(redact_shell(raw, depth + 1)),
        false => None,
    };
    let mut word = mask_header(raw, shell);
    if word.is_none() && (shell || script_next) {
        word = as_script(raw);
    }
    word = word.or_else(|| option_or_assignment(ctx, raw, &plain, shell));
    if word.is_none() {
        word = positional(ctx, &plain);
    }
    if word.is_none() && !shell && !script_next {
        word = as_script(raw);
    }
    let current = word.as_deref().unwrap_or(raw);
    mask_in_urls(current).or(word)
}

/// The rules that decide a whole word: options and assignments.
fn option_or_assignment(ctx: &mut Ctx, raw: &str, plain: &str, shell: bool) -> Option<String> {
    if let Some(long) = plain.strip_prefix("--") {
        let (name, has_value) = match long.find('=') {
            Some(i) => (&long[..i], true),
            None => (long, false),
        };
        let value_at = raw.find('=').map(|i| i + 1);
        if is_secret_option(name) {
            match value_at {
                Some(at) if has_value && !unquote(&raw[at..]).is_empty() => {
                    return Some(mask_from(raw, at, shell));
                }
                _ if !has_value => ctx.pending = Pending::Value,
                _ => {}
            }
        } else if ctx.curl && matches!(name, "user" | "proxy-user") {
            match value_at {
                Some(at) if has_value => {
                    return raw[at..]
                        .find(':')
                        .map(|i| mask_from(raw, at + i + 1, shell));
                }
                _ => ctx.pending = Pending::UserPass,
            }
        }
        return None;
    }
    if plain.starts_with('-') {
        if (ctx.mysql || ctx.sshpass) && plain.starts_with("-p") {
            if plain.len() > 2 {
                let at = raw.find("-p").map_or(raw.len(), |i| i + 2);
                return Some(mask_from(raw, at, shell));
            }
            if ctx.sshpass {
                ctx.pending = Pending::Value;
            }
        } else if (ctx.mongo || ctx.login) && plain == "-p" {
            ctx.pending = Pending::Value;
        } else if ctx.redis && plain.starts_with("-a") {
            if plain.len() == 2 {
                ctx.pending = Pending::Value;
            } else {
                let at = raw.find("-a").map_or(raw.len(), |i| i + 2);
                return Some(mask_from(raw, at, shell));
            }
        } else if ctx.curl && (plain.starts_with("-u") || plain.starts_with("-U")) {
            if plain.len() == 2 {
                ctx.pending = Pending::UserPass;
            } else if let Some(i) = raw.find(':') {
                return Some(mask_from(raw, i + 1, shell));
            }
        } else if let Some(h) = ctx.htpasswd.as_mut() {
            h.batch |= plain.contains('b');
            h.no_file |= plain.contains('n');
        }
        return None;
    }
    // NAME=value, possibly inside quotes: `"PGPASSWORD=x"`.
    let skip = usize::from(shell && raw.starts_with(['\'', '"']));
    let body = &raw[skip..];
    let eq = body.find('=')?;
    let name = &body[..eq];
    if is_identifier(name) && is_secret_assignment(name) && !unquote(&body[eq + 1..]).is_empty() {
        return Some(mask_from(raw, skip + eq + 1, shell));
    }
    None
}

/// The rules that decide a positional word from what came before it:
/// `vault login TOKEN`, `htpasswd -b FILE USER PASS`.
fn positional(ctx: &mut Ctx, plain: &str) -> Option<String> {
    if plain.is_empty() || plain.starts_with('-') {
        return None;
    }
    if ctx.vault == 2 && plain != "login" && !plain.contains('=') {
        ctx.vault = 3;
        return Some(MASK.to_string());
    }
    if let Some(h) = ctx.htpasswd.as_mut() {
        h.positionals = h.positionals.saturating_add(1);
        let password_at = if h.no_file { 2 } else { 3 };
        if h.batch && h.positionals == password_at {
            return Some(MASK.to_string());
        }
    }
    None
}

/// `Authorization: Bearer abc` → `Authorization: Bearer ***`, and other
/// headers whose name says they carry a secret, at the start of a word, of
/// its quoted content, or after `=` (`--header=…`).
fn mask_header(raw: &str, shell: bool) -> Option<String> {
    let mut starts = vec![0];
    if let Some(eq) = raw.find('=') {
        starts.push(eq + 1);
    }
    for mut start in starts {
        if shell && raw[start..].starts_with(['\'', '"']) {
            start += 1;
        }
        let rest = &raw[start..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        if name.is_empty() || !rest[name_len..].starts_with(':') || !is_secret_header(name) {
            continue;
        }
        let mut at = start + name_len + 1;
        at += raw[at..].len() - raw[at..].trim_start_matches([' ', '\t']).len();
        if name.to_ascii_lowercase().contains("authorization") {
            // Keep the scheme word when a credential follows it.
            let value = &raw[at..];
            if let Some(space) = value.find(' ') {
                let scheme = &value[..space];
                if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()) {
                    at += space + 1;
                    at += raw[at..].len() - raw[at..].trim_start_matches(' ').len();
                }
            }
        }
        let value = raw[at..].trim_end_matches(['\'', '"']);
        return match value {
            "" => None,
            // Already redacted: the header is settled, look no further.
            MASK => Some(raw.to_string()),
            _ => Some(mask_from(raw, at, shell)),
        };
    }
    None
}

/// A quoted word that holds a script (`'PGPASSWORD=x psql'`, the argument
/// of `sh -c` or `ssh host`): its content redacted as a line, changed or
/// not (the word is settled either way). A quoted value with blanks,
/// `"TOKEN=a b"`, is read the same way and becomes `"TOKEN=*** b"`: rare,
/// and `TOKEN="a b"`, the usual spelling, is masked whole.
fn redact_quoted_script(raw: &str, depth: u8) -> Option<String> {
    let quote = raw.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = raw.strip_prefix(quote)?.strip_suffix(quote)?;
    if !inner.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{quote}{}{quote}", redact_shell(inner, depth + 1)))
}

/// `scheme://user:PASSWORD@host` and `?token=VALUE&…` inside a word.
fn mask_in_urls(word: &str) -> Option<String> {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let ends_value = |c: char| matches!(c, '&' | '#' | '\'' | '"' | ' ' | '\t' | '\n');

    let mut from = 0;
    while let Some(found) = word[from..].find("://") {
        let authority_start = from + found + 3;
        let authority_end = word[authority_start..]
            .find(['/', '?', '#', '\'', '"', ' ', '\t', '\n'])
            .map_or(word.len(), |i| authority_start + i);
        let authority = &word[authority_start..authority_end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            let (start, end) = (authority_start + colon + 1, authority_start + at);
            if start < end && &word[start..end] != MASK {
                ranges.push((start, end));
            }
        }
        from = authority_end;
    }

    for (i, c) in word.char_indices() {
        if c != '?' && c != '&' {
            continue;
        }
        let rest = &word[i + 1..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        if name_len == 0 || !rest[name_len..].starts_with('=') || !is_secret_name(&rest[..name_len])
        {
            continue;
        }
        let start = i + 1 + name_len + 1;
        let end = word[start..]
            .find(ends_value)
            .map_or(word.len(), |e| start + e);
        if start < end && &word[start..end] != MASK {
            ranges.push((start, end));
        }
    }

    if ranges.is_empty() {
        return None;
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(word.len());
    let mut copied = 0;
    for (start, end) in ranges {
        if start < copied {
            continue; // overlapping: already masked
        }
        out.push_str(&word[copied..start]);
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(&word[copied..]);
    Some(out)
}

/// `raw[..from]` followed by `***`, closing a quote left open at `from`.
fn mask_from(raw: &str, from: usize, shell: bool) -> String {
    let from = from.min(raw.len());
    let mut out = String::with_capacity(from + MASK.len() + 1);
    out.push_str(&raw[..from]);
    out.push_str(MASK);
    if shell && let Some(quote) = open_quote(&raw[..from]) {
        out.push(quote);
    }
    out
}

/// The quote character that is open at the end of `text`, if any.
fn open_quote(text: &str) -> Option<char> {
    let mut open = None;
    let mut escaped = false;
    for c in text.chars() {
        match (open, c) {
            (_, _) if escaped => escaped = false,
            (Some('\''), '\'') => open = None,
            (Some('\''), _) => {}
            (_, '\\') => escaped = true,
            (Some('"'), '"') => open = None,
            (None, '\'' | '"') => open = Some(c),
            _ => {}
        }
    }
    open
}

/// Rough quote removal, good enough to recognise program and option names.
fn unquote(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['\'', '"', '\\']) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut open: Option<char> = None;
    let mut escaped = false;
    for c in raw.chars() {
        match (open, c) {
            (_, _) if escaped => {
                escaped = false;
                out.push(c);
            }
            (Some('\''), '\'') => open = None,
            (Some('\''), _) => out.push(c),
            (_, '\\') => escaped = true,
            (Some('"'), '"') => open = None,
            (None, '\'' | '"') => open = Some(c),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// See the module header: which names hold secrets.
fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if ["password", "passwd", "passphrase", "token", "secret"]
        .iter()
        .any(|s| lower.contains(s))
    {
        return true;
    }
    let whole_pwd = lower == "pwd" || lower == "oldpwd";
    lower.split(['_', '-', '.']).any(|part| {
        matches!(
            part,
            "key" | "pass" | "apikey" | "accesskey" | "privatekey" | "authkey"
        ) || (part == "pwd" && !whole_pwd)
    })
}

/// A secret name for an assignment: one that does not end in a word that
/// says it holds where the secret is (`TOKEN_FILE`, `SSH_KEY_PATH`).
fn is_secret_assignment(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let last = lower.rsplit(['_', '-', '.']).next().unwrap_or_default();
    let locates = matches!(
        last,
        "file" | "path" | "dir" | "fd" | "cmd" | "command" | "env"
    );
    !locates && is_secret_name(name)
}

/// See the module header: which long options take a secret.
fn is_secret_option(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    const NO_SECRET_SUFFIXES: [&str; 8] = [
        "-file", "-stdin", "-fd", "-env", "-prompt", "-command", "-cmd", "-path",
    ];
    if lower.starts_with("no-") || NO_SECRET_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return false;
    }
    matches!(lower.as_str(), "pass" | "oauth2-bearer") || (lower != "key" && is_secret_name(&lower))
}

fn is_secret_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("authorization")
        || lower == "cookie"
        || [
            "token", "secret", "password", "passwd", "api-key", "apikey", "auth-key",
        ]
        .iter()
        .any(|s| lower.contains(s))
}

enum Token {
    Word(usize, usize),
    Separator,
}

/// Splits a line into words (byte ranges, quotes included) and command
/// separators. Never fails: an unclosed quote runs to the end.
fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let is_separator = |b: u8| matches!(b, b';' | b'|' | b'&' | b'(' | b')' | b'\n');
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if is_separator(b) {
            tokens.push(Token::Separator);
            i += 1;
            continue;
        }
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'\'' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                }
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                c if c.is_ascii_whitespace() || is_separator(c) => break,
                _ => i += 1,
            }
        }
        // Every stop is just after an ASCII byte or at the end, so `end` is
        // a char boundary.
        let end = i.min(bytes.len());
        tokens.push(Token::Word(start, end));
        i = end;
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, line, expected) — one row per form; add a row for each new
    /// leak found.
    const REDACTED: &[(&str, &str, &str)] = &[
        (
            "mysql -p attached",
            "mysql -u root -phunter2 prod",
            "mysql -u root -p*** prod",
        ),
        (
            "mysqldump -p",
            "mysqldump -uroot -p'se cret' db > d.sql",
            "mysqldump -uroot -p*** db > d.sql",
        ),
        (
            "mariadb via sudo",
            "sudo mariadb -phunter2",
            "sudo mariadb -p***",
        ),
        (
            "mysqladmin by path",
            "/usr/bin/mysqladmin -pX status",
            "/usr/bin/mysqladmin -p*** status",
        ),
        (
            "sshpass -p",
            "sshpass -p hunter2 ssh core-1",
            "sshpass -p *** ssh core-1",
        ),
        (
            "sshpass -pX",
            "sshpass -phunter2 ssh core-1",
            "sshpass -p*** ssh core-1",
        ),
        (
            "--password=",
            "mysql --password=hunter2 db",
            "mysql --password=*** db",
        ),
        (
            "--password value",
            "tool --password hunter2 --verbose",
            "tool --password *** --verbose",
        ),
        (
            "--password quoted",
            "tool --password='a b c' x",
            "tool --password=*** x",
        ),
        ("--passwd", "tool --passwd=hunter2", "tool --passwd=***"),
        ("--pass", "tool --pass hunter2", "tool --pass ***"),
        (
            "--token=",
            "vault login --token=s.abc",
            "vault login --token=***",
        ),
        (
            "--token value",
            "gh auth --token abc123",
            "gh auth --token ***",
        ),
        ("--api-key", "cli --api-key=abc", "cli --api-key=***"),
        (
            "--client-secret",
            "az login --client-secret xyz",
            "az login --client-secret ***",
        ),
        (
            "PGPASSWORD",
            "PGPASSWORD=hunter2 psql -h db",
            "PGPASSWORD=*** psql -h db",
        ),
        (
            "export API_TOKEN",
            "export API_TOKEN=abc123",
            "export API_TOKEN=***",
        ),
        (
            "AWS secret key",
            "AWS_SECRET_ACCESS_KEY=abc aws s3 ls",
            "AWS_SECRET_ACCESS_KEY=*** aws s3 ls",
        ),
        (
            "lower-case name",
            "env db_password=x ./run",
            "env db_password=*** ./run",
        ),
        ("API_KEY", "API_KEY='a b' curl x", "API_KEY=*** curl x"),
        ("MYSQL_PWD", "MYSQL_PWD=x mysql", "MYSQL_PWD=*** mysql"),
        (
            "docker -e",
            "docker run -e MYSQL_ROOT_PASSWORD=x mysql",
            "docker run -e MYSQL_ROOT_PASSWORD=*** mysql",
        ),
        (
            "quoted assignment",
            "export \"GITHUB_TOKEN=ghp_x\"",
            "export \"GITHUB_TOKEN=***\"",
        ),
        (
            "url userinfo",
            "curl https://bob:hunter2@host/",
            "curl https://bob:***@host/",
        ),
        (
            "url in a variable",
            "DATABASE_URL=postgres://app:pw@db/app ./migrate",
            "DATABASE_URL=postgres://app:***@db/app ./migrate",
        ),
        (
            "url empty user",
            "redis-cli -u redis://:pw@cache:6379",
            "redis-cli -u redis://:***@cache:6379",
        ),
        (
            "git remote",
            "git clone https://x:ghp_abc@github.com/o/r",
            "git clone https://x:***@github.com/o/r",
        ),
        (
            "query token",
            "curl 'https://h/api?token=abc&x=1'",
            "curl 'https://h/api?token=***&x=1'",
        ),
        (
            "authorization header",
            "curl -H 'Authorization: Bearer abc' https://h/",
            "curl -H 'Authorization: Bearer ***' https://h/",
        ),
        (
            "authorization double quotes",
            "curl -H \"authorization:Basic Ym9i\" h",
            "curl -H \"authorization:Basic ***\" h",
        ),
        (
            "token header",
            "curl -H 'PRIVATE-TOKEN: abc' h",
            "curl -H 'PRIVATE-TOKEN: ***' h",
        ),
        (
            "--header=",
            "curl --header='X-Api-Key: k' h",
            "curl --header='X-Api-Key: ***' h",
        ),
        (
            "curl -u",
            "curl -u bob:hunter2 https://h/",
            "curl -u bob:*** https://h/",
        ),
        (
            "curl -uX",
            "curl -ubob:hunter2 https://h/",
            "curl -ubob:*** https://h/",
        ),
        (
            "curl --user=",
            "curl --user=bob:hunter2 h",
            "curl --user=bob:*** h",
        ),
        (
            "sh -c script",
            "sudo sh -c 'PGPASSWORD=x psql'",
            "sudo sh -c 'PGPASSWORD=*** psql'",
        ),
        (
            "ssh remote command",
            "ssh db1 \"mysql -pX -e 'select 1'\"",
            "ssh db1 \"mysql -p*** -e 'select 1'\"",
        ),
        (
            "two commands",
            "mysql -pX; ssh -p2222 h",
            "mysql -p***; ssh -p2222 h",
        ),
        (
            "unicode around",
            "echo é; TOKEN=ü€ x",
            "echo é; TOKEN=*** x",
        ),
        (
            "git extraheader",
            "git -c http.extraheader=\"Authorization: Basic eHk=\" clone u",
            "git -c http.extraheader=\"Authorization: Basic ***\" clone u",
        ),
        (
            "ansible extra var",
            "ansible all -e ansible_password=x -m ping",
            "ansible all -e ansible_password=*** -m ping",
        ),
        (
            "quoted url",
            "psql \"postgresql://app:pw@db:5432/app\"",
            "psql \"postgresql://app:***@db:5432/app\"",
        ),
        (
            "curl --user value",
            "curl --user bob:pw https://h/",
            "curl --user bob:*** https://h/",
        ),
        (
            "redis-cli -a",
            "redis-cli -h cache -a hunter2 ping",
            "redis-cli -h cache -a *** ping",
        ),
        (
            "redis-cli -aX",
            "redis-cli -ahunter2 --no-auth-warning info",
            "redis-cli -a*** --no-auth-warning info",
        ),
        (
            "redis-cli --pass",
            "redis-cli --pass hunter2 ping",
            "redis-cli --pass *** ping",
        ),
        (
            "docker login -p",
            "docker login -u bob -p hunter2 registry.example.com",
            "docker login -u bob -p *** registry.example.com",
        ),
        (
            "podman login -p",
            "sudo podman login -p hunter2 -u bob quay.io",
            "sudo podman login -p *** -u bob quay.io",
        ),
        (
            "helm registry login --password",
            "helm registry login r.example.com -u bob --password hunter2",
            "helm registry login r.example.com -u bob --password ***",
        ),
        (
            "mongo -p",
            "mongo -u admin -p hunter2 --authenticationDatabase admin",
            "mongo -u admin -p *** --authenticationDatabase admin",
        ),
        (
            "mongosh --password",
            "mongosh --username admin --password hunter2 db1",
            "mongosh --username admin --password *** db1",
        ),
        (
            "mongosh -p",
            "mongosh mongodb://db1 -u admin -p hunter2",
            "mongosh mongodb://db1 -u admin -p ***",
        ),
        (
            "_PASS assignment",
            "SMTP_PASS=hunter2 ./send",
            "SMTP_PASS=*** ./send",
        ),
        (
            "export _PASS",
            "export DB_PASS='hunter 2'",
            "export DB_PASS=***",
        ),
        (
            "_PASSWORD assignment",
            "REDIS_PASSWORD=hunter2 redis-cli",
            "REDIS_PASSWORD=*** redis-cli",
        ),
        (
            "_TOKEN assignment",
            "VAULT_TOKEN=s.abc vault status",
            "VAULT_TOKEN=*** vault status",
        ),
        (
            "_SECRET assignment",
            "CLIENT_SECRET=xyz ./oauth",
            "CLIENT_SECRET=*** ./oauth",
        ),
        (
            "_KEY assignment",
            "export STRIPE_KEY=sk_live_abc",
            "export STRIPE_KEY=***",
        ),
        (
            "env with _PASS",
            "env -i SMTP_PASS=x ./send",
            "env -i SMTP_PASS=*** ./send",
        ),
        (
            "vault login token",
            "vault login s.1a2b3c4d",
            "vault login ***",
        ),
        (
            "vault login after options",
            "vault login -no-print s.1a2b3c4d",
            "vault login -no-print ***",
        ),
        (
            "vault login userpass",
            "vault login -method=userpass username=bob password=hunter2",
            "vault login -method=userpass username=bob password=***",
        ),
        (
            "curl --oauth2-bearer",
            "curl --oauth2-bearer abc.def https://h/",
            "curl --oauth2-bearer *** https://h/",
        ),
        (
            "curl --oauth2-bearer=",
            "curl --oauth2-bearer=abc https://h/",
            "curl --oauth2-bearer=*** https://h/",
        ),
        (
            "curl -U proxy user",
            "curl -U bob:hunter2 -x proxy:3128 https://h/",
            "curl -U bob:*** -x proxy:3128 https://h/",
        ),
        (
            "curl --proxy-user",
            "curl --proxy-user bob:hunter2 https://h/",
            "curl --proxy-user bob:*** https://h/",
        ),
        (
            "mysql --password value",
            "mysql --password hunter2 -e 'select 1'",
            "mysql --password *** -e 'select 1'",
        ),
        (
            "htpasswd -b",
            "htpasswd -b /etc/nginx/htpasswd bob hunter2",
            "htpasswd -b /etc/nginx/htpasswd bob ***",
        ),
        (
            "htpasswd -cb",
            "sudo htpasswd -cbB .htpasswd bob hunter2",
            "sudo htpasswd -cbB .htpasswd bob ***",
        ),
        (
            "htpasswd -nb",
            "htpasswd -nb bob hunter2",
            "htpasswd -nb bob ***",
        ),
        (
            "authorization bearer double quotes",
            "curl -H \"Authorization: Bearer abc.def\" https://h/",
            "curl -H \"Authorization: Bearer ***\" https://h/",
        ),
        (
            "wget header",
            "wget --header='Authorization: Bearer abc' https://h/f",
            "wget --header='Authorization: Bearer ***' https://h/f",
        ),
        (
            "url ftp",
            "lftp ftp://bob:hunter2@ftp.example.com/",
            "lftp ftp://bob:***@ftp.example.com/",
        ),
        (
            "url mongodb",
            "mongosh 'mongodb://admin:hunter2@db1:27017/app'",
            "mongosh 'mongodb://admin:***@db1:27017/app'",
        ),
        (
            "aws access key id anywhere",
            "echo AKIAIOSFODNN7EXAMPLE >> notes",
            "echo AKIA*** >> notes",
        ),
        (
            "aws temporary key id",
            "aws configure set aws_access_key_id ASIAY34FZKBOKMUTVV7A",
            "aws configure set aws_access_key_id ASIA***",
        ),
        (
            "github classic token",
            "gh auth login --with-token <<< ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "gh auth login --with-token <<< ghp_***",
        ),
        (
            "github oauth token in a header",
            "curl -H 'X-Note: gho_0123456789abcdefghijABCDEFGHIJ012345' h",
            "curl -H 'X-Note: gho_***' h",
        ),
        (
            "github app token",
            "git push https://github.com/o/r ghs_0123456789abcdefghijABCDEFGHIJ012345",
            "git push https://github.com/o/r ghs_***",
        ),
        (
            "github fine-grained token",
            "echo github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "echo github_pat_***",
        ),
        (
            "gitlab token",
            "glab auth login --token glpat-abcdefghij0123456789",
            "glab auth login --token ***",
        ),
        (
            "gitlab token as an argument",
            "./deploy glpat-abcdefghij0123456789 prod",
            "./deploy glpat-*** prod",
        ),
        (
            "slack bot token",
            "./notify xoxb-123456789012-abcdefghijkl",
            "./notify xoxb-***",
        ),
        (
            "slack user token in json",
            "curl -d '{\"token\":\"xoxp-1234567890-abcdefg\"}' https://slack.com/api",
            "curl -d '{\"token\":\"xoxp-***\"}' https://slack.com/api",
        ),
        (
            "jwt anywhere",
            "./call eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "./call eyJ***",
        ),
    ];

    /// Lines that must come back unchanged.
    const UNCHANGED: &[(&str, &str)] = &[
        ("ssh port", "ssh -p 2222 host"),
        ("ssh port attached", "ssh -p2222 host"),
        ("grep -p", "grep -p pattern file"),
        ("ps -p", "ps -p 1234"),
        ("tar -xpf", "tar -xpf backup.tar"),
        ("mysql prompts", "mysql -u root -p prod"),
        ("keyboard", "setxkbmap keyboard=us"),
        ("monkey", "MONKEY=1 ./run"),
        (
            "authorized keys",
            "AUTHORIZED_KEYS=/root/.ssh/authorized_keys x",
        ),
        ("PWD", "PWD=/root OLDPWD=/tmp ls"),
        ("sort --key", "sort --key=2,2 f"),
        (
            "password-stdin",
            "docker login --password-stdin -u bob registry",
        ),
        ("password-file", "tool --password-file=/etc/pw"),
        ("url user only", "git clone ssh://git@host/repo"),
        ("url no userinfo", "curl https://host:8443/path?x=1"),
        ("docker user", "docker run --user 1000:1000 img"),
        (
            "already masked",
            "mysql -p*** --password=*** https://bob:***@h/",
        ),
        ("empty assignment", "PASSWORD= ./run"),
        ("plain", "apt-get upgrade -y && reboot"),
        ("unclosed quote", "echo 'unterminated --password"),
        ("backslash at end", "echo \\"),
        ("ls -a", "ls -a /etc"),
        ("ls -la", "ls -la /var/log"),
        ("docker run -p", "docker run -p 8080:80 nginx"),
        ("docker -p outside login", "docker compose -p proj up -d"),
        ("redis-cli -p port", "redis-cli -p 6380 ping"),
        ("mongo port", "mongosh --port 27018 db1"),
        ("a token file", "echo $TOKEN_FILE"),
        (
            "token file assignment",
            "TOKEN_FILE=/run/secrets/token ./app",
        ),
        (
            "key path assignment",
            "SSH_KEY_PATH=~/.ssh/id_ed25519 ./deploy",
        ),
        ("password file variable", "export PASSWORD_FILE=/etc/pw"),
        ("bypass", "BYPASS=1 ./run"),
        ("vault read", "vault read secret/data/app"),
        ("vault status", "vault status -address=https://v:8200"),
        ("htpasswd without -b", "htpasswd /etc/nginx/htpasswd bob"),
        ("htpasswd delete", "htpasswd -D /etc/nginx/htpasswd bob"),
        ("curl -U without password", "curl -U bob https://h/"),
        ("akia too short", "echo AKIA1234"),
        ("ghp too short", "echo ghp_abc"),
        ("eyJ not a jwt", "echo eyJhbGciOi"),
        ("grep for a key word", "grep -ri password /etc/app.conf"),
        (
            "a git sha",
            "git show 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        ),
    ];

    #[test]
    fn the_tables_are_big_enough() {
        assert!(REDACTED.len() >= 80, "{}", REDACTED.len());
        assert!(UNCHANGED.len() >= 40, "{}", UNCHANGED.len());
    }

    #[test]
    fn redacts_each_form() {
        for (name, line, want) in REDACTED {
            assert_eq!(redact(line), *want, "case {name:?}: {line}");
        }
    }

    #[test]
    fn leaves_harmless_lines_alone() {
        for (name, line) in UNCHANGED {
            assert_eq!(redact(line), *line, "case {name:?}");
        }
    }

    #[test]
    fn redaction_is_idempotent() {
        for (name, line, _) in REDACTED {
            let once = redact(line);
            assert_eq!(redact(&once), once, "case {name:?}");
        }
    }

    #[test]
    fn argv_forms() {
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["mysql", "-uroot", "-phunter2"],
                &["mysql", "-uroot", "-p***"],
            ),
            (
                &["curl", "-H", "Authorization: Bearer abc", "h"],
                &["curl", "-H", "Authorization: Bearer ***", "h"],
            ),
            (
                &["tool", "--password", "a b"],
                &["tool", "--password", "***"],
            ),
            (
                &["env", "API_TOKEN=x y", "run"],
                &["env", "API_TOKEN=***", "run"],
            ),
            (
                &["sh", "-c", "PGPASSWORD=x psql"],
                &["sh", "-c", "PGPASSWORD=*** psql"],
            ),
            (
                &["ssh", "-p", "2222", "host"],
                &["ssh", "-p", "2222", "host"],
            ),
            (
                &["redis-cli", "-a", "hunter2", "ping"],
                &["redis-cli", "-a", "***", "ping"],
            ),
            (
                &["docker", "login", "-p", "hunter2", "r"],
                &["docker", "login", "-p", "***", "r"],
            ),
            (&["vault", "login", "s.abc"], &["vault", "login", "***"]),
            (
                &["htpasswd", "-b", "f", "bob", "hunter2"],
                &["htpasswd", "-b", "f", "bob", "***"],
            ),
            (&["echo", "AKIAIOSFODNN7EXAMPLE"], &["echo", "AKIA***"]),
            (&["ls", "-a"], &["ls", "-a"]),
            (&["echo", "it's", "fine"], &["echo", "it's", "fine"]),
        ];
        for (input, want) in cases {
            assert_eq!(redact_argv(&argv(input)), argv(want), "{input:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_handled(text in "([ -~]|[;|&()\\n'\"\\\\=:@?/-]|é|€){0,80}") {
            let once = redact(&text);
            let words: Vec<String> = text.split(' ').map(str::to_string).collect();
            let _ = redact_argv(&words);
            // Whatever was masked stays masked.
            proptest::prop_assert!(once.matches(MASK).count() <= redact(&once).matches(MASK).count());
        }
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "",
            "'",
            "\"",
            "\\",
            "--password",
            "-p",
            "=",
            "a=",
            "://@",
            "?=",
            "&token=",
            "x://a:@b",
            "é\\é'é\"é",
        ] {
            let _ = redact(text);
            let _ = redact_argv(&[text.to_string(), text.to_string()]);
        }
    }
}
