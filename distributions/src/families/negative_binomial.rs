//! The negative binomial distribution.

use super::bernoulli::ProbsOrLogits;
use super::poisson::draw_with_rate;
use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::{self, ParamError};
use crate::special::{digamma_diff, ln_gamma, ln_gamma_diff, ln_gamma_ratio, log_sigmoid};
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The negative binomial distribution `NegativeBinomial(total_count, probs)` in torch's
/// convention: the number of successes, each with probability `probs`, before `total_count`
/// failures. `total_count` is a real `> 0`.
///
/// Built from `probs` in `[0, 1)` ([`NegativeBinomial::new`]) or from
/// `logits = ln(probs / (1 - probs))` ([`NegativeBinomial::from_logits`]). Draws are
/// `Poisson(Gamma(total_count, scale = probs / (1 - probs)))`; draws beyond `i64::MAX`
/// saturate there.
///
/// The parameters are [`Real`]s: a gradient flows through `log_prob_real` to `total_count` and to
/// `probs` or `logits` (the one the distribution was built from), when they are tracked on the
/// tape.
///
/// # Density
/// `P(k) = Gamma(k + r) / (Gamma(r) k!) probs^k (1 - probs)^r` for integers `k >= 0`, with
/// `r = total_count` (and `0^0 = 1`).
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, NegativeBinomial};
///
/// let d = NegativeBinomial::new(2.0, 0.5)?;
/// // P(0) = 0.5^2, P(1) = 2 * 0.5^3.
/// assert!((d.log_prob(&0) - 0.25_f64.ln()).abs() < 1e-15);
/// assert!((d.log_prob(&1) - 0.25_f64.ln()).abs() < 1e-15);
/// assert_eq!(d.mean(), Some(2.0));
/// assert!(NegativeBinomial::new(2.0, 1.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NegativeBinomial {
    total_count: Real,
    /// The success probability as given, through which a gradient flows.
    param: ProbsOrLogits,
    probs: f64,
    log_p: f64,
    log_q: f64,
    /// `1 - probs`, kept to full relative precision.
    complement: f64,
    /// `ln Gamma(total_count)` (`+inf` near `f64::MAX`, where `log_prob` does not use it).
    ln_gamma_r: f64,
    /// `total_count ln(1 - probs)`.
    r_log_q: f64,
    /// The Gamma mixing distribution of the Poisson rate; `None` when `probs = 0`.
    gamma: Option<rand_distr::Gamma<f64>>,
}

const FAMILY: &str = "NegativeBinomial";

impl NegativeBinomial {
    /// A negative binomial distribution; `total_count` must be finite and `> 0`, `probs` in
    /// `[0, 1)`.
    pub fn new(total_count: impl Into<Real>, probs: impl Into<Real>) -> Result<Self, ParamError> {
        let (total_count, param) = (total_count.into(), probs.into());
        error::positive(FAMILY, "total_count", total_count.value())?;
        let probs = param.value();
        if !(0.0..1.0).contains(&probs) {
            return Err(ParamError::new(FAMILY, "probs", probs, "must be in [0, 1)"));
        }
        let (log_p, log_q) = (probs.ln(), (-probs).ln_1p());
        Ok(Self::build(
            total_count,
            ProbsOrLogits::Probs(param),
            probs,
            1.0 - probs,
            log_p,
            log_q,
        ))
    }

    /// A negative binomial distribution with `probs = sigmoid(logits)`; `logits` must not be NaN
    /// or `+inf` (`-inf` means `probs = 0`).
    pub fn from_logits(
        total_count: impl Into<Real>,
        logits: impl Into<Real>,
    ) -> Result<Self, ParamError> {
        let (total_count, param) = (total_count.into(), logits.into());
        error::positive(FAMILY, "total_count", total_count.value())?;
        let logits = param.value();
        if logits.is_nan() || logits == f64::INFINITY {
            return Err(ParamError::new(
                FAMILY,
                "logits",
                logits,
                "must not be NaN or +inf",
            ));
        }
        let (log_p, log_q) = (log_sigmoid(logits), log_sigmoid(-logits));
        Ok(Self::build(
            total_count,
            ProbsOrLogits::Logits(param),
            log_p.exp(),
            log_q.exp(),
            log_p,
            log_q,
        ))
    }

    fn build(
        total_count: Real,
        param: ProbsOrLogits,
        probs: f64,
        complement: f64,
        log_p: f64,
        log_q: f64,
    ) -> Self {
        let r = total_count.value();
        // scale = probs / (1 - probs) = exp(logits); Gamma::new fails only for scale 0 (probs 0).
        let gamma = rand_distr::Gamma::new(r, (log_p - log_q).exp()).ok();
        NegativeBinomial {
            total_count,
            param,
            probs,
            log_p,
            log_q,
            complement,
            ln_gamma_r: ln_gamma(r),
            r_log_q: r * log_q,
            gamma,
        }
    }

    /// The number of failures that ends the sequence (a positive real).
    pub fn total_count(&self) -> Real {
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

    /// `total_count probs / (1 - probs)^power`: the mean (`power = 1`) and the variance
    /// (`power = 2`). Divided in turn where that is exact to rounding; where `1 - probs` is not a
    /// normal double (`logits` beyond about 708, from `from_logits`) or the quotient over- or
    /// underflows, in logs (`ln r + ln p - power ln(1 - p)`, from the logits-accurate `ln p` and
    /// `ln(1 - p)`), so that a finite moment is never reported as infinite or zero.
    fn moment(&self, power: f64) -> f64 {
        let (r, p, q) = (self.total_count.value(), self.probs, self.complement);
        if p == 0.0 {
            return 0.0;
        }
        let direct = if power == 1.0 {
            r * (p / q)
        } else {
            r * (p / q) / q
        };
        if q.is_normal() && direct.is_normal() {
            direct
        } else {
            (r.ln() + self.log_p - power * self.log_q).exp()
        }
    }
}

impl Distribution for NegativeBinomial {
    type Value = i64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        match self.gamma {
            Some(g) => draw_with_rate(rng.sample(g), rng),
            None => 0,
        }
    }

    #[inline]
    fn log_prob(&self, k: &i64) -> f64 {
        if *k < 0 {
            return f64::NEG_INFINITY;
        }
        let (k, r) = (*k as f64, self.total_count.value());
        // `k ln p` with `0 ln 0 = 0`, so that probs = 0 gives exactly 0 at k = 0.
        let successes = if k == 0.0 { 0.0 } else { k * self.log_p };
        // ln Gamma(k + r) - ln Gamma(k + 1) - ln Gamma(r), grouped so that the two largest terms
        // are taken as one ratio (`ln_gamma_ratio`, Stirling's formula with the large terms
        // cancelled by hand): ln Gamma(r) may be +inf (r near f64::MAX), and ln Gamma(k + r)
        // with it, where their difference is finite.
        let ln_coefficient = if r <= k {
            ln_gamma_diff(k + 1.0, r - 1.0, k + r) - self.ln_gamma_r
        } else {
            ln_gamma_ratio(r, k) - ln_gamma(k + 1.0)
        };
        ln_coefficient + successes + self.r_log_q
    }

    /// With respect to `total_count`: `psi(k + r) - psi(r) + ln(1 - probs)` (`psi` the digamma
    /// function, the difference taken without cancellation by `digamma_diff`); with respect to
    /// `probs`: `k / probs - r / (1 - probs)`; with respect to `logits`:
    /// `k (1 - probs) - r probs`.
    #[inline]
    fn log_prob_partials(&self, k: &i64, partials: &mut Partials<'_>) {
        let (k, r) = (*k as f64, self.total_count.value());
        if !self.total_count.is_constant() {
            partials.push(self.total_count, digamma_diff(r, k) + self.log_q);
        }
        if !self.param.is_constant() {
            self.param
                .push_partials(k, r, self.probs, self.complement, partials);
        }
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegativeInteger
    }

    fn mean(&self) -> Option<f64> {
        Some(self.moment(1.0))
    }

    fn variance(&self) -> Option<f64> {
        Some(self.moment(2.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> NegativeBinomial {
        let r = p.real("total_count");
        match p.get_real("probs") {
            Some(probs) => NegativeBinomial::new(r, probs).unwrap(),
            None => NegativeBinomial::from_logits(r, p.real("logits")).unwrap(),
        }
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
        testing::check_sample_moments(&NegativeBinomial::new(5.0, 0.4).unwrap(), 1);
        testing::check_sample_moments(&NegativeBinomial::new(0.5, 0.9).unwrap(), 2);
        testing::check_sample_moments(&NegativeBinomial::from_logits(40.0, -2.0).unwrap(), 3);
    }

    #[test]
    fn value_stability() {
        let d = NegativeBinomial::new(3.0, 0.6).unwrap();
        testing::assert_first_draws(&d, 42, &[10, 1, 1]);
    }

    #[test]
    fn edges_and_errors() {
        let d = NegativeBinomial::new(2.5, 0.3).unwrap();
        assert_eq!(d.log_prob(&-1), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MIN), f64::NEG_INFINITY);
        assert!(d.log_prob(&i64::MAX).is_finite());
        assert!((d.log_prob(&0) - 2.5 * 0.7_f64.ln()).abs() < 1e-15);
        assert_eq!(d.log_prob_value(&Value::Real(1.5)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Real(f64::NAN)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(3)), d.log_prob(&3));
        assert!((d.logits() - (0.3_f64 / 0.7).ln()).abs() < 1e-15);
        // probs = 0 (or logits = -inf): a point mass at 0.
        for zero in [
            NegativeBinomial::new(2.5, 0.0).unwrap(),
            NegativeBinomial::from_logits(2.5, f64::NEG_INFINITY).unwrap(),
        ] {
            assert_eq!(
                (zero.log_prob(&0), zero.log_prob(&1)),
                (0.0, f64::NEG_INFINITY)
            );
            assert_eq!((zero.mean(), zero.variance()), (Some(0.0), Some(0.0)));
            assert_eq!(zero.sample(&mut testing::rng(1)), 0);
        }
        // A tiny total_count: Gamma draws underflow to 0, which must give 0, not a panic.
        let tiny = NegativeBinomial::new(1e-300, 0.5).unwrap();
        assert!((0..100).all(|_| tiny.sample(&mut testing::rng(2)) >= 0));
        let e = NegativeBinomial::new(5.0, 1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "NegativeBinomial: invalid parameter probs = 1 (must be in [0, 1))"
        );
        let e = NegativeBinomial::new(0.0, 0.5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "NegativeBinomial: invalid parameter total_count = 0 (must be finite and > 0)"
        );
        assert_eq!(
            NegativeBinomial::new(f64::INFINITY, 0.5).unwrap_err().param,
            "total_count"
        );
        assert_eq!(NegativeBinomial::new(1.0, -0.1).unwrap_err().param, "probs");
        assert_eq!(
            NegativeBinomial::new(1.0, f64::NAN).unwrap_err().param,
            "probs"
        );
        let inf = NegativeBinomial::from_logits(1.0, f64::INFINITY).unwrap_err();
        assert_eq!(inf.param, "logits");
        assert_eq!(
            NegativeBinomial::from_logits(1.0, f64::NAN)
                .unwrap_err()
                .param,
            "logits"
        );
        assert_eq!(
            NegativeBinomial::from_logits(-1.0, 0.0).unwrap_err().param,
            "total_count"
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (total_count, probs): the length of total_count is its distance to 0, that of
        // probs its distance to the nearer end of [0, 1).
        for &(k, r, p) in &[
            (0, 2.5, 0.3),
            (3, 2.5, 0.3),
            (10, 0.5, 0.9),
            (1000, 40.0, 0.95),
            (0, 1e-6, 0.5),
            (5, 1e-6, 0.5),
            (5, 1e-300, 0.5),
            (3, 1e6, 0.3),
            (2, 1e10, 1e-11),
            (1, 3.0, 1e-200),
            (4, 7.0, 1.0 - 1e-6),
            (1_000_000, 0.01, 0.999),
        ] {
            let at = |v: &[Real]| (NegativeBinomial::new(v[0], v[1]).unwrap(), k);
            testing::check_log_prob_gradient(at, &[r, p], &[r, p.min(1.0 - p)]);
        }
        // Inputs (total_count, logits); logits has no edge (length 1).
        for &(k, r, l) in &[
            (3, 2.5, 0.0),
            (0, 2.5, -3.0),
            (7, 0.7, 2.0),
            (2, 3.0, -40.0),
            (2, 3.0, 30.0),
            (2, 3.0, -800.0),
            (0, 3.0, -800.0),
            (2, 1e10, -25.0),
            (100, 1e-4, 5.0),
        ] {
            let at = |v: &[Real]| (NegativeBinomial::from_logits(v[0], v[1]).unwrap(), k);
            testing::check_log_prob_gradient(at, &[r, l], &[r, 1.0]);
        }
    }

    #[test]
    fn gradients_in_closed_form() {
        let probs = |k: i64| move |v: &[Real]| (NegativeBinomial::new(v[0], v[1]).unwrap(), k);
        let logits =
            |k: i64| move |v: &[Real]| (NegativeBinomial::from_logits(v[0], v[1]).unwrap(), k);
        // r = 1 is the geometric distribution: ln P(k) = k ln p + ln(1 - p); at k = 2, p = 1/2,
        // d/dr = psi(3) - psi(1) + ln(1/2) = 3/2 - ln 2, d/dp = k / p - r / (1 - p) = 2.
        let g = testing::log_prob_gradient(probs(2), &[1.0, 0.5]);
        assert!((g[0] - (1.5 - 2.0_f64.ln())).abs() < 1e-15, "{g:?}");
        assert_eq!(g[1], 2.0);
        // With respect to logits: k (1 - p) - r p = (2 - 1) / 2 at logits 0.
        let g = testing::log_prob_gradient(logits(2), &[1.0, 0.0]);
        assert!((g[1] - 0.5).abs() < 1e-15, "{g:?}");
        // At probs = 0, where k = 0 has probability 1: d/dr = 0, d/dp = -r (one-sided).
        assert_eq!(
            testing::log_prob_gradient(probs(0), &[2.5, 0.0]),
            vec![0.0, -2.5]
        );
        assert_eq!(
            testing::log_prob_gradient(logits(0), &[2.5, f64::NEG_INFINITY]),
            vec![0.0, 0.0]
        );
        let d = NegativeBinomial::new(2.5, 0.3).unwrap();
        assert!(d.log_prob_real(&3).is_constant());
    }

    proptest! {
        #[test]
        fn finite_inside_support(r in 1e-6..1e6_f64, probs in 0.0..(1.0 - 1e-9), k in 0..1_000_000_i64) {
            let d = NegativeBinomial::new(r, probs).unwrap();
            prop_assert!(d.log_prob(&k).is_finite() || (probs == 0.0 && k > 0));
        }

        #[test]
        fn invalid_params_error(
            r in prop_oneof![-1e6..=0.0_f64, Just(f64::NAN)],
            probs in prop_oneof![-1e6..-1e-12_f64, 1.0..1e6_f64],
        ) {
            prop_assert!(NegativeBinomial::new(r, 0.5).is_err());
            prop_assert!(NegativeBinomial::new(1.0, probs).is_err());
        }

        #[test]
        fn pmf_sums_to_one(r in 0.05..50.0_f64, probs in 0.0..0.9_f64) {
            // Sum until past the mean and the terms fall below 1e-17; beyond that the ratio of
            // successive terms is below (k + r) / (k + 1) * probs < 0.95, so the tail is < 1e-15.
            let d = NegativeBinomial::new(r, probs).unwrap();
            let mean = d.mean().unwrap();
            let mut total = 0.0;
            let mut k = 0_i64;
            loop {
                let term = d.log_prob(&k).exp();
                total += term;
                if k as f64 > 2.0 * mean + 20.0 * r && term < 1e-17 {
                    break;
                }
                k += 1;
            }
            prop_assert!((total - 1.0).abs() < 1e-9, "total {}", total);
        }
    }
}
