//! The [`Real`] scalar: conversions, formatting, comparisons and the record API.

use crate::tape::{self, CONSTANT};
use std::cmp::Ordering;
use std::fmt;

/// A scalar a gradient can flow through: an `f64` value and, while a gradient is being taken, a
/// slot on this thread's tape (a 64-bit node id, unique across gradients and threads).
///
/// A constant (made by [`Real::constant`] or `From<f64>`, or computed from constants only) has no
/// slot: arithmetic on constants is `f64` arithmetic behind one branch, and touches no tape. An
/// operation with a tracked operand records one node with its partial derivatives; see the crate
/// documentation. Comparisons and formatting use the value only.
///
/// ```
/// use pyro_tape::Real;
///
/// let x = Real::from(2.0);
/// let y = 1.0 + 3.0 * x - x.powi(2);
/// assert_eq!(y.value(), 3.0);
/// assert!(y.is_constant());
/// assert!(y > 2.5 && y == 3.0);
/// assert_eq!(format!("{y} {y:?} {:.2}", y), "3 3.0 3.00");
/// ```
#[derive(Clone, Copy)]
pub struct Real {
    pub(crate) value: f64,
    /// The node's id, or [`CONSTANT`].
    pub(crate) id: u64,
}

impl Real {
    /// A constant: gradients do not flow through it.
    #[inline]
    pub const fn constant(value: f64) -> Real {
        Real {
            value,
            id: CONSTANT,
        }
    }

    /// The value.
    #[inline]
    pub const fn value(self) -> f64 {
        self.value
    }

    /// Whether the value is finite (neither infinite nor NaN).
    #[inline]
    pub const fn is_finite(self) -> bool {
        self.value.is_finite()
    }

    /// Whether the value is NaN.
    #[inline]
    pub const fn is_nan(self) -> bool {
        self.value.is_nan()
    }

    /// Whether this is a constant (no gradient flows through it). A caller computing its own
    /// partials may skip those of constant arguments.
    #[inline]
    pub const fn is_constant(self) -> bool {
        self.id == CONSTANT
    }

    /// Whether `self` and `other` are the same `Real`: equal values, and the same tape slot (or
    /// both constants). Two tracked `Real`s of equal value computed apart are not identical: a
    /// gradient tells them apart.
    #[inline]
    pub fn is_identical(self, other: Real) -> bool {
        self.id == other.id && self.value.to_bits() == other.value.to_bits()
    }

    /// A `Real` of value `value` whose partial derivative with respect to each of `parents` is
    /// given with it: one node on the tape, whatever the number of parents. This is how a caller
    /// that computes its own partials (a distribution's log-density with respect to its value and
    /// parameters, a whole batch of them at once) records them, as Stan's precomputed gradients
    /// do. Constant parents are skipped (their partials are not read); if all parents are
    /// constants the result is a constant.
    ///
    /// ```
    /// use pyro_tape::{Real, TapeError, gradient};
    ///
    /// // The log-density of Normal(mu, sigma) at a constant y, recorded as one node.
    /// fn normal_lp(y: f64, mu: Real, sigma: Real) -> Real {
    ///     let z = (y - mu.value()) / sigma.value();
    ///     let lp = -0.5 * z * z - sigma.value().ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
    ///     Real::record(lp, &[(mu, z / sigma.value()), (sigma, (z * z - 1.0) / sigma.value())])
    /// }
    /// let (_, grad) = gradient(&[0.5, 2.0], |p| Ok::<_, TapeError>(normal_lp(1.5, p[0], p[1])))?;
    /// assert_eq!(grad, vec![0.25, -0.375]);
    /// # Ok::<(), TapeError>(())
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn record(value: f64, parents: &[(Real, f64)]) -> Real {
        // Up to three parents, of which at most two not constants, go in registers to the one-
        // and two-parent paths (the length of a slice written out is known where this inlines).
        match *parents {
            [] => Real::constant(value),
            [(x, _)] if x.is_constant() => Real::constant(value),
            [(x, dx)] => tape::record1(value, x, dx),
            [a, b] => record_pair(value, a, b),
            [(a, _), b, c] if a.is_constant() => record_pair(value, b, c),
            [a, (b, _), c] if b.is_constant() => record_pair(value, a, c),
            [a, b, (c, _)] if c.is_constant() => record_pair(value, a, b),
            _ => tape::record(value, parents),
        }
    }
}

/// [`Real::record`] with two parents.
#[inline(always)]
#[track_caller]
fn record_pair(value: f64, (a, da): (Real, f64), (b, db): (Real, f64)) -> Real {
    if a.is_constant() & b.is_constant() {
        Real::constant(value)
    } else {
        tape::record2(value, a, da, b, db)
    }
}

impl From<f64> for Real {
    #[inline]
    fn from(value: f64) -> Real {
        Real::constant(value)
    }
}

impl From<&f64> for Real {
    /// A constant.
    #[inline]
    fn from(value: &f64) -> Real {
        Real::constant(*value)
    }
}

impl From<&Real> for Real {
    /// The same `Real`.
    #[inline]
    fn from(x: &Real) -> Real {
        *x
    }
}

impl From<Real> for f64 {
    /// The value (the tape slot is dropped).
    #[inline]
    fn from(x: Real) -> f64 {
        x.value
    }
}

impl Default for Real {
    /// The constant 0.
    fn default() -> Real {
        Real::constant(0.0)
    }
}

impl fmt::Debug for Real {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl fmt::Display for Real {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl PartialEq for Real {
    #[inline]
    fn eq(&self, other: &Real) -> bool {
        self.value == other.value
    }
}

impl PartialEq<f64> for Real {
    #[inline]
    fn eq(&self, other: &f64) -> bool {
        self.value == *other
    }
}

impl PartialEq<Real> for f64 {
    #[inline]
    fn eq(&self, other: &Real) -> bool {
        *self == other.value
    }
}

impl PartialOrd for Real {
    #[inline]
    fn partial_cmp(&self, other: &Real) -> Option<Ordering> {
        self.value.partial_cmp(&other.value)
    }
}

impl PartialOrd<f64> for Real {
    #[inline]
    fn partial_cmp(&self, other: &f64) -> Option<Ordering> {
        self.value.partial_cmp(other)
    }
}

impl PartialOrd<Real> for f64 {
    #[inline]
    fn partial_cmp(&self, other: &Real) -> Option<Ordering> {
        self.partial_cmp(&other.value)
    }
}
