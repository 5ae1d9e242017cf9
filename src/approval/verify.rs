//! Checking an approval: is this SSH signature a second operator's
//! approval of *this* line, on *this* host, by *this* user, now?
//!
//! Pure: the pasted text, the request this run would make, the time and
//! the allowed signers come in; a [`Verified`] or the reason for refusing
//! goes out, as a sentence for the operator. Single use is the ledger's
//! (`state`), done after this says yes. The order of the checks is the
//! order of the messages an operator can act on: what the approval is
//! for (line, host, user, expiry) before who signed it.

use jiff::Timestamp;
use ssh_key::{HashAlg, SshSig};

use super::signers::Signer;
use super::{ApprovalRequest, NAMESPACE, Pasted, SKEW};

/// An approval that holds: the request it approves, who signed it, and
/// with which key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub request: ApprovalRequest,
    /// The signer's principals, as listed in `allowed_signers`.
    pub approver: String,
    /// The key's fingerprint, `SHA256:…`.
    pub key: String,
}

/// Checks `pasted` against `wanted`, the request this run makes (its
/// line, host and user; its expiry is used when the paste carries no
/// request of its own). `max_ttl` bounds how far in the future an expiry
/// may be.
pub fn verify(
    pasted: &Pasted,
    wanted: &ApprovalRequest,
    now: Timestamp,
    max_ttl: std::time::Duration,
    signers: &[Signer],
) -> Result<Verified, String> {
    let request = pasted.request.clone().unwrap_or_else(|| wanted.clone());
    if request.line != wanted.line {
        return Err(format!(
            "it approves another line ({:?}), not this one",
            request.line
        ));
    }
    if request.host != wanted.host {
        return Err(format!(
            "it approves a line on another host ({}), not {}",
            request.host, wanted.host
        ));
    }
    if request.user != wanted.user {
        return Err(format!(
            "it approves a request by another user ({}), not {}",
            request.user, wanted.user
        ));
    }
    if request.expires <= now {
        return Err(format!(
            "it expired at {} (now {now}): ask for a new approval (check both hosts' clocks if this is unexpected)",
            request.expires
        ));
    }
    let limit = std::time::Duration::from_secs((max_ttl + SKEW).as_secs());
    if request.expires.duration_since(now).unsigned_abs() > limit {
        return Err(format!(
            "it is valid until {}, longer than this site allows ({} minutes): ask for a new request",
            request.expires,
            max_ttl.as_secs() / 60
        ));
    }
    let sig = SshSig::from_pem(pasted.armored.as_bytes())
        .map_err(|e| format!("the signature cannot be read ({e}): paste it whole"))?;
    if sig.namespace() != NAMESPACE {
        return Err(format!(
            "the signature was made for `{}`, not for a safe-run approval (sign with -n {NAMESPACE})",
            sig.namespace()
        ));
    }
    let key_data = sig.public_key();
    let fingerprint = key_data.fingerprint(HashAlg::Sha256).to_string();
    let listed: Vec<&Signer> = signers
        .iter()
        .filter(|s| s.key.key_data() == key_data)
        .collect();
    if listed.is_empty() {
        return Err(format!(
            "it is signed by a key that is not in allowed_signers ({fingerprint})"
        ));
    }
    // The requester's own key, under any name, never approves.
    if let Some(s) = listed.iter().find(|s| s.names(&request.user)) {
        return Err(format!(
            "it is signed by the requester's own key ({fingerprint}, allowed_signers line {}): approval needs a second person",
            s.line
        ));
    }
    let usable: Vec<&&Signer> = listed.iter().filter(|s| s.allows(NAMESPACE, now)).collect();
    let Some(signer) = usable.first() else {
        return Err(format!(
            "the key {fingerprint} is listed in allowed_signers, but not for {NAMESPACE} at this time (namespaces, valid-after, valid-before)"
        ));
    };
    if !signer.named_plainly() {
        return Err(format!(
            "the key {fingerprint} is listed under a pattern (allowed_signers line {}): an approver must be named",
            signer.line
        ));
    }
    signer
        .key
        .verify(NAMESPACE, request.text().as_bytes(), &sig)
        .map_err(|_| {
            format!(
                "the signature does not match this request (code {}): it was made for another line, host, user or expiry",
                request.code()
            )
        })?;
    Ok(Verified {
        approver: signer.principals.join(","),
        key: fingerprint,
        request,
    })
}
