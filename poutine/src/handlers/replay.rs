//! `replay`: rerun a model with the latent values of a recorded trace.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_distributions::Value;
use pyro_trace::{Name, Site, SiteKind, Trace};
use std::collections::HashMap;
use std::sync::Arc;

/// The `replay` handler: makes sample sites take the values a recorded trace holds for them, and
/// param sites the values of a given map.
///
/// - A latent sample site whose name is in the trace takes the node's value and `infer` config
///   and is marked `done` (no draw). Plate index sites (marked `infer._subsample`) replay like
///   any latent site, so a model replayed against its guide's trace uses the guide's minibatch.
/// - A site the current model observes keeps its observation.
/// - A node that is observed, or is not a sample site, cannot be replayed: error
///   [`PyroError::ReplayNotSampled`] ("site 'x' must be sampled in trace").
/// - Sites absent from the trace are drawn as usual.
/// - A param site named in `params` takes that (constrained) value; the parameter store is
///   neither read nor initialised for it. Param nodes of the trace are not replayed.
///
/// The trace is shared behind an [`Arc`], so the handler is cheap to clone.
///
/// ```
/// use pyro_poutine::{Handler, PyroError, ReplayMessenger, TraceMessenger, observe, replay, sample, trace};
/// use pyro_poutine::distributions::{Normal, Real};
///
/// fn guide(_: ()) -> Result<Real, PyroError> {
///     sample("z", Normal::new(1.0, 0.5))
/// }
/// fn model(_: ()) -> Result<Real, PyroError> {
///     let z = sample("z", Normal::new(0.0, 1.0))?;
///     observe("x", Normal::new(z, 1.0), 0.3)
/// }
/// let guide_trace = trace(guide).get_trace(())?;
/// // Model form: the model's "z" takes the guide's value; "x" keeps its observation.
/// let model_trace = trace(replay(model, guide_trace.clone())).get_trace(())?;
/// assert_eq!(model_trace.get("z").unwrap().value, guide_trace.get("z").unwrap().value);
/// assert!(model_trace.get("x").unwrap().is_observed);
/// // Scope form.
/// let (z, _) = TraceMessenger::record(|| ReplayMessenger::trace(guide_trace.clone()).run(|| guide(())))?;
/// assert_eq!(Some(&z), guide_trace.output::<Real>());
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReplayMessenger {
    trace: Option<Arc<Trace>>,
    params: Option<Arc<HashMap<Name, Value>>>,
}

impl ReplayMessenger {
    /// Replays sample sites against `trace` and param sites against `params` (constrained
    /// values by name). Giving neither is an error.
    pub fn new(
        trace: Option<Trace>,
        params: Option<HashMap<Name, Value>>,
    ) -> Result<Self, PyroError> {
        if trace.is_none() && params.is_none() {
            return Err(PyroError::invalid(
                "replay",
                "must provide a trace or params to replay against",
            ));
        }
        Ok(ReplayMessenger {
            trace: trace.map(Arc::new),
            params: params.map(Arc::new),
        })
    }

    /// Replays sample sites against `trace` (a [`Trace`] or an `Arc<Trace>`).
    pub fn trace(trace: impl Into<Arc<Trace>>) -> Self {
        ReplayMessenger {
            trace: Some(trace.into()),
            params: None,
        }
    }

    /// Replays param sites against `params` (constrained values by name).
    pub fn params<K: Into<Name>, V: Into<Value>>(params: impl IntoIterator<Item = (K, V)>) -> Self {
        let map = params
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        ReplayMessenger {
            trace: None,
            params: Some(Arc::new(map)),
        }
    }

    /// The trace replayed against, if any.
    pub fn replayed_trace(&self) -> Option<&Trace> {
        self.trace.as_deref()
    }
}

impl Messenger for ReplayMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        match msg.kind {
            SiteKind::Sample => {
                let Some(node) = self.trace.as_ref().and_then(|t| t.get(&msg.name)) else {
                    return Ok(());
                };
                if msg.is_observed {
                    return Ok(());
                }
                if node.kind != SiteKind::Sample || node.is_observed {
                    return Err(PyroError::ReplayNotSampled {
                        site: msg.name.clone(),
                    });
                }
                msg.value.clone_from(&node.value);
                msg.infer.clone_from(&node.infer);
                msg.done = true;
            }
            SiteKind::Param => {
                if let Some(value) = self.params.as_ref().and_then(|p| p.get(&msg.name)) {
                    msg.value = Some(value.clone());
                    msg.done = true;
                }
            }
        }
        Ok(())
    }
}

/// Wraps `model` in a `replay` against `trace` (a [`Trace`] or an `Arc<Trace>`).
pub fn replay<M: IntoModel<Mk>, Mk>(
    model: M,
    trace: impl Into<Arc<Trace>>,
) -> Handled<M::Model, ReplayMessenger> {
    ReplayMessenger::trace(trace).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Constraint, Normal};
    use crate::handlers::block::BlockMessenger;
    use crate::handlers::condition::condition;
    use crate::handlers::trace::{TraceMessenger, trace};
    use crate::param_store::with_param_store;
    use crate::runtime::{set_rng_seed, stack_depth};
    use crate::{InferValue, Model, Plate, observe, param, sample};

    fn real(x: f64) -> Value {
        Value::Real(x)
    }

    fn guide(_: ()) -> Result<f64, PyroError> {
        let z1 = sample("z1", Normal::new(5.0, 0.1))?;
        let z2 = sample("z2", Normal::new(-5.0, 0.1))?;
        Ok((z1 + z2).value())
    }

    fn model(_: ()) -> Result<f64, PyroError> {
        let z1 = sample("z1", Normal::new(0.0, 1.0))?;
        let z2 = sample("z2", Normal::new(z1, 1.0))?;
        let z3 = sample("z3", Normal::new(z2, 1.0))?;
        observe("y", Normal::new(z3, 1.0), 1.0)?;
        Ok((z1 + z2 + z3).value())
    }

    #[test]
    fn latent_sites_take_the_trace_values() {
        let guide_tr = trace(guide).get_trace(()).unwrap();
        let tr = trace(replay(model, guide_tr.clone()))
            .get_trace(())
            .unwrap();
        for name in ["z1", "z2"] {
            let site = tr.get(name).unwrap();
            assert_eq!(site.value, guide_tr.get(name).unwrap().value, "{name}");
            assert!(!site.is_observed);
        }
        // z3 is absent from the guide: drawn fresh, around z2.
        let z3 = tr.get("z3").unwrap();
        assert!(!z3.is_observed);
        assert!(matches!(z3.value, Some(Value::Real(v)) if (v + 5.0).abs() < 10.0));
        // The observation stays.
        assert_eq!(tr.get("y").unwrap().value, Some(real(1.0)));
    }

    #[test]
    fn replay_is_repeatable() {
        let model_tr = trace(model).get_trace(()).unwrap();
        let replayed = trace(replay(model, model_tr.clone()));
        let a = replayed.get_trace(()).unwrap();
        let b = replayed.get_trace(()).unwrap();
        for site in model_tr.iter() {
            assert_eq!(a.get(&site.name).unwrap().value, site.value);
            assert_eq!(b.get(&site.name).unwrap().value, site.value);
        }
        assert_eq!(a.output::<f64>(), model_tr.output::<f64>());
    }

    #[test]
    fn copies_the_infer_config() {
        let mut tr = Trace::new();
        let mut node = Site::sample(Name::from("z"), Normal::new(0.0, 1.0).unwrap().into());
        node.value = Some(real(0.7));
        node.infer
            .insert("enumerate", InferValue::Str("parallel".into()));
        tr.add_node(node).unwrap();
        let out = trace(replay(|_: ()| sample("z", Normal::new(0.0, 1.0)), tr))
            .get_trace(())
            .unwrap();
        let z = out.get("z").unwrap();
        assert_eq!(z.value, Some(real(0.7)));
        assert_eq!(
            z.infer.get("enumerate"),
            Some(&InferValue::Str("parallel".into()))
        );
    }

    #[test]
    fn observed_model_site_keeps_its_observation() {
        // The trace holds "y" as latent; the model observes it.
        let source = |_: ()| sample("y", Normal::new(0.0, 1.0));
        let source_tr = trace(source).get_trace(()).unwrap();
        let tr = trace(replay(model, source_tr)).get_trace(()).unwrap();
        let y = tr.get("y").unwrap();
        assert!(y.is_observed);
        assert_eq!(y.value, Some(real(1.0)));
        // Even a param node of that name is no error for an observed site (Pyro's order).
        let mut tr = Trace::new();
        tr.add_node(Site::param(Name::from("y"), Some(real(0.0))))
            .unwrap();
        assert!(replay(model, tr).call(()).is_ok());
    }

    #[test]
    fn observed_or_param_nodes_cannot_be_replayed() {
        let source = |_: ()| observe("z1", Normal::new(0.0, 1.0), 0.5);
        let source_tr = trace(source).get_trace(()).unwrap();
        let err = trace(replay(model, source_tr)).get_trace(()).unwrap_err();
        assert_eq!(err.to_string(), "site 'z1' must be sampled in trace");
        assert!(matches!(err, PyroError::ReplayNotSampled { ref site } if *site == "z1"));
        assert_eq!(stack_depth(), 0);

        let mut tr = Trace::new();
        tr.add_node(Site::param(Name::from("z2"), Some(real(0.0))))
            .unwrap();
        let err = replay(model, tr).call(()).unwrap_err();
        assert_eq!(err.to_string(), "site 'z2' must be sampled in trace");
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn neither_trace_nor_params_is_an_error() {
        let err = ReplayMessenger::new(None, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "replay: must provide a trace or params to replay against"
        );
        assert!(ReplayMessenger::new(Some(Trace::new()), None).is_ok());
        assert!(ReplayMessenger::new(None, Some(HashMap::new())).is_ok());
    }

    #[test]
    fn params_are_replaced_without_touching_the_store() {
        let name = "replay_test_param_loc";
        let m = move |_: ()| -> Result<f64, PyroError> {
            let loc: f64 = param(name, 1.0, Constraint::Real)?;
            let s: f64 = param("replay_test_param_scale", 2.0, Constraint::Positive)?;
            Ok(loc + s)
        };
        let r = ReplayMessenger::params([(name, real(10.0))]);
        let tr = trace(r.wrap(m)).get_trace(()).unwrap();
        assert_eq!(tr.output::<f64>(), Some(&12.0));
        assert_eq!(tr.get(name).unwrap().value, Some(real(10.0)));
        assert!(with_param_store(|s| s.get(name)).is_none());
        assert!(with_param_store(|s| s.get("replay_test_param_scale")).is_some());
        // With both a trace and params.
        let guide_tr = trace(guide).get_trace(()).unwrap();
        let both = ReplayMessenger::new(
            Some(guide_tr.clone()),
            Some(HashMap::from([(Name::from(name), real(-1.0))])),
        )
        .unwrap();
        let out = both
            .run(|| -> Result<(f64, f64), PyroError> {
                let p: f64 = param(name, 1.0, Constraint::Real)?;
                Ok((p, sample("z1", Normal::new(0.0, 1.0))?.value()))
            })
            .unwrap();
        assert_eq!(out.0, -1.0);
        assert_eq!(Some(real(out.1)), guide_tr.get("z1").unwrap().value);
        assert!(with_param_store(|s| s.get(name)).is_none());
    }

    #[test]
    fn param_nodes_of_the_trace_are_not_replayed() {
        let name = "replay_test_param_node";
        let mut tr = Trace::new();
        tr.add_node(Site::param(Name::from(name), Some(real(42.0))))
            .unwrap();
        let m = move |_: ()| param(name, 1.0, Constraint::Real);
        assert_eq!(replay(m, tr).call(()).unwrap(), 1.0);
    }

    #[test]
    fn plate_subsample_indices_replay() {
        let program = |k: usize| {
            move |_: ()| -> Result<Vec<usize>, PyroError> {
                Plate::new("data", 10)
                    .subsample_size(k)
                    .run(|idx| Ok(idx.iter().collect()))
            }
        };
        set_rng_seed(11);
        let guide_tr = trace(program(3)).get_trace(()).unwrap();
        let guide_idx = guide_tr.output::<Vec<usize>>().unwrap().clone();
        for _ in 0..5 {
            let tr = trace(replay(program(3), guide_tr.clone()))
                .get_trace(())
                .unwrap();
            assert_eq!(tr.output::<Vec<usize>>(), Some(&guide_idx));
            assert!(tr.get("data").unwrap().infer.flag("_subsample"));
        }
        // A model with another subsample size disagrees with the guide.
        let err = replay(program(4), guide_tr).call(()).unwrap_err();
        assert!(matches!(err, PyroError::Plate { .. }), "{err}");
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn composition_with_condition() {
        let guide_tr = trace(guide).get_trace(()).unwrap();
        // condition inside replay: the site is observed, replay leaves it.
        let tr = trace(replay(
            condition(model, [("z1", real(0.5))]),
            guide_tr.clone(),
        ))
        .get_trace(())
        .unwrap();
        let z1 = tr.get("z1").unwrap();
        assert!(z1.is_observed && z1.value == Some(real(0.5)));
        assert_eq!(
            tr.get("z2").unwrap().value,
            guide_tr.get("z2").unwrap().value
        );
        // condition outside replay: the condition overrides the replayed value.
        let tr = trace(condition(
            replay(model, guide_tr.clone()),
            [("z1", real(0.5))],
        ))
        .get_trace(())
        .unwrap();
        let z1 = tr.get("z1").unwrap();
        assert!(z1.is_observed && z1.value == Some(real(0.5)));
    }

    #[test]
    fn blocked_sites_escape_an_outer_replay() {
        let guide_tr = trace(guide).get_trace(()).unwrap();
        let tr = trace(replay(
            BlockMessenger::hide(["z1"]).wrap(model),
            guide_tr.clone(),
        ))
        .get_trace(())
        .unwrap();
        assert!(!tr.contains("z1"));
        assert_eq!(
            tr.get("z2").unwrap().value,
            guide_tr.get("z2").unwrap().value
        );
    }

    #[test]
    fn scope_form_and_arc_sharing() {
        let guide_tr = Arc::new(trace(guide).get_trace(()).unwrap());
        let r = ReplayMessenger::trace(guide_tr.clone());
        assert!(std::ptr::eq(r.replayed_trace().unwrap(), &*guide_tr));
        let clone = r.clone();
        assert!(std::ptr::eq(
            clone.replayed_trace().unwrap(),
            r.replayed_trace().unwrap()
        ));
        let (out, tr) = TraceMessenger::record(|| r.run(|| guide(()))).unwrap();
        assert_eq!(Some(&out), guide_tr.output::<f64>());
        assert_eq!(tr.len(), 2);
    }
}
