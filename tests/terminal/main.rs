//! The binary on a real pseudo-terminal: the interactive confirmation and
//! the interactive shell, driven by `common::pty`.
//!
//! One test binary (each former `tests/*.rs` file is a module);
//! `cargo test --test terminal [MODULE::]` runs these alone. Each test has
//! a pty of its own; the only state the tests share is the process's file
//! descriptor table, which `common::bin`'s spawn lock keeps from leaking a
//! pty into another test's child.

#[path = "../common/mod.rs"]
mod common;

mod confirm_pty;
mod shell_pty;
