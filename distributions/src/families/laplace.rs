//! The Laplace (double exponential) distribution.

use crate::batched::Location;
use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use crate::special::standardise;
use pyro_tape::Real;
use rand::{Rng, RngExt};
use rand_distr::Exp1;

/// The Laplace distribution `Laplace(loc, scale)` with mean `loc` and variance `2 scale^2`.
///
/// # Density
/// `p(x) = exp(-|x - loc| / scale) / (2 scale)` on the real line.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape. At the kink `x = loc` the partials with respect to `x` and `loc`
/// are 0 (the mean of the one-sided derivatives, as PyTorch's `sign(0) = 0` gives).
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Laplace, Real};
///
/// let d = Laplace::new(0.0, 1.0)?;
/// assert!((d.log_prob(&Real::from(0.0)) + std::f64::consts::LN_2).abs() < 1e-15);
/// assert_eq!(d.variance(), Some(2.0));
/// assert!(Laplace::new(0.0, -1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Laplace {
    loc: Real,
    scale: Real,
    /// `ln(2 scale)`.
    log_norm: f64,
}

const FAMILY: &str = "Laplace";

impl Laplace {
    /// A Laplace distribution; `loc` must be finite and `scale` finite and `> 0`.
    pub fn new(loc: impl Into<Real>, scale: impl Into<Real>) -> Result<Self, ParamError> {
        let (loc, scale) = (loc.into(), scale.into());
        error::finite(FAMILY, "loc", loc.value())?;
        let s = error::positive(FAMILY, "scale", scale.value())?;
        Ok(Laplace {
            loc,
            scale,
            // ln 2 + ln(scale): 2 scale would overflow for scale near f64::MAX.
            log_norm: std::f64::consts::LN_2 + s.ln(),
        })
    }

    /// The mean (and median).
    pub fn loc(&self) -> Real {
        self.loc
    }

    /// The scale: the mean absolute deviation from `loc`.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// The draw `loc +- scale e`: `|X - loc| / scale ~ Exp(1)`, with an independent fair sign.
    /// The one formula of `sample` and `rsample` (`d/dloc = 1`, `d/dscale = +-e`).
    #[inline]
    fn draw<R: Rng + ?Sized>(loc: Real, scale: Real, rng: &mut R) -> Real {
        let e: f64 = rng.sample(Exp1);
        if rng.random::<bool>() {
            loc + scale * e
        } else {
            loc - scale * e
        }
    }
}

impl Distribution for Laplace {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        Laplace::draw(detach(self.loc), detach(self.scale), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `loc +- scale e`: `d/dloc = 1`, `d/dscale = +-e`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(Laplace::draw(self.loc, self.scale, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        -standardise(x, self.loc.value(), self.scale.value()).abs() - self.log_norm
    }

    /// `d/dx = -sign(z) / scale`, `d/dloc = sign(z) / scale` and `d/dscale = (|z| - 1) / scale`
    /// with `z = (x - loc) / scale`, and `sign(0) = 0` at the kink.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.loc.is_constant() && self.scale.is_constant() {
            return;
        }
        let scale = self.scale.value();
        let z = standardise(x.value(), self.loc.value(), scale);
        // Not f64::signum, which is 1 at 0.
        let sign = if z > 0.0 {
            1.0
        } else if z < 0.0 {
            -1.0
        } else {
            0.0
        };
        partials.push(*x, -sign / scale);
        partials.push(self.loc, sign / scale);
        partials.push(self.scale, (z.abs() - 1.0) / scale);
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        Some(self.loc.value())
    }

    fn variance(&self) -> Option<f64> {
        let scale = self.scale.value();
        Some(2.0 * scale * scale)
    }
}

impl Cdf for Laplace {
    fn cdf(&self, x: f64) -> f64 {
        let z = standardise(x, self.loc.value(), self.scale.value());
        if z < 0.0 {
            0.5 * z.exp()
        } else {
            1.0 - 0.5 * (-z).exp()
        }
    }
}

/// A location family: a batch over a vector of locations ([`Batched::located`](crate::Batched::located)).
impl Location for Laplace {
    fn loc(&self) -> Real {
        self.loc
    }

    fn at(&self, loc: Real) -> Laplace {
        Laplace { loc, ..*self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Laplace {
        Laplace::new(p.real("loc"), p.real("scale")).unwrap()
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
        testing::check_sample_moments(&Laplace::new(-3.0, 1.5).unwrap(), 61);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Laplace::new(0.5, 2.0).unwrap(), 62);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = Laplace::new(1.0, 2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &rs(&[-1.1280409159810367, 3.9995015482890923, 3.9184015441342477]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Laplace::new(0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NEG_INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(1.0)), d.log_prob(&r(-1.0)));
        assert_eq!(d.cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        assert_eq!(d.cdf(0.0), 0.5);
        assert_eq!(d.log_prob_value(&Value::Bool(false)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(-3)), d.log_prob(&r(-3.0)));
        let e = Laplace::new(0.0, 0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Laplace: invalid parameter scale = 0 (must be finite and > 0)"
        );
        assert_eq!(Laplace::new(f64::NAN, 1.0).unwrap_err().param, "loc");
        assert_eq!(Laplace::new(f64::INFINITY, 1.0).unwrap_err().param, "loc");
        assert_eq!(Laplace::new(0.0, f64::INFINITY).unwrap_err().param, "scale");
        assert_eq!(Laplace::new(0.0, f64::NAN).unwrap_err().param, "scale");
        assert_eq!((d.loc(), d.scale()), (r(0.0), r(1.0)));
    }

    fn laplace_at(v: &[Real]) -> (Laplace, Real) {
        (Laplace::new(v[1], v[2]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, loc, scale). The kink x = loc is the singularity of the value and loc:
        // their length is |x - loc|; the scale's is its distance to 0.
        for &(x, loc, scale) in &[
            (0.3, 0.0, 1.0_f64),
            (-2.5, 1.0, 0.5),
            (40.0, -3.0, 7.0),
            (2e-3, 1e-3, 1e-3),
            (1e4, -1e4, 3e3),
            (1e-6, 0.0, 1e-6),
            (-1e-9, 0.0, 1.0),
            (1e6, 0.0, 1e-3),
            (1e-300, -1e-300, 1e-300),
            (-1e300, 1e300, 1e300),
            // x - loc overflows, (x - loc) / scale does not.
            (0.75 * f64::MAX, -0.75 * f64::MAX, 4.0),
        ] {
            let s = (x - loc).abs().min(f64::MAX / 4.0);
            testing::check_log_prob_gradient(laplace_at, &[x, loc, scale], &[s, s, scale]);
        }
        // Closed forms: at the kink the partials of x and loc are 0 and d/dscale = -1 / scale;
        // on either side, d/dx = -+1 / scale.
        let grad = |point: [f64; 3]| {
            pyro_tape::gradient(&point, |v| {
                let (d, x) = laplace_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        assert_eq!(grad([1.5, 1.5, 4.0]), vec![0.0, 0.0, -0.25]);
        assert_eq!(grad([3.0, 1.0, 2.0]), vec![-0.5, 0.5, 0.0]);
        assert_eq!(grad([-1.0, 1.0, 4.0]), vec![0.25, -0.25, -0.125]);
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e6..1e6_f64,
            scale in 1e-6..1e6_f64,
            x in -1e6..1e6_f64,
        ) {
            let d = Laplace::new(loc, scale).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_scale_errors(loc in -1e6..1e6_f64, scale in -1e6..=0.0_f64) {
            prop_assert!(Laplace::new(loc, scale).is_err());
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            loc in -10.0..10.0_f64,
            scale in 1e-3..1e3_f64,
            a in -1e4..1e4_f64,
            b in -1e4..1e4_f64,
        ) {
            let d = Laplace::new(loc, scale).unwrap();
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
            testing::check_rsample(
                |v| Laplace::new(v[0], v[1]).unwrap(),
                &[loc, scale],
                &[s, s],
            );
        }
    }
}
