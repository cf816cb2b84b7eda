//! Bijections between each continuous [`Constraint`] and unconstrained reals (Pyro's
//! `biject_to`), used by the parameter store and, later, by gradient-based inference.

use crate::constraint::{Constraint, ScalarSupport};
use crate::value::Value;

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn logit(p: f64) -> f64 {
    p.ln() - (-p).ln_1p()
}

impl ScalarSupport {
    /// Maps an unconstrained real into the set, or `None` for discrete sets.
    fn to_constrained_real(self, u: f64) -> Option<f64> {
        Some(match self {
            ScalarSupport::Real => u,
            ScalarSupport::Positive | ScalarSupport::NonNegative => u.exp(),
            ScalarSupport::GreaterThan(a) | ScalarSupport::GreaterThanEq(a) => a + u.exp(),
            ScalarSupport::UnitInterval => sigmoid(u),
            ScalarSupport::Interval { lower, upper } => lower + (upper - lower) * sigmoid(u),
            ScalarSupport::Boolean
            | ScalarSupport::NonNegativeInteger
            | ScalarSupport::IntegerInterval { .. } => return None,
        })
    }

    /// Maps a point of the set to unconstrained reals, or `None` outside the set or for discrete
    /// sets. Boundary points of closed sets map to infinities.
    fn to_unconstrained_real(self, x: f64) -> Option<f64> {
        if !self.contains_real(x) {
            return None;
        }
        Some(match self {
            ScalarSupport::Real => x,
            ScalarSupport::Positive | ScalarSupport::NonNegative => x.ln(),
            ScalarSupport::GreaterThan(a) | ScalarSupport::GreaterThanEq(a) => (x - a).ln(),
            ScalarSupport::UnitInterval => logit(x),
            ScalarSupport::Interval { lower, upper } => logit((x - lower) / (upper - lower)),
            ScalarSupport::Boolean
            | ScalarSupport::NonNegativeInteger
            | ScalarSupport::IntegerInterval { .. } => return None,
        })
    }
}

impl Constraint {
    /// Maps an unconstrained value into this set (Pyro's `biject_to(constraint)(u)`).
    ///
    /// Scalar sets take a real; `RealVector` and `Elementwise` sets take a vector of the same
    /// length; `Simplex` takes `K - 1` reals and gives `K` (stick-breaking). `None` for discrete
    /// sets and for a value of the wrong kind.
    ///
    /// ```
    /// use pyro_distributions::{Constraint, Value};
    ///
    /// let x = Constraint::Positive.to_constrained(&Value::Real(0.0)).unwrap();
    /// assert_eq!(x, Value::Real(1.0));
    /// // Zero maps to the centre of the simplex.
    /// let s = Constraint::Simplex.to_constrained(&Value::Reals(vec![0.0, 0.0])).unwrap();
    /// let Value::Reals(s) = s else { unreachable!() };
    /// assert!(s.iter().all(|x| (x - 1.0 / 3.0).abs() < 1e-15));
    /// ```
    pub fn to_constrained(&self, u: &Value) -> Option<Value> {
        match (self, u) {
            (Constraint::Simplex, Value::Reals(u)) => Some(Value::Reals(stick_breaking(u))),
            (Constraint::RealVector, Value::Reals(u)) => Some(Value::Reals(u.clone())),
            (Constraint::Elementwise(s), Value::Reals(u)) => u
                .iter()
                .map(|&x| s.to_constrained_real(x))
                .collect::<Option<Vec<_>>>()
                .map(Value::Reals),
            (c, Value::Real(x)) => c.scalar()?.to_constrained_real(*x).map(Value::Real),
            _ => None,
        }
    }

    /// The inverse of [`to_constrained`](Constraint::to_constrained); `None` for a value outside
    /// the set, of the wrong kind, or in a discrete set.
    ///
    /// ```
    /// use pyro_distributions::{Constraint, Value};
    ///
    /// let c = Constraint::Interval { lower: -1.0, upper: 3.0 };
    /// let u = c.to_unconstrained(&Value::Real(1.0)).unwrap();
    /// assert_eq!(u, Value::Real(0.0));
    /// assert_eq!(c.to_constrained(&u), Some(Value::Real(1.0)));
    /// assert_eq!(c.to_unconstrained(&Value::Real(5.0)), None);
    /// ```
    pub fn to_unconstrained(&self, x: &Value) -> Option<Value> {
        match (self, x) {
            (Constraint::Simplex, Value::Reals(v)) => self
                .contains(x)
                .then(|| Value::Reals(stick_breaking_inverse(v))),
            (Constraint::RealVector, Value::Reals(v)) => {
                self.contains(x).then(|| Value::Reals(v.clone()))
            }
            (Constraint::Elementwise(s), Value::Reals(v)) => v
                .iter()
                .map(|&x| s.to_unconstrained_real(x))
                .collect::<Option<Vec<_>>>()
                .map(Value::Reals),
            (c, Value::Real(x)) => c.scalar()?.to_unconstrained_real(*x).map(Value::Real),
            _ => None,
        }
    }
}

/// `K - 1` reals to a point of the `K`-simplex: `z_i = sigmoid(u_i - ln(K - 1 - i))`, each
/// coordinate takes the fraction `z_i` of what is left (torch's `StickBreakingTransform`; the
/// offsets make `u = 0` the centre of the simplex).
fn stick_breaking(u: &[f64]) -> Vec<f64> {
    let k = u.len() + 1;
    let mut left = 1.0;
    let mut x = Vec::with_capacity(k);
    for (i, &ui) in u.iter().enumerate() {
        let z = sigmoid(ui - ((k - 1 - i) as f64).ln());
        x.push(left * z);
        left *= 1.0 - z;
    }
    x.push(left);
    x
}

fn stick_breaking_inverse(x: &[f64]) -> Vec<f64> {
    let k = x.len();
    let mut left = 1.0;
    let mut u = Vec::with_capacity(k.saturating_sub(1));
    for (i, &xi) in x[..k - 1].iter().enumerate() {
        let rest = (left - xi).max(f64::MIN_POSITIVE);
        u.push(xi.ln() - rest.ln() + ((k - 1 - i) as f64).ln());
        left = rest;
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(c: Constraint, x: Value) {
        let u = c.to_unconstrained(&x).expect("in the set");
        let back = c.to_constrained(&u).expect("bijection");
        match (&back, &x) {
            (Value::Real(a), Value::Real(b)) => assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs())),
            (Value::Reals(a), Value::Reals(b)) => {
                assert_eq!(a.len(), b.len());
                for (p, q) in a.iter().zip(b) {
                    assert!((p - q).abs() <= 1e-9, "{a:?} vs {b:?}");
                }
            }
            _ => panic!("kind changed: {back:?} vs {x:?}"),
        }
    }

    #[test]
    fn discrete_and_wrong_kinds_have_no_bijection() {
        assert_eq!(Constraint::Boolean.to_constrained(&Value::Real(0.0)), None);
        assert_eq!(
            Constraint::Positive.to_unconstrained(&Value::Real(-1.0)),
            None
        );
        assert_eq!(
            Constraint::Positive.to_constrained(&Value::Reals(vec![0.0])),
            None
        );
        assert_eq!(
            Constraint::Simplex.to_unconstrained(&Value::Reals(vec![0.5, 0.6])),
            None
        );
    }

    proptest! {
        #[test]
        fn scalar_round_trips(x in -1e3..1e3_f64, a in -10.0..10.0_f64, w in 0.1..10.0_f64) {
            round_trip(Constraint::Real, Value::Real(x));
            round_trip(Constraint::Positive, Value::Real(x.abs() + 1e-3));
            round_trip(Constraint::GreaterThan(a), Value::Real(a + x.abs() + 1e-3));
            let p = sigmoid(x / 100.0);
            round_trip(Constraint::UnitInterval, Value::Real(p));
            round_trip(
                Constraint::Interval { lower: a, upper: a + w },
                Value::Real(a + w * p),
            );
        }

        #[test]
        fn simplex_round_trips(u in proptest::collection::vec(-5.0..5.0_f64, 1..6)) {
            let x = Constraint::Simplex.to_constrained(&Value::Reals(u.clone())).unwrap();
            prop_assert!(Constraint::Simplex.contains(&x));
            let back = Constraint::Simplex.to_unconstrained(&x).unwrap();
            let Value::Reals(back) = back else { panic!() };
            for (p, q) in back.iter().zip(&u) {
                prop_assert!((p - q).abs() < 1e-8);
            }
        }
    }
}
