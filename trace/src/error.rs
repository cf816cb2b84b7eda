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
    /// A sum of log-probabilities met `+inf` at one site and `-inf` at another: the sum is
    /// undefined (an improper density meeting an impossible value).
    InfiniteSum {
        /// The first site that scored `+inf`.
        plus: Name,
        /// The first site that scored `-inf`.
        minus: Name,
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
            TraceError::InfiniteSum { plus, minus } => write!(
                f,
                "the log-probabilities sum +inf (site '{plus}') and -inf (site '{minus}'): the \
                 sum is undefined"
            ),
            TraceError::Json { reason } => write!(f, "Invalid trace JSON: {reason}"),
        }
    }
}

impl TraceError {
    /// Checks the unscaled, unmasked log-probability `log_prob` of site `name`: NaN is an error
    /// naming the site.
    ///
    /// ```
    /// use pyro_trace::{Name, TraceError};
    ///
    /// assert_eq!(TraceError::check_log_prob(&Name::from("y"), -1.5), Ok(-1.5));
    /// let err = TraceError::check_log_prob(&Name::from("y"), f64::NAN).unwrap_err();
    /// assert_eq!(err.to_string(), "Error while computing log_prob at site 'y': log_prob is NaN");
    /// ```
    #[inline]
    pub fn check_log_prob(name: &Name, log_prob: f64) -> Result<f64, TraceError> {
        if log_prob.is_nan() {
            return Err(TraceError::nan_log_prob(name));
        }
        Ok(log_prob)
    }

    /// The error of a NaN log-probability at site `name`.
    #[cold]
    fn nan_log_prob(name: &Name) -> TraceError {
        TraceError::LogProb {
            name: name.clone(),
            reason: "log_prob is NaN".into(),
        }
    }

    /// Scales the checked log-probability `log_prob` of site `name` by `scale`: NaN (from a NaN
    /// or infinite scale) is an error naming the site.
    ///
    /// ```
    /// use pyro_trace::{Name, TraceError};
    ///
    /// let y = Name::from("y");
    /// assert_eq!(TraceError::check_scaled(&y, 2.0, -1.5), Ok(-3.0));
    /// let err = TraceError::check_scaled(&y, 0.0, f64::NEG_INFINITY).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Error while computing log_prob at site 'y': scale 0 times log_prob -inf is NaN"
    /// );
    /// ```
    pub fn check_scaled(name: &Name, scale: f64, log_prob: f64) -> Result<f64, TraceError> {
        if scale == 1.0 {
            return Ok(log_prob);
        }
        let total = scale * log_prob;
        if total.is_nan() {
            return Err(TraceError::LogProb {
                name: name.clone(),
                reason: format!("scale {scale} times log_prob {log_prob} is NaN"),
            });
        }
        Ok(total)
    }
}

impl std::error::Error for TraceError {}
