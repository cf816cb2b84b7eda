//! Student's t distribution.

use crate::batched::Location;
use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::implicit::gamma_log_draw_grad;
use crate::reparam::{clamp, detach, implicit};
use crate::special::{digamma, digamma_corr, log1pmx, student_t_log_norm};
use pyro_tape::Real;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use spec_math::cephes64::{incbet, lbeta};

/// Student's t distribution `StudentT(df, loc, scale)` with `df` degrees of freedom (any real
/// `df > 0`, from the smallest subnormal to `f64::MAX`), shifted by `loc` and stretched by
/// `scale`.
///
/// The mean is `loc` for `df > 1` and undefined (`None`) otherwise; the variance is
/// `scale^2 df / (df - 2)` for `df > 2`, infinite for `1 < df <= 2` and undefined for `df <= 1`.
///
/// # Density
/// With `z = (x - loc) / scale`,
/// `p(x) = (1 + z^2 / df)^(-(df + 1) / 2) / (scale sqrt(df) B(df / 2, 1 / 2))` on the real line,
/// `B` the beta function.
///
/// `log_prob` is accurate to a few `1e-16` relative for every `df`: the normalising constant
/// `ln Gamma((df + 1) / 2) - ln Gamma(df / 2) - ln(df pi) / 2` is not taken as a difference of
/// `ln Gamma` for `df >= 20`, where those cancel, but from Stirling's series with the large terms
/// cancelled by hand; `ln(1 + z^2 / df)` never overflows (in logs where `z^2 / df` would).
///
/// Draws beyond `+-f64::MAX`, which a tiny `df` makes likely, are clamped to `+-f64::MAX`.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape (`d/dx = -(df + 1) z / (scale (df + z^2))`, `d/dloc = -d/dx`,
/// `d/dscale = df (z^2 - 1) / (scale (df + z^2))` and
/// `d/ddf = (digamma((df + 1) / 2) - digamma(df / 2) - 1 / df - ln(1 + z^2 / df)
/// + (df + 1) z^2 / (df (df + z^2))) / 2`).
///
/// [`rsample`](Distribution::rsample) gives the draw `loc + scale z sqrt(df / chi)` of
/// `sample` (`z` standard normal, `chi ~ Chi2(df)`), with `d/dloc = 1`, `d/dscale = t` and,
/// with respect to `df`, the derivative through `df` itself and through `chi`'s implicit
/// reparameterisation gradient (see [`Gamma`](crate::Gamma)). A clamped draw has no gradient.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Real, StudentT};
///
/// // One degree of freedom is the Cauchy distribution.
/// let d = StudentT::new(1.0, 0.0, 1.0)?;
/// assert!((d.log_prob(&Real::from(0.0)) + std::f64::consts::PI.ln()).abs() < 1e-15);
/// assert_eq!(d.mean(), None);
/// assert_eq!(StudentT::new(2.0, 0.0, 1.0)?.variance(), Some(f64::INFINITY));
/// assert!(StudentT::new(0.0, 0.0, 1.0).is_err());
/// // Huge df: the normal distribution, to double precision.
/// let big = StudentT::new(1e12, 0.0, 1.0)?;
/// let normal = -0.5 - 0.5 * (2.0 * std::f64::consts::PI).ln();
/// assert!((big.log_prob(&Real::from(1.0)) - normal).abs() < 1e-12);
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StudentT {
    df: Real,
    loc: Real,
    scale: Real,
    /// `sqrt(df)`.
    sqrt_df: f64,
    /// `ln(scale)`.
    ln_scale: f64,
    /// `(df + 1) / 2`.
    half_df_plus_half: f64,
    /// `ln Gamma((df + 1) / 2) - ln Gamma(df / 2) - ln(df pi) / 2 - ln(scale)`.
    log_norm: f64,
    /// The chi-squared sampler of `df` degrees of freedom (a draw is `z sqrt(df / chi)`, as
    /// `rand_distr`'s Student's t draws it); `None` where `df / 2` underflows (`df = 5e-324`),
    /// and `rand_distr` refuses.
    chi: Option<rand_distr::ChiSquared<f64>>,
}

const FAMILY: &str = "StudentT";

impl StudentT {
    /// Student's t distribution; `df` and `scale` must be finite and `> 0` (subnormal `df`
    /// included), `loc` finite.
    pub fn new(
        df: impl Into<Real>,
        loc: impl Into<Real>,
        scale: impl Into<Real>,
    ) -> Result<Self, ParamError> {
        let (df_real, loc_real, scale_real) = (df.into(), loc.into(), scale.into());
        let df = error::positive(FAMILY, "df", df_real.value())?;
        error::finite(FAMILY, "loc", loc_real.value())?;
        let scale = error::positive(FAMILY, "scale", scale_real.value())?;
        let ln_scale = scale.ln();
        Ok(StudentT {
            df: df_real,
            loc: loc_real,
            scale: scale_real,
            sqrt_df: df.sqrt(),
            ln_scale,
            half_df_plus_half: 0.5 * df + 0.5,
            // Accurate for every df (a few 1e-16 relative), where ln Gamma((df + 1) / 2) and
            // ln Gamma(df / 2) would cancel for large df (see `student_t_log_norm`).
            log_norm: student_t_log_norm(df) - ln_scale,
            chi: rand_distr::ChiSquared::new(df).ok(),
        })
    }

    /// The degrees of freedom.
    pub fn df(&self) -> Real {
        self.df
    }

    /// The location (the median).
    pub fn loc(&self) -> Real {
        self.loc
    }

    /// The scale.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// `(x - loc, w)` with `w = z / sqrt(df)`, `z = (x - loc) / scale`: divided in two steps so
    /// that no product of the parameters can overflow (where `z` overflows, `w^2` would too;
    /// where `z` underflows, `z^2 / 2` is below 1e-600 and so is its share of the log-density).
    #[inline]
    fn diff_and_w(&self, x: f64) -> (f64, f64) {
        let d = x - self.loc.value();
        (d, d / self.scale.value() / self.sqrt_df)
    }

    /// `ln(1 + z^2 / df)` with `z = (x - loc) / scale`, for finite `x`, without overflow.
    #[inline]
    fn log1p_w2(&self, x: f64) -> f64 {
        let (d, w) = self.diff_and_w(x);
        let w2 = w * w;
        if w2.is_finite() {
            w2.ln_1p()
        } else if w.is_finite() {
            // 1 is negligible next to w^2 > f64::MAX.
            2.0 * w.abs().ln()
        } else {
            // ln|w| in logs; x - loc itself may overflow, x / 2 - loc / 2 cannot.
            let ln_abs_d = if d.is_finite() {
                d.abs().ln()
            } else {
                (0.5 * x - 0.5 * self.loc.value()).abs().ln() + std::f64::consts::LN_2
            };
            2.0 * (ln_abs_d - self.ln_scale - 0.5 * self.df.value().ln())
        }
    }
}

/// `2 d/ddf` of the log normalising constant [`student_t_log_norm`],
/// `digamma((df + 1) / 2) - digamma(df / 2) - 1 / df`, for every `df > 0`, without the
/// cancellation of its terms.
///
/// From `df = 20` on, with `digamma(y) = ln y - 1 / (2y) + digamma_corr(y)` and `y = df / 2`:
/// `1 / (df (df + 1)) + log1pmx(1 / df) + digamma_corr((df + 1) / 2) - digamma_corr(df / 2)`,
/// about `1 / (2 df^2)`, whose terms (`ln(1 + 1 / df)` and `1 / df`, and the two
/// `digamma_corr`) cancel only by small factors. Below, with `digamma(df / 2) =
/// digamma(df / 2 + 1) - 2 / df`: `digamma((df + 1) / 2) - digamma(df / 2 + 1) + 1 / df`, which
/// does not subtract `1 / df` from `2 / df` (both overflow for subnormal `df`; the result is then
/// `+inf`, as `1 / df` is).
fn log_norm_slope2(df: f64) -> f64 {
    if df >= 20.0 {
        let inv = 1.0 / df;
        inv / (df + 1.0) + log1pmx(inv) + (digamma_corr(0.5 * df + 0.5) - digamma_corr(0.5 * df))
    } else {
        digamma(0.5 * df + 0.5) - digamma(0.5 * df + 1.0) + 1.0 / df
    }
}

impl StudentT {
    /// The draw `loc + scale t` with `t = z sqrt(df / chi)` for a standard normal `z` and
    /// `chi ~ Chi2(df)` drawn after it (as `rand_distr`'s Student's t draws `t`), clamped into
    /// `+-f64::MAX`: the one formula of `sample` (on `detach`ed parameters) and `rsample`.
    /// `chi` carries the implicit reparameterisation gradient of `Gamma(df / 2, 1 / 2)`
    /// (see [`Gamma`](crate::Gamma)): `dchi/ddf = (chi / 2) d(ln g)/da` at `g = chi / 2`,
    /// `a = df / 2`.
    #[inline]
    fn draw<R: Rng + ?Sized>(&self, df: Real, loc: Real, scale: Real, rng: &mut R) -> Real {
        let Some(chi_sampler) = self.chi else {
            // df = 5e-324: |T| exceeds any double but with probability about 1e-320.
            return Real::constant(if rng.random::<bool>() {
                f64::MAX
            } else {
                -f64::MAX
            });
        };
        let z: f64 = rng.sample(StandardNormal);
        let chi: f64 = rng.sample(chi_sampler);
        let chi = if chi.is_normal() {
            implicit(chi, df, || {
                let g = 0.5 * chi;
                g * gamma_log_draw_grad(0.5 * df.value(), g, g.ln())
            })
        } else {
            // 0 (or subnormal, where the gradient is beyond any double): t is +-inf, clamped.
            Real::constant(chi)
        };
        let t = z * (df / chi).sqrt();
        clamp(loc + scale * t, -f64::MAX, f64::MAX)
    }
}

impl Distribution for StudentT {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    /// Draws beyond `f64::MAX` (which tiny `df` makes likely) are clamped to `+-f64::MAX`.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        self.draw(detach(self.df), detach(self.loc), detach(self.scale), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `loc + scale z sqrt(df / chi)`: `d/dloc = 1`, `d/dscale = t`, and with respect to `df`
    /// through `df` itself and the implicit gradient of `chi` (see the type's documentation).
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(self.draw(self.df, self.loc, self.scale, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        -self.half_df_plus_half * self.log1p_w2(x) + self.log_norm
    }

    /// With `w^2 = z^2 / df` and `q = w^2 / (1 + w^2)`: `d/dx = -(df + 1) q / (x - loc)`
    /// (for `|w| <= 1` as `-((df + 1) / sqrt(df)) (w / (1 + w^2)) / scale`, which has no division
    /// by `x - loc`), `d/dloc = -d/dx`, `d/dscale = (df q - (1 - q)) / scale` and
    /// `d/ddf = (log_norm_slope2(df) - ln(1 + w^2) + q + q / df) / 2`, where for `|w| <= 1`
    /// `q - ln(1 + w^2) = -log1pmx(w^2) - w^2 q`, whose terms do not cancel as `w^2` and
    /// `ln(1 + w^2)` would for large `df`. Computed without overflow where the partial itself
    /// does not overflow (`w` and `x - loc` as `log_prob` forms them).
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant()
            && self.df.is_constant()
            && self.loc.is_constant()
            && self.scale.is_constant()
        {
            return;
        }
        let (df, loc, scale, x_value) = (
            self.df.value(),
            self.loc.value(),
            self.scale.value(),
            x.value(),
        );
        let (d, w) = self.diff_and_w(x_value);
        let w2 = w * w;
        // q, its complement 1 - q = 1 / (1 + w^2), and d/dx.
        let (q, one_minus_q, d_x) = if w2 <= 1.0 {
            let p = 1.0 / (1.0 + w2);
            let df_p1_over_sqrt_df = self.sqrt_df + 1.0 / self.sqrt_df;
            (w2 * p, p, -(df_p1_over_sqrt_df * (w * p)) / scale)
        } else {
            // 1 / w^2 is 0 where w^2 overflows.
            let inv_w2 = 1.0 / w2;
            let q = 1.0 / (1.0 + inv_w2);
            let d_x = if d.is_finite() {
                -(df + 1.0) * q / d
            } else {
                // x - loc overflows; x / 2 - loc / 2 does not.
                -0.5 * (df + 1.0) * q / (0.5 * x_value - 0.5 * loc)
            };
            (q, inv_w2 * q, d_x)
        };
        partials.push(*x, d_x);
        partials.push(self.loc, -d_x);
        partials.push(self.scale, (df * q - one_minus_q) / scale);
        if !self.df.is_constant() {
            let q_minus_log = if w2 <= 1.0 {
                -log1pmx(w2) - w2 * q
            } else {
                q - self.log1p_w2(x_value)
            };
            let d_df = 0.5 * (log_norm_slope2(df) + q_minus_log + q / df);
            partials.push(self.df, d_df);
        }
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        (self.df > 1.0).then_some(self.loc.value())
    }

    fn variance(&self) -> Option<f64> {
        let (df, scale) = (self.df.value(), self.scale.value());
        if df > 2.0 {
            // df / (df - 2) is at most 4.5e15 (df > 2 is at least 2 + 4.4e-16); multiplied in
            // this order nothing overflows or underflows unless the variance itself does.
            Some(scale * (scale * (df / (df - 2.0))))
        } else if df > 1.0 {
            Some(f64::INFINITY)
        } else {
            None
        }
    }
}

/// Below this many degrees of freedom the cdf is `1/2` at every finite point (to within 1e-297).
const CDF_TINY_DF: f64 = 1e-300;

/// From this many degrees of freedom on, the cdf is the normal cdf with the two leading terms of
/// its expansion in `1 / df` (relative error below 3e-11 wherever the cdf is a normal double,
/// below 1e-14 for `|z| <= 20`); the incomplete beta function loses `df eps / 2` there.
const CDF_LARGE_DF: f64 = 1e9;

/// Below this `|z|` the lower tail `P(T <= -|z|)` is at least 0.1 for every `df` (the normal
/// quantile of 0.1 is -1.2816), so `1/2 - (centre mass)` cancels by at most three bits.
const CDF_CENTRE_Z: f64 = 1.28;

impl StudentT {
    /// `P(T <= -a)` for the standardised `T` and `a = |z| >= 0`, with `ln_a = ln a`. `a` may have
    /// overflowed to `+inf` where `ln_a` is still finite (tiny `scale`, huge `x - loc`): a
    /// heavy-tailed t still has mass beyond `f64::MAX` standard units.
    fn lower_tail(&self, a: f64, ln_a: f64) -> f64 {
        let df = self.df.value();
        if df < CDF_TINY_DF {
            // With df / 2 below 5e-301 the two halves of the mass lie beyond +-f64::MAX:
            // 1 - I(t; df / 2, 1/2) <= (df / 2) (ln(1 / t) + 2 ln 2) < 1e-297 for every t a
            // double can give, and the centre mass I(s; 1/2, df / 2) is as small.
            0.5
        } else if df >= CDF_LARGE_DF {
            // F(-a) = Phi(-a) + phi(a) [(a^3 + a) / (4 df) + (3a^7 - 7a^5 - 5a^3 - 3a) / (96 df^2)]
            // + O(df^-3) (Fisher's expansion; checked against mpmath). Beyond a = 40 the tail is
            // below 1e-340 for these df: zero.
            if a > 40.0 {
                return 0.0;
            }
            let a2 = a * a;
            let phi = (-0.5 * a2).exp() * FRAC_1_SQRT_2PI;
            let g1 = a * (a2 + 1.0) / 4.0;
            let g2 = a * (((3.0 * a2 - 7.0) * a2 - 5.0) * a2 - 3.0) / 96.0;
            0.5 * libm::erfc(a * std::f64::consts::FRAC_1_SQRT_2) + phi * (g1 / df + g2 / (df * df))
        } else {
            let a2 = a * a;
            if a < CDF_CENTRE_Z && a2 <= df {
                // 1/2 minus the centre mass I(a^2 / (df + a^2); 1/2, df / 2) / 2, whose argument
                // is not a difference from 1.
                0.5 - 0.5 * incbet(0.5, 0.5 * df, a2 / (df + a2))
            } else if a2.is_finite() {
                // The tail mass I(df / (df + a^2); df / 2, 1/2) / 2, small without cancelling.
                // (Its argument is rounded near 1 for large df, which costs up to df eps / 2
                // relative: 5e-8 at df = 1e9, where the expansion above takes over.)
                0.5 * incbet(0.5 * df, 0.5, df / (df + a2))
            } else {
                // a^2 overflows, so t = df / (df + a^2) < df 1e-308 may underflow, yet for small
                // df the tail beyond a still holds visible mass. There
                // I(t; h, 1/2) = t^h (1 - t)^(1/2) / (h B(h, 1/2)) (1 + O(t)) (h = df / 2) is
                // exact to double precision; evaluate it in logs with ln t = ln df - 2 ln a.
                let h = 0.5 * df;
                let ln_t = df.ln() - 2.0 * ln_a;
                0.5 * (h * ln_t - h.ln() - lbeta(h, 0.5)).exp()
            }
        }
    }
}

impl Cdf for StudentT {
    /// With `z = (x - loc) / scale` (computed without overflow): through the regularised
    /// incomplete beta function `I`, as the tail mass beyond `|z|`,
    /// `I(df / (df + z^2); df / 2, 1/2) / 2`, or near the centre (`|z| < 1.28`, where the tail
    /// mass is at least 0.1) as `1/2` minus the centre mass `I(z^2 / (df + z^2); 1/2, df / 2) / 2`,
    /// so that a small tail is never a difference. For `df >= 1e9`, where the incomplete beta
    /// function loses accuracy (its argument is `1 - O(1 / df)`), the normal cdf with the two
    /// leading terms of Fisher's expansion in `1 / df`; for `df < 1e-300` the cdf is `1/2` at
    /// every finite point (half the mass lies beyond each end of the doubles).
    fn cdf(&self, x: f64) -> f64 {
        if x.is_nan() {
            return f64::NAN;
        }
        if x.is_infinite() {
            return if x > 0.0 { 1.0 } else { 0.0 };
        }
        let (loc, scale) = (self.loc.value(), self.scale.value());
        let d = x - loc;
        let (a, ln_a) = if d.is_finite() {
            let z = d.abs() / scale;
            (
                z,
                if z.is_finite() {
                    z.ln()
                } else {
                    d.abs().ln() - self.ln_scale
                },
            )
        } else {
            // x - loc overflows; x / 2 - loc / 2 cannot.
            let half = (0.5 * x - 0.5 * loc).abs();
            let ln_a = half.ln() + std::f64::consts::LN_2 - self.ln_scale;
            (2.0 * (half / scale), ln_a)
        };
        let lower = self.lower_tail(a, ln_a);
        if d < 0.0 { lower } else { 1.0 - lower }
    }
}

/// `1 / sqrt(2 pi)`.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// A location family: a batch over a vector of locations ([`Batched::located`](crate::Batched::located)).
impl Location for StudentT {
    fn loc(&self) -> Real {
        self.loc
    }

    fn at(&self, loc: Real) -> StudentT {
        StudentT { loc, ..*self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> StudentT {
        StudentT::new(p.real("df"), p.real("loc"), p.real("scale")).unwrap()
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
    }

    /// The log-density across the degrees of freedom, from 5e-324 to f64::MAX, against mpmath
    /// (800 digits), at points in the body and far in the tails (issue 11, item 11). The target
    /// is a relative error of 1e-13; the worst measured is 1.5e-15 (df = 19, the last df whose
    /// normaliser is a difference of ln Gamma), and 6e-16 for df >= 20. Before the normaliser was
    /// rewritten, Cephes' lbeta left 1e-9 at df = 2e6.
    #[test]
    fn matches_mpmath_across_df() {
        for case in testing::extreme_cases("student_t_df") {
            let d = build(&case.params);
            for p in &case.points {
                let (x, want) = (p.real("x"), p.real("log_prob"));
                let got = d.log_prob(&r(x));
                let err = if got == want {
                    0.0
                } else {
                    ((got - want) / want).abs()
                };
                assert!(
                    err <= 1e-13,
                    "{d:?} log_prob({x:e}) = {got:e}, mpmath {want:e} (relative error {err:e})"
                );
            }
        }
    }

    /// The cdf across the degrees of freedom against mpmath (the incomplete beta function in
    /// 60 to 680 digits), relative to the smaller of the two tails (`cdf` below 1/2, `1 - cdf`
    /// above, the latter only to the absolute rounding of `1 - tail`). Tolerances by regime, from
    /// the measured worst: below df = 1e3, 5e-13 (worst 1.1e-13, at z = -1e200, where the tail is
    /// the exponential of a logarithm near -690 and amplifies its rounding); from 1e3 to 1e9,
    /// where Cephes'
    /// incomplete beta function takes its prefactor from differences of ln Gamma of order
    /// `df ln df` (and rounds `df / (df + z^2)` near 1), `1e-14 df` (worst 5.9e-9 at df = 1e8);
    /// from 1e9, Fisher's expansion, 1e-11 (worst 1.4e-12, at |z| = 30 for df = 1e9). A reference
    /// in the subnormal range carries only the digits a subnormal holds: 1e-320 absolute slack.
    #[test]
    fn cdf_matches_mpmath_across_df() {
        for case in testing::extreme_cases("student_t_df") {
            let d = build(&case.params);
            let tol = if d.df() < 1e3 {
                5e-13
            } else if d.df() < 1e9 {
                1e-14 * d.df().value()
            } else {
                1e-11
            };
            for p in &case.points {
                let (x, want) = (p.real("x"), p.real("cdf"));
                let got = d.cdf(x);
                let small_tail = want.min(1.0 - want);
                let slack = if want > 0.5 { f64::EPSILON } else { 1e-320 };
                assert!(
                    (got - want).abs() <= tol * small_tail + slack,
                    "{d:?} cdf({x:e}) = {got:e}, mpmath {want:e}"
                );
            }
        }
    }

    /// The smallest subnormal df is accepted (it was refused, with a message that did not hold
    /// for it) and scores as the limit of the density says: half the mass beyond each end.
    #[test]
    fn subnormal_df() {
        let d = StudentT::new(5e-324, 1.0, 2.0).unwrap();
        for x in [-1e300, -1.0, 1.0, 3.0, 1e300] {
            assert!(d.log_prob(&r(x)).is_finite(), "x = {x}");
            assert_eq!(d.cdf(x), 0.5, "x = {x}");
        }
        let mut rng = testing::rng(5);
        let draws: Vec<f64> = (0..100).map(|_| d.sample(&mut rng).value()).collect();
        assert!(draws.iter().all(|x| x.abs() == f64::MAX));
        assert!(draws.contains(&f64::MAX) && draws.contains(&-f64::MAX));
        assert_eq!((d.mean(), d.variance()), (None, None));
    }

    #[test]
    fn sample_moments() {
        // df = 10: the fourth moment is finite (df > 4).
        testing::check_sample_moments(&StudentT::new(10.0, 1.5, 2.0).unwrap(), 51);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&StudentT::new(3.0, -1.0, 0.5).unwrap(), 52);
        // Real (non-integer) and small degrees of freedom.
        testing::ks_test(&StudentT::new(0.7, 0.0, 1.0).unwrap(), 53);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = StudentT::new(4.0, 1.0, 2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &rs(&[3.264316247482882, 1.7314149538815982, -1.5907557140513418]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = StudentT::new(3.0, 0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NEG_INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        assert!(d.log_prob(&r(f64::MAX)).is_finite());
        assert_eq!(d.cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.cdf(0.0), 0.5);
        assert!(d.cdf(f64::NAN).is_nan());
        // One degree of freedom is Cauchy, whose cdf is 1/2 + atan(x) / pi.
        let c = StudentT::new(1.0, 0.0, 1.0).unwrap();
        for x in [-1e6_f64, -3.0, -0.1, 0.2, 1.0, 50.0] {
            let exact = 0.5 + x.atan() / std::f64::consts::PI;
            testing::assert_close(c.cdf(x), exact, 1e-14, "StudentT(1) cdf");
        }
        // Tiny df: beyond |z| = 1e200 (where z^2 overflows) there is still mass 0.00485...
        // (mpmath: 0.5 betainc(0.005, 0.5, 0, 0.01 / (0.01 + 1e400), regularized=True)).
        let heavy = StudentT::new(0.01, 0.0, 1.0).unwrap();
        let tail = 0.004_852_632_857_558_7;
        assert!((heavy.cdf(-1e200) / tail - 1.0).abs() < 1e-12);
        assert!(((1.0 - heavy.cdf(1e200)) / tail - 1.0).abs() < 1e-12);
        assert_eq!(heavy.cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(heavy.cdf(f64::INFINITY), 1.0);
        // Moments by df.
        assert_eq!(StudentT::new(1.0, 2.0, 1.0).unwrap().mean(), None);
        assert_eq!(StudentT::new(1.0, 2.0, 1.0).unwrap().variance(), None);
        assert_eq!(StudentT::new(1.5, 2.0, 1.0).unwrap().mean(), Some(2.0));
        assert_eq!(
            StudentT::new(1.5, 2.0, 1.0).unwrap().variance(),
            Some(f64::INFINITY)
        );
        assert_eq!(StudentT::new(4.0, 2.0, 3.0).unwrap().variance(), Some(18.0));
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&r(2.0)));
        let e = StudentT::new(-1.0, 0.0, 1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "StudentT: invalid parameter df = -1 (must be finite and > 0)"
        );
        assert_eq!(
            StudentT::new(f64::INFINITY, 0.0, 1.0).unwrap_err().param,
            "df"
        );
        assert_eq!(StudentT::new(f64::NAN, 0.0, 1.0).unwrap_err().param, "df");
        assert_eq!(StudentT::new(3.0, f64::NAN, 1.0).unwrap_err().param, "loc");
        assert_eq!(
            StudentT::new(3.0, f64::INFINITY, 1.0).unwrap_err().param,
            "loc"
        );
        assert_eq!(StudentT::new(3.0, 0.0, 0.0).unwrap_err().param, "scale");
        assert_eq!(
            StudentT::new(3.0, 0.0, f64::INFINITY).unwrap_err().param,
            "scale"
        );
        assert_eq!(
            (d.df().value(), d.loc().value(), d.scale().value()),
            (3.0, 0.0, 1.0)
        );
    }

    fn student_t_at(v: &[Real]) -> (StudentT, Real) {
        (StudentT::new(v[1], v[2], v[3]).unwrap(), v[0])
    }

    fn grad(point: &[f64]) -> Vec<f64> {
        testing::log_prob_gradient(student_t_at, point)
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, df, loc, scale). ln(1 + (x - loc)^2 / (df scale^2)) is analytic within
        // sqrt(df scale^2 + (x - loc)^2) of x (and of loc), its distance to the poles
        // loc +- i scale sqrt(df): the scale of x and loc; the scale and df vary over their
        // distance to 0.
        for &(x, df, loc, scale) in &[
            (0.3_f64, 3.0_f64, 0.0_f64, 1.0_f64),
            (-2.5, 1.0, 1.0, 0.5),
            (40.0, 4.0, -3.0, 7.0),
            (1e3, 0.5, 0.0, 1.0),
            (0.1, 19.5, 0.0, 1.0),
            (2.0, 20.5, 0.5, 2.0),
            (2.0, 4.0, 0.0, 1.0),
            (2.0001, 4.0, 0.0, 1.0),
            (1.0, 1e4, 0.0, 1.0),
            (-3.0, 1e8, 0.0, 1.0),
            (1e-3, 1e-3, 0.0, 1.0),
            (1e150, 3.0, 0.0, 1.0),
            (1e200, 2.0, 0.0, 1.0),
            (3e-300, 5.0, 1e-300, 1e-300),
            (-7e5, 2.5, 1e6, 3e5),
        ] {
            let d = x - loc;
            let width = (df.sqrt() * scale).hypot(d);
            let scales = [width, df, width, scale];
            testing::check_log_prob_gradient(student_t_at, &[x, df, loc, scale], &scales);
        }
    }

    #[test]
    fn gradient_closed_forms() {
        // The Cauchy distribution (df = 1) at z = 1: d/dx = -1, d/dscale = 0 and
        // d/ddf = (digamma(1) - digamma(1/2) - 1 - ln 2 + 1) / 2 = ln(2) / 2.
        let g = grad(&[1.0, 1.0, 0.0, 1.0]);
        assert_eq!((g[0], g[2], g[3]), (-1.0, 1.0, 0.0));
        assert!((g[1] - 0.5 * 2.0_f64.ln()).abs() < 1e-16, "{g:?}");
        // Against mpmath (100 digits), from df = 4 to 1e10, where d/ddf is about
        // (1 + 2 z^2 - z^4) / (4 df^2) and its terms of size 1 / df cancel.
        for (point, want) in [
            (
                [2.0, 4.0, 0.0, 1.0],
                [-1.25, 1.5, -0.018_887_437_506_584_632],
            ),
            (
                [0.5, 25.0, 0.0, 1.0],
                [
                    -0.514_851_485_148_514_9,
                    -0.742_574_257_425_742_6,
                    5.730_304_420_177_581e-4,
                ],
            ),
            (
                [1e3, 50.0, 0.0, 1.0],
                [
                    -0.050_997_450_127_493_626,
                    49.997_450_127_493_63,
                    -4.441_694_294_352_175_6,
                ],
            ),
            (
                [3.0, 1e6, 0.0, 1.0],
                [
                    -2.999_976_000_215_998,
                    7.999_928_000_647_994,
                    -1.549_979_750_209_598e-11,
                ],
            ),
            (
                [1.0, 1e10, 0.0, 1.0],
                [-1.0, 0.0, 4.999_999_999_833_333e-21],
            ),
        ] {
            let g = grad(&point);
            // (d/dx, d/dscale, d/ddf) = (g[0], g[3], g[1]); d/dloc = -d/dx. d/dscale is
            // (df q - (1 - q)) / scale, a difference of terms of size about 1: it is 0 at z = 1
            // only to their rounding.
            assert_eq!(g[2], -g[0]);
            for (i, (got, want)) in [g[0], g[3], g[1]].into_iter().zip(want).enumerate() {
                let slack = if i == 1 { 2.0 * f64::EPSILON } else { 0.0 };
                assert!(
                    (got - want).abs() <= 1e-14 * want.abs() + slack,
                    "{point:?}: {g:?} vs {want:?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            df in prop_oneof![1e-2..10.0_f64, 10.0..1e9_f64],
            loc in -1e6..1e6_f64,
            scale in 1e-6..1e6_f64,
            x in prop_oneof![-1e6..1e6_f64, -1e300..1e300_f64],
        ) {
            let d = StudentT::new(df, loc, scale).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_params_error(
            bad in -1e6..=0.0_f64,
            df in 1e-2..1e6_f64,
            scale in 1e-6..1e6_f64,
        ) {
            prop_assert!(StudentT::new(bad, 0.0, scale).is_err());
            prop_assert!(StudentT::new(df, 0.0, bad).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            df in prop_oneof![1e-2..10.0_f64, 10.0..1e9_f64],
            loc in -10.0..10.0_f64,
            scale in 1e-3..1e3_f64,
            a in -1e4..1e4_f64,
            b in -1e4..1e4_f64,
        ) {
            let d = StudentT::new(df, loc, scale).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        use crate::Chi2;
        use crate::distribution::Cdf;
        use rand_distr::StandardNormal;
        // Inputs (df, loc, scale): loc and scale against finite differences of the draw; df
        // against those of loc + scale z sqrt(df / chi(df)) with the normal z and the level of
        // the chi-squared draw held fixed (the tolerance of `testing::check_implicit_gradient`).
        for &(df, loc, scale) in &[(4.0, 1.0_f64, 2.0_f64), (0.8, 0.0, 1.0), (30.0, -5.0, 0.3)] {
            let s = Some(loc.abs().max(scale));
            let build = |v: &[Real]| StudentT::new(v[0], v[1], v[2]).unwrap();
            testing::check_rsample(build, &[df, loc, scale], &[None, s, s]);
            for seed in testing::RSAMPLE_SEEDS {
                let (x, j) = testing::rsample_jacobian(build, &[df, loc, scale], seed);
                let mut r = testing::rng(seed);
                let z: f64 = r.sample(StandardNormal);
                let chi: f64 = r.sample(rand_distr::ChiSquared::new(df).unwrap());
                let u = Chi2::new(df).unwrap().cdf(chi);
                let at = |n: f64| {
                    let d = Chi2::new(n).unwrap();
                    let c = testing::positive_quantile(|t| d.cdf(t), u);
                    loc + scale * z * (n / c).sqrt()
                };
                let h = f64::EPSILON.cbrt() * df;
                let fd = (at(df + h) - at(df - h)) / ((df + h) - (df - h));
                let g = j[0][0];
                let tolerance = 1e-7 * (g.abs() + (x[0] - loc).abs() / df);
                assert!(
                    (g - fd).abs() <= tolerance,
                    "StudentT({df}, {loc}, {scale}), seed {seed}: dx/ddf = {g}, {fd} by finite \
                     differences"
                );
            }
        }
        // Unbiased: with loc 0 and scale 1, E[x^2] = df / (df - 2), so the mean of 2 x dx/ddf
        // is -2 / (df - 2)^2 (df = 10: the fourth moment, and so the variance, is finite).
        let draws = testing::rsample_draws(
            |v| StudentT::new(v[0], 0.0, 1.0).unwrap(),
            &[10.0],
            20_000,
            8,
        );
        let d: Vec<f64> = draws.iter().map(|(x, j)| 2.0 * x[0] * j[0][0]).collect();
        testing::assert_mean(&d, -2.0 / 64.0, "StudentT(10) d E[x^2] / ddf");
    }
}
