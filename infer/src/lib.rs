//! Inference for pyro-rs (filled in by the inference issue).
//!
//! ```
//! use pyro_infer::poutine::trace::distributions::Normal;
//! assert!(Normal::new(0.0, 1.0).is_ok());
//! ```

pub use pyro_poutine as poutine;
