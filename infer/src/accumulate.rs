//! [`WeightedStats`]: running statistics of log-weighted samples in constant memory, and
//! [`ChunkSeries`]: the statistics of consecutive chunks kept apart, so that they can be merged
//! after statistics that come before them exactly as one run merges its chunks.

use pyro_trace::JsonF64;
use serde::{Deserialize, Serialize, Serializer};

/// A flag of [`WeightedStats::infinite`]: a particle of positive weight had `+inf` there.
pub(crate) const POS_INF: u8 = 1;
/// A flag of [`WeightedStats::infinite`]: a particle of positive weight had `-inf` there.
pub(crate) const NEG_INF: u8 = 2;

/// Log-sum-exp of the log-weights, the sum of squared weights (for the ESS), and weighted means and
/// variances of a fixed number of coordinates, updated one particle at a time and merged across
/// chunks.
///
/// Weights are kept relative to the largest log-weight seen, so nothing overflows; means and
/// variances use the weighted Welford update and Chan's merge, so there is no cancellation.
/// Merging chunk statistics in a fixed order gives results that do not depend on how the chunks
/// were spread over threads.
///
/// An infinite coordinate (of a particle of positive weight) is not added to the moments, which
/// would become NaN: it sets a flag instead ([`WeightedStats::infinite`]), and the mean of the
/// coordinate is then that infinity (or undefined, with both signs) and its variance infinite.
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
    /// Per coordinate, [`POS_INF`] and [`NEG_INF`] flags; empty (no allocation) until a particle
    /// of positive weight has an infinite coordinate.
    infinite: Vec<u8>,
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
            infinite: Vec::new(),
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

    /// Adds a particle with log-weight `lw` (not NaN, not `+inf`) and finite coordinates `x`.
    ///
    /// An infinite coordinate (of a particle of positive weight) leaves the moments of its
    /// coordinate NaN or infinite, for good ([`WeightedStats::moments_finite`] tells): add such a
    /// particle with [`WeightedStats::push_checked`].
    #[inline(always)]
    pub(crate) fn push(&mut self, lw: f64, x: &[f64]) {
        debug_assert_eq!(x.len(), self.mean.len());
        self.count += 1;
        if lw == f64::NEG_INFINITY {
            return;
        }
        self.push_weighted(lw, x);
    }

    /// The update of [`WeightedStats::push`] for a particle of positive weight.
    #[inline(always)]
    fn push_weighted(&mut self, lw: f64, x: &[f64]) {
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

    /// [`WeightedStats::push`] of a particle whose coordinates may be infinite (not NaN).
    #[inline]
    pub(crate) fn push_checked(&mut self, lw: f64, x: &[f64]) {
        if x.iter().all(|v| v.is_finite()) {
            self.push(lw, x);
        } else {
            self.push_infinite(lw, x);
        }
    }

    /// [`WeightedStats::push`] of a particle with infinite coordinates: if its weight is
    /// positive, each infinity is flagged and its coordinate enters the moments at the current
    /// mean (adding nothing to them).
    #[cold]
    #[inline(never)]
    fn push_infinite(&mut self, lw: f64, x: &[f64]) {
        debug_assert_eq!(x.len(), self.mean.len());
        self.count += 1;
        if lw == f64::NEG_INFINITY {
            return;
        }
        if self.infinite.is_empty() {
            self.infinite = vec![0; x.len()];
        }
        let mut finite = x.to_vec();
        for ((v, flags), mean) in finite.iter_mut().zip(&mut self.infinite).zip(&self.mean) {
            if !v.is_finite() {
                *flags |= if *v > 0.0 { POS_INF } else { NEG_INF };
                *v = *mean;
            }
        }
        self.push_weighted(lw, &finite);
    }

    /// Merges `other` (particles that come after this one's) into this one.
    pub(crate) fn merge(&mut self, other: &WeightedStats) {
        self.count += other.count;
        if !other.infinite.is_empty() {
            self.merge_infinite(&other.infinite);
        }
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

    #[cold]
    fn merge_infinite(&mut self, flags: &[u8]) {
        if self.infinite.is_empty() {
            self.infinite = vec![0; flags.len()];
        }
        for (a, b) in self.infinite.iter_mut().zip(flags) {
            *a |= b;
        }
    }

    /// `ln sum exp(lw)`, or `None` when no particle has positive weight.
    pub(crate) fn log_sum_exp(&self) -> Option<f64> {
        (self.sum > 0.0).then(|| self.max + self.sum.ln())
    }

    /// `(sum w)^2 / sum w^2`, or `None` when no particle has positive weight.
    pub(crate) fn ess(&self) -> Option<f64> {
        (self.sum > 0.0).then(|| self.sum * self.sum / self.sum_sq)
    }

    /// The weighted means of the finite values (see [`WeightedStats::infinite`]).
    pub(crate) fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The weighted (population) variances of the finite values (see
    /// [`WeightedStats::infinite`]).
    pub(crate) fn variance(&self) -> Vec<f64> {
        self.m2.iter().map(|m2| m2 / self.sum).collect()
    }

    /// The [`POS_INF`] and [`NEG_INF`] flags of coordinate `i`: the infinities particles of
    /// positive weight had there (0 when none had).
    pub(crate) fn infinite(&self, i: usize) -> u8 {
        self.infinite.get(i).copied().unwrap_or(0)
    }

    /// Whether the means and second moments are finite: always, unless a particle of positive
    /// weight with an infinite coordinate was added with [`WeightedStats::push`] (NaN and
    /// infinities stay in the moments, as every later update and merge carries them).
    pub(crate) fn moments_finite(&self) -> bool {
        self.mean.iter().chain(&self.m2).all(|v| v.is_finite())
    }

    /// The number of coordinates.
    pub(crate) fn dim(&self) -> usize {
        self.mean.len()
    }

    /// The serialised form.
    pub(crate) fn to_wire(&self) -> StatsWire {
        StatsWire {
            count: self.count,
            max: JsonF64(self.max),
            sum: JsonF64(self.sum),
            sum_sq: JsonF64(self.sum_sq),
            mean: self.mean.iter().map(|&x| JsonF64(x)).collect(),
            m2: self.m2.iter().map(|&x| JsonF64(x)).collect(),
            infinite: self.infinite.clone(),
        }
    }

    /// Statistics of `dim` coordinates read back from their serialised form, or what is wrong
    /// with it.
    pub(crate) fn from_wire(w: StatsWire, dim: usize) -> Result<Self, String> {
        let stats = WeightedStats {
            count: w.count,
            max: w.max.0,
            sum: w.sum.0,
            sum_sq: w.sum_sq.0,
            mean: w.mean.into_iter().map(|x| x.0).collect(),
            m2: w.m2.into_iter().map(|x| x.0).collect(),
            infinite: w.infinite,
        };
        stats.check(dim)?;
        Ok(stats)
    }

    /// Checks statistics read from outside: `dim` coordinates, sums that are sums.
    fn check(&self, dim: usize) -> Result<(), String> {
        if self.mean.len() != dim || self.m2.len() != dim {
            return Err(format!(
                "the statistics have {} means and {} second moments for {dim} tracked elements",
                self.mean.len(),
                self.m2.len()
            ));
        }
        if !self.infinite.is_empty()
            && (self.infinite.len() != dim || self.infinite.iter().any(|&f| f > POS_INF | NEG_INF))
        {
            return Err(format!(
                "the infinity flags {:?} are not {dim} flags of at most {}",
                self.infinite,
                POS_INF | NEG_INF
            ));
        }
        let sums_ok = self.sum >= 0.0
            && self.sum.is_finite()
            && self.sum_sq >= 0.0
            && self.sum_sq.is_finite()
            && !self.max.is_nan()
            && self.max != f64::INFINITY
            && (self.sum > 0.0) == (self.max > f64::NEG_INFINITY);
        if !sums_ok {
            return Err(format!(
                "max {}, sum {} and sum of squares {} are not the sums of log-weights",
                self.max, self.sum, self.sum_sq
            ));
        }
        Ok(())
    }
}

/// The serialised form of [`WeightedStats`], non-finite numbers as `"inf"`, `"-inf"`, `"NaN"`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsWire {
    count: usize,
    max: JsonF64,
    sum: JsonF64,
    sum_sq: JsonF64,
    mean: Vec<JsonF64>,
    m2: Vec<JsonF64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    infinite: Vec<u8>,
}

/// The statistics of consecutive chunks, each kept apart: merged one by one after statistics of
/// the particles before them ([`ChunkSeries::replay_onto`]), they give exactly what one run
/// merging its chunks in order gives. Stored flat: per chunk `max`, `sum`, `sum_sq`, then `dim`
/// means and `dim` second moments; the chunks' particle counts are not stored (their owner knows
/// them).
#[derive(Clone, Debug)]
pub(crate) struct ChunkSeries {
    dim: usize,
    values: Vec<f64>,
    /// The chunks with infinity flags, by position in the series (increasing), with their flags.
    infinite: Vec<(usize, Vec<u8>)>,
}

impl ChunkSeries {
    /// An empty series of chunks of `dim` coordinates.
    pub(crate) fn new(dim: usize) -> Self {
        ChunkSeries {
            dim,
            values: Vec::new(),
            infinite: Vec::new(),
        }
    }

    /// The reals stored per chunk.
    fn stride(&self) -> usize {
        3 + 2 * self.dim
    }

    /// The number of chunks.
    pub(crate) fn len(&self) -> usize {
        self.values.len() / self.stride()
    }

    /// Appends the statistics of the next chunk.
    pub(crate) fn push(&mut self, chunk: &WeightedStats) {
        debug_assert_eq!(chunk.dim(), self.dim);
        if !chunk.infinite.is_empty() {
            self.infinite.push((self.len(), chunk.infinite.clone()));
        }
        self.values
            .extend_from_slice(&[chunk.max, chunk.sum, chunk.sum_sq]);
        self.values.extend_from_slice(&chunk.mean);
        self.values.extend_from_slice(&chunk.m2);
    }

    /// Appends the chunks of `other` (which come after these).
    pub(crate) fn append(&mut self, other: &ChunkSeries) {
        let offset = self.len();
        self.infinite.extend(
            other
                .infinite
                .iter()
                .map(|(k, flags)| (k + offset, flags.clone())),
        );
        self.values.extend_from_slice(&other.values);
    }

    /// Whether some chunk has a particle of positive weight.
    pub(crate) fn any_positive(&self) -> bool {
        self.values.chunks_exact(self.stride()).any(|c| c[1] > 0.0)
    }

    /// Merges the chunks, in order, into `acc` (the statistics of the particles before them, or
    /// `None` when there are none: the first chunk is then taken as it is, as a run takes its first
    /// chunk). `counts` gives each chunk's number of particles.
    pub(crate) fn replay_onto(
        &self,
        acc: &mut Option<WeightedStats>,
        counts: impl Iterator<Item = usize>,
    ) {
        let mut flags = self.infinite.iter().peekable();
        let mut chunk = WeightedStats::new(self.dim);
        for (k, (c, count)) in self
            .values
            .chunks_exact(self.stride())
            .zip(counts)
            .enumerate()
        {
            chunk.count = count;
            (chunk.max, chunk.sum, chunk.sum_sq) = (c[0], c[1], c[2]);
            chunk.mean.copy_from_slice(&c[3..3 + self.dim]);
            chunk.m2.copy_from_slice(&c[3 + self.dim..]);
            chunk.infinite.clear();
            if let Some((_, f)) = flags.next_if(|(at, _)| *at == k) {
                chunk.infinite.extend_from_slice(f);
            }
            match acc {
                None => *acc = Some(chunk.clone()),
                Some(s) => s.merge(&chunk),
            }
        }
    }

    /// The serialised form, borrowing the values.
    pub(crate) fn to_wire(&self) -> SeriesWireOut<'_> {
        SeriesWireOut {
            values: Reals(&self.values),
            infinite: &self.infinite,
        }
    }

    /// A series of `chunks` chunks of `dim` coordinates read back from its serialised form, or
    /// what is wrong with it.
    pub(crate) fn from_wire(w: SeriesWire, dim: usize, chunks: usize) -> Result<Self, String> {
        let series = ChunkSeries {
            dim,
            values: w.values.into_iter().map(|x| x.0).collect(),
            infinite: w.infinite,
        };
        let stride = series.stride();
        if Some(series.values.len()) != chunks.checked_mul(stride) {
            return Err(format!(
                "{} values for {chunks} chunks of {stride} ({dim} tracked elements)",
                series.values.len()
            ));
        }
        let mut previous = None;
        for (k, flags) in &series.infinite {
            if *k >= chunks || previous.is_some_and(|p| p >= *k) {
                return Err(format!(
                    "the infinity flags of chunk {k}: not an increasing chunk position below \
                     {chunks}"
                ));
            }
            previous = Some(*k);
            if flags.len() != dim || flags.iter().any(|&f| f > POS_INF | NEG_INF) {
                return Err(format!(
                    "the infinity flags {flags:?} of chunk {k} are not {dim} flags of at most {}",
                    POS_INF | NEG_INF
                ));
            }
        }
        for (k, c) in series.values.chunks_exact(stride).enumerate() {
            let mut stats = WeightedStats::new(dim);
            (stats.max, stats.sum, stats.sum_sq) = (c[0], c[1], c[2]);
            stats.check(dim).map_err(|e| format!("chunk {k}: {e}"))?;
        }
        Ok(series)
    }
}

/// A slice of reals serialised through [`JsonF64`].
pub(crate) struct Reals<'a>(&'a [f64]);

impl Serialize for Reals<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|&x| JsonF64(x)))
    }
}

/// The serialised form of a [`ChunkSeries`], borrowed.
#[derive(Serialize)]
pub(crate) struct SeriesWireOut<'a> {
    values: Reals<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    infinite: &'a [(usize, Vec<u8>)],
}

/// The serialised form of a [`ChunkSeries`], read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeriesWire {
    values: Vec<JsonF64>,
    #[serde(default)]
    infinite: Vec<(usize, Vec<u8>)>,
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

    fn bits(s: &WeightedStats) -> Vec<u64> {
        let mut b = vec![
            s.count as u64,
            s.max.to_bits(),
            s.sum.to_bits(),
            s.sum_sq.to_bits(),
        ];
        b.extend(s.mean.iter().chain(&s.m2).map(|x| x.to_bits()));
        b.extend(s.infinite.iter().map(|&f| u64::from(f)));
        b
    }

    #[test]
    fn an_infinite_coordinate_is_flagged_and_leaves_the_others_alone() {
        // Coordinate 0 is +inf in one particle of positive weight, -inf in one of weight 0;
        // coordinate 1 is finite.
        let particles = [
            (0.0, [1.0, 2.0]),
            (-1.0, [f64::INFINITY, 4.0]),
            (f64::NEG_INFINITY, [f64::NEG_INFINITY, 100.0]),
            (0.5, [3.0, -1.0]),
        ];
        let mut s = WeightedStats::new(2);
        for (lw, x) in &particles {
            s.push_checked(*lw, x);
        }
        assert_eq!((s.infinite(0), s.infinite(1)), (POS_INF, 0));
        let lw: Vec<f64> = particles.iter().map(|p| p.0).collect();
        let ys: Vec<f64> = particles.iter().map(|p| p.1[1]).collect();
        let (lse, ess, mean, var) = direct(&lw, &ys);
        assert!((s.log_sum_exp().unwrap() - lse).abs() < 1e-14);
        assert!((s.ess().unwrap() - ess).abs() < 1e-12);
        assert!((s.mean()[1] - mean).abs() < 1e-12);
        assert!((s.variance()[1] - var).abs() < 1e-12);
        assert!(s.mean()[0].is_finite() && s.variance()[0].is_finite());

        // Merging ORs the flags, in either direction.
        let mut neg = WeightedStats::new(2);
        neg.push_checked(0.0, &[f64::NEG_INFINITY, 0.0]);
        let mut a = s.clone();
        a.merge(&neg);
        assert_eq!(a.infinite(0), POS_INF | NEG_INF);
        neg.merge(&s);
        assert_eq!(neg.infinite(0), POS_INF | NEG_INF);
        // Finite statistics never allocate flags.
        assert!(WeightedStats::new(3).infinite.is_empty());
        assert!(s.moments_finite() && a.moments_finite());
    }

    #[test]
    fn an_infinity_pushed_unchecked_leaves_the_moments_not_finite_for_good() {
        // The unchecked update cannot take an infinite coordinate; the run detects it from the
        // moments at the end of the chunk, so they must never become finite again: not after
        // finite particles, a rebase, a merge, or a weight that underflows to 0.
        for (lw_inf, later) in [(0.0, 5.0), (-800.0, 0.0), (0.0, -3.0)] {
            for inf in [f64::INFINITY, f64::NEG_INFINITY] {
                let mut s = WeightedStats::new(2);
                s.push(0.0, &[1.0, 1.0]);
                s.push(lw_inf, &[2.0, inf]);
                assert!(!s.moments_finite());
                s.push(later, &[3.0, 4.0]);
                s.push(10.0, &[3.0, 4.0]);
                let mut other = WeightedStats::new(2);
                other.push(20.0, &[0.0, 0.0]);
                s.merge(&other);
                assert!(!s.moments_finite(), "{lw_inf} {later} {inf}");
                // The first chunk's statistics are merged into, too.
                let mut first = WeightedStats::new(2);
                first.push(1.0, &[0.0, 0.0]);
                first.merge(&s);
                assert!(!first.moments_finite());
            }
        }
    }

    /// Statistics of `n` chunks of pseudo-random particles, some of weight 0, one infinite.
    fn chunks(n: usize) -> Vec<WeightedStats> {
        let mut u = 0.5_f64;
        let mut next = move || {
            u = (u * 997.0 + 0.123).fract();
            u
        };
        (0..n)
            .map(|c| {
                let mut s = WeightedStats::new(2);
                for i in 0..5 {
                    let lw = if c == 2 {
                        f64::NEG_INFINITY
                    } else {
                        -30.0 * next()
                    };
                    let x0 = if c == 3 && i == 1 {
                        f64::NEG_INFINITY
                    } else {
                        next()
                    };
                    s.push_checked(lw, &[x0, 10.0 * next()]);
                }
                s
            })
            .collect()
    }

    #[test]
    fn a_replayed_series_is_the_fold_bit_for_bit() {
        let all = chunks(7);
        let fold = |cs: &[WeightedStats], acc: &mut Option<WeightedStats>| {
            for c in cs {
                match acc {
                    None => *acc = Some(c.clone()),
                    Some(s) => s.merge(c),
                }
            }
        };
        let mut whole = None;
        fold(&all, &mut whole);
        let whole = whole.unwrap();
        assert_eq!(whole.infinite(0), NEG_INF);
        for cut in 0..7 {
            // The statistics before the cut, folded; the chunks after it, as a series, split in
            // two and appended, then serialised.
            let mut acc = None;
            fold(&all[..cut], &mut acc);
            let (mut series, mut rest) = (ChunkSeries::new(2), ChunkSeries::new(2));
            let mid = (cut + 7) / 2;
            all[cut..mid].iter().for_each(|c| series.push(c));
            all[mid..].iter().for_each(|c| rest.push(c));
            series.append(&rest);
            assert_eq!(series.len(), 7 - cut);
            assert_eq!(
                series.any_positive(),
                all[cut..].iter().any(|c| c.sum > 0.0)
            );
            let json = serde_json::to_string(&series.to_wire()).unwrap();
            let wire: SeriesWire = serde_json::from_str(&json).unwrap();
            let series = ChunkSeries::from_wire(wire, 2, 7 - cut).unwrap();
            series.replay_onto(&mut acc, std::iter::repeat(5));
            assert_eq!(bits(acc.as_ref().unwrap()), bits(&whole), "cut {cut}");
        }
        // Statistics with -inf (a chunk of weight 0) survive JSON.
        let json = serde_json::to_string(&all[2].to_wire()).unwrap();
        assert!(json.contains(r#""max":"-inf""#), "{json}");
        let wire: StatsWire = serde_json::from_str(&json).unwrap();
        assert_eq!(
            bits(&WeightedStats::from_wire(wire, 2).unwrap()),
            bits(&all[2])
        );
    }

    #[test]
    fn inconsistent_serialised_statistics_are_refused() {
        let series = |json: &str, dim, n| {
            let wire: SeriesWire = serde_json::from_str(json).unwrap();
            ChunkSeries::from_wire(wire, dim, n).unwrap_err()
        };
        assert!(series(r#"{"values":[0,1,1,0.5]}"#, 1, 1).contains("4 values for 1 chunks"));
        let e = series(r#"{"values":[0,0,1,0.5,0]}"#, 1, 1);
        assert!(e.contains("chunk 0") && e.contains("sum 0"), "{e}");
        let e = series(r#"{"values":[0,1,1,0.5,0],"infinite":[[1,[1]]]}"#, 1, 1);
        assert!(e.contains("flags of chunk 1"), "{e}");
        let stats: StatsWire =
            serde_json::from_str(r#"{"count":1,"max":0,"sum":1,"sum_sq":1,"mean":[1],"m2":[0]}"#)
                .unwrap();
        let e = WeightedStats::from_wire(stats, 2).unwrap_err();
        assert!(e.contains("1 means and 1 second moments for 2"), "{e}");
    }
}
