//! Student's t distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use rand::{Rng, RngExt};
use spec_math::cephes64::{incbet, lbeta};

/// Student's t distribution `StudentT(df, loc, scale)` with `df` degrees of freedom (any real
/// `df > 0`), shifted by `loc` and stretched by `scale`.
///
/// The mean is `loc` for `df > 1` and undefined (`None`) otherwise; the variance is
/// `scale^2 df / (df - 2)` for `df > 2`, infinite for `1 < df <= 2` and undefined for `df <= 1`.
///
/// # Density
/// With `z = (x - loc) / scale`,
/// `p(x) = (1 + z^2 / df)^(-(df + 1) / 2) / (scale sqrt(df) B(df / 2, 1 / 2))` on the real line,
/// `B` the beta function.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, StudentT};
///
/// // One degree of freedom is the Cauchy distribution.
/// let d = StudentT::new(1.0, 0.0, 1.0)?;
/// assert!((d.log_prob(&0.0) + std::f64::consts::PI.ln()).abs() < 1e-15);
/// assert_eq!(d.mean(), None);
/// assert_eq!(StudentT::new(2.0, 0.0, 1.0)?.variance(), Some(f64::INFINITY));
/// assert!(StudentT::new(0.0, 0.0, 1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StudentT {
    df: f64,
    loc: f64,
    scale: f64,
    /// `scale sqrt(df)`.
    scale_sqrt_df: f64,
    /// `(df + 1) / 2`.
    half_df_plus_half: f64,
    /// `ln(scale sqrt(df)) + ln B(df / 2, 1 / 2)`.
    log_norm: f64,
    sampler: rand_distr::StudentT<f64>,
}

const FAMILY: &str = "StudentT";

impl StudentT {
    /// Student's t distribution; `df` and `scale` must be finite and `> 0`, `loc` finite.
    pub fn new(df: f64, loc: f64, scale: f64) -> Result<Self, ParamError> {
        let df = error::positive(FAMILY, "df", df)?;
        let loc = error::finite(FAMILY, "loc", loc)?;
        let scale = error::positive(FAMILY, "scale", scale)?;
        let sampler = rand_distr::StudentT::new(df)
            .map_err(|_| ParamError::new(FAMILY, "df", df, "must be finite and > 0"))?;
        let scale_sqrt_df = scale * df.sqrt();
        Ok(StudentT {
            df,
            loc,
            scale,
            scale_sqrt_df,
            half_df_plus_half: 0.5 * df + 0.5,
            // Cephes' lbeta switches to an asymptotic expansion for df > 2e6, where
            // ln Gamma((df + 1) / 2) - ln Gamma(df / 2) would cancel; below that it takes the
            // difference of ln Gamma, which for 1e3 < df < 2e6 leaves an absolute error of up to
            // about 2e-10 in the log-density (against mpmath).
            log_norm: scale_sqrt_df.ln() + lbeta(0.5 * df, 0.5),
            sampler,
        })
    }

    /// The degrees of freedom.
    pub fn df(&self) -> f64 {
        self.df
    }

    /// The location (the median).
    pub fn loc(&self) -> f64 {
        self.loc
    }

    /// The scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Distribution for StudentT {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let t: f64 = rng.sample(self.sampler);
        self.loc + self.scale * t
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        let d = x - self.loc;
        // w^2 = z^2 / df.
        let w = d / self.scale_sqrt_df;
        let w2 = w * w;
        // ln(1 + w^2); where w^2 overflows, 1 is negligible and ln(w^2) is finite (even where w
        // itself overflows).
        let log1p_w2 = if w2.is_finite() {
            w2.ln_1p()
        } else {
            2.0 * (d.abs().ln() - self.scale_sqrt_df.ln())
        };
        -self.half_df_plus_half * log1p_w2 - self.log_norm
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        (self.df > 1.0).then_some(self.loc)
    }

    fn variance(&self) -> Option<f64> {
        if self.df > 2.0 {
            Some(self.scale * self.scale * self.df / (self.df - 2.0))
        } else if self.df > 1.0 {
            Some(f64::INFINITY)
        } else {
            None
        }
    }
}

impl Cdf for StudentT {
    /// Through the regularised incomplete beta function `I`: the tail mass beyond `|z|` is
    /// `I(df / (df + z^2); df / 2, 1 / 2) / 2`. Near the centre the complement
    /// `I(z^2 / (df + z^2); 1 / 2, df / 2)` is used, so that neither argument is computed as
    /// `1 - (something close to 1)`.
    fn cdf(&self, x: f64) -> f64 {
        let z = (x - self.loc) / self.scale;
        if z.is_nan() {
            return f64::NAN;
        }
        let df = self.df;
        let z2 = z * z;
        if z2 > df {
            let a = 0.5 * df;
            let tail = if z2.is_finite() {
                0.5 * incbet(a, 0.5, df / (df + z2))
            } else {
                // z^2 overflows, so t = df / (df + z^2) < df 1e-308 may underflow, yet for small
                // df the tail beyond |z| still holds visible mass. There
                // I(t; a, 1/2) = t^a (1 - t)^(1/2) / (a B(a, 1/2)) (1 + O(t)) is exact to
                // double precision; evaluate it in logs with ln t = ln df - 2 ln|z|.
                let ln_t = df.ln() - 2.0 * z.abs().ln();
                0.5 * (a * ln_t - a.ln() - lbeta(a, 0.5)).exp()
            };
            if z < 0.0 { tail } else { 1.0 - tail }
        } else {
            let centre = 0.5 * incbet(0.5, 0.5 * df, z2 / (df + z2));
            if z < 0.0 { 0.5 - centre } else { 0.5 + centre }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> StudentT {
        StudentT::new(p.real("df"), p.real("loc"), p.real("scale")).unwrap()
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
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
            &[3.264316247482882, 1.7314149538815982, -1.5907557140513418],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = StudentT::new(3.0, 0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NAN), f64::NEG_INFINITY);
        assert!(d.log_prob(&f64::MAX).is_finite());
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
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&2.0));
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
        assert_eq!((d.df(), d.loc(), d.scale()), (3.0, 0.0, 1.0));
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
            prop_assert!(d.log_prob(&x).is_finite());
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
}
