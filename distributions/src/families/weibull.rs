//! The Weibull distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::{clamp, detach};
use pyro_tape::Real;
use rand::distr::OpenClosed01;
use rand::{Rng, RngExt};
use spec_math::cephes64::lgam1p;

/// The Weibull distribution `Weibull(scale, concentration)` (torch's argument order).
///
/// # Density
/// `p(x) = (k / s) (x / s)^(k - 1) exp(-(x / s)^k)` for `x >= 0`, with `s = scale` and
/// `k = concentration`. At `x = 0` the density is the limit from inside: `+inf` for `k < 1`,
/// `1 / s` for `k = 1` (the exponential distribution) and `0` for `k > 1`.
///
/// `z = x / s` and `z^k` are taken in logs (`ln z = ln x - ln s`) where `z` would overflow or
/// underflow, so that the log-density stays finite wherever it is (`x / s` overflows long before
/// the density underflows for small `k`).
///
/// The mean is `s Gamma(1 + 1/k)` and the variance `s^2 (Gamma(1 + 2/k) - Gamma(1 + 1/k)^2)`,
/// both computed in log space without cancellation (for `k >= 1e4` from the series of
/// `ln Gamma(1 + 2/k) - 2 ln Gamma(1 + 1/k)` in `1 / k`). Draws are clamped into the positive normal
/// `f64` range, so a draw never underflows to `0` nor overflows to infinity.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape (`d/dx = (k - 1 - k z^k) / x`, `d/ds = k (z^k - 1) / s`,
/// `d/dk = 1 / k - ln(z) (z^k - 1)`). At `x = 0`, where the density is finite only for `k = 1`,
/// the partials are their limits from inside the support (that of `k` is `-inf`).
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Real, Weibull};
///
/// let d = Weibull::new(1.0, 1.0)?; // Exponential(1)
/// assert_eq!(d.log_prob(&Real::from(0.0)), 0.0);
/// assert!((d.log_prob(&Real::from(2.0)) + 2.0).abs() < 1e-15);
/// assert!((d.mean().unwrap() - 1.0).abs() < 1e-15);
/// assert!(Weibull::new(1.0, 0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weibull {
    scale: Real,
    concentration: Real,
    /// `ln(concentration / scale)`.
    log_norm: f64,
    /// `ln(scale)`.
    ln_scale: f64,
    /// `concentration - 1`.
    shape_m1: f64,
}

const FAMILY: &str = "Weibull";

impl Weibull {
    /// A Weibull distribution; `scale` and `concentration` must be finite and `> 0`.
    pub fn new(scale: impl Into<Real>, concentration: impl Into<Real>) -> Result<Self, ParamError> {
        let (scale_real, concentration_real) = (scale.into(), concentration.into());
        let scale = error::positive(FAMILY, "scale", scale_real.value())?;
        let concentration = error::positive(FAMILY, "concentration", concentration_real.value())?;
        Ok(Weibull {
            scale: scale_real,
            concentration: concentration_real,
            log_norm: concentration.ln() - scale.ln(),
            ln_scale: scale.ln(),
            shape_m1: concentration - 1.0,
        })
    }

    /// The scale `s`.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// The shape `k`.
    pub fn concentration(&self) -> Real {
        self.concentration
    }

    /// The draw `s (-ln u)^(1/k)` for `u` uniform on `(0, 1]` (as `rand_distr`'s Weibull draws
    /// it, `1/k` rounded once), clamped into the positive normal range: the one formula of
    /// `sample` and `rsample` (`d/ds = x / s`, `d/dk = -x ln(-ln u) / k^2`; 0 where clamped).
    #[inline]
    fn draw<R: Rng + ?Sized>(scale: Real, concentration: Real, rng: &mut R) -> Real {
        let u: f64 = rng.sample(OpenClosed01);
        let x = scale * Real::constant(-u.ln()).powf(concentration.recip());
        clamp(x, f64::MIN_POSITIVE, f64::MAX)
    }

    /// `(ln z, z^k)` for `z = x / scale` and finite `x > 0`: directly where `z` is a normal
    /// double, else from `ln z = ln x - ln scale` (`z^k = exp(k ln z)`).
    #[inline]
    fn ln_z_and_power(&self, x: f64) -> (f64, f64) {
        let z = x / self.scale.value();
        let k = self.concentration.value();
        if z.is_normal() {
            (z.ln(), z.powf(k))
        } else {
            let ln_z = x.ln() - self.ln_scale;
            (ln_z, (k * ln_z).exp())
        }
    }
}

impl Distribution for Weibull {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        Weibull::draw(detach(self.scale), detach(self.concentration), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `s (-ln u)^(1/k)`: `d/ds = x / s`, `d/dk = -x ln(-ln u) / k^2` (0 where the draw is
    /// clamped).
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(Weibull::draw(self.scale, self.concentration, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        if x > 0.0 && x < f64::INFINITY {
            let (ln_z, z_k) = self.ln_z_and_power(x);
            if z_k == f64::INFINITY {
                // k ln z > 709: -z^k dominates (k - 1) ln z < k ln z, whatever the size of k.
                return f64::NEG_INFINITY;
            }
            self.log_norm + self.shape_m1 * ln_z - z_k
        } else if x == 0.0 {
            // (k - 1) ln z at z -> 0+, without the NaN of 0 * -inf; z^k = 0.
            if self.shape_m1 < 0.0 {
                f64::INFINITY
            } else if self.shape_m1 == 0.0 {
                self.log_norm
            } else {
                f64::NEG_INFINITY
            }
        } else {
            f64::NEG_INFINITY
        }
    }

    /// With `z = x / s` and `e = z^k - 1` (as `expm1(k ln z)`, accurate near `z = 1`):
    /// `d/dx = (-k e - 1) / x`, `d/ds = k e / s` and `d/dk = 1 / k - e ln z`. At `x = 0` (finite
    /// only for `k = 1`): the limits from inside, `d/dx = -1 / s`, `d/ds = -1 / s` and
    /// `d/dk = -inf`.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.scale.is_constant() && self.concentration.is_constant() {
            return;
        }
        let (s, k, x_value) = (self.scale.value(), self.concentration.value(), x.value());
        let ln_z = self.ln_z_and_power(x_value).0;
        let e = (k * ln_z).exp_m1();
        let d_x = if x_value == 0.0 {
            // (k - 1 - k z^k) / x with k = 1: -z / x.
            -1.0 / s
        } else {
            (-k * e - 1.0) / x_value
        };
        partials.push(*x, d_x);
        partials.push(self.scale, k * e / s);
        partials.push(self.concentration, 1.0 / k - e * ln_z);
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }

    fn mean(&self) -> Option<f64> {
        Some((self.ln_scale + lgam1p(1.0 / self.concentration.value())).exp())
    }

    fn variance(&self) -> Option<f64> {
        // Gamma(1 + 2/k) - Gamma(1 + 1/k)^2 = Gamma(1 + 2/k) (1 - exp(-d)) with
        // d = lg2 - 2 lg1 >= 0 (log-convexity), in log space so that neither gamma overflows.
        let k = self.concentration.value();
        let inv_k = 1.0 / k;
        let lg2 = lgam1p(2.0 * inv_k);
        if lg2 == f64::INFINITY {
            // ln Gamma(1 + 2/k) itself overflows (k < 8e-306): the variance is about
            // s^2 Gamma(1 + 2/k) > 1e-647 exp(f64::MAX), infinite.
            return Some(f64::INFINITY);
        }
        let ln_one_minus_exp_neg_d = if k >= 1e4 {
            // d = zeta(2)/k^2 - 2 zeta(3)/k^3 + 3.5 zeta(4)/k^4 - ... (from the series of
            // ln Gamma(1 + e)); the difference lg2 - 2 lg1 would lose a relative k eps to
            // cancellation, and d itself underflows for k beyond 1e154. So ln(1 - exp(-d)) is
            // ln d - d / 2 + O(d^2), with ln d in logs.
            let series = ZETA2 - 2.0 * ZETA3 * inv_k + 3.5 * ZETA4 * inv_k * inv_k;
            let ln_d = -2.0 * k.ln() + series.ln();
            ln_d - 0.5 * ln_d.exp()
        } else {
            let lg1 = lgam1p(inv_k);
            let d = (lg2 - 2.0 * lg1).max(0.0);
            (-(-d).exp_m1()).ln()
        };
        let log_var = 2.0 * self.ln_scale + lg2 + ln_one_minus_exp_neg_d;
        Some(log_var.exp())
    }
}

/// `zeta(2) = pi^2 / 6`, `zeta(3)`, `zeta(4) = pi^4 / 90`.
const ZETA2: f64 = 1.644_934_066_848_226_4;
const ZETA3: f64 = 1.202_056_903_159_594_3;
const ZETA4: f64 = 1.082_323_233_711_138_2;

impl Cdf for Weibull {
    /// `1 - exp(-(x / scale)^concentration)`, with the power in logs where `x / scale` over- or
    /// underflows.
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else if x == f64::INFINITY {
            1.0
        } else if x.is_nan() {
            x
        } else {
            -(-self.ln_z_and_power(x).1).exp_m1()
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

    fn build(p: &testing::Params) -> Weibull {
        Weibull::new(p.real("scale"), p.real("concentration")).unwrap()
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
        testing::check_sample_moments(&Weibull::new(2.0, 1.5).unwrap(), 1);
        testing::check_sample_moments(&Weibull::new(0.5, 0.7).unwrap(), 2);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Weibull::new(2.0, 1.5).unwrap(), 3);
        testing::ks_test(&Weibull::new(0.5, 20.0).unwrap(), 4);
        testing::ks_test(&Weibull::new(3.0, 0.3).unwrap(), 5);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &Weibull::new(2.0, 1.5).unwrap(),
            42,
            &rs(&[0.6962929055285381, 2.1865490767144657, 0.12824274133626204]),
        );
    }

    #[test]
    fn moments_for_extreme_shapes() {
        // k = 1e6: variance = s^2 pi^2 / (6 k^2) (1 + O(1/k)); the naive difference of gammas
        // would keep only about four digits.
        let d = Weibull::new(3.0, 1e6).unwrap();
        let expected = 9.0 * std::f64::consts::PI.powi(2) / 6.0 * 1e-12;
        testing::assert_close(d.variance().unwrap(), expected, 1e-5, "variance k = 1e6");
        // k = 0.01: Gamma(201) overflows but the scaled variance does not.
        let d = Weibull::new(1e-200, 0.01).unwrap();
        assert!(d.variance().unwrap().is_finite());
        assert!(d.mean().unwrap().is_finite());
        // k = 1e200: the variance underflows to 0, it must not be NaN.
        assert_eq!(Weibull::new(1.0, 1e200).unwrap().variance(), Some(0.0));
    }

    #[test]
    fn edges_and_errors() {
        let e = Weibull::new(2.0, -1.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Weibull: invalid parameter concentration = -1.5 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Weibull::new(bad, 1.0).unwrap_err().param, "scale");
            assert_eq!(Weibull::new(1.0, bad).unwrap_err().param, "concentration");
        }
        assert_eq!(
            Weibull::new(1.0, 0.5).unwrap().log_prob(&r(0.0)),
            f64::INFINITY
        );
        assert_eq!(
            Weibull::new(2.0, 1.0).unwrap().log_prob(&r(0.0)),
            -std::f64::consts::LN_2
        );
        assert_eq!(
            Weibull::new(1.0, 1.5).unwrap().log_prob(&r(0.0)),
            f64::NEG_INFINITY
        );
        let d = Weibull::new(1.0, 0.5).unwrap();
        for x in [-1e-300, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(d.log_prob(&r(x)), f64::NEG_INFINITY, "x = {x}");
        }
        assert!(d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!((d.cdf(0.0), d.cdf(f64::INFINITY)), (0.0, 1.0));
        assert_eq!((d.scale().value(), d.concentration().value()), (1.0, 0.5));
        // Tiny shapes: many draws would underflow to 0 or overflow to inf without the clamp.
        let d = Weibull::new(1.0, 0.002).unwrap();
        let mut r = testing::rng(9);
        for _ in 0..1000 {
            let x = d.sample(&mut r);
            assert!(x > 0.0 && d.log_prob(&x).is_finite(), "draw {x}");
        }
    }

    fn weibull_at(v: &[Real]) -> (Weibull, Real) {
        (Weibull::new(v[1], v[2]).unwrap(), v[0])
    }

    fn grad(point: &[f64]) -> Vec<f64> {
        testing::log_prob_gradient(weibull_at, point)
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, scale s, concentration k). The log-density depends on x and s through
        // z^k = exp(k ln(x / s)), which varies over x / k and s / k, and on k through ln k and
        // z^k, which vary over k and 1 / |ln z|: each scale is the smallest of those lengths
        // (and the distance to 0). Shapes up to 1e3: beyond, the rounding of x / s, amplified k
        // times in z^k, exceeds what finite differences allow for.
        for &(x, s, k) in &[
            (0.7_f64, 2.0_f64, 1.5_f64),
            (2.5, 1.0, 0.5),
            (1e-5, 1.0, 0.3),
            (1e-200, 1.0, 2.0),
            (1e-200, 3.0, 0.01),
            (5.0, 2.0, 1.0),
            (1.0001, 1.0, 1e3),
            (0.99, 1.0, 1e3),
            (30.0, 1.0, 0.2),
            (1e250, 1e249, 3.0),
            (2e-300, 1e-300, 4.0),
        ] {
            let ln_z = (x / s).ln();
            let scales = [x / k.max(1.0), s / k.max(1.0), k.min(1.0 / ln_z.abs())];
            testing::check_log_prob_gradient(weibull_at, &[x, s, k], &scales);
        }
    }

    #[test]
    fn gradient_closed_forms() {
        // Weibull(1, 1) at 2, the exponential: d/dx = -1, d/ds = z^k - 1 = 1,
        // d/dk = 1 - ln 2 (z^k - 1).
        assert_eq!(grad(&[2.0, 1.0, 1.0]), vec![-1.0, 1.0, 1.0 - 2.0_f64.ln()]);
        // At the edge x = 0 of Weibull(2, 1): the limits from inside.
        assert_eq!(grad(&[0.0, 2.0, 1.0]), vec![-0.5, -0.5, f64::NEG_INFINITY]);
        // At z = 1 the partials in x and s are (k - 1 - k) / x and 0, that in k is 1 / k.
        assert_eq!(grad(&[3.0, 3.0, 4.0]), vec![-1.0 / 3.0, 0.0, 0.25]);
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            scale in 1e-3..1e3_f64, k in 1e-2..10.0_f64, x in 1e-6..1e3_f64,
        ) {
            // (x / scale)^k <= 1e60: the log-density is representable.
            let d = Weibull::new(scale, k).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_params_error(bad in -1e6..=0.0_f64, good in 1e-3..1e3_f64) {
            prop_assert!(Weibull::new(bad, good).is_err());
            prop_assert!(Weibull::new(good, bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            scale in 1e-2..1e2_f64, k in 1e-2..1e2_f64, x in 0.0..1e3_f64, dx in 0.0..10.0_f64,
        ) {
            let d = Weibull::new(scale, k).unwrap();
            let (lo, hi) = (d.cdf(x), d.cdf(x + dx));
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // Inputs (scale, k): x = scale exp(w / k) with w = ln(-ln u) (|w| < 4 for these
        // seeds) varies over the scale, and along k over k (x''' / x' <= (w / k^2)^2 + ...).
        for &(scale, k) in &[(1.0, 2.0), (2.0, 0.5), (0.3, 5.0)] {
            testing::check_rsample(
                |v| Weibull::new(v[0], v[1]).unwrap(),
                &[scale, k],
                &[Some(scale), Some(k)],
            );
        }
    }
}
