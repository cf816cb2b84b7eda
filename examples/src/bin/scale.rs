//! Pyro's introductory "scale" model: `weight ~ Normal(guess, 1)`, `measurement ~ Normal(weight,
//! 0.75)` observed at 9.5. Importance sampling with the prior as proposal estimates the posterior
//! of the weight and the log evidence, printed beside the exact values (the posterior is
//! Normal(9.14, 0.6)).
//!
//! Run: `cargo run --release -p pyro-examples --bin scale` (`-- --fast` for a short run).

use pyro_core::distributions::{Normal, Real};
use pyro_core::infer::Importance;
use pyro_core::poutine::{Name, PyroError, observe, sample};
use std::error::Error;

/// The model: a guess of the weight, then one noisy measurement of it.
fn scale(guess: f64) -> Result<Real, PyroError> {
    let weight = sample("weight", Normal::new(guess, 1.0))?;
    observe("measurement", Normal::new(weight, 0.75), 9.5)?;
    Ok(weight)
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let particles = if fast { 20_000 } else { 1_000_000 };

    let posterior = Importance::new(scale, particles)
        .seed(0)
        .progress(!fast)
        .keep_sites(&[Name::from("weight")])
        .run(8.5)?;
    let weight = posterior.marginal(&[Name::from("weight")])?;

    let precision = 1.0 + 1.0 / 0.5625;
    let exact_mean = (8.5 + 9.5 / 0.5625) / precision;
    let exact_sd = (1.0_f64 / precision).sqrt();
    let exact_log_evidence = {
        use pyro_core::distributions::Distribution;
        Normal::new(8.5, (1.0_f64 + 0.5625).sqrt())?.log_prob(&Real::from(9.5))
    };
    println!("scale model, {particles} particles, prior as proposal");
    println!(
        "posterior of weight: mean {:.4}, sd {:.4} (exact {exact_mean:.4}, {exact_sd:.4})",
        weight.mean()[0],
        weight.variance()[0].sqrt()
    );
    println!(
        "90% interval: [{:.3}, {:.3}]",
        weight.quantile(0.05)?[0],
        weight.quantile(0.95)?[0]
    );
    println!(
        "log evidence: {:.4} (exact {exact_log_evidence:.4}); effective sample size {:.0}",
        posterior.log_normalizer()?,
        posterior.ess()?
    );
    Ok(())
}
