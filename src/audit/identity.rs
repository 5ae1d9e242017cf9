//! Who is running what, where: the facts an audit record needs.
//!
//! An edge module: it reads the process's user, the host name, the
//! terminal, the working directory, `/proc/self/loginuid` (which keeps the
//! original login user across sudo and su), `SUDO_USER` and
//! `SSH_CONNECTION`. Gathered once per run and passed to the pure parts as
//! plain values.

use std::io::IsTerminal;

use nix::unistd::{Uid, User, gethostname, getuid};

use crate::audit::record::Actor;

/// The facts about the current session: who (as every record names them)
/// and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub who: Actor,
    /// The working directory at start.
    pub cwd: String,
}

fn user_name(uid: u32) -> Option<String> {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

/// The login uid from `/proc/self/loginuid`; `None` when unset (4294967295).
fn login_uid() -> Option<u32> {
    let text = std::fs::read_to_string("/proc/self/loginuid").ok()?;
    let uid: u32 = text.trim().parse().ok()?;
    (uid != u32::MAX).then_some(uid)
}

fn tty_name() -> Option<String> {
    for fd in [0, 1, 2] {
        let is_tty = match fd {
            0 => std::io::stdin().is_terminal(),
            1 => std::io::stdout().is_terminal(),
            _ => std::io::stderr().is_terminal(),
        };
        if is_tty && let Ok(p) = std::fs::read_link(format!("/proc/self/fd/{fd}")) {
            return Some(p.display().to_string());
        }
    }
    None
}

/// Gathers the identity of this process.
pub fn current() -> Identity {
    let uid = getuid().as_raw();
    let user = user_name(uid).unwrap_or_else(|| uid.to_string());
    let host = gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    let sudo_user = std::env::var("SUDO_USER").ok().filter(|s| !s.is_empty());
    let login = login_uid().and_then(user_name);
    let login_user = sudo_user.or(login).filter(|l| *l != user);
    let ssh = std::env::var("SSH_CONNECTION").ok().and_then(|c| {
        let mut parts = c.split_whitespace();
        Some(format!("{} {}", parts.next()?, parts.next()?))
    });
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "?".into());
    Identity {
        who: Actor {
            host,
            user,
            uid,
            login_user,
            ssh,
            tty: tty_name(),
        },
        cwd,
    }
}
