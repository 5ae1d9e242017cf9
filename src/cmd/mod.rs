pub(crate) mod approve;
pub(crate) mod audit;
pub mod check;
pub(crate) mod man;
pub(crate) mod rules;
