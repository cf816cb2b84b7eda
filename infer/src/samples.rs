//! [`Samples`]: the values of sites over many runs, as predictive checks and MCMC return them.

use crate::error::InferError;
use crate::predictive::Latents;
use indexmap::IndexMap;
use pyro_poutine::Name;
use pyro_poutine::distributions::Value;
use rustc_hash::FxBuildHasher;

/// For each site, its value in each run (or draw), in order; no value where a run did not
/// reach the site (a model whose sites depend on random choices).
///
/// [`Predictive::run`](crate::Predictive::run) returns one, and so do
/// [`McmcRun::get_samples`](crate::McmcRun::get_samples) (every chain's draws, chain after chain)
/// and [`McmcRun::get_samples_by_chain`](crate::McmcRun::get_samples_by_chain). A site present
/// in every run is stored as a plain vector of values; one that comes and goes stores only the
/// runs that have it, so a model whose structure is random does not pay memory for the sites a
/// run lacks.
///
/// ```
/// use pyro_infer::Predictive;
/// use pyro_infer::poutine::distributions::{Normal, Real, Value};
/// use pyro_infer::poutine::{Name, PyroError, sample};
///
/// let model = |()| -> Result<Real, PyroError> { sample("x", Normal::new(0.0, 1.0)) };
/// let samples = Predictive::prior(model, 100).seed(3).run(())?;
/// assert_eq!(samples.len(), 100);
/// let xs = samples.reals(&Name::from("x"))?;
/// assert_eq!(samples.value(&Name::from("x"), 7), Some(&Value::Real(xs[7])));
/// assert_eq!(samples.values(&Name::from("x")).unwrap().len(), 100);
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Samples {
    sites: IndexMap<Name, Column, FxBuildHasher>,
    len: usize,
    /// The room a new column is made with.
    capacity: usize,
}

/// One site's values.
#[derive(Clone, Debug, Default)]
struct Column {
    /// The runs that have a value, ascending; `None` while the site has one in every run from
    /// the first (then `values[i]` is run `i`'s).
    runs: Option<Vec<usize>>,
    values: Vec<Value>,
}

impl Column {
    /// Sets run `run`'s value; runs come in ascending order.
    fn push(&mut self, run: usize, value: Value) {
        match &mut self.runs {
            None if self.values.len() == run => {}
            None => {
                let mut runs: Vec<usize> = (0..self.values.len()).collect();
                runs.push(run);
                self.runs = Some(runs);
            }
            Some(runs) => runs.push(run),
        }
        self.values.push(value);
    }

    /// The run of the last value, if any.
    fn last_run(&self) -> Option<usize> {
        match &self.runs {
            None => self.values.len().checked_sub(1),
            Some(runs) => runs.last().copied(),
        }
    }

    /// Run `run`'s value.
    fn get(&self, run: usize) -> Option<&Value> {
        match &self.runs {
            None => self.values.get(run),
            Some(runs) => runs.binary_search(&run).ok().map(|i| &self.values[i]),
        }
    }

    /// The values of runs `0..len`, run by run.
    fn iter(&self, len: usize) -> impl ExactSizeIterator<Item = Option<&Value>> + '_ {
        let mut next = 0;
        (0..len).map(move |run| match &self.runs {
            None => self.values.get(run),
            Some(runs) if runs.get(next) == Some(&run) => {
                next += 1;
                Some(&self.values[next - 1])
            }
            Some(_) => None,
        })
    }
}

impl PartialEq for Samples {
    /// The same sites, in the same order, with the same values in the same runs.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self.sites.len() == other.sites.len()
            && self
                .sites
                .iter()
                .zip(&other.sites)
                .all(|((a, x), (b, y))| a == b && x.iter(self.len).eq(y.iter(other.len)))
    }
}

impl Samples {
    /// Room for `runs` runs per site, so that a sampler's columns do not grow run by run.
    pub(crate) fn with_capacity(runs: usize) -> Self {
        Samples {
            capacity: runs,
            ..Samples::default()
        }
    }

    /// [`with_capacity`](Self::with_capacity), with these sites listed first (with no value
    /// until a run gives them one).
    pub(crate) fn with_sites<'a>(sites: impl IntoIterator<Item = &'a Name>, runs: usize) -> Self {
        let mut samples = Samples::with_capacity(runs);
        for name in sites {
            samples.sites.entry(name.clone()).or_default();
        }
        samples
    }

    /// Appends one run: the given sites take their values, every other site has none. Sites
    /// given in the order of the columns (a run like the last one) are placed without hashing.
    pub(crate) fn push<'a>(&mut self, run: impl IntoIterator<Item = (&'a Name, &'a Value)>) {
        let (len, capacity) = (self.len, self.capacity);
        for (j, (name, value)) in run.into_iter().enumerate() {
            let column = match self.sites.get_index_mut(j) {
                Some((key, column)) if key == name => column,
                _ => self.sites.entry(name.clone()).or_insert_with(|| Column {
                    runs: None,
                    values: Vec::with_capacity(capacity),
                }),
            };
            // A site given twice in one run keeps its first value.
            if column.last_run() != Some(len) {
                column.push(len, value.clone());
            }
        }
        self.len += 1;
    }

    /// The runs of `parts`, one after the other.
    pub(crate) fn concat(parts: &[Samples]) -> Samples {
        let mut all = Samples::default();
        for part in parts {
            for name in part.sites.keys() {
                all.sites.entry(name.clone()).or_default();
            }
        }
        let mut offset = 0;
        for part in parts {
            for (name, column) in &part.sites {
                let target = &mut all.sites[name];
                for (run, value) in column.iter(part.len).enumerate() {
                    if let Some(v) = value {
                        target.push(offset + run, v.clone());
                    }
                }
            }
            offset += part.len;
        }
        all.len = offset;
        all
    }

    /// The number of runs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there were no runs.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The site names, in order of first appearance.
    pub fn names(&self) -> impl Iterator<Item = &Name> {
        self.sites.keys()
    }

    /// The value of `site` in run `run`; `None` if the run did not reach the site.
    pub fn value(&self, site: &Name, run: usize) -> Option<&Value> {
        self.sites.get(site)?.get(run)
    }

    /// The values of `site`, run by run (`None` for a run that did not reach it); `None` for a
    /// site no run reached.
    pub fn values(
        &self,
        site: &Name,
    ) -> Option<impl ExactSizeIterator<Item = Option<&Value>> + '_> {
        Some(self.sites.get(site)?.iter(self.len))
    }

    /// The values of a scalar numeric site as reals, one per run; an error names a run that did
    /// not reach the site or a value that is not a scalar.
    pub fn reals(&self, site: &Name) -> Result<Vec<f64>, InferError> {
        let values = self.values(site).ok_or_else(|| InferError::MissingSite {
            site: site.clone(),
            index: 0,
        })?;
        values
            .enumerate()
            .map(|(index, v)| match v {
                Some(Value::Real(x)) => Ok(*x),
                Some(Value::Int(k)) => Ok(*k as f64),
                Some(Value::Bool(b)) => Ok(f64::from(u8::from(*b))),
                Some(other) => Err(InferError::BadValue {
                    site: site.clone(),
                    reason: format!("run {index} holds a {}, not a scalar", other.type_name()),
                }),
                None => Err(InferError::MissingSite {
                    site: site.clone(),
                    index,
                }),
            })
            .collect()
    }

    /// Each run's values as a map from site name to value (the sites the run reached): the form
    /// [`Predictive::from_samples`](crate::Predictive::from_samples) takes, so that posterior
    /// draws feed a posterior predictive directly.
    pub fn latents(&self) -> Vec<Latents> {
        let mut runs = vec![Latents::new(); self.len];
        for (name, column) in &self.sites {
            for (latents, value) in runs.iter_mut().zip(column.iter(self.len)) {
                if let Some(v) = value {
                    latents.insert(name.clone(), v.clone());
                }
            }
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(s: &mut Samples, pairs: &[(&'static str, f64)]) {
        let run: Vec<(Name, Value)> = pairs
            .iter()
            .map(|&(n, x)| (Name::from(n), Value::Real(x)))
            .collect();
        s.push(run.iter().map(|(n, v)| (n, v)));
    }

    fn column(s: &Samples, site: &'static str) -> Vec<Option<f64>> {
        s.values(&Name::from(site))
            .unwrap()
            .map(|v| {
                v.map(|v| match v {
                    Value::Real(x) => *x,
                    other => panic!("{other:?}"),
                })
            })
            .collect()
    }

    #[test]
    fn sites_that_come_and_go_keep_their_runs() {
        let mut s = Samples::with_capacity(4);
        push(&mut s, &[("a", 1.0)]);
        push(&mut s, &[("a", 2.0), ("b", 5.0)]);
        push(&mut s, &[("b", 6.0), ("b", 7.0)]);
        push(&mut s, &[("a", 3.0), ("b", 8.0)]);
        assert_eq!(s.len(), 4);
        assert_eq!(column(&s, "a"), [Some(1.0), Some(2.0), None, Some(3.0)]);
        assert_eq!(column(&s, "b"), [None, Some(5.0), Some(6.0), Some(8.0)]);
        assert_eq!(s.value(&Name::from("a"), 2), None);
        assert_eq!(s.value(&Name::from("a"), 3), Some(&Value::Real(3.0)));
        assert_eq!(s.value(&Name::from("b"), 0), None);
        assert!(s.values(&Name::from("c")).is_none());
        let err = s.reals(&Name::from("a")).unwrap_err();
        assert_eq!(err.to_string(), "sample 2 has no value at site 'a'");
        let latents = s.latents();
        assert_eq!(latents[0].len(), 1);
        assert_eq!(latents[1].len(), 2);
        assert_eq!(latents[2].get(&Name::from("b")), Some(&Value::Real(6.0)));

        let mut t = Samples::default();
        push(&mut t, &[("c", 9.0)]);
        push(&mut t, &[("a", 4.0)]);
        let both = Samples::concat(&[s.clone(), t]);
        assert_eq!(both.len(), 6);
        let names: Vec<String> = both.names().map(|n| n.to_string()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(
            column(&both, "a"),
            [Some(1.0), Some(2.0), None, Some(3.0), None, Some(4.0)]
        );
        assert_eq!(
            column(&both, "c"),
            [None, None, None, None, Some(9.0), None]
        );
        // Equality looks at the values, not at how they are stored.
        let mut dense = Samples::default();
        push(&mut dense, &[("x", 1.0)]);
        push(&mut dense, &[("x", 2.0)]);
        let mut parts = Samples::default();
        push(&mut parts, &[("x", 1.0)]);
        let mut rest = Samples::default();
        push(&mut rest, &[("x", 2.0)]);
        assert_eq!(Samples::concat(&[parts, rest]), dense);
        assert_ne!(both, s);
    }
}
