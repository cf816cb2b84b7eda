//! The Gumbel (type I extreme value) distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use crate::special::standardise;
use pyro_tape::Real;
use rand::distr::OpenClosed01;
use rand::{Rng, RngExt};
use std::f64::consts::PI;

/// The Euler-Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The Gumbel distribution `Gumbel(loc, scale)`, the distribution of the maximum of many
/// light-tailed draws, with mode `loc`.
///
/// # Density
/// With `z = (x - loc) / scale`, `p(x) = exp(-(z + exp(-z))) / scale` on the real line.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Gumbel, Real};
///
/// let d = Gumbel::new(0.0, 1.0)?;
/// assert_eq!(d.log_prob(&Real::from(0.0)), -1.0);
/// assert!(Gumbel::new(0.0, 0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gumbel {
    loc: Real,
    scale: Real,
    ln_scale: f64,
}

const FAMILY: &str = "Gumbel";

impl Gumbel {
    /// A Gumbel distribution; `loc` must be finite and `scale` finite and `> 0`.
    pub fn new(loc: impl Into<Real>, scale: impl Into<Real>) -> Result<Self, ParamError> {
        let (loc, scale) = (loc.into(), scale.into());
        error::finite(FAMILY, "loc", loc.value())?;
        let s = error::positive(FAMILY, "scale", scale.value())?;
        Ok(Gumbel {
            loc,
            scale,
            ln_scale: s.ln(),
        })
    }

    /// The location (the mode).
    pub fn loc(&self) -> Real {
        self.loc
    }

    /// The scale.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// The draw `loc - scale ln(-ln u)` for `u` uniform on `(0, 1]` (as `rand_distr`'s Gumbel
    /// draws it): the one formula of `sample` and `rsample` (`d/dloc = 1`,
    /// `d/dscale = -ln(-ln u)`).
    #[inline]
    fn draw<R: Rng + ?Sized>(loc: Real, scale: Real, rng: &mut R) -> Real {
        let u: f64 = rng.sample(OpenClosed01);
        loc - scale * (-u.ln()).ln()
    }
}

impl Distribution for Gumbel {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        Gumbel::draw(detach(self.loc), detach(self.scale), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `loc - scale ln(-ln u)`: `d/dloc = 1`, `d/dscale = -ln(-ln u)`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(Gumbel::draw(self.loc, self.scale, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        // Far in the left tail exp(-z) overflows; the log-density is then below -f64::MAX, so
        // -inf is its correctly rounded value (returned before z + exp(-z) can be -inf + inf).
        let z = standardise(x, self.loc.value(), self.scale.value());
        let e = (-z).exp();
        if e == f64::INFINITY {
            return f64::NEG_INFINITY;
        }
        -(z + e) - self.ln_scale
    }

    /// With `z = (x - loc) / scale` and `g = exp(-z) - 1` (by `exp_m1`, accurate near the mode):
    /// `d/dx = g / scale`, `d/dloc = -g / scale` and `d/dscale = -(g z + 1) / scale`.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.loc.is_constant() && self.scale.is_constant() {
            return;
        }
        let scale = self.scale.value();
        let z = standardise(x.value(), self.loc.value(), scale);
        // d/dx: g / scale, which is finite where the log-density is (up to the overflow of the
        // derivative itself); divided before the product with z, which could overflow alone.
        let d_x = (-z).exp_m1() / scale;
        partials.push(*x, d_x);
        partials.push(self.loc, -d_x);
        partials.push(self.scale, -(d_x * z) - 1.0 / scale);
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        Some(self.loc.value() + self.scale.value() * EULER_GAMMA)
    }

    fn variance(&self) -> Option<f64> {
        let s = PI * self.scale.value();
        Some(s * s / 6.0)
    }
}

impl Cdf for Gumbel {
    fn cdf(&self, x: f64) -> f64 {
        let z = standardise(x, self.loc.value(), self.scale.value());
        (-(-z).exp()).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Gumbel {
        Gumbel::new(p.real("loc"), p.real("scale")).unwrap()
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
        testing::check_sample_moments(&Gumbel::new(2.0, 0.5).unwrap(), 71);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Gumbel::new(-1.0, 3.0).unwrap(), 72);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = Gumbel::new(1.0, 2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &rs(&[4.165396139379642, 0.7324679308324218, 9.240932724582565]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Gumbel::new(0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NEG_INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        // The right tail is exponential: log p(x) -> -x.
        assert_eq!(d.log_prob(&r(800.0)), -800.0);
        // The left tail is doubly exponential; exp(-z) overflows at z < -709.78.
        assert!(d.log_prob(&r(-709.0)).is_finite());
        assert_eq!(d.log_prob(&r(-710.0)), f64::NEG_INFINITY);
        assert_eq!(d.cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&r(2.0)));
        let e = Gumbel::new(0.0, -2.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Gumbel: invalid parameter scale = -2 (must be finite and > 0)"
        );
        assert_eq!(Gumbel::new(f64::NAN, 1.0).unwrap_err().param, "loc");
        assert_eq!(
            Gumbel::new(f64::NEG_INFINITY, 1.0).unwrap_err().param,
            "loc"
        );
        assert_eq!(Gumbel::new(0.0, f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(Gumbel::new(0.0, f64::NAN).unwrap_err().param, "scale");
        assert_eq!((d.loc(), d.scale()), (r(0.0), r(1.0)));
    }

    fn gumbel_at(v: &[Real]) -> (Gumbel, Real) {
        (Gumbel::new(v[1], v[2]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, loc, scale). The log-density is entire in x and loc; it varies over a
        // scale, or a shorter length where exp(-z) is large: scale / |z| in the left tail (over
        // which exp(-z) changes by a factor e). The scale's length is its distance to 0, or the
        // same scale / |z| in the left tail.
        for &(x, loc, scale) in &[
            (0.3, 0.0, 1.0_f64),
            (-2.5, 1.0, 0.5),
            (40.0, -3.0, 7.0),
            (1e-3, 1e-3, 1e-3),
            (1e4, -1e4, 3e3),
            (0.0, 0.0, 1e-6),
            // Far in the right tail (exp(-z) underflows) and far in the left tail (exp(-z) is
            // about 1e304).
            (800.0, 0.0, 1.0),
            (-700.0, 0.0, 1.0),
            (-7e302, 0.0, 1e300),
            (1e-300, -1e-300, 1e-300),
            (1e300, -1e300, 1e300),
        ] {
            let z = (x - loc) / scale;
            let s = scale / (-z).max(1.0);
            testing::check_log_prob_gradient(gumbel_at, &[x, loc, scale], &[s, s, s]);
        }
        // Closed forms: at the mode z = 0, d/dx = d/dloc = 0 and d/dscale = -1 / scale; at
        // z = -ln 2 (exp(-z) = 2), d/dx = 1 / scale and d/dscale = (ln 2 - 1) / scale.
        let grad = |point: [f64; 3]| {
            pyro_tape::gradient(&point, |v| {
                let (d, x) = gumbel_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        assert_eq!(grad([1.5, 1.5, 4.0]), vec![0.0, 0.0, -0.25]);
        let g = grad([-std::f64::consts::LN_2, 0.0, 1.0]);
        testing::assert_close(g[0], 1.0, 1e-15, "d/dx");
        testing::assert_close(g[1], -1.0, 1e-15, "d/dloc");
        testing::assert_close(g[2], std::f64::consts::LN_2 - 1.0, 1e-15, "d/dscale");
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e6..1e6_f64,
            scale in 1e-6..1e6_f64,
            // The log-density is representable for z > -709 (see edges_and_errors).
            z in -700.0..1e6_f64,
        ) {
            let d = Gumbel::new(loc, scale).unwrap();
            prop_assert!(d.log_prob(&r(loc + scale * z)).is_finite());
        }

        #[test]
        fn invalid_scale_errors(loc in -1e6..1e6_f64, scale in -1e6..=0.0_f64) {
            prop_assert!(Gumbel::new(loc, scale).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            loc in -10.0..10.0_f64,
            scale in 1e-3..1e3_f64,
            a in -1e4..1e4_f64,
            b in -1e4..1e4_f64,
        ) {
            let d = Gumbel::new(loc, scale).unwrap();
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
            testing::check_rsample(|v| Gumbel::new(v[0], v[1]).unwrap(), &[loc, scale], &[s, s]);
        }
    }
}
