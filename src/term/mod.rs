pub(crate) mod diag;
pub mod paint;
pub(crate) mod report;
pub mod sanitize;
pub(crate) mod width;
