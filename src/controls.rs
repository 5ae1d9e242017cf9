//! The change controls' side effects: the clock, the freeze file, and
//! (`approval`) the allowed signers, the single-use ledger and where
//! requests are published — behind one trait, [`Controls`], that the
//! pipeline receives in its `Io` like the prompter and the audit sink.
//!
//! Shaped like `audit::recorder`: the trait is what the steps (`gate`)
//! see, so their tests pass a fixed clock and plain values
//! ([`Fixed`]); [`SiteControls`] is the edge that reads the real clock
//! and files. What a freeze or an approval *means* stays pure in
//! `freeze` and `approval`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use nix::fcntl::OFlag;

use crate::approval::signers::{self, Signer, SignerProblem};
use crate::approval::state::{self, LocalStore};
use crate::approval::{ApprovalRequest, ApprovalSettings, ApprovalStore, Requester};
use crate::config::Config;
use crate::config::file::{not_a_file, read_root_only};
use crate::freeze::{self, Freeze, FreezeFile, FreezeSettings};

/// What the change-control steps need from the world.
pub trait Controls {
    /// The freeze settings in force.
    fn freeze_settings(&self) -> &FreezeSettings;
    /// The freeze in force now, if any.
    fn freeze(&mut self) -> Option<Freeze>;
    /// The approval settings in force.
    fn approval_settings(&self) -> &ApprovalSettings;
    /// Now.
    fn now(&self) -> Timestamp;
    /// Who asks: the name requests and records carry (the person behind
    /// sudo/su, else the user), and every name that counts as them.
    fn requester(&self) -> Requester;
    /// The allowed signers, and the lines of the file that cannot be
    /// read; an error when the file itself cannot be read or trusted.
    fn allowed_signers(&mut self) -> Result<(Vec<Signer>, Vec<SignerProblem>), String>;
    /// Records the approved request `id` as used; refuses a reuse.
    fn spend(&mut self, id: &str, expires: Timestamp) -> Result<(), String>;
    /// Where requests are published and approvals may be delivered.
    fn store(&mut self) -> &mut dyn ApprovalStore;
}

/// Controls given as plain values, for tests: a fixed freeze and clock,
/// the signers' text, and the ledger and store in memory. The default has
/// no freeze and nothing that needs an approval.
#[derive(Default)]
pub struct Fixed {
    pub freeze_settings: FreezeSettings,
    pub frozen: Option<Freeze>,
    pub approval: ApprovalSettings,
    pub now: Timestamp,
    pub requester: Requester,
    pub signers: String,
    pub spent: Vec<String>,
    pub requests: MemoryStore,
}

/// Requests kept in memory.
#[derive(Default)]
pub struct MemoryStore {
    pub published: HashMap<String, ApprovalRequest>,
}

impl ApprovalStore for MemoryStore {
    fn publish(&mut self, request: &ApprovalRequest) -> Result<(), String> {
        self.published.insert(request.code(), request.clone());
        Ok(())
    }
    fn find(&mut self, code: &str) -> Option<ApprovalRequest> {
        self.published.get(code).cloned()
    }
}

impl Controls for Fixed {
    fn freeze_settings(&self) -> &FreezeSettings {
        &self.freeze_settings
    }
    fn freeze(&mut self) -> Option<Freeze> {
        self.frozen.clone()
    }
    fn approval_settings(&self) -> &ApprovalSettings {
        &self.approval
    }
    fn now(&self) -> Timestamp {
        self.now
    }
    fn requester(&self) -> Requester {
        self.requester.clone()
    }
    fn allowed_signers(&mut self) -> Result<(Vec<Signer>, Vec<SignerProblem>), String> {
        Ok(signers::parse(&self.signers))
    }
    fn spend(&mut self, id: &str, _expires: Timestamp) -> Result<(), String> {
        if self.spent.iter().any(|s| s == id) {
            return Err("this approval was already used".into());
        }
        self.spent.push(id.to_string());
        Ok(())
    }
    fn store(&mut self) -> &mut dyn ApprovalStore {
        &mut self.requests
    }
}

/// The real controls of a session: the host's clock (local time, `TZ`)
/// and files.
pub struct SiteControls {
    freeze: FreezeSettings,
    approval: ApprovalSettings,
    requester: Requester,
    /// Where used approvals and pending requests are kept, or why there
    /// is no such place.
    state: Result<PathBuf, String>,
    store: Box<dyn ApprovalStore>,
}

impl SiteControls {
    /// `requester`: who asks (the person behind sudo/su, else the user,
    /// and every name they go by: [`requester_names`]);
    /// `audit_log`: the audit log, beside which the approvals' state is
    /// kept unless `[approval] state_dir` says otherwise.
    pub fn new(config: &Config, requester: Requester, audit_log: Option<&Path>) -> SiteControls {
        let state = state_dir(&config.approval, audit_log);
        SiteControls {
            freeze: config.freeze.clone(),
            approval: config.approval.clone(),
            requester,
            store: match &state {
                Ok(dir) => Box::new(LocalStore { dir: dir.clone() }),
                Err(why) => Box::new(NoStore(why.clone())),
            },
            state,
        }
    }
}

/// Who asks for an approval: shown as `shown` (the login user, else the
/// user), and known as every one of the real uid's user, the login uid's
/// user and `SUDO_USER`. `SUDO_USER` is anyone's to set, so it may name
/// the requester but never unname them: the real user and the login user
/// are always among the names, and a key listed under any of them does
/// not approve. Pure.
pub fn requester_names(
    shown: &str,
    user: &str,
    loginuid_user: Option<&str>,
    sudo_user: Option<&str>,
) -> Requester {
    let mut also = vec![user];
    also.extend(loginuid_user);
    also.extend(sudo_user);
    Requester::new(shown, &also)
}

/// The approvals' state directory: `[approval] state_dir`, else the audit
/// log's directory.
pub fn state_dir(settings: &ApprovalSettings, audit_log: Option<&Path>) -> Result<PathBuf, String> {
    match (&settings.state_dir, audit_log.and_then(Path::parent)) {
        (Some(dir), _) => Ok(dir.clone()),
        (None, Some(dir)) if !dir.as_os_str().is_empty() => Ok(dir.to_path_buf()),
        _ => Err(
            "there is no audit log to keep the approvals' state beside: set [approval] state_dir"
                .into(),
        ),
    }
}

impl Controls for SiteControls {
    fn freeze_settings(&self) -> &FreezeSettings {
        &self.freeze
    }

    fn freeze(&mut self) -> Option<Freeze> {
        freeze_now(&self.freeze)
    }

    fn approval_settings(&self) -> &ApprovalSettings {
        &self.approval
    }

    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn requester(&self) -> Requester {
        self.requester.clone()
    }

    fn allowed_signers(&mut self) -> Result<(Vec<Signer>, Vec<SignerProblem>), String> {
        let path = &self.approval.allowed_signers;
        let shown = path.display();
        // Whoever can change this file can approve anything, the requester
        // included: it, and every directory up to `/`, must be root's
        // alone — unlike the configuration, owning it is no excuse.
        let bytes = read_root_only(path, 1 << 20, &format!("the allowed signers file {shown}"))
            .map_err(|why| format!("{why}; no approval is accepted until it is fixed"))?;
        Ok(signers::parse(&String::from_utf8_lossy(&bytes)))
    }

    fn spend(&mut self, id: &str, expires: Timestamp) -> Result<(), String> {
        let dir = self.state.as_ref().map_err(Clone::clone)?;
        state::spend(dir, id, expires, Timestamp::now())
    }

    fn store(&mut self) -> &mut dyn ApprovalStore {
        self.store.as_mut()
    }
}

/// No place to keep requests: publishing says why, nothing is found.
struct NoStore(String);

impl ApprovalStore for NoStore {
    fn publish(&mut self, _request: &ApprovalRequest) -> Result<(), String> {
        Err(self.0.clone())
    }
    fn find(&mut self, _code: &str) -> Option<ApprovalRequest> {
        None
    }
}

/// The freeze in force now under `settings`: reads the freeze file and
/// the clock. For the pipeline, `safe-run config` and the shell's banner.
///
/// The clock is read in `[freeze] timezone`, else the system's zone from
/// `/etc/localtime`, else UTC — never in `$TZ` (`freeze::zone`).
pub fn freeze_now(settings: &FreezeSettings) -> Option<Freeze> {
    let file = read_freeze_file(&settings.file);
    let localtime = match settings.timezone {
        Some(_) => None,
        None => read_localtime(),
    };
    let now = Timestamp::now().to_zoned(freeze::zone(
        settings.timezone.as_ref(),
        localtime.as_deref(),
    ));
    freeze::in_force(settings, &file, &now)
}

/// The bytes of `/etc/localtime` (a TZif file, usually a link into the
/// zone database), bounded; `None` when it cannot be read.
fn read_localtime() -> Option<Vec<u8>> {
    let file = File::options()
        .read(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open("/etc/localtime")
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(1 << 20).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// What the freeze file holds: absent, its text (bounded), or why it
/// cannot be read. Its presence is what freezes; nobody gains anything by
/// planting one, so unlike the configuration its owner is not checked.
///
/// Opened with `O_NONBLOCK` and looked at before it is read: a FIFO (or a
/// device) put there would otherwise hang the banner, `safe-run config`
/// and every risky line waiting for a writer. Something there that is not
/// a regular file still counts as a freeze — its presence is what freezes
/// — with a message saying what it is.
pub fn read_freeze_file(path: &Path) -> FreezeFile {
    let file = match File::options()
        .read(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return FreezeFile::Absent,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => return FreezeFile::Absent,
        Err(e) => return FreezeFile::Unreadable(e.to_string()),
    };
    match file.metadata() {
        Ok(meta) if meta.is_file() => {}
        Ok(meta) => {
            let kind = not_a_file(meta.file_type(), meta.rdev()).unwrap_or("not a regular file");
            return FreezeFile::Unreadable(format!("it is {kind}, not a regular file"));
        }
        Err(e) => return FreezeFile::Unreadable(e.to_string()),
    }
    let mut bytes = Vec::new();
    match file.take(freeze::FILE_MAX as u64).read_to_end(&mut bytes) {
        Ok(_) => FreezeFile::Present(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => FreezeFile::Unreadable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requester_is_every_name_a_spoofed_sudo_user_cannot_hide() {
        // alice, with no login uid, exports SUDO_USER=bob: shown as bob,
        // but still alice.
        let r = requester_names("bob", "alice", None, Some("bob"));
        assert_eq!(r.name, "bob");
        assert_eq!(r.names, ["bob", "alice"]);
        assert!(r.is("alice@example.com"));
        // root behind sudo from alice's login: root, alice and SUDO_USER.
        let r = requester_names("alice", "root", Some("alice"), Some("carol"));
        assert_eq!(r.names, ["alice", "root", "carol"]);
        assert!(!requester_names("alice", "alice", None, Some("")).is("bob"));
    }

    #[test]
    fn the_freeze_file_is_read_bounded_and_its_absence_is_no_freeze() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("freeze");
        assert_eq!(read_freeze_file(&path), FreezeFile::Absent);
        assert_eq!(
            read_freeze_file(&dir.path().join("no-dir/freeze")),
            FreezeFile::Absent
        );
        std::fs::write(&path, "x".repeat(10_000)).unwrap();
        match read_freeze_file(&path) {
            FreezeFile::Present(text) => assert_eq!(text.len(), freeze::FILE_MAX),
            other => panic!("{other:?}"),
        }
        // A directory where the file should be: exists, cannot be read.
        let d = dir.path().join("d");
        std::fs::create_dir(&d).unwrap();
        assert!(matches!(read_freeze_file(&d), FreezeFile::Unreadable(_)));
    }

    #[test]
    fn a_fifo_as_the_freeze_file_freezes_at_once_instead_of_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("freeze");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        // No writer ever comes: a blocking open would wait here forever.
        let read = read_freeze_file(&fifo);
        let FreezeFile::Unreadable(why) = &read else {
            panic!("{read:?}")
        };
        assert!(
            why.contains("FIFO") && why.contains("not a regular file"),
            "{why}"
        );
        let settings = FreezeSettings {
            file: fifo.clone(),
            ..FreezeSettings::default()
        };
        let f = freeze::in_force(&settings, &read, &jiff::Zoned::now()).expect("a freeze");
        assert!(f.message.contains("not a regular file"), "{}", f.message);
    }
}
