//! Two-person approval: which lines need a second operator's approval,
//! the request that stands for one line on one host by one user until an
//! expiry, its short code, and the approval as it is pasted back
//! (docs/APPROVALS.md).
//!
//! The request's canonical text is what the approver signs with
//! `ssh-keygen -Y sign -n safe-run-approval` (the SSHSIG format); its code
//! is a short base32 of the text's SHA-256, for people to read out; its
//! token (`sr1.` and the text in base64url) carries it whole in one word
//! that survives a chat window and a shell. Checking an approval is
//! [`verify`]'s, against the [`signers`] of the `allowed_signers` file;
//! the ledger of used approvals and the local store of requests are
//! [`state`]'s, the edge.
//!
//! Pure but for [`state`]: the time, the host, the user and the files'
//! text come in as values. [`ApprovalStore`] is the seam where a fleet
//! store can publish requests and deliver approvals; the paste needs none.

use std::path::PathBuf;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::verdict::{Action, Risk, Verdict};

pub mod signers;
pub mod state;
pub mod verify;

/// The SSHSIG namespace of an approval: a signature made for anything
/// else (git commits, files) is never an approval.
pub const NAMESPACE: &str = "safe-run-approval";
/// Where the keys of the operators who may approve are listed by default.
pub const DEFAULT_SIGNERS: &str = "/etc/safe-run/allowed_signers";
/// How far past the configured lifetime an expiry may lie (clock skew
/// between the requester's host and this one).
pub const SKEW: Duration = Duration::from_secs(300);

const HEADER: &str = "safe-run approval request 1";
const TOKEN_PREFIX: &str = "sr1.";
const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const ARMOR_END: &str = "-----END SSH SIGNATURE-----";

/// `[approval]`: which lines need a second operator, and how approvals
/// are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalSettings {
    /// Lines of these risks need an approval.
    pub risks: Vec<Risk>,
    /// Lines a rule of these ids found something in need an approval.
    pub rules: Vec<String>,
    /// The `allowed_signers` file (ssh-keygen(1) ALLOWED SIGNERS).
    pub allowed_signers: PathBuf,
    /// How long a request stays valid.
    pub ttl: Duration,
    /// Where used approvals and pending requests are kept; `None`: beside
    /// the audit log.
    pub state_dir: Option<PathBuf>,
    /// An `[approval]` setting could not be read: every line that asks
    /// for a confirmation needs an approval (the strictest reading).
    pub unreadable: bool,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings {
            risks: Vec::new(),
            rules: Vec::new(),
            allowed_signers: PathBuf::from(DEFAULT_SIGNERS),
            ttl: Duration::from_secs(30 * 60),
            state_dir: None,
            unreadable: false,
        }
    }
}

/// Why this line needs a second operator's approval, or `None`.
pub fn needs(settings: &ApprovalSettings, verdict: &Verdict) -> Option<String> {
    if verdict.action == Action::Deny {
        return None;
    }
    if let Some(f) = verdict
        .findings
        .iter()
        .find(|f| settings.rules.contains(&f.rule))
    {
        return Some(format!("rule {}", f.rule));
    }
    if verdict.risk != Risk::None && settings.risks.contains(&verdict.risk) {
        return Some(format!("{} risk", verdict.risk));
    }
    if settings.unreadable && verdict.risk >= Risk::Medium {
        return Some("the [approval] settings cannot be read (strictest reading)".into());
    }
    None
}

/// Who asks for an approval: the one name requests and records carry, and
/// every name this person may go by on this host. The display name alone
/// is not enough to tell "never the requester": behind sudo without a
/// login uid it comes from `SUDO_USER`, which anyone may set, so the real
/// user and the login-uid user count as the requester too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requester {
    /// The name a request and its record carry.
    pub name: String,
    /// Every name that counts as the requester, `name` among them.
    pub names: Vec<String>,
}

impl Requester {
    /// The requester `name`, also known as each of `also` (empty and
    /// repeated names are dropped).
    pub fn new(name: &str, also: &[&str]) -> Requester {
        let mut names = vec![name.to_string()];
        for n in also {
            if !n.is_empty() && !names.iter().any(|m| m == n) {
                names.push((*n).to_string());
            }
        }
        Requester {
            name: name.to_string(),
            names,
        }
    }

    /// Whether the allowed_signers principal `principal` (a name or an
    /// ssh pattern) stands for the requester: it is, or matches, one of
    /// the names, or its local part (before `@`) does. `alice@example.com`
    /// is alice, whatever the domain. Compared without regard to ASCII
    /// case, since the principal's spelling is the file writer's and a
    /// wrong "not the requester" is the mistake that matters.
    pub fn is(&self, principal: &str) -> bool {
        let principal = principal.to_ascii_lowercase();
        let local = principal.split('@').next().unwrap_or(&principal);
        self.names.iter().any(|n| {
            let n = n.to_ascii_lowercase();
            signers::glob(&principal, &n) || signers::glob(local, &n)
        })
    }
}

/// A request for approval: this line, on this host, by this user, until
/// this time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRequest {
    pub host: String,
    pub user: String,
    pub line: String,
    pub expires: Timestamp,
}

impl ApprovalRequest {
    /// A request made at `now`, valid for `ttl` (to the second).
    pub fn new(host: &str, user: &str, line: &str, now: Timestamp, ttl: Duration) -> Self {
        let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let expires =
            Timestamp::from_second(now.as_second().saturating_add(secs)).unwrap_or(Timestamp::MAX);
        ApprovalRequest {
            host: host.to_string(),
            user: user.to_string(),
            line: line.to_string(),
            expires,
        }
    }

    /// The canonical text: what is signed, byte for byte. Every value is a
    /// JSON string, so no line, host or user can forge another field.
    pub fn text(&self) -> String {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
        format!(
            "{HEADER}\nhost {}\nuser {}\nexpires {}\nline {}\n",
            q(&self.host),
            q(&self.user),
            q(&self.expires.to_string()),
            q(&self.line)
        )
    }

    /// The SHA-256 of the text, in hex: the request's identity in the
    /// ledger of used approvals.
    pub fn id(&self) -> String {
        hex(&Sha256::digest(self.text().as_bytes()))
    }

    /// `K7QF2-MZD4T`: the first 50 bits of the text's SHA-256 in
    /// Crockford's base32 (no I, L, O or U to misread).
    pub fn code(&self) -> String {
        let digest = Sha256::digest(self.text().as_bytes());
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut bits: u64 = 0;
        for b in &digest[..8] {
            bits = (bits << 8) | u64::from(*b);
        }
        let mut code = String::new();
        for i in 0..10 {
            if i == 5 {
                code.push('-');
            }
            let index = (bits >> (64 - 5 * (i + 1))) & 31;
            code.push(char::from(ALPHABET[index as usize]));
        }
        code
    }

    /// The whole request in one word: `sr1.` and the text in base64url.
    pub fn token(&self) -> String {
        format!(
            "{TOKEN_PREFIX}{}",
            Base64UrlUnpadded::encode_string(self.text().as_bytes())
        )
    }

    /// Reads a token back.
    pub fn from_token(token: &str) -> Result<ApprovalRequest, String> {
        let body = token
            .trim()
            .strip_prefix(TOKEN_PREFIX)
            .ok_or_else(|| "a request token starts with `sr1.`".to_string())?;
        let bytes = Base64UrlUnpadded::decode_vec(body).map_err(|_| {
            "the request token is damaged (not base64url): copy it whole".to_string()
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| "the request token is damaged (not text)".to_string())?;
        ApprovalRequest::from_text(&text)
    }

    /// Reads a canonical text back; anything else is refused.
    pub fn from_text(text: &str) -> Result<ApprovalRequest, String> {
        let damaged =
            || "the request token is damaged (not a safe-run request): copy it whole".to_string();
        let mut lines = text.strip_suffix('\n').ok_or_else(damaged)?.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(damaged());
        }
        let mut field = |key: &str| -> Result<String, String> {
            let line = lines.next().ok_or_else(damaged)?;
            let value = line
                .strip_prefix(key)
                .and_then(|v| v.strip_prefix(' '))
                .ok_or_else(damaged)?;
            serde_json::from_str::<String>(value).map_err(|_| damaged())
        };
        let host = field("host")?;
        let user = field("user")?;
        let expires = field("expires")?
            .parse::<Timestamp>()
            .map_err(|_| damaged())?;
        let line = field("line")?;
        if lines.next().is_some() {
            return Err(damaged());
        }
        let request = ApprovalRequest {
            host,
            user,
            line,
            expires,
        };
        // Only the canonical form: one text, one signature.
        if request.text() != text {
            return Err(damaged());
        }
        Ok(request)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An approval as pasted or given in a file: the request token when the
/// approver's output carried one, and the armored SSH signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pasted {
    pub request: Option<ApprovalRequest>,
    pub armored: String,
}

impl Pasted {
    /// Reads what `safe-run approve` printed (or a bare signature): the
    /// token line, if any, and the lines from `-----BEGIN SSH
    /// SIGNATURE-----` to `-----END SSH SIGNATURE-----`. Anything around
    /// them (a chat client's name, blank lines) is ignored.
    pub fn parse(text: &str) -> Result<Pasted, String> {
        let mut request = None;
        let mut armor: Option<Vec<&str>> = None;
        let mut done = false;
        for line in text.lines().map(str::trim) {
            if done {
                continue;
            }
            if let Some(lines) = armor.as_mut() {
                lines.push(line);
                if line == ARMOR_END {
                    done = true;
                }
                continue;
            }
            if line == ARMOR_BEGIN {
                armor = Some(vec![line]);
            } else if line.starts_with(TOKEN_PREFIX) {
                request = Some(ApprovalRequest::from_token(line)?);
            }
        }
        match armor {
            Some(lines) if done => Ok(Pasted {
                request,
                armored: lines.join("\n") + "\n",
            }),
            Some(_) => Err(format!(
                "the signature is cut off: it must end with {ARMOR_END}"
            )),
            None => Err(format!(
                "no SSH signature found: an approval is the lines from {ARMOR_BEGIN} to {ARMOR_END} that `safe-run approve` printed"
            )),
        }
    }

    /// Whether a pasted line ends the approval.
    pub fn is_last_line(line: &str) -> bool {
        line.trim() == ARMOR_END
    }
}

/// Where requests can be published for approvers and approvals can be
/// delivered, besides the paste: the local state directory on one host
/// ([`state::LocalStore`]), a fleet store later. Publishing is a
/// convenience (`safe-run approve CODE` on the same host); nothing
/// depends on it, so its errors are only warnings.
pub trait ApprovalStore {
    /// Makes the request findable by its code.
    fn publish(&mut self, request: &ApprovalRequest) -> Result<(), String>;
    /// The request with this code, if this store has it.
    fn find(&mut self, code: &str) -> Option<ApprovalRequest>;
    /// An approval delivered for this request (the text `approve`
    /// prints), if the store has one. The local store has none: on one
    /// host the approval is pasted.
    fn delivered(&mut self, _request: &ApprovalRequest) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Finding;

    fn request() -> ApprovalRequest {
        ApprovalRequest::new(
            "core-1.example.com",
            "alice",
            "sudo pki rotate-ca --all",
            "2026-11-21T23:11:07.5Z".parse().unwrap(),
            Duration::from_secs(1800),
        )
    }

    #[test]
    fn a_request_reads_back_from_its_token_and_its_code_is_short_and_stable() {
        let r = request();
        assert_eq!(r.expires.to_string(), "2026-11-21T23:41:07Z");
        assert_eq!(ApprovalRequest::from_token(&r.token()).unwrap(), r);
        let code = r.code();
        assert_eq!(code.len(), 11);
        assert_eq!(code.as_bytes()[5], b'-');
        assert_eq!(code, request().code());
        let other = ApprovalRequest {
            host: "core-2.example.com".into(),
            ..r.clone()
        };
        assert_ne!(other.code(), code);
        assert!(r.text().contains("line \"sudo pki rotate-ca --all\"\n"));
    }

    #[test]
    fn a_line_cannot_forge_another_field_and_a_damaged_token_is_refused() {
        let r = ApprovalRequest {
            line: "ls\nuser \"bob\"".into(),
            ..request()
        };
        let back = ApprovalRequest::from_token(&r.token()).unwrap();
        assert_eq!(back.user, "alice");
        assert_eq!(back.line, "ls\nuser \"bob\"");
        let token = request().token();
        for bad in [
            "sr2.abc".to_string(),
            format!("{}x", &token[..token.len() - 3]),
            "sr1.!!!".into(),
            format!("sr1.{}", Base64UrlUnpadded::encode_string(b"hello\n")),
        ] {
            assert!(ApprovalRequest::from_token(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_paste_is_found_among_other_text() {
        let r = request();
        let text = format!(
            "bob: here you go\n{}\n-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\nAAAA\n-----END SSH SIGNATURE-----\nthanks\n",
            r.token()
        );
        let p = Pasted::parse(&text).unwrap();
        assert_eq!(p.request, Some(r));
        assert!(
            p.armored
                .starts_with("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n")
        );
        assert!(p.armored.ends_with("-----END SSH SIGNATURE-----\n"));
        assert!(Pasted::parse("-----BEGIN SSH SIGNATURE-----\nAAAA\n").is_err());
        assert!(Pasted::parse("yes").is_err());
    }

    #[test]
    fn lines_need_an_approval_by_rule_or_risk_never_when_denied() {
        let settings = ApprovalSettings {
            risks: vec![Risk::Critical],
            rules: vec!["pki-ca-rotate".into()],
            ..ApprovalSettings::default()
        };
        let finding = |rule: &str, risk: Risk| Finding {
            rule: rule.into(),
            risk,
            action: Action::for_risk(risk),
            command: Vec::new(),
            span: Default::default(),
            why: String::new(),
            instead: String::new(),
            preview: None,
            target: crate::command::Target::Local,
        };
        let v = |findings: Vec<Finding>, risk: Risk, action: Action| Verdict {
            action,
            risk,
            findings,
        };
        assert_eq!(
            needs(
                &settings,
                &v(
                    vec![finding("pki-ca-rotate", Risk::High)],
                    Risk::High,
                    Action::Confirm
                )
            ),
            Some("rule pki-ca-rotate".into())
        );
        assert_eq!(
            needs(&settings, &v(vec![], Risk::Critical, Action::Confirm)),
            Some("critical risk".into())
        );
        assert_eq!(
            needs(&settings, &v(vec![], Risk::High, Action::Confirm)),
            None
        );
        assert_eq!(
            needs(&settings, &v(vec![], Risk::Critical, Action::Deny)),
            None
        );
    }
}

/// A signing key and approvals made with it, for tests only.
#[cfg(test)]
pub(crate) mod testing {
    use ssh_key::{HashAlg, LineEnding, PrivateKey, SshSig};

    use super::{ApprovalRequest, NAMESPACE};

    /// A key made for tests only (`ssh-keygen -t ed25519 -N ''`).
    pub const PRIVATE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACDAzFSYv+SP1HMg2/D/jpRlN8DRqgLpmTQ+i+hd8KMT2QAAAIgs92mZLPdp
mQAAAAtzc2gtZWQyNTUxOQAAACDAzFSYv+SP1HMg2/D/jpRlN8DRqgLpmTQ+i+hd8KMT2Q
AAAECxI/lgM7Xz1xdXefJxCjPfkDoxS+pG6GYcFBUU8Nw2/MDMVJi/5I/UcyDb8P+OlGU3
wNGqAumZND6L6F3woxPZAAAABHRlc3QB
-----END OPENSSH PRIVATE KEY-----
";
    pub const PUBLIC: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMDMVJi/5I/UcyDb8P+OlGU3wNGqAumZND6L6F3woxPZ test";

    /// What `safe-run approve` prints for `request`, signed with
    /// [`PRIVATE`]: the request's token and the armored signature.
    pub fn approval_text(request: &ApprovalRequest) -> String {
        let key = PrivateKey::from_openssh(PRIVATE).expect("the test key");
        let sig = SshSig::sign(&key, NAMESPACE, HashAlg::Sha512, request.text().as_bytes())
            .expect("a signature");
        format!(
            "{}\n{}",
            request.token(),
            sig.to_pem(LineEnding::LF).expect("armor")
        )
    }
}
