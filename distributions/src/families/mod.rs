//! One file per distribution family.

mod bernoulli;
mod normal;

pub use bernoulli::Bernoulli;
pub use normal::Normal;
