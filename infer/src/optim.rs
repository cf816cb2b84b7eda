//! Optimisers for variational inference: [`Sgd`], [`Adam`] and [`ClippedAdam`], behind the
//! [`Optimizer`] trait, with learning-rate [`Schedule`]s.
//!
//! Each optimiser updates a parameter's unconstrained coordinates in place to decrease a loss,
//! given the loss's gradient, as a torch optimiser does, and keeps per-parameter state keyed by
//! the parameter's name, as Pyro's `PyroOptim` does (it builds one torch optimiser per
//! parameter).

use crate::error::InferError;
use indexmap::IndexMap;
use pyro_poutine::ParamStore;
use pyro_poutine::distributions::Value;
use rustc_hash::{FxBuildHasher, FxHashSet};
use serde::{Deserialize, Serialize};

/// An optimiser of named parameters: one [`step`](Optimizer::step) updates one parameter's
/// unconstrained coordinates in place to decrease a loss whose gradient is given (as torch
/// optimisers do: pass the gradient of the loss, e.g. of the negative ELBO).
///
/// State (momentum buffers, moment estimates, step counts) is kept per parameter, keyed by its
/// name; a parameter is first seen at its first step. The learning rate is the base rate times
/// the factor of the optimiser's [`Schedule`] after
/// [`advance_schedule`](Optimizer::advance_schedule) has been called `t` times: the schedule
/// advances only when told, typically once per SVI step (Pyro's `scheduler.step()`), never by
/// a parameter's step.
///
/// ```
/// use pyro_infer::{Adam, Optimizer, Schedule};
/// use pyro_infer::poutine::ParamStore;
/// use pyro_infer::poutine::distributions::{Constraint, Value};
///
/// // Minimise (x - 3)^2 + (y_0 + 1)^2 + (y_1 - 2)^2 over the store's parameters.
/// let mut store = ParamStore::new();
/// store.get_or_init("x".into(), Value::Real(0.0), Constraint::Real)?;
/// store.get_or_init("y".into(), Value::Reals(vec![0.0, 0.0]), Constraint::RealVector)?;
/// let mut adam = Adam::new(0.1)?.schedule(Schedule::Step { step_size: 500, gamma: 0.1 })?;
/// for _ in 0..1000 {
///     let (Some(Value::Real(x)), Some(Value::Reals(y))) =
///         (store.unconstrained("x"), store.unconstrained("y"))
///     else {
///         unreachable!()
///     };
///     let grads = vec![
///         ("x".to_string(), vec![2.0 * (x - 3.0)]),
///         ("y".to_string(), vec![2.0 * (y[0] + 1.0), 2.0 * (y[1] - 2.0)]),
///     ];
///     adam.step_store(&mut store, &grads)?;
///     adam.advance_schedule(); // once per iteration, after stepping every parameter
/// }
/// assert!((adam.learning_rate() - 0.1 * 0.1 * 0.1).abs() < 1e-15);
/// let Some(Value::Real(x)) = store.get("x") else { unreachable!() };
/// assert!((x - 3.0).abs() < 1e-3);
/// let Some(Value::Reals(y)) = store.get("y") else { unreachable!() };
/// assert!((y[0] + 1.0).abs() < 1e-3 && (y[1] - 2.0).abs() < 1e-3);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
pub trait Optimizer: Send {
    /// Updates the unconstrained coordinates `value` of the parameter `name` in place, one step
    /// against the gradient `grad` of the loss.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] naming the parameter, leaving `value` and the state
    /// unchanged, when `grad` and `value` differ in length, when the parameter's length differs
    /// from that of its earlier steps (call [`forget`](Optimizer::forget) to restart it), or
    /// when a coordinate of `grad` or `value` is NaN or infinite.
    fn step(&mut self, name: &str, value: &mut [f64], grad: &[f64]) -> Result<(), InferError>;

    /// The current learning rate: the base rate times the schedule's factor (for
    /// [`ClippedAdam`], before its per-parameter decay: see [`ClippedAdam::lr_for`]).
    fn learning_rate(&self) -> f64;

    /// Advances the learning-rate schedule by one: call it once per SVI step (or epoch).
    fn advance_schedule(&mut self);

    /// How many times [`advance_schedule`](Optimizer::advance_schedule) was called.
    fn schedule_steps(&self) -> u64;

    /// The length of the parameter `name` at its earlier steps, or `None` if it has not been
    /// stepped (or was forgotten).
    fn state_len(&self, name: &str) -> Option<usize>;

    /// Drops the state of `name` (its next step is a first step), returning whether it had any.
    fn forget(&mut self, name: &str) -> bool;

    /// Drops the state of every parameter and restarts the schedule.
    fn reset(&mut self);

    /// Steps each named parameter of `store` against its gradient: reads its unconstrained
    /// value, [`step`](Optimizer::step)s it and writes it back (a scalar parameter stays a
    /// [`Value::Real`]). `grads` holds the gradient of the loss with respect to each
    /// parameter's unconstrained coordinates, in any order; parameters not named are left
    /// alone.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`grads`) naming the parameter, before anything is
    /// changed, when a name is not in the store, is given twice or holds a value that is not
    /// real; else as [`step`](Optimizer::step), also before anything is changed. A value the
    /// parameter's constraint rejects ([`ParamStore::set_unconstrained`]) is
    /// [`InferError::Run`], after the parameters before it were stepped.
    fn step_store(
        &mut self,
        store: &mut ParamStore,
        grads: &[(String, Vec<f64>)],
    ) -> Result<(), InferError> {
        let mut seen = FxHashSet::with_capacity_and_hasher(grads.len(), Default::default());
        for (name, grad) in grads {
            if !seen.insert(name.as_str()) {
                return Err(bad_grads(format!(
                    "parameter '{name}' is given more than once"
                )));
            }
            let value = store
                .unconstrained(name)
                .ok_or_else(|| bad_grads(format!("no parameter '{name}' in the store")))?;
            let coords = real_coords(name, value)?;
            check(name, coords, grad, self.state_len(name))?;
        }
        for (name, grad) in grads {
            let value = store.unconstrained(name).expect("checked above");
            let scalar = matches!(value, Value::Real(_));
            let mut coords = real_coords(name, value)?.to_vec();
            self.step(name, &mut coords, grad)?;
            let value = if scalar {
                Value::Real(coords[0])
            } else {
                Value::Reals(coords)
            };
            store.set_unconstrained(name, value)?;
        }
        Ok(())
    }
}

/// A learning-rate schedule: the factor the base learning rate is multiplied by after `t`
/// calls of [`Optimizer::advance_schedule`] (torch's `ExponentialLR` and `StepLR`, in closed
/// form).
///
/// `t` counts [`Optimizer::advance_schedule`] calls on the whole optimiser, shared by all its
/// parameters; steps of parameters never advance it. (Pyro's `PyroLRScheduler` keeps one torch
/// scheduler per parameter, all stepped by `scheduler.step()`, so there a parameter first seen
/// late starts its schedule at the base rate; here it starts at the optimiser's current rate.)
///
/// ```
/// use pyro_infer::Schedule;
///
/// assert_eq!(Schedule::Constant.factor(10), 1.0);
/// assert_eq!(Schedule::Exponential { gamma: 0.5 }.factor(3), 0.125);
/// assert_eq!(Schedule::Step { step_size: 10, gamma: 0.5 }.factor(25), 0.25);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Schedule {
    /// The base rate throughout.
    #[default]
    Constant,
    /// The base rate times `gamma^t`.
    Exponential {
        /// The factor per schedule step (positive and finite).
        gamma: f64,
    },
    /// The base rate times `gamma^⌊t / step_size⌋`: multiplied by `gamma` every `step_size`
    /// schedule steps.
    Step {
        /// The number of schedule steps between decays (at least 1).
        step_size: u64,
        /// The factor per decay (positive and finite).
        gamma: f64,
    },
}

impl Schedule {
    /// The factor of the base learning rate after `t` schedule steps.
    pub fn factor(&self, t: u64) -> f64 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::Exponential { gamma } => pow(gamma, t),
            Schedule::Step { step_size, gamma } => pow(gamma, t / step_size.max(1)),
        }
    }

    fn validate(&self) -> Result<(), InferError> {
        let gamma = match *self {
            Schedule::Constant => return Ok(()),
            Schedule::Exponential { gamma } => gamma,
            Schedule::Step { step_size, gamma } => {
                if step_size == 0 {
                    return Err(invalid("schedule", "step_size must be at least 1, not 0"));
                }
                gamma
            }
        };
        if gamma.is_finite() && gamma > 0.0 {
            Ok(())
        } else {
            Err(invalid(
                "schedule",
                format!("gamma must be positive and finite, not {gamma}"),
            ))
        }
    }
}

/// `x^n` as `pow` computes it (as Python's `x ** n` does).
fn pow(x: f64, n: u64) -> f64 {
    x.powf(n as f64)
}

/// What every optimiser has: the base rate, its schedule, and the gradient clipping of
/// [`Sgd`] and [`Adam`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Common {
    lr: f64,
    schedule: Schedule,
    t: u64,
    clip_norm: Option<f64>,
    clip_value: Option<f64>,
}

impl Common {
    fn new(lr: f64) -> Result<Self, InferError> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(invalid(
                "lr",
                format!("the learning rate must be positive and finite, not {lr}"),
            ));
        }
        Ok(Common {
            lr,
            schedule: Schedule::Constant,
            t: 0,
            clip_norm: None,
            clip_value: None,
        })
    }

    fn learning_rate(&self) -> f64 {
        self.lr * self.schedule.factor(self.t)
    }

    /// The gradient after clipping: first to norm `clip_norm` (torch's `clip_grad_norm_` on this
    /// parameter alone), then each coordinate to `[-clip_value, clip_value]` (torch's
    /// `clip_grad_value_`), the order of Pyro's `clip_args`.
    fn clipped(&self, grad: &[f64]) -> Vec<f64> {
        let mut g = grad.to_vec();
        if let Some(max_norm) = self.clip_norm {
            let coef = (max_norm / (norm(&g) + 1e-6)).min(1.0);
            for x in &mut g {
                *x *= coef;
            }
        }
        if let Some(c) = self.clip_value {
            for x in &mut g {
                *x = x.clamp(-c, c);
            }
        }
        g
    }
}

/// The state of the parameter `name`, made by `new` at its first step (the name is copied only
/// then).
fn state_of<'a, S>(
    states: &'a mut IndexMap<String, S, FxBuildHasher>,
    name: &str,
    new: impl FnOnce() -> S,
) -> &'a mut S {
    let index = match states.get_index_of(name) {
        Some(index) => index,
        None => states.insert_full(name.to_string(), new()).0,
    };
    &mut states[index]
}

/// The Euclidean norm, rescaled when the sum of squares overflows.
fn norm(g: &[f64]) -> f64 {
    let n = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n.is_finite() {
        return n;
    }
    let m = g.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    m * g.iter().map(|x| (x / m) * (x / m)).sum::<f64>().sqrt()
}

fn invalid(name: &'static str, reason: impl Into<String>) -> InferError {
    InferError::InvalidArgument {
        name,
        reason: reason.into(),
    }
}

fn bad_grads(reason: String) -> InferError {
    invalid("grads", reason)
}

/// A stored parameter's unconstrained coordinates.
fn real_coords<'v>(name: &str, value: &'v Value) -> Result<&'v [f64], InferError> {
    match value {
        Value::Real(x) => Ok(std::slice::from_ref(x)),
        Value::Reals(v) => Ok(v),
        other => Err(bad_grads(format!(
            "parameter '{name}' is a {}, not real: it cannot be optimised",
            other.type_name()
        ))),
    }
}

/// The checks of [`Optimizer::step`], before anything changes.
fn check(
    name: &str,
    value: &[f64],
    grad: &[f64],
    state_len: Option<usize>,
) -> Result<(), InferError> {
    if value.len() != grad.len() {
        return Err(invalid(
            "grad",
            format!(
                "parameter '{name}' has {} coordinates but its gradient has {}",
                value.len(),
                grad.len()
            ),
        ));
    }
    if let Some(len) = state_len
        && len != value.len()
    {
        return Err(invalid(
            "value",
            format!(
                "parameter '{name}' has {} coordinates but had {len} at its earlier steps \
                 (forget it to restart its optimiser state)",
                value.len()
            ),
        ));
    }
    if let Some((i, g)) = grad.iter().enumerate().find(|(_, g)| !g.is_finite()) {
        return Err(invalid(
            "grad",
            format!("the gradient of parameter '{name}' is {g} at coordinate {i}"),
        ));
    }
    if let Some((i, x)) = value.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(invalid(
            "value",
            format!("parameter '{name}' is {x} at coordinate {i}"),
        ));
    }
    Ok(())
}

fn check_unit(name: &'static str, what: &str, x: f64) -> Result<(), InferError> {
    if (0.0..1.0).contains(&x) {
        Ok(())
    } else {
        Err(invalid(name, format!("{what} must be in [0, 1), not {x}")))
    }
}

fn check_positive(name: &'static str, what: &str, x: f64) -> Result<(), InferError> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(invalid(
            name,
            format!("{what} must be positive and finite, not {x}"),
        ))
    }
}

fn check_weight_decay(x: f64) -> Result<(), InferError> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            "weight_decay",
            format!("the weight decay must be non-negative and finite, not {x}"),
        ))
    }
}

/// The builders of the moment estimates Adam and ClippedAdam share.
macro_rules! moment_builders {
    ($ty:ident) => {
        impl $ty {
            /// Sets the decay rates of the moment estimates (default (0.9, 0.999)).
            ///
            /// # Errors
            /// [`InferError::InvalidArgument`] (`betas`) unless both are in `[0, 1)`.
            pub fn betas(mut self, beta1: f64, beta2: f64) -> Result<Self, InferError> {
                check_betas((beta1, beta2))?;
                self.betas = (beta1, beta2);
                Ok(self)
            }

            /// Sets the term added to the denominator (default 1e-8).
            ///
            /// # Errors
            /// [`InferError::InvalidArgument`] (`eps`) unless `eps` is positive and finite.
            pub fn eps(mut self, eps: f64) -> Result<Self, InferError> {
                check_positive("eps", "eps", eps)?;
                self.eps = eps;
                Ok(self)
            }
        }
    };
}

/// The builders of the learning-rate schedule and the gradient clipping, and the parts of
/// [`Optimizer`] that only read `common` and `state`.
macro_rules! common_builders {
    ($ty:ident) => {
        impl $ty {
            /// Sets the learning-rate schedule (default [`Schedule::Constant`]).
            ///
            /// # Errors
            /// [`InferError::InvalidArgument`] (`schedule`) for a `gamma` that is not positive
            /// and finite, or a `step_size` of 0.
            pub fn schedule(mut self, schedule: Schedule) -> Result<Self, InferError> {
                schedule.validate()?;
                self.common.schedule = schedule;
                Ok(self)
            }

            /// Clips each parameter's gradient to Euclidean norm `max_norm` before the step:
            /// torch's `clip_grad_norm_` on that parameter alone (the gradient is multiplied by
            /// `min(1, max_norm / (norm + 1e-6))`), as Pyro's
            /// `clip_args={"clip_norm": max_norm}` does (per parameter, not over all of them).
            ///
            /// # Errors
            /// [`InferError::InvalidArgument`] (`clip_norm`) unless `max_norm` is positive and
            /// finite.
            pub fn clip_norm(mut self, max_norm: f64) -> Result<Self, InferError> {
                check_positive("clip_norm", "the clipping norm", max_norm)?;
                self.common.clip_norm = Some(max_norm);
                Ok(self)
            }

            /// Clips each gradient coordinate to `[-max_value, max_value]` before the step
            /// (torch's `clip_grad_value_`, after the norm clipping when both are set, as Pyro's
            /// `clip_args` do).
            ///
            /// # Errors
            /// [`InferError::InvalidArgument`] (`clip_value`) unless `max_value` is positive
            /// and finite.
            pub fn clip_value(mut self, max_value: f64) -> Result<Self, InferError> {
                check_positive("clip_value", "the clipping value", max_value)?;
                self.common.clip_value = Some(max_value);
                Ok(self)
            }
        }
    };
}

macro_rules! common_methods {
    () => {
        fn learning_rate(&self) -> f64 {
            self.common.learning_rate()
        }

        fn advance_schedule(&mut self) {
            self.common.t += 1;
        }

        fn schedule_steps(&self) -> u64 {
            self.common.t
        }

        fn state_len(&self, name: &str) -> Option<usize> {
            self.state.get(name).map(|s| s.len)
        }

        fn forget(&mut self, name: &str) -> bool {
            self.state.shift_remove(name).is_some()
        }

        fn reset(&mut self) {
            self.state.clear();
            self.common.t = 0;
        }
    };
}

/// Stochastic gradient descent with momentum, as torch's `SGD` (`nesterov=False`).
///
/// With gradient `g` (after clipping, plus `weight_decay * p`): the momentum buffer is
/// `b = g` at a parameter's first step and `b = momentum * b + (1 - dampening) * g` after; the
/// step is `p -= lr * b` (`p -= lr * g` without momentum).
///
/// ```
/// use pyro_infer::{Optimizer, Sgd};
///
/// let mut sgd = Sgd::new(0.1)?.momentum(0.9)?;
/// let mut x = [1.0];
/// sgd.step("x", &mut x, &[2.0])?; // b = 2
/// assert!((x[0] - 0.8).abs() < 1e-15);
/// sgd.step("x", &mut x, &[2.0])?; // b = 0.9 * 2 + 2 = 3.8
/// assert!((x[0] - 0.42).abs() < 1e-15);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    common: Common,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    state: IndexMap<String, SgdState, FxBuildHasher>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SgdState {
    len: usize,
    /// The momentum buffer (empty without momentum).
    buf: Vec<f64>,
}

impl Sgd {
    /// Plain gradient descent at learning rate `lr`, no momentum.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`lr`) unless `lr` is positive and finite.
    pub fn new(lr: f64) -> Result<Self, InferError> {
        Ok(Sgd {
            common: Common::new(lr)?,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            state: IndexMap::default(),
        })
    }

    /// Sets the momentum (default 0).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`momentum`) unless `momentum` is in `[0, 1)`.
    pub fn momentum(mut self, momentum: f64) -> Result<Self, InferError> {
        check_unit("momentum", "the momentum", momentum)?;
        self.momentum = momentum;
        Ok(self)
    }

    /// Sets the dampening of the momentum (default 0).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`dampening`) unless `dampening` is in `[0, 1)`.
    pub fn dampening(mut self, dampening: f64) -> Result<Self, InferError> {
        check_unit("dampening", "the dampening", dampening)?;
        self.dampening = dampening;
        Ok(self)
    }

    /// Sets the weight decay (an L2 penalty: `weight_decay * p` is added to the gradient;
    /// default 0).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`weight_decay`) unless it is non-negative and finite.
    pub fn weight_decay(mut self, weight_decay: f64) -> Result<Self, InferError> {
        check_weight_decay(weight_decay)?;
        self.weight_decay = weight_decay;
        Ok(self)
    }
}

common_builders!(Sgd);

impl Optimizer for Sgd {
    fn step(&mut self, name: &str, value: &mut [f64], grad: &[f64]) -> Result<(), InferError> {
        check(name, value, grad, self.state_len(name))?;
        let lr = self.learning_rate();
        let mut g = self.common.clipped(grad);
        if self.weight_decay != 0.0 {
            for (g, p) in g.iter_mut().zip(value.iter()) {
                *g += self.weight_decay * p;
            }
        }
        let momentum = self.momentum;
        if momentum != 0.0 {
            let state = state_of(&mut self.state, name, || SgdState {
                len: value.len(),
                buf: Vec::new(),
            });
            if state.buf.len() == g.len() {
                for (b, g) in state.buf.iter_mut().zip(&mut g) {
                    *b = *b * momentum + (1.0 - self.dampening) * *g;
                    *g = *b;
                }
            } else {
                // The first step with momentum: the buffer is the gradient.
                state.buf.clone_from(&g);
            }
        } else if !self.state.contains_key(name) {
            let state = SgdState {
                len: value.len(),
                buf: Vec::new(),
            };
            self.state.insert(name.to_string(), state);
        }
        for (p, g) in value.iter_mut().zip(&g) {
            *p += -lr * g;
        }
        Ok(())
    }

    common_methods!();
}

/// Adam, as torch's `Adam` (`amsgrad=False`), bias-corrected.
///
/// At a parameter's `k`-th step, with gradient `g` (after clipping, plus `weight_decay * p`):
/// `m = lerp(m, g, 1 - beta1)`, `v = beta2 * v + (1 - beta2) * g²`, and
/// `p -= lr / (1 - beta1^k) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)`.
///
/// ```
/// use pyro_infer::{Adam, Optimizer};
///
/// let mut adam = Adam::new(0.1)?;
/// let mut x = [1.0];
/// adam.step("x", &mut x, &[5.0])?; // the first step moves by about lr against the gradient
/// assert!((x[0] - 0.9).abs() < 1e-8);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    common: Common,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    state: IndexMap<String, AdamState, FxBuildHasher>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct AdamState {
    len: usize,
    /// The number of steps taken.
    step: u64,
    /// The first-moment estimate.
    m: Vec<f64>,
    /// The second-moment estimate.
    v: Vec<f64>,
    /// [`ClippedAdam`]'s learning-rate decay so far, `lrd^step` (1 for [`Adam`]).
    decay: f64,
}

impl AdamState {
    fn new(len: usize) -> Self {
        AdamState {
            len,
            step: 0,
            m: vec![0.0; len],
            v: vec![0.0; len],
            decay: 1.0,
        }
    }
}

fn check_betas(betas: (f64, f64)) -> Result<(), InferError> {
    check_unit("betas", "beta1", betas.0)?;
    check_unit("betas", "beta2", betas.1)
}

impl Adam {
    /// Adam at learning rate `lr`, with betas (0.9, 0.999) and eps 1e-8.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`lr`) unless `lr` is positive and finite.
    pub fn new(lr: f64) -> Result<Self, InferError> {
        Ok(Adam {
            common: Common::new(lr)?,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            state: IndexMap::default(),
        })
    }

    /// Sets the weight decay (an L2 penalty: `weight_decay * p` is added to the gradient;
    /// default 0).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`weight_decay`) unless it is non-negative and finite.
    pub fn weight_decay(mut self, weight_decay: f64) -> Result<Self, InferError> {
        check_weight_decay(weight_decay)?;
        self.weight_decay = weight_decay;
        Ok(self)
    }
}

common_builders!(Adam);
moment_builders!(Adam);

impl Optimizer for Adam {
    fn step(&mut self, name: &str, value: &mut [f64], grad: &[f64]) -> Result<(), InferError> {
        check(name, value, grad, self.state_len(name))?;
        let lr = self.learning_rate();
        let (beta1, beta2) = self.betas;
        let (eps, weight_decay) = (self.eps, self.weight_decay);
        let mut g = self.common.clipped(grad);
        if weight_decay != 0.0 {
            for (g, p) in g.iter_mut().zip(value.iter()) {
                *g += weight_decay * p;
            }
        }
        let state = state_of(&mut self.state, name, || AdamState::new(value.len()));
        state.step += 1;
        let weight = 1.0 - beta1;
        for ((m, v), g) in state.m.iter_mut().zip(&mut state.v).zip(&g) {
            *m = lerp(*m, *g, weight);
            *v = *v * beta2 + (1.0 - beta2) * g * g;
        }
        let bias_correction1 = 1.0 - pow(beta1, state.step);
        let bias_correction2 = 1.0 - pow(beta2, state.step);
        let step_size = lr / bias_correction1;
        let bias_correction2_sqrt = bias_correction2.sqrt();
        for ((p, m), v) in value.iter_mut().zip(&state.m).zip(&state.v) {
            let denom = v.sqrt() / bias_correction2_sqrt + eps;
            *p += -step_size * (m / denom);
        }
        Ok(())
    }

    common_methods!();
}

/// torch's `lerp(start, end, weight)`, as its CPU kernel computes it.
fn lerp(start: f64, end: f64, weight: f64) -> f64 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}

/// Adam with elementwise gradient clipping and learning-rate decay, as Pyro's
/// `pyro.optim.ClippedAdam`.
///
/// At a parameter's `k`-th step, in Pyro's order: its rate is multiplied by `lrd` (so the
/// `k`-th step uses `lr * lrd^k`, times the schedule's factor); each gradient coordinate is
/// clamped to `[-clip_norm, clip_norm]`; `weight_decay * p` is added; then
/// `m = beta1 * m + (1 - beta1) * g`, `v = beta2 * v + (1 - beta2) * g²` and
/// `p -= rate * sqrt(1 - beta2^k) / (1 - beta1^k) * m / (sqrt(v) + eps)` (note `eps` is added
/// before the bias correction, unlike [`Adam`]).
///
/// The decay is per parameter, as in Pyro (which builds one `ClippedAdam` per parameter): a
/// parameter first stepped late starts at `lr * lrd`.
///
/// ```
/// use pyro_infer::{ClippedAdam, Optimizer};
///
/// let mut opt = ClippedAdam::new(0.1)?.clip_norm(1.0)?.lrd(0.5)?;
/// let mut x = [0.0];
/// opt.step("x", &mut x, &[100.0])?; // clipped to 1; the rate is 0.1 * 0.5
/// assert!((x[0] + 0.05).abs() < 1e-6);
/// assert_eq!(opt.lr_for("x"), 0.1 * 0.25);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClippedAdam {
    common: Common,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    clip: f64,
    lrd: f64,
    state: IndexMap<String, AdamState, FxBuildHasher>,
}

impl ClippedAdam {
    /// Pyro's `ClippedAdam` at learning rate `lr`, with its defaults: betas (0.9, 0.999), eps
    /// 1e-8, weight decay 0, clip_norm 10 and lrd 1.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`lr`) unless `lr` is positive and finite.
    pub fn new(lr: f64) -> Result<Self, InferError> {
        Ok(ClippedAdam {
            common: Common::new(lr)?,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            clip: 10.0,
            lrd: 1.0,
            state: IndexMap::default(),
        })
    }

    /// Sets the weight decay (an L2 penalty: `weight_decay * p` is added to the clipped
    /// gradient; default 0).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`weight_decay`) unless it is non-negative and finite.
    pub fn weight_decay(mut self, weight_decay: f64) -> Result<Self, InferError> {
        check_weight_decay(weight_decay)?;
        self.weight_decay = weight_decay;
        Ok(self)
    }

    /// Sets the bound of each gradient coordinate, clamped to `[-clip_norm, clip_norm]`
    /// (Pyro's name; default 10). Elementwise, not a norm of the whole gradient.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`clip_norm`) unless `clip_norm` is positive and finite.
    pub fn clip_norm(mut self, clip_norm: f64) -> Result<Self, InferError> {
        check_positive("clip_norm", "the clipping bound", clip_norm)?;
        self.clip = clip_norm;
        Ok(self)
    }

    /// Sets the learning-rate decay per step of each parameter (default 1: none).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`lrd`) unless `lrd` is in `(0, 1]`.
    pub fn lrd(mut self, lrd: f64) -> Result<Self, InferError> {
        if !(lrd > 0.0 && lrd <= 1.0) {
            return Err(invalid(
                "lrd",
                format!("the learning-rate decay must be in (0, 1], not {lrd}"),
            ));
        }
        self.lrd = lrd;
        Ok(self)
    }

    /// Sets the learning-rate schedule (default [`Schedule::Constant`]); it multiplies the
    /// per-parameter decay.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`schedule`) for a `gamma` that is not positive and
    /// finite, or a `step_size` of 0.
    pub fn schedule(mut self, schedule: Schedule) -> Result<Self, InferError> {
        schedule.validate()?;
        self.common.schedule = schedule;
        Ok(self)
    }

    /// The learning rate the next step of `name` will use: the scheduled rate times
    /// `lrd^(k + 1)` after `k` steps of `name`.
    pub fn lr_for(&self, name: &str) -> f64 {
        let decay = self.state.get(name).map_or(1.0, |s| s.decay);
        self.learning_rate() * (decay * self.lrd)
    }
}

moment_builders!(ClippedAdam);

impl Optimizer for ClippedAdam {
    fn step(&mut self, name: &str, value: &mut [f64], grad: &[f64]) -> Result<(), InferError> {
        check(name, value, grad, self.state_len(name))?;
        let scheduled = self.learning_rate();
        let (beta1, beta2) = self.betas;
        let (eps, weight_decay, clip) = (self.eps, self.weight_decay, self.clip);
        let state = state_of(&mut self.state, name, || AdamState::new(value.len()));
        state.decay *= self.lrd;
        let lr = scheduled * state.decay;
        let mut g: Vec<f64> = grad.iter().map(|g| g.clamp(-clip, clip)).collect();
        state.step += 1;
        if weight_decay != 0.0 {
            for (g, p) in g.iter_mut().zip(value.iter()) {
                *g += weight_decay * p;
            }
        }
        for ((m, v), g) in state.m.iter_mut().zip(&mut state.v).zip(&g) {
            *m = *m * beta1 + (1.0 - beta1) * g;
            *v = *v * beta2 + (1.0 - beta2) * g * g;
        }
        let bias_correction1 = 1.0 - pow(beta1, state.step);
        let bias_correction2 = 1.0 - pow(beta2, state.step);
        let step_size = lr * bias_correction2.sqrt() / bias_correction1;
        for ((p, m), v) in value.iter_mut().zip(&state.m).zip(&state.v) {
            let denom = v.sqrt() + eps;
            *p += -step_size * (m / denom);
        }
        Ok(())
    }

    common_methods!();
}
