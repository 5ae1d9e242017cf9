//! `safe-run approve`: the second operator's side of two-person approval.
//! It shows the request it would sign (line, host, requester, expiry),
//! signs its canonical text with `ssh-keygen -Y sign -n
//! safe-run-approval`, and prints the approval to hand back: the request
//! token and the armored SSH signature, which the requester pastes at
//! their prompt or saves for `--approval FILE`.
//!
//! An edge: it runs ssh-keygen (the key, its passphrase and any agent stay
//! ssh-keygen's business — safe-run never reads a private key) and reads
//! the local store of requests for a code. Without ssh-keygen, or with
//! `--print-only`, it prints the exact command to run instead. It checks
//! nothing a verifier relies on: whether the approval is accepted is
//! decided where the line runs (`approval::verify`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use jiff::Timestamp;

use crate::approval::state::LocalStore;
use crate::approval::{ApprovalRequest, ApprovalStore, NAMESPACE};
use crate::config::Config;
use crate::controls::state_dir;
use crate::exit::{self, Error};
use crate::term::sanitize::clean;

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The request: its whole `sr1.…` token (any host), or its code (a request made on this host).
    #[arg(value_name = "CODE-OR-REQUEST")]
    pub request: String,
    /// The key to sign with (default: ~/.ssh/id_ed25519, then ~/.ssh/id_ecdsa); a public key file signs through ssh-agent.
    #[arg(long, short = 'k', value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Only print the request and the ssh-keygen command that signs it.
    #[arg(long)]
    pub print_only: bool,
}

/// The most of an `--approval FILE` that is read.
const APPROVAL_MAX: u64 = 64 * 1024;

/// Reads `--approval FILE` (bounded).
pub fn read_approval_file(path: &Path) -> Result<String, Error> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(APPROVAL_MAX).read_to_string(&mut text))
        .map_err(|source| Error::Read {
            path: clean(&path.display().to_string(), false),
            source,
        })?;
    Ok(text)
}

/// Runs `safe-run approve`; returns the exit status.
pub fn run(
    args: &ApproveArgs,
    config: &Config,
    audit_log: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, Error> {
    let request = resolve(&args.request, config, audit_log)?;
    let now = Timestamp::now();
    let left = request.expires.as_second() - now.as_second();
    writeln!(
        err,
        "Request {} — approving it lets this line run once:\n  line     {}\n  host     {}\n  user     {}\n  expires  {} ({})",
        request.code(),
        clean(&request.line, false),
        clean(&request.host, false),
        clean(&request.user, false),
        request.expires,
        if left > 0 {
            format!("in {} min", (left + 59) / 60)
        } else {
            "EXPIRED".to_string()
        }
    )?;
    if left <= 0 {
        return Err(Error::Usage(
            "this request has expired: ask the requester to run the line again for a new one"
                .into(),
        ));
    }
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name);
    if me.as_deref() == Some(request.user.as_str()) {
        writeln!(
            err,
            "safe-run: warning: this is a request by {} — you, it seems. An approval by the requester is refused where the line runs.",
            clean(&request.user, false)
        )?;
    }
    let key = args.key.clone().or_else(default_key);
    if args.print_only {
        let key = key.unwrap_or_else(|| PathBuf::from("YOUR_KEY"));
        print_instructions(&request, &key, err)?;
        return Ok(exit::OK);
    }
    let key = key.ok_or_else(|| {
        Error::Usage(
            "no key to sign with: give one with --key FILE (~/.ssh/id_ed25519 and ~/.ssh/id_ecdsa do not exist)".into(),
        )
    })?;
    match sign(&request, &key) {
        Ok(armored) => {
            writeln!(
                err,
                "\nGive the requester these lines: they paste them at their prompt, or save them in a file for --approval FILE.\n"
            )?;
            write!(out, "{}\n{armored}", request.token())?;
            if !armored.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(exit::OK)
        }
        Err(why) => {
            writeln!(err, "safe-run: could not sign with ssh-keygen: {why}")?;
            print_instructions(&request, &key, err)?;
            Ok(1)
        }
    }
}

/// The request named by a token, or by a code of this host's store.
fn resolve(
    text: &str,
    config: &Config,
    audit_log: Option<&Path>,
) -> Result<ApprovalRequest, Error> {
    let text = text.trim();
    if text.starts_with("sr1.") {
        return ApprovalRequest::from_token(text).map_err(Error::Usage);
    }
    let dir = state_dir(&config.approval, audit_log).map_err(Error::Usage)?;
    LocalStore { dir }.find(text).ok_or_else(|| {
        Error::Usage(format!(
            "no request with code {} was made on this host: ask the requester for the whole request (the `safe-run approve sr1.…` line they were shown)",
            clean(text, false)
        ))
    })
}

fn default_key() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    ["id_ed25519", "id_ecdsa"]
        .iter()
        .map(|name| Path::new(&home).join(".ssh").join(name))
        .find(|p| p.exists())
}

/// Signs the request's text with ssh-keygen; the armored signature.
fn sign(request: &ApprovalRequest, key: &Path) -> Result<String, String> {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(request.text().as_bytes())
            .map_err(|e| format!("cannot give ssh-keygen the request: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() || !text.contains("BEGIN SSH SIGNATURE") {
        return Err(format!("ssh-keygen failed ({})", output.status));
    }
    Ok(text)
}

/// How to sign by hand: the request's exact text and the command.
fn print_instructions(
    request: &ApprovalRequest,
    key: &Path,
    err: &mut dyn Write,
) -> Result<(), Error> {
    writeln!(
        err,
        "\nTo sign by hand, save the text between the lines below as request.txt, exactly (it ends with a newline):\n-----\n{}-----\nthen run:\n  ssh-keygen -Y sign -n {NAMESPACE} -f {} request.txt\nand give the requester this line and the contents of request.txt.sig:\n  {}",
        clean(&request.text(), true),
        clean(&key.display().to_string(), false),
        request.token()
    )?;
    Ok(())
}
