//! The half-normal distribution.

use super::normal::LN_SQRT_2PI;
use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use pyro_tape::Real;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_PI, LN_2};

/// The half-normal distribution `HalfNormal(scale)`: `|Y|` for `Y ~ Normal(0, scale)`.
///
/// # Density
/// `p(x) = sqrt(2 / pi) exp(-x^2 / (2 scale^2)) / scale` for `x >= 0` (the density is finite at
/// 0).
///
/// The parameter and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, HalfNormal, Real};
///
/// let d = HalfNormal::new(1.0)?;
/// let expected = (2.0 / std::f64::consts::PI).sqrt().ln();
/// assert!((d.log_prob(&Real::from(0.0)) - expected).abs() < 1e-15);
/// assert_eq!(d.log_prob(&Real::from(-1e-9)), f64::NEG_INFINITY);
/// assert!(HalfNormal::new(0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HalfNormal {
    scale: Real,
    /// `ln(scale) + ln(sqrt(2 pi)) - ln 2`.
    log_norm: f64,
}

const FAMILY: &str = "HalfNormal";

impl HalfNormal {
    /// A half-normal distribution; `scale` must be finite and `> 0`.
    pub fn new(scale: impl Into<Real>) -> Result<Self, ParamError> {
        let scale = scale.into();
        error::positive(FAMILY, "scale", scale.value())?;
        Ok(HalfNormal {
            scale,
            log_norm: scale.value().ln() + LN_SQRT_2PI - LN_2,
        })
    }

    /// The scale of the underlying normal distribution.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// The draw `scale |z|` for a standard normal `z`: the one formula of `sample` and
    /// `rsample` (`d/dscale = |z|`).
    #[inline]
    fn draw<R: Rng + ?Sized>(scale: Real, rng: &mut R) -> Real {
        let z: f64 = rng.sample(StandardNormal);
        scale * z.abs()
    }
}

impl Distribution for HalfNormal {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        HalfNormal::draw(detach(self.scale), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `scale |z|`: `d/dscale = |z|`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(HalfNormal::draw(self.scale, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        // Also rejects NaN.
        if !(x.is_finite() && x >= 0.0) {
            return f64::NEG_INFINITY;
        }
        let z = x / self.scale.value();
        -0.5 * z * z - self.log_norm
    }

    /// `d/dx = -z / scale` and `d/dscale = (z^2 - 1) / scale` with `z = x / scale`; at `x = 0`
    /// the derivative from inside the support (0 for the value).
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.scale.is_constant() {
            return;
        }
        let scale = self.scale.value();
        let z = x.value() / scale;
        partials.push(*x, -z / scale);
        partials.push(self.scale, (z * z - 1.0) / scale);
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }

    fn mean(&self) -> Option<f64> {
        Some(self.scale.value() * FRAC_2_PI.sqrt())
    }

    fn variance(&self) -> Option<f64> {
        let scale = self.scale.value();
        Some(scale * (scale * (1.0 - FRAC_2_PI)))
    }
}

impl Cdf for HalfNormal {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        // x / scale first: scale sqrt(2) may overflow (and inf / inf is NaN).
        libm::erf(x / self.scale.value() * FRAC_1_SQRT_2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
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
            &rs(&[1.6687950936875917, 1.02992585629459, 2.8154551462395]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = HalfNormal::new(1.0).unwrap();
        assert_eq!(d.log_prob(&r(0.0)), d.log_prob(&r(-0.0)));
        assert!(d.log_prob(&r(0.0)).is_finite());
        assert!(d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob(&r(-1e-300)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NEG_INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        assert_eq!(d.cdf(0.0), 0.0);
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.log_prob_value(&Value::Bool(false)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.5])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&r(2.0)));
        let e = HalfNormal::new(-2.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "HalfNormal: invalid parameter scale = -2 (must be finite and > 0)"
        );
        assert_eq!(HalfNormal::new(f64::NAN).unwrap_err().param, "scale");
        assert_eq!(HalfNormal::new(f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(d.scale(), 1.0);
    }

    fn half_normal_at(v: &[Real]) -> (HalfNormal, Real) {
        (HalfNormal::new(v[1]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, scale). The value's length is its distance to the edge 0, or the scale if
        // shorter (over which the quadratic varies); the scale's is its distance to 0.
        for &(x, scale) in &[
            (0.5, 1.0),
            (2.5, 0.7),
            (1e-3, 1.0),
            (1e-8, 1e-6),
            (3e3, 1e3),
            (1e5, 1e2),
            (0.3, 40.0),
            (1e-200, 3e-200),
            (1e300, 1e300),
            (7.0, 1e-2),
        ] {
            testing::check_log_prob_gradient(half_normal_at, &[x, scale], &[x.min(scale), scale]);
        }
        // Closed forms: at the edge x = 0 (from inside), d/dx = 0 and d/dscale = -1 / scale; at
        // x = scale, d/dscale = 0 and d/dx = -1 / scale.
        let grad = |x: f64, scale: f64| {
            pyro_tape::gradient(&[x, scale], |v| {
                let (d, x) = half_normal_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        assert_eq!(grad(0.0, 4.0), vec![0.0, -0.25]);
        assert_eq!(grad(2.0, 2.0), vec![-0.5, 0.0]);
        // Outside the support the log-density is a constant -inf.
        let lp = HalfNormal::new(Real::from(1.0))
            .unwrap()
            .log_prob_real(&r(-1.0));
        assert!(lp.is_constant() && lp == f64::NEG_INFINITY);
    }

    proptest! {
        #[test]
        fn finite_inside_support(scale in 1e-6..1e6_f64, x in 0.0..1e6_f64) {
            let d = HalfNormal::new(scale).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
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

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        for scale in [0.5, 3.0, 1e-3] {
            testing::check_rsample(|v| HalfNormal::new(v[0]).unwrap(), &[scale], &[Some(scale)]);
        }
    }
}
