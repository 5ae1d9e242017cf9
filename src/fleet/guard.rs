//! The fleet as a session holds it: the `[fleet]` configuration, who and
//! where we are, and the store — opened only when a disruptive line asks
//! for a slot, so that a safe line never waits on it or even connects.
//!
//! A reboot's slot outlives the process that took it, so this host keeps
//! a note of it (the groups, the lease and the boot it was taken in). It
//! is written before the reboot runs and read at the next start of a
//! session ([`FleetGuard::release_after_boot`]): in a later boot the host
//! is back, and the slot is given back. A start with no note costs one
//! failed `open`. `safe-run release` gives it back by hand.
//!
//! The note decides things — a change under it runs without asking the
//! store, a note of an earlier boot has its lease revoked — so nobody else
//! may write it: it lives in `fleet.dir/notes-UID/` (UID: the effective
//! user), a directory its user creates 0700 inside the shared, sticky
//! `fleet.dir`, and is read only when the directory and the file are owned
//! by root or that user and writable by nobody else ([`note_trusted`]).
//! The note of another user is not this user's to act on; its slot comes
//! back when that user's next session starts, by `safe-run release`, or
//! (etcd) when its lease expires.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::record::{SlotEvent, SlotRecord};
use crate::audit::redact::redact;
use crate::config::{self, Store as StoreKind};
use crate::fleet::etcd::EtcdStore;
use crate::fleet::fleetlock::FleetLockStore;
use crate::fleet::local::LocalStore;
use crate::fleet::{
    Disruptive, HeldSlot, Holder, Slots, Store, Take, Taken, disruption, refusal_text, slot_record,
};
use crate::rules::RuleSet;
use crate::rules::spec::Disruption;
use crate::verdict::Verdict;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

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

/// Whether a note (or, `dir`, its directory) of `owner` with st_mode
/// `mode` may be trusted by a process of effective uid `euid`: a regular
/// file (a directory) owned by root or by `euid`, that neither its group
/// nor others can write. The error says why not. Pure.
pub fn note_trusted(owner: u32, euid: u32, mode: u32, dir: bool) -> Result<(), String> {
    let kind = mode & nix::libc::S_IFMT;
    let (want, what) = if dir {
        (nix::libc::S_IFDIR, "a directory")
    } else {
        (nix::libc::S_IFREG, "a regular file")
    };
    if kind != want {
        return Err(format!("it is not {what}"));
    }
    if owner != 0 && owner != euid {
        return Err(format!(
            "it belongs to uid {owner}, not to root or to this user (uid {euid})"
        ));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "its group or others may write it (mode {:04o})",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// `note_trusted` of an open file.
fn check_open(file: &File, dir: bool) -> Result<(), String> {
    let meta = file.metadata().map_err(|e| e.to_string())?;
    note_trusted(
        meta.uid(),
        nix::unistd::geteuid().as_raw(),
        meta.mode(),
        dir,
    )
}

/// Opens the notes directory `dir` without following a link, and checks
/// it. `NotFound` is `Ok(None)`.
fn open_notes_dir(dir: &Path) -> Result<Option<File>, String> {
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW).bits())
        .open(dir);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open {}: {e}", dir.display())),
    };
    check_open(&file, true)
        .map_err(|why| format!("{} is not this user's own: {why}; remove it", dir.display()))?;
    Ok(Some(file))
}

/// The most of a note that is read.
const MAX_NOTE: u64 = 64 << 10;

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

    /// This user's notes directory: see the header.
    fn notes_dir(&self) -> PathBuf {
        self.config
            .dir
            .join(format!("notes-{}", nix::unistd::geteuid().as_raw()))
    }

    fn note_name(&self) -> String {
        format!("held-{}.json", self.host)
    }

    fn note_path(&self) -> PathBuf {
        self.notes_dir().join(self.note_name())
    }

    /// This host's note: `None` when there is none; an error (for a
    /// warning) when something is there that is not a note to trust. Opened
    /// below the checked directory, without following a link or blocking
    /// on a FIFO, and checked again once open.
    fn read_note(&self) -> Result<Option<RebootNote>, String> {
        let path = self.note_path();
        let Some(dir) = open_notes_dir(&self.notes_dir())? else {
            return Ok(None);
        };
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let file = match openat(&dir, self.note_name().as_str(), flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(nix::errno::Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(format!("cannot open {}: {e}", path.display())),
        };
        check_open(&file, false)
            .map_err(|why| format!("{} cannot be trusted: {why}", path.display()))?;
        let mut text = String::new();
        file.take(MAX_NOTE)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{} is not a note of safe-run: {e}", path.display()))
    }

    /// Writes the note in this user's notes directory (created 0700 when
    /// missing, inside `fleet.dir`, itself created shared and sticky as
    /// the local store wants it), in place, no link followed.
    fn write_note(&self, note: &RebootNote) -> Result<(), String> {
        let path = self.note_path();
        if !self.config.dir.is_dir() {
            fs::create_dir_all(&self.config.dir)
                .map_err(|e| format!("cannot create {}: {e}", self.config.dir.display()))?;
            let _ = fs::set_permissions(&self.config.dir, fs::Permissions::from_mode(0o1777));
        }
        let dir = self.notes_dir();
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
        let dir = open_notes_dir(&dir)?
            .ok_or_else(|| format!("{} went away while it was made", dir.display()))?;
        let flags = OFlag::O_WRONLY
            | OFlag::O_CREAT
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC;
        let mut file = openat(
            &dir,
            self.note_name().as_str(),
            flags,
            Mode::from_bits_truncate(0o600),
        )
        .map(File::from)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        check_open(&file, false)
            .map_err(|why| format!("{} cannot be trusted: {why}; remove it", path.display()))?;
        let text = serde_json::to_string_pretty(note).map_err(|e| e.to_string())?;
        file.set_len(0)
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// This host's note of slots for a reboot that has not happened yet
    /// (a note of this boot), if any.
    fn pending_note(&self) -> Option<RebootNote> {
        // A note that cannot be read covers nothing: the change takes a
        // slot of its own.
        self.read_note()
            .ok()
            .flatten()
            .filter(|n| n.boot_id == boot_id() && n.host == self.host)
    }

    /// Whether this host holds slots for a reboot that has not happened
    /// yet.
    fn pending_reboot(&self) -> bool {
        self.pending_note().is_some()
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
        // The store is asked whether the hold is still there (a lease may
        // have run out, someone may have released it): a note alone does not
        // stand for a slot. A store that cannot tell or cannot be reached
        // leaves the note's word.
        if what.kind == Disruption::Change
            && let Some(note) = self.pending_note()
        {
            let host = self.host.clone();
            let held = self
                .store()
                .still_held(&note.groups, &host, note.lease.as_deref());
            if held == Ok(false) {
                // Gone: the note covers nothing now, and this change
                // takes (and gives back) a slot of its own.
                let _ = fs::remove_file(self.note_path());
            } else {
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

    fn change() -> Disruptive {
        Disruptive {
            rules: vec!["ctr-kubelet-restart".into()],
            kind: Disruption::Change,
        }
    }

    /// A note of this boot for `host`, as anyone could write one.
    fn forged(host: &str, boot: &str) -> String {
        serde_json::to_string(&RebootNote {
            host: host.into(),
            groups: vec!["core".into()],
            lease: Some("7587890".into()),
            boot_id: boot.into(),
            since: "2026-11-21T22:41:07Z".into(),
            store: "local".into(),
        })
        .unwrap()
    }

    #[test]
    fn only_a_note_of_root_or_this_user_that_nobody_else_can_write_is_trusted() {
        let file = nix::libc::S_IFREG;
        let dir = nix::libc::S_IFDIR;
        assert_eq!(note_trusted(1000, 1000, file | 0o600, false), Ok(()));
        assert_eq!(note_trusted(0, 1000, file | 0o644, false), Ok(()));
        assert_eq!(note_trusted(0, 0, dir | 0o700, true), Ok(()));
        assert_eq!(note_trusted(1000, 1000, dir | 0o755, true), Ok(()));
        for (owner, mode, is_dir) in [
            (1001, file | 0o600, false),
            (1000, file | 0o666, false),
            (1000, file | 0o620, false),
            (1000, nix::libc::S_IFIFO | 0o600, false),
            (1000, dir | 0o600, false),
            (1000, file | 0o700, true),
            (1000, dir | 0o1777, true),
            (1001, dir | 0o700, true),
        ] {
            assert!(
                note_trusted(owner, 1000, mode, is_dir).is_err(),
                "{owner} {mode:o} {is_dir}"
            );
        }
    }

    #[test]
    fn a_note_others_can_write_neither_skips_the_slot_nor_releases_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = guard(dir.path(), "node-a");
        let mut b = guard(dir.path(), "node-b");
        assert!(matches!(
            b.take(&reboot(), "reboot", "CHG-2"),
            Take::Held(..)
        ));
        // Planted where safe-run kept notes before, and where it keeps
        // them now but writable by others.
        fs::write(
            dir.path().join("held-node-a.json"),
            forged("node-a", &boot_id()),
        )
        .unwrap();
        let notes = a.notes_dir();
        fs::create_dir_all(&notes).unwrap();
        fs::write(a.note_path(), forged("node-a", &boot_id())).unwrap();
        fs::set_permissions(a.note_path(), fs::Permissions::from_mode(0o666)).unwrap();
        // The group is full: the change is refused, not run under the note.
        assert!(
            matches!(
                a.take(&change(), "systemctl restart kubelet", "CHG-1"),
                Take::Refused(..)
            ),
            "a forged note skipped the slot"
        );
        // A forged note of an earlier boot releases nothing: a warning.
        fs::write(a.note_path(), forged("node-a", "an-earlier-boot")).unwrap();
        assert!(a.release_after_boot().is_err());
        // A directory others can write is not trusted either.
        fs::set_permissions(a.note_path(), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(&notes, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(a.release_after_boot().is_err());
    }

    #[test]
    fn a_note_whose_hold_is_gone_from_the_store_takes_a_slot_normally() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = guard(dir.path(), "node-a");
        let Take::Held(held, _) = a.take(&reboot(), "reboot", "CHG-1") else {
            panic!("no slot");
        };
        assert_eq!(a.finish(held, true).event, SlotEvent::Kept);
        // The hold is given back behind the note's back; node-b takes it.
        LocalStore::new(dir.path(), Duration::from_secs(1), &boot_id())
            .release(&["core".into()], "node-a", None)
            .unwrap();
        let mut b = guard(dir.path(), "node-b");
        assert!(matches!(
            b.take(&reboot(), "reboot", "CHG-2"),
            Take::Held(..)
        ));
        assert!(a.pending_reboot(), "the note is still there");
        assert!(
            matches!(
                a.take(&change(), "systemctl restart kubelet", "CHG-1"),
                Take::Refused(..)
            ),
            "the change ran under a hold the store no longer has"
        );
        // With the hold in place, the change runs under it.
        LocalStore::new(dir.path(), Duration::from_secs(1), &boot_id())
            .release(&["core".into()], "node-b", None)
            .unwrap();
        let Take::Held(held, _) = a.take(&reboot(), "reboot", "CHG-1") else {
            panic!("no slot");
        };
        assert_eq!(a.finish(held, true).event, SlotEvent::Kept);
        let Take::Held(held, record) = a.take(&change(), "systemctl restart kubelet", "CHG-1")
        else {
            panic!("no slot");
        };
        assert_eq!(record.event, SlotEvent::Held);
        assert_eq!(a.finish(held, true).event, SlotEvent::Kept);
    }
}
