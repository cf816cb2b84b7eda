//! [`ParamStore`]: learnable parameters, stored unconstrained.

use crate::error::PyroError;
use indexmap::IndexMap;
use pyro_distributions::{Constraint, Value};
use pyro_trace::Name;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use std::sync::{LazyLock, RwLock};

/// Named parameters, each kept as an unconstrained value with its constraint; reads give the
/// constrained value.
///
/// The first initialisation of a name wins: later `param` calls with another initial value or
/// constraint read the stored parameter. The store is shared by all threads of the process
/// ([`with_param_store`]), as Pyro's global store is.
///
/// ```
/// use pyro_poutine::ParamStore;
/// use pyro_poutine::distributions::{Constraint, Value};
///
/// let mut store = ParamStore::new();
/// let v = store.get_or_init("scale".into(), Value::Real(2.0), Constraint::Positive)?;
/// assert_eq!(v, Value::Real(2.0));
/// assert_eq!(store.unconstrained("scale"), Some(&Value::Real(2.0_f64.ln())));
/// // The first init wins.
/// let again = store.get_or_init("scale".into(), Value::Real(5.0), Constraint::Real)?;
/// assert_eq!(again, Value::Real(2.0));
/// # Ok::<(), pyro_poutine::PyroError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamStore {
    params: IndexMap<String, Entry, FxBuildHasher>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    unconstrained: Value,
    constraint: Constraint,
}

impl ParamStore {
    /// An empty store.
    pub fn new() -> Self {
        ParamStore::default()
    }

    /// The constrained value of `name`, initialising it to `init` under `constraint` if absent.
    /// An `init` outside the constraint is an error naming the parameter.
    pub fn get_or_init(
        &mut self,
        name: Name,
        init: Value,
        constraint: Constraint,
    ) -> Result<Value, PyroError> {
        let key = name.as_cow();
        if let Some(v) = self.get(&key) {
            return Ok(v);
        }
        let unconstrained = constraint
            .to_unconstrained(&init)
            .ok_or_else(|| PyroError::Param {
                name: name.clone(),
                reason: format!("initial value {init:?} is not in the constraint {constraint}"),
            })?;
        let value = constraint
            .to_constrained(&unconstrained)
            .expect("a value that maps out maps back");
        self.params.insert(
            key.into_owned(),
            Entry {
                unconstrained,
                constraint,
            },
        );
        Ok(value)
    }

    /// The constrained value of `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        let e = self.params.get(name)?;
        e.constraint.to_constrained(&e.unconstrained)
    }

    /// The unconstrained value of `name`, as stored.
    pub fn unconstrained(&self, name: &str) -> Option<&Value> {
        self.params.get(name).map(|e| &e.unconstrained)
    }

    /// The constraint of `name`.
    pub fn constraint(&self, name: &str) -> Option<Constraint> {
        self.params.get(name).map(|e| e.constraint)
    }

    /// Replaces the unconstrained value of an existing parameter (what an optimiser does).
    /// Errors when `name` is absent or `unconstrained` does not fit the constraint.
    pub fn set_unconstrained(&mut self, name: &str, unconstrained: Value) -> Result<(), PyroError> {
        let e = self.params.get_mut(name).ok_or_else(|| PyroError::Param {
            name: Name::from(name.to_string()),
            reason: "no such parameter".into(),
        })?;
        if e.constraint.to_constrained(&unconstrained).is_none() {
            return Err(PyroError::Param {
                name: Name::from(name.to_string()),
                reason: format!(
                    "unconstrained value {unconstrained:?} does not fit the constraint {}",
                    e.constraint
                ),
            });
        }
        e.unconstrained = unconstrained;
        Ok(())
    }

    /// Removes `name`, returning its constrained value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let e = self.params.shift_remove(name)?;
        e.constraint.to_constrained(&e.unconstrained)
    }

    /// Whether `name` is stored.
    pub fn contains(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// The parameter names, in order of first initialisation.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    /// `(name, constrained value)` pairs, in order of first initialisation.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> {
        self.params.iter().filter_map(|(k, e)| {
            e.constraint
                .to_constrained(&e.unconstrained)
                .map(|v| (k.as_str(), v))
        })
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Removes every parameter.
    pub fn clear(&mut self) {
        self.params.clear();
    }

    /// The store as JSON (unconstrained values and constraints).
    pub fn save(&self) -> String {
        serde_json::to_string(self).expect("a param store always serialises")
    }

    /// Replaces the contents with a store saved by [`save`](ParamStore::save).
    pub fn load(&mut self, json: &str) -> Result<(), PyroError> {
        *self = serde_json::from_str(json).map_err(|e| PyroError::Param {
            name: Name::from("<param store>"),
            reason: format!("cannot load: {e}"),
        })?;
        Ok(())
    }
}

static GLOBAL: LazyLock<RwLock<ParamStore>> = LazyLock::new(|| RwLock::new(ParamStore::new()));

/// Runs `f` on the process-wide parameter store that the `param` primitive uses.
///
/// ```
/// use pyro_poutine::with_param_store;
///
/// with_param_store(|store| store.clear());
/// assert!(with_param_store(|store| store.is_empty()));
/// ```
pub fn with_param_store<T>(f: impl FnOnce(&mut ParamStore) -> T) -> T {
    // A panic inside `f` cannot leave the store half-written (every mutation is one assignment),
    // so a poisoned lock is safe to reuse.
    let mut guard = GLOBAL.write().unwrap_or_else(|p| p.into_inner());
    f(&mut guard)
}
