//! Bijections between each continuous [`Constraint`] and unconstrained reals (Pyro's
//! `biject_to`), used by the parameter store, by MCMC's random walk and by gradient-based
//! inference.
//!
//! The map to the constrained set and its log-Jacobian are written once, on [`Real`]: the public
//! [`Real`] forms ([`Constraint::to_constrained_real`], [`Constraint::to_constrained_reals`],
//! [`Constraint::log_abs_det_jacobian_real`], [`Constraint::log_abs_det_jacobian_reals`]) run it
//! on the caller's (possibly tracked) values, and the `f64`/[`Value`] forms
//! ([`Constraint::to_constrained`], [`Constraint::log_abs_det_jacobian`]) run the same code on
//! constants, which costs one branch per operation. The inverse, [`Constraint::to_unconstrained`],
//! is only needed on `f64`.

use crate::constraint::{Constraint, ScalarSupport};
use crate::special::log_sigmoid_real;
use crate::value::Value;
use pyro_tape::Real;

fn logit(p: f64) -> f64 {
    p.ln() - (-p).ln_1p()
}

impl ScalarSupport {
    /// Maps an unconstrained real into the set, or `None` for discrete sets.
    #[inline]
    fn to_constrained_real(self, u: Real) -> Option<Real> {
        Some(match self {
            ScalarSupport::Real => u,
            ScalarSupport::Positive | ScalarSupport::NonNegative => u.exp(),
            ScalarSupport::GreaterThan(a) | ScalarSupport::GreaterThanEq(a) => a + u.exp(),
            ScalarSupport::UnitInterval => u.logistic(),
            ScalarSupport::Interval { lower, upper } => lower + (upper - lower) * u.logistic(),
            ScalarSupport::Boolean
            | ScalarSupport::NonNegativeInteger
            | ScalarSupport::IntegerInterval { .. } => return None,
        })
    }

    /// `ln |dx/du|` of [`to_constrained_real`](Self::to_constrained_real) at `u`, or `None` for
    /// discrete sets.
    #[inline]
    fn log_abs_det_jacobian_real(self, u: Real) -> Option<Real> {
        Some(match self {
            ScalarSupport::Real => Real::constant(0.0),
            ScalarSupport::Positive
            | ScalarSupport::NonNegative
            | ScalarSupport::GreaterThan(_)
            | ScalarSupport::GreaterThanEq(_) => u,
            // d sigmoid(u) / du = sigmoid(u) sigmoid(-u).
            ScalarSupport::UnitInterval => log_sigmoid_real(u) + log_sigmoid_real(-u),
            ScalarSupport::Interval { lower, upper } => {
                (upper - lower).ln() + log_sigmoid_real(u) + log_sigmoid_real(-u)
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
    /// The map of a vector set (`Simplex`, `RealVector`, `Elementwise`) on `u` (`f64`s, or
    /// `Real`s), each output coordinate passed through `out`; `None` for other sets. Generic so
    /// that the `f64` and the `Real` forms run this one code without an intermediate vector.
    #[inline]
    fn vector_to_constrained<T: Copy + Into<Real>, O>(
        &self,
        u: &[T],
        out: impl Fn(Real) -> O,
    ) -> Option<Vec<O>> {
        let u = u.iter().map(|&x| x.into());
        match self {
            Constraint::Simplex => Some(stick_breaking(u, out)),
            Constraint::RealVector => Some(u.map(out).collect()),
            Constraint::Elementwise(s) => u.map(|x| s.to_constrained_real(x).map(&out)).collect(),
            _ => None,
        }
    }

    /// `ln |det J|` of [`vector_to_constrained`](Self::vector_to_constrained) at `u`; `None` for
    /// other sets.
    #[inline]
    fn vector_log_abs_det_jacobian<T: Copy + Into<Real>>(&self, u: &[T]) -> Option<Real> {
        let u = u.iter().map(|&x| x.into());
        match self {
            Constraint::Simplex => Some(stick_breaking_log_det(u)),
            Constraint::RealVector => Some(Real::constant(0.0)),
            Constraint::Elementwise(s) => u.map(|x| s.log_abs_det_jacobian_real(x)).sum(),
            _ => None,
        }
    }

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
        let zero = Real::constant(0.0);
        match self {
            Constraint::Simplex | Constraint::RealVector => true,
            Constraint::Elementwise(s) => s.to_constrained_real(zero).is_some(),
            Constraint::Dependent => false,
            c => c
                .scalar()
                .is_some_and(|s| s.to_constrained_real(zero).is_some()),
        }
    }

    /// Maps an unconstrained value into this set (Pyro's `biject_to(constraint)(u)`).
    ///
    /// Scalar sets take a real; `RealVector` and `Elementwise` sets take a vector of the same
    /// length; `Simplex` takes `K - 1` reals and gives `K` (stick-breaking). `None` for discrete
    /// sets and for a value of the wrong kind. This is
    /// [`to_constrained_real`](Constraint::to_constrained_real) or
    /// [`to_constrained_reals`](Constraint::to_constrained_reals) on constants.
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
        match u {
            Value::Reals(u) => self.vector_to_constrained(u, Real::value).map(Value::Reals),
            Value::Real(x) => self
                .to_constrained_real(Real::constant(*x))
                .map(|x| Value::Real(x.value())),
            _ => None,
        }
    }

    /// [`to_constrained`](Constraint::to_constrained) of a scalar set on a [`Real`], through
    /// which gradients flow; `None` for vector and discrete sets.
    ///
    /// ```
    /// use pyro_distributions::Constraint;
    /// use pyro_tape::{Real, TapeError, gradient};
    ///
    /// let c = Constraint::Interval { lower: -1.0, upper: 3.0 };
    /// // x = -1 + 4 sigmoid(u): at u = 0, x = 1 and dx/du = 4 / 4 = 1.
    /// let (x, dx) = gradient(&[0.0], |u| Ok::<_, TapeError>(c.to_constrained_real(u[0]).unwrap()))?;
    /// assert_eq!((x, dx), (1.0, vec![1.0]));
    /// assert_eq!(Constraint::Simplex.to_constrained_real(Real::constant(0.0)), None);
    /// # Ok::<(), TapeError>(())
    /// ```
    #[inline]
    pub fn to_constrained_real(&self, u: Real) -> Option<Real> {
        self.scalar()?.to_constrained_real(u)
    }

    /// [`to_constrained`](Constraint::to_constrained) of a vector set (`Simplex`, `RealVector`,
    /// `Elementwise`) on [`Real`]s, through which gradients flow: `Simplex` takes `K - 1` reals
    /// and gives `K`, the others give as many as they take. `None` for scalar and discrete sets.
    ///
    /// ```
    /// use pyro_distributions::Constraint;
    /// use pyro_tape::{Real, TapeError, gradient};
    ///
    /// // The first coordinate of the 3-simplex at u = (u0, u1) is sigmoid(u0 - ln 2): 1/3 at 0,
    /// // with gradient (1/3 * 2/3, 0).
    /// let (x0, grad) = gradient(&[0.0, 0.0], |u| {
    ///     Ok::<_, TapeError>(Constraint::Simplex.to_constrained_reals(u).unwrap()[0])
    /// })?;
    /// assert!((x0 - 1.0 / 3.0).abs() < 1e-15 && (grad[0] - 2.0 / 9.0).abs() < 1e-15);
    /// assert_eq!(grad[1], 0.0);
    /// assert_eq!(Constraint::Positive.to_constrained_reals(&[Real::constant(0.0)]), None);
    /// # Ok::<(), TapeError>(())
    /// ```
    pub fn to_constrained_reals(&self, u: &[Real]) -> Option<Vec<Real>> {
        self.vector_to_constrained(u, |x| x)
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

    /// `ln |det J|` of [`to_constrained`](Constraint::to_constrained) at the unconstrained value
    /// `u`, where `J` is the Jacobian of the map (Pyro's `biject_to(c).log_abs_det_jacobian`):
    /// the density of `x = to_constrained(u)` is the density of `u` minus this. `None` where
    /// `to_constrained` is `None`. This is
    /// [`log_abs_det_jacobian_real`](Constraint::log_abs_det_jacobian_real) or
    /// [`log_abs_det_jacobian_reals`](Constraint::log_abs_det_jacobian_reals) on constants.
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
        match u {
            Value::Reals(u) => self.vector_log_abs_det_jacobian(u),
            Value::Real(x) => self.log_abs_det_jacobian_real(Real::constant(*x)),
            _ => None,
        }
        .map(Real::value)
    }

    /// [`log_abs_det_jacobian`](Constraint::log_abs_det_jacobian) of a scalar set at a [`Real`],
    /// through which gradients flow; `None` for vector and discrete sets.
    ///
    /// ```
    /// use pyro_distributions::Constraint;
    /// use pyro_tape::{TapeError, gradient};
    ///
    /// // x = sigmoid(u): ln |dx/du| = ln sigmoid(u) + ln sigmoid(-u), of derivative
    /// // sigmoid(-u) - sigmoid(u), 0 at u = 0.
    /// let (j, dj) = gradient(&[0.0], |u| {
    ///     Ok::<_, TapeError>(Constraint::UnitInterval.log_abs_det_jacobian_real(u[0]).unwrap())
    /// })?;
    /// assert_eq!((j, dj), (-4.0_f64.ln(), vec![0.0]));
    /// # Ok::<(), TapeError>(())
    /// ```
    #[inline]
    pub fn log_abs_det_jacobian_real(&self, u: Real) -> Option<Real> {
        self.scalar()?.log_abs_det_jacobian_real(u)
    }

    /// [`log_abs_det_jacobian`](Constraint::log_abs_det_jacobian) of a vector set (`Simplex`,
    /// `RealVector`, `Elementwise`) at [`Real`]s, through which gradients flow; `None` for scalar
    /// and discrete sets.
    ///
    /// ```
    /// use pyro_distributions::{Constraint, ScalarSupport};
    /// use pyro_tape::{TapeError, gradient};
    ///
    /// // Elementwise exp: ln |det J| = u0 + u1, of gradient (1, 1).
    /// let c = Constraint::Elementwise(ScalarSupport::Positive);
    /// let (j, dj) = gradient(&[0.5, 2.0], |u| {
    ///     Ok::<_, TapeError>(c.log_abs_det_jacobian_reals(u).unwrap())
    /// })?;
    /// assert_eq!((j, dj), (2.5, vec![1.0, 1.0]));
    /// # Ok::<(), TapeError>(())
    /// ```
    pub fn log_abs_det_jacobian_reals(&self, u: &[Real]) -> Option<Real> {
        self.vector_log_abs_det_jacobian(u)
    }
}

/// `ln |det J|` of [`stick_breaking`]: the Jacobian is triangular, with diagonal
/// `dx_i / du_i = left_i * z_i * (1 - z_i)`.
#[inline]
fn stick_breaking_log_det(u: impl ExactSizeIterator<Item = Real>) -> Real {
    let k = u.len() + 1;
    let mut log_left = Real::constant(0.0);
    let mut total = Real::constant(0.0);
    for (i, ui) in u.enumerate() {
        let v = ui - ((k - 1 - i) as f64).ln();
        let (log_z, log_1mz) = (log_sigmoid_real(v), log_sigmoid_real(-v));
        total += log_left + log_z + log_1mz;
        log_left += log_1mz;
    }
    total
}

/// `K - 1` reals to a point of the `K`-simplex, each coordinate passed through `out`:
/// `z_i = sigmoid(u_i - ln(K - 1 - i))`, each coordinate takes the fraction `z_i` of what is left
/// (torch's `StickBreakingTransform`; the offsets make `u = 0` the centre of the simplex).
#[inline]
fn stick_breaking<O>(u: impl ExactSizeIterator<Item = Real>, out: impl Fn(Real) -> O) -> Vec<O> {
    let k = u.len() + 1;
    let mut left = Real::constant(1.0);
    let mut x = Vec::with_capacity(k);
    for (i, ui) in u.enumerate() {
        let z = (ui - ((k - 1 - i) as f64).ln()).logistic();
        x.push(out(left * z));
        left *= 1.0 - z;
    }
    x.push(out(left));
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
    use pyro_tape::gradient;

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
        for c in continuous_scalars() {
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

    /// Every continuous scalar set, with bounds of both signs.
    fn continuous_scalars() -> [Constraint; 7] {
        [
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
        ]
    }

    /// Unconstrained points from the middle to far in both tails, where the constrained value is
    /// within `e^-30` of a bound of the set.
    const POINTS: [f64; 14] = [
        -30.0, -12.0, -5.0, -1.3, -1e-3, -0.0, 0.0, 1e-3, 0.4, 2.2, 5.0, 9.0, 12.0, 30.0,
    ];

    /// Unconstrained vectors for the vector sets (lengths 0 to 4), including far tails.
    fn vector_points() -> Vec<Vec<f64>> {
        vec![
            vec![],
            vec![0.0],
            vec![-12.0],
            vec![0.3, -1.2],
            vec![12.0, -9.0],
            vec![1.5, -0.4, 2.0, -3.0],
            vec![-8.0, 8.0, -0.5, 6.0],
        ]
    }

    /// Every continuous vector set.
    fn continuous_vectors() -> Vec<Constraint> {
        let mut sets = vec![Constraint::Simplex, Constraint::RealVector];
        sets.extend(continuous_scalars().map(|c| Constraint::Elementwise(c.scalar().unwrap())));
        sets
    }

    fn reals(v: &Value) -> Vec<f64> {
        match v {
            Value::Reals(x) => x.clone(),
            Value::Real(x) => vec![*x],
            other => panic!("{other:?}"),
        }
    }

    /// `f` at `u` with every coordinate tracked: its value and its gradient by the tape.
    fn tracked(u: &[f64], f: impl FnOnce(&[Real]) -> Real) -> (f64, Vec<f64>) {
        gradient(u, |u| Ok::<_, pyro_tape::TapeError>(f(u))).expect("a gradient")
    }

    #[test]
    fn real_forms_give_the_value_forms_values_exactly() {
        // Tracked or constant, the same operations run: the values agree bit for bit.
        for c in continuous_scalars() {
            for u in POINTS {
                let x = c.to_constrained(&Value::Real(u)).unwrap();
                let j = c.log_abs_det_jacobian(&Value::Real(u)).unwrap();
                let (tx, _) = tracked(&[u], |u| c.to_constrained_real(u[0]).unwrap());
                let (tj, _) = tracked(&[u], |u| c.log_abs_det_jacobian_real(u[0]).unwrap());
                assert_eq!(Value::Real(tx), x, "{c} at {u}");
                assert_eq!(tj.to_bits(), j.to_bits(), "{c} at {u}");
                let constant = c.to_constrained_real(Real::constant(u)).unwrap();
                assert!(constant.is_constant());
                assert_eq!(Value::Real(constant.value()), x);
            }
            assert_eq!(c.to_constrained_reals(&[Real::constant(0.0)]), None);
            assert_eq!(c.log_abs_det_jacobian_reals(&[]), None);
        }
        for c in continuous_vectors() {
            for u in vector_points() {
                let x = reals(&c.to_constrained(&Value::Reals(u.clone())).unwrap());
                let j = c.log_abs_det_jacobian(&Value::Reals(u.clone())).unwrap();
                for (i, xi) in x.iter().enumerate() {
                    let (ti, _) = tracked(&u, |u| c.to_constrained_reals(u).unwrap()[i]);
                    assert_eq!(ti.to_bits(), xi.to_bits(), "{c} at {u:?}, coordinate {i}");
                }
                let (tj, _) = tracked(&u, |u| c.log_abs_det_jacobian_reals(u).unwrap());
                assert_eq!(tj, j, "{c} at {u:?}");
            }
            assert_eq!(c.to_constrained_real(Real::constant(0.0)), None);
            assert_eq!(c.log_abs_det_jacobian_real(Real::constant(0.0)), None);
        }
        for c in [
            Constraint::Boolean,
            Constraint::NonNegativeInteger,
            Constraint::Dependent,
        ] {
            assert_eq!(c.to_constrained_real(Real::constant(0.0)), None);
            assert_eq!(c.log_abs_det_jacobian_real(Real::constant(0.0)), None);
        }
        let discrete = Constraint::Elementwise(ScalarSupport::Boolean);
        assert_eq!(discrete.to_constrained_reals(&[Real::constant(0.0)]), None);
        assert_eq!(
            discrete.log_abs_det_jacobian_reals(&[Real::constant(0.0)]),
            None
        );
    }

    /// Checks the tape's derivative `g` of `f` at `u` against a central difference with step
    /// `H = 1e-5`.
    ///
    /// Tolerance: the central difference has truncation error `H^2 / 6 |f'''|`, and every map
    /// here (compositions of `exp`, `sigmoid` and `ln sigmoid` with affine maps of slope at most
    /// 5) has `|f'''| <= 6 (|f'| + 1)` on `[u - H, u + H]` (for `exp`, `f''' = f'`; for
    /// `w sigmoid`, `|f'''| <= |f'|`; the log-Jacobians have `|f'''| <= 2 max |sigmoid''| < 0.2`;
    /// the simplex coordinates are products of sigmoids with at most 4 factors), so it is at most
    /// `H^2 (|g| + 1)`. Each evaluation of `f` is a handful of correctly rounded operations,
    /// relative error below `8 eps` of `max(|f|, floor)` (`floor` is 0 for the scalar maps; see
    /// the callers), so rounding adds at most `2 * 8 eps max(|f|, floor) / (2 H)`.
    fn check_derivative(what: &str, g: f64, f: impl Fn(f64) -> f64, u: f64, floor: f64) {
        const H: f64 = 1e-5;
        let numerical = (f(u + H) - f(u - H)) / (2.0 * H);
        let scale = f(u)
            .abs()
            .max(f(u + H).abs())
            .max(f(u - H).abs())
            .max(floor);
        let tol = H * H * (g.abs() + 1.0) + 8.0 * f64::EPSILON * scale / H;
        assert!(
            (g - numerical).abs() <= tol,
            "{what} at {u}: tape {g} vs central difference {numerical} (tolerance {tol})"
        );
    }

    #[test]
    fn scalar_gradients_match_central_differences() {
        for c in continuous_scalars() {
            let x = |u: f64| c.to_constrained_real(Real::constant(u)).unwrap().value();
            let j = |u: f64| {
                c.log_abs_det_jacobian_real(Real::constant(u))
                    .unwrap()
                    .value()
            };
            for u in POINTS {
                let (_, dx) = tracked(&[u], |u| c.to_constrained_real(u[0]).unwrap());
                check_derivative(&format!("{c} map"), dx[0], x, u, 0.0);
                let (_, dj) = tracked(&[u], |u| c.log_abs_det_jacobian_real(u[0]).unwrap());
                check_derivative(&format!("{c} log-Jacobian"), dj[0], j, u, 0.0);
                // In the tails the central difference of the map rounds to 0 beside a bound at
                // 1; the tape's derivative keeps its relative accuracy there: for the
                // exp-type maps it is the map minus its bound, for the sigmoid-type ones it is
                // `w sigmoid(u) sigmoid(-u)`, so its log is the log-Jacobian (to a few ulps).
                if c != Constraint::Real {
                    let rel = (dx[0].ln() - j(u)).abs() / (1.0 + j(u).abs());
                    assert!(
                        rel < 1e-14,
                        "{c} at {u}: ln dx/du {} vs {}",
                        dx[0].ln(),
                        j(u)
                    );
                }
            }
        }
    }

    #[test]
    fn vector_gradients_match_central_differences() {
        // Rounding floors: a simplex coordinate is a product with `1 - z_j` factors computed by
        // subtraction from 1, so its error is `eps` absolute (the coordinates are at most 1), not
        // relative; a sum of log-Jacobian terms errs relative to its largest term, at most
        // `1 + |u_k| + ln 5` in absolute value.
        for c in continuous_vectors() {
            for u in vector_points() {
                let floor = 2.0 + u.iter().map(|x| x.abs()).sum::<f64>();
                let at = |v: f64, k: usize| {
                    let mut w = u.clone();
                    w[k] = v;
                    w
                };
                let n_out = reals(&c.to_constrained(&Value::Reals(u.clone())).unwrap()).len();
                for i in 0..n_out {
                    let (_, g) = tracked(&u, |u| c.to_constrained_reals(u).unwrap()[i]);
                    for (k, &gk) in g.iter().enumerate() {
                        let f =
                            |v: f64| reals(&c.to_constrained(&Value::Reals(at(v, k))).unwrap())[i];
                        check_derivative(
                            &format!("{c} coordinate {i} by u{k}"),
                            gk,
                            f,
                            u[k],
                            floor,
                        );
                    }
                }
                let (_, g) = tracked(&u, |u| c.log_abs_det_jacobian_reals(u).unwrap());
                for (k, &gk) in g.iter().enumerate() {
                    let f = |v: f64| c.log_abs_det_jacobian(&Value::Reals(at(v, k))).unwrap();
                    check_derivative(&format!("{c} log-Jacobian by u{k}"), gk, f, u[k], floor);
                }
            }
        }
    }

    #[test]
    fn log_jacobians_match_the_tapes_jacobian_determinants() {
        // The Jacobian by the tape (each row one gradient; exact up to a few ulps per entry) of
        // the first `u.len()` coordinates, as torch's StickBreakingTransform defines the simplex
        // one. The matrices are triangular (simplex) or diagonal, so elimination adds no
        // cancellation: each of the at most 4 log terms is within a few ulps relative of its
        // exact value, and 1e-13 (1 + |ln det|) leaves a margin of about 100. But the map
        // computes what is left of the stick as a product of `1 - z_j`, by subtraction, with
        // relative error `eps z_j / (1 - z_j) = eps e^(v_j)` (`v_j = u_j - ln(K - 1 - j)`) each;
        // the log-Jacobian uses `ln sigmoid(-v_j)` instead, so the tape's entries carry that
        // error: the tolerance adds `n eps (1 + e^(v_j))` per coordinate (it enters up to `n` diagonal
        // entries; for the simplex only).
        for c in continuous_vectors() {
            for u in vector_points() {
                let n = u.len();
                let cancellation: f64 = if c == Constraint::Simplex {
                    let k = n + 1;
                    (0..n)
                        .map(|j| {
                            n as f64
                                * f64::EPSILON
                                * (1.0 + (u[j] - ((k - 1 - j) as f64).ln()).exp())
                        })
                        .sum()
                } else {
                    0.0
                };
                let jac: Vec<Vec<f64>> = (0..n)
                    .map(|i| tracked(&u, |u| c.to_constrained_reals(u).unwrap()[i]).1)
                    .collect();
                let exact = c.log_abs_det_jacobian(&Value::Reals(u.clone())).unwrap();
                let from_tape = if n == 0 { 0.0 } else { log_abs_det(jac) };
                assert!(
                    (exact - from_tape).abs() <= 1e-13 * (1.0 + exact.abs()) + cancellation,
                    "{c} at {u:?}: {exact} vs {from_tape}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn scalar_round_trips(x in -1e3..1e3_f64, a in -10.0..10.0_f64, w in 0.1..10.0_f64) {
            round_trip(Constraint::Real, Value::Real(x));
            round_trip(Constraint::Positive, Value::Real(x.abs() + 1e-3));
            round_trip(Constraint::GreaterThan(a), Value::Real(a + x.abs() + 1e-3));
            let p = Real::constant(x / 100.0).logistic().value();
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
