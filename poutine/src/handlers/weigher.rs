//! [`Weigher`]: the handler a run is weighed under, when only its log-probability and a few
//! sites' values are wanted (importance sampling's streaming particles).

use crate::direct::{DirectSink, DirectSite, check_batch, vectorized_batch};
use crate::error::PyroError;
use crate::plate::PlateMessenger;
use crate::run_names::RunNames;
use crate::runtime::{Messenger, PyroRng, with_weigher_installed};
use pyro_distributions::{AnyDistribution, Distribution, Value, ValueType};
use pyro_trace::{Frame, InferConfig, Name, Site, SiteKind, TraceError};
use rand::SeedableRng;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// The `infer` configuration of the sample and observe sites the weigher takes: empty.
const NO_INFER: InferConfig = InferConfig::new();

/// The values of a run's chosen sites, in the order of their names (`None` for a site the run did
/// not reach); inline for up to four sites.
pub type SiteValues = SmallVec<[Option<Value>; 4]>;

/// A handler that weighs runs without recording them: it hides every sample site from the
/// handlers outside it (as `block` does), draws latent values from its own generator (as `seed`
/// does), sums the sites' log-probabilities (all of them, or only the observed ones) and keeps the
/// values of chosen sites. It refuses a repeated sample name as a trace would, and sums in site
/// order from 0 exactly as [`Trace::log_prob_sum`](crate::Trace::log_prob_sum) does, so a run
/// weighs the same as its trace.
///
/// Run with [`Weigher::run`], sample and observe sites go to it with their typed distribution and
/// value, without a message or a dynamic call: this is importance sampling's fast path. It stays
/// on while plates are entered directly inside it (the weigher takes their frames and scales and
/// runs their batch checks); sites under any other handler inside it reach it as messages, or
/// directly through that handler's plates ([`Messenger::direct`]). Buffers are kept from run to
/// run.
///
/// ```
/// use pyro_poutine::{Name, PyroError, Weigher, observe, sample};
/// use pyro_poutine::distributions::{Distribution, Normal, Real, Value};
/// use std::{cell::RefCell, rc::Rc};
///
/// let weigher = Rc::new(RefCell::new(Weigher::new([Name::from("w")].into())));
/// weigher.borrow_mut().start(7, true);
/// let w = Weigher::run(&weigher, || -> Result<Real, PyroError> {
///     let w = sample("w", Normal::new(8.5, 1.0))?;
///     observe("y", Normal::new(w, 0.75), 9.5)?;
///     Ok(w)
/// })?;
/// let mut weigher = weigher.borrow_mut();
/// // Observed sites only: the log-likelihood of the draw.
/// assert_eq!(weigher.finish(), Normal::new(w, 0.75)?.log_prob(&Real::from(9.5)));
/// assert_eq!(weigher.values()[0], Some(Value::Real(w.value())));
/// # Ok::<(), PyroError>(())
/// ```
pub struct Weigher {
    rng: PyroRng,
    observed_only: bool,
    names: RunNames,
    values: SiteValues,
    log_prob: f64,
    /// The plates directly inside the weigher on the fast path, outermost first, each with the
    /// factor it scales a site's log-probability by.
    plates: Vec<(Frame, f64)>,
}

impl Weigher {
    /// A weigher keeping the values of `sites`.
    pub fn new(sites: Arc<[Name]>) -> Self {
        Weigher {
            rng: PyroRng::seed_from_u64(0),
            observed_only: false,
            names: RunNames::new(sites),
            values: SmallVec::new(),
            log_prob: 0.0,
            plates: Vec::new(),
        }
    }

    /// Readies the weigher for a run: its generator seeded with `seed`, summing only the observed
    /// sites' log-probabilities if `observed_only` (a run under the prior proposal), and nothing
    /// kept yet.
    pub fn start(&mut self, seed: u64, observed_only: bool) {
        self.rng = PyroRng::seed_from_u64(seed);
        self.observed_only = observed_only;
        let sites = self.names.sites();
        if self.values.len() == sites {
            self.values.iter_mut().for_each(|v| *v = None);
        } else {
            // Empty before the first run, and after the last run's values were taken.
            self.values.clear();
            self.values.resize(sites, None);
        }
    }

    /// Ends a successful run and returns its log-probability sum; its values stay in
    /// [`Weigher::values`] until the next run starts.
    pub fn finish(&mut self) -> f64 {
        self.names.finish();
        std::mem::take(&mut self.log_prob)
    }

    /// Forgets a failed run.
    pub fn reset(&mut self) {
        self.names.abandon();
        self.log_prob = 0.0;
    }

    /// The values of the chosen sites in the last run (taken out by a caller that keeps them).
    pub fn values(&mut self) -> &mut SiteValues {
        &mut self.values
    }

    /// Runs `body` with `weigher` installed as the innermost handler, taking sample and observe
    /// sites on the fast path. The stack is exactly as before when this returns or unwinds.
    pub fn run<R>(weigher: &Rc<RefCell<Weigher>>, body: impl FnOnce() -> R) -> R {
        with_weigher_installed(weigher, body)
    }

    /// A latent sample site on the fast path: draws the value and records it. (The error is
    /// boxed so that the result, on the hot path, fits in registers.)
    #[inline(always)]
    pub(crate) fn sample<D>(&mut self, name: &Name, dist: &D) -> Result<D::Value, Box<PyroError>>
    where
        D: Distribution,
    {
        let value = dist.sample(&mut self.rng);
        self.take(name, dist, &value, false)?;
        Ok(value)
    }

    /// An observed site on the fast path: records it.
    #[inline(always)]
    pub(crate) fn observe<D>(
        &mut self,
        name: &Name,
        dist: &D,
        value: &D::Value,
    ) -> Result<(), Box<PyroError>>
    where
        D: Distribution,
    {
        self.take(name, dist, value, true)
    }

    /// Records a site taken on the fast path.
    #[inline(always)]
    fn take<D: Distribution>(
        &mut self,
        name: &Name,
        dist: &D,
        value: &D::Value,
        is_observed: bool,
    ) -> Result<(), Box<PyroError>> {
        let scored = is_observed || !self.observed_only;
        if !self.plates.is_empty() {
            return self.take_in_plates(name, dist, value, scored);
        }
        self.visit(
            name,
            scored,
            || checked_log_prob(name, dist, value),
            || Some(value.clone().into_value()),
        )
    }

    /// [`Weigher::take`] inside plates: the log-probability scaled by the plates (innermost
    /// first, from the site's own scale of 1, as their handlers multiply it), then each plate's
    /// check, outermost first, as its handler's `postprocess` would.
    #[inline(never)]
    fn take_in_plates<D: Distribution>(
        &mut self,
        name: &Name,
        dist: &D,
        value: &D::Value,
        scored: bool,
    ) -> Result<(), Box<PyroError>> {
        let scale = self
            .plates
            .iter()
            .rev()
            .fold(1.0, |scale, (_, s)| scale * s);
        self.visit(
            name,
            scored,
            || {
                let log_prob = checked_log_prob(name, dist, value)?;
                TraceError::check_scaled(name, scale, log_prob)
            },
            || Some(value.clone().into_value()),
        )?;
        let batch = vectorized_batch(self.plates.iter().map(|(frame, _)| frame));
        let found = dist.batch_len();
        for (frame, _) in &self.plates {
            check_batch(frame, name, found, batch, &NO_INFER).map_err(Box::new)?;
        }
        Ok(())
    }

    /// Takes the frame and scale of a plate installed directly inside (see
    /// [`with_plate_handler`](crate::runtime::with_plate_handler)).
    pub(crate) fn enter_plate(&mut self, plate: &PlateMessenger) {
        self.plates.push((plate.frame.clone(), plate.scale));
    }

    /// Forgets the innermost plate.
    pub(crate) fn exit_plate(&mut self) {
        self.plates.pop();
    }

    /// Records sample site `name`: checks the name, adds the log-probability (if `scored`) and
    /// keeps the value (if the site is chosen).
    #[inline(always)]
    fn visit(
        &mut self,
        name: &Name,
        scored: bool,
        log_prob_sum: impl FnOnce() -> Result<f64, TraceError>,
        value: impl FnOnce() -> Option<Value>,
    ) -> Result<(), Box<PyroError>> {
        let Ok(chosen) = self.names.visit(name) else {
            return Err(repeated(name));
        };
        if scored {
            match log_prob_sum() {
                Ok(log_prob) => self.log_prob += log_prob,
                Err(e) => return Err(boxed(e)),
            }
        }
        if let Some(i) = chosen {
            self.values[i] = value();
        }
        Ok(())
    }
}

/// The error of a sample name seen twice in a run.
#[cold]
fn repeated(name: &Name) -> Box<PyroError> {
    let name = name.clone();
    boxed(TraceError::DuplicateSite { name })
}

#[cold]
fn boxed(e: TraceError) -> Box<PyroError> {
    Box::new(e.into())
}

impl Messenger for Weigher {
    /// Hides the site from every outer handler.
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        msg.stop = true;
        Ok(())
    }

    /// Records a sample site that came as a message.
    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind != SiteKind::Sample {
            return Ok(());
        }
        let scored = !self.observed_only || msg.is_observed;
        self.visit(
            &msg.name,
            scored,
            || msg.log_prob_sum(),
            || msg.value.clone(),
        )
        .map_err(|e| *e)
    }

    fn rng(&mut self) -> Option<&mut PyroRng> {
        Some(&mut self.rng)
    }

    fn direct(&mut self) -> Option<&mut dyn DirectSink> {
        Some(self)
    }
}

impl DirectSink for Weigher {
    fn rng(&mut self) -> &mut PyroRng {
        &mut self.rng
    }

    fn record(&mut self, site: &dyn DirectSite) -> Result<(), PyroError> {
        let scored = !self.observed_only || site.is_observed();
        self.visit(
            site.name(),
            scored,
            || site.log_prob_sum(),
            || Some(site.value()),
        )
        .map_err(|e| *e)
    }
}

/// The log-probability of `value` at site `name`, checked as a trace checks a site's: NaN is an
/// error, and so, with validation on, is a value outside the support.
#[inline(always)]
fn checked_log_prob<D: Distribution>(
    name: &Name,
    dist: &D,
    value: &D::Value,
) -> Result<f64, TraceError> {
    let log_prob = TraceError::check_log_prob(name, dist.log_prob(value))?;
    TraceError::check_support(name, log_prob, None, || {
        (erased(dist), value.clone().into_value())
    })?;
    Ok(log_prob)
}

/// `dist` type-erased, for an error message.
#[cold]
fn erased<D: Distribution>(dist: &D) -> AnyDistribution {
    AnyDistribution::custom(dist.clone())
}
