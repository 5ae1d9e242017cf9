//! How the built binary loads its configuration and rules, and that every
//! command loads them alike: `check` answers with what `--` and `-c` do
//! (site rules, disabled rules, a stricter or looser policy, a missing
//! `--config`); a broken configuration keeps the strictest policy instead
//! of falling back to the defaults; files others could change are
//! refused; overrides in login and `-c` sessions need the site's
//! permission; who is recorded; `syslog.required`; lines starting with `-`.
//!
//! Risky programs are fakes first on PATH that leave a marker file;
//! nothing real is ever rebooted. Every run has no terminal (`setsid -w`,
//! stdin from /dev/null or a pipe) and a deadline, so a hang fails the
//! test instead of stopping it. The tests that need a system
//! configuration at /etc/safe-run/config.toml give the binary one in a
//! private mount namespace (an overlay over /etc that only it sees); where
//! that is not possible they say SKIP and pass.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// How long one run may take before it counts as a hang.
const DEADLINE: Duration = Duration::from_secs(30);
const REASON: &str = "CHG-1234 planned kernel rollout";

/// Writes a file while no other test thread forks (`common::bin`'s spawn
/// lock: a fork holding a file open for writing makes another thread's
/// exec of it fail with ETXTBSY).
fn write_file(path: &Path, data: &[u8], mode: u32) {
    crate::common::bin::without_forks(|| {
        fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    });
}

fn toml_str(path: &Path) -> String {
    let s = path.display().to_string();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn short_host() -> String {
    let host = nix::unistd::gethostname()
        .expect("gethostname")
        .into_string()
        .expect("UTF-8 host name");
    host.split('.').next().unwrap_or(&host).to_string()
}

/// How a run ended.
#[derive(Debug)]
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn expect(&self, status: i32) -> &Out {
        assert_eq!(
            self.status, status,
            "exit status\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        let line = self.stdout.lines().next().unwrap_or("");
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
    }
}

/// Runs `cmd` to its end with `input` on stdin; kills it and fails the
/// test if it is not done by the deadline.
fn run_bounded(mut cmd: Command, input: Option<&str>) -> Out {
    use std::os::unix::process::ExitStatusExt;
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = crate::common::spawn(&mut cmd);
    if let Some(text) = input {
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(text.as_bytes());
    }
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {DEADLINE:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    Out {
        status: out
            .status
            .code()
            .or_else(|| out.status.signal().map(|s| 128 + s))
            .expect("a status"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temp directory with fakes first on PATH (`reboot`, `foo`), an audit
/// log, and the files a test writes.
struct Env {
    dir: TempDir,
    bin: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).expect("mkdir");
        let env = Env { dir, bin };
        for name in ["reboot", "foo"] {
            let marker = env.marker(name);
            write_file(
                &env.bin.join(name),
                format!(
                    "#!/bin/sh\necho ran >> '{}'\necho FAKE-{name}\n",
                    marker.display()
                )
                .as_bytes(),
                0o755,
            );
        }
        env
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn marker(&self, name: &str) -> PathBuf {
        self.path().join(format!("ran-{name}"))
    }

    fn ran(&self, name: &str) -> bool {
        self.marker(name).exists()
    }

    fn audit(&self) -> PathBuf {
        self.path().join("audit.jsonl")
    }

    fn records(&self) -> Vec<Value> {
        fs::read_to_string(self.audit())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON record"))
            .collect()
    }

    /// Writes `name` (mode 644).
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        write_file(&path, text.as_bytes(), 0o644);
        path
    }

    /// A configuration `name` with the audit log in the temp dir, then
    /// `extra`.
    fn config(&self, name: &str, extra: &str) -> PathBuf {
        self.write(
            name,
            &format!(
                "color = \"never\"\n[audit]\npath = {}\n{extra}",
                toml_str(&self.audit())
            ),
        )
    }

    /// A rule directory `name` with one rule: `foo` is high risk.
    fn foo_rules(&self, name: &str) -> PathBuf {
        let dir = self.path().join(name);
        fs::create_dir(&dir).expect("mkdir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        write_file(
            &dir.join("foo.toml"),
            br#"[[rule]]
id = "site-foo"
risk = "high"
programs = ["foo"]
why = "foo rewrites the site's state."
instead = "Ask the site team."
match = ["foo", "sudo foo now"]
allow = ["ls", "echo foo"]
"#,
            0o644,
        );
        dir
    }

    /// The binary with `args`, no terminal, PATH with the fakes first, the
    /// variables that choose files cleared, `vars` set.
    fn command(&self, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut c = Command::new("setsid");
        c.arg("-w").arg(env!("CARGO_BIN_EXE_safe-run")).args(args);
        self.prepare(&mut c, vars);
        c
    }

    fn prepare(&self, c: &mut Command, vars: &[(&str, &str)]) {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        );
        c.current_dir(self.path())
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .env("HOME", self.path())
            .env("XDG_STATE_HOME", self.path());
        for v in [
            "SAFE_RUN_CONFIG",
            "SAFE_RUN_RULES_DIR",
            "SAFE_RUN_REASON",
            "SAFE_RUN_CONFIRM",
            "SUDO_USER",
            "SSH_CONNECTION",
        ] {
            c.env_remove(v);
        }
        for (k, v) in vars {
            c.env(k, v);
        }
    }

    fn run(&self, args: &[&str]) -> Out {
        run_bounded(self.command(args, &[]), None)
    }

    fn run_with(&self, args: &[&str], vars: &[(&str, &str)], input: Option<&str>) -> Out {
        run_bounded(self.command(args, vars), input)
    }

    /// Runs the binary with `system` as /etc/safe-run/config.toml, seen
    /// only by it (a mount namespace with an overlay over /etc). `None`
    /// when this machine cannot do that.
    fn run_with_site(
        &self,
        system: &str,
        args: &[&str],
        vars: &[(&str, &str)],
        input: Option<&str>,
    ) -> Option<Out> {
        if Path::new("/etc/safe-run").exists() {
            eprintln!("SKIP: this machine has /etc/safe-run; the overlay test would shadow it");
            return None;
        }
        let n = fs::read_dir(self.path()).map_or(0, Iterator::count);
        let layer = self.path().join(format!("layer-{n}"));
        for d in ["upper/safe-run", "work"] {
            fs::create_dir_all(layer.join(d)).expect("mkdir");
        }
        write_file(
            &layer.join("upper/safe-run/config.toml"),
            system.as_bytes(),
            0o644,
        );
        let mut c = Command::new("unshare");
        if !nix::unistd::geteuid().is_root() {
            c.arg("-r");
        }
        c.args(["-m", "sh", "-c"])
            .arg(
                "mount -t overlay overlay -o \"lowerdir=/etc,upperdir=$1/upper,workdir=$1/work\" /etc \
                 || exit 200; shift; exec setsid -w \"$@\"",
            )
            .arg("sh")
            .arg(&layer)
            .arg(env!("CARGO_BIN_EXE_safe-run"))
            .args(args);
        self.prepare(&mut c, vars);
        let out = run_bounded(c, input);
        if out.status == 200 || out.stderr.contains("unshare: ") {
            eprintln!("SKIP: no private mount namespace here: {}", out.stderr);
            return None;
        }
        Some(out)
    }
}

fn approve<'a>(host: &'a str, argv: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["--reason", REASON, "--confirm", host, "--"];
    args.extend_from_slice(argv);
    args
}

// ---------------------------------------------------------------------------
// check answers with what running does
// ---------------------------------------------------------------------------

#[test]
fn check_and_running_agree_on_a_site_rule_from_the_rules_variable() {
    let env = Env::new();
    let config = env.config("config.toml", "");
    let rules = env.foo_rules("site-rules");
    let vars = [("SAFE_RUN_RULES_DIR", rules.to_str().unwrap())];
    let cfg = config.to_str().unwrap();

    let checked = env.run_with(&["--config", cfg, "check", "--json", "foo"], &vars, None);
    checked.expect(1);
    let v = checked.json();
    assert_eq!(v["verdict"], "confirm", "{v}");
    assert_eq!(v["findings"][0]["rule"], "site-foo");
    assert_eq!(v["sources"]["rule_dirs"][0], rules.to_str().unwrap());

    env.run_with(&["--config", cfg, "--", "foo"], &vars, None)
        .expect(77);
    assert!(!env.ran("foo"));
}

#[test]
fn check_and_running_agree_on_a_site_rule_from_the_configuration() {
    let env = Env::new();
    let rules = env.foo_rules("site-rules");
    let config = env.config(
        "config.toml",
        &format!("[rules]\ndirs = [{}]\n", toml_str(&rules)),
    );
    let cfg = config.to_str().unwrap();
    env.run(&["--config", cfg, "--no-site-rules", "check", "foo"])
        .expect(1);
    env.run(&[
        "--config",
        cfg,
        "--no-site-rules",
        "rules",
        "show",
        "site-foo",
    ])
    .expect(0);
    env.run(&["--config", cfg, "--no-site-rules", "--", "foo"])
        .expect(77);
    env.run(&["--config", cfg, "--no-site-rules", "-c", "foo"])
        .expect(77);
    assert!(!env.ran("foo"));
}

#[test]
fn check_and_running_agree_on_a_disabled_rule() {
    let env = Env::new();
    let config = env.config("config.toml", "[rules]\ndisable = [\"power-reboot\"]\n");
    let cfg = config.to_str().unwrap();
    let checked = env.run(&[
        "--config",
        cfg,
        "--no-site-rules",
        "check",
        "--json",
        "reboot",
    ]);
    checked.expect(0);
    let v = checked.json();
    assert_eq!(v["verdict"], "allow", "{v}");
    assert_eq!(v["sources"]["disabled"][0], "power-reboot");
    assert_eq!(v["sources"]["config"], cfg);
    assert_eq!(v["sources"]["config_from"], "--config");
    env.run(&[
        "--config",
        cfg,
        "--no-site-rules",
        "rules",
        "show",
        "power-reboot",
    ])
    .expect(1);
    let ran = env.run(&["--config", cfg, "--no-site-rules", "--", "reboot"]);
    ran.expect(0);
    assert!(env.ran("reboot"));
}

#[test]
fn check_and_running_agree_on_a_stricter_policy() {
    let env = Env::new();
    let host = short_host();
    let config = env.config("config.toml", "[confirm]\nhigh = \"deny\"\n");
    let cfg = config.to_str().unwrap();
    let checked = env.run(&[
        "--config",
        cfg,
        "--no-site-rules",
        "check",
        "--json",
        "reboot",
    ]);
    checked.expect(1);
    let v = checked.json();
    assert_eq!(
        (v["verdict"].as_str(), v["asks"].as_str()),
        (Some("deny"), Some("deny"))
    );
    let human = env.run(&["--config", cfg, "--no-site-rules", "check", "reboot"]);
    assert!(
        human.stdout.starts_with(
            "DENY (high): refused by policy — this site's policy: [confirm] high = \"deny\""
        ),
        "{}",
        human.stdout
    );
    let mut args = vec!["--config", cfg, "--no-site-rules"];
    args.extend(approve(&host, &["reboot"]));
    env.run(&args).expect(77);
    assert!(!env.ran("reboot"));
}

#[test]
fn a_level_the_site_sets_to_run_checks_as_zero_and_runs() {
    let env = Env::new();
    let config = env.config("config.toml", "[confirm]\nhigh = \"run\"\n");
    let cfg = config.to_str().unwrap();
    let checked = env.run(&[
        "--config",
        cfg,
        "--no-site-rules",
        "check",
        "--json",
        "reboot",
    ]);
    checked.expect(0);
    assert_eq!(checked.json()["asks"], "run");
    env.run(&["--config", cfg, "--no-site-rules", "--", "reboot"])
        .expect(0);
    assert!(env.ran("reboot"));
}

#[test]
fn the_shell_builtin_check_gives_the_same_answer() {
    let env = Env::new();
    let config = env.config("config.toml", "[confirm]\nhigh = \"deny\"\n");
    let cfg = config.to_str().unwrap();
    let shell = env.run_with(
        &["--config", cfg, "--no-site-rules"],
        &[],
        Some("check reboot\n"),
    );
    assert!(shell.stdout.contains("DENY (high)"), "{shell:?}");
    let check = env.run(&["--config", cfg, "--no-site-rules", "check", "reboot"]);
    assert_eq!(
        check.stdout.lines().next(),
        shell.stdout.lines().find(|l| l.contains("DENY"))
    );
}

#[test]
fn a_missing_config_file_is_an_error_for_every_command() {
    let env = Env::new();
    let missing = env.path().join("typo.toml");
    let m = missing.to_str().unwrap();
    for args in [
        vec!["check", "ls"],
        vec!["check", "--json", "reboot"],
        vec!["rules", "list"],
        vec!["rules", "test"],
        vec!["config"],
        vec!["audit", "verify"],
        vec!["--", "true"],
        vec!["-c", "true"],
        vec![],
    ] {
        let mut all = vec!["--config", m, "--no-site-rules"];
        all.extend(&args);
        let out = env.run(&all);
        out.expect(2);
        assert!(
            out.stderr.contains("does not exist"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}

// ---------------------------------------------------------------------------
// A broken configuration keeps the strictest policy
// ---------------------------------------------------------------------------

/// The site set `high = "deny"` and broke the file in one way or another:
/// a pre-approved reboot must still be refused, and `check` must say so.
#[test]
fn a_broken_configuration_keeps_the_strict_policy() {
    let env = Env::new();
    let host = short_host();
    let audit = toml_str(&env.audit());
    let deny = format!("color = \"never\"\n[audit]\npath = {audit}\n[confirm]\nhigh = \"deny\"\n");
    let mut cases: Vec<(&str, PathBuf)> = vec![
        (
            "syntax error",
            env.write("syntax.toml", &format!("{deny}low = \n")),
        ),
        (
            "unknown key",
            env.write(
                "unknown.toml",
                &format!("{deny}[shell]\nprogam = \"/bin/sh\"\n"),
            ),
        ),
        (
            "misspelt level",
            env.write(
                "misspelt.toml",
                &format!("[audit]\npath = {audit}\n[confirm]\nhihg = \"deny\"\n"),
            ),
        ),
        (
            "invalid level",
            env.write(
                "invalid.toml",
                &format!("[audit]\npath = {audit}\n[confirm]\nhigh = \"dney\"\n"),
            ),
        ),
        ("mode 666", env.write("open.toml", &deny)),
        ("directory", env.path().join("dir.toml")),
        (
            "over 1 MiB",
            env.write("huge.toml", &format!("{deny}{}", "#".repeat(1 << 20))),
        ),
        ("FIFO", env.path().join("fifo.toml")),
    ];
    fs::set_permissions(&cases[4].1, fs::Permissions::from_mode(0o666)).unwrap();
    fs::create_dir(&cases[5].1).unwrap();
    nix::unistd::mkfifo(&cases[7].1, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    for (name, path) in cases.drain(..) {
        let cfg = path.to_str().unwrap();
        let checked = env.run(&[
            "--config",
            cfg,
            "--no-site-rules",
            "check",
            "--json",
            "reboot",
        ]);
        checked.expect(1);
        assert_eq!(checked.json()["verdict"], "deny", "{name}: {checked:?}");
        assert!(
            checked.stderr.contains("WARNING"),
            "{name}: {}",
            checked.stderr
        );
        let mut args = vec!["--config", cfg, "--no-site-rules"];
        args.extend(approve(&host, &["reboot"]));
        let ran = env.run(&args);
        assert_eq!(ran.status, 77, "{name}: {ran:?}");
        assert!(!env.ran("reboot"), "{name}: the reboot ran");
        // Lines that hit no rule still run: nobody is locked out.
        env.run(&["--config", cfg, "--no-site-rules", "--", "true"])
            .expect(0);
    }
}

#[test]
fn config_shows_the_strictest_readings_and_exits_2() {
    let env = Env::new();
    let config = env.write("c.toml", "[confirm]\nhigh = \"dney\"\n");
    let out = env.run(&["--config", config.to_str().unwrap(), "config"]);
    out.expect(2);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("high = \"deny\"") && l.contains("STRICTEST READING")),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("c.toml:2:8:"), "{}", out.stderr);
}

#[test]
fn rule_files_and_directories_others_can_write_are_refused() {
    let env = Env::new();
    let config = env.config("config.toml", "");
    let cfg = config.to_str().unwrap();
    let rules = env.foo_rules("open-file");
    fs::set_permissions(rules.join("foo.toml"), fs::Permissions::from_mode(0o666)).unwrap();
    let out = env.run(&[
        "--config",
        cfg,
        "--rules",
        rules.to_str().unwrap(),
        "check",
        "foo",
    ]);
    assert!(
        out.stderr
            .contains("foo.toml: refused: the rule file is writable by every user"),
        "{}",
        out.stderr
    );
    out.expect(0);
    let rules = env.foo_rules("open-dir");
    fs::set_permissions(&rules, fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.run(&[
        "--config",
        cfg,
        "--rules",
        rules.to_str().unwrap(),
        "check",
        "foo",
    ]);
    assert!(
        out.stderr
            .contains("refused: the rule directory is writable by every user"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------
// Overrides in login shells and -c sessions
// ---------------------------------------------------------------------------

#[test]
fn overrides_are_refused_in_login_and_dash_c_sessions_unless_the_site_allows_them() {
    let env = Env::new();
    let audit = toml_str(&env.audit());
    let site = format!("color = \"never\"\n[audit]\npath = {audit}\n");
    let lax = env.config("lax.toml", "[confirm]\nhigh = \"run\"\n");
    let lax = lax.to_str().unwrap();
    let lax_rules = env.path().join("lax-rules");
    fs::create_dir(&lax_rules).unwrap();
    write_file(
        &lax_rules.join("reboot.toml"),
        br#"[[rule]]
id = "power-reboot"
risk = "low"
programs = ["reboot"]
why = "Lab hosts reboot freely."
instead = "Nothing."
match = ["reboot", "sudo reboot"]
allow = ["ls", "echo reboot"]
"#,
        0o644,
    );
    let lax_rules = lax_rules.to_str().unwrap();

    // -c with SAFE_RUN_CONFIG, -c with --config, -c with SAFE_RUN_RULES_DIR,
    // a login shell with SAFE_RUN_CONFIG: none honoured.
    /// Arguments, environment, stdin.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], Option<&'a str>);
    let refused: [Case<'_>; 4] = [
        (&["-c", "reboot"], &[("SAFE_RUN_CONFIG", lax)], None),
        (&["--config", lax, "-c", "reboot"], &[], None),
        (
            &["-c", "reboot"],
            &[("SAFE_RUN_RULES_DIR", lax_rules)],
            None,
        ),
        (&["-l"], &[("SAFE_RUN_CONFIG", lax)], Some("reboot\n")),
    ];
    for (args, vars, input) in refused {
        let Some(out) = env.run_with_site(&site, args, vars, input) else {
            return;
        };
        assert!(!env.ran("reboot"), "{args:?} {vars:?}: ran\n{out:?}");
        assert!(
            out.stderr.contains("not honoured in a"),
            "{args:?}: {}",
            out.stderr
        );
        if input.is_none() {
            out.expect(77);
        }
    }
    // Scripts (`--`) and check keep honouring them.
    let out = env
        .run_with_site(
            &site,
            &["check", "reboot"],
            &[("SAFE_RUN_CONFIG", lax)],
            None,
        )
        .expect("namespace worked above");
    out.expect(0);
    env.run_with_site(&site, &["--", "reboot"], &[("SAFE_RUN_CONFIG", lax)], None)
        .expect("namespace")
        .expect(0);
    assert!(env.ran("reboot"));
    fs::remove_file(env.marker("reboot")).unwrap();
    // A site that allows them.
    let allowing = format!("{site}[session]\nallow_overrides = true\n");
    env.run_with_site(
        &allowing,
        &["-c", "reboot"],
        &[("SAFE_RUN_CONFIG", lax)],
        None,
    )
    .expect("namespace")
    .expect(0);
    assert!(env.ran("reboot"));
}

#[test]
fn without_a_system_configuration_overrides_are_honoured_everywhere() {
    if Path::new("/etc/safe-run/config.toml").exists() {
        eprintln!("SKIP: this machine has a system configuration");
        return;
    }
    let env = Env::new();
    let lax = env.config("lax.toml", "[confirm]\nhigh = \"run\"\n");
    env.run_with(
        &["--no-site-rules", "-c", "reboot"],
        &[("SAFE_RUN_CONFIG", lax.to_str().unwrap())],
        None,
    )
    .expect(0);
    assert!(env.ran("reboot"));
}

// ---------------------------------------------------------------------------
// Who is recorded
// ---------------------------------------------------------------------------

/// With a kernel login uid, a `SUDO_USER` set by hand does not name the
/// person behind the session. Setting the login uid needs root (and an
/// unset one); elsewhere the choice itself is checked with plain values in
/// `audit::identity`'s unit tests.
#[test]
fn a_spoofed_sudo_user_does_not_win_over_the_login_uid() {
    let loginuid = fs::read_to_string("/proc/self/loginuid").unwrap_or_default();
    if !nix::unistd::geteuid().is_root() || loginuid.trim() != "4294967295" {
        eprintln!("SKIP: cannot set a login uid here; see audit::identity's unit tests");
        return;
    }
    let Some(daemon) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(1))
        .ok()
        .flatten()
    else {
        eprintln!("SKIP: no user with uid 1");
        return;
    };
    let env = Env::new();
    let config = env.config("config.toml", "");
    let mut c = Command::new("setsid");
    c.args([
        "-w",
        "sh",
        "-c",
        "echo 1 > /proc/self/loginuid && exec \"$@\"",
        "sh",
    ])
    .arg(env!("CARGO_BIN_EXE_safe-run"))
    .args([
        "--config",
        config.to_str().unwrap(),
        "--no-site-rules",
        "--",
        "true",
    ]);
    env.prepare(&mut c, &[("SUDO_USER", "mallory")]);
    let out = run_bounded(c, None);
    if out.stderr.contains("loginuid") {
        eprintln!("SKIP: the login uid cannot be set here: {}", out.stderr);
        return;
    }
    out.expect(0);
    let records = env.records();
    let decision = records.first().expect("a decision record");
    assert_eq!(decision["login_user"], daemon.name.as_str(), "{decision}");
}

// ---------------------------------------------------------------------------
// syslog.required
// ---------------------------------------------------------------------------

#[test]
fn syslog_required_refuses_a_pre_approved_risky_line_when_syslog_is_missing() {
    let env = Env::new();
    let host = short_host();
    let socket = env.path().join("no-such-dev-log");
    let config = env.config(
        "config.toml",
        &format!(
            "[syslog]\nrequired = true\nsocket = {}\n",
            toml_str(&socket)
        ),
    );
    let cfg = config.to_str().unwrap();
    let mut args = vec!["--config", cfg, "--no-site-rules"];
    args.extend(approve(&host, &["reboot"]));
    let out = env.run(&args);
    out.expect(77);
    assert!(!env.ran("reboot"));
    assert!(out.stderr.contains("syslog.required"), "{}", out.stderr);
    let decisions: Vec<String> = env
        .records()
        .iter()
        .map(|r| r["decision"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(decisions, ["confirmed", "refused"]);
    // A line with no finding still runs, with a warning.
    let out = env.run(&["--config", cfg, "--no-site-rules", "--", "true"]);
    out.expect(0);
    assert!(out.stderr.contains("warning"), "{}", out.stderr);
    // Without the requirement the same line runs.
    let relaxed = env.config(
        "relaxed.toml",
        &format!("[syslog]\nenabled = true\nsocket = {}\n", toml_str(&socket)),
    );
    let mut args = vec!["--config", relaxed.to_str().unwrap(), "--no-site-rules"];
    args.extend(approve(&host, &["reboot"]));
    env.run(&args).expect(0);
    assert!(env.ran("reboot"));
}

// ---------------------------------------------------------------------------
// Lines and names that look like options or hold escapes
// ---------------------------------------------------------------------------

#[test]
fn check_checks_a_line_that_starts_with_a_dash() {
    let env = Env::new();
    for args in [
        &["check", "-hx"][..],
        &["check", "--", "-h"],
        &["check", "-rf"],
    ] {
        let mut all = vec!["--no-site-rules"];
        all.extend(args);
        let out = env.run(&all);
        out.expect(0);
        assert!(out.stdout.starts_with("ALLOW"), "{args:?}: {}", out.stdout);
    }
    let out = env.run(&["--no-site-rules", "check", "--json", "-x; reboot"]);
    out.expect(1);
    assert_eq!(out.json()["line"], "-x; reboot");
}

#[test]
fn escapes_in_check_output_and_file_names_are_shown_not_sent() {
    let env = Env::new();
    let line = "reboot \u{1b}]0;owned\u{7}\u{9b}2J";
    let out = env.run(&["--no-site-rules", "check", "--json", line]);
    for c in ['\u{1b}', '\u{7}', '\u{9b}'] {
        assert!(!out.stdout.contains(c), "{c:?} in {:?}", out.stdout);
    }
    assert_eq!(out.json()["line"], line);
    let script = env.write("x\u{1b}[31m.sh", "reboot\n");
    let out = env.run(&[
        "--no-site-rules",
        "check",
        "--file",
        script.to_str().unwrap(),
    ]);
    assert!(!out.stdout.contains('\u{1b}'), "{:?}", out.stdout);
    assert!(
        out.stdout.contains("x\\e[31m.sh:1: CONFIRM"),
        "{}",
        out.stdout
    );
    let missing = env.path().join("gone\u{1b}[2J.sh");
    let out = env.run(&[
        "--no-site-rules",
        "check",
        "--file",
        missing.to_str().unwrap(),
    ]);
    out.expect(2);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
}

#[test]
fn every_decision_record_names_where_its_configuration_and_rules_came_from() {
    let env = crate::common::Env::new();
    let rules = env.path().join("rules.d");
    fs::create_dir(&rules).expect("rules dir");
    let ran = env.run(&["--rules", &rules.display().to_string(), "--", "true"]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let decision = env.last_decision();
    let sources = &decision["sources"];
    assert_eq!(
        sources["config"],
        env.config.display().to_string(),
        "{decision}"
    );
    assert_eq!(sources["config_from"], "--config", "{decision}");
    assert!(
        sources["rule_dirs"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d == &rules.display().to_string())),
        "{decision}"
    );
    // `audit show` tells a reviewer.
    let id = decision["id"].as_str().expect("an id").to_string();
    let shown = env.run(&["audit", "show", &id]);
    assert!(shown.stdout.contains("config"), "{}", shown.stdout);
    assert!(shown.stdout.contains("rules.d"), "{}", shown.stdout);
}
