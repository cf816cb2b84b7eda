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
    fn ln_beta_matches_gamma_identity() {
        // B(2, 3) = 1! 2! / 4! = 1 / 12.
        assert!((ln_beta(2.0, 3.0) - (1.0_f64 / 12.0).ln()).abs() < 1e-14);
    }
}
