//! The binomial distribution.

use super::bernoulli::ProbsOrLogits;
use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::{self, ParamError};
use crate::special::log_sigmoid;
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The binomial distribution `Binomial(total_count, probs)`: the number of successes in
/// `total_count` independent trials that each succeed with probability `probs`.
///
/// Built from `probs` ([`Binomial::new`]) or from `logits = ln(probs / (1 - probs))`
/// ([`Binomial::from_logits`]). Like [`Bernoulli`](crate::Bernoulli), both `ln(probs)` and
/// `ln(1 - probs)` are kept exactly, so `probs = 0` or `1` give exact `-inf` and `0`.
///
/// `probs` and `logits` are [`Real`]s: a gradient flows through `log_prob_real` to the one the
/// distribution was built from, when it is tracked on the tape (`total_count` is a count).
///
/// # Density
/// `P(k) = C(total_count, k) probs^k (1 - probs)^(total_count - k)` for integers
/// `0 <= k <= total_count` (with `0^0 = 1`).
///
/// # Example
/// ```
/// use pyro_distributions::{Binomial, Distribution};
///
/// let d = Binomial::new(10, 0.5)?;
/// assert!((d.log_prob(&0) - 0.5_f64.powi(10).ln()).abs() < 1e-12);
/// assert_eq!(d.log_prob(&11), f64::NEG_INFINITY);
/// assert_eq!(Binomial::new(10, 1.0)?.log_prob(&10), 0.0);
/// assert_eq!(d.mean(), Some(5.0));
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Binomial {
    total_count: u64,
    /// The parameter as given, through which a gradient flows.
    param: ProbsOrLogits,
    probs: f64,
    log_p: f64,
    log_q: f64,
    /// `ln(total_count!)`.
    ln_n_factorial: f64,
    sampler: rand_distr::Binomial,
}

const FAMILY: &str = "Binomial";

/// Checks that a count parameter fits the `i64` values of the draws.
pub(crate) fn count(family: &'static str, param: &'static str, n: u64) -> Result<u64, ParamError> {
    if i64::try_from(n).is_ok() {
        Ok(n)
    } else {
        Err(ParamError::new(family, param, n, "must be <= i64::MAX"))
    }
}

impl Binomial {
    /// A binomial distribution of `total_count` trials with success probability `probs` in
    /// `[0, 1]`; `total_count` must be at most `i64::MAX`.
    pub fn new(total_count: u64, probs: impl Into<Real>) -> Result<Self, ParamError> {
        let param = probs.into();
        let probs = error::probability(FAMILY, "probs", param.value())?;
        Self::build(
            total_count,
            ProbsOrLogits::Probs(param),
            probs,
            probs.ln(),
            (-probs).ln_1p(),
        )
    }

    /// A binomial distribution with success probability `sigmoid(logits)`; `logits` must not be
    /// NaN (`+inf` and `-inf` mean `probs = 1` and `probs = 0`).
    pub fn from_logits(total_count: u64, logits: impl Into<Real>) -> Result<Self, ParamError> {
        let param = logits.into();
        let logits = param.value();
        if logits.is_nan() {
            return Err(ParamError::new(FAMILY, "logits", logits, "must not be NaN"));
        }
        let log_p = log_sigmoid(logits);
        Self::build(
            total_count,
            ProbsOrLogits::Logits(param),
            log_p.exp(),
            log_p,
            log_sigmoid(-logits),
        )
    }

    fn build(
        total_count: u64,
        param: ProbsOrLogits,
        probs: f64,
        log_p: f64,
        log_q: f64,
    ) -> Result<Self, ParamError> {
        let total_count = count(FAMILY, "total_count", total_count)?;
        let sampler = rand_distr::Binomial::new(total_count, probs)
            .map_err(|_| ParamError::new(FAMILY, "probs", probs, "must be in [0, 1]"))?;
        Ok(Binomial {
            total_count,
            param,
            probs,
            log_p,
            log_q,
            ln_n_factorial: libm::lgamma(total_count as f64 + 1.0),
            sampler,
        })
    }

    /// The number of trials.
    pub fn total_count(&self) -> u64 {
        self.total_count
    }

    /// The success probability of each trial (computed from `logits`, with its gradient, when
    /// built from them).
    pub fn probs(&self) -> Real {
        self.param.probs()
    }

    /// `ln(probs / (1 - probs))` (the parameter itself when built from logits).
    pub fn logits(&self) -> Real {
        self.param.logits()
    }
}

impl Distribution for Binomial {
    type Value = i64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        // At most `total_count <= i64::MAX`, so the conversion is exact.
        rng.sample(self.sampler) as i64
    }

    #[inline]
    fn log_prob(&self, k: &i64) -> f64 {
        let n = self.total_count as f64;
        if *k < 0 || *k as u64 > self.total_count {
            return f64::NEG_INFINITY;
        }
        let k = *k as f64;
        // `k ln p` and `(n - k) ln q` with `0 ln 0 = 0`, so that probs 0 and 1 stay exact.
        let successes = if k == 0.0 { 0.0 } else { k * self.log_p };
        let failures = if k == n { 0.0 } else { (n - k) * self.log_q };
        self.ln_n_factorial - libm::lgamma(k + 1.0) - libm::lgamma(n - k + 1.0)
            + successes
            + failures
    }

    /// `k / probs - (n - k) / (1 - probs)` with respect to `probs`, `k (1 - probs) - (n - k)
    /// probs` with respect to `logits` (a term with a count of 0 is 0, as in `log_prob`).
    #[inline]
    fn log_prob_partials(&self, k: &i64, partials: &mut Partials<'_>) {
        if self.param.is_constant() {
            return;
        }
        let (k, n) = (*k as f64, self.total_count as f64);
        let q = self.param.complement(self.probs, || self.log_q);
        self.param.push_partials(k, n - k, self.probs, q, partials);
    }

    fn support(&self) -> Constraint {
        Constraint::IntegerInterval {
            lower: 0,
            upper: self.total_count as i64,
        }
    }

    fn mean(&self) -> Option<f64> {
        Some(self.total_count as f64 * self.probs)
    }

    fn variance(&self) -> Option<f64> {
        Some(self.total_count as f64 * self.probs * self.log_q.exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Binomial {
        let n = p.int("total_count") as u64;
        match p.get_real("probs") {
            Some(probs) => Binomial::new(n, probs).unwrap(),
            None => Binomial::from_logits(n, p.real("logits")).unwrap(),
        }
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        // Both samplers of rand_distr: inversion for small n p, BTPE for large.
        testing::check_sample_moments(&Binomial::new(12, 0.3).unwrap(), 1);
        testing::check_sample_moments(&Binomial::new(1000, 0.7).unwrap(), 2);
        testing::check_sample_moments(&Binomial::from_logits(40, -1.0).unwrap(), 3);
    }

    #[test]
    fn value_stability() {
        testing::assert_first_draws(&Binomial::new(20, 0.3).unwrap(), 42, &[8, 5, 11]);
    }

    #[test]
    fn edges_and_errors() {
        let d = Binomial::new(5, 0.4).unwrap();
        assert_eq!(d.log_prob(&-1), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&6), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MIN), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MAX), f64::NEG_INFINITY);
        assert!((d.log_prob(&5) - 5.0 * 0.4_f64.ln()).abs() < 1e-14);
        assert_eq!(d.log_prob_value(&Value::Real(2.5)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Real(f64::INFINITY)),
            f64::NEG_INFINITY
        );
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&2));
        assert_eq!(
            d.support(),
            Constraint::IntegerInterval { lower: 0, upper: 5 }
        );
        // probs 0 and 1, and infinite logits, are exact point masses.
        assert_eq!(Binomial::new(5, 0.0).unwrap().log_prob(&0), 0.0);
        assert_eq!(
            Binomial::new(5, 0.0).unwrap().log_prob(&1),
            f64::NEG_INFINITY
        );
        assert_eq!(Binomial::new(5, 1.0).unwrap().log_prob(&5), 0.0);
        assert_eq!(
            Binomial::new(5, 1.0).unwrap().log_prob(&4),
            f64::NEG_INFINITY
        );
        let up = Binomial::from_logits(5, f64::INFINITY).unwrap();
        assert_eq!((up.log_prob(&5), up.log_prob(&0)), (0.0, f64::NEG_INFINITY));
        assert_eq!(
            Binomial::from_logits(5, f64::NEG_INFINITY)
                .unwrap()
                .log_prob(&0),
            0.0
        );
        // No trials: a point mass at 0.
        let none = Binomial::new(0, 0.3).unwrap();
        assert_eq!(
            (none.log_prob(&0), none.log_prob(&1)),
            (0.0, f64::NEG_INFINITY)
        );
        assert!((Binomial::new(3, 0.3).unwrap().logits() - (0.3_f64 / 0.7).ln()).abs() < 1e-15);
        let e = Binomial::new(10, 1.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Binomial: invalid parameter probs = 1.5 (must be in [0, 1])"
        );
        assert_eq!(Binomial::new(10, f64::NAN).unwrap_err().param, "probs");
        assert_eq!(
            Binomial::from_logits(10, f64::NAN).unwrap_err().param,
            "logits"
        );
        let e = Binomial::new(u64::MAX, 0.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Binomial: invalid parameter total_count = 18446744073709551615 (must be <= i64::MAX)"
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        // (n, k, probs); the length of probs is the distance to the nearer end of [0, 1].
        for &(n, k, p) in &[
            (10, 3, 0.3),
            (10, 0, 0.3),
            (10, 10, 0.3),
            (1, 1, 0.5),
            (0, 0, 0.4),
            (1000, 700, 0.7),
            (1000, 3, 0.7),
            (10_000, 5000, 0.5),
            (5, 2, 1e-6),
            (5, 0, 1e-6),
            (5, 5, 1.0 - 1e-6),
            (40, 1, 1e-200),
            (1_000_000_000, 2, 1e-9),
        ] {
            let at = |v: &[Real]| (Binomial::new(n, v[0]).unwrap(), k);
            testing::check_log_prob_gradient(at, &[p], &[p.min(1.0 - p)]);
        }
        // (n, k, logits); logits has no edge (length 1).
        for &(n, k, l) in &[
            (10, 3, 0.0),
            (10, 0, -2.0),
            (10, 10, 3.0),
            (1000, 700, 0.85),
            (10, 3, -40.0),
            (10, 3, 40.0),
            (10, 10, 40.0),
            (10, 0, -800.0),
            (7, 2, -800.0),
            (7, 7, 800.0),
        ] {
            let at = |v: &[Real]| (Binomial::from_logits(n, v[0]).unwrap(), k);
            testing::check_log_prob_gradient(at, &[l], &[1.0]);
        }
    }

    #[test]
    fn gradients_in_closed_form() {
        let probs = |n: u64, k: i64| move |v: &[Real]| (Binomial::new(n, v[0]).unwrap(), k);
        let logits =
            |n: u64, k: i64| move |v: &[Real]| (Binomial::from_logits(n, v[0]).unwrap(), k);
        // k / p - (n - k) / (1 - p) = 4k - 2n at p = 1/2; k - n p with respect to logits.
        assert_eq!(testing::log_prob_gradient(probs(10, 3), &[0.5]), vec![-8.0]);
        assert_eq!(
            testing::log_prob_gradient(probs(1_000_000, 500_000), &[0.5]),
            vec![0.0]
        );
        assert!((testing::log_prob_gradient(logits(10, 3), &[0.0])[0] + 2.0).abs() < 1e-14);
        // At the ends, where the log-probability is finite: one-sided derivatives -n and n.
        assert_eq!(
            testing::log_prob_gradient(probs(10, 0), &[0.0]),
            vec![-10.0]
        );
        assert_eq!(
            testing::log_prob_gradient(probs(10, 10), &[1.0]),
            vec![10.0]
        );
        assert_eq!(
            testing::log_prob_gradient(logits(10, 10), &[f64::INFINITY]),
            vec![0.0]
        );
        assert_eq!(
            testing::log_prob_gradient(logits(10, 0), &[f64::NEG_INFINITY]),
            vec![0.0]
        );
        // All successes at logits 40: n (1 - probs), which keeps its relative precision.
        let g = testing::log_prob_gradient(logits(10, 10), &[40.0])[0];
        assert!((g / (10.0 * (-40.0_f64).exp()) - 1.0).abs() < 1e-14, "{g}");
        assert!(
            Binomial::new(10, 0.3)
                .unwrap()
                .log_prob_real(&3)
                .is_constant()
        );
    }

    proptest! {
        #[test]
        fn finite_inside_support(n in 0..1_000_000_u64, probs in 1e-12..(1.0 - 1e-12), u in 0.0..=1.0_f64) {
            let d = Binomial::new(n, probs).unwrap();
            let k = (u * n as f64).floor() as i64;
            prop_assert!(d.log_prob(&k).is_finite());
        }

        #[test]
        fn invalid_probs_error(probs in prop_oneof![-1e6..-1e-12_f64, (1.0 + 1e-12)..1e6_f64]) {
            prop_assert!(Binomial::new(3, probs).is_err());
        }

        #[test]
        fn invalid_count_errors(n in (i64::MAX as u64 + 1)..=u64::MAX) {
            prop_assert!(Binomial::new(n, 0.5).is_err());
        }

        #[test]
        fn pmf_sums_to_one(n in 0..2000_u64, logits in -20.0..20.0_f64) {
            let d = Binomial::from_logits(n, logits).unwrap();
            let total: f64 = (0..=n as i64).map(|k| d.log_prob(&k).exp()).sum();
            prop_assert!((total - 1.0).abs() < 1e-9, "total {}", total);
        }

        #[test]
        fn logits_agree_with_probs(n in 0..100_u64, logits in -30.0..2.0_f64, k in 0..100_i64) {
            // Up to logits 2, `1 - probs` keeps full relative precision, so both forms agree.
            let a = Binomial::from_logits(n, logits).unwrap();
            let b = Binomial::new(n, a.probs()).unwrap();
            prop_assert!((a.log_prob(&k) - b.log_prob(&k)).abs() < 1e-9 * (1.0 + a.log_prob(&k).abs())
                || a.log_prob(&k) == b.log_prob(&k));
        }
    }
}
