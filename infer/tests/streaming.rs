//! Streaming importance sampling: bounded memory whatever the number of particles, and the sites
//! named when no particle has weight.

mod common;

use pyro_infer::{Importance, InferError};
use pyro_poutine::distributions::{Bernoulli, HalfNormal, Normal, Uniform};
use pyro_poutine::{Name, PyroError, observe, sample};

/// A model failing at the particles whose `u` is below `p`.
fn failing_below(p: f64) -> impl Fn(()) -> Result<f64, PyroError> + Sync + Clone {
    move |_: ()| {
        let u = sample("u", Uniform::new(0.0, 1.0))?;
        if u < p {
            sample("bad", Normal::new(0.0, -1.0))?;
        }
        observe("y", Normal::new(u, 1.0), 0.5)?;
        Ok(u)
    }
}

#[test]
fn a_huge_run_failing_early_fails_at_once_in_every_mode() {
    // Before, the results of every chunk were collected before being merged: a slot per chunk
    // (about 5 GB for 1e10 particles, an abort beyond), and the stored modes reserved room for
    // every particle up front, even when particle 0 fails.
    let u = [Name::from("u")];
    for p in [1.0, 0.02] {
        let model = failing_below(p);
        let expected = Importance::new(model.clone(), 5000)
            .seed(3)
            .run(())
            .unwrap_err()
            .to_string();
        if p == 1.0 {
            assert!(expected.starts_with("particle 0:"), "{expected}");
        } else {
            assert!(!expected.starts_with("particle 0:"), "{expected}");
        }
        for n in [1_000_000_000_000, usize::MAX, 10_000_000_000] {
            for threads in [1, 3] {
                let run = Importance::new(model.clone(), n).seed(3);
                let errors = common::on_threads(threads, || {
                    [
                        run.run_streaming((), &u).unwrap_err(),
                        run.run(()).unwrap_err(),
                        run.clone().keep_sites(&u).run(()).unwrap_err(),
                    ]
                });
                for e in errors {
                    assert_eq!(e.to_string(), expected, "{n} particles, {threads} threads");
                }
            }
        }
    }
}

#[test]
fn zero_weights_name_the_sites_that_scored_minus_inf() {
    // 'y' and 'z' are impossible observations; 'a' is fine.
    let impossible = |_: ()| -> Result<f64, PyroError> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        observe("a", Normal::new(x, 1.0), 0.3)?;
        observe("y", Bernoulli::new(0.0), true)?;
        observe("z", Uniform::new(0.0, 1.0), 2.0)?;
        Ok(x)
    };
    let x = [Name::from("x")];
    let run = Importance::new(impossible, 1000).seed(5);
    let expected = |particle: usize| {
        format!(
            "every particle has weight 0 (log-weight -inf): the posterior weights cannot be \
             normalised; in particle {particle} the sites 'y', 'z' scored -inf"
        )
    };
    let stored = run.run(()).unwrap();
    let kept = run.clone().keep_sites(&x).run(()).unwrap();
    let streamed = run.run_streaming((), &x).unwrap();
    let errors = [
        stored.log_normalizer().unwrap_err(),
        stored.normalized_weights().unwrap_err(),
        stored.ess().unwrap_err(),
        stored.marginal(&x).unwrap_err(),
        stored.output_marginal::<f64>().unwrap_err(),
        kept.log_normalizer().unwrap_err(),
        kept.marginal(&x).unwrap_err(),
        streamed.log_normalizer().unwrap_err(),
        streamed.ess().unwrap_err(),
        streamed.mean(&x[0]).unwrap_err(),
        streamed.variance(&x[0]).unwrap_err(),
    ];
    for e in errors {
        match &e {
            InferError::ZeroWeights {
                particle: Some(0),
                sites,
            } => assert_eq!(sites, &[Name::from("y"), Name::from("z")]),
            other => panic!("unexpected {other}"),
        }
        assert_eq!(e.to_string(), expected(0));
    }
    // With a guide, a latent value outside the model's support is the site named.
    let model = |_: ()| -> Result<f64, PyroError> {
        let s = sample("s", HalfNormal::new(1.0))?;
        observe("y", Normal::new(0.0, s.abs() + 1.0), 0.5)?;
        Ok(s)
    };
    let guide = |_: ()| sample("s", Normal::new(-10.0, 0.1));
    let e = Importance::new(model, 300)
        .guide(guide)
        .run_streaming((), &[])
        .unwrap()
        .ess()
        .unwrap_err();
    assert!(
        e.to_string()
            .ends_with("in particle 0 the site 's' scored -inf"),
        "{e}"
    );
    // Weights given directly do not know their particles: the message is unchanged.
    let e = pyro_infer::EmpiricalMarginal::new(
        vec![pyro_poutine::distributions::Value::Real(1.0)],
        vec![f64::NEG_INFINITY],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "every log-weight is -inf or NaN: the posterior weights cannot be normalised"
    );
}
