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
use super::{ApprovalRequest, NAMESPACE, Pasted, Requester, SKEW};

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
/// may be. `requester`: every name of the person asking; a key listed
/// under any of them, on any line of the file, never approves.
pub fn verify(
    pasted: &Pasted,
    wanted: &ApprovalRequest,
    now: Timestamp,
    max_ttl: std::time::Duration,
    signers: &[Signer],
    requester: &Requester,
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
    // The requester's own key, under any name, never approves: every line
    // that lists this key is looked at, and a principal stands for the
    // requester by any of their names or by its local part
    // (`alice@example.com` is alice).
    if let Some(s) = listed.iter().find(|s| s.names(requester)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::signers;
    use ssh_key::{LineEnding, PrivateKey};
    use std::time::Duration;

    use crate::approval::testing::{PRIVATE, PUBLIC};
    const TTL: Duration = Duration::from_secs(1800);

    fn now() -> Timestamp {
        "2026-11-21T12:00:00Z".parse().unwrap()
    }

    fn request() -> ApprovalRequest {
        ApprovalRequest::new("core-1", "alice", "reboot", now(), TTL)
    }

    fn signed(request: &ApprovalRequest, namespace: &str) -> Pasted {
        let key = PrivateKey::from_openssh(PRIVATE).unwrap();
        let sig =
            SshSig::sign(&key, namespace, HashAlg::Sha512, request.text().as_bytes()).unwrap();
        Pasted {
            request: Some(request.clone()),
            armored: sig.to_pem(LineEnding::LF).unwrap(),
        }
    }

    fn check(pasted: &Pasted, signers_text: &str) -> Result<Verified, String> {
        let (signers, problems) = signers::parse(signers_text);
        assert!(problems.is_empty(), "{problems:?}");
        verify(pasted, &request(), now(), TTL, &signers, &alice())
    }

    fn alice() -> Requester {
        Requester::new("alice", &[])
    }

    #[test]
    fn a_signature_by_a_listed_second_person_holds() {
        let v = check(&signed(&request(), NAMESPACE), &format!("bob {PUBLIC}")).unwrap();
        assert_eq!(v.approver, "bob");
        assert!(v.key.starts_with("SHA256:"), "{}", v.key);
    }

    #[test]
    fn each_way_of_not_being_an_approval_is_refused_with_its_reason() {
        let good = signed(&request(), NAMESPACE);
        let bob = format!("bob {PUBLIC}");
        for (pasted, signers, says) in [
            (signed(&request(), "git"), bob.clone(), "made for `git`"),
            (
                good.clone(),
                format!("alice,bob {PUBLIC}"),
                "requester's own key",
            ),
            (
                good.clone(),
                format!("b*@example.com {PUBLIC}"),
                "under a pattern",
            ),
            (
                good.clone(),
                format!("bob namespaces=\"file\" {PUBLIC}"),
                "not for safe-run-approval",
            ),
            (
                good.clone(),
                format!("bob valid-before=\"20260101\" {PUBLIC}"),
                "at this time",
            ),
            (good.clone(), String::new(), "not in allowed_signers"),
            // The requester's key under an address, quoted, in another
            // case, or on another line than the one that would approve.
            (
                good.clone(),
                format!("alice@example.com {PUBLIC}"),
                "requester's own key",
            ),
            (
                good.clone(),
                format!("\"alice,bob\" {PUBLIC}"),
                "requester's own key",
            ),
            (
                good.clone(),
                format!("Alice@Example.COM {PUBLIC}"),
                "requester's own key",
            ),
            (
                good.clone(),
                format!("bob {PUBLIC}\nalice@example.com {PUBLIC}"),
                "requester's own key",
            ),
            (
                signed(
                    &ApprovalRequest::new("core-1", "alice", "reboot", now(), TTL * 10),
                    NAMESPACE,
                ),
                bob.clone(),
                "longer than this site allows",
            ),
            (
                Pasted {
                    request: None,
                    ..signed(
                        &ApprovalRequest::new("core-1", "alice", "reboot", now(), TTL / 2),
                        NAMESPACE,
                    )
                },
                bob.clone(),
                "does not match this request",
            ),
        ] {
            let e = check(&pasted, &signers).expect_err(says);
            assert!(e.contains(says), "want {says:?}: {e}");
        }
    }

    #[test]
    fn every_name_of_the_requester_counts_not_only_the_one_shown() {
        // Shown as bob (a SUDO_USER anyone may set), but the real user is
        // alice: alice's key, under her address, is still hers.
        let (signers, problems) = signers::parse(&format!("alice@example.com {PUBLIC}"));
        assert!(problems.is_empty(), "{problems:?}");
        let asked = ApprovalRequest::new("core-1", "bob", "reboot", now(), TTL);
        let spoofed = Requester::new("bob", &["alice", "bob"]);
        let e = verify(
            &signed(&asked, NAMESPACE),
            &asked,
            now(),
            TTL,
            &signers,
            &spoofed,
        )
        .expect_err("alice's own key");
        assert!(e.contains("requester's own key"), "{e}");
        // The same key approves a request by someone who is not alice.
        let carol = ApprovalRequest::new("core-1", "carol", "reboot", now(), TTL);
        let v = verify(
            &signed(&carol, NAMESPACE),
            &carol,
            now(),
            TTL,
            &signers,
            &Requester::new("carol", &["carol"]),
        )
        .expect("a second person");
        assert_eq!(v.approver, "alice@example.com");
    }
}
