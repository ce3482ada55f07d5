"""From a model to QUBO parts: objective, exact penalties and relaxed rows over the qubits.

Pipeline (:func:`lower`)::

    Model --lower_instance--> Instance --[BoundedInteger2Binary]--> all-binary Instance
          --> objective Qubo (minimisation sense), constraint rows A x in [lo, hi]
          --> per row: free | eq | amo | cover | relax

Rows are classified once, vectorised over the CSR matrix of all rows:

* ``free`` — satisfied by every bitstring (dropped);
* ``eq`` — an equality: the exact penalty ``(a.x - b)^2`` (one-hot, assignment, any linear
  equality: zero exactly on the row's solutions, no slack needed);
* ``amo`` — at most one of equal positive coefficients (``x[u] + x[v] <= 1``): the exact
  penalty ``sum_{i<j} x_i x_j``;
* ``cover`` — at least one of two (``x[u] + x[v] >= 1``): the exact penalty
  ``(1 - x_u)(1 - x_v)``;
* ``imp`` — an implication (``x[u] <= x[v]``, any positive scale): the exact penalty
  ``x_u (1 - x_v)``;
* ``relax`` — every other inequality: ``G x <= h`` rows for the multiplier methods (a ranged
  row gives two), or slack bits for the ``penalty`` baseline (:func:`slack_form`).

The penalty strength defaults to qiskit-optimization's ``LinearEqualityToPenalty`` choice,
``1 + sum |objective coefficients|`` when all constraint data are integers (a unit violation
then costs more than any change of the objective), else ``1e5``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from lagdsl.ir.model import Model
from lagdsl.lower.instance import Instance, lower_instance
from lagdsl.passes.base import Chain, linear_part
from lagdsl.passes.integer2binary import BoundedInteger2Binary, bit_weights

from .form import Qubo

#: Penalty strength qiskit-optimization uses when constraint data are not all integers.
FLOAT_PENALTY = 1e5
KINDS = ("free", "eq", "amo", "cover", "imp", "relax")


@dataclass
class Lowered:
    """A model in QUBO parts over ``n`` qubits (see module docstring)."""

    model: Model
    inst: Instance                 # the model's own columns
    binst: Instance                # all binary (integers expanded)
    inverse: list                  # the pass chain's inverse data
    sign: float                    # +1 minimise, -1 maximise (objective = sign * user's)
    enc: Encoding                  # qubit -> model column, weight
    objective: Qubo                # sign * user's objective
    A: sp.csr_matrix               # every constraint row over the qubits
    lo: np.ndarray
    hi: np.ndarray
    row_block: np.ndarray          # block index of each row
    row_pos: np.ndarray            # position of the row within its block
    kind: np.ndarray               # one of KINDS per row
    exact: Qubo                    # unit-strength exact penalties (zero iff those rows hold)
    G: sp.csr_matrix               # relaxed rows, G x <= h
    h: np.ndarray
    g_row: np.ndarray              # the row of A each relaxed row comes from
    g_sign: np.ndarray             # +1: an upper bound, -1: a lower bound (negated)
    strength: float                # default penalty strength
    integral: bool                 # objective coefficients are integers (bounds can be rounded)
    notes: list[str] = field(default_factory=list)
    impossible: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # rows no bitstring meets

    def slack_names(self, k: int) -> list[str]:
        """Names of ``k`` slack qubits: ``_slack[j]``, or ``#slack[j]`` when the model has a
        variable called ``_slack`` (no model name starts with ``#``)."""
        base = "#slack" if "_slack" in self.model.vars else "_slack"
        return ["%s[%d]" % (base, j) for j in range(k)]

    def row_label(self, r: int) -> str:
        """``c[3]`` for row ``r`` of ``A`` (its block's name and the row's key)."""
        b = self.binst.blocks[int(self.row_block[r])]
        key = b.keys()[int(self.row_pos[r])]
        return b.name + ("[%s]" % key if key else "")

    def impossible_note(self, r: int) -> str:
        """Why row ``r`` holds for no 0/1 values: the range of its left side against its bound."""
        _, _, _, vmin, vmax = _row_stats(self.A[[r]])
        lo, hi = float(self.lo[r]), float(self.hi[r])
        need = ">= %.10g" % lo if lo > vmax[0] else "<= %.10g" % hi
        return ("constraint %s can never hold: over all 0/1 values its left side (constant part "
                "moved to the bound) lies in [%.10g, %.10g], and it must be %s"
                % (self.row_label(r), vmin[0], vmax[0], need))

    @property
    def n(self) -> int:
        return self.objective.n

    @property
    def names(self) -> list[str]:
        """One name per qubit: the model element (``x[3]``), ``#b`` appended for the bits
        of an integer (built on first use)."""
        self._labels()
        return self._names

    @property
    def encoding(self) -> list[dict]:
        """Per qubit: its name, model variable, element label, weight and offset."""
        self._labels()
        e = self.enc
        return [{"qubit": q, "name": self._names[q], "variable": self._vars[c], "label": self._labs[c],
                 "weight": float(e.weight[q]), "offset": float(e.offset[q])}
                for q, c in enumerate(e.col.tolist())]

    def _labels(self) -> None:
        if getattr(self, "_names", None) is None:
            cols, self._vars, self._labs = column_names(self.model)
            e = self.enc
            self._names = [cols[c] + ("#%d" % b if i else "") for c, b, i in
                           zip(e.col.tolist(), e.bit.tolist(), e.integer.tolist())]

    @property
    def block_names(self) -> list[str]:
        return [b.name for b in self.binst.blocks]

    def values(self, X: np.ndarray) -> np.ndarray:
        """Objective values (minimisation sense) of samples ``X``."""
        return self.objective.energy(X)

    def violation(self, X: np.ndarray) -> np.ndarray:
        """Largest violation of any constraint row, per sample."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.n)
        if self.A.shape[0] == 0:
            return np.zeros(len(X))
        R = np.asarray((self.A @ X.T).T)
        return np.maximum(np.max(np.maximum(self.lo - R, R - self.hi), axis=1), 0.0)

    def to_model(self, x: np.ndarray) -> np.ndarray:
        """Qubit values -> the model's flat unknowns (integers rebuilt from their bits)."""
        from lagdsl.passes.base import Solution
        return Chain.invert(Solution(np.asarray(x, dtype=np.float64)), self.inverse).x

    def lagrangian(self, lam: np.ndarray, strength: float) -> Qubo:
        """``f + strength * exact + lam . (G x - h)`` (linear in ``lam``)."""
        q = self.objective + self.exact.scaled(strength)
        if len(lam) and self.G.shape[0]:
            q = q + Qubo(self.n, np.asarray(self.G.T @ lam).ravel(), np.zeros(0, np.int64),
                         np.zeros(0, np.int64), np.zeros(0), -float(lam @ self.h))
        return q

    def squared(self, weights: np.ndarray) -> Qubo:
        """``sum_r weights[r] * (G_r x - h_r)^2`` over the relaxed rows."""
        return squares(self.G, self.h, weights)


def squares(A: sp.csr_matrix, b: np.ndarray, w: np.ndarray) -> Qubo:
    """``sum_r w_r (A_r x - b_r)^2`` as a QUBO (binary ``x``), vectorised."""
    n = A.shape[1]
    if A.shape[0] == 0:
        return Qubo.build(n)
    W = sp.diags(np.asarray(w, dtype=np.float64))
    M = (A.T @ W @ A).tocsr()
    lin = -2.0 * np.asarray(A.T @ (w * b)).ravel()
    return Qubo.from_matrix(M, lin, float(np.sum(w * b * b)))


def _qubo_of(poly, n: int) -> Qubo:
    """The one-row polynomial ``poly`` (PolyBatch) as a QUBO over ``n`` binaries."""
    if poly is None:
        return Qubo.build(n)
    lin = np.asarray(linear_part(poly, n).toarray()).ravel()
    q = poly.quad
    if q is None or not len(q.coef):
        return Qubo.build(n, lin, offset=float(poly.const[0]))
    return Qubo.build(n, lin, q.i, q.j, q.coef, float(poly.const[0]))


def _row_stats(A: sp.csr_matrix):
    """Per row: number of entries, smallest and largest coefficient, min and max of the
    row's value over bitstrings."""
    nnz = np.diff(A.indptr)
    rows = np.repeat(np.arange(A.shape[0]), nnz)
    m = A.shape[0]
    cmin = np.full(m, np.inf)
    cmax = np.full(m, -np.inf)
    np.minimum.at(cmin, rows, A.data)
    np.maximum.at(cmax, rows, A.data)
    neg = np.bincount(rows, weights=np.minimum(A.data, 0), minlength=m)
    pos = np.bincount(rows, weights=np.maximum(A.data, 0), minlength=m)
    return nnz, cmin, cmax, neg, pos


def classify_rows(A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The kind of every row (see module docstring)."""
    nnz, cmin, cmax, vmin, vmax = _row_stats(A)
    tol = 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(hi), hi, 0)))
    kind = np.full(A.shape[0], "relax", dtype="U5")
    same = (nnz > 0) & (cmin == cmax) & (cmin > 0)
    c = np.where(same, cmin, 1.0)
    with np.errstate(invalid="ignore"):
        amo = same & (np.floor(hi / c + 1e-9) == 1) & (lo <= 0)
        cover = same & (nnz == 2) & (np.ceil(lo / c - 1e-9) == 1) & (hi >= 2 * c - tol)
    kind[amo] = "amo"
    kind[cover] = "cover"
    kind[_implications(A, lo, hi, nnz, cmin, cmax)[0]] = "imp"
    kind[np.abs(hi - lo) <= tol] = "eq"
    kind[(lo <= vmin + tol) & (hi >= vmax - tol)] = "free"
    return kind


def _implications(A, lo, hi, nnz, cmin, cmax):
    """Rows ``c x_p - c x_q`` bounded so that they say ``x_p <= x_q`` (or ``>=``): the mask,
    and per row the (implying, implied) columns."""
    pair = (nnz == 2) & (cmin < 0) & (cmax > 0) & np.isclose(cmax, -cmin)
    c = np.where(pair, cmax, 1.0)
    with np.errstate(invalid="ignore"):
        up = pair & (np.floor(hi / c + 1e-9) == 0) & (lo <= -c + 1e-9 * c)
        dn = pair & (np.ceil(lo / c - 1e-9) == 0) & (hi >= c - 1e-9 * c) & ~up
    if A.nnz == 0:          # all rows empty: no pairs (and no entries to index)
        none = np.zeros(A.shape[0], dtype=np.int64)
        return np.zeros(A.shape[0], bool), none, none
    start = A.indptr[:-1]
    first, second = A.indices[np.minimum(start, max(A.nnz - 1, 0))], A.indices[np.minimum(start + 1, max(A.nnz - 1, 0))]
    first_pos = A.data[np.minimum(start, max(A.nnz - 1, 0))] > 0 if A.nnz else np.zeros(0, bool)
    pos = np.where(first_pos, first, second)
    neg = np.where(first_pos, second, first)
    # x_pos <= x_neg for an upper-bounded row, x_neg <= x_pos for a lower-bounded one
    return up | dn, np.where(up, pos, neg), np.where(up, neg, pos)


def exact_penalties(A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray, kind: np.ndarray,
                    fixed_one: np.ndarray, fixed_zero: np.ndarray) -> Qubo:
    """Unit-strength exact penalties of the ``eq``, ``amo`` and ``cover`` rows, and of
    binaries whose bounds fix them."""
    n = A.shape[1]
    eq = np.flatnonzero(kind == "eq")
    q = squares(A[eq], hi[eq], np.ones(len(eq)))
    amo = np.flatnonzero(kind == "amo")
    if len(amo):
        B = A[amo].copy()
        B.data[:] = 1.0
        M = (B.T @ B).tocsr()
        q = q + Qubo.from_matrix(M * 0.5, -0.5 * np.asarray(B.sum(axis=0)).ravel())
    cov = np.flatnonzero(kind == "cover")
    if len(cov):
        C = A[cov]
        uv = C.indices.reshape(-1, 2)
        lin = -np.bincount(uv.ravel(), minlength=n).astype(np.float64)
        q = q + Qubo.build(n, lin, uv[:, 0], uv[:, 1], np.ones(len(uv)), float(len(uv)))
    imp = np.flatnonzero(kind == "imp")
    if len(imp):
        _, a, b = _implications(A, lo, hi, *_row_stats(A)[:3])
        a, b = a[imp], b[imp]
        q = q + Qubo.build(n, np.bincount(a, minlength=n).astype(np.float64), a, b, -np.ones(len(a)))
    lin = np.zeros(n)
    lin[fixed_zero] += 1.0
    lin[fixed_one] -= 1.0
    return q + Qubo.build(n, lin, offset=float(np.sum(fixed_one)))


def auto_strength(objective: Qubo, A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> float:
    """qiskit-optimization's default penalty strength (see module docstring)."""
    data = np.concatenate([A.data, lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
    if not np.all(data == np.round(data)):
        return FLOAT_PENALTY
    return 1.0 + float(np.abs(objective.linear).sum() + np.abs(objective.quad).sum())


@dataclass
class Encoding:
    """Qubit ``q`` is bit ``bit[q]`` of model column ``col[q]`` with weight ``weight[q]``
    (the column is ``offset + sum weight * bit`` over its qubits; a binary is one qubit of
    weight 1).  Names and the JSON form are built on demand."""

    col: np.ndarray
    weight: np.ndarray
    offset: np.ndarray
    bit: np.ndarray
    integer: np.ndarray            # whether the column is an (expanded) integer


def _encoding(inst: Instance, inverse: list) -> Encoding:
    """The map from qubits back to the model's columns (vectorised)."""
    data = next((d for p, d in inverse if isinstance(p, BoundedInteger2Binary)), None)
    if data is None:
        n = inst.N
        return Encoding(np.arange(n), np.ones(n), np.zeros(n), np.zeros(n, np.int64), np.zeros(n, bool))
    rest = np.flatnonzero(inst.vtype != "I")
    bits = data.ints[data.bit_parent]
    starts = np.searchsorted(data.bit_parent, data.bit_parent)
    return Encoding(np.concatenate([rest, bits]), np.concatenate([np.ones(len(rest)), data.coef]),
                    np.concatenate([np.zeros(len(rest)), data.t0[bits]]),
                    np.concatenate([np.zeros(len(rest), np.int64), np.arange(len(bits)) - starts]),
                    np.concatenate([np.zeros(len(rest), bool), np.ones(len(bits), bool)]))


def column_names(model: Model) -> tuple[list[str], list[str], list[str]]:
    """Per flat column of the model: its display name (``x[3]``), variable and label."""
    names, vars_, labels = [], [], []
    for v in model.vars.values():
        if v.is_scalar:
            ls = [""]
        else:
            from lagdsl.ir.values import labels as product_labels
            ls = product_labels(model.var_sets(v.name))
        names += [v.name if not lab else "%s[%s]" % (v.name, lab) for lab in ls]
        vars_ += [v.name] * len(ls)
        labels += ls
    return names, vars_, labels


def lower(model: Model) -> Lowered:
    """The QUBO parts of ``model`` (the backend's ``accepts`` has checked that it is a
    binary/bounded-integer model with a degree <= 2 objective and linear constraints)."""
    inst = lower_instance(model)
    chain = Chain([BoundedInteger2Binary()], strict=False)
    binst, inverse = chain.apply(inst)
    n = binst.N
    sign = -1.0 if binst.sense == "maximize" else 1.0
    objective = _qubo_of(binst.objective, n).scaled(sign)
    mats, los, his, blk, pos = [], [], [], [], []
    for k, b in enumerate(binst.blocks):
        mats.append(linear_part(b.body, n))
        los.append(b.lower - b.body.const)
        his.append(b.upper - b.body.const)
        blk.append(np.full(b.n, k))
        pos.append(np.arange(b.n))
    cat = (lambda xs, dt=np.float64: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    A = sp.vstack(mats).tocsr() if mats else sp.csr_matrix((0, n))
    A.sum_duplicates()
    A.eliminate_zeros()
    lo, hi = cat(los), cat(his)
    _check_couplings(model, binst, A, objective)
    kind = classify_rows(A, lo, hi)
    fixed_one = np.flatnonzero(binst.lb > 0.5)
    fixed_zero = np.flatnonzero(binst.ub < 0.5)
    exact = exact_penalties(A, lo, hi, kind, fixed_one, fixed_zero)
    rel = np.flatnonzero(kind == "relax")
    up = rel[np.isfinite(hi[rel])]
    dn = rel[np.isfinite(lo[rel])]
    G = sp.vstack([A[up], -A[dn]]).tocsr() if len(up) + len(dn) else sp.csr_matrix((0, n))
    h = np.concatenate([hi[up], -lo[dn]])
    coefs = np.concatenate([objective.linear, objective.quad])
    return Lowered(model, inst, binst, inverse, sign, _encoding(inst, inverse), objective, A, lo, hi,
                   cat(blk, np.int64), cat(pos, np.int64), kind, exact, G, h,
                   np.concatenate([up, dn]).astype(np.int64),
                   np.concatenate([np.ones(len(up)), -np.ones(len(dn))]),
                   auto_strength(objective, A, lo, hi), bool(np.all(coefs == np.round(coefs))),
                   impossible=impossible_rows(A, lo, hi))


def impossible_rows(A: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Rows that no bitstring satisfies: the bound lies outside the range of the left side
    over ``{0, 1}^n`` (``0 >= 1``, a negative capacity over non-negative weights)."""
    _, _, _, vmin, vmax = _row_stats(A)
    tol = 1e-9 * np.maximum(1.0, np.maximum(np.abs(vmin), np.abs(vmax)))
    return np.flatnonzero((lo > vmax + tol) | (hi < vmin - tol)).astype(np.int64)


def _check_couplings(model: Model, binst: Instance, A: sp.csr_matrix, objective: Qubo) -> None:
    """Refuse a QUBO whose couplings would exceed the size limit before building it: the
    square of a row with ``k`` entries (an exact or augmented-Lagrangian penalty, a slack
    row) couples every pair of them, ``k (k - 1) / 2`` entries."""
    from lagdsl.limits import check_size
    k = np.diff(A.indptr).astype(np.float64)
    pairs = k * (k - 1) / 2
    total = float(pairs.sum()) + len(objective.quad)
    if A.shape[0] and total > 0:
        blocks = np.repeat(np.arange(len(binst.blocks)), [b.n for b in binst.blocks])
        worst = binst.blocks[int(blocks[int(np.argmax(pairs))])] if len(blocks) == A.shape[0] else None
        span = getattr(getattr(worst, "constraint", None), "span", None)
        check_size(int(total), "the QUBO's couplings (pairs of unknowns in one constraint row%s)"
                   % (", most in %s" % worst.name if worst is not None else ""), span,
                   source=model.source)


def label_collision(model: Model):
    """The first variable family two of whose elements print the same label (``1`` and
    ``"1"`` both print ``x[1]``): ``(name, element a, element b, label, span)``, else None.
    Qubit names, the exports and results key elements by that label (models read from IR
    files reach the backend without the checker's test)."""
    from lagdsl.ir.values import label_clash
    for v in model.vars.values():
        if v.is_scalar:
            continue
        hit = label_clash(model.var_sets(v.name))
        if hit is not None:
            a, b, lab = hit
            return v.name, repr(a), repr(b), "%s[%s]" % (v.name, lab), v.span
    return None


class FractionalSlack(ValueError):
    """The slack encoding needs integer constraint data."""


@dataclass
class SlackForm:
    """The ``penalty`` baseline: slack bits for every inequality, as qiskit-optimization's
    ``InequalityToEquality`` -> ``IntegerToBinary`` -> ``LinearEqualityToPenalty``."""

    qubo: Qubo                     # over n + slack qubits
    slack: int                     # number of slack qubits


def slack_form(low: Lowered, strength: float) -> SlackForm:
    """Each ``<=`` row ``a.x <= b`` becomes ``a.x + s = b`` with an integer slack ``s`` in
    ``[0, b - min(a.x)]`` (``>=`` rows ``a.x - s = b`` with ``s`` in ``[0, max(a.x) - b]``),
    ``s`` in ``floor(log2 U) + 1`` bits; then ``strength * sum (a.x +- s - b)^2`` is added
    to the objective.  Equalities get no slack, and the rows qiskit's
    ``LinearInequalityToPenalty`` recognises (at most one, at least one of two, implications)
    get the same exact penalties as in the slack-free methods.  Rows that every bitstring
    satisfies get slack too, as in qiskit."""
    A, lo, hi = low.A, low.lo, low.hi
    data = np.concatenate([A.data, lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
    if not np.all(data == np.round(data)):
        raise FractionalSlack("the penalty method needs integer constraint coefficients and bounds "
                         "(slack variables are integers)")
    n = low.n
    _, _, _, vmin, vmax = _row_stats(A)
    eq = np.abs(hi - lo) <= 1e-12
    slack = ~eq & ~np.isin(low.kind, ("amo", "cover", "imp"))
    up = np.flatnonzero(slack & np.isfinite(hi))
    dn = np.flatnonzero(slack & np.isfinite(lo))
    eqr = np.flatnonzero(eq)
    rng = np.concatenate([hi[up] - vmin[up], vmax[dn] - lo[dn]])
    if np.any(rng > 2.0 ** 53):
        raise FractionalSlack("a slack variable would need a range of %.3g (more than 2^53, "
                              "the widest the qubo backend encodes)"
                              % float(np.max(rng)))
    rng = np.maximum(np.round(rng), 0).astype(np.int64)
    parent, w = bit_weights(rng)
    k = len(parent)
    rows = np.concatenate([up, dn, eqr])
    sgn = np.concatenate([np.ones(len(up)), -np.ones(len(dn)), np.ones(len(eqr))])
    rhs = np.concatenate([hi[up], lo[dn], hi[eqr]])
    base = sp.diags(sgn) @ A[rows]
    S = sp.csr_matrix((w, (parent, np.arange(k))), shape=(len(rows), k))
    full = sp.hstack([base, S]).tocsr()
    pen = squares(full, sgn * rhs, np.ones(len(rows)))
    obj = low.objective
    big = Qubo(n + k, np.concatenate([obj.linear, np.zeros(k)]), obj.i, obj.j, obj.quad, obj.offset)
    ex = low.exact
    special = Qubo(n + k, np.concatenate([ex.linear, np.zeros(k)]), ex.i, ex.j, ex.quad, ex.offset)
    if np.any(eq):          # equalities are in both: keep the slack form's copy only
        eqp = squares(A[np.flatnonzero(low.kind == "eq")], hi[low.kind == "eq"], np.ones(int((low.kind == "eq").sum())))
        special = special + Qubo(n + k, np.concatenate([-eqp.linear, np.zeros(k)]), eqp.i, eqp.j, -eqp.quad, -eqp.offset)
    return SlackForm(big + (pen + special).scaled(strength), k)


def row_label_collision(binst: Instance):
    """The first constraint family two of whose rows print the same label:
    ``(name, row a, row b, label, span)``, else None (results key rows by that label)."""
    for b in binst.blocks:
        keys = b.keys()
        if len(set(keys)) == len(keys):
            continue
        first: dict[str, int] = {}
        syms = [x for o in b.constraint.binding for x in o.indices]
        for k, key in enumerate(keys):
            if key in first:
                a, c = (tuple(b.rows.cols[x][p] for x in syms) for p in (first[key], k))
                show = (lambda e: repr(e[0]) if len(e) == 1 else repr(e))
                return b.name, show(a), show(c), "%s[%s]" % (b.name, key), b.constraint.span
            first[key] = k
    return None
