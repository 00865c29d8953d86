"""Estimate pi by Monte Carlo: the pi example as a persistent metalab process.

metalab starts this once per worker slot (mode = "persistent" in
pi_persistent.toml) and sends it runs; see ../../python/metalab_persistent.py.
"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import metalab_persistent  # noqa: E402


def estimate_pi(params, seeds, capture):
    n = int(params["n_samples"])
    # All randomness comes from the run's seed, so a run can be repeated exactly.
    rng = random.Random(seeds.seed)
    inside = 0
    for _ in range(n):
        x, y = rng.random(), rng.random()
        if x * x + y * y <= 1.0:
            inside += 1
    capture.metric("pi_estimate", 4.0 * inside / n)


if __name__ == "__main__":
    metalab_persistent.serve(estimate_pi)
