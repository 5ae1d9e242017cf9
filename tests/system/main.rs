//! The binary as the system runs it: commands without a terminal (exit
//! statuses, streams, signals, approval, the audit log left behind), the
//! configuration files it reads and how every command loads them alike
//! (`loading`), fleet slots between simulated hosts on the local store and
//! a real etcd (`fleet`), a real OpenSSH login with the binary as
//! the login shell, and what the Debian package ships.
//!
//! One test binary (each former `tests/*.rs` file is a module);
//! `cargo test --test system [MODULE::]` runs these alone. They share the
//! process safely: every run without a terminal has a session of its own
//! (`setsid`), so when the binary signals its process group the test
//! process is not in it; the signal tests signal only PIDs they started;
//! nothing changes the test process's environment, directory or signal
//! dispositions; and the sshd test creates a user of its own and listens
//! on a free port of 127.0.0.1.

#[path = "../common/mod.rs"]
mod common;

mod approval;
mod config;
mod fleet;
mod freeze;
mod loading;
mod packaging;
mod run;
mod ssh_login;
