//! The audit log: the library's writer against real files and processes,
//! `safe-run audit` reading logs back, and the syslog copy received by a
//! real rsyslogd on a private socket.
//!
//! One test binary (each former `tests/*.rs` file is a module);
//! `cargo test --test audit [MODULE::]` runs these alone. The rsyslogd
//! tests start one daemon each, on a socket in their own temp dir, so
//! they share nothing with each other or with the other tests.

mod audit_log;
#[path = "../common/mod.rs"]
mod common;
mod faults;
mod fuse;
mod review;
mod support;
mod syslog_rsyslogd;
