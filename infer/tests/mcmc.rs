//! The MCMC driver and the trace MH kernel: reproducibility, errors, what moves and what does
//! not, thinning, and the exports. (Posterior accuracy is in `mcmc_posteriors.rs`.)

mod common;

use common::on_threads;
use pyro_infer::poutine::distributions::{Batched, Bernoulli, Constraint, Normal, Real, Value};
use pyro_infer::poutine::{
    Handler, Name, Plate, PyroError, SubstituteMessenger, condition, observe, param, sample,
};
use pyro_infer::{ChainStep, InferError, Latents, Mcmc, MhProposal, Predictive, TraceMh};

/// Pyro's introductory model.
fn scale(guess: f64) -> Result<Real, PyroError> {
    let weight = sample("weight", Normal::new(guess, 1.0))?;
    observe("measurement", Normal::new(weight, 0.75), 9.5)?;
    Ok(weight)
}

/// A model mixing a discrete and a continuous latent site.
fn mixed(y: f64) -> Result<Real, PyroError> {
    let high = sample("high", Bernoulli::new(0.5))?;
    let mu = sample("mu", Normal::new(if high { 3.0 } else { 0.0 }, 1.0))?;
    observe("y", Normal::new(mu, 1.0), y)
}

#[test]
fn chains_are_bit_identical_for_any_thread_count() {
    let run = |threads| {
        on_threads(threads, || {
            Mcmc::new(TraceMh::new(mixed), 50, 200)
                .num_chains(4)
                .seed(9)
                .run(1.5)
                .unwrap()
        })
    };
    let one = run(1);
    for threads in [2, 4] {
        let other = run(threads);
        assert_eq!(one.get_samples(), other.get_samples(), "{threads} threads");
        assert_eq!(one.chain_stats(), other.chain_stats());
    }
    // Chains differ from each other, and another seed gives other draws.
    let chains = one.get_samples_by_chain();
    assert_ne!(chains[0], chains[1]);
    let other_seed = Mcmc::new(TraceMh::new(mixed), 50, 200)
        .num_chains(4)
        .seed(10)
        .run(1.5)
        .unwrap();
    assert_ne!(one.get_samples(), other_seed.get_samples());
}

#[test]
fn thinning_keeps_every_kth_step_of_the_same_chain() {
    let all = Mcmc::new(TraceMh::new(mixed), 20, 30)
        .seed(4)
        .run(0.5)
        .unwrap();
    let thinned = Mcmc::new(TraceMh::new(mixed), 20, 30)
        .seed(4)
        .thinning(3)
        .run(0.5)
        .unwrap();
    assert_eq!(thinned.num_samples(), 10);
    let mu = Name::from("mu");
    let every = all.get_samples().reals(&mu).unwrap();
    let kept = thinned.get_samples().reals(&mu).unwrap();
    let expected: Vec<f64> = every.iter().skip(2).step_by(3).copied().collect();
    assert_eq!(kept, expected);
    // Thinning that keeps nothing, no chain, zero thinning: errors.
    let err = Mcmc::new(TraceMh::new(mixed), 1, 2)
        .thinning(3)
        .run(0.5)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "num_samples: 2 sampling steps with thinning 3 keep no draw"
    );
    assert!(
        Mcmc::new(TraceMh::new(mixed), 1, 2)
            .num_chains(0)
            .run(0.5)
            .is_err()
    );
    assert!(
        Mcmc::new(TraceMh::new(mixed), 1, 2)
            .thinning(0)
            .run(0.5)
            .is_err()
    );
}

#[test]
fn observed_conditioned_param_and_substituted_sites_never_move() {
    let model = |y: f64| -> Result<(), PyroError> {
        let offset: f64 = param("mcmc_test_offset", 0.25, Constraint::Real)?;
        let a = sample("a", Normal::new(0.0, 1.0))?;
        let b = sample("b", Normal::new(a, 1.0))?;
        let fixed = SubstituteMessenger::new([("c", Value::Real(7.0))])
            .run(|| sample("c", Normal::new(b, 1.0)))?;
        observe("y", Normal::new(b + offset + fixed - 7.0, 1.0), y)?;
        Ok(())
    };
    let conditioned = condition(model, [("a", Value::Real(0.3))]);
    let run = Mcmc::new(TraceMh::new(conditioned), 10, 100)
        .seed(1)
        .run(2.0)
        .unwrap();
    let samples = run.get_samples();
    let names: Vec<String> = samples.names().map(ToString::to_string).collect();
    // Only `b` is latent: `a` is conditioned, `c` substituted inside the model, `y` observed,
    // the param is not a sample site.
    assert_eq!(names, ["b"]);
    let b = samples.reals(&Name::from("b")).unwrap();
    assert!(b.windows(2).any(|w| w[0] != w[1]), "b moves");
    let stats = &run.chain_stats()[0];
    assert_eq!(stats.groups.len(), 1);
    assert_eq!(stats.groups[0].sites, [Name::from("b")]);
    assert_eq!(stats.steps, 100);
}

#[test]
fn a_model_error_names_chain_step_and_site_and_keeps_every_draw() {
    // Chain 1 reaches an invalid scale once `mu` wanders above 1.5; the others are fine.
    let model = |chain_limit: f64| -> Result<Real, PyroError> {
        let mu = sample("mu", Normal::new(0.0, 1.0))?;
        let s = if mu > chain_limit { -1.0 } else { 1.0 };
        observe("y", Normal::new(mu, s), 0.0)
    };
    let err = Mcmc::new(TraceMh::new(model), 10, 2000)
        .num_chains(3)
        .seed(3)
        .run(1.5)
        .unwrap_err();
    let InferError::Chain {
        chain,
        step,
        source,
        run,
    } = &err
    else {
        panic!("{err}");
    };
    assert!(matches!(
        **source,
        InferError::Run(PyroError::Distribution { .. })
    ));
    assert!(
        err.to_string().contains(&format!(
            "chain {chain}, {step}: at sample site 'y': Normal: invalid parameter scale = -1"
        )),
        "{err}"
    );
    // Every chain kept what it drew: the failed one up to its failure, the others to the end.
    assert_eq!(run.num_chains(), 3);
    for (c, draws) in run.get_samples_by_chain().iter().enumerate() {
        if c == *chain {
            let expected = match step {
                ChainStep::Sample(i) => *i,
                _ => 0,
            };
            assert_eq!(draws.len(), expected);
        } else if c > *chain {
            assert!(draws.len() <= 2000);
        } else {
            assert_eq!(
                draws.len(),
                2000,
                "chain {c} below the failed one completed"
            );
        }
    }
    // The error is the same on any number of threads.
    let again = on_threads(1, || {
        Mcmc::new(TraceMh::new(model), 10, 2000)
            .num_chains(3)
            .seed(3)
            .run(1.5)
            .unwrap_err()
    });
    assert_eq!(again.to_string(), err.to_string());
}

#[test]
fn no_valid_start_names_the_impossible_sites() {
    // The observation is outside the support for every prior draw.
    let model = |()| -> Result<Real, PyroError> {
        let rate = sample(
            "rate",
            pyro_infer::poutine::distributions::Exponential::new(1.0),
        )?;
        observe(
            "y",
            pyro_infer::poutine::distributions::Exponential::new(rate),
            -1.0,
        )
    };
    let err = Mcmc::new(TraceMh::new(model), 10, 10).run(()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "chain 0, initialisation: no starting point of positive density in 100 draws from the \
         prior; the first scored -inf at 'y'"
    );
}

#[test]
fn init_values_start_the_chain_and_must_name_latent_sites() {
    let mut init = Latents::new();
    init.insert(Name::from("weight"), Value::Real(20.0));
    // With no warm-up and one step, the first draw is the start or one move from it.
    let run = Mcmc::new(TraceMh::new(scale), 0, 1)
        .init_values(init)
        .seed(2)
        .run(8.5)
        .unwrap();
    let w = run.get_samples().reals(&Name::from("weight")).unwrap()[0];
    assert!((w - 20.0).abs() < 10.0, "{w}");

    let mut typo = Latents::new();
    typo.insert(Name::from("wieght"), Value::Real(9.0));
    let err = Mcmc::new(TraceMh::new(scale), 0, 1)
        .init_values(typo)
        .run(8.5)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "chain 0, initialisation: init_values: no latent site named 'wieght' (the latent sites \
         are 'weight')"
    );
}

#[test]
fn a_subsampled_plate_is_an_error_and_a_full_plate_is_not() {
    let data = [0.5, 1.0, 1.5, 2.0];
    let model = |k: usize| -> Result<Real, PyroError> {
        let mu = sample("mu", Normal::new(0.0, 1.0))?;
        Plate::new("data", data.len())
            .subsample_size(k)
            .run(|idx| {
                let ys: Vec<f64> = idx.iter().map(|i| data[i]).collect();
                observe("y", Batched::iid(Normal::new(mu, 1.0)?, idx.len()), ys)
            })?;
        Ok(mu)
    };
    let err = Mcmc::new(TraceMh::new(model), 5, 5).run(2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "chain 0, initialisation: plate 'data': MCMC needs every element, but the plate \
         subsamples 2 of 4: a subsampled likelihood does not define the model's posterior"
    );
    let run = Mcmc::new(TraceMh::new(model), 5, 5).run(4).unwrap();
    // The plate's index site is not a latent site of the chain.
    let names: Vec<String> = run.get_samples().names().map(ToString::to_string).collect();
    assert_eq!(names, ["mu"]);
}

#[test]
fn a_random_walk_on_a_discrete_site_is_an_error_naming_it() {
    let kernel = TraceMh::new(mixed).proposal("high", MhProposal::RandomWalk);
    let err = Mcmc::new(kernel, 5, 5).run(0.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "chain 0, initialisation: site 'high': a random-walk proposal needs a continuous \
         support; Bernoulli's is boolean"
    );
    let bad = TraceMh::new(mixed).block(["mu"]).block(["mu", "high"]);
    let err = Mcmc::new(bad, 5, 5).run(0.0).unwrap_err();
    assert_eq!(err.to_string(), "block: site 'mu' is in two blocks");
    let err = Mcmc::new(TraceMh::new(mixed).target_accept(1.5), 5, 5)
        .run(0.0)
        .unwrap_err();
    assert_eq!(err.to_string(), "target_accept: 1.5 is not in (0, 1)");
}

#[test]
fn draws_export_to_csv_and_json_and_feed_predictive() {
    let model = |()| -> Result<(), PyroError> {
        let w = sample("w", Normal::new(0.0, 1.0))?;
        let flag = sample("flag", Bernoulli::new(0.3))?;
        let v = sample("v", Batched::iid(Normal::new(w, 1.0)?, 2))?;
        let _ = (flag, v);
        observe("y", Normal::new(w, 1.0), 0.2)?;
        Ok(())
    };
    let run = Mcmc::new(TraceMh::new(model), 5, 3)
        .num_chains(2)
        .seed(1)
        .run(())
        .unwrap();
    let mut csv = Vec::new();
    run.write_csv(&mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "chain,draw,w,flag,v[0],v[1]");
    assert_eq!(lines.len(), 1 + 2 * 3);
    let samples = run.get_samples();
    for (row, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], (row / 3).to_string());
        assert_eq!(cells[1], (row % 3).to_string());
        let w = samples.reals(&Name::from("w")).unwrap()[row];
        assert_eq!(cells[2].parse::<f64>().unwrap(), w, "reals round-trip");
        assert!(cells[3] == "0" || cells[3] == "1");
        let Some(Value::Reals(v)) = samples.value(&Name::from("v"), row) else {
            panic!()
        };
        assert_eq!(cells[4].parse::<f64>().unwrap(), v[0]);
        assert_eq!(cells[5].parse::<f64>().unwrap(), v[1]);
    }
    let json: serde_json::Value = serde_json::from_str(&run.to_json()).unwrap();
    assert_eq!(json["num_chains"], 2);
    assert_eq!(
        json["sites"]["w"][1][2].as_f64().unwrap(),
        samples.reals(&Name::from("w")).unwrap()[5]
    );
    assert!(json["sites"]["flag"][0][0].is_boolean());
    assert_eq!(json["sites"]["v"][0][0].as_array().unwrap().len(), 2);
    assert_eq!(json["stats"][0]["steps"], 3);

    // Posterior draws feed a posterior predictive: latent values fixed, `y` fresh.
    let predictive = Predictive::from_samples(model, run.latents())
        .run(())
        .unwrap();
    assert_eq!(predictive.len(), 6);
    assert!(
        predictive
            .values(&Name::from("w"))
            .unwrap()
            .eq(samples.values(&Name::from("w")).unwrap())
    );
    let ys = predictive.reals(&Name::from("y")).unwrap();
    assert!(ys.iter().all(|&y| y != 0.2));
}

#[test]
fn a_model_whose_sites_come_and_go_has_gaps_in_its_draws() {
    let model = |()| -> Result<(), PyroError> {
        if sample("z", Bernoulli::new(0.5))? {
            sample("a", Normal::new(0.0, 1.0))?;
        } else {
            sample("b", Normal::new(0.0, 1.0))?;
        }
        Ok(())
    };
    let run = Mcmc::new(TraceMh::new(model), 10, 200)
        .seed(5)
        .run(())
        .unwrap();
    let samples = run.get_samples();
    let z = samples.reals(&Name::from("z")).unwrap();
    for (i, z) in z.into_iter().enumerate() {
        assert_eq!(samples.value(&Name::from("a"), i).is_some(), z == 1.0);
        assert_eq!(samples.value(&Name::from("b"), i).is_some(), z == 0.0);
    }
    let summary = run.summary();
    let row = summary.get("a").unwrap();
    assert!(row.draws < 200 && row.ess_bulk.is_none() && row.r_hat.is_none());
    assert!(summary.to_string().contains("a*"));
    let mut csv = Vec::new();
    run.write_csv(&mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    // A draw without `a` has an empty cell.
    assert!(
        csv.lines()
            .skip(1)
            .any(|l| l.ends_with(',') || l.contains(",,"))
    );
}
