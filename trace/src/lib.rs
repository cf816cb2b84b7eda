//! The `Trace` data structure of pyro-rs (filled in by the trace issue).
//!
//! ```
//! // The crate re-exports the distributions it records.
//! use pyro_trace::distributions::Normal;
//! assert!(Normal::new(0.0, 1.0).is_ok());
//! ```

pub use pyro_distributions as distributions;
