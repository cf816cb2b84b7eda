//! pyro-rs: Pyro's effect handlers, traces, distributions and inference, in Rust.
//!
//! This facade re-exports the workspace crates; depend on it, or on a single crate.
//!
//! # Quick start
//! A model is an ordinary function; handlers turn it into other models; inference composes
//! handlers and reads traces.
//! ```
//! use pyro_core::prelude::*;
//!
//! // Pyro's introductory model: guess a weight, then measure it.
//! fn scale(guess: f64) -> Result<f64, PyroError> {
//!     let weight = sample("weight", Normal::new(guess, 1.0))?;
//!     let measurement = sample("measurement", Normal::new(weight, 0.75))?;
//!     Ok(measurement.value())
//! }
//!
//! // Condition on a measurement of 9.5, as Pyro's `poutine.condition`.
//! let conditioned = condition(scale, [("measurement", 9.5)]);
//! let tr = trace(conditioned.clone()).get_trace(8.5)?;
//! assert!(tr.get("measurement").unwrap().is_observed);
//!
//! // The posterior of the weight: importance sampling, and MCMC over traces.
//! let posterior = Importance::new(conditioned.clone(), 10_000).seed(1).run(8.5)?;
//! let weight = posterior.marginal("weight")?;
//! assert!((weight.mean()[0] - 9.14).abs() < 0.05); // exact: Normal(9.14, 0.6)
//! let run = Mcmc::new(TraceMh::new(conditioned.clone()), 500, 2000).num_chains(2).run(8.5)?;
//! assert!((run.summary().get("weight").unwrap().mean - 9.14).abs() < 0.1);
//!
//! // NUTS on the model's gradient: `weight` is a `Real`, an f64 the gradient flows through.
//! let run = Mcmc::new(Nuts::new(conditioned.clone()), 300, 1000).num_chains(2).run(8.5)?;
//! assert!((run.summary().get("weight").unwrap().mean - 9.14).abs() < 0.1);
//!
//! // Variational inference: an automatic normal guide fitted by SVI.
//! use pyro_core::{poutine::PyroRng, rand::SeedableRng};
//! let guide = AutoNormal::new(&conditioned, &8.5, &mut PyroRng::seed_from_u64(0))?;
//! let mut svi = Svi::new(conditioned, guide, Adam::new(0.05)?, TraceElbo::new()).seed(1);
//! svi.run(&8.5, 2000)?;
//! let Value::Real(median) = svi.guide().median()?[0].1 else { unreachable!() };
//! assert!((median - 9.14).abs() < 0.2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Coming from Pyro
//! | Pyro | pyro-rs |
//! |---|---|
//! | `pyro.sample("x", dist.Normal(0, 1))` | `sample("x", Normal::new(0.0, 1.0))?` (a `Real`) |
//! | `pyro.sample("y", d, obs=y)` | `observe("y", d, y)?` |
//! | `pyro.param("p", init, constraint=...)` | `param("p", Real::from(init), Constraint::Positive)?` |
//! | `pyro.factor`, `pyro.deterministic` | `factor`, `deterministic` |
//! | `with pyro.plate("data", n, subsample_size=k) as idx:` | `Plate::new("data", n).subsample_size(k).run(\|idx\| ...)` |
//! | a tensor of reals; `Normal(loc_tensor, scale)` | `Reals`; `Normal::batch(a + b * &xs, scale)` |
//! | `poutine.trace(model).get_trace(x)` | `trace(model).get_trace(x)?` (a `Trace` value) |
//! | `poutine.condition`, `replay`, `block`, `scale`, `mask`, `seed`, `substitute`, `uncondition`, `lift`, `escape`, `infer_config` | the functions of the same names |
//! | `poutine.do` | `intervene` (`do` is a Rust keyword) |
//! | `Importance`, `EmpiricalMarginal`, `Predictive` | [`infer::Importance`], [`infer::EmpiricalMarginal`], [`infer::Predictive`] |
//! | `MCMC(NUTS(model))`, MH over traces | `Mcmc::new(Nuts::new(model), warmup, draws)`, `TraceMh` |
//! | `SVI(model, guide, Adam(...), Trace_ELBO())` | `Svi::new(model, guide, Adam::new(lr)?, TraceElbo::new())` |
//! | `TraceMeanField_ELBO` | `TraceElbo::mean_field()` |
//! | `AutoNormal`, `AutoMultivariateNormal`, `AutoDelta` | the same names, built from the model and its arguments |
//! | `pyro.get_param_store()` | [`poutine::with_param_store`] (process-wide, as Pyro's) |
//! | `pyro.enable_validation` | [`distributions::enable_validation`] (off by default) |
//!
//! Deliberate differences: the handler stack is per thread (models run in parallel, each on its
//! own stack, and the same seed gives the same results for any number of threads); values are
//! typed (`Real`, `bool`, `i64`, `Reals`, ...), and every fallible step returns a `Result` whose
//! error names the site, the parameter and the value; argument validation is off by default,
//! as NumPyro's.
//!
//! # Crates
//! - [`distributions`]: the families, `Distribution`, `AnyDistribution`, `Batched`, constraints,
//!   reparameterised sampling (`rsample`).
//! - [`trace`]: `Site`, `Name`, `Trace`.
//! - [`poutine`]: primitives, plates, the handler stack and every handler, the parameter store.
//! - [`tape`]: reverse-mode gradients, the `Real` scalar and the `Reals` vector on a tape
//!   (continuous values and parameters, log-densities, the constraints' bijections, NUTS's
//!   potential and SVI's ELBO are on it).
//! - [`infer`]: importance sampling, `EmpiricalMarginal`, `Predictive`, MCMC (`Mcmc` with the
//!   trace Metropolis-Hastings kernel `TraceMh` and the No-U-Turn sampler `Nuts`, convergence
//!   diagnostics, CSV/JSON export), `Potential` (a model's log density and its gradient), and
//!   SVI (`Svi`, `TraceElbo`, autoguides, optimisers).

#[doc(inline)]
pub use pyro_distributions as distributions;
#[doc(inline)]
pub use pyro_infer as infer;
#[doc(inline)]
pub use pyro_poutine as poutine;
#[doc(inline)]
pub use pyro_tape as tape;
#[doc(inline)]
pub use pyro_trace as trace;
/// Random-number generation (re-exported `rand`).
pub use rand;

/// What a model and an inference call need, in one import: `use pyro_core::prelude::*;`.
///
/// The primitives, plates and every handler's function, the distribution families, `Name`,
/// `Value`, `PyroError`, `Trace`, and the entry points of inference. Handler types (for the
/// scope form, `Handler::run`), traces' parts, constraints and diagnostics are not in it: name
/// them by their path (`pyro_core::poutine::...`), which reads better where they are used.
pub mod prelude {
    pub use crate::distributions::{
        Batched, Bernoulli, Beta, BetaBinomial, Binomial, Categorical, Cauchy, Chi2, Delta,
        Dirichlet, Distribution, Exponential, Gamma, Geometric, Gumbel, HalfCauchy, HalfNormal,
        InverseGamma, Laplace, LogNormal, MultivariateNormal, NegativeBinomial, Normal, Pareto,
        Poisson, Real, Reals, StudentT, Uniform, Value, VonMises, Weibull,
    };
    pub use crate::infer::{
        Adam, AutoDelta, AutoNormal, Importance, InferError, Mcmc, Nuts, Predictive, Svi,
        TraceElbo, TraceMh,
    };
    pub use crate::poutine::{
        Handler, Model, Name, Plate, PyroError, Trace, block, condition, deterministic, escape,
        factor, infer_config, intervene, lift, mask, observe, param, replay, sample, scale, seed,
        site, substitute, trace, uncondition,
    };
}

/// The README's code blocks, compiled and run as doc-tests so that the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
