//! `intervene` (Pyro's `do`): fix sample sites to intervention values, keeping a fresh copy of
//! each intervened site for counterfactual queries.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::{Messenger, apply_stack};
use pyro_distributions::{Value, ValueType};
use pyro_trace::{Name, Site, SiteKind};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The `intervene` handler (Pyro's `do`): for each sample site with an intervention value, the
/// program continues as if the sample statement were replaced by the value, and a fresh copy of
/// the site whose value is not used elsewhere keeps the original name.
///
/// In detail, for a sample site named `x` in the intervention data:
/// 1. a copy of the message, named `x`, goes through the whole handler stack as usual (drawn,
///    conditioned, replayed, traced ...);
/// 2. the real message is renamed `x__CF`, fixed to the intervention value, marked observed and
///    stopped, so that outer handlers do not see it; the model receives the intervention value.
///
/// Combined with a `condition` (inside or outside), this answers counterfactual queries (Single
/// World Intervention Graphs). Intervening twice on one site is an error
/// ([`PyroError::DuplicateIntervention`]) rather than Pyro's warning.
///
/// ```
/// use pyro_poutine::{Handler, InterveneMessenger, PyroError, TraceMessenger, intervene, sample, trace};
/// use pyro_poutine::distributions::{Normal, Real, Value};
///
/// fn model(_: ()) -> Result<(Real, Real), PyroError> {
///     let z = sample("z", Normal::new(0.0, 1.0))?;
///     let y = sample("y", Normal::new(z, 0.1))?;
///     Ok((z, y))
/// }
/// // Around a model: `y` is computed from z = 5.
/// let tr = trace(intervene(model, [("z", Value::Real(5.0))])).get_trace(())?;
/// let (z, y) = *tr.output::<(Real, Real)>().unwrap();
/// assert_eq!(z, 5.0);
/// assert!((y - 5.0).abs() < 1.0);
/// // The recorded `z` is a fresh draw that nothing used.
/// assert_ne!(tr.get("z").unwrap().value, Some(Value::Real(5.0)));
/// assert!(!tr.contains("z__CF"));
/// // Around a closure, with typed values.
/// let (out, tr) = TraceMessenger::record(|| InterveneMessenger::new([("z", Value::Real(-5.0))]).run(|| model(())))?;
/// assert_eq!(out.0, -5.0);
/// # Ok::<(), PyroError>(())
/// ```
#[doc(alias = "do")]
#[derive(Clone, Debug)]
pub struct InterveneMessenger {
    data: Arc<FxHashMap<Name, Value>>,
}

impl InterveneMessenger {
    /// A handler fixing each named sample site to its value.
    pub fn new<K: Into<Name>, V: Into<Value>>(data: impl IntoIterator<Item = (K, V)>) -> Self {
        InterveneMessenger {
            data: Arc::new(
                data.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// A handler fixing one site to a typed value (`InterveneMessenger::value("x", 1.0)`).
    pub fn value(name: impl Into<Name>, value: impl ValueType) -> Self {
        InterveneMessenger::new([(name.into(), value.into_value())])
    }

    /// This handler with one more intervention (replacing an earlier one for the same site).
    pub fn with(self, name: impl Into<Name>, value: impl ValueType) -> Self {
        let mut data = Arc::unwrap_or_clone(self.data);
        data.insert(name.into(), value.into_value());
        InterveneMessenger {
            data: Arc::new(data),
        }
    }

    /// The intervention value for `name`, if any.
    pub fn get(&self, name: impl Into<Name>) -> Option<&Value> {
        self.data.get(&name.into())
    }
}

impl Messenger for InterveneMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind != SiteKind::Sample {
            return Ok(());
        }
        let Some(value) = self.data.get(&msg.name) else {
            return Ok(());
        };
        if msg.intervened {
            return Err(PyroError::DuplicateIntervention {
                site: msg.name.clone(),
            });
        }
        msg.intervened = true;

        // The copy goes through the whole stack; this handler is running, so it is skipped.
        // Handlers inside this one see the copy again: start it from the primitive's plate
        // stack and scale so that inner plates and scales apply once.
        let mut copy = msg.clone();
        copy.cond_indep_stack.clear();
        copy.scale = 1.0;
        apply_stack(&mut copy, None)?;

        msg.name = msg.name.with_suffix("__CF");
        msg.value = Some(value.clone());
        msg.is_observed = true;
        msg.stop = true;
        Ok(())
    }
}

/// Wraps `model` in an [`InterveneMessenger`] handler (Pyro's `do`) with interventions `data`.
#[doc(alias = "do")]
pub fn intervene<M: IntoModel<Mk>, Mk, K: Into<Name>, V: Into<Value>>(
    model: M,
    data: impl IntoIterator<Item = (K, V)>,
) -> Handled<M::Model, InterveneMessenger> {
    InterveneMessenger::new(data).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Batched, Normal, Reals};
    use crate::{
        ConditionMessenger, Model, Plate, ScaleMessenger, TraceMessenger, observe, sample,
        stack_depth, trace, with_handler,
    };

    type Chain = (f64, f64, f64, f64);

    // x -> y -> z -> w
    fn chain(_: ()) -> Result<Chain, PyroError> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        let y = sample("y", Normal::new(x, 1.0))?;
        let z = sample("z", Normal::new(y, 1.0))?;
        let w = sample("w", Normal::new(z, 1.0))?;
        Ok((x.value(), y.value(), z.value(), w.value()))
    }

    const SITES: [&str; 4] = ["x", "y", "z", "w"];
    const OBSERVATIONS: [Option<f64>; 4] = [Some(1.0), None, Some(1.0), Some(1.0)];
    const INTERVENTIONS: [Option<f64>; 4] = [None, Some(0.0), Some(2.0), Some(1.0)];

    fn interventions() -> InterveneMessenger {
        InterveneMessenger::new(
            SITES
                .iter()
                .zip(INTERVENTIONS)
                .filter_map(|(n, v)| Some((*n, Value::Real(v?)))),
        )
    }

    fn observations() -> ConditionMessenger {
        ConditionMessenger::new(
            SITES
                .iter()
                .zip(OBSERVATIONS)
                .filter_map(|(n, v)| Some((*n, Value::Real(v?)))),
        )
    }

    fn returned(out: &Chain, i: usize) -> f64 {
        [out.0, out.1, out.2, out.3][i]
    }

    fn real(tr: &pyro_trace::Trace, name: &str) -> f64 {
        match tr.get(Name::from(name.to_string())).unwrap().value {
            Some(Value::Real(v)) => v,
            ref other => panic!("{other:?}"),
        }
    }

    /// Pyro's `test_counterfactual_query`, for the four handler arrangements.
    fn check_counterfactual(intervene: bool, observe: bool, flip: bool) {
        let tr = match (intervene, observe, flip) {
            (true, false, _) => trace(interventions().wrap(chain)).get_trace(()),
            (false, true, _) => trace(observations().wrap(chain)).get_trace(()),
            (true, true, false) => {
                trace(observations().wrap(interventions().wrap(chain))).get_trace(())
            }
            (true, true, true) => {
                trace(interventions().wrap(observations().wrap(chain))).get_trace(())
            }
            _ => unreachable!(),
        }
        .unwrap();
        let out = *tr.output::<Chain>().unwrap();
        for (i, name) in SITES.iter().enumerate() {
            let node = tr.get(*name).unwrap();
            let value = real(&tr, name);
            let actual = returned(&out, i);
            let (obs, int) = (OBSERVATIONS[i], INTERVENTIONS[i]);
            match (intervene, observe) {
                (false, true) => {
                    if let Some(o) = obs {
                        assert!(node.is_observed);
                        assert_eq!(actual, o);
                        assert_eq!(value, o);
                    }
                    if int != obs {
                        assert_ne!(Some(actual), int, "site {name}");
                    }
                }
                (true, false) => {
                    assert!(!node.is_observed, "site {name}");
                    if let Some(v) = int {
                        assert_eq!(actual, v);
                    }
                    assert_ne!(Some(value), obs);
                    assert_ne!(Some(value), int);
                }
                (true, true) => {
                    if let Some(o) = obs {
                        assert!(node.is_observed, "site {name}");
                        assert_eq!(value, o);
                    }
                    if let Some(v) = int {
                        assert_eq!(actual, v);
                    }
                    if int != obs {
                        assert_ne!(Some(value), int, "site {name}");
                    }
                }
                _ => unreachable!(),
            }
            // The renamed real sites are stopped before reaching the outer trace.
            assert!(!tr.contains(Name::from(format!("{name}__CF"))));
        }
    }

    #[test]
    fn counterfactual_intervention_only() {
        check_counterfactual(true, false, false);
    }

    #[test]
    fn counterfactual_observation_only() {
        check_counterfactual(false, true, false);
    }

    #[test]
    fn counterfactual_condition_of_intervene() {
        check_counterfactual(true, true, false);
    }

    #[test]
    fn counterfactual_intervene_of_condition() {
        check_counterfactual(true, true, true);
    }

    #[test]
    fn inner_trace_records_copy_and_renamed_site() {
        let (_, (tracer, out)) = with_handler(InterveneMessenger::value("x", 3.0), || {
            with_handler(TraceMessenger::new(), || chain(()))
        });
        let out = out.unwrap();
        assert_eq!(out.0, 3.0);
        let tr = tracer.into_trace();
        let cf = tr.get("x__CF").unwrap();
        assert_eq!(cf.value, Some(Value::Real(3.0)));
        assert!(cf.is_observed);
        let x = tr.get("x").unwrap();
        assert!(!x.is_observed);
        assert_ne!(x.value, Some(Value::Real(3.0)));
        // Both are marked as intervened in their infer config.
        assert!(cf.intervened && x.intervened);
        assert_eq!(tr.len(), 5);
    }

    #[test]
    fn observed_sites_are_intervened_too() {
        let m = |()| -> Result<(f64, f64), PyroError> {
            let y = observe("y", Normal::new(0.0, 1.0), 0.5)?;
            let z = sample("z", Normal::new(y, 1.0))?;
            Ok((y.value(), z.value()))
        };
        let tr = trace(intervene(m, [("y", Value::Real(-2.0))]))
            .get_trace(())
            .unwrap();
        assert_eq!(tr.output::<(f64, f64)>().unwrap().0, -2.0);
        let y = tr.get("y").unwrap();
        assert!(y.is_observed);
        assert_eq!(y.value, Some(Value::Real(0.5)));
    }

    #[test]
    fn copy_is_scaled_and_plated_once() {
        let m = |()| -> Result<(), PyroError> {
            Plate::new("p", 10).subsample_size(5).run(|_| {
                ScaleMessenger::new(3.0)?.run(intervene_scope)?;
                Ok(())
            })
        };
        fn intervene_scope() -> Result<Reals, PyroError> {
            InterveneMessenger::value("a", vec![1.0; 5])
                .run(|| sample("a", Batched::iid(Normal::new(0.0, 1.0)?, 5)?))
        }
        let tr = trace(m).get_trace(()).unwrap();
        let a = tr.get("a").unwrap();
        assert_eq!(a.scale, 6.0);
        assert_eq!(a.cond_indep_stack.len(), 1);
        // Inner plates and scales too (the copy is started afresh).
        let m = |()| -> Result<(), PyroError> {
            InterveneMessenger::value("b", vec![1.0; 2]).run(|| {
                Plate::new("q", 4).subsample_size(2).run(|_| {
                    ScaleMessenger::new(3.0)?
                        .run(|| sample("b", Batched::iid(Normal::new(0.0, 1.0)?, 2)?))?;
                    Ok(())
                })
            })
        };
        let tr = trace(m).get_trace(()).unwrap();
        let b = tr.get("b").unwrap();
        assert_eq!(b.scale, 6.0);
        assert_eq!(b.cond_indep_stack.len(), 1);
    }

    #[test]
    fn other_sites_and_params_pass_through() {
        let tr = trace(intervene(chain, [("nope", Value::Real(1.0))]))
            .get_trace(())
            .unwrap();
        assert_eq!(tr.len(), 4);
        assert!(SITES.iter().all(|n| !tr.get(*n).unwrap().intervened));
    }

    #[test]
    fn two_interventions_on_one_site_are_an_error() {
        let m = intervene(
            intervene(chain, [("y", Value::Real(1.0))]),
            [("y", Value::Real(2.0))],
        );
        let err = m.call(()).unwrap_err();
        assert!(matches!(&err, PyroError::DuplicateIntervention { site } if *site == "y"));
        assert_eq!(err.to_string(), "site 'y' is intervened on twice");
        assert_eq!(stack_depth(), 0);
        let err = trace(m).get_trace(()).unwrap_err();
        assert_eq!(err.to_string(), "site 'y' is intervened on twice");
        assert_eq!(stack_depth(), 0);
        // Interventions on different sites compose.
        let m = intervene(
            intervene(chain, [("y", Value::Real(1.0))]),
            [("w", Value::Real(2.0))],
        );
        let out = m.call(()).unwrap();
        assert_eq!((out.1, out.3), (1.0, 2.0));
    }

    #[test]
    fn wrong_value_type_is_reported_with_the_site() {
        let m = intervene(chain, [("x", Value::Bool(true))]);
        let err = m.call(()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "site 'x__CF': the value is a bool, but its distribution produces a real"
        );
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn builders() {
        let h = InterveneMessenger::value("a", 1.0)
            .with("b", true)
            .with("a", 2.0);
        assert_eq!(h.get("a"), Some(&Value::Real(2.0)));
        assert_eq!(h.get("b"), Some(&Value::Bool(true)));
        assert_eq!(h.get("c"), None);
    }
}
