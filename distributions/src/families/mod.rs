//! One file per distribution family.

mod bernoulli;
mod cauchy;
mod delta;
mod exponential;
mod gumbel;
mod half_cauchy;
mod half_normal;
mod laplace;
mod log_normal;
mod normal;
mod student_t;
mod uniform;

pub use bernoulli::Bernoulli;
pub use cauchy::Cauchy;
pub use delta::Delta;
pub use exponential::Exponential;
pub use gumbel::Gumbel;
pub use half_cauchy::HalfCauchy;
pub use half_normal::HalfNormal;
pub use laplace::Laplace;
pub use log_normal::LogNormal;
pub use normal::Normal;
pub use student_t::StudentT;
pub use uniform::Uniform;
