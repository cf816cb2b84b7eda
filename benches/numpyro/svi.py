"""Timing of NumPyro SVI (AutoNormal, Trace_ELBO with 1 particle, Adam) on the benchmark models M1
`scale` and M2 `linreg` (shared/BENCH.md).

Models (as `benches/src/lib.rs` writes them; M2 with its 100 observations as separate sites, as
the benchmark defines it):
    M1: weight ~ Normal(8.5, 1); measurement ~ Normal(weight, 0.75) observed at 9.5
    M2: a, b ~ Normal(0, 10); sigma ~ HalfNormal(1); y_i ~ Normal(a + b x_i, sigma), i < 100
with x_i = i / 100 and y_i = 1 + 2 x_i + 0.5 eps_i, eps_i the 100 numbers in
benches/data/linreg_eps.txt.

For each model: `SVI(model, AutoNormal(model), Adam(--lr), Trace_ELBO())`, and `svi.run` for
--steps steps, which NumPyro compiles into one XLA loop (`jax.lax.fori_loop` over the jitted
update). The compilation is kept out of the timing: the whole run is one jax.jit-ted function of
the key, compiled ahead of time (`compile_seconds`), then called --repeats times; the median time
gives `steps_per_second`. The losses of the first timed run are returned, with the first step at
which their moving average over 100 steps comes within --tolerance of the exact log evidence's
negative (`steps_to_target`).

Double precision (NumPyro's default float32 with --no-x64). Set
XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" for one thread.

    /tmp/venv-numpyro/bin/python benches/numpyro/svi.py [--steps 5000] [--lr 0.05] [--seed 0]

Prints one line of JSON on stdout.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

LOG_EVIDENCE = {"m1": -1.46208, "m2": -80.8517}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_eps = Path(__file__).resolve().parent.parent / "data" / "linreg_eps.txt"
    p.add_argument("--eps", type=Path, default=default_eps, help="path of linreg_eps.txt")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--tolerance", type=float, default=1.0)
    p.add_argument("--no-x64", action="store_true")
    return p.parse_args()


def steps_to_target(losses, target, tolerance, window=100):
    """The first step whose trailing moving average of the loss is within `tolerance` of
    `target` (the exact negative log evidence), or None."""
    total = 0.0
    for i, loss in enumerate(losses):
        total += loss
        if i >= window:
            total -= losses[i - window]
        if i + 1 >= window and total / window - target <= tolerance:
            return i + 1
    return None


def main():
    args = parse_args()

    import jax
    import jax.numpy as jnp
    import numpy as np
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.optim import Adam

    if not args.no_x64:
        numpyro.enable_x64()

    eps = np.loadtxt(args.eps)
    x = np.arange(100) / 100.0
    y = 1.0 + 2.0 * x + 0.5 * eps

    def m1():
        weight = numpyro.sample("weight", dist.Normal(8.5, 1.0))
        numpyro.sample("measurement", dist.Normal(weight, 0.75), obs=9.5)

    def m2():
        a = numpyro.sample("a", dist.Normal(0.0, 10.0))
        b = numpyro.sample("b", dist.Normal(0.0, 10.0))
        sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
        for i in range(100):
            numpyro.sample(f"y_{i}", dist.Normal(a + b * x[i], sigma), obs=y[i])

    out = {"numpyro": numpyro.__version__, "jax": jax.__version__, "steps": args.steps,
           "lr": args.lr, "x64": not args.no_x64}
    for name, model in [("m1", m1), ("m2", m2)]:
        svi = SVI(model, AutoNormal(model), Adam(args.lr), Trace_ELBO())

        def run(key):
            result = svi.run(key, args.steps, progress_bar=False)
            return result.losses

        t0 = time.perf_counter()
        compiled = jax.jit(run).lower(jax.random.PRNGKey(args.seed)).compile()
        compile_seconds = time.perf_counter() - t0
        times, first = [], None
        for r in range(args.repeats):
            t0 = time.perf_counter()
            losses = jax.block_until_ready(compiled(jax.random.PRNGKey(args.seed + r)))
            times.append(time.perf_counter() - t0)
            if first is None:
                first = np.asarray(losses)
        seconds = statistics.median(times)
        target = -LOG_EVIDENCE[name]
        out[name] = {
            "steps_per_second": args.steps / seconds,
            "seconds": seconds,
            "compile_seconds": compile_seconds,
            "final_loss_mean_100": float(first[-100:].mean()),
            "steps_to_target": steps_to_target(list(first), target, args.tolerance),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
