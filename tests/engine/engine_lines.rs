//! Everyday shell that must stay silent, the parser forms that must parse,
//! and the risky look-alikes that must still be flagged: one table of named
//! lines through the real path (`check_line` with the shipped rules), plus
//! the guarantees that no input makes the parser run away in time or
//! memory.
//!
//! Each row is `(name, line, expectation)`. The expectation is one of:
//! - `ACTION [RISK|*] [RULE-ID]`: the verdict's action (`allow`, `confirm`,
//!   `deny`), its risk (`*`: any; `allow` alone means "runs without a
//!   prompt", a low notice allowed), and a rule id that must be among the
//!   findings;
//! - `incomplete`: the line is not finished (more input could finish it);
//! - `syntax L:C`: a syntax error reported at line L, column C of the line.

use std::sync::mpsc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use safe_run::classify::check_line;
use safe_run::parse::{ParseError, parse_line};
use safe_run::rules::RuleSet;
use safe_run::verdict::{Action, Risk, Verdict};

type Row = (&'static str, &'static str, &'static str);

/// `[ … ]` and `[[ … ]]` are the test builtin and a keyword, not programs
/// known only at run time.
#[rustfmt::skip]
const TESTS: &[Row] = &[
    ("[ -f ] guards a command", "[ -f /etc/nginx/nginx.conf ] && nginx -t", "allow"),
    ("if [ -d ] then", "if [ -d /var/log/app ]; then ls /var/log/app; fi", "allow"),
    ("[ -n \"$var\" ]", "[ -n \"$HOSTNAME\" ]", "allow"),
    ("[ -z ] with ||", "[ -z \"$PID\" ] || echo running", "allow"),
    ("[ string = string ]", "[ \"$variable\" = \"string\" ]", "allow"),
    ("[ a != b ]", "[ \"$a\" != \"$b\" ] && echo differ", "allow"),
    ("[ -eq ] arithmetic test", "[ \"$count\" -eq 0 ] && echo empty", "allow"),
    ("! [ -e ]", "! [ -e /tmp/lock ] && touch /tmp/lock", "allow"),
    ("[ ] with -a and -o", "[ -r a -a -w b -o -x c ]", "allow"),
    ("test builtin by name", "test -f x && cat x", "allow"),
    ("[[ == ]] in if", "if [[ $a == b ]]; then echo y; fi", "allow"),
    ("[[ =~ ]] regex", "[[ $host =~ ^web[0-9]+$ ]] && echo web", "allow"),
    ("[[ -n && -f ]]", "[[ -n \"$x\" && -f \"$x\" ]] && source \"$x\"", "allow"),
    ("[[ ]] with a glob pattern", "[[ $file == *.log ]] && gzip \"$file\"", "allow"),
    ("while [ ] loop", "while [ ! -f /tmp/done ]; do sleep 1; done", "allow"),
    ("until [[ ]] loop", "until [[ -S /run/app.sock ]]; do sleep 1; done", "allow"),
    ("[ ] in a for body", "for f in *.conf; do [ -s \"$f\" ] && echo \"$f\"; done", "allow"),
    ("/usr/bin/[ by path", "/usr/bin/[ -f x ]", "allow"),
    ("a real glob in program position is still dynamic", "/sbin/reboo[t]", "confirm medium misc-dynamic-program"),
    ("a variable in program position is still dynamic", "$CMD --force", "confirm medium misc-dynamic-program"),
    ("[ ] then reboot is still reboot", "[ -f /tmp/ok ] && reboot", "confirm high power-reboot"),
    ("job spec %1", "%1", "allow"),
    ("job spec %?name", "%?string", "allow"),
];

/// Recursive functions, and the fork bombs that must still be refused.
#[rustfmt::skip]
const RECURSION: &[Row] = &[
    ("recursive directory walk", "walk() { for d in \"$1\"/*; do [ -d \"$d\" ] && walk \"$d\"; done; }; walk /srv", "allow"),
    ("recursive walk defined, not called", "walk() { for d in \"$1\"/*; do [ -d \"$d\" ] && walk \"$d\"; done; }", "allow"),
    ("recursive factorial through if", "fact() { if [ \"$1\" -le 1 ]; then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }; fact 5", "allow"),
    ("countdown guarded by [ ] &&", "countdown() { echo \"$1\"; [ \"$1\" -gt 0 ] && countdown $(( $1 - 1 )); }; countdown 3", "allow"),
    ("recursion in a case arm", "f() { case $1 in 0) echo done;; *) f $(( $1 - 1 ));; esac; }; f 3", "allow"),
    ("recursion guarded and backgrounded", "f() { [ \"$1\" -gt 0 ] && f $(( $1 - 1 )) & }; f 3", "allow"),
    ("recursion in a while body", "f() { while read -r d; do f \"$d\"; done < list; }; f", "allow"),
    ("plain self-call in the same process", "f() { f; }; f", "allow"),
    ("recursive function whose body reboots", "r() { [ \"$1\" -gt 0 ] && r $(( $1 - 1 )); reboot; }; r 2", "confirm high power-reboot"),
    ("classic fork bomb", ":(){ :|:& };:", "deny critical misc-fork-bomb"),
    ("fork bomb with a name", "bomb() { bomb | bomb & }; bomb", "deny critical misc-fork-bomb"),
    ("fork bomb, background then call", "f(){ f & f; }; f", "deny critical misc-fork-bomb"),
    ("fork bomb through a pipe only", "f(){ f|f; }; f", "deny critical misc-fork-bomb"),
    ("fork bomb in a loop over known items", "f() { for i in 1 2; do f & done; }; f", "deny critical misc-fork-bomb"),
    ("fork bomb through two functions", "a() { b & b; }; b() { a; }; a", "deny critical misc-fork-bomb"),
    ("fork bomb with function keyword", "function f { f | f & }; f", "deny critical misc-fork-bomb"),
    ("fork bomb in a while true loop", "f() { while true; do f & done; }; f", "deny critical misc-fork-bomb"),
    ("fork bomb in a while : loop", "f() { while :; do f & done; }; f", "deny critical misc-fork-bomb"),
    ("fork bomb in an until false loop", "f() { until false; do f | f; done; }; f", "deny critical misc-fork-bomb"),
    ("recursion in a while loop with a real test", "f() { while [ -e /tmp/go ]; do f & sleep 1; done; }; f", "allow"),
];

/// Help and version requests never prompt; -h only where it is help.
#[rustfmt::skip]
const HELP: &[Row] = &[
    ("docker stop --help", "docker stop --help", "allow none"),
    ("kubectl delete --help", "kubectl delete ns prod --help", "allow none"),
    ("reboot --help", "reboot --help", "allow none"),
    ("shutdown --help", "shutdown --help", "allow none"),
    ("rm --version", "rm --version", "allow none"),
    ("systemctl --version", "systemctl --version", "allow none"),
    ("sudo systemctl poweroff --help", "sudo systemctl poweroff --help", "allow none"),
    ("--help in the middle", "rm -rf --help /", "allow none"),
    ("docker stop -h", "docker stop -h web", "allow none"),
    ("kubectl drain -h", "kubectl drain -h", "allow none"),
    ("kill -h alone", "kill -h", "allow none"),
    ("mkfs -h alone", "mkfs.ext4 -h", "allow none"),
    ("shutdown -h now halts", "shutdown -h now", "confirm high"),
    ("shutdown -h alone halts", "shutdown -h", "confirm high"),
    ("df -h is human-readable", "df -h", "allow none"),
    ("free -h", "free -h", "allow none"),
    ("--help after -- is an operand", "rm -rf -- / --help", "deny critical"),
    ("--help with a writing redirect still writes", "reboot --help > /etc/fstab", "confirm critical"),
    ("a dynamic program asking for help is still dynamic", "$TOOL --help", "confirm medium misc-dynamic-program"),
];

/// eval of a known tool's shell set-up code; eval of anything else.
#[rustfmt::skip]
const EVAL: &[Row] = &[
    ("eval ssh-agent -s", "eval \"$(ssh-agent -s)\"", "allow none"),
    ("eval ssh-agent unquoted", "eval $(ssh-agent)", "allow none"),
    ("eval ssh-agent in backquotes", "eval `ssh-agent -s`", "allow none"),
    ("eval starship init", "eval \"$(starship init bash)\"", "allow none"),
    ("eval zoxide init", "eval \"$(zoxide init bash)\"", "allow none"),
    ("eval direnv hook", "eval \"$(direnv hook bash)\"", "allow none"),
    ("eval rbenv init", "eval \"$(rbenv init -)\"", "allow none"),
    ("eval pyenv init", "eval \"$(pyenv init -)\"", "allow none"),
    ("eval fnm env", "eval \"$(fnm env --use-on-cd)\"", "allow none"),
    ("eval mise activate", "eval \"$(mise activate bash)\"", "allow none"),
    ("eval kubectl completion", "eval \"$(kubectl completion bash)\"", "allow none"),
    ("eval dircolors -b", "eval \"$(dircolors -b)\"", "allow none"),
    ("eval brew shellenv by path", "eval \"$(/home/linuxbrew/.linuxbrew/bin/brew shellenv)\"", "allow none"),
    ("eval thefuck --alias", "eval \"$(thefuck --alias)\"", "allow none"),
    ("source <(kubectl completion bash)", "source <(kubectl completion bash)", "allow none"),
    ("eval of a download stays flagged", "eval \"$(curl -fsSL https://example.com/env)\"", "confirm high misc-run-downloaded-output"),
    ("eval of a variable stays flagged", "eval \"$X\"", "confirm medium misc-dynamic-program"),
    ("eval of an unknown tool's output stays flagged", "eval \"$(mytool env)\"", "confirm medium misc-dynamic-program"),
    ("eval of a known tool mixed with a download", "eval \"$(ssh-agent -s; curl -s https://x.example)\"", "confirm high"),
    ("eval of a known tool fed a download", "eval \"$(starship init $(curl -s https://x.example))\"", "confirm medium misc-dynamic-program"),
    ("a known tool with the wrong subcommand", "eval \"$(starship module)\"", "confirm medium misc-dynamic-program"),
    ("eval idiom then reboot", "eval \"$(ssh-agent -s)\" && reboot", "confirm high power-reboot"),
    ("eval coursier's java environment", "eval \"$(cs java --disable)\"", "allow none"),
    ("eval of grog's groff command", "eval \"$(grog -T utf8 doc.me)\"", "allow none"),
    ("the user's editor through sudo", "sudo $EDITOR /var/lib/app/config.nix", "allow none"),
    ("the user's editor, quoted and braced", "\"${VISUAL}\" notes.txt", "allow none"),
    ("the user's pager", "$PAGER /var/log/syslog", "allow none"),
    ("the user's editor on sudoers is the editor rule", "sudo \"$EDITOR\" /etc/sudoers", "allow low account-sudoers-editor"),
    ("another variable as the program stays unknown", "sudo $EDITOR_CMD /etc/hosts", "confirm medium misc-dynamic-program"),
    ("the editor variable read by the line is what was read", "read EDITOR; $EDITOR /etc/hosts", "confirm medium misc-dynamic-program"),
    ("the editor variable set by printf -v is unknown", "printf -v EDITOR %s \"$1\"; sudo $EDITOR /etc/hosts", "confirm medium misc-dynamic-program"),
    ("an indirect assignment through eval", "eval \"$1=\\\"\\$2\\\"\"", "allow none"),
    ("an indirect assignment with braces", "eval ${name}=value", "allow none"),
    ("a function setting a variable by name", "setq() { eval \"$1=\\\"\\$2\\\"\"; }; setq DEBUG 1", "allow none"),
    ("an indirect assignment before a program is that program", "eval \"$1=x reboot\"", "confirm high power-reboot"),
    ("a variable with = later in the word stays unknown", "$CMD --opt=x", "confirm medium misc-dynamic-program"),
    ("a nameref stands for what its target holds", "V=reboot; declare -n R=V; $R", "confirm medium misc-dynamic-program"),
    ("local -n too", "f() { local -rn R=V; \"$R\" now; }; f", "confirm medium misc-dynamic-program"),
    ("declare without -n keeps the value", "declare R=ls; $R -l", "allow none"),
];

/// Signals and flags read with their values.
#[rustfmt::skip]
const FLAG_VALUES: &[Row] = &[
    ("kill -1 PID sends HUP", "kill -1 $pid", "allow none"),
    ("kill -HUP from a pid file", "kill -HUP \"$(cat /run/nginx.pid)\"", "allow none"),
    ("kill -1 literal pid", "kill -1 1234", "allow none"),
    ("kill -s HUP", "kill -s HUP 1234", "allow none"),
    ("kill -9 PID", "kill -9 4321", "allow none"),
    ("kill -- -PGID", "kill -- -4321", "allow none"),
    ("kill -l lists signals", "kill -l", "allow none"),
    ("kill -9 -1 kills everything", "kill -9 -1", "confirm critical misc-kill-all-processes"),
    ("kill -- -1 kills everything", "kill -- -1", "confirm critical misc-kill-all-processes"),
    ("kill -s KILL -1 kills everything", "kill -s KILL -1", "confirm critical misc-kill-all-processes"),
    ("kill -KILL -1 kills everything", "sudo kill -KILL -1", "confirm critical misc-kill-all-processes"),
    ("kill -TERM 1 signals init", "kill -TERM 1", "confirm high misc-kill-init"),
    ("kill -s KILL 1 signals init", "kill -s KILL 1", "confirm high misc-kill-init"),
    ("systemctl kill -s HUP reopens logs", "systemctl kill -s HUP nginx", "allow"),
    ("systemctl kill --signal=USR1", "systemctl kill --signal=USR1 rsyslog", "allow"),
    ("systemctl kill -s KILL stops", "systemctl kill -s KILL nginx", "confirm high svc-critical-stop"),
    ("systemctl kill without a signal stops", "systemctl kill haproxy", "confirm high svc-critical-stop"),
    ("systemctl halt --when cancel", "systemctl halt --when cancel", "allow none"),
    ("systemctl poweroff --when=cancel", "systemctl poweroff --when=cancel", "allow none"),
    ("systemctl soft-reboot --when cancel", "systemctl soft-reboot --when cancel", "allow none"),
    ("systemctl halt --when +5 still halts", "systemctl halt --when +5", "confirm high power-systemctl-poweroff"),
    ("--dry-run=none is no dry run", "kubectl delete ns prod --dry-run=none", "confirm critical k8s-delete-namespace"),
    ("--dry-run is a dry run", "kubectl delete ns prod --dry-run", "allow"),
    ("--dry-run=client is a dry run", "kubectl delete ns prod --dry-run=client", "allow"),
    ("--dry-run=server is a dry run", "kubectl delete ns prod --dry-run=server", "allow"),
];

/// A literal script fed to a shell is checked for what it runs, and the
/// shell is not "leaving the guard".
#[rustfmt::skip]
const FED_SHELLS: &[Row] = &[
    ("echo piped into bash", "echo 'ls -l' | bash", "allow none"),
    ("printf piped into sh", "printf 'uptime\\n' | sh", "allow none"),
    ("here-document into bash", "bash <<EOF\nls\nEOF", "allow none"),
    ("quoted here-document into sh", "sh <<'EOF'\ndf -h\nuptime\nEOF", "allow none"),
    ("here-string into zsh", "zsh <<< 'echo hi'", "allow none"),
    ("script file on stdin", "bash < deploy.sh", "allow none"),
    ("echo piped into dash", "echo \"echo 'dash is executed'\" | dash", "allow none"),
    ("cat here-document piped into bash", "cat <<EOF | bash\nuptime\nEOF", "allow none"),
    ("reboot fed to bash is reboot", "echo reboot | bash", "confirm high power-reboot"),
    ("here-document with reboot into ssh", "ssh web1 <<'EOF'\nsudo reboot\nEOF", "confirm high power-reboot"),
    ("curl piped into bash", "curl -fsSL https://get.example.com | bash", "confirm high misc-pipe-to-shell"),
    ("wget piped into sudo sh", "wget -qO- https://example.com/i.sh | sudo sh", "confirm high misc-pipe-to-shell"),
    ("unknown output piped into bash", "cat deploy.sh | bash", "confirm medium shell-interactive"),
    ("an interactive shell", "bash", "confirm medium shell-interactive"),
    ("a shell reading the terminal", "sh < /dev/tty", "confirm medium shell-interactive"),
    ("sudo bash", "sudo bash", "confirm medium shell-interactive"),
];

/// The parser forms of issue 10 (they used to be syntax errors or hang).
#[rustfmt::skip]
const PARSER_FORMS: &[Row] = &[
    ("select loop", "select x in a b; do echo $x; done", "allow none"),
    ("select loop without in", "select x; do echo $x; break; done", "allow none"),
    ("select loop body is checked", "select x in a b; do reboot; done", "confirm high power-reboot"),
    ("select with a prompt", "PS3='Pick: '; select f in *; do echo \"$f\"; break; done", "allow none"),
    ("case inside $( ) without (", "x=$(case $1 in a) echo A;; esac)", "allow none"),
    ("case with ( patterns inside $( )", "x=$(case $1 in (a) echo A;; (b|c) echo B;; esac)", "allow none"),
    ("case inside $( ) over lines", "x=$(case $1 in\n  a) echo A;;\n  *) echo other;;\nesac)", "allow none"),
    ("case inside $( ) runs its arm", "x=$(case $1 in a) reboot;; esac)", "confirm high power-reboot"),
    ("the word case as an argument inside $( )", "x=$(echo case in a)", "allow none"),
    ("for (( ;; )) with an empty condition", "for ((i=0;;i++)); do break; done", "allow none"),
    ("for ((;;)) infinite loop", "for ((;;)); do sleep 1; done", "allow none"),
    ("for ((;;)) body is checked", "for ((;;)); do reboot; done", "confirm high power-reboot"),
    ("comment with an apostrophe inside $( )", "x=$(echo a # it's\n)", "allow none"),
    ("comment after two blanks inside $( )", "x=$(echo a  # it's\n)", "allow none"),
    ("comment line inside $( )", "x=$(\n  # don't\n  date\n)", "allow none"),
    ("quoted here-document with ) inside $( )", "x=$(cat <<'EOF'\na)b\nEOF\n)", "allow none"),
    ("here-document with ) inside $( )", "x=$(cat <<EOF\n(a) b)\nEOF\n)", "allow none"),
    ("here-document with an odd quote inside \"$( )\"", "echo \"$(cat <<'EOF'\nshe said \"hello\nEOF\n)\"", "allow none"),
    ("here-document with an apostrophe inside $( )", "v=$(cat <<'EOF'\nit's here\nEOF\n)", "allow none"),
    ("here-document inside $( ) still runs what it feeds", "x=$(bash <<'EOF'\nreboot\nEOF\n)", "confirm high power-reboot"),
    ("empty here-document delimiter, closed", "true <<''\n\n", "allow none"),
    ("empty here-document delimiter, open", "true <<'' ", "incomplete"),
    ("here tag with an unclosed $[ and tabs", "<<E$[\t\t", "incomplete"),
    ("here-document opened on the last line", "cat <<EOF", "incomplete"),
    ("here-string on the last line", "cat <<< \"hi\"", "allow none"),
    ("<< inside a comment", "echo hi # a <<b", "allow none"),
    ("shift inside $(( ))", "echo $((1 << 2))", "allow none"),
    ("shift inside (( ))", "((x <<= 1))", "allow none"),
    ("unclosed quote at the end", "echo 'abc", "incomplete"),
    ("trailing pipe", "ls |", "incomplete"),
    ("if without fi", "if true; then ls", "incomplete"),
];

/// Errors inside a nested string are reported where they are.
#[rustfmt::skip]
const NESTED_ERRORS: &[Row] = &[
    ("unclosed quote inside ssh's string", "ssh host 'echo \"unclosed'", "syntax 1:16"),
    ("if then inside sh -c", "sh -c 'if then'", "syntax 1:15"),
    ("unfinished if inside bash -c after a list", "ls; sh -c 'if true; then ls'", "syntax 1:28"),
    ("error on the second line of the outer text", "ls\nbash -c 'echo ('", "syntax 2:16"),
    ("stray ) inside bash -c", "bash -c 'ls )'", "syntax 1:13"),
    ("unfinished script in a here-document fed to bash", "bash <<'EOF'\nls\nif true\nEOF", "syntax 4:1"),
];

/// Everyday lines that were already silent and must stay so.
#[rustfmt::skip]
const EVERYDAY: &[Row] = &[
    ("grep a log", "grep -i error /var/log/syslog | tail -n 50", "allow none"),
    ("journalctl since", "journalctl -u nginx --since '1 hour ago'", "allow none"),
    ("tar a backup", "tar czf /backup/etc-$(date +%F).tgz /etc", "allow none"),
    ("for over hosts with ssh uptime", "for h in web1 web2; do ssh $h uptime; done", "allow none"),
    ("while read loop", "while read -r line; do echo \"$line\"; done < hosts.txt", "allow none"),
    ("arithmetic for", "for ((i=0; i<3; i++)); do echo $i; done", "allow none"),
    ("case in a script", "case \"$1\" in start) echo start;; stop) echo stop;; esac", "allow none"),
    ("function defined and called", "greet() { echo \"hi $1\"; }; greet you", "allow none"),
    ("subshell cd", "(cd /tmp && ls)", "allow none"),
    ("process substitution diff", "diff <(sort a) <(sort b)", "allow none"),
    ("export with substitution", "export NOW=$(date +%s)", "allow none"),
    ("systemctl status", "systemctl status nginx", "allow none"),
    ("kubectl get pods", "kubectl get pods -A -o wide", "allow none"),
    ("docker ps", "docker ps --format '{{.Names}}'", "allow none"),
    ("find and print", "find /var/log -name '*.gz' -mtime +7 -print", "allow none"),
];

const TABLES: &[(&str, &[Row])] = &[
    ("tests", TESTS),
    ("recursion", RECURSION),
    ("help", HELP),
    ("eval", EVAL),
    ("flag values", FLAG_VALUES),
    ("fed shells", FED_SHELLS),
    ("parser forms", PARSER_FORMS),
    ("nested errors", NESTED_ERRORS),
    ("everyday", EVERYDAY),
];

fn all_rows() -> impl Iterator<Item = (&'static str, &'static Row)> {
    TABLES
        .iter()
        .flat_map(|(table, rows)| rows.iter().map(move |r| (*table, r)))
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
fn check_row(rules: &RuleSet, line: &str, expect: &str) -> Option<String> {
    let result = check_line(line, rules);
    let mut words = expect.split_whitespace();
    let first = words.next().unwrap_or_else(|| panic!("empty expectation"));
    match (first, result) {
        ("incomplete", Err(e)) if e.is_incomplete() => None,
        ("syntax", Err(ParseError::Syntax { line: l, col, .. })) => {
            let want = words.next().expect("syntax L:C");
            let got = format!("{l}:{col}");
            (got != want).then(|| format!("expected a syntax error at {want}, got one at {got}"))
        }
        ("incomplete" | "syntax", Err(e)) => {
            Some(format!("expected {expect}, got the error: {e:?}"))
        }
        ("incomplete" | "syntax", Ok(v)) => {
            Some(format!("expected {expect}, got {}", describe(&v)))
        }
        (_, Err(e)) => Some(format!("expected a verdict, got the error: {e}")),
        (action, Ok(v)) => {
            let action = match action {
                "allow" => Action::Allow,
                "confirm" => Action::Confirm,
                "deny" => Action::Deny,
                other => panic!("bad action in expectation {expect:?}: {other}"),
            };
            let risk = match words.next() {
                None | Some("*") => None,
                Some(r) => Some(Risk::parse(r).unwrap_or_else(|| panic!("bad risk in {expect:?}"))),
            };
            let rule = words.next();
            let mut problems = Vec::new();
            if v.action != action || risk.is_some_and(|r| r != v.risk) {
                problems.push(format!("expected {expect}"));
            }
            if let Some(rule) = rule
                && !v.findings.iter().any(|f| f.rule == rule)
            {
                problems.push(format!("expected a finding of rule {rule}"));
            }
            (!problems.is_empty())
                .then(|| format!("{}; got {}", problems.join(" and "), describe(&v)))
        }
    }
}

#[test]
fn every_line_gets_the_expected_verdict() {
    let rules = RuleSet::builtin();
    let show = std::env::var_os("ENGINE_LINES_SHOW").is_some();
    let mut failures = Vec::new();
    for (table, (name, line, expect)) in all_rows() {
        if show {
            let got = match check_line(line, &rules) {
                Ok(v) => describe(&v),
                Err(e) => format!("error: {e:?}"),
            };
            println!("[{table}] {name}: {got}");
        }
        if let Some(problem) = check_row(&rules, line, expect) {
            failures.push(format!("[{table}] {name}: {line:?}\n    {problem}"));
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
fn the_table_is_big_and_its_names_are_unique() {
    let mut names = std::collections::HashSet::new();
    for (_, (name, _, _)) in all_rows() {
        assert!(names.insert(*name), "duplicate row name {name:?}");
    }
    assert!(names.len() >= 120, "only {} rows", names.len());
}

/// The inputs that made brush-parser 0.4.0 loop forever or fail, and the
/// parser forms of issue 10.
const RUNAWAY_INPUTS: &[&str] = &[
    "true <<'' ",
    "true <<''\n",
    "true <<\"\" x",
    "<<E$[\t\t",
    "<<E$[\t ",
    "<<-E$[\t\t",
    "<<E$(\t\t",
    "<<E$((\t\t",
    "<<IFSdountil\"$[\t\t",
    "cat <<'' <<E$[\t\t",
    "x=$(true <<'' )",
    "bash -c \"true <<'' \"",
    // Found by fuzzing: an empty or carriage-return delimiter followed by a
    // blank, and the fuzzer's own smallest inputs.
    "cat <<'' ",
    "x <<\r ",
    "s \t <<\r --do ",
    "s \t <<\r> << \t>> <<\ro ",
    "select x in a b; do echo $x; done",
    "x=$(case $1 in a) echo A;; esac)",
    "for ((i=0;;i++)); do break; done",
    "x=$(echo a # it's\n)",
    "x=$(cat <<'EOF'\na)b\nEOF\n)",
];

/// How long a parse may take before it counts as a hang: these inputs take
/// milliseconds, a runaway never ends; the margin is for a loaded machine
/// running a debug build, not a performance figure (that is benches/).
const HANG: Duration = Duration::from_secs(10);

/// Runs `parse_line` on another thread and waits at most `limit`.
fn parse_within(line: &str, limit: Duration) -> Option<Result<usize, ParseError>> {
    let (tx, rx) = mpsc::channel();
    let owned = line.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(parse_line(&owned).map(|s| s.commands.len()));
    });
    rx.recv_timeout(limit).ok()
}

#[test]
fn runaway_inputs_end_quickly_with_a_verdict_or_an_error() {
    for line in RUNAWAY_INPUTS {
        let result = parse_within(line, HANG);
        assert!(result.is_some(), "{line:?} did not return within {HANG:?}");
        if let Some(Err(e)) = result {
            assert!(
                !e.to_string().is_empty(),
                "{line:?}: an error that says nothing"
            );
        }
    }
}

#[test]
fn the_vendored_parser_itself_ends_on_runaway_inputs() {
    // safe-run's guard says "not finished" before the parser sees a
    // here-document opened on the last line; the patched parser must end
    // on such input by itself too (vendor/brush-parser/PATCHES.md).
    for line in RUNAWAY_INPUTS {
        let (tx, rx) = mpsc::channel();
        let owned = line.to_string();
        std::thread::spawn(move || {
            let mut reader = std::io::Cursor::new(owned.into_bytes());
            let options = brush_parser::ParserOptions::default();
            let mut parser = brush_parser::Parser::new(&mut reader, &options);
            let _ = tx.send(parser.parse_program().is_ok());
        });
        assert!(
            rx.recv_timeout(HANG).is_ok(),
            "brush-parser did not return within 2 s on {line:?}"
        );
    }
}

#[test]
fn runaway_inputs_stay_within_a_memory_and_time_budget() {
    // The binary as a child with a 1 GB address-space limit and a 10 s
    // timeout: a loop that allocates (the old here-tag bug grew by hundreds
    // of MB a second) dies of the limit or the timeout instead of
    // returning, and is caught here.
    let bin = env!("CARGO_BIN_EXE_safe-run");
    for line in RUNAWAY_INPUTS {
        let out = crate::common::with_spawn_lock(|| {
            std::process::Command::new("bash")
                .arg("-c")
                .arg("ulimit -v 1000000; exec timeout 10 \"$0\" check --no-site-rules \"$1\"")
                .arg(bin)
                .arg(line)
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run bash")
        });
        let code = out.status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{line:?}: exit {code:?} (124 is the timeout), stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = [out.stdout, out.stderr].concat();
        let said = String::from_utf8_lossy(&said);
        assert!(
            said.contains("ALLOW")
                || said.contains("CONFIRM")
                || said.contains("DENY")
                || said.contains("ERROR"),
            "{line:?}: neither a verdict nor an error: {said}"
        );
    }
}

/// Pieces of the shell that drive the tokenizer's here-document and nesting
/// states.
const PIECES: &[&str] = &[
    "<<", "<<-", "<<<", "'", "\"", "''", "$(", "$[", "$((", "((", "))", "(", ")", "]", "\t", "\n",
    " ", "EOF", "E", "x", "`", "${", "}", "case", " in ", "esac", ";;", "#", "\\", "$", ";", "|",
    "&", "cat", "do", "done", "for ", "select ",
];

#[test]
fn generated_heredoc_and_nesting_input_parses_within_a_time_bound() {
    let strategy = proptest::collection::vec(proptest::sample::select(PIECES), 0..40)
        .prop_map(|pieces| pieces.concat());
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |line| {
            let result = parse_within(&line, HANG);
            prop_assert!(result.is_some(), "{line:?} did not return within {HANG:?}");
            Ok(())
        })
        .map_err(|e: proptest::test_runner::TestError<String>| e.to_string())
        .unwrap();
    let _: Option<TestCaseError> = None;
}
