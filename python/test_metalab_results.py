"""Tests of metalab_results.py against a store this test makes.

    python3 -m unittest discover -s python -p 'test_*.py'

needs pandas and the metalab binary ($METALAB_BIN, or metalab on $PATH);
`go test -run TestPythonReader .` runs them with the Go test binary as
metalab. The store holds two experiments of one Python operation, a
gradient descent over lr x 2 seeds that reports a loss curve, a final loss,
data, a log line and an artifact written to a temporary directory removed at
once: per-run mode (with cwd = "scratch", through metalab_capture.py) and
persistent mode (through metalab_persistent.py).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metalab_results as mr  # noqa: E402

HELPERS = os.path.dirname(os.path.abspath(__file__))
STEPS = 5

OP = """
def descend(lr, capture):
    w = 0.0
    for step in range({steps}):
        loss = (w - 1.0) ** 2
        capture.metric("loss", loss, step=step)
        w += lr * 2 * (1.0 - w)
    capture.metric("final_loss", (w - 1.0) ** 2)
    capture.data("w", w)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "coef.npy")
        with open(path, "w") as f:
            f.write(repr(w))
        capture.artifact("coef", path)   # the directory is removed right after
    capture.log("done lr=%s" % lr)
""".format(steps=STEPS)

PER_RUN = """
import os, sys, tempfile
sys.path.insert(0, {helpers!r})
import metalab_capture as capture
{op}
descend(float(os.environ["METALAB_PARAM_LR"]), capture)
open("out.txt", "w").write("cwd is scratch")   # would collide in a shared directory
"""

PERSISTENT = """
import os, sys, tempfile
sys.path.insert(0, {helpers!r})
import metalab_persistent
{op}
metalab_persistent.serve(lambda params, seeds, capture: descend(params["lr"], capture))
"""

TOML = """
name = "{name}"
version = "1.10"
command = ["python3", "{script}"]
{extra}

[params.grid]
lr = [0.1, 0.2]

[seeds]
base = 7
replicates = 2
"""


def metalab(*args):
    return subprocess.run([mr._binary(None)] + list(args), check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True).stdout


class ReaderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="metalab-results-test-")
        cls.store = os.path.join(cls.dir, "store")
        for name, script, src, extra in [
            ("linreg", "per_run.py", PER_RUN, 'cwd = "scratch"'),
            ("linreg_p", "persistent.py", PERSISTENT, 'mode = "persistent"'),
        ]:
            with open(os.path.join(cls.dir, script), "w") as f:
                f.write(src.format(helpers=HELPERS, op=OP))
            toml = os.path.join(cls.dir, name + ".toml")
            with open(toml, "w") as f:
                f.write(TOML.format(name=name, script=script, extra=extra))
            metalab("run", toml, "--store", cls.store, "--progress", "quiet", "--workers", "2")
        cls.records = [json.loads(l) for l in metalab("results", "--store", cls.store, "--format", "jsonl").splitlines()]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_runs(self):
        runs = mr.runs(self.store)
        self.assertEqual(len(runs), 8)
        self.assertEqual(list(runs.columns[:7]), ["experiment", "version", "run_id", "status", "replicate", "seed", "lr"])
        self.assertEqual(set(runs["status"]), {"completed"}, runs["error"].tolist())
        # "1.10" stays a string; seeds are unsigned 64-bit, exactly.
        self.assertEqual(set(runs["version"]), {"1.10"})
        self.assertEqual(runs["seed"].dtype, "uint64")
        want = {r["run_id"]: r["seed"] for r in self.records}
        self.assertEqual({r.run_id: int(r.seed) for r in runs.itertuples()}, want)
        self.assertTrue(pd.api.types.is_datetime64_any_dtype(runs["started"]))
        self.assertEqual(len(mr.runs(self.store, experiment="linreg_p@1.10")), 4)
        self.assertEqual(len(mr.runs(self.store, status="failed")), 0)
        means = runs.groupby(["experiment", "lr"])["final_loss"].mean()
        self.assertAlmostEqual(means["linreg", 0.1], means["linreg_p", 0.1])

    def test_series(self):
        curves = mr.series(self.store)
        self.assertEqual(list(curves.columns),
                         ["experiment", "version", "run_id", "status", "replicate", "lr", "metric", "step", "value"])
        self.assertEqual(len(curves), 8 * STEPS)
        self.assertEqual(curves["step"].dtype, "int64")
        table = curves[curves.experiment == "linreg"].pivot_table(index="step", columns="lr", values="value")
        self.assertEqual(table.shape, (STEPS, 2))
        self.assertEqual(table.loc[0, 0.1], 1.0)
        self.assertLess(table.loc[STEPS - 1, 0.2], table.loc[STEPS - 1, 0.1])
        self.assertEqual(len(mr.series(self.store, metric="loss", experiment="linreg")), 4 * STEPS)

    def test_artifacts(self):
        arts = mr.artifacts(self.store)
        self.assertEqual(list(arts.columns),
                         ["experiment", "version", "run_id", "status", "replicate", "lr", "name", "format", "size", "sha256", "path"])
        self.assertEqual(len(arts), 8)
        for a in arts.itertuples():
            self.assertEqual((a.name, a.format), ("coef", "npy"))
            self.assertTrue(a.path.endswith(os.sep + "coef.npy"), a.path)
            with open(a.path, "rb") as f:
                body = f.read()
            self.assertEqual(hashlib.sha256(body).hexdigest(), a.sha256)
            self.assertEqual(len(body), a.size)
        one = mr.artifacts(self.store, run=arts.run_id[0][:8], name="coef")
        self.assertEqual(len(one), 1)
        joined = mr.runs(self.store).merge(arts, on=["experiment", "version", "run_id", "status", "replicate", "lr"])
        self.assertEqual(len(joined), 8)

    def test_logs_and_data(self):
        for r in self.records:
            self.assertEqual(r["logs"], ["done lr=%s" % r["params"]["lr"]])
            self.assertIn("w", r["data"])
            out = metalab("logs", "--store", self.store, r["run_id"], "--log")
            self.assertEqual(out, "done lr=%s\n" % r["params"]["lr"])

    def test_errors(self):
        with self.assertRaises(mr.MetalabError) as e:
            mr.runs(os.path.join(self.dir, "nostore"))
        self.assertIn("not a metalab store", str(e.exception))
        with self.assertRaises(mr.MetalabError):
            mr.runs(self.store, metalab="no-such-metalab-binary")


if __name__ == "__main__":
    unittest.main()
