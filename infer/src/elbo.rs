//! The evidence lower bound: [`TraceElbo`], Pyro's `Trace_ELBO`, estimated from runs of the guide
//! replayed into the model, with its gradient with respect to the parameters on the tape.

use crate::error::InferError;
use crate::potential::into_support;
use indexmap::IndexMap;
use pyro_poutine::distributions::{AnyDistribution, Constraint, Real, Value};
use pyro_poutine::{
    DirectSink, DirectSite, Messenger, Model, Name, PyroError, PyroRng, Site, SiteKind, Supplied,
    with_handler, with_param_store,
};
use pyro_tape::{Tape, TapeError};
use pyro_trace::{InferValue, SUBSAMPLE_FLAG};
use rand::{RngExt, SeedableRng};
use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;
use std::rc::Rc;

/// The flag of a guide site the model does not have (Pyro's `infer={"is_auxiliary": True}`).
const AUXILIARY_FLAG: &str = "is_auxiliary";

/// Pyro's `Trace_ELBO`: the evidence lower bound `E_q[log p(x, z) - log q(z)]`, estimated from
/// `num_particles` runs of the guide `q`, each replayed into the model `p` (the guide's latent
/// values are the model's), and its gradient with respect to every `param` site the two read.
///
/// - **Reparameterised sites.** A guide site whose family can be reparameterised
///   ([`Distribution::rsample`](pyro_poutine::distributions::Distribution::rsample)) is drawn
///   as a function of its parameters, so the gradient flows through the value into both
///   log-densities (the pathwise estimator).
/// - **Other sites** (discrete ones, and families without `rsample`) add the score-function
///   term `log q(z) (ELBO - b)`, with the ELBO held constant and `b` a baseline: the moving
///   average of earlier ELBO estimates (decay 0.9), which leaves the gradient unbiased and
///   lowers its variance.
/// - **Subsampled plates** scale their sites' log-densities by `size / subsample_size`, and the
///   guide's subsample is replayed into the model, so minibatch estimates are unbiased.
///
/// A latent site of the model that the guide does not have, and a guide site the model does not
/// have that is not marked `is_auxiliary`, are errors naming the site (Pyro warns).
///
/// ```
/// use pyro_infer::TraceElbo;
/// use pyro_infer::poutine::distributions::{Constraint, Normal, Real};
/// use pyro_infer::poutine::{PyroError, PyroRng, observe, param, sample};
/// use rand::SeedableRng;
///
/// // z ~ N(0, 1), x ~ N(z, 1) at x = 1; the guide N(m, 1) at m = 0.5 (the exact posterior is
/// // N(0.5, 1/2)).
/// let model = |x: f64| -> Result<(), PyroError> {
///     let z = sample("z", Normal::new(0.0, 1.0))?;
///     observe("x", Normal::new(z, 1.0), x)?;
///     Ok(())
/// };
/// let guide = |_: f64| -> Result<(), PyroError> {
///     let m = param("elbo_doc_m", Real::from(0.5), Constraint::Real)?;
///     sample("z", Normal::new(m, 1.0))?;
///     Ok(())
/// };
/// let mut elbo = TraceElbo::new().num_particles(1000)?;
/// let estimate = elbo.loss_and_grads(&model, &guide, &1.0, &mut PyroRng::seed_from_u64(0))?;
/// // At the optimum m = 0.5 the gradient vanishes (up to its Monte Carlo error).
/// let (name, grad) = &estimate.grads[0];
/// assert_eq!(name, "elbo_doc_m");
/// assert!(grad[0].abs() < 0.1);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug)]
pub struct TraceElbo {
    num_particles: usize,
    /// Whether a latent site whose guide and model distributions have a KL divergence in
    /// closed form contributes `-KL` instead of its sampled log-density ratio.
    mean_field: bool,
    /// The moving average of the ELBO estimates so far, the score-function terms' baseline.
    baseline: Option<f64>,
    /// The sizes of the last estimate's buffers, to make the next one's at their size at once.
    sizes: Sizes,
}

/// How many parameters, guide sites and log-density terms an estimate had: the capacities the
/// next estimate's buffers start with, so that they are allocated once instead of grown.
#[derive(Clone, Copy, Debug, Default)]
struct Sizes {
    params: usize,
    guide_sites: usize,
    guide_terms: usize,
    model_terms: usize,
}

/// The decay of [`TraceElbo`]'s baseline: each estimate moves it by a tenth of the difference.
const BASELINE_DECAY: f64 = 0.9;

/// One estimate of the loss (the negative ELBO) and its gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct ElboEstimate {
    /// The negative ELBO, averaged over the particles.
    pub loss: f64,
    /// The gradient of the loss with respect to each parameter's unconstrained coordinates, in
    /// the order the runs first read them.
    pub grads: Vec<(String, Vec<f64>)>,
}

impl Default for TraceElbo {
    fn default() -> Self {
        TraceElbo::new()
    }
}

impl TraceElbo {
    /// The ELBO estimated from one particle.
    pub fn new() -> Self {
        TraceElbo {
            num_particles: 1,
            mean_field: false,
            baseline: None,
            sizes: Sizes::default(),
        }
    }

    /// Pyro's `TraceMeanField_ELBO`: as [`new`](TraceElbo::new), but a latent site whose guide
    /// and model distributions have their KL divergence in closed form (both `Normal`)
    /// contributes `-KL(q || p)`, scaled as the site is, instead of the sampled
    /// `ln p(z) - ln q(z)`: the same expectation, with less variance. As in Pyro, this assumes a
    /// mean-field guide (its sites independent given the parameters), so that each site's KL is
    /// a term of the whole.
    ///
    /// ```
    /// use pyro_infer::TraceElbo;
    /// use pyro_infer::poutine::distributions::{Constraint, Normal, Real};
    /// use pyro_infer::poutine::{PyroError, PyroRng, param, sample};
    /// use rand::SeedableRng;
    ///
    /// // A model without data: the loss is KL(guide || prior), here exactly, every time:
    /// // KL(N(1, 1) || N(1, 2)) = ln 2 + 1/8 - 1/2.
    /// let model = |_: ()| -> Result<(), PyroError> {
    ///     sample("z", Normal::new(1.0, 2.0))?;
    ///     Ok(())
    /// };
    /// let guide = |_: ()| -> Result<(), PyroError> {
    ///     let m = param("mean_field_doc_m", Real::from(1.0), Constraint::Real)?;
    ///     sample("z", Normal::new(m, 1.0))?;
    ///     Ok(())
    /// };
    /// let mut rng = PyroRng::seed_from_u64(0);
    /// let loss = TraceElbo::mean_field().loss(&model, &guide, &(), &mut rng)?;
    /// assert!((loss - (2.0_f64.ln() + 0.125 - 0.5)).abs() < 1e-15);
    /// // The sampled estimator's loss is only right on average.
    /// let sampled = TraceElbo::new().loss(&model, &guide, &(), &mut rng)?;
    /// assert!((sampled - loss).abs() > 1e-6);
    /// # Ok::<(), pyro_infer::InferError>(())
    /// ```
    pub fn mean_field() -> Self {
        TraceElbo {
            mean_field: true,
            ..TraceElbo::new()
        }
    }

    /// The number of particles each estimate averages over (Pyro's `num_particles`).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] for zero.
    pub fn num_particles(mut self, n: usize) -> Result<Self, InferError> {
        if n == 0 {
            return Err(InferError::InvalidArgument {
                name: "num_particles",
                reason: "must be at least 1".into(),
            });
        }
        self.num_particles = n;
        Ok(self)
    }

    /// An estimate of the loss, the negative ELBO, without its gradient.
    ///
    /// # Errors
    /// As [`loss_and_grads`](TraceElbo::loss_and_grads).
    pub fn loss<A, M, G>(
        &self,
        model: &M,
        guide: &G,
        args: &A,
        rng: &mut PyroRng,
    ) -> Result<f64, InferError>
    where
        A: Clone,
        M: Model<A>,
        G: Model<A>,
    {
        let runs = Runs::new(self, model, guide, args);
        let mut sizes = self.sizes;
        let mut params = Params::new(None, sizes.params);
        let mut total = 0.0;
        for _ in 0..self.num_particles {
            let particle = runs.particle(rng, &mut params, &mut sizes)?;
            total += particle.elbo.value();
        }
        Ok(-total / self.num_particles as f64)
    }

    /// An estimate of the loss, the negative ELBO, and of its gradient with respect to the
    /// unconstrained coordinates of every parameter the guide and the model read (parameters
    /// first read now are initialised in the store, as `param` does).
    ///
    /// # Errors
    /// [`InferError::Run`] if the model or the guide fails, or a site's log-density is NaN;
    /// [`InferError::MissingSite`] for a latent site of the model the guide does not have, or a
    /// guide site the model does not have that is not marked `is_auxiliary`.
    pub fn loss_and_grads<A, M, G>(
        &mut self,
        model: &M,
        guide: &G,
        args: &A,
        rng: &mut PyroRng,
    ) -> Result<ElboEstimate, InferError>
    where
        A: Clone,
        M: Model<A>,
        G: Model<A>,
    {
        let runs = Runs::new(self, model, guide, args);
        let tape = Rc::new(Tape::start().map_err(tape_error)?);
        let mut params = Params::new(Some(tape.clone()), self.sizes.params);
        let baseline = self.baseline;
        let n = self.num_particles as f64;
        let (mut elbo_sum, mut surrogate) = (0.0, Vec::with_capacity(self.num_particles));
        for _ in 0..self.num_particles {
            let particle = runs.particle(rng, &mut params, &mut self.sizes)?;
            let elbo = particle.elbo.value();
            elbo_sum += elbo;
            // The score-function terms: log q(z) (ELBO - b), the ELBO held constant.
            let weight = elbo - baseline.unwrap_or(elbo);
            let mut terms: SmallVec<[(Real, f64); 8]> = SmallVec::new();
            terms.push((particle.elbo, -1.0 / n));
            for &lq in &particle.score {
                terms.push((lq, -weight / n));
            }
            surrogate.push(Real::record(-elbo / n, &terms));
        }
        let loss_real = Real::record(
            surrogate.iter().map(|s| s.value()).sum(),
            &surrogate.iter().map(|&s| (s, 1.0)).collect::<Vec<_>>(),
        );
        self.sizes.params = params.entries.len();
        let leaves: Vec<Real> = params
            .entries
            .values()
            .flat_map(|p| p.leaves.iter().copied())
            .collect();
        let mut flat = Vec::with_capacity(leaves.len());
        tape.backward_into(loss_real, &leaves, &mut flat)
            .map_err(tape_error)?;
        let mut grads = Vec::with_capacity(params.entries.len());
        let mut at = 0;
        for (name, p) in &params.entries {
            grads.push((name.to_string(), flat[at..at + p.leaves.len()].to_vec()));
            at += p.leaves.len();
        }
        let mean = elbo_sum / n;
        if mean.is_finite() {
            self.baseline = Some(match baseline {
                Some(b) => BASELINE_DECAY * b + (1.0 - BASELINE_DECAY) * mean,
                None => mean,
            });
        }
        Ok(ElboEstimate { loss: -mean, grads })
    }
}

fn tape_error(e: TapeError) -> InferError {
    InferError::InvalidArgument {
        name: "gradient",
        reason: e.to_string(),
    }
}

/// One particle: the ELBO `log p - log q` on the tape, and the guide's log-densities of the
/// sites that were not reparameterised (for the score-function terms).
struct Particle {
    elbo: Real,
    score: Vec<Real>,
}

/// The model and the guide of an estimate, with their arguments and whether KL divergences in
/// closed form are taken ([`TraceElbo::mean_field`]).
struct Runs<'a, A, M, G> {
    model: &'a M,
    guide: &'a G,
    args: &'a A,
    mean_field: bool,
}

impl<'a, A, M, G> Runs<'a, A, M, G>
where
    A: Clone,
    M: Model<A>,
    G: Model<A>,
{
    fn new(elbo: &TraceElbo, model: &'a M, guide: &'a G, args: &'a A) -> Self {
        Runs {
            model,
            guide,
            args,
            mean_field: elbo.mean_field,
        }
    }

    /// One particle: runs the guide, then the model replayed against it, and sums their
    /// log-densities. Their buffers start at `sizes`, which this particle's sizes then replace.
    fn particle(
        &self,
        rng: &mut PyroRng,
        params: &mut Params,
        sizes: &mut Sizes,
    ) -> Result<Particle, InferError> {
        let Runs {
            model,
            guide,
            args,
            mean_field,
        } = *self;
        let seed: u64 = rng.random();
        let guide_sites = IndexMap::with_capacity_and_hasher(sizes.guide_sites, FxBuildHasher);
        let guide_run = Run::new(
            Role::Guide(guide_sites),
            std::mem::take(params),
            seed,
            false,
            sizes.guide_terms,
        );
        let mut guide_run = guide_run.run(guide, args)?;
        let Role::Guide(sites) =
            std::mem::replace(&mut guide_run.role, Role::Model(IndexMap::default()))
        else {
            unreachable!("the guide's run has the guide's role")
        };
        let (log_q, score) = (guide_run.log_density, std::mem::take(&mut guide_run.score));
        (sizes.guide_sites, sizes.guide_terms) = (sites.len(), log_q.terms.len());
        let seed: u64 = rng.random();
        let params_read = std::mem::take(&mut guide_run.params);
        let model_run = Run::new(
            Role::Model(sites),
            params_read,
            seed,
            mean_field,
            sizes.model_terms,
        );
        let mut model_run = model_run.run(model, args)?;
        *params = std::mem::take(&mut model_run.params);
        let Role::Model(unused) = &model_run.role else {
            unreachable!("the model's run has the model's role")
        };
        if let Some((name, _)) = unused.iter().find(|(_, site)| !site.auxiliary) {
            return Err(InferError::Run(PyroError::InvalidMessage {
                site: name.clone(),
                reason: "the guide has this latent site but the model does not (mark it \
                     infer(\"is_auxiliary\", true) if it is meant to be the guide's own)",
            }));
        }
        let log_p = model_run.log_density;
        sizes.model_terms = log_p.terms.len();
        let elbo = log_p.sub_real(&log_q);
        Ok(Particle { elbo, score })
    }
}

/// A running sum of log-densities: its value and its terms on the tape (one node at the end).
#[derive(Default)]
struct Sum {
    value: f64,
    terms: Vec<Real>,
}

impl Sum {
    fn add(&mut self, term: Real) {
        self.value += term.value();
        if !term.is_constant() {
            self.terms.push(term);
        }
    }

    /// `self - other` as one node.
    fn sub_real(&self, other: &Sum) -> Real {
        let parents: Vec<(Real, f64)> = self
            .terms
            .iter()
            .map(|&t| (t, 1.0))
            .chain(other.terms.iter().map(|&t| (t, -1.0)))
            .collect();
        Real::record(self.value - other.value, &parents)
    }
}

/// A guide's latent site, replayed into the model.
struct GuideSite {
    value: Value,
    tracked: SmallVec<[Real; 1]>,
    auxiliary: bool,
    /// A subsampled plate's index site, whose indices the model's plate must replay.
    subsample: bool,
    /// The guide's distribution and scaled log-density at the value (for a KL in closed form).
    dist: Option<AnyDistribution>,
    log_q: Real,
    /// The site's scale (NaN if masked).
    scale: f64,
}

/// Which run a [`Run`] handles: the guide's (recording its latent sites), or the model's
/// (replaying them; those not used yet remain).
enum Role {
    Guide(IndexMap<Name, GuideSite, FxBuildHasher>),
    Model(IndexMap<Name, GuideSite, FxBuildHasher>),
}

/// The parameters read so far in one estimate: each one's tape leaves (its unconstrained
/// coordinates) and its constrained value on them, so that the guide and the model, and every
/// particle, read the same leaves.
#[derive(Default)]
struct Params {
    tape: Option<Rc<Tape>>,
    entries: IndexMap<Name, ParamLeaves, FxBuildHasher>,
}

struct ParamLeaves {
    /// Inline for a scalar parameter.
    leaves: SmallVec<[Real; 1]>,
    value: Value,
    tracked: SmallVec<[Real; 1]>,
}

impl Params {
    /// Parameters on `tape` (none: constants), with room for `capacity` of them.
    fn new(tape: Option<Rc<Tape>>, capacity: usize) -> Self {
        Params {
            tape,
            entries: IndexMap::with_capacity_and_hasher(capacity, FxBuildHasher),
        }
    }

    /// The value of the parameter `name` on the tape, from the store; `None` if the store does
    /// not have it (yet) or it has no continuous coordinates.
    fn read(&mut self, name: &Name) -> Option<(&Value, &SmallVec<[Real; 1]>)> {
        let index = match self.entries.get_index_of(name) {
            Some(index) => index,
            None => {
                let key = name.as_cow();
                let (u, constraint) = with_param_store(|s| {
                    Some((s.unconstrained(&key)?.clone(), s.constraint(&key)?))
                })?;
                let entry = self.leaves(u, &constraint)?;
                self.entries.insert_full(name.clone(), entry).0
            }
        };
        let (_, entry) = self.entries.get_index(index)?;
        Some((&entry.value, &entry.tracked))
    }

    /// Leaves for the unconstrained coordinates `u`, and the value they map to.
    fn leaves(&self, u: Value, constraint: &Constraint) -> Option<ParamLeaves> {
        let leaf = |x: f64| match &self.tape {
            Some(tape) => tape.leaf(x),
            None => Real::constant(x),
        };
        let (leaves, vector): (SmallVec<[Real; 1]>, bool) = match u {
            Value::Real(x) => (SmallVec::from_elem(leaf(x), 1), false),
            Value::Reals(v) => (v.into_iter().map(leaf).collect(), true),
            _ => return None,
        };
        let (value, tracked) = into_support(constraint, vector, &leaves)?;
        Some(ParamLeaves {
            leaves,
            value,
            tracked,
        })
    }
}

/// The handler of one run of the guide or the model in an estimate.
struct Run {
    role: Role,
    /// Whether KL divergences in closed form replace sampled log-density ratios (model runs of
    /// [`TraceElbo::mean_field`]).
    mean_field: bool,
    /// The guide's distribution and log-density of the latent site being replayed, until the
    /// model's `postprocess` takes them.
    replayed: Option<(AnyDistribution, Real, f64)>,
    params: Params,
    rng: PyroRng,
    log_density: Sum,
    /// The guide's log-densities of its sites that were not reparameterised.
    score: Vec<Real>,
    /// Parameter sites whose first read is left to `param`'s default (it initialises them).
    pending: Vec<Name>,
    failure: Option<InferError>,
    /// Whether sample sites are taken directly ([`Messenger::direct`]): in the model's run,
    /// unless the guide subsampled a plate (a plate's index site taken directly is not
    /// replayed).
    direct: bool,
}

impl Run {
    /// Runs `model` on `args` under this handler, and returns the handler: the handler's own
    /// failure (in full), else the model's error, ends it.
    fn run<A: Clone, M: Model<A>>(self, model: &M, args: &A) -> Result<Run, InferError> {
        let (mut run, result) = with_handler(self, || model.call(args.clone()));
        if let Some(failure) = run.failure.take() {
            return Err(failure);
        }
        result.map_err(InferError::Run)?;
        Ok(run)
    }

    /// A run in `role` with room for `terms` log-density terms.
    fn new(role: Role, params: Params, seed: u64, mean_field: bool, terms: usize) -> Self {
        let direct = match &role {
            Role::Guide(_) => false,
            Role::Model(sites) => !sites.values().any(|site| site.subsample),
        };
        Run {
            direct,
            role,
            mean_field,
            replayed: None,
            params,
            rng: PyroRng::seed_from_u64(seed),
            log_density: Sum {
                value: 0.0,
                terms: Vec::with_capacity(terms),
            },
            score: Vec::new(),
            pending: Vec::new(),
            failure: None,
        }
    }

    fn fail(&mut self, site: &Name, reason: &'static str) -> PyroError {
        self.failure = Some(InferError::Run(PyroError::InvalidMessage {
            site: site.clone(),
            reason,
        }));
        PyroError::InvalidMessage {
            site: site.clone(),
            reason,
        }
    }

    /// Gives a parameter site its value on the tape, if the store has it.
    fn read_param(&mut self, msg: &mut Site) -> bool {
        match self.params.read(&msg.name) {
            Some((value, tracked)) => {
                msg.value = Some(value.clone());
                msg.tracked = tracked.clone();
                true
            }
            None => false,
        }
    }
}

impl Run {
    /// The model's latent site `name` replayed from the guide: its value and tape `Real`s, or
    /// `None` for a plate's index site (`subsample`) the guide did not subsample, which is
    /// drawn. A latent site the guide lacks is an error.
    fn replay(&mut self, name: &Name, subsample: bool) -> Result<Option<Supplied>, PyroError> {
        let Role::Model(sites) = &mut self.role else {
            return Ok(None);
        };
        match sites.shift_remove(name) {
            Some(site) => {
                if self.mean_field {
                    self.replayed = site.dist.map(|d| (d, site.log_q, site.scale));
                }
                Ok(Some((site.value, site.tracked)))
            }
            None if subsample => Ok(None),
            None => Err(self.fail(
                name,
                "the model has this latent site but the guide does not (the ELBO needs the \
                 guide to give every latent site of the model a value)",
            )),
        }
    }

    /// For a site replayed under [`TraceElbo::mean_field`], `ln q(z) - scale KL(q || p)`, the
    /// term that replaces its `ln p(z)` when its scale is the guide site's, it is not masked
    /// and the families have a KL in closed form (the guide's `ln q(z)`, which the ELBO
    /// subtracts, is added back); `None` otherwise.
    fn closed_form_term(
        &mut self,
        scale: f64,
        unmasked: bool,
        p: impl FnOnce() -> Option<AnyDistribution>,
    ) -> Option<Real> {
        let (q, log_q, q_scale) = self.replayed.take()?;
        if q_scale != scale || !unmasked {
            return None;
        }
        let kl = closed_form_kl(&q, &p()?)?;
        Some(log_q - scale * kl)
    }
}

/// The model's sample sites taken directly (see [`Run::direct`]): the same replay and the same
/// sum as the message path's `process` and `postprocess`.
impl DirectSink for Run {
    fn rng(&mut self) -> &mut PyroRng {
        &mut self.rng
    }

    fn supply(&mut self, name: &Name) -> Result<Option<Supplied>, PyroError> {
        self.replay(name, false)
    }

    fn record(&mut self, site: &dyn DirectSite) -> Result<(), PyroError> {
        if let Some(term) = self.closed_form_term(site.scale(), true, || Some(site.distribution()))
        {
            self.log_density.add(term);
            return Ok(());
        }
        self.log_density.add(site.log_prob_sum_real()?);
        Ok(())
    }
}

impl Messenger for Run {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.value.is_some() {
            return Ok(());
        }
        if msg.kind == SiteKind::Param {
            if self.read_param(msg) {
                msg.done = true;
            } else {
                self.pending.push(msg.name.clone());
            }
            return Ok(());
        }
        if msg.is_observed {
            return Ok(());
        }
        match &mut self.role {
            Role::Guide(_) => {
                if msg.infer.flag(SUBSAMPLE_FLAG) {
                    return Ok(());
                }
                let Some(dist) = msg.dist.as_ref() else {
                    return Ok(());
                };
                let (value, tracked) = match dist.rsample(&mut self.rng) {
                    Some((value, tracked)) => (value, tracked),
                    None => {
                        msg.infer
                            .insert(NOT_REPARAMETERISED, InferValue::Bool(true));
                        (dist.sample(&mut self.rng), SmallVec::new())
                    }
                };
                msg.value = Some(value);
                msg.tracked = tracked;
                msg.done = true;
            }
            Role::Model(_) => {
                if let Some((value, tracked)) =
                    self.replay(&msg.name, msg.infer.flag(SUBSAMPLE_FLAG))?
                {
                    msg.value = Some(value);
                    msg.tracked = tracked;
                    msg.done = true;
                }
            }
        }
        Ok(())
    }

    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind == SiteKind::Param {
            if let Some(at) = self.pending.iter().position(|n| *n == msg.name) {
                self.pending.swap_remove(at);
                self.read_param(msg);
            }
            return Ok(());
        }
        if let Some(term) =
            self.closed_form_term(msg.scale, msg.mask.is_none(), || msg.dist.clone())
        {
            self.log_density.add(term);
            return Ok(());
        }
        let lp = msg.log_prob_real()?;
        self.log_density.add(lp);
        if let Role::Guide(sites) = &mut self.role
            && !msg.is_observed
        {
            if msg.infer.flag(NOT_REPARAMETERISED) && !lp.is_constant() {
                self.score.push(lp);
            }
            if let Some(value) = &msg.value {
                sites.insert(
                    msg.name.clone(),
                    GuideSite {
                        value: value.clone(),
                        tracked: msg.tracked.clone(),
                        auxiliary: msg.infer.flag(AUXILIARY_FLAG) || msg.infer.flag(SUBSAMPLE_FLAG),
                        subsample: msg.infer.flag(SUBSAMPLE_FLAG),
                        dist: msg.dist.clone(),
                        log_q: lp,
                        // NaN, which no scale equals, for a masked site: no closed-form KL.
                        scale: if msg.mask.is_none() {
                            msg.scale
                        } else {
                            f64::NAN
                        },
                    },
                );
            }
        }
        Ok(())
    }

    fn rng(&mut self) -> Option<&mut PyroRng> {
        Some(&mut self.rng)
    }

    fn direct(&mut self) -> Option<&mut dyn DirectSink> {
        if self.direct { Some(self) } else { None }
    }
}

/// The flag this handler sets on a guide site drawn without reparameterisation.
const NOT_REPARAMETERISED: &str = "_not_reparameterised";

/// `KL(q || p)` in closed form on the tape, where the families have one: two normals,
/// `ln(s_p / s_q) + (s_q^2 + (m_q - m_p)^2) / (2 s_p^2) - 1/2`.
fn closed_form_kl(q: &AnyDistribution, p: &AnyDistribution) -> Option<Real> {
    match (q, p) {
        (AnyDistribution::Normal(q), AnyDistribution::Normal(p)) => {
            let (sq, sp) = (q.scale(), p.scale());
            let d = q.loc() - p.loc();
            Some((sp / sq).ln() + (sq * sq + d * d) / (2.0 * sp * sp) - 0.5)
        }
        _ => None,
    }
}
