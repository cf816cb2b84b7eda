//! Streaming importance sampling: bounded memory whatever the number of particles, shards of a
//! run merged (also through JSON) into the run bit for bit, the sites named when no particle has
//! weight, and infinite values.

mod common;

use pyro_infer::{Importance, InferError, StreamingPosterior};
use pyro_poutine::distributions::{Bernoulli, Geometric, HalfNormal, Normal, Real, Uniform};
use pyro_poutine::{Name, PyroError, deterministic, observe, sample};

/// M4 with a vector site: `n ~ Geometric(0.3)`, `n` steps, `y ~ Normal(sum, 1)` observed at 2;
/// `v = [n, sum]` is tracked beside `n`.
fn walk(_: ()) -> Result<i64, PyroError> {
    let n = sample("n", Geometric::new(0.3))?;
    let mut total = Real::from(0.0);
    for i in 0..n {
        total += sample(Name::indexed("step", i as u64), Normal::new(0.0, 1.0))?;
    }
    deterministic("v", vec![n as f64, total.value()])?;
    observe("y", Normal::new(total, 1.0), 2.0)?;
    Ok(n)
}

fn sites() -> [Name; 2] {
    [Name::from("n"), Name::from("v")]
}

/// Every figure of a streaming posterior, as bits.
fn bits(p: &StreamingPosterior) -> Vec<u64> {
    let mut b = vec![
        p.num_samples() as u64,
        p.log_normalizer().unwrap().to_bits(),
        p.ess().unwrap().to_bits(),
    ];
    for site in sites() {
        b.extend(p.mean(&site).unwrap().iter().map(|x| x.to_bits()));
        b.extend(p.variance(&site).unwrap().iter().map(|x| x.to_bits()));
    }
    b
}

const N: usize = 5000; // 19 full chunks and one of 136 particles

#[test]
fn shards_merged_in_order_are_the_run_bit_for_bit_on_any_thread_count() {
    let run = Importance::new(walk, N).seed(21);
    let whole = common::on_threads(1, || run.run_streaming((), sites()).unwrap());
    let shard = |threads: usize, range: std::ops::Range<usize>| {
        common::on_threads(threads, || {
            run.run_streaming_range((), sites(), range).unwrap()
        })
    };
    for cuts in [
        vec![0, N],
        vec![0, 256, N],
        vec![0, 1024, 2560, 4864, N],
        (0..N).step_by(256).chain([N]).collect(),
    ] {
        for threads in [[1, 2, 4], [4, 1, 2], [2, 4, 1]] {
            let shards: Vec<StreamingPosterior> = cuts
                .windows(2)
                .enumerate()
                .map(|(k, w)| shard(threads[k % 3], w[0]..w[1]))
                .collect();
            let mut merged = shards[0].clone();
            for s in &shards[1..] {
                merged.merge(s).unwrap();
            }
            assert_eq!(merged.particles(), 0..N);
            assert_eq!(bits(&merged), bits(&whole), "cuts {cuts:?}");
            // The merged statistics are the run's: their JSON is the same.
            assert_eq!(
                serde_json::to_string(&merged).unwrap(),
                serde_json::to_string(&whole).unwrap()
            );
            // Later shards merged together first, then onto the first: the same.
            if shards.len() > 2 {
                let mut rest = shards[1].clone();
                for s in &shards[2..] {
                    rest.merge(s).unwrap();
                }
                let mut first = shards[0].clone();
                first.merge(&rest).unwrap();
                assert_eq!(bits(&first), bits(&whole), "cuts {cuts:?}");
            }
        }
    }
}

#[test]
fn a_shard_runs_exactly_its_particles() {
    // Particle i depends on the seed and i alone: the shard 512..1024 holds what the stored run
    // holds for particles 512..1024, and the shard 0..512 is the run of 512 particles.
    let run = Importance::new(walk, N).seed(4);
    let n = [Name::from("n")];
    let stored = run.clone().keep_sites(&n).run(()).unwrap();
    let later = run.run_streaming_range((), &n, 512..1024).unwrap();
    let lw = &stored.log_weights()[512..1024];
    let max = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = lw.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = w.iter().sum();
    let marginal = stored.marginal(&n).unwrap();
    let mean: f64 = w
        .iter()
        .enumerate()
        .map(|(i, w)| w * marginal.sample(512 + i)[0])
        .sum::<f64>()
        / total;
    let log_z = max + total.ln() - 512f64.ln();
    assert!((later.mean(&n[0]).unwrap()[0] - mean).abs() < 1e-12);
    assert!((later.log_normalizer().unwrap() - log_z).abs() < 1e-12);
    let first = run.run_streaming_range((), &n, 0..512).unwrap();
    let alone = Importance::new(walk, 512)
        .seed(4)
        .run_streaming((), &n)
        .unwrap();
    assert_eq!(
        first.log_normalizer().unwrap().to_bits(),
        alone.log_normalizer().unwrap().to_bits()
    );
    assert_eq!(first.mean(&n[0]).unwrap(), alone.mean(&n[0]).unwrap());
}

#[test]
fn shards_survive_json_with_non_finite_numbers() {
    // Most particles have weight 0, so most chunks' largest log-weight is -inf.
    let rare = |_: ()| -> Result<f64, PyroError> {
        let u = sample("u", Uniform::new(0.0, 1.0))?;
        let p = if u < 0.995 { 0.0 } else { 0.5 };
        observe("y", Bernoulli::new(p), true)?;
        Ok(u.value())
    };
    let u = [Name::from("u")];
    let run = Importance::new(rare, 6000).seed(2);
    let whole = run.run_streaming((), &u).unwrap();
    let mut merged: Option<StreamingPosterior> = None;
    let mut saw_neg_inf = false;
    for (start, end) in [(0, 1280), (1280, 2560), (2560, 6000)] {
        let shard = run.run_streaming_range((), &u, start..end).unwrap();
        let json = serde_json::to_string(&shard).unwrap();
        saw_neg_inf |= json.contains(r#""-inf""#);
        let back: StreamingPosterior = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        match &mut merged {
            None => merged = Some(back),
            Some(m) => m.merge(&back).unwrap(),
        }
    }
    assert!(saw_neg_inf);
    let merged = merged.unwrap();
    assert_eq!(
        merged.log_normalizer().unwrap().to_bits(),
        whole.log_normalizer().unwrap().to_bits()
    );
    assert_eq!(
        merged.ess().unwrap().to_bits(),
        whole.ess().unwrap().to_bits()
    );
    assert_eq!(merged.mean(&u[0]).unwrap(), whole.mean(&u[0]).unwrap());
    assert_eq!(
        merged.variance(&u[0]).unwrap(),
        whole.variance(&u[0]).unwrap()
    );
}

#[test]
fn shards_of_a_guided_run_merge_into_the_run() {
    let guide = |_: ()| -> Result<i64, PyroError> {
        let n = sample("n", Geometric::new(0.5))?;
        for i in 0..n {
            sample(Name::indexed("step", i as u64), Normal::new(0.3, 1.0))?;
        }
        Ok(n)
    };
    let run = Importance::new(walk, 3000).guide(guide).seed(8);
    let whole = run.run_streaming((), sites()).unwrap();
    let mut a = run.run_streaming_range((), sites(), 0..768).unwrap();
    a.merge(&run.run_streaming_range((), sites(), 768..3000).unwrap())
        .unwrap();
    assert_eq!(bits(&a), bits(&whole));
}

fn invalid(e: InferError, name: &str) -> String {
    match e {
        InferError::InvalidArgument { name: n, reason } if n == name => reason,
        other => panic!("expected an invalid {name}, got {other}"),
    }
}

#[test]
fn shards_that_do_not_fit_are_clear_errors() {
    let run = Importance::new(walk, N).seed(1);
    let shard = |r: std::ops::Range<usize>| run.run_streaming_range((), sites(), r).unwrap();
    let (a, b, c) = (shard(0..512), shard(512..1024), shard(1024..N));

    let gap = invalid(a.clone().merge(&c).unwrap_err(), "next");
    assert!(gap.contains("particles 512..1024 are missing"), "{gap}");
    let order = invalid(b.clone().merge(&a).unwrap_err(), "next");
    assert!(order.contains("merge shards in particle order"), "{order}");
    let overlap = invalid(a.clone().merge(&shard(256..768)).unwrap_err(), "next");
    assert!(
        overlap.contains("particles 256..512 are in both"),
        "{overlap}"
    );
    let same = invalid(a.clone().merge(&a).unwrap_err(), "next");
    assert!(same.contains("in both"), "{same}");

    let other_seed = Importance::new(walk, N)
        .seed(2)
        .run_streaming_range((), sites(), 512..1024)
        .unwrap();
    let e = invalid(a.clone().merge(&other_seed).unwrap_err(), "next");
    assert!(e.contains("seeded 1 and 2"), "{e}");
    let other_sites = run
        .run_streaming_range((), &[Name::from("n")], 512..1024)
        .unwrap();
    let e = invalid(a.clone().merge(&other_sites).unwrap_err(), "next");
    assert!(
        e.contains("'n' (1 element), 'v' (2 elements)") && e.contains("and 'n' (1 element))"),
        "{e}"
    );
    let guided = Importance::new(walk, N)
        .guide(walk)
        .seed(1)
        .run_streaming_range((), sites(), 512..1024)
        .unwrap();
    let e = invalid(a.clone().merge(&guided).unwrap_err(), "next");
    assert!(e.contains("(prior and guide)"), "{e}");
    // A failed merge leaves the shard as it was.
    let mut kept = a.clone();
    assert!(kept.merge(&c).is_err());
    assert_eq!(bits(&kept), bits(&a));

    // Ranges off chunk boundaries, outside the run, or empty.
    for r in [100..512, 0..300, 256..4000] {
        let e = run.run_streaming_range((), sites(), r.clone()).unwrap_err();
        let e = invalid(e, "particles");
        assert!(
            e.contains("chunk boundary (a multiple of 256"),
            "{r:?}: {e}"
        );
    }
    let e = invalid(
        run.run_streaming_range((), sites(), 4864..N + 1)
            .unwrap_err(),
        "particles",
    );
    assert!(e.contains("not a range of the run's 5000 particles"), "{e}");
    assert!(matches!(
        run.run_streaming_range((), sites(), 512..512),
        Err(InferError::Empty)
    ));

    // JSON that is not a shard's: a start off a chunk boundary, statistics of another length.
    let json = serde_json::to_string(&b).unwrap();
    let moved = json.replace(r#""start":512"#, r#""start":500"#);
    let e = serde_json::from_str::<StreamingPosterior>(&moved).unwrap_err();
    assert!(e.to_string().contains("off a chunk boundary"), "{e}");
    let shorter = json.replace(r#""end":1024"#, r#""end":768"#);
    let e = serde_json::from_str::<StreamingPosterior>(&shorter).unwrap_err();
    assert!(e.to_string().contains("values for 1 chunks"), "{e}");
    let json = serde_json::to_string(&a).unwrap();
    let e = serde_json::from_str::<StreamingPosterior>(&json.replace("\"stats\"", "\"chunks\""))
        .unwrap_err();
    assert!(!e.to_string().is_empty());
}

/// A model failing at the particles whose `u` is below `p`.
fn failing_below(p: f64) -> impl Fn(()) -> Result<f64, PyroError> + Sync + Clone {
    move |_: ()| {
        let u = sample("u", Uniform::new(0.0, 1.0))?;
        if u < p {
            sample("bad", Normal::new(0.0, -1.0))?;
        }
        observe("y", Normal::new(u, 1.0), 0.5)?;
        Ok(u.value())
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
        Ok(x.value())
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
    // A shard names its own first particle; merged shards the first shard's; through JSON too.
    let mut first = run.run_streaming_range((), &x, 0..256).unwrap();
    let later = run.run_streaming_range((), &x, 256..1000).unwrap();
    assert_eq!(
        later.log_normalizer().unwrap_err().to_string(),
        expected(256)
    );
    let later: StreamingPosterior =
        serde_json::from_str(&serde_json::to_string(&later).unwrap()).unwrap();
    assert_eq!(
        later.log_normalizer().unwrap_err().to_string(),
        expected(256)
    );
    first.merge(&later).unwrap();
    assert_eq!(first.log_normalizer().unwrap_err().to_string(), expected(0));

    // With a guide, a latent value outside the model's support is the site named.
    let model = |_: ()| -> Result<f64, PyroError> {
        let s = sample("s", HalfNormal::new(1.0))?;
        observe("y", Normal::new(0.0, s.abs() + 1.0), 0.5)?;
        Ok(s.value())
    };
    let guide = |_: ()| sample("s", Normal::new(-10.0, 0.1));
    let e = Importance::new(model, 300)
        .guide(guide)
        .run_streaming((), Vec::<Name>::new())
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
            let u = sample("u", Uniform::new(0.0, 1.0))?.value();
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
        let u = sample("u", Uniform::new(0.0, 1.0))?.value();
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
    // The flags survive a merge and JSON.
    let run = Importance::new(both, 1000);
    let mut a = run
        .run_streaming_range((), std::slice::from_ref(&v), 0..512)
        .unwrap();
    let b = run
        .run_streaming_range((), std::slice::from_ref(&v), 512..1000)
        .unwrap();
    let b: StreamingPosterior = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    a.merge(&b).unwrap();
    assert!(a.mean(&v).is_err());
    assert_eq!(a.variance(&v).unwrap(), [inf]);
}
