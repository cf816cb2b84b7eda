//! The normal (Gaussian) distribution.

use crate::batched::{Batched, Location, located_real_by_partials};
use crate::constraint::Constraint;
use crate::distribution::{Cdf, Distribution, Partials};
use crate::error::{self, ParamError};
use crate::reparam::detach;
use crate::special::{ln_shared, standardise};
use pyro_tape::{Real, Reals, sum_in_lanes};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

/// `ln(sqrt(2 pi))`.
pub(crate) const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The normal distribution `Normal(loc, scale)` with mean `loc` and standard deviation `scale`.
///
/// # Density
/// `p(x) = exp(-(x - loc)^2 / (2 scale^2)) / (scale sqrt(2 pi))` on the real line.
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape.
///
/// # Example
/// ```
/// use pyro_distributions::{Distribution, Normal, Real};
///
/// let d = Normal::new(8.5, 1.0)?;
/// assert!((d.log_prob(&Real::from(8.5)) + 0.918_938_533_204_672_8).abs() < 1e-15);
/// assert!(Normal::new(0.0, 0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normal {
    loc: Real,
    scale: Real,
}

const FAMILY: &str = "Normal";

impl Normal {
    /// A normal distribution; `loc` must be finite and `scale` finite and `> 0`.
    pub fn new(loc: impl Into<Real>, scale: impl Into<Real>) -> Result<Self, ParamError> {
        let (loc, scale) = (loc.into(), scale.into());
        error::finite(FAMILY, "loc", loc.value())?;
        error::positive(FAMILY, "scale", scale.value())?;
        Ok(Normal { loc, scale })
    }

    /// The mean.
    pub fn loc(&self) -> Real {
        self.loc
    }

    /// The standard deviation.
    pub fn scale(&self) -> Real {
        self.scale
    }

    /// One vectorised site of independent `Normal(loc_i, scale)` draws, one per location, all
    /// sharing `scale`: Pyro's `Normal(loc_tensor, scale)`, a regression's likelihood. The
    /// locations are a [`Reals`] (`a + b * &xs` for scalars `a`, `b` and data `xs`), or plain
    /// data (`Vec<f64>`, `&[f64]`). The same distribution as
    /// `Batched::try_from_fn(n, |i| Normal::new(locs[i], scale))`, built with one check of the
    /// scale and one pass over the locations; its gradient is recorded as one node with one
    /// edge per input (the locations, the values, the scale), whatever the length. Errors name
    /// the first non-finite location (`loc[3]`), an invalid `scale`, or an empty `locs`.
    ///
    /// ```
    /// use pyro_distributions::{Batched, Distribution, Normal, Real};
    ///
    /// // y_i ~ Normal(1 + 2 x_i, 0.5) for x = 0, 0.5, 1.
    /// let xs = vec![0.0, 0.5, 1.0];
    /// let (a, b) = (Real::from(1.0), Real::from(2.0));
    /// let d = Normal::batch(a + b * &xs, 0.5)?;
    /// let same = Batched::try_from_fn(3, |i| Normal::new(1.0 + 2.0 * xs[i], 0.5))?;
    /// assert_eq!(d, same);
    /// assert_eq!(Normal::batch(vec![0.0, f64::NAN], 1.0).unwrap_err().param, "loc[1]");
    /// # Ok::<(), pyro_distributions::ParamError>(())
    /// ```
    pub fn batch(
        locs: impl Into<Reals>,
        scale: impl Into<Real>,
    ) -> Result<Batched<Normal>, ParamError> {
        Batched::located(Normal::new(0.0, scale)?, locs)
    }

    /// The log-density at `x` (`-inf` unless `x` is finite) and the standardised value
    /// `z = (x - loc) / scale`: the one formula of `log_prob` and `log_prob_real`. `ln(scale)`
    /// is remembered from the last site with the same scale.
    #[inline]
    fn score(&self, x: f64) -> (f64, f64) {
        let scale = self.scale.value();
        // (x - loc) / scale, also where x - loc overflows but the quotient does not.
        let z = standardise(x, self.loc.value(), scale);
        if !x.is_finite() {
            return (f64::NEG_INFINITY, z);
        }
        (-0.5 * z * z - ln_shared(scale) - LN_SQRT_2PI, z)
    }

    /// The partials of the log-density at `x` with respect to `x`, `loc` and `scale`, from
    /// `z = (x - loc) / scale`.
    #[inline]
    fn partials(&self, x: Real, z: f64) -> [(Real, f64); 3] {
        let scale = self.scale.value();
        [
            (x, -z / scale),
            (self.loc, z / scale),
            (self.scale, (z * z - 1.0) / scale),
        ]
    }

    /// The summed log-density of values `x_i` under `Normal(loc_i, scale)` for the
    /// `(loc_i, x_i)` of `pairs`: the squared standardised residuals are summed first and the
    /// constant terms added once, so `ln(scale)` is taken once. Equals the sum of the elements'
    /// `log_prob` up to rounding.
    fn log_prob_shared_scale(
        scale: f64,
        pairs: impl ExactSizeIterator<Item = (f64, f64)> + Clone,
    ) -> f64 {
        let n = pairs.len() as f64;
        let mut sum_sq = sum_sq_residuals(scale, pairs.clone());
        if sum_sq == f64::INFINITY {
            // Some x - loc overflowed (or a value is infinite, or z^2 overflows): again, with the
            // careful standardisation, which is finite wherever z is.
            sum_sq = pairs
                .map(|(loc, x)| {
                    let z = standardise(x, loc, scale);
                    z * z
                })
                .sum();
        }
        // The locations and the scale are finite, so a NaN comes from a NaN value, which scores
        // -inf as it does alone (an infinite value already makes the sum +inf).
        if sum_sq.is_nan() {
            return f64::NEG_INFINITY;
        }
        shared_scale_density(scale, n, sum_sq)
    }
}

/// The sum of `z_i^2` over the standardised residuals `z_i = (x_i - loc_i) / scale` of the
/// `(loc_i, x_i)` of `pairs`: the one sum of a shared-scale batch's log-density, whether its
/// gradient is taken or not.
#[inline]
fn sum_sq_residuals(scale: f64, pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    sum_sq_in_lanes(pairs.map(|(loc, x)| (x - loc) / scale))
}

/// `sum_i z_i^2`, in the tape's lanes ([`sum_in_lanes`]).
#[inline]
fn sum_sq_in_lanes(zs: impl Iterator<Item = f64>) -> f64 {
    sum_in_lanes(zs.map(|z| z * z))
}

/// The log-density of `n` draws sharing `scale` whose squared standardised residuals sum to
/// `sum_sq`.
#[inline]
fn shared_scale_density(scale: f64, n: f64, sum_sq: f64) -> f64 {
    -0.5 * sum_sq - n * (ln_shared(scale) + LN_SQRT_2PI)
}

/// The scale every element of `dists` has, the same [`Real`] (the same value, and the same tape
/// slot if tracked); `None` if they differ or there is no element.
fn shared_scale(dists: &[Normal]) -> Option<Real> {
    let scale = dists.first()?.scale;
    // A fold without early exit, which the compiler vectorises.
    let shared = dists
        .iter()
        .fold(true, |same, d| same & d.scale.is_identical(scale));
    shared.then_some(scale)
}

/// Pushes the partial of a batch's log-density with respect to its shared scale,
/// `sum_i (z_i^2 - 1) / scale`, from `d_loc[i] = z_i / scale` (`z_i = d_loc[i] scale`).
fn push_shared_scale(scale: Real, d_loc: &[f64], partials: &mut Partials<'_>) {
    if !scale.is_constant() {
        let s = scale.value();
        let sum_sq = sum_sq_in_lanes(d_loc.iter().map(|d| d * s));
        partials.push(scale, (sum_sq - d_loc.len() as f64) / s);
    }
}

impl Distribution for Normal {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        Normal::draw(detach(self.loc), detach(self.scale), rng)
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// `loc + scale z`: `d/dloc = 1`, `d/dscale = z`.
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
        Some(Normal::draw(self.loc, self.scale, rng))
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        self.score(x.value()).0
    }

    /// `d/dx = -z / scale`, `d/dloc = z / scale`, `d/dscale = (z^2 - 1) / scale` with
    /// `z = (x - loc) / scale`.
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.loc.is_constant() && self.scale.is_constant() {
            return;
        }
        let z = standardise(x.value(), self.loc.value(), self.scale.value());
        for (input, partial) in self.partials(*x, z) {
            partials.push(input, partial);
        }
    }

    /// The log-density and its partials from one standardisation, recorded as one node.
    #[inline]
    fn log_prob_real(&self, x: &Real) -> Real {
        let (lp, z) = self.score(x.value());
        if !lp.is_finite() {
            return Real::constant(lp);
        }
        Real::record(lp, &self.partials(*x, z))
    }

    /// `ln(scale)` once for all the draws: the squared standardised residuals are summed first
    /// and the constant terms added once.
    fn log_prob_iid(&self, values: &Reals) -> f64 {
        let loc = self.loc.value();
        Normal::log_prob_shared_scale(
            self.scale.value(),
            values.values().iter().map(|&x| (loc, x)),
        )
    }

    /// When every element shares the scale (a regression's noise), as
    /// [`log_prob_iid`](Distribution::log_prob_iid) does; else element by element.
    fn log_prob_batch(dists: &[Normal], values: &Reals) -> f64 {
        let values = values.values();
        let Some(scale) = shared_scale(dists) else {
            return dists
                .iter()
                .zip(values)
                .map(|(d, &x)| d.log_prob(&Real::constant(x)))
                .sum();
        };
        Normal::log_prob_shared_scale(
            scale.value(),
            dists.iter().zip(values).map(|(d, &x)| (d.loc.value(), x)),
        )
    }

    /// The partials summed over the draws for the location and the scale, and the value's as
    /// one vector.
    fn log_prob_iid_partials<'a>(&'a self, values: &'a Reals, partials: &mut Partials<'a>) {
        let (loc, scale) = (self.loc, self.scale);
        if values.is_constant() && loc.is_constant() && scale.is_constant() {
            return;
        }
        let d_loc = location_scores(scale, values, std::iter::repeat(loc.value()));
        push_shared_scale(scale, &d_loc, partials);
        partials.push(loc, d_loc.iter().sum());
        push_values(values, &d_loc, partials);
    }

    fn support(&self) -> Constraint {
        Constraint::Real
    }

    fn mean(&self) -> Option<f64> {
        Some(self.loc.value())
    }

    fn variance(&self) -> Option<f64> {
        let scale = self.scale.value();
        Some(scale * scale)
    }
}

/// The batch of `Normal(locs[i], scale)`, scored in one pass (`ln(scale)` taken once) with its
/// gradient as one vector edge for the locations, one for the values, and the scale's summed.
impl Location for Normal {
    fn loc(&self) -> Real {
        self.loc
    }

    fn at(&self, loc: Real) -> Normal {
        Normal {
            loc,
            scale: self.scale,
        }
    }

    fn log_prob_located(&self, locs: &Reals, values: &Reals) -> f64 {
        let pairs = locs
            .values()
            .iter()
            .copied()
            .zip(values.values().iter().copied());
        Normal::log_prob_shared_scale(self.scale.value(), pairs)
    }

    fn log_prob_located_partials<'a>(
        &'a self,
        locs: &'a Reals,
        values: &'a Reals,
        partials: &mut Partials<'a>,
    ) {
        let scale = self.scale;
        if values.is_constant() && locs.is_constant() && scale.is_constant() {
            return;
        }
        let d_loc = location_scores(scale, values, locs.values().iter().copied());
        push_shared_scale(scale, &d_loc, partials);
        push_located(locs, values, d_loc, partials);
    }

    /// The log-density and its partials in one pass over the batch: `d/dloc_i = z_i / scale`,
    /// `d/dx_i = -z_i / scale`, `d/dscale = (sum_i z_i^2 - n) / scale`, one node whatever the
    /// length. Where a residual overflowed or a value is not finite, the careful formulas of
    /// the trait's default.
    fn log_prob_located_real(&self, locs: &Reals, values: &Reals) -> Real {
        let scale = self.scale;
        if values.is_constant() && locs.is_constant() && scale.is_constant() {
            return Real::constant(self.log_prob_located(locs, values));
        }
        let s = scale.value();
        // z_i, then d/dloc_i = z_i / scale in place: passes without a branch, which vectorise.
        let mut d_loc: Vec<f64> = (locs.values().iter().zip(values.values()))
            .map(|(loc, x)| (x - loc) / s)
            .collect();
        let sum_sq = sum_sq_in_lanes(d_loc.iter().copied());
        d_loc.iter_mut().for_each(|z| *z /= s);
        if !sum_sq.is_finite() {
            return located_real_by_partials(self, locs, values);
        }
        let n = d_loc.len() as f64;
        let mut partials = Partials::new();
        // The scale's partial from the sum already taken.
        partials.push(scale, (sum_sq - n) / s);
        push_located(locs, values, d_loc, &mut partials);
        partials.record(shared_scale_density(s, n, sum_sq))
    }
}

/// `d/dloc_i = z_i / scale` with `z_i = (x_i - loc_i) / scale`, for the values `x_i` of `values`
/// and the locations of `locs`: in one pass without a branch, which the compiler vectorises,
/// and again with the careful standardisation where a difference overflowed.
fn location_scores(
    scale: Real,
    values: &Reals,
    locs: impl Iterator<Item = f64> + Clone,
) -> Vec<f64> {
    let s = scale.value();
    let inv = 1.0 / s;
    let xs = values.values();
    let scores: Vec<f64> = xs
        .iter()
        .zip(locs.clone())
        .map(|(&x, loc)| (x - loc) * inv * inv)
        .collect();
    if scores.iter().fold(true, |ok, d| ok & d.is_finite()) {
        return scores;
    }
    xs.iter()
        .zip(locs)
        .map(|(&x, loc)| standardise(x, loc, s) / s)
        .collect()
}

/// Pushes the partials of a located batch with respect to its values (`-d_loc[i]`) and its
/// locations (`d_loc[i] = z_i / scale`), those that are tracked.
fn push_located<'a>(
    locs: &'a Reals,
    values: &'a Reals,
    d_loc: Vec<f64>,
    partials: &mut Partials<'a>,
) {
    push_values(values, &d_loc, partials);
    if !locs.is_constant() {
        partials.push_vector(locs, d_loc);
    }
}

/// Pushes the partials with respect to a batch's values, `-z_i / scale = -d_loc[i]`, when they
/// are tracked.
fn push_values<'a>(values: &'a Reals, d_loc: &[f64], partials: &mut Partials<'a>) {
    if !values.is_constant() {
        partials.push_vector(values, d_loc.iter().map(|d| -d).collect());
    }
}

impl Cdf for Normal {
    fn cdf(&self, x: f64) -> f64 {
        // Standardised first: scale sqrt(2) may overflow, and inf / inf is NaN.
        let z = standardise(x, self.loc.value(), self.scale.value());
        0.5 * libm::erfc(-z * std::f64::consts::FRAC_1_SQRT_2)
    }
}

impl Normal {
    /// The draw `loc + scale z` for a standard normal `z`: the one formula of `sample` (on the
    /// parameters' values) and `rsample` (on the parameters, so that `d/dloc = 1` and
    /// `d/dscale = z`).
    #[inline]
    fn draw<R: Rng + ?Sized>(loc: Real, scale: Real, rng: &mut R) -> Real {
        let z: f64 = rng.sample(StandardNormal);
        loc + scale * z
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, r, rs, vector};
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Normal {
        Normal::new(p.real("loc"), p.real("scale")).unwrap()
    }

    /// Extreme parameters and values against mpmath (issue 11, item 9); see
    /// `testing::check_extreme_values` for the tolerance.
    #[test]
    fn matches_mpmath_at_extremes() {
        testing::check_extreme_values(FAMILY, build);
    }

    #[test]
    fn matches_scipy() {
        testing::check_continuous_reference(FAMILY, build);
    }

    #[test]
    fn sample_moments() {
        testing::check_sample_moments(&Normal::new(-2.0, 3.0).unwrap(), 1);
    }

    #[test]
    fn kolmogorov_smirnov() {
        testing::ks_test(&Normal::new(1.0, 0.5).unwrap(), 2);
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        let d = Normal::new(1.0, 2.0).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &rs(&[2.6687950936875917, -0.029925856294590103, 3.8154551462395]),
        );
    }

    #[test]
    fn batch_scores_equal_the_element_sums() {
        use crate::Batched;
        let xs = rs(&[0.3, -1.0, 2.5, f64::NAN]);
        let first3 = vector(&[0.3, -1.0, 2.5]);
        let d = Normal::new(0.5, 2.0).unwrap();
        let by_element: f64 = xs[..3].iter().map(|x| d.log_prob(x)).sum();
        // Summed in another order: equal up to a few roundings of terms of size ~3.
        assert!((d.log_prob_iid(&first3) - by_element).abs() < 1e-14);
        assert_eq!(d.log_prob_iid(&vector(&[0.3, f64::NAN])), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_iid(&vector(&[0.0, f64::INFINITY])),
            f64::NEG_INFINITY
        );
        let shared: Vec<Normal> = [0.0, 1.0, -2.0]
            .iter()
            .map(|&m| Normal::new(m, 0.7).unwrap())
            .collect();
        let by_element: f64 = shared.iter().zip(&xs).map(|(d, x)| d.log_prob(x)).sum();
        assert!((Normal::log_prob_batch(&shared, &first3) - by_element).abs() < 1e-14);
        let last3 = vector(&[-1.0, 2.5, f64::NAN]);
        assert_eq!(Normal::log_prob_batch(&shared, &last3), f64::NEG_INFINITY);
        let dists: Vec<Normal> = [(0.0, 1.0), (1.0, 1.0), (2.0, 3.0)]
            .iter()
            .map(|&(m, s)| Normal::new(m, s).unwrap())
            .collect();
        let by_element: f64 = dists.iter().zip(&xs).map(|(d, x)| d.log_prob(x)).sum();
        assert_eq!(Normal::log_prob_batch(&dists, &first3), by_element);
        let b = Batched::per_element(dists).unwrap();
        assert_eq!(b.log_prob(&first3), by_element);
    }

    #[test]
    fn a_batch_equals_its_elements_built_one_by_one() {
        let locs = [0.5, -1.0, 3.25, 0.0];
        let batch = Normal::batch(&locs[..], 0.7).unwrap();
        let one_by_one = Batched::try_from_fn(4, |i| Normal::new(locs[i], 0.7)).unwrap();
        assert_eq!(batch, one_by_one);
        let err = Normal::batch(vec![0.0, 1.0, f64::INFINITY, f64::NAN], 1.0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Normal: invalid parameter loc[2] = inf (must be finite)"
        );
        let err = Normal::batch(&locs[..], -0.5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Normal: invalid parameter scale = -0.5 (must be finite and > 0)"
        );
        assert_eq!(Normal::batch(Vec::new(), 1.0).unwrap_err().param, "len");
    }

    #[test]
    fn edges_and_errors() {
        let d = Normal::new(0.0, 1.0).unwrap();
        assert_eq!(d.log_prob(&r(f64::INFINITY)), f64::NEG_INFINITY);
        assert_eq!(d.log_prob(&r(f64::NAN)), f64::NEG_INFINITY);
        let e = Normal::new(0.0, -1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Normal: invalid parameter scale = -1 (must be finite and > 0)"
        );
        assert_eq!(Normal::new(f64::NAN, 1.0).unwrap_err().param, "loc");
        assert_eq!(Normal::new(0.0, f64::INFINITY).unwrap_err().param, "scale");
    }

    fn normal_at(v: &[Real]) -> (Normal, Real) {
        (Normal::new(v[1], v[2]).unwrap(), v[0])
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, loc, scale); the scale's length is the distance to 0.
        for &(x, loc, scale) in &[
            (0.3, 0.0, 1.0),
            (-2.5, 1.0, 0.5),
            (40.0, -3.0, 7.0),
            (1e-3, 1e-3, 1e-3),
            (1e4, -1e4, 3e3),
            (0.0, 0.0, 1e-6),
        ] {
            let s = scale;
            testing::check_log_prob_gradient(normal_at, &[x, loc, scale], &[s, s, s]);
        }
        // Closed form at the mode: d/dscale = -1 / scale.
        let (_, g) = pyro_tape::gradient(&[2.0, 2.0, 4.0], |v| {
            let (d, x) = normal_at(v);
            Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&x))
        })
        .unwrap();
        assert_eq!(g, vec![0.0, 0.0, -0.25]);
    }

    /// A normal whose gradients are off: its log-density's partials times `1 + partial`, its
    /// reparameterised draw's gradient times `1 + grad` and the draw itself times `1 + draw`,
    /// for the tests that show the checks catch such errors.
    #[derive(Clone, Debug)]
    struct Off {
        normal: Normal,
        partial: f64,
        grad: f64,
        draw: f64,
    }

    impl Off {
        fn new(normal: Normal) -> Self {
            Off {
                normal,
                partial: 0.0,
                grad: 0.0,
                draw: 0.0,
            }
        }
    }

    impl Distribution for Off {
        type Value = Real;
        type Moment = f64;
        fn family(&self) -> &'static str {
            "Off"
        }
        fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
            self.normal.sample(rng)
        }
        fn log_prob(&self, x: &Real) -> f64 {
            self.normal.log_prob(x)
        }
        fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
            let mut inner = Partials::new();
            self.normal.log_prob_partials(x, &mut inner);
            for (input, d) in inner.scalars {
                partials.push(input, d * (1.0 + self.partial));
            }
        }
        fn support(&self) -> Constraint {
            Constraint::Real
        }
        fn mean(&self) -> Option<f64> {
            None
        }
        fn variance(&self) -> Option<f64> {
            None
        }
        fn has_rsample(&self) -> bool {
            true
        }
        fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Real> {
            let x = self.normal.rsample(rng)?;
            Some(Real::record(
                x.value() * (1.0 + self.draw),
                &[(x, 1.0 + self.grad)],
            ))
        }
    }

    /// The check is tight enough to catch a partial wrong by one part in a million.
    #[test]
    fn a_wrong_partial_fails() {
        let off = |v: &[Real]| {
            let (d, x) = normal_at(v);
            let off = Off {
                partial: 1e-6,
                ..Off::new(d)
            };
            (off, x)
        };
        assert!(testing::log_prob_gradient_error(&off, &[0.3, 0.0, 1.0], &[1.0; 3]).is_err());
        assert!(testing::log_prob_gradient_error(&normal_at, &[0.3, 0.0, 1.0], &[1.0; 3]).is_ok());
    }

    #[test]
    fn a_batch_records_one_node_with_every_partial() {
        let (lp, g) = pyro_tape::gradient(&[1.0, 2.0, 0.5], |v| {
            let (a, b, sigma) = (v[0], v[1], v[2]);
            let xs = vec![0.0, 0.5, 1.0];
            let d = Normal::batch(a + b * &xs, sigma).unwrap();
            Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&vector(&[1.1, 2.0, 2.9])))
        })
        .unwrap();
        let (mut want, mut want_g) = (0.0, [0.0; 3]);
        for (x, y) in [(0.0, 1.1), (0.5, 2.0), (1.0, 2.9)] {
            let z: f64 = (y - 1.0 - 2.0 * x) / 0.5;
            want += -0.5 * z * z - 0.5_f64.ln() - LN_SQRT_2PI;
            want_g[0] += z / 0.5;
            want_g[1] += z / 0.5 * x;
            want_g[2] += (z * z - 1.0) / 0.5;
        }
        assert!((lp - want).abs() < 1e-14);
        for i in 0..3 {
            assert!((g[i] - want_g[i]).abs() < 1e-13, "{g:?} vs {want_g:?}");
        }
    }

    /// The one-pass score of a located batch (`Location::log_prob_located_real`) is the value
    /// `log_prob` gives, bit for bit, and the gradient of the element-by-element partials; where
    /// a residual overflows it falls back to the careful formulas, and a NaN value scores -inf.
    #[test]
    fn the_one_pass_batch_score_is_log_prob_with_the_partials_gradient() {
        let cases: [(&[f64], &[f64]); 3] = [
            (&[0.5, -1.0, 3.25, 0.0, 2.0], &[0.4, -0.2, 3.0, 1.5, 2.5]),
            (&[1e300, -1e300, 0.0], &[-1e300, 1e300, 0.5]),
            (&[0.0, 1.0], &[0.5, f64::NAN]),
        ];
        for (locs, values) in cases {
            let n = locs.len();
            let point: Vec<f64> = locs.iter().chain(values).copied().chain([0.7]).collect();
            // The fused path, and the trait's default (the partials of log_prob_located_partials).
            let run = |fused: bool| {
                pyro_tape::gradient(&point, |v| {
                    let locs: Reals = v[..n].iter().copied().collect();
                    let values: Reals = v[n..2 * n].iter().copied().collect();
                    let d = Normal::new(0.0, v[2 * n]).unwrap();
                    Ok::<_, pyro_tape::TapeError>(if fused {
                        d.log_prob_located_real(&locs, &values)
                    } else {
                        located_real_by_partials(&d, &locs, &values)
                    })
                })
                .unwrap()
            };
            let ((lp, grad), (want_lp, want_grad)) = (run(true), run(false));
            let d = Normal::new(0.0, 0.7).unwrap();
            let plain =
                d.log_prob_located(&Reals::from(locs.to_vec()), &Reals::from(values.to_vec()));
            assert_eq!(lp.to_bits(), plain.to_bits(), "{locs:?}");
            assert_eq!(lp.to_bits(), want_lp.to_bits(), "{locs:?}");
            for (g, w) in grad.iter().zip(&want_grad) {
                assert!(
                    (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{grad:?} vs {want_grad:?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn finite_inside_support(loc in -1e6..1e6_f64, scale in 1e-6..1e6_f64, x in -1e6..1e6_f64) {
            let d = Normal::new(loc, scale).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
        }

        #[test]
        fn invalid_scale_errors(scale in -1e6..=0.0_f64) {
            prop_assert!(Normal::new(0.0, scale).is_err());
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        // Inputs (loc, scale); the draw varies over the larger of |loc| and scale.
        for &(loc, scale) in &[(0.5_f64, 2.0), (-3.0, 0.1), (1e3, 7.0), (0.0, 1e-6)] {
            let s = Some(f64::max(loc.abs(), scale));
            testing::check_rsample(|v| Normal::new(v[0], v[1]).unwrap(), &[loc, scale], &[s, s]);
        }
        // Closed form: d/dloc = 1 and d/dscale = z = (x - loc) / scale (to its rounding).
        let (x, j) =
            testing::rsample_jacobian(|v| Normal::new(v[0], v[1]).unwrap(), &[1.0, 2.0], 3);
        assert_eq!(j[0][0], 1.0);
        assert!((j[0][1] - (x[0] - 1.0) / 2.0).abs() < 1e-15 * j[0][1].abs().max(1.0));
    }

    /// The rsample check fails a gradient wrong by one part in a million, and a draw that is
    /// not `sample`'s.
    #[test]
    fn a_wrong_rsample_gradient_fails() {
        let off = |grad: f64, draw: f64| {
            move |p: &[Real]| Off {
                grad,
                draw,
                ..Off::new(Normal::new(p[0], p[1]).unwrap())
            }
        };
        let scales = [Some(1.0); 2];
        assert!(testing::rsample_error(&off(1e-6, 0.0), &[0.3, 1.0], &scales).is_err());
        assert!(testing::rsample_error(&off(0.0, 1e-15), &[0.3, 1.0], &scales).is_err());
        assert!(testing::rsample_error(&off(0.0, 0.0), &[0.3, 1.0], &scales).is_ok());
    }
}
