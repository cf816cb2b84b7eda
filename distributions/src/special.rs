//! Small numerically careful helpers shared by several families. The special functions
//! themselves come from `libm` (lgamma, erf, erfc) and `spec_math`, a port of the Cephes library
//! that SciPy also builds on (scaled Bessel functions, incomplete gamma and beta functions).

/// `ln(sigmoid(x)) = -ln(1 + exp(-x))`, accurate for large `|x|`.
pub(crate) fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// `ln Gamma(x)` for `x > 0`.
pub(crate) fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// `ln(2 pi) / 2`.
pub(crate) const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Where [`stirling_corr`] switches from the difference of `ln Gamma` and Stirling's formula to
/// Stirling's series.
const STIRLING_SERIES_FROM: f64 = 10.0;

/// The remainder of Stirling's formula,
/// `ln Gamma(x) - ((x - 1/2) ln x - x + ln(2 pi) / 2)`, for `x > 0`.
///
/// For `x >= 10` it is Stirling's series `sum_k B_2k / (2k (2k - 1) x^(2k - 1))` to eight terms,
/// whose truncation error is below `2e-18` there (relative `2e-16`); it is about `1 / (12 x)`, so
/// formulas built from it need not take differences of `ln Gamma` at large arguments, which
/// cancel. Below 10 it is the difference itself (absolute error about `3e-15`).
pub(crate) fn stirling_corr(x: f64) -> f64 {
    if x >= STIRLING_SERIES_FROM {
        let r = 1.0 / x;
        let r2 = r * r;
        r * (1.0 / 12.0
            + r2 * (-1.0 / 360.0
                + r2 * (1.0 / 1260.0
                    + r2 * (-1.0 / 1680.0
                        + r2 * (1.0 / 1188.0
                            + r2 * (-691.0 / 360_360.0
                                + r2 * (1.0 / 156.0 + r2 * (-3617.0 / 122_400.0))))))))
    } else {
        ln_gamma(x) - ((x - 0.5) * x.ln() - x + HALF_LN_2PI)
    }
}

/// `ln(1 + u) - u` for `u > -1`, accurate also where it is tiny (`-u^2 / 2` for small `u`).
pub(crate) fn log1pmx(u: f64) -> f64 {
    if u.abs() < 0.25 {
        // The alternating series -u^2/2 + u^3/3 - ...; 25 terms reach 0.25^25 / 25 < 1e-16 of
        // the first, and the loop stops as soon as a term no longer changes the sum.
        let mut power = u * u;
        let mut sum = -0.5 * power;
        for n in 3..28 {
            power *= -u;
            let term = -power / f64::from(n);
            let next = sum + term;
            if next == sum {
                break;
            }
            sum = next;
        }
        sum
    } else {
        u.ln_1p() - u
    }
}

/// The log normalising constant of Student's t with `df` degrees of freedom and unit scale,
/// `ln Gamma((df + 1) / 2) - ln Gamma(df / 2) - ln(df pi) / 2`, for every `df > 0`: a relative
/// error of a few `1e-16` from `df = 5e-324` to `df = f64::MAX`.
///
/// The two `ln Gamma` grow like `df ln df` while their difference is about `ln(df / 2) / 2`, so
/// for `df >= 20` it is computed without them: with `x = df / 2` the constant is
/// `-ln(2 pi) / 2 + x log1pmx(1 / (2x)) + corr(x + 1/2) - corr(x)` (`corr` the remainder of
/// Stirling's formula), which is Stirling's formula for both `ln Gamma` with the large terms
/// cancelled by hand. Below 20 the `ln Gamma` are small and taken directly; where `df / 2` would
/// round (subnormal `df`), `ln Gamma(df / 2) = -ln(df / 2)` to far below an ulp.
pub(crate) fn student_t_log_norm(df: f64) -> f64 {
    if df >= 2.0 * STIRLING_SERIES_FROM {
        let x = 0.5 * df;
        -HALF_LN_2PI + x * log1pmx(0.5 / x) + (stirling_corr(x + 0.5) - stirling_corr(x))
    } else {
        let ln_gamma_half_df = if df >= 2.0 * f64::MIN_POSITIVE {
            ln_gamma(0.5 * df)
        } else {
            // ln Gamma(t) = -ln t - gamma t + O(t^2), and gamma t < 1e-308 here.
            std::f64::consts::LN_2 - df.ln()
        };
        ln_gamma(0.5 * df + 0.5) - ln_gamma_half_df - 0.5 * (df.ln() + std::f64::consts::PI.ln())
    }
}

/// `ln B(a, b) = ln Gamma(a) + ln Gamma(b) - ln Gamma(a + b)` for `a, b > 0`.
pub(crate) fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_sigmoid_is_stable() {
        assert_eq!(log_sigmoid(0.0), -std::f64::consts::LN_2);
        assert!((log_sigmoid(-800.0) + 800.0).abs() < 1e-12);
        assert!(log_sigmoid(800.0) <= 0.0 && log_sigmoid(800.0) > -1e-300);
    }

    #[test]
    fn stirling_corr_is_continuous_and_small() {
        // Both sides of the switch agree, and the series matches its first term far out.
        let below = ln_gamma(10.0) - (9.5 * 10.0_f64.ln() - 10.0 + HALF_LN_2PI);
        assert!((stirling_corr(10.0) - below).abs() < 1e-14);
        assert!((stirling_corr(1e8) * 12e8 - 1.0).abs() < 1e-15);
        assert_eq!(stirling_corr(f64::INFINITY), 0.0);
    }

    #[test]
    fn log1pmx_is_accurate() {
        assert_eq!(log1pmx(0.0), 0.0);
        // mpmath (40 digits): log1p(1e-6) - 1e-6 = -4.999996666669166212e-13.
        assert!((log1pmx(1e-6) / -4.999_996_666_669_166e-13 - 1.0).abs() < 1e-15);
        // mpmath; the error is a few ulps of the larger of the two terms, ln(1 + u) and u.
        for (u, want) in [
            (-0.24, -0.034_436_845_701_760_29),
            (-0.1, -0.005_360_515_657_826_302),
            (0.1, -0.004_689_820_195_675_14),
            (0.2, -0.017_678_443_206_045_377),
            (0.3, -0.037_635_735_532_508_94),
            (2.0, -0.901_387_711_331_890_3),
        ] {
            assert!((log1pmx(u) - want).abs() < 1e-15 * u.abs(), "u = {u}");
        }
        assert_eq!(log1pmx(1e-300), 0.0);
    }

    #[test]
    fn ln_beta_matches_gamma_identity() {
        // B(2, 3) = 1! 2! / 4! = 1 / 12.
        assert!((ln_beta(2.0, 3.0) - (1.0_f64 / 12.0).ln()).abs() < 1e-14);
    }
}
