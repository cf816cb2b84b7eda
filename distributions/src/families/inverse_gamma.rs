//! The inverse-gamma distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use crate::memo::Memo;
use crate::special::{GAMMA_SADDLE_FROM, gamma_deviance, gamma_log_norm, gamma_p_q};
use rand::{Rng, RngExt};

/// The inverse-gamma distribution `InverseGamma(concentration, rate)`: the law of `1 / X` for
/// `X ~ Gamma(concentration, rate)` (Pyro's parameterisation: `rate` is the rate of `X` and so
/// the scale of the draws).
///
/// # Density
/// `p(x) = rate^concentration x^(-concentration - 1) exp(-rate / x) / Gamma(concentration)` for
/// `x > 0` (the density tends to `0` at `x = 0`).
///
/// The mean is `rate / (concentration - 1)` for `concentration > 1` and infinite otherwise; the
/// variance is `rate^2 / ((concentration - 1)^2 (concentration - 2))` for `concentration > 2` and
/// infinite otherwise (as SciPy reports them).
///
/// For `concentration >= 10` the log-density is evaluated in the saddle-point form of the gamma
/// density of `rate / x` (see [`Gamma`](crate::Gamma)), which stays finite and accurate up to
/// `concentration = f64::MAX`. Draws are clamped into the positive normal `f64`
/// range, so a draw never underflows to `0` nor overflows to infinity.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, InverseGamma};
///
/// let d = InverseGamma::new(3.0, 2.0)?;
/// // ln(8 / 2 * exp(-2)) = ln 4 - 2 at x = 1.
/// assert!((d.log_prob(&1.0) - (4.0_f64.ln() - 2.0)).abs() < 1e-14);
/// assert_eq!(d.log_prob(&0.0), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(1.0));
/// assert_eq!(InverseGamma::new(0.5, 1.0)?.mean(), Some(f64::INFINITY));
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct InverseGamma {
    concentration: f64,
    rate: f64,
    /// `concentration ln(rate) - ln Gamma(concentration)` for `concentration < 10`, else the
    /// parameter-only part of the saddle-point form, `ln(a) / 2 - ln(2 pi) / 2 - corr(a)`;
    /// computed when first scored.
    log_norm: Memo,
    /// `ln(rate)`.
    ln_rate: f64,
    /// `-(concentration + 1)`.
    neg_shape_p1: f64,
    /// `Gamma(concentration, 1)`; a draw is `rate / g`.
    sampler: rand_distr::Gamma<f64>,
}

const FAMILY: &str = "InverseGamma";

impl InverseGamma {
    /// An inverse-gamma distribution; `concentration` and `rate` must be finite and `> 0`.
    pub fn new(concentration: f64, rate: f64) -> Result<Self, ParamError> {
        let concentration = error::positive(FAMILY, "concentration", concentration)?;
        let rate = error::positive(FAMILY, "rate", rate)?;
        let sampler = rand_distr::Gamma::new(concentration, 1.0).map_err(|_| {
            ParamError::new(
                FAMILY,
                "concentration",
                concentration,
                "must be finite and > 0",
            )
        })?;
        Ok(InverseGamma {
            concentration,
            rate,
            log_norm: Memo::new(),
            ln_rate: rate.ln(),
            neg_shape_p1: -(concentration + 1.0),
            sampler,
        })
    }

    /// The shape parameter.
    pub fn concentration(&self) -> f64 {
        self.concentration
    }

    /// The scale of the draws (the rate of their reciprocals).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The log normalising constant (of the form in use, see the field).
    fn log_norm(&self) -> f64 {
        self.log_norm
            .get_or(|| gamma_log_norm(self.concentration, self.ln_rate))
    }
}

impl Distribution for InverseGamma {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let g: f64 = rng.sample(self.sampler);
        (self.rate / g.max(f64::MIN_POSITIVE)).clamp(f64::MIN_POSITIVE, f64::MAX)
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        let x = *x;
        if x > 0.0 && x < f64::INFINITY {
            let ln_x = x.ln();
            if self.concentration >= GAMMA_SADDLE_FROM {
                // rate / x ~ Gamma(a, 1): its saddle-point form, with the Jacobian folded in.
                let y = self.rate / x;
                self.log_norm() - gamma_deviance(self.concentration, y, self.ln_rate - ln_x) - ln_x
            } else {
                self.log_norm() + self.neg_shape_p1 * ln_x - self.rate / x
            }
        } else {
            f64::NEG_INFINITY
        }
    }

    fn support(&self) -> Constraint {
        Constraint::Positive
    }

    fn mean(&self) -> Option<f64> {
        let c = self.concentration;
        Some(if c > 1.0 {
            self.rate / (c - 1.0)
        } else {
            f64::INFINITY
        })
    }

    fn variance(&self) -> Option<f64> {
        let c = self.concentration;
        Some(if c > 2.0 {
            let m = self.rate / (c - 1.0);
            // Not m^2 / (c - 2), whose m^2 may overflow or underflow where the variance does not.
            m * (m / (c - 2.0))
        } else {
            f64::INFINITY
        })
    }
}

impl Cdf for InverseGamma {
    /// The regularised upper incomplete gamma function `Q(concentration, rate / x)` (see the
    /// crate's `special::gamma_p_q`).
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            gamma_p_q(self.concentration, self.rate / x, self.ln_rate - x.ln()).1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> InverseGamma {
        InverseGamma::new(p.real("concentration"), p.real("rate")).unwrap()
    }

    /// Extreme parameters and values against mpmath (issue 11, item 9); see
    /// `testing::check_extreme_values` for the tolerance.
    #[test]
    fn matches_mpmath_at_extremes() {
        testing::check_extreme_values(FAMILY, build);
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        // The fourth moment is finite for concentration > 4.
        testing::check_sample_moments(&InverseGamma::new(6.0, 2.0).unwrap(), 1);
        testing::check_sample_moments(&InverseGamma::new(12.0, 0.5).unwrap(), 2);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&InverseGamma::new(3.0, 2.0).unwrap(), 3);
        testing::ks_test(&InverseGamma::new(0.5, 0.01).unwrap(), 4);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &InverseGamma::new(3.0, 2.0).unwrap(),
            42,
            &[0.4678930765430374, 0.3515362773866864, 0.43986689494445647],
        );
    }

    #[test]
    fn extreme_draws_stay_in_support() {
        // Tiny concentration: the gamma draw underflows, its reciprocal would be infinite.
        let d = InverseGamma::new(1e-3, 1.0).unwrap();
        let mut r = testing::rng(5);
        for _ in 0..2000 {
            let x = d.sample(&mut r);
            assert!(d.support().contains(&Value::Real(x)), "draw {x}");
            assert!(d.log_prob(&x).is_finite(), "draw {x}");
        }
    }

    #[test]
    fn edges_and_errors() {
        let e = InverseGamma::new(1.0, 0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "InverseGamma: invalid parameter rate = 0 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                InverseGamma::new(bad, 1.0).unwrap_err().param,
                "concentration"
            );
            assert_eq!(InverseGamma::new(1.0, bad).unwrap_err().param, "rate");
        }
        let d = InverseGamma::new(0.5, 1.0).unwrap();
        for x in [0.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(d.log_prob(&x), f64::NEG_INFINITY, "x = {x}");
        }
        assert!(d.log_prob(&1e-300).is_finite());
        assert!(d.log_prob(&1e300).is_finite());
        assert_eq!(d.log_prob_value(&Value::Bool(false)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Ints(vec![1])), f64::NEG_INFINITY);
        assert_eq!(d.cdf(0.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        // Moments: infinite mean for c <= 1, infinite variance for c <= 2.
        let d2 = InverseGamma::new(1.5, 1.0).unwrap();
        assert_eq!(d2.mean(), Some(2.0));
        assert_eq!(d2.variance(), Some(f64::INFINITY));
        assert_eq!(d.variance(), Some(f64::INFINITY));
        assert_eq!((d2.concentration(), d2.rate()), (1.5, 1.0));
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            c in 1e-3..1e3_f64, rate in 1e-3..1e3_f64, x in 1e-6..1e300_f64,
        ) {
            let d = InverseGamma::new(c, rate).unwrap();
            prop_assert!(d.log_prob(&x).is_finite());
        }

        #[test]
        fn invalid_params_error(bad in -1e6..=0.0_f64, good in 1e-3..1e3_f64) {
            prop_assert!(InverseGamma::new(bad, good).is_err());
            prop_assert!(InverseGamma::new(good, bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            c in 1e-2..1e2_f64, rate in 1e-2..1e2_f64, x in 0.0..1e3_f64, dx in 0.0..10.0_f64,
        ) {
            let d = InverseGamma::new(c, rate).unwrap();
            let (lo, hi) = (d.cdf(x), d.cdf(x + dx));
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= hi);
        }
    }
}
