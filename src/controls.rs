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

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use jiff::Zoned;

use crate::config::Config;
use crate::freeze::{self, Freeze, FreezeFile, FreezeSettings};

/// What the change-control steps need from the world.
pub trait Controls {
    /// The freeze settings in force.
    fn freeze_settings(&self) -> &FreezeSettings;
    /// The freeze in force now, if any.
    fn freeze(&mut self) -> Option<Freeze>;
}

/// No change controls: no freeze, nothing needs an approval.
#[derive(Default)]
pub struct Fixed {
    pub freeze_settings: FreezeSettings,
    pub frozen: Option<Freeze>,
}

impl Controls for Fixed {
    fn freeze_settings(&self) -> &FreezeSettings {
        &self.freeze_settings
    }
    fn freeze(&mut self) -> Option<Freeze> {
        self.frozen.clone()
    }
}

/// The real controls of a session: the host's clock (local time, `TZ`)
/// and files.
pub struct SiteControls {
    freeze: FreezeSettings,
}

impl SiteControls {
    pub fn new(config: &Config) -> SiteControls {
        SiteControls {
            freeze: config.freeze.clone(),
        }
    }
}

impl Controls for SiteControls {
    fn freeze_settings(&self) -> &FreezeSettings {
        &self.freeze
    }

    fn freeze(&mut self) -> Option<Freeze> {
        freeze_now(&self.freeze)
    }
}

/// The freeze in force now under `settings`: reads the freeze file and
/// the clock. For the pipeline, `safe-run config` and the shell's banner.
pub fn freeze_now(settings: &FreezeSettings) -> Option<Freeze> {
    let file = read_freeze_file(&settings.file);
    freeze::in_force(settings, &file, &Zoned::now())
}

/// What the freeze file holds: absent, its text (bounded), or why it
/// cannot be read. Its presence is what freezes; nobody gains anything by
/// planting one, so unlike the configuration its owner is not checked.
pub fn read_freeze_file(path: &Path) -> FreezeFile {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return FreezeFile::Absent,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTDIR) => return FreezeFile::Absent,
        Err(e) => return FreezeFile::Unreadable(e.to_string()),
    };
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
}
