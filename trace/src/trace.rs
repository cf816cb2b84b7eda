//! [`Trace`]: the sites of one run of a model, in order.

use crate::error::TraceError;
use crate::name::Name;
use crate::site::{Site, SiteKind};
use indexmap::IndexMap;
use indexmap::map::Entry;
use pyro_distributions::ValueType;
use rustc_hash::FxBuildHasher;
use std::any::Any;
use std::sync::Arc;

/// One recorded run of a model: its sites in insertion order, addressable by name, and its
/// return value.
///
/// A trace is a value: cloning it is a deep, independent copy (cached log-probabilities
/// included); the output is immutable and shared.
#[derive(Debug, Default)]
pub struct Trace {
    /// Keyed by name with the Fx hash: names come from the program, not from an adversary, and
    /// hashing is on the per-site hot path.
    pub(crate) nodes: IndexMap<Name, Site, FxBuildHasher>,
    input: Option<Arc<dyn Any + Send + Sync>>,
    output: Option<Arc<dyn Any + Send + Sync>>,
}

impl Clone for Trace {
    fn clone(&self) -> Self {
        let nodes = self
            .nodes
            .iter()
            .map(|(name, site)| {
                // `Site::clone` leaves the cache behind; inside a trace it stays valid.
                let mut copy = site.clone();
                copy.log_prob = site.log_prob;
                (name.clone(), copy)
            })
            .collect();
        Trace {
            nodes,
            input: self.input.clone(),
            output: self.output.clone(),
        }
    }
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Trace::default()
    }

    /// An empty trace with room for `sites` sites before it reallocates.
    pub fn with_capacity(sites: usize) -> Self {
        Trace {
            nodes: IndexMap::with_capacity_and_hasher(sites, FxBuildHasher),
            input: None,
            output: None,
        }
    }

    /// Records `site`. A second sample site with the same name, or a name used by a site of the
    /// other kind, is an error; a repeated param site replaces the earlier node (one node per
    /// param).
    pub fn add_node(&mut self, site: Site) -> Result<(), TraceError> {
        match self.nodes.entry(site.name.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(site);
            }
            Entry::Occupied(mut slot) => {
                let old = slot.get();
                if old.kind != site.kind {
                    return Err(TraceError::KindClash {
                        name: site.name,
                        existing: old.kind,
                        new: site.kind,
                    });
                }
                if site.kind == SiteKind::Sample {
                    return Err(TraceError::DuplicateSite { name: site.name });
                }
                slot.insert(site);
            }
        }
        Ok(())
    }

    /// The site named `name`.
    pub fn get(&self, name: impl Into<Name>) -> Option<&Site> {
        self.nodes.get(&name.into())
    }

    /// The site named `name` with its position in insertion order.
    ///
    /// ```
    /// use pyro_trace::{Name, Site, Trace};
    ///
    /// let mut trace = Trace::new();
    /// trace.add_node(Site::param(Name::from("w"), None))?;
    /// trace.add_node(Site::param(Name::from("v"), None))?;
    /// let (i, site) = trace.get_full("v").unwrap();
    /// assert_eq!((i, site.name.to_string()), (1, "v".to_string()));
    /// assert_eq!(trace.get_index(i).unwrap().name, "v");
    /// # Ok::<(), pyro_trace::TraceError>(())
    /// ```
    pub fn get_full(&self, name: impl Into<Name>) -> Option<(usize, &Site)> {
        self.nodes
            .get_full(&name.into())
            .map(|(i, _, site)| (i, site))
    }

    /// The site at position `index` in insertion order.
    pub fn get_index(&self, index: usize) -> Option<&Site> {
        self.nodes.get_index(index).map(|(_, site)| site)
    }

    /// The value of site `name` as a `T` (`f64`, `bool`, `i64` or a vector of them).
    ///
    /// # Errors
    /// [`TraceError::Read`] naming the site when there is no such site (listing the sites there
    /// are), it has no value, or its value is of another type.
    ///
    /// ```
    /// use pyro_trace::distributions::{Normal, Value};
    /// use pyro_trace::{Name, Site, Trace};
    ///
    /// let mut trace = Trace::new();
    /// trace.add_node(Site::observed(Name::from("y"), Normal::new(0.0, 1.0)?.into(), Value::Real(0.5)))?;
    /// assert_eq!(trace.value::<f64>("y")?, 0.5);
    /// assert_eq!(
    ///     trace.value::<f64>("z").unwrap_err().to_string(),
    ///     "site 'z': no such site; the sites are 'y'"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn value<T: ValueType>(&self, name: impl Into<Name>) -> Result<T, TraceError> {
        let name = name.into();
        match self.nodes.get(&name) {
            Some(site) => site.value_as(),
            None => Err(TraceError::Read {
                reason: format!("no such site; the sites are {}", self.site_list()),
                name,
            }),
        }
    }

    /// The site names, quoted and comma-separated (`none` for an empty trace), for messages.
    pub(crate) fn site_list(&self) -> String {
        if self.nodes.is_empty() {
            return "none".into();
        }
        self.nodes
            .keys()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Mutable access to the site named `name`; clears its cached log-probability, so a cache can
    /// never go stale. The site stays filed under `name`: renaming it through this reference
    /// leaves lookups by the old name (build a new trace to rename sites).
    pub fn get_mut(&mut self, name: impl Into<Name>) -> Option<&mut Site> {
        let site = self.nodes.get_mut(&name.into())?;
        site.log_prob = None;
        Some(site)
    }

    /// Whether a site named `name` exists.
    pub fn contains(&self, name: impl Into<Name>) -> bool {
        self.nodes.contains_key(&name.into())
    }

    /// The sites in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Site> {
        self.nodes.values()
    }

    /// The number of sites.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the trace has no site.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Removes every site, the inputs and the output, keeping the allocated capacity for reuse.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.input = None;
        self.output = None;
    }

    /// Records the model's arguments (Pyro's `_INPUT` node).
    pub fn set_input<A: Send + Sync + 'static>(&mut self, args: A) {
        self.input = Some(Arc::new(args));
    }

    /// The model's arguments, if recorded and of type `A` (the type the model takes; a tuple
    /// for several).
    ///
    /// ```
    /// use pyro_trace::Trace;
    ///
    /// let mut trace = Trace::new();
    /// trace.set_input((8.5_f64, 3_usize));
    /// assert_eq!(trace.input::<(f64, usize)>(), Some(&(8.5, 3)));
    /// assert_eq!(trace.input::<f64>(), None);
    /// ```
    pub fn input<A: 'static>(&self) -> Option<&A> {
        self.input.as_deref()?.downcast_ref()
    }

    /// Records the model's return value.
    pub fn set_output<R: Send + Sync + 'static>(&mut self, output: R) {
        self.output = Some(Arc::new(output));
    }

    /// The model's return value, if recorded and of type `R`.
    pub fn output<R: 'static>(&self) -> Option<&R> {
        self.output.as_deref()?.downcast_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyro_distributions::{Normal, Value};

    fn latent(name: &'static str, x: f64) -> Site {
        let mut site = Site::sample(Name::from(name), Normal::new(0.0, 1.0).unwrap().into());
        site.value = Some(Value::Real(x));
        site
    }

    #[test]
    fn duplicate_sample_names_are_an_error() {
        let mut trace = Trace::new();
        trace.add_node(latent("x", 0.0)).unwrap();
        let err = trace.add_node(latent("x", 1.0)).unwrap_err();
        assert_eq!(err.to_string(), "Multiple sample sites named 'x'");
        assert_eq!(
            err,
            TraceError::DuplicateSite {
                name: Name::from("x")
            }
        );
        // The first site stays.
        assert_eq!(trace.len(), 1);
        assert_eq!(trace.get("x").unwrap().value, Some(Value::Real(0.0)));
        // Indexed and plain spellings of one name clash too.
        trace.add_node(latent("y_2", 0.0)).unwrap();
        let mut y = latent("ignored", 0.0);
        y.name = Name::indexed("y", 2);
        assert_eq!(
            trace.add_node(y).unwrap_err().to_string(),
            "Multiple sample sites named 'y_2'"
        );
    }

    #[test]
    fn a_sample_named_like_a_param_is_an_error() {
        let mut trace = Trace::new();
        trace.add_node(Site::param(Name::from("w"), None)).unwrap();
        let err = trace.add_node(latent("w", 0.0)).unwrap_err();
        assert_eq!(
            err,
            TraceError::KindClash {
                name: Name::from("w"),
                existing: SiteKind::Param,
                new: SiteKind::Sample
            }
        );
        assert!(err.to_string().contains("'w'"));
        // And the other way round.
        trace.add_node(latent("z", 0.0)).unwrap();
        assert!(matches!(
            trace.add_node(Site::param(Name::from("z"), None)),
            Err(TraceError::KindClash { .. })
        ));
    }

    #[test]
    fn params_may_repeat_as_one_node() {
        let mut trace = Trace::new();
        trace
            .add_node(Site::param(Name::from("w"), Some(Value::Real(1.0))))
            .unwrap();
        trace.add_node(latent("z", 0.0)).unwrap();
        trace
            .add_node(Site::param(Name::from("w"), Some(Value::Real(2.0))))
            .unwrap();
        assert_eq!(trace.len(), 2);
        // One node, in the place of the first, with the latest value.
        let names: Vec<String> = trace.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, ["w", "z"]);
        assert_eq!(trace.get("w").unwrap().value, Some(Value::Real(2.0)));
    }

    #[test]
    fn clones_are_independent_including_caches() {
        let mut original = Trace::new();
        original.add_node(latent("z", 0.5)).unwrap();
        original.add_node(latent("u", 1.5)).unwrap();
        original.set_output(7_u8);
        original.compute_log_prob(|_| true).unwrap();
        let before = original.log_prob_sum(|_| true).unwrap();
        let z_cache = original.get("z").unwrap().cached_log_prob();
        assert!(z_cache.is_some());

        let mut copy = original.clone();
        // The clone keeps the caches.
        assert_eq!(copy.get("z").unwrap().cached_log_prob(), z_cache);
        assert_eq!(copy.output::<u8>(), Some(&7));

        let z = copy.get_mut("z").unwrap();
        z.value = Some(Value::Real(3.0));
        z.scale = 2.0;
        z.infer.insert("flag", crate::InferValue::Bool(true));
        copy.clear();
        copy.add_node(latent("z", -1.0)).unwrap();

        assert_eq!(original.len(), 2);
        let z = original.get("z").unwrap();
        assert_eq!(z.value, Some(Value::Real(0.5)));
        assert_eq!(z.scale, 1.0);
        assert!(z.infer.is_empty());
        assert_eq!(z.cached_log_prob(), z_cache);
        assert_eq!(original.log_prob_sum(|_| true).unwrap(), before);
        assert_eq!(original.output::<u8>(), Some(&7));
    }

    #[test]
    fn inputs_are_kept_typed_shared_by_clones_and_cleared() {
        let mut trace = Trace::new();
        assert_eq!(trace.input::<f64>(), None);
        trace.set_input((2.5_f64, vec![1_u8, 2]));
        assert_eq!(trace.input::<(f64, Vec<u8>)>(), Some(&(2.5, vec![1, 2])));
        assert_eq!(trace.input::<(f64, Vec<i64>)>(), None);
        let copy = trace.clone();
        trace.clear();
        assert_eq!(trace.input::<(f64, Vec<u8>)>(), None);
        assert_eq!(copy.input::<(f64, Vec<u8>)>(), Some(&(2.5, vec![1, 2])));
    }

    #[test]
    fn get_mut_on_a_missing_site_is_none() {
        let mut trace = Trace::new();
        assert!(trace.get_mut("nothing").is_none());
        assert!(!trace.contains("nothing"));
    }
}
