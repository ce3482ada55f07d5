"""Numerical honesty: row scaling by powers of two, and notes on what HiGHS would silently
change (coefficients it reads as zero, bounds it reads as infinite)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lagdsl.errors import LagError
from lagdsl.ir.model import Model
from lagdsl.lower.evaluate import Evaluator
from lagdsl.lower.numeric import NumericAlgebra
from lagdsl.lower.rows import Rows

#: HiGHS reads matrix entries with |a| below this as zero (its ``small_matrix_value``) ...
HIGHS_SMALL = 1e-9
#: ... and bounds at or beyond this as infinite (its ``infinite_bound``).
HIGHS_INFINITE = 1e20
#: A point violating no constraint by more than this (relative to its size) is feasible.
FEASIBILITY_TOL = 1e-6
#: Rows whose largest coefficient lies outside this band are scaled to a largest of about 1.
SCALE_BAND = (1e-3, 1e6)


def row_scale(A: sp.csr_matrix) -> np.ndarray:
    """A power of two per row (exact in floating point) that brings the row's largest
    coefficient near 1 when it lies outside :data:`SCALE_BAND`; 1 elsewhere."""
    big = np.zeros(A.shape[0])
    if A.nnz:
        big = np.asarray(abs(A).max(axis=1).todense()).reshape(-1)
    return scale_for(big)


def scale_for(big: np.ndarray) -> np.ndarray:
    """Powers of two bringing positive finite magnitudes outside :data:`SCALE_BAND` near 1."""
    out = np.ones(len(big))
    off = np.isfinite(big) & (big > 0) & ((big < SCALE_BAND[0]) | (big > SCALE_BAND[1]))
    out[off] = np.exp2(-np.round(np.log2(big[off])))
    return out


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


def _label(name: str, keys, r: int) -> str:
    """``c[3,a]`` for row ``r`` of constraint ``name`` (``c`` when it is scalar)."""
    if keys is None or keys[1] or r >= len(keys[0]):
        return name
    return "%s[%s]" % (name, keys[0][r])


def scaling_note(name: str, keys, rows: np.ndarray, scale: np.ndarray, big: np.ndarray) -> str:
    """One line for ``stats["notes"]`` about the rows of a block that were scaled."""
    k = np.flatnonzero(scale != 1)
    first = int(rows[k[0]])
    if len(k) == 1:
        why = "HiGHS reads |a| < 1e-9 as zero" if big[k[0]] < 1 else "solvers lose digits on it"
        return ("constraint %s: row scaled by 2^%d (its largest coefficient is %g; %s); the "
                "answer is for the row as written"
                % (_label(name, keys, first), int(round(np.log2(scale[k[0]]))), big[k[0]], why))
    return ("constraint %s: %d rows scaled by powers of 2 (largest coefficients from %g to %g, "
            "first %s); the answer is for the rows as written"
            % (name, len(k), big[k].min(), big[k].max(), _label(name, keys, first)))


def objective_scale(name: str, big: float, notes: list, measured: bool = False) -> float:
    """A power of two bringing an objective whose largest coefficient (or, ``measured``, its
    change over the unit box, :func:`body_spread`) is ``big`` near 1 when ``big`` lies below
    :data:`SCALE_BAND`; 1 otherwise.  Solvers compare costs with absolute tolerances
    (HiGHS: reduced costs below 1e-7 count as zero, a MIP gap below 1e-6 is closed), so
    ``maximize 1e-10 * x`` would stop at any feasible point; large costs only make those
    tolerances stricter and are left alone.  Appends a note when it scales."""
    scale = float(scale_for(np.array([big], dtype=np.float64))[0]) if big < SCALE_BAND[0] else 1.0
    if scale != 1:
        notes.append("objective %s: scaled by 2^%d (%s %g; solvers take costs this small for "
                     "zero against their tolerances); the objective and duals reported are for "
                     "the objective as written"
                     % (name, int(round(np.log2(scale))), "it changes by about" if measured
                        else "its largest coefficient is", big))
    return scale


def scale_rows(name: str, keys, rows: np.ndarray, A: sp.csr_matrix, rhs: np.ndarray,
               notes: list, highs: list):
    """``(A, rhs, scale)`` of linear rows ``A x (sense) rhs`` after row scaling by powers of
    two — exact, and it keeps HiGHS from reading a row of tiny coefficients (``1e-10 x >=
    1``) as ``0 >= 1``; ``scale`` is None when no row changed.  Appends the scaling note to
    ``notes`` and what HiGHS would still change to ``highs``."""
    scale = None
    if A.nnz:
        s = row_scale(A)
        if np.any(s != 1):
            big = np.asarray(abs(A).max(axis=1).todense()).reshape(-1)
            notes.append(scaling_note(name, keys, rows, s, big))
            A, rhs, scale = (sp.diags(s) @ A).tocsr(), s * rhs, s
    highs.extend(highs_notes(name, keys, rows, A, rhs))
    return A, rhs, scale


def highs_notes(name: str, keys, rows: np.ndarray, A: sp.csr_matrix, rhs: np.ndarray) -> list[str]:
    """What HiGHS would change in these (already scaled) rows: coefficients it drops and
    right-hand sides it takes as infinite."""
    out = []
    tiny = A.nnz and np.abs(A.data) < HIGHS_SMALL
    if tiny is not False and np.any(tiny):
        e = int(np.flatnonzero(tiny)[0])
        r = int(np.searchsorted(A.indptr, e, side="right") - 1)
        out.append("constraint %s: HiGHS reads %d coefficient%s below 1e-9 as zero (e.g. %g, "
                   "next to coefficients up to %g in the same row)"
                   % (_label(name, keys, int(rows[r])), int(np.sum(tiny)),
                      "" if np.sum(tiny) == 1 else "s", A.data[e],
                      float(np.max(np.abs(A.data[A.indptr[r]:A.indptr[r + 1]])))))
    far = np.isfinite(rhs) & (np.abs(rhs) >= HIGHS_INFINITE)
    if np.any(far):
        r = int(np.flatnonzero(far)[0])
        out.append("constraint %s: HiGHS reads the bound %g (beyond 1e20) as infinite, so the "
                   "row is not enforced" % (_label(name, keys, int(rows[r])), rhs[r]))
    return out
