//! "Pyro trace: how is it used?", answered as a program with printed commentary.
//!
//! A trace is the record of one run of a model: every `sample` and `param` site with its
//! distribution, value, whether it was observed, and its log-probability. In Pyro it is
//! `poutine.trace(model).get_trace(*args)`; here `trace(model).get_trace(args)`. The tour:
//! tracing and the trace table; a fresh trace per call (there is no global trace); `condition`
//! (a site marked observed); `replay` (rerun with a trace's values); `block` (hide a site from
//! an outer trace); `seed` (same seed, same trace); `intervene` (Pyro's `do`) versus
//! `condition`: seeing is not doing; `log_prob_sum`; and the trace as JSON.
//!
//! Run: `cargo run --release -p pyro-examples --bin trace_tour` (`-- --fast` for the short
//! run CI makes; the only difference is the number of particles in section 7).

use pyro_core::poutine::{BlockMessenger, TraceMessenger};
use pyro_core::prelude::*;
use std::error::Error;

/// Pyro's scale model: a guess of the weight, then one noisy measurement of it, both plain
/// `sample` sites (handlers decide which are observed). Returns the measurement.
fn scale(guess: f64) -> Result<Real, PyroError> {
    let weight = sample("weight", Normal::new(guess, 1.0))?;
    sample("measurement", Normal::new(weight, 0.75))
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let guess = 8.5;
    // The thread's own generator (the one an unseeded model draws from), fixed so that the
    // whole tour prints the same numbers on every run.
    pyro_core::poutine::set_rng_seed(0);

    heading("1. Trace a model: one run, recorded");
    let tr = trace(scale).get_trace(guess)?;
    println!("trace(scale).get_trace({guess}) records every site of the run, in order:\n{tr}");
    let weight: f64 = tr.value("weight")?;
    let output = tr
        .output::<Real>()
        .ok_or("the trace keeps the model's return value")?;
    println!(
        "tr.value(\"weight\") = {weight:.4}; the model's return value, tr.output() = {:.4}",
        output.value()
    );

    heading("2. Each call makes a fresh trace; there is no global one");
    let tracer = trace(scale);
    let a = tracer.get_trace(guess)?;
    let b = tracer.get_trace(guess)?;
    println!(
        "two calls of one traced model: weight {:.4}, then {:.4}; each trace holds {} and {} sites \
         (nothing accumulates)",
        a.value::<f64>("weight")?,
        b.value::<f64>("weight")?,
        a.len(),
        b.len()
    );
    let m = scale(guess)?;
    println!(
        "calling scale({guess}) with no handler just runs it (measurement {:.4}): nothing is recorded \
         anywhere",
        m.value()
    );

    heading("3. condition: a site becomes an observation");
    let conditioned = condition(scale, [("measurement", 9.5)]);
    let tr = trace(conditioned.clone()).get_trace(guess)?;
    println!("condition(scale, [(\"measurement\", 9.5)]), traced:\n{tr}");
    let site = tr.get("measurement").ok_or("the site is in the trace")?;
    println!(
        "measurement: is_observed = {}, value = {:?}; weight is still drawn (is_observed = {})",
        site.is_observed,
        site.value,
        tr.get("weight").is_some_and(|s| s.is_observed)
    );

    heading("4. replay: rerun a model with the values of a trace");
    let prior_run = trace(scale).get_trace(guess)?;
    let replayed = trace(replay(scale, prior_run.clone())).get_trace(guess)?;
    println!(
        "a prior run drew weight {:.4}, measurement {:.4}; replayed: weight {:.4}, measurement {:.4}",
        prior_run.value::<f64>("weight")?,
        prior_run.value::<f64>("measurement")?,
        replayed.value::<f64>("weight")?,
        replayed.value::<f64>("measurement")?
    );
    let rescored = trace(replay(conditioned.clone(), prior_run.clone())).get_trace(guess)?;
    println!(
        "replaying it into the conditioned model keeps the weight ({:.4}) and scores it against \
         the observation:\n{rescored}",
        rescored.value::<f64>("weight")?
    );
    println!(
        "(this is how importance sampling and SVI use traces: run a proposal or guide, replay \
         its trace into the model, score)"
    );

    heading("5. block: hide a site from the handlers outside");
    let (inner, outer) = TraceMessenger::record(|| {
        BlockMessenger::hide(["weight"]).run(|| trace(scale).get_trace(guess))
    })?;
    let names = |t: &Trace| t.iter().map(|s| s.name.to_string()).collect::<Vec<_>>();
    println!(
        "a trace inside block(hide weight) sees {:?}; the trace outside it sees {:?}",
        names(&inner),
        names(&outer)
    );
    println!(
        "block(scale) hides everything: {} sites reach an outer trace",
        trace(block(scale)).get_trace(guess)?.len()
    );

    heading("6. seed: the same seed gives the same trace");
    let run = |s: u64| trace(seed(scale, s)).get_trace(guess);
    let (s1, s2, s3) = (run(42)?, run(42)?, run(43)?);
    println!(
        "seed 42: weight {:.4}; seed 42 again: {:.4}; seed 43: {:.4}",
        s1.value::<f64>("weight")?,
        s2.value::<f64>("weight")?,
        s3.value::<f64>("weight")?
    );
    println!(
        "the two seed-42 traces are identical, JSON byte for byte: {}",
        s1.to_json() == s2.to_json()
    );

    heading("7. intervene (Pyro's do) versus condition: seeing is not doing");
    let done = intervene(scale, [("measurement", 9.5)]);
    let tr = trace(done.clone()).get_trace(guess)?;
    let out = tr
        .output::<Real>()
        .ok_or("the trace keeps the model's return value")?;
    println!("intervene(scale, [(\"measurement\", 9.5)]), traced:\n{tr}");
    println!(
        "downstream, the model goes on with the intervention value: it returns {:.4}. The \
         recorded 'measurement' ({:.4}, is_observed = {}) is a fresh copy nothing used, and no \
         observation scores the run.",
        out.value(),
        tr.value::<f64>("measurement")?,
        tr.get("measurement").is_some_and(|s| s.is_observed)
    );
    // Exact: conditioning on the measurement updates the weight (posterior Normal(9.14, 0.6),
    // see the `intro` example); fixing the measurement by intervention says nothing about the
    // weight that caused it, which keeps its prior Normal(8.5, 1); the intervened model has no
    // observed site, so every particle has weight 1 and the log evidence is exactly 0.
    let particles = if fast { 20_000 } else { 400_000 };
    let seeing = Importance::new(conditioned.clone(), particles)
        .seed(1)
        .keep_sites("weight")
        .run(guess)?;
    let doing = Importance::new(done, particles)
        .seed(1)
        .keep_sites("weight")
        .run(guess)?;
    let (ws, wd) = (seeing.marginal("weight")?, doing.marginal("weight")?);
    println!("importance sampling, {particles} particles:");
    println!(
        "  seeing, condition(measurement = 9.5):  E[weight] = {:.4} (exact 9.1400), sd {:.4} \
         (exact 0.6000), log evidence {:.4} (exact -1.4621)",
        ws.mean()[0],
        ws.variance()[0].sqrt(),
        seeing.log_normalizer()?
    );
    println!(
        "  doing, intervene(measurement = 9.5):   E[weight] = {:.4} (exact 8.5000), sd {:.4} \
         (exact 1.0000), log evidence {:.4} (exact 0)",
        wd.mean()[0],
        wd.variance()[0].sqrt(),
        doing.log_normalizer()?
    );

    heading("8. log_prob_sum: the log joint density of the run");
    let tr = trace(conditioned).get_trace(guess)?;
    let w: Real = tr.value("weight")?;
    let by_hand =
        Normal::new(guess, 1.0)?.log_prob(&w) + Normal::new(w, 0.75)?.log_prob(&Real::from(9.5));
    println!(
        "weight {:.4}: tr.log_prob_sum(|_| true) = {:.6}; ln N(weight | 8.5, 1) + ln N(9.5 | \
         weight, 0.75) by hand = {by_hand:.6}",
        w.value(),
        tr.log_prob_sum(|_| true)?
    );
    println!(
        "with a filter: the log-likelihood (observed sites) {:.6}, the log prior (latent sites) \
         {:.6}",
        tr.log_prob_sum(|s| s.is_observed)?,
        tr.log_prob_sum(|s| !s.is_observed)?
    );

    heading("9. The trace as JSON");
    let json = tr.to_json();
    println!("tr.to_json():\n{json}");
    let back = Trace::from_json(&json)?;
    println!(
        "Trace::from_json reads it back: {} sites, log_prob_sum {:.6} (from the recorded \
         log-probabilities; the distributions themselves are not serialised, only their family)",
        back.len(),
        back.log_prob_sum(|_| true)?
    );
    Ok(())
}
