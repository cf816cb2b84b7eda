//! The importance-sampling benchmark of `shared/BENCH.md` (prior proposal), for M1, M2, M2v, M3,
//! M3v, M3c (M3 written without observations and conditioned on the flips, as Pyro users do) and
//! M4. It prints three parts.
//!
//! **Streaming mode** ([`Importance::run_streaming`](pyro_core::infer::Importance)), one line
//! per model: traces per second on one thread and on all threads of the library (`pyro`) and of
//! the two hand-written loops doing the same arithmetic with the same RNG and distributions, with
//! the ratios of the library's time to theirs:
//! - `hand`: the reproducible hand loop ([`by_hand`]), which gives the library's guarantee (a
//!   generator per particle, chunks over rayon, the same result on any number of threads), on one
//!   thread and on all threads;
//! - `plain`: the plain loop ([`plain_loop`]), the fastest honest single-threaded code for the
//!   job (one generator, a plain `for` loop), on one thread: the floor of what the job costs.
//!
//! Then the speedup of the library on all threads over one, and the posterior mean and log
//! evidence the library and the plain loop computed, next to the exact values. After the table,
//! the ratio of M3c's time per trace to M3's on one thread (the goal: at most 1.2).
//!
//! **Stored mode** ([`Importance::run`](pyro_core::infer::Importance), every particle's whole
//! trace kept in the returned `Posterior`), one line per model: traces per second on one thread
//! and on all threads (the time of `run`; the estimate and dropping the posterior are not
//! timed), the speedup of all threads over one, the ratio of its time per trace to streaming
//! mode's on one thread, the mean number of sites per trace, the bytes kept per trace and per
//! site (net bytes allocated by the run, with its posterior alive, counted by this binary's
//! global allocator in a separate untimed run on one thread), and the posterior mean and log
//! evidence.
//!
//! **Streaming memory**: the peak memory of streaming mode (M1) at 1e4, 1e6, 1e7 and 1e8
//! particles (1e4 and 1e6 with `--quick`), each in a fresh process, which must be flat: within
//! 1 MiB of each other whatever the number of particles.
//!
//! Every timing is the median of 5 repeats, each repeat timing all the runs of a model back to
//! back so that each ratio compares runs made under the same load (this VM's speed drifts over
//! seconds). `--quick` runs 1/50 of the particles, as a smoke test.
//!
//! `cargo run --release -p pyro-benches --bin importance [-- --quick]`; writes
//! `target/bench/importance.json` with the same figures.

use pyro_benches::*;
use pyro_core::infer::Posterior;
use pyro_core::poutine::{Trace, condition};
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

/// Times `run`, a stored run, then reads its estimate of `site` and drops its posterior, untimed.
fn timed_stored(run: impl FnOnce() -> Posterior, site: &'static str) -> Run {
    let start = Instant::now();
    let post = run();
    let seconds = start.elapsed().as_secs_f64();
    let e = stored_estimate(&post, site);
    Run {
        seconds,
        mean: e.mean,
        log_evidence: e.log_evidence,
    }
}

/// How many times each timing is repeated; the tables show medians.
const REPEATS: usize = 5;

/// The timings of one repeat of a model, taken back to back so that each ratio compares runs
/// made under the same load (this VM's speed drifts over seconds).
struct Repeat {
    lib1: Run,
    hand1: Run,
    plain1: Run,
    liball: Run,
    handall: Run,
    stored1: Run,
    storedall: Run,
}

/// A benchmark model: its runs in each mode and loop, and its exact values.
struct Bench {
    name: &'static str,
    sites: &'static str,
    /// The site whose posterior mean is reported.
    site: &'static str,
    /// Particles per streaming run: about 0.3-0.7 s of the library on one thread, so that
    /// neither the timings nor the thread speedups are dominated by start-up costs and noise.
    particles: usize,
    /// Particles per stored run: about 0.2-0.5 s on one thread, and at most about 0.9 GB kept
    /// (a trace of M1 keeps about 1.3 KB, one of M2 or M3 about 42 KB).
    stored_particles: usize,
    exact_mean: Option<f64>,
    exact_log_evidence: Option<f64>,
    library: Box<dyn Fn(usize) -> Estimate + Sync>,
    by_hand: Box<dyn Fn(usize) -> Estimate + Sync>,
    plain: Box<dyn Fn(usize) -> Estimate + Sync>,
    stored: Box<dyn Fn(usize) -> Posterior + Sync>,
}

/// The models. Their data live for the whole run (leaked), for the closures to share.
fn benches() -> Vec<Bench> {
    let precision = 1.0 + 1.0 / 0.5625;
    let scale_log_z = -0.5 * (1.0 / 1.5625) - 0.5 * (2.0 * std::f64::consts::PI * 1.5625).ln();
    let xy: &'static (Vec<f64>, Vec<f64>) = Box::leak(Box::new(linreg_data()));
    let flips: &'static [bool] = Box::leak(coin_data().into_boxed_slice());
    let beta = rand_distr::Beta::new(10.0, 10.0).expect("Beta(10, 10)");
    let geometric = rand_distr::Geometric::new(0.3).expect("Geometric(0.3)");
    let coin_conditioned = condition(coin_unobserved, coin_data_conditioned(flips));
    let coin_conditioned_stored = coin_conditioned.clone();
    let coin_exact = (Some(70.0 / 120.0), Some(-68.5324));
    vec![
        Bench {
            name: "M1 scale",
            sites: "2",
            site: "weight",
            particles: 5_000_000,
            stored_particles: 500_000,
            exact_mean: Some((8.5 + 9.5 / 0.5625) / precision),
            exact_log_evidence: Some(scale_log_z),
            library: Box::new(|n| library(scale, (), "weight", n)),
            by_hand: Box::new(|n| by_hand(n, scale_by_hand)),
            plain: Box::new(|n| plain_loop(n, scale_by_hand)),
            stored: Box::new(|n| library_stored(scale, (), n)),
        },
        Bench {
            name: "M2 linreg",
            sites: "103",
            site: "b",
            particles: 300_000,
            stored_particles: 20_000,
            exact_mean: None,
            exact_log_evidence: None,
            library: Box::new(move |n| library(linreg, xy, "b", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| linreg_by_hand(r, xy))),
            plain: Box::new(move |n| plain_loop(n, |r| linreg_by_hand(r, xy))),
            stored: Box::new(move |n| library_stored(linreg, xy, n)),
        },
        Bench {
            name: "M2v linreg_vec",
            sites: "4",
            site: "b",
            particles: 1_000_000,
            stored_particles: 100_000,
            exact_mean: None,
            exact_log_evidence: None,
            library: Box::new(move |n| library(linreg_vec, xy, "b", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| linreg_by_hand(r, xy))),
            plain: Box::new(move |n| plain_loop(n, |r| linreg_by_hand(r, xy))),
            stored: Box::new(move |n| library_stored(linreg_vec, xy, n)),
        },
        Bench {
            name: "M3 coin",
            sites: "101",
            site: "p",
            particles: 300_000,
            stored_particles: 20_000,
            exact_mean: coin_exact.0,
            exact_log_evidence: coin_exact.1,
            library: Box::new(move |n| library(coin, flips, "p", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| coin_by_hand(r, &beta, flips))),
            plain: Box::new(move |n| plain_loop(n, |r| coin_by_hand(r, &beta, flips))),
            stored: Box::new(move |n| library_stored(coin, flips, n)),
        },
        Bench {
            name: "M3v coin_vec",
            sites: "2",
            site: "p",
            particles: 2_000_000,
            stored_particles: 250_000,
            exact_mean: coin_exact.0,
            exact_log_evidence: coin_exact.1,
            library: Box::new(move |n| library(coin_vec, flips, "p", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| coin_by_hand(r, &beta, flips))),
            plain: Box::new(move |n| plain_loop(n, |r| coin_by_hand(r, &beta, flips))),
            stored: Box::new(move |n| library_stored(coin_vec, flips, n)),
        },
        Bench {
            name: "M3c coin_cond",
            sites: "101",
            site: "p",
            particles: 60_000,
            stored_particles: 20_000,
            exact_mean: coin_exact.0,
            exact_log_evidence: coin_exact.1,
            library: Box::new(move |n| library(coin_conditioned.clone(), flips, "p", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| coin_by_hand(r, &beta, flips))),
            plain: Box::new(move |n| plain_loop(n, |r| coin_by_hand(r, &beta, flips))),
            stored: Box::new(move |n| library_stored(coin_conditioned_stored.clone(), flips, n)),
        },
        Bench {
            name: "M4 random_walk",
            sites: "2 + n",
            site: "n",
            particles: 2_000_000,
            stored_particles: 250_000,
            exact_mean: Some(2.73483),
            exact_log_evidence: Some(-2.35599),
            library: Box::new(|n| library(random_walk, (), "n", n)),
            by_hand: Box::new(move |n| by_hand(n, |r| random_walk_by_hand(r, &geometric))),
            plain: Box::new(move |n| plain_loop(n, |r| random_walk_by_hand(r, &geometric))),
            stored: Box::new(|n| library_stored(random_walk, (), n)),
        },
    ]
}

/// What a stored run of `particles` particles of benchmark `index` keeps: (bytes per trace, mean
/// sites per trace). Measured in a fresh process (so that no earlier run's freed memory is
/// reused) as the growth of its resident memory with the posterior alive, divided by the
/// particles: what a user's process pays, allocator overhead included.
fn stored_memory(index: usize, particles: usize) -> Option<(f64, f64)> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args([
            "--stored-memory",
            &index.to_string(),
            &particles.to_string(),
        ])
        .output()
        .ok()?;
    let out = String::from_utf8(out.stdout).ok()?;
    let mut figures = out.split_whitespace().map(str::parse::<f64>);
    Some((figures.next()?.ok()?, figures.next()?.ok()?))
}

/// The `--stored-memory` child of [`stored_memory`]: runs benchmark `index` in stored mode on one
/// thread and prints the bytes per trace and the mean sites per trace.
fn print_stored_memory(index: usize, particles: usize) {
    let b = benches().swap_remove(index);
    let before = memory_kib("VmRSS:").unwrap_or(0);
    let post = pool(1).install(|| (b.stored)(particles));
    let after = memory_kib("VmRSS:").unwrap_or(0);
    let bytes = after.saturating_sub(before) as f64 * 1024.0 / particles as f64;
    let traces = post.traces().expect("a stored run keeps its traces");
    let sites = traces.iter().map(Trace::len).sum::<usize>() as f64 / particles as f64;
    println!("{bytes} {sites}");
}

/// A memory figure of this process from `/proc/self/status`, in KiB: `VmHWM:` (peak resident)
/// or `VmRSS:` (resident now).
fn memory_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
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

/// A model's figures in stored mode, for the second table.
struct StoredRow {
    name: &'static str,
    particles: usize,
    rate1: f64,
    rateall: f64,
    speedup: f64,
    to_streaming: f64,
    sites: f64,
    bytes_per_trace: f64,
    estimate: Run,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--memory") {
        let particles: usize = args[i + 1].parse().expect("a number of particles");
        library(scale, (), "weight", particles);
        println!("{}", memory_kib("VmHWM:").unwrap_or(0));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--stored-memory") {
        let index: usize = args[i + 1].parse().expect("a benchmark index");
        let particles: usize = args[i + 2].parse().expect("a number of particles");
        print_stored_memory(index, particles);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "importance sampling, prior proposal, streaming mode; rates in traces per second; \
         ratio = pyro time / loop time\n\
         hand = reproducible hand loop (a generator per particle, rayon), plain = plain loop \
         (one generator, one thread)"
    );
    println!(
        "{:<15} {:>6} {:>9} | {:>10} {:>10} {:>6} {:>10} {:>6} | {:>10} {:>10} {:>6} {:>7} | {:>8} {:>8} {:>8} | {:>9} {:>9} {:>9}",
        "model",
        "sites",
        "particles",
        "pyro 1t",
        "hand 1t",
        "ratio",
        "plain 1t",
        "ratio",
        "pyro all",
        "hand all",
        "ratio",
        "speedup",
        "mean",
        "plain",
        "exact",
        "log Z",
        "plain",
        "exact"
    );
    let (one, every) = (pool(1), pool(all));
    let fmt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
    let mut rows = Vec::new();
    let mut stored_rows = Vec::new();
    // Library streaming rates on one thread, by model, for the M3c / M3 ratio.
    let mut lib1_rates = Vec::new();
    for (index, b) in benches().into_iter().enumerate() {
        let divisor = if quick { 50 } else { 1 };
        let (n, ns) = (b.particles / divisor, b.stored_particles / divisor);
        let repeats: Vec<Repeat> = (0..REPEATS)
            .map(|_| Repeat {
                lib1: one.install(|| timed(|| (b.library)(n))),
                hand1: one.install(|| timed(|| (b.by_hand)(n))),
                plain1: timed(|| (b.plain)(n)),
                liball: every.install(|| timed(|| (b.library)(n))),
                handall: every.install(|| timed(|| (b.by_hand)(n))),
                stored1: one.install(|| timed_stored(|| (b.stored)(ns), b.site)),
                storedall: every.install(|| timed_stored(|| (b.stored)(ns), b.site)),
            })
            .collect();
        let med = |f: &dyn Fn(&Repeat) -> f64| median(repeats.iter().map(f).collect());
        let rate = |run: fn(&Repeat) -> &Run| med(&|r| n as f64 / run(r).seconds);
        let (lib1, hand1, plain1) = (rate(|r| &r.lib1), rate(|r| &r.hand1), rate(|r| &r.plain1));
        let (liball, handall) = (rate(|r| &r.liball), rate(|r| &r.handall));
        let ratio1 = med(&|r| r.lib1.seconds / r.hand1.seconds);
        let ratio_plain = med(&|r| r.lib1.seconds / r.plain1.seconds);
        let ratioall = med(&|r| r.liball.seconds / r.handall.seconds);
        let speedup = med(&|r| r.lib1.seconds / r.liball.seconds);
        // The same seed gives the same estimates at every repeat.
        let (estimate, plain) = (repeats[0].lib1, repeats[0].plain1);
        println!(
            "{:<15} {:>6} {:>9} | {:>10.3e} {:>10.3e} {:>6.2} {:>10.3e} {:>6.2} | {:>10.3e} {:>10.3e} {:>6.2} {:>7.2} | {:>8.4} {:>8.4} {:>8} | {:>9.4} {:>9.4} {:>9}",
            b.name,
            b.sites,
            n,
            lib1,
            hand1,
            ratio1,
            plain1,
            ratio_plain,
            liball,
            handall,
            ratioall,
            speedup,
            estimate.mean,
            plain.mean,
            fmt(b.exact_mean),
            estimate.log_evidence,
            plain.log_evidence,
            fmt(b.exact_log_evidence),
        );
        lib1_rates.push((b.name, lib1));

        let stored_rate = |run: fn(&Repeat) -> &Run| med(&|r| ns as f64 / run(r).seconds);
        let (stored1, storedall) = (stored_rate(|r| &r.stored1), stored_rate(|r| &r.storedall));
        let stored_speedup = med(&|r| r.stored1.seconds / r.storedall.seconds);
        let to_streaming = med(&|r| (r.stored1.seconds / ns as f64) / (r.lib1.seconds / n as f64));
        let (bytes_per_trace, sites) = stored_memory(index, ns).unwrap_or((f64::NAN, f64::NAN));
        let stored = repeats[0].stored1;
        rows.push(json!({
            "model": b.name,
            "sites": b.sites,
            "particles": n,
            "threads_all": all,
            "repeats": REPEATS,
            "pyro_traces_per_s_1_thread": lib1,
            "hand_traces_per_s_1_thread": hand1,
            "time_ratio_1_thread": ratio1,
            "plain_traces_per_s_1_thread": plain1,
            "time_ratio_plain_1_thread": ratio_plain,
            "pyro_traces_per_s_all_threads": liball,
            "hand_traces_per_s_all_threads": handall,
            "time_ratio_all_threads": ratioall,
            "thread_speedup": speedup,
            "posterior_mean": estimate.mean,
            "plain_posterior_mean": plain.mean,
            "exact_mean": b.exact_mean,
            "log_evidence": estimate.log_evidence,
            "plain_log_evidence": plain.log_evidence,
            "exact_log_evidence": b.exact_log_evidence,
            "stored_particles": ns,
            "stored_traces_per_s_1_thread": stored1,
            "stored_traces_per_s_all_threads": storedall,
            "stored_thread_speedup": stored_speedup,
            "stored_to_streaming_time_ratio_1_thread": to_streaming,
            "stored_sites_per_trace": sites,
            "stored_bytes_per_trace": bytes_per_trace,
            "stored_bytes_per_site": bytes_per_trace / sites,
            "stored_posterior_mean": stored.mean,
            "stored_log_evidence": stored.log_evidence,
        }));
        stored_rows.push(StoredRow {
            name: b.name,
            particles: ns,
            rate1: stored1,
            rateall: storedall,
            speedup: stored_speedup,
            to_streaming,
            sites,
            bytes_per_trace,
            estimate: stored,
        });
    }
    let lib1_of = |name: &str| {
        lib1_rates
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, rate)| *rate)
    };
    let m3c_to_m3 = lib1_of("M3 coin")
        .zip(lib1_of("M3c coin_cond"))
        .map(|(m3, m3c)| m3 / m3c);
    println!(
        "M3c / M3 time per trace, streaming, 1 thread: {} (goal: at most 1.2)",
        m3c_to_m3.map_or("?".into(), |r| format!("{r:.2}"))
    );

    println!(
        "\nstored mode (Importance::run, every trace kept); rates in traces per second; \
         /stream = time per trace over streaming mode's, 1 thread"
    );
    println!(
        "{:<15} {:>9} | {:>10} {:>10} {:>7} {:>7} | {:>7} {:>9} {:>7} | {:>8} {:>9}",
        "model",
        "particles",
        "stored 1t",
        "stored all",
        "speedup",
        "/stream",
        "sites",
        "B/trace",
        "B/site",
        "mean",
        "log Z"
    );
    for s in &stored_rows {
        println!(
            "{:<15} {:>9} | {:>10.3e} {:>10.3e} {:>7.2} {:>7.2} | {:>7.2} {:>9.0} {:>7.1} | {:>8.4} {:>9.4}",
            s.name,
            s.particles,
            s.rate1,
            s.rateall,
            s.speedup,
            s.to_streaming,
            s.sites,
            s.bytes_per_trace,
            s.bytes_per_trace / s.sites,
            s.estimate.mean,
            s.estimate.log_evidence,
        );
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
        "\nstreaming peak memory (M1, fresh process): {}",
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
        "m3c_to_m3_time_ratio_1_thread": m3c_to_m3,
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
