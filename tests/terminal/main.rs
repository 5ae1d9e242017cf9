//! The binary on a real pseudo-terminal: the interactive confirmation and
//! the interactive shell, driven by `common::pty`.
//!
//! One test binary (each former `tests/*.rs` file is a module);
//! `cargo test --test terminal [MODULE::]` runs these alone. Each test has
//! a pty of its own; what the tests share is the process's file descriptor
//! table. A pty is set up while no other test thread forks (the spawn lock
//! of `common::bin`), so no other test's child holds its error pipe; its
//! master, which the pty crate does not mark close-on-exec, does stay open
//! in children started later by other tests, and no test depends on it
//! closing: they wait for exit statuses and signal processes by PID.

mod approval_pty;
#[path = "../common/mod.rs"]
mod common;
mod confirm_pty;
mod freeze_pty;
mod orphans_pty;
mod previews;
mod shell_habits;
mod shell_pty;
mod term_output;
