//! The benchmark models of `shared/BENCH.md`, written with the library and, beside each, the
//! hand-written code that does the same arithmetic without handlers or traces (the floor the
//! benchmarks measure overhead against), run in two loops: [`by_hand`], which gives the
//! library's reproducibility guarantee (a generator per particle, chunks over rayon, results
//! identical for any number of threads), and [`plain_loop`], the fastest honest single-threaded
//! code for the job (one generator, a plain `for` loop). `cargo xtask bench` runs the benchmarks
//! in `benches/`.

use pyro_core::distributions::{
    Batched, Bernoulli, Beta, Constraint, Distribution, Geometric, HalfNormal, Normal, Real, Reals,
};
use pyro_core::infer::{Importance, Posterior, Potential};
use pyro_core::poutine::{Model, Name, Plate, PyroError, PyroRng, observe, sample};
use pyro_core::rand::rngs::Xoshiro256PlusPlus;
use pyro_core::rand::{RngExt, SeedableRng};
use pyro_core::tape::Tape;
use rand_distr::StandardNormal;
use rayon::prelude::*;

/// `ln(sqrt(2 pi))`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The M2 noise values (`data/linreg_eps.txt`, made by `data/gen_linreg_eps.py`).
pub fn linreg_eps() -> Vec<f64> {
    include_str!("../data/linreg_eps.txt")
        .lines()
        .map(|l| l.trim().parse().expect("a number per line"))
        .collect()
}

/// The M2 data: `(x_i, y_i)` with `x_i = i / 100`, `y_i = 1 + 2 x_i + 0.5 eps_i`.
pub fn linreg_data() -> (Vec<f64>, Vec<f64>) {
    let xs: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
    let ys = xs
        .iter()
        .zip(linreg_eps())
        .map(|(x, e)| 1.0 + 2.0 * x + 0.5 * e)
        .collect();
    (xs, ys)
}

/// The M3 data: 60 ones then 40 zeros.
pub fn coin_data() -> Vec<bool> {
    (0..100).map(|i| i < 60).collect()
}

/// M1 `scale`: `weight ~ Normal(8.5, 1)`, `measurement ~ Normal(weight, 0.75)` observed at 9.5.
pub fn scale(_: ()) -> Result<f64, PyroError> {
    let weight = sample("weight", Normal::new(8.5, 1.0))?;
    observe("measurement", Normal::new(weight, 0.75), 9.5)?;
    Ok(weight.value())
}

/// M2 `linreg`: 103 sites, each observation its own site `y_{i}`.
pub fn linreg(data: &(Vec<f64>, Vec<f64>)) -> Result<f64, PyroError> {
    let a = sample("a", Normal::new(0.0, 10.0))?;
    let b = sample("b", Normal::new(0.0, 10.0))?;
    let sigma = sample("sigma", HalfNormal::new(1.0))?;
    for (i, (x, y)) in data.0.iter().zip(&data.1).enumerate() {
        observe(
            Name::indexed("y", i as u64),
            Normal::new(a + b * x, sigma),
            *y,
        )?;
    }
    Ok(b.value())
}

/// M3 `coin`: `p ~ Beta(10, 10)`, 100 Bernoulli observations `x_{i}`.
pub fn coin(data: &[bool]) -> Result<f64, PyroError> {
    let p = sample("p", Beta::new(10.0, 10.0))?;
    for (i, x) in data.iter().enumerate() {
        observe(Name::indexed("x", i as u64), Bernoulli::new(p), *x)?;
    }
    Ok(p.value())
}

/// M3c: M3 written without observations, `x_{i} ~ Bernoulli(p)` sampled, for
/// [`coin_data_conditioned`] to condition as Pyro users do (`condition(model, data)`).
pub fn coin_unobserved(data: &[bool]) -> Result<f64, PyroError> {
    let p = sample("p", Beta::new(10.0, 10.0))?;
    for i in 0..data.len() {
        sample(Name::indexed("x", i as u64), Bernoulli::new(p))?;
    }
    Ok(p.value())
}

/// M3c's data: the flips under the names of [`coin_unobserved`]'s sites.
pub fn coin_data_conditioned(data: &[bool]) -> Vec<(Name, bool)> {
    data.iter()
        .enumerate()
        .map(|(i, x)| (Name::indexed("x", i as u64), *x))
        .collect()
}

/// M2v `linreg_vec`: M2 with the 100 observations in one vectorised site `y` in a plate.
pub fn linreg_vec(data: &(Vec<f64>, Vec<f64>)) -> Result<f64, PyroError> {
    let a = sample("a", Normal::new(0.0, 10.0))?;
    let b = sample("b", Normal::new(0.0, 10.0))?;
    let sigma = sample("sigma", HalfNormal::new(1.0))?;
    let (xs, ys) = data;
    Plate::new("data", xs.len()).run(|_| observe("y", Normal::batch(a + b * xs, sigma), ys))?;
    Ok(b.value())
}

/// M3v `coin_vec`: M3 with the 100 observations in one vectorised site `x` in a plate.
pub fn coin_vec(data: &[bool]) -> Result<f64, PyroError> {
    let p = sample("p", Beta::new(10.0, 10.0))?;
    Plate::new("data", data.len()).run(|_| {
        observe(
            "x",
            Batched::iid(Bernoulli::new(p)?, data.len()),
            data.to_vec(),
        )
    })?;
    Ok(p.value())
}

/// M4 `random_walk`: `n ~ Geometric(0.3)`, `n` standard normal steps, `y ~ Normal(sum, 1)`
/// observed at 2; returns `n`.
pub fn random_walk(_: ()) -> Result<i64, PyroError> {
    let n = sample("n", Geometric::new(0.3))?;
    let mut total = Real::constant(0.0);
    for i in 0..n {
        total += sample(Name::indexed("step", i as u64), Normal::new(0.0, 1.0))?;
    }
    observe("y", Normal::new(total, 1.0), 2.0)?;
    Ok(n)
}

/// One run of a hand-written model: the quantity of interest, the log-density of the latent
/// draws and the log-likelihood of the observations.
#[derive(Clone, Copy, Debug)]
pub struct HandRun {
    /// The quantity the benchmark reports (the model's return value).
    pub value: f64,
    /// The log prior density of the latent draws.
    pub log_prior: f64,
    /// The log-likelihood of the observations (the importance weight under the prior).
    pub log_lik: f64,
}

/// Hand-written M1: one draw and its log-densities, no handlers.
pub fn scale_by_hand<R: pyro_core::rand::Rng + ?Sized>(rng: &mut R) -> HandRun {
    let z: f64 = rng.sample(StandardNormal);
    let weight = 8.5 + z;
    let r = (9.5 - weight) / 0.75;
    HandRun {
        value: weight,
        log_prior: -0.5 * z * z - LN_SQRT_2PI,
        log_lik: -0.5 * r * r - 0.75_f64.ln() - LN_SQRT_2PI,
    }
}

/// Hand-written M2 (and M2v): draws and log-densities, no handlers.
pub fn linreg_by_hand<R: pyro_core::rand::Rng + ?Sized>(
    rng: &mut R,
    data: &(Vec<f64>, Vec<f64>),
) -> HandRun {
    let za: f64 = rng.sample(StandardNormal);
    let zb: f64 = rng.sample(StandardNormal);
    let zs: f64 = rng.sample(StandardNormal);
    let (a, b, sigma) = (10.0 * za, 10.0 * zb, zs.abs());
    let ln10 = 10.0_f64.ln();
    let mut log_prior = -0.5 * za * za - ln10 - LN_SQRT_2PI;
    log_prior += -0.5 * zb * zb - ln10 - LN_SQRT_2PI;
    log_prior += -0.5 * zs * zs + std::f64::consts::LN_2 - LN_SQRT_2PI;
    let ln_sigma = sigma.ln();
    let mut log_lik = 0.0;
    for (x, y) in data.0.iter().zip(&data.1) {
        let r = (y - (a + b * x)) / sigma;
        log_lik += -0.5 * r * r - ln_sigma - LN_SQRT_2PI;
    }
    HandRun {
        value: b,
        log_prior,
        log_lik,
    }
}

/// The log density of M2 in unconstrained space `(a, b, ln sigma)` and its gradient, by hand:
/// the baseline. `lp = ln N(a | 0, 10) + ln N(b | 0, 10) + ln HalfNormal(sigma | 1) + ln sigma
/// + sum_i ln N(y_i | a + b x_i, sigma)`.
pub fn linreg_gradient_by_hand((xs, ys): &(Vec<f64>, Vec<f64>), u: &[f64; 3]) -> (f64, [f64; 3]) {
    let [a, b, log_sigma] = *u;
    let sigma = log_sigma.exp();
    let (mut sum_sq, mut sum_r, mut sum_rx) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let r = (y - a - b * x) / sigma;
        sum_sq += r * r;
        sum_r += r;
        sum_rx += r * x;
    }
    let n = xs.len() as f64;
    let prior = -0.5 * (a * a + b * b) / 100.0 - 2.0 * (10.0_f64.ln() + LN_SQRT_2PI)
        + (-0.5 * sigma * sigma - LN_SQRT_2PI + std::f64::consts::LN_2);
    let lp = prior + log_sigma - 0.5 * sum_sq - n * (log_sigma + LN_SQRT_2PI);
    let grad = [
        -a / 100.0 + sum_r / sigma,
        -b / 100.0 + sum_rx / sigma,
        -sigma * sigma + 1.0 + sum_sq - n,
    ];
    (lp, grad)
}

/// The log density of M2 (`per_site`) or M2v (not `per_site`) and its gradient, as
/// [`linreg_gradient_by_hand`], computed on the library's tape with its distributions and
/// bijection but without handlers: the model's arithmetic and scores written straight on
/// `Real`s (one `log_prob_real` node per site, or one for the batch, and one node for the sum).
/// What a gradient costs the library before any handler work: the floor of any model run
/// through the handler stack. The terms go into `terms` (cleared first), a buffer the caller
/// keeps, as the potential keeps its own.
pub fn linreg_gradient_on_tape(
    (xs, ys): &(Vec<f64>, Vec<f64>),
    u: &[f64; 3],
    per_site: bool,
    terms: &mut Vec<(Real, f64)>,
    grad: &mut Vec<f64>,
) -> f64 {
    let tape = Tape::start().expect("no gradient is being taken on this thread");
    let leaves = [tape.leaf(u[0]), tape.leaf(u[1]), tape.leaf(u[2])];
    let [a, b, log_sigma] = leaves;
    let prior = Normal::new(0.0, 10.0).expect("a valid prior");
    let sigma = Constraint::Positive
        .to_constrained_real(log_sigma)
        .expect("the positive reals have a bijection");
    terms.clear();
    let jacobian = Constraint::Positive
        .log_abs_det_jacobian_real(log_sigma)
        .expect("the positive reals have a bijection");
    terms.push((jacobian, 1.0));
    terms.push((prior.log_prob_real(&a), 1.0));
    terms.push((prior.log_prob_real(&b), 1.0));
    let half_normal = HalfNormal::new(1.0).expect("a valid prior");
    terms.push((half_normal.log_prob_real(&sigma), 1.0));
    if per_site {
        for (x, y) in xs.iter().zip(ys) {
            let site = Normal::new(a + b * x, sigma).expect("a valid site");
            terms.push((site.log_prob_real(&Real::from(*y)), 1.0));
        }
    } else {
        let site = Normal::batch(a + b * xs, sigma).expect("a valid site");
        terms.push((site.log_prob_real(&Reals::constant(ys.clone())), 1.0));
    }
    let lp = terms.iter().map(|(term, _)| term.value()).sum();
    let total = Real::record(lp, terms);
    tape.backward_into(total, &leaves, grad)
        .expect("a gradient of this tape");
    lp
}

/// M2 or M2v, as a function pointer.
pub type LinregModel = fn(&(Vec<f64>, Vec<f64>)) -> Result<f64, PyroError>;

/// The log density of `model` (M2, or M2v when not `per_site`) and its gradient at `u`, computed
/// through [`Potential`] and by [`linreg_gradient_on_tape`]: what the gradient benchmark times,
/// to be checked against [`linreg_gradient_by_hand`].
pub fn linreg_gradient_two_ways(
    model: LinregModel,
    per_site: bool,
    data: &(Vec<f64>, Vec<f64>),
    u: &[f64; 3],
) -> [(f64, Vec<f64>); 2] {
    let potential =
        Potential::new(model, &data, &mut PyroRng::seed_from_u64(0)).expect("the model runs");
    let mut grad = Vec::new();
    let lp = potential
        .log_density(&data, u, &mut grad)
        .expect("a density");
    let mut grad_tape = Vec::new();
    let lp_tape = linreg_gradient_on_tape(data, u, per_site, &mut Vec::new(), &mut grad_tape);
    [(lp, grad), (lp_tape, grad_tape)]
}

/// Hand-written M3 (and M3v): a Beta draw through rand_distr and log-densities, no handlers.
pub fn coin_by_hand<R: pyro_core::rand::Rng + ?Sized>(
    rng: &mut R,
    prior: &rand_distr::Beta<f64>,
    data: &[bool],
) -> HandRun {
    let p: f64 = rng.sample(prior);
    // ln B(10, 10) = 2 lgamma(10) - lgamma(20).
    let ln_b = 2.0 * libm::lgamma(10.0) - libm::lgamma(20.0);
    let (lq, lr) = (p.ln(), (-p).ln_1p());
    let mut log_lik = 0.0;
    for &x in data {
        log_lik += if x { lq } else { lr };
    }
    HandRun {
        value: p,
        log_prior: 9.0 * lq + 9.0 * lr - ln_b,
        log_lik,
    }
}

/// Hand-written M4: the draws and log-densities, no handlers.
pub fn random_walk_by_hand<R: pyro_core::rand::Rng + ?Sized>(
    rng: &mut R,
    length: &rand_distr::Geometric,
) -> HandRun {
    let n = rng.sample(length);
    let mut total = 0.0;
    let mut log_prior = 0.3_f64.ln() + n as f64 * 0.7_f64.ln();
    for _ in 0..n {
        let z: f64 = rng.sample(StandardNormal);
        total += z;
        log_prior += -0.5 * z * z - LN_SQRT_2PI;
    }
    let r = 2.0 - total;
    HandRun {
        value: n as f64,
        log_prior,
        log_lik: -0.5 * r * r - LN_SQRT_2PI,
    }
}

/// Particles per chunk of the hand-written loop: the library's chunking, so both spread work
/// over threads the same way.
pub const CHUNK: usize = 256;

/// What a streaming run estimated.
#[derive(Clone, Copy, Debug)]
pub struct Estimate {
    /// The posterior mean of the reported quantity.
    pub mean: f64,
    /// The log evidence.
    pub log_evidence: f64,
}

/// The library's streaming importance sampler (prior proposal) on `model`, reporting `site`.
pub fn library<A, M>(model: M, args: A, site: &'static str, particles: usize) -> Estimate
where
    A: Clone + Send + Sync,
    M: Model<A> + Sync,
    M::Output: Send + Sync + 'static,
{
    let post = Importance::new(model, particles)
        .run_streaming(args, &[Name::from(site)])
        .expect("the benchmark model runs");
    Estimate {
        mean: post.mean(site).expect("mean")[0],
        log_evidence: post.log_normalizer().expect("log evidence"),
    }
}

/// The library's importance sampler (prior proposal) on `model` in stored mode
/// ([`Importance::run`]): the returned [`Posterior`] keeps every particle's whole trace.
pub fn library_stored<A, M>(model: M, args: A, particles: usize) -> Posterior
where
    A: Clone + Send + Sync,
    M: Model<A> + Sync,
    M::Output: Send + Sync + 'static,
{
    Importance::new(model, particles)
        .run(args)
        .expect("the benchmark model runs")
}

/// What a stored run estimated: the posterior mean of `site` (from its marginal over the kept
/// traces) and the log evidence.
pub fn stored_estimate(post: &Posterior, site: &'static str) -> Estimate {
    Estimate {
        mean: post.marginal(site).expect("marginal").mean()[0],
        log_evidence: post.log_normalizer().expect("log evidence"),
    }
}

/// A running log-sum-exp of log-weights and the weighted sum of a value, in one pass: the
/// accumulator of the hand-written loops.
#[derive(Clone, Copy, Debug)]
struct WeightedSum {
    /// The largest log-weight so far (the scale of `sum` and `sum_x`).
    max: f64,
    /// The sum of `exp(log_w - max)`.
    sum: f64,
    /// The sum of `exp(log_w - max) * value`.
    sum_x: f64,
}

impl WeightedSum {
    /// No particle yet.
    fn new() -> Self {
        WeightedSum {
            max: f64::NEG_INFINITY,
            sum: 0.0,
            sum_x: 0.0,
        }
    }

    /// Adds a particle of log-weight `log_w` and value `value`.
    #[inline(always)]
    fn push(&mut self, log_w: f64, value: f64) {
        if log_w > self.max {
            let f = (self.max - log_w).exp();
            self.sum *= f;
            self.sum_x *= f;
            self.max = log_w;
        }
        let w = (log_w - self.max).exp();
        self.sum += w;
        self.sum_x += w * value;
    }

    /// The weighted mean and the log evidence of `particles` particles.
    fn estimate(&self, particles: usize) -> Estimate {
        Estimate {
            mean: self.sum_x / self.sum,
            log_evidence: self.max + self.sum.ln() - (particles as f64).ln(),
        }
    }
}

/// The seed of [`plain_loop`]'s generator.
pub const PLAIN_SEED: u64 = 0;

/// The plain loop: the fastest honest single-threaded code for the job, as one would write it
/// without a reproducibility guarantee: one generator seeded once, a plain `for` loop over the
/// particles, and an online log-sum-exp / weighted-mean accumulator. Same runs (`run`), so same
/// arithmetic and distributions, as [`by_hand`]; same estimate to Monte-Carlo accuracy (not bit
/// for bit: the particles draw other random numbers).
pub fn plain_loop(
    particles: usize,
    mut run: impl FnMut(&mut Xoshiro256PlusPlus) -> HandRun,
) -> Estimate {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(PLAIN_SEED);
    let mut acc = WeightedSum::new();
    for _ in 0..particles {
        let r = run(&mut rng);
        acc.push(r.log_lik, r.value);
    }
    acc.estimate(particles)
}

/// The hand-written loop with the library's reproducibility guarantee: per particle a generator
/// seeded from the particle index, one run, and a log-sum-exp / weighted-mean accumulator per
/// chunk, merged in order, so that the result is the same for any number of threads.
pub fn by_hand(
    particles: usize,
    run: impl Fn(&mut Xoshiro256PlusPlus) -> HandRun + Sync,
) -> Estimate {
    let chunks: Vec<(f64, f64, f64)> = (0..particles.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let mut acc = WeightedSum::new();
            for i in c * CHUNK..((c + 1) * CHUNK).min(particles) {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(i as u64);
                let r = run(&mut rng);
                acc.push(r.log_lik, r.value);
            }
            (acc.max, acc.sum, acc.sum_x)
        })
        .collect();
    let max = chunks.iter().map(|c| c.0).fold(f64::NEG_INFINITY, f64::max);
    let (sum, sum_x) = chunks.iter().fold((0.0, 0.0), |(s, sx), c| {
        let f = (c.0 - max).exp();
        (s + c.1 * f, sx + c.2 * f)
    });
    Estimate {
        mean: sum_x / sum,
        log_evidence: max + sum.ln() - (particles as f64).ln(),
    }
}

/// A rayon pool of `threads` threads, for timing a run on a given number of threads.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

/// The median of `xs` (not empty): the figure the benchmarks report of their repeats.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs a Python reference script (`script`, relative to `benches/`, e.g.
/// `numpyro/nuts_m2.py`) with `args` on one thread, with the Python named by the environment
/// variable `python_var` (`NUMPYRO_PYTHON`, `PYRO_PYTHON`), else `python3`: the one line of JSON
/// it prints, or `None` (no such Python or package, or the script failed).
pub fn python_reference(
    python_var: &str,
    script: &str,
    args: &[String],
) -> Option<serde_json::Value> {
    let python = std::env::var(python_var).unwrap_or_else(|_| "python3".into());
    let script = format!("{}/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new(&python)
        .arg(&script)
        .args(args)
        .env(
            "XLA_FLAGS",
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        )
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let line = String::from_utf8(output.stdout).ok()?;
    serde_json::from_str(line.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three ways the gradient benchmark computes M2's and M2v's log density and gradient
    /// (through `Potential`, straight on the tape, by hand) agree: the ratios it prints compare
    /// the same computation. They sum the same terms in different orders, so they agree to a
    /// few roundings of the largest term (about 150 here): 1e-12 relative.
    #[test]
    fn the_gradient_benchmark_computes_one_density_three_ways() {
        let data = linreg_data();
        for u in [[0.9, 2.1, -0.7], [-1.5, 0.3, 1.2]] {
            let (lp_hand, grad_hand) = linreg_gradient_by_hand(&data, &u);
            for (model, per_site) in [(linreg as LinregModel, true), (linreg_vec, false)] {
                for (lp, grad) in linreg_gradient_two_ways(model, per_site, &data, &u) {
                    assert!(
                        (lp - lp_hand).abs() <= 1e-12 * lp_hand.abs(),
                        "{lp} {lp_hand}"
                    );
                    for (g, h) in grad.iter().zip(grad_hand) {
                        assert!((g - h).abs() <= 1e-12 * h.abs().max(1.0), "{g} {h}");
                    }
                }
            }
        }
    }
}
