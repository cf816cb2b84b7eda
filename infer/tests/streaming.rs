//! Streaming importance sampling: bounded memory whatever the number of particles.

mod common;

use pyro_infer::Importance;
use pyro_poutine::distributions::{Normal, Uniform};
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
