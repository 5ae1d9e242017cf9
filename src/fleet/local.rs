//! The local store: fleet slots in a directory of this host, one lock file
//! and one holder list per group (`GROUP.lock`, `GROUP.json`). For a
//! single host, and for tests, where "hosts" are processes.
//!
//! A take locks every group's lock file (`flock`, in name order so two
//! takers never wait on each other, each wait bounded), reads the holder
//! lists, and rewrites them in place under the lock, then fsyncs them
//! (lists of a few hundred bytes). In place, not renamed over: the
//! directory is shared by every user who runs safe-run and is sticky, as
//! `/tmp` is, so nobody can rename over another user's file; and every
//! file is opened without following a symbolic link, so a link planted
//! there cannot send a write elsewhere. There is no lease here; a hold
//! whose holder is gone is dropped when the list is next read:
//!
//! - a hold taken in an earlier boot of this host (its host is back);
//! - a change whose safe-run process no longer runs (it crashed or was
//!   killed; a change's slot is given back when its command ends anyway).
//!
//! A reboot's hold in this boot stays until the host is back or
//! `safe-run release`. A holder list that cannot be read (a planted file,
//! a write cut short by a crash) is an error, not an empty list: fail
//! closed, with the file named.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::audit::record::SlotHolder;
use crate::fleet::{Holder, Store, Taken};

/// A directory of lock files and holder lists.
pub struct LocalStore {
    dir: PathBuf,
    wait: Duration,
    /// This boot's id: holds of other boots are stale.
    boot_id: String,
}

impl LocalStore {
    pub fn new(dir: &Path, wait: Duration, boot_id: &str) -> LocalStore {
        LocalStore {
            dir: dir.to_path_buf(),
            wait,
            boot_id: boot_id.to_string(),
        }
    }

    fn shown(&self) -> String {
        crate::term::sanitize::clean(&self.dir.display().to_string(), false)
    }

    /// Locks `group`'s lock file, waiting until `deadline`.
    fn lock(&self, group: &str, deadline: Instant) -> Result<Flock<File>, String> {
        if !self.dir.is_dir() {
            fs::create_dir_all(&self.dir).map_err(|e| {
                format!(
                    "cannot create the fleet directory {}: {e} (fleet.dir in the configuration)",
                    self.shown()
                )
            })?;
            // Shared by every user who runs safe-run on this host, as /tmp.
            let _ = fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o1777));
        }
        let path = self.dir.join(format!("{group}.lock"));
        let mut file = open_shared(&path)?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(locked) => return Ok(locked),
                Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) => {
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "the lock of group {group} in {} was not free within {} ms",
                            self.shown(),
                            self.wait.as_millis()
                        ));
                    }
                    file = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((_, e)) => return Err(format!("cannot lock {}: {e}", path.display())),
            }
        }
    }

    fn list_path(&self, group: &str) -> PathBuf {
        self.dir.join(format!("{group}.json"))
    }

    /// The live holders of `group` (stale holds dropped, see the header).
    fn read(&self, group: &str) -> Result<Vec<Holder>, String> {
        let path = self.list_path(group);
        let text = match read_shared(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let holders: Vec<Holder> = serde_json::from_str(&text).map_err(|e| {
            format!(
                "the holder list {} cannot be read ({e}); nobody can tell who holds group {group}: check it, and remove it once nobody does",
                path.display()
            )
        })?;
        Ok(holders.into_iter().filter(|h| self.live(h)).collect())
    }

    fn live(&self, h: &Holder) -> bool {
        if h.boot_id != self.boot_id {
            return false;
        }
        h.kind != "change" || pid_alive(h.pid)
    }

    /// Rewrites `group`'s holder list; the caller holds its lock.
    fn write(&self, group: &str, holders: &[Holder]) -> Result<(), String> {
        let path = self.list_path(group);
        let text = serde_json::to_string_pretty(holders).map_err(|e| e.to_string())?;
        let mut f = open_shared(&path)?;
        f.set_len(0)
            .and_then(|()| f.write_all(text.as_bytes()))
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// The most of a holder list that is read.
const MAX_LIST: u64 = 1 << 20;

/// Reads a file of the shared directory (at most [`MAX_LIST`] bytes),
/// without following a link and without blocking: anyone can plant a FIFO
/// there, and a plain open of one waits for a writer for ever — at every
/// session start, for this host's note. A file that is not a regular file
/// is an error (`InvalidData`), never read.
pub fn read_shared(path: &Path) -> std::io::Result<String> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | OFlag::O_NONBLOCK.bits())
        .open(path)?;
    regular(&file)?;
    let mut text = String::new();
    file.take(MAX_LIST).read_to_string(&mut text)?;
    Ok(text)
}

/// An error unless `file` (open) is a regular file.
fn regular(file: &File) -> std::io::Result<()> {
    if file.metadata()?.file_type().is_file() {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "it is not a regular file (a FIFO, a device or a directory someone put there): check it and remove it",
        ))
    }
}

/// Opens (creating) a file of the shared directory for writing, without
/// following a link or blocking on a planted FIFO, writable by every user
/// of safe-run. Anything but a regular file is refused.
pub fn open_shared(path: &Path) -> Result<File, String> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o666)
        .custom_flags(nix::libc::O_NOFOLLOW | OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    regular(&file).map_err(|e| format!("cannot use {}: {e}", path.display()))?;
    // The umask took bits away; only the owner can put them back.
    let _ = file.set_permissions(fs::Permissions::from_mode(0o666));
    Ok(file)
}

/// Whether process `pid` runs (one of another user counts: EPERM; a
/// zombie, killed and not yet reaped, does not).
fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 0 || matches!(kill(Pid::from_raw(raw), None), Err(Errno::ESRCH)) {
        return false;
    }
    match fs::read_to_string(format!("/proc/{raw}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next()),
            Some("Z" | "X")
        ),
        Err(_) => true,
    }
}

impl Store for LocalStore {
    fn take(&mut self, groups: &[(String, u32)], me: &Holder) -> Result<Taken, String> {
        let deadline = Instant::now() + self.wait;
        let mut sorted: Vec<&(String, u32)> = groups.iter().collect();
        sorted.sort();
        let mut locks = Vec::new();
        for (group, _) in &sorted {
            locks.push(self.lock(group, deadline)?);
        }
        let mut lists = Vec::new();
        let mut full = Vec::new();
        for (group, limit) in &sorted {
            let others: Vec<Holder> = self
                .read(group)?
                .into_iter()
                .filter(|h| h.host != me.host)
                .collect();
            if others.len() >= *limit as usize {
                full.extend(others.iter().map(|h| h.shown(group)));
            }
            lists.push((group, others));
        }
        if !full.is_empty() {
            return Ok(Taken::Full(full));
        }
        for (group, mut holders) in lists {
            holders.push(me.clone());
            self.write(group, &holders)?;
        }
        drop(locks);
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
        let mut sorted: Vec<&String> = groups.iter().collect();
        sorted.sort();
        for group in sorted {
            let _lock = self.lock(group, deadline)?;
            let holders = self.read(group)?;
            if holders.iter().any(|h| h.host == host) {
                let kept: Vec<Holder> = holders.into_iter().filter(|h| h.host != host).collect();
                self.write(group, &kept)?;
            }
        }
        Ok(())
    }

    fn still_held(
        &mut self,
        groups: &[String],
        host: &str,
        _lease: Option<&str>,
    ) -> Result<bool, String> {
        // Read without the lock: an answer as of now is all it is.
        for group in groups {
            if !self.read(group)?.iter().any(|h| h.host == host) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn describe(&self) -> String {
        format!("local {}", self.shown())
    }
}

/// The holders of `groups` in `dir`, for `safe-run release` to show.
pub fn holders(dir: &Path, groups: &[String], boot_id: &str) -> Vec<SlotHolder> {
    let store = LocalStore::new(dir, Duration::ZERO, boot_id);
    groups
        .iter()
        .flat_map(|g| {
            store
                .read(g)
                .unwrap_or_default()
                .into_iter()
                .map(move |h| h.shown(g))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(host: &str, kind: &str, pid: u32) -> Holder {
        Holder {
            host: host.into(),
            user: "ops".into(),
            since: "2026-11-21T22:41:07Z".into(),
            reason: "CHG-1".into(),
            line: "reboot".into(),
            kind: kind.into(),
            pid,
            boot_id: "boot-1".into(),
        }
    }

    fn store(dir: &Path) -> LocalStore {
        LocalStore::new(dir, Duration::from_secs(1), "boot-1")
    }

    #[test]
    fn a_group_takes_up_to_its_limit_and_names_the_holders() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        let pid = std::process::id();
        let groups = [("core".to_string(), 2)];
        assert!(matches!(
            s.take(&groups, &me("a", "reboot", pid)),
            Ok(Taken::Held { .. })
        ));
        assert!(matches!(
            s.take(&groups, &me("b", "reboot", pid)),
            Ok(Taken::Held { .. })
        ));
        match s.take(&groups, &me("c", "reboot", pid)) {
            Ok(Taken::Full(holders)) => {
                let hosts: Vec<&str> = holders.iter().map(|h| h.host.as_str()).collect();
                assert_eq!(hosts, ["a", "b"]);
            }
            other => panic!("{other:?}"),
        }
        // A host that holds one already takes it again.
        assert!(matches!(
            s.take(&groups, &me("a", "reboot", pid)),
            Ok(Taken::Held { .. })
        ));
        s.release(&["core".into()], "a", None).unwrap();
        assert!(matches!(
            s.take(&groups, &me("c", "reboot", pid)),
            Ok(Taken::Held { .. })
        ));
    }

    #[test]
    fn holds_of_a_dead_change_or_an_earlier_boot_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let groups = [("core".to_string(), 1)];
        // No process has pid 0x7fff_fff0.
        let mut s = store(dir.path());
        assert!(matches!(
            s.take(&groups, &me("a", "change", 0x7fff_fff0)),
            Ok(Taken::Held { .. })
        ));
        assert!(matches!(
            s.take(&groups, &me("b", "reboot", std::process::id())),
            Ok(Taken::Held { .. })
        ));
        let mut later = LocalStore::new(dir.path(), Duration::from_secs(1), "boot-2");
        let mut c = me("c", "reboot", std::process::id());
        c.boot_id = "boot-2".into();
        assert!(matches!(later.take(&groups, &c), Ok(Taken::Held { .. })));
    }

    #[test]
    fn a_planted_link_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        for planted in ["core.lock", "core.json"] {
            let slots = dir.path().join(planted.replace('.', "-"));
            fs::create_dir(&slots).unwrap();
            std::os::unix::fs::symlink(&victim, slots.join(planted)).unwrap();
            let mut s = store(&slots);
            let taken = s.take(
                &[("core".into(), 1)],
                &me("a", "reboot", std::process::id()),
            );
            assert!(taken.is_err(), "{planted}: {taken:?}");
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn a_list_that_cannot_be_read_refuses() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("core.json"), "{not json").unwrap();
        let mut s = store(dir.path());
        let err = s
            .take(
                &[("core".into(), 1)],
                &me("a", "reboot", std::process::id()),
            )
            .unwrap_err();
        assert!(err.contains("cannot be read"), "{err}");
    }

    #[test]
    fn a_planted_fifo_is_refused_at_once_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        for planted in ["core.json", "core.lock"] {
            let slots = dir.path().join(planted.replace('.', "-"));
            fs::create_dir(&slots).unwrap();
            nix::unistd::mkfifo(
                &slots.join(planted),
                nix::sys::stat::Mode::from_bits_truncate(0o666),
            )
            .unwrap();
            // On a thread: a blocking open would never return.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut s = store(&slots);
                let taken = s.take(
                    &[("core".into(), 1)],
                    &me("a", "reboot", std::process::id()),
                );
                let _ = tx.send(taken.map(|_| ()));
            });
            let taken = rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("{planted}: a FIFO hung the take"));
            let err = taken.unwrap_err();
            assert!(err.contains("not a regular file"), "{planted}: {err}");
        }
    }
}
