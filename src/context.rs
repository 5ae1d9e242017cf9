//! Where a line runs, as a value: the working directory, the variables the
//! session knows, the user's home, and a way to read the scripts the line
//! runs. The same words mean different things in different places —
//! `rm -rf *` in `/tmp/build` and in `/etc`, `rm -rf $D` after `D=/etc`,
//! `bash x.sh` depending on what x.sh holds — so the walk (`parse`) takes
//! this value and judges the line where it runs.
//!
//! Pure data: the edges build it (the interactive shell from its state,
//! `-c` and `--` from the process), and tests build it from plain values.
//! Reading a script is the one thing the core cannot do itself; it asks a
//! [`ScriptSource`] passed in here, which the edge implements with a
//! bounded read of the file and tests implement with a map. An empty
//! context ([`LineContext::default`]) is what `check` uses: an unknown
//! directory (relative paths stay relative), no variables, no scripts read.

use std::collections::{BTreeMap, HashMap};

/// Everything known about where a line runs.
#[derive(Default)]
pub struct LineContext<'a> {
    /// The absolute working directory, when known.
    pub cwd: Option<String>,
    /// The user's home directory (what `~` means), when known.
    pub home: Option<String>,
    /// Variables the session knows and their values: the interactive
    /// shell's variables, or the process environment for `-c` and `--`.
    /// A variable set here is substituted and no longer possibly empty.
    pub vars: HashMap<String, String>,
    /// `vars` holds every variable set where the line starts (a fresh
    /// process's environment, `-c`): one not there is unset, so
    /// `${X:-default}` is its default. False for the interactive shell,
    /// whose unexported variables are not reported.
    pub vars_complete: bool,
    /// Reads the scripts the line runs (`bash x.sh`, `. x.sh`, `./x.sh`);
    /// `None`: they are not looked into.
    pub scripts: Option<&'a dyn ScriptSource>,
}

impl std::fmt::Debug for LineContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineContext")
            .field("cwd", &self.cwd)
            .field("home", &self.home)
            .field("vars", &self.vars.len())
            .field("vars_complete", &self.vars_complete)
            .field("scripts", &self.scripts.is_some())
            .finish()
    }
}

impl<'a> LineContext<'a> {
    /// A context with a working directory and nothing else.
    pub fn in_dir(cwd: &str) -> LineContext<'a> {
        LineContext {
            cwd: Some(cwd.to_string()),
            ..LineContext::default()
        }
    }
}

/// What reading a script gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptText {
    /// The whole file, as text.
    Text(String),
    /// Larger than the reader's limit (in bytes); `first_line` is its first
    /// line, enough to tell a shell script by its `#!` line.
    TooLarge { limit: usize, first_line: String },
    /// Not text (a compiled program).
    Binary,
    /// There is no such file.
    Missing,
    /// Cannot be read: missing, not a regular file, no permission. The
    /// string says why, for the operator.
    Unreadable(String),
}

/// Reads a script that a line runs, given its absolute path (or the path
/// as written when the working directory is not known).
pub trait ScriptSource {
    fn read(&self, path: &str) -> ScriptText;
}

/// Scripts given as a map from path to text (tests, and `rules test`,
/// whose examples run in a world with no files). A path not in the map is
/// missing.
impl ScriptSource for BTreeMap<String, String> {
    fn read(&self, path: &str) -> ScriptText {
        self.get(path)
            .map_or(ScriptText::Missing, |text| ScriptText::Text(text.clone()))
    }
}

impl ScriptSource for HashMap<String, String> {
    fn read(&self, path: &str) -> ScriptText {
        self.get(path)
            .map_or(ScriptText::Missing, |text| ScriptText::Text(text.clone()))
    }
}
