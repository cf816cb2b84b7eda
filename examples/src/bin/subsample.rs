//! Minibatch SVI through a subsampled plate: 10,000 points `y_i ~ Normal(mu, 2)` from a known
//! normal (mu = 3, drawn with a fixed seed), `mu ~ Normal(0, 10)`, the data in
//! `Plate::new("data", 10_000).subsample_size(100)`. Each run of the model sees 100 points; the
//! plate multiplies their log-likelihood by 10,000 / 100 = 100, so that the ELBO estimate and its
//! gradient are unbiased for the full data. One traced run prints that scale on the sites. The
//! guide `mu ~ Normal(loc, scale)` is fitted twice, with one minibatch per step and with ten
//! (ten particles, each drawing its own), and printed beside the exact conjugate posterior: with
//! one, the minibatch noise leaves the fitted scale too wide; with ten, the fit reaches the
//! full-data answer.
//!
//! The Pyro equivalent: `with pyro.plate("data", 10_000, subsample_size=100) as idx:
//! pyro.sample("y", dist.Normal(mu, 2.), obs=data[idx])`, fitted by `SVI` with a hand-written
//! guide.
//!
//! Run: `cargo run --release -p pyro-examples --bin subsample` (`-- --fast` for a short run).

use pyro_core::distributions::{Batched, Constraint, Distribution, Normal, Real, Value};
use pyro_core::infer::{ClippedAdam, Svi, TraceElbo};
use pyro_core::poutine::{
    Plate, PyroError, PyroRng, observe, param, sample, trace, with_param_store,
};
use pyro_core::rand::SeedableRng;
use std::error::Error;
use std::sync::Arc;

/// The number of data points and the minibatch size.
const N: usize = 10_000;
const BATCH: usize = 100;
/// The known noise scale and the prior of `mu`.
const SIGMA: f64 = 2.0;
const PRIOR_SD: f64 = 10.0;

/// The model: a mean, and the data in a subsampled plate (only the minibatch is scored). The
/// data come as an `Arc` so that each run's copy of the arguments is a pointer.
fn model(data: Arc<[f64]>) -> Result<(), PyroError> {
    let mu = sample("mu", Normal::new(0.0, PRIOR_SD))?;
    Plate::new("data", data.len())
        .subsample_size(BATCH)
        .run(|idx| {
            let batch: Vec<f64> = idx.iter().map(|i| data[i]).collect();
            observe(
                "y",
                Batched::iid(Normal::new(mu, SIGMA)?, batch.len())?,
                batch,
            )?;
            Ok(())
        })
}

/// The guide: `mu ~ Normal(loc, scale)`, and the same plate, so that its minibatch is the
/// model's (replayed into it).
fn guide(data: Arc<[f64]>) -> Result<(), PyroError> {
    let loc = param("loc", Real::from(0.0), Constraint::Real)?;
    let scale = param("scale", Real::from(1.0), Constraint::Positive)?;
    sample("mu", Normal::new(loc, scale))?;
    Plate::new("data", data.len())
        .subsample_size(BATCH)
        .run(|_| Ok(()))
}

/// A parameter's current value from the store.
fn stored(name: &str) -> Result<f64, Box<dyn Error>> {
    match with_param_store(|s| s.get(name)) {
        Some(Value::Real(x)) => Ok(x),
        other => Err(format!("parameter {name}: {other:?}").into()),
    }
}

/// Fits the guide from scratch by SVI, `particles` minibatches per step (each particle runs the
/// guide, and so draws its own subsample): ClippedAdam with its rate decaying a thousandfold over
/// the run (Pyro's `lrd`). Returns the fitted `(loc, scale)`.
fn fit(
    data: &Arc<[f64]>,
    particles: usize,
    steps: usize,
    verbose: bool,
) -> Result<(f64, f64), Box<dyn Error>> {
    with_param_store(|s| s.clear());
    let lrd = 0.001_f64.powf(1.0 / steps as f64);
    let optim = ClippedAdam::new(0.05)?.lrd(lrd)?;
    let elbo = TraceElbo::new().num_particles(particles)?;
    let mut svi = Svi::new(model, guide, optim, elbo).seed(1);
    let t = std::time::Instant::now();
    for step in 0..steps {
        let loss = svi.step(data)?;
        if verbose && step % (steps / 5) == 0 {
            println!(
                "  step {step:>6}: loss {loss:>10.1}, loc {:.4}, scale {:.4}",
                stored("loc")?,
                stored("scale")?
            );
        }
    }
    let (loc, scale) = (stored("loc")?, stored("scale")?);
    let seen = steps * particles * BATCH;
    println!(
        "SVI, {steps} steps of {particles} x {BATCH} points ({:.2} s; {:.0} passes over the data): \
         loc {loc:.4}, scale {scale:.4}",
        t.elapsed().as_secs_f64(),
        seen as f64 / N as f64
    );
    Ok((loc, scale))
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let steps = if fast { 3_000 } else { 20_000 };

    let mut rng = PyroRng::seed_from_u64(2024);
    let truth = Normal::new(3.0, SIGMA)?;
    let data: Arc<[f64]> = (0..N).map(|_| truth.sample(&mut rng).value()).collect();

    // One run, traced: the observed site in the plate carries the scale N / BATCH = 100; the
    // plate's own site `data` holds the indices it drew.
    let tr = trace(model).get_trace(data.clone())?;
    println!("one traced run of the model ({N} points, minibatch {BATCH}):");
    for site in tr.iter() {
        let plates: Vec<String> = site
            .cond_indep_stack
            .iter()
            .map(|f| format!("{}[{} of {}]", f.name, f.size, f.full_size))
            .collect();
        let what = match (&site.value, site.is_observed) {
            (_, true) => "observed",
            (Some(Value::Ints(_)), false) => "indices",
            _ => "latent",
        };
        println!(
            "  {:<5} {what:<8} scale {:>5}  plates {}",
            site.name.to_string(),
            site.scale,
            if plates.is_empty() {
                "-".to_string()
            } else {
                plates.join(", ")
            }
        );
    }

    // The exact posterior: mu | y ~ Normal(m, s) with precision 1 / 10^2 + N / 2^2 and mean
    // (sum y / 2^2) / precision (the normal prior is conjugate to the known-variance normal).
    let precision = 1.0 / PRIOR_SD.powi(2) + N as f64 / SIGMA.powi(2);
    let exact_mean = data.iter().sum::<f64>() / SIGMA.powi(2) / precision;
    let exact_sd = precision.sqrt().recip();

    // One minibatch per step: the gradient's noise dominates (the minibatch's gradient in mu has
    // a standard deviation of about 100 * sqrt(100) * 2 / 2^2 = 500, against a full-data
    // curvature of 2500), and the fitted scale comes out some 1.3-1.7 times the exact one (the
    // mean is right). Ten particles per step average ten minibatches (1000 of the 10,000 points)
    // and the fit reaches the full-data answer.
    println!();
    let mut fits = Vec::new();
    for particles in [1, 10] {
        fits.push((particles, fit(&data, particles, steps, !fast)?));
    }
    println!("\nposterior of mu            mean       sd   (mean - exact) / sd");
    for (particles, (loc, scale)) in fits {
        println!(
            "SVI, {particles:>2} minibatch(es)  {loc:>8.4} {scale:>8.4}   {:>6.2}",
            (loc - exact_mean) / exact_sd
        );
    }
    println!("exact (full data)      {exact_mean:>8.4} {exact_sd:>8.4}");
    Ok(())
}
