//! [`InferError`]: what can go wrong in inference.

use pyro_poutine::{Name, PyroError};
use std::fmt;

/// An error of an inference algorithm.
#[derive(Debug)]
#[non_exhaustive]
pub enum InferError {
    /// Running the model or the guide failed for one particle or sample.
    Model {
        /// The particle (or sample) index.
        index: usize,
        /// The error.
        source: PyroError,
    },
    /// There are no samples to summarise (zero particles were requested or kept).
    Empty,
    /// Every log-weight is `-inf` (or NaN): the weights cannot be normalised.
    ZeroWeights,
    /// A site needed for a summary is missing from a sample, or has no value.
    MissingSite {
        /// The site.
        site: Name,
        /// The particle (or sample) index.
        index: usize,
    },
    /// A site's value cannot be summarised (not numeric, or of another length than the others).
    BadValue {
        /// The site, or `"_RETURN"` for the model's return value.
        site: Name,
        /// What is wrong.
        reason: String,
    },
    /// An argument of the algorithm is invalid (e.g. a quantile outside [0, 1]).
    InvalidArgument {
        /// The argument.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for InferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InferError::Model { index, source } => write!(f, "particle {index}: {source}"),
            InferError::Empty => write!(f, "no samples: nothing to summarise"),
            InferError::ZeroWeights => write!(
                f,
                "every log-weight is -inf or NaN: the posterior weights cannot be normalised"
            ),
            InferError::MissingSite { site, index } => {
                write!(f, "sample {index} has no value at site '{site}'")
            }
            InferError::BadValue { site, reason } => write!(f, "site '{site}': {reason}"),
            InferError::InvalidArgument { name, reason } => write!(f, "{name}: {reason}"),
        }
    }
}

impl std::error::Error for InferError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InferError::Model { source, .. } => Some(source),
            _ => None,
        }
    }
}
