//! Importance sampling on the models of `shared/BENCH.md` against their exact posteriors.
//!
//! Tolerances come from the Monte Carlo error of the run itself: for a self-normalised estimate
//! `sum w_i f(x_i)` (normalised weights `w`), the delta-method standard error is
//! `sqrt(sum w_i^2 (f(x_i) - estimate)^2)`; for the log evidence `ln mean(exp(lw))` it is
//! `sd(exp(lw)) / (sqrt(N) mean(exp(lw)))`. Each check allows five standard errors (a false alarm
//! about once in 1.7 million; the seeds are fixed, so the outcome is deterministic).

mod common;

use pyro_infer::{Importance, InferError};
use pyro_poutine::distributions::{
    Batched, Bernoulli, Beta, Distribution, Geometric, Normal, Real, Value,
};
use pyro_poutine::{
    Messenger, Name, Plate, PyroError, TraceMessenger, deterministic, observe, sample, stack_depth,
    with_handler,
};

fn scale(_: ()) -> Result<f64, PyroError> {
    let weight = sample("weight", Normal::new(8.5, 1.0))?;
    observe("measurement", Normal::new(weight, 0.75), 9.5)?;
    Ok(weight.value())
}

fn coin(_: ()) -> Result<f64, PyroError> {
    let p = sample("p", Beta::new(10.0, 10.0))?;
    for i in 0..100 {
        observe(Name::indexed("x", i), Bernoulli::new(p), i < 60)?;
    }
    Ok(p.value())
}

fn random_walk(_: ()) -> Result<i64, PyroError> {
    let n = sample("n", Geometric::new(0.3))?;
    let mut total = Real::from(0.0);
    for i in 0..n {
        total += sample(Name::indexed("step", i as u64), Normal::new(0.0, 1.0))?;
    }
    observe("y", Normal::new(total, 1.0), 2.0)?;
    Ok(n)
}

/// The self-normalised estimate of `f` and its delta-method standard error.
fn estimate(weights: &[f64], f: impl Fn(usize) -> f64) -> (f64, f64) {
    let est: f64 = weights.iter().enumerate().map(|(i, w)| w * f(i)).sum();
    let var: f64 = weights
        .iter()
        .enumerate()
        .map(|(i, w)| (w * (f(i) - est)).powi(2))
        .sum();
    (est, var.sqrt())
}

/// The standard error of `ln mean(exp(lw))`.
fn log_evidence_se(log_weights: &[f64]) -> f64 {
    let m = log_weights
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = log_weights.iter().map(|l| (l - m).exp()).collect();
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    var.sqrt() / (n.sqrt() * mean)
}

fn real(trace: &pyro_poutine::Trace, site: &str) -> f64 {
    match trace
        .get(Name::from(site.to_string()))
        .and_then(|s| s.value.clone())
    {
        Some(Value::Real(x)) => x,
        other => panic!("site {site}: {other:?}"),
    }
}

#[test]
fn scale_model_matches_the_exact_posterior() {
    let post = Importance::new(scale, 50_000).seed(1).run(()).unwrap();
    let w = post.normalized_weights().unwrap();
    let traces = post.traces().unwrap();
    let x: Vec<f64> = traces.iter().map(|t| real(t, "weight")).collect();
    // Exact: precision 1 + 1/0.5625, mean (8.5 + 9.5/0.5625)/precision, variance 1/precision.
    let precision = 1.0 + 1.0 / 0.5625;
    let (mean, var) = ((8.5 + 9.5 / 0.5625) / precision, 1.0 / precision);
    let (m, se) = estimate(&w, |i| x[i]);
    assert!((m - mean).abs() < 5.0 * se, "mean {m} vs {mean} (se {se})");
    let (v, se_v) = estimate(&w, |i| (x[i] - m).powi(2));
    assert!(
        (v - var).abs() < 5.0 * se_v,
        "variance {v} vs {var} (se {se_v})"
    );
    let exact = Normal::new(8.5, (1.0_f64 + 0.5625).sqrt())
        .unwrap()
        .log_prob(&Real::from(9.5));
    let lz = post.log_normalizer().unwrap();
    let se_z = log_evidence_se(post.log_weights());
    assert!(
        (lz - exact).abs() < 5.0 * se_z,
        "log evidence {lz} vs {exact} (se {se_z})"
    );
    // The marginal agrees with the hand computation.
    let marginal = post.marginal(&[Name::from("weight")]).unwrap();
    assert!((marginal.mean()[0] - m).abs() < 1e-12);
    let out = post.output_marginal::<f64>().unwrap();
    assert!((out.mean()[0] - m).abs() < 1e-12);
}

#[test]
fn prior_weights_are_the_observed_log_likelihood() {
    let post = Importance::new(scale, 1000).seed(2).run(()).unwrap();
    for (t, lw) in post.traces().unwrap().iter().zip(post.log_weights()) {
        let w = real(t, "weight");
        let expected = Normal::new(w, 0.75).unwrap().log_prob(&Real::from(9.5));
        assert!(
            (lw - expected).abs() <= 1e-12 * expected.abs(),
            "{lw} vs {expected}"
        );
    }
    let w = post.normalized_weights().unwrap();
    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let ess = 1.0 / w.iter().map(|x| x * x).sum::<f64>();
    assert!((post.ess().unwrap() - ess).abs() < 1e-9 * ess);
}

#[test]
fn coin_model_matches_the_exact_posterior() {
    let post = Importance::new(coin, 20_000).seed(3).run(()).unwrap();
    let w = post.normalized_weights().unwrap();
    let p: Vec<f64> = post
        .traces()
        .unwrap()
        .iter()
        .map(|t| real(t, "p"))
        .collect();
    // Exact posterior Beta(70, 50).
    let (mean, var) = (70.0 / 120.0, 70.0 * 50.0 / (120.0_f64.powi(2) * 121.0));
    let (m, se) = estimate(&w, |i| p[i]);
    assert!((m - mean).abs() < 5.0 * se, "mean {m} vs {mean} (se {se})");
    let (v, se_v) = estimate(&w, |i| (p[i] - m).powi(2));
    assert!(
        (v - var).abs() < 5.0 * se_v,
        "variance {v} vs {var} (se {se_v})"
    );
    let lz = post.log_normalizer().unwrap();
    let se_z = log_evidence_se(post.log_weights());
    // BENCH.md gives ln B(70, 50) - ln B(10, 10) = -68.5324 to four decimals: allow the rounding.
    assert!(
        (lz + 68.5324).abs() < 5.0 * se_z + 5e-5,
        "log evidence {lz} (se {se_z})"
    );
}

#[test]
fn random_walk_weighs_traces_of_different_lengths() {
    let post = Importance::new(random_walk, 100_000)
        .seed(4)
        .run(())
        .unwrap();
    let w = post.normalized_weights().unwrap();
    let n: Vec<f64> = post
        .traces()
        .unwrap()
        .iter()
        .map(|t| *t.output::<i64>().unwrap() as f64)
        .collect();
    let (en, se) = estimate(&w, |i| n[i]);
    assert!((en - 2.73483).abs() < 5.0 * se, "E[n|y] {en} (se {se})");
    for (k, exact) in [(0.0, 0.17086), (1.0, 0.22989), (2.0, 0.18337)] {
        let (pk, se) = estimate(&w, |i| f64::from(u8::from(n[i] == k)));
        assert!(
            (pk - exact).abs() < 5.0 * se,
            "P(n={k}|y) {pk} vs {exact} (se {se})"
        );
    }
    let lz = post.log_normalizer().unwrap();
    let se_z = log_evidence_se(post.log_weights());
    // BENCH.md gives -2.35599 to five decimals: allow the rounding.
    assert!(
        (lz + 2.35599).abs() < 5.0 * se_z + 5e-6,
        "log evidence {lz} (se {se_z})"
    );
}

#[test]
fn a_site_of_varying_length_fails_streaming_alike_on_any_thread_count() {
    // Particle 0 fixes each site's length; a later particle with another length is the error,
    // the same one whatever the thread count (chunk 1 must not set the lengths first).
    let model = |_: ()| -> Result<(), PyroError> {
        let long: bool = sample("long", Bernoulli::new(0.3))?;
        let n = if long { 3 } else { 2 };
        sample("v", Batched::iid(Normal::new(0.0, 1.0)?, n))?;
        Ok(())
    };
    let run = |threads: usize| {
        common::on_threads(threads, || {
            Importance::new(model, 2000)
                .seed(5)
                .run_streaming((), &[Name::from("v")])
                .unwrap_err()
                .to_string()
        })
    };
    // The expected error, from the stored traces: the first particle whose `v` differs in
    // length from particle 0's.
    let stored = Importance::new(model, 2000).seed(5).run(()).unwrap();
    let lens: Vec<usize> = stored
        .traces()
        .unwrap()
        .iter()
        .map(|t| match &t.get("v").unwrap().value {
            Some(Value::Reals(v)) => v.len(),
            other => panic!("v is {other:?}"),
        })
        .collect();
    let k = lens.iter().position(|&n| n != lens[0]).unwrap();
    assert!(k > 0);
    let one = run(1);
    let expected = format!(
        "particle {k} has {} elements here, earlier particles {}",
        lens[k], lens[0]
    );
    assert!(one.contains(&expected), "{one} (expected: {expected})");
    for threads in [2, 4] {
        assert_eq!(run(threads), one, "{threads} threads");
    }
    let empty = Importance::new(model, 0).run_streaming((), &[Name::from("v")]);
    assert!(matches!(empty, Err(InferError::Empty)));
}

#[test]
fn a_nan_value_of_a_tracked_site_is_an_error_naming_it() {
    for value in [vec![f64::NAN], vec![1.0, f64::NAN]] {
        let model = move |_: ()| -> Result<(), PyroError> {
            sample("x", Normal::new(0.0, 1.0))?;
            deterministic("v", value.clone())?;
            Ok(())
        };
        let err = Importance::new(model, 10)
            .run_streaming((), &[Name::from("x"), Name::from("v")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("'v'") && err.contains("NaN"), "{err}");
    }
    let scalar = |_: ()| deterministic("v", f64::NAN);
    let err = Importance::new(scalar, 10)
        .run_streaming((), &[Name::from("v")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("'v'") && err.contains("NaN"), "{err}");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let run = |threads: usize| {
        common::on_threads(threads, || {
            Importance::new(random_walk, 3000).seed(9).run(()).unwrap()
        })
    };
    let one = run(1);
    for threads in [2, 4] {
        let other = run(threads);
        let bits = |p: &pyro_infer::Posterior| -> Vec<u64> {
            p.log_weights().iter().map(|w| w.to_bits()).collect()
        };
        assert_eq!(bits(&one), bits(&other), "{threads} threads");
        assert_eq!(
            one.log_normalizer().unwrap().to_bits(),
            other.log_normalizer().unwrap().to_bits()
        );
        for (a, b) in one.traces().unwrap().iter().zip(other.traces().unwrap()) {
            let va: Vec<_> = a.iter().map(|s| s.value.clone()).collect();
            let vb: Vec<_> = b.iter().map(|s| s.value.clone()).collect();
            assert_eq!(va, vb);
        }
    }
}

#[test]
fn streaming_equals_stored() {
    let imp = Importance::new(scale, 5000).seed(5);
    let stored = imp.run(()).unwrap();
    let streamed = imp.run_streaming((), &[Name::from("weight")]).unwrap();
    assert_eq!(streamed.num_samples(), 5000);
    assert_eq!(
        stored.log_normalizer().unwrap().to_bits(),
        streamed.log_normalizer().unwrap().to_bits()
    );
    assert_eq!(
        stored.ess().unwrap().to_bits(),
        streamed.ess().unwrap().to_bits()
    );
    let marginal = stored.marginal(&[Name::from("weight")]).unwrap();
    let (a, b) = (
        marginal.mean()[0],
        streamed.mean(Name::from("weight")).unwrap()[0],
    );
    assert!((a - b).abs() < 1e-12 * a.abs(), "{a} vs {b}");
    let (a, b) = (
        marginal.variance()[0],
        streamed.variance(Name::from("weight")).unwrap()[0],
    );
    assert!((a - b).abs() < 1e-10 * a.abs(), "{a} vs {b}");
    // Keeping sites only gives the same weights as keeping traces.
    let kept = imp
        .clone()
        .keep_sites(&[Name::from("weight")])
        .run(())
        .unwrap();
    assert_eq!(kept.log_weights(), stored.log_weights());
    assert!(kept.traces().is_none());
    assert_eq!(
        kept.marginal(&[Name::from("weight")]).unwrap().mean(),
        marginal.mean()
    );
}

#[test]
fn the_exact_posterior_as_guide_gives_full_ess() {
    let precision = 1.0 + 1.0 / 0.5625;
    let (mean, sd) = (
        (8.5 + 9.5 / 0.5625) / precision,
        (1.0_f64 / precision).sqrt(),
    );
    let guide = move |_: ()| sample("weight", Normal::new(mean, sd));
    let post = Importance::new(scale, 2000)
        .guide(guide)
        .seed(6)
        .run(())
        .unwrap();
    let n = post.num_samples() as f64;
    assert!(post.ess().unwrap() > (1.0 - 1e-9) * n);
    let exact = Normal::new(8.5, (1.0_f64 + 0.5625).sqrt())
        .unwrap()
        .log_prob(&Real::from(9.5));
    assert!((post.log_normalizer().unwrap() - exact).abs() < 1e-9);
    // The prior proposal's error is far larger.
    let prior = Importance::new(scale, 2000).seed(6).run(()).unwrap();
    assert!(prior.ess().unwrap() < 0.9 * n);
}

#[test]
fn errors_are_clear_and_nothing_leaks() {
    let none = Importance::new(scale, 0).run(());
    assert!(matches!(none, Err(InferError::Empty)));
    let impossible = |_: ()| -> Result<(), PyroError> {
        observe("y", Bernoulli::new(0.0), true)?;
        Ok(())
    };
    let post = Importance::new(impossible, 10).run(()).unwrap();
    assert!(matches!(
        post.log_normalizer(),
        Err(InferError::ZeroWeights { .. })
    ));
    assert!(matches!(
        post.normalized_weights(),
        Err(InferError::ZeroWeights { .. })
    ));
    let failing = |_: ()| -> Result<Real, PyroError> { sample("s", Normal::new(0.0, -1.0)) };
    let err = Importance::new(failing, 700).run(()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "particle 0: at sample site 's': Normal: invalid parameter scale = -1 (must be finite and > 0)"
    );
    assert_eq!(stack_depth(), 0);
    // Running inside an outer trace records nothing in it.
    let ((), outer) = TraceMessenger::record(|| {
        Importance::new(scale, 300).run(()).unwrap();
        Ok(())
    })
    .unwrap();
    assert!(outer.is_empty());
}

#[test]
fn a_repeated_name_fails_alike_in_every_mode() {
    // Particles with `coin = true` repeat `x`; the others use distinct names. The streaming
    // recorder checks names against the previous particle's sequence and must still see the
    // repeat wherever it comes.
    let model = |_: ()| -> Result<Real, PyroError> {
        let coin: bool = sample("coin", Bernoulli::new(0.2))?;
        let x = sample("x", Normal::new(0.0, 1.0))?;
        sample(if coin { "x" } else { "y" }, Normal::new(0.0, 1.0))?;
        observe("obs", Normal::new(x, 1.0), 0.5)?;
        Ok(x)
    };
    let imp = Importance::new(model, 600).seed(3);
    let stored = imp.run(()).unwrap_err().to_string();
    let streamed = imp
        .run_streaming((), &[Name::from("x")])
        .unwrap_err()
        .to_string();
    assert_eq!(stored, streamed);
    assert!(stored.starts_with("particle "), "{stored}");
    assert!(stored.contains("'x'"), "{stored}");
    // The first particle is not the failing one, so the repeat is found after a run that
    // followed another.
    assert!(!stored.starts_with("particle 0:"), "{stored}");
}

#[test]
fn sites_taken_directly_weigh_as_messages_do() {
    // The particle handler takes sample sites directly when it is the innermost handler; a
    // handler that does nothing, installed inside the model, sends them as messages instead.
    struct Pass;
    impl Messenger for Pass {}
    let through_messages = |_: ()| with_handler(Pass, || random_walk(())).1;
    let sites = [Name::from("n"), Name::from("step_0")];
    let direct = Importance::new(random_walk, 3000)
        .seed(8)
        .keep_sites(&sites);
    let messages = Importance::new(through_messages, 3000)
        .seed(8)
        .keep_sites(&sites);
    let (a, b) = (direct.run(()).unwrap(), messages.run(()).unwrap());
    let bits = |w: &[f64]| w.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(a.log_weights()), bits(b.log_weights()));
    assert_eq!(
        a.marginal(&sites).unwrap_err().to_string(),
        b.marginal(&sites).unwrap_err().to_string()
    );
    let n = [Name::from("n")];
    assert_eq!(
        a.marginal(&n).unwrap().mean(),
        b.marginal(&n).unwrap().mean()
    );
    let (sa, sb) = (
        direct.run_streaming((), &n).unwrap(),
        messages.run_streaming((), &n).unwrap(),
    );
    assert_eq!(
        sa.log_normalizer().unwrap().to_bits(),
        sb.log_normalizer().unwrap().to_bits()
    );
    assert_eq!(sa.mean(&n[0]).unwrap(), sb.mean(&n[0]).unwrap());

    // A plate's index site, drawn and kept, and a minibatch scored through the plate.
    let data = [0.3, -0.1, 0.8, 1.2, 0.5, -0.4];
    let minibatch = move |_: ()| -> Result<Real, PyroError> {
        let loc = sample("loc", Normal::new(0.0, 1.0))?;
        Plate::new("data", data.len())
            .subsample_size(2)
            .run(|idx| {
                let ys: Vec<f64> = idx.iter().map(|i| data[i]).collect();
                observe("y", Batched::iid(Normal::new(loc, 1.0)?, idx.len()), ys)
            })?;
        Ok(loc)
    };
    let through_messages = move |_: ()| with_handler(Pass, || minibatch(())).1;
    let sites = [Name::from("data"), Name::from("loc")];
    let a = Importance::new(minibatch, 2000).seed(9).keep_sites(&sites);
    let b = Importance::new(through_messages, 2000)
        .seed(9)
        .keep_sites(&sites);
    let (a, b) = (a.run(()).unwrap(), b.run(()).unwrap());
    assert_eq!(bits(a.log_weights()), bits(b.log_weights()));
    let (ma, mb) = (a.marginal(&sites).unwrap(), b.marginal(&sites).unwrap());
    assert_eq!(ma.mean(), mb.mean());
    assert_eq!(ma.variance(), mb.variance());
}

#[test]
fn sites_in_nested_plates_weigh_alike_on_every_path() {
    // Three paths: the streaming weigher's fast path (plates directly inside it pass their frames
    // and scales to it), the trace recorder taking sites through the plates, and messages (a
    // handler that does nothing, inside the model, forces them). The log-weights must agree to
    // the bit, with scales from two subsampled plates multiplied in the same order.
    struct Pass;
    impl Messenger for Pass {}
    let model = |_: ()| -> Result<Real, PyroError> {
        let loc = sample("loc", Normal::new(0.0, 1.0))?;
        Plate::new("groups", 5).subsample_size(3).run(|groups| {
            let shift = sample("shift", Batched::iid(Normal::new(0.0, 0.5)?, groups.len()))?;
            Plate::new("items", 4).subsample_size(2).run(|items| {
                let n = groups.len() * items.len();
                let ys: Vec<f64> = (0..n).map(|k| 0.1 * k as f64).collect();
                let locs: Vec<Normal> = (0..n)
                    .map(|k| Normal::new(loc + shift.at(k / items.len()), 1.0))
                    .collect::<Result<_, _>>()?;
                observe("y", Batched::per_element(locs)?, ys)
            })
        })?;
        Plate::new("seq", 3).for_each(|i| {
            observe(Name::indexed("z", i as u64), Normal::new(loc, 2.0), 0.5)?;
            Ok(())
        })?;
        Ok(loc)
    };
    let through_messages = move |_: ()| with_handler(Pass, || model(())).1;
    let sites = [Name::from("loc"), Name::from("shift")];
    let fast = Importance::new(model, 500).seed(4).keep_sites(&sites);
    let traced = Importance::new(model, 500).seed(4);
    let messages = Importance::new(through_messages, 500)
        .seed(4)
        .keep_sites(&sites);
    let bits = |w: &[f64]| w.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let (a, b, c) = (
        fast.run(()).unwrap(),
        traced.run(()).unwrap(),
        messages.run(()).unwrap(),
    );
    assert_eq!(bits(a.log_weights()), bits(c.log_weights()));
    assert_eq!(bits(b.log_weights()), bits(c.log_weights()));
    let (ma, mc) = (a.marginal(&sites).unwrap(), c.marginal(&sites).unwrap());
    assert_eq!(ma.mean(), mc.mean());
    let streamed = fast.run_streaming((), &sites[..1]).unwrap();
    let streamed_messages = messages.run_streaming((), &sites[..1]).unwrap();
    assert_eq!(
        streamed.log_normalizer().unwrap().to_bits(),
        streamed_messages.log_normalizer().unwrap().to_bits()
    );

    // A batch that does not fit its plates fails alike on every path, naming the outer plate.
    let misfit = |_: ()| -> Result<(), PyroError> {
        Plate::new("outer", 2).run(|_| {
            Plate::new("inner", 3).run(|_| {
                observe("y", Batched::iid(Normal::new(0.0, 1.0)?, 3), vec![0.0; 3])?;
                Ok(())
            })
        })
    };
    let misfit_messages = move |_: ()| with_handler(Pass, || misfit(())).1;
    let errors = [
        Importance::new(misfit, 10)
            .keep_sites(Vec::<Name>::new())
            .run(())
            .unwrap_err(),
        Importance::new(misfit, 10).run(()).unwrap_err(),
        Importance::new(misfit_messages, 10).run(()).unwrap_err(),
    ]
    .map(|e| e.to_string());
    assert!(errors[0].contains("'outer'"), "{}", errors[0]);
    assert_eq!(errors[0], errors[1]);
    assert_eq!(errors[0], errors[2]);
}
