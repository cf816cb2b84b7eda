//! `trace`: record one run of a model as a [`Trace`].

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel, Model};
use crate::runtime::{Messenger, with_handler};
use pyro_trace::{Site, SiteKind, Trace};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The `trace` handler: records every sample and param message it sees, after inner handlers
/// have processed it, into a fresh [`Trace`] per run. A sample site whose `infer` config sets
/// `_do_not_trace` is not recorded. Two sample sites with one name, or a sample named like a
/// param, are errors; a param may repeat (one node).
///
/// ```
/// use pyro_poutine::{PyroError, TraceMessenger, sample, trace};
/// use pyro_poutine::distributions::{Normal, Real};
///
/// fn model(loc: f64) -> Result<Real, PyroError> {
///     let x = sample("x", Normal::new(loc, 1.0))?;
///     sample("y", Normal::new(x, 1.0))
/// }
/// // Around a model:
/// let tr = trace(model).get_trace(0.0)?;
/// assert_eq!(tr.len(), 2);
/// assert_eq!(tr.output::<Real>().map(|y| y.value()), tr.get("y").and_then(|s| s.value.as_ref()).map(|v| match v {
///     pyro_poutine::distributions::Value::Real(y) => *y,
///     _ => unreachable!(),
/// }));
/// // Around a closure:
/// let (y, tr) = TraceMessenger::record(|| model(1.0))?;
/// assert!(tr.contains("x") && y.is_finite());
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Debug, Default)]
pub struct TraceMessenger {
    trace: Trace,
    /// The number of sites of the last run, as the capacity of the next run's trace (so that a
    /// traced model does not grow its trace site by site on every call).
    last_len: AtomicUsize,
}

impl Clone for TraceMessenger {
    /// A fresh tracer with the same capacity hint (a handler is cloned at each call of a wrapped
    /// model; the recorded trace is not carried over).
    fn clone(&self) -> Self {
        TraceMessenger::with_capacity(self.last_len.load(Ordering::Relaxed))
    }
}

impl TraceMessenger {
    /// A tracer with an empty trace.
    pub fn new() -> Self {
        TraceMessenger::default()
    }

    fn with_capacity(sites: usize) -> Self {
        TraceMessenger {
            trace: Trace::with_capacity(sites),
            last_len: AtomicUsize::new(sites),
        }
    }

    /// A tracer that records into `buffer`, emptied first: a handler that traces many runs
    /// reuses one allocation (take it back with [`into_trace`](TraceMessenger::into_trace)).
    pub fn recording_into(mut buffer: Trace) -> Self {
        buffer.clear();
        TraceMessenger {
            trace: buffer,
            last_len: AtomicUsize::new(0),
        }
    }

    /// The trace recorded so far.
    pub fn into_trace(self) -> Trace {
        self.trace
    }

    /// The trace recorded so far, borrowed.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Adds a processed message to the trace, as `postprocess` adds a copy of it (a sample site
    /// marked `_do_not_trace` is left out). For a handler that records through a tracer and owns
    /// its messages, such as one taking sites directly ([`Messenger::direct`]).
    ///
    /// ```
    /// use pyro_poutine::{Name, Site, TraceMessenger};
    /// use pyro_poutine::distributions::{Normal, Value};
    ///
    /// let mut tracer = TraceMessenger::new();
    /// let site = Site::observed(Name::from("y"), Normal::new(0.0, 1.0)?.into(), Value::Real(0.5));
    /// tracer.add(site)?;
    /// assert!(tracer.into_trace().contains("y"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add(&mut self, msg: Site) -> Result<(), PyroError> {
        if msg.kind == SiteKind::Sample && msg.infer.flag("_do_not_trace") {
            return Ok(());
        }
        self.trace.add_node(msg)?;
        Ok(())
    }

    /// Runs `body` under a fresh tracer and returns its result with the trace.
    pub fn record<R>(body: impl FnOnce() -> Result<R, PyroError>) -> Result<(R, Trace), PyroError> {
        let (tracer, result) = with_handler(TraceMessenger::new(), body);
        result.map(|r| (r, tracer.trace))
    }
}

impl Messenger for TraceMessenger {
    fn postprocess(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        self.add(msg.clone())
    }
}

/// Wraps `model` in the `trace` handler; [`get_trace`](Handled::get_trace) runs it once and
/// returns the trace.
pub fn trace<M: IntoModel<Mk>, Mk>(model: M) -> Handled<M::Model, TraceMessenger> {
    TraceMessenger::new().wrap(model)
}

impl<M> Handled<M, TraceMessenger> {
    /// Runs the model once with `args` and returns the trace of that run, with the model's
    /// arguments ([`Trace::input`], Pyro's `_INPUT`) and return value ([`Trace::output`])
    /// recorded.
    ///
    /// The trace keeps a clone of the arguments, so they must be owned (`'static`): pass large
    /// data behind an `Arc`. A model of borrowed data is traced with the scope form,
    /// [`TraceMessenger::record`], which does not see the arguments.
    ///
    /// ```
    /// use pyro_poutine::{PyroError, sample, trace};
    /// use pyro_poutine::distributions::{Normal, Real};
    ///
    /// let model = |(loc, scale): (f64, f64)| -> Result<Real, PyroError> {
    ///     sample("x", Normal::new(loc, scale))
    /// };
    /// let tr = trace(model).get_trace((1.0, 2.0))?;
    /// assert_eq!(tr.input::<(f64, f64)>(), Some(&(1.0, 2.0)));
    /// # Ok::<(), PyroError>(())
    /// ```
    pub fn get_trace<A>(&self, args: A) -> Result<Trace, PyroError>
    where
        A: Clone + Send + Sync + 'static,
        M: Model<A>,
        M::Output: Send + Sync + 'static,
    {
        let input = args.clone();
        let (tracer, result) = with_handler(self.handler.clone(), || self.model.call(args));
        let mut trace = tracer.trace;
        self.handler.last_len.store(trace.len(), Ordering::Relaxed);
        trace.set_input(input);
        trace.set_output(result?);
        Ok(trace)
    }
}
