//! The primitives a model calls: [`sample`], [`observe`], [`param`], [`factor`],
//! [`deterministic`].

use crate::direct::DirectSite;
use crate::error::PyroError;
use crate::param_store::with_param_store;
use crate::runtime::{apply_stack, stack_depth, with_default_rng, with_direct, with_weigher};
use pyro_distributions::{
    AnyDistribution, Constraint, Distribution, ErasedDistribution, IntoDistribution, Observation,
    Real, Rng, Value, ValueType,
};
use pyro_trace::{DETERMINISTIC_FLAG, InferValue, Name, Site};
use std::sync::Arc;

/// The distribution for a primitive call, with a constructor error tied to the site's name.
pub(crate) fn distribution<A: IntoDistribution>(
    name: &Name,
    dist: A,
) -> Result<A::Dist, PyroError> {
    dist.into_distribution()
        .map_err(|source| PyroError::Distribution {
            site: Some(name.clone()),
            source,
        })
}

/// The typed value of a processed message (taken out of it, not copied).
pub(crate) fn typed<T: ValueType>(msg: &mut Site) -> Result<T, PyroError> {
    let value = msg.value.take().ok_or_else(|| PyroError::InvalidMessage {
        site: msg.name.clone(),
        reason: "the site has no value (a handler marked it done without giving one)",
    })?;
    let found = value.type_name();
    T::take_tracked(value, &msg.tracked).ok_or_else(|| PyroError::ValueType {
        site: msg.name.clone(),
        expected: T::TYPE_NAME,
        found,
    })
}

/// A sample site given to the sink of the innermost handler (see
/// [`Messenger::direct`](crate::Messenger::direct)).
struct Given<'a, D: Distribution> {
    name: &'a Name,
    dist: &'a D,
    value: &'a D::Value,
    is_observed: bool,
}

impl<D: Distribution + Into<AnyDistribution>> DirectSite for Given<'_, D> {
    fn name(&self) -> &Name {
        self.name
    }
    fn is_observed(&self) -> bool {
        self.is_observed
    }
    fn log_prob(&self) -> f64 {
        self.dist.log_prob(self.value)
    }
    fn log_prob_real(&self) -> Real {
        self.dist.log_prob_real(self.value)
    }
    fn value(&self) -> Value {
        self.value.clone().into_value()
    }
    fn distribution(&self) -> AnyDistribution {
        self.dist.clone().into()
    }
    fn batch_len(&self) -> Option<usize> {
        self.dist.batch_len()
    }
}

/// Draws a value for the latent site `name` from `dist`, through the handler stack.
///
/// `dist` is a distribution or a constructor's `Result`, so an invalid parameter is reported
/// with the site's name. Handlers may supply the value instead (`condition`, `replay`, ...), in
/// which case it must have the distribution's value type. With no handler installed, this just
/// draws.
///
/// ```
/// use pyro_poutine::{PyroError, sample};
/// use pyro_poutine::distributions::{Bernoulli, Normal, Real};
///
/// let x: Real = sample("x", Normal::new(0.0, 1.0))?;
/// let b: bool = sample("b", Bernoulli::new(0.5))?;
/// let err = sample("s", Normal::new(0.0, -1.0)).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "at sample site 's': Normal: invalid parameter scale = -1 (must be finite and > 0)"
/// );
/// # Ok::<(), PyroError>(())
/// ```
pub fn sample<A>(
    name: impl Into<Name>,
    dist: A,
) -> Result<<A::Dist as Distribution>::Value, PyroError>
where
    A: IntoDistribution,
    A::Dist: Into<AnyDistribution>,
{
    let name = name.into();
    let dist = distribution(&name, dist)?;
    if let Some(result) = with_weigher(|w| w.sample(&name, &dist)) {
        return result.map_err(|e| *e);
    }
    let direct = with_direct(|sink| {
        let value = match sink.supply(&name)? {
            None => dist.sample(sink.rng()),
            Some((value, tracked)) => {
                let found = value.type_name();
                <A::Dist as Distribution>::Value::take_tracked(value, &tracked).ok_or_else(
                    || PyroError::ValueType {
                        site: name.clone(),
                        expected: <<A::Dist as Distribution>::Value as ValueType>::TYPE_NAME,
                        found,
                    },
                )?
            }
        };
        sink.record(&Given {
            name: &name,
            dist: &dist,
            value: &value,
            is_observed: false,
        })?;
        Ok(value)
    });
    if let Some(result) = direct {
        return result;
    }
    if stack_depth() == 0 {
        return Ok(with_default_rng(|r| dist.sample(r)));
    }
    let mut msg = Site::sample(name, dist.into());
    apply_stack(&mut msg, None)?;
    typed(&mut msg)
}

/// Scores the observation `value` of site `name` under `dist` (Pyro's `sample(..., obs=value)`)
/// and returns it, or the value a handler put in its place (an outer `condition`). The value is
/// of the distribution's value type or plain data that converts to it ([`Observation`]: an
/// `f64` for a continuous family's `Real`, a `Vec<f64>` for a batch of them).
///
/// ```
/// use pyro_poutine::{PyroError, observe};
/// use pyro_poutine::distributions::Normal;
///
/// let y = observe("y", Normal::new(0.0, 1.0), 0.3)?;
/// assert_eq!(y, 0.3);
/// # Ok::<(), PyroError>(())
/// ```
pub fn observe<A>(
    name: impl Into<Name>,
    dist: A,
    value: impl Observation<<A::Dist as Distribution>::Value>,
) -> Result<<A::Dist as Distribution>::Value, PyroError>
where
    A: IntoDistribution,
    A::Dist: Into<AnyDistribution>,
{
    let name = name.into();
    let dist = distribution(&name, dist)?;
    let value = value.into_observation();
    match with_weigher(|w| w.observe(&name, &dist, &value)) {
        Some(Ok(())) => return Ok(value),
        Some(Err(e)) => return Err(*e),
        None => {}
    }
    let direct = with_direct(|sink| {
        sink.record(&Given {
            name: &name,
            dist: &dist,
            value: &value,
            is_observed: true,
        })
    });
    match direct {
        Some(Ok(())) => return Ok(value),
        Some(Err(e)) => return Err(e),
        None if stack_depth() == 0 => return Ok(value),
        None => {}
    }
    let mut msg = Site::observed(name, dist.into(), value.into_value());
    apply_stack(&mut msg, None)?;
    typed(&mut msg)
}

/// A learnable parameter: the value stored under `name` in the parameter store, initialised to
/// `init` (which must satisfy `constraint`) on first use. A parameter a gradient is taken for
/// (variational inference, [`Potential::with_params`](https://docs.rs/pyro-infer)) is read as
/// a `Real` (`param(name, Real::from(0.5), ..)`), through which the gradient flows. The first initialisation wins; later
/// calls read the stored value. Handlers may supply the value instead (`substitute`) or turn the
/// site into a sample (`lift`).
///
/// ```
/// use pyro_poutine::{PyroError, param, with_param_store};
/// use pyro_poutine::distributions::Constraint;
///
/// with_param_store(|s| s.remove("doc_param_scale"));
/// let s: f64 = param("doc_param_scale", 0.5, Constraint::Positive)?;
/// assert_eq!(s, 0.5);
/// let again: f64 = param("doc_param_scale", 9.0, Constraint::Positive)?;
/// assert_eq!(again, 0.5);
/// # Ok::<(), PyroError>(())
/// ```
pub fn param<T: ValueType>(
    name: impl Into<Name>,
    init: T,
    constraint: Constraint,
) -> Result<T, PyroError> {
    let name = name.into();
    let mut init = Some(init.into_value());
    let mut read_store = |msg: &mut Site| {
        let init = init.take().expect("the default step runs once");
        let value = with_param_store(|s| s.get_or_init(msg.name.clone(), init, constraint))?;
        msg.value = Some(value);
        Ok(())
    };
    let mut msg = Site::param(name, None);
    apply_stack(&mut msg, Some(&mut read_store))?;
    if !msg.tracked.is_empty() && !T::TRACKS {
        return Err(PyroError::InvalidMessage {
            site: msg.name,
            reason: "a gradient is being taken with respect to this parameter, but it is read \
                     as a plain number: read it as a Real (param(name, Real::from(x), ..))",
        });
    }
    typed(&mut msg)
}

/// Adds `log_weight` to the model's log-probability, as an observed site named `name` (scaled
/// and masked like any site). `log_weight` may be a tape [`Real`], through which a gradient
/// flows.
///
/// ```
/// use pyro_poutine::{PyroError, factor, trace};
///
/// let model = |()| factor("penalty", -2.5);
/// let tr = trace(model).get_trace(())?;
/// assert_eq!(tr.log_prob_sum(|_| true)?, -2.5);
/// # Ok::<(), PyroError>(())
/// ```
pub fn factor(name: impl Into<Name>, log_weight: impl Into<Real>) -> Result<(), PyroError> {
    if stack_depth() == 0 {
        return Ok(());
    }
    let log_weight = log_weight.into();
    let dist = AnyDistribution::Custom(Arc::new(Unit { log_weight }));
    let mut msg = Site::observed(name.into(), dist, Value::Reals(Vec::new()));
    apply_stack(&mut msg, None)
}

/// Records `value` as an observed site that contributes exactly 0 to the log-probability, and
/// returns it, or the value an outer `condition` supplies for `name`. A value no handler
/// replaced is returned as given, so a gradient carried by a `Real` flows on through it.
///
/// ```
/// use pyro_poutine::{PyroError, deterministic};
///
/// let total = deterministic("total", 3.5)?;
/// assert_eq!(total, 3.5);
/// # Ok::<(), PyroError>(())
/// ```
pub fn deterministic<T: ValueType>(name: impl Into<Name>, value: T) -> Result<T, PyroError> {
    if stack_depth() == 0 {
        return Ok(value);
    }
    let given = value.clone().into_value();
    let dist = AnyDistribution::Custom(Arc::new(Deterministic {
        value: given.clone(),
    }));
    let mut msg = Site::observed(name.into(), dist, given.clone());
    msg.infer.insert(DETERMINISTIC_FLAG, InferValue::Bool(true));
    apply_stack(&mut msg, None)?;
    if msg.value.as_ref() == Some(&given) {
        return Ok(value);
    }
    typed(&mut msg)
}

/// The distribution of a `factor` site: every value scores `log_weight` (Pyro's `Unit`).
#[derive(Debug)]
struct Unit {
    log_weight: Real,
}

impl ErasedDistribution for Unit {
    fn family_name(&self) -> &'static str {
        "Unit"
    }
    fn sample_value(&self, _: &mut dyn Rng) -> Value {
        Value::Reals(Vec::new())
    }
    fn log_prob_value(&self, _: &Value) -> f64 {
        self.log_weight.value()
    }
    fn log_prob_real_value(&self, _: &Value, _: &[Real]) -> Real {
        self.log_weight
    }
    fn support_set(&self) -> Constraint {
        Constraint::RealVector
    }
}

/// The distribution of a `deterministic` site: a point mass whose log-probability is masked to 0
/// everywhere (Pyro's `Delta(value).mask(False)`).
#[derive(Debug)]
struct Deterministic {
    value: Value,
}

impl ErasedDistribution for Deterministic {
    fn family_name(&self) -> &'static str {
        "Deterministic"
    }
    fn sample_value(&self, _: &mut dyn Rng) -> Value {
        self.value.clone()
    }
    fn log_prob_value(&self, _: &Value) -> f64 {
        0.0
    }
    fn support_set(&self) -> Constraint {
        Constraint::Dependent
    }
    fn mean_value(&self) -> Option<Value> {
        Some(self.value.clone())
    }
}
