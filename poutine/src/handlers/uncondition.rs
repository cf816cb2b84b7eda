//! `uncondition`: make observed sample sites latent again.

use crate::error::PyroError;
use crate::handlers::block::NameSet;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_trace::{InferValue, Name, Site, SiteKind};

/// The `uncondition` handler: an observed sample site becomes latent and is drawn from its
/// distribution; the observation is kept in its `infer` config (`was_observed` =
/// `Bool(true)`, `obs` = `Value(observation)`).
///
/// Handlers compose by position: `uncondition(condition(m))` is latent (the condition acts
/// first), `condition(uncondition(m))` is observed. [`UnconditionMessenger::sites`] restricts the
/// handler to named sites; this is how to undo a single observation (Pyro's `None` entries in
/// `condition`'s data).
///
/// ```
/// use pyro_poutine::{Handler, InferValue, PyroError, UnconditionMessenger, observe, trace, uncondition};
/// use pyro_poutine::distributions::{Normal, Real, Value};
///
/// fn model(_: ()) -> Result<(Real, Real), PyroError> {
///     let a = observe("a", Normal::new(0.0, 1.0), 10.0)?;
///     let b = observe("b", Normal::new(0.0, 1.0), 20.0)?;
///     Ok((a, b))
/// }
/// // Model form: every observation is drawn afresh.
/// let tr = trace(uncondition(model)).get_trace(())?;
/// let a = tr.get("a").unwrap();
/// assert!(!a.is_observed && a.value != Some(Value::Real(10.0)));
/// assert_eq!(a.infer.get("obs"), Some(&InferValue::Value(Value::Real(10.0))));
/// // Scope form, restricted to "b".
/// let (a, b) = UnconditionMessenger::sites(["b"]).run(|| model(()))?;
/// assert!(a == 10.0 && b != 20.0);
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct UnconditionMessenger {
    sites: Option<NameSet>,
}

impl UnconditionMessenger {
    /// Unconditions every observed sample site.
    pub fn new() -> Self {
        UnconditionMessenger::default()
    }

    /// Unconditions only the observed sample sites with these names.
    pub fn sites<N: Into<Name>>(names: impl IntoIterator<Item = N>) -> Self {
        UnconditionMessenger {
            sites: Some(NameSet::new(names)),
        }
    }
}

impl Messenger for UnconditionMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind != SiteKind::Sample || !msg.is_observed {
            return Ok(());
        }
        if let Some(sites) = &self.sites
            && !sites.contains(&msg.name)
        {
            return Ok(());
        }
        msg.is_observed = false;
        msg.done = false;
        msg.infer.insert("was_observed", InferValue::Bool(true));
        if let Some(obs) = msg.value.take() {
            msg.infer.insert("obs", InferValue::Value(obs));
        }
        Ok(())
    }
}

/// Wraps `model` in an `uncondition` of every observed sample site; see
/// [`UnconditionMessenger::sites`] to restrict it.
pub fn uncondition<M: IntoModel<Mk>, Mk>(model: M) -> Handled<M::Model, UnconditionMessenger> {
    UnconditionMessenger::new().wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Constraint, Normal, Real, Value};
    use crate::handlers::block::BlockMessenger;
    use crate::handlers::condition::condition;
    use crate::handlers::replay::replay;
    use crate::handlers::trace::trace;
    use crate::runtime::{set_rng_seed, stack_depth};
    use crate::{Model, deterministic, observe, param, sample};

    fn real(x: f64) -> Value {
        Value::Real(x)
    }

    fn model(_: ()) -> Result<f64, PyroError> {
        let z = sample("z", Normal::new(0.0, 1.0))?;
        Ok(observe("y", Normal::new(z, 0.001), 100.0)?.value())
    }

    #[test]
    fn observed_sites_become_latent_and_are_drawn() {
        let tr = trace(uncondition(model)).get_trace(()).unwrap();
        let y = tr.get("y").unwrap();
        assert!(!y.is_observed);
        let Some(Value::Real(v)) = y.value else {
            panic!("{:?}", y.value)
        };
        // Drawn around z (|z| is small), not the observation 100.
        assert!(v.abs() < 20.0);
        assert_eq!(y.infer.get("was_observed"), Some(&InferValue::Bool(true)));
        assert_eq!(y.infer.get("obs"), Some(&InferValue::Value(real(100.0))));
        assert_eq!(tr.output::<f64>(), Some(&v));
        // Latent sites are untouched.
        let z = tr.get("z").unwrap();
        assert!(!z.is_observed && z.infer.is_empty());
    }

    #[test]
    fn draws_follow_the_rng() {
        set_rng_seed(5);
        let a = uncondition(model).call(()).unwrap();
        set_rng_seed(5);
        let b = uncondition(model).call(()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn composition_with_condition() {
        // uncondition(condition(m)): latent.
        let m = uncondition(condition(model, [("z", real(3.0))]));
        let tr = trace(m).get_trace(()).unwrap();
        let z = tr.get("z").unwrap();
        assert!(!z.is_observed);
        assert_ne!(z.value, Some(real(3.0)));
        assert_eq!(z.infer.get("obs"), Some(&InferValue::Value(real(3.0))));
        // condition(uncondition(m)): observed.
        let m = condition(uncondition(model), [("y", real(7.0))]);
        let tr = trace(m).get_trace(()).unwrap();
        let y = tr.get("y").unwrap();
        assert!(y.is_observed);
        assert_eq!(y.value, Some(real(7.0)));
        // The infer entries the uncondition left remain.
        assert_eq!(y.infer.get("was_observed"), Some(&InferValue::Bool(true)));
    }

    #[test]
    fn restricted_to_named_sites() {
        let m = |_: ()| -> Result<(f64, f64, f64), PyroError> {
            let a = observe("a", Normal::new(0.0, 1.0), 10.0)?;
            let b = observe(Name::indexed("b", 1), Normal::new(0.0, 1.0), 20.0)?;
            let c = observe("c", Normal::new(0.0, 1.0), 30.0)?;
            Ok((a.value(), b.value(), c.value()))
        };
        let tr = trace(UnconditionMessenger::sites(["b_1", "c"]).wrap(m))
            .get_trace(())
            .unwrap();
        assert!(tr.get("a").unwrap().is_observed);
        assert!(!tr.get("b_1").unwrap().is_observed);
        assert!(!tr.get("c").unwrap().is_observed);
        let (a, b, c) = *tr.output::<(f64, f64, f64)>().unwrap();
        assert!(a == 10.0 && b != 20.0 && c != 30.0);
        // An empty list unconditions nothing.
        let (a, b, c) = UnconditionMessenger::sites(Vec::<Name>::new())
            .run(|| m(()))
            .unwrap();
        assert_eq!((a, b, c), (10.0, 20.0, 30.0));
    }

    /// An inner handler that marks every message done.
    struct MarkDone;

    impl Messenger for MarkDone {
        fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
            msg.done = true;
            Ok(())
        }
    }

    #[test]
    fn an_inner_done_does_not_prevent_the_draw() {
        let m = |_: ()| observe("y", Normal::new(0.0, 1.0), 100.0);
        let out = UnconditionMessenger::new()
            .run(|| crate::with_handler(MarkDone, || m(())).1)
            .unwrap();
        assert_ne!(out, 100.0);
        assert!(out.is_finite());
    }

    #[test]
    fn deterministic_sites_keep_their_value() {
        // A deterministic site drawn afresh gives its own value back.
        let m = |_: ()| deterministic("d", 2.5);
        let tr = trace(uncondition(m)).get_trace(()).unwrap();
        assert!(!tr.get("d").unwrap().is_observed);
        assert_eq!(tr.output::<f64>(), Some(&2.5));
    }

    #[test]
    fn params_are_untouched() {
        let m = |_: ()| param("uncondition_test_param_a", 1.5, Constraint::Real);
        let tr = trace(uncondition(m)).get_trace(()).unwrap();
        let p = tr.get("uncondition_test_param_a").unwrap();
        assert!(p.infer.is_empty());
        assert_eq!(p.value, Some(real(1.5)));
    }

    #[test]
    fn unconditioned_sites_replay_as_latent() {
        // An unconditioned site is latent in the trace, so it can be replayed.
        let tr = trace(uncondition(model)).get_trace(()).unwrap();
        let again = trace(replay(uncondition(model), tr.clone()))
            .get_trace(())
            .unwrap();
        assert_eq!(again.get("y").unwrap().value, tr.get("y").unwrap().value);
        // Against the plain model, the observation stays (replay keeps observed sites).
        let plain = trace(replay(model, tr)).get_trace(()).unwrap();
        assert_eq!(plain.get("y").unwrap().value, Some(real(100.0)));
    }

    #[test]
    fn blocked_sites_are_not_unconditioned_and_stack_unwinds() {
        let m = uncondition(BlockMessenger::hide(["y"]).wrap(model));
        assert_eq!(m.call(()).unwrap(), 100.0);
        let failing = |_: ()| -> Result<Real, PyroError> {
            observe("y", Normal::new(0.0, 1.0), 1.0)?;
            sample("bad", Normal::new(0.0, f64::NAN))
        };
        assert!(uncondition(failing).call(()).is_err());
        assert_eq!(stack_depth(), 0);
    }
}
