//! Bijections between each continuous [`Constraint`] and unconstrained reals (Pyro's
//! `biject_to`), used by the parameter store and, later, by gradient-based inference.

use crate::constraint::{Constraint, ScalarSupport};
use crate::special::log_sigmoid;
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

    /// `ln |dx/du|` of [`to_constrained_real`](Self::to_constrained_real) at `u`, or `None` for
    /// discrete sets.
    fn log_abs_det_jacobian_real(self, u: f64) -> Option<f64> {
        Some(match self {
            ScalarSupport::Real => 0.0,
            ScalarSupport::Positive
            | ScalarSupport::NonNegative
            | ScalarSupport::GreaterThan(_)
            | ScalarSupport::GreaterThanEq(_) => u,
            // d sigmoid(u) / du = sigmoid(u) sigmoid(-u).
            ScalarSupport::UnitInterval => log_sigmoid(u) + log_sigmoid(-u),
            ScalarSupport::Interval { lower, upper } => {
                (upper - lower).ln() + log_sigmoid(u) + log_sigmoid(-u)
            }
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
    /// Whether the set is continuous, with a bijection to unconstrained reals
    /// ([`to_constrained`](Constraint::to_constrained)): every set but the discrete ones and
    /// [`Dependent`](Constraint::Dependent).
    ///
    /// ```
    /// use pyro_distributions::{Constraint, ScalarSupport};
    ///
    /// assert!(Constraint::Simplex.is_continuous());
    /// assert!(Constraint::Elementwise(ScalarSupport::Positive).is_continuous());
    /// assert!(!Constraint::NonNegativeInteger.is_continuous());
    /// assert!(!Constraint::Dependent.is_continuous());
    /// ```
    pub fn is_continuous(&self) -> bool {
        match self {
            Constraint::Simplex | Constraint::RealVector => true,
            Constraint::Elementwise(s) => s.to_constrained_real(0.0).is_some(),
            Constraint::Dependent => false,
            c => c
                .scalar()
                .is_some_and(|s| s.to_constrained_real(0.0).is_some()),
        }
    }

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

impl Constraint {
    /// `ln |det J|` of [`to_constrained`](Constraint::to_constrained) at the unconstrained value
    /// `u`, where `J` is the Jacobian of the map (Pyro's `biject_to(c).log_abs_det_jacobian`):
    /// the density of `x = to_constrained(u)` is the density of `u` minus this. `None` where
    /// `to_constrained` is `None`.
    ///
    /// For the simplex, `J` is the `(K - 1) x (K - 1)` Jacobian of the first `K - 1` coordinates
    /// (the last one is determined by them), as torch's `StickBreakingTransform`.
    ///
    /// ```
    /// use pyro_distributions::{Constraint, Value};
    ///
    /// // x = exp(u): dx/du = exp(u), so ln |dx/du| = u.
    /// assert_eq!(Constraint::Positive.log_abs_det_jacobian(&Value::Real(0.7)), Some(0.7));
    /// assert_eq!(Constraint::Real.log_abs_det_jacobian(&Value::Reals(vec![1.0, 2.0])), None);
    /// assert_eq!(Constraint::RealVector.log_abs_det_jacobian(&Value::Reals(vec![1.0])), Some(0.0));
    /// ```
    pub fn log_abs_det_jacobian(&self, u: &Value) -> Option<f64> {
        match (self, u) {
            (Constraint::Simplex, Value::Reals(u)) => Some(stick_breaking_log_det(u)),
            (Constraint::RealVector, Value::Reals(_)) => Some(0.0),
            (Constraint::Elementwise(s), Value::Reals(u)) => u
                .iter()
                .map(|&x| s.log_abs_det_jacobian_real(x))
                .sum::<Option<f64>>(),
            (c, Value::Real(x)) => c.scalar()?.log_abs_det_jacobian_real(*x),
            _ => None,
        }
    }
}

/// `ln |det J|` of [`stick_breaking`]: the Jacobian is triangular, with diagonal
/// `dx_i / du_i = left_i * z_i * (1 - z_i)`.
fn stick_breaking_log_det(u: &[f64]) -> f64 {
    let k = u.len() + 1;
    let mut log_left = 0.0;
    let mut total = 0.0;
    for (i, &ui) in u.iter().enumerate() {
        let v = ui - ((k - 1 - i) as f64).ln();
        let (log_z, log_1mz) = (log_sigmoid(v), log_sigmoid(-v));
        total += log_left + log_z + log_1mz;
        log_left += log_1mz;
    }
    total
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

    /// `ln |det A|` of a small square matrix by Gaussian elimination with partial pivoting.
    fn log_abs_det(mut a: Vec<Vec<f64>>) -> f64 {
        let n = a.len();
        let mut total = 0.0;
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
                .unwrap();
            a.swap(col, pivot);
            total += a[col][col].abs().ln();
            let (top, rest) = a.split_at_mut(col + 1);
            let pivot_row = &top[col];
            for row in rest {
                let f = row[col] / pivot_row[col];
                for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
            }
        }
        total
    }

    /// The numerical `ln |det J|` of `to_constrained` at `u` (central differences, step `h`),
    /// over the first `u.len()` output coordinates.
    fn numerical_log_det(c: Constraint, u: &[f64], h: f64) -> f64 {
        let out = |u: &[f64]| -> Vec<f64> {
            match c.to_constrained(&Value::Reals(u.to_vec())).unwrap() {
                Value::Reals(x) => x,
                other => panic!("{other:?}"),
            }
        };
        let n = u.len();
        let mut jac = vec![vec![0.0; n]; n];
        for j in 0..n {
            let (mut up, mut down) = (u.to_vec(), u.to_vec());
            up[j] += h;
            down[j] -= h;
            let (xu, xd) = (out(&up), out(&down));
            for i in 0..n {
                jac[i][j] = (xu[i] - xd[i]) / (2.0 * h);
            }
        }
        log_abs_det(jac)
    }

    #[test]
    fn log_jacobians_match_numerical_jacobians() {
        let scalar = [
            Constraint::Real,
            Constraint::Positive,
            Constraint::NonNegative,
            Constraint::GreaterThan(-2.0),
            Constraint::GreaterThanEq(3.0),
            Constraint::UnitInterval,
            Constraint::Interval {
                lower: -1.0,
                upper: 4.0,
            },
        ];
        for c in scalar {
            for u in [-7.5, -1.3, 0.0, 0.4, 2.2, 9.0] {
                let exact = c.log_abs_det_jacobian(&Value::Real(u)).unwrap();
                let h = 1e-5;
                let x = |u: f64| match c.to_constrained(&Value::Real(u)).unwrap() {
                    Value::Real(x) => x,
                    other => panic!("{other:?}"),
                };
                let numerical = ((x(u + h) - x(u - h)) / (2.0 * h)).abs().ln();
                // Central differences: error O(h^2) relative to the derivative.
                assert!(
                    (exact - numerical).abs() < 1e-6,
                    "{c}: u {u}: {exact} vs {numerical}"
                );
                // Elementwise sets sum the scalar terms.
                let e = Constraint::Elementwise(c.scalar().unwrap());
                let both = e.log_abs_det_jacobian(&Value::Reals(vec![u, -u])).unwrap();
                let other = c.log_abs_det_jacobian(&Value::Real(-u)).unwrap();
                assert!((both - (exact + other)).abs() < 1e-12);
            }
        }
        for u in [vec![0.0], vec![0.3, -1.2], vec![1.5, -0.4, 2.0, -3.0]] {
            let exact = Constraint::Simplex
                .log_abs_det_jacobian(&Value::Reals(u.clone()))
                .unwrap();
            let numerical = numerical_log_det(Constraint::Simplex, &u, 1e-6);
            assert!(
                (exact - numerical).abs() < 1e-6,
                "{u:?}: {exact} vs {numerical}"
            );
        }
        // Discrete sets and wrong kinds have none.
        assert_eq!(
            Constraint::Boolean.log_abs_det_jacobian(&Value::Real(0.0)),
            None
        );
        assert_eq!(
            Constraint::Simplex.log_abs_det_jacobian(&Value::Real(0.0)),
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
