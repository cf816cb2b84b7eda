//! `cargo xtask ci`: format, lints, docs, doc-tests, examples (fast mode), a one-pass benchmark
//! smoke run, and the test suite last (so that its summary closes the log). Stops at the first
//! failure.

use crate::sh;
use std::process::Command;

/// The example binaries, each run with `--fast`.
const EXAMPLES: &[&str] = &[
    "scale",
    "random_walk",
    "intro",
    "trace_tour",
    "coin",
    "counterfactual",
    "linreg",
    "subsample",
    "mixture",
];

pub(crate) fn run() -> Result<(), String> {
    sh("cargo", &["fmt", "--all", "--check"], &[])?;
    let clippy = [
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ];
    sh("cargo", &clippy, &[])?;
    let docs = [("RUSTDOCFLAGS", "-D warnings")];
    sh("cargo", &["doc", "--workspace", "--no-deps"], &docs)?;
    sh("cargo", &["test", "--workspace", "--doc"], &[])?;
    for example in EXAMPLES {
        let args = [
            "run",
            "--release",
            "-p",
            "pyro-examples",
            "--bin",
            example,
            "--",
            "--fast",
        ];
        sh("cargo", &args, &[])?;
    }
    sh(
        "cargo",
        &["bench", "-p", "pyro-benches", "--", "--test"],
        &[],
    )?;
    let importance = [
        "run",
        "--release",
        "-p",
        "pyro-benches",
        "--bin",
        "importance",
    ];
    sh(
        "cargo",
        &[&importance[..], &["--", "--quick"]].concat(),
        &[],
    )?;
    let mcmc = ["run", "--release", "-p", "pyro-benches", "--bin", "mcmc"];
    sh("cargo", &[&mcmc[..], &["--", "--quick"]].concat(), &[])?;
    let nuts = ["run", "--release", "-p", "pyro-benches", "--bin", "nuts"];
    sh("cargo", &[&nuts[..], &["--", "--quick"]].concat(), &[])?;
    let svi = ["run", "--release", "-p", "pyro-benches", "--bin", "svi"];
    sh("cargo", &[&svi[..], &["--", "--quick"]].concat(), &[])?;
    if has_nextest() {
        sh("cargo", &["nextest", "run", "--workspace"], &[])
    } else {
        sh("cargo", &["test", "--workspace"], &[])
    }
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}
