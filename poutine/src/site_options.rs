//! [`site`]: a sample statement with per-site options (Pyro's `infer=` and `obs_mask=`).

use crate::error::PyroError;
use crate::handlers::mask::MaskMessenger;
use crate::model::Handler;
use crate::primitives::{deterministic, distribution, typed};
use crate::runtime::apply_stack;
use pyro_distributions::{
    AnyDistribution, Distribution, IntoDistribution, Observation, Value, ValueType,
};
use pyro_trace::{InferConfig, InferValue, Name, Site};
use std::sync::Arc;

/// A sample statement for site `name` with options, given at the call instead of by a handler
/// around it: [`infer`](SiteOptions::infer) (Pyro's `infer=`) and
/// [`obs_mask`](SiteOptions::obs_mask) (Pyro's `obs_mask=`). End it with
/// [`sample`](SiteOptions::sample) or [`observe`](SiteOptions::observe).
///
/// ```
/// use pyro_poutine::{InferValue, Plate, PyroError, site, trace};
/// use pyro_poutine::distributions::{Batched, Normal, Reals};
///
/// let model = |ys: Vec<f64>| -> Result<Reals, PyroError> {
///     let mu = site("mu").infer("is_auxiliary", true).sample(Normal::new(0.0, 1.0))?;
///     // The second observation is missing: imputed by a latent site `y_unobserved`.
///     Plate::new("data", 3).run(|_| {
///         site("y")
///             .obs_mask(vec![true, false, true])
///             .observe(Batched::iid(Normal::new(mu, 1.0)?, 3)?, &ys)
///     })
/// };
/// let tr = trace(model).get_trace(vec![0.5, f64::NAN, 1.5])?;
/// assert_eq!(tr.get("mu").unwrap().infer.get("is_auxiliary"), Some(&InferValue::Bool(true)));
/// assert!(tr.get("y_observed").unwrap().is_observed);
/// assert!(!tr.get("y_unobserved").unwrap().is_observed);
/// let y = tr.output::<Reals>().unwrap();
/// assert_eq!((y.values()[0], y.values()[2]), (0.5, 1.5));
/// assert!(y.values()[1].is_finite()); // imputed
/// assert!(tr.log_prob_sum(|_| true)?.is_finite());
/// # Ok::<(), PyroError>(())
/// ```
pub fn site(name: impl Into<Name>) -> SiteOptions {
    SiteOptions {
        name: name.into(),
        infer: InferConfig::new(),
        obs_mask: None,
    }
}

/// A sample statement with per-site options; built by [`site`].
#[derive(Clone, Debug)]
#[must_use = "a site's options do nothing until it is sampled or observed"]
pub struct SiteOptions {
    name: Name,
    infer: InferConfig,
    obs_mask: Option<Arc<[bool]>>,
}

impl SiteOptions {
    /// Sets `key` of the site's `infer` configuration (Pyro's `infer={key: value}`), as an
    /// `infer_config` handler around the statement would.
    pub fn infer(mut self, key: &'static str, value: impl Into<InferValue>) -> Self {
        self.infer.insert(key, value.into());
        self
    }

    /// Observes only the batch elements whose flag is `true`; the others are missing data,
    /// imputed by a latent site `{name}_unobserved` (Pyro's `obs_mask`). The statement then
    /// records three sites: `{name}_observed` (observed, masked to the observed elements),
    /// `{name}_unobserved` (latent, masked to the missing ones) and `name` (a `deterministic`
    /// site holding the observations with the imputed values in the gaps), and returns the
    /// latter. The distribution must be batched with one element per flag.
    pub fn obs_mask(mut self, mask: impl Into<Arc<[bool]>>) -> Self {
        self.obs_mask = Some(mask.into());
        self
    }

    /// Draws a value for the latent site (as [`sample`](crate::sample)).
    pub fn sample<A>(self, dist: A) -> Result<<A::Dist as Distribution>::Value, PyroError>
    where
        A: IntoDistribution,
        A::Dist: Into<AnyDistribution>,
    {
        let dist = distribution(&self.name, dist)?;
        if self.obs_mask.is_some() {
            return Err(PyroError::InvalidMessage {
                site: self.name,
                reason: "obs_mask needs an observation: use observe",
            });
        }
        let mut msg = Site::sample(self.name, dist.into());
        msg.infer = self.infer;
        apply_stack(&mut msg, None)?;
        typed(&mut msg)
    }

    /// Scores the observation `value` (as [`observe`](crate::observe)), or, with an
    /// [`obs_mask`](SiteOptions::obs_mask), its observed elements.
    pub fn observe<A>(
        self,
        dist: A,
        value: impl Observation<<A::Dist as Distribution>::Value>,
    ) -> Result<<A::Dist as Distribution>::Value, PyroError>
    where
        A: IntoDistribution,
        A::Dist: Into<AnyDistribution>,
    {
        let dist = distribution(&self.name, dist)?;
        let value = value.into_observation();
        let Some(mask) = self.obs_mask else {
            let mut msg = Site::observed(self.name, dist.into(), value.into_value());
            msg.infer = self.infer;
            apply_stack(&mut msg, None)?;
            return typed(&mut msg);
        };
        let batch = dist.batch_len();
        if batch != Some(mask.len()) {
            return Err(PyroError::InvalidMessage {
                site: self.name,
                reason: "obs_mask needs a batched distribution with one element per flag",
            });
        }
        let part = |suffix: &str, observed: Option<Value>, flags: Vec<bool>| {
            let dist: AnyDistribution = dist.clone().into();
            let mut msg = match observed {
                Some(v) => Site::observed(self.name.with_suffix(suffix), dist, v),
                None => Site::sample(self.name.with_suffix(suffix), dist),
            };
            msg.infer = self.infer.clone();
            MaskMessenger::new(flags).run(|| apply_stack(&mut msg, None))?;
            msg.value.take().ok_or_else(|| PyroError::InvalidMessage {
                site: msg.name.clone(),
                reason: "the site has no value (a handler marked it done without giving one)",
            })
        };
        let observed = part("_observed", Some(value.into_value()), mask.to_vec())?;
        let missing = part(
            "_unobserved",
            None,
            mask.iter().map(|&observed| !observed).collect(),
        )?;
        let joined = interleave(&mask, observed, missing).ok_or(PyroError::ValueType {
            site: self.name.clone(),
            expected: <A::Dist as Distribution>::Value::TYPE_NAME,
            found: "a value that is not a vector of the batch's length",
        })?;
        let joined =
            <A::Dist as Distribution>::Value::take_value(joined).ok_or(PyroError::ValueType {
                site: self.name.clone(),
                expected: <A::Dist as Distribution>::Value::TYPE_NAME,
                found: "another vector type",
            })?;
        deterministic(self.name, joined)
    }
}

/// The elements of `observed` where `mask` is `true`, of `missing` elsewhere; `None` for values
/// that are not vectors of one kind and of the mask's length.
fn interleave(mask: &[bool], observed: Value, missing: Value) -> Option<Value> {
    fn pick<T: Clone>(mask: &[bool], a: &[T], b: &[T]) -> Option<Vec<T>> {
        (a.len() == mask.len() && b.len() == mask.len()).then(|| {
            mask.iter()
                .zip(a.iter().zip(b))
                .map(|(&m, (x, y))| if m { x.clone() } else { y.clone() })
                .collect()
        })
    }
    Some(match (observed, missing) {
        (Value::Reals(a), Value::Reals(b)) => Value::Reals(pick(mask, &a, &b)?),
        (Value::Ints(a), Value::Ints(b)) => Value::Ints(pick(mask, &a, &b)?),
        (Value::Bools(a), Value::Bools(b)) => Value::Bools(pick(mask, &a, &b)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Batched, Distribution, Normal, Real, Reals};
    use crate::handlers::trace::trace;
    use crate::runtime::stack_depth;
    use crate::{InferConfigMessenger, Mask, Plate};

    #[test]
    fn infer_options_reach_the_trace_as_a_handler_would_put_them() {
        let with_option = |()| {
            site("z")
                .infer("enumerate", "parallel")
                .sample(Normal::new(0.0, 1.0))
        };
        let tr = trace(with_option).get_trace(()).unwrap();
        let z = tr.get("z").unwrap();
        assert_eq!(
            z.infer.get("enumerate"),
            Some(&InferValue::Str("parallel".into()))
        );
        // The same as the handler around a plain statement.
        let handled = |()| {
            InferConfigMessenger::new(|_| {
                let mut c = InferConfig::new();
                c.insert("enumerate", InferValue::Str("parallel".into()));
                c
            })
            .run(|| crate::sample("z", Normal::new(0.0, 1.0)))
        };
        let tr2 = trace(handled).get_trace(()).unwrap();
        assert_eq!(tr2.get("z").unwrap().infer, z.infer);
        // An observation with an option.
        let obs = |()| {
            site("y")
                .infer("is_auxiliary", true)
                .observe(Normal::new(0.0, 1.0), Real::from(0.5))
        };
        let tr = trace(obs).get_trace(()).unwrap();
        let y = tr.get("y").unwrap();
        assert!(y.is_observed && y.infer.flag("is_auxiliary"));
    }

    #[test]
    fn obs_mask_observes_some_elements_and_imputes_the_others() {
        let ys = Reals::from(vec![0.5, 9.0, 1.5, 7.0]);
        let mask = vec![true, false, true, false];
        let model = |(ys, mask): (Reals, Vec<bool>)| {
            Plate::new("data", 4).run(|_| {
                site("y")
                    .obs_mask(mask.clone())
                    .observe(Batched::iid(Normal::new(0.0, 1.0)?, 4)?, ys.clone())
            })
        };
        let tr = trace(model).get_trace((ys.clone(), mask.clone())).unwrap();
        let observed = tr.get("y_observed").unwrap();
        let missing = tr.get("y_unobserved").unwrap();
        assert!(observed.is_observed && !missing.is_observed);
        assert_eq!(observed.mask, Some(Mask::Elements(mask.clone().into())));
        assert_eq!(
            missing.mask,
            Some(Mask::Elements(vec![false, true, false, true].into()))
        );
        let Some(Value::Reals(imputed)) = &missing.value else {
            panic!()
        };
        let joined: Vec<f64> = tr.output::<Reals>().unwrap().values().to_vec();
        assert_eq!(joined, vec![0.5, imputed[1], 1.5, imputed[3]]);
        let y = tr.get("y").unwrap();
        assert!(y.is_deterministic());
        assert_eq!(y.value, Some(Value::Reals(joined.clone())));
        // The log density: the observed elements and the imputed ones, each once.
        let d = Normal::new(0.0, 1.0).unwrap();
        let expected = d.log_prob(&Real::from(0.5))
            + d.log_prob(&Real::from(1.5))
            + d.log_prob(&Real::from(imputed[1]))
            + d.log_prob(&Real::from(imputed[3]));
        assert!((tr.log_prob_sum(|_| true).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn obs_mask_misuse_is_an_error_naming_the_site() {
        let err = site("x")
            .obs_mask(vec![true])
            .sample(Normal::new(0.0, 1.0))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "site 'x': obs_mask needs an observation: use observe"
        );
        let err = trace(|()| {
            site("y")
                .obs_mask(vec![true, false])
                .observe(Batched::iid(Normal::new(0.0, 1.0)?, 3)?, vec![0.0; 3])
        })
        .get_trace(())
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "site 'y': obs_mask needs a batched distribution with one element per flag"
        );
        assert_eq!(stack_depth(), 0);
    }
}
