//! pyro-rs: Pyro's effect handlers, traces, distributions and inference, in Rust.
//!
//! This facade re-exports the workspace crates; depend on it, or on a single crate.
//!
//! # Quick start
//! ```
//! use pyro_core::distributions::{Distribution, Normal};
//! use pyro_core::rand::SeedableRng;
//!
//! let mut rng = pyro_core::rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
//! let weight = Normal::new(8.5, 1.0)?;
//! let w = weight.sample(&mut rng);
//! let measurement = Normal::new(w, 0.75)?;
//! println!("log p(9.5 | w) = {}", measurement.log_prob(&9.5));
//! # Ok::<(), pyro_core::distributions::ParamError>(())
//! ```

pub use pyro_distributions as distributions;
pub use pyro_infer as infer;
pub use pyro_poutine as poutine;
pub use pyro_trace as trace;
/// Random-number generation (re-exported `rand`).
pub use rand;

/// The README's code blocks, compiled and run as doc-tests so that the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
