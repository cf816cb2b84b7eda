"""Timing of NumPyro NUTS on the benchmark model M2 `linreg` (shared/BENCH.md), vectorised.

Model:
    a     ~ Normal(0, 10)
    b     ~ Normal(0, 10)
    sigma ~ HalfNormal(1)
    y     ~ Normal(a + b x, sigma)      one vectorised site in a plate of 100
with x_i = i / 100 and y_i = 1 + 2 x_i + 0.5 eps_i, eps_i the 100 numbers in
benches/data/linreg_eps.txt (found relative to this script, or given with --eps).
Exact posterior means: E[a] = 1.00435, E[b] = 2.07307, E[sigma] = 0.49115.

One chain of NUTS: --warmup (1000) warm-up iterations with step-size and diagonal-mass adaptation,
then --draws (1000) kept draws, target_accept_prob 0.8, max_tree_depth 10, seed --seed.
Double precision by default (--no-x64 for NumPyro's default float32).

How the JIT compilation is kept out of the timing: the whole run (MCMC(...).run plus reading the
samples) is one function of (rng_key, x, y) that is jax.jit-ted and compiled ahead of time with
`.lower(...).compile()`; the time of that lowering + compilation is `compile_seconds`. The compiled
executable is then called --repeats (5) times with the keys PRNGKey(seed), PRNGKey(seed + 1), ...;
no compilation happens in these calls (the script counts JAX's compile events to make sure), and
each is timed up to jax.block_until_ready of the draws. `warmup_plus_draws_seconds` is the median
of those times and `draws_per_second` = draws / warmup_plus_draws_seconds (kept draws per second of
the whole run, warm-up included). The means are those of the first timed run (key PRNGKey(seed)).
(Calling MCMC.run a second time on the same MCMC object is not compile-free in NumPyro 0.22: it
re-traces and re-compiles its sampling loop each call, about 2 s here; `mcmc_run_call_seconds` gives,
for information, the time of such an ordinary second MCMC.run call.)

JAX may use several threads on CPU; set
XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" to keep it to one.

Run, from the repository root, in a venv made from benches/numpyro/requirements.txt:

    python3 -m venv /tmp/venv-numpyro
    /tmp/venv-numpyro/bin/pip install -r benches/numpyro/requirements.txt
    /tmp/venv-numpyro/bin/python benches/numpyro/nuts_m2.py [--warmup 1000] [--draws 1000] [--seed 0]

It prints one line of JSON on stdout (and a check of the means against the exact ones on stderr).
"""

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

EXACT = {"a": 1.00435, "b": 2.07307, "sigma": 0.49115}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_eps = Path(__file__).resolve().parent.parent / "data" / "linreg_eps.txt"
    p.add_argument("--eps", type=Path, default=default_eps, help="path of linreg_eps.txt")
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5, help="timed runs of the compiled sampler")
    p.add_argument("--target-accept", type=float, default=0.8)
    p.add_argument("--max-tree-depth", type=int, default=10)
    p.add_argument("--no-x64", action="store_true", help="float32 instead of float64")
    return p.parse_args()


def main():
    args = parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np
    import numpyro
    import numpyro.distributions as dist
    from numpyro.diagnostics import effective_sample_size
    from numpyro.infer import MCMC, NUTS

    if not args.no_x64:
        numpyro.enable_x64()

    compile_events = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, secs, **kw: compile_events.append(name)
        if name.endswith("backend_compile_duration")
        else None
    )

    eps = np.loadtxt(args.eps)
    assert eps.shape == (100,), f"{args.eps}: expected 100 numbers, got {eps.shape}"
    x_np = np.arange(100) / 100.0
    y_np = 1.0 + 2.0 * x_np + 0.5 * eps
    x, y = jnp.asarray(x_np), jnp.asarray(y_np)

    def model(x, y=None):
        a = numpyro.sample("a", dist.Normal(0.0, 10.0))
        b = numpyro.sample("b", dist.Normal(0.0, 10.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        with numpyro.plate("data", x.shape[0]):
            numpyro.sample("y", dist.Normal(a + b * x, sigma), obs=y)

    def make_mcmc():
        kernel = NUTS(
            model,
            target_accept_prob=args.target_accept,
            max_tree_depth=args.max_tree_depth,
        )
        return MCMC(
            kernel,
            num_warmup=args.warmup,
            num_samples=args.draws,
            num_chains=1,
            progress_bar=False,
        )

    def run(rng_key, x, y):
        mcmc = make_mcmc()
        mcmc.run(rng_key, x, y=y, extra_fields=("diverging", "num_steps"))
        return mcmc.get_samples(), mcmc.get_extra_fields()

    # Ahead-of-time compilation, timed on its own.
    t0 = time.perf_counter()
    compiled = jax.jit(run).lower(jax.random.PRNGKey(args.seed), x, y).compile()
    compile_seconds = time.perf_counter() - t0

    times, first = [], None
    compiles_before = len(compile_events)
    for r in range(args.repeats):
        key = jax.random.PRNGKey(args.seed + r)
        t0 = time.perf_counter()
        samples, extra = compiled(key, x, y)
        jax.block_until_ready((samples, extra))
        times.append(time.perf_counter() - t0)
        if first is None:
            first = (samples, extra)
    assert len(compile_events) == compiles_before, "a timed run compiled something"

    # For information: an ordinary MCMC.run, called twice on one MCMC object; the second call's time.
    mcmc = make_mcmc()
    for r in range(2):
        t0 = time.perf_counter()
        mcmc.run(jax.random.PRNGKey(args.seed + r), x, y=y)
        jax.block_until_ready(mcmc.get_samples())
        mcmc_run_call_seconds = time.perf_counter() - t0

    samples, extra = first
    seconds = statistics.median(times)
    out = {
        "draws_per_second": args.draws / seconds,
        "warmup_plus_draws_seconds": seconds,
        "compile_seconds": compile_seconds,
        "mean_a": float(samples["a"].mean()),
        "mean_b": float(samples["b"].mean()),
        "mean_sigma": float(samples["sigma"].mean()),
        "numpyro": numpyro.__version__,
        "jax": jax.__version__,
        "warmup_plus_draws_seconds_all": times,
        "mcmc_run_call_seconds": mcmc_run_call_seconds,
        "divergences": int(np.asarray(extra["diverging"]).sum()),
        "leapfrog_steps": int(np.asarray(extra["num_steps"]).sum()),
        "warmup": args.warmup,
        "draws": args.draws,
        "seed": args.seed,
        "repeats": args.repeats,
        "target_accept_prob": args.target_accept,
        "max_tree_depth": args.max_tree_depth,
        "x64": not args.no_x64,
    }
    print(json.dumps(out))

    for name, exact in EXACT.items():
        d = np.asarray(samples[name], dtype=np.float64)
        mcse = float(d.std(ddof=1)) / math.sqrt(float(effective_sample_size(d[None, :])))
        z = (float(d.mean()) - exact) / mcse
        print(
            f"{name}: mean {d.mean():.5f} exact {exact:.5f} mcse {mcse:.5f} z {z:+.2f}"
            + ("" if abs(z) < 4 else "  <-- far from the exact mean"),
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
