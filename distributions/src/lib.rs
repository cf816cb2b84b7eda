//! Probability distributions for pyro-rs: typed values, validated constructors, exact
//! log-densities, and a type-erased form a trace can store.
//!
//! Every family follows the parameterisation of `torch.distributions` (and so Pyro). Constructors
//! validate their parameters and return a [`ParamError`] naming the family, the parameter and the
//! value. `log_prob` is exactly `-inf` outside the support, never NaN and never a panic.
//!
//! # Quick start
//! ```
//! use pyro_distributions::{AnyDistribution, Batched, Distribution, Normal, Value};
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
//!
//! // A typed distribution: `Real` values for a continuous family (an `f64` that can carry a
//! // gradient; see `pyro_tape`).
//! let weight = Normal::new(8.5, 1.0)?;
//! let w = weight.sample(&mut rng);
//! let lp = weight.log_prob(&w);
//! assert!(lp.is_finite());
//!
//! // Many draws as one vectorised site.
//! let ys = Batched::iid(Normal::new(w, 0.75)?, 3)?;
//! assert_eq!(ys.sample(&mut rng).len(), 3);
//!
//! // The type-erased form a trace stores, scored again later.
//! let erased: AnyDistribution = weight.into();
//! assert_eq!(erased.log_prob(&Value::Real(w.value())), lp);
//!
//! // Bad parameters are errors that say what and where.
//! assert_eq!(
//!     Normal::new(0.0, -1.0).unwrap_err().to_string(),
//!     "Normal: invalid parameter scale = -1 (must be finite and > 0)"
//! );
//! # Ok::<(), pyro_distributions::ParamError>(())
//! ```
//!
//! # Families
//! One file per family in `families/`; see [`AnyDistribution`] for the list.

mod any;
mod batched;
mod constraint;
mod distribution;
mod error;
mod families;
mod implicit;
mod memo;
mod reparam;
mod special;
#[cfg(test)]
mod testing;
mod transform;
mod validation;
mod value;

pub use any::AnyDistribution;
pub use batched::{Batched, Location};
pub use constraint::{Constraint, SIMPLEX_TOLERANCE, ScalarSupport};
pub use distribution::{Cdf, Distribution, ErasedDistribution, IntoDistribution, Partials};
pub use error::ParamError;
pub use families::*;
pub use pyro_tape::{Real, Reals};
pub use validation::{enable_validation, is_validation_enabled};
pub use value::{Element, Observation, Value, ValueType};

/// The random-number traits distributions sample with (re-exported from `rand`).
pub use rand::Rng;
