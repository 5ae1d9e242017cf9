//! A line judged where it runs: the working directory and the session's
//! variables (issue 10, part 3), the scripts it runs (part 4), and where
//! each command acts — this host, another host, a cluster (part 5). One
//! table of named lines, each with the place it runs in given as plain
//! values, through the real path (`parse_line_in` and `classify` with the
//! shipped rules). About half are look-alikes that must stay silent.
//!
//! Each row is `(name, cwd, vars, line, expectation)`:
//! - `cwd`: the working directory, `-` when it is not known;
//! - `vars`: `NAME=value` words the session knows (`HOME` defaults to
//!   `/home/u`);
//! - the expectation is `ACTION [RISK|*] [RULE] [@TARGET]`, as in
//!   tests/engine_lines.rs, where `@TARGET` is where the finding of RULE
//!   acts (or, with no rule, the last command found): `@local`,
//!   `@host:NAME`, `@hosts:A,B`, `@cluster:NAME`, `@unknown:TEXT`, with
//!   the names the operator would type.
//!
//! Script rows run with the files of [`FILES`]: `big` in a name reads as
//! larger than the limit, `secret` as unreadable, `/usr/local/bin/` as a
//! compiled program.
//!
//! At the end, the binary itself: on a pty, `ssh core-1 sudo reboot` asks
//! for `core-1` and the local host's name does not run it (with `ssh` and
//! `reboot` as fake programs first on PATH: nothing real is reached), and
//! without a terminal `--confirm` follows the same rule; a script the line
//! runs is read from the working directory, and a FIFO is not waited on.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::common::{Env, short_host, wait_for, write_file};
use expectrl::process::unix::WaitStatus;
use expectrl::{Expect, Session};
use nix::sys::termios::{self, LocalFlags};

use safe_run::classify::classify;
use safe_run::command::Target;
use safe_run::context::{LineContext, ScriptSource, ScriptText};
use safe_run::parse::{parse_line_in, parse_script_in};
use safe_run::rules::RuleSet;
use safe_run::verdict::{Action, Risk, Verdict};

type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Part 3: the working directory, `cd` in the line, `..`, variables.
#[rustfmt::skip]
const PLACES: &[Row] = &[
    // Flagged: as risky as the absolute form.
    ("cd /etc then rm -rf *", "/home/u", "", "cd /etc && rm -rf *", "confirm critical del-rm-system-path"),
    ("cd / then rm -rf usr", "/home/u", "", "cd / ; rm -rf usr", "confirm critical del-rm-system-path"),
    ("cd /var/lib then rm -rf docker", "/home/u", "", "cd /var/lib && rm -rf docker", "confirm high del-rm-service-data"),
    ("rm -rf * in /etc", "/etc", "", "rm -rf *", "confirm critical del-rm-system-path"),
    ("rm -rf usr in /", "/", "", "rm -rf usr", "confirm critical del-rm-system-path"),
    ("rm -rf docker in /var/lib", "/var/lib", "", "rm -rf docker", "confirm high del-rm-service-data"),
    ("/tmp/../etc", "-", "", "rm -rf /tmp/../etc", "confirm critical del-rm-system-path"),
    ("/var/tmp/../../etc/ssh", "-", "", "rm -rf /var/tmp/../../etc/ssh", "confirm critical del-rm-system-path"),
    ("../../etc from /tmp/a", "/tmp/a", "", "rm -rf ../../etc", "confirm critical del-rm-system-path"),
    ("rm -rf . in /", "/", "", "rm -rf .", "deny critical del-rm-root"),
    ("rm -rf .. in /home", "/home", "", "rm -rf ..", "deny critical del-rm-root"),
    ("rm -rf ./* in /etc", "/etc", "", "rm -rf ./*", "confirm critical del-rm-system-path"),
    ("session variable D=/etc", "/home/u", "D=/etc", "rm -rf $D", "confirm critical del-rm-system-path"),
    ("line variable D=/etc", "/home/u", "", "D=/etc; rm -rf $D/*", "confirm critical del-rm-system-path"),
    ("quoted session variable to a service dir", "/home/u", "TARGET=/var/lib/docker", "rm -rf \"$TARGET\"", "confirm high del-rm-service-data"),
    ("cd into a session variable", "/home/u", "APP=/etc", "cd $APP && rm -rf *", "confirm critical del-rm-system-path"),
    ("bare cd goes home", "/tmp", "", "cd; rm -rf *", "confirm critical del-rm-system-path"),
    ("cd ~ then rm -rf *", "/tmp", "", "cd ~ && rm -rf *", "confirm critical del-rm-system-path"),
    ("$HOME known is still the home directory", "/tmp", "HOME=/home/u", "rm -rf $HOME", "confirm critical del-rm-system-path"),
    ("the home directory by its path", "/tmp", "", "rm -rf /home/u", "confirm critical del-rm-system-path"),
    ("the home directory through ..", "/home/u/src", "", "rm -rf ..", "confirm critical del-rm-system-path"),
    ("cd - goes back", "/etc", "", "cd /tmp && cd - && rm -rf *", "confirm critical del-rm-system-path"),
    ("cd twice, relative", "/home/u", "", "cd /usr; cd lib; rm -rf *", "confirm critical del-rm-system-path"),
    ("rm -rf . in /etc/ssh", "/home/u", "", "cd /etc/ssh && rm -rf .", "confirm critical del-rm-system-path"),
    ("pushd counts as cd", "/home/u", "", "pushd /etc && rm -rf *", "confirm critical del-rm-system-path"),
    ("set but empty is empty", "/home/u", "TMPDIR=", "rm -rf \"$TMPDIR/\"", "deny critical del-rm-root"),
    ("prefix variable", "/home/u", "PREFIX=/usr", "rm -rf $PREFIX/lib", "confirm critical del-rm-system-path"),
    ("root variable with /*", "/home/u", "ROOT=/", "rm -rf ${ROOT}/*", "deny critical del-rm-root"),
    ("find . -delete in /etc", "/etc", "", "find . -delete", "confirm critical del-find-delete-system"),
    ("find . -name -delete in /etc", "/etc", "", "find . -name '*.bak' -delete", "confirm high del-find-delete-system-filtered"),
    ("sudo keeps the directory", "/etc", "", "sudo rm -rf *", "confirm critical del-rm-system-path"),
    ("bash -c inherits the directory", "/home/u", "", "cd /etc && sudo bash -c 'rm -rf *'", "confirm critical del-rm-system-path"),
    ("cd inside a subshell, rm inside it", "/home/u", "", "(cd /etc && rm -rf *)", "confirm critical del-rm-system-path"),
    ("cd inside a substitution", "/home/u", "", "x=$(cd /etc && rm -rf *)", "confirm critical del-rm-system-path"),
    ("../../etc from a service dir", "/srv/app", "", "rm -rf ../../etc", "confirm critical del-rm-system-path"),
    ("cd /boot then rm grub", "/home/u", "", "cd /boot && rm -rf grub", "confirm critical del-rm-system-path"),
    ("chmod -R 777 . in /", "/", "", "chmod -R 777 .", "confirm critical perm-recursive-system"),
    ("chown -R * in /etc", "/etc", "", "chown -R nobody *", "confirm * perm-recursive-system"),
    ("redirect to fstab in /etc", "/etc", "", "echo x > fstab", "confirm critical misc-clobber-system-file"),
    ("truncate passwd after cd", "/home/u", "", "cd /etc; : > passwd", "confirm critical misc-clobber-system-file"),
    ("rm pki in /etc/kubernetes", "/home/u", "", "cd /etc/kubernetes && rm -rf pki", "confirm * k8s-pki-remove"),
    ("rm etcd/ in /var/lib", "/var/lib", "", "rm -rf etcd/", "confirm high del-rm-service-data"),
    ("eval'd cd holds", "/home/u", "", "eval 'cd /etc'; rm -rf *", "confirm critical del-rm-system-path"),
    ("cd through a line variable", "/home/u", "", "d=/var/lib; cd $d && rm -rf docker", "confirm high del-rm-service-data"),
    ("PWD is the working directory", "/etc", "", "rm -rf \"$PWD\"/*", "confirm critical del-rm-system-path"),
    ("tee into fstab from /etc", "/etc", "", "echo x | tee fstab", "confirm critical misc-clobber-system-file-tool"),
    ("a loop over system directories", "/home/u", "", "for d in /etc /usr; do rm -rf $d; done", "confirm critical del-rm-system-path"),
    ("a loop over names in /", "/", "", "for d in usr var; do rm -rf \"$d\"; done", "confirm critical del-rm-system-path"),
    ("a loop over service data", "/home/u", "", "for s in docker containerd; do sudo rm -rf /var/lib/$s; done", "confirm critical del-rm-service-data"),
    ("a known default is the variable", "/home/u", "D=/etc", "rm -rf \"${D:-/tmp/x}\"", "confirm critical del-rm-system-path"),
    ("a checked variable is its value", "/home/u", "D=/usr", "rm -rf \"${D:?}\"/*", "confirm critical del-rm-system-path"),
    // Silent look-alikes.
    ("cd /tmp then rm -rf x", "/home/u", "", "cd /tmp && rm -rf x", "allow"),
    ("rm -rf ./build in a source tree", "/home/u/src", "", "rm -rf ./build", "allow"),
    ("rm -rf * in /tmp/build", "/tmp/build", "", "rm -rf *", "allow"),
    ("rm -rf . in /tmp/build", "/tmp/build", "", "rm -rf .", "allow"),
    ("rm -rf build dist", "/home/u/src", "", "rm -rf build dist", "allow"),
    ("cache below a service dir", "/home/u", "", "cd /var/lib/app/cache && rm -rf *", "allow"),
    ("TMPDIR set is not possibly empty", "/home/u", "TMPDIR=/tmp", "rm -rf \"$TMPDIR/x\"", "allow"),
    ("BUILD set", "/home/u", "BUILD=/home/u/src/build", "rm -rf $BUILD/out", "allow"),
    ("WORK set with /*", "/home/u", "WORK=/tmp/work", "rm -rf ${WORK}/*", "allow"),
    ("cd /etc then ls", "/home/u", "", "cd /etc && ls -la", "allow"),
    ("cd /etc then cat fstab", "/home/u", "", "cd /etc && cat fstab", "allow"),
    ("cd /etc then back up fstab", "/home/u", "", "cd /etc && cp fstab /tmp/fstab.bak", "allow"),
    ("ls usr in /", "/", "", "ls usr", "allow"),
    ("du docker in /var/lib", "/var/lib", "", "du -sh docker", "allow"),
    ("../tmp/x from /tmp", "/tmp", "", "rm -rf ../tmp/x", "allow"),
    ("/tmp/../tmp/build", "-", "", "rm -rf /tmp/../tmp/build", "allow"),
    ("the last cd wins", "/home/u", "", "cd /etc && cd /tmp && rm -rf *", "allow"),
    ("cd in a subshell does not leak", "/tmp/build", "", "(cd /etc); rm -rf *", "allow"),
    ("cd in a pipeline stage does not leak", "/tmp/build", "", "cd /etc | true; rm -rf *", "allow"),
    ("cd in a substitution does not leak", "/tmp/build", "", "x=$(cd /etc); rm -rf *", "allow"),
    ("cd in bash -c does not leak", "/tmp/build", "", "bash -c 'cd /etc'; rm -rf *", "allow"),
    ("line variable to a build dir", "/home/u", "", "D=/tmp/build; rm -rf $D", "allow"),
    ("session variable to a cache", "/home/u", "D=/srv/app/tmp/cache", "rm -rf $D", "allow"),
    ("a service name is not a path", "/var/lib", "", "systemctl status docker", "allow"),
    ("kubectl words are not paths", "/", "", "kubectl get pods etc", "allow"),
    ("echo rm -rf * in /etc", "/etc", "", "echo rm -rf *", "allow"),
    ("ls * in /etc", "/etc", "", "ls *", "allow"),
    ("chmod 644 *.conf in /etc/nginx", "/etc/nginx", "", "chmod 644 *.conf", "allow"),
    ("rm -f one file in /etc", "/etc", "", "rm -f fstab.bak", "allow"),
    ("a cache in the home directory", "/home/u", "", "rm -rf ~/.cache/pip", "allow"),
    ("cd ~/src then rm -rf build", "/tmp", "", "cd ~/src && rm -rf build", "allow"),
    ("bare cd then ls", "/etc", "", "cd && ls", "allow"),
    ("HOME/.cache", "/tmp", "HOME=/home/u", "rm -rf \"$HOME/.cache\"", "allow"),
    ("node_modules below a service dir", "/srv/app", "", "rm -rf ./node_modules", "allow"),
    ("cd /srv then app/tmp", "/home/u", "", "cd /srv && rm -rf app/tmp", "allow"),
    ("old releases", "/opt/app", "", "rm -rf releases/old", "allow"),
    (".. from /tmp/x", "/tmp/x", "", "rm -rf ..", "allow"),
    ("DIR/sub with DIR set", "/home/u", "DIR=/srv/data", "rm -rf \"$DIR/sub\"", "allow"),
    ("line PREFIX then build", "/home/u", "", "PREFIX=/opt/tool; rm -rf $PREFIX/build", "allow"),
    ("old logs below /var/log", "/home/u", "", "cd /var/log && rm -rf app/*.gz", "allow"),
    ("git status in /etc", "/home/u", "", "cd /etc && git status", "allow"),
    ("find . -name -delete in a build dir", "/tmp/build", "", "find . -name '*.tmp' -delete", "allow"),
    ("read makes a variable unknown again", "/home/u", "", "D=/tmp/x; read D; echo $D", "allow"),
    ("a file called etc in a project", "/home/u/src", "", "rm -rf etc", "allow"),
    ("a loop over build dirs", "/home/u/src", "", "for d in build dist; do rm -rf $d; done", "allow"),
    ("cd to an unknown directory forgets it", "/etc", "", "cd \"$(mktemp -d)\" && rm -rf *", "allow"),
    ("remote commands do not see this directory", "/etc", "", "ssh web1 'ls *'", "allow"),
    ("a loop over log files", "/var/log/app", "", "for f in a.log b.log; do rm -f $f; done", "allow"),
    ("a loop over caches", "/home/u", "", "for d in /tmp/a /var/tmp/b; do rm -rf \"$d\"; done", "allow"),
    ("env -C into /etc", "/home/u", "", "env -C /etc rm -rf *", "confirm critical"),
    ("env --chdir= into a scratch directory", "/", "", "env --chdir=/tmp/build rm -rf *", "allow"),
    ("sudo -D into /var/lib", "/home/u", "", "sudo -D /var/lib rm -rf docker", "confirm"),
    ("sudo --chdir relative to the directory", "/", "", "sudo --chdir var/lib rm -rf docker", "confirm"),
    ("sudo -D does not outlive its command", "/etc", "", "sudo -D /tmp/build rm -rf x; ls", "allow"),
    ("an unknown variable's default", "/home/u", "", "rm -rf \"${D:-/tmp/x}\"", "allow"),
    ("a checked variable set to a cache", "/home/u", "D=/srv/app/tmp", "rm -rf \"${D:?}/cache\"", "allow"),
];

/// Part 4: the scripts a line runs. Paths are those of [`FILES`].
#[rustfmt::skip]
const SCRIPTS: &[Row] = &[
    ("bash script that reboots", "/srv/app", "", "bash reboot.sh", "confirm high power-reboot"),
    ("sh ./script", "/srv/app", "", "sh ./reboot.sh", "confirm high power-reboot"),
    ("./script with #!/bin/sh", "/srv/app", "", "./reboot.sh", "confirm high power-reboot"),
    ("sudo ./script", "/srv/app", "", "sudo ./clean.sh", "confirm high del-rm-service-data"),
    ("source a script whose function deletes /etc", "/srv/app", "", "bash uses-lib.sh", "confirm critical del-rm-system-path"),
    ("a script running a script", "/srv/app", "", "bash nested.sh", "confirm high power-reboot"),
    ("no #! line: executable text", "/srv/app", "", "./noshebang", "confirm high power-reboot"),
    ("#!/usr/bin/env bash", "/srv/app", "", "./envsh.sh", "confirm high power-reboot"),
    ("a script that does not parse", "/srv/app", "", "bash broken.sh", "confirm medium shell-unreadable-script"),
    ("a script larger than the limit", "/srv/app", "", "bash big.sh", "confirm medium shell-unreadable-script"),
    ("a script that cannot be read", "/srv/app", "", "bash secret.sh", "confirm medium shell-unreadable-script"),
    ("a script that is not there", "/srv/app", "", "bash missing.sh", "confirm medium shell-unreadable-script"),
    ("a script named by an unknown variable", "/srv/app", "", "bash $SCRIPT", "confirm medium shell-unreadable-script"),
    ("a relative script, directory unknown", "-", "", "bash deploy.sh", "confirm medium shell-unreadable-script"),
    ("scripts nested too deep", "/srv/app", "", "bash d1.sh", "confirm medium shell-unreadable-script"),
    ("a script downloaded and run at once", "/srv/app", "", "curl -fsSLo get.sh https://example.com/i.sh && bash get.sh", "confirm medium shell-unreadable-script"),
    ("a script written then run by path", "/tmp", "", "echo reboot > /tmp/x.sh && chmod +x x.sh && ./x.sh", "confirm medium shell-unreadable-script"),
    ("exec a script", "/srv/app", "", "exec ./reboot.sh", "confirm high power-reboot"),
    ("nohup a script in the background", "/srv/app", "", "nohup ./reboot.sh &", "confirm high power-reboot"),
    ("bash -x script", "/srv/app", "", "bash -x reboot.sh", "confirm high power-reboot"),
    ("bash -e -o pipefail script", "/srv/app", "", "bash -e -o pipefail reboot.sh", "confirm high power-reboot"),
    ("a sourced function called by name", "/srv/app", "", ". /srv/app/fn.sh; f", "confirm high power-reboot"),
    ("a sourced cd holds", "/tmp/build", "", ". /srv/app/cdtmp.sh && rm -rf *", "confirm critical del-rm-system-path"),
    ("a script argument as $1", "/srv/app", "", "bash args.sh /etc", "confirm critical del-rm-system-path"),
    ("a script without its argument", "/srv/app", "", "bash args.sh", "confirm critical del-rm-empty-var-root"),
    ("a sourced variable used after", "/srv/app", "", "source env.sh && rm -rf $APP_HOME", "confirm high del-rm-service-data"),
    ("bash reading a script on stdin", "/srv/app", "", "bash < reboot.sh", "confirm high power-reboot"),
    ("an absolute script path, directory unknown", "-", "", "bash /srv/app/reboot.sh", "confirm high power-reboot"),
    ("a script by a known variable", "/home/u", "S=/srv/app/reboot.sh", "sh $S", "confirm high power-reboot"),
    ("cd then run", "/home/u", "", "cd /srv/app && ./reboot.sh", "confirm high power-reboot"),
    ("a script in the home directory", "/tmp", "", "bash ~/bin/reboot.sh", "confirm high power-reboot"),
    ("a script that runs a remote reboot", "/srv/app", "", "bash remote.sh", "confirm high power-reboot @host:core-1"),
    ("a script as the program of sudo -u", "/srv/app", "", "sudo -u app bash deploy.sh && bash reboot.sh", "confirm high power-reboot"),
    // Silent.
    ("bash deploy.sh", "/srv/app", "", "bash deploy.sh", "allow"),
    ("./deploy.sh", "/srv/app", "", "./deploy.sh", "allow"),
    ("sourcing an environment file", "/srv/app", "", ". ./env.sh", "allow"),
    ("a script that sources itself", "/srv/app", "", ". loop.sh", "allow"),
    ("a python script is not read as shell", "/srv/app", "", "./tool.py", "allow"),
    ("a large python script is not shell", "/srv/app", "", "./big-tool.py", "allow"),
    ("a compiled program by path", "/srv/app", "", "/usr/local/bin/tool --check", "allow"),
    ("bash -n only parses", "/srv/app", "", "bash -n missing.sh", "allow"),
    ("bash -c is a string", "/srv/app", "", "bash -c 'echo hi'", "allow"),
    ("an absolute script, directory unknown", "-", "", "bash /srv/app/deploy.sh", "allow"),
    ("cat a script", "/srv/app", "", "cat reboot.sh", "allow"),
    ("edit a script", "/srv/app", "", "vi reboot.sh", "allow"),
    ("echo a script path", "/srv/app", "", "echo ./reboot.sh", "allow"),
    ("python3 runs python", "/srv/app", "", "python3 tool.py", "allow"),
    ("a remote script is not read here", "/srv/app", "", "ssh core-1 ./reboot.sh", "allow @host:core-1"),
    ("a container's script is not read here", "/srv/app", "", "docker exec web ./reboot.sh", "allow"),
    ("a script with an argument", "/srv/app", "", "bash ./deploy.sh --fast", "allow"),
    ("time bash deploy.sh", "/srv/app", "", "time bash deploy.sh", "allow"),
    ("the argument is a safe directory", "/srv/app", "", "bash args.sh /tmp/x", "allow"),
    ("a child's function does not leak", "/srv/app", "", "bash fn.sh; f", "allow"),
    ("a child's cd does not leak", "/tmp/build", "", "bash /srv/app/cdtmp.sh && rm -rf *", "allow"),
    ("a sourced rc file", "/tmp", "", "source ~/.bashrc", "allow"),
    ("a process substitution is judged by its feeder", "/srv/app", "", "source <(kubectl completion bash)", "allow"),
    ("bash --version", "/srv/app", "", "bash --version", "allow"),
    ("a script's comment that says reboot", "/srv/app", "", "bash comment.sh", "allow"),
    ("a script that only defines a function", "/srv/app", "", "bash fn.sh", "allow"),
    ("a script that echoes a risky word", "/srv/app", "", "sh echo.sh", "allow"),
    ("a checked script in a loop", "/srv/app", "", "for i in 1 2; do ./deploy.sh; done", "allow"),
    ("a script's own program variable", "/srv/app", "", "./gradlew build", "allow"),
    ("a wrapper runs its known arguments", "/srv/app", "", "./wrap.sh sudo reboot", "confirm high power-reboot"),
    ("a wrapper with an argument known at run time", "/srv/app", "", "./wrap.sh $CMD", "confirm medium misc-dynamic-program"),
    ("a wrapper with no arguments runs nothing", "/srv/app", "", "./wrap.sh", "allow"),
    ("a program not built yet runs nothing", "/srv/app", "", "./a.out --help-me", "allow"),
    ("a missing program by absolute path", "/srv/app", "", "/opt/tool/bin/run --check", "allow"),
];

/// Part 5: where a command acts.
#[rustfmt::skip]
const TARGETS: &[Row] = &[
    ("ssh host sudo reboot", "-", "", "ssh core-1 sudo reboot", "confirm high power-reboot @host:core-1"),
    ("user and domain are not typed", "-", "", "ssh root@core-1.prod.example.com reboot", "confirm high power-reboot @host:core-1"),
    ("ssh options before the host", "-", "", "ssh -p 2222 -i key core-1 'sudo systemctl reboot'", "confirm high power-systemctl-reboot @host:core-1"),
    ("a loop over a literal host list", "-", "", "for h in a b c; do ssh $h reboot; done", "confirm critical power-reboot @hosts:a,b,c"),
    ("a loop with user@$h", "-", "", "for h in web1 web2; do ssh root@$h 'sudo reboot'; done", "confirm critical power-reboot @hosts:web1,web2"),
    ("a loop over run-time hosts", "-", "", "for h in $(cat hosts); do ssh $h reboot; done", "confirm critical power-reboot @unknown:$h"),
    ("a host in an unknown variable", "-", "", "ssh $HOST reboot", "confirm high power-reboot @unknown:$HOST"),
    ("a host in a session variable", "-", "HOST=db-1", "ssh $HOST reboot", "confirm high power-reboot @host:db-1"),
    ("kubectl --context", "-", "", "kubectl --context prod-eu delete ns payments", "confirm * k8s-delete-namespace @cluster:prod-eu"),
    ("kubectl --context=", "-", "", "kubectl --context=prod-eu drain node-1", "confirm * k8s-drain @cluster:prod-eu"),
    ("kubectl --kubeconfig", "-", "", "kubectl --kubeconfig /etc/kubernetes/admin.conf delete node n1", "confirm * k8s-delete-node @cluster:admin"),
    ("KUBECONFIG= before kubectl", "-", "", "KUBECONFIG=/home/u/.kube/prod.yaml kubectl delete ns x", "confirm * k8s-delete-namespace @cluster:prod"),
    ("oc --context", "-", "", "oc --context prod delete project x", "confirm * k8s-delete-namespace @cluster:prod"),
    ("helm --kube-context", "-", "", "helm --kube-context prod-eu uninstall ingress-nginx", "confirm * k8s-helm-uninstall @cluster:prod-eu"),
    ("KUBECONFIG known to the session", "-", "KUBECONFIG=/home/u/.kube/staging.conf", "kubectl delete ns x", "confirm * k8s-delete-namespace @cluster:staging"),
    ("export KUBECONFIG in the line", "-", "", "export KUBECONFIG=/srv/k/prod.yaml; kubectl delete ns x", "confirm * k8s-delete-namespace @cluster:prod"),
    ("kubectl exec into a cluster", "-", "", "kubectl --context prod exec web-0 -- reboot", "confirm high power-reboot @cluster:prod"),
    ("a jump through a bastion", "-", "", "ssh bastion ssh core-2 reboot", "confirm high power-reboot @host:core-2"),
    ("pdsh -w list", "-", "", "pdsh -w a,b reboot", "confirm critical power-reboot @hosts:a,b"),
    ("clush -w one node", "-", "", "clush -w node1 reboot", "confirm critical power-reboot @host:node1"),
    ("ansible host pattern", "-", "", "ansible web -m reboot", "confirm critical power-reboot @host:web"),
    ("a here-document sent to ssh", "-", "", "ssh core-1 <<'EOF'\nsudo reboot\nEOF", "confirm high power-reboot @host:core-1"),
    ("echo piped into ssh", "-", "", "echo reboot | ssh core-1", "confirm high power-reboot @host:core-1"),
    ("a context in a variable", "-", "", "kubectl --context $CTX delete ns x", "confirm * k8s-delete-namespace @unknown:$CTX"),
    ("plain reboot is local", "-", "", "reboot", "confirm high power-reboot @local"),
    ("hosts read at run time", "-", "", "while read h; do ssh $h reboot; done < hosts", "confirm critical power-reboot @unknown:$h"),
    ("ssh -l user host", "-", "", "ssh -l root core-1 reboot", "confirm high power-reboot @host:core-1"),
    ("sudo ssh", "-", "", "sudo ssh core-1 reboot", "confirm high power-reboot @host:core-1"),
    ("ssh:// URL with a port", "-", "", "ssh ssh://admin@core-1:2222 reboot", "confirm high power-reboot @host:core-1"),
    ("an IP address is typed whole", "-", "", "ssh 10.0.0.5 reboot", "confirm high power-reboot @host:10.0.0.5"),
    ("ssh -t then sudo -i reboot", "-", "", "ssh -t core-1 sudo -i reboot", "confirm high power-reboot @host:core-1"),
    ("a loop over hosts with ${h}", "-", "", "for h in n1 n2; do ssh ${h}.example.com sudo reboot; done", "confirm critical power-reboot @hosts:n1,n2"),
    // Silent.
    ("ssh host uptime", "-", "", "ssh core-1 uptime", "allow @host:core-1"),
    ("ssh host df -h", "-", "", "ssh core-1 'df -h'", "allow @host:core-1"),
    ("kubectl --context dev get pods", "-", "", "kubectl --context dev get pods", "allow @cluster:dev"),
    ("kubectl --context prod-eu get ns", "-", "", "kubectl --context prod-eu get ns", "allow @cluster:prod-eu"),
    ("a loop running uptime", "-", "", "for h in a b c; do ssh $h uptime; done", "allow @hosts:a,b,c"),
    ("ssh host systemctl status", "-", "", "ssh core-1 systemctl status nginx", "allow @host:core-1"),
    ("kubectl --kubeconfig get nodes", "-", "", "kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes", "allow @cluster:admin"),
    ("helm list", "-", "", "helm --kube-context prod list", "allow @cluster:prod"),
    ("ssh host echo reboot", "-", "", "ssh core-1 'echo reboot'", "allow @host:core-1"),
    ("scp stays local", "-", "", "scp x core-1:/tmp/", "allow @local"),
    ("ssh -G prints the configuration", "-", "", "ssh -G core-1", "allow @local"),
    ("pdsh uptime", "-", "", "pdsh -w a,b uptime", "allow @hosts:a,b"),
    ("journalctl over ssh", "-", "", "ssh core-1 journalctl -u kubelet", "allow @host:core-1"),
    ("oc get pods", "-", "", "oc --context prod get pods", "allow @cluster:prod"),
    ("KUBECONFIG= get pods", "-", "", "KUBECONFIG=/tmp/kc kubectl get pods", "allow @cluster:kc"),
    ("cat over ssh", "-", "", "ssh core-1 cat /etc/hosts", "allow @host:core-1"),
    ("kubectl config get-contexts", "-", "", "kubectl config get-contexts", "allow @local"),
    ("ls over ssh", "-", "", "ssh core-1 'ls /var/lib'", "allow @host:core-1"),
    ("a remote rm -rf * does not use this directory", "/etc", "", "ssh core-1 'rm -rf *'", "allow @host:core-1"),
    ("a remote $HOME is not this one's", "-", "HOME=/home/u", "ssh core-1 'rm -rf $HOME/tmp/x'", "allow"),
    ("a remote session variable is not this one's", "-", "D=/tmp/x", "ssh core-1 'rm -rf $D'", "allow @host:core-1"),
    ("kubectl logs", "-", "", "kubectl --context prod logs web-0", "allow @cluster:prod"),
    ("ssh host hostname", "-", "", "ssh 10.0.0.5 hostname", "allow @host:10.0.0.5"),
];

/// The files script rows can read.
const FILES: &[(&str, &str)] = &[
    (
        "/srv/app/deploy.sh",
        "#!/bin/bash\nset -euo pipefail\ngit pull --ff-only\nsystemctl restart app\necho deployed\n",
    ),
    ("/srv/app/reboot.sh", "#!/bin/sh\necho bye\nreboot\n"),
    ("/home/u/bin/reboot.sh", "#!/bin/sh\nreboot\n"),
    ("/srv/app/clean.sh", "#!/bin/bash\nrm -rf /var/lib/docker\n"),
    (
        "/srv/app/env.sh",
        "export APP_HOME=/srv/app\nPATH=$PATH:/srv/app/bin\n",
    ),
    ("/srv/app/lib.sh", "wipe() {\n  rm -rf /etc\n}\n"),
    ("/srv/app/uses-lib.sh", ". /srv/app/lib.sh\nwipe\n"),
    ("/srv/app/nested.sh", "bash /srv/app/reboot.sh\n"),
    ("/srv/app/loop.sh", ". /srv/app/loop.sh\necho hi\n"),
    (
        "/srv/app/tool.py",
        "#!/usr/bin/python3\nimport os\nos.system('reboot')\n",
    ),
    ("/srv/app/noshebang", "reboot\n"),
    ("/srv/app/envsh.sh", "#!/usr/bin/env bash\nreboot\n"),
    ("/srv/app/broken.sh", "#!/bin/sh\nif then fi (\n"),
    ("/srv/app/args.sh", "#!/bin/sh\nrm -rf \"$1\"/*\n"),
    ("/srv/app/cdtmp.sh", "cd /etc\n"),
    ("/srv/app/fn.sh", "f() { reboot; }\n"),
    ("/srv/app/remote.sh", "#!/bin/sh\nssh core-1 sudo reboot\n"),
    (
        "/srv/app/comment.sh",
        "#!/bin/sh\n# reboot when done\necho done\n",
    ),
    (
        "/srv/app/echo.sh",
        "#!/bin/sh\necho 'reboot in 5 minutes'\n",
    ),
    (
        "/home/u/.bashrc",
        "alias ll='ls -l'\nexport PS1='$ '\n[ -f ~/.bash_aliases ] && . ~/.bash_aliases\n",
    ),
    ("/home/u/.bash_aliases", "alias k=kubectl\n"),
    ("/srv/app/d1.sh", "bash /srv/app/d2.sh\n"),
    ("/srv/app/d2.sh", "bash /srv/app/d3.sh\n"),
    ("/srv/app/d3.sh", "bash /srv/app/d4.sh\n"),
    ("/srv/app/d4.sh", "bash /srv/app/d5.sh\n"),
    ("/srv/app/d5.sh", "bash /srv/app/d6.sh\n"),
    ("/srv/app/d6.sh", "bash /srv/app/d7.sh\n"),
    ("/srv/app/d7.sh", "bash /srv/app/d8.sh\n"),
    ("/srv/app/d8.sh", "bash /srv/app/d9.sh\n"),
    ("/srv/app/d9.sh", "echo deep\n"),
    (
        "/srv/app/gradlew",
        "#!/bin/sh\nJAVACMD=$JAVA_HOME/bin/java\nexec \"$JAVACMD\" -jar app.jar \"$@\"\n",
    ),
    ("/srv/app/wrap.sh", "#!/bin/sh\nexec \"$@\"\n"),
];

/// The files of [`FILES`], and the special cases a map cannot hold.
struct Files(BTreeMap<String, String>);

impl ScriptSource for Files {
    fn read(&self, path: &str) -> ScriptText {
        if path.contains("secret") {
            return ScriptText::Unreadable("permission denied".into());
        }
        if path.starts_with("/usr/local/bin/") {
            return ScriptText::Binary;
        }
        if path.contains("big") {
            let first_line = if path.ends_with(".py") {
                "#!/usr/bin/python3"
            } else {
                "#!/bin/sh"
            };
            return ScriptText::TooLarge {
                limit: 256 * 1024,
                first_line: first_line.into(),
            };
        }
        self.0.read(path)
    }
}

fn files() -> Files {
    Files(
        FILES
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
    )
}

/// The context of a row: its directory, its variables, home `/home/u`
/// unless `HOME` says otherwise, and the files.
fn place<'a>(cwd: &str, vars: &str, files: &'a Files) -> LineContext<'a> {
    let vars: std::collections::HashMap<String, String> = vars
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("NAME=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    LineContext {
        cwd: (cwd != "-").then(|| cwd.to_string()),
        home: Some(
            vars.get("HOME")
                .cloned()
                .unwrap_or_else(|| "/home/u".into()),
        ),
        vars,
        vars_complete: false,
        scripts: Some(files),
    }
}

/// `host:core-1`, `hosts:a,b`, … as in the expectations.
fn show_target(t: &Target) -> String {
    let kind = match t {
        Target::Local => return "local".into(),
        Target::Host(_) => "host",
        Target::Hosts(_) => "hosts",
        Target::Cluster(_) => "cluster",
        Target::Unknown(_) => "unknown",
    };
    format!("{kind}:{}", t.names().join(","))
}

fn describe(v: &Verdict) -> String {
    let findings: Vec<String> = v
        .findings
        .iter()
        .map(|f| format!("{}({}, @{})", f.rule, f.risk, show_target(&f.target)))
        .collect();
    format!("{} {} [{}]", v.action, v.risk, findings.join(", "))
}

/// What went wrong with one row, or `None`.
fn check_row(rules: &RuleSet, row: &Row, files: &Files) -> Option<String> {
    let (_, cwd, vars, line, expect) = *row;
    let place = place(cwd, vars, files);
    let script = match parse_line_in(line, &place) {
        Ok(s) => s,
        Err(e) => return Some(format!("expected a verdict, got the error: {e}")),
    };
    let v = classify(&script, rules);
    let mut words = expect.split_whitespace();
    let target = expect.split_whitespace().find_map(|w| w.strip_prefix('@'));
    let mut words_no_target = words.by_ref().filter(|w| !w.starts_with('@'));
    let action = match words_no_target.next() {
        Some("allow") => Action::Allow,
        Some("confirm") => Action::Confirm,
        Some("deny") => Action::Deny,
        other => panic!("bad action in {expect:?}: {other:?}"),
    };
    let risk = match words_no_target.next() {
        None | Some("*") => None,
        Some(r) => Some(Risk::parse(r).unwrap_or_else(|| panic!("bad risk in {expect:?}"))),
    };
    let rule = words_no_target.next();
    let mut problems = Vec::new();
    if v.action != action || risk.is_some_and(|r| r != v.risk) {
        problems.push(format!("expected {expect}"));
    }
    let found = rule.and_then(|r| v.findings.iter().find(|f| f.rule == r));
    if let Some(rule) = rule
        && found.is_none()
    {
        problems.push(format!("expected a finding of rule {rule}"));
    }
    if let Some(want) = target {
        let got = match (found, rule) {
            (Some(f), _) => Some(show_target(&f.target)),
            (None, None) => script
                .commands
                .last()
                .map(|c| show_target(&c.context.target)),
            (None, Some(_)) => None,
        };
        if let Some(got) = got
            && got != want
        {
            problems.push(format!("expected the target {want}, got {got}"));
        }
    }
    (!problems.is_empty()).then(|| format!("{}; got {}", problems.join(" and "), describe(&v)))
}

fn all_rows() -> impl Iterator<Item = (&'static str, &'static Row)> {
    PLACES
        .iter()
        .map(|r| ("places", r))
        .chain(SCRIPTS.iter().map(|r| ("scripts", r)))
        .chain(TARGETS.iter().map(|r| ("targets", r)))
}

#[test]
fn every_line_gets_the_expected_verdict_where_it_runs() {
    let rules = RuleSet::builtin();
    let files = files();
    let mut failures = Vec::new();
    for (table, row) in all_rows() {
        if let Some(problem) = check_row(&rules, row, &files) {
            failures.push(format!("[{table}] {}: {:?}\n    {problem}", row.0, row.3));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} lines went wrong:\n{}",
        failures.len(),
        all_rows().count(),
        failures.join("\n")
    );
}

#[test]
fn the_table_is_big_half_silent_and_its_names_are_unique() {
    let mut names = HashSet::new();
    let mut silent = 0;
    for (table, row) in all_rows() {
        assert!(names.insert((table, row.0)), "duplicate name {:?}", row.0);
        silent += usize::from(row.4.starts_with("allow"));
    }
    let total = all_rows().count();
    assert!(total >= 150, "{total} rows");
    assert!(silent * 100 / total >= 45, "{silent} of {total} silent");
}

#[test]
fn without_a_context_relative_paths_stay_relative_as_before() {
    // `check` passes an empty context: nothing resolved, no script read.
    let rules = RuleSet::builtin();
    let empty = LineContext::default();
    for line in [
        "rm -rf usr",
        "rm -rf docker",
        "bash reboot.sh",
        "./reboot.sh",
    ] {
        let v = classify(&parse_line_in(line, &empty).unwrap(), &rules);
        assert_eq!(v.action, Action::Allow, "{line}: {}", describe(&v));
    }
    let v = classify(
        &parse_line_in("rm -rf /tmp/../etc", &empty).unwrap(),
        &rules,
    );
    assert_eq!(v.risk, Risk::Critical, "normalising needs no context");
}

#[test]
fn commands_inside_a_substitution_keep_their_own_place_in_a_script() {
    let text = "echo a\nx=$(reboot)\ny=\"$(\n  ls\n  halt\n)\"\nz=`poweroff`\n";
    let script = parse_script_in(text, &LineContext::default()).unwrap();
    let line_of = |program: &str| {
        let c = script
            .commands
            .iter()
            .find(|c| c.program() == Some(program))
            .unwrap_or_else(|| panic!("{program} not found"));
        text[..c.span.0].matches('\n').count() + 1
    };
    assert_eq!(line_of("reboot"), 2);
    assert_eq!(line_of("halt"), 5);
    assert_eq!(line_of("poweroff"), 7);
}

#[test]
fn function_bodies_of_a_script_are_checked_where_they_are_defined() {
    let text = "cleanup() {\n  rm -rf /etc\n}\n\nhandlers[x]=cleanup\necho ok\n";
    let script = parse_script_in(text, &LineContext::default()).unwrap();
    let rm = script
        .commands
        .iter()
        .find(|c| c.program() == Some("rm"))
        .expect("the body is checked though never called by name");
    assert_eq!(&text[rm.span.0..rm.span.1], "rm -rf /etc");
    // A call reports nothing twice, and a fork bomb is still one.
    let called = parse_script_in("f() { reboot; }\nf\nf\n", &LineContext::default()).unwrap();
    assert_eq!(called.commands.len(), 1, "{:?}", called.commands);
    let recursive = |text: &str| {
        parse_script_in(text, &LineContext::default())
            .unwrap()
            .commands
            .iter()
            .any(|c| c.context.via.iter().any(|v| v == "recursive-function"))
    };
    assert!(recursive(":(){ :|:& };:"));
    assert!(
        recursive("a() { b & b; }\nb() { a; }\na\n"),
        "mutual, defined later"
    );
    assert!(recursive("f(){ f|f; }"), "never called, still a fork bomb");
    assert!(!recursive(
        "walk() { for d in \"$1\"/*; do [ -d \"$d\" ] && walk \"$d\"; done; }\nwalk /srv\n"
    ));
    assert!(!recursive("a() { [ -n \"$1\" ] && b & }\nb() { a; }\n"));
}

#[test]
fn a_default_is_what_runs_when_the_whole_environment_is_known() {
    let rules = RuleSet::builtin();
    let judged = |line: &str, complete: bool| {
        let place = LineContext {
            cwd: Some("/home/u".into()),
            home: Some("/home/u".into()),
            vars: [("HOME", "/home/u"), ("TOOL", "ls")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            vars_complete: complete,
            scripts: None,
        };
        classify(&parse_line_in(line, &place).unwrap(), &rules)
    };
    // `-c` knows every variable: an unset one's default is what runs.
    let v = judged("${NOPE:-reboot}", true);
    assert_eq!(
        (v.action, v.risk),
        (Action::Confirm, Risk::High),
        "{}",
        describe(&v)
    );
    assert!(
        v.findings.iter().any(|f| f.rule == "power-reboot"),
        "{}",
        describe(&v)
    );
    let v = judged("${PAGER_CMD:-echo} hi", true);
    assert_eq!(v.action, Action::Allow, "{}", describe(&v));
    // A set variable is its value, not its default.
    let v = judged("${TOOL:-reboot} -l", true);
    assert_eq!(v.action, Action::Allow, "{}", describe(&v));
    // Not knowing every variable (the interactive shell), it stays unknown.
    let v = judged("${NOPE:-echo} hi", false);
    assert!(
        v.findings.iter().any(|f| f.rule == "misc-dynamic-program"),
        "{}",
        describe(&v)
    );
    // Set earlier in the line: unknown value, not the default.
    let v = judged("read NOPE; ${NOPE:-echo} hi", true);
    assert!(
        v.findings.iter().any(|f| f.rule == "misc-dynamic-program"),
        "{}",
        describe(&v)
    );
    // On another host nothing of this environment holds.
    let v = judged("ssh web1 '${NOPE:-echo} hi'", true);
    assert!(
        v.findings.iter().any(|f| f.rule == "misc-dynamic-program"),
        "{}",
        describe(&v)
    );
    // A default that is itself an expansion stays unknown.
    let v = judged("${NOPE:-$(pick)} hi", true);
    assert_ne!(v.action, Action::Allow, "{}", describe(&v));
    // Set by means the walk does not follow: never taken as unset.
    for line in [
        "printf -v NOPE reboot; ${NOPE:-echo} hi",
        "(( NOPE = 1 )); ${NOPE:-echo} hi",
        "declare -n NOPE=TOOL; ${NOPE:-echo} hi",
        "f() { printf -v NOPE reboot; }; f; ${NOPE:-echo} hi",
    ] {
        let v = judged(line, true);
        assert_ne!(v.action, Action::Allow, "{line}: {}", describe(&v));
    }
}

#[test]
fn a_whole_script_is_judged_as_running_it_would_judge_it() {
    let rules = RuleSet::builtin();
    let text =
        "#!/bin/sh\ndoit=${DOITPROG-}\nAWK=${AWK-awk}\n$doit touch \"$1\"\n$AWK '{print}' x\n";
    let files = Files([("/srv/app/install.sh".to_string(), text.to_string())].into());
    let whole = classify(
        &parse_script_in(text, &LineContext::default()).unwrap(),
        &rules,
    );
    let run = classify(
        &parse_line_in("sh /srv/app/install.sh", &place("/srv/app", "", &files)).unwrap(),
        &rules,
    );
    assert_eq!(
        whole.action,
        Action::Allow,
        "check --file: {}",
        describe(&whole)
    );
    assert_eq!(run.action, whole.action, "sh FILE: {}", describe(&run));
    // What the script was given stays unknown either way.
    let given = classify(
        &parse_script_in("#!/bin/sh\n\"$1\" --now\n", &LineContext::default()).unwrap(),
        &rules,
    );
    assert_eq!(given.action, Action::Confirm, "{}", describe(&given));
}

// --- The binary: the confirmation asks for what is acted on. ---

const TIMEOUT: Duration = Duration::from_secs(10);
const REASON: &str = "CHG-77 reboot core-1 after the kernel patch";
const REMOTE_REBOOT: &str = "ssh core-1 sudo reboot";

type Pty = expectrl::session::OsSession;

/// An environment whose `ssh` and `reboot` are fakes that leave a marker.
fn fake_remote() -> Env {
    let env = Env::new();
    env.fake_marked("ssh");
    env.fake_marked("reboot");
    env
}

fn spawn_pty(env: &Env, args: &[&str]) -> Pty {
    let cmd = env.bare_command(args);
    let mut session =
        crate::common::bin::without_forks(|| Session::spawn(cmd)).expect("spawn safe-run on a pty");
    session.set_expect_timeout(Some(TIMEOUT));
    session
}

/// Waits until the prompt reads a key at a time, so typing is not flushed.
fn wait_until_reading(session: &Pty) {
    let ready = wait_for(TIMEOUT, || {
        let t = termios::tcgetattr(session.get_stream()).ok()?;
        (!t.local_flags.contains(LocalFlags::ICANON)).then_some(())
    });
    assert!(
        ready.is_some(),
        "the prompt never started reading the terminal"
    );
}

#[track_caller]
fn expect_text(session: &mut Pty, text: &str) -> String {
    match session.expect(text) {
        Ok(found) => String::from_utf8_lossy(found.before()).into_owned(),
        Err(e) => panic!("did not see {text:?}: {e}"),
    }
}

fn exit_code(session: &Pty) -> i32 {
    let status = wait_for(TIMEOUT, || match session.get_process().status() {
        Ok(WaitStatus::StillAlive) => None,
        Ok(s) => Some(s),
        Err(e) => panic!("waitpid: {e}"),
    });
    match status {
        Some(WaitStatus::Exited(_, code)) => code,
        other => panic!("safe-run did not exit normally: {other:?}"),
    }
}

#[test]
fn a_remote_reboot_asks_for_the_remote_host_and_the_local_name_does_not_run_it() {
    let env = fake_remote();
    let mut s = spawn_pty(&env, &["-c", REMOTE_REBOOT]);
    let before = expect_text(&mut s, "Type core-1");
    assert!(
        before.contains("This acts on host core-1, not on this host"),
        "the question says where it acts: {before}"
    );
    assert!(before.contains("power-reboot"), "{before}");
    wait_until_reading(&s);
    s.send(format!("{}\r", short_host()))
        .expect("type the local name");
    expect_text(&mut s, "Nothing was run");
    assert_eq!(exit_code(&s), 1);
    assert!(
        !env.ran("ssh"),
        "ssh ran after the local host name was typed"
    );
    assert_eq!(env.last_decision()["decision"], "aborted");
}

#[test]
fn a_remote_reboot_runs_after_the_remote_name_and_a_reason() {
    let env = fake_remote();
    let mut s = spawn_pty(&env, &["-c", REMOTE_REBOOT]);
    expect_text(&mut s, "Type core-1");
    wait_until_reading(&s);
    s.send("core-1\r").expect("type the remote name");
    expect_text(&mut s, "Reason (");
    wait_until_reading(&s);
    s.send(format!("{REASON}\r")).expect("type the reason");
    expect_text(&mut s, "FAKE-ssh core-1 sudo reboot");
    assert_eq!(exit_code(&s), 0);
    assert!(
        env.ran("ssh") && !env.ran("reboot"),
        "only the fake ssh ran"
    );
    assert_eq!(env.last_decision()["decision"], "confirmed");
}

#[test]
fn confirm_flags_name_the_remote_host_too() {
    let env = fake_remote();
    let local = short_host();
    let refused = env.run(&["--reason", REASON, "--confirm", &local, "-c", REMOTE_REBOOT]);
    refused.expect_status(77);
    assert!(
        refused.stderr.contains("--confirm core-1") && refused.stderr.contains("on host core-1"),
        "{}",
        refused.stderr
    );
    assert!(!env.ran("ssh"));
    let loop_line = "for h in a b; do ssh $h reboot; done";
    let asked = env.run(&["-c", loop_line]);
    asked.expect_status(77);
    assert!(asked.stderr.contains("--confirm 'a b'"), "{}", asked.stderr);
    env.run(&["--reason", REASON, "--confirm", "a b", "-c", loop_line])
        .expect_status(0);
    assert!(env.ran("ssh"));
    let env = fake_remote();
    env.run(&[
        "--reason",
        REASON,
        "--confirm",
        "core-1",
        "-c",
        REMOTE_REBOOT,
    ])
    .expect_status(0);
    assert!(env.ran("ssh"));
}

#[test]
fn a_script_the_line_runs_is_read_from_the_working_directory() {
    let env = Env::new();
    env.fake_marked("reboot");
    write_file(
        &env.path().join("deploy.sh"),
        b"#!/bin/sh\necho deploying\nreboot\n",
        0o755,
    );
    for line in ["bash deploy.sh", "./deploy.sh", ". ./deploy.sh"] {
        let run = env.run(&["-c", line]);
        run.expect_status(77);
        assert!(
            run.stderr.contains("power-reboot"),
            "{line}: {}",
            run.stderr
        );
    }
    assert!(!env.ran("reboot"));
    write_file(&env.path().join("ok.sh"), b"echo fine\n", 0o755);
    let run = env.run(&["-c", "bash ok.sh"]);
    run.expect_status(0);
    assert!(run.stdout.contains("fine"), "{}", run.stdout);
    // `--` runs no shell, and still reads the script it is given.
    env.run(&["--", "sh", "deploy.sh"]).expect_status(77);
}

#[test]
fn a_fifo_named_as_a_script_is_a_finding_not_a_hang() {
    let env = Env::new();
    let fifo = env.path().join("fifo.sh");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let started = std::time::Instant::now();
    let run = env.run(&["-c", "bash fifo.sh"]);
    run.expect_status(77);
    assert!(
        run.stderr.contains("shell-unreadable-script"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < TIMEOUT, "waited on the FIFO");
}
