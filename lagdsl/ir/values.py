"""Data values bound into the IR: ordered sets, set families and parameter arrays.

Sets are ordered and hold scalars (``int``, ``float``, ``str``) or tuples of them.  Lookups
are vectorised: :meth:`SetValue.positions` maps whole columns of elements to positions at
once, with an arithmetic fast path for contiguous integer ranges, so that lowering a large
indexed sum never touches one Python object per term.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


def _norm_scalar(v):
    """Canonical Python form of an element: ints stay ints, integral floats become ints."""
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return int(v) if float(v).is_integer() else float(v)
    return v


def norm_element(e):
    """Canonical form of a set element (scalar or tuple)."""
    if isinstance(e, (tuple, list)):
        return tuple(_norm_scalar(v) for v in e)
    return _norm_scalar(e)


def column_array(values: Sequence) -> np.ndarray:
    """One column of elements as int64 when all integral, float64 when numeric, else object."""
    arr = np.asarray(values, dtype=object) if len(values) else np.zeros(0, dtype=np.int64)
    if arr.dtype == object and len(values):
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            return arr.astype(np.int64)
        if all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
            return arr.astype(np.float64)
    return arr


@dataclass(eq=False)
class SetValue:
    """An ordered set of elements.

    ``elements`` is the list of canonical elements (scalars, or tuples of ``arity``).  A
    contiguous integer range keeps ``range_lo`` so that positions are arithmetic.
    """

    elements: list
    arity: int = 1
    range_lo: int | None = None
    _index: dict | None = field(default=None, repr=False)
    _columns: list | None = field(default=None, repr=False)

    @classmethod
    def from_range(cls, lo: int, hi: int) -> "SetValue":
        """The integer range ``lo..hi`` (inclusive; empty when ``hi < lo``)."""
        lo, hi = int(lo), int(hi)
        return cls(list(range(lo, hi + 1)), 1, lo)

    @classmethod
    def from_int_array(cls, arr: np.ndarray) -> "SetValue":
        """A set of distinct integers given as a 1-d array (a fast range when contiguous)."""
        arr = np.asarray(arr, dtype=np.int64)
        if len(arr) and np.array_equal(arr, arr[0] + np.arange(len(arr), dtype=np.int64)):
            return cls.from_range(int(arr[0]), int(arr[-1]))
        return cls(arr.tolist(), 1, None)

    @classmethod
    def from_elements(cls, elements: Sequence) -> "SetValue":
        """A set from elements in order; duplicates are dropped, keeping the first."""
        seen: dict = {}
        for e in elements:
            seen.setdefault(norm_element(e), None)
        elems = list(seen)
        arity = len(elems[0]) if elems and isinstance(elems[0], tuple) else 1
        if arity > 1 or (elems and isinstance(elems[0], tuple)):
            if any(not isinstance(e, tuple) or len(e) != arity for e in elems):
                raise ValueError("set elements must all be tuples of the same length")
        lo = None
        if elems and arity == 1 and all(type(e) is int for e in elems):
            if elems == list(range(elems[0], elems[0] + len(elems))):
                lo = elems[0]
        return cls(elems, arity, lo)

    def __len__(self) -> int:
        return len(self.elements)

    def __iter__(self):
        return iter(self.elements)

    def __contains__(self, e) -> bool:
        return self.index().get(norm_element(e)) is not None

    def index(self) -> dict:
        """Element -> position."""
        if self._index is None:
            self._index = {e: k for k, e in enumerate(self.elements)}
        return self._index

    def columns(self) -> list[np.ndarray]:
        """The elements as ``arity`` columns (int64, float64 or object arrays)."""
        if self._columns is None:
            if self.range_lo is not None:
                self._columns = [np.arange(self.range_lo, self.range_lo + len(self), dtype=np.int64)]
            elif self.arity == 1 and not (self.elements and isinstance(self.elements[0], tuple)):
                self._columns = [column_array(self.elements)]
            else:
                self._columns = [column_array([e[k] for e in self.elements]) for k in range(self.arity)]
        return self._columns

    def positions(self, cols: Sequence[np.ndarray]) -> np.ndarray:
        """Positions of the elements given column-wise; -1 where an element is not in the set."""
        if len(cols) != self.arity:
            raise ValueError("expected %d columns, got %d" % (self.arity, len(cols)))
        n = len(cols[0]) if cols else 0
        if self.range_lo is not None:
            c = np.asarray(cols[0])
            # whole floats take the arithmetic path too; inf, nan and floats beyond int64
            # (which astype would wrap) go the look-up way and are simply not found
            if c.dtype.kind in "iu" or (c.dtype.kind == "f" and np.all(np.abs(c) < 2.0 ** 62)
                                        and np.all(np.mod(c, 1) == 0)):
                p = c.astype(np.int64) - self.range_lo
                p[(p < 0) | (p >= len(self))] = -1
                return p
        idx = self.index()
        if self.arity == 1:
            return np.fromiter((idx.get(_norm_scalar(v), -1) for v in cols[0]), dtype=np.int64, count=n)
        keys = zip(*[c.tolist() for c in cols])
        return np.fromiter((idx.get(tuple(_norm_scalar(v) for v in k), -1) for k in keys),
                           dtype=np.int64, count=n)

    def label(self, pos: int) -> str:
        """The element at ``pos`` as results print it: tuples joined by ``,``."""
        e = self.elements[pos]
        return ",".join(str(v) for v in e) if isinstance(e, tuple) else str(e)


@dataclass(eq=False)
class SetFamilyValue:
    """Sets indexed by the elements of ``over`` (``G.neighbors(v)``): member ``k`` of the
    family is ``members[k]``, aligned with ``over``."""

    over: SetValue
    members: list[SetValue]


@dataclass(eq=False)
class ParamValue:
    """A numeric parameter: a dense float64 array over the product of its index sets.

    ``index`` names the sets (each one axis; a tuple set is one axis).  A scalar has
    ``index == ()`` and a 0-d array.  Formula-defined parameters are evaluated when the
    model is elaborated, so every parameter reaches the IR as plain numbers.
    """

    index: tuple[str, ...]
    values: np.ndarray

    @property
    def is_scalar(self) -> bool:
        return not self.index


def product_size(sets: Sequence[SetValue]) -> int:
    """Number of elements of the product of ``sets``."""
    n = 1
    for s in sets:
        n *= len(s)
    return n


def flat_positions(sets: Sequence[SetValue], subscripts: Sequence[np.ndarray]) -> np.ndarray:
    """Row-major flat positions in the product of ``sets`` of the subscript columns.

    ``subscripts`` holds one column per component (a tuple set takes ``arity`` columns).
    Returns -1 for any row with an element outside its set.
    """
    k = 0
    flat = None
    bad = None
    for s in sets:
        p = s.positions(subscripts[k:k + s.arity])
        k += s.arity
        b = p < 0
        bad = b if bad is None else (bad | b)
        flat = p if flat is None else flat * len(s) + p
    if flat is None:
        return np.zeros(len(subscripts[0]) if subscripts else 1, dtype=np.int64)
    flat = flat.copy()
    flat[bad] = -1
    return flat


def label_at(sets: Sequence[SetValue], pos: int) -> str:
    """The label of flat position ``pos`` in the product of ``sets``, without building the
    others (row-major, as :func:`labels`)."""
    parts = []
    for s in reversed(sets):
        pos, k = divmod(pos, len(s))
        parts.append(s.label(k))
    return ",".join(reversed(parts))


def labels(sets: Sequence[SetValue]) -> list[str]:
    """Result keys of every element of the product of ``sets``, in flat order."""
    out = None
    for s in sets:
        if s.arity == 1 and not (s.elements and isinstance(s.elements[0], tuple)):
            ls = list(map(str, s.elements))
        else:
            ls = [",".join(map(str, e)) for e in s.elements]
        out = ls if out is None else [a + "," + b for a in out for b in ls]
    return out or []



def label_clash(sets: Sequence[SetValue]):
    """Two elements of the product of ``sets`` whose result keys are the same text (``1``
    and ``"1"`` both print ``1``): ``(element a, element b, label)``, else None.  Results,
    exports and solver names key elements by that label.  Cheap in the usual case: a set
    whose columns are all integers, all floats or all strings without ``,`` (ranges
    included) cannot produce two equal labels, so only the others are checked element by
    element."""
    def plain(s: SetValue) -> bool:
        if s.range_lo is not None:
            return True
        for c in s.columns():
            if c.dtype.kind in "iuf":
                continue
            vals = c.tolist()
            if not all(type(v) is str and "," not in v for v in vals):
                return False
        return True

    if all(plain(s) for s in sets):
        return None
    ls = labels(sets)
    if len(set(ls)) == len(ls):
        return None
    first: dict[str, int] = {}
    shape = [len(s) for s in sets]
    for k, lab in enumerate(ls):
        if lab in first:
            a, b = (tuple(s.elements[i] for s, i in zip(sets, np.unravel_index(p, shape)))
                    for p in (first[lab], k))
            a, b = (e[0] if len(e) == 1 else e for e in (a, b))
            return a, b, lab
        first[lab] = k
    return None
