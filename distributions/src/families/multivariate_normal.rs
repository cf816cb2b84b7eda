//! The multivariate normal distribution.

use super::normal::LN_SQRT_2PI;
use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::ParamError;
use crate::reparam::detach;
use pyro_tape::{Real, Reals};
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
/// # Gradients
/// The mean `loc` and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// element that is tracked on the tape, `d/dx = -covariance^-1 (x - loc)` and
/// `d/dloc = covariance^-1 (x - loc)` (two triangular solves with the Cholesky factor). The
/// covariance and `scale_tril` are plain `f64` matrices: no gradient flows to them (a model
/// that needs one, e.g. a learned correlation, cannot take it from this family yet).
///
/// [`rsample`](Distribution::rsample) draws `loc + L z` for a vector `z` of standard normals,
/// as `sample` does; its gradient flows to the tracked elements of `loc` only
/// (`d x_i / d loc_j = [i = j]`), as that of `log_prob_real` does: `scale_tril` is not a tape
/// parameter.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, MultivariateNormal, Reals};
/// use pyro_tape::gradient;
///
/// let d = MultivariateNormal::new(vec![0.0, 1.0], &[vec![4.0, 0.0], vec![0.0, 1.0]])?;
/// let x = |v: &[f64]| Reals::from(v);
/// // Independent coordinates: the sum of two normal log-densities.
/// let ln_2pi = (2.0 * std::f64::consts::PI).ln();
/// let expected = -0.5 * ((2.0_f64 / 2.0).powi(2) + 0.0) - 2.0_f64.ln() - ln_2pi;
/// assert!((d.log_prob(&x(&[2.0, 1.0])) - expected).abs() < 1e-14);
/// assert_eq!(d.log_prob(&x(&[2.0])), f64::NEG_INFINITY);
/// assert_eq!(d.variance(), Some(vec![4.0, 1.0]));
/// assert!(MultivariateNormal::new(vec![0.0, 0.0], &[vec![1.0, 2.0], vec![2.0, 1.0]]).is_err());
///
/// // The gradient with respect to the value: -covariance^-1 (x - loc).
/// let (_, g) = gradient(&[2.0, 3.0], |v| {
///     Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&v.iter().copied().collect()))
/// })?;
/// assert_eq!(g, vec![-0.5, -2.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MultivariateNormal {
    loc: Vec<Real>,
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
    /// A multivariate normal with mean `loc` (`f64`s or [`Real`]s: at least one element, all
    /// finite) and a symmetric positive-definite `covariance` with one row and one column per
    /// element of `loc`.
    pub fn new<L: Into<Real>>(
        loc: impl IntoIterator<Item = L>,
        covariance: &[Vec<f64>],
    ) -> Result<Self, ParamError> {
        let loc = reals(loc);
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

    /// A multivariate normal with mean `loc` (`f64`s or [`Real`]s) and covariance
    /// `scale_tril scale_tril^T`, where `scale_tril` is lower triangular (zero above the
    /// diagonal) with a positive diagonal and one row and one column per element of `loc`.
    pub fn from_scale_tril<L: Into<Real>>(
        loc: impl IntoIterator<Item = L>,
        scale_tril: &[Vec<f64>],
    ) -> Result<Self, ParamError> {
        let loc = reals(loc);
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

    fn build(loc: Vec<Real>, scale_tril: Vec<f64>, variance: Vec<f64>) -> Self {
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
    pub fn loc(&self) -> &[Real] {
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
    /// The draw `loc + L z` for a vector `z` of standard normals (drawn first, in order), with
    /// `L z` summed in `f64` and added to each `loc_i` as given: the one formula of `sample`
    /// (on `detach`ed locations) and `rsample` (`d x_i / d loc_i = 1`).
    fn draw<R: Rng + ?Sized>(&self, loc: impl Fn(Real) -> Real, rng: &mut R) -> Reals {
        let d = self.dim();
        let z: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        (0..d)
            .map(|i| {
                let row = &self.scale_tril[i * d..=i * d + i];
                loc(self.loc[i]) + row.iter().zip(&z).map(|(l, z)| l * z).sum::<f64>()
            })
            .collect()
    }

    /// The solution `y` of `L y = f (x - loc)` by forward substitution (the residual formed as
    /// `f x_i - f loc_i`, so that `f = 1/2` cannot overflow), and `|y|^2`.
    fn whiten(&self, x: &[f64], f: f64) -> (Vec<f64>, f64) {
        let d = self.dim();
        let mut y = vec![0.0; d];
        let mut quad = 0.0;
        for i in 0..d {
            let row = &self.scale_tril[i * d..i * d + i];
            let dot: f64 = row.iter().zip(&y).map(|(l, y)| l * y).sum();
            y[i] = (f * x[i] - f * self.loc[i].value() - dot) / self.scale_tril[i * d + i];
            quad += y[i] * y[i];
        }
        (y, quad)
    }

    /// The whitened residual of [`whiten`](Self::whiten) at `f = 1`, or at `f = 1/2` where
    /// that overflows (its quadratic form then times four), with the `f` used.
    fn whiten_scaled(&self, x: &[f64]) -> (Vec<f64>, f64, f64) {
        let (y, quad) = self.whiten(x, 1.0);
        if quad.is_finite() {
            return (y, quad, 1.0);
        }
        // An x_i - loc_i or a partial sum overflowed: again on half the residual, which cannot
        // overflow, and four times its quadratic form.
        let (y, quad) = self.whiten(x, 0.5);
        (y, 4.0 * quad, 0.5)
    }
}

fn reals<L: Into<Real>>(loc: impl IntoIterator<Item = L>) -> Vec<Real> {
    loc.into_iter().map(Into::into).collect()
}

fn check_loc(loc: &[Real]) -> Result<(), ParamError> {
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
            loc[i].value(),
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
    type Value = Reals;
    type Moment = Vec<f64>;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Reals {
        self.draw(detach, rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `loc + L z`: the gradient flows to the tracked elements of `loc` (`d x_i / d loc_i = 1`)
    /// only; `scale_tril` is not a tape parameter.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Reals> {
        Some(self.draw(|loc| loc, rng))
    }

    fn log_prob(&self, x: &Reals) -> f64 {
        let (d, x) = (self.dim(), x.values());
        if x.len() != d || !x.iter().all(|xi| xi.is_finite()) {
            return f64::NEG_INFINITY;
        }
        let (_, quad, _) = self.whiten_scaled(x);
        if quad.is_nan() {
            // Partial sums of the triangular solve overflowed with opposite signs: the solution
            // has a coordinate beyond f64::MAX / 2, and the density underflows.
            return f64::NEG_INFINITY;
        }
        -0.5 * quad - self.log_norm
    }

    /// `d/dloc = covariance^-1 (x - loc) = L^-T y` with `y` the whitened residual
    /// (`L y = x - loc`, as `log_prob` solves it), by back substitution, and `d/dx` its
    /// negative. Where the residual overflows, the solves run on half of it, as in `log_prob`
    /// (the partials are then doubled, and may overflow to infinities).
    fn log_prob_partials<'a>(&'a self, x: &'a Reals, partials: &mut Partials<'a>) {
        if x.is_constant() && self.loc.iter().all(|r| r.is_constant()) {
            return;
        }
        let d = self.dim();
        let (mut z, _, f) = self.whiten_scaled(x.values());
        // L^T z = y, in place: column i of L below the diagonal is row i of L^T.
        for i in (0..d).rev() {
            let dot: f64 = (i + 1..d).map(|k| self.scale_tril[k * d + i] * z[k]).sum();
            z[i] = (z[i] - dot) / self.scale_tril[i * d + i];
        }
        z.iter_mut().for_each(|zi| *zi /= f);
        for (&loc, &score) in self.loc.iter().zip(&z) {
            partials.push(loc, score);
        }
        if !x.is_constant() {
            z.iter_mut().for_each(|zi| *zi = -*zi);
            partials.push_vector(x, z);
        }
    }

    fn support(&self) -> Constraint {
        Constraint::RealVector
    }

    fn mean(&self) -> Option<Vec<f64>> {
        Some(self.loc.iter().map(|m| m.value()).collect())
    }

    fn variance(&self) -> Option<Vec<f64>> {
        Some(self.variance.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, vector};
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
            .map(|_| d.sample(&mut r).iter().map(|x| x.value()).collect())
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
                vector(&[1.180016327157336, 0.8133003707850677]),
                vector(&[1.9908274260325134, 1.9321645970897454]),
                vector(&[1.3486886218407457, 1.5935837795216017]),
            ],
        );
    }

    #[test]
    fn both_constructors_agree() {
        let cov = [vec![2.0, 0.5], vec![0.5, 1.0]];
        let a = MultivariateNormal::new(vec![0.0, 1.0], &cov).unwrap();
        let b = MultivariateNormal::from_scale_tril(vec![0.0, 1.0], &a.scale_tril()).unwrap();
        let x = vector(&[0.3, -0.7]);
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
        assert_eq!(d.log_prob(&vector(&[0.0])), ninf);
        assert_eq!(d.log_prob(&vector(&[0.0, 1.0, 2.0])), ninf);
        assert_eq!(d.log_prob(&vector(&[])), ninf);
        assert_eq!(d.log_prob(&vector(&[f64::NAN, 1.0])), ninf);
        assert_eq!(d.log_prob(&vector(&[0.0, f64::INFINITY])), ninf);
        assert!(d.log_prob(&vector(&[1e150, -1e150])).is_finite());
        assert_eq!(d.log_prob_value(&Value::Real(0.0)), ninf);
        assert_eq!(d.log_prob_value(&Value::Bools(vec![true, false])), ninf);
        assert_eq!(
            d.log_prob_value(&Value::Ints(vec![0, 1])),
            d.log_prob(&vector(&[0.0, 1.0]))
        );
        assert_eq!(d.dim(), 2);
        // A one-dimensional MVN is a normal.
        let one = MultivariateNormal::new(vec![1.0], &[vec![4.0]]).unwrap();
        let normal = crate::Normal::new(1.0, 2.0).unwrap();
        assert!(
            (one.log_prob(&vector(&[2.5])) - normal.log_prob(&crate::testing::r(2.5))).abs()
                < 1e-15
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
            MultivariateNormal::new(Vec::<f64>::new(), &[])
                .unwrap_err()
                .param,
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

    /// `MultivariateNormal::from_scale_tril(loc, tril)` at `x` from inputs
    /// `(x_1, ..., x_d, loc_1, ..., loc_d)`.
    fn mvn_at(tril: &[Vec<f64>]) -> impl Fn(&[Real]) -> (MultivariateNormal, Reals) + '_ {
        move |v| {
            let d = tril.len();
            let dist = MultivariateNormal::from_scale_tril(v[d..].to_vec(), tril).unwrap();
            (dist, v[..d].iter().copied().collect())
        }
    }

    /// The conditional standard deviations `1 / sqrt((covariance^-1)_ii)`, from
    /// `(covariance^-1)_ii = |L^-1 e_i|^2`: the widths of the log-density along each input.
    fn conditional_sds(tril: &[Vec<f64>]) -> Vec<f64> {
        let d = tril.len();
        (0..d)
            .map(|i| {
                let mut w = vec![0.0; d];
                for r in 0..d {
                    let dot: f64 = (0..r).map(|c| tril[r][c] * w[c]).sum();
                    w[r] = (f64::from(u8::from(r == i)) - dot) / tril[r][r];
                }
                1.0 / w.iter().map(|w| w * w).sum::<f64>().sqrt()
            })
            .collect()
    }

    /// Inputs `(x, loc)`. The log-density is quadratic, so central differences have no
    /// truncation error; the scale of each input is the conditional standard deviation along
    /// it (the width of the log-density there, which a nearly singular covariance makes small).
    /// The largest term of the log-density is the quadratic form or the log-normaliser, within
    /// the derivation's `50 max(|f|, 1)` at each point.
    #[test]
    fn gradients_match_finite_differences() {
        let cov2 = vec![vec![2.0, 0.5], vec![0.5, 1.0]];
        let cov3 = vec![
            vec![2.0, 0.5, -0.3],
            vec![0.5, 1.0, 0.2],
            vec![-0.3, 0.2, 0.5],
        ];
        let tril = |cov: &[Vec<f64>]| {
            MultivariateNormal::new(vec![0.0; cov.len()], cov)
                .unwrap()
                .scale_tril()
        };
        // (scale_tril, x, loc)
        type Case = (Vec<Vec<f64>>, Vec<f64>, Vec<f64>);
        let cases: Vec<Case> = vec![
            (tril(&cov2), vec![0.3, -0.7], vec![0.0, 1.0]),
            (tril(&cov3), vec![1.0, -2.0, 0.5], vec![0.5, -1.0, 0.0]),
            (vec![vec![2.0]], vec![2.5], vec![1.0]),
            // Far in the tail, and at the mean.
            (tril(&cov2), vec![1e3, -1e3], vec![0.0, 0.0]),
            (tril(&cov3), vec![0.5, -1.0, 0.0], vec![0.5, -1.0, 0.0]),
            // Large locations (the residual formed exactly), a nearly singular covariance,
            // tiny and large scales.
            (
                tril(&cov2),
                vec![1e10 + 1.0, -1e10 + 2.0],
                vec![1e10, -1e10],
            ),
            (
                tril(&[vec![1.0, 0.999], vec![0.999, 1.0]]),
                vec![0.5, 0.4],
                vec![0.0, 0.0],
            ),
            (
                vec![vec![1e-6, 0.0], vec![-3e-6, 2e-6]],
                vec![1e-6, 2e-6],
                vec![-1e-6, 0.0],
            ),
            (
                vec![vec![1e3, 0.0], vec![-2e3, 0.5]],
                vec![300.0, -1e3],
                vec![0.0, 0.0],
            ),
            (
                vec![
                    vec![1.5, 0.0, 0.0, 0.0],
                    vec![0.3, 0.8, 0.0, 0.0],
                    vec![-0.7, 0.2, 2.0, 0.0],
                    vec![0.1, -0.4, 0.6, 0.3],
                ],
                vec![0.2, -1.1, 2.3, 0.4],
                vec![-0.5, 0.0, 1.0, 0.9],
            ),
        ];
        for (tril, x, loc) in &cases {
            let sds = conditional_sds(tril);
            let scales: Vec<f64> = sds.iter().chain(&sds).copied().collect();
            let point: Vec<f64> = x.iter().chain(loc).copied().collect();
            let (d, value) = mvn_at(tril)(&testing::rs(&point));
            let f = d.log_prob(&value);
            let half_quad = -(f + d.log_norm);
            let largest_term = half_quad.max(d.log_norm.abs());
            assert!(largest_term <= 50.0 * f.abs().max(1.0), "{point:?}: {f}");
            testing::check_log_prob_gradient(mvn_at(tril), &point, &scales);
        }
        // Through the covariance constructor too.
        let at = |v: &[Real]| {
            let dist = MultivariateNormal::new(v[3..].to_vec(), &cov3).unwrap();
            (dist, v[..3].iter().copied().collect::<Reals>())
        };
        let sds = conditional_sds(&tril(&cov3));
        let scales: Vec<f64> = sds.iter().chain(&sds).copied().collect();
        testing::check_log_prob_gradient(at, &[1.0, -2.0, 0.5, 0.5, -1.0, 0.0], &scales);
    }

    #[test]
    fn gradient_closed_forms() {
        // covariance^-1 = [[1, -0.5], [-0.5, 2]] / 1.75; at x - loc = (1, -1) the score
        // covariance^-1 (x - loc) is (1.5, -2.5) / 1.75.
        let tril2 = MultivariateNormal::new(vec![0.0, 0.0], &[vec![2.0, 0.5], vec![0.5, 1.0]])
            .unwrap()
            .scale_tril();
        let g = testing::log_prob_gradient(mvn_at(&tril2), &[1.5, 0.0, 0.5, 1.0]);
        let want = [-1.5 / 1.75, 2.5 / 1.75, 1.5 / 1.75, -2.5 / 1.75];
        for (g, w) in g.iter().zip(want) {
            assert!((g - w).abs() <= 4.0 * f64::EPSILON * w.abs(), "{g} vs {w}");
        }
        // One dimension: the normal family's partials, (x - loc) / scale^2.
        let g = testing::log_prob_gradient(mvn_at(&[vec![2.0]]), &[2.5, 1.0]);
        assert_eq!(g, vec![-0.375, 0.375]);
        // Where x - loc overflows (the half residual is solved): -(x - loc) / scale^2 =
        // -3e308 / 1e616.
        let g = testing::log_prob_gradient(mvn_at(&[vec![1e308]]), &[1.5e308, -1.5e308]);
        assert!((g[0] + 3e-308).abs() <= 1e-323 && g[1] == -g[0], "{g:?}");
        // Only what is tracked gets a partial: a constant location, a tracked value.
        let d = MultivariateNormal::new(vec![0.0, 1.0], &[vec![4.0, 0.0], vec![0.0, 1.0]]).unwrap();
        let (_, g) = pyro_tape::gradient(&[2.0, 3.0], |v| {
            Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&v.iter().copied().collect()))
        })
        .unwrap();
        assert_eq!(g, vec![-0.5, -2.0]);
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
            let x = vector(&x[..d]);
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

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // The location's elements as inputs (the covariance is not a tape parameter): the draw
        // is loc + L z, whose Jacobian in loc is the identity.
        let cov = [
            vec![2.0, 0.3, -0.3],
            vec![0.3, 1.0, 0.2],
            vec![-0.3, 0.2, 0.5],
        ];
        let build = |v: &[Real]| MultivariateNormal::new(v.to_vec(), &cov).unwrap();
        testing::check_rsample(build, &[1.0, -2.0, 0.0], &[Some(2.0); 3]);
        let (_, j) = testing::rsample_jacobian(build, &[1.0, -2.0, 0.0], 4);
        assert_eq!(
            j,
            vec![
                vec![1.0, 0.0, 0.0],
                vec![0.0, 1.0, 0.0],
                vec![0.0, 0.0, 1.0]
            ]
        );
    }
}
