//! A two-component Gaussian mixture with a discrete assignment per data point, sampled by
//! Metropolis-Hastings over execution traces (`TraceMh`): 30 points (15 drawn from
//! Normal(-2, 1), 15 from Normal(2, 1), fixed below), `mu_0, mu_1 ~ Normal(0, 3)` ordered
//! (`mu_0 < mu_1`, a `factor` of `-inf` otherwise, which removes the label switching),
//! `z_i ~ Bernoulli(0.5)` and `y_i ~ Normal(mu_{z_i}, 1)`. The chain moves the continuous means
//! by random walks and the 30 discrete assignments by fresh draws, one site per step.
//!
//! Printed: the posterior of the component means and of a few assignments, beside the exact
//! values (the assignments summed out, a quadrature over (mu_0, mu_1)); an SVG of the data's
//! histogram with the fitted components is written under the target directory.
//!
//! The Pyro equivalent: the same model with `pyro.sample("z_i", dist.Bernoulli(0.5))` per point,
//! run by `MCMC` with a Metropolis-Hastings kernel (Pyro's NUTS would enumerate the `z_i` out;
//! trace MH samples them).
//!
//! Run: `cargo run --release -p pyro-examples --bin mixture` (`-- --fast` for a short run).

use plotters::prelude::*;
use pyro_core::distributions::{Bernoulli, Normal};
use pyro_core::infer::{Mcmc, TraceMh};
use pyro_core::poutine::{Name, PyroError, factor, observe, sample};
use std::error::Error;
use std::path::PathBuf;

/// The data: 15 points from Normal(-2, 1) and 15 from Normal(2, 1), shuffled (Python's
/// `random.seed(7)`, `random.gauss`).
const DATA: [f64; 30] = [
    3.197, 3.718, 1.954, -3.666, -0.963, 2.309, -2.256, 0.309, 1.358, 1.339, -2.930, -2.213,
    -1.494, -1.751, -1.576, -1.605, -1.145, 2.394, 2.499, 2.557, 1.532, -1.489, 1.110, -2.226,
    2.521, 0.256, -2.315, -1.815, -0.888, 2.305,
];
/// The prior scale of the means, and the known scale of the components.
const PRIOR_SD: f64 = 3.0;
const SIGMA: f64 = 1.0;

/// The model: two ordered means, an assignment per point, the point from its component.
fn mixture(data: &[f64]) -> Result<(), PyroError> {
    let mu0 = sample("mu_0", Normal::new(0.0, PRIOR_SD))?;
    let mu1 = sample("mu_1", Normal::new(0.0, PRIOR_SD))?;
    factor("ordered", if mu0 < mu1 { 0.0 } else { f64::NEG_INFINITY })?;
    for (i, y) in data.iter().enumerate() {
        let z = sample(Name::indexed("z", i as u64), Bernoulli::new(0.5))?;
        let mu = if z { mu1 } else { mu0 };
        observe(Name::indexed("y", i as u64), Normal::new(mu, SIGMA), *y)?;
    }
    Ok(())
}

/// `ln N(x | 0, s)` up to a constant.
fn log_normal(x: f64, s: f64) -> f64 {
    -0.5 * (x / s).powi(2)
}

/// The exact posterior by quadrature with the assignments summed out: on a grid over
/// `mu_0 < mu_1`, the density is `N(mu_0 | 0, 3) N(mu_1 | 0, 3) prod_i (N(y_i | mu_0, 1) +
/// N(y_i | mu_1, 1)) / 2`; `P(z_i = 1 | y)` is the posterior mean of point i's responsibility
/// `N(y_i | mu_1, 1) / (N(y_i | mu_0, 1) + N(y_i | mu_1, 1))`. Returns `(E[mu_0], E[mu_1],
/// P(z_i = 1 | y) for each i)`.
fn exact(data: &[f64]) -> (f64, f64, Vec<f64>) {
    let (lo, h, n) = (-8.0, 0.02, 800);
    let grid: Vec<f64> = (0..n).map(|k| lo + h * k as f64).collect();
    let mut points = Vec::new();
    for (j, &m0) in grid.iter().enumerate() {
        for &m1 in &grid[j + 1..] {
            let mut lp = log_normal(m0, PRIOR_SD) + log_normal(m1, PRIOR_SD);
            for y in data {
                let (a, b) = (log_normal(y - m0, SIGMA), log_normal(y - m1, SIGMA));
                let top = a.max(b);
                lp += top + ((a - top).exp() + (b - top).exp()).ln();
            }
            points.push((m0, m1, lp));
        }
    }
    let top = points.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
    let (mut total, mut e0, mut e1) = (0.0, 0.0, 0.0);
    let mut resp = vec![0.0; data.len()];
    for &(m0, m1, lp) in &points {
        let w = (lp - top).exp();
        total += w;
        e0 += w * m0;
        e1 += w * m1;
        for (r, y) in resp.iter_mut().zip(data) {
            let (a, b) = (log_normal(y - m0, SIGMA), log_normal(y - m1, SIGMA));
            *r += w / (1.0 + (a - b).exp());
        }
    }
    resp.iter_mut().for_each(|r| *r /= total);
    (e0 / total, e1 / total, resp)
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

/// The SVG: a histogram of the data, and each fitted component's density (weight 1/2) scaled to
/// counts, with their sum.
fn plot(path: &PathBuf, data: &[f64], means: [f64; 2]) -> Result<(), Box<dyn Error>> {
    let (lo, hi, width) = (-5.0, 5.0, 0.5);
    let bins = ((hi - lo) / width) as usize;
    let mut counts = vec![0u32; bins];
    for y in data {
        let k = ((y - lo) / width).floor();
        if k >= 0.0 && (k as usize) < bins {
            counts[k as usize] += 1;
        }
    }
    let density = |x: f64, m: f64| {
        let count_scale = data.len() as f64 * width;
        count_scale * 0.5 * (-0.5 * ((x - m) / SIGMA).powi(2)).exp()
            / (SIGMA * (2.0 * std::f64::consts::PI).sqrt())
    };
    let y_max = f64::from(counts.iter().copied().max().unwrap_or(1)) + 1.0;
    let root = SVGBackend::new(path, (800, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Two-component mixture: data and fitted components (trace MH)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(40)
        .build_cartesian_2d(lo..hi, 0.0..y_max)?;
    chart.configure_mesh().x_desc("y").y_desc("count").draw()?;
    chart
        .draw_series(counts.iter().enumerate().map(|(k, &c)| {
            let x0 = lo + width * k as f64;
            Rectangle::new(
                [(x0, 0.0), (x0 + width, f64::from(c))],
                BLACK.mix(0.25).filled(),
            )
        }))?
        .label("data")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], BLACK.mix(0.25).filled()));
    let xs: Vec<f64> = (0..=400)
        .map(|k| lo + (hi - lo) * k as f64 / 400.0)
        .collect();
    for (k, (m, color)) in means.iter().zip([BLUE, RED]).enumerate() {
        chart
            .draw_series(LineSeries::new(
                xs.iter().map(|&x| (x, density(x, *m))),
                color,
            ))?
            .label(format!("component {k}: mean {m:.2}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 15, y)], color));
    }
    chart
        .draw_series(LineSeries::new(
            xs.iter()
                .map(|&x| (x, density(x, means[0]) + density(x, means[1]))),
            BLACK.stroke_width(2),
        ))?
        .label("mixture")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 15, y)], BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let (warmup, samples) = if fast {
        (2_000, 10_000)
    } else {
        (10_000, 100_000)
    };

    let run = Mcmc::new(TraceMh::new(mixture), warmup, samples)
        .num_chains(4)
        .seed(1)
        .progress(!fast)
        .run(&DATA[..])?;
    let summary = run.summary();
    let (exact0, exact1, resp) = exact(&DATA);

    println!("two-component mixture, 30 points, trace MH: 4 chains x {samples} steps");
    println!(
        "{:<8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "site", "y", "mean", "exact", "std", "5%", "95%", "ESS"
    );
    let mut means = [0.0; 2];
    for (k, exact) in [exact0, exact1].into_iter().enumerate() {
        let name = format!("mu_{k}");
        let row = summary.get(&name).ok_or("no row for a mean")?;
        means[k] = row.mean;
        println!(
            "{name:<8} {:>6} {:>8.3} {exact:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.0}",
            "",
            row.mean,
            row.std,
            row.q5,
            row.q95,
            row.ess_bulk.unwrap_or(f64::NAN)
        );
    }
    // A few assignments: the two most extreme points and the three nearest the middle, where
    // the components overlap. The posterior mean of z_i is P(point i is in component 1).
    let mut order: Vec<usize> = (0..DATA.len()).collect();
    order.sort_by(|&i, &j| DATA[i].abs().total_cmp(&DATA[j].abs()));
    let mut shown: Vec<usize> = order[..3].to_vec();
    order.sort_by(|&i, &j| DATA[i].total_cmp(&DATA[j]));
    shown.push(order[0]);
    shown.push(order[order.len() - 1]);
    shown.sort_by(|&i, &j| DATA[i].total_cmp(&DATA[j]));
    for i in shown {
        let name = format!("z_{i}");
        let row = summary.get(&name).ok_or("no row for an assignment")?;
        // A chain that never moved has no meaningful ESS (the point is always in one component).
        let ess = match row.ess_bulk {
            Some(e) if row.std > 0.0 => format!("{e:.0}"),
            _ => "-".to_string(),
        };
        println!(
            "{name:<8} {:>6.2} {:>8.3} {:>8.3} {:>8.3} {:>8} {:>8} {ess:>8}",
            DATA[i], row.mean, resp[i], row.std, "", ""
        );
    }
    let rates: Vec<String> = summary
        .accept_rates()
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect();
    println!("acceptance rate per chain: {}", rates.join(", "));

    let path = plot_path("mixture.svg")?;
    plot(&path, &DATA, means)?;
    println!("plot: {}", path.display());
    Ok(())
}
