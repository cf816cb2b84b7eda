//! `cargo xtask bench [--quick]`: runs the criterion benchmarks of `pyro-benches` and prints, per
//! group, the median time of `pyro` and of the hand-written `baseline` measured in the same run,
//! with their ratio (and, for traced models, the handler overhead per site), writing the figures to
//! `target/bench/benchmarks.json`; then runs the importance-sampling benchmark (`pyro-benches`'
//! `importance` binary), which writes `target/bench/importance.json`, and the trace-MCMC
//! benchmark (`mcmc`), which writes `target/bench/mcmc.json`, the gradient and NUTS benchmark
//! (`nuts`), which writes `target/bench/nuts.json`, and the SVI benchmark (`svi`), which writes
//! `target/bench/svi.json`.

use crate::{sh, workspace_root};
use serde_json::{Value, json};

/// A benchmark group: its bench target, criterion group name, and the number of sites of a
/// traced model (`None` for per-call distribution benchmarks).
struct Group {
    target: &'static str,
    name: &'static str,
    sites: Option<usize>,
}

const GROUPS: &[Group] = &[
    Group {
        target: "distributions",
        name: "normal",
        sites: None,
    },
    Group {
        target: "distributions",
        name: "gamma",
        sites: None,
    },
    Group {
        target: "distributions",
        name: "beta",
        sites: None,
    },
    Group {
        target: "distributions",
        name: "poisson",
        sites: None,
    },
    Group {
        target: "trace",
        name: "trace_m1",
        sites: Some(2),
    },
    Group {
        target: "trace",
        name: "trace_m2",
        sites: Some(103),
    },
    Group {
        target: "trace",
        name: "trace_m3",
        sites: Some(101),
    },
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut targets: Vec<&str> = GROUPS.iter().map(|g| g.target).collect();
    targets.dedup();
    for target in targets {
        let mut bench_args = vec!["bench", "-p", "pyro-benches", "--bench", target, "--"];
        if quick {
            bench_args.push("--quick");
        }
        sh("cargo", &bench_args, &[])?;
    }

    let mut importance = vec![
        "run",
        "--release",
        "-p",
        "pyro-benches",
        "--bin",
        "importance",
    ];
    let mut mcmc = vec!["run", "--release", "-p", "pyro-benches", "--bin", "mcmc"];
    let mut nuts = vec!["run", "--release", "-p", "pyro-benches", "--bin", "nuts"];
    let mut svi = vec!["run", "--release", "-p", "pyro-benches", "--bin", "svi"];
    if quick {
        importance.extend(["--", "--quick"]);
        mcmc.extend(["--", "--quick"]);
        nuts.extend(["--", "--quick"]);
        svi.extend(["--", "--quick"]);
    }

    let root = workspace_root();
    let mut rows = Vec::new();
    println!("\nmedian time per call; ratio = pyro / baseline, both measured in this run");
    println!(
        "{:<10} {:>12} {:>14} {:>8} {:>16}",
        "group", "pyro (ns)", "baseline (ns)", "ratio", "overhead/site"
    );
    for g in GROUPS {
        let ours = median_ns(&root, g.name, "pyro")?;
        let base = median_ns(&root, g.name, "baseline")?;
        let ratio = ours / base;
        let per_site = g.sites.map(|n| (ours - base) / n as f64);
        let per_site_text = per_site.map_or("-".to_string(), |x| format!("{x:.2} ns"));
        println!(
            "{:<10} {ours:>12.2} {base:>14.2} {ratio:>8.2} {per_site_text:>16}",
            g.name
        );
        rows.push(json!({
            "group": g.name,
            "pyro_ns": ours,
            "baseline_ns": base,
            "ratio": ratio,
            "sites": g.sites,
            "overhead_ns_per_site": per_site,
        }));
    }
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let path = out.join("benchmarks.json");
    let text =
        serde_json::to_string_pretty(&json!({ "groups": rows })).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    println!();
    sh("cargo", &importance, &[])?;
    println!();
    sh("cargo", &mcmc, &[])?;
    println!();
    sh("cargo", &nuts, &[])?;
    println!();
    sh("cargo", &svi, &[])
}

/// Criterion's median estimate, in nanoseconds, for `group/function`.
fn median_ns(root: &std::path::Path, group: &str, function: &str) -> Result<f64, String> {
    let path = root.join(format!(
        "target/criterion/{group}/{function}/new/estimates.json"
    ));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    v["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{}: no median estimate", path.display()))
}
