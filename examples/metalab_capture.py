"""Report results to metalab from a program it runs: copy this file beside yours."""
import json
import os


def _emit(**obj):
    # One JSON object a line; NaN and infinities arrive as null, with a warning.
    with open(os.environ["METALAB_CAPTURE"], "a", encoding="utf-8") as f:
        f.write(json.dumps(obj) + "\n")


def metric(name, value, step=None):
    _emit(metric=name, value=float(value), **({} if step is None else {"step": int(step)}))


def data(name, value): _emit(data=name, value=value)
def artifact(name, path): _emit(artifact=name, path=os.path.abspath(path))
def log(text): _emit(log=str(text))
