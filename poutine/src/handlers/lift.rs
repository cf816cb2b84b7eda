//! `lift`: turn learnable parameters into latent random variables.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_distributions::{AnyDistribution, Value};
use pyro_trace::{Name, Site, SiteKind};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Which prior a lifted param gets.
#[derive(Clone, Debug)]
enum Prior {
    /// One prior for every param.
    All(AnyDistribution),
    /// A prior per param name; other params stay params.
    ByName(Arc<FxHashMap<Name, AnyDistribution>>),
}

/// The `lift` handler: `param` sites become latent sample sites drawn from a prior, as if
/// `param("s", ...)` were `sample("s", prior)`. The parameter store is neither read nor
/// initialised for them.
///
/// The prior is one distribution for all params ([`LiftMessenger::new`]) or one per param name
/// ([`LiftMessenger::by_name`]; params without a prior stay params). A param name used again within one run
/// gets the value drawn the first time; only the first use is a sample site for outer handlers
/// (later uses are observed at that value and stopped, as in Pyro).
///
/// The prior's values must have the param's type, else the `param` call fails with
/// [`PyroError::ValueType`].
///
/// ```
/// use pyro_poutine::{Handler, LiftMessenger, PyroError, SiteKind, TraceMessenger, lift, param, sample, trace};
/// use pyro_poutine::distributions::{Constraint, Normal, Real};
///
/// fn model(x: f64) -> Result<Real, PyroError> {
///     let loc: f64 = param("lift_doc_loc", 0.0, Constraint::Real)?;
///     sample("y", Normal::new(loc + x, 1.0))
/// }
/// // Around a model: `lift_doc_loc` is now a latent sample site with the prior.
/// let tr = trace(lift(model, Normal::new(10.0, 0.1)?)).get_trace(0.0)?;
/// let site = tr.get("lift_doc_loc").unwrap();
/// assert_eq!(site.kind, SiteKind::Sample);
/// assert!(!site.is_observed);
/// // Around a closure, with a prior per name.
/// let (_, tr) = TraceMessenger::record(|| {
///     LiftMessenger::by_name([("lift_doc_loc", Normal::new(0.0, 1.0)?.into())]).run(|| model(1.0))
/// })?;
/// assert_eq!(tr.get("lift_doc_loc").unwrap().dist.as_ref().unwrap().family(), "Normal");
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug)]
pub struct LiftMessenger {
    prior: Prior,
    /// The params lifted so far in this run, with their value once drawn.
    cache: FxHashMap<Name, Option<Value>>,
}

impl LiftMessenger {
    /// A handler lifting every param with `prior`.
    pub fn new(prior: impl Into<AnyDistribution>) -> Self {
        LiftMessenger {
            prior: Prior::All(prior.into()),
            cache: FxHashMap::default(),
        }
    }

    /// A handler lifting the named params, each with its prior; other params stay params.
    pub fn by_name<K: Into<Name>>(priors: impl IntoIterator<Item = (K, AnyDistribution)>) -> Self {
        LiftMessenger {
            prior: Prior::ByName(Arc::new(
                priors.into_iter().map(|(k, d)| (k.into(), d)).collect(),
            )),
            cache: FxHashMap::default(),
        }
    }

    /// The prior of the param `name`, if it is lifted.
    pub fn prior(&self, name: impl Into<Name>) -> Option<&AnyDistribution> {
        match &self.prior {
            Prior::All(d) => Some(d),
            Prior::ByName(map) => map.get(&name.into()),
        }
    }
}

impl Messenger for LiftMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind != SiteKind::Param {
            return Ok(());
        }
        let prior = match &self.prior {
            Prior::All(d) => d,
            Prior::ByName(map) => match map.get(&msg.name) {
                Some(d) => d,
                None => return Ok(()),
            },
        };
        msg.kind = SiteKind::Sample;
        msg.dist = Some(prior.clone());
        match self.cache.get(&msg.name) {
            Some(Some(value)) => {
                // A repeated param: the first draw, hidden from outer handlers.
                msg.value = Some(value.clone());
                msg.is_observed = true;
                msg.stop = true;
            }
            _ => {
                msg.is_observed = false;
                self.cache.insert(msg.name.clone(), None);
            }
        }
        Ok(())
    }

    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind == SiteKind::Sample
            && let Some(slot @ None) = self.cache.get_mut(&msg.name)
        {
            *slot = msg.value.clone();
        }
        Ok(())
    }
}

/// Wraps `model` in a [`LiftMessenger`] handler: every param becomes a latent sample site drawn from
/// `prior`.
pub fn lift<M: IntoModel<Mk>, Mk>(
    model: M,
    prior: impl Into<AnyDistribution>,
) -> Handled<M::Model, LiftMessenger> {
    LiftMessenger::new(prior).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Bernoulli, Constraint, Normal};
    use crate::{
        Model, SeedMessenger, TraceMessenger, param, sample, set_rng_seed, stack_depth, trace,
        with_handler, with_param_store,
    };

    fn normal(loc: f64) -> AnyDistribution {
        Normal::new(loc, 1e-3).unwrap().into()
    }

    fn real(v: &Option<Value>) -> f64 {
        match v {
            Some(Value::Real(x)) => *x,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn params_become_latent_samples_and_the_store_is_untouched() {
        let m = |()| -> Result<(f64, f64), PyroError> {
            let a: f64 = param("lift_t1_a", 0.5, Constraint::Positive)?;
            let b: f64 = param("lift_t1_b", 0.5, Constraint::Real)?;
            Ok((a, b))
        };
        let tr = trace(lift(m, normal(100.0))).get_trace(()).unwrap();
        let (a, b) = *tr.output::<(f64, f64)>().unwrap();
        for (name, v) in [("lift_t1_a", a), ("lift_t1_b", b)] {
            let site = tr.get(name).unwrap();
            assert_eq!(site.kind, SiteKind::Sample);
            assert!(!site.is_observed);
            assert_eq!(site.dist.as_ref().unwrap().family(), "Normal");
            assert_eq!(real(&site.value), v);
            assert!((v - 100.0).abs() < 0.1);
            assert!(!with_param_store(|s| s.contains(name)));
        }
        // The prior is scored like any sample site.
        let site = tr.get("lift_t1_a").unwrap();
        assert!(
            site.dist
                .as_ref()
                .unwrap()
                .log_prob(site.value.as_ref().unwrap())
                .is_finite()
        );
    }

    #[test]
    fn fresh_draws_each_run_and_seedable() {
        let m = |()| param("lift_t2", 0.0, Constraint::Real);
        let lifted = lift(m, Normal::new(0.0, 1.0).unwrap());
        assert_ne!(lifted.call(()).unwrap(), lifted.call(()).unwrap());
        let seeded = SeedMessenger::new(3).wrap(lifted);
        assert_eq!(seeded.call(()).unwrap(), seeded.call(()).unwrap());
    }

    #[test]
    fn map_prior_lifts_only_named_params() {
        let m = |()| -> Result<(f64, f64), PyroError> {
            let a: f64 = param("lift_t3_a", 0.5, Constraint::Real)?;
            let b: f64 = param("lift_t3_b", 0.25, Constraint::Real)?;
            Ok((a, b))
        };
        let h = LiftMessenger::by_name([("lift_t3_a", normal(-50.0))]);
        assert!(h.prior("lift_t3_a").is_some() && h.prior("lift_t3_b").is_none());
        let tr = trace(h.wrap(m)).get_trace(()).unwrap();
        assert_eq!(tr.get("lift_t3_a").unwrap().kind, SiteKind::Sample);
        let b = tr.get("lift_t3_b").unwrap();
        assert_eq!(b.kind, SiteKind::Param);
        assert_eq!(b.value, Some(Value::Real(0.25)));
        assert!(!with_param_store(|s| s.contains("lift_t3_a")));
        assert!(with_param_store(|s| s.contains("lift_t3_b")));
        assert!(LiftMessenger::new(normal(0.0)).prior("anything").is_some());
    }

    #[test]
    fn repeated_param_reuses_the_first_draw_and_records_one_site() {
        let m = |()| -> Result<(f64, f64, f64), PyroError> {
            let a: f64 = param("lift_t4", 0.0, Constraint::Real)?;
            let y = sample("y", Normal::new(0.0, 1.0))?;
            let b: f64 = param("lift_t4", 0.0, Constraint::Real)?;
            Ok((a, y.value(), b))
        };
        set_rng_seed(0);
        let tr = trace(lift(m, Normal::new(0.0, 1.0).unwrap()))
            .get_trace(())
            .unwrap();
        let (a, _, b) = *tr.output::<(f64, f64, f64)>().unwrap();
        assert_eq!(a, b);
        assert_eq!(tr.len(), 2);
        let site = tr.get("lift_t4").unwrap();
        assert!(!site.is_observed);
        assert_eq!(real(&site.value), a);
        // A new run draws again (the cache is per run).
        let lifted = lift(m, Normal::new(0.0, 1.0).unwrap());
        let (a1, _, _) = lifted.call(()).unwrap();
        let (a2, _, _) = lifted.call(()).unwrap();
        assert_ne!(a1, a2);
    }

    #[test]
    fn repeated_param_inside_an_inner_trace_is_a_duplicate() {
        // As in Pyro: the repeated, observed copy reaches handlers inside the lift.
        let m = |()| -> Result<f64, PyroError> {
            param("lift_t5", 0.0, Constraint::Real)?;
            param("lift_t5", 0.0, Constraint::Real)
        };
        let (_, (_, result)) = with_handler(LiftMessenger::new(normal(0.0)), || {
            with_handler(TraceMessenger::new(), || m(()))
        });
        assert_eq!(
            result.unwrap_err().to_string(),
            trace(|()| -> Result<(), PyroError> {
                sample("lift_t5", Normal::new(0.0, 1.0))?;
                sample("lift_t5", Normal::new(0.0, 1.0))?;
                Ok(())
            })
            .get_trace(())
            .unwrap_err()
            .to_string()
        );
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn prior_of_the_wrong_type_is_an_error() {
        let m = |()| param("lift_t6", 0.5, Constraint::Real);
        let err = lift(m, Bernoulli::new(0.5).unwrap()).call(()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "site 'lift_t6': the value is a bool, but its distribution produces a real"
        );
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn sample_sites_are_untouched() {
        let m = |()| sample("lift_t7", Normal::new(0.0, 1.0));
        let tr = trace(lift(m, normal(100.0))).get_trace(()).unwrap();
        assert!(real(&tr.get("lift_t7").unwrap().value).abs() < 10.0);
    }
}
