#!/usr/bin/env python3
"""The 100 noise values of the M2 `linreg` benchmark model: numpy default_rng(0).standard_normal(100),
one per line (the same values as the benchmark specification's linreg_eps.txt)."""
import numpy as np

with open("linreg_eps.txt", "w") as fh:
    for x in np.random.default_rng(0).standard_normal(100):
        fh.write(repr(float(x)) + "\n")
