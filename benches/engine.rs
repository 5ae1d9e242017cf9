//! Warm parse + classify of realistic lines with the full shipped rules.
//!
//! `cargo bench --bench engine`. The figure that matters is the median per
//! line (issue: ≤ 5 µs), and the live hint's cost per keystroke (≤ 1 ms):
//! the hint classifies the whole line typed so far on every key.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use safe_run::classify::{check_line, check_line_in};
use safe_run::context::LineContext;
use safe_run::rules::RuleSet;

/// Lines an operator types on a production box, safe and risky.
pub const LINES: &[&str] = &[
    "ls -la /var/log",
    "cd /srv/app && git pull --ff-only",
    "apt-get update",
    "sudo apt-get upgrade -y",
    "apt list --upgradable",
    "systemctl status nginx",
    "sudo systemctl restart nginx",
    "journalctl -u kubelet --since '1 hour ago' | grep -i error",
    "tail -f /var/log/syslog",
    "df -h",
    "free -m",
    "top -b -n 1 | head -20",
    "ps aux | grep [j]ava",
    "kubectl get pods -n prod -o wide",
    "kubectl -n prod delete pod web-7d9f8-abcde",
    "kubectl drain node-3 --ignore-daemonsets --delete-emptydir-data",
    "kubectl scale deploy/web --replicas=0 -n prod",
    "kubeadm certs check-expiration",
    "sudo kubeadm certs renew all",
    "docker ps -a --format '{{.Names}}'",
    "docker system prune -af --volumes",
    "docker compose -f /srv/app/docker-compose.yml down -v",
    "docker exec -it db psql -U postgres -c 'select count(*) from users'",
    "psql -h db -U app -c \"DELETE FROM sessions WHERE expires < now()\"",
    "psql -c 'DROP TABLE users'",
    "redis-cli -h cache FLUSHALL",
    "sudo reboot",
    "ssh web1 'sudo systemctl restart app'",
    "for h in web1 web2 web3; do ssh $h sudo reboot; done",
    "pdsh -w node[1-3] 'uptime'",
    "ansible all -m shell -a 'df -h'",
    "sudo xfs_repair -L /dev/sdb1",
    "fsck -n /dev/sdb1",
    "dd if=/dev/zero of=/dev/sdb bs=1M count=10",
    "rm -rf /tmp/build-1234",
    "sudo rm -rf \"$DIR/\"",
    "find /var/log -name '*.gz' -mtime +30 -delete",
    "chown -R app:app /srv/app/data",
    "sudo chmod -R 777 /etc",
    "iptables -L -n -v",
    "sudo iptables -F",
    "ufw status verbose",
    "ip link set eth0 down",
    "crontab -l",
    "terraform plan -out plan.tfplan",
    "terraform apply -auto-approve",
    "curl -fsSL https://get.example.com/install.sh | sudo bash",
    "echo 'reboot now' | tee /tmp/note",
    "git commit -m 'drop table users migration'",
    "grep -rn 'rm -rf /' scripts/",
    "openssl x509 -in /etc/kubernetes/pki/ca.crt -noout -enddate",
    "sudo -u postgres pg_ctl stop -m immediate -D /var/lib/postgresql/16/main",
    "patronictl -c /etc/patroni.yml list",
    "helm list -A",
    "helm uninstall ingress-nginx -n ingress-nginx",
    "cat /proc/meminfo | awk '/MemAvailable/ {print $2}'",
    "tar czf /backup/etc-$(date +%F).tgz /etc",
    "while read h; do ssh -n \"$h\" uptime; done < hosts.txt",
    "if systemctl is-active --quiet docker; then docker info; fi",
    "watch -n 5 'kubectl get nodes'",
];

fn bench(c: &mut Criterion) {
    let rules = RuleSet::builtin();
    // Warm every rule the lines touch (lazy regex compilation).
    for line in LINES {
        let _ = check_line(line, &rules);
    }
    c.bench_function("parse+classify, all lines (per batch of 60)", |b| {
        b.iter(|| {
            for line in LINES {
                black_box(check_line(black_box(line), &rules).ok());
            }
        })
    });
    // Every line on its own, for the median per line
    // (scripts/bench-median.sh reads these results).
    let mut each = c.benchmark_group("each");
    each.sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(200))
        .measurement_time(std::time::Duration::from_millis(600));
    for (i, line) in LINES.iter().enumerate() {
        each.bench_function(format!("{i:02}"), |b| {
            b.iter(|| black_box(check_line(black_box(line), &rules).ok()))
        });
    }
    each.finish();
    // The same lines judged where they run, as the shell and `-c` do: a
    // working directory, a home and an environment of 40 variables.
    let mut vars: std::collections::HashMap<String, String> = (0..36)
        .map(|i| (format!("VAR_{i}"), format!("/srv/value/{i}")))
        .collect();
    for (k, v) in [
        ("HOME", "/home/ops"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("USER", "ops"),
        ("KUBECONFIG", "/home/ops/.kube/config"),
    ] {
        vars.insert(k.into(), v.into());
    }
    let place = LineContext {
        cwd: Some("/home/ops/src/app".into()),
        home: Some("/home/ops".into()),
        vars,
        vars_complete: false,
        scripts: None,
    };
    let mut in_place = c.benchmark_group("each_in_place");
    in_place
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(200))
        .measurement_time(std::time::Duration::from_millis(600));
    for (i, line) in LINES.iter().enumerate() {
        in_place.bench_function(format!("{i:02}"), |b| {
            b.iter(|| black_box(check_line_in(black_box(line), &rules, &place).ok()))
        });
    }
    in_place.finish();
    let mut group = c.benchmark_group("line");
    for line in [
        "sudo apt-get upgrade -y",
        "ls -la /var/log",
        "for h in web1 web2 web3; do ssh $h sudo reboot; done",
        "curl -fsSL https://get.example.com/install.sh | sudo bash",
    ] {
        group.bench_function(line, |b| {
            b.iter(|| black_box(check_line(black_box(line), &rules).ok()))
        });
    }
    group.finish();
    // The live hint classifies the line typed so far on each keystroke.
    let typed =
        "for h in web1 web2 web3; do ssh $h 'sudo apt-get -y dist-upgrade && sudo reboot'; done";
    c.bench_function("hint: every prefix of a long line (per keystroke)", |b| {
        b.iter(|| {
            for end in (1..=typed.len()).filter(|e| typed.is_char_boundary(*e)) {
                black_box(check_line(&typed[..end], &rules).ok());
            }
        })
    });
    c.bench_function("startup: RuleSet::builtin()", |b| {
        b.iter(|| black_box(RuleSet::builtin()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
