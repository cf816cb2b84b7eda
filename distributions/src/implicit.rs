//! Implicit reparameterisation gradients (Figurnov, Mohamed and Mnih, "Implicit
//! Reparameterization Gradients", NeurIPS 2018) of the gamma family, and the log-gamma draws the
//! beta and Dirichlet families are built from.
//!
//! A gamma draw is made by rejection (Marsaglia and Tsang), which has no differentiable path
//! from the shape to the draw. Its implicit gradient is that of the quantile at the draw's level:
//! for `z ~ Gamma(a, 1)` with `u = P(a, z)` held fixed (`P` the regularised lower incomplete
//! gamma function), `dz/da = -(dP(a, z)/da) / p(z; a)`, `p(z; a) = z^(a - 1) e^-z / Gamma(a)` the
//! density. It depends on the draw only, not on how it was made. torch's `_standard_gamma_grad`
//! computes the same derivative from fitted approximations; here it is computed to near machine
//! precision (checked against mpmath, `reference/gen_implicit.py`), from three expansions of
//! `P`, each differentiated in `a`, whose common factor `z^a e^-z / Gamma(a)` cancels against the
//! density:
//! - below `z = a + 1`, the power series `P = z^a e^-z / Gamma(a + 1) sum_n z^n / ((a + 1) ...
//!   (a + n))`: `d ln z / da = -(S (ln z - psi(a + 1)) + S') / a` with `S` the sum and `S'` its
//!   derivative in `a`, a sum of terms of one sign;
//! - above, the continued fraction `Q = 1 - P = z^a e^-z / Gamma(a) F` (Legendre's, evaluated by
//!   Lentz's method on dual numbers, so that the derivative `F'` comes with `F`):
//!   `d ln z / da = F (ln z - psi(a)) + F'`, two positive terms;
//! - for `a >= 100` within 30% of `a` (where both would take `O(sqrt a)` terms), Temme's uniform
//!   asymptotic expansion `P = Phi(eta sqrt a) - phi(eta sqrt a) / sqrt(a) sum_k C_k(eta) / a^k`
//!   (DLMF 8.12), differentiated in closed form (see [`temme`]).

use crate::special::{gamma_shape_score, log1pmx, stirling_corr};
use pyro_tape::Real;
use rand::distr::Open01;
use rand::{Rng, RngExt};
use rand_distr::Gamma;
use std::ops::{Add, Div, Mul};

/// `d ln z / d a` for a draw `z` of `Gamma(a, 1)` at a fixed level of its distribution function:
/// the implicit reparameterisation gradient `dz/da` over `z`. Given `z` (`>= 0`; it may have
/// underflowed, even to 0, or overflowed for shapes near `f64::MAX`) and `ln z` (finite).
///
/// Against mpmath (`reference/implicit.json`: 392 points, shapes from `1e-300` to `1e15`, the
/// same formulas serving beyond) its relative error is below `4e-15`; it takes at most a few
/// hundred terms (under a microsecond), the most just below shape 100 near `z = a + 1`.
pub(crate) fn gamma_log_draw_grad(a: f64, z: f64, ln_z: f64) -> f64 {
    if a >= TEMME_FROM {
        // Exact where z is within a factor 2 of a (Sterbenz); from the logarithm where z has
        // overflowed (shapes near f64::MAX).
        let mu = if z.is_normal() {
            (z - a) / a
        } else {
            (ln_z - a.ln()).exp_m1()
        };
        if mu.abs() <= TEMME_MAX_DEVIATION {
            return temme(a, mu);
        }
    }
    if z <= a + 1.0 {
        series(a, z, ln_z)
    } else {
        continued_fraction(a, z, ln_z)
    }
}

/// From this shape on, draws near the mean take Temme's expansion ([`temme`]).
const TEMME_FROM: f64 = 100.0;

/// The largest relative deviation `|z - a| / a` at which Temme's expansion is used: within it
/// `|eta| <= 0.34`, where 25 terms of each `C_k`'s power series in `eta` reach `1e-20`.
const TEMME_MAX_DEVIATION: f64 = 0.3;

/// A stop for the loops, never reached for finite inputs (the series and the continued fraction
/// take at most a few hundred terms where they are used).
const MAX_TERMS: u32 = 100_000;

/// The power series (see the module documentation), for `z <= a + 1`.
fn series(a: f64, z: f64, ln_z: f64) -> f64 {
    // c_n = z^n / ((a + 1) ... (a + n)) and its derivative in a,
    // dc_n = (dc_{n-1} z - c_n) / (a + n); c_n decreases (z / (a + n) < 1 for n >= 1).
    let (mut c, mut dc) = (1.0, 0.0);
    let (mut s, mut ds) = (1.0_f64, 0.0_f64);
    let mut n = 1.0;
    for _ in 0..MAX_TERMS {
        let an = a + n;
        c *= z / an;
        dc = (dc * z - c) / an;
        s += c;
        ds += dc;
        if c <= f64::EPSILON * s && dc.abs() <= f64::EPSILON * ds.abs() {
            break;
        }
        n += 1.0;
    }
    // ln z - psi(a + 1), without cancelling its terms of size ln a for large shapes.
    let score = gamma_shape_score(a + 1.0, z, ln_z, z - (a + 1.0));
    -(s * score + ds) / a
}

/// A number and its derivative (forward-mode differentiation of the continued fraction).
#[derive(Clone, Copy, Debug)]
struct Dual {
    v: f64,
    d: f64,
}

impl Dual {
    fn recip(self) -> Dual {
        let r = 1.0 / self.v;
        Dual {
            v: r,
            d: -self.d * r * r,
        }
    }
}

impl Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual {
            v: self.v + o.v,
            d: self.d + o.d,
        }
    }
}

impl Mul for Dual {
    type Output = Dual;
    fn mul(self, o: Dual) -> Dual {
        Dual {
            v: self.v * o.v,
            d: self.d * o.v + self.v * o.d,
        }
    }
}

impl Div for Dual {
    type Output = Dual;
    fn div(self, o: Dual) -> Dual {
        let q = self.v / o.v;
        Dual {
            v: q,
            d: (self.d - q * o.d) / o.v,
        }
    }
}

/// Legendre's continued fraction (see the module documentation), for `z > a + 1`:
/// `F = 1 / (z + 1 - a - 1 (1 - a) / (z + 3 - a - 2 (2 - a) / (z + 5 - a - ...)))`, by the
/// modified Lentz method (as Numerical Recipes' `gcf`) on dual numbers carrying `d/da`.
fn continued_fraction(a: f64, z: f64, ln_z: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |x: Dual| {
        if x.v.abs() < TINY {
            Dual { v: TINY, d: x.d }
        } else {
            x
        }
    };
    // b_i = z + 2i + 1 - a (d/da = -1), a_i = -i (i - a) (d/da = i).
    let mut b = Dual {
        v: z + 1.0 - a,
        d: -1.0,
    };
    let mut c = Dual {
        v: 1.0 / TINY,
        d: 0.0,
    };
    let mut d = b.recip();
    let mut h = d;
    let mut i = 1.0;
    for _ in 0..MAX_TERMS {
        let an = Dual {
            v: -i * (i - a),
            d: i,
        };
        b.v += 2.0;
        d = guard(an * d + b).recip();
        c = guard(b + an / c);
        let step = c * d;
        h = h * step;
        if (step.v - 1.0).abs() <= f64::EPSILON && (h.v * step.d).abs() <= f64::EPSILON * h.d.abs()
        {
            break;
        }
        i += 1.0;
    }
    // ln z - psi(a), without cancelling its terms of size ln a for large shapes.
    let score = gamma_shape_score(a, z, ln_z, z - a);
    h.v * score + h.d
}

/// Temme's uniform expansion of `P(a, z)` differentiated in `a`, for `a >= 100` and
/// `mu = z / a - 1` in `[-0.3, 0.3]`.
///
/// With `lambda = z / a`, `eta = sign(mu) sqrt(2 (lambda - 1 - ln lambda))`, `xi = eta sqrt(a)`
/// and `S = sum_k C_k(eta) / a^k`, `P = Phi(xi) - phi(xi) S / sqrt(a)`, and the density is
/// `p(z) = phi(xi) e^-corr(a) / (sqrt(a) lambda)` (Stirling's formula, `corr` its remainder). At
/// fixed `z`, `d eta / da = -mu / (a eta)`, so `-dP/da / (z p)` is
/// `e^corr(a) / a [mu / eta - eta / 2 - (eta^2 / 2 - mu) S - S / (2a) + dS/da]` with
/// `dS/da = sum_k (C_k'(eta) d eta / da - k C_k(eta) / a) / a^k`. The `C_k` are their power
/// series in `eta` (DiDonato and Morris; the coefficients are SciPy's, from `spec_math`); eight
/// of them leave a remainder below `C_8 / a^8 < 1e-19` at `a = 100`.
fn temme(a: f64, mu: f64) -> f64 {
    let half_eta2 = -log1pmx(mu);
    let eta = (2.0 * half_eta2).sqrt().copysign(mu);
    // mu / eta -> 1 at the mean.
    let mu_over_eta = if eta == 0.0 { 1.0 } else { mu / eta };
    let d_eta = -mu_over_eta / a;
    let (mut s, mut ds, mut a_pow) = (0.0, 0.0, 1.0);
    for (k, row) in TEMME_D.iter().enumerate() {
        // C_k(eta) and C_k'(eta) by Horner's rule.
        let (mut c, mut dc) = (0.0, 0.0);
        for &coefficient in row.iter().rev() {
            dc = dc * eta + c;
            c = c * eta + coefficient;
        }
        s += c * a_pow;
        ds += (dc * d_eta - k as f64 * c / a) * a_pow;
        a_pow /= a;
    }
    let bracket = mu_over_eta - 0.5 * eta - (half_eta2 - mu) * s - 0.5 * s / a + ds;
    stirling_corr(a).exp() / a * bracket
}

/// The coefficients `d_kn` of `C_k(eta) = sum_n d_kn eta^n` in Temme's expansion, `k < 8`: the
/// first rows of the table `D` of SciPy's `igam.c` (as ported by `spec_math`, MIT or Apache-2.0),
/// the same doubles written in their shortest form.
#[rustfmt::skip]
const TEMME_D: [[f64; 25]; 8] = [
    [
        -0.3333333333333333, 0.08333333333333333, -0.014814814814814815, 0.0011574074074074073,
        0.0003527336860670194, -0.0001787551440329218, 3.919263178522438e-05,
        -2.1854485106799924e-06, -1.85406221071516e-06, 8.296711340953087e-07,
        -1.7665952736826078e-07, 6.707853543401498e-09, 1.0261809784240309e-08,
        -4.382036018453353e-09, 9.14769958223679e-10, -2.551419399494625e-11,
        -5.830772132550426e-11, 2.4361948020667415e-11, -5.0276692801141755e-12,
        1.1004392031956135e-13, 3.3717632624009856e-13, -1.392388722418162e-13,
        2.8534893807047445e-14, -5.139111834242572e-16, -1.9752288294349442e-15,
    ],
    [
        -0.001851851851851852, -0.003472222222222222, 0.0026455026455026454,
        -0.0009902263374485596, 0.00020576131687242798, -4.018775720164609e-07,
        -1.8098550334489977e-05, 7.64916091608111e-06, -1.6120900894563446e-06,
        4.647127802807434e-09, 1.378633446915721e-07, -5.752545603517705e-08,
        1.1951628599778148e-08, -1.7543241719747647e-11, -1.0091543710600413e-09,
        4.162792991842583e-10, -8.56390702649298e-11, 6.067215101604758e-14,
        7.1624989648114856e-12, -2.933186643771437e-12, 5.996696365683689e-13,
        -2.1671786527323313e-16, -4.978339972369262e-14, 2.0291628823713425e-14,
        -4.13125571381061e-15,
    ],
    [
        0.004133597883597883, -0.0026813271604938273, 0.0007716049382716049,
        2.0093878600823047e-06, -0.00010736653226365161, 5.2923448829120125e-05,
        -1.2760635188618728e-05, 3.423578734096138e-08, 1.3721957309062932e-06,
        -6.298992138380055e-07, 1.4280614206064242e-07, -2.0477098421990866e-10,
        -1.409252991086752e-08, 6.228974084922022e-09, -1.3670488396617112e-09,
        9.428356159014678e-13, 1.2872252400089318e-10, -5.5645956134363323e-11,
        1.197593554636698e-11, -4.1689782251838634e-15, -1.0940640427884595e-12,
        4.662239946390136e-13, -9.905105763906907e-14, 1.8931876768373515e-17,
        8.859221872591127e-15,
    ],
    [
        0.0006494341563786008, 0.00022947209362139917, -0.0004691894943952557,
        0.00026772063206283885, -7.561801671883977e-05, -2.396505113867297e-07,
        1.1082654115347302e-05, -5.6749528269915965e-06, 1.4230900732435883e-06,
        -2.7861080291528143e-11, -1.6958404091930278e-07, 8.099464905388083e-08,
        -1.9111168485973655e-08, 2.3928620439808118e-12, 2.0620131815488797e-09,
        -9.460496661855133e-10, 2.1541049775774907e-10, -1.388823336813903e-14,
        -2.1894761681963938e-11, 9.790998951171684e-12, -2.178219188018096e-12,
        6.208819573407901e-17, 2.126978363279737e-13, -9.344688791517433e-14,
        2.045367122678285e-14,
    ],
    [
        -0.0008618882909167117, 0.0007840392217200666, -0.0002990724803031902,
        -1.4638452578843418e-06, 6.641498215465122e-05, -3.968365047179435e-05,
        1.1375726970678419e-05, 2.507497226237533e-10, -1.6954149536558305e-06,
        8.907507532205309e-07, -2.292934834000805e-07, 2.956794137544049e-11,
        2.8865829742708783e-08, -1.4189739437803219e-08, 3.4463580499464896e-09,
        -2.3024517174528067e-13, -3.9409233028046403e-10, 1.86023389685045e-10,
        -4.356323005056618e-11, 1.278600101629623e-15, 4.67927502665792e-12,
        -2.149246470613483e-12, 4.908815614809652e-13, -6.33859148489156e-18,
        -5.045332069080094e-14,
    ],
    [
        -0.00033679855336635813, -6.972813758365858e-05, 0.0002772753244959392,
        -0.00019932570516188847, 6.797780477937208e-05, 1.419062920643967e-07,
        -1.3594048189768693e-05, 8.018470256334202e-06, -2.291481176508095e-06,
        -3.252473551298454e-10, 3.4652846491085265e-07, -1.8447187191171344e-07,
        4.8240967037894184e-08, -1.7989466721743514e-14, -6.306194500013523e-09,
        3.162417628774568e-09, -7.840924253697429e-10, 5.192679165254041e-15,
        9.358944242306784e-11, -4.513426216163278e-11, 1.0799129993116828e-11,
        -3.661886712685252e-17, -1.210902069055155e-12, 5.680743584990564e-13,
        -1.3249659916340829e-13,
    ],
    [
        0.0005313079364639922, -0.0005921664373536939, 0.0002708782096718045,
        7.902353232660328e-07, -8.153969367561969e-05, 5.61168275310625e-05,
        -1.8329116582843375e-05, -3.0796134506033047e-09, 3.465155368803609e-06,
        -2.0291327396058603e-06, 5.788792863149004e-07, 2.338630673826657e-13,
        -8.828600746330484e-08, 4.7435958880408125e-08, -1.2545415020710382e-08,
        8.649648858010293e-14, 1.6846058979264062e-09, -8.575492823577594e-10,
        2.1598224929232125e-10, -7.613230520476153e-16, -2.6639822008536144e-11,
        1.3065700536611057e-11, -3.1799163902367977e-12, 4.710976121367431e-18,
        3.6902800842763465e-13,
    ],
    [
        0.00034436760689237765, 5.171790908260592e-05, -0.00033493161081142234,
        0.0002812695154763237, -0.00010976582244684731, -1.2741009095484485e-07,
        2.7744451511563645e-05, -1.8263488805711332e-05, 5.7876949497350525e-06,
        4.93875893393627e-10, -1.0595367014026043e-06, 6.166714376110408e-07,
        -1.7562973359060463e-07, -1.297447328701544e-12, 2.695423606288966e-08,
        -1.4578352908731272e-08, 3.887645959386175e-09, -3.881002251019412e-17,
        -5.327994173877286e-10, 2.7437977643314844e-10, -6.995796092070568e-11,
        2.589986387486848e-17, 8.856689099669639e-12, -4.403168815871311e-12,
        1.0865561947091654e-12,
    ],
];

/// Draws `ln G` for `G ~ Gamma(a, 1)`. For `a < 1`, `G = G' U^(1 / a)` with
/// `G' ~ Gamma(a + 1, 1)` and `U` uniform, whose logarithm stays finite where `G` underflows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LogGamma {
    gamma: Gamma<f64>,
    /// `1 / a` for `a < 1`, else 0.
    inv_small_shape: f64,
}

impl LogGamma {
    /// The sampler for shape `a`, or `None` where `rand_distr` refuses it.
    pub(crate) fn new(a: f64) -> Option<Self> {
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

    /// One draw of `ln G`.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let g: f64 = rng.sample(self.gamma);
        if self.inv_small_shape == 0.0 {
            g.ln()
        } else {
            let u: f64 = rng.sample(Open01);
            g.ln() + u.ln() * self.inv_small_shape
        }
    }

    /// One draw of `ln G` as a function of the shape `shape` (whose value this sampler was made
    /// for), with its implicit gradient `d ln G / d shape` where the shape is tracked: the draw
    /// of [`sample`](LogGamma::sample).
    pub(crate) fn rsample<R: Rng + ?Sized>(&self, shape: Real, rng: &mut R) -> Real {
        let ln_g = self.sample(rng);
        if shape.is_constant() || !ln_g.is_finite() {
            return Real::constant(ln_g);
        }
        let grad = gamma_log_draw_grad(shape.value(), ln_g.exp(), ln_g);
        Real::record(ln_g, &[(shape, grad)])
    }
}

/// A Dirichlet draw with concentrations `shapes` (the values `samplers` were made for):
/// independent `ln G_i` normalised in log space, `x_i = e^(ln G_i - m) / sum_j e^(ln G_j - m)`
/// with `m = max_j ln G_j` (a constant shift, which the gradient does not see), so that small
/// concentrations, whose gamma draws underflow, still give points on the simplex. The gradient
/// flows from each `x_i` to each tracked shape through the implicit gradients of the `ln G_j`.
///
/// Where every `ln G_i` is `-inf` (concentrations below about `1e-306`) the draw is a vertex,
/// vertex `i` with probability `a_i / a_0` (the limit of the distribution), with no gradient.
pub(crate) fn dirichlet_draw<R: Rng + ?Sized>(
    samplers: &[LogGamma],
    shapes: &[Real],
    rng: &mut R,
) -> Vec<Real> {
    let ln_g: Vec<Real> = samplers
        .iter()
        .zip(shapes)
        .map(|(s, &a)| s.rsample(a, rng))
        .collect();
    let max = ln_g
        .iter()
        .map(|x| x.value())
        .fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        let total: f64 = shapes.iter().map(|a| a.value()).sum();
        let mut u = rng.random::<f64>() * total;
        let last = shapes.len() - 1;
        let vertex = (0..last)
            .find(|&i| {
                u -= shapes[i].value();
                u < 0.0
            })
            .unwrap_or(last);
        return (0..shapes.len())
            .map(|i| Real::constant(if i == vertex { 1.0 } else { 0.0 }))
            .collect();
    }
    // Each e^(ln G_i - m) is in [0, 1] and one of them is 1, so the sum is in [1, K].
    let g: Vec<Real> = ln_g.into_iter().map(|l| (l - max).exp()).collect();
    let sum: Real = g.iter().sum();
    g.into_iter().map(|gi| gi / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    fn number(j: &Json) -> f64 {
        j.as_str()
            .expect("a number as a string")
            .parse()
            .expect("a number")
    }

    /// `C_0(eta) = 1 / mu - 1 / eta` and
    /// `C_1(eta) = 1 / eta^3 - 1 / mu^3 - 1 / mu^2 - 1 / (12 mu)` (DLMF 8.12.8 and 8.12.9) at
    /// `|eta| = 0.3`, against the copied series (the closed forms cancel: `C_1` loses about
    /// four digits).
    #[test]
    fn temme_coefficients_match_their_closed_forms() {
        for eta in [0.3_f64, -0.3] {
            // mu = lambda - 1 with lambda - 1 - ln(lambda) = eta^2 / 2, by Newton's method.
            let mut mu = eta;
            for _ in 0..50 {
                mu -= (-log1pmx(mu) - 0.5 * eta * eta) / (mu / (1.0 + mu));
            }
            let series = |row: &[f64; 25]| row.iter().rev().fold(0.0, |c, &d| c * eta + d);
            let c0 = 1.0 / mu - 1.0 / eta;
            let c1 = eta.powi(-3) - mu.powi(-3) - mu.powi(-2) - 1.0 / (12.0 * mu);
            assert!(
                (series(&TEMME_D[0]) - c0).abs() < 1e-14 * c0.abs(),
                "eta {eta}"
            );
            assert!(
                (series(&TEMME_D[1]) - c1).abs() < 1e-10 * c1.abs(),
                "eta {eta}"
            );
        }
    }

    /// The worst relative error of `gamma_log_draw_grad` against `reference/implicit.json`
    /// (mpmath, two independent methods agreeing to 1e-25; see `gen_implicit.py`).
    #[test]
    fn matches_mpmath() {
        let all: Json = serde_json::from_str(include_str!("../reference/implicit.json")).unwrap();
        let mut worst = (0.0, 0.0, 0.0);
        for p in all["points"].as_array().unwrap() {
            let (a, z, want) = (number(&p["a"]), number(&p["z"]), number(&p["dz_da"]));
            let got = z * gamma_log_draw_grad(a, z, z.ln());
            let err = ((got - want) / want).abs();
            assert!(
                err.is_finite(),
                "a = {a}, z = {z}: got {got}, mpmath {want}"
            );
            if err > worst.0 {
                worst = (err, a, z);
            }
        }
        println!(
            "worst relative error {:e} at a = {}, z = {}",
            worst.0, worst.1, worst.2
        );
        assert!(worst.0 < 1e-13, "{worst:?}");
    }
}
