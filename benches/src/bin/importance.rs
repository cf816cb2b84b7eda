//! The importance-sampling benchmark of `shared/BENCH.md`: for M1, M2, M2v, M3, M3v and M4,
//! traces per second on one thread and on all threads for the library's importance sampler
//! (streaming mode, prior proposal) and for a hand-written loop doing the same arithmetic with the
//! same RNG and distributions, measured in the same run, with their ratios and the speedup of all
//! threads over one (medians of 5 repeats, each timing the four back to back); the posterior mean
//! and log evidence next to the exact values; and the peak memory of the streaming mode (M1) at
//! 1e4, 1e6, 1e7 and 1e8 particles (1e4 and 1e6 with `--quick`), each in a fresh process, which
//! must be flat: within 1 MiB of each other whatever the number of particles.
//!
//! `cargo run --release -p pyro-benches --bin importance [-- --quick]`; writes
//! `target/bench/importance.json`.

use pyro_benches::*;
use serde_json::json;
use std::time::Instant;

/// One timed run's figures.
#[derive(Clone, Copy)]
struct Run {
    seconds: f64,
    mean: f64,
    log_evidence: f64,
}

/// Times `f`.
fn timed(f: impl FnOnce() -> Estimate) -> Run {
    let start = Instant::now();
    let e = f();
    Run {
        seconds: start.elapsed().as_secs_f64(),
        mean: e.mean,
        log_evidence: e.log_evidence,
    }
}

/// How many times each timing is repeated; the table shows medians.
const REPEATS: usize = 5;

/// The four timings of one repeat, taken back to back so that each ratio compares runs made under
/// the same load (this VM's speed drifts over seconds).
struct Repeat {
    lib1: Run,
    hand1: Run,
    liball: Run,
    handall: Run,
}

struct Bench {
    name: &'static str,
    sites: &'static str,
    /// Particles per run: about 0.3 s of the library on one thread, so that neither the timings
    /// nor the thread speedups are dominated by start-up costs and noise.
    particles: usize,
    exact_mean: Option<f64>,
    exact_log_evidence: Option<f64>,
    library: Box<dyn Fn(usize) -> Estimate + Sync>,
    by_hand: Box<dyn Fn(usize) -> Estimate + Sync>,
}

fn benches() -> Vec<Bench> {
    let precision = 1.0 + 1.0 / 0.5625;
    let scale_log_z = -0.5 * (1.0 / 1.5625) - 0.5 * (2.0 * std::f64::consts::PI * 1.5625).ln();
    let xy = linreg_data();
    let flips = coin_data();
    let beta = rand_distr::Beta::new(10.0, 10.0).expect("Beta(10, 10)");
    let geometric = rand_distr::Geometric::new(0.3).expect("Geometric(0.3)");
    let (l1, l2, l3, l4) = (xy.clone(), xy.clone(), xy.clone(), xy);
    let (c1, c2, c3, c4) = (flips.clone(), flips.clone(), flips.clone(), flips);
    vec![
        Bench {
            name: "M1 scale",
            sites: "2",
            particles: 5_000_000,
            exact_mean: Some((8.5 + 9.5 / 0.5625) / precision),
            exact_log_evidence: Some(scale_log_z),
            library: Box::new(|n| library(scale, (), "weight", n)),
            by_hand: Box::new(|n| by_hand(n, scale_by_hand)),
        },
        Bench {
            name: "M2 linreg",
            sites: "103",
            particles: 300_000,
            exact_mean: None,
            exact_log_evidence: None,
            library: Box::new(move |n| library(linreg, &l1, "b", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| linreg_by_hand(r, &l2))),
        },
        Bench {
            name: "M2v linreg_vec",
            sites: "4",
            particles: 1_000_000,
            exact_mean: None,
            exact_log_evidence: None,
            library: Box::new(move |n| library(linreg_vec, &l3, "b", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| linreg_by_hand(r, &l4))),
        },
        Bench {
            name: "M3 coin",
            sites: "101",
            particles: 300_000,
            exact_mean: Some(70.0 / 120.0),
            exact_log_evidence: Some(-68.5324),
            library: Box::new(move |n| library(coin, &c1[..], "p", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| coin_by_hand(r, &beta, &c2))),
        },
        Bench {
            name: "M3v coin_vec",
            sites: "2",
            particles: 2_000_000,
            exact_mean: Some(70.0 / 120.0),
            exact_log_evidence: Some(-68.5324),
            library: Box::new(move |n| library(coin_vec, &c3[..], "p", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| coin_by_hand(r, &beta, &c4))),
        },
        Bench {
            name: "M4 random_walk",
            sites: "2 + n",
            particles: 2_000_000,
            exact_mean: Some(2.73483),
            exact_log_evidence: Some(-2.35599),
            library: Box::new(|n| library(random_walk, (), "n", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| random_walk_by_hand(r, &geometric))),
        },
    ]
}

/// Peak resident memory of this process, in KiB (`VmHWM` of `/proc/self/status`).
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs M1 in streaming mode with `particles` particles in a fresh process and returns its peak
/// memory in KiB.
fn streaming_peak(particles: usize) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["--memory", &particles.to_string()])
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory") {
        let particles: usize = args[i + 1].parse().expect("a number of particles");
        library(scale, (), "weight", particles);
        println!("{}", peak_kib().unwrap_or(0));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("importance sampling, prior proposal, streaming mode; rates in traces per second");
    println!(
        "{:<15} {:>6} {:>9} | {:>10} {:>10} {:>6} | {:>10} {:>10} {:>6} {:>7} | {:>8} {:>8} | {:>9} {:>9}",
        "model",
        "sites",
        "particles",
        "pyro 1t",
        "hand 1t",
        "ratio",
        "pyro all",
        "hand all",
        "ratio",
        "speedup",
        "mean",
        "exact",
        "log Z",
        "exact"
    );
    let (one, every) = (pool(1), pool(all));
    let mut rows = Vec::new();
    for b in benches() {
        let n = if quick { b.particles / 50 } else { b.particles };
        let repeats: Vec<Repeat> = (0..REPEATS)
            .map(|_| Repeat {
                lib1: one.install(|| timed(|| (b.library)(n))),
                hand1: one.install(|| timed(|| (b.by_hand)(n))),
                liball: every.install(|| timed(|| (b.library)(n))),
                handall: every.install(|| timed(|| (b.by_hand)(n))),
            })
            .collect();
        let med = |f: &dyn Fn(&Repeat) -> f64| median(repeats.iter().map(f).collect());
        let rate = |run: fn(&Repeat) -> &Run| med(&|r| n as f64 / run(r).seconds);
        let (lib1, hand1) = (rate(|r| &r.lib1), rate(|r| &r.hand1));
        let (liball, handall) = (rate(|r| &r.liball), rate(|r| &r.handall));
        let ratio1 = med(&|r| r.lib1.seconds / r.hand1.seconds);
        let ratioall = med(&|r| r.liball.seconds / r.handall.seconds);
        let speedup = med(&|r| r.lib1.seconds / r.liball.seconds);
        // The same seed gives the same estimates at every repeat.
        let estimate = repeats[0].lib1;
        let fmt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
        println!(
            "{:<15} {:>6} {:>9} | {:>10.3e} {:>10.3e} {:>6.2} | {:>10.3e} {:>10.3e} {:>6.2} {:>7.2} | {:>8.4} {:>8} | {:>9.4} {:>9}",
            b.name,
            b.sites,
            n,
            lib1,
            hand1,
            ratio1,
            liball,
            handall,
            ratioall,
            speedup,
            estimate.mean,
            fmt(b.exact_mean),
            estimate.log_evidence,
            fmt(b.exact_log_evidence),
        );
        rows.push(json!({
            "model": b.name,
            "sites": b.sites,
            "particles": n,
            "threads_all": all,
            "repeats": REPEATS,
            "pyro_traces_per_s_1_thread": lib1,
            "hand_traces_per_s_1_thread": hand1,
            "time_ratio_1_thread": ratio1,
            "pyro_traces_per_s_all_threads": liball,
            "hand_traces_per_s_all_threads": handall,
            "time_ratio_all_threads": ratioall,
            "thread_speedup": speedup,
            "posterior_mean": estimate.mean,
            "exact_mean": b.exact_mean,
            "log_evidence": estimate.log_evidence,
            "exact_log_evidence": b.exact_log_evidence,
        }));
    }
    let counts: &[usize] = if quick {
        &[10_000, 1_000_000]
    } else {
        &[10_000, 1_000_000, 10_000_000, 100_000_000]
    };
    let peaks: Vec<(usize, Option<u64>)> = counts.iter().map(|&n| (n, streaming_peak(n))).collect();
    let measured: Vec<u64> = peaks.iter().filter_map(|p| p.1).collect();
    let spread = (measured.len() == peaks.len())
        .then(|| measured.iter().max().unwrap_or(&0) - measured.iter().min().unwrap_or(&0));
    println!(
        "streaming peak memory (M1, fresh process): {}",
        peaks
            .iter()
            .map(|(n, kib)| format!(
                "{n:.0e} particles {} KiB",
                kib.map_or("?".into(), |k| k.to_string())
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let flat = spread.map(|s| s <= 1024);
    println!(
        "spread {} KiB: {}",
        spread.map_or("?".into(), |s| s.to_string()),
        match flat {
            Some(true) => "flat within 1 MiB",
            Some(false) => "NOT flat within 1 MiB",
            None => "not measured",
        }
    );
    let report = json!({
        "models": rows,
        "streaming_peak_kib": peaks
            .iter()
            .map(|(n, kib)| (n.to_string(), json!(kib)))
            .collect::<serde_json::Map<_, _>>(),
        "streaming_peak_spread_kib": spread,
        "streaming_peak_flat_within_1_mib": flat,
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join("importance.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json"))
        .expect("write importance.json");
    println!("wrote {}", path.display());
}
