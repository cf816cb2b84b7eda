//! `cargo xtask ci`: format, lints, docs, tests, doc-tests, examples (fast mode) and a one-pass
//! benchmark smoke run, cheapest first. Stops at the first failure.

use crate::sh;
use std::process::Command;

/// The example binaries, each run with `--fast`.
const EXAMPLES: &[&str] = &["scale", "random_walk"];

pub(crate) fn run() -> Result<(), String> {
    sh("cargo", &["fmt", "--all", "--check"], &[])?;
    sh(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    sh(
        "cargo",
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    if has_nextest() {
        sh("cargo", &["nextest", "run", "--workspace"], &[])?;
    } else {
        sh("cargo", &["test", "--workspace"], &[])?;
    }
    sh("cargo", &["test", "--workspace", "--doc"], &[])?;
    for example in EXAMPLES {
        sh(
            "cargo",
            &[
                "run",
                "--release",
                "-p",
                "pyro-examples",
                "--bin",
                example,
                "--",
                "--fast",
            ],
            &[],
        )?;
    }
    sh(
        "cargo",
        &["bench", "-p", "pyro-benches", "--", "--test"],
        &[],
    )
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}
