//! [`EmpiricalMarginal`]: a weighted empirical distribution of one or more sites.

use crate::error::InferError;
use pyro_poutine::distributions::Value;
use pyro_poutine::{Name, SiteNames, Trace};
use rand::{Rng, RngExt};

/// A weighted empirical distribution: one sample (a vector of `dim` reals) and one normalised
/// weight per particle, as an importance sampler leaves them (Pyro's `EmpiricalMarginal`).
///
/// Samples are stored flattened, row-major (`len * dim` reals). Integers and booleans are read as
/// reals (`true` is 1). The log-weights are normalised in log space, so weights far below or
/// above 1 in linear scale do not under- or overflow; particles of log-weight `-inf` keep weight
/// 0, are ignored by [`quantile`](Self::quantile) and are never drawn by the resamplers.
///
/// ```
/// use pyro_infer::EmpiricalMarginal;
/// use pyro_infer::poutine::distributions::Value;
///
/// // Three particles with weights 1/4, 1/2, 1/4.
/// let samples = vec![Value::Real(1.0), Value::Real(2.0), Value::Real(4.0)];
/// let log_weights = vec![0.0, 2f64.ln(), 0.0];
/// let marginal = EmpiricalMarginal::new(samples, log_weights)?;
/// assert!((marginal.mean()[0] - 2.25).abs() < 1e-12);
/// assert!((marginal.variance()[0] - 1.1875).abs() < 1e-12);
/// assert_eq!(marginal.quantile(0.5)?, vec![2.0]);
/// assert!((marginal.ess() - 8.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug)]
pub struct EmpiricalMarginal {
    /// `len * dim` reals, one row per particle.
    samples: Vec<f64>,
    dim: usize,
    /// Normalised log-weights (their logsumexp is 0).
    log_weights: Vec<f64>,
    /// `exp(log_weights)`.
    weights: Vec<f64>,
    /// The sum of `weights` taken in index order (1 up to rounding): the resamplers scale their
    /// points by it, so that the last cumulative weight they reach equals it exactly.
    weight_sum: f64,
    /// The index of the last particle of positive weight.
    last_positive: usize,
}

/// Appends the elements of `value` to `flat` as reals.
fn append(flat: &mut Vec<f64>, value: &Value) {
    match value {
        Value::Real(x) => flat.push(*x),
        Value::Int(k) => flat.push(*k as f64),
        Value::Bool(b) => flat.push(f64::from(u8::from(*b))),
        Value::Reals(v) => flat.extend_from_slice(v),
        Value::Ints(v) => flat.extend(v.iter().map(|&k| k as f64)),
        Value::Bools(v) => flat.extend(v.iter().map(|&b| f64::from(u8::from(b)))),
    }
}

/// Appends `value`, the value of `site` for particle `index`, to `flat`, checking that it has
/// `expected` elements and no NaN.
fn append_checked(
    flat: &mut Vec<f64>,
    value: &Value,
    expected: usize,
    site: &Name,
    index: usize,
) -> Result<(), InferError> {
    if value.len() != expected {
        return Err(InferError::BadValue {
            site: site.clone(),
            reason: format!(
                "particle {index}'s value has {} elements but particle 0's has {expected}",
                value.len()
            ),
        });
    }
    let start = flat.len();
    append(flat, value);
    if let Some(j) = flat[start..].iter().position(|x| x.is_nan()) {
        return Err(InferError::BadValue {
            site: site.clone(),
            reason: format!("element {j} of particle {index}'s value is NaN"),
        });
    }
    Ok(())
}

/// Checks that there are as many log-weights as particles, and at least one particle.
fn check_counts(particles: usize, log_weights: &[f64]) -> Result<(), InferError> {
    if particles != log_weights.len() {
        return Err(InferError::InvalidArgument {
            name: "log_weights",
            reason: format!(
                "{} log-weights given for {particles} particles",
                log_weights.len()
            ),
        });
    }
    if particles == 0 {
        return Err(InferError::Empty);
    }
    Ok(())
}

impl EmpiricalMarginal {
    /// A marginal from one sample and one unnormalised log-weight per particle.
    ///
    /// Each sample is a scalar or a vector; all must have the same number of elements `dim`.
    ///
    /// # Errors
    /// - [`InferError::InvalidArgument`] (`log_weights`) when there are not as many log-weights as
    ///   samples, when a log-weight is NaN while others are not, or when one is `+inf`;
    /// - [`InferError::Empty`] when there are no samples;
    /// - [`InferError::ZeroWeights`] when every log-weight is `-inf` or NaN;
    /// - [`InferError::BadValue`] (site `_samples`) when a sample has another number of elements
    ///   than the first, or contains NaN, naming the particle.
    ///
    /// ```
    /// use pyro_infer::{EmpiricalMarginal, InferError};
    /// use pyro_infer::poutine::distributions::Value;
    ///
    /// let m = EmpiricalMarginal::new(vec![Value::Reals(vec![1.0, 2.0])], vec![-3.0])?;
    /// assert_eq!((m.len(), m.dim()), (1, 2));
    /// assert_eq!(m.weights(), &[1.0]);
    ///
    /// let ragged = vec![Value::Reals(vec![1.0, 2.0]), Value::Real(3.0)];
    /// let err = EmpiricalMarginal::new(ragged, vec![0.0, 0.0]).unwrap_err();
    /// assert!(matches!(err, InferError::BadValue { .. }));
    /// # Ok::<(), InferError>(())
    /// ```
    pub fn new(samples: Vec<Value>, log_weights: Vec<f64>) -> Result<Self, InferError> {
        check_counts(samples.len(), &log_weights)?;
        let dim = samples[0].len();
        let site = Name::new("_samples");
        let mut flat = Vec::with_capacity(samples.len() * dim);
        for (index, value) in samples.iter().enumerate() {
            append_checked(&mut flat, value, dim, &site, index)?;
        }
        Self::from_flat(flat, dim, log_weights)
    }

    /// A marginal of the values of `sites` in `traces` (one trace per particle), concatenated per
    /// particle in the order of `sites`, with one unnormalised log-weight per trace.
    ///
    /// Any site with a value can be used (latent, observed, deterministic or param). Each site
    /// must have the same number of elements in every trace.
    ///
    /// # Errors
    /// As [`new`](Self::new), with the site's own name in [`InferError::BadValue`]; also
    /// [`InferError::InvalidArgument`] (`sites`) when `sites` is empty, and
    /// [`InferError::MissingSite`] naming the site and the particle when a trace lacks a site or
    /// its value.
    ///
    /// ```
    /// use pyro_infer::EmpiricalMarginal;
    /// use pyro_infer::poutine::{Name, PyroError, TraceMessenger, deterministic};
    ///
    /// let traces = [1.0, 3.0]
    ///     .into_iter()
    ///     .map(|x| {
    ///         TraceMessenger::record(|| {
    ///             deterministic("x", x)?;
    ///             deterministic("y", vec![10.0 * x, 20.0 * x])
    ///         })
    ///         .map(|(_, tr)| tr)
    ///     })
    ///     .collect::<Result<Vec<_>, PyroError>>()?;
    /// let sites = [Name::new("y"), Name::new("x")];
    /// let m = EmpiricalMarginal::from_sites(&traces, &sites, vec![0.0, 0.0]).unwrap();
    /// assert_eq!(m.sample(1), &[30.0, 60.0, 3.0]);
    /// assert_eq!(m.mean(), vec![20.0, 40.0, 2.0]);
    /// # Ok::<(), PyroError>(())
    /// ```
    pub fn from_sites(
        traces: &[Trace],
        sites: impl SiteNames,
        log_weights: Vec<f64>,
    ) -> Result<Self, InferError> {
        let sites = &sites.into_names()[..];
        check_counts(traces.len(), &log_weights)?;
        // A name no trace has is a misspelling, not a site some particles lack.
        if let Some(site) = sites
            .iter()
            .find(|s| traces.iter().all(|t| !t.contains(*s)))
        {
            return Err(InferError::UnknownSite {
                site: site.clone(),
                known: traces[0].iter().map(|s| s.name.clone()).collect(),
            });
        }
        if sites.is_empty() {
            return Err(InferError::InvalidArgument {
                name: "sites",
                reason: "no sites given".to_string(),
            });
        }
        let value = |index: usize, site: &Name| {
            traces[index]
                .get(site.clone())
                .and_then(|s| s.value.as_ref())
                .ok_or_else(|| InferError::MissingSite {
                    site: site.clone(),
                    index,
                })
        };
        // The number of elements of each site, from the first particle.
        let lens = sites
            .iter()
            .map(|site| value(0, site).map(Value::len))
            .collect::<Result<Vec<_>, _>>()?;
        let dim = lens.iter().sum();
        let mut flat = Vec::with_capacity(traces.len() * dim);
        for index in 0..traces.len() {
            for (site, &len) in sites.iter().zip(&lens) {
                append_checked(&mut flat, value(index, site)?, len, site, index)?;
            }
        }
        Self::from_flat(flat, dim, log_weights)
    }

    /// Normalises the log-weights of checked, flattened samples.
    fn from_flat(
        samples: Vec<f64>,
        dim: usize,
        mut log_weights: Vec<f64>,
    ) -> Result<Self, InferError> {
        let bad = |reason: String| InferError::InvalidArgument {
            name: "log_weights",
            reason,
        };
        if log_weights
            .iter()
            .all(|w| w.is_nan() || *w == f64::NEG_INFINITY)
        {
            return Err(InferError::ZeroWeights {
                particle: None,
                sites: Vec::new(),
            });
        }
        if let Some(i) = log_weights.iter().position(|w| w.is_nan()) {
            return Err(bad(format!("the log-weight of particle {i} is NaN")));
        }
        if let Some(i) = log_weights.iter().position(|w| *w == f64::INFINITY) {
            return Err(bad(format!(
                "the log-weight of particle {i} is +inf; log-weights must be finite or -inf"
            )));
        }
        // logsumexp, shifted by the (finite) maximum so that no term overflows.
        let max = log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let log_total = max
            + log_weights
                .iter()
                .map(|w| (w - max).exp())
                .sum::<f64>()
                .ln();
        let mut weights = Vec::with_capacity(log_weights.len());
        for w in &mut log_weights {
            *w -= log_total;
            weights.push(w.exp());
        }
        // The largest log-weight is at least -ln(len) after normalisation, so its weight is
        // positive and a positive weight exists.
        let last_positive = weights.iter().rposition(|&w| w > 0.0).unwrap_or(0);
        let weight_sum = weights.iter().fold(0.0, |acc, w| acc + w);
        Ok(EmpiricalMarginal {
            samples,
            dim,
            log_weights,
            weights,
            weight_sum,
            last_positive,
        })
    }

    /// The number of particles (at least 1).
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Always `false`: a marginal has at least one particle.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// The number of reals per sample.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The normalised weights, one per particle (they sum to 1 up to rounding).
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The normalised log-weights, one per particle (their logsumexp is 0 up to rounding).
    pub fn log_weights(&self) -> &[f64] {
        &self.log_weights
    }

    /// The sample of particle `i`: `dim` reals.
    ///
    /// # Panics
    /// When `i >= len()`, as slice indexing does.
    pub fn sample(&self, i: usize) -> &[f64] {
        &self.samples[i * self.dim..(i + 1) * self.dim]
    }

    /// All samples, flattened row-major: `len() * dim()` reals, particle `i` at
    /// `i * dim()..(i + 1) * dim()`.
    pub fn samples(&self) -> &[f64] {
        &self.samples
    }

    /// The rows with their weights.
    fn weighted_rows(&self) -> impl Iterator<Item = (&[f64], f64)> {
        (0..self.len()).map(|i| (self.sample(i), self.weights[i]))
    }

    /// The rows of positive weight with their weights (a row of weight 0 adds nothing, and an
    /// infinite value in it must not add NaN).
    fn positive_rows(&self) -> impl Iterator<Item = (&[f64], f64)> {
        self.weighted_rows().filter(|&(_, w)| w > 0.0)
    }

    /// The weighted mean of each coordinate, `sum_i w_i x_i` over the particles of positive
    /// weight.
    ///
    /// A coordinate that is `+inf` (`-inf`) in a particle of positive weight has mean `+inf`
    /// (`-inf`); one that is `+inf` in such a particle and `-inf` in another has no mean, and
    /// gets NaN.
    pub fn mean(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.dim];
        for (row, w) in self.positive_rows() {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += w * x;
            }
        }
        mean.iter_mut().for_each(|m| *m /= self.weight_sum);
        mean
    }

    /// The weighted variance of each coordinate in population form, `sum_i w_i (x_i - m)^2`
    /// with `m` the weighted mean, over the particles of positive weight.
    ///
    /// A coordinate that is infinite in a particle of positive weight has variance `+inf` (never
    /// NaN).
    ///
    /// ```
    /// use pyro_infer::EmpiricalMarginal;
    /// use pyro_infer::poutine::distributions::Value;
    ///
    /// let samples = vec![Value::Real(1.0), Value::Real(f64::INFINITY)];
    /// let m = EmpiricalMarginal::new(samples, vec![0.0, 0.0])?;
    /// assert_eq!((m.mean()[0], m.variance()[0]), (f64::INFINITY, f64::INFINITY));
    /// # Ok::<(), pyro_infer::InferError>(())
    /// ```
    pub fn variance(&self) -> Vec<f64> {
        let mean = self.mean();
        let mut var = vec![0.0; self.dim];
        for (row, w) in self.positive_rows() {
            for ((v, x), m) in var.iter_mut().zip(row).zip(&mean) {
                *v += w * (x - m) * (x - m);
            }
        }
        for (v, m) in var.iter_mut().zip(&mean) {
            // The mean of finite values of positive weight is finite (up to rounding at the
            // largest floats, where the spread is infinite too).
            *v = if m.is_finite() {
                *v / self.weight_sum
            } else {
                f64::INFINITY
            };
        }
        var
    }

    /// The weighted `q`-quantile of each coordinate: the inverse of the weighted empirical cdf,
    /// i.e. the smallest sample value (among particles of positive weight) whose cumulative
    /// normalised weight is at least `q`. `quantile(0.0)` is the smallest such value and
    /// `quantile(1.0)` the largest.
    ///
    /// Costs `O(dim * len * log(len))` time and one buffer of `len` pairs.
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`q`) when `q` is outside `[0, 1]` or NaN.
    pub fn quantile(&self, q: f64) -> Result<Vec<f64>, InferError> {
        if !(0.0..=1.0).contains(&q) {
            return Err(InferError::InvalidArgument {
                name: "q",
                reason: format!("the quantile level must lie in [0, 1], got {q}"),
            });
        }
        // (value, weight) of the particles of positive weight, for one coordinate at a time.
        let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(self.len());
        let mut quantiles = Vec::with_capacity(self.dim);
        for j in 0..self.dim {
            pairs.clear();
            pairs.extend(
                self.weighted_rows()
                    .filter(|&(_, w)| w > 0.0)
                    .map(|(row, w)| (row[j], w)),
            );
            pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            // The cumulative sum below adds the same terms in the same order, so it reaches
            // `total` exactly and `q = 1` always finds a value.
            let total = pairs.iter().fold(0.0, |acc, p| acc + p.1);
            let target = q * total;
            let mut cumulative = 0.0;
            let found = pairs.iter().find(|p| {
                cumulative += p.1;
                cumulative >= target
            });
            // `pairs` is never empty (some weight is positive); the fallback is for safety only.
            quantiles.push(found.or(pairs.last()).map_or(f64::NAN, |p| p.0));
        }
        Ok(quantiles)
    }

    /// The effective sample size `1 / sum_i w_i^2`: between 1 (one particle carries all the
    /// weight) and `len()` (equal weights).
    pub fn ess(&self) -> f64 {
        1.0 / self.weights.iter().map(|w| w * w).sum::<f64>()
    }

    /// Draws `n` particle indices i.i.d. with probabilities given by the weights (multinomial
    /// resampling). The indices are returned in increasing order (shuffle them if the order
    /// matters); particles of weight 0 are never drawn.
    ///
    /// Costs `O(n + len)`: the `n` sorted uniforms are generated directly in increasing order
    /// (from the recursion for uniform order statistics, `U_(k) = U_(k+1) V_k^(1/k)`) and
    /// matched against the cumulative weights in one pass. The result is deterministic for a
    /// seeded `rng`, which is advanced by `n` draws.
    ///
    /// ```
    /// use pyro_infer::EmpiricalMarginal;
    /// use pyro_infer::poutine::PyroRng;
    /// use pyro_infer::poutine::distributions::Value;
    /// use rand::SeedableRng;
    ///
    /// let samples = vec![Value::Real(0.0), Value::Real(1.0), Value::Real(2.0)];
    /// let m = EmpiricalMarginal::new(samples, vec![0.0, f64::NEG_INFINITY, 0.0])?;
    /// let mut rng = PyroRng::seed_from_u64(7);
    /// let indices = m.resample_multinomial(100, &mut rng);
    /// assert_eq!(indices.len(), 100);
    /// assert!(indices.iter().all(|&i| i != 1));
    /// # Ok::<(), pyro_infer::InferError>(())
    /// ```
    pub fn resample_multinomial(&self, n: usize, rng: &mut impl Rng) -> Vec<usize> {
        // With V_k i.i.d. uniform, D_n = V_n^(1/n) and D_k = D_(k+1) V_k^(1/k) are the order
        // statistics of n uniforms, largest first; 1 - D_k are therefore increasing. The product
        // is accumulated in log space, and 1 - V lies in (0, 1] so its logarithm is finite.
        let mut log_d = 0.0_f64;
        let points = (1..=n).rev().map(|k| {
            let v = 1.0 - rng.random::<f64>();
            log_d += v.ln() / k as f64;
            -log_d.exp_m1()
        });
        self.select(n, points)
    }

    /// Draws `n` particle indices by systematic resampling: one uniform `u` in `[0, 1/n)` and
    /// the points `u + k/n`, `k = 0..n`, matched against the cumulative weights. Particle `i` is
    /// drawn `floor(n w_i)` or `ceil(n w_i)` times, each index in expectation `n w_i` times;
    /// indices come in increasing order and particles of weight 0 are never drawn.
    ///
    /// Costs `O(n + len)`; deterministic for a seeded `rng`, which is advanced by one draw.
    ///
    /// ```
    /// use pyro_infer::EmpiricalMarginal;
    /// use pyro_infer::poutine::PyroRng;
    /// use pyro_infer::poutine::distributions::Value;
    /// use rand::SeedableRng;
    ///
    /// let samples = vec![Value::Real(0.0), Value::Real(1.0)];
    /// let m = EmpiricalMarginal::new(samples, vec![3f64.ln(), 0.0])?; // weights 3/4, 1/4
    /// let indices = m.resample_systematic(8, &mut PyroRng::seed_from_u64(1));
    /// assert_eq!(indices, vec![0, 0, 0, 0, 0, 0, 1, 1]);
    /// # Ok::<(), pyro_infer::InferError>(())
    /// ```
    pub fn resample_systematic(&self, n: usize, rng: &mut impl Rng) -> Vec<usize> {
        let u = rng.random::<f64>();
        let n_real = n as f64;
        self.select(n, (0..n).map(|k| (u + k as f64) / n_real))
    }

    /// The particle of each point of `points`, `n` nondecreasing reals in `[0, 1]`: the index
    /// `i` with `c_(i-1) <= point < c_i`, `c` the cumulative weights (scaled to end at 1);
    /// a point at the very top (rounding) goes to the last particle of positive weight.
    fn select(&self, n: usize, points: impl Iterator<Item = f64>) -> Vec<usize> {
        let mut indices = Vec::with_capacity(n);
        let mut i = 0;
        let mut cumulative = self.weights[0];
        for point in points {
            let x = point * self.weight_sum;
            while cumulative <= x && i < self.last_positive {
                i += 1;
                cumulative += self.weights[i];
            }
            indices.push(i);
        }
        indices
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use pyro_poutine::{PyroRng, TraceMessenger, deterministic};
    use rand::SeedableRng;

    fn reals(xs: &[f64]) -> Vec<Value> {
        xs.iter().map(|&x| Value::Real(x)).collect()
    }

    fn log(ws: &[f64]) -> Vec<f64> {
        ws.iter().map(|w| w.ln()).collect()
    }

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    fn counts(indices: &[usize], len: usize) -> Vec<usize> {
        let mut c = vec![0; len];
        indices.iter().for_each(|&i| c[i] += 1);
        c
    }

    /// Particles (unsorted) 4, 1, 2 with weights 1/4, 1/4, 1/2 (unnormalised 1, 1, 2), as
    /// scalars of three types and as the first coordinate of vectors whose second is 10x.
    fn example() -> (Vec<Value>, Vec<Value>, Vec<f64>) {
        let scalars = vec![Value::Int(4), Value::Real(1.0), Value::Real(2.0)];
        let vectors = vec![
            Value::Ints(vec![4, 40]),
            Value::Reals(vec![1.0, 10.0]),
            Value::Reals(vec![2.0, 20.0]),
        ];
        (scalars, vectors, log(&[1.0, 1.0, 2.0]))
    }

    #[test]
    fn weighted_summaries_match_hand_computed_values() {
        let (scalars, vectors, lw) = example();
        // mean = 4/4 + 1/4 + 2/2 = 2.25;
        // variance = (1.75^2 + 1.25^2) / 4 + 0.25^2 / 2 = (3.0625 + 1.5625) / 4 + 0.03125 = 1.1875.
        // Sorted: 1 (cdf 1/4), 2 (cdf 3/4), 4 (cdf 1).
        let m = EmpiricalMarginal::new(scalars, lw.clone()).unwrap();
        assert_eq!((m.len(), m.dim()), (3, 1));
        assert!(close(m.weights(), &[0.25, 0.25, 0.5], 1e-15));
        assert!(close(m.log_weights(), &log(&[0.25, 0.25, 0.5]), 1e-15));
        assert!(close(&m.mean(), &[2.25], 1e-14));
        assert!(close(&m.variance(), &[1.1875], 1e-14));
        // ESS = 1 / (1/16 + 1/16 + 1/4) = 8/3.
        assert!((m.ess() - 8.0 / 3.0).abs() < 1e-14);
        for (q, x) in [
            (0.0, 1.0),
            (0.2, 1.0),
            (0.3, 2.0),
            (0.7, 2.0),
            (0.8, 4.0),
            (1.0, 4.0),
        ] {
            assert_eq!(m.quantile(q).unwrap(), vec![x], "q = {q}");
        }

        let v = EmpiricalMarginal::new(vectors, lw).unwrap();
        assert_eq!(v.dim(), 2);
        assert_eq!(v.sample(0), &[4.0, 40.0]);
        assert_eq!(v.samples(), &[4.0, 40.0, 1.0, 10.0, 2.0, 20.0]);
        assert!(close(&v.mean(), &[2.25, 22.5], 1e-13));
        assert!(close(&v.variance(), &[1.1875, 118.75], 1e-12));
        assert_eq!(v.quantile(0.3).unwrap(), vec![2.0, 20.0]);
    }

    #[test]
    fn an_infinite_sample_has_infinite_variance_never_nan() {
        let inf = f64::INFINITY;
        // One +inf sample of positive weight: mean +inf, variance +inf.
        let m = EmpiricalMarginal::new(reals(&[1.0, inf, 2.0]), log(&[1.0, 1.0, 2.0])).unwrap();
        assert_eq!((m.mean(), m.variance()), (vec![inf], vec![inf]));
        let m = EmpiricalMarginal::new(reals(&[-inf, 2.0]), log(&[1.0, 1.0])).unwrap();
        assert_eq!((m.mean(), m.variance()), (vec![-inf], vec![inf]));
        // Both signs: the mean is undefined (NaN, as documented); the variance is still +inf.
        let m = EmpiricalMarginal::new(reals(&[-inf, inf]), log(&[1.0, 1.0])).unwrap();
        assert!(m.mean()[0].is_nan());
        assert_eq!(m.variance(), vec![inf]);
        // Only the coordinate with the infinity is affected.
        let vectors = vec![Value::Reals(vec![inf, 1.0]), Value::Reals(vec![0.0, 3.0])];
        let m = EmpiricalMarginal::new(vectors, log(&[1.0, 1.0])).unwrap();
        assert_eq!((m.mean(), m.variance()), (vec![inf, 2.0], vec![inf, 1.0]));
        // An infinite sample of weight 0 counts for nothing.
        let with = EmpiricalMarginal::new(
            reals(&[1.0, inf, 2.0]),
            vec![0.0, f64::NEG_INFINITY, 2f64.ln()],
        )
        .unwrap();
        let without = EmpiricalMarginal::new(reals(&[1.0, 2.0]), log(&[1.0, 2.0])).unwrap();
        assert_eq!(with.mean(), without.mean());
        assert_eq!(with.variance(), without.variance());
        assert!(with.variance()[0].is_finite());
    }

    #[test]
    fn booleans_read_as_zero_and_one() {
        let samples = vec![
            Value::Bool(true),
            Value::Bool(false),
            Value::Bools(vec![true]),
        ];
        let m = EmpiricalMarginal::new(samples, log(&[1.0, 2.0, 1.0])).unwrap();
        // P(true) = 1/4 + 1/4; variance p (1 - p) = 1/4.
        assert!(close(&m.mean(), &[0.5], 1e-15));
        assert!(close(&m.variance(), &[0.25], 1e-15));
    }

    #[test]
    fn equal_weights_give_the_plain_mean_and_population_variance() {
        let xs = [3.0, -1.0, 7.5, 0.25, 2.0];
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        // The common log-weight is irrelevant, however large.
        for lw in [0.0, -800.0, 800.0] {
            let m = EmpiricalMarginal::new(reals(&xs), vec![lw; xs.len()]).unwrap();
            assert!(close(&m.mean(), &[mean], 1e-14));
            assert!(close(&m.variance(), &[var], 1e-13));
            assert!((m.ess() - n).abs() < 1e-12);
            // Median of 5 equal weights: the third smallest, 2.0.
            assert_eq!(m.quantile(0.5).unwrap(), vec![2.0]);
        }
    }

    #[test]
    fn zero_weight_particles_are_ignored() {
        let lw = vec![
            f64::NEG_INFINITY,
            0.0,
            f64::NEG_INFINITY,
            0.0,
            f64::NEG_INFINITY,
        ];
        let m = EmpiricalMarginal::new(reals(&[-100.0, 1.0, 50.0, 3.0, 100.0]), lw).unwrap();
        assert!(close(&m.mean(), &[2.0], 1e-15));
        assert_eq!(m.quantile(0.0).unwrap(), vec![1.0]);
        assert_eq!(m.quantile(1.0).unwrap(), vec![3.0]);
        let mut rng = PyroRng::seed_from_u64(3);
        for indices in [
            m.resample_multinomial(1000, &mut rng),
            m.resample_systematic(1000, &mut rng),
        ] {
            assert!(indices.iter().all(|&i| i == 1 || i == 3));
        }
    }

    #[test]
    fn sites_are_concatenated_per_particle() {
        let record = |x: f64, k: i64| {
            TraceMessenger::record(|| {
                deterministic("x", x)?;
                deterministic("k", vec![k, -k])
            })
            .unwrap()
            .1
        };
        let traces = [record(1.0, 2), record(5.0, 4)];
        let sites = [Name::new("k"), Name::new("x")];
        let m = EmpiricalMarginal::from_sites(&traces, &sites, log(&[3.0, 1.0])).unwrap();
        assert_eq!(m.dim(), 3);
        assert_eq!(m.sample(0), &[2.0, -2.0, 1.0]);
        assert_eq!(m.sample(1), &[4.0, -4.0, 5.0]);
        assert!(close(&m.mean(), &[2.5, -2.5, 2.0], 1e-15));

        let err = |sites: &[Name], lw: Vec<f64>| {
            EmpiricalMarginal::from_sites(&traces, sites, lw).unwrap_err()
        };
        // A site no particle has is unknown (issue 11, item 20: it used to read "sample 0 has
        // no value at site 'z'"), and the error lists the sites there are.
        let unknown = err(&[Name::new("x"), Name::new("z")], vec![0.0; 2]);
        assert!(matches!(
            &unknown,
            InferError::UnknownSite { site, .. } if *site == Name::new("z")
        ));
        assert_eq!(
            unknown.to_string(),
            "no site 'z' in this run; the sites are 'x', 'k'"
        );
        assert!(matches!(
            err(&[], vec![0.0; 2]),
            InferError::InvalidArgument { name: "sites", .. }
        ));
        assert!(matches!(
            err(&sites, vec![0.0; 3]),
            InferError::InvalidArgument {
                name: "log_weights",
                ..
            }
        ));

        // A site missing from the second particle only, and a site whose length changes.
        let (_, other) = TraceMessenger::record(|| deterministic("k", vec![1_i64, 2, 3])).unwrap();
        let mixed = [record(1.0, 2), other];
        let e = EmpiricalMarginal::from_sites(&mixed, &[Name::new("x")], vec![0.0; 2]);
        assert!(matches!(
            e.unwrap_err(),
            InferError::MissingSite { site, index: 1 } if site == Name::new("x")
        ));
        let e = EmpiricalMarginal::from_sites(&mixed, &[Name::new("k")], vec![0.0; 2]);
        match e.unwrap_err() {
            InferError::BadValue { site, reason } => {
                assert_eq!(site, Name::new("k"));
                assert!(
                    reason.contains("particle 1") && reason.contains('3'),
                    "{reason}"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let two = || reals(&[1.0, 2.0]);
        let new = EmpiricalMarginal::new;
        assert!(matches!(new(vec![], vec![]), Err(InferError::Empty)));
        assert!(matches!(
            new(two(), vec![0.0]),
            Err(InferError::InvalidArgument {
                name: "log_weights",
                ..
            })
        ));
        let inf = f64::NEG_INFINITY;
        for lw in [
            vec![inf, inf],
            vec![f64::NAN, inf],
            vec![f64::NAN, f64::NAN],
        ] {
            assert!(matches!(
                new(two(), lw),
                Err(InferError::ZeroWeights { particle: None, .. })
            ));
        }
        for lw in [vec![0.0, f64::NAN], vec![f64::INFINITY, 0.0]] {
            match new(two(), lw).unwrap_err() {
                InferError::InvalidArgument { name, reason } => {
                    assert_eq!(name, "log_weights");
                    assert!(reason.contains("particle"), "{reason}");
                }
                other => panic!("unexpected {other}"),
            }
        }
        let ragged = vec![
            Value::Real(1.0),
            Value::Real(2.0),
            Value::Reals(vec![1.0, 2.0]),
        ];
        match new(ragged, vec![0.0; 3]).unwrap_err() {
            InferError::BadValue { site, reason } => {
                assert_eq!(site, Name::new("_samples"));
                assert!(reason.contains("particle 2"), "{reason}");
            }
            other => panic!("unexpected {other}"),
        }
        let nan = vec![
            Value::Reals(vec![1.0, 2.0]),
            Value::Reals(vec![0.0, f64::NAN]),
        ];
        let e = new(nan, vec![0.0; 2]).unwrap_err().to_string();
        assert!(
            e.contains("element 1 of particle 1") && e.contains("NaN"),
            "{e}"
        );

        let m = new(two(), vec![0.0; 2]).unwrap();
        for q in [-0.1, 1.1, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                m.quantile(q),
                Err(InferError::InvalidArgument { name: "q", .. })
            ));
        }
    }

    #[test]
    fn resampling_is_deterministic_for_a_seed() {
        let m = EmpiricalMarginal::new(reals(&[0.0, 1.0, 2.0]), log(&[0.2, 0.5, 0.3])).unwrap();
        let run = |seed| {
            let mut rng = PyroRng::seed_from_u64(seed);
            (
                m.resample_multinomial(50, &mut rng),
                m.resample_systematic(50, &mut rng),
            )
        };
        assert_eq!(run(11), run(11));
        // Different seeds give different draws (two seeds may by chance give the same sorted
        // multinomial sample, as 11 and 12 do here; eight seeds all agreeing would be a bug).
        let outcomes: std::collections::HashSet<_> = (0..8).map(|seed| run(seed).0).collect();
        assert!(outcomes.len() > 1);
        assert!(
            m.resample_multinomial(0, &mut PyroRng::seed_from_u64(0))
                .is_empty()
        );
        assert!(
            m.resample_systematic(0, &mut PyroRng::seed_from_u64(0))
                .is_empty()
        );
    }

    /// Weights of unequal sizes, one of them 0, for the multinomial tests.
    const WEIGHTS: [f64; 5] = [0.05, 0.1, 0.0, 0.25, 0.6];

    #[test]
    fn multinomial_counts_are_binomial() {
        // Each count N_i is Binomial(n, w_i): mean n w_i, standard deviation
        // sqrt(n w_i (1 - w_i)). With n = 100_000 the normal approximation is excellent, and a
        // deviation beyond 5 standard deviations has probability below 6e-7 per index, so the
        // test fails only for a wrong sampler (e.g. one shifted by one index, or weights off by
        // more than 0.003 at w = 0.25).
        let m = EmpiricalMarginal::new(reals(&[0.0; 5]), log(&WEIGHTS)).unwrap();
        let n = 100_000;
        let c = counts(
            &m.resample_multinomial(n, &mut PyroRng::seed_from_u64(2024)),
            5,
        );
        for (i, (&count, &w)) in c.iter().zip(&WEIGHTS).enumerate() {
            let expected = n as f64 * w;
            let sd = (n as f64 * w * (1.0 - w)).sqrt();
            assert!(
                (count as f64 - expected).abs() <= 5.0 * sd,
                "index {i}: {count} vs {expected} +- {sd}"
            );
        }
        assert_eq!(c[2], 0);
    }

    #[test]
    fn multinomial_counts_have_binomial_variance() {
        // Independence of the draws shows in the spread of the counts across runs: over
        // R = 400 seeds, the sample variance s^2 of N_4 ~ Binomial(n = 50, w = 0.6) has relative
        // standard error sqrt(2 / (R - 1)) = 0.071 (normal approximation; the excess kurtosis
        // of this binomial, (1 - 6 w (1 - w)) / (n w (1 - w)) = -0.37 / 12 = -0.03, changes it
        // by under 1%), so s^2 / sigma^2 lies within 1 +- 0.36 (5 standard errors). A
        // systematic resampler would give at most 0.25 / 12 = 0.02.
        let m = EmpiricalMarginal::new(reals(&[0.0; 5]), log(&WEIGHTS)).unwrap();
        let (n, runs, w) = (50, 400, WEIGHTS[4]);
        let draws: Vec<f64> = (0..runs)
            .map(|seed| {
                let indices = m.resample_multinomial(n, &mut PyroRng::seed_from_u64(seed));
                counts(&indices, 5)[4] as f64
            })
            .collect();
        let mean = draws.iter().sum::<f64>() / runs as f64;
        let s2 = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (runs - 1) as f64;
        let sigma2 = n as f64 * w * (1.0 - w);
        assert!(
            (s2 / sigma2 - 1.0).abs() < 0.36,
            "s^2 = {s2}, sigma^2 = {sigma2}"
        );
        // The mean has standard error sqrt(12 / 400) = 0.17; 5 of them is 0.87.
        assert!((mean - n as f64 * w).abs() < 0.87, "mean {mean}");
    }

    #[test]
    fn multinomial_pairs_have_the_binomial_law() {
        // For n = 2 draws with weights 0.3, 0.7, the count of index 0 takes 0, 1, 2 with
        // probabilities 0.49, 0.42, 0.09: this checks the joint law of the generated sorted
        // uniforms, not only their average. Over R = 4000 seeds each frequency has standard
        // error sqrt(p (1 - p) / R) <= 0.0079; the test allows 5 of them. (Two sorted points
        // biased even by one order statistic, e.g. the lower two of three uniforms, would give
        // P(2) = 0.216.)
        let m = EmpiricalMarginal::new(reals(&[0.0; 2]), log(&[0.3, 0.7])).unwrap();
        let runs = 4000;
        let mut freq = [0.0; 3];
        for seed in 0..runs {
            let indices = m.resample_multinomial(2, &mut PyroRng::seed_from_u64(seed));
            freq[counts(&indices, 2)[0]] += 1.0 / runs as f64;
        }
        for (f, p) in freq.iter().zip([0.49, 0.42, 0.09]) {
            let se = (p * (1.0 - p) / runs as f64).sqrt();
            assert!((f - p).abs() < 5.0 * se, "frequencies {freq:?}");
        }
    }

    #[test]
    fn systematic_counts_are_unbiased() {
        // Each count is floor(n w_i) or ceil(n w_i), so its variance is at most 1/4 and the mean
        // over R = 2000 seeds has standard error at most 0.5 / sqrt(2000) = 0.0112; the test
        // allows 5 of them around n w_i (here 0.35, 0.7, 0, 1.75, 4.2 for n = 7).
        let m = EmpiricalMarginal::new(reals(&[0.0; 5]), log(&WEIGHTS)).unwrap();
        let (n, runs) = (7, 2000);
        let mut mean = [0.0; 5];
        for seed in 0..runs {
            let indices = m.resample_systematic(n, &mut PyroRng::seed_from_u64(seed));
            for (acc, c) in mean.iter_mut().zip(counts(&indices, 5)) {
                *acc += c as f64 / runs as f64;
            }
        }
        for (got, w) in mean.iter().zip(WEIGHTS) {
            assert!((got - n as f64 * w).abs() < 0.056, "means {mean:?}");
        }
    }

    proptest! {
        #[test]
        fn systematic_counts_are_floor_or_ceil_of_n_w(
            lw in prop::collection::vec(
                prop_oneof![4 => -10.0..10.0_f64, 1 => Just(f64::NEG_INFINITY)], 1..20),
            n in 0..300_usize,
            seed in any::<u64>(),
        ) {
            prop_assume!(lw.iter().any(|w| w.is_finite()));
            let m = EmpiricalMarginal::new(vec![Value::Real(0.0); lw.len()], lw).unwrap();
            let indices = m.resample_systematic(n, &mut PyroRng::seed_from_u64(seed));
            prop_assert_eq!(indices.len(), n);
            prop_assert!(indices.windows(2).all(|p| p[0] <= p[1]));
            // A point lands within rounding error (~1e-13 here) of a cumulative weight only
            // with negligible probability, so n w_i is widened by 1e-9 before rounding.
            for (count, w) in counts(&indices, m.len()).into_iter().zip(m.weights()) {
                let nw = n as f64 * w;
                let (lo, hi) = ((nw - 1e-9).floor(), (nw + 1e-9).ceil());
                prop_assert!(
                    lo <= count as f64 && count as f64 <= hi,
                    "count {} for n w = {}", count, nw
                );
            }
        }
    }
}
