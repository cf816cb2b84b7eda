//! [`Batched`]: many independent scalar draws as one vector-valued site.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::ParamError;
use crate::value::Element;
use rand::Rng;

/// Independent draws of a scalar family, as one vector-valued distribution (a vectorised site).
///
/// Either `n` iid draws of one distribution ([`Batched::iid`]) or one draw per element with
/// per-element parameters ([`Batched::try_from_fn`], [`Batched::per_element`], and
/// [`Normal::batch`](crate::Normal::batch) for normal draws sharing a scale). The value is a
/// vector; `log_prob` is the sum of the element log-probabilities, which
/// [`log_prob_elements`](Distribution::log_prob_elements) returns one by one. A value of the wrong
/// length scores `-inf`.
///
/// ```
/// use pyro_distributions::{Batched, Distribution, Normal, Reals};
///
/// // y_i ~ Normal(1 + 2 x_i, 0.5) for x = 0, 0.5, 1.
/// let xs = [0.0, 0.5, 1.0];
/// let d = Batched::try_from_fn(xs.len(), |i| Normal::new(1.0 + 2.0 * xs[i], 0.5))?;
/// let y = Reals::from(vec![1.1, 2.0, 2.9]);
/// let total = d.log_prob(&y);
/// let parts = d.log_prob_elements(&y);
/// assert!((total - parts.iter().sum::<f64>()).abs() < 1e-12);
/// assert_eq!(d.log_prob(&Reals::from(vec![1.0, 2.0])), f64::NEG_INFINITY); // wrong length
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Batched<D> {
    repr: Repr<D>,
}

#[derive(Clone, Debug, PartialEq)]
enum Repr<D> {
    Iid { dist: D, n: usize },
    PerElement(Vec<D>),
}

const FAMILY: &str = "Batched";

/// An element's constructor error, with the element index added to the parameter name.
#[cold]
pub(crate) fn element_error(mut e: ParamError, i: usize) -> ParamError {
    e.param = format!("{}[{i}]", e.param);
    e
}

impl<D: Distribution> Batched<D> {
    /// `n` independent draws of `dist`. Errors when `n` is zero.
    pub fn iid(dist: D, n: usize) -> Result<Self, ParamError> {
        if n == 0 {
            return Err(ParamError::new(FAMILY, "n", n, "must be >= 1"));
        }
        Ok(Batched {
            repr: Repr::Iid { dist, n },
        })
    }

    /// One draw from each distribution of `dists`. Errors when `dists` is empty.
    pub fn per_element(dists: Vec<D>) -> Result<Self, ParamError> {
        if dists.is_empty() {
            return Err(ParamError::new(FAMILY, "len", 0, "must be >= 1"));
        }
        Ok(Batched {
            repr: Repr::PerElement(dists),
        })
    }

    /// One draw per element `i in 0..n` from `make(i)`. An element's constructor error is returned
    /// with the element index added to the parameter name (`loc[3]`).
    pub fn try_from_fn(
        n: usize,
        mut make: impl FnMut(usize) -> Result<D, ParamError>,
    ) -> Result<Self, ParamError> {
        // An explicit loop: collecting `Result`s would lose the size hint and grow the vector
        // step by step.
        let mut dists = Vec::with_capacity(n);
        for i in 0..n {
            match make(i) {
                Ok(d) => dists.push(d),
                Err(e) => return Err(element_error(e, i)),
            }
        }
        Self::per_element(dists)
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Iid { n, .. } => *n,
            Repr::PerElement(d) => d.len(),
        }
    }

    /// Always false: a batch has at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The distribution of element `i`, or `None` past the end.
    pub fn element(&self, i: usize) -> Option<&D> {
        match &self.repr {
            Repr::Iid { dist, n } => (i < *n).then_some(dist),
            Repr::PerElement(d) => d.get(i),
        }
    }

    fn elements(&self) -> impl Iterator<Item = &D> {
        (0..self.len()).filter_map(|i| self.element(i))
    }
}

impl<D> Distribution for Batched<D>
where
    D: Distribution<Moment = f64>,
    D::Value: Element,
{
    type Value = <D::Value as Element>::Vector;
    type Moment = Vec<f64>;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Value {
        Element::collect(self.elements().map(|d| d.sample(rng)))
    }

    fn log_prob(&self, value: &Self::Value) -> f64 {
        if D::Value::len(value) != self.len() {
            return f64::NEG_INFINITY;
        }
        match &self.repr {
            Repr::Iid { dist, .. } => dist.log_prob_iid(value),
            Repr::PerElement(dists) => D::log_prob_batch(dists, value),
        }
    }

    /// Each element's support when they all agree, otherwise [`Constraint::Dependent`].
    fn support(&self) -> Constraint {
        let mut supports = self.elements().map(|d| d.support());
        let first = supports.next().and_then(Constraint::scalar);
        match first {
            Some(s) if supports.all(|t| t.scalar() == Some(s)) => Constraint::Elementwise(s),
            _ => Constraint::Dependent,
        }
    }

    fn mean(&self) -> Option<Vec<f64>> {
        self.elements().map(|d| d.mean()).collect()
    }

    fn variance(&self) -> Option<Vec<f64>> {
        self.elements().map(|d| d.variance()).collect()
    }

    fn batch_len(&self) -> Option<usize> {
        Some(self.len())
    }

    /// Every element's partials, gathered into one node for the whole batch.
    fn log_prob_partials<'a>(&'a self, value: &'a Self::Value, partials: &mut Partials<'a>) {
        match &self.repr {
            Repr::Iid { dist, .. } => dist.log_prob_iid_partials(value, partials),
            Repr::PerElement(dists) => D::log_prob_batch_partials(dists, value, partials),
        }
    }

    fn log_prob_elements(&self, value: &Self::Value) -> Vec<f64> {
        if D::Value::len(value) != self.len() {
            return vec![f64::NEG_INFINITY; self.len()];
        }
        self.elements()
            .enumerate()
            .map(|(i, d)| d.log_prob(&Element::get(value, i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bernoulli, Normal, ScalarSupport};
    use rand::SeedableRng;

    #[test]
    fn iid_sums_elements() {
        let n = Normal::new(0.0, 1.0).unwrap();
        let b = Batched::iid(n, 3).unwrap();
        let x = crate::testing::vector(&[0.1, -0.2, 0.3]);
        let expected: f64 = x.iter().map(|v| n.log_prob(&v)).sum();
        assert!((b.log_prob(&x) - expected).abs() < 1e-14);
        assert_eq!(
            b.log_prob_elements(&x),
            x.iter().map(|v| n.log_prob(&v)).collect::<Vec<_>>()
        );
        assert_eq!(b.support(), Constraint::Elementwise(ScalarSupport::Real));
        assert_eq!(b.mean(), Some(vec![0.0; 3]));
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(b.sample(&mut rng).len(), 3);
    }

    #[test]
    fn errors_name_the_element() {
        let err = Batched::try_from_fn(3, |i| Normal::new(0.0, 1.0 - i as f64)).unwrap_err();
        assert_eq!(err.param, "scale[1]");
        assert!(Batched::<Normal>::per_element(vec![]).is_err());
        assert!(Batched::iid(Normal::new(0.0, 1.0).unwrap(), 0).is_err());
    }

    #[test]
    fn discrete_batches_score_out_of_support() {
        let b = Batched::iid(Bernoulli::new(0.0).unwrap(), 2).unwrap();
        assert_eq!(b.log_prob(&vec![false, true]), f64::NEG_INFINITY);
        assert_eq!(b.log_prob(&vec![false, false]), 0.0);
    }
}
