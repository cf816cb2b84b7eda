//! `substitute`: fix param values, and latent sample values, from a map.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_distributions::Value;
use pyro_trace::{Name, Site, SiteKind};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The `substitute` handler: a param site named in the data takes the data's value, and the
/// parameter store is neither read nor initialised for it; a latent sample site named in the
/// data takes the data's value too and stays latent (NumPyro's `substitute`), so it is scored
/// as a draw of that value. Observed sample sites are untouched. Both are marked `done`.
///
/// Values are constrained values, and must have the type the site produces (else the primitive
/// fails with [`PyroError::ValueType`]). Keys no site uses are ignored.
///
/// ```
/// use pyro_poutine::{Handler, PyroError, SubstituteMessenger, param, sample, substitute, trace};
/// use pyro_poutine::distributions::{Constraint, Normal, Real, Value};
///
/// fn model(_: ()) -> Result<Real, PyroError> {
///     let loc: f64 = param("doc_substitute_loc", 0.0, Constraint::Real)?;
///     sample("z", Normal::new(loc, 1.0))
/// }
/// // Model form: the param is fixed; the store never sees "doc_substitute_loc".
/// let fixed = substitute(model, [("doc_substitute_loc", Value::Real(3.0))]);
/// let tr = trace(fixed).get_trace(())?;
/// assert_eq!(tr.get("doc_substitute_loc").unwrap().value, Some(Value::Real(3.0)));
/// // Scope form: a latent value is fixed and stays latent.
/// let z = SubstituteMessenger::new([("z", Value::Real(0.5))]).run(|| model(()))?;
/// assert_eq!(z, 0.5);
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SubstituteMessenger {
    data: Arc<FxHashMap<Name, Value>>,
}

impl SubstituteMessenger {
    /// Substitutes the values of `data` (names to constrained values); a name given twice keeps
    /// its last value.
    pub fn new<K: Into<Name>, V: Into<Value>>(data: impl IntoIterator<Item = (K, V)>) -> Self {
        let map = data
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        SubstituteMessenger {
            data: Arc::new(map),
        }
    }
}

impl Messenger for SubstituteMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if msg.kind == SiteKind::Sample && msg.is_observed {
            return Ok(());
        }
        if let Some(value) = self.data.get(&msg.name) {
            msg.value = Some(value.clone());
            msg.done = true;
        }
        Ok(())
    }
}

/// Wraps `model` in a `substitute` of `data` (names to constrained values).
pub fn substitute<M: IntoModel<Mk>, Mk, K: Into<Name>, V: Into<Value>>(
    model: M,
    data: impl IntoIterator<Item = (K, V)>,
) -> Handled<M::Model, SubstituteMessenger> {
    SubstituteMessenger::new(data).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Constraint, Normal};
    use crate::handlers::condition::condition;
    use crate::handlers::trace::trace;
    use crate::param_store::with_param_store;
    use crate::runtime::stack_depth;
    use crate::{Model, observe, param, sample};

    fn real(x: f64) -> Value {
        Value::Real(x)
    }

    #[test]
    fn params_are_fixed_and_the_store_untouched() {
        let name = "substitute_test_param_a";
        let m = move |_: ()| -> Result<f64, PyroError> {
            let a: f64 = param(name, 0.5, Constraint::Positive)?;
            // A repeated param reads the same substituted value.
            let again: f64 = param(name, 0.5, Constraint::Positive)?;
            assert_eq!(a, again);
            Ok(a)
        };
        let tr = trace(substitute(m, [(name, real(0.3))]))
            .get_trace(())
            .unwrap();
        assert_eq!(tr.output::<f64>(), Some(&0.3));
        let site = tr.get(name).unwrap();
        assert_eq!(site.kind, SiteKind::Param);
        assert_eq!(site.value, Some(real(0.3)));
        assert!(with_param_store(|s| s.get(name)).is_none());
        // Without substitute the store is initialised.
        assert_eq!(Model::call(&m, ()).unwrap(), 0.5);
        assert_eq!(with_param_store(|s| s.get(name)), Some(real(0.5)));
    }

    #[test]
    fn substituted_value_ignores_the_stored_value() {
        let name = "substitute_test_param_b";
        let m = move |_: ()| param(name, 1.0, Constraint::Real);
        assert_eq!(Model::call(&m, ()).unwrap(), 1.0);
        assert_eq!(substitute(m, [(name, real(-4.0))]).call(()).unwrap(), -4.0);
        // The store keeps its own value.
        assert_eq!(with_param_store(|s| s.get(name)), Some(real(1.0)));
    }

    #[test]
    fn latent_samples_are_fixed_and_stay_latent() {
        let m = |_: ()| -> Result<f64, PyroError> {
            let z = sample("z", Normal::new(0.0, 1.0))?;
            let w = sample("w", Normal::new(z, 1.0))?;
            Ok((z + w).value())
        };
        let tr = trace(substitute(m, [("z", real(2.0))]))
            .get_trace(())
            .unwrap();
        let z = tr.get("z").unwrap();
        assert!(!z.is_observed);
        assert_eq!(z.value, Some(real(2.0)));
        assert!(!tr.get("w").unwrap().is_observed);
    }

    #[test]
    fn observed_sites_are_untouched() {
        let m = |_: ()| observe("y", Normal::new(0.0, 1.0), 1.0);
        let tr = trace(substitute(m, [("y", real(5.0))]))
            .get_trace(())
            .unwrap();
        let y = tr.get("y").unwrap();
        assert!(y.is_observed);
        assert_eq!(y.value, Some(real(1.0)));
        // A site an inner condition observes is untouched too.
        let m = |_: ()| sample("y", Normal::new(0.0, 1.0));
        let out = substitute(condition(m, [("y", real(1.0))]), [("y", real(5.0))])
            .call(())
            .unwrap();
        assert_eq!(out, 1.0);
        // An outer condition overrides the substituted latent value.
        let out = condition(substitute(m, [("y", real(5.0))]), [("y", real(1.0))])
            .call(())
            .unwrap();
        assert_eq!(out, 1.0);
    }

    #[test]
    fn type_mismatch_is_an_error_and_unwinds() {
        let m = |_: ()| param("substitute_test_param_c", 1.0, Constraint::Real);
        let err = substitute(m, [("substitute_test_param_c", Value::Bools(vec![true]))])
            .call(())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "site 'substitute_test_param_c': the value is a bool vector, but its distribution \
             produces a real"
        );
        assert_eq!(stack_depth(), 0);
    }

    #[test]
    fn unused_keys_are_ignored() {
        let m = |_: ()| sample("z", Normal::new(0.0, 1.0));
        assert!(substitute(m, [("nothing", real(1.0))]).call(()).is_ok());
    }
}
