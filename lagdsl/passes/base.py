"""The shape of a pass, after cvxpy's ``Reduction`` (and MathOptInterface's bridges).

A pass rewrites a flat :class:`~lagdsl.lower.instance.Instance` (or a richer form built on
one) into an equivalent problem that a backend can take, and knows how to carry a solution
of the new problem back::

    p.accepts(problem) -> bool
    p.apply(problem) -> (new_problem, inverse_data)
    p.invert(solution, inverse_data) -> solution        # a Solution of the *old* problem

A :class:`Solution` is a flat vector of unknowns plus signed duals per block name.  The pass
that adds columns (new unknowns) or blocks (new rows) is the one that drops them again in
``invert``; the final mapping to the user's names happens once, at the end, with
:func:`lagdsl.lower.instance.unflatten` and :func:`~lagdsl.lower.instance.per_row`.

Every helper here is vectorised over all rows and terms (numpy/scipy), never a Python object
per term.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np
import scipy.sparse as sp
import sympy

from ..errors import LagError
from ..ir.model import Constraint
from ..ir.values import label_at
from ..lower.instance import Block, Instance
from ..lower.poly import PolyAlgebra, PolyBatch, Quad
from ..lower.rows import Rows


class PassError(LagError):
    """A pass cannot rewrite the problem (e.g. an unbounded integer for a binary expansion)."""

    kind = "refused"


@dataclass
class Solution:
    """A solution in the flat form passes exchange.

    ``x`` is the flat vector of unknowns (None when the solver found none); ``duals`` maps a
    block name to one signed number per row (see the backend for the sign convention).
    """

    x: np.ndarray | None
    duals: dict[str, np.ndarray] = field(default_factory=dict)


class Pass(Protocol):
    """What :class:`Chain` needs from a pass."""

    name: str

    def accepts(self, problem: Any) -> bool: ...
    def apply(self, problem: Any) -> tuple[Any, Any]: ...
    def invert(self, solution: Solution, inverse_data: Any) -> Solution: ...


class Chain:
    """Passes applied in order and inverted in reverse order.

    With ``strict=True`` every pass must accept the problem it is given (a :class:`PassError`
    otherwise); with ``strict=False`` a pass that does not accept is skipped, which is how a
    backend writes "linearise binary products *if there are any*".  :attr:`applied` names the
    passes that ran, for ``Result.stats``.
    """

    def __init__(self, passes: Sequence[Pass], strict: bool = True):
        self.passes = list(passes)
        self.strict = strict
        self.applied: list[str] = []

    def apply(self, problem: Any) -> tuple[Any, list]:
        """Run the passes; returns the final problem and the inverse data of each applied pass."""
        inverse = []
        self.applied = []
        for p in self.passes:
            if not p.accepts(problem):
                if self.strict:
                    raise PassError("pass %s does not accept this problem" % p.name)
                continue
            problem, data = p.apply(problem)
            inverse.append((p, data))
            self.applied.append(p.name)
        return problem, inverse

    @staticmethod
    def invert(solution: Solution, inverse: list) -> Solution:
        """Carry ``solution`` back through the applied passes, last first."""
        for p, data in reversed(inverse):
            solution = p.invert(solution, data)
        return solution


# --- vectorised helpers shared by the passes ----------------------------------------------


class _RowAlgebra(PolyAlgebra):
    """:class:`PolyAlgebra` over ``N`` flat columns without a model (only ``mul``/``reduce``
    are used here; they never look at variable names)."""

    def __init__(self, N: int):
        self.offsets = {}
        self.N = N


def widen(poly: PolyBatch, N: int) -> PolyBatch:
    """The same polynomials over ``N >= poly``'s column count (new columns unused)."""
    lin = poly.lin
    if lin is not None and lin.shape[1] != N:
        lin = sp.csr_matrix((lin.data, lin.indices, lin.indptr), shape=(lin.shape[0], N))
    return PolyBatch(poly.const, lin, poly.quad)


def linear_part(poly: PolyBatch, N: int) -> sp.csr_matrix:
    """The linear part as an ``n x N`` CSR matrix (zeros when absent)."""
    if poly.lin is None:
        return sp.csr_matrix((poly.n, N))
    return widen(poly, N).lin


def substitute(poly: PolyBatch, T: sp.csr_matrix, t0: np.ndarray) -> PolyBatch:
    """``poly`` after the affine change of unknowns ``x = T @ y + t0``.

    Each quadratic triplet ``c * x_i * x_j`` becomes the product of two affine rows
    ``(T[i] y + t0_i) (T[j] y + t0_j)``: all triplets are multiplied at once as a batch
    (one row per triplet) and summed back into their rows with a segment sum.
    """
    M = T.shape[1]
    alg = _RowAlgebra(M)
    lin = linear_part(poly, T.shape[0])
    out = PolyBatch(poly.const + lin @ t0, (lin @ T).tocsr())
    q = poly.quad
    if q is not None and len(q.coef):
        a = PolyBatch(t0[q.i].astype(np.float64), T[q.i].tocsr())
        b = PolyBatch(t0[q.j].astype(np.float64), T[q.j].tocsr())
        prod = alg.mul(a, b)
        prod = alg._scale(q.coef.astype(np.float64), prod)
        out = alg.add(out, alg.reduce("sum", prod, q.row, poly.n))
    return out


def synthetic_block(name: str, body: PolyBatch, lower: np.ndarray, upper: np.ndarray) -> Block:
    """A block a pass adds (linking rows); its constraint has no source and no binding."""
    c = Constraint(name, sympy.Integer(0), None, sympy.Integer(0))
    return Block(name, c, Rows(body.n, {}), body, np.asarray(lower, np.float64),
                 np.asarray(upper, np.float64))


def quad_or_none(row, i, j, coef) -> Quad | None:
    """A :class:`Quad` of the given triplets, or None when there are none."""
    return Quad(row, i, j, coef) if len(coef) else None


def column_label(inst: Instance, col: int) -> str:
    """The user's name of flat column ``col`` (``x[3]``, ``k[a,2]``, ``t``); columns a pass
    added past the model's unknowns are ``_aux[col]``."""
    for name, (a, b) in inst.offsets.items():
        if a <= col < b:
            if inst.model.vars[name].is_scalar:
                return name
            return "%s[%s]" % (name, label_at(inst.model.var_sets(name), col - a))
    return "_aux[%d]" % col


def binary_mask(inst: Instance) -> np.ndarray:
    """Columns that can only take 0 or 1: binaries and integers bounded in [0, 1]."""
    return (inst.vtype == "B") | ((inst.vtype == "I") & (inst.lb >= 0) & (inst.ub <= 1))


def polys(inst: Instance) -> list[tuple[str | None, PolyBatch]]:
    """The objective (name None) and every block body, in order."""
    out = [] if inst.objective is None else [(None, inst.objective)]
    return out + [(b.name, b.body) for b in inst.blocks]
