//! [`Summary`]: the table of an MCMC run (NumPyro's `print_summary`).

use crate::diagnostics::{ess_bulk, ess_tail, quantile, split_rhat};
use crate::mcmc_run::McmcRun;
use pyro_poutine::Name;
use pyro_poutine::distributions::Value;
use std::fmt;

/// One row of a [`Summary`]: one scalar coordinate of a site.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SummaryRow {
    /// The coordinate: the site's name, or `site[i]` for element `i` of a vector site.
    pub name: String,
    /// The number of draws (over all chains) that have a value for it.
    pub draws: usize,
    /// The mean.
    pub mean: f64,
    /// The standard deviation (with `n - 1` in the denominator).
    pub std: f64,
    /// The median.
    pub median: f64,
    /// The 5% quantile (R's type 7, numpy's default).
    pub q5: f64,
    /// The 95% quantile.
    pub q95: f64,
    /// The bulk effective sample size (rank-normalised; NumPyro's `n_eff` column), where every
    /// draw of every chain has a value and there are enough draws.
    pub ess_bulk: Option<f64>,
    /// The tail effective sample size (the 5% and 95% quantiles'), likewise.
    pub ess_tail: Option<f64>,
    /// The rank-normalised split R-hat, likewise (and with at least one chain of 4 draws).
    pub r_hat: Option<f64>,
    /// The acceptance rate of the proposals that moved the site (of its block), over all
    /// chains, where the kernel reports one.
    pub accept_rate: Option<f64>,
}

/// The summary of an [`McmcRun`] ([`McmcRun::summary`]): one [`SummaryRow`] per scalar
/// coordinate, and each chain's acceptance rate. `Display` prints it as a table like NumPyro's.
///
/// The diagnostics are those of [`diagnostics`](crate::diagnostics) (Vehtari et al. 2021, as
/// ArviZ computes them). A coordinate that some draws did not reach (a site of a model whose
/// structure is random) gets its moments and quantiles over the draws that have it, and no
/// diagnostics: its rows are marked `*`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    rows: Vec<SummaryRow>,
    accept_rates: Vec<f64>,
    total: usize,
}

impl Summary {
    pub(crate) fn new(run: &McmcRun) -> Self {
        let chains = run.get_samples_by_chain();
        let total = chains.iter().map(|c| c.len()).sum();
        let mut rows = Vec::new();
        for (site, len) in run.columns() {
            let accept_rate = accept_rate(run, &site);
            for i in 0..len.unwrap_or(1) {
                let name = match len {
                    None => site.to_string(),
                    Some(_) => format!("{site}[{i}]"),
                };
                // Per chain, the coordinate's values in the draws that have it.
                let per_chain: Vec<Vec<f64>> = chains
                    .iter()
                    .map(|c| {
                        c.values(&site)
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v.and_then(|v| element(v, i)))
                            .collect()
                    })
                    .collect();
                if let Some(row) = SummaryRow::new(name, &per_chain, total, accept_rate) {
                    rows.push(row);
                }
            }
        }
        Summary {
            rows,
            accept_rates: run.chain_stats().iter().map(|s| s.accept_rate).collect(),
            total,
        }
    }

    /// The rows, in the order of the sites' first appearance.
    pub fn rows(&self) -> &[SummaryRow] {
        &self.rows
    }

    /// The row of coordinate `name` (`"a"`, or `"y[2]"` for a vector site).
    pub fn get(&self, name: &str) -> Option<&SummaryRow> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// Each chain's acceptance rate over its sampling steps.
    pub fn accept_rates(&self) -> &[f64] {
        &self.accept_rates
    }
}

impl SummaryRow {
    /// The row of a coordinate with `per_chain` values, out of `total` draws; `None` if no draw
    /// has it.
    fn new(
        name: String,
        per_chain: &[Vec<f64>],
        total: usize,
        accept_rate: Option<f64>,
    ) -> Option<Self> {
        let mut all: Vec<f64> = per_chain.iter().flatten().copied().collect();
        let n = all.len();
        if n == 0 {
            return None;
        }
        let mean = all.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (all.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            f64::NAN
        };
        all.sort_by(f64::total_cmp);
        let q = |p| quantile(&all, p).unwrap_or(f64::NAN);
        let complete = n == total;
        let chains: Vec<&[f64]> = per_chain.iter().map(Vec::as_slice).collect();
        let diagnostic = |f: fn(&[&[f64]]) -> Option<f64>| if complete { f(&chains) } else { None };
        Some(SummaryRow {
            name,
            draws: n,
            mean,
            std,
            median: q(0.5),
            q5: q(0.05),
            q95: q(0.95),
            ess_bulk: diagnostic(ess_bulk),
            ess_tail: diagnostic(ess_tail),
            r_hat: diagnostic(split_rhat),
            accept_rate,
        })
    }
}

/// Element `i` of a value as a real (a scalar is its own element 0).
fn element(v: &Value, i: usize) -> Option<f64> {
    match v {
        Value::Real(x) if i == 0 => Some(*x),
        Value::Int(k) if i == 0 => Some(*k as f64),
        Value::Bool(b) if i == 0 => Some(f64::from(u8::from(*b))),
        Value::Reals(xs) => xs.get(i).copied(),
        Value::Ints(ks) => ks.get(i).map(|&k| k as f64),
        Value::Bools(bs) => bs.get(i).map(|&b| f64::from(u8::from(b))),
        _ => None,
    }
}

/// The acceptance rate of the proposals for the group holding `site`, over all chains.
fn accept_rate(run: &McmcRun, site: &Name) -> Option<f64> {
    let (mut proposals, mut accepted) = (0, 0);
    for group in run
        .chain_stats()
        .iter()
        .flat_map(|s| &s.groups)
        .filter(|g| g.sites.contains(site))
    {
        proposals += group.proposals;
        accepted += group.accepted;
    }
    (proposals > 0).then(|| accepted as f64 / proposals as f64)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .rows
            .iter()
            .map(|r| r.name.len() + 1)
            .max()
            .unwrap_or(0)
            .max(8);
        writeln!(
            f,
            "{:>width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
            "", "mean", "std", "median", "5.0%", "95.0%", "n_eff", "ess_tail", "r_hat", "accept"
        )?;
        let opt = |x: Option<f64>, digits: usize| match x {
            Some(x) => format!("{x:.digits$}"),
            None => "-".to_string(),
        };
        let mut partial = false;
        for r in &self.rows {
            let mark = if r.draws < self.total { "*" } else { "" };
            partial |= r.draws < self.total;
            writeln!(
                f,
                "{:>width$} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9} {:>9} {:>7} {:>7}",
                format!("{}{mark}", r.name),
                r.mean,
                r.std,
                r.median,
                r.q5,
                r.q95,
                opt(r.ess_bulk, 1),
                opt(r.ess_tail, 1),
                opt(r.r_hat, 2),
                opt(r.accept_rate, 2),
            )?;
        }
        if partial {
            writeln!(
                f,
                "\n* reached by only some of the {} draws: moments over those draws, no diagnostics",
                self.total
            )?;
        }
        let rates: Vec<String> = self
            .accept_rates
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect();
        write!(f, "\nacceptance rate per chain: {}", rates.join(", "))
    }
}
