//! The `Trace` data structure of pyro-rs: one recorded run of a model, site by site.
//!
//! A [`Site`] is one message of the handler stack (Pyro's message dict, with typed fields); a
//! [`Trace`] keeps the processed sites of one run in order, addressable by [`Name`].
//!
//! # Quick start
//! ```
//! use pyro_trace::{Name, Site, Trace};
//! use pyro_trace::distributions::{Normal, Value};
//!
//! let mut trace = Trace::new();
//! let mut x = Site::sample(Name::from("x"), Normal::new(0.0, 1.0)?.into());
//! x.value = Some(Value::Real(0.5));
//! trace.add_node(x).unwrap();
//! let y = Site::observed(Name::indexed("y", 0), Normal::new(0.5, 1.0)?.into(), Value::Real(1.0));
//! trace.add_node(y).unwrap();
//! assert_eq!(trace.len(), 2);
//! assert!(trace.contains("y_0"));
//! # Ok::<(), pyro_trace::distributions::ParamError>(())
//! ```

mod error;
mod name;
mod site;
mod trace;

pub use error::TraceError;
pub use name::Name;
pub use site::{Continuation, Frame, InferConfig, InferValue, Mask, Site, SiteKind, SiteType};
pub use trace::Trace;

pub use pyro_distributions as distributions;
