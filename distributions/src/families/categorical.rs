//! The categorical distribution.

use crate::constraint::Constraint;
use crate::distribution::Distribution;
use crate::error::ParamError;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, RngExt};

/// The categorical distribution over the indices `0, 1, ..., K - 1`, with `P(i) = probs[i]`.
///
/// Built from non-negative weights `probs`, normalised to sum to one as torch does
/// ([`Categorical::new`]), or from unnormalised log-probabilities `logits`
/// ([`Categorical::from_logits`]). The mean and variance are those of the index.
///
/// # Density
/// `P(i) = probs[i] / sum(probs)` for integers `0 <= i < K`.
///
/// # Example
/// ```
/// use pyro_distributions::{Categorical, Distribution};
///
/// let d = Categorical::new(&[1.0, 3.0])?;
/// assert!((d.log_prob(&1) - 0.75_f64.ln()).abs() < 1e-15);
/// assert_eq!(d.log_prob(&2), f64::NEG_INFINITY);
/// assert_eq!(d.probs(), &[0.25, 0.75]);
/// let l = Categorical::from_logits(&[0.0, 0.0, 0.0, 0.0])?;
/// assert!((l.log_prob(&3) + 4.0_f64.ln()).abs() < 1e-15);
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Categorical {
    probs: Vec<f64>,
    /// `ln(probs)`: the normalised logits.
    log_probs: Vec<f64>,
    sampler: WeightedIndex<f64>,
}

const FAMILY: &str = "Categorical";

impl Categorical {
    /// A categorical distribution with probabilities proportional to `probs`: at least one
    /// element, each finite and `>= 0`, with a positive sum.
    pub fn new(probs: &[f64]) -> Result<Self, ParamError> {
        non_empty("probs", probs)?;
        for (i, &p) in probs.iter().enumerate() {
            if !(p.is_finite() && p >= 0.0) {
                return Err(ParamError::new(
                    FAMILY,
                    format!("probs[{i}]"),
                    p,
                    "must be finite and >= 0",
                ));
            }
        }
        // Scale by the largest weight first, so that the sum cannot overflow.
        let max = probs.iter().copied().fold(0.0, f64::max);
        if max == 0.0 {
            return Err(ParamError::new(
                FAMILY,
                "probs",
                format!("{probs:?}"),
                "must have a positive sum",
            ));
        }
        let sum: f64 = probs.iter().map(|p| p / max).sum();
        let probs: Vec<f64> = probs.iter().map(|p| p / max / sum).collect();
        let log_probs = probs.iter().map(|p| p.ln()).collect();
        Self::build(probs, log_probs)
    }

    /// A categorical distribution with `P(i)` proportional to `exp(logits[i])`: at least one
    /// element, none NaN or `+inf`, and at least one finite (`-inf` gives probability 0).
    pub fn from_logits(logits: &[f64]) -> Result<Self, ParamError> {
        non_empty("logits", logits)?;
        for (i, &l) in logits.iter().enumerate() {
            if l.is_nan() || l == f64::INFINITY {
                return Err(ParamError::new(
                    FAMILY,
                    format!("logits[{i}]"),
                    l,
                    "must not be NaN or +inf",
                ));
            }
        }
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return Err(ParamError::new(
                FAMILY,
                "logits",
                "all -inf",
                "must have a finite element",
            ));
        }
        let log_sum = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
        let log_probs: Vec<f64> = logits.iter().map(|l| l - log_sum).collect();
        let probs = log_probs.iter().map(|l| l.exp()).collect();
        Self::build(probs, log_probs)
    }

    fn build(probs: Vec<f64>, log_probs: Vec<f64>) -> Result<Self, ParamError> {
        let sampler = WeightedIndex::new(&probs).map_err(|_| {
            ParamError::new(
                FAMILY,
                "probs",
                format!("{probs:?}"),
                "must have a positive sum",
            )
        })?;
        Ok(Categorical {
            probs,
            log_probs,
            sampler,
        })
    }

    /// The normalised probabilities.
    pub fn probs(&self) -> &[f64] {
        &self.probs
    }

    /// The normalised logits, `ln(probs)` (as torch reports them).
    pub fn logits(&self) -> &[f64] {
        &self.log_probs
    }

    /// The number of categories `K`.
    pub fn num_categories(&self) -> usize {
        self.probs.len()
    }
}

fn non_empty(param: &'static str, v: &[f64]) -> Result<(), ParamError> {
    if v.is_empty() {
        Err(ParamError::new(
            FAMILY,
            param,
            "[]",
            "must have at least 1 element",
        ))
    } else {
        Ok(())
    }
}

impl Distribution for Categorical {
    type Value = i64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        rng.sample(&self.sampler) as i64
    }

    #[inline]
    fn log_prob(&self, k: &i64) -> f64 {
        usize::try_from(*k)
            .ok()
            .and_then(|i| self.log_probs.get(i))
            .copied()
            .unwrap_or(f64::NEG_INFINITY)
    }

    fn support(&self) -> Constraint {
        Constraint::IntegerInterval {
            lower: 0,
            upper: self.probs.len() as i64 - 1,
        }
    }

    fn mean(&self) -> Option<f64> {
        Some(
            self.probs
                .iter()
                .enumerate()
                .map(|(i, p)| i as f64 * p)
                .sum(),
        )
    }

    fn variance(&self) -> Option<f64> {
        let mean = self.mean()?;
        let var = self.probs.iter().enumerate();
        Some(var.map(|(i, p)| p * (i as f64 - mean).powi(2)).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Categorical {
        match p.get_reals("probs") {
            Some(probs) => Categorical::new(&probs).unwrap(),
            None => Categorical::from_logits(&p.get_reals("logits").unwrap()).unwrap(),
        }
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&Categorical::new(&[0.2, 0.5, 0.3]).unwrap(), 1);
        let logits = [1.0, -2.0, 0.5, 3.0, f64::NEG_INFINITY];
        testing::check_sample_moments(&Categorical::from_logits(&logits).unwrap(), 2);
    }

    #[test]
    fn value_stability() {
        testing::assert_first_draws(&Categorical::new(&[0.2, 0.5, 0.3]).unwrap(), 42, &[2, 1, 2]);
    }

    #[test]
    fn edges_and_errors() {
        let d = Categorical::new(&[2.0, 0.0, 6.0]).unwrap();
        assert_eq!(d.probs(), &[0.25, 0.0, 0.75]);
        assert_eq!(d.log_prob(&-1), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&1), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&3), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MIN), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&i64::MAX), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&2), 0.75_f64.ln());
        assert_eq!(d.log_prob_value(&Value::Real(0.5)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob_value(&Value::Real(f64::NAN)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.0])),
            f64::NEG_INFINITY
        );
        assert_eq!(d.log_prob_value(&Value::Int(0)), 0.25_f64.ln());
        assert_eq!(
            d.support(),
            Constraint::IntegerInterval { lower: 0, upper: 2 }
        );
        // A zero-probability category is never drawn.
        let mut r = testing::rng(5);
        assert!((0..10_000).all(|_| d.sample(&mut r) != 1));
        // Huge weights do not overflow the normalisation.
        let big = Categorical::new(&[f64::MAX, f64::MAX]).unwrap();
        assert_eq!(big.probs(), &[0.5, 0.5]);
        // -inf logits are categories of probability 0.
        let masked = Categorical::from_logits(&[f64::NEG_INFINITY, 1.0]).unwrap();
        assert_eq!(masked.log_prob(&0), f64::NEG_INFINITY);
        assert_eq!(masked.log_prob(&1), 0.0);
        assert_eq!(masked.logits(), &[f64::NEG_INFINITY, 0.0]);
        assert_eq!(masked.num_categories(), 2);
        let e = Categorical::new(&[0.5, -0.1]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Categorical: invalid parameter probs[1] = -0.1 (must be finite and >= 0)"
        );
        assert_eq!(
            Categorical::new(&[0.5, f64::NAN]).unwrap_err().param,
            "probs[1]"
        );
        assert_eq!(
            Categorical::new(&[f64::INFINITY]).unwrap_err().param,
            "probs[0]"
        );
        assert_eq!(
            Categorical::new(&[0.0, 0.0]).unwrap_err().to_string(),
            "Categorical: invalid parameter probs = [0.0, 0.0] (must have a positive sum)"
        );
        assert_eq!(Categorical::new(&[]).unwrap_err().param, "probs");
        assert_eq!(Categorical::from_logits(&[]).unwrap_err().param, "logits");
        assert_eq!(
            Categorical::from_logits(&[0.0, f64::NAN])
                .unwrap_err()
                .param,
            "logits[1]"
        );
        assert_eq!(
            Categorical::from_logits(&[f64::INFINITY])
                .unwrap_err()
                .param,
            "logits[0]"
        );
        let all_masked = [f64::NEG_INFINITY, f64::NEG_INFINITY];
        assert_eq!(
            Categorical::from_logits(&all_masked).unwrap_err().param,
            "logits"
        );
    }

    proptest! {
        #[test]
        fn finite_inside_support(probs in prop::collection::vec(1e-100..1e100_f64, 1..20), k in 0..20_i64) {
            let d = Categorical::new(&probs).unwrap();
            let k = k % probs.len() as i64;
            prop_assert!(d.log_prob(&k).is_finite());
        }

        #[test]
        fn invalid_probs_error(
            mut probs in prop::collection::vec(0.0..10.0_f64, 1..10),
            i in 0..10_usize,
            bad in prop_oneof![-1e6..-1e-300_f64, Just(f64::NAN), Just(f64::INFINITY)],
        ) {
            let i = i % probs.len();
            probs[i] = bad;
            let e = Categorical::new(&probs).unwrap_err();
            prop_assert_eq!(e.param, format!("probs[{i}]"));
        }

        #[test]
        fn pmf_sums_to_one(logits in prop::collection::vec(-50.0..50.0_f64, 1..30)) {
            let d = Categorical::from_logits(&logits).unwrap();
            let total: f64 = (0..logits.len() as i64).map(|k| d.log_prob(&k).exp()).sum();
            prop_assert!((total - 1.0).abs() < 1e-9, "total {}", total);
        }
    }
}
