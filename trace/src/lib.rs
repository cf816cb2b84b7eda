//! The `Trace` data structure of pyro-rs: one recorded run of a model, site by site.
//!
//! A [`Site`] is one message of the handler stack (Pyro's message dict, with typed fields); a
//! [`Trace`] keeps the processed sites of one run in order, addressable by [`Name`], and offers:
//!
//! - scoring: [`Trace::log_prob_sum`] (scaled, masked, filtered) and the per-site cache
//!   [`Trace::compute_log_prob`], which mutation through [`Trace::get_mut`] clears;
//! - node lists ([`Trace::stochastic_nodes`], [`Trace::observation_nodes`],
//!   [`Trace::param_nodes`]) and a [`DependencyGraph`] ([`Trace::dependency_graph`]);
//! - a printable table ([`Trace::format_table`], also `Display`);
//! - a JSON round trip ([`Trace::to_json`], [`Trace::from_json`], and serde impls).
//!
//! # Quick start
//! ```
//! use pyro_trace::{GraphType, Name, Site, Trace};
//! use pyro_trace::distributions::{Normal, Value};
//!
//! let mut trace = Trace::new();
//! let mut x = Site::sample(Name::from("x"), Normal::new(0.0, 1.0)?.into());
//! x.value = Some(Value::Real(0.5));
//! trace.add_node(x)?;
//! let y = Site::observed(Name::indexed("y", 0), Normal::new(0.5, 1.0)?.into(), Value::Real(1.0));
//! trace.add_node(y)?;
//! assert_eq!(trace.len(), 2);
//! assert!(trace.contains("y_0"));
//!
//! let log_joint = trace.log_prob_sum(|_| true)?;
//! let log_likelihood = trace.log_prob_sum(|site| site.is_observed)?;
//! assert!(log_likelihood > log_joint);
//! assert_eq!(trace.stochastic_nodes().collect::<Vec<_>>(), ["x"]);
//! assert!(trace.dependency_graph(GraphType::Dense).contains_edge("x", "y_0"));
//!
//! let restored = Trace::from_json(&trace.to_json())?;
//! assert_eq!(restored.log_prob_sum(|_| true)?, log_joint);
//! println!("{trace}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod format;
mod graph;
mod json;
mod log_prob;
mod name;
mod nonfinite;
mod site;
mod trace;

pub use error::TraceError;
pub use graph::{DependencyGraph, GraphType};
pub use name::{Name, SiteNames};
pub use nonfinite::JsonF64;
pub use site::{
    Continuation, DETERMINISTIC_FLAG, Frame, InferConfig, InferValue, Mask, SUBSAMPLE_FLAG, Site,
    SiteKind, SiteType,
};
pub use trace::Trace;

pub use pyro_distributions as distributions;
