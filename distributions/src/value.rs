//! Type-erased sample values, and the conversion between typed and erased values.

use pyro_tape::{Real, Reals};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::borrow::Cow;

/// A sample value in type-erased form, as a trace stores it.
///
/// Continuous families produce [`Value::Real`], Bernoulli produces [`Value::Bool`], counting and
/// index-valued families produce [`Value::Int`], and vector-valued or batched sites produce one of
/// the vector variants.
///
/// ```
/// use pyro_distributions::{Value, ValueType};
///
/// let v = 2.5_f64.into_value();
/// assert_eq!(v, Value::Real(2.5));
/// assert_eq!(f64::from_value(&v), Some(2.5));
/// // An integral real reads as an integer; a fractional one does not.
/// assert_eq!(i64::from_value(&Value::Real(3.0)), Some(3));
/// assert_eq!(i64::from_value(&v), None);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A boolean, e.g. a Bernoulli draw.
    Bool(bool),
    /// An integer, e.g. a Poisson count or a Categorical index.
    Int(i64),
    /// A real number.
    Real(f64),
    /// A vector of booleans (a batched Bernoulli site).
    Bools(Vec<bool>),
    /// A vector of integers (a batched discrete site).
    Ints(Vec<i64>),
    /// A vector of reals (a Dirichlet or multivariate normal draw, or a batched continuous site).
    Reals(Vec<f64>),
}

impl Value {
    /// The number of elements: 1 for a scalar, the length for a vector.
    pub fn len(&self) -> usize {
        match self {
            Value::Bool(_) | Value::Int(_) | Value::Real(_) => 1,
            Value::Bools(v) => v.len(),
            Value::Ints(v) => v.len(),
            Value::Reals(v) => v.len(),
        }
    }

    /// True for an empty vector; a scalar is never empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A short name of the variant's type, for error messages (`"real"`, `"int vector"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Real(_) => "real",
            Value::Bools(_) => "bool vector",
            Value::Ints(_) => "int vector",
            Value::Reals(_) => "real vector",
        }
    }
}

/// A typed value that converts to and from [`Value`].
///
/// Implemented for `f64`, `i64`, `bool` and vectors of them. Conversion from a [`Value`] is
/// lenient where no information is lost: an integer reads as a real, an integral real reads as an
/// integer, and `0`/`1` read as booleans. Anything else gives `None`.
pub trait ValueType: Clone + Send + Sync + 'static {
    /// The name of the type as [`Value::type_name`] spells it, for error messages.
    const TYPE_NAME: &'static str;
    /// Whether a value of this type can carry a gradient ([`Real`], [`Reals`]): see
    /// [`take_tracked`](ValueType::take_tracked).
    const TRACKS: bool = false;
    /// Wraps the value.
    fn into_value(self) -> Value;
    /// Reads the value back, or `None` when `value` does not hold this type.
    fn from_value(value: &Value) -> Option<Self>;
    /// Like [`from_value`](ValueType::from_value), but takes the value, so that a vector of the
    /// right type moves instead of being copied.
    fn take_value(value: Value) -> Option<Self> {
        Self::from_value(&value)
    }
    /// Like [`from_value`](ValueType::from_value), but borrows a vector of the right type instead
    /// of copying it (scoring a vectorised site reads its value in place).
    fn view(value: &Value) -> Option<Cow<'_, Self>> {
        Self::from_value(value).map(Cow::Owned)
    }
    /// Like [`take_value`](ValueType::take_value), for a site whose value is also held as tape
    /// [`Real`]s (`tracked`, one per element, while a gradient is being taken): a `Real` value
    /// is read from them, so that the gradient flows through it. Types without `Real`s ignore
    /// `tracked`.
    fn take_tracked(value: Value, tracked: &[Real]) -> Option<Self> {
        let _ = tracked;
        Self::take_value(value)
    }
    /// The tape [`Real`]s of this value, one per element, in the form
    /// [`take_tracked`](ValueType::take_tracked) reads back
    /// (`take_tracked(x.clone().into_value(), &x.tracked_reals())` is `x`), or none where no
    /// element is tracked (a constant, or a type without `Real`s: the default).
    ///
    /// ```
    /// use pyro_distributions::{Real, Reals, ValueType};
    /// use pyro_tape::Tape;
    ///
    /// let tape = Tape::start()?;
    /// let xs: Reals = [tape.leaf(1.5), Real::from(2.0)].into_iter().collect();
    /// assert_eq!(xs.tracked_reals().len(), 2);
    /// assert!(Real::from(2.0).tracked_reals().is_empty());
    /// assert!(3.0_f64.tracked_reals().is_empty());
    /// # Ok::<(), pyro_tape::TapeError>(())
    /// ```
    fn tracked_reals(&self) -> SmallVec<[Real; 1]> {
        SmallVec::new()
    }
}

/// What [`observe`](https://docs.rs/pyro-poutine) accepts as an observation of type `T`: a `T`,
/// or plain data that converts to it (an `f64` for a [`Real`], a `Vec<f64>` (moved, not
/// copied), `&Vec<f64>` or `&[f64]` for [`Reals`]).
///
/// ```
/// use pyro_distributions::{Observation, Real, Reals};
///
/// let y: Real = 9.5.into_observation();
/// assert_eq!(y, 9.5);
/// let ys: Reals = vec![1.0, 2.0].into_observation();
/// assert_eq!(ys.values(), &[1.0, 2.0]);
/// assert!(true.into_observation());
/// ```
pub trait Observation<T> {
    /// The observation as a `T`.
    fn into_observation(self) -> T;
}

impl<T: ValueType> Observation<T> for T {
    #[inline]
    fn into_observation(self) -> T {
        self
    }
}

impl Observation<Real> for f64 {
    #[inline]
    fn into_observation(self) -> Real {
        Real::constant(self)
    }
}

impl Observation<Reals> for Vec<f64> {
    #[inline]
    fn into_observation(self) -> Reals {
        Reals::constant(self)
    }
}

impl Observation<Reals> for &[f64] {
    fn into_observation(self) -> Reals {
        Reals::from(self)
    }
}

impl Observation<Reals> for &Vec<f64> {
    fn into_observation(self) -> Reals {
        Reals::from(self)
    }
}

/// A scalar value type that a batch ([`Batched`](crate::Batched)) holds many of, and its
/// vector type: [`Reals`] for [`Real`], `Vec<bool>` and `Vec<i64>` for the discrete ones, and
/// `Vec<f64>` for a user's family with plain `f64` values.
pub trait Element: ValueType + Copy {
    /// A vector of elements: the value of a batch.
    type Vector: ValueType;
    /// The number of elements of `vector`.
    fn len(vector: &Self::Vector) -> usize;
    /// Element `i` of `vector` (`i` below its length).
    fn get(vector: &Self::Vector, i: usize) -> Self;
    /// The vector of the given elements.
    fn collect(elements: impl Iterator<Item = Self>) -> Self::Vector;
    /// `vector` as [`Reals`] when the element type is [`Real`] (for a batch of a location
    /// family, [`Batched::located`](crate::Batched::located)); `None` otherwise.
    fn as_reals(vector: &Self::Vector) -> Option<&Reals> {
        let _ = vector;
        None
    }
}

impl Element for Real {
    type Vector = Reals;
    #[inline]
    fn len(vector: &Reals) -> usize {
        vector.len()
    }
    #[inline]
    fn get(vector: &Reals, i: usize) -> Real {
        vector.get(i).unwrap_or_default()
    }
    fn collect(elements: impl Iterator<Item = Real>) -> Reals {
        elements.collect()
    }
    #[inline]
    fn as_reals(vector: &Reals) -> Option<&Reals> {
        Some(vector)
    }
}

/// [`Element`] for a type whose vector is a `Vec`.
macro_rules! vec_element {
    ($($t:ty),*) => {$(
        impl Element for $t {
            type Vector = Vec<$t>;
            #[inline]
            fn len(vector: &Vec<$t>) -> usize {
                vector.len()
            }
            #[inline]
            fn get(vector: &Vec<$t>, i: usize) -> $t {
                vector[i]
            }
            fn collect(elements: impl Iterator<Item = $t>) -> Vec<$t> {
                elements.collect()
            }
        }
    )*};
}

vec_element!(bool, i64, f64);

/// Plain data converts into a [`Value`], so that handlers take it as is:
/// `condition(model, [("y", 9.5)])`, `[("flag", true)]`, `[("n", 3)]`, `[("ys", vec![0.1, 0.2])]`.
macro_rules! value_from {
    ($($t:ty => |$x:ident| $e:expr),* $(,)?) => {
        $(
            impl From<$t> for Value {
                fn from($x: $t) -> Self {
                    $e
                }
            }
        )*
    };
}

value_from!(
    f64 => |x| Value::Real(x),
    Real => |x| Value::Real(x.value()),
    Reals => |v| Value::Reals(v.into_values()),
    &Reals => |v| Value::Reals(v.values().to_vec()),
    f32 => |x| Value::Real(f64::from(x)),
    bool => |b| Value::Bool(b),
    i64 => |k| Value::Int(k),
    i32 => |k| Value::Int(i64::from(k)),
    u32 => |k| Value::Int(i64::from(k)),
    Vec<f64> => |v| Value::Reals(v),
    Vec<bool> => |v| Value::Bools(v),
    Vec<i64> => |v| Value::Ints(v),
    &[f64] => |v| Value::Reals(v.to_vec()),
    &[bool] => |v| Value::Bools(v.to_vec()),
    &[i64] => |v| Value::Ints(v.to_vec()),
);

fn real_to_int(x: f64) -> Option<i64> {
    // 2^63 is exactly representable; anything at or beyond it does not fit in an i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (x.fract() == 0.0 && x.abs() < LIMIT).then_some(x as i64)
}

fn int_to_bool(k: i64) -> Option<bool> {
    match k {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

impl ValueType for f64 {
    const TYPE_NAME: &'static str = "real";
    fn into_value(self) -> Value {
        Value::Real(self)
    }
    fn from_value(value: &Value) -> Option<Self> {
        match *value {
            Value::Real(x) => Some(x),
            Value::Int(k) => Some(k as f64),
            _ => None,
        }
    }
}

impl ValueType for Real {
    const TYPE_NAME: &'static str = "real";
    const TRACKS: bool = true;
    #[inline]
    fn into_value(self) -> Value {
        Value::Real(self.value())
    }
    #[inline]
    fn from_value(value: &Value) -> Option<Self> {
        f64::from_value(value).map(Real::constant)
    }
    #[inline]
    fn take_tracked(value: Value, tracked: &[Real]) -> Option<Self> {
        match tracked {
            [x] => Some(*x),
            _ => Self::from_value(&value),
        }
    }
    fn tracked_reals(&self) -> SmallVec<[Real; 1]> {
        if self.is_constant() {
            SmallVec::new()
        } else {
            smallvec::smallvec![*self]
        }
    }
}

impl ValueType for Reals {
    const TYPE_NAME: &'static str = "real vector";
    const TRACKS: bool = true;
    #[inline]
    fn into_value(self) -> Value {
        Value::Reals(self.into_values())
    }
    fn take_value(value: Value) -> Option<Self> {
        Vec::<f64>::take_value(value).map(Reals::constant)
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Reals(v) => Some(Reals::from(v)),
            Value::Ints(v) => Some(v.iter().map(|&k| k as f64).collect()),
            _ => None,
        }
    }
    fn take_tracked(value: Value, tracked: &[Real]) -> Option<Self> {
        if !tracked.is_empty() && tracked.len() == value.len() {
            return Some(tracked.iter().copied().collect());
        }
        Self::take_value(value)
    }
    fn tracked_reals(&self) -> SmallVec<[Real; 1]> {
        if self.is_constant() {
            SmallVec::new()
        } else {
            self.iter().collect()
        }
    }
}

impl ValueType for i64 {
    const TYPE_NAME: &'static str = "int";
    fn into_value(self) -> Value {
        Value::Int(self)
    }
    fn from_value(value: &Value) -> Option<Self> {
        match *value {
            Value::Int(k) => Some(k),
            Value::Real(x) => real_to_int(x),
            Value::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }
}

impl ValueType for bool {
    const TYPE_NAME: &'static str = "bool";
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
    fn from_value(value: &Value) -> Option<Self> {
        match *value {
            Value::Bool(b) => Some(b),
            Value::Int(k) => int_to_bool(k),
            Value::Real(x) => real_to_int(x).and_then(int_to_bool),
            _ => None,
        }
    }
}

impl ValueType for Vec<f64> {
    fn take_value(value: Value) -> Option<Self> {
        match value {
            Value::Reals(v) => Some(v),
            other => Self::from_value(&other),
        }
    }
    fn view(value: &Value) -> Option<Cow<'_, Self>> {
        match value {
            Value::Reals(v) => Some(Cow::Borrowed(v)),
            other => Self::from_value(other).map(Cow::Owned),
        }
    }
    const TYPE_NAME: &'static str = "real vector";
    fn into_value(self) -> Value {
        Value::Reals(self)
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Reals(v) => Some(v.clone()),
            Value::Ints(v) => Some(v.iter().map(|&k| k as f64).collect()),
            _ => None,
        }
    }
}

impl ValueType for Vec<i64> {
    fn take_value(value: Value) -> Option<Self> {
        match value {
            Value::Ints(v) => Some(v),
            other => Self::from_value(&other),
        }
    }
    fn view(value: &Value) -> Option<Cow<'_, Self>> {
        match value {
            Value::Ints(v) => Some(Cow::Borrowed(v)),
            other => Self::from_value(other).map(Cow::Owned),
        }
    }
    const TYPE_NAME: &'static str = "int vector";
    fn into_value(self) -> Value {
        Value::Ints(self)
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Ints(v) => Some(v.clone()),
            Value::Reals(v) => v.iter().map(|&x| real_to_int(x)).collect(),
            Value::Bools(v) => Some(v.iter().map(|&b| i64::from(b)).collect()),
            _ => None,
        }
    }
}

impl ValueType for Vec<bool> {
    fn take_value(value: Value) -> Option<Self> {
        match value {
            Value::Bools(v) => Some(v),
            other => Self::from_value(&other),
        }
    }
    fn view(value: &Value) -> Option<Cow<'_, Self>> {
        match value {
            Value::Bools(v) => Some(Cow::Borrowed(v)),
            other => Self::from_value(other).map(Cow::Owned),
        }
    }
    const TYPE_NAME: &'static str = "bool vector";
    fn into_value(self) -> Value {
        Value::Bools(self)
    }
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bools(v) => Some(v.clone()),
            Value::Ints(v) => v.iter().map(|&k| int_to_bool(k)).collect(),
            Value::Reals(v) => v
                .iter()
                .map(|&x| real_to_int(x).and_then(int_to_bool))
                .collect(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(f64::from_value(&1.5.into_value()), Some(1.5));
        assert_eq!(i64::from_value(&(-4_i64).into_value()), Some(-4));
        assert_eq!(bool::from_value(&true.into_value()), Some(true));
        let v = vec![1.0, 2.0];
        assert_eq!(Vec::<f64>::from_value(&v.clone().into_value()), Some(v));
        let r = Real::constant(2.5);
        assert_eq!(Real::from_value(&r.into_value()), Some(r));
        let rs = Reals::from(vec![1.0, -3.0]);
        assert_eq!(Reals::from_value(&rs.clone().into_value()), Some(rs));
        assert_eq!(Real::from_value(&Value::Int(3)), Some(Real::constant(3.0)));
    }

    #[test]
    fn tracked_reals_are_read_from_the_tape() -> Result<(), pyro_tape::TapeError> {
        let tape = pyro_tape::Tape::start()?;
        let x = tape.leaf(1.5);
        let got = Real::take_tracked(Value::Real(1.5), &[x]).unwrap();
        assert!(!got.is_constant());
        let y = tape.leaf(2.0);
        let got = Reals::take_tracked(Value::Reals(vec![1.5, 2.0]), &[x, y]).unwrap();
        assert!(!got.is_constant());
        assert!(got.iter().all(|r| !r.is_constant()));
        // Without tracked reals, or with the wrong number, the value is a constant.
        assert!(
            Real::take_tracked(Value::Real(1.5), &[])
                .unwrap()
                .is_constant()
        );
        let got = Reals::take_tracked(Value::Reals(vec![1.5]), &[x, y]).unwrap();
        assert!(got.is_constant());
        assert_eq!(f64::take_tracked(Value::Real(1.5), &[x]), Some(1.5));
        Ok(())
    }

    #[test]
    fn lenient_only_without_loss() {
        assert_eq!(i64::from_value(&Value::Real(2.5)), None);
        assert_eq!(i64::from_value(&Value::Real(f64::NAN)), None);
        assert_eq!(i64::from_value(&Value::Real(1e300)), None);
        assert_eq!(bool::from_value(&Value::Int(2)), None);
        assert_eq!(bool::from_value(&Value::Real(1.0)), Some(true));
        assert_eq!(f64::from_value(&Value::Bool(true)), None);
        assert_eq!(Vec::<i64>::from_value(&Value::Reals(vec![1.0, 0.5])), None);
        assert_eq!(f64::from_value(&Value::Reals(vec![1.0])), None);
    }
}
