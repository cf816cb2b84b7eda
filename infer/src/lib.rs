//! Inference for pyro-rs, built from effect handlers and traces.

mod accumulate;
mod error;
mod importance;
mod marginal;
pub(crate) mod seeding;

pub use error::InferError;
pub use importance::{Guide, Importance, Posterior, Prior, Proposal, StreamingPosterior};
pub use marginal::EmpiricalMarginal;
pub use pyro_poutine as poutine;
