//! safe-run: a guard rail between an operator and a production host.
//!
//! A library with a thin binary (`main.rs`). This file is the map: where
//! each step of a line's way lives, and the rule that keeps the core pure.
//!
//! # A line's way through the crate
//!
//! Data flows one way: `cli` → `session` → `pipeline` → the steps. No step
//! imports the pipeline, the session or the command line.
//!
//! | step | file | what it owns |
//! | --- | --- | --- |
//! | arguments | [`cli`] | clap types; dispatch to a subcommand, the shell or one request |
//! | session | `session` | configuration, rules, identity, policy, recorder, terminal facts, loaded once |
//! | order | `pipeline` | only the order of the steps below, and what a failed step means |
//! | parse | [`parse`] | the shell grammar (brush-parser) behind guards; the walk over its tree; words |
//! | unwrap | `unwrap` | seeing through `sudo`, `env`, `bash -c`, `ssh host …` and other wrappers |
//! | context | [`context`] | where a line runs, as a value: working directory, variables, home, the scripts it runs |
//! | commands | [`command`] | the analysed form of a line: every simple command it could run, and where each acts |
//! | rules | [`rules`] | the rule schema (shared with `build.rs`), matching, the built-in library, site files |
//! | classify | [`classify`] | every command against the rules: findings and the verdict |
//! | vocabulary | [`verdict`] | Risk, Action, Finding, Verdict, Ask, Mode, Decision — each defined once |
//! | policy | `policy` | what each risk level asks, what a reason must be, resolved from the configuration |
//! | freeze | [`freeze`], `gate` | change-freeze windows and the freeze file, evaluated at a time passed in; a frozen risky line refused unless break-glass is given |
//! | confirm | `confirm` | the whole conversation with the operator: explain, preview, token, reason |
//! | approval | [`approval`], `gate` | two-person approval: which lines need one, the request and its code, the SSH signature checked against `allowed_signers`, single use |
//! | preview | `preview` | running a rule's dry-run command, bounded; summarising what it printed into the few facts that matter |
//! | scripts | [`script_files`] | reading the scripts a line runs, bounded and never blocking, for the core |
//! | controls | [`controls`] | the change controls' side effects behind one trait: the clock, the freeze file, the allowed signers, the ledger of used approvals, the store of requests |
//! | audit | [`audit`] | records and their hash chain, redaction, the log writer, recorder, syslog, review |
//! | fleet | [`fleet`] | slots: at most N hosts of a group in a disruptive change at once; the local and etcd stores |
//! | exec | `exec` | running the approved command, signals, how it ended |
//! | exit | [`exit`] | every exit status (126/127/128+N mapped once) and the error `main` prints |
//!
//! Around the line: [`config`] (the site configuration file), [`shell`]
//! (the interactive shell: editor, prompt, state, foreground job, hint,
//! completion), [`cmd`] (`check`, `rules`, `audit`, `approve`, man pages and
//! completions) and [`term`] (sanitising, colour, width and wrapping, the
//! verdict report, `file:line:col` diagnostics).
//!
//! # The pure core
//!
//! `parse`, `unwrap`, `command`, `context`, `rules` (but `rules::dir`, which reads
//! directories), `classify`, `verdict`, `policy`, `freeze`, `approval` (but
//! `approval::state`, which keeps the ledger), the audit record's hashing
//! and verification (`audit::record`), redaction (`audit::redact`), review
//! queries (`audit::review`), `term::sanitize`, `fleet`'s own file (which
//! findings disrupt a node, how a refusal reads) and the preview summarisers
//! (`preview`'s files but its runner) do no process, terminal,
//! clock or environment access: everything they need is passed in, so they
//! are tested with plain values. Process spawning, terminals, signals,
//! prompts and file writes live at the edges (`exec`, `confirm`'s terminal,
//! `shell`, `audit::log`, `audit::recorder`, `audit::syslog`, `session`,
//! `script_files`, `fleet`'s stores and guard).

pub mod approval;
pub mod audit;
pub mod classify;
pub mod cli;
pub mod cmd;
pub mod command;
pub mod config;
pub(crate) mod confirm;
pub mod context;
pub mod controls;
pub(crate) mod exec;
pub mod exit;
pub mod fleet;
pub mod freeze;
pub(crate) mod gate;
pub mod parse;
pub(crate) mod pipeline;
pub mod policy;
pub(crate) mod preview;
pub mod rules;
pub mod script_files;
pub(crate) mod session;
pub mod shell;
pub mod term;
pub(crate) mod unwrap;
pub mod verdict;
