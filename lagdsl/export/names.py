"""Names and numbers for the LP and MPS writers: one scheme, legal in both formats.

A variable element ``x[a, 1]`` is written ``x(a,1)`` and a constraint row ``cap[a, 1]`` is
``cap(a,1)``; scalars keep their bare name.  :func:`legal_names` then makes every name legal
in CPLEX LP *and* free MPS and unique within its list:

* characters outside ``A-Z a-z 0-9 _ ( ) , . ! # $ % & ; ? @ { } ~`` (spaces, ``- + * / ^ :
  [ ] < > =``, quotes, non-ASCII ...) become ``_``: that set is the intersection of what
  CPLEX LP allows in a name and what a whitespace-separated free MPS field can hold;
* a name that starts with a digit or ``.``, that looks like an exponent (``e``, ``E1``,
  ``ee...``), or that is an LP keyword (``free``, ``inf``, ``st``, ``end``, ``bin`` ...,
  any case) gets a leading ``_``;
* names are cut to 255 characters (CPLEX's limit);
* the second and later copies of a name get ``~2``, ``~3`` ... (skipping names in use).

Everything is checked on the whole list at once (a regular expression over the joined
names, set operations for starts and keywords), so the common case -- identifiers and integer or plain string labels -- costs a
join and a search, not a Python call per name.

:func:`fmt_numbers` formats many floats at once (shortest round-trip form, integers without
``.0``) by formatting only the distinct values.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

#: characters a name may hold in both formats.
LEGAL_CHARS = "A-Za-z0-9_(),.!#$%&;?@{}~"
MAX_LEN = 255

#: words an LP reader takes for a section, a bound or infinity (compared case-insensitively).
KEYWORDS = frozenset("""
    minimize minimise minimum min maximize maximise maximum max subject such that st s.t. st.
    bound bounds general generals gen integer integers int binary binaries bin semi semis
    semi-continuous sos end free inf infinity marker""".split())

_SEP = "\x00"
_BAD_CHAR = re.compile("[^%s%s]" % (LEGAL_CHARS, _SEP))
_BAD_START = re.compile(r"(?:^|\x00)(?:[0-9.]|[eE](?:[0-9eE]|\x00|$))")
_BAD_CHAR_ONE = re.compile("[^%s]" % LEGAL_CHARS)


def sanitize(name: str) -> str:
    """One name made legal in both formats (not yet unique)."""
    s = _BAD_CHAR_ONE.sub("_", str(name)) or "_"
    if s[0].isdigit() or s[0] == "." or re.match(r"[eE](?:[0-9eE]|$)", s) or s.lower() in KEYWORDS:
        s = "_" + s
    return s[:MAX_LEN]


def make_unique(names: list[str]) -> list[str]:
    """``names`` with later duplicates renamed ``name~2``, ``name~3`` ... (order kept)."""
    if len(set(names)) == len(names):
        return names
    used = set(names)
    seen: set = set()
    out = []
    for n in names:
        if n in seen:
            k = 2
            while True:
                cand = "%s~%d" % (n[:MAX_LEN - 1 - len(str(k))], k)
                if cand not in used:
                    break
                k += 1
            used.add(cand)
            n = cand
        seen.add(n)
        out.append(n)
    return out


def legal_names(raw: Sequence[str]) -> list[str]:
    """Sanitised, unique names for a list (fast when nothing needs changing)."""
    names = list(raw)
    if not names:
        return names
    lengths = set(map(len, names))
    if (max(lengths) > MAX_LEN or 0 in lengths or _BAD_CHAR.search(_SEP.join(names))
            or _BAD_START.search(_SEP.join(set(n[:2] for n in names)))
            or not KEYWORDS.isdisjoint(map(str.lower, names))):
        names = [sanitize(n) for n in names]
    return make_unique(names)


def indexed(name: str, keys: Sequence[str]) -> list[str]:
    """``name(key)`` for each key, or ``[name]`` for a scalar (``keys == [""]``)."""
    if len(keys) == 1 and keys[0] == "":
        return [name]
    head = name + "("
    return [head + k + ")" for k in keys]


def variable_names(inst) -> list[str]:
    """Legal, unique names of all unknowns of an instance, in flat order."""
    from ..lower.instance import var_keys
    raw: list[str] = []
    for name in inst.model.vars:
        a, b = inst.offsets[name]
        keys = var_keys(inst.model, name) if inst.model.vars[name].index else [""]
        got = indexed(name, keys)
        if len(got) != b - a:
            raise AssertionError("variable %s: %d labels for %d unknowns" % (name, len(got), b - a))
        raw.extend(got)
    return legal_names(raw)


def row_names(inst, objective_name: str | None = None) -> tuple[str, list[str]]:
    """``(objective row name, constraint row names)``, legal and unique together.

    The objective comes first so it keeps its name; rows are in block order.
    """
    obj = objective_name or (inst.model.objective.name if inst.model.objective else "obj")
    raw = [obj]
    for blk in inst.blocks:
        raw.extend(indexed(blk.name, blk.keys()) if blk.constraint.binding else [blk.name] * blk.n)
    names = legal_names(raw)
    return names[0], names[1:]


# --- numbers -------------------------------------------------------------------------


def fmt_number(v: float) -> str:
    """Shortest text that reads back as ``v``; integral values without ``.0``; ``inf`` words."""
    v = float(v)
    if v != v:
        raise ValueError("NaN cannot be written")
    if v == np.inf:
        return "+inf"
    if v == -np.inf:
        return "-inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def fmt_numbers(values: np.ndarray) -> np.ndarray:
    """:func:`fmt_number` of every entry, as an object array (formats each distinct value once)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        return np.zeros(0, dtype=object)
    if np.isnan(values).any():
        raise ValueError("NaN cannot be written")
    uniq, inv = np.unique(values, return_inverse=True)
    text = np.array([fmt_number(u) for u in uniq], dtype=object)
    return text[inv.reshape(-1)]
