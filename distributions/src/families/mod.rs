//! One file per distribution family.

mod bernoulli;
mod beta_binomial;
mod binomial;
mod categorical;
mod dirichlet;
mod geometric;
mod multivariate_normal;
mod negative_binomial;
mod normal;
mod poisson;

pub use bernoulli::Bernoulli;
pub use beta_binomial::BetaBinomial;
pub use binomial::Binomial;
pub use categorical::Categorical;
pub use dirichlet::Dirichlet;
pub use geometric::Geometric;
pub use multivariate_normal::MultivariateNormal;
pub use negative_binomial::NegativeBinomial;
pub use normal::Normal;
pub use poisson::Poisson;
