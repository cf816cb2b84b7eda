//! Bayesian linear regression (the benchmark model M2): `a, b ~ Normal(0, 10)`,
//! `sigma ~ HalfNormal(1)`, `y_i ~ Normal(a + b x_i, sigma)` for `x_i = i / 100`, `i < 100`, with
//! `y_i = 1 + 2 x_i + 0.5 eps_i` (`eps_i` from `benches/data/linreg_eps.txt`). The 100
//! observations are one vectorised site, `Normal::batch(a + b * xs, sigma)`, in a plate.
//!
//! Four inference methods on the same model, their posterior means of `a`, `b` and `sigma` beside
//! the exact ones (by quadrature, `shared/BENCH.md`), and their effective sample size per second
//! where that applies: importance sampling (the prior as proposal, then the fitted SVI guide as
//! proposal), trace Metropolis-Hastings, NUTS, and SVI with an `AutoMultivariateNormal` guide.
//! Then the posterior predictive (`Predictive` from the NUTS draws) at new `x` values, and an
//! SVG plot of the data, the posterior mean line and the 90% predictive band, written under the
//! target directory (its path is printed).
//!
//! The Pyro equivalent: the same model with `pyro.plate`, run through `Importance`, `MCMC(NUTS)`
//! and `SVI(model, AutoMultivariateNormal(model), ...)`, then `Predictive(model, samples)`.
//!
//! Run: `cargo run --release -p pyro-examples --bin linreg` (`-- --fast` for a short run).

use plotters::prelude::*;
use pyro_core::distributions::{HalfNormal, Normal, Value};
use pyro_core::infer::{
    AutoMultivariateNormal, ClippedAdam, Importance, Latents, Mcmc, McmcRun, Nuts, Predictive,
    Samples, Svi, TraceElbo, TraceMh,
};
use pyro_core::poutine::{Name, Plate, PyroError, PyroRng, observe, sample};
use pyro_core::rand::SeedableRng;
use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

/// Exact posterior means of M2 (quadrature; `shared/BENCH.md`).
const EXACT: [(&str, f64); 3] = [("a", 1.00435), ("b", 2.07307), ("sigma", 0.49115)];

/// The model's arguments: the inputs, and the outputs when they are observed (`None` draws
/// them, for the posterior predictive at new inputs).
type Args<'a> = (&'a [f64], Option<&'a [f64]>);

/// M2 with the observations as one vectorised site `y` in the plate `data`.
fn linreg((xs, ys): Args<'_>) -> Result<(), PyroError> {
    let a = sample("a", Normal::new(0.0, 10.0))?;
    let b = sample("b", Normal::new(0.0, 10.0))?;
    let sigma = sample("sigma", HalfNormal::new(1.0))?;
    Plate::new("data", xs.len()).run(|_| {
        let y = Normal::batch(a + b * xs, sigma);
        match ys {
            Some(ys) => observe("y", y, ys.to_vec()).map(drop),
            None => sample("y", y).map(drop),
        }
    })
}

/// The data: `x_i = i / 100` and `y_i = 1 + 2 x_i + 0.5 eps_i`.
fn data() -> Result<(Vec<f64>, Vec<f64>), Box<dyn Error>> {
    let eps = include_str!("../../../benches/data/linreg_eps.txt")
        .lines()
        .map(|l| l.trim().parse::<f64>())
        .collect::<Result<Vec<_>, _>>()?;
    let xs: Vec<f64> = (0..eps.len()).map(|i| i as f64 / 100.0).collect();
    let ys = xs
        .iter()
        .zip(&eps)
        .map(|(x, e)| 1.0 + 2.0 * x + 0.5 * e)
        .collect();
    Ok((xs, ys))
}

/// One row of the comparison table.
struct Row {
    method: String,
    means: [f64; 3],
    /// The smallest effective sample size of the three, per second, where it applies.
    ess_per_s: Option<f64>,
    seconds: f64,
}

impl Row {
    fn print(&self) {
        let ess = self
            .ess_per_s
            .map_or_else(|| "-".to_string(), |e| format!("{e:.0}"));
        println!(
            "{:<44} {:>8.4} {:>8.4} {:>8.4} {:>8.3} {:>10}",
            self.method, self.means[0], self.means[1], self.means[2], self.seconds, ess
        );
    }
}

/// The MCMC row: the summary's means, and its smallest bulk ESS over the wall time.
fn mcmc_row(method: &str, run: &McmcRun, seconds: f64) -> Result<Row, Box<dyn Error>> {
    let summary = run.summary();
    let mut means = [0.0; 3];
    let mut ess = f64::INFINITY;
    for (i, (name, _)) in EXACT.iter().enumerate() {
        let row = summary
            .get(name)
            .ok_or_else(|| format!("no summary row for {name}"))?;
        means[i] = row.mean;
        ess = ess.min(row.ess_bulk.unwrap_or(f64::NAN));
    }
    Ok(Row {
        method: method.to_string(),
        means,
        ess_per_s: Some(ess / seconds),
        seconds,
    })
}

/// The means of `a`, `b` and `sigma` over equally weighted draws.
fn sample_means(draws: &Samples) -> Result<[f64; 3], Box<dyn Error>> {
    let mut means = [0.0; 3];
    for (i, (name, _)) in EXACT.iter().enumerate() {
        let xs = draws.reals(&Name::from(*name))?;
        means[i] = xs.iter().sum::<f64>() / xs.len() as f64;
    }
    Ok(means)
}

/// An importance-sampling posterior as a row: its means, and its (Kish) ESS per second.
fn importance_row(
    method: &str,
    posterior: pyro_core::infer::Posterior,
    seconds: f64,
) -> Result<Row, Box<dyn Error>> {
    let marginal = posterior.marginal(["a", "b", "sigma"])?;
    let m = marginal.mean();
    Ok(Row {
        method: format!("{method} (ESS {:.0})", posterior.ess()?),
        means: [m[0], m[1], m[2]],
        ess_per_s: Some(posterior.ess()? / seconds),
        seconds,
    })
}

/// The value's elements, for a vector site.
fn elements(v: Option<&Value>) -> Result<&[f64], Box<dyn Error>> {
    match v {
        Some(Value::Reals(xs)) => Ok(xs),
        other => Err(format!("expected a vector of reals, got {other:?}").into()),
    }
}

/// The `q`-quantile of sorted values (linear interpolation, numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Per input: the predictive mean, and the 5% and 95% quantiles.
type Band = Vec<(f64, f64, f64, f64)>;

/// The SVG of the data, the posterior mean line and the 90% predictive band.
fn plot(path: &PathBuf, xs: &[f64], ys: &[f64], band: &Band) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let lo = band.iter().map(|r| r.2).fold(f64::INFINITY, f64::min) - 0.2;
    let hi = band.iter().map(|r| r.3).fold(f64::NEG_INFINITY, f64::max) + 0.2;
    let x_max = band.last().map_or(1.0, |r| r.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Bayesian linear regression: posterior predictive (NUTS)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(0.0..x_max, lo..hi)?;
    chart.configure_mesh().x_desc("x").y_desc("y").draw()?;
    let outline: Vec<(f64, f64)> = band
        .iter()
        .map(|r| (r.0, r.2))
        .chain(band.iter().rev().map(|r| (r.0, r.3)))
        .collect();
    chart
        .draw_series(std::iter::once(Polygon::new(outline, BLUE.mix(0.2))))?
        .label("90% predictive interval")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], BLUE.mix(0.2).filled()));
    chart
        .draw_series(LineSeries::new(band.iter().map(|r| (r.0, r.1)), &BLUE))?
        .label("posterior mean of a + b x")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLUE));
    chart
        .draw_series(
            xs.iter()
                .zip(ys)
                .map(|(&x, &y)| Circle::new((x, y), 2, BLACK.filled())),
        )?
        .label("data")
        .legend(|(x, y)| Circle::new((x + 7, y), 2, BLACK.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Where the plot goes: `<target>/plots/`, next to the binary's profile directory.
fn plot_path(file: &str) -> Result<PathBuf, Box<dyn Error>> {
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(|profile| profile.parent())
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let dir = target.join("plots");
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join(file))
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let (xs, ys) = data()?;
    let args: Args<'_> = (&xs, Some(&ys));
    let (particles, mh, nuts, svi_steps) = if fast {
        (100_000, (500, 2_000), (300, 500), 1_500)
    } else {
        (2_000_000, (2_000, 20_000), (1_000, 5_000), 5_000)
    };
    let mut rows = Vec::new();

    // Importance sampling with the prior as proposal: the prior is about 10^5 times wider than
    // the posterior in (a, b, sigma), so few particles carry the weight.
    let t = Instant::now();
    let prior_is = Importance::new(linreg, particles)
        .seed(1)
        .keep_sites(["a", "b", "sigma"])
        .run(args)?;
    rows.push(importance_row(
        &format!("importance, prior, {particles}"),
        prior_is,
        t.elapsed().as_secs_f64(),
    )?);

    // Trace MH: single-site random walks, 4 chains in parallel.
    let t = Instant::now();
    let run = Mcmc::new(TraceMh::new(linreg), mh.0, mh.1)
        .num_chains(4)
        .seed(2)
        .run(args)?;
    rows.push(mcmc_row(
        &format!("trace MH, 4 x {}", mh.1),
        &run,
        t.elapsed().as_secs_f64(),
    )?);

    // NUTS on the model's gradient, 4 chains.
    let t = Instant::now();
    let nuts_run = Mcmc::new(Nuts::new(linreg), nuts.0, nuts.1)
        .num_chains(4)
        .seed(3)
        .run(args)?;
    rows.push(mcmc_row(
        &format!("NUTS, 4 x {}", nuts.1),
        &nuts_run,
        t.elapsed().as_secs_f64(),
    )?);
    let divergences: usize = nuts_run.chain_stats().iter().map(|s| s.divergences).sum();

    // SVI: one normal over (a, b, ln sigma), ClippedAdam with a decaying rate (Pyro's `lrd`).
    // Its means come from 10,000 draws of the fitted guide; the best normal in (a, b, ln sigma)
    // is not the posterior, so they differ slightly from the exact ones (skewness ~ 1/sqrt(n)).
    let t = Instant::now();
    let guide = AutoMultivariateNormal::new(&linreg, &args, &mut PyroRng::seed_from_u64(0))?;
    let lrd = 0.01_f64.powf(1.0 / svi_steps as f64);
    let optim = ClippedAdam::new(0.03)?.lrd(lrd)?;
    let mut svi = Svi::new(linreg, guide.clone(), optim, TraceElbo::new()).seed(4);
    let losses = svi.run(&args, svi_steps)?.to_vec();
    let seconds = t.elapsed().as_secs_f64();
    let guide_draws = Predictive::from_guide(linreg, guide.clone(), 10_000)
        .seed(5)
        .return_sites(["a", "b", "sigma"])
        .run(args)?;
    rows.push(Row {
        method: format!("SVI, AutoMultivariateNormal, {svi_steps}"),
        means: sample_means(&guide_draws)?,
        ess_per_s: None,
        seconds,
    });
    let tail = &losses[losses.len() - 100..];
    let final_elbo = -tail.iter().sum::<f64>() / tail.len() as f64;

    // Importance sampling again, the fitted guide as proposal: nearly every particle counts.
    let is_particles = particles / 10;
    let t = Instant::now();
    let guided_is = Importance::new(linreg, is_particles)
        .guide(guide)
        .seed(6)
        .keep_sites(["a", "b", "sigma"])
        .run(args)?;
    let log_evidence = guided_is.log_normalizer()?;
    rows.push(importance_row(
        &format!("importance, SVI guide, {is_particles}"),
        guided_is,
        t.elapsed().as_secs_f64(),
    )?);

    println!("M2 linear regression, 100 points, posterior means");
    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "method", "E[a]", "E[b]", "E[sigma]", "seconds", "min ESS/s"
    );
    for row in &rows {
        row.print();
    }
    println!(
        "{:<44} {:>8.4} {:>8.4} {:>8.4}",
        "exact", EXACT[0].1, EXACT[1].1, EXACT[2].1
    );
    println!(
        "min ESS/s: the smallest bulk ESS of a, b and sigma (MCMC), or the ESS of the importance \
         weights, per second of wall time"
    );
    println!(
        "NUTS: {divergences} divergences; SVI: ELBO {final_elbo:.2} (last 100 steps); log evidence \
         {log_evidence:.3} by the guided importance sampler (exact -80.8517)"
    );
    println!();
    nuts_run.print_summary();

    // The posterior predictive from the NUTS draws at new inputs: for each draw of (a, b,
    // sigma), a fresh y ~ Normal(a + b x, sigma). Its mean at x is E[a] + E[b] x exactly.
    let latents: Vec<Latents> = nuts_run
        .latents()
        .into_iter()
        .map(|l| {
            l.into_iter()
                .filter(|(name, _)| EXACT.iter().any(|(n, _)| name == &Name::from(*n)))
                .collect()
        })
        .collect();
    let grid: Vec<f64> = (0..=40).map(|i| i as f64 / 20.0).collect();
    let draws = Predictive::from_samples(linreg, latents)
        .seed(7)
        .return_sites(["y"])
        .run((&grid[..], None))?;
    let y = Name::from("y");
    let runs = draws
        .values(&y)
        .ok_or("the predictive has no y")?
        .map(elements)
        .collect::<Result<Vec<_>, _>>()?;
    let band: Band = grid
        .iter()
        .enumerate()
        .map(|(j, &x)| {
            let mut at: Vec<f64> = runs.iter().map(|r| r[j]).collect();
            let mean = at.iter().sum::<f64>() / at.len() as f64;
            at.sort_by(f64::total_cmp);
            (x, mean, quantile(&at, 0.05), quantile(&at, 0.95))
        })
        .collect();
    println!(
        "\nposterior predictive of a new y ({} NUTS draws):",
        runs.len()
    );
    for &(x, mean, q5, q95) in band.iter().filter(|r| r.0 == 1.5 || r.0 == 2.0) {
        let exact = EXACT[0].1 + EXACT[1].1 * x;
        println!(
            "  x = {x:.1}: mean {mean:.3} (exact {exact:.3}), 90% interval [{q5:.3}, {q95:.3}]"
        );
    }

    let path = plot_path("linreg.svg")?;
    plot(&path, &xs, &ys, &band)?;
    println!("\nplot: {}", path.display());
    Ok(())
}
