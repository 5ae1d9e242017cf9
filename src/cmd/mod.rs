pub mod audit;
pub mod check;
pub mod man;
pub mod rules;
