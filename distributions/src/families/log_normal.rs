//! The log-normal distribution.

use super::normal::LN_SQRT_2PI;
use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use pyro_tape::Real;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// The log-normal distribution `LogNormal(loc, scale)`: `exp(Y)` for `Y ~ Normal(loc, scale)`.
///
/// # Density
/// `p(x) = exp(-(ln x - loc)^2 / (2 scale^2)) / (x scale sqrt(2 pi))` for `x > 0`. The density
/// tends to 0 at `x = 0`, so `log_prob(0) = -inf`.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, LogNormal, Real};
///
/// let d = LogNormal::new(0.0, 1.0)?;
/// assert!((d.log_prob(&Real::from(1.0)) + 0.918_938_533_204_672_8).abs() < 1e-15);
/// assert_eq!(d.log_prob(&Real::from(0.0)), f64::NEG_INFINITY);
/// assert!(LogNormal::new(0.0, -1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogNormal {
    loc: Real,
    scale: Real,
    /// `ln(scale) + ln(sqrt(2 pi))`.
    log_norm: f64,
}

const FAMILY: &str = "LogNormal";

impl LogNormal {
    /// A log-normal distribution; `loc` must be finite and `scale` finite and `> 0`.
    pub fn new(loc: impl Into<Real>, scale: impl Into<Real>) -> Result<Self, ParamError> {
        let (loc, scale) = (loc.into(), scale.into());
        error::finite(FAMILY, "loc", loc.value())?;
        let s = error::positive(FAMILY, "scale", scale.value())?;
        Ok(LogNormal {
            loc,
            scale,
            log_norm: s.ln() + LN_SQRT_2PI,
        })
    }

    /// The mean of `ln X`.
    pub fn loc(&self) -> Real {
        self.loc
    }

    /// The standard deviation of `ln X`.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// The draw `exp(loc + scale z)` for a standard normal `z` (as `rand_distr`'s log-normal
    /// draws it): the one formula of `sample` and `rsample` (`d/dloc = x`, `d/dscale = x z`).
    #[inline]
    fn draw<R: Rng + ?Sized>(loc: Real, scale: Real, rng: &mut R) -> Real {
        let z: f64 = rng.sample(StandardNormal);
        (loc + scale * z).exp()
    }
}

impl Distribution for LogNormal {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        LogNormal::draw(detach(self.loc), detach(self.scale), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `exp(loc + scale z)`: `d/dloc = x`, `d/dscale = x z`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(LogNormal::draw(self.loc, self.scale, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        // Also rejects NaN; at 0 the density's limit is 0.
        if !(x.is_finite() && x > 0.0) {
            return f64::NEG_INFINITY;
        }
        let ln_x = x.ln();
        let z = (ln_x - self.loc.value()) / self.scale.value();
        -0.5 * z * z - ln_x - self.log_norm
    }

    /// `d/dx = -(z / scale + 1) / x`, `d/dloc = z / scale` and `d/dscale = (z^2 - 1) / scale`
    /// with `z = (ln x - loc) / scale`.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.loc.is_constant() && self.scale.is_constant() {
            return;
        }
        let scale = self.scale.value();
        let z = (x.value().ln() - self.loc.value()) / scale;
        let z_over_scale = z / scale;
        partials.push(*x, -(z_over_scale + 1.0) / x.value());
        partials.push(self.loc, z_over_scale);
        partials.push(self.scale, (z * z - 1.0) / scale);
    }

    fn support(&self) -> Constraint {
        Constraint::Positive
    }

    fn mean(&self) -> Option<f64> {
        let (loc, scale) = (self.loc.value(), self.scale.value());
        Some((loc + 0.5 * scale * scale).exp())
    }

    fn variance(&self) -> Option<f64> {
        // exp(2 loc + 2 s^2) (1 - exp(-s^2)), in logs: neither factor may overflow or underflow
        // alone while the product is finite. Where s^2 is not a normal double,
        // ln(1 - exp(-s^2)) = 2 ln s (to far below an ulp), which stays finite; loc + s^2 cannot
        // be NaN, so neither can the sum.
        let s = self.scale.value();
        let s2 = s * s;
        let ln_one_minus = if s2.is_normal() {
            (-(-s2).exp_m1()).ln()
        } else if s2 == f64::INFINITY {
            0.0
        } else {
            2.0 * s.ln()
        };
        Some((2.0 * (self.loc.value() + s2) + ln_one_minus).exp())
    }
}

impl Cdf for LogNormal {
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if x == f64::INFINITY {
            return 1.0;
        }
        // Standardised first: scale sqrt(2) may overflow.
        let z = (x.ln() - self.loc.value()) / self.scale.value();
        0.5 * libm::erfc(-z * std::f64::consts::FRAC_1_SQRT_2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> LogNormal {
        LogNormal::new(p.real("loc"), p.real("scale")).unwrap()
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&LogNormal::new(0.5, 0.4).unwrap(), 11);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&LogNormal::new(-1.0, 1.5).unwrap(), 12);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = LogNormal::new(1.0, 0.5).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &rs(&[4.125547645095556, 2.1012208562547365, 5.495138468624684]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = LogNormal::new(0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&r(0.0)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(-0.0)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(-1.0)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        assert!(d.log_prob(&r(f64::MIN_POSITIVE)).is_finite());
        assert!(d.log_prob(&r(f64::MAX)).is_finite());
        assert_eq!(d.cdf(0.0), 0.0);
        assert_eq!(d.cdf(-3.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert!(!d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(1)), d.log_prob(&r(1.0)));
        let e = LogNormal::new(0.0, 0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "LogNormal: invalid parameter scale = 0 (must be finite and > 0)"
        );
        assert_eq!(LogNormal::new(f64::NAN, 1.0).unwrap_err().param, "loc");
        assert_eq!(LogNormal::new(f64::INFINITY, 1.0).unwrap_err().param, "loc");
        assert_eq!(
            LogNormal::new(0.0, f64::INFINITY).unwrap_err().param,
            "scale"
        );
        assert_eq!(LogNormal::new(0.0, f64::NAN).unwrap_err().param, "scale");
        // Moments where a naive product would give inf * 0: the variance is about 1 here.
        let v = LogNormal::new(-1e6, 1e3).unwrap().variance().unwrap();
        testing::assert_close(v, 1.0, 1e-9, "variance");
        assert_eq!(
            LogNormal::new(0.0, 30.0).unwrap().variance(),
            Some(f64::INFINITY)
        );
        assert_eq!(d.loc(), 0.0);
        assert_eq!(d.scale(), 1.0);
    }

    fn log_normal_at(v: &[Real]) -> (LogNormal, Real) {
        (LogNormal::new(v[1], v[2]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, loc, scale). The log-density is a quadratic in ln x, whose singularity is
        // x = 0: the value's length is x, or x scale where ln x moves by a scale sooner; loc's
        // is the scale (over which the quadratic varies, as for Normal); the scale's is its
        // distance to 0.
        for &(x, loc, scale) in &[
            (1.0, 0.0, 1.0_f64),
            (0.3, 0.5, 0.4),
            (40.0, 1.0, 2.0),
            (1e-3, 0.0, 1.0),
            (1e-300, -690.0, 1.0),
            (1e300, 0.0, 30.0),
            (2.0, 0.7, 1e-3),
            (5e-5, 3.0, 1e2),
            (f64::MAX / 2.0, 700.0, 5.0),
            (f64::MIN_POSITIVE, 0.0, 1e3),
        ] {
            let sx = x * scale.min(1.0);
            testing::check_log_prob_gradient(log_normal_at, &[x, loc, scale], &[sx, scale, scale]);
        }
        // Closed forms: at x = exp(loc), d/dloc = 0, d/dscale = -1 / scale and d/dx = -1 / x.
        let grad = |point: [f64; 3]| {
            pyro_tape::gradient(&point, |v| {
                let (d, x) = log_normal_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        assert_eq!(grad([1.0, 0.0, 4.0]), vec![-1.0, 0.0, -0.25]);
        // The mode exp(loc - scale^2), where d/dx = 0: loc = 1, scale = 1, x = 1.
        assert_eq!(grad([1.0, 1.0, 1.0]), vec![0.0, -1.0, 0.0]);
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e3..1e3_f64,
            scale in 1e-3..1e3_f64,
            x in prop_oneof![1e-300..1e-3_f64, 1e-3..1e3_f64, 1e3..1e300_f64],
        ) {
            let d = LogNormal::new(loc, scale).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_scale_errors(loc in -1e6..1e6_f64, scale in -1e6..=0.0_f64) {
            prop_assert!(LogNormal::new(loc, scale).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            loc in -10.0..10.0_f64,
            scale in 1e-2..10.0_f64,
            a in -10.0..1e4_f64,
            b in -10.0..1e4_f64,
        ) {
            let d = LogNormal::new(loc, scale).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // Inputs (loc, scale): x = exp(loc + scale z) varies over 1 along loc, and along the
        // scale over at most the scale (x''' / x' = z^2 for the scale, with |z| < 10).
        for &(loc, scale) in &[(0.3, 0.5), (-2.0, 1.5), (5.0, 0.01)] {
            testing::check_rsample(
                |v| LogNormal::new(v[0], v[1]).unwrap(),
                &[loc, scale],
                &[Some(1.0), Some(scale.min(1.0))],
            );
        }
    }
}
