//! The categorical distribution.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::ParamError;
use pyro_tape::Real;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, RngExt};

/// The categorical distribution over the indices `0, 1, ..., K - 1`, with `P(i) = probs[i]`.
///
/// Built from non-negative weights `probs`, normalised to sum to one as torch does
/// ([`Categorical::new`]), or from unnormalised log-probabilities `logits`
/// ([`Categorical::from_logits`]). The mean and variance are those of the index.
///
/// The weights or logits may be `f64`s or [`Real`]s: a gradient flows through `log_prob_real` to
/// each that is tracked on the tape. (Only then are they kept: a distribution of constants keeps
/// its normalised probabilities and nothing more.)
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
    /// The parameters as given, when one of them is tracked (a gradient flows to them).
    tracked: Tracked,
}

/// The parameters of a [`Categorical`] as given, kept only when one is tracked on the tape. Any
/// two compare equal: a distribution compares the normalised probabilities they determine.
#[derive(Clone, Debug)]
struct Tracked(Option<Params>);

/// The weights (`new`) or the logits (`from_logits`).
#[derive(Clone, Debug)]
enum Params {
    Probs(Vec<Real>),
    Logits(Vec<Real>),
}

impl PartialEq for Tracked {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Tracked {
    /// `params` as `Real`s if one of them is tracked (`make` says which kind they are), else
    /// nothing. For `f64` parameters every one is a constant, which the compiler sees.
    fn of(params: Vec<Real>, make: fn(Vec<Real>) -> Params) -> Tracked {
        if params.iter().all(|p| p.is_constant()) {
            Tracked(None)
        } else {
            Tracked(Some(make(params)))
        }
    }
}

const FAMILY: &str = "Categorical";

impl Categorical {
    /// A categorical distribution with probabilities proportional to `probs` (`f64`s or
    /// [`Real`]s, as a slice, a `Vec`, or a [`Reals`](crate::Reals) by reference): at least
    /// one element, each finite and `>= 0`, with a positive sum.
    pub fn new<P: Into<Real>>(probs: impl IntoIterator<Item = P>) -> Result<Self, ParamError> {
        let probs: Vec<Real> = probs.into_iter().map(Into::into).collect();
        let value = |p: &Real| p.value();
        non_empty("probs", probs.len())?;
        for (i, p) in probs.iter().map(value).enumerate() {
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
        let max = probs.iter().map(value).fold(0.0, f64::max);
        if max == 0.0 {
            let probs: Vec<f64> = probs.iter().map(value).collect();
            return Err(ParamError::new(
                FAMILY,
                "probs",
                format!("{probs:?}"),
                "must have a positive sum",
            ));
        }
        let weights = probs;
        let sum: f64 = weights.iter().map(|p| value(p) / max).sum();
        let probs: Vec<f64> = weights.iter().map(|p| value(p) / max / sum).collect();
        let log_probs = probs.iter().map(|p| p.ln()).collect();
        Self::build(probs, log_probs, Tracked::of(weights, Params::Probs))
    }

    /// A categorical distribution with `P(i)` proportional to `exp(logits[i])` (`f64`s or
    /// [`Real`]s, as [`new`](Categorical::new) takes them): at least one element, none NaN or
    /// `+inf`, and at least one finite (`-inf` gives probability 0).
    pub fn from_logits<L: Into<Real>>(
        logits: impl IntoIterator<Item = L>,
    ) -> Result<Self, ParamError> {
        let logits: Vec<Real> = logits.into_iter().map(Into::into).collect();
        let value = |l: &Real| l.value();
        non_empty("logits", logits.len())?;
        for (i, l) in logits.iter().map(value).enumerate() {
            if l.is_nan() || l == f64::INFINITY {
                return Err(ParamError::new(
                    FAMILY,
                    format!("logits[{i}]"),
                    l,
                    "must not be NaN or +inf",
                ));
            }
        }
        let max = logits.iter().map(value).fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            return Err(ParamError::new(
                FAMILY,
                "logits",
                "all -inf",
                "must have a finite element",
            ));
        }
        let log_sum = max
            + logits
                .iter()
                .map(|l| (value(l) - max).exp())
                .sum::<f64>()
                .ln();
        let log_probs: Vec<f64> = logits.iter().map(|l| value(l) - log_sum).collect();
        let probs = log_probs.iter().map(|l| l.exp()).collect();
        Self::build(probs, log_probs, Tracked::of(logits, Params::Logits))
    }

    fn build(probs: Vec<f64>, log_probs: Vec<f64>, tracked: Tracked) -> Result<Self, ParamError> {
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
            tracked,
        })
    }

    /// The normalised probabilities (values: the gradient flows through `log_prob_real`).
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

fn non_empty(param: &'static str, len: usize) -> Result<(), ParamError> {
    if len == 0 {
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

    /// With `p` the normalised probabilities: with respect to the weights `w`,
    /// `d/dw_j ln p_k = [j = k] / w_k - 1 / sum(w)`; with respect to the logits,
    /// `[j = k] - p_j`. At `j = k` both use `1 - p_k` as the sum of the other `p_j`, which keeps
    /// its relative precision where `p_k` is near 1.
    fn log_prob_partials(&self, k: &i64, partials: &mut Partials<'_>) {
        let Some(params) = &self.tracked.0 else {
            return;
        };
        // Called only where log_prob is finite: k is an index with p_k > 0.
        let k = *k as usize;
        let others: f64 = (self.probs.iter().enumerate())
            .filter_map(|(j, &p)| (j != k).then_some(p))
            .sum();
        match params {
            Params::Probs(w) => {
                let w_k = w[k].value();
                // 1 / sum(w) = p_k / w_k.
                let inv_total = self.probs[k] / w_k;
                for (j, &w_j) in w.iter().enumerate() {
                    partials.push(w_j, if j == k { others / w_k } else { -inv_total });
                }
            }
            Params::Logits(l) => {
                for (j, (&l_j, &p_j)) in l.iter().zip(&self.probs).enumerate() {
                    partials.push(l_j, if j == k { others } else { -p_j });
                }
            }
        }
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
            None => Categorical::from_logits(p.get_reals("logits").unwrap()).unwrap(),
        }
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&Categorical::new([0.2, 0.5, 0.3]).unwrap(), 1);
        let logits = [1.0, -2.0, 0.5, 3.0, f64::NEG_INFINITY];
        testing::check_sample_moments(&Categorical::from_logits(logits).unwrap(), 2);
    }

    #[test]
    fn value_stability() {
        testing::assert_first_draws(&Categorical::new([0.2, 0.5, 0.3]).unwrap(), 42, &[2, 1, 2]);
    }

    #[test]
    fn edges_and_errors() {
        let d = Categorical::new([2.0, 0.0, 6.0]).unwrap();
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
        let big = Categorical::new([f64::MAX, f64::MAX]).unwrap();
        assert_eq!(big.probs(), &[0.5, 0.5]);
        // -inf logits are categories of probability 0.
        let masked = Categorical::from_logits([f64::NEG_INFINITY, 1.0]).unwrap();
        assert_eq!(masked.log_prob(&0), f64::NEG_INFINITY);
        assert_eq!(masked.log_prob(&1), 0.0);
        assert_eq!(masked.logits(), &[f64::NEG_INFINITY, 0.0]);
        assert_eq!(masked.num_categories(), 2);
        let e = Categorical::new([0.5, -0.1]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Categorical: invalid parameter probs[1] = -0.1 (must be finite and >= 0)"
        );
        assert_eq!(
            Categorical::new([0.5, f64::NAN]).unwrap_err().param,
            "probs[1]"
        );
        assert_eq!(
            Categorical::new([f64::INFINITY]).unwrap_err().param,
            "probs[0]"
        );
        assert_eq!(
            Categorical::new([0.0, 0.0]).unwrap_err().to_string(),
            "Categorical: invalid parameter probs = [0.0, 0.0] (must have a positive sum)"
        );
        assert_eq!(
            Categorical::new(Vec::<f64>::new()).unwrap_err().param,
            "probs"
        );
        assert_eq!(
            Categorical::from_logits(Vec::<f64>::new())
                .unwrap_err()
                .param,
            "logits"
        );
        assert_eq!(
            Categorical::from_logits([0.0, f64::NAN]).unwrap_err().param,
            "logits[1]"
        );
        assert_eq!(
            Categorical::from_logits([f64::INFINITY]).unwrap_err().param,
            "logits[0]"
        );
        let all_masked = [f64::NEG_INFINITY, f64::NEG_INFINITY];
        assert_eq!(
            Categorical::from_logits(all_masked).unwrap_err().param,
            "logits"
        );
    }

    /// The gradient of `log_prob_real` with respect to all the parameters at `point`.
    fn gradient_at(logits: bool, point: &[f64], k: i64) -> Vec<f64> {
        let (_, g) = pyro_tape::gradient(point, |v| {
            Ok::<_, pyro_tape::TapeError>(build_real(logits, v).log_prob_real(&k))
        })
        .unwrap();
        g
    }

    fn build_real(logits: bool, v: &[Real]) -> Categorical {
        if logits {
            Categorical::from_logits(v).unwrap()
        } else {
            Categorical::new(v).unwrap()
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Weights: the length of each is its distance to 0.
        let weights: &[&[f64]] = &[
            &[1.0, 3.0],
            &[0.2, 0.5, 0.3],
            &[5.0, 5.0, 5.0, 5.0],
            &[1e-100, 1.0, 1e100],
            &[1e-6, 2.0, 1e6],
            &[7.0],
        ];
        let mut points = 0;
        for w in weights {
            for k in 0..w.len() as i64 {
                let at = |v: &[Real]| (Categorical::new(v).unwrap(), k);
                testing::check_log_prob_gradient(at, w, w);
                points += 1;
            }
        }
        // Logits, which have no edge (length 1).
        let logits: &[&[f64]] = &[
            &[0.0, 0.0],
            &[1.0, -2.0, 0.5, 3.0],
            &[-40.0, 40.0, 0.0],
            &[700.0, -700.0, 0.0],
            &[1e3, 1e3 + 1.0],
        ];
        for l in logits {
            for k in 0..l.len() as i64 {
                let at = |v: &[Real]| (Categorical::from_logits(v).unwrap(), k);
                testing::check_log_prob_gradient(at, l, &vec![1.0; l.len()]);
                points += 1;
            }
        }
        assert_eq!(points, 30);
    }

    #[test]
    fn gradients_in_closed_form() {
        // ln(w_1 / (w_0 + w_1)): d/dw_0 = -1/4, d/dw_1 = 1/3 - 1/4 at w = (1, 3).
        let g = gradient_at(false, &[1.0, 3.0], 1);
        assert!(
            (g[0] + 0.25).abs() < 1e-16 && (g[1] - 1.0 / 12.0).abs() < 1e-16,
            "{g:?}"
        );
        // [j = k] - p_j with respect to the logits.
        assert_eq!(gradient_at(true, &[0.0, 0.0], 0), vec![0.5, -0.5]);
        let g = gradient_at(true, &[2.0_f64.ln(), 0.0, 0.0], 0);
        assert!(
            (g[0] - 0.5).abs() < 1e-15 && (g[1] + 0.25).abs() < 1e-15,
            "{g:?}"
        );
        // A zero weight and a -inf logit: the other categories' partials are unchanged.
        assert_eq!(
            gradient_at(false, &[0.0, 2.0, 2.0], 1),
            vec![-0.25, 0.25, -0.25]
        );
        assert_eq!(
            gradient_at(true, &[f64::NEG_INFINITY, 0.0, 0.0], 2),
            vec![0.0, -0.5, 0.5]
        );
        // Mixed constant and tracked parameters; constants alone keep nothing and record
        // nothing.
        let (_, g) = pyro_tape::gradient(&[3.0], |v| {
            let d = Categorical::new([Real::from(1.0), v[0]]).unwrap();
            Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&0))
        })
        .unwrap();
        assert_eq!(g, vec![-0.25]);
        let d = Categorical::new([1.0, 3.0]).unwrap();
        assert!(d.tracked.0.is_none() && d.log_prob_real(&1).is_constant());
        assert_eq!(
            d,
            Categorical::new([Real::from(1.0), Real::from(3.0)]).unwrap()
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
