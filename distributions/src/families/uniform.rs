//! The continuous uniform distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use pyro_tape::Real;
use rand::Rng;

/// The continuous uniform distribution `Uniform(low, high)`.
///
/// Samples lie in `[low, high)`; the support is the closed interval `[low, high]`, where the
/// density is the same at both ends (as SciPy scores them).
///
/// # Density
/// `p(x) = 1 / (high - low)` for `low <= x <= high`.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape (none to the value, on which the density does not depend inside
/// the support). At the ends of the support the partials are those from inside, as the density
/// there is its limit from inside.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Real, Uniform};
///
/// let d = Uniform::new(-1.0, 3.0)?;
/// assert_eq!(d.log_prob(&Real::from(3.0)), -(4.0_f64.ln()));
/// assert_eq!(d.log_prob(&Real::from(3.5)), f64::NEG_INFINITY);
/// assert!(Uniform::new(1.0, 1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Uniform {
    low: Real,
    high: Real,
    /// `ln(high - low)`.
    log_width: f64,
}

const FAMILY: &str = "Uniform";

impl Uniform {
    /// A uniform distribution on `[low, high]`; both must be finite, with `low < high` and
    /// `high - low` finite.
    pub fn new(low: impl Into<Real>, high: impl Into<Real>) -> Result<Self, ParamError> {
        let (low_real, high_real) = (low.into(), high.into());
        let low = error::finite(FAMILY, "low", low_real.value())?;
        let high = high_real.value();
        if !(high.is_finite() && high > low) {
            return Err(ParamError::new(
                FAMILY,
                "high",
                high,
                "must be finite and > low",
            ));
        }
        let width = high - low;
        if !width.is_finite() {
            return Err(ParamError::new(
                FAMILY,
                "high",
                high,
                "must exceed low by a finite amount (high - low overflows)",
            ));
        }
        Ok(Uniform {
            low: low_real,
            high: high_real,
            log_width: width.ln(),
        })
    }

    /// The lower end of the support.
    pub fn low(&self) -> Real {
        self.low
    }

    /// The upper end of the support.
    pub fn high(&self) -> Real {
        self.high
    }

    /// The draw `u (high - low) + low` for `u` uniform on `[0, 1)` in steps of `2^-52` (the
    /// noise and the formula of `rand`'s uniform sampler), redrawn where it rounds up to `high`,
    /// so that draws stay in `[low, high)` (rare unless the interval spans few floats): the one
    /// formula of `sample` and `rsample` (`d/dlow = 1 - u`, `d/dhigh = u`).
    #[inline]
    fn draw<R: Rng + ?Sized>(low: Real, high: Real, rng: &mut R) -> Real {
        loop {
            let x = unit_52(rng) * (high - low) + low;
            if x < high {
                return x;
            }
        }
    }
}

/// A uniform draw on `[0, 1)` in steps of `2^-52` from the high 52 bits of one `u64`, made as
/// `rand`'s uniform float sampler makes it (a float in `[1, 2)`, minus one).
#[inline]
fn unit_52<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    const ONE_BITS: u64 = 0x3ff0_0000_0000_0000;
    f64::from_bits((rng.next_u64() >> 12) | ONE_BITS) - 1.0
}

impl Distribution for Uniform {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        Uniform::draw(detach(self.low), detach(self.high), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `u (high - low) + low`: `d/dlow = 1 - u`, `d/dhigh = u`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(Uniform::draw(self.low, self.high, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        // Also rejects NaN.
        if self.low.value() <= x && x <= self.high.value() {
            -self.log_width
        } else {
            f64::NEG_INFINITY
        }
    }

    /// `d/dx = 0`, `d/dlow = 1 / (high - low)` and `d/dhigh = -1 / (high - low)`. At an end of
    /// the support (`x = low` or `x = high`) these are the derivatives from inside: moving that
    /// end past `x` makes the log-density `-inf`, which no derivative describes.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.low.is_constant() && self.high.is_constant() {
            return;
        }
        let inv_width = 1.0 / (self.high.value() - self.low.value());
        partials.push(*x, 0.0);
        partials.push(self.low, inv_width);
        partials.push(self.high, -inv_width);
    }

    fn support(&self) -> Constraint {
        Constraint::Interval {
            lower: self.low.value(),
            upper: self.high.value(),
        }
    }

    fn mean(&self) -> Option<f64> {
        // Not (low + high) / 2, which can overflow.
        let (low, high) = (self.low.value(), self.high.value());
        Some(low + 0.5 * (high - low))
    }

    fn variance(&self) -> Option<f64> {
        // Not w^2 / 12, whose w^2 can overflow where the variance does not.
        let w = self.high.value() - self.low.value();
        Some(w * (w / 12.0))
    }
}

impl Cdf for Uniform {
    fn cdf(&self, x: f64) -> f64 {
        let (low, high) = (self.low.value(), self.high.value());
        ((x - low) / (high - low)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Uniform {
        Uniform::new(p.real("low"), p.real("high")).unwrap()
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&Uniform::new(-2.0, 5.0).unwrap(), 81);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Uniform::new(1.0, 1.5).unwrap(), 82);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = Uniform::new(1.0, 3.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &rs(&[2.6286102902458195, 1.6376420801233222, 2.9677883363549773]),
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Uniform::new(0.0, 2.0).unwrap();
        let inside = -(2.0_f64.ln());
        assert_eq!(d.log_prob(&r(0.0)), inside);
        assert_eq!(d.log_prob(&r(-0.0)), inside);
        assert_eq!(d.log_prob(&r(2.0)), inside);
        assert_eq!(d.log_prob(&r(2.0_f64.next_up())), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r((-0.0_f64).next_down())), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NEG_INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        assert!(d.support().contains(&Value::Real(0.0)));
        assert!(d.support().contains(&Value::Real(2.0)));
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(0.5), 0.25);
        assert_eq!(d.cdf(3.0), 1.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        // An interval two floats wide: `low + u (high - low)` rounds up to `high` for about half
        // of the `u`, which must not be returned.
        let narrow = Uniform::new(1.0, 1.0_f64.next_up()).unwrap();
        let mut rng = testing::rng(83);
        for _ in 0..1000 {
            assert_eq!(narrow.sample(&mut rng), 1.0);
        }
        // Extreme but finite ends.
        let wide = Uniform::new(-f64::MAX / 2.0, f64::MAX / 2.0).unwrap();
        assert!(wide.log_prob(&r(0.0)).is_finite());
        assert_eq!(wide.mean(), Some(0.0));
        assert!(
            Uniform::new(0.0, 4.5e154)
                .unwrap()
                .variance()
                .unwrap()
                .is_finite()
        );
        let top = Uniform::new(f64::MAX / 2.0, f64::MAX).unwrap();
        assert!(top.mean().unwrap().is_finite());
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(1)), inside);
        let e = Uniform::new(1.0, 0.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Uniform: invalid parameter high = 0.5 (must be finite and > low)"
        );
        assert_eq!(Uniform::new(1.0, 1.0).unwrap_err().param, "high");
        assert_eq!(Uniform::new(f64::NAN, 1.0).unwrap_err().param, "low");
        assert_eq!(
            Uniform::new(f64::NEG_INFINITY, 1.0).unwrap_err().param,
            "low"
        );
        assert_eq!(Uniform::new(0.0, f64::INFINITY).unwrap_err().param, "high");
        assert_eq!(Uniform::new(0.0, f64::NAN).unwrap_err().param, "high");
        let e = Uniform::new(-f64::MAX, f64::MAX).unwrap_err();
        assert_eq!(e.param, "high");
        assert!(e.requirement.contains("overflows"));
        assert_eq!((d.low(), d.high()), (r(0.0), r(2.0)));
    }

    fn uniform_at(v: &[Real]) -> (Uniform, Real) {
        (Uniform::new(v[1], v[2]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, low, high). The value's length is its distance to the nearer end; low's is
        // its distance to x (past which the log-density is -inf), high's likewise.
        for &(x, low, high) in &[
            (0.5, 0.0, 1.0_f64),
            (1.0, -1.0, 3.0),
            (1e-3, 0.0, 1.0),
            (1.0 - 1e-6, 0.0, 1.0),
            (-7.0, -1e4, 40.0),
            (2e-300, 1e-300, 4e-300),
            (0.0, -f64::MAX / 4.0, f64::MAX / 4.0),
            (1e6 + 0.5, 1e6, 1e6 + 1.0),
        ] {
            let (dl, dh) = (x - low, high - x);
            testing::check_log_prob_gradient(uniform_at, &[x, low, high], &[dl.min(dh), dl, dh]);
        }
        // Closed forms, also at the ends of the support (from inside): d/dx = 0,
        // d/dlow = 1 / (high - low) = -d/dhigh.
        let grad = |point: [f64; 3]| {
            pyro_tape::gradient(&point, |v| {
                let (d, x) = uniform_at(v);
                Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
            })
            .unwrap()
            .1
        };
        for x in [-1.0, 0.5, 3.0] {
            assert_eq!(grad([x, -1.0, 3.0]), vec![0.0, 0.25, -0.25]);
        }
        // Outside the support: a constant -inf, no gradient.
        let d = Uniform::new(Real::from(0.0), Real::from(1.0)).unwrap();
        let lp = d.log_prob_real(&r(1.5));
        assert!(lp.is_constant() && lp == f64::NEG_INFINITY);
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            low in -1e6..1e6_f64,
            width in 1e-6..1e6_f64,
            t in 0.0..=1.0_f64,
        ) {
            let d = Uniform::new(low, low + width).unwrap();
            let x = (low + t * width).min(d.high().value());
            prop_assert!(d.log_prob(&r(x)).is_finite());
            prop_assert!(d.support().contains_real(x));
        }

        #[test]
        fn invalid_params_error(low in -1e6..1e6_f64, below in 0.0..1e6_f64) {
            prop_assert!(Uniform::new(low, low - below).is_err());
        }

        #[test]
        fn samples_in_half_open_interval(low in -1e6..1e6_f64, width in 1e-9..1e6_f64, seed in 0..1000_u64) {
            let d = Uniform::new(low, low + width).unwrap();
            let mut rng = testing::rng(seed);
            for _ in 0..100 {
                let x = d.sample(&mut rng);
                prop_assert!(d.low() <= x && x < d.high());
            }
        }

        #[test]
        fn cdf_monotone_in_unit_interval(
            low in -10.0..10.0_f64,
            width in 1e-3..1e3_f64,
            a in -1e4..1e4_f64,
            b in -1e4..1e4_f64,
        ) {
            let d = Uniform::new(low, low + width).unwrap();
            let (lo, hi) = (a.min(b), a.max(b));
            let (f_lo, f_hi) = (d.cdf(lo), d.cdf(hi));
            prop_assert!((0.0..=1.0).contains(&f_lo) && (0.0..=1.0).contains(&f_hi));
            prop_assert!(f_lo <= f_hi);
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // Inputs (low, high); the draw varies over the larger of |low| and |high| (with a step
        // far below the width, so that a perturbed draw stays inside).
        for &(low, high) in &[(0.0_f64, 1.0_f64), (-2.0, 5.0), (1e3, 1e3 + 0.5)] {
            let s = Some(f64::max(low.abs(), high.abs()));
            testing::check_rsample(|v| Uniform::new(v[0], v[1]).unwrap(), &[low, high], &[s, s]);
        }
        // d/dlow = 1 - u and d/dhigh = u, with u = (x - low) / (high - low).
        let (x, j) =
            testing::rsample_jacobian(|v| Uniform::new(v[0], v[1]).unwrap(), &[-2.0, 6.0], 5);
        let u = (x[0] + 2.0) / 8.0;
        assert!((j[0][0] - (1.0 - u)).abs() < 1e-15 && (j[0][1] - u).abs() < 1e-15);
    }

    /// The draws are those of `rand`'s uniform sampler, whose formula and noise `rsample`
    /// shares.
    #[test]
    fn draws_are_rands() {
        use rand::RngExt;
        for &(low, high) in &[(0.0, 1.0), (-2.0, 5.0), (1e3, 1e3 + 0.5), (-1e300, 1e300)] {
            let d = Uniform::new(low, high).unwrap();
            let theirs = rand::distr::Uniform::new(low, high).unwrap();
            let (mut r1, mut r2) = (testing::rng(9), testing::rng(9));
            for _ in 0..1000 {
                let x: f64 = r2.sample(theirs);
                assert_eq!(d.sample(&mut r1).value().to_bits(), x.to_bits());
            }
        }
    }
}
