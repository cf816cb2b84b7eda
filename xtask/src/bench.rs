//! `cargo xtask bench [--quick]`: runs the criterion benchmarks of `pyro-benches` and prints, per
//! group, the median time of `pyro` and of the hand-written `baseline` measured in the same run,
//! with their ratio. Writes the figures to `target/bench/distributions.json`.

use crate::{sh, workspace_root};
use serde_json::{Value, json};

/// The benchmark groups of `benches/benches/distributions.rs`.
const GROUPS: &[&str] = &["normal", "gamma", "beta", "poisson"];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut bench_args = vec![
        "bench",
        "-p",
        "pyro-benches",
        "--bench",
        "distributions",
        "--",
    ];
    if args.iter().any(|a| a == "--quick") {
        bench_args.push("--quick");
    }
    sh("cargo", &bench_args, &[])?;

    let root = workspace_root();
    let mut rows = Vec::new();
    println!("\nsample + log_prob per call (median of criterion's samples)");
    println!(
        "{:<10} {:>12} {:>14} {:>8}",
        "family", "pyro (ns)", "baseline (ns)", "ratio"
    );
    for group in GROUPS {
        let ours = median_ns(&root, group, "pyro")?;
        let base = median_ns(&root, group, "baseline")?;
        let ratio = ours / base;
        println!("{group:<10} {ours:>12.2} {base:>14.2} {ratio:>8.2}");
        rows.push(json!({"family": group, "pyro_ns": ours, "baseline_ns": base, "ratio": ratio}));
    }
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let path = out.join("distributions.json");
    let text = serde_json::to_string_pretty(&json!({ "sample_log_prob": rows }))
        .map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
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
