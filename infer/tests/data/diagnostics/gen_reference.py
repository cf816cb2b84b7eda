"""Reference values for pyro_infer::diagnostics, computed by ArviZ.

Run from the repository root (any Python with arviz, numpy, scipy, pandas and xarray):

    python infer/tests/data/diagnostics/gen_reference.py

It rewrites, next to this script, one CSV of draws per draw set (`<set>.csv`) and
`reference.json`. Made with arviz 0.23.4, numpy 2.4.6, scipy 1.17.1, pandas 3.1.1,
xarray 2026.9.0 (Python 3.11); the script prints the versions it ran with.

CSV layout: a header row `chain,draw,<coordinate>,...`, then one row per draw (chain-major), the
numbers printed with Python's `repr` (the shortest string that reads back as the same double).
`pandas.read_csv(path).set_index(["chain", "draw"]).to_xarray()` reads a file as an xarray
Dataset ArviZ accepts as is; the script checks that ArviZ gives the same values from it.

reference.json: for every set its file, chain and draw counts, and for every coordinate
  rhat      az.rhat(draws, method="rank")
  ess_bulk  az.ess(draws, method="bulk")
  ess_tail  az.ess(draws, method="tail")
  ess_mean  az.ess(draws, method="mean")
  autocorr  az.autocorr(chain 0) at lags 0..49 (fewer for short chains)
  quantiles numpy.quantile(all draws, q) (method "linear") at each q of "quantile_probs"
with `draws` the (chain, draw) array; NaN is written as null.
"""

import json
import logging
import math
import sys
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import scipy
import scipy.stats
import xarray

SEED = 20210527
OUT = Path(__file__).resolve().parent
QUANTILE_PROBS = [0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.95, 1.0]
AUTOCORR_LAGS = 50

# ArviZ logs a warning for every NaN result (too few chains or draws) and numpy warns of the
# 0/0 of constant draws; those are expected here.
logging.disable(logging.WARNING)
warnings.filterwarnings("ignore", category=RuntimeWarning)

rng = np.random.default_rng(SEED)


def ar1(phi, chains, draws, scale=1.0):
    """AR(1) chains started from the stationary distribution: x_t = phi x_{t-1} + e_t."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains) * scale / math.sqrt(1.0 - phi * phi)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + scale * rng.standard_normal(chains)
    return x


def balanced_signs(chains, draws):
    """Each chain a random order of exactly draws/2 values -1 and draws/2 values +1.

    The median of all draws is then 0, every folded draw |x - 0| is 1, the folded R-hat is
    0/0 = NaN, and ArviZ's rank R-hat is the bulk one (Python's max keeps its first argument
    when the second is NaN).
    """
    half = np.concatenate([-np.ones(draws // 2), np.ones(draws // 2)])
    return np.stack([rng.permutation(half) for _ in range(chains)])


def rounds_below(draws, p):
    """A value v whose type 7 quantile p, were all the draws v, comes out below v.

    ArviZ's tail ESS takes its quantiles from SciPy's mquantiles, which interpolates as
    (1 - g) x[k-1] + g x[k]; on a tie x[k-1] = x[k] = v this can round to a neighbour of v, and
    then the draws equal to v fall on the other side of the threshold.
    """
    n = draws[0] * draws[1]
    aleph = n * p + (1.0 - p)
    g = aleph - math.floor(aleph)
    v = 1.0
    while not (1.0 - g) * v + g * v < v:
        v += 1.0 / 64.0 + 1e-3
    return v


def tied_levels(chains, draws):
    """Discrete autocorrelated draws whose 5% quantile is a tie at a value where mquantiles
    rounds below it: the draws at that level fall above ArviZ's threshold.

    Levels v - 1, v, v + 1, v + 2 with probabilities 0.02, 0.10, 0.48, 0.40, cut from an AR(1)
    chain; the 95% quantile is the top level, its indicator constant (ESS = number of draws), so
    the tail ESS is the one at 5%.
    """
    v = rounds_below((chains, draws), 0.05)
    phi = 0.5
    u = scipy.stats.norm.cdf(ar1(phi, chains, draws) * math.sqrt(1.0 - phi * phi))
    levels = np.array([v - 1.0, v, v + 1.0, v + 2.0])
    return levels[np.searchsorted([0.02, 0.12, 0.6], u)]


def make_sets():
    sets = {}
    c, n = 4, 1000
    sets["main"] = {
        "iid_normal": rng.standard_normal((c, n)),
        "ar_0_9": ar1(0.9, c, n),
        "ar_0_99": ar1(0.99, c, n),
        "ar_neg_0_6": ar1(-0.6, c, n),  # antithetic: ESS above the number of draws
        "student_t3": rng.standard_t(3, (c, n)),
        "cauchy": rng.standard_cauchy((c, n)),
        "poisson": rng.poisson(3.0, (c, n)).astype(float),  # many ties
        "signs": balanced_signs(c, n),
        # Spread 6e-16 < 1e-15: ArviZ's ESS of the raw values is the number of draws, but the
        # ranks are not constant. (Around 0, not around 1: there a spread of a few ulp makes the
        # autocorrelation hang on how the mean rounds, in ArviZ as in any floating-point code.)
        "near_constant": rng.integers(0, 3, (c, n)) * 3e-16,
        "tied_levels": tied_levels(c, n),
    }
    c, n = 4, 500
    offsets = np.array([0.0, 0.0, 0.5, 2.0])[:, None]
    scales = np.array([1.0, 1.0, 1.0, 4.0])[:, None]
    sets["shifted"] = {
        "shifted_mean": ar1(0.5, c, n) + offsets,  # R-hat well above 1
        "scaled": rng.standard_normal((c, n)) * scales,  # same mean: the folded R-hat sees it
    }
    c, n = 4, 301  # odd: the middle draw of each chain is dropped by the split
    sets["odd"] = {
        "ar_0_5": ar1(0.5, c, n),
        "constant": np.full((c, n), 2.5),
    }
    sets["two_chains_3"] = {"x": rng.standard_normal((2, 3))}  # too few draws: all NaN
    sets["two_chains_4"] = {"x": rng.standard_normal((2, 4))}
    sets["two_chains_5"] = {"x": rng.standard_normal((2, 5))}
    sets["one_chain"] = {"ar_0_7": ar1(0.7, 1, 500)}  # R-hat needs 2 chains: NaN
    return sets


def write_csv(path, coords):
    names = list(coords)
    chains, draws = coords[names[0]].shape
    lines = [",".join(["chain", "draw", *names])]
    for ci in range(chains):
        for di in range(draws):
            values = [repr(float(coords[name][ci, di])) for name in names]
            lines.append(",".join([str(ci), str(di), *values]))
    path.write_text("\n".join(lines) + "\n")


def num(x):
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        sys.exit(f"unexpected infinite reference value {x}")
    return x


def diagnostics(draws):
    out = {
        "rhat": num(az.rhat(draws, method="rank")),
        "ess_bulk": num(az.ess(draws, method="bulk")),
        "ess_tail": num(az.ess(draws, method="tail")),
        "ess_mean": num(az.ess(draws, method="mean")),
    }
    out["autocorr"] = [num(v) for v in az.autocorr(draws[0])[:AUTOCORR_LAGS]]
    out["quantiles"] = [num(np.quantile(draws, q, method="linear")) for q in QUANTILE_PROBS]
    return out


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_through_pandas(path, coords, ref):
    """ArviZ reads the CSV through pandas and xarray as is and gives the same values."""
    dataset = pd.read_csv(path).set_index(["chain", "draw"]).to_xarray()
    idata = az.convert_to_inference_data(dataset)
    posterior = idata.posterior
    for name, draws in coords.items():
        read = posterior[name].values
        assert np.array_equal(read, draws), f"{path.name}:{name}: draws read back differ"
    results = {
        "rhat": az.rhat(idata, method="rank"),
        "ess_bulk": az.ess(idata, method="bulk"),
        "ess_tail": az.ess(idata, method="tail"),
        "ess_mean": az.ess(idata, method="mean"),
    }
    for name in coords:
        for key, result in results.items():
            got = float(result[name].values)
            want = ref[name][key]
            want = math.nan if want is None else want
            assert same(got, want), f"{path.name}:{name}:{key}: {got} via pandas, {want} direct"


def main():
    versions = {
        "python": sys.version.split()[0],
        "arviz": az.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "xarray": xarray.__version__,
    }
    print("versions:", versions)
    reference = {
        "generator": "gen_reference.py",
        "seed": SEED,
        "versions": versions,
        "quantile_probs": QUANTILE_PROBS,
        "autocorr_lags": AUTOCORR_LAGS,
        "sets": [],
    }
    for set_name, coords in make_sets().items():
        chains, draws = next(iter(coords.values())).shape
        path = OUT / f"{set_name}.csv"
        write_csv(path, coords)
        values = {name: diagnostics(d) for name, d in coords.items()}
        check_through_pandas(path, coords, values)
        reference["sets"].append(
            {
                "name": set_name,
                "file": path.name,
                "chains": chains,
                "draws": draws,
                "coordinates": values,
            }
        )
        for name, v in values.items():
            print(
                f"{set_name:>13} {name:>14}: rhat {v['rhat']}, bulk {v['ess_bulk']}, "
                f"tail {v['ess_tail']}, mean {v['ess_mean']}"
            )
    text = json.dumps(reference, indent=1, allow_nan=False)
    (OUT / "reference.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
