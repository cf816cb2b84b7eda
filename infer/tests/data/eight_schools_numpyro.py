"""Reference posterior of the eight-schools model (non-centred), computed by a long NumPyro NUTS run.

What it computes
----------------
The model, with the standard data
    y     = [28, 8, -3, 7, -1, 1, 18, 12]
    sigma = [15, 10, 16, 11, 9, 11, 10, 18]
is
    mu            ~ Normal(0, 5)
    tau           ~ HalfCauchy(5)
    theta_tilde_j ~ Normal(0, 1)                 j = 0..7 (a plate in NumPyro)
    theta_j       = mu + tau * theta_tilde_j     (deterministic)
    y_j           ~ Normal(theta_j, sigma_j)

NUTS (double precision, dense_mass=False, max_tree_depth 10, target_accept_prob TARGET_ACCEPT)
with 4 chains run one after the other (chain_method="sequential"), NUM_WARMUP warm-up and
NUM_SAMPLES kept draws each, seed SEED.

For every quantity q in mu, tau, theta_0..theta_7, theta_tilde_0..theta_tilde_7 the JSON holds,
over the 4 x NUM_SAMPLES kept draws:
    mean, sd      (sd with ddof=1 over all pooled draws)
    ess           numpyro.diagnostics.effective_sample_size(draws of shape (chain, draw))
    mcse          sd / sqrt(ess), the Monte Carlo standard error of the mean
    r_hat         numpyro.diagnostics.split_gelman_rubin
    q05, q50, q95 numpy.quantile of the pooled draws (linear interpolation)
plus the NumPyro, JAX, jaxlib and NumPy versions, the seed, the settings, the number of
divergent transitions (in total and per chain, kept draws only) and the run time.

How to run
----------
From the repository root, with a Python that has numpyro and jax (CPU is enough; the versions
used are pinned in benches/numpyro/requirements.txt):

    python3 -m venv /tmp/venv-numpyro
    /tmp/venv-numpyro/bin/pip install -r benches/numpyro/requirements.txt
    /tmp/venv-numpyro/bin/python infer/tests/data/eight_schools_numpyro.py

It rewrites eight_schools_numpyro.json next to this script (about 30 s on 2 CPU cores).
"""

import importlib.metadata
import json
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
from numpyro.infer import MCMC, NUTS

numpyro.enable_x64()

SEED = 8_2024
NUM_CHAINS = 4
NUM_WARMUP = 1_000
NUM_SAMPLES = 50_000
TARGET_ACCEPT = 0.95
MAX_TREE_DEPTH = 10

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
J = len(Y)


def eight_schools(sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("school", J):
        theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = numpyro.deterministic("theta", mu + tau * theta_tilde)
        numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def stats(draws):
    """draws: array of shape (chain, draw)."""
    draws = np.asarray(draws, dtype=np.float64)
    flat = draws.reshape(-1)
    sd = float(np.std(flat, ddof=1))
    ess = float(effective_sample_size(draws))
    q05, q50, q95 = (float(v) for v in np.quantile(flat, [0.05, 0.5, 0.95]))
    return {
        "mean": float(np.mean(flat)),
        "sd": sd,
        "mcse": sd / math.sqrt(ess),
        "ess": ess,
        "r_hat": float(split_gelman_rubin(draws)),
        "q05": q05,
        "q50": q50,
        "q95": q95,
    }


def main():
    kernel = NUTS(
        eight_schools,
        target_accept_prob=TARGET_ACCEPT,
        max_tree_depth=MAX_TREE_DEPTH,
        dense_mass=False,
    )
    mcmc = MCMC(
        kernel,
        num_warmup=NUM_WARMUP,
        num_samples=NUM_SAMPLES,
        num_chains=NUM_CHAINS,
        chain_method="sequential",
        progress_bar=False,
    )
    start = time.perf_counter()
    mcmc.run(
        jax.random.PRNGKey(SEED),
        jnp.asarray(SIGMA),
        y=jnp.asarray(Y),
        extra_fields=("diverging", "num_steps"),
    )
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    seconds = time.perf_counter() - start

    extra = mcmc.get_extra_fields(group_by_chain=True)
    diverging = np.asarray(extra["diverging"])
    num_steps = np.asarray(extra["num_steps"])

    quantities = {
        "mu": samples["mu"],
        "tau": samples["tau"],
    }
    for j in range(J):
        quantities[f"theta_{j}"] = samples["theta"][:, :, j]
    for j in range(J):
        quantities[f"theta_tilde_{j}"] = samples["theta_tilde"][:, :, j]

    out = {
        "description": (
            "Eight schools, non-centred: mu ~ Normal(0, 5), tau ~ HalfCauchy(5), "
            "theta_tilde_j ~ Normal(0, 1), theta_j = mu + tau * theta_tilde_j, "
            "y_j ~ Normal(theta_j, sigma_j). Posterior summaries from NumPyro NUTS; "
            "mcse = sd / sqrt(ess), ess from numpyro.diagnostics.effective_sample_size, "
            "r_hat from numpyro.diagnostics.split_gelman_rubin, sd with ddof=1."
        ),
        "script": "infer/tests/data/eight_schools_numpyro.py",
        "data": {"y": Y.tolist(), "sigma": SIGMA.tolist()},
        "versions": {
            "numpyro": numpyro.__version__,
            "jax": jax.__version__,
            "jaxlib": importlib.metadata.version("jaxlib"),
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "settings": {
            "sampler": "NUTS",
            "seed": SEED,
            "num_chains": NUM_CHAINS,
            "chain_method": "sequential",
            "num_warmup": NUM_WARMUP,
            "num_samples": NUM_SAMPLES,
            "target_accept_prob": TARGET_ACCEPT,
            "max_tree_depth": MAX_TREE_DEPTH,
            "dense_mass": False,
            "x64": True,
        },
        "divergences": int(diverging.sum()),
        "divergences_per_chain": [int(v) for v in diverging.sum(axis=1)],
        "mean_num_steps": float(num_steps.mean()),
        "run_seconds": seconds,
        "posterior": {name: stats(draws) for name, draws in quantities.items()},
    }

    path = Path(__file__).with_suffix(".json")
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path} in {seconds:.1f} s; divergences: {out['divergences']}")
    for name in ("mu", "tau", "theta_0"):
        s = out["posterior"][name]
        print(
            f"{name:>8}: mean {s['mean']:.5f} sd {s['sd']:.5f} mcse {s['mcse']:.5f} "
            f"ess {s['ess']:.0f} r_hat {s['r_hat']:.5f}"
        )


if __name__ == "__main__":
    main()
