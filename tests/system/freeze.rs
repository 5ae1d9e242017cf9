//! Change freezes as the binary keeps them: the on-call's freeze file and
//! a dated window hold a risky line back, a safe line still runs,
//! `--break-glass` with a long reason runs it and is recorded, and the
//! record is found by `audit --break-glass` and counted by `audit stats`.
//!
//! Which window holds at which time is `freeze`'s unit tests, with a fixed
//! clock; here the windows are placed around the real clock, so the binary
//! reads no clock of a test's choosing.

use serde_json::Value;

use crate::common::{Env, short_host, toml_str};

const SHORT: &str = "CHG-1 kernel patch";
const LONG: &str = "INC-4411 the disk is failing, this node must restart now";

fn frozen_env(windows: &str) -> Env {
    let windows = windows.to_string();
    Env::with_config(move |dir| {
        format!(
            "[freeze]\nfile = {}\n{windows}\n",
            toml_str(&dir.join("freeze"))
        )
    })
}

#[test]
fn the_freeze_file_holds_a_risky_line_back_and_break_glass_runs_it_on_record() {
    let env = frozen_env("");
    env.fake_marked("reboot");
    let host = short_host();
    crate::common::write_file(
        &env.path().join("freeze"),
        b"INC-7 storage degraded, ask #oncall\n",
        0o644,
    );

    // Refused, even with the usual approval, and the freeze is named.
    let run = env.run(&["--reason", LONG, "--confirm", &host, "--", "reboot"]);
    run.expect_status(77);
    assert!(!env.ran("reboot"));
    assert!(run.stderr.contains("INC-7 storage degraded"), "{run:?}");
    assert!(run.stderr.contains("--break-glass"), "{run:?}");
    let d = env.last_decision();
    assert_eq!(d["decision"], "refused", "{d}");
    assert!(d["freeze"].as_str().unwrap().contains("INC-7"), "{d}");
    assert!(d.get("break_glass").is_none(), "{d}");

    // A safe line runs during the freeze.
    env.run(&["--", "true"]).expect_status(0);

    // Break-glass needs the longer reason.
    let run = env.run(&[
        "--break-glass",
        "--reason",
        SHORT,
        "--confirm",
        &host,
        "--",
        "reboot",
    ]);
    run.expect_status(77);
    assert!(run.stderr.contains("at least 40 characters"), "{run:?}");
    assert!(!env.ran("reboot"));

    let run = env.run(&[
        "--break-glass",
        "--reason",
        LONG,
        "--confirm",
        &host,
        "--",
        "reboot",
    ]);
    run.expect_status(0);
    assert!(env.ran("reboot"));
    assert!(run.stderr.contains("BREAK-GLASS"), "{run:?}");
    let d = env.last_decision();
    assert_eq!(d["decision"], "confirmed", "{d}");
    assert_eq!(d["break_glass"], true, "{d}");

    // Found by the filter, alone; counted by stats.
    let list = env.run(&["audit", "--break-glass", "--json"]);
    list.expect_status(0);
    let rows = list.json_lines();
    assert_eq!(rows.len(), 1, "{list:?}");
    assert_eq!(rows[0]["break_glass"], true);
    assert_eq!(rows[0]["reason"], LONG);
    let table = env.run(&["audit", "--break-glass"]);
    assert!(table.stdout.contains("[BREAK-GLASS] reboot"), "{table:?}");
    let stats = env.run(&["audit", "stats", "--json"]);
    stats.expect_status(0);
    let stats: Value = serde_json::from_str(stats.stdout.trim()).expect("stats JSON");
    assert_eq!(stats["break_glass"], 1, "{stats}");
    assert_eq!(stats["held_by_freeze"], 2, "{stats}");
    let text = env.run(&["audit", "stats"]).stdout;
    assert!(
        text.contains("break-glass (a freeze, a fleet slot)"),
        "{text}"
    );

    // The freeze file gone, the host is not frozen.
    std::fs::remove_file(env.path().join("freeze")).unwrap();
    env.run(&["--reason", SHORT, "--confirm", &host, "--", "reboot"])
        .expect_status(0);
    assert!(env.last_decision().get("freeze").is_none());
}

#[test]
fn a_dated_window_around_now_freezes_and_config_says_so() {
    let now = jiff::Timestamp::now();
    let hour = jiff::SignedDuration::from_hours(1);
    let windows = format!(
        "[[freeze.windows]]\nname = \"launch\"\nstart = \"{}\"\nend = \"{}\"\nmessage = \"Launch day: hands off.\"\n\n\
         [[freeze.windows]]\nname = \"last-year\"\nstart = 2020-12-24\nend = 2020-12-26\n",
        now - hour,
        now + hour
    );
    let env = frozen_env(&windows);
    env.fake_marked("reboot");
    let run = env.run(&["--reason", LONG, "--confirm", &short_host(), "--", "reboot"]);
    run.expect_status(77);
    assert!(run.stderr.contains("launch (until"), "{run:?}");
    assert!(run.stderr.contains("Launch day: hands off."), "{run:?}");
    assert!(!env.ran("reboot"));
    let config = env.run(&["config"]);
    config.expect_status(0);
    assert!(
        config
            .stdout
            .contains("# CHANGE FREEZE in force now: launch"),
        "{config:?}"
    );
    assert!(config.stdout.contains("name = \"last-year\""), "{config:?}");
}

#[test]
fn a_window_in_the_past_holds_nothing_back() {
    let env = frozen_env(
        "[[freeze.windows]]\nname = \"last-year\"\nstart = 2020-12-24\nend = 2020-12-26\n",
    );
    env.fake_marked("reboot");
    env.run(&[
        "--reason",
        SHORT,
        "--confirm",
        &short_host(),
        "--",
        "reboot",
    ])
    .expect_status(0);
    assert!(env.ran("reboot"));
    let config = env.run(&["config"]);
    assert!(!config.stdout.contains("CHANGE FREEZE"), "{config:?}");
}

#[test]
fn check_says_a_frozen_line_is_held_back_as_running_it_would() {
    let env = frozen_env("");
    env.fake_marked("reboot");
    let judged = |line: &str| {
        let run = env.run(&["check", "--json", line]);
        let mut objects = run.json_lines();
        assert_eq!(objects.len(), 1, "{run:?}");
        objects.remove(0)
    };
    // No freeze: the usual confirmation, no controls.
    let open = judged("reboot");
    assert_eq!(open["asks"], "confirm-host", "{open}");
    assert!(open.get("controls").is_none(), "{open}");

    crate::common::write_file(
        &env.path().join("freeze"),
        b"INC-7 storage degraded, ask #oncall\n",
        0o644,
    );
    let held = judged("reboot");
    assert_eq!(held["asks"], "break-glass", "{held}");
    assert!(
        held["controls"]["freeze"]
            .as_str()
            .is_some_and(|f| f.contains("INC-7")),
        "{held}"
    );
    let text = env.run(&["check", "reboot"]);
    assert!(
        text.stdout.contains("held back by the change freeze"),
        "{text:?}"
    );
    // A safe line is not held, as it runs during the freeze.
    let safe = judged("ls /etc");
    assert_eq!(safe["asks"], "run", "{safe}");
    assert!(safe.get("controls").is_none(), "{safe}");
    // And running it is refused, as check said.
    let host = short_host();
    env.run(&["--reason", LONG, "--confirm", &host, "--", "reboot"])
        .expect_status(77);
    assert!(!env.ran("reboot"));
}

#[test]
fn a_tz_of_the_operators_choosing_does_not_lift_a_weekly_window() {
    // A weekly window of two hours around now, judged in UTC, the zone the
    // configuration names.
    let utc = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let at = |z: &jiff::Zoned| z.strftime("%a %H:%M").to_string();
    let hour = jiff::SignedDuration::from_hours(1);
    let (from, to) = (
        at(&utc.checked_sub(hour).unwrap()),
        at(&utc.checked_add(hour).unwrap()),
    );
    let env = frozen_env(&format!(
        "timezone = \"UTC\"\n\n[[freeze.windows]]\nname = \"now-ish\"\nweekly = \"{from} - {to}\"\n"
    ));
    env.fake_marked("reboot");
    let host = short_host();
    // Twelve hours away from UTC either way, the window would be over (or
    // not begun) if TZ were how the clock is read.
    for tz in ["Etc/GMT-12", "Etc/GMT+11", "UTC"] {
        let mut c = env.command(&["--reason", SHORT, "--confirm", &host, "--", "reboot"]);
        c.env("TZ", tz);
        let run = env.run_cmd(c, None);
        run.expect_status(77);
        assert!(run.stderr.contains("now-ish"), "TZ={tz}: {run:?}");
        assert!(!env.ran("reboot"), "TZ={tz}");
    }
}
