//! The Bernoulli distribution.

use crate::constraint::Constraint;
use crate::distribution::Distribution;
use crate::error::{self, ParamError};
use crate::memo::Memo;
use crate::special::log_sigmoid;
use rand::{Rng, RngExt};

/// The Bernoulli distribution over `{false, true}`, with `P(true) = probs`.
///
/// Built from `probs` ([`Bernoulli::new`]) or from `logits = ln(probs / (1 - probs))`
/// ([`Bernoulli::from_logits`]); both log-probabilities are kept exactly, so extreme logits lose
/// no precision. Built from `probs`, each log-probability is computed when first needed. `log_prob(true)` is exactly `-inf` when `probs = 0` (torch clamps it; we do not).
///
/// # Example
/// ```
/// use pyro_distributions::{Bernoulli, Distribution};
///
/// let d = Bernoulli::from_logits(-50.0)?;
/// assert!((d.log_prob(&false) + (-50.0_f64).exp()).abs() < 1e-30);
/// assert_eq!(Bernoulli::new(0.0)?.log_prob(&true), f64::NEG_INFINITY);
/// assert!(Bernoulli::new(1.5).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Bernoulli {
    probs: f64,
    /// `ln(probs)`.
    log_p: Memo,
    /// `ln(1 - probs)`.
    log_q: Memo,
}

const FAMILY: &str = "Bernoulli";

impl Bernoulli {
    /// A Bernoulli distribution with `P(true) = probs`, `probs` in `[0, 1]`.
    pub fn new(probs: f64) -> Result<Self, ParamError> {
        let probs = error::probability(FAMILY, "probs", probs)?;
        Ok(Bernoulli {
            probs,
            log_p: Memo::new(),
            log_q: Memo::new(),
        })
    }

    /// A Bernoulli distribution with `P(true) = sigmoid(logits)`; `logits` must not be NaN
    /// (`+inf` and `-inf` mean `probs = 1` and `probs = 0`).
    pub fn from_logits(logits: f64) -> Result<Self, ParamError> {
        if logits.is_nan() {
            return Err(ParamError::new(FAMILY, "logits", logits, "must not be NaN"));
        }
        let log_p = log_sigmoid(logits);
        Ok(Bernoulli {
            probs: log_p.exp(),
            log_p: Memo::known(log_p),
            log_q: Memo::known(log_sigmoid(-logits)),
        })
    }

    /// `P(true)`.
    pub fn probs(&self) -> f64 {
        self.probs
    }

    /// `ln(probs / (1 - probs))`.
    pub fn logits(&self) -> f64 {
        self.log_p() - self.log_q()
    }

    /// `ln P(true)`.
    fn log_p(&self) -> f64 {
        self.log_p.get_or(|| self.probs.ln())
    }

    /// `ln P(false)`.
    fn log_q(&self) -> f64 {
        self.log_q.get_or(|| (-self.probs).ln_1p())
    }
}

impl Distribution for Bernoulli {
    type Value = bool;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> bool {
        rng.random::<f64>() < self.probs
    }

    #[inline]
    fn log_prob(&self, x: &bool) -> f64 {
        if *x { self.log_p() } else { self.log_q() }
    }

    /// Counts the `true`s: each log-probability is taken once and multiplied by its count.
    fn log_prob_iid(&self, values: &[bool]) -> f64 {
        // Counted in u32 (which vectorises), in chunks short enough not to overflow.
        let ones: usize = values
            .chunks(1 << 31)
            .map(|c| c.iter().map(|&x| u32::from(x)).sum::<u32>() as usize)
            .sum();
        let zeros = values.len() - ones;
        // A count of zero adds nothing, even against a log-probability of -inf.
        let term = |count: usize, log_prob: &dyn Fn() -> f64| match count {
            0 => 0.0,
            k => k as f64 * log_prob(),
        };
        term(ones, &|| self.log_p()) + term(zeros, &|| self.log_q())
    }

    fn support(&self) -> Constraint {
        Constraint::Boolean
    }

    fn mean(&self) -> Option<f64> {
        Some(self.probs)
    }

    fn variance(&self) -> Option<f64> {
        Some(self.probs * (1.0 - self.probs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Bernoulli {
        match p.get_real("probs") {
            Some(probs) => Bernoulli::new(probs).unwrap(),
            None => Bernoulli::from_logits(p.real("logits")).unwrap(),
        }
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&Bernoulli::new(0.3).unwrap(), 3);
    }

    #[test]
    fn value_stability() {
        testing::assert_first_draws(&Bernoulli::new(0.5).unwrap(), 42, &[false, true, false]);
    }

    #[test]
    fn edges_and_errors() {
        assert_eq!(
            Bernoulli::new(1.0).unwrap().log_prob(&false),
            f64::NEG_INFINITY
        );
        assert_eq!(
            Bernoulli::from_logits(f64::INFINITY)
                .unwrap()
                .log_prob(&true),
            0.0
        );
        assert!((Bernoulli::new(0.3).unwrap().logits() - (0.3_f64 / 0.7).ln()).abs() < 1e-15);
        let e = Bernoulli::new(-0.1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bernoulli: invalid parameter probs = -0.1 (must be in [0, 1])"
        );
        assert!(Bernoulli::new(f64::NAN).is_err());
        assert!(Bernoulli::from_logits(f64::NAN).is_err());
    }

    #[test]
    fn iid_scores_equal_the_element_sums() {
        let xs = [true, false, true, true, false];
        for d in [
            Bernoulli::new(0.3).unwrap(),
            Bernoulli::from_logits(-40.0).unwrap(),
        ] {
            let by_element: f64 = xs.iter().map(|x| d.log_prob(x)).sum();
            // Counted and multiplied instead of summed: equal up to a few roundings.
            assert!((d.log_prob_iid(&xs) - by_element).abs() <= 1e-13 * by_element.abs());
        }
        // A count of zero against a log-probability of -inf adds nothing (not NaN).
        assert_eq!(
            Bernoulli::new(0.0).unwrap().log_prob_iid(&[false, false]),
            0.0
        );
        assert_eq!(Bernoulli::new(1.0).unwrap().log_prob_iid(&[true]), 0.0);
        assert_eq!(
            Bernoulli::new(1.0).unwrap().log_prob_iid(&[true, false]),
            f64::NEG_INFINITY
        );
        assert_eq!(Bernoulli::new(0.5).unwrap().log_prob_iid(&[]), 0.0);
    }

    proptest! {
        #[test]
        fn pmf_sums_to_one(probs in 0.0..=1.0_f64) {
            let d = Bernoulli::new(probs).unwrap();
            let total = d.log_prob(&false).exp() + d.log_prob(&true).exp();
            prop_assert!((total - 1.0).abs() < 1e-12);
        }

        #[test]
        fn logits_agree_with_probs(logits in -30.0..30.0_f64) {
            let a = Bernoulli::from_logits(logits).unwrap();
            let b = Bernoulli::new(a.probs()).unwrap();
            prop_assert!((a.log_prob(&true) - b.log_prob(&true)).abs() < 1e-9);
        }

        #[test]
        fn invalid_probs_error(probs in prop_oneof![-1e6..-1e-12_f64, (1.0 + 1e-12)..1e6_f64]) {
            prop_assert!(Bernoulli::new(probs).is_err());
        }
    }
}
