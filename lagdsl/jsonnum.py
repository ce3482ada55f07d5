"""One JSON encoding for everything lagdsl writes: ``solve --json``, ``check --json``,
``backends --json``, the ``qubo`` export, saved ``--save`` folders (and the IR, whose writer
uses the same strings).

JSON has no infinity or NaN; lagdsl writes them as the **strings** ``"inf"``, ``"-inf"`` and
``"nan"`` (strict JSON: any parser reads it, ``float("inf")`` reads the value back), and
``null`` only for "no value" (an objective a failed solve does not have, a history step
where a metric was not recorded).  numpy scalars and arrays become plain numbers and lists.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping

__all__ = ["number", "clean", "dumps"]


def number(v):
    """A float for JSON: itself when finite, else ``"inf"``, ``"-inf"`` or ``"nan"``; None
    stays None."""
    if v is None:
        return None
    v = float(v)
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def clean(obj):
    """``obj`` with every non-finite float encoded by :func:`number`, numpy values as their
    Python twins, tuples as lists and mapping keys as strings; ints and bools unchanged."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        return number(obj)
    if isinstance(obj, Mapping):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):     # numpy arrays and scalars
        return clean(obj.tolist())
    if hasattr(obj, "item") and callable(obj.item):
        return clean(obj.item())
    return obj


def dumps(obj, default=None, **kw) -> str:
    """``json.dumps`` of :func:`clean` ``(obj)``: strict JSON (``allow_nan=False``); what
    JSON cannot hold goes through ``default`` (as in ``json.dumps``), then is cleaned."""
    c = clean(obj)
    return json.dumps(c if default is None else _with_default(c, default), allow_nan=False, **kw)


def _with_default(x, default):
    if isinstance(x, dict):
        return {k: _with_default(v, default) for k, v in x.items()}
    if isinstance(x, list):
        return [_with_default(v, default) for v in x]
    if x is None or isinstance(x, (str, int, float, bool)):
        return x
    return clean(default(x))
