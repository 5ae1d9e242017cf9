//! The approvals' state on this host: the ledger of used approvals, which
//! makes each one single-use, and the local store of pending requests,
//! which lets `safe-run approve CODE` find a request made on this host.
//!
//! An edge: files under the state directory (by default the audit log's).
//! The ledger is appended under an exclusive `flock` and flushed to disk
//! (`fsync`) before the command runs, so two sessions pasting the same
//! approval at once cannot both run, and a crash right after cannot give
//! the approval back. An approval that cannot be recorded as used is not
//! accepted: the ledger fails closed.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use nix::fcntl::{Flock, FlockArg};

use super::{ApprovalRequest, ApprovalStore};

/// The ledger's file name in the state directory.
pub const LEDGER: &str = "approvals-used";
/// The pending requests' directory in the state directory.
pub const REQUESTS: &str = "approval-requests";
/// A ledger larger than this is compacted (expired entries dropped).
const COMPACT_AT: u64 = 1 << 20;

/// Records the request `id` (valid until `expires`) as used, or refuses
/// because it already was. Creates the directory and file as needed.
pub fn spend(dir: &Path, id: &str, expires: Timestamp, now: Timestamp) -> Result<(), String> {
    let path = dir.join(LEDGER);
    let shown = path.display().to_string();
    fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create the approvals' state directory {}: {e}",
            dir.display()
        )
    })?;
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| format!("cannot open the ledger of used approvals {shown}: {e}"))?;
    let mut file = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("cannot lock the ledger of used approvals {shown}: {e}"))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| format!("cannot read the ledger of used approvals {shown}: {e}"))?;
    if text
        .lines()
        .any(|l| l.split_whitespace().next() == Some(id))
    {
        return Err(
            "this approval was already used: an approval runs one command once; ask for a new one"
                .to_string(),
        );
    }
    let entry = format!("{id} {}\n", expires.as_second());
    file.write_all(entry.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot record the approval as used in {shown}: {e}"))?;
    if file.metadata().is_ok_and(|m| m.len() > COMPACT_AT) {
        compact(&path, &text, &entry, now);
    }
    Ok(())
}

/// Rewrites the ledger without the entries that expired (they can never
/// be accepted again anyway), while the lock is held.
fn compact(path: &Path, old: &str, entry: &str, now: Timestamp) {
    let keep: String = old
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<i64>().ok())
                .is_none_or(|t| t + super::SKEW.as_secs() as i64 >= now.as_second())
        })
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + entry;
    let tmp = path.with_extension("tmp");
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(keep.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

/// The requests made on this host, by code, in the state directory.
pub struct LocalStore {
    pub dir: PathBuf,
}

impl LocalStore {
    fn path(&self, code: &str) -> Option<PathBuf> {
        let code = code.trim().to_ascii_uppercase();
        let ok = code.len() == 11 && code.chars().all(|c| c == '-' || c.is_ascii_alphanumeric());
        ok.then(|| self.dir.join(REQUESTS).join(code))
    }
}

impl ApprovalStore for LocalStore {
    fn publish(&mut self, request: &ApprovalRequest) -> Result<(), String> {
        let path = self
            .path(&request.code())
            .ok_or_else(|| "no place for the request".to_string())?;
        let dir = self.dir.join(REQUESTS);
        fs::create_dir_all(&dir)
            .and_then(|()| fs::write(&path, request.text()))
            .map_err(|e| format!("cannot keep the request in {}: {e}", dir.display()))
    }

    fn find(&mut self, code: &str) -> Option<ApprovalRequest> {
        let mut text = String::new();
        File::open(self.path(code)?)
            .ok()?
            .take(64 * 1024)
            .read_to_string(&mut text)
            .ok()?;
        let request = ApprovalRequest::from_text(&text).ok()?;
        (request.code() == code.trim().to_ascii_uppercase()).then_some(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_is_spent_once() {
        let dir = tempfile::tempdir().unwrap();
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
        let state = dir.path().join("state");
        spend(&state, "abc", now, now).unwrap();
        spend(&state, "abd", now, now).unwrap();
        let e = spend(&state, "abc", now, now).unwrap_err();
        assert!(e.contains("already used"), "{e}");
        let mode = fs::metadata(state.join(LEDGER))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_ledger_that_cannot_be_written_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        fs::write(&file, "").unwrap();
        let now = Timestamp::UNIX_EPOCH;
        assert!(spend(&file, "abc", now, now).is_err());
    }

    #[test]
    fn requests_are_found_by_their_code() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LocalStore {
            dir: dir.path().to_path_buf(),
        };
        let r = ApprovalRequest::new(
            "h",
            "alice",
            "reboot",
            Timestamp::UNIX_EPOCH,
            std::time::Duration::from_secs(60),
        );
        store.publish(&r).unwrap();
        assert_eq!(store.find(&r.code().to_lowercase()), Some(r.clone()));
        assert_eq!(store.find("../../etc/passwd"), None);
        assert_eq!(store.find("AAAAA-AAAAA"), None);
    }
}
