"""Estimate pi by Monte Carlo: one metalab run.

metalab passes the run's params and seeds in the environment and reads the
results this script appends to $METALAB_CAPTURE (see ../../python/metalab_capture.py).
Only the standard library is used.
"""

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import metalab_capture as capture  # noqa: E402

n = int(os.environ["METALAB_PARAM_N_SAMPLES"])
# All randomness comes from the run's seed, so a run can be repeated exactly.
rng = random.Random(int(os.environ["METALAB_SEED"]))

inside = 0
for _ in range(n):
    x, y = rng.random(), rng.random()
    if x * x + y * y <= 1.0:
        inside += 1

capture.metric("pi_estimate", 4.0 * inside / n)
