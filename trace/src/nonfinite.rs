//! Serde helpers that keep non-finite floats: `inf`, `-inf` and `NaN` are written as the strings
//! `"inf"`, `"-inf"` and `"NaN"` (JSON has no literal for them, and `serde_json` would write
//! `null`), finite numbers as numbers.
//!
//! Used with `#[serde(with = "crate::nonfinite")]` on an `f64` field, through [`JsonF64`] in
//! containers, and through [`value`] for a [`Value`].

use pyro_distributions::Value;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// Writes `x` as a number, or as `"inf"`, `"-inf"` or `"NaN"`.
pub(crate) fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    JsonF64(*x).serialize(s)
}

/// Reads a number, or one of the strings `"inf"`, `"-inf"`, `"NaN"`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    JsonF64::deserialize(d).map(|x| x.0)
}

/// An `f64` that serialises non-finite values as the strings `"inf"`, `"-inf"` and `"NaN"` (JSON
/// has no literal for them; `serde_json` alone writes `null`), and reads them back: the
/// convention of every JSON form in pyro-rs (traces, MCMC draws).
///
/// ```
/// use pyro_trace::JsonF64;
///
/// assert_eq!(serde_json::to_string(&JsonF64(f64::NEG_INFINITY)).unwrap(), r#""-inf""#);
/// assert_eq!(serde_json::to_string(&JsonF64(0.5)).unwrap(), "0.5");
/// let back: JsonF64 = serde_json::from_str(r#""NaN""#).unwrap();
/// assert!(back.0.is_nan());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct JsonF64(pub f64);

impl Serialize for JsonF64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.is_finite() {
            s.serialize_f64(x)
        } else if x.is_nan() {
            s.serialize_str("NaN")
        } else if x > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

impl<'de> Deserialize<'de> for JsonF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct F64Visitor;

        impl Visitor<'_> for F64Visitor {
            type Value = JsonF64;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a number or one of "inf", "-inf", "NaN""#)
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<JsonF64, E> {
                Ok(JsonF64(x))
            }
            fn visit_i64<E: de::Error>(self, x: i64) -> Result<JsonF64, E> {
                Ok(JsonF64(x as f64))
            }
            fn visit_u64<E: de::Error>(self, x: u64) -> Result<JsonF64, E> {
                Ok(JsonF64(x as f64))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<JsonF64, E> {
                match s {
                    "inf" => Ok(JsonF64(f64::INFINITY)),
                    "-inf" => Ok(JsonF64(f64::NEG_INFINITY)),
                    "NaN" => Ok(JsonF64(f64::NAN)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
                }
            }
        }

        d.deserialize_any(F64Visitor)
    }
}

/// A slice of `f64` written element by element through [`JsonF64`].
struct Reals<'a>(&'a [f64]);

impl Serialize for Reals<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|&x| JsonF64(x)))
    }
}

/// The serialised form of a [`Value`] (the same externally tagged shape as `Value`'s own serde
/// impl), borrowing on the way out.
#[derive(Serialize)]
enum ValueOut<'a> {
    Bool(bool),
    Int(i64),
    Real(JsonF64),
    Bools(&'a [bool]),
    Ints(&'a [i64]),
    Reals(Reals<'a>),
}

/// The serialised form of a [`Value`], owned on the way in.
#[derive(Deserialize)]
enum ValueIn {
    Bool(bool),
    Int(i64),
    Real(JsonF64),
    Bools(Vec<bool>),
    Ints(Vec<i64>),
    Reals(Vec<JsonF64>),
}

/// Serde for [`Value`] keeping non-finite reals (`#[serde(with = "crate::nonfinite::value")]`).
pub(crate) mod value {
    use super::*;

    /// Writes `v` with non-finite reals as strings.
    pub(crate) fn serialize<S: Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
        let out = match v {
            Value::Bool(b) => ValueOut::Bool(*b),
            Value::Int(k) => ValueOut::Int(*k),
            Value::Real(x) => ValueOut::Real(JsonF64(*x)),
            Value::Bools(v) => ValueOut::Bools(v),
            Value::Ints(v) => ValueOut::Ints(v),
            Value::Reals(v) => ValueOut::Reals(Reals(v)),
        };
        out.serialize(s)
    }

    /// Reads a value written by [`serialize`] (or by `Value`'s own serde impl).
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        Ok(match ValueIn::deserialize(d)? {
            ValueIn::Bool(b) => Value::Bool(b),
            ValueIn::Int(k) => Value::Int(k),
            ValueIn::Real(x) => Value::Real(x.0),
            ValueIn::Bools(v) => Value::Bools(v),
            ValueIn::Ints(v) => Value::Ints(v),
            ValueIn::Reals(v) => Value::Reals(v.into_iter().map(|x| x.0).collect()),
        })
    }
}

/// A [`Value`], borrowed when written and owned when read, serialised through [`value`].
#[derive(Clone, Debug)]
pub(crate) struct ValueRepr<'a>(pub(crate) Cow<'a, Value>);

impl Serialize for ValueRepr<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        value::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for ValueRepr<'_> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        value::deserialize(d).map(|v| ValueRepr(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &Value) -> Value {
        let json = serde_json::to_string(&ValueRepr(Cow::Borrowed(v))).unwrap();
        serde_json::from_str::<ValueRepr<'_>>(&json)
            .unwrap()
            .0
            .into_owned()
    }

    #[test]
    fn non_finite_floats_are_strings() {
        let xs = [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -0.0, 1.5];
        let json = serde_json::to_string(&Reals(&xs)).unwrap();
        assert_eq!(json, r#"["inf","-inf","NaN",-0.0,1.5]"#);
        let back: Vec<JsonF64> = serde_json::from_str(&json).unwrap();
        assert_eq!(back[0].0, f64::INFINITY);
        assert_eq!(back[1].0, f64::NEG_INFINITY);
        assert!(back[2].0.is_nan());
        assert_eq!(back[3].0.to_bits(), (-0.0_f64).to_bits());
        assert_eq!(back[4].0, 1.5);
        // Integers read as reals; other strings are rejected.
        assert_eq!(serde_json::from_str::<JsonF64>("3").unwrap().0, 3.0);
        assert_eq!(serde_json::from_str::<JsonF64>("-3").unwrap().0, -3.0);
        let err = serde_json::from_str::<JsonF64>(r#""infinity""#).unwrap_err();
        assert!(err.to_string().contains(r#"one of "inf", "-inf", "NaN""#));
    }

    #[test]
    fn values_keep_non_finite_reals() {
        assert_eq!(
            round_trip(&Value::Real(f64::NEG_INFINITY)),
            Value::Real(f64::NEG_INFINITY)
        );
        match round_trip(&Value::Reals(vec![f64::NAN, 2.0, f64::INFINITY])) {
            Value::Reals(v) => {
                assert!(v[0].is_nan());
                assert_eq!(&v[1..], &[2.0, f64::INFINITY]);
            }
            other => panic!("expected reals, got {other:?}"),
        }
        for v in [
            Value::Bool(true),
            Value::Int(-7),
            Value::Bools(vec![true, false]),
            Value::Ints(vec![1, 2]),
        ] {
            assert_eq!(round_trip(&v), v);
        }
    }

    #[test]
    fn finite_values_use_the_shape_of_value_serde() {
        let v = Value::Reals(vec![1.0, -2.5]);
        let ours = serde_json::to_string(&ValueRepr(Cow::Borrowed(&v))).unwrap();
        assert_eq!(ours, serde_json::to_string(&v).unwrap());
        let theirs: Value = serde_json::from_str(&ours).unwrap();
        assert_eq!(theirs, v);
    }

    #[test]
    fn floats_round_trip_exactly() {
        for x in [
            0.1,
            1.0 / 3.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            -1.2345678901234567e-300,
        ] {
            let json = serde_json::to_string(&JsonF64(x)).unwrap();
            let back: JsonF64 = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0.to_bits(), x.to_bits(), "{x} via {json}");
        }
    }
}
