//! Constraints: the support of a distribution, and later the domain of a parameter.

use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Relative tolerance on the sum of a simplex vector (the one torch uses).
pub const SIMPLEX_TOLERANCE: f64 = 1e-6;

/// A set of values: the support of a distribution.
///
/// Interval bounds are inclusive unless the variant says otherwise; the density at an inclusive
/// bound is the limit of the density from inside.
///
/// ```
/// use pyro_distributions::{Constraint, Value};
///
/// assert!(Constraint::Positive.contains(&Value::Real(0.5)));
/// assert!(!Constraint::Positive.contains(&Value::Real(0.0)));
/// assert!(Constraint::Simplex.contains(&Value::Reals(vec![0.25, 0.75])));
/// assert!(!Constraint::NonNegativeInteger.contains(&Value::Real(1.5)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Constraint {
    /// Any finite real number.
    Real,
    /// Reals `> 0`.
    Positive,
    /// Reals `>= 0`.
    NonNegative,
    /// Reals in `[0, 1]`.
    UnitInterval,
    /// Reals in `[lower, upper]`.
    Interval {
        /// Lower bound, inclusive.
        lower: f64,
        /// Upper bound, inclusive.
        upper: f64,
    },
    /// Reals `> lower`.
    GreaterThan(f64),
    /// Reals `>= lower`.
    GreaterThanEq(f64),
    /// `false` or `true` (also `0` or `1`).
    Boolean,
    /// Integers `>= 0`.
    NonNegativeInteger,
    /// Integers in `[lower, upper]`.
    IntegerInterval {
        /// Lower bound, inclusive.
        lower: i64,
        /// Upper bound, inclusive.
        upper: i64,
    },
    /// Vectors of non-negative reals summing to one (within [`SIMPLEX_TOLERANCE`]).
    Simplex,
    /// Vectors of finite reals.
    RealVector,
    /// Every element satisfies the inner constraint (the support of a batched site).
    Elementwise(ScalarSupport),
    /// The support differs between the elements of a batch; it cannot be checked from the
    /// constraint alone, so [`contains`](Constraint::contains) accepts every value. `log_prob`
    /// still scores each element against its own support.
    Dependent,
}

/// The scalar part of [`Constraint`], kept `Copy` so that [`Constraint::Elementwise`] needs no box.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum ScalarSupport {
    /// See [`Constraint::Real`].
    Real,
    /// See [`Constraint::Positive`].
    Positive,
    /// See [`Constraint::NonNegative`].
    NonNegative,
    /// See [`Constraint::UnitInterval`].
    UnitInterval,
    /// See [`Constraint::Interval`].
    Interval {
        /// Lower bound, inclusive.
        lower: f64,
        /// Upper bound, inclusive.
        upper: f64,
    },
    /// See [`Constraint::GreaterThan`].
    GreaterThan(f64),
    /// See [`Constraint::GreaterThanEq`].
    GreaterThanEq(f64),
    /// See [`Constraint::Boolean`].
    Boolean,
    /// See [`Constraint::NonNegativeInteger`].
    NonNegativeInteger,
    /// See [`Constraint::IntegerInterval`].
    IntegerInterval {
        /// Lower bound, inclusive.
        lower: i64,
        /// Upper bound, inclusive.
        upper: i64,
    },
}

impl ScalarSupport {
    /// The same set as a [`Constraint`].
    pub fn to_constraint(self) -> Constraint {
        match self {
            ScalarSupport::Real => Constraint::Real,
            ScalarSupport::Positive => Constraint::Positive,
            ScalarSupport::NonNegative => Constraint::NonNegative,
            ScalarSupport::UnitInterval => Constraint::UnitInterval,
            ScalarSupport::Interval { lower, upper } => Constraint::Interval { lower, upper },
            ScalarSupport::GreaterThan(a) => Constraint::GreaterThan(a),
            ScalarSupport::GreaterThanEq(a) => Constraint::GreaterThanEq(a),
            ScalarSupport::Boolean => Constraint::Boolean,
            ScalarSupport::NonNegativeInteger => Constraint::NonNegativeInteger,
            ScalarSupport::IntegerInterval { lower, upper } => {
                Constraint::IntegerInterval { lower, upper }
            }
        }
    }

    /// Whether the real number `x` lies in the set (integers and booleans must be integral).
    pub fn contains_real(self, x: f64) -> bool {
        self.to_constraint().contains_real(x)
    }
}

impl Constraint {
    /// The scalar form of this constraint, or `None` for vector constraints.
    pub fn scalar(self) -> Option<ScalarSupport> {
        Some(match self {
            Constraint::Real => ScalarSupport::Real,
            Constraint::Positive => ScalarSupport::Positive,
            Constraint::NonNegative => ScalarSupport::NonNegative,
            Constraint::UnitInterval => ScalarSupport::UnitInterval,
            Constraint::Interval { lower, upper } => ScalarSupport::Interval { lower, upper },
            Constraint::GreaterThan(a) => ScalarSupport::GreaterThan(a),
            Constraint::GreaterThanEq(a) => ScalarSupport::GreaterThanEq(a),
            Constraint::Boolean => ScalarSupport::Boolean,
            Constraint::NonNegativeInteger => ScalarSupport::NonNegativeInteger,
            Constraint::IntegerInterval { lower, upper } => {
                ScalarSupport::IntegerInterval { lower, upper }
            }
            Constraint::Simplex
            | Constraint::RealVector
            | Constraint::Elementwise(_)
            | Constraint::Dependent => return None,
        })
    }

    /// Whether the real number `x` lies in a scalar set; always false for vector constraints.
    pub fn contains_real(self, x: f64) -> bool {
        let integral = x.fract() == 0.0;
        match self {
            Constraint::Real => x.is_finite(),
            Constraint::Positive => x > 0.0 && x.is_finite(),
            Constraint::NonNegative => x >= 0.0 && x.is_finite(),
            Constraint::UnitInterval => (0.0..=1.0).contains(&x),
            Constraint::Interval { lower, upper } => (lower..=upper).contains(&x),
            Constraint::GreaterThan(a) => x > a && x.is_finite(),
            Constraint::GreaterThanEq(a) => x >= a && x.is_finite(),
            Constraint::Boolean => x == 0.0 || x == 1.0,
            Constraint::NonNegativeInteger => integral && x >= 0.0,
            Constraint::IntegerInterval { lower, upper } => {
                integral && (lower as f64..=upper as f64).contains(&x)
            }
            Constraint::Dependent => true,
            Constraint::Simplex | Constraint::RealVector | Constraint::Elementwise(_) => false,
        }
    }

    /// Whether `value` lies in the set. A value of the wrong shape is not in the set.
    pub fn contains(self, value: &Value) -> bool {
        match (self, value) {
            (Constraint::Dependent, _) => true,
            (Constraint::Simplex, Value::Reals(v)) => is_simplex(v),
            (Constraint::RealVector, Value::Reals(v)) => v.iter().all(|x| x.is_finite()),
            (Constraint::RealVector, Value::Ints(_)) => true,
            (Constraint::Elementwise(inner), Value::Reals(v)) => {
                v.iter().all(|&x| inner.contains_real(x))
            }
            (Constraint::Elementwise(inner), Value::Ints(v)) => {
                v.iter().all(|&k| inner.contains_real(k as f64))
            }
            (Constraint::Elementwise(inner), Value::Bools(v)) => v
                .iter()
                .all(|&b| inner.contains_real(f64::from(u8::from(b)))),
            (_, Value::Real(x)) => self.contains_real(*x),
            (_, Value::Int(k)) => self.contains_real(*k as f64),
            (Constraint::Boolean, Value::Bool(_)) => true,
            (_, Value::Bool(b)) => self.contains_real(f64::from(u8::from(*b))),
            _ => false,
        }
    }
}

/// Whether `v` is a non-empty vector of non-negative reals summing to one.
pub(crate) fn is_simplex(v: &[f64]) -> bool {
    is_simplex_iter(v.iter().copied())
}

/// [`is_simplex`] of the elements of `v` (e.g. the values of a `Reals`), summed in order.
pub(crate) fn is_simplex_iter(v: impl Iterator<Item = f64>) -> bool {
    let (mut sum, mut empty) = (0.0, true);
    for x in v {
        if !(0.0..=1.0).contains(&x) {
            return false;
        }
        sum += x;
        empty = false;
    }
    !empty && (sum - 1.0).abs() <= SIMPLEX_TOLERANCE
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Real => write!(f, "real"),
            Constraint::Positive => write!(f, "positive"),
            Constraint::NonNegative => write!(f, "non-negative"),
            Constraint::UnitInterval => write!(f, "unit interval [0, 1]"),
            Constraint::Interval { lower, upper } => write!(f, "interval [{lower}, {upper}]"),
            Constraint::GreaterThan(a) => write!(f, "greater than {a}"),
            Constraint::GreaterThanEq(a) => write!(f, "greater than or equal to {a}"),
            Constraint::Boolean => write!(f, "boolean"),
            Constraint::NonNegativeInteger => write!(f, "non-negative integer"),
            Constraint::IntegerInterval { lower, upper } => {
                write!(f, "integer interval [{lower}, {upper}]")
            }
            Constraint::Simplex => write!(f, "simplex"),
            Constraint::RealVector => write!(f, "real vector"),
            Constraint::Elementwise(inner) => write!(f, "each element {}", inner.to_constraint()),
            Constraint::Dependent => write!(f, "dependent on the element"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_sets() {
        assert!(Constraint::Real.contains(&Value::Real(-3.0)));
        assert!(!Constraint::Real.contains(&Value::Real(f64::INFINITY)));
        assert!(!Constraint::Real.contains(&Value::Real(f64::NAN)));
        assert!(Constraint::NonNegative.contains(&Value::Real(0.0)));
        assert!(Constraint::UnitInterval.contains(&Value::Real(1.0)));
        assert!(!Constraint::UnitInterval.contains(&Value::Real(1.0 + 1e-12)));
        assert!(Constraint::NonNegativeInteger.contains(&Value::Int(0)));
        assert!(!Constraint::NonNegativeInteger.contains(&Value::Int(-1)));
        let iv = Constraint::IntegerInterval { lower: 0, upper: 2 };
        assert!(iv.contains(&Value::Int(2)) && !iv.contains(&Value::Int(3)));
        assert!(Constraint::Boolean.contains(&Value::Bool(true)));
        assert!(Constraint::Boolean.contains(&Value::Int(1)));
        assert!(!Constraint::Boolean.contains(&Value::Int(2)));
        assert!(!Constraint::Real.contains(&Value::Reals(vec![1.0])));
    }

    #[test]
    fn vector_sets() {
        assert!(!Constraint::Simplex.contains(&Value::Reals(vec![0.5, 0.6])));
        assert!(!Constraint::Simplex.contains(&Value::Reals(vec![-0.5, 1.5])));
        assert!(!Constraint::Simplex.contains(&Value::Reals(vec![])));
        let pos = Constraint::Elementwise(ScalarSupport::Positive);
        assert!(pos.contains(&Value::Reals(vec![1.0, 2.0])));
        assert!(!pos.contains(&Value::Reals(vec![1.0, 0.0])));
        assert!(!pos.contains(&Value::Real(1.0)));
    }
}
