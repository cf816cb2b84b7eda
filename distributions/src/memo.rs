//! [`Memo`]: a number a distribution computes on first use and keeps.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The bits that mean "not computed yet": a NaN no arithmetic produces (all payload bits set).
const EMPTY: u64 = u64::MAX;

/// A costly constant of a distribution (a normalising constant built from `lgamma`, say),
/// computed the first time the distribution needs it and kept: a distribution that is only
/// drawn from (a latent site under the prior proposal) never pays for it, and one scored many
/// times pays once.
///
/// It is shared between threads without locking: two threads that compute it at once compute
/// and store the same bits. A memo takes no part in its distribution's equality.
pub(crate) struct Memo(AtomicU64);

impl Memo {
    /// A memo with nothing computed.
    pub(crate) const fn new() -> Self {
        Memo(AtomicU64::new(EMPTY))
    }

    /// A memo that already holds `value` (when the constructor had it for free).
    pub(crate) fn known(value: f64) -> Self {
        Memo(AtomicU64::new(value.to_bits()))
    }

    /// The kept value, computed by `f` if this is its first use.
    #[inline]
    pub(crate) fn get_or(&self, f: impl FnOnce() -> f64) -> f64 {
        let bits = self.0.load(Ordering::Relaxed);
        if bits != EMPTY {
            return f64::from_bits(bits);
        }
        let value = f();
        self.0.store(value.to_bits(), Ordering::Relaxed);
        value
    }
}

impl Clone for Memo {
    fn clone(&self) -> Self {
        Memo(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl PartialEq for Memo {
    /// Always: the memo is a function of the distribution's parameters, which are compared.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Memo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memo_computes_once_and_its_clone_keeps_the_value() {
        let memo = Memo::new();
        let calls = std::cell::Cell::new(0);
        let get = |m: &Memo| {
            m.get_or(|| {
                calls.set(calls.get() + 1);
                -1.5
            })
        };
        assert_eq!(get(&memo), -1.5);
        assert_eq!(get(&memo), -1.5);
        assert_eq!(get(&memo.clone()), -1.5);
        assert_eq!(calls.get(), 1);
        assert_eq!(Memo::new().get_or(|| 2.0), 2.0);
        assert_eq!(Memo::known(3.0).get_or(|| 2.0), 3.0);
    }
}
