//! Algebraic identities of gradients, on random points: linearity, the product and chain rules,
//! and identities of the functions (`softplus(x) - softplus(-x) = x`, the partials of
//! `log_sum_exp` sum to 1, `exp(ln x) = x`).

use proptest::prelude::*;
use pyro_tape::{Real, TapeError, gradient};

fn grad(point: &[f64], f: impl Fn(&[Real]) -> Real) -> Vec<f64> {
    gradient(point, |v| Ok::<_, TapeError>(f(v)))
        .expect("a gradient of fresh leaves")
        .1
}

/// `|a - b| <= tolerance * max(1, |a|, |b|)`.
fn near(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs()).max(1.0)
}

fn f(v: &[Real]) -> Real {
    v[0] * v[1].sin() + (v[0] - v[1]).tanh()
}

fn g(v: &[Real]) -> Real {
    (0.5 * v[1]).exp() * v[0] - v[0].softplus()
}

proptest! {
    #[test]
    fn gradients_are_linear(
        x in -5.0..5.0_f64,
        y in -5.0..5.0_f64,
        alpha in -3.0..3.0_f64,
        beta in -3.0..3.0_f64,
    ) {
        // Each component is a few products of O(10) numbers: rounding a few times eps * 100.
        let combined = grad(&[x, y], |v| alpha * f(v) + beta * g(v));
        let (df, dg) = (grad(&[x, y], f), grad(&[x, y], g));
        for i in 0..2 {
            let expected = alpha * df[i] + beta * dg[i];
            prop_assert!(near(combined[i], expected, 1e-13), "{combined:?} vs {expected}");
        }
    }

    #[test]
    fn product_and_chain_rules(x in -5.0..5.0_f64, y in -5.0..5.0_f64) {
        // d(fg) = f dg + g df, and d exp(f) = exp(f) df, from separately taken gradients.
        let fx = f(&[x.into(), y.into()]).value();
        let gx = g(&[x.into(), y.into()]).value();
        let (df, dg) = (grad(&[x, y], f), grad(&[x, y], g));
        let product = grad(&[x, y], |v| f(v) * g(v));
        let chained = grad(&[x, y], |v| f(v).exp());
        for i in 0..2 {
            prop_assert!(near(product[i], fx * dg[i] + gx * df[i], 1e-12));
            prop_assert!(near(chained[i], fx.exp() * df[i], 1e-12));
        }
    }

    #[test]
    fn identities_of_the_functions(x in -750.0..750.0_f64, y in -750.0..750.0_f64) {
        // softplus(x) - softplus(-x) = x: the derivative is sigma(x) + sigma(-x) = 1.
        let d = grad(&[x], |v| v[0].softplus() - (-v[0]).softplus());
        prop_assert!(near(d[0], 1.0, 2.0 * f64::EPSILON), "{d:?}");
        // The partials of log_sum_exp are two sigmoids of opposite arguments: they sum to 1,
        // and swap with the arguments.
        let d = grad(&[x, y], |v| v[0].log_sum_exp(v[1]));
        prop_assert!(near(d[0] + d[1], 1.0, 2.0 * f64::EPSILON), "{d:?}");
        let swapped = grad(&[y, x], |v| v[0].log_sum_exp(v[1]));
        prop_assert_eq!(d, vec![swapped[1], swapped[0]]);
        // logistic'(x) = logistic(x) logistic(-x), symmetric in x.
        let (left, right) = (grad(&[x], |v| v[0].logistic()), grad(&[-x], |v| v[0].logistic()));
        prop_assert_eq!(left, right);
    }

    #[test]
    fn inverse_functions_have_unit_derivative(x in 1e-3..1e3_f64) {
        // exp(ln x), (sqrt x)², 1 / (1 / x) and ln_1p(exp_m1(ln x)) are x: derivative 1, to a
        // few roundings of the chain's factors.
        let cases: [fn(Real) -> Real; 4] = [
            |x| x.ln().exp(),
            |x| x.sqrt().powi(2),
            |x| x.recip().recip(),
            |x| x.ln().exp_m1().ln_1p().exp(),
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let d = grad(&[x], |v| case(v[0]));
            prop_assert!(near(d[0], 1.0, 1e-14), "case {i}: {d:?}");
        }
    }

    #[test]
    fn recorded_nodes_agree_with_operations(x in -5.0..5.0_f64, y in 0.1..5.0_f64) {
        // x * y / (1 + y²) by operations, and by one node with hand-written partials.
        let by_ops = grad(&[x, y], |v| v[0] * v[1] / (1.0 + v[1] * v[1]));
        let by_node = grad(&[x, y], |v| {
            let (a, b) = (v[0].value(), v[1].value());
            let d = 1.0 + b * b;
            Real::record(a * b / d, &[(v[0], b / d), (v[1], a * (1.0 - b * b) / (d * d))])
        });
        for i in 0..2 {
            prop_assert!(near(by_ops[i], by_node[i], 1e-14), "{by_ops:?} {by_node:?}");
        }
    }
}
