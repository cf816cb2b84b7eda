//! The Pareto distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::{clamp, detach};
use pyro_tape::Real;
use rand::distr::OpenClosed01;
use rand::{Rng, RngExt};

/// The Pareto (type I) distribution `Pareto(scale, alpha)` on `[scale, inf)`.
///
/// # Density
/// `p(x) = alpha scale^alpha / x^(alpha + 1)` for `x >= scale`, and `0` below `scale`.
///
/// The mean is `alpha scale / (alpha - 1)` for `alpha > 1` and infinite otherwise; the variance
/// is `scale^2 alpha / ((alpha - 1)^2 (alpha - 2))` for `alpha > 2` and infinite otherwise (as
/// torch and SciPy report them). Draws are clamped at `f64::MAX`, so a heavy-tailed draw never
/// overflows to infinity.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape (`d/dx = -(alpha + 1) / x`, `d/dscale = alpha / scale`,
/// `d/dalpha = 1 / alpha - ln(x / scale)`). At the lower end `x = scale` the partials are those
/// from inside the support (the density is `0` for a larger scale).
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Pareto, Real};
///
/// let d = Pareto::new(1.0, 2.0)?;
/// assert!((d.log_prob(&Real::from(1.0)) - 2.0_f64.ln()).abs() < 1e-15);
/// assert_eq!(d.log_prob(&Real::from(0.999)), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(2.0));
/// assert_eq!(d.variance(), Some(f64::INFINITY));
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pareto {
    scale: Real,
    alpha: Real,
    /// `ln(alpha / scale)`.
    log_norm: f64,
    /// `ln(scale)`.
    ln_scale: f64,
    /// `-(alpha + 1)`.
    neg_alpha_p1: f64,
}

const FAMILY: &str = "Pareto";

impl Pareto {
    /// A Pareto distribution; `scale` (the minimum) and `alpha` (the tail index) must be finite
    /// and `> 0`.
    pub fn new(scale: impl Into<Real>, alpha: impl Into<Real>) -> Result<Self, ParamError> {
        let (scale_real, alpha_real) = (scale.into(), alpha.into());
        let scale = error::positive(FAMILY, "scale", scale_real.value())?;
        let alpha = error::positive(FAMILY, "alpha", alpha_real.value())?;
        let ln_scale = scale.ln();
        Ok(Pareto {
            scale: scale_real,
            alpha: alpha_real,
            log_norm: alpha.ln() - ln_scale,
            ln_scale,
            neg_alpha_p1: -(alpha + 1.0),
        })
    }

    /// The minimum value.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// The tail index.
    pub fn alpha(&self) -> Real {
        self.alpha
    }

    /// The draw `scale u^(-1/alpha)` for `u` uniform on `(0, 1]` (as `rand_distr`'s Pareto
    /// draws it, `-1/alpha` rounded once), clamped at `f64::MAX`: the one formula of `sample`
    /// and `rsample` (`d/dscale = x / scale`, `d/dalpha = x ln(u) / alpha^2`; 0 where clamped).
    #[inline]
    fn draw<R: Rng + ?Sized>(scale: Real, alpha: Real, rng: &mut R) -> Real {
        let u: f64 = rng.sample(OpenClosed01);
        let x = scale * Real::constant(u).powf(-1.0 / alpha);
        clamp(x, f64::NEG_INFINITY, f64::MAX)
    }

    /// `ln(x / scale)` for finite `x >= scale`: accurate near the lower end, where
    /// `ln x - ln scale` would cancel; the quotient overflows only for `x` beyond
    /// `scale * f64::MAX`, where the difference of logarithms is taken.
    #[inline]
    fn ln_ratio(&self, x: f64) -> f64 {
        let r = x / self.scale.value();
        if r < f64::INFINITY {
            r.ln()
        } else {
            x.ln() - self.ln_scale
        }
    }
}

impl Distribution for Pareto {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        Pareto::draw(detach(self.scale), detach(self.alpha), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `scale u^(-1/alpha)`: `d/dscale = x / scale`, `d/dalpha = x ln(u) / alpha^2` (0 where the
    /// draw is clamped at `f64::MAX`).
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(Pareto::draw(self.scale, self.alpha, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        if x >= self.scale.value() && x < f64::INFINITY {
            self.log_norm + self.neg_alpha_p1 * self.ln_ratio(x)
        } else {
            f64::NEG_INFINITY
        }
    }

    /// `d/dx = -(alpha + 1) / x`, `d/dscale = alpha / scale` and
    /// `d/dalpha = 1 / alpha - ln(x / scale)`.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.scale.is_constant() && self.alpha.is_constant() {
            return;
        }
        let (scale, alpha, x_value) = (self.scale.value(), self.alpha.value(), x.value());
        partials.push(*x, self.neg_alpha_p1 / x_value);
        partials.push(self.scale, alpha / scale);
        if !self.alpha.is_constant() {
            partials.push(self.alpha, 1.0 / alpha - self.ln_ratio(x_value));
        }
    }

    fn support(&self) -> Constraint {
        Constraint::GreaterThanEq(self.scale.value())
    }

    fn mean(&self) -> Option<f64> {
        let a = self.alpha.value();
        Some(if a > 1.0 {
            // a / (a - 1) is at most 4.5e15 (a > 1 is at least 1 + 2.2e-16), so only a mean
            // beyond f64::MAX overflows (a scale would, for a near f64::MAX).
            self.scale.value() * (a / (a - 1.0))
        } else {
            f64::INFINITY
        })
    }

    fn variance(&self) -> Option<f64> {
        let a = self.alpha.value();
        Some(if a > 2.0 {
            let m = self.scale.value() / (a - 1.0);
            // Not m^2 a / (a - 2), whose m^2 may overflow or underflow where the variance does
            // not.
            m * (m * (a / (a - 2.0)))
        } else {
            f64::INFINITY
        })
    }
}

impl Cdf for Pareto {
    /// `1 - (scale / x)^alpha` for `x >= scale`.
    fn cdf(&self, x: f64) -> f64 {
        if x <= self.scale.value() {
            0.0
        } else if x.is_nan() {
            x
        } else {
            // 1 - (scale / x)^alpha; ln(x / scale) in logs where the quotient overflows, which
            // for a small alpha still leaves the cdf well below 1.
            -(-self.alpha.value() * self.ln_ratio(x)).exp_m1()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Pareto {
        Pareto::new(p.real("scale"), p.real("alpha")).unwrap()
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        // The fourth moment is finite for alpha > 4.
        testing::check_sample_moments(&Pareto::new(2.0, 6.0).unwrap(), 1);
        testing::check_sample_moments(&Pareto::new(0.01, 10.0).unwrap(), 2);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Pareto::new(1.0, 2.0).unwrap(), 3);
        testing::ks_test(&Pareto::new(0.01, 0.5).unwrap(), 4);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &Pareto::new(1.0, 2.0).unwrap(),
            42,
            &rs(&[1.1081700552700595, 1.7710324263845432, 1.0081515143308242]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let e = Pareto::new(0.0, 2.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Pareto: invalid parameter scale = 0 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Pareto::new(bad, 1.0).unwrap_err().param, "scale");
            assert_eq!(Pareto::new(1.0, bad).unwrap_err().param, "alpha");
        }
        let d = Pareto::new(2.0, 3.0).unwrap();
        assert!((d.log_prob(&r(2.0)) - 1.5_f64.ln()).abs() < 1e-15);
        for x in [
            1.999_999_999,
            0.0,
            -1.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(d.log_prob(&r(x)), f64::NEG_INFINITY, "x = {x}");
        }
        assert!(d.support().contains(&Value::Real(2.0)));
        assert!(!d.support().contains(&Value::Real(1.999)));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![3.0])),
            f64::NEG_INFINITY
        );
        assert_eq!((d.cdf(2.0), d.cdf(f64::INFINITY)), (0.0, 1.0));
        assert_eq!((d.scale().value(), d.alpha().value()), (2.0, 3.0));
        assert_eq!(Pareto::new(1.0, 1.0).unwrap().mean(), Some(f64::INFINITY));
        // x / scale overflows; the density is still representable.
        let d = Pareto::new(1e-10, 0.5).unwrap();
        let expected = 0.5_f64.ln() + 0.5 * 1e-10_f64.ln() - 1.5 * 1e300_f64.ln();
        testing::assert_close(d.log_prob(&r(1e300)), expected, 1e-14, "log_prob(1e300)");
        // Heavy tails: alpha = 0.01 draws overflow an f64 with probability ~0.1%.
        let d = Pareto::new(1.0, 0.01).unwrap();
        let mut r = testing::rng(6);
        for _ in 0..5000 {
            let x = d.sample(&mut r);
            assert!(d.log_prob(&x).is_finite(), "draw {x}");
        }
    }

    fn pareto_at(v: &[Real]) -> (Pareto, Real) {
        (Pareto::new(v[1], v[2]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, scale, alpha); the support's lower end is the scale, so the scales of x and
        // of the scale are the distance x - scale to it (or to 0 for the scale, if nearer).
        for &(x, scale, alpha) in &[
            (3.0_f64, 1.0_f64, 2.0_f64),
            (1.5, 1.0, 0.5),
            (1.001, 1.0, 3.0),
            (1e300, 1e-10, 0.5),
            (3e-300, 1e-300, 1e3),
            (50.0, 2.0, 1e-6),
            (2e10, 1e10, 1e8),
        ] {
            let gap = x - scale;
            let scales = [gap, gap.min(scale), alpha];
            testing::check_log_prob_gradient(pareto_at, &[x, scale, alpha], &scales);
        }
    }

    #[test]
    fn gradient_closed_forms() {
        // Pareto(2, 3) at its lower end 2, with the partials from inside the support:
        // d/dx = -4 / 2, d/dscale = 3 / 2, d/dalpha = 1 / 3 - ln 1.
        let (lp, g) = pyro_tape::gradient(&[2.0, 2.0, 3.0], |v| {
            let (d, x) = pareto_at(v);
            Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
        })
        .unwrap();
        assert!((lp - 1.5_f64.ln()).abs() < 1e-15);
        assert_eq!(g, vec![-2.0, 1.5, 1.0 / 3.0]);
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            scale in 1e-6..1e6_f64, alpha in 1e-3..1e3_f64, t in 1.0..1e6_f64,
        ) {
            let d = Pareto::new(scale, alpha).unwrap();
            prop_assert!(d.log_prob(&r(scale * t)).is_finite());
        }

        #[test]
        fn invalid_params_error(bad in -1e6..=0.0_f64, good in 1e-3..1e3_f64) {
            prop_assert!(Pareto::new(bad, good).is_err());
            prop_assert!(Pareto::new(good, bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            alpha in 1e-2..1e2_f64, x in 0.0..1e3_f64, dx in 0.0..10.0_f64,
        ) {
            let d = Pareto::new(1.0, alpha).unwrap();
            let (lo, hi) = (d.cdf(x), d.cdf(x + dx));
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // Inputs (scale, alpha): x = scale exp(L / alpha) with L = -ln u (below 10 for these
        // seeds) varies over the scale, and along alpha over alpha min(alpha, 1) / 2
        // (x''' / x' is about (L / alpha^2)^2).
        for &(scale, alpha) in &[(1.0, 2.0), (0.5, 0.3), (3.0, 10.0)] {
            testing::check_rsample(
                |v| Pareto::new(v[0], v[1]).unwrap(),
                &[scale, alpha],
                &[Some(scale), Some(0.5 * alpha * alpha.min(1.0))],
            );
        }
    }
}
