//! [`Plate`]: conditional independence, sequential or vectorised, with subsampling.

use crate::direct::{DirectPlate, DirectSite, check_batch, vectorized_batch};
use crate::error::PyroError;
use crate::runtime::{Messenger, apply_stack, with_direct, with_plate_handler};
use pyro_distributions::{AnyDistribution, Constraint, ErasedDistribution, Rng, Value};
use pyro_trace::{Frame, InferConfig, InferValue, Name, SUBSAMPLE_FLAG, Site, SiteKind};
use std::sync::Arc;

/// A plate: `size` conditionally independent elements, optionally subsampled.
///
/// - Vectorised ([`Plate::run`]): the body runs once; every batched sample site inside must have
///   one element per (sub)sampled index (times the sizes of enclosing vectorised plates).
/// - Sequential ([`Plate::for_each`]): the body runs once per (sub)sampled index.
///
/// Every message inside gets the plate's [`Frame`] and, when subsampling `k` of `n`, its `scale`
/// multiplied by `n / k`, so that minibatch log-likelihoods are unbiased; nested plates multiply.
/// The selected indices are a sample site named after the plate (scoring 0, marked
/// `infer._subsample`), so `replay` reuses them: a plate without a `subsample_size` adopts the
/// minibatch of a replayed guide (and scales by its size), while a plate with one refuses indices
/// of another length.
///
/// ```
/// use pyro_poutine::{Plate, PyroError, observe, sample, trace};
/// use pyro_poutine::distributions::{Batched, Normal};
///
/// let data = [0.1, 0.5, -0.3, 0.8];
/// let model = |()| -> Result<(), PyroError> {
///     let loc = sample("loc", Normal::new(0.0, 1.0))?;
///     // Vectorised, on a minibatch of 2 of the 4 points: scale 4 / 2 = 2.
///     Plate::new("data", data.len()).subsample_size(2).run(|idx| {
///         let ys: Vec<f64> = idx.iter().map(|i| data[i]).collect();
///         observe("y", Batched::iid(Normal::new(loc, 1.0)?, idx.len()), ys)?;
///         Ok(())
///     })?;
///     // Sequential.
///     Plate::new("steps", 3).for_each(|i| {
///         sample(pyro_poutine::Name::indexed("z", i as u64), Normal::new(0.0, 1.0))?;
///         Ok(())
///     })
/// };
/// let tr = trace(model).get_trace(())?;
/// assert_eq!(tr.get("y").unwrap().scale, 2.0);
/// assert!(tr.contains("data") && tr.contains("z_2"));
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Plate {
    name: Name,
    size: usize,
    subsample_size: Option<usize>,
    subsample: Option<Arc<[usize]>>,
}

/// The indices a plate selected: all of `0..size`, or a subsample.
#[derive(Clone, Debug, PartialEq)]
pub enum PlateIndices {
    /// Every index `0..n`.
    All(usize),
    /// The subsampled indices, in draw order.
    Subsample(Arc<[usize]>),
}

impl PlateIndices {
    /// How many indices.
    pub fn len(&self) -> usize {
        match self {
            PlateIndices::All(n) => *n,
            PlateIndices::Subsample(v) => v.len(),
        }
    }

    /// Whether there are none (never, for a valid plate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indices in order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let (n, list) = match self {
            PlateIndices::All(n) => (*n, None),
            PlateIndices::Subsample(v) => (v.len(), Some(v)),
        };
        (0..n).map(move |i| list.map_or(i, |v| v[i]))
    }
}

impl Plate {
    /// A plate named `name` over `size` elements, without subsampling.
    pub fn new(name: impl Into<Name>, size: usize) -> Self {
        Plate {
            name: name.into(),
            size,
            subsample_size: None,
            subsample: None,
        }
    }

    /// Draw `k` of the `size` indices without replacement at each run.
    pub fn subsample_size(mut self, k: usize) -> Self {
        self.subsample_size = Some(k);
        self
    }

    /// Use these indices as the subsample.
    pub fn subsample(mut self, indices: Vec<usize>) -> Self {
        self.subsample = Some(indices.into());
        self
    }

    /// Runs `body` once, vectorised over the selected indices.
    pub fn run<R>(
        &self,
        body: impl FnOnce(&PlateIndices) -> Result<R, PyroError>,
    ) -> Result<R, PyroError> {
        let indices = self.select()?;
        let handler = PlateMessenger {
            frame: self.frame(indices.len(), None),
            scale: self.size as f64 / indices.len() as f64,
        };
        with_plate_handler(handler, || body(&indices))
    }

    /// Runs `body` once per selected index, in order (a sequential plate).
    pub fn for_each(
        &self,
        mut body: impl FnMut(usize) -> Result<(), PyroError>,
    ) -> Result<(), PyroError> {
        let indices = self.select()?;
        let scale = self.size as f64 / indices.len() as f64;
        for (counter, i) in indices.iter().enumerate() {
            let handler = PlateMessenger {
                frame: self.frame(indices.len(), Some(counter)),
                scale,
            };
            with_plate_handler(handler, || body(i))?;
        }
        Ok(())
    }

    fn frame(&self, size: usize, counter: Option<usize>) -> Frame {
        Frame {
            name: self.name.clone(),
            size,
            full_size: self.size,
            counter,
        }
    }

    /// Validates the configuration and selects the indices: the index site goes to the sink of
    /// the innermost handler if it offers one (see [`Messenger::direct`]), else through the
    /// stack.
    fn select(&self) -> Result<PlateIndices, PyroError> {
        if self.size == 0 {
            return Err(PyroError::plate(&self.name, "size must be at least 1"));
        }
        let requested = match (self.subsample_size, &self.subsample) {
            (Some(k), Some(v)) if k != v.len() => {
                return Err(PyroError::plate(
                    &self.name,
                    format!(
                        "subsample_size {k} does not match the {} indices given",
                        v.len()
                    ),
                ));
            }
            (Some(k), _) => Some(k),
            (None, Some(v)) => Some(v.len()),
            (None, None) => None,
        };
        if let Some(k) = requested
            && (k == 0 || k > self.size)
        {
            return Err(PyroError::plate(
                &self.name,
                format!("subsample_size {k} must be in 1..={}", self.size),
            ));
        }
        let dist = Subsample {
            size: self.size,
            subsample_size: requested.unwrap_or(self.size),
        };
        let mut given = self
            .subsample
            .as_ref()
            .map(|v| Value::Ints(v.iter().map(|&i| i as i64).collect()));
        let direct = with_direct(|sink| {
            // Every index in order is not built unless the sink asks for the value.
            let value = match given.take() {
                None if dist.subsample_size == dist.size => None,
                None => Some(dist.sample_value(sink.rng())),
                value => value,
            };
            sink.record(&IndexSite {
                name: &self.name,
                dist: &dist,
                value: value.as_ref(),
            })?;
            Ok(value)
        });
        let value = match direct {
            Some(Ok(None)) => return Ok(PlateIndices::All(self.size)),
            Some(Ok(value)) => value,
            Some(Err(e)) => return Err(e),
            None => {
                let mut msg = Site::sample(self.name.clone(), dist.into());
                msg.infer = index_infer();
                msg.value = given;
                apply_stack(&mut msg, None)?;
                msg.value
            }
        };
        let indices = match value {
            Some(Value::Ints(v)) => v,
            other => {
                return Err(PyroError::plate(
                    &self.name,
                    format!("the subsample indices must be an int vector, got {other:?}"),
                ));
            }
        };
        match requested {
            Some(k) if indices.len() != k => {
                return Err(PyroError::plate(
                    &self.name,
                    format!(
                        "subsample_size {k} does not match the {} indices supplied; do the model \
                         and the guide use different subsample sizes?",
                        indices.len()
                    ),
                ));
            }
            None if indices.is_empty() || indices.len() > self.size => {
                return Err(PyroError::plate(
                    &self.name,
                    format!(
                        "{} indices supplied for a plate of size {}",
                        indices.len(),
                        self.size
                    ),
                ));
            }
            _ => {}
        }
        if !all_in_range(&indices, self.size)
            && let Some(bad) = indices.iter().find(|&&i| !all_in_range(&[i], self.size))
        {
            return Err(PyroError::plate(
                &self.name,
                format!("subsample index {bad} is outside 0..{}", self.size),
            ));
        }
        // A fold without early exit, which the compiler vectorises.
        let everything = indices.len() == self.size
            && indices
                .iter()
                .zip(0..)
                .fold(true, |same, (&j, i)| same & (j == i));
        Ok(if everything {
            PlateIndices::All(self.size)
        } else {
            PlateIndices::Subsample(indices.iter().map(|&i| i as usize).collect())
        })
    }
}

/// Whether every index is in `0..size`: a fold without early exit, which the compiler
/// vectorises (an index site is checked at every run of its plate).
fn all_in_range(indices: &[i64], size: usize) -> bool {
    // A negative index, cast, is at least 2^63: out of range too.
    indices
        .iter()
        .fold(true, |ok, &i| ok & ((i as u64) < size as u64))
}

/// The handler a plate installs: adds its frame and scale to every message.
pub(crate) struct PlateMessenger {
    pub(crate) frame: Frame,
    pub(crate) scale: f64,
}

impl Messenger for PlateMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        msg.cond_indep_stack.insert(0, self.frame.clone());
        msg.scale *= self.scale;
        Ok(())
    }

    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind != SiteKind::Sample {
            return Ok(());
        }
        let batch = vectorized_batch(msg.cond_indep_stack.iter());
        let found = msg.dist.as_ref().and_then(AnyDistribution::batch_len);
        check_batch(&self.frame, &msg.name, found, batch, &msg.infer)
    }

    fn direct_plate(&self) -> Option<&dyn DirectPlate> {
        Some(self)
    }
}

impl DirectPlate for PlateMessenger {
    fn frame(&self) -> &Frame {
        &self.frame
    }
    fn scale(&self) -> f64 {
        self.scale
    }
    fn check(&self, site: &dyn DirectSite, batch: usize) -> Result<(), PyroError> {
        check_batch(
            &self.frame,
            site.name(),
            site.batch_len(),
            batch,
            &site.infer(),
        )
    }
}

impl From<Subsample> for AnyDistribution {
    fn from(d: Subsample) -> Self {
        AnyDistribution::Custom(Arc::new(d))
    }
}

/// A plate's index site, given to a sink: `value` is `None` for every index in order.
struct IndexSite<'a> {
    name: &'a Name,
    dist: &'a Subsample,
    value: Option<&'a Value>,
}

impl DirectSite for IndexSite<'_> {
    fn name(&self) -> &Name {
        self.name
    }
    fn is_observed(&self) -> bool {
        false
    }
    fn log_prob(&self) -> f64 {
        match self.value {
            Some(v) => self.dist.log_prob_value(v),
            None => 0.0,
        }
    }
    fn value(&self) -> Value {
        match self.value {
            Some(v) => v.clone(),
            None => Value::Ints((0..self.dist.size as i64).collect()),
        }
    }
    fn distribution(&self) -> AnyDistribution {
        (*self.dist).into()
    }
    fn infer(&self) -> InferConfig {
        index_infer()
    }
    fn batch_len(&self) -> Option<usize> {
        None
    }
}

/// The `infer` configuration of a plate's index site: the subsample flag.
fn index_infer() -> InferConfig {
    let mut infer = InferConfig::default();
    infer.insert(SUBSAMPLE_FLAG, InferValue::Bool(true));
    infer
}

/// The distribution of a plate's index site: `subsample_size` distinct indices of `0..size`,
/// scoring 0 so that the plate's scaling alone makes the estimate unbiased.
#[derive(Clone, Copy, Debug)]
struct Subsample {
    size: usize,
    subsample_size: usize,
}

impl ErasedDistribution for Subsample {
    fn family_name(&self) -> &'static str {
        "Subsample"
    }
    /// Every index in order when nothing is subsampled (Pyro's `arange`), otherwise distinct
    /// indices drawn without replacement.
    fn sample_value(&self, rng: &mut dyn Rng) -> Value {
        if self.subsample_size == self.size {
            return Value::Ints((0..self.size as i64).collect());
        }
        let picked = rand::seq::index::sample(rng, self.size, self.subsample_size);
        Value::Ints(picked.iter().map(|i| i as i64).collect())
    }
    /// 0 for any in-range index vector of an allowed length (a replayed minibatch may differ
    /// from this plate's own size), `-inf` otherwise.
    fn log_prob_value(&self, value: &Value) -> f64 {
        match value {
            Value::Ints(v) if (1..=self.size).contains(&v.len()) && all_in_range(v, self.size) => {
                0.0
            }
            _ => f64::NEG_INFINITY,
        }
    }
    fn support_set(&self) -> Constraint {
        Constraint::Dependent
    }
}
