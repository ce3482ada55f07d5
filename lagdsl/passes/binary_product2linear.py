"""BinaryProduct2Linear: products of binary unknowns -> new unknowns with linking rows.

Source form: an :class:`~lagdsl.lower.instance.Instance` whose polynomials (objective and
constraint bodies) hold quadratic terms ``c * x_i * x_j`` with ``x_i``, ``x_j`` binary.
Target form: the same instance where every such term is linear —

* ``x_i * x_i`` becomes ``x_i`` (a binary is its own square);
* ``x_i * x_j`` (i != j) becomes ``z_ij``, one new column per distinct unordered pair, with
  the linking rows ``z_ij <= x_i``, ``z_ij <= x_j``, ``z_ij >= x_i + x_j - 1`` and
  ``0 <= z_ij <= 1`` (the McCormick envelope, exact at binary points).

Quadratic terms with a non-binary factor are left in place (a later pass or a MIQP solver
takes them).  This is MathOptInterface's product-of-binaries linearisation, and it is what
turns a "binary quadratic" model into a MILP.  ``z`` is continuous by default: the rows
force it to ``x_i x_j`` whenever the ``x`` are integral, so branching on it is wasted work.

``invert`` drops the ``z`` columns and the linking block's duals.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ..lower.instance import Instance
from ..lower.poly import PolyBatch
from .base import Solution, binary_mask, linear_part, polys, quad_or_none, synthetic_block

LINK_BLOCK = "_binary_product_link"


@dataclass
class ProductInverse:
    """What :meth:`BinaryProduct2Linear.invert` needs: the original column count."""

    N: int
    pairs: np.ndarray          # (P, 2) the (i, j) of each new column N + p


class BinaryProduct2Linear:
    """Linearise products of binaries (see module docstring)."""

    name = "binary_product2linear"

    def __init__(self, z_binary: bool = False):
        self.z_binary = z_binary

    def accepts(self, inst: Instance) -> bool:
        """Whether some quadratic term multiplies two binaries."""
        isb = binary_mask(inst)
        for _, p in polys(inst):
            q = p.quad
            if q is not None and len(q.coef) and np.any(isb[q.i] & isb[q.j]):
                return True
        return False

    def apply(self, inst: Instance) -> tuple[Instance, ProductInverse]:
        """The linearised instance and the inverse data."""
        N = inst.N
        isb = binary_mask(inst)
        # One key per distinct unordered off-diagonal binary pair, across all polynomials.
        keys = []
        for _, p in polys(inst):
            q = p.quad
            if q is not None and len(q.coef):
                a, b = np.minimum(q.i, q.j), np.maximum(q.i, q.j)
                m = isb[a] & isb[b] & (a != b)
                keys.append(a[m].astype(np.int64) * N + b[m])
        uniq = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
        P = len(uniq)
        pairs = np.stack([uniq // N, uniq % N], axis=1) if P else np.zeros((0, 2), np.int64)
        M = N + P

        def rewrite(p: PolyBatch) -> PolyBatch:
            lin = linear_part(p, N)
            lin = sp.csr_matrix((lin.data, lin.indices, lin.indptr), shape=(p.n, M))
            q = p.quad
            if q is None or not len(q.coef):
                return PolyBatch(p.const, lin, None)
            a, b = np.minimum(q.i, q.j), np.maximum(q.i, q.j)
            both = isb[a] & isb[b]
            diag = both & (a == b)
            off = both & (a != b)
            # x_i^2 -> x_i ; x_i x_j -> z_ij (position of the pair among the unique keys)
            cols = np.concatenate([a[diag], N + np.searchsorted(uniq, a[off].astype(np.int64) * N + b[off])])
            rows = np.concatenate([q.row[diag], q.row[off]])
            vals = np.concatenate([q.coef[diag], q.coef[off]])
            lin = (lin + sp.csr_matrix((vals, (rows, cols)), shape=(p.n, M))).tocsr()
            keep = ~both
            return PolyBatch(p.const, lin, quad_or_none(q.row[keep], q.i[keep], q.j[keep], q.coef[keep]))

        objective = None if inst.objective is None else rewrite(inst.objective)
        blocks = [replace(b, body=rewrite(b.body)) for b in inst.blocks]
        if P:
            blocks.append(self._link_block(pairs, N, M))
        z_type = "B" if self.z_binary else "C"
        new = replace(inst, lb=np.concatenate([inst.lb, np.zeros(P)]),
                      ub=np.concatenate([inst.ub, np.ones(P)]),
                      vtype=np.concatenate([inst.vtype, np.full(P, z_type, dtype="U1")]),
                      objective=objective, blocks=blocks)
        return new, ProductInverse(N, pairs)

    @staticmethod
    def _link_block(pairs: np.ndarray, N: int, M: int):
        """Rows ``z - x_i <= 0``, ``z - x_j <= 0``, ``z - x_i - x_j >= -1`` for every pair."""
        P = len(pairs)
        z = N + np.arange(P)
        r = np.arange(P)
        rows = np.concatenate([r, r, P + r, P + r, 2 * P + r, 2 * P + r, 2 * P + r])
        cols = np.concatenate([z, pairs[:, 0], z, pairs[:, 1], z, pairs[:, 0], pairs[:, 1]])
        vals = np.concatenate([np.ones(P), -np.ones(P), np.ones(P), -np.ones(P),
                               np.ones(P), -np.ones(P), -np.ones(P)])
        body = PolyBatch(np.zeros(3 * P), sp.csr_matrix((vals, (rows, cols)), shape=(3 * P, M)))
        lower = np.concatenate([np.full(2 * P, -np.inf), np.full(P, -1.0)])
        upper = np.concatenate([np.zeros(2 * P), np.full(P, np.inf)])
        return synthetic_block(LINK_BLOCK, body, lower, upper)

    def invert(self, solution: Solution, data: ProductInverse) -> Solution:
        """Drop the ``z`` columns and the linking rows' duals."""
        x = None if solution.x is None else np.asarray(solution.x)[:data.N]
        duals = {k: v for k, v in solution.duals.items() if k != LINK_BLOCK}
        return Solution(x, duals)
