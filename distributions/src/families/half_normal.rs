//! The half-normal distribution.

use super::normal::LN_SQRT_2PI;
use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_PI, LN_2};

/// The half-normal distribution `HalfNormal(scale)`: `|Y|` for `Y ~ Normal(0, scale)`.
///
/// # Density
/// `p(x) = sqrt(2 / pi) exp(-x^2 / (2 scale^2)) / scale` for `x >= 0` (the density is finite at
/// 0).
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, HalfNormal};
///
/// let d = HalfNormal::new(1.0)?;
/// let expected = (2.0 / std::f64::consts::PI).sqrt().ln();
/// assert!((d.log_prob(&0.0) - expected).abs() < 1e-15);
/// assert_eq!(d.log_prob(&-1e-9), f64::NEG_INFINITY);
/// assert!(HalfNormal::new(0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HalfNormal {
    scale: f64,
    /// `ln(scale) + ln(sqrt(2 pi)) - ln 2`.
    log_norm: f64,
}

const FAMILY: &str = "HalfNormal";

impl HalfNormal {
    /// A half-normal distribution; `scale` must be finite and `> 0`.
    pub fn new(scale: f64) -> Result<Self, ParamError> {
        let scale = error::positive(FAMILY, "scale", scale)?;
        Ok(HalfNormal {
            scale,
            log_norm: scale.ln() + LN_SQRT_2PI - LN_2,
        })
    }

    /// The scale of the underlying normal distribution.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Distribution for HalfNormal {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        self.scale * z.abs()
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        // Also rejects NaN.
        if !(x.is_finite() && *x >= 0.0) {
            return f64::NEG_INFINITY;
        }
        let z = x / self.scale;
        -0.5 * z * z - self.log_norm
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }

    fn mean(&self) -> Option<f64> {
        Some(self.scale * FRAC_2_PI.sqrt())
    }

    fn variance(&self) -> Option<f64> {
        Some(self.scale * (self.scale * (1.0 - FRAC_2_PI)))
    }
}

impl Cdf for HalfNormal {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        // x / scale first: scale sqrt(2) may overflow (and inf / inf is NaN).
        libm::erf(x / self.scale * FRAC_1_SQRT_2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> HalfNormal {
        HalfNormal::new(p.real("scale")).unwrap()
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&HalfNormal::new(2.5).unwrap(), 21);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&HalfNormal::new(0.7).unwrap(), 22);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = HalfNormal::new(2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &[1.6687950936875917, 1.02992585629459, 2.8154551462395],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = HalfNormal::new(1.0).unwrap();
        assert_eq!(d.log_prob(&0.0), d.log_prob(&-0.0));
        assert!(d.log_prob(&0.0).is_finite());
        assert!(d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob(&-1e-300), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NAN), f64::NEG_INFINITY);
        assert_eq!(d.cdf(0.0), 0.0);
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.log_prob_value(&Value::Bool(false)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.5])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&2.0));
        let e = HalfNormal::new(-2.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "HalfNormal: invalid parameter scale = -2 (must be finite and > 0)"
        );
        assert_eq!(HalfNormal::new(f64::NAN).unwrap_err().param, "scale");
        assert_eq!(HalfNormal::new(f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(d.scale(), 1.0);
    }

    proptest! {
        #[test]
        fn finite_inside_support(scale in 1e-6..1e6_f64, x in 0.0..1e6_f64) {
            let d = HalfNormal::new(scale).unwrap();
            prop_assert!(d.log_prob(&x).is_finite());
        }

        #[test]
        fn invalid_scale_errors(scale in -1e6..=0.0_f64) {
            prop_assert!(HalfNormal::new(scale).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            scale in 1e-3..1e3_f64,
            a in -10.0..1e4_f64,
            b in -10.0..1e4_f64,
        ) {
            let d = HalfNormal::new(scale).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }
}
