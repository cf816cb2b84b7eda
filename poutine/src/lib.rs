//! Poutine, the effect handlers of pyro-rs (filled in by the poutine issue).
//!
//! ```
//! use pyro_poutine::trace::distributions::Normal;
//! assert!(Normal::new(0.0, 1.0).is_ok());
//! ```

pub use pyro_trace as trace;
