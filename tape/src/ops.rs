//! Arithmetic and elementary functions on [`Real`], each recording its partial derivatives.

use crate::Real;
use crate::tape::{record1, record2};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// `f(x)` of value `value`: a constant if `x` is one, else one node with partial `derivative()`
/// (called only then).
#[inline(always)]
#[track_caller]
fn unary(x: Real, value: f64, derivative: impl FnOnce() -> f64) -> Real {
    if x.is_constant() {
        Real::constant(value)
    } else {
        record1(value, x, derivative())
    }
}

/// `f(a, b)` of value `value`: a constant if both are, else one node with the partials
/// `partials()` (called only then; the partial of a constant operand is not read).
#[inline(always)]
#[track_caller]
fn binary(a: Real, b: Real, value: f64, partials: impl FnOnce() -> (f64, f64)) -> Real {
    if a.is_constant() & b.is_constant() {
        Real::constant(value)
    } else {
        let (da, db) = partials();
        record2(value, a, da, b, db)
    }
}

/// The logistic function, computed without overflow: `1 / (1 + e^-x)`.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Add for Real {
    type Output = Real;
    #[inline]
    #[track_caller]
    fn add(self, rhs: Real) -> Real {
        binary(self, rhs, self.value + rhs.value, || (1.0, 1.0))
    }
}

impl Sub for Real {
    type Output = Real;
    #[inline]
    #[track_caller]
    fn sub(self, rhs: Real) -> Real {
        binary(self, rhs, self.value - rhs.value, || (1.0, -1.0))
    }
}

impl Mul for Real {
    type Output = Real;
    #[inline]
    #[track_caller]
    fn mul(self, rhs: Real) -> Real {
        binary(self, rhs, self.value * rhs.value, || {
            (rhs.value, self.value)
        })
    }
}

impl Div for Real {
    type Output = Real;
    #[inline]
    #[track_caller]
    fn div(self, rhs: Real) -> Real {
        let quotient = self.value / rhs.value;
        binary(self, rhs, quotient, || {
            (1.0 / rhs.value, -quotient / rhs.value)
        })
    }
}

impl Neg for Real {
    type Output = Real;
    #[inline]
    #[track_caller]
    fn neg(self) -> Real {
        unary(self, -self.value, || -1.0)
    }
}

/// The operator with an `f64` (or a reference to one) on either side, as a constant, with a
/// borrowed right operand, and its assign forms.
macro_rules! with_f64 {
    ($Op:ident, $op:ident, $OpAssign:ident, $op_assign:ident) => {
        impl $Op<f64> for Real {
            type Output = Real;
            #[inline]
            #[track_caller]
            fn $op(self, rhs: f64) -> Real {
                $Op::$op(self, Real::constant(rhs))
            }
        }

        impl $Op<Real> for f64 {
            type Output = Real;
            #[inline]
            #[track_caller]
            fn $op(self, rhs: Real) -> Real {
                $Op::$op(Real::constant(self), rhs)
            }
        }

        impl $Op<&f64> for Real {
            type Output = Real;
            #[inline]
            #[track_caller]
            fn $op(self, rhs: &f64) -> Real {
                $Op::$op(self, Real::constant(*rhs))
            }
        }

        impl $Op<Real> for &f64 {
            type Output = Real;
            #[inline]
            #[track_caller]
            fn $op(self, rhs: Real) -> Real {
                $Op::$op(Real::constant(*self), rhs)
            }
        }

        impl $Op<&Real> for Real {
            type Output = Real;
            #[inline]
            #[track_caller]
            fn $op(self, rhs: &Real) -> Real {
                $Op::$op(self, *rhs)
            }
        }

        impl $OpAssign for Real {
            #[inline]
            #[track_caller]
            fn $op_assign(&mut self, rhs: Real) {
                *self = $Op::$op(*self, rhs);
            }
        }

        impl $OpAssign<f64> for Real {
            #[inline]
            #[track_caller]
            fn $op_assign(&mut self, rhs: f64) {
                *self = $Op::$op(*self, Real::constant(rhs));
            }
        }
    };
}

with_f64!(Add, add, AddAssign, add_assign);
with_f64!(Sub, sub, SubAssign, sub_assign);
with_f64!(Mul, mul, MulAssign, mul_assign);
with_f64!(Div, div, DivAssign, div_assign);

impl Sum for Real {
    /// The sum, from a constant 0 (one node per tracked term).
    #[track_caller]
    fn sum<I: Iterator<Item = Real>>(iter: I) -> Real {
        iter.fold(Real::constant(0.0), Add::add)
    }
}

impl<'a> Sum<&'a Real> for Real {
    /// The sum, from a constant 0 (one node per tracked term).
    #[track_caller]
    fn sum<I: Iterator<Item = &'a Real>>(iter: I) -> Real {
        iter.copied().sum()
    }
}

impl Real {
    /// `e^x`.
    #[inline]
    #[track_caller]
    pub fn exp(self) -> Real {
        let y = self.value.exp();
        unary(self, y, || y)
    }

    /// The natural logarithm (`-inf` at 0, NaN below).
    #[inline]
    #[track_caller]
    pub fn ln(self) -> Real {
        unary(self, self.value.ln(), || 1.0 / self.value)
    }

    /// `ln(1 + x)`, accurate for small `x`.
    #[inline]
    #[track_caller]
    pub fn ln_1p(self) -> Real {
        unary(self, self.value.ln_1p(), || 1.0 / (1.0 + self.value))
    }

    /// `e^x - 1`, accurate for small `x`.
    #[inline]
    #[track_caller]
    pub fn exp_m1(self) -> Real {
        unary(self, self.value.exp_m1(), || self.value.exp())
    }

    /// The square root (its derivative is `+inf` at 0).
    #[inline]
    #[track_caller]
    pub fn sqrt(self) -> Real {
        let y = self.value.sqrt();
        unary(self, y, || 0.5 / y)
    }

    /// `x^n` for an integer `n`.
    #[inline]
    #[track_caller]
    pub fn powi(self, n: i32) -> Real {
        unary(self, self.value.powi(n), || {
            if n == 0 {
                0.0
            } else {
                f64::from(n) * self.value.powi(n - 1)
            }
        })
    }

    /// `x^e` for a real exponent, a `Real` or an `f64`. The partial with respect to a tracked
    /// exponent is `x^e ln x` (0 where `x^e` is 0, NaN for `x < 0`).
    #[inline]
    #[track_caller]
    pub fn powf(self, exponent: impl Into<Real>) -> Real {
        let exponent: Real = exponent.into();
        let (x, e) = (self.value, exponent.value);
        let y = x.powf(e);
        let dx = || if e == 0.0 { 0.0 } else { e * x.powf(e - 1.0) };
        if exponent.is_constant() {
            unary(self, y, dx)
        } else {
            binary(self, exponent, y, || {
                (dx(), if y == 0.0 { 0.0 } else { y * x.ln() })
            })
        }
    }

    /// The sine.
    #[inline]
    #[track_caller]
    pub fn sin(self) -> Real {
        unary(self, self.value.sin(), || self.value.cos())
    }

    /// The cosine.
    #[inline]
    #[track_caller]
    pub fn cos(self) -> Real {
        unary(self, self.value.cos(), || -self.value.sin())
    }

    /// The hyperbolic tangent. Its derivative `1 - tanh²x` is computed as `4e / (1 + e)²` with
    /// `e = e^(-2|x|)`, accurate where `tanh x` rounds to ±1.
    #[inline]
    #[track_caller]
    pub fn tanh(self) -> Real {
        unary(self, self.value.tanh(), || {
            let e = (-2.0 * self.value.abs()).exp();
            4.0 * e / ((1.0 + e) * (1.0 + e))
        })
    }

    /// The absolute value (derivative: the sign, 0 at 0, as PyTorch).
    #[inline]
    #[track_caller]
    pub fn abs(self) -> Real {
        unary(self, self.value.abs(), || {
            if self.value > 0.0 {
                1.0
            } else if self.value < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
    }

    /// `1 / x`.
    #[inline]
    #[track_caller]
    pub fn recip(self) -> Real {
        let y = self.value.recip();
        unary(self, y, || -y * y)
    }

    /// The logistic sigmoid `1 / (1 + e^-x)`, without overflow. Its derivative
    /// `σ(x) σ(-x)` keeps its relative accuracy in the tails (about `e^-700` at ±700).
    #[inline]
    #[track_caller]
    pub fn logistic(self) -> Real {
        let x = self.value;
        unary(self, sigmoid(x), || sigmoid(x) * sigmoid(-x))
    }

    /// The softplus `ln(1 + e^x)`, computed as `max(x, 0) + ln(1 + e^-|x|)` (no overflow, exact
    /// tails); its derivative is the logistic sigmoid.
    #[inline]
    #[track_caller]
    pub fn softplus(self) -> Real {
        let x = self.value;
        unary(self, x.max(0.0) + (-x.abs()).exp().ln_1p(), || sigmoid(x))
    }

    /// `ln(e^x + e^y)`, without overflow; its partials are `σ(x - y)` and `σ(y - x)`. Two equal
    /// infinities give that infinity (`-inf` for two `-inf`), with partials ½ each.
    #[inline]
    #[track_caller]
    pub fn log_sum_exp(self, other: impl Into<Real>) -> Real {
        let other: Real = other.into();
        let (a, b) = (self.value, other.value);
        // Equal infinities would make a - b NaN.
        let d = if a == b { 0.0 } else { a - b };
        let value = a.max(b) + (-d.abs()).exp().ln_1p();
        binary(self, other, value, || (sigmoid(d), sigmoid(-d)))
    }
}
