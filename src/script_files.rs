//! Reading the scripts a line runs, for the pure core: the edge side of
//! `context::ScriptSource`. `bash deploy.sh`, `. ./env.sh` and `./x.sh`
//! are checked for what the script runs, so the walk asks for the file's
//! text; this reads it, bounded, and never blocks.
//!
//! Why it is shaped this way: the file is named by the line being checked,
//! so it may be anything — a FIFO (an open without `O_NONBLOCK` would wait
//! for a writer forever, and the operator's prompt with it), a device, a
//! directory, a huge log, a compiled program. It is opened with
//! `O_NONBLOCK`, used only if it is a regular file, and read up to a limit
//! (256 KiB, the longest line the parser takes); what cannot be read is
//! reported with the reason, and the core makes that a finding.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;

use nix::fcntl::OFlag;

use crate::context::{ScriptSource, ScriptText};

/// The largest script read, in bytes.
pub const DEFAULT_LIMIT: usize = 256 * 1024;

/// How much of a file tells text from a compiled program.
const SNIFF: usize = 1024;

/// Scripts read from the file system.
#[derive(Clone, Copy, Debug)]
pub struct ScriptFiles {
    /// The largest script read, in bytes.
    pub limit: usize,
}

impl ScriptFiles {
    /// Scripts read up to [`DEFAULT_LIMIT`]; a constant, so that a
    /// long-lived context (the live hint's) can borrow it for good.
    pub const DEFAULT: ScriptFiles = ScriptFiles {
        limit: DEFAULT_LIMIT,
    };
}

impl Default for ScriptFiles {
    fn default() -> Self {
        ScriptFiles::DEFAULT
    }
}

impl ScriptSource for ScriptFiles {
    fn read(&self, path: &str) -> ScriptText {
        match read_script(path, self.limit) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => ScriptText::Missing,
            Err(e) => ScriptText::Unreadable(reason(&e)),
        }
    }
}

fn read_script(path: &str, limit: usize) -> io::Result<ScriptText> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "it is a directory"
        } else {
            "it is not a regular file (a pipe, socket or device)"
        };
        return Ok(ScriptText::Unreadable(what.to_string()));
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    let head = &bytes[..bytes.len().min(SNIFF)];
    if head.contains(&0) {
        return Ok(ScriptText::Binary);
    }
    if bytes.len() > limit {
        let first = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
        return Ok(ScriptText::TooLarge {
            limit,
            first_line: String::from_utf8_lossy(first).into_owned(),
        });
    }
    Ok(ScriptText::Text(String::from_utf8(bytes).unwrap_or_else(
        |e| String::from_utf8_lossy(e.as_bytes()).into(),
    )))
}

/// An error as the operator reads it: `permission denied`.
fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::Write;

    fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
        let path = dir.join(name);
        let mut f = File::create(&path).expect("create");
        f.write_all(bytes).expect("write");
        path.to_string_lossy().into_owned()
    }

    #[test]
    fn scripts_are_read_bounded_and_never_block() {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let files = ScriptFiles { limit: 64 };
        let script = write(d, "ok.sh", b"#!/bin/sh\nreboot\n");
        assert_eq!(
            files.read(&script),
            ScriptText::Text("#!/bin/sh\nreboot\n".into())
        );
        let big = write(
            d,
            "big.sh",
            &[b"#!/bin/bash\n".as_slice(), &[b'x'; 100]].concat(),
        );
        assert_eq!(
            files.read(&big),
            ScriptText::TooLarge {
                limit: 64,
                first_line: "#!/bin/bash".into()
            }
        );
        let binary = write(d, "prog", b"\x7fELF\x02\x01\x01\0\0\0");
        assert_eq!(files.read(&binary), ScriptText::Binary);
        let missing = d.join("missing.sh").to_string_lossy().into_owned();
        assert_eq!(files.read(&missing), ScriptText::Missing);
        assert!(matches!(
            files.read(&d.to_string_lossy()),
            ScriptText::Unreadable(_)
        ));
        // A FIFO with no writer: opening it without O_NONBLOCK would hang.
        let fifo = d.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        assert!(matches!(
            files.read(&fifo.to_string_lossy()),
            ScriptText::Unreadable(why) if why.contains("not a regular file")
        ));
    }
}
