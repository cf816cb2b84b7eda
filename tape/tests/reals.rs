//! Vectors ([`Reals`]): every operator and function against the same computation written one
//! element at a time with [`Real`]s, whose derivatives `tests/derivatives.rs` checks against
//! finite differences; the record API; gathering; and the errors (stale vectors, mismatched
//! lengths).
//!
//! The element-by-element computation performs the same floating-point operations, and a
//! gradient is a sum of the same products, so values agree exactly and gradients to the rounding
//! of a sum of a few terms in a different order: 1e-14 relative.

use pyro_tape::{Parent, Real, Reals, Tape, TapeError, Weights, gradient};

const XS: [f64; 4] = [0.5, -1.25, 2.0, 3.5];
const YS: [f64; 4] = [1.5, 0.75, -0.5, 2.25];

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-14 * x.abs().max(y.abs()).max(1.0),
            "{a:?} != {b:?}"
        );
    }
}

/// The value and gradient, with respect to two scalars and two vectors (leaves at `XS`, `YS`),
/// of `vector(s, t, x, y).sum()` and of `scalar(s, t, x_i, y_i)` summed over the elements.
fn check(
    vector: impl Fn(Real, Real, &Reals, &Reals) -> Reals,
    scalar: impl Fn(Real, Real, Real, Real) -> Real,
) {
    let point: Vec<f64> = [0.75, -1.5].iter().chain(&XS).chain(&YS).copied().collect();
    let by_vector = {
        let tape = Tape::start().unwrap();
        let (s, t) = (tape.leaf(point[0]), tape.leaf(point[1]));
        let x = tape.leaves(XS.to_vec());
        let y = tape.leaves(YS.to_vec());
        let out = vector(s, t, &x, &y).sum();
        let wrt: Vec<Real> = [s, t].into_iter().chain(x.iter()).chain(y.iter()).collect();
        (out.value(), tape.backward(out, &wrt).unwrap())
    };
    let by_element = gradient(&point, |p| {
        let total = (0..XS.len())
            .map(|i| scalar(p[0], p[1], p[2 + i], p[6 + i]))
            .sum();
        Ok::<Real, TapeError>(total)
    })
    .unwrap();
    close(&[by_vector.0], &[by_element.0]);
    close(&by_vector.1, &by_element.1);
    // The same code on constants gives the same value and records nothing.
    let constants = vector(
        Real::constant(point[0]),
        Real::constant(point[1]),
        &Reals::from(XS.to_vec()),
        &Reals::from(YS.to_vec()),
    );
    assert!(constants.is_constant());
    close(&[constants.sum().value()], &[by_element.0]);
}

#[test]
fn vector_with_vector() {
    check(|_, _, x, y| x + y, |_, _, x, y| x + y);
    check(|_, _, x, y| x - y, |_, _, x, y| x - y);
    check(|_, _, x, y| x * y, |_, _, x, y| x * y);
    check(|_, _, x, y| x / y, |_, _, x, y| x / y);
    check(|_, _, x, _| x * x, |_, _, x, _| x * x);
    check(|_, _, x, y| x.clone() + y.clone(), |_, _, x, y| x + y);
    check(|_, _, x, y| x.clone() * y, |_, _, x, y| x * y);
    check(|_, _, x, y| x / y.clone(), |_, _, x, y| x / y);
}

#[test]
fn scalar_broadcast_over_a_vector() {
    check(|s, _, x, _| s + x, |s, _, x, _| s + x);
    check(|s, _, x, _| x - s, |s, _, x, _| x - s);
    check(|s, _, x, _| s * x, |s, _, x, _| s * x);
    check(|s, _, x, _| x / s, |s, _, x, _| x / s);
    check(|s, _, x, _| s / x, |s, _, x, _| s / x);
    check(|s, _, x, _| s - x.clone(), |s, _, x, _| s - x);
    check(|_, _, x, _| 2.0 * x - 1.0, |_, _, x, _| 2.0 * x - 1.0);
    check(
        |_, _, x, _| 3.0 / x.clone() + x / 4.0,
        |_, _, x, _| 3.0 / x + x / 4.0,
    );
}

#[test]
fn a_regression_mean_and_its_residuals() {
    let xs = XS.to_vec();
    let slice: &[f64] = &YS;
    let by_vector = gradient(&[0.75, -1.5], |p| {
        let mean = p[0] + p[1] * &xs;
        let r = slice - &mean;
        let r2 = &r * &r / 2.0;
        Ok::<_, TapeError>(r2.sum() + (&xs * p[1]).sum() - (p[0] / slice).sum())
    })
    .unwrap();
    let by_element = gradient(&[0.75, -1.5], |p| {
        let mut total = Real::constant(0.0);
        for (x, y) in XS.iter().zip(&YS) {
            let r = y - (p[0] + p[1] * x);
            total += r * r / 2.0 + x * p[1] - p[0] / y;
        }
        Ok::<_, TapeError>(total)
    })
    .unwrap();
    close(&[by_vector.0], &[by_element.0]);
    close(&by_vector.1, &by_element.1);
}

#[test]
fn functions() {
    check(|_, _, x, _| -x, |_, _, x, _| -x);
    check(|_, _, x, _| -x.clone(), |_, _, x, _| -x);
    check(|_, _, x, _| x.exp(), |_, _, x, _| x.exp());
    check(|_, _, _, y| (y * y).ln(), |_, _, _, y| (y * y).ln());
    check(
        |s, _, x, y| (s * x).exp() * (y * y).ln().exp(),
        |s, _, x, y| (s * x).exp() * (y * y).ln().exp(),
    );
}

#[test]
fn a_scalar_from_a_vector_mixes_with_scalar_arithmetic() {
    // Elements read one by one (tracked), a gathered vector and a sum: out = sum_i (z_i x_0 + Y)
    // with z_i = x_i y_i + s and Y = sum_j y_j.
    let point: Vec<f64> = [0.75].iter().chain(&XS).chain(&YS).copied().collect();
    let by_vector = gradient(&point, |p| {
        let (x, y): (Reals, Reals) = (
            p[1..5].iter().copied().collect(),
            p[5..].iter().copied().collect(),
        );
        let z: Reals = x.iter().zip(y.iter()).map(|(a, b)| a * b + p[0]).collect();
        Ok::<_, TapeError>((&z * x.get(0).unwrap() + y.sum()).sum())
    })
    .unwrap();
    let by_element = gradient(&point, |p| {
        let total_y: Real = p[5..].iter().sum();
        let total = (0..4)
            .map(|i| (p[1 + i] * p[5 + i] + p[0]) * p[1] + total_y)
            .sum();
        Ok::<Real, TapeError>(total)
    })
    .unwrap();
    close(&[by_vector.0], &[by_element.0]);
    close(&by_vector.1, &by_element.1);
}

#[test]
fn gathered_and_consecutive_elements() -> Result<(), TapeError> {
    let tape = Tape::start()?;
    let x = tape.leaves(XS.to_vec());
    let a = tape.leaf(2.0);
    // The elements of one vector, in order: the same vector, no new node.
    let same: Reals = x.iter().collect();
    assert_eq!(same, x);
    // Out of order, with a scalar and a constant: gathered.
    let mixed: Reals = [x.get(2).unwrap(), a, Real::constant(7.0), x.get(0).unwrap()]
        .into_iter()
        .collect();
    assert_eq!(mixed.values(), &[2.0, 2.0, 7.0, 0.5]);
    let out = (&mixed * &[1.0, 10.0, 100.0, 1000.0][..]).sum() + same.sum();
    let wrt: Vec<Real> = x.iter().chain([a]).collect();
    assert_eq!(tape.backward(out, &wrt)?, vec![1001.0, 1.0, 2.0, 1.0, 10.0]);
    // Constants only: a constant vector.
    let constant: Reals = [1.0, 2.0].into_iter().map(Real::constant).collect();
    assert!(constant.is_constant());
    Ok(())
}

#[test]
fn backward_from_an_element_of_a_vector() -> Result<(), TapeError> {
    let tape = Tape::start()?;
    let a = tape.leaf(3.0);
    let y = a * &XS[..] + a * a;
    let wrt = [a];
    for (i, x) in XS.iter().enumerate() {
        assert_eq!(tape.backward(y.get(i).unwrap(), &wrt)?, vec![x + 6.0]);
    }
    Ok(())
}

#[test]
fn recorded_vectors_and_scalars() -> Result<(), TapeError> {
    let tape = Tape::start()?;
    let s = tape.leaf(2.0);
    let x = tape.leaves(vec![1.0, 3.0]);
    // y_i = s x_i with partials x_i (with respect to s) and s (with respect to x_i).
    let y = Reals::record(
        vec![2.0, 6.0],
        &[
            (Parent::Real(s), Weights::Each(x.values())),
            (Parent::Reals(&x), Weights::All(s.value())),
            (Parent::Real(Real::constant(9.0)), Weights::All(f64::NAN)),
        ],
    );
    // lp = y_0 + 2 y_1 + s.
    let lp = Real::record_parents(
        14.0 + 2.0,
        &[
            (Parent::Reals(&y), Weights::Each(&[1.0, 2.0])),
            (Parent::Real(s), Weights::All(1.0)),
        ],
    );
    let wrt: Vec<Real> = [s].into_iter().chain(x.iter()).collect();
    assert_eq!(tape.backward(lp, &wrt)?, vec![1.0 + 6.0 + 1.0, 2.0, 4.0]);
    // All parents constant: a constant.
    let c = Reals::record(
        vec![1.0],
        &[(Parent::Real(Real::constant(1.0)), Weights::All(1.0))],
    );
    assert!(c.is_constant());
    Ok(())
}

#[test]
fn a_stale_vector_is_an_error() {
    let mut kept = Reals::default();
    gradient(&[1.0], |p| {
        kept = p[0] * &XS[..];
        Ok::<_, TapeError>(kept.sum())
    })
    .unwrap();
    // Outside a gradient the values are right, and what is computed from it stays stale.
    let later = &kept + 1.0;
    assert_eq!(later.values(), &[1.5, -0.25, 3.0, 4.5]);
    assert!(!later.is_constant());
    for stale in [kept, later] {
        let result = gradient(&[1.0, 2.0, 3.0, 4.0, 5.0], |p| {
            Ok::<_, TapeError>((p[0] * &stale).sum() + p[1] * p[2] * p[3] * p[4])
        });
        assert!(matches!(result, Err(TapeError::Stale { .. })), "{result:?}");
        let summed = gradient(&[1.0], |p| Ok::<_, TapeError>(p[0] + stale.sum()));
        assert!(matches!(summed, Err(TapeError::Stale { .. })), "{summed:?}");
    }
}

#[test]
#[should_panic(expected = "element-wise operation on vectors of different lengths: 4 and 3")]
fn mismatched_lengths_panic_with_both_lengths() {
    let _ = Reals::from(XS.to_vec()) + &[1.0, 2.0, 3.0][..];
}

#[test]
fn empty_vectors() -> Result<(), TapeError> {
    let tape = Tape::start()?;
    let a = tape.leaf(1.0);
    let empty = a * &Vec::new();
    assert!(empty.is_empty());
    assert_eq!(tape.backward(empty.sum() + a, &[a])?, vec![1.0]);
    Ok(())
}

#[test]
fn long_vectors_grow_the_tape() -> Result<(), TapeError> {
    // Blocks longer than the tape's first allocation, many of them.
    let xs: Vec<f64> = (0..10_000).map(|i| f64::from(i) / 1000.0).collect();
    let (value, grad) = gradient(&[0.5, 2.0], |p| {
        let mut total = Real::constant(0.0);
        for _ in 0..5 {
            let y = p[0] + p[1] * &xs;
            total += (&y * &y).sum();
        }
        Ok::<_, TapeError>(total)
    })?;
    let (sum_x, sum_x2) = (
        xs.iter().sum::<f64>(),
        xs.iter().map(|x| x * x).sum::<f64>(),
    );
    let n = xs.len() as f64;
    let expected_a = 5.0 * 2.0 * (n * 0.5 + 2.0 * sum_x);
    let expected_b = 5.0 * 2.0 * (0.5 * sum_x + 2.0 * sum_x2);
    assert!((grad[0] - expected_a).abs() <= 1e-12 * expected_a.abs());
    assert!((grad[1] - expected_b).abs() <= 1e-12 * expected_b.abs());
    assert!(value > 0.0);
    Ok(())
}
