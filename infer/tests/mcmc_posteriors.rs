//! Trace MH against exact posteriors: the benchmark models of `shared/BENCH.md` (M1, M2, M3,
//! M4), a model whose branches have different latent sites, and a discrete Bayesian network
//! enumerated exactly.
//!
//! Tolerances: see `checks/mod.rs`; each check notes how a biased sampler fails it.

mod checks;

use checks::{check_mean, series};
use pyro_infer::poutine::distributions::{
    Batched, Bernoulli, Beta, Dirichlet, Gamma, Geometric, HalfNormal, Normal, Pareto, Real,
    Uniform, Value,
};
use pyro_infer::poutine::{Name, PyroError, observe, sample};
use pyro_infer::{Mcmc, TraceMh};

/// M1 `scale`: the posterior of `weight` is Normal(9.14, 0.6).
#[test]
fn m1_scale() {
    let model = |_: ()| -> Result<Real, PyroError> {
        let weight = sample("weight", Normal::new(8.5, 1.0))?;
        observe("measurement", Normal::new(weight, 0.75), 9.5)?;
        Ok(weight)
    };
    let run = Mcmc::new(TraceMh::new(model), 500, 5000)
        .num_chains(4)
        .seed(1)
        .run(())
        .unwrap();
    let precision: f64 = 1.0 + 1.0 / 0.5625;
    let (mean, sd) = ((8.5 + 9.5 / 0.5625) / precision, precision.recip().sqrt());
    check_mean("E[weight]", &series(&run, |v| v("weight").unwrap()), mean);
    // The second central moment around the exact mean: E[(w - 9.14)^2] = 0.36.
    check_mean(
        "E[(weight - mean)^2]",
        &series(&run, |v| (v("weight").unwrap() - mean).powi(2)),
        sd * sd,
    );
    let summary = run.summary();
    let row = summary.get("weight").unwrap();
    assert!(row.r_hat.unwrap() < 1.01, "{summary}");
    assert!((0.3..0.6).contains(&row.accept_rate.unwrap()), "{summary}");
}

/// M3 `coin`: Beta(10, 10) prior, 60 heads and 40 tails; the posterior is Beta(70, 50).
#[test]
fn m3_coin() {
    let flips: Vec<bool> = (0..100).map(|i| i < 60).collect();
    let model = |flips: &[bool]| -> Result<Real, PyroError> {
        let p = sample("p", Beta::new(10.0, 10.0))?;
        for (i, &x) in flips.iter().enumerate() {
            observe(Name::indexed("x", i as u64), Bernoulli::new(p), x)?;
        }
        Ok(p)
    };
    let run = Mcmc::new(TraceMh::new(model), 500, 3000)
        .num_chains(4)
        .seed(2)
        .run(&flips[..])
        .unwrap();
    let (a, b) = (70.0, 50.0);
    let mean = a / (a + b);
    let var = a * b / ((a + b) * (a + b) * (a + b + 1.0));
    check_mean("E[p]", &series(&run, |v| v("p").unwrap()), mean);
    check_mean(
        "E[(p - mean)^2]",
        &series(&run, |v| (v("p").unwrap() - mean).powi(2)),
        var,
    );
}

/// M2 `linreg`, 103 sites: the exact posterior means (`shared/BENCH.md`).
#[test]
fn m2_linreg() {
    let eps: Vec<f64> = include_str!("../../benches/data/linreg_eps.txt")
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let xs: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
    let ys: Vec<f64> = xs
        .iter()
        .zip(&eps)
        .map(|(x, e)| 1.0 + 2.0 * x + 0.5 * e)
        .collect();
    let model = |(xs, ys): (&[f64], &[f64])| -> Result<Real, PyroError> {
        let a = sample("a", Normal::new(0.0, 10.0))?;
        let b = sample("b", Normal::new(0.0, 10.0))?;
        let sigma = sample("sigma", HalfNormal::new(1.0))?;
        for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
            observe(
                Name::indexed("y", i as u64),
                Normal::new(a + b * x, sigma),
                *y,
            )?;
        }
        Ok(b)
    };
    let run = Mcmc::new(TraceMh::new(model), 1000, 4000)
        .num_chains(4)
        .seed(3)
        .run((&xs[..], &ys[..]))
        .unwrap();
    check_mean("E[a]", &series(&run, |v| v("a").unwrap()), 1.00435);
    check_mean("E[b]", &series(&run, |v| v("b").unwrap()), 2.07307);
    check_mean("E[sigma]", &series(&run, |v| v("sigma").unwrap()), 0.49115);
    // `a` and `b` updated together as a block reach the same posterior.
    let blocked = Mcmc::new(TraceMh::new(model).block(["a", "b"]), 1000, 3000)
        .num_chains(4)
        .seed(4)
        .run((&xs[..], &ys[..]))
        .unwrap();
    check_mean(
        "E[a] (block)",
        &series(&blocked, |v| v("a").unwrap()),
        1.00435,
    );
    check_mean(
        "E[b] (block)",
        &series(&blocked, |v| v("b").unwrap()),
        2.07307,
    );
    let stats = &blocked.chain_stats()[0];
    assert!(stats.groups.iter().any(|g| g.sites.len() == 2));
}

/// M4 `random_walk`: the number of sites is random. A sampler without the trace-size and
/// fresh/dropped corrections is biased here: without the `|L(t)| / |L(t')|` factor E[n | y]
/// comes out at 4.69 (21 MCSE away), without the fresh/dropped densities at 0.25.
#[test]
fn m4_random_walk() {
    let model = |_: ()| -> Result<i64, PyroError> {
        let n = sample("n", Geometric::new(0.3))?;
        let mut total = Real::from(0.0);
        for i in 0..n {
            total += sample(Name::indexed("step", i as u64), Normal::new(0.0, 1.0))?;
        }
        observe("y", Normal::new(total, 1.0), 2.0)?;
        Ok(n)
    };
    let run = Mcmc::new(TraceMh::new(model), 1000, 30000)
        .num_chains(4)
        .seed(5)
        .run(())
        .unwrap();
    check_mean("E[n]", &series(&run, |v| v("n").unwrap()), 2.73483);
    for (k, p) in [(0.0, 0.17086), (1.0, 0.22989), (2.0, 0.18337)] {
        let indicator = series(&run, |v| f64::from(u8::from(v("n").unwrap() == k)));
        check_mean(&format!("P(n = {k})"), &indicator, p);
    }
    // E[sum of steps | y] = 1.15287.
    let total = series(&run, |v| {
        (0..v("n").unwrap() as u64)
            .map(|i| v(&format!("step_{i}")).unwrap())
            .sum()
    });
    check_mean("E[sum of steps]", &total, 1.15287);
}

/// The normal density.
fn normal_pdf(x: f64, mu: f64, sd: f64) -> f64 {
    (-0.5 * ((x - mu) / sd).powi(2)).exp() / (sd * (2.0 * std::f64::consts::PI).sqrt())
}

/// Branches with different latent sites: `z ~ Bernoulli(0.4)`; if `z`, `a ~ Normal(0, 1)` and
/// `y ~ Normal(a, 1)`; else `b ~ Normal(2, 0.5)` and `y ~ Normal(b, 1)`; `y = 1` observed. A move
/// of `z` draws the other branch's site fresh and drops this one's.
#[test]
fn branches_with_different_latent_sites() {
    let model = |y: f64| -> Result<(), PyroError> {
        if sample("z", Bernoulli::new(0.4))? {
            let a = sample("a", Normal::new(0.0, 1.0))?;
            observe("y", Normal::new(a, 1.0), y)?;
        } else {
            let b = sample("b", Normal::new(2.0, 0.5))?;
            observe("y", Normal::new(b, 1.0), y)?;
        }
        Ok(())
    };
    let run = Mcmc::new(TraceMh::new(model), 1000, 20000)
        .num_chains(4)
        .seed(6)
        .run(1.0)
        .unwrap();
    // Evidence of each branch: y ~ Normal(0, sqrt(2)) and Normal(2, sqrt(1.25)).
    let w1 = 0.4 * normal_pdf(1.0, 0.0, 2f64.sqrt());
    let w0 = 0.6 * normal_pdf(1.0, 2.0, 1.25f64.sqrt());
    let p1 = w1 / (w1 + w0);
    check_mean("P(z | y)", &series(&run, |v| v("z").unwrap()), p1);
    // E[a | z, y] = 0.5 (precisions 1 + 1); E[b | not z, y] = (4 * 2 + 1) / 5 = 1.8.
    check_mean("E[z a]", &series(&run, |v| v("a").unwrap_or(0.0)), p1 * 0.5);
    check_mean(
        "E[(1 - z) b]",
        &series(&run, |v| v("b").unwrap_or(0.0)),
        (1.0 - p1) * 1.8,
    );
}

/// The sprinkler network (four Bernoulli sites), wet grass observed: the posterior of each
/// latent site by enumerating the 8 configurations.
#[test]
fn discrete_bayesian_network_enumerated_exactly() {
    fn p_wet(sprinkler: bool, rain: bool) -> f64 {
        match (sprinkler, rain) {
            (false, false) => 0.05,
            (true, false) | (false, true) => 0.9,
            (true, true) => 0.99,
        }
    }
    let model = |wet: bool| -> Result<(), PyroError> {
        let cloudy = sample("cloudy", Bernoulli::new(0.5))?;
        let sprinkler = sample("sprinkler", Bernoulli::new(if cloudy { 0.1 } else { 0.5 }))?;
        let rain = sample("rain", Bernoulli::new(if cloudy { 0.8 } else { 0.2 }))?;
        observe("wet", Bernoulli::new(p_wet(sprinkler, rain)), wet)?;
        Ok(())
    };
    let bern = |p: f64, x: bool| if x { p } else { 1.0 - p };
    let (mut total, mut marginals) = (0.0, [0.0; 3]);
    for c in [false, true] {
        for s in [false, true] {
            for r in [false, true] {
                let joint = bern(0.5, c)
                    * bern(if c { 0.1 } else { 0.5 }, s)
                    * bern(if c { 0.8 } else { 0.2 }, r)
                    * p_wet(s, r);
                total += joint;
                for (m, x) in marginals.iter_mut().zip([c, s, r]) {
                    if x {
                        *m += joint;
                    }
                }
            }
        }
    }
    let run = Mcmc::new(TraceMh::new(model), 500, 10000)
        .num_chains(4)
        .seed(7)
        .run(true)
        .unwrap();
    for (site, m) in ["cloudy", "sprinkler", "rain"].into_iter().zip(marginals) {
        check_mean(
            &format!("P({site} | wet)"),
            &series(&run, |v| v(site).unwrap()),
            m / total,
        );
    }
}

/// Without data the chain's stationary distribution is the prior: random walks in the
/// unconstrained space of every kind of support (positive, unit interval, interval, greater
/// than, simplex, elementwise) must carry their transform's Jacobian. Without it the chain
/// samples `p(x) / |dx/du|` instead: the Gamma(2, 1.5) mean falls from 1.33 to 0.66, 50 MCSE
/// away.
#[test]
fn random_walks_on_every_support_keep_the_prior() {
    let model = |()| -> Result<(), PyroError> {
        sample("gamma", Gamma::new(2.0, 1.5))?;
        sample("beta", Beta::new(2.0, 3.0))?;
        sample("uniform", Uniform::new(-1.0, 3.0))?;
        sample("pareto", Pareto::new(1.0, 3.0))?;
        sample("dirichlet", Dirichlet::new([2.0, 3.0, 4.0]))?;
        sample("batch", Batched::iid(Gamma::new(3.0, 1.0)?, 2))?;
        Ok(())
    };
    let run = Mcmc::new(TraceMh::new(model), 1000, 20000)
        .num_chains(4)
        .seed(8)
        .run(())
        .unwrap();
    check_mean(
        "E[gamma]",
        &series(&run, |v| v("gamma").unwrap()),
        2.0 / 1.5,
    );
    check_mean("E[beta]", &series(&run, |v| v("beta").unwrap()), 0.4);
    check_mean("E[uniform]", &series(&run, |v| v("uniform").unwrap()), 1.0);
    // Pareto(scale 1, alpha 3): mean alpha / (alpha - 1).
    check_mean("E[pareto]", &series(&run, |v| v("pareto").unwrap()), 1.5);
    // Second moments pin the shape, not just the location.
    check_mean(
        "E[uniform^2]",
        &series(&run, |v| v("uniform").unwrap().powi(2)),
        // Var 16 / 12 plus mean^2 1.
        16.0 / 12.0 + 1.0,
    );
    // Element `i` of a vector site, per chain.
    let vector = |site: &str, i: usize| -> Vec<Vec<f64>> {
        run.get_samples_by_chain()
            .iter()
            .map(|chain| {
                chain
                    .values(&Name::from(site.to_string()))
                    .unwrap()
                    .map(|v| match v {
                        Some(Value::Reals(x)) => x[i],
                        other => panic!("{other:?}"),
                    })
                    .collect()
            })
            .collect()
    };
    for (i, alpha) in [2.0, 3.0, 4.0].into_iter().enumerate() {
        check_mean(
            &format!("E[dirichlet[{i}]]"),
            &vector("dirichlet", i),
            alpha / 9.0,
        );
    }
    for i in 0..2 {
        check_mean(&format!("E[batch[{i}]]"), &vector("batch", i), 3.0);
    }
}
