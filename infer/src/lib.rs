//! Inference for pyro-rs, built from effect handlers and traces.
//!
//! - [`Importance`] samples particles from the prior (or a guide), weighs them by the model, and
//!   summarises them as a [`Posterior`] (log evidence, weights, ESS, [`EmpiricalMarginal`]s) or,
//!   in constant memory, a [`StreamingPosterior`].
//! - [`Mcmc`] runs Markov chains of a [`Kernel`]: [`TraceMh`] is Metropolis-Hastings over
//!   execution traces, for any model (discrete and continuous latents, and sites that come and
//!   go with random choices). The draws ([`McmcRun`]) come with a [`Summary`] (rank-normalised
//!   R-hat and bulk/tail ESS of [`diagnostics`]) and export to CSV and JSON. [`Nuts`] is the
//!   No-U-Turn sampler, on the gradient of the model's log density ([`Potential`]), for models
//!   whose latent sites are continuous.
//! - [`Svi`] is stochastic variational inference: [`TraceElbo`] estimates the ELBO and its
//!   gradient from guide runs replayed into the model (reparameterised where the family can be,
//!   the score function otherwise), and an [`Optimizer`] ([`Sgd`], [`Adam`], [`ClippedAdam`],
//!   with learning-rate [`Schedule`]s) moves the unconstrained values of the
//!   [`ParamStore`](poutine::ParamStore). [`AutoNormal`], [`AutoMultivariateNormal`] and
//!   [`AutoDelta`] build guides from the model.
//! - [`Predictive`] runs the model again with latent values from the prior, from draws or from
//!   a guide, into [`Samples`].
//!
//! Runs are parallel and reproducible: the same seed gives the same results for any number of
//! threads.
//!
//! # Quick start
//! ```
//! use pyro_infer::Importance;
//! use pyro_infer::poutine::distributions::{Beta, Bernoulli};
//! use pyro_infer::poutine::{Name, PyroError, observe, sample};
//!
//! // A coin with a Beta(10, 10) prior, 6 heads in 10 flips: the posterior is Beta(16, 14).
//! let coin = |flips: &[bool]| -> Result<f64, PyroError> {
//!     let p = sample("p", Beta::new(10.0, 10.0))?;
//!     for (i, &x) in flips.iter().enumerate() {
//!         observe(Name::indexed("x", i as u64), Bernoulli::new(p), x)?;
//!     }
//!     Ok(p.value())
//! };
//! let flips = [true, true, false, true, false, true, true, false, false, true];
//! let posterior = Importance::new(coin, 20_000).seed(7).run(&flips[..])?;
//! let p = posterior.marginal(&[Name::from("p")])?;
//! assert!((p.mean()[0] - 16.0 / 30.0).abs() < 0.01);
//!
//! // The same posterior by MCMC over traces: 4 chains in parallel.
//! use pyro_infer::{Mcmc, TraceMh};
//! let run = Mcmc::new(TraceMh::new(coin), 500, 2000).num_chains(4).seed(7).run(&flips[..])?;
//! let summary = run.summary();
//! let p = summary.get("p").unwrap();
//! assert!((p.mean - 16.0 / 30.0).abs() < 0.02);
//! assert!(p.r_hat.unwrap() < 1.05);
//! println!("{summary}");
//!
//! // And by NUTS, on the gradient (`p` is a `Real`; the Bernoulli's probability carries it).
//! use pyro_infer::Nuts;
//! let run = Mcmc::new(Nuts::new(coin), 300, 1000).num_chains(2).seed(7).run(&flips[..])?;
//! assert!((run.summary().get("p").unwrap().mean - 16.0 / 30.0).abs() < 0.02);
//! # Ok::<(), pyro_infer::InferError>(())
//! ```

mod accumulate;
mod autoguide;
pub mod diagnostics;
mod elbo;
mod error;
mod importance;
mod marginal;
mod mcmc;
mod mcmc_run;
mod mh;
mod mh_run;
mod nuts;
mod optim;
mod particle;
mod potential;
mod predictive;
mod samples;
pub(crate) mod seeding;
mod summary;
mod svi;

pub use autoguide::{AutoDelta, AutoMultivariateNormal, AutoNormal};
pub use elbo::{ElboEstimate, TraceElbo};
pub use error::InferError;
pub use importance::{Importance, Posterior, StreamingPosterior};
pub use marginal::EmpiricalMarginal;
pub use mcmc::{ChainSetup, ChainStats, ChainStep, GroupStats, Kernel, Mcmc};
pub use mcmc_run::McmcRun;
pub use mh::{MhChain, MhProposal, TraceMh};
pub use nuts::{Nuts, NutsChain};
pub use optim::{Adam, ClippedAdam, Optimizer, Schedule, Sgd};
pub use particle::{Guide, Prior, Proposal};
pub use potential::{Init, Potential};
pub use predictive::{Latents, Predictive, PredictiveGuide};
pub use pyro_poutine as poutine;
pub use samples::Samples;
pub use summary::{Summary, SummaryRow};
pub use svi::Svi;
