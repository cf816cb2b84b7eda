//! `escape`: end a model run early at a chosen sample site.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_trace::{Site, SiteKind};
use std::fmt;
use std::sync::Arc;

/// The predicate of an [`EscapeMessenger`] handler.
type EscapeFn = Arc<dyn Fn(&Site) -> bool + Send + Sync>;

/// The `escape` handler (Pyro's `EscapeMessenger`): at the first sample site for which the
/// predicate holds, the message is stopped (outer handlers do not see it), is not drawn, and the
/// model run ends with [`PyroError::Escape`] carrying the site, after the handlers inside this one
/// have postprocessed it (an inner trace records it, without a value).
///
/// The escape is not a failure: callers match on [`PyroError::Escape`] (Pyro's `NonlocalExit`),
/// e.g. to enumerate a discrete site and re-run the model.
///
/// ```
/// use pyro_poutine::{EscapeMessenger, Handler, PyroError, TraceMessenger, escape, sample};
/// use pyro_poutine::distributions::{Bernoulli, Normal, Real};
/// use pyro_poutine::Model;
///
/// fn model(_: ()) -> Result<Real, PyroError> {
///     let x = sample("x", Normal::new(0.0, 1.0))?;
///     let b = sample("b", Bernoulli::new(0.3))?;
///     sample("y", Normal::new(if b { x } else { -x }, 1.0))
/// }
/// // Around a model: stop at the first discrete site.
/// let stop_at_b = |site: &pyro_poutine::Site| site.name == "b";
/// match escape(model, stop_at_b).call(()) {
///     Err(PyroError::Escape(site)) => assert_eq!(site.name, "b"),
///     other => panic!("expected an escape, got {other:?}"),
/// }
/// // Around a closure, with a trace inside: it holds the sites up to the escape.
/// let (tracer, result) = EscapeMessenger::new(stop_at_b)
///     .run(|| pyro_poutine::with_handler(TraceMessenger::new(), || model(())));
/// assert!(matches!(result, Err(PyroError::Escape(_))));
/// let tr = tracer.into_trace();
/// assert!(tr.contains("x") && tr.contains("b") && !tr.contains("y"));
/// ```
#[derive(Clone)]
pub struct EscapeMessenger {
    escape_fn: EscapeFn,
}

impl EscapeMessenger {
    /// A handler escaping at sample sites for which `escape_fn` returns true.
    pub fn new(escape_fn: impl Fn(&Site) -> bool + Send + Sync + 'static) -> Self {
        EscapeMessenger {
            escape_fn: Arc::new(escape_fn),
        }
    }
}

impl fmt::Debug for EscapeMessenger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EscapeMessenger").finish_non_exhaustive()
    }
}

impl Messenger for EscapeMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind == SiteKind::Sample && (self.escape_fn)(msg) {
            msg.done = true;
            msg.stop = true;
            msg.escape = true;
        }
        Ok(())
    }
}

/// Wraps `model` in an [`EscapeMessenger`] handler: the run ends with [`PyroError::Escape`] at the first
/// sample site for which `escape_fn` holds.
pub fn escape<M: IntoModel<Mk>, Mk>(
    model: M,
    escape_fn: impl Fn(&Site) -> bool + Send + Sync + 'static,
) -> Handled<M::Model, EscapeMessenger> {
    EscapeMessenger::new(escape_fn).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Constraint, Normal, Real};
    use crate::{Model, TraceMessenger, observe, param, sample, stack_depth, trace, with_handler};
    use std::cell::Cell;

    thread_local! {
        static REACHED: Cell<usize> = const { Cell::new(0) };
    }

    fn model(_: ()) -> Result<Real, PyroError> {
        REACHED.with(|r| r.set(0));
        let x = sample("x", Normal::new(0.0, 1.0))?;
        REACHED.with(|r| r.set(1));
        let y = sample("y", Normal::new(x, 1.0))?;
        REACHED.with(|r| r.set(2));
        observe("z", Normal::new(y, 1.0), 0.5)
    }

    fn escaped<T: fmt::Debug>(result: Result<T, PyroError>) -> Box<Site> {
        match result {
            Err(PyroError::Escape(site)) => site,
            other => panic!("expected an escape, got {other:?}"),
        }
    }

    #[test]
    fn stops_the_model_at_the_matching_site() {
        let site = escaped(escape(model, |s| s.name == "y").call(()));
        assert_eq!(site.name, "y");
        assert_eq!(site.value, None);
        assert!(site.done && site.stop && site.escape);
        assert_eq!(REACHED.with(Cell::get), 1);
        assert_eq!(stack_depth(), 0);
        assert_eq!(PyroError::Escape(site).to_string(), "escaped at site 'y'");
    }

    #[test]
    fn inner_trace_records_the_escaped_site_outer_does_not() {
        let (_, (tracer, result)) = with_handler(EscapeMessenger::new(|s| s.name == "y"), || {
            with_handler(TraceMessenger::new(), || model(()))
        });
        escaped(result);
        let tr = tracer.into_trace();
        assert_eq!(tr.len(), 2);
        let y = tr.get("y").unwrap();
        assert!(y.escape);
        assert_eq!(y.value, None);
        assert!(!tr.contains("z"));
        // An outer trace does not see the stopped site, and get_trace reports the escape.
        let err = trace(escape(model, |s| s.name == "y"))
            .get_trace(())
            .unwrap_err();
        assert_eq!(escaped::<()>(Err(err)).name, "y");
        assert_eq!(stack_depth(), 0);
        let (tracer, result) = with_handler(TraceMessenger::new(), || {
            escape(model, |s| s.name == "y").call(())
        });
        escaped(result);
        let tr = tracer.into_trace();
        assert!(tr.contains("x") && !tr.contains("y"));
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn only_sample_sites_escape() {
        let m = |()| -> Result<Real, PyroError> {
            param("escape_test_param_p", 1.0, Constraint::Real)?;
            sample("s", Normal::new(0.0, 1.0))
        };
        let site = escaped(escape(m, |_| true).call(()));
        assert_eq!(site.name, "s");
        // Observed sample sites are sample sites too.
        let site = escaped(escape(model, |s| s.is_observed).call(()));
        assert_eq!(site.name, "z");
    }

    #[test]
    fn no_match_runs_to_the_end() {
        let out = escape(model, |s| s.name == "nope").call(()).unwrap();
        assert_eq!(out, 0.5);
        assert_eq!(REACHED.with(Cell::get), 2);
    }

    #[test]
    fn escape_inside_the_model_can_be_caught() {
        let m = |()| -> Result<Real, PyroError> {
            let first = EscapeMessenger::new(|s| s.name == "x").run(|| model(()));
            let site = escaped(first);
            assert_eq!(site.name, "x");
            // The model goes on under its own handlers.
            sample("after", Normal::new(0.0, 1.0))
        };
        let tr = trace(m).get_trace(()).unwrap();
        assert!(tr.contains("after") && !tr.contains("x"));
        assert_eq!(stack_depth(), 0);
    }
}
