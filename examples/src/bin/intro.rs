//! Pyro's introductory model, inferred four ways: `weight ~ Normal(8.5, 1)`, then
//! `measurement ~ Normal(weight, 0.75)`, conditioned on a measurement of 9.5 with the
//! `condition` handler (Pyro's `poutine.condition(scale, data={"measurement": 9.5})`).
//!
//! The same conditioned model goes to importance sampling (the prior as proposal), trace
//! Metropolis-Hastings (`Mcmc` + `TraceMh`), NUTS (`Mcmc` + `Nuts`) and stochastic variational
//! inference (`Svi` + `AutoNormal` + `TraceElbo` + `Adam`); each posterior summary is printed
//! beside the exact answer. This is Pyro's "Introduction" tutorial and "Inference in Pyro: from
//! stochastic functions to marginal distributions", in one program.
//!
//! Run: `cargo run --release -p pyro-examples --bin intro` (`-- --fast` for the short run CI
//! makes).

use pyro_core::infer::{Optimizer, Predictive, Schedule};
use pyro_core::poutine::PyroRng;
use pyro_core::prelude::*;
use pyro_core::rand::SeedableRng;
use std::error::Error;

/// The model: a guess of the weight, then one noisy measurement of it. The measurement is an
/// ordinary `sample` site here; `condition` makes it observed.
fn scale(guess: f64) -> Result<Real, PyroError> {
    let weight = sample("weight", Normal::new(guess, 1.0))?;
    sample("measurement", Normal::new(weight, 0.75))?;
    Ok(weight)
}

/// The exact answer (a normal prior and a normal likelihood are conjugate):
/// - posterior precision `1/1² + 1/0.75² = 2.7778`, so the posterior sd is `sqrt(1/2.7778) = 0.6`;
/// - posterior mean `(8.5/1² + 9.5/0.75²) / 2.7778 = 9.14`;
/// - the evidence: the measurement is marginally `Normal(8.5, sqrt(1² + 0.75²) = 1.25)`, so the
///   log evidence is `ln N(9.5 | 8.5, 1.25) = -ln(1.25 sqrt(2 pi)) - 0.5 (1/1.25)² = -1.46208`.
struct Exact {
    mean: f64,
    sd: f64,
    log_evidence: f64,
}

fn exact(guess: f64, measurement: f64) -> Result<Exact, Box<dyn Error>> {
    let precision = 1.0 + 1.0 / 0.5625;
    let marginal = Normal::new(guess, (1.0_f64 + 0.5625).sqrt())?;
    Ok(Exact {
        mean: (guess + measurement / 0.5625) / precision,
        sd: (1.0 / precision).sqrt(),
        log_evidence: marginal.log_prob(&Real::from(measurement)),
    })
}

/// Mean and standard deviation of draws.
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let (guess, measurement) = (8.5, 9.5);
    let exact = exact(guess, measurement)?;
    let conditioned = condition(scale, [("measurement", measurement)]);
    // The thread's generator, which the traced run below draws from (inference runs have seeds
    // of their own).
    pyro_core::poutine::set_rng_seed(0);

    println!("Pyro's scale model: weight ~ Normal({guess}, 1), measurement ~ Normal(weight, 0.75)");
    println!("conditioned on measurement = {measurement}\n");
    let tr = trace(conditioned.clone()).get_trace(guess)?;
    println!("one run of the conditioned model, traced:\n{tr}");
    println!(
        "exact posterior of weight: Normal({:.4}, {:.4}); log evidence {:.5}\n",
        exact.mean, exact.sd, exact.log_evidence
    );
    let row = |method: &str, mean: f64, sd: f64| {
        println!(
            "{method:<34} mean {mean:.4} (exact {:.4})   sd {sd:.4} (exact {:.4})",
            exact.mean, exact.sd
        );
    };

    // 1. Importance sampling with the prior as proposal: weighted particles, and the log of the
    //    mean weight estimates the evidence.
    let particles = if fast { 20_000 } else { 1_000_000 };
    let posterior = Importance::new(conditioned.clone(), particles)
        .seed(1)
        .progress(!fast)
        .keep_sites("weight")
        .run(guess)?;
    let weight = posterior.marginal("weight")?;
    row(
        &format!("importance sampling ({particles} particles)"),
        weight.mean()[0],
        weight.variance()[0].sqrt(),
    );
    println!(
        "{:<34} log evidence {:.5} (exact {:.5}), effective sample size {:.0}",
        "",
        posterior.log_normalizer()?,
        exact.log_evidence,
        posterior.ess()?
    );

    // 2. Metropolis-Hastings over execution traces: 4 chains in parallel.
    let (warmup, draws) = if fast { (500, 2_000) } else { (2_000, 25_000) };
    let mh = Mcmc::new(TraceMh::new(conditioned.clone()), warmup, draws)
        .num_chains(4)
        .seed(2)
        .progress(!fast)
        .run(guess)?;
    let summary = mh.summary();
    let w = summary.get("weight").ok_or("no weight in the MH summary")?;
    row("trace MH (4 chains)", w.mean, w.std);

    // 3. NUTS on the model's gradient: `weight` is a `Real` the gradient flows through.
    let (warmup, draws) = if fast { (300, 1_000) } else { (1_000, 10_000) };
    let nuts = Mcmc::new(Nuts::new(conditioned.clone()), warmup, draws)
        .num_chains(4)
        .seed(3)
        .progress(!fast)
        .run(guess)?;
    let summary = nuts.summary();
    let w = summary
        .get("weight")
        .ok_or("no weight in the NUTS summary")?;
    row("NUTS (4 chains)", w.mean, w.std);
    let divergences: usize = nuts.chain_stats().iter().map(|s| s.divergences).sum();

    // 4. SVI: an automatic mean-field normal guide fitted by maximising the ELBO with Adam: half
    //    the steps at a constant learning rate to reach the optimum, then the rate decayed
    //    fiftyfold so that the last steps settle (Adam's steps do not shrink with the gradient);
    //    the fitted guide's posterior is summarised from draws of it.
    let steps = if fast { 2_000 } else { 6_000 };
    let guide = AutoNormal::new(&conditioned, &guess, &mut PyroRng::seed_from_u64(0))?;
    let decay = Schedule::Exponential {
        gamma: 0.02_f64.powf(2.0 / steps as f64),
    };
    let mut svi = Svi::new(
        conditioned.clone(),
        guide.clone(),
        Adam::new(0.05)?.schedule(decay)?,
        TraceElbo::new().num_particles(4)?,
    )
    .seed(4);
    for step in 0..steps {
        svi.step(&guess)?;
        if step >= steps / 2 {
            svi.optimizer_mut().advance_schedule();
        }
    }
    let guide_draws = Predictive::from_guide(conditioned.clone(), guide, 20_000)
        .seed(5)
        .return_sites("weight")
        .run(guess)?;
    let (mean, sd) = mean_sd(&guide_draws.reals(&Name::from("weight"))?);
    row(&format!("SVI, AutoNormal ({steps} Adam steps)"), mean, sd);
    // The ELBO at the fit, averaged over many estimates. The ELBO itself is at most the log
    // evidence, and equal to it when the guide is the exact posterior, as it can be here; the
    // average may exceed it by Monte Carlo error.
    let elbo: Vec<f64> = (0..4000)
        .map(|_| svi.evaluate_loss(&guess).map(|loss| -loss))
        .collect::<Result<_, _>>()?;
    let (elbo_mean, elbo_sd) = mean_sd(&elbo);
    println!(
        "{:<34} ELBO {elbo_mean:.5} +- {:.5} (log evidence {:.5}: the ELBO is at most that, \
         equal at the exact posterior)",
        "",
        elbo_sd / (elbo.len() as f64).sqrt(),
        exact.log_evidence
    );

    println!("\nthe NUTS run's summary (NumPyro's print_summary); {divergences} divergences:");
    nuts.print_summary();
    Ok(())
}
