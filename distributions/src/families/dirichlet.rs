//! The Dirichlet distribution.

use crate::constraint::{Constraint, is_simplex};
use crate::distribution::Distribution;
use crate::error::ParamError;
use crate::special::{HALF_LN_2PI, stirling_corr};
use rand::{Rng, RngExt};
use rand_distr::{Gamma, Open01};

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
///
/// # Example
/// ```
/// use pyro_distributions::{Dirichlet, Distribution};
///
/// // Dirichlet(1, 1, 1) is uniform on the simplex, of density Gamma(3) = 2.
/// let d = Dirichlet::new(&[1.0, 1.0, 1.0])?;
/// assert!((d.log_prob(&vec![0.2, 0.3, 0.5]) - 2.0_f64.ln()).abs() < 1e-15);
/// assert_eq!(d.log_prob(&vec![0.2, 0.3, 0.6]), f64::NEG_INFINITY);
/// assert_eq!(d.log_prob(&vec![0.5, 0.5]), f64::NEG_INFINITY);
/// assert!(Dirichlet::new(&[1.0]).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Dirichlet {
    concentration: Vec<f64>,
    /// `(sum_i ln a_i - ln a_0) / 2 - (K - 1) ln(2 pi) / 2 - sum_i corr(a_i) + corr(a_0)`.
    log_norm: f64,
    /// The mean `p_i = a_i / a_0`, without overflow of `a_0`.
    mean: Vec<f64>,
    /// `ln p_i`.
    ln_mean: Vec<f64>,
    /// `(1 - p_i) / (a_0 + 1)`, the variance over the mean, with `1 - p_i` from the sum of the
    /// other concentrations (not a difference from 1).
    var_over_mean: Vec<f64>,
    samplers: Vec<LogGamma>,
}

/// Draws `ln G` for `G ~ Gamma(a, 1)`. For `a < 1`, `G = G' U^(1 / a)` with
/// `G' ~ Gamma(a + 1, 1)` and `U` uniform, whose logarithm stays finite where `G` underflows.
#[derive(Clone, Copy, Debug, PartialEq)]
struct LogGamma {
    gamma: Gamma<f64>,
    /// `1 / a` for `a < 1`, else 0.
    inv_small_shape: f64,
}

impl LogGamma {
    fn new(a: f64) -> Option<Self> {
        let (shape, inv_small_shape) = if a < 1.0 {
            (a + 1.0, 1.0 / a)
        } else {
            (a, 0.0)
        };
        let gamma = Gamma::new(shape, 1.0).ok()?;
        Some(LogGamma {
            gamma,
            inv_small_shape,
        })
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let g: f64 = rng.sample(self.gamma);
        if self.inv_small_shape == 0.0 {
            g.ln()
        } else {
            let u: f64 = rng.sample(Open01);
            g.ln() + u.ln() * self.inv_small_shape
        }
    }
}

const FAMILY: &str = "Dirichlet";

impl Dirichlet {
    /// A Dirichlet distribution; `concentration` must have at least 2 elements, each finite
    /// and `> 0`.
    pub fn new(concentration: &[f64]) -> Result<Self, ParamError> {
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
        let mut var_over_mean = Vec::with_capacity(scaled.len());
        for (i, &a) in scaled.iter().enumerate() {
            let others = prefix + suffix[i + 1];
            prefix += a;
            // (1 - p_i) / (a_0 + 1), with a_0 + 1 = max (s + 1 / max) where a_0 overflows.
            let denominator = if total.is_finite() {
                total + 1.0
            } else {
                max * (s + 1.0 / max)
            };
            var_over_mean.push(others / s / denominator);
        }
        Ok(Dirichlet {
            concentration: concentration.to_vec(),
            log_norm,
            mean,
            ln_mean,
            var_over_mean,
            samplers,
        })
    }

    /// The concentration parameters `a_i`.
    pub fn concentration(&self) -> &[f64] {
        &self.concentration
    }
}

impl Distribution for Dirichlet {
    type Value = Vec<f64>;
    type Moment = Vec<f64>;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut x: Vec<f64> = self.samplers.iter().map(|s| s.sample(rng)).collect();
        let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if max == f64::NEG_INFINITY {
            // Every log-Gamma draw overflowed to -inf, which takes concentrations below about
            // 1e-306. In that limit a Dirichlet draw is a vertex, vertex i with probability
            // a_i / a_0.
            let total: f64 = self.concentration.iter().sum();
            let mut u = rng.random::<f64>() * total;
            let last = x.len() - 1;
            let vertex = (0..last)
                .find(|&i| {
                    u -= self.concentration[i];
                    u < 0.0
                })
                .unwrap_or(last);
            x.iter_mut().for_each(|xi| *xi = 0.0);
            x[vertex] = 1.0;
            return x;
        }
        // Each exp(ln G_i - max) is in [0, 1] and one of them is 1, so the sum is in [1, K].
        x.iter_mut().for_each(|xi| *xi = (*xi - max).exp());
        let sum: f64 = x.iter().sum();
        x.iter_mut().for_each(|xi| *xi /= sum);
        x
    }

    fn log_prob(&self, x: &Vec<f64>) -> f64 {
        if x.len() != self.concentration.len() || !is_simplex(x) {
            return f64::NEG_INFINITY;
        }
        let mut lp = self.log_norm;
        for ((&a, &xi), &ln_p) in self.concentration.iter().zip(x).zip(&self.ln_mean) {
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
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> Dirichlet {
        Dirichlet::new(&p.get_reals("concentration").unwrap()).unwrap()
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
            .map(|_| d.sample(&mut r))
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
        check_draws(&Dirichlet::new(&[1.0, 2.0, 3.0]).unwrap(), 1);
        check_draws(&Dirichlet::new(&[0.1, 0.1, 0.1, 0.1]).unwrap(), 2);
        check_draws(&Dirichlet::new(&[1e-3, 0.5, 2.0]).unwrap(), 3);
        check_draws(&Dirichlet::new(&[500.0, 300.0]).unwrap(), 4);
    }

    #[test]
    fn tiny_concentrations_stay_on_the_simplex() {
        // Gamma(1e-3) draws underflow to 0 in linear space; ours stay finite in log space.
        let d = Dirichlet::new(&[1e-3, 1e-3, 1e-3]).unwrap();
        let mut r = testing::rng(7);
        assert!((0..10_000).all(|_| is_simplex(&d.sample(&mut r))));
        // Subnormal concentrations: every log-draw is -inf, and the vertex fallback is used.
        let d = Dirichlet::new(&[1e-310, 3e-310]).unwrap();
        let draws: Vec<Vec<f64>> = (0..20_000).map(|_| d.sample(&mut r)).collect();
        assert!(draws.iter().all(|x| x == &[1.0, 0.0] || x == &[0.0, 1.0]));
        // Vertex 1 has probability 3/4: 15000 expected, standard deviation 61.
        let ones = draws.iter().filter(|x| x[1] == 1.0).count() as f64;
        assert!((ones - 15_000.0).abs() < 5.0 * 61.3, "{ones}");
    }

    #[test]
    fn value_stability() {
        let d = Dirichlet::new(&[1.0, 2.0, 3.0]).unwrap();
        testing::assert_first_draws(
            &d,
            42,
            &[
                vec![0.18833395685447119, 0.19228283255551168, 0.6193832105900171],
                vec![0.3100160425624762, 0.13761571931209327, 0.5523682381254306],
                vec![0.17340743318979093, 0.6646163355418523, 0.16197623126835684],
            ],
        );
        let small = Dirichlet::new(&[0.1, 0.1]).unwrap();
        testing::assert_first_draws(
            &small,
            42,
            &[
                vec![0.9958700586416328, 0.004129941358367273],
                vec![3.6432992064450575e-8, 0.999999963567008],
                vec![0.9999999993469713, 6.530286548145507e-10],
            ],
        );
    }

    #[test]
    fn edges_and_errors() {
        let d = Dirichlet::new(&[1.0, 2.0, 0.5]).unwrap();
        let ninf = f64::NEG_INFINITY;
        assert_eq!(d.log_prob(&vec![0.2, 0.3]), ninf);
        assert_eq!(d.log_prob(&vec![0.2, 0.3, 0.5, 0.0]), ninf);
        assert_eq!(d.log_prob(&vec![]), ninf);
        assert_eq!(d.log_prob(&vec![0.2, 0.3, 0.6]), ninf);
        assert_eq!(d.log_prob(&vec![-0.1, 0.6, 0.5]), ninf);
        assert_eq!(d.log_prob(&vec![f64::NAN, 0.5, 0.5]), ninf);
        assert_eq!(d.log_prob(&vec![f64::INFINITY, 0.5, 0.5]), ninf);
        // Within the simplex tolerance the density is still evaluated.
        assert!(d.log_prob(&vec![0.2, 0.3, 0.5 + 1e-9]).is_finite());
        // Zero coordinates: a = 1 contributes nothing, a > 1 gives -inf, a < 1 gives +inf.
        assert!(d.log_prob(&vec![0.0, 0.5, 0.5]).is_finite());
        assert_eq!(d.log_prob(&vec![0.5, 0.0, 0.5]), ninf);
        assert_eq!(d.log_prob(&vec![0.5, 0.5, 0.0]), f64::INFINITY);
        assert_eq!(d.log_prob(&vec![0.0, 0.0, 1.0]), ninf);
        assert_eq!(d.log_prob(&vec![1.0, 0.0, 0.0]), ninf);
        assert!(d.support().contains(&Value::Reals(vec![0.5, 0.5, 0.0])));
        assert_eq!(d.log_prob_value(&Value::Real(1.0)), ninf);
        assert_eq!(
            d.log_prob_value(&Value::Ints(vec![0, 1, 0])),
            d.log_prob(&vec![0.0, 1.0, 0.0])
        );
        assert_eq!(
            d.log_prob_value(&Value::Bools(vec![true, false, false])),
            ninf
        );
        let e = Dirichlet::new(&[1.0, -2.0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Dirichlet: invalid parameter concentration[1] = -2 (must be finite and > 0)"
        );
        assert_eq!(
            Dirichlet::new(&[1.0]).unwrap_err().to_string(),
            "Dirichlet: invalid parameter concentration = [1.0] (must have at least 2 elements)"
        );
        assert_eq!(Dirichlet::new(&[]).unwrap_err().param, "concentration");
        assert_eq!(
            Dirichlet::new(&[f64::NAN, 1.0]).unwrap_err().param,
            "concentration[0]"
        );
        assert_eq!(
            Dirichlet::new(&[1.0, f64::INFINITY]).unwrap_err().param,
            "concentration[1]"
        );
        assert_eq!(
            Dirichlet::new(&[0.0, 1.0]).unwrap_err().param,
            "concentration[0]"
        );
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
            prop_assert!(d.log_prob(&x).is_finite());
        }

        #[test]
        fn draws_are_on_the_simplex(a in prop::collection::vec(1e-4..1e4_f64, 2..6), seed in 0..1000_u64) {
            let d = Dirichlet::new(&a).unwrap();
            let x = d.sample(&mut testing::rng(seed));
            prop_assert!(is_simplex(&x), "{:?}", x);
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
}
