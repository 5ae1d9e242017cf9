//! Seeing through the programs that run other programs.
//!
//! `sudo -u postgres psql …`, `env -i PATH=/bin reboot`, `timeout -s KILL 5
//! reboot`, `bash -lc 'a; b'`, `ssh -p 2222 host 'sudo reboot'`: the program
//! that matters is the one the wrapper starts. Each wrapper is described by
//! a row of data — which of its options take a value, how many positional
//! words come before the command, and whether the command is an argv or a
//! string that a shell parses again — so a new wrapper is a new row, not new
//! code. Pure: works on argv text only; `parse` turns the result back into
//! commands.

use crate::command::program_name;

/// Programs whose output is shell code that sets up the current shell
/// (environment variables, a prompt, completions, hooks), made to be run
/// with `eval "$(TOOL …)"` from a start-up file: `eval "$(ssh-agent -s)"`,
/// `eval "$(starship init bash)"`. Each row is a program and the words its
/// arguments must start with (none: any arguments). The code such a tool
/// prints is its own, not data from the network or a variable, so running
/// it is what running the tool is; `eval "$(curl …)"` and `eval "$X"` stay
/// unknown. A tool belongs here only if its output never depends on input
/// an attacker could place (a URL, a file to read and echo back).
pub const SHELL_SETUP_GENERATORS: &[(&str, &[&str])] = &[
    ("ssh-agent", &[]),
    ("gpg-agent", &["--daemon"]),
    ("keychain", &["--eval"]),
    ("dbus-launch", &["--sh-syntax"]),
    ("dircolors", &[]),
    ("lesspipe", &[]),
    ("lesspipe.sh", &[]),
    ("resize", &[]),
    ("starship", &["init"]),
    ("zoxide", &["init"]),
    ("atuin", &["init"]),
    ("mcfly", &["init"]),
    ("oh-my-posh", &["init"]),
    ("thefuck", &["--alias"]),
    ("fzf", &["--bash"]),
    ("fzf", &["--zsh"]),
    ("direnv", &["hook"]),
    ("rbenv", &["init"]),
    ("pyenv", &["init"]),
    ("pyenv", &["virtualenv-init"]),
    ("nodenv", &["init"]),
    ("goenv", &["init"]),
    ("jenv", &["init"]),
    ("plenv", &["init"]),
    ("fnm", &["env"]),
    ("mise", &["activate"]),
    ("rtx", &["activate"]),
    ("brew", &["shellenv"]),
    ("opam", &["env"]),
    ("luarocks", &["path"]),
    ("conda", &["shell.bash", "hook"]),
    ("conda", &["shell.zsh", "hook"]),
    ("micromamba", &["shell", "hook"]),
    ("poetry", &["env", "activate"]),
    // `apt-config shell VAR KEY`: VAR='value' from apt's own configuration.
    ("apt-config", &["shell"]),
    // coursier's `cs java --env` / `--disable`: the JVM's variables.
    ("cs", &["java"]),
    ("coursier", &["java"]),
    // grog prints the one groff command that formats its own arguments.
    ("grog", &[]),
    ("kubectl", &["completion"]),
    ("helm", &["completion"]),
    ("kubeadm", &["completion"]),
    ("minikube", &["completion"]),
    ("kind", &["completion"]),
    ("gh", &["completion"]),
    ("rustup", &["completions"]),
    ("npm", &["completion"]),
    ("pip", &["completion"]),
    ("pip3", &["completion"]),
    ("register-python-argcomplete", &[]),
];

/// Is this argv one of the [`SHELL_SETUP_GENERATORS`]? The program is
/// matched by name (`/usr/bin/ssh-agent` is `ssh-agent`).
pub fn generates_shell_setup(argv: &[&str]) -> bool {
    let Some((first, args)) = argv.split_first() else {
        return false;
    };
    let program = program_name(first);
    SHELL_SETUP_GENERATORS
        .iter()
        .any(|(name, prefix)| *name == program && args.starts_with(prefix))
}

/// What a wrapper runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inner {
    /// The words `argv[start..end]` are the inner command's argv.
    Argv { start: usize, end: usize },
    /// The words `argv[start..end]`, joined by spaces, are a shell line that
    /// is parsed again (`bash -c`, `eval`, `ssh host CMD`, `watch`).
    Line { start: usize, end: usize },
    /// A command that the wrapper names by other means (`ansible -m reboot`).
    Synthetic(Vec<String>),
}

/// The result of looking at one command as a possible wrapper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unwrapped {
    /// How the wrapper is named in `Context::via`, e.g. `sudo`, `bash -c`.
    pub via: String,
    pub inner: Vec<Inner>,
    /// The wrapper itself is still a command to check (`find … -delete -exec …`).
    pub keep_self: bool,
    /// The inner command runs on another host.
    pub remote: bool,
    /// The inner command runs on several hosts.
    pub fleet: bool,
    /// The inner command runs repeatedly (`xargs`, `watch`).
    pub repeated: bool,
    /// It runs once for every item of its input (`xargs`, `parallel`): a
    /// risky command there reaches many targets.
    pub per_item: bool,
    /// Where the inner command runs, when the wrapper names other hosts.
    pub hosts: Option<HostSpec>,
    /// The inner command starts in another directory that is not known
    /// here (`sudo -i`, `su -`: the target user's home).
    pub leaves_dir: bool,
    /// The inner command starts in this directory (`env -C DIR`, `sudo -D
    /// DIR`), as written: relative to the current one when not absolute.
    pub chdir: Option<String>,
}

/// Which words of a wrapper name the hosts the inner command runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostSpec {
    /// `argv[i]` is one host (`ssh [user@]HOST`).
    Word(usize),
    /// `argv[i][from..]` is a comma-separated list (`pdsh -w a,b`), or a
    /// host pattern (`ansible web`).
    List { word: usize, from: usize },
}

impl Unwrapped {
    fn new(via: &str, inner: Inner) -> Self {
        Unwrapped {
            via: via.to_string(),
            inner: vec![inner],
            keep_self: false,
            remote: false,
            fleet: false,
            repeated: false,
            per_item: false,
            hosts: None,
            leaves_dir: false,
            chdir: None,
        }
    }
}

/// How the command follows a wrapper's options.
#[derive(Clone, Copy, Debug)]
enum Tail {
    /// The rest is an argv.
    Argv,
    /// The rest, joined by spaces, is a shell line.
    Line,
}

/// One wrapper program, as data.
struct Spec {
    names: &'static [&'static str],
    /// Short options (single letters) that take a value.
    short_values: &'static str,
    /// Long options that take a value (without `--`).
    long_values: &'static [&'static str],
    /// Positional words between the options and the command
    /// (`timeout DURATION`, `chroot DIR`, `ssh HOST`).
    skip_positionals: usize,
    /// `NAME=value` words after the options are environment settings.
    env_words: bool,
    /// Options that mean "no command follows" (`command -v`, `sudo -l`).
    no_command_flags: &'static str,
    tail: Tail,
}

const SPECS: &[Spec] = &[
    Spec {
        names: &["sudo"],
        short_values: "CDghpRrtTUu",
        long_values: &[
            "chdir",
            "close-from",
            "group",
            "host",
            "prompt",
            "chroot",
            "role",
            "type",
            "command-timeout",
            "other-user",
            "user",
        ],
        skip_positionals: 0,
        env_words: true,
        // -l lists, -v validates, -K/-V take no command; -k with a command runs it.
        no_command_flags: "eKlVv",
        tail: Tail::Argv,
    },
    Spec {
        names: &["doas"],
        short_values: "Cu",
        long_values: &[],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "L",
        tail: Tail::Argv,
    },
    Spec {
        names: &["env"],
        short_values: "uCS",
        long_values: &[
            "unset",
            "chdir",
            "split-string",
            "default-signal",
            "ignore-signal",
            "block-signal",
        ],
        skip_positionals: 0,
        env_words: true,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["nice"],
        short_values: "n",
        long_values: &["adjustment"],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["ionice"],
        short_values: "cn",
        long_values: &["class", "classdata"],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "pPu",
        tail: Tail::Argv,
    },
    Spec {
        names: &["chrt"],
        short_values: "TPD",
        long_values: &["sched-runtime", "sched-period", "sched-deadline"],
        skip_positionals: 1,
        env_words: false,
        no_command_flags: "pm",
        tail: Tail::Argv,
    },
    Spec {
        names: &["taskset"],
        short_values: "",
        long_values: &[],
        skip_positionals: 1,
        env_words: false,
        no_command_flags: "p",
        tail: Tail::Argv,
    },
    Spec {
        names: &["nohup", "builtin", "pkexec", "unbuffer", "catchsegv"],
        short_values: "",
        long_values: &["user"],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["setsid"],
        short_values: "",
        long_values: &[],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["stdbuf"],
        short_values: "ioe",
        long_values: &["input", "output", "error"],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["timeout"],
        short_values: "sk",
        long_values: &["signal", "kill-after"],
        skip_positionals: 1,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["time"],
        short_values: "fo",
        long_values: &["format", "output"],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["command"],
        short_values: "",
        long_values: &[],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "vV",
        tail: Tail::Argv,
    },
    Spec {
        names: &["exec"],
        short_values: "a",
        long_values: &[],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["chroot"],
        short_values: "",
        long_values: &["userspec", "groups"],
        skip_positionals: 1,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["xargs"],
        short_values: "IiLlnPsdEeaR",
        long_values: &[
            "replace",
            "max-lines",
            "max-args",
            "max-procs",
            "max-chars",
            "delimiter",
            "eof",
            "arg-file",
            "process-slot-var",
        ],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["watch"],
        short_values: "nq",
        long_values: &["interval", "equexit"],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Line,
    },
    Spec {
        names: &["flock"],
        short_values: "wEo",
        long_values: &["timeout", "wait", "conflict-exit-code"],
        skip_positionals: 1,
        env_words: false,
        no_command_flags: "u",
        tail: Tail::Argv,
    },
    Spec {
        names: &["strace", "ltrace"],
        short_values: "ebopsSuUaIXPn",
        long_values: &[
            "output",
            "expr",
            "signal",
            "trace",
            "attach",
            "user",
            "string-limit",
        ],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["systemd-run"],
        short_values: "pEMHu",
        long_values: &[
            "unit",
            "property",
            "description",
            "slice",
            "uid",
            "gid",
            "nice",
            "working-directory",
            "setenv",
            "machine",
            "host",
            "on-active",
            "on-boot",
            "on-startup",
            "on-calendar",
            "timer-property",
            "path-property",
            "socket-property",
            "service-type",
        ],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["nsenter"],
        // -m, -n, -u, … take an optional value, attached only.
        short_values: "tSG",
        long_values: &["target", "setuid", "setgid", "root", "wd"],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
    Spec {
        names: &["sshpass"],
        short_values: "pfdP",
        long_values: &[],
        skip_positionals: 0,
        env_words: false,
        no_command_flags: "",
        tail: Tail::Argv,
    },
];

/// Shells whose `-c STRING` is a line parsed again.
const SHELLS: &[&str] = &[
    "bash", "sh", "dash", "zsh", "ksh", "ash", "mksh", "rbash", "busybox",
];

/// Looks at `argv` (program first) and says what it runs, if it is a wrapper.
/// Returns `None` for an ordinary program, and for a wrapper with no command
/// (`sudo -i`, `bash`, `ssh host`), which is then checked as itself.
pub fn unwrap(argv: &[&str]) -> Option<Unwrapped> {
    let program = program_name(argv.first()?);
    if let Some(spec) = SPECS.iter().find(|s| s.names.contains(&program)) {
        return unwrap_spec(spec, program, argv);
    }
    match program {
        p if SHELLS.contains(&p) && p != "busybox" => unwrap_shell(p, argv),
        "eval" => {
            let start = if argv.get(1) == Some(&"--") { 2 } else { 1 };
            (argv.len() > start).then(|| {
                Unwrapped::new(
                    "eval",
                    Inner::Line {
                        start,
                        end: argv.len(),
                    },
                )
            })
        }
        // `trap 'CMD' SIGNAL…` runs CMD later, when the signal comes.
        "trap" => {
            let start = if argv.get(1) == Some(&"--") { 2 } else { 1 };
            let cmd = argv.get(start)?;
            if cmd.starts_with('-') || argv.len() < start + 2 {
                return None;
            }
            Some(Unwrapped::new(
                "trap",
                Inner::Line {
                    start,
                    end: start + 1,
                },
            ))
        }
        "busybox" => match argv.get(1) {
            Some(applet) if SHELLS.contains(applet) && *applet != "busybox" => {
                unwrap_shell(program, argv)
            }
            Some(applet) if !applet.starts_with('-') => Some(Unwrapped::new(
                "busybox",
                Inner::Argv {
                    start: 1,
                    end: argv.len(),
                },
            )),
            _ => None,
        },
        "parallel" => unwrap_parallel(argv),
        "su" | "runuser" => unwrap_su(program, argv),
        "ssh" => unwrap_ssh(argv),
        "find" => unwrap_find(argv),
        "kubectl" | "oc" => unwrap_kubectl(program, argv),
        "docker" | "podman" | "nerdctl" | "crictl" => unwrap_container(program, argv),
        "pdsh" | "clush" | "pssh" | "parallel-ssh" | "dsh" => unwrap_fanout(program, argv),
        "ansible" => unwrap_ansible(argv),
        "salt" | "salt-ssh" => unwrap_salt(program, argv, true),
        "salt-call" => unwrap_salt(program, argv, false),
        "ip" => unwrap_ip_netns(argv),
        "script" => unwrap_script(argv),
        _ => None,
    }
}

/// Walks a wrapper's options. Returns the index of the first word after them,
/// or `None` when an option says no command follows.
fn skip_options(
    argv: &[&str],
    short_values: &str,
    long_values: &[&str],
    no_command: &str,
) -> Option<usize> {
    let mut i = 1;
    while i < argv.len() {
        let w = argv[i];
        if w == "--" {
            return Some(i + 1);
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, has_value) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            if !has_value && long_values.contains(&name) {
                i += 1;
            }
            i += 1;
            continue;
        }
        if w.len() > 1 && w.starts_with('-') {
            // A bundle of short flags; a value-taking letter ends it and
            // takes the rest of the word or the next word.
            for (pos, c) in w.char_indices().skip(1) {
                if no_command.contains(c) {
                    return None;
                }
                if short_values.contains(c) {
                    if pos + c.len_utf8() == w.len() {
                        i += 1;
                    }
                    break;
                }
            }
            i += 1;
            continue;
        }
        return Some(i);
    }
    Some(i)
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
        }
        None => false,
    }
}

fn unwrap_spec(spec: &Spec, program: &str, argv: &[&str]) -> Option<Unwrapped> {
    let mut i = skip_options(
        argv,
        spec.short_values,
        spec.long_values,
        spec.no_command_flags,
    )?;
    if spec.env_words {
        while i < argv.len() && is_assignment(argv[i]) {
            i += 1;
        }
    }
    // `env -S 'a b'` splits its string into an argv: treat it as a line.
    if program == "env"
        && let Some(p) = argv[1..i]
            .iter()
            .position(|w| *w == "-S" || *w == "--split-string")
        && p + 2 < argv.len()
    {
        return Some(Unwrapped::new(
            "env -S",
            Inner::Line {
                start: p + 2,
                end: argv.len(),
            },
        ));
    }
    i += spec.skip_positionals;
    if program == "flock" && argv.get(i).is_some_and(|w| *w == "-c" || *w == "--command") {
        return (i + 1 < argv.len()).then(|| {
            Unwrapped::new(
                "flock -c",
                Inner::Line {
                    start: i + 1,
                    end: i + 2,
                },
            )
        });
    }
    if i >= argv.len() {
        return None;
    }
    let mut u = match spec.tail {
        Tail::Argv => Unwrapped::new(
            program,
            Inner::Argv {
                start: i,
                end: argv.len(),
            },
        ),
        Tail::Line => {
            // `watch -x` runs an argv instead of a shell line.
            let exec = argv[1..i].iter().any(|w| *w == "-x" || *w == "--exec");
            if exec {
                Unwrapped::new(
                    program,
                    Inner::Argv {
                        start: i,
                        end: argv.len(),
                    },
                )
            } else {
                Unwrapped::new(
                    program,
                    Inner::Line {
                        start: i,
                        end: argv.len(),
                    },
                )
            }
        }
    };
    // `env -C DIR CMD`, `sudo -D DIR CMD`: CMD starts in DIR.
    let chdir_letter = match program {
        "env" => Some('C'),
        "sudo" => Some('D'),
        _ => None,
    };
    if let Some(letter) = chdir_letter {
        u.chdir = option_value(&argv[1..i], letter, "chdir", spec.short_values);
    }
    u.repeated = matches!(program, "xargs" | "watch");
    u.per_item = program == "xargs";
    // `sudo -i CMD` runs CMD in the target user's home.
    u.leaves_dir = program == "sudo"
        && argv[1..i].iter().any(|w| {
            *w == "--login"
                || (w.starts_with('-')
                    && !w.starts_with("--")
                    && w[1..]
                        .chars()
                        .take_while(|c| !spec.short_values.contains(*c))
                        .any(|c| c == 'i'))
        });
    Some(u)
}

/// The value of option `-LETTER`/`--LONG` among `options` (the words before
/// a wrapper's command): `-C DIR`, `-CDIR`, `--chdir=DIR`, `--chdir DIR`,
/// or last in a cluster of short options (`-iC DIR`). `short_values` are
/// the letters that take a value, which end a cluster. The last one given
/// wins, as getopt has it.
fn option_value(options: &[&str], letter: char, long: &str, short_values: &str) -> Option<String> {
    let mut found = None;
    let mut j = 0;
    while j < options.len() {
        let w = options[j];
        let next = options.get(j + 1).map(|v| (*v).to_string());
        if let Some(rest) = w.strip_prefix("--") {
            match rest.split_once('=') {
                Some((name, value)) if name == long => found = Some(value.to_string()),
                None if rest == long => {
                    found = next;
                    j += 1;
                }
                _ => {}
            }
        } else if let Some(cluster) = w.strip_prefix('-') {
            for (k, c) in cluster.char_indices() {
                if !short_values.contains(c) {
                    continue;
                }
                let attached = &cluster[k + c.len_utf8()..];
                let value = if attached.is_empty() {
                    j += 1;
                    next.clone()
                } else {
                    Some(attached.to_string())
                };
                if c == letter {
                    found = value;
                }
                break;
            }
        }
        j += 1;
    }
    found
}

/// A shell's own options: the index of its first operand (the `-c`
/// string, or the script file) and every short option letter given.
/// `None` when an option says the shell runs nothing (`--version`).
fn shell_options(argv: &[&str]) -> Option<(usize, String)> {
    let mut i = 1;
    let mut letters = String::new();
    while i < argv.len() {
        let w = argv[i];
        if w == "--" || w == "-" {
            i += 1;
            break;
        }
        if w.starts_with("--") {
            if w == "--version" || w == "--help" {
                return None;
            }
            // `--rcfile FILE` and `--init-file FILE` take a value.
            if w == "--rcfile" || w == "--init-file" {
                i += 1;
            }
            i += 1;
            continue;
        }
        if (w.starts_with('-') || w.starts_with('+')) && w.len() > 1 {
            let these = &w[1..];
            if w.starts_with('-') {
                letters.push_str(these);
            }
            if these.ends_with('o') || these.ends_with('O') {
                i += 1;
            }
            i += 1;
            continue;
        }
        break;
    }
    Some((i, letters))
}

/// A shell, possibly as a busybox applet: the shell's argv and the offset
/// of that argv in the whole one.
fn shell_argv<'a, 'b>(program: &str, argv: &'a [&'b str]) -> Option<(&'a [&'b str], usize)> {
    if program == "busybox" {
        match argv.get(1) {
            Some(applet) if SHELLS.contains(applet) && *applet != "busybox" => {
                Some((&argv[1..], 1))
            }
            _ => None,
        }
    } else {
        Some((argv, 0))
    }
}

fn unwrap_shell(program: &str, argv: &[&str]) -> Option<Unwrapped> {
    // `busybox sh -c …`: the applet name comes first.
    let (argv, offset) = shell_argv(program, argv)?;
    let (i, letters) = shell_options(argv)?;
    if !letters.contains('c') || i >= argv.len() {
        return None;
    }
    let via = format!("{} -c", argv[0].rsplit('/').next().unwrap_or(argv[0]));
    Some(Unwrapped::new(
        &via,
        Inner::Line {
            start: i + offset,
            end: i + offset + 1,
        },
    ))
}

/// How a command runs a script file that it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptRun {
    /// `bash FILE ARGS…`: a new shell process reads `argv[i]`.
    Shell(usize),
    /// `. FILE ARGS…`, `source FILE`: this shell reads `argv[i]`.
    Source(usize),
}

/// The script file a shell or `.`/`source` command runs, if any: `bash
/// deploy.sh`, `sh -e x.sh`, `. ./env.sh`. Not `bash -c …` (a string),
/// `bash -s` or `bash` alone (stdin), `bash -n x.sh` (only parsed).
pub fn script_operand(argv: &[&str]) -> Option<ScriptRun> {
    let program = program_name(argv.first()?);
    match program {
        "." | "source" => {
            let at = if argv.get(1) == Some(&"--") { 2 } else { 1 };
            (at < argv.len()).then_some(ScriptRun::Source(at))
        }
        p if SHELLS.contains(&p) => {
            let (shell, offset) = shell_argv(p, argv)?;
            let (i, letters) = shell_options(shell)?;
            if letters.contains(['c', 's', 'n']) || i >= shell.len() {
                return None;
            }
            Some(ScriptRun::Shell(i + offset))
        }
        _ => None,
    }
}

fn unwrap_su(program: &str, argv: &[&str]) -> Option<Unwrapped> {
    let mut u = unwrap_su_command(program, argv)?;
    // `su - USER -c CMD` runs CMD in USER's home.
    u.leaves_dir = argv[1..]
        .iter()
        .take_while(|w| !matches!(**w, "-c" | "--command" | "--session-command"))
        .any(|w| matches!(*w, "-" | "-l" | "--login"));
    Some(u)
}

fn unwrap_su_command(program: &str, argv: &[&str]) -> Option<Unwrapped> {
    // su [options] [-] [user [args]]; the command comes only from -c.
    let mut i = 1;
    while i < argv.len() {
        let w = argv[i];
        let value = |i: usize| (i + 1 < argv.len()).then_some(i + 1);
        if w == "-c" || w == "--command" || w == "--session-command" {
            let at = value(i)?;
            return Some(Unwrapped::new(
                &format!("{program} -c"),
                Inner::Line {
                    start: at,
                    end: at + 1,
                },
            ));
        }
        if w.starts_with("--command=") || w.starts_with("--session-command=") {
            // The command is inside this very word; it cannot be split off
            // without changing spans, so hand the word over as a line.
            return Some(Unwrapped::new(
                &format!("{program} -c"),
                Inner::Line {
                    start: i,
                    end: i + 1,
                },
            ));
        }
        if program == "runuser" && (w == "-u" || w == "--user") {
            // runuser -u USER [--] COMMAND…
            let mut at = i + 2;
            if argv.get(at) == Some(&"--") {
                at += 1;
            }
            return (at < argv.len()).then(|| {
                Unwrapped::new(
                    "runuser",
                    Inner::Argv {
                        start: at,
                        end: argv.len(),
                    },
                )
            });
        }
        if w.len() > 2 && w.starts_with('-') && !w.starts_with("--") && w.ends_with('c') {
            // `-lc CMD`
            let at = value(i)?;
            return Some(Unwrapped::new(
                &format!("{program} -c"),
                Inner::Line {
                    start: at,
                    end: at + 1,
                },
            ));
        }
        if matches!(
            w,
            "-s" | "--shell"
                | "-g"
                | "--group"
                | "-G"
                | "--supp-group"
                | "-w"
                | "--whitelist-environment"
        ) {
            i += 1;
        }
        i += 1;
    }
    None
}

/// Programs that act on a Kubernetes cluster, and their option naming the
/// context (`--context`; helm's `--kube-context`).
const CLUSTER_TOOLS: &[(&str, &str)] = &[
    ("kubectl", "--context"),
    ("oc", "--context"),
    ("helm", "--kube-context"),
];

/// Which cluster a `kubectl`/`oc`/`helm` command names on its command
/// line: its `--context` (`Ok`), else its `--kubeconfig` file (`Err`).
/// `None` when it names neither, and for other programs. The value is the
/// word's text as written.
pub fn cluster_of<'a>(argv: &[&'a str]) -> Option<Result<&'a str, &'a str>> {
    let program = program_name(argv.first()?);
    let (_, context_flag) = CLUSTER_TOOLS.iter().find(|(p, _)| *p == program)?;
    let value = |flag: &str| -> Option<&'a str> {
        let mut words = argv[1..].iter().take_while(|w| **w != "--");
        while let Some(w) = words.next() {
            if *w == flag {
                return words.next().copied();
            }
            if let Some(v) = w.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
                return Some(v);
            }
        }
        None
    };
    match value(context_flag) {
        Some(c) => Some(Ok(c)),
        None => value("--kubeconfig").map(Err),
    }
}

/// ssh's options that take a value.
const SSH_VALUES: &str = "bcDEeFIiJLlmOopQRSWwB";

/// The index of the host word of an `ssh` command, if it has one.
pub fn ssh_host(argv: &[&str]) -> Option<usize> {
    if argv.first().map(|p| program_name(p)) != Some("ssh") {
        return None;
    }
    let i = skip_options(argv, SSH_VALUES, &[], "")?;
    (i < argv.len()).then_some(i)
}

fn unwrap_ssh(argv: &[&str]) -> Option<Unwrapped> {
    const VALUES: &str = SSH_VALUES;
    let i = skip_options(argv, VALUES, &[], "")?;
    // argv[i] is the host. OpenSSH also reads options, and `--`, after
    // the host (`ssh web1 -t reboot`); the rest is the remote line.
    if i >= argv.len() {
        return None;
    }
    let after = skip_options(&argv[i..], VALUES, &[], "")?;
    let start = i + after;
    if start >= argv.len() {
        return None;
    }
    let mut u = Unwrapped::new(
        "ssh",
        Inner::Line {
            start,
            end: argv.len(),
        },
    );
    u.remote = true;
    u.hosts = Some(HostSpec::Word(i));
    Some(u)
}

fn unwrap_find(argv: &[&str]) -> Option<Unwrapped> {
    let mut inner = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        if matches!(argv[i], "-exec" | "-execdir" | "-ok" | "-okdir") {
            let start = i + 1;
            let mut end = start;
            while end < argv.len() && argv[end] != ";" && argv[end] != "+" {
                end += 1;
            }
            if end > start {
                inner.push(Inner::Argv { start, end });
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    if inner.is_empty() {
        return None;
    }
    Some(Unwrapped {
        via: "find -exec".into(),
        inner,
        keep_self: true,
        repeated: true,
        ..Unwrapped::new("find -exec", Inner::Synthetic(Vec::new()))
    })
}

fn unwrap_kubectl(program: &str, argv: &[&str]) -> Option<Unwrapped> {
    // kubectl [flags] exec [flags] POD -- CMD…   (also `oc rsh POD CMD`)
    let i = skip_options(
        argv,
        "nsl",
        &[
            "namespace",
            "context",
            "kubeconfig",
            "server",
            "cluster",
            "user",
            "token",
            "as",
            "as-group",
        ],
        "",
    )?;
    if program == "oc" && argv.get(i) == Some(&"rsh") {
        // oc rsh [flags] POD [CMD…]
        let j = skip_options(
            &argv[i..],
            "cf",
            &["container", "filename", "shell", "timeout"],
            "",
        )?;
        let start = i + j + 1;
        return (start < argv.len()).then(|| {
            let mut u = Unwrapped::new(
                "oc rsh",
                Inner::Argv {
                    start,
                    end: argv.len(),
                },
            );
            u.remote = true;
            u
        });
    }
    if !matches!(argv.get(i), Some(&"exec" | &"debug")) {
        return None;
    }
    let dashes = argv.iter().position(|w| *w == "--")?;
    (dashes + 1 < argv.len()).then(|| {
        let mut u = Unwrapped::new(
            &format!("{program} exec"),
            Inner::Argv {
                start: dashes + 1,
                end: argv.len(),
            },
        );
        u.remote = true;
        u
    })
}

fn unwrap_container(program: &str, argv: &[&str]) -> Option<Unwrapped> {
    // docker [global flags] exec [flags] CONTAINER CMD…
    // docker compose exec [flags] SERVICE CMD…
    let mut i = skip_options(argv, "cHl", &["config", "context", "host", "log-level"], "")?;
    if argv.get(i) == Some(&"compose") {
        i += 1;
        let rest = skip_options(
            &argv[i - 1..],
            "fp",
            &[
                "file",
                "project-name",
                "profile",
                "env-file",
                "project-directory",
            ],
            "",
        )?;
        i = i - 1 + rest;
    } else if argv.get(i) == Some(&"container") {
        i += 1;
    }
    if argv.get(i) == Some(&"run") {
        return unwrap_host_container(program, argv, i);
    }
    if argv.get(i) != Some(&"exec") {
        return None;
    }
    let sub = &argv[i..];
    let j = skip_options(
        sub,
        "euw",
        &["env", "env-file", "user", "workdir", "detach-keys", "index"],
        "",
    )?;
    let start = i + j + 1;
    (start < argv.len()).then(|| {
        let mut u = Unwrapped::new(
            &format!("{program} exec"),
            Inner::Argv {
                start,
                end: argv.len(),
            },
        );
        u.remote = true;
        u
    })
}

/// `docker run` options that take the next word as their value.
const RUN_SHORT_VALUES: &str = "acehlmpuvw";
const RUN_LONG_VALUES: &[&str] = &[
    "add-host",
    "annotation",
    "attach",
    "blkio-weight",
    "blkio-weight-device",
    "cap-add",
    "cap-drop",
    "cgroup-parent",
    "cgroupns",
    "cidfile",
    "cpu-period",
    "cpu-quota",
    "cpu-rt-period",
    "cpu-rt-runtime",
    "cpu-shares",
    "cpus",
    "cpuset-cpus",
    "cpuset-mems",
    "detach-keys",
    "device",
    "device-cgroup-rule",
    "device-read-bps",
    "device-read-iops",
    "device-write-bps",
    "device-write-iops",
    "dns",
    "dns-option",
    "dns-search",
    "domainname",
    "entrypoint",
    "env",
    "env-file",
    "expose",
    "gpus",
    "group-add",
    "health-cmd",
    "health-interval",
    "health-retries",
    "health-start-period",
    "health-timeout",
    "hostname",
    "ip",
    "ip6",
    "ipc",
    "isolation",
    "kernel-memory",
    "label",
    "label-file",
    "link",
    "link-local-ip",
    "log-driver",
    "log-opt",
    "mac-address",
    "memory",
    "memory-reservation",
    "memory-swap",
    "memory-swappiness",
    "mount",
    "name",
    "network",
    "network-alias",
    "oom-score-adj",
    "pid",
    "pids-limit",
    "platform",
    "publish",
    "pull",
    "restart",
    "runtime",
    "security-opt",
    "shm-size",
    "stop-signal",
    "stop-timeout",
    "storage-opt",
    "sysctl",
    "tmpfs",
    "ulimit",
    "user",
    "userns",
    "uts",
    "volume",
    "volume-driver",
    "volumes-from",
    "workdir",
];

/// `docker run --privileged --pid=host IMAGE CMD…`: a container with every
/// capability in the host's process namespace is the host (`nsenter -t 1
/// …`, `reboot -f`), so CMD is judged as run here. Any other container's
/// command acts inside the container, which is its own business.
fn unwrap_host_container(program: &str, argv: &[&str], run: usize) -> Option<Unwrapped> {
    let sub = &argv[run..];
    let image = skip_options(sub, RUN_SHORT_VALUES, RUN_LONG_VALUES, "")?;
    let opts = &sub[1..image.min(sub.len())];
    let privileged = opts
        .iter()
        .any(|w| *w == "--privileged" || *w == "--privileged=true");
    let host_pid =
        opts.contains(&"--pid=host") || opts.windows(2).any(|p| p[0] == "--pid" && p[1] == "host");
    let start = run + image + 1;
    (privileged && host_pid && start < argv.len()).then(|| {
        Unwrapped::new(
            &format!("{program} run --privileged --pid=host"),
            Inner::Argv {
                start,
                end: argv.len(),
            },
        )
    })
}

fn unwrap_fanout(program: &str, argv: &[&str]) -> Option<Unwrapped> {
    let i = skip_options(
        argv,
        "wxgXRlftuhHopOeEmr",
        &[
            "hosts", "group", "exclude", "user", "fanout", "options", "outdir", "errdir",
            "timeout", "pick", "topology",
        ],
        "",
    )?;
    if i >= argv.len() {
        return None;
    }
    let mut u = Unwrapped::new(
        program,
        Inner::Line {
            start: i,
            end: argv.len(),
        },
    );
    u.remote = true;
    u.fleet = true;
    u.hosts = fanout_hosts(&argv[..i]);
    Some(u)
}

/// The host list of a fan-out tool's options: `-w a,b` (pdsh, clush),
/// `-H a` (pssh), `-m a` (dsh), `-g group` (clush), `--hosts=a,b`.
fn fanout_hosts(options: &[&str]) -> Option<HostSpec> {
    for (i, w) in options.iter().enumerate().skip(1) {
        for flag in ["-w", "-H", "-m", "-g"] {
            if *w == flag && i + 1 < options.len() {
                return Some(HostSpec::List {
                    word: i + 1,
                    from: 0,
                });
            }
            if w.len() > 2 && w.starts_with(flag) {
                return Some(HostSpec::List { word: i, from: 2 });
            }
        }
        for long in ["--hosts=", "--group="] {
            if w.starts_with(long) {
                return Some(HostSpec::List {
                    word: i,
                    from: long.len(),
                });
            }
        }
    }
    None
}

/// GNU parallel: `parallel [opts] CMD… ::: ARGS…` runs CMD once per
/// argument (or per input line), through a shell.
fn unwrap_parallel(argv: &[&str]) -> Option<Unwrapped> {
    let i = skip_options(
        argv,
        "jSIaEdPnNLl",
        &[
            "jobs",
            "sshlogin",
            "arg-file",
            "delimiter",
            "max-args",
            "max-lines",
            "joblog",
            "results",
            "timeout",
        ],
        "",
    )?;
    let end = argv[i..]
        .iter()
        .position(|w| matches!(*w, ":::" | "::::" | ":::+" | "::::+"))
        .map_or(argv.len(), |p| i + p);
    if i >= end {
        return None;
    }
    let mut u = Unwrapped::new("parallel", Inner::Line { start: i, end });
    u.repeated = true;
    u.per_item = true;
    Some(u)
}

fn unwrap_ansible(argv: &[&str]) -> Option<Unwrapped> {
    // ansible PATTERN [-m MODULE] [-a ARGS] …
    let mut module = "command";
    let mut args = None;
    let mut pattern = None;
    let mut pattern_at = None;
    let mut i = 1;
    while i < argv.len() {
        let w = argv[i];
        match w {
            "-m" | "--module-name" => {
                module = argv.get(i + 1).copied().unwrap_or("");
                i += 2;
            }
            "-a" | "--args" => {
                args = Some(i + 1).filter(|a| *a < argv.len());
                i += 2;
            }
            _ if w.starts_with("--module-name=") => {
                module = &w["--module-name=".len()..];
                i += 1;
            }
            _ if w.starts_with('-') => {
                let takes_value = matches!(
                    w,
                    "-i" | "--inventory"
                        | "-l"
                        | "--limit"
                        | "-u"
                        | "--user"
                        | "-f"
                        | "--forks"
                        | "-e"
                        | "--extra-vars"
                        | "-B"
                        | "-P"
                        | "-T"
                        | "--timeout"
                        | "-M"
                        | "--module-path"
                        | "--become-user"
                        | "--become-method"
                        | "-t"
                        | "--tree"
                        | "-c"
                        | "--connection"
                        | "--private-key"
                        | "--vault-id"
                        | "--vault-password-file"
                );
                i += if takes_value { 2 } else { 1 };
            }
            _ => {
                if pattern.is_none() {
                    pattern = Some(w);
                    pattern_at = Some(i);
                }
                i += 1;
            }
        }
    }
    let local = matches!(pattern, Some("localhost" | "127.0.0.1"));
    let inner = match module {
        "command"
        | "shell"
        | "raw"
        | "ansible.builtin.command"
        | "ansible.builtin.shell"
        | "ansible.builtin.raw" => {
            let a = args?;
            Inner::Line {
                start: a,
                end: a + 1,
            }
        }
        "reboot" | "ansible.builtin.reboot" => Inner::Synthetic(vec!["reboot".into()]),
        // Whole-system upgrades through the package modules.
        "apt"
        | "ansible.builtin.apt"
        | "yum"
        | "dnf"
        | "package"
        | "ansible.builtin.yum"
        | "ansible.builtin.dnf"
        | "ansible.builtin.package" => {
            let a = argv.get(args?)?;
            let upgrade = a
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("upgrade="));
            let all_latest = a.contains("name=*") && a.contains("state=latest");
            match upgrade {
                Some("dist" | "full") => {
                    Inner::Synthetic(vec!["apt-get".into(), "dist-upgrade".into()])
                }
                Some("yes" | "safe") => Inner::Synthetic(vec!["apt-get".into(), "upgrade".into()]),
                _ if all_latest => Inner::Synthetic(vec!["yum".into(), "update".into()]),
                _ => return None,
            }
        }
        _ => return None,
    };
    let mut u = Unwrapped::new("ansible", inner);
    u.remote = !local;
    u.fleet = !local;
    if !local {
        u.hosts = pattern_at.map(|word| HostSpec::List { word, from: 0 });
    }
    Some(u)
}

/// `salt` options that take the next word as their value.
const SALT_SHORT_VALUES: &str = "tbcl";
const SALT_LONG_VALUES: &[&str] = &[
    "timeout",
    "batch-size",
    "batch",
    "batch-wait",
    "config-dir",
    "out",
    "output",
    "return",
    "log-level",
    "log-file",
    "eauth",
    "auth",
    "subset",
    "state-output",
    "out-file",
    "out-indent",
    "roster",
    "roster-file",
    "user",
    "passwd",
    "priv",
    "id",
    "module-executors",
    "saltenv",
    "pillarenv",
    "file-root",
    "pillar-root",
    "master",
];

/// `salt TARGET FUNCTION [ARGS…]` (and `salt-ssh`): the execution
/// function runs on every minion the target matches; `salt-call FUNCTION
/// [ARGS…]` runs it on this host. `cmd.run 'LINE'` runs LINE there; the
/// power, package and service functions are what their commands are.
fn unwrap_salt(program: &str, argv: &[&str], fleet: bool) -> Option<Unwrapped> {
    let i = skip_options(argv, SALT_SHORT_VALUES, SALT_LONG_VALUES, "")?;
    let (target_at, function_at) = if fleet { (Some(i), i + 1) } else { (None, i) };
    let function = *argv.get(function_at)?;
    let first = function_at + 1;
    let arg = |n: usize| argv.get(first + n).map(|w| (*w).to_string());
    let inner = match function {
        "cmd.run" | "cmd.run_all" | "cmd.run_stdout" | "cmd.run_stderr" | "cmd.shell"
        | "cmd.run_bg" => {
            (first < argv.len()).then_some(())?;
            Inner::Line {
                start: first,
                end: first + 1,
            }
        }
        "system.reboot" => Inner::Synthetic(vec!["reboot".into()]),
        "system.shutdown" | "system.poweroff" => Inner::Synthetic(vec!["poweroff".into()]),
        "system.halt" => Inner::Synthetic(vec!["halt".into()]),
        "pkg.upgrade" => Inner::Synthetic(vec!["apt-get".into(), "dist-upgrade".into()]),
        "pkg.remove" | "pkg.purge" => {
            let mut words = vec!["apt-get".to_string(), "purge".to_string()];
            words.extend(
                argv[first.min(argv.len())..]
                    .iter()
                    .map(|w| (*w).to_string()),
            );
            Inner::Synthetic(words)
        }
        "service.stop" | "service.restart" | "service.disable" | "service.mask" => {
            let verb = function.trim_start_matches("service.").to_string();
            Inner::Synthetic(vec!["systemctl".into(), verb, arg(0)?])
        }
        _ => return None,
    };
    let mut u = Unwrapped::new(program, inner);
    if fleet {
        u.remote = true;
        u.fleet = true;
        u.hosts = target_at.map(|word| HostSpec::List { word, from: 0 });
    }
    Some(u)
}

fn unwrap_ip_netns(argv: &[&str]) -> Option<Unwrapped> {
    // ip netns exec NAME CMD…
    let pos = argv.iter().position(|w| *w == "netns")?;
    if argv.get(pos + 1) != Some(&"exec") || pos + 3 >= argv.len() {
        return None;
    }
    Some(Unwrapped::new(
        "ip netns exec",
        Inner::Argv {
            start: pos + 3,
            end: argv.len(),
        },
    ))
}

fn unwrap_script(argv: &[&str]) -> Option<Unwrapped> {
    let pos = argv.iter().position(|w| *w == "-c" || *w == "--command")?;
    (pos + 1 < argv.len()).then(|| {
        Unwrapped::new(
            "script -c",
            Inner::Line {
                start: pos + 1,
                end: pos + 2,
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inner_words<'a>(argv: &[&'a str]) -> Vec<Vec<&'a str>> {
        let Some(u) = unwrap(argv) else { return vec![] };
        u.inner
            .iter()
            .map(|i| match i {
                Inner::Argv { start, end } | Inner::Line { start, end } => {
                    argv[*start..*end].to_vec()
                }
                Inner::Synthetic(_) => vec!["<synthetic>"],
            })
            .collect()
    }

    #[test]
    fn a_wrappers_directory_option_is_read_in_every_form() {
        let v = |opts: &[&str]| option_value(opts, 'C', "chdir", "uCS");
        assert_eq!(v(&["-C", "/etc"]).as_deref(), Some("/etc"));
        assert_eq!(v(&["-C/etc"]).as_deref(), Some("/etc"));
        assert_eq!(v(&["-i", "-C", "/etc"]).as_deref(), Some("/etc"));
        assert_eq!(v(&["-iC", "/etc"]).as_deref(), Some("/etc"));
        assert_eq!(v(&["--chdir=/etc"]).as_deref(), Some("/etc"));
        assert_eq!(v(&["--chdir", "/etc"]).as_deref(), Some("/etc"));
        assert_eq!(
            v(&["-u", "C", "-C", "/a", "-C", "/b"]).as_deref(),
            Some("/b")
        );
        assert_eq!(v(&["-uC"]), None, "C is -u's value");
        assert_eq!(v(&["-i"]), None);
    }

    #[test]
    fn wrapper_table() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("sudo plain", &["sudo", "reboot"], &["reboot"]),
            (
                "sudo with user value",
                &["sudo", "-u", "postgres", "psql"],
                &["psql"],
            ),
            (
                "sudo attached user",
                &["sudo", "-upostgres", "psql"],
                &["psql"],
            ),
            (
                "sudo bundled flags then value",
                &["sudo", "-Eu", "root", "reboot"],
                &["reboot"],
            ),
            (
                "sudo long user",
                &["sudo", "--user=root", "reboot"],
                &["reboot"],
            ),
            (
                "sudo env words",
                &["sudo", "FOO=1", "BAR=2", "reboot"],
                &["reboot"],
            ),
            ("sudo double dash", &["sudo", "--", "reboot"], &["reboot"]),
            ("sudo -l lists only", &["sudo", "-l", "reboot"], &[]),
            ("sudo -i alone", &["sudo", "-i"], &[]),
            (
                "sudo -i with command",
                &["sudo", "-i", "reboot"],
                &["reboot"],
            ),
            (
                "env assignments",
                &["env", "-i", "A=1", "reboot", "now"],
                &["reboot", "now"],
            ),
            (
                "env -u value",
                &["env", "-u", "HOME", "reboot"],
                &["reboot"],
            ),
            ("nice -n", &["nice", "-n", "10", "reboot"], &["reboot"]),
            ("nice -10", &["nice", "-10", "reboot"], &["reboot"]),
            ("ionice", &["ionice", "-c", "3", "reboot"], &["reboot"]),
            (
                "chrt priority",
                &["chrt", "-f", "10", "reboot"],
                &["reboot"],
            ),
            (
                "taskset mask",
                &["taskset", "-c", "0-3", "reboot"],
                &["reboot"],
            ),
            (
                "timeout duration",
                &["timeout", "-s", "KILL", "5", "reboot"],
                &["reboot"],
            ),
            (
                "timeout long",
                &["timeout", "--kill-after=3", "5s", "reboot"],
                &["reboot"],
            ),
            ("nohup", &["nohup", "reboot"], &["reboot"]),
            ("setsid", &["setsid", "-f", "reboot"], &["reboot"]),
            (
                "stdbuf",
                &["stdbuf", "-oL", "-e", "0", "reboot"],
                &["reboot"],
            ),
            ("time -p", &["time", "-p", "reboot"], &["reboot"]),
            ("command", &["command", "reboot"], &["reboot"]),
            (
                "command -v only looks up",
                &["command", "-v", "reboot"],
                &[],
            ),
            ("exec -a", &["exec", "-a", "name", "reboot"], &["reboot"]),
            ("chroot dir", &["chroot", "/mnt", "reboot"], &["reboot"]),
            ("chroot alone starts a shell", &["chroot", "/mnt"], &[]),
            (
                "xargs",
                &["xargs", "-I{}", "-P", "4", "rm", "-rf", "{}"],
                &["rm", "-rf", "{}"],
            ),
            (
                "watch joins a line",
                &["watch", "-n", "5", "reboot", "now"],
                &["reboot", "now"],
            ),
            ("bash -c", &["bash", "-c", "reboot; ls"], &["reboot; ls"]),
            (
                "bash -lc bundled",
                &["/bin/bash", "-lc", "reboot"],
                &["reboot"],
            ),
            (
                "sh -e -c with arg0",
                &["sh", "-e", "-c", "reboot", "arg0"],
                &["reboot"],
            ),
            ("bash script is not a line", &["bash", "deploy.sh"], &[]),
            ("bash alone", &["bash"], &[]),
            (
                "busybox sh -c",
                &["busybox", "sh", "-c", "reboot"],
                &["reboot"],
            ),
            ("eval joins", &["eval", "reboot", "now"], &["reboot", "now"]),
            ("su -c", &["su", "-", "root", "-c", "reboot"], &["reboot"]),
            (
                "su --command=",
                &["su", "--command=reboot"],
                &["--command=reboot"],
            ),
            ("su alone", &["su", "-"], &[]),
            (
                "runuser -u",
                &["runuser", "-u", "app", "--", "reboot"],
                &["reboot"],
            ),
            (
                "ssh host cmd",
                &["ssh", "-p", "2222", "-i", "key", "web1", "sudo", "reboot"],
                &["sudo", "reboot"],
            ),
            (
                "ssh bundled -tt",
                &["ssh", "-tt", "web1", "reboot"],
                &["reboot"],
            ),
            ("ssh interactive", &["ssh", "web1"], &[]),
            (
                "find -exec",
                &["find", "/", "-name", "x", "-exec", "rm", "{}", ";"],
                &["rm", "{}"],
            ),
            (
                "kubectl exec",
                &[
                    "kubectl", "-n", "x", "exec", "-it", "pod", "--", "sh", "-c", "reboot",
                ],
                &["sh", "-c", "reboot"],
            ),
            (
                "kubectl get is not a wrapper",
                &["kubectl", "get", "pods", "--", "x"],
                &[],
            ),
            (
                "docker exec",
                &["docker", "exec", "-it", "-u", "root", "ctr", "reboot"],
                &["reboot"],
            ),
            (
                "docker compose exec",
                &["docker", "compose", "-f", "x.yml", "exec", "db", "psql"],
                &["psql"],
            ),
            ("docker ps is not a wrapper", &["docker", "ps"], &[]),
            (
                "a privileged container in the host's pid namespace",
                &[
                    "docker",
                    "run",
                    "--rm",
                    "--privileged",
                    "--pid=host",
                    "-v",
                    "/:/host",
                    "alpine",
                    "nsenter",
                    "-t",
                    "1",
                    "reboot",
                ],
                &["nsenter", "-t", "1", "reboot"],
            ),
            (
                "docker container run with --pid host",
                &[
                    "podman",
                    "container",
                    "run",
                    "--pid",
                    "host",
                    "--privileged",
                    "img",
                    "reboot",
                ],
                &["reboot"],
            ),
            (
                "salt cmd.run runs its line on the minions",
                &["salt", "-G", "os:Debian", "cmd.run", "rm -rf /var/lib/app"],
                &["rm -rf /var/lib/app"],
            ),
            (
                "salt-call runs here",
                &["salt-call", "--local", "cmd.run", "reboot"],
                &["reboot"],
            ),
            (
                "salt test.ping is not a wrapper",
                &["salt", "*", "test.ping"],
                &[],
            ),
            (
                "an ordinary container's command stays inside it",
                &["docker", "run", "-it", "ubuntu", "reboot"],
                &[],
            ),
            (
                "privileged alone is not the host's namespace",
                &["docker", "run", "--privileged", "ubuntu", "reboot"],
                &[],
            ),
            ("pdsh", &["pdsh", "-w", "node[1-3]", "reboot"], &["reboot"]),
            (
                "ansible -a",
                &["ansible", "all", "-m", "shell", "-a", "reboot"],
                &["reboot"],
            ),
            (
                "ansible default module",
                &["ansible", "web", "-a", "reboot"],
                &["reboot"],
            ),
            (
                "ansible reboot module",
                &["ansible", "all", "-m", "reboot"],
                &["<synthetic>"],
            ),
            (
                "ip netns exec",
                &["ip", "netns", "exec", "ns1", "reboot"],
                &["reboot"],
            ),
            (
                "flock file cmd",
                &["flock", "/tmp/l", "reboot"],
                &["reboot"],
            ),
            (
                "flock -c",
                &["flock", "/tmp/l", "-c", "reboot"],
                &["reboot"],
            ),
            (
                "env -S splits a string",
                &["env", "-S", "reboot now"],
                &["reboot now"],
            ),
            ("plain program", &["ls", "-l"], &[]),
            (
                "sudo -k with a command runs it",
                &["sudo", "-k", "reboot"],
                &["reboot"],
            ),
            (
                "ionice -t takes no value",
                &["ionice", "-t", "-c", "3", "reboot"],
                &["reboot"],
            ),
            (
                "ssh options after the host",
                &["ssh", "web1", "-t", "reboot"],
                &["reboot"],
            ),
            (
                "ssh -- after the host",
                &["ssh", "-i", "k", "root@web1", "--", "sudo", "reboot"],
                &["sudo", "reboot"],
            ),
            ("eval --", &["eval", "--", "reboot"], &["reboot"]),
            ("trap", &["trap", "reboot", "EXIT"], &["reboot"]),
            ("trap -p lists", &["trap", "-p"], &[]),
            ("busybox applet", &["busybox", "reboot"], &["reboot"]),
            ("oc rsh", &["oc", "rsh", "web-0", "reboot"], &["reboot"]),
            (
                "parallel",
                &["parallel", "-j4", "ssh", "{}", "reboot", ":::", "a", "b"],
                &["ssh", "{}", "reboot"],
            ),
        ];
        for (name, argv, want) in cases {
            let got = inner_words(argv);
            let got_first: Vec<&str> = got.first().cloned().unwrap_or_default();
            assert_eq!(&got_first[..], *want, "case {name}: {argv:?}");
        }
    }

    #[test]
    fn ssh_and_fanout_mark_remote_and_fleet() {
        let u = unwrap(&["ssh", "h", "reboot"]).unwrap();
        assert!(u.remote && !u.fleet);
        let u = unwrap(&["clush", "-w", "n[1-3]", "reboot"]).unwrap();
        assert!(u.remote && u.fleet);
        let u = unwrap(&["ansible", "localhost", "-a", "reboot"]).unwrap();
        assert!(!u.fleet);
    }

    #[test]
    fn find_keeps_itself_and_every_exec() {
        let argv = [
            "find", "/", "-exec", "rm", "{}", ";", "-execdir", "chmod", "777", "{}", "+",
        ];
        let u = unwrap(&argv).unwrap();
        assert!(u.keep_self);
        assert_eq!(u.inner.len(), 2);
    }

    #[test]
    fn known_shell_setup_tools_and_their_arguments() {
        for argv in [
            &["ssh-agent", "-s"][..],
            &["/usr/bin/ssh-agent"],
            &["starship", "init", "bash"],
            &["direnv", "hook", "zsh"],
            &["kubectl", "completion", "bash"],
            &["conda", "shell.bash", "hook"],
        ] {
            assert!(generates_shell_setup(argv), "{argv:?}");
        }
        for argv in [
            &["curl", "-s", "https://x"][..],
            &["starship", "--version"],
            &["kubectl", "get", "pods"],
            &["poetry", "env"],
            &[],
        ] {
            assert!(!generates_shell_setup(argv), "{argv:?}");
        }
    }
}
