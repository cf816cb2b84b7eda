//! Benchmarks for pyro-rs.
