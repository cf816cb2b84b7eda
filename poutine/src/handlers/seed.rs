//! `seed`: a deterministic random-number generator for a model's draws.

use crate::model::{Handled, Handler, IntoModel};
use crate::runtime::{Messenger, PyroRng};
use rand::SeedableRng;

/// The `seed` handler: draws of the sites it sees (the default step of latent sample sites and
/// plate subsamples) come from its own generator, seeded with a fixed `u64` (NumPyro's `seed`).
///
/// Each run of a seeded model starts from the same state, so it gives the same draws on every
/// call and on any thread, whatever the thread's own generator ([`set_rng_seed`]) holds. An inner
/// `seed` takes precedence over an outer one for the sites it sees.
///
/// [`set_rng_seed`]: crate::set_rng_seed
///
/// ```
/// use pyro_poutine::{Handler, PyroError, SeedMessenger, sample, seed};
/// use pyro_poutine::distributions::{Normal, Real};
/// use pyro_poutine::Model;
///
/// fn model(loc: f64) -> Result<Real, PyroError> {
///     sample("x", Normal::new(loc, 1.0))
/// }
/// // Around a model: every call gives the same draw.
/// let seeded = seed(model, 42);
/// assert_eq!(seeded.call(0.0)?, seeded.call(0.0)?);
/// // Around a closure.
/// let a = SeedMessenger::new(42).run(|| model(0.0))?;
/// assert_eq!(a, seeded.call(0.0)?);
/// # Ok::<(), PyroError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SeedMessenger {
    seed: u64,
    rng: PyroRng,
}

impl SeedMessenger {
    /// A handler whose generator is seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SeedMessenger {
            seed,
            rng: PyroRng::seed_from_u64(seed),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl Messenger for SeedMessenger {
    fn rng(&mut self) -> Option<&mut PyroRng> {
        Some(&mut self.rng)
    }
}

/// Wraps `model` in a [`SeedMessenger`] handler: each call draws from a generator seeded with `seed`.
pub fn seed<M: IntoModel<Mk>, Mk>(model: M, seed: u64) -> Handled<M::Model, SeedMessenger> {
    SeedMessenger::new(seed).wrap(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributions::{Bernoulli, Normal, Real, Value};
    use crate::error::PyroError;
    use crate::{
        Model, Plate, PlateIndices, TraceMessenger, sample, set_rng_seed, stack_depth, trace,
    };

    fn model(_: ()) -> Result<(f64, f64, bool), PyroError> {
        let x = sample("x", Normal::new(0.0, 1.0))?;
        let y = sample("y", Normal::new(x, 1.0))?;
        let b = sample("b", Bernoulli::new(0.5))?;
        Ok((x.value(), y.value(), b))
    }

    #[test]
    fn same_draws_on_every_call() {
        let m = seed(model, 7);
        let first = m.call(()).unwrap();
        set_rng_seed(1);
        assert_eq!(m.call(()).unwrap(), first);
        set_rng_seed(2);
        assert_eq!(m.call(()).unwrap(), first);
        // The scope form starts from the same state as the model form.
        assert_eq!(SeedMessenger::new(7).run(|| model(())).unwrap(), first);
        // Successive draws within one run differ.
        assert_ne!(first.0, first.1);
    }

    #[test]
    fn different_seeds_give_different_draws() {
        assert_ne!(
            seed(model, 1).call(()).unwrap().0,
            seed(model, 2).call(()).unwrap().0
        );
    }

    #[test]
    fn same_draws_on_any_thread() {
        let here = seed(model, 11).call(()).unwrap();
        let handles: Vec<_> = (0..3)
            .map(|i| {
                std::thread::spawn(move || {
                    set_rng_seed(100 + i);
                    seed(model, 11).call(()).unwrap()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), here);
        }
    }

    #[test]
    fn does_not_touch_the_thread_generator() {
        set_rng_seed(5);
        let a = sample("a", Normal::new(0.0, 1.0)).unwrap();
        set_rng_seed(5);
        seed(model, 3).call(()).unwrap();
        let b = sample("a", Normal::new(0.0, 1.0)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn traced_values_match_and_inner_seed_wins() {
        let t1 = trace(seed(model, 9)).get_trace(()).unwrap();
        let t2 = trace(seed(model, 9)).get_trace(()).unwrap();
        for name in ["x", "y", "b"] {
            assert_eq!(t1.get(name).unwrap().value, t2.get(name).unwrap().value);
        }
        // An outer seed does not change what an inner seed draws.
        let nested = seed(seed(model, 9), 1234).call(()).unwrap();
        assert_eq!(nested, seed(model, 9).call(()).unwrap());
        // Trace inside the seed records the seeded draws.
        let (_, (tracer, out)) = crate::with_handler(SeedMessenger::new(9), || {
            crate::with_handler(TraceMessenger::new(), || model(()))
        });
        let (x, _, _) = out.unwrap();
        assert_eq!(
            tracer.into_trace().get("x").unwrap().value,
            Some(Value::Real(x))
        );
        assert_eq!(SeedMessenger::new(9).seed(), 9);
    }

    #[test]
    fn seeds_plate_subsamples() {
        let m = |()| {
            Plate::new("data", 100)
                .subsample_size(5)
                .run(|idx| Ok(idx.clone()))
        };
        let a: PlateIndices = seed(m, 4).call(()).unwrap();
        let b: PlateIndices = seed(m, 4).call(()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn stack_is_empty_after_an_error() {
        let failing = |()| -> Result<Real, PyroError> {
            sample("ok", Normal::new(0.0, 1.0))?;
            sample("bad", Normal::new(0.0, -1.0))
        };
        assert!(seed(failing, 1).call(()).is_err());
        assert_eq!(stack_depth(), 0);
    }
}
