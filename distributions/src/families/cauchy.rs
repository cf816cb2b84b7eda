//! The Cauchy distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use crate::special::{ln_abs_diff, standardise};
use pyro_tape::Real;
use rand::distr::StandardUniform;
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
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Cauchy, Distribution, Real};
///
/// let d = Cauchy::new(0.0, 1.0)?;
/// assert!((d.log_prob(&Real::from(0.0)) + std::f64::consts::PI.ln()).abs() < 1e-15);
/// assert_eq!(d.mean(), None);
/// assert!(Cauchy::new(0.0, 0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cauchy {
    loc: Real,
    scale: Real,
    /// `ln(pi scale)`.
    log_norm: f64,
}

const FAMILY: &str = "Cauchy";

impl Cauchy {
    /// A Cauchy distribution; `loc` must be finite and `scale` finite and `> 0`.
    pub fn new(loc: impl Into<Real>, scale: impl Into<Real>) -> Result<Self, ParamError> {
        let (loc, scale) = (loc.into(), scale.into());
        error::finite(FAMILY, "loc", loc.value())?;
        let s = error::positive(FAMILY, "scale", scale.value())?;
        Ok(Cauchy {
            loc,
            scale,
            // ln(pi) + ln(scale): pi scale would overflow for scale near f64::MAX.
            log_norm: PI.ln() + s.ln(),
        })
    }

    /// The median.
    pub fn loc(&self) -> Real {
        self.loc
    }

    /// The half width at half maximum.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// The draw `loc + scale tan(pi u)` for `u` uniform on `[0, 1)` (as `rand_distr`'s Cauchy
    /// draws it): the one formula of `sample` and `rsample` (`d/dloc = 1`,
    /// `d/dscale = tan(pi u)`).
    #[inline]
    fn draw<R: Rng + ?Sized>(loc: Real, scale: Real, rng: &mut R) -> Real {
        let u: f64 = rng.sample(StandardUniform);
        loc + scale * (PI * u).tan()
    }
}

impl Distribution for Cauchy {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        Cauchy::draw(detach(self.loc), detach(self.scale), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `loc + scale tan(pi u)`: `d/dloc = 1`, `d/dscale = tan(pi u)`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(Cauchy::draw(self.loc, self.scale, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        let (loc, scale) = (self.loc.value(), self.scale.value());
        let z = standardise(x, loc, scale);
        let z2 = z * z;
        // ln(1 + z^2); where z^2 overflows, 1 is negligible and ln(z^2) = 2 (ln|x - loc| -
        // ln scale) is finite (even where z itself, or x - loc, overflows).
        let log1p_z2 = if z2.is_finite() {
            z2.ln_1p()
        } else {
            2.0 * (ln_abs_diff(x, loc) - scale.ln())
        };
        -log1p_z2 - self.log_norm
    }

    /// `d/dx = -2 z / (scale (1 + z^2))`, `d/dloc = -d/dx` and
    /// `d/dscale = (z^2 - 1) / (scale (1 + z^2))` with `z = (x - loc) / scale`; where `z^2`
    /// overflows, their limits `-2 / (x - loc)` (computed as `-1 / (x/2 - loc/2)`, which does not
    /// overflow) and `1 / scale`, exact to far below an ulp.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.loc.is_constant() && self.scale.is_constant() {
            return;
        }
        let (x_value, loc, scale) = (x.value(), self.loc.value(), self.scale.value());
        let z = standardise(x_value, loc, scale);
        let z2 = z * z;
        let (d_x, d_scale) = if z2.is_finite() {
            let one_plus = 1.0 + z2;
            (-2.0 * z / one_plus / scale, (z2 - 1.0) / one_plus / scale)
        } else {
            (-1.0 / (0.5 * x_value - 0.5 * loc), 1.0 / scale)
        };
        partials.push(*x, d_x);
        partials.push(self.loc, -d_x);
        partials.push(self.scale, d_scale);
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
        let z = standardise(x, self.loc.value(), self.scale.value());
        1.0_f64.atan2(-z) / PI
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
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
        let mut rng = testing::rng(41);
        let xs: Vec<f64> = (0..testing::MOMENT_DRAWS)
            .map(|_| ((d.sample(&mut rng).value() + 4.0) / 0.5).atan())
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
            &rs(&[-0.3200131641973465, 4.125844693872703, 0.8987176265576688]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Cauchy::new(0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NEG_INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        // Far in the tail z^2 overflows, but the log-density is about -2 ln|x| - ln pi.
        let far = d.log_prob(&r(-1e200));
        testing::assert_close(far, -2.0 * 1e200_f64.ln() - PI.ln(), 1e-15, "tail");
        assert!(d.log_prob(&r(f64::MAX)).is_finite());
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
        assert_eq!(d.log_prob_value(&Value::Int(-2)), d.log_prob(&r(-2.0)));
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
        assert_eq!((d.loc(), d.scale()), (r(0.0), r(1.0)));
    }

    fn cauchy_at(v: &[Real]) -> (Cauchy, Real) {
        (Cauchy::new(v[1], v[2]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, loc, scale). The log-density's singularities in x (and loc) are at
        // x - loc = +-i scale, at distance hypot(x - loc, scale); the scale's nearest is 0.
        for &(x, loc, scale) in &[
            (0.3, 0.0, 1.0),
            (-2.5, 1.0, 0.5),
            (40.0, -3.0, 7.0),
            (1e-3, 1e-3, 1e-3),
            (1e4, -1e4, 3e3),
            (0.0, 0.0, 1e-6),
            (1.0, 0.0, 1.0),
            (-1e6, 2.0, 1e-3),
            (1e-300, -1e-300, 1e-300),
            (1e300, 0.0, 1e300),
            // z^2 overflows: the tail branch of both the log-density and the partials, also
            // where x - loc overflows.
            (1e200, 0.0, 1e-10),
            (-1e200, 5.0, 2.0),
            (f64::MAX / 2.0, -f64::MAX / 2.0, 1.0),
        ] {
            let s = (x - loc).hypot(scale).min(f64::MAX / 4.0);
            testing::check_log_prob_gradient(cauchy_at, &[x, loc, scale], &[s, s, scale]);
        }
        // Closed forms: at the median, d/dx = d/dloc = 0 and d/dscale = -1 / scale; at
        // x = loc + scale, d/dx = -1 / scale and d/dscale = 0.
        let grad = |point: [f64; 3]| {
            pyro_tape::gradient(&point, |v| {
                let (d, x) = cauchy_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        assert_eq!(grad([1.5, 1.5, 4.0]), vec![0.0, 0.0, -0.25]);
        assert_eq!(grad([3.0, 1.0, 2.0]), vec![-0.5, 0.5, 0.0]);
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e6..1e6_f64,
            scale in 1e-6..1e6_f64,
            x in prop_oneof![-1e6..1e6_f64, -1e300..1e300_f64],
        ) {
            let d = Cauchy::new(loc, scale).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
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

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // Inputs (loc, scale); the draw varies over the larger of |loc| and scale.
        for &(loc, scale) in &[(0.0_f64, 1.0), (2.0, 0.5), (-1e3, 30.0)] {
            let s = Some(f64::max(loc.abs(), scale));
            testing::check_rsample(|v| Cauchy::new(v[0], v[1]).unwrap(), &[loc, scale], &[s, s]);
        }
    }
}
