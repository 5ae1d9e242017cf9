//! Confirmation: what the operator must type, and reading it from the
//! controlling terminal.
//!
//! The rules of the conversation (which token a risk asks for, what makes a
//! reason acceptable) are pure functions tested with plain values. The
//! conversation itself goes through the `Prompter` trait so the pipeline
//! can be tested with a scripted prompter; the real one, `TtyPrompter`,
//! talks to `/dev/tty` — never stdin, which may be a pipe feeding the
//! command, so `yes | safe-run -- reboot` cannot confirm.
//!
//! `TtyPrompter` reads with the terminal in non-canonical mode and signals
//! off, and does its own small line editing. That makes Ctrl-C and Ctrl-D
//! at a prompt plain keys that abort, with no signal dispositions to juggle
//! (an ignored SIGINT would be inherited by the command run next).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};

/// What an approval of a risky line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// Type `yes`.
    Yes,
    /// Type the host's short name.
    Host,
}

/// The exact text the operator must type (interactively or as `--confirm`).
pub fn expected_token(ask: Ask, host_short: &str) -> String {
    match ask {
        Ask::Yes => "yes".to_string(),
        Ask::Host => host_short.to_string(),
    }
}

/// The host name up to its first dot: `core-1.prod.example.com` → `core-1`.
pub fn short_host(host: &str) -> &str {
    host.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(host)
}

/// What a reason must satisfy.
#[derive(Clone, Debug, Default)]
pub struct ReasonPolicy {
    pub min_len: usize,
    /// A pattern the reason must contain (a ticket id, say).
    pub pattern: Option<regex::Regex>,
    /// At least a sentence: several words.
    pub sentence: bool,
}

/// Checks a reason; the error says what is missing, for the operator.
pub fn validate_reason(reason: &str, policy: &ReasonPolicy) -> Result<(), String> {
    let r = reason.trim();
    let chars: Vec<char> = r.chars().collect();
    if chars.len() < policy.min_len {
        return Err(format!(
            "a reason of at least {} characters is needed (got {})",
            policy.min_len,
            chars.len()
        ));
    }
    if !chars.iter().any(|c| c.is_alphanumeric()) {
        return Err("a reason made only of punctuation says nothing".to_string());
    }
    let distinct: std::collections::HashSet<char> = chars
        .iter()
        .filter(|c| !c.is_whitespace())
        .copied()
        .collect();
    if distinct.len() <= 1 {
        return Err("a reason made of one repeated character says nothing".to_string());
    }
    if policy.sentence
        && r.split_whitespace()
            .filter(|w| w.chars().any(char::is_alphanumeric))
            .count()
            < 3
    {
        return Err(
            "this risk needs a reason of at least a sentence (three words or more)".to_string(),
        );
    }
    if let Some(p) = &policy.pattern
        && !p.is_match(r)
    {
        return Err(format!(
            "the reason must match the site's pattern `{}`",
            p.as_str()
        ));
    }
    Ok(())
}

/// Why a prompt ended without an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("interrupted (Ctrl-C)")]
    Interrupted,
    #[error("end of input (Ctrl-D)")]
    Eof,
    #[error("cannot use the terminal: {0}")]
    Terminal(String),
}

/// A conversation with the operator.
pub trait Prompter {
    /// Shows text (explanations, previews).
    fn say(&mut self, text: &str);
    /// Asks a question and returns the answer line.
    fn ask(&mut self, question: &str) -> Result<String, PromptError>;
}

/// The controlling terminal.
pub struct TtyPrompter {
    tty: File,
}

impl TtyPrompter {
    /// Opens `/dev/tty`; fails when the process has no controlling terminal.
    pub fn open() -> io::Result<TtyPrompter> {
        let tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
        Ok(TtyPrompter { tty })
    }

    fn read_line(&mut self) -> Result<String, PromptError> {
        let term = |e: nix::Error| PromptError::Terminal(e.to_string());
        let saved = termios::tcgetattr(&self.tty).map_err(term)?;
        let mut raw = saved.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        termios::tcsetattr(&self.tty, SetArg::TCSAFLUSH, &raw).map_err(term)?;
        let result = self.edit_line();
        let _ = termios::tcsetattr(&self.tty, SetArg::TCSAFLUSH, &saved);
        let _ = self.tty.write_all(b"\r\n");
        result
    }

    fn edit_line(&mut self) -> Result<String, PromptError> {
        let mut bytes: Vec<u8> = Vec::new();
        let mut buf = [0u8; 1];
        loop {
            let n = self
                .tty
                .read(&mut buf)
                .map_err(|e| PromptError::Terminal(e.to_string()))?;
            if n == 0 {
                return Err(PromptError::Eof);
            }
            match buf[0] {
                b'\r' | b'\n' => break,
                0x03 => return Err(PromptError::Interrupted),
                0x04 if bytes.is_empty() => return Err(PromptError::Eof),
                0x04 => {}
                0x7f | 0x08 => {
                    // Remove one whole UTF-8 character.
                    let mut removed = false;
                    while let Some(b) = bytes.pop() {
                        removed = true;
                        if b & 0xC0 != 0x80 {
                            break;
                        }
                    }
                    if removed {
                        let _ = self.tty.write_all(b"\x08 \x08");
                    }
                }
                0x15 => {
                    // Ctrl-U: clear the answer.
                    let width = String::from_utf8_lossy(&bytes).chars().count();
                    let _ = self.tty.write_all("\x08 \x08".repeat(width).as_bytes());
                    bytes.clear();
                }
                0x1b => {
                    // Ignore escape sequences (arrow keys) rather than
                    // inserting them into the answer.
                    let _ = self.tty.read(&mut buf);
                    if buf[0] == b'[' || buf[0] == b'O' {
                        loop {
                            if self.tty.read(&mut buf).unwrap_or(0) == 0
                                || (0x40..=0x7e).contains(&buf[0])
                            {
                                break;
                            }
                        }
                    }
                }
                b if b < 0x20 => {}
                b => {
                    bytes.push(b);
                    let _ = self.tty.write_all(&[b]);
                }
            }
            let _ = self.tty.flush();
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Prompter for TtyPrompter {
    fn say(&mut self, text: &str) {
        let _ = self.tty.write_all(text.replace('\n', "\r\n").as_bytes());
        let _ = self.tty.flush();
    }

    fn ask(&mut self, question: &str) -> Result<String, PromptError> {
        self.say(question);
        self.read_line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min_len: usize) -> ReasonPolicy {
        ReasonPolicy {
            min_len,
            pattern: None,
            sentence: false,
        }
    }

    #[test]
    fn tokens_follow_the_risk() {
        assert_eq!(expected_token(Ask::Yes, "core-1"), "yes");
        assert_eq!(expected_token(Ask::Host, "core-1"), "core-1");
        assert_eq!(short_host("core-1.prod.example.com"), "core-1");
        assert_eq!(short_host("core-1"), "core-1");
    }

    #[test]
    fn reasons_that_say_nothing_are_refused() {
        let p = policy(8);
        assert!(validate_reason("short", &p).is_err());
        assert!(validate_reason("........", &p).is_err());
        assert!(validate_reason("aaaaaaaaaaaa", &p).is_err());
        assert!(validate_reason("!!!! ???? ....", &p).is_err());
        assert!(validate_reason("CHG-4411 openssl patch", &p).is_ok());
    }

    #[test]
    fn critical_needs_a_sentence_and_the_pattern_when_set() {
        let p = ReasonPolicy {
            min_len: 20,
            pattern: Some(regex::Regex::new(r"[A-Z]+-[0-9]+").unwrap()),
            sentence: true,
        };
        assert!(validate_reason("CHG-1 aaaaaaaaaaaaaaaaaaaaaa", &p).is_err());
        assert!(validate_reason("rotate the etcd certificates now", &p).is_err());
        assert!(validate_reason("CHG-4411 rotate the etcd certificates now", &p).is_ok());
    }
}
