//! The Gumbel (type I extreme value) distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use crate::special::standardise;
use rand::{Rng, RngExt};
use std::f64::consts::PI;

/// The Euler-Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The Gumbel distribution `Gumbel(loc, scale)`, the distribution of the maximum of many
/// light-tailed draws, with mode `loc`.
///
/// # Density
/// With `z = (x - loc) / scale`, `p(x) = exp(-(z + exp(-z))) / scale` on the real line.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Gumbel};
///
/// let d = Gumbel::new(0.0, 1.0)?;
/// assert_eq!(d.log_prob(&0.0), -1.0);
/// assert!(Gumbel::new(0.0, 0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gumbel {
    loc: f64,
    scale: f64,
    ln_scale: f64,
    sampler: rand_distr::Gumbel<f64>,
}

const FAMILY: &str = "Gumbel";

impl Gumbel {
    /// A Gumbel distribution; `loc` must be finite and `scale` finite and `> 0`.
    pub fn new(loc: f64, scale: f64) -> Result<Self, ParamError> {
        let loc = error::finite(FAMILY, "loc", loc)?;
        let scale = error::positive(FAMILY, "scale", scale)?;
        let sampler = rand_distr::Gumbel::new(loc, scale)
            .map_err(|_| ParamError::new(FAMILY, "scale", scale, "must be finite and > 0"))?;
        Ok(Gumbel {
            loc,
            scale,
            ln_scale: scale.ln(),
            sampler,
        })
    }

    /// The location (the mode).
    pub fn loc(&self) -> f64 {
        self.loc
    }

    /// The scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Distribution for Gumbel {
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
        // Far in the left tail exp(-z) overflows; the log-density is then below -f64::MAX, so
        // -inf is its correctly rounded value (returned before z + exp(-z) can be -inf + inf).
        let z = standardise(*x, self.loc, self.scale);
        let e = (-z).exp();
        if e == f64::INFINITY {
            return f64::NEG_INFINITY;
        }
        -(z + e) - self.ln_scale
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        Some(self.loc + self.scale * EULER_GAMMA)
    }

    fn variance(&self) -> Option<f64> {
        let s = PI * self.scale;
        Some(s * s / 6.0)
    }
}

impl Cdf for Gumbel {
    fn cdf(&self, x: f64) -> f64 {
        let z = standardise(x, self.loc, self.scale);
        (-(-z).exp()).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Gumbel {
        Gumbel::new(p.real("loc"), p.real("scale")).unwrap()
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
        testing::check_sample_moments(&Gumbel::new(2.0, 0.5).unwrap(), 71);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Gumbel::new(-1.0, 3.0).unwrap(), 72);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = Gumbel::new(1.0, 2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &[4.165396139379642, 0.7324679308324218, 9.240932724582565],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Gumbel::new(0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NAN), f64::NEG_INFINITY);
        // The right tail is exponential: log p(x) -> -x.
        assert_eq!(d.log_prob(&800.0), -800.0);
        // The left tail is doubly exponential; exp(-z) overflows at z < -709.78.
        assert!(d.log_prob(&-709.0).is_finite());
        assert_eq!(d.log_prob(&-710.0), f64::NEG_INFINITY);
        assert_eq!(d.cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&2.0));
        let e = Gumbel::new(0.0, -2.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Gumbel: invalid parameter scale = -2 (must be finite and > 0)"
        );
        assert_eq!(Gumbel::new(f64::NAN, 1.0).unwrap_err().param, "loc");
        assert_eq!(
            Gumbel::new(f64::NEG_INFINITY, 1.0).unwrap_err().param,
            "loc"
        );
        assert_eq!(Gumbel::new(0.0, f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(Gumbel::new(0.0, f64::NAN).unwrap_err().param, "scale");
        assert_eq!((d.loc(), d.scale()), (0.0, 1.0));
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e6..1e6_f64,
            scale in 1e-6..1e6_f64,
            // The log-density is representable for z > -709 (see edges_and_errors).
            z in -700.0..1e6_f64,
        ) {
            let d = Gumbel::new(loc, scale).unwrap();
            prop_assert!(d.log_prob(&(loc + scale * z)).is_finite());
        }

        #[test]
        fn invalid_scale_errors(loc in -1e6..1e6_f64, scale in -1e6..=0.0_f64) {
            prop_assert!(Gumbel::new(loc, scale).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            loc in -10.0..10.0_f64,
            scale in 1e-3..1e3_f64,
            a in -1e4..1e4_f64,
            b in -1e4..1e4_f64,
        ) {
            let d = Gumbel::new(loc, scale).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }
}
