//! safe-run: a guard rail between an operator and a production host.
//!
//! The crate is a library with a thin binary (`main.rs`). The pure core —
//! `parse`, `word`, `unwrap`, `rules`, `classify`, `sanitize` — reads no
//! environment, clock, terminal or process state; everything it needs is
//! passed in, so it is tested with plain values. The edges (`cli`, the
//! `check` and `rules` commands' output) stay thin.

pub mod audit;
pub mod audit_log;
pub mod check;
pub mod classify;
pub mod cli;
pub mod command;
pub mod complete;
pub mod config;
pub mod confirm;
pub mod exec;
pub mod hint;
pub mod identity;
pub mod manpage;
pub mod parse;
pub mod pipeline;
pub mod preview;
pub mod recorder;
pub mod redact;
pub mod review;
pub mod review_cmd;
pub mod risk;
pub mod rules;
pub mod rules_cmd;
pub mod rules_dir;
pub mod rulespec;
pub mod sanitize;
pub mod shell;
pub mod shell_editor;
pub mod shell_exec;
pub mod shell_state;
pub mod syslog;
pub mod unwrap;
