//! The gamma distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use crate::memo::Memo;
use crate::special::{GAMMA_SADDLE_FROM, gamma_deviance, gamma_log_norm, gamma_p_q};
use rand::{Rng, RngExt};

/// The gamma distribution `Gamma(concentration, rate)` with shape `concentration` and inverse
/// scale `rate` (mean `concentration / rate`).
///
/// # Density
/// `p(x) = rate^concentration x^(concentration - 1) exp(-rate x) / Gamma(concentration)` for
/// `x >= 0`. At `x = 0` the density is the limit from inside: `+inf` for `concentration < 1`,
/// `rate` for `concentration = 1` and `0` for `concentration > 1`.
///
/// For `concentration >= 10` the log-density is evaluated in its saddle-point form,
/// `-a (t - 1 - ln t) + ln(a) / 2 - ln x - ln(2 pi) / 2 - corr(a)` with `a = concentration`,
/// `t = rate x / a` and `corr` the remainder of Stirling's formula: the terms of size `a ln a`
/// that `a ln(rate) - ln Gamma(a) + (a - 1) ln x` would cancel are cancelled by hand, so it stays
/// finite (and accurate) up to `concentration = f64::MAX`, and `t - 1 - ln t` is formed without
/// cancellation near the mode.
///
/// Draws are clamped into the positive normal `f64` range (below at `f64::MIN_POSITIVE`, as
/// torch does), so a draw never underflows to `0` and its `log_prob` is always finite.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Gamma};
///
/// let d = Gamma::new(2.0, 3.0)?;
/// // ln(9 * 0.5 * exp(-1.5)) = ln 4.5 - 1.5.
/// assert!((d.log_prob(&0.5) - (4.5_f64.ln() - 1.5)).abs() < 1e-14);
/// assert_eq!(d.log_prob(&-1.0), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(2.0 / 3.0));
/// assert!(Gamma::new(0.0, 1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Gamma {
    concentration: f64,
    rate: f64,
    /// `concentration ln(rate) - ln Gamma(concentration)` for `concentration < 10`, else the
    /// parameter-only part of the saddle-point form, `ln(a) / 2 - ln(2 pi) / 2 - corr(a)`;
    /// computed when first scored.
    log_norm: Memo,
    /// `ln(rate)`.
    ln_rate: f64,
    /// `concentration - 1`.
    shape_m1: f64,
    sampler: rand_distr::Gamma<f64>,
}

const FAMILY: &str = "Gamma";

impl Gamma {
    /// A gamma distribution; `concentration` and `rate` must be finite and `> 0`.
    pub fn new(concentration: f64, rate: f64) -> Result<Self, ParamError> {
        let concentration = error::positive(FAMILY, "concentration", concentration)?;
        let rate = error::positive(FAMILY, "rate", rate)?;
        let sampler = rand_distr::Gamma::new(concentration, 1.0 / rate)
            .map_err(|_| ParamError::new(FAMILY, "rate", rate, "must be finite and > 0"))?;
        Ok(Gamma {
            concentration,
            rate,
            log_norm: Memo::new(),
            ln_rate: rate.ln(),
            shape_m1: concentration - 1.0,
            sampler,
        })
    }

    /// The shape parameter.
    pub fn concentration(&self) -> f64 {
        self.concentration
    }

    /// The inverse scale.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The log normalising constant (of the form in use, see the field).
    fn log_norm(&self) -> f64 {
        self.log_norm
            .get_or(|| gamma_log_norm(self.concentration, self.ln_rate))
    }
}

impl Distribution for Gamma {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    #[inline]
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        rng.sample(self.sampler).clamp(f64::MIN_POSITIVE, f64::MAX)
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        let x = *x;
        if x > 0.0 && x < f64::INFINITY {
            let ln_x = x.ln();
            if self.concentration >= GAMMA_SADDLE_FROM {
                let y = self.rate * x;
                let a = self.concentration;
                self.log_norm() - gamma_deviance(a, y, self.ln_rate + ln_x) - ln_x
            } else {
                self.log_norm() + self.shape_m1 * ln_x - self.rate * x
            }
        } else if x == 0.0 {
            // (concentration - 1) ln x at x -> 0+, without the NaN of 0 * -inf.
            if self.shape_m1 < 0.0 {
                f64::INFINITY
            } else if self.shape_m1 == 0.0 {
                self.log_norm()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            f64::NEG_INFINITY
        }
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }

    fn mean(&self) -> Option<f64> {
        Some(self.concentration / self.rate)
    }

    fn variance(&self) -> Option<f64> {
        // Divided twice: rate^2 may overflow or underflow where the variance does not.
        Some(self.concentration / self.rate / self.rate)
    }
}

impl Cdf for Gamma {
    /// The regularised lower incomplete gamma function `P(concentration, rate x)` (see the
    /// crate's `special::gamma_p_q`: Cephes' `igam` for moderate shapes, Temme's uniform
    /// expansion for shapes from 1e5 on, limiting forms for tiny shapes and arguments).
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            gamma_p_q(self.concentration, self.rate * x, self.ln_rate + x.ln()).0
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

    fn build(p: &testing::Params) -> Gamma {
        Gamma::new(p.real("concentration"), p.real("rate")).unwrap()
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
        // One shape per sampler branch: > 1, = 1 (exponential), < 1 (boosted).
        testing::check_sample_moments(&Gamma::new(2.5, 1.5).unwrap(), 1);
        testing::check_sample_moments(&Gamma::new(1.0, 0.25).unwrap(), 2);
        testing::check_sample_moments(&Gamma::new(0.3, 4.0).unwrap(), 3);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Gamma::new(3.0, 0.5).unwrap(), 4);
        testing::ks_test(&Gamma::new(1.0, 2.0).unwrap(), 5);
        testing::ks_test(&Gamma::new(0.05, 1.0).unwrap(), 6);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &Gamma::new(2.0, 3.0).unwrap(),
            42,
            &[0.9975361129090623, 1.408211177971349, 1.0752961410567852],
        );
    }

    #[test]
    fn tiny_shape_draws_stay_positive() {
        // P(X < 1e-300) is about 0.5 for concentration 1e-3; such draws are clamped, not zero.
        let d = Gamma::new(1e-3, 1.0).unwrap();
        let mut r = testing::rng(7);
        for _ in 0..2000 {
            let x = d.sample(&mut r);
            assert!(x > 0.0 && d.log_prob(&x).is_finite(), "draw {x}");
        }
    }

    #[test]
    fn edges_and_errors() {
        let e = Gamma::new(-1.0, 1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Gamma: invalid parameter concentration = -1 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Gamma::new(bad, 1.0).unwrap_err().param, "concentration");
            assert_eq!(Gamma::new(1.0, bad).unwrap_err().param, "rate");
        }
        // The density at 0 is the limit from inside.
        assert_eq!(Gamma::new(0.5, 1.0).unwrap().log_prob(&0.0), f64::INFINITY);
        assert_eq!(Gamma::new(1.0, 2.0).unwrap().log_prob(&0.0), 2.0_f64.ln());
        assert_eq!(
            Gamma::new(1.5, 1.0).unwrap().log_prob(&0.0),
            f64::NEG_INFINITY
        );
        let d = Gamma::new(2.0, 1.0).unwrap();
        for x in [-1e-300, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(d.log_prob(&x), f64::NEG_INFINITY, "x = {x}");
        }
        assert!(d.log_prob(&f64::MIN_POSITIVE).is_finite());
        assert!(d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&2.0));
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!((d.concentration(), d.rate()), (2.0, 1.0));
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            c in 1e-3..1e3_f64, rate in 1e-3..1e3_f64, x in 1e-300..1e6_f64,
        ) {
            let d = Gamma::new(c, rate).unwrap();
            prop_assert!(d.log_prob(&x).is_finite());
        }

        #[test]
        fn invalid_params_error(bad in -1e6..=0.0_f64, good in 1e-3..1e3_f64) {
            prop_assert!(Gamma::new(bad, good).is_err());
            prop_assert!(Gamma::new(good, bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            c in 1e-2..1e2_f64, rate in 1e-2..1e2_f64, x in 0.0..1e3_f64, dx in 0.0..10.0_f64,
        ) {
            let d = Gamma::new(c, rate).unwrap();
            let (lo, hi) = (d.cdf(x), d.cdf(x + dx));
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= hi);
        }
    }
}
