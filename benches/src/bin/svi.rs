//! The SVI benchmark (issue "SVI"): steps per second of `Svi` with an `AutoNormal` guide,
//! `TraceElbo` with one particle and Adam (step 0.05) on M1 `scale` and M2 `linreg`
//! (`../shared/BENCH.md`), and the steps it takes the loss's moving average over 100 steps to come
//! within 1 of the exact negative log evidence; beside them NumPyro's compiled SVI
//! (`benches/numpyro/svi.py`, with `$NUMPYRO_PYTHON`) and Pyro's SVI on PyTorch
//! (`benches/pyro/svi.py`, with `$PYRO_PYTHON`; 1000 steps, once, as Pyro takes about 25 ms a step
//! on M2) on the same models, guide, optimiser and settings, as ratios. Each runs when its Python
//! is found (else `python3`) and not in `--quick` mode.
//!
//! `cargo run --release -p pyro-benches --bin svi [-- --quick]`; writes `target/bench/svi.json`.

use pyro_benches::*;
use pyro_core::infer::{Adam, AutoNormal, Svi, TraceElbo};
use pyro_core::poutine::{Model, PyroRng, with_param_store};
use pyro_core::rand::SeedableRng;
use serde_json::json;
use std::time::Instant;

/// The learning rate, the tolerance of "reached" and the moving average's window.
const LR: f64 = 0.05;
const TOLERANCE: f64 = 1.0;
const WINDOW: usize = 100;

/// The first step whose trailing moving average of the loss over [`WINDOW`] steps is within
/// [`TOLERANCE`] of `target` (the exact negative log evidence), as the NumPyro script computes
/// it.
fn steps_to_target(losses: &[f64], target: f64) -> Option<usize> {
    let mut total = 0.0;
    for (i, loss) in losses.iter().enumerate() {
        total += loss;
        if i >= WINDOW {
            total -= losses[i - WINDOW];
        }
        if i + 1 >= WINDOW && total / WINDOW as f64 - target <= TOLERANCE {
            return Some(i + 1);
        }
    }
    None
}

/// `steps` SVI steps from a fresh guide, `repeats` times: the median seconds, and the losses of
/// the first run.
fn time_svi<A: Clone, M: Model<A> + Clone>(
    model: M,
    args: &A,
    steps: usize,
    repeats: usize,
) -> (f64, Vec<f64>) {
    let mut times = Vec::new();
    let mut first = None;
    for r in 0..repeats {
        // A fresh start: the guide's parameters are initialised again.
        with_param_store(|s| s.clear());
        let guide = AutoNormal::new(&model, args, &mut PyroRng::seed_from_u64(r as u64))
            .expect("the model has continuous latents");
        let adam = Adam::new(LR).expect("a valid rate");
        let mut svi = Svi::new(model.clone(), guide, adam, TraceElbo::new()).seed(r as u64);
        let start = Instant::now();
        let losses = svi.run(args, steps).expect("SVI runs").to_vec();
        times.push(start.elapsed().as_secs_f64());
        first.get_or_insert(losses);
    }
    (median(times), first.unwrap_or_default())
}

/// The reference SVI of `script` on M1 and M2 with the same settings, `steps` steps `repeats`
/// times, if the Python of `python_var` has its packages.
fn reference(
    python_var: &str,
    script: &str,
    steps: usize,
    repeats: usize,
) -> Option<serde_json::Value> {
    let args = [
        "--steps".into(),
        steps.to_string(),
        "--repeats".into(),
        repeats.to_string(),
        "--lr".into(),
        LR.to_string(),
        "--tolerance".into(),
        TOLERANCE.to_string(),
    ];
    python_reference(python_var, script, &args)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (steps, repeats) = if quick { (500, 1) } else { (5000, 5) };
    let data = linreg_data();
    let m1 = time_svi(scale, &(), steps, repeats);
    let m2 = time_svi(linreg, &&data, steps, repeats);
    let (numpyro, pyro) = if quick {
        (None, None)
    } else {
        (
            reference("NUMPYRO_PYTHON", "numpyro/svi.py", steps, repeats),
            reference("PYRO_PYTHON", "pyro/svi.py", 1000, 1),
        )
    };
    println!(
        "{:<10} {:>10} {:>8} | {:>10} {:>8} {:>6} | {:>10} {:>8} {:>6}",
        "model", "steps/s", "reached", "NumPyro", "reached", "ratio", "Pyro", "reached", "ratio"
    );
    let mut rows = Vec::new();
    for (name, key, (seconds, losses), log_evidence) in [
        ("M1 scale", "m1", m1, -1.46208),
        ("M2 linreg", "m2", m2, -80.8517),
    ] {
        let rate = steps as f64 / seconds;
        let reached = steps_to_target(&losses, -log_evidence);
        let show = |x: Option<String>| x.unwrap_or_else(|| "-".into());
        // A reference's steps per second, steps to the target and ratio to ours, as text.
        let columns = |r: Option<&serde_json::Value>| {
            let r = r.map(|r| &r[key]);
            let other = r.and_then(|r| r["steps_per_second"].as_f64());
            let reached = r.and_then(|r| r["steps_to_target"].as_u64());
            (
                show(other.map(|x| format!("{x:.0}"))),
                show(reached.map(|s| s.to_string())),
                show(other.map(|x| format!("{:.3}", x / rate))),
            )
        };
        let (np, np_reached, np_ratio) = columns(numpyro.as_ref());
        let (py, py_reached, py_ratio) = columns(pyro.as_ref());
        println!(
            "{name:<10} {rate:>10.0} {:>8} | {np:>10} {np_reached:>8} {np_ratio:>6} | {py:>10} \
             {py_reached:>8} {py_ratio:>6}",
            show(reached.map(|s| s.to_string())),
        );
        rows.push(json!({
            "model": name, "steps": steps, "seconds": seconds, "steps_per_second": rate,
            "steps_to_target": reached,
            "seconds_to_target": reached.map(|s| s as f64 / rate),
            "final_loss_mean_100":
                losses.iter().rev().take(100).sum::<f64>() / losses.len().clamp(1, 100) as f64,
            "numpyro": numpyro.as_ref().map(|r| &r[key]),
            "pyro": pyro.as_ref().map(|r| &r[key]),
        }));
    }
    println!(
        "ratio = the reference's steps/s over ours; reached = steps until the loss's moving \
         average over {WINDOW} steps is within {TOLERANCE} of -log evidence"
    );
    if numpyro.is_none() || pyro.is_none() {
        println!(
            "references not run in --quick mode or without their Python: install \
             benches/numpyro/requirements.txt and benches/pyro/requirements.txt, set \
             NUMPYRO_PYTHON and PYRO_PYTHON"
        );
    }
    let out = json!({ "lr": LR, "tolerance": TOLERANCE, "rows": rows });
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench");
    std::fs::create_dir_all(dir).expect("target/bench");
    std::fs::write(format!("{dir}/svi.json"), out.to_string()).expect("svi.json");
}
