//! The engine, through the library and through `safe-run check` and
//! `safe-run rules`: verdicts on whole lines, output contracts, properties
//! and the fuzz targets' invariants on random input; the named-line tables
//! (tests/tables), the crate's module graph and the figures the docs state.
//! Nothing here runs a command line.
//!
//! One test binary (each former `tests/*.rs` file is a module): cargo
//! links one binary per target, and on a small CI machine the linking
//! dominated. `cargo test --test engine [MODULE::]` runs these alone.

mod cli_check;
#[path = "../common/mod.rs"]
mod common;
mod context;
mod docs_figures;
mod domain_tables;
mod engine_lines;
mod fuzz_smoke;
mod layout;
mod properties;
mod verdicts;
