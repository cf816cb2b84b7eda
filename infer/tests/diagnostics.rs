//! The MCMC diagnostics against ArviZ's values (and the quantiles against numpy's) on the draw
//! sets of `tests/data/diagnostics`, made by `gen_reference.py` there: iid, autocorrelated,
//! antithetic, shifted, differently scaled, heavy-tailed, discrete (with ties where SciPy's
//! quantile rounds below the tied value), constant and nearly constant draws, an odd number of
//! draws, few draws, one chain.
//!
//! Every value must agree with the reference to a relative 1e-9, and be `None` exactly where the
//! reference is NaN (null in `reference.json`). The computations are the same; only rounding
//! differs: ArviZ
//! sums autocovariances by FFT where the Rust code sums each lag directly, and numpy sums
//! pairwise where the Rust code sums in order. Those differences are of the order of 1e-15
//! relative per operation, and the Geyer sums add a few hundred terms at most, so 1e-9 leaves a
//! wide margin while still catching any difference of method (a dropped draw, a different rank
//! or threshold, a changed Geyer step all move the values by far more).

use std::fs;
use std::path::{Path, PathBuf};

use pyro_infer::diagnostics::{
    autocorrelation, ess_bulk, ess_mean, ess_tail, quantile, split_rhat,
};
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/diagnostics")
}

/// One coordinate's draws, `chains[c][d]`, with its reference values.
struct Coordinate {
    label: String,
    chains: Vec<Vec<f64>>,
    reference: Value,
}

impl Coordinate {
    fn chains(&self) -> Vec<&[f64]> {
        self.chains.iter().map(Vec::as_slice).collect()
    }
}

/// Reads a `chain,draw,<coordinate>,...` CSV: the coordinate names and, for each, its draws
/// `[chain][draw]`. Rows must come chain by chain, draws in order.
fn read_csv(path: &Path) -> Vec<(String, Vec<Vec<f64>>)> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header row").split(',').collect();
    assert_eq!(header[..2], ["chain", "draw"], "{}", path.display());
    let mut columns: Vec<(String, Vec<Vec<f64>>)> = header[2..]
        .iter()
        .map(|name| (name.to_string(), Vec::new()))
        .collect();
    for (row, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), header.len(), "{} row {row}", path.display());
        let chain: usize = fields[0].parse().unwrap();
        let draw: usize = fields[1].parse().unwrap();
        for ((_, draws), field) in columns.iter_mut().zip(&fields[2..]) {
            if draw == 0 {
                assert_eq!(
                    chain,
                    draws.len(),
                    "{} row {row}: chains in order",
                    path.display()
                );
                draws.push(Vec::new());
            }
            let last = draws.len().checked_sub(1);
            let current = draws.last_mut().expect("draw 0 first");
            assert_eq!(
                (Some(chain), draw),
                (last, current.len()),
                "{} row {row}: draws in order",
                path.display()
            );
            current.push(field.parse().unwrap());
        }
    }
    columns
}

/// Every coordinate of every set of `reference.json`, with its draws.
fn coordinates() -> (Vec<Coordinate>, Vec<f64>) {
    let dir = data_dir();
    let text = fs::read_to_string(dir.join("reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let probs: Vec<f64> = reference["quantile_probs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_f64().unwrap())
        .collect();
    let mut out = Vec::new();
    for set in reference["sets"].as_array().unwrap() {
        let file = set["file"].as_str().unwrap();
        let (n_chains, n_draws) = (
            set["chains"].as_u64().unwrap(),
            set["draws"].as_u64().unwrap(),
        );
        let columns = read_csv(&dir.join(file));
        let references = set["coordinates"].as_object().unwrap();
        assert_eq!(columns.len(), references.len(), "{file}");
        for (name, chains) in columns {
            assert_eq!(chains.len() as u64, n_chains, "{file}:{name}");
            assert!(
                chains.iter().all(|c| c.len() as u64 == n_draws),
                "{file}:{name}"
            );
            out.push(Coordinate {
                label: format!("{}:{name}", set["name"].as_str().unwrap()),
                chains,
                reference: references[&name].clone(),
            });
        }
    }
    assert!(out.len() >= 15, "reference sets missing");
    (out, probs)
}

/// Compares values with the reference, collecting mismatches and the largest relative deviation.
#[derive(Default)]
struct Comparison {
    checked: usize,
    worst: f64,
    worst_at: String,
    failures: Vec<String>,
}

impl Comparison {
    fn check(&mut self, what: String, got: Option<f64>, want: &Value) {
        self.checked += 1;
        match (got, want.as_f64()) {
            (None, None) if want.is_null() => {}
            (Some(got), Some(want)) => {
                let deviation = if got == want {
                    0.0
                } else {
                    (got - want).abs() / want.abs()
                };
                if deviation > self.worst {
                    self.worst = deviation;
                    self.worst_at = what.clone();
                }
                if deviation.is_nan() || deviation > TOLERANCE {
                    self.failures.push(format!(
                        "{what}: {got:?}, reference {want:?} (relative {deviation:e})"
                    ));
                }
            }
            (got, _) => self
                .failures
                .push(format!("{what}: {got:?}, reference {want}")),
        }
    }

    fn finish(self, name: &str) {
        println!(
            "{name}: {} values, max relative deviation from the reference {:e} ({})",
            self.checked, self.worst, self.worst_at
        );
        assert!(self.checked > 0);
        assert!(
            self.failures.is_empty(),
            "{name}:\n{}",
            self.failures.join("\n")
        );
    }
}

fn compare(name: &str, key: &str, f: fn(&[&[f64]]) -> Option<f64>) {
    let (coordinates, _) = coordinates();
    let mut comparison = Comparison::default();
    for c in &coordinates {
        comparison.check(c.label.clone(), f(&c.chains()), &c.reference[key]);
    }
    comparison.finish(name);
}

#[test]
fn split_rhat_matches_arviz() {
    compare("split_rhat", "rhat", split_rhat);
}

#[test]
fn ess_bulk_matches_arviz() {
    compare("ess_bulk", "ess_bulk", ess_bulk);
}

#[test]
fn ess_tail_matches_arviz() {
    compare("ess_tail", "ess_tail", ess_tail);
}

#[test]
fn ess_mean_matches_arviz() {
    compare("ess_mean", "ess_mean", ess_mean);
}

#[test]
fn autocorrelation_matches_arviz() {
    let (coordinates, _) = coordinates();
    let mut comparison = Comparison::default();
    for c in &coordinates {
        let want = c.reference["autocorr"].as_array().unwrap();
        let got = autocorrelation(&c.chains[0], 49);
        assert_eq!(got.len(), want.len(), "{}", c.label);
        for (lag, (got, want)) in got.iter().zip(want).enumerate() {
            let got = (!got.is_nan()).then_some(*got);
            comparison.check(format!("{} lag {lag}", c.label), got, want);
        }
    }
    comparison.finish("autocorrelation");
}

#[test]
fn quantile_matches_numpy() {
    let (coordinates, probs) = coordinates();
    let mut comparison = Comparison::default();
    for c in &coordinates {
        let mut sorted: Vec<f64> = c.chains.concat();
        sorted.sort_by(f64::total_cmp);
        let want = c.reference["quantiles"].as_array().unwrap();
        for (&q, want) in probs.iter().zip(want) {
            comparison.check(format!("{} q {q}", c.label), quantile(&sorted, q), want);
        }
    }
    comparison.finish("quantile");
}
