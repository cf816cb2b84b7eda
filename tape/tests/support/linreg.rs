//! The 103-site linear regression of issue 14, shared by `tests/linreg.rs` and
//! `examples/linreg_grad.rs`: three latent sites `a ~ Normal(0, 10)`, `b ~ Normal(0, 10)`,
//! `s ~ Normal(0, 1)` and 100 observations `y_i ~ Normal(a + b x_i, e^s)`. Its log-density and
//! gradient with respect to `(a, b, s)` are written three ways: by hand (value and analytic
//! gradient), with `Real` and one node per operation, and with `Real` and one recorded node per
//! site; and, for the cost of constants, as the second on `f64`.

use pyro_tape::Real;

/// The number of observations.
pub const N: usize = 100;

/// `ln(2 pi) / 2`.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// The prior scale of `a` and `b`.
const PRIOR_SCALE: f64 = 10.0;

/// The covariates and the observations, fixed (no random generator): `y = 1 + 2x + noise`.
pub fn data() -> (Vec<f64>, Vec<f64>) {
    (0..N)
        .map(|i| {
            let x = -2.0 + 4.0 * i as f64 / (N - 1) as f64;
            (x, 1.0 + 2.0 * x + 0.5 * (7.0 * i as f64).sin())
        })
        .unzip()
}

/// The log-density at `p = (a, b, s)`, by hand.
pub fn log_density(x: &[f64], y: &[f64], p: [f64; 3]) -> f64 {
    let [a, b, s] = p;
    let sigma = s.exp();
    let mut lp = -0.5 * ((a / PRIOR_SCALE).powi(2) + (b / PRIOR_SCALE).powi(2) + s * s)
        - 2.0 * PRIOR_SCALE.ln()
        - 3.0 * HALF_LN_2PI;
    for (&xi, &yi) in x.iter().zip(y) {
        let z = (yi - a - b * xi) / sigma;
        lp += -0.5 * z * z - s - HALF_LN_2PI;
    }
    lp
}

/// The log-density at `p = (a, b, s)` and its gradient, written into `grad`, by hand: with
/// `z_i = (y_i - a - b x_i) / sigma`, the gradient is
/// `(sum z_i / sigma - a / 100, sum z_i x_i / sigma - b / 100, sum (z_i² - 1) - s)`.
pub fn log_density_and_gradient(x: &[f64], y: &[f64], p: [f64; 3], grad: &mut [f64; 3]) -> f64 {
    let [a, b, s] = p;
    let sigma = s.exp();
    let prior_variance = PRIOR_SCALE * PRIOR_SCALE;
    let mut lp = -0.5 * ((a * a + b * b) / prior_variance + s * s)
        - 2.0 * PRIOR_SCALE.ln()
        - 3.0 * HALF_LN_2PI;
    let (mut da, mut db, mut ds) = (0.0, 0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(y) {
        let z = (yi - a - b * xi) / sigma;
        lp += -0.5 * z * z - s - HALF_LN_2PI;
        da += z;
        db += z * xi;
        ds += z * z;
    }
    *grad = [
        da / sigma - a / prior_variance,
        db / sigma - b / prior_variance,
        ds - x.len() as f64 - s,
    ];
    lp
}

/// The log-density at `p = (a, b, s)`, written as [`per_op`] is, on `f64`, with the logarithm
/// `ln` (`f64::ln`, or one the compiler cannot hoist out of the loop over the sites).
pub fn per_op_f64(x: &[f64], y: &[f64], p: [f64; 3], ln: impl Fn(f64) -> f64) -> f64 {
    let [a, b, s] = p;
    let sigma = s.exp();
    let normal = |value: f64, loc: f64, scale: f64| {
        let z = (value - loc) / scale;
        -0.5 * z * z - ln(scale) - HALF_LN_2PI
    };
    let prior = normal(a, 0.0, PRIOR_SCALE) + normal(b, 0.0, PRIOR_SCALE) + normal(s, 0.0, 1.0);
    x.iter()
        .zip(y)
        .map(|(&xi, &yi)| normal(yi, a + b * xi, sigma))
        .fold(prior, |total, lp| total + lp)
}

/// The Normal log-density written with operations (one node each).
fn normal_ops(value: Real, loc: Real, scale: Real) -> Real {
    let z = (value - loc) / scale;
    -0.5 * z * z - scale.ln() - HALF_LN_2PI
}

/// The Normal log-density as one recorded node, with its partials with respect to the value, the
/// location and the scale: `-z / scale`, `z / scale`, `(z² - 1) / scale`.
fn normal_node(value: Real, loc: Real, scale: Real) -> Real {
    let sigma = scale.value();
    let z = (value.value() - loc.value()) / sigma;
    Real::record(
        -0.5 * z * z - sigma.ln() - HALF_LN_2PI,
        &[
            (value, -z / sigma),
            (loc, z / sigma),
            (scale, (z * z - 1.0) / sigma),
        ],
    )
}

/// The log-density at `p = (a, b, s)`, one node per operation.
pub fn per_op(x: &[f64], y: &[f64], p: &[Real]) -> Real {
    sites(x, y, p, normal_ops)
}

/// The log-density at `p = (a, b, s)`, one recorded node per site.
pub fn per_site(x: &[f64], y: &[f64], p: &[Real]) -> Real {
    sites(x, y, p, normal_node)
}

/// The model, with the Normal log-density `normal`, as model code would read.
fn sites(x: &[f64], y: &[f64], p: &[Real], normal: impl Fn(Real, Real, Real) -> Real) -> Real {
    let (a, b, s) = (p[0], p[1], p[2]);
    let sigma = s.exp();
    let zero = Real::constant(0.0);
    let prior = normal(a, zero, PRIOR_SCALE.into())
        + normal(b, zero, PRIOR_SCALE.into())
        + normal(s, zero, 1.0.into());
    x.iter()
        .zip(y)
        .map(|(&xi, &yi)| normal(yi.into(), a + b * xi, sigma))
        .fold(prior, |total, lp| total + lp)
}
