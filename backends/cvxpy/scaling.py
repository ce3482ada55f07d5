"""Numerical honesty on cvxpy's side: linear rows split by sense scaled by powers of two, and
the spread of nonlinear bodies measured.  The rules themselves (the band, the power of two,
the notes on what HiGHS would silently change) are :mod:`lagdsl.lower.matrix`'s, shared with
the ``highs`` backend."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lagdsl.errors import LagError
from lagdsl.ir.model import Model
from lagdsl.lower.evaluate import Evaluator
from lagdsl.lower.matrix import canonical, row_max_abs, scale_for, scaling_note, solver_drop_notes
from lagdsl.lower.numeric import NumericAlgebra
from lagdsl.lower.rows import Rows

#: A point violating no constraint by more than this (relative to its size) is feasible.
FEASIBILITY_TOL = 1e-6


def body_spread(model: Model, c, rows: Rows, lb: np.ndarray, ub: np.ndarray,
                expr=None) -> np.ndarray:
    """How much each row of a nonlinear body changes over a few points of the unit box
    (moved inside the variables' bounds): the scale of its coefficients, which cvxpy's
    canonical form will carry to the solver.  nan where the body cannot be evaluated.
    ``expr`` is the body when ``c`` is not a constraint (an objective's ``expr``)."""
    rng = np.random.default_rng(0)        # fixed: the same model always scales the same
    N = model.num_unknowns
    vals = []
    for _ in range(4):
        p = np.clip(rng.uniform(-1.0, 1.0, N), lb, ub)
        p = np.where(np.isfinite(lb) & ~np.isfinite(ub), lb + np.abs(p), p)
        with np.errstate(all="ignore"):
            try:
                v = Evaluator(model, owner=c).value(c.body if expr is None else expr, rows,
                                                    NumericAlgebra(model, p))
            except (LagError, ValueError, FloatingPointError):
                return np.full(rows.n, np.nan)
        vals.append(np.broadcast_to(np.asarray(v, dtype=np.float64), (rows.n,)))
    with np.errstate(all="ignore"):
        return np.max([np.abs(v - vals[0]) for v in vals[1:]], axis=0)


def scale_rows(name: str, keys, rows: np.ndarray, A: sp.csr_matrix, rhs: np.ndarray,
               notes: list, highs: list):
    """``(A, rhs, scale)`` of linear rows ``A x (sense) rhs`` after row scaling by powers of
    two — exact, and it keeps HiGHS from reading a row of tiny coefficients (``1e-10 x >=
    1``) as ``0 >= 1``; ``scale`` is None when no row changed.  Appends the scaling note to
    ``notes`` and what HiGHS would still change to ``highs``."""
    scale = None
    if A.nnz:
        big = row_max_abs(canonical(A))
        s = scale_for(big)
        if np.any(s != 1):
            notes.append(scaling_note(name, keys, rows, s, big))
            A, rhs, scale = (sp.diags(s) @ A).tocsr(), s * rhs, s
    # rows of one sense: rhs is their only bound, passed as both sides
    highs.extend(solver_drop_notes(name, keys, rows, A, rhs, rhs))
    return A, rhs, scale
