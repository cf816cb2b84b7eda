//! The Cauchy distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use crate::special::{ln_abs_diff, standardise};
use rand::{Rng, RngExt};
use std::f64::consts::PI;

/// The Cauchy distribution `Cauchy(loc, scale)` with median `loc` and half width at half maximum
/// `scale`.
///
/// Its mean and variance are undefined (`None`).
///
/// # Density
/// `p(x) = 1 / (pi scale (1 + ((x - loc) / scale)^2))` on the real line.
///
/// # Example
/// ```
/// use pyro_distributions::{Cauchy, Distribution};
///
/// let d = Cauchy::new(0.0, 1.0)?;
/// assert!((d.log_prob(&0.0) + std::f64::consts::PI.ln()).abs() < 1e-15);
/// assert_eq!(d.mean(), None);
/// assert!(Cauchy::new(0.0, 0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cauchy {
    loc: f64,
    scale: f64,
    /// `ln(pi scale)`.
    log_norm: f64,
    sampler: rand_distr::Cauchy<f64>,
}

const FAMILY: &str = "Cauchy";

impl Cauchy {
    /// A Cauchy distribution; `loc` must be finite and `scale` finite and `> 0`.
    pub fn new(loc: f64, scale: f64) -> Result<Self, ParamError> {
        let loc = error::finite(FAMILY, "loc", loc)?;
        let scale = error::positive(FAMILY, "scale", scale)?;
        let sampler = rand_distr::Cauchy::new(loc, scale)
            .map_err(|_| ParamError::new(FAMILY, "scale", scale, "must be finite and > 0"))?;
        Ok(Cauchy {
            loc,
            scale,
            // ln(pi) + ln(scale): pi scale would overflow for scale near f64::MAX.
            log_norm: PI.ln() + scale.ln(),
            sampler,
        })
    }

    /// The median.
    pub fn loc(&self) -> f64 {
        self.loc
    }

    /// The half width at half maximum.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Distribution for Cauchy {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        rng.sample(self.sampler)
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        let z = standardise(*x, self.loc, self.scale);
        let z2 = z * z;
        // ln(1 + z^2); where z^2 overflows, 1 is negligible and ln(z^2) = 2 (ln|x - loc| -
        // ln scale) is finite (even where z itself, or x - loc, overflows).
        let log1p_z2 = if z2.is_finite() {
            z2.ln_1p()
        } else {
            2.0 * (ln_abs_diff(*x, self.loc) - self.scale.ln())
        };
        -log1p_z2 - self.log_norm
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        None
    }

    fn variance(&self) -> Option<f64> {
        None
    }
}

impl Cdf for Cauchy {
    fn cdf(&self, x: f64) -> f64 {
        // 1/2 + atan(z) / pi, written as atan2(1, -z) / pi: no cancellation in the left tail,
        // and exactly 0 and 1 at -inf and +inf.
        let z = standardise(x, self.loc, self.scale);
        1.0_f64.atan2(-z) / PI
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Cauchy {
        Cauchy::new(p.real("loc"), p.real("scale")).unwrap()
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
        // No moments: check those of atan((X - loc) / scale), which is Uniform(-pi / 2, pi / 2)
        // with mean 0 and variance pi^2 / 12.
        let d = Cauchy::new(-4.0, 0.5).unwrap();
        let mut r = testing::rng(41);
        let xs: Vec<f64> = (0..testing::MOMENT_DRAWS)
            .map(|_| ((d.sample(&mut r) + 4.0) / 0.5).atan())
            .collect();
        testing::check_moments_of(&xs, 0.0, PI * PI / 12.0, "atan((Cauchy - loc) / scale)");
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Cauchy::new(2.0, 3.0).unwrap(), 42);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = Cauchy::new(1.0, 2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &[-0.3200131641973465, 4.125844693872703, 0.8987176265576688],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Cauchy::new(0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NAN), f64::NEG_INFINITY);
        // Far in the tail z^2 overflows, but the log-density is about -2 ln|x| - ln pi.
        let far = d.log_prob(&-1e200);
        testing::assert_close(far, -2.0 * 1e200_f64.ln() - PI.ln(), 1e-15, "tail");
        assert!(d.log_prob(&f64::MAX).is_finite());
        assert_eq!(d.cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.cdf(0.0), 0.5);
        // The left tail keeps its relative precision: cdf(x) ~ 1 / (pi |x|).
        assert!((d.cdf(-1e20) * PI * 1e20 - 1.0).abs() < 1e-14);
        assert_eq!(d.variance(), None);
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(-2)), d.log_prob(&-2.0));
        let e = Cauchy::new(0.0, -1.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Cauchy: invalid parameter scale = -1.5 (must be finite and > 0)"
        );
        assert_eq!(Cauchy::new(f64::NAN, 1.0).unwrap_err().param, "loc");
        assert_eq!(
            Cauchy::new(f64::NEG_INFINITY, 1.0).unwrap_err().param,
            "loc"
        );
        assert_eq!(Cauchy::new(0.0, f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(Cauchy::new(0.0, f64::NAN).unwrap_err().param, "scale");
        assert_eq!((d.loc(), d.scale()), (0.0, 1.0));
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e6..1e6_f64,
            scale in 1e-6..1e6_f64,
            x in prop_oneof![-1e6..1e6_f64, -1e300..1e300_f64],
        ) {
            let d = Cauchy::new(loc, scale).unwrap();
            prop_assert!(d.log_prob(&x).is_finite());
        }

        #[test]
        fn invalid_scale_errors(loc in -1e6..1e6_f64, scale in -1e6..=0.0_f64) {
            prop_assert!(Cauchy::new(loc, scale).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            loc in -10.0..10.0_f64,
            scale in 1e-3..1e3_f64,
            a in -1e6..1e6_f64,
            b in -1e6..1e6_f64,
        ) {
            let d = Cauchy::new(loc, scale).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }
}
