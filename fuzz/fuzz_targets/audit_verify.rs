//! cargo-fuzz target: any bytes as an audit log through `audit::verify`
//! and `audit::verify_report`. The properties: invariants.rs.

#![no_main]

#[path = "../invariants.rs"]
mod invariants;

libfuzzer_sys::fuzz_target!(|data: &[u8]| invariants::audit_verify(data));
