//! The data of M2 `linreg` (`../shared/BENCH.md`), shared by the test files that fit it:
//! `x_i = i / 100`, `y_i = 1 + 2 x_i + 0.5 eps_i` with the 100 `eps_i` of
//! `benches/data/linreg_eps.txt`.

/// `(xs, ys)`.
pub fn linreg_data() -> (Vec<f64>, Vec<f64>) {
    let eps: Vec<f64> = include_str!("../../../benches/data/linreg_eps.txt")
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    let xs: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
    let ys = xs
        .iter()
        .zip(&eps)
        .map(|(x, e)| 1.0 + 2.0 * x + 0.5 * e)
        .collect();
    (xs, ys)
}
