//! Which configuration file `config::load` reads, and what it makes of
//! files that are missing, unreadable or broken. Drives the library API
//! with temp files; `load_with_system` stands in a temp file for
//! /etc/safe-run/config.toml.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use safe_run::config::{
    Config, ConfigError, Loaded, MAX_FILE_BYTES, Source, load, load_with_system, render,
};
use safe_run::verdict::Ask;
use tempfile::TempDir;

/// A temp directory with the files a test writes into it.
struct Files {
    dir: TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes `name` (mode 644) and returns its path.
    fn write(&self, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, text).expect("write");
        set_mode(&path, 0o644);
        path
    }

    /// A path in the directory where no file is.
    fn missing(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

const SYSTEM: &str = "[confirm]\nlow = \"run\"\n";
const ENV: &str = "[confirm]\nmedium = \"deny\"\n";
const EXPLICIT: &str = "[confirm]\nhigh = \"deny\"\n";

/// Which of the three files a loaded configuration came from, by the
/// setting only that file changes.
fn which(loaded: &Loaded) -> &'static str {
    let c = &loaded.config.confirm;
    match (c.low, c.medium, c.high) {
        (Ask::Run, _, _) => "system",
        (_, Ask::Deny, _) => "env",
        (_, _, Ask::Deny) => "explicit",
        _ => "defaults",
    }
}

#[test]
fn precedence_is_explicit_then_env_then_system_then_defaults() {
    let files = Files::new();
    let system = files.write("system.toml", SYSTEM);
    let env = files.write("env.toml", ENV);
    let explicit = files.write("explicit.toml", EXPLICIT);
    let no_system = files.missing("no-system.toml");

    // (case, --config, $SAFE_RUN_CONFIG, system file, the file that wins)
    type Case<'a> = (
        &'a str,
        Option<&'a Path>,
        Option<&'a Path>,
        &'a Path,
        &'a str,
    );
    let cases: [Case<'_>; 7] = [
        (
            "all three",
            Some(&explicit),
            Some(&env),
            &system,
            "explicit",
        ),
        (
            "explicit and system",
            Some(&explicit),
            None,
            &system,
            "explicit",
        ),
        ("env and system", None, Some(&env), &system, "env"),
        ("env only", None, Some(&env), &no_system, "env"),
        ("system only", None, None, &system, "system"),
        ("nothing at all", None, None, &no_system, "defaults"),
        (
            "empty env value",
            None,
            Some(Path::new("")),
            &system,
            "system",
        ),
    ];
    for (name, explicit, env, system, expected) in cases {
        let loaded =
            load_with_system(explicit, env, system).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(which(&loaded), expected, "{name}");
    }
}

#[test]
fn the_file_read_decides_only_what_it_sets() {
    let files = Files::new();
    let system = files.write("system.toml", SYSTEM);
    let env = files.write("env.toml", ENV);
    let loaded = load_with_system(None, Some(&env), &system).unwrap();
    assert_eq!(loaded.path.as_deref(), Some(env.as_path()));
    assert_eq!(loaded.source("confirm.medium"), Source::File(env.clone()));
    // Not layered: the system file's `low` is not in force.
    assert_eq!(loaded.config.confirm.low, Config::default().confirm.low);
    assert_eq!(loaded.source("confirm.low"), Source::Default);
}

#[test]
fn no_file_anywhere_is_the_defaults() {
    let files = Files::new();
    let loaded = load_with_system(None, None, &files.missing("config.toml")).unwrap();
    assert_eq!(loaded, Loaded::defaults());
    assert!(render(&loaded).contains("no configuration file was read"));
}

#[test]
fn a_missing_file_that_was_asked_for_is_an_error() {
    let files = Files::new();
    let system = files.write("system.toml", SYSTEM);
    let missing = files.missing("typo.toml");
    for (name, explicit, env) in [
        ("--config", Some(missing.as_path()), None),
        ("SAFE_RUN_CONFIG", None, Some(missing.as_path())),
    ] {
        match load_with_system(explicit, env, &system) {
            Err(ConfigError::Read { path, source }) => {
                assert_eq!(path, missing, "{name}");
                assert_eq!(source.kind(), io::ErrorKind::NotFound, "{name}");
            }
            other => panic!("{name}: expected a read error, got {other:?}"),
        }
    }
    let shown = load_with_system(Some(&missing), None, &system)
        .unwrap_err()
        .to_string();
    assert!(
        shown.starts_with("cannot read the configuration file "),
        "{shown}"
    );
    assert!(shown.contains("typo.toml"), "{shown}");
}

#[test]
fn load_reads_an_explicit_file_without_the_system_one() {
    let files = Files::new();
    let explicit = files.write("explicit.toml", EXPLICIT);
    let loaded = load(Some(&explicit), None).unwrap();
    assert_eq!(which(&loaded), "explicit");
    let loaded = load(None, Some(&explicit)).unwrap();
    assert_eq!(which(&loaded), "explicit");
}

#[test]
fn an_invalid_file_lists_every_error_with_its_path() {
    let files = Files::new();
    let system = files.write(
        "system.toml",
        "[confirm]\nlow = \"maybe\"\n[shell]\nprogram = \"bash\"\n",
    );
    let err = load_with_system(None, None, &system).unwrap_err();
    let ConfigError::Invalid { path, errors } = &err else {
        panic!("expected an invalid file, got {err:?}");
    };
    assert_eq!(path, &system);
    assert_eq!(errors.len(), 2);
    let shown = err.to_string();
    let name = system.display().to_string();
    assert!(
        shown.starts_with(&format!("{name}:2:7: `confirm.low`")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("\n{name}:4:11: `shell.program`")),
        "{shown}"
    );
    assert!(
        shown.contains("\n2 | low = \"maybe\"\n  |       ^^^^^^^\n"),
        "{shown}"
    );
}

#[test]
fn a_system_file_that_is_broken_is_not_silently_ignored() {
    let files = Files::new();
    let system = files.write("system.toml", "[confirm\n");
    assert!(matches!(
        load_with_system(None, None, &system),
        Err(ConfigError::Invalid { .. })
    ));
    // A directory where the file should be cannot be read.
    let dir = files.dir.path().join("config.d");
    fs::create_dir(&dir).unwrap();
    assert!(matches!(
        load_with_system(None, None, &dir),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn a_world_writable_file_is_refused() {
    let files = Files::new();
    let path = files.write("open.toml", EXPLICIT);
    set_mode(&path, 0o666);
    match load_with_system(Some(&path), None, &files.missing("x")) {
        Err(ConfigError::WorldWritable { mode, .. }) => assert_eq!(mode, 0o666),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let shown = load_with_system(Some(&path), None, &files.missing("x"))
        .unwrap_err()
        .to_string();
    assert!(shown.contains("chmod o-w"), "{shown}");
}

#[test]
fn dev_null_is_an_empty_configuration() {
    let loaded = load_with_system(
        Some(Path::new("/dev/null")),
        None,
        Path::new("/nonexistent"),
    )
    .expect("/dev/null reads as an empty file");
    assert_eq!(loaded.config, Config::default());
    assert_eq!(loaded.path.as_deref(), Some(Path::new("/dev/null")));
}

#[test]
fn a_huge_file_is_refused_without_reading_it_all() {
    let files = Files::new();
    let path = files.write("huge.toml", vec![b'#'; MAX_FILE_BYTES as usize + 1]);
    assert!(matches!(
        load_with_system(Some(&path), None, &files.missing("x")),
        Err(ConfigError::TooLarge { .. })
    ));
    let path = files.write("big.toml", vec![b'#'; MAX_FILE_BYTES as usize]);
    assert!(load_with_system(Some(&path), None, &files.missing("x")).is_ok());
}

#[test]
fn a_file_that_is_not_utf8_points_at_the_bad_byte() {
    let files = Files::new();
    let path = files.write("latin1.toml", b"[environment]\nname = \"z\xfcrich\"\n");
    let err = load_with_system(Some(&path), None, &files.missing("x")).unwrap_err();
    let ConfigError::Invalid { errors, .. } = &err else {
        panic!("expected an invalid file, got {err:?}");
    };
    match &errors[..] {
        [ConfigError::At(d)] => {
            assert_eq!((d.line, d.col), (2, 10));
            assert_eq!(d.message, "this file is not UTF-8 text");
        }
        other => panic!("{other:?}"),
    }
}
