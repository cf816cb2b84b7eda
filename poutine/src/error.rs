//! [`PyroError`]: everything that can go wrong while running a model under handlers.

use pyro_distributions::ParamError;
use pyro_trace::{Name, Site, TraceError};
use std::fmt;

/// An error raised while running a model under effect handlers. Every variant names the site,
/// plate or handler it concerns.
///
/// A model returns `Result<_, PyroError>` and can use `?` on distribution constructors and on
/// the primitives; user errors of other types can be carried with [`PyroError::model`].
#[derive(Debug)]
#[non_exhaustive]
pub enum PyroError {
    /// A distribution constructor rejected its parameters; `site` names the sample site when the
    /// constructor's result was passed to the primitive directly.
    Distribution {
        /// The site, when known.
        site: Option<Name>,
        /// The constructor's error.
        source: ParamError,
    },
    /// Building or scoring a trace failed (duplicate names, a sample named like a param, ...).
    Trace(TraceError),
    /// A site's value does not have the type its distribution produces.
    ValueType {
        /// The site.
        site: Name,
        /// The type the distribution produces.
        expected: &'static str,
        /// The type of the value found.
        found: &'static str,
    },
    /// `replay` found a node that is not a latent sample site.
    ReplayNotSampled {
        /// The site.
        site: Name,
    },
    /// A plate's size or subsample is invalid, or model and guide disagree on it.
    Plate {
        /// The plate.
        plate: Name,
        /// What is wrong.
        reason: String,
    },
    /// A batched site inside a vectorised plate has the wrong length.
    BatchLength {
        /// The plate.
        plate: Name,
        /// The site.
        site: Name,
        /// The plate's (sub)sample size.
        expected: usize,
        /// The site's batch length (`None`: not batched).
        found: Option<usize>,
    },
    /// Two `intervene` handlers act on the same site.
    DuplicateIntervention {
        /// The site.
        site: Name,
    },
    /// A handler was configured with invalid arguments (e.g. `scale` <= 0, `block` hiding and
    /// exposing one site).
    InvalidHandler {
        /// The handler, e.g. `"scale"`.
        handler: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A strict handler was given data for sites the run never reached (a strict `condition`).
    UnusedData {
        /// The handler, e.g. `"condition"`.
        handler: &'static str,
        /// The unused keys, in the data's order.
        keys: Vec<Name>,
    },
    /// A parameter-store operation failed (bad initial value for its constraint, load error).
    Param {
        /// The parameter.
        name: Name,
        /// What is wrong.
        reason: String,
    },
    /// A message left the stack in a state the primitive cannot use (a handler marked it done
    /// without a value, or removed its distribution).
    InvalidMessage {
        /// The site.
        site: Name,
        /// What is wrong.
        reason: &'static str,
    },
    /// `escape` stopped the model at this site (Pyro's `NonlocalExit`). Not a failure: the
    /// caller matches on it.
    Escape(Box<Site>),
    /// An error raised by the user's model code.
    Model(Box<dyn std::error::Error + Send + Sync>),
}

impl PyroError {
    /// Wraps an error of the user's model.
    pub fn model(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        PyroError::Model(err.into())
    }

    pub(crate) fn invalid(handler: &'static str, reason: impl Into<String>) -> Self {
        PyroError::InvalidHandler {
            handler,
            reason: reason.into(),
        }
    }

    pub(crate) fn plate(plate: &Name, reason: impl Into<String>) -> Self {
        PyroError::Plate {
            plate: plate.clone(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for PyroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyroError::Distribution {
                site: Some(s),
                source,
            } => {
                write!(f, "at sample site '{s}': {source}")
            }
            PyroError::Distribution { site: None, source } => write!(f, "{source}"),
            PyroError::Trace(e) => write!(f, "{e}"),
            PyroError::ValueType {
                site,
                expected,
                found,
            } => write!(
                f,
                "site '{site}': the value is a {found}, but its distribution produces a {expected}"
            ),
            PyroError::ReplayNotSampled { site } => {
                write!(f, "site '{site}' must be sampled in trace")
            }
            PyroError::Plate { plate, reason } => write!(f, "plate '{plate}': {reason}"),
            PyroError::BatchLength {
                plate,
                site,
                expected,
                found: Some(n),
            } => write!(
                f,
                "site '{site}' in plate '{plate}' has batch length {n}, expected {expected}"
            ),
            PyroError::BatchLength {
                plate,
                site,
                expected,
                found: None,
            } => write!(
                f,
                "site '{site}' in vectorised plate '{plate}' is not batched; expected a batch of \
                 {expected}: give it one element per index (Batched::iid(dist, {expected}), or a \
                 batched constructor such as Normal::batch), or move it out of the plate (Pyro \
                 would draw it {expected} times)"
            ),
            PyroError::DuplicateIntervention { site } => {
                write!(f, "site '{site}' is intervened on twice")
            }
            PyroError::InvalidHandler { handler, reason } => write!(f, "{handler}: {reason}"),
            PyroError::UnusedData { handler, keys } => {
                write!(f, "{handler}: no sample site used the data for ")?;
                for (i, k) in keys.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}'{k}'")?;
                }
                Ok(())
            }
            PyroError::Param { name, reason } => write!(f, "param '{name}': {reason}"),
            PyroError::InvalidMessage { site, reason } => write!(f, "site '{site}': {reason}"),
            PyroError::Escape(site) => write!(f, "escaped at site '{}'", site.name),
            PyroError::Model(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PyroError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PyroError::Distribution { source, .. } => Some(source),
            PyroError::Trace(e) => Some(e),
            PyroError::Model(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<ParamError> for PyroError {
    fn from(source: ParamError) -> Self {
        PyroError::Distribution { site: None, source }
    }
}

/// A model's own error, boxed (the error type a model returns to use `?` on any error): a
/// `PyroError` inside comes back as itself (so that an `escape`, say, keeps its meaning), any
/// other error becomes [`PyroError::Model`].
impl From<Box<dyn std::error::Error + Send + Sync>> for PyroError {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        match e.downcast::<PyroError>() {
            Ok(pyro) => *pyro,
            Err(other) => PyroError::Model(other),
        }
    }
}

impl From<TraceError> for PyroError {
    fn from(e: TraceError) -> Self {
        PyroError::Trace(e)
    }
}
