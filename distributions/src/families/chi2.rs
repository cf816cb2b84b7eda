//! The chi-squared distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::implicit::gamma_log_draw_grad;
use crate::memo::Memo;
use crate::reparam::{detach, implicit};
use crate::special::{
    GAMMA_SADDLE_FROM, gamma_deviance, gamma_p_q, gamma_saddle_const, gamma_shape_score,
    ln_gamma_half,
};
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The chi-squared distribution `Chi2(df)` with `df` degrees of freedom: `Gamma(df / 2, 1 / 2)`.
///
/// # Density
/// `p(x) = x^(df/2 - 1) exp(-x / 2) / (2^(df/2) Gamma(df / 2))` for `x >= 0`. At `x = 0` the
/// density is the limit from inside: `+inf` for `df < 2`, `1/2` for `df = 2` and `0` for
/// `df > 2`.
///
/// `df` may be any positive real, from the smallest subnormal to `f64::MAX`. For `df >= 20` the
/// log-density is evaluated in the saddle-point form of [`Gamma`](crate::Gamma), which stays
/// finite and accurate up to `df = f64::MAX`; below, `ln Gamma(df / 2)` is taken as
/// `ln 2 - ln df` where `df / 2` would round (subnormal `df`). Draws are clamped into the
/// positive normal `f64` range (as for [`Gamma`](crate::Gamma)), so a draw never underflows to
/// `0`; for `df = 5e-324`, whose half underflows, every draw is that clamp, `f64::MIN_POSITIVE`
/// (a draw exceeds it with probability below `1e-320`).
///
/// `df` and the value are [`Real`]s: a gradient flows through `log_prob_real` to each that is
/// tracked on the tape (`d/dx = (df / 2 - 1) / x - 1 / 2`,
/// `d/ddf = (ln(x / 2) - digamma(df / 2)) / 2`). At `x = 0`, where the density is finite only
/// for `df = 2`, the partials are their limits from inside the support (that of `df` is `-inf`).
///
/// [`rsample`](Distribution::rsample) gives the draw of `sample` with the implicit
/// reparameterisation gradient of `Gamma(df / 2, 1 / 2)` (see [`Gamma`](crate::Gamma)):
/// `dx/ddf = (x / 2) d(ln z)/da` at `z = x / 2`, `a = df / 2`. A clamped draw has no gradient.
///
/// # Example
/// ```
/// use pyro_distributions::{Chi2, Distribution, Real};
///
/// let d = Chi2::new(2.0)?;
/// // Exponential with rate 1/2.
/// assert!((d.log_prob(&Real::from(4.0)) - (0.5_f64.ln() - 2.0)).abs() < 1e-14);
/// assert_eq!(d.mean(), Some(2.0));
/// assert!(Chi2::new(0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Chi2 {
    df: Real,
    /// `-(df / 2) ln 2 - ln Gamma(df / 2)` for `df < 20`, else the parameter-only part of the
    /// saddle-point form, `ln(k) / 2 - ln(2 pi) / 2 - corr(k)` with `k = df / 2`; computed when
    /// first scored.
    log_norm: Memo,
    /// `df / 2 - 1`.
    half_df_m1: f64,
    /// `None` where `df / 2` underflows (`df = 5e-324`), which `rand_distr` refuses.
    sampler: Option<rand_distr::ChiSquared<f64>>,
}

const FAMILY: &str = "Chi2";

impl Chi2 {
    /// A chi-squared distribution; `df` must be finite and `> 0`.
    pub fn new(df: impl Into<Real>) -> Result<Self, ParamError> {
        let df_real = df.into();
        let df = error::positive(FAMILY, "df", df_real.value())?;
        let k = 0.5 * df;
        Ok(Chi2 {
            df: df_real,
            log_norm: Memo::new(),
            half_df_m1: k - 1.0,
            sampler: rand_distr::ChiSquared::new(df).ok(),
        })
    }

    /// The degrees of freedom.
    pub fn df(&self) -> Real {
        self.df
    }

    /// A draw of `rand_distr`'s chi-squared sampler, clamped into the positive normal range,
    /// as a function of `df` (`detach`ed by `sample`), with its implicit gradient
    /// `(x / 2) d(ln z)/da` at `z = x / 2`, `a = df / 2`; none where clamped.
    #[inline]
    fn draw<R: Rng + ?Sized>(&self, df: Real, rng: &mut R) -> Real {
        let x = match self.sampler {
            Some(s) => rng.sample(s).clamp(f64::MIN_POSITIVE, f64::MAX),
            None => f64::MIN_POSITIVE,
        };
        if x == f64::MIN_POSITIVE || x == f64::MAX {
            return Real::constant(x);
        }
        implicit(x, df, || {
            let z = 0.5 * x;
            z * gamma_log_draw_grad(0.5 * df.value(), z, z.ln())
        })
    }

    /// The log normalising constant.
    fn log_norm(&self) -> f64 {
        let df = self.df.value();
        self.log_norm.get_or(|| {
            if df >= 2.0 * GAMMA_SADDLE_FROM {
                gamma_saddle_const(0.5 * df)
            } else {
                -0.5 * df * std::f64::consts::LN_2 - ln_gamma_half(df)
            }
        })
    }
}

impl Distribution for Chi2 {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        self.draw(detach(self.df), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// The draw of `sample`, with the implicit gradient with respect to `df` (see the type's
    /// documentation).
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(self.draw(self.df, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        let df = self.df.value();
        if x > 0.0 && x < f64::INFINITY {
            let ln_x = x.ln();
            if df >= 2.0 * GAMMA_SADDLE_FROM {
                // Gamma(k, 1/2) at x: the scaled value is x / 2 (exact).
                let ln_y = ln_x - std::f64::consts::LN_2;
                self.log_norm() - gamma_deviance(0.5 * df, 0.5 * x, ln_y) - ln_x
            } else {
                self.log_norm() + self.half_df_m1 * ln_x - 0.5 * x
            }
        } else if x == 0.0 {
            // (df/2 - 1) ln x at x -> 0+, without the NaN of 0 * -inf.
            if self.half_df_m1 < 0.0 {
                f64::INFINITY
            } else if self.half_df_m1 == 0.0 {
                self.log_norm()
            } else {
                f64::NEG_INFINITY
            }
        } else {
            f64::NEG_INFINITY
        }
    }

    /// `d/dx = (k - 1 - x / 2) / x` and `d/ddf = (ln(x / 2) - digamma(k)) / 2` with `k = df / 2`:
    /// `k - x / 2` is exact near the mode, and `d/ddf` comes from the crate's
    /// `special::gamma_shape_score` (without cancelling its two terms of size `ln k`). At `x = 0`
    /// (finite only for `df = 2`): the limits from inside, `d/dx = -1/2` and `d/ddf = -inf`.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.df.is_constant() {
            return;
        }
        let (k, x_value) = (0.5 * self.df.value(), x.value());
        // k - x / 2: exact where x / 2 is within a factor 2 of k (Sterbenz).
        let k_minus_y = k - 0.5 * x_value;
        let d_x = if x_value == 0.0 {
            // (k - 1) / x - 1/2 with k - 1 = 0.
            -0.5
        } else {
            (k_minus_y - 1.0) / x_value
        };
        partials.push(*x, d_x);
        if !self.df.is_constant() {
            let ln_y = x_value.ln() - std::f64::consts::LN_2;
            let score = gamma_shape_score(k, 0.5 * x_value, ln_y, -k_minus_y);
            partials.push(self.df, 0.5 * score);
        }
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegative
    }

    fn mean(&self) -> Option<f64> {
        Some(self.df.value())
    }

    fn variance(&self) -> Option<f64> {
        Some(2.0 * self.df.value())
    }
}

impl Cdf for Chi2 {
    /// The regularised lower incomplete gamma function `P(df / 2, x / 2)` (see the crate's
    /// `special::gamma_p_q`).
    fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            0.0
        } else {
            gamma_p_q(
                0.5 * self.df.value(),
                0.5 * x,
                x.ln() - std::f64::consts::LN_2,
            )
            .0
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

    fn build(p: &testing::Params) -> Chi2 {
        Chi2::new(p.real("df")).unwrap()
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
        // df = 1 has its own sampler (a squared normal).
        testing::check_sample_moments(&Chi2::new(3.0).unwrap(), 1);
        testing::check_sample_moments(&Chi2::new(1.0).unwrap(), 2);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Chi2::new(3.0).unwrap(), 3);
        testing::ks_test(&Chi2::new(1.0).unwrap(), 4);
        testing::ks_test(&Chi2::new(0.5).unwrap(), 5);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &Chi2::new(3.0).unwrap(),
            42,
            &rs(&[4.639823542023322, 6.8868185915037206, 5.059291204340767]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let e = Chi2::new(-3.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Chi2: invalid parameter df = -3 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Chi2::new(bad).unwrap_err().param, "df");
        }
        assert_eq!(Chi2::new(1.0).unwrap().log_prob(&r(0.0)), f64::INFINITY);
        assert_eq!(
            Chi2::new(2.0).unwrap().log_prob(&r(0.0)),
            -std::f64::consts::LN_2
        );
        assert_eq!(Chi2::new(3.0).unwrap().log_prob(&r(0.0)), f64::NEG_INFINITY);
        let d = Chi2::new(3.0).unwrap();
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
        assert_eq!(d.df(), 3.0);
    }

    fn chi2_at(v: &[Real]) -> (Chi2, Real) {
        (Chi2::new(v[1]).unwrap(), v[0])
    }

    fn grad(point: &[f64]) -> Vec<f64> {
        pyro_tape::gradient(point, |v| {
            let (d, x) = chi2_at(v);
            Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
        })
        .unwrap()
        .1
    }

    /// Inputs `(x, df)`; each scale is the distance to the edge (0), or for large `df` the width
    /// of the density's peak along that input (the standard deviation `2 sqrt(k)` in `x`, with
    /// `k = df / 2`, and `2 sqrt(k)` in `df`), whichever is smaller. As for `Gamma`, finite
    /// differences check `df` up to about 1e6; larger ones are checked against mpmath in
    /// `gradient_closed_forms`.
    #[test]
    fn gradients_match_finite_differences() {
        for &(x, df) in &[
            (4.0_f64, 2.0_f64),
            (0.3, 1.0),
            (1e-3, 0.1),
            (1e-250, 0.5),
            (1e-250, 7.0),
            (30.0, 3.0),
            (17.0, 19.5),
            (21.0, 20.5),
            (5.0, 200.0),
            (1e6 + 2828.0, 1e6),
            (1e6 - 2828.0, 1e6),
            (5.0, 1e-9),
        ] {
            let k = 0.5 * df;
            let w = k.max(1.0).sqrt();
            let scales = [x.min(2.0 * w), 2.0 * k.min(w)];
            testing::check_log_prob_gradient(chi2_at, &[x, df], &scales);
        }
    }

    #[test]
    fn gradient_closed_forms() {
        // Chi2(2) at 4, the exponential with rate 1/2: d/dx = -1/2, and
        // d/ddf = (ln 2 - digamma(1)) / 2 with digamma(1) = -Euler's gamma.
        let g = grad(&[4.0, 2.0]);
        let euler = 0.577_215_664_901_532_9;
        assert_eq!(g[0], -0.5);
        assert!((g[1] - 0.5 * (2.0_f64.ln() + euler)).abs() < 1e-15, "{g:?}");
        // At the edge x = 0 of Chi2(2): the limits from inside.
        assert_eq!(grad(&[0.0, 2.0]), vec![-0.5, f64::NEG_INFINITY]);
        // Tiny df: d/ddf = 1 / df to first order (ln Gamma(k) = -ln k).
        let g = grad(&[1.0, 1e-300]);
        assert_eq!(g[0], -1.5);
        assert!((g[1] / 1e300 - 1.0).abs() < 1e-15, "{g:?}");
        // Large df near the mode, against mpmath (200 digits, at these doubles).
        for (point, want) in [
            (
                [2.0002e10, 2e10],
                [-4.999_505_049_495_050_4e-5, 4.999_752_516_665_416_5e-5],
            ),
            (
                [1.999_999_999_98e20, 2e20],
                [4.999_987_195_05e-12, -4.999_987_197_525e-12],
            ),
            (
                [2.000_000_000_002e300, 2e300],
                [-5.000_094_354_751_545e-13, 5.000_094_354_754_046e-13],
            ),
        ] {
            let g = grad(&point);
            for i in 0..2 {
                assert!(
                    (g[i] - want[i]).abs() <= 1e-14 * want[i].abs(),
                    "{point:?}: {g:?} vs {want:?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn finite_inside_support(df in 1e-3..1e4_f64, x in 1e-300..1e6_f64) {
            prop_assert!(Chi2::new(df).unwrap().log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_df_errors(bad in -1e6..=0.0_f64) {
            prop_assert!(Chi2::new(bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            df in 1e-2..1e3_f64, x in 0.0..1e4_f64, dx in 0.0..10.0_f64,
        ) {
            let d = Chi2::new(df).unwrap();
            let (lo, hi) = (d.cdf(x), d.cdf(x + dx));
            prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            prop_assert!(lo <= hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // The implicit gradient against the quantile; df = 1 has its own sampler (a squared
        // normal), whose draws get the same gradient.
        for df in [3.0, 0.7, 1.0, 40.0, 300.0] {
            let build = |v: &[Real]| Chi2::new(v[0]).unwrap();
            testing::check_rsample(build, &[df], &[None]);
            testing::check_implicit_gradient(build, &[df], 0);
        }
        // Unbiased: the mean of dx/ddf is d E[x] / ddf = 1.
        let draws = testing::rsample_draws(|v| Chi2::new(v[0]).unwrap(), &[3.0], 20_000, 6);
        let d_df: Vec<f64> = draws.iter().map(|(_, j)| j[0][0]).collect();
        testing::assert_mean(&d_df, 1.0, "Chi2(3) dx/ddf");
    }
}
