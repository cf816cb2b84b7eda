//! The validation switch (Pyro's `enable_validation`): whether a value outside its
//! distribution's support is an error instead of a log-probability of `-inf`.

use std::sync::atomic::{AtomicBool, Ordering};

static VALIDATION: AtomicBool = AtomicBool::new(false);

/// Turns validation on or off for the whole process (Pyro's `pyro.enable_validation`).
///
/// - **Off (the default here)**: a value outside its distribution's support scores exactly
///   `-inf`, which is exact, and what models whose support depends on a latent need (in
///   `y ~ Uniform(0, x)`, a small `x` makes the observed `y` impossible; that particle or that
///   proposal simply gets weight 0).
/// - **On**: scoring an observed, conditioned, replayed or substituted value outside the support
///   is an error naming the site, the distribution, its support and the value, so that a data
///   bug is found at once (Pyro's strict mode).
///
/// Pyro turns validation on by default (off only under `python -O`); here it is off by default
/// because the `-inf` is the right answer and the check is one comparison only where a score is
/// `-inf`. The switch is process-wide, as Pyro's is, so that every worker thread of a parallel
/// run sees it.
///
/// ```
/// use pyro_distributions::{enable_validation, is_validation_enabled};
///
/// assert!(!is_validation_enabled());
/// enable_validation(true);
/// assert!(is_validation_enabled());
/// enable_validation(false);
/// ```
pub fn enable_validation(on: bool) {
    VALIDATION.store(on, Ordering::Relaxed);
}

/// Whether validation is on (see [`enable_validation`]).
#[inline]
pub fn is_validation_enabled() -> bool {
    VALIDATION.load(Ordering::Relaxed)
}
