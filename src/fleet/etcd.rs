//! The etcd store: fleet slots in an etcd v3 cluster, for a fleet. Spoken
//! through etcd's JSON gateway (`/v3/lease/grant`, `/v3/kv/range`,
//! `/v3/kv/txn`, …) with the small client of [`super::http`].
//!
//! A hold is the key `PREFIX/GROUP/HOST` (the holder as JSON), attached to
//! a lease:
//!
//! - **Taking** reads each group's keys (a range over `PREFIX/GROUP/`) and
//!   the revision it was read at; when every group has room, one
//!   transaction writes this host's key in every group, guarded by "no key
//!   of the group's range was written since that revision" (a compare on
//!   the range's `MOD` revision). Two hosts racing for the last slot
//!   cannot both win: the second transaction fails, re-reads and sees the
//!   group full. A removal in between only makes the count cautious.
//! - **Expiry**: a change's lease lives `fleet.ttl_secs` and is renewed
//!   by a thread while the command runs; a holder that crashes or is cut
//!   off stops renewing, and etcd drops its keys when the lease runs out.
//!   A reboot's lease lives `fleet.reboot_ttl_secs` without renewal, since
//!   the holder is gone during the boot; the host releases it when it is
//!   back, or it expires.
//! - Every call is bounded by `fleet.wait_secs`, all endpoints together.
//!   A take that fails after its lease was granted revokes the lease with
//!   a wait of its own (so a failed take costs at most twice the wait):
//!   the transaction may have written the keys even when its answer came
//!   too late.
//!   Time is etcd's: the holders' clocks only label `since`.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fleet::http::{Endpoint, base64, post_json, unbase64};
use crate::fleet::{Holder, Renewal, Store, Taken};

/// A connection to an etcd cluster (nothing is opened until a call).
pub struct EtcdStore {
    endpoints: Vec<Endpoint>,
    prefix: String,
    wait: Duration,
    ttl: Duration,
    reboot_ttl: Duration,
}

impl EtcdStore {
    /// `endpoints` are checked when the configuration is read; one that
    /// does not parse here is left out.
    pub fn new(
        endpoints: &[String],
        prefix: &str,
        wait: Duration,
        ttl: Duration,
        reboot_ttl: Duration,
    ) -> EtcdStore {
        EtcdStore {
            endpoints: endpoints
                .iter()
                .filter_map(|e| Endpoint::parse(e).ok())
                .collect(),
            prefix: prefix.trim_end_matches('/').to_string(),
            wait,
            ttl,
            reboot_ttl,
        }
    }

    fn group_prefix(&self, group: &str) -> String {
        format!("{}/{group}/", self.prefix)
    }

    fn key(&self, group: &str, host: &str) -> String {
        format!("{}/{group}/{host}", self.prefix)
    }

    /// One call, to the first endpoint that answers.
    fn call(&self, path: &str, body: &Value, deadline: Instant) -> Result<Value, String> {
        call(&self.endpoints, path, body, deadline)
    }

    fn grant(&self, ttl: Duration, deadline: Instant) -> Result<String, String> {
        let answer = self.call("/v3/lease/grant", &json!({"TTL": ttl.as_secs()}), deadline)?;
        answer["ID"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("etcd granted no lease: {answer}"))
    }

    fn revoke(&self, lease: &str, deadline: Instant) -> Result<(), String> {
        self.call("/v3/lease/revoke", &json!({"ID": lease}), deadline)
            .map(drop)
    }

    /// A take that failed after its lease was granted gives the lease back,
    /// with time of its own: the take's deadline may be spent (an answer
    /// that came late), and keys left under a reboot's lease would hold
    /// the slot for `reboot_ttl` with nobody to release it. Returns `error`
    /// saying whether the lease was revoked.
    fn abandon(&self, lease: &str, error: String) -> String {
        match self.revoke(lease, Instant::now() + self.wait) {
            Ok(()) => format!("{error} (the lease taken for it, {lease}, was revoked)"),
            Err(e) => format!(
                "{error}; the lease taken for it, {lease}, could not be revoked either ({e}): its slot may stay held until the lease expires, or `safe-run release`"
            ),
        }
    }

    /// The holders of `group` and the revision they were read at.
    fn holders(&self, group: &str, deadline: Instant) -> Result<(Vec<Holder>, u64), String> {
        let prefix = self.group_prefix(group);
        let answer = self.call(
            "/v3/kv/range",
            &json!({"key": base64(prefix.as_bytes()), "range_end": base64(&range_end(&prefix))}),
            deadline,
        )?;
        let revision = answer["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| format!("etcd's answer has no revision: {answer}"))?;
        let mut holders = Vec::new();
        for kv in answer["kvs"].as_array().into_iter().flatten() {
            let value = kv["value"].as_str().and_then(unbase64).unwrap_or_default();
            // A value that is not a holder still holds a slot: fail closed.
            let holder = serde_json::from_slice::<Holder>(&value).unwrap_or_else(|_| {
                let key = kv["key"].as_str().and_then(unbase64).unwrap_or_default();
                Holder {
                    host: String::from_utf8_lossy(&key)
                        .rsplit('/')
                        .next()
                        .unwrap_or("?")
                        .to_string(),
                    reason: "(a value safe-run cannot read)".into(),
                    ..Holder::default()
                }
            });
            holders.push(holder);
        }
        Ok((holders, revision))
    }
}

/// The end of the range of every key starting with `prefix`.
fn range_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

fn call(
    endpoints: &[Endpoint],
    path: &str,
    body: &Value,
    deadline: Instant,
) -> Result<Value, String> {
    if endpoints.is_empty() {
        return Err("no etcd endpoint is configured (fleet.endpoints)".into());
    }
    let body = body.to_string();
    let mut errors = Vec::new();
    for endpoint in endpoints {
        match post_json(endpoint, path, &body, deadline) {
            Ok(text) => {
                return serde_json::from_str(&text)
                    .map_err(|e| format!("{}{path}: the answer is not JSON: {e}", endpoint.url()));
            }
            Err(e) => errors.push(e),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Err(errors.join("; "))
}

impl Store for EtcdStore {
    fn take(&mut self, groups: &[(String, u32)], me: &Holder) -> Result<Taken, String> {
        let deadline = Instant::now() + self.wait;
        // A reboot's or a hold's slot outlives this process.
        let reboot = me.kind != "change";
        let ttl = if reboot { self.reboot_ttl } else { self.ttl };
        let value = serde_json::to_string(me).map_err(|e| e.to_string())?;
        let lease = self.grant(ttl, deadline)?;
        loop {
            let mut full = Vec::new();
            let mut compares = Vec::new();
            let mut puts = Vec::new();
            for (group, limit) in groups {
                let (holders, revision) = match self.holders(group, deadline) {
                    Ok(found) => found,
                    Err(e) => return Err(self.abandon(&lease, e)),
                };
                let others: Vec<&Holder> = holders.iter().filter(|h| h.host != me.host).collect();
                if others.len() >= *limit as usize {
                    full.extend(others.iter().map(|h| h.shown(group)));
                }
                let prefix = self.group_prefix(group);
                compares.push(json!({
                    "target": "MOD",
                    "key": base64(prefix.as_bytes()),
                    "range_end": base64(&range_end(&prefix)),
                    "result": "LESS",
                    "mod_revision": (revision + 1).to_string(),
                }));
                puts.push(json!({"request_put": {
                    "key": base64(self.key(group, &me.host).as_bytes()),
                    "value": base64(value.as_bytes()),
                    "lease": lease,
                }}));
            }
            if !full.is_empty() {
                // Nothing was written under it; it expires anyway.
                let _ = self.revoke(&lease, Instant::now() + self.wait);
                return Ok(Taken::Full(full));
            }
            let txn = json!({"compare": compares, "success": puts, "failure": []});
            match self.call("/v3/kv/txn", &txn, deadline) {
                Ok(answer) if answer["succeeded"] == Value::Bool(true) => break,
                // Another host wrote meanwhile: read again.
                Ok(_) if Instant::now() < deadline => continue,
                Ok(_) => {
                    let why = format!(
                        "the slots kept changing for {} ms; try again",
                        self.wait.as_millis()
                    );
                    return Err(self.abandon(&lease, why));
                }
                // Also an answer that came too late: the transaction may
                // have written the keys all the same.
                Err(e) => return Err(self.abandon(&lease, e)),
            }
        }
        let renewing = (!reboot).then(|| {
            Box::new(KeepAlive::start(self.endpoints.clone(), lease.clone(), ttl))
                as Box<dyn Renewal>
        });
        Ok(Taken::Held {
            lease: Some(lease),
            renewing,
        })
    }

    fn release(
        &mut self,
        groups: &[String],
        host: &str,
        lease: Option<&str>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + self.wait;
        let mut errors = Vec::new();
        for group in groups {
            let key = base64(self.key(group, host).as_bytes());
            if let Err(e) = self.call("/v3/kv/deleterange", &json!({"key": key}), deadline) {
                errors.push(e);
                break;
            }
        }
        if let Some(lease) = lease
            && errors.is_empty()
            && let Err(e) = self.revoke(lease, deadline)
        {
            errors.push(e);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn still_held(
        &mut self,
        groups: &[String],
        host: &str,
        lease: Option<&str>,
    ) -> Result<bool, String> {
        let deadline = Instant::now() + self.wait;
        for group in groups {
            let key = base64(self.key(group, host).as_bytes());
            let answer = self.call("/v3/kv/range", &json!({"key": key}), deadline)?;
            let kv = &answer["kvs"][0];
            if kv.is_null() {
                return Ok(false);
            }
            // The key is there, but under another lease (a later change's
            // short one): it no longer stands for the kept slot.
            if let Some(lease) = lease
                && kv["lease"].as_str() != Some(lease)
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn describe(&self) -> String {
        let urls: Vec<String> = self.endpoints.iter().map(Endpoint::url).collect();
        format!("etcd {}", urls.join(","))
    }
}

/// Renews a lease every third of its time to live until stopped.
#[derive(Debug)]
struct KeepAlive {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl KeepAlive {
    fn start(endpoints: Vec<Endpoint>, lease: String, ttl: Duration) -> KeepAlive {
        let (tx, rx) = mpsc::channel::<()>();
        let every = (ttl / 3).max(Duration::from_millis(500));
        let thread = std::thread::Builder::new()
            .name("fleet-keepalive".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    // A renewal that fails is tried again next time; the
                    // lease runs out if none gets through.
                    let _ = call(
                        &endpoints,
                        "/v3/lease/keepalive",
                        &json!({"ID": lease}),
                        Instant::now() + every,
                    );
                }
            })
            .ok();
        KeepAlive {
            stop: Some(tx),
            thread,
        }
    }
}

impl Renewal for KeepAlive {
    fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_group_range_ends_after_its_last_key() {
        assert_eq!(range_end("/s/core/"), b"/s/core0".to_vec());
    }

    #[test]
    fn an_unreachable_cluster_is_an_error_within_the_wait() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut store = EtcdStore::new(
            &[format!("http://127.0.0.1:{port}")],
            "/s",
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_secs(60),
        );
        let started = Instant::now();
        let me = Holder {
            host: "a".into(),
            kind: "change".into(),
            ..Holder::default()
        };
        assert!(store.take(&[("core".into(), 1)], &me).is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    /// A stand-in for etcd's gateway on a loopback port: answers a lease
    /// grant and a range at once, a transaction only after `late`, and
    /// counts revocations of lease 42.
    fn late_etcd(late: Duration) -> (String, Arc<AtomicUsize>) {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let revoked = Arc::new(AtomicUsize::new(0));
        let seen = revoked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut first = String::new();
                    let _ = reader.read_line(&mut first);
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    let body = String::from_utf8_lossy(&body).to_string();
                    let answer = if first.contains("/v3/lease/grant") {
                        r#"{"ID":"42","TTL":"3600"}"#
                    } else if first.contains("/v3/kv/range") {
                        r#"{"header":{"revision":"7"},"kvs":[]}"#
                    } else if first.contains("/v3/kv/txn") {
                        std::thread::sleep(late);
                        r#"{"succeeded":true}"#
                    } else {
                        if first.contains("/v3/lease/revoke") && body.contains("42") {
                            seen.fetch_add(1, Ordering::SeqCst);
                        }
                        "{}"
                    };
                    let _ = write!(
                        &stream,
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                });
            }
        });
        (url, revoked)
    }

    #[test]
    fn a_transaction_answered_too_late_revokes_its_lease() {
        let (url, revoked) = late_etcd(Duration::from_millis(1500));
        let mut store = EtcdStore::new(
            &[url],
            "/s",
            Duration::from_secs(1),
            Duration::from_secs(5),
            Duration::from_secs(3600),
        );
        let me = Holder {
            host: "a".into(),
            kind: "reboot".into(),
            ..Holder::default()
        };
        let err = store.take(&[("core".into(), 1)], &me).unwrap_err();
        assert_eq!(revoked.load(Ordering::SeqCst), 1, "{err}");
        assert!(err.contains("was revoked"), "{err}");
    }
}
