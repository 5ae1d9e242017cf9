//! Filesystem repair: `xfs_repair -n` and `fsck -n`/`e2fsck -n` read
//! against the repair command that was hit and the mount table.
//!
//! Says whether the device is mounted (from `/proc/self/mounts`, handed in
//! by the runner: this file reads nothing), what the read-only check found
//! (how many problems, a log that cannot be replayed, a journal to recover,
//! the wrong filesystem altogether), and what the repair's flags throw
//! away: "-L zeroes the log: the last transactions are lost", "-y answers
//! yes to every fix".

use super::fact::{Context, Fact, Value, plural, some_of};

/// Flags that take a value, per program family.
const XFS_VALUE_FLAGS: &[&str] = &["-l", "-r", "-o", "-m", "-c", "-t"];
const FSCK_VALUE_FLAGS: &[&str] = &["-t", "-C", "-b", "-B", "-j", "-l", "-L", "-z", "-E"];

/// The devices (or mount points) a command names.
fn devices<'a>(command: &'a [String], value_flags: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in command.iter().skip(1) {
        if skip {
            skip = false;
            continue;
        }
        if a.starts_with('-') {
            skip = value_flags.contains(&a.as_str());
            continue;
        }
        out.push(a.as_str());
    }
    out
}

/// Does the command carry this short flag, alone or in a cluster (`-fy`)?
fn has_flag(command: &[String], flag: char) -> bool {
    command.iter().skip(1).any(|a| {
        a.len() > 1
            && a.starts_with('-')
            && !a.starts_with("--")
            && a[1..].chars().all(|c| c.is_ascii_alphabetic())
            && a[1..].contains(flag)
    })
}

/// `/proc/mounts` escapes spaces and the like as `\040`.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.clone().take(3).collect();
            if code.len() == 3
                && let Ok(n) = u8::from_str_radix(&code, 8)
            {
                out.push(char::from(n));
                chars.nth(2);
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Where `device` is mounted, from the mount table's text: `(mount
/// point, type, rw|ro)`. A device named by its mount point matches too.
fn mounted(mounts: &str, device: &str) -> Option<(String, String, String)> {
    mounts.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            return None;
        }
        let (src, dir) = (unescape(f[0]), unescape(f[1]));
        if src != device && dir != device {
            return None;
        }
        let mode = if f[3].split(',').any(|o| o == "ro") {
            "ro"
        } else {
            "rw"
        };
        Some((dir, f[2].to_string(), mode.to_string()))
    })
}

/// The mounted-or-not facts for the devices of a repair command.
fn mount_facts(devs: &[&str], ctx: &Context, facts: &mut Vec<Fact>) {
    let Some(mounts) = ctx.mounts else { return };
    for dev in devs {
        match mounted(mounts, dev) {
            Some((dir, fstype, mode)) => facts.push(
                Fact::loud(format!(
                    "{dev} is mounted at {dir} ({fstype}, {mode}): repairing a mounted filesystem damages it; unmount it first"
                ))
                .with("mounted", Value::Text(dir)),
            ),
            None => facts.push(
                Fact::plain(format!("{dev} is not mounted"))
                    .with("mounted", Value::Flag(false)),
            ),
        }
    }
}

/// Is this line of xfs_repair's output progress or a note, not a finding?
fn xfs_noise(line: &str) -> bool {
    let t = line.trim();
    t.is_empty()
        || line.starts_with("Phase ")
        || line.starts_with("        - ")
        || t.starts_with("No modify flag set")
        || t == "Cannot get host filesystem geometry."
        || t.starts_with("Repair may fail if there is a sector size mismatch")
        || t == "the image and the host filesystem."
        || t.starts_with("attempting to find secondary superblock")
        || t.chars().all(|c| c == '.')
        || t == "Exiting now."
}

pub fn summarise_xfs(text: &str, command: &[String], ctx: &Context) -> Result<Vec<Fact>, String> {
    if !text.contains("Phase 1 - find and verify superblock") {
        return Err("no xfs_repair phases in the output".to_string());
    }
    let devs = devices(command, XFS_VALUE_FLAGS);
    let dev = devs.last().copied().unwrap_or("the device");
    let mut facts = Vec::new();
    mount_facts(&devs[devs.len().saturating_sub(1)..], ctx, &mut facts);

    if text.contains("could not find valid secondary superblock") {
        facts.push(
            Fact::loud(format!(
                "no XFS filesystem found on {dev} (bad magic number, no secondary superblock): is it the right device?"
            ))
            .with("filesystem", Value::Text("not xfs".into())),
        );
        return Ok(facts);
    }
    let log_unreadable = text.contains("cannot find log head/tail");
    let log_dirty = text.contains("valuable metadata changes in a log");
    let problems: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Phase 1"))
        .filter(|l| !xfs_noise(l))
        .map(|l| l.trim().to_string())
        .collect();
    if log_unreadable {
        facts.push(
            Fact::loud(
                "the log cannot be read (its head and tail are not found): xfs_repair refuses to repair without -L",
            )
            .with("log", Value::Text("unreadable".into())),
        );
    } else if log_dirty {
        facts.push(
            Fact::loud(
                "the log holds metadata changes not yet written to the filesystem: mounting it replays them",
            )
            .with("log", Value::Text("dirty".into())),
        );
    }
    if problems.is_empty() {
        if text.contains("Phase 7") {
            facts.push(
                Fact::plain("xfs_repair -n found no problems").with("problems", Value::Count(0)),
            );
        }
    } else {
        facts.push(
            Fact::loud(format!(
                "xfs_repair -n found {}: {}",
                plural(problems.len(), "problem", "problems"),
                some_of(&problems, 2)
            ))
            .with("problems", Value::Count(problems.len() as u64)),
        );
    }
    if has_flag(command, 'L') {
        let why = if log_dirty {
            ": the metadata changes it holds are thrown away; mount the filesystem to replay them instead"
        } else if log_unreadable {
            " (this log cannot be read anyway: image the device with dd before repairing)"
        } else {
            ", and this log looks intact: mount and unmount the filesystem to replay it instead"
        };
        facts.push(
            Fact::loud(format!(
                "-L zeroes the log: the last transactions are lost{why}"
            ))
            .with("zeroes_log", Value::Flag(true)),
        );
    }
    Ok(facts)
}

/// e2fsck's description of the problem a `… ? no` answer belongs to.
fn e2fsck_problems(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_end();
        if !(t.ends_with("? no") || t == "IGNORED.") {
            continue;
        }
        let head = t.rsplit_once(". ").map_or("", |(h, _)| h).trim();
        let head = if head.is_empty() || head.ends_with('?') {
            // The question is on a line of its own: the problem is above.
            lines[..i]
                .iter()
                .rev()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .unwrap_or("")
                .to_string()
        } else {
            format!("{head}.")
        };
        let head = head.trim_end_matches('.').to_string();
        if !head.is_empty() {
            out.push(head);
        }
    }
    out
}

pub fn summarise_e2fsck(
    text: &str,
    command: &[String],
    ctx: &Context,
) -> Result<Vec<Fact>, String> {
    let devs = devices(command, FSCK_VALUE_FLAGS);
    let dev = devs.first().copied().unwrap_or("the device");
    let mut facts = Vec::new();
    mount_facts(&devs, ctx, &mut facts);

    if text.contains("Bad magic number in super-block")
        || text.contains("superblock could not be read")
    {
        let what = text
            .lines()
            .find_map(|l| {
                l.split_once(" contains a ")
                    .map(|(_, r)| r.trim().to_string())
            })
            .map(|r| format!(" (it contains {})", r.trim_end_matches(" file system")))
            .unwrap_or_default();
        facts.push(
            Fact::loud(format!(
                "no ext2/3/4 filesystem on {dev}{what}: is it the right device?"
            ))
            .with("filesystem", Value::Text("not ext2/3/4".into())),
        );
        return Ok(facts);
    }
    let ran_passes = text.contains("Pass 1: ");
    let clean = text
        .lines()
        .any(|l| l.contains(": clean, ") && l.contains(" files, "));
    if !ran_passes && !clean {
        return Err("no e2fsck result in the output".to_string());
    }
    if text.contains("skipping journal recovery") {
        facts.push(
            Fact::plain(
                "the journal needs recovery (after a crash): a read-only check skips it, the repair replays it first",
            )
            .with("journal", Value::Text("needs recovery".into())),
        );
    }
    if clean && !ran_passes {
        facts.push(
            Fact::plain(format!(
                "{dev} is marked clean, so e2fsck -n did not check it (-f forces a check)"
            ))
            .with("state", Value::Text("clean".into())),
        );
        return Ok(facts);
    }
    let problems = e2fsck_problems(text);
    if text.contains("e2fsck: aborted") {
        facts.push(
            Fact::loud(
                "e2fsck gave up (aborted) even reading: the damage is serious; image the device before any repair",
            )
            .with("aborted", Value::Flag(true)),
        );
    }
    if problems.is_empty() {
        facts.push(Fact::plain("e2fsck -n found no problems").with("problems", Value::Count(0)));
    } else {
        facts.push(
            Fact::loud(format!(
                "e2fsck -n found {}: {}",
                plural(problems.len(), "problem", "problems"),
                some_of(&problems, 2)
            ))
            .with("problems", Value::Count(problems.len() as u64)),
        );
        if has_flag(command, 'y') {
            facts.push(
                Fact::loud(format!(
                    "-y answers yes to every question: all {} fixes are applied (inodes may be cleared, files moved to lost+found)",
                    problems.len()
                ))
                .with("answers_yes", Value::Flag(true)),
            );
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::fact::{Level, fixture};

    const MOUNTS: &str = "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n\
        /dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0\n\
        /dev/sdb1 /srv/data\\040store xfs rw,noatime 0 0\n";

    fn argv(command: &str) -> Vec<String> {
        command.split_whitespace().map(str::to_string).collect()
    }

    fn xfs(text: &str, command: &str, mounts: Option<&str>) -> Vec<Fact> {
        let ctx = Context {
            mounts,
            ..Context::default()
        };
        summarise_xfs(&fixture(text), &argv(command), &ctx).unwrap()
    }

    fn ext(text: &str, command: &str, mounts: Option<&str>) -> Vec<Fact> {
        let ctx = Context {
            mounts,
            ..Context::default()
        };
        summarise_e2fsck(&fixture(text), &argv(command), &ctx).unwrap()
    }

    fn loud(facts: &[Fact]) -> Vec<&str> {
        facts
            .iter()
            .filter(|f| f.level == Level::Loud)
            .map(|f| f.text.as_str())
            .collect()
    }

    const XFS_CLEAN: &str = include_str!("../../tests/fixtures/previews/xfs-repair-clean.txt");
    const XFS_AG: &str = include_str!("../../tests/fixtures/previews/xfs-repair-corrupt-ag.txt");
    const XFS_LOG: &str = include_str!("../../tests/fixtures/previews/xfs-repair-bad-log.txt");
    const XFS_NOT: &str = include_str!("../../tests/fixtures/previews/xfs-repair-not-xfs.txt");

    #[test]
    fn a_clean_xfs_says_so_and_minus_l_still_warns() {
        let facts = xfs(XFS_CLEAN, "xfs_repair /dev/sdc1", Some(MOUNTS));
        assert_eq!(
            facts.iter().map(|f| f.text.as_str()).collect::<Vec<_>>(),
            vec![
                "/dev/sdc1 is not mounted",
                "xfs_repair -n found no problems"
            ]
        );
        let facts = xfs(XFS_CLEAN, "xfs_repair -L /dev/sdc1", None);
        assert_eq!(
            loud(&facts),
            vec![
                "-L zeroes the log: the last transactions are lost, and this log looks intact: mount and unmount the filesystem to replay it instead"
            ]
        );
    }

    #[test]
    fn a_mounted_device_is_loud() {
        let facts = xfs(XFS_CLEAN, "xfs_repair -L /dev/sdb1", Some(MOUNTS));
        assert_eq!(
            loud(&facts)[0],
            "/dev/sdb1 is mounted at /srv/data store (xfs, rw): repairing a mounted filesystem damages it; unmount it first"
        );
    }

    #[test]
    fn damaged_headers_and_an_unreadable_log_are_counted_and_named() {
        let facts = xfs(XFS_AG, "xfs_repair /dev/sdc1", None);
        let l = loud(&facts);
        assert_eq!(l.len(), 1, "{facts:#?}");
        assert!(
            l[0].starts_with("xfs_repair -n found 29 problems: Superblock has bad magic number 0x75c390d. Not an XFS filesystem?, Metadata CRC error"),
            "{l:#?}"
        );
        let facts = xfs(XFS_LOG, "xfs_repair -L /dev/sdc1", None);
        let l = loud(&facts);
        assert_eq!(
            l[0],
            "the log cannot be read (its head and tail are not found): xfs_repair refuses to repair without -L"
        );
        assert!(l[2].starts_with(
            "-L zeroes the log: the last transactions are lost (this log cannot be read anyway"
        ));
    }

    #[test]
    fn the_wrong_device_is_called_out() {
        let facts = xfs(XFS_NOT, "xfs_repair /dev/sdc1", None);
        assert_eq!(
            loud(&facts),
            vec![
                "no XFS filesystem found on /dev/sdc1 (bad magic number, no secondary superblock): is it the right device?"
            ]
        );
        let facts = ext(
            include_str!("../../tests/fixtures/previews/e2fsck-not-ext.txt"),
            "fsck -y /dev/sdc1",
            None,
        );
        assert_eq!(
            loud(&facts),
            vec!["no ext2/3/4 filesystem on /dev/sdc1 (it contains xfs): is it the right device?"]
        );
    }

    #[test]
    fn e2fsck_clean_checked_and_unchecked() {
        let facts = ext(
            include_str!("../../tests/fixtures/previews/e2fsck-clean.txt"),
            "fsck -y /dev/sdc1",
            Some(MOUNTS),
        );
        assert_eq!(
            facts.iter().map(|f| f.text.as_str()).collect::<Vec<_>>(),
            vec![
                "/dev/sdc1 is not mounted",
                "/dev/sdc1 is marked clean, so e2fsck -n did not check it (-f forces a check)"
            ]
        );
        let facts = ext(
            include_str!("../../tests/fixtures/previews/e2fsck-clean-forced.txt"),
            "e2fsck -fy /dev/sdc1",
            None,
        );
        assert_eq!(facts[0].text, "e2fsck -n found no problems");
        assert!(loud(&facts).is_empty());
    }

    #[test]
    fn e2fsck_problems_are_counted_and_minus_y_applies_them_all() {
        let facts = ext(
            include_str!("../../tests/fixtures/previews/e2fsck-errors.txt"),
            "e2fsck -fy /dev/sda1",
            Some(MOUNTS),
        );
        let l = loud(&facts);
        assert!(l[0].starts_with("/dev/sda1 is mounted at / (ext4, rw)"));
        assert_eq!(
            l[1],
            "e2fsck -n found 6 problems: Unattached inode 14, Inode 15 ref count is 5, should be 1 and 4 more"
        );
        assert!(l[2].starts_with("-y answers yes to every question: all 6 fixes are applied"));
    }

    #[test]
    fn an_aborted_check_and_a_journal_to_recover() {
        let facts = ext(
            include_str!("../../tests/fixtures/previews/e2fsck-corrupt-forced.txt"),
            "fsck /dev/sdc1",
            None,
        );
        let l = loud(&facts);
        assert!(l[0].starts_with("e2fsck gave up (aborted)"));
        assert!(
            l[1].starts_with("e2fsck -n found 34 problems: Inode 9 seems to contain garbage"),
            "{l:#?}"
        );
        let facts = ext(
            include_str!("../../tests/fixtures/previews/e2fsck-needs-recovery.txt"),
            "fsck /dev/sdc1",
            None,
        );
        assert!(facts[0].text.starts_with("the journal needs recovery"));
        assert_eq!(facts[0].level, Level::Plain);
    }

    #[test]
    fn other_output_is_not_summarised() {
        let ctx = Context::default();
        assert!(summarise_xfs("xfs_repair: cannot open /dev/x\n", &[], &ctx).is_err());
        assert!(summarise_e2fsck("fsck from util-linux 2.38.1\n", &[], &ctx).is_err());
    }
}
