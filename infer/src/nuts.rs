//! [`Nuts`]: the No-U-Turn sampler (Hoffman and Gelman, 2014) on a model's [`Potential`], through
//! the `nuts-rs` crate, driven draw by draw by [`Mcmc`](crate::Mcmc).

use crate::error::InferError;
use crate::mcmc::{ChainSetup, ChainStats, Kernel};
use crate::potential::{Init, Potential};
use nuts_rs::{
    Chain, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, HasDims, LogpError, Settings,
};
use pyro_poutine::distributions::Value;
use pyro_poutine::{IntoModel, Model, Name, PyroError, PyroRng};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

/// The No-U-Turn sampler (Pyro's and NumPyro's `NUTS`): a [`Kernel`] for
/// [`Mcmc`](crate::Mcmc) that moves all the continuous latent sites at once along Hamiltonian
/// trajectories in unconstrained space, using the gradient of the model's log density
/// ([`Potential`]).
///
/// The sampler is `nuts-rs` (pinned at 0.19.1) with a diagonal mass matrix and step size adapted
/// during warm-up (its nutpie-style adaptation, to the target acceptance rate). Each chain is
/// driven draw by draw on the thread that runs it, and its generator derives from the run's seed
/// and the chain's index only, so draws are bit-identical for any number of threads. Draws are
/// returned in the model's constrained space; [`ChainStats`] reports each chain's divergences,
/// mean tree depth, hits of the maximum depth and final step size.
///
/// Every latent site must be continuous (a discrete latent site is an
/// [`InferError::NotDifferentiable`] naming it) and the model must reach the same latent sites
/// in every run. Inside a trajectory, a point where the model cannot be evaluated (a parameter
/// out of range, say, after an overflow) counts as a divergence, as in Stan and NumPyro. A
/// starting coordinate at which the gradient is exactly zero (an initial value at a prior's
/// mode) is moved by 1e-6 in unconstrained space: `nuts-rs` needs a nonzero gradient to start
/// its mass matrix.
///
/// ```
/// use pyro_infer::{Mcmc, Nuts};
/// use pyro_infer::poutine::distributions::Normal;
/// use pyro_infer::poutine::{Name, PyroError, observe, sample};
///
/// // Pyro's introductory model: the posterior of `weight` is Normal(9.14, 0.6).
/// let scale = |guess: f64| -> Result<(), PyroError> {
///     let weight = sample("weight", Normal::new(guess, 1.0))?;
///     observe("measurement", Normal::new(weight, 0.75), 9.5)?;
///     Ok(())
/// };
/// let run = Mcmc::new(Nuts::new(scale), 300, 1000).num_chains(2).seed(1).run(8.5)?;
/// let weight = run.get_samples().reals(&Name::from("weight"))?;
/// let mean = weight.iter().sum::<f64>() / weight.len() as f64;
/// assert!((mean - 9.14).abs() < 0.1);
/// assert_eq!(run.chain_stats()[0].divergences, 0);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[doc(alias = "NUTS")]
#[derive(Clone, Debug)]
pub struct Nuts<M> {
    model: M,
    target_accept: f64,
    max_tree_depth: u64,
    init: Init,
}

impl<M> Nuts<M> {
    /// NUTS on `model`, with NumPyro's defaults: target acceptance 0.8, maximum tree depth 10,
    /// starting points uniform in (-2, 2) in unconstrained space.
    pub fn new<T: IntoModel<Mk, Model = M>, Mk>(model: T) -> Self {
        Nuts {
            model: model.into_model(),
            target_accept: 0.8,
            max_tree_depth: 10,
            init: Init::default(),
        }
    }

    /// The acceptance rate the step size adapts to during warm-up (default 0.8); in (0, 1).
    pub fn target_accept(mut self, rate: f64) -> Self {
        self.target_accept = rate;
        self
    }

    /// The maximum depth of a trajectory's tree (default 10: at most 1023 leapfrog steps).
    pub fn max_tree_depth(mut self, depth: u64) -> Self {
        self.max_tree_depth = depth;
        self
    }

    /// How each chain's starting point is chosen for the sites without an initial value
    /// (default [`Init::Uniform`] with radius 2).
    pub fn init_strategy(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    fn settings(&self, num_warmup: usize) -> DiagNutsSettings {
        let mut settings = DiagNutsSettings {
            num_tune: num_warmup as u64,
            maxdepth: self.max_tree_depth,
            ..DiagNutsSettings::default()
        };
        settings.adapt_options.step_size_settings.target_accept = self.target_accept;
        settings
    }
}

/// The model's log density as `nuts-rs` calls it.
struct LogDensity<M, A> {
    potential: Potential<M>,
    args: A,
    grad: Vec<f64>,
    /// The error that made the last evaluation fail, kept for the chain to report.
    failure: Rc<RefCell<Option<InferError>>>,
}

/// A failed evaluation of the log density, as `nuts-rs` sees it.
#[derive(Debug)]
struct EvaluationFailed {
    message: String,
    recoverable: bool,
}

impl fmt::Display for EvaluationFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvaluationFailed {}

impl LogpError for EvaluationFailed {
    fn is_recoverable(&self) -> bool {
        self.recoverable
    }
}

impl<M, A> HasDims for LogDensity<M, A> {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([("unconstrained".to_string(), self.potential.dim() as u64)])
    }
}

impl<M: Model<A>, A: Clone> CpuLogpFunc for LogDensity<M, A> {
    type LogpError = EvaluationFailed;
    type FlowParameters = ();
    type ExpandedVector = ();

    fn dim(&self) -> usize {
        self.potential.dim()
    }

    fn logp(&mut self, position: &[f64], gradient: &mut [f64]) -> Result<f64, EvaluationFailed> {
        match self
            .potential
            .log_density(&self.args, position, &mut self.grad)
        {
            Ok(lp) => {
                gradient.copy_from_slice(&self.grad);
                Ok(lp)
            }
            Err(e) => {
                // A model that cannot be evaluated at this point (a distribution's parameter
                // out of range, a NaN density) is a divergence of the trajectory; an error of
                // the model's own, or a change of its latent sites, ends the chain.
                let recoverable = matches!(
                    &e,
                    InferError::Run(PyroError::Distribution { .. } | PyroError::Trace(_))
                );
                let message = e.to_string();
                *self.failure.borrow_mut() = Some(e);
                Err(EvaluationFailed {
                    message,
                    recoverable,
                })
            }
        }
    }

    fn expand_vector<R: nuts_rs::rand::Rng + ?Sized>(
        &mut self,
        _: &mut R,
        _: &[f64],
    ) -> Result<(), CpuMathError> {
        Ok(())
    }
}

/// One NUTS chain: the sampler's state, the current draw in constrained space, and counts.
pub struct NutsChain<M: Model<A>, A: Clone> {
    sampler: <DiagNutsSettings as Settings>::Chain<CpuMath<LogDensity<M, A>>>,
    potential: Potential<M>,
    failure: Rc<RefCell<Option<InferError>>>,
    values: Vec<(Name, Value)>,
    steps: usize,
    accept_sum: f64,
    depth_sum: u64,
    divergences: usize,
    max_depth_hits: usize,
    step_size: Option<f64>,
}

impl<M: Model<A>, A: Clone> fmt::Debug for NutsChain<M, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NutsChain")
            .field("values", &self.values)
            .field("steps", &self.steps)
            .field("divergences", &self.divergences)
            .finish_non_exhaustive()
    }
}

impl<M: Model<A>, A: Clone> NutsChain<M, A> {
    /// The failure behind a sampler error: the model's own error if it made the evaluation
    /// fail, otherwise the sampler's message.
    fn failure(&self, sampler_error: impl fmt::Display) -> InferError {
        self.failure
            .borrow_mut()
            .take()
            .unwrap_or_else(|| sampler_failure(sampler_error))
    }
}

/// How far a starting coordinate whose gradient is exactly zero is moved (in unconstrained
/// space).
const NUDGE: f64 = 1e-6;

/// `start`, with each coordinate whose gradient is exactly zero there moved by [`NUDGE`]:
/// `nuts-rs` refuses a start with a zero in its gradient (its first mass matrix divides by it),
/// which a start at a prior mode (an initial value at a Normal's mean, say) would have. Tried a
/// few times; the last point is returned as it is.
fn nudged<M: Model<A>, A: Clone>(
    potential: &Potential<M>,
    args: &A,
    mut start: Vec<f64>,
) -> Result<Vec<f64>, InferError> {
    let mut grad = Vec::with_capacity(start.len());
    for _ in 0..3 {
        potential.log_density(args, &start, &mut grad)?;
        if !grad.contains(&0.0) {
            break;
        }
        for (x, g) in start.iter_mut().zip(&grad) {
            if *g == 0.0 {
                *x += NUDGE;
            }
        }
    }
    Ok(start)
}

fn sampler_failure(e: impl fmt::Display) -> InferError {
    InferError::InvalidArgument {
        name: "nuts",
        reason: format!("the sampler failed: {e}"),
    }
}

impl<M, A> Kernel<A> for Nuts<M>
where
    M: Model<A> + Clone + Sync,
    A: Clone,
{
    type Chain = NutsChain<M, A>;

    fn check(&self) -> Result<(), InferError> {
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(InferError::InvalidArgument {
                name: "target_accept",
                reason: format!("{} is not in (0, 1)", self.target_accept),
            });
        }
        if self.max_tree_depth == 0 {
            return Err(InferError::InvalidArgument {
                name: "max_tree_depth",
                reason: "must be at least 1".into(),
            });
        }
        if let Init::Uniform { radius } = self.init
            && !(radius > 0.0 && radius.is_finite())
        {
            return Err(InferError::InvalidArgument {
                name: "init_strategy",
                reason: format!("the uniform radius {radius} is not finite and > 0"),
            });
        }
        Ok(())
    }

    fn init(
        &self,
        args: &A,
        setup: &ChainSetup<'_>,
        rng: &mut PyroRng,
    ) -> Result<NutsChain<M, A>, InferError> {
        let potential = Potential::new(self.model.clone(), args, rng)?;
        let start = nudged(
            &potential,
            args,
            potential.init_point(args, &self.init, setup.init_values, rng)?,
        )?;
        let failure = Rc::new(RefCell::new(None));
        let density = LogDensity {
            potential: potential.clone(),
            args: args.clone(),
            grad: Vec::with_capacity(potential.dim()),
            failure: failure.clone(),
        };
        // The sampler's own generator is seeded from the chain's.
        let mut sampler = self
            .settings(setup.num_warmup)
            .new_chain(setup.chain as u64, CpuMath::new(density), rng)
            .map_err(sampler_failure)?;
        if let Err(e) = sampler.set_position(&start) {
            let failure = failure.borrow_mut().take();
            return Err(failure.unwrap_or_else(|| sampler_failure(e)));
        }
        let values = potential.constrained(&start)?;
        let chain = NutsChain {
            sampler,
            potential,
            failure,
            values,
            steps: 0,
            accept_sum: 0.0,
            depth_sum: 0,
            divergences: 0,
            max_depth_hits: 0,
            step_size: None,
        };
        chain.failure.borrow_mut().take();
        Ok(chain)
    }

    fn step(
        &self,
        _: &A,
        chain: &mut NutsChain<M, A>,
        _: &mut PyroRng,
        warmup: bool,
    ) -> Result<(), InferError> {
        let (position, _, stats, progress) = match chain.sampler.expanded_draw() {
            Ok(draw) => draw,
            Err(e) => return Err(chain.failure(e)),
        };
        // A recoverable failure was a divergence; forget it.
        chain.failure.borrow_mut().take();
        if progress.tuning != warmup {
            return Err(sampler_failure(format!(
                "draw {} is {} for the sampler but not for the driver",
                progress.draw,
                if progress.tuning {
                    "warm-up"
                } else {
                    "sampling"
                }
            )));
        }
        chain.values = chain.potential.constrained(&position)?;
        chain.step_size = Some(progress.step_size);
        if !warmup {
            chain.steps += 1;
            chain.accept_sum += stats.adapt.step_size.mean_tree_accept;
            chain.depth_sum += stats.depth;
            chain.divergences += usize::from(progress.diverging);
            chain.max_depth_hits += usize::from(stats.maxdepth_reached);
        }
        Ok(())
    }

    fn visit_latents<'c>(
        &self,
        chain: &'c NutsChain<M, A>,
        f: &mut dyn FnMut(&'c Name, &'c Value),
    ) {
        for (name, value) in &chain.values {
            f(name, value);
        }
    }

    fn stats(&self, chain: &NutsChain<M, A>) -> ChainStats {
        let n = chain.steps.max(1) as f64;
        ChainStats {
            steps: chain.steps,
            accept_rate: chain.accept_sum / n,
            divergences: chain.divergences,
            mean_tree_depth: (chain.steps > 0).then(|| chain.depth_sum as f64 / n),
            max_depth_hits: chain.max_depth_hits,
            step_size: chain.step_size,
            ..ChainStats::default()
        }
    }
}
