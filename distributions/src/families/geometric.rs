//! The geometric distribution.

use super::bernoulli::ProbsOrLogits;
use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::ParamError;
use crate::special::log_sigmoid;
use pyro_tape::Real;
use rand::{Rng, RngExt};
use rand_distr::Open01;

/// The geometric distribution `Geometric(probs)`: the number of failures before the first
/// success in independent trials that each succeed with probability `probs` (torch's
/// convention, starting at 0).
///
/// Built from `probs` in `(0, 1]` ([`Geometric::new`]) or from
/// `logits = ln(probs / (1 - probs))` ([`Geometric::from_logits`]). Draws of a mean beyond
/// `i64::MAX` (only for `probs` below about `1e-18`) saturate at `i64::MAX`.
///
/// `probs` and `logits` are [`Real`]s: a gradient flows through `log_prob_real` to the one the
/// distribution was built from, when it is tracked on the tape.
///
/// # Density
/// `P(k) = probs (1 - probs)^k` for integers `k >= 0` (with `0^0 = 1`).
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Geometric};
///
/// let d = Geometric::new(0.25)?;
/// assert!((d.log_prob(&2) - (0.25_f64 * 0.75 * 0.75).ln()).abs() < 1e-15);
/// assert_eq!(d.mean(), Some(3.0));
/// assert_eq!(Geometric::new(1.0)?.log_prob(&0), 0.0);
/// assert!(Geometric::new(0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometric {
    /// The parameter as given, through which a gradient flows.
    param: ProbsOrLogits,
    probs: f64,
    log_p: f64,
    log_q: f64,
    /// `1 - probs`, kept to full relative precision.
    complement: f64,
    /// rand_distr's sampler, exact unless `1 - probs` rounds to 1 (then it returns `u64::MAX`,
    /// and we invert the cdf instead).
    sampler: Option<rand_distr::Geometric>,
}

const FAMILY: &str = "Geometric";

impl Geometric {
    /// A geometric distribution with success probability `probs` in `(0, 1]`.
    pub fn new(probs: impl Into<Real>) -> Result<Self, ParamError> {
        let param = probs.into();
        let probs = param.value();
        if !(probs > 0.0 && probs <= 1.0) {
            return Err(ParamError::new(FAMILY, "probs", probs, "must be in (0, 1]"));
        }
        Ok(Self::build(
            ProbsOrLogits::Probs(param),
            probs,
            1.0 - probs,
            probs.ln(),
            (-probs).ln_1p(),
        ))
    }

    /// A geometric distribution with success probability `sigmoid(logits)`; `logits` must not be
    /// NaN or `-inf` (`+inf` means `probs = 1`).
    pub fn from_logits(logits: impl Into<Real>) -> Result<Self, ParamError> {
        let param = logits.into();
        let logits = param.value();
        if logits.is_nan() || logits == f64::NEG_INFINITY {
            return Err(ParamError::new(
                FAMILY,
                "logits",
                logits,
                "must not be NaN or -inf",
            ));
        }
        let (log_p, log_q) = (log_sigmoid(logits), log_sigmoid(-logits));
        Ok(Self::build(
            ProbsOrLogits::Logits(param),
            log_p.exp(),
            log_q.exp(),
            log_p,
            log_q,
        ))
    }

    fn build(param: ProbsOrLogits, probs: f64, complement: f64, log_p: f64, log_q: f64) -> Self {
        let sampler = if 1.0 - probs < 1.0 {
            rand_distr::Geometric::new(probs).ok()
        } else {
            None
        };
        Geometric {
            param,
            probs,
            log_p,
            log_q,
            complement,
            sampler,
        }
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

impl Distribution for Geometric {
    type Value = i64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        match self.sampler {
            Some(g) => i64::try_from(rng.sample(g)).unwrap_or(i64::MAX),
            None => {
                // Inversion: floor(ln U / ln(1 - probs)) with U in (0, 1); the cast saturates.
                let u: f64 = rng.sample(Open01);
                (u.ln() / self.log_q).floor() as i64
            }
        }
    }

    #[inline]
    fn log_prob(&self, k: &i64) -> f64 {
        match *k {
            k if k < 0 => f64::NEG_INFINITY,
            // `0 ln 0 = 0`, so that probs = 1 gives exactly 0 at k = 0.
            0 => self.log_p,
            k => k as f64 * self.log_q + self.log_p,
        }
    }

    /// `1 / probs - k / (1 - probs)` with respect to `probs`, `(1 - probs) - k probs` with
    /// respect to `logits`.
    #[inline]
    fn log_prob_partials(&self, k: &i64, partials: &mut Partials<'_>) {
        if self.param.is_constant() {
            return;
        }
        let (p, q) = (self.probs, self.complement);
        self.param.push_partials(1.0, *k as f64, p, q, partials);
    }

    fn support(&self) -> Constraint {
        Constraint::NonNegativeInteger
    }

    fn mean(&self) -> Option<f64> {
        Some(self.complement / self.probs)
    }

    fn variance(&self) -> Option<f64> {
        Some(self.complement / (self.probs * self.probs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Geometric {
        match p.get_real("probs") {
            Some(probs) => Geometric::new(probs).unwrap(),
            None => Geometric::from_logits(p.real("logits")).unwrap(),
        }
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        // rand_distr's two algorithms (probs >= 2/3 and below), and the inversion fallback.
        testing::check_sample_moments(&Geometric::new(0.8).unwrap(), 1);
        testing::check_sample_moments(&Geometric::new(0.05).unwrap(), 2);
        testing::check_sample_moments(&Geometric::new(1e-17).unwrap(), 3);
    }

    #[test]
    fn value_stability() {
        testing::assert_first_draws(&Geometric::new(0.2).unwrap(), 42, &[0, 2, 4]);
        // The inversion path scales `ln U` by 1e17, so the platform's last bit of `ln` shows in
        // the integer: compare to a relative 1e-12, as `assert_first_draws` does for reals.
        let d = Geometric::new(1e-17).unwrap();
        let mut r = testing::rng(42);
        let pinned = [20542011206786844_i64, 114312533655982192, 1623694037923996];
        for p in pinned {
            let k = d.sample(&mut r);
            assert!(
                (k - p).abs() as f64 <= 1e-12 * p as f64,
                "draw {k}, pinned {p}"
            );
        }
    }

    #[test]
    fn edges_and_errors() {
        let d = Geometric::new(0.3).unwrap();
        assert_eq!(d.log_prob(&-1), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MIN), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&0), 0.3_f64.ln());
        assert!(d.log_prob(&i64::MAX).is_finite());
        assert_eq!(d.log_prob_value(&Value::Real(1.5)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Real(f64::NAN)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![1.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(4)), d.log_prob(&4));
        // probs = 1: a point mass at 0.
        let one = Geometric::new(1.0).unwrap();
        assert_eq!(
            (one.log_prob(&0), one.log_prob(&1)),
            (0.0, f64::NEG_INFINITY)
        );
        assert_eq!((one.mean(), one.variance()), (Some(0.0), Some(0.0)));
        let up = Geometric::from_logits(f64::INFINITY).unwrap();
        assert_eq!((up.log_prob(&0), up.log_prob(&1)), (0.0, f64::NEG_INFINITY));
        assert!((d.logits() - (0.3_f64 / 0.7).ln()).abs() < 1e-15);
        // Extreme logits: probs underflows to 0, yet log_prob and sampling stay sound.
        let tiny = Geometric::from_logits(-800.0).unwrap();
        assert_eq!(tiny.log_prob(&0), -800.0);
        assert_eq!(tiny.sample(&mut testing::rng(0)), i64::MAX);
        let e = Geometric::new(0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Geometric: invalid parameter probs = 0 (must be in (0, 1])"
        );
        assert_eq!(Geometric::new(1.5).unwrap_err().param, "probs");
        assert_eq!(Geometric::new(f64::NAN).unwrap_err().param, "probs");
        assert_eq!(
            Geometric::from_logits(f64::NAN).unwrap_err().param,
            "logits"
        );
        assert_eq!(
            Geometric::from_logits(f64::NEG_INFINITY).unwrap_err().param,
            "logits"
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        // (k, probs); the length of probs is the distance to the nearer end of (0, 1].
        for &(k, p) in &[
            (0, 0.3),
            (4, 0.3),
            (2, 0.9),
            (0, 1.0 - 1e-6),
            (3, 1.0 - 1e-6),
            (0, 1e-6),
            (1_000_000, 1e-6),
            (5, 1e-300),
            (i64::MAX, 1e-17),
        ] {
            let at = |v: &[Real]| (Geometric::new(v[0]).unwrap(), k);
            testing::check_log_prob_gradient(at, &[p], &[p.min(1.0 - p)]);
        }
        // (k, logits); logits has no edge (length 1).
        for &(k, l) in &[
            (0, 0.0),
            (3, -1.5),
            (3, 2.0),
            (0, 40.0),
            (2, 40.0),
            (10, -40.0),
            (0, -800.0),
            (1000, -800.0),
            (0, 800.0),
        ] {
            let at = |v: &[Real]| (Geometric::from_logits(v[0]).unwrap(), k);
            testing::check_log_prob_gradient(at, &[l], &[1.0]);
        }
    }

    #[test]
    fn gradients_in_closed_form() {
        let probs = |k: i64| move |v: &[Real]| (Geometric::new(v[0]).unwrap(), k);
        let logits = |k: i64| move |v: &[Real]| (Geometric::from_logits(v[0]).unwrap(), k);
        // 1 / p - k / (1 - p) = 2 - 2k at p = 1/2; (1 - p) - k p = (1 - k) / 2 at logits 0.
        assert_eq!(testing::log_prob_gradient(probs(3), &[0.5]), vec![-4.0]);
        assert_eq!(testing::log_prob_gradient(probs(0), &[0.25]), vec![4.0]);
        assert!((testing::log_prob_gradient(logits(3), &[0.0])[0] + 1.0).abs() < 1e-15);
        // At probs = 1, where k = 0 has probability 1: a one-sided derivative 1.
        assert_eq!(testing::log_prob_gradient(probs(0), &[1.0]), vec![1.0]);
        assert_eq!(
            testing::log_prob_gradient(logits(0), &[f64::INFINITY]),
            vec![0.0]
        );
        assert!(Geometric::new(0.3).unwrap().log_prob_real(&2).is_constant());
    }

    proptest! {
        #[test]
        fn finite_inside_support(probs in 1e-12..=1.0_f64, k in 0..1_000_000_i64) {
            let d = Geometric::new(probs).unwrap();
            let lp = d.log_prob(&k);
            prop_assert!(lp.is_finite() || (probs == 1.0 && k > 0));
        }

        #[test]
        fn invalid_probs_error(probs in prop_oneof![-1e6..=0.0_f64, (1.0 + 1e-12)..1e6_f64]) {
            prop_assert!(Geometric::new(probs).is_err());
        }

        #[test]
        fn pmf_sums_to_one(probs in 0.01..=1.0_f64) {
            // The tail beyond k is (1 - probs)^(k + 1) < 1e-13 for k = 30 / probs.
            let d = Geometric::new(probs).unwrap();
            let top = (30.0 / probs) as i64;
            let total: f64 = (0..=top).map(|k| d.log_prob(&k).exp()).sum();
            prop_assert!((total - 1.0).abs() < 1e-9, "total {}", total);
        }

        #[test]
        fn logits_agree_with_probs(logits in -30.0..2.0_f64, k in 0..1000_i64) {
            let a = Geometric::from_logits(logits).unwrap();
            let b = Geometric::new(a.probs()).unwrap();
            prop_assert!((a.log_prob(&k) - b.log_prob(&k)).abs() < 1e-9 * (1.0 + a.log_prob(&k).abs()));
        }
    }
}
