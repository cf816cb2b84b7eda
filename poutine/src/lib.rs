//! Poutine, the effect handlers of pyro-rs.
//!
//! A model is ordinary code calling the primitives ([`sample`], [`observe`], [`param`],
//! [`factor`], [`deterministic`], [`Plate`]). Each primitive sends a message ([`Site`]) through
//! this thread's stack of handlers ([`apply_stack`]); handlers read and rewrite it. There is no
//! global trace: the [`trace`] handler records one run as a [`Trace`] value. (For speed, a
//! handler that stops and records every sample message may take sample sites directly instead,
//! while no handler but plates' is inside it: [`Messenger::direct`]; and the [`Weigher`], the
//! handler importance sampling's streamed particles run under, takes them by its type. What is
//! recorded is the same.)
//!
//! # Quick start
//! ```
//! use pyro_poutine::{PyroError, observe, sample, trace};
//! use pyro_poutine::distributions::{Normal, Real};
//!
//! fn scale(guess: f64) -> Result<Real, PyroError> {
//!     let weight = sample("weight", Normal::new(guess, 1.0))?;
//!     observe("measurement", Normal::new(weight, 0.75), 9.5)
//! }
//!
//! let tr = trace(scale).get_trace(8.5)?;
//! assert!(tr.get("measurement").unwrap().is_observed);
//! let log_joint = tr.log_prob_sum(|_| true)?;
//! assert!(log_joint.is_finite());
//! # Ok::<(), PyroError>(())
//! ```

mod direct;
mod error;
mod handlers;
mod model;
mod param_store;
mod plate;
mod primitives;
mod run_names;
mod runtime;
mod site_options;

pub use direct::{DirectPlate, DirectSink, DirectSite, Supplied};
pub use error::PyroError;
pub use handlers::block::{BlockBuilder, BlockMessenger, SiteFilter, block};
pub use handlers::condition::{ConditionMessenger, condition};
pub use handlers::escape::{EscapeMessenger, escape};
pub use handlers::infer_config::{InferConfigMessenger, infer_config};
pub use handlers::intervene::{InterveneMessenger, intervene};
pub use handlers::lift::{LiftMessenger, lift};
pub use handlers::mask::{MaskMessenger, mask};
pub use handlers::replay::{ReplayMessenger, replay};
pub use handlers::scale::{ScaleMessenger, scale};
pub use handlers::seed::{SeedMessenger, seed};
pub use handlers::substitute::{SubstituteMessenger, substitute};
pub use handlers::trace::{TraceMessenger, trace};
pub use handlers::uncondition::{UnconditionMessenger, uncondition};
pub use handlers::weigher::{SiteValues, Weigher};
pub use model::{Handled, Handler, IntoModel, Model, NoArgs, Nullary, WithArgs};
pub use param_store::{ParamStore, with_param_store};
pub use plate::{Plate, PlateIndices};
pub use primitives::{deterministic, factor, observe, param, sample};
pub use runtime::{
    Messenger, PyroRng, apply_stack, set_rng_seed, stack_depth, with_handler, with_shared_handler,
};
pub use site_options::{SiteOptions, site};

pub use pyro_distributions as distributions;
pub use pyro_trace::Mask;
pub use pyro_trace::{
    Frame, InferConfig, InferValue, Name, Site, SiteKind, SiteNames, SiteType, Trace,
};
