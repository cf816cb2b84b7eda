//! The von Mises distribution on the circle.

use crate::constraint::Constraint;
use crate::distribution::Distribution;
use crate::error::{self, ParamError};
use rand::{Rng, RngExt};
use spec_math::cephes64::{i0e, i1e};
use std::f64::consts::{FRAC_PI_2, PI, TAU};

/// The von Mises distribution `VonMises(loc, concentration)`: the circular analogue of the
/// normal distribution, with mean direction `loc` and concentration `kappa`.
///
/// # Density
/// `p(x) = exp(kappa cos(x - loc)) / (2 pi I0(kappa))`, with `I0` the modified Bessel function of
/// order zero. As in torch and SciPy the density is defined on the whole real line and is
/// 2 pi-periodic: an angle and every angle a whole number of turns away score the same, and the
/// [`support`](Distribution::support) is [`Constraint::Real`] (`log_prob` is `-inf` only at the
/// non-finite numbers). Over one turn, e.g. `[-pi, pi]`, it integrates to one.
///
/// It is evaluated as `-2 kappa sin^2((x - loc) / 2) - ln(2 pi) - ln(i0e(kappa))` with
/// `i0e(kappa) = exp(-kappa) I0(kappa)`, which stays accurate for huge `kappa`. The half-angle
/// `(x - loc) / 2` is formed exactly, as the sum of `x / 2 - loc / 2` and its rounding error, and
/// its sine is taken by the angle-addition formula, whose sine and cosine reduce their arguments
/// modulo 2 pi exactly; so the periodicity holds to within a few ulps for every finite `x` and
/// `loc`, up to `f64::MAX`. The one loss: where `x - loc` is not a double (for instance `|x|`
/// far above `|loc|`, or values of opposite signs) the sine is a sum of two terms that cancel
/// near a periodic copy of the mode, which leaves an absolute error of about
/// `4 kappa |sin((x - loc) / 2)| eps` in `log_prob` (`eps = 2^-52`): below `1e-12` unless `kappa`
/// exceeds about `1e6`.
///
/// `loc` may be any finite real; draws and the [`mean`](Distribution::mean) are wrapped into
/// `[-pi, pi]`. The [`variance`](Distribution::variance) is the circular variance
/// `1 - I1(kappa) / I0(kappa)` (torch's convention). Draws use the rejection sampler of Best and
/// Fisher (1979), as torch does, rearranged so that it neither overflows nor loses precision for
/// tiny or huge `kappa`. There is no `Cdf` (it has no closed form).
///
/// # Example
/// ```
/// use pyro_distributions::{Constraint, Distribution, VonMises};
/// use std::f64::consts::PI;
///
/// let d = VonMises::new(0.0, 1e-12)?; // almost uniform on the circle
/// assert!((d.log_prob(&2.0) + (2.0 * PI).ln()).abs() < 1e-11);
/// // 2 pi-periodic, as torch and SciPy: 4 is the angle 4 - 2 pi.
/// let d = VonMises::new(0.0, 1.0)?;
/// assert!((d.log_prob(&4.0) - -2.727435045780136).abs() < 1e-15);
/// assert!((d.log_prob(&4.0) - d.log_prob(&(4.0 - 2.0 * PI))).abs() < 1e-15);
/// assert_eq!(d.support(), Constraint::Real);
/// assert_eq!(d.log_prob(&f64::INFINITY), f64::NEG_INFINITY);
/// assert!((VonMises::new(7.0, 1.0)?.mean().unwrap() - (7.0 - 2.0 * PI)).abs() < 1e-14);
/// assert!(VonMises::new(0.0, 0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VonMises {
    loc: f64,
    concentration: f64,
    /// `loc / 2`, the half-angle of the mean direction (exact: `loc` is finite and halving a
    /// double loses nothing above the subnormal range).
    half_loc: f64,
    /// `loc` wrapped into `[-pi, pi]`.
    loc_wrapped: f64,
    /// `-ln(2 pi) - ln(i0e(concentration))`.
    log_norm: f64,
    sampler: BestFisher,
}

/// Best and Fisher's proposal constants, rewritten in terms of `rho` (their `tau, rho, r` give
/// `r = (1 + rho^2) / (2 rho)`). With `a = pi u / 2` for a uniform `u`, the proposal angle is
/// `acos((1 + r z) / (r + z)) = 2 atan(tan(a) m)` with `z = cos(2a)`, and the acceptance quantity
/// `c = kappa (r - (1 + r z) / (r + z)) = g / (m^2 + n cos^2 a)`; neither form cancels.
#[derive(Clone, Copy, Debug, PartialEq)]
struct BestFisher {
    /// `(1 - rho) / (1 + rho)`.
    m: f64,
    /// `m^2`.
    m2: f64,
    /// `4 rho / (1 + rho)^2`.
    n: f64,
    /// `kappa (1 - rho)^2 / (2 rho)`.
    g: f64,
}

impl BestFisher {
    fn new(kappa: f64) -> Self {
        // tau = 1 + sqrt(1 + 4 kappa^2), rho = (tau - sqrt(2 tau)) / (2 kappa), rearranged with
        // h = sqrt(1/4 + kappa^2), q = kappa^2 / (h + 1/2) = (tau - 2) / 2 and
        // w = sqrt(1 + q) = sqrt(tau / 2): rho = (kappa / (h + 1/2)) (w / (1 + w)).
        let h = 0.5_f64.hypot(kappa) + 0.5;
        let q = kappa * (kappa / h);
        let w = (1.0 + q).sqrt();
        let rho = (kappa / h) * (w / (1.0 + w));
        // 1 - rho without cancellation when rho is near 1 (large kappa):
        // 1 - rho = (1 + w e / (2 kappa)) / (1 + w), e = 1 / (1 + 1 / (2 (kappa + q))).
        let one_m_rho = if rho < 0.5 {
            1.0 - rho
        } else {
            let e = 1.0 / (1.0 + 0.5 / (kappa + q));
            (1.0 + w * e / (2.0 * kappa)) / (1.0 + w)
        };
        let m = one_m_rho / (1.0 + rho);
        // kappa / (2 rho) = h (1 + w) / (2 w), so that tiny kappa (and rho) never divide.
        let g = (one_m_rho * h) * one_m_rho * ((1.0 + w) / (2.0 * w));
        BestFisher {
            m,
            m2: m * m,
            n: 4.0 * rho / ((1.0 + rho) * (1.0 + rho)),
            g,
        }
    }

    /// A draw of the angle from the mean direction, in `[-pi, pi]`.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        loop {
            let u1: f64 = rng.random();
            let u2: f64 = rng.random();
            let (sin_a, cos_a) = (FRAC_PI_2 * u1).sin_cos();
            let c = self.g / (self.m2 + self.n * (cos_a * cos_a));
            if c * (2.0 - c) > u2 || (c / u2).ln() + 1.0 - c >= 0.0 {
                let theta = 2.0 * (sin_a / cos_a * self.m).atan();
                let u3: f64 = rng.random();
                return if u3 < 0.5 { -theta } else { theta };
            }
        }
    }
}

/// `sin(a - b)` for finite `a` and `b` (half-angles, so that `a - b` cannot overflow), accurate
/// for every pair: `a - b` is split exactly into its rounded value `h` and the rounding error `l`
/// (Knuth's two-sum), and `sin(h + l) = sin h cos l + cos h sin l`, where `sin` and `cos` reduce
/// their arguments modulo 2 pi exactly. Where `a - b` is a double (`l = 0`, always the case for
/// nearby values, by Sterbenz's lemma) this is `sin h`, correct to an ulp relative to the result.
#[inline]
fn half_angle_sin(a: f64, b: f64) -> f64 {
    let c = -b;
    let h = a + c;
    let c_virtual = h - a;
    let a_virtual = h - c_virtual;
    let l = (a - a_virtual) + (c - c_virtual);
    if l == 0.0 {
        h.sin()
    } else {
        let (sin_h, cos_h) = h.sin_cos();
        let (sin_l, cos_l) = l.sin_cos();
        sin_h * cos_l + cos_h * sin_l
    }
}

const FAMILY: &str = "VonMises";

/// `ln(2 pi)`.
const LN_2PI: f64 = 1.837_877_066_409_345_5;

impl VonMises {
    /// A von Mises distribution; `loc` must be finite and `concentration` finite and `> 0`.
    pub fn new(loc: f64, concentration: f64) -> Result<Self, ParamError> {
        let loc = error::finite(FAMILY, "loc", loc)?;
        let concentration = error::positive(FAMILY, "concentration", concentration)?;
        let loc_wrapped = if (-PI..=PI).contains(&loc) {
            loc
        } else {
            // sin and cos reduce their argument modulo 2 pi exactly (for any finite loc), and
            // atan2 maps the point of the circle back to its angle in [-pi, pi] to within an
            // ulp or two; (loc + pi).rem_euclid(2 pi) would round loc + pi and reduce modulo
            // the double nearest 2 pi, both of which lose digits as |loc| grows.
            let (sin, cos) = loc.sin_cos();
            sin.atan2(cos)
        };
        Ok(VonMises {
            loc,
            concentration,
            half_loc: 0.5 * loc,
            loc_wrapped,
            log_norm: -LN_2PI - i0e(concentration).ln(),
            sampler: BestFisher::new(concentration),
        })
    }

    /// The mean direction, as given (not wrapped).
    pub fn loc(&self) -> f64 {
        self.loc
    }

    /// The concentration `kappa`.
    pub fn concentration(&self) -> f64 {
        self.concentration
    }
}

impl Distribution for VonMises {
    type Value = f64;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let x = self.loc_wrapped + self.sampler.sample(rng);
        // Wrap into [-pi, pi] only when needed, so that tiny angles around loc keep their digits.
        if x > PI {
            x - TAU
        } else if x < -PI {
            x + TAU
        } else {
            x
        }
    }

    #[inline]
    fn log_prob(&self, x: &f64) -> f64 {
        let x = *x;
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        // kappa (cos d - 1) = -2 kappa sin^2(d / 2), without cancellation near d = 0.
        let s = half_angle_sin(0.5 * x, self.half_loc);
        // (2 kappa would overflow for kappa near f64::MAX, and inf * 0 is NaN.)
        self.log_norm - self.concentration * (2.0 * s * s)
    }

    /// The real line: the density is 2 pi-periodic (as torch's support, `constraints.real`).
    fn support(&self) -> Constraint {
        Constraint::Real
    }

    /// The mean direction `loc`, wrapped into `[-pi, pi]`.
    fn mean(&self) -> Option<f64> {
        Some(self.loc_wrapped)
    }

    /// The circular variance `1 - I1(kappa) / I0(kappa)`.
    fn variance(&self) -> Option<f64> {
        let k = self.concentration;
        Some(1.0 - i1e(k) / i0e(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing;
    use crate::value::Value;
    use proptest::prelude::*;

    fn build(p: &testing::Params) -> VonMises {
        VonMises::new(p.real("loc"), p.real("concentration")).unwrap()
    }

    /// The cdf of `d` by composite Simpson integration of its density: cumulative values on a
    /// grid of `CELLS` cells over `[-pi, pi]`, plus a Simpson step from the last node to `x`.
    fn numeric_cdf(d: VonMises) -> impl Fn(f64) -> f64 {
        const CELLS: usize = 8192;
        let h = TAU / CELLS as f64;
        let pdf = move |x: f64| d.log_prob(&x.clamp(-PI, PI)).exp();
        let simpson =
            move |a: f64, b: f64| (b - a) / 6.0 * (pdf(a) + 4.0 * pdf(0.5 * (a + b)) + pdf(b));
        let mut cum = vec![0.0; CELLS + 1];
        for i in 0..CELLS {
            let a = -PI + i as f64 * h;
            cum[i + 1] = cum[i] + simpson(a, a + h);
        }
        // The density integrates to one: a check of the normaliser as much as of the grid.
        assert!(
            (cum[CELLS] - 1.0).abs() < 1e-9,
            "{d:?}: total mass {}",
            cum[CELLS]
        );
        move |x: f64| {
            let i = (((x + PI) / h).floor().max(0.0) as usize).min(CELLS - 1);
            let a = -PI + i as f64 * h;
            cum[i] + simpson(a, x)
        }
    }

    #[test]
    fn matches_scipy() {
        testing::check_log_prob_reference(FAMILY, build);
        testing::check_moments_reference(FAMILY, build);
    }

    /// The density is 2 pi-periodic on the whole real line (as in torch and SciPy): against
    /// mpmath at values far outside [-pi, pi] (up to `f64::MAX`), at the doubles nearest to
    /// periodic copies of the mode, and for locations far outside [-pi, pi] too.
    #[test]
    fn periodic_matches_mpmath() {
        for case in testing::extreme_cases("von_mises_periodic") {
            let d = build(&case.params);
            for p in &case.points {
                let (x, want) = (p.real("x"), p.real("log_prob"));
                // Each term (the normaliser and 2 kappa sin^2) is correct to a few ulps, the
                // sine included, whose argument is formed and reduced exactly; the worst error
                // measured is 7e-16 relative. (Where the sine is the sum of two terms, near a
                // periodic copy of the mode far from loc, a kappa above 1e6 would need more.)
                let what = format!("{d:?} log_prob({x:e})");
                testing::assert_close(d.log_prob(&x), want, 1e-14, &what);
            }
        }
    }

    /// `cos(X - loc)` has mean `A = I1/I0 = 1 - variance()` and variance `1 - A/k - A^2`;
    /// `sin(X - loc)` has mean 0 and variance `A/k` (from `I0 - I2 = (2/k) I1`).
    fn check_trig_moments(d: &VonMises, seed: u64) {
        let mut r = testing::rng(seed);
        let xs: Vec<f64> = (0..testing::MOMENT_DRAWS)
            .map(|_| d.sample(&mut r))
            .collect();
        let k = d.concentration();
        let a = 1.0 - d.variance().unwrap();
        let cos: Vec<f64> = xs.iter().map(|x| (x - d.loc()).cos()).collect();
        let sin: Vec<f64> = xs.iter().map(|x| (x - d.loc()).sin()).collect();
        testing::check_moments_of(&cos, a, 1.0 - a / k - a * a, &format!("{d:?} cos"));
        testing::check_moments_of(&sin, 0.0, a / k, &format!("{d:?} sin"));
    }

    #[test]
    fn sample_moments() {
        check_trig_moments(&VonMises::new(3.0, 2.0).unwrap(), 1);
        check_trig_moments(&VonMises::new(-1.0, 0.3).unwrap(), 2);
        check_trig_moments(&VonMises::new(0.5, 40.0).unwrap(), 3);
    }

    #[test]
    fn huge_concentration_is_normal() {
        // For kappa = 1e10, sqrt(kappa) (X - loc) is N(0, 1) up to O(1 / kappa).
        let k = 1e10;
        let d = VonMises::new(1.0, k).unwrap();
        let mut r = testing::rng(10);
        let z: Vec<f64> = (0..testing::MOMENT_DRAWS)
            .map(|_| (d.sample(&mut r) - 1.0) * k.sqrt())
            .collect();
        testing::check_moments_of(&z, 0.0, 1.0, "VonMises(1, 1e10) standardised");
        // At the far end of the range: finite draws and densities, no hang.
        for k in [1e300, f64::MAX] {
            let d = VonMises::new(0.0, k).unwrap();
            let mut r = testing::rng(11);
            for _ in 0..100 {
                let x = d.sample(&mut r);
                assert!(
                    x.abs() < 1e-140 && d.log_prob(&x).is_finite(),
                    "kappa {k}: draw {x}"
                );
            }
        }
    }

    #[test]
    fn kolmogorov_smirnov() {
        for (i, (loc, k)) in [(1.0, 2.0), (3.0, 5.0), (-2.5, 0.05), (0.0, 300.0)]
            .into_iter()
            .enumerate()
        {
            let d = VonMises::new(loc, k).unwrap();
            let mut r = testing::rng(20 + i as u64);
            testing::ks_test_with(|| d.sample(&mut r), numeric_cdf(d), &format!("{d:?}"));
        }
        // Tiny concentration: uniform on the circle up to O(kappa); also subnormal kappa.
        for k in [1e-300, 5e-324] {
            let d = VonMises::new(0.7, k).unwrap();
            let mut r = testing::rng(30);
            let uniform = |x: f64| (x + PI) / TAU;
            testing::ks_test_with(|| d.sample(&mut r), uniform, &format!("{d:?}"));
        }
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &VonMises::new(1.0, 2.0).unwrap(),
            42,
            &[2.7259440216126958, 1.8695475203966363, 1.801195032375602],
        );
    }

    #[test]
    fn edges_and_errors() {
        let e = VonMises::new(0.0, -1.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "VonMises: invalid parameter concentration = -1 (must be finite and > 0)"
        );
        for bad in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            assert_eq!(VonMises::new(0.0, bad).unwrap_err().param, "concentration");
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(VonMises::new(bad, 1.0).unwrap_err().param, "loc");
        }
        let d = VonMises::new(3.0, 2.0).unwrap();
        assert!(d.log_prob(&PI).is_finite() && d.log_prob(&-PI).is_finite());
        // The two ends are the same point of the circle.
        assert!((d.log_prob(&PI) - d.log_prob(&-PI)).abs() < 1e-14);
        // Only the non-finite numbers are outside the support (the real line).
        for x in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(d.log_prob(&x), f64::NEG_INFINITY, "x = {x}");
        }
        assert_eq!(d.support(), Constraint::Real);
        assert!(d.support().contains(&Value::Real(PI)));
        assert!(!d.support().contains(&Value::Real(f64::INFINITY)));
        // Beyond [-pi, pi] the density repeats: 3.2 is the angle 3.2 - 2 pi (issue 11). (x + 2 pi k
        // is rounded, by less than 3e-14 here, which moves the log-density by less than that.)
        for x in [3.2, -3.2, 10.0, -100.0] {
            assert!(d.support().contains(&Value::Real(x)));
            for turns in [-2.0, -1.0, 1.0, 3.0] {
                let y = x + turns * TAU;
                assert!(
                    (d.log_prob(&x) - d.log_prob(&y)).abs() < 1e-12,
                    "x = {x}, {y}"
                );
            }
        }
        assert_eq!(d.log_prob_value(&Value::Bool(true)), f64::NEG_INFINITY);
        assert_eq!(
            d.log_prob_value(&Value::Reals(vec![0.0])),
            f64::NEG_INFINITY
        );
        // loc outside [-pi, pi] is the same distribution as its wrapped value.
        let far = VonMises::new(3.0 + 4.0 * TAU, 2.0).unwrap();
        assert!((far.mean().unwrap() - 3.0).abs() < 1e-14);
        assert!((far.log_prob(&-3.0) - d.log_prob(&-3.0)).abs() < 1e-13);
        assert_eq!(far.loc(), 3.0 + 4.0 * TAU);
        assert_eq!(VonMises::new(PI, 1.0).unwrap().mean(), Some(PI));
        assert_eq!(VonMises::new(-PI, 1.0).unwrap().mean(), Some(-PI));
        // Draws near the ends wrap around and stay in [-pi, pi].
        let mut r = testing::rng(12);
        for _ in 0..2000 {
            let x = d.sample(&mut r);
            assert!((-PI..=PI).contains(&x), "draw {x}");
        }
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e3..1e3_f64, k in 1e-8..1e8_f64, x in -PI..=PI,
        ) {
            let d = VonMises::new(loc, k).unwrap();
            prop_assert!(d.log_prob(&x).is_finite());
        }

        #[test]
        fn invalid_concentration_errors(bad in -1e6..=0.0_f64, loc in -10.0..10.0_f64) {
            prop_assert!(VonMises::new(loc, bad).is_err());
        }

        #[test]
        fn draws_in_support(loc in -1e3..1e3_f64, k in 1e-6..1e6_f64, seed in 0..1000_u64) {
            let d = VonMises::new(loc, k).unwrap();
            let mut r = testing::rng(seed);
            let x = d.sample(&mut r);
            prop_assert!((-PI..=PI).contains(&x) && d.log_prob(&x).is_finite());
        }

        #[test]
        fn periodic(
            loc in -1e3..1e3_f64, k in 1e-3..1e3_f64, x in -1e3..1e3_f64, turns in -100..100_i32,
        ) {
            let d = VonMises::new(loc, k).unwrap();
            // x + turns 2 pi is rounded (by at most 1e-13 here) and TAU is 2 pi to 2.5e-16, so
            // the angle moves by at most 1e-13 and the log-density by at most kappa 1e-13.
            let y = x + f64::from(turns) * TAU;
            prop_assert!((d.log_prob(&x) - d.log_prob(&y)).abs() <= 1e-9);
        }
    }
}
