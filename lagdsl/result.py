"""What a solve returns, in the user's names, indices and objective sense."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

#: Statuses a backend may report.  ``optimal`` and ``feasible`` count as solved (exit 0).
STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "limit", "error")
SOLVED = ("optimal", "feasible")


@dataclass
class Result:
    """The outcome of ``Program.solve()``.

    ``values[name]`` is a float for a scalar variable, else a dict keyed by the element label
    (tuple indices joined by ``,``).  ``duals`` has the same shape per constraint name, where
    the backend has them.  ``objective`` is in the user's sense (a maximum is reported as
    the maximum).  ``times`` holds wall seconds per phase (``compile``, ``solve``, ...).
    """

    status: str
    objective: float | None = None
    values: dict[str, Any] = field(default_factory=dict)
    duals: dict[str, Any] = field(default_factory=dict)
    max_violation: float | None = None
    backend: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    fields: dict[str, Callable] = field(default_factory=dict)

    @property
    def solved(self) -> bool:
        return self.status in SOLVED

    def to_json_dict(self) -> dict:
        """The object ``lagdsl solve --json`` prints (LANGUAGE.md)."""
        stats = dict(self.stats)
        if self.times:
            stats.setdefault("times", self.times)
        return {"status": self.status, "objective": _num(self.objective),
                "variables": _clean(self.values), "duals": _clean(self.duals),
                "max_violation": _num(self.max_violation), "backend": self.backend,
                "stats": _clean(stats)}

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_json_dict(), **kw)

    def __repr__(self) -> str:
        return "Result(status=%r, objective=%r, backend=%r, max_violation=%r)" % (
            self.status, self.objective, self.backend, self.max_violation)


def _num(v):
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _finite_float_dict(d: dict) -> bool:
    """Whether ``d`` maps str keys to finite Python floats — the shape of a large variable
    family, which then needs no per-entry cleaning (checked in bulk by numpy)."""
    if not d:
        return False
    import numpy as np   # here, so that importing lagdsl.result stays cheap
    try:
        vals = np.fromiter(d.values(), dtype=np.float64, count=len(d))
    except (TypeError, ValueError):
        return False
    # set(map(type, ...)) runs in C: a million entries cost milliseconds, not a Python loop.
    return bool(np.isfinite(vals).all()) and set(map(type, d.values())) <= {float, int} \
        and set(map(type, d)) == {str}


def _clean(obj):
    if isinstance(obj, dict):
        if _finite_float_dict(obj):
            return obj
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        return obj            # counts stay integers
    if isinstance(obj, float):
        return _num(obj)
    if hasattr(obj, "item") and callable(obj.item):
        return _clean(obj.item())     # numpy scalars: as their Python twins
    return obj
