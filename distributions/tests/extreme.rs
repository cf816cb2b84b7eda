//! Extreme parameters and values for every family (issue 11, item 9).
//!
//! The property: a constructor either refuses its parameters with an error that names the family
//! and the parameter, or the distribution it builds never answers NaN: not from `log_prob` (at any
//! value, in or out of the support), not from `cdf` (families that have one), and not from `mean`
//! or `variance` (`None` where a moment is undefined is fine). `log_prob` is also exactly `-inf`
//! outside the support, and a cdf lies in `[0, 1]`.
//!
//! Two sweeps check it: a deterministic grid of special numbers (subnormals, the ends of the normal
//! range, 1e-300, 1e300, `f64::MAX`, numbers next to 0 and 1, the edges of each support), every
//! combination of them for each family, and proptest sweeps over the whole `f64` range (bit
//! patterns drawn uniformly, which makes exponents roughly uniform from 1e-324 to 1e308).
//!
//! A second group of tests checks that finite parameters inside a family's documented domain are
//! accepted: the families refuse only what their docs say they refuse.

use proptest::prelude::*;
use pyro_distributions::*;
use std::fmt::Debug;

const MAX: f64 = f64::MAX;
const TINY: f64 = 5e-324;

/// Special positive numbers.
const POS: [f64; 22] = [
    TINY,
    1e-320,
    f64::MIN_POSITIVE,
    1e-300,
    1e-100,
    1e-16,
    1e-10,
    1e-3,
    0.5,
    1.0 - f64::EPSILON / 2.0,
    1.0,
    1.0 + f64::EPSILON,
    2.0,
    3.5,
    1e3,
    1e10,
    1e16,
    1e100,
    1e300,
    1e306,
    MAX / 2.0,
    MAX,
];

/// Special real numbers: `POS`, their negatives and zero.
fn reals() -> Vec<f64> {
    let mut v = vec![0.0];
    for &x in &POS {
        v.push(x);
        v.push(-x);
    }
    v.extend([std::f64::consts::PI, -std::f64::consts::PI, 4.0, 1e7]);
    v
}

/// Special values to score: the reals plus the non-finite numbers.
fn values() -> Vec<f64> {
    let mut v = reals();
    v.extend([f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -0.0]);
    v
}

/// Special probabilities.
const PROBS: [f64; 12] = [
    0.0,
    TINY,
    1e-300,
    1e-100,
    1e-16,
    0.1,
    0.5,
    0.9,
    1.0 - 1e-16,
    1.0 - f64::EPSILON / 2.0,
    1.0 - f64::EPSILON,
    1.0,
];

/// Special counts.
const COUNTS: [u64; 9] = [
    0,
    1,
    2,
    10,
    1000,
    1 << 31,
    1 << 53,
    i64::MAX as u64 / 3,
    i64::MAX as u64,
];

/// Special integer values to score.
const INTS: [i64; 14] = [
    i64::MIN,
    -1_000_000,
    -1,
    0,
    1,
    2,
    5,
    10,
    1000,
    1 << 31,
    1 << 53,
    i64::MAX / 3,
    i64::MAX - 1,
    i64::MAX,
];

/// A constructor call and its printed form: `made!(Gamma::new, a, b)`.
macro_rules! made {
    ($ctor:path, $($arg:expr),* $(,)?) => {
        {
            let label = format!("{}{:?}", stringify!($ctor), ($(&$arg,)*));
            ($ctor($($arg),*), label)
        }
    };
}

/// Collects failures of a sweep, so that a failing sweep lists them all.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    #[track_caller]
    fn assert_none(self, sweep: &str) {
        let n = self.0.len();
        // The first few failures of each constructor, so that no family hides the others.
        let mut shown: Vec<&String> = Vec::new();
        let mut per_ctor = std::collections::HashMap::new();
        for msg in &self.0 {
            let ctor = msg.split('(').next().unwrap_or("");
            let seen = per_ctor.entry(ctor).or_insert(0);
            *seen += 1;
            if *seen <= 6 {
                shown.push(msg);
            }
        }
        assert!(
            n == 0,
            "{sweep}: {n} failures ({per_ctor:?}), among them:\n{shown:#?}"
        );
    }
}

/// A family's cdf, called through a reference so that one `check` serves families without one.
type CdfFn<'a, D> = &'a dyn Fn(&D, f64) -> f64;

/// The property of one constructor call and its distribution at some values: an error names
/// `family` and a parameter; a distribution answers no NaN, scores exactly -inf outside its
/// support, and has a cdf in [0, 1] (checked by `cdf`, if given).
fn check<D: Distribution>(
    f: &mut Failures,
    family: &str,
    (made, label): (Result<D, ParamError>, String),
    values: &[D::Value],
    cdf: Option<CdfFn<'_, D>>,
) where
    D::Value: Debug + Clone,
{
    let d = match made {
        Ok(d) => d,
        Err(e) => {
            f.check(e.family == family && !e.param.is_empty(), || {
                format!("{label}: error of the wrong family or without a parameter: {e}")
            });
            return;
        }
    };
    for x in values {
        let lp = d.log_prob(x);
        f.check(!lp.is_nan(), || format!("{label}.log_prob({x:?}) is NaN"));
        let v = x.clone().into_value();
        if !d.support().contains(&v) {
            f.check(lp == f64::NEG_INFINITY, || {
                format!("{label}.log_prob({x:?}) = {lp} outside the support")
            });
        }
        if let (Some(cdf), Value::Real(x)) = (cdf, &v) {
            let c = cdf(&d, *x);
            // At a NaN value the cdf is NaN, as in SciPy and torch.
            if !x.is_nan() {
                f.check((0.0..=1.0).contains(&c), || {
                    format!("{label}.cdf({x:?}) = {c:e}")
                });
            }
        }
    }
    for (what, m) in [("mean", d.mean()), ("variance", d.variance())] {
        if let Some(m) = m {
            let m = m.into_value();
            let nan = match &m {
                Value::Real(x) => x.is_nan(),
                Value::Reals(v) => v.iter().any(|x| x.is_nan()),
                _ => false,
            };
            f.check(!nan, || format!("{label}.{what}() = {m:?}"));
            if what == "variance" {
                let negative = match &m {
                    Value::Real(x) => *x < 0.0,
                    Value::Reals(v) => v.iter().any(|x| *x < 0.0),
                    _ => false,
                };
                f.check(!negative, || format!("{label}.variance() = {m:?} < 0"));
            }
        }
    }
}

fn cdf_of<D: Cdf>(d: &D, x: f64) -> f64 {
    d.cdf(x)
}

/// Checks a univariate continuous family at `values()` and its own support edges.
fn check_real<D: Distribution + Cdf>(
    f: &mut Failures,
    family: &str,
    made: (Result<D, ParamError>, String),
    extra: &[f64],
) where
    D::Value: From<f64> + Into<f64> + Debug,
{
    let mut xs = values();
    xs.extend_from_slice(extra);
    let xs: Vec<D::Value> = xs.into_iter().map(D::Value::from).collect();
    check(f, family, made, &xs, Some(&cdf_of::<D>));
}

/// The grid sweep of a two-parameter continuous family with two positive parameters.
fn grid_pos_pos<D: Distribution + Cdf>(
    f: &mut Failures,
    family: &str,
    new: impl Fn(f64, f64) -> Result<D, ParamError>,
) where
    D::Value: From<f64> + Into<f64> + Debug,
{
    for &a in &POS {
        for &b in &POS {
            // The support edges that depend on the parameters (Pareto's scale) are in POS.
            check_real(
                f,
                family,
                (new(a, b), format!("{family}({a:?}, {b:?})")),
                &[a, b],
            );
        }
    }
}

/// The grid sweep of a location-scale family.
fn grid_loc_scale<D: Distribution + Cdf>(
    f: &mut Failures,
    family: &str,
    new: impl Fn(f64, f64) -> Result<D, ParamError>,
) where
    D::Value: From<f64> + Into<f64> + Debug,
{
    for loc in reals() {
        for &scale in &POS {
            let made = (new(loc, scale), format!("{family}({loc:?}, {scale:?})"));
            check_real(f, family, made, &[loc, loc + scale, loc - scale]);
        }
    }
}

#[test]
fn grid_location_scale_families() {
    let mut f = Failures::default();
    grid_loc_scale(&mut f, "Normal", Normal::new);
    grid_loc_scale(&mut f, "LogNormal", LogNormal::new);
    grid_loc_scale(&mut f, "Cauchy", Cauchy::new);
    grid_loc_scale(&mut f, "Laplace", Laplace::new);
    grid_loc_scale(&mut f, "Gumbel", Gumbel::new);
    f.assert_none("location-scale families");
}

#[test]
fn grid_scale_families() {
    let mut f = Failures::default();
    for &s in &POS {
        check_real(&mut f, "HalfNormal", made!(HalfNormal::new, s), &[s]);
        check_real(&mut f, "HalfCauchy", made!(HalfCauchy::new, s), &[s]);
        check_real(
            &mut f,
            "Exponential",
            made!(Exponential::new, s),
            &[1.0 / s],
        );
        check_real(&mut f, "Chi2", made!(Chi2::new, s), &[s]);
    }
    for lo in reals() {
        for hi in reals() {
            check_real(&mut f, "Uniform", made!(Uniform::new, lo, hi), &[lo, hi]);
        }
    }
    f.assert_none("scale families");
}

#[test]
fn grid_shape_families() {
    let mut f = Failures::default();
    grid_pos_pos(&mut f, "Gamma", Gamma::new);
    grid_pos_pos(&mut f, "InverseGamma", InverseGamma::new);
    grid_pos_pos(&mut f, "Beta", Beta::new);
    grid_pos_pos(&mut f, "Weibull", Weibull::new);
    grid_pos_pos(&mut f, "Pareto", Pareto::new);
    f.assert_none("shape families");
}

#[test]
fn grid_student_t() {
    let mut f = Failures::default();
    for &df in &POS {
        for loc in [-MAX, -1e300, -1.0, 0.0, 1e-300, 2.0, 1e300, MAX] {
            for &scale in &POS {
                check_real(
                    &mut f,
                    "StudentT",
                    made!(StudentT::new, df, loc, scale),
                    &[loc],
                );
            }
        }
    }
    f.assert_none("StudentT");
}

#[test]
fn grid_von_mises() {
    let mut f = Failures::default();
    for loc in reals() {
        for &k in &POS {
            let made = made!(VonMises::new, loc, k);
            let xs: Vec<Real> = values().into_iter().map(Real::from).collect();
            check(&mut f, "VonMises", made, &xs, None);
        }
    }
    f.assert_none("VonMises");
}

#[test]
fn grid_discrete_families() {
    let mut f = Failures::default();
    let bools = [false, true];
    for &p in &PROBS {
        check(&mut f, "Bernoulli", made!(Bernoulli::new, p), &bools, None);
        check(&mut f, "Geometric", made!(Geometric::new, p), &INTS, None);
        for &n in &COUNTS {
            check(&mut f, "Binomial", made!(Binomial::new, n, p), &INTS, None);
        }
        for &r in &POS {
            check(
                &mut f,
                "NegativeBinomial",
                made!(NegativeBinomial::new, r, p),
                &INTS,
                None,
            );
        }
    }
    for l in reals()
        .into_iter()
        .chain([f64::INFINITY, f64::NEG_INFINITY])
    {
        check(
            &mut f,
            "Bernoulli",
            made!(Bernoulli::from_logits, l),
            &bools,
            None,
        );
        check(
            &mut f,
            "Geometric",
            made!(Geometric::from_logits, l),
            &INTS,
            None,
        );
        for &n in &COUNTS {
            check(
                &mut f,
                "Binomial",
                made!(Binomial::from_logits, n, l),
                &INTS,
                None,
            );
        }
        for &r in &POS {
            let made = made!(NegativeBinomial::from_logits, r, l);
            check(&mut f, "NegativeBinomial", made, &INTS, None);
        }
    }
    for &rate in &POS {
        check(&mut f, "Poisson", made!(Poisson::new, rate), &INTS, None);
    }
    for &a in &POS {
        for &b in &POS {
            for &n in &COUNTS {
                let made = made!(BetaBinomial::new, a, b, n);
                check(&mut f, "BetaBinomial", made, &INTS, None);
            }
        }
    }
    f.assert_none("discrete families");
}

#[test]
fn grid_categorical_and_delta() {
    let mut f = Failures::default();
    let ks = [-1, 0, 1, 2, 3, i64::MAX];
    for &a in &POS {
        for &b in &POS {
            check(
                &mut f,
                "Categorical",
                made!(Categorical::new, &[a, b, 0.0]),
                &ks,
                None,
            );
        }
    }
    for a in reals() {
        for b in reals().into_iter().chain([f64::NEG_INFINITY]) {
            let made = made!(Categorical::from_logits, &[a, b, f64::NEG_INFINITY]);
            check(&mut f, "Categorical", made, &ks, None);
        }
    }
    for v in reals() {
        for ld in reals() {
            check(
                &mut f,
                "Delta",
                made!(Delta::with_log_density, v, ld),
                &values().into_iter().map(Real::from).collect::<Vec<_>>(),
                None,
            );
        }
    }
    f.assert_none("Categorical and Delta");
}

/// Constant [`Real`]s: a vector family's value.
fn constants(xs: &[f64]) -> Reals {
    Reals::from(xs)
}

/// Points on (and near) the simplex of dimension `k`.
fn simplex_points(k: usize) -> Vec<Reals> {
    let mut pts = vec![vec![1.0 / k as f64; k]];
    for i in 0..k {
        let mut vertex = vec![0.0; k];
        vertex[i] = 1.0;
        pts.push(vertex);
        let mut near = vec![1e-300; k];
        near[i] = 1.0;
        pts.push(near);
        let mut tiny = vec![(1.0 - TINY) / (k - 1) as f64; k];
        tiny[i] = TINY;
        pts.push(tiny);
    }
    let mut skew = vec![0.0; k];
    skew[0] = 0.3;
    skew[1] = 0.7;
    pts.push(skew);
    pts.push(vec![0.5; k]);
    pts.iter().map(|p| constants(p)).collect()
}

#[test]
fn grid_dirichlet() {
    let mut f = Failures::default();
    for &a in &POS {
        for &b in &POS {
            check(
                &mut f,
                "Dirichlet",
                made!(Dirichlet::new, &[a, b]),
                &simplex_points(2),
                None,
            );
            check(
                &mut f,
                "Dirichlet",
                made!(Dirichlet::new, &[a, b, a]),
                &simplex_points(3),
                None,
            );
        }
    }
    f.assert_none("Dirichlet");
}

#[test]
fn grid_multivariate_normal() {
    let mut f = Failures::default();
    let locs = [-MAX, -1e300, 0.0, 1.0, 1e300, MAX];
    let xs: Vec<Reals> = [-MAX, -1.0, 0.0, 1e-300, 1e300, MAX]
        .iter()
        .flat_map(|&a| {
            [
                constants(&[a, a]),
                constants(&[a, -a]),
                constants(&[0.0, a]),
            ]
        })
        .collect();
    for &l0 in &locs {
        for &d in &POS {
            for off in [0.0, 1.0, -1e300, MAX] {
                let tril = [vec![d, 0.0], vec![off, 1.0]];
                let made = made!(MultivariateNormal::from_scale_tril, vec![l0, -l0], &tril);
                check(&mut f, "MultivariateNormal", made, &xs, None);
                let cov = [vec![d, off.min(d)], vec![off.min(d), d]];
                let made = made!(MultivariateNormal::new, vec![l0, 1.0], &cov);
                check(&mut f, "MultivariateNormal", made, &xs, None);
            }
        }
    }
    f.assert_none("MultivariateNormal");
}

// ---------------------------------------------------------------------------------------------
// Random sweeps.

/// Any positive finite `f64`: a uniformly drawn bit pattern (so a roughly uniform exponent), or
/// one of the special numbers.
fn pos() -> impl Strategy<Value = f64> {
    prop_oneof![
        (1u64..0x7FF0_0000_0000_0000).prop_map(f64::from_bits),
        proptest::sample::select(POS.to_vec()),
        1e-3..1e3_f64,
    ]
}

/// Any finite `f64`.
fn real() -> impl Strategy<Value = f64> {
    prop_oneof![pos(), pos().prop_map(|x| -x), Just(0.0)]
}

/// Any `f64`, infinities and NaN included.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => real(),
        1 => proptest::sample::select(vec![f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
    ]
}

/// A probability in [0, 1].
fn prob() -> impl Strategy<Value = f64> {
    prop_oneof![
        proptest::sample::select(PROBS.to_vec()),
        0.0..=1.0_f64,
        pos().prop_filter("<= 1", |p| *p <= 1.0),
        pos()
            .prop_filter("<= 1", |p| *p <= 1.0)
            .prop_map(|p| 1.0 - p),
    ]
}

/// A count.
fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        proptest::sample::select(COUNTS.to_vec()),
        0..100_u64,
        0..=i64::MAX as u64,
        any::<u64>(),
    ]
}

/// An integer to score.
fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        proptest::sample::select(INTS.to_vec()),
        -5..100_i64,
        any::<i64>(),
    ]
}

fn run(f: Failures) -> Result<(), TestCaseError> {
    if f.0.is_empty() {
        Ok(())
    } else {
        Err(TestCaseError::fail(f.0.join("\n")))
    }
}

fn one_real<D: Distribution + Cdf>(
    family: &str,
    made: (Result<D, ParamError>, String),
    x: f64,
) -> Result<(), TestCaseError>
where
    D::Value: From<f64> + Into<f64> + Debug,
{
    let mut f = Failures::default();
    check(
        &mut f,
        family,
        made,
        &[D::Value::from(x)],
        Some(&cdf_of::<D>),
    );
    run(f)
}

fn one<D: Distribution>(
    family: &str,
    made: (Result<D, ParamError>, String),
    x: D::Value,
) -> Result<(), TestCaseError>
where
    D::Value: Debug + Clone,
{
    let mut f = Failures::default();
    check(&mut f, family, made, &[x], None);
    run(f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn location_scale_never_nan(loc in real(), scale in pos(), x in value()) {
        one_real("Normal", made!(Normal::new, loc, scale), x)?;
        one_real("LogNormal", made!(LogNormal::new, loc, scale), x)?;
        one_real("Cauchy", made!(Cauchy::new, loc, scale), x)?;
        one_real("Laplace", made!(Laplace::new, loc, scale), x)?;
        one_real("Gumbel", made!(Gumbel::new, loc, scale), x)?;
        one_real("Uniform", made!(Uniform::new, loc, scale), x)?;
        one_real("Uniform", made!(Uniform::new, loc, loc + scale), x)?;
    }

    #[test]
    fn one_parameter_never_nan(s in pos(), x in value()) {
        one_real("HalfNormal", made!(HalfNormal::new, s), x)?;
        one_real("HalfCauchy", made!(HalfCauchy::new, s), x)?;
        one_real("Exponential", made!(Exponential::new, s), x)?;
        one_real("Chi2", made!(Chi2::new, s), x)?;
    }

    #[test]
    fn shape_families_never_nan(a in pos(), b in pos(), x in value()) {
        one_real("Gamma", made!(Gamma::new, a, b), x)?;
        one_real("InverseGamma", made!(InverseGamma::new, a, b), x)?;
        one_real("Beta", made!(Beta::new, a, b), x)?;
        one_real("Weibull", made!(Weibull::new, a, b), x)?;
        one_real("Pareto", made!(Pareto::new, a, b), x)?;
        // The values where these families change behaviour: near 0, 1 and the Pareto scale.
        one_real("Beta", made!(Beta::new, a, b), x.abs().min(1.0))?;
        one_real("Pareto", made!(Pareto::new, a, b), a * (1.0 + x.abs().min(1.0)))?;
    }

    #[test]
    fn student_t_never_nan(df in pos(), loc in real(), scale in pos(), x in value()) {
        one_real("StudentT", made!(StudentT::new, df, loc, scale), x)?;
    }

    #[test]
    fn von_mises_never_nan(loc in real(), k in pos(), x in value()) {
        one("VonMises", made!(VonMises::new, loc, k), Real::from(x))?;
    }

    #[test]
    fn discrete_never_nan(
        p in prob(), l in value(), r in pos(), a in pos(), b in pos(), n in count(), k in int(),
    ) {
        one("Bernoulli", made!(Bernoulli::new, p), k == 1)?;
        one("Bernoulli", made!(Bernoulli::from_logits, l), k == 1)?;
        one("Binomial", made!(Binomial::new, n, p), k)?;
        one("Binomial", made!(Binomial::from_logits, n, l), k)?;
        one("Geometric", made!(Geometric::new, p), k)?;
        one("Geometric", made!(Geometric::from_logits, l), k)?;
        one("NegativeBinomial", made!(NegativeBinomial::new, r, p), k)?;
        one("NegativeBinomial", made!(NegativeBinomial::from_logits, r, l), k)?;
        one("Poisson", made!(Poisson::new, r), k)?;
        one("BetaBinomial", made!(BetaBinomial::new, a, b, n), k)?;
        // Counts inside 0..=n, where BetaBinomial computes.
        let inside = if n == 0 { 0 } else { (k.unsigned_abs() % n.min(i64::MAX as u64)) as i64 };
        one("BetaBinomial", made!(BetaBinomial::new, a, b, n), inside)?;
        one("Binomial", made!(Binomial::new, n, p), inside)?;
    }

    #[test]
    fn categorical_and_delta_never_nan(
        w in proptest::collection::vec(prop_oneof![pos(), Just(0.0)], 1..5),
        l in proptest::collection::vec(value(), 1..5),
        v in real(),
        ld in real(),
        k in -1..6_i64,
        x in value(),
    ) {
        one("Categorical", made!(Categorical::new, &w), k)?;
        one("Categorical", made!(Categorical::from_logits, &l), k)?;
        one("Delta", made!(Delta::with_log_density, v, ld), Real::from(x))?;
        one("Delta", made!(Delta::with_log_density, v, ld), Real::from(v))?;
    }

    #[test]
    fn dirichlet_never_nan(
        a in proptest::collection::vec(pos(), 2..5),
        w in proptest::collection::vec(prop_oneof![pos(), Just(0.0)], 2..5),
    ) {
        let d = made!(Dirichlet::new, &a);
        // A point of the simplex built from w (or a vertex when w is all zeros).
        let k = a.len();
        let mut x: Vec<f64> = (0..k).map(|i| w.get(i).copied().unwrap_or(0.0)).collect();
        let max = x.iter().copied().fold(0.0, f64::max);
        if max == 0.0 {
            x[0] = 1.0;
        } else {
            x.iter_mut().for_each(|xi| *xi /= max);
            let sum: f64 = x.iter().sum();
            x.iter_mut().for_each(|xi| *xi /= sum);
        }
        // Also the mean, where a concentrated Dirichlet has its mass.
        let mean = d.0.as_ref().ok().and_then(|d| d.mean());
        one("Dirichlet", d.clone(), constants(&x))?;
        if let Some(m) = mean {
            one("Dirichlet", d, constants(&m))?;
        }
    }

    #[test]
    fn multivariate_normal_never_nan(
        loc in proptest::collection::vec(real(), 2),
        diag in proptest::collection::vec(pos(), 2),
        off in real(),
        x in proptest::collection::vec(real(), 2),
    ) {
        let tril = [vec![diag[0], 0.0], vec![off, diag[1]]];
        one(
            "MultivariateNormal",
            made!(MultivariateNormal::from_scale_tril, loc.clone(), &tril),
            constants(&x),
        )?;
        let c = off.abs().min(diag[0].min(diag[1])) * off.signum();
        let cov = [vec![diag[0], c], vec![c, diag[1]]];
        one("MultivariateNormal", made!(MultivariateNormal::new, loc, &cov), constants(&x))?;
    }
}
