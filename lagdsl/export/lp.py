"""CPLEX LP text of a linear (or quadratic-objective) instance, written with whole-array steps.

Layout::

    \\ lagdsl LP export of model <name>
    minimize                                  (or maximize)
     <obj>: + 3 x(a,1) - 2.5 y + [ 2 x(a,1) ^ 2 + 2 x(a,1) * y ] / 2 + 7
    Subject To
     cap(a,1): + x(a,1) + x(a,2) <= 4         (``>=``, ``=`` likewise)
     band_lo: + x(a,1) - y >= -2              (a ranged row lower < upper, both finite,
     band_hi: + x(a,1) - y <= 1                 is written as two rows, see below)
    Bounds
     y free / x(b) = 3 / -inf <= z <= 4 / w >= -2 / -1 <= k <= 7
    General
     k
    Binary
     b(1) b(2)
    End

Conventions (each checked by reading the file back with HiGHS in ``tests/test_export.py``):

* Ranged rows: HiGHS (1.16) does not read CPLEX's ``lo <= expr <= hi`` row form, so a row
  with ``-inf < lower < upper < inf`` becomes two rows ``<name>_lo`` (``>=``) and
  ``<name>_hi`` (``<=``).  The feasible set and the optimum are unchanged; the MPS writer
  keeps it as one row with a RANGES entry.
* The objective constant is written as a constant term of the objective (HiGHS reads it as
  the objective offset).
* Rows whose bounds are both infinite say nothing and are left out.  An empty row (all
  coefficients zero) is written with a ``0`` coefficient on the first unknown.
* An unknown that appears nowhere (objective, rows, quadratic part) is listed in the
  objective with coefficient ``0`` so that it still exists when read back.
* A binary whose declared bounds are narrower than ``[0, 1]`` is written as a bounded
  general integer (a ``Binary`` entry would reset its bounds).
* Long rows are wrapped every 8 terms (CPLEX truncates lines beyond 510 characters).

:func:`flatten` (also used by :mod:`lagdsl.export.mps`) turns an instance into one CSR
matrix, row bounds with the body constants moved over, the objective vector and names, and
refuses (:class:`~lagdsl.errors.BackendRefusal`) what neither format can hold.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import BackendRefusal
from .names import fmt_number, fmt_numbers, row_names, variable_names

WRAP = 8  # terms per line in a row


@dataclass
class Flat:
    """An instance as ``sense c'x + x'Qx-part + c0`` subject to ``lo <= A x <= hi`` and bounds."""

    name: str
    sense: str                   # 'minimize' | 'maximize'
    obj_name: str
    c: np.ndarray                # (N,) linear objective
    c0: float                    # objective constant
    qi: np.ndarray               # quadratic objective: sum qv * x[qi] * x[qj], qi <= qj, unique
    qj: np.ndarray
    qv: np.ndarray
    A: sp.csr_matrix             # (m, N), only rows with a finite bound
    lo: np.ndarray               # (m,)
    hi: np.ndarray
    row_names: np.ndarray        # (m,) object
    col_names: np.ndarray        # (N,) object
    lb: np.ndarray               # (N,) effective bounds
    ub: np.ndarray
    kind: np.ndarray             # (N,) 'C' continuous, 'I' general integer, 'B' binary in [0, 1]
    free: tuple = ()             # names of rows left out: no finite bound (x <= inf)

    @property
    def N(self) -> int:
        return len(self.lb)

    @property
    def m(self) -> int:
        return len(self.lo)

    def row_kinds(self):
        """Masks ``(eq, ranged, ge, le)`` over the rows: ``lo == hi``, both bounds finite and
        different, only ``lo`` finite, only ``hi`` finite (every kept row is one of them)."""
        lo_fin, hi_fin = np.isfinite(self.lo), np.isfinite(self.hi)
        eq = lo_fin & hi_fin & (self.lo == self.hi)
        return eq, lo_fin & hi_fin & ~eq, lo_fin & ~hi_fin, ~lo_fin & hi_fin


def _quad_summed(q, N):
    """Quadratic triplets summed per unordered pair ``(i <= j)``, zeros dropped."""
    if q is None or len(q.coef) == 0:
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0)
    i = np.minimum(q.i, q.j).astype(np.int64)
    j = np.maximum(q.i, q.j).astype(np.int64)
    key = i * max(N, 1) + j
    uk, inv = np.unique(key, return_inverse=True)
    v = np.bincount(inv.reshape(-1), weights=q.coef, minlength=len(uk))
    keep = v != 0
    return uk[keep] // max(N, 1), uk[keep] % max(N, 1), v[keep]


def check_exportable(inst, fmt: str = "LP") -> None:
    """Refuse field models and constraints that are not linear (quadratic objective is fine)."""
    model = inst.model
    what = "%s export" % fmt
    for fname, f in model.fields.items():
        raise BackendRefusal("%s cannot take field (PDE) models: field %s is a function over a domain"
                             % (what, fname), f.span or model.decl_spans.get(fname), source=model.source)
    for c in model.constraints.values():
        if c.region is not None:
            raise BackendRefusal("%s cannot take field (PDE) models: constraint %s holds on a region"
                                 % (what, c.name), c.span, source=model.source)
    for blk in inst.blocks:
        q = blk.body.quad
        if q is not None and len(q.coef):
            rows = q.row.astype(np.int64)
            i, j = np.minimum(q.i, q.j), np.maximum(q.i, q.j)
            key = (rows * max(inst.N, 1) + i) * max(inst.N, 1) + j
            _, inv = np.unique(key, return_inverse=True)
            if np.any(np.bincount(inv.reshape(-1), weights=q.coef) != 0):
                raise BackendRefusal("%s cannot write constraint %s: it is quadratic in the unknowns; "
                                     "an %s file holds linear constraints only" % (what, blk.name, fmt),
                                     blk.constraint.span, source=model.source)
    if inst.N == 0:
        raise BackendRefusal("%s needs at least one unknown: model %s has none" % (what, model.name),
                             source=model.source)


def flatten(inst, fmt: str = "LP") -> Flat:
    """The shared flat form of :func:`write_lp` and :func:`~lagdsl.export.mps.write_mps`."""
    check_exportable(inst, fmt)
    N = inst.N
    obj_name, rnames = row_names(inst)
    mats, los, his = [], [], []
    for blk in inst.blocks:
        if blk.n == 0:
            continue
        lin = blk.body.lin
        mats.append(sp.csr_matrix((blk.n, N)) if lin is None else sp.csr_matrix(lin))
        const = blk.body.const
        los.append(blk.lower - const)
        his.append(blk.upper - const)
    if mats:
        A = sp.vstack(mats, format="csr")
        lo, hi = np.concatenate(los), np.concatenate(his)
    else:
        A, lo, hi = sp.csr_matrix((0, N)), np.zeros(0), np.zeros(0)
    A.sum_duplicates()
    A.eliminate_zeros()
    rnames = np.array(rnames, dtype=object)
    bad = np.flatnonzero(lo > hi)
    if len(bad):
        r = int(bad[0])
        blk_name = rnames[r]
        raise BackendRefusal("%s export: row %s has lower bound %s above upper bound %s"
                             % (fmt, blk_name, fmt_number(lo[r]), fmt_number(hi[r])),
                             source=inst.model.source)
    _refuse_non_finite(inst, fmt, A, lo, hi, rnames)
    keep = np.isfinite(lo) | np.isfinite(hi)
    free = tuple(rnames[~keep].tolist())
    if not keep.all():
        A, lo, hi, rnames = A[keep], lo[keep], hi[keep], rnames[keep]

    obj = inst.objective
    c = np.zeros(N)
    c0 = 0.0
    qi = qj = np.zeros(0, np.int64)
    qv = np.zeros(0)
    if obj is not None:
        c0 = float(obj.const[0]) if obj.n else 0.0
        if obj.lin is not None:
            c = np.asarray(sp.csr_matrix(obj.lin).toarray()).reshape(-1)
        qi, qj, qv = _quad_summed(obj.quad, N)

    lb = np.asarray(inst.lb, dtype=np.float64).copy()
    ub = np.asarray(inst.ub, dtype=np.float64).copy()
    kind = np.asarray(inst.vtype).astype("U1").copy()
    b = kind == "B"
    if b.any():
        lb[b] = np.maximum(lb[b], 0.0)
        ub[b] = np.minimum(ub[b], 1.0)
        kind[b & ((lb != 0) | (ub != 1))] = "I"
    name = inst.model.name or "model"
    cols = np.array(variable_names(inst), dtype=object)
    for what, v in (("an objective coefficient", c), ("the objective constant", np.array([c0])),
                    ("a quadratic objective coefficient", qv)):
        if not np.all(np.isfinite(v)):
            raise BackendRefusal("%s export: %s is %s" % (fmt, what, fmt_number_safe(v[~np.isfinite(v)][0])),
                                 source=inst.model.source)
    wrong = np.isposinf(lb) | np.isneginf(ub) | np.isnan(lb) | np.isnan(ub)
    if wrong.any():
        k = int(np.flatnonzero(wrong)[0])
        raise BackendRefusal("%s export: unknown %s has bounds [%s, %s]" % (
            fmt, cols[k], fmt_number_safe(lb[k]), fmt_number_safe(ub[k])), source=inst.model.source)
    return Flat(name, inst.sense, obj_name, c, c0, qi, qj, qv, A, lo, hi, rnames,
                cols, lb, ub, kind, free)


def fmt_number_safe(v: float) -> str:
    """A number for a message, nan included."""
    return "nan" if v != v else fmt_number(v)


def _refuse_non_finite(inst, fmt: str, A, lo, hi, rnames) -> None:
    """Rows are written whole or not at all: a coefficient that is not finite, a nan bound,
    a lower bound of +inf or an upper bound of -inf is refused with the row's name (the
    front end refuses them too; this guards models built in Python or read from IR)."""
    bad_rows = np.zeros(len(lo), dtype=bool)
    if A.nnz:
        bad = ~np.isfinite(A.data)
        if bad.any():
            bad_rows[np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))[bad]] = True
    bad_rows |= np.isnan(lo) | np.isnan(hi) | np.isposinf(lo) | np.isneginf(hi)
    if bad_rows.any():
        r = int(np.flatnonzero(bad_rows)[0])
        raise BackendRefusal("%s export: row %s has a coefficient or bound that is not a finite "
                             "number (bounds [%s, %s])" % (fmt, rnames[r], fmt_number_safe(lo[r]),
                                                           fmt_number_safe(hi[r])),
                             source=inst.model.source)


# --- LP text -------------------------------------------------------------------------


def _terms(coef: np.ndarray, names: np.ndarray) -> np.ndarray:
    """`` + 3 x`` / `` - x`` / `` + 2.5 y`` for each coefficient and name (object array).

    The signed prefix is formatted once per distinct coefficient, so a term costs one
    string concatenation.
    """
    if len(coef) == 0:
        return np.zeros(0, dtype=object)
    uniq, inv = np.unique(coef, return_inverse=True)
    pre = np.array([(" - " if u < 0 else " + ") + ("" if abs(u) == 1 else fmt_number(abs(u)) + " ")
                    for u in uniq], dtype=object)
    return pre[inv.reshape(-1)] + names


def _wrapped(terms: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Start a new line before every :data:`WRAP`-th term of a row (in place)."""
    k = np.flatnonzero((pos > 0) & (pos % WRAP == 0))
    if len(k):
        terms[k] = "\n  " + terms[k]
    return terms


def _rows_text(A: sp.csr_matrix, names: np.ndarray, heads: np.ndarray, tails: np.ndarray) -> str:
    """Rows ``head term term ... tail`` (wrapped) joined into one string."""
    m = A.shape[0]
    if m == 0:
        return ""
    counts = np.diff(A.indptr)
    row_of = np.repeat(np.arange(m), counts)
    pos = np.arange(A.nnz) - A.indptr[:-1][row_of]
    terms = _wrapped(_terms(A.data, names[A.indices]), pos)
    heads = heads.copy()
    empty = counts == 0
    if empty.any():
        heads[empty] = heads[empty] + " 0 " + names[0]
    out = np.empty(A.nnz + 2 * m, dtype=object)
    out[A.indptr[:-1] + 2 * np.arange(m)] = heads
    out[np.arange(A.nnz) + 2 * row_of + 1] = terms
    out[A.indptr[1:] + 2 * np.arange(m) + 1] = tails
    return "".join(out.tolist())


def _name_lines(names: np.ndarray, per_line: int = 10) -> str:
    """Names, ``per_line`` to a line, each line indented by one space."""
    names = list(names)
    return "".join(" " + " ".join(names[k:k + per_line]) + "\n" for k in range(0, len(names), per_line))


def _objective_text(f: Flat) -> str:
    used = np.zeros(f.N, dtype=bool)
    used[f.A.indices] = True
    used[f.qi] = True
    used[f.qj] = True
    idx = np.flatnonzero((f.c != 0) | ~used)
    parts = [" " + f.obj_name + ":"]
    if len(idx):
        parts.extend(_wrapped(_terms(f.c[idx], f.col_names[idx]), np.arange(len(idx))).tolist())
    if len(f.qv):
        sq = f.qi == f.qj
        qn = np.where(sq, f.col_names[f.qi] + " ^ 2", f.col_names[f.qi] + " * " + f.col_names[f.qj])
        qterms = _wrapped(_terms(2.0 * f.qv, qn.astype(object)), np.arange(1, len(f.qv) + 1))
        if qterms[0].startswith(" + "):
            qterms[0] = " " + qterms[0][3:]  # no sign right after the bracket
        parts.append("\n    + [")
        parts.extend(qterms.tolist())
        parts.append(" ] / 2")
    if f.c0 != 0:
        parts.append(" %s %s" % ("-" if f.c0 < 0 else "+", fmt_number(abs(f.c0))))
    if len(parts) == 1:
        parts.append(" 0 " + f.col_names[0])
    return "".join(parts) + "\n"


def _bounds_text(f: Flat) -> str:
    lb, ub, names = f.lb, f.ub, f.col_names
    lines = np.full(f.N, "", dtype=object)
    cand = f.kind != "B"
    lo_inf, hi_inf = np.isneginf(lb), np.isposinf(ub)
    lbs, ubs = fmt_numbers(lb), fmt_numbers(ub)
    free = cand & lo_inf & hi_inf
    fixed = cand & (lb == ub)
    upper_only = cand & lo_inf & ~hi_inf
    lower_only = cand & ~lo_inf & hi_inf & (lb != 0)
    both = cand & ~lo_inf & ~hi_inf & ~fixed
    lines[free] = " " + names[free] + " free\n"
    lines[fixed] = " " + names[fixed] + " = " + lbs[fixed] + "\n"
    lines[upper_only] = " -inf <= " + names[upper_only] + " <= " + ubs[upper_only] + "\n"
    lines[lower_only] = " " + names[lower_only] + " >= " + lbs[lower_only] + "\n"
    lines[both] = " " + lbs[both] + " <= " + names[both] + " <= " + ubs[both] + "\n"
    return "".join(lines.tolist())


def write_lp(inst) -> str:
    """CPLEX LP text of an instance (see the module docstring for the conventions)."""
    f = flatten(inst, "LP")
    eq, ranged, ge, le = f.row_kinds()
    # one LP row per kept row, two per ranged row: (source row, op, rhs, name)
    src = np.arange(f.m)
    rsrc = np.flatnonzero(ranged)
    order = np.concatenate([src, rsrc])
    ops = np.empty(f.m, dtype=object)
    ops[eq], ops[ge | ranged], ops[le] = " = ", " >= ", " <= "
    rhs_val = np.where(le, f.hi, f.lo)
    names = f.row_names.copy()
    names[ranged] = names[ranged] + "_lo"
    all_ops = np.concatenate([ops, np.full(len(rsrc), " <= ", dtype=object)])
    all_rhs = np.concatenate([rhs_val, f.hi[rsrc]])
    all_names = np.concatenate([names, f.row_names[rsrc] + "_hi"])
    # interleave the _hi rows right after their _lo rows
    key = np.concatenate([2 * src, 2 * rsrc + 1])
    perm = np.argsort(key, kind="stable")
    order, all_ops, all_rhs, all_names = order[perm], all_ops[perm], all_rhs[perm], all_names[perm]
    if len(rsrc):
        from .names import legal_names
        all_names = np.array(legal_names([f.obj_name] + all_names.tolist())[1:], dtype=object)
    A = f.A[order] if len(rsrc) else f.A
    heads = " " + all_names + ":"
    tails = all_ops + fmt_numbers(all_rhs) + "\n"

    out = ["\\ lagdsl LP export of model %s\n" % _comment(f.name)]
    if f.free:
        out.append("\\ %d row%s without a finite bound (free) left out: %s\n" % (
            len(f.free), "" if len(f.free) == 1 else "s", _free_list(f.free)))
    out += ["maximize\n" if f.sense == "maximize" else "minimize\n",
           _objective_text(f),
           "Subject To\n",
           _rows_text(A, f.col_names, heads.astype(object), tails.astype(object))]
    bounds = _bounds_text(f)
    if bounds:
        out += ["Bounds\n", bounds]
    gen = f.col_names[f.kind == "I"]
    if len(gen):
        out += ["General\n", _name_lines(gen)]
    binv = f.col_names[f.kind == "B"]
    if len(binv):
        out += ["Binary\n", _name_lines(binv)]
    out.append("End\n")
    return "".join(out)


def _free_list(names, limit: int = 10) -> str:
    """The first ``limit`` row names, then how many more."""
    shown = " ".join(names[:limit])
    return shown if len(names) <= limit else "%s and %d more" % (shown, len(names) - limit)


def _comment(s: str) -> str:
    return " ".join(str(s).split())
