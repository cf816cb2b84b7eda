//! The SVI benchmark (issue "SVI"): steps per second of `Svi` with an `AutoNormal` guide,
//! `TraceElbo` with one particle and Adam (step 0.05) on M1 `scale` and M2 `linreg`
//! (`../shared/BENCH.md`), and the steps it takes the loss's moving average over 100 steps to come
//! within 1 of the exact negative log evidence; beside them NumPyro's compiled SVI on the same
//! models, guide, optimiser and settings (`benches/numpyro/svi.py`, run in this benchmark when a
//! Python with NumPyro is found: `$NUMPYRO_PYTHON`, else `python3`), as a ratio. Pyro's SVI
//! (PyTorch) is not measured: this machine has no PyTorch.
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

/// NumPyro's SVI on M1 and M2 with the same settings, if a Python with NumPyro is available.
fn numpyro(steps: usize) -> Option<serde_json::Value> {
    let args = [
        "--steps".into(),
        steps.to_string(),
        "--lr".into(),
        LR.to_string(),
        "--tolerance".into(),
        TOLERANCE.to_string(),
    ];
    numpyro_reference("svi.py", &args)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (steps, repeats) = if quick { (500, 1) } else { (5000, 5) };
    let data = linreg_data();
    let m1 = time_svi(scale, &(), steps, repeats);
    let m2 = time_svi(linreg, &&data, steps, repeats);
    let reference = if quick { None } else { numpyro(steps) };
    println!(
        "{:<10} {:>14} {:>18} {:>16} {:>18} {:>10}",
        "model", "steps/s", "steps to target", "NumPyro steps/s", "NumPyro to target", "ratio"
    );
    let mut rows = Vec::new();
    for (name, key, (seconds, losses), log_evidence) in [
        ("M1 scale", "m1", m1, -1.46208),
        ("M2 linreg", "m2", m2, -80.8517),
    ] {
        let rate = steps as f64 / seconds;
        let reached = steps_to_target(&losses, -log_evidence);
        let np = reference.as_ref().map(|r| &r[key]);
        let np_rate = np.and_then(|r| r["steps_per_second"].as_f64());
        let np_reached = np.and_then(|r| r["steps_to_target"].as_u64());
        let show = |x: Option<String>| x.unwrap_or_else(|| "-".into());
        println!(
            "{name:<10} {rate:>14.0} {:>18} {:>16} {:>18} {:>10}",
            show(reached.map(|s| s.to_string())),
            show(np_rate.map(|r| format!("{r:.0}"))),
            show(np_reached.map(|s| s.to_string())),
            show(np_rate.map(|r| format!("{:.2}", r / rate))),
        );
        rows.push(json!({
            "model": name, "steps": steps, "seconds": seconds, "steps_per_second": rate,
            "steps_to_target": reached, "final_loss_mean_100":
                losses.iter().rev().take(100).sum::<f64>() / losses.len().clamp(1, 100) as f64,
            "numpyro": np,
        }));
    }
    if reference.is_none() {
        println!(
            "NumPyro: not run (--quick, or install benches/numpyro/requirements.txt and set \
             NUMPYRO_PYTHON); ratio = NumPyro steps/s over ours"
        );
    }
    let out = json!({ "lr": LR, "tolerance": TOLERANCE, "rows": rows });
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench");
    std::fs::create_dir_all(dir).expect("target/bench");
    std::fs::write(format!("{dir}/svi.json"), out.to_string()).expect("svi.json");
}
