//! The beta distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::implicit::LogGamma;
use crate::memo::Memo;
use crate::reparam::{clamp, detach};
use crate::special::{
    HALF_LN_2PI, beta_cdf, beta_deviations, ln_beta, log1pmx, shape_score, share, stirling_corr,
};
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The largest `f64` below one; draws are clamped to at most this.
const BELOW_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

/// The beta distribution `Beta(concentration1, concentration0)` on `[0, 1]`, with mean
/// `concentration1 / (concentration1 + concentration0)`.
///
/// # Density
/// `p(x) = x^(a - 1) (1 - x)^(b - 1) / B(a, b)` for `x` in `[0, 1]`, with
/// `a = concentration1`, `b = concentration0` and `B` the beta function. At the ends the
/// density is the limit from inside: at `x = 0` it is `+inf` for `a < 1`, `1 / B(a, b)` for
/// `a = 1` and `0` for `a > 1` (likewise at `x = 1` with `b`).
///
/// `ln B(a, b)` is computed without cancelling `ln Gamma` terms (Stirling's formula with the
/// large terms cancelled by hand where the concentrations are large). Where both
/// concentrations are at least 10 the log-density takes its saddle-point form: with the mean
/// `p = a / (a + b)`, `q = 1 - p`, `u = (x - p) / p` and `v = (p - x) / q`,
/// `ln p(x) = a log1pmx(u) + b log1pmx(v) - ln x - ln(1 - x) + ln(a b / (a + b)) / 2
/// - ln(2 pi) / 2 - corr(a) - corr(b) + corr(a + b)` (`log1pmx(u) = ln(1 + u) - u`, `corr` the
/// remainder of Stirling's formula): Stirling's formula for `ln B(a, b)` with the terms of size
/// `a ln a` cancelled by hand, so that it stays finite up to concentrations of `f64::MAX`, where
/// `(a - 1) ln x` and `ln B(a, b)` would overflow to `inf - inf`.
///
/// Draws are `G_a / (G_a + G_b)` for independent `G_a ~ Gamma(a, 1)` and `G_b ~ Gamma(b, 1)`
/// (as torch draws them, through the Dirichlet distribution), formed in log space as
/// `sigmoid(ln G_a - ln G_b)` so that tiny concentrations, whose gamma draws underflow, still
/// give draws. They are clamped into `[f64::MIN_POSITIVE, 1 - 2^-53]` (as torch keeps them
/// inside the open interval), so the `log_prob` of a draw is always finite even for tiny
/// concentrations, whose mass piles up closer to `0` or `1` than an `f64` can resolve.
/// [`rsample`](Distribution::rsample) gives the same draw with its gradient through the implicit
/// reparameterisation gradients of `G_a` and `G_b` (see [`Gamma`](crate::Gamma)):
/// `dx/da = x (1 - x) d(ln G_a)/da` and `dx/db = -x (1 - x) d(ln G_b)/db`. A clamped draw has no
/// gradient.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape (`d/dx = (a - 1) / x - (b - 1) / (1 - x)`,
/// `d/da = ln x - digamma(a) + digamma(a + b)`, `d/db = ln(1 - x) - digamma(b) + digamma(a + b)`).
/// At an end of the interval, where the density is finite only for an exponent of 1 there, the
/// partials are their limits from inside (that of the exponent of the vanishing factor is
/// `-inf`).
///
/// # Example
/// ```
/// use pyro_distributions::{Beta, Distribution, Real};
///
/// let d = Beta::new(2.0, 5.0)?;
/// // 30 x (1 - x)^4 at x = 0.2.
/// let x = Real::from(0.2);
/// assert!((d.log_prob(&x) - (30.0 * 0.2 * 0.8_f64.powi(4)).ln()).abs() < 1e-14);
/// assert_eq!(d.log_prob(&Real::from(0.0)), f64::NEG_INFINITY);
/// assert_eq!(Beta::new(1.0, 1.0)?.log_prob(&Real::from(1.0)), 0.0);
/// assert!(Beta::new(2.0, -1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Beta {
    concentration1: Real,
    concentration0: Real,
    /// `concentration1 - 1`.
    a_m1: f64,
    /// `concentration0 - 1`.
    b_m1: f64,
    /// `-ln B(concentration1, concentration0)` where a concentration is below 10, else the
    /// parameter-only part of the saddle-point form,
    /// `ln(a b / (a + b)) / 2 - ln(2 pi) / 2 - corr(a) - corr(b) + corr(a + b)`; computed when
    /// first scored.
    log_norm: Memo,
    /// The mean `a / (a + b)` and its complement `b / (a + b)`, each to full relative precision.
    p: f64,
    q: f64,
    /// The log-gamma samplers of `ln G_a` and `ln G_b`.
    samplers: [LogGamma; 2],
}

const FAMILY: &str = "Beta";

/// Where both concentrations are at least this, the log-density takes its saddle-point form.
const SADDLE_FROM: f64 = 10.0;

impl Beta {
    /// A beta distribution; `concentration1` and `concentration0` must be finite and `> 0`.
    pub fn new(
        concentration1: impl Into<Real>,
        concentration0: impl Into<Real>,
    ) -> Result<Self, ParamError> {
        let (concentration1, concentration0) = (concentration1.into(), concentration0.into());
        let a = error::positive(FAMILY, "concentration1", concentration1.value())?;
        let b = error::positive(FAMILY, "concentration0", concentration0.value())?;
        let samplers = [
            LogGamma::new(a).ok_or_else(|| {
                ParamError::new(FAMILY, "concentration1", a, "must be finite and > 0")
            })?,
            LogGamma::new(b).ok_or_else(|| {
                ParamError::new(FAMILY, "concentration0", b, "must be finite and > 0")
            })?,
        ];
        Ok(Beta {
            concentration1,
            concentration0,
            a_m1: a - 1.0,
            b_m1: b - 1.0,
            log_norm: Memo::new(),
            // a + b may overflow; a / (a + b) = 1 / (1 + b / a) does not.
            p: share(a, b).0,
            q: share(b, a).0,
            samplers,
        })
    }

    /// The exponent of `x` plus one (`alpha`).
    pub fn concentration1(&self) -> Real {
        self.concentration1
    }

    /// The exponent of `1 - x` plus one (`beta`).
    pub fn concentration0(&self) -> Real {
        self.concentration0
    }

    /// The concentrations' values `(a, b)`.
    #[inline]
    fn shapes(&self) -> (f64, f64) {
        (self.concentration1.value(), self.concentration0.value())
    }

    /// The draw `sigmoid(ln G_a - ln G_b)`, clamped into `[f64::MIN_POSITIVE, 1 - 2^-53]`: the
    /// one formula of `sample` (on `detach`ed concentrations) and `rsample`, the `ln G` carrying
    /// their implicit gradients. Where both `ln G` are `-inf` (concentrations below about
    /// `1e-306`) the draw is an end, `1` with probability `a / (a + b)` (the limit of the
    /// distribution), with no gradient.
    #[inline]
    fn draw<R: Rng + ?Sized>(&self, c1: Real, c0: Real, rng: &mut R) -> Real {
        let ln_ga = self.samplers[0].rsample(c1, rng);
        let ln_gb = self.samplers[1].rsample(c0, rng);
        let x = if ln_ga.value() == f64::NEG_INFINITY && ln_gb.value() == f64::NEG_INFINITY {
            let (a, b) = (c1.value(), c0.value());
            let one = rng.random::<f64>() * (a + b) < a;
            Real::constant(if one { 1.0 } else { 0.0 })
        } else {
            (ln_ga - ln_gb).logistic()
        };
        clamp(x, f64::MIN_POSITIVE, BELOW_ONE)
    }

    /// Whether the log-density takes its saddle-point form (both concentrations >= 10).
    fn saddle(&self) -> bool {
        let (a, b) = self.shapes();
        a >= SADDLE_FROM && b >= SADDLE_FROM
    }

    /// The log normalising constant (of the form in use, see the field).
    fn log_norm(&self) -> f64 {
        let (a, b) = self.shapes();
        self.log_norm.get_or(|| {
            if self.saddle() {
                // ln(a b / (a + b)) = ln a - ln(1 + a / b), without forming a b or a + b.
                let half_ln_ab_over_sum = 0.5 * (a.ln() - (a / b).ln_1p());
                half_ln_ab_over_sum - HALF_LN_2PI - stirling_corr(a) - stirling_corr(b)
                    + stirling_corr(a + b)
            } else {
                -ln_beta(a, b)
            }
        })
    }
}

/// The relative deviations `u = (x - p) / p` and `v = ((1 - x) - q) / q` of `x` and `1 - x`
/// from the beta mean `p` and its complement `q`, to full precision also near an end of the
/// interval: a share above 1/2 is rounded by up to `eps / 2`, which may be as much as its
/// distance to `x` there, so the difference is formed from the complements instead,
/// `x - p = q - (1 - x)`, whose terms are exact (`1 - x` is, for `x >= 1/2`) or of unequal size.
/// (Unlike `special::beta_deviations`, which the log-density uses and which takes `p - x` as is.)
#[inline]
fn deviations(x: f64, p: f64, q: f64) -> (f64, f64) {
    let y = 1.0 - x;
    let u = if p <= 0.5 { (x - p) / p } else { (q - y) / p };
    let v = if q <= 0.5 { (y - q) / q } else { (p - x) / q };
    (u, v)
}

impl Distribution for Beta {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    #[inline]
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        self.draw(
            detach(self.concentration1),
            detach(self.concentration0),
            rng,
        )
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `sigmoid(ln G_a - ln G_b)`, with the implicit gradients of `G_a` and `G_b` (see the
    /// type's documentation).
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(self.draw(self.concentration1, self.concentration0, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        if x > 0.0 && x < 1.0 {
            if self.saddle() {
                let (a, b) = self.shapes();
                // a ln(x / p) + b ln((1 - x) / q), whose linear terms a u + b v cancel exactly
                // (a / p = b / q = a + b) and are left out; what remains is <= 0, no inf - inf.
                let (u, v) = beta_deviations(x, self.p, self.q);
                a * log1pmx(u) + b * log1pmx(v) - x.ln() - (-x).ln_1p() + self.log_norm()
            } else {
                self.a_m1 * x.ln() + self.b_m1 * (-x).ln_1p() + self.log_norm()
            }
        } else if x == 0.0 || x == 1.0 {
            // (e - 1) ln t at t -> 0+ for the exponent at this end, without 0 * -inf = NaN; the
            // other end's factor is 1.
            let e_m1 = if x == 0.0 { self.a_m1 } else { self.b_m1 };
            if e_m1 < 0.0 {
                f64::INFINITY
            } else if e_m1 == 0.0 {
                self.log_norm()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            f64::NEG_INFINITY
        }
    }

    /// `d/dx = (a - 1) / x - (b - 1) / (1 - x)`, in the saddle-point regime as
    /// `(2x - 1 - a u) / (x (1 - x))` with `a u = (a + b) (x - p)` (`u` from `deviations`), which
    /// does not cancel the terms of size `a + b` near the mode; `d/da` and `d/db` from the
    /// crate's `special::shape_score` (digamma differences without cancellation for large
    /// concentrations). At `x = 0` (finite only for `a = 1`) and `x = 1` (only for `b = 1`), the limits from inside:
    /// `d/dx = 1 - b` or `a - 1`, and `-inf` for the exponent of the vanishing factor.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        let (c1, c0) = (self.concentration1, self.concentration0);
        if x.is_constant() && c1.is_constant() && c0.is_constant() {
            return;
        }
        let ((a, b), x_value) = (self.shapes(), x.value());
        let (u, v) = deviations(x_value, self.p, self.q);
        let d_x = if x_value == 0.0 {
            -self.b_m1
        } else if x_value == 1.0 {
            self.a_m1
        } else if self.saddle() {
            (2.0 * x_value - 1.0 - a * u) / (x_value * (1.0 - x_value))
        } else {
            self.a_m1 / x_value - self.b_m1 / (1.0 - x_value)
        };
        partials.push(*x, d_x);
        if !c1.is_constant() {
            let (ln_x, ln_p) = (x_value.ln(), self.p.ln());
            let score = shape_score(a, a + b, x_value, ln_x, self.p, ln_p, self.q, u);
            partials.push(c1, score);
        }
        if !c0.is_constant() {
            let (y, ln_y) = (1.0 - x_value, (-x_value).ln_1p());
            let score = shape_score(b, a + b, y, ln_y, self.q, self.q.ln(), self.p, v);
            partials.push(c0, score);
        }
    }

    fn support(&self) -> Constraint {
        Constraint::UnitInterval
    }

    fn mean(&self) -> Option<f64> {
        Some(self.p)
    }

    /// `p q / (a + b + 1)`; where `a + b` overflows, `p q / a / (1 + b / a)` (the 1 is then
    /// negligible).
    fn variance(&self) -> Option<f64> {
        let (a, b) = self.shapes();
        let s = a + b;
        Some(if s.is_finite() {
            self.p * self.q / (s + 1.0)
        } else {
            self.p * self.q / a / (1.0 + b / a)
        })
    }
}

impl Cdf for Beta {
    /// The regularised incomplete beta function `I_x(concentration1, concentration0)`: Cephes'
    /// `incbet` for moderate concentrations, limiting forms for tiny ones and asymptotic ones
    /// (the gamma limit, Temme's expansion) from 1e6 on, where `incbet` fails; see the crate's
    /// `special::beta_cdf` for the regimes and their accuracy.
    fn cdf(&self, x: f64) -> f64 {
        let (a, b) = self.shapes();
        beta_cdf(a, b, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Beta {
        Beta::new(p.real("concentration1"), p.real("concentration0")).unwrap()
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
        // Both sampler branches: min(a, b) > 1 (Cheng's BB) and <= 1 (BC), each way round.
        testing::check_sample_moments(&Beta::new(2.0, 5.0).unwrap(), 1);
        testing::check_sample_moments(&Beta::new(0.5, 3.0).unwrap(), 2);
        testing::check_sample_moments(&Beta::new(4.0, 0.2).unwrap(), 3);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Beta::new(2.0, 5.0).unwrap(), 4);
        testing::ks_test(&Beta::new(0.5, 0.5).unwrap(), 5);
        testing::ks_test(&Beta::new(70.0, 50.0).unwrap(), 6);
        testing::ks_test(&Beta::new(0.2, 1.5).unwrap(), 7);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice. (Changed when
        // draws became G_a / (G_a + G_b), so that `rsample` can differentiate them; Cheng's
        // algorithm drew 0.5001172120513793, 0.47965498704505244, 0.10706315292806526.)
        testing::assert_first_draws(
            &Beta::new(2.0, 5.0).unwrap(),
            42,
            &rs(&[0.2623091249088898, 0.5860192214534423, 0.16083011072991707]),
        );
    }

    #[test]
    fn tiny_concentration_draws_stay_inside() {
        let d = Beta::new(0.01, 0.01).unwrap();
        let mut r = testing::rng(8);
        for _ in 0..2000 {
            let x = d.sample(&mut r);
            assert!(x > 0.0 && x < 1.0 && d.log_prob(&x).is_finite(), "draw {x}");
        }
    }

    #[test]
    fn edges_and_errors() {
        let e = Beta::new(2.0, -1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Beta: invalid parameter concentration0 = -1 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Beta::new(bad, 1.0).unwrap_err().param, "concentration1");
            assert_eq!(Beta::new(1.0, bad).unwrap_err().param, "concentration0");
        }
        // Ends: limits of the density from inside.
        let d = Beta::new(0.5, 3.0).unwrap();
        assert_eq!(d.log_prob(&r(0.0)), f64::INFINITY);
        assert_eq!(d.log_prob(&r(1.0)), f64::NEG_INFINITY);
        let d = Beta::new(3.0, 0.5).unwrap();
        assert_eq!(d.log_prob(&r(0.0)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(1.0)), f64::INFINITY);
        let d = Beta::new(1.0, 3.0).unwrap();
        assert!((d.log_prob(&r(0.0)) - 3.0_f64.ln()).abs() < 1e-15);
        assert_eq!(d.log_prob(&r(1.0)), f64::NEG_INFINITY);
        for x in [
            -1e-300,
            1.0 + f64::EPSILON,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            assert_eq!(d.log_prob(&r(x)), f64::NEG_INFINITY, "x = {x}");
        }
        assert!(d.support().contains(&Value::Real(0.0)));
        assert!(d.support().contains(&Value::Real(1.0)));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.5])),
            f64::NEG_INFINITY
        );
        assert_eq!(
            (d.cdf(-0.5), d.cdf(0.0), d.cdf(1.0), d.cdf(2.0)),
            (0.0, 0.0, 1.0, 1.0)
        );
        assert_eq!(
            (d.concentration1().value(), d.concentration0().value()),
            (1.0, 3.0)
        );
    }

    fn beta_at(v: &[Real]) -> (Beta, Real) {
        (Beta::new(v[1], v[2]).unwrap(), v[0])
    }

    fn grad(point: &[f64]) -> Vec<f64> {
        testing::log_prob_gradient(beta_at, point)
    }

    /// Inputs `(x, a, b)`. The scale of `x` is its distance to the nearer end, shrunk by
    /// `sqrt(a)` at 0 and `sqrt(b)` at 1 for large exponents (the width of the peak); that of
    /// `a` is the smaller of `a` (the distance to 0) and `sqrt(a (a + b) / b)`, the width of the
    /// log-density in `a` (its second derivative is `trigamma(a + b) - trigamma(a)`, about
    /// `-b / (a (a + b))`), and likewise for `b`. Concentrations up to 1e6: beyond, the rounding
    /// near the mode exceeds what finite differences allow for (see `Gamma`); larger ones are
    /// checked against mpmath in `gradient_closed_forms`.
    #[test]
    fn gradients_match_finite_differences() {
        for &(x, a, b) in &[
            (0.2_f64, 2.0_f64, 5.0_f64),
            (0.3, 0.5, 0.5),
            (1e-3, 0.3, 2.0),
            (0.9999, 3.0, 0.2),
            (1e-200, 0.5, 3.0),
            (1.0 - 1e-6, 4.0, 0.5),
            (0.45, 9.5, 12.0),
            (0.45, 10.5, 12.0),
            (0.1, 10.5, 12.0),
            (0.51, 1e3, 1e3),
            (0.501, 1e6, 1e6),
            (0.999_997, 1e6, 2.0),
            (2e-6, 2.0, 1e6),
            (0.3, 1e-8, 1e-8),
            (0.7, 1e-300, 1e-300),
        ] {
            let scales = [
                (x / a.max(1.0).sqrt()).min((1.0 - x) / b.max(1.0).sqrt()),
                a.min(a.sqrt() * (1.0 + a / b).sqrt()),
                b.min(b.sqrt() * (1.0 + b / a).sqrt()),
            ];
            testing::check_log_prob_gradient(beta_at, &[x, a, b], &scales);
        }
    }

    #[test]
    fn gradient_closed_forms() {
        // Beta(2, 5) at 0.2 (the mode): d/dx = 1 / 0.2 - 4 / 0.8 = 0 (to rounding of 0.2),
        // d/da = ln 0.2 + 1/2 + ... + 1/6 and d/db = ln 0.8 + 1/5 + 1/6 (digamma(n + 1) -
        // digamma(n) = 1 / n).
        let g = grad(&[0.2, 2.0, 5.0]);
        assert!(g[0].abs() < 1e-14, "{g:?}");
        let h6 = 1.0 / 2.0 + 1.0 / 3.0 + 1.0 / 4.0 + 1.0 / 5.0 + 1.0 / 6.0;
        assert!((g[1] - (0.2_f64.ln() + h6)).abs() < 1e-15, "{g:?}");
        assert!(
            (g[2] - (0.8_f64.ln() + 1.0 / 5.0 + 1.0 / 6.0)).abs() < 1e-15,
            "{g:?}"
        );
        // At the ends, where the density is finite for an exponent of 1: the limits from inside.
        let g = grad(&[0.0, 1.0, 3.0]);
        assert_eq!((g[0], g[1]), (-2.0, f64::NEG_INFINITY));
        assert!((g[2] - 1.0 / 3.0).abs() < 1e-15, "{g:?}");
        let g = grad(&[1.0, 3.0, 1.0]);
        assert_eq!((g[0], g[2]), (2.0, f64::NEG_INFINITY));
        assert!((g[1] - 1.0 / 3.0).abs() < 1e-15, "{g:?}");
        // Large concentrations near the mode, against mpmath (200 digits, at these doubles).
        for (point, want) in [
            (
                [0.500_000_1, 1e10, 1e10],
                [
                    -7_999.999_994_989_474,
                    2.000_249_798_947_321_5e-7,
                    -1.999_750_198_947_308_6e-7,
                ],
            ),
            (
                [0.250_000_000_01, 1e20, 3e20],
                [
                    -21_333_335_100.559_025,
                    4.000_000_331_256_484e-11,
                    -1.333_333_443_621_050_2e-11,
                ],
            ),
            (
                [1.0 - 2.5e-15, 1e15, 3.0],
                [
                    216_765_282_196_437.03,
                    4.464_870_433_621_337e-16,
                    0.014_685_706_064_268_913,
                ],
            ),
            (
                [2.5e-15, 3.0, 1e15],
                [
                    -200_000_000_000_001.5,
                    -0.006_493_603_224_309_576,
                    4.999_999_999_999_939e-16,
                ],
            ),
        ] {
            let g = grad(&point);
            for i in 0..3 {
                assert!(
                    (g[i] - want[i]).abs() <= 1e-14 * want[i].abs(),
                    "{point:?}: {g:?} vs {want:?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            a in 1e-3..1e3_f64, b in 1e-3..1e3_f64, x in 1e-12..(1.0 - 1e-12),
        ) {
            let d = Beta::new(a, b).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_params_error(bad in -1e6..=0.0_f64, good in 1e-3..1e3_f64) {
            prop_assert!(Beta::new(bad, good).is_err());
            prop_assert!(Beta::new(good, bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            a in 1e-2..1e2_f64, b in 1e-2..1e2_f64, x in 0.0..1.0_f64, dx in 0.0..0.5_f64,
        ) {
            let d = Beta::new(a, b).unwrap();
            let (lo, hi) = (d.cdf(x), d.cdf(x + dx));
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        use crate::Gamma;
        use crate::distribution::Cdf;
        use crate::implicit::LogGamma;
        // Both concentrations against finite differences of G_a / (G_a + G_b) with the levels
        // of the two gamma draws held fixed (the tolerance of `testing::check_implicit_gradient`).
        for &(a, b) in &[(2.0, 5.0), (0.5, 0.5), (70.0, 50.0), (0.2, 1.5)] {
            let build = |v: &[Real]| Beta::new(v[0], v[1]).unwrap();
            testing::check_rsample(build, &[a, b], &[None, None]);
            for seed in testing::RSAMPLE_SEEDS {
                let (x, j) = testing::rsample_jacobian(build, &[a, b], seed);
                let mut r = testing::rng(seed);
                let ln_ga = LogGamma::new(a).unwrap().sample(&mut r);
                let ln_gb = LogGamma::new(b).unwrap().sample(&mut r);
                let level = |s: f64, ln_g: f64| Gamma::new(s, 1.0).unwrap().cdf(ln_g.exp());
                let (ua, ub) = (level(a, ln_ga), level(b, ln_gb));
                let g_at = |s: f64, u: f64| {
                    let d = Gamma::new(s, 1.0).unwrap();
                    testing::positive_quantile(|t| d.cdf(t), u)
                };
                let at = |s: f64, t: f64| {
                    let (ga, gb) = (g_at(s, ua), g_at(t, ub));
                    ga / (ga + gb)
                };
                let (ha, hb) = (f64::EPSILON.cbrt() * a, f64::EPSILON.cbrt() * b);
                let fd_a = (at(a + ha, b) - at(a - ha, b)) / ((a + ha) - (a - ha));
                let fd_b = (at(a, b + hb) - at(a, b - hb)) / ((b + hb) - (b - hb));
                let spread = x[0] * (1.0 - x[0]);
                for (g, fd, s) in [(j[0][0], fd_a, a), (j[0][1], fd_b, b)] {
                    let tolerance = 1e-7 * (g.abs() + spread / s);
                    assert!(
                        (g - fd).abs() <= tolerance,
                        "Beta({a}, {b}), seed {seed}: {g} on the tape, {fd} by finite \
                         differences"
                    );
                }
            }
        }
    }

    /// Unbiased: the mean of dx/da is d E[x] / da = b / (a + b)^2, that of dx/db is
    /// -a / (a + b)^2.
    #[test]
    fn rsample_gradients_are_unbiased() {
        for &(a, b, seed) in &[(2.0, 5.0, 1), (0.5, 0.5, 2), (70.0, 50.0, 3)] {
            let draws =
                testing::rsample_draws(|v| Beta::new(v[0], v[1]).unwrap(), &[a, b], 20_000, seed);
            let d_a: Vec<f64> = draws.iter().map(|(_, j)| j[0][0]).collect();
            let d_b: Vec<f64> = draws.iter().map(|(_, j)| j[0][1]).collect();
            let s2 = (a + b) * (a + b);
            testing::assert_mean(&d_a, b / s2, &format!("Beta({a}, {b}) dx/da"));
            testing::assert_mean(&d_b, -a / s2, &format!("Beta({a}, {b}) dx/db"));
        }
    }
}
