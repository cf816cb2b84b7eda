//! The von Mises distribution on the circle.

use crate::constraint::Constraint;
use crate::distribution::{Distribution, Partials};
use crate::error::{self, ParamError};
use pyro_tape::Real;
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
/// `1 - I1(kappa) / I0(kappa)` (torch's convention), computed without cancellation for large
/// `kappa` (by its asymptotic series from `kappa = 50` on). Draws use the rejection sampler of
/// Best and Fisher (1979), as torch does, rearranged so that it neither overflows nor loses
/// precision for tiny or huge `kappa`. There is no `Cdf` (it has no closed form).
///
/// The parameters and the value are [`Real`]s: a gradient flows through `log_prob_real` to each
/// that is tracked on the tape (`d/dx = -kappa sin(x - loc)`, `d/dloc = kappa sin(x - loc)`,
/// `d/dkappa = cos(x - loc) - I1(kappa) / I0(kappa)`, the last as
/// `(1 - I1(kappa) / I0(kappa)) - 2 sin^2((x - loc) / 2)`).
///
/// # Example
/// ```
/// use pyro_distributions::{Constraint, Distribution, Real, VonMises};
/// use std::f64::consts::PI;
///
/// let d = VonMises::new(0.0, 1e-12)?; // almost uniform on the circle
/// assert!((d.log_prob(&Real::from(2.0)) + (2.0 * PI).ln()).abs() < 1e-11);
/// // 2 pi-periodic, as torch and SciPy: 4 is the angle 4 - 2 pi.
/// let d = VonMises::new(0.0, 1.0)?;
/// let (x, y) = (Real::from(4.0), Real::from(4.0 - 2.0 * PI));
/// assert!((d.log_prob(&x) - -2.727435045780136).abs() < 1e-15);
/// assert!((d.log_prob(&x) - d.log_prob(&y)).abs() < 1e-15);
/// assert_eq!(d.support(), Constraint::Real);
/// assert_eq!(d.log_prob(&Real::from(f64::INFINITY)), f64::NEG_INFINITY);
/// assert!((VonMises::new(7.0, 1.0)?.mean().unwrap() - (7.0 - 2.0 * PI)).abs() < 1e-14);
/// assert!(VonMises::new(0.0, 0.0).is_err());
/// # Ok::<(), pyro_distributions::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VonMises {
    loc: Real,
    concentration: Real,
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

/// `a - b` for finite `a` and `b` split exactly into its rounded value `h` and the rounding
/// error `l` (Knuth's two-sum): `a - b = h + l`.
#[inline]
fn two_diff(a: f64, b: f64) -> (f64, f64) {
    let c = -b;
    let h = a + c;
    let c_virtual = h - a;
    let a_virtual = h - c_virtual;
    (h, (a - a_virtual) + (c - c_virtual))
}

/// `sin(a - b)` for finite `a` and `b` (half-angles, so that `a - b` cannot overflow), accurate
/// for every pair: `a - b` is split exactly into its rounded value `h` and the rounding error `l`
/// (Knuth's two-sum), and `sin(h + l) = sin h cos l + cos h sin l`, where `sin` and `cos` reduce
/// their arguments modulo 2 pi exactly. Where `a - b` is a double (`l = 0`, always the case for
/// nearby values, by Sterbenz's lemma) this is `sin h`, correct to an ulp relative to the result.
#[inline]
fn half_angle_sin(a: f64, b: f64) -> f64 {
    let (h, l) = two_diff(a, b);
    if l == 0.0 {
        h.sin()
    } else {
        let (sin_h, cos_h) = h.sin_cos();
        let (sin_l, cos_l) = l.sin_cos();
        sin_h * cos_l + cos_h * sin_l
    }
}

/// `(sin(a - b), cos(a - b))` as [`half_angle_sin`] forms the sine (and the cosine by
/// `cos(h + l) = cos h cos l - sin h sin l`).
#[inline]
fn half_angle_sin_cos(a: f64, b: f64) -> (f64, f64) {
    let (h, l) = two_diff(a, b);
    let (sin_h, cos_h) = h.sin_cos();
    if l == 0.0 {
        (sin_h, cos_h)
    } else {
        let (sin_l, cos_l) = l.sin_cos();
        (sin_h * cos_l + cos_h * sin_l, cos_h * cos_l - sin_h * sin_l)
    }
}

/// From this concentration on, `1 - I1 / I0` is its asymptotic series (see
/// [`one_minus_bessel_ratio`]).
const BESSEL_RATIO_SERIES_FROM: f64 = 50.0;

/// `1 - I1(kappa) / I0(kappa)` for `kappa > 0`: the circular variance, and
/// `-d/dkappa ln(i0e(kappa))` (`i0e(kappa) = exp(-kappa) I0(kappa)`, the normaliser's Bessel
/// function).
///
/// Below 50 it is `1 - i1e(kappa) / i0e(kappa)` (Cephes' exponentially scaled Bessel
/// functions), which loses at most a factor `2 kappa < 100` to cancellation (a relative error
/// below 1e-13). From 50 on, where the ratio tends to 1 (`1 - I1 / I0` is about `1 / (2 kappa)`)
/// and the difference would cancel, it is the asymptotic series in `w = 1 / kappa` that the
/// quotient of Hankel's expansions of `I1` and `I0` gives,
/// `w / 2 + w^2 / 8 + w^3 / 8 + 25 w^4 / 128 + 13 w^5 / 32 + ...`, to sixteen terms: the first
/// omitted is below `2e-19` of the sum at 50.
fn one_minus_bessel_ratio(kappa: f64) -> f64 {
    if kappa < BESSEL_RATIO_SERIES_FROM {
        return 1.0 - i1e(kappa) / i0e(kappa);
    }
    // Exact rationals: 1/2, 1/8, 1/8, 25/128, 13/32, 1073/1024, 103/32, 375733/32768,
    // 23797/512, 55384775/262144, 2180461/2048, 24713030909/4194304, 72763141/2048,
    // 7780757249041/33554432, 13342715521/8192, 26308967412122125/2147483648.
    const C: [f64; 16] = [
        0.5,
        0.125,
        0.125,
        0.195_312_5,
        0.406_25,
        1.047_851_562_5,
        3.218_75,
        11.466_461_181_640_625,
        46.478_515_625,
        211.276_149_749_755_86,
        1_064.678_222_656_25,
        5_892.045_714_616_776,
        35_528.877_441_406_25,
        231_884.635_956_317_2,
        1_628_749.453_247_070_3,
        12_251_067.632_866_15,
    ];
    let w = 1.0 / kappa;
    w * C.iter().rev().fold(0.0, |sum, &c| c + w * sum)
}

const FAMILY: &str = "VonMises";

/// `ln(2 pi)`.
const LN_2PI: f64 = 1.837_877_066_409_345_5;

impl VonMises {
    /// A von Mises distribution; `loc` must be finite and `concentration` finite and `> 0`.
    pub fn new(loc: impl Into<Real>, concentration: impl Into<Real>) -> Result<Self, ParamError> {
        let (loc_real, concentration_real) = (loc.into(), concentration.into());
        let loc = error::finite(FAMILY, "loc", loc_real.value())?;
        let concentration = error::positive(FAMILY, "concentration", concentration_real.value())?;
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
            loc: loc_real,
            concentration: concentration_real,
            half_loc: 0.5 * loc,
            loc_wrapped,
            log_norm: -LN_2PI - i0e(concentration).ln(),
            sampler: BestFisher::new(concentration),
        })
    }

    /// The mean direction, as given (not wrapped).
    pub fn loc(&self) -> Real {
        self.loc
    }

    /// The concentration `kappa`.
    pub fn concentration(&self) -> Real {
        self.concentration
    }
}

impl Distribution for VonMises {
    type Value = Real;
    type Moment = f64;

    fn family(&self) -> &'static str {
        FAMILY
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Real {
        let x = self.loc_wrapped + self.sampler.sample(rng);
        // Wrap into [-pi, pi] only when needed, so that tiny angles around loc keep their digits.
        Real::constant(if x > PI {
            x - TAU
        } else if x < -PI {
            x + TAU
        } else {
            x
        })
    }

    #[inline]
    fn log_prob(&self, x: &Real) -> f64 {
        let x = x.value();
        if !x.is_finite() {
            return f64::NEG_INFINITY;
        }
        // kappa (cos d - 1) = -2 kappa sin^2(d / 2), without cancellation near d = 0.
        let s = half_angle_sin(0.5 * x, self.half_loc);
        // (2 kappa would overflow for kappa near f64::MAX, and inf * 0 is NaN.)
        self.log_norm - self.concentration.value() * (2.0 * s * s)
    }

    /// With `s` and `c` the sine and cosine of the half-angle `(x - loc) / 2` (formed as
    /// `log_prob` forms it, so the partials are 2 pi-periodic to the same accuracy):
    /// `d/dx = -kappa (2 s c)`, `d/dloc = kappa (2 s c)` and
    /// `d/dkappa = (1 - I1(kappa) / I0(kappa)) - 2 s^2` (`cos(x - loc) - I1 / I0` without
    /// cancellation near the mode of a large `kappa`, where both terms are about `1 / kappa`).
    #[inline]
    fn log_prob_partials(&self, x: &Real, partials: &mut Partials<'_>) {
        if x.is_constant() && self.loc.is_constant() && self.concentration.is_constant() {
            return;
        }
        let kappa = self.concentration.value();
        let (s, c) = half_angle_sin_cos(0.5 * x.value(), self.half_loc);
        // kappa sin(x - loc); (2 kappa would overflow for kappa near f64::MAX.)
        let slope = kappa * (2.0 * s * c);
        partials.push(*x, -slope);
        partials.push(self.loc, slope);
        if !self.concentration.is_constant() {
            let d_kappa = one_minus_bessel_ratio(kappa) - 2.0 * s * s;
            partials.push(self.concentration, d_kappa);
        }
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
        Some(one_minus_bessel_ratio(self.concentration.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::ErasedDistribution;
    use crate::testing::{self, r, rs};
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
        let pdf = move |x: f64| d.log_prob(&r(x.clamp(-PI, PI))).exp();
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
                testing::assert_close(d.log_prob(&r(x)), want, 1e-14, &what);
            }
        }
    }

    /// `cos(X - loc)` has mean `A = I1/I0 = 1 - variance()` and variance `1 - A/k - A^2`;
    /// `sin(X - loc)` has mean 0 and variance `A/k` (from `I0 - I2 = (2/k) I1`).
    fn check_trig_moments(d: &VonMises, seed: u64) {
        let mut r = testing::rng(seed);
        let xs: Vec<f64> = (0..testing::MOMENT_DRAWS)
            .map(|_| d.sample(&mut r).value())
            .collect();
        let (k, loc) = (d.concentration().value(), d.loc().value());
        let a = 1.0 - d.variance().unwrap();
        let cos: Vec<f64> = xs.iter().map(|x| (x - loc).cos()).collect();
        let sin: Vec<f64> = xs.iter().map(|x| (x - loc).sin()).collect();
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
            .map(|_| (d.sample(&mut r).value() - 1.0) * k.sqrt())
            .collect();
        testing::check_moments_of(&z, 0.0, 1.0, "VonMises(1, 1e10) standardised");
        // At the far end of the range: finite draws and densities, no hang.
        for k in [1e300, f64::MAX] {
            let d = VonMises::new(0.0, k).unwrap();
            let mut r = testing::rng(11);
            for _ in 0..100 {
                let x = d.sample(&mut r);
                assert!(
                    x.value().abs() < 1e-140 && d.log_prob(&x).is_finite(),
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
            let draw = || d.sample(&mut r).value();
            testing::ks_test_with(draw, numeric_cdf(d), &format!("{d:?}"));
        }
        // Tiny concentration: uniform on the circle up to O(kappa); also subnormal kappa.
        for k in [1e-300, 5e-324] {
            let d = VonMises::new(0.7, k).unwrap();
            let mut r = testing::rng(30);
            let uniform = |x: f64| (x + PI) / TAU;
            let draw = || d.sample(&mut r).value();
            testing::ks_test_with(draw, uniform, &format!("{d:?}"));
        }
    }

    #[test]
    fn value_stability() {
        // Pinned: the first draws for seed 42 must not change without notice.
        testing::assert_first_draws(
            &VonMises::new(1.0, 2.0).unwrap(),
            42,
            &rs(&[2.7259440216126958, 1.8695475203966363, 1.801195032375602]),
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
        assert!(d.log_prob(&r(PI)).is_finite() && d.log_prob(&r(-PI)).is_finite());
        // The two ends are the same point of the circle.
        assert!((d.log_prob(&r(PI)) - d.log_prob(&r(-PI))).abs() < 1e-14);
        // Only the non-finite numbers are outside the support (the real line).
        for x in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(d.log_prob(&r(x)), f64::NEG_INFINITY, "x = {x}");
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
                    (d.log_prob(&r(x)) - d.log_prob(&r(y))).abs() < 1e-12,
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
        assert!((far.log_prob(&r(-3.0)) - d.log_prob(&r(-3.0))).abs() < 1e-13);
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

    fn von_mises_at(v: &[Real]) -> (VonMises, Real) {
        (VonMises::new(v[1], v[2]).unwrap(), v[0])
    }

    fn grad(point: &[f64]) -> Vec<f64> {
        testing::log_prob_gradient(von_mises_at, point)
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Inputs (x, loc, kappa). The log-density varies in x and loc over the width of its
        // peak, 1 / sqrt(kappa), or over a radian (its period is 2 pi), whichever is smaller, and
        // in kappa over kappa (the distance to 0; for large kappa it is a function of ln kappa
        // and 1 / kappa).
        for &(x, loc, kappa) in &[
            (1.0_f64, 0.5_f64, 2.0_f64),
            (-3.0, 3.0, 0.3),
            (0.5, 0.0, 1e-6),
            (100.0, 0.7, 5.0),
            (3.1, -3.1, 4.0),
            (2.0, 1e6, 3.0),
            (0.02, 0.0, 1e4),
            (0.003, 0.0, 1e5),
            (0.2, 0.0, 49.9),
            (0.2, 0.0, 50.1),
            (1e-5, 0.0, 1e10),
            (1.5, -0.5, 1e-300),
        ] {
            let width = kappa.sqrt().recip().min(1.0);
            let scales = [width, width, kappa];
            testing::check_log_prob_gradient(von_mises_at, &[x, loc, kappa], &scales);
        }
    }

    /// `1 - I1 / I0` on both sides of the switch to the series at 50, against mpmath (60 digits;
    /// from 1e4 on, the series to 25 terms in 60-digit arithmetic).
    #[test]
    fn bessel_ratio_matches_mpmath() {
        for (kappa, want) in [
            (1e-300, 1.0),
            (1e-3, 0.999_500_000_062_5),
            (1.0, 0.553_610_034_103_465_5),
            (10.0, 0.051_400_174_045_154_04),
            (49.9, 0.010_071_279_592_553_98),
            (50.0, 0.010_051_032_621_502_247),
            (50.1, 0.010_030_866_901_447_317),
            (100.0, 0.005_012_626_994_831_235),
            (1e4, 5.000_125_012_501_954e-5),
            (1e10, 5.000_000_000_125e-11),
            (1e300, 5e-301),
        ] {
            let got = one_minus_bessel_ratio(kappa);
            assert!(
                (got - want).abs() <= 1e-14 * want,
                "kappa = {kappa}: {got:e} vs {want:e}"
            );
        }
    }

    #[test]
    fn gradient_closed_forms() {
        // A quarter turn from loc: d/dx = -kappa, d/dloc = kappa and
        // d/dkappa = cos(pi / 2) - I1 / I0 = -(1 - 0.55361...) for kappa = 1.
        let g = grad(&[0.25 + FRAC_PI_2, 0.25, 1.0]);
        assert!(
            (g[0] + 1.0).abs() < 1e-15 && (g[1] - 1.0).abs() < 1e-15,
            "{g:?}"
        );
        assert!(
            (g[2] + (1.0 - 0.553_610_034_103_465_5)).abs() < 1e-15,
            "{g:?}"
        );
        // At the mode: d/dx = 0 and d/dkappa = 1 - I1 / I0, about 1 / (2 kappa) for large
        // kappa (where 1 - i1e / i0e would keep few digits), even a whole number of turns away
        // (where x - loc is a multiple of 2 pi only to within 1e-14, which d/dx = -kappa sin
        // shows and d/dkappa, quadratic in it, does not).
        for kappa in [0.5, 30.0, 1e6, 1e12] {
            for turns in [0.0, 3.0, -10.0] {
                let g = grad(&[1.0 + turns * TAU, 1.0, kappa]);
                let want = one_minus_bessel_ratio(kappa);
                assert!(g[0].abs() <= 1e-13 * kappa, "{g:?}");
                assert!(
                    (g[2] - want).abs() <= 1e-13 * want,
                    "{kappa}, {turns}: {g:?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn finite_inside_support(
            loc in -1e3..1e3_f64, k in 1e-8..1e8_f64, x in -PI..=PI,
        ) {
            let d = VonMises::new(loc, k).unwrap();
            prop_assert!(d.log_prob(&r(x)).is_finite());
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
            prop_assert!((d.log_prob(&r(x)) - d.log_prob(&r(y))).abs() <= 1e-9);
        }
    }
}
