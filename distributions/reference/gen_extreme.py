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


def main():
    out = {
        "generator": "gen_extreme.py",
        "mpmath": mp.__version__,
        "sections": {
            "von_mises_periodic": von_mises_cases(),
            "student_t_df": student_t_cases(),
        },
    }
    with open("extreme.json", "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
