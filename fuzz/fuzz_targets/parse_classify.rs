//! cargo-fuzz target: any text as a command line through parse, classify
//! and both renderings of `safe-run check`. The properties: invariants.rs.

#![no_main]

#[path = "../invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| invariants::parse_classify(data));
