//! [`WeightedStats`]: running statistics of log-weighted samples in constant memory.

/// Log-sum-exp of the log-weights, the sum of squared weights (for the ESS), and weighted means and
/// variances of a fixed number of coordinates, updated one particle at a time and merged across
/// chunks.
///
/// Weights are kept relative to the largest log-weight seen, so nothing overflows; means and
/// variances use the weighted Welford update and Chan's merge, so there is no cancellation.
/// Merging chunk statistics in a fixed order gives results that do not depend on how the chunks
/// were spread over threads.
#[derive(Clone, Debug)]
pub(crate) struct WeightedStats {
    /// Particles seen, including zero-weight ones.
    pub(crate) count: usize,
    /// The largest log-weight seen (`-inf` before any positive weight).
    max: f64,
    /// `sum exp(lw - max)`.
    sum: f64,
    /// `sum exp(2 (lw - max))`.
    sum_sq: f64,
    /// Weighted means of the coordinates.
    mean: Vec<f64>,
    /// `sum w (x - mean)^2` per coordinate, relative to `max` like `sum`.
    m2: Vec<f64>,
}

impl WeightedStats {
    /// Empty statistics for `dim` coordinates.
    pub(crate) fn new(dim: usize) -> Self {
        WeightedStats {
            count: 0,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            sum_sq: 0.0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    /// Moves the reference point to `max`, rescaling the sums.
    fn rebase(&mut self, max: f64) {
        if max > self.max {
            let f = (self.max - max).exp();
            self.sum *= f;
            self.sum_sq *= f * f;
            for m2 in &mut self.m2 {
                *m2 *= f;
            }
            self.max = max;
        }
    }

    /// Adds a particle with log-weight `lw` (not NaN, not `+inf`) and coordinates `x`.
    pub(crate) fn push(&mut self, lw: f64, x: &[f64]) {
        debug_assert_eq!(x.len(), self.mean.len());
        self.count += 1;
        if lw == f64::NEG_INFINITY {
            return;
        }
        self.rebase(lw);
        let w = (lw - self.max).exp();
        let total = self.sum + w;
        for ((mean, m2), &xi) in self.mean.iter_mut().zip(&mut self.m2).zip(x) {
            let delta = xi - *mean;
            *mean += delta * (w / total);
            *m2 += w * delta * (xi - *mean);
        }
        self.sum = total;
        self.sum_sq += w * w;
    }

    /// Merges `other` (particles that come after this one's) into this one.
    pub(crate) fn merge(&mut self, other: &WeightedStats) {
        self.count += other.count;
        if other.sum == 0.0 {
            return;
        }
        self.rebase(other.max);
        let f = (other.max - self.max).exp();
        let (wa, wb) = (self.sum, other.sum * f);
        let total = wa + wb;
        for i in 0..self.mean.len() {
            let delta = other.mean[i] - self.mean[i];
            self.mean[i] += delta * (wb / total);
            self.m2[i] += other.m2[i] * f + delta * delta * wa * wb / total;
        }
        self.sum = total;
        self.sum_sq += other.sum_sq * f * f;
    }

    /// `ln sum exp(lw)`, or `None` when no particle has positive weight.
    pub(crate) fn log_sum_exp(&self) -> Option<f64> {
        (self.sum > 0.0).then(|| self.max + self.sum.ln())
    }

    /// `(sum w)^2 / sum w^2`, or `None` when no particle has positive weight.
    pub(crate) fn ess(&self) -> Option<f64> {
        (self.sum > 0.0).then(|| self.sum * self.sum / self.sum_sq)
    }

    /// The weighted means.
    pub(crate) fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The weighted (population) variances.
    pub(crate) fn variance(&self) -> Vec<f64> {
        self.m2.iter().map(|m2| m2 / self.sum).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(lw: &[f64], xs: &[f64]) -> (f64, f64, f64, f64) {
        let m = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = lw.iter().map(|l| (l - m).exp()).collect();
        let s: f64 = w.iter().sum();
        let mean = w.iter().zip(xs).map(|(w, x)| w * x).sum::<f64>() / s;
        let var = w
            .iter()
            .zip(xs)
            .map(|(w, x)| w * (x - mean).powi(2))
            .sum::<f64>()
            / s;
        let ess = s * s / w.iter().map(|w| w * w).sum::<f64>();
        (m + s.ln(), ess, mean, var)
    }

    #[test]
    fn push_and_merge_agree_with_the_direct_formulas() {
        let lw = [-3.0, 0.5, f64::NEG_INFINITY, -1.0, 2.0, 1.5, -700.0];
        let xs = [1.0, 2.0, 100.0, -1.0, 0.5, 3.0, 9.0];
        let (lse, ess, mean, var) = direct(&lw, &xs);
        let mut whole = WeightedStats::new(1);
        for (l, x) in lw.iter().zip(&xs) {
            whole.push(*l, &[*x]);
        }
        let mut a = WeightedStats::new(1);
        let mut b = WeightedStats::new(1);
        for (i, (l, x)) in lw.iter().zip(&xs).enumerate() {
            if i < 3 { &mut a } else { &mut b }.push(*l, &[*x]);
        }
        a.merge(&b);
        for s in [&whole, &a] {
            assert_eq!(s.count, 7);
            assert!((s.log_sum_exp().unwrap() - lse).abs() < 1e-14);
            assert!((s.ess().unwrap() - ess).abs() < 1e-12);
            assert!((s.mean()[0] - mean).abs() < 1e-12);
            assert!((s.variance()[0] - var).abs() < 1e-12);
        }
    }

    #[test]
    fn no_positive_weight_has_no_statistics() {
        let mut s = WeightedStats::new(0);
        s.push(f64::NEG_INFINITY, &[]);
        assert_eq!((s.count, s.log_sum_exp(), s.ess()), (1, None, None));
        let mut t = WeightedStats::new(0);
        t.merge(&s);
        assert_eq!(t.count, 1);
    }
}
