//! The FleetLock store: fleet slots kept by a server that speaks Zincati's
//! FleetLock protocol (`POST BASE/v1/pre-reboot` to take a slot,
//! `BASE/v1/steady-state` to give it back, the header
//! `fleet-lock-protocol: true`, the body `{"client_params": {"id": HOST,
//! "group": GROUP}}`), so that one reboot manager coordinates safe-run
//! and Fedora CoreOS's automatic updates.
//!
//! The server owns the semaphore: how many slots a group has is its
//! configuration (`fleet.limits` is not sent), and it does not say who
//! holds them, only why it refused (`{"kind": …, "value": …}`). Locks are
//! recursive and owned by the id, so taking again what this host holds is
//! harmless. The protocol has no lease: a slot whose holder crashed stays
//! until that host's next start after a boot, `safe-run release`, or the
//! server's own expiry, if it has one.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::audit::record::SlotHolder;
use crate::fleet::http::{Endpoint, post};
use crate::fleet::{Holder, Store, Taken};

/// The header every FleetLock request carries.
const PROTOCOL_HEADER: (&str, &str) = ("fleet-lock-protocol", "true");

/// A FleetLock server (the first endpoint that answers).
pub struct FleetLockStore {
    endpoints: Vec<Endpoint>,
    wait: Duration,
}

/// What a request came to.
enum Reply {
    Done,
    /// The server answered no: its status and reason.
    No(u16, String),
}

impl FleetLockStore {
    pub fn new(endpoints: &[String], wait: Duration) -> FleetLockStore {
        FleetLockStore {
            endpoints: endpoints
                .iter()
                .filter_map(|e| Endpoint::parse(e).ok())
                .collect(),
            wait,
        }
    }

    fn call(
        &self,
        path: &str,
        host: &str,
        group: &str,
        deadline: Instant,
    ) -> Result<Reply, String> {
        if self.endpoints.is_empty() {
            return Err("no FleetLock server is configured (fleet.endpoints)".into());
        }
        let body = json!({"client_params": {"id": host, "group": group}}).to_string();
        let mut errors = Vec::new();
        for endpoint in &self.endpoints {
            match post(endpoint, path, &body, &[PROTOCOL_HEADER], deadline) {
                Ok(answer) if answer.status == 200 => return Ok(Reply::Done),
                Ok(answer) => {
                    let error: Value = serde_json::from_str(&answer.body).unwrap_or_default();
                    match (error["kind"].as_str(), error["value"].as_str()) {
                        (Some(kind), Some(value)) => {
                            return Ok(Reply::No(answer.status, format!("{value} ({kind})")));
                        }
                        // Not a FleetLock answer (a proxy's error page):
                        // the server was not reached.
                        _ => errors.push(format!(
                            "{}{path} answered {} without a FleetLock error",
                            endpoint.url(),
                            answer.status
                        )),
                    }
                }
                Err(e) => errors.push(e),
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(errors.join("; "))
    }

    fn url(&self) -> String {
        self.endpoints
            .first()
            .map_or_else(|| "(none)".to_string(), Endpoint::url)
    }
}

impl Store for FleetLockStore {
    fn take(&mut self, groups: &[(String, u32)], me: &Holder) -> Result<Taken, String> {
        let deadline = Instant::now() + self.wait;
        let mut taken: Vec<String> = Vec::new();
        for (group, _) in groups {
            let reply = self.call("/v1/pre-reboot", &me.host, group, deadline);
            let refusal = match reply {
                Ok(Reply::Done) => {
                    taken.push(group.clone());
                    continue;
                }
                Ok(Reply::No(status, why)) => Ok(Taken::Full(vec![SlotHolder {
                    group: group.clone(),
                    reason: format!(
                        "the FleetLock server {} answered {status}: {why}",
                        self.url()
                    ),
                    ..SlotHolder::default()
                }])),
                Err(e) => Err(e),
            };
            // All or none: give back what was taken.
            let _ = self.release(&taken, &me.host, None);
            return refusal;
        }
        Ok(Taken::Held {
            lease: None,
            renewing: None,
        })
    }

    fn release(
        &mut self,
        groups: &[String],
        host: &str,
        _lease: Option<&str>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + self.wait;
        let mut errors = Vec::new();
        for group in groups {
            match self.call("/v1/steady-state", host, group, deadline) {
                Ok(Reply::Done) => {}
                Ok(Reply::No(status, why)) => errors.push(format!("{group}: {status}: {why}")),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn describe(&self) -> String {
        format!("fleetlock {}", self.url())
    }
}
