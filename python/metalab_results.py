"""Read a metalab store into pandas: runs, learning curves and artifacts.

In a notebook (metalab's python/ folder on sys.path, or this file copied
beside the notebook; pandas installed; the metalab binary on $PATH):

    import metalab_results as mr

    runs = mr.runs("runs/linreg")            # one row per run
    ok = runs[runs.status == "completed"]
    ok.groupby("lr")["final_loss"].agg(["mean", "std", "count"])

    curves = mr.series("runs/linreg")        # one row per point of a series
    loss = curves[curves.metric == "loss"]
    loss.pivot_table(index="step", columns="lr", values="value")   # mean over seeds
    loss.pivot_table(index="step", columns="lr", values="value").plot(logy=True)

    arts = mr.artifacts("runs/linreg", name="coef")
    import numpy as np
    coefs = {r.run_id: np.load(r.path) for r in arts.itertuples()}

    runs.merge(arts, on=["run_id", "status", "replicate", "lr"])     # params join too

The frames have the columns of the command line's exports, so that what
`metalab results` prints is what pandas holds:

    runs()       `metalab results --format csv`: run_id, status, replicate,
                 seed, one column per param and per metric (a name that
                 clashes gets a param_ or metric_ prefix), started, ended,
                 duration_s, error; experiment and version first when the
                 store holds several.
    series()     `metalab results --format series`: run_id, status,
                 replicate, the params, metric, step, value.
    artifacts()  `metalab artifacts --json`: run_id, status, replicate, the
                 params, name, format, size, sha256, path (absolute).

Types: run IDs, experiment and version stay strings ("1.10" is not 1.1),
seed is an unsigned 64-bit integer (uint64: seeds above 2**63 exist), step
an int64, started and ended are UTC timestamps, a missing or null value
is NaN. Params and metrics are typed by pandas from their text.

How it reads: by running the metalab binary (`metalab results`,
`metalab artifacts`) rather than parsing the store's files itself. The
store's truth is its segments (JSON lines), but which of a run's records
wins (completed over failed over cancelled over running, the later one
among equals), how the nodes' indexes are merged, what a damaged segment
loses, and how clashing columns are named are the binary's code; running
it gives exactly the exports of the command line, streamed, with one rule
in one place instead of two that could drift apart. The binary is found
as metalab=..., else $METALAB_BIN, else `metalab` on $PATH. A damaged
store (exit status 3) gives what could be read, with a warning; any other
failure raises MetalabError with metalab's message and hint.

Only the standard library and pandas are used.
"""
import io
import json
import os
import shutil
import subprocess
import warnings

import pandas as pd

__all__ = ["runs", "series", "artifacts", "MetalabError"]

# Exit status of metalab for a damaged store: it printed what it could read.
_EXIT_DAMAGED = 3


class MetalabError(RuntimeError):
    """metalab failed; the message is what it printed on stderr."""


def _binary(metalab):
    name = metalab or os.environ.get("METALAB_BIN") or "metalab"
    path = shutil.which(name)
    if path is None:
        raise MetalabError(
            "metalab binary %r not found; build it (go build -o metalab .) and put it on $PATH, "
            "or pass metalab='/path/to/metalab' or set $METALAB_BIN" % name)
    return path


def _run(metalab, args):
    proc = subprocess.run([_binary(metalab)] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, encoding="utf-8")
    if proc.returncode == _EXIT_DAMAGED:
        warnings.warn(proc.stderr.strip(), RuntimeWarning, stacklevel=3)
    elif proc.returncode != 0:
        raise MetalabError(proc.stderr.strip() or "metalab %s: exit status %d" % (" ".join(args), proc.returncode))
    return proc.stdout


def _filters(store, experiment, status):
    args = ["--store", os.fspath(store)]
    if experiment:
        args += ["--experiment", experiment]
    for s in [status] if isinstance(status, str) else (status or []):
        args += ["--status", s]
    return args


# Columns that stay strings whatever they hold, and their empty cells "".
_STRINGS = ("run_id", "experiment", "version", "status", "error", "metric")


def _read_csv(text, dtypes):
    head = next(iter(io.StringIO(text)), "").rstrip("\r\n").split(",")
    converters = {c: str for c in _STRINGS if c in head}
    frame = pd.read_csv(io.StringIO(text), converters=converters,
                        dtype={c: t for c, t in dtypes.items() if c in head})
    return frame


def runs(store, experiment=None, status=None, metalab=None):
    """One row per run of the store: the columns of `metalab results --format
    csv`. experiment picks NAME or NAME@VERSION, status one status or a list
    ("completed", "failed", "cancelled", "running")."""
    text = _run(metalab, ["results", "--format", "csv"] + _filters(store, experiment, status))
    frame = _read_csv(text, {"seed": "uint64", "replicate": "int64", "duration_s": "float64"})
    for c in ("started", "ended"):
        if c in frame.columns:
            frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def series(store, metric=None, experiment=None, status=None, metalab=None):
    """One row per point of a series (a metric reported with a step): the
    columns of `metalab results --format series`. metric keeps one series."""
    text = _run(metalab, ["results", "--format", "series"] + _filters(store, experiment, status))
    frame = _read_csv(text, {"replicate": "int64", "step": "int64", "value": "float64"})
    if metric is not None:
        frame = frame[frame["metric"] == metric].reset_index(drop=True)
    return frame


def artifacts(store, run=None, name=None, experiment=None, metalab=None):
    """One row per artifact: the fields of `metalab artifacts --json`, params
    as columns (a param named as another column gets a param_ prefix). run
    picks one run (its ID or a unique prefix), name the artifacts of one name."""
    args = ["artifacts", "--json"] + _filters(store, experiment, None)
    if run:
        args += ["--run", run]
    if name:
        args += ["--name", name]
    entries = json.loads(_run(metalab, args) or "[]")
    several = len({(e["experiment"], e["version"]) for e in entries}) > 1
    lead = (["experiment", "version"] if several else []) + ["run_id", "status", "replicate"]
    trail = ["name", "format", "size", "sha256", "path"]
    names = sorted({p for e in entries for p in (e.get("params") or {})})
    head = {p: ("param_" + p if p in lead + trail + ["experiment", "version"] else p) for p in names}
    rows = []
    for e in entries:
        row = {c: e[c] for c in lead}
        for p in names:
            row[head[p]] = (e.get("params") or {}).get(p)
        row.update({c: e[c] for c in trail})
        rows.append(row)
    frame = pd.DataFrame(rows, columns=lead + [head[p] for p in names] + trail)
    return frame.astype({"replicate": "int64", "size": "int64"})
