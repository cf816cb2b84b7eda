//! The Laplace (double exponential) distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use crate::special::standardise;
use rand::{Rng, RngExt};
use rand_distr::Exp1;

/// The Laplace distribution `Laplace(loc, scale)` with mean `loc` and variance `2 scale^2`.
///
/// # Density
/// `p(x) = exp(-|x - loc| / scale) / (2 scale)` on the real line.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Laplace};
///
/// let d = Laplace::new(0.0, 1.0)?;
/// assert!((d.log_prob(&0.0) + std::f64::consts::LN_2).abs() < 1e-15);
/// assert_eq!(d.variance(), Some(2.0));
/// assert!(Laplace::new(0.0, -1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Laplace {
    loc: f64,
    scale: f64,
    /// `ln(2 scale)`.
    log_norm: f64,
}

const FAMILY: &str = "Laplace";

impl Laplace {
    /// A Laplace distribution; `loc` must be finite and `scale` finite and `> 0`.
    pub fn new(loc: f64, scale: f64) -> Result<Self, ParamError> {
        let loc = error::finite(FAMILY, "loc", loc)?;
        let scale = error::positive(FAMILY, "scale", scale)?;
        Ok(Laplace {
            loc,
            scale,
            // ln 2 + ln(scale): 2 scale would overflow for scale near f64::MAX.
            log_norm: std::f64::consts::LN_2 + scale.ln(),
        })
    }

    /// The mean (and median).
    pub fn loc(&self) -> f64 {
        self.loc
    }

    /// The scale: the mean absolute deviation from `loc`.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Distribution for Laplace {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // |X - loc| / scale ~ Exp(1), with an independent fair sign.
        let e: f64 = rng.sample(Exp1);
        if rng.random::<bool>() {
            self.loc + self.scale * e
        } else {
            self.loc - self.scale * e
        }
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        -standardise(*x, self.loc, self.scale).abs() - self.log_norm
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        Some(self.loc)
    }

    fn variance(&self) -> Option<f64> {
        Some(2.0 * self.scale * self.scale)
    }
}

impl Cdf for Laplace {
    fn cdf(&self, x: f64) -> f64 {
        let z = standardise(x, self.loc, self.scale);
        if z < 0.0 {
            0.5 * z.exp()
        } else {
            1.0 - 0.5 * (-z).exp()
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

    fn build(p: &testing::Params) -> Laplace {
        Laplace::new(p.real("loc"), p.real("scale")).unwrap()
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
        testing::check_sample_moments(&Laplace::new(-3.0, 1.5).unwrap(), 61);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Laplace::new(0.5, 2.0).unwrap(), 62);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = Laplace::new(1.0, 2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &[-1.1280409159810367, 3.9995015482890923, 3.9184015441342477],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Laplace::new(0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NAN), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&1.0), d.log_prob(&-1.0));
        assert_eq!(d.cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.cdf(0.0), 0.5);
        assert_eq!(d.log_prob_value(&Value::Bool(false)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(-3)), d.log_prob(&-3.0));
        let e = Laplace::new(0.0, 0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Laplace: invalid parameter scale = 0 (must be finite and > 0)"
        );
        assert_eq!(Laplace::new(f64::NAN, 1.0).unwrap_err().param, "loc");
        assert_eq!(Laplace::new(f64::INFINITY, 1.0).unwrap_err().param, "loc");
        assert_eq!(Laplace::new(0.0, f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(Laplace::new(0.0, f64::NAN).unwrap_err().param, "scale");
        assert_eq!((d.loc(), d.scale()), (0.0, 1.0));
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e6..1e6_f64,
            scale in 1e-6..1e6_f64,
            x in -1e6..1e6_f64,
        ) {
            let d = Laplace::new(loc, scale).unwrap();
            prop_assert!(d.log_prob(&x).is_finite());
        }

        #[test]
        fn invalid_scale_errors(loc in -1e6..1e6_f64, scale in -1e6..=0.0_f64) {
            prop_assert!(Laplace::new(loc, scale).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            loc in -10.0..10.0_f64,
            scale in 1e-3..1e3_f64,
            a in -1e4..1e4_f64,
            b in -1e4..1e4_f64,
        ) {
            let d = Laplace::new(loc, scale).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }
}
