//! `kubeadm certs check-expiration`, read against the command that was hit:
//! which certificates it would replace, whether the cluster CA itself is
//! touched, and when the CA expires.
//!
//! The difference that matters: `kubeadm certs renew` signs new leaf
//! certificates with the existing CA and leaves the CA alone, while
//! `kubeadm init phase certs ca` (or `all`) creates a CA wherever its file
//! is missing, and removing `ca.crt`/`ca.key` lets the next kubeadm run do
//! so. A new CA makes every node's certificates, kubeconfigs and tokens
//! invalid at once.
//!
//! check-expiration prints two tables (tabwriter columns, so the header
//! gives the column starts): certificates (`NAME EXPIRES RESIDUAL TIME
//! CERTIFICATE AUTHORITY EXTERNALLY MANAGED`) and CAs; a missing file is a
//! `!MISSING! NAME` row, an expired one has `<invalid>` as residual time.

use super::fact::{Context, Fact, Value, some_of};

/// The directory check-expiration reads by default.
const PKI_DIR: &str = "/etc/kubernetes/pki";

/// kubeadm's own certificate authorities.
const CAS: &[&str] = &["ca", "etcd-ca", "front-proxy-ca"];

/// Flags of kubeadm that take a value (so the value is not a target).
const VALUE_FLAGS: &[&str] = &[
    "--config",
    "--cert-dir",
    "--kubeconfig",
    "--rootfs",
    "--csr-dir",
    "--apiserver-advertise-address",
    "--apiserver-bind-port",
    "--apiserver-cert-extra-sans",
    "--control-plane-endpoint",
    "--kubernetes-version",
    "--service-cidr",
    "--service-dns-domain",
    "--pod-network-cidr",
    "--cri-socket",
    "--node-name",
    "--ignore-preflight-errors",
    "--feature-gates",
    "--patches",
    "--skip-phases",
    "-v",
    "--v",
];

/// One row of either table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Cert {
    name: String,
    expires: String,
    residual: String,
    ca: String,
    external: bool,
    missing: bool,
}

impl Cert {
    fn expired(&self) -> bool {
        self.residual == "<invalid>"
    }

    /// Days left, from kubeadm's short duration (`364d`, `9y`, `23h`).
    fn days_left(&self) -> Option<i64> {
        if self.expired() {
            return Some(-1);
        }
        let r = self.residual.trim();
        let (n, unit) = r.split_at(r.find(|c: char| !c.is_ascii_digit())?);
        let n: i64 = n.parse().ok()?;
        Some(match unit {
            "y" => n * 365,
            "d" => n,
            _ => 0,
        })
    }
}

#[derive(Debug, Default)]
struct Tables {
    certs: Vec<Cert>,
    cas: Vec<Cert>,
}

/// Column start of `word` in the header line.
fn col(header: &str, word: &str) -> Option<usize> {
    header.find(word)
}

fn cell(line: &str, from: usize, to: Option<usize>) -> String {
    let end = to.unwrap_or(line.len()).min(line.len());
    line.get(from.min(end)..end)
        .unwrap_or("")
        .trim()
        .to_string()
}

fn parse(text: &str) -> Option<Tables> {
    let mut tables = Tables::default();
    let mut seen_header = false;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let is_ca = line.starts_with("CERTIFICATE AUTHORITY");
        if !(line.starts_with("CERTIFICATE") && line.contains("EXPIRES")) {
            continue;
        }
        seen_header = true;
        let expires = col(line, "EXPIRES")?;
        let residual = col(line, "RESIDUAL TIME")?;
        let ca = if is_ca {
            None
        } else {
            col(line, "CERTIFICATE AUTHORITY")
        };
        let external = col(line, "EXTERNALLY MANAGED")?;
        while let Some(row) = lines.next_if(|l| !l.trim().is_empty()) {
            let cert = if let Some(name) = row.trim().strip_prefix("!MISSING!") {
                Cert {
                    name: name.trim().to_string(),
                    missing: true,
                    ..Cert::default()
                }
            } else {
                Cert {
                    name: cell(row, 0, Some(expires)),
                    expires: cell(row, expires, Some(residual)),
                    residual: cell(row, residual, Some(ca.unwrap_or(external))),
                    ca: ca.map(|c| cell(row, c, Some(external))).unwrap_or_default(),
                    external: cell(row, external, None) == "yes",
                    missing: false,
                }
            };
            if is_ca {
                tables.cas.push(cert);
            } else {
                tables.certs.push(cert);
            }
        }
    }
    seen_header.then_some(tables)
}

/// The words of the command that are not flags or flag values.
fn positionals(command: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in command.iter().skip(1) {
        if skip {
            skip = false;
            continue;
        }
        if a.starts_with('-') {
            skip = VALUE_FLAGS.contains(&a.as_str());
            continue;
        }
        out.push(a.as_str());
    }
    out
}

/// The value of `--cert-dir`, if given.
fn cert_dir(command: &[String]) -> Option<&str> {
    let mut it = command.iter();
    while let Some(a) = it.next() {
        if a == "--cert-dir" {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix("--cert-dir=") {
            return Some(v);
        }
    }
    None
}

/// `/etc//kubernetes/pki/` → `/etc/kubernetes/pki`.
fn normal(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// What a command does to the PKI, read from its argv.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// `kubeadm certs renew all|NAME…`.
    Renew(Vec<String>),
    /// `kubeadm init phase certs TARGET`.
    InitCerts(String),
    /// A file command on the PKI directory: the CAs and files it hits.
    Files {
        cas: Vec<String>,
        files: Vec<String>,
    },
    Other,
}

fn action(command: &[String]) -> Action {
    let program = super::fact::program(command);
    let words = positionals(command);
    if program == "kubeadm" {
        let words: Vec<&str> = words.into_iter().filter(|w| *w != "alpha").collect();
        if words.starts_with(&["certs", "renew"]) {
            return Action::Renew(words[2..].iter().map(|w| (*w).to_string()).collect());
        }
        if words.starts_with(&["init", "phase", "certs"]) {
            return Action::InitCerts(words.get(3).unwrap_or(&"all").to_string());
        }
        if words.first() == Some(&"reset") {
            // kubeadm reset deletes the whole certificate directory.
            let mut cas: Vec<String> = CAS.iter().map(|c| (*c).to_string()).collect();
            cas.push("sa".into());
            return Action::Files {
                cas,
                files: vec![PKI_DIR.to_string()],
            };
        }
        return Action::Other;
    }
    let mut cas = Vec::new();
    let mut files = Vec::new();
    for w in &words {
        let path = normal(w);
        let whole = path == PKI_DIR || path == "/etc/kubernetes" || path == "/etc";
        let Some(file) = path.strip_prefix(PKI_DIR).and_then(|r| r.strip_prefix('/')) else {
            if whole {
                cas.extend(CAS.iter().map(|c| (*c).to_string()));
                cas.push("sa".into());
                files.push(path.clone());
            }
            continue;
        };
        let ca = match file {
            "ca.crt" | "ca.key" => Some("ca"),
            "etcd/ca.crt" | "etcd/ca.key" => Some("etcd-ca"),
            "front-proxy-ca.crt" | "front-proxy-ca.key" => Some("front-proxy-ca"),
            "sa.key" | "sa.pub" => Some("sa"),
            "etcd" => Some("etcd-ca"),
            _ => None,
        };
        if let Some(ca) = ca
            && !cas.iter().any(|c| c == ca)
        {
            cas.push(ca.to_string());
        }
        files.push(file.to_string());
    }
    if files.is_empty() {
        Action::Other
    } else {
        Action::Files { cas, files }
    }
}

fn ca_name(ca: &str) -> &str {
    match ca {
        "ca" => "the cluster CA",
        "etcd-ca" => "the etcd CA",
        "front-proxy-ca" => "the front-proxy CA",
        "sa" => "the service-account signing key",
        other => other,
    }
}

/// What a new `ca` means, for the loud line.
fn new_ca_means(ca: &str) -> &'static str {
    match ca {
        "etcd-ca" => "every etcd member's and the API servers' etcd certificates become invalid",
        "front-proxy-ca" => {
            "aggregated APIs (metrics-server and the like) stop trusting the API servers"
        }
        "sa" => "every service-account token in the cluster becomes invalid",
        _ => {
            "every node's certificates, kubeconfigs and tokens signed by the old one become invalid"
        }
    }
}

pub fn summarise(text: &str, command: &[String], _ctx: &Context) -> Result<Vec<Fact>, String> {
    let t = parse(text).ok_or_else(|| "no certificate table in kubeadm's output".to_string())?;
    if t.certs.is_empty() && t.cas.is_empty() {
        return Err("kubeadm's certificate tables are empty".to_string());
    }
    let ca = |name: &str| t.cas.iter().find(|c| c.name == name);
    let mut facts = Vec::new();

    if let Some(dir) = cert_dir(command)
        && normal(dir) != PKI_DIR
    {
        facts.push(
            Fact::loud(format!(
                "the command works on --cert-dir {dir}, not on {PKI_DIR} that this list describes: whatever is missing there, a CA included, is created new"
            ))
            .with("cert_dir", Value::Text(dir.to_string())),
        );
    }

    match action(command) {
        Action::Renew(targets) => {
            let all = targets.is_empty() || targets.iter().any(|t| t == "all");
            let renewed: Vec<&Cert> = t
                .certs
                .iter()
                .filter(|c| !c.missing && (all || targets.contains(&c.name)))
                .collect();
            let names: Vec<String> = renewed.iter().map(|c| c.name.clone()).collect();
            let what = if all {
                format!("renews all {} certificates and kubeconfigs", names.len())
            } else {
                format!("renews {}", some_of(&names, 4))
            };
            facts.push(
                Fact::plain(format!(
                    "{what} with the existing CA: the CA itself is not touched"
                ))
                .with("replaces", Value::List(names))
                .with("ca_touched", Value::Flag(false)),
            );
            let mut signers: Vec<&str> = renewed
                .iter()
                .map(|c| if c.ca.is_empty() { "ca" } else { c.ca.as_str() })
                .collect();
            signers.sort_unstable();
            signers.dedup();
            for signer in signers {
                match ca(signer) {
                    Some(c) if c.missing => facts.push(Fact::loud(format!(
                        "{signer} is missing: the certificates it signs cannot be renewed"
                    ))),
                    Some(c) if c.external => facts.push(Fact::loud(format!(
                        "{signer} is externally managed (no key here): kubeadm cannot renew what it signs"
                    ))),
                    _ => {}
                }
            }
            for name in targets.iter().filter(|n| *n != "all") {
                if !t.certs.iter().any(|c| &c.name == name) {
                    facts.push(Fact::plain(format!(
                        "{name} is not one of the certificates kubeadm lists"
                    )));
                }
            }
        }
        Action::InitCerts(target) => {
            let cas_hit: Vec<&str> = match target.as_str() {
                "all" => CAS.iter().copied().chain(["sa"]).collect(),
                "ca" | "etcd-ca" | "front-proxy-ca" | "sa" => vec![target.as_str()],
                _ => vec![],
            };
            let mut made_new = Vec::new();
            for name in &cas_hit {
                match ca(name) {
                    Some(c) if !c.missing => facts.push(Fact::plain(format!(
                        "{name} exists (expires {}): kubeadm keeps an existing CA and does not make a new one",
                        c.expires
                    ))),
                    Some(_) => {
                        made_new.push((*name).to_string());
                        facts.push(Fact::loud(format!(
                            "{name} is missing: this generates a NEW {}; {}",
                            ca_name(name).trim_start_matches("the "),
                            new_ca_means(name)
                        )));
                    }
                    None if *name == "sa" => facts.push(Fact::plain(
                        "the service-account key is not in this list: if sa.key is missing, a new one makes every service-account token invalid",
                    )),
                    None => {}
                }
            }
            if !cas_hit.contains(&target.as_str())
                && target != "all"
                && let Some(c) = t.certs.iter().find(|c| c.name == target && !c.missing)
            {
                facts.push(Fact::plain(format!(
                    "{target} exists (expires {}): kubeadm keeps an existing certificate and does not overwrite it",
                    c.expires
                )));
            }
            let leaf_missing: Vec<String> = t
                .certs
                .iter()
                .filter(|c| c.missing && (target == "all" || c.name == target))
                .map(|c| c.name.clone())
                .collect();
            if !leaf_missing.is_empty() {
                facts.push(Fact::plain(format!(
                    "creates the missing {}",
                    some_of(&leaf_missing, 4)
                )));
            }
            let touched = !made_new.is_empty();
            let record = Fact::plain(String::new())
                .with("ca_touched", Value::Flag(touched))
                .with("new_cas", Value::List(made_new))
                .with("creates", Value::List(leaf_missing));
            // The values ride on the first fact of this part.
            if let Some(first) = facts.last_mut() {
                first.record.extend(record.record);
            }
        }
        Action::Files { cas, files } => {
            let real_cas: Vec<&String> = cas.iter().filter(|c| c.as_str() != "sa").collect();
            if !cas.is_empty() {
                let which: Vec<String> = cas.iter().map(|c| ca_name(c).to_string()).collect();
                let means = if real_cas.iter().any(|c| c.as_str() == "ca") {
                    new_ca_means("ca")
                } else {
                    new_ca_means(cas[0].as_str())
                };
                facts.push(
                    Fact::loud(format!(
                        "touches {}: the next kubeadm init phase certs makes a new one, and {means}",
                        some_of(&which, 4)
                    ))
                    .with("ca_touched", Value::Flag(true))
                    .with("replaces", Value::List(files.clone())),
                );
            } else {
                facts.push(
                    Fact::plain(format!(
                        "touches {}; the CAs are not touched",
                        some_of(&files, 4)
                    ))
                    .with("ca_touched", Value::Flag(false))
                    .with("replaces", Value::List(files.clone())),
                );
            }
        }
        Action::Other => {}
    }

    match ca("ca") {
        Some(c) if c.missing => facts.push(
            Fact::loud("the cluster CA (ca) is missing")
                .with("ca_expires", Value::Text("missing".into())),
        ),
        Some(c) => {
            let text = format!(
                "the cluster CA (ca) expires {} ({} left)",
                c.expires, c.residual
            );
            let f = if c.days_left().is_some_and(|d| d < 365) {
                Fact::loud(text)
            } else {
                Fact::plain(text)
            };
            facts.push(f.with("ca_expires", Value::Text(c.expires.clone())));
        }
        None => {}
    }
    let other_cas_missing: Vec<String> = t
        .cas
        .iter()
        .filter(|c| c.missing && c.name != "ca")
        .map(|c| c.name.clone())
        .collect();
    if !other_cas_missing.is_empty() {
        facts.push(Fact::loud(format!(
            "CA missing: {}",
            other_cas_missing.join(", ")
        )));
    }
    let expired: Vec<String> = t
        .certs
        .iter()
        .filter(|c| c.expired())
        .map(|c| c.name.clone())
        .collect();
    if !expired.is_empty() {
        facts.push(
            Fact::loud(format!("expired already: {}", some_of(&expired, 5)))
                .with("expired", Value::List(expired)),
        );
    }
    let missing: Vec<String> = t
        .certs
        .iter()
        .filter(|c| c.missing)
        .map(|c| c.name.clone())
        .collect();
    if !missing.is_empty() {
        facts.push(
            Fact::loud(format!("missing: {}", some_of(&missing, 5)))
                .with("missing", Value::List(missing)),
        );
    }
    let soon: Vec<String> = t
        .certs
        .iter()
        .filter(|c| c.days_left().is_some_and(|d| (0..=30).contains(&d)))
        .map(|c| format!("{} ({})", c.name, c.residual))
        .collect();
    if !soon.is_empty() {
        facts.push(
            Fact::loud(format!("expire within 30 days: {}", some_of(&soon, 4)))
                .with("expiring_soon", Value::List(soon)),
        );
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::fact::{Level, fixture};

    const HEALTHY: &str =
        include_str!("../../tests/fixtures/previews/kubeadm-check-expiration.txt");
    const EXPIRING: &str =
        include_str!("../../tests/fixtures/previews/kubeadm-check-expiration-expiring.txt");
    const BROKEN: &str =
        include_str!("../../tests/fixtures/previews/kubeadm-check-expiration-missing.txt");

    fn run(text: &str, command: &str) -> Vec<Fact> {
        let argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        summarise(&fixture(text), &argv, &Context::default()).unwrap()
    }

    fn loud(facts: &[Fact]) -> Vec<&str> {
        facts
            .iter()
            .filter(|f| f.level == Level::Loud)
            .map(|f| f.text.as_str())
            .collect()
    }

    fn value(facts: &[Fact], key: &str) -> Option<Value> {
        facts
            .iter()
            .flat_map(|f| &f.record)
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn the_tables_are_read_by_their_header_columns() {
        let t = parse(&fixture(HEALTHY)).unwrap();
        assert_eq!(t.certs.len(), 10);
        assert_eq!(t.cas.len(), 3);
        assert_eq!(
            t.certs[0],
            Cert {
                name: "admin.conf".into(),
                expires: "Dec 30, 2020 23:36 UTC".into(),
                residual: "364d".into(),
                ca: String::new(),
                external: false,
                missing: false,
            }
        );
        assert_eq!(t.certs[2].ca, "etcd-ca");
        assert_eq!(t.cas[0].expires, "Dec 28, 2029 23:36 UTC");
        let b = parse(&fixture(BROKEN)).unwrap();
        assert!(b.certs.iter().any(|c| c.name == "etcd-peer" && c.missing));
        assert!(b.cas.iter().any(|c| c.name == "etcd-ca" && c.missing));
        assert!(b.certs[0].expired());
    }

    #[test]
    fn renew_all_replaces_leaf_certificates_and_leaves_the_ca_alone() {
        let facts = run(HEALTHY, "kubeadm certs renew all");
        assert_eq!(
            facts[0].text,
            "renews all 10 certificates and kubeconfigs with the existing CA: the CA itself is not touched"
        );
        assert_eq!(value(&facts, "ca_touched"), Some(Value::Flag(false)));
        assert!(facts.iter().any(|f| f.text
            == "the cluster CA (ca) expires Dec 28, 2029 23:36 UTC (9y left)"
            && f.level == Level::Plain));
        assert!(
            loud(&facts).is_empty(),
            "a healthy renew is not loud: {facts:#?}"
        );
    }

    #[test]
    fn init_phase_certs_ca_with_the_ca_present_keeps_it_and_with_it_missing_makes_a_new_one() {
        let facts = run(HEALTHY, "kubeadm init phase certs ca");
        assert!(
            facts[0]
                .text
                .starts_with("ca exists (expires Dec 28, 2029 23:36 UTC)")
        );
        assert_eq!(value(&facts, "ca_touched"), Some(Value::Flag(false)));

        let facts = run(
            BROKEN,
            "kubeadm init phase certs all --config /root/kubeadm.yaml",
        );
        let l = loud(&facts);
        assert!(
            l.contains(&"etcd-ca is missing: this generates a NEW etcd CA; every etcd member's and the API servers' etcd certificates become invalid"),
            "{l:#?}"
        );
        assert_eq!(value(&facts, "ca_touched"), Some(Value::Flag(true)));
        assert_eq!(
            value(&facts, "new_cas"),
            Some(Value::List(vec!["etcd-ca".into()]))
        );
    }

    #[test]
    fn a_cert_dir_elsewhere_is_called_out() {
        let facts = run(HEALTHY, "kubeadm init phase certs ca --cert-dir /tmp/pki");
        assert!(loud(&facts)[0].starts_with("the command works on --cert-dir /tmp/pki"));
        let facts = run(
            HEALTHY,
            "kubeadm init phase certs ca --cert-dir /etc/kubernetes/pki/",
        );
        assert!(loud(&facts).is_empty());
    }

    #[test]
    fn removing_the_ca_files_is_loud_and_a_leaf_file_is_not() {
        let facts = run(HEALTHY, "rm /etc/kubernetes/pki/ca.key");
        assert_eq!(
            loud(&facts),
            vec![
                "touches the cluster CA: the next kubeadm init phase certs makes a new one, and every node's certificates, kubeconfigs and tokens signed by the old one become invalid"
            ]
        );
        let facts = run(HEALTHY, "mv /etc/kubernetes/pki /etc/kubernetes/pki.bak");
        assert_eq!(value(&facts, "ca_touched"), Some(Value::Flag(true)));
        let facts = run(HEALTHY, "kubeadm reset -f");
        assert_eq!(value(&facts, "ca_touched"), Some(Value::Flag(true)));
        let facts = run(HEALTHY, "rm /etc/kubernetes/pki/apiserver.crt");
        assert_eq!(
            facts[0].text,
            "touches apiserver.crt; the CAs are not touched"
        );
        assert!(loud(&facts).is_empty());
    }

    #[test]
    fn expired_missing_and_expiring_certificates_are_loud() {
        let facts = run(BROKEN, "kubeadm certs renew all");
        let l = loud(&facts);
        assert!(l.contains(&"expired already: admin.conf, apiserver-kubelet-client, controller-manager.conf, front-proxy-client, scheduler.conf"));
        assert!(l.contains(
            &"missing: apiserver-etcd-client, etcd-healthcheck-client, etcd-peer, etcd-server"
        ));
        assert!(l.contains(&"expire within 30 days: apiserver (10d)"));
        assert!(l.contains(&"CA missing: etcd-ca"));

        let facts = run(EXPIRING, "kubeadm certs renew apiserver");
        assert!(
            facts[0]
                .text
                .starts_with("renews apiserver with the existing CA")
        );
        assert_eq!(
            value(&facts, "replaces"),
            Some(Value::List(vec!["apiserver".into()]))
        );
        assert!(
            loud(&facts)
                .iter()
                .any(|t| t.starts_with("expire within 30 days: admin.conf (14d), apiserver (14d)"))
        );
    }

    #[test]
    fn output_without_the_tables_is_not_summarised() {
        let err = summarise(
            "error execution phase: something else\n",
            &["kubeadm".into()],
            &Context::default(),
        )
        .unwrap_err();
        assert_eq!(err, "no certificate table in kubeadm's output");
    }
}
