//! Shared test support: SciPy reference values, Monte Carlo checks of the moments, a
//! Kolmogorov-Smirnov test and pinned first draws.
//!
//! Reference values are in `reference/reference.json`, written by `reference/gen_reference.py`
//! (SciPy, an independent implementation), and for extreme parameters and values, where SciPy's
//! double-precision formulas cannot vouch for themselves, in `reference/extreme.json`, written by
//! `reference/gen_extreme.py` (mpmath, in arbitrary precision). Each statistical check states its
//! tolerance from the Monte Carlo error of the sample it draws.

use crate::distribution::{Cdf, Distribution, ErasedDistribution};
use crate::value::{Value, ValueType};
use pyro_tape::Real;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::sync::OnceLock;

/// The RNG of every statistical test: portable, so pinned draws hold on every machine.
pub(crate) fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// Default tolerance of a log-density against SciPy: `|ours - scipy| <= TOL * (1 + |scipy|)`.
/// Both sides are double-precision evaluations of the same formula family, so they agree to a
/// few hundred ulps; families whose formulas cancel large terms pass a wider, explained bound.
pub(crate) const TOL: f64 = 1e-10;

/// The parameters of one reference case, as the constructors name them.
pub(crate) struct Params(serde_json::Map<String, Json>);

impl Params {
    /// A real parameter; panics (failing the test) when it is missing.
    pub(crate) fn real(&self, key: &str) -> f64 {
        self.get_real(key)
            .unwrap_or_else(|| panic!("reference case lacks '{key}'"))
    }

    /// A real parameter, if present.
    pub(crate) fn get_real(&self, key: &str) -> Option<f64> {
        self.0.get(key).map(number)
    }

    /// An integer parameter; panics when missing or not an integer.
    pub(crate) fn int(&self, key: &str) -> i64 {
        self.0
            .get(key)
            .and_then(Json::as_i64)
            .unwrap_or_else(|| panic!("reference case lacks integer '{key}'"))
    }

    /// A vector parameter, if present.
    pub(crate) fn get_reals(&self, key: &str) -> Option<Vec<f64>> {
        self.0
            .get(key)
            .and_then(Json::as_array)
            .map(|a| a.iter().map(number).collect())
    }

    /// A matrix parameter (rows), if present.
    pub(crate) fn get_matrix(&self, key: &str) -> Option<Vec<Vec<f64>>> {
        self.0.get(key).and_then(Json::as_array).map(|rows| {
            rows.iter()
                .map(|r| {
                    r.as_array()
                        .expect("matrix row")
                        .iter()
                        .map(number)
                        .collect()
                })
                .collect()
        })
    }
}

fn number(j: &Json) -> f64 {
    match j {
        Json::Number(n) => n.as_f64().expect("number"),
        Json::String(s) if s == "inf" => f64::INFINITY,
        Json::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Json::String(s) if s == "nan" => f64::NAN,
        // gen_extreme.py writes every number as a string, which `parse` rounds correctly (and
        // which reads "inf" and "-inf" too).
        Json::String(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("not a number in reference data: {s}")),
        other => panic!("not a number in reference data: {other}"),
    }
}

fn to_value(j: &Json) -> Value {
    match j {
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) if n.is_i64() => Value::Int(n.as_i64().expect("int")),
        Json::Array(a) if a.iter().all(|x| x.is_i64()) => {
            Value::Ints(a.iter().map(|x| x.as_i64().expect("int")).collect())
        }
        Json::Array(a) => Value::Reals(a.iter().map(number).collect()),
        other => Value::Real(number(other)),
    }
}

struct Case {
    params: Params,
    points: Vec<serde_json::Map<String, Json>>,
    mean: Json,
    variance: Json,
}

fn cases(family: &str) -> Vec<Case> {
    static ALL: OnceLock<Json> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        serde_json::from_str(include_str!("../reference/reference.json")).expect("reference.json")
    });
    let found: Vec<Case> = all["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| c["family"] == family)
        .map(|c| Case {
            params: Params(c["params"].as_object().expect("params").clone()),
            points: c["points"]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| p.as_object().expect("point").clone())
                .collect(),
            mean: c["mean"].clone(),
            variance: c["variance"].clone(),
        })
        .collect();
    assert!(!found.is_empty(), "no reference cases for {family}");
    found
}

/// One point of a high-precision reference case: its value `x` and the reference numbers at it.
pub(crate) struct ExtremePoint(serde_json::Map<String, Json>);

impl ExtremePoint {
    /// A real number of the point (`"x"`, `"log_prob"`, `"cdf"`...); panics when it is missing.
    pub(crate) fn real(&self, key: &str) -> f64 {
        number(
            self.0
                .get(key)
                .unwrap_or_else(|| panic!("reference point lacks '{key}'")),
        )
    }

    /// The value of the point as a [`Value`].
    pub(crate) fn value(&self) -> Value {
        to_value(&self.0["x"])
    }
}

/// One high-precision reference case: the family's parameters and its points.
pub(crate) struct ExtremeCase {
    /// The family name.
    pub(crate) family: String,
    /// The parameters, as the constructors name them.
    pub(crate) params: Params,
    /// The points and the reference values at them.
    pub(crate) points: Vec<ExtremePoint>,
}

/// The cases of one section of `reference/extreme.json` (mpmath, in arbitrary precision).
pub(crate) fn extreme_cases(section: &str) -> Vec<ExtremeCase> {
    static ALL: OnceLock<Json> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        serde_json::from_str(include_str!("../reference/extreme.json")).expect("extreme.json")
    });
    let found: Vec<ExtremeCase> = all["sections"][section]
        .as_array()
        .unwrap_or_else(|| panic!("extreme.json lacks section '{section}'"))
        .iter()
        .map(|c| ExtremeCase {
            family: c["family"].as_str().expect("family").to_string(),
            params: Params(c["params"].as_object().expect("params").clone()),
            points: c["points"]
                .as_array()
                .expect("points")
                .iter()
                .map(|p| ExtremePoint(p.as_object().expect("point").clone()))
                .collect(),
        })
        .collect();
    assert!(!found.is_empty(), "no cases in section {section}");
    found
}

/// Checks `log_prob` at the extreme points of `family` in `reference/extreme.json` (mpmath, 450
/// digits): subnormal, tiny, huge and maximal parameters and values (issue 11, item 9).
///
/// Each reference comes with its relative condition number `c`: rounding the inputs (the value
/// and the real parameters) by a relative `eps` moves the log-density by up to
/// `c eps (1 + |lp|)`. A backward-stable evaluation is within a small multiple of that; the
/// tolerance is `32 eps (1 + |lp|) (1 + c)` (32 ulps of the size of the result or of its
/// sensitivity, whichever is larger) plus `1e-12`: these log-densities are sums of logarithms of
/// the inputs, each up to 745 in size, and the rounding of two of them (`2 x 745 eps = 3.3e-13`)
/// survives where they cancel (`Chi2(5e-324)` at `5e-324`: `ln 2 - ln df - ln x + ...`). An
/// infinite reference (a log-density beyond `+-f64::MAX`) must be matched exactly.
#[track_caller]
pub(crate) fn check_extreme_values<D: Distribution>(family: &str, build: impl Fn(&Params) -> D) {
    let mut seen = false;
    for case in extreme_cases("extreme_values")
        .iter()
        .filter(|c| c.family == family)
    {
        seen = true;
        let d = build(&case.params);
        for p in &case.points {
            let x = p.value();
            let (want, condition) = (p.real("log_prob"), p.real("condition"));
            let got = d.log_prob_value(&x);
            let what = format!("{family} {:?} log_prob({x:?})", case.params.0);
            if want.is_finite() {
                let tol = 32.0 * f64::EPSILON * (1.0 + want.abs()) * (1.0 + condition) + 1e-12;
                assert!(
                    (got - want).abs() <= tol,
                    "{what}: got {got:e}, mpmath {want:e} (condition {condition:e}, tolerance {tol:e})"
                );
            } else {
                assert_eq!(got, want, "{what}");
            }
        }
    }
    assert!(seen, "no extreme reference values for {family}");
}

/// Asserts `got` equals `expected` within `tol * (1 + |expected|)`; infinities must match exactly
/// and a NaN is never accepted.
#[track_caller]
pub(crate) fn assert_close(got: f64, expected: f64, tol: f64, what: &str) {
    let ok = if expected.is_finite() {
        (got - expected).abs() <= tol * (1.0 + expected.abs())
    } else {
        got == expected
    };
    assert!(ok, "{what}: got {got:e}, expected {expected:e}");
}

/// Checks `log_prob` at every reference point of `family` against SciPy, within [`TOL`].
#[track_caller]
pub(crate) fn check_log_prob_reference<D: Distribution>(
    family: &str,
    build: impl Fn(&Params) -> D,
) {
    check_log_prob_reference_tol(family, TOL, build);
}

/// [`check_log_prob_reference`] with an explicit tolerance.
#[track_caller]
pub(crate) fn check_log_prob_reference_tol<D: Distribution>(
    family: &str,
    tol: f64,
    build: impl Fn(&Params) -> D,
) {
    for case in cases(family) {
        let d = build(&case.params);
        for p in &case.points {
            let x = to_value(&p["x"]);
            let what = format!("{family} {:?} log_prob({x:?})", case.params.0);
            assert_close(d.log_prob_value(&x), number(&p["log_prob"]), tol, &what);
        }
    }
}

/// The three SciPy checks of a univariate continuous family: log_prob, cdf, mean and variance.
#[track_caller]
pub(crate) fn check_continuous_reference<D: Distribution + Cdf>(
    family: &str,
    build: impl Fn(&Params) -> D,
) {
    check_log_prob_reference(family, &build);
    check_cdf_reference(family, &build);
    check_moments_reference(family, &build);
}

/// Checks `cdf` at every reference point of `family` that has one, within [`TOL`] (absolute:
/// probabilities are at most 1).
#[track_caller]
pub(crate) fn check_cdf_reference<D: Cdf>(family: &str, build: impl Fn(&Params) -> D) {
    for case in cases(family) {
        let d = build(&case.params);
        for p in case.points.iter().filter(|p| p.contains_key("cdf")) {
            let x = number(&p["x"]);
            let what = format!("{family} {:?} cdf({x})", case.params.0);
            assert_close(d.cdf(x), number(&p["cdf"]), TOL, &what);
        }
    }
}

/// Checks `mean` and `variance` against SciPy's. Where SciPy's is infinite or NaN, ours must be
/// `None` or the same infinity.
#[track_caller]
pub(crate) fn check_moments_reference<D: Distribution>(family: &str, build: impl Fn(&Params) -> D) {
    for case in cases(family) {
        let d = build(&case.params);
        let what = format!("{family} {:?}", case.params.0);
        compare_moment(d.mean_value(), &case.mean, &format!("{what} mean"));
        compare_moment(
            d.variance_value(),
            &case.variance,
            &format!("{what} variance"),
        );
    }
}

#[track_caller]
fn compare_moment(got: Option<Value>, expected: &Json, what: &str) {
    let expected: Vec<f64> = match expected {
        Json::Array(a) => a.iter().map(number).collect(),
        other => vec![number(other)],
    };
    let Some(got) = got else {
        assert!(
            expected.iter().any(|e| !e.is_finite()),
            "{what}: got None, expected {expected:?}"
        );
        return;
    };
    let got = Vec::<f64>::from_value(&got)
        .or_else(|| f64::from_value(&got).map(|x| vec![x]))
        .expect("real moments");
    assert_eq!(got.len(), expected.len(), "{what}: length");
    for (g, e) in got.iter().zip(&expected) {
        if e.is_nan() {
            panic!("{what}: got {g}, but the moment is undefined (expected None)");
        }
        assert_close(*g, *e, TOL, what);
    }
}

/// A draw as a real number (booleans as 0/1).
fn as_real(v: Value) -> f64 {
    match v {
        Value::Real(x) => x,
        Value::Int(k) => k as f64,
        Value::Bool(b) => f64::from(u8::from(b)),
        other => panic!("not a scalar draw: {other:?}"),
    }
}

/// Number of draws of [`check_sample_moments`].
pub(crate) const MOMENT_DRAWS: usize = 200_000;

/// Draws [`MOMENT_DRAWS`] values and checks the sample mean and variance against the exact
/// `mean()` and `variance()`.
///
/// Tolerances are five standard errors: `5 sqrt(var / n)` for the mean and
/// `5 sqrt((m4 - s^4) / n)` for the variance, with `m4` the sample fourth central moment (the
/// asymptotic standard error of the sample variance). Five standard errors make a false alarm
/// odds of about 1 in 1.7 million per check; the seed is fixed, so the outcome is deterministic.
/// The distribution must have a finite fourth moment.
#[track_caller]
pub(crate) fn check_sample_moments<D: Distribution<Moment = f64>>(d: &D, seed: u64) {
    let mut r = rng(seed);
    let xs: Vec<f64> = (0..MOMENT_DRAWS)
        .map(|_| as_real(d.sample(&mut r).into_value()))
        .collect();
    let (mean, var) = (d.mean().expect("mean"), d.variance().expect("variance"));
    check_moments_of(&xs, mean, var, &format!("{d:?}"));
}

/// The checks of [`check_sample_moments`] on given draws `xs` (e.g. one coordinate of a vector
/// family) against the exact `mean` and `var`.
#[track_caller]
pub(crate) fn check_moments_of(xs: &[f64], mean: f64, var: f64, what: &str) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let s2 = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    let m4 = xs.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n;
    let mean_tol = 5.0 * (var / n).sqrt();
    let var_tol = 5.0 * ((m4 - s2 * s2).max(0.0) / n).sqrt();
    assert!(
        (m - mean).abs() <= mean_tol,
        "{what}: sample mean {m} vs exact {mean} (tolerance {mean_tol})"
    );
    assert!(
        (s2 - var).abs() <= var_tol,
        "{what}: sample variance {s2} vs exact {var} (tolerance {var_tol})"
    );
}

/// Number of draws of [`ks_test`].
pub(crate) const KS_DRAWS: usize = 20_000;

/// A one-sample Kolmogorov-Smirnov test of the draws of `d` against its [`Cdf`].
#[track_caller]
pub(crate) fn ks_test<D: Distribution + Cdf>(d: &D, seed: u64)
where
    D::Value: Into<f64>,
{
    let mut r = rng(seed);
    ks_test_with(|| d.sample(&mut r).into(), |x| d.cdf(x), &format!("{d:?}"));
}

/// A one-sample Kolmogorov-Smirnov test of [`KS_DRAWS`] draws of `draw` against `cdf`.
///
/// Rejects when `D_n > 1.949 / sqrt(n)`, the asymptotic critical value at level 0.001
/// (`sqrt(ln(2 / 0.001) / 2) = 1.949`).
#[track_caller]
pub(crate) fn ks_test_with(mut draw: impl FnMut() -> f64, cdf: impl Fn(f64) -> f64, what: &str) {
    let mut xs: Vec<f64> = (0..KS_DRAWS).map(|_| draw()).collect();
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    let d = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max);
    let critical = 1.949 / n.sqrt();
    assert!(d <= critical, "{what}: KS statistic {d} > {critical}");
}

/// Asserts the first draws of `d` for `seed` (value-stability pin). Reals are compared to a
/// relative 1e-12, because the platform's `ln`/`exp` may differ in the last bit.
#[track_caller]
pub(crate) fn assert_first_draws<D: Distribution>(d: &D, seed: u64, expected: &[D::Value])
where
    D::Value: std::fmt::Debug,
{
    let mut r = rng(seed);
    let got: Vec<D::Value> = (0..expected.len()).map(|_| d.sample(&mut r)).collect();
    let same = got.iter().zip(expected).all(|(g, e)| {
        match (g.clone().into_value(), e.clone().into_value()) {
            (Value::Real(a), Value::Real(b)) => (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
            (Value::Reals(a), Value::Reals(b)) => a
                .iter()
                .zip(&b)
                .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs().max(1e-300)),
            (a, b) => a == b,
        }
    });
    assert!(
        same,
        "{d:?}: first draws for seed {seed} are {got:?}, pinned {expected:?}"
    );
}

/// Checks the tape gradient of [`Distribution::log_prob_real`] against central finite
/// differences of [`Distribution::log_prob`]: `build(inputs)` makes the distribution and the
/// value from the inputs (the value and the parameters, in an order the caller chooses); the
/// gradient is taken with respect to all of them at `point`, and `scales[i]` is the length over
/// which the log-density varies along input `i` near `point` (the distance to the edge of the
/// support or of the parameter space, or 1). Also checks that the recorded value equals
/// `log_prob` bit for bit.
///
/// Tolerance, derived as in the tape's own derivative tests: with step `h = eps^(1/3) s` the
/// central difference errs by at most `h^2 |f'''| / 6` (truncation; the scales are chosen so
/// that `|f'''| <= C |f'| / s^2`, `C <= 100`) plus `k eps T / (2h)` (rounding; `T` the largest
/// term of the log-density, each term within `k` ulps). Both are below
/// `2e-9 (|f'| + max(|f|, 1) / s)` for `k <= 100` and `T <= 50 max(|f|, 1)`; the tolerance
/// `1e-7 (|f'| + max(|f|, 1) / s)` leaves a margin of 50 and still fails a partial wrong by one
/// part in a million (`a_wrong_partial_fails` in `normal.rs`).
#[track_caller]
pub(crate) fn check_log_prob_gradient<D: Distribution>(
    build: impl Fn(&[Real]) -> (D, D::Value),
    point: &[f64],
    scales: &[f64],
) {
    if let Err(e) = log_prob_gradient_error(&build, point, scales) {
        panic!("{e}");
    }
}

/// The check of [`check_log_prob_gradient`], as a result.
#[allow(clippy::type_complexity)]
pub(crate) fn log_prob_gradient_error<D: Distribution>(
    build: &dyn Fn(&[Real]) -> (D, D::Value),
    point: &[f64],
    scales: &[f64],
) -> Result<(), String> {
    let value_at = |p: &[f64]| {
        let (d, x) = build(&constants_of(p));
        d.log_prob(&x)
    };
    let (taped, grad) = pyro_tape::gradient(point, |inputs| {
        let (d, x) = build(inputs);
        Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
    })
    .map_err(|e| e.to_string())?;
    let fx = value_at(point);
    let what = format!("{:?} at {point:?}", build(&constants_of(point)).0);
    if taped.to_bits() != fx.to_bits() {
        return Err(format!("{what}: log_prob_real {taped}, log_prob {fx}"));
    }
    for (i, &scale) in scales.iter().enumerate() {
        let h = f64::EPSILON.cbrt() * scale;
        let (mut plus, mut minus) = (point.to_vec(), point.to_vec());
        plus[i] += h;
        minus[i] -= h;
        let fd = (value_at(&plus) - value_at(&minus)) / (plus[i] - minus[i]);
        let tolerance = 1e-7 * (grad[i].abs() + fx.abs().max(1.0) / scale);
        // False if either side is NaN.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !((grad[i] - fd).abs() <= tolerance) {
            return Err(format!(
                "{what}: d/d(input {i}) = {} on the tape, {fd} by finite differences \
                 (tolerance {tolerance:e})",
                grad[i]
            ));
        }
    }
    Ok(())
}

fn constants_of(point: &[f64]) -> Vec<Real> {
    point.iter().map(|&x| Real::constant(x)).collect()
}

/// A constant [`Real`], for tests that score plain numbers.
pub(crate) fn r(x: f64) -> Real {
    Real::constant(x)
}

/// Constant [`Real`]s, for tests that score plain numbers.
pub(crate) fn rs(xs: &[f64]) -> Vec<Real> {
    constants_of(xs)
}

/// A constant [`Reals`](pyro_tape::Reals): a vector value, for tests that score plain numbers.
pub(crate) fn vector(xs: &[f64]) -> pyro_tape::Reals {
    pyro_tape::Reals::from(xs)
}

/// The tape gradient of [`Distribution::log_prob_real`] of `build(inputs)` at `point`, with
/// respect to all the inputs, for closed-form checks.
pub(crate) fn log_prob_gradient<D: Distribution>(
    build: impl Fn(&[Real]) -> (D, D::Value),
    point: &[f64],
) -> Vec<f64> {
    pyro_tape::gradient(point, |inputs| {
        let (d, x) = build(inputs);
        Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
    })
    .expect("a gradient of fresh leaves")
    .1
}

/// The elements of a real-valued draw as [`Real`]s: its tracked reals where it has them, else
/// its value as constants.
fn draw_elements<V: ValueType>(x: &V) -> Vec<Real> {
    let tracked = x.tracked_reals();
    if !tracked.is_empty() {
        return tracked.to_vec();
    }
    match x.clone().into_value() {
        Value::Real(v) => vec![Real::constant(v)],
        Value::Reals(v) => rs(&v),
        other => panic!("not a real-valued draw: {other:?}"),
    }
}

/// The bits of the elements of a real-valued draw, for exact comparisons.
fn draw_bits<V: ValueType>(x: &V) -> Vec<u64> {
    draw_elements(x)
        .iter()
        .map(|r| r.value().to_bits())
        .collect()
}

/// The seeds [`check_rsample`] draws with.
pub(crate) const RSAMPLE_SEEDS: std::ops::Range<u64> = 0..8;

/// The draw of `build(point)`'s [`Distribution::rsample`] with `seed`, taken inside a gradient
/// with respect to all the inputs: the values of its elements and the Jacobian (one row per
/// element: the gradient of that element with respect to each input).
pub(crate) fn rsample_jacobian<D: Distribution>(
    build: impl Fn(&[Real]) -> D,
    point: &[f64],
    seed: u64,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    draw_with_jacobian(&build, point, &mut rng(seed))
}

/// One draw of `build(point)`'s [`Distribution::rsample`] with `r`, inside its own gradient: the
/// values of its elements and its Jacobian, as [`rsample_jacobian`] gives them.
fn draw_with_jacobian<D: Distribution, R: Rng>(
    build: &impl Fn(&[Real]) -> D,
    point: &[f64],
    r: &mut R,
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let tape = pyro_tape::Tape::start().expect("no gradient is being taken");
    let inputs: Vec<Real> = point.iter().map(|&x| tape.leaf(x)).collect();
    let x = build(&inputs).rsample(r).expect("the family has rsample");
    let elements = draw_elements(&x);
    let jacobian = elements
        .iter()
        .map(|&e| {
            tape.backward(e, &inputs)
                .expect("a gradient of fresh leaves")
        })
        .collect();
    (elements.iter().map(|e| e.value()).collect(), jacobian)
}

/// Checks [`Distribution::rsample`] of `build(inputs)` (the parameters, in an order the caller
/// chooses) at `point`, for each seed of [`RSAMPLE_SEEDS`]:
/// - [`has_rsample`](Distribution::has_rsample) holds, and with constant parameters `rsample`
///   returns the value of `sample` with the same seed bit for bit, as a constant, and leaves the
///   generator where `sample` leaves it (it consumed the same random numbers);
/// - inside a gradient with respect to all the inputs the draw is the same, bit for bit;
/// - for each input `i` with `scales[i] = Some(s)`, the gradient of each element of the draw
///   matches central finite differences of `rsample` with the same seed (the derivative at
///   fixed noise), `s` being the length over which the draw varies along the input near `point`
///   (as in [`check_log_prob_gradient`]). An input with `None` (a shape, whose gradient is the
///   implicit one, not the derivative of a rejection sampler's path) is checked against the
///   quantile instead ([`check_implicit_gradient`]).
///
/// Tolerance, derived as in [`check_log_prob_gradient`]: with step `h = eps^(1/3) s` the central
/// difference errs by at most `h^2 |x'''| / 6` (truncation; the scales are chosen so that
/// `|x'''| <= C |x'| / s^2`, `C <= 100`: below `6e-10 |x'|`) plus `k eps T / h` (rounding: the
/// draw is at most `k = 10` operations on the parameters, each within an ulp of the largest
/// intermediate `T <= 50 max(|x|, 1)`: below `2e-8 max(|x|, 1) / s`). The tolerance
/// `1e-7 (|x'| + max(|x|, 1) / s)` leaves a margin of 5, and still fails a gradient wrong by one
/// part in a million (`a_wrong_rsample_gradient_fails` in `normal.rs`).
#[track_caller]
pub(crate) fn check_rsample<D: Distribution>(
    build: impl Fn(&[Real]) -> D,
    point: &[f64],
    scales: &[Option<f64>],
) {
    if let Err(e) = rsample_error(&build, point, scales) {
        panic!("{e}");
    }
}

/// The check of [`check_rsample`], as a result.
pub(crate) fn rsample_error<D: Distribution>(
    build: &dyn Fn(&[Real]) -> D,
    point: &[f64],
    scales: &[Option<f64>],
) -> Result<(), String> {
    let constant = build(&constants_of(point));
    let what = format!("{constant:?}");
    if !constant.has_rsample() {
        return Err(format!("{what}: has_rsample is false"));
    }
    let draw = |p: &[f64], seed: u64| -> Result<Vec<f64>, String> {
        let x = build(&constants_of(p))
            .rsample(&mut rng(seed))
            .ok_or_else(|| format!("{what}: rsample is None"))?;
        Ok(draw_elements(&x).iter().map(|e| e.value()).collect())
    };
    for seed in RSAMPLE_SEEDS {
        let (mut r1, mut r2) = (rng(seed), rng(seed));
        let x = constant.sample(&mut r1);
        let y = constant
            .rsample(&mut r2)
            .ok_or_else(|| format!("{what}: rsample is None"))?;
        if draw_bits(&x) != draw_bits(&y) {
            return Err(format!(
                "{what}, seed {seed}: rsample drew {:?}, sample {:?}",
                y.into_value(),
                x.into_value()
            ));
        }
        if !y.tracked_reals().is_empty() {
            return Err(format!("{what}: a draw of constant parameters is tracked"));
        }
        if r1.next_u64() != r2.next_u64() {
            return Err(format!(
                "{what}, seed {seed}: rsample consumed other random numbers than sample"
            ));
        }
        let (values, jacobian) = rsample_jacobian(build, point, seed);
        if values.iter().map(|v| v.to_bits()).collect::<Vec<_>>() != draw_bits(&x) {
            return Err(format!(
                "{what}, seed {seed}: the tracked draw is {values:?}, sample's {:?}",
                x.into_value()
            ));
        }
        for (i, scale) in scales.iter().enumerate() {
            let Some(s) = *scale else { continue };
            let h = f64::EPSILON.cbrt() * s;
            let (mut plus, mut minus) = (point.to_vec(), point.to_vec());
            plus[i] += h;
            minus[i] -= h;
            let (xp, xm) = (draw(&plus, seed)?, draw(&minus, seed)?);
            for (k, row) in jacobian.iter().enumerate() {
                let fd = (xp[k] - xm[k]) / (plus[i] - minus[i]);
                let g = row[i];
                let tolerance = 1e-7 * (g.abs() + values[k].abs().max(1.0) / s);
                // False if either side is NaN.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                if !((g - fd).abs() <= tolerance) {
                    return Err(format!(
                        "{what}, seed {seed}: d x[{k}] / d(input {i}) = {g} on the tape, {fd} \
                         by finite differences (tolerance {tolerance:e})"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Checks the implicit reparameterisation gradient of `rsample` with respect to the shape
/// `point[i]` of `build(inputs)`, a univariate continuous family on `(0, inf)` with a [`Cdf`],
/// against central finite differences of its quantile at the level of each draw: for the draw
/// `x` of each seed of [`RSAMPLE_SEEDS`], `u = cdf(x)` and the derivative of
/// `x(a) = quantile(a, u)` at `a = point[i]`, with step `h = eps^(1/3) point[i]`.
///
/// Tolerance: the quantile is found by bisection to the last bit, so its error is that of the
/// distribution function, `dF` (a relative `1e-14` or better: Cephes' `igam`), moved by
/// `dF / p(x)`; the central difference divides it by `2h`, which leaves below
/// `1e-14 min(u, 1 - u) / (p(x) h)`, and errs by `h^2 |x'''| / 6` in truncation
/// (`|x'''| <= 100 |x'| / a^2` for these shapes: `6e-10 |x'|`). At the levels the seeds give
/// (`min(u, 1 - u) / (x p(x))` of order 1, at most 100) this is below `1e-7 (|x'| + x / a)`, the
/// tolerance.
#[track_caller]
pub(crate) fn check_implicit_gradient<D: Distribution + Cdf>(
    build: impl Fn(&[Real]) -> D,
    point: &[f64],
    i: usize,
) {
    let constant = build(&constants_of(point));
    for seed in RSAMPLE_SEEDS {
        let (values, jacobian) = rsample_jacobian(&build, point, seed);
        let (x, g) = (values[0], jacobian[0][i]);
        let u = constant.cdf(x);
        let a = point[i];
        let h = f64::EPSILON.cbrt() * a;
        let (mut plus, mut minus) = (point.to_vec(), point.to_vec());
        plus[i] += h;
        minus[i] -= h;
        let quantile = |p: &[f64]| {
            let d = build(&constants_of(p));
            positive_quantile(|t| d.cdf(t), u)
        };
        let fd = (quantile(&plus) - quantile(&minus)) / (plus[i] - minus[i]);
        let tolerance = 1e-7 * (g.abs() + x / a);
        assert!(
            (g - fd).abs() <= tolerance,
            "{constant:?}, seed {seed}: x = {x} (level {u}): dx/d(input {i}) = {g} on the \
             tape, {fd} from the quantile (tolerance {tolerance:e})"
        );
    }
}

/// The `u`-quantile of a continuous distribution function `cdf` on `(0, inf)`, by bisection on
/// the logarithm (to the last bit the bracket allows), for implicit-gradient checks.
pub(crate) fn positive_quantile(cdf: impl Fn(f64) -> f64, u: f64) -> f64 {
    let (mut lo, mut hi) = (f64::MIN_POSITIVE, f64::MAX);
    for _ in 0..4000 {
        let mid = (lo.ln() + 0.5 * (hi.ln() - lo.ln())).exp();
        let mid = if mid <= lo || mid >= hi {
            // Adjacent in the log scale: finish on the arithmetic midpoint.
            lo + 0.5 * (hi - lo)
        } else {
            mid
        };
        if mid <= lo || mid >= hi {
            break;
        }
        if cdf(mid) < u {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo + 0.5 * (hi - lo)
}

/// `n` draws of `build(point)`'s [`Distribution::rsample`] from one generator seeded with
/// `seed`, each taken inside its own gradient: the values of each draw's elements and its
/// Jacobian (as [`rsample_jacobian`] gives them).
pub(crate) fn rsample_draws<D: Distribution>(
    build: impl Fn(&[Real]) -> D,
    point: &[f64],
    n: usize,
    seed: u64,
) -> Vec<(Vec<f64>, Vec<Vec<f64>>)> {
    let mut r = rng(seed);
    (0..n)
        .map(|_| draw_with_jacobian(&build, point, &mut r))
        .collect()
}

/// Asserts that the mean of `xs` is `want` within five standard errors (the sample standard
/// deviation over `sqrt(n)`): a false alarm about 1 in 1.7 million, and the seeds are fixed.
/// Used to check that reparameterisation gradients are unbiased: the mean of `dx/da` over
/// draws is `d E[x] / da`.
#[track_caller]
pub(crate) fn assert_mean(xs: &[f64], want: f64, what: &str) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let tolerance = 5.0 * (var / n).sqrt();
    assert!(
        (mean - want).abs() <= tolerance,
        "{what}: mean {mean}, expected {want} (tolerance {tolerance:e})"
    );
}
