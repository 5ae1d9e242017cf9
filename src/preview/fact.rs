//! What a summary says: a few facts, each a line for the operator (loud or
//! plain) and zero or more named values for the audit record.
//!
//! Pure data and small text helpers shared by the summarisers.

use std::collections::BTreeMap;

/// How a fact is shown: loud in the risk colour of the finding, or plain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Loud,
    Plain,
}

/// A fact's machine-readable value, as the audit record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Count(u64),
    Flag(bool),
    Text(String),
    List(Vec<String>),
}

impl Value {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Count(n) => serde_json::Value::from(*n),
            Value::Flag(b) => serde_json::Value::from(*b),
            Value::Text(s) => serde_json::Value::from(s.as_str()),
            Value::List(items) => serde_json::Value::from(items.clone()),
        }
    }
}

/// One thing the operator should know before answering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    pub level: Level,
    /// The line shown (unsanitised: the renderer cleans it).
    pub text: String,
    /// What the audit record keeps of it: `name → value`.
    pub record: Vec<(&'static str, Value)>,
}

impl Fact {
    pub fn loud(text: impl Into<String>) -> Fact {
        Fact {
            level: Level::Loud,
            text: text.into(),
            record: Vec::new(),
        }
    }

    pub fn plain(text: impl Into<String>) -> Fact {
        Fact {
            level: Level::Plain,
            text: text.into(),
            record: Vec::new(),
        }
    }

    /// Adds a value for the audit record.
    pub fn with(mut self, key: &'static str, value: Value) -> Fact {
        self.record.push((key, value));
        self
    }
}

/// What became of a preview's summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Summary {
    /// The facts, loud ones first.
    Facts(Vec<Fact>),
    /// Why there is none: the raw output is all the operator gets.
    Failed(String),
}

impl Summary {
    /// The facts as the audit record keeps them.
    pub fn record(&self) -> BTreeMap<String, serde_json::Value> {
        let mut out = BTreeMap::new();
        if let Summary::Facts(facts) = self {
            for fact in facts {
                for (key, value) in &fact.record {
                    out.insert((*key).to_string(), value.to_json());
                }
            }
        }
        out
    }
}

/// What a summariser may know besides the output: passed in, never looked up.
#[derive(Clone, Copy, Debug, Default)]
pub struct Context<'a> {
    /// This host's name (the policy's), to find "this node" in a list.
    pub host: &'a str,
    /// Package name patterns (`*`, `?`, `[…]`) of the packages that run
    /// this host's workload.
    pub critical: &'a [String],
    /// The text of `/proc/self/mounts`, when the edge read it.
    pub mounts: Option<&'a str>,
}

/// Puts the loud facts first, keeping the order within each level.
pub fn loud_first(mut facts: Vec<Fact>) -> Vec<Fact> {
    facts.sort_by_key(|f| f.level != Level::Loud);
    facts
}

/// `a, b, c` or `a, b, c and 4 more`: a list short enough for one line.
pub fn some_of(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!("{} and {} more", items[..max].join(", "), items.len() - max)
}

/// `one`, `two` … `ten`, then digits: "the other two nodes".
pub fn number_word(n: usize) -> String {
    const WORDS: [&str; 11] = [
        "no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| (*w).to_string())
}

/// `1 package` / `3 packages`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The host name up to its first dot.
pub fn short_name(name: &str) -> &str {
    name.split('.')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(name)
}

/// The program name of an argv's first word: `/usr/sbin/xfs_repair` → `xfs_repair`.
pub fn program(argv: &[String]) -> &str {
    argv.first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("")
}

/// Does `name` match the glob `pattern` (`*`, `?` and `[…]` classes)?
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().position(|c| *c == ']') else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(c) = n.first() else { return false };
                let class = &p[1..close];
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= *c && *c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == *c;
                        i += 1;
                    }
                }
                hit && go(&p[close + 1..], &n[1..])
            }
            Some(ch) => n.first() == Some(ch) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

/// The lines of a fixture file without its `##` provenance header.
#[cfg(test)]
pub fn fixture(text: &str) -> String {
    text.lines()
        .skip_while(|l| l.starts_with("##"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Reading facts back, for the summarisers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Fact, Level, Value};

    /// The texts of the facts of `level`, in order.
    pub fn texts(facts: &[Fact], level: Level) -> Vec<String> {
        facts
            .iter()
            .filter(|f| f.level == level)
            .map(|f| f.text.clone())
            .collect()
    }

    /// The value recorded under `key` by any fact.
    pub fn record(facts: &[Fact], key: &str) -> Option<Value> {
        facts
            .iter()
            .flat_map(|f| f.record.iter())
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_names_as_the_shell_would() {
        assert!(glob_match("linux-image*", "linux-image-6.1.0-18-amd64"));
        assert!(glob_match("postgresql-[0-9]*", "postgresql-15"));
        assert!(!glob_match("postgresql-[0-9]*", "postgresql-client-15"));
        assert!(glob_match("docker-ce", "docker-ce"));
        assert!(!glob_match("docker-ce", "docker-ce-cli"));
        assert!(glob_match("kube?et", "kubelet"));
        assert!(!glob_match("mysql-server*", "mysql-client"));
    }

    #[test]
    fn lists_and_numbers_read_naturally() {
        let items: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        assert_eq!(some_of(&items, 2), "a, b and 2 more");
        assert_eq!(some_of(&items, 4), "a, b, c, d");
        assert_eq!(number_word(2), "two");
        assert_eq!(number_word(12), "12");
        assert_eq!(plural(1, "node", "nodes"), "1 node");
        assert_eq!(short_name("core-1.prod.example.com"), "core-1");
        assert_eq!(program(&["/usr/sbin/xfs_repair".to_string()]), "xfs_repair");
    }

    #[test]
    fn the_record_keeps_every_named_value() {
        let s = Summary::Facts(vec![
            Fact::plain("5 packages change")
                .with("upgraded", Value::Count(5))
                .with("removed", Value::Count(0)),
            Fact::loud("docker-ce 19.03.15 → 20.10.5").with(
                "major_bumps",
                Value::List(vec!["docker-ce 19.03.15→20.10.5".into()]),
            ),
        ]);
        let r = s.record();
        assert_eq!(r["upgraded"], serde_json::json!(5));
        assert_eq!(
            r["major_bumps"],
            serde_json::json!(["docker-ce 19.03.15→20.10.5"])
        );
        assert!(Summary::Failed("x".into()).record().is_empty());
    }
}
