//! The Dirichlet distribution.

use crate::constraint::{Constraint, is_simplex_iter};
use crate::distribution::{Distribution, Partials};
use crate::error::ParamError;
use crate::implicit::{LogGamma, dirichlet_draw};
use crate::reparam::detach;
use crate::special::{HALF_LN_2PI, shape_score, stirling_corr};
use pyro_tape::{Real, Reals};
use rand::Rng;

/// The Dirichlet distribution `Dirichlet(concentration)` over the probability simplex: vectors
/// of `K >= 2` non-negative reals summing to one.
///
/// # Density
/// `p(x) = Gamma(a_0) / prod_i Gamma(a_i) * prod_i x_i^(a_i - 1)` for `x` on the simplex
/// (non-negative, summing to one within [`SIMPLEX_TOLERANCE`](crate::SIMPLEX_TOLERANCE)), with
/// `a = concentration` and `a_0 = sum_i a_i`.
///
/// A zero coordinate follows the limit of the density: its factor is 1 where `a_i = 1`, 0 where
/// `a_i > 1` (so `log_prob` is `-inf`) and infinite where `a_i < 1` (`log_prob` is `+inf`,
/// unless another zero coordinate makes it `-inf`).
///
/// The log-density is evaluated as `sum_i [a_i (ln x_i - ln p_i) - ln x_i] + c` with the mean
/// `p_i = a_i / a_0` and `c = (sum_i ln a_i - ln a_0) / 2 - (K - 1) ln(2 pi) / 2 - sum_i corr(a_i)
/// + corr(a_0)` (`corr` the remainder of Stirling's formula): the usual
/// `ln Gamma(a_0) - sum_i ln Gamma(a_i) + sum_i (a_i - 1) ln x_i` with Stirling's formula for
/// every `ln Gamma` and the terms of size `a ln a` cancelled by hand, so that no two infinite or
/// huge terms meet for concentrations up to `f64::MAX` (nor `a_0` overflow). Where two terms
/// `a_i (ln x_i - ln p_i)` of opposite signs both overflow, their sum `-a_0 KL(p, x)` is below
/// `-f64::MAX` and `log_prob` is `-inf`.
///
/// Draws normalise independent `Gamma(a_i, 1)` draws, computed in log space so that small
/// concentrations (whose Gamma draws underflow) still give points on the simplex.
/// [`rsample`](Distribution::rsample) gives the same draw `x_i = G_i / sum_j G_j` with its
/// gradient through the implicit reparameterisation gradient of each `G_j` (see
/// [`Gamma`](crate::Gamma)): `dx_i/da_j = x_i ([i = j] - x_j) d(ln G_j)/da_j`, the derivative
/// of `x` with each `G_j` held at its quantile level. (torch takes another unbiased gradient,
/// the implicit gradient of each coordinate's beta marginal.)
///
/// # Gradients
/// The concentrations and the value are [`Real`]s: a gradient flows through `log_prob_real` to
/// each that is tracked on the tape, with `d/dx_i = (a_i - 1) / x_i` (the density's formula
/// differentiated in each coordinate as a free variable: a gradient-based sampler moves `x` on
/// the simplex through its stick-breaking map, whose chain rule projects it) and
/// `d/da_i = ln x_i - digamma(a_i) + digamma(a_0)` (computed without cancelling its terms of
/// size `ln a_0` for large concentrations, as the beta family does). At a zero coordinate, where
/// the density is finite only for `a_i = 1`, the partials are their limits from inside:
/// `d/dx_i = 0` and `d/da_i = -inf`.
///
/// # Example
/// ```
/// use pyro_distributions::{Dirichlet, Distribution, Reals};
/// use pyro_tape::gradient;
///
/// // Dirichlet(1, 1, 1) is uniform on the simplex, of density Gamma(3) = 2.
/// let d = Dirichlet::new(&[1.0, 1.0, 1.0])?;
/// let x = |v: &[f64]| Reals::from(v);
/// assert!((d.log_prob(&x(&[0.2, 0.3, 0.5])) - 2.0_f64.ln()).abs() < 1e-15);
/// assert_eq!(d.log_prob(&x(&[0.2, 0.3, 0.6])), f64::NEG_INFINITY);
/// assert_eq!(d.log_prob(&x(&[0.5, 0.5])), f64::NEG_INFINITY);
/// assert!(Dirichlet::new(&[1.0]).is_err());
///
/// // The gradient with respect to the value: (a_i - 1) / x_i.
/// let d = Dirichlet::new(&[2.0, 4.0])?;
/// let (_, g) = gradient(&[0.25, 0.75], |v| {
///     Ok::<_, pyro_tape::TapeError>(d.log_prob_real(&v.iter().copied().collect()))
/// })?;
/// assert_eq!(g, vec![4.0, 4.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dirichlet {
    concentration: Vec<Real>,
    /// `a_0 = sum_i a_i`; `+inf` where it overflows.
    total: f64,
    /// `(sum_i ln a_i - ln a_0) / 2 - (K - 1) ln(2 pi) / 2 - sum_i corr(a_i) + corr(a_0)`.
    log_norm: f64,
    /// The mean `p_i = a_i / a_0`, without overflow of `a_0`.
    mean: Vec<f64>,
    /// `ln p_i`.
    ln_mean: Vec<f64>,
    /// `1 - p_i`, from the sum of the other concentrations (not a difference from 1).
    complement: Vec<f64>,
    /// `(1 - p_i) / (a_0 + 1)`, the variance over the mean.
    var_over_mean: Vec<f64>,
    samplers: Vec<LogGamma>,
}

const FAMILY: &str = "Dirichlet";

impl Dirichlet {
    /// A Dirichlet distribution; `concentration` (`f64`s or [`Real`]s) must have at least 2
    /// elements, each finite and `> 0`.
    pub fn new<A: Into<Real>>(
        concentration: impl IntoIterator<Item = A>,
    ) -> Result<Self, ParamError> {
        let reals: Vec<Real> = concentration.into_iter().map(Into::into).collect();
        let concentration: Vec<f64> = reals.iter().map(|a| a.value()).collect();
        if concentration.len() < 2 {
            return Err(ParamError::new(
                FAMILY,
                "concentration",
                format!("{concentration:?}"),
                "must have at least 2 elements",
            ));
        }
        let mut samplers = Vec::with_capacity(concentration.len());
        for (i, &a) in concentration.iter().enumerate() {
            let sampler = (a.is_finite() && a > 0.0)
                .then(|| LogGamma::new(a))
                .flatten();
            let sampler = sampler.ok_or_else(|| {
                ParamError::new(
                    FAMILY,
                    format!("concentration[{i}]"),
                    a,
                    "must be finite and > 0",
                )
            })?;
            samplers.push(sampler);
        }
        // a_0 = max * s with s = sum_i a_i / max in [1, K], which cannot overflow.
        let max = concentration.iter().copied().fold(0.0, f64::max);
        let scaled: Vec<f64> = concentration.iter().map(|a| a / max).collect();
        let s: f64 = scaled.iter().sum();
        let ln_total = max.ln() + s.ln();
        let total = max * s;
        let k = concentration.len() as f64;
        let log_norm = 0.5 * (concentration.iter().map(|a| a.ln()).sum::<f64>() - ln_total)
            - (k - 1.0) * HALF_LN_2PI
            - concentration.iter().map(|&a| stirling_corr(a)).sum::<f64>()
            + stirling_corr(total);
        let mean: Vec<f64> = scaled.iter().map(|a| a / s).collect();
        // ln p_i from p_i itself where it is a normal double (exact at p_i = 1/2, say, where
        // ln a_i - ln a_0 would leave the rounding of two logarithms near 709, which a
        // concentration near f64::MAX multiplies), else from the logarithms.
        let ln_mean = concentration
            .iter()
            .zip(&mean)
            .map(|(a, p)| {
                if p.is_normal() {
                    p.ln()
                } else {
                    a.ln() - ln_total
                }
            })
            .collect();
        // The scaled sum of the other concentrations, from prefix and suffix sums.
        let mut suffix = vec![0.0; scaled.len() + 1];
        for i in (0..scaled.len()).rev() {
            suffix[i] = suffix[i + 1] + scaled[i];
        }
        let mut prefix = 0.0;
        let mut complement = Vec::with_capacity(scaled.len());
        let mut var_over_mean = Vec::with_capacity(scaled.len());
        for (i, &a) in scaled.iter().enumerate() {
            let others = prefix + suffix[i + 1];
            prefix += a;
            complement.push(others / s);
            // (1 - p_i) / (a_0 + 1), with a_0 + 1 = max (s + 1 / max) where a_0 overflows.
            let denominator = if total.is_finite() {
                total + 1.0
            } else {
                max * (s + 1.0 / max)
            };
            var_over_mean.push(others / s / denominator);
        }
        Ok(Dirichlet {
            concentration: reals,
            total,
            log_norm,
            mean,
            ln_mean,
            complement,
            var_over_mean,
            samplers,
        })
    }

    /// The concentration parameters `a_i`.
    pub fn concentration(&self) -> &[Real] {
        &self.concentration
    }
}

impl Distribution for Dirichlet {
    type Value = Reals;
    type Moment = Vec<f64>;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Reals {
        let shapes: Vec<Real> = self.concentration.iter().map(|&a| detach(a)).collect();
        dirichlet_draw(&self.samplers, &shapes, rng)
            .into_iter()
            .collect()
    }

    fn has_rsample(&self) -> bool {
        true
    }

    /// The draw of `sample`, `x_i = G_i / sum_j G_j`, with the gradient through the implicit
    /// gradients of the `G_j` (see the type's documentation).
    fn rsample<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<Reals> {
        Some(
            dirichlet_draw(&self.samplers, &self.concentration, rng)
                .into_iter()
                .collect(),
        )
    }

    fn log_prob(&self, x: &Reals) -> f64 {
        let x = x.values();
        if x.len() != self.concentration.len() || !is_simplex_iter(x.iter().copied()) {
            return f64::NEG_INFINITY;
        }
        let mut lp = self.log_norm;
        for ((a, &xi), &ln_p) in self.concentration.iter().zip(x).zip(&self.ln_mean) {
            let a = a.value();
            let term = if xi > 0.0 {
                let ln_x = xi.ln();
                a * (ln_x - ln_p) - ln_x
            } else if a == 1.0 {
                // x^0 = 1, also at x = 0.
                -ln_p
            } else if a > 1.0 {
                // A zero coordinate with a > 1: the density is 0, whatever the other factors.
                return f64::NEG_INFINITY;
            } else {
                f64::INFINITY
            };
            lp += term;
        }
        // +inf + -inf: either two coordinates' a (ln x - ln p) overflowed with opposite signs,
        // whose sum -a_0 KL(p, x) is then below -f64::MAX, or a zero coordinate with a < 1 met
        // such an overflow; both leave a density that underflows.
        if lp.is_nan() { f64::NEG_INFINITY } else { lp }
    }

    /// `d/dx_i = (a_i - 1) / x_i` (0 at a zero coordinate, where the density is finite only for
    /// `a_i = 1`) and `d/da_i = ln x_i - digamma(a_i) + digamma(a_0)` from the crate's
    /// `special::shape_score` (the digamma difference without cancellation for large
    /// concentrations; `-inf` at a zero coordinate), with `ln(x_i / p_i)` near the mean
    /// `p_i = a_i / a_0` from the deviation `(x_i - p_i) / p_i`, formed where `p_i > 1/2` as
    /// `((1 - p_i) - (1 - x_i)) / p_i` from the complement of the mean (exact) and `1 - x_i`
    /// (exact where `x_i >= 1/2`), so that the rounding of `p_i` does not swamp a derivative
    /// that is tiny there.
    fn log_prob_partials<'a>(&'a self, x: &'a Reals, partials: &mut Partials<'a>) {
        if !x.is_constant() {
            let d_x = self
                .concentration
                .iter()
                .zip(x.values())
                .map(|(a, &xi)| {
                    if xi > 0.0 {
                        (a.value() - 1.0) / xi
                    } else {
                        0.0
                    }
                })
                .collect();
            partials.push_vector(x, d_x);
        }
        for (i, (&a, &x_value)) in self.concentration.iter().zip(x.values()).enumerate() {
            let a_value = a.value();
            if !a.is_constant() {
                let (p, q) = (self.mean[i], self.complement[i]);
                let dev = if p <= 0.5 {
                    (x_value - p) / p
                } else {
                    (q - (1.0 - x_value)) / p
                };
                let (ln_x, ln_p) = (x_value.ln(), self.ln_mean[i]);
                let score = shape_score(a_value, self.total, x_value, ln_x, p, ln_p, q, dev);
                partials.push(a, score);
            }
        }
    }

    fn support(&self) -> Constraint {
        Constraint::Simplex
    }

    fn mean(&self) -> Option<Vec<f64>> {
        Some(self.mean.clone())
    }

    /// `p_i (1 - p_i) / (a_0 + 1)`.
    fn variance(&self) -> Option<Vec<f64>> {
        Some(
            self.mean
                .iter()
                .zip(&self.var_over_mean)
                .map(|(p, r)| p * r)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraint::is_simplex;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, vector};
    use crate::value::Value;
    use proptest::prelude::*;

    fn values(x: &Reals) -> Vec<f64> {
        x.values().to_vec()
    }

    fn build(p: &testing::Params) -> Dirichlet {
        Dirichlet::new(p.get_reals("concentration").unwrap()).unwrap()
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

    /// Draws on the simplex, then the moments of each coordinate.
    fn check_draws(d: &Dirichlet, seed: u64) {
        let mut r = testing::rng(seed);
        let draws: Vec<Vec<f64>> = (0..testing::MOMENT_DRAWS)
            .map(|_| values(&d.sample(&mut r)))
            .collect();
        for x in &draws {
            assert!(is_simplex(x), "{d:?}: draw {x:?} is off the simplex");
        }
        let (mean, var) = (d.mean().unwrap(), d.variance().unwrap());
        for i in 0..mean.len() {
            let xs: Vec<f64> = draws.iter().map(|x| x[i]).collect();
            testing::check_moments_of(&xs, mean[i], var[i], &format!("{d:?} coordinate {i}"));
        }
    }

    #[test]
    fn sample_moments() {
        check_draws(&Dirichlet::new([1.0, 2.0, 3.0]).unwrap(), 1);
        check_draws(&Dirichlet::new([0.1, 0.1, 0.1, 0.1]).unwrap(), 2);
        check_draws(&Dirichlet::new([1e-3, 0.5, 2.0]).unwrap(), 3);
        check_draws(&Dirichlet::new([500.0, 300.0]).unwrap(), 4);
    }

    #[test]
    fn tiny_concentrations_stay_on_the_simplex() {
        // Gamma(1e-3) draws underflow to 0 in linear space; ours stay finite in log space.
        let d = Dirichlet::new([1e-3, 1e-3, 1e-3]).unwrap();
        let mut r = testing::rng(7);
        assert!((0..10_000).all(|_| is_simplex(&values(&d.sample(&mut r)))));
        // Subnormal concentrations: every log-draw is -inf, and the vertex fallback is used.
        let d = Dirichlet::new([1e-310, 3e-310]).unwrap();
        let draws: Vec<Vec<f64>> = (0..20_000).map(|_| values(&d.sample(&mut r))).collect();
        assert!(draws.iter().all(|x| x == &[1.0, 0.0] || x == &[0.0, 1.0]));
        // Vertex 1 has probability 3/4: 15000 expected, standard deviation 61.
        let ones = draws.iter().filter(|x| x[1] == 1.0).count() as f64;
        assert!((ones - 15_000.0).abs() < 5.0 * 61.3, "{ones}");
    }

    #[test]
    fn value_stability() {
        let d = Dirichlet::new([1.0, 2.0, 3.0]).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &[
                vector(&[0.18833395685447119, 0.19228283255551168, 0.6193832105900171]),
                vector(&[0.3100160425624762, 0.13761571931209327, 0.5523682381254306]),
                vector(&[0.17340743318979093, 0.6646163355418523, 0.16197623126835684]),
            ],
        );
        let small = Dirichlet::new([0.1, 0.1]).unwrap();
        testing::assert_first_draws(
            &small,
            42,
            &[
                vector(&[0.9958700586416328, 0.004129941358367273]),
                vector(&[3.6432992064450575e-8, 0.999999963567008]),
                vector(&[0.9999999993469713, 6.530286548145507e-10]),
            ],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Dirichlet::new([1.0, 2.0, 0.5]).unwrap();
        let ninf = f64::NEG_INFINITY;
        assert_eq!(d.log_prob(&vector(&[0.2, 0.3])), ninf);
        assert_eq!(d.log_prob(&vector(&[0.2, 0.3, 0.5, 0.0])), ninf);
        assert_eq!(d.log_prob(&vector(&[])), ninf);
        assert_eq!(d.log_prob(&vector(&[0.2, 0.3, 0.6])), ninf);
        assert_eq!(d.log_prob(&vector(&[-0.1, 0.6, 0.5])), ninf);
        assert_eq!(d.log_prob(&vector(&[f64::NAN, 0.5, 0.5])), ninf);
        assert_eq!(d.log_prob(&vector(&[f64::INFINITY, 0.5, 0.5])), ninf);
        // Within the simplex tolerance the density is still evaluated.
        assert!(d.log_prob(&vector(&[0.2, 0.3, 0.5 + 1e-9])).is_finite());
        // Zero coordinates: a = 1 contributes nothing, a > 1 gives -inf, a < 1 gives +inf.
        assert!(d.log_prob(&vector(&[0.0, 0.5, 0.5])).is_finite());
        assert_eq!(d.log_prob(&vector(&[0.5, 0.0, 0.5])), ninf);
        assert_eq!(d.log_prob(&vector(&[0.5, 0.5, 0.0])), f64::INFINITY);
        assert_eq!(d.log_prob(&vector(&[0.0, 0.0, 1.0])), ninf);
        assert_eq!(d.log_prob(&vector(&[1.0, 0.0, 0.0])), ninf);
        assert!(d.support().contains(&Value::Reals(vec![0.5, 0.5, 0.0])));
        assert_eq!(d.log_prob_value(&Value::Real(1.0)), ninf);
        assert_eq!(
            d.log_prob_value(&Value::Ints(vec![0, 1, 0])),
            d.log_prob(&vector(&[0.0, 1.0, 0.0]))
        );
        assert_eq!(
            d.log_prob_value(&Value::Bools(vec![true, false, false])),
            ninf
        );
        let e = Dirichlet::new([1.0, -2.0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dirichlet: invalid parameter concentration[1] = -2 (must be finite and > 0)"
        );
        assert_eq!(
            Dirichlet::new([1.0]).unwrap_err().to_string(),
            "Dirichlet: invalid parameter concentration = [1.0] (must have at least 2 elements)"
        );
        assert_eq!(
            Dirichlet::new(Vec::<f64>::new()).unwrap_err().param,
            "concentration"
        );
        assert_eq!(
            Dirichlet::new([f64::NAN, 1.0]).unwrap_err().param,
            "concentration[0]"
        );
        assert_eq!(
            Dirichlet::new([1.0, f64::INFINITY]).unwrap_err().param,
            "concentration[1]"
        );
        assert_eq!(
            Dirichlet::new([0.0, 1.0]).unwrap_err().param,
            "concentration[0]"
        );
    }

    /// `Dirichlet(a)` at `x` from inputs `(x without x_j, a_1, ..., a_K)`, with
    /// `x_j = 1 - (the sum of the others)`: a point of the simplex whatever the inputs, so that
    /// finite differences stay on it (off it the density is 0). The derivative along input
    /// `x_i` is then `d/dx_i - d/dx_j`, the gradient along the simplex, which is what a sampler
    /// moving on the simplex uses.
    fn on_simplex(j: usize, k: usize) -> impl Fn(&[Real]) -> (Dirichlet, Reals) {
        move |v| {
            let mut x = v[..k - 1].to_vec();
            let rest = 1.0 - x.iter().sum::<Real>();
            x.insert(j, rest);
            (
                Dirichlet::new(&v[k - 1..]).unwrap(),
                x.into_iter().collect(),
            )
        }
    }

    /// `Dirichlet(a)` at `x` from inputs `(x_1, ..., x_K, a_1, ..., a_K)`, each coordinate a
    /// free input: for closed forms of `d/dx_i` (finite differences would leave the simplex).
    fn free(v: &[Real]) -> (Dirichlet, Reals) {
        let k = v.len() / 2;
        (
            Dirichlet::new(&v[k..]).unwrap(),
            v[..k].iter().copied().collect(),
        )
    }

    /// Points `(x, a, j)` with `x_j` the coordinate computed from the others (see
    /// `on_simplex`). As for `Beta`, of which a Dirichlet is the multivariate form: the scale
    /// of `x_i` is its distance to 0 shrunk by `sqrt(a_i)` for large exponents, or that of
    /// `x_j` (shrunk by `sqrt(a_j)`), whichever is smaller (moving `x_i` moves `x_j` the other
    /// way: the width of the peak along the simplex); that of `a_i` is the smaller of `a_i`
    /// (the distance to 0) and `sqrt(a_i a_0 / (a_0 - a_i))`, the width of the log-density in
    /// `a_i` (its second derivative is `trigamma(a_0) - trigamma(a_i)`, about
    /// `-(a_0 - a_i) / (a_i a_0)`).
    ///
    /// The tolerance's derivation (`testing::check_log_prob_gradient`) needs the largest term
    /// `T` of the log-density as computed that changes along an input to be at most
    /// `50 max(|f|, 1)`, and each point is checked to meet it. Along the coordinates these are
    /// `a_i ln x_i` and `ln x_i`, and `(a_j - 1) / x_j`: `x_j = 1 - ...` is rounded by up to
    /// `(K - 1) / 2` ulps of 1, which moves the log-density as would a rounding of a term of
    /// that size. Along the concentrations they are `a_i ln x_i`, `a_i ln p_i` (with
    /// `p_i = a_i / a_0` rounded, so at least `a_i` in size, however small `ln p_i`) and the
    /// normalising constant's, of size `ln a_i` and `ln a_0`. So concentrations reach 100 near
    /// the mode (at 1e3, `a ln(1/3)` is already 120 times the log-density; at 1e6, seventy
    /// thousand times), and 1e6 near a vertex, where only the coordinates' partials are checked
    /// (with the computed coordinate of exponent 1); larger ones, and the concentrations'
    /// partials there, are checked against mpmath in `gradient_closed_forms`.
    #[test]
    fn gradients_match_finite_differences() {
        let points: &[(&[f64], &[f64], usize, bool)] = &[
            (&[0.2, 0.3, 0.5], &[1.0, 2.0, 3.0], 2, true),
            (&[0.1, 0.2, 0.7], &[0.5, 0.5, 0.5], 2, true),
            (&[1e-3, 0.1, 0.899], &[0.3, 2.0, 5.0], 2, true),
            // A coordinate near 0, with an exponent below and at 1.
            (&[1e-200, 0.4, 0.6], &[0.5, 3.0, 2.0], 2, true),
            (&[1e-7, 0.2, 0.799_999_9], &[1.0, 1.0, 1.0], 2, true),
            // Each side of the saddle-point regime of the concentration scores (a_0 >= 10,
            // a_i >= 10).
            (&[0.1, 0.3, 0.6], &[0.5, 2.0, 7.0], 2, true),
            (&[0.1, 0.3, 0.6], &[0.5, 2.0, 7.5], 2, true),
            (&[0.2, 0.3, 0.5], &[9.5, 0.5, 2.0], 2, true),
            (&[0.3, 0.3, 0.4], &[12.0, 11.0, 12.5], 2, true),
            (&[0.1, 0.3, 0.6], &[12.5, 0.5, 3.0], 2, true),
            // Larger concentrations near the mode, and up to 1e6 near a vertex.
            (&[0.45, 0.1, 0.45], &[100.0, 20.0, 100.0], 2, true),
            (&[0.3334, 0.3333, 0.3333], &[50.0, 50.0, 50.0], 2, true),
            (&[2e-6, 1e-6, 0.999_997], &[2.0, 1.0, 1e6], 1, false),
            // Tiny concentrations.
            (&[0.3, 0.2, 0.5], &[1e-8, 1e-8, 1e-8], 2, true),
            (&[0.3, 0.2, 0.5], &[1e-300, 2e-300, 1e-300], 2, true),
            // Two and five coordinates.
            (&[0.3, 0.7], &[2.0, 5.0], 1, true),
            (&[0.4, 0.6], &[0.2, 40.0], 1, true),
            (
                &[0.1, 0.2, 0.05, 0.15, 0.5],
                &[1.0, 2.0, 0.5, 3.0, 4.0],
                4,
                true,
            ),
        ];
        for &(x, a, j, concentrations) in points {
            let k = a.len();
            let a0: f64 = a.iter().sum();
            let peak = |i: usize| x[i] / a[i].max(1.0).sqrt();
            let mut point: Vec<f64> = (0..k).filter(|&i| i != j).map(|i| x[i]).collect();
            let mut scales: Vec<f64> = (0..k)
                .filter(|&i| i != j)
                .map(|i| peak(i).min(peak(j)))
                .collect();
            point.extend(a);
            scales.extend(
                a.iter()
                    .map(|&ai| ai.min(ai.sqrt() * (a0 / (a0 - ai)).sqrt())),
            );
            let (d, on) = on_simplex(j, k)(&testing::rs(&point));
            assert!(
                (on.values()[j] - x[j]).abs() < 1e-12,
                "{x:?}: x_{j} = {:?}",
                on.values()[j]
            );
            // The largest terms that change along the coordinates, and along the
            // concentrations.
            let terms = |t: &dyn Fn(f64, f64) -> f64| {
                x.iter()
                    .zip(a)
                    .map(|(&xi, &ai)| t(xi, ai))
                    .fold(0.0, f64::max)
            };
            let along_x =
                terms(&|xi, ai| ai.max(1.0) * xi.ln().abs()).max((a[j] - 1.0).abs() / x[j]);
            let along_a = terms(&|xi, ai| {
                let logs = xi.ln().abs().max((ai / a0).ln().abs()).max(1.0);
                (ai * logs).max(ai.ln().abs())
            })
            .max(a0.ln().abs());
            let f = d.log_prob(&on).abs().max(1.0);
            assert!(along_x <= 50.0 * f, "{x:?}, {a:?}: T = {along_x}, |f| {f}");
            if concentrations {
                assert!(along_a <= 50.0 * f, "{x:?}, {a:?}: T = {along_a}, |f| {f}");
            } else {
                scales.truncate(k - 1);
            }
            testing::check_log_prob_gradient(on_simplex(j, k), &point, &scales);
        }
    }

    #[test]
    fn gradient_closed_forms() {
        // Dirichlet(1, 2, 3) at (0.2, 0.3, 0.5): d/dx_i = (a_i - 1) / x_i, and
        // d/da_i = ln x_i - digamma(a_i) + digamma(6), with digamma(6) - digamma(n) =
        // 1 / n + ... + 1 / 5.
        let g = testing::log_prob_gradient(free, &[0.2, 0.3, 0.5, 1.0, 2.0, 3.0]);
        assert_eq!(&g[..3], &[0.0, 1.0 / 0.3, 4.0]);
        let h = |n: u32| (n..6).map(|j| 1.0 / f64::from(j)).sum::<f64>();
        for (i, (x, n)) in [(0.2_f64, 1), (0.3, 2), (0.5, 3)].into_iter().enumerate() {
            let want = x.ln() + h(n);
            assert!((g[3 + i] - want).abs() < 1e-15, "{g:?}");
        }
        // A zero coordinate, where the density is finite for an exponent of 1: the limits from
        // inside.
        let g = testing::log_prob_gradient(free, &[0.0, 0.5, 0.5, 1.0, 2.0, 1.5]);
        assert_eq!((g[0], g[1], g[2], g[3]), (0.0, 2.0, 1.0, f64::NEG_INFINITY));
        assert!(g[4..].iter().all(|d| d.is_finite()), "{g:?}");
        // Near it: d/dx_0 = 0 for the exponent 1, and d/da_0 = ln x_0 + digamma(5) - digamma(1).
        let g = testing::log_prob_gradient(free, &[1e-250, 0.3, 0.7, 1.0, 2.0, 2.0]);
        let want = 1e-250_f64.ln() + (1.0 + 1.0 / 2.0 + 1.0 / 3.0 + 1.0 / 4.0);
        assert_eq!(g[0], 0.0);
        assert!((g[3] - want).abs() <= 1e-15 * want.abs(), "{g:?}");
        // Against mpmath (800 digits, at these doubles), within a relative 1e-14, plus the
        // rounding of the mean p_i = a_i / a_0 where it is not an exact binary fraction
        // (`dyadic`): a relative (K + 1) eps / 2 from the sum of the concentrations, or, for
        // p_i > 1/2, of its complement 1 - p_i (from the sum of the others), which moves
        // ln(x_i / p_i) by up to (K + 1) eps / 2 min(1, (1 - p_i) / p_i). (The score
        // 4.0e-18 near the vertex of the second case is 1.4e-13 of it, the beta family's 0.0147
        // in the last two coordinates' cases 1.5e-14.)
        let check = |x: &[f64], a: &[f64], want: &[f64], dyadic: bool| {
            let k = a.len();
            let point: Vec<f64> = x.iter().chain(a).copied().collect();
            let g = testing::log_prob_gradient(free, &point);
            let d = Dirichlet::new(a).unwrap();
            for i in 0..k {
                // d/dx_i = (a_i - 1) / x_i, two roundings (+inf where it overflows).
                let d_x = (a[i] - 1.0) / x[i];
                assert!(
                    (g[i] - d_x).abs() <= 4.0 * f64::EPSILON * d_x.abs() || g[i] == d_x,
                    "{point:?}: {g:?}"
                );
                let (p, q) = (d.mean[i], d.complement[i]);
                let rounding = if dyadic {
                    0.0
                } else {
                    (k + 1) as f64 / 2.0 * f64::EPSILON * (q / p).min(1.0)
                };
                let got = g[k + i];
                assert!(
                    (got - want[i]).abs() <= 1e-14 * want[i].abs() + rounding,
                    "{point:?}: d/da_{i} = {got:e}, mpmath {:e}",
                    want[i]
                );
            }
        };
        // Large concentrations near the mode (where the score is tiny next to the digamma
        // terms of size ln a_0), near a vertex (where the largest coordinate's score is below
        // the rounding of its mean), a sum of concentrations beyond f64::MAX, tiny ones, and
        // both sides of 10.
        let big = 8e307;
        // (x, a, the scores, whether the means are exact binary fractions)
        type Case<'a> = (&'a [f64], &'a [f64], &'a [f64], bool);
        let cases: [Case<'_>; 8] = [
            (
                &[0.250_000_1, 0.25, 0.499_999_9],
                &[1e10, 1e10, 2e10],
                &[
                    4.000_374_200_115_244e-7,
                    3.750_000_000_078_125e-11,
                    -1.999_875_200_057_536_4e-7,
                ],
                true,
            ),
            (
                &[1.0 - 5e-15, 3e-15, 2e-15],
                &[1e15, 3.0, 2.0],
                &[
                    3.996_389_186_773_088e-18,
                    0.175_827_953_569_647,
                    0.270_362_845_461_482_76,
                ],
                false,
            ),
            (
                &[0.125_000_000_001, 0.375, 0.499_999_999_999],
                &[1e20, 3e20, 4e20],
                &[
                    8.000_045_075_186_953e-12,
                    1.041_666_666_666_666_6e-21,
                    -1.999_955_755_936_756_7e-12,
                ],
                true,
            ),
            (
                &[0.3, 0.2, 0.5],
                &[big, big, 2.0 * big],
                &[
                    0.182_321_556_793_954_6,
                    -0.223_143_551_314_209_7,
                    1.5625e-309,
                ],
                true,
            ),
            (
                &[0.3, 0.2, 0.5],
                &[1e-300, 2e-300, 1e-300],
                &[7.5e299, 2.499_999_999_999_999_8e299, 7.5e299],
                true,
            ),
            (
                &[0.1, 0.3, 0.6],
                &[0.5, 2.0, 7.5],
                &[
                    1.912_677_522_094_099,
                    0.624_995_449_642_317_9,
                    -0.205_830_518_945_356_4,
                ],
                false,
            ),
            (
                &[0.1, 0.3, 0.6],
                &[12.5, 0.5, 3.0],
                &[
                    -2.046_767_415_941_497_2,
                    3.500_550_550_022_947_7,
                    1.307_403_369_463_002_5,
                ],
                false,
            ),
            (
                &[0.1, 0.3, 0.6],
                &[0.5, 2.0, 3.0],
                &[
                    1.272_018_081_609_128_9,
                    -0.015_663_990_842_652_045,
                    0.177_483_189_717_293_27,
                ],
                false,
            ),
        ];
        for (x, a, want, dyadic) in cases {
            check(x, a, want, dyadic);
        }
        // Two coordinates (x, 1 - x): the beta family's concentration scores (its mpmath
        // references), except at x = 2.5e-15, whose 1 - x rounds (the beta family's reference
        // is at the exact 1 - x): mpmath at the double; d/dx as above.
        for ([x, a, b], want, dyadic) in [
            (
                [0.500_000_1, 1e10, 1e10],
                [2.000_249_798_947_321_5e-7, -1.999_750_198_947_308_6e-7],
                true,
            ),
            (
                [0.250_000_000_01, 1e20, 3e20],
                [4.000_000_331_256_484e-11, -1.333_333_443_621_050_2e-11],
                true,
            ),
            (
                [1.0 - 2.5e-15, 1e15, 3.0],
                [4.464_870_433_621_337e-16, 0.014_685_706_064_268_913],
                false,
            ),
            (
                [2.5e-15, 3.0, 1e15],
                [-0.006_493_603_224_309_576, 4.464_870_433_621_337e-16],
                false,
            ),
        ] {
            check(&[x, 1.0 - x], &[a, b], &want, dyadic);
        }
    }

    /// A sampler's use: the gradient through the stick-breaking map (`Constraint::Simplex`'s
    /// bijection on `Real`s) of the log-density plus the log-Jacobian, against finite
    /// differences in the unconstrained coordinates.
    #[test]
    fn the_gradient_flows_through_the_simplex_map() {
        let d = Dirichlet::new([2.0, 3.0, 0.7, 5.0]).unwrap();
        let f = |u: &[Real]| -> Real {
            let x: Reals = Constraint::Simplex
                .to_constrained_reals(u)
                .unwrap()
                .into_iter()
                .collect();
            d.log_prob_real(&x) + Constraint::Simplex.log_abs_det_jacobian_reals(u).unwrap()
        };
        for point in [[0.1, -0.4, 0.7], [-2.0, 1.5, 0.3]] {
            let (value, g) =
                pyro_tape::gradient(&point, |u| Ok::<_, pyro_tape::TapeError>(f(u))).unwrap();
            for i in 0..3 {
                let h = f64::EPSILON.cbrt();
                let (mut plus, mut minus) = (point, point);
                plus[i] += h;
                minus[i] -= h;
                let at = |p: &[f64]| f(&testing::rs(p)).value();
                let fd = (at(&plus) - at(&minus)) / (plus[i] - minus[i]);
                // Unit scales, as in `testing::check_log_prob_gradient`.
                let tolerance = 1e-7 * (g[i].abs() + value.abs().max(1.0));
                assert!(
                    (g[i] - fd).abs() <= tolerance,
                    "{point:?}: {g:?}, {i}: {fd}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            a in prop::collection::vec(1e-3..1e3_f64, 2..8),
            w in prop::collection::vec(1e-3..1.0_f64, 8),
        ) {
            let d = Dirichlet::new(&a).unwrap();
            let w = &w[..a.len()];
            let sum: f64 = w.iter().sum();
            let x: Vec<f64> = w.iter().map(|wi| wi / sum).collect();
            prop_assert!(d.log_prob(&vector(&x)).is_finite());
        }

        #[test]
        fn draws_are_on_the_simplex(a in prop::collection::vec(1e-4..1e4_f64, 2..6), seed in 0..1000_u64) {
            let d = Dirichlet::new(&a).unwrap();
            let x = d.sample(&mut testing::rng(seed));
            prop_assert!(is_simplex(&values(&x)), "{:?}", x);
            prop_assert!(d.log_prob(&x) > f64::NEG_INFINITY);
        }

        #[test]
        fn invalid_concentration_errors(
            mut a in prop::collection::vec(0.1..10.0_f64, 2..6),
            i in 0..6_usize,
            bad in prop_oneof![-1e6..=0.0_f64, Just(f64::NAN), Just(f64::INFINITY)],
        ) {
            let i = i % a.len();
            a[i] = bad;
            let e = Dirichlet::new(&a).unwrap_err();
            prop_assert_eq!(e.param, format!("concentration[{i}]"));
        }
    }

    #[test]
    fn rsample_is_sample_with_its_gradient() {
        use crate::Gamma;
        use crate::distribution::Cdf;
        use crate::implicit::LogGamma;
        // Each concentration against finite differences of G_i / sum_j G_j with the levels of
        // the gamma draws held fixed (the tolerance of `testing::check_implicit_gradient`).
        for a in [vec![1.0, 2.0, 3.0], vec![0.3, 0.5, 4.0, 20.0]] {
            let build = |v: &[Real]| Dirichlet::new(v).unwrap();
            testing::check_rsample(build, &a, &vec![None; a.len()]);
            for seed in testing::RSAMPLE_SEEDS {
                let (x, j) = testing::rsample_jacobian(build, &a, seed);
                let mut r = testing::rng(seed);
                let levels: Vec<f64> = a
                    .iter()
                    .map(|&s| {
                        let ln_g = LogGamma::new(s).unwrap().sample(&mut r);
                        Gamma::new(s, 1.0).unwrap().cdf(ln_g.exp())
                    })
                    .collect();
                let at = |shapes: &[f64]| -> Vec<f64> {
                    let g: Vec<f64> = shapes
                        .iter()
                        .zip(&levels)
                        .map(|(&s, &u)| {
                            let d = Gamma::new(s, 1.0).unwrap();
                            testing::positive_quantile(|t| d.cdf(t), u)
                        })
                        .collect();
                    let sum: f64 = g.iter().sum();
                    g.iter().map(|gi| gi / sum).collect()
                };
                for k in 0..a.len() {
                    let h = f64::EPSILON.cbrt() * a[k];
                    let (mut plus, mut minus) = (a.clone(), a.clone());
                    plus[k] += h;
                    minus[k] -= h;
                    let (xp, xm) = (at(&plus), at(&minus));
                    for i in 0..a.len() {
                        let fd = (xp[i] - xm[i]) / (plus[k] - minus[k]);
                        let g = j[i][k];
                        let tolerance = 1e-7 * (g.abs() + x[i] / a[k]);
                        assert!(
                            (g - fd).abs() <= tolerance,
                            "Dirichlet({a:?}), seed {seed}: dx_{i}/da_{k} = {g}, {fd} by finite \
                             differences"
                        );
                    }
                }
            }
        }
        // Unbiased: the mean of dx_i/da_j is d E[x_i] / da_j = ([i = j] a_0 - a_i) / a_0^2.
        let a = [0.5, 2.0, 3.5];
        let draws = testing::rsample_draws(|v| Dirichlet::new(v).unwrap(), &a, 20_000, 9);
        let a0: f64 = a.iter().sum();
        for i in 0..3 {
            for k in 0..3 {
                let d: Vec<f64> = draws.iter().map(|(_, j)| j[i][k]).collect();
                let want = (if i == k { a0 } else { 0.0 } - a[i]) / (a0 * a0);
                testing::assert_mean(&d, want, &format!("Dirichlet dx_{i}/da_{k}"));
            }
        }
    }
}
