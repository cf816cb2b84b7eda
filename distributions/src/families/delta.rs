//! The Delta (point mass) distribution.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::{self, ParamError};
use pyro_tape::Real;
use rand::Rng;

/// The Delta distribution `Delta(v, log_density)`: all mass at the single point `v`.
///
/// As in Pyro, `log_prob` is `log_density` at exactly `v` and `-inf` anywhere else; the extra
/// `log_density` (default 0) lets a deterministic site still carry a density, e.g. the log
/// Jacobian of a transform. Sampling returns `v` and consumes no randomness.
///
/// # Density
/// `log p(x) = log_density` for `x = v`, and `-inf` otherwise (a point mass; the support is
/// nominally the real line).
///
/// # Gradients
/// The parameters and the value are [`Real`]s, but no gradient flows through `log_prob_real` to
/// the value or to `v`: the log-density is finite only where the value equals `v` exactly, so it
/// has no derivative in either (moving one alone leaves the support, where it is `-inf`; moving
/// both together leaves it unchanged). As in Pyro, a gradient reaches `v` through the value a
/// model uses, not through the score. The log-density is `log_density` itself, so its partial
/// with respect to a tracked `log_density` is 1.
///
/// # Example
/// ```
/// use pyro_distributions::{Delta, Distribution, Real};
///
/// let d = Delta::new(1.5)?;
/// assert_eq!(d.log_prob(&Real::from(1.5)), 0.0);
/// assert_eq!(d.log_prob(&Real::from(1.5000001)), f64::NEG_INFINITY);
/// assert_eq!(Delta::with_log_density(1.5, -2.0)?.log_prob(&Real::from(1.5)), -2.0);
/// assert!(Delta::new(f64::NAN).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delta {
    v: Real,
    log_density: Real,
}

const FAMILY: &str = "Delta";

impl Delta {
    /// A point mass at `v` (finite), with `log_density` 0.
    pub fn new(v: impl Into<Real>) -> Result<Self, ParamError> {
        Self::with_log_density(v, 0.0)
    }

    /// A point mass at `v` whose `log_prob(v)` is `log_density`; both must be finite.
    pub fn with_log_density(
        v: impl Into<Real>,
        log_density: impl Into<Real>,
    ) -> Result<Self, ParamError> {
        let (v, log_density) = (v.into(), log_density.into());
        error::finite(FAMILY, "v", v.value())?;
        error::finite(FAMILY, "log_density", log_density.value())?;
        Ok(Delta { v, log_density })
    }

    /// The point carrying all the mass.
    pub fn v(&self) -> Real {
        self.v
    }

    /// The log-density reported at `v`.
    pub fn log_density(&self) -> Real {
        self.log_density
    }
}

impl Distribution for Delta {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, _rng: &mut R) -> Real {
        Real::constant(self.v.value())
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `v` itself (`d/dv = 1`), drawing nothing, as Pyro's `Delta.rsample`.
    fn rsample<R: Rng + ?Sized>(&self, _rng: &mut R) -> Option<Real> {
        Some(self.v)
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        // NaN never equals v.
        if x.value() == self.v.value() {
            self.log_density.value()
        } else {
            f64::NEG_INFINITY
        }
    }

    /// Only `d/dlog_density = 1`: the log-density has no derivative in the value or in `v` (see
    /// the type's documentation), so no partial is pushed for them.
    #[inline]
    fn log_prob_partials(&self, _x: &Real, partials: &mut Partials<'_>) {
        partials.push(self.log_density, 1.0);
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        Some(self.v.value())
    }

    fn variance(&self) -> Option<f64> {
        Some(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
    use crate::value::Value;
    use proptest::prelude::*;

    #[test]
    fn log_prob_by_hand() {
        // No SciPy reference: the density is checked directly.
        let d = Delta::with_log_density(-3.25, 1.5).unwrap();
        assert_eq!(d.log_prob(&r(-3.25)), 1.5);
        assert_eq!(d.log_prob(&r((-3.25_f64).next_up())), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r((-3.25_f64).next_down())), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(0.0)), f64::NEG_INFINITY);
        assert_eq!((d.mean(), d.variance()), (Some(-3.25), Some(0.0)));
        let unit = Delta::new(0.0).unwrap();
        assert_eq!(unit.log_prob(&r(0.0)), 0.0);
        // -0.0 == 0.0: the same point.
        assert_eq!(unit.log_prob(&r(-0.0)), 0.0);
        assert_eq!(unit.log_density(), 0.0);
    }

    #[test]
    fn sample_moments() {
        // Every draw is v (2.5 and its multiples are exact), so the sample mean is exactly v and
        // the sample variance exactly 0, which check_sample_moments requires here.
        testing::check_sample_moments(&Delta::new(2.5).unwrap(), 101);
    }

    #[test]
    fn value_stability() {
        let d = Delta::new(0.75).unwrap();
        testing::assert_first_draws(&d, 42, &rs(&[0.75, 0.75, 0.75]));
    }

    #[test]
    fn edges_and_errors() {
        let d = Delta::new(1.0).unwrap();
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NEG_INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        assert!(d.support().contains(&Value::Real(1.0)));
        // An integer value reads as a real; other kinds score -inf.
        assert_eq!(d.log_prob_value(&Value::Int(1)), 0.0);
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        let e = Delta::new(f64::INFINITY).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Delta: invalid parameter v = inf (must be finite)"
        );
        assert_eq!(Delta::new(f64::NAN).unwrap_err().param, "v");
        let e = Delta::with_log_density(0.0, f64::NEG_INFINITY).unwrap_err();
        assert_eq!(e.param, "log_density");
        assert_eq!(
            Delta::with_log_density(0.0, f64::NAN).unwrap_err().param,
            "log_density"
        );
        assert_eq!(d.v(), 1.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Along the support (the value equal to v), with log_density: the log-density is
        // log_density, constant in v, so the check passes only if no partial is pushed for the
        // value or v and 1 for log_density. Both are entire: length 1, or |v| where that is
        // longer (a step of 1 would not move 1e300).
        let on_support = |p: &[Real]| (Delta::with_log_density(p[0], p[1]).unwrap(), p[0]);
        for &(v, ld) in &[(0.0, 0.0), (-3.25, 1.5), (1e300, -1e6), (-1e-300, 7.0)] {
            let s = f64::abs(v).max(1.0);
            testing::check_log_prob_gradient(on_support, &[v, ld], &[s, 1.0]);
        }
        // Closed form with the value, v and log_density as separate inputs: (0, 0, 1).
        let (lp, g) = pyro_tape::gradient(&[2.5, 2.5, -0.5], |p| {
            let d = Delta::with_log_density(p[1], p[2]).unwrap();
            Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&p[0]))
        })
        .unwrap();
        assert_eq!((lp, g), (-0.5, vec![0.0, 0.0, 1.0]));
        // Off the point: a constant -inf.
        let d = Delta::with_log_density(Real::from(1.0), Real::from(0.5)).unwrap();
        let lp = d.log_prob_real(&r(2.0));
        assert!(lp.is_constant() && lp == f64::NEG_INFINITY);
    }

    proptest! {
        #[test]
        fn finite_at_the_point(v in -1e300..1e300_f64, log_density in -1e6..1e6_f64) {
            let d = Delta::with_log_density(v, log_density).unwrap();
            prop_assert_eq!(d.log_prob(&r(v)), log_density);
            prop_assert!(d.support().contains_real(v));
            let mut rng = testing::rng(0);
            prop_assert_eq!(d.sample(&mut rng), v);
        }

        #[test]
        fn zero_elsewhere(v in -1e6..1e6_f64, x in -1e6..1e6_f64) {
            prop_assume!(x != v);
            prop_assert_eq!(Delta::new(v).unwrap().log_prob(&r(x)), f64::NEG_INFINITY);
        }

        #[test]
        fn invalid_params_error(
            bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
            ok in -1e6..1e6_f64,
        ) {
            prop_assert!(Delta::new(bad).is_err());
            prop_assert!(Delta::with_log_density(bad, ok).is_err());
            prop_assert!(Delta::with_log_density(ok, bad).is_err());
        }
    }

    #[test]
    fn rsample_is_v() {
        // Inputs (v, log_density): d/dv = 1, d/dlog_density = 0; no random numbers drawn.
        testing::check_rsample(
            |p| Delta::with_log_density(p[0], p[1]).unwrap(),
            &[1.5, -2.0],
            &[Some(1.5), Some(2.0)],
        );
        let (_, j) = testing::rsample_jacobian(
            |p| Delta::with_log_density(p[0], p[1]).unwrap(),
            &[1.5, -2.0],
            0,
        );
        assert_eq!(j, vec![vec![1.0, 0.0]]);
    }
}
