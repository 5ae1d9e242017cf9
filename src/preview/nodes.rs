//! `kubectl get nodes` (or `oc get nodes`) before a reboot, a drain or a
//! stop of the kubelet or the container runtime: the node's peers and their
//! state, and above all whether this node is the last Ready one of its
//! group — "the other two nodes of this cluster are NotReady; rebooting
//! this one takes the cluster down".
//!
//! The node in question is the drain's target for `kubectl drain NODE`,
//! and this host otherwise (the policy's host name; a node matches by its
//! name or its short name). Its group is the control-plane nodes when it is
//! one (role `control-plane` or `master`), else the other nodes; without a
//! ROLES column, the whole cluster.

use super::fact::{Context, Fact, Value, number_word, plural, program, short_name, some_of};

/// kubectl/oc flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "-n",
    "--namespace",
    "--context",
    "--cluster",
    "--user",
    "--kubeconfig",
    "--config",
    "-l",
    "--selector",
    "--pod-selector",
    "-o",
    "--output",
    "-s",
    "--server",
    "--token",
    "--as",
    "--as-group",
    "--grace-period",
    "--timeout",
    "--request-timeout",
    "--skip-wait-for-delete-timeout",
    "--chunk-size",
    "--certificate-authority",
    "--client-certificate",
    "--client-key",
    "-v",
    "--v",
];

#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    name: String,
    status: String,
    roles: Option<String>,
}

impl Node {
    fn ready(&self) -> bool {
        self.status.split(',').any(|s| s == "Ready")
    }

    fn cordoned(&self) -> bool {
        self.status.split(',').any(|s| s == "SchedulingDisabled")
    }

    fn control_plane(&self) -> bool {
        self.roles.as_deref().is_some_and(|r| {
            r.split(',')
                .any(|role| role == "control-plane" || role == "master")
        })
    }

    fn is(&self, name: &str) -> bool {
        !name.is_empty()
            && (self.name == name
                || short_name(&self.name) == name
                || self.name == short_name(name)
                || short_name(&self.name) == short_name(name))
    }
}

/// Is this a klog line (`E1206 01:29:14.925134 …`)?
fn klog(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 5
        && matches!(b[0], b'E' | b'W' | b'I' | b'F')
        && b[1..5].iter().all(u8::is_ascii_digit)
}

fn parse(text: &str) -> Result<Vec<Node>, String> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("NAME "));
    let Some(header) = lines.next() else {
        let why = text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty() && !klog(l))
            .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("no node table");
        return Err(format!("kubectl could not list the nodes: {why}"));
    };
    let cols: Vec<&str> = header.split_whitespace().collect();
    let status = cols
        .iter()
        .position(|c| *c == "STATUS")
        .ok_or("the node table has no STATUS column")?;
    let roles = cols.iter().position(|c| *c == "ROLES");
    let mut nodes = Vec::new();
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() <= status || klog(line) {
            continue;
        }
        nodes.push(Node {
            name: words[0].to_string(),
            status: words[status].to_string(),
            roles: roles.and_then(|r| words.get(r)).map(|r| (*r).to_string()),
        });
    }
    if nodes.is_empty() {
        return Err("the node table is empty".to_string());
    }
    Ok(nodes)
}

/// What the command does to the node, and which node.
struct Act {
    /// `rebooting`, `draining`, `stopping the kubelet on` …
    doing: String,
    /// The drain's target, or `None` for this host.
    target: Option<String>,
    drain: bool,
}

fn act(command: &[String]) -> Act {
    let prog = program(command);
    let args: Vec<&str> = command.iter().skip(1).map(String::as_str).collect();
    let has = |w: &str| args.contains(&w);
    let this = |doing: &str| Act {
        doing: doing.to_string(),
        target: None,
        drain: false,
    };
    match prog {
        "kubectl" | "oc" => {
            let mut skip = false;
            let mut after_drain = false;
            for a in &args {
                if skip {
                    skip = false;
                    continue;
                }
                if a.starts_with('-') {
                    skip = VALUE_FLAGS.contains(a) && !a.contains('=');
                    continue;
                }
                if after_drain {
                    return Act {
                        doing: "draining".into(),
                        target: Some((*a).to_string()),
                        drain: true,
                    };
                }
                after_drain = *a == "drain";
            }
            this("draining")
        }
        "reboot" => this("rebooting"),
        "poweroff" | "halt" => this("powering off"),
        "shutdown" if has("-r") || has("--reboot") => this("rebooting"),
        "shutdown" => this("powering off"),
        "init" | "telinit" if has("6") => this("rebooting"),
        "init" | "telinit" => this("powering off"),
        "kexec" => this("rebooting"),
        _ => {
            // systemctl reboot, systemctl start poweroff.target, service
            // kubelet stop, /etc/init.d/docker restart …
            let units: Vec<&str> = args
                .iter()
                .map(|a| a.trim_end_matches(".target").trim_end_matches(".service"))
                .collect();
            let any = |names: &[&str]| units.iter().any(|u| names.contains(u));
            if any(&["reboot", "kexec", "soft-reboot"]) {
                return this("rebooting");
            }
            if any(&["poweroff", "halt"]) {
                return this("powering off");
            }
            if any(&["rescue", "emergency"]) {
                return this("taking to rescue mode");
            }
            let stop = any(&[
                "stop",
                "kill",
                "mask",
                "disable",
                "freeze",
                "force-stop",
                "zap",
            ]);
            let verb = if stop { "stopping" } else { "restarting" };
            if any(&["kubelet"]) {
                this(&format!("{verb} the kubelet on"))
            } else if any(&["docker", "containerd", "crio", "cri-o", "podman"])
                || matches!(prog, "docker" | "containerd")
            {
                this(&format!("{verb} the container runtime on"))
            } else {
                this("running this command on")
            }
        }
    }
}

pub fn summarise(text: &str, command: &[String], ctx: &Context) -> Result<Vec<Fact>, String> {
    let nodes = parse(text)?;
    let act = act(command);
    let wanted = act.target.as_deref().unwrap_or(ctx.host);
    let mut facts = Vec::new();
    let ready = nodes.iter().filter(|n| n.ready()).count();
    let not_ready: Vec<String> = nodes
        .iter()
        .filter(|n| !n.ready())
        .map(|n| format!("{} ({})", n.name, n.status))
        .collect();
    facts.push(
        Fact::plain(format!(
            "{} in this cluster: {ready} Ready{}",
            plural(nodes.len(), "node", "nodes"),
            if not_ready.is_empty() {
                String::new()
            } else {
                format!(", not Ready: {}", some_of(&not_ready, 4))
            }
        ))
        .with("nodes", Value::Count(nodes.len() as u64))
        .with("ready", Value::Count(ready as u64))
        .with("not_ready", Value::List(not_ready)),
    );
    let who = match &act.target {
        Some(t) => format!("node {t}"),
        None => format!("this host ({})", short_name(ctx.host)),
    };
    let Some(me) = nodes.iter().find(|n| n.is(wanted)) else {
        facts.push(
            Fact::plain(format!(
                "{who} is not in this list: kubectl may be talking to another cluster"
            ))
            .with("node", Value::Text("not listed".into())),
        );
        return Ok(facts);
    };
    let group_word = if me.control_plane() {
        "control-plane nodes"
    } else if me.roles.is_some() && nodes.iter().any(Node::control_plane) {
        "worker nodes"
    } else {
        "nodes of this cluster"
    };
    let peers: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.name != me.name)
        .filter(|n| me.roles.is_none() || n.control_plane() == me.control_plane())
        .collect();
    let usable = |n: &Node| n.ready() && !(act.drain && n.cordoned());
    let usable_peers = peers.iter().filter(|n| usable(n)).count();
    let node = Value::Text(me.name.clone());
    if !me.ready() {
        facts.push(
            Fact::plain(format!("{} is already {}", me.name, me.status))
                .with("node", node)
                .with("last_ready", Value::Flag(false)),
        );
        return Ok(facts);
    }
    let consequence = if act.drain {
        "draining it leaves its pods no node to run on".to_string()
    } else if me.control_plane() {
        format!(
            "{} this one takes the cluster's control plane down",
            act.doing
        )
    } else if group_word == "worker nodes" {
        format!(
            "{} this one leaves the workloads no node to run on",
            act.doing
        )
    } else {
        format!("{} this one takes the cluster down", act.doing)
    };
    if peers.is_empty() {
        facts.push(
            Fact::loud(format!(
                "{} is the only one of its {group_word}: {consequence}",
                me.name
            ))
            .with("node", node)
            .with("last_ready", Value::Flag(true)),
        );
    } else if usable_peers == 0 {
        let states: Vec<&str> = peers.iter().map(|n| n.status.as_str()).collect();
        let state = if states.iter().all(|s| *s == states[0]) {
            states[0].to_string()
        } else if act.drain {
            "not Ready or cordoned".to_string()
        } else {
            "not Ready".to_string()
        };
        let others = if peers.len() == 1 {
            format!(
                "the other {} is",
                group_word
                    .trim_end_matches('s')
                    .replace("nodes of", "node of")
            )
        } else {
            format!("the other {} {group_word} are", number_word(peers.len()))
        };
        facts.push(
            Fact::loud(format!("{others} {state}; {consequence}"))
                .with("node", node)
                .with("last_ready", Value::Flag(true)),
        );
    } else {
        facts.push(
            Fact::plain(format!(
                "{} of the other {} {group_word} {} Ready",
                usable_peers,
                peers.len(),
                if usable_peers == 1 { "is" } else { "are" }
            ))
            .with("node", node)
            .with("last_ready", Value::Flag(false)),
        );
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::fact::{Level, fixture};

    fn run(text: &str, command: &str, host: &str) -> Result<Vec<Fact>, String> {
        let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        let ctx = Context {
            host,
            ..Context::default()
        };
        summarise(&fixture(text), &argv, &ctx)
    }

    const READY: &str = include_str!("../../tests/fixtures/previews/kubectl-get-nodes-ready.txt");

    #[test]
    fn a_healthy_cluster_is_one_plain_line_and_the_peers_count() {
        let facts = run(READY, "reboot", "ncn-m002.example.com").unwrap();
        assert!(facts.iter().all(|f| f.level == Level::Plain), "{facts:#?}");
        assert_eq!(facts[0].text, "6 nodes in this cluster: 6 Ready");
        assert_eq!(
            facts[1].text,
            "2 of the other 2 control-plane nodes are Ready"
        );
        let facts = run(
            READY,
            "kubectl drain ncn-w003 --ignore-daemonsets",
            "elsewhere",
        )
        .unwrap();
        assert_eq!(facts[1].text, "2 of the other 2 worker nodes are Ready");
    }

    #[test]
    fn this_host_missing_from_the_list_is_said() {
        let facts = run(READY, "reboot", "db-7").unwrap();
        assert_eq!(
            facts[1].text,
            "this host (db-7) is not in this list: kubectl may be talking to another cluster"
        );
    }

    #[test]
    fn the_last_ready_node_is_loud() {
        // The table kubectl prints (columns as in the fixtures), with this
        // node Ready and its two peers NotReady.
        let text = "NAME     STATUS     ROLES           AGE   VERSION\n\
                    node-1   Ready      control-plane   90d   v1.29.4\n\
                    node-2   NotReady   control-plane   90d   v1.29.4\n\
                    node-3   NotReady   control-plane   90d   v1.29.4\n";
        let facts = run(text, "reboot", "node-1.prod").unwrap();
        assert_eq!(facts[0].level, Level::Plain);
        assert_eq!(
            facts[0].text,
            "3 nodes in this cluster: 1 Ready, not Ready: node-2 (NotReady), node-3 (NotReady)"
        );
        assert_eq!(facts[1].level, Level::Loud);
        assert_eq!(
            facts[1].text,
            "the other two control-plane nodes are NotReady; rebooting this one takes the cluster's control plane down"
        );
        let facts = run(text, "systemctl stop kubelet", "node-1").unwrap();
        assert!(
            facts[1].text.ends_with(
                "stopping the kubelet on this one takes the cluster's control plane down"
            )
        );
        let facts = run(text, "reboot", "node-2").unwrap();
        assert_eq!(facts[1].text, "node-2 is already NotReady");
        let facts = run(text, "systemctl start poweroff.target", "node-1").unwrap();
        assert!(
            facts[1]
                .text
                .ends_with("powering off this one takes the cluster's control plane down")
        );
        let facts = run(text, "/etc/init.d/docker restart", "node-1").unwrap();
        assert!(facts[1].text.ends_with(
            "restarting the container runtime on this one takes the cluster's control plane down"
        ));
    }

    #[test]
    fn kubectl_errors_are_not_summarised_and_say_why() {
        let err = run(
            include_str!("../../tests/fixtures/previews/kubectl-get-nodes-no-cluster.txt"),
            "reboot",
            "core-1",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "kubectl could not list the nodes: The connection to the server localhost:8080 was refused - did you specify the right host or port?"
        );
        let err = run(
            include_str!("../../tests/fixtures/previews/kubectl-get-nodes-unauthorized.txt"),
            "reboot",
            "core-1",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "kubectl could not list the nodes: error: You must be logged in to the server (Unauthorized)"
        );
    }
}
