//! `condition`: turn sample sites into observations of given values.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use indexmap::IndexMap;
use pyro_distributions::Value;
use pyro_trace::{Name, Site, SiteKind, Trace};
use rustc_hash::FxBuildHasher;
use std::collections::HashSet;
use std::sync::Arc;

/// The `condition` handler: a sample site whose name is in the data gets the data's value and
/// becomes observed (`is_observed = true`), whether the model observed it or not, as if the
/// model had passed the value as its observation. Param sites are untouched.
///
/// The data is a map from names to values ([`ConditionMessenger::new`]) or the sample sites of a trace
/// ([`ConditionMessenger::from_trace`]; its param sites are ignored). Conditioning a `deterministic`
/// site replaces the value the model computed. With nested conditions on one site, the outer
/// one wins (it processes the message last).
///
/// Keys no site uses are ignored, unless the handler is [`strict`](ConditionMessenger::strict): then a
/// run that reaches its end reports them as [`PyroError::UnusedData`] (model form, or
/// [`Handler::try_run`]; [`Handler::run`] cannot report it). A key is used when an unhidden
/// sample site of that name reaches the handler.
///
/// A value whose type does not match the site's distribution makes the primitive fail with
/// [`PyroError::ValueType`]. Pyro's `None` entries (make an observed site latent again) are
/// [`UnconditionMessenger::sites`](crate::UnconditionMessenger::sites) here.
///
/// ```
/// use pyro_poutine::{ConditionMessenger, Handler, PyroError, TraceMessenger, condition, sample, trace};
/// use pyro_poutine::distributions::{Normal, Real, Value};
///
/// fn model(_: ()) -> Result<Real, PyroError> {
///     let z = sample("z", Normal::new(0.0, 1.0))?;
///     sample("x", Normal::new(z, 1.0))
/// }
/// // Model form.
/// let conditioned = condition(model, [("x", Value::Real(1.5))]);
/// let tr = trace(conditioned).get_trace(())?;
/// let x = tr.get("x").unwrap();
/// assert!(x.is_observed && x.value == Some(Value::Real(1.5)));
/// assert!(!tr.get("z").unwrap().is_observed);
/// // Scope form, strict: "w" is reported because no site uses it.
/// let strict = ConditionMessenger::new([("z", Value::Real(0.0)), ("w", Value::Real(1.0))]).strict();
/// let err = strict.try_run(|| model(())).unwrap_err();
/// assert_eq!(err.to_string(), "condition: no sample site used the data for 'w'");
/// // Conditioning on the values of another run.
/// let earlier = trace(model).get_trace(())?;
/// let (_, tr) = TraceMessenger::record(|| ConditionMessenger::from_trace(earlier.clone()).run(|| model(())))?;
/// assert_eq!(tr.get("z").unwrap().value, earlier.get("z").unwrap().value);
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConditionMessenger {
    data: Data,
    strict: bool,
    /// The keys used in this run (strict mode only).
    used: Vec<Name>,
}

#[derive(Clone, Debug)]
enum Data {
    Map(Arc<IndexMap<Name, Value, FxBuildHasher>>),
    Trace(Arc<Trace>),
}

impl ConditionMessenger {
    /// Conditions on `data`, a map (or any sequence of pairs) from site names to values; a name
    /// given twice keeps its last value.
    pub fn new<K: Into<Name>, V: Into<Value>>(data: impl IntoIterator<Item = (K, V)>) -> Self {
        let map = data
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        ConditionMessenger::with_data(Data::Map(Arc::new(map)))
    }

    /// Conditions on the values of the sample sites of `trace` (latent or observed).
    pub fn from_trace(trace: impl Into<Arc<Trace>>) -> Self {
        ConditionMessenger::with_data(Data::Trace(trace.into()))
    }

    fn with_data(data: Data) -> Self {
        ConditionMessenger {
            data,
            strict: false,
            used: Vec::new(),
        }
    }

    /// Makes the handler report keys that no site used, once the run returns.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Whether unused keys are reported.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The value the data holds for `name`.
    fn lookup(&self, name: &Name) -> Option<&Value> {
        match &self.data {
            Data::Map(map) => map.get(name),
            Data::Trace(trace) => trace
                .get(name)
                .filter(|s| s.kind == SiteKind::Sample)
                .and_then(|s| s.value.as_ref()),
        }
    }

    /// The keys of the data, in order.
    fn keys(&self) -> Box<dyn Iterator<Item = &Name> + '_> {
        match &self.data {
            Data::Map(map) => Box::new(map.keys()),
            Data::Trace(trace) => Box::new(
                trace
                    .iter()
                    .filter(|s| s.kind == SiteKind::Sample && s.value.is_some())
                    .map(|s| &s.name),
            ),
        }
    }
}

impl Messenger for ConditionMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind != SiteKind::Sample {
            return Ok(());
        }
        let Some(value) = self.lookup(&msg.name) else {
            return Ok(());
        };
        msg.value = Some(value.clone());
        msg.is_observed = true;
        if self.strict {
            self.used.push(msg.name.clone());
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), PyroError> {
        if !self.strict {
            return Ok(());
        }
        let used: HashSet<&Name> = self.used.iter().collect();
        let unused: Vec<Name> = self.keys().filter(|k| !used.contains(k)).cloned().collect();
        if unused.is_empty() {
            Ok(())
        } else {
            Err(PyroError::UnusedData {
                handler: "condition",
                keys: unused,
            })
        }
    }
}

/// Wraps `model` in a `condition` on `data` (names to values); see [`ConditionMessenger`] for
/// conditioning on a trace or reporting unused keys.
pub fn condition<M: IntoModel<Mk>, Mk, K: Into<Name>, V: Into<Value>>(
    model: M,
    data: impl IntoIterator<Item = (K, V)>,
) -> Handled<M::Model, ConditionMessenger> {
    ConditionMessenger::new(data).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Bernoulli, Constraint, Normal, Real, ValueType};
    use crate::handlers::block::BlockMessenger;
    use crate::handlers::trace::{TraceMessenger, trace};
    use crate::runtime::stack_depth;
    use crate::{Model, Plate, deterministic, observe, param, sample};

    fn model(_: ()) -> Result<f64, PyroError> {
        let z = sample("z", Normal::new(0.0, 1.0))?;
        let y = observe("y", Normal::new(z, 1.0), 2.0)?;
        Ok((z + y).value())
    }

    fn real(x: f64) -> Value {
        Value::Real(x)
    }

    fn value(tr: &Trace, name: &'static str) -> Option<Value> {
        tr.get(name).and_then(|s| s.value.clone())
    }

    /// Issue 11, item 13: plain values, as a Pyro user writes them.
    #[test]
    fn plain_values_condition_as_values_do() {
        use crate::distributions::{Batched, Poisson};
        let model = |()| -> Result<(f64, bool, i64, Vec<f64>), PyroError> {
            let w = sample("w", Normal::new(0.0, 1.0))?;
            let b = sample("b", Bernoulli::new(0.5))?;
            let n = sample("n", Poisson::new(2.0))?;
            let v = sample("v", Batched::iid(Normal::new(0.0, 1.0)?, 2)?)?;
            Ok((w.value(), b, n, v.iter().map(|x| x.value()).collect()))
        };
        let conditioned = condition(
            condition(
                condition(condition(model, [("w", 9.5)]), [("b", true)]),
                [("n", 3)],
            ),
            [("v", vec![0.25, 0.5])],
        );
        let tr = trace(conditioned).get_trace(()).unwrap();
        assert_eq!(
            tr.output::<(f64, bool, i64, Vec<f64>)>(),
            Some(&(9.5, true, 3, vec![0.25, 0.5]))
        );
        assert!(tr.iter().all(|s| s.is_observed));
        assert_eq!(tr.get("n").unwrap().value, Some(Value::Int(3)));
    }

    #[test]
    fn latent_site_becomes_observed() {
        let tr = trace(condition(model, [("z", real(0.25))]))
            .get_trace(())
            .unwrap();
        let z = tr.get("z").unwrap();
        assert!(z.is_observed);
        assert_eq!(z.value, Some(real(0.25)));
        assert_eq!(tr.output::<f64>(), Some(&2.25));
        // The score is that of the conditioned value.
        let lp = z.dist.as_ref().unwrap().log_prob(&real(0.25));
        let expected = -0.5 * 0.25f64.powi(2) - 0.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((lp - expected).abs() < 1e-12);
    }

    #[test]
    fn overrides_the_models_observation() {
        let tr = trace(condition(model, [("y", real(-1.0))]))
            .get_trace(())
            .unwrap();
        let y = tr.get("y").unwrap();
        assert!(y.is_observed);
        assert_eq!(y.value, Some(real(-1.0)));
        let z = match value(&tr, "z") {
            Some(Value::Real(z)) => z,
            other => panic!("{other:?}"),
        };
        assert_eq!(tr.output::<f64>(), Some(&(z - 1.0)));
    }

    #[test]
    fn outer_condition_wins() {
        let inner = condition(model, [("z", real(1.0))]);
        let outer = condition(inner, [("z", real(2.0))]);
        let tr = trace(outer).get_trace(()).unwrap();
        assert_eq!(value(&tr, "z"), Some(real(2.0)));
        // Scope form nesting agrees.
        let (_, tr) = TraceMessenger::record(|| {
            ConditionMessenger::new([("z", real(2.0))])
                .run(|| ConditionMessenger::new([("z", real(1.0))]).run(|| model(())))
        })
        .unwrap();
        assert_eq!(value(&tr, "z"), Some(real(2.0)));
    }

    #[test]
    fn unused_keys_are_ignored_unless_strict() {
        let data = || [("z", real(0.0)), ("nope", real(1.0)), ("also", real(3.0))];
        assert!(condition(model, data()).call(()).is_ok());
        let strict = ConditionMessenger::new(data()).strict();
        assert!(strict.is_strict() && !ConditionMessenger::new(data()).is_strict());
        let err = strict.clone().wrap(model).call(()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "condition: no sample site used the data for 'nope', 'also'"
        );
        match err {
            PyroError::UnusedData { handler, keys } => {
                assert_eq!(handler, "condition");
                assert_eq!(keys, [Name::from("nope"), Name::from("also")]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(stack_depth(), 0);
        // Each call starts afresh: a used key in one call does not count for the next.
        let m = strict.clone().wrap(model);
        assert!(m.call(()).is_err());
        assert!(m.call(()).is_err());
        // Scope form.
        let err = strict.try_run(|| model(())).unwrap_err();
        assert!(matches!(err, PyroError::UnusedData { .. }));
        assert_eq!(stack_depth(), 0);
        // All keys used: fine, in both forms.
        let ok = ConditionMessenger::new([("z", real(0.0)), ("y", real(1.0))]).strict();
        assert_eq!(ok.clone().wrap(model).call(()).unwrap(), 1.0);
        assert_eq!(ok.try_run(|| model(())).unwrap(), 1.0);
    }

    #[test]
    fn strict_model_error_takes_precedence() {
        let failing = |_: ()| -> Result<Real, PyroError> { sample("z", Normal::new(0.0, -1.0)) };
        let err = ConditionMessenger::new([("w", real(0.0))])
            .strict()
            .wrap(failing)
            .call(())
            .unwrap_err();
        assert!(matches!(err, PyroError::Distribution { .. }), "{err}");
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn strict_counts_only_sites_that_reach_it() {
        // An inner block hides "z" from the condition: the key is unused.
        let hidden = BlockMessenger::hide(["z"]).wrap(model);
        let err = ConditionMessenger::new([("z", real(0.0))])
            .strict()
            .wrap(hidden)
            .call(())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "condition: no sample site used the data for 'z'"
        );
        // And the hidden site is drawn, not conditioned (z = 7 would return 9).
        let hidden = BlockMessenger::hide(["z"]).wrap(model);
        let out = ConditionMessenger::new([("z", real(7.0))])
            .run(|| hidden.call(()))
            .unwrap();
        assert_ne!(out, 9.0);
    }

    #[test]
    fn strict_from_trace_reports_unused_sample_sites() {
        let other = |_: ()| -> Result<(), PyroError> {
            param("condition_test_param_a", 1.0, Constraint::Real)?;
            sample("z", Normal::new(0.0, 1.0))?;
            sample("extra", Normal::new(0.0, 1.0))?;
            Ok(())
        };
        let tr = trace(other).get_trace(()).unwrap();
        let err = ConditionMessenger::from_trace(tr)
            .strict()
            .wrap(model)
            .call(())
            .unwrap_err();
        // The param node is not data.
        assert_eq!(
            err.to_string(),
            "condition: no sample site used the data for 'extra'"
        );
    }

    #[test]
    fn from_trace_uses_sample_values_only() {
        let source = |_: ()| -> Result<(), PyroError> {
            let p: f64 = param("condition_test_param_b", 0.5, Constraint::Real)?;
            sample("z", Normal::new(p, 1.0))?;
            observe("y", Normal::new(0.0, 1.0), -3.0)?;
            Ok(())
        };
        let source_tr = trace(source).get_trace(()).unwrap();
        let target = |_: ()| -> Result<Real, PyroError> {
            // A sample named like the source's param is not conditioned.
            let p = sample("condition_test_param_b", Normal::new(0.0, 1.0))?;
            let z = sample("z", Normal::new(0.0, 1.0))?;
            let y = observe("y", Normal::new(z, 1.0), 1.0)?;
            Ok(p + z + y)
        };
        let tr = trace(ConditionMessenger::from_trace(Arc::new(source_tr.clone())).wrap(target))
            .get_trace(())
            .unwrap();
        assert!(!tr.get("condition_test_param_b").unwrap().is_observed);
        let z = tr.get("z").unwrap();
        assert!(z.is_observed);
        assert_eq!(z.value, value(&source_tr, "z"));
        assert_eq!(value(&tr, "y"), Some(real(-3.0)));
    }

    #[test]
    fn conditions_deterministic_sites() {
        let m = |_: ()| -> Result<f64, PyroError> {
            let d = deterministic("d", 1.0)?;
            Ok(d * 10.0)
        };
        let tr = trace(condition(m, [("d", real(4.0))]))
            .get_trace(())
            .unwrap();
        assert_eq!(tr.output::<f64>(), Some(&40.0));
        let d = tr.get("d").unwrap();
        assert!(d.is_observed);
        assert_eq!(d.value, Some(real(4.0)));
    }

    #[test]
    fn leaves_params_alone() {
        let m = |_: ()| -> Result<f64, PyroError> {
            param("condition_test_param_c", 3.0, Constraint::Real)
        };
        let tr = trace(condition(m, [("condition_test_param_c", real(9.0))]))
            .get_trace(())
            .unwrap();
        assert_eq!(tr.output::<f64>(), Some(&3.0));
    }

    #[test]
    fn typed_values_and_type_errors() {
        let m = |_: ()| -> Result<bool, PyroError> { sample("b", Bernoulli::new(0.3)) };
        assert!(condition(m, [("b", true.into_value())]).call(()).unwrap());
        let err = condition(m, [("b", real(0.5))]).call(()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "site 'b': the value is a real, but its distribution produces a bool"
        );
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn indexed_names_match_owned_keys() {
        let m = |_: ()| -> Result<f64, PyroError> {
            let mut total = 0.0;
            Plate::new("steps", 3).for_each(|i| {
                total += sample(Name::indexed("x", i as u64), Normal::new(0.0, 1.0))?.value();
                Ok(())
            })?;
            Ok(total)
        };
        let data = (0..3).map(|i| (format!("x_{i}"), real(i as f64)));
        let tr = trace(condition(m, data)).get_trace(()).unwrap();
        assert_eq!(tr.output::<f64>(), Some(&3.0));
        // Every `x_i` is observed; the plate's index site is not data.
        assert!(tr.iter().all(|s| s.is_observed || s.is_subsample()));
    }

    #[test]
    fn outer_trace_of_hidden_site_under_condition() {
        // The condition applies inside a block; the outer trace misses the site.
        let m = BlockMessenger::new().wrap(condition(model, [("z", real(1.0))]));
        let tr = trace(m).get_trace(()).unwrap();
        assert!(tr.is_empty());
        assert_eq!(tr.output::<f64>(), Some(&3.0));
    }
}
