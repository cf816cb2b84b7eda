//! The exponential distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use pyro_tape::Real;
use rand::{Rng, RngExt};
use rand_distr::Exp1;

/// The exponential distribution `Exponential(rate)` with mean `1 / rate`.
///
/// # Density
/// `p(x) = rate exp(-rate x)` for `x >= 0` (the density is `rate` at 0).
///
/// The parameter and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Exponential, Real};
///
/// let d = Exponential::new(2.0)?;
/// assert_eq!(d.log_prob(&Real::from(0.0)), 2.0_f64.ln());
/// assert_eq!(d.log_prob(&Real::from(-1.0)), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(0.5));
/// assert!(Exponential::new(0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    rate: Real,
    ln_rate: f64,
}

const FAMILY: &str = "Exponential";

impl Exponential {
    /// An exponential distribution; `rate` must be finite and `> 0`.
    pub fn new(rate: impl Into<Real>) -> Result<Self, ParamError> {
        let rate = rate.into();
        let l = error::positive(FAMILY, "rate", rate.value())?;
        Ok(Exponential {
            rate,
            ln_rate: l.ln(),
        })
    }

    /// The rate (inverse mean).
    pub fn rate(&self) -> Real {
        self.rate
    }

    /// The draw `e / rate` for `e ~ Exp(1)`, formed as `e (1 / rate)` (as `rand_distr`'s
    /// exponential draws it): the one formula of `sample` and `rsample`
    /// (`d/drate = -e / rate^2`).
    #[inline]
    fn draw<R: Rng + ?Sized>(rate: Real, rng: &mut R) -> Real {
        let e: f64 = rng.sample(Exp1);
        e * rate.recip()
    }
}

impl Distribution for Exponential {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        Exponential::draw(detach(self.rate), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `e / rate`: `d/drate = -e / rate^2 = -x / rate`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(Exponential::draw(self.rate, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        // Also rejects NaN.
        if !(x.is_finite() && x >= 0.0) {
            return f64::NEG_INFINITY;
        }
        self.ln_rate - self.rate.value() * x
    }

    /// `d/dx = -rate` and `d/drate = 1 / rate - x`; at `x = 0` the derivative from inside the
    /// support.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.rate.is_constant() {
            return;
        }
        let rate = self.rate.value();
        partials.push(*x, -rate);
        partials.push(self.rate, 1.0 / rate - x.value());
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }

    fn mean(&self) -> Option<f64> {
        Some(1.0 / self.rate.value())
    }

    fn variance(&self) -> Option<f64> {
        let rate = self.rate.value();
        Some(1.0 / (rate * rate))
    }
}

impl Cdf for Exponential {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        -(-self.rate.value() * x).exp_m1()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Exponential {
        Exponential::new(p.real("rate")).unwrap()
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&Exponential::new(0.25).unwrap(), 91);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Exponential::new(3.0).unwrap(), 92);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = Exponential::new(2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &rs(&[0.5320102289952592, 0.23363583335629512, 0.7498753870722731]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Exponential::new(1.5).unwrap();
        assert_eq!(d.log_prob(&r(0.0)), 1.5_f64.ln());
        assert_eq!(d.log_prob(&r(-0.0)), 1.5_f64.ln());
        assert!(d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob(&r(-1e-300)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        assert!(d.log_prob(&r(1e300)).is_finite());
        assert_eq!(d.cdf(0.0), 0.0);
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        // Small x keeps its relative precision: cdf(x) ~ rate x.
        assert!((d.cdf(1e-20) / 1.5e-20 - 1.0).abs() < 1e-15);
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&r(2.0)));
        let e = Exponential::new(-1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Exponential: invalid parameter rate = -1 (must be finite and > 0)"
        );
        assert_eq!(Exponential::new(f64::NAN).unwrap_err().param, "rate");
        assert_eq!(Exponential::new(f64::INFINITY).unwrap_err().param, "rate");
        assert_eq!(d.rate(), 1.5);
    }

    fn exponential_at(v: &[Real]) -> (Exponential, Real) {
        (Exponential::new(v[1]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, rate). The log-density is linear in x: the value's length is its distance
        // to the edge 0; the rate's is its distance to 0 (the singularity of ln rate).
        for &(x, rate) in &[
            (0.5, 1.0),
            (2.5, 0.7),
            (1e-3, 1.0),
            (1e-8, 1e6),
            (3e3, 1e-3),
            (1e5, 1e2),
            (1e-300, 1e-300),
            (1e300, 1e-300),
            (1e-300, 1e300),
        ] {
            testing::check_log_prob_gradient(exponential_at, &[x, rate], &[x, rate]);
        }
        // Closed forms: d/dx = -rate; d/drate = 1 / rate - x, 0 at the mean, 1 / rate at the
        // edge x = 0 (from inside).
        let grad = |x: f64, rate: f64| {
            pyro_tape::gradient(&[x, rate], |v| {
                let (d, x) = exponential_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        assert_eq!(grad(0.5, 2.0), vec![-2.0, 0.0]);
        assert_eq!(grad(0.0, 4.0), vec![-4.0, 0.25]);
    }

    proptest! {
        #[test]
        fn finite_inside_support(rate in 1e-6..1e6_f64, x in 0.0..1e6_f64) {
            let d = Exponential::new(rate).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_rate_errors(rate in -1e6..=0.0_f64) {
            prop_assert!(Exponential::new(rate).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            rate in 1e-3..1e3_f64,
            a in -10.0..1e4_f64,
            b in -10.0..1e4_f64,
        ) {
            let d = Exponential::new(rate).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        for rate in [1.0, 0.1, 30.0] {
            testing::check_rsample(|v| Exponential::new(v[0]).unwrap(), &[rate], &[Some(rate)]);
        }
    }
}
