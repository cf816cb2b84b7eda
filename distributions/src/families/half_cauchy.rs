//! The half-Cauchy distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use pyro_tape::Real;
use rand::distr::StandardUniform;
use rand::{Rng, RngExt};
use std::f64::consts::{FRAC_PI_2, PI};

/// The half-Cauchy distribution `HalfCauchy(scale)`: `|Y|` for `Y ~ Cauchy(0, scale)`.
///
/// Its mean and variance are infinite.
///
/// # Density
/// `p(x) = 2 / (pi scale (1 + (x / scale)^2))` for `x >= 0` (the density is finite at 0).
///
/// The parameter and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, HalfCauchy, Real};
///
/// let d = HalfCauchy::new(1.0)?;
/// let expected = (2.0 / std::f64::consts::PI).ln();
/// assert!((d.log_prob(&Real::from(0.0)) - expected).abs() < 1e-15);
/// assert_eq!(d.log_prob(&Real::from(-0.5)), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(f64::INFINITY));
/// assert!(HalfCauchy::new(-1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HalfCauchy {
    scale: Real,
    /// `ln(pi scale / 2)`.
    log_norm: f64,
}

const FAMILY: &str = "HalfCauchy";

impl HalfCauchy {
    /// A half-Cauchy distribution; `scale` must be finite and `> 0`.
    pub fn new(scale: impl Into<Real>) -> Result<Self, ParamError> {
        let scale = scale.into();
        let s = error::positive(FAMILY, "scale", scale.value())?;
        Ok(HalfCauchy {
            scale,
            // ln(pi/2) + ln(scale): (pi/2) scale would overflow for scale near f64::MAX.
            log_norm: FRAC_PI_2.ln() + s.ln(),
        })
    }

    /// The scale: the median of the distribution.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// The draw `|scale tan(pi u)|` for `u` uniform on `[0, 1)`, the absolute value of a
    /// `Cauchy(0, scale)` draw: the one formula of `sample` and `rsample`
    /// (`d/dscale = |tan(pi u)|`).
    #[inline]
    fn draw<R: Rng + ?Sized>(scale: Real, rng: &mut R) -> Real {
        let u: f64 = rng.sample(StandardUniform);
        (scale * (PI * u).tan()).abs()
    }
}

impl Distribution for HalfCauchy {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        HalfCauchy::draw(detach(self.scale), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `|scale tan(pi u)|`: `d/dscale = |tan(pi u)|`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(HalfCauchy::draw(self.scale, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        // Also rejects NaN.
        if !(x.is_finite() && x >= 0.0) {
            return f64::NEG_INFINITY;
        }
        let scale = self.scale.value();
        let z = x / scale;
        let z2 = z * z;
        // ln(1 + z^2); where z^2 overflows, 1 is negligible and ln(z^2) = 2 (ln x - ln scale)
        // is finite (even where z itself overflows).
        let log1p_z2 = if z2.is_finite() {
            z2.ln_1p()
        } else {
            2.0 * (x.ln() - scale.ln())
        };
        -log1p_z2 - self.log_norm
    }

    /// `d/dx = -2 z / (scale (1 + z^2))` and `d/dscale = (z^2 - 1) / (scale (1 + z^2))` with
    /// `z = x / scale`; where `z^2` overflows, their limits `-2 / x` and `1 / scale` (exact to
    /// far below an ulp). At `x = 0` the derivative from inside the support (0 for the value).
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.scale.is_constant() {
            return;
        }
        let (x_value, scale) = (x.value(), self.scale.value());
        let z = x_value / scale;
        let z2 = z * z;
        let (d_x, d_scale) = if z2.is_finite() {
            let one_plus = 1.0 + z2;
            (-2.0 * z / one_plus / scale, (z2 - 1.0) / one_plus / scale)
        } else {
            (-2.0 / x_value, 1.0 / scale)
        };
        partials.push(*x, d_x);
        partials.push(self.scale, d_scale);
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
        (x / self.scale.value()).atan() / FRAC_PI_2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
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
        let mut rng = testing::rng(31);
        let xs: Vec<f64> = (0..testing::MOMENT_DRAWS)
            .map(|_| (d.sample(&mut rng).value() / 3.0).atan())
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
            &rs(&[1.3200131641973465, 3.125844693872703, 0.10128237344233114]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = HalfCauchy::new(1.0).unwrap();
        assert_eq!(d.log_prob(&r(0.0)), d.log_prob(&r(-0.0)));
        assert!(d.log_prob(&r(0.0)).is_finite());
        assert!(d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob(&r(-1e-300)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        // Far in the tail z^2 overflows, but the log-density is about -2 ln x - ln(pi / 2).
        let far = d.log_prob(&r(1e200));
        testing::assert_close(far, -2.0 * 1e200_f64.ln() - FRAC_PI_2.ln(), 1e-15, "tail");
        assert!(d.log_prob(&r(f64::MAX)).is_finite());
        assert_eq!(d.cdf(0.0), 0.0);
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.variance(), Some(f64::INFINITY));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Ints(vec![1])), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Int(3)), d.log_prob(&r(3.0)));
        let e = HalfCauchy::new(0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "HalfCauchy: invalid parameter scale = 0 (must be finite and > 0)"
        );
        assert_eq!(HalfCauchy::new(f64::NAN).unwrap_err().param, "scale");
        assert_eq!(HalfCauchy::new(f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(d.scale(), 1.0);
    }

    fn half_cauchy_at(v: &[Real]) -> (HalfCauchy, Real) {
        (HalfCauchy::new(v[1]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, scale). The value's length is its distance to the edge 0 (nearer than the
        // log-density's complex singularities at +-i scale); the scale's is its distance to 0.
        for &(x, scale) in &[
            (0.5, 1.0),
            (2.5, 0.7),
            (1e-3, 1.0),
            (1e-8, 1e-6),
            (3e3, 1e3),
            (1e5, 1e-2),
            (0.3, 40.0),
            (1e-200, 3e-200),
            (1e300, 1e300),
            // z^2 overflows: the tail branch of both the log-density and the partials.
            (1e200, 1e-10),
            (f64::MAX / 2.0, 1.0),
        ] {
            testing::check_log_prob_gradient(half_cauchy_at, &[x, scale], &[x, scale]);
        }
        // Closed forms: at the edge x = 0 (from inside), d/dx = 0 and d/dscale = -1 / scale; at
        // x = scale, d/dx = -1 / scale and d/dscale = 0.
        let grad = |x: f64, scale: f64| {
            pyro_tape::gradient(&[x, scale], |v| {
                let (d, x) = half_cauchy_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        assert_eq!(grad(0.0, 4.0), vec![0.0, -0.25]);
        assert_eq!(grad(2.0, 2.0), vec![-0.5, 0.0]);
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            scale in 1e-6..1e6_f64,
            x in prop_oneof![0.0..1e6_f64, 1e6..f64::MAX],
        ) {
            let d = HalfCauchy::new(scale).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
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

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        for scale in [1.0, 0.2, 50.0] {
            testing::check_rsample(|v| HalfCauchy::new(v[0]).unwrap(), &[scale], &[Some(scale)]);
        }
    }
}
