//! The verdict on whole lines, as an operator would judge them.
//!
//! One table of named lines runs through the real path — `check_line` with
//! the shipped rules — and every row that disagrees is reported at once, so
//! a change to the parser or the rule library shows its whole effect in
//! one run. A new bypass or false alarm found anywhere becomes a row here.
//!
//! Each row is `(name, line, expectation)` where the expectation is either
//! `"error"` (the line cannot be parsed: `check_line` must return `Err`) or
//! `"ACTION RISK [RULE-ID]"`: the verdict's action and risk, and optionally
//! a rule id that must be among the findings.
//!
//! Rows whose name starts with `ENGINE BUG:` (the parser or the wrapper
//! table misses something) or `RULE GAP:` (the shipped rules miss a
//! spelling) state what safe-run should do and currently does not. They are
//! left failing on purpose, not ignored, so that the bug stays visible
//! until it is fixed; the failure message lists them apart from unexpected
//! failures, and names marked rows that pass so that the mark is removed.

use std::collections::HashSet;

use safe_run::classify::check_line;
use safe_run::rules::RuleSet;
use safe_run::verdict::{Action, Risk, Verdict};

type Row = (&'static str, &'static str, &'static str);

/// Every construct of the shell that can run a program.
#[rustfmt::skip]
const CONSTRUCTS: &[Row] = &[
    ("plain reboot", "reboot", "confirm high power-reboot"),
    ("reboot with an argument", "reboot -f", "confirm high power-reboot"),
    ("pipeline: reboot as a later stage", "echo y | reboot", "confirm high power-reboot"),
    ("pipeline: reboot as the first stage", "reboot 2>&1 | tee /tmp/reboot.log", "confirm high power-reboot"),
    ("list with ;", "cd /tmp; reboot", "confirm high power-reboot"),
    ("list with &&", "sync && reboot", "confirm high power-reboot"),
    ("list with ||", "false || reboot", "confirm high power-reboot"),
    ("background with &", "sleep 60 & reboot", "confirm high power-reboot"),
    ("trailing & backgrounds reboot", "reboot &", "confirm high power-reboot"),
    ("newline separates commands", "ls -l\nreboot", "confirm high power-reboot"),
    ("negated pipeline", "! reboot", "confirm high power-reboot"),
    ("subshell", "(cd / && reboot)", "confirm high power-reboot"),
    ("nested subshells with spaces are not arithmetic", "( ( reboot ) )", "confirm high power-reboot"),
    ("triple nested subshells", "( ( ( sync; reboot ) ) )", "confirm high power-reboot"),
    ("touching parentheses around a command are subshells", "((reboot) )", "confirm high power-reboot"),
    ("brace group", "{ sync; reboot; }", "confirm high power-reboot"),
    ("function called after its definition", "f() { reboot; }; f", "confirm high power-reboot"),
    ("function keyword form called", "function f { sync; reboot; }; f", "confirm high power-reboot"),
    ("function called through another function", "a() { reboot; }; b() { a; }; b", "confirm high power-reboot"),
    ("function defined on one line, called on the next", "f() {\n  reboot\n}\nf", "confirm high power-reboot"),
    ("if condition", "if reboot; then echo ok; fi", "confirm high power-reboot"),
    ("if then branch", "if true; then reboot; fi", "confirm high power-reboot"),
    ("else branch", "if false; then :; else reboot; fi", "confirm high power-reboot"),
    ("elif branch", "if false; then :; elif true; then reboot; fi", "confirm high power-reboot"),
    ("while body", "while true; do reboot; done", "confirm high power-reboot"),
    ("while condition", "while reboot; do sleep 1; done", "confirm high power-reboot"),
    ("until body", "until false; do reboot; done", "confirm high power-reboot"),
    ("for body without the loop variable is not raised", "for i in 1 2 3; do reboot; done", "confirm high power-reboot"),
    ("arithmetic for body", "for ((i=0; i<3; i++)); do reboot; done", "confirm high power-reboot"),
    ("case branch", "case $1 in now) reboot;; esac", "confirm high power-reboot"),
    ("case default branch", "case x in a) ls;; *) reboot;; esac", "confirm high power-reboot"),
    ("command substitution", "echo $(reboot)", "confirm high power-reboot"),
    ("command substitution as an assignment", "x=$(reboot)", "confirm high power-reboot"),
    ("nested command substitution", "echo $(echo $(reboot))", "confirm high power-reboot"),
    ("backquotes", "echo `reboot`", "confirm high power-reboot"),
    ("substitution inside double quotes", r#"echo "going down: $(reboot)""#, "confirm high power-reboot"),
    ("backquotes inside double quotes", r#"echo "`reboot`""#, "confirm high power-reboot"),
    ("substitution in a default value", "echo ${x:-$(reboot)}", "confirm high power-reboot"),
    ("substitution in an assign-default value", ": ${x:=$(reboot)}", "confirm high power-reboot"),
    ("substitution in arithmetic", "echo $(( $(reboot) + 1 ))", "confirm high power-reboot"),
    ("substitution in [[ ]]", "[[ -n $(reboot) ]]", "confirm high power-reboot"),
    ("substitution in a redirection target", "echo hi > $(reboot)", "confirm high power-reboot"),
    ("process substitution <()", "diff <(reboot) /dev/null", "confirm high power-reboot"),
    ("process substitution >()", "echo x > >(reboot)", "confirm high power-reboot"),
    ("here-document feeding psql", "psql <<EOF\nDROP TABLE users;\nEOF", "confirm high db-sql-drop-stdin"),
    ("here-document with DROP DATABASE feeding psql", "psql -d prod <<'SQL'\nDROP DATABASE prod;\nSQL", "confirm critical db-sql-drop-database-stdin"),
    ("here-string feeding psql", "psql <<< 'DROP TABLE users;'", "confirm high db-sql-drop-stdin"),
    ("echo piped into psql", "echo 'DROP TABLE users;' | psql prod", "confirm high db-sql-drop-stdin"),
    ("here-document with a substitution in it", "cat <<EOF\n$(reboot)\nEOF", "confirm high power-reboot"),
    ("literal assignment then the variable", "x=reboot; $x", "confirm high power-reboot"),
    ("literal assignment then braces", "CMD=reboot; ${CMD}", "confirm high power-reboot"),
    ("assignment copied through another variable", "a=reboot; b=$a; $b", "confirm high power-reboot"),
    ("time keyword", "time reboot", "confirm high power-reboot"),
    ("reboot after a comment line", "# maintenance\nreboot", "confirm high power-reboot"),
    ("second command of a long list", "uptime; df -h; free -m; reboot; echo done", "confirm high power-reboot"),
    ("stdin of sh is a script", "echo reboot | sh", "confirm high power-reboot"),
    ("here-document into bash is a script", "bash <<EOF\nreboot\nEOF", "confirm high power-reboot"),
    ("coproc", "coproc reboot", "confirm high power-reboot"),
    ("pipe with |&", "uptime |& reboot", "confirm high power-reboot"),
    ("test then reboot", "[ -f /run/maint ] && reboot", "confirm high power-reboot"),
    ("program assembled from two literal variables", "x=re; y=boot; $x$y", "confirm high power-reboot"),
    ("substitution in the word list of a for loop", "for x in $(reboot); do :; done", "confirm high power-reboot"),
    ("substitution in an array subscript of an assignment runs", "a[$(reboot)]=1", "confirm high power-reboot"),
    ("substitution in an array subscript of an expansion runs", "echo ${x[$(reboot)]}", "confirm high power-reboot"),
    ("a trap string runs when the shell exits", "trap reboot EXIT", "confirm high power-reboot"),
    ("printf piped into sh is a script", r"printf 'reboot\n' | sh", "confirm high power-reboot"),
    ("at runs its stdin as a script", "echo reboot | at now", "confirm high power-reboot"),
];

/// Every program that runs another program.
#[rustfmt::skip]
const WRAPPERS: &[Row] = &[
    ("sudo", "sudo reboot", "confirm high power-reboot"),
    ("sudo -u VALUE", "sudo -u root reboot", "confirm high power-reboot"),
    ("sudo -E", "sudo -E reboot", "confirm high power-reboot"),
    ("sudo --", "sudo -- reboot", "confirm high power-reboot"),
    ("sudo bundled -Eu VALUE then --", "sudo -Eu root -- reboot", "confirm high power-reboot"),
    ("sudo with an environment word", "sudo FOO=1 reboot", "confirm high power-reboot"),
    ("sudo --user=VALUE", "sudo --user=root reboot", "confirm high power-reboot"),
    ("doas", "doas reboot", "confirm high power-reboot"),
    ("doas -u VALUE", "doas -u root reboot", "confirm high power-reboot"),
    ("su -c", "su -c reboot", "confirm high power-reboot"),
    ("su - root -c", "su - root -c 'sync; reboot'", "confirm high power-reboot"),
    ("su -lc", "su -lc reboot root", "confirm high power-reboot"),
    ("runuser -u USER --", "runuser -u root -- reboot", "confirm high power-reboot"),
    ("runuser -l USER -c", "runuser -l root -c reboot", "confirm high power-reboot"),
    ("env", "env reboot", "confirm high power-reboot"),
    ("env -i with an assignment", "env -i PATH=/sbin reboot", "confirm high power-reboot"),
    ("env -u NAME", "env -u HOME reboot", "confirm high power-reboot"),
    ("env VAR=value", "env LANG=C reboot", "confirm high power-reboot"),
    ("nice", "nice reboot", "confirm high power-reboot"),
    ("nice -n", "nice -n 19 reboot", "confirm high power-reboot"),
    ("ionice -c", "ionice -c 3 reboot", "confirm high power-reboot"),
    ("chrt priority", "chrt -f 10 reboot", "confirm high power-reboot"),
    ("taskset mask", "taskset 0x1 reboot", "confirm high power-reboot"),
    ("taskset -c list", "taskset -c 0-3 reboot", "confirm high power-reboot"),
    ("nohup", "nohup reboot &", "confirm high power-reboot"),
    ("setsid", "setsid reboot", "confirm high power-reboot"),
    ("stdbuf", "stdbuf -oL reboot", "confirm high power-reboot"),
    ("timeout", "timeout 30 reboot", "confirm high power-reboot"),
    ("timeout -s SIGNAL", "timeout -s KILL 30 reboot", "confirm high power-reboot"),
    ("timeout -k DURATION", "timeout -k 10 30 reboot", "confirm high power-reboot"),
    ("time -p", "time -p reboot", "confirm high power-reboot"),
    ("/usr/bin/time -v", "/usr/bin/time -v reboot", "confirm high power-reboot"),
    ("command", "command reboot", "confirm high power-reboot"),
    ("exec", "exec reboot", "confirm high power-reboot"),
    ("builtin eval", "builtin eval reboot", "confirm high power-reboot"),
    ("chroot DIR", "chroot /mnt reboot", "confirm high power-reboot"),
    ("watch", "watch -n 60 reboot", "confirm high power-reboot"),
    ("xargs", "echo now | xargs reboot", "confirm high power-reboot"),
    ("find -exec ;", r"find /etc -name fstab -exec reboot \;", "confirm high power-reboot"),
    ("find -execdir +", "find . -execdir reboot {} +", "confirm high power-reboot"),
    ("find -ok ;", "find . -maxdepth 0 -ok reboot ';'", "confirm high power-reboot"),
    ("bash -c", "bash -c reboot", "confirm high power-reboot"),
    ("sh -c with a list", r#"sh -c "sync; reboot""#, "confirm high power-reboot"),
    ("dash -c", "dash -c 'reboot'", "confirm high power-reboot"),
    ("zsh -c", "zsh -c 'reboot'", "confirm high power-reboot"),
    ("ksh -c", "ksh -c 'reboot'", "confirm high power-reboot"),
    ("bash -lc", "bash -lc 'reboot'", "confirm high power-reboot"),
    ("/bin/sh -c by path", "/bin/sh -c 'echo bye; reboot'", "confirm high power-reboot"),
    ("nested sh -c then bash -c", r#"sh -c "bash -c 'reboot'""#, "confirm high power-reboot"),
    ("eval", "eval reboot", "confirm high power-reboot"),
    ("eval of a quoted list", r#"eval "sync; reboot""#, "confirm high power-reboot"),
    ("ssh HOST CMD", "ssh web1 reboot", "confirm high power-reboot"),
    ("ssh with options and a quoted command", "ssh -p 2222 -i ~/.ssh/id_ops web1 'sudo reboot'", "confirm high power-reboot"),
    ("ssh -t with user@host", "ssh -t ops@web1 sudo systemctl reboot", "confirm high power-systemctl-reboot"),
    ("kubectl exec -- CMD", "kubectl exec -it web-0 -- reboot", "confirm high power-reboot"),
    ("kubectl exec -n NS -- sh -c", "kubectl -n prod exec web-0 -- sh -c 'reboot'", "confirm high power-reboot"),
    ("docker exec CTR CMD", "docker exec web reboot", "confirm high power-reboot"),
    ("docker exec -u root -it CTR sh -c", "docker exec -it -u root web sh -c 'reboot'", "confirm high power-reboot"),
    ("wrappers stacked", "sudo -u root nice -n 5 timeout 60 env LANG=C bash -c 'reboot'", "confirm high power-reboot"),
    ("sudo into apt-get upgrade", "sudo apt-get upgrade -y", "confirm high apt-full-upgrade"),
    ("ssh into a full upgrade", "ssh db1 'sudo apt -y full-upgrade'", "confirm high apt-full-upgrade"),
    ("sudo twice", "sudo sudo reboot", "confirm high power-reboot"),
    ("systemd-run with a timer", "systemd-run --on-active=60 reboot", "confirm high power-reboot"),
    ("flock FILE CMD", "flock /tmp/lock reboot", "confirm high power-reboot"),
    ("ip netns exec", "ip netns exec ns1 reboot", "confirm high power-reboot"),
    ("nsenter into pid 1", "nsenter -t 1 -m -u -i -n -p reboot", "confirm high power-reboot"),
    ("env -S splits a string", "env -S 'reboot now'", "confirm high power-reboot"),
    ("su with -s SHELL before -c", "su root -s /bin/sh -c reboot", "confirm high power-reboot"),
    ("busybox sh -c", "busybox sh -c reboot", "confirm high power-reboot"),
    ("eval inside sh -c", r#"sh -c 'eval "reboot"'"#, "confirm high power-reboot"),
    ("find -exec sh -c", r"find . -exec sh -c 'reboot' \;", "confirm high power-reboot"),
    ("sudo -k with a command still runs it", "sudo -k reboot", "confirm high power-reboot"),
    ("ionice -t takes no value", "ionice -t -c 3 reboot", "confirm high power-reboot"),
    ("ssh options after the host", "ssh web1 -t reboot", "confirm high power-reboot"),
    ("ssh -- after the host", "ssh web1 -- reboot", "confirm high power-reboot"),
    ("eval --", "eval -- reboot", "confirm high power-reboot"),
    ("busybox applet", "busybox reboot", "confirm high power-reboot"),
    ("oc rsh POD CMD", "oc rsh web-0 reboot", "confirm high power-reboot"),
];

/// Ways to spell a risky program or its arguments.
#[rustfmt::skip]
const SPELLINGS: &[Row] = &[
    ("single-quoted program", "'reboot'", "confirm high power-reboot"),
    ("double-quoted program", r#""reboot""#, "confirm high power-reboot"),
    ("program made of quoted pieces", r#"re"bo"'ot'"#, "confirm high power-reboot"),
    ("empty quotes inside the name", r#"re""boot"#, "confirm high power-reboot"),
    ("backslash inside the name", r"r\eboot", "confirm high power-reboot"),
    ("leading backslash skips aliases", r"\reboot", "confirm high power-reboot"),
    ("absolute path", "/sbin/reboot", "confirm high power-reboot"),
    ("path with ..", "/usr/sbin/../sbin/reboot", "confirm high power-reboot"),
    ("path with .", "/usr/./sbin/reboot", "confirm high power-reboot"),
    ("tabs between words", "sudo\treboot\t-f", "confirm high power-reboot"),
    ("repeated spaces and leading blanks", "   sudo     reboot   ", "confirm high power-reboot"),
    ("assignment before the program", "VAR=1 reboot", "confirm high power-reboot"),
    ("ANSI-C hex escape", r"$'\x72eboot'", "confirm high power-reboot"),
    ("ANSI-C octal escape", r"$'\162eboot'", "confirm high power-reboot"),
    ("quoted subcommand", r#"apt-get "upgrade""#, "confirm high apt-full-upgrade"),
    ("backslash in the subcommand", r"apt-get up\grade", "confirm high apt-full-upgrade"),
    ("quoted program and subcommand", "'apt-get' -y 'dist-upgrade'", "confirm high apt-full-upgrade"),
    ("environment word before a full upgrade", "DEBIAN_FRONTEND=noninteractive apt-get -yq dist-upgrade", "confirm high apt-full-upgrade"),
    ("apt-get -o VALUE before upgrade", "apt-get -o Dpkg::Options::=--force-confold upgrade", "confirm high apt-full-upgrade"),
    ("quoted -L flag", "xfs_repair '-L' /dev/sdb1", "confirm critical fs-xfs-repair-zero-log"),
    ("rm flags split", "rm -r -f /", "deny critical del-rm-root"),
    ("rm flags reversed", "rm -fr /", "deny critical del-rm-root"),
    ("rm capital -R", "rm -Rf /", "deny critical del-rm-root"),
    ("rm long flags", "rm --recursive --force /", "deny critical del-rm-root"),
    ("rm quoted root", r#"rm -rf "/""#, "deny critical del-rm-root"),
    ("rm root glob", "rm -rf /*", "deny critical del-rm-root"),
    ("rm --no-preserve-root", "rm -rf --no-preserve-root /", "deny critical"),
    ("rm root through sudo", "sudo rm -rf /", "deny critical del-rm-root"),
    ("ANSI-C quoted whole name", "$'reboot'", "confirm high power-reboot"),
    ("locale-quoted name", r#"$"reboot""#, "confirm high power-reboot"),
    ("ANSI-C piece inside the name", "re$'b'oot", "confirm high power-reboot"),
    ("double slash in the path", "//sbin//reboot", "confirm high power-reboot"),
    ("relative path", "./reboot", "confirm high power-reboot"),
    ("rm root with a double slash", "rm -rf //", "deny critical del-rm-root"),
    ("rm root after --", "rm -fr -- /", "deny critical del-rm-root"),
    ("reboot -ff is immediate", "reboot -ff", "confirm critical power-force-immediate"),
    ("reboot -f -f is the same as -ff", "reboot -f -f", "confirm critical power-force-immediate"),
    ("brace expansion in the program name", "{reboot,}", "confirm high power-reboot"),
];

/// A program that is only known at run time.
#[rustfmt::skip]
const DYNAMIC: &[Row] = &[
    ("variable as the program", "$CMD", "confirm medium misc-dynamic-program"),
    ("variable program with arguments", r#""$CMD" --now"#, "confirm medium misc-dynamic-program"),
    ("braced variable program", "${RUN} now", "confirm medium misc-dynamic-program"),
    ("which in a substitution", "$(which reboot)", "confirm medium misc-dynamic-program"),
    ("backquoted which", "`which reboot`", "confirm medium misc-dynamic-program"),
    ("substituted program through sudo", "sudo $(which reboot)", "confirm medium misc-dynamic-program"),
    ("variable from a substitution stays unknown", "x=$(cat /tmp/cmd); $x", "confirm medium misc-dynamic-program"),
    ("for loop variable as the program", "for c in reboot; do $c; done", "confirm high power-reboot"),
    ("$SHELL -c cannot be seen through", "$SHELL -c ls", "confirm medium misc-dynamic-program"),
    ("settled by a literal assignment: harmless", "x=ls; $x -l", "allow none"),
    ("settled by a literal assignment: date", "d=date; $d +%F", "allow none"),
    ("a function running its arguments", r#"f() { "$@"; }; f reboot"#, "confirm medium misc-dynamic-program"),
    ("eval of a substitution", r#"eval "$(printf reboot)""#, "confirm medium misc-dynamic-program"),
    ("a glob in the program name is only known at run time", "/sbin/reboo*", "confirm medium misc-dynamic-program"),
];

/// Commands that go to several hosts, or run once per item of a loop.
#[rustfmt::skip]
const FLEET: &[Row] = &[
    ("ssh in a for loop over hosts", "for h in web1 web2 web3; do ssh $h reboot; done", "confirm critical power-reboot"),
    ("ssh in a for loop, quoted remote command", r#"for h in web1 web2; do ssh "$h" 'sudo reboot'; done"#, "confirm critical power-reboot"),
    ("ssh in a while-read loop", "while read h; do ssh $h sudo reboot; done < hosts.txt", "confirm critical power-reboot"),
    ("upgrade over ssh in a loop", "for h in db1 db2; do ssh $h sudo apt-get -y upgrade; done", "confirm critical apt-full-upgrade"),
    ("xargs fanning ssh out", "cat hosts | xargs -I{} ssh {} reboot", "confirm critical power-reboot"),
    ("pdsh", "pdsh -w web[1-3] reboot", "confirm critical power-reboot"),
    ("pdsh with a quoted command", "pdsh -w 'web[1-3]' 'sudo apt-get upgrade -y'", "confirm critical apt-full-upgrade"),
    ("clush -w", "clush -w web[1-3] reboot", "confirm critical power-reboot"),
    ("clush -a", "clush -a 'sudo reboot'", "confirm critical power-reboot"),
    ("parallel-ssh -h FILE", "parallel-ssh -h hosts.txt reboot", "confirm critical power-reboot"),
    ("ansible -a", "ansible all -a reboot", "confirm critical power-reboot"),
    ("ansible shell module", "ansible web -m shell -a 'apt-get -y upgrade'", "confirm critical apt-full-upgrade"),
    ("ansible reboot module", "ansible all -m reboot", "confirm critical power-reboot"),
    ("ansible on localhost is one host", "ansible localhost -a reboot", "confirm high power-reboot"),
    ("kubectl drain using the loop variable", "for n in node1 node2; do kubectl drain $n; done", "confirm critical k8s-drain"),
    ("kubectl drain using the braced loop variable", "for n in node1 node2; do kubectl drain --ignore-daemonsets ${n}; done", "confirm critical k8s-drain"),
    ("kubectl drain once", "kubectl drain node1 --ignore-daemonsets", "confirm high k8s-drain"),
    ("ssh in a loop over a substitution", "for h in $(cat hosts); do ssh $h reboot; done", "confirm critical power-reboot"),
    ("ssh in a loop over a brace expansion", "for h in web{1..3}; do ssh root@$h reboot; done", "confirm critical power-reboot"),
    ("xargs -a hosts with ssh", "xargs -a hosts -I{} ssh {} reboot", "confirm critical power-reboot"),
    ("clush -g stopping docker", "clush -g web -b 'sudo systemctl stop docker'", "confirm critical ctr-runtime-stop"),
    ("ansible fleet rm -rf / is still denied", "ansible all -m ansible.builtin.shell -a 'rm -rf /'", "deny critical del-rm-root"),
    ("cordon in a loop is raised from low", "for n in node1 node2; do kubectl cordon $n; done", "confirm medium k8s-cordon"),
    ("mkfs on each device of a loop", "for d in /dev/sdb /dev/sdc; do mkfs.ext4 $d; done", "confirm critical fs-mkfs-ext"),
    ("loop not using its variable is not raised", "for i in 1 2 3; do systemctl restart nginx; done", "confirm medium svc-critical-restart"),
    ("GNU parallel fanning ssh out", "parallel ssh {} reboot ::: web1 web2", "confirm critical power-reboot"),
    ("xargs -n1 runs drain once per node", "kubectl get nodes -o name | xargs -n1 kubectl drain", "confirm critical k8s-drain"),
    ("ansible apt module dist-upgrade", "ansible all -m apt -a 'upgrade=dist'", "confirm critical"),
];

/// Lines that look alarming and must run without a prompt.
#[rustfmt::skip]
const HARMLESS: &[Row] = &[
    ("echo of a risky word", r#"echo "reboot now""#, "allow none"),
    ("echo of rm -rf /", "echo 'rm -rf /'", "allow none"),
    ("printf of shutdown", r#"printf '%s\n' "shutdown -h now""#, "allow none"),
    ("git commit message with SQL", "git commit -m 'drop table users'", "allow none"),
    ("git commit message with an upgrade", r#"git commit -m "run apt-get upgrade on all nodes""#, "allow none"),
    ("grep for rm -rf /", "grep -r 'rm -rf /' .", "allow none"),
    ("grep for reboot in a log", "grep -n reboot /var/log/syslog", "allow none"),
    ("man page of reboot", "man reboot", "allow none"),
    ("man page of xfs_repair", "man 8 xfs_repair", "allow none"),
    ("which reboot", "which reboot", "allow none"),
    ("type shutdown", "type shutdown", "allow none"),
    ("last reboot", "last reboot", "allow none"),
    ("journalctl piped to grep", "journalctl -b -1 | grep reboot", "allow none"),
    ("comment after a command", "ls # reboot", "allow none"),
    ("a line that is only a comment", "# reboot", "allow none"),
    ("dd reading a device into a file", "dd if=/dev/sda of=/tmp/mbr bs=512 count=1", "allow none"),
    ("blkid", "blkid /dev/sda1", "allow none"),
    ("lsblk", "lsblk -f", "allow none"),
    ("docker ps -a", "docker ps -a", "allow none"),
    ("kubectl get ns", "kubectl get ns", "allow none"),
    ("kubectl get pods everywhere", "kubectl get pods -A -o wide", "allow none"),
    ("kubectl describe node", "kubectl describe node node1", "allow none"),
    ("apt-get -s upgrade", "apt-get -s upgrade", "allow none"),
    ("apt-get --simulate dist-upgrade", "apt-get --simulate dist-upgrade", "allow none"),
    ("terraform plan -destroy", "terraform plan -destroy", "allow none"),
    ("apt-get update", "apt-get update", "allow none"),
    ("sudo apt update", "sudo apt update", "allow none"),
    ("apt list --upgradable", "apt list --upgradable", "allow none"),
    ("systemctl status", "systemctl status docker", "allow none"),
    ("shutdown -c cancels", "shutdown -c", "allow none"),
    ("command -v reboot", "command -v reboot", "allow none"),
    ("sudo -l", "sudo -l", "allow none"),
    ("kubeadm certs check-expiration", "kubeadm certs check-expiration", "allow none"),
    ("iptables -L -n", "iptables -L -n", "allow none"),
    ("crontab -l", "crontab -l", "allow none"),
    ("fsck -n", "fsck -n /dev/sdb1", "allow none"),
    ("xfs_repair -n", "xfs_repair -n /dev/sdb1", "allow none"),
    ("rm -rf of a build directory", "rm -rf /tmp/build", "allow none"),
    ("cat /etc/fstab", "cat /etc/fstab", "allow none"),
    ("echo of a date substitution", "echo $(date)", "allow none"),
    ("history piped to grep", "history | grep reboot", "allow none"),
    ("ps piped to grep", "ps aux | grep -v grep | grep reboot", "allow none"),
    ("who -b shows the last boot", "who -b", "allow none"),
    ("uptime", "uptime", "allow none"),
    ("reboot-required marker", "cat /var/run/reboot-required", "allow none"),
    ("listing the reboot binary", "ls -la /sbin/reboot", "allow none"),
    ("function defined but never called", "f() { reboot; }", "allow none"),
    ("arithmetic on a variable named reboot", "((reboot++))", "allow none"),
    ("arithmetic expansion on a variable named reboot", "echo $((reboot + 1))", "allow none"),
    ("ssh to run uptime", "ssh web1 uptime", "allow none"),
    ("ssh uptime in a loop", "for h in web1 web2; do ssh $h uptime; done", "allow none"),
    ("pdsh uptime", "pdsh -w web[1-3] uptime", "allow none"),
    ("ansible ping", "ansible all -m ping", "allow none"),
    ("bash -c echo of reboot", "bash -c 'echo reboot'", "allow none"),
    ("docker exec ls", "docker exec web ls /app", "allow none"),
    ("kubectl exec ls", "kubectl exec -it web-0 -- ls /", "allow none"),
    ("watch kubectl get", "watch -n 5 kubectl get pods", "allow none"),
    ("timeout ping", "timeout 5 ping -c 1 web1", "allow none"),
    ("nice tar of /etc", "nice -n 10 tar czf /tmp/etc.tgz /etc", "allow none"),
    ("sudo cat a log", "sudo cat /var/log/syslog", "allow none"),
    ("psql select", "psql -c 'SELECT count(*) FROM users'", "allow none"),
    ("psql here-document select", "psql <<EOF\nSELECT * FROM users LIMIT 1;\nEOF", "allow none"),
    ("psql table named like a verb", r#"psql -c "SELECT * FROM drop_requests""#, "allow none"),
    ("wall announcing a reboot", r#"wall "rebooting web1 at 22:00""#, "allow none"),
    ("echo risky SQL into a notes file", "echo 'DROP DATABASE prod;' > /tmp/notes.sql", "allow none"),
    ("git log grep", "git log --grep=reboot", "allow none"),
    ("docker images", "docker images", "allow none"),
    ("terraform plan", "terraform plan -out=tfplan", "allow none"),
    ("zpool status", "zpool status -v", "allow none"),
    ("smartctl reading a disk", "smartctl -a /dev/sda", "allow none"),
    ("df", "df -h", "allow none"),
    ("env piped to grep", "env | grep PATH", "allow none"),
    ("touch a marker named reboot", "touch /tmp/reboot-required", "allow none"),
    ("apt-cache policy", "apt-cache policy docker-ce", "allow none"),
    ("sudo -u postgres psql select", "sudo -u postgres psql -c 'SELECT 1'", "allow none"),
    ("arithmetic around a substitution is not a command", "echo $(( $(date +%s) + 60 ))", "allow none"),
    ("arithmetic on RANDOM", "sleep $(( RANDOM % 10 ))", "allow none"),
    ("quoted here-document does not expand", "cat <<'EOF'\n$(reboot)\nEOF", "allow none"),
    ("single quotes do not expand", "echo '$(reboot)'", "allow none"),
    ("escaped substitution in double quotes", r#"echo "\$(reboot)""#, "allow none"),
    ("systemctl reload", "systemctl reload nginx", "allow none"),
    ("kubectl rollout status", "kubectl rollout status deploy/web", "allow none"),
    ("kubeadm upgrade plan", "kubeadm upgrade plan", "allow none"),
    ("fdisk -l lists", "fdisk -l", "allow none"),
    ("parted print", "parted /dev/sda print", "allow none"),
    ("ip route show", "ip route show", "allow none"),
    ("nft list ruleset", "nft list ruleset", "allow none"),
    ("iptables-save", "iptables-save", "allow none"),
    ("etcdctl get keys", "etcdctl get / --prefix --keys-only", "allow none"),
    ("redis-cli GET", "redis-cli GET foo", "allow none"),
    ("kubectl uncordon", "kubectl uncordon node1", "allow none"),
    ("find -print of old logs", "find /var/log -name '*.gz' -mtime +30 -print", "allow none"),
    ("rsync a directory", "rsync -av ./ web1:/srv/app/", "allow none"),
    ("openssl reading the CA", "openssl x509 -in /etc/kubernetes/pki/ca.crt -noout -text", "allow none"),
    ("mdadm --detail", "mdadm --detail /dev/md0", "allow none"),
    ("cryptsetup luksDump", "cryptsetup luksDump /dev/sdb", "allow none"),
    ("shutdown -k only warns", "shutdown -k now", "allow none"),
    ("reboot --help", "reboot --help", "allow none"),
    ("sysrq help is only a notice", "echo h > /proc/sysrq-trigger", "allow low power-sysrq-diagnostic"),
    ("cordon is only a notice", "kubectl cordon node1", "allow low k8s-cordon"),
    ("daemon-reexec is only a notice", "systemctl daemon-reexec", "allow low svc-daemon-reexec"),
];

/// Risky commands beyond reboot, with an operator's judgement of the level.
#[rustfmt::skip]
const RISKY: &[Row] = &[
    ("shutdown now", "shutdown -h now", "confirm high power-shutdown-halt"),
    ("shutdown -r with a delay", "shutdown -r +5", "confirm medium power-shutdown-reboot-scheduled"),
    ("poweroff", "poweroff", "confirm high power-poweroff"),
    ("halt", "halt", "confirm high power-poweroff"),
    ("systemctl reboot", "systemctl reboot", "confirm high power-systemctl-reboot"),
    ("systemctl poweroff", "systemctl poweroff", "confirm high power-systemctl-poweroff"),
    ("init 6", "init 6", "confirm high power-init-reboot"),
    ("apt-get upgrade", "apt-get upgrade", "confirm high apt-full-upgrade"),
    ("apt full-upgrade", "apt -y full-upgrade", "confirm high apt-full-upgrade"),
    ("yum update of everything", "yum update -y", "confirm high pkg-yum-update-all"),
    ("dnf upgrade of everything", "dnf upgrade", "confirm high pkg-yum-update-all"),
    ("xfs_repair -L", "xfs_repair -L /dev/sdb1", "confirm critical fs-xfs-repair-zero-log"),
    ("rm -rf /", "rm -rf /", "deny critical del-rm-root"),
    ("mkfs on a disk", "mkfs.ext4 /dev/sdb1", "confirm critical fs-mkfs-ext"),
    ("dd onto a disk", "dd if=/dev/zero of=/dev/sda bs=1M", "confirm critical fs-dd-to-device"),
    ("kubeadm certs renew all", "kubeadm certs renew all", "confirm critical k8s-pki-certs-renew-all"),
    ("psql drop table", "psql -c 'DROP TABLE users'", "confirm high db-sql-drop"),
    ("fork bomb", ":(){ :|:& };:", "deny critical misc-fork-bomb"),
    ("curl piped to a root shell", "curl -fsSL https://get.example.com | sudo bash", "confirm high misc-pipe-to-shell"),
    ("iptables flush", "iptables -F", "confirm high net-iptables-flush"),
    ("kubectl delete namespace", "kubectl delete namespace prod", "confirm critical k8s-delete-namespace"),
    ("terraform destroy", "terraform destroy", "confirm critical misc-terraform-destroy"),
    ("truncating /etc/fstab", "> /etc/fstab", "confirm critical misc-clobber-system-file"),
    ("interactive sudo -i", "sudo -i", "confirm medium shell-sudo-login"),
    ("interactive sudo -s", "sudo -s", "confirm medium shell-sudo-login"),
    ("interactive bash", "bash", "confirm medium shell-interactive"),
    ("interactive root shell through sudo", "sudo bash", "confirm medium shell-interactive"),
    ("interactive su -", "su -", "confirm medium shell-su"),
    ("drop table in psql through sudo -u", r#"sudo -u postgres psql -c "drop table users""#, "confirm high db-sql-drop"),
    ("shutdown -r now", "shutdown -r now", "confirm high power-shutdown-reboot"),
    ("sysrq crash", "echo c > /proc/sysrq-trigger", "confirm critical power-sysrq-trigger"),
    ("kill every process", "kill -9 -1", "confirm critical misc-kill-all-processes"),
    ("kubeadm regenerates the CA", "kubeadm init phase certs ca", "confirm critical k8s-pki-init-certs-ca"),
    ("kubeadm renews one certificate", "kubeadm certs renew apiserver", "confirm high k8s-pki-certs-renew"),
    ("kubeadm reset", "kubeadm reset -f", "confirm critical k8s-pki-kubeadm-reset"),
    ("docker prune with volumes", "docker system prune -af --volumes", "confirm critical ctr-system-prune-volumes"),
    ("redis FLUSHALL", "redis-cli FLUSHALL", "confirm critical db-redis-flush"),
    ("mysql drop database", "mysql -e 'DROP DATABASE prod'", "confirm critical db-sql-drop-database"),
    ("iptables default drop", "iptables -P INPUT DROP", "confirm critical net-iptables-policy-drop"),
    ("stopping sshd", "systemctl stop sshd", "confirm high net-sshd-stop"),
    ("taking the interface down", "ip link set eth0 down", "confirm high net-ip-link-down"),
    ("xfs_repair without -n", "xfs_repair /dev/sdb1", "confirm high fs-xfs-repair"),
    ("fsck -y repairs", "fsck -y /dev/sdb1", "confirm high fs-fsck-repair"),
    ("recursive chmod of /", "chmod -R 777 /", "confirm critical perm-recursive-system"),
    ("rm -rf of /etc", "rm -rf /etc", "confirm critical del-rm-system-path"),
    ("rm -rf of an unset variable", r#"rm -rf "$DIR/""#, "confirm critical del-rm-empty-var-root"),
    ("crontab -r", "crontab -r", "confirm high misc-crontab-remove"),
    ("a shell running a downloaded script", r#"sh -c "$(curl -fsSL https://get.example.com)""#, "confirm high"),
    ("doas -s is an interactive root shell", "doas -s", "confirm medium"),
];

/// Lines that cannot be parsed: an error, never a verdict.
#[rustfmt::skip]
const ERRORS: &[Row] = &[
    ("stray closing parenthesis", "ls )", "error"),
    ("unclosed single quote", "echo 'abc", "error"),
    ("unclosed double quote", r#"echo "abc"#, "error"),
    ("if without fi", "if true; then reboot", "error"),
    ("trailing pipe", "ls |", "error"),
    ("unclosed command substitution", "echo $(reboot", "error"),
    ("unclosed backquote", "echo `reboot", "error"),
    ("done without a loop", "done", "error"),
    ("thirty unclosed parentheses", "((((((((((((((((((((((((((((((", "error"),
    ("unclosed brace group", "{ reboot;", "error"),
    ("case without esac", "case x in", "error"),
    ("unterminated here-document", "cat <<EOF\nabc", "error"),
];

const TABLES: &[(&str, &[Row])] = &[
    ("constructs", CONSTRUCTS),
    ("wrappers", WRAPPERS),
    ("spellings", SPELLINGS),
    ("dynamic", DYNAMIC),
    ("fleet", FLEET),
    ("harmless", HARMLESS),
    ("risky", RISKY),
    ("errors", ERRORS),
];

fn all_rows() -> impl Iterator<Item = (&'static str, &'static Row)> {
    TABLES
        .iter()
        .flat_map(|(table, rows)| rows.iter().map(move |r| (*table, r)))
}

/// What a row expects.
#[derive(Debug)]
enum Expect {
    Error,
    Verdict {
        action: Action,
        risk: Risk,
        rule: Option<&'static str>,
    },
}

fn parse_expect(text: &'static str) -> Expect {
    if text == "error" {
        return Expect::Error;
    }
    let mut words = text.split_whitespace();
    let action = match words.next() {
        Some("allow") => Action::Allow,
        Some("confirm") => Action::Confirm,
        Some("deny") => Action::Deny,
        other => panic!("bad action in expectation {text:?}: {other:?}"),
    };
    let risk = words
        .next()
        .and_then(Risk::parse)
        .unwrap_or_else(|| panic!("bad risk in expectation {text:?}"));
    let rule = words.next();
    assert!(
        words.next().is_none(),
        "too many words in expectation {text:?}"
    );
    Expect::Verdict { action, risk, rule }
}

fn describe(v: &Verdict) -> String {
    let findings: Vec<String> = v
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}:{} on {:?}",
                f.rule,
                f.risk,
                f.action,
                f.command.join(" ")
            )
        })
        .collect();
    format!("{} {} [{}]", v.action, v.risk, findings.join(", "))
}

/// `None` when the line behaves as the row says, else what went wrong.
fn check_row(rules: &RuleSet, line: &str, expect: &Expect) -> Option<String> {
    let result = check_line(line, rules);
    match (expect, result) {
        (Expect::Error, Err(_)) => None,
        (Expect::Error, Ok(v)) => Some(format!("expected a parse error, got {}", describe(&v))),
        (Expect::Verdict { .. }, Err(e)) => Some(format!("expected a verdict, got the error: {e}")),
        (Expect::Verdict { action, risk, rule }, Ok(v)) => {
            let mut problems = Vec::new();
            if v.action != *action || v.risk != *risk {
                problems.push(format!("expected {action} {risk}"));
            }
            if let Some(rule) = rule
                && !v.findings.iter().any(|f| f.rule == *rule)
            {
                problems.push(format!("expected a finding of rule {rule}"));
            }
            (!problems.is_empty())
                .then(|| format!("{}; got {}", problems.join(" and "), describe(&v)))
        }
    }
}

/// Is the row marked as a known bug that is left failing on purpose?
fn marked(name: &str) -> bool {
    name.starts_with("ENGINE BUG:") || name.starts_with("RULE GAP:")
}

#[test]
fn every_row_gets_the_expected_verdict() {
    let rules = RuleSet::builtin();
    let mut known = Vec::new();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let mut total = 0;
    // `VERDICTS_SHOW=1 cargo test --test engine verdicts:: -- --nocapture`
    // prints every row's verdict, to help write expectations for new rows.
    let show = std::env::var_os("VERDICTS_SHOW").is_some();
    for (table, (name, line, expect)) in all_rows() {
        total += 1;
        if show {
            match check_line(line, &rules) {
                Ok(v) => println!("[{table}] {name}: {line:?} => {}", describe(&v)),
                Err(e) => println!("[{table}] {name}: {line:?} => error: {e}"),
            }
        }
        let expect = parse_expect(expect);
        match check_row(&rules, line, &expect) {
            Some(problem) => {
                let report = format!("  [{table}] {name}\n      line: {line:?}\n      {problem}");
                if marked(name) {
                    known.push(report);
                } else {
                    unexpected.push(report);
                }
            }
            None if marked(name) => fixed.push(format!("  [{table}] {name}")),
            None => {}
        }
    }
    let mut message = format!(
        "{} of {total} rows failed.\n",
        known.len() + unexpected.len()
    );
    if !unexpected.is_empty() {
        message += &format!(
            "\nUnexpected failures ({}):\n{}\n",
            unexpected.len(),
            unexpected.join("\n")
        );
    }
    if !known.is_empty() {
        message += &format!(
            "\nKnown engine bugs and rule gaps, failing on purpose ({}):\n{}\n",
            known.len(),
            known.join("\n")
        );
    }
    if !fixed.is_empty() {
        message += &format!(
            "\nMarked as bugs but now passing: remove the mark ({}):\n{}\n",
            fixed.len(),
            fixed.join("\n")
        );
    }
    assert!(
        known.is_empty() && unexpected.is_empty() && fixed.is_empty(),
        "{message}"
    );
}

#[test]
fn the_table_is_big_and_well_formed() {
    let rows: Vec<_> = all_rows().collect();
    assert!(rows.len() >= 190, "only {} rows", rows.len());
    let mut names = HashSet::new();
    let mut lines = HashSet::new();
    for (table, (name, line, expect)) in &rows {
        assert!(
            names.insert(*name),
            "duplicate row name {name:?} in {table}"
        );
        assert!(
            lines.insert(*line),
            "duplicate line {line:?} ({name:?} in {table})"
        );
        parse_expect(expect);
    }
    let harmless = HARMLESS
        .iter()
        .filter(|(_, _, e)| matches!(parse_expect(e), Expect::Verdict { action: Action::Allow, risk, .. } if risk <= Risk::Low))
        .count();
    assert!(
        harmless >= 45,
        "only {harmless} alarming-looking lines that must stay allowed"
    );
}

/// Every wrapper in front of every spelling of `reboot`: the whole cross
/// product must still be caught, so a wrapper that works with one spelling
/// but not another shows up here.
#[test]
fn every_wrapper_with_every_spelling_of_reboot_is_caught() {
    const WRAP: &[&str] = &[
        "",
        "sudo ",
        "sudo -u root -E -- ",
        "doas ",
        "env -i PATH=/sbin ",
        "nice -n 5 ",
        "ionice -c 3 ",
        "nohup ",
        "setsid ",
        "stdbuf -oL ",
        "timeout -s KILL -k 5 30 ",
        "time ",
        "command ",
        "exec ",
        "chroot /mnt ",
        "xargs ",
        "watch ",
        "VAR=1 ",
        "! ",
    ];
    const SPELL: &[&str] = &[
        "reboot",
        "'reboot'",
        "\"reboot\"",
        "r\\eboot",
        "/sbin/reboot",
        "/usr/sbin/../sbin/reboot",
        "$'\\x72eboot'",
        "re''boot",
    ];
    const AROUND: &[(&str, &str)] = &[
        ("", ""),
        ("( ", " )"),
        ("{ ", "; }"),
        ("echo $(", ")"),
        ("bash -c '", "'"),
        ("ssh web1 '", "'"),
        ("if true; then ", "; fi"),
    ];
    let rules = RuleSet::builtin();
    let mut failures = Vec::new();
    let mut total = 0;
    for (open, close) in AROUND {
        for wrap in WRAP {
            for spell in SPELL {
                // Inside single quotes a spelling with single quotes would
                // end the string early; those combinations are not lines
                // anybody types.
                if open.ends_with('\'') && spell.contains('\'') {
                    continue;
                }
                let line = format!("{open}{wrap}{spell}{close}");
                total += 1;
                match check_line(&line, &rules) {
                    Ok(v) if v.action >= Action::Confirm && v.risk >= Risk::High => {}
                    Ok(v) => failures.push(format!("  {line:?}: {}", describe(&v))),
                    Err(e) => failures.push(format!("  {line:?}: error {e}")),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} spellings of reboot were not caught:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The verdict is consistent with its findings, for every row.
#[test]
fn verdicts_are_the_maximum_of_their_findings() {
    let rules = RuleSet::builtin();
    for (_, (name, line, _)) in all_rows() {
        let Ok(v) = check_line(line, &rules) else {
            continue;
        };
        let risk = v
            .findings
            .iter()
            .map(|f| f.risk)
            .max()
            .unwrap_or(Risk::None);
        let action = v
            .findings
            .iter()
            .map(|f| f.action)
            .max()
            .unwrap_or(Action::Allow);
        assert_eq!((v.risk, v.action), (risk, action), "{name}: {line:?}");
        for f in &v.findings {
            assert!(
                line.get(f.span.0..f.span.1).is_some(),
                "{name}: span {:?} of {} is not in {line:?}",
                f.span,
                f.rule
            );
            assert!(
                !f.why.is_empty() && !f.instead.is_empty(),
                "{name}: rule {} explains nothing",
                f.rule
            );
        }
    }
}
