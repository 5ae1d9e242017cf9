//! Opening a file the policy comes from — the configuration, a rule
//! directory, a rule file — the way sudo opens sudoers: only a regular
//! file, only if nobody but root and the user running safe-run can change
//! it, only up to a size, and never in a way that can block.
//!
//! The decision is pure ([`writable_by_others`], [`not_a_file`]): the
//! file's facts come in as values, so it is tested with plain numbers.
//! [`read_trusted`] and [`check_dir`] are the edge: they open the file
//! with `O_NONBLOCK` (a FIFO put in the file's place answers at once
//! instead of hanging the login), look at what was opened, and read it.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::unistd::{Gid, Group, Uid, User};

/// Why a file was not read.
#[derive(Debug)]
pub enum FileProblem {
    /// It could not be opened or read (a missing file is this).
    Io(io::Error),
    /// It is larger than the limit.
    TooLarge,
    /// Every user may write to it (mode `o+w`).
    WorldWritable(u32),
    /// Someone besides root and this user may change it.
    NotTrusted(String),
}

/// Who may change a file, as [`writable_by_others`] needs to know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The owner's user name, if known.
    pub owner_name: Option<String>,
    /// The group's name and its listed members, if known.
    pub group: Option<(String, Vec<String>)>,
}

/// Why someone besides root and `me` (the effective uid) could change a
/// file with this ownership, or `None` when only they can. A group that
/// may write is harmless only when it is root's group or the owner's own
/// private group (named as the owner, no other member). Pure.
pub fn writable_by_others(o: &Ownership, me: u32, what: &str) -> Option<String> {
    if o.mode & 0o002 != 0 {
        return Some(format!(
            "{what} is writable by every user (mode {:o}): run `chmod o-w` on it",
            o.mode
        ));
    }
    if o.uid != 0 && o.uid != me {
        let owner = o
            .owner_name
            .clone()
            .unwrap_or_else(|| format!("uid {}", o.uid));
        return Some(format!(
            "{what} belongs to {owner}, who could change it: it must belong to root or to the user running safe-run (`chown root` it)"
        ));
    }
    if o.mode & 0o020 != 0 && o.gid != 0 {
        let private = match (&o.group, &o.owner_name) {
            (Some((name, members)), Some(owner)) => {
                name == owner && members.iter().all(|m| m == owner)
            }
            _ => false,
        };
        if !private {
            let group = o
                .group
                .as_ref()
                .map_or_else(|| format!("gid {}", o.gid), |(name, _)| name.clone());
            return Some(format!(
                "{what} is writable by the group {group} (mode {:o}), whose members could change it: run `chmod g-w` on it",
                o.mode
            ));
        }
    }
    None
}

/// What kind of thing a path is, when it is not something to read a
/// policy from; `None` for a regular file and for `/dev/null` (an empty
/// file: `--config /dev/null` means "the defaults"). Pure.
pub fn not_a_file(file_type: std::fs::FileType, rdev: u64) -> Option<&'static str> {
    const DEV_NULL: u64 = (1 << 8) | 3;
    if file_type.is_file() || (file_type.is_char_device() && rdev == DEV_NULL) {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_char_device() || file_type.is_block_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

/// The facts of `meta` that [`writable_by_others`] needs, with the owner's
/// and group's names looked up.
fn ownership(meta: &Metadata) -> Ownership {
    let owner_name = User::from_uid(Uid::from_raw(meta.uid()))
        .ok()
        .flatten()
        .map(|u| u.name);
    let group = Group::from_gid(Gid::from_raw(meta.gid()))
        .ok()
        .flatten()
        .map(|g| (g.name, g.mem));
    Ownership {
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        owner_name,
        group,
    }
}

/// Why others could change the file or directory of `meta`, if they
/// could. The user and group databases are only asked when the mode and
/// owner alone do not settle it (they may be slow, over the network).
fn others_could_write(meta: &Metadata, what: &str) -> Option<String> {
    let me = nix::unistd::geteuid().as_raw();
    let plain = meta.mode() & 0o022 == 0 || (meta.mode() & 0o002 == 0 && meta.gid() == 0);
    if plain && (meta.uid() == 0 || meta.uid() == me) {
        return None;
    }
    writable_by_others(&ownership(meta), me, what)
}

fn trust(meta: &Metadata, what: &str) -> Result<(), FileProblem> {
    let mode = meta.mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(FileProblem::WorldWritable(mode));
    }
    match others_could_write(meta, what) {
        Some(why) => Err(FileProblem::NotTrusted(why)),
        None => Ok(()),
    }
}

/// Reads a file the policy comes from: a regular file (or `/dev/null`)
/// that only root and this user can change, at most `max` bytes. Opened
/// without blocking, so a FIFO is refused instead of waited on. `what`
/// names the file in messages ("the configuration file").
pub fn read_trusted(path: &Path, max: u64, what: &str) -> Result<Vec<u8>, FileProblem> {
    let file = File::options()
        .read(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open(path)
        .map_err(FileProblem::Io)?;
    let meta = file.metadata().map_err(FileProblem::Io)?;
    if let Some(kind) = not_a_file(meta.file_type(), meta.rdev()) {
        return Err(FileProblem::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {kind}, not a file"),
        )));
    }
    if meta.is_file() {
        trust(&meta, what)?;
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(FileProblem::Io)?;
    if bytes.len() as u64 > max {
        return Err(FileProblem::TooLarge);
    }
    Ok(bytes)
}

/// Checks a directory that rule files are read from: others must not be
/// able to add or replace files in it. A missing directory is fine (it
/// has no files); the error is a sentence.
pub fn check_dir(path: &Path) -> Result<(), String> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read the rule directory: {e}")),
    };
    if !meta.is_dir() {
        return Err("not a directory".into());
    }
    match others_could_write(&meta, "the rule directory") {
        Some(why) => Err(format!("refused: {why}")),
        None => Ok(()),
    }
}

/// What a path component is, for [`root_only`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    File,
    Dir,
    Symlink,
}

/// Why a file (or a directory on its path, or a symbolic link on it) with
/// this owner and mode could be changed by someone besides root, or
/// `None` when only root can. Stricter than [`writable_by_others`], for
/// the files that grant power over others, such as `allowed_signers`:
/// there the user running safe-run is the one who must not be able to
/// change it, so owning it is no excuse. A directory that others may
/// write lets them rename the file away and put their own in its place;
/// the exception is a sticky directory owned by root (`/tmp`), in which
/// nobody may rename or remove an entry they do not own — and the next
/// component must be root's. A symbolic link's mode means nothing; only
/// its owner is checked. Pure.
pub fn root_only(uid: u32, mode: u32, kind: Component, what: &str) -> Option<String> {
    if uid != 0 {
        return Some(format!(
            "{what} belongs to uid {uid}, who could change it: it must belong to root (`chown root` it)"
        ));
    }
    let others_write = mode & 0o022 != 0;
    let sticky_dir = kind == Component::Dir && mode & 0o1000 != 0;
    if kind != Component::Symlink && others_write && !sticky_dir {
        return Some(format!(
            "{what} is writable by its group or every user (mode {:o}): run `chmod go-w` on it",
            mode & 0o7777
        ));
    }
    None
}

/// Reads a file that only root may be able to change: the file itself and
/// every directory from it up to `/`, both as written and with symbolic
/// links resolved, are checked with [`root_only`]. Opened without
/// blocking and without following a link, at most `max` bytes. The error
/// is a sentence about `what`.
pub fn read_root_only(path: &Path, max: u64, what: &str) -> Result<Vec<u8>, String> {
    let real = std::fs::canonicalize(path).map_err(|e| format!("cannot read {what}: {e}"))?;
    for chain in [path, real.as_path()] {
        for dir in chain.ancestors().skip(1) {
            if dir.as_os_str().is_empty() {
                continue;
            }
            let meta = std::fs::symlink_metadata(dir)
                .map_err(|e| format!("cannot check {}: {e}", dir.display()))?;
            let kind = if meta.file_type().is_symlink() {
                Component::Symlink
            } else {
                Component::Dir
            };
            let name = format!("the directory {} (on the path of {what})", dir.display());
            if let Some(why) = root_only(meta.uid(), meta.mode(), kind, &name) {
                return Err(why);
            }
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.file_type().is_symlink()
        && let Some(why) = root_only(meta.uid(), meta.mode(), Component::Symlink, what)
    {
        return Err(why);
    }
    let file = File::options()
        .read(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_NOFOLLOW).bits())
        .open(&real)
        .map_err(|e| format!("cannot read {what}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {what}: {e}"))?;
    if !meta.is_file() {
        let kind = not_a_file(meta.file_type(), meta.rdev()).unwrap_or("not a regular file");
        return Err(format!("{what} is {kind}, not a file"));
    }
    if let Some(why) = root_only(meta.uid(), meta.mode(), Component::File, what) {
        return Err(why);
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what}: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("{what} is larger than {max} bytes"));
    }
    Ok(bytes)
}

/// [`read_trusted`]'s problem as a sentence (`what`: "the rule file").
pub fn describe(problem: &FileProblem, what: &str) -> String {
    match problem {
        FileProblem::Io(e) => format!("cannot read {what}: {e}"),
        FileProblem::TooLarge => format!("{what} is too large to be a rule file"),
        FileProblem::WorldWritable(mode) => format!(
            "refused: {what} is writable by every user (mode {mode:o}): run `chmod o-w` on it"
        ),
        FileProblem::NotTrusted(why) => format!("refused: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn own(mode: u32, uid: u32, gid: u32) -> Ownership {
        Ownership {
            mode,
            uid,
            gid,
            owner_name: Some("alice".into()),
            group: Some(("staff".into(), vec!["alice".into(), "bob".into()])),
        }
    }

    #[test]
    fn only_root_and_the_user_running_may_be_able_to_write() {
        // Root's file, or mine, not writable by others: fine.
        assert_eq!(writable_by_others(&own(0o644, 0, 0), 1000, "f"), None);
        assert_eq!(writable_by_others(&own(0o600, 1000, 50), 1000, "f"), None);
        // Root's group may write.
        assert_eq!(writable_by_others(&own(0o664, 0, 0), 1000, "f"), None);
        // Everyone may write, even with root as the owner.
        let why = writable_by_others(&own(0o666, 0, 0), 1000, "f").unwrap();
        assert!(
            why.contains("mode 666") && why.contains("chmod o-w"),
            "{why}"
        );
        // Someone else's file.
        let why = writable_by_others(&own(0o644, 1001, 1001), 1000, "f").unwrap();
        assert!(why.contains("belongs to alice"), "{why}");
        // A shared group may write.
        let why = writable_by_others(&own(0o664, 1000, 50), 1000, "f").unwrap();
        assert!(
            why.contains("group staff") && why.contains("chmod g-w"),
            "{why}"
        );
    }

    #[test]
    fn only_root_may_be_able_to_change_a_file_that_grants_power() {
        use Component::*;
        assert_eq!(root_only(0, 0o644, File, "f"), None);
        assert_eq!(root_only(0, 0o755, Dir, "d"), None);
        // The user's own file: they could approve their own requests.
        let why = root_only(1000, 0o600, File, "f").unwrap();
        assert!(
            why.contains("uid 1000") && why.contains("chown root"),
            "{why}"
        );
        // Writable by a group or everyone, file or directory.
        for (mode, kind) in [(0o664, File), (0o646, File), (0o775, Dir), (0o757, Dir)] {
            let why = root_only(0, mode, kind, "x").unwrap();
            assert!(why.contains("chmod go-w"), "{mode:o}: {why}");
        }
        // A sticky directory of root's (/tmp): others cannot replace root's
        // entries in it. Not so for a file, nor for a sticky dir of a user.
        assert_eq!(root_only(0, 0o1777, Dir, "d"), None);
        assert!(root_only(0, 0o1666, File, "f").is_some());
        assert!(root_only(1000, 0o1777, Dir, "d").is_some());
        // A link's mode is always 777 and means nothing; its owner counts.
        assert_eq!(root_only(0, 0o777, Symlink, "l"), None);
        assert!(root_only(1000, 0o777, Symlink, "l").is_some());
    }

    #[test]
    fn a_root_only_file_is_checked_up_its_path() {
        // These tests run as root in CI; as another user, the temp dir is
        // theirs and every read is rightly refused, so there is nothing to
        // show here.
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("allowed_signers");
        std::fs::write(&file, "bob ssh-ed25519 AAAA\n").unwrap();
        assert!(read_root_only(&file, 100, "the file").is_ok());
        // A parent directory others may write: refused.
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let inside = open.join("allowed_signers");
        std::fs::write(&inside, "x\n").unwrap();
        let why = read_root_only(&inside, 100, "the file").unwrap_err();
        assert!(
            why.contains("directory") && why.contains("chmod go-w"),
            "{why}"
        );
        // A file of another user: refused, though root runs this.
        nix::unistd::chown(&file, Some(Uid::from_raw(1000)), None).unwrap();
        let why = read_root_only(&file, 100, "the file").unwrap_err();
        assert!(why.contains("uid 1000"), "{why}");
        // A FIFO answers at once.
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let why = read_root_only(&fifo, 100, "the file").unwrap_err();
        assert!(why.contains("FIFO"), "{why}");
    }

    #[test]
    fn the_owners_private_group_may_write() {
        let mut o = own(0o664, 1000, 1000);
        o.group = Some(("alice".into(), vec![]));
        assert_eq!(writable_by_others(&o, 1000, "f"), None);
        o.group = Some(("alice".into(), vec!["mallory".into()]));
        assert!(writable_by_others(&o, 1000, "f").is_some());
        o.group = None;
        assert!(writable_by_others(&o, 1000, "f").is_some());
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("config.toml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        match read_trusted(&fifo, 100, "the file") {
            Err(FileProblem::Io(e)) => assert!(e.to_string().contains("FIFO"), "{e}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn dev_null_reads_as_empty_and_a_directory_is_refused() {
        assert_eq!(
            read_trusted(Path::new("/dev/null"), 10, "f").unwrap(),
            Vec::<u8>::new()
        );
        let dir = tempfile::tempdir().unwrap();
        match read_trusted(dir.path(), 10, "f") {
            Err(FileProblem::Io(e)) => assert!(e.to_string().contains("a directory"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}
