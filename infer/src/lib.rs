//! Inference for pyro-rs, built from effect handlers and traces.

mod error;
mod marginal;
pub(crate) mod seeding;

pub use error::InferError;
pub use marginal::EmpiricalMarginal;
pub use pyro_poutine as poutine;
