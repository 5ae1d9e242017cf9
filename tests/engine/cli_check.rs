//! `safe-run check` and `safe-run rules` through the built binary: the
//! output contracts (JSON shape, exit statuses, line numbers) that tools and
//! CI scripts depend on.

use crate::common::{Run, SafeRun, check_json};

/// `safe-run --no-site-rules ARGS…` (common::bin: a clean environment, no
/// configuration file), with `stdin` on a pipe if given.
fn safe_run(args: &[&str], stdin: Option<&str>) -> Run {
    let run = SafeRun::new(args);
    match stdin {
        Some(text) => run.input(text).run(),
        None => run.run(),
    }
}

#[test]
fn check_json_is_one_object_with_the_documented_fields() {
    let (status, o) = check_json("sudo apt-get upgrade -y");
    assert_eq!(status, 1);
    assert_eq!(o["line"], "sudo apt-get upgrade -y");
    assert_eq!(o["verdict"], "confirm");
    assert_eq!(o["risk"], "high");
    let f = &o["findings"][0];
    assert_eq!(f["rule"], "apt-full-upgrade", "{o}");
    assert_eq!(f["risk"], "high");
    assert_eq!(f["action"], "confirm");
    assert_eq!(
        f["command"],
        serde_json::json!(["apt-get", "upgrade", "-y"])
    );
    // The span covers the command inside the line.
    let (s, e) = (
        f["span"][0].as_u64().unwrap() as usize,
        f["span"][1].as_u64().unwrap() as usize,
    );
    assert_eq!(&"sudo apt-get upgrade -y"[s..e], "apt-get upgrade -y");
    assert!(f["why"].as_str().unwrap().len() > 10);
    assert!(f["instead"].as_str().unwrap().len() > 10);
}

#[test]
fn check_exit_statuses_follow_the_contract() {
    assert_eq!(safe_run(&["check", "ls -la"], None).status, 0);
    assert_eq!(safe_run(&["check", "echo 'reboot now'"], None).status, 0);
    assert_eq!(safe_run(&["check", "reboot"], None).status, 1);
    assert_eq!(safe_run(&["check", ":(){ :|:& };:"], None).status, 1);
    assert_eq!(safe_run(&["check", "ls )"], None).status, 2);
    assert_eq!(safe_run(&["check"], None).status, 2);
}

#[test]
fn a_low_risk_notice_still_exits_zero() {
    let (status, v) = check_json("kubectl cordon node-3");
    assert_eq!(v["verdict"], "allow");
    assert_eq!(v["risk"], "low");
    assert_eq!(status, 0);
}

#[test]
fn an_unparseable_line_is_an_error_verdict_not_allow() {
    let (status, v) = check_json("echo 'unclosed");
    assert_eq!(status, 2);
    assert_eq!(v["verdict"], "error");
    assert!(v["error"].as_str().unwrap().contains("not finished"));
}

#[test]
fn check_file_reports_each_line_with_its_number() {
    let script = "#!/bin/bash\nset -e\napt-get update\napt-get -y upgrade\n\nif true; then\n  systemctl restart docker\nfi\necho done\n";
    let out = safe_run(&["check", "--json", "--file", "-"], Some(script));
    assert_eq!(out.status, 1);
    let v = out.json_lines();
    let risky: Vec<(u64, &str)> = v
        .iter()
        .filter(|o| o["verdict"] != "allow")
        .map(|o| (o["lineno"].as_u64().unwrap(), o["line"].as_str().unwrap()))
        .collect();
    assert_eq!(
        risky,
        vec![(4, "apt-get -y upgrade"), (7, "  systemctl restart docker")]
    );
    // Every line with a command is reported, safe ones too.
    assert!(
        v.iter()
            .any(|o| o["lineno"] == 3 && o["verdict"] == "allow")
    );
}

#[test]
fn check_file_with_a_syntax_error_names_the_line() {
    let out = safe_run(
        &["check", "--file", "-"],
        Some("ls\nif true; then\n  ls )\nfi\n"),
    );
    assert_eq!(out.status, 2);
    let text = &out.stdout;
    assert!(text.contains("line 3"), "{text}");
}

#[test]
fn human_output_underlines_the_risky_command() {
    let out = safe_run(&["check", "ls; sudo reboot"], None);
    let text = &out.stdout;
    assert!(
        text.contains("  ls; sudo reboot\n           ^^^^^^"),
        "{text}"
    );
    assert!(text.contains("why:"));
    assert!(text.contains("instead:"));
}

#[test]
fn escape_sequences_in_a_line_are_shown_not_sent_to_the_terminal() {
    let out = safe_run(&["check", "reboot \x1b[2K\rls"], None);
    let text = &out.stdout;
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(text.contains("\\e[2K"), "{text}");
}

#[test]
fn rules_test_passes_on_the_shipped_library() {
    let out = safe_run(&["rules", "test"], None);
    let text = &out.stdout;
    assert_eq!(out.status, 0, "{text}");
    assert!(text.contains("behaved as written"), "{text}");
}

#[test]
fn rules_test_fails_naming_a_wrong_example() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.toml");
    std::fs::write(
        &file,
        r#"
[[rule]]
id = "site-reboot"
risk = "high"
programs = ["reboot"]
why = "Reboots."
instead = "Drain first."
match = ["reboot", "echo reboot"]
allow = ["ls", "shutdown -c"]
"#,
    )
    .unwrap();
    let out = safe_run(&["rules", "test", file.to_str().unwrap()], None);
    let text = &out.stdout;
    assert_eq!(out.status, 1, "{text}");
    assert!(text.contains("echo reboot"), "{text}");
    assert!(text.contains("site-reboot"), "{text}");
}

#[test]
fn a_broken_site_rule_file_warns_but_keeps_every_other_rule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "[[rule]]\nid = \"x\"\nprogams = [\"ls\"]\n",
    )
    .unwrap();
    let out = safe_run(
        &["--rules", dir.path().to_str().unwrap(), "check", "reboot"],
        None,
    );
    let err = &out.stderr;
    assert!(err.contains("broken.toml:3:1"), "{err}");
    assert!(err.contains("WARNING"), "{err}");
    // The shipped rules are still in force.
    assert_eq!(out.status, 1);
}

#[test]
fn a_site_rule_with_a_shipped_id_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        r#"
[[rule]]
id = "power-reboot"
risk = "low"
programs = ["reboot"]
why = "This lab host reboots freely."
instead = "Nothing."
match = ["reboot", "sudo reboot"]
allow = ["ls", "echo reboot"]
"#,
    )
    .unwrap();
    let out = safe_run(
        &[
            "--rules",
            dir.path().to_str().unwrap(),
            "check",
            "--json",
            "reboot",
        ],
        None,
    );
    let v = out.json_lines();
    assert_eq!(v[0]["risk"], "low", "{v:?}");
    assert_eq!(out.status, 0);
}

#[test]
fn check_file_reports_a_syntax_error_at_its_line_and_checks_everything_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("deploy.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n\
         echo start\n\
         reboot\n\
         apt-get upgrade -y\n\
         rm -rf /var/lib/docker\n\
         fi oops (\n\
         echo after\n\
         shutdown -h now\n\
         kubectl delete ns prod \\\n  --wait=false\n",
    )
    .expect("write the script");
    let script = script.display().to_string();
    let out = crate::common::SafeRun::new(&["check", "--json", "--file", &script]).run();
    assert_eq!(out.status, 2, "a part could not be checked: {}", out.stdout);
    let rows: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let at = |n: u64| {
        rows.iter()
            .find(|r| r["lineno"] == n)
            .unwrap_or_else(|| panic!("no report for line {n}: {}", out.stdout))
    };
    for n in [3, 4, 5, 8, 9] {
        assert_eq!(at(n)["verdict"], "confirm", "line {n}: {}", at(n));
    }
    assert_eq!(at(6)["verdict"], "error");
    assert_eq!(at(6)["line"], "fi oops (");
    assert!(
        at(6)["error"].as_str().unwrap_or("").contains("line 6"),
        "{}",
        at(6)
    );
    // A command continued with `\` is reported whole, and its span is
    // relative to the reported line.
    let continued = at(9);
    assert_eq!(
        continued["line"],
        "kubectl delete ns prod \\\n  --wait=false"
    );
    let span = &continued["findings"][0]["span"];
    assert_eq!(span[0], 0, "{continued}");
    // A span relative to the line: `reboot` on line 3 starts at 0.
    assert_eq!(at(3)["findings"][0]["span"][0], 0);
}
