pub(crate) mod identity;
pub mod log;
pub mod record;
pub(crate) mod recorder;
pub(crate) mod redact;
pub mod review;
pub mod syslog;
