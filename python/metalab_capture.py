"""Report results to metalab from a program it runs (per-run mode).

Copy this file beside your script, or put metalab's python/ folder on
sys.path. Only the standard library is used.

    import metalab_capture as capture
    capture.metric("final_loss", 0.12)
    capture.metric("loss", 0.25, step=100)      # a point of a series
    capture.data("config", {"layers": [64, 64]})
    capture.artifact("coef", "coef.npy")         # stored as coef.npy
    capture.log("converged after 10 epochs")

Each call appends one JSON line to $METALAB_CAPTURE (docs/experiment-file.md).
"""
import itertools
import json
import os
import shutil

_kept = itertools.count()


def _emit(**obj):
    # One JSON object a line; NaN and infinities arrive as null, with a warning.
    with open(os.environ["METALAB_CAPTURE"], "a", encoding="utf-8") as f:
        f.write(json.dumps(obj) + "\n")


def _keep(path, scratch):
    """A copy of the file at path in scratch, which metalab empties only after
    it has read the run's capture lines: the program may remove (or rewrite)
    its file as soon as artifact() returns."""
    if not scratch or not os.path.isdir(scratch):
        return path
    kept = os.path.join(scratch, ".metalab-artifact-%d-%s" % (next(_kept), os.path.basename(path)))
    shutil.copyfile(path, kept)
    return kept


def _artifact_line(name, path, format, scratch):
    path = os.path.abspath(path)
    if format is None:
        # coef.npy keeps its extension: stored as coef.npy, not coef.
        format = os.path.splitext(path)[1].lstrip(".") or None
    obj = {"artifact": name, "path": _keep(path, scratch)}
    if format:
        obj["format"] = format
    return obj


def metric(name, value, step=None):
    """A number: one column of `metalab results`, or with step a point of a
    series (`metalab results --format series`)."""
    _emit(metric=name, value=float(value), **({} if step is None else {"step": int(step)}))


def data(name, value):
    """Any JSON-serialisable value, kept in the run's record."""
    _emit(data=name, value=value)


def artifact(name, path, format=None):
    """Store the file at path as the run's artifact name. format (default: the
    file's extension) becomes the stored file's extension when name has none.
    The file is copied at once, so it may be a temporary file."""
    _emit(**_artifact_line(name, path, format, os.environ.get("METALAB_SCRATCH")))


def log(text):
    """A line of the run's log (`metalab logs RUN_ID`)."""
    _emit(log=str(text))
