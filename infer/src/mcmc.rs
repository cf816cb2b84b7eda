//! [`Mcmc`]: the Markov chain Monte Carlo driver, and [`Kernel`], the transition it runs.

use crate::error::InferError;
use crate::mcmc_run::McmcRun;
use crate::predictive::Latents;
use crate::samples::Samples;
use crate::seeding::particle_seed;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pyro_poutine::distributions::Value;
use pyro_poutine::{Name, PyroRng};
use rand::SeedableRng;
use rayon::prelude::*;
use std::fmt;
use std::sync::Arc;

/// A Markov transition kernel over a model's latent sites: what [`Mcmc`] runs in each chain.
///
/// A kernel holds the model; `A` is the type of the model's arguments. [`TraceMh`](crate::TraceMh)
/// (Metropolis-Hastings over execution traces) is one; a gradient-based kernel plugs in the
/// same way. The driver owns the chains, their generators, warm-up, thinning, parallelism and the
/// draws; a kernel only starts a chain, moves it one step and says where it is.
pub trait Kernel<A>: Sync {
    /// One chain's state: its current point and whatever the kernel adapts or counts. A chain
    /// lives on the thread that runs it, so it need not be `Send`.
    type Chain;

    /// Checks the kernel's configuration once, before any chain starts.
    fn check(&self) -> Result<(), InferError> {
        Ok(())
    }

    /// A chain's starting state, drawn with `rng` (from the prior, or from the values in
    /// `setup`).
    fn init(
        &self,
        args: &A,
        setup: &ChainSetup<'_>,
        rng: &mut PyroRng,
    ) -> Result<Self::Chain, InferError>;

    /// One transition of `chain`. During warm-up (`warmup` true) the kernel may adapt; after it,
    /// the transition must leave the posterior invariant.
    fn step(
        &self,
        args: &A,
        chain: &mut Self::Chain,
        rng: &mut PyroRng,
        warmup: bool,
    ) -> Result<(), InferError>;

    /// Calls `f` on each latent site of the chain's current point with its value (in the
    /// model's constrained space), in the order the model reached them: one draw.
    fn visit_latents<'c>(&self, chain: &'c Self::Chain, f: &mut dyn FnMut(&'c Name, &'c Value));

    /// The chain's statistics over its sampling (post-warm-up) steps.
    fn stats(&self, chain: &Self::Chain) -> ChainStats;
}

/// What a kernel is told when it starts a chain.
#[derive(Clone, Copy, Debug)]
pub struct ChainSetup<'a> {
    /// The chain's index.
    pub chain: usize,
    /// The number of warm-up steps that will follow.
    pub num_warmup: usize,
    /// Starting values for some latent sites (the others start from the prior).
    pub init_values: Option<&'a Latents>,
}

/// A chain's statistics over its sampling steps, as its kernel reports them.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ChainStats {
    /// The number of sampling steps (after warm-up, before thinning).
    pub steps: usize,
    /// The fraction of sampling steps whose proposal was accepted.
    pub accept_rate: f64,
    /// Per group of sites the kernel updates together (one site, or a block).
    pub groups: Vec<GroupStats>,
    /// Sampling steps whose trajectory diverged (a gradient-based kernel; 0 for others).
    pub divergences: usize,
    /// The mean depth of the trajectory trees of the sampling steps (NUTS); `None` for kernels
    /// without trees.
    pub mean_tree_depth: Option<f64>,
    /// Sampling steps whose tree reached the maximum depth (NUTS; 0 for others).
    pub max_depth_hits: usize,
    /// The integrator's step size after warm-up (a gradient-based kernel), if it has one.
    pub step_size: Option<f64>,
}

/// How often a kernel's proposals for one group of sites were accepted.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GroupStats {
    /// The sites of the group (one, or a block).
    pub sites: Vec<Name>,
    /// Proposals made for the group during the sampling steps.
    pub proposals: u64,
    /// How many of them were accepted.
    pub accepted: u64,
    /// The scale of the group's random-walk proposal after warm-up (in unconstrained space), if
    /// it has one.
    pub scale: Option<f64>,
}

impl GroupStats {
    /// A group's statistics.
    pub fn new(sites: Vec<Name>, proposals: u64, accepted: u64, scale: Option<f64>) -> Self {
        GroupStats {
            sites,
            proposals,
            accepted,
            scale,
        }
    }

    /// `accepted / proposals`; `None` without proposals.
    pub fn accept_rate(&self) -> Option<f64> {
        (self.proposals > 0).then(|| self.accepted as f64 / self.proposals as f64)
    }
}

/// Where in its run a chain was when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainStep {
    /// While finding its starting point.
    Init,
    /// At this warm-up step (from 0).
    Warmup(usize),
    /// At this sampling step (from 0, before thinning).
    Sample(usize),
}

impl fmt::Display for ChainStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainStep::Init => write!(f, "initialisation"),
            ChainStep::Warmup(i) => write!(f, "warm-up step {i}"),
            ChainStep::Sample(i) => write!(f, "sampling step {i}"),
        }
    }
}

/// Markov chain Monte Carlo (Pyro's and NumPyro's `MCMC`): runs `num_chains` chains of a
/// [`Kernel`], each `num_warmup` warm-up steps (discarded; the kernel adapts) then `num_samples`
/// sampling steps, of which every `thinning`-th is kept.
///
/// Chains run in parallel with rayon. Chain `c`'s generator derives from the seed and `c` alone,
/// so a run gives bit-identical draws for any number of threads. Every model run happens under
/// the kernel's own handler, which hides its sites from enclosing handlers (as `block` does).
///
/// When a chain fails (the model returns an error, or no starting point has a positive density)
/// the other chains still run to the end, and the error ([`InferError::Chain`]) names the chain,
/// the step and, through the model's error, the site; it carries every chain's draws up to then.
///
/// ```
/// use pyro_infer::{Mcmc, TraceMh};
/// use pyro_infer::poutine::distributions::{Normal, Real};
/// use pyro_infer::poutine::{Name, PyroError, observe, sample};
///
/// // Pyro's introductory model: the posterior of `weight` is Normal(9.14, 0.6).
/// let scale = |guess: f64| -> Result<Real, PyroError> {
///     let weight = sample("weight", Normal::new(guess, 1.0))?;
///     observe("measurement", Normal::new(weight, 0.75), 9.5)?;
///     Ok(weight)
/// };
/// let run = Mcmc::new(TraceMh::new(scale), 500, 2000).num_chains(2).seed(1).run(8.5)?;
/// let weight = run.get_samples().reals(&Name::from("weight"))?;
/// assert_eq!(weight.len(), 4000);
/// let mean = weight.iter().sum::<f64>() / weight.len() as f64;
/// assert!((mean - 9.14).abs() < 0.1);
/// run.print_summary();
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[doc(alias = "MCMC")]
#[derive(Clone, Debug)]
pub struct Mcmc<K> {
    kernel: K,
    num_warmup: usize,
    num_samples: usize,
    num_chains: usize,
    thinning: usize,
    seed: u64,
    progress: bool,
    init_values: Option<Arc<Latents>>,
}

/// The generator stream of chain generators (see [`particle_seed`]).
const CHAIN_STREAM: u64 = 2;

/// What one chain gives back.
struct ChainResult {
    draws: Samples,
    stats: ChainStats,
    error: Option<(ChainStep, InferError)>,
}

impl<K> Mcmc<K> {
    /// `num_warmup` warm-up steps then `num_samples` sampling steps of `kernel`, in one chain;
    /// seed 0; every draw kept.
    pub fn new(kernel: K, num_warmup: usize, num_samples: usize) -> Self {
        Mcmc {
            kernel,
            num_warmup,
            num_samples,
            num_chains: 1,
            thinning: 1,
            seed: 0,
            progress: false,
            init_values: None,
        }
    }

    /// Runs `n` chains (default 1), in parallel.
    pub fn num_chains(mut self, n: usize) -> Self {
        self.num_chains = n;
        self
    }

    /// Keeps every `k`-th sampling step (default 1: all), so a chain keeps `num_samples / k`
    /// draws (NumPyro's `thinning`).
    pub fn thinning(mut self, k: usize) -> Self {
        self.thinning = k;
        self
    }

    /// The seed of the run (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Shows one progress bar per chain on standard error (off by default).
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Starts every chain with these values at the named latent sites (Pyro's `init_to_value`);
    /// the other sites start from the prior. A name that matches no latent site of the model is
    /// an error.
    pub fn init_values(mut self, values: Latents) -> Self {
        self.init_values = Some(Arc::new(values));
        self
    }

    /// The kernel.
    pub fn kernel(&self) -> &K {
        &self.kernel
    }

    /// Runs every chain on `args` and returns their draws.
    ///
    /// # Errors
    /// - [`InferError::InvalidArgument`] for zero chains, zero thinning, or a thinning that keeps
    ///   no draw;
    /// - [`InferError::Chain`] when a chain fails (the lowest failing chain's error), carrying
    ///   every chain's draws.
    pub fn run<A>(&self, args: A) -> Result<McmcRun, InferError>
    where
        A: Sync,
        K: Kernel<A>,
    {
        self.check()?;
        self.kernel.check()?;
        let kept = self.num_samples / self.thinning;
        let (bars, multi) = self.progress_bars();
        let results: Vec<ChainResult> = (0..self.num_chains)
            .into_par_iter()
            .map(|c| self.run_chain(&args, c, bars.get(c)))
            .collect();
        drop(multi);
        let mut chains = Vec::with_capacity(results.len());
        let mut stats = Vec::with_capacity(results.len());
        let mut first_error = None;
        for (c, result) in results.into_iter().enumerate() {
            chains.push(result.draws);
            stats.push(result.stats);
            if first_error.is_none()
                && let Some((step, error)) = result.error
            {
                first_error = Some((c, step, error));
            }
        }
        let run = McmcRun::new(chains, stats, self.num_warmup, kept, self.thinning);
        match first_error {
            None => Ok(run),
            Some((chain, step, source)) => Err(InferError::Chain {
                chain,
                step,
                source: Box::new(source),
                run: Box::new(run),
            }),
        }
    }

    fn check(&self) -> Result<(), InferError> {
        let invalid = |name, reason: String| Err(InferError::InvalidArgument { name, reason });
        if self.num_chains == 0 {
            return invalid("num_chains", "must be at least 1".into());
        }
        if self.thinning == 0 {
            return invalid("thinning", "must be at least 1".into());
        }
        if self.num_samples / self.thinning == 0 {
            return invalid(
                "num_samples",
                format!(
                    "{} sampling steps with thinning {} keep no draw",
                    self.num_samples, self.thinning
                ),
            );
        }
        Ok(())
    }

    /// One hidden-unless-asked bar per chain.
    fn progress_bars(&self) -> (Vec<ProgressBar>, Option<MultiProgress>) {
        if !self.progress {
            return (Vec::new(), None);
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total = (self.num_warmup + self.num_samples) as u64;
        let bars = (0..self.num_chains)
            .map(|c| {
                let bar = multi.add(ProgressBar::new(total));
                if let Ok(style) = ProgressStyle::with_template(
                    "chain {prefix} {bar:30} {pos}/{len} {msg} ({per_sec}, {eta})",
                ) {
                    bar.set_style(style);
                }
                bar.set_prefix(c.to_string());
                bar
            })
            .collect();
        (bars, Some(multi))
    }

    /// Runs chain `c`: initialisation, warm-up, sampling; keeps what it drew before a failure.
    fn run_chain<A>(&self, args: &A, c: usize, bar: Option<&ProgressBar>) -> ChainResult
    where
        K: Kernel<A>,
    {
        let mut rng = PyroRng::seed_from_u64(particle_seed(self.seed, c, CHAIN_STREAM));
        let mut draws = Samples::with_capacity(self.num_samples / self.thinning);
        let setup = ChainSetup {
            chain: c,
            num_warmup: self.num_warmup,
            init_values: self.init_values.as_deref(),
        };
        let mut chain = match self.kernel.init(args, &setup, &mut rng) {
            Ok(chain) => chain,
            Err(e) => {
                return ChainResult {
                    draws,
                    stats: ChainStats::default(),
                    error: Some((ChainStep::Init, e)),
                };
            }
        };
        let tick = |done: usize| {
            if let Some(bar) = bar
                && (done.is_multiple_of(64) || done == self.num_warmup + self.num_samples)
            {
                bar.set_position(done as u64);
                bar.set_message(if done <= self.num_warmup {
                    "warm-up"
                } else {
                    "sampling"
                });
            }
        };
        let mut error = None;
        for i in 0..self.num_warmup {
            if let Err(e) = self.kernel.step(args, &mut chain, &mut rng, true) {
                error = Some((ChainStep::Warmup(i), e));
                break;
            }
            tick(i + 1);
        }
        let kept = self.num_samples / self.thinning;
        if error.is_none() {
            for i in 0..kept * self.thinning {
                if let Err(e) = self.kernel.step(args, &mut chain, &mut rng, false) {
                    error = Some((ChainStep::Sample(i), e));
                    break;
                }
                if (i + 1).is_multiple_of(self.thinning) {
                    let mut draw = Vec::new();
                    self.kernel
                        .visit_latents(&chain, &mut |name, value| draw.push((name, value)));
                    draws.push(draw);
                }
                tick(self.num_warmup + i + 1);
            }
        }
        if let Some(bar) = bar {
            bar.finish();
        }
        ChainResult {
            draws,
            stats: self.kernel.stats(&chain),
            error,
        }
    }
}
