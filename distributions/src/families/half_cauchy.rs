//! The half-Cauchy distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use rand::{Rng, RngExt};
use std::f64::consts::FRAC_PI_2;

/// The half-Cauchy distribution `HalfCauchy(scale)`: `|Y|` for `Y ~ Cauchy(0, scale)`.
///
/// Its mean and variance are infinite.
///
/// # Density
/// `p(x) = 2 / (pi scale (1 + (x / scale)^2))` for `x >= 0` (the density is finite at 0).
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, HalfCauchy};
///
/// let d = HalfCauchy::new(1.0)?;
/// let expected = (2.0 / std::f64::consts::PI).ln();
/// assert!((d.log_prob(&0.0) - expected).abs() < 1e-15);
/// assert_eq!(d.log_prob(&-0.5), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(f64::INFINITY));
/// assert!(HalfCauchy::new(-1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HalfCauchy {
    scale: f64,
    /// `ln(pi scale / 2)`.
    log_norm: f64,
    sampler: rand_distr::Cauchy<f64>,
}

const FAMILY: &str = "HalfCauchy";

impl HalfCauchy {
    /// A half-Cauchy distribution; `scale` must be finite and `> 0`.
    pub fn new(scale: f64) -> Result<Self, ParamError> {
        let scale = error::positive(FAMILY, "scale", scale)?;
        let sampler = rand_distr::Cauchy::new(0.0, scale)
            .map_err(|_| ParamError::new(FAMILY, "scale", scale, "must be finite and > 0"))?;
        Ok(HalfCauchy {
            scale,
            // ln(pi/2) + ln(scale): (pi/2) scale would overflow for scale near f64::MAX.
            log_norm: FRAC_PI_2.ln() + scale.ln(),
            sampler,
        })
    }

    /// The scale: the median of the distribution.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Distribution for HalfCauchy {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        rng.sample(self.sampler).abs()
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        // Also rejects NaN.
        if !(x.is_finite() && *x >= 0.0) {
            return f64::NEG_INFINITY;
        }
        let z = x / self.scale;
        let z2 = z * z;
        // ln(1 + z^2); where z^2 overflows, 1 is negligible and ln(z^2) = 2 (ln x - ln scale)
        // is finite (even where z itself overflows).
        let log1p_z2 = if z2.is_finite() {
            z2.ln_1p()
        } else {
            2.0 * (x.ln() - self.scale.ln())
        };
        -log1p_z2 - self.log_norm
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }

    fn mean(&self) -> Option<f64> {
        Some(f64::INFINITY)
    }

    fn variance(&self) -> Option<f64> {
        Some(f64::INFINITY)
    }
}

impl Cdf for HalfCauchy {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        // atan(inf) is exactly FRAC_PI_2, so the cdf reaches exactly 1.
        (x / self.scale).atan() / FRAC_PI_2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;
    use std::f64::consts::PI;

    fn build(p: &testing::Params) -> HalfCauchy {
        HalfCauchy::new(p.real("scale")).unwrap()
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
        // No finite moments: check those of atan(X / scale), which is Uniform(0, pi / 2) with mean
        // pi / 4 and variance pi^2 / 48.
        let d = HalfCauchy::new(3.0).unwrap();
        let mut r = testing::rng(31);
        let xs: Vec<f64> = (0..testing::MOMENT_DRAWS)
            .map(|_| (d.sample(&mut r) / 3.0).atan())
            .collect();
        testing::check_moments_of(&xs, PI / 4.0, PI * PI / 48.0, "atan(HalfCauchy / scale)");
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&HalfCauchy::new(0.3).unwrap(), 32);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = HalfCauchy::new(2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &[1.3200131641973465, 3.125844693872703, 0.10128237344233114],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = HalfCauchy::new(1.0).unwrap();
        assert_eq!(d.log_prob(&0.0), d.log_prob(&-0.0));
        assert!(d.log_prob(&0.0).is_finite());
        assert!(d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob(&-1e-300), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NAN), f64::NEG_INFINITY);
        // Far in the tail z^2 overflows, but the log-density is about -2 ln x - ln(pi / 2).
        let far = d.log_prob(&1e200);
        testing::assert_close(far, -2.0 * 1e200_f64.ln() - FRAC_PI_2.ln(), 1e-15, "tail");
        assert!(d.log_prob(&f64::MAX).is_finite());
        assert_eq!(d.cdf(0.0), 0.0);
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.variance(), Some(f64::INFINITY));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Ints(vec![1])), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Int(3)), d.log_prob(&3.0));
        let e = HalfCauchy::new(0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "HalfCauchy: invalid parameter scale = 0 (must be finite and > 0)"
        );
        assert_eq!(HalfCauchy::new(f64::NAN).unwrap_err().param, "scale");
        assert_eq!(HalfCauchy::new(f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(d.scale(), 1.0);
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            scale in 1e-6..1e6_f64,
            x in prop_oneof![0.0..1e6_f64, 1e6..f64::MAX],
        ) {
            let d = HalfCauchy::new(scale).unwrap();
            prop_assert!(d.log_prob(&x).is_finite());
        }

        #[test]
        fn invalid_scale_errors(scale in -1e6..=0.0_f64) {
            prop_assert!(HalfCauchy::new(scale).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            scale in 1e-3..1e3_f64,
            a in -10.0..1e6_f64,
            b in -10.0..1e6_f64,
        ) {
            let d = HalfCauchy::new(scale).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }
}
