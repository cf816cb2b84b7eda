//! [`Batched`]: many independent scalar draws as one vector-valued site.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials, record_by_partials};
use crate::error::{self, ParamError};
use crate::value::Element;
use pyro_tape::{Real, Reals};
use rand::Rng;
use std::borrow::Cow;
use std::fmt;

/// Independent draws of a scalar family, as one vector-valued distribution (a vectorised site).
///
/// Either `n` iid draws of one distribution ([`Batched::iid`]), one draw per element with
/// per-element parameters ([`Batched::try_from_fn`], [`Batched::per_element`]), or one draw per
/// location of a location family ([`Batched::located`], and
/// [`Normal::batch`](crate::Normal::batch) for normal draws sharing a scale: Pyro's
/// `Normal(loc_tensor, scale)`). The value is a vector ([`Reals`] for a real family); `log_prob` is the sum of the element log-probabilities, which
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
#[derive(Clone, Debug)]
pub struct Batched<D> {
    repr: Repr<D>,
}

#[derive(Clone)]
enum Repr<D> {
    Iid {
        dist: D,
        n: usize,
    },
    PerElement(Vec<D>),
    /// Element `i` is `dist` moved to location `locs[i]`: the locations as one vector, with the
    /// family's batch methods ([`Location`]) as function pointers, so that `Batched<D>` needs
    /// no bound beyond what each form does.
    Located {
        dist: D,
        locs: Reals,
        ops: LocationOps<D>,
    },
}

/// A location family's [`Location`] methods, taken where `D: Location` is known.
struct LocationOps<D> {
    at: fn(&D, Real) -> D,
    log_prob: fn(&D, &Reals, &Reals) -> f64,
    partials: for<'a> fn(&'a D, &'a Reals, &'a Reals, &mut Partials<'a>),
    real: fn(&D, &Reals, &Reals) -> Real,
}

impl<D> Clone for LocationOps<D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D> Copy for LocationOps<D> {}

impl<D: fmt::Debug> fmt::Debug for Repr<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repr::Iid { dist, n } => f
                .debug_struct("Iid")
                .field("dist", dist)
                .field("n", n)
                .finish(),
            Repr::PerElement(dists) => f.debug_tuple("PerElement").field(dists).finish(),
            Repr::Located { dist, locs, .. } => f
                .debug_struct("Located")
                .field("dist", dist)
                .field("locs", locs)
                .finish(),
        }
    }
}

impl<D: Distribution + PartialEq> PartialEq for Batched<D> {
    /// The same distribution element by element, whatever the form.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && (0..self.len()).all(|i| self.element(i) == other.element(i))
    }
}

/// A location family: one whose member at another location is the same family with its
/// location parameter replaced, as `Normal(loc, scale)`; implemented by
/// [`Normal`](crate::Normal), [`Laplace`](crate::Laplace) and [`StudentT`](crate::StudentT). [`Batched::located`] batches it over a
/// vector of locations; a family may override the batch methods to score the whole batch in one
/// pass and record its gradient as one vector edge per input.
pub trait Location: Distribution<Value = Real> {
    /// The location parameter.
    fn loc(&self) -> Real;

    /// This distribution moved to location `loc` (a finite value).
    fn at(&self, loc: Real) -> Self;

    /// `sum_i at(locs[i]).log_prob(values[i])` (`values` has one element per location): equal
    /// to the element-by-element sum up to rounding.
    fn log_prob_located(&self, locs: &Reals, values: &Reals) -> f64 {
        locs.iter()
            .zip(values.iter())
            .map(|(loc, x)| self.at(loc).log_prob(&x))
            .sum()
    }

    /// The partials of [`log_prob_located`](Location::log_prob_located), as
    /// [`Distribution::log_prob_partials`] gives them; called only where it is finite. The
    /// default pushes each element's.
    fn log_prob_located_partials<'a>(
        &'a self,
        locs: &'a Reals,
        values: &'a Reals,
        partials: &mut Partials<'a>,
    ) {
        let elements: Vec<Self> = locs.iter().map(|loc| self.at(loc)).collect();
        crate::distribution::batch_partials_by_element(&elements, values, partials);
    }

    /// [`log_prob_located`](Location::log_prob_located) as a tape [`Real`], as
    /// [`Distribution::log_prob_real`] gives it. The default records the partials of
    /// [`log_prob_located_partials`](Location::log_prob_located_partials); a family may score
    /// and differentiate the batch in one pass.
    fn log_prob_located_real(&self, locs: &Reals, values: &Reals) -> Real {
        located_real_by_partials(self, locs, values)
    }
}

/// [`Location::log_prob_located_real`] as the trait provides it.
pub(crate) fn located_real_by_partials<D: Location>(d: &D, locs: &Reals, values: &Reals) -> Real {
    let lp = d.log_prob_located(locs, values);
    if !lp.is_finite() {
        return Real::constant(lp);
    }
    let mut partials = Partials::new();
    d.log_prob_located_partials(locs, values, &mut partials);
    partials.record(lp)
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
            Repr::Located { locs, .. } => locs.len(),
        }
    }

    /// Always false: a batch has at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The distribution of element `i`, or `None` past the end.
    pub fn element(&self, i: usize) -> Option<Cow<'_, D>> {
        match &self.repr {
            Repr::Iid { dist, n } => (i < *n).then_some(Cow::Borrowed(dist)),
            Repr::PerElement(d) => d.get(i).map(Cow::Borrowed),
            Repr::Located { dist, locs, ops } => Some(Cow::Owned((ops.at)(dist, locs.get(i)?))),
        }
    }

    fn elements(&self) -> impl Iterator<Item = Cow<'_, D>> {
        (0..self.len()).filter_map(|i| self.element(i))
    }
}

impl<D: Location> Batched<D> {
    /// One draw of `dist` moved to each location of `locs`: Pyro's `Normal(loc_tensor, scale)`
    /// for a location family, with the locations as one vector ([`Reals`]: `a + b * &xs` for
    /// scalars `a`, `b` and data `xs`, or plain data). `dist`'s own location is not used.
    /// Errors name the first non-finite location (`loc[3]`), or an empty `locs`.
    ///
    /// ```
    /// use pyro_distributions::{Batched, Distribution, Laplace, Real};
    ///
    /// let (xs, a, b) = (vec![0.0, 0.5, 1.0], Real::from(1.0), Real::from(2.0));
    /// let d = Batched::located(Laplace::new(0.0, 2.0)?, a + b * &xs)?;
    /// let same = Batched::try_from_fn(3, |i| Laplace::new(1.0 + 2.0 * xs[i], 2.0))?;
    /// assert_eq!(d, same);
    /// let bad = Batched::located(Laplace::new(0.0, 1.0)?, vec![0.0, f64::NAN]);
    /// assert_eq!(bad.unwrap_err().param, "loc[1]");
    /// # Ok::<(), pyro_distributions::ParamError>(())
    /// ```
    pub fn located(dist: D, locs: impl Into<Reals>) -> Result<Self, ParamError> {
        let locs = locs.into();
        if locs.is_empty() {
            return Err(ParamError::new(FAMILY, "len", 0, "must be >= 1"));
        }
        // A fold without early exit, which the compiler vectorises; the error is found again.
        if !locs.values().iter().fold(true, |ok, l| ok & l.is_finite()) {
            let (i, &bad) = locs
                .values()
                .iter()
                .enumerate()
                .find(|(_, l)| !l.is_finite())
                .unwrap_or((0, &f64::NAN));
            let family = dist.family();
            return Err(element_error(
                error::finite(family, "loc", bad).unwrap_err(),
                i,
            ));
        }
        let ops = LocationOps {
            at: D::at,
            log_prob: D::log_prob_located,
            partials: D::log_prob_located_partials,
            real: D::log_prob_located_real,
        };
        Ok(Batched {
            repr: Repr::Located { dist, locs, ops },
        })
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

    /// Where every element's family has it.
    fn has_rsample(&self) -> bool {
        match &self.repr {
            Repr::Iid { dist, .. } | Repr::Located { dist, .. } => dist.has_rsample(),
            Repr::PerElement(dists) => dists.iter().all(D::has_rsample),
        }
    }

    /// Each element's [`rsample`](Distribution::rsample), in order: the draws of `sample`, each
    /// carrying its gradient. `None`, having drawn nothing, unless every element has it.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Self::Value> {
        if !self.has_rsample() {
            return None;
        }
        let draws: Option<Vec<D::Value>> = self.elements().map(|d| d.rsample(rng)).collect();
        draws.map(|draws| Element::collect(draws.into_iter()))
    }

    fn log_prob(&self, value: &Self::Value) -> f64 {
        if D::Value::len(value) != self.len() {
            return f64::NEG_INFINITY;
        }
        match &self.repr {
            Repr::Iid { dist, .. } => dist.log_prob_iid(value),
            Repr::PerElement(dists) => D::log_prob_batch(dists, value),
            Repr::Located { dist, locs, ops } => D::Value::as_reals(value)
                .map_or(f64::NEG_INFINITY, |values| {
                    (ops.log_prob)(dist, locs, values)
                }),
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

    /// A located batch through its family's [`Location::log_prob_located_real`]; otherwise
    /// `log_prob` and the partials of `log_prob_partials` as one node.
    fn log_prob_real(&self, value: &Self::Value) -> Real {
        if let Repr::Located { dist, locs, ops } = &self.repr
            && D::Value::len(value) == self.len()
            && let Some(values) = D::Value::as_reals(value)
        {
            return (ops.real)(dist, locs, values);
        }
        record_by_partials(self, value)
    }

    /// Every element's partials, gathered into one node for the whole batch.
    fn log_prob_partials<'a>(&'a self, value: &'a Self::Value, partials: &mut Partials<'a>) {
        match &self.repr {
            Repr::Iid { dist, .. } => dist.log_prob_iid_partials(value, partials),
            Repr::PerElement(dists) => D::log_prob_batch_partials(dists, value, partials),
            Repr::Located { dist, locs, ops } => {
                if let Some(values) = D::Value::as_reals(value) {
                    (ops.partials)(dist, locs, values, partials);
                }
            }
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
    use crate::testing;
    use crate::{Bernoulli, Laplace, Normal, ScalarSupport, StudentT};
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

    /// Inputs `(x_1..x_n, loc_1..loc_n, scale)` as a located batch of `make(scale)`, with the
    /// values and locations each one vector (leaves in a row, as a model's would be).
    fn located<D: Location>(
        n: usize,
        make: impl Fn(Real) -> D,
    ) -> impl Fn(&[Real]) -> (Batched<D>, Reals) {
        move |v| {
            let xs: Reals = v[..n].iter().copied().collect();
            let locs: Reals = v[n..2 * n].iter().copied().collect();
            (Batched::located(make(v[2 * n]), locs).unwrap(), xs)
        }
    }

    /// The gradient of a located batch (one vector edge per input for `Normal`, element by
    /// element through the default for `Laplace` and `StudentT`), of an iid batch, and of a
    /// per-element batch, against finite differences (`testing::check_log_prob_gradient`,
    /// whose tolerance derivation holds: every term is of the size of the log-density).
    #[test]
    fn batch_gradients_match_finite_differences() {
        let point = [0.3, -1.2, 2.0, 0.1, 0.5, -0.4, 1.5, 0.2, 0.8];
        let scales = [1.0; 9];
        testing::check_log_prob_gradient(
            located(4, |s| Normal::new(0.0, s).unwrap()),
            &point,
            &scales,
        );
        testing::check_log_prob_gradient(
            located(4, |s| Laplace::new(0.0, s).unwrap()),
            &point,
            &scales,
        );
        testing::check_log_prob_gradient(
            located(4, |s| StudentT::new(3.0, 0.0, s).unwrap()),
            &point,
            &scales,
        );
        // iid: inputs (x_1..x_4, loc, scale).
        let iid = |v: &[Real]| {
            let xs: Reals = v[..4].iter().copied().collect();
            (
                Batched::iid(Normal::new(v[4], v[5]).unwrap(), 4).unwrap(),
                xs,
            )
        };
        testing::check_log_prob_gradient(iid, &[0.3, -1.2, 2.0, 0.1, 0.5, 0.8], &scales[..6]);
        // Per element, sharing a tracked scale and not.
        let per_element = |v: &[Real]| {
            let xs: Reals = v[..2].iter().copied().collect();
            let dists = vec![
                Normal::new(v[2], v[4]).unwrap(),
                Normal::new(v[3], v[5]).unwrap(),
            ];
            (Batched::per_element(dists).unwrap(), xs)
        };
        testing::check_log_prob_gradient(
            per_element,
            &[0.3, -1.2, 0.1, 0.5, 0.8, 1.5],
            &scales[..6],
        );
        // Bernoulli's counted form: inputs (probs).
        let coin = |v: &[Real]| {
            let d = Batched::iid(Bernoulli::new(v[0]).unwrap(), 5).unwrap();
            (d, vec![true, false, true, true, false])
        };
        testing::check_log_prob_gradient(coin, &[0.3], &[0.3]);
    }

    #[test]
    fn a_located_batch_is_its_elements() {
        let locs = vec![0.5, -1.0, 3.25];
        let d = Batched::located(Laplace::new(7.0, 0.7).unwrap(), locs.clone()).unwrap();
        let by_element = Batched::try_from_fn(3, |i| Laplace::new(locs[i], 0.7)).unwrap();
        assert_eq!(d, by_element);
        assert_eq!(d.len(), 3);
        let x = testing::vector(&[0.0, 1.0, 2.0]);
        assert!((d.log_prob(&x) - by_element.log_prob(&x)).abs() < 1e-14);
        assert_eq!(d.log_prob_elements(&x), by_element.log_prob_elements(&x));
        assert_eq!(d.log_prob(&testing::vector(&[0.0])), f64::NEG_INFINITY);
        let (mut r1, mut r2) = (testing::rng(3), testing::rng(3));
        assert_eq!(d.sample(&mut r1), by_element.sample(&mut r2));
        assert_eq!(d.mean(), Some(locs.clone()));
        assert_eq!(d.support(), Constraint::Elementwise(ScalarSupport::Real));
        let err = Batched::located(Normal::new(0.0, 1.0).unwrap(), vec![0.0, f64::INFINITY]);
        assert_eq!(err.unwrap_err().param, "loc[1]");
        assert_eq!(
            Batched::located(Normal::new(0.0, 1.0).unwrap(), Vec::new())
                .unwrap_err()
                .param,
            "len"
        );
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
