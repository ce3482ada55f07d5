"""Polynomials of degree <= 2 for many rows at once: the algebra of LP, QP and MILP lowering.

A :class:`PolyBatch` holds, for ``n`` rows over ``N`` flat unknowns,

    value[r] = const[r] + (lin @ x)[r] + sum_k coef[k] * x[qi[k]] * x[qj[k]]   (qrow[k] == r)

with ``lin`` a scipy CSR matrix and the quadratic part as COO triplets.  Every operation is
a handful of sparse/numpy calls regardless of ``n``; anything beyond degree 2 (or a function
of an unknown) raises :class:`NotPolynomial`, which tells the caller to use a richer algebra.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..ir.model import Model
from .rows import segment_matrix


class NotPolynomial(Exception):
    """The expression is not a polynomial of degree <= 2 in the unknowns."""


@dataclass
class Quad:
    """COO triplets of the quadratic part: ``coef * x[i] * x[j]`` belongs to row ``row``."""

    row: np.ndarray
    i: np.ndarray
    j: np.ndarray
    coef: np.ndarray

    @staticmethod
    def concat(a: "Quad | None", b: "Quad | None") -> "Quad | None":
        if a is None:
            return b
        if b is None:
            return a
        return Quad(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in ("row", "i", "j", "coef")))


@dataclass
class PolyBatch:
    """Per-row polynomials of degree <= 2 (see module docstring)."""

    const: np.ndarray
    lin: sp.csr_matrix | None = None
    quad: Quad | None = None

    @property
    def n(self) -> int:
        return len(self.const)

    @property
    def degree(self) -> int:
        if self.quad is not None and len(self.quad.coef):
            return 2
        return 1 if self.lin is not None and self.lin.nnz else 0

    def row_matrix(self, r: int, N: int) -> sp.csr_matrix:
        """Symmetric Q with ``x' Q x`` equal to row ``r``'s quadratic part."""
        if self.quad is None:
            return sp.csr_matrix((N, N))
        m = self.quad.row == r
        M = sp.coo_matrix((self.quad.coef[m], (self.quad.i[m], self.quad.j[m])), shape=(N, N)).tocsr()
        return ((M + M.T) * 0.5).tocsr()

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Row values at the point ``x`` (flat unknowns)."""
        out = self.const.astype(np.float64).copy()
        if self.lin is not None:
            out += self.lin @ x
        if self.quad is not None and len(self.quad.coef):
            out += np.bincount(self.quad.row, weights=self.quad.coef * x[self.quad.i] * x[self.quad.j],
                               minlength=self.n)
        return out


class PolyAlgebra:
    """The :class:`~lagdsl.lower.evaluate.Algebra` of :class:`PolyBatch` values."""

    def __init__(self, model: Model):
        self.offsets = model.var_offsets()
        self.N = model.num_unknowns

    def const(self, values):
        return PolyBatch(np.asarray(values, dtype=np.float64))

    def var(self, name, flat):
        n = len(flat)
        start = self.offsets[name][0]
        # one entry per row: CSR straight from its arrays, no COO round trip
        lin = sp.csr_matrix((np.ones(n), start + np.asarray(flat, dtype=np.int64), np.arange(n + 1)),
                            shape=(n, self.N))
        return PolyBatch(np.zeros(n), lin)

    def add(self, a: PolyBatch, b: PolyBatch) -> PolyBatch:
        if a.lin is None:
            lin = b.lin
        elif b.lin is None:
            lin = a.lin
        else:
            lin = (a.lin + b.lin).tocsr()
        return PolyBatch(a.const + b.const, lin, Quad.concat(a.quad, b.quad))

    def _scale(self, c: np.ndarray, b: PolyBatch) -> PolyBatch:
        lin = None if b.lin is None else sp.diags(c).dot(b.lin).tocsr()
        quad = None if b.quad is None else Quad(b.quad.row, b.quad.i, b.quad.j, b.quad.coef * c[b.quad.row])
        return PolyBatch(c * b.const, lin, quad)

    def mul(self, a: PolyBatch, b: PolyBatch) -> PolyBatch:
        if a.degree == 0:
            return self._scale(a.const, b)
        if b.degree == 0:
            return self._scale(b.const, a)
        if a.degree + b.degree > 2:
            raise NotPolynomial("a product of degree %d" % (a.degree + b.degree))
        A, B = a.lin, b.lin
        ca, cb = np.diff(A.indptr), np.diff(B.indptr)
        ra = np.repeat(np.arange(a.n), ca)               # row of each entry of A
        reps = cb[ra]                                    # partners of each entry of A
        ea = np.repeat(np.arange(A.nnz), reps)
        starts = np.cumsum(reps) - reps
        within = np.arange(len(ea)) - np.repeat(starts, reps)
        eb = B.indptr[ra[ea]] + within
        quad = Quad(ra[ea], A.indices[ea], B.indices[eb], A.data[ea] * B.data[eb])
        lin = (sp.diags(a.const).dot(B) + sp.diags(b.const).dot(A)).tocsr()
        return PolyBatch(a.const * b.const, lin, quad)

    def pow(self, a: PolyBatch, p):
        if not isinstance(p, np.ndarray):
            raise NotPolynomial("a power with an unknown exponent")
        if a.degree == 0:
            return PolyBatch(np.power(a.const, p))
        if p.size and not np.all(p == p.flat[0]):
            raise NotPolynomial("a power whose exponent changes from row to row")
        e = float(p.flat[0]) if p.size else 1.0
        if e == 0:
            return PolyBatch(np.ones(a.n))
        if e == 1:
            return a
        if e == 2:
            return self.mul(a, a)
        raise NotPolynomial("a power %g of an unknown" % e)

    def func(self, name, args):
        if all(a.degree == 0 for a in args):
            raise AssertionError("data functions are evaluated as data")
        raise NotPolynomial("%s of an unknown" % name)

    def reduce(self, kind, values: PolyBatch, parent, n):
        if kind != "sum":
            if values.degree == 0:
                from .evaluate import reduce_data
                return PolyBatch(reduce_data(kind, values.const, parent, n))
            raise NotPolynomial("%s of unknowns" % kind)
        S = segment_matrix(parent, n)
        lin = None if values.lin is None else (S @ values.lin).tocsr()
        quad = None if values.quad is None else Quad(parent[values.quad.row], values.quad.i,
                                                     values.quad.j, values.quad.coef)
        return PolyBatch(np.bincount(parent, weights=values.const, minlength=n), lin, quad)
