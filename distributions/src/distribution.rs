//! The [`Distribution`] trait, the [`Cdf`] trait, the object-safe [`ErasedDistribution`], and
//! [`Partials`], the derivatives a log-density records on the gradient tape.

use crate::constraint::Constraint;
use crate::value::{Element, Value, ValueType};
use pyro_tape::{Parent, Real, Reals, Weights};
use rand::Rng;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt::Debug;

/// The partial derivatives of one log-density with respect to its tracked inputs (its value and
/// parameters that are tape [`Real`]s or [`Reals`], not constants), gathered so that the
/// log-density is recorded on the tape as one node ([`Distribution::log_prob_real`]). A batch
/// gathers all its elements' partials into one `Partials`, and so records one node; a vector
/// input ([`push_vector`](Partials::push_vector)) is one edge of it, whatever its length.
///
/// ```
/// use pyro_distributions::{Distribution, Normal, Partials};
/// use pyro_tape::{Real, Tape};
///
/// let tape = Tape::start()?;
/// let loc = tape.leaf(0.5);
/// let d = Normal::new(loc, 2.0)?;
/// let lp = d.log_prob_real(&Real::from(1.5));
/// // d/dloc log N(1.5 | loc, 2) = (1.5 - loc) / 4.
/// assert_eq!(tape.backward(lp, &[loc])?, vec![0.25]);
///
/// let mut p = Partials::new();
/// p.push(Real::from(3.0), 1.0); // a constant: skipped
/// p.push(loc, 2.0);
/// assert_eq!(p.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Partials<'a> {
    pub(crate) scalars: SmallVec<[(Real, f64); 4]>,
    vectors: SmallVec<[(Cow<'a, Reals>, Vec<f64>); 2]>,
}

impl<'a> Partials<'a> {
    /// No partials yet.
    #[inline]
    pub fn new() -> Self {
        Partials {
            scalars: SmallVec::new(),
            vectors: SmallVec::new(),
        }
    }

    /// Adds `d log p / d input = derivative` when `input` is tracked; a constant is skipped.
    #[inline]
    pub fn push(&mut self, input: Real, derivative: f64) {
        if !input.is_constant() {
            self.scalars.push((input, derivative));
        }
    }

    /// Adds the partials with respect to the elements of a vector input, one per element, when
    /// it is tracked; a constant vector is skipped.
    ///
    /// # Panics
    /// If `derivatives` has not one element per element of `input`.
    pub fn push_vector(&mut self, input: impl Into<Cow<'a, Reals>>, derivatives: Vec<f64>) {
        let input = input.into();
        assert_eq!(
            input.len(),
            derivatives.len(),
            "one partial per element of a vector input"
        );
        if !input.is_constant() {
            self.vectors.push((input, derivatives));
        }
    }

    /// The number of partials kept (tracked inputs, a vector counting as one; one input may
    /// appear more than once, and its partials add up).
    pub fn len(&self) -> usize {
        self.scalars.len() + self.vectors.len()
    }

    /// Whether no tracked input was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The log-density `value` as a [`Real`]: one tape node with these partials, or a constant
    /// when there are none.
    #[inline]
    pub fn record(&self, value: f64) -> Real {
        if self.vectors.is_empty() {
            return Real::record(value, &self.scalars);
        }
        let parents: SmallVec<[(Parent<'_>, Weights<'_>); 6]> = self
            .scalars
            .iter()
            .map(|&(x, dx)| (Parent::Real(x), Weights::All(dx)))
            .chain(
                self.vectors
                    .iter()
                    .map(|(x, dx)| (Parent::Reals(x), Weights::Each(dx))),
            )
            .collect();
        Real::record_parents(value, &parents)
    }
}

/// A probability distribution over typed values.
///
/// `log_prob` is exactly `-inf` outside the [`support`](Distribution::support) (never NaN, never a
/// panic); at the edges of the support it follows the limit of the density from inside.
///
/// ```
/// use pyro_distributions::{Distribution, Normal};
/// use rand::SeedableRng;
///
/// let d = Normal::new(0.0, 2.0)?;
/// let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
/// let x = d.sample(&mut rng);
/// assert!(d.log_prob(&x).is_finite());
/// assert_eq!(d.mean(), Some(0.0));
/// assert_eq!(d.variance(), Some(4.0));
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
pub trait Distribution: Clone + Debug + Send + Sync + 'static {
    /// The type of a draw: `f64`, `i64`, `bool`, or a vector of them.
    type Value: ValueType;
    /// The type of the mean and variance: `f64` for scalar families, `Vec<f64>` for vector ones.
    type Moment: ValueType;

    /// The family name, e.g. `"Normal"`.
    fn family(&self) -> &'static str;

    /// Draws one value.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Value;

    /// The log-density (or log-mass) at `value`; `-inf` outside the support.
    fn log_prob(&self, value: &Self::Value) -> f64;

    /// Whether [`rsample`](Distribution::rsample) gives reparameterised draws (Pyro's
    /// `has_rsample`): `true` exactly where it returns `Some`. The default is `false`.
    fn has_rsample(&self) -> bool {
        false
    }

    /// A reparameterised draw (Pyro's `rsample`): the draw of [`sample`](Distribution::sample)
    /// as a differentiable function of the parameters at fixed noise, so that a gradient flows
    /// from the value to each parameter that is a tracked tape [`Real`], or `None` where the
    /// family cannot be reparameterised ([`has_rsample`](Distribution::has_rsample) is `false`;
    /// the default).
    ///
    /// The contract, which every family that implements it keeps:
    /// - it consumes exactly the random numbers [`sample`](Distribution::sample) consumes and
    ///   returns the same value (the same formula, on the parameters instead of their values),
    ///   so a seeded run draws the same values whether or not a gradient is taken;
    /// - the gradient of the value with respect to each tracked parameter is the derivative of
    ///   the draw at fixed noise: `d(loc + scale z)/dscale = z` for the normal. A gamma draw,
    ///   made by rejection, is differentiated implicitly instead (Figurnov et al. 2018): with
    ///   respect to its shape `a`, `dz/da = -(dF(z; a)/da) / p(z; a)` with `F` the distribution
    ///   function, the derivative of the quantile at the draw's level, which does not depend on
    ///   how the draw was made; the families built on gamma draws (chi-squared, inverse gamma,
    ///   Student's t, beta, Dirichlet) are differentiated through it;
    /// - `None` consumes no random numbers, so that a caller may fall back to `sample`;
    /// - outside a gradient (or where no parameter is tracked) the value is a constant, as that
    ///   of `sample` is.
    ///
    /// ```
    /// use pyro_distributions::{Bernoulli, Distribution, Normal};
    /// use pyro_tape::Tape;
    /// use rand::SeedableRng;
    /// use rand::rngs::Xoshiro256PlusPlus;
    ///
    /// let tape = Tape::start()?;
    /// let (loc, scale) = (tape.leaf(1.0), tape.leaf(2.0));
    /// let d = Normal::new(loc, scale)?;
    /// let x = d.rsample(&mut Xoshiro256PlusPlus::seed_from_u64(7)).expect("reparameterised");
    /// // The same draw as `sample` with the same seed...
    /// let y = d.sample(&mut Xoshiro256PlusPlus::seed_from_u64(7));
    /// assert_eq!(x.value(), y.value());
    /// assert!(y.is_constant() && !x.is_constant());
    /// // ...carrying d/dloc = 1 and d/dscale = the standard normal noise, (x - loc) / scale.
    /// let grad = tape.backward(x, &[loc, scale])?;
    /// assert_eq!(grad[0], 1.0);
    /// assert!((grad[1] - (x.value() - 1.0) / 2.0).abs() < 1e-15);
    ///
    /// // A discrete family cannot be reparameterised.
    /// let b = Bernoulli::new(0.5)?;
    /// assert!(!b.has_rsample());
    /// assert_eq!(b.rsample(&mut Xoshiro256PlusPlus::seed_from_u64(7)), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Self::Value> {
        let _ = rng;
        None
    }

    /// The set of values with positive density.
    fn support(&self) -> Constraint;

    /// The mean, where it exists.
    fn mean(&self) -> Option<Self::Moment>;

    /// The variance (element-wise for vector families), where it exists.
    fn variance(&self) -> Option<Self::Moment>;

    /// The number of independent elements of a batched distribution; `None` for a single draw.
    fn batch_len(&self) -> Option<usize> {
        None
    }

    /// The log-probability of each batch element; one element for an unbatched distribution.
    fn log_prob_elements(&self, value: &Self::Value) -> Vec<f64> {
        vec![self.log_prob(value)]
    }

    /// `sum_i log_prob(values[i])`: the score of iid draws. A family may override it to compute
    /// parameter-only terms once; the result must equal the element-by-element sum up to
    /// rounding.
    fn log_prob_iid(&self, values: &<Self::Value as Element>::Vector) -> f64
    where
        Self::Value: Element,
    {
        (0..<Self::Value as Element>::len(values))
            .map(|i| self.log_prob(&<Self::Value as Element>::get(values, i)))
            .sum()
    }

    /// `sum_i dists[i].log_prob(values[i])`: the score of a batch with per-element parameters
    /// (`values` has one element per distribution). A family may override it to share work
    /// between elements; the result must equal the element-by-element sum up to rounding.
    fn log_prob_batch(dists: &[Self], values: &<Self::Value as Element>::Vector) -> f64
    where
        Self::Value: Element,
    {
        dists
            .iter()
            .enumerate()
            .map(|(i, d)| d.log_prob(&<Self::Value as Element>::get(values, i)))
            .sum()
    }

    /// The partials of [`log_prob_iid`](Distribution::log_prob_iid), pushed onto `partials` as
    /// [`log_prob_partials`](Distribution::log_prob_partials) does; called only where it is
    /// finite. The default pushes each element's. A family may override it to push each
    /// parameter's once, summed, and the value's as one vector.
    fn log_prob_iid_partials<'a>(
        &'a self,
        values: &'a <Self::Value as Element>::Vector,
        partials: &mut Partials<'a>,
    ) where
        Self::Value: Element,
    {
        for i in 0..<Self::Value as Element>::len(values) {
            let x = <Self::Value as Element>::get(values, i);
            element_partials(self, &x, partials);
        }
    }

    /// The partials of [`log_prob_batch`](Distribution::log_prob_batch), as
    /// [`log_prob_iid_partials`](Distribution::log_prob_iid_partials) for iid draws.
    fn log_prob_batch_partials<'a>(
        dists: &'a [Self],
        values: &'a <Self::Value as Element>::Vector,
        partials: &mut Partials<'a>,
    ) where
        Self::Value: Element,
    {
        batch_partials_by_element(dists, values, partials);
    }

    /// Pushes onto `partials` the derivative of [`log_prob`](Distribution::log_prob) at `value`
    /// with respect to each tracked input: the value, if it is a tape [`Real`], and each
    /// parameter that is one. Called only where the log-density is finite. The default pushes
    /// nothing: a family whose inputs are all constants (`f64`, integers) has no gradient.
    fn log_prob_partials<'a>(&'a self, value: &'a Self::Value, partials: &mut Partials<'a>) {
        let _ = (value, partials);
    }

    /// The log-density at `value` as a tape [`Real`]: the value of
    /// [`log_prob`](Distribution::log_prob) (the one formula), recorded as one tape node whose
    /// partials [`log_prob_partials`](Distribution::log_prob_partials) gives, so that a gradient
    /// flows to the tracked value and parameters. A constant when none is tracked, or where the
    /// log-density is not finite (`-inf` outside the support).
    #[inline]
    fn log_prob_real(&self, value: &Self::Value) -> Real {
        record_by_partials(self, value)
    }
}

/// [`Distribution::log_prob_real`] as the trait provides it: `log_prob`, then, where it is
/// finite, one node with the partials of `log_prob_partials`.
#[inline]
pub(crate) fn record_by_partials<D: Distribution>(d: &D, value: &D::Value) -> Real {
    let lp = d.log_prob(value);
    if !lp.is_finite() {
        return Real::constant(lp);
    }
    let mut partials = Partials::new();
    d.log_prob_partials(value, &mut partials);
    partials.record(lp)
}

/// The partials of one element `x` of a batch under `d`, pushed onto `partials` (whose lifetime
/// `x`, a copy, does not have: an element's partials are with respect to scalars only).
fn element_partials<D: Distribution>(d: &D, x: &D::Value, partials: &mut Partials<'_>) {
    let mut one = Partials::new();
    d.log_prob_partials(x, &mut one);
    partials.scalars.extend(one.scalars);
}

/// [`Distribution::log_prob_batch_partials`] element by element: each element's partials.
pub(crate) fn batch_partials_by_element<D: Distribution>(
    dists: &[D],
    values: &<D::Value as Element>::Vector,
    partials: &mut Partials<'_>,
) where
    D::Value: Element,
{
    for (i, d) in dists.iter().enumerate() {
        element_partials(d, &<D::Value as Element>::get(values, i), partials);
    }
}

/// The cumulative distribution function of a univariate continuous family.
pub trait Cdf {
    /// `P(X <= x)`.
    fn cdf(&self, x: f64) -> f64;
}

/// The object-safe, type-erased face of a [`Distribution`]: values go in and out as [`Value`].
///
/// Every [`Distribution`] implements it, so a trace can hold any distribution, including a
/// user-defined one, and re-score it later. A value of the wrong type scores `-inf`.
///
/// ```
/// use pyro_distributions::{Bernoulli, ErasedDistribution, Value};
///
/// let d = Bernoulli::new(0.25)?;
/// assert_eq!(d.log_prob_value(&Value::Bool(true)), 0.25_f64.ln());
/// assert_eq!(d.log_prob_value(&Value::Int(1)), 0.25_f64.ln());
/// assert_eq!(d.log_prob_value(&Value::Real(0.5)), f64::NEG_INFINITY);
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
///
/// A user-defined distribution implements four methods; the others have defaults for a single,
/// unbatched draw without known moments:
///
/// ```
/// use pyro_distributions::{Constraint, ErasedDistribution, Rng, Value};
///
/// /// A fair coin flip scored as a real number.
/// #[derive(Debug)]
/// struct Flip;
///
/// impl ErasedDistribution for Flip {
///     fn family_name(&self) -> &'static str {
///         "Flip"
///     }
///     fn sample_value(&self, rng: &mut dyn Rng) -> Value {
///         Value::Real((rng.next_u32() % 2) as f64)
///     }
///     fn log_prob_value(&self, value: &Value) -> f64 {
///         match value {
///             Value::Real(x) if *x == 0.0 || *x == 1.0 => 0.5_f64.ln(),
///             _ => f64::NEG_INFINITY,
///         }
///     }
///     fn support_set(&self) -> Constraint {
///         Constraint::Dependent
///     }
/// }
///
/// let v = Value::Real(1.0);
/// assert_eq!(Flip.log_prob_elements_value(&v), Some(vec![0.5_f64.ln()]));
/// assert_eq!((Flip.mean_value(), Flip.variance_value(), Flip.batch_size()), (None, None, None));
/// ```
pub trait ErasedDistribution: Debug + Send + Sync {
    /// The family name, e.g. `"Normal"`.
    fn family_name(&self) -> &'static str;
    /// Draws one value.
    fn sample_value(&self, rng: &mut dyn Rng) -> Value;
    /// The log-density at `value`; `-inf` for a value of the wrong type or outside the support.
    fn log_prob_value(&self, value: &Value) -> f64;
    /// The log-probability of each batch element; `None` for a value of the wrong type. Defaults
    /// to one element, the whole log-density (a distribution that is not batched).
    fn log_prob_elements_value(&self, value: &Value) -> Option<Vec<f64>> {
        Some(vec![self.log_prob_value(value)])
    }
    /// The set of values with positive density.
    fn support_set(&self) -> Constraint;
    /// The mean, where it exists. Defaults to `None`.
    fn mean_value(&self) -> Option<Value> {
        None
    }
    /// The variance, where it exists. Defaults to `None`.
    fn variance_value(&self) -> Option<Value> {
        None
    }
    /// The number of batch elements; `None` for a single draw (the default).
    fn batch_size(&self) -> Option<usize> {
        None
    }
    /// The log-density at `value` as a tape [`Real`], where the site's value is also held as the
    /// tape `Real`s `tracked` (empty when it is data; see [`ValueType::take_tracked`]). Defaults
    /// to the constant [`log_prob_value`](ErasedDistribution::log_prob_value): no gradient
    /// flows through a distribution that does not say how.
    fn log_prob_real_value(&self, value: &Value, tracked: &[Real]) -> Real {
        let _ = tracked;
        Real::constant(self.log_prob_value(value))
    }
    /// Whether [`rsample_value`](ErasedDistribution::rsample_value) gives reparameterised
    /// draws ([`Distribution::has_rsample`]). Defaults to `false`.
    fn can_rsample(&self) -> bool {
        false
    }
    /// A reparameterised draw ([`Distribution::rsample`]): the value, and the same value as the
    /// tape [`Real`]s that carry its gradient, one per element, in the form
    /// [`ValueType::take_tracked`] reads back ([`ValueType::tracked_reals`]: empty where no
    /// element is tracked, as a site's are outside a gradient). `None`, having drawn nothing,
    /// where the distribution cannot be reparameterised (the default).
    fn rsample_value(&self, rng: &mut dyn Rng) -> Option<(Value, SmallVec<[Real; 1]>)> {
        let _ = rng;
        None
    }
}

impl<D: Distribution> ErasedDistribution for D {
    fn family_name(&self) -> &'static str {
        self.family()
    }
    fn sample_value(&self, rng: &mut dyn Rng) -> Value {
        self.sample(rng).into_value()
    }
    fn log_prob_value(&self, value: &Value) -> f64 {
        D::Value::view(value).map_or(f64::NEG_INFINITY, |v| self.log_prob(&v))
    }
    fn log_prob_elements_value(&self, value: &Value) -> Option<Vec<f64>> {
        D::Value::view(value).map(|v| self.log_prob_elements(&v))
    }
    fn support_set(&self) -> Constraint {
        self.support()
    }
    fn mean_value(&self) -> Option<Value> {
        self.mean().map(ValueType::into_value)
    }
    fn variance_value(&self) -> Option<Value> {
        self.variance().map(ValueType::into_value)
    }
    fn batch_size(&self) -> Option<usize> {
        self.batch_len()
    }
    fn can_rsample(&self) -> bool {
        self.has_rsample()
    }
    fn rsample_value(&self, rng: &mut dyn Rng) -> Option<(Value, SmallVec<[Real; 1]>)> {
        self.rsample(rng).map(|x| {
            let tracked = x.tracked_reals();
            (x.into_value(), tracked)
        })
    }
    fn log_prob_real_value(&self, value: &Value, tracked: &[Real]) -> Real {
        if tracked.is_empty() {
            return D::Value::view(value).map_or(Real::constant(f64::NEG_INFINITY), |v| {
                self.log_prob_real(&v)
            });
        }
        D::Value::take_tracked(value.clone(), tracked)
            .map_or(Real::constant(f64::NEG_INFINITY), |v| {
                self.log_prob_real(&v)
            })
    }
}

/// What the primitives accept as a distribution: a distribution, or a constructor's `Result`, so
/// that an invalid parameter is reported with the name of the site it was meant for.
///
/// ```
/// use pyro_distributions::{IntoDistribution, Normal};
///
/// assert!(Normal::new(0.0, 1.0).into_distribution().is_ok());
/// assert!(Normal::new(0.0, 1.0).unwrap().into_distribution().is_ok());
/// assert!(Normal::new(0.0, -1.0).into_distribution().is_err());
/// ```
pub trait IntoDistribution {
    /// The distribution.
    type Dist: Distribution;

    /// The distribution, or the constructor's error.
    fn into_distribution(self) -> Result<Self::Dist, crate::ParamError>;
}

impl<D: Distribution> IntoDistribution for D {
    type Dist = D;

    fn into_distribution(self) -> Result<D, crate::ParamError> {
        Ok(self)
    }
}

impl<D: Distribution> IntoDistribution for Result<D, crate::ParamError> {
    type Dist = D;

    fn into_distribution(self) -> Result<D, crate::ParamError> {
        self
    }
}
