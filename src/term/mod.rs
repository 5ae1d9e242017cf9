pub mod diag;
pub mod paint;
pub mod report;
pub mod sanitize;
pub mod width;
