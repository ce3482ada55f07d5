"""What a solve returns, in the user's names, indices and objective sense."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .jsonnum import clean as _clean_value, number as _number

#: Statuses a backend may report.  ``optimal`` and ``feasible`` count as solved (exit 0).
STATUSES = ("optimal", "feasible", "infeasible", "unbounded", "limit", "error")
SOLVED = ("optimal", "feasible")


class NoDuals(dict):
    """The empty ``Result.duals`` of a solve that has none, saying why in ``reason`` (and in
    its repr): ``r.duals == {}``, ``r.duals.reason`` is the sentence."""

    def __init__(self, reason: str):
        super().__init__()
        self.reason = reason

    def __repr__(self) -> str:
        return "NoDuals(%r)" % self.reason


@dataclass
class Result:
    """The outcome of ``Program.solve()``.

    ``values[name]`` is a float for a scalar variable, else a dict keyed by the element label
    (tuple indices joined by ``,``).  ``duals`` has the same shape per constraint name, where
    the backend has them; a mixed-integer solve has :class:`NoDuals` (empty, with the
    reason, also in ``stats["no_duals"]``).  ``objective`` is in the user's sense (a maximum is reported as
    the maximum).  ``times`` holds wall seconds per phase (``compile``, ``solve``, ...).
    Iterative backends put ``History.to_dict()`` in ``stats["history"]`` (:mod:`lagdsl.history`)
    and may add drawings to ``panels`` for ``--plot`` (:mod:`lagdsl.plot`).
    """

    status: str
    objective: float | None = None
    values: dict[str, Any] = field(default_factory=dict)
    duals: dict[str, Any] = field(default_factory=dict)
    max_violation: float | None = None
    backend: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)
    fields: dict[str, Callable] = field(default_factory=dict)
    #: extra ``--plot`` panels: title -> function drawing into one matplotlib ``Axes``
    panels: dict[str, Callable] = field(default_factory=dict, repr=False)
    #: field backends: name -> ``{"coords": {c: [...]}, "values": nested lists}`` for ``--json``
    grids: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def solved(self) -> bool:
        return self.status in SOLVED

    def to_json_dict(self) -> dict:
        """The object ``lagdsl solve --json`` prints (docs/language.md); non-finite numbers
        as the strings ``"inf"``, ``"-inf"``, ``"nan"`` (:mod:`lagdsl.jsonnum`)."""
        return self._json_dict(_clean(self.values))

    def _json_dict(self, variables) -> dict:
        """:meth:`to_json_dict` with ``variables`` given (:meth:`to_json` writes them itself)."""
        stats = dict(self.stats)
        if self.times:
            stats.setdefault("times", self.times)
        out = {"status": self.status, "objective": _num(self.objective),
               "variables": variables, "duals": _clean(self.duals),
               "max_violation": _num(self.max_violation), "backend": self.backend,
               "stats": _clean(stats)}
        if self.grids:
            out["fields"] = _clean(self.grids)
        return out

    def to_json(self, **kw) -> str:
        """``json.dumps(self.to_json_dict(), **kw)``; with no keyword arguments, large
        families are written straight from their arrays (the same text, twice as fast)."""
        if kw:
            return json.dumps(self.to_json_dict(), allow_nan=False, **kw)
        d = self._json_dict(None)
        d["variables"] = _Raw("{%s}" % ", ".join(
            "%s: %s" % (json.dumps(k), _family_json(v) if isinstance(v, FamilyValues) else json.dumps(_clean(v)))
            for k, v in self.values.items()))
        return "{%s}" % ", ".join("%s: %s" % (json.dumps(k), v.text if isinstance(v, _Raw) else json.dumps(v))
                                  for k, v in d.items())

    def __repr__(self) -> str:
        return "Result(status=%r, objective=%r, backend=%r, max_violation=%r)" % (
            self.status, self.objective, self.backend, self.max_violation)


class FamilyValues(Mapping):
    """The values of one indexed family, keyed by element label (``"1,a"``), read-only.

    Backed by a float array in the family's flat order (``.array``, for numpy users); the
    labels and the label -> position index are built only when first needed, so a result
    with a million entries costs nothing until someone looks one up by name.
    """

    def __init__(self, array, sets):
        self.array = np.asarray(array, dtype=np.float64).reshape(-1)
        self._sets = list(sets)
        self._labels: list[str] | None = None
        self._index: dict | None = None

    def labels(self) -> list[str]:
        """Every element label in flat order."""
        if self._labels is None:
            from .ir.values import labels
            self._labels = labels(self._sets)
        return self._labels

    def label_at(self, pos: int) -> str:
        """The label of flat position ``pos`` without building all labels."""
        from .ir.values import label_at
        return label_at(self._sets, pos)

    def __getitem__(self, key) -> float:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.labels())}
        return float(self.array[self._index[str(key)]])

    def __iter__(self):
        return iter(self.labels())

    def __len__(self) -> int:
        return len(self.array)

    def items(self) -> list:
        return list(zip(self.labels(), self.array.tolist()))

    def values(self) -> list:
        return self.array.tolist()

    def to_dict(self) -> dict:
        """A plain ``{label: value}`` dict."""
        return dict(zip(self.labels(), self.array.tolist()))

    def __repr__(self) -> str:
        n = len(self)
        head = ", ".join("%r: %g" % (self.label_at(i), self.array[i]) for i in range(min(n, 4)))
        return "FamilyValues({%s%s})" % (head, ", ..." if n > 4 else "")


class _Raw:
    """Text that is already JSON."""

    def __init__(self, text: str):
        self.text = text


def _family_json(f: "FamilyValues") -> str:
    """A family as the JSON object ``json.dumps`` would write for ``f.to_dict()``: keys
    through json's own (C) string encoder, finite floats through ``float.__repr__``.

    Built without a Python call per entry: escaping is character by character, so the key
    ``"a,b"`` is the escaped label of the leading sets, a comma and the escaped label of the
    last set; and a solution is mostly exact zeros, so only the other entries are formatted."""
    arr = f.array
    if not np.isfinite(arr).all():
        return json.dumps(_clean(f.to_dict()))
    if not len(arr):
        return "{}"
    enc = json.encoder.encode_basestring_ascii
    from .ir.values import labels
    sets = f._sets
    head = [', "' + enc(a)[1:-1] + "," for a in labels(sets[:-1])] if len(sets) > 1 else [', "']
    tail = [enc(b)[1:-1] + '": ' for b in labels(sets[-1:])]
    keys = [a + b for a in head for b in tail] if len(head) > 1 else [head[0] + b for b in tail]
    if len(keys) != len(arr):           # not a full product: label entry by entry
        return json.dumps(_clean(f.to_dict()))
    values = ["0.0"] * len(arr)
    nz = np.flatnonzero((arr != 0) | np.signbit(arr))       # -0.0 is written "-0.0"
    for k, v in zip(nz.tolist(), map(float.__repr__, arr[nz].tolist())):
        values[k] = v
    parts = [""] * (2 * len(arr))
    parts[0::2], parts[1::2] = keys, values
    return "{" + "".join(parts)[2:] + "}"


def _num(v):
    """A number in lagdsl's JSON encoding (:func:`lagdsl.jsonnum.number`)."""
    return _number(v)


def _finite_float_dict(d: dict) -> bool:
    """Whether ``d`` maps str keys to finite Python floats — the shape of a large variable
    family, which then needs no per-entry cleaning (checked in bulk by numpy)."""
    if not d:
        return False
    try:
        vals = np.fromiter(d.values(), dtype=np.float64, count=len(d))
    except (TypeError, ValueError):
        return False
    # set(map(type, ...)) runs in C: a million entries cost milliseconds, not a Python loop.
    return bool(np.isfinite(vals).all()) and set(map(type, d.values())) <= {float, int} \
        and set(map(type, d)) == {str}


def _clean(obj):
    if isinstance(obj, FamilyValues):
        d = obj.to_dict()
        return d if np.isfinite(obj.array).all() else _clean(d)
    if isinstance(obj, dict):
        if _finite_float_dict(obj):
            return obj
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return _clean_value(obj)   # numbers, numpy scalars and arrays: the shared encoding
