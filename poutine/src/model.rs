//! [`Model`]: what a handler wraps, and [`Handled`]: a model wrapped in a handler.

use crate::error::PyroError;
use crate::runtime::{Messenger, with_handler};
use std::marker::PhantomData;

/// A model: ordinary code that calls the primitives, taking arguments `A` (use a tuple for
/// several) and returning a result.
///
/// Every `Fn(A) -> Result<R, E>` is a model, for any error `E` that converts into a
/// [`PyroError`]: `PyroError` itself, or `Box<dyn Error + Send + Sync>`, so that a model can use
/// `?` on its own errors (they are carried as [`PyroError::Model`]). So is every model wrapped in
/// a handler, so handlers compose: `trace(condition(model, data))`.
///
/// ```
/// use pyro_poutine::{Model, PyroError, sample};
/// use pyro_poutine::distributions::{Normal, Real};
///
/// // A model with its own errors: `?` works on them and on the primitives alike.
/// fn model(text: &str) -> Result<Real, Box<dyn std::error::Error + Send + Sync>> {
///     let loc: f64 = text.parse()?;
///     Ok(sample("x", Normal::new(loc, 1.0))?)
/// }
/// assert!(model.call("1.5").is_ok());
/// let err = model.call("one").unwrap_err();
/// assert!(matches!(err, PyroError::Model(_)));
/// assert_eq!(err.to_string(), "invalid float literal");
/// ```
///
/// ```
/// use pyro_poutine::{Model, PyroError, sample};
/// use pyro_poutine::distributions::{Normal, Real};
///
/// fn model(loc: f64) -> Result<Real, PyroError> {
///     sample("x", Normal::new(loc, 1.0))
/// }
/// let x = model.call(3.0)?;
/// assert!(x.is_finite());
/// # Ok::<(), PyroError>(())
/// ```
pub trait Model<A> {
    /// What the model returns.
    type Output;

    /// Runs the model once.
    fn call(&self, args: A) -> Result<Self::Output, PyroError>;
}

impl<A, R, E, F> Model<A> for F
where
    F: Fn(A) -> Result<R, E>,
    E: Into<PyroError>,
{
    type Output = R;

    fn call(&self, args: A) -> Result<R, PyroError> {
        self(args).map_err(Into::into)
    }
}

/// What takes the place of a model where one is given: a [`Model`] (any `Fn(A) -> Result<R, E>`,
/// or a model wrapped in handlers), or a function of no arguments, `Fn() -> Result<R, E>`, which
/// becomes a model of `()` ([`NoArgs`]). `Mk` is a marker the compiler infers; write code as if
/// it were not there.
///
/// ```
/// use pyro_poutine::{PyroError, sample, trace};
/// use pyro_poutine::distributions::{Normal, Real};
///
/// fn model() -> Result<Real, PyroError> {
///     sample("x", Normal::new(0.0, 1.0))
/// }
/// let tr = trace(model).get_trace(())?;
/// assert!(tr.contains("x"));
/// # Ok::<(), PyroError>(())
/// ```
pub trait IntoModel<Mk> {
    /// The model.
    type Model;

    /// The model.
    fn into_model(self) -> Self::Model;
}

/// The [`IntoModel`] marker of a model of arguments `A`.
#[derive(Debug)]
pub struct WithArgs<A>(PhantomData<fn(A)>);

/// The [`IntoModel`] marker of a function of no arguments.
#[derive(Debug)]
pub struct Nullary;

impl<A, M: Model<A>> IntoModel<WithArgs<A>> for M {
    type Model = M;

    fn into_model(self) -> M {
        self
    }
}

impl<R, E, F> IntoModel<Nullary> for F
where
    F: Fn() -> Result<R, E>,
    E: Into<PyroError>,
{
    type Model = NoArgs<F>;

    fn into_model(self) -> NoArgs<F> {
        NoArgs(self)
    }
}

/// A function of no arguments as a model of `()` (made by [`IntoModel`]).
#[derive(Clone, Copy, Debug)]
pub struct NoArgs<F>(pub F);

impl<R, E, F> Model<()> for NoArgs<F>
where
    F: Fn() -> Result<R, E>,
    E: Into<PyroError>,
{
    type Output = R;

    fn call(&self, (): ()) -> Result<R, PyroError> {
        (self.0)().map_err(Into::into)
    }
}

/// A model run under a handler: each call installs a fresh copy of the handler around one run
/// of the inner model. Built by the handler functions (`scale(model, 2.0)`, ...) or by
/// [`Handler::wrap`].
#[derive(Clone, Debug)]
pub struct Handled<M, H> {
    pub(crate) model: M,
    pub(crate) handler: H,
}

impl<M, H> Handled<M, H> {
    /// The handler's configuration.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.model
    }
}

impl<A, M, H> Model<A> for Handled<M, H>
where
    M: Model<A>,
    H: Messenger + Clone,
{
    type Output = M::Output;

    fn call(&self, args: A) -> Result<M::Output, PyroError> {
        let (mut handler, result) = with_handler(self.handler.clone(), || self.model.call(args));
        let output = result?;
        handler.finish()?;
        Ok(output)
    }
}

/// The two forms of every handler: around a closure ([`run`](Handler::run), Pyro's `with`) and
/// around a model ([`wrap`](Handler::wrap)).
pub trait Handler: Messenger + Sized {
    /// Runs `body` with this handler installed.
    ///
    /// ```
    /// use pyro_poutine::{Handler, ScaleMessenger, sample};
    /// use pyro_poutine::distributions::{Normal, Real};
    ///
    /// let x: Real = ScaleMessenger::new(2.0)?.run(|| sample("x", Normal::new(0.0, 1.0)))?;
    /// # Ok::<(), pyro_poutine::PyroError>(())
    /// ```
    fn run<R>(self, body: impl FnOnce() -> R) -> R {
        with_handler(self, body).1
    }

    /// Runs the fallible `body` with this handler installed, then, if `body` succeeded, the
    /// handler's end-of-run check ([`Messenger::finish`]), as the model form does. `run` cannot
    /// report that check; use this form for handlers that have one (a strict `condition`).
    fn try_run<R>(self, body: impl FnOnce() -> Result<R, PyroError>) -> Result<R, PyroError> {
        let (mut handler, result) = with_handler(self, body);
        let output = result?;
        handler.finish()?;
        Ok(output)
    }

    /// Wraps `model` (a model, or a function of no arguments: see [`IntoModel`]): each call
    /// runs it with a fresh copy of this handler.
    fn wrap<M: IntoModel<Mk>, Mk>(self, model: M) -> Handled<M::Model, Self>
    where
        Self: Clone,
    {
        Handled {
            model: model.into_model(),
            handler: self,
        }
    }
}

impl<H: Messenger> Handler for H {}
