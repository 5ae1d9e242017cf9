//! Who is running what, where: the facts an audit record needs.
//!
//! An edge module: it reads the process's user, the host name, the
//! terminal, the working directory, `/proc/self/loginuid` (which keeps the
//! original login user across sudo and su), `SUDO_USER` and
//! `SSH_CONNECTION`. Gathered once per run and passed to the pure parts as
//! plain values; the choices between them are pure functions
//! ([`choose_login_user`], [`ssh_client`], [`environ_var`], [`parent_pid`]).
//!
//! The login uid wins over `SUDO_USER`: the kernel sets it at login and
//! no user can change it, while `SUDO_USER` is only an environment
//! variable that anyone may set. `SSH_CONNECTION` is dropped by sudo's
//! `env_reset`; when it is missing behind sudo or su, it is read from the
//! nearest ancestor process whose environment this user may read (root
//! may read the login session's). Where that is not possible (a non-root
//! target user), sudoers can keep it: `Defaults env_keep += "SSH_CONNECTION"`.

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

/// The user name of the login uid, when there is one: for the approval
/// check, which counts this user as the requester whatever the audit
/// record names.
pub fn login_uid_user() -> Option<String> {
    login_uid().and_then(user_name)
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

/// This host's name (`localhost` when it cannot be had).
pub fn host_name() -> String {
    gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The person behind this session, when it is not `user` itself: the
/// login uid's user (set by the kernel at login, kept across sudo and su,
/// not settable by a user), else `SUDO_USER` (any environment may carry
/// it, so it only counts when there is no login uid). Pure.
pub fn choose_login_user(
    user: &str,
    loginuid_user: Option<String>,
    sudo_user: Option<String>,
) -> Option<String> {
    loginuid_user
        .or(sudo_user.filter(|s| !s.is_empty()))
        .filter(|l| l != user)
}

/// The client's address and port from an `SSH_CONNECTION` value
/// (`CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT`). Pure.
pub fn ssh_client(connection: &str) -> Option<String> {
    let mut parts = connection.split_whitespace();
    Some(format!("{} {}", parts.next()?, parts.next()?))
}

/// The value of `name` in an environment block as `/proc/PID/environ`
/// holds it (`NAME=value` entries, each ended by a NUL). Pure.
pub fn environ_var(block: &[u8], name: &str) -> Option<String> {
    block.split(|b| *b == 0).find_map(|entry| {
        let value = entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        String::from_utf8(value.to_vec()).ok()
    })
}

/// The parent's pid from the text of `/proc/PID/stat`: the fourth field,
/// counted after the command name in parentheses (which may hold spaces
/// and parentheses itself). Pure.
pub fn parent_pid(stat: &str) -> Option<i32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `SSH_CONNECTION` of the nearest ancestor that has one and whose
/// environment can be read (an ancestor's initial environment, as it was
/// started: sudo's own is the login session's). At most 16 levels up.
fn ssh_from_ancestors() -> Option<String> {
    let mut pid = nix::unistd::getppid().as_raw();
    for _ in 0..16 {
        if pid <= 1 {
            return None;
        }
        if let Ok(block) = std::fs::read(format!("/proc/{pid}/environ"))
            && let Some(found) = environ_var(&block, "SSH_CONNECTION")
        {
            return Some(found);
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        pid = parent_pid(&stat)?;
    }
    None
}

/// Gathers the identity of this process.
pub fn current() -> Identity {
    let uid = getuid().as_raw();
    let user = user_name(uid).unwrap_or_else(|| uid.to_string());
    let host = host_name();
    let sudo_user = std::env::var("SUDO_USER").ok();
    let login = login_uid().and_then(user_name);
    let behind_sudo = sudo_user.is_some() || login.as_ref().is_some_and(|l| *l != user);
    let login_user = choose_login_user(&user, login, sudo_user);
    // sudo and su drop SSH_CONNECTION; the login session still has it.
    let ssh = std::env::var("SSH_CONNECTION")
        .ok()
        .or_else(|| behind_sudo.then(ssh_from_ancestors).flatten())
        .and_then(|c| ssh_client(&c));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_uid_wins_over_a_spoofed_sudo_user() {
        // alice logged in and ran `sudo -i`: the kernel says alice, and a
        // SUDO_USER=mallory exported by hand does not change that.
        assert_eq!(
            choose_login_user("root", Some("alice".into()), Some("mallory".into())),
            Some("alice".into())
        );
        // alice in her own session claiming to be behind sudo: nobody.
        assert_eq!(
            choose_login_user("alice", Some("alice".into()), Some("mallory".into())),
            None
        );
        // No login uid (a container, a service): SUDO_USER is all there is.
        assert_eq!(
            choose_login_user("root", None, Some("alice".into())),
            Some("alice".into())
        );
        assert_eq!(choose_login_user("root", None, Some(String::new())), None);
        assert_eq!(choose_login_user("root", None, None), None);
    }

    #[test]
    fn ssh_connection_is_read_from_an_environment_block() {
        let block =
            b"PATH=/bin\0SSH_CONNECTION_X=no\0SSH_CONNECTION=203.0.113.7 52144 10.0.0.1 22\0";
        let found = environ_var(block, "SSH_CONNECTION").unwrap();
        assert_eq!(ssh_client(&found).as_deref(), Some("203.0.113.7 52144"));
        assert_eq!(environ_var(block, "HOME"), None);
        assert_eq!(ssh_client("garbage"), None);
    }

    #[test]
    fn the_parent_pid_is_found_after_an_awkward_command_name() {
        assert_eq!(parent_pid("42 (bash) S 7 42 42 0"), Some(7));
        assert_eq!(parent_pid("42 (a) b) S 9 1"), Some(9));
        assert_eq!(parent_pid("nonsense"), None);
    }

    #[test]
    fn the_ancestors_environment_is_walked_without_failing() {
        // Whatever this process's ancestors hold, the walk ends.
        let _ = ssh_from_ancestors();
    }
}
