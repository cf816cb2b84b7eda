//! [`McmcRun`]: the draws of an MCMC run, with their summary and exports (CSV, JSON).

use crate::mcmc::ChainStats;
use crate::predictive::Latents;
use crate::samples::Samples;
use crate::summary::Summary;
use pyro_poutine::Name;
use pyro_poutine::distributions::Value;
use pyro_trace::JsonF64;
use serde_json::json;
use std::io::{self, Write};

/// The result of [`Mcmc::run`](crate::Mcmc::run): each chain's kept draws of the latent sites
/// (in constrained space) and its kernel's statistics.
///
/// ```
/// use pyro_infer::{Mcmc, Predictive, TraceMh};
/// use pyro_infer::poutine::distributions::{Normal, Real};
/// use pyro_infer::poutine::{Name, PyroError, observe, sample};
///
/// let model = |y: f64| -> Result<Real, PyroError> {
///     let mu = sample("mu", Normal::new(0.0, 1.0))?;
///     observe("y", Normal::new(mu, 1.0), y)
/// };
/// let run = Mcmc::new(TraceMh::new(model), 200, 400).num_chains(2).run(1.0)?;
/// assert_eq!(run.get_samples().len(), 800);
/// assert_eq!(run.get_samples_by_chain()[1].len(), 400);
/// let summary = run.summary();
/// assert!(summary.get("mu").unwrap().r_hat.unwrap() < 1.1);
///
/// // CSV (one row per draw: chain, draw, one column per scalar coordinate) and JSON.
/// let mut csv = Vec::new();
/// run.write_csv(&mut csv).unwrap();
/// assert!(String::from_utf8(csv).unwrap().starts_with("chain,draw,mu\n0,0,"));
/// assert!(run.to_json().contains("\"mu\""));
///
/// // The draws feed a posterior predictive.
/// let predictive = Predictive::from_samples(model, run.get_samples().latents()).run(1.0)?;
/// assert_eq!(predictive.len(), 800);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug)]
pub struct McmcRun {
    chains: Vec<Samples>,
    stats: Vec<ChainStats>,
    num_warmup: usize,
    num_samples: usize,
    thinning: usize,
}

impl McmcRun {
    pub(crate) fn new(
        chains: Vec<Samples>,
        stats: Vec<ChainStats>,
        num_warmup: usize,
        num_samples: usize,
        thinning: usize,
    ) -> Self {
        McmcRun {
            chains,
            stats,
            num_warmup,
            num_samples,
            thinning,
        }
    }

    /// The number of chains.
    pub fn num_chains(&self) -> usize {
        self.chains.len()
    }

    /// The number of draws each chain keeps (sampling steps divided by the thinning); a chain
    /// that failed has fewer.
    pub fn num_samples(&self) -> usize {
        self.num_samples
    }

    /// The number of warm-up steps of each chain.
    pub fn num_warmup(&self) -> usize {
        self.num_warmup
    }

    /// The thinning: every how many sampling steps a draw was kept.
    pub fn thinning(&self) -> usize {
        self.thinning
    }

    /// Every chain's draws, chain after chain (NumPyro's `get_samples()`).
    pub fn get_samples(&self) -> Samples {
        Samples::concat(&self.chains)
    }

    /// The draws of each chain (NumPyro's `get_samples(group_by_chain=True)`).
    pub fn get_samples_by_chain(&self) -> &[Samples] {
        &self.chains
    }

    /// Each draw's latent values by site, chain after chain: what
    /// [`Predictive::from_samples`](crate::Predictive::from_samples) takes.
    pub fn latents(&self) -> Vec<Latents> {
        self.get_samples().latents()
    }

    /// Each chain's kernel statistics (acceptance rates, proposal scales).
    pub fn chain_stats(&self) -> &[ChainStats] {
        &self.stats
    }

    /// The summary table: per scalar coordinate, the mean, standard deviation, median, 5% and
    /// 95% quantiles, bulk and tail effective sample sizes, rank-normalised split R-hat, and the
    /// acceptance rate of the site's proposals.
    pub fn summary(&self) -> Summary {
        Summary::new(self)
    }

    /// Prints the [`summary`](McmcRun::summary) to standard output (NumPyro's
    /// `print_summary`).
    pub fn print_summary(&self) {
        println!("{}", self.summary());
    }

    /// The columns of the draws: per site (in order of first appearance), its name and, for a
    /// vector-valued site, its length (the longest over the draws).
    pub(crate) fn columns(&self) -> Vec<(Name, Option<usize>)> {
        let all = self.get_samples();
        all.names()
            .map(|name| {
                let values = || all.values(name).into_iter().flatten().flatten();
                let vector = values()
                    .any(|v| matches!(v, Value::Reals(_) | Value::Ints(_) | Value::Bools(_)));
                let len = values().map(Value::len).max().unwrap_or(0);
                (name.clone(), vector.then_some(len))
            })
            .collect()
    }

    /// Writes the draws as CSV: a header, then one row per draw with its chain, its index in the
    /// chain (from 0) and one column per scalar coordinate (`y[0]`, `y[1]`, ... for a vector
    /// site); a site a draw did not reach is an empty cell. Booleans are written 1 and 0.
    ///
    /// pandas reads it as is (`pd.read_csv(path)`), and ArviZ through it:
    /// `az.convert_to_inference_data(pd.read_csv(path).set_index(["chain", "draw"]).to_xarray())`.
    pub fn write_csv(&self, mut out: impl Write) -> io::Result<()> {
        let columns = self.columns();
        write!(out, "chain,draw")?;
        for (name, len) in &columns {
            match len {
                None => write!(out, ",{}", csv_field(&name.to_string()))?,
                Some(n) => {
                    for i in 0..*n {
                        write!(out, ",{}", csv_field(&format!("{name}[{i}]")))?;
                    }
                }
            }
        }
        writeln!(out)?;
        for (c, chain) in self.chains.iter().enumerate() {
            for d in 0..chain.len() {
                write!(out, "{c},{d}")?;
                for (name, len) in &columns {
                    let value = chain.value(name, d);
                    for i in 0..len.unwrap_or(1) {
                        match value.and_then(|v| element(v, i)) {
                            Some(cell) => write!(out, ",{cell}")?,
                            None => write!(out, ",")?,
                        }
                    }
                }
                writeln!(out)?;
            }
        }
        Ok(())
    }

    /// The run as JSON: the settings, per site an array per chain of its draws (`null` where a
    /// draw did not reach the site; non-finite reals as `"inf"`, `"-inf"`, `"NaN"`), and each
    /// chain's statistics. ArviZ's `from_dict` takes the `sites` object as its `posterior`.
    pub fn to_json(&self) -> String {
        let mut sites = serde_json::Map::new();
        for (name, _) in self.columns() {
            let per_chain: Vec<serde_json::Value> = self
                .chains
                .iter()
                .map(|chain| match chain.values(&name) {
                    Some(values) => values.map(json_value).collect(),
                    None => vec![serde_json::Value::Null; chain.len()].into(),
                })
                .collect();
            sites.insert(name.to_string(), per_chain.into());
        }
        let stats: Vec<serde_json::Value> = self
            .stats
            .iter()
            .map(|s| {
                let groups: Vec<serde_json::Value> = s
                    .groups
                    .iter()
                    .map(|g| {
                        json!({
                            "sites": g.sites.iter().map(ToString::to_string).collect::<Vec<_>>(),
                            "proposals": g.proposals,
                            "accepted": g.accepted,
                            "scale": g.scale.map(JsonF64),
                        })
                    })
                    .collect();
                json!({
                    "steps": s.steps,
                    "accept_rate": JsonF64(s.accept_rate),
                    "groups": groups,
                })
            })
            .collect();
        json!({
            "num_chains": self.num_chains(),
            "num_warmup": self.num_warmup,
            "num_samples": self.num_samples,
            "thinning": self.thinning,
            "sites": sites,
            "stats": stats,
        })
        .to_string()
    }
}

/// A CSV field, quoted if it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Element `i` of a value as a CSV cell (a scalar is its own element 0).
fn element(v: &Value, i: usize) -> Option<String> {
    let real = |x: f64| format!("{x:?}");
    match v {
        Value::Real(x) if i == 0 => Some(real(*x)),
        Value::Int(k) if i == 0 => Some(k.to_string()),
        Value::Bool(b) if i == 0 => Some(u8::from(*b).to_string()),
        Value::Reals(xs) => xs.get(i).map(|&x| real(x)),
        Value::Ints(ks) => ks.get(i).map(ToString::to_string),
        Value::Bools(bs) => bs.get(i).map(|&b| u8::from(b).to_string()),
        _ => None,
    }
}

/// A value as JSON: a number, a boolean, or an array of them; `null` for none.
fn json_value(v: Option<&Value>) -> serde_json::Value {
    let real = |x: f64| serde_json::to_value(JsonF64(x)).expect("a number or a string");
    match v {
        None => serde_json::Value::Null,
        Some(Value::Real(x)) => real(*x),
        Some(Value::Int(k)) => (*k).into(),
        Some(Value::Bool(b)) => (*b).into(),
        Some(Value::Reals(xs)) => xs.iter().map(|&x| real(x)).collect(),
        Some(Value::Ints(ks)) => ks.iter().copied().collect(),
        Some(Value::Bools(bs)) => bs.iter().copied().collect(),
    }
}
