//! `scale`: multiply the log-probability of every site by a constant.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_trace::Site;

/// The `scale` handler: multiplies `scale` of every message it sees (sample, observed and param
/// sites alike) by a positive, finite factor, so that the sites' log-probabilities are weighted
/// by it. Nested scales multiply: a scale of 2 inside a scale of 3 gives 6.
///
/// ```
/// use pyro_poutine::{Handler, PyroError, ScaleMessenger, observe, sample, scale, trace, TraceMessenger};
/// use pyro_poutine::distributions::{Normal, Real};
///
/// fn model(y: f64) -> Result<Real, PyroError> {
///     let x = sample("x", Normal::new(0.0, 1.0))?;
///     observe("y", Normal::new(x, 1.0), y)
/// }
/// // Around a model:
/// let tr = trace(scale(model, 2.0)?).get_trace(0.5)?;
/// assert_eq!(tr.get("y").unwrap().scale, 2.0);
/// // Around a closure, nested: the factors multiply.
/// let (_, tr) = TraceMessenger::record(|| {
///     ScaleMessenger::new(3.0)?.run(|| ScaleMessenger::new(2.0)?.run(|| model(0.5)))
/// })?;
/// assert_eq!(tr.get("x").unwrap().scale, 6.0);
/// assert!(ScaleMessenger::new(0.0).is_err());
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaleMessenger {
    scale: f64,
}

impl ScaleMessenger {
    /// A handler multiplying scales by `scale`, which must be finite and > 0.
    pub fn new(scale: f64) -> Result<Self, PyroError> {
        if scale.is_finite() && scale > 0.0 {
            Ok(ScaleMessenger { scale })
        } else {
            Err(PyroError::invalid(
                "scale",
                format!("the factor must be finite and > 0, got {scale}"),
            ))
        }
    }

    /// The factor.
    pub fn factor(&self) -> f64 {
        self.scale
    }
}

impl Messenger for ScaleMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        msg.scale *= self.scale;
        Ok(())
    }
}

/// Wraps `model` in a [`ScaleMessenger`] handler with factor `scale` (finite and > 0).
pub fn scale<M: IntoModel<Mk>, Mk>(
    model: M,
    scale: f64,
) -> Result<Handled<M::Model, ScaleMessenger>, PyroError> {
    Ok(ScaleMessenger::new(scale)?.wrap(model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Batched, Constraint, Normal, Real};
    use crate::{Model, Plate, TraceMessenger, observe, param, sample, stack_depth, trace};

    fn model(_: ()) -> Result<Real, PyroError> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        observe("y", Normal::new(x, 1.0), 0.25)
    }

    #[test]
    fn scales_latent_observed_and_param_sites() {
        let m = |()| -> Result<(), PyroError> {
            sample("x", Normal::new(0.0, 1.0))?;
            observe("y", Normal::new(0.0, 1.0), 0.3)?;
            param("scale_test_param_p", 1.0, Constraint::Real)?;
            Ok(())
        };
        let tr = trace(scale(m, 0.5).unwrap()).get_trace(()).unwrap();
        for name in ["x", "y", "scale_test_param_p"] {
            assert_eq!(tr.get(name).unwrap().scale, 0.5, "site {name}");
        }
    }

    #[test]
    fn nesting_multiplies() {
        let m = scale(scale(model, 2.0).unwrap(), 3.0).unwrap();
        let tr = trace(m).get_trace(()).unwrap();
        assert_eq!(tr.get("x").unwrap().scale, 6.0);
        assert_eq!(tr.get("y").unwrap().scale, 6.0);
        // The trace's log-density is scaled accordingly.
        let raw: f64 = tr
            .iter()
            .map(|s| s.dist.as_ref().unwrap().log_prob(s.value.as_ref().unwrap()))
            .sum();
        let scaled = tr.log_prob_sum(|_| true).unwrap();
        assert!((scaled - 6.0 * raw).abs() < 1e-12 * raw.abs().max(1.0));
    }

    #[test]
    fn inner_trace_records_the_outer_scale_unless_stopped() {
        // Every handler processes a message before any postprocesses it, so a trace inside a
        // scale records the scaled site (Pyro's order).
        let (_, (inner, _)) = crate::with_handler(ScaleMessenger::new(4.0).unwrap(), || {
            crate::with_handler(TraceMessenger::new(), || model(()))
        });
        assert_eq!(inner.into_trace().get("x").unwrap().scale, 4.0);
        // A message blocked below the scale never reaches it.
        let (_, (_, (tracer, _))) = crate::with_handler(ScaleMessenger::new(4.0).unwrap(), || {
            crate::with_handler(crate::BlockMessenger::new(), || {
                crate::with_handler(TraceMessenger::new(), || model(()))
            })
        });
        assert_eq!(tracer.into_trace().get("x").unwrap().scale, 1.0);
    }

    #[test]
    fn composes_with_plate_subsampling() {
        let m = |()| -> Result<(), PyroError> {
            Plate::new("p", 10).subsample_size(4).run(|_| {
                sample("z", Batched::iid(Normal::new(0.0, 1.0)?, 4)?)?;
                Ok(())
            })
        };
        let tr = trace(scale(m, 2.0).unwrap()).get_trace(()).unwrap();
        assert_eq!(tr.get("z").unwrap().scale, 2.0 * 2.5);
    }

    #[test]
    fn invalid_factors_are_errors() {
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = ScaleMessenger::new(s).unwrap_err();
            assert!(matches!(
                err,
                PyroError::InvalidHandler {
                    handler: "scale",
                    ..
                }
            ));
            assert_eq!(
                err.to_string(),
                format!("scale: the factor must be finite and > 0, got {s}")
            );
            assert!(scale(model, s).is_err());
        }
        assert_eq!(
            ScaleMessenger::new(-1.0).unwrap_err().to_string(),
            "scale: the factor must be finite and > 0, got -1"
        );
    }

    #[test]
    fn scope_form_and_stack_after_error() {
        let x = ScaleMessenger::new(2.0)
            .unwrap()
            .run(|| sample("x", Normal::new(0.0, 1.0)))
            .unwrap();
        assert!(x.is_finite());
        let failing = |()| -> Result<Real, PyroError> { sample("bad", Normal::new(0.0, -1.0)) };
        assert!(scale(failing, 2.0).unwrap().call(()).is_err());
        assert_eq!(stack_depth(), 0);
        assert_eq!(ScaleMessenger::new(1.5).unwrap().factor(), 1.5);
    }
}
