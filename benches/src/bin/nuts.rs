//! The gradient and NUTS benchmark (issue "Gradients and NUTS"):
//!
//! 1. the log density and its gradient of M2 (103 sites) and M2v (one vectorised site) through
//!    [`Potential`] (the model run under the potential handler, one tape node per site), as a
//!    ratio to a hand-written loop computing the same value and gradient (medians of 5 repeats
//!    in this run), beside the same density written straight on the tape with the library's
//!    distributions and no handler (`linreg_gradient_on_tape`): the floor of a run through
//!    handlers, and its ratio to the hand-written loop;
//! 2. NUTS on M2 and on M2v: draws per second of one chain (1000 warm-up, 1000 draws), with the
//!    posterior means beside the exact ones, and NumPyro's NUTS on the same model (written as
//!    M2v is, one vectorised site), data and settings (`benches/numpyro/nuts_m2.py`, run in this
//!    benchmark when a Python with NumPyro is found: `$NUMPYRO_PYTHON`, else `python3`), as a
//!    ratio to each.
//!
//! `cargo run --release -p pyro-benches --bin nuts [-- --quick]`; writes
//! `target/bench/nuts.json`.

use pyro_benches::*;
use pyro_core::infer::{Mcmc, Nuts, Potential};
use pyro_core::poutine::{Name, PyroRng};
use pyro_core::rand::SeedableRng;
use serde_json::json;
use std::time::Instant;

/// How many times each timing is repeated; the table shows medians.
const REPEATS: usize = 5;

/// Seconds per call of `f`, the median of [`REPEATS`] timings of `calls` calls.
fn per_call(calls: usize, mut f: impl FnMut()) -> f64 {
    let times = (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    median(times)
}

/// Value and gradient of M2 and M2v through `Potential`, against the hand-written gradient.
fn gradients(quick: bool) -> serde_json::Value {
    let data = linreg_data();
    let calls = if quick { 2_000 } else { 20_000 };
    let u = [0.9, 2.1, -0.7];
    let (lp_hand, grad_hand) = linreg_gradient_by_hand(&data, &u);
    let hand = per_call(calls * 20, || {
        std::hint::black_box(linreg_gradient_by_hand(std::hint::black_box(&data), &u));
    });
    let mut rows = Vec::new();
    println!(
        "{:<12} {:>14} {:>14} {:>8} {:>14} {:>8}   check",
        "model", "value+grad", "by hand", "ratio", "tape only", "ratio"
    );
    for (name, model, per_site) in [
        ("M2 linreg", linreg as LinregModel, true),
        ("M2v vector", linreg_vec, false),
    ] {
        let potential =
            Potential::new(model, &&data, &mut PyroRng::seed_from_u64(0)).expect("the model runs");
        let worst = linreg_gradient_two_ways(model, per_site, &data, &u)
            .iter()
            .flat_map(|(lp, grad)| {
                let value = (lp - lp_hand).abs() / lp_hand.abs();
                let partials = grad
                    .iter()
                    .zip(&grad_hand)
                    .map(|(g, h)| (g - h).abs() / h.abs().max(1.0));
                std::iter::once(value).chain(partials).collect::<Vec<_>>()
            })
            .fold(0.0, f64::max);
        let (mut grad, mut grad_tape, mut terms) = (Vec::new(), Vec::new(), Vec::new());
        let time = per_call(calls, || {
            potential
                .log_density(&&data, std::hint::black_box(&u), &mut grad)
                .expect("the density");
        });
        let tape = per_call(calls, || {
            let u = std::hint::black_box(&u);
            linreg_gradient_on_tape(&data, u, per_site, &mut terms, &mut grad_tape);
        });
        let (ratio, tape_ratio) = (time / hand, tape / hand);
        println!(
            "{name:<12} {:>11.2} us {:>11.3} us {ratio:>7.1}x {:>11.2} us {tape_ratio:>7.1}x   \
             max rel. diff {worst:.1e}",
            time * 1e6,
            hand * 1e6,
            tape * 1e6,
        );
        rows.push(json!({
            "model": name, "seconds": time, "hand_seconds": hand, "ratio": ratio,
            "tape_only_seconds": tape, "tape_only_ratio": tape_ratio,
            "max_relative_difference": worst,
        }));
    }
    json!(rows)
}

/// NumPyro's NUTS on M2 with the same settings, if a Python with NumPyro is available.
fn numpyro(warmup: usize, draws: usize) -> Option<serde_json::Value> {
    let args = [
        "--warmup".into(),
        warmup.to_string(),
        "--draws".into(),
        draws.to_string(),
    ];
    python_reference("NUMPYRO_PYTHON", "numpyro/nuts_m2.py", &args)
}

/// One NUTS chain on M2 (per-site) and on M2v (vectorised): draws per second of the whole run
/// and the posterior means; then NumPyro's rate and its ratio to each.
fn nuts_m2(quick: bool) -> serde_json::Value {
    let (warmup, draws) = if quick { (300, 300) } else { (1000, 1000) };
    let ours: Vec<(&str, serde_json::Value)> = [("M2", linreg as LinregModel), ("M2v", linreg_vec)]
        .into_iter()
        .map(|(name, model)| (name, nuts_run(name, model, warmup, draws, quick)))
        .collect();
    let reference = numpyro(warmup, draws);
    match &reference {
        Some(np) => {
            let np_rate = np["draws_per_second"].as_f64().unwrap_or(f64::NAN);
            let ratios: Vec<String> = ours
                .iter()
                .map(|(name, run)| {
                    let rate = run["draws_per_second"].as_f64().unwrap_or(f64::NAN);
                    format!("{name} {:.2}", np_rate / rate)
                })
                .collect();
            println!(
                "NumPyro NUTS (the model written as M2v, same data and settings; compiled, 1 \
                 thread): {np_rate:.0} draws/s; ratio NumPyro / pyro-rs: {}",
                ratios.join(", ")
            );
        }
        None => println!(
            "NumPyro: not available (install benches/numpyro/requirements.txt and set \
             NUMPYRO_PYTHON)"
        ),
    }
    let [(_, m2), (_, m2v)] = <[_; 2]>::try_from(ours).expect("two models");
    json!({ "m2": m2, "m2v": m2v, "numpyro": reference })
}

/// One NUTS chain on `model` (M2 or M2v, named `name`): draws per second of the whole run
/// (the median of [`REPEATS`] runs, one if `quick`), the posterior means and the divergences.
fn nuts_run(
    name: &str,
    model: LinregModel,
    warmup: usize,
    draws: usize,
    quick: bool,
) -> serde_json::Value {
    let data = linreg_data();
    let times: Vec<(f64, Vec<f64>, usize)> = (0..if quick { 1 } else { REPEATS })
        .map(|r| {
            let start = Instant::now();
            let run = Mcmc::new(Nuts::new(model), warmup, draws)
                .seed(r as u64)
                .run(&data)
                .expect("the model runs");
            let seconds = start.elapsed().as_secs_f64();
            let samples = run.get_samples();
            let means = ["a", "b", "sigma"]
                .iter()
                .map(|s| {
                    let xs = samples.reals(&Name::from(*s)).expect("a scalar site");
                    xs.iter().sum::<f64>() / xs.len() as f64
                })
                .collect();
            (seconds, means, run.chain_stats()[0].divergences)
        })
        .collect();
    let seconds = median(times.iter().map(|t| t.0).collect());
    let (_, means, divergences) = &times[0];
    let rate = draws as f64 / seconds;
    println!(
        "NUTS {name}, 1 chain, {warmup} warm-up + {draws} draws: {seconds:.3} s, {rate:.0} \
         draws/s; means a {:.4} (exact 1.00435), b {:.4} (2.07307), sigma {:.4} (0.49115); \
         {divergences} divergences",
        means[0], means[1], means[2]
    );
    json!({
        "warmup": warmup, "draws": draws, "seconds": seconds, "draws_per_second": rate,
        "means": means, "divergences": divergences,
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let gradients = gradients(quick);
    let nuts = nuts_m2(quick);
    let out = json!({ "gradients": gradients, "nuts_m2": nuts });
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench");
    std::fs::create_dir_all(dir).expect("target/bench");
    std::fs::write(format!("{dir}/nuts.json"), out.to_string()).expect("nuts.json");
}
