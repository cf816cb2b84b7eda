//! Is the coin fair? A Beta(10, 10) prior on the probability of heads, and 100 flips with 60
//! heads, observed as one vectorised Bernoulli site in a plate (Pyro's "SVI Part I" coin, with
//! `pyro.plate("flips", 100)` and `dist.Bernoulli(p)` over the data tensor).
//!
//! Importance sampling (the prior as proposal), NUTS (`Mcmc` + `Nuts`, through the logit map of
//! the unit interval) and SVI with a hand-written Beta guide (its two concentrations are
//! `param`s with `Constraint::Positive`, as Pyro's `constraints.positive`) each estimate the
//! posterior, printed beside the exact one: Beta(70, 50).
//!
//! Run: `cargo run --release -p pyro-examples --bin coin` (`-- --fast` for the short run CI
//! makes).

use pyro_core::distributions::Constraint;
use pyro_core::infer::{Optimizer, Schedule};
use pyro_core::poutine::with_param_store;
use pyro_core::prelude::*;
use std::error::Error;

/// The prior's concentrations.
const PRIOR: (f64, f64) = (10.0, 10.0);

/// The model: the probability of heads, then the flips, independent given it.
fn coin(flips: Vec<bool>) -> Result<Real, PyroError> {
    let p = sample("p", Beta::new(PRIOR.0, PRIOR.1))?;
    let n = flips.len();
    Plate::new("flips", n).run(|_| observe("x", Batched::iid(Bernoulli::new(p)?, n), flips))?;
    Ok(p)
}

/// The guide: a Beta with learnable concentrations (Pyro's `alpha_q`, `beta_q`), started at
/// the prior's mean with more confidence than the prior has.
fn guide(_flips: Vec<bool>) -> Result<Real, PyroError> {
    let alpha = param("alpha_q", Real::from(15.0), Constraint::Positive)?;
    let beta = param("beta_q", Real::from(15.0), Constraint::Positive)?;
    sample("p", Beta::new(alpha, beta))
}

/// The value of a real parameter in the store.
fn stored(name: &str) -> Result<f64, Box<dyn Error>> {
    match with_param_store(|s| s.get(name)) {
        Some(Value::Real(x)) => Ok(x),
        other => Err(format!("parameter {name}: {other:?}").into()),
    }
}

/// Mean and standard deviation of Beta(a, b).
fn beta_moments(a: f64, b: f64) -> (f64, f64) {
    let n = a + b;
    (a / n, (a * b / (n * n * (n + 1.0))).sqrt())
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let flips: Vec<bool> = (0..100).map(|i| i % 5 < 3).collect();
    let heads = flips.iter().filter(|&&x| x).count() as f64;
    let tails = flips.len() as f64 - heads;

    // Exact: Beta is conjugate to Bernoulli, so the posterior is Beta(10 + 60, 10 + 40) =
    // Beta(70, 50), mean 70/120 = 0.58333, sd sqrt(70 * 50 / (120^2 * 121)) = 0.04482. The
    // evidence of this sequence of flips is B(70, 50) / B(10, 10) (ln: -68.5324), which Bayes'
    // rule gives at any p as likelihood x prior / posterior; at p = 1/2 (any point would do):
    let (a, b) = (PRIOR.0 + heads, PRIOR.1 + tails);
    let (exact_mean, exact_sd) = beta_moments(a, b);
    let half = Real::from(0.5);
    let log_evidence = (heads + tails) * 0.5_f64.ln()
        + Beta::new(PRIOR.0, PRIOR.1)?.log_prob(&half)
        - Beta::new(a, b)?.log_prob(&half);
    println!(
        "coin: p ~ Beta({}, {}), {heads} heads in {} flips",
        PRIOR.0,
        PRIOR.1,
        flips.len()
    );
    println!(
        "exact posterior Beta({a}, {b}): mean {exact_mean:.5}, sd {exact_sd:.5}; log evidence \
         {log_evidence:.4}\n"
    );
    let row = |method: &str, mean: f64, sd: f64| {
        println!(
            "{method:<36} mean {mean:.5} (exact {exact_mean:.5})   sd {sd:.5} (exact {exact_sd:.5})"
        );
    };

    // Importance sampling with the prior as proposal.
    let particles = if fast { 50_000 } else { 2_000_000 };
    let posterior = Importance::new(coin, particles)
        .seed(1)
        .progress(!fast)
        .keep_sites("p")
        .run(flips.clone())?;
    let p = posterior.marginal("p")?;
    row(
        &format!("importance sampling ({particles} particles)"),
        p.mean()[0],
        p.variance()[0].sqrt(),
    );
    println!(
        "{:<36} log evidence {:.4} (exact {log_evidence:.4}), effective sample size {:.0}",
        "",
        posterior.log_normalizer()?,
        posterior.ess()?
    );

    // NUTS: p lives in (0, 1); the sampler moves in logit(p) and the log-Jacobian is added.
    let (warmup, draws) = if fast { (300, 1_000) } else { (1_000, 10_000) };
    let nuts = Mcmc::new(Nuts::new(coin), warmup, draws)
        .num_chains(4)
        .seed(2)
        .progress(!fast)
        .run(flips.clone())?;
    let summary = nuts.summary();
    let row_p = summary.get("p").ok_or("no p in the NUTS summary")?;
    row("NUTS (4 chains)", row_p.mean, row_p.std);
    let divergences: usize = nuts.chain_stats().iter().map(|s| s.divergences).sum();
    println!(
        "{:<36} R-hat {:.3}, bulk ESS {:.0}, {divergences} divergences",
        "",
        row_p.r_hat.unwrap_or(f64::NAN),
        row_p.ess_bulk.unwrap_or(f64::NAN)
    );

    // SVI with the Beta guide: Adam on the concentrations' logarithms (the store keeps a
    // positive parameter as its log), half the steps at a constant rate, then the rate decayed
    // fiftyfold so that the estimate settles. The guide family holds the exact posterior, so
    // the optimum is Beta(70, 50) itself.
    let steps = if fast { 3_000 } else { 10_000 };
    let decay = Schedule::Exponential {
        gamma: 0.02_f64.powf(2.0 / steps as f64),
    };
    let mut svi = Svi::new(
        coin,
        guide,
        Adam::new(0.05)?.schedule(decay)?,
        TraceElbo::new().num_particles(8)?,
    )
    .seed(3);
    for step in 0..steps {
        svi.step(&flips)?;
        if step >= steps / 2 {
            svi.optimizer_mut().advance_schedule();
        }
    }
    let (alpha, beta) = (stored("alpha_q")?, stored("beta_q")?);
    let (mean, sd) = beta_moments(alpha, beta);
    row(&format!("SVI, Beta guide ({steps} Adam steps)"), mean, sd);
    println!(
        "{:<36} guide Beta({alpha:.2}, {beta:.2}) (exact Beta({a}, {b}))",
        ""
    );
    let elbo: Vec<f64> = (0..2000)
        .map(|_| svi.evaluate_loss(&flips).map(|loss| -loss))
        .collect::<Result<_, _>>()?;
    println!(
        "{:<36} ELBO {:.4} (log evidence {log_evidence:.4}: the ELBO is at most that, equal \
         at the exact posterior)",
        "",
        elbo.iter().sum::<f64>() / elbo.len() as f64
    );
    Ok(())
}
