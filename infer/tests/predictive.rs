//! Predictive sampling: prior and posterior predictive draws against analytic marginals.
//!
//! Tolerances: for `n` independent draws with variance `s^2`, the sample mean has standard error
//! `s / sqrt(n)`, and for normal draws the sample variance has standard error
//! `s^2 sqrt(2 / (n - 1))`; each check allows five standard errors (fixed seeds).

mod common;

use pyro_infer::{Importance, InferError, Latents, Predictive};
use pyro_poutine::distributions::{Normal, Real, Value};
use pyro_poutine::{Name, PyroError, TraceMessenger, observe, sample, stack_depth};

/// `mu ~ Normal(0, 1)`, `y ~ Normal(mu, 0.5)` observed at `y`.
fn model(y: f64) -> Result<Real, PyroError> {
    let mu = sample("mu", Normal::new(0.0, 1.0))?;
    observe("y", Normal::new(mu, 0.5), y)
}

fn moments(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (
        m,
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

fn check_normal(xs: &[f64], mean: f64, var: f64) {
    let n = xs.len() as f64;
    let (m, v) = moments(xs);
    assert!(
        (m - mean).abs() < 5.0 * (var / n).sqrt(),
        "mean {m} vs {mean}"
    );
    assert!(
        (v - var).abs() < 5.0 * var * (2.0 / (n - 1.0)).sqrt(),
        "variance {v} vs {var}"
    );
}

#[test]
fn prior_predictive_draws_observations_fresh() {
    let draws = Predictive::prior(model, 20_000).seed(3).run(3.0).unwrap();
    assert_eq!(draws.len(), 20_000);
    let names: Vec<String> = draws.names().map(|n| n.to_string()).collect();
    assert_eq!(names, ["mu", "y"]);
    // y ~ Normal(0, sqrt(1 + 0.25)) marginally; mu ~ Normal(0, 1).
    check_normal(&draws.reals(&Name::from("y")).unwrap(), 0.0, 1.25);
    check_normal(&draws.reals(&Name::from("mu")).unwrap(), 0.0, 1.0);
}

#[test]
fn keep_observed_returns_the_data() {
    let draws = Predictive::prior(model, 50)
        .keep_observed(true)
        .run(3.0)
        .unwrap();
    assert!(
        draws
            .reals(&Name::from("y"))
            .unwrap()
            .iter()
            .all(|&y| y == 3.0)
    );
}

#[test]
fn samples_fix_the_latents_and_observations_are_fresh() {
    let samples: Vec<Latents> = (0..4000)
        .map(|i| {
            [(
                Name::from("mu"),
                Value::Real(if i % 2 == 0 { 1.0 } else { -1.0 }),
            )]
            .into()
        })
        .collect();
    let draws = Predictive::from_samples(model, samples.clone())
        .seed(4)
        .run(0.0)
        .unwrap();
    let mus = draws.reals(&Name::from("mu")).unwrap();
    for (mu, s) in mus.iter().zip(&samples) {
        assert_eq!(Value::Real(*mu), s[&Name::from("mu")]);
    }
    // y - mu ~ Normal(0, 0.5).
    let resid: Vec<f64> = draws
        .reals(&Name::from("y"))
        .unwrap()
        .iter()
        .zip(&mus)
        .map(|(y, mu)| y - mu)
        .collect();
    check_normal(&resid, 0.0, 0.25);
}

#[test]
fn a_guide_supplies_the_latents() {
    let guide = |_: f64| sample("mu", Normal::new(5.0, 0.1));
    let draws = Predictive::from_guide(model, guide, 10_000)
        .seed(5)
        .run(0.0)
        .unwrap();
    check_normal(&draws.reals(&Name::from("mu")).unwrap(), 5.0, 0.01);
    check_normal(&draws.reals(&Name::from("y")).unwrap(), 5.0, 0.01 + 0.25);
}

#[test]
fn posterior_predictive_from_importance_sampling() {
    // Observing y = 2: the posterior of mu is Normal(2 / 1.25, sqrt(0.25 / 1.25)) = N(1.6, 0.447);
    // a new y is then Normal(1.6, sqrt(0.2 + 0.25)).
    let posterior = Importance::new(model, 20_000).seed(6).run(2.0).unwrap();
    let predictive = Predictive::from_posterior(model, &posterior, 10_000, 7).unwrap();
    let ys = predictive
        .run(2.0)
        .unwrap()
        .reals(&Name::from("y"))
        .unwrap();
    let (m, v) = moments(&ys);
    // The mean of the draws has variance about Var(mu | y) / ESS (the resampled particles carry
    // ESS independent values of mu) plus Var(y - mu) / n (the fresh noise): 0.2 / ESS + 0.25 / n
    // <= 0.45 / min(ESS, n), so the tolerance uses the smaller count (and likewise for the
    // variance).
    let ess = posterior.ess().unwrap().min(10_000.0);
    assert!((m - 1.6).abs() < 5.0 * (0.45 / ess).sqrt(), "mean {m}");
    assert!(
        (v - 0.45).abs() < 5.0 * 0.45 * (2.0 / ess).sqrt(),
        "variance {v}"
    );
}

#[test]
fn return_sites_filter_and_threads_do_not_matter() {
    let run = |threads: usize| {
        common::on_threads(threads, || {
            Predictive::prior(model, 1000)
                .seed(8)
                .return_sites(&[Name::from("y")])
                .run(0.0)
                .unwrap()
        })
    };
    let one = run(1);
    assert_eq!(one.names().count(), 1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(4));
}

#[test]
fn errors_name_the_sample_and_nothing_leaks() {
    let failing = |scale: f64| sample("mu", Normal::new(0.0, scale));
    let err = Predictive::prior(failing, 10).run(-1.0).unwrap_err();
    assert!(matches!(err, InferError::Model { index: 0, .. }), "{err}");
    // Only some runs fail: the lowest failing index is reported on any number of threads.
    let some_fail = |_: ()| -> Result<Real, PyroError> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        sample("y", Normal::new(0.0, if x > 1.0 { -1.0 } else { 1.0 }))
    };
    let first = |threads: usize| {
        common::on_threads(threads, || {
            match Predictive::prior(some_fail, 400).seed(2).run(()) {
                Err(InferError::Model { index, .. }) => index,
                other => panic!("expected a failing run, got {other:?}"),
            }
        })
    };
    assert_eq!(first(1), first(4));
    assert_eq!(stack_depth(), 0);
    let ((), outer) = TraceMessenger::record(|| {
        Predictive::prior(model, 10).run(0.0).unwrap();
        Ok(())
    })
    .unwrap();
    assert!(outer.is_empty());
    let err = Predictive::from_weighted(model, vec![Latents::new()], vec![], 3, 0).err();
    assert!(matches!(err, Some(InferError::InvalidArgument { .. })));
}
