//! [`Potential`]: a model's log joint density in unconstrained space and its gradient, the
//! target of gradient-based inference (Pyro's `potential_fn`, negated).

use crate::error::InferError;
use crate::predictive::Latents;
use pyro_poutine::distributions::{Constraint, Real, Value};
use pyro_poutine::{
    DirectSink, DirectSite, Messenger, Model, Name, PyroError, PyroRng, SeedMessenger, Site,
    SiteKind, Supplied, TraceMessenger, with_handler, with_param_store, with_shared_handler,
};
use pyro_tape::{Tape, TapeError};
use rand::{Rng, RngExt, SeedableRng};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

/// A latent site as gradient-based inference sees it: where its unconstrained coordinates are,
/// and the bijection to its support.
#[derive(Clone, Debug)]
pub(crate) struct Latent {
    pub(crate) name: Name,
    pub(crate) support: Constraint,
    /// The first unconstrained coordinate.
    pub(crate) offset: usize,
    /// The number of unconstrained coordinates.
    pub(crate) len: usize,
    /// A vector value (a batched site, a simplex), even of one element.
    pub(crate) vector: bool,
    /// A `param` site (its map into the support adds no log-Jacobian: it is not a random
    /// variable).
    param: bool,
}

/// Where each latent site of a model lives in the unconstrained space.
#[derive(Debug, Default)]
struct Layout {
    latents: Vec<Latent>,
    index: FxHashMap<Name, usize>,
    dim: usize,
    /// Whether `param` sites are coordinates too.
    params: bool,
    /// How many terms the log density had in the first run (each site's, and each latent's
    /// log-Jacobian): the room a run reserves for them.
    terms: usize,
}

impl Layout {
    /// Whether the site's value is a coordinate: a latent sample site, or a `param` site when
    /// they are included.
    fn takes(&self, site: &Site) -> bool {
        is_latent(site) || (self.params && site.kind == SiteKind::Param)
    }
}

/// How a chain's starting point is chosen (Pyro's init strategies), for the sites without a
/// value given.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Init {
    /// Uniform in `(-radius, radius)` in unconstrained space (Pyro's `init_to_uniform`; the
    /// default, with radius 2).
    Uniform {
        /// The half-width of the interval.
        radius: f64,
    },
    /// The median of 15 draws from the prior, coordinate by coordinate (Pyro's
    /// `init_to_median`).
    Median,
}

impl Default for Init {
    fn default() -> Self {
        Init::Uniform { radius: 2.0 }
    }
}

/// Attempts at a starting point of finite density before giving up.
const INIT_ATTEMPTS: usize = 100;

/// Prior draws of [`Init::Median`].
const MEDIAN_DRAWS: usize = 15;

/// A model's log joint density in unconstrained space, with its gradient: the target of
/// gradient-based inference (NUTS), built from the model by an ordinary handler.
///
/// [`new`](Potential::new) runs the model once from the prior to find its latent sites, their
/// supports and sizes. Each evaluation ([`log_density`](Potential::log_density)) runs the model
/// again under a handler that gives every latent site its value from the point `u` (mapped
/// into the site's support, with the log-Jacobian of the map added) as tape
/// [`Real`]s, and scores every sample site with the one scoring rule
/// (scale, mask and plates as in a trace), so one backward sweep of the tape gives the gradient.
/// Conditioned and observed sites stay data.
///
/// A latent site must be continuous with a family that gives a gradient with respect to its
/// value; a discrete latent site, a family without a gradient, or a latent site that appears or
/// disappears between runs is an [`InferError::NotDifferentiable`] naming it.
///
/// ```
/// use pyro_infer::Potential;
/// use pyro_infer::poutine::{PyroError, PyroRng, observe, sample};
/// use pyro_infer::poutine::distributions::{HalfNormal, Normal};
/// use rand::SeedableRng;
///
/// let model = |y: f64| -> Result<(), PyroError> {
///     let mu = sample("mu", Normal::new(0.0, 1.0))?;
///     let sigma = sample("sigma", HalfNormal::new(1.0))?;
///     observe("y", Normal::new(mu, sigma), y)?;
///     Ok(())
/// };
/// let mut rng = PyroRng::seed_from_u64(0);
/// let potential = Potential::new(model, &0.5, &mut rng)?;
/// assert_eq!(potential.dim(), 2);
/// let mut grad = Vec::new();
/// // mu = 0, sigma = exp(0) = 1.
/// let lp = potential.log_density(&0.5, &[0.0, 0.0], &mut grad)?;
/// let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
/// let exact = -half_ln_2pi                                  // mu ~ Normal(0, 1) at 0
///     + (2.0_f64 / std::f64::consts::PI).sqrt().ln() - 0.5 // sigma ~ HalfNormal(1) at 1
///     + 0.0                                                // log-Jacobian of exp at 0
///     - half_ln_2pi - 0.125;                               // y ~ Normal(0, 1) at 0.5
/// assert!((lp - exact).abs() < 1e-12);
/// // d/dmu = 0.5 (from y), d/du_sigma = -1 + 1 + (0.25 - 1) = -0.75.
/// assert!((grad[0] - 0.5).abs() < 1e-12 && (grad[1] + 0.75).abs() < 1e-12);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Potential<M> {
    model: M,
    layout: Arc<Layout>,
}

impl<M> Potential<M> {
    /// Finds the latent sites of `model` at `args` from one run drawn from the prior with
    /// `rng`.
    ///
    /// # Errors
    /// [`InferError::Run`] if the model fails; [`InferError::NotDifferentiable`] for a latent
    /// site that gradient-based inference cannot take.
    pub fn new<A>(model: M, args: &A, rng: &mut PyroRng) -> Result<Self, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        Self::build(model, args, rng, false)
    }

    /// As [`new`](Potential::new), with the model's `param` sites as coordinates too, after
    /// the latent sites they follow in the model's first run: each is the unconstrained value of
    /// its parameter (through the parameter store's constraint), so the gradient with respect to
    /// the parameters comes with the latent sites' (what variational inference needs). A
    /// parameter is not a random variable: its map into its support adds no log-Jacobian, and it
    /// scores nothing. The parameter store is read once, for the starting values and the
    /// constraints; evaluations take the parameters' values from the point.
    ///
    /// ```
    /// use pyro_infer::Potential;
    /// use pyro_infer::poutine::distributions::{Constraint, Normal, Real};
    /// use pyro_infer::poutine::{PyroError, PyroRng, observe, param};
    /// use rand::SeedableRng;
    ///
    /// // Parameters a gradient is taken for are read as `Real`s.
    /// let model = |y: f64| -> Result<(), PyroError> {
    ///     let loc = param("doc_loc", Real::from(0.0), Constraint::Real)?;
    ///     let scale = param("doc_scale", Real::from(1.0), Constraint::Positive)?;
    ///     observe("y", Normal::new(loc, scale), y)?;
    ///     Ok(())
    /// };
    /// let potential = Potential::with_params(model, &2.0, &mut PyroRng::seed_from_u64(0))?;
    /// assert_eq!(potential.dim(), 2);
    /// // At loc = 0 and scale = exp(0) = 1: d/dloc = y - loc = 2, d/du_scale = (y - loc)^2 - 1 = 3.
    /// let mut grad = Vec::new();
    /// potential.log_density(&2.0, &[0.0, 0.0], &mut grad)?;
    /// assert_eq!(grad, vec![2.0, 3.0]);
    /// # Ok::<(), pyro_infer::InferError>(())
    /// ```
    ///
    /// # Errors
    /// As [`new`](Potential::new); a parameter whose value is not real is
    /// [`InferError::NotDifferentiable`].
    pub fn with_params<A>(model: M, args: &A, rng: &mut PyroRng) -> Result<Self, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        Self::build(model, args, rng, true)
    }

    fn build<A>(model: M, args: &A, rng: &mut PyroRng, params: bool) -> Result<Self, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        let trace = prior_trace(&model, args, rng)?;
        let mut layout = Layout {
            params,
            ..Layout::default()
        };
        layout.terms = trace.len();
        for site in trace.iter() {
            if !layout.takes(site) {
                continue;
            }
            let latent = latent_of(site, layout.dim)?;
            layout.dim += latent.len;
            layout.index.insert(site.name.clone(), layout.latents.len());
            layout.latents.push(latent);
            layout.terms += 1;
        }
        let potential = Potential {
            model,
            layout: Arc::new(layout),
        };
        // One evaluation at the prior draw checks that every latent's family gives a gradient.
        let u = potential.unconstrained(&trace_values(&trace, &potential.layout))?;
        potential.evaluate(args, &u, &mut Vec::new(), true)?;
        Ok(potential)
    }

    /// The number of unconstrained coordinates.
    pub fn dim(&self) -> usize {
        self.layout.dim
    }

    /// The sites whose values are the coordinates (the latent sites, and the `param` sites for
    /// [`with_params`](Potential::with_params)), in the order the model reached them in its
    /// first run, with their supports.
    pub fn sites(&self) -> impl Iterator<Item = (&Name, &Constraint)> {
        self.layout.latents.iter().map(|l| (&l.name, &l.support))
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The latent sites, in order, with where their coordinates are.
    pub(crate) fn latents(&self) -> &[Latent] {
        &self.layout.latents
    }

    /// The log joint density of the model at the unconstrained point `u` (the log-density of
    /// every sample site, scaled and masked, plus the log-Jacobian of the maps into the
    /// supports), with its gradient with respect to `u` written into `grad` (cleared first).
    /// `-inf` (with a gradient of zeros) where the density is zero.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] if `u` has the wrong length; [`InferError::Run`] if the
    /// model fails; [`InferError::NotDifferentiable`] if a latent site appears that the first
    /// run did not have, or one of them is missing.
    pub fn log_density<A>(
        &self,
        args: &A,
        u: &[f64],
        grad: &mut Vec<f64>,
    ) -> Result<f64, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        self.evaluate(args, u, grad, false)
    }

    fn evaluate<A>(
        &self,
        args: &A,
        u: &[f64],
        grad: &mut Vec<f64>,
        check_gradients: bool,
    ) -> Result<f64, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        self.check_len(u)?;
        let tape = Tape::start().map_err(tape_error)?;
        let run = ReusedRun::take();
        run.borrow_mut()
            .start(&self.layout, &tape, u, check_gradients);
        let result = with_shared_handler(&run, || self.model.call(args.clone()));
        let mut run = run.borrow_mut();
        if let Some(failure) = run.failure.take() {
            return Err(failure);
        }
        result.map_err(InferError::Run)?;
        if let Some(missing) = run.seen.iter().position(|&seen| !seen) {
            return Err(InferError::NotDifferentiable {
                site: self.layout.latents[missing].name.clone(),
                reason: "the latent site of the model's first run did not appear in this run \
                         (gradient-based inference needs the same latent sites in every run)"
                    .into(),
            });
        }
        let lp = run.log_density;
        if lp.is_nan() {
            return Err(InferError::Run(PyroError::InvalidMessage {
                site: Name::from("_potential"),
                reason: "the log joint density is NaN",
            }));
        }
        if lp == f64::NEG_INFINITY {
            grad.clear();
            grad.resize(u.len(), 0.0);
            return Ok(lp);
        }
        // One node for the whole sum: each term's partial is 1.
        let total = Real::record(lp, &run.terms);
        tape.backward_into(total, &run.leaves, grad)
            .map_err(tape_error)?;
        Ok(lp)
    }

    /// A starting point for a chain: `given` values for some sites (in their supports), the
    /// others chosen by `init`, retried until the log density is finite.
    ///
    /// # Errors
    /// [`InferError::UnknownSite`] for a given site that is not a latent site;
    /// [`InferError::BadValue`] for a given value outside its site's support;
    /// [`InferError::NoValidStart`] if no point of finite density was found in 100 attempts.
    pub fn init_point<A>(
        &self,
        args: &A,
        init: &Init,
        given: Option<&Latents>,
        rng: &mut PyroRng,
    ) -> Result<Vec<f64>, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        let mut fixed = vec![None; self.layout.latents.len()];
        for (name, value) in given.into_iter().flatten() {
            let Some(&i) = self.layout.index.get(name) else {
                return Err(InferError::UnknownSite {
                    site: name.clone(),
                    known: self.layout.latents.iter().map(|l| l.name.clone()).collect(),
                });
            };
            let latent = &self.layout.latents[i];
            let u = unconstrained_of(latent, value).ok_or_else(|| InferError::BadValue {
                site: name.clone(),
                reason: format!(
                    "the initial value {value:?} is not in the support {:?}",
                    latent.support
                ),
            })?;
            fixed[i] = Some(u);
        }
        let median = match init {
            Init::Median => Some(self.prior_median(args, rng)?),
            Init::Uniform { .. } => None,
        };
        let mut grad = Vec::new();
        for attempt in 0..INIT_ATTEMPTS {
            let mut u = Vec::with_capacity(self.layout.dim);
            for (latent, fixed) in self.layout.latents.iter().zip(&fixed) {
                match (fixed, &median, init) {
                    (Some(v), _, _) => u.extend_from_slice(v),
                    // The median first; if it has zero density, uniform points after it.
                    (None, Some(m), _) if attempt == 0 => {
                        u.extend_from_slice(&m[latent.offset..latent.offset + latent.len]);
                    }
                    (None, _, Init::Uniform { radius }) => {
                        u.extend((0..latent.len).map(|_| rng.random_range(-radius..*radius)));
                    }
                    (None, _, _) => u.extend((0..latent.len).map(|_| rng.random_range(-2.0..2.0))),
                }
            }
            let lp = self.log_density(args, &u, &mut grad)?;
            if lp.is_finite() && grad.iter().all(|g| g.is_finite()) {
                return Ok(u);
            }
        }
        Err(InferError::NoValidStart {
            attempts: INIT_ATTEMPTS,
            sites: Vec::new(),
        })
    }

    /// The unconstrained point of the latent values of a run (one per latent site).
    fn unconstrained(&self, values: &FxHashMap<Name, Value>) -> Result<Vec<f64>, InferError> {
        let mut u = Vec::with_capacity(self.layout.dim);
        for latent in &self.layout.latents {
            let value = values
                .get(&latent.name)
                .ok_or_else(|| InferError::MissingSite {
                    site: latent.name.clone(),
                    index: 0,
                })?;
            let coords = unconstrained_of(latent, value).ok_or_else(|| InferError::BadValue {
                site: latent.name.clone(),
                reason: format!(
                    "the value {value:?} is not in the support {:?}",
                    latent.support
                ),
            })?;
            u.extend(coords);
        }
        Ok(u)
    }

    /// The coordinate-wise median of the unconstrained values of 15 prior runs.
    fn prior_median<A>(&self, args: &A, rng: &mut PyroRng) -> Result<Vec<f64>, InferError>
    where
        M: Model<A>,
        A: Clone,
    {
        let mut draws = Vec::with_capacity(MEDIAN_DRAWS);
        for _ in 0..MEDIAN_DRAWS {
            let trace = prior_trace(&self.model, args, rng)?;
            draws.push(self.unconstrained(&trace_values(&trace, &self.layout))?);
        }
        Ok((0..self.layout.dim)
            .map(|j| {
                let mut column: Vec<f64> = draws.iter().map(|d| d[j]).collect();
                column.sort_by(f64::total_cmp);
                column[MEDIAN_DRAWS / 2]
            })
            .collect())
    }

    /// An error unless `u` has one coordinate per unconstrained dimension.
    fn check_len(&self, u: &[f64]) -> Result<(), InferError> {
        if u.len() == self.layout.dim {
            return Ok(());
        }
        Err(InferError::InvalidArgument {
            name: "u",
            reason: format!(
                "the point has {} coordinates, the model {}",
                u.len(),
                self.layout.dim
            ),
        })
    }

    /// The latent sites' values in their supports at the unconstrained point `u`, in the order
    /// of [`sites`](Potential::sites).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] if `u` has the wrong length.
    pub fn constrained(&self, u: &[f64]) -> Result<Vec<(Name, Value)>, InferError> {
        self.check_len(u)?;
        Ok(self
            .layout
            .latents
            .iter()
            .map(|l| {
                let coords: Vec<Real> = u[l.offset..l.offset + l.len]
                    .iter()
                    .map(|&x| Real::constant(x))
                    .collect();
                let (value, _, _) =
                    constrain(l, &coords).expect("a latent's support is continuous");
                (l.name.clone(), value)
            })
            .collect())
    }
}

/// One run of the model from the prior, traced.
fn prior_trace<M: Model<A>, A: Clone>(
    model: &M,
    args: &A,
    rng: &mut PyroRng,
) -> Result<pyro_poutine::Trace, InferError> {
    let seed = SeedMessenger::new(rng.next_u64());
    let (_, (tracer, result)) = with_handler(seed, || {
        with_handler(TraceMessenger::new(), || model.call(args.clone()))
    });
    result.map_err(InferError::Run)?;
    Ok(tracer.into_trace())
}

fn trace_values(trace: &pyro_poutine::Trace, layout: &Layout) -> FxHashMap<Name, Value> {
    trace
        .iter()
        .filter(|s| layout.takes(s))
        .filter_map(|s| Some((s.name.clone(), s.value.clone()?)))
        .collect()
}

/// Whether gradient-based inference treats the site as a latent variable: an unobserved sample
/// site that is not a plate's index.
fn is_latent(site: &Site) -> bool {
    site.kind == SiteKind::Sample && !site.is_observed && !site.is_subsample()
}

/// The layout entry of a latent site (or a `param` site) of the first run.
fn latent_of(site: &Site, offset: usize) -> Result<Latent, InferError> {
    let not = |reason: String| InferError::NotDifferentiable {
        site: site.name.clone(),
        reason,
    };
    if site.kind == SiteKind::Param {
        let support =
            with_param_store(|s| s.constraint(&site.name.as_cow())).unwrap_or(Constraint::Real);
        let (len, vector, support) = match (&site.value, support.scalar()) {
            (Some(Value::Real(_)), _) => (1, false, support),
            (Some(Value::Reals(v)), Some(scalar)) => {
                (v.len(), true, Constraint::Elementwise(scalar))
            }
            (Some(Value::Reals(v)), None) if support.is_continuous() => {
                let len = match support {
                    Constraint::Simplex => v.len().saturating_sub(1),
                    _ => v.len(),
                };
                (len, true, support)
            }
            _ => return Err(not("the parameter's value is not real".into())),
        };
        return Ok(Latent {
            name: site.name.clone(),
            support,
            offset,
            len,
            vector,
            param: true,
        });
    }
    let dist = site
        .dist
        .as_ref()
        .ok_or_else(|| not("the site has no distribution".into()))?;
    if let Some(frame) = site.cond_indep_stack.iter().find(|f| f.size < f.full_size) {
        return Err(not(format!(
            "it is in the subsampled plate '{}' ({} of {}), which makes the density random",
            frame.name, frame.size, frame.full_size
        )));
    }
    let support = dist.support();
    let value = site
        .value
        .as_ref()
        .ok_or_else(|| not("the site has no value".into()))?;
    let discrete = matches!(
        value,
        Value::Bool(_) | Value::Int(_) | Value::Bools(_) | Value::Ints(_)
    );
    if discrete || !support.is_continuous() {
        return Err(not(format!(
            "it is a discrete latent site ({} with support {support:?}); gradient-based \
             inference needs continuous latent sites (enumeration is not supported yet)",
            dist.family()
        )));
    }
    let (len, vector) = match (value, &support) {
        (Value::Real(_), _) => (1, false),
        (Value::Reals(v), Constraint::Simplex) => (v.len().saturating_sub(1), true),
        (Value::Reals(v), _) => (v.len(), true),
        _ => unreachable!("a discrete value was rejected above"),
    };
    Ok(Latent {
        name: site.name.clone(),
        support,
        offset,
        len,
        vector,
        param: false,
    })
}

/// A latent's unconstrained coordinates for its constrained value; `None` outside the support.
fn unconstrained_of(latent: &Latent, value: &Value) -> Option<Vec<f64>> {
    let value = match (latent.vector, value) {
        (false, Value::Int(k)) => Value::Real(*k as f64),
        (_, v) => v.clone(),
    };
    match latent.support.to_unconstrained(&value)? {
        Value::Real(x) if !latent.vector => Some(vec![x]),
        Value::Reals(v) if latent.vector && v.len() == latent.len => Some(v),
        _ => None,
    }
}

/// The value in `support` of the unconstrained coordinates `u` (a vector value when `vector`):
/// the value and its tape `Real`s. `None` for a support without a bijection. The map of latent
/// sites and of parameters alike (Pyro's `biject_to`).
pub(crate) fn into_support(
    support: &Constraint,
    vector: bool,
    u: &[Real],
) -> Option<(Value, SmallVec<[Real; 1]>)> {
    if vector {
        let x = support.to_constrained_reals(u)?;
        let value = Value::Reals(x.iter().map(|r| r.value()).collect());
        Some((value, x.into_iter().collect()))
    } else {
        let x = support.to_constrained_real(*u.first()?)?;
        Some((Value::Real(x.value()), SmallVec::from_elem(x, 1)))
    }
}

/// The log-Jacobian of [`into_support`] at `u`.
fn log_jacobian(support: &Constraint, vector: bool, u: &[Real]) -> Option<Real> {
    if vector {
        support.log_abs_det_jacobian_reals(u)
    } else {
        support.log_abs_det_jacobian_real(*u.first()?)
    }
}

/// A latent's value in its support for the unconstrained coordinates `u`: the value, its tape
/// `Real`s, and the log-Jacobian of the map. `None` for a support without a bijection.
pub(crate) fn constrain(latent: &Latent, u: &[Real]) -> Option<(Value, SmallVec<[Real; 1]>, Real)> {
    let (value, x) = into_support(&latent.support, latent.vector, u)?;
    let jacobian = log_jacobian(&latent.support, latent.vector, u)?;
    Some((value, x, jacobian))
}

/// The handler of one evaluation of a [`Potential`]: gives each latent site its value from the
/// tape's leaves and adds up the log joint density. One is kept per thread and readied for each
/// evaluation ([`ReusedRun`]), so that an evaluation allocates nothing once the buffers have
/// grown.
struct PotentialRun {
    layout: Arc<Layout>,
    leaves: Vec<Real>,
    seen: Vec<bool>,
    /// The position in `layout.latents` of the latent site expected next: sites come in the
    /// order of the first run, so the name is compared there before it is looked up.
    next: usize,
    /// The log joint density so far.
    log_density: f64,
    /// Its terms that are on the tape, each with partial 1 (one node for the sum at the end).
    terms: Vec<(Real, f64)>,
    /// Whether to check that each latent's log-density depends on its value on the tape (done
    /// once, by [`Potential::new`]).
    check_gradients: bool,
    /// The error that stopped the run, in full (the run itself stops with a short one).
    failure: Option<InferError>,
    /// The generator of the direct path's draws; every latent value is supplied, so it draws
    /// nothing (a plate's index site is not random without subsampling, which is refused).
    rng: PyroRng,
    /// Whether the site being taken directly had its value supplied by this run.
    supplied: bool,
}

thread_local! {
    /// This thread's [`PotentialRun`], between evaluations (`None` while one is running).
    static RUN: Cell<Option<Rc<RefCell<PotentialRun>>>> = const { Cell::new(None) };
}

/// The thread's [`PotentialRun`] for one evaluation, put back when dropped (on every exit
/// path). An evaluation that finds none there (the first on the thread, or one started from
/// inside a model run) makes one.
struct ReusedRun(Rc<RefCell<PotentialRun>>);

impl ReusedRun {
    fn take() -> ReusedRun {
        ReusedRun(RUN.with(Cell::take).unwrap_or_default())
    }
}

impl std::ops::Deref for ReusedRun {
    type Target = Rc<RefCell<PotentialRun>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for ReusedRun {
    fn drop(&mut self) {
        RUN.with(|slot| slot.set(Some(self.0.clone())));
    }
}

impl Default for PotentialRun {
    fn default() -> Self {
        PotentialRun {
            layout: Arc::default(),
            leaves: Vec::new(),
            seen: Vec::new(),
            next: 0,
            log_density: 0.0,
            terms: Vec::new(),
            check_gradients: false,
            failure: None,
            rng: PyroRng::seed_from_u64(0),
            supplied: false,
        }
    }
}

impl PotentialRun {
    /// Readies the run for an evaluation of `layout`'s model at `u`, one leaf of `tape` per
    /// coordinate. (The layout is kept until the next evaluation on this thread.)
    fn start(&mut self, layout: &Arc<Layout>, tape: &Tape, u: &[f64], check_gradients: bool) {
        if !Arc::ptr_eq(&self.layout, layout) {
            self.layout = layout.clone();
        }
        self.leaves.clear();
        self.leaves.extend(u.iter().map(|&x| tape.leaf(x)));
        self.seen.clear();
        self.seen.resize(layout.latents.len(), false);
        self.next = 0;
        self.log_density = 0.0;
        self.terms.clear();
        self.terms.reserve(layout.terms);
        self.check_gradients = check_gradients;
        self.failure = None;
        self.rng = PyroRng::seed_from_u64(0);
        self.supplied = false;
    }
}

impl PotentialRun {
    fn fail(&mut self, site: &Name, reason: String) -> PyroError {
        self.failure = Some(InferError::NotDifferentiable {
            site: site.clone(),
            reason,
        });
        PyroError::InvalidMessage {
            site: site.clone(),
            reason: "gradient-based inference cannot take this site",
        }
    }
}

impl PotentialRun {
    /// The value of the latent site `name` at the run's point: the leaves of its coordinates
    /// mapped into its support (the log-Jacobian of the map is added to the density).
    fn supply_latent(&mut self, name: &Name) -> Result<Supplied, PyroError> {
        let expected = self.layout.latents.get(self.next);
        let found = match expected {
            Some(latent) if latent.name == *name => Some(self.next),
            _ => self.layout.index.get(name).copied(),
        };
        let Some(i) = found else {
            return Err(self.fail(
                name,
                "the latent site was not in the model's first run (gradient-based inference \
                 needs the same latent sites in every run)"
                    .into(),
            ));
        };
        if std::mem::replace(&mut self.seen[i], true) {
            return Err(self.fail(name, "the latent site appeared twice in one run".into()));
        }
        self.next = i + 1;
        let latent = &self.layout.latents[i];
        let u = &self.leaves[latent.offset..latent.offset + latent.len];
        let no_bijection = || format!("its support {:?} has no bijection", latent.support);
        let Some((value, tracked)) = into_support(&latent.support, latent.vector, u) else {
            return Err(self.fail(name, no_bijection()));
        };
        // A parameter is not a random variable: its map adds no log-Jacobian.
        if !latent.param {
            let Some(jacobian) = log_jacobian(&latent.support, latent.vector, u) else {
                return Err(self.fail(name, no_bijection()));
            };
            self.add_term(jacobian);
        }
        Ok((value, tracked))
    }

    /// Adds `term` to the log joint density.
    fn add_term(&mut self, term: Real) {
        self.log_density += term.value();
        if !term.is_constant() {
            self.terms.push((term, 1.0));
        }
    }

    /// Adds a sample site's scaled, masked log-density `lp`; `supplied` says whether the site
    /// is a latent one whose value this run supplied. `site` gives its name and family, for the
    /// error only.
    fn add(
        &mut self,
        lp: Real,
        supplied: bool,
        site: impl FnOnce() -> (Name, String),
    ) -> Result<(), PyroError> {
        if self.check_gradients && supplied && lp.value().is_finite() && lp.is_constant() {
            let (name, family) = site();
            let reason =
                format!("its family ({family}) gives no gradient with respect to its value");
            return Err(self.fail(&name, reason));
        }
        self.add_term(lp);
        Ok(())
    }
}

impl Messenger for PotentialRun {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if !self.layout.takes(msg) || msg.value.is_some() {
            return Ok(());
        }
        let (value, tracked) = self.supply_latent(&msg.name)?;
        msg.value = Some(value);
        msg.tracked = tracked;
        msg.done = true;
        Ok(())
    }

    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind != SiteKind::Sample {
            return Ok(());
        }
        let lp = msg.log_prob_real()?;
        let supplied = !msg.tracked.is_empty();
        self.add(lp, supplied, || {
            (msg.name.clone(), msg.family().unwrap_or("?").to_string())
        })
    }

    fn direct(&mut self) -> Option<&mut dyn DirectSink> {
        Some(self)
    }
}

/// Sites taken directly (when the potential's handler is the innermost one, or only plates are
/// inside it): the same supply and sum as the message path, without building messages.
impl DirectSink for PotentialRun {
    fn rng(&mut self) -> &mut PyroRng {
        &mut self.rng
    }

    fn supply(&mut self, name: &Name) -> Result<Option<Supplied>, PyroError> {
        let supplied = self.supply_latent(name)?;
        self.supplied = true;
        Ok(Some(supplied))
    }

    fn record(&mut self, site: &dyn DirectSite) -> Result<(), PyroError> {
        let lp = site.log_prob_sum_real()?;
        let supplied = std::mem::take(&mut self.supplied);
        self.add(lp, supplied, || {
            (
                site.name().clone(),
                site.distribution().family().to_string(),
            )
        })
    }
}

fn tape_error(e: TapeError) -> InferError {
    InferError::InvalidArgument {
        name: "gradient",
        reason: e.to_string(),
    }
}
