//! The gamma distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::implicit::gamma_log_draw_grad;
use crate::memo::Memo;
use crate::reparam::detach;
use crate::special::{
    GAMMA_SADDLE_FROM, gamma_deviance, gamma_log_norm, gamma_p_q, gamma_shape_score,
};
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The gamma distribution `Gamma(concentration, rate)` with shape `concentration` and inverse
/// scale `rate` (mean `concentration / rate`).
///
/// # Density
/// `p(x) = rate^concentration x^(concentration - 1) exp(-rate x) / Gamma(concentration)` for
/// `x >= 0`. At `x = 0` the density is the limit from inside: `+inf` for `concentration < 1`,
/// `rate` for `concentration = 1` and `0` for `concentration > 1`.
///
/// For `concentration >= 10` the log-density is evaluated in its saddle-point form,
/// `-a (t - 1 - ln t) + ln(a) / 2 - ln x - ln(2 pi) / 2 - corr(a)` with `a = concentration`,
/// `t = rate x / a` and `corr` the remainder of Stirling's formula: the terms of size `a ln a`
/// that `a ln(rate) - ln Gamma(a) + (a - 1) ln x` would cancel are cancelled by hand, so it stays
/// finite (and accurate) up to `concentration = f64::MAX`, and `t - 1 - ln t` is formed without
/// cancellation near the mode.
///
/// Draws are clamped into the positive normal `f64` range (below at `f64::MIN_POSITIVE`, as
/// torch does), so a draw never underflows to `0` and its `log_prob` is always finite.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape (`d/dx = (concentration - 1) / x - rate`,
/// `d/dconcentration = ln(rate x) - digamma(concentration)`,
/// `d/drate = concentration / rate - x`). At `x = 0`, where the density is finite only for
/// `concentration = 1`, the partials are their limits from inside the support (that of the
/// concentration is `-inf`).
///
/// [`rsample`](Distribution::rsample) gives the draw of `sample` with `d/drate = -x / rate` (a
/// scale family) and, with respect to the concentration, the implicit reparameterisation
/// gradient (Figurnov et al. 2018, as torch's `_standard_gamma_grad`):
/// `dx/dconcentration = -(dP(a, z)/da) / (rate p(z; a))` at `z = rate x`, `P` the regularised
/// incomplete gamma function and `p` the `Gamma(a, 1)` density, computed to a relative `1e-14`.
/// A clamped draw has no gradient.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Gamma, Real};
///
/// let d = Gamma::new(2.0, 3.0)?;
/// // ln(9 * 0.5 * exp(-1.5)) = ln 4.5 - 1.5.
/// assert!((d.log_prob(&Real::from(0.5)) - (4.5_f64.ln() - 1.5)).abs() < 1e-14);
/// assert_eq!(d.log_prob(&Real::from(-1.0)), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(2.0 / 3.0));
/// assert!(Gamma::new(0.0, 1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Gamma {
    concentration: Real,
    rate: Real,
    /// `concentration ln(rate) - ln Gamma(concentration)` for `concentration < 10`, else the
    /// parameter-only part of the saddle-point form, `ln(a) / 2 - ln(2 pi) / 2 - corr(a)`;
    /// computed when first scored.
    log_norm: Memo,
    /// `ln(rate)`.
    ln_rate: f64,
    /// `concentration - 1`.
    shape_m1: f64,
    sampler: rand_distr::Gamma<f64>,
}

const FAMILY: &str = "Gamma";

impl Gamma {
    /// A gamma distribution; `concentration` and `rate` must be finite and `> 0`.
    pub fn new(concentration: impl Into<Real>, rate: impl Into<Real>) -> Result<Self, ParamError> {
        let (concentration_real, rate_real) = (concentration.into(), rate.into());
        let concentration = error::positive(FAMILY, "concentration", concentration_real.value())?;
        let rate = error::positive(FAMILY, "rate", rate_real.value())?;
        let sampler = rand_distr::Gamma::new(concentration, 1.0 / rate)
            .map_err(|_| ParamError::new(FAMILY, "rate", rate, "must be finite and > 0"))?;
        Ok(Gamma {
            concentration: concentration_real,
            rate: rate_real,
            log_norm: Memo::new(),
            ln_rate: rate.ln(),
            shape_m1: concentration - 1.0,
            sampler,
        })
    }

    /// The shape parameter.
    pub fn concentration(&self) -> Real {
        self.concentration
    }

    /// The inverse scale.
    pub fn rate(&self) -> Real {
        self.rate
    }

    /// The log normalising constant (of the form in use, see the field).
    fn log_norm(&self) -> f64 {
        self.log_norm
            .get_or(|| gamma_log_norm(self.concentration.value(), self.ln_rate))
    }

    /// A draw of `rand_distr`'s gamma sampler, clamped into the positive normal range, as a
    /// function of the parameters (`detach`ed by `sample`): `d/drate = -x / rate` and the
    /// implicit gradient `d/dconcentration = x d(ln z)/da` at `z = rate x`; none where clamped.
    #[inline]
    fn draw<R: Rng + ?Sized>(&self, concentration: Real, rate: Real, rng: &mut R) -> Real {
        let x = rng.sample(self.sampler).clamp(f64::MIN_POSITIVE, f64::MAX);
        let clamped = x == f64::MIN_POSITIVE || x == f64::MAX;
        if clamped || (concentration.is_constant() && rate.is_constant()) {
            return Real::constant(x);
        }
        let mut partials = Partials::new();
        if !concentration.is_constant() {
            let (a, r) = (concentration.value(), rate.value());
            let ln_z = self.ln_rate + x.ln();
            partials.push(concentration, x * gamma_log_draw_grad(a, r * x, ln_z));
        }
        partials.push(rate, -x / rate.value());
        partials.record(x)
    }
}

impl Distribution for Gamma {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    #[inline]
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        self.draw(detach(self.concentration), detach(self.rate), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// The draw of `sample`: `d/drate = -x / rate`, and the implicit gradient with respect to
    /// the concentration (see the type's documentation).
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
                let y = rate * x;
                self.log_norm() - gamma_deviance(a, y, self.ln_rate + ln_x) - ln_x
            } else {
                self.log_norm() + self.shape_m1 * ln_x - rate * x
            }
        } else if x == 0.0 {
            // (concentration - 1) ln x at x -> 0+, without the NaN of 0 * -inf.
            if self.shape_m1 < 0.0 {
                f64::INFINITY
            } else if self.shape_m1 == 0.0 {
                self.log_norm()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            f64::NEG_INFINITY
        }
    }

    /// `d/dx = (a - 1 - rate x) / x`, `d/da = ln(rate x) - digamma(a)` and
    /// `d/drate = (a - rate x) / rate` for the concentration `a`, with `a - rate x` fused (one
    /// rounding, so that near the mode of a large shape, where it is about `sqrt(a)` and the
    /// partials small, they keep full precision) and `d/da` from the crate's
    /// `special::gamma_shape_score` (without cancelling its two terms of size `ln a`). At `x = 0`
    /// (finite only for `a = 1`): the limits from inside, `d/dx = -rate`, `d/da = -inf` and
    /// `d/drate = 1 / rate`.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.concentration.is_constant() && self.rate.is_constant() {
            return;
        }
        let (a, rate, x_value) = (self.concentration.value(), self.rate.value(), x.value());
        // a - rate x, rounded once (and without overflow where rate x alone would).
        let a_minus_y = (-rate).mul_add(x_value, a);
        let d_x = if x_value == 0.0 {
            // (a - 1) / x - rate with a - 1 = 0.
            -rate
        } else {
            (a_minus_y - 1.0) / x_value
        };
        partials.push(*x, d_x);
        if !self.concentration.is_constant() {
            let ln_y = self.ln_rate + x_value.ln();
            let score = gamma_shape_score(a, rate * x_value, ln_y, -a_minus_y);
            partials.push(self.concentration, score);
        }
        partials.push(self.rate, a_minus_y / rate);
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }

    fn mean(&self) -> Option<f64> {
        Some(self.concentration.value() / self.rate.value())
    }

    fn variance(&self) -> Option<f64> {
        // Divided twice: rate^2 may overflow or underflow where the variance does not.
        let rate = self.rate.value();
        Some(self.concentration.value() / rate / rate)
    }
}

impl Cdf for Gamma {
    /// The regularised lower incomplete gamma function `P(concentration, rate x)` (see the
    /// crate's `special::gamma_p_q`: Cephes' `igam` for moderate shapes, Temme's uniform
    /// expansion for shapes from 1e5 on, limiting forms for tiny shapes and arguments).
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            let (a, rate) = (self.concentration.value(), self.rate.value());
            gamma_p_q(a, rate * x, self.ln_rate + x.ln()).0
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

    fn build(p: &testing::Params) -> Gamma {
        Gamma::new(p.real("concentration"), p.real("rate")).unwrap()
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
        // One shape per sampler branch: > 1, = 1 (exponential), < 1 (boosted).
        testing::check_sample_moments(&Gamma::new(2.5, 1.5).unwrap(), 1);
        testing::check_sample_moments(&Gamma::new(1.0, 0.25).unwrap(), 2);
        testing::check_sample_moments(&Gamma::new(0.3, 4.0).unwrap(), 3);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Gamma::new(3.0, 0.5).unwrap(), 4);
        testing::ks_test(&Gamma::new(1.0, 2.0).unwrap(), 5);
        testing::ks_test(&Gamma::new(0.05, 1.0).unwrap(), 6);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &Gamma::new(2.0, 3.0).unwrap(),
            42,
            &rs(&[0.9975361129090623, 1.408211177971349, 1.0752961410567852]),
        );
    }

    #[test]
    fn tiny_shape_draws_stay_positive() {
        // P(X < 1e-300) is about 0.5 for concentration 1e-3; such draws are clamped, not zero.
        let d = Gamma::new(1e-3, 1.0).unwrap();
        let mut r = testing::rng(7);
        for _ in 0..2000 {
            let x = d.sample(&mut r);
            assert!(x > 0.0 && d.log_prob(&x).is_finite(), "draw {x}");
        }
    }

    #[test]
    fn edges_and_errors() {
        let e = Gamma::new(-1.0, 1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Gamma: invalid parameter concentration = -1 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Gamma::new(bad, 1.0).unwrap_err().param, "concentration");
            assert_eq!(Gamma::new(1.0, bad).unwrap_err().param, "rate");
        }
        // The density at 0 is the limit from inside.
        assert_eq!(
            Gamma::new(0.5, 1.0).unwrap().log_prob(&r(0.0)),
            f64::INFINITY
        );
        assert_eq!(
            Gamma::new(1.0, 2.0).unwrap().log_prob(&r(0.0)),
            2.0_f64.ln()
        );
        assert_eq!(
            Gamma::new(1.5, 1.0).unwrap().log_prob(&r(0.0)),
            f64::NEG_INFINITY
        );
        let d = Gamma::new(2.0, 1.0).unwrap();
        for x in [-1e-300, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(d.log_prob(&r(x)), f64::NEG_INFINITY, "x = {x}");
        }
        assert!(d.log_prob(&r(f64::MIN_POSITIVE)).is_finite());
        assert!(d.support().contains(&Value::Real(0.0)));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&r(2.0)));
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!((d.concentration().value(), d.rate().value()), (2.0, 1.0));
    }

    fn gamma_at(v: &[Real]) -> (Gamma, Real) {
        (Gamma::new(v[1], v[2]).unwrap(), v[0])
    }

    /// The scales of inputs `(x, concentration, rate)` for `check_log_prob_gradient`: each the
    /// distance to the edge (0), or for a large shape `a` the width of the density's peak along
    /// that input (the standard deviation `sqrt(a) / rate` in `x`, and correspondingly
    /// `sqrt(a)` in the shape and `rate / sqrt(a)` in the rate), whichever is smaller: the length
    /// over which the log-density varies.
    fn gamma_scales(x: f64, a: f64, rate: f64) -> [f64; 3] {
        let w = a.max(1.0).sqrt();
        [x.min(w / rate), a.min(w), rate / w]
    }

    /// Finite differences check the partials up to shapes of about 1e6: beyond, a value near the
    /// mode (where `x d/dx` is about `sqrt(a)`) carries more rounding than the check allows for
    /// (`rate x` is rounded, which moves the log-density by `sqrt(a) eps`); the large shapes are
    /// checked against mpmath in `gradient_closed_forms`.
    #[test]
    fn gradients_match_finite_differences() {
        for &(x, a, rate) in &[
            (0.5, 2.0, 3.0),
            (3.7, 0.3, 1.2),
            (1e-3, 0.05, 2.0),
            (1e-200, 0.5, 1.0),
            (1e-200, 3.0, 1.0),
            (40.0, 1.0, 0.1),
            (12.0, 9.5, 0.8),
            (14.0, 10.5, 0.8),
            (20.0, 100.0, 1.0),
            (400.0, 100.0, 1.0),
            (1.002e6, 1e6, 1.0),
            (0.998e6, 1e6, 1.0),
            (1e-290, 1.5, 1e290),
            (1e5, 3.0, 1e-4),
            (2.5, 1e-8, 1.0),
        ] {
            testing::check_log_prob_gradient(gamma_at, &[x, a, rate], &gamma_scales(x, a, rate));
        }
    }

    #[test]
    fn gradient_closed_forms() {
        let grad = |point: &[f64]| {
            pyro_tape::gradient(point, |v| {
                let (d, x) = gamma_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        // Gamma(2, 3) at 0.5: d/dx = 1 / 0.5 - 3, d/da = ln 1.5 - digamma(2) with
        // digamma(2) = 1 - Euler's gamma, d/drate = 2 / 3 - 0.5.
        let g = grad(&[0.5, 2.0, 3.0]);
        let euler = 0.577_215_664_901_532_9;
        assert_eq!(g[0], -1.0);
        assert!(
            (g[1] - (1.5_f64.ln() - (1.0 - euler))).abs() < 1e-15,
            "{g:?}"
        );
        assert!((g[2] - 1.0 / 6.0).abs() < 1e-16, "{g:?}");
        // At the edge x = 0 of Gamma(1, rate), an exponential: the limits from inside.
        let g = grad(&[0.0, 1.0, 4.0]);
        assert_eq!(g, vec![-4.0, f64::NEG_INFINITY, 0.25]);
        // At the mode of a huge shape the shape's partial is 1 / (2a) + O(1 / a^2).
        let g = grad(&[1e300, 1e300, 1.0]);
        assert_eq!(g[1], 0.5e-300);
        // Large shapes near the mode, against mpmath (200 digits, at these doubles): the partials
        // are differences of terms about sqrt(a) times larger, kept to a few ulps.
        for (point, want) in [
            (
                [1.00002e10, 1e10, 1.0],
                [
                    -1.999_970_000_599_988e-5,
                    1.999_985_000_266_662_7e-5,
                    -200_000.0,
                ],
            ),
            (
                [9.999_999_999e24, 1e20, 1e-5],
                [
                    9.999_998_064_947_73e-16,
                    -9.999_998_064_947_729e-11,
                    9.999_998_064_947_729e14,
                ],
            ),
            (
                [1e306, 1e300, 1e-6],
                [
                    8.054_058_383_258_17e-23,
                    -8.054_058_383_258_171e-17,
                    8.054_058_383_258_17e289,
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
            c in 1e-3..1e3_f64, rate in 1e-3..1e3_f64, x in 1e-300..1e6_f64,
        ) {
            let d = Gamma::new(c, rate).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_params_error(bad in -1e6..=0.0_f64, good in 1e-3..1e3_f64) {
            prop_assert!(Gamma::new(bad, good).is_err());
            prop_assert!(Gamma::new(good, bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            c in 1e-2..1e2_f64, rate in 1e-2..1e2_f64, x in 0.0..1e3_f64, dx in 0.0..10.0_f64,
        ) {
            let d = Gamma::new(c, rate).unwrap();
            let (lo, hi) = (d.cdf(x), d.cdf(x + dx));
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // Inputs (concentration, rate): the rate's gradient against finite differences of the
        // draw (x = z / rate at fixed noise); the concentration's, the implicit one, against
        // the quantile. Shapes on both sides of 1 (rand_distr's two samplers) and of 100 (the
        // implicit gradient's asymptotic expansion).
        for &(a, rate) in &[
            (2.0, 3.0),
            (0.3, 1.0),
            (0.05, 2.0),
            (50.0, 0.5),
            (250.0, 2.0),
        ] {
            let build = |v: &[Real]| Gamma::new(v[0], v[1]).unwrap();
            testing::check_rsample(build, &[a, rate], &[None, Some(rate)]);
            testing::check_implicit_gradient(build, &[a, rate], 0);
        }
    }

    /// Both gradients are unbiased: over many draws the mean of `dx/dconcentration` is
    /// `d E[x] / dconcentration = 1 / rate`, and that of `dx/drate` is `-concentration / rate^2`.
    #[test]
    fn rsample_gradients_are_unbiased() {
        for &(a, rate, seed) in &[(2.0, 3.0, 1), (0.3, 1.0, 2), (150.0, 0.5, 3)] {
            let draws = testing::rsample_draws(
                |v| Gamma::new(v[0], v[1]).unwrap(),
                &[a, rate],
                20_000,
                seed,
            );
            let d_a: Vec<f64> = draws.iter().map(|(_, j)| j[0][0]).collect();
            let d_rate: Vec<f64> = draws.iter().map(|(_, j)| j[0][1]).collect();
            testing::assert_mean(&d_a, 1.0 / rate, &format!("Gamma({a}, {rate}) dx/da"));
            testing::assert_mean(
                &d_rate,
                -a / rate / rate,
                &format!("Gamma({a}, {rate}) dx/drate"),
            );
        }
    }
}
