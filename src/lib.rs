//! safe-run: a guard rail between an operator and a production host.
//!
//! The crate is a library with a thin binary (`main.rs`). The pure core —
//! `parse`, `word`, `unwrap`, `rules`, `classify`, `sanitize` — reads no
//! environment, clock, terminal or process state; everything it needs is
//! passed in, so it is tested with plain values. The edges (`cli`, the
//! `check` and `rules` commands' output) stay thin.

pub mod audit;
pub mod classify;
pub mod cli;
pub mod cmd;
pub mod command;
pub mod config;
pub mod confirm;
pub mod exec;
pub mod parse;
pub mod pipeline;
pub mod preview;
pub mod rules;
pub mod shell;
pub mod term;
pub mod unwrap;
pub mod verdict;
