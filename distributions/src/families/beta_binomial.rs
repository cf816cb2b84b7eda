//! The beta-binomial distribution.

use super::binomial::count;
use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::{self, ParamError};
use crate::special::{digamma_diff, ln_beta, ln_gamma_diff, ln_gamma_ratio_reduced, share};
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The beta-binomial distribution `BetaBinomial(concentration1, concentration0, total_count)`:
/// a binomial count of `total_count` trials whose success probability is drawn from
/// `Beta(concentration1, concentration0)` (Pyro's argument order).
///
/// # Density
/// `P(k) = C(n, k) B(k + a, n - k + b) / B(a, b)` for integers `0 <= k <= n`, with
/// `a = concentration1`, `b = concentration0`, `n = total_count` and `B` the beta function.
///
/// The concentrations are [`Real`]s: a gradient flows through `log_prob_real` to each that is
/// tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{BetaBinomial, Distribution};
///
/// // With a = b = 1 every count in 0..=n is equally likely.
/// let d = BetaBinomial::new(1.0, 1.0, 4)?;
/// assert!((d.log_prob(&3) + 5.0_f64.ln()).abs() < 1e-14);
/// assert_eq!(d.log_prob(&5), f64::NEG_INFINITY);
/// assert_eq!(d.mean(), Some(2.0));
/// assert!(BetaBinomial::new(0.0, 1.0, 4).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BetaBinomial {
    concentration1: Real,
    concentration0: Real,
    total_count: u64,
    /// The parameter-only part of `ln P(k)` in the grouping in use (see `log_prob`).
    log_norm: f64,
    /// Whether the concentrations dominate the count (`a + b >= n`), which picks the grouping.
    concentrations_dominate: bool,
    /// `a / (a + b)` and `b / (a + b)`, each to full relative precision, and their logarithms.
    p: f64,
    q: f64,
    ln_p: f64,
    ln_q: f64,
    beta: rand_distr::Beta<f64>,
}

const FAMILY: &str = "BetaBinomial";

impl BetaBinomial {
    /// A beta-binomial distribution; both concentrations must be finite and `> 0`, and
    /// `total_count` at most `i64::MAX`.
    pub fn new(
        concentration1: impl Into<Real>,
        concentration0: impl Into<Real>,
        total_count: u64,
    ) -> Result<Self, ParamError> {
        let (concentration1, concentration0) = (concentration1.into(), concentration0.into());
        let a = error::positive(FAMILY, "concentration1", concentration1.value())?;
        let b = error::positive(FAMILY, "concentration0", concentration0.value())?;
        let total_count = count(FAMILY, "total_count", total_count)?;
        let beta = rand_distr::Beta::new(a, b)
            .map_err(|_| ParamError::new(FAMILY, "concentration1", a, "must be finite and > 0"))?;
        let n = total_count as f64;
        let ((p, ln_p), (q, ln_q)) = (share(a, b), share(b, a));
        let sum = a + b;
        let concentrations_dominate = sum >= n;
        let log_norm = if concentrations_dominate {
            // -[ln Gamma(a + b + n) - ln Gamma(a + b) - n ln(a + b)] (0 where a + b overflows:
            // the reduced ratio is O(n^2 / (a + b)) there).
            -ln_gamma_ratio_reduced(sum, n)
        } else {
            -(n + 1.0).ln() - ln_gamma_diff(n + 2.0, sum - 2.0, n + sum) - ln_beta(a, b)
        };
        Ok(BetaBinomial {
            concentration1,
            concentration0,
            total_count,
            log_norm,
            concentrations_dominate,
            p,
            q,
            ln_p,
            ln_q,
            beta,
        })
    }

    /// The first shape of the beta prior on the success probability (`a`).
    pub fn concentration1(&self) -> Real {
        self.concentration1
    }

    /// The second shape of the beta prior on the success probability (`b`).
    pub fn concentration0(&self) -> Real {
        self.concentration0
    }

    /// The number of trials.
    pub fn total_count(&self) -> u64 {
        self.total_count
    }
}

impl Distribution for BetaBinomial {
    type Value = i64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        let p: f64 = rng.sample(self.beta);
        // Beta draws lie in [0, 1], which Binomial::new accepts; a draw is at most
        // total_count <= i64::MAX.
        rand_distr::Binomial::new(self.total_count, p).map_or(0, |b| rng.sample(b) as i64)
    }

    /// `ln P(k) = ln C(n, k) + ln B(k + a, n - k + b) - ln B(a, b)`, grouped so that no two large
    /// terms cancel. With `R(x, m) = ln Gamma(x + m) - ln Gamma(x)` and its reduced form
    /// `R~(x, m) = R(x, m) - m ln x`: where the concentrations dominate (`a + b >= n`), as the
    /// binomial pmf at `p = a / (a + b)` and corrections,
    /// `ln C(n, k) + k ln p + (n - k) ln q + R~(a, k) + R~(b, n - k) - R~(a + b, n)` (the leading
    /// terms `k ln a + (n - k) ln b - n ln(a + b)` combined into `k ln p + (n - k) ln q` before
    /// they can cancel); otherwise as `-ln(n + 1) + R(k + 1, a - 1) + R(n - k + 1, b - 1) -
    /// R(n + 2, a + b - 2) - ln B(a, b)`, the same sum regrouped around the binomial coefficient
    /// `1 / ((n + 1) B(k + 1, n - k + 1))`.
    #[inline]
    fn log_prob(&self, k: &i64) -> f64 {
        if *k < 0 || *k as u64 > self.total_count {
            return f64::NEG_INFINITY;
        }
        let (k, n) = (*k as f64, self.total_count as f64);
        let (a, b) = (self.concentration1.value(), self.concentration0.value());
        if self.concentrations_dominate {
            let ln_choose = -(n + 1.0).ln() - ln_beta(k + 1.0, n - k + 1.0);
            // k ln p with 0 ln p = 0 (ln p is finite, but keep k = 0 exact).
            let binomial = if k == 0.0 { 0.0 } else { k * self.ln_p }
                + if k == n { 0.0 } else { (n - k) * self.ln_q };
            ln_choose
                + binomial
                + ln_gamma_ratio_reduced(a, k)
                + ln_gamma_ratio_reduced(b, n - k)
                + self.log_norm
        } else {
            let j = n - k;
            ln_gamma_diff(k + 1.0, a - 1.0, k + a)
                + ln_gamma_diff(j + 1.0, b - 1.0, j + b)
                + self.log_norm
        }
    }

    /// `d/da = psi(k + a) - psi(a) - (psi(n + a + b) - psi(a + b))` and
    /// `d/db = psi(n - k + b) - psi(b) - (psi(n + a + b) - psi(a + b))`, `psi` the digamma
    /// function, each difference taken without cancellation by `digamma_diff`.
    #[inline]
    fn log_prob_partials(&self, k: &i64, partials: &mut Partials<'_>) {
        let (a, b) = (self.concentration1, self.concentration0);
        if a.is_constant() && b.is_constant() {
            return;
        }
        let (k, n) = (*k as f64, self.total_count as f64);
        let norm = digamma_diff(a.value() + b.value(), n);
        if !a.is_constant() {
            partials.push(a, digamma_diff(a.value(), k) - norm);
        }
        if !b.is_constant() {
            partials.push(b, digamma_diff(b.value(), n - k) - norm);
        }
    }

    fn support(&self) -> Constraint {
        Constraint::IntegerInterval {
            lower: 0,
            upper: self.total_count as i64,
        }
    }

    fn mean(&self) -> Option<f64> {
        Some(self.total_count as f64 * self.p)
    }

    /// `n p q (a + b + n) / (a + b + 1) = n p q (1 + (n - 1) / (a + b + 1))`, which cannot
    /// overflow or cancel.
    fn variance(&self) -> Option<f64> {
        let n = self.total_count as f64;
        let s = self.concentration1.value() + self.concentration0.value();
        Some(n * self.p * self.q * (1.0 + (n - 1.0) / (s + 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> BetaBinomial {
        let n = p.int("total_count") as u64;
        BetaBinomial::new(p.real("concentration1"), p.real("concentration0"), n).unwrap()
    }

    /// Extreme parameters and values against mpmath (issue 11, item 9); see
    /// `testing::check_extreme_values` for the tolerance.
    #[test]
    fn matches_mpmath_at_extremes() {
        testing::check_extreme_values(FAMILY, build);
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&BetaBinomial::new(2.0, 3.0, 10).unwrap(), 1);
        testing::check_sample_moments(&BetaBinomial::new(0.1, 0.1, 50).unwrap(), 2);
        testing::check_sample_moments(&BetaBinomial::new(1000.0, 500.0, 200).unwrap(), 3);
    }

    #[test]
    fn value_stability() {
        testing::assert_first_draws(&BetaBinomial::new(2.0, 3.0, 10).unwrap(), 42, &[3, 5, 1]);
    }

    #[test]
    fn edges_and_errors() {
        let d = BetaBinomial::new(2.0, 3.0, 6).unwrap();
        assert_eq!(d.log_prob(&-1), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&7), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MIN), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MAX), f64::NEG_INFINITY);
        assert!(d.log_prob(&0).is_finite() && d.log_prob(&6).is_finite());
        assert_eq!(d.log_prob_value(&Value::Real(2.5)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Real(f64::NAN)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(2)), d.log_prob(&2));
        assert_eq!(
            d.support(),
            Constraint::IntegerInterval { lower: 0, upper: 6 }
        );
        // No trials: a point mass at 0.
        let none = BetaBinomial::new(0.5, 2.0, 0).unwrap();
        assert_eq!(
            (none.log_prob(&0), none.log_prob(&1)),
            (0.0, f64::NEG_INFINITY)
        );
        let e = BetaBinomial::new(-1.0, 1.0, 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "BetaBinomial: invalid parameter concentration1 = -1 (must be finite and > 0)"
        );
        assert_eq!(
            BetaBinomial::new(f64::NAN, 1.0, 3).unwrap_err().param,
            "concentration1"
        );
        assert_eq!(
            BetaBinomial::new(1.0, 0.0, 3).unwrap_err().param,
            "concentration0"
        );
        assert_eq!(
            BetaBinomial::new(1.0, f64::INFINITY, 3).unwrap_err().param,
            "concentration0"
        );
        assert_eq!(
            BetaBinomial::new(1.0, 1.0, u64::MAX).unwrap_err().param,
            "total_count"
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        // (k, n, a, b); the length of each concentration is its distance to 0.
        for &(k, n, a, b) in &[
            (3, 10, 2.0, 3.0),
            (0, 10, 2.0, 3.0),
            (10, 10, 2.0, 3.0),
            (2, 6, 0.1, 0.1),
            (25, 50, 1e-3, 5.0),
            (100, 200, 1000.0, 500.0),
            (3, 5, 1e6, 2e6),
            (0, 0, 0.5, 2.0),
            (50_000, 100_000, 0.5, 0.5),
            (7, 20, 1e12, 1e12),
            (0, 20, 1e-300, 1.0),
            (1, 1, 1e-8, 1e8),
            (4, 9, 9.5, 10.5),
            (999, 1000, 30.0, 0.2),
        ] {
            let at = |v: &[Real]| (BetaBinomial::new(v[0], v[1], n).unwrap(), k);
            testing::check_log_prob_gradient(at, &[a, b], &[a, b]);
        }
    }

    #[test]
    fn gradients_in_closed_form() {
        let at = |k: i64, n: u64| move |v: &[Real]| (BetaBinomial::new(v[0], v[1], n).unwrap(), k);
        // a = b = 1, n = 1: P(k) = 1/2 for both k; d/da ln P(1) = psi(2) - psi(1) - (psi(3) -
        // psi(2)) = 1 - 1/2, d/db = 0 - 1/2.
        assert_eq!(
            testing::log_prob_gradient(at(1, 1), &[1.0, 1.0]),
            vec![0.5, -0.5]
        );
        // n = 2, k = 0, a = 1, b = 2: ln P(0) = ln(b (b + 1) / ((a + b) (a + b + 1))), so
        // d/da = -1/3 - 1/4 and d/db = 1/2 + 1/3 - 1/3 - 1/4.
        let g = testing::log_prob_gradient(at(0, 2), &[1.0, 2.0]);
        assert!(
            (g[0] + 7.0 / 12.0).abs() < 1e-15 && (g[1] - 0.25).abs() < 1e-15,
            "{g:?}"
        );
        assert!(
            BetaBinomial::new(2.0, 3.0, 10)
                .unwrap()
                .log_prob_real(&3)
                .is_constant()
        );
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            a in 1e-3..1e4_f64, b in 1e-3..1e4_f64, n in 0..100_000_u64, u in 0.0..=1.0_f64,
        ) {
            let d = BetaBinomial::new(a, b, n).unwrap();
            let k = (u * n as f64).floor() as i64;
            prop_assert!(d.log_prob(&k).is_finite());
        }

        #[test]
        fn invalid_params_error(bad in prop_oneof![-1e6..=0.0_f64, Just(f64::NAN), Just(f64::INFINITY)]) {
            prop_assert!(BetaBinomial::new(bad, 1.0, 5).is_err());
            prop_assert!(BetaBinomial::new(1.0, bad, 5).is_err());
        }

        #[test]
        fn pmf_sums_to_one(a in 0.05..100.0_f64, b in 0.05..100.0_f64, n in 0..500_u64) {
            let d = BetaBinomial::new(a, b, n).unwrap();
            let total: f64 = (0..=n as i64).map(|k| d.log_prob(&k).exp()).sum();
            prop_assert!((total - 1.0).abs() < 1e-9, "total {}", total);
        }
    }
}
