//! Checks of MCMC estimates against exact values, shared by the posterior tests.
//!
//! Tolerances come from each run's own effective sample size: an estimate of `E[f]` from a
//! chain is, by the Markov chain central limit theorem, normal around the exact value with
//! standard error `MCSE = sd(f) / sqrt(ESS)`, where `ESS` is the effective sample size of the
//! draws of `f` (`diagnostics::ess_mean`, ArviZ's `ess(method="mean")`, checked against ArviZ in
//! `diagnostics.rs`). Each check allows 4.5 MCSE: with an exact MCSE a correct sampler fails it
//! with probability 7e-6; the ESS estimate's own error (about 10% for these run lengths) makes
//! that at worst about 4 MCSE, 6e-5. The seeds are fixed, so the tests are deterministic; a
//! biased sampler (a missing trace-size correction, a wrong Jacobian) fails them by tens of
//! MCSE, as noted at each check.

use pyro_infer::McmcRun;
use pyro_infer::diagnostics::ess_mean;
use pyro_infer::poutine::Name;
use pyro_infer::poutine::distributions::Value;

/// How many Monte Carlo standard errors an estimate may be from the exact value (see the
/// module doc).
pub const Z: f64 = 4.5;

/// The per-chain series of `f` over the draws of `run`.
pub fn series(run: &McmcRun, f: impl Fn(&dyn Fn(&str) -> Option<f64>) -> f64) -> Vec<Vec<f64>> {
    run.get_samples_by_chain()
        .iter()
        .map(|chain| {
            (0..chain.len())
                .map(|i| {
                    let get = |site: &str| -> Option<f64> {
                        match chain.value(&Name::from(site.to_string()), i)? {
                            Value::Real(x) => Some(*x),
                            Value::Int(k) => Some(*k as f64),
                            Value::Bool(b) => Some(f64::from(u8::from(*b))),
                            other => panic!("{other:?}"),
                        }
                    };
                    f(&get)
                })
                .collect()
        })
        .collect()
}

/// Checks that the mean of the per-chain `series` is within `Z` MCSE of `exact`; returns the
/// estimate and its MCSE.
#[allow(dead_code)] // Not every test file that shares these checks uses both forms.
pub fn check_mean(what: &str, series: &[Vec<f64>], exact: f64) -> (f64, f64) {
    check_mean_near(what, series, exact, 0.0)
}

/// Checks that the mean of the per-chain `series` is within `Z` standard errors of a
/// `reference` estimate that has its own Monte Carlo standard error `reference_mcse` (a long
/// run of another sampler): the difference of two independent estimates has standard error
/// `sqrt(MCSE^2 + reference_mcse^2)`. Returns the estimate and its MCSE.
pub fn check_mean_near(
    what: &str,
    series: &[Vec<f64>],
    reference: f64,
    reference_mcse: f64,
) -> (f64, f64) {
    let all: Vec<f64> = series.iter().flatten().copied().collect();
    let n = all.len() as f64;
    let mean = all.iter().sum::<f64>() / n;
    let sd = (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let chains: Vec<&[f64]> = series.iter().map(Vec::as_slice).collect();
    let ess = ess_mean(&chains).expect("enough draws for an ESS");
    let mcse = sd / ess.sqrt();
    let se = mcse.hypot(reference_mcse);
    eprintln!("{what}: {mean:.5} (reference {reference:.5}), MCSE {mcse:.5}, ESS {ess:.0}");
    assert!(
        (mean - reference).abs() <= Z * se,
        "{what}: {mean} is {:.1} standard errors from {reference} (MCSE {mcse}, ESS {ess}, \
         reference MCSE {reference_mcse})",
        (mean - reference).abs() / se
    );
    (mean, mcse)
}
