"""Greedy repair-and-improve of samples (on by default; ``repair=false`` measures raw samples).

For one bitstring ``x``: while some constraint row is violated, flip the bit that lowers the
total violation ``sum_r max(0, A_r x - hi_r, lo_r - A_r x)`` the most (ties: the smaller
objective); stop when feasible or when no flip helps.  Then, while feasible, flip the bit
that lowers the objective the most among flips that keep every row satisfied (a 1-flip
local search).  Each step scores all ``n`` flips at once from the sparse matrix: a flip of
bit ``i`` changes only the rows of column ``i``, so the violation change of every flip is a
sum over the nonzeros of ``A`` (one ``bincount``) and the objective change a sparse
mat-vec; a step costs ``O(nnz)``, whatever ``n``.
"""
from __future__ import annotations

import numpy as np

from .lowering import Lowered


def _row_violation(R: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.maximum(lo - R, 0) + np.maximum(R - hi, 0)


class Repairer:
    """Repair-and-improve against ``low``'s constraint rows and objective."""

    def __init__(self, low: Lowered, tol: float = 1e-9):
        C = low.A.tocsc()
        self.n = low.n
        self.A = low.A
        self.rows = C.indices                                    # row of each nonzero
        self.cols = np.repeat(np.arange(low.n), np.diff(C.indptr))
        self.vals = C.data
        self.indptr = C.indptr
        self.lo, self.hi = low.lo, low.hi
        self.lin = low.objective.linear
        self.S = low.objective.symmetric()
        self.tol = tol
        self.max_steps = 4 * low.n + 10

    def _scores(self, x: np.ndarray, R: np.ndarray):
        """Per flip: the change of total violation and of the objective."""
        s = 1.0 - 2.0 * x                                        # +1: 0 -> 1, -1: 1 -> 0
        r, a = self.rows, self.vals
        new = R[r] + s[self.cols] * a
        d = _row_violation(new, self.lo[r], self.hi[r]) - _row_violation(R[r], self.lo[r], self.hi[r])
        dv = np.bincount(self.cols, weights=d, minlength=self.n)
        df = s * (self.lin + self.S @ x)
        return dv, df

    def _flip(self, x: np.ndarray, R: np.ndarray, k: int) -> None:
        a, b = self.indptr[k], self.indptr[k + 1]
        R[self.rows[a:b]] += (1.0 - 2.0 * x[k]) * self.vals[a:b]
        x[k] = 1.0 - x[k]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The repaired and improved copy of ``x``."""
        x = np.asarray(x, dtype=np.float64).copy()
        R = np.asarray(self.A @ x, dtype=np.float64)
        v = float(_row_violation(R, self.lo, self.hi).sum())
        for _ in range(self.max_steps):
            if v <= self.tol:
                break
            dv, df = self._scores(x, R)
            k = int(np.lexsort((df, dv))[0])
            if dv[k] >= -self.tol:
                return x
            self._flip(x, R, k)
            v += dv[k]
        if v > self.tol:
            return x
        for _ in range(self.max_steps):
            dv, df = self._scores(x, R)
            df = np.where(dv <= self.tol, df, np.inf)
            k = int(np.argmin(df))
            if not df[k] < -1e-12:
                break
            self._flip(x, R, k)
        return x
