"""Row tables: every binding of a constraint family or aggregate, column-wise.

A :class:`Rows` is a table whose columns are the values of the bound index symbols, one row
per element of the family.  Expanding by a binding (``j in J``) repeats each row once per
element of ``J`` and records ``parent`` so that an aggregate can reduce back by segment.
All of it is numpy: no Python object per row.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import sympy

from ..ir.sym import Over, SetFamilyRef, SetName, SetRange
from ..limits import check_size


@dataclass
class Rows:
    """``n`` rows with one column per bound symbol."""

    n: int
    cols: dict = field(default_factory=dict)

    @classmethod
    def unit(cls) -> "Rows":
        """The single empty binding (a scalar objective or constraint)."""
        return cls(1, {})

    def take(self, idx: np.ndarray) -> "Rows":
        """The rows at positions ``idx`` (with repetition)."""
        return Rows(len(idx), {k: v[idx] for k, v in self.cols.items()})

    def with_cols(self, new: dict) -> "Rows":
        cols = dict(self.cols)
        cols.update(new)
        return Rows(self.n, cols)


def segment_matrix(parent: np.ndarray, n: int) -> sp.csr_matrix:
    """The ``n x len(parent)`` 0/1 matrix that sums each row's values into its segment
    ``parent[row]``: how a sum aggregate reduces expanded rows with one sparse product."""
    m = len(parent)
    # built as CSR directly (what the COO route gives: each row's columns in increasing order)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent, minlength=n), out=indptr[1:])
    order = np.arange(m) if m < 2 or np.all(parent[1:] >= parent[:-1]) else np.argsort(parent, kind="stable")
    return sp.csr_matrix((np.ones(m), order, indptr), shape=(n, m))


def _segments(counts: np.ndarray):
    """parent row of each output row and its offset inside its segment."""
    counts = counts.astype(np.int64)
    parent = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    within = np.arange(len(parent), dtype=np.int64) - starts[parent]
    return parent, within


def expand(ev, rows: Rows, over: Over) -> tuple[Rows, np.ndarray]:
    """Rows of ``rows`` crossed with the set of ``over`` (which may depend on the row).

    Returns the new rows and ``parent``: for each new row, the position of its outer row.
    ``ev`` is the :class:`~lagdsl.lower.evaluate.Evaluator` used for bounds and subscripts.
    """
    term = over.set
    idx = over.indices
    if isinstance(term, SetRange):
        lo = np.asarray(ev.data(term.lo, rows), dtype=np.float64)
        hi = np.asarray(ev.data(term.hi, rows), dtype=np.float64)
        for v in (lo, hi):
            wide = ~(np.abs(v) < 2.0 ** 62)         # inf, nan, or beyond int64
            if wide.any():
                r = int(np.flatnonzero(np.broadcast_to(wide, (rows.n,)))[0])
                ev.fail("a range bound is %g; range bounds must be finite integers within "
                        "int64" % np.broadcast_to(v, (rows.n,))[r], term)
        lo = np.broadcast_to(np.ceil(lo), (rows.n,)).astype(np.int64)
        hi = np.broadcast_to(np.floor(hi), (rows.n,)).astype(np.int64)
        counts = np.maximum(hi - lo + 1, 0)
        _check_rows(ev, int(counts.sum()), over)
        parent, within = _segments(counts)
        cols = [lo[parent] + within]
    else:
        if isinstance(term, SetName):
            s = ev.model.sets[term.name]
            n_el = len(s)
            _check_rows(ev, rows.n * n_el, over)
            parent = np.repeat(np.arange(rows.n, dtype=np.int64), n_el)
            pos = np.tile(np.arange(n_el, dtype=np.int64), rows.n)
            cols = [c[pos] for c in s.columns()] if n_el else [np.zeros(0, np.int64)] * s.arity
            arity = s.arity
        elif isinstance(term, SetFamilyRef):
            fam = ev.model.set_families[term.name]
            subs = [np.broadcast_to(np.asarray(ev.data(a, rows)), (rows.n,)) for a in term.subscripts]
            key = fam.over.positions(subs)
            if np.any(key < 0):
                bad = int(np.flatnonzero(key < 0)[0])
                ev.fail("%s(%s) is not defined: the element is not in %s" % (
                    term.name, ", ".join(str(s[bad]) for s in subs), term.name), term)
            flat = ev.family_table(term.name)
            counts = flat["counts"][key]
            _check_rows(ev, int(counts.sum()), over)
            parent, within = _segments(counts)
            pos = flat["starts"][key][parent] + within
            cols = [c[pos] for c in flat["cols"]]
            arity = fam.members[0].arity if fam.members else 1
        else:
            raise TypeError("unknown set term %r" % (term,))
        if len(idx) != arity:
            ev.fail("binding names %d indices but the set's elements have %d components"
                    % (len(idx), arity), over)
    new = rows.take(parent)
    if len(idx) == len(cols):
        new = new.with_cols(dict(zip(idx, cols)))
    return new, parent


def _check_rows(ev, n: int, over: Over) -> None:
    """Refuse an expansion beyond the size limit before its arrays are allocated."""
    check_size(n, "the rows of `%s`" % over, ev.span_of(over), source=ev.model.source)


def bind(ev, rows: Rows, overs, cond) -> tuple[Rows, np.ndarray]:
    """Expand ``rows`` by each binding in turn, then keep the rows where ``cond`` holds.

    Returns the bound rows and, for each, the position of its row in the input ``rows``.
    """
    parent = np.arange(rows.n, dtype=np.int64)
    for over in overs:
        rows, p = expand(ev, rows, over)
        parent = parent[p]
    if cond is not None and cond is not sympy.true:
        mask = np.broadcast_to(np.asarray(ev.data(cond, rows), dtype=bool), (rows.n,))
        keep = np.flatnonzero(mask)
        rows, parent = rows.take(keep), parent[keep]
    return rows, parent
