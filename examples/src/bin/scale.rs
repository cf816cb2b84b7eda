//! Pyro's introductory "scale" model: `weight ~ Normal(8.5, 1)`, `measurement ~ Normal(weight,
//! 0.75)` observed at 9.5. Estimates the posterior mean of the weight and the log evidence by
//! self-normalised importance sampling with the prior as proposal, and prints them beside the
//! exact values (posterior Normal(9.14, 0.6)).
//!
//! Run: `cargo run --release -p pyro-examples --bin scale` (`-- --fast` for a short run).

use pyro_core::distributions::{Distribution, Normal, ParamError};
use pyro_core::rand::SeedableRng;
use pyro_core::rand::rngs::Xoshiro256PlusPlus;

fn main() -> Result<(), ParamError> {
    let fast = std::env::args().any(|a| a == "--fast");
    let particles = if fast { 20_000 } else { 2_000_000 };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);

    let prior = Normal::new(8.5, 1.0)?;
    let observed = 9.5;
    let mut log_weights = Vec::with_capacity(particles);
    let mut weights_draws = Vec::with_capacity(particles);
    for _ in 0..particles {
        let weight = prior.sample(&mut rng);
        log_weights.push(Normal::new(weight, 0.75)?.log_prob(&observed));
        weights_draws.push(weight);
    }
    let max = log_weights
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = log_weights.iter().map(|w| (w - max).exp()).sum();
    let log_evidence = max + sum.ln() - (particles as f64).ln();
    let mean = log_weights
        .iter()
        .zip(&weights_draws)
        .map(|(w, x)| (w - max).exp() * x)
        .sum::<f64>()
        / sum;

    let exact_precision = 1.0 + 1.0 / 0.5625;
    let exact_mean = (8.5 + 9.5 / 0.5625) / exact_precision;
    let exact_log_evidence = Normal::new(8.5, (1.0_f64 + 0.5625).sqrt())?.log_prob(&observed);
    println!("scale model, {particles} particles, prior as proposal");
    println!("posterior mean of weight: {mean:.4} (exact {exact_mean:.4})");
    println!("log evidence:             {log_evidence:.4} (exact {exact_log_evidence:.4})");
    Ok(())
}
