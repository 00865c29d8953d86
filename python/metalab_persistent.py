"""Serve metalab runs from one long-lived process (persistent mode).

Copy this file and metalab_capture.py beside your script, or put metalab's
python/ folder on sys.path.

With mode = "persistent" in the experiment file, metalab starts the command
once per worker slot and sends it runs over stdin, one JSON line each. Call
serve(op) with a function op(params, seeds, capture); each run calls it once.

    def op(params, seeds, capture):
        capture.metric("loss", train(params["lr"], seed=seeds.seed))

    metalab_persistent.serve(op)

An exception fails the run (its traceback goes to stderr, the run's error is
its last line) and the process goes on with the next run. The protocol is in
docs/experiment-file.md. Only the standard library is used.
"""
import json
import math
import os
import sys
import traceback

from metalab_capture import _artifact_line


class Seeds:
    """The run's seeds: seed (64-bit), numpy_seed (for numpy.random.default_rng
    or seed()), replicate and base."""

    def __init__(self, req):
        self.seed = req["seed"]
        self.numpy_seed = req["numpy_seed"]
        self.replicate = req["replicate"]
        self.base = req["seed_base"]


class Capture:
    """What a run captures; the same calls as metalab_capture.py. artifact_dir
    (files left there become artifacts) and scratch (emptied after the run)
    are the run's own directories."""

    def __init__(self, channel, req):
        self._channel = channel
        self._run = req["run_id"]
        self.artifact_dir = req["artifact_dir"]
        self.scratch = req["scratch"]

    def _emit(self, **obj):
        # Each line names its run: one that a thread writes after the run
        # has ended is rejected by metalab, not credited to the next run.
        obj["run"] = self._run
        self._channel.write(json.dumps(obj) + "\n")

    def metric(self, name, value, step=None):
        value = float(value)
        if not math.isfinite(value):
            value = None
        obj = {"metric": name, "value": value}
        if step is not None:
            obj["step"] = int(step)
        self._emit(**obj)

    def data(self, name, value):
        self._emit(data=name, value=value)

    def artifact(self, name, path, format=None):
        """Store the file at path as the run's artifact name; format (default:
        the file's extension) becomes the stored file's extension when name
        has none. The file is copied at once: it may be a temporary file."""
        self._emit(**_artifact_line(name, path, format, self.scratch))

    def log(self, text):
        self._emit(log=str(text))


def serve(op):
    """Run op for each run metalab sends, until stdin ends."""
    channel = os.fdopen(int(os.environ.get("METALAB_CHANNEL_FD", "3")), "w", encoding="utf-8")
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        # As json.dumps({"done": ID}) writes it, which metalab recognises
        # without decoding it.
        done = '{"done": ' + json.dumps(req["run_id"]) + "}\n"
        try:
            op(req["params"], Seeds(req), Capture(channel, req))
        except Exception as e:  # the run fails; the process serves the next
            traceback.print_exc()
            error = "".join(traceback.format_exception_only(type(e), e)).strip()
            done = json.dumps({"done": req["run_id"], "error": error}) + "\n"
        sys.stdout.flush()
        sys.stderr.flush()
        channel.write(done)
        channel.flush()
