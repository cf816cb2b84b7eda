//! Errors of building and scoring a trace.

use crate::name::Name;
use crate::site::SiteKind;
use pyro_distributions::{AnyDistribution, Constraint, Value, is_validation_enabled};
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
    /// With validation on ([`enable_validation`](pyro_distributions::enable_validation)), a
    /// site's value lies outside its distribution's support.
    OutsideSupport {
        /// The site.
        name: Name,
        /// The distribution's family.
        family: String,
        /// The support.
        support: Constraint,
        /// The value, or the element of it, that lies outside (e.g. `2.5`, or
        /// `element 3 = 2.5`).
        value: String,
    },
    /// A typed read of a site's value failed: no such site, no value, or a value of another
    /// type.
    Read {
        /// The site.
        name: Name,
        /// What is wrong.
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
            TraceError::InfiniteSum { plus, minus } => write!(
                f,
                "the log-probabilities sum +inf (site '{plus}') and -inf (site '{minus}'): the \
                 sum is undefined"
            ),
            TraceError::OutsideSupport {
                name,
                family,
                support,
                value,
            } => write!(
                f,
                "site '{name}': the value {value} is outside the support of {family} ({support})"
            ),
            TraceError::Read { name, reason } => write!(f, "site '{name}': {reason}"),
            TraceError::Json { reason } => write!(f, "Invalid trace JSON: {reason}"),
        }
    }
}

impl TraceError {
    /// With validation on ([`enable_validation`](pyro_distributions::enable_validation)) and a
    /// log-probability of `-inf`, the error of a value outside the support of the distribution
    /// at site `name` (elements whose `mask` is `false` are not looked at); `Ok` otherwise, and
    /// without reading `dist` when validation is off or the score is finite.
    ///
    /// ```
    /// use pyro_trace::distributions::{AnyDistribution, Uniform, Value, enable_validation};
    /// use pyro_trace::{Name, TraceError};
    ///
    /// let d: AnyDistribution = Uniform::new(0.0, 1.0)?.into();
    /// let check = |v: f64| {
    ///     TraceError::check_support(&Name::from("y"), d.log_prob(&Value::Real(v)), None, || {
    ///         (d.clone(), Value::Real(v))
    ///     })
    /// };
    /// assert!(check(2.5).is_ok()); // validation is off: -inf is the answer
    /// enable_validation(true);
    /// assert_eq!(
    ///     check(2.5).unwrap_err().to_string(),
    ///     "site 'y': the value 2.5 is outside the support of Uniform (interval [0, 1])"
    /// );
    /// assert!(check(0.5).is_ok());
    /// enable_validation(false);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn check_support(
        name: &Name,
        log_prob: f64,
        mask: Option<&[bool]>,
        dist: impl FnOnce() -> (AnyDistribution, Value),
    ) -> Result<(), TraceError> {
        if log_prob != f64::NEG_INFINITY {
            return Ok(());
        }
        TraceError::support_error(name, mask, dist)
    }

    /// [`check_support`](Self::check_support) for a score of `-inf`, out of line.
    #[cold]
    #[inline(never)]
    fn support_error(
        name: &Name,
        mask: Option<&[bool]>,
        dist: impl FnOnce() -> (AnyDistribution, Value),
    ) -> Result<(), TraceError> {
        if !is_validation_enabled() {
            return Ok(());
        }
        let (dist, value) = dist();
        match outside_support(dist.support(), &value, mask) {
            None => Ok(()),
            Some(value) => Err(TraceError::OutsideSupport {
                name: name.clone(),
                family: dist.family().to_string(),
                support: dist.support(),
                value,
            }),
        }
    }

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

/// The value (or its first element, with its index) outside `support`, written out; `None` if
/// the value lies in the support. Elements whose `mask` is `false` are skipped.
#[cold]
fn outside_support(support: Constraint, value: &Value, mask: Option<&[bool]>) -> Option<String> {
    let kept = |i: usize| mask.is_none_or(|m| m.get(i).copied().unwrap_or(true));
    let reals: Option<Vec<f64>> = match value {
        Value::Reals(v) => Some(v.clone()),
        Value::Ints(v) => Some(v.iter().map(|&k| k as f64).collect()),
        Value::Bools(v) => Some(v.iter().map(|&b| f64::from(u8::from(b))).collect()),
        _ => None,
    };
    match (support, reals) {
        (Constraint::Elementwise(inner), Some(elements)) => elements
            .iter()
            .enumerate()
            .find(|&(i, &x)| kept(i) && !inner.contains_real(x))
            .map(|(i, x)| format!("element {i} = {x}")),
        _ if support.contains(value) || !kept(0) => None,
        (_, _) => Some(match value {
            Value::Real(x) => x.to_string(),
            Value::Int(k) => k.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Reals(v) => format!("{v:?}"),
            Value::Ints(v) => format!("{v:?}"),
            Value::Bools(v) => format!("{v:?}"),
        }),
    }
}
