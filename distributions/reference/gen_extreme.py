#!/usr/bin/env python3
"""High-precision reference values for the pyro-distributions tests, computed with mpmath.

Run from this folder:  python3 gen_extreme.py   (needs mpmath; tested with mpmath 1.4.1)
Writes extreme.json. `gen_reference.py` covers ordinary parameters with SciPy; this script covers
what double-precision SciPy cannot vouch for: log-densities at extreme parameters and values (huge
and subnormal, where the formulas overflow or cancel), the von Mises density far from [-pi, pi],
and Student's t at very large degrees of freedom.

Every value is computed in arbitrary precision from the exact binary value of each double input
(an `mpf` built from a float is exact), then rounded to the nearest double. Numbers are written as
strings (Python's `repr`, which round-trips, and "inf", "-inf", "nan"), so that a test parses the
very doubles the reference was computed at (JSON readers may round decimal numbers differently).

Parameterisations follow torch.distributions / Pyro, as in gen_reference.py.
"""
import json
import math

import mpmath as mp

MAX = 1.7976931348623157e308
TINY = 5e-324


def s(x):
    """A double (or an mpf rounded to the nearest double) as a string."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


def f(x):
    """The exact value of a double as an mpf."""
    return mp.mpf(x)


# --------------------------------------------------------------------------------------------
# Von Mises: the density is 2 pi-periodic on the real line (as in torch and SciPy):
#   log p(x) = kappa cos(x - loc) - ln(2 pi I0(kappa)).
# x - loc is taken exactly; the working precision (1400 bits) exceeds the 1024 + 53 bits that
# reducing the largest double modulo 2 pi needs.

def von_mises_log_prob(loc, kappa, x):
    with mp.workprec(1400):
        d = f(x) - f(loc)
        c = mp.cos(d)
    with mp.workdps(60):
        log_norm = mp.log(2 * mp.pi) + mp.log(mp.besseli(0, f(kappa)))
        return f(kappa) * c - log_norm


def nearest_double(v):
    with mp.workprec(1400):
        return float(v)


def von_mises_cases():
    cases = []
    params = [(0.0, 1.0), (0.5, 50.0), (-2.0, 1e5), (1e6, 2.0), (1e15, 0.3), (-1e300, 1.0),
              (MAX, 1.0), (3.0, 1e-3)]
    for loc, kappa in params:
        xs = [0.0, 4.0, -7.0, 100.0, 1e6 + 0.3, 2.0**60, 1e15, -1e15, 1e300, -1e300, MAX, -MAX,
              TINY, loc]
        # The doubles nearest to the periodic copies loc + 2 pi k of the mode.
        with mp.workprec(1400):
            for k in [1, -3, 1000, 10**9, 10**14, 10**20]:
                xs.append(nearest_double(f(loc) + 2 * mp.pi * k))
        points = [{"x": s(x), "log_prob": s(von_mises_log_prob(loc, kappa, x))} for x in xs]
        cases.append({"family": "VonMises", "params": {"loc": s(loc), "concentration": s(kappa)},
                      "points": points})
    return cases


# --------------------------------------------------------------------------------------------
# Student's t:
#   log p(x) = lgamma((df + 1) / 2) - lgamma(df / 2) - ln(df pi) / 2 - ln(scale)
#              - (df + 1) / 2 ln(1 + z^2 / df),   z = (x - loc) / scale.
# lgamma((df + 1) / 2) - lgamma(df / 2) cancels to about ln(df / 2) / 2 out of terms of size
# df ln df, so the working precision is 800 digits (df up to 1.8e308 needs about 310 of them).

def student_t_log_prob(df, loc, scale, x):
    with mp.workdps(800):
        nu = f(df)
        z = (f(x) - f(loc)) / f(scale)
        c = mp.loggamma((nu + 1) / 2) - mp.loggamma(nu / 2) - mp.log(nu * mp.pi) / 2
        return c - mp.log(f(scale)) - (nu + 1) / 2 * mp.log1p(z * z / nu)


STUDENT_T_DFS = [TINY, 1e-320, 1e-300, 1e-100, 1e-10, 1e-5, 1e-3, 0.01, 0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 7.5, 10.0, 19.0, 20.0, 21.0,
                 30.0, 100.0, 1e3, 3e3, 1e4, 5e4, 1e5, 3e5, 1e6, 2e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e20, 1e30, 1e50, 1e100, 1e200, 1e300,
                 MAX]
STUDENT_T_XS = [0.0, 0.5, 1.0, -1.0, -1.27, -1.29, -1.7, 2.5, -5.0, 10.0, -30.0, -38.0, 100.0,
                -1e4, 1e8, -1e200]


def student_t_cdf(df, loc, scale, x):
    """P(X <= x) = I(df / (df + z^2); df / 2, 1/2) / 2 for z < 0 (by symmetry for z > 0), with
    enough digits that df / (df + z^2) is exact to far beyond double precision."""
    digits = max(60, int(2 * math.log10(max(df, 1.0))) + 60)
    with mp.workdps(digits):
        nu = f(df)
        z = (f(x) - f(loc)) / f(scale)
        if z == 0:
            return mp.mpf(0.5)
        t = nu / (nu + z * z)
        # For df > 1 the tail beyond |z| is at most p(z) (df + z^2) / ((df - 1) |z|); where that
        # is below 1e-400 the tail is zero in double precision (and mpmath's series could not
        # resolve it below its working precision).
        bound = mp.inf
        if nu > 1:
            bound = (mp.exp(student_t_log_prob(df, 0.0, 1.0, abs(float(z))))
                     * (nu + z * z) / ((nu - 1) * abs(z)))
        if bound < mp.mpf("1e-400"):
            lower = mp.mpf(0)
        else:
            lower = mp.betainc(nu / 2, mp.mpf(0.5), 0, t, regularized=True) / 2
        return lower if z < 0 else 1 - lower


def student_t_point(df, loc, scale, x):
    return {"x": s(x), "log_prob": s(student_t_log_prob(df, loc, scale, x)),
            "cdf": s(student_t_cdf(df, loc, scale, x))}


def student_t_cases():
    cases = []
    for df in STUDENT_T_DFS:
        points = [student_t_point(df, 0.0, 1.0, x) for x in STUDENT_T_XS]
        cases.append({"family": "StudentT", "params": {"df": s(df), "loc": "0.0", "scale": "1.0"},
                      "points": points})
    # A location and scale, at points in the body and the tails.
    for df in [0.3, 4.0, 1e6, 1e12]:
        loc, scale = -3.0, 0.25
        xs = [-3.0, -2.9, -3.6, 0.0, 50.0, -1e3]
        points = [student_t_point(df, loc, scale, x) for x in xs]
        cases.append({"family": "StudentT",
                      "params": {"df": s(df), "loc": s(loc), "scale": s(scale)},
                      "points": points})
    return cases


# --------------------------------------------------------------------------------------------
# Extreme parameters and values (issue 11, item 9): log-densities at subnormal, tiny, huge and
# maximal parameters, where the double-precision formulas overflow to inf - inf or cancel. Each
# log-density lp comes with its relative condition number
#   condition = kappa / (1 + |lp|),  kappa = sum over the inputs v (the value and each real
#   parameter, where not 0) of |d lp / d ln v|:
# kappa eps is the change of the log-density that rounding the inputs by a relative eps would
# make. A backward-stable evaluation is within a few eps (1 + |lp|) (1 + condition) of the
# reference; where the condition is huge (a density narrower than the spacing of the doubles
# there), no double-precision method can do better.

EXTREME_DPS = 450


def lgam(v):
    return mp.loggamma(v)


def lbeta_mp(a, b):
    return lgam(a) + lgam(b) - lgam(a + b)


def lp_gamma(p, x):
    a, r = p["concentration"], p["rate"]
    return a * mp.log(r) - lgam(a) + (a - 1) * mp.log(x) - r * x


def lp_inverse_gamma(p, x):
    a, r = p["concentration"], p["rate"]
    return a * mp.log(r) - lgam(a) - (a + 1) * mp.log(x) - r / x


def lp_chi2(p, x):
    k = p["df"] / 2
    return -k * mp.log(2) - lgam(k) + (k - 1) * mp.log(x) - x / 2


def lp_beta(p, x):
    a, b = p["concentration1"], p["concentration0"]
    return (a - 1) * mp.log(x) + (b - 1) * mp.log(1 - x) - lbeta_mp(a, b)


def lp_beta_binomial(p, k):
    a, b, n = p["concentration1"], p["concentration0"], p["total_count"]
    ln_choose = lgam(n + 1) - lgam(k + 1) - lgam(n - k + 1)
    return ln_choose + lbeta_mp(k + a, n - k + b) - lbeta_mp(a, b)


def lp_negative_binomial(p, k):
    r, q = p["total_count"], p["probs"]
    successes = 0 if k == 0 else k * mp.log(q)
    return lgam(k + r) - lgam(k + 1) - lgam(r) + successes + r * mp.log(1 - q)


def lp_weibull(p, x):
    s, k = p["scale"], p["concentration"]
    z = x / s
    return mp.log(k) - mp.log(s) + (k - 1) * mp.log(z) - z ** k


def lp_dirichlet(p, x):
    a = p["concentration"]
    return lgam(mp.fsum(a)) - mp.fsum(lgam(ai) for ai in a) + mp.fsum(
        (ai - 1) * mp.log(xi) for ai, xi in zip(a, x))


def lp_normal(p, x):
    z = (x - p["loc"]) / p["scale"]
    return -z * z / 2 - mp.log(p["scale"]) - mp.log(2 * mp.pi) / 2


def lp_cauchy(p, x):
    z = (x - p["loc"]) / p["scale"]
    return -mp.log(mp.pi * p["scale"]) - mp.log1p(z * z)


def lp_half_cauchy(p, x):
    z = x / p["scale"]
    return mp.log(2) - mp.log(mp.pi * p["scale"]) - mp.log1p(z * z)


def lp_laplace(p, x):
    return -mp.log(2 * p["scale"]) - abs(x - p["loc"]) / p["scale"]


def lp_gumbel(p, x):
    z = (x - p["loc"]) / p["scale"]
    return -mp.log(p["scale"]) - z - mp.exp(-z)


def lp_mvn_tril(p, x):
    (l00, _), (l10, l11) = p["scale_tril"]
    r0, r1 = x[0] - p["loc"][0], x[1] - p["loc"][1]
    y0 = r0 / l00
    y1 = (r1 - l10 * y0) / l11
    return -(y0 * y0 + y1 * y1) / 2 - mp.log(l00) - mp.log(l11) - mp.log(2 * mp.pi)


LOG_DENSITIES = {
    "Gamma": lp_gamma, "InverseGamma": lp_inverse_gamma, "Chi2": lp_chi2, "Beta": lp_beta,
    "BetaBinomial": lp_beta_binomial, "NegativeBinomial": lp_negative_binomial,
    "Weibull": lp_weibull, "Dirichlet": lp_dirichlet, "Normal": lp_normal, "Cauchy": lp_cauchy,
    "HalfCauchy": lp_half_cauchy, "Laplace": lp_laplace, "Gumbel": lp_gumbel,
    "MultivariateNormal": lp_mvn_tril,
}

# Integer inputs (counts) are exact and are not perturbed for the condition number.
INTEGER_PARAMS = {"BetaBinomial": {"total_count"}}


def to_mp(v):
    if isinstance(v, list):
        return [to_mp(e) for e in v]
    return mp.mpf(v)


def condition(lp, params, x, discrete, integer_params):
    """sum_v |d lp / d ln v| over the inputs, by central differences in ln v."""
    h = mp.mpf(10) ** -120
    total = mp.mpf(0)

    def bump(v, factor):
        return v * factor

    # The value, coordinate by coordinate.
    if not discrete:
        xs = x if isinstance(x, list) else [x]
        for i, xi in enumerate(xs):
            if xi == 0:
                continue
            up, down = list(xs), list(xs)
            up[i], down[i] = bump(xi, 1 + h), bump(xi, 1 - h)
            if isinstance(x, list):
                d = (lp(params, up) - lp(params, down)) / (2 * h)
            else:
                d = (lp(params, up[0]) - lp(params, down[0])) / (2 * h)
            total += abs(d)
    for key, v in params.items():
        if key in integer_params:
            continue
        vs = v if isinstance(v, list) else [v]
        flat = isinstance(v, list) and not isinstance(v[0], list)
        if isinstance(v, list) and not flat:
            # A matrix: each entry.
            for i, row in enumerate(v):
                for j, e in enumerate(row):
                    if e == 0:
                        continue
                    up = [list(r) for r in v]
                    down = [list(r) for r in v]
                    up[i][j], down[i][j] = bump(e, 1 + h), bump(e, 1 - h)
                    pu, pd = dict(params), dict(params)
                    pu[key], pd[key] = up, down
                    total += abs((lp(pu, x) - lp(pd, x)) / (2 * h))
            continue
        for i, e in enumerate(vs):
            if e == 0:
                continue
            up, down = list(vs), list(vs)
            up[i], down[i] = bump(e, 1 + h), bump(e, 1 - h)
            pu, pd = dict(params), dict(params)
            pu[key] = up if isinstance(v, list) else up[0]
            pd[key] = down if isinstance(v, list) else down[0]
            total += abs((lp(pu, x) - lp(pd, x)) / (2 * h))
    return total


def ns(v):
    """A parameter or value for JSON: integers as numbers, reals as exact strings."""
    if isinstance(v, list):
        return [ns(e) for e in v]
    if isinstance(v, int):
        return v
    return s(v)


NEAREST_THIRD = 1.0 / 3.0

EXTREME_CASES = [
    ("Gamma", {"concentration": MAX, "rate": 0.77}, [MAX, 1e308, 1e300, 1.0]),
    ("Gamma", {"concentration": 1e300, "rate": 1e-300}, [1e300, MAX, 1.0, 1e-300]),
    ("Gamma", {"concentration": 1e6, "rate": 1e6}, [1.0, 1.001, 0.9, 2.0, 1e-300]),
    ("Gamma", {"concentration": 1e20, "rate": 1e10}, [1e10, 1.0000000001e10, 9e9]),
    ("Gamma", {"concentration": 10.0, "rate": 1.0}, [10.0, 1e-300, 1e3]),
    ("Gamma", {"concentration": TINY, "rate": 1.0}, [TINY, 1.0, 1e-300]),
    ("Gamma", {"concentration": 0.001, "rate": MAX}, [TINY, 1e-300]),
    ("InverseGamma", {"concentration": MAX, "rate": 0.5}, [1e-308, 1.0]),
    ("InverseGamma", {"concentration": 1e300, "rate": 1e300}, [1.0, 1.0 + 1e-15, 2.0, 0.5]),
    ("InverseGamma", {"concentration": 50.0, "rate": 1e-300}, [1e-302, 1e-300, 1.0]),
    ("InverseGamma", {"concentration": TINY, "rate": MAX}, [MAX, 1.0]),
    ("Chi2", {"df": TINY}, [TINY, 1e-300, 1.0, 100.0]),
    ("Chi2", {"df": 1e-320}, [1e-300, 2.0]),
    ("Chi2", {"df": MAX}, [MAX, 1e308, 193.85790619977075]),
    ("Chi2", {"df": 1e6}, [1e6, 1.01e6, 9e5]),
    ("Beta", {"concentration1": 1.0, "concentration0": MAX}, [TINY, 1e-308, 1e-300, 0.5]),
    ("Beta", {"concentration1": MAX, "concentration0": MAX}, [0.5, 0.25]),
    ("Beta", {"concentration1": 1e300, "concentration0": 2e300}, [NEAREST_THIRD, 0.3, 0.5]),
    ("Beta", {"concentration1": 0.5, "concentration0": 1e300}, [TINY, 1e-300, 1e-10]),
    ("Beta", {"concentration1": 1e6, "concentration0": 3e6}, [0.25, 0.251, 0.24]),
    ("Beta", {"concentration1": TINY, "concentration0": TINY}, [0.5, TINY, 1.0 - 2.0 ** -53]),
    ("Beta", {"concentration1": 12.0, "concentration0": 0.5}, [0.9, 1.0 - 1e-12]),
    ("BetaBinomial", {"concentration1": 0.5, "concentration0": MAX, "total_count": 10},
     [0, 1, 10]),
    ("BetaBinomial", {"concentration1": 1e300, "concentration0": 1e300, "total_count": 10},
     [0, 5, 10]),
    ("BetaBinomial", {"concentration1": 2.0, "concentration0": 3.0,
                      "total_count": 1000000000000000000}, [0, 400000000000000000,
                                                            1000000000000000000]),
    ("BetaBinomial", {"concentration1": TINY, "concentration0": TINY, "total_count": 10},
     [0, 5, 10]),
    ("BetaBinomial", {"concentration1": 1e6, "concentration0": 2e6, "total_count": 1000},
     [333, 0, 1000]),
    ("NegativeBinomial", {"total_count": MAX, "probs": 0.0}, [0, 1]),
    ("NegativeBinomial", {"total_count": MAX, "probs": 1e-308}, [0, 1, 2]),
    ("NegativeBinomial", {"total_count": 1e300, "probs": 1e-300}, [0, 1, 1000]),
    ("NegativeBinomial", {"total_count": TINY, "probs": 0.5}, [0, 1, 1000]),
    ("NegativeBinomial", {"total_count": 2.5, "probs": 0.999}, [1000000000000, 5]),
    ("Weibull", {"scale": 0.001, "concentration": 0.001}, [1e306, 1.0, TINY]),
    ("Weibull", {"scale": TINY, "concentration": MAX}, [TINY, 1e-323]),
    ("Weibull", {"scale": 1e300, "concentration": 1e-300}, [1.0, MAX]),
    ("Weibull", {"scale": MAX, "concentration": 2.0}, [MAX, 1e300]),
    ("Dirichlet", {"concentration": [MAX, MAX]}, [[0.5, 0.5]]),
    ("Dirichlet", {"concentration": [1e300, 2e300]}, [[0.3, 0.7]]),
    ("Dirichlet", {"concentration": [TINY, 1.0]}, [[1e-300, 1.0 - 1e-300], [0.5, 0.5]]),
    ("Dirichlet", {"concentration": [1e8, 2e8, 1.0]}, [[0.3, 0.6, 0.1], [1/3, 2/3 - 1e-9, 1e-9]]),
    ("Normal", {"loc": -MAX, "scale": MAX}, [MAX, 0.0]),
    ("Normal", {"loc": MAX, "scale": 1e300}, [-MAX, 1e300]),
    ("Cauchy", {"loc": -MAX, "scale": MAX}, [MAX, 1.0]),
    ("Cauchy", {"loc": 0.0, "scale": TINY}, [1.0, MAX]),
    ("HalfCauchy", {"scale": MAX}, [MAX, 1.0]),
    ("Laplace", {"loc": -MAX, "scale": MAX}, [MAX, 0.0]),
    ("Gumbel", {"loc": MAX, "scale": MAX}, [-MAX, 0.0]),
    ("Gumbel", {"loc": 0.0, "scale": TINY}, [-1e-320, 1e-320]),
    ("MultivariateNormal", {"loc": [-MAX, 0.0], "scale_tril": [[MAX, 0.0], [0.5, 1.0]]},
     [[MAX, 0.0], [0.0, 1.0]]),
]


def extreme_value_cases():
    cases = []
    with mp.workdps(EXTREME_DPS):
        for family, params, points in EXTREME_CASES:
            lp = LOG_DENSITIES[family]
            integer_params = INTEGER_PARAMS.get(family, set())
            mparams = {k: (v if k in integer_params else to_mp(v)) for k, v in params.items()}
            discrete = family in {"BetaBinomial", "NegativeBinomial"}
            recs = []
            for x in points:
                mx = x if discrete else to_mp(x)
                value = lp(mparams, mx)
                kappa = condition(lp, mparams, mx, discrete, integer_params)
                recs.append({"x": ns(x), "log_prob": s(value),
                             "condition": s(kappa / (1 + abs(value)))})
            cases.append({"family": family, "params": {k: ns(v) for k, v in params.items()},
                          "points": recs})
    return cases


def main():
    out = {
        "generator": "gen_extreme.py",
        "mpmath": mp.__version__,
        "sections": {
            "von_mises_periodic": von_mises_cases(),
            "student_t_df": student_t_cases(),
            "extreme_values": extreme_value_cases(),
        },
    }
    with open("extreme.json", "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
