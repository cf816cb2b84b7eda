//! [`Samples`]: the values of sites over many runs, as predictive checks and MCMC return them.

use crate::error::InferError;
use crate::predictive::Latents;
use indexmap::IndexMap;
use pyro_poutine::Name;
use pyro_poutine::distributions::Value;

/// For each site, its value in each run (or draw), in order; `None` where a run did not reach
/// the site (a model whose sites depend on random choices).
///
/// [`Predictive::run`](crate::Predictive::run) returns one, and so do
/// [`McmcRun::get_samples`](crate::McmcRun::get_samples) (every chain's draws, chain after chain)
/// and [`McmcRun::get_samples_by_chain`](crate::McmcRun::get_samples_by_chain).
///
/// ```
/// use pyro_infer::Predictive;
/// use pyro_infer::poutine::distributions::Normal;
/// use pyro_infer::poutine::{Name, PyroError, sample};
///
/// let model = |()| -> Result<f64, PyroError> { sample("x", Normal::new(0.0, 1.0)) };
/// let samples = Predictive::prior(model, 100).seed(3).run(())?;
/// assert_eq!(samples.len(), 100);
/// let xs = samples.reals(&Name::from("x"))?;
/// assert!(xs.iter().all(|x| x.is_finite()));
/// # Ok::<(), pyro_infer::InferError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    sites: IndexMap<Name, Vec<Option<Value>>>,
    len: usize,
}

impl Samples {
    /// Samples from their columns, each `len` long.
    pub(crate) fn from_columns(sites: IndexMap<Name, Vec<Option<Value>>>, len: usize) -> Self {
        debug_assert!(sites.values().all(|c| c.len() == len));
        Samples { sites, len }
    }

    /// Appends one run: the given sites take their values, every other site `None`. A site seen
    /// for the first time gets `None` for the earlier runs.
    pub(crate) fn push<'a>(&mut self, run: impl IntoIterator<Item = (&'a Name, &'a Value)>) {
        let len = self.len;
        for (name, value) in run {
            let column = self
                .sites
                .entry(name.clone())
                .or_insert_with(|| vec![None; len]);
            if column.len() == len {
                column.push(Some(value.clone()));
            }
        }
        self.len += 1;
        for column in self.sites.values_mut() {
            column.resize(self.len, None);
        }
    }

    /// The runs of `parts`, one after the other; a site missing from a part is `None` there.
    pub(crate) fn concat(parts: &[Samples]) -> Samples {
        let len = parts.iter().map(|p| p.len).sum();
        let mut sites: IndexMap<Name, Vec<Option<Value>>> = IndexMap::new();
        for part in parts {
            for name in part.sites.keys() {
                sites
                    .entry(name.clone())
                    .or_insert_with(|| Vec::with_capacity(len));
            }
        }
        for part in parts {
            for (name, column) in &mut sites {
                match part.sites.get(name) {
                    Some(values) => column.extend_from_slice(values),
                    None => column.resize(column.len() + part.len, None),
                }
            }
        }
        Samples { sites, len }
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

    /// The values of `site`, one per run.
    pub fn get(&self, site: &Name) -> Option<&[Option<Value>]> {
        self.sites.get(site).map(Vec::as_slice)
    }

    /// The values of a scalar numeric site as reals, one per run; an error names a run that did
    /// not reach the site or a value that is not a scalar.
    pub fn reals(&self, site: &Name) -> Result<Vec<f64>, InferError> {
        let values = self.get(site).ok_or_else(|| InferError::MissingSite {
            site: site.clone(),
            index: 0,
        })?;
        values
            .iter()
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
        (0..self.len)
            .map(|i| {
                self.sites
                    .iter()
                    .filter_map(|(name, column)| Some((name.clone(), column[i].clone()?)))
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pairs: &[(&'static str, f64)]) -> Vec<(Name, Value)> {
        pairs
            .iter()
            .map(|&(n, x)| (Name::from(n), Value::Real(x)))
            .collect()
    }

    fn push(s: &mut Samples, pairs: &[(&'static str, f64)]) {
        let r = run(pairs);
        s.push(r.iter().map(|(n, v)| (n, v)));
    }

    #[test]
    fn columns_stay_aligned_when_sites_come_and_go() {
        let mut s = Samples::default();
        push(&mut s, &[("a", 1.0)]);
        push(&mut s, &[("a", 2.0), ("b", 5.0)]);
        push(&mut s, &[("b", 6.0)]);
        assert_eq!(s.len(), 3);
        let a = s.get(&Name::from("a")).unwrap();
        let b = s.get(&Name::from("b")).unwrap();
        assert_eq!(a, &[Some(Value::Real(1.0)), Some(Value::Real(2.0)), None]);
        assert_eq!(b, &[None, Some(Value::Real(5.0)), Some(Value::Real(6.0))]);
        let err = s.reals(&Name::from("a")).unwrap_err();
        assert_eq!(err.to_string(), "sample 2 has no value at site 'a'");
        let latents = s.latents();
        assert_eq!(latents[0].len(), 1);
        assert_eq!(latents[1].len(), 2);
        assert_eq!(latents[2].get(&Name::from("b")), Some(&Value::Real(6.0)));

        let mut t = Samples::default();
        push(&mut t, &[("c", 9.0)]);
        let both = Samples::concat(&[s, t]);
        assert_eq!(both.len(), 4);
        let names: Vec<String> = both.names().map(|n| n.to_string()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(both.get(&Name::from("a")).unwrap()[3], None);
        assert_eq!(
            both.get(&Name::from("c")).unwrap(),
            &[None, None, None, Some(Value::Real(9.0))]
        );
    }
}
