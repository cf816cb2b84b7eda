//! A model whose number of sites is random (BENCH.md's M4): `n ~ Geometric(0.3)` steps of a
//! standard normal random walk, its end observed at 2.0 with unit noise. Importance sampling
//! weighs traces of different lengths; the posterior of `n` is printed beside the exact values.
//!
//! Run: `cargo run --release -p pyro-examples --bin random_walk` (`-- --fast` for a short run).

use pyro_core::distributions::{Geometric, Normal, Real};
use pyro_core::infer::Importance;
use pyro_core::poutine::{Name, PyroError, observe, sample};
use std::error::Error;

/// The model: a random number of steps, the end point observed.
fn random_walk(end: f64) -> Result<i64, PyroError> {
    let n = sample("n", Geometric::new(0.3))?;
    let mut position = Real::constant(0.0);
    for i in 0..n {
        position += sample(Name::indexed("step", i as u64), Normal::new(0.0, 1.0))?;
    }
    observe("end", Normal::new(position, 1.0), end)?;
    Ok(n)
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let particles = if fast { 20_000 } else { 1_000_000 };
    let posterior = Importance::new(random_walk, particles)
        .seed(0)
        .progress(!fast)
        .keep_sites(&[Name::from("n")])
        .run(2.0)?;
    let n = posterior.marginal(&[Name::from("n")])?;
    let weights = n.weights();
    let p = |k: f64| -> f64 {
        (0..n.len())
            .filter(|&i| n.sample(i)[0] == k)
            .map(|i| weights[i])
            .sum()
    };
    println!("random walk, {particles} particles, prior as proposal");
    println!("E[n | end = 2] = {:.4} (exact 2.7348)", n.mean()[0]);
    for (k, exact) in [(0.0, 0.17086), (1.0, 0.22989), (2.0, 0.18337)] {
        println!("P(n = {k} | end = 2) = {:.4} (exact {exact})", p(k));
    }
    println!(
        "log evidence {:.4} (exact -2.3560)",
        posterior.log_normalizer()?
    );
    Ok(())
}
