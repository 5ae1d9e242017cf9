//! The analysed form of a shell line: every simple command that the line
//! could run, after quote removal and after seeing through wrappers.
//!
//! This is the contract between `parse`/`unwrap` (which produce it) and
//! `rules`/`classify` (which judge it). It is plain data with no behaviour
//! beyond small queries, so every other module can be tested with values
//! built by hand.

/// A byte range in the line that was checked, `start..end`.
pub type Span = (usize, usize);

/// One word of a command after quote removal.
///
/// `text` is what the program would receive when the word contains no
/// expansions. Parts only known at run time (parameter expansion, command
/// substitution, arithmetic) are kept as their source text, e.g. `$DIR/`,
/// and `dynamic` is set. Unquoted glob characters set `glob`.
///
/// `path` is set when the word names a file and the line's context says
/// more about it than its text: the absolute, normalised path it names
/// (`*` in `/etc` is `/etc/*`, `/tmp/../etc` is `/etc`, `~/x` is the home
/// directory's `x`). Classification judges both forms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    /// Some part of the word is only known at run time.
    pub dynamic: bool,
    /// The word contains unquoted glob characters (`*`, `?`, `[`).
    pub glob: bool,
    /// Where the word is in the checked line.
    pub span: Span,
    /// The absolute, normalised path the word names, when the context
    /// (working directory, home) makes it known and it differs from `text`.
    pub path: Option<String>,
}

impl Word {
    /// A literal word with no expansions, used for synthetic commands and tests.
    pub fn literal(text: &str, span: Span) -> Self {
        Word {
            text: text.to_string(),
            dynamic: false,
            glob: false,
            span,
            path: None,
        }
    }
}

/// The kind of a redirection, reduced to what matters for risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    /// `<`, `<&`
    Read,
    /// `>`, `>|`, `&>`: the target is truncated.
    Truncate,
    /// `>>`, `&>>`
    Append,
    /// `<>`
    ReadWrite,
    /// `>&N`, `<&N`: duplicates a descriptor, no file is opened.
    Duplicate,
}

impl RedirectKind {
    /// Does this redirection write to its target?
    pub fn writes(self) -> bool {
        matches!(
            self,
            RedirectKind::Truncate | RedirectKind::Append | RedirectKind::ReadWrite
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub fd: Option<u32>,
    pub kind: RedirectKind,
    pub target: Word,
}

/// How a command was reached, for rules and for the fleet blast radius.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Wrappers seen through on the way, outermost first, e.g. `["sudo", "bash -c"]`.
    pub via: Vec<String>,
    /// Inside a `for`/`while`/`until`/`select` loop body.
    pub in_loop: bool,
    /// Sent to another host (`ssh HOST CMD`).
    pub remote: bool,
    /// Sent to several hosts at once (pdsh, clush, ansible, or ssh in a loop).
    pub fleet: bool,
    /// The program of the pipeline stage feeding this command's stdin, if any.
    pub stdin_from: Option<String>,
    /// Text known to be fed on stdin: here-documents, here-strings, and the
    /// arguments of an `echo`/`printf`/`cat` piped in.
    pub input: Vec<String>,
    /// Found inside a command or process substitution.
    pub in_substitution: bool,
    /// Inside a loop, and its arguments use a loop variable: it runs once
    /// for every item (`for n in a b c; do kubectl drain $n; done`).
    pub loop_item: bool,
    /// Where the command acts: this host, another host, a cluster.
    pub target: Target,
    /// The argv the command has for each item of the loops around it, when
    /// it uses their variable and the items are known (`for d in /etc
    /// /usr; do rm -rf $d; done`): each is judged too.
    pub variants: Vec<Vec<Word>>,
}

/// Where a command acts. A finding carries it, and the confirmation asks
/// for its name rather than this host's (docs/RULES.md, "Where a command
/// acts").
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// This host.
    #[default]
    Local,
    /// Another host (`ssh core-1 …`), as written (user and domain kept).
    Host(String),
    /// Each of several hosts: a loop over a literal list
    /// (`for h in a b c; do ssh $h …; done`), `pdsh -w a,b`.
    Hosts(Vec<String>),
    /// A cluster: the `--context` given to kubectl/oc/helm, or the
    /// kubeconfig file named by `--kubeconfig` or `KUBECONFIG`.
    Cluster(String),
    /// Another host known only at run time (`ssh $h`): the text as written.
    Unknown(String),
}

impl Target {
    pub fn is_local(&self) -> bool {
        matches!(self, Target::Local)
    }

    /// The names the operator types to confirm an action on this target:
    /// a host's short name (`core-1` for `root@core-1.prod.example.com`),
    /// each host of a list, a cluster's context (or its kubeconfig file's
    /// name without directory and extension), the run-time text as
    /// written. Empty for this host, whose name the policy knows.
    pub fn names(&self) -> Vec<String> {
        match self {
            Target::Local => Vec::new(),
            Target::Host(h) => vec![short_host(h).to_string()],
            Target::Hosts(hs) => hs.iter().map(|h| short_host(h).to_string()).collect(),
            Target::Cluster(c) => vec![cluster_name(c).to_string()],
            Target::Unknown(text) => vec![text.clone()],
        }
    }

    /// The target in words: `core-1`, `hosts a, b and c`, `cluster
    /// prod-eu`, `a host known only at run time ($h)`.
    pub fn describe(&self) -> String {
        match self {
            Target::Local => "this host".to_string(),
            Target::Host(h) => format!("host {h}"),
            Target::Hosts(hs) => format!("hosts {}", and_list(hs)),
            Target::Cluster(c) if c.contains('/') || c.ends_with(".conf") => {
                format!("the cluster of kubeconfig {c}")
            }
            Target::Cluster(c) => format!("cluster {c}"),
            Target::Unknown(text) => format!("a host known only at run time ({text})"),
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A host's short name: without `user@`, without a `ssh://` scheme or a
/// `:port`, up to its first dot — except an IP address, which is kept
/// whole. `root@core-1.prod.example.com` → `core-1`.
pub fn short_host(host: &str) -> &str {
    let h = host.strip_prefix("ssh://").unwrap_or(host);
    let h = h.rsplit_once('@').map_or(h, |(_, after)| after);
    if let Some(v6) = h.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    let h = match h.split_once(':') {
        // One colon is a port (`ssh://h:22`); more is an IPv6 address.
        Some((name, port)) if !port.contains(':') => name,
        _ => h,
    };
    let h = h.trim_end_matches('/');
    if h.contains(':') || (!h.is_empty() && h.bytes().all(|b| b.is_ascii_digit() || b == b'.')) {
        return h;
    }
    h.split('.').next().filter(|s| !s.is_empty()).unwrap_or(h)
}

/// The name of a cluster target: a context as given, or a kubeconfig
/// file's name without its directory and extension
/// (`/etc/kubernetes/admin.conf` → `admin`).
pub fn cluster_name(cluster: &str) -> &str {
    if !cluster.contains('/') && !cluster.ends_with(".conf") && !cluster.ends_with(".yaml") {
        return cluster;
    }
    let file = program_name(cluster);
    let stem = file
        .rsplit_once('.')
        .map_or(file, |(stem, _)| stem)
        .trim_start_matches('.');
    if stem.is_empty() { file } else { stem }
}

/// The program name of the command recorded for a script the line runs
/// that could not be read or checked: argv is this name, the script as
/// written, and why (`rules/shells.toml`, `shell-unreadable-script`).
pub const UNREADABLE_SCRIPT: &str = "<unreadable-script>";

/// One program that the line could run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimpleCommand {
    /// `VAR=value` words before the program.
    pub assignments: Vec<(String, Word)>,
    /// The program (`argv[0]` as typed, after quote removal) and its arguments.
    pub argv: Vec<Word>,
    pub redirects: Vec<Redirect>,
    /// From the program word to the end of the command, in the checked line.
    /// Commands found inside a string that was parsed again (`bash -c '…'`)
    /// carry the span of that string.
    pub span: Span,
    pub context: Context,
}

impl SimpleCommand {
    /// The program's name for matching: the last path component of `argv[0]`,
    /// after `.`/`..` normalisation (`/usr/sbin/../sbin/reboot` is `reboot`).
    /// `None` when `argv[0]` is only known at run time (an expansion, a glob or
    /// a brace expansion: `/sbin/reboo*`, `{reboot,}`); `Some("")` for a
    /// command with no program (a bare redirection such as `> /etc/fstab`).
    pub fn program(&self) -> Option<&str> {
        let Some(first) = self.argv.first() else {
            return Some("");
        };
        if first.dynamic || first.glob {
            return None;
        }
        Some(program_name(&first.text))
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[Word] {
        self.argv.get(1..).unwrap_or(&[])
    }

    /// argv as plain strings, for display and JSON.
    pub fn argv_text(&self) -> Vec<String> {
        self.argv.iter().map(|w| w.text.clone()).collect()
    }
}

/// The name a program is matched by: the last non-empty path component.
/// `reboot`, `/sbin/reboot`, `/usr/sbin/../sbin/reboot` and `./reboot/`
/// all give `reboot`. A name made only of dots or slashes is kept as is.
pub fn program_name(text: &str) -> &str {
    let trimmed = text.trim_end_matches('/');
    let name = trimmed.rsplit('/').next().unwrap_or(trimmed);
    if name.is_empty() || name == "." || name == ".." {
        text
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_name_strips_directories_and_dot_dot() {
        assert_eq!(program_name("reboot"), "reboot");
        assert_eq!(program_name("/sbin/reboot"), "reboot");
        assert_eq!(program_name("/usr/sbin/../sbin/reboot"), "reboot");
        assert_eq!(program_name("./reboot/"), "reboot");
        assert_eq!(program_name(".."), "..");
        assert_eq!(program_name("/"), "/");
    }
}
