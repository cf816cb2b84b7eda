//! pyro-rs: Pyro's effect handlers, traces, distributions and inference, in Rust.
//!
//! This facade re-exports the workspace crates; depend on it, or on a single crate.
//!
//! # Quick start
//! ```
//! use pyro_core::distributions::Normal;
//! use pyro_core::infer::Importance;
//! use pyro_core::poutine::{Name, PyroError, observe, sample, trace};
//!
//! fn scale(guess: f64) -> Result<f64, PyroError> {
//!     let weight = sample("weight", Normal::new(guess, 1.0))?;
//!     observe("measurement", Normal::new(weight, 0.75), 9.5)?;
//!     Ok(weight)
//! }
//!
//! let tr = trace(scale).get_trace(8.5)?;
//! assert_eq!(tr.len(), 2);
//! let posterior = Importance::new(scale, 10_000).seed(1).run(8.5)?;
//! let weight = posterior.marginal(&[Name::from("weight")])?;
//! assert!((weight.mean()[0] - 9.14).abs() < 0.05);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Crates
//! - [`distributions`]: the families, `Distribution`, `AnyDistribution`, `Batched`, constraints.
//! - [`trace`]: `Site`, `Name`, `Trace`.
//! - [`poutine`]: primitives, plates, the handler stack and every handler.
//! - [`infer`]: importance sampling, `EmpiricalMarginal`, `Predictive`, and MCMC (`Mcmc` with the
//!   trace Metropolis-Hastings kernel `TraceMh`, convergence diagnostics, CSV/JSON export).

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
