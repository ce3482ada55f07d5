"""A model instantiated into flat, vectorised blocks.

:func:`lower_instance` turns every constraint family into one :class:`Block` (its bound rows,
a :class:`~lagdsl.lower.poly.PolyBatch` body and bound vectors) and the objective into a
one-row batch.  This is the common input of the polynomial passes, the LP/MPS writers and the
cvxpy backend's LP/QP path.  Models that are not polynomials of degree <= 2 raise
:class:`~lagdsl.lower.poly.NotPolynomial` (with the constraint or objective that is not).

The helpers at the bottom go the other way: flat solution vectors back to the user's names
and labels (:func:`unflatten`), and the maximum violation of a point (:func:`max_violation`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import LagDataError
from ..ir.model import Constraint, Model
from ..ir.values import labels as product_labels
from ..result import FamilyValues
from .evaluate import Evaluator, _bcast
from .poly import NotPolynomial, PolyAlgebra, PolyBatch
from .rows import Rows


@dataclass
class Block:
    """One constraint family, instantiated: ``lower <= body(x) <= upper`` row by row."""

    name: str
    constraint: Constraint
    rows: Rows
    body: PolyBatch
    lower: np.ndarray
    upper: np.ndarray
    _keys: list | None = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        return self.rows.n

    def keys(self) -> list[str]:
        """Result labels of the rows (tuple indices joined by ``,``; ``""`` when scalar),
        built once per block (a re-solve that keeps the rows keeps them too)."""
        if self._keys is None:
            self._keys = row_keys(self.constraint, self.rows)
        return self._keys


@dataclass
class Instance:
    """A model as flat arrays over the concatenated vector of unknowns."""

    model: Model
    offsets: dict[str, tuple[int, int]]
    lb: np.ndarray
    ub: np.ndarray
    vtype: np.ndarray                     # 'C', 'I' or 'B' per unknown
    objective: PolyBatch | None
    sense: str                            # 'minimize' or 'maximize'
    blocks: list[Block] = field(default_factory=list)

    @property
    def N(self) -> int:
        return len(self.lb)

    @property
    def degree(self) -> int:
        """Highest degree over objective and constraints."""
        d = [b.body.degree for b in self.blocks]
        if self.objective is not None:
            d.append(self.objective.degree)
        return max(d, default=0)


def variable_arrays(model: Model):
    """``(lb, ub, vtype)`` flat arrays of all unknowns in declaration order."""
    lbs, ubs, types = [], [], []
    for v in model.vars.values():
        n = model.var_size(v.name)
        _check_var_bounds(model, v)
        lbs.append(np.broadcast_to(v.lower, (n,)))
        ubs.append(np.broadcast_to(v.upper, (n,)))
        types.append(np.full(n, {"real": "C", "integer": "I", "binary": "B"}[v.domain]))
    cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return cat(lbs, np.float64), cat(ubs, np.float64), cat(types, "U1")


def _check_var_bounds(model: Model, v) -> None:
    """A lower bound of +inf, an upper bound of -inf or a nan bound has no meaning (the
    front end refuses them; this guards models built in Python or read from IR)."""
    lo, hi = np.asarray(v.lower, dtype=np.float64), np.asarray(v.upper, dtype=np.float64)
    bad = np.isposinf(lo) | np.isnan(lo) | np.isneginf(hi) | np.isnan(hi)
    if bad.any():
        k = int(np.flatnonzero(np.broadcast_to(bad, np.broadcast_shapes(lo.shape, hi.shape)).reshape(-1))[0])
        l, u = np.broadcast_to(lo, bad.shape).reshape(-1)[k], np.broadcast_to(hi, bad.shape).reshape(-1)[k]
        label = "" if v.is_scalar else "[%s]" % var_keys(model, v.name)[k]
        raise LagDataError("var %s%s has bounds [%g, %g]: a lower bound must be below +inf and an "
                           "upper bound above -inf" % (v.name, label, l, u), v.span,
                           source=model.source)


def constraint_rows(ev: Evaluator, c: Constraint) -> Rows:
    """The bound rows of constraint family ``c`` (one empty row when it is scalar)."""
    rows, _ = ev.bind(Rows.unit(), c.binding, c.where)
    return rows


def bound_vector(ev: Evaluator, e, rows: Rows, default: float) -> np.ndarray:
    """A data bound evaluated on every row (``default`` when absent: ``-inf`` for a lower
    bound, ``inf`` for an upper).  The infinity of ``default`` means "no bound" and may come
    from the data; the opposite one (a lower bound of ``inf``) no row can meet, and is an
    error at the bound rather than a row silently dropped."""
    if e is None:
        return np.full(rows.n, default)
    v = _bcast(np.asarray(ev.data(e, rows), dtype=np.float64), rows.n).astype(np.float64)
    wrong = (v == -default) | np.isnan(v)
    if wrong.any():
        r = int(np.flatnonzero(wrong)[0])
        side = "a lower" if default < 0 else "an upper"
        ctx = ", ".join("%s=%s" % (k, c[r]) for k, c in rows.cols.items())
        ev.fail("%s has %s bound of %g%s: no number can meet it" % (
            owner_label(ev.owner), side, v[r], " (at %s)" % ctx if ctx else ""), e,
            "inf means \"no bound\" only as an upper bound, -inf only as a lower bound")
    return v


def owner_label(owner) -> str:
    """``constraint NAME`` or ``objective NAME``, as messages name what they are about."""
    return ("constraint %s" if hasattr(owner, "body") else "objective %s") % owner.name


def lower_block(model: Model, c: Constraint) -> Block:
    """Instantiate one constraint family as a polynomial block."""
    ev = Evaluator(model, owner=c)
    rows = constraint_rows(ev, c)
    alg = PolyAlgebra(model)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            body = ev.value(c.body, rows, alg)
    except NotPolynomial as exc:
        raise NotPolynomial("constraint %s: %s" % (c.name, exc)) from exc
    check_finite_poly(model, c, body, rows)
    return Block(c.name, c, rows, body, bound_vector(ev, c.lower, rows, -np.inf),
                 bound_vector(ev, c.upper, rows, np.inf))


def lower_objective(model: Model) -> PolyBatch | None:
    """The objective as a one-row polynomial batch (None for a feasibility model)."""
    if model.objective is None:
        return None
    ev = Evaluator(model, owner=model.objective)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            out = ev.value(model.objective.expr, Rows.unit(), PolyAlgebra(model))
    except NotPolynomial as exc:
        raise NotPolynomial("objective %s: %s" % (model.objective.name, exc)) from exc
    check_finite_poly(model, model.objective, out, None)
    return out


def check_finite_poly(model: Model, owner, poly: PolyBatch, rows: Rows | None) -> None:
    """Products of finite data can still overflow (``a * (x + b * y)`` with a = b = 1e200):
    a coefficient or constant beyond float64 is an error at the constraint or objective,
    naming the row and the unknown, never a row handed to a solver."""
    parts = [("constant term", poly.const, None)]
    if poly.lin is not None:
        parts.append(("coefficient", poly.lin.data, poly.lin))
    if poly.quad is not None:
        parts.append(("quadratic coefficient", poly.quad.coef, None))
    for what, values, lin in parts:
        bad = ~np.isfinite(values)
        if not bad.any():
            continue
        k = int(np.flatnonzero(bad)[0])
        if lin is not None:
            row = int(np.searchsorted(lin.indptr, k, side="right") - 1)
            what = "coefficient of %s" % column_name(model, int(lin.indices[k]))
        elif what == "constant term":
            row = k
        else:
            row = int(poly.quad.row[k])
        where = ""
        if rows is not None and getattr(owner, "binding", None):
            where = " (row %s[%s])" % (owner.name, row_keys(owner, rows.take(np.array([row])))[0])
        raise LagDataError("%s%s: the %s is %s; products of the data overflow float64 (beyond "
                           "about 1.8e308)" % (owner_label(owner), where, what, values[k]),
                           owner.span, source=model.source)


def column_name(model: Model, col: int) -> str:
    """The user's name of flat unknown ``col`` (``x[3]``, ``t``)."""
    for name, (a, b) in model.var_offsets().items():
        if a <= col < b:
            return name if model.vars[name].is_scalar else "%s[%s]" % (name, var_keys(model, name)[col - a])
    return "unknown %d" % col


def lower_instance(model: Model) -> Instance:
    """The whole model as flat polynomial blocks (raises NotPolynomial when it is not)."""
    lb, ub, vtype = variable_arrays(model)
    blocks = [lower_block(model, c) for c in model.constraints.values() if c.region is None]
    sense = model.objective.sense if model.objective else "minimize"
    return Instance(model, model.var_offsets(), lb, ub, vtype, lower_objective(model), sense, blocks)


# --- back to the user's names --------------------------------------------------------


def row_keys(c: Constraint, rows: Rows) -> list[str]:
    """Labels of a family's rows: the bound index values joined by ``,``."""
    syms = [s for o in c.binding for s in o.indices]
    if not syms:
        return [""]
    cols = [rows.cols[s].tolist() for s in syms]
    return [",".join(_fmt(v) for v in vals) for vals in zip(*cols)]


def _fmt(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def var_keys(model: Model, name: str) -> list[str]:
    """Labels of the elements of variable ``name`` in flat order."""
    return product_labels(model.var_sets(name))


def unflatten(model: Model, x: np.ndarray, offsets: dict | None = None) -> dict:
    """Flat unknowns -> ``{name: float | FamilyValues}`` in declaration order (a
    :class:`~lagdsl.result.FamilyValues` maps element labels to values)."""
    offsets = offsets or model.var_offsets()
    out = {}
    for name, v in model.vars.items():
        a, b = offsets[name]
        vals = np.asarray(x[a:b], dtype=np.float64)
        if v.domain != "real":
            vals = np.round(vals) + 0.0      # + 0.0 turns a rounded -0.0 into 0.0
        if v.is_scalar:
            out[name] = float(vals[0])
        else:
            out[name] = FamilyValues(vals, model.var_sets(name))
    return out


def per_row(keys: list[str], values: np.ndarray, scalar: bool):
    """A block's row values in result form: a float when scalar, else keyed by label."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if scalar:
        return float(values[0])
    return dict(zip(keys, values.tolist()))


def block_violation(block: Block, x: np.ndarray) -> float:
    """Largest amount by which a point violates a block's rows."""
    if block.n == 0:
        return 0.0
    v = block.body.evaluate(x)
    return float(max(np.max(block.lower - v, initial=0.0), np.max(v - block.upper, initial=0.0)))


def bounds_violation(inst: Instance, x: np.ndarray) -> float:
    """Largest violation of variable bounds and integrality."""
    if inst.N == 0:
        return 0.0
    viol = max(np.max(inst.lb - x, initial=0.0), np.max(x - inst.ub, initial=0.0))
    integral = inst.vtype != "C"
    if integral.any():
        viol = max(viol, float(np.max(np.abs(x[integral] - np.round(x[integral])), initial=0.0)))
    return float(viol)


def max_violation(inst: Instance, x: np.ndarray) -> float:
    """Largest violation of any constraint row, bound or integrality at ``x``."""
    return max([bounds_violation(inst, x)] + [block_violation(b, x) for b in inst.blocks])
