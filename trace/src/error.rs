//! Errors of building and scoring a trace.

use crate::name::Name;
use crate::site::SiteKind;
use std::fmt;

/// An error while building or scoring a trace; each names the site.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TraceError {
    /// Two sample sites with the same name in one trace.
    DuplicateSite {
        /// The repeated name.
        name: Name,
    },
    /// A name used by a site of another kind (e.g. a sample named like an earlier param).
    KindClash {
        /// The name.
        name: Name,
        /// The kind of the site already recorded.
        existing: SiteKind,
        /// The kind of the new site.
        new: SiteKind,
    },
    /// Scoring a site failed.
    LogProb {
        /// The site.
        name: Name,
        /// Why.
        reason: String,
    },
    /// A trace could not be read from JSON.
    Json {
        /// The parser's message.
        reason: String,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::DuplicateSite { name } => write!(f, "Multiple sample sites named '{name}'"),
            TraceError::KindClash {
                name,
                existing,
                new,
            } => write!(
                f,
                "{new:?} site '{name}' clashes with the {existing:?} site of the same name already in the trace"
            ),
            TraceError::LogProb { name, reason } => {
                write!(
                    f,
                    "Error while computing log_prob at site '{name}': {reason}"
                )
            }
            TraceError::Json { reason } => write!(f, "Invalid trace JSON: {reason}"),
        }
    }
}

impl std::error::Error for TraceError {}
