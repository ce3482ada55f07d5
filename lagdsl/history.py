"""Training and iteration histories, one shape for every iterative backend.

A backend records scalar metrics per step (an outer iteration, an epoch, a multiplier update)
and stores ``history.to_dict()`` in ``Result.stats["history"]``; ``--plot`` and users read it
back from there (:meth:`History.from_dict`).  Long runs are thinned to at most ``max_points``
points (always keeping the first and the last), so a million-step run does not make a
million-entry JSON result.
"""
from __future__ import annotations

import math

import numpy as np


class History:
    """Per-step scalar metrics: ``record(step, objective=..., violation=...)``."""

    def __init__(self, max_points: int = 1000):
        self.max_points = max(2, int(max_points))
        self._steps: list[int] = []
        self._series: dict[str, list[float]] = {}

    def record(self, step: int, **metrics) -> None:
        """Add one step; a metric missing at some steps is stored as NaN there."""
        n = len(self._steps)
        self._steps.append(int(step))
        for name in metrics:
            # in the order given, not a set's: `names` (and so the --plot panels) keep it
            if name not in self._series:
                self._series[name] = [math.nan] * n
        for name, col in self._series.items():
            v = metrics.get(name)
            col.append(math.nan if v is None else float(v))

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def names(self) -> list[str]:
        """The recorded metrics, in the order they first appeared."""
        return list(self._series)

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    def series(self, name: str) -> np.ndarray:
        """One metric over all steps (float array; NaN where it was not recorded)."""
        return np.asarray(self._series[name], dtype=np.float64)

    def last(self, name: str) -> float | None:
        """The latest recorded value of ``name`` (None if never recorded)."""
        col = self._series.get(name)
        return col[-1] if col else None

    def to_dict(self) -> dict:
        """``{"step": [...], name: [...], ...}``, thinned to at most ``max_points`` points;
        NaNs become None so the dict is valid JSON."""
        n = len(self._steps)
        if n <= self.max_points:
            keep = np.arange(n)
        else:
            keep = np.unique(np.linspace(0, n - 1, self.max_points).round().astype(np.int64))
        out = {"step": [self._steps[i] for i in keep]}
        for name, col in self._series.items():
            out[name] = [None if math.isnan(col[i]) else col[i] for i in keep]
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """The history written by :meth:`to_dict`."""
        h = cls(max_points=max(2, len(d.get("step", ()))))
        h._steps = [int(s) for s in d.get("step", ())]
        for name, col in d.items():
            if name != "step":
                h._series[name] = [math.nan if v is None else float(v) for v in col]
        return h
