//! The inverse-gamma distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::implicit::gamma_log_draw_grad;
use crate::memo::Memo;
use crate::reparam::{clamp, detach, implicit};
use crate::special::{
    GAMMA_SADDLE_FROM, gamma_deviance, gamma_log_norm, gamma_p_q, gamma_shape_score,
};
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The inverse-gamma distribution `InverseGamma(concentration, rate)`: the law of `1 / X` for
/// `X ~ Gamma(concentration, rate)` (Pyro's parameterisation: `rate` is the rate of `X` and so
/// the scale of the draws).
///
/// # Density
/// `p(x) = rate^concentration x^(-concentration - 1) exp(-rate / x) / Gamma(concentration)` for
/// `x > 0` (the density tends to `0` at `x = 0`).
///
/// The mean is `rate / (concentration - 1)` for `concentration > 1` and infinite otherwise; the
/// variance is `rate^2 / ((concentration - 1)^2 (concentration - 2))` for `concentration > 2` and
/// infinite otherwise (as SciPy reports them).
///
/// For `concentration >= 10` the log-density is evaluated in the saddle-point form of the gamma
/// density of `rate / x` (see [`Gamma`](crate::Gamma)), which stays finite and accurate up to
/// `concentration = f64::MAX`. Draws are clamped into the positive normal `f64`
/// range, so a draw never underflows to `0` nor overflows to infinity.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape (`d/dx = (rate / x - concentration - 1) / x`,
/// `d/dconcentration = ln(rate / x) - digamma(concentration)`,
/// `d/drate = concentration / rate - 1 / x`).
///
/// [`rsample`](Distribution::rsample) gives the draw `rate / g` of `sample`, `g ~ Gamma(a, 1)`,
/// with `d/drate = 1 / g` and, through `g`, the implicit reparameterisation gradient of the
/// gamma draw with respect to the concentration (see [`Gamma`](crate::Gamma)). A clamped draw
/// has no gradient.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, InverseGamma, Real};
///
/// let d = InverseGamma::new(3.0, 2.0)?;
/// // ln(8 / 2 * exp(-2)) = ln 4 - 2 at x = 1.
/// assert!((d.log_prob(&Real::from(1.0)) - (4.0_f64.ln() - 2.0)).abs() < 1e-14);
/// assert_eq!(d.log_prob(&Real::from(0.0)), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(1.0));
/// assert_eq!(InverseGamma::new(0.5, 1.0)?.mean(), Some(f64::INFINITY));
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct InverseGamma {
    concentration: Real,
    rate: Real,
    /// `concentration ln(rate) - ln Gamma(concentration)` for `concentration < 10`, else the
    /// parameter-only part of the saddle-point form, `ln(a) / 2 - ln(2 pi) / 2 - corr(a)`;
    /// computed when first scored.
    log_norm: Memo,
    /// `ln(rate)`.
    ln_rate: f64,
    /// `-(concentration + 1)`.
    neg_shape_p1: f64,
    /// `Gamma(concentration, 1)`; a draw is `rate / g`.
    sampler: rand_distr::Gamma<f64>,
}

const FAMILY: &str = "InverseGamma";

impl InverseGamma {
    /// An inverse-gamma distribution; `concentration` and `rate` must be finite and `> 0`.
    pub fn new(concentration: impl Into<Real>, rate: impl Into<Real>) -> Result<Self, ParamError> {
        let (concentration_real, rate_real) = (concentration.into(), rate.into());
        let concentration = error::positive(FAMILY, "concentration", concentration_real.value())?;
        let rate = error::positive(FAMILY, "rate", rate_real.value())?;
        let sampler = rand_distr::Gamma::new(concentration, 1.0).map_err(|_| {
            ParamError::new(
                FAMILY,
                "concentration",
                concentration,
                "must be finite and > 0",
            )
        })?;
        Ok(InverseGamma {
            concentration: concentration_real,
            rate: rate_real,
            log_norm: Memo::new(),
            ln_rate: rate.ln(),
            neg_shape_p1: -(concentration + 1.0),
            sampler,
        })
    }

    /// The shape parameter.
    pub fn concentration(&self) -> Real {
        self.concentration
    }

    /// The scale of the draws (the rate of their reciprocals).
    pub fn rate(&self) -> Real {
        self.rate
    }

    /// The log normalising constant (of the form in use, see the field).
    fn log_norm(&self) -> f64 {
        self.log_norm
            .get_or(|| gamma_log_norm(self.concentration.value(), self.ln_rate))
    }

    /// The draw `rate / g` for `g ~ Gamma(concentration, 1)` (at least `f64::MIN_POSITIVE`),
    /// clamped into the positive normal range, as a function of the parameters (`detach`ed by
    /// `sample`): `g` carries its implicit gradient `g d(ln g)/da`.
    #[inline]
    fn draw<R: Rng + ?Sized>(&self, concentration: Real, rate: Real, rng: &mut R) -> Real {
        let g: f64 = rng.sample(self.sampler);
        let g = if g >= f64::MIN_POSITIVE {
            implicit(g, concentration, || {
                g * gamma_log_draw_grad(concentration.value(), g, g.ln())
            })
        } else {
            Real::constant(f64::MIN_POSITIVE)
        };
        clamp(rate / g, f64::MIN_POSITIVE, f64::MAX)
    }
}

impl Distribution for InverseGamma {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        self.draw(detach(self.concentration), detach(self.rate), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `rate / g`: `d/drate = 1 / g`, and the implicit gradient of `g` with respect to the
    /// concentration (see the type's documentation).
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(self.draw(self.concentration, self.rate, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        let (a, rate) = (self.concentration.value(), self.rate.value());
        if x > 0.0 && x < f64::INFINITY {
            let ln_x = x.ln();
            if a >= GAMMA_SADDLE_FROM {
                // rate / x ~ Gamma(a, 1): its saddle-point form, with the Jacobian folded in.
                let y = rate / x;
                self.log_norm() - gamma_deviance(a, y, self.ln_rate - ln_x) - ln_x
            } else {
                self.log_norm() + self.neg_shape_p1 * ln_x - rate / x
            }
        } else {
            f64::NEG_INFINITY
        }
    }

    /// `d/dx = (rate / x - a - 1) / x`, `d/da = ln(rate / x) - digamma(a)` and
    /// `d/drate = -(rate / x - a) / rate` for the concentration `a`, with
    /// `rate / x - a = (rate - a x) / x` fused (one rounding before the division, so that near
    /// the mode of a large shape, where it is about `sqrt(a)` and the partials small, they keep
    /// full precision) and `d/da` from the crate's `special::gamma_shape_score` (without
    /// cancelling its two terms of size `ln a`).
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.concentration.is_constant() && self.rate.is_constant() {
            return;
        }
        let (a, rate, x_value) = (self.concentration.value(), self.rate.value(), x.value());
        // rate / x - a, from rate - a x rounded once.
        let y_minus_a = (-a).mul_add(x_value, rate) / x_value;
        partials.push(*x, (y_minus_a - 1.0) / x_value);
        if !self.concentration.is_constant() {
            let ln_y = self.ln_rate - x_value.ln();
            let score = gamma_shape_score(a, rate / x_value, ln_y, y_minus_a);
            partials.push(self.concentration, score);
        }
        partials.push(self.rate, -y_minus_a / rate);
    }

    fn support(&self) -> Constraint {
        Constraint::Positive
    }

    fn mean(&self) -> Option<f64> {
        let c = self.concentration.value();
        Some(if c > 1.0 {
            self.rate.value() / (c - 1.0)
        } else {
            f64::INFINITY
        })
    }

    fn variance(&self) -> Option<f64> {
        let c = self.concentration.value();
        Some(if c > 2.0 {
            let m = self.rate.value() / (c - 1.0);
            // Not m^2 / (c - 2), whose m^2 may overflow or underflow where the variance does not.
            m * (m / (c - 2.0))
        } else {
            f64::INFINITY
        })
    }
}

impl Cdf for InverseGamma {
    /// The regularised upper incomplete gamma function `Q(concentration, rate / x)` (see the
    /// crate's `special::gamma_p_q`).
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            let (a, rate) = (self.concentration.value(), self.rate.value());
            gamma_p_q(a, rate / x, self.ln_rate - x.ln()).1
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

    fn build(p: &testing::Params) -> InverseGamma {
        InverseGamma::new(p.real("concentration"), p.real("rate")).unwrap()
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
        // The fourth moment is finite for concentration > 4.
        testing::check_sample_moments(&InverseGamma::new(6.0, 2.0).unwrap(), 1);
        testing::check_sample_moments(&InverseGamma::new(12.0, 0.5).unwrap(), 2);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&InverseGamma::new(3.0, 2.0).unwrap(), 3);
        testing::ks_test(&InverseGamma::new(0.5, 0.01).unwrap(), 4);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &InverseGamma::new(3.0, 2.0).unwrap(),
            42,
            &rs(&[0.4678930765430374, 0.3515362773866864, 0.43986689494445647]),
        );
    }

    #[test]
    fn extreme_draws_stay_in_support() {
        // Tiny concentration: the gamma draw underflows, its reciprocal would be infinite.
        let d = InverseGamma::new(1e-3, 1.0).unwrap();
        let mut r = testing::rng(5);
        for _ in 0..2000 {
            let x = d.sample(&mut r);
            assert!(d.support().contains(&Value::Real(x.value())), "draw {x}");
            assert!(d.log_prob(&x).is_finite(), "draw {x}");
        }
    }

    #[test]
    fn edges_and_errors() {
        let e = InverseGamma::new(1.0, 0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "InverseGamma: invalid parameter rate = 0 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                InverseGamma::new(bad, 1.0).unwrap_err().param,
                "concentration"
            );
            assert_eq!(InverseGamma::new(1.0, bad).unwrap_err().param, "rate");
        }
        let d = InverseGamma::new(0.5, 1.0).unwrap();
        for x in [0.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(d.log_prob(&r(x)), f64::NEG_INFINITY, "x = {x}");
        }
        assert!(d.log_prob(&r(1e-300)).is_finite());
        assert!(d.log_prob(&r(1e300)).is_finite());
        assert_eq!(d.log_prob_value(&Value::Bool(false)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Ints(vec![1])), f64::NEG_INFINITY);
        assert_eq!(d.cdf(0.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        // Moments: infinite mean for c <= 1, infinite variance for c <= 2.
        let d2 = InverseGamma::new(1.5, 1.0).unwrap();
        assert_eq!(d2.mean(), Some(2.0));
        assert_eq!(d2.variance(), Some(f64::INFINITY));
        assert_eq!(d.variance(), Some(f64::INFINITY));
        assert_eq!((d2.concentration().value(), d2.rate().value()), (1.5, 1.0));
    }

    fn inverse_gamma_at(v: &[Real]) -> (InverseGamma, Real) {
        (InverseGamma::new(v[1], v[2]).unwrap(), v[0])
    }

    fn grad(point: &[f64]) -> Vec<f64> {
        testing::log_prob_gradient(inverse_gamma_at, point)
    }

    /// Inputs `(x, concentration, rate)`; each scale is the distance to the edge (0), or for a
    /// large shape `a` the width of the density's peak along that input (`x / sqrt(a)` in `x`,
    /// `sqrt(a)` in the shape, `rate / sqrt(a)` in the rate), whichever is smaller. As for
    /// `Gamma`, finite differences check shapes up to about 1e6 (beyond, the rounding of
    /// `rate / x` near the mode exceeds what they allow for); larger ones are checked against
    /// mpmath in `gradient_closed_forms`.
    #[test]
    fn gradients_match_finite_differences() {
        for &(x, a, rate) in &[
            (1.0_f64, 3.0_f64, 2.0),
            (0.05, 0.5, 0.01),
            (1e-3, 2.5, 1e-2),
            (1e3, 0.3, 1.0),
            (1e-300, 1.0, 1e-300),
            (1e300, 2.0, 1e300),
            (0.1, 9.5, 1.0),
            (0.1, 10.5, 1.0),
            (0.02, 100.0, 1.0),
            (1.002, 1e6, 1e6),
            (0.998, 1e6, 1e6),
            (5.0, 1e-8, 1.0),
        ] {
            let w = a.max(1.0).sqrt();
            let scales = [x / w, a.min(w), rate / w];
            testing::check_log_prob_gradient(inverse_gamma_at, &[x, a, rate], &scales);
        }
    }

    #[test]
    fn gradient_closed_forms() {
        // InverseGamma(3, 2) at 1: d/dx = 2 - 4, d/da = ln 2 - digamma(3) with
        // digamma(3) = 3/2 - Euler's gamma, d/drate = 3/2 - 1.
        let g = grad(&[1.0, 3.0, 2.0]);
        let euler = 0.577_215_664_901_532_9;
        assert_eq!((g[0], g[2]), (-2.0, 0.5));
        assert!(
            (g[1] - (2.0_f64.ln() - (1.5 - euler))).abs() < 1e-15,
            "{g:?}"
        );
        // Large shapes near the mode, against mpmath (200 digits, at these doubles).
        for (point, want) in [
            (
                [0.99998, 1e10, 1e10],
                [
                    200_007.000_220_206_04,
                    2.000_025_000_268_671e-5,
                    -2.000_040_000_802_016e-5,
                ],
            ),
            (
                [1.000_000_000_1, 1e20, 1e20],
                [
                    -10_000_000_826.403_71,
                    -1.000_000_082_640_371e-10,
                    1.000_000_082_640_371e-10,
                ],
            ),
            (
                [1e6, 1e300, 1e306],
                [
                    -3.528_869_565_846_796_6e277,
                    -3.528_869_565_846_796_3e-17,
                    3.528_869_565_846_796_4e-23,
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
            c in 1e-3..1e3_f64, rate in 1e-3..1e3_f64, x in 1e-6..1e300_f64,
        ) {
            let d = InverseGamma::new(c, rate).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_params_error(bad in -1e6..=0.0_f64, good in 1e-3..1e3_f64) {
            prop_assert!(InverseGamma::new(bad, good).is_err());
            prop_assert!(InverseGamma::new(good, bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            c in 1e-2..1e2_f64, rate in 1e-2..1e2_f64, x in 0.0..1e3_f64, dx in 0.0..10.0_f64,
        ) {
            let d = InverseGamma::new(c, rate).unwrap();
            let (lo, hi) = (d.cdf(x), d.cdf(x + dx));
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // Inputs (concentration, rate): the rate's gradient against finite differences of the
        // draw (x = rate / g); the concentration's, the implicit one, against the quantile.
        for &(a, rate) in &[(3.0, 2.0), (0.5, 1.0), (150.0, 10.0)] {
            let build = |v: &[Real]| InverseGamma::new(v[0], v[1]).unwrap();
            testing::check_rsample(build, &[a, rate], &[None, Some(rate)]);
            testing::check_implicit_gradient(build, &[a, rate], 0);
        }
        // Unbiased: the mean of dx/da is d E[x] / da = -rate / (a - 1)^2 (for a > 2, where
        // the gradient has a finite variance), that of dx/drate is 1 / (a - 1).
        let (a, rate) = (6.0, 2.0);
        let build = |v: &[Real]| InverseGamma::new(v[0], v[1]).unwrap();
        let draws = testing::rsample_draws(build, &[a, rate], 20_000, 7);
        let d_a: Vec<f64> = draws.iter().map(|(_, j)| j[0][0]).collect();
        let d_rate: Vec<f64> = draws.iter().map(|(_, j)| j[0][1]).collect();
        testing::assert_mean(&d_a, -rate / ((a - 1.0) * (a - 1.0)), "InverseGamma dx/da");
        testing::assert_mean(&d_rate, 1.0 / (a - 1.0), "InverseGamma dx/drate");
    }
}
