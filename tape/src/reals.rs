//! [`Reals`]: a vector of [`Real`]s held as one block, and its element-wise arithmetic.

use crate::Real;
use crate::tape::{self, BlockParent, CONSTANT};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A vector of [`Real`]s: the values as one `Vec<f64>` and, while a gradient is being taken, the
/// tape slots of its elements, which are consecutive, so that one id names them all. Pyro's
/// tensor of reals, as [`Real`] is its scalar.
///
/// A constant vector (from a `Vec<f64>`, or computed from constants only) is its `Vec<f64>` and
/// nothing else: converting one costs nothing, and arithmetic on it is `f64` arithmetic over the
/// elements. An operation with a tracked operand records one *block* on the tape, whatever the
/// length: the backward sweep takes it whole, with one loop over contiguous adjoints per
/// operand, as a tensor library does. So `a + b * xs` (scalars `a`, `b`, data `xs`) records two
/// blocks for its 100 elements, not 200 nodes.
///
/// Arithmetic is element-wise between two vectors of the same length, and broadcasts a scalar
/// ([`Real`] or `f64`) over a vector; a data vector (`&[f64]`, `&Vec<f64>`) can stand on either
/// side of an operator with a [`Real`] or `Reals`.
///
/// # Panics
/// An operation on two vectors of different lengths panics, naming both lengths, as slicing out
/// of bounds does: the lengths of a model's vectors are fixed by its code and data.
///
/// ```
/// use pyro_tape::{Real, Reals, TapeError, gradient};
///
/// let xs = vec![0.0, 1.0, 2.0];
/// // Outside a gradient: f64 arithmetic.
/// let ys = Real::from(1.0) + Real::from(2.0) * &xs;
/// assert_eq!(ys.values(), &[1.0, 3.0, 5.0]);
/// assert!(ys.is_constant());
///
/// // Inside one: the gradient of sum_i (a + b x_i)^2 with respect to (a, b).
/// let (value, grad) = gradient(&[1.0, 2.0], |p| {
///     let y = p[0] + p[1] * &xs;
///     Ok::<_, TapeError>((&y * &y).sum())
/// })?;
/// assert_eq!(value, 1.0 + 9.0 + 25.0);
/// assert_eq!(grad, vec![2.0 * (1.0 + 3.0 + 5.0), 2.0 * (3.0 + 2.0 * 5.0)]);
/// # Ok::<(), TapeError>(())
/// ```
#[derive(Clone, Default)]
pub struct Reals {
    values: Vec<f64>,
    /// The id of element 0 ([`CONSTANT`] for a constant vector); element `i` has id `first + i`.
    first: u64,
}

/// The partial derivatives of a recorded vector's elements with respect to one of its parents:
/// the same for every element, or one per element. See [`Reals::record`].
#[derive(Clone, Copy, Debug)]
pub enum Weights<'a> {
    /// Every partial is this value.
    All(f64),
    /// One partial per element (of the output, or of a vector parent of a scalar output).
    Each(&'a [f64]),
}

/// A parent of a recorded vector or scalar: see [`Reals::record`] and [`Real::record_parents`].
#[derive(Clone, Copy, Debug)]
pub enum Parent<'a> {
    /// A scalar.
    Real(Real),
    /// A vector.
    Reals(&'a Reals),
}

impl Parent<'_> {
    fn block<'w>(&self, weights: Weights<'w>) -> BlockParent<'w> {
        let (value, id, len) = match *self {
            Parent::Real(x) => (x.value, x.id, 1),
            Parent::Reals(x) => (x.values.first().copied().unwrap_or(0.0), x.first, x.len()),
        };
        BlockParent {
            value,
            id,
            len,
            weights,
        }
    }
}

impl Reals {
    /// A constant vector: gradients do not flow through it.
    #[inline]
    pub const fn constant(values: Vec<f64>) -> Reals {
        Reals {
            values,
            first: CONSTANT,
        }
    }

    /// A vector with the given values whose first element has id `first`.
    pub(crate) fn from_parts(values: Vec<f64>, first: u64) -> Reals {
        Reals { values, first }
    }

    /// The number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there is no element.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values.
    #[inline]
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The values, taken (the tape slots are dropped).
    #[inline]
    pub fn into_values(self) -> Vec<f64> {
        self.values
    }

    /// Whether this is a constant vector (no gradient flows through it).
    #[inline]
    pub const fn is_constant(&self) -> bool {
        self.first == CONSTANT
    }

    /// Element `i` as a [`Real`] (tracked if the vector is), or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Real> {
        let value = *self.values.get(i)?;
        Some(self.element(i, value))
    }

    /// Element `i` as a [`Real`] (tracked if the vector is): `x[i]` of a tensor.
    ///
    /// # Panics
    /// If `i` is past the end, as indexing a slice does.
    #[inline]
    #[track_caller]
    pub fn at(&self, i: usize) -> Real {
        self.element(i, self.values[i])
    }

    /// The elements as [`Real`]s, tracked if the vector is.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            values: self.values.iter(),
            id: self.first,
            step: u64::from(!self.is_constant()),
        }
    }

    #[inline]
    fn element(&self, i: usize, value: f64) -> Real {
        let id = if self.is_constant() {
            CONSTANT
        } else {
            self.first + i as u64
        };
        Real { value, id }
    }

    /// A vector of value `values` whose partial derivatives with respect to each of `parents`
    /// are given with it: one block on the tape, whatever the length and the number of parents,
    /// as [`Real::record`] records one node. A caller that computes its own partials (a bijection
    /// applied to a whole vector) records them this way. For an output of `n` elements, a
    /// [`Parent::Real`] takes `n` partials (element `i` with respect to the scalar) or one for
    /// all; a [`Parent::Reals`] must have `n` elements, and element `i` depends on its element
    /// `i` only. Constant parents are skipped; if all are constants the result is a constant.
    ///
    /// ```
    /// use pyro_tape::{Parent, Real, Reals, Tape, Weights};
    ///
    /// // y_i = x_i^2, recorded as one block with partials 2 x_i.
    /// let tape = Tape::start()?;
    /// let x = tape.leaves(vec![1.0, 2.0]);
    /// let twice: Vec<f64> = x.values().iter().map(|v| 2.0 * v).collect();
    /// let y = Reals::record(vec![1.0, 4.0], &[(Parent::Reals(&x), Weights::Each(&twice))]);
    /// let wrt: Vec<Real> = x.iter().collect();
    /// assert_eq!(tape.backward(y.sum(), &wrt)?, vec![2.0, 4.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If a vector parent's length is not `values.len()`, or a [`Weights::Each`] has not one
    /// partial per element.
    #[track_caller]
    pub fn record(values: Vec<f64>, parents: &[(Parent<'_>, Weights<'_>)]) -> Reals {
        let n = values.len();
        for (parent, weights) in parents {
            if let Parent::Reals(x) = parent {
                same_len(n, x.len());
            }
            if let Weights::Each(each) = weights {
                same_len(n, each.len());
            }
        }
        let blocks: SmallVec<[BlockParent<'_>; 4]> = parents
            .iter()
            .map(|(parent, weights)| parent.block(*weights))
            .collect();
        let first = tape::record_block(n, &blocks);
        Reals { values, first }
    }

    /// The sum of the elements (added in four lanes): one node.
    #[track_caller]
    pub fn sum(&self) -> Real {
        let value = tape::sum_in_lanes(self.values.iter().copied());
        Real::record_parents(value, &[(Parent::Reals(self), Weights::All(1.0))])
    }

    /// `e^x` element by element.
    #[track_caller]
    pub fn exp(&self) -> Reals {
        let values: Vec<f64> = self.values.iter().map(|x| x.exp()).collect();
        let first = track(
            values.len(),
            &[(self.operand(), &|| Weights::Each(&values))],
        );
        Reals { values, first }
    }

    /// The natural logarithm element by element.
    #[track_caller]
    pub fn ln(&self) -> Reals {
        let values: Vec<f64> = self.values.iter().map(|x| x.ln()).collect();
        let recip: Vec<f64>;
        let first = if self.is_constant() {
            CONSTANT
        } else {
            recip = self.values.iter().map(|x| 1.0 / x).collect();
            track(values.len(), &[(self.operand(), &|| Weights::Each(&recip))])
        };
        Reals { values, first }
    }

    fn operand(&self) -> Operand<'_> {
        Operand::Vector(&self.values, self.first)
    }
}

impl Real {
    /// A `Real` of value `value` whose partials with respect to scalar and vector parents are
    /// given with it: one node, as [`Real::record`], for parents that include vectors (the
    /// log-density of a whole batch with respect to its vector of locations). A
    /// [`Parent::Reals`] of `n` elements takes `n` partials, or one for all; a
    /// [`Parent::Real`] takes one. Constant parents are skipped.
    ///
    /// ```
    /// use pyro_tape::{Parent, Real, Tape, Weights};
    ///
    /// // lp = -sum_i (y_i - loc_i)^2 / 2 at y = (1, 1): partials y_i - loc_i.
    /// let tape = Tape::start()?;
    /// let loc = tape.leaves(vec![0.5, 2.0]);
    /// let lp = Real::record_parents(-0.625, &[(Parent::Reals(&loc), Weights::Each(&[0.5, -1.0]))]);
    /// let wrt: Vec<Real> = loc.iter().collect();
    /// assert_eq!(tape.backward(lp, &wrt)?, vec![0.5, -1.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If a [`Weights::Each`] has not one partial per element of its parent.
    #[track_caller]
    pub fn record_parents(value: f64, parents: &[(Parent<'_>, Weights<'_>)]) -> Real {
        for (parent, weights) in parents {
            if let Weights::Each(each) = weights {
                let len = match parent {
                    Parent::Real(_) => 1,
                    Parent::Reals(x) => x.len(),
                };
                same_len(len, each.len());
            }
        }
        let blocks: SmallVec<[BlockParent<'_>; 4]> = parents
            .iter()
            .map(|(parent, weights)| parent.block(*weights))
            .collect();
        let id = tape::record_block(1, &blocks);
        Real { value, id }
    }
}

#[track_caller]
fn same_len(left: usize, right: usize) {
    assert!(
        left == right,
        "element-wise operation on vectors of different lengths: {left} and {right}"
    );
}

/// An operand of element-wise arithmetic: a scalar, or a vector (its values and first id).
#[derive(Clone, Copy)]
enum Operand<'a> {
    Scalar(Real),
    Vector(&'a [f64], u64),
}

impl Operand<'_> {
    fn tracked(&self) -> bool {
        match *self {
            Operand::Scalar(x) => !x.is_constant(),
            Operand::Vector(_, first) => first != CONSTANT,
        }
    }

    fn block<'w>(&self, weights: Weights<'w>) -> BlockParent<'w> {
        let (value, id, len) = match *self {
            Operand::Scalar(x) => (x.value, x.id, 1),
            Operand::Vector(x, first) => (x.first().copied().unwrap_or(0.0), first, x.len()),
        };
        BlockParent {
            value,
            id,
            len,
            weights,
        }
    }
}

/// The id of a block of `n` elements with the tracked ones of `operands` as parents and the
/// partials each closure gives (called only for tracked operands); [`CONSTANT`] if none is.
#[track_caller]
fn track<'w>(n: usize, operands: &[(Operand<'_>, &dyn Fn() -> Weights<'w>)]) -> u64 {
    let blocks: SmallVec<[BlockParent<'w>; 2]> = operands
        .iter()
        .filter(|(operand, _)| operand.tracked())
        .map(|(operand, weights)| operand.block(weights()))
        .collect();
    if blocks.is_empty() {
        return CONSTANT;
    }
    tape::record_block(n, &blocks)
}

/// `f(a_i, b_i)` over the elements, a scalar broadcast.
#[track_caller]
fn map2(a: Operand<'_>, b: Operand<'_>, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    match (a, b) {
        (Operand::Vector(x, _), Operand::Vector(y, _)) => {
            same_len(x.len(), y.len());
            x.iter().zip(y).map(|(x, y)| f(*x, *y)).collect()
        }
        (Operand::Scalar(s), Operand::Vector(y, _)) => y.iter().map(|y| f(s.value, *y)).collect(),
        (Operand::Vector(x, _), Operand::Scalar(s)) => x.iter().map(|x| f(*x, s.value)).collect(),
        (Operand::Scalar(s), Operand::Scalar(t)) => vec![f(s.value, t.value)],
    }
}

/// The partial with respect to one operand of a product: the other operand.
fn other(operand: Operand<'_>) -> Weights<'_> {
    match operand {
        Operand::Scalar(s) => Weights::All(s.value),
        Operand::Vector(x, _) => Weights::Each(x),
    }
}

#[track_caller]
fn add(a: Operand<'_>, b: Operand<'_>) -> Reals {
    let values = map2(a, b, |x, y| x + y);
    let first = track(
        values.len(),
        &[(a, &|| Weights::All(1.0)), (b, &|| Weights::All(1.0))],
    );
    Reals { values, first }
}

#[track_caller]
fn sub(a: Operand<'_>, b: Operand<'_>) -> Reals {
    let values = map2(a, b, |x, y| x - y);
    let first = track(
        values.len(),
        &[(a, &|| Weights::All(1.0)), (b, &|| Weights::All(-1.0))],
    );
    Reals { values, first }
}

#[track_caller]
fn mul(a: Operand<'_>, b: Operand<'_>) -> Reals {
    let values = map2(a, b, |x, y| x * y);
    let first = track(values.len(), &[(a, &|| other(b)), (b, &|| other(a))]);
    Reals { values, first }
}

#[track_caller]
fn div(a: Operand<'_>, b: Operand<'_>) -> Reals {
    let values = map2(a, b, |x, y| x / y);
    if !a.tracked() && !b.tracked() {
        return Reals::constant(values);
    }
    // d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b.
    let da = match b {
        Operand::Scalar(y) => DivPartial::All(1.0 / y.value),
        Operand::Vector(y, _) => DivPartial::Each(y.iter().map(|y| 1.0 / y).collect()),
    };
    let db = map2(Operand::Vector(&values, CONSTANT), b, |q, y| -q / y);
    let first = track(
        values.len(),
        &[(a, &|| da.weights()), (b, &|| Weights::Each(&db))],
    );
    Reals { values, first }
}

/// The partials of a quotient with respect to its numerator: one for all over a scalar
/// denominator, else one per element.
enum DivPartial {
    All(f64),
    Each(Vec<f64>),
}

impl DivPartial {
    fn weights(&self) -> Weights<'_> {
        match self {
            DivPartial::All(w) => Weights::All(*w),
            DivPartial::Each(w) => Weights::Each(w),
        }
    }
}

/// Something element-wise arithmetic takes as an operand.
trait AsOperand {
    fn operand(&self) -> Operand<'_>;
}

impl AsOperand for Reals {
    fn operand(&self) -> Operand<'_> {
        Operand::Vector(&self.values, self.first)
    }
}

impl AsOperand for Real {
    fn operand(&self) -> Operand<'_> {
        Operand::Scalar(*self)
    }
}

impl AsOperand for f64 {
    fn operand(&self) -> Operand<'_> {
        Operand::Scalar(Real::constant(*self))
    }
}

impl AsOperand for [f64] {
    fn operand(&self) -> Operand<'_> {
        Operand::Vector(self, CONSTANT)
    }
}

impl AsOperand for Vec<f64> {
    fn operand(&self) -> Operand<'_> {
        Operand::Vector(self, CONSTANT)
    }
}

impl<T: AsOperand + ?Sized> AsOperand for &T {
    fn operand(&self) -> Operand<'_> {
        (**self).operand()
    }
}

/// The operator between pairs of operand types.
macro_rules! operator {
    ($Op:ident, $op:ident, $f:ident: $($l:ty, $r:ty);+ $(;)?) => {$(
        impl $Op<$r> for $l {
            type Output = Reals;
            #[inline]
            #[track_caller]
            fn $op(self, rhs: $r) -> Reals {
                $f(self.operand(), rhs.operand())
            }
        }
    )+};
}

/// Every operator for one operation: vectors by value or by reference with vectors, scalars
/// (`Real`, `f64`) and data (`&[f64]`, `&Vec<f64>`), and a `Real` with data.
macro_rules! operators {
    ($Op:ident, $op:ident, $f:ident) => {
        operator!($Op, $op, $f:
            &Reals, &Reals; Reals, Reals; Reals, &Reals; &Reals, Reals;
            &Reals, Real; Reals, Real; Real, &Reals; Real, Reals;
            &Reals, f64; Reals, f64; f64, &Reals; f64, Reals;
            &Reals, &[f64]; Reals, &[f64]; &[f64], &Reals; &[f64], Reals;
            &Reals, &Vec<f64>; Reals, &Vec<f64>; &Vec<f64>, &Reals; &Vec<f64>, Reals;
            Real, &[f64]; &[f64], Real; Real, &Vec<f64>; &Vec<f64>, Real;
        );
    };
}

operators!(Add, add, add);
operators!(Sub, sub, sub);
operators!(Mul, mul, mul);
operators!(Div, div, div);

impl Neg for &Reals {
    type Output = Reals;
    #[track_caller]
    fn neg(self) -> Reals {
        let values: Vec<f64> = self.values.iter().map(|x| -x).collect();
        let first = track(values.len(), &[(self.operand(), &|| Weights::All(-1.0))]);
        Reals { values, first }
    }
}

impl Neg for Reals {
    type Output = Reals;
    #[track_caller]
    fn neg(self) -> Reals {
        -&self
    }
}

impl From<Vec<f64>> for Reals {
    /// A constant vector, without copying.
    #[inline]
    fn from(values: Vec<f64>) -> Reals {
        Reals::constant(values)
    }
}

impl From<&[f64]> for Reals {
    /// A constant vector.
    fn from(values: &[f64]) -> Reals {
        Reals::constant(values.to_vec())
    }
}

impl From<&Vec<f64>> for Reals {
    /// A constant vector.
    fn from(values: &Vec<f64>) -> Reals {
        Reals::constant(values.clone())
    }
}

impl<'a> From<&'a Reals> for Cow<'a, Reals> {
    /// Borrowed.
    fn from(x: &'a Reals) -> Cow<'a, Reals> {
        Cow::Borrowed(x)
    }
}

impl From<Reals> for Cow<'_, Reals> {
    /// Owned.
    fn from(x: Reals) -> Self {
        Cow::Owned(x)
    }
}

impl From<Reals> for Vec<f64> {
    /// The values (the tape slots are dropped).
    fn from(x: Reals) -> Vec<f64> {
        x.values
    }
}

impl FromIterator<f64> for Reals {
    /// A constant vector.
    fn from_iter<I: IntoIterator<Item = f64>>(iter: I) -> Reals {
        Reals::constant(iter.into_iter().collect())
    }
}

impl FromIterator<Real> for Reals {
    /// The vector of the given elements. Elements that are already consecutive on the tape (the
    /// elements of one `Reals`, in order) are taken as they are; others are gathered into a new
    /// block, one node per element.
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = Real>>(iter: I) -> Reals {
        let reals: Vec<Real> = iter.into_iter().collect();
        let values = reals.iter().map(|x| x.value).collect();
        let first = match reals.first() {
            None => CONSTANT,
            Some(head) => {
                if reals.iter().all(|x| x.is_constant()) {
                    CONSTANT
                } else if !head.is_constant()
                    && reals
                        .iter()
                        .enumerate()
                        .all(|(i, x)| x.id == head.id.wrapping_add(i as u64))
                {
                    head.id
                } else {
                    tape::gather(&reals)
                }
            }
        };
        Reals { values, first }
    }
}

impl<'a> IntoIterator for &'a Reals {
    type Item = Real;
    type IntoIter = Iter<'a>;
    /// The elements as [`Real`]s, as [`Reals::iter`].
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The elements of a [`Reals`] as [`Real`]s: see [`Reals::iter`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    values: std::slice::Iter<'a, f64>,
    /// The id of the next element, and the step to the one after: 0 and 0 for a constant
    /// vector, so that no element needs a branch.
    id: u64,
    step: u64,
}

impl Iterator for Iter<'_> {
    type Item = Real;
    #[inline]
    fn next(&mut self) -> Option<Real> {
        let value = *self.values.next()?;
        let id = self.id;
        self.id += self.step;
        Some(Real { value, id })
    }
    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.values.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl fmt::Debug for Reals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.values, f)
    }
}

impl PartialEq for Reals {
    /// Equal values (the tape slots are not compared), as [`Real`]'s.
    fn eq(&self, other: &Reals) -> bool {
        self.values == other.values
    }
}
