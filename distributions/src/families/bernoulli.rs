//! The Bernoulli distribution, and `ProbsOrLogits`, the success probability of the families
//! that take `probs` or `logits`.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::{self, ParamError};
use crate::memo::Memo;
use crate::special::{log_sigmoid, log_sigmoid_real};
use pyro_tape::Real;
use rand::{Rng, RngExt};

/// The Bernoulli distribution over `{false, true}`, with `P(true) = probs`.
///
/// Built from `probs` ([`Bernoulli::new`]) or from `logits = ln(probs / (1 - probs))`
/// ([`Bernoulli::from_logits`]); both log-probabilities are kept exactly, so extreme logits lose
/// no precision. Built from `probs`, each log-probability is computed when first needed. `log_prob(true)` is exactly `-inf` when `probs = 0` (torch clamps it; we do not).
///
/// The parameter is a [`Real`]: a gradient flows through `log_prob_real` to `probs` or `logits`,
/// whichever the distribution was built from, when it is tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Bernoulli, Distribution};
///
/// let d = Bernoulli::from_logits(-50.0)?;
/// assert!((d.log_prob(&false) + (-50.0_f64).exp()).abs() < 1e-30);
/// assert_eq!(Bernoulli::new(0.0)?.log_prob(&true), f64::NEG_INFINITY);
/// assert!(Bernoulli::new(1.5).is_err());
///
/// // Tracked logits (a logistic regression's): d/dl ln P(true) = 1 - sigmoid(l), 1/2 at l = 0.
/// let (lp, grad) = pyro_tape::gradient(&[0.0], |l| {
///     Ok::<_, Box<dyn std::error::Error>>(Bernoulli::from_logits(l[0])?.log_prob_real(&true))
/// })?;
/// assert!((lp + 2.0_f64.ln()).abs() < 1e-15 && (grad[0] - 0.5).abs() < 1e-15);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Bernoulli {
    /// The parameter as given, through which a gradient flows.
    param: ProbsOrLogits,
    /// The value of `probs`.
    probs: f64,
    /// `ln(probs)`.
    log_p: Memo,
    /// `ln(1 - probs)`.
    log_q: Memo,
}

const FAMILY: &str = "Bernoulli";

/// The success probability of a family built from `probs` or from
/// `logits = ln(probs / (1 - probs))`, as given to its constructor: the input a gradient flows
/// to. Any two compare equal: a distribution compares the values they determine (`probs`,
/// `ln probs`, ...), so that one built from `probs = 0.5` equals one built from `logits = 0`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ProbsOrLogits {
    Probs(Real),
    Logits(Real),
}

impl PartialEq for ProbsOrLogits {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ProbsOrLogits {
    /// Whether the parameter is a constant (no gradient flows to it).
    #[inline]
    pub(crate) fn is_constant(self) -> bool {
        match self {
            ProbsOrLogits::Probs(x) | ProbsOrLogits::Logits(x) => x.is_constant(),
        }
    }

    /// `probs` as a [`Real`]: the parameter itself, or `exp(ln sigmoid(logits))` (the value the
    /// constructor computed, with its derivative).
    pub(crate) fn probs(self) -> Real {
        match self {
            ProbsOrLogits::Probs(p) => p,
            ProbsOrLogits::Logits(l) => log_sigmoid_real(l).exp(),
        }
    }

    /// `logits` as a [`Real`]: the parameter itself, or `ln(probs) - ln(1 - probs)`.
    pub(crate) fn logits(self) -> Real {
        match self {
            ProbsOrLogits::Probs(p) => p.ln() - (-p).ln_1p(),
            ProbsOrLogits::Logits(l) => l,
        }
    }

    /// `1 - probs` to full relative precision, given the value `probs` and `ln(1 - probs)`
    /// (asked for only when built from logits, where `1 - probs` would lose the small tail).
    #[inline]
    pub(crate) fn complement(self, probs: f64, log_q: impl FnOnce() -> f64) -> f64 {
        match self {
            ProbsOrLogits::Probs(_) => 1.0 - probs,
            ProbsOrLogits::Logits(_) => log_q().exp(),
        }
    }

    /// Pushes the derivative of `a ln(probs) + b ln(1 - probs)` with respect to the parameter,
    /// given `p = probs` and `q = 1 - probs` to full relative precision, where a coefficient of
    /// 0 contributes nothing (`0 ln 0 = 0`, as the log-densities take it): `a / p - b / q` with
    /// respect to `probs`, and `a q - b p` with respect to `logits` (`d ln(probs) / d logits = q`,
    /// `d ln(1 - probs) / d logits = -p`).
    #[inline]
    pub(crate) fn push_partials(self, a: f64, b: f64, p: f64, q: f64, partials: &mut Partials<'_>) {
        let (x, d_ln_p, d_ln_q) = match self {
            ProbsOrLogits::Probs(x) => (x, 1.0 / p, -1.0 / q),
            ProbsOrLogits::Logits(x) => (x, q, -p),
        };
        let mut d = 0.0;
        if a != 0.0 {
            d += a * d_ln_p;
        }
        if b != 0.0 {
            d += b * d_ln_q;
        }
        partials.push(x, d);
    }
}

impl Bernoulli {
    /// A Bernoulli distribution with `P(true) = probs`, `probs` in `[0, 1]`.
    pub fn new(probs: impl Into<Real>) -> Result<Self, ParamError> {
        let param = probs.into();
        let probs = error::probability(FAMILY, "probs", param.value())?;
        Ok(Bernoulli {
            param: ProbsOrLogits::Probs(param),
            probs,
            log_p: Memo::new(),
            log_q: Memo::new(),
        })
    }

    /// A Bernoulli distribution with `P(true) = sigmoid(logits)`; `logits` must not be NaN
    /// (`+inf` and `-inf` mean `probs = 1` and `probs = 0`).
    pub fn from_logits(logits: impl Into<Real>) -> Result<Self, ParamError> {
        let param = logits.into();
        let logits = param.value();
        if logits.is_nan() {
            return Err(ParamError::new(FAMILY, "logits", logits, "must not be NaN"));
        }
        let log_p = log_sigmoid(logits);
        Ok(Bernoulli {
            param: ProbsOrLogits::Logits(param),
            probs: log_p.exp(),
            log_p: Memo::known(log_p),
            log_q: Memo::known(log_sigmoid(-logits)),
        })
    }

    /// `P(true)` (computed from `logits`, with its gradient, when built from them).
    pub fn probs(&self) -> Real {
        self.param.probs()
    }

    /// `ln(probs / (1 - probs))` (the parameter itself when built from logits).
    pub fn logits(&self) -> Real {
        self.param.logits()
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

    /// With respect to `probs`: `1 / probs` at `true`, `-1 / (1 - probs)` at `false`; with
    /// respect to `logits`: `1 - probs` and `-probs`.
    #[inline]
    fn log_prob_partials(&self, x: &bool, partials: &mut Partials<'_>) {
        if self.param.is_constant() {
            return;
        }
        let q = self.param.complement(self.probs, || self.log_q());
        let (a, b) = if *x { (1.0, 0.0) } else { (0.0, 1.0) };
        self.param.push_partials(a, b, self.probs, q, partials);
    }

    /// Counts the `true`s: each log-probability is taken once and multiplied by its count.
    fn log_prob_iid(&self, values: &Vec<bool>) -> f64 {
        let (ones, zeros) = count(values);
        // A count of zero adds nothing, even against a log-probability of -inf.
        let term = |count: usize, log_prob: &dyn Fn() -> f64| match count {
            0 => 0.0,
            k => k as f64 * log_prob(),
        };
        term(ones, &|| self.log_p()) + term(zeros, &|| self.log_q())
    }

    /// The partials of the counted form: each count times its log-probability's partial.
    fn log_prob_iid_partials<'a>(&'a self, values: &'a Vec<bool>, partials: &mut Partials<'a>) {
        if self.param.is_constant() {
            return;
        }
        let (ones, zeros) = count(values);
        let q = self.param.complement(self.probs, || self.log_q());
        let (a, b) = (ones as f64, zeros as f64);
        self.param.push_partials(a, b, self.probs, q, partials);
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

/// The numbers of `true`s and `false`s, counted in u32 (which vectorises) in chunks short enough
/// not to overflow.
fn count(values: &[bool]) -> (usize, usize) {
    let ones: usize = values
        .chunks(1 << 31)
        .map(|c| c.iter().map(|&x| u32::from(x)).sum::<u32>() as usize)
        .sum();
    (ones, values.len() - ones)
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
        let xs = vec![true, false, true, true, false];
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
            Bernoulli::new(0.0)
                .unwrap()
                .log_prob_iid(&vec![false, false]),
            0.0
        );
        assert_eq!(Bernoulli::new(1.0).unwrap().log_prob_iid(&vec![true]), 0.0);
        assert_eq!(
            Bernoulli::new(1.0)
                .unwrap()
                .log_prob_iid(&vec![true, false]),
            f64::NEG_INFINITY
        );
        assert_eq!(Bernoulli::new(0.5).unwrap().log_prob_iid(&vec![]), 0.0);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // With respect to probs; its length is the distance to the nearer end of [0, 1].
        for &p in &[0.3, 0.5, 0.9, 1e-6, 1.0 - 1e-6, 1e-300, 0.999_999_999] {
            for x in [true, false] {
                let at = |v: &[Real]| (Bernoulli::new(v[0]).unwrap(), x);
                testing::check_log_prob_gradient(at, &[p], &[p.min(1.0 - p)]);
            }
        }
        // With respect to logits, which has no edge (length 1), out to where probs underflows.
        for &l in &[0.0, -3.0, 2.5, -50.0, 40.0, 700.0, -745.0, -800.0] {
            for x in [true, false] {
                let at = |v: &[Real]| (Bernoulli::from_logits(v[0]).unwrap(), x);
                testing::check_log_prob_gradient(at, &[l], &[1.0]);
            }
        }
    }

    #[test]
    fn gradients_in_closed_form() {
        let probs = |x: bool| move |v: &[Real]| (Bernoulli::new(v[0]).unwrap(), x);
        let logits = |x: bool| move |v: &[Real]| (Bernoulli::from_logits(v[0]).unwrap(), x);
        // d/dp ln p = 1 / p, d/dp ln(1 - p) = -1 / (1 - p).
        assert_eq!(testing::log_prob_gradient(probs(true), &[0.25]), vec![4.0]);
        assert_eq!(
            testing::log_prob_gradient(probs(false), &[0.75]),
            vec![-4.0]
        );
        // At the ends, where the log-probability is finite: one-sided derivatives.
        assert_eq!(testing::log_prob_gradient(probs(false), &[0.0]), vec![-1.0]);
        assert_eq!(testing::log_prob_gradient(probs(true), &[1.0]), vec![1.0]);
        // d/dl ln sigmoid(l) = 1 - sigmoid(l), d/dl ln sigmoid(-l) = -sigmoid(l): 1/2 at 0.
        assert!((testing::log_prob_gradient(logits(true), &[0.0])[0] - 0.5).abs() < 1e-16);
        assert!((testing::log_prob_gradient(logits(false), &[0.0])[0] + 0.5).abs() < 1e-16);
        assert_eq!(
            testing::log_prob_gradient(logits(true), &[f64::INFINITY]),
            vec![0.0]
        );
        assert_eq!(
            testing::log_prob_gradient(logits(false), &[f64::NEG_INFINITY]),
            vec![0.0]
        );
        // Far in the tails the derivative keeps its relative precision.
        let g = testing::log_prob_gradient(logits(true), &[40.0])[0];
        assert!((g / (-40.0_f64).exp() - 1.0).abs() < 1e-15, "{g}");
        // Constant parameters give a constant log-probability.
        assert!(
            Bernoulli::new(0.3)
                .unwrap()
                .log_prob_real(&true)
                .is_constant()
        );
        // The getters carry the gradient: d probs / d logits = probs (1 - probs).
        let (p, g) = pyro_tape::gradient(&[0.0], |v| {
            Ok::<_, pyro_tape::TapeError>(Bernoulli::from_logits(v[0]).unwrap().probs())
        })
        .unwrap();
        assert!((p - 0.5).abs() < 1e-16 && (g[0] - 0.25).abs() < 1e-16);
        let (l, g) = pyro_tape::gradient(&[0.25], |v| {
            Ok::<_, pyro_tape::TapeError>(Bernoulli::new(v[0]).unwrap().logits())
        })
        .unwrap();
        // d/dp ln(p / (1 - p)) = 1 / (p (1 - p)) = 16 / 3.
        assert!((l + 3.0_f64.ln()).abs() < 1e-15 && (g[0] - 16.0 / 3.0).abs() < 1e-14);
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
