"""Quadratic2QuadForm: quadratic polynomials -> checked quadratic forms ``x'Px + q'x + r``.

Source form: an :class:`~lagdsl.lower.instance.Instance` whose objective and/or constraint
rows have quadratic parts (COO triplets in :class:`~lagdsl.lower.poly.PolyBatch`).
Target form: a :class:`QuadInstance` — the same instance plus, for the objective and each
block with quadratic rows, a :class:`QuadForms` that holds every row's symmetric ``P``
restricted to its support variables, checked for the curvature the row needs, and factored:

* ``minimize q(x)`` and rows ``q(x) <= u`` need ``P`` positive semidefinite (convex);
* ``maximize q(x)`` and rows ``q(x) >= l`` need ``P`` negative semidefinite (concave);
* a quadratic row with both bounds (``==`` or a range) is only convex when ``P == 0``.

The factor ``F`` (``sign * sum_t (F_t . x)^2 == x'Px`` per row, from the eigendecomposition
of the support matrix) lets a conic backend write every quadratic row of a block as one
vectorised ``S @ square(F @ x)``; the objective also keeps ``(support, P)`` for
``quad_form``.  This is MathOptInterface's ``QuadtoSOC`` bridge in spirit.  Rows are batched by
support size and decomposed with one stacked ``eigh`` per size.

A row that fails the check raises :class:`NonConvexQuadratic` with the most negative (or
positive) eigenvalue, the variables of its eigenvector and the objective's or constraint's
span.  ``invert`` is the identity: no unknowns are renamed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..lower.instance import Instance
from ..lower.poly import PolyBatch
from .base import PassError, Solution, column_label

#: Relative tolerance on eigenvalues of the wrong sign (round-off of data like 0.1 * 3).
EIG_TOL = 1e-9
#: Largest non-diagonal support decomposed densely; beyond it only the objective is checked
#: (with a sparse eigen-solver) and constraint rows are refused.
DENSE_LIMIT = 2000


class NonConvexQuadratic(PassError):
    """A quadratic objective or row does not have the curvature its sense needs."""


@dataclass
class QuadForms:
    """The quadratic parts of one :class:`PolyBatch`, checked and factored.

    ``rows`` are the batch rows with a non-zero quadratic part and ``sign[k]`` is +1 when
    row ``rows[k]`` is convex (``P`` PSD), -1 when concave.  ``factor`` (``K x N``) and
    ``factor_row`` (the batch row of each of its ``K`` rows) satisfy
    ``x'P_r x == sign_r * sum_{k: factor_row[k] == r} (factor[k] @ x)^2``.  For one-row batches
    (the objective) ``support`` and ``P`` are the restricted symmetric matrix.
    ``eig`` is each row's extreme eigenvalue of the wrong side (min for convex rows).
    """

    n: int
    rows: np.ndarray
    sign: np.ndarray
    factor: sp.csr_matrix | None
    factor_row: np.ndarray
    eig: np.ndarray
    support: np.ndarray | None = None
    P: sp.csr_matrix | None = None


@dataclass
class QuadInstance:
    """An instance with its quadratic parts as checked forms (the pass's target form)."""

    inst: Instance
    objective: QuadForms | None = None
    blocks: dict[str, QuadForms] = field(default_factory=dict)


def _where(inst: Instance, block) -> tuple[str, object]:
    """``("objective cost", span)`` or ``("constraint cap[3]", span)`` of a quadratic row."""
    if block is None:
        o = inst.model.objective
        return "objective %s" % o.name, o.span
    return "constraint %s" % block.name, block.constraint.span


_NEEDS = {
    ("obj", 1): "minimize needs a convex quadratic (positive semidefinite matrix)",
    ("obj", -1): "maximize needs a concave quadratic (negative semidefinite matrix)",
    ("row", 1): "`q(x) <= u` needs a convex quadratic (positive semidefinite matrix)",
    ("row", -1): "`q(x) >= l` needs a concave quadratic (negative semidefinite matrix)",
    ("row", 0): "a quadratic equality or ranged row is convex only when its quadratic part is zero",
}


def _fail(inst: Instance, block, r: int, need: int, eigval: float, cols: np.ndarray, vec: np.ndarray):
    """Raise :class:`NonConvexQuadratic` for row ``r``: the eigenvalue and its variables."""
    what, span = _where(inst, block)
    if block is not None and block.constraint.binding:
        what += "[%s]" % block.keys()[r]
    order = np.argsort(-np.abs(vec))
    names = [column_label(inst, int(cols[k])) for k in order if abs(vec[k]) > 1e-6][:6]
    msg = "%s: %s, but it has eigenvalue %.6g along %s" % (
        what, _NEEDS[("obj" if block is None else "row", need)], eigval, ", ".join(names))
    raise NonConvexQuadratic(msg, span, hint="a backend for non-convex problems (lagrangian) "
                             "or a convex reformulation may help", source=inst.model.source)


def quad_forms(inst: Instance, poly: PolyBatch, need: np.ndarray, block=None) -> QuadForms:
    """Check and factor the quadratic rows of ``poly``.

    ``need[r]`` is +1 (row ``r`` must be convex), -1 (concave) or 0 (both bounds: the
    quadratic part must vanish).  ``block`` (None for the objective) is only used to name
    the offender in a :class:`NonConvexQuadratic`.
    """
    N = inst.N
    q = poly.quad
    if q is None or not len(q.coef):
        return QuadForms(poly.n, np.zeros(0, np.int64), np.zeros(0), None, np.zeros(0, np.int64),
                         np.zeros(0))
    # Symmetric triplets; support = distinct (row, var) pairs, ranked inside each row.
    row = np.concatenate([q.row, q.row]).astype(np.int64)
    ii = np.concatenate([q.i, q.j]).astype(np.int64)
    jj = np.concatenate([q.j, q.i]).astype(np.int64)
    cc = np.concatenate([q.coef, q.coef]) * 0.5
    ukeys = np.unique(row * N + ii)
    urow, uvar = ukeys // N, ukeys % N
    rows, first, size = np.unique(urow, return_index=True, return_counts=True)
    slot = np.searchsorted(rows, row)               # position of each triplet's row in `rows`
    li = np.searchsorted(ukeys, row * N + ii) - first[slot]
    lj = np.searchsorted(ukeys, row * N + jj) - first[slot]
    need_r = np.asarray(need)[rows]
    sign = np.where(need_r < 0, -1.0, 1.0)
    eig = np.zeros(len(rows))
    # Diagonal rows (only x_i^2 terms, the common sum of squares) at any size, vectorised.
    offdiag = np.bincount(slot, weights=(ii != jj).astype(float), minlength=len(rows)) > 0
    fr, fc, fv, fk = [], [], [], []                 # factor: batch row, column, value, vector id
    n_vec = 0
    diag = ~offdiag
    if diag.any():
        t = diag[slot]
        d = np.bincount(np.searchsorted(ukeys, row[t] * N + ii[t]), weights=cc[t], minlength=len(ukeys))
        dslot = np.searchsorted(rows, urow)
        on = diag[dslot]
        dd, ds, dv = d[on], dslot[on], uvar[on]
        wrong = np.where(need_r[ds] > 0, dd < 0, np.where(need_r[ds] < 0, dd > 0, dd != 0))
        if wrong.any():
            k = int(np.flatnonzero(wrong)[0])
            _fail(inst, block, int(rows[ds[k]]), int(need_r[ds[k]]), float(dd[k]), dv[k:k + 1], np.ones(1))
        lo = np.full(len(rows), np.inf)
        np.minimum.at(lo, ds, sign[ds] * dd)
        eig[diag] = sign[diag] * lo[diag]
        nz = dd != 0
        fr.append(rows[ds[nz]]); fc.append(dv[nz]); fv.append(np.sqrt(np.abs(dd[nz])))
        fk.append(n_vec + np.arange(int(nz.sum())))
        n_vec += int(nz.sum())
    for k in np.unique(size[offdiag]):
        g = np.flatnonzero(offdiag & (size == k))   # rows (positions in `rows`) of this size
        cols = uvar[first[g][:, None] + np.arange(k)[None, :]]     # (m, k) support columns
        if k > DENSE_LIMIT:
            if poly.n != 1:
                what, span = _where(inst, block)
                raise PassError("%s: a quadratic row over %d variables is too large to check; "
                                "write it with sumsq or norm2" % (what, k), span, source=inst.model.source)
            eig[g] = _check_large(inst, block, int(need_r[g][0]), row, ii, jj, cc, uvar)
            continue
        pos = np.full(len(rows), -1)
        pos[g] = np.arange(len(g))
        t = pos[slot] >= 0
        D = np.zeros((len(g), k, k))
        np.add.at(D, (pos[slot[t]], li[t], lj[t]), cc[t])
        w, V = np.linalg.eigh(D)                    # ascending eigenvalues, one stacked call
        scale = np.maximum(1.0, np.abs(w).max(axis=1))
        bad_lo = w[:, 0] < -EIG_TOL * scale          # not PSD
        bad_hi = w[:, -1] > EIG_TOL * scale          # not NSD
        ng = need_r[g]
        bad = np.where(ng > 0, bad_lo, np.where(ng < 0, bad_hi, bad_lo | bad_hi))
        if bad.any():
            m = int(np.flatnonzero(bad)[0])
            e = 0 if (ng[m] > 0 or (ng[m] == 0 and bad_lo[m])) else -1
            _fail(inst, block, int(rows[g][m]), int(ng[m]), float(w[m, e]), cols[m], V[m, :, e])
        s = sign[g]
        eig[g] = np.where(s > 0, w[:, 0], w[:, -1])
        # sign * P = V diag(sign * w) V' = L L' with L = V sqrt(sign * w): column t is a factor
        sw = np.clip(s[:, None] * w, 0.0, None)
        m_idx, t_idx = np.nonzero(sw > EIG_TOL * scale[:, None])
        L = V[m_idx, :, t_idx] * np.sqrt(sw[m_idx, t_idx])[:, None]   # (n_kept, k)
        fr.append(np.repeat(rows[g][m_idx], k)); fc.append(cols[m_idx].reshape(-1))
        fv.append(L.reshape(-1)); fk.append(n_vec + np.repeat(np.arange(len(m_idx)), k))
        n_vec += len(m_idx)
    factor, factor_row = None, np.zeros(0, np.int64)
    if fr:
        fk_all = np.concatenate(fk)
        factor = sp.csr_matrix((np.concatenate(fv), (fk_all, np.concatenate(fc))), shape=(n_vec, N))
        factor_row = np.zeros(n_vec, np.int64)
        factor_row[fk_all] = np.concatenate(fr)
    out = QuadForms(poly.n, rows, sign, factor, factor_row, eig)
    if poly.n == 1:   # the objective: keep the support matrix for quad_form
        out.support = uvar
        out.P = sp.csr_matrix((cc, (np.searchsorted(uvar, ii), np.searchsorted(uvar, jj))),
                              shape=(len(uvar), len(uvar)))
    return out


def _check_large(inst, block, need, row, ii, jj, cc, uvar) -> float:
    """Curvature check of one huge non-diagonal form with a sparse eigen-solver."""
    P = sp.csr_matrix((cc, (np.searchsorted(uvar, ii), np.searchsorted(uvar, jj))),
                      shape=(len(uvar), len(uvar)))
    which = "SA" if need > 0 else "LA"
    w, V = spla.eigsh(P, k=1, which=which)
    scale = max(1.0, float(spla.norm(P, 1)))
    if need * w[0] < -EIG_TOL * scale:
        _fail(inst, block, 0, need, float(w[0]), uvar, V[:, 0])
    return float(w[0])


def needs(inst: Instance) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """The curvature each quadratic row needs: objective by sense, rows by finite bounds."""
    obj = None
    if inst.objective is not None:
        obj = np.array([1 if inst.sense == "minimize" else -1])
    rows = {}
    for b in inst.blocks:
        up, lo = np.isfinite(b.upper), np.isfinite(b.lower)
        rows[b.name] = np.where(up & ~lo, 1, np.where(lo & ~up, -1, 0))
    return obj, rows


class Quadratic2QuadForm:
    """Recognise, check and factor quadratic forms (see module docstring)."""

    name = "quad2form"

    def accepts(self, inst: Instance) -> bool:
        """Whether the instance has any quadratic term."""
        return inst.degree >= 2

    def apply(self, inst: Instance) -> tuple[QuadInstance, None]:
        """The checked forms; raises :class:`NonConvexQuadratic` at the first bad row."""
        obj_need, row_need = needs(inst)
        out = QuadInstance(inst)
        if inst.objective is not None and inst.objective.degree == 2:
            out.objective = quad_forms(inst, inst.objective, obj_need, None)
        for b in inst.blocks:
            if b.body.degree == 2:
                out.blocks[b.name] = quad_forms(inst, b.body, row_need[b.name], b)
        return out, None

    def invert(self, solution: Solution, data) -> Solution:
        """Identity: the unknowns are unchanged."""
        return solution
