//! The smallest HTTP client the etcd and FleetLock stores need: one JSON
//! `POST` to a plain `http://HOST:PORT[/PATH]` endpoint, bounded by a
//! deadline, and base64 (etcd's JSON gateway carries keys and values in
//! it).
//!
//! Hand-rolled on `std::net` instead of an HTTP crate or a gRPC stack:
//! etcd's gateway (`/v3/…`) and a FleetLock server answer an HTTP/1.0
//! request with the whole body and close the connection, so a request is
//! a write and a read to the end — no chunking, no keep-alive, no async
//! runtime, no dependency.
//! The whole exchange (name lookup included, which `std` cannot bound)
//! runs on a helper thread that the caller waits for at most until the
//! deadline: a store that does not answer costs the operator the
//! configured wait, never more. No TLS: see docs/FLEET.md.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The most of an answer that is read; etcd's answers about a few slots
/// are a few KiB.
const MAX_ANSWER: u64 = 4 << 20;

/// An `http://HOST:PORT[/PATH]` endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// What requests' paths are under (`/fleetlock`), or empty.
    pub base: String,
}

impl Endpoint {
    /// Reads `http://HOST:PORT[/PATH]` (a trailing `/` allowed); the error
    /// is a sentence for the configuration's diagnostics.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let bad = |why: &str| format!("`{url}` is not a store endpoint: {why}");
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(bad(if url.starts_with("https://") {
                "https is not supported yet; give the plain http:// address of a member or a local proxy (docs/FLEET.md)"
            } else {
                "write it as http://HOST:PORT"
            }));
        };
        let rest = rest.trim_end_matches('/');
        let (rest, base) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        if !base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
        {
            return Err(bad("its path may hold letters, digits, /, -, _ and . only"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("an unclosed `[`"))?;
            (host, after.strip_prefix(':').unwrap_or(""))
        } else {
            rest.rsplit_once(':').unwrap_or((rest, ""))
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        {
            return Err(bad("the host must be a name or an address"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("give the port, like http://10.0.0.5:2379"))?;
        Ok(Endpoint {
            host: host.to_string(),
            port,
            base: base.to_string(),
        })
    }

    pub fn url(&self) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{}{}", self.host, self.port, self.base)
        } else {
            format!("http://{}:{}{}", self.host, self.port, self.base)
        }
    }
}

/// An answer: its status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// POSTs `body` (JSON) to `path` and returns the answer's body when the
/// status is 200. Everything, connecting included, ends by `deadline`.
pub fn post_json(
    endpoint: &Endpoint,
    path: &str,
    body: &str,
    deadline: Instant,
) -> Result<String, String> {
    let answer = post(endpoint, path, body, &[], deadline)?;
    if answer.status != 200 {
        return Err(format!(
            "{}{path} answered {}: {}",
            endpoint.url(),
            answer.status,
            answer.body.trim().chars().take(300).collect::<String>()
        ));
    }
    Ok(answer.body)
}

/// POSTs `body` (JSON, with `headers`) to `path` under the endpoint's
/// base path; an answer of any status is returned, not getting one is the
/// error. Everything, connecting included, ends by `deadline`.
pub fn post(
    endpoint: &Endpoint,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
    deadline: Instant,
) -> Result<Answer, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(format!("{}: no time left to ask", endpoint.url()));
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let ep = endpoint.clone();
    let mut request = format!(
        "POST {}{path} HTTP/1.0\r\nHost: {}:{}\r\nContent-Type: application/json\r\n",
        endpoint.base, endpoint.host, endpoint.port
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let spawned = std::thread::Builder::new()
        .name("fleet-http".into())
        .spawn(move || {
            let _ = tx.send(exchange(&ep, &request, deadline));
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start a request to {}: {e}", endpoint.url()));
    }
    match rx.recv_timeout(left) {
        Ok(answer) => answer,
        Err(_) => Err(format!(
            "{} did not answer within {} ms",
            endpoint.url(),
            left.as_millis()
        )),
    }
}

/// Sends `request` and reads the answer to its end.
fn exchange(endpoint: &Endpoint, request: &str, deadline: Instant) -> Result<Answer, String> {
    let url = endpoint.url();
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let addrs: Vec<_> = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(|e| format!("{url}: cannot resolve the host: {e}"))?
        .collect();
    let mut last = format!("{url}: the host has no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, left()) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("{url}: cannot connect: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream
        .set_write_timeout(Some(left()))
        .and_then(|()| stream.set_read_timeout(Some(left())))
        .map_err(|e| format!("{url}: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{url}: cannot send the request: {e}"))?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(|e| format!("{url}: no whole answer: {e}"))?;
    let (status, body) =
        split_answer(&answer).ok_or_else(|| format!("{url}: the answer is not HTTP"))?;
    let body =
        String::from_utf8(body.to_vec()).map_err(|_| format!("{url}: the answer is not UTF-8"))?;
    Ok(Answer { status, body })
}

/// The status and the body of an HTTP/1.x answer read to its end.
fn split_answer(answer: &[u8]) -> Option<(u16, &[u8])> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    if head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:"))
    {
        return None;
    }
    Some((status, &answer[end + 4..]))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reads standard base64 (padding optional); `None` on anything else.
pub fn unbase64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut n, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        n = n << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((n >> bits & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_the_standard() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("/sr/g/a/h1", "L3NyL2cvYS9oMQ=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
            assert_eq!(unbase64(coded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(unbase64("not base64!"), None);
    }

    #[test]
    fn endpoints_are_plain_http_with_a_port() {
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:2379/").map(|e| e.url()),
            Ok("http://127.0.0.1:2379".into())
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:2379").map(|e| e.url()),
            Ok("http://[::1]:2379".into())
        );
        assert_eq!(
            Endpoint::parse("http://locks:8080/fleetlock/").map(|e| (e.base.clone(), e.url())),
            Ok(("/fleetlock".into(), "http://locks:8080/fleetlock".into()))
        );
        for bad in [
            "127.0.0.1:2379",
            "https://etcd:2379",
            "http://etcd",
            "http://a b:1",
            "http://:1",
            "http://a:1/x?y",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_are_split_into_status_and_body() {
        assert_eq!(
            split_answer(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
            Some((200, &b"{}"[..]))
        );
        assert_eq!(
            split_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}"),
            None
        );
        assert_eq!(split_answer(b"garbage"), None);
    }

    #[test]
    fn a_closed_port_is_an_error_within_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let ep = Endpoint {
            host: "127.0.0.1".into(),
            port,
            base: String::new(),
        };
        let started = Instant::now();
        let answer = post_json(&ep, "/v3/kv/range", "{}", started + Duration::from_secs(2));
        assert!(answer.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
