//! The multivariate normal distribution.

use super::normal::LN_SQRT_2PI;
use crate::constraint::Constraint;
use crate::distribution::Distribution;
use crate::error::ParamError;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// The multivariate normal distribution `MultivariateNormal(loc, covariance)` over `R^d`.
///
/// Built from a covariance matrix ([`MultivariateNormal::new`], factorised by Cholesky) or from
/// its lower-triangular Cholesky factor `scale_tril` ([`MultivariateNormal::from_scale_tril`],
/// `covariance = scale_tril scale_tril^T`). Matrices are given as rows. The variance is the
/// diagonal of the covariance.
///
/// # Density
/// `p(x) = exp(-(x - loc)^T covariance^-1 (x - loc) / 2) / sqrt((2 pi)^d det(covariance))` for
/// `x` in `R^d`.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, MultivariateNormal};
///
/// let d = MultivariateNormal::new(vec![0.0, 1.0], &[vec![4.0, 0.0], vec![0.0, 1.0]])?;
/// // Independent coordinates: the sum of two normal log-densities.
/// let ln_2pi = (2.0 * std::f64::consts::PI).ln();
/// let expected = -0.5 * ((2.0_f64 / 2.0).powi(2) + 0.0) - 2.0_f64.ln() - ln_2pi;
/// assert!((d.log_prob(&vec![2.0, 1.0]) - expected).abs() < 1e-14);
/// assert_eq!(d.log_prob(&vec![2.0]), f64::NEG_INFINITY);
/// assert_eq!(d.variance(), Some(vec![4.0, 1.0]));
/// assert!(MultivariateNormal::new(vec![0.0, 0.0], &[vec![1.0, 2.0], vec![2.0, 1.0]]).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MultivariateNormal {
    loc: Vec<f64>,
    /// The Cholesky factor `L`, row-major `d x d` (zero above the diagonal).
    scale_tril: Vec<f64>,
    /// The diagonal of `L L^T`.
    variance: Vec<f64>,
    /// `sum_i ln L_ii + d ln sqrt(2 pi)`: the log-normaliser.
    log_norm: f64,
}

const FAMILY: &str = "MultivariateNormal";

/// Largest accepted asymmetry `|c_ij - c_ji|` of a covariance, relative to `sqrt(c_ii c_jj)`.
const SYMMETRY_TOLERANCE: f64 = 1e-10;

impl MultivariateNormal {
    /// A multivariate normal with mean `loc` (at least one element, all finite) and a symmetric
    /// positive-definite `covariance` with one row and one column per element of `loc`.
    pub fn new(loc: Vec<f64>, covariance: &[Vec<f64>]) -> Result<Self, ParamError> {
        check_loc(&loc)?;
        let d = loc.len();
        check_square("covariance", covariance, d)?;
        for i in 0..d {
            for j in 0..i {
                let (a, b) = (covariance[i][j], covariance[j][i]);
                let scale = (covariance[i][i] * covariance[j][j]).abs().sqrt();
                // Entries are finite, so neither side is NaN.
                if (a - b).abs() > SYMMETRY_TOLERANCE * scale {
                    return Err(ParamError::new(
                        FAMILY,
                        format!("covariance[{i}][{j}]"),
                        a,
                        "must equal the transposed entry (symmetric)",
                    ));
                }
            }
        }
        // Cholesky-Banachiewicz on the lower triangle.
        let mut l = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let dot: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
                let s = covariance[i][j] - dot;
                if i == j {
                    if !(s > 0.0 && s.is_finite()) {
                        return Err(ParamError::new(
                            FAMILY,
                            "covariance",
                            format!("{covariance:?}"),
                            "must be positive definite",
                        ));
                    }
                    l[i * d + i] = s.sqrt();
                } else {
                    l[i * d + j] = s / l[j * d + j];
                }
            }
        }
        let variance = (0..d).map(|i| covariance[i][i]).collect();
        Ok(Self::build(loc, l, variance))
    }

    /// A multivariate normal with mean `loc` and covariance `scale_tril scale_tril^T`, where
    /// `scale_tril` is lower triangular (zero above the diagonal) with a positive diagonal and
    /// one row and one column per element of `loc`.
    pub fn from_scale_tril(loc: Vec<f64>, scale_tril: &[Vec<f64>]) -> Result<Self, ParamError> {
        check_loc(&loc)?;
        let d = loc.len();
        check_square("scale_tril", scale_tril, d)?;
        for (i, row) in scale_tril.iter().enumerate() {
            if row[i] <= 0.0 {
                return Err(ParamError::new(
                    FAMILY,
                    format!("scale_tril[{i}][{i}]"),
                    row[i],
                    "must be finite and > 0 (diagonal)",
                ));
            }
            if let Some(j) = (i + 1..d).find(|&j| row[j] != 0.0) {
                return Err(ParamError::new(
                    FAMILY,
                    format!("scale_tril[{i}][{j}]"),
                    row[j],
                    "must be 0 (lower triangular)",
                ));
            }
        }
        let l: Vec<f64> = scale_tril.iter().flatten().copied().collect();
        let variance = scale_tril
            .iter()
            .map(|row| row.iter().map(|x| x * x).sum())
            .collect();
        Ok(Self::build(loc, l, variance))
    }

    fn build(loc: Vec<f64>, scale_tril: Vec<f64>, variance: Vec<f64>) -> Self {
        let d = loc.len();
        let log_det: f64 = (0..d).map(|i| scale_tril[i * d + i].ln()).sum();
        MultivariateNormal {
            log_norm: log_det + d as f64 * LN_SQRT_2PI,
            loc,
            scale_tril,
            variance,
        }
    }

    /// The mean.
    pub fn loc(&self) -> &[f64] {
        &self.loc
    }

    /// The dimension `d`.
    pub fn dim(&self) -> usize {
        self.loc.len()
    }

    /// The lower-triangular Cholesky factor `L` of the covariance, as rows.
    pub fn scale_tril(&self) -> Vec<Vec<f64>> {
        self.scale_tril
            .chunks(self.dim())
            .map(<[f64]>::to_vec)
            .collect()
    }

    /// The covariance `L L^T`, as rows.
    pub fn covariance(&self) -> Vec<Vec<f64>> {
        let d = self.dim();
        let l = &self.scale_tril;
        (0..d)
            .map(|i| {
                (0..d)
                    .map(|j| (0..=i.min(j)).map(|k| l[i * d + k] * l[j * d + k]).sum())
                    .collect()
            })
            .collect()
    }
}

impl MultivariateNormal {
    /// `|y|^2` for the solution `y` of `L y = f (x - loc)` by forward substitution (the residual
    /// formed as `f x_i - f loc_i`, so that `f = 1/2` cannot overflow).
    fn quadratic_form(&self, x: &[f64], f: f64) -> f64 {
        let d = self.dim();
        let mut y = vec![0.0; d];
        let mut quad = 0.0;
        for i in 0..d {
            let row = &self.scale_tril[i * d..i * d + i];
            let dot: f64 = row.iter().zip(&y).map(|(l, y)| l * y).sum();
            y[i] = (f * x[i] - f * self.loc[i] - dot) / self.scale_tril[i * d + i];
            quad += y[i] * y[i];
        }
        quad
    }
}

fn check_loc(loc: &[f64]) -> Result<(), ParamError> {
    if loc.is_empty() {
        return Err(ParamError::new(
            FAMILY,
            "loc",
            "[]",
            "must have at least 1 element",
        ));
    }
    match loc.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(ParamError::new(
            FAMILY,
            format!("loc[{i}]"),
            loc[i],
            "must be finite",
        )),
        None => Ok(()),
    }
}

/// Checks that `m` is `d x d` with finite entries.
fn check_square(param: &'static str, m: &[Vec<f64>], d: usize) -> Result<(), ParamError> {
    if m.len() != d {
        return Err(ParamError::new(
            FAMILY,
            param,
            format!("{} rows", m.len()),
            "must have one row per element of loc",
        ));
    }
    for (i, row) in m.iter().enumerate() {
        if row.len() != d {
            return Err(ParamError::new(
                FAMILY,
                format!("{param}[{i}]"),
                format!("{} columns", row.len()),
                "must have one column per element of loc",
            ));
        }
        if let Some(j) = row.iter().position(|x| !x.is_finite()) {
            return Err(ParamError::new(
                FAMILY,
                format!("{param}[{i}][{j}]"),
                row[j],
                "must be finite",
            ));
        }
    }
    Ok(())
}

impl Distribution for MultivariateNormal {
    type Value = Vec<f64>;
    type Moment = Vec<f64>;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let d = self.dim();
        let z: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        (0..d)
            .map(|i| {
                let row = &self.scale_tril[i * d..=i * d + i];
                self.loc[i] + row.iter().zip(&z).map(|(l, z)| l * z).sum::<f64>()
            })
            .collect()
    }

    fn log_prob(&self, x: &Vec<f64>) -> f64 {
        let d = self.dim();
        if x.len() != d || !x.iter().all(|xi| xi.is_finite()) {
            return f64::NEG_INFINITY;
        }
        let mut quad = self.quadratic_form(x, 1.0);
        if !quad.is_finite() {
            // An x_i - loc_i or a partial sum overflowed: again on half the residual, which
            // cannot overflow, and four times its quadratic form.
            quad = 4.0 * self.quadratic_form(x, 0.5);
            if quad.is_nan() {
                // Partial sums of the triangular solve overflowed with opposite signs: the
                // solution has a coordinate beyond f64::MAX / 2, and the density underflows.
                return f64::NEG_INFINITY;
            }
        }
        -0.5 * quad - self.log_norm
    }

    fn support(&self) -> Constraint {
        Constraint::RealVector
    }

    fn mean(&self) -> Option<Vec<f64>> {
        Some(self.loc.clone())
    }

    fn variance(&self) -> Option<Vec<f64>> {
        Some(self.variance.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> MultivariateNormal {
        let loc = p.get_reals("loc").unwrap();
        match p.get_matrix("covariance") {
            Some(cov) => MultivariateNormal::new(loc, &cov).unwrap(),
            None => MultivariateNormal::from_scale_tril(loc, &p.get_matrix("scale_tril").unwrap())
                .unwrap(),
        }
    }

    /// Extreme parameters and values against mpmath (issue 11, item 9); see
    /// `testing::check_extreme_values` for the tolerance.
    #[test]
    fn matches_mpmath_at_extremes() {
        testing::check_extreme_values(FAMILY, build);
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        let cov = [
            vec![2.0, 0.5, -0.3],
            vec![0.5, 1.0, 0.2],
            vec![-0.3, 0.2, 0.5],
        ];
        let d = MultivariateNormal::new(vec![1.0, -2.0, 0.0], &cov).unwrap();
        let mut r = testing::rng(1);
        let draws: Vec<Vec<f64>> = (0..testing::MOMENT_DRAWS)
            .map(|_| d.sample(&mut r))
            .collect();
        let (mean, var) = (d.mean().unwrap(), d.variance().unwrap());
        for i in 0..3 {
            let xs: Vec<f64> = draws.iter().map(|x| x[i]).collect();
            testing::check_moments_of(&xs, mean[i], var[i], &format!("coordinate {i}"));
        }
        // The covariance through the variance of sums: Var(x_0 + x_1) = c_00 + c_11 + 2 c_01.
        let sums: Vec<f64> = draws.iter().map(|x| x[0] + x[1]).collect();
        testing::check_moments_of(&sums, -1.0, 2.0 + 1.0 + 2.0 * 0.5, "x_0 + x_1");
        let diffs: Vec<f64> = draws.iter().map(|x| x[0] - x[2]).collect();
        testing::check_moments_of(&diffs, 1.0, 2.0 + 0.5 + 2.0 * 0.3, "x_0 - x_2");
    }

    #[test]
    fn value_stability() {
        let cov = [vec![2.0, 0.5], vec![0.5, 1.0]];
        let d = MultivariateNormal::new(vec![0.0, 1.0], &cov).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &[
                vec![1.180016327157336, 0.8133003707850677],
                vec![1.9908274260325134, 1.9321645970897454],
                vec![1.3486886218407457, 1.5935837795216017],
            ],
        );
    }

    #[test]
    fn both_constructors_agree() {
        let cov = [vec![2.0, 0.5], vec![0.5, 1.0]];
        let a = MultivariateNormal::new(vec![0.0, 1.0], &cov).unwrap();
        let b = MultivariateNormal::from_scale_tril(vec![0.0, 1.0], &a.scale_tril()).unwrap();
        let x = vec![0.3, -0.7];
        assert!((a.log_prob(&x) - b.log_prob(&x)).abs() < 1e-14);
        for (row, expected) in b.covariance().iter().zip(&cov) {
            for (c, e) in row.iter().zip(expected) {
                assert!((c - e).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn edges_and_errors() {
        let cov = [vec![2.0, 0.5], vec![0.5, 1.0]];
        let d = MultivariateNormal::new(vec![0.0, 1.0], &cov).unwrap();
        let ninf = f64::NEG_INFINITY;
        assert_eq!(d.log_prob(&vec![0.0]), ninf);
        assert_eq!(d.log_prob(&vec![0.0, 1.0, 2.0]), ninf);
        assert_eq!(d.log_prob(&vec![]), ninf);
        assert_eq!(d.log_prob(&vec![f64::NAN, 1.0]), ninf);
        assert_eq!(d.log_prob(&vec![0.0, f64::INFINITY]), ninf);
        assert!(d.log_prob(&vec![1e150, -1e150]).is_finite());
        assert_eq!(d.log_prob_value(&Value::Real(0.0)), ninf);
        assert_eq!(d.log_prob_value(&Value::Bools(vec![true, false])), ninf);
        assert_eq!(
            d.log_prob_value(&Value::Ints(vec![0, 1])),
            d.log_prob(&vec![0.0, 1.0])
        );
        assert_eq!(d.dim(), 2);
        // A one-dimensional MVN is a normal.
        let one = MultivariateNormal::new(vec![1.0], &[vec![4.0]]).unwrap();
        let normal = crate::Normal::new(1.0, 2.0).unwrap();
        assert!(
            (one.log_prob(&vec![2.5]) - normal.log_prob(&crate::testing::r(2.5))).abs() < 1e-15
        );

        let e = MultivariateNormal::new(vec![0.0, 0.0], &[vec![1.0, 2.0], vec![2.0, 1.0]]);
        assert_eq!(
            e.unwrap_err().to_string(),
            "MultivariateNormal: invalid parameter covariance = [[1.0, 2.0], [2.0, 1.0]] \
             (must be positive definite)"
        );
        let bad = |cov: &[Vec<f64>]| MultivariateNormal::new(vec![0.0, 0.0], cov).unwrap_err();
        assert_eq!(bad(&[vec![1.0, 0.0]]).param, "covariance");
        assert_eq!(bad(&[vec![1.0, 0.0], vec![0.0]]).param, "covariance[1]");
        assert_eq!(
            bad(&[vec![1.0, 0.0], vec![0.0, f64::NAN]]).param,
            "covariance[1][1]"
        );
        assert_eq!(
            bad(&[vec![1.0, 0.1], vec![0.2, 1.0]]).param,
            "covariance[1][0]"
        );
        assert_eq!(bad(&[vec![0.0, 0.0], vec![0.0, 1.0]]).param, "covariance");
        assert_eq!(bad(&[vec![-1.0, 0.0], vec![0.0, 1.0]]).param, "covariance");
        let cov = [vec![1.0]];
        let e = MultivariateNormal::new(vec![f64::INFINITY], &cov).unwrap_err();
        assert_eq!(e.param, "loc[0]");
        assert_eq!(
            MultivariateNormal::new(vec![], &[]).unwrap_err().param,
            "loc"
        );
        // A rounding-level asymmetry is accepted.
        let c = 0.3 * 1.7 * 0.9;
        assert!(
            MultivariateNormal::new(
                vec![0.0, 0.0],
                &[vec![1.7, c], vec![c * (1.0 + 1e-15), 0.9]]
            )
            .is_ok()
        );

        let tril = |l: &[Vec<f64>]| MultivariateNormal::from_scale_tril(vec![0.0, 0.0], l);
        assert!(tril(&[vec![1.0, 0.0], vec![-3.0, 0.5]]).is_ok());
        let e = tril(&[vec![1.0, 0.0], vec![0.5, -1.0]]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MultivariateNormal: invalid parameter scale_tril[1][1] = -1 \
             (must be finite and > 0 (diagonal))"
        );
        assert_eq!(
            tril(&[vec![1.0, 0.1], vec![0.5, 1.0]]).unwrap_err().param,
            "scale_tril[0][1]"
        );
        assert_eq!(
            tril(&[vec![1.0, 0.0], vec![f64::NAN, 1.0]])
                .unwrap_err()
                .param,
            "scale_tril[1][0]"
        );
        assert_eq!(tril(&[vec![1.0, 0.0]]).unwrap_err().param, "scale_tril");
        assert_eq!(
            tril(&[vec![0.0, 0.0], vec![0.0, 1.0]]).unwrap_err().param,
            "scale_tril[0][0]"
        );
    }

    /// A random lower-triangular factor with a diagonal in [0.1, 10].
    fn tril_strategy() -> impl Strategy<Value = Vec<Vec<f64>>> {
        (1..5_usize).prop_flat_map(|d| {
            prop::collection::vec(prop::collection::vec(-3.0..3.0_f64, d), d).prop_map(move |m| {
                (0..d)
                    .map(|i| {
                        (0..d)
                            .map(|j| match j.cmp(&i) {
                                std::cmp::Ordering::Less => m[i][j],
                                std::cmp::Ordering::Equal => 0.1 + m[i][j].abs() * 3.3,
                                std::cmp::Ordering::Greater => 0.0,
                            })
                            .collect()
                    })
                    .collect()
            })
        })
    }

    proptest! {
        #[test]
        fn finite_inside_support(l in tril_strategy(), x in prop::collection::vec(-1e3..1e3_f64, 4)) {
            let d = l.len();
            let a = MultivariateNormal::from_scale_tril(vec![0.5; d], &l).unwrap();
            let x = x[..d].to_vec();
            prop_assert!(a.log_prob(&x).is_finite());
            // The covariance form agrees with the factor it was built from.
            let b = MultivariateNormal::new(vec![0.5; d], &a.covariance()).unwrap();
            let (la, lb) = (a.log_prob(&x), b.log_prob(&x));
            prop_assert!((la - lb).abs() <= 1e-8 * (1.0 + la.abs()), "{} vs {}", la, lb);
        }

        #[test]
        fn not_positive_definite_errors(l in tril_strategy(), k in 0..4_usize) {
            // Make row k a copy of row 0 in the covariance, so it is singular (or worse).
            let d = l.len();
            prop_assume!(d >= 2);
            let k = 1 + k % (d - 1);
            let mut cov = MultivariateNormal::from_scale_tril(vec![0.0; d], &l).unwrap().covariance();
            let row0 = cov[0].clone();
            cov[k] = row0.clone();
            for (i, row) in cov.iter_mut().enumerate() {
                row[k] = row0[i];
            }
            cov[k][k] = row0[0] * (1.0 - 1e-3);
            prop_assert!(MultivariateNormal::new(vec![0.0; d], &cov).is_err());
        }
    }
}
