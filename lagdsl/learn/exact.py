"""Exact solves of many instances (labels, validation, benchmarks): the model compiled once
for an exact backend and re-solved per instance (:meth:`lagdsl.resolve.CompiledModel.solve`)."""
from __future__ import annotations

import time

import numpy as np


def flat_values(ir, values: dict) -> np.ndarray:
    """A result's ``values`` as the flat vector of unknowns (declaration order)."""
    parts = []
    for name in ir.vars:
        v = values[name]
        parts.append(np.asarray(getattr(v, "array", v), dtype=np.float64).reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0)


class Exact:
    """The model compiled once for ``backend``; :meth:`solve` re-solves it per instance.

    An instance on which the backend ends in ``error`` is solved again by ``fallback``
    (HiGHS 1.16's QP solver stops with "Solve error" on about 2% of DC3's QP instances,
    fresh or warm, that cvxpy solves); ``fallbacks`` lists their positions."""

    def __init__(self, model, backend: str = "highs", fallback: str | None = "cvxpy"):
        self.model = model
        self.backend = backend
        self.prog = model.compile(backend)
        self.fallback = fallback if fallback != backend else None
        self._fb = None
        self.fallbacks: list[int] = []

    def solve(self, datas, progress_bar=None):
        """``(X, objective, statuses, seconds)`` for override dicts ``datas``: ``X`` is
        ``(B, N)`` (NaN rows where no solution), seconds per instance."""
        ir = self.model.ir
        X = np.full((len(datas), ir.num_unknowns), np.nan)
        obj = np.full(len(datas), np.nan)
        statuses, secs = [], np.zeros(len(datas))
        for k, d in enumerate(datas):
            t0 = time.perf_counter()
            r = self.prog.solve(data=d)
            if r.status == "error" and self.fallback is not None:
                if self._fb is None:
                    self._fb = self.model.compile(self.fallback)
                r = self._fb.solve(data=d)
                self.fallbacks.append(k)
            secs[k] = time.perf_counter() - t0
            statuses.append(r.status)
            if r.solved and r.values:
                X[k] = flat_values(ir, r.values)
                obj[k] = r.objective
            if progress_bar is not None:
                progress_bar.update(1)
        return X, obj, statuses, secs
