"""BoundedInteger2Binary: bounded integer unknowns -> weighted sums of binaries.

Source form: an :class:`~lagdsl.lower.instance.Instance` with integer columns (``vtype ==
'I'``) whose bounds ``l <= k <= u`` are finite.  Target form: the same problem where each
such ``k`` is ``l + sum_b c_b y_b`` over ``B = floor(log2(u - l)) + 1`` new binaries, with
``c = 1, 2, 4, ..., 2^(B-2)`` and a last coefficient capped at ``(u - l) - (2^(B-1) - 1)``,
so that the reachable values are exactly ``l..u`` (no extra rows needed).  An integer with
``l == u`` becomes the constant ``l``.  This is MathOptInterface's binary-expansion bridge;
the qubo backend reuses it to reach an all-binary model.

The change of unknowns is the affine map ``x = T @ y + t0`` (sparse ``T``), applied to every
polynomial at once by :func:`~lagdsl.passes.base.substitute`.  New column layout: the
non-integer columns in their original order, then the bits of each integer in turn.
``invert`` rebuilds ``x = T @ y + t0``; constraint duals are unchanged (same blocks).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ..lower.instance import Instance
from .base import PassError, Solution, column_label, substitute


@dataclass
class IntegerEncoding:
    """The affine map ``x = T @ y + t0`` from the binary form back to the original columns.

    ``bits[k]`` lists the new columns encoding original integer column ``ints[k]`` and
    ``coef`` their weights (for a qubo backend that wants to read the encoding).
    """

    T: sp.csr_matrix
    t0: np.ndarray
    ints: np.ndarray
    bit_parent: np.ndarray     # for each bit column: its position in ``ints``
    bit_columns: np.ndarray    # the new columns of the bits
    coef: np.ndarray           # the weight of each bit


def bit_weights(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``r = u - l >= 0``: the parent (position in ``r``) and weight of every bit.

    ``floor(log2 r) + 1`` bits per range (none for ``r == 0``); weights are powers of two
    except the last, capped so that the weights sum to ``r`` exactly.
    """
    r = np.asarray(r, dtype=np.int64)
    nb = np.zeros(len(r), dtype=np.int64)
    pos = r > 0
    # bit_length of r, exactly: frexp's exponent (float log2 may round up just below 2^k)
    nb[pos] = np.frexp(r[pos].astype(np.float64))[1]
    parent = np.repeat(np.arange(len(r)), nb)
    starts = np.cumsum(nb) - nb
    within = np.arange(len(parent)) - starts[parent]
    w = np.power(2.0, within)
    last = starts[pos] + nb[pos] - 1
    w[last] = r[pos] - (np.power(2.0, nb[pos] - 1) - 1)
    return parent, w


class BoundedInteger2Binary:
    """Binary expansion of bounded integers (see module docstring)."""

    name = "integer2binary"

    def accepts(self, inst: Instance) -> bool:
        """Whether there are integer columns and all of them are bounded."""
        ints = inst.vtype == "I"
        return bool(ints.any()) and bool(np.all(np.isfinite(inst.lb[ints]) & np.isfinite(inst.ub[ints])))

    def apply(self, inst: Instance) -> tuple[Instance, IntegerEncoding]:
        """The all-binary-for-integers instance and the encoding; unbounded or empty integer
        ranges are a :class:`PassError` naming the unknown."""
        ints = np.flatnonzero(inst.vtype == "I")
        lo, hi = np.ceil(inst.lb[ints]), np.floor(inst.ub[ints])
        bad = ~(np.isfinite(lo) & np.isfinite(hi))
        if bad.any():
            c = int(ints[np.flatnonzero(bad)[0]])
            raise PassError("integer %s has no finite bounds; a binary expansion needs "
                            "lower and upper bounds (declare it `integer in L..U`)" % column_label(inst, c))
        if np.any(hi < lo):
            c = int(ints[np.flatnonzero(hi < lo)[0]])
            raise PassError("integer %s has an empty range [%g, %g]" % (column_label(inst, c),
                            inst.lb[c], inst.ub[c]))
        rest = np.flatnonzero(inst.vtype != "I")
        parent, w = bit_weights((hi - lo).astype(np.int64))
        n_rest, n_bits = len(rest), len(parent)
        M = n_rest + n_bits
        bit_cols = n_rest + np.arange(n_bits)
        T = sp.csr_matrix((np.concatenate([np.ones(n_rest), w]),
                           (np.concatenate([rest, ints[parent]]), np.concatenate([np.arange(n_rest), bit_cols]))),
                          shape=(inst.N, M))
        t0 = np.zeros(inst.N)
        t0[ints] = lo
        objective = None if inst.objective is None else substitute(inst.objective, T, t0)
        blocks = [replace(b, body=substitute(b.body, T, t0)) for b in inst.blocks]
        new = replace(inst, lb=np.concatenate([inst.lb[rest], np.zeros(n_bits)]),
                      ub=np.concatenate([inst.ub[rest], np.ones(n_bits)]),
                      vtype=np.concatenate([inst.vtype[rest], np.full(n_bits, "B", dtype="U1")]),
                      objective=objective, blocks=blocks)
        return new, IntegerEncoding(T, t0, ints, parent, bit_cols, w)

    def invert(self, solution: Solution, data: IntegerEncoding) -> Solution:
        """Original columns ``x = T @ y + t0`` (bits rounded first: they are binaries)."""
        if solution.x is None:
            return Solution(None, dict(solution.duals))
        y = np.asarray(solution.x, dtype=np.float64).copy()
        y[data.bit_columns] = np.round(y[data.bit_columns])
        return Solution(data.T @ y + data.t0, dict(solution.duals))
