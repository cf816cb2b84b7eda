#!/usr/bin/env python3
"""High-precision reference values of the implicit reparameterisation gradient of the gamma
distribution, for the pyro-distributions tests, computed with mpmath.

Run from this folder:  python3 gen_implicit.py   (needs mpmath; tested with mpmath 1.4.1)
Writes implicit.json.

For a draw z of Gamma(a, 1) held at a fixed level u = P(a, z) of its distribution function (P the
regularised lower incomplete gamma function), the implicit gradient (Figurnov et al. 2018) is

    dz/da = -(dP(a, z)/da) / p(z; a),   p(z; a) = z^(a - 1) e^-z / Gamma(a).

It is computed here in two independent ways, which must agree:
- `by_diff`: mpmath's numerical derivative (`mp.diff`, in extra precision) of mpmath's
  `gammainc(a, 0, z, regularized=True)` (of the upper tail `gammainc(a, z, inf)` above the
  mean, where P may round to 1); mpmath's hypergeometric series stops converging for
  shapes beyond about 1e5, where only the next way is used;
- `by_quad`: the integral dP/da = int_0^z (ln t - psi(a)) p(t; a) dt (differentiating under the
  integral sign), divided by p(z; a) in the integrand, so that Gamma(a) never appears:
  dz/da = -int_0^z (ln t - psi(a)) (t / z)^(a - 1) e^(z - t) dt, or, as
  int_0^inf (ln t - psi(a)) p(t; a) dt = 0, the integral over [z, inf) with the sign flipped
  (the side of z with the smaller probability, whose integral does not cancel), by tanh-sinh
  quadrature in s = |ln(t / z)| with geometric breakpoints from the width of the integrand's
  peak, and every ln 2 through the decay of e^-t above.
Where both apply (shapes up to 1e4) they agree to 1e-35 (the script asserts 1e-25), and the value
of `by_diff` is written; beyond, that of `by_quad`.

Every input is a double (an `mpf` built from a float is exact); numbers are written as strings
(Python's `repr`), as in gen_extreme.py. The points: shapes from 1e-300 to 1e15, at quantile-like
values of z (a + w sqrt(a) for shapes >= 1, the exact quantiles where they are doubles below),
around the switches of the Rust implementation (z = a + 1 between its series and its continued
fraction, |z / a - 1| = 0.3 for its asymptotic expansion from a = 100), and at extreme values.
"""
import json
import math

import mpmath as mp

DPS = 40


def s(x):
    """A double (or an mpf rounded to the nearest double) as a string."""
    return repr(float(x))


def by_diff(a, z):
    a, z = mp.mpf(a), mp.mpf(z)
    p = mp.exp((a - 1) * mp.log(z) - z - mp.loggamma(a))
    if z > a:
        # dP/da = -dQ/da, from the smaller upper tail Q (P may round to 1).
        dq = mp.diff(lambda t: mp.gammainc(t, z, mp.inf, regularized=True), a)
        return dq / p
    dp = mp.diff(lambda t: mp.gammainc(t, 0, z, regularized=True), a)
    return -dp / p


def by_quad(a, z):
    a, z = mp.mpf(a), mp.mpf(z)
    psi = mp.digamma(a)
    lz = mp.log(z)
    # The side of z with the smaller probability (its integral has no cancellation): below the
    # median, which is a - 1/3 + O(1 / a) for large shapes.
    if a >= 1:
        lower = z < a - mp.mpf(1) / 3
    else:
        lower = mp.gammainc(a, 0, z, regularized=True) < mp.mpf(1) / 2
    sign = -1 if lower else 1

    # t = z e^(sign s), s >= 0: (t / z)^(a - 1) e^(z - t) dt = z e^(sign a s + z - t) ds. The
    # integrand is divided by z (|ln z - psi(a)| + 1), of the size of its value at s = 0:
    # mpmath's quadrature stops on an absolute error estimate, which a tiny integrand meets
    # at once.
    scale = z * (abs(lz - psi) + 1)

    def w(s):
        t = z * mp.exp(sign * s)
        return (lz + sign * s - psi) * (z / scale) * mp.exp(sign * a * s - (t - z))

    # Breakpoints in s: geometric from the width of the peak at s = 0 (or of the mode) up to
    # where the integrand has vanished: above, t beyond 1000 (z + a + 1), with a breakpoint
    # every ln 2 through the decay of e^(z - t) where t reaches 1 and beyond; below,
    # e^(-a s) under 1e-60, with one every 1 / a.
    width = 1 / max(abs(a - z), mp.sqrt(a), mp.mpf(1))
    if lower:
        end = 60 * mp.log(10) / a + 1
    else:
        end = mp.log(1000 * (z + a + 1) / z)
    pts = {mp.mpf(0), end}
    step = width / 64
    while step < end:
        pts.add(step)
        step *= 2
    if lower:
        # And every 1 / a, through the decay of e^(-a s) (tanh-sinh loses digits on an interval
        # across which the integrand falls by e^-36).
        for k in range(1, 140):
            pts.add(k / a)
    else:
        k = 1
        while k * mp.log(2) < end:
            pts.add(k * mp.log(2))
            k += 1
        if a > z:
            pts.add(mp.log(a / z))
    return sign * scale * mp.quad(w, sorted(pts))


def quantile(a, u):
    """The double nearest to the u-quantile of Gamma(a, 1), or None where it is not a positive
    normal double."""
    a, u = mp.mpf(a), mp.mpf(u)
    # ln P(a, z) is increasing in ln z: bisect on ln z.
    lo, hi = mp.mpf(-800), mp.mpf(800)
    for _ in range(200):
        mid = (lo + hi) / 2
        if mp.gammainc(a, 0, mp.exp(mid), regularized=True) < u:
            lo = mid
        else:
            hi = mid
    z = mp.exp((lo + hi) / 2)
    if z < mp.mpf(2.2250738585072014e-308) or z > mp.mpf(1e300):
        return None
    return float(z)


def points():
    pts = []
    small = [1e-300, 1e-20, 1e-10, 1e-3, 0.1, 0.5, 0.999]
    for a in small:
        for u in [1e-12, 1e-4, 0.05, 0.3, 0.5, 0.7, 0.95, 1 - 1e-4, 1 - 1e-12]:
            z = quantile(a, u)
            if z is not None:
                pts.append((a, z))
        for z in [1e-300, 1e-100, 1e-5, 0.5, a + 1, 1.5, 3.0, 50.0, 700.0]:
            pts.append((a, z))
    large = [1.0, 1.5, 3.7, 9.5, 10.0, 31.0, 99.0, 100.0, 150.0, 1e3, 1e4, 1e5, 1e8, 1e12, 1e15]
    for a in large:
        for w in [-8.0, -3.0, -1.0, -0.3, 0.0, 0.3, 1.0, 3.0, 8.0]:
            z = a + w * math.sqrt(a)
            if z > 0:
                pts.append((a, z))
        # The switches: a + 1 (series / continued fraction), a (1 +- 0.3) (asymptotic).
        for z in [a + 1, math.nextafter(a + 1, 0), math.nextafter(a + 1, math.inf),
                  0.69 * a, 0.7 * a, 0.71 * a, 1.29 * a, 1.3 * a, 1.31 * a, 0.01 * a, 5 * a]:
            pts.append((a, z))
    for a, z in [(0.5, 1e-300), (2.0, 1e-300), (50.0, 1e-5), (1e3, 1e-3), (2.0, 600.0),
                 (1e-3, 700.0)]:
        pts.append((a, z))
    return pts


def main():
    mp.mp.dps = DPS
    out = []
    # The largest relative disagreement of the two methods, below and from shape 100.
    worst = [0.0, 0.0]
    for a, z in points():
        q = by_quad(a, z)
        if a <= 1e4:
            d = by_diff(a, z)
            disagreement = abs(q / d - 1)
            worst[a >= 100] = max(worst[a >= 100], float(disagreement))
            assert disagreement < 1e-25, (a, z, q, d)
            value = d
        else:
            value = q
        out.append({"a": s(a), "z": s(z), "dz_da": s(value)})
    print(f"{len(out)} points; largest disagreement of the two methods {worst[0]:.1e} for "
          f"shapes below 100, {worst[1]:.1e} from 100 to 1e4")
    with open("implicit.json", "w") as fh:
        json.dump({"generator": "gen_implicit.py", "dps": DPS, "points": out}, fh, indent=1)


if __name__ == "__main__":
    main()
