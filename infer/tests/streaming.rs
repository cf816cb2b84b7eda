//! Streaming importance sampling: bounded memory whatever the number of particles, the sites
//! named when no particle has weight, and infinite values.

mod common;

use pyro_infer::{Importance, InferError};
use pyro_poutine::distributions::{Bernoulli, HalfNormal, Normal, Uniform};
use pyro_poutine::{Name, PyroError, deterministic, observe, sample};

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

#[test]
fn an_infinite_value_has_infinite_variance_never_nan() {
    // `v` is +inf (and `w`'s first element -inf) in about one particle in ten; `u` stays finite.
    let model = |sign: f64| {
        move |_: ()| -> Result<f64, PyroError> {
            let u = sample("u", Uniform::new(0.0, 1.0))?;
            let v = if u < 0.1 { f64::INFINITY } else { u };
            deterministic("v", v)?;
            let w0 = if u > 0.9 { sign * f64::INFINITY } else { u };
            deterministic("w", vec![w0, 2.0 * u])?;
            observe("y", Normal::new(u, 1.0), 0.3)?;
            Ok(u)
        }
    };
    let names = [Name::from("u"), Name::from("v"), Name::from("w")];
    let [u, v, w] = names.clone();
    let run = Importance::new(model(-1.0), 3000).seed(6);
    let streamed = run.run_streaming((), &names).unwrap();
    let stored = run.run(()).unwrap();
    let inf = f64::INFINITY;
    assert_eq!(streamed.mean(&v).unwrap(), [inf]);
    assert_eq!(streamed.variance(&v).unwrap(), [inf]);
    let sv = stored.marginal(std::slice::from_ref(&v)).unwrap();
    assert_eq!((sv.mean(), sv.variance()), (vec![inf], vec![inf]));
    // The finite elements are as if there were no infinities.
    let su = stored.marginal(std::slice::from_ref(&u)).unwrap();
    assert!((streamed.mean(&u).unwrap()[0] - su.mean()[0]).abs() < 1e-12);
    assert!((streamed.variance(&u).unwrap()[0] - su.variance()[0]).abs() < 1e-12);
    let (wm, wv) = (streamed.mean(&w).unwrap(), streamed.variance(&w).unwrap());
    assert_eq!((wm[0], wv[0]), (-inf, inf));
    assert!((wm[1] - 2.0 * su.mean()[0]).abs() < 1e-12);
    assert!((wv[1] - 4.0 * su.variance()[0]).abs() < 1e-11);
    // Chunks with an infinity run again checking each particle, and so do the chunks after them:
    // which chunks ran unchecked first depends on the threads, the results do not.
    let figures = |threads| {
        common::on_threads(threads, || {
            let p = run.run_streaming((), &names).unwrap();
            let mut b = vec![p.log_normalizer().unwrap().to_bits()];
            for site in [&u, &w] {
                b.extend(p.mean(site).unwrap().iter().map(|x| x.to_bits()));
                b.extend(p.variance(site).unwrap().iter().map(|x| x.to_bits()));
            }
            b
        })
    };
    let one = figures(1);
    for threads in [2, 4] {
        assert_eq!(figures(threads), one, "{threads} threads");
    }

    // +inf in some particles and -inf in others: no mean (an error), infinite variance.
    let both = |_: ()| -> Result<f64, PyroError> {
        let u = sample("u", Uniform::new(0.0, 1.0))?;
        let v = if u < 0.1 {
            f64::INFINITY
        } else if u > 0.9 {
            f64::NEG_INFINITY
        } else {
            u
        };
        deterministic("v", v)?;
        Ok(u)
    };
    let streamed = Importance::new(both, 1000)
        .run_streaming((), std::slice::from_ref(&v))
        .unwrap();
    let e = streamed.mean(&v).unwrap_err().to_string();
    assert_eq!(
        e,
        "site 'v': element 0 is +inf in a particle of positive weight and -inf in another: its \
         mean is undefined"
    );
    assert_eq!(streamed.variance(&v).unwrap(), [inf]);
}
