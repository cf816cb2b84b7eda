//! [`Site`]: one message of the handler stack, and one node of a trace.

use crate::name::Name;
use pyro_distributions::{AnyDistribution, Real, Value, ValueType};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::sync::Arc;

/// What kind of primitive made a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SiteKind {
    /// A `sample` site, latent or observed (`factor` and `deterministic` are observed samples).
    Sample,
    /// A `param` site.
    Param,
}

/// The kind used by type-based selectors such as `block(hide_types = ...)`: an observed sample
/// site is an `Observe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SiteType {
    /// A latent sample site.
    Sample,
    /// An observed sample site.
    Observe,
    /// A param site.
    Param,
}

/// One plate a site sits in (Pyro's `CondIndepStackFrame`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The plate's name.
    pub name: Name,
    /// The number of elements taken (the subsample size).
    pub size: usize,
    /// The full size of the plate.
    pub full_size: usize,
    /// The iteration index of a sequential plate; `None` for a vectorised plate.
    pub counter: Option<usize>,
}

impl Frame {
    /// Whether the frame belongs to a vectorised plate.
    pub fn is_vectorized(&self) -> bool {
        self.counter.is_none()
    }
}

/// A mask over a site's log-probability: `false` elements contribute exactly 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Mask {
    /// One flag for the whole site.
    All(bool),
    /// One flag per batch element.
    Elements(Arc<[bool]>),
}

impl Mask {
    /// The logical and of two masks. Element masks of different lengths keep the shorter's
    /// length (the caller checks lengths against the site).
    pub fn and(&self, other: &Mask) -> Mask {
        match (self, other) {
            (Mask::All(a), Mask::All(b)) => Mask::All(*a && *b),
            (Mask::All(true), m) | (m, Mask::All(true)) => m.clone(),
            (Mask::All(false), _) | (_, Mask::All(false)) => Mask::All(false),
            (Mask::Elements(a), Mask::Elements(b)) => {
                Mask::Elements(a.iter().zip(b.iter()).map(|(x, y)| *x && *y).collect())
            }
        }
    }
}

/// A value of the per-site `infer` configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum InferValue {
    /// A flag, e.g. `is_auxiliary`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A real number (serialised as a string when not finite).
    Real(#[serde(with = "crate::nonfinite")] f64),
    /// A string, e.g. `enumerate = "parallel"`.
    Str(Cow<'static, str>),
    /// A sample value, e.g. the observation `uncondition` keeps under `obs` (non-finite reals
    /// serialised as strings).
    Value(#[serde(with = "crate::nonfinite::value")] Value),
}

impl From<bool> for InferValue {
    fn from(b: bool) -> Self {
        InferValue::Bool(b)
    }
}

impl From<i64> for InferValue {
    fn from(k: i64) -> Self {
        InferValue::Int(k)
    }
}

impl From<f64> for InferValue {
    fn from(x: f64) -> Self {
        InferValue::Real(x)
    }
}

impl From<&'static str> for InferValue {
    fn from(s: &'static str) -> Self {
        InferValue::Str(Cow::Borrowed(s))
    }
}

impl From<String> for InferValue {
    fn from(s: String) -> Self {
        InferValue::Str(Cow::Owned(s))
    }
}

impl From<Value> for InferValue {
    fn from(v: Value) -> Self {
        InferValue::Value(v)
    }
}

/// The per-site `infer` configuration: string keys to [`InferValue`]s, in insertion order.
/// Empty configurations do not allocate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InferConfig(Vec<(Cow<'static, str>, InferValue)>);

impl InferConfig {
    /// An empty configuration.
    pub const fn new() -> Self {
        InferConfig(Vec::new())
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&InferValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: InferValue) {
        let key = key.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// Copies every entry of `other` into this one (entries of `other` win).
    pub fn merge(&mut self, other: &InferConfig) {
        for (k, v) in &other.0 {
            self.insert(k.clone(), v.clone());
        }
    }

    /// Whether `key` is set to `InferValue::Bool(true)`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some(InferValue::Bool(true)))
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &InferValue)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A function run after a message has been through the stack (Pyro's `continuation`).
pub type Continuation = fn(&mut Site);

/// The `infer` key that marks the index site of a subsampled plate (Pyro's `_Subsample` sites):
/// such a site is left out of [`Trace::stochastic_nodes`](crate::Trace::stochastic_nodes) and of
/// the dense dependency graph.
pub const SUBSAMPLE_FLAG: &str = "_subsample";

/// The `infer` key that marks a `deterministic` site (Pyro's `_deterministic`): it records a
/// value and contributes nothing to the log-probability, so a vectorised plate needs no batch of
/// it.
pub const DETERMINISTIC_FLAG: &str = "_deterministic";

/// One message sent through the handler stack, and, once processed, one node of a [`Trace`].
///
/// Field names follow Pyro's message dict. Handlers read and rewrite the public fields while the
/// message is in flight. The log-probability cache lives only inside a trace: any mutable access
/// through a trace clears it, and a clone of a site leaves it behind (a site outside a trace can
/// be mutated freely), so it can never go stale.
///
/// [`Trace`]: crate::Trace
#[derive(Debug)]
pub struct Site {
    /// Sample or param.
    pub kind: SiteKind,
    /// The site name, unique within a trace.
    pub name: Name,
    /// The distribution of a sample site; `None` for a param site.
    pub dist: Option<AnyDistribution>,
    /// The value: the observation, a replayed or conditioned value, or the draw.
    pub value: Option<Value>,
    /// The value as tape [`Real`]s, one per element, while a gradient is being taken: set by
    /// the handler that makes a latent site's value a point on the tape (the potential energy
    /// of gradient-based inference), so that the model computes with it and the gradient flows
    /// through; empty otherwise. A runtime signal: `replay` does not copy it, and it is not
    /// serialised.
    pub tracked: SmallVec<[Real; 1]>,
    /// Whether the value is an observation.
    pub is_observed: bool,
    /// Per-site inference configuration.
    pub infer: InferConfig,
    /// Multiplier of the log-probability (plates' subsampling, `scale` handlers).
    pub scale: f64,
    /// Mask over the log-probability; `None` means unmasked.
    pub mask: Option<Mask>,
    /// The plates the site is in, outermost first.
    pub cond_indep_stack: Vec<Frame>,
    /// Set by a handler that supplied the value: skips the default draw.
    pub done: bool,
    /// Set by a handler to hide the message from every outer handler.
    pub stop: bool,
    /// Run after the message has been through the stack.
    pub continuation: Option<Continuation>,
    /// Set by the `escape` handler: once the message has been through the stack, the run ends
    /// with the site (Pyro's `NonlocalExit`). A runtime signal: `replay` does not copy it.
    pub escape: bool,
    /// Set by `intervene` on the messages it splits, so that a second intervention on the same
    /// message is detected (Pyro's `_intervener_id`). A runtime signal: `replay` does not copy it.
    pub intervened: bool,
    /// The cached scaled, masked log-probability (set by `Trace::compute_log_prob` or restored
    /// from JSON).
    pub(crate) log_prob: Option<f64>,
    /// The family name of a site restored from JSON, whose distribution is not serialised.
    pub(crate) restored_family: Option<Arc<str>>,
}

impl Clone for Site {
    /// A copy of every public field; the cached log-probability is not copied (the copy may be
    /// mutated freely), so a clone of a site restored from JSON, which has no distribution,
    /// cannot be scored again.
    fn clone(&self) -> Self {
        Site {
            kind: self.kind,
            name: self.name.clone(),
            dist: self.dist.clone(),
            value: self.value.clone(),
            tracked: self.tracked.clone(),
            is_observed: self.is_observed,
            infer: self.infer.clone(),
            scale: self.scale,
            mask: self.mask.clone(),
            cond_indep_stack: self.cond_indep_stack.clone(),
            done: self.done,
            stop: self.stop,
            continuation: self.continuation,
            escape: self.escape,
            intervened: self.intervened,
            log_prob: None,
            restored_family: self.restored_family.clone(),
        }
    }
}

impl Site {
    pub(crate) fn blank(kind: SiteKind, name: Name, dist: Option<AnyDistribution>) -> Self {
        Site {
            kind,
            name,
            dist,
            value: None,
            tracked: SmallVec::new(),
            is_observed: false,
            infer: InferConfig::new(),
            scale: 1.0,
            mask: None,
            cond_indep_stack: Vec::new(),
            done: false,
            stop: false,
            continuation: None,
            escape: false,
            intervened: false,
            log_prob: None,
            restored_family: None,
        }
    }

    /// A fresh latent sample message.
    pub fn sample(name: Name, dist: AnyDistribution) -> Self {
        Site::blank(SiteKind::Sample, name, Some(dist))
    }

    /// A fresh observed sample message with value `obs`.
    pub fn observed(name: Name, dist: AnyDistribution, obs: Value) -> Self {
        Site {
            value: Some(obs),
            is_observed: true,
            ..Site::sample(name, dist)
        }
    }

    /// A fresh param message; `value` is the constrained value once known.
    pub fn param(name: Name, value: Option<Value>) -> Self {
        Site {
            value,
            ..Site::blank(SiteKind::Param, name, None)
        }
    }

    /// The selector type: `Observe` for an observed sample site.
    pub fn site_type(&self) -> SiteType {
        match (self.kind, self.is_observed) {
            (SiteKind::Param, _) => SiteType::Param,
            (SiteKind::Sample, true) => SiteType::Observe,
            (SiteKind::Sample, false) => SiteType::Sample,
        }
    }

    /// Whether this is the index site of a subsampled plate: a sample site whose `infer` sets
    /// [`SUBSAMPLE_FLAG`].
    pub fn is_subsample(&self) -> bool {
        self.kind == SiteKind::Sample && self.infer.flag(SUBSAMPLE_FLAG)
    }

    /// The value as a `T` (`f64`, `bool`, `i64` or a vector of them), read leniently as
    /// [`ValueType::from_value`] reads.
    ///
    /// # Errors
    /// [`TraceError::Read`](crate::TraceError::Read), naming the site, when it has no value or
    /// one of another type.
    ///
    /// ```
    /// use pyro_trace::distributions::{Normal, Value};
    /// use pyro_trace::{Name, Site};
    ///
    /// let site = Site::observed(Name::from("y"), Normal::new(0.0, 1.0)?.into(), Value::Real(0.5));
    /// assert_eq!(site.value_as::<f64>()?, 0.5);
    /// assert_eq!(
    ///     site.value_as::<bool>().unwrap_err().to_string(),
    ///     "site 'y': the value is a real, not a bool"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value_as<T: ValueType>(&self) -> Result<T, crate::TraceError> {
        let value = self.value.as_ref().ok_or_else(|| crate::TraceError::Read {
            name: self.name.clone(),
            reason: "the site has no value".into(),
        })?;
        T::from_value(value).ok_or_else(|| crate::TraceError::Read {
            name: self.name.clone(),
            reason: format!(
                "the value is a {}, not a {}",
                value.type_name(),
                T::TYPE_NAME
            ),
        })
    }

    /// Whether this is a `deterministic` site: a sample site whose `infer` sets
    /// [`DETERMINISTIC_FLAG`].
    pub fn is_deterministic(&self) -> bool {
        self.kind == SiteKind::Sample && self.infer.flag(DETERMINISTIC_FLAG)
    }

    /// The family name of the distribution, e.g. `"Normal"`; for a site restored from JSON, the
    /// recorded name. `None` for a param site.
    pub fn family(&self) -> Option<&str> {
        match &self.dist {
            Some(d) => Some(d.family()),
            None => self.restored_family.as_deref(),
        }
    }

    /// The cached log-probability, if the site sits in a trace that computed it
    /// ([`Trace::compute_log_prob`](crate::Trace::compute_log_prob)) or was restored from JSON.
    pub fn cached_log_prob(&self) -> Option<f64> {
        self.log_prob
    }
}
