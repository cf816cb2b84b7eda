//! [`Name`]: a site name that does not allocate when built in a loop.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The name of a site.
///
/// Built from a `&'static str` or from a static base and an index ([`Name::indexed`], printed
/// `base_index`) without allocating, so that names made in loops (`y_0`, `y_1`, ...) cost nothing
/// per site; any other string is kept behind an `Arc` (one allocation, cheap clones).
///
/// Equality, ordering and hashing follow the printed name: `Name::indexed("y", 17)` equals
/// `Name::from("y_17".to_string())`, because traces of different programs are joined by name.
///
/// ```
/// use pyro_trace::Name;
///
/// let a = Name::indexed("y", 17);
/// assert_eq!(a.to_string(), "y_17");
/// assert_eq!(a, Name::from(String::from("y_17")));
/// assert_eq!(Name::from("weight"), Name::from(String::from("weight")));
/// assert_ne!(Name::indexed("y", 1), Name::from("y_01"));
/// ```
#[derive(Clone)]
pub struct Name(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Indexed(&'static str, u64),
    Owned(Arc<str>),
}

impl Name {
    /// The name `base_index`, e.g. `Name::indexed("y", 3)` prints `y_3`.
    pub const fn indexed(base: &'static str, index: u64) -> Self {
        Name(Repr::Indexed(base, index))
    }

    /// A name from a static string.
    pub const fn new(name: &'static str) -> Self {
        Name(Repr::Static(name))
    }

    /// The name as a string slice when it is stored whole (not for indexed names).
    pub fn as_static_or_owned(&self) -> Option<&str> {
        match &self.0 {
            Repr::Static(s) => Some(s),
            Repr::Owned(s) => Some(s),
            Repr::Indexed(..) => None,
        }
    }

    /// The name as a string, borrowed where possible.
    pub fn as_cow(&self) -> Cow<'_, str> {
        match self.as_static_or_owned() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(self.to_string()),
        }
    }

    /// A new name: this one followed by `suffix` (e.g. Pyro's `x__CF`). Allocates.
    pub fn with_suffix(&self, suffix: &str) -> Name {
        Name(Repr::Owned(Arc::from(format!("{self}{suffix}"))))
    }

    /// The canonical split into a base and an index: `y_17` is `("y", Some(17))`; a name whose
    /// suffix after the last `_` is not a canonical decimal number has no index.
    fn parts(&self) -> (&str, Option<u64>) {
        match &self.0 {
            Repr::Indexed(base, i) => (base, Some(*i)),
            Repr::Static(s) => split_index(s),
            Repr::Owned(s) => split_index(s),
        }
    }
}

fn split_index(s: &str) -> (&str, Option<u64>) {
    if let Some((base, digits)) = s.rsplit_once('_') {
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if canonical && let Ok(i) = digits.parse::<u64>() {
            return (base, Some(i));
        }
    }
    (s, None)
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Static(s) => f.write_str(s),
            Repr::Owned(s) => f.write_str(s),
            Repr::Indexed(base, i) => write!(f, "{base}_{i}"),
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl PartialEq for Name {
    /// Names built from the same literal (with the same index) compare without reading a string;
    /// that is how a model names its sites at every run.
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Static(a), Repr::Static(b)) if std::ptr::eq(*a, *b) => true,
            (Repr::Indexed(a, i), Repr::Indexed(b, j)) if std::ptr::eq(*a, *b) => i == j,
            _ => self.eq_spelled(other),
        }
    }
}

impl Name {
    /// Equality of the printed names.
    fn eq_spelled(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            // Two whole strings are equal exactly when their canonical parts are: no need to
            // split them.
            (Repr::Static(a), Repr::Static(b)) => same_str(a, b),
            (Repr::Owned(a), Repr::Owned(b)) => a == b,
            (Repr::Static(a), Repr::Owned(b)) | (Repr::Owned(b), Repr::Static(a)) => *a == &**b,
            (Repr::Indexed(a, i), Repr::Indexed(b, j)) => i == j && same_str(a, b),
            (Repr::Indexed(base, i), Repr::Static(s))
            | (Repr::Static(s), Repr::Indexed(base, i)) => is_indexed_form(s, base, *i),
            (Repr::Indexed(base, i), Repr::Owned(s)) | (Repr::Owned(s), Repr::Indexed(base, i)) => {
                is_indexed_form(s, base, *i)
            }
        }
    }
}

/// String equality that skips the byte comparison when both are the same static string (a name
/// built from the same literal at every run of a model).
fn same_str(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// Whether `s` is `base_i` with `i` in canonical decimal, checked without allocating.
fn is_indexed_form(s: &str, base: &str, i: u64) -> bool {
    // Cheap rejections first: most comparisons are between unrelated names.
    if s.len() <= base.len() + 1 || s.as_bytes()[base.len()] != b'_' || !s.starts_with(base) {
        return false;
    }
    let digits = &s[base.len() + 1..];
    digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && digits.parse() == Ok(i)
}

impl Eq for Name {}

impl Hash for Name {
    /// Hashes a split of the printed name that is cheap to find from its end: the trailing
    /// digits, when an underscore precedes them, as a number, and the rest before that
    /// underscore. Equal names print alike and so split alike; an indexed name is already split.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let (base, index) = match &self.0 {
            Repr::Indexed(base, i) => (*base, Some(*i)),
            Repr::Static(s) => hash_split(s),
            Repr::Owned(s) => hash_split(s),
        };
        base.hash(state);
        index.hash(state);
    }
}

/// `"y_17"` to `("y", Some(17))`, scanning only the trailing digits.
fn hash_split(s: &str) -> (&str, Option<u64>) {
    if !s.as_bytes().last().is_some_and(u8::is_ascii_digit) {
        return (s, None);
    }
    let stem = s.trim_end_matches(|c: char| c.is_ascii_digit());
    if stem.len() < s.len()
        && let Some(base) = stem.strip_suffix('_')
        && let Ok(i) = s[stem.len()..].parse()
    {
        return (base, Some(i));
    }
    (s, None)
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    /// Orders by base, then by index (so `y_2` sorts before `y_10`).
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl From<&'static str> for Name {
    fn from(s: &'static str) -> Self {
        Name(Repr::Static(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Repr::Owned(Arc::from(s)))
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Self {
        Name(Repr::Owned(Arc::from(s.as_str())))
    }
}

impl From<&Name> for Name {
    fn from(n: &Name) -> Self {
        n.clone()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.parts() == split_index(other)
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_cow())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

/// One or more site names, as the APIs that take sites accept them: a name (`&'static str`,
/// `String`, [`Name`]), or an array, a vector or a slice of names.
///
/// ```
/// use pyro_trace::{Name, SiteNames};
///
/// assert_eq!("a".into_names(), [Name::from("a")]);
/// assert_eq!(["a", "b"].into_names(), [Name::from("a"), Name::from("b")]);
/// assert_eq!(vec![String::from("c")].into_names(), [Name::from("c")]);
/// assert_eq!((&[Name::indexed("y", 1)][..]).into_names(), [Name::from("y_1")]);
/// ```
pub trait SiteNames {
    /// The names.
    fn into_names(self) -> Vec<Name>;
}

impl SiteNames for &'static str {
    fn into_names(self) -> Vec<Name> {
        vec![self.into()]
    }
}

impl SiteNames for String {
    fn into_names(self) -> Vec<Name> {
        vec![self.into()]
    }
}

impl SiteNames for &String {
    fn into_names(self) -> Vec<Name> {
        vec![self.into()]
    }
}

impl SiteNames for Name {
    fn into_names(self) -> Vec<Name> {
        vec![self]
    }
}

impl SiteNames for &Name {
    fn into_names(self) -> Vec<Name> {
        vec![self.clone()]
    }
}

impl<T: Into<Name>, const N: usize> SiteNames for [T; N] {
    fn into_names(self) -> Vec<Name> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<T: Into<Name>> SiteNames for Vec<T> {
    fn into_names(self) -> Vec<Name> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<T: Into<Name> + Clone> SiteNames for &[T] {
    fn into_names(self) -> Vec<Name> {
        self.iter().cloned().map(Into::into).collect()
    }
}

impl<T: Into<Name> + Clone, const N: usize> SiteNames for &[T; N] {
    fn into_names(self) -> Vec<Name> {
        self.iter().cloned().map(Into::into).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash(n: &Name) -> u64 {
        let mut h = DefaultHasher::new();
        n.hash(&mut h);
        h.finish()
    }

    #[test]
    fn indexed_equals_its_printed_form() {
        let a = Name::indexed("y", 17);
        let b = Name::from("y_17".to_string());
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(a, "y_17");
        assert_eq!(Name::indexed("y_1", 2), Name::from("y_1_2"));
        assert_eq!(Name::indexed("x", 0), Name::from("x_0"));
        assert_eq!(Name::from("x_0".to_string()), Name::indexed("x", 0));
        assert_ne!(Name::indexed("x", 0), Name::from("x_00"));
        assert_ne!(Name::indexed("x", 10), Name::from("y_10"));
        assert_ne!(Name::indexed("x", 10), Name::from("x-10"));
        assert_ne!(Name::indexed("x", 10), Name::from("x_1"));
    }

    #[test]
    fn non_canonical_suffixes_are_plain_names() {
        assert_ne!(Name::indexed("y", 1), Name::from("y_01"));
        assert_ne!(Name::indexed("y", 5), Name::from("y_+5"));
        assert_ne!(Name::indexed("y", 5), Name::from("y_"));
        assert_eq!(Name::from("y_01").to_string(), "y_01");
        assert_eq!(Name::from("x_"), Name::from("x_".to_string()));
        assert_ne!(Name::from("x"), Name::from("x_0"));
        // Too large for u64: a plain name, equal only to the same string.
        let big = "z_99999999999999999999999";
        assert_eq!(Name::from(big), Name::from(big.to_string()));
    }

    #[test]
    fn orders_by_index() {
        let mut v = vec![
            Name::indexed("y", 10),
            Name::indexed("y", 2),
            Name::from("a"),
        ];
        v.sort();
        assert_eq!(
            v,
            vec![
                Name::from("a"),
                Name::indexed("y", 2),
                Name::indexed("y", 10)
            ]
        );
    }

    #[test]
    fn suffix_and_cow() {
        let n = Name::indexed("x", 3).with_suffix("__CF");
        assert_eq!(n.to_string(), "x_3__CF");
        assert_eq!(Name::indexed("x", 3).as_cow(), "x_3");
    }
}
