//! The fleet as a session holds it: the `[fleet]` configuration, who and
//! where we are, and the store — opened only when a disruptive line asks
//! for a slot, so that a safe line never waits on it or even connects.
//!
//! A reboot's slot outlives the process that took it, so this host keeps
//! a note of it (`fleet.dir/held-HOST.json`: the groups, the lease and the
//! boot it was taken in). It is written before the reboot runs and read at
//! the next start of a session ([`FleetGuard::release_after_boot`]): in a
//! later boot the host is back, and the slot is given back. A start with no
//! note costs one failed `stat`. `safe-run release` gives it back by hand.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::record::{SlotEvent, SlotRecord};
use crate::audit::redact::redact;
use crate::config::{self, Store as StoreKind};
use crate::fleet::etcd::EtcdStore;
use crate::fleet::fleetlock::FleetLockStore;
use crate::fleet::local::{LocalStore, open_shared, read_shared};
use crate::fleet::{
    Disruptive, HeldSlot, Holder, Slots, Store, Take, Taken, disruption, refusal_text, slot_record,
};
use crate::rules::RuleSet;
use crate::rules::spec::Disruption;
use crate::verdict::Verdict;

/// Where the kernel says which boot this is.
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// This boot's id, or a constant where the kernel does not say (then a
/// reboot is only seen by `safe-run release`).
pub fn boot_id() -> String {
    fs::read_to_string(BOOT_ID)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The note of a slot kept over a reboot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RebootNote {
    pub host: String,
    pub groups: Vec<String>,
    pub lease: Option<String>,
    pub boot_id: String,
    pub since: String,
    pub store: String,
}

/// Whether a note taken in `note_boot` is for a host that is back: it
/// booted since. Pure.
pub fn back_from_reboot(note_boot: &str, now_boot: &str) -> bool {
    note_boot != now_boot && now_boot != "unknown"
}

/// The fleet of one session.
pub struct FleetGuard {
    config: config::Fleet,
    /// The name this host holds slots under.
    pub host: String,
    user: String,
    /// The time, for `since` (RFC 3339), from the edge.
    clock: fn() -> String,
    store: Option<Box<dyn Store>>,
}

impl FleetGuard {
    /// `host`: the host's name, unless the configuration gives another.
    pub fn new(
        config: &config::Fleet,
        host: &str,
        user: &str,
        clock: fn() -> String,
    ) -> FleetGuard {
        FleetGuard {
            host: config.host.clone().unwrap_or_else(|| file_safe(host)),
            config: config.clone(),
            user: user.to_string(),
            clock,
            store: None,
        }
    }

    fn store(&mut self) -> &mut Box<dyn Store> {
        let c = &self.config;
        self.store.get_or_insert_with(|| match c.store {
            StoreKind::Local => Box::new(LocalStore::new(&c.dir, c.wait, &boot_id())),
            StoreKind::Etcd => Box::new(EtcdStore::new(
                &c.endpoints,
                &c.prefix,
                c.wait,
                c.ttl,
                c.reboot_ttl,
            )),
            StoreKind::FleetLock => Box::new(FleetLockStore::new(&c.endpoints, c.wait)),
        })
    }

    /// Where slots are kept, for messages (opens nothing).
    pub fn describe(&self) -> String {
        match self.config.store {
            StoreKind::Local => format!("local {}", self.config.dir.display()),
            StoreKind::Etcd => format!("etcd {}", self.config.endpoints.join(",")),
            StoreKind::FleetLock => format!("fleetlock {}", self.config.endpoints.join(",")),
        }
    }

    fn note_path(&self) -> PathBuf {
        self.config.dir.join(format!("held-{}.json", self.host))
    }

    /// This host's note: `None` when there is none; an error (for a
    /// warning) when something is there that is not a note to trust.
    fn read_note(&self) -> Result<Option<RebootNote>, String> {
        let path = self.note_path();
        let text = match read_shared(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{} is not a note of safe-run: {e}", path.display()))
    }

    /// Writes the note in the shared directory (see `local`: in place, no
    /// link followed).
    fn write_note(&self, note: &RebootNote) -> Result<(), String> {
        let path = self.note_path();
        if !self.config.dir.is_dir() {
            fs::create_dir_all(&self.config.dir)
                .map_err(|e| format!("cannot create {}: {e}", self.config.dir.display()))?;
            let _ = fs::set_permissions(&self.config.dir, fs::Permissions::from_mode(0o1777));
        }
        let text = serde_json::to_string_pretty(note).map_err(|e| e.to_string())?;
        let mut f = open_shared(&path)?;
        f.set_len(0)
            .and_then(|()| f.write_all(text.as_bytes()))
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Whether this host holds slots for a reboot that has not happened
    /// yet (a note of this boot).
    fn pending_reboot(&self) -> bool {
        // A note that cannot be read covers nothing: the change takes a
        // slot of its own.
        self.read_note()
            .ok()
            .flatten()
            .is_some_and(|n| n.boot_id == boot_id() && n.host == self.host)
    }

    fn groups_with_limits(&self) -> Vec<(String, u32)> {
        self.config
            .groups
            .iter()
            .map(|g| (g.clone(), self.config.limit(g)))
            .collect()
    }

    /// At the start of a session: gives back a slot kept over a reboot
    /// when this host has booted since. Returns the record of it (or of
    /// the failure, the note then kept for the next start). Bounded by the
    /// store's wait; without a note, one failed `open`. A note that cannot
    /// be read is an error to warn about, never a wait: this runs before
    /// every login shell.
    pub fn release_after_boot(&mut self) -> Result<Option<SlotRecord>, String> {
        let Some(note) = self.read_note()? else {
            return Ok(None);
        };
        if !back_from_reboot(&note.boot_id, &boot_id()) {
            return Ok(None);
        }
        let host = self.host.clone();
        let store = self.describe();
        let result = self
            .store()
            .release(&note.groups, &host, note.lease.as_deref());
        let error = result.err();
        if error.is_none() {
            let _ = fs::remove_file(self.note_path());
        }
        Ok(Some(slot_record(
            SlotEvent::Released,
            &note.groups,
            &store,
            Vec::new(),
            error,
        )))
    }

    /// `safe-run release`: gives back every slot this host holds.
    pub fn release_now(&mut self) -> SlotRecord {
        // A note that cannot be read: every group, without a lease.
        let note = self.read_note().ok().flatten();
        if note.is_none() && self.config.unreadable {
            return slot_record(
                SlotEvent::Released,
                &[],
                &self.describe(),
                Vec::new(),
                Some("the [fleet] configuration cannot be read, so nobody can tell which slots to give back: fix it first".into()),
            );
        }
        let groups = note
            .as_ref()
            .map_or_else(|| self.config.groups.clone(), |n| n.groups.clone());
        let lease = note.and_then(|n| n.lease);
        let host = self.host.clone();
        let store = self.describe();
        let error = self.store().release(&groups, &host, lease.as_deref()).err();
        if error.is_none() {
            let _ = fs::remove_file(self.note_path());
        }
        slot_record(SlotEvent::Released, &groups, &store, Vec::new(), error)
    }
}

impl Slots for FleetGuard {
    fn disruptive(&self, verdict: &Verdict, rules: &RuleSet) -> Option<Disruptive> {
        disruption(verdict, rules, &self.config.disruptive_rules)
    }

    fn take(&mut self, what: &Disruptive, line: &str, reason: &str) -> Take {
        let groups = self.config.groups.clone();
        let store = self.describe();
        if self.config.unreadable {
            let why = "the [fleet] configuration cannot be read, so nobody can tell which slots this host must take";
            return Take::Refused(
                slot_record(
                    SlotEvent::Unreachable,
                    &groups,
                    &store,
                    Vec::new(),
                    Some(why.into()),
                ),
                format!(
                    "{why} (see the configuration error above). Fix it, or run the line again with --break-glass."
                ),
            );
        }
        let me = Holder {
            host: self.host.clone(),
            user: self.user.clone(),
            since: (self.clock)(),
            // Other hosts' operators read these: no secrets.
            reason: redact(reason),
            line: redact(line),
            kind: what.kind.as_str().to_string(),
            pid: std::process::id(),
            boot_id: boot_id(),
        };
        // A reboot this host holds slots for (not yet happened) covers a
        // change before it: a drain, a runtime restart. Taking them again
        // would put the reboot's hold under the change's short lease.
        if what.kind == Disruption::Change && self.pending_reboot() {
            return Take::Held(
                HeldSlot {
                    groups: groups.clone(),
                    kind: what.kind,
                    lease: None,
                    renewing: None,
                },
                slot_record(SlotEvent::Held, &groups, &store, Vec::new(), None),
            );
        }
        let limits = self.groups_with_limits();
        let wait = self.config.wait;
        match self.store().take(&limits, &me) {
            Ok(Taken::Held { lease, renewing }) => {
                if what.kind.keeps() {
                    let note = RebootNote {
                        host: me.host.clone(),
                        groups: groups.clone(),
                        lease: lease.clone(),
                        boot_id: me.boot_id.clone(),
                        since: me.since.clone(),
                        store: store.clone(),
                    };
                    if let Err(e) = self.write_note(&note) {
                        let _ = self.store().release(&groups, &me.host, lease.as_deref());
                        let why = format!(
                            "the slot was taken, but the note that gives it back after the reboot cannot be written: {e}"
                        );
                        return Take::Refused(
                            slot_record(
                                SlotEvent::Unreachable,
                                &groups,
                                &store,
                                Vec::new(),
                                Some(why.clone()),
                            ),
                            format!(
                                "{why}. Fix fleet.dir, or run the line again with --break-glass."
                            ),
                        );
                    }
                }
                Take::Held(
                    HeldSlot {
                        groups: groups.clone(),
                        kind: what.kind,
                        lease,
                        renewing,
                    },
                    slot_record(SlotEvent::Held, &groups, &store, Vec::new(), None),
                )
            }
            Ok(Taken::Full(holders)) => {
                let text = refusal_text(&holders, &limits, &store);
                Take::Refused(
                    slot_record(SlotEvent::Refused, &groups, &store, holders, None),
                    text,
                )
            }
            Err(e) => Take::Refused(
                slot_record(
                    SlotEvent::Unreachable,
                    &groups,
                    &store,
                    Vec::new(),
                    Some(e.clone()),
                ),
                format!(
                    "the fleet store did not give a slot within {}: {e}\n  A disruptive change runs only with a slot. Check the store ({store}), or run the line again with --break-glass if this cannot wait.",
                    secs(wait)
                ),
            ),
        }
    }

    fn finish(&mut self, mut held: HeldSlot, ran_ok: bool) -> SlotRecord {
        if let Some(r) = held.renewing.as_mut() {
            r.stop();
        }
        let store = self.describe();
        let reboot_pending = held.kind == Disruption::Change && self.pending_reboot();
        if (held.kind.keeps() && ran_ok) || reboot_pending {
            return slot_record(SlotEvent::Kept, &held.groups, &store, Vec::new(), None);
        }
        let host = self.host.clone();
        let error = self
            .store()
            .release(&held.groups, &host, held.lease.as_deref())
            .err();
        if held.kind.keeps() && error.is_none() {
            let _ = fs::remove_file(self.note_path());
        }
        slot_record(SlotEvent::Released, &held.groups, &store, Vec::new(), error)
    }
}

/// A host name as a file name and a key: what is not a letter, a digit,
/// `.`, `_` or `-` becomes `_` (the configuration's `fleet.host` is
/// checked when read; the kernel's host name may hold anything).
fn file_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match safe.trim_start_matches('.') {
        "" => "unnamed-host".to_string(),
        s => s.to_string(),
    }
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(dir: &std::path::Path, host: &str) -> FleetGuard {
        let config = config::Fleet {
            groups: vec!["core".into()],
            dir: dir.to_path_buf(),
            wait: Duration::from_secs(2),
            ..config::Fleet::default()
        };
        FleetGuard::new(&config, host, "ops", || "2026-11-21T22:41:07Z".into())
    }

    fn reboot() -> Disruptive {
        Disruptive {
            rules: vec!["power-reboot".into()],
            kind: Disruption::Reboot,
        }
    }

    #[test]
    fn a_reboots_slot_is_given_back_at_the_first_start_after_the_boot() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = guard(dir.path(), "node-a");
        let Take::Held(held, _) = a.take(&reboot(), "reboot", "CHG-1") else {
            panic!("no slot");
        };
        assert_eq!(a.finish(held, true).event, SlotEvent::Kept);
        // Same boot: nothing to give back, and node-b is refused.
        assert_eq!(a.release_after_boot(), Ok(None));
        let mut b = guard(dir.path(), "node-b");
        assert!(matches!(
            b.take(&reboot(), "reboot", "CHG-2"),
            Take::Refused(..)
        ));
        // The note says another boot: the host is back.
        let mut note = a.read_note().unwrap().expect("the note");
        note.boot_id = "an-earlier-boot".into();
        a.write_note(&note).unwrap();
        let released = a.release_after_boot().unwrap().expect("released");
        assert_eq!(
            (released.event, released.error),
            (SlotEvent::Released, None)
        );
        assert_eq!(a.read_note(), Ok(None), "the note is gone");
        assert!(matches!(
            b.take(&reboot(), "reboot", "CHG-2"),
            Take::Held(..)
        ));
    }

    #[test]
    fn an_unreadable_fleet_configuration_refuses_without_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let config = config::Fleet {
            unreadable: true,
            dir: dir.path().join("never-created"),
            ..config::Fleet::default()
        };
        let mut g = FleetGuard::new(&config, "node-a", "ops", String::new);
        let Take::Refused(record, text) = g.take(&reboot(), "reboot", "CHG-1") else {
            panic!("a slot");
        };
        assert_eq!(record.event, SlotEvent::Unreachable);
        assert!(text.contains("--break-glass"), "{text}");
        assert!(!dir.path().join("never-created").exists());
    }

    #[test]
    fn a_kernel_host_name_is_made_safe_for_files_and_keys() {
        assert_eq!(file_safe("core-1.prod"), "core-1.prod");
        assert_eq!(file_safe("../x/y"), "_x_y");
        assert_eq!(file_safe(""), "unnamed-host");
    }

    #[test]
    fn a_host_is_back_when_it_booted_since_the_note() {
        assert!(back_from_reboot("boot-1", "boot-2"));
        assert!(!back_from_reboot("boot-1", "boot-1"));
        assert!(!back_from_reboot("boot-1", "unknown"));
    }

    #[test]
    fn a_fifo_in_place_of_the_note_is_a_warning_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = guard(dir.path(), "node-a").note_path();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        // On a thread: a blocking open would never return.
        let (tx, rx) = std::sync::mpsc::channel();
        let at = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(guard(&at, "node-a").release_after_boot());
        });
        let answer = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a FIFO hung the session start");
        let warning = answer.unwrap_err();
        assert!(warning.contains("not a regular file"), "{warning}");
    }
}
