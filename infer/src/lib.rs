//! Inference for pyro-rs, built from effect handlers and traces.

mod error;
pub(crate) mod seeding;

pub use error::InferError;
pub use pyro_poutine as poutine;
