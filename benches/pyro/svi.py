"""Timing of Pyro SVI (AutoNormal, Trace_ELBO with 1 particle, Adam) on the benchmark models M1
`scale` and M2 `linreg` (shared/BENCH.md), the PyTorch counterpart of benches/numpyro/svi.py.

Models (as `benches/src/lib.rs` writes them; M2 with its 100 observations as separate sites, as
the benchmark defines it):
    M1: weight ~ Normal(8.5, 1); measurement ~ Normal(weight, 0.75) observed at 9.5
    M2: a, b ~ Normal(0, 10); sigma ~ HalfNormal(1); y_i ~ Normal(a + b x_i, sigma), i < 100
with x_i = i / 100 and y_i = 1 + 2 x_i + 0.5 eps_i, eps_i the 100 numbers in
benches/data/linreg_eps.txt (found relative to this script, or given with --eps).

For each model and each of --repeats (5) repeats r: `pyro.clear_param_store()`,
`pyro.set_rng_seed(seed + r)`, then a fresh `SVI(model, AutoNormal(model), Adam({"lr": --lr}),
Trace_ELBO())` (a fresh guide and optimiser too: after clear_param_store an existing AutoNormal
would push its trained values back into the store), and --steps (5000) calls of `svi.step()`,
timed together. Pyro runs eagerly, so there is no compilation to keep out; the timed steps include
the guide's set-up, which AutoNormal does lazily in the first step (as NumPyro's compiled run
includes `svi.init`). The median time over the repeats gives `steps_per_second`. The losses of the
first repeat (seed --seed) give `final_loss_mean_100`, the mean of its last 100 losses, and the
first step at which their moving average over 100 steps comes within --tolerance of the exact log
evidence's negative (`steps_to_target`), the same rule as the NumPyro script.

Double precision (`torch.set_default_dtype(torch.float64)`) and one thread
(`torch.set_num_threads(1)`). Pyro's defaults are kept otherwise (its argument and support
validation is on).

Run, from the repository root, in a venv made from benches/pyro/requirements.txt:

    python3 -m venv /tmp/venv-pyro
    /tmp/venv-pyro/bin/pip install -r benches/pyro/requirements.txt
    /tmp/venv-pyro/bin/python benches/pyro/svi.py [--steps 5000] [--lr 0.05] [--seed 0] [--repeats 5]

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

    import numpy as np
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import SVI, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal
    from pyro.optim import Adam

    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)

    eps = np.loadtxt(args.eps)
    x = np.arange(100) / 100.0
    y = 1.0 + 2.0 * x + 0.5 * eps
    # The data as the models use them, made once: x_i as Python floats, each y_i as a 0-d tensor.
    xs = [float(v) for v in x]
    ys = [torch.tensor(float(v)) for v in y]
    measurement = torch.tensor(9.5)

    def m1():
        weight = pyro.sample("weight", dist.Normal(8.5, 1.0))
        pyro.sample("measurement", dist.Normal(weight, 0.75), obs=measurement)

    def m2():
        a = pyro.sample("a", dist.Normal(0.0, 10.0))
        b = pyro.sample("b", dist.Normal(0.0, 10.0))
        sigma = pyro.sample("sigma", dist.HalfNormal(1.0))
        for i in range(100):
            pyro.sample(f"y_{i}", dist.Normal(a + b * xs[i], sigma), obs=ys[i])

    out = {"pyro": pyro.__version__, "torch": torch.__version__, "steps": args.steps,
           "lr": args.lr, "x64": True}
    for name, model in [("m1", m1), ("m2", m2)]:
        times, first = [], None
        for r in range(args.repeats):
            pyro.clear_param_store()
            pyro.set_rng_seed(args.seed + r)
            svi = SVI(model, AutoNormal(model), Adam({"lr": args.lr}), Trace_ELBO())
            losses = [0.0] * args.steps
            t0 = time.perf_counter()
            for step in range(args.steps):
                losses[step] = svi.step()
            times.append(time.perf_counter() - t0)
            if first is None:
                first = losses
        seconds = statistics.median(times)
        target = -LOG_EVIDENCE[name]
        out[name] = {
            "steps_per_second": args.steps / seconds,
            "seconds": seconds,
            "final_loss_mean_100": float(np.mean(first[-100:])),
            "steps_to_target": steps_to_target(first, target, args.tolerance),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
