//! MCMC convergence diagnostics: split R-hat, effective sample sizes and autocorrelation.
//!
//! A Markov chain's draws are correlated, and a chain that has not yet forgotten its starting
//! point or not yet explored the whole posterior gives biased estimates. These diagnostics check
//! a scalar coordinate's draws from several chains:
//!
//! - [`split_rhat`], the potential scale reduction factor: it compares the variance between
//!   chains with the variance within them. Every chain is split into its two halves first, so a
//!   trend inside one chain shows up as two disagreeing half-chains. Values near 1 (below 1.01)
//!   say the chains agree; larger ones say they have not mixed.
//! - [`ess_bulk`], [`ess_tail`] and [`ess_mean`], effective sample sizes: how many independent
//!   draws would estimate as precisely as the correlated ones. The bulk ESS speaks for central
//!   quantities (mean, median), the tail ESS for the 5% and 95% quantiles, the mean ESS gives the
//!   Monte Carlo standard error of the mean, `sd / sqrt(ess_mean)`.
//! - [`autocorrelation`] of one chain, and [`quantile`] of sorted draws.
//!
//! R-hat and the bulk ESS work on ranks: all draws are pooled and replaced by the normal scores of
//! their ranks, which makes them robust to heavy tails and to draws without a finite variance;
//! R-hat also checks the folded draws `|x - median|`, to see chains of equal location but
//! different scale. The methods are those of Vehtari, Gelman, Simpson, Carpenter and Bürkner
//! (2021), "Rank-normalization, folding, and localization: An improved R-hat for assessing
//! convergence of MCMC", *Bayesian Analysis* 16(2), 667–718.
//!
//! The values match ArviZ's `rhat(method="rank")`, `ess(method="bulk")`, `ess(method="tail")`,
//! `ess(method="mean")` and `autocorr` up to rounding (a relative 1e-9 or better; the integration
//! test `tests/diagnostics.rs` checks them against values ArviZ computed). The functions return
//! `None` where ArviZ returns NaN: no chains, chains of unequal length, fewer than 4 draws per
//! chain, a NaN draw, fewer than 2 chains for R-hat, and constant draws for R-hat. Unlike ArviZ,
//! they also return `None` for infinite draws (ArviZ ranks them, but its mean ESS is NaN then and
//! an infinite draw is a failed sampler rather than a diagnosable chain).
//!
//! # Example
//! ```
//! use pyro_infer::diagnostics::{ess_bulk, ess_mean, split_rhat};
//!
//! // Two chains of an AR(1) process x_t = 0.5 x_{t-1} + e_t, e_t uniform on [-1, 1).
//! let chain = |seed: u64| -> Vec<f64> {
//!     let mut state = seed;
//!     let mut x = 0.0;
//!     (0..500)
//!         .map(|_| {
//!             state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
//!             let e = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
//!             x = 0.5 * x + e;
//!             x
//!         })
//!         .collect()
//! };
//! let (a, b) = (chain(1), chain(2));
//! let chains = [&a[..], &b[..]];
//!
//! let rhat = split_rhat(&chains).unwrap();
//! assert!(rhat < 1.05);
//! // Positive autocorrelation: fewer effective draws than the 1000 drawn.
//! let ess = ess_bulk(&chains).unwrap();
//! assert!(ess > 100.0 && ess < 1000.0);
//! assert!(ess_mean(&chains).unwrap() < 1000.0);
//!
//! // Too few draws (fewer than 4 per chain) give no diagnostic.
//! assert_eq!(split_rhat(&[&a[..3], &b[..3]]), None);
//! ```

use spec_math::cephes64::ndtri;

/// The fewest draws per chain the diagnostics accept (fewer give `None`).
const MIN_DRAWS: usize = 4;

/// Blom's offset in the normal scores of ranks, `Phi^{-1}((r - 3/8) / (S - 2 * 3/8 + 1))`.
const BLOM_OFFSET: f64 = 3.0 / 8.0;

/// Draws spread less than this (max - min) count as constant in the ESS: it then equals the
/// number of draws. This is numpy's `finfo(float).resolution`, the threshold ArviZ uses.
const CONSTANT_SPREAD: f64 = 1e-15;

/// The probabilities of the two quantiles whose ESS [`ess_tail`] takes the minimum of.
const TAIL_PROBS: [f64; 2] = [0.05, 0.95];

/// Rank-normalised split R-hat of a scalar coordinate's draws from several chains.
///
/// `chains` holds one slice per chain, all of the same length, the draws of each chain in order.
/// Each chain is split into its first and last `n / 2` draws (the middle draw of an odd `n` is
/// dropped); the R-hat `sqrt((B / W + n' - 1) / n')` of the half-chains (`n'` draws each, `B`
/// `n'` times the variance of their means, `W` the mean of their variances) is computed on the
/// normal scores of the ranks of the draws, and again on those of the folded draws
/// `|x - median|`; the result is the larger of the two. This is ArviZ's `rhat(method="rank")`.
///
/// Returns `None` for fewer than 2 chains, fewer than 4 draws per chain, chains of unequal
/// length, any non-finite draw, and constant draws (0/0, as ArviZ's NaN). It may return
/// `Some(f64::INFINITY)` when every half-chain is constant but they differ (ArviZ then gives a
/// huge number made of rounding errors instead).
///
/// ```
/// use pyro_infer::diagnostics::split_rhat;
///
/// // The chains sit at different places: R-hat is well above 1.
/// let a: Vec<f64> = (0..100).map(|i| (i as f64 * 0.7).sin()).collect();
/// let b: Vec<f64> = a.iter().map(|x| x + 3.0).collect();
/// assert!(split_rhat(&[&a[..], &b[..]]).unwrap() > 1.5);
/// ```
pub fn split_rhat(chains: &[&[f64]]) -> Option<f64> {
    validate(chains, 2)?;
    let draws = split_chains(chains, |x| x);
    let bulk = rhat_of(&draws.with_values(normal_scores(&draws.values)));
    let median = median(&draws.values);
    let folded: Vec<f64> = draws.values.iter().map(|x| (x - median).abs()).collect();
    let tail = rhat_of(&draws.with_values(normal_scores(&folded)));
    // ArviZ takes Python's max(bulk, tail), which keeps `bulk` unless `tail` is larger: a NaN
    // bulk R-hat (constant draws) stays NaN, a NaN folded one (all folded draws equal, as for
    // draws of -1 and +1 in equal numbers) gives the bulk one.
    if bulk.is_nan() {
        None
    } else if tail > bulk {
        Some(tail)
    } else {
        Some(bulk)
    }
}

/// Bulk effective sample size of a scalar coordinate's draws from several chains.
///
/// The ESS of the split chains (see [`split_rhat`]) after rank normalisation: every draw is
/// replaced by the normal score of its rank among all split draws. This is ArviZ's
/// `ess(method="bulk")`: it tells how well the centre of the distribution is sampled (location
/// summaries such as the mean and the median), and unlike [`ess_mean`] it needs no finite
/// variance.
///
/// `chains` holds one slice per chain, all of the same length. Returns `None` for no chains,
/// fewer than 4 draws per chain, chains of unequal length and any non-finite draw. Constant draws
/// give the number of split draws, as ArviZ.
pub fn ess_bulk(chains: &[&[f64]]) -> Option<f64> {
    validate(chains, 1)?;
    let draws = split_chains(chains, |x| x);
    ess_of(&draws.with_values(normal_scores(&draws.values)))
}

/// Tail effective sample size of a scalar coordinate's draws from several chains.
///
/// The smaller of the ESS of the 5% and of the 95% quantile: for each, the quantile `q` of all
/// draws (R's type 7, computed as ArviZ does through SciPy's `mquantiles`), then the ESS of the
/// split chains of the indicators `x <= q` (1 or 0). This is ArviZ's `ess(method="tail")`.
///
/// `chains` holds one slice per chain, all of the same length. Returns `None` for no chains,
/// fewer than 4 draws per chain, chains of unequal length and any non-finite draw.
pub fn ess_tail(chains: &[&[f64]]) -> Option<f64> {
    validate(chains, 1)?;
    let mut sorted: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
    sorted.sort_by(f64::total_cmp);
    let [low, high] = TAIL_PROBS.map(|p| {
        let threshold = mquantile_type7(&sorted, p);
        ess_of(&split_chains(chains, |x| {
            f64::from(u8::from(x <= threshold))
        }))
    });
    // Python's min(low, high), as ArviZ: `low` unless `high` is smaller.
    match (low, high) {
        (Some(low), Some(high)) if high < low => Some(high),
        (low, _) => low,
    }
}

/// Effective sample size for the mean of a scalar coordinate's draws from several chains.
///
/// The ESS of the split chains (see [`split_rhat`]) of the draws themselves, without rank
/// normalisation: the Monte Carlo standard error of the mean of the draws is
/// `sd / sqrt(ess_mean)`. This is ArviZ's `ess(method="mean")`. It needs a finite posterior
/// variance to mean anything; [`ess_bulk`] does not.
///
/// `chains` holds one slice per chain, all of the same length. Returns `None` for no chains,
/// fewer than 4 draws per chain, chains of unequal length and any non-finite draw. Draws spread
/// less than 1e-15 (max - min) give the number of split draws, as ArviZ.
pub fn ess_mean(chains: &[&[f64]]) -> Option<f64> {
    validate(chains, 1)?;
    ess_of(&split_chains(chains, |x| x))
}

/// Autocorrelation of one chain at lags `0..=min(max_lag, x.len() - 1)`.
///
/// The biased autocovariance `acov_k = (1/n) sum_{i < n-k} (x_i - mean)(x_{i+k} - mean)` divided
/// by `acov_0`, as ArviZ's `autocorr`. Each lag is summed directly, in `O(n * lags)`; ArviZ's FFT
/// gives the same values up to rounding.
///
/// An empty chain gives an empty vector. A constant chain (`acov_0 = 0`) or one with non-finite
/// draws gives NaN at every lag, as ArviZ.
///
/// ```
/// use pyro_infer::diagnostics::autocorrelation;
///
/// let rho = autocorrelation(&[1.0, -1.0, 1.0, -1.0], 10);
/// assert_eq!(rho, vec![1.0, -0.75, 0.5, -0.25]);
/// ```
pub fn autocorrelation(x: &[f64], max_lag: usize) -> Vec<f64> {
    let Some(last) = x.len().checked_sub(1) else {
        return Vec::new();
    };
    let mean = mean(x);
    let centred: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let n = x.len() as f64;
    let acov = |lag: usize| lagged_product_sum(&centred, lag) / n;
    let acov0 = acov(0);
    (0..=max_lag.min(last))
        .map(|lag| acov(lag) / acov0)
        .collect()
}

/// Quantile `q` of already sorted data: R's type 7, numpy's `quantile(method="linear")`.
///
/// The value at the virtual index `(n - 1) q`, linearly interpolated between its two neighbours,
/// with numpy's arithmetic: for finite data the result equals numpy's to the bit. `sorted` must
/// be in ascending order (as `sort_by(f64::total_cmp)` leaves it; this is not checked).
///
/// Returns `None` for empty data, `q` outside `[0, 1]` or NaN, and data holding a NaN (numpy's
/// NaN). With infinite data, a virtual index on a data point gives that point, one between a
/// finite value and an infinity gives the infinity, and one strictly between `-inf` and `inf`
/// gives `None` (numpy gives NaN whenever it interpolates next to an infinity).
///
/// ```
/// use pyro_infer::diagnostics::quantile;
///
/// let sorted = [1.0, 2.0, 4.0, 8.0];
/// assert_eq!(quantile(&sorted, 0.5), Some(3.0));
/// assert_eq!(quantile(&sorted, 1.0), Some(8.0));
/// assert_eq!(quantile(&sorted, 1.5), None);
/// ```
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) || sorted.iter().any(|x| x.is_nan()) {
        return None;
    }
    let last = sorted.len() - 1;
    let index = last as f64 * q;
    if index >= last as f64 {
        return Some(sorted[last]);
    }
    let below = index.floor();
    let i = below as usize;
    let (a, b, t) = (sorted[i], sorted[i + 1], index - below);
    if t == 0.0 || a == b {
        // numpy's interpolation also gives `a` for finite data.
        Some(a)
    } else if a.is_finite() && b.is_finite() {
        Some(lerp(a, b, t))
    } else if a.is_infinite() && b.is_infinite() {
        // -inf and inf (sorted, unequal).
        None
    } else if a.is_infinite() {
        Some(a)
    } else {
        Some(b)
    }
}

/// numpy's linear interpolation from `a` (at `t = 0`) to `b` (at `t = 1`), anchored at the nearer
/// end: exact at both ends and on ties.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The type 7 quantile `p` of sorted data (at least 2 values), with the arithmetic of SciPy's
/// `mquantiles(alphap=1, betap=1)`, which ArviZ's tail ESS uses.
///
/// It interpolates as `(1 - g) x_lo + g x_hi`, which on ties may differ from the tied value by an
/// ulp (numpy's interpolation in [`quantile`] does not); the tail ESS compares draws with this
/// threshold, so it must round alike to give ArviZ's indicators.
fn mquantile_type7(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let aleph = n as f64 * p + (1.0 - p);
    let k = aleph.clamp(1.0, (n - 1) as f64).floor();
    let gamma = (aleph - k).clamp(0.0, 1.0);
    let k = k as usize;
    (1.0 - gamma) * sorted[k - 1] + gamma * sorted[k]
}

/// The number of draws per chain if `chains` can be diagnosed: at least `min_chains` chains, all
/// of the same length of at least [`MIN_DRAWS`], all draws finite.
fn validate(chains: &[&[f64]], min_chains: usize) -> Option<usize> {
    let n = chains.first()?.len();
    let valid = chains.len() >= min_chains
        && n >= MIN_DRAWS
        && chains
            .iter()
            .all(|c| c.len() == n && c.iter().all(|x| x.is_finite()));
    valid.then_some(n)
}

/// Draws of split chains: `chains` chains of `len` draws each, chain-major in `values`.
struct SplitDraws {
    chains: usize,
    len: usize,
    values: Vec<f64>,
}

impl SplitDraws {
    /// The same chains holding `values` instead (one per draw, same order).
    fn with_values(&self, values: Vec<f64>) -> SplitDraws {
        debug_assert_eq!(values.len(), self.values.len());
        SplitDraws {
            chains: self.chains,
            len: self.len,
            values,
        }
    }

    /// The draws of each chain.
    fn iter(&self) -> std::slice::Chunks<'_, f64> {
        self.values.chunks(self.len)
    }
}

/// `f` of the draws of validated `chains`, each chain split in two: the first `n / 2` draws of
/// every chain, then the last `n / 2` draws of every chain (the order of ArviZ's split; the middle
/// draw of an odd `n` is dropped).
fn split_chains(chains: &[&[f64]], f: impl Fn(f64) -> f64) -> SplitDraws {
    let n = chains[0].len();
    let half = n / 2;
    let mut values = Vec::with_capacity(2 * half * chains.len());
    for part in [0..half, n - half..n] {
        for chain in chains {
            values.extend(chain[part.clone()].iter().map(|&x| f(x)));
        }
    }
    SplitDraws {
        chains: 2 * chains.len(),
        len: half,
        values,
    }
}

/// Average ranks (1-based; ties share the mean of their ranks, as SciPy's
/// `rankdata(method="average")`) of finite `values`.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let value = values[order[start]];
        // `==` rather than the sort's order, so that -0.0 and 0.0 tie.
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| values[i] == value)
                .count();
        // Ordinal ranks start + 1 ..= end; their mean:
        let rank = (start + 1) as f64 + (end - start - 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Normal scores of the pooled ranks: `Phi^{-1}((r - 3/8) / (S - 3/4 + 1))`, `S` values.
fn normal_scores(values: &[f64]) -> Vec<f64> {
    let denominator = values.len() as f64 - 2.0 * BLOM_OFFSET + 1.0;
    average_ranks(values)
        .into_iter()
        .map(|r| ndtri((r - BLOM_OFFSET) / denominator))
        .collect()
}

/// The mean of non-empty `x`, corrected by a second pass over the residuals (exact for constant
/// data, and more accurate than one sum otherwise).
fn mean(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let rough = x.iter().sum::<f64>() / n;
    rough + x.iter().map(|v| v - rough).sum::<f64>() / n
}

/// The variance of `x` (at least 2 values) with `n - 1` in the denominator.
fn sample_variance(x: &[f64]) -> f64 {
    let mean = mean(x);
    x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (x.len() - 1) as f64
}

/// The median of `x`: the mean of the two middle values for an even count, as numpy's.
fn median(x: &[f64]) -> f64 {
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// `sum_{i < n - lag} x_i x_{i + lag}`.
fn lagged_product_sum(x: &[f64], lag: usize) -> f64 {
    x.iter().zip(&x[lag..]).map(|(a, b)| a * b).sum()
}

/// The (non-split) R-hat of the chains of `draws`: `sqrt((B / W + n - 1) / n)`. NaN if every
/// chain is constant and all agree (0/0), infinite if every chain is constant but they differ.
fn rhat_of(draws: &SplitDraws) -> f64 {
    let n = draws.len as f64;
    let means: Vec<f64> = draws.iter().map(mean).collect();
    let variances: Vec<f64> = draws.iter().map(sample_variance).collect();
    let between = n * sample_variance(&means);
    let within = variances.iter().sum::<f64>() / variances.len() as f64;
    ((between / within + n - 1.0) / n).sqrt()
}

/// The multi-chain effective sample size of the chains of `draws` (at least 2 draws each), by
/// Geyer's initial positive and initial monotone sequences, as ArviZ's `_ess`.
///
/// The autocorrelation estimate at lag `t` is `rho_t = 1 - (W - mean_c acov_{c,t}) / var_plus`,
/// `W` the mean within-chain variance and `var_plus` its biased version plus the variance of the
/// chain means. Autocovariances are summed directly, lag by lag, and only for the lags the
/// initial positive sequence reaches: `O(draws * lags reached)`. ArviZ computes all lags by FFT;
/// the values are the same up to rounding.
fn ess_of(draws: &SplitDraws) -> Option<f64> {
    let (chains, n) = (draws.chains, draws.len);
    let total = (chains * n) as f64;
    let (min, max) = draws
        .values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if max - min < CONSTANT_SPREAD {
        return Some(total);
    }

    let means: Vec<f64> = draws.iter().map(mean).collect();
    let centred: Vec<Vec<f64>> = draws
        .iter()
        .zip(&means)
        .map(|(chain, m)| chain.iter().map(|x| x - m).collect())
        .collect();
    let nf = n as f64;
    // The mean over chains of the biased autocovariance at `lag`.
    let mean_acov = |lag: usize| {
        centred
            .iter()
            .map(|c| lagged_product_sum(c, lag) / nf)
            .sum::<f64>()
            / chains as f64
    };
    let mean_var = mean_acov(0) * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if chains > 1 {
        var_plus += sample_variance(&means);
    }
    let rho = |lag: usize| 1.0 - (mean_var - mean_acov(lag)) / var_plus;

    // rho_hat[t] for the lags in use; the lags not reached stay 0.
    let mut rho_hat = vec![0.0; n];
    let mut even = 1.0;
    let mut odd = rho(1);
    rho_hat[0] = even;
    rho_hat[1] = odd;

    // Geyer's initial positive sequence: pairs (rho_{t+1}, rho_{t+2}) while their sum is
    // positive (a pair summing to exactly 0 is kept, and ends the sequence).
    let mut t = 1;
    while t + 3 < n && even + odd > 0.0 {
        even = rho(t + 1);
        odd = rho(t + 2);
        if even + odd >= 0.0 {
            rho_hat[t + 1] = even;
            rho_hat[t + 2] = odd;
        }
        t += 2;
    }
    // ArviZ's max_t = t - 2 (-1 if no pair was taken); `end` = max_t + 1.
    let end = t - 1;
    // Keep the last even lag if positive, as ArviZ's "improve estimation" step.
    if even > 0.0 {
        rho_hat[end] = even;
    }

    // Geyer's initial monotone sequence: no pair sum above the one before it.
    let mut t = 1;
    while t + 3 <= end {
        let previous = rho_hat[t - 1] + rho_hat[t];
        if rho_hat[t + 1] + rho_hat[t + 2] > previous {
            rho_hat[t + 1] = previous / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }

    if rho_hat.iter().any(|r| r.is_nan()) {
        return None;
    }
    let tau = -1.0 + 2.0 * rho_hat[..end].iter().sum::<f64>() + rho_hat[end];
    let tau = tau.max(1.0 / total.log10());
    Some(total / tau)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_hand_computed_values() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&x, 0.0), Some(1.0));
        assert_eq!(quantile(&x, 0.25), Some(1.75));
        assert_eq!(quantile(&x, 0.5), Some(2.5));
        assert_eq!(quantile(&x, 0.75), Some(3.25));
        assert_eq!(quantile(&x, 1.0), Some(4.0));
        // (n - 1) q = 1 exactly: the second value.
        assert_eq!(quantile(&x, 1.0 / 3.0), Some(2.0));
        assert_eq!(quantile(&[-2.0, 0.0, 10.0], 0.9), Some(8.0));
        assert_eq!(quantile(&[7.5], 0.3), Some(7.5));
        // Ties give the tied value exactly.
        let tied = [0.1, 0.1, 0.1, 0.1];
        for q in [0.0, 0.05, 0.3, 0.5, 0.95, 1.0] {
            assert_eq!(quantile(&tied, q), Some(0.1));
        }
    }

    #[test]
    fn quantile_rejects_bad_input() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[1.0, 2.0], -0.1), None);
        assert_eq!(quantile(&[1.0, 2.0], 1.1), None);
        assert_eq!(quantile(&[1.0, 2.0], f64::NAN), None);
        assert_eq!(quantile(&[1.0, f64::NAN], 0.0), None);
    }

    #[test]
    fn quantile_of_infinite_data() {
        let inf = f64::INFINITY;
        assert_eq!(quantile(&[-inf, inf], 0.5), None);
        assert_eq!(quantile(&[-inf, inf], 0.0), Some(-inf));
        assert_eq!(quantile(&[-inf, inf], 1.0), Some(inf));
        assert_eq!(quantile(&[1.0, inf], 0.0), Some(1.0));
        assert_eq!(quantile(&[1.0, inf], 0.7), Some(inf));
        assert_eq!(quantile(&[-inf, 1.0, 2.0], 0.25), Some(-inf));
        assert_eq!(quantile(&[-inf, 1.0, 2.0], 0.75), Some(1.5));
        assert_eq!(quantile(&[inf, inf], 0.3), Some(inf));
    }

    #[test]
    fn mquantile_is_type_7() {
        // aleph = 20 * 0.05 + 0.95 = 1.95: 0.05 x_0 + 0.95 x_1.
        let x: Vec<f64> = (0..20).map(f64::from).collect();
        assert!((mquantile_type7(&x, 0.05) - 0.95).abs() < 1e-15);
        assert!((mquantile_type7(&x, 0.95) - 18.05).abs() < 1e-13);
        assert_eq!(mquantile_type7(&x, 0.0), 0.0);
        assert_eq!(mquantile_type7(&x, 1.0), 19.0);
    }

    #[test]
    fn ties_share_their_average_rank() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]),
            vec![4.0, 1.0, 4.0, 2.0, 4.0]
        );
        assert_eq!(
            average_ranks(&[0.5, -0.0, 0.0, 0.5]),
            vec![3.5, 1.5, 1.5, 3.5]
        );
        assert_eq!(average_ranks(&[2.0, 2.0, 2.0]), vec![2.0, 2.0, 2.0]);
        assert_eq!(average_ranks(&[]), Vec::<f64>::new());
        // Tied draws get equal scores, symmetric ranks opposite ones.
        let z = normal_scores(&[1.0, 5.0, 5.0, 9.0]);
        assert_eq!(z[1], z[2]);
        assert_eq!(z[0], -z[3]);
        assert!(z[0] < z[1] && z[2] < z[3]);
    }

    #[test]
    fn median_is_numpys() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    /// A multi-chain diagnostic.
    type Diagnostic = fn(&[&[f64]]) -> Option<f64>;

    #[test]
    fn invalid_input_gives_none_without_panicking() {
        let good = [0.3, -1.2, 0.8, 2.0, -0.4, 1.1];
        let short = [0.3, -1.2, 0.8];
        let with_nan = [0.3, f64::NAN, 0.8, 2.0, -0.4, 1.1];
        let with_inf = [0.3, f64::INFINITY, 0.8, 2.0, -0.4, 1.1];
        let with_neg_inf = [0.3, -1.2, 0.8, 2.0, f64::NEG_INFINITY, 1.1];
        let cases: [&[&[f64]]; 9] = [
            &[],
            &[&[]],
            &[&[], &[]],
            &[&short, &short],
            &[&good, &with_nan],
            &[&good, &with_inf],
            &[&with_neg_inf, &good],
            &[&good, &good[..5]],
            &[&good[..5], &good],
        ];
        let functions: [(&str, Diagnostic); 4] = [
            ("split_rhat", split_rhat),
            ("ess_bulk", ess_bulk),
            ("ess_tail", ess_tail),
            ("ess_mean", ess_mean),
        ];
        for (name, f) in functions {
            for (i, chains) in cases.iter().enumerate() {
                assert_eq!(f(chains), None, "{name}, case {i}");
            }
            assert!(f(&[&good, &good]).is_some(), "{name}");
        }
        // R-hat needs two chains; the ESS does with one.
        assert_eq!(split_rhat(&[&good]), None);
        assert!(ess_bulk(&[&good]).is_some());
        assert!(ess_tail(&[&good]).is_some());
        assert!(ess_mean(&[&good]).is_some());

        assert!(autocorrelation(&[], 5).is_empty());
        assert_eq!(autocorrelation(&[1.0, 2.0, 4.0], 0), vec![1.0]);
        assert!(autocorrelation(&with_nan, 3).iter().all(|r| r.is_nan()));
        assert!(autocorrelation(&with_inf, 3).iter().all(|r| r.is_nan()));
        assert!(autocorrelation(&[2.0; 4], 9).iter().all(|r| r.is_nan()));
        assert_eq!(autocorrelation(&[2.0; 4], 9).len(), 4);
        assert!(autocorrelation(&[2.0], 9)[0].is_nan());
    }

    #[test]
    fn constant_draws() {
        // 4 chains of 101: the split keeps 2 * 50 draws of each.
        let c = [2.5; 101];
        let chains = [&c[..], &c, &c, &c];
        assert_eq!(split_rhat(&chains), None);
        assert_eq!(ess_bulk(&chains), Some(400.0));
        assert_eq!(ess_tail(&chains), Some(400.0));
        assert_eq!(ess_mean(&chains), Some(400.0));
        // Each chain constant, the chains apart: R-hat is infinite.
        let (a, b) = ([1.0; 8], [2.0; 8]);
        assert_eq!(split_rhat(&[&a, &b]), Some(f64::INFINITY));
    }

    #[test]
    fn split_drops_the_middle_draw() {
        // The middle draws (±100) are dropped; the split chains are [1, 2], [3, 4], [5, 6],
        // [7, 8]. Dropping any other draw would rank the ±100 among the others.
        let a = [1.0, 2.0, 100.0, 5.0, 6.0];
        let b = [3.0, 4.0, -100.0, 7.0, 8.0];
        let chains = [&a[..], &b[..]];

        // By hand: the draws are their own ranks r = 1..8, with scores z_r symmetric about 0
        // (z_{9-r} = -z_r). The half-chain means are m1, m2, -m2, -m1 (mean 0), their variances
        // (z2 - z1)^2 / 2, (z4 - z3)^2 / 2 twice each; n = 2 draws per half-chain.
        let z = |r: f64| ndtri((r - 0.375) / 8.25);
        let (m1, m2) = ((z(1.0) + z(2.0)) / 2.0, (z(3.0) + z(4.0)) / 2.0);
        let between = 2.0 * (2.0 * m1 * m1 + 2.0 * m2 * m2) / 3.0;
        let within = ((z(2.0) - z(1.0)).powi(2) + (z(4.0) - z(3.0)).powi(2)) / 4.0;
        let bulk = ((between / within + 1.0) / 2.0).sqrt();
        // The folded draws |x - 4.5| are in chains [3.5, 2.5], [1.5, 0.5], [0.5, 1.5],
        // [2.5, 3.5]: the same means two by two, a smaller R-hat.
        let rhat = split_rhat(&chains).unwrap();
        assert!((rhat - bulk).abs() < 1e-14 * bulk, "{rhat} vs {bulk}");
        // ArviZ 0.23.4: az.rhat(np.array([a, b])).
        assert!((rhat - 2.9994207791566874).abs() < 1e-12);

        // 2 draws per half-chain, 8 in all: the ESS is at its floor 8 log10(8) (tau = 0 raised to
        // 1 / log10(8)).
        let floor = 8.0 * 8f64.log10();
        assert!((ess_mean(&chains).unwrap() - floor).abs() < 1e-12);
    }

    #[test]
    fn folded_rhat_sees_a_wider_chain() {
        // Same location, one chain four times as wide: the bulk R-hat is close to 1, the folded
        // one is not.
        let base: Vec<f64> = (0..400)
            .map(|i| ((i * 37 % 400) as f64 - 199.5) / 100.0)
            .collect();
        let wide: Vec<f64> = base.iter().map(|x| 4.0 * x).collect();
        let bulk_only = {
            let draws = split_chains(&[&base, &base, &wide], |x| x);
            rhat_of(&draws.with_values(normal_scores(&draws.values)))
        };
        let rhat = split_rhat(&[&base, &base, &wide]).unwrap();
        assert!(bulk_only < 1.01, "{bulk_only}");
        assert!(rhat > 1.1, "{rhat}");
    }

    #[test]
    fn antithetic_chain_has_ess_above_its_length() {
        // Alternating signs: strongly negative lag-1 autocorrelation.
        let a: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 } * (1.0 + (i as f64 * 0.37).sin() * 0.5))
            .collect();
        let b: Vec<f64> = a.iter().rev().copied().collect();
        assert!(ess_mean(&[&a, &b]).unwrap() > 400.0);
    }
}
