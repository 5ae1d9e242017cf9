//! Runs parse + classify over realistic lines in a loop, for profilers
//! (`valgrind --tool=callgrind target/release/examples/profile_lines`).
use safe_run::classify::check_line;
use safe_run::rules::RuleSet;

fn main() {
    let rules = RuleSet::builtin();
    let lines = [
        "journalctl -u kubelet --since '1 hour ago' | grep -i error",
        "sudo apt-get upgrade -y",
        "kubectl drain node-3 --ignore-daemonsets --delete-emptydir-data",
        "docker exec -it db psql -U postgres -c 'select count(*) from users'",
        "for h in web1 web2 web3; do ssh $h sudo reboot; done",
        "tar czf /backup/etc-$(date +%F).tgz /etc",
    ];
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let mut found = 0;
    for _ in 0..rounds {
        for l in lines {
            found += check_line(l, &rules).map(|v| v.findings.len()).unwrap_or(0);
        }
    }
    println!("{found}");
}
