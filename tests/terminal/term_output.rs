//! What safe-run draws on a real terminal: explanations wrap at the
//! terminal's own width (no `COLUMNS` needed), and `color = "never"` in the
//! configuration means no colour from `check`, `audit` or the shell.

use unicode_width::UnicodeWidthStr;

use crate::common::{Env, Pty};

/// The lines as shown: carriage returns dropped.
fn lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|l| l.replace('\r', ""))
        .filter(|l| !l.is_empty())
        .collect()
}

/// `check reboot` on a `cols`-wide terminal, with `COLUMNS` unset. The
/// terminal is sized by `stty` before safe-run starts, so its size is
/// settled when safe-run asks for it.
fn check_on(env: &Env, cols: u16) -> String {
    let mut cmd = std::process::Command::new("sh");
    crate::common::bin::clean_env(&mut cmd, &env.path_var(), &env.home);
    cmd.arg("-c")
        .arg(format!("stty cols {cols} rows 40 && exec \"$0\" \"$@\""))
        .arg(crate::common::bin())
        .arg("--config")
        .arg(&env.config)
        .arg("--no-site-rules")
        .args(["check", "reboot"])
        .current_dir(env.path());
    let mut pty = Pty::spawn_sized(cmd, cols, 40);
    pty.rest()
}

#[test]
fn check_wraps_its_explanation_at_the_terminals_width() {
    let env = Env::new();
    let narrow = check_on(&env, 60);
    let shown = lines(&narrow);
    assert!(shown.iter().any(|l| l.contains("why:")), "{narrow}");
    for line in &shown {
        assert!(
            line.width() <= 60,
            "wider than 60 columns: {line:?}\n{narrow}"
        );
    }
    // The same explanation on a wide terminal has lines past 60 columns,
    // so the narrow one was wrapped by the width, not short anyway.
    let wide = check_on(&env, 160);
    assert!(
        lines(&wide).iter().any(|l| l.width() > 60),
        "nothing to wrap: {wide}"
    );
}

fn has_sgr(text: &str) -> bool {
    regex::Regex::new(r"\x1b\[[0-9;]*m")
        .expect("a valid pattern")
        .is_match(text)
}

#[test]
fn color_never_gives_no_colour_from_check_audit_or_the_shell() {
    // Env's configuration says `color = "never"`; NO_COLOR is not set, so
    // only the configuration can keep the colour off on a terminal.
    let env = Env::new();
    let on_terminal = |args: &[&str]| {
        let mut cmd = env.bare_command(args);
        cmd.env_remove("NO_COLOR");
        Pty::spawn(cmd)
    };

    let checked = on_terminal(&["check", "reboot"]).rest();
    assert!(checked.contains("CONFIRM"), "{checked}");
    assert!(!has_sgr(&checked), "check: {checked:?}");

    // Something in the log for `audit` to list.
    let ran = env.run(&["--", "true"]);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    let listed = on_terminal(&["audit"]).rest();
    assert!(listed.contains("true"), "{listed}");
    assert!(!has_sgr(&listed), "audit: {listed:?}");

    let mut shell = on_terminal(&[]);
    let banner = shell.expect("every command line is checked");
    shell.wait_reading();
    shell.send_line("check reboot");
    let mut session = banner;
    session += &shell.expect("CONFIRM");
    shell.wait_reading();
    shell.send_line("exit");
    session += &shell.rest();
    assert!(!has_sgr(&session), "shell: {session:?}");

    // The control: with `color = "always"` the same check is coloured, so
    // the assertions above could fail.
    let coloured = Env::with_config(|_| String::new());
    let config = std::fs::read_to_string(&coloured.config).expect("config");
    std::fs::write(
        &coloured.config,
        config.replace("color = \"never\"", "color = \"always\""),
    )
    .expect("write config");
    let mut cmd = coloured.bare_command(&["check", "reboot"]);
    cmd.env_remove("NO_COLOR");
    let painted = Pty::spawn(cmd).rest();
    assert!(has_sgr(&painted), "{painted:?}");
}
