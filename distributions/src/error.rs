//! The error returned by distribution constructors.

use std::fmt;

/// An invalid parameter given to a distribution constructor.
///
/// The message names the family, the parameter, the offending value and what was required of it,
/// e.g. `Normal: invalid parameter scale = -1 (must be finite and > 0)`.
///
/// ```
/// use pyro_distributions::Normal;
///
/// let err = Normal::new(0.0, -1.0).unwrap_err();
/// assert_eq!(err.family, "Normal");
/// assert_eq!(err.param, "scale");
/// assert_eq!(err.to_string(), "Normal: invalid parameter scale = -1 (must be finite and > 0)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    /// The distribution family, e.g. `"Normal"`.
    pub family: &'static str,
    /// The parameter name as the constructor spells it, e.g. `"scale"` or `"probs[2]"`.
    pub param: String,
    /// The offending value, printed.
    pub value: String,
    /// What the parameter must satisfy, e.g. `"must be finite and > 0"`.
    pub requirement: &'static str,
}

impl ParamError {
    /// Builds an error for a scalar parameter.
    #[cold]
    pub fn new(
        family: &'static str,
        param: impl Into<String>,
        value: impl fmt::Display,
        requirement: &'static str,
    ) -> Self {
        ParamError {
            family,
            param: param.into(),
            value: value.to_string(),
            requirement,
        }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: invalid parameter {} = {} ({})",
            self.family, self.param, self.value, self.requirement
        )
    }
}

impl std::error::Error for ParamError {}

/// Checks that a scalar parameter is finite.
pub(crate) fn finite(family: &'static str, param: &'static str, x: f64) -> Result<f64, ParamError> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(ParamError::new(family, param, x, "must be finite"))
    }
}

/// Checks that a scalar parameter is finite and strictly positive.
pub(crate) fn positive(
    family: &'static str,
    param: &'static str,
    x: f64,
) -> Result<f64, ParamError> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(ParamError::new(family, param, x, "must be finite and > 0"))
    }
}

/// Checks that a scalar parameter is a probability in `[0, 1]`.
pub(crate) fn probability(
    family: &'static str,
    param: &'static str,
    x: f64,
) -> Result<f64, ParamError> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(ParamError::new(family, param, x, "must be in [0, 1]"))
    }
}
