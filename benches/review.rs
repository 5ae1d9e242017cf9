//! Audit review benchmarks (being written).
fn main() {}
