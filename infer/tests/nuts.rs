//! NUTS against exact posteriors (a regression; a Dirichlet latent site, through the
//! stick-breaking map) and a long NumPyro run, its errors, and its reproducibility; the model's
//! log density gradient against finite differences of `log_prob_sum`.
//!
//! Tolerances: see `checks/mod.rs` (4.5 Monte Carlo standard errors from each run's own ESS;
//! against NumPyro, the standard error of the difference of the two estimates).

mod checks;
mod common;
mod m2;

use checks::{check_mean, check_mean_near, series};
use pyro_infer::poutine::distributions::{
    AnyDistribution, Batched, Bernoulli, Categorical, Constraint, Dirichlet, Distribution,
    HalfCauchy, HalfNormal, Normal, Real, Rng, Value,
};
use pyro_infer::poutine::{
    Mask, Model, Name, Plate, PyroError, PyroRng, condition, mask, observe, sample, scale,
    substitute, trace,
};
use pyro_infer::{InferError, Init, Mcmc, McmcRun, Nuts, Potential};
use rand::SeedableRng;

/// M2 `linreg` (`shared/BENCH.md`), one site per observation.
fn linreg((xs, ys): (&[f64], &[f64])) -> Result<(), PyroError> {
    let a = sample("a", Normal::new(0.0, 10.0))?;
    let b = sample("b", Normal::new(0.0, 10.0))?;
    let sigma = sample("sigma", HalfNormal::new(1.0))?;
    for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
        observe(
            Name::indexed("y", i as u64),
            Normal::new(a + b * *x, sigma),
            *y,
        )?;
    }
    Ok(())
}

fn check_r_hat(run: &McmcRun) {
    let summary = run.summary();
    for row in summary.rows() {
        let r_hat = row.r_hat.expect("four chains give an R-hat");
        assert!(r_hat < 1.01, "{}: R-hat {r_hat}\n{summary}", row.name);
    }
}

/// M2 against its exact posterior means; no divergences; R-hat < 1.01 on four chains.
#[test]
fn m2_linreg_matches_the_exact_posterior() {
    let (xs, ys) = m2::linreg_data();
    let run = Mcmc::new(Nuts::new(linreg), 500, 1000)
        .num_chains(4)
        .seed(3)
        .run((&xs[..], &ys[..]))
        .unwrap();
    // Exact posterior means by quadrature (`shared/BENCH.md`). A sampler without the
    // log-Jacobian of sigma's map (sampling sigma's log as if it were sigma) moves E[sigma] by
    // about 0.02, tens of MCSE.
    check_mean("E[a]", &series(&run, |v| v("a").unwrap()), 1.00435);
    check_mean("E[b]", &series(&run, |v| v("b").unwrap()), 2.07307);
    check_mean("E[sigma]", &series(&run, |v| v("sigma").unwrap()), 0.49115);
    check_r_hat(&run);
    for (c, stats) in run.chain_stats().iter().enumerate() {
        assert_eq!(stats.divergences, 0, "chain {c}: {stats:?}");
        assert_eq!(stats.steps, 1000);
        assert!(
            stats
                .mean_tree_depth
                .is_some_and(|d| (1.0..=10.0).contains(&d))
        );
        assert!(stats.step_size.is_some_and(|s| s > 0.0));
        // Adapted to the target of 0.8; the mean acceptance of a chain lies near it.
        assert!(
            (0.6..0.99).contains(&stats.accept_rate),
            "chain {c}: {stats:?}"
        );
    }
}

/// The eight-schools data (Rubin 1981), as in the NumPyro reference run.
const Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
const SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];

/// Eight schools, non-centred, one site per school.
fn eight_schools(_: ()) -> Result<(), PyroError> {
    let mu = sample("mu", Normal::new(0.0, 5.0))?;
    let tau = sample("tau", HalfCauchy::new(5.0))?;
    for j in 0..8 {
        let tilde = sample(
            Name::indexed("theta_tilde", j as u64),
            Normal::new(0.0, 1.0),
        )?;
        let theta = mu + tau * tilde;
        observe(
            Name::indexed("y", j as u64),
            Normal::new(theta, SIGMA[j]),
            Y[j],
        )?;
    }
    Ok(())
}

/// Eight schools, non-centred, with the school effects as one vectorised site in a plate.
fn eight_schools_vectorised(_: ()) -> Result<(), PyroError> {
    let mu = sample("mu", Normal::new(0.0, 5.0))?;
    let tau = sample("tau", HalfCauchy::new(5.0))?;
    Plate::new("schools", 8).run(|_| {
        let tilde = sample("theta_tilde", Batched::iid(Normal::new(0.0, 1.0)?, 8))?;
        let thetas = mu + tau * tilde;
        let likelihood = Batched::try_from_fn(8, |j| Normal::new(thetas.at(j), SIGMA[j]))?;
        observe("y", likelihood, Y.to_vec())?;
        Ok(())
    })
}

/// The NumPyro reference: `(mean, mcse)` of `name`.
fn numpyro(name: &str) -> (f64, f64) {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("data/eight_schools_numpyro.json")).unwrap();
    let row = &json["posterior"][name];
    (row["mean"].as_f64().unwrap(), row["mcse"].as_f64().unwrap())
}

/// Eight schools against NumPyro's NUTS (4 x 50,000 draws; `data/eight_schools_numpyro.py`):
/// the means of mu, tau and each school's effect, in both the per-site and the vectorised
/// form of the model.
#[test]
fn eight_schools_matches_numpyro() {
    let run = Mcmc::new(Nuts::new(eight_schools).target_accept(0.95), 1000, 2000)
        .num_chains(4)
        .seed(8)
        .run(())
        .unwrap();
    for name in ["mu", "tau"] {
        let (reference, mcse) = numpyro(name);
        check_mean_near(name, &series(&run, |v| v(name).unwrap()), reference, mcse);
    }
    for j in 0..8 {
        let (reference, mcse) = numpyro(&format!("theta_{j}"));
        let tilde = format!("theta_tilde_{j}");
        let effect = |v: &dyn Fn(&str) -> Option<f64>| {
            v("mu").unwrap() + v("tau").unwrap() * v(&tilde).unwrap()
        };
        check_mean_near(
            &format!("theta_{j}"),
            &series(&run, effect),
            reference,
            mcse,
        );
    }
    check_r_hat(&run);

    let run = Mcmc::new(
        Nuts::new(eight_schools_vectorised).target_accept(0.95),
        1000,
        2000,
    )
    .num_chains(4)
    .seed(9)
    .run(())
    .unwrap();
    for name in ["mu", "tau"] {
        let (reference, mcse) = numpyro(name);
        check_mean_near(name, &series(&run, |v| v(name).unwrap()), reference, mcse);
    }
    let samples = run.get_samples_by_chain();
    let per_chain: Vec<Vec<f64>> = samples
        .iter()
        .map(|chain| {
            (0..chain.len())
                .map(|i| {
                    let real = |site: &str| match chain.value(&Name::from(site.to_string()), i) {
                        Some(Value::Real(x)) => *x,
                        other => panic!("{site}: {other:?}"),
                    };
                    let Some(Value::Reals(tilde)) = chain.value(&Name::from("theta_tilde"), i)
                    else {
                        panic!("theta_tilde is a vector");
                    };
                    real("mu") + real("tau") * tilde[0]
                })
                .collect()
        })
        .collect();
    let (reference, mcse) = numpyro("theta_0");
    check_mean_near("theta_0 (vectorised)", &per_chain, reference, mcse);
}

/// Same seed, same draws, whatever the number of threads.
#[test]
fn chains_are_reproducible_on_any_number_of_threads() {
    let (xs, ys) = m2::linreg_data();
    let go = || {
        Mcmc::new(Nuts::new(linreg), 100, 100)
            .num_chains(3)
            .seed(11)
            .run((&xs[..], &ys[..]))
            .unwrap()
            .to_json()
    };
    let one = common::on_threads(1, go);
    let two = common::on_threads(2, go);
    assert_eq!(one, two);
}

#[test]
fn a_discrete_latent_site_is_an_error_naming_it() {
    let model = |_: ()| -> Result<(), PyroError> {
        let z = sample("z", Bernoulli::new(0.3))?;
        let mu = sample("mu", Normal::new(0.0, 1.0))?;
        observe("y", Normal::new(if z { mu } else { -mu }, 1.0), 0.5)?;
        Ok(())
    };
    let err = Mcmc::new(Nuts::new(model), 10, 10).run(()).unwrap_err();
    let InferError::Chain { source, .. } = err else {
        panic!("{err}");
    };
    assert!(
        matches!(&*source, InferError::NotDifferentiable { site, .. } if *site == "z"),
        "{source}"
    );
    assert!(
        source.to_string().contains("discrete latent site"),
        "{source}"
    );
}

/// The per-chain series of element `i` of the vector site `site`.
fn element_series(run: &McmcRun, site: &str, i: usize) -> Vec<Vec<f64>> {
    run.get_samples_by_chain()
        .iter()
        .map(|chain| {
            (0..chain.len())
                .map(|j| match chain.value(&Name::from(site.to_string()), j) {
                    Some(Value::Reals(x)) => x[i],
                    other => panic!("{site}: {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// A Dirichlet latent site, sampled through the stick-breaking map with the gradient of its
/// log-density: `w ~ Dirichlet(1, 1, 1)` and categorical draws with counts `c` have the exact
/// posterior `Dirichlet(1 + c)`, of mean `a / a_0` and second moments
/// `a_i (a_i + 1) / (a_0 (a_0 + 1))` for `a = 1 + c`. Thirty draws with counts (12, 8, 10), and
/// six with (3, 1, 2): the map's Jacobian is `w_0 w_1 w_2`, so a sampler without its
/// log-Jacobian samples `Dirichlet(c)` instead, which moves `E[w_1]` by 0.056 for (3, 1, 2),
/// over twenty MCSE (by 0.006 for (12, 8, 10), about five).
#[test]
fn a_dirichlet_latent_site_matches_the_exact_posterior() {
    let model = |counts: [usize; 3]| -> Result<(), PyroError> {
        let w = sample("w", Dirichlet::new([1.0, 1.0, 1.0]))?;
        let ys: Vec<i64> = (0..3_i64)
            .flat_map(|k| std::iter::repeat_n(k, counts[k as usize]))
            .collect();
        let n = ys.len();
        Plate::new("draws", n).run(|_| {
            observe("y", Batched::iid(Categorical::new(&w)?, n)?, ys)?;
            Ok(())
        })
    };
    for (counts, seed) in [([12, 8, 10], 12), ([3, 1, 2], 13)] {
        let run = Mcmc::new(Nuts::new(model), 500, 1000)
            .num_chains(4)
            .seed(seed)
            .run(counts)
            .unwrap();
        let a = counts.map(|c| 1.0 + c as f64);
        let a0: f64 = a.iter().sum();
        for (i, a_i) in a.into_iter().enumerate() {
            let w = element_series(&run, "w", i);
            check_mean(&format!("{counts:?}: E[w_{i}]"), &w, a_i / a0);
            let squares: Vec<Vec<f64>> = w
                .iter()
                .map(|chain| chain.iter().map(|x| x * x).collect())
                .collect();
            let second = a_i * (a_i + 1.0) / (a0 * (a0 + 1.0));
            check_mean(&format!("{counts:?}: E[w_{i}^2]"), &squares, second);
        }
        check_r_hat(&run);
        for (c, stats) in run.chain_stats().iter().enumerate() {
            assert_eq!(stats.divergences, 0, "{counts:?}, chain {c}: {stats:?}");
        }
    }
}

/// A family whose value is a plain `f64`, not a [`Real`]: its log-density cannot depend on the
/// value on the tape.
#[derive(Clone, Debug)]
struct PlainNormal;

impl Distribution for PlainNormal {
    type Value = f64;
    type Moment = f64;
    fn family(&self) -> &'static str {
        "PlainNormal"
    }
    fn sample<R: Rng + ?Sized>(&self, _: &mut R) -> f64 {
        0.0
    }
    fn log_prob(&self, x: &f64) -> f64 {
        -0.5 * x * x - 0.5 * (2.0 * std::f64::consts::PI).ln()
    }
    fn support(&self) -> Constraint {
        Constraint::Real
    }
    fn mean(&self) -> Option<f64> {
        Some(0.0)
    }
    fn variance(&self) -> Option<f64> {
        Some(1.0)
    }
}

impl From<PlainNormal> for AnyDistribution {
    fn from(d: PlainNormal) -> Self {
        AnyDistribution::custom(d)
    }
}

#[test]
fn a_family_without_a_gradient_is_an_error_naming_it() {
    let model = |_: ()| -> Result<(), PyroError> {
        let x = sample("x", PlainNormal)?;
        observe("y", Normal::new(x, 1.0), 0.5)?;
        Ok(())
    };
    let mut rng = PyroRng::seed_from_u64(0);
    // (`Potential` of a closure is not `Debug`, so no `unwrap_err`.)
    let err = Potential::new(model, &(), &mut rng)
        .err()
        .expect("a model with a latent site of plain f64 values is an error");
    assert!(
        matches!(&err, InferError::NotDifferentiable { site, reason }
            if *site == "x" && reason.contains("PlainNormal")),
        "{err}"
    );
}

#[test]
fn latent_sites_that_change_between_runs_are_an_error() {
    // The second latent site exists only when the first is positive.
    let model = |_: ()| -> Result<(), PyroError> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        if x > 0.0 {
            sample("extra", Normal::new(0.0, 1.0))?;
        }
        Ok(())
    };
    let mut rng = PyroRng::seed_from_u64(1);
    let potential = loop {
        // A first run that reaches `extra`.
        let p = Potential::new(model, &(), &mut rng).unwrap();
        if p.dim() == 2 {
            break p;
        }
    };
    let err = potential
        .log_density(&(), &[-1.0, 0.0], &mut Vec::new())
        .unwrap_err();
    assert!(
        matches!(&err, InferError::NotDifferentiable { site, .. } if *site == "extra"),
        "{err}"
    );
}

/// A start where the gradient is exactly zero (an initial value at a prior mode) works: the
/// sampler underneath refuses such a start, so the coordinate is moved by 1e-6.
#[test]
fn a_start_at_a_mode_works() {
    let model = |_: ()| sample("x", Normal::new(0.0, 1.0)).map(drop);
    let init = [(Name::from("x"), Value::Real(0.0))].into_iter().collect();
    let run = Mcmc::new(Nuts::new(model), 200, 400)
        .init_values(init)
        .run(())
        .unwrap();
    assert_eq!(
        run.get_samples().reals(&Name::from("x")).unwrap().len(),
        400
    );
}

#[test]
fn invalid_settings_are_errors() {
    let model = |_: ()| sample("x", Normal::new(0.0, 1.0)).map(drop);
    for nuts in [
        Nuts::new(model).target_accept(1.0),
        Nuts::new(model).max_tree_depth(0),
        Nuts::new(model).init_strategy(Init::Uniform { radius: -1.0 }),
    ] {
        let err = Mcmc::new(nuts, 10, 10).run(()).unwrap_err();
        assert!(matches!(err, InferError::InvalidArgument { .. }), "{err}");
    }
}

#[test]
fn init_values_and_the_median_start_chains_where_asked() {
    let (xs, ys) = m2::linreg_data();
    let mut rng = PyroRng::seed_from_u64(2);
    let potential = Potential::new(linreg, &(&xs[..], &ys[..]), &mut rng).unwrap();
    let given = [(Name::from("sigma"), Value::Real(0.5))]
        .into_iter()
        .collect();
    let args = (&xs[..], &ys[..]);
    let u = potential
        .init_point(&args, &Init::default(), Some(&given), &mut rng)
        .unwrap();
    let values = potential.constrained(&u).unwrap();
    assert_eq!(
        values[2],
        (Name::from("sigma"), Value::Real(0.5_f64.ln().exp()))
    );
    assert!(u[..2].iter().all(|x| x.abs() < 2.0));
    let u = potential
        .init_point(&args, &Init::Median, None, &mut rng)
        .unwrap();
    assert!(u.iter().all(|x| x.is_finite()));
    let bad = [(Name::from("sigma"), Value::Real(-1.0))]
        .into_iter()
        .collect();
    let err = potential
        .init_point(&args, &Init::default(), Some(&bad), &mut rng)
        .unwrap_err();
    assert!(matches!(err, InferError::BadValue { .. }), "{err}");
    let err = potential
        .log_density(&args, &[0.0, 1.0], &mut Vec::new())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "u: the point has 2 coordinates, the model 3"
    );
    assert!(potential.constrained(&[0.0; 4]).is_err());
    let unknown = [(Name::from("s"), Value::Real(1.0))].into_iter().collect();
    let err = potential
        .init_point(&args, &Init::default(), Some(&unknown), &mut rng)
        .unwrap_err();
    assert!(matches!(err, InferError::UnknownSite { .. }), "{err}");
}

/// A model with a sequential and a vectorised plate, a `scale` handler, a `mask` handler and a
/// conditioned site.
fn handled_model(_: ()) -> Result<(), PyroError> {
    let loc = sample("loc", Normal::new(0.5, 2.0))?;
    let spread = sample("spread", HalfNormal::new(1.5))?;
    let ys = [0.3, -1.2, 2.2];
    Plate::new("seq", 3).for_each(|i| {
        observe(
            Name::indexed("y", i as u64),
            Normal::new(loc, spread),
            ys[i],
        )
        .map(drop)
    })?;
    // A masked-out site: if the mask were ignored its huge residual would dominate.
    let far = move |()| observe("masked", Normal::new(loc, 0.1), 100.0).map(drop);
    mask(far, Mask::All(false)).call(())?;
    let scaled = move |()| observe("scaled", Normal::new(loc * spread, 1.0), 0.4).map(drop);
    scale(scaled, 3.0)?.call(())?;
    let z =
        Plate::new("vec", 4).run(|_| sample("z", Batched::iid(Normal::new(loc, spread)?, 4)))?;
    let w = sample("w", Normal::new(z.at(1) * 0.5, 1.0))?;
    observe("obs_w", Normal::new(w, 0.7), 1.0)?;
    // Conditioned from outside: data, not a latent.
    sample("c", Normal::new(loc + spread, 1.0))?;
    Ok(())
}

/// The gradient of the log density with plates, scale, mask and condition against central
/// finite differences of an independent computation of the same density: the trace's
/// `log_prob_sum` of the model run with the constrained values substituted, plus the
/// log-Jacobians from the `f64` bijections.
///
/// Tolerance as in the distributions' gradient checks (`testing.rs`): step
/// `h = eps^(1/3)`, error below `2e-9 (|g| + max(|f|, 1))` for these unit-scale coordinates;
/// `1e-6 (|g| + max(|f|, 1))` leaves a margin of 500.
#[test]
fn the_gradient_matches_finite_differences_of_log_prob_sum() {
    // Under handlers (`scale`, `condition`): the potential takes the sites as messages.
    let handled = || scale(condition(handled_model, [("c", 1.7)]), 0.5).unwrap();
    check_gradient(handled, &["loc", "spread", "z", "w"], 7);
    // The model alone (`c` is then latent): sites outside the model's own handlers are taken on
    // the direct path.
    check_gradient(|| handled_model, &["loc", "spread", "z", "w", "c"], 8);
}

/// Checks the potential of `make()` at two points against finite differences of the trace's
/// `log_prob_sum` plus the log-Jacobians (see the test above).
fn check_gradient<M: Model<(), Output = ()> + Clone>(
    make: impl Fn() -> M,
    latent: &[&str],
    dim: usize,
) {
    let mut rng = PyroRng::seed_from_u64(4);
    let potential = Potential::new(make(), &(), &mut rng).unwrap();
    let names: Vec<String> = potential.sites().map(|(n, _)| n.to_string()).collect();
    assert_eq!(names, latent);
    assert_eq!(potential.dim(), dim);
    let reference = |u: &[f64]| -> f64 {
        let values = potential.constrained(u).unwrap();
        let supports: Vec<Constraint> = potential.sites().map(|(_, c)| *c).collect();
        let mut jacobian = 0.0;
        let mut offset = 0;
        for ((_, value), support) in values.iter().zip(&supports) {
            let len = value.len();
            let coords = match value {
                Value::Real(_) => Value::Real(u[offset]),
                _ => Value::Reals(u[offset..offset + len].to_vec()),
            };
            jacobian += support.log_abs_det_jacobian(&coords).unwrap();
            offset += len;
        }
        let substituted = substitute(make(), values);
        let tr = trace(substituted).get_trace(()).unwrap();
        tr.log_prob_sum(|_| true).unwrap() + jacobian
    };
    let points = [
        [0.1, -0.3, 0.2, -0.5, 1.0, 0.3, 0.7, 0.4],
        [-1.0, 0.8, 1.5, 0.0, -0.7, 2.0, -1.1, -0.2],
    ];
    for point in points.map(|p| p[..dim].to_vec()) {
        let mut grad = Vec::new();
        let lp = potential.log_density(&(), &point, &mut grad).unwrap();
        let f = reference(&point);
        assert!((lp - f).abs() <= 1e-12 * f.abs().max(1.0), "{lp} vs {f}");
        for i in 0..point.len() {
            let h = f64::EPSILON.cbrt();
            let (mut plus, mut minus) = (point.clone(), point.clone());
            plus[i] += h;
            minus[i] -= h;
            let fd = (reference(&plus) - reference(&minus)) / (plus[i] - minus[i]);
            let tolerance = 1e-6 * (grad[i].abs() + f.abs().max(1.0));
            assert!(
                (grad[i] - fd).abs() <= tolerance,
                "d/du{i} at {point:?}: {} on the tape, {fd} by differences",
                grad[i]
            );
        }
    }
}

/// With `param` sites as coordinates: the gradient with respect to a latent site and two
/// parameters against its closed form (no log-Jacobian for the parameters); a parameter read as
/// a plain number is an error naming it.
#[test]
fn parameters_as_coordinates() {
    use pyro_infer::poutine::param;
    let model = |y: f64| -> Result<(), PyroError> {
        let loc = param("potential_test_loc", Real::from(0.2), Constraint::Real)?;
        let scale = param(
            "potential_test_scale",
            Real::from(1.0),
            Constraint::Positive,
        )?;
        let mu = sample("mu", Normal::new(loc, 1.0))?;
        observe("y", Normal::new(mu, scale), y)?;
        Ok(())
    };
    let mut rng = PyroRng::seed_from_u64(5);
    let potential = Potential::with_params(model, &1.0, &mut rng).unwrap();
    let names: Vec<String> = potential.sites().map(|(n, _)| n.to_string()).collect();
    assert_eq!(names, ["potential_test_loc", "potential_test_scale", "mu"]);
    let (loc, log_scale, mu, y) = (0.2, 0.3_f64, 0.5, 1.0);
    let scale = log_scale.exp();
    let mut grad = Vec::new();
    let lp = potential
        .log_density(&y, &[loc, log_scale, mu], &mut grad)
        .unwrap();
    let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let exact = -half_ln_2pi - 0.5 * (mu - loc) * (mu - loc)
        + (-half_ln_2pi - log_scale - 0.5 * ((y - mu) / scale).powi(2));
    assert!((lp - exact).abs() < 1e-12, "{lp} vs {exact}");
    let want = [
        mu - loc,
        -1.0 + ((y - mu) / scale).powi(2),
        -(mu - loc) + (y - mu) / (scale * scale),
    ];
    for (g, w) in grad.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{grad:?} vs {want:?}");
    }
    // Without parameters as coordinates they are data: one coordinate.
    assert_eq!(Potential::new(model, &1.0, &mut rng).unwrap().dim(), 1);

    let plain = |_: ()| -> Result<(), PyroError> {
        let loc: f64 = param("potential_test_plain", 0.0, Constraint::Real)?;
        observe("y", Normal::new(loc, 1.0), 0.5)?;
        Ok(())
    };
    let err = Potential::with_params(plain, &(), &mut rng).err().unwrap();
    assert!(err.to_string().contains("potential_test_plain"), "{err}");
    assert!(err.to_string().contains("read it as a Real"), "{err}");
}

/// A thread keeps one evaluation handler for every potential: evaluations of two models in
/// turn, and after an evaluation that failed (a latent site missing, the model's own error),
/// give what a first evaluation gives, bit for bit.
#[test]
fn evaluations_in_turn_and_after_errors_are_independent() {
    let data = m2::linreg_data();
    let m2 = |d: &(Vec<f64>, Vec<f64>)| linreg((&d.0, &d.1));
    let small = |fail: bool| -> Result<(), PyroError> {
        let x = sample("x", HalfNormal::new(2.0))?;
        if fail {
            return Err(PyroError::InvalidMessage {
                site: Name::from("x"),
                reason: "the model's own error",
            });
        }
        observe("y", Normal::new(x, 1.0), 0.5)?;
        Ok(())
    };
    let mut rng = PyroRng::seed_from_u64(5);
    let p2 = Potential::new(m2, &&data, &mut rng).unwrap();
    let p1 = Potential::new(small, &false, &mut rng).unwrap();
    let u2 = [0.9, 2.1, -0.7];
    let eval2 = || {
        let mut grad = Vec::new();
        let lp = p2.log_density(&&data, &u2, &mut grad).unwrap();
        (lp, grad)
    };
    let eval1 = || {
        let mut grad = Vec::new();
        let lp = p1.log_density(&false, &[0.3], &mut grad).unwrap();
        (lp, grad)
    };
    let (first2, first1) = (eval2(), eval1());
    assert!(p1.log_density(&true, &[0.3], &mut Vec::new()).is_err());
    assert_eq!(eval2(), first2);
    // A NaN coordinate: the first observation's location is NaN, an error inside the run.
    assert!(
        p2.log_density(&&data, &[f64::NAN, 2.1, -0.7], &mut Vec::new())
            .is_err()
    );
    assert_eq!(eval1(), first1);
    assert_eq!(eval2(), first2);
}
