//! Benchmarks for pyro-rs live in `benches/` of this crate; `cargo xtask bench` runs them and
//! prints the ratios against the hand-written baselines.
