//! `infer_config`: add per-site inference configuration computed from each site.

use crate::error::PyroError;
use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::Messenger;
use pyro_trace::{InferConfig, Site, SiteKind};
use std::fmt;
use std::sync::Arc;

/// The configuration function of an [`InferConfigMessenger`].
type ConfigFn = Arc<dyn Fn(&Site) -> InferConfig + Send + Sync>;

/// The `infer_config` handler: for every sample and param message, calls the configuration
/// function on the message and merges the returned entries into its `infer` config (returned
/// entries replace existing ones with the same key).
///
/// ```
/// use pyro_poutine::{Handler, InferConfig, InferConfigMessenger, InferValue, PyroError, Site};
/// use pyro_poutine::{TraceMessenger, infer_config, sample, trace};
/// use pyro_poutine::distributions::{Bernoulli, Normal};
///
/// fn model(_: ()) -> Result<bool, PyroError> {
///     let x = sample("x", Normal::new(0.0, 1.0))?;
///     sample("b", Bernoulli::new(if x > 0.0 { 0.9 } else { 0.1 }))
/// }
/// // Mark the discrete site for enumeration.
/// fn config(site: &Site) -> InferConfig {
///     let mut c = InferConfig::new();
///     if site.dist.as_ref().is_some_and(|d| d.family() == "Bernoulli") {
///         c.insert("enumerate", InferValue::Str("parallel".into()));
///     }
///     c
/// }
/// // Around a model:
/// let tr = trace(infer_config(model, config)).get_trace(())?;
/// assert_eq!(
///     tr.get("b").unwrap().infer.get("enumerate"),
///     Some(&InferValue::Str("parallel".into()))
/// );
/// assert!(tr.get("x").unwrap().infer.is_empty());
/// // Around a closure:
/// let (_, tr) = TraceMessenger::record(|| InferConfigMessenger::new(config).run(|| model(())))?;
/// assert!(tr.get("b").unwrap().infer.get("enumerate").is_some());
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone)]
pub struct InferConfigMessenger {
    config_fn: ConfigFn,
}

impl InferConfigMessenger {
    /// A handler merging `config_fn(site)` into the `infer` config of each sample and param site.
    pub fn new(config_fn: impl Fn(&Site) -> InferConfig + Send + Sync + 'static) -> Self {
        InferConfigMessenger {
            config_fn: Arc::new(config_fn),
        }
    }
}

impl fmt::Debug for InferConfigMessenger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InferConfigMessenger")
            .finish_non_exhaustive()
    }
}

impl Messenger for InferConfigMessenger {
    fn process(&mut self, msg: &mut Site) -> Result<(), PyroError> {
        if matches!(msg.kind, SiteKind::Sample | SiteKind::Param) {
            let config = (self.config_fn)(msg);
            if !config.is_empty() {
                msg.infer.merge(&config);
            }
        }
        Ok(())
    }
}

/// Wraps `model` in an [`InferConfigMessenger`]: `config_fn(site)` is merged into the `infer`
/// config of each sample and param site.
pub fn infer_config<M: IntoModel<Mk>, Mk>(
    model: M,
    config_fn: impl Fn(&Site) -> InferConfig + Send + Sync + 'static,
) -> Handled<M::Model, InferConfigMessenger> {
    InferConfigMessenger::new(config_fn).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Constraint, Normal, Real};
    use crate::{InferValue, Model, TraceMessenger, observe, param, sample, stack_depth, trace};

    fn model(_: ()) -> Result<(), PyroError> {
        sample("x", Normal::new(0.0, 1.0))?;
        observe("y", Normal::new(0.0, 1.0), 0.1)?;
        param("infer_config_test_p", 1.0, Constraint::Real)?;
        Ok(())
    }

    fn tag(key: &'static str, value: i64) -> impl Fn(&Site) -> InferConfig + Send + Sync {
        move |_| {
            let mut c = InferConfig::new();
            c.insert(key, InferValue::Int(value));
            c
        }
    }

    #[test]
    fn merges_into_sample_observed_and_param_sites() {
        let tr = trace(infer_config(model, tag("k", 1)))
            .get_trace(())
            .unwrap();
        for name in ["x", "y", "infer_config_test_p"] {
            assert_eq!(
                tr.get(name).unwrap().infer.get("k"),
                Some(&InferValue::Int(1)),
                "site {name}"
            );
        }
    }

    #[test]
    fn the_function_sees_the_site() {
        let f = |site: &Site| {
            let mut c = InferConfig::new();
            c.insert("observed", InferValue::Bool(site.is_observed));
            if site.name == "x" {
                c.insert("is_x", InferValue::Bool(true));
            }
            c
        };
        let tr = trace(infer_config(model, f)).get_trace(()).unwrap();
        assert!(tr.get("x").unwrap().infer.flag("is_x"));
        assert!(!tr.get("y").unwrap().infer.flag("is_x"));
        assert!(tr.get("y").unwrap().infer.flag("observed"));
        assert!(!tr.get("x").unwrap().infer.flag("observed"));
    }

    #[test]
    fn nesting_outer_wins_on_shared_keys_and_entries_accumulate() {
        let m = infer_config(infer_config(model, tag("k", 1)), tag("k", 2));
        let m = infer_config(m, tag("other", 3));
        let tr = trace(m).get_trace(()).unwrap();
        let infer = &tr.get("x").unwrap().infer;
        assert_eq!(infer.get("k"), Some(&InferValue::Int(2)));
        assert_eq!(infer.get("other"), Some(&InferValue::Int(3)));
        assert_eq!(infer.iter().count(), 2);
    }

    #[test]
    fn do_not_trace_from_config_hides_the_site_from_an_outer_trace() {
        let f = |site: &Site| {
            let mut c = InferConfig::new();
            if site.name == "x" {
                c.insert("_do_not_trace", InferValue::Bool(true));
            }
            c
        };
        let tr = trace(infer_config(model, f)).get_trace(()).unwrap();
        assert!(!tr.contains("x") && tr.contains("y"));
    }

    #[test]
    fn empty_config_changes_nothing_and_stack_is_empty_after_errors() {
        let tr = trace(infer_config(model, |_| InferConfig::new()))
            .get_trace(())
            .unwrap();
        assert!(tr.iter().all(|s| s.infer.is_empty()));
        let failing = |()| -> Result<Real, PyroError> { sample("bad", Normal::new(0.0, -1.0)) };
        assert!(infer_config(failing, tag("k", 1)).call(()).is_err());
        assert_eq!(stack_depth(), 0);
        let (_, tr) =
            TraceMessenger::record(|| InferConfigMessenger::new(tag("k", 4)).run(|| model(())))
                .unwrap();
        assert_eq!(
            tr.get("x").unwrap().infer.get("k"),
            Some(&InferValue::Int(4))
        );
    }
}
