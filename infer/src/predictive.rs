//! [`Predictive`]: prior and posterior predictive samples.

use crate::EmpiricalMarginal;
use crate::Samples;
use crate::error::InferError;
use crate::importance::Posterior;
use crate::particle::{Guide, Prior};
use crate::seeding::particle_seed;
use pyro_poutine::distributions::Value;
use pyro_poutine::{
    BlockMessenger, Handler, IntoModel, Model, Name, PyroError, PyroRng, SeedMessenger, SiteNames,
    SubstituteMessenger, Trace, TraceMessenger, UnconditionMessenger,
};
use rand::SeedableRng;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// Latent values for one predictive run, by site name.
pub type Latents = HashMap<Name, Value>;

/// Where the latent values of each predictive run come from.
#[derive(Clone, Debug)]
enum Source {
    /// `n` runs, latent values from the prior or from the guide.
    Runs(usize),
    /// One run per given sample.
    Samples(Arc<[Latents]>),
}

/// The guide of a [`Predictive`]: none ([`Prior`]) or a [`Guide`].
pub trait PredictiveGuide<A>: Sync {
    /// The latent values the guide draws for one run, if there is a guide.
    #[doc(hidden)]
    fn latents(&self, args: A, seed: u64) -> Result<Option<Latents>, PyroError>;
}

impl<A> PredictiveGuide<A> for Prior {
    fn latents(&self, _: A, _: u64) -> Result<Option<Latents>, PyroError> {
        Ok(None)
    }
}

impl<A, G> PredictiveGuide<A> for Guide<G>
where
    G: Model<A> + Sync,
    G::Output: Send + Sync + 'static,
{
    fn latents(&self, args: A, seed: u64) -> Result<Option<Latents>, PyroError> {
        let seed = SeedMessenger::new(seed);
        let (_, trace) = BlockMessenger::new()
            .run(|| seed.run(|| TraceMessenger::record(|| self.0.call(args))))?;
        Ok(Some(latents(&trace)))
    }
}

/// Predictive sampling (Pyro's `Predictive`): runs the model many times and returns the values of
/// chosen sites, with the latent values drawn from the prior, taken from posterior samples, or
/// drawn from a guide.
///
/// **Observed sites are drawn fresh.** Each run is made under `uncondition`, so a site the model
/// observes is sampled anew from its distribution: that is what a predictive check needs. (Pyro's
/// `Predictive` returns the observed data unchanged unless the caller passes `None` for it, a
/// common trap.) [`keep_observed`](Predictive::keep_observed) keeps the observations instead.
///
/// Run `i` is seeded from the seed and `i` alone and runs under `block`, so results do not depend
/// on the number of threads and nothing leaks into an enclosing trace.
///
/// ```
/// use pyro_infer::Predictive;
/// use pyro_infer::poutine::distributions::{Normal, Real, Value};
/// use pyro_infer::poutine::{Name, PyroError, observe, sample};
///
/// let model = |y: f64| -> Result<Real, PyroError> {
///     let mu = sample("mu", Normal::new(0.0, 1.0))?;
///     observe("y", Normal::new(mu, 0.5), y)
/// };
/// // Prior predictive: `y` is drawn fresh, not returned as the data 3.0.
/// let draws = Predictive::prior(model, 1000).seed(1).run(3.0)?;
/// let ys = draws.reals(&Name::from("y"))?;
/// assert!(ys.iter().all(|&y| y != 3.0));
/// // Posterior predictive from samples of `mu`: the latent is fixed, `y` is fresh.
/// let samples = vec![[(Name::from("mu"), Value::Real(2.0))].into_iter().collect(); 10];
/// let draws = Predictive::from_samples(model, samples).run(3.0)?;
/// assert!(draws.reals(&Name::from("mu"))?.iter().all(|&m| m == 2.0));
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Predictive<M, G = Prior> {
    model: M,
    guide: G,
    source: Source,
    seed: u64,
    return_sites: Option<Arc<[Name]>>,
    keep_observed: bool,
}

impl<M> Predictive<M, Prior> {
    /// The prior predictive: `num_samples` runs of `model` with everything drawn from the prior.
    pub fn prior<T: IntoModel<Mk, Model = M>, Mk>(model: T, num_samples: usize) -> Self {
        Predictive::with_source(model.into_model(), Prior, Source::Runs(num_samples))
    }

    /// The posterior predictive from unweighted posterior samples: one run per sample, with the
    /// sample's latent values fixed (they stay latent: `substitute`).
    pub fn from_samples<T: IntoModel<Mk, Model = M>, Mk>(model: T, samples: Vec<Latents>) -> Self {
        Predictive::with_source(model.into_model(), Prior, Source::Samples(samples.into()))
    }

    /// The posterior predictive from weighted samples: `num_samples` samples are drawn from them
    /// by systematic resampling (seeded with the run's seed), then as
    /// [`from_samples`](Predictive::from_samples).
    pub fn from_weighted<T: IntoModel<Mk, Model = M>, Mk>(
        model: T,
        samples: Vec<Latents>,
        log_weights: Vec<f64>,
        num_samples: usize,
        seed: u64,
    ) -> Result<Self, InferError> {
        if samples.len() != log_weights.len() {
            return Err(InferError::InvalidArgument {
                name: "log_weights",
                reason: format!(
                    "{} log-weights for {} samples",
                    log_weights.len(),
                    samples.len()
                ),
            });
        }
        let weights =
            EmpiricalMarginal::new(vec![Value::Reals(Vec::new()); samples.len()], log_weights)?;
        let mut rng = PyroRng::seed_from_u64(particle_seed(seed, 0, 3));
        let chosen = weights
            .resample_systematic(num_samples, &mut rng)
            .into_iter()
            .map(|i| samples[i].clone())
            .collect();
        Ok(Predictive::from_samples(model, chosen).seed(seed))
    }

    /// The posterior predictive from an importance-sampling [`Posterior`] that kept its traces:
    /// the latent sample sites of each particle's trace, resampled by weight.
    pub fn from_posterior<T: IntoModel<Mk, Model = M>, Mk>(
        model: T,
        posterior: &Posterior,
        num_samples: usize,
        seed: u64,
    ) -> Result<Self, InferError> {
        let traces = posterior
            .traces()
            .ok_or_else(|| InferError::InvalidArgument {
                name: "posterior",
                reason: "it kept chosen sites only; run it without keep_sites".into(),
            })?;
        let samples = traces.iter().map(latents).collect();
        Predictive::from_weighted(
            model,
            samples,
            posterior.log_weights().to_vec(),
            num_samples,
            seed,
        )
    }
}

impl<M, G> Predictive<M, Guide<G>> {
    /// The posterior predictive from a guide: each run draws the latent values from `guide`, then
    /// runs the model with them fixed.
    pub fn from_guide<T: IntoModel<Mk, Model = M>, Mk, U: IntoModel<Gk, Model = G>, Gk>(
        model: T,
        guide: U,
        num_samples: usize,
    ) -> Self {
        Predictive::with_source(
            model.into_model(),
            Guide(guide.into_model()),
            Source::Runs(num_samples),
        )
    }
}

impl<M, G> Predictive<M, G> {
    fn with_source(model: M, guide: G, source: Source) -> Self {
        Predictive {
            model,
            guide,
            source,
            seed: 0,
            return_sites: None,
            keep_observed: false,
        }
    }

    /// The seed of the run (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Returns only these sites (default: every sample site but plate index sites): a name or
    /// a list of names.
    pub fn return_sites(mut self, sites: impl SiteNames) -> Self {
        self.return_sites = Some(sites.into_names().into());
        self
    }

    /// Keeps the model's observations instead of drawing observed sites fresh (default false).
    pub fn keep_observed(mut self, keep: bool) -> Self {
        self.keep_observed = keep;
        self
    }

    fn num_samples(&self) -> usize {
        match &self.source {
            Source::Runs(n) => *n,
            Source::Samples(s) => s.len(),
        }
    }

    /// Runs the model once per sample on `args`.
    pub fn run<A>(&self, args: A) -> Result<Samples, InferError>
    where
        A: Clone + Send + Sync,
        M: Model<A> + Sync,
        M::Output: Send + Sync + 'static,
        G: PredictiveGuide<A>,
    {
        let n = self.num_samples();
        // Every run completes before errors are looked at, so the error reported is the one of
        // the lowest index, whatever the number of threads.
        let runs: Vec<Result<Trace, PyroError>> = (0..n)
            .into_par_iter()
            .map(|i| self.run_one(i, args.clone()))
            .collect();
        let traces = runs
            .into_iter()
            .enumerate()
            .map(|(index, run)| run.map_err(|source| InferError::Model { index, source }))
            .collect::<Result<Vec<_>, _>>()?;
        let mut samples = Samples::with_sites(self.return_sites.iter().flat_map(|n| n.iter()), n);
        for trace in &traces {
            samples.push(trace.iter().filter_map(|site| {
                let wanted = match &self.return_sites {
                    Some(names) => names.contains(&site.name),
                    None => site.kind == pyro_poutine::SiteKind::Sample && !site.is_subsample(),
                };
                Some((&site.name, site.value.as_ref().filter(|_| wanted)?))
            }));
        }
        Ok(samples)
    }

    /// Run `i`: latent values from the source, the model traced under `block` and `seed`.
    fn run_one<A>(&self, i: usize, args: A) -> Result<Trace, PyroError>
    where
        A: Clone,
        M: Model<A>,
        G: PredictiveGuide<A>,
    {
        let fixed: Option<Latents> = match &self.source {
            Source::Samples(samples) => Some(samples[i].clone()),
            Source::Runs(_) => self
                .guide
                .latents(args.clone(), particle_seed(self.seed, i, 0))?,
        };
        let seed = SeedMessenger::new(particle_seed(self.seed, i, 1));
        let substitute = SubstituteMessenger::new(fixed.into_iter().flatten());
        let run = || substitute.run(|| self.model.call(args));
        let ((), trace) = BlockMessenger::new().run(|| {
            seed.run(|| {
                TraceMessenger::record(|| {
                    if self.keep_observed {
                        run().map(|_| ())
                    } else {
                        UnconditionMessenger::new().run(run).map(|_| ())
                    }
                })
            })
        })?;
        Ok(trace)
    }
}

/// The latent sample sites of a trace (not observed, not plate index sites) with their values.
fn latents(trace: &Trace) -> Latents {
    trace
        .iter()
        .filter(|s| s.kind == pyro_poutine::SiteKind::Sample && !s.is_observed && !s.is_subsample())
        .filter_map(|s| Some((s.name.clone(), s.value.clone()?)))
        .collect()
}
