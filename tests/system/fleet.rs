//! Fleet slots between hosts: several safe-run processes, each configured
//! as another host of one group (`[fleet] host`), race for the group's
//! slots in a shared store — the local store's directory, or a real etcd
//! started here on a free loopback port with a temporary data directory
//! (Debian's etcd-server; `.ci/run` installs it).
//!
//! `reboot` and `systemctl` are fakes first on PATH that mark that they
//! ran (and may sleep); nothing real is rebooted or restarted. Times are
//! bounds on a hang, never benchmarks.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Env, Run, require_tool, short_host, spawn, toml_str, wait_for};

const REASON: &str = "CHG-4411 kernel patch rollout";

/// A host of the fleet: its own configuration, audit log and fakes, with
/// `fleet` (TOML lines of `[fleet]`) after `host = NAME`.
fn host(name: &str, fleet: &str) -> Env {
    let env = Env::with_config(|_| format!("[fleet]\nhost = \"{name}\"\n{fleet}\n"));
    env.fake_marked("reboot");
    env
}

/// `[fleet]` lines for the local store in `dir`, group `core`.
fn local(dir: &Path, limit: u32) -> String {
    format!(
        "groups = [\"core\"]\nlimits = {{ core = {limit} }}\ndir = {}\nwait_secs = 5",
        toml_str(dir)
    )
}

/// `--reason … --confirm TOKEN -- ARGS…`: approval given, as a script
/// would (the host's short name for a reboot, `yes` for a kubelet restart).
fn approved<'a>(host: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--reason", REASON, "--confirm", host, "--"];
    v.extend_from_slice(args);
    v
}

/// A break-glass reason: at least `freeze.break_glass_reason_min_chars`
/// (40) characters.
const GLASS_REASON: &str = "INC-4411 core-1 is down and this node must reboot now";

/// `--break-glass` with its longer reason, confirmed for `host`, then `args`.
fn broken_glass<'a>(host: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "--break-glass",
        "--reason",
        GLASS_REASON,
        "--confirm",
        host,
        "--",
    ];
    v.extend_from_slice(args);
    v
}

/// Every host tries a reboot at once; returns each one's run.
fn all_reboot(hosts: &[Env]) -> Vec<Run> {
    let me = short_host();
    std::thread::scope(|s| {
        let runs: Vec<_> = hosts
            .iter()
            .map(|h| {
                let args = approved(&me, &["reboot"]);
                s.spawn(move || h.run(&args))
            })
            .collect();
        runs.into_iter().map(|r| r.join().expect("a run")).collect()
    })
}

/// The slot event of the last decision of `env`.
fn last_slot(env: &Env) -> Value {
    env.last_decision()["slot"].clone()
}

/// Checks that exactly `limit` of `hosts` rebooted and that each other was
/// refused naming a host that did.
fn exactly_limit_rebooted(hosts: &[Env], runs: &[Run], limit: usize) {
    let names = ["node-a", "node-b", "node-c"];
    let winners: Vec<&str> = (0..hosts.len())
        .filter(|i| hosts[*i].ran("reboot"))
        .map(|i| names[i])
        .collect();
    assert_eq!(winners.len(), limit, "{runs:#?}");
    for (i, run) in runs.iter().enumerate() {
        if hosts[i].ran("reboot") {
            run.expect_status(0);
            assert_eq!(last_slot(&hosts[i])["event"], "held");
        } else {
            run.expect_status(77);
            assert!(run.stderr.contains("held by"), "{run:?}");
            assert!(
                winners
                    .iter()
                    .any(|w| run.stderr.contains(&format!("{w} — "))),
                "the holder is named: {run:?}"
            );
            let slot = last_slot(&hosts[i]);
            assert_eq!(slot["event"], "refused", "{slot}");
            let holders: Vec<&str> = slot["holders"]
                .as_array()
                .expect("holders")
                .iter()
                .filter_map(|h| h["host"].as_str())
                .collect();
            assert!(holders.iter().all(|h| winners.contains(h)), "{slot}");
            assert_eq!(hosts[i].last_decision()["decision"], "refused");
        }
    }
}

// ---------------------------------------------------------------------------
// The local store: processes of one host, flock between them
// ---------------------------------------------------------------------------

#[test]
fn three_hosts_racing_for_one_local_slot_reboot_one_and_name_it_to_the_others() {
    let slots = tempfile::tempdir().unwrap();
    let hosts: Vec<Env> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|n| host(n, &local(slots.path(), 1)))
        .collect();
    let runs = all_reboot(&hosts);
    exactly_limit_rebooted(&hosts, &runs, 1);
}

#[test]
fn a_limit_of_two_lets_two_local_hosts_reboot_together() {
    let slots = tempfile::tempdir().unwrap();
    let hosts: Vec<Env> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|n| host(n, &local(slots.path(), 2)))
        .collect();
    let runs = all_reboot(&hosts);
    exactly_limit_rebooted(&hosts, &runs, 2);
}

#[test]
fn a_rebooted_hosts_slot_is_kept_until_release_and_a_change_gives_it_back_at_once() {
    let slots = tempfile::tempdir().unwrap();
    let me = short_host();
    let a = host("node-a", &local(slots.path(), 1));
    let b = host("node-b", &local(slots.path(), 1));
    a.fake_marked("systemctl");
    // A change (a kubelet restart) gives its slot back when it ends.
    a.run(&approved("yes", &["systemctl", "restart", "kubelet"]))
        .expect_status(0);
    let outcome = a.outcome_of(&a.last_decision()).expect("an outcome");
    assert_eq!(outcome["slot"]["event"], "released", "{outcome}");
    // A reboot keeps it: b is refused until a releases.
    let run = a.run(&approved(&me, &["reboot"]));
    run.expect_status(0);
    assert!(run.stderr.contains("stays held"), "{run:?}");
    let outcome = a.outcome_of(&a.last_decision()).expect("an outcome");
    assert_eq!(outcome["slot"]["event"], "kept", "{outcome}");
    b.run(&approved(&me, &["reboot"])).expect_status(77);
    assert!(!b.ran("reboot"));
    a.run(&["release"]).expect_status(0);
    assert_eq!(last_slot(&a)["event"], "released");
    b.run(&approved(&me, &["reboot"])).expect_status(0);
    assert!(b.ran("reboot"));
}

/// Where `host`'s note of a slot kept over a reboot is, in `dir`: in the
/// directory of the effective user.
fn note_path(dir: &Path, host: &str) -> std::path::PathBuf {
    dir.join(format!("notes-{}", nix::unistd::geteuid().as_raw()))
        .join(format!("held-{host}.json"))
}

#[test]
fn a_fifo_planted_in_the_fleet_directory_never_hangs_a_start_or_a_take() {
    let slots = tempfile::tempdir().unwrap();
    let me = short_host();
    let a = host("node-a", &local(slots.path(), 1));
    let fifo = nix::sys::stat::Mode::from_bits_truncate(0o666);
    for planted in [
        note_path(slots.path(), "node-a"),
        slots.path().join("core.json"),
    ] {
        fs::create_dir_all(planted.parent().unwrap()).unwrap();
        nix::unistd::mkfifo(&planted, fifo).unwrap();
    }
    // Every session start reads the note: a login must still start.
    let limit = Duration::from_secs(10);
    let run = crate::common::bin::run_within(a.command(&["-c", "true"]), None, limit);
    run.expect_status(0);
    assert!(run.stderr.contains("not a regular file"), "{run:?}");
    // A take reads the holder list: refused within the wait, not run.
    let run = crate::common::bin::run_within(a.command(&approved(&me, &["reboot"])), None, limit);
    run.expect_status(77);
    assert!(run.stderr.contains("not a regular file"), "{run:?}");
    assert!(!a.ran("reboot"));
}

#[test]
fn a_drain_holds_its_slot_through_the_changes_and_the_reboot_after_it() {
    let slots = tempfile::tempdir().unwrap();
    let me = short_host();
    let a = host("node-a", &local(slots.path(), 1));
    let b = host("node-b", &local(slots.path(), 1));
    a.fake_marked("kubectl");
    a.fake_marked("systemctl");
    let run = a.run(&approved(
        &me,
        &["kubectl", "drain", "node-a", "--ignore-daemonsets"],
    ));
    run.expect_status(0);
    let outcome = a.outcome_of(&a.last_decision()).expect("an outcome");
    assert_eq!(outcome["slot"]["event"], "kept", "{outcome}");
    b.run(&approved(&me, &["reboot"])).expect_status(77);
    // A runtime restart on the drained node runs under the drain's hold
    // and leaves it in place; the reboot takes it on.
    a.run(&approved("yes", &["systemctl", "restart", "kubelet"]))
        .expect_status(0);
    b.run(&approved(&me, &["reboot"])).expect_status(77);
    a.run(&approved(&me, &["reboot"])).expect_status(0);
    b.run(&approved(&me, &["reboot"])).expect_status(77);
    a.run(&["release"]).expect_status(0);
    b.run(&approved(&me, &["reboot"])).expect_status(0);
}

#[test]
fn break_glass_runs_without_a_slot_and_says_so() {
    let slots = tempfile::tempdir().unwrap();
    let me = short_host();
    let a = host("node-a", &local(slots.path(), 1));
    let b = host("node-b", &local(slots.path(), 1));
    a.run(&approved(&me, &["reboot"])).expect_status(0);
    // Break-glass asks the longer reason, as during a freeze.
    let mut args = vec!["--break-glass"];
    args.extend(approved(&me, &["reboot"]));
    let run = b.run(&args);
    run.expect_status(77);
    assert!(run.stderr.contains("at least 40 characters"), "{run:?}");
    assert!(!b.ran("reboot"));
    let run = b.run(&broken_glass(&me, &["reboot"]));
    run.expect_status(0);
    assert!(run.stderr.contains("BREAK-GLASS"), "{run:?}");
    assert!(b.ran("reboot"));
    let slot = last_slot(&b);
    assert_eq!(slot["event"], "break-glass", "{slot}");
    assert_eq!(slot["holders"][0]["host"], "node-a", "{slot}");

    // `audit --slot` finds it, `audit stats` counts it.
    let rows = b.run(&["audit", "--slot", "break-glass", "--json"]);
    let rows = rows.expect_status(0).json_lines();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["slot"]["event"], "break-glass");
    // It is a break-glass run like one through a freeze.
    let rows = b.run(&["audit", "--break-glass", "--json"]);
    let rows = rows.expect_status(0).json_lines();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["break_glass"], true, "{rows:?}");
    let rows = a.run(&["audit", "--slot", "held,released", "--json"]);
    let rows = rows.expect_status(0).json_lines();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["slot_after"]["event"], "kept");
    let stats = a
        .run(&["audit", "stats", "--json"])
        .expect_status(0)
        .json_lines();
    assert_eq!(stats[0]["by_slot"]["held"], 1, "{stats:?}");
    assert_eq!(stats[0]["by_slot"]["kept"], 1, "{stats:?}");
    let shown = a.run(&["audit", "show", rows[0]["id"].as_str().unwrap()]);
    assert!(shown.stdout.contains("slot after"), "{shown:?}");
}

#[test]
fn a_killed_local_holder_of_a_change_frees_its_slot() {
    let slots = tempfile::tempdir().unwrap();
    let me = short_host();
    let a = host("node-a", &local(slots.path(), 1));
    let b = host("node-b", &local(slots.path(), 1));
    sleeping_systemctl(&a);
    let mut holder = spawn(&mut a.command(&approved("yes", &["systemctl", "restart", "kubelet"])));
    wait_for(Duration::from_secs(30), || a.ran("systemctl").then_some(()))
        .expect("the change started");
    b.run(&approved(&me, &["reboot"])).expect_status(77);
    kill_holder(&mut holder, &a);
    b.run(&approved(&me, &["reboot"])).expect_status(0);
}

/// A `systemctl` that marks it ran, notes its PID and sleeps.
fn sleeping_systemctl(env: &Env) {
    let pid = env.path().join("systemctl.pid");
    env.fake(
        "systemctl",
        &format!(
            "echo $$ > {}\necho ran >> {}\nexec sleep 60",
            crate::common::sh_quote(&pid.display().to_string()),
            crate::common::sh_quote(&env.marker("systemctl").display().to_string())
        ),
    );
}

/// SIGKILLs the safe-run holding a slot (and reaps it), then the fake it ran.
fn kill_holder(holder: &mut Child, env: &Env) {
    holder.kill().expect("SIGKILL the holder");
    holder.wait().expect("reap the holder");
    if let Ok(pid) = fs::read_to_string(env.path().join("systemctl.pid")) {
        let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
    }
}

// ---------------------------------------------------------------------------
// etcd
// ---------------------------------------------------------------------------

/// A real etcd on free loopback ports with a temporary data directory;
/// stopped when dropped.
struct Etcd {
    child: Option<Child>,
    url: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address").port()
}

/// One HTTP/1.0 exchange, for the health check: the answer's text.
fn http(url: &str, method: &str, path: &str, body: &str) -> Option<String> {
    let addr = url.strip_prefix("http://")?;
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    Some(answer)
}

impl Etcd {
    fn start() -> Option<Etcd> {
        let etcd = require_tool("etcd")?;
        let dir = tempfile::tempdir().expect("etcd data dir");
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = fs::File::create(dir.path().join("etcd.log")).expect("etcd log");
        let mut cmd = Command::new(etcd);
        cmd.arg("--name")
            .arg("test")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--listen-client-urls")
            .arg(&url)
            .arg("--advertise-client-urls")
            .arg(&url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(format!("test={peer_url}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = spawn(&mut cmd);
        let mut etcd = Etcd {
            child: Some(child),
            url,
            _dir: dir,
        };
        let healthy = wait_for(Duration::from_secs(30), || {
            http(&etcd.url, "GET", "/health", "")
                .filter(|a| a.contains("\"health\":\"true\""))
                .map(drop)
        });
        if healthy.is_none() {
            let log = fs::read_to_string(etcd._dir.path().join("etcd.log")).unwrap_or_default();
            etcd.stop();
            panic!("etcd did not become healthy:\n{log}");
        }
        Some(etcd)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `[fleet]` lines for etcd at `url`, group `core`.
fn on_etcd(url: &str, limit: u32, extra: &str) -> String {
    format!(
        "groups = [\"core\"]\nlimits = {{ core = {limit} }}\nstore = \"etcd\"\nendpoints = [\"{url}\"]\nwait_secs = 2\n{extra}"
    )
}

/// Three hosts on `etcd` with a group limit of `limit` (each host's own
/// `fleet.dir` is in its temp dir).
fn etcd_hosts(etcd: &Etcd, limit: u32, extra: &str) -> Vec<Env> {
    ["node-a", "node-b", "node-c"]
        .iter()
        .map(|n| {
            let env = Env::with_config(|dir| {
                format!(
                    "[fleet]\nhost = \"{n}\"\n{}\ndir = {}\n",
                    on_etcd(&etcd.url, limit, extra),
                    toml_str(&dir.join("fleet"))
                )
            });
            env.fake_marked("reboot");
            env
        })
        .collect()
}

#[test]
fn three_hosts_racing_for_one_etcd_slot_reboot_one_and_name_it_to_the_others() {
    let Some(etcd) = Etcd::start() else { return };
    let hosts = etcd_hosts(&etcd, 1, "");
    let runs = all_reboot(&hosts);
    exactly_limit_rebooted(&hosts, &runs, 1);
}

#[test]
fn a_limit_of_two_lets_two_etcd_hosts_reboot_together_and_release_frees_one() {
    let Some(etcd) = Etcd::start() else { return };
    let hosts = etcd_hosts(&etcd, 2, "");
    let runs = all_reboot(&hosts);
    exactly_limit_rebooted(&hosts, &runs, 2);
    let me = short_host();
    let (held, waiting): (Vec<&Env>, Vec<&Env>) = hosts.iter().partition(|h| h.ran("reboot"));
    held[0].run(&["release"]).expect_status(0);
    waiting[0].run(&approved(&me, &["reboot"])).expect_status(0);
    assert!(waiting[0].ran("reboot"));
}

#[test]
fn a_killed_etcd_holder_keeps_its_slot_while_renewing_and_frees_it_when_its_lease_expires() {
    let Some(etcd) = Etcd::start() else { return };
    let me = short_host();
    let hosts = etcd_hosts(&etcd, 1, "ttl_secs = 2");
    let (a, b) = (&hosts[0], &hosts[1]);
    sleeping_systemctl(a);
    let mut holder = spawn(&mut a.command(&approved("yes", &["systemctl", "restart", "kubelet"])));
    wait_for(Duration::from_secs(30), || a.ran("systemctl").then_some(()))
        .expect("the change started");
    // Longer than the lease's time to live: the holder renews it.
    std::thread::sleep(Duration::from_secs(4));
    let run = b.run(&approved(&me, &["reboot"]));
    run.expect_status(77);
    assert!(run.stderr.contains("node-a — "), "{run:?}");
    kill_holder(&mut holder, a);
    // Nobody renews it now: etcd drops it when the lease runs out.
    let freed = wait_for(Duration::from_secs(20), || {
        let run = b.run(&approved(&me, &["reboot"]));
        (run.status == 0).then_some(())
    });
    assert!(freed.is_some(), "the slot never came free");
    assert!(b.ran("reboot"));
}

#[test]
fn a_change_after_a_reboot_whose_etcd_hold_expired_takes_a_slot_again() {
    let Some(etcd) = Etcd::start() else { return };
    let me = short_host();
    let hosts = etcd_hosts(&etcd, 1, "reboot_ttl_secs = 2");
    let (a, b) = (&hosts[0], &hosts[1]);
    a.fake_marked("systemctl");
    // The reboot "did not happen" (the fake returns): a keeps its note.
    a.run(&approved(&me, &["reboot"])).expect_status(0);
    assert!(
        note_path(&a.path().join("fleet"), "node-a").exists(),
        "the note"
    );
    // Its lease runs out; b takes the only slot.
    let taken = wait_for(Duration::from_secs(20), || {
        (b.run(&approved(&me, &["reboot"])).status == 0).then_some(())
    });
    assert!(taken.is_some(), "the slot never came free");
    // a's note names a hold etcd no longer has: a change asks for a slot,
    // and the group is full.
    let run = a.run(&approved("yes", &["systemctl", "restart", "kubelet"]));
    run.expect_status(77);
    assert!(run.stderr.contains("node-b — "), "{run:?}");
    assert!(!a.ran("systemctl"));
}

#[test]
fn a_reboot_killed_mid_way_keeps_its_etcd_slot_for_the_reboot_ttl() {
    let Some(etcd) = Etcd::start() else { return };
    let me = short_host();
    let hosts = etcd_hosts(&etcd, 1, "reboot_ttl_secs = 3");
    let (a, b) = (&hosts[0], &hosts[1]);
    a.fake(
        "reboot",
        &format!(
            "echo ran >> {}\nexec sleep 60",
            crate::common::sh_quote(&a.marker("reboot").display().to_string())
        ),
    );
    let mut holder = spawn(&mut a.command(&approved(&me, &["reboot"])));
    wait_for(Duration::from_secs(30), || a.ran("reboot").then_some(()))
        .expect("the reboot started");
    holder.kill().expect("SIGKILL the holder");
    holder.wait().expect("reap it");
    b.run(&approved(&me, &["reboot"])).expect_status(77);
    let freed = wait_for(Duration::from_secs(20), || {
        (b.run(&approved(&me, &["reboot"])).status == 0).then_some(())
    });
    assert!(freed.is_some(), "the slot never came free");
}

/// A TCP listener that accepts and never answers, counting connections.
fn black_hole() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(conn);
        }
    });
    (url, count)
}

#[test]
fn a_stopped_store_refuses_a_disruptive_line_within_the_wait_and_never_slows_a_safe_one() {
    let Some(mut etcd) = Etcd::start() else {
        return;
    };
    let me = short_host();
    let hosts = etcd_hosts(&etcd, 1, "");
    etcd.stop();
    let started = Instant::now();
    let run = hosts[0].run(&approved(&me, &["reboot"]));
    run.expect_status(77);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(run.stderr.contains("did not give a slot"), "{run:?}");
    assert!(!hosts[0].ran("reboot"));
    assert_eq!(last_slot(&hosts[0])["event"], "unreachable");

    // A store that accepts and never answers: the wait (2 s) bounds it.
    let (url, connections) = black_hole();
    let silent = Env::with_config(|dir| {
        format!(
            "[fleet]\nhost = \"node-d\"\n{}\ndir = {}\n",
            on_etcd(&url, 1, ""),
            toml_str(&dir.join("fleet"))
        )
    });
    silent.fake_marked("reboot");
    let started = Instant::now();
    silent.run(&approved(&me, &["reboot"])).expect_status(77);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert!(connections.load(Ordering::SeqCst) > 0, "it asked the store");

    // A safe line never asks it.
    let before = connections.load(Ordering::SeqCst);
    let started = Instant::now();
    silent.run(&["--", "true"]).expect_status(0);
    silent.run(&["-c", "echo safe"]).expect_status(0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        before,
        "a safe line touched the store"
    );

    // Break-glass runs the reboot all the same, on the record.
    silent.run(&broken_glass(&me, &["reboot"])).expect_status(0);
    assert!(silent.ran("reboot"));
    assert_eq!(last_slot(&silent)["event"], "break-glass");
}

#[test]
fn a_broken_fleet_configuration_refuses_disruptive_lines_and_locks_nobody_out() {
    let me = short_host();
    let env = Env::with_config(|_| "[fleet]\ngroups = \"core\"\n".to_string());
    env.fake_marked("reboot");
    let run = env.run(&["--", "true"]);
    run.expect_status(0);
    assert!(run.stderr.contains("fleet.groups"), "{run:?}");
    let run = env.run(&approved(&me, &["reboot"]));
    run.expect_status(77);
    assert!(
        run.stderr.contains("[fleet] configuration cannot be read"),
        "{run:?}"
    );
    assert!(!env.ran("reboot"));
    env.run(&broken_glass(&me, &["reboot"])).expect_status(0);
    assert!(env.ran("reboot"));
}

// ---------------------------------------------------------------------------
// FleetLock
// ---------------------------------------------------------------------------

/// The ids holding each group of a FleetLock server.
type Held = Arc<std::sync::Mutex<std::collections::BTreeMap<String, Vec<String>>>>;

/// A FleetLock server after Zincati's protocol document, in a thread: a
/// semaphore of `limit` per group, locks owned by the client id and
/// recursive. Requests without the protocol header are refused. Returns
/// its base URL and the ids holding each group.
fn fleetlock_server(limit: usize) -> (String, Held) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let url = format!(
        "http://{}/fleetlock",
        listener.local_addr().expect("address")
    );
    let held = Held::default();
    let state = Arc::clone(&held);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut conn = conn;
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head, then the body by its length.
            let (head, mut body) = loop {
                let Ok(n) = conn.read(&mut buf) else {
                    break (String::new(), Vec::new());
                };
                if n == 0 {
                    break (String::new(), Vec::new());
                }
                request.extend_from_slice(&buf[..n]);
                if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    break (
                        String::from_utf8_lossy(&request[..at]).to_string(),
                        request[at + 4..].to_vec(),
                    );
                }
            };
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            while body.len() < length {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => body.extend_from_slice(&buf[..n]),
                }
            }
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let has_header = head
                .lines()
                .any(|l| l.to_ascii_lowercase().replace(' ', "") == "fleet-lock-protocol:true");
            let params: Value = serde_json::from_slice(&body).unwrap_or_default();
            let id = params["client_params"]["id"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let group = params["client_params"]["group"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let (status, answer) = if !has_header {
                (
                    400,
                    r#"{"kind":"missing_header","value":"the fleet-lock-protocol header is missing"}"#,
                )
            } else if id.is_empty() || group.is_empty() {
                (
                    400,
                    r#"{"kind":"bad_body","value":"client_params.id and .group are required"}"#,
                )
            } else {
                let mut held = state.lock().unwrap();
                let holders = held.entry(group).or_default();
                match path.as_str() {
                    "/fleetlock/v1/pre-reboot" if holders.contains(&id) => (200, "{}"),
                    "/fleetlock/v1/pre-reboot" if holders.len() < limit => {
                        holders.push(id);
                        (200, "{}")
                    }
                    "/fleetlock/v1/pre-reboot" => (
                        409,
                        r#"{"kind":"failed_lock_semaphore_full","value":"semaphore currently full, all slots are locked already"}"#,
                    ),
                    "/fleetlock/v1/steady-state" => {
                        holders.retain(|h| *h != id);
                        (200, "{}")
                    }
                    _ => (404, r#"{"kind":"not_found","value":"no such endpoint"}"#),
                }
            };
            let _ = write!(
                conn,
                "HTTP/1.0 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (url, held)
}

#[test]
fn three_hosts_on_a_fleetlock_server_reboot_one_and_the_others_see_why() {
    let (url, held) = fleetlock_server(1);
    let hosts: Vec<Env> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|n| {
            let env = Env::with_config(|dir| {
                format!(
                    "[fleet]\nhost = \"{n}\"\ngroups = [\"workers\"]\nstore = \"fleetlock\"\nendpoints = [\"{url}\"]\nwait_secs = 2\ndir = {}\n",
                    toml_str(&dir.join("fleet"))
                )
            });
            env.fake_marked("reboot");
            env
        })
        .collect();
    let runs = all_reboot(&hosts);
    let winners: Vec<usize> = (0..3).filter(|i| hosts[*i].ran("reboot")).collect();
    assert_eq!(winners.len(), 1, "{runs:#?}");
    let names = ["node-a", "node-b", "node-c"];
    assert_eq!(held.lock().unwrap()["workers"], [names[winners[0]]]);
    for (i, run) in runs.iter().enumerate() {
        if i != winners[0] {
            run.expect_status(77);
            assert!(run.stderr.contains("semaphore currently full"), "{run:?}");
            assert_eq!(last_slot(&hosts[i])["event"], "refused");
        }
    }
    // steady-state gives it back.
    hosts[winners[0]].run(&["release"]).expect_status(0);
    assert!(held.lock().unwrap()["workers"].is_empty());
    let other = (winners[0] + 1) % 3;
    hosts[other]
        .run(&approved(&short_host(), &["reboot"]))
        .expect_status(0);
}
