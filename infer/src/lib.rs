//! Inference for pyro-rs, built from effect handlers and traces.

mod accumulate;
mod error;
mod importance;
mod marginal;
mod particle;
pub(crate) mod seeding;

pub use error::InferError;
pub use importance::{Importance, Posterior, StreamingPosterior};
pub use marginal::EmpiricalMarginal;
pub use particle::{Guide, Prior, Proposal};
pub use pyro_poutine as poutine;
