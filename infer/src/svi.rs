//! [`Svi`]: stochastic variational inference, Pyro's `SVI(model, guide, optim, loss)`.

use crate::elbo::TraceElbo;
use crate::error::InferError;
use crate::optim::Optimizer;
use indicatif::{ProgressBar, ProgressStyle};
use pyro_poutine::{Model, PyroRng, with_param_store};
use rand::SeedableRng;

/// Stochastic variational inference: fits the `param` sites of a guide (and of the model) by
/// stochastic gradient steps on the negative ELBO, as Pyro's
/// `svi = SVI(model, guide, Adam(...), Trace_ELBO()); for step: loss = svi.step(data)`.
///
/// Each [`step`](Svi::step) estimates the loss and its gradient ([`TraceElbo`]) and moves every
/// parameter it read one optimiser step in the process-wide parameter store
/// ([`with_param_store`]), where `param` reads them (save and load it with
/// [`ParamStore::save`](pyro_poutine::ParamStore::save) and
/// [`ParamStore::load`](pyro_poutine::ParamStore::load)). Steps are reproducible: the same seed
/// gives the same losses and parameters. A learning-rate [`Schedule`](crate::Schedule) advances
/// when told ([`optimizer_mut`](Svi::optimizer_mut)`.advance_schedule()`), as Pyro's scheduler
/// does.
///
/// ```
/// use pyro_infer::{Adam, Svi, TraceElbo};
/// use pyro_infer::poutine::distributions::{Constraint, Normal, Real, Value};
/// use pyro_infer::poutine::{PyroError, observe, param, sample, with_param_store};
///
/// // z ~ N(0, 1), x ~ N(z, 1) at x = 2: the posterior is N(1, 1/2). The guide N(m, s).
/// let model = |x: f64| -> Result<(), PyroError> {
///     let z = sample("z", Normal::new(0.0, 1.0))?;
///     observe("x", Normal::new(z, 1.0), x)?;
///     Ok(())
/// };
/// let guide = |_: f64| -> Result<(), PyroError> {
///     let m = param("svi_doc_m", Real::from(0.0), Constraint::Real)?;
///     let s = param("svi_doc_s", Real::from(1.0), Constraint::Positive)?;
///     sample("z", Normal::new(m, s))?;
///     Ok(())
/// };
/// let mut svi = Svi::new(model, guide, Adam::new(0.05)?, TraceElbo::new()).seed(0);
/// svi.run(&2.0, 2000)?;
/// let read = |name| match with_param_store(|store| store.get(name)) {
///     Some(Value::Real(x)) => x,
///     other => panic!("{other:?}"),
/// };
/// let (m, s) = (read("svi_doc_m"), read("svi_doc_s"));
/// assert!((m - 1.0).abs() < 0.1 && (s - 0.5_f64.sqrt()).abs() < 0.1, "{m} {s}");
/// assert_eq!(svi.loss_history().len(), 2000);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
pub struct Svi<M, G, O> {
    model: M,
    guide: G,
    optimizer: O,
    elbo: TraceElbo,
    rng: PyroRng,
    losses: Vec<f64>,
    progress: bool,
}

impl<M, G, O: Optimizer> Svi<M, G, O> {
    /// SVI of `model` with `guide`, stepping with `optimizer` on `elbo`, seeded with 0.
    pub fn new(model: M, guide: G, optimizer: O, elbo: TraceElbo) -> Self {
        Svi {
            model,
            guide,
            optimizer,
            elbo,
            rng: PyroRng::seed_from_u64(0),
            losses: Vec::new(),
            progress: false,
        }
    }

    /// Seeds the generator of the guide's and the model's draws.
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = PyroRng::seed_from_u64(seed);
        self
    }

    /// Whether [`run`](Svi::run) shows a progress bar with the running loss on the terminal
    /// (off by default).
    pub fn progress_bar(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// One step: estimates the loss (the negative ELBO) and its gradient, and moves every
    /// parameter read one optimiser step. Returns the loss estimate.
    ///
    /// # Errors
    /// Those of [`TraceElbo::loss_and_grads`]; [`InferError::InvalidArgument`] naming a
    /// parameter whose gradient is not finite (the store is then left as it was).
    pub fn step<A>(&mut self, args: &A) -> Result<f64, InferError>
    where
        A: Clone,
        M: Model<A>,
        G: Model<A>,
    {
        let estimate = self
            .elbo
            .loss_and_grads(&self.model, &self.guide, args, &mut self.rng)?;
        if let Some((name, _)) = estimate
            .grads
            .iter()
            .find(|(_, g)| g.iter().any(|x| !x.is_finite()))
        {
            return Err(InferError::InvalidArgument {
                name: "gradient",
                reason: format!(
                    "the gradient of the loss with respect to the parameter '{name}' is not \
                     finite (loss {})",
                    estimate.loss
                ),
            });
        }
        let optimizer = &mut self.optimizer;
        with_param_store(|store| optimizer.step_store(store, &estimate.grads))?;
        self.losses.push(estimate.loss);
        Ok(estimate.loss)
    }

    /// `num_steps` steps; the loss of each is appended to the [history](Svi::loss_history).
    /// Returns the losses of these steps.
    ///
    /// # Errors
    /// The first step's error; the steps before it are kept.
    pub fn run<A>(&mut self, args: &A, num_steps: usize) -> Result<&[f64], InferError>
    where
        A: Clone,
        M: Model<A>,
        G: Model<A>,
    {
        let start = self.losses.len();
        let bar = if self.progress {
            let bar = ProgressBar::new(num_steps as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} steps {msg}") {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        for _ in 0..num_steps {
            let loss = self.step(args)?;
            bar.inc(1);
            if bar.position() % 50 == 0 {
                bar.set_message(format!("loss {loss:.4}"));
            }
        }
        bar.finish_and_clear();
        Ok(&self.losses[start..])
    }

    /// An estimate of the loss (the negative ELBO) at the current parameters, without a step.
    ///
    /// # Errors
    /// As [`TraceElbo::loss`].
    pub fn evaluate_loss<A>(&mut self, args: &A) -> Result<f64, InferError>
    where
        A: Clone,
        M: Model<A>,
        G: Model<A>,
    {
        self.elbo
            .loss(&self.model, &self.guide, args, &mut self.rng)
    }

    /// The losses of every step so far.
    pub fn loss_history(&self) -> &[f64] {
        &self.losses
    }

    /// The optimiser (to advance its learning-rate schedule, say).
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// The guide.
    pub fn guide(&self) -> &G {
        &self.guide
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }
}
