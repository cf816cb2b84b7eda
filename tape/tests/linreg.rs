//! The 103-site linear-regression log-density of issue 14 with `Real`: written with operations
//! and with one recorded node per site, its gradient matches the analytic gradient, which itself
//! matches finite differences.

mod support;

use pyro_tape::{Real, Tape, TapeError, gradient};
use support::linreg;

/// Points away from the mode (where the gradient is large) and near it (where it is small and
/// its terms cancel).
const POINTS: [[f64; 3]; 5] = [
    [0.9, 1.8, -0.5],
    [1.0, 2.0, -0.8],
    [-3.0, 0.5, 1.0],
    [10.0, -4.0, -2.0],
    [0.0, 0.0, 0.0],
];

/// The analytic gradient at `p` and the sum of the magnitudes of the terms of each of its
/// components (the scale of the rounding error of any order of summation).
fn analytic(x: &[f64], y: &[f64], p: [f64; 3]) -> (f64, [f64; 3], [f64; 3]) {
    let mut grad = [0.0; 3];
    let value = linreg::log_density_and_gradient(x, y, p, &mut grad);
    let sigma = p[2].exp();
    let mut magnitude = [p[0].abs() / 100.0, p[1].abs() / 100.0, p[2].abs() + 100.0];
    for (&xi, &yi) in x.iter().zip(y) {
        let z = (yi - p[0] - p[1] * xi) / sigma;
        magnitude[0] += z.abs() / sigma;
        magnitude[1] += (z * xi).abs() / sigma;
        magnitude[2] += z * z;
    }
    (value, grad, magnitude)
}

/// Checks a gradient against the analytic one. Each component is a sum of 103 terms computed in
/// a different order and with a few roundings per term, so they may differ by about
/// `103 * 4 eps` times the sum of the magnitudes of the terms: the tolerance is `1e-13` times
/// that (`4.6e-14` rounded up).
fn assert_matches(name: &str, p: [f64; 3], value: f64, grad: &[f64]) {
    let (x, y) = linreg::data();
    let (analytic_value, analytic_grad, magnitude) = analytic(&x, &y, p);
    assert!(
        (value - analytic_value).abs() <= 1e-13 * value.abs().max(1.0),
        "{name} at {p:?}: value {value}, analytic {analytic_value}"
    );
    for i in 0..3 {
        assert!(
            (grad[i] - analytic_grad[i]).abs() <= 1e-13 * magnitude[i],
            "{name} at {p:?}: d/dp{i} = {}, analytic {} (terms of magnitude {})",
            grad[i],
            analytic_grad[i],
            magnitude[i]
        );
    }
}

#[test]
fn the_analytic_gradient_matches_finite_differences() {
    // Central differences with h = eps^(1/3) (the log-density varies over a unit in each
    // coordinate at these points); truncation h² |f'''| / 6 and rounding eps |f| / h are both
    // about eps^(2/3) = 3.7e-11 times |f'''| and |f| (both below 1e4 here), so 1e-5 relative to
    // max(|f|, |f'|) is a safe bound, and still far below any error in the formula.
    let (x, y) = linreg::data();
    for p in POINTS {
        let (value, grad, _) = analytic(&x, &y, p);
        assert_eq!(value, linreg::log_density(&x, &y, p));
        for i in 0..3 {
            let h = f64::EPSILON.cbrt();
            let (mut plus, mut minus) = (p, p);
            plus[i] += h;
            minus[i] -= h;
            let fd = (linreg::log_density(&x, &y, plus) - linreg::log_density(&x, &y, minus))
                / (plus[i] - minus[i]);
            let tolerance = 1e-5 * value.abs().max(grad[i].abs());
            assert!(
                (fd - grad[i]).abs() <= tolerance,
                "at {p:?}: d/dp{i} = {} by hand, {fd} by finite differences",
                grad[i]
            );
        }
    }
}

#[test]
fn one_node_per_operation_gives_the_analytic_gradient() -> Result<(), TapeError> {
    let (x, y) = linreg::data();
    for p in POINTS {
        let (value, grad) = gradient(&p, |v| Ok::<_, TapeError>(linreg::per_op(&x, &y, v)))?;
        assert_matches("per op", p, value, &grad);
    }
    Ok(())
}

#[test]
fn one_recorded_node_per_site_gives_the_analytic_gradient() -> Result<(), TapeError> {
    let (x, y) = linreg::data();
    for p in POINTS {
        let (value, grad) = gradient(&p, |v| Ok::<_, TapeError>(linreg::per_site(&x, &y, v)))?;
        assert_matches("per site", p, value, &grad);
    }
    Ok(())
}

#[test]
fn repeated_gradients_on_one_thread_agree() -> Result<(), TapeError> {
    // The scope form with reused buffers, as a sampler calls it, gives the same numbers as
    // `gradient` every time.
    let (x, y) = linreg::data();
    let mut leaves = Vec::new();
    let mut grad = Vec::new();
    for round in 0..3 {
        for p in POINTS {
            let tape = Tape::start()?;
            leaves.clear();
            leaves.extend(p.map(|value| tape.leaf(value)));
            let output = linreg::per_site(&x, &y, &leaves);
            tape.backward_into(output, &leaves, &mut grad)?;
            drop(tape);
            let (value, expected) =
                gradient(&p, |v| Ok::<_, TapeError>(linreg::per_site(&x, &y, v)))?;
            assert_eq!((output.value(), &grad), (value, &expected), "round {round}");
        }
    }
    Ok(())
}

#[test]
fn constants_give_the_plain_f64_value() {
    // Outside a gradient, the code written with Real computes what the same code on f64 does.
    let (x, y) = linreg::data();
    for p in POINTS {
        let constants = p.map(Real::constant);
        let plain = linreg::per_op_f64(&x, &y, p, f64::ln);
        assert_eq!(linreg::per_op(&x, &y, &constants).value(), plain);
        assert!(linreg::per_op(&x, &y, &constants).is_constant());
        let per_site = linreg::per_site(&x, &y, &constants).value();
        assert!(
            (per_site - plain).abs() <= 1e-13 * plain.abs(),
            "{per_site} {plain}"
        );
    }
}
