//! Every operation's derivatives from the tape against central finite differences of its value
//! at many points, and at edge values against closed forms.

use pyro_tape::{Real, TapeError, gradient};

/// `f`'s value and gradient at `point` from the tape.
fn taped(f: &dyn Fn(&[Real]) -> Real, point: &[f64]) -> (f64, Vec<f64>) {
    gradient(point, |v| Ok::<_, TapeError>(f(v))).expect("a gradient of fresh leaves")
}

/// `f`'s value at `point`, computed on constants: the value-only path, which never evaluates a
/// derivative.
fn value(f: &dyn Fn(&[Real]) -> Real, point: &[f64]) -> f64 {
    let constants: Vec<Real> = point.iter().map(|&x| Real::constant(x)).collect();
    f(&constants).value()
}

/// Checks the gradient of `f` at `point` from the tape against central finite differences of its
/// value, coordinate by coordinate; `scales[i]` is the length over which `f` varies along
/// coordinate `i` near `point` (1 for `exp` or `sin`, `|x|` for `ln` or `1/x`, the distance to a
/// singularity or a kink in general).
///
/// Tolerance. With step `h = eps^(1/3) s` (`s` the scale) and the difference taken over the
/// step actually represented (`x + h` and `x - h` are rounded, so the quotient divides by their
/// difference), the central difference errs by at most
/// - truncation: `h² |f'''| / 6`, and the scale is chosen so that `|f'''| <= C |f'| / s²` with
///   `C` at most 20 for the functions and points below (`|f'''/f'| = 1` for `exp`, `sin`, `cos`;
///   `2/x²` for `ln`; `6/x²` for `1/x`; `|(e - 1)(e - 2)|/x² <= 20/x²` for `x^e` with the
///   exponents below; at most 4 for `tanh`, 1 for `logistic` and `softplus`), so at most
///   `eps^(2/3) C |f'| / 6`;
/// - rounding: each value is within `k` ulps of `f` (`k` a few units for these one- or two-step
///   computations), which divided by `2h` gives `k eps |f| / (2h) = k eps^(2/3) |f| / (2 s)`.
///
/// With `eps^(2/3) = 3.7e-11` and `C, k <= 100`, both are below `2e-9 (|f'| + |f| / s)`; the
/// tolerance `1e-7 (|f'| + |f| / s)` leaves a margin of 50, and is still tight enough that a
/// derivative wrong by one part in a million fails (see `a_wrong_derivative_fails`).
fn check(
    name: &str,
    f: &dyn Fn(&[Real]) -> Real,
    point: &[f64],
    scales: &[f64],
) -> Result<(), String> {
    let (taped_value, grad) = taped(f, point);
    let fx = value(f, point);
    if taped_value.to_bits() != fx.to_bits() {
        return Err(format!(
            "{name} at {point:?}: value {taped_value} on the tape, {fx} on constants"
        ));
    }
    for (i, &scale) in scales.iter().enumerate() {
        let h = f64::EPSILON.cbrt() * scale;
        let (mut plus, mut minus) = (point.to_vec(), point.to_vec());
        plus[i] += h;
        minus[i] -= h;
        let fd = (value(f, &plus) - value(f, &minus)) / (plus[i] - minus[i]);
        let tolerance = 1e-7 * (grad[i].abs() + fx.abs() / scale);
        // False if either side is NaN.
        let within = (grad[i] - fd).abs() <= tolerance;
        if !within {
            return Err(format!(
                "{name} at {point:?}: d/dx{i} = {} on the tape, {fd} by finite differences \
                 (tolerance {tolerance:e})",
                grad[i]
            ));
        }
    }
    Ok(())
}

/// Checks a function of one argument at each of `points`.
fn check_unary(name: &str, f: fn(Real) -> Real, points: &[f64], scale: fn(f64) -> f64) {
    for &x in points {
        let g = |v: &[Real]| f(v[0]);
        check(name, &g, &[x], &[scale(x)]).unwrap_or_else(|message| panic!("{message}"));
    }
}

/// Checks a function of two arguments at every pair of `xs` and `ys`.
fn check_binary(
    name: &str,
    f: fn(Real, Real) -> Real,
    (xs, x_scale): (&[f64], fn(f64) -> f64),
    (ys, y_scale): (&[f64], fn(f64) -> f64),
) {
    for &x in xs {
        for &y in ys {
            let g = |v: &[Real]| f(v[0], v[1]);
            check(name, &g, &[x, y], &[x_scale(x), y_scale(y)])
                .unwrap_or_else(|message| panic!("{message}"));
        }
    }
}

fn one(_: f64) -> f64 {
    1.0
}

fn magnitude(x: f64) -> f64 {
    x.abs().max(1.0)
}

fn distance_to_zero(x: f64) -> f64 {
    x.abs()
}

const ANY: &[f64] = &[
    -1e3, -37.5, -2.5, -1.0, -0.3, 0.0, 1e-8, 0.7, 1.0, 3.0, 42.0, 1e3,
];
const NONZERO: &[f64] = &[-1e3, -2.5, -1.0, -0.3, -1e-3, 1e-3, 0.7, 1.0, 3.0, 1e3];
const POSITIVE: &[f64] = &[1e-300, 1e-8, 0.01, 0.5, 1.0, 3.0, 1e5, 1e300];

#[test]
fn a_wrong_derivative_fails() {
    let x = 0.7_f64;
    for wrong in [x.cos() * (1.0 + 1e-6), -x.cos(), x.sin()] {
        let f = |v: &[Real]| Real::record(v[0].value().sin(), &[(v[0], wrong)]);
        assert!(check("wrong sin", &f, &[x], &[1.0]).is_err(), "{wrong}");
    }
    let right = |v: &[Real]| Real::record(v[0].value().sin(), &[(v[0], x.cos())]);
    assert_eq!(check("sin", &right, &[x], &[1.0]), Ok(()));
}

#[test]
fn arithmetic_between_reals() {
    check_binary("x + y", |x, y| x + y, (ANY, magnitude), (ANY, magnitude));
    check_binary("x - y", |x, y| x - y, (ANY, magnitude), (ANY, magnitude));
    check_binary("x * y", |x, y| x * y, (ANY, magnitude), (ANY, magnitude));
    check_binary(
        "x / y",
        |x, y| x / y,
        (ANY, magnitude),
        (NONZERO, distance_to_zero),
    );
    check_unary("-x", |x| -x, ANY, magnitude);
}

#[test]
fn arithmetic_with_f64_on_either_side() {
    check_unary("x + 2.5", |x| x + 2.5, ANY, magnitude);
    check_unary("2.5 + x", |x| 2.5 + x, ANY, magnitude);
    check_unary("x - 2.5", |x| x - 2.5, ANY, magnitude);
    check_unary("2.5 - x", |x| 2.5 - x, ANY, magnitude);
    check_unary("x * -3.0", |x| x * -3.0, ANY, magnitude);
    check_unary("-3.0 * x", |x| -3.0 * x, ANY, magnitude);
    check_unary("x / 4.0", |x| x / 4.0, ANY, magnitude);
    check_unary("4.0 / x", |x| 4.0 / x, NONZERO, distance_to_zero);
}

#[test]
fn assign_operators() {
    let all = |x: Real| {
        let mut y = x;
        y += x;
        y += 1.5;
        y *= x;
        y *= 2.0;
        y -= x;
        y -= 0.5;
        y /= x;
        y /= 3.0;
        y
    };
    check_unary("assign operators", all, NONZERO, distance_to_zero);
    // ((2x + 1.5) x 2 - x - 0.5) / x / 3 = (4x² + 2x - 0.5) / (3x): derivative 4/3 + 1/(6x²).
    let (_, grad) = taped(&|v| all(v[0]), &[0.5]);
    assert!(
        (grad[0] - (4.0 / 3.0 + 1.0 / 1.5)).abs() < 1e-15,
        "{grad:?}"
    );
}

#[test]
fn exponentials_and_logarithms() {
    let exponents = &[
        -700.0, -50.0, -5.0, -1.0, -1e-8, 0.0, 1e-8, 0.5, 3.0, 50.0, 700.0,
    ];
    check_unary("exp", Real::exp, exponents, one);
    check_unary("exp_m1", Real::exp_m1, exponents, one);
    check_unary("ln", Real::ln, POSITIVE, distance_to_zero);
    check_unary(
        "ln_1p",
        Real::ln_1p,
        &[-0.999, -0.5, -1e-10, 0.0, 1e-10, 0.3, 5.0, 1e10],
        |x| (1.0 + x).abs(),
    );
}

#[test]
fn powers_and_roots() {
    check_unary("sqrt", Real::sqrt, POSITIVE, distance_to_zero);
    check_unary("recip", Real::recip, NONZERO, distance_to_zero);
    let bases = &[-3.0, -0.5, 0.5, 1.0, 2.0, 10.0];
    for n in [-3, -1, 0, 1, 2, 5] {
        for &x in bases {
            let f = move |v: &[Real]| v[0].powi(n);
            check("powi", &f, &[x], &[x.abs()]).unwrap_or_else(|message| panic!("{message}"));
        }
    }
    let positive_bases = &[1e-3, 0.5, 1.0, 2.0, 10.0, 1e3];
    for e in [-2.5, -1.0, 0.0, 0.5, 1.0, 2.0, 3.7] {
        for &x in positive_bases {
            let f = move |v: &[Real]| v[0].powf(e);
            check("powf f64", &f, &[x], &[x]).unwrap_or_else(|message| panic!("{message}"));
        }
    }
    // A tracked exponent: x^e varies along e over 1 / |ln x|.
    check_binary(
        "powf Real",
        |x, e| x.powf(e),
        (positive_bases, distance_to_zero),
        (&[-2.5, -1.0, 0.0, 0.5, 2.0, 3.7], one),
    );
    check_binary(
        "powf Real, varying scale",
        |x, e| x.powf(e),
        (&[1e-3, 1e3], distance_to_zero),
        (&[-0.5, 1.5], |_| 1.0 / 1e3_f64.ln()),
    );
}

#[test]
fn trigonometric_and_hyperbolic() {
    let angles = &[-1e6, -10.0, -1.0, 0.0, 0.5, 1.0, 3.0, 100.0, 1e6];
    check_unary("sin", Real::sin, angles, one);
    check_unary("cos", Real::cos, angles, one);
    check_unary(
        "tanh",
        Real::tanh,
        &[-400.0, -20.0, -3.0, -0.5, 0.0, 1e-8, 0.5, 3.0, 20.0, 400.0],
        one,
    );
    check_unary("abs", Real::abs, NONZERO, distance_to_zero);
}

#[test]
fn logistic_softplus_and_log_sum_exp() {
    let tails = &[
        -800.0, -700.0, -40.0, -5.0, -0.5, 0.0, 0.5, 5.0, 40.0, 700.0, 800.0,
    ];
    check_unary("logistic", Real::logistic, tails, one);
    check_unary("softplus", Real::softplus, tails, one);
    let points = &[-700.0, -50.0, -3.0, -1.0, 0.0, 0.5, 3.0, 50.0, 700.0];
    check_binary(
        "log_sum_exp",
        |a, b| a.log_sum_exp(b),
        (points, one),
        (points, one),
    );
    check_unary("log_sum_exp with f64", |a| a.log_sum_exp(0.5), points, one);
}

#[test]
fn compositions() {
    // Model-like expressions: the Normal log-density with a log-scale, a stick-breaking step and
    // an affine map.
    let normal = |v: &[Real]| {
        let sigma = v[2].exp();
        let z = (v[0] - v[1]) / sigma;
        -0.5 * z * z - sigma.ln()
    };
    for point in [[1.5, 0.5, 0.0], [-3.0, 2.0, -1.5], [1e3, -1e3, 5.0]] {
        check("normal", &normal, &point, &[1.0, 1.0, 1.0]).unwrap_or_else(|m| panic!("{m}"));
    }
    let stick = |v: &[Real]| {
        let fraction = (v[0] - 2.0_f64.ln()).logistic();
        let rest = 1.0 - fraction;
        (fraction * v[1].softplus()).ln() + rest.ln_1p() + (2.0 * v[1] + 0.5).tanh()
    };
    for point in [[0.3, -0.2], [-4.0, 3.0], [6.0, -6.0]] {
        check("stick", &stick, &point, &[1.0, 1.0]).unwrap_or_else(|m| panic!("{m}"));
    }
}

/// `|a - b| <= ulps * eps * |b|`.
fn close(a: f64, b: f64, ulps: f64) -> bool {
    (a - b).abs() <= ulps * f64::EPSILON * b.abs()
}

fn derivative(f: fn(Real) -> Real, x: f64) -> (f64, f64) {
    let (value, grad) = taped(&|v| f(v[0]), &[x]);
    (value, grad[0])
}

#[test]
fn closed_forms_at_edge_values() {
    // exp is its own derivative, down to subnormal values.
    for x in [-745.0, -700.0, 0.0, 1.0, 709.0] {
        let (y, dy) = derivative(Real::exp, x);
        assert_eq!((y, dy), (x.exp(), x.exp()));
    }
    // The tails of the sigmoid: sigma'(x) = e^-|x| / (1 + e^-|x|)², about e^-700 at ±700.
    let tail = (-700.0_f64).exp();
    for x in [-700.0, 700.0] {
        let (_, dy) = derivative(Real::logistic, x);
        assert!(close(dy, tail, 4.0), "logistic'({x}) = {dy}");
    }
    assert_eq!(derivative(Real::logistic, 0.0), (0.5, 0.25));
    assert_eq!(derivative(Real::logistic, 800.0), (1.0, 0.0));
    // softplus: exact tails and no overflow.
    assert_eq!(derivative(Real::softplus, 700.0), (700.0, 1.0));
    assert_eq!(derivative(Real::softplus, 1e308), (1e308, 1.0));
    let (y, dy) = derivative(Real::softplus, -700.0);
    assert!(close(y, tail, 4.0) && close(dy, tail, 4.0), "{y} {dy}");
    assert_eq!(derivative(Real::softplus, 0.0), (2.0_f64.ln(), 0.5));
    // tanh' = sech² keeps its relative accuracy where tanh rounds to ±1: 4e^-40 / (1 + e^-40)².
    let (y, dy) = derivative(Real::tanh, 20.0);
    assert_eq!(y, 1.0);
    assert!(close(dy, 4.0 * (-40.0_f64).exp(), 8.0), "{dy}");
    assert_eq!(derivative(Real::tanh, 0.0), (0.0, 1.0));
    // exp_m1' = e^x, not y + 1 (which would be 0 at -40).
    let (_, dy) = derivative(Real::exp_m1, -40.0);
    assert_eq!(dy, (-40.0_f64).exp());
    // Singular points: infinite derivatives, never NaN.
    assert_eq!(derivative(Real::sqrt, 0.0), (0.0, f64::INFINITY));
    assert_eq!(
        derivative(Real::ln, 0.0),
        (f64::NEG_INFINITY, f64::INFINITY)
    );
    assert_eq!(
        derivative(Real::recip, 0.0),
        (f64::INFINITY, f64::NEG_INFINITY)
    );
    assert_eq!(
        derivative(Real::ln_1p, -1.0),
        (f64::NEG_INFINITY, f64::INFINITY)
    );
    // abs: the sign, 0 at 0.
    assert_eq!(derivative(Real::abs, 0.0), (0.0, 0.0));
    assert_eq!(derivative(Real::abs, -2.0), (2.0, -1.0));
    // Powers at 0: x^0 is 1 with derivative 0; x² has derivative 0; x^e with a tracked exponent
    // has partial 0 in the exponent where x^e is 0.
    assert_eq!(derivative(|x| x.powi(0), 0.0), (1.0, 0.0));
    assert_eq!(derivative(|x| x.powf(0.0), 0.0), (1.0, 0.0));
    assert_eq!(derivative(|x| x.powf(2.0), 0.0), (0.0, 0.0));
    let (y, grad) = taped(&|v| v[0].powf(v[1]), &[0.0, 2.0]);
    assert_eq!((y, grad), (0.0, vec![0.0, 0.0]));
    let (y, grad) = taped(&|v| v[0].powf(v[1]), &[2.0, 3.0]);
    assert_eq!((y, grad), (8.0, vec![12.0, 8.0 * 2.0_f64.ln()]));
    // Large magnitudes.
    let (y, grad) = taped(&|v| v[0] * v[1], &[1e300, 1e-300]);
    assert_eq!((y, grad), (1e300 * 1e-300, vec![1e-300, 1e300]));
    let (y, grad) = taped(&|v| v[0] / v[1], &[1e300, 1e10]);
    assert_eq!((y, grad), (1e290, vec![1e-10, -1e280]));
}

#[test]
fn log_sum_exp_at_infinities_and_ties() {
    let lse = |a: f64, b: f64| taped(&|v| v[0].log_sum_exp(v[1]), &[a, b]);
    let inf = f64::INFINITY;
    assert_eq!(lse(-inf, -inf), (-inf, vec![0.5, 0.5]));
    assert_eq!(lse(inf, inf), (inf, vec![0.5, 0.5]));
    assert_eq!(lse(-inf, 0.0), (0.0, vec![0.0, 1.0]));
    assert_eq!(lse(3.0, -inf), (3.0, vec![1.0, 0.0]));
    assert_eq!(lse(1000.0, 1000.0), (1000.0 + 2.0_f64.ln(), vec![0.5, 0.5]));
    let (y, grad) = lse(0.0, 1.0);
    assert!(close(y, (1.0 + 1.0_f64.exp()).ln(), 2.0));
    let e = 1.0_f64.exp();
    assert!(close(grad[0], 1.0 / (1.0 + e), 4.0) && close(grad[1], e / (1.0 + e), 4.0));
}

#[test]
fn nan_in_gives_nan_out_never_a_panic() {
    let nan = f64::NAN;
    let ops: [fn(Real) -> Real; 12] = [
        Real::exp,
        Real::ln,
        Real::sqrt,
        Real::sin,
        Real::tanh,
        Real::abs,
        Real::logistic,
        Real::softplus,
        |x| x.powi(3),
        |x| x.powf(2.5),
        |x| x.log_sum_exp(1.0),
        |x| x * 2.0,
    ];
    for op in ops {
        let (y, _) = derivative(op, nan);
        assert!(y.is_nan());
    }
    // Outside the domain the value is NaN; the partial is the formula's, as in PyTorch.
    assert!(matches!(derivative(Real::ln, -1.0), (y, -1.0) if y.is_nan()));
}

#[test]
fn sums_record_each_tracked_term() {
    let (y, grad) = taped(
        &|v| v.iter().map(|&x| x * x).sum::<Real>() + v.iter().sum::<Real>(),
        &[1.0, -2.0, 3.0],
    );
    assert_eq!((y, grad), (16.0, vec![3.0, -3.0, 7.0]));
    let empty: [Real; 0] = [];
    assert!(empty.iter().sum::<Real>().is_constant());
}
