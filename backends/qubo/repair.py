"""Greedy repair-and-improve of samples (on by default; ``repair=false`` measures raw samples).

For one bitstring ``x``: while some constraint row is violated, flip the bit that lowers the
total violation ``sum_r max(0, A_r x - hi_r, lo_r - A_r x)`` the most (ties: the smaller
objective); stop when feasible or when no flip helps.  Then, while feasible, flip the bit
that lowers the objective the most among flips that keep every row satisfied (a 1-flip
local search).  Each step scores all ``n`` flips at once from ``A x`` and the objective's
gradient, so a step costs one ``m x n`` array operation.
"""
from __future__ import annotations

import numpy as np

from .lowering import Lowered


def _violation(R: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Total violation of the rows' values ``R`` (``... x m``)."""
    return np.maximum(lo - R, 0).sum(axis=-1) + np.maximum(R - hi, 0).sum(axis=-1)


class Repairer:
    """Repair-and-improve against ``low``'s constraint rows and objective."""

    def __init__(self, low: Lowered, tol: float = 1e-9):
        self.A = low.A.toarray() if low.A.shape[0] else np.zeros((0, low.n))
        self.lo, self.hi = low.lo, low.hi
        self.obj = low.objective
        self.S = low.objective.symmetric().toarray()
        self.tol = tol
        self.max_steps = 4 * low.n + 10

    def _flip_scores(self, x: np.ndarray, R: np.ndarray):
        s = 1.0 - 2.0 * x                                   # +1: 0 -> 1, -1: 1 -> 0
        Rn = R[None, :] + s[:, None] * self.A.T             # rows after each flip (n x m)
        dv = _violation(Rn, self.lo, self.hi)
        df = s * (self.obj.linear + self.S @ x)             # objective change of each flip
        return Rn, dv, df

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The repaired and improved copy of ``x``."""
        x = np.asarray(x, dtype=np.float64).copy()
        R = self.A @ x
        v = _violation(R, self.lo, self.hi)
        for _ in range(self.max_steps):
            if v <= self.tol:
                break
            Rn, dv, df = self._flip_scores(x, R)
            k = int(np.lexsort((df, dv))[0])
            if dv[k] >= v - self.tol:
                return x
            x[k] = 1.0 - x[k]
            R, v = Rn[k], dv[k]
        if v > self.tol:
            return x
        for _ in range(self.max_steps):
            Rn, dv, df = self._flip_scores(x, R)
            df = np.where(dv <= self.tol, df, np.inf)
            k = int(np.argmin(df))
            if not df[k] < -1e-12:
                break
            x[k] = 1.0 - x[k]
            R = Rn[k]
        return x
