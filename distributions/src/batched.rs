//! [`Batched`]: many independent scalar draws as one vector-valued site.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::ParamError;
use crate::value::ValueType;
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
/// use pyro_distributions::{Batched, Distribution, Normal, Observation, Real};
///
/// // y_i ~ Normal(1 + 2 x_i, 0.5) for x = 0, 0.5, 1.
/// let xs = [0.0, 0.5, 1.0];
/// let d = Batched::try_from_fn(xs.len(), |i| Normal::new(1.0 + 2.0 * xs[i], 0.5))?;
/// let y: Vec<Real> = vec![1.1, 2.0, 2.9].into_observation();
/// let total = d.log_prob(&y);
/// let parts = d.log_prob_elements(&y);
/// assert!((total - parts.iter().sum::<f64>()).abs() < 1e-12);
/// assert_eq!(d.log_prob(&vec![1.0.into(), 2.0.into()]), f64::NEG_INFINITY); // wrong length
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
    Vec<D::Value>: ValueType,
{
    type Value = Vec<D::Value>;
    type Moment = Vec<f64>;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Self::Value {
        self.elements().map(|d| d.sample(rng)).collect()
    }

    /// Where every element's family has it.
    fn has_rsample(&self) -> bool {
        match &self.repr {
            Repr::Iid { dist, .. } => dist.has_rsample(),
            Repr::PerElement(dists) => dists.iter().all(D::has_rsample),
        }
    }

    /// Each element's [`rsample`](Distribution::rsample), in order: the draws of `sample`, each
    /// carrying its gradient. `None`, having drawn nothing, unless every element has it.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Self::Value> {
        if !self.has_rsample() {
            return None;
        }
        self.elements().map(|d| d.rsample(rng)).collect()
    }

    fn log_prob(&self, value: &Self::Value) -> f64 {
        if value.len() != self.len() {
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
    fn log_prob_partials(&self, value: &Self::Value, partials: &mut Partials) {
        for (d, x) in self.elements().zip(value) {
            d.log_prob_partials(x, partials);
        }
    }

    fn log_prob_elements(&self, value: &Self::Value) -> Vec<f64> {
        if value.len() != self.len() {
            return vec![f64::NEG_INFINITY; self.len()];
        }
        self.elements()
            .zip(value)
            .map(|(d, x)| d.log_prob(x))
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
        let x = crate::testing::rs(&[0.1, -0.2, 0.3]);
        let expected: f64 = x.iter().map(|v| n.log_prob(v)).sum();
        assert!((b.log_prob(&x) - expected).abs() < 1e-14);
        assert_eq!(
            b.log_prob_elements(&x),
            x.iter().map(|v| n.log_prob(v)).collect::<Vec<_>>()
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

    #[test]
    fn rsample_is_each_elements() {
        use crate::testing;
        // An iid batch and a per-element one of a reparameterisable family: each element's
        // rsample, in order, with its gradient (against finite differences of the draw).
        testing::check_rsample(
            |v| Batched::iid(Normal::new(v[0], v[1]).unwrap(), 3).unwrap(),
            &[0.5, 2.0],
            &[Some(2.0); 2],
        );
        testing::check_rsample(
            |v| Batched::try_from_fn(3, |i| Normal::new(v[0] * i as f64, v[1])).unwrap(),
            &[0.5, 2.0],
            &[Some(2.0); 2],
        );
        // Gamma elements, whose shape gradient is the implicit one: each element's.
        let (a, rate) = (2.5, 1.5);
        let (xs, j) = testing::rsample_jacobian(
            |v| Batched::iid(crate::Gamma::new(v[0], v[1]).unwrap(), 4).unwrap(),
            &[a, rate],
            3,
        );
        let (d, mut r) = (crate::Gamma::new(a, rate).unwrap(), testing::rng(3));
        for (&x, row) in xs.iter().zip(&j) {
            // The element's draw, in order from the batch's generator, and its gradient there.
            assert_eq!(x.to_bits(), d.sample(&mut r).value().to_bits());
            let d_a = x * crate::implicit::gamma_log_draw_grad(a, rate * x, (rate * x).ln());
            assert_eq!(row, &vec![d_a, -x / rate]);
        }
    }

    #[test]
    fn a_batch_of_a_family_without_rsample_has_none() {
        use rand::Rng;
        let b = Batched::iid(Bernoulli::new(0.3).unwrap(), 4).unwrap();
        assert!(!b.has_rsample());
        let mut r = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(b.rsample(&mut r), None);
        let mut fresh = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(r.next_u64(), fresh.next_u64(), "None drew random numbers");
    }
}
