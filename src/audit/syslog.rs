//! Sending a record to the local syslog socket.
//!
//! This is how a fleet ships the audit trail: safe-run hands each record to
//! the local syslog daemon or journald (`/dev/log`), and the host's existing
//! log pipeline carries it to the central store. The copy there is also the
//! anchor of the hash chain: records cut from the end of a local file are
//! still known centrally.
//!
//! One message per record, in the traditional local format
//! `<PRI>TAG[PID]: BODY` (RFC 3164 without the timestamp and host, which the
//! local daemon adds on receipt, as it does for glibc's `syslog(3)`). Not
//! libc's `syslog()`: it blocks when the daemon is stuck, and it keeps a
//! process-wide connection. Here the socket is unbound, sends with a write
//! timeout, and is closed after each message, so a full or dead socket
//! costs at most the timeout and never the shell.
//!
//! `/dev/log` is a datagram socket under journald and rsyslog's imuxsock,
//! but a *stream* socket under syslog-ng's `unix-stream()` and rsyslog's
//! imptcp with `path=`. Like glibc, [`send`] tries a datagram first; the
//! kernel answers `EPROTOTYPE` when the socket is a stream one, and the
//! message then goes over a stream connection (non-blocking connect,
//! retried until the timeout, so a listener that does not accept cannot
//! hang it), framed by a trailing newline: RFC 6587's non-transparent
//! framing, which rsyslog's imptcp (its default) and syslog-ng's
//! `unix-stream()` both read. (glibc ends stream messages with a NUL
//! instead; imptcp would keep the NUL in the message, and octet counting,
//! the other RFC 6587 framing, is not read by syslog-ng's `unix-stream()`.)
//! The body never holds a newline: [`format_message`] turns control
//! characters into spaces. The connection is kept for the life of the
//! process (and made again if it breaks), because a daemon serves separate
//! connections in any order: rsyslog's imptcp, with one connection per
//! message, wrote a process's outcome before its decision. One connection
//! keeps a process's records in order; records of different processes
//! sent at the same moment may still be written in either order.

use std::fmt;
use std::io::{self, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

/// Where the local syslog daemon or journald listens.
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// The tag used when the caller's is empty.
pub const DEFAULT_TAG: &str = "safe-run";

/// Which part of the system a message comes from (RFC 5424 §6.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Facility {
    User,
    Daemon,
    Auth,
    /// Security messages readable only by root on most systems: the default.
    #[default]
    Authpriv,
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl Facility {
    pub const ALL: [Facility; 12] = [
        Facility::User,
        Facility::Daemon,
        Facility::Auth,
        Facility::Authpriv,
        Facility::Local0,
        Facility::Local1,
        Facility::Local2,
        Facility::Local3,
        Facility::Local4,
        Facility::Local5,
        Facility::Local6,
        Facility::Local7,
    ];

    /// The facility's number in the priority value.
    pub fn code(self) -> u8 {
        match self {
            Facility::User => 1,
            Facility::Daemon => 3,
            Facility::Auth => 4,
            Facility::Authpriv => 10,
            Facility::Local0 => 16,
            Facility::Local1 => 17,
            Facility::Local2 => 18,
            Facility::Local3 => 19,
            Facility::Local4 => 20,
            Facility::Local5 => 21,
            Facility::Local6 => 22,
            Facility::Local7 => 23,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Facility::User => "user",
            Facility::Daemon => "daemon",
            Facility::Auth => "auth",
            Facility::Authpriv => "authpriv",
            Facility::Local0 => "local0",
            Facility::Local1 => "local1",
            Facility::Local2 => "local2",
            Facility::Local3 => "local3",
            Facility::Local4 => "local4",
            Facility::Local5 => "local5",
            Facility::Local6 => "local6",
            Facility::Local7 => "local7",
        }
    }
}

impl fmt::Display for Facility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Facility {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Facility::ALL
            .into_iter()
            .find(|f| f.as_str() == text)
            .ok_or_else(|| format!("unknown syslog facility `{text}` (expected user, daemon, auth, authpriv or local0 to local7)"))
    }
}

/// How important a message is (RFC 5424 §6.2.1). Records are `Info`;
/// decisions on risky lines are `Notice`, the caller's choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    #[default]
    Info,
    Debug,
}

impl Severity {
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    #[error("cannot create a socket for syslog: {0}")]
    Socket(io::Error),
    #[error("cannot send to the syslog socket {}: {source}", path.display())]
    Send { path: PathBuf, source: io::Error },
    #[error("the syslog socket {} did not take the message within {after:?} (its daemon is stuck or its queue is full)", path.display())]
    Timeout { path: PathBuf, after: Duration },
}

/// The datagram for one message: `<PRI>TAG[PID]: BODY`. The tag keeps only
/// `[A-Za-z0-9._/-]` and at most 32 characters (the RFC 3164 limit), the
/// body has its control characters other than tab turned into spaces, so
/// one message stays one log line.
pub fn format_message(
    facility: Facility,
    severity: Severity,
    tag: &str,
    pid: u32,
    body: &str,
) -> String {
    let priority = u16::from(facility.code()) * 8 + u16::from(severity.code());
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
        .take(32)
        .collect();
    let tag = if tag.is_empty() { DEFAULT_TAG } else { &tag };
    let body: String = body
        .trim_end_matches(['\n', '\r'])
        .chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect();
    format!("<{priority}>{tag}[{pid}]: {body}")
}

/// Sends one message to the syslog socket at `socket` (datagram or
/// stream, see the module header), waiting at most `timeout` if the socket's
/// queue is full or its listener does not accept.
pub fn send(
    socket: &Path,
    facility: Facility,
    severity: Severity,
    tag: &str,
    body: &str,
    timeout: Duration,
) -> Result<(), SyslogError> {
    let message = format_message(facility, severity, tag, std::process::id(), body);
    // A zero timeout means "block forever" to the kernel: never that.
    let timeout = timeout.max(Duration::from_millis(1));
    let deadline = Instant::now() + timeout;
    let sender = UnixDatagram::unbound().map_err(SyslogError::Socket)?;
    sender
        .set_write_timeout(Some(timeout))
        .map_err(SyslogError::Socket)?;
    let sent = match sender.send_to(message.as_bytes(), socket) {
        Err(err) if err.raw_os_error() == Some(Errno::EPROTOTYPE as i32) => {
            send_stream(socket, &message, deadline)
        }
        other => other.map(drop),
    };
    sent.map_err(|err| match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => SyslogError::Timeout {
            path: socket.to_path_buf(),
            after: timeout,
        },
        _ => SyslogError::Send {
            path: socket.to_path_buf(),
            source: err,
        },
    })
}

/// The stream connection of this process, if one is open.
static STREAM: std::sync::Mutex<Option<(PathBuf, UnixStream)>> = std::sync::Mutex::new(None);

/// One message over this process's stream connection (made when there is
/// none, or again once if it broke), newline-framed, by `deadline`.
fn send_stream(socket: &Path, message: &str, deadline: Instant) -> io::Result<()> {
    let mut framed = Vec::with_capacity(message.len() + 1);
    framed.extend_from_slice(message.as_bytes());
    framed.push(b'\n');
    let write = |stream: &mut UnixStream| {
        let left = deadline.saturating_duration_since(Instant::now());
        stream.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
        stream.write_all(&framed)
    };
    let mut held = STREAM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((path, stream)) = held.as_mut()
        && path == socket
    {
        match write(stream) {
            Ok(()) => return Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(e);
            }
            Err(_) => {} // the daemon went away: connect again
        }
    }
    *held = None;
    let mut stream = connect_stream(socket, deadline)?;
    write(&mut stream)?;
    *held = Some((socket.to_path_buf(), stream));
    Ok(())
}

/// A new stream connection to `socket`, by `deadline`.
fn connect_stream(socket: &Path, deadline: Instant) -> io::Result<UnixStream> {
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let address = UnixAddr::new(socket)?;
    // A non-blocking connect to a Unix socket whose listener's backlog is
    // full fails with EAGAIN at once: try again until the deadline.
    let mut pause = Duration::from_micros(100);
    loop {
        match socket::connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &address) {
            Ok(()) => break,
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_local_syslog_shape() {
        let cases: &[(Facility, Severity, &str, &str, &str)] = &[
            (
                Facility::Authpriv,
                Severity::Info,
                "safe-run",
                "{\"v\":1}",
                "<86>safe-run[42]: {\"v\":1}",
            ),
            (
                Facility::Authpriv,
                Severity::Notice,
                "safe-run",
                "x",
                "<85>safe-run[42]: x",
            ),
            (
                Facility::User,
                Severity::Info,
                "safe-run",
                "x",
                "<14>safe-run[42]: x",
            ),
            (Facility::Local7, Severity::Debug, "t", "x", "<191>t[42]: x"),
            (
                Facility::Auth,
                Severity::Emergency,
                "",
                "x",
                "<32>safe-run[42]: x",
            ),
            (
                Facility::Daemon,
                Severity::Info,
                "a b:[c]",
                "one\ntwo\r\n",
                "<30>abc[42]: one two",
            ),
            (
                Facility::Local0,
                Severity::Info,
                &"t".repeat(40),
                "\x1b[2J\tx",
                "<134>tttttttttttttttttttttttttttttttt[42]:  [2J\tx",
            ),
        ];
        for (facility, severity, tag, body, want) in cases {
            assert_eq!(format_message(*facility, *severity, tag, 42, body), *want);
        }
    }

    #[test]
    fn facilities_parse_from_their_names() {
        for facility in Facility::ALL {
            assert_eq!(facility.as_str().parse(), Ok(facility));
        }
        assert!(
            "kern"
                .parse::<Facility>()
                .unwrap_err()
                .contains("unknown syslog facility `kern`")
        );
    }

    #[test]
    fn a_datagram_reaches_a_bound_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let receiver = UnixDatagram::bind(&path).unwrap();
        send(
            &path,
            Facility::Authpriv,
            Severity::Notice,
            "safe-run",
            "hello",
            Duration::from_secs(1),
        )
        .unwrap();
        let mut buf = [0u8; 256];
        let n = receiver.recv(&mut buf).unwrap();
        let want = format!("<85>safe-run[{}]: hello", std::process::id());
        assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want);
    }

    /// The stream tests share the process's one stream connection.
    static STREAM_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn a_stream_socket_gets_the_message_newline_framed() {
        use std::io::Read;
        let _one_at_a_time = STREAM_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        for body in ["first", "second"] {
            send(
                &path,
                Facility::Authpriv,
                Severity::Info,
                "safe-run",
                body,
                Duration::from_secs(1),
            )
            .unwrap();
        }
        // One connection for both (kept open: read what it holds).
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut text = String::new();
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.push_str(std::str::from_utf8(&buf[..n]).unwrap());
        }
        let pid = std::process::id();
        assert_eq!(
            text,
            format!("<86>safe-run[{pid}]: first\n<86>safe-run[{pid}]: second\n")
        );
    }

    #[test]
    fn a_stream_listener_that_never_accepts_times_out() {
        let _one_at_a_time = STREAM_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        // A backlog that fills at once; nobody accepts.
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let mut held = Vec::new();
        let started = std::time::Instant::now();
        let err = loop {
            match send(
                &path,
                Facility::User,
                Severity::Info,
                "t",
                &"x".repeat(1000),
                Duration::from_millis(50),
            ) {
                Ok(()) => held.push(()),
                Err(e) => break e,
            }
            assert!(held.len() < 10_000, "the backlog never filled");
        };
        assert!(matches!(err, SyslogError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(60));
        drop(listener);
    }

    #[test]
    fn a_full_socket_times_out_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let _receiver = UnixDatagram::bind(&path).unwrap();
        let filler = UnixDatagram::unbound().unwrap();
        filler.set_nonblocking(true).unwrap();
        let mut sent = 0;
        while filler.send_to(&[0u8; 1024], &path).is_ok() {
            sent += 1;
            assert!(sent < 100_000, "the socket never filled up");
        }
        let err = send(
            &path,
            Facility::User,
            Severity::Info,
            "t",
            "x",
            Duration::from_millis(50),
        )
        .unwrap_err();
        assert!(matches!(err, SyslogError::Timeout { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("did not take the message within 50ms"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_socket_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nobody-listens");
        let err = send(
            &path,
            Facility::User,
            Severity::Info,
            "t",
            "x",
            Duration::from_millis(50),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "cannot send to the syslog socket {}: ",
                path.display()
            )),
            "{text}"
        );
    }
}
