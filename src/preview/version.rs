//! Package version strings, read just enough to tell a new major version
//! from a patch: Debian's `[epoch:]upstream[-revision]` (`5:19.03.15~3-0~debian-bookworm`,
//! `1:9.2p1-2+deb12u3`) and RPM's `[epoch:]version-release` read the same way.
//!
//! A major version is the first number of the upstream version, with the
//! epoch and the revision left out: `19.03.15` → `20.10.5` is a new major
//! version, `1.6.20` → `1.6.21` is not, and neither is an epoch or
//! revision change alone (`2.36-9` → `2.36-9+deb12u4`).

/// The upstream version: without the epoch (`N:`) and the revision (after
/// the last `-`).
pub fn upstream(version: &str) -> &str {
    let v = match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => version,
    };
    match v.rsplit_once('-') {
        Some((up, _)) if !up.is_empty() => up,
        _ => v,
    }
}

/// The upstream version as people say it: up to the first character that
/// is not a digit or a dot (`19.03.15~3` → `19.03.15`, `9.2p1` → `9.2`).
pub fn short(version: &str) -> &str {
    let up = upstream(version);
    let end = up
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(up.len());
    let s = up[..end].trim_end_matches('.');
    if s.is_empty() { up } else { s }
}

/// The first number of the upstream version, if it starts with one.
pub fn major(version: &str) -> Option<u64> {
    let up = upstream(version);
    let digits: String = up.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Is `new` a different major version from `old`? Unknown when either
/// does not start with a number. A first number of 1900 or more is a date
/// (`tzdata 2025b`, `ca-certificates 20230311`): every release moves it,
/// so it says nothing about compatibility.
pub fn is_major_change(old: &str, new: &str) -> bool {
    matches!((major(old), major(new)), (Some(a), Some(b)) if a != b && a < 1900 && b < 1900)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_revisions_and_suffixes_are_set_aside() {
        // Debian's revision is after the last hyphen.
        assert_eq!(
            upstream("5:19.03.15~3-0~debian-bookworm"),
            "19.03.15~3-0~debian"
        );
        assert_eq!(upstream("1:9.2p1-2+deb12u3"), "9.2p1");
        assert_eq!(upstream("2.36-9+deb12u4"), "2.36");
        assert_eq!(upstream("1.6.21"), "1.6.21");
        assert_eq!(upstream("3:20.10.5-3.el8"), "20.10.5");
        assert_eq!(short("5:19.03.15~3-0~debian-bookworm"), "19.03.15");
        assert_eq!(short("1:9.2p1-2+deb12u3"), "9.2");
        assert_eq!(short("6.1.76-1"), "6.1.76");
        assert_eq!(major("5:20.10.5~3-0~debian-bookworm"), Some(20));
        assert_eq!(major("git20200101-1"), None);
    }

    #[test]
    fn only_the_first_number_makes_a_major_version() {
        assert!(is_major_change(
            "5:19.03.15~3-0~debian-bookworm",
            "5:20.10.5~3-0~debian-bookworm"
        ));
        assert!(!is_major_change("1.6.20-1", "1.6.21-1"));
        assert!(!is_major_change("1:9.2p1-2", "1:9.2p1-2+deb12u3"));
        assert!(!is_major_change("2.36-9+deb12u4", "2.36-9+deb12u7"));
        assert!(!is_major_change("1:1.0-1", "2:1.0-1"), "an epoch alone");
        assert!(is_major_change("2.4-1", "3.0-1"));
        assert!(
            !is_major_change("snapshot-1", "3.0-1"),
            "unknown is not major"
        );
        // RPM's epoch:version-release, as dnf prints them.
        assert!(is_major_change("3:20.10.1-3.el9", "3:24.0.2-1.el9"));
        assert!(!is_major_change("8.7p1-34.el9", "8.7p1-38.el9"));
        assert!(!is_major_change("5.14.0-427.el9", "5.14.0-503.el9"));
        assert!(!is_major_change("0:1.6.20-3.1.el7", "1.6.21-3.1.el7"));
        assert_eq!(short("3:24.0.2-1.el9"), "24.0.2");
        // Dates, as in the Debian 12 capture.
        assert!(!is_major_change("2025b-0+deb12u2", "2026f-0+deb12u1"));
        assert!(!is_major_change("20230311+deb12u1", "20250419~deb12u2"));
    }
}
