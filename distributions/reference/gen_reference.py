#!/usr/bin/env python3
"""Reference values for the pyro-distributions tests, computed with SciPy (an independent source).

Run from this folder:  python3 gen_reference.py   (needs scipy and numpy; tested with scipy 1.17.1)
Writes reference.json: for each case the family, its parameters (named as our constructors name
them), and for each point x: log_prob, and for univariate continuous families the cdf; plus the
family's mean and variance where SciPy defines them. Non-finite numbers are written as the strings
"inf", "-inf" and "nan" because JSON has no literal for them.

Parameterisations follow torch.distributions / Pyro; the mapping to SciPy's is spelled out in
`scipy_dist` below.
"""
import json
import math

import numpy as np
from scipy import special, stats

PI = math.pi


def scipy_dist(family, p):
    """The frozen SciPy distribution equal to our `family` with parameters `p`."""
    if family == "Normal":
        return stats.norm(p["loc"], p["scale"])
    if family == "LogNormal":
        return stats.lognorm(s=p["scale"], scale=math.exp(p["loc"]))
    if family == "HalfNormal":
        return stats.halfnorm(scale=p["scale"])
    if family == "HalfCauchy":
        return stats.halfcauchy(scale=p["scale"])
    if family == "Cauchy":
        return stats.cauchy(p["loc"], p["scale"])
    if family == "StudentT":
        return stats.t(p["df"], p["loc"], p["scale"])
    if family == "Laplace":
        return stats.laplace(p["loc"], p["scale"])
    if family == "Gumbel":
        return stats.gumbel_r(p["loc"], p["scale"])
    if family == "Uniform":
        return stats.uniform(p["low"], p["high"] - p["low"])
    if family == "Exponential":
        return stats.expon(scale=1.0 / p["rate"])
    if family == "Gamma":
        return stats.gamma(p["concentration"], scale=1.0 / p["rate"])
    if family == "InverseGamma":
        return stats.invgamma(p["concentration"], scale=p["rate"])
    if family == "Beta":
        return stats.beta(p["concentration1"], p["concentration0"])
    if family == "Chi2":
        return stats.chi2(p["df"])
    if family == "Weibull":
        return stats.weibull_min(p["concentration"], scale=p["scale"])
    if family == "Pareto":
        return stats.pareto(p["alpha"], scale=p["scale"])
    if family == "VonMises":
        return stats.vonmises(p["concentration"], loc=p["loc"])
    if family == "Bernoulli":
        return stats.bernoulli(probs_of(p))
    if family == "Binomial":
        return stats.binom(p["total_count"], probs_of(p))
    if family == "Poisson":
        return stats.poisson(p["rate"])
    if family == "Geometric":
        # torch counts failures before the first success; scipy counts trials, so shift by one.
        return stats.geom(probs_of(p), loc=-1)
    if family == "NegativeBinomial":
        # torch: successes (prob `probs`) before `total_count` failures;
        # scipy nbinom(n, q): failures before n successes of prob q. So q = 1 - probs.
        return stats.nbinom(p["total_count"], 1.0 - p["probs"])
    if family == "BetaBinomial":
        return stats.betabinom(p["total_count"], p["concentration1"], p["concentration0"])
    if family == "Dirichlet":
        return stats.dirichlet(p["concentration"])
    if family == "MultivariateNormal":
        cov = p.get("covariance")
        if cov is None:
            tril = np.array(p["scale_tril"])
            cov = tril @ tril.T
        return stats.multivariate_normal(p["loc"], cov)
    raise KeyError(family)


def probs_of(p):
    if "probs" in p:
        return p["probs"]
    return float(special.expit(p["logits"]))


DISCRETE = {"Bernoulli", "Binomial", "Poisson", "Geometric", "NegativeBinomial", "BetaBinomial",
            "Categorical", "Delta"}
MULTIVARIATE = {"Dirichlet", "MultivariateNormal"}

# (family, params, points). Points include ordinary values, support edges and values outside the
# support (non-integers for discrete families, off-simplex vectors, out-of-range indices).
CASES = [
    ("Normal", {"loc": 0.0, "scale": 1.0}, [0.0, 1.0, -2.5, 10.0, 40.0]),
    ("Normal", {"loc": -3.0, "scale": 1e-6}, [-3.0, -3.0 + 1e-6, -2.9999]),
    ("Normal", {"loc": 1e8, "scale": 1e4}, [1e8, 1e8 + 3e4]),
    ("LogNormal", {"loc": 0.0, "scale": 1.0}, [1.0, 0.1, 5.0, 1e-300, 0.0, -1.0]),
    ("LogNormal", {"loc": 2.0, "scale": 0.01}, [7.389, 7.5]),
    ("LogNormal", {"loc": -3.0, "scale": 4.0}, [1e-20, 1e10]),
    ("HalfNormal", {"scale": 1.0}, [0.0, 0.5, 3.0, -1e-9]),
    ("HalfNormal", {"scale": 1e-3}, [0.0, 1e-3, 5e-3]),
    ("HalfCauchy", {"scale": 1.0}, [0.0, 1.0, 1e6, -0.5]),
    ("HalfCauchy", {"scale": 50.0}, [0.0, 10.0]),
    ("Cauchy", {"loc": 0.0, "scale": 1.0}, [0.0, 1.0, -1e8]),
    ("Cauchy", {"loc": 5.0, "scale": 0.1}, [5.0, 4.0]),
    ("StudentT", {"df": 3.0, "loc": 0.0, "scale": 1.0}, [0.0, 2.0, -30.0]),
    ("StudentT", {"df": 0.5, "loc": 1.0, "scale": 2.0}, [1.0, 100.0]),
    ("StudentT", {"df": 1e8, "loc": 0.0, "scale": 1.0}, [0.0, 1.5]),
    ("StudentT", {"df": 1.5, "loc": -2.0, "scale": 0.5}, [-2.0, 3.0, -1e4]),
    ("StudentT", {"df": 2.5, "loc": 10.0, "scale": 3.0}, [10.0, 0.0, 12.5, 1e6]),
    ("StudentT", {"df": 30.0, "loc": 0.0, "scale": 1e-3}, [0.0, 2e-3, -1e-2]),
    ("Laplace", {"loc": 0.0, "scale": 1.0}, [0.0, 1.0, -7.0]),
    ("Laplace", {"loc": 2.0, "scale": 1e-3}, [2.0, 2.01]),
    ("Laplace", {"loc": -5.0, "scale": 4.0}, [30.0, -100.0]),
    ("Gumbel", {"loc": 0.0, "scale": 1.0}, [0.0, 3.0, -3.0, 40.0]),
    ("Gumbel", {"loc": -1.0, "scale": 5.0}, [-1.0, 20.0]),
    ("Gumbel", {"loc": 3.0, "scale": 0.5}, [0.5, 1.0, 3.0, 30.0]),
    ("Uniform", {"low": 0.0, "high": 1.0}, [0.5, 0.0, 1.0, -1e-12, 1.5]),
    ("Uniform", {"low": -1e6, "high": 1e6}, [0.0, 2e6]),
    ("Exponential", {"rate": 1.0}, [0.0, 1.0, 50.0, -1.0]),
    ("Exponential", {"rate": 1e3}, [0.0, 1e-3]),
    ("Exponential", {"rate": 1e-4}, [1e-12, 5e4, 1e7]),
    ("Gamma", {"concentration": 2.0, "rate": 3.0}, [0.5, 2.0, 0.0, -1.0]),
    ("Gamma", {"concentration": 1.0, "rate": 2.0}, [0.0, 1.0]),
    ("Gamma", {"concentration": 0.01, "rate": 1.0}, [1e-10, 0.5]),
    ("Gamma", {"concentration": 1000.0, "rate": 10.0}, [100.0, 90.0]),
    ("Gamma", {"concentration": 0.5, "rate": 2.0}, [0.0, 1e-300, 3.0]),
    ("InverseGamma", {"concentration": 3.0, "rate": 2.0}, [1.0, 0.1, 10.0, 0.0, -1.0]),
    ("InverseGamma", {"concentration": 0.5, "rate": 0.01}, [0.01, 100.0]),
    ("InverseGamma", {"concentration": 50.0, "rate": 100.0}, [2.0, 0.5, 1e-3]),
    ("Beta", {"concentration1": 2.0, "concentration0": 5.0}, [0.2, 0.9, 0.0, 1.0, 1.2]),
    ("Beta", {"concentration1": 1.0, "concentration0": 1.0}, [0.0, 0.3, 1.0]),
    ("Beta", {"concentration1": 0.01, "concentration0": 0.01}, [0.5, 1e-8]),
    ("Beta", {"concentration1": 70.0, "concentration0": 50.0}, [0.58, 0.3]),
    ("Beta", {"concentration1": 0.5, "concentration0": 2.0}, [0.0, 1.0, 0.5, 1e-300]),
    ("Beta", {"concentration1": 3.0, "concentration0": 0.5}, [1.0, 0.0, 1.0 - 1e-12]),
    ("Chi2", {"df": 3.0}, [0.5, 3.0, 0.0, -1.0]),
    ("Chi2", {"df": 2.0}, [0.0, 4.0]),
    ("Chi2", {"df": 500.0}, [500.0, 400.0]),
    ("Chi2", {"df": 1.0}, [0.0, 1e-300, 2.0]),
    ("Weibull", {"scale": 2.0, "concentration": 1.5}, [1.0, 5.0, 0.0, -1.0]),
    ("Weibull", {"scale": 1.0, "concentration": 1.0}, [0.0, 2.0]),
    ("Weibull", {"scale": 0.5, "concentration": 20.0}, [0.5, 0.4]),
    ("Weibull", {"scale": 1.0, "concentration": 0.5}, [0.0, 1e-300, 4.0]),
    ("Pareto", {"scale": 1.0, "alpha": 2.0}, [1.0, 3.0, 0.999, 1e6]),
    ("Pareto", {"scale": 0.01, "alpha": 0.5}, [0.01, 5.0]),
    ("Pareto", {"scale": 1e10, "alpha": 1e6}, [1e10, 1.00001e10, 9.9e9]),
    ("VonMises", {"loc": 0.0, "concentration": 1.0}, [0.0, 1.0, PI, -PI, 3.5, 4.0, -7.0, 100.0]),
    ("VonMises", {"loc": 1.0, "concentration": 1e-4}, [1.0, -2.0]),
    ("VonMises", {"loc": 0.5, "concentration": 500.0}, [0.5, 0.6, -2.0, 0.5 + 2 * PI, -5.8]),
    ("VonMises", {"loc": 0.0, "concentration": 1e5}, [0.0, 0.001]),
    ("VonMises", {"loc": -3.0, "concentration": 2.0}, [3.0, -3.1, PI, -PI, 0.0]),
    ("VonMises", {"loc": PI, "concentration": 50.0}, [PI, -PI, 3.0, -3.0, 3.3, -3.3, 9.5]),
    ("VonMises", {"loc": 20.0, "concentration": 3.0}, [20.0, 20.0 - 6 * PI, 1.0, -25.0]),
    ("Bernoulli", {"probs": 0.3}, [0, 1, 2, 0.5, -1]),
    ("Bernoulli", {"probs": 0.0}, [0, 1]),
    ("Bernoulli", {"probs": 1.0}, [0, 1]),
    ("Bernoulli", {"logits": -2.0}, [0, 1]),
    ("Binomial", {"total_count": 10, "probs": 0.3}, [0, 3, 10, 11, -1, 2.5]),
    ("Binomial", {"total_count": 10, "probs": 0.0}, [0, 1]),
    ("Binomial", {"total_count": 10, "probs": 1.0}, [10, 9]),
    ("Binomial", {"total_count": 1000000, "probs": 0.5}, [500000, 499000]),
    ("Binomial", {"total_count": 20, "logits": 1.5}, [15, 3]),
    ("Binomial", {"total_count": 0, "probs": 0.3}, [0, 1]),
    ("Poisson", {"rate": 3.0}, [0, 3, 20, -1, 2.5]),
    ("Poisson", {"rate": 1e-8}, [0, 1]),
    ("Poisson", {"rate": 1e6}, [1000000, 999000]),
    ("Poisson", {"rate": 0.5}, [0, 7, 200]),
    ("Geometric", {"probs": 0.3}, [0, 1, 10, -1, 1.5]),
    ("Geometric", {"probs": 1.0}, [0, 1]),
    ("Geometric", {"probs": 1e-6}, [0, 1000000]),
    ("Geometric", {"logits": 0.5}, [0, 4]),
    ("Geometric", {"logits": -30.0}, [0, 1000000]),
    ("NegativeBinomial", {"total_count": 5.0, "probs": 0.4}, [0, 3, 30, -1, 1.5]),
    ("NegativeBinomial", {"total_count": 0.5, "probs": 0.9}, [0, 7]),
    ("NegativeBinomial", {"total_count": 100.0, "probs": 0.01}, [0, 2]),
    ("NegativeBinomial", {"total_count": 2.5, "probs": 0.0}, [0, 1]),
    ("NegativeBinomial", {"total_count": 1e4, "probs": 0.5}, [10000, 9000]),
    ("BetaBinomial", {"concentration1": 2.0, "concentration0": 3.0, "total_count": 10},
     [0, 4, 10, 11, -1, 2.5]),
    ("BetaBinomial", {"concentration1": 0.1, "concentration0": 0.1, "total_count": 50}, [0, 25]),
    ("BetaBinomial", {"concentration1": 1000.0, "concentration0": 500.0, "total_count": 200},
     [133, 100]),
    ("BetaBinomial", {"concentration1": 0.5, "concentration0": 2.0, "total_count": 0}, [0, 1]),
    ("Categorical", {"probs": [0.2, 0.5, 0.3]}, [0, 1, 2, 3, -1, 1.5]),
    ("Categorical", {"probs": [0.0, 1.0]}, [0, 1]),
    ("Categorical", {"logits": [1.0, -2.0, 0.5, 3.0]}, [0, 3]),
    ("Categorical", {"probs": [3.0, 1.0]}, [0, 1]),
    ("Dirichlet", {"concentration": [1.0, 2.0, 3.0]},
     [[0.2, 0.3, 0.5], [0.0, 0.5, 0.5], [0.5, 0.6, 0.2], [-0.1, 0.6, 0.5], [0.5, 0.5]]),
    ("Dirichlet", {"concentration": [1.0, 1.0]}, [[0.0, 1.0], [0.25, 0.75]]),
    ("Dirichlet", {"concentration": [0.1, 0.1, 0.1, 0.1]}, [[0.7, 0.1, 0.1, 0.1]]),
    ("Dirichlet", {"concentration": [500.0, 300.0]}, [[0.6, 0.4]]),
    ("Dirichlet", {"concentration": [2.0, 0.5, 1.0]}, [[0.0, 0.5, 0.5], [0.3, 0.7, 0.0]]),
    ("MultivariateNormal", {"loc": [0.0, 1.0], "covariance": [[2.0, 0.5], [0.5, 1.0]]},
     [[0.0, 1.0], [1.0, -1.0], [10.0, 10.0]]),
    ("MultivariateNormal", {"loc": [1.0, 2.0, 3.0],
                            "scale_tril": [[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.2, 0.1]]},
     [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),
    ("MultivariateNormal", {"loc": [0.0, 0.0], "covariance": [[1e-4, 0.0], [0.0, 1e4]]},
     [[1e-2, 1e2]]),
    ("MultivariateNormal", {"loc": [0.5, -1.0, 2.0, 0.0],
                            "covariance": [[4.0, 1.2, -0.6, 0.3], [1.2, 2.0, 0.4, -0.2],
                                           [-0.6, 0.4, 1.5, 0.1], [0.3, -0.2, 0.1, 0.8]]},
     [[0.5, -1.0, 2.0, 0.0], [3.0, 1.0, -1.0, 2.5]]),
]


def num(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def categorical_logpmf(p, k):
    if "probs" in p:
        w = np.array(p["probs"], dtype=float)
        logw = np.log(w / w.sum()) if w.sum() > 0 else None
    else:
        logw = np.array(p["logits"], dtype=float)
        logw = logw - special.logsumexp(logw)
    if float(k) != int(k) or not 0 <= int(k) < len(logw):
        return -math.inf
    with np.errstate(divide="ignore"):
        return float(logw[int(k)])


def categorical_moments(p):
    # The mean and variance of the index, as torch would report them if it did (it returns nan).
    if "probs" in p:
        w = np.array(p["probs"], dtype=float)
        w = w / w.sum()
    else:
        w = special.softmax(np.array(p["logits"], dtype=float))
    k = np.arange(len(w))
    mean = float((w * k).sum())
    return mean, float((w * (k - mean) ** 2).sum())


def case_record(family, params, points):
    rec = {"family": family, "params": params, "points": []}
    if family == "Categorical":
        for x in points:
            rec["points"].append({"x": x, "log_prob": num(categorical_logpmf(params, x))})
        mean, var = categorical_moments(params)
        rec["mean"], rec["variance"] = num(mean), num(var)
        return rec
    d = scipy_dist(family, params)
    for x in points:
        point = {"x": x}
        if family in MULTIVARIATE:
            v = np.array(x, dtype=float)
            dim = len(params.get("loc", params.get("concentration")))
            if len(v) != dim:
                lp = -math.inf
            elif family == "Dirichlet" and (np.any(v < 0) or abs(v.sum() - 1) > 1e-6):
                lp = -math.inf
            else:
                lp = float(d.logpdf(v))
        elif family in DISCRETE:
            lp = float(d.logpmf(x)) if float(x) == int(x) else -math.inf
        else:
            lp = float(d.logpdf(x))
            point["cdf"] = num(d.cdf(x))
        point["log_prob"] = num(lp)
        rec["points"].append(point)
    if family == "VonMises":
        # The density is 2 pi-periodic on the whole real line, as in torch and SciPy (whose
        # log-density we record at every point). Moments follow torch: the mean direction `loc`
        # (we report it wrapped into [-pi, pi]) and the circular variance 1 - I1(k) / I0(k).
        # VonMises has no closed-form cdf and we do not offer one, so no cdf is recorded.
        for point in rec["points"]:
            del point["cdf"]
        k = params["concentration"]
        loc = params["loc"]
        rec["mean"] = num(math.atan2(math.sin(loc), math.cos(loc)) if abs(loc) > PI else loc)
        rec["variance"] = num(1.0 - special.i1e(k) / special.i0e(k))
        return rec
    if family in MULTIVARIATE:
        mean = d.mean() if family == "Dirichlet" else np.array(params["loc"])
        var = d.var() if family == "Dirichlet" else np.diag(d.cov)
        rec["mean"] = [num(m) for m in mean]
        rec["variance"] = [num(v) for v in var]
    else:
        mean, var = d.stats(moments="mv")
        rec["mean"], rec["variance"] = num(mean), num(var)
    return rec


def main():
    np.seterr(all="ignore")
    records = [case_record(f, p, xs) for f, p, xs in CASES]
    with open("reference.json", "w") as fh:
        json.dump({"generator": "gen_reference.py", "scipy": __import__("scipy").__version__,
                   "cases": records}, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()
