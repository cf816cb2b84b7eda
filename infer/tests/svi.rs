//! Stochastic variational inference: the ELBO's gradient estimates against closed forms and
//! finite differences of an exact ELBO (unbiasedness, within the Monte Carlo error of the
//! estimates), SVI against exact posteriors, minibatches, errors and reproducibility.
//!
//! The parameter store is process-wide, as Pyro's is: each test uses parameter names of its
//! own.

mod m2;

use pyro_infer::poutine::distributions::{
    Batched, Bernoulli, Beta, Constraint, Gamma, HalfNormal, LogNormal, Normal, Poisson, Real,
    Value,
};
use pyro_infer::poutine::{
    Model, Name, Plate, PyroError, PyroRng, observe, param, sample, site, with_param_store,
};
use pyro_infer::{
    Adam, AutoDelta, AutoMultivariateNormal, AutoNormal, ElboEstimate, InferError, Optimizer,
    Schedule, Sgd, Svi, TraceElbo,
};
use rand::SeedableRng;

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The value of a real parameter in the store.
fn real(name: &str) -> f64 {
    match with_param_store(|s| s.get(name)) {
        Some(Value::Real(x)) => x,
        other => panic!("parameter {name}: {other:?}"),
    }
}

/// Mean and standard error of `xs`.
fn mean_and_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// The unconstrained coordinates of a parameter (`ln x` for a positive one).
fn unconstrained(name: &str) -> Vec<f64> {
    match with_param_store(|s| s.unconstrained(name).cloned()) {
        Some(Value::Real(x)) => vec![x],
        Some(Value::Reals(v)) => v,
        other => panic!("parameter {name}: {other:?}"),
    }
}

/// Fits `guide` to `model` in two phases: `burn` steps of Adam (step 0.02) to reach the optimum,
/// then `2 window` steps of plain SGD at step `eta`, recording, over the last `window`, the
/// unconstrained coordinates of `names` after every step. Returns each one's time
/// average and its Monte Carlo standard error ([`batch_means`]): at a constant step, SGD's
/// iterates form a stationary, autocorrelated series around the optimum, as an MCMC chain
/// around its mean, and their average converges to the optimum up to a bias of order `eta`
/// where the gradient is not linear in the parameter. Each test states how far halving `eta`
/// moved the averages (measured when the tests were written): that bounds the bias.
#[allow(clippy::too_many_arguments)]
fn averaged<A: Clone, M, G>(
    model: M,
    guide: G,
    elbo: TraceElbo,
    args: &A,
    burn: usize,
    eta: f64,
    window: usize,
    names: &[&str],
) -> Result<Vec<(f64, f64)>, InferError>
where
    M: pyro_infer::poutine::Model<A> + Clone,
    G: pyro_infer::poutine::Model<A> + Clone,
{
    let mut adam = Svi::new(model.clone(), guide.clone(), Adam::new(0.02)?, elbo.clone()).seed(7);
    adam.run(args, burn)?;
    let mut svi = Svi::new(model, guide, Sgd::new(eta)?, elbo).seed(8);
    // As many SGD steps again as are recorded, unrecorded, for Adam's last jitter to decay.
    svi.run(args, window)?;
    // One series per coordinate, the parameters' in turn.
    let mut series: Vec<Vec<f64>> = Vec::new();
    for _ in 0..window {
        svi.step(args)?;
        let coords = names.iter().flat_map(|name| unconstrained(name));
        for (i, x) in coords.enumerate() {
            if i == series.len() {
                series.push(Vec::with_capacity(window));
            }
            series[i].push(x);
        }
    }
    Ok(series.iter().map(|xs| batch_means(xs)).collect())
}

/// The mean of a stationary, autocorrelated series and its Monte Carlo standard error by batch
/// means: the standard error of the means of 10 equal batches, which are nearly independent when
/// a batch is several times longer than the series' correlation time (each test's window makes
/// it so: at least 5 relaxation times `1 / (eta c)` of the loss's curvature `c` per batch).
fn batch_means(xs: &[f64]) -> (f64, f64) {
    let size = xs.len() / 10;
    let means: Vec<f64> = xs
        .chunks_exact(size)
        .map(|b| b.iter().sum::<f64>() / size as f64)
        .collect();
    mean_and_se(&means)
}

/// M1 of `../shared/BENCH.md`: weight ~ N(8.5, 1), measurement ~ N(weight, 0.75) at 9.5.
fn scale_model(measurement: f64) -> Result<(), PyroError> {
    let weight = sample("weight", Normal::new(8.5, 1.0))?;
    observe("measurement", Normal::new(weight, 0.75), measurement)?;
    Ok(())
}

/// The Gaussian guide N(loc, scale) of M1, its parameters named with `prefix`.
fn scale_guide(prefix: &'static str) -> impl Fn(f64) -> Result<(), PyroError> + Clone {
    move |_| {
        let loc = param(format!("{prefix}_loc"), Real::from(8.0), Constraint::Real)?;
        let scale = param(
            format!("{prefix}_scale"),
            Real::from(0.9),
            Constraint::Positive,
        )?;
        sample("weight", Normal::new(loc, scale))?;
        Ok(())
    }
}

/// M1's exact ELBO at the guide N(m, s) and its gradient with respect to (m, ln s):
/// `E_q[ln N(z | 8.5, 1)] + E_q[ln N(9.5 | z, 0.75)] + H(q)`, each expectation in closed form
/// (`E_q[(z - c)^2] = (m - c)^2 + s^2`).
fn scale_elbo(m: f64, s: f64) -> (f64, [f64; 2]) {
    let (mu0, s0, x, sx): (f64, f64, f64, f64) = (8.5, 1.0, 9.5, 0.75);
    let elbo = -(s0 * s0).ln() / 2.0
        - LN_SQRT_2PI
        - ((m - mu0).powi(2) + s * s) / (2.0 * s0 * s0)
        - (sx * sx).ln() / 2.0
        - LN_SQRT_2PI
        - ((x - m).powi(2) + s * s) / (2.0 * sx * sx)
        + s.ln()
        + 0.5
        + LN_SQRT_2PI;
    let d_m = -(m - mu0) / (s0 * s0) + (x - m) / (sx * sx);
    let d_s = -s / (s0 * s0) - s / (sx * sx) + 1.0 / s;
    (elbo, [d_m, s * d_s])
}

/// The mean of 2000 ELBO estimates of `svi` on M1, whose guide is N(loc, scale), against the
/// exact log evidence -1.46208: within 4.5 standard errors plus the ELBO's shortfall at that
/// guide, which the closed form gives (at the exact posterior, `ln p(x, z) - ln q(z)` is the log
/// evidence for every `z`).
fn assert_elbo_at_log_evidence<M, G>(
    svi: &mut Svi<M, G, Sgd>,
    loc: f64,
    scale: f64,
) -> Result<(), InferError>
where
    M: pyro_infer::poutine::Model<f64>,
    G: pyro_infer::poutine::Model<f64>,
{
    let log_evidence = -0.5 * (2.0 * std::f64::consts::PI * 1.5625).ln() - 0.5 / 1.5625;
    assert!((log_evidence + 1.46208).abs() < 1e-5);
    let estimates: Vec<f64> = (0..2000)
        .map(|_| svi.evaluate_loss(&9.5).map(|l| -l))
        .collect::<Result<_, _>>()?;
    let (mean, se) = mean_and_se(&estimates);
    let shortfall = log_evidence - scale_elbo(loc, scale).0;
    assert!(shortfall >= 0.0);
    assert!(
        (mean - log_evidence).abs() < 4.5 * se + shortfall + 1e-12,
        "ELBO {mean} (SE {se}), log evidence {log_evidence}, shortfall {shortfall}"
    );
    Ok(())
}

/// The ELBO's loss and gradient estimates are unbiased: over 4000 one-particle estimates at a
/// guide away from the optimum, the mean loss and gradient are within 4.5 standard errors (the
/// estimates' sample standard deviation over sqrt(4000)) of the closed forms' negatives. A test
/// at 4.5 SE fails by chance with probability below 1e-5 per quantity; a wrong sign, a missing
/// entropy term or a missing log-Jacobian moves the mean by many SE.
#[test]
fn elbo_estimates_are_unbiased_for_m1() -> Result<(), InferError> {
    let guide = scale_guide("unbiased");
    let mut rng = PyroRng::seed_from_u64(1);
    let mut elbo = TraceElbo::new();
    let (mut losses, mut g_loc, mut g_scale) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..4000 {
        let e = elbo.loss_and_grads(&scale_model, &guide, &9.5, &mut rng)?;
        assert_eq!(e.grads[0].0, "unbiased_loc");
        assert_eq!(e.grads[1].0, "unbiased_scale");
        losses.push(e.loss);
        g_loc.push(e.grads[0].1[0]);
        g_scale.push(e.grads[1].1[0]);
    }
    let (exact, grad) = scale_elbo(8.0, 0.9);
    for (name, xs, want) in [
        ("loss", &losses, -exact),
        ("d/dloc", &g_loc, -grad[0]),
        ("d/dln scale", &g_scale, -grad[1]),
    ] {
        let (mean, se) = mean_and_se(xs);
        assert!(
            (mean - want).abs() < 4.5 * se,
            "{name}: mean {mean} (SE {se}), exact {want}"
        );
    }
    Ok(())
}

/// SVI reaches M1's exact posterior N(9.14, 0.6) and its ELBO the exact log evidence.
///
/// The guide family contains the posterior, so the optimum is exact: (loc, ln scale) =
/// (9.14, ln 0.6). SGD at step 0.02 with 16 particles (the loss's curvature is 2.78 in loc and 2
/// in ln scale: relaxation times of 18 and 25 steps, so a batch of 200 steps is 8 of them), 2000
/// iterates averaged; each average is within 4.5 Monte Carlo standard errors of the optimum
/// (halving the step moved the averages by 0.05 and 0.12 standard errors).
///
/// At the exact posterior, `ln p(x, z) - ln q(z)` equals the log evidence for every `z`; near
/// it the estimate's spread shrinks with the distance. The mean of 2000 estimates at the fit is
/// compared with -1.46208 within 4.5 standard errors plus the ELBO's shortfall at the fitted
/// guide, which the closed form gives.
#[test]
fn svi_fits_m1_exactly() -> Result<(), InferError> {
    let elbo = TraceElbo::new().num_particles(16)?;
    let (model, guide) = (scale_model, scale_guide("fit"));
    let fit = averaged(
        model,
        guide.clone(),
        elbo,
        &9.5,
        1000,
        0.02,
        2000,
        &["fit_loc", "fit_scale"],
    )?;
    let mut svi = Svi::new(model, guide, Sgd::new(0.02)?, TraceElbo::new()).seed(3);
    for ((mean, mcse), exact) in fit.iter().zip([9.14, 0.6_f64.ln()]) {
        assert!(
            (mean - exact).abs() < 4.5 * mcse,
            "{mean} (MCSE {mcse}) vs {exact}"
        );
    }
    assert_elbo_at_log_evidence(&mut svi, real("fit_loc"), real("fit_scale"))
}

/// A discrete latent: z ~ Bernoulli(0.4), x ~ N(z ? 2 : -2, 1) at x = 1, with the guide
/// Bernoulli(sigmoid(theta)). Its ELBO has no reparameterised path: the gradient is the
/// score-function estimate (with the baseline).
fn mixture_model(x: f64) -> Result<(), PyroError> {
    let z = sample("z", Bernoulli::new(0.4))?;
    observe("x", Normal::new(if z { 2.0 } else { -2.0 }, 1.0), x)?;
    Ok(())
}

fn mixture_guide(prefix: &'static str) -> impl Fn(f64) -> Result<(), PyroError> + Clone {
    move |_| {
        let theta = param(format!("{prefix}_theta"), Real::from(0.0), Constraint::Real)?;
        sample("z", Bernoulli::from_logits(theta))?;
        Ok(())
    }
}

/// The mixture's exact ELBO at theta: the sum over z of q(z) (ln p(1, z) - ln q(z)).
fn mixture_elbo(theta: f64) -> f64 {
    let q1 = 1.0 / (1.0 + (-theta).exp());
    let ln_p = |z: bool| {
        let (prior, mean) = if z { (0.4_f64, 2.0) } else { (0.6, -2.0) };
        prior.ln() - 0.5 * (1.0_f64 - mean).powi(2) - LN_SQRT_2PI
    };
    q1 * (ln_p(true) - q1.ln()) + (1.0 - q1) * (ln_p(false) - (1.0 - q1).ln())
}

/// The score-function gradient is unbiased: the mean of 20,000 one-particle estimates at
/// theta = 0.3 is within 4.5 standard errors of the central finite difference of the exact
/// ELBO (step 1e-5: truncation error about 1e-11, rounding about 1e-11, both far below the
/// standard error, about 5e-3). The baseline makes later estimates depend on earlier ones only
/// through a constant, so their mean stays unbiased.
#[test]
fn the_score_function_gradient_is_unbiased() -> Result<(), InferError> {
    with_param_store(|s| {
        s.get_or_init(
            Name::from("score_theta"),
            Value::Real(0.3),
            Constraint::Real,
        )
    })?;
    let guide = mixture_guide("score");
    let mut elbo = TraceElbo::new();
    let mut rng = PyroRng::seed_from_u64(5);
    let grads: Vec<f64> = (0..20_000)
        .map(|_| {
            elbo.loss_and_grads(&mixture_model, &guide, &1.0, &mut rng)
                .map(|e| e.grads[0].1[0])
        })
        .collect::<Result<_, _>>()?;
    let h = 1e-5;
    let fd = (mixture_elbo(0.3 + h) - mixture_elbo(0.3 - h)) / (2.0 * h);
    let (mean, se) = mean_and_se(&grads);
    // The loss's gradient is the ELBO's negated.
    assert!(
        (mean + fd).abs() < 4.5 * se,
        "mean {mean} (SE {se}), exact {}",
        -fd
    );
    Ok(())
}

/// SVI on the mixture at x = 0.5 reaches the exact posterior P(z = 1 | x) = 0.83: theta = its
/// logit. SGD at step 0.05 with 16 particles (the loss's curvature in theta is q (1 - q) =
/// 0.14 at the optimum: a relaxation time of 143 steps, 5.6 of them per batch of 800), 8000
/// iterates averaged, within 4.5 Monte Carlo standard errors (see `averaged`; halving the step
/// moved the average by 0.06 standard errors). Without the score-function term theta would not
/// move from 0.
#[test]
fn svi_with_a_discrete_latent_converges() -> Result<(), InferError> {
    let elbo = TraceElbo::new().num_particles(16)?;
    let guide = mixture_guide("mix");
    let fit = averaged(
        mixture_model,
        guide,
        elbo,
        &0.5,
        2000,
        0.05,
        8000,
        &["mix_theta"],
    )?;
    let joint = |prior: f64, mean: f64| prior * (-0.5 * (0.5_f64 - mean).powi(2)).exp();
    let exact = joint(0.4, 2.0) / (joint(0.4, 2.0) + joint(0.6, -2.0));
    let logit = (exact / (1.0 - exact)).ln();
    let (mean, mcse) = fit[0];
    assert!(
        (mean - logit).abs() < 4.5 * mcse,
        "{mean} (MCSE {mcse}) vs {logit}"
    );
    Ok(())
}

/// M3 of `../shared/BENCH.md` with a hand-written Beta guide (positive parameters): the fit is
/// the exact posterior Beta(70, 50), the model's 100 flips as one vectorised site. Beta draws
/// are reparameterised (implicit gradients). SGD at step 0.01 with 8 particles on (ln alpha,
/// ln beta) (the loss's curvature along the concentration is about 1/2: a relaxation time of
/// 200 steps, 5 per batch of 1000), 10,000 iterates averaged, each within 4.5 Monte Carlo
/// standard errors of (ln 70, ln 50) (see `averaged`; halving the step moved the averages by
/// 0.05 standard errors).
#[test]
fn svi_fits_the_coin_with_a_beta_guide() -> Result<(), InferError> {
    let flips: Vec<bool> = (0..100).map(|i| i < 60).collect();
    let model = |flips: Vec<bool>| -> Result<(), PyroError> {
        let p = sample("p", Beta::new(10.0, 10.0))?;
        Plate::new("flips", flips.len()).run(|_| {
            observe(
                "x",
                Batched::iid(Bernoulli::new(p)?, flips.len()),
                flips.clone(),
            )?;
            Ok(())
        })
    };
    let guide = |_: Vec<bool>| -> Result<(), PyroError> {
        let a = param("coin_alpha", Real::from(15.0), Constraint::Positive)?;
        let b = param("coin_beta", Real::from(15.0), Constraint::Positive)?;
        sample("p", Beta::new(a, b))?;
        Ok(())
    };
    let elbo = TraceElbo::new().num_particles(8)?;
    let names = ["coin_alpha", "coin_beta"];
    let fit = averaged(model, guide, elbo, &flips, 3000, 0.01, 10_000, &names)?;
    for ((mean, mcse), exact) in fit.iter().zip([70.0_f64.ln(), 50.0_f64.ln()]) {
        assert!(
            (mean - exact).abs() < 4.5 * mcse,
            "{mean} (MCSE {mcse}) vs {exact}"
        );
    }
    Ok(())
}

/// Minibatch SVI through a subsampled plate reaches the full-batch answer: mu ~ N(0, 10),
/// x_i ~ N(mu, 1) for 100 points, 20 per step. The exact posterior is N(m*, s*) with precision
/// 1/100 + 100; the plate's scale (100/20) makes each step's gradient unbiased. SGD at step
/// 5e-3 (the loss's curvature is 100 in the location, 2 in ln scale: relaxation times of 2 and
/// 100 steps, 5 per batch of 500), 5000 iterates averaged, each within 4.5 Monte Carlo standard
/// errors of (m*, ln s*) (see `averaged`; halving the step moved the averages by 0.03 and 0.2
/// standard errors).
#[test]
fn minibatch_svi_reaches_the_full_batch_answer() -> Result<(), InferError> {
    let data: Vec<f64> = (0..100).map(|i| ((i * 37) % 100) as f64 / 50.0).collect();
    let model = |data: Vec<f64>| -> Result<(), PyroError> {
        let mu = sample("mu", Normal::new(0.0, 10.0))?;
        Plate::new("data", data.len())
            .subsample_size(20)
            .run(|idx| {
                let batch: Vec<f64> = idx.iter().map(|i| data[i]).collect();
                observe("x", Batched::iid(Normal::new(mu, 1.0)?, batch.len()), batch)?;
                Ok(())
            })
    };
    let guide = |data: Vec<f64>| -> Result<(), PyroError> {
        let m = param("mini_loc", Real::from(0.0), Constraint::Real)?;
        let s = param("mini_scale", Real::from(1.0), Constraint::Positive)?;
        sample("mu", Normal::new(m, s))?;
        Plate::new("data", data.len())
            .subsample_size(20)
            .run(|_| Ok(()))
    };
    let names = ["mini_loc", "mini_scale"];
    let fit = averaged(
        model,
        guide,
        TraceElbo::new(),
        &data,
        3000,
        5e-3,
        5000,
        &names,
    )?;
    let precision = 1.0 / 100.0 + 100.0;
    let exact = [data.iter().sum::<f64>() / precision, -0.5 * precision.ln()];
    for ((mean, mcse), exact) in fit.iter().zip(exact) {
        assert!(
            (mean - exact).abs() < 4.5 * mcse,
            "{mean} (MCSE {mcse}) vs {exact}"
        );
    }
    Ok(())
}

#[test]
fn the_same_seed_gives_the_same_fit() -> Result<(), InferError> {
    let fit = |prefix: &'static str| -> Result<(Vec<f64>, f64, f64), InferError> {
        let mut svi = Svi::new(
            scale_model,
            scale_guide(prefix),
            Adam::new(0.05)?,
            TraceElbo::new(),
        )
        .seed(9);
        let losses = svi.run(&9.5, 100)?.to_vec();
        Ok((
            losses,
            real(&format!("{prefix}_loc")),
            real(&format!("{prefix}_scale")),
        ))
    };
    assert_eq!(fit("same_a")?, fit("same_b")?);
    Ok(())
}

#[test]
fn a_fitted_guide_survives_save_and_load() -> Result<(), InferError> {
    let mut svi = Svi::new(
        scale_model,
        scale_guide("saved"),
        Adam::new(0.05)?,
        TraceElbo::new(),
    )
    .seed(1);
    svi.run(&9.5, 50)?;
    let json = with_param_store(|s| s.save());
    let (loc, scale) = (real("saved_loc"), real("saved_scale"));
    with_param_store(|s| {
        s.remove("saved_loc");
        s.remove("saved_scale");
    });
    let mut loaded = pyro_infer::poutine::ParamStore::new();
    loaded.load(&json)?;
    assert_eq!(loaded.get("saved_loc"), Some(Value::Real(loc)));
    assert_eq!(loaded.get("saved_scale"), Some(Value::Real(scale)));
    Ok(())
}

#[test]
fn sites_missing_on_one_side_are_errors_naming_them() -> Result<(), InferError> {
    let empty_guide = |_: f64| -> Result<(), PyroError> { Ok(()) };
    let err = TraceElbo::new()
        .loss_and_grads(
            &scale_model,
            &empty_guide,
            &9.5,
            &mut PyroRng::seed_from_u64(0),
        )
        .unwrap_err();
    assert!(err.to_string().contains("weight"), "{err}");
    assert!(err.to_string().contains("guide does not"), "{err}");
    let extra_guide = |x: f64| -> Result<(), PyroError> {
        scale_guide("extra")(x)?;
        sample("stray", Normal::new(0.0, 1.0))?;
        Ok(())
    };
    let err = TraceElbo::new()
        .loss_and_grads(
            &scale_model,
            &extra_guide,
            &9.5,
            &mut PyroRng::seed_from_u64(0),
        )
        .unwrap_err();
    assert!(err.to_string().contains("stray"), "{err}");
    // Marked auxiliary, it is the guide's own.
    let auxiliary_guide = |x: f64| -> Result<(), PyroError> {
        scale_guide("extra")(x)?;
        site("stray")
            .infer("is_auxiliary", true)
            .sample(Normal::new(0.0, 1.0))?;
        Ok(())
    };
    TraceElbo::new().loss_and_grads(
        &scale_model,
        &auxiliary_guide,
        &9.5,
        &mut PyroRng::seed_from_u64(0),
    )?;
    assert!(TraceElbo::new().num_particles(0).is_err());
    Ok(())
}

/// AutoNormal on M1 is the Gaussian guide of `svi_fits_m1_exactly` with Pyro's initialisation
/// (location 0, scale 0.1): the same exact optimum, reached from farther, the same averaging
/// and the same check of the ELBO against the log evidence (see there for the tolerances), and
/// its median and quantiles from the fit.
#[test]
fn autonormal_fits_m1_exactly() -> Result<(), InferError> {
    let guide = AutoNormal::new(&scale_model, &9.5, &mut PyroRng::seed_from_u64(0))?;
    let elbo = TraceElbo::new().num_particles(16)?;
    let names = ["AutoNormal.locs.weight", "AutoNormal.scales.weight"];
    let fit = averaged(
        scale_model,
        guide.clone(),
        elbo,
        &9.5,
        2000,
        0.02,
        2000,
        &names,
    )?;
    for ((mean, mcse), exact) in fit.iter().zip([9.14, 0.6_f64.ln()]) {
        assert!(
            (mean - exact).abs() < 4.5 * mcse,
            "{mean} (MCSE {mcse}) vs {exact}"
        );
    }
    // The median is the location; the 0.8413-quantile one scale above it.
    let median = guide.median()?;
    assert_eq!(median[0].0, Name::from("weight"));
    let loc = unconstrained(names[0])[0];
    assert_eq!(median[0].1, Value::Real(loc));
    let Value::Real(upper) = guide.quantile(0.841_344_746_068_542_9)?[0].1 else {
        unreachable!()
    };
    let scale = unconstrained(names[1])[0].exp();
    assert!((upper - (loc + scale)).abs() < 1e-12);
    assert!(guide.quantile(1.0).is_err());
    // The ELBO at the fit against the exact log evidence, as in `svi_fits_m1_exactly`.
    let mut svi = Svi::new(scale_model, guide, Sgd::new(0.02)?, TraceElbo::new()).seed(3);
    assert_elbo_at_log_evidence(&mut svi, loc, scale)
}

/// A positive latent and a vector latent: theta_j ~ N(0, 1), y_j ~ N(theta_j, sigma) with
/// sigma ~ LogNormal(0, 0.1), and a data point per school. AutoNormal maps its draws into each
/// support (the positive one through exp, with the log-Jacobian). Its fit is mean-field, so it
/// has no closed form, but bounds: three data points barely move ln sigma from its prior (sd
/// 0.1), so the fit's ln sigma is within 3 prior sds, |ln sigma| < 0.3; the fit's theta_j
/// location then solves loc_j = y_j c / (1 + c) with c = E_q[sigma^-2] in [e^-0.6, e^0.6], so
/// |loc_j - y_j / 2| <= 0.146 y_j. The learning rate ends at 0.002, where Adam's jitter (a few
/// times the rate per coordinate) adds at most 0.01. The quantiles are ordered, and
/// `Predictive` draws from the fitted guide.
#[test]
fn autonormal_takes_positive_and_vector_latents() -> Result<(), InferError> {
    let ys = vec![1.0, 2.0, 3.0];
    let model = |ys: Vec<f64>| -> Result<(), PyroError> {
        let sigma = sample("an_sigma", LogNormal::new(0.0, 0.1))?;
        Plate::new("schools", ys.len()).run(|_| {
            let theta = sample("an_theta", Batched::iid(Normal::new(0.0, 1.0)?, ys.len()))?;
            observe("an_y", Normal::batch(theta, sigma), ys.clone())?;
            Ok(())
        })
    };
    let guide = AutoNormal::new(&model, &ys, &mut PyroRng::seed_from_u64(0))?;
    let adam = Adam::new(0.02)?.schedule(Schedule::Step {
        step_size: 1,
        gamma: 0.1,
    })?;
    let mut svi = Svi::new(model, guide, adam, TraceElbo::new().num_particles(8)?).seed(5);
    svi.run(&ys, 2000)?;
    svi.optimizer_mut().advance_schedule();
    svi.run(&ys, 1000)?;
    let median = svi.guide().median()?;
    let Value::Real(sigma) = median[0].1 else {
        unreachable!()
    };
    assert!(sigma.ln().abs() < 0.3 + 0.01, "{sigma}");
    let Value::Reals(theta) = &median[1].1 else {
        unreachable!()
    };
    for (t, y) in theta.iter().zip(&ys) {
        assert!((t - y / 2.0).abs() < 0.146 * y + 0.01, "{theta:?}");
    }
    let (Value::Reals(low), Value::Reals(high)) = (
        &svi.guide().quantile(0.1)?[1].1,
        &svi.guide().quantile(0.9)?[1].1,
    ) else {
        unreachable!()
    };
    assert!(
        low.iter()
            .zip(theta)
            .zip(high)
            .all(|((l, m), h)| l < m && m < h)
    );
    let guide = svi.guide().clone();
    let draws = pyro_infer::Predictive::from_guide(model, guide, 200)
        .seed(3)
        .run(ys.clone())?;
    let sigmas = draws.reals(&Name::from("an_sigma"))?;
    assert!(sigmas.iter().all(|&s| s > 0.0));
    Ok(())
}

/// AutoDelta finds the MAP: z ~ Gamma(3, 1), x ~ Poisson(z) at x = 4 has the posterior
/// Gamma(7, 2), whose mode is 3. The guide has no randomness, so the loss and its gradient are
/// exact and the fit converges deterministically; 1e-3 is Adam's residual jitter at its final
/// learning rate 1e-3 (it moves a coordinate by at most about the rate per step).
#[test]
fn autodelta_finds_the_map() -> Result<(), InferError> {
    let model = |x: i64| -> Result<(), PyroError> {
        let z = sample("ad_z", Gamma::new(3.0, 1.0))?;
        observe("ad_x", Poisson::new(z), x)?;
        Ok(())
    };
    let guide = AutoDelta::new(&model, &4, &mut PyroRng::seed_from_u64(0))?;
    let adam = Adam::new(0.05)?.schedule(Schedule::Step {
        step_size: 1,
        gamma: 0.02,
    })?;
    let mut svi = Svi::new(model, guide, adam, TraceElbo::new());
    svi.run(&4, 2000)?;
    svi.optimizer_mut().advance_schedule();
    svi.run(&4, 1000)?;
    let Value::Real(z) = svi.guide().median()?[0].1 else {
        unreachable!()
    };
    assert!((z - 3.0).abs() < 1e-3, "{z}");
    // Its quantiles are the point, and so are its draws for Predictive.
    assert_eq!(svi.guide().quantile(0.9)?[0].1, Value::Real(z));
    let draws = pyro_infer::Predictive::from_guide(model, svi.guide().clone(), 20).run(4)?;
    assert!(draws.reals(&Name::from("ad_z"))?.iter().all(|&d| d == z));
    Ok(())
}

/// M2 of `../shared/BENCH.md` (one site per observation).
fn linreg(data: (Vec<f64>, Vec<f64>)) -> Result<(), PyroError> {
    let a = sample("a", Normal::new(0.0, 10.0))?;
    let b = sample("b", Normal::new(0.0, 10.0))?;
    let sigma = sample("sigma", HalfNormal::new(1.0))?;
    for (i, (x, y)) in data.0.iter().zip(&data.1).enumerate() {
        observe(
            Name::indexed("y", i as u64),
            Normal::new(a + b * *x, sigma),
            *y,
        )?;
    }
    Ok(())
}

/// M2 with `AutoMultivariateNormal` (a normal over (a, b, ln sigma)): the fitted guide's means
/// of a, b and sigma against the exact posterior means (1.00435, 2.07307, 0.49115), and its
/// ELBO below the exact log evidence (-80.8517).
///
/// The tolerance: the posterior is not normal in (a, b, ln sigma), so the best normal guide's
/// means differ from the exact ones. With n = 100 observations the posterior's skewness is of
/// order 1/sqrt(n), and the mean of the best normal approximation is off by about a tenth of a
/// posterior standard deviation (Bernstein-von Mises: the posterior is normal up to O(1/sqrt(n))
/// relative terms). The posterior standard deviations, from the regression's design
/// (`sigma sqrt(diag((X^T X)^-1))` and `sigma / sqrt(2 (n - 2))`), are 0.097 (a), 0.170 (b) and
/// 0.035 (sigma): the tolerances are a tenth of those, plus 4.5 Monte Carlo standard errors of
/// the averaged SGD iterates (`averaged`; step 1e-3, below 2 over the loss's largest curvature,
/// about n / sigma^2 = 416). A wrong gradient (a missing log-Jacobian or `ln |det L|`) moves the
/// fit by several standard deviations.
#[test]
fn automultivariatenormal_fits_m2() -> Result<(), InferError> {
    let data = m2::linreg_data();
    let guide = AutoMultivariateNormal::new(&linreg, &data, &mut PyroRng::seed_from_u64(0))?;
    let names = ["AutoMultivariateNormal.loc"];
    let fit = averaged(
        linreg,
        guide.clone(),
        TraceElbo::new(),
        &data,
        3000,
        1e-3,
        5000,
        &names,
    )?;
    let (loc_a, loc_b, loc_s) = (fit[0], fit[1], fit[2]);
    // The guide's mean of sigma = e^z for z ~ N(loc, var): e^(loc + var / 2), with var the last
    // diagonal entry of L L^T at the end of the run.
    let diag = unconstrained("AutoMultivariateNormal.scale_tril_diag");
    let lower = unconstrained("AutoMultivariateNormal.scale_tril_lower");
    let var_s = lower[1].powi(2) + lower[2].powi(2) + diag[2].exp().powi(2);
    let mean_sigma = (loc_s.0 + var_s / 2.0).exp();
    let mcse_sigma = mean_sigma * loc_s.1;
    for (name, got, mcse, exact, sd) in [
        ("a", loc_a.0, loc_a.1, 1.00435, 0.097),
        ("b", loc_b.0, loc_b.1, 2.07307, 0.170),
        ("sigma", mean_sigma, mcse_sigma, 0.49115, 0.035),
    ] {
        assert!(
            (got - exact).abs() < 0.1 * sd + 4.5 * mcse,
            "{name}: {got} (MCSE {mcse}) vs {exact}"
        );
    }
    // Draws for Predictive: sigma stays positive, and the draws spread as the guide does.
    let draws = pyro_infer::Predictive::from_guide(linreg, guide.clone(), 200)
        .seed(4)
        .run(data.clone())?;
    assert!(draws.reals(&Name::from("sigma"))?.iter().all(|&s| s > 0.0));
    let mut svi = Svi::new(linreg, guide, Sgd::new(1e-3)?, TraceElbo::new()).seed(2);
    let elbo: Vec<f64> = (0..2000)
        .map(|_| svi.evaluate_loss(&data).map(|l| -l))
        .collect::<Result<_, _>>()?;
    let (mean, se) = mean_and_se(&elbo);
    assert!(mean < -80.8517 + 4.5 * se, "ELBO {mean} (SE {se})");
    assert!(
        mean > -80.8517 - 1.0,
        "ELBO {mean}: far below the log evidence"
    );
    Ok(())
}

/// `TraceElbo::mean_field` (Pyro's `TraceMeanField_ELBO`) on M1 with the Gaussian guide: the
/// prior's term is the closed-form KL, so the estimates are unbiased for the same closed-form
/// ELBO and gradient (4000 one-particle estimates, 4.5 standard errors, as in
/// `elbo_estimates_are_unbiased_for_m1`), with a smaller variance than the sampled estimator's
/// (the KL replaces the noisiest term; over 4000 estimates each, a smaller sample variance).
#[test]
fn the_mean_field_elbo_is_unbiased_and_less_noisy() -> Result<(), InferError> {
    let guide = scale_guide("meanfield");
    let (exact, grad) = scale_elbo(8.0, 0.9);
    let mut spreads = Vec::new();
    for mut elbo in [TraceElbo::mean_field(), TraceElbo::new()] {
        let mut rng = PyroRng::seed_from_u64(1);
        let (mut losses, mut g_loc, mut g_scale) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..4000 {
            let e = elbo.loss_and_grads(&scale_model, &guide, &9.5, &mut rng)?;
            losses.push(e.loss);
            g_loc.push(e.grads[0].1[0]);
            g_scale.push(e.grads[1].1[0]);
        }
        for (name, xs, want) in [
            ("loss", &losses, -exact),
            ("d/dloc", &g_loc, -grad[0]),
            ("d/dln scale", &g_scale, -grad[1]),
        ] {
            let (mean, se) = mean_and_se(xs);
            assert!(
                (mean - want).abs() < 4.5 * se,
                "{name}: mean {mean} (SE {se}), exact {want}"
            );
        }
        spreads.push(mean_and_se(&losses).1);
    }
    assert!(spreads[0] < spreads[1], "{spreads:?}");
    Ok(())
}

/// A model with latent sites of three supports, a plate with a vectorised observation and
/// observations one by one: the sites the ELBO's model run takes directly.
fn direct_model(data: &(Vec<f64>, Vec<f64>)) -> Result<(), PyroError> {
    let a = sample("a", Normal::new(0.0, 10.0))?;
    let b = sample("b", Normal::new(0.0, 10.0))?;
    let sigma = sample("sigma", HalfNormal::new(1.0))?;
    let (xs, ys) = data;
    Plate::new("data", 50)
        .run(|_| observe("y", Normal::batch(a + b * &xs[..50], sigma), &ys[..50]))?;
    for i in 50..xs.len() {
        observe(
            Name::indexed("y", i as u64),
            Normal::new(a + b * xs[i], sigma),
            ys[i],
        )?;
    }
    Ok(())
}

/// The ELBO estimate of [`direct_model`] at `data` with `guide`, from seed 3, with the model's
/// sites taken directly and as messages (under `scale(.., 1)`, which changes nothing but puts a
/// handler inside the ELBO's).
fn direct_and_messages<'a, G>(
    elbo: &mut TraceElbo,
    guide: &G,
    data: &'a (Vec<f64>, Vec<f64>),
) -> Result<(ElboEstimate, ElboEstimate), InferError>
where
    G: Model<&'a (Vec<f64>, Vec<f64>)>,
{
    let as_messages = pyro_infer::poutine::scale(direct_model, 1.0)?;
    let direct =
        elbo.loss_and_grads(&direct_model, guide, &data, &mut PyroRng::seed_from_u64(3))?;
    let messages =
        elbo.loss_and_grads(&as_messages, guide, &data, &mut PyroRng::seed_from_u64(3))?;
    Ok((direct, messages))
}

#[test]
fn the_model_taken_directly_gives_what_messages_give() -> Result<(), InferError> {
    // The model's run takes its sites directly when the ELBO's handler is the innermost one.
    // Both paths must give the same estimate, bit for bit, with and without the closed-form KL.
    let data = m2::linreg_data();
    let auto = AutoNormal::new(&direct_model, &&data, &mut PyroRng::seed_from_u64(0))?;
    // Normal guide sites for the normal priors, whose KL the mean-field ELBO takes in closed
    // form (AutoNormal's point masses have none).
    let normal_guide = |_: &(Vec<f64>, Vec<f64>)| -> Result<(), PyroError> {
        for name in ["a", "b"] {
            let loc = param(
                format!("direct_{name}_loc"),
                Real::from(1.0),
                Constraint::Real,
            )?;
            let scale = param(
                format!("direct_{name}_scale"),
                Real::from(0.3),
                Constraint::Positive,
            )?;
            sample(name, Normal::new(loc, scale))?;
        }
        let s = param("direct_sigma", Real::from(0.5), Constraint::Positive)?;
        sample("sigma", LogNormal::new(s.ln(), 0.1))?;
        Ok(())
    };
    for mut elbo in [TraceElbo::new(), TraceElbo::mean_field()] {
        let (direct, messages) = direct_and_messages(&mut elbo, &auto, &data)?;
        assert_eq!(direct, messages);
        assert_eq!(direct.grads.len(), 6);
        let (direct, messages) = direct_and_messages(&mut elbo, &normal_guide, &data)?;
        assert_eq!(direct, messages);
        assert_eq!(direct.grads.len(), 5);
    }
    Ok(())
}
