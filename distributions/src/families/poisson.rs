//! The Poisson distribution.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::{self, ParamError};
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The Poisson distribution `Poisson(rate)` over the counts `0, 1, 2, ...`.
///
/// # Density
/// `P(k) = rate^k exp(-rate) / k!` for integers `k >= 0`.
///
/// `rate` must be finite, `> 0` and at most [`Poisson::MAX_RATE`], so that every draw fits in
/// an `i64`. It is a [`Real`]: a gradient flows through `log_prob_real` to it when it is
/// tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Poisson};
///
/// let d = Poisson::new(3.0)?;
/// assert!((d.log_prob(&0) + 3.0).abs() < 1e-15);
/// assert_eq!(d.log_prob(&-1), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(3.0));
/// assert!(Poisson::new(0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Poisson {
    rate: Real,
    ln_rate: f64,
    sampler: rand_distr::Poisson<f64>,
}

const FAMILY: &str = "Poisson";

impl Poisson {
    /// The largest accepted `rate`: draws of a larger one could exceed `i64::MAX`.
    pub const MAX_RATE: f64 = 1e18;

    /// A Poisson distribution with mean `rate`; `rate` must be finite, `> 0` and at most
    /// [`Poisson::MAX_RATE`].
    pub fn new(rate: impl Into<Real>) -> Result<Self, ParamError> {
        let param = rate.into();
        let rate = error::positive(FAMILY, "rate", param.value())?;
        if rate > Self::MAX_RATE {
            return Err(ParamError::new(FAMILY, "rate", rate, "must be <= 1e18"));
        }
        let sampler = rand_distr::Poisson::new(rate)
            .map_err(|_| ParamError::new(FAMILY, "rate", rate, "must be finite and > 0"))?;
        Ok(Poisson {
            rate: param,
            ln_rate: rate.ln(),
            sampler,
        })
    }

    /// The mean (and variance).
    pub fn rate(&self) -> Real {
        self.rate
    }
}

/// One Poisson draw of mean `rate`, for mixtures whose rate changes with every draw (the negative
/// binomial). A rate that is not `> 0` (a Gamma draw that underflowed) gives 0; draws beyond
/// `i64::MAX`, and a rate too large to sample, saturate at `i64::MAX`.
pub(crate) fn draw_with_rate<R: Rng + ?Sized>(rate: f64, rng: &mut R) -> i64 {
    if rate.is_nan() || rate <= 0.0 {
        return 0;
    }
    rand_distr::Poisson::new(rate).map_or(i64::MAX, |p| rng.sample(p) as i64)
}

impl Distribution for Poisson {
    type Value = i64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    #[inline]
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        rng.sample(self.sampler) as i64
    }

    #[inline]
    fn log_prob(&self, k: &i64) -> f64 {
        if *k < 0 {
            return f64::NEG_INFINITY;
        }
        let k = *k as f64;
        k * self.ln_rate - self.rate.value() - libm::lgamma(k + 1.0)
    }

    /// `k / rate - 1`, as `(k - rate) / rate`.
    #[inline]
    fn log_prob_partials(&self, k: &i64, partials: &mut Partials<'_>) {
        let rate = self.rate.value();
        partials.push(self.rate, (*k as f64 - rate) / rate);
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegativeInteger
    }

    fn mean(&self) -> Option<f64> {
        Some(self.rate.value())
    }

    fn variance(&self) -> Option<f64> {
        Some(self.rate.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Poisson {
        Poisson::new(p.real("rate")).unwrap()
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        // Both samplers of rand_distr: Knuth's below rate 12, rejection above.
        testing::check_sample_moments(&Poisson::new(3.5).unwrap(), 1);
        testing::check_sample_moments(&Poisson::new(250.0).unwrap(), 2);
    }

    #[test]
    fn value_stability() {
        testing::assert_first_draws(&Poisson::new(3.5).unwrap(), 42, &[6, 6, 3]);
    }

    #[test]
    fn edges_and_errors() {
        let d = Poisson::new(2.0).unwrap();
        assert_eq!(d.log_prob(&-1), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MIN), f64::NEG_INFINITY);
        assert!(d.log_prob(&i64::MAX).is_finite() && d.log_prob(&i64::MAX) < -1e20);
        assert_eq!(d.log_prob(&0), -2.0);
        assert_eq!(d.log_prob_value(&Value::Real(1.5)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Real(f64::NAN)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Real(1.0)), d.log_prob(&1));
        assert!(d.support().contains(&Value::Int(0)));
        let e = Poisson::new(-1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Poisson: invalid parameter rate = -1 (must be finite and > 0)"
        );
        assert_eq!(Poisson::new(f64::NAN).unwrap_err().param, "rate");
        assert_eq!(Poisson::new(f64::INFINITY).unwrap_err().param, "rate");
        assert_eq!(
            Poisson::new(2e18).unwrap_err().to_string(),
            "Poisson: invalid parameter rate = 2000000000000000000 (must be <= 1e18)"
        );
        assert!(Poisson::new(Poisson::MAX_RATE).is_ok());
        // The mixture helper: no panic for degenerate rates.
        let mut r = testing::rng(0);
        assert_eq!(draw_with_rate(0.0, &mut r), 0);
        assert_eq!(draw_with_rate(f64::NAN, &mut r), 0);
        assert_eq!(draw_with_rate(f64::INFINITY, &mut r), i64::MAX);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // (k, rate); the rate's length is the distance to 0. (Near the mean of a large rate the
        // terms of the log-probability, `k ln(rate)` and `rate`, exceed it a million-fold, beyond
        // the rounding the check allows for: `gradients_in_closed_form` covers it.)
        for &(k, rate) in &[
            (0, 3.0),
            (3, 3.0),
            (10, 2.5),
            (0, 1e-6),
            (5, 1e-6),
            (1, 1e-300),
            (120, 100.0),
            (3, 1e6),
            (2_000_000, 1e6),
            (3, 1e12),
            (0, 1e17),
        ] {
            let at = |v: &[Real]| (Poisson::new(v[0]).unwrap(), k);
            testing::check_log_prob_gradient(at, &[rate], &[rate]);
        }
    }

    #[test]
    fn gradients_in_closed_form() {
        let grad = |k: i64, rate: f64| {
            let (_, g) = pyro_tape::gradient(&[rate], |v| {
                Ok::<_, pyro_tape::TapeError>(Poisson::new(v[0]).unwrap().log_prob_real(&k))
            })
            .unwrap();
            g[0]
        };
        // k / rate - 1: 0 at the mean, -1 at k = 0.
        assert_eq!(grad(4, 4.0), 0.0);
        assert_eq!(grad(0, 7.5), -1.0);
        assert_eq!(grad(6, 2.0), 2.0);
        assert_eq!(grad(1_000_000, 1e6), 0.0);
        assert_eq!(grad(1_000_001, 1e6), 1e-6);
        assert!(Poisson::new(2.0).unwrap().log_prob_real(&1).is_constant());
    }

    proptest! {
        #[test]
        fn finite_inside_support(rate in 1e-8..1e8_f64, k in 0..1_000_000_000_i64) {
            prop_assert!(Poisson::new(rate).unwrap().log_prob(&k).is_finite());
        }

        #[test]
        fn invalid_rate_errors(rate in prop_oneof![-1e6..=0.0_f64, 1.000_001e18..1e300_f64]) {
            prop_assert!(Poisson::new(rate).is_err());
        }

        #[test]
        fn pmf_sums_to_one(rate in 1e-3..1e3_f64) {
            // Beyond rate + 20 sqrt(rate) + 30 the tail is far below 1e-12.
            let d = Poisson::new(rate).unwrap();
            let top = (rate + 20.0 * rate.sqrt() + 30.0) as i64;
            let total: f64 = (0..=top).map(|k| d.log_prob(&k).exp()).sum();
            prop_assert!((total - 1.0).abs() < 1e-9, "total {}", total);
        }
    }
}
