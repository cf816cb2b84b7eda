//! [`TraceMh`]: Metropolis-Hastings over execution traces (lightweight MH).

use crate::error::InferError;
use crate::mcmc::{ChainSetup, ChainStats, GroupStats, Kernel};
use crate::mh_run::{Forced, MhRun};
use indexmap::IndexMap;
use pyro_poutine::distributions::{Constraint, Value};
use pyro_poutine::{
    IntoModel, Model, Name, PyroError, PyroRng, Site, SiteNames, Trace, with_shared_handler,
};
use rand::RngExt;
use rand_distr::StandardNormal;
use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

/// How [`TraceMh`] proposes a new value for a site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MhProposal {
    /// A random walk for sites with a continuous support, the prior otherwise (the default).
    #[default]
    Auto,
    /// A fresh draw from the site's own distribution (given the other sites' current values).
    Prior,
    /// A Gaussian random walk in the unconstrained space of the site's support, with the
    /// Jacobian of the support's transform in the acceptance ratio; its scale adapts during
    /// warm-up. Only for continuous supports.
    RandomWalk,
}

/// Single-site Metropolis-Hastings over execution traces (the "lightweight" MH of Wingate,
/// Stuhlmüller and Goodman, 2011): a [`Kernel`] for [`Mcmc`](crate::Mcmc) that needs nothing
/// of the model but that it is a model.
///
/// Each step picks one latent site of the current trace uniformly (or one block of sites given
/// to [`block`](TraceMh::block)), proposes a new value for it ([`MhProposal`]), and runs the model
/// again with every other latent site keeping its value. Sites the new run reaches for the first
/// time (or whose distribution changed family) are drawn from their prior; sites it no longer
/// reaches are dropped. The proposal is accepted with probability
///
/// ```text
/// min(1, p(t') / p(t) * q(t | t') / q(t' | t) * |L(t)| / |L(t')| * p(dropped | t) / p(fresh | t'))
/// ```
///
/// where `p` is the trace's joint density (scaled and masked as `log_prob_sum`), `q` the proposal
/// of the chosen site (for a random walk, the ratio of the transform's Jacobians), `|L|` the
/// number of choices (latent sites, blocks counted once) and the last factor the prior density
/// of the sites drawn fresh and dropped, so that models whose structure depends on random
/// choices are sampled correctly.
///
/// Observed and conditioned sites never move, `param` sites keep the store's values, sites an
/// inner handler gives a value (a `substitute` inside the model) stay fixed, and discrete and
/// continuous latents mix. A subsampled plate is an error: its scaled likelihood does not define
/// the model's posterior.
///
/// ```
/// use pyro_infer::{Mcmc, MhProposal, TraceMh};
/// use pyro_infer::poutine::distributions::{Bernoulli, Normal};
/// use pyro_infer::poutine::{Name, PyroError, observe, sample};
///
/// // A discrete latent choosing between two means.
/// let model = |y: f64| -> Result<bool, PyroError> {
///     let high = sample("high", Bernoulli::new(0.5))?;
///     let mu = sample("mu", Normal::new(if high { 3.0 } else { 0.0 }, 1.0))?;
///     observe("y", Normal::new(mu, 1.0), y)?;
///     Ok(high)
/// };
/// let kernel = TraceMh::new(model).proposal("mu", MhProposal::RandomWalk);
/// let run = Mcmc::new(kernel, 300, 1000).seed(2).run(2.5)?;
/// let high = run.get_samples().reals(&Name::from("high"))?;
/// assert!(high.iter().sum::<f64>() > 500.0); // P(high | y = 2.5) = 0.85
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[doc(alias = "MH")]
#[doc(alias = "Metropolis-Hastings")]
#[derive(Clone, Debug)]
pub struct TraceMh<M> {
    model: M,
    proposals: HashMap<Name, MhProposal>,
    blocks: Vec<Arc<[Name]>>,
    block_of: HashMap<Name, usize>,
    target_accept: Option<f64>,
    initial_scale: f64,
}

/// How many prior draws a chain tries before it gives up finding a starting point of positive
/// density (Pyro's initialisation tries as many).
const INIT_ATTEMPTS: usize = 100;

/// The bounds of a random walk's log-scale: the adaptation cannot overflow or reach zero.
const LOG_SCALE_BOUNDS: (f64, f64) = (-50.0, 50.0);

impl<M> TraceMh<M> {
    /// Metropolis-Hastings over the traces of `model` (a model, or a function of no arguments),
    /// every site with [`MhProposal::Auto`].
    pub fn new<T: IntoModel<Mk, Model = M>, Mk>(model: T) -> Self {
        TraceMh {
            model: model.into_model(),
            proposals: HashMap::new(),
            blocks: Vec::new(),
            block_of: HashMap::new(),
            target_accept: None,
            initial_scale: 1.0,
        }
    }

    /// Uses `proposal` for `site`.
    pub fn proposal(mut self, site: impl Into<Name>, proposal: MhProposal) -> Self {
        self.proposals.insert(site.into(), proposal);
        self
    }

    /// Updates `sites` together: one choice of the uniform pick, each site proposed its own way
    /// (a random walk shares the block's scale), accepted or rejected as one. A site may be in
    /// one block only; a block counts as a choice while any of its sites is latent.
    pub fn block(mut self, sites: impl SiteNames) -> Self {
        let sites: Arc<[Name]> = sites.into_names().into();
        let index = self.blocks.len();
        for site in sites.iter() {
            self.block_of.entry(site.clone()).or_insert(index);
        }
        self.blocks.push(sites);
        self
    }

    /// The acceptance rate the random walks' scales adapt to during warm-up (default 0.44 for a
    /// one-dimensional proposal, 0.234 for more dimensions: the optimal rates of Roberts and
    /// Rosenthal).
    pub fn target_accept(mut self, rate: f64) -> Self {
        self.target_accept = Some(rate);
        self
    }

    /// The random walks' scale in unconstrained space before adaptation (default 1, divided by
    /// the square root of a proposal's dimension).
    pub fn initial_scale(mut self, scale: f64) -> Self {
        self.initial_scale = scale;
        self
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    fn check(&self) -> Result<(), InferError> {
        let invalid = |name, reason: String| Err(InferError::InvalidArgument { name, reason });
        if let Some(rate) = self.target_accept
            && !(rate > 0.0 && rate < 1.0)
        {
            return invalid("target_accept", format!("{rate} is not in (0, 1)"));
        }
        if !(self.initial_scale > 0.0 && self.initial_scale.is_finite()) {
            return invalid(
                "initial_scale",
                format!("{} is not finite and > 0", self.initial_scale),
            );
        }
        for (b, block) in self.blocks.iter().enumerate() {
            if block.is_empty() {
                return invalid("block", format!("block {b} has no site"));
            }
            if let Some(site) = block.iter().find(|s| self.block_of[*s] != b) {
                return invalid("block", format!("site '{site}' is in two blocks"));
            }
        }
        Ok(())
    }
}

/// One choice of the uniform pick: a site, or a block of sites (its latent ones).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Group {
    Site(Name),
    Block(usize),
}

/// A choice present in a trace: its group (an index into the chain's groups) and the positions
/// of its latent sites.
#[derive(Clone, Debug)]
struct Choice {
    group: usize,
    positions: SmallVec<[usize; 2]>,
}

/// What a chain keeps per group: its random walk's adaptation and its counts.
#[derive(Clone, Debug)]
struct GroupState {
    log_scale: f64,
    adapted: u64,
    random_walk: bool,
    proposals: u64,
    accepted: u64,
}

/// One chain of [`TraceMh`]: the current trace, its latent sites and choices, the adaptation,
/// and the handler its proposals run under (kept from step to step with its buffers).
pub struct MhChain {
    trace: Trace,
    /// The positions in `trace` of its latent sites, in order.
    latent: Vec<usize>,
    choices: Vec<Choice>,
    log_joint: f64,
    groups: IndexMap<Group, GroupState, FxBuildHasher>,
    run: Rc<RefCell<MhRun>>,
    steps: usize,
    accepted: usize,
}

/// What a proposal for the sites of one choice leaves besides the values it gives the run.
#[derive(Default)]
struct Proposed {
    /// The positions of the random-walk sites in the current trace.
    walked: SmallVec<[usize; 2]>,
    /// `ln q(t | t') - ln q(t' | t)` of the random walks: the log-Jacobian at the new point
    /// minus at the old one.
    log_jacobian: f64,
    /// The random walks' dimension.
    dims: usize,
}

impl fmt::Debug for MhChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MhChain")
            .field("sites", &self.trace.len())
            .field("latent", &self.latent.len())
            .field("log_joint", &self.log_joint)
            .field("steps", &self.steps)
            .field("accepted", &self.accepted)
            .finish_non_exhaustive()
    }
}

impl<M> TraceMh<M> {
    /// The proposal of `site` (latent, in the current trace): the support of a random walk, or
    /// `None` for a prior draw.
    fn proposal_for(&self, site: &Site) -> Result<Option<Constraint>, InferError> {
        let kind = if self.proposals.is_empty() {
            MhProposal::Auto
        } else {
            self.proposals.get(&site.name).copied().unwrap_or_default()
        };
        if kind == MhProposal::Prior {
            return Ok(None);
        }
        let support = site.dist.as_ref().map(|d| d.support());
        let continuous = support.filter(|s| s.is_continuous());
        match (kind, continuous) {
            (_, Some(s)) => Ok(Some(s)),
            (MhProposal::Auto | MhProposal::Prior, None) => Ok(None),
            (MhProposal::RandomWalk, None) => Err(InferError::BadValue {
                site: site.name.clone(),
                reason: format!(
                    "a random-walk proposal needs a continuous support; {}'s is {}",
                    site.family().unwrap_or("its distribution"),
                    support.map_or("unknown".to_string(), |s| s.to_string()),
                ),
            }),
        }
    }

    /// The choices of `trace`, whose latent sites are at `latent`, into `out`; groups seen for
    /// the first time are added to `groups`.
    fn choices(
        &self,
        trace: &Trace,
        latent: &[usize],
        groups: &mut IndexMap<Group, GroupState, FxBuildHasher>,
        out: &mut Vec<Choice>,
    ) -> Result<(), InferError> {
        out.clear();
        for &p in latent {
            let name = &trace.get_index(p).expect("a latent position").name;
            let block = self.block_of.get(name).copied();
            let group = match block {
                None => Group::Site(name.clone()),
                Some(b) => Group::Block(b),
            };
            let index = match groups.get_index_of(&group) {
                Some(i) => i,
                None => {
                    let members: SmallVec<[usize; 2]> = match block {
                        None => SmallVec::from_slice(&[p]),
                        Some(b) => latent
                            .iter()
                            .copied()
                            .filter(|&q| {
                                let site = trace.get_index(q).expect("a latent position");
                                self.block_of.get(&site.name) == Some(&b)
                            })
                            .collect(),
                    };
                    let state = self.new_group(trace, &members)?;
                    groups.insert_full(group, state).0
                }
            };
            // A block is one choice, however many of its sites the trace has.
            if block.is_some()
                && let Some(choice) = out.iter_mut().find(|c| c.group == index)
            {
                choice.positions.push(p);
                continue;
            }
            out.push(Choice {
                group: index,
                positions: SmallVec::from_slice(&[p]),
            });
        }
        Ok(())
    }

    /// The state of a group first seen in `trace` with its latent sites at `members`: whether it
    /// has a random walk, and the walk's initial scale.
    fn new_group(&self, trace: &Trace, members: &[usize]) -> Result<GroupState, InferError> {
        let (mut dims, mut random_walk) = (0, false);
        for &p in members {
            let site = trace.get_index(p).expect("a latent position");
            if self.proposal_for(site)?.is_some() {
                random_walk = true;
                dims += site.value.as_ref().map_or(1, Value::len);
            }
        }
        Ok(GroupState {
            log_scale: (self.initial_scale / (dims.max(1) as f64).sqrt()).ln(),
            adapted: 0,
            random_walk,
            proposals: 0,
            accepted: 0,
        })
    }

    /// The number of choices of `trace`, whose latent sites are at `latent`.
    fn count_choices(&self, trace: &Trace, latent: &[usize]) -> usize {
        if self.blocks.is_empty() {
            return latent.len();
        }
        let mut blocks: SmallVec<[usize; 4]> = SmallVec::new();
        let mut singles = 0;
        for &p in latent {
            let site = trace.get_index(p).expect("a latent position");
            match self.block_of.get(&site.name) {
                None => singles += 1,
                Some(b) if !blocks.contains(b) => blocks.push(*b),
                Some(_) => {}
            }
        }
        singles + blocks.len()
    }

    /// Proposes new values for the sites of `choice` in `trace`: the random walks' values go to
    /// `forced`, the sites drawn again from their prior to `resimulate`.
    fn propose(
        &self,
        trace: &Trace,
        choice: &Choice,
        log_scale: f64,
        (forced, resimulate): (&mut SmallVec<[Forced; 2]>, &mut SmallVec<[Name; 2]>),
        rng: &mut PyroRng,
    ) -> Result<Proposed, InferError> {
        let scale = log_scale.exp();
        let mut proposed = Proposed::default();
        for &p in &choice.positions {
            let site = trace.get_index(p).expect("a latent position");
            let unconstrained = self.proposal_for(site)?.and_then(|support| {
                let value = site.value.as_ref()?;
                Some((support, support.to_unconstrained(value)?))
            });
            let Some((support, u)) = unconstrained else {
                resimulate.push(site.name.clone());
                continue;
            };
            let mut step = |x: f64| x + scale * rng.sample::<f64, _>(StandardNormal);
            let u_new = match &u {
                Value::Real(x) => Value::Real(step(*x)),
                Value::Reals(xs) => Value::Reals(xs.iter().map(|&x| step(x)).collect()),
                other => unreachable!("unconstrained values are reals, not {other:?}"),
            };
            proposed.dims += u.len();
            let jacobian = |u: &Value| support.log_abs_det_jacobian(u).unwrap_or(f64::NAN);
            proposed.log_jacobian += jacobian(&u_new) - jacobian(&u);
            let x_new = support
                .to_constrained(&u_new)
                .expect("an unconstrained value of the support's kind");
            forced.push(Forced::new(site.name.clone(), x_new, Some(support)));
            proposed.walked.push(p);
        }
        Ok(proposed)
    }

    /// The target acceptance rate of a proposal with `dims` random-walk dimensions.
    fn target(&self, dims: usize) -> f64 {
        self.target_accept
            .unwrap_or(if dims <= 1 { 0.44 } else { 0.234 })
    }
}

/// `ln p` of a site's value under its own distribution, unscaled and unmasked: the density a
/// fresh draw was proposed with.
pub(crate) fn prior_log_prob(site: &Site) -> f64 {
    match (&site.dist, &site.value) {
        (Some(d), Some(v)) => d.log_prob(v),
        _ => f64::NEG_INFINITY,
    }
}

impl<M, A> Kernel<A> for TraceMh<M>
where
    M: Model<A> + Sync,
    A: Clone + Sync,
{
    type Chain = MhChain;

    fn check(&self) -> Result<(), InferError> {
        TraceMh::check(self)
    }

    fn init(
        &self,
        args: &A,
        setup: &ChainSetup<'_>,
        rng: &mut PyroRng,
    ) -> Result<MhChain, InferError> {
        let run = Rc::new(RefCell::new(MhRun::default()));
        let mut impossible: Option<Vec<Name>> = None;
        for _ in 0..INIT_ATTEMPTS {
            {
                let mut r = run.borrow_mut();
                r.forced.clear();
                r.resimulate.clear();
                r.start(Trace::new(), rng);
                for (name, value) in setup.init_values.into_iter().flatten() {
                    r.forced
                        .push(Forced::new(name.clone(), value.clone(), None));
                }
            }
            let result = with_shared_handler(&run, || self.model.call(args.clone()));
            let mut r = run.borrow_mut();
            *rng = r.rng.take().expect("the run's generator");
            result?;
            let unused: Vec<&Name> = r
                .forced
                .iter()
                .filter(|f| !f.used)
                .map(|f| &f.name)
                .collect();
            if !unused.is_empty() {
                return Err(unused_init_values(&unused, &r));
            }
            let log_joint = r
                .recorded()
                .log_prob_sum(|_| true)
                .map_err(PyroError::from)?;
            if log_joint > f64::NEG_INFINITY {
                let (mut trace, mut latent) = (Trace::new(), Vec::new());
                r.accept_into(&mut trace, &mut latent);
                drop(r);
                let mut groups = IndexMap::default();
                let mut choices = Vec::new();
                self.choices(&trace, &latent, &mut groups, &mut choices)?;
                return Ok(MhChain {
                    trace,
                    latent,
                    choices,
                    log_joint,
                    groups,
                    run,
                    steps: 0,
                    accepted: 0,
                });
            }
            if impossible.is_none() {
                impossible = Some(
                    r.recorded()
                        .iter()
                        .filter(|s| s.log_prob_sum().is_ok_and(|lp| lp == f64::NEG_INFINITY))
                        .map(|s| s.name.clone())
                        .collect(),
                );
            }
        }
        Err(InferError::NoValidStart {
            attempts: INIT_ATTEMPTS,
            sites: impossible.unwrap_or_default(),
        })
    }

    fn step(
        &self,
        args: &A,
        chain: &mut MhChain,
        rng: &mut PyroRng,
        warmup: bool,
    ) -> Result<(), InferError> {
        if chain.choices.is_empty() {
            return Ok(());
        }
        let c = rng.random_range(0..chain.choices.len());
        let group = chain.choices[c].group;
        let proposed = {
            let mut run = chain.run.borrow_mut();
            let run = &mut *run;
            run.forced.clear();
            run.resimulate.clear();
            let proposed = self.propose(
                &chain.trace,
                &chain.choices[c],
                chain.groups[group].log_scale,
                (&mut run.forced, &mut run.resimulate),
                rng,
            )?;
            run.start(std::mem::take(&mut chain.trace), rng);
            // The random-walk sites of the old trace are neither reused nor dropped.
            for &p in &proposed.walked {
                run.reused[p] = true;
            }
            proposed
        };
        let result = with_shared_handler(&chain.run, || self.model.call(args.clone()));
        let mut run = chain.run.borrow_mut();
        *rng = run.rng.take().expect("the run's generator");
        chain.trace = std::mem::take(&mut run.previous);
        result?;
        let next = run.recorded();
        let log_joint = next.log_prob_sum(|_| true).map_err(PyroError::from)?;
        if log_joint == f64::INFINITY {
            return Err(InferError::BadValue {
                site: Name::from("_log_joint"),
                reason: "the model's log density is +inf".into(),
            });
        }
        let dropped: f64 = chain
            .latent
            .iter()
            .filter(|&&p| !run.reused[p])
            .map(|&p| prior_log_prob(chain.trace.get_index(p).expect("a latent position")))
            .sum();
        let (before, after) = (chain.choices.len(), self.count_choices(next, &run.latent));
        let choices = if before == after {
            0.0
        } else {
            (before as f64).ln() - (after as f64).ln()
        };
        let log_alpha = log_joint - chain.log_joint + proposed.log_jacobian + choices + dropped
            - run.fresh_log_prob;
        // A proposal the kernel cannot reverse, an impossible point, or a draw on the edge of
        // its support (a measure-zero event) is rejected.
        let possible = !run.forced_missed()
            && log_joint > f64::NEG_INFINITY
            && dropped.is_finite()
            && run.fresh_log_prob.is_finite()
            && !log_alpha.is_nan();
        let accept_prob = if possible {
            log_alpha.min(0.0).exp()
        } else {
            0.0
        };
        let u: f64 = rng.random();
        let accept = possible && u < accept_prob;

        let state = &mut chain.groups[group];
        if warmup {
            if state.random_walk {
                state.adapted += 1;
                let rate = (state.adapted as f64).powf(-0.6);
                state.log_scale = (state.log_scale
                    + rate * (accept_prob - self.target(proposed.dims)))
                .clamp(LOG_SCALE_BOUNDS.0, LOG_SCALE_BOUNDS.1);
            }
        } else {
            state.proposals += 1;
            state.accepted += u64::from(accept);
            chain.steps += 1;
            chain.accepted += usize::from(accept);
        }
        if accept {
            // A move that kept every latent site in its place keeps the choices.
            let same_sites = run.latent == chain.latent
                && run.latent.iter().all(|&p| {
                    let new = run.recorded().get_index(p).map(|s| &s.name);
                    new == chain.trace.get_index(p).map(|s| &s.name)
                });
            run.accept_into(&mut chain.trace, &mut chain.latent);
            drop(run);
            chain.log_joint = log_joint;
            if !same_sites {
                let mut choices = std::mem::take(&mut chain.choices);
                self.choices(&chain.trace, &chain.latent, &mut chain.groups, &mut choices)?;
                chain.choices = choices;
            }
        }
        Ok(())
    }

    fn visit_latents<'c>(&self, chain: &'c MhChain, f: &mut dyn FnMut(&'c Name, &'c Value)) {
        for &p in &chain.latent {
            let site = chain.trace.get_index(p).expect("a latent position");
            if let Some(v) = &site.value {
                f(&site.name, v);
            }
        }
    }

    fn stats(&self, chain: &MhChain) -> ChainStats {
        let groups = chain
            .groups
            .iter()
            .map(|(group, state)| {
                let sites = match group {
                    Group::Site(name) => vec![name.clone()],
                    Group::Block(b) => self.blocks[*b].to_vec(),
                };
                let scale = state.random_walk.then(|| state.log_scale.exp());
                GroupStats::new(sites, state.proposals, state.accepted, scale)
            })
            .collect();
        ChainStats {
            steps: chain.steps,
            accept_rate: if chain.steps == 0 {
                0.0
            } else {
                chain.accepted as f64 / chain.steps as f64
            },
            groups,
            ..ChainStats::default()
        }
    }
}

/// The error of init values that name no latent site of the run.
fn unused_init_values(unused: &[&Name], run: &MhRun) -> InferError {
    let list = |names: &mut dyn Iterator<Item = &Name>| {
        names
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let latent = list(&mut run.latent_names());
    InferError::InvalidArgument {
        name: "init_values",
        reason: format!(
            "no latent site named {} (the latent sites are {})",
            list(&mut unused.iter().copied()),
            if latent.is_empty() {
                "none".to_string()
            } else {
                latent
            }
        ),
    }
}
