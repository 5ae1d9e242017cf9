pub mod identity;
pub mod log;
pub mod record;
pub mod recorder;
pub mod redact;
pub mod review;
pub mod syslog;
