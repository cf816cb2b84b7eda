//! One file per distribution family.

mod bernoulli;
mod beta;
mod chi2;
mod gamma;
mod inverse_gamma;
mod normal;
mod pareto;
mod von_mises;
mod weibull;

pub use bernoulli::Bernoulli;
pub use beta::Beta;
pub use chi2::Chi2;
pub use gamma::Gamma;
pub use inverse_gamma::InverseGamma;
pub use normal::Normal;
pub use pareto::Pareto;
pub use von_mises::VonMises;
pub use weibull::Weibull;
