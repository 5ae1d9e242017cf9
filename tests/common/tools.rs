//! Programs and conditions a test needs from the machine, and what happens
//! when one is missing: the test says so on a clear `skipped: …` line and
//! passes, except under `CI=true`, where a missing prerequisite FAILS the
//! test, so that CI never goes green on tests that did not run.
//! (`.ci/run` installs what the tests need.)
//!
//! The `skipped:` line is written straight to the process's stderr, past
//! the test harness's output capture, so it shows in a plain `cargo test`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where a program is looked for besides PATH: daemons live in sbin, which
/// an ordinary user's PATH may not name.
const SYSTEM_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Whether this is a CI run (`CI` set to `true`, `1` or `yes`, any case).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// `name` as an executable file on PATH or in the system directories.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|d| !d.as_os_str().is_empty())
        .chain(SYSTEM_DIRS.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The test that is running (libtest names each test's thread after it).
fn this_test() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("this test")
        .to_string()
}

/// `name`, which the test needs: found on PATH or in the system
/// directories, or — when it is not installed — `None` after a `skipped:`
/// line; under `CI=true` a missing tool fails the test instead.
#[track_caller]
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() {
        skip(&format!("{name} is not installed"));
    }
    found
}

/// The first of `candidates` (absolute paths) that is an executable file,
/// as `require_tool` (`what` names it in the message).
#[track_caller]
pub fn require_exe(what: &str, candidates: &[&str]) -> Option<PathBuf> {
    let found = candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| is_executable(p));
    if found.is_none() {
        skip(&format!(
            "{what} is not installed (looked for {})",
            candidates.join(", ")
        ));
    }
    found
}

/// Every one of `names`, as `require_tool`: `None` (after one `skipped:`
/// line naming the first missing one) unless all are installed.
#[track_caller]
pub fn require_tools(names: &[&str]) -> Option<Vec<PathBuf>> {
    names.iter().map(|n| require_tool(n)).collect()
}

/// A condition the test needs (`ok`), as `require_tool`: `false` after a
/// `skipped: WHY` line, or a failure under `CI=true`.
#[track_caller]
pub fn require(ok: bool, why: &str) -> bool {
    if !ok {
        skip(why);
    }
    ok
}

/// Reports that the running test cannot run here because of `why`: a
/// `skipped:` line, or under `CI=true` a failure.
#[track_caller]
pub fn skip(why: &str) {
    let test = this_test();
    if in_ci() {
        panic!("{test}: {why}; with CI=true a test that cannot run fails instead of skipping");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {why}");
}

/// Reports that one part of the running test does not apply here (it can
/// never run on such a machine, e.g. a permission check as root): a
/// `skipped:` line, also under `CI=true`.
pub fn skip_part(part: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {}: {part}: {why}", this_test());
}
