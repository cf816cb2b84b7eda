"""Reference update sequences of the optimisers of `pyro_infer::optim`, in plain NumPy.

What it computes
----------------
An independent implementation, written from the published update rules, of
    torch.optim.SGD           (momentum, dampening, weight_decay; nesterov=False)
    torch.optim.Adam          (bias-corrected, amsgrad=False; the first moment by torch's lerp)
    pyro.optim.ClippedAdam    (pyro/optim/clipped_adam.py: lr *= lrd at every step, then the
                               gradient clamped elementwise to [-clip_norm, clip_norm], weight
                               decay, the moments, eps added to sqrt(v) before the bias correction)
with Pyro's per-parameter gradient clipping (`clip_args`: torch's clip_grad_norm_ on each
parameter alone, then clip_grad_value_) and torch's ExponentialLR and StepLR schedules in their
recursive ("chainable") form: lr_t = lr_{t-1} * gamma (every step_size steps for StepLR).

Every case optimises three parameters of different lengths,
    w (3 coordinates), b (1 coordinate), z (5 coordinates, first stepped at round 3),
each against the gradient of the quadratic loss 0.5 * sum_i a_i (x_i - c_i)^2, i.e.
    grad = a * (x - c),
with curvatures a of very different scales, so that some gradients exceed the clipping bounds.
Each round steps w, b and (from round 3) z, in that order, then advances the schedule once.
The JSON holds, per case, the settings, the initial values, and per round the learning rate
of the round and, per parameter stepped, the gradient it was given, the learning rate that
parameter's step used (ClippedAdam's per-parameter decay included) and its value after the step.
The Rust tests (`infer/tests/optim.rs`) feed the recorded gradients and compare the values to
1e-12 relative.

How to run
----------
From the repository root, with a Python that has NumPy (nothing else is needed):

    python3 -m venv /tmp/venv-optim
    /tmp/venv-optim/bin/pip install numpy
    /tmp/venv-optim/bin/python infer/tests/data/optim_reference.py

It rewrites optim_reference.json next to this script (well under a second).
"""

import json
import math
from pathlib import Path

import numpy as np

ROUNDS = 12

PARAMS = [
    {
        "name": "w",
        "init": [0.0, 0.5, -1.0],
        "curvature": [1.0, 50.0, 0.1],
        "centre": [2.0, -1.0, 30.0],
        "first_round": 0,
    },
    {
        "name": "b",
        "init": [3.0],
        "curvature": [4.0],
        "centre": [-0.25],
        "first_round": 0,
    },
    {
        "name": "z",
        "init": [0.1, -0.2, 0.3, -0.4, 0.5],
        "curvature": [0.5, 2.0, 20.0, 0.01, 7.0],
        "centre": [1.0, 1.0, -1.0, 100.0, 0.0],
        "first_round": 3,
    },
]

CASES = [
    {"name": "sgd", "optimizer": "sgd", "config": {"lr": 0.03}},
    {"name": "sgd_momentum", "optimizer": "sgd", "config": {"lr": 0.01, "momentum": 0.9}},
    {
        "name": "sgd_momentum_dampening_weight_decay",
        "optimizer": "sgd",
        "config": {"lr": 0.02, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
    },
    {
        "name": "sgd_momentum_clip_norm_step_schedule",
        "optimizer": "sgd",
        "config": {"lr": 0.01, "momentum": 0.5, "clip_norm": 1.0},
        "schedule": {"kind": "step", "step_size": 3, "gamma": 0.5},
    },
    {"name": "adam", "optimizer": "adam", "config": {"lr": 0.1}},
    {
        "name": "adam_betas_eps_weight_decay",
        "optimizer": "adam",
        "config": {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.1},
    },
    {
        "name": "adam_clip_norm_clip_value",
        "optimizer": "adam",
        "config": {"lr": 0.1, "clip_norm": 5.0, "clip_value": 1.5},
    },
    {
        "name": "adam_exponential_schedule",
        "optimizer": "adam",
        "config": {"lr": 0.2},
        "schedule": {"kind": "exponential", "gamma": 0.9},
    },
    {"name": "clipped_adam", "optimizer": "clipped_adam", "config": {"lr": 0.1}},
    {
        "name": "clipped_adam_lrd_clip_betas_eps_weight_decay",
        "optimizer": "clipped_adam",
        "config": {
            "lr": 0.1,
            "clip_norm": 5.0,
            "lrd": 0.9,
            "betas": [0.85, 0.995],
            "eps": 1e-6,
            "weight_decay": 0.05,
        },
    },
    {
        "name": "clipped_adam_lrd_exponential_schedule",
        "optimizer": "clipped_adam",
        "config": {"lr": 0.1, "clip_norm": 2.0, "lrd": 0.97},
        "schedule": {"kind": "exponential", "gamma": 0.95},
    },
]


def torch_lerp(start, end, weight):
    """torch.lerp as its CPU kernel computes it."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def clip_grad(grad, clip_norm, clip_value):
    """Pyro's clip_args on one parameter: torch's clip_grad_norm_, then clip_grad_value_."""
    g = grad.copy()
    if clip_norm is not None:
        total_norm = float(np.linalg.norm(g))
        clip_coef = clip_norm / (total_norm + 1e-6)
        g = g * min(clip_coef, 1.0)
    if clip_value is not None:
        g = np.clip(g, -clip_value, clip_value)
    return g


class Schedule:
    """torch's ExponentialLR / StepLR in their recursive form; the rate of the whole optimiser."""

    def __init__(self, lr, spec):
        self.lr = lr
        self.spec = spec
        self.epoch = 0

    def step(self):
        self.epoch += 1
        if self.spec is None:
            return
        if self.spec["kind"] == "exponential":
            self.lr = self.lr * self.spec["gamma"]
        elif self.spec["kind"] == "step":
            if self.epoch % self.spec["step_size"] == 0:
                self.lr = self.lr * self.spec["gamma"]
        else:
            raise ValueError(self.spec)


class Sgd:
    def __init__(self, config):
        self.momentum = config.get("momentum", 0.0)
        self.dampening = config.get("dampening", 0.0)
        self.weight_decay = config.get("weight_decay", 0.0)
        self.clip_norm = config.get("clip_norm")
        self.clip_value = config.get("clip_value")
        self.buf = {}

    def step(self, name, p, grad, lr):
        g = clip_grad(grad, self.clip_norm, self.clip_value)
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            if name not in self.buf:
                self.buf[name] = g.copy()
            else:
                self.buf[name] = self.buf[name] * self.momentum + (1 - self.dampening) * g
            g = self.buf[name]
        return p + (-lr) * g, lr


class Adam:
    def __init__(self, config):
        self.beta1, self.beta2 = config.get("betas", [0.9, 0.999])
        self.eps = config.get("eps", 1e-8)
        self.weight_decay = config.get("weight_decay", 0.0)
        self.clip_norm = config.get("clip_norm")
        self.clip_value = config.get("clip_value")
        self.state = {}

    def step(self, name, p, grad, lr):
        g = clip_grad(grad, self.clip_norm, self.clip_value)
        if name not in self.state:
            self.state[name] = {"step": 0, "m": np.zeros_like(p), "v": np.zeros_like(p)}
        s = self.state[name]
        s["step"] += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        s["m"] = np.array([torch_lerp(m, gi, 1 - self.beta1) for m, gi in zip(s["m"], g)])
        s["v"] = s["v"] * self.beta2 + (1 - self.beta2) * g * g
        bias_correction1 = 1 - self.beta1 ** s["step"]
        bias_correction2 = 1 - self.beta2 ** s["step"]
        step_size = lr / bias_correction1
        denom = np.sqrt(s["v"]) / math.sqrt(bias_correction2) + self.eps
        return p + (-step_size) * (s["m"] / denom), lr


class ClippedAdam:
    def __init__(self, config):
        self.beta1, self.beta2 = config.get("betas", [0.9, 0.999])
        self.eps = config.get("eps", 1e-8)
        self.weight_decay = config.get("weight_decay", 0.0)
        self.clip_norm = config.get("clip_norm", 10.0)
        self.lrd = config.get("lrd", 1.0)
        self.state = {}

    def step(self, name, p, grad, lr):
        if name not in self.state:
            self.state[name] = {
                "step": 0,
                "exp_avg": np.zeros_like(p),
                "exp_avg_sq": np.zeros_like(p),
                "decay": 1.0,
            }
        s = self.state[name]
        # group['lr'] *= group['lrd'], per parameter (Pyro builds one optimiser per parameter);
        # the schedule's rate multiplies it.
        s["decay"] = s["decay"] * self.lrd
        lr = lr * s["decay"]
        g = np.clip(grad, -self.clip_norm, self.clip_norm)
        s["step"] += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        s["exp_avg"] = s["exp_avg"] * self.beta1 + (1 - self.beta1) * g
        s["exp_avg_sq"] = s["exp_avg_sq"] * self.beta2 + (1 - self.beta2) * g * g
        denom = np.sqrt(s["exp_avg_sq"]) + self.eps
        bias_correction1 = 1 - self.beta1 ** s["step"]
        bias_correction2 = 1 - self.beta2 ** s["step"]
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1
        return p + (-step_size) * (s["exp_avg"] / denom), lr


OPTIMIZERS = {"sgd": Sgd, "adam": Adam, "clipped_adam": ClippedAdam}


def run(case):
    opt = OPTIMIZERS[case["optimizer"]](case["config"])
    schedule = Schedule(case["config"]["lr"], case.get("schedule"))
    values = {p["name"]: np.array(p["init"], dtype=np.float64) for p in PARAMS}
    rounds = []
    for r in range(ROUNDS):
        row = {"round": r, "lr": schedule.lr, "params": {}}
        for p in PARAMS:
            if r < p["first_round"]:
                continue
            name = p["name"]
            x = values[name]
            grad = np.array(p["curvature"]) * (x - np.array(p["centre"]))
            values[name], lr_used = opt.step(name, x, grad, schedule.lr)
            row["params"][name] = {
                "grad": grad.tolist(),
                "lr": lr_used,
                "value": values[name].tolist(),
            }
        rounds.append(row)
        schedule.step()
    out = dict(case)
    out["schedule"] = case.get("schedule")
    out["rounds"] = rounds
    return out


def main():
    cases = [run(case) for case in CASES]
    # Some gradient must exceed every clipping bound used, or clipping goes untested.
    for case in cases:
        bound = case["config"].get("clip_value", case["config"].get("clip_norm"))
        if case["optimizer"] == "clipped_adam" and bound is None:
            bound = 10.0
        if bound is not None:
            biggest = max(
                abs(g) for row in case["rounds"] for p in row["params"].values() for g in p["grad"]
            )
            assert biggest > bound, (case["name"], biggest, bound)
    doc = {
        "generator": "infer/tests/data/optim_reference.py",
        "numpy_version": np.__version__,
        "params": PARAMS,
        "cases": cases,
    }
    path = Path(__file__).with_name("optim_reference.json")
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
