"""The evaluator algebra whose values are cvxpy vector expressions (the DCP path)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from lagdsl.ir.atoms import ATOMS
from lagdsl.ir.model import Model
from lagdsl.lower.evaluate import reduce_data
from lagdsl.lower.rows import segment_matrix

import cvxpy as cp

class NotRepresentable(Exception):
    """A construct cvxpy cannot represent (sin of an unknown, a power with an unknown exponent)."""


def is_expr(v) -> bool:
    """Whether ``v`` is a cvxpy expression (rather than numpy data)."""
    return isinstance(v, cp.Expression)


class CvxpyAlgebra:
    """The :class:`~lagdsl.lower.evaluate.Algebra` whose values are cvxpy vector expressions
    (numpy arrays while a value is data).  Affine leaves are sparse selections of the flat
    variable; data scales with ``cp.multiply``; sums are a sparse segment matrix."""

    def __init__(self, model: Model, x: cp.Variable):
        self.x = x
        self.N = model.num_unknowns
        self.offsets = model.var_offsets()
        self.cones: set[str] = set()

    def const(self, values):
        return np.asarray(values, dtype=np.float64)

    def var(self, name, flat):
        start, stop = self.offsets[name]
        cols = start + np.asarray(flat, dtype=np.int64)
        n = len(cols)
        if n and cols[0] + n - 1 == cols[-1] and np.all(np.diff(cols) == 1):
            return self.x[int(cols[0]):int(cols[0]) + n]       # a contiguous slice
        return sp.csr_matrix((np.ones(n), (np.arange(n), cols)), shape=(n, self.N)) @ self.x

    def add(self, a, b):
        if not is_expr(a) and is_expr(b):
            a, b = b, a          # numpy first would broadcast element by element
        return a + b

    def mul(self, a, b):
        if not is_expr(a) or not is_expr(b):
            return cp.multiply(a, b) if (is_expr(a) or is_expr(b)) else a * b
        return cp.multiply(a, b)  # not DCP: reported by the DCP check with its sub-expression

    def pow(self, a, p):
        if is_expr(p):
            raise NotRepresentable("a power with an unknown exponent")
        p = np.asarray(p, dtype=np.float64)
        if not is_expr(a):
            return np.power(a, p)
        if p.size and not np.all(p == p.flat[0]):
            return self._pow_by_exponent(a, p.reshape(-1))
        return self._pow(a, float(p.flat[0]) if p.size else 1.0)

    #: At most this many distinct exponents in one power (``abs(x[i] - c[i])^p[i]``).
    MAX_EXPONENTS = 64

    def _pow_by_exponent(self, a, p: np.ndarray):
        """A power whose exponent changes from row to row: one atom per distinct exponent
        over its rows, put back in place by sparse 0/1 selections (convex pieces stay
        convex under a non-negative selection)."""
        exps, which = np.unique(p, return_inverse=True)
        if len(exps) > self.MAX_EXPONENTS:
            raise NotRepresentable("a power with %d different exponents (at most %d)"
                                    % (len(exps), self.MAX_EXPONENTS))
        n = len(p)
        out = None
        for k, e in enumerate(exps):
            rows = np.flatnonzero(which == k)
            piece = self._pow(a[rows], float(e))
            place = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                                  shape=(n, len(rows)))
            term = place @ piece
            out = term if out is None else out + term
        return out

    def _pow(self, a, e: float):
        """``a ^ e`` for one exponent, as the DCP atom that represents it."""
        if e == 1:
            return a
        if e == 2:
            return cp.square(a)
        if e == 0.5:
            self.cones.add("soc")
            return cp.sqrt(a)
        if e == -1:
            self.cones.add("soc")
            return cp.inv_pos(a)
        if e.is_integer() and e > 2 and int(e) % 2 == 1 and not a.is_nonneg():
            # abs(e)^3, max(x, 0)^3: convex and increasing on [0, inf), so power() is DCP
            raise NotRepresentable("an odd power x^%d (not convex on all of R)" % int(e))
        self.cones.add("soc")
        return cp.power(a, e)

    def func(self, name, args):
        if name in ("min", "max"):
            f = cp.minimum if name == "min" else cp.maximum
            out = args[0]
            for a in args[1:]:
                out = f(out, a) if (is_expr(out) or is_expr(a)) else (np.minimum if name == "min" else np.maximum)(out, a)
            return out
        if name == "abs":
            return cp.abs(args[0])
        if name in ("exp", "log"):
            self.cones.add("exp")
            return cp.exp(args[0]) if name == "exp" else cp.log(args[0])
        if name in ATOMS:
            atom = ATOMS[name]
            if not any(is_expr(a) for a in args):
                return atom.numpy(*args)
            self.cones.add(atom.cone)
            return atom.cvxpy(cp, _same_length(args))
        raise NotRepresentable("%s of an unknown" % name)

    def take(self, a, idx):
        return a[idx]

    def reduce(self, kind, values, parent, n):
        if not is_expr(values):
            return reduce_data(kind, values, parent, n)
        if kind == "sum":
            return segment_matrix(parent, n) @ values
        if kind == "sumsq":
            return segment_matrix(parent, n) @ cp.square(values)
        if kind == "norm1":
            return segment_matrix(parent, n) @ cp.abs(values)
        if kind == "prod":
            raise NotRepresentable("prod of unknowns")
        self.cones.add("exp" if kind == "logsumexp" else "soc")
        return _segment_atom(kind, values, parent, n)


def _same_length(args: list) -> list:
    """Per-row arguments of one length: a one-row value repeated over the rows (CVXPY's
    two-argument atoms take equal shapes)."""
    n = max(a.shape[0] if a.shape else 1 for a in args)
    out = []
    for a in args:
        m = a.shape[0] if a.shape else 1
        if m != n:
            a = a[np.zeros(n, dtype=np.int64)] if is_expr(a) else np.broadcast_to(np.reshape(a, (-1,)), (n,))
        out.append(a)
    return out


_AXIS_ATOMS = {
    "norm2": lambda V: cp.norm(V, 2, axis=1), "norminf": lambda V: cp.norm(V, "inf", axis=1),
    "max": lambda V: cp.max(V, axis=1), "min": lambda V: cp.min(V, axis=1),
    "logsumexp": lambda V: cp.log_sum_exp(V, axis=1),
}


def _segment_atom(kind: str, values, parent: np.ndarray, n: int):
    """A vector aggregate per segment as one ``axis=1`` atom over an ``n x k`` matrix.

    Equal contiguous segments are a plain reshape.  Otherwise each segment is padded to the
    longest: with zeros for norms (they do not change a norm) and with a repeat of the
    segment's first entry for max/min/norminf (a repeat does not change a max); logsumexp
    has no neutral padding and is built segment by segment.
    """
    m = values.shape[0]
    counts = np.bincount(parent, minlength=n)
    if np.any(counts == 0):
        raise NotRepresentable("%s over an empty set of unknowns" % kind)
    k = int(counts.max())
    if np.all(counts == k) and np.all(parent == np.repeat(np.arange(n), k)):
        return _AXIS_ATOMS[kind](cp.reshape(values, (n, k), order="C"))
    order = np.argsort(parent, kind="stable")
    starts = np.cumsum(counts) - counts
    if kind == "logsumexp":
        return cp.hstack([cp.log_sum_exp(values[order[starts[s]:starts[s] + counts[s]]]) for s in range(n)])
    slot = np.arange(m) - starts[parent[order]]          # position inside its segment
    rows = parent[order] * k + slot
    cols = order
    if kind != "norm2":
        # pad with the first entry of the segment
        fill_seg = np.repeat(np.arange(n), k - counts)
        fill_slot = np.concatenate([np.arange(c, k) for c in counts]) if len(fill_seg) else np.zeros(0, np.int64)
        rows = np.concatenate([rows, fill_seg * k + fill_slot])
        cols = np.concatenate([cols, order[starts[fill_seg]]])
    M = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n * k, m))
    return _AXIS_ATOMS[kind](cp.reshape(M @ values, (n, k), order="C"))
