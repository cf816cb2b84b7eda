//! The trace-MCMC benchmark: for M1, M2, M3 and M4 of `shared/BENCH.md`, Metropolis-Hastings
//! steps per second ([`TraceMh`], one chain per thread) on one thread and on all threads, each
//! as a ratio to one traced run of the same model (`trace(model).get_trace(args)`) measured in
//! the same run on as many threads (medians of 5 repeats, each timing the four back to back);
//! and, on M2, effective samples per second of MH against importance sampling (prior proposal)
//! on all threads.
//!
//! `cargo run --release -p pyro-benches --bin mcmc [-- --quick]`; writes
//! `target/bench/mcmc.json`.

use pyro_benches::*;
use pyro_core::infer::diagnostics::ess_bulk;
use pyro_core::infer::{Importance, Mcmc, TraceMh};
use pyro_core::poutine::{Model, Name, trace};
use rayon::prelude::*;
use serde_json::json;
use std::time::Instant;

/// How many times each timing is repeated; the table shows medians.
const REPEATS: usize = 5;

/// Seconds taken by `f`.
fn seconds(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// `runs` traced runs of `model`, split evenly over `threads` tasks of the current pool.
fn traced_runs<A, M>(model: &M, args: &A, runs: usize, threads: usize)
where
    A: Clone + Send + Sync,
    M: Model<A> + Sync,
    M::Output: Send + Sync + 'static,
{
    // The data are borrowed, so the arguments go in the closure (`get_trace` records owned
    // arguments only).
    let traced = trace(|()| model.call(args.clone()));
    (0..threads).into_par_iter().for_each(|_| {
        for _ in 0..runs / threads {
            let tr = traced.get_trace(()).expect("the model runs");
            std::hint::black_box(tr);
        }
    });
}

/// `steps` MH steps in each of `chains` chains (no warm-up), on the current pool.
fn mh_steps<A, M>(model: &M, args: &A, steps: usize, chains: usize)
where
    A: Clone + Send + Sync,
    M: Model<A> + Sync + Clone,
{
    let run = Mcmc::new(TraceMh::new(model.clone()), 0, steps)
        .num_chains(chains)
        .run(args.clone())
        .expect("the model runs");
    std::hint::black_box(run);
}

/// One model's timings.
struct Bench {
    name: &'static str,
    sites: &'static str,
    /// MH steps per chain (and traced runs per thread): about 0.3 s on one thread.
    steps: usize,
    traced: Box<dyn Fn(usize, usize) + Sync>,
    mh: Box<dyn Fn(usize, usize) + Sync>,
}

/// The four timings of one repeat, taken back to back.
struct Repeat {
    traced1: f64,
    mh1: f64,
    traced_all: f64,
    mh_all: f64,
}

fn benches() -> Vec<Bench> {
    let xy = linreg_data();
    let flips = coin_data();
    let (l1, l2) = (xy.clone(), xy);
    let (c1, c2) = (flips.clone(), flips);
    vec![
        Bench {
            name: "M1 scale",
            sites: "2",
            steps: 600_000,
            traced: Box::new(|n, t| traced_runs(&scale, &(), n, t)),
            mh: Box::new(|n, c| mh_steps(&scale, &(), n, c)),
        },
        Bench {
            name: "M2 linreg",
            sites: "103",
            steps: 15_000,
            traced: Box::new(move |n, t| traced_runs(&linreg, &&l1, n, t)),
            mh: Box::new(move |n, c| mh_steps(&linreg, &&l2, n, c)),
        },
        Bench {
            name: "M3 coin",
            sites: "101",
            steps: 15_000,
            traced: Box::new(move |n, t| traced_runs(&coin, &&c1[..], n, t)),
            mh: Box::new(move |n, c| mh_steps(&coin, &&c2[..], n, c)),
        },
        Bench {
            name: "M4 random_walk",
            sites: "2 + n",
            steps: 300_000,
            traced: Box::new(|n, t| traced_runs(&random_walk, &(), n, t)),
            mh: Box::new(|n, c| mh_steps(&random_walk, &(), n, c)),
        },
    ]
}

/// Effective samples per second on M2: trace MH (4 chains, 1000 warm-up steps and 4000 draws
/// each; the ESS is the smallest bulk ESS of `a`, `b` and `sigma`) and importance sampling with
/// the prior as proposal (its ESS is `1 / sum w^2`), both on the current pool.
fn m2_ess_per_second(quick: bool) -> serde_json::Value {
    let xy = linreg_data();
    let (warmup, draws, particles) = if quick {
        (200, 400, 20_000)
    } else {
        (1000, 4000, 300_000)
    };
    let start = Instant::now();
    let run = Mcmc::new(TraceMh::new(linreg), warmup, draws)
        .num_chains(4)
        .seed(1)
        .run(&xy)
        .expect("M2 runs");
    let mh_seconds = start.elapsed().as_secs_f64();
    let by_chain = run.get_samples_by_chain();
    let mut mh_ess = f64::INFINITY;
    let mut means = Vec::new();
    for site in ["a", "b", "sigma"] {
        let chains: Vec<Vec<f64>> = by_chain
            .iter()
            .map(|c| c.reals(&Name::from(site)).expect("a scalar site"))
            .collect();
        let slices: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        mh_ess = mh_ess.min(ess_bulk(&slices).unwrap_or(0.0));
        let all: Vec<f64> = chains.concat();
        means.push(all.iter().sum::<f64>() / all.len() as f64);
    }
    let start = Instant::now();
    let posterior = Importance::new(linreg, particles)
        .seed(1)
        .run_streaming(&xy, &[Name::from("b")])
        .expect("M2 runs");
    let is_seconds = start.elapsed().as_secs_f64();
    let is_ess = posterior.ess().unwrap_or(0.0);
    let (mh_rate, is_rate) = (mh_ess / mh_seconds, is_ess / is_seconds);
    println!(
        "\nM2 effective samples per second (all threads): trace MH {mh_rate:.1} (min bulk ESS \
         {mh_ess:.0} of 4 x {draws} draws in {mh_seconds:.2} s), importance sampling \
         {is_rate:.2} (ESS {is_ess:.1} of {particles} particles in {is_seconds:.2} s): ratio \
         {:.0}",
        mh_rate / is_rate
    );
    println!(
        "M2 posterior means from the MH run: a {:.4} (exact 1.00435), b {:.4} (exact 2.07307), \
         sigma {:.4} (exact 0.49115)",
        means[0], means[1], means[2]
    );
    json!({
        "mh": { "ess": mh_ess, "seconds": mh_seconds, "ess_per_s": mh_rate, "chains": 4,
                "warmup": warmup, "draws_per_chain": draws, "means": means },
        "importance": { "ess": is_ess, "seconds": is_seconds, "ess_per_s": is_rate,
                        "particles": particles },
        "ratio": mh_rate / is_rate,
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "trace MH: steps per second (one chain per thread) against traced runs per second of \
         the same model; ratio = time per step / time per traced run"
    );
    println!(
        "{:<15} {:>6} {:>8} | {:>10} {:>10} {:>6} | {:>10} {:>10} {:>6} {:>7}",
        "model",
        "sites",
        "steps",
        "MH 1t",
        "traced 1t",
        "ratio",
        "MH all",
        "traced all",
        "ratio",
        "speedup",
    );
    let (one, every) = (pool(1), pool(all));
    let mut rows = Vec::new();
    for b in benches() {
        let n = if quick { b.steps / 50 } else { b.steps };
        let repeats: Vec<Repeat> = (0..REPEATS)
            .map(|_| Repeat {
                traced1: one.install(|| seconds(|| (b.traced)(n, 1))),
                mh1: one.install(|| seconds(|| (b.mh)(n, 1))),
                traced_all: every.install(|| seconds(|| (b.traced)(n * all, all))),
                mh_all: every.install(|| seconds(|| (b.mh)(n, all))),
            })
            .collect();
        let med = |f: &dyn Fn(&Repeat) -> f64| median(repeats.iter().map(f).collect());
        let mh1 = med(&|r| n as f64 / r.mh1);
        let traced1 = med(&|r| n as f64 / r.traced1);
        let mh_all = med(&|r| (n * all) as f64 / r.mh_all);
        let traced_all = med(&|r| (n * all) as f64 / r.traced_all);
        let ratio1 = med(&|r| r.mh1 / r.traced1);
        let ratio_all = med(&|r| r.mh_all / r.traced_all);
        let speedup = med(&|r| all as f64 * r.mh1 / r.mh_all);
        println!(
            "{:<15} {:>6} {:>8} | {:>10.3e} {:>10.3e} {:>6.2} | {:>10.3e} {:>10.3e} {:>6.2} {:>7.2}",
            b.name, b.sites, n, mh1, traced1, ratio1, mh_all, traced_all, ratio_all, speedup,
        );
        rows.push(json!({
            "model": b.name,
            "sites": b.sites,
            "steps_per_chain": n,
            "threads_all": all,
            "repeats": REPEATS,
            "mh_steps_per_s_1_thread": mh1,
            "traced_runs_per_s_1_thread": traced1,
            "time_ratio_1_thread": ratio1,
            "mh_steps_per_s_all_threads": mh_all,
            "traced_runs_per_s_all_threads": traced_all,
            "time_ratio_all_threads": ratio_all,
            "thread_speedup": speedup,
        }));
    }
    let ess = every.install(|| m2_ess_per_second(quick));
    let report = json!({ "models": rows, "m2_ess_per_second": ess });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join("mcmc.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json"))
        .expect("write mcmc.json");
    println!("wrote {}", path.display());
}
