//! [`Importance`]: importance sampling with the prior or a guide as proposal, in parallel.

use crate::accumulate::{
    ChunkSeries, NEG_INF, POS_INF, SeriesWire, SeriesWireOut, StatsWire, WeightedStats,
};
use crate::error::InferError;
use crate::particle::{Prior, Proposal, Recorder, TraceParticle, Workspace};
use indicatif::{ProgressBar, ProgressStyle};
use pyro_poutine::distributions::Value;
use pyro_poutine::{IntoModel, Model, Name, SiteNames, SiteValues, Trace, Weigher};
use rayon::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Particles per chunk. Chunks are the unit of parallel work and of the order in which statistics
/// are merged; the size is fixed, so results do not depend on the number of threads.
const CHUNK: usize = 256;

/// Chunks per thread of the pool in a wave: chunks run in waves of this many per thread (at most
/// [`MAX_WAVE_CHUNKS`]), each wave merged in chunk order before the next starts, so that a run
/// keeps the results of at most one wave at a time, whatever its number of particles. A wave
/// (65,536 particles per thread: 5 ms of M1, the lightest benchmark model, on one thread) is long
/// enough that threads waiting at its end for the last chunk, and the merge, cost little.
const WAVE_CHUNKS_PER_THREAD: usize = 256;

/// The most chunks in a wave, whatever the number of threads: a streaming chunk's results take
/// about 250 bytes (for one tracked scalar), so a wave holds at most about half a megabyte.
const MAX_WAVE_CHUNKS: usize = 2048;

/// Importance sampling (Pyro's `Importance`).
///
/// The proposal is [`Prior`] (built by [`Importance::new`]) or a [`Guide`](crate::Guide) (set
/// with [`Importance::guide`]).
///
/// Per particle `i`, with a guide: `guide_trace = trace(guide)`, `model_trace =
/// trace(replay(model, guide_trace))`, and the log-weight is `model_trace.log_prob_sum() -
/// guide_trace.log_prob_sum()`. With the prior as proposal ([`Importance::new`]) the guide would
/// be the model with its observed sites hidden: both traces then hold the same latent sites with
/// the same values and densities, and the log-weight is exactly the observed log-likelihood of
/// the draw, so each particle runs the model once.
///
/// Particles run in parallel with rayon, in chunks of 256 merged in chunk order; particle `i`'s
/// generators derive from the run's seed and `i` alone, so a run gives bit-identical results for
/// any number of threads. Every particle runs under `block`, so nothing leaks into an enclosing
/// trace. Chunks run in waves of a bounded number, each merged before the next starts: the
/// streaming mode ([`run_streaming`](Importance::run_streaming)) runs in memory that does not
/// depend on the number of particles, and a run can be split into shards over ranges of
/// particles, on several machines, whose merge is bit for bit the whole run
/// ([`run_streaming_range`](Importance::run_streaming_range)).
///
/// ```
/// use pyro_infer::Importance;
/// use pyro_poutine::distributions::{Normal, Real};
/// use pyro_poutine::{PyroError, observe, sample};
///
/// // Pyro's introductory model: the posterior of `weight` is Normal(9.14, 0.6).
/// let scale = |guess: f64| -> Result<Real, PyroError> {
///     let weight = sample("weight", Normal::new(guess, 1.0))?;
///     observe("measurement", Normal::new(weight, 0.75), 9.5)?;
///     Ok(weight)
/// };
/// let posterior = Importance::new(scale, 20_000).seed(1).run(8.5)?;
/// let weight = posterior.marginal("weight")?;
/// assert!((weight.mean()[0] - 9.14).abs() < 0.05);
/// // log evidence: log Normal(9.5 | 8.5, 1.25) = -1.4621
/// assert!((posterior.log_normalizer()? + 1.4621).abs() < 0.05);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Importance<M, G = Prior> {
    model: M,
    guide: G,
    num_samples: usize,
    seed: u64,
    progress: bool,
    keep_sites: Option<Arc<[Name]>>,
}

impl<M> Importance<M, Prior> {
    /// Importance sampling of `model` (a model, or a function of no arguments) with
    /// `num_samples` particles drawn from the prior.
    pub fn new<T: IntoModel<Mk, Model = M>, Mk>(model: T, num_samples: usize) -> Self {
        Importance {
            model: model.into_model(),
            guide: Prior,
            num_samples,
            seed: 0,
            progress: false,
            keep_sites: None,
        }
    }
}

impl<M, G> Importance<M, G> {
    /// Uses `guide` (a model over the same latent sites) as the proposal.
    pub fn guide<T: IntoModel<Mk>, Mk>(self, guide: T) -> Importance<M, crate::Guide<T::Model>> {
        Importance {
            model: self.model,
            guide: crate::Guide(guide.into_model()),
            num_samples: self.num_samples,
            seed: self.seed,
            progress: self.progress,
            keep_sites: self.keep_sites,
        }
    }

    /// The seed of the run (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Shows a progress bar on standard error (off by default).
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Keeps only the values of `sites` per particle instead of whole traces, which saves memory
    /// and time ([`Posterior::traces`] is then `None`).
    pub fn keep_sites(mut self, sites: impl SiteNames) -> Self {
        self.keep_sites = Some(sites.into_names().into());
        self
    }
}

/// The values of the sites given to [`Importance::keep_sites`], per particle.
#[derive(Clone, Debug)]
struct KeptSites {
    names: Arc<[Name]>,
    values: Vec<SiteValues>,
}

/// The result of [`Importance::run`]: per-particle log-weights and traces (or kept site values).
#[derive(Clone, Debug)]
pub struct Posterior {
    log_weights: Vec<f64>,
    traces: Option<Vec<Trace>>,
    kept: Option<KeptSites>,
    stats: WeightedStats,
    zero_weights: Option<ZeroWeightSites>,
}

impl Posterior {
    /// The log-weight of each particle, in particle order.
    pub fn log_weights(&self) -> &[f64] {
        &self.log_weights
    }

    /// The number of particles.
    pub fn num_samples(&self) -> usize {
        self.log_weights.len()
    }

    /// The model trace of each particle, in particle order (`None` with
    /// [`Importance::keep_sites`]).
    pub fn traces(&self) -> Option<&[Trace]> {
        self.traces.as_deref()
    }

    /// The log evidence estimate `logsumexp(w) - ln N`.
    pub fn log_normalizer(&self) -> Result<f64, InferError> {
        log_normalizer(&self.stats, self.zero_weights.as_ref())
    }

    /// The normalised weights `exp(w - logsumexp(w))`, summing to one.
    pub fn normalized_weights(&self) -> Result<Vec<f64>, InferError> {
        let lse = log_sum_exp(&self.stats, self.zero_weights.as_ref())?;
        Ok(self.log_weights.iter().map(|w| (w - lse).exp()).collect())
    }

    /// The effective sample size `1 / sum(normalized^2)`.
    pub fn ess(&self) -> Result<f64, InferError> {
        ess(&self.stats, self.zero_weights.as_ref())
    }

    /// The weighted empirical distribution of `sites`, their values concatenated per particle.
    /// `sites` is a name (`"weight"`) or a list of names.
    pub fn marginal(&self, sites: impl SiteNames) -> Result<crate::EmpiricalMarginal, InferError> {
        self.marginal_of(&sites.into_names())
            .map_err(|e| self.name_zero_weight_sites(e))
    }

    /// A [`InferError::ZeroWeights`] from the marginal, which does not know the particles, with
    /// the first particle and its sites that scored `-inf`.
    fn name_zero_weight_sites(&self, e: InferError) -> InferError {
        match e {
            InferError::ZeroWeights { particle: None, .. } => {
                zero_weights(self.zero_weights.as_ref())
            }
            e => e,
        }
    }

    fn marginal_of(&self, sites: &[Name]) -> Result<crate::EmpiricalMarginal, InferError> {
        if let Some(traces) = &self.traces {
            return crate::EmpiricalMarginal::from_sites(traces, sites, self.log_weights.clone());
        }
        let KeptSites {
            names,
            values: kept,
        } = self.kept.as_ref().expect("traces or kept sites");
        let positions = sites
            .iter()
            .map(|s| {
                names
                    .iter()
                    .position(|n| n == s)
                    .ok_or_else(|| InferError::UnknownSite {
                        site: s.clone(),
                        known: names.to_vec(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let samples = kept
            .iter()
            .enumerate()
            .map(|(index, values)| {
                let mut joined = Vec::new();
                for (&p, site) in positions.iter().zip(sites) {
                    let v = values[p].as_ref().ok_or_else(|| InferError::MissingSite {
                        site: site.clone(),
                        index,
                    })?;
                    append_reals(site, v, &mut joined)?;
                }
                Ok(Value::Reals(joined))
            })
            .collect::<Result<Vec<_>, InferError>>()?;
        crate::EmpiricalMarginal::new(samples, self.log_weights.clone())
    }

    /// The weighted empirical distribution of the model's return value (Pyro's default
    /// `EmpiricalMarginal` site), which must be a [`ValueType`](pyro_poutine::distributions::ValueType).
    pub fn output_marginal<R>(&self) -> Result<crate::EmpiricalMarginal, InferError>
    where
        R: pyro_poutine::distributions::ValueType,
    {
        let traces = self.traces.as_ref().ok_or_else(|| InferError::BadValue {
            site: Name::from("_RETURN"),
            reason: "the run kept sites only, not the return values".into(),
        })?;
        let samples = traces
            .iter()
            .map(|t| {
                t.output::<R>()
                    .cloned()
                    .map(R::into_value)
                    .ok_or_else(|| InferError::BadValue {
                        site: Name::from("_RETURN"),
                        reason: format!("the return value is not a {}", R::TYPE_NAME),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        crate::EmpiricalMarginal::new(samples, self.log_weights.clone())
            .map_err(|e| self.name_zero_weight_sites(e))
    }
}

/// The first particle of a run in which no particle has positive weight, and the sites that
/// scored `-inf` in it (found by running it again under a tracer).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZeroWeightSites {
    particle: usize,
    sites: Vec<Name>,
}

/// The error of a run in which no particle has positive weight, naming the sites that scored
/// `-inf` in its first particle when they are known.
#[cold]
fn zero_weights(known: Option<&ZeroWeightSites>) -> InferError {
    InferError::ZeroWeights {
        particle: known.map(|z| z.particle),
        sites: known.map(|z| z.sites.clone()).unwrap_or_default(),
    }
}

/// The statistics of a [`StreamingPosterior`].
#[derive(Clone, Debug)]
enum ShardStats {
    /// Particles from 0: the chunks' statistics merged in chunk order, as one run merges them.
    FromStart(WeightedStats),
    /// Particles from a later chunk: each chunk's statistics, kept apart so that
    /// [`StreamingPosterior::merge`] can merge them after those of the particles before them,
    /// one by one, as one run does.
    Chunks(ChunkSeries),
}

/// The result of [`Importance::run_streaming`] (or of
/// [`run_streaming_range`](Importance::run_streaming_range), a shard of a run): running
/// statistics only, in memory that does not grow with the number of particles.
///
/// A shard of a run can be merged with the shard that follows it ([`merge`](Self::merge)), on
/// the same machine or after a trip through serde (JSON keeps `-inf` and the other non-finite
/// numbers as `"-inf"`, `"inf"`, `"NaN"`, as [`pyro_trace::JsonF64`] does), into the statistics
/// of one run over both shards' particles, bit for bit.
///
/// **Memory.** A run, or a shard starting at particle 0, keeps one set of running statistics
/// (two reals per tracked element and a few more), whatever its number of particles. A shard
/// starting at a later particle keeps the statistics of each of its chunks of 256 particles
/// apart (`3 + 2 d` reals per chunk for `d` tracked elements, 40 bytes per chunk for one scalar
/// site): merging statistics is not associative in floating point, and this is what lets
/// [`merge`](Self::merge) reproduce, after the statistics of the particles before the shard, the
/// exact chunk-by-chunk merge of one run. A merge onto a shard starting at 0 folds them into its
/// running statistics.
#[derive(Clone, Debug)]
pub struct StreamingPosterior {
    particles: Range<usize>,
    seed: u64,
    proposal: &'static str,
    sites: Vec<(Name, Range<usize>)>,
    stats: ShardStats,
    zero_weights: Option<ZeroWeightSites>,
}

impl StreamingPosterior {
    /// The number of particles.
    pub fn num_samples(&self) -> usize {
        self.particles.len()
    }

    /// The indices of the particles the statistics are of: `0..num_samples` for
    /// [`Importance::run_streaming`], the range given to
    /// [`Importance::run_streaming_range`] for a shard, and the union of the shards after
    /// [`merge`](Self::merge).
    pub fn particles(&self) -> Range<usize> {
        self.particles.clone()
    }

    /// The log evidence estimate `logsumexp(w) - ln N`.
    pub fn log_normalizer(&self) -> Result<f64, InferError> {
        log_normalizer(&self.stats(), self.zero_weights.as_ref())
    }

    /// The effective sample size.
    pub fn ess(&self) -> Result<f64, InferError> {
        ess(&self.stats(), self.zero_weights.as_ref())
    }

    /// The weighted mean of `site` (one entry per element).
    ///
    /// An element that is `+inf` (or `-inf`) in a particle of positive weight has mean `+inf`
    /// (`-inf`); one that is `+inf` in such a particle and `-inf` in another has no mean: an
    /// [`InferError::BadValue`] naming the site and the element.
    pub fn mean(&self, site: impl Into<Name>) -> Result<Vec<f64>, InferError> {
        let site = &site.into();
        let range = self.range(site)?;
        let stats = self.stats();
        log_sum_exp(&stats, self.zero_weights.as_ref())?;
        range
            .clone()
            .map(|i| match stats.infinite(i) {
                0 => Ok(stats.mean()[i]),
                POS_INF => Ok(f64::INFINITY),
                NEG_INF => Ok(f64::NEG_INFINITY),
                _ => Err(InferError::BadValue {
                    site: site.clone(),
                    reason: format!(
                        "element {} is +inf in a particle of positive weight and -inf in \
                         another: its mean is undefined",
                        i - range.start
                    ),
                }),
            })
            .collect()
    }

    /// The weighted variance of `site` (one entry per element); `+inf` for an element that is
    /// infinite in a particle of positive weight.
    pub fn variance(&self, site: impl Into<Name>) -> Result<Vec<f64>, InferError> {
        let range = self.range(&site.into())?;
        let stats = self.stats();
        log_sum_exp(&stats, self.zero_weights.as_ref())?;
        let variance = stats.variance();
        Ok(range
            .map(|i| match stats.infinite(i) {
                0 => variance[i],
                _ => f64::INFINITY,
            })
            .collect())
    }

    /// Merges `next`, the shard of the same run whose particles follow this one's: afterwards
    /// this holds the statistics of both shards' particles, bit for bit those of one run over
    /// them (on any number of threads).
    ///
    /// # Errors
    /// [`InferError::InvalidArgument`] (`next`), leaving this unchanged, when `next` does not
    /// start where this ends (a gap, an overlap, or shards merged out of order: merge them in
    /// particle order), when this ends off a chunk boundary (only the last shard of a run may),
    /// or when the shards come from runs of other seeds or proposals, or track other sites.
    ///
    /// ```
    /// use pyro_infer::{Importance, StreamingPosterior};
    /// use pyro_infer::poutine::distributions::{Normal, Real};
    /// use pyro_infer::poutine::{Name, PyroError, observe, sample};
    ///
    /// let scale = |_: ()| -> Result<Real, PyroError> {
    ///     let weight = sample("weight", Normal::new(8.5, 1.0))?;
    ///     observe("measurement", Normal::new(weight, 0.75), 9.5)?;
    ///     Ok(weight)
    /// };
    /// let sites = [Name::from("weight")];
    /// let run = Importance::new(scale, 10_000).seed(3);
    /// // Two machines run a shard each; the second sends its shard as JSON.
    /// let mut first = run.run_streaming_range((), &sites, 0..5120)?;
    /// let second = run.run_streaming_range((), &sites, 5120..10_000)?;
    /// let json = serde_json::to_string(&second).unwrap();
    /// let second: StreamingPosterior = serde_json::from_str(&json).unwrap();
    /// first.merge(&second)?;
    /// let whole = run.run_streaming((), &sites)?;
    /// assert_eq!(first.particles(), 0..10_000);
    /// assert_eq!(first.log_normalizer()?.to_bits(), whole.log_normalizer()?.to_bits());
    /// assert_eq!(first.mean(&sites[0])?, whole.mean(&sites[0])?);
    /// # Ok::<(), pyro_infer::InferError>(())
    /// ```
    pub fn merge(&mut self, next: &StreamingPosterior) -> Result<(), InferError> {
        let bad = |reason: String| {
            Err(InferError::InvalidArgument {
                name: "next",
                reason,
            })
        };
        if self.seed != next.seed {
            return bad(format!(
                "the shards come from runs seeded {} and {}: only shards of one run merge",
                self.seed, next.seed
            ));
        }
        if self.proposal != next.proposal {
            return bad(format!(
                "the shards come from runs with other proposals ({} and {}): only shards of \
                 one run merge",
                self.proposal, next.proposal
            ));
        }
        if self.sites != next.sites {
            return bad(format!(
                "the shards track other sites ({} and {}): only shards of one run merge",
                describe_sites(&self.sites),
                describe_sites(&next.sites)
            ));
        }
        let (a, b) = (&self.particles, &next.particles);
        if b.start > a.end {
            return bad(format!(
                "particles {b:?} do not follow particles {a:?}: particles {:?} are missing",
                a.end..b.start
            ));
        }
        if b.end <= a.start {
            return bad(format!(
                "particles {b:?} come before particles {a:?}: merge shards in particle order"
            ));
        }
        if b.start < a.end {
            return bad(format!(
                "particles {b:?} overlap particles {a:?}: particles {:?} are in both",
                a.start.max(b.start)..a.end.min(b.end)
            ));
        }
        if !a.end.is_multiple_of(CHUNK) {
            return bad(format!(
                "particles {a:?} end at {}, off a chunk boundary (a multiple of {CHUNK}): only \
                 the last shard of a run may, and nothing can follow it",
                a.end
            ));
        }
        match (&mut self.stats, &next.stats) {
            (ShardStats::FromStart(stats), ShardStats::Chunks(chunks)) => {
                let mut merged = Some(stats.clone());
                chunks.replay_onto(&mut merged, chunk_counts(b.clone()));
                if let Some(merged) = merged {
                    *stats = merged;
                }
            }
            (ShardStats::Chunks(chunks), ShardStats::Chunks(more)) => chunks.append(more),
            // `next` starts at a chunk boundary after this one's first particle.
            (_, ShardStats::FromStart(_)) => {
                return bad(format!(
                    "particles {b:?} start at 0 and cannot follow particles {a:?}"
                ));
            }
        }
        self.particles.end = b.end;
        self.zero_weights = if self.has_positive_weight() {
            None
        } else {
            self.zero_weights
                .take()
                .or_else(|| next.zero_weights.clone())
        };
        Ok(())
    }

    /// The statistics of the particles, merged in chunk order.
    fn stats(&self) -> Cow<'_, WeightedStats> {
        match &self.stats {
            ShardStats::FromStart(stats) => Cow::Borrowed(stats),
            ShardStats::Chunks(chunks) => {
                let mut merged = None;
                chunks.replay_onto(&mut merged, chunk_counts(self.particles.clone()));
                Cow::Owned(merged.unwrap_or_else(|| WeightedStats::new(self.dim())))
            }
        }
    }

    /// Whether some particle has positive weight.
    fn has_positive_weight(&self) -> bool {
        match &self.stats {
            ShardStats::FromStart(stats) => stats.log_sum_exp().is_some(),
            ShardStats::Chunks(chunks) => chunks.any_positive(),
        }
    }

    /// The number of tracked elements.
    fn dim(&self) -> usize {
        self.sites.last().map_or(0, |(_, r)| r.end)
    }

    fn range(&self, site: &Name) -> Result<Range<usize>, InferError> {
        self.sites
            .iter()
            .find(|(n, _)| n == site)
            .map(|(_, r)| r.clone())
            .ok_or_else(|| InferError::UnknownSite {
                site: site.clone(),
                known: self.sites.iter().map(|(n, _)| n.clone()).collect(),
            })
    }

    /// Reads the serialised form back, checking it.
    fn from_wire(w: WireIn) -> Result<Self, String> {
        let particles = w.particles;
        if particles.is_empty() {
            return Err(format!("particles {particles:?}: no particle"));
        }
        if !particles.start.is_multiple_of(CHUNK) {
            return Err(format!(
                "particles {particles:?} start off a chunk boundary (a multiple of {CHUNK})"
            ));
        }
        let proposal = match w.proposal.as_str() {
            "prior" => "prior",
            "guide" => "guide",
            other => return Err(format!("proposal '{other}': expected 'prior' or 'guide'")),
        };
        let mut sites = Vec::with_capacity(w.sites.len());
        let mut dim = 0usize;
        for s in w.sites {
            let end = dim
                .checked_add(s.elements)
                .ok_or_else(|| format!("site '{}': too many elements", s.site))?;
            sites.push((s.site, dim..end));
            dim = end;
        }
        let stats = match (particles.start, w.stats, w.chunks) {
            (0, Some(stats), None) => {
                let stats = WeightedStats::from_wire(stats, dim)?;
                if stats.count != particles.len() {
                    return Err(format!(
                        "the statistics count {} particles, not the {} of particles {particles:?}",
                        stats.count,
                        particles.len()
                    ));
                }
                ShardStats::FromStart(stats)
            }
            (1.., None, Some(chunks)) => {
                let n = particles.end.div_ceil(CHUNK) - particles.start / CHUNK;
                ShardStats::Chunks(ChunkSeries::from_wire(chunks, dim, n)?)
            }
            _ => {
                return Err(format!(
                    "particles {particles:?}: expected 'stats' (for a shard from particle 0) or \
                     'chunks' (for a later shard), not both or neither"
                ));
            }
        };
        if let Some(z) = &w.zero_weights
            && !particles.contains(&z.particle)
        {
            return Err(format!(
                "the zero-weight particle {} is not one of particles {particles:?}",
                z.particle
            ));
        }
        Ok(StreamingPosterior {
            particles,
            seed: w.seed,
            proposal,
            sites,
            stats,
            zero_weights: w.zero_weights,
        })
    }
}

/// `'a' (2 elements), 'b' (1 element)`.
fn describe_sites(sites: &[(Name, Range<usize>)]) -> String {
    let names: Vec<String> = sites
        .iter()
        .map(|(n, r)| {
            let s = if r.len() == 1 { "" } else { "s" };
            format!("'{n}' ({} element{s})", r.len())
        })
        .collect();
    if names.is_empty() {
        "no site".into()
    } else {
        names.join(", ")
    }
}

/// The number of particles of each chunk of `particles` (which starts on a chunk boundary).
fn chunk_counts(particles: Range<usize>) -> impl Iterator<Item = usize> {
    particles
        .clone()
        .step_by(CHUNK)
        .map(move |start| CHUNK.min(particles.end - start))
}

/// A tracked site in the serialised form: its name and number of elements.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteWire {
    site: Name,
    elements: usize,
}

/// The serialised form of a [`StreamingPosterior`], borrowed.
#[derive(Serialize)]
struct WireOut<'a> {
    particles: &'a Range<usize>,
    seed: u64,
    proposal: &'static str,
    sites: Vec<SiteWire>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats: Option<StatsWire>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chunks: Option<SeriesWireOut<'a>>,
    zero_weights: Option<&'a ZeroWeightSites>,
}

/// The serialised form of a [`StreamingPosterior`], read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireIn {
    particles: Range<usize>,
    seed: u64,
    proposal: String,
    sites: Vec<SiteWire>,
    #[serde(default)]
    stats: Option<StatsWire>,
    #[serde(default)]
    chunks: Option<SeriesWire>,
    #[serde(default)]
    zero_weights: Option<ZeroWeightSites>,
}

/// Writes the particle range, the run's seed and proposal, the tracked sites with their numbers
/// of elements, and the statistics (`stats` for a shard from particle 0, else `chunks`: per
/// chunk `max, sum, sum_sq`, the means and the second moments, flat), non-finite numbers as
/// `"inf"`, `"-inf"` and `"NaN"`.
impl Serialize for StreamingPosterior {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (stats, chunks) = match &self.stats {
            ShardStats::FromStart(stats) => (Some(stats.to_wire()), None),
            ShardStats::Chunks(chunks) => (None, Some(chunks.to_wire())),
        };
        WireOut {
            particles: &self.particles,
            seed: self.seed,
            proposal: self.proposal,
            sites: self
                .sites
                .iter()
                .map(|(site, r)| SiteWire {
                    site: site.clone(),
                    elements: r.len(),
                })
                .collect(),
            stats,
            chunks,
            zero_weights: self.zero_weights.as_ref(),
        }
        .serialize(s)
    }
}

/// Reads what [`Serialize`] wrote, checking that it is consistent (an error says what is not).
impl<'de> Deserialize<'de> for StreamingPosterior {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StreamingPosterior::from_wire(WireIn::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

fn log_sum_exp(stats: &WeightedStats, zero: Option<&ZeroWeightSites>) -> Result<f64, InferError> {
    if stats.count == 0 {
        return Err(InferError::Empty);
    }
    stats.log_sum_exp().ok_or_else(|| zero_weights(zero))
}

fn log_normalizer(
    stats: &WeightedStats,
    zero: Option<&ZeroWeightSites>,
) -> Result<f64, InferError> {
    Ok(log_sum_exp(stats, zero)? - (stats.count as f64).ln())
}

fn ess(stats: &WeightedStats, zero: Option<&ZeroWeightSites>) -> Result<f64, InferError> {
    log_sum_exp(stats, zero)?;
    stats.ess().ok_or_else(|| zero_weights(zero))
}

/// Appends the elements of a numeric value to `out`.
fn append_reals(site: &Name, v: &Value, out: &mut Vec<f64>) -> Result<(), InferError> {
    let nan = match v {
        Value::Real(x) => {
            out.push(*x);
            x.is_nan()
        }
        Value::Reals(xs) => {
            out.extend_from_slice(xs);
            xs.iter().any(|x| x.is_nan())
        }
        Value::Int(k) => {
            out.push(*k as f64);
            false
        }
        Value::Bool(b) => {
            out.push(f64::from(u8::from(*b)));
            false
        }
        Value::Ints(ks) => {
            out.extend(ks.iter().map(|&k| k as f64));
            false
        }
        Value::Bools(bs) => {
            out.extend(bs.iter().map(|&b| f64::from(u8::from(b))));
            false
        }
    };
    if nan {
        return Err(nan_value(site));
    }
    Ok(())
}

/// The error of a NaN value at `site`.
#[cold]
fn nan_value(site: &Name) -> InferError {
    InferError::BadValue {
        site: site.clone(),
        reason: "the value is NaN".into(),
    }
}

/// The value `v` particle `index` kept for `site`, or the error of a site it did not reach.
#[inline]
fn present<'a>(site: &Name, v: &'a Option<Value>, index: usize) -> Result<&'a Value, InferError> {
    match v {
        Some(v) => Ok(v),
        None => Err(missing_site(site, index)),
    }
}

/// The error of particle `index` not reaching `site`.
#[cold]
fn missing_site(site: &Name, index: usize) -> InferError {
    InferError::MissingSite {
        site: site.clone(),
        index,
    }
}

/// The error of particle `index` giving site `site` (with its first particle's range) `len`
/// elements.
#[cold]
fn other_length(index: usize, site: &(Name, Range<usize>), len: usize) -> InferError {
    InferError::BadValue {
        site: site.0.clone(),
        reason: format!(
            "particle {index} has {len} elements here, earlier particles {}",
            site.1.len()
        ),
    }
}

/// The results of a range of particles, in particle order.
struct Particles<K> {
    log_weights: Vec<f64>,
    kept: Vec<K>,
    stats: WeightedStats,
}

/// Runs `run(c)` for each chunk `c` of `chunks` in parallel and hands the results to `merge` in
/// chunk order, holding at most `wave` results at a time: chunks run in waves of `wave`, and a
/// wave's results are merged (and dropped) before the next wave starts.
///
/// The first chunk that fails stops the run after its wave, and its error is returned: the chunks
/// before it run and are merged, the chunks after it in its wave are skipped unless already
/// started, and later waves never start. The error is thus the lowest failing chunk's, whatever
/// the thread count.
fn in_order_waves<T: Send, E: Send>(
    chunks: Range<usize>,
    wave: usize,
    run: impl Fn(usize) -> Result<T, E> + Sync,
    mut merge: impl FnMut(T),
) -> Result<(), E> {
    let wave = wave.max(1);
    let mut results: Vec<Option<Result<T, E>>> = Vec::new();
    let mut start = chunks.start;
    while start < chunks.end {
        let end = start + wave.min(chunks.end - start);
        results.resize_with(end - start, || None);
        // The lowest chunk of the wave that failed: later ones are skipped.
        let first_failure = AtomicUsize::new(usize::MAX);
        results.par_iter_mut().enumerate().for_each(|(k, slot)| {
            let c = start + k;
            if c > first_failure.load(Ordering::Relaxed) {
                return;
            }
            let result = run(c);
            if result.is_err() {
                first_failure.fetch_min(c, Ordering::Relaxed);
            }
            *slot = Some(result);
        });
        // A skipped chunk (`None`) comes after a failed one, which ends the run first.
        for result in results.drain(..).flatten() {
            merge(result?);
        }
        start = end;
    }
    Ok(())
}

/// Merges `chunk`, the statistics of the next chunk, into `acc` (`None` before the first chunk,
/// which is taken as it is).
fn absorb(acc: &mut Option<WeightedStats>, chunk: WeightedStats) {
    match acc {
        None => *acc = Some(chunk),
        Some(s) => s.merge(&chunk),
    }
}

impl<M, G> Importance<M, G> {
    /// Runs every particle on `args` and keeps the traces (or the sites given to
    /// [`keep_sites`](Importance::keep_sites)).
    ///
    /// Memory grows with the particles as they are run (nothing is reserved up front for
    /// particles that have not run, so a model failing early fails cheaply however many
    /// particles were asked for).
    pub fn run<A>(&self, args: A) -> Result<Posterior, InferError>
    where
        A: Clone + Send + Sync,
        M: Model<A> + Sync,
        M::Output: Send + Sync + 'static,
        G: Proposal<M, A>,
    {
        match &self.keep_sites {
            None => {
                let p = self.run_stored(&args, TraceParticle::default)?;
                Ok(Posterior {
                    log_weights: p.log_weights,
                    traces: Some(p.kept),
                    kept: None,
                    zero_weights: self.zero_weight_sites(&args, &p.stats, 0),
                    stats: p.stats,
                })
            }
            Some(sites) => {
                let recorder = || Weigher::new(sites.clone());
                let p = self.run_stored(&args, recorder)?;
                Ok(Posterior {
                    log_weights: p.log_weights,
                    traces: None,
                    kept: Some(KeptSites {
                        names: sites.clone(),
                        values: p.kept,
                    }),
                    zero_weights: self.zero_weight_sites(&args, &p.stats, 0),
                    stats: p.stats,
                })
            }
        }
    }

    /// Runs every particle, keeping each one's log-weight and record, in particle order.
    fn run_stored<A, R>(
        &self,
        args: &A,
        recorder: impl Fn() -> R + Sync,
    ) -> Result<Particles<R::Kept>, InferError>
    where
        A: Clone + Send + Sync,
        M: Model<A> + Sync,
        M::Output: Send + Sync + 'static,
        G: Proposal<M, A>,
        R: Recorder,
    {
        if self.num_samples == 0 {
            return Err(InferError::Empty);
        }
        let (mut log_weights, mut kept, mut stats) = (Vec::new(), Vec::new(), None);
        let no_coords = |_: usize, _: &R::Kept, _: &mut Vec<f64>| Ok(());
        self.fold(
            args,
            0..self.num_samples,
            recorder,
            no_coords,
            true,
            |chunk| {
                log_weights.extend(chunk.log_weights);
                kept.extend(chunk.kept);
                absorb(&mut stats, chunk.stats);
            },
        )?;
        Ok(Particles {
            log_weights,
            kept,
            stats: stats.unwrap_or_else(|| WeightedStats::new(0)),
        })
    }

    /// The first particle of a run without a particle of positive weight (`particle`, as every
    /// particle has weight 0) and the sites that scored `-inf` in it, from a run of it under a
    /// tracer; `None` when `stats` has a positive weight (or the particle fails when run again).
    fn zero_weight_sites<A>(
        &self,
        args: &A,
        stats: &WeightedStats,
        particle: usize,
    ) -> Option<ZeroWeightSites>
    where
        A: Clone,
        M: Model<A> + Sync,
        M::Output: Send + Sync + 'static,
        G: Proposal<M, A>,
    {
        if stats.count == 0 || stats.log_sum_exp().is_some() {
            return None;
        }
        zero_weight_sites_of(self, args, particle)
    }

    /// Runs every particle on `args` keeping only running statistics: the log evidence, the ESS
    /// and the weighted mean and variance of `sites`. Memory does not grow with the number of
    /// particles (chunks run in waves of a bounded number, each merged before the next starts);
    /// the log evidence and ESS equal [`run`](Importance::run)'s bit for bit.
    pub fn run_streaming<A>(
        &self,
        args: A,
        sites: impl SiteNames,
    ) -> Result<StreamingPosterior, InferError>
    where
        A: Clone + Send + Sync,
        M: Model<A> + Sync,
        M::Output: Send + Sync + 'static,
        G: Proposal<M, A>,
    {
        self.run_streaming_range(args, sites, 0..self.num_samples)
    }

    /// Runs particles `particles` of the run (a shard of [`run_streaming`](Self::run_streaming)),
    /// keeping only running statistics, to be merged with the other shards by
    /// [`StreamingPosterior::merge`], possibly on another machine after a trip through serde.
    ///
    /// Particle `i` is the same whatever the shard (its generators derive from the seed and `i`
    /// alone), and shards merged in particle order give, bit for bit, the statistics of one run
    /// over their particles, on any number of threads. A shard must therefore start on a chunk
    /// boundary, a multiple of 256 particles, and end on one or at the run's end
    /// (`num_samples`): a shard ending elsewhere could not be followed, as the chunk it cuts would
    /// be merged in two pieces where one run merges it whole. The tracked sites' numbers of
    /// elements come from the shard's first particle (a run's come from particle 0); shards
    /// that disagree do not merge.
    ///
    /// A shard from particle 0 keeps only running statistics; a later shard keeps each chunk's
    /// (see [`StreamingPosterior`]).
    ///
    /// # Errors
    /// [`InferError::Empty`] for an empty range; [`InferError::InvalidArgument`] (`particles`)
    /// for a range outside `0..num_samples` or cut off a chunk boundary; else as
    /// [`run_streaming`](Self::run_streaming), for the shard's particles.
    ///
    /// ```
    /// use pyro_infer::Importance;
    /// use pyro_infer::poutine::distributions::{Normal, Real};
    /// use pyro_infer::poutine::{Name, PyroError, sample};
    ///
    /// let model = |_: ()| -> Result<Real, PyroError> { sample("x", Normal::new(0.0, 1.0)) };
    /// let run = Importance::new(model, 1000).seed(1);
    /// let x = [Name::from("x")];
    /// let mut shard = run.run_streaming_range((), &x, 0..512)?;
    /// shard.merge(&run.run_streaming_range((), &x, 512..1000)?)?;
    /// assert_eq!(shard.mean(&x[0])?, run.run_streaming((), &x)?.mean(&x[0])?);
    /// // A shard must start on a multiple of 256 particles.
    /// assert!(run.run_streaming_range((), &x, 100..512).is_err());
    /// # Ok::<(), pyro_infer::InferError>(())
    /// ```
    pub fn run_streaming_range<A>(
        &self,
        args: A,
        sites: impl SiteNames,
        particles: Range<usize>,
    ) -> Result<StreamingPosterior, InferError>
    where
        A: Clone + Send + Sync,
        M: Model<A> + Sync,
        M::Output: Send + Sync + 'static,
        G: Proposal<M, A>,
    {
        self.check_shard(&particles)?;
        let names: Arc<[Name]> = sites.into_names().into();
        let first = particles.start;
        // The layout of the coordinates is the first particle's, whatever the thread count: it
        // runs once more before the others (the same run, from the same seed).
        let layout = Workspace::new(Weigher::new(names.clone())).with_model_installed(|ws| {
            self.guide
                .particle(&self.model, args.clone(), self.seed, first, ws)
                .map_err(|source| InferError::Model {
                    index: first,
                    source,
                })?;
            let mut start = 0;
            let mut x = Vec::new();
            names
                .iter()
                .zip(ws.kept().iter())
                .map(|(site, v)| {
                    append_reals(site, present(site, v, first)?, &mut x)?;
                    let range = start..x.len();
                    start = x.len();
                    Ok((site.clone(), range))
                })
                .collect::<Result<Vec<_>, InferError>>()
        })?;
        let dim = layout.last().map_or(0, |(_, r)| r.end);
        let from_start = first == 0;
        let (mut acc, mut chunks) = (None, ChunkSeries::new(dim));
        self.fold(
            &args,
            particles.clone(),
            || Weigher::new(names.clone()),
            |index, kept: &SiteValues, x: &mut Vec<f64>| {
                // x starts empty: each site must end where the first particle's ended.
                for (site, v) in layout.iter().zip(kept) {
                    let start = x.len();
                    append_reals(&site.0, present(&site.0, v, index)?, x)?;
                    if x.len() != site.1.end {
                        return Err(other_length(index, site, x.len() - start));
                    }
                }
                Ok(())
            },
            false,
            |chunk| {
                if from_start {
                    absorb(&mut acc, chunk.stats);
                } else {
                    chunks.push(&chunk.stats);
                }
            },
        )?;
        let stats = if from_start {
            ShardStats::FromStart(acc.unwrap_or_else(|| WeightedStats::new(dim)))
        } else {
            ShardStats::Chunks(chunks)
        };
        let mut posterior = StreamingPosterior {
            particles,
            seed: self.seed,
            proposal: self.guide.kind(),
            sites: layout,
            stats,
            zero_weights: None,
        };
        if !posterior.has_positive_weight() {
            posterior.zero_weights = zero_weight_sites_of(self, &args, first);
        }
        Ok(posterior)
    }

    /// Checks the particles of a shard.
    fn check_shard(&self, particles: &Range<usize>) -> Result<(), InferError> {
        let bad = |reason: String| {
            Err(InferError::InvalidArgument {
                name: "particles",
                reason,
            })
        };
        if particles.start > particles.end || particles.end > self.num_samples {
            return bad(format!(
                "{particles:?} is not a range of the run's {} particles",
                self.num_samples
            ));
        }
        if particles.is_empty() {
            return Err(InferError::Empty);
        }
        if !particles.start.is_multiple_of(CHUNK)
            || (!particles.end.is_multiple_of(CHUNK) && particles.end != self.num_samples)
        {
            return bad(format!(
                "{particles:?}: a shard must start on a chunk boundary (a multiple of {CHUNK} \
                 particles) and end on one or at the run's end ({})",
                self.num_samples
            ));
        }
        Ok(())
    }

    /// Runs `particles` (starting on a chunk boundary) in fixed chunks, in parallel waves, and
    /// hands each chunk's results to `merge` in chunk order; `coords` appends the coordinates
    /// whose weighted moments are tracked; `keep` keeps every particle's log-weight and record.
    ///
    /// A chunk runs without looking for infinite coordinates, which the moments cannot take; a
    /// chunk that had one (its moments are no longer finite) runs again checking each particle
    /// (the same particles, from the same seeds), and so do the chunks after it: the statistics
    /// are the same whichever chunks ran checked, so results stay independent of the thread
    /// count, and a run without infinite values pays nothing.
    fn fold<A, R>(
        &self,
        args: &A,
        particles: Range<usize>,
        recorder: impl Fn() -> R + Sync,
        coords: impl Fn(usize, &R::Kept, &mut Vec<f64>) -> Result<(), InferError> + Sync,
        keep: bool,
        merge: impl FnMut(Particles<R::Kept>),
    ) -> Result<(), InferError>
    where
        A: Clone + Send + Sync,
        M: Model<A> + Sync,
        M::Output: Send + Sync + 'static,
        G: Proposal<M, A>,
        R: Recorder,
    {
        debug_assert!(particles.start.is_multiple_of(CHUNK));
        let bar = if self.progress {
            let bar = ProgressBar::new(particles.len() as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} particles ({per_sec}, {eta})")
            {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        let end = particles.end;
        let chunks = particles.start / CHUNK..end.div_ceil(CHUNK);
        let wave = (WAVE_CHUNKS_PER_THREAD * rayon::current_num_threads()).min(MAX_WAVE_CHUNKS);
        // Set once a chunk had an infinite coordinate: the chunks after it run checked at once.
        let infinities = AtomicBool::new(false);
        let result = in_order_waves(
            chunks,
            wave,
            |c| {
                let run = |checked| self.run_chunk(c, end, args, &recorder, &coords, keep, checked);
                let result = if infinities.load(Ordering::Relaxed) {
                    run(true)
                } else {
                    match run(false) {
                        Ok(chunk) if !chunk.stats.moments_finite() => {
                            infinities.store(true, Ordering::Relaxed);
                            run(true)
                        }
                        result => result,
                    }
                };
                bar.inc(CHUNK.min(end - c * CHUNK) as u64);
                result
            },
            merge,
        );
        bar.finish_and_clear();
        result
    }

    /// Runs chunk `c` (its particles below `end`); `checked`, looking for infinite coordinates
    /// (see [`Importance::fold`]).
    #[allow(clippy::too_many_arguments)]
    fn run_chunk<A, R>(
        &self,
        c: usize,
        end: usize,
        args: &A,
        recorder: &(impl Fn() -> R + Sync),
        coords: &(impl Fn(usize, &R::Kept, &mut Vec<f64>) -> Result<(), InferError> + Sync),
        keep: bool,
        checked: bool,
    ) -> Result<Particles<R::Kept>, InferError>
    where
        A: Clone + Send + Sync,
        M: Model<A> + Sync,
        M::Output: Send + Sync + 'static,
        G: Proposal<M, A>,
        R: Recorder,
    {
        let start = c * CHUNK;
        let particles = start..start.saturating_add(CHUNK).min(end);
        let mut chunk = Particles {
            log_weights: Vec::with_capacity(if keep { particles.len() } else { 0 }),
            kept: Vec::with_capacity(if keep { particles.len() } else { 0 }),
            stats: WeightedStats::new(0),
        };
        let mut dims_known = false;
        let mut x = Vec::new();
        Workspace::new(recorder()).with_model_installed(|workspace| {
            for index in particles {
                let lw = self
                    .guide
                    .particle(&self.model, args.clone(), self.seed, index, workspace)
                    .map_err(|source| InferError::Model { index, source })?;
                let mut record = workspace.kept();
                if lw.is_nan() || lw == f64::INFINITY {
                    return Err(InferError::BadValue {
                        site: Name::from("_log_weight"),
                        reason: format!("particle {index} has log-weight {lw}"),
                    });
                }
                x.clear();
                coords(index, &record, &mut x)?;
                if !dims_known {
                    chunk.stats = WeightedStats::new(x.len());
                    dims_known = true;
                }
                if checked {
                    chunk.stats.push_checked(lw, &x);
                } else {
                    chunk.stats.push(lw, &x);
                }
                if keep {
                    chunk.log_weights.push(lw);
                    chunk.kept.push(std::mem::take(&mut *record));
                }
            }
            Ok(())
        })?;
        Ok(chunk)
    }
}

/// The first particle of a run without positive weight and the sites that scored `-inf` in it:
/// `particle` run again, from the same seed, under a tracer (`None` if it fails this time).
#[cold]
fn zero_weight_sites_of<M, G, A>(
    run: &Importance<M, G>,
    args: &A,
    particle: usize,
) -> Option<ZeroWeightSites>
where
    A: Clone,
    M: Model<A> + Sync,
    M::Output: Send + Sync + 'static,
    G: Proposal<M, A>,
{
    let mut ws = Workspace::new(TraceParticle::default());
    ws.with_model_installed(|ws| {
        run.guide
            .particle(&run.model, args.clone(), run.seed, particle, ws)
    })
    .ok()?;
    Some(ZeroWeightSites {
        particle,
        sites: ws.impossible_sites(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Counts the results alive at once.
    #[derive(Default)]
    struct Live {
        now: AtomicUsize,
        max: AtomicUsize,
    }

    /// A chunk's result, counted while alive.
    struct Counted<'a>(usize, &'a Live);

    impl<'a> Counted<'a> {
        fn new(c: usize, live: &'a Live) -> Self {
            let now = live.now.fetch_add(1, Ordering::SeqCst) + 1;
            live.max.fetch_max(now, Ordering::SeqCst);
            Counted(c, live)
        }
    }

    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.1.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn waves_merge_in_chunk_order_holding_at_most_one_wave() {
        for threads in [1, 2, 4] {
            for (chunks, wave) in [(0..1000, 8), (5..105, 3), (0..10, 1), (0..7, 64)] {
                let live = Live::default();
                let mut merged = Vec::new();
                let result: Result<(), ()> = pool(threads).install(|| {
                    in_order_waves(
                        chunks.clone(),
                        wave,
                        |c| Ok(Counted::new(c, &live)),
                        |r| merged.push(r.0),
                    )
                });
                assert_eq!(result, Ok(()));
                assert_eq!(merged, chunks.clone().collect::<Vec<_>>());
                let max = live.max.load(Ordering::SeqCst);
                assert!(
                    max <= wave,
                    "{max} results alive at once, wave {wave}, {threads} threads"
                );
                assert_eq!(live.now.load(Ordering::SeqCst), 0);
            }
        }
    }

    #[test]
    fn waves_stop_at_the_lowest_failing_chunk() {
        for threads in [1, 2, 4] {
            let ran = Mutex::new(Vec::new());
            let mut merged = Vec::new();
            let result = pool(threads).install(|| {
                in_order_waves(
                    0..usize::MAX / 256,
                    8,
                    |c| {
                        ran.lock().unwrap().push(c);
                        if [37, 38, 90].contains(&c) {
                            Err(c)
                        } else {
                            Ok(c)
                        }
                    },
                    |c| merged.push(c),
                )
            });
            assert_eq!(result, Err(37), "{threads} threads");
            assert_eq!(merged, (0..37).collect::<Vec<_>>());
            // The failing chunk's wave is 32..40: no later wave started.
            let ran = ran.into_inner().unwrap();
            assert!(ran.iter().all(|&c| c < 40), "{ran:?}");
        }
    }

    #[test]
    fn chunk_counts_cover_the_particles() {
        assert_eq!(chunk_counts(0..600).collect::<Vec<_>>(), [256, 256, 88]);
        assert_eq!(chunk_counts(512..1024).collect::<Vec<_>>(), [256, 256]);
        assert_eq!(chunk_counts(256..257).collect::<Vec<_>>(), [1]);
    }
}
