//! Shared helpers of the integration tests. Each test binary
//! (`tests/*/main.rs`) includes this module with
//! `#[path = "../common/mod.rs"] mod common;`.
//!
//! - `bin`: running the built binary (`SafeRun`, `check_json`) and other
//!   programs (`run`, `run_within`) with a clean environment, bounded,
//!   output captured (`Run`); the spawn lock every fork goes through.
//! - `fixtures`: a temp dir with a config, an audit log, a HOME and fake
//!   programs first on PATH (`Env`); files, quoting, audit records.
//! - `pty`: the one pseudo-terminal driver (`Pty`).
//! - `tools`: what a test needs from the machine (`require_tool`): a
//!   `skipped:` line when missing, a failure under `CI=true`.
//! - `wait`: deadline waits instead of sleeps.

// Each binary uses a part of it.
#![allow(dead_code, unused_imports)]

pub mod bin;
pub mod fixtures;
pub mod pty;
pub mod tools;
pub mod wait;

pub use bin::{Run, SafeRun, bin, check_json, spawn, with_spawn_lock};
pub use fixtures::{Env, read_records, rules_of, sh_quote, short_host, toml_str, write_file};
pub use pty::Pty;
pub use tools::{require, require_tool};
pub use wait::{pid_alive, wait_for};
