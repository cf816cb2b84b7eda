//! [`AnyDistribution`]: the type-erased distribution a trace stores.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, ErasedDistribution};
use crate::families::*;
use crate::value::{Value, ValueType};
use pyro_tape::Real;
use rand::Rng;
use smallvec::SmallVec;
use std::sync::Arc;

/// Declares [`AnyDistribution`] with one variant per built-in family, its `From` impls and the
/// dispatch to each family's [`Distribution`] impl. Adding a family means adding its name here.
macro_rules! any_distribution {
    ($($family:ident),* $(,)?) => {
        /// Any distribution, type-erased so that a trace can store it and score it again later.
        ///
        /// Built-in families are stored inline (no allocation, static dispatch); batched and
        /// user-defined distributions are stored behind an [`Arc`] ([`AnyDistribution::custom`]).
        /// Values go in and out as [`Value`]; a value of the wrong type scores `-inf`.
        ///
        /// ```
        /// use pyro_distributions::{AnyDistribution, Normal, Value};
        /// use rand::SeedableRng;
        ///
        /// let d: AnyDistribution = Normal::new(0.0, 1.0)?.into();
        /// let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7);
        /// let x = d.sample(&mut rng);
        /// assert!(matches!(x, Value::Real(_)));
        /// assert_eq!(d.family(), "Normal");
        /// let lp = d.log_prob(&Value::Real(0.0));
        /// assert!((lp + 0.5 * (2.0 * std::f64::consts::PI).ln()).abs() < 1e-15);
        /// assert_eq!(d.log_prob(&Value::Bools(vec![true])), f64::NEG_INFINITY);
        /// # Ok::<(), pyro_distributions::ParamError>(())
        /// ```
        #[derive(Clone, Debug)]
        pub enum AnyDistribution {
            $(
                #[doc = concat!("A [`", stringify!($family), "`].")]
                $family($family),
            )*
            /// A batched or user-defined distribution.
            Custom(Arc<dyn ErasedDistribution>),
        }

        $(
            impl From<$family> for AnyDistribution {
                fn from(d: $family) -> Self {
                    AnyDistribution::$family(d)
                }
            }
        )*

        impl AnyDistribution {
            /// Draws one value.
            pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Value {
                match self {
                    $(AnyDistribution::$family(d) => d.sample(rng).into_value(),)*
                    AnyDistribution::Custom(d) => {
                        let mut rng = rng;
                        d.sample_value(&mut rng)
                    }
                }
            }

            /// A reparameterised draw ([`Distribution::rsample`]): the value and, where a
            /// parameter is tracked on the tape, the value's tape [`Real`]s, one per element
            /// (see [`ErasedDistribution::rsample_value`]); `None`, having drawn nothing, where
            /// the family cannot be reparameterised.
            ///
            /// ```
            /// use pyro_distributions::{AnyDistribution, Bernoulli, Normal, Value};
            /// use pyro_tape::Tape;
            /// use rand::SeedableRng;
            ///
            /// let tape = Tape::start()?;
            /// let loc = tape.leaf(0.5);
            /// let d: AnyDistribution = Normal::new(loc, 1.0)?.into();
            /// let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7);
            /// let (value, tracked) = d.rsample(&mut rng).expect("Normal is reparameterised");
            /// assert_eq!(Value::Real(tracked[0].value()), value);
            /// assert_eq!(tape.backward(tracked[0], &[loc])?, vec![1.0]);
            /// let b: AnyDistribution = Bernoulli::new(0.5)?.into();
            /// assert!(!b.has_rsample() && b.rsample(&mut rng).is_none());
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn rsample<R: Rng + ?Sized>(
                &self,
                rng: &mut R,
            ) -> Option<(Value, SmallVec<[Real; 1]>)> {
                match self {
                    $(AnyDistribution::$family(d) => d.rsample(rng).map(|x| {
                        let tracked = x.tracked_reals();
                        (x.into_value(), tracked)
                    }),)*
                    AnyDistribution::Custom(d) => {
                        let mut rng = rng;
                        d.rsample_value(&mut rng)
                    }
                }
            }

            /// The inner distribution as a trait object.
            pub fn as_erased(&self) -> &dyn ErasedDistribution {
                match self {
                    $(AnyDistribution::$family(d) => d,)*
                    AnyDistribution::Custom(d) => d.as_ref(),
                }
            }

            /// The log-density at `value`; `-inf` for a value of the wrong type or outside the
            /// support.
            #[inline]
            pub fn log_prob(&self, value: &Value) -> f64 {
                match self {
                    $(AnyDistribution::$family(d) => d.log_prob_value(value),)*
                    AnyDistribution::Custom(d) => d.log_prob_value(value),
                }
            }
        }
    };
}

any_distribution!(
    Normal,
    Bernoulli,
    LogNormal,
    HalfNormal,
    HalfCauchy,
    Cauchy,
    StudentT,
    Laplace,
    Gumbel,
    Uniform,
    Exponential,
    Delta,
    Gamma,
    InverseGamma,
    Beta,
    Chi2,
    Weibull,
    Pareto,
    VonMises,
    Poisson,
    Binomial,
    Geometric,
    NegativeBinomial,
    BetaBinomial,
    Categorical,
    Dirichlet,
    MultivariateNormal,
);

impl AnyDistribution {
    /// Wraps a batched or user-defined distribution.
    ///
    /// ```
    /// use pyro_distributions::{AnyDistribution, Batched, Normal, Value};
    ///
    /// let d = AnyDistribution::custom(Batched::iid(Normal::new(0.0, 1.0)?, 2)?);
    /// assert_eq!(d.batch_len(), Some(2));
    /// assert!(d.log_prob(&Value::Reals(vec![0.0, 1.0])).is_finite());
    /// # Ok::<(), pyro_distributions::ParamError>(())
    /// ```
    pub fn custom<D: Distribution>(dist: D) -> Self {
        AnyDistribution::Custom(Arc::new(dist))
    }

    /// The family name, e.g. `"Normal"` or `"Batched"`.
    pub fn family(&self) -> &'static str {
        self.as_erased().family_name()
    }

    /// Whether [`rsample`](AnyDistribution::rsample) gives reparameterised draws
    /// ([`Distribution::has_rsample`]).
    pub fn has_rsample(&self) -> bool {
        self.as_erased().can_rsample()
    }

    /// The log-density at `value` as a tape [`Real`](pyro_tape::Real), where the value is also
    /// held as the tape `Real`s `tracked` (empty when it is data): see
    /// [`ErasedDistribution::log_prob_real_value`].
    pub fn log_prob_real(&self, value: &Value, tracked: &[pyro_tape::Real]) -> pyro_tape::Real {
        self.as_erased().log_prob_real_value(value, tracked)
    }

    /// The log-probability of each batch element; `None` for a value of the wrong type.
    pub fn log_prob_elements(&self, value: &Value) -> Option<Vec<f64>> {
        self.as_erased().log_prob_elements_value(value)
    }

    /// The set of values with positive density.
    pub fn support(&self) -> Constraint {
        self.as_erased().support_set()
    }

    /// The mean, where it exists.
    pub fn mean(&self) -> Option<Value> {
        self.as_erased().mean_value()
    }

    /// The variance, where it exists.
    pub fn variance(&self) -> Option<Value> {
        self.as_erased().variance_value()
    }

    /// The number of batch elements; `None` for a single draw.
    pub fn batch_len(&self) -> Option<usize> {
        self.as_erased().batch_size()
    }
}

impl<D> From<crate::batched::Batched<D>> for AnyDistribution
where
    crate::batched::Batched<D>: Distribution,
{
    fn from(d: crate::batched::Batched<D>) -> Self {
        AnyDistribution::custom(d)
    }
}
