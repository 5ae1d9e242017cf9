//! Database failovers and stops: `patronictl list` and `pg_lsclusters`
//! read against the command that was hit — the current leader, the
//! replicas and their lag, and whether this node is the leader.
//!
//! `patronictl list` prints a table whose columns changed over the years
//! (`Lag in MB`; later `Receive LSN | Lag | Replay LSN | Lag`; an optional
//! `Group` for Citus, `Tags` over several rows), so columns are found by
//! their header. `pg_lsclusters` lists the clusters of this host, a
//! standby showing as `online,recovery`.

use super::fact::{Context, Fact, Value, short_name, some_of};

// ------------------------------------------------------------ pg_lsclusters

#[derive(Debug, PartialEq, Eq)]
struct Cluster {
    version: String,
    name: String,
    status: String,
}

impl Cluster {
    fn id(&self) -> String {
        format!("{}/{}", self.version, self.name)
    }
    fn online(&self) -> bool {
        self.status.split(',').any(|s| s == "online")
    }
    fn standby(&self) -> bool {
        self.status.split(',').any(|s| s == "recovery")
    }
}

fn parse_clusters(text: &str) -> Result<Vec<Cluster>, String> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("Ver "));
    if lines.next().is_none() {
        let why = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no cluster table");
        return Err(format!("pg_lsclusters printed no cluster table: {why}"));
    }
    Ok(lines
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 4).then(|| Cluster {
                version: w[0].to_string(),
                name: w[1].to_string(),
                status: w[3].to_string(),
            })
        })
        .collect())
}

/// The `VERSION NAME` (or `VERSION/NAME`) a pg_ctlcluster command names.
fn target_cluster(command: &[String]) -> Option<(String, String)> {
    let words: Vec<&str> = command
        .iter()
        .skip(1)
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    match words.as_slice() {
        [v, n, ..] if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !n.contains('/') => {
            Some(((*v).to_string(), (*n).to_string()))
        }
        [vn, ..] => vn
            .split_once('/')
            .map(|(v, n)| (v.to_string(), n.to_string())),
        [] => None,
    }
}

pub fn summarise_pg_lsclusters(
    text: &str,
    command: &[String],
    _ctx: &Context,
) -> Result<Vec<Fact>, String> {
    let clusters = parse_clusters(text)?;
    let mut facts = Vec::new();
    let primaries: Vec<String> = clusters
        .iter()
        .filter(|c| c.online() && !c.standby())
        .map(Cluster::id)
        .collect();
    let standbys: Vec<String> = clusters
        .iter()
        .filter(|c| c.standby())
        .map(|c| format!("{} ({})", c.id(), c.status))
        .collect();
    let wanted = target_cluster(command);
    let target = wanted
        .as_ref()
        .and_then(|(v, n)| clusters.iter().find(|c| &c.version == v && &c.name == n));
    if let Some((v, n)) = &wanted
        && target.is_none()
    {
        facts.push(
            Fact::loud(format!(
                "pg_lsclusters lists no cluster {v}/{n} on this host"
            ))
            .with("cluster", Value::Text(format!("{v}/{n} not listed"))),
        );
    }
    if let Some(c) = target {
        let leader = c.online() && !c.standby();
        let f = if leader {
            Fact::loud(format!(
                "{} is a primary (online, not in recovery): this host is its leader, and stopping it stops every write to it",
                c.id()
            ))
        } else if c.standby() {
            Fact::plain(format!(
                "{} is a standby ({}): not the leader",
                c.id(),
                c.status
            ))
        } else {
            Fact::plain(format!("{} is already {}", c.id(), c.status))
        };
        facts.push(
            f.with("cluster", Value::Text(c.id()))
                .with("this_node_leader", Value::Flag(leader)),
        );
    }
    facts.push(
        Fact::plain(format!(
            "on this host: {} cluster(s); primaries: {}; standbys: {}",
            clusters.len(),
            if primaries.is_empty() {
                "none".to_string()
            } else {
                some_of(&primaries, 4)
            },
            if standbys.is_empty() {
                "none".to_string()
            } else {
                some_of(&standbys, 4)
            }
        ))
        .with("primaries", Value::List(primaries))
        .with("standbys", Value::List(standbys)),
    );
    Ok(facts)
}

// ------------------------------------------------------------ patronictl list

#[derive(Clone, Debug, PartialEq)]
struct Member {
    name: String,
    host: String,
    role: String,
    state: String,
    /// Replication lag in MB; `None` when unknown or not shown (the leader).
    lag: Option<f64>,
    lag_text: String,
}

impl Member {
    fn leader(&self) -> bool {
        self.role == "Leader" || self.role == "Standby Leader"
    }
    fn healthy(&self) -> bool {
        matches!(self.state.as_str(), "running" | "streaming")
    }
}

/// Splits a `| a | b |` row into trimmed cells.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

fn parse_members(text: &str) -> Result<(Vec<Member>, bool), String> {
    let header_at = text
        .lines()
        .position(|l| l.trim_start().starts_with('|') && l.contains("Member") && l.contains("Role"))
        .ok_or_else(|| {
            let why = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no member table");
            format!("patronictl printed no member table: {why}")
        })?;
    let lines: Vec<&str> = text.lines().collect();
    let header = cells(lines[header_at]);
    let at = |name: &str| header.iter().position(|h| h == name);
    let (Some(member), Some(role), Some(state)) = (at("Member"), at("Role"), at("State")) else {
        return Err("the member table lacks Member, Role or State".to_string());
    };
    let host = at("Host");
    let lag_cols: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.as_str() == "Lag in MB" || h.as_str() == "Lag")
        .map(|(i, _)| i)
        .collect();
    let mut members: Vec<Member> = Vec::new();
    let mut paused = false;
    for line in &lines[header_at + 1..] {
        let t = line.trim();
        if t.contains("Maintenance mode: on") {
            paused = true;
        }
        if !t.starts_with('|') {
            continue;
        }
        let c = cells(line);
        let get = |i: usize| c.get(i).cloned().unwrap_or_default();
        if get(member).is_empty() {
            continue; // a continuation row (tags over several rows)
        }
        let lag_texts: Vec<String> = lag_cols.iter().map(|i| get(*i)).collect();
        let unknown = lag_texts.iter().any(|l| l == "unknown");
        let lag = if unknown {
            None
        } else {
            lag_texts
                .iter()
                .filter_map(|l| l.parse::<f64>().ok())
                .reduce(f64::max)
        };
        let role = get(role);
        members.push(Member {
            name: get(member),
            host: host.map(get).unwrap_or_default(),
            // patronictl 1.6 left the role of a replica empty.
            role: if role.is_empty() {
                "Replica".to_string()
            } else {
                role
            },
            state: get(state),
            lag,
            lag_text: if unknown {
                "unknown".to_string()
            } else {
                lag.map_or_else(String::new, |l| format!("{l} MB"))
            },
        });
    }
    if members.is_empty() {
        return Err("the member table is empty".to_string());
    }
    Ok((members, paused))
}

/// `--candidate X` / `--candidate=X`.
fn flag_value<'a>(command: &'a [String], flag: &str) -> Option<&'a str> {
    let mut it = command.iter();
    while let Some(a) = it.next() {
        if a == flag {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
            return Some(v);
        }
    }
    None
}

pub fn summarise_patroni(
    text: &str,
    command: &[String],
    ctx: &Context,
) -> Result<Vec<Fact>, String> {
    let (members, paused) = parse_members(text)?;
    let verb = command
        .iter()
        .skip(1)
        .map(String::as_str)
        .find(|w| {
            matches!(
                *w,
                "failover" | "switchover" | "reinit" | "restart" | "remove"
            )
        })
        .unwrap_or("");
    let failover = verb == "failover";
    let mut facts = Vec::new();
    let leaders: Vec<&Member> = members.iter().filter(|m| m.leader()).collect();
    if leaders.is_empty() {
        facts.push(
            Fact::loud("no member is the leader: the cluster has no primary")
                .with("leader", Value::Text("none".into())),
        );
    } else {
        let shown: Vec<String> = leaders
            .iter()
            .map(|m| format!("{} ({})", m.name, m.state))
            .collect();
        let f = Fact::plain(format!("leader: {}", some_of(&shown, 4)));
        facts.push(f.with(
            "leader",
            Value::List(leaders.iter().map(|m| m.name.clone()).collect()),
        ));
    }
    let replicas: Vec<&Member> = members.iter().filter(|m| !m.leader()).collect();
    if !replicas.is_empty() {
        let shown: Vec<String> = replicas
            .iter()
            .map(|m| {
                let lag = if m.lag_text.is_empty() {
                    String::new()
                } else {
                    format!(", lag {}", m.lag_text)
                };
                format!("{} ({}{lag})", m.name, m.state)
            })
            .collect();
        let behind = replicas
            .iter()
            .any(|m| !m.healthy() || m.lag.is_none_or(|l| l > 0.0));
        let text = format!("replicas: {}", some_of(&shown, 4));
        let f = if behind && (failover || verb == "switchover") {
            Fact::loud(format!(
                "{text}; what a replica has not received is lost when it is promoted"
            ))
        } else if replicas.iter().any(|m| !m.healthy()) {
            Fact::loud(text)
        } else {
            Fact::plain(text)
        };
        facts.push(f.with("replicas", Value::List(shown)));
    }
    if let Some(candidate) = flag_value(command, "--candidate") {
        match members.iter().find(|m| m.name == candidate) {
            Some(m) if m.healthy() && m.lag == Some(0.0) => facts.push(
                Fact::plain(format!("candidate {} is {} with no lag", m.name, m.state))
                    .with("candidate", Value::Text(m.name.clone())),
            ),
            Some(m) => facts.push(
                Fact::loud(format!(
                    "candidate {} is {}, lag {}: promoting it may lose transactions",
                    m.name,
                    m.state,
                    if m.lag_text.is_empty() {
                        "not shown"
                    } else {
                        &m.lag_text
                    }
                ))
                .with("candidate", Value::Text(m.name.clone())),
            ),
            None => facts.push(Fact::loud(format!(
                "candidate {candidate} is not a member of this cluster"
            ))),
        }
    }
    let me = short_name(ctx.host);
    if let Some(m) = members.iter().find(|m| {
        !me.is_empty()
            && (short_name(&m.name) == me
                || short_name(m.host.split(':').next().unwrap_or("")) == me)
    }) {
        let f = if m.leader() {
            Fact::loud(format!("this host ({}) is the leader", m.name))
        } else {
            Fact::plain(format!(
                "this host ({}) is a {}",
                m.name,
                m.role.to_lowercase()
            ))
        };
        facts.push(f.with("this_node_leader", Value::Flag(m.leader())));
    }
    if paused {
        facts.push(
            Fact::loud(
                "the cluster is paused (maintenance mode): Patroni does not fail over on its own",
            )
            .with("paused", Value::Flag(true)),
        );
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::fact::{Level, fixture};

    fn argv(command: &str) -> Vec<String> {
        command.split_whitespace().map(str::to_string).collect()
    }

    fn loud(facts: &[Fact]) -> Vec<&str> {
        facts
            .iter()
            .filter(|f| f.level == Level::Loud)
            .map(|f| f.text.as_str())
            .collect()
    }

    fn pg(text: &str, command: &str) -> Result<Vec<Fact>, String> {
        summarise_pg_lsclusters(&fixture(text), &argv(command), &Context::default())
    }

    fn patroni(text: &str, command: &str, host: &str) -> Result<Vec<Fact>, String> {
        let ctx = Context {
            host,
            ..Context::default()
        };
        summarise_patroni(&fixture(text), &argv(command), &ctx)
    }

    const PG: &str =
        include_str!("../../tests/fixtures/previews/pg-lsclusters-primary-replica.txt");

    #[test]
    fn stopping_the_primary_is_loud_and_a_standby_is_not() {
        let facts = pg(PG, "pg_ctlcluster 15 orders stop").unwrap();
        assert_eq!(
            loud(&facts),
            vec![
                "15/orders is a primary (online, not in recovery): this host is its leader, and stopping it stops every write to it"
            ]
        );
        assert_eq!(
            facts.last().unwrap().text,
            "on this host: 3 cluster(s); primaries: 15/orders; standbys: 15/orders_replica (online,recovery)"
        );
        let facts = pg(PG, "pg_ctlcluster 15 orders_replica restart").unwrap();
        assert!(loud(&facts).is_empty());
        assert_eq!(
            facts[0].text,
            "15/orders_replica is a standby (online,recovery): not the leader"
        );
        let facts = pg(PG, "pg_ctlcluster 15/main stop").unwrap();
        assert_eq!(facts[0].text, "15/main is already down");
    }

    #[test]
    fn a_stopped_primary_leaves_only_the_standby() {
        let facts = pg(
            include_str!("../../tests/fixtures/previews/pg-lsclusters-primary-down.txt"),
            "pg_ctlcluster 15 orders_replica stop",
        )
        .unwrap();
        assert_eq!(
            facts.last().unwrap().text,
            "on this host: 3 cluster(s); primaries: none; standbys: 15/orders_replica (online,recovery)"
        );
        let facts = pg(PG, "pg_ctlcluster 14 main stop").unwrap();
        assert_eq!(
            loud(&facts),
            vec!["pg_lsclusters lists no cluster 14/main on this host"]
        );
    }

    #[test]
    fn a_pg_lsclusters_error_is_not_summarised() {
        let err = pg(
            include_str!("../../tests/fixtures/previews/pg-lsclusters-error.txt"),
            "pg_ctlcluster 15 nosuch stop",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "pg_lsclusters printed no cluster table: Error: Cluster 15 nosuch does not exist"
        );
    }

    #[test]
    fn a_healthy_patroni_cluster_names_its_leader_and_replicas() {
        let facts = patroni(
            include_str!("../../tests/fixtures/previews/patronictl-list.txt"),
            "patronictl failover batman --candidate postgresql2",
            "postgresql0",
        )
        .unwrap();
        let texts: Vec<&str> = facts.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "leader: postgresql0 (running)",
                "replicas: postgresql1 (streaming, lag 0 MB), postgresql2 (streaming, lag 0 MB)",
                "candidate postgresql2 is streaming with no lag",
                "this host (postgresql0) is the leader",
            ]
        );
        assert_eq!(loud(&facts), vec!["this host (postgresql0) is the leader"]);
    }

    #[test]
    fn a_stopped_member_with_unknown_lag_is_loud_for_a_failover() {
        let facts = patroni(
            include_str!("../../tests/fixtures/previews/patronictl-list-member-stopped.txt"),
            "patronictl failover --candidate postgresql0 --force",
            "pg-9",
        )
        .unwrap();
        let l = loud(&facts);
        assert_eq!(
            l,
            vec![
                "replicas: postgresql0 (stopped, lag unknown), postgresql1 (running, lag 0 MB); what a replica has not received is lost when it is promoted",
                "candidate postgresql0 is stopped, lag unknown: promoting it may lose transactions",
            ]
        );
        assert_eq!(facts[0].text, "leader: postgresql2 (running)");
    }

    #[test]
    fn older_layouts_citus_groups_and_tags_rows_are_read() {
        let facts = patroni(
            include_str!("../../tests/fixtures/previews/patronictl-list-citus-lag-in-mb.txt"),
            "patronictl switchover demo",
            "work1-2",
        )
        .unwrap();
        assert_eq!(
            facts[0].text,
            "leader: coord3 (running), work1-2 (running), work2-2 (running)"
        );
        assert_eq!(
            facts.last().unwrap().text,
            "this host (work1-2) is the leader"
        );
        let facts = patroni(
            include_str!("../../tests/fixtures/previews/patronictl-list-tags.txt"),
            "patronictl restart batman",
            "postgresql1",
        )
        .unwrap();
        assert_eq!(
            facts.iter().map(|f| f.text.as_str()).collect::<Vec<_>>(),
            vec![
                "leader: postgresql0 (running)",
                "replicas: postgresql1 (running, lag 0 MB)",
                "this host (postgresql1) is a replica",
            ]
        );
    }

    #[test]
    fn other_output_is_not_summarised() {
        let err = patroni(
            "Error: Can not find Patroni cluster\n",
            "patronictl failover",
            "x",
        )
        .unwrap_err();
        assert!(err.starts_with("patronictl printed no member table"));
    }
}
