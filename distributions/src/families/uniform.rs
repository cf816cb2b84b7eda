//! The continuous uniform distribution.

use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution};
use crate::error::{self, ParamError};
use rand::{Rng, RngExt};

/// The continuous uniform distribution `Uniform(low, high)`.
///
/// Samples lie in `[low, high)`; the support is the closed interval `[low, high]`, where the
/// density is the same at both ends (as SciPy scores them).
///
/// # Density
/// `p(x) = 1 / (high - low)` for `low <= x <= high`.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Uniform};
///
/// let d = Uniform::new(-1.0, 3.0)?;
/// assert_eq!(d.log_prob(&3.0), -(4.0_f64.ln()));
/// assert_eq!(d.log_prob(&3.5), f64::NEG_INFINITY);
/// assert!(Uniform::new(1.0, 1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Uniform {
    low: f64,
    high: f64,
    /// `ln(high - low)`.
    log_width: f64,
    sampler: rand::distr::Uniform<f64>,
}

const FAMILY: &str = "Uniform";

impl Uniform {
    /// A uniform distribution on `[low, high]`; both must be finite, with `low < high` and
    /// `high - low` finite.
    pub fn new(low: f64, high: f64) -> Result<Self, ParamError> {
        let low = error::finite(FAMILY, "low", low)?;
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
        let sampler = rand::distr::Uniform::new(low, high)
            .map_err(|_| ParamError::new(FAMILY, "high", high, "must be finite and > low"))?;
        Ok(Uniform {
            low,
            high,
            log_width: width.ln(),
            sampler,
        })
    }

    /// The lower end of the support.
    pub fn low(&self) -> f64 {
        self.low
    }

    /// The upper end of the support.
    pub fn high(&self) -> f64 {
        self.high
    }
}

impl Distribution for Uniform {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // `low + u (high - low)` with `u` in [0, 1) can round up to `high`; redraw then, so that
        // samples stay in [low, high). That is rare unless the interval spans few floats.
        loop {
            let x = rng.sample(self.sampler);
            if x < self.high {
                return x;
            }
        }
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        // Also rejects NaN.
        if self.low <= *x && *x <= self.high {
            -self.log_width
        } else {
            f64::NEG_INFINITY
        }
    }

    fn support(&self) -> Constraint {
        Constraint::Interval {
            lower: self.low,
            upper: self.high,
        }
    }

    fn mean(&self) -> Option<f64> {
        // Not (low + high) / 2, which can overflow.
        Some(self.low + 0.5 * (self.high - self.low))
    }

    fn variance(&self) -> Option<f64> {
        // Not w^2 / 12, whose w^2 can overflow where the variance does not.
        let w = self.high - self.low;
        Some(w * (w / 12.0))
    }
}

impl Cdf for Uniform {
    fn cdf(&self, x: f64) -> f64 {
        ((x - self.low) / (self.high - self.low)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
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
            &[2.6286102902458195, 1.6376420801233222, 2.9677883363549773],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Uniform::new(0.0, 2.0).unwrap();
        let inside = -(2.0_f64.ln());
        assert_eq!(d.log_prob(&0.0), inside);
        assert_eq!(d.log_prob(&-0.0), inside);
        assert_eq!(d.log_prob(&2.0), inside);
        assert_eq!(d.log_prob(&2.0_f64.next_up()), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&(-0.0_f64).next_down()), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&f64::NAN), f64::NEG_INFINITY);
        assert!(d.support().contains(&Value::Real(0.0)));
        assert!(d.support().contains(&Value::Real(2.0)));
        assert_eq!(d.cdf(-1.0), 0.0);
        assert_eq!(d.cdf(0.5), 0.25);
        assert_eq!(d.cdf(3.0), 1.0);
        assert_eq!(d.cdf(f64::INFINITY), 1.0);
        // An interval two floats wide: `low + u (high - low)` rounds up to `high` for about half
        // of the `u`, which must not be returned.
        let narrow = Uniform::new(1.0, 1.0_f64.next_up()).unwrap();
        let mut r = testing::rng(83);
        for _ in 0..1000 {
            assert_eq!(narrow.sample(&mut r), 1.0);
        }
        // Extreme but finite ends.
        let wide = Uniform::new(-f64::MAX / 2.0, f64::MAX / 2.0).unwrap();
        assert!(wide.log_prob(&0.0).is_finite());
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
        assert_eq!((d.low(), d.high()), (0.0, 2.0));
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            low in -1e6..1e6_f64,
            width in 1e-6..1e6_f64,
            t in 0.0..=1.0_f64,
        ) {
            let d = Uniform::new(low, low + width).unwrap();
            let x = (low + t * width).min(d.high());
            prop_assert!(d.log_prob(&x).is_finite());
            prop_assert!(d.support().contains_real(x));
        }

        #[test]
        fn invalid_params_error(low in -1e6..1e6_f64, below in 0.0..1e6_f64) {
            prop_assert!(Uniform::new(low, low - below).is_err());
        }

        #[test]
        fn samples_in_half_open_interval(low in -1e6..1e6_f64, width in 1e-9..1e6_f64, seed in 0..1000_u64) {
            let d = Uniform::new(low, low + width).unwrap();
            let mut r = testing::rng(seed);
            for _ in 0..100 {
                let x = d.sample(&mut r);
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
}
