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

serve() announces that it pipelines: metalab then sends the next run while
this one runs, so that no run waits for a round trip between the two
processes. Runs still run one at a time, in order; each gets its own
capture.scratch.
"""
import json
import math
import os
import stat
import sys
import traceback

# Whether serve() announces that it pipelines. The benchmark of hack/bench
# turns it off to measure the one-at-a-time protocol beside it.
_PIPELINE = True

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


def _size_of(fd):
    """A function that returns the size of the regular file open as fd, or
    None when fd is not one: what metalab needs to cut its log by run."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return lambda: None
    except OSError:
        return lambda: None

    def size():
        try:
            return os.fstat(fd).st_size
        except OSError:
            return None

    return size


def serve(op):
    """Run op for each run metalab sends, until stdin ends."""
    channel = os.fdopen(int(os.environ.get("METALAB_CHANNEL_FD", "3")), "w", encoding="utf-8")
    # Announced only to a metalab that offers it: an older one would take
    # the line for a capture line, and fail the first run.
    offered = os.environ.get("METALAB_CAPABILITIES", "").split(",")
    pipeline = _PIPELINE and "pipeline" in offered
    if pipeline:
        channel.write('{"capabilities": ["pipeline"]}\n')
        channel.flush()
    out_size, err_size = _size_of(1), _size_of(2)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        error = None
        try:
            op(req["params"], Seeds(req), Capture(channel, req))
        except Exception as e:  # the run fails; the process serves the next
            traceback.print_exc()
            error = "".join(traceback.format_exception_only(type(e), e)).strip()
        sys.stdout.flush()
        sys.stderr.flush()
        sizes = (out_size(), err_size()) if pipeline else (None, None)
        if error is None and None not in sizes:
            # As json.dumps writes it, which metalab recognises without
            # decoding it.
            done = '{"done": %s, "stdout": %d, "stderr": %d}\n' % ((json.dumps(req["run_id"]),) + sizes)
        elif error is None:
            done = '{"done": ' + json.dumps(req["run_id"]) + "}\n"
        else:
            obj = {"done": req["run_id"], "error": error}
            if None not in sizes:
                obj["stdout"], obj["stderr"] = sizes
            done = json.dumps(obj) + "\n"
        channel.write(done)
        channel.flush()
