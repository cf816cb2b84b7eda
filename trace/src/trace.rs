//! [`Trace`]: the sites of one run of a model, in order.

use crate::error::TraceError;
use crate::name::Name;
use crate::site::{Site, SiteKind};
use indexmap::IndexMap;
use std::any::Any;
use std::sync::Arc;

/// One recorded run of a model: its sites in insertion order, addressable by name, and its
/// return value.
///
/// A trace is a value: cloning it is a deep, independent copy.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    nodes: IndexMap<Name, Site>,
    output: Option<Arc<dyn Any + Send + Sync>>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Trace::default()
    }

    /// Records `site`. A second sample site with the same name, or a name used by a site of the
    /// other kind, is an error; a repeated param site replaces the earlier node (one node per
    /// param).
    pub fn add_node(&mut self, site: Site) -> Result<(), TraceError> {
        if let Some(old) = self.nodes.get(&site.name) {
            if old.kind != site.kind {
                return Err(TraceError::KindClash {
                    name: site.name.clone(),
                    existing: old.kind,
                    new: site.kind,
                });
            }
            if site.kind == SiteKind::Sample {
                return Err(TraceError::DuplicateSite {
                    name: site.name.clone(),
                });
            }
        }
        self.nodes.insert(site.name.clone(), site);
        Ok(())
    }

    /// The site named `name`.
    pub fn get(&self, name: impl Into<Name>) -> Option<&Site> {
        self.nodes.get(&name.into())
    }

    /// Mutable access to the site named `name`; clears its cached log-probability, so a cache can
    /// never go stale.
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

    /// Removes every site and the output, keeping the allocated capacity for reuse.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.output = None;
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
