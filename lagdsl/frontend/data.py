"""Model data: loading JSON, ``--set`` overrides, and coercing raw values to sets, parameter
arrays and graphs checked against their declarations.

The front end calls these functions once per declaration, passing the declaration's ``span``
and the ``.lag`` ``source`` so that a mismatch is reported at the declaration, naming the
declaration, the index and both sides (what the declaration expects, what the data has).

Reading order: :func:`load_data` and :func:`apply_overrides` (whole data dicts), then
:func:`coerce_set`, :func:`coerce_param`, :func:`load_graph` and :func:`expand_graph` (one
declaration each).  See ``docs/data.md`` for the accepted formats.

Relative paths inside a data file (GraphML and edge-list files) resolve against the data
file's directory: :func:`data_base_dir` gives that directory, and callers pass it to
:func:`load_graph` as ``base_dir``.
"""
from __future__ import annotations

import difflib
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np

from .._lazy import lazy_import
from ..errors import LagDataError
from ..ir.model import Source, Span
from ..ir.values import ParamValue, SetFamilyValue, SetValue, norm_element
from ..limits import check_graph_generator
from .files import FileScope, check_regular, read_text
from .jsontext import parse_object
from .tables import is_table, table_values

nx = lazy_import("networkx")

__all__ = ["load_data", "data_base_dir", "apply_overrides", "coerce_set", "coerce_param",
           "load_graph", "expand_graph"]

# Names a graph expands into; attributes may not shadow them.
GRAPH_MEMBERS = ("nodes", "edges", "arcs", "neighbors", "successors", "predecessors",
                 "out_edges", "in_edges")
EDGE_LIST_EXTS = (".txt", ".edgelist", ".csv")
GRAPH_DICT_KEYS = ("nodes", "edges", "directed", "weights", "edge_attrs", "node_attrs")
_INT_RE = re.compile(r"-?[0-9]+\Z")
# Python types numpy may cast to float64 without reinterpreting (it would parse strings).
_PLAIN_NUMBER_TYPES = {int, float, bool, type(None)}


# --------------------------------------------------------------------------- small helpers

def _is_number(v) -> bool:
    """True for int, float and numpy numbers (bools count as 0/1, as in numpy)."""
    return isinstance(v, (int, float, np.integer, np.floating, np.bool_))


def _as_float(v) -> float | None:
    """``v`` as a finite float, or None when it has no finite float64 value: ``NaN``,
    ``Infinity``, a JSON number beyond float64 such as ``1e400`` (Python reads it as inf) or
    a 400-digit integer."""
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


_BOUND_HINT = ("data values must be finite float64 numbers (1e400 is beyond them); to leave a "
               "bound out, give null or omit the entry and declare \"default inf\"")


_GRAPH_HINT = "edge and node attributes must be finite numbers (1e400 is beyond float64)"


def _not_finite(what, v, span, source, hint=_BOUND_HINT) -> LagDataError:
    """The error for a data value without a finite float64 value; ``what`` names it."""
    shown = _show(v)
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        text = str(v)
        shown = "%s... (an integer of %d digits)" % (text[:12], len(text.lstrip("-")))
    return _err("%s is %s, not a finite number" % (what, shown), span, source, hint=hint)


def _show(v) -> str:
    """A data value as the user wrote it: JSON where possible (strings in double quotes)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    try:
        text = json.dumps(v)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _show_kind(v) -> str:
    """What kind of JSON value ``v`` is, for messages such as 'data has an object'."""
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "a list"
    if isinstance(v, str):
        return "the string %s" % _show(v)
    return _show(v)


def _err(message, span=None, source=None, hint=None) -> LagDataError:
    return LagDataError(message, span=span, hint=hint, source=source)


def _parse_scalar_text(text: str):
    """A token from a key or an edge-list file: int, then float, else the string itself."""
    if _INT_RE.match(text):
        return int(text)
    try:
        return norm_element(float(text))
    except ValueError:
        return text


# --------------------------------------------------------------------------- JSON data

def _resolve(path, base_dir) -> str:
    path = os.fspath(path)
    if base_dir is not None and not os.path.isabs(path):
        path = os.path.join(os.fspath(base_dir), path)
    return path


def data_base_dir(source, base_dir=None) -> str | None:
    """The directory that relative paths inside the data resolve against.

    For a JSON file that is the file's own directory; for a dict (or None) it is ``base_dir``.
    Pass the result to :func:`load_graph`.
    """
    if source is None or isinstance(source, dict):
        return None if base_dir is None else os.fspath(base_dir)
    return os.path.dirname(os.path.abspath(_resolve(source, base_dir)))


class DataFile(dict):
    """The object of a JSON data file, remembering its text (``source``) so that a later
    error about a key can point at the key."""

    source: Source | None = None


def load_data(source, base_dir=None) -> dict:
    """Load model data.

    ``source`` is None (no data: ``{}``), a dict (returned as a shallow copy) or the path of a
    JSON file holding one object (a relative path resolves against ``base_dir`` when given).
    A syntax error or a key given twice in one object is a :class:`LagDataError` at the JSON
    file's ``line:col``; a missing, special (FIFO, device, directory) or non-UTF-8 file is one
    naming the path.  A file's data is a :class:`DataFile` (its ``source`` kept for
    positions).  Relative paths *inside* the data resolve against the file's directory:
    callers pass :func:`data_base_dir` ``(source, base_dir)`` to :func:`load_graph`.
    """
    if source is None:
        return {}
    if isinstance(source, dict):
        return dict(source)
    path = _resolve(source, base_dir)
    text = _read_text(path, "data file")
    out = DataFile(parse_object(text, path))
    out.source = Source(path, text)
    return out


def _read_text(path: str, what: str, quote: bool = True) -> str:
    """The text of ``path``: a regular UTF-8 file of bounded size (see :mod:`.files`)."""
    return read_text(path, what, quote=quote)


def apply_overrides(data: dict, overrides) -> dict:
    """A copy of ``data`` with ``overrides`` applied.

    ``overrides`` is a dict (values taken as they are) or a list of ``"k=v"`` strings as given
    to ``--set``; each value parses as JSON when it can (``20``, ``2.5``, ``[1, 2]``,
    ``"a"``) and is otherwise kept as a plain string.
    """
    out = dict(data or {})
    if not overrides:
        return out
    if isinstance(overrides, dict):
        out.update(overrides)
        return out
    if isinstance(overrides, str):
        overrides = [overrides]     # a lone "k=v" is a common slip for a one-item list
    for item in overrides:
        key, value = _split_override(item)
        out[key] = value
    return out


def _split_override(item) -> tuple[str, Any]:
    hint = "write --set NAME=VALUE, e.g. --set n=20 or --set w=[1,2,3]"
    if not isinstance(item, str) or "=" not in item:
        raise _err("malformed override %s: expected NAME=VALUE" % _show(item), hint=hint)
    key, text = (s.strip() for s in item.split("=", 1))
    if not key or not text:
        raise _err("malformed override %s: %s is empty" % (_show(item), "the name" if not key
                                                         else "the value"), hint=hint)
    try:
        return key, json.loads(text)
    except json.JSONDecodeError:
        return key, text            # a bare word such as north is a string
    except ValueError:              # an integer beyond Python's 4300-digit conversion limit
        raise _err("override %s: a number too long to read; values must fit a float64"
                   % _show(item), hint=hint) from None


# --------------------------------------------------------------------------- sets

def coerce_set(name, raw, span=None, source=None) -> SetValue:
    """The data of ``set NAME`` as a :class:`SetValue`.

    ``raw`` is a list of scalars (numbers or strings) or of lists/tuples of scalars (tuple
    elements).  Integral floats become ints.  Mixed arities, nested containers, non-scalar
    elements and duplicates are errors naming the set and the offending element.
    """
    if raw is None:
        raise _err("set %s has no elements: give them in the data as a list" % name, span, source)
    if isinstance(raw, (str, bytes, dict)) or not isinstance(raw, (list, tuple, range, np.ndarray)):
        raise _err("set %s expects a list of elements; data has %s" % (name, _show_kind(raw)),
                   span, source, hint='e.g. "%s": ["a", "b"] or [[1, 2], [2, 3]]' % name)
    arr = _int_array(raw)
    if arr is not None:
        return _int_set(name, arr, span, source)
    elems = [_set_element(name, e, span, source) for e in raw]
    _check_arity(name, elems, span, source)
    _check_unique(name, elems, span, source)
    if not elems:
        return SetValue([], 1, None)
    return SetValue.from_elements(elems)


def _int_array(raw):
    """An all-integer 1-d or 2-d list as an int64 array, else None.  Large index sets are
    lists of integers; numpy checks them in bulk instead of element by element."""
    try:
        arr = np.asarray(raw)
    except ValueError:
        return None
    if arr.dtype.kind not in "iu" or arr.ndim not in (1, 2) or arr.size == 0:
        return None
    return arr.astype(np.int64)


def _int_set(name, arr, span, source) -> SetValue:
    """A set of integers (1-d) or integer tuples (2-d), checked for duplicates in bulk."""
    if _has_duplicate_rows(arr):
        elems = arr.tolist() if arr.ndim == 1 else [tuple(r) for r in arr.tolist()]
        _check_unique(name, elems, span, source)     # names the first duplicate
    if arr.ndim == 1:
        return SetValue.from_int_array(arr)
    return SetValue([tuple(r) for r in arr.tolist()], arr.shape[1], None)


def _has_duplicate_rows(arr) -> bool:
    """Whether an int array (1-d, or 2-d by rows) repeats an element: sort and compare
    neighbours (numpy's hash-based unique is several times slower on 10^6 elements)."""
    if arr.ndim == 1:
        s = np.sort(arr)
        return bool(np.any(s[1:] == s[:-1]))
    order = np.lexsort(arr.T[::-1])
    s = arr[order]
    return bool(np.any(np.all(s[1:] == s[:-1], axis=1)))


#: Set elements are held in int64 columns; a number beyond them cannot be an element.
ELEMENT_LIMIT = 2.0 ** 63


def check_element_number(what, v, span=None, source=None) -> None:
    """Refuse a numeric set element without a finite value or beyond int64 (elements are
    held as int64 columns when integral); ``what`` names the element in the message."""
    if not _is_number(v) or isinstance(v, (bool, np.bool_)):
        return
    f = _as_float(v)
    if f is None:
        raise _not_finite(what, v, span, source,
                          "set elements are strings, finite numbers or tuples of them")
    if abs(f) >= ELEMENT_LIMIT:
        raise _err("%s %s is beyond the 64-bit integers (about 9.2e18) a set element can be"
                   % (what, _show(v) if len(str(v)) < 30 else "%s... (%d digits)"
                      % (str(v)[:12], len(str(v)))), span, source,
                   hint="use a string label for such an element")


def _set_element(name, e, span, source):
    """One element, canonical: a scalar or a tuple of scalars."""
    for v in (e if isinstance(e, (list, tuple)) else (e,)):
        check_element_number("set %s: an element" % name, v, span, source)
    if isinstance(e, (list, tuple)):
        if not e or any(not _is_scalar(v) for v in e):
            raise _err("set %s: element %s is not a scalar or a tuple of scalars"
                       % (name, _show(e)), span, source)
        return norm_element(tuple(e))
    if not _is_scalar(e):
        raise _err("set %s: element %s is not a number, a string or a tuple"
                   % (name, _show(e)), span, source)
    return norm_element(e)


def _is_scalar(v) -> bool:
    """Allowed element components: finite numbers and strings (no bools, nulls or NaN)."""
    if isinstance(v, (bool, np.bool_)) or v is None:
        return False
    if isinstance(v, str):
        return True
    return _is_number(v) and _as_float(v) is not None


def _arity(e) -> int:
    return len(e) if isinstance(e, tuple) else 1


def _check_arity(name, elems, span, source):
    if not elems:
        return
    first = elems[0]
    kind0 = (isinstance(first, tuple), _arity(first))
    for e in elems:
        if (isinstance(e, tuple), _arity(e)) != kind0:
            raise _err("set %s: element %s has %d component(s) but the first element %s has %d"
                       % (name, _show(e), _arity(e), _show(first), _arity(first)), span, source,
                       hint="all elements of a set have the same number of components")


def _check_unique(name, elems, span, source):
    if len(set(elems)) == len(elems):
        return
    seen = set()
    for e in elems:
        if e in seen:
            raise _err("set %s: element %s is given twice" % (name, _show(e)), span, source)
        seen.add(e)


# --------------------------------------------------------------------------- params

def _decl(name, index_names) -> str:
    return "param %s[%s]" % (name, ", ".join(index_names)) if index_names else "param %s" % name


def _at(name, sets, pos) -> str:
    """``A[2, "b"]`` for positions ``pos`` (tuple elements are written flat, as in the model)."""
    parts = []
    for s, p in zip(sets, pos):
        e = s.elements[p]
        parts.extend(_show(v) for v in (e if isinstance(e, tuple) else (e,)))
    return "%s[%s]" % (name, ", ".join(parts))


def coerce_param(name, index_names, sets, raw, default=None, span=None, source=None,
                 files=None) -> np.ndarray:
    """The data of ``param NAME[index_names]`` as a dense float64 array.

    The shape is ``tuple(len(s) for s in sets)`` (0-d for a scalar).  ``raw`` is a number
    (scalar param only), a nested list in set order (one level per index set), a dict keyed
    by element (tuple keys joined by ``,``; numeric keys may be strings), objects and lists
    nested and mixed (``{"seattle": {"new-york": 2.5}}``: :class:`_Nested`), or a CSV table
    ``{"file": "dist.csv"}`` found through ``files`` (a :class:`FileScope` or directory, as
    for graph files: :mod:`.tables`).  ``null``, an empty table cell or a missing key means
    "not given" and takes ``default`` (a number or an array broadcastable to the shape); with
    no default it is an error naming the first missing index.
    """
    decl = _decl(name, index_names)
    shape = tuple(len(s) for s in sets)
    if raw is None:
        if default is None:
            raise _err("param %s has no value: give it in the data or declare a default" % name,
                       span, source)
        return np.array(np.broadcast_to(np.asarray(default, dtype=np.float64), shape))
    if is_table(raw):
        arr = table_values(name, decl, index_names, sets, raw, files, span, source)
        try:
            return _fill_missing(name, decl, sets, arr, default, span, source)
        except LagDataError as err:
            err.hint = ("the table %s has no row for it (or an empty value cell); add the row "
                        "or declare a default" % _show(raw["file"]))
            raise
    if not sets:
        arr = _scalar_value(decl, raw, span, source)
    elif isinstance(raw, dict):
        arr = _from_dict(name, decl, index_names, sets, raw, span, source)
    elif isinstance(raw, (list, tuple, np.ndarray)):
        arr = _from_list(name, decl, index_names, sets, raw, span, source)
    else:
        raise _indexed_got_scalar(name, decl, index_names, raw, span, source)
    return _fill_missing(name, decl, sets, arr, default, span, source)


def _scalar_value(decl, raw, span, source) -> np.ndarray:
    if _is_number(raw) and not isinstance(raw, np.ndarray):
        f = _as_float(raw)
        if f is None:
            raise _not_finite("%s: the data value" % decl, raw, span, source)
        return np.array(f)
    raise _err("%s expects a number; data has %s" % (decl, _show_kind(raw)), span, source)


def _indexed_got_scalar(name, decl, index_names, raw, span, source) -> LagDataError:
    hint = None
    if _is_number(raw):
        hint = ('give a list in set order or an object keyed by element, or declare '
                '"param %s[%s] default %s" for a constant' % (name, ", ".join(index_names),
                                                              _show(raw)))
    return _err("%s is indexed over %s; data has %s, not a list or an object"
                % (decl, " x ".join(index_names), _show_kind(raw)), span, source, hint)


def _fill_missing(name, decl, sets, arr, default, span, source) -> np.ndarray:
    """Replace NaN (null, or a key not given) by ``default``; without one, report the first."""
    missing = np.isnan(arr)
    if not missing.any():
        return arr
    if default is None:
        first = np.unravel_index(int(np.argmax(missing)), arr.shape)
        where = _at(name, sets, first) if sets else name
        raise _err("%s: no value for %s and no default" % (decl, where), span, source,
                   hint="give it in the data or declare a default")
    return np.where(missing, np.broadcast_to(np.asarray(default, dtype=np.float64), arr.shape), arr)


def _from_list(name, decl, index_names, sets, raw, span, source) -> np.ndarray:
    """Nested lists in set order.  The common case (a well-formed numeric array) is one
    ``np.asarray``; anything else takes the slow walk, which finds the first problem."""
    shape = tuple(len(s) for s in sets)
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError, OverflowError):  # ragged nesting
        arr = None
    if arr is not None and arr.dtype.kind in "biuf" and arr.shape == shape:
        out = arr.astype(np.float64)
        _check_finite(name, decl, sets, out, np.zeros(shape, dtype=bool), raw, span, source)
        return out
    if arr is not None and arr.dtype == object and arr.shape == shape \
            and set(map(type, arr.flat)) <= _PLAIN_NUMBER_TYPES:
        try:
            out = arr.astype(np.float64)    # numbers with nulls: None becomes NaN (missing)
        except OverflowError:               # an integer beyond float64: the walk names it
            out = None
        if out is not None:
            _check_finite(name, decl, sets, out, np.equal(arr, None), raw, span, source)
            return out
    # ragged, with nulls or non-numbers, or with objects inside: the walk finds the problem
    return _Nested(name, decl, index_names, sets, span, source).fill(raw)


def _check_finite(name, decl, sets, arr, missing, raw, span, source) -> None:
    """Refuse NaN and infinities among the given (not missing) values of ``arr``."""
    bad = ~np.isfinite(arr) & ~missing
    if bad.any():
        pos = np.unravel_index(int(np.argmax(bad)), arr.shape)
        raise _not_finite("%s: %s" % (decl, _at(name, sets, pos)), arr[pos].item(), span, source)


def _plain(x):
    return x.tolist() if isinstance(x, np.ndarray) else list(x)


def _row(name, sets, pos) -> str:
    """``A[2, :]``: the part of the data at a partial index."""
    if not pos:
        return "for %s" % name
    rest = ", ".join(":" for _ in range(len(sets) - len(pos)))
    return _at(name, sets, pos)[:-1] + ", " + rest + "]"


def _length_message(name, decl, index_names, sets, pos, got) -> str:
    axis = index_names[len(pos)]
    n = len(sets[len(pos)])
    if not pos:
        what = "rows" if len(sets) > 1 else "entries"
        return "%s: data has %d %s but %s has %d elements" % (decl, got, what, axis, n)
    return "%s: data row %s has %d entries but %s has %d elements" % (
        decl, _row(name, sets, pos), got, axis, n)


def _shape_hint(name, index_names, sets) -> str:
    if len(sets) == 1:
        return "give one entry per element of %s, in set order" % index_names[0]
    dims = " x ".join("%d (%s)" % (len(s), n) for s, n in zip(sets, index_names))
    return ("give nested lists, one level per index set: %s; or an object keyed by element, "
            'e.g. {"1,2": 3.0}' % dims)


def _from_dict(name, decl, index_names, sets, raw, span, source) -> np.ndarray:
    """Objects keyed by element, nested or not, mixed freely with lists: see :class:`_Nested`."""
    return _Nested(name, decl, index_names, sets, span, source).fill(raw)


class _Nested:
    """Nested data for a param: at each level an object keyed by element or a list in set
    order.  An object's key names the elements of one or more index sets (``"seattle"``,
    or joined by ``,``: ``"seattle,new-york"``); a number (or null) under a key needs the
    key to name all the remaining ones, an object or a list names the rest.  A position given
    twice, by whichever route, is an error, as is a key that is no element."""

    def __init__(self, name, decl, index_names, sets, span, source):
        self.name, self.decl, self.index_names, self.sets = name, decl, index_names, sets
        self.span, self.source = span, source
        self.lookups = [_KeyLookup(s) for s in sets]
        shape = tuple(len(s) for s in sets)
        self.arr = np.full(shape, np.nan)
        self.given = np.zeros(shape, dtype=bool)

    def fill(self, raw) -> np.ndarray:
        """The dense array (NaN where not given) of ``raw``."""
        stack = [(raw, (), None)]   # an explicit stack: one level per index set at most
        while stack:
            x, pos, key = stack.pop()
            if len(pos) == len(self.sets):
                self.leaf(x, pos, key)
            elif isinstance(x, dict):
                for key, value in reversed(list(x.items())):
                    stack.append(self.entry(key, value, pos))
            elif isinstance(x, (list, tuple, np.ndarray)):
                self.check_length(x, pos)
                stack.extend((item, pos + (k,), None) for k, item in reversed(list(enumerate(x))))
            else:
                raise _err("%s: data %s is %s; expected a list of %d entries, one per element of "
                           "%s" % (self.decl, _row(self.name, self.sets, pos), _show_kind(x),
                                   len(self.sets[len(pos)]), self.index_names[len(pos)]),
                           self.span, self.source, hint="or an object keyed by the elements of %s"
                           % self.index_names[len(pos)])
        return self.arr

    def entry(self, key, value, pos) -> tuple:
        """``(value, position reached)`` of one key of an object at ``pos``."""
        depth = len(pos)
        if not isinstance(value, (dict, list, tuple, np.ndarray)):
            # a number or null: the key names every remaining index (the joined form)
            rest = _key_position(self.decl, self.index_names[depth:], self.lookups[depth:],
                                 key, self.span, self.source, self.where(pos))
            return value, pos + rest, key
        # an object or a list below: the key names one index set (the whole key first, so
        # that an element may hold a comma), else as many as its components fill
        whole = self.lookups[depth].find([key] if self.lookups[depth].arity == 1 else
                                         _key_parts(key, self.lookups[depth].arity))
        if whole is not None and depth + 1 < len(self.sets):
            return value, pos + (whole,), None
        parts = _key_parts(key, 2)
        covered, n = 0, 0
        while depth + n < len(self.sets) - 1 and covered < len(parts):
            covered += self.lookups[depth + n].arity
            n += 1
        if n and covered == len(parts):
            return value, pos + _key_position(
                self.decl, self.index_names[depth:depth + n], self.lookups[depth:depth + n], key,
                self.span, self.source, self.where(pos)), None
        if depth + 1 == len(self.sets):
            raise _err("%s expects a number at %s; data has %s"
                       % (self.decl, self.at_key(pos, key), _show_kind(value)), self.span, self.source)
        raise _err("%s: data key %s%s is not an element of %s"
                   % (self.decl, _show(key), self.where(pos), self.index_names[depth]),
                   self.span, self.source)

    def at_key(self, pos, key) -> str:
        pos_key = self.lookups[len(pos)].find([key])
        return _at(self.name, self.sets, pos + (pos_key,)) if pos_key is not None else \
            "key %s" % _show(key)

    def where(self, pos) -> str:
        """`` (under dist["seattle", :])`` for a key inside a nested object."""
        return " (under %s)" % _row(self.name, self.sets, pos) if pos else ""

    def check_length(self, x, pos) -> None:
        if len(x) != len(self.sets[len(pos)]):
            raise _err(_length_message(self.name, self.decl, self.index_names, self.sets, pos,
                                       len(x)), self.span, self.source,
                       hint=_shape_hint(self.name, self.index_names, self.sets))

    def leaf(self, value, pos, key) -> None:
        if self.given[pos]:
            raise _err("%s: data gives %s twice%s" % (self.decl, _at(self.name, self.sets, pos),
                                                     " (key %s)" % _show(key) if key is not None else ""),
                       self.span, self.source)
        self.given[pos] = True
        if value is None:
            return                                  # null: not given
        if isinstance(value, (list, tuple, np.ndarray)):
            raise _err("%s expects a number at %s; data has a list %s (more nesting than the "
                       "%d index set(s))" % (self.decl, _at(self.name, self.sets, pos),
                                             _show(_plain(value)), len(self.sets)),
                       self.span, self.source)
        if not _is_number(value):
            raise _err("%s expects a number at %s; data has %s"
                       % (self.decl, _at(self.name, self.sets, pos), _show_kind(value)),
                       self.span, self.source)
        f = _as_float(value)
        if f is None:
            raise _not_finite("%s: %s" % (self.decl, _at(self.name, self.sets, pos)), value,
                              self.span, self.source)
        self.arr[pos] = f


class _KeyLookup:
    """Position of an element of one set from key components (strings from JSON, or Python
    values).  A string that is not an element itself may name a numeric element: "3" -> 3."""

    def __init__(self, s: SetValue):
        self.index = s.index()
        self.is_tuple = bool(s.elements) and isinstance(s.elements[0], tuple)
        self.arity = s.arity if self.is_tuple else 1

    def find(self, parts) -> int | None:
        if any(not _is_scalar(p) for p in parts):
            return None
        exact = tuple(norm_element(p) for p in parts)
        numeric = tuple(_parse_scalar_text(p) if isinstance(p, str) else p for p in exact)
        for cand in (exact, numeric):
            pos = self.index.get(cand if self.is_tuple else cand[0])
            if pos is not None:
                return pos
        return None


def _key_parts(key, total: int) -> list:
    """Split a key into components: ``"1,2"``, ``(1, 2)``, ``((1, 2), 3)`` or ``3``."""
    if isinstance(key, str):
        return [key] if total == 1 else [p.strip() for p in key.split(",")]
    if isinstance(key, tuple):
        parts: list = []
        for k in key:
            parts.extend(k if isinstance(k, tuple) else (k,))
        return parts
    return [key]


def _key_position(decl, index_names, lookups, key, span, source, where="") -> tuple:
    total = sum(lk.arity for lk in lookups)
    parts = _key_parts(key, total)
    if len(parts) != total:
        raise _err("%s: data key %s%s has %d component(s) but the index has %d"
                   % (decl, _show(key), where, len(parts), total), span, source,
                   hint='join the components of a key with ",", e.g. "%s"'
                   % ",".join(str(k + 1) for k in range(total)))
    pos, k = [], 0
    for lk, set_name in zip(lookups, index_names):
        comp = parts[k:k + lk.arity]
        p = lk.find(comp)
        if p is None:
            what = "" if total == 1 else ": %s" % (_show(comp[0]) if len(comp) == 1
                                                   else _show(tuple(comp)))
            raise _err("%s: data key %s%s%s is not an element of %s"
                       % (decl, _show(key), what, where, set_name), span, source,
                       hint=_close_element(comp, lk))
        pos.append(p)
        k += lk.arity
    return tuple(pos)


def _close_element(comp, lookup) -> str | None:
    """``did you mean "seattle"?`` for a misspelt string key of a set of modest size."""
    if len(comp) != 1 or not isinstance(comp[0], str) or len(lookup.index) > 10000:
        return None
    labels = [e for e in lookup.index if isinstance(e, str)]
    close = difflib.get_close_matches(comp[0], labels, n=1, cutoff=0.7)
    return "did you mean %s?" % _show(close[0]) if close else None


# --------------------------------------------------------------------------- graphs: loading

def load_graph(name, raw, base_dir=None, span=None, source=None) -> nx.Graph:
    """The data of ``graph NAME`` as a networkx graph.

    ``raw`` is a networkx graph (returned as is); a dict ``{"nodes", "edges", "directed",
    "weights", "edge_attrs", "node_attrs"}``; a path (resolved against ``base_dir``) to a
    GraphML or edge-list file, or ``{"file": path, "directed": bool}``; or a generator spec
    ``{"generator": "gnp_random_graph", "n": 12, "p": 0.3, "seed": 7}`` calling a function of
    ``networkx.generators`` with the other keys as keyword arguments.
    """
    if isinstance(raw, nx.Graph):
        return raw
    if raw is None:
        raise _err("graph %s has no value: give it in the data" % name, span, source,
                   hint='e.g. "%s": {"edges": [[0, 1], [1, 2]]}' % name)
    if isinstance(raw, (str, os.PathLike)):
        return _graph_file(name, raw, base_dir, None, span, source)
    if isinstance(raw, dict) and "generator" in raw:
        return _graph_generator(name, raw, span, source)
    if isinstance(raw, dict) and "file" in raw:
        if not isinstance(raw["file"], str):
            raise _err("graph %s: \"file\" must be a path (a string), data has %s"
                       % (name, _show_kind(raw["file"])), span, source)
        return _graph_file(name, raw["file"], base_dir, raw.get("directed"), span, source)
    if isinstance(raw, dict):
        return _graph_dict(name, raw, span, source)
    raise _err("graph %s expects an object with \"edges\", a file path or a generator spec; "
               "data has %s" % (name, _show_kind(raw)), span, source)


def _graph_generator(name, raw, span, source) -> nx.Graph:
    gen = raw["generator"]
    kwargs = {k: v for k, v in raw.items() if k != "generator"}
    func = _generator_function(name, gen, span, source)
    check_graph_generator(name, gen, kwargs, span, source)
    try:
        G = func(**kwargs)
    except Exception as e:  # noqa: BLE001 - any failure of the generator is the user's arguments
        raise _err("graph %s: generator %s failed with arguments %s: %s"
                   % (name, gen, _show(kwargs), e), span, source) from None
    if not isinstance(G, nx.Graph):
        raise _err("graph %s: generator %s does not return a graph" % (name, gen), span, source)
    # Lattice generators label nodes by tuples, which a set of scalars cannot hold.
    if any(not _is_scalar(v) for v in G.nodes):
        G = nx.convert_node_labels_to_integers(G)
    return G


def _generator_names() -> list[str]:
    return sorted(n for n in dir(nx.generators) if not n.startswith("_")
                  and _is_generator(getattr(nx.generators, n, None)))


def _is_generator(obj) -> bool:
    # Only functions defined in networkx.generators: nothing else in networkx is callable here.
    return callable(obj) and str(getattr(obj, "__module__", "")).startswith("networkx.generators")


def _generator_function(name, gen, span, source):
    func = getattr(nx.generators, gen, None) if isinstance(gen, str) and not gen.startswith("_") else None
    if func is not None and _is_generator(func):
        return func
    close = difflib.get_close_matches(str(gen), _generator_names(), n=5)
    hint = ("did you mean %s?" % ", ".join(close)) if close else \
        "see the functions of networkx.generators, e.g. gnp_random_graph, grid_2d_graph"
    raise _err("graph %s: unknown generator %s" % (name, _show(gen)), span, source, hint=hint)


def _graph_file(name, path, base_dir, directed, span, source) -> nx.Graph:
    full = FileScope.of(base_dir).resolve(path, "graph %s" % name, span, source)
    check_regular(full, "graph file")
    ext = os.path.splitext(full)[1].lower()
    if ext == ".graphml":
        G = _read_graphml(name, full)
    elif ext in EDGE_LIST_EXTS:
        G = _read_edge_list(name, full, bool(directed))
    else:
        raise _err("graph %s: cannot read %s: unknown file type %s" % (name, full, _show(ext)),
                   span, source, hint="use .graphml, or an edge list: %s" % ", ".join(EDGE_LIST_EXTS))
    return G


def _read_graphml(name, path) -> nx.Graph:
    """A GraphML file; it says itself whether it is directed."""
    # A file named inside data may be anything the user let it reach: messages give its
    # line:col and the offending token, never its lines.
    text = _read_text(path, "graph file", quote=False)
    try:
        G = nx.parse_graphml(text)
    except ET.ParseError as e:
        line, col = getattr(e, "position", (1, 0))
        raise _err("graph %s: invalid GraphML: %s" % (name, str(e).split(":")[0]),
                   Span(path, line, col + 1)) from None
    except (nx.NetworkXError, ValueError, KeyError) as e:
        raise _err("graph %s: invalid GraphML in %s: %s" % (name, path, e)) from None
    return _int_labels(G)


def _int_labels(G) -> nx.Graph:
    """GraphML labels are strings; canonical integer strings ("3", not "03") become ints."""
    mapping = {v: int(v) for v in G.nodes if isinstance(v, str) and _INT_RE.match(v)
               and str(int(v)) == v}
    return nx.relabel_nodes(G, mapping, copy=True) if mapping else G


def _read_edge_list(name, path, directed) -> nx.Graph:
    """``u v [weight]`` per line, whitespace or comma separated; ``#`` starts a comment.  A
    first line whose third column is not a number is a header naming that attribute."""
    text = _read_text(path, "graph file", quote=False)
    src = None          # never quote lines of a file named inside data (see _read_graphml)
    G = nx.DiGraph() if directed else nx.Graph()
    attr, with_weight = "weight", None
    for lineno, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        toks = [t for t in re.split(r"[,\s]+", body) if t]
        if with_weight is None and len(toks) == 3 and not _is_number(_parse_scalar_text(toks[2])):
            attr, with_weight = toks[2], True       # header line: u,v,cap
            continue
        _edge_list_line(name, G, toks, attr, with_weight, Span(path, lineno, 1), src)
        with_weight = len(toks) == 3
    return G


def _edge_list_line(name, G, toks, attr, with_weight, span, src):
    if len(toks) not in (2, 3):
        raise _err("graph %s: expected \"u v\" or \"u v weight\", got %d columns"
                   % (name, len(toks)), span, src)
    if with_weight is not None and with_weight != (len(toks) == 3):
        raise _err("graph %s: this line has %d columns but the lines before have %d"
                   % (name, len(toks), 3 if with_weight else 2), span, src,
                   hint="give %s on every edge or on none" % attr)
    u, v = (_parse_scalar_text(t) for t in toks[:2])
    if G.has_edge(u, v):
        raise _err("graph %s: edge %s is given twice" % (name, _show((u, v))), span, src)
    attrs = {}
    if len(toks) == 3:
        w = _parse_scalar_text(toks[2])
        if not _is_number(w):
            raise _err("graph %s: %s of edge %s must be a number; the file has %s"
                       % (name, attr, _show((u, v)), _show(toks[2])), span, src)
        if _as_float(w) is None:
            raise _not_finite("graph %s: %s of edge %s" % (name, attr, _show((u, v))),
                              w, span, src, _GRAPH_HINT)
        attrs[attr] = float(w)
    G.add_edge(u, v, **attrs)


def _graph_dict(name, raw, span, source) -> nx.Graph:
    unknown = [k for k in raw if k not in GRAPH_DICT_KEYS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), GRAPH_DICT_KEYS, n=1)
        raise _err("graph %s: unknown key %s" % (name, _show(unknown[0])), span, source,
                   hint=("did you mean %s? " % _show(close[0]) if close else "") +
                   "keys: %s (or \"generator\", \"file\")" % ", ".join(GRAPH_DICT_KEYS))
    edges = _dict_edges(name, raw.get("edges", []), span, source)
    nodes = _dict_nodes(name, raw, edges, span, source)
    directed = raw.get("directed", False)
    if not isinstance(directed, bool):
        raise _err("graph %s: \"directed\" must be true or false; data has %s"
                   % (name, _show_kind(directed)), span, source)
    G = nx.DiGraph() if directed else nx.Graph()
    G.add_nodes_from(nodes)
    for e, u_v in enumerate(edges):
        if G.has_edge(*u_v):
            raise _err("graph %s: edge %s is given twice (edges[%d])" % (name, _show(u_v), e),
                       span, source)
        G.add_edge(*u_v)
    for attr, values in _dict_edge_attrs(name, raw, len(edges), span, source).items():
        for u_v, val in zip(edges, values):
            if val is not None:
                G.edges[u_v][attr] = val
    _set_node_attrs(name, G, raw.get("node_attrs") or {}, nodes, span, source)
    return G


def _graph_node(name, v, where, span, source):
    if not _is_scalar(v):
        raise _err("graph %s: node %s in %s is not a number or a string" % (name, _show(v), where),
                   span, source)
    return norm_element(v)


def _dict_edges(name, edges, span, source) -> list[tuple]:
    if not isinstance(edges, (list, tuple)):
        raise _err("graph %s: \"edges\" must be a list of [u, v] pairs; data has %s"
                   % (name, _show_kind(edges)), span, source)
    out = []
    for k, e in enumerate(edges):
        if not isinstance(e, (list, tuple)) or len(e) != 2:
            raise _err("graph %s: edges[%d] is %s; expected a pair [u, v]" % (name, k, _show(e)),
                       span, source, hint='give weights separately: "weights": [...]')
        out.append(tuple(_graph_node(name, v, "edges[%d]" % k, span, source) for v in e))
    return out


def _dict_nodes(name, raw, edges, span, source) -> list:
    if "nodes" not in raw:
        # First-seen order along the edges.
        return list(dict.fromkeys(v for e in edges for v in e))
    if not isinstance(raw["nodes"], (list, tuple)):
        raise _err("graph %s: \"nodes\" must be a list; data has %s" % (name, _show_kind(raw["nodes"])),
                   span, source)
    nodes = [_graph_node(name, v, "nodes", span, source) for v in raw["nodes"]]
    _check_unique("%s.nodes" % name, nodes, span, source)
    known = set(nodes)
    for k, e in enumerate(edges):
        for v in e:
            if v not in known:
                raise _err("graph %s: edges[%d] %s uses node %s, which is not in \"nodes\""
                           % (name, k, _show(e), _show(v)), span, source)
    return nodes


def _dict_edge_attrs(name, raw, n_edges, span, source) -> dict:
    attrs = dict(raw.get("edge_attrs") or {})
    if not isinstance(attrs, dict):
        raise _err("graph %s: \"edge_attrs\" must be an object {attr: [values]}" % name, span, source)
    if "weights" in raw:
        if "weight" in attrs:
            raise _err("graph %s: weights given twice, in \"weights\" and \"edge_attrs\"" % name,
                       span, source)
        attrs = {"weight": raw["weights"], **attrs}
    for attr, values in attrs.items():
        label = "weights" if attr == "weight" and "weights" in raw else "edge_attrs.%s" % attr
        if not isinstance(values, (list, tuple)) or len(values) != n_edges:
            raise _err("graph %s: %s has %s but there are %d edges" % (
                name, label, ("%d values" % len(values)) if isinstance(values, (list, tuple))
                else _show_kind(values), n_edges), span, source,
                hint="give one value per edge, in the order of \"edges\"")
        for k, val in enumerate(values):
            _check_attr_number(name, "%s[%d]" % (label, k), val, span, source)
    return attrs


def _check_attr_number(name, where, val, span, source):
    if val is not None and (not _is_number(val) or isinstance(val, np.ndarray)):
        raise _err("graph %s: %s must be a number; data has %s" % (name, where, _show_kind(val)),
                   span, source)
    if val is not None and _as_float(val) is None:
        raise _not_finite("graph %s: %s" % (name, where), val, span, source, _GRAPH_HINT)


def _set_node_attrs(name, G, node_attrs, nodes, span, source):
    if not isinstance(node_attrs, dict):
        raise _err("graph %s: \"node_attrs\" must be an object {attr: values}" % name, span, source)
    for attr, values in node_attrs.items():
        label = "node_attrs.%s" % attr
        if isinstance(values, dict):
            pairs = [(_node_key(name, G, label, k, span, source), v) for k, v in values.items()]
        elif isinstance(values, (list, tuple)) and len(values) == len(nodes):
            pairs = list(zip(nodes, values))
        else:
            raise _err("graph %s: %s has %s but there are %d nodes" % (
                name, label, ("%d values" % len(values)) if isinstance(values, (list, tuple))
                else _show_kind(values), len(nodes)), span, source,
                hint="give one value per node in node order, or an object {node: value}")
        for v, val in pairs:
            _check_attr_number(name, "%s[%s]" % (label, _show(v)), val, span, source)
            if val is not None:
                G.nodes[v][attr] = val


def _node_key(name, G, label, key, span, source):
    """A node from an object key: JSON keys are strings, so "3" names node 3."""
    for cand in (key, _parse_scalar_text(key) if isinstance(key, str) else key):
        if _is_scalar(cand) and norm_element(cand) in G:
            return norm_element(cand)
    raise _err("graph %s: %s names node %s, which is not in the graph" % (name, label, _show(key)),
               span, source)


# --------------------------------------------------------------------------- graphs: expansion

def expand_graph(name, G) -> tuple[dict, dict, dict]:
    """Expand graph ``NAME`` into the sets, parameters and set families a model sees.

    Sets ``NAME.nodes`` (G's node order), ``NAME.edges`` (undirected: each edge once as
    ``(u, v)`` in ``G.edges`` order; directed: the arcs) and ``NAME.arcs`` (undirected: ``(u,
    v)`` then ``(v, u)`` for each edge, a self-loop once; directed: the arcs).  Parameters
    ``NAME.<attr>`` (:class:`ParamValue`) for each numeric edge attribute, over
    ``("NAME.arcs",)``, and each numeric node attribute, over ``("NAME.nodes",)``.  Family
    ``NAME.neighbors`` (successors for a directed graph).  Raises :class:`LagDataError` for
    multigraphs, non-scalar node labels, an attribute missing on some edges or nodes, and
    attribute names that collide with the members above.
    """
    if G.is_multigraph():
        raise _err("graph %s: multigraphs (parallel edges) are not supported" % name,
                   hint="collapse parallel edges, e.g. nx.Graph(G) or nx.DiGraph(G)")
    node_list = _expand_nodes(name, G)
    norm = dict(zip(G.nodes, node_list))
    edge_list = [(norm[u], norm[v]) for u, v in G.edges]
    arcs = _arcs(edge_list, G.is_directed())
    sets = {name + ".nodes": _set_or_empty(node_list, 1), name + ".edges": _set_or_empty(edge_list, 2),
            name + ".arcs": _set_or_empty(arcs, 2)}
    params = {}
    edge_attrs = _numeric_attrs(name, "edge", list(G.edges), [d for _, _, d in G.edges(data=True)])
    for attr, vals in edge_attrs.items():
        vals = vals if G.is_directed() else _per_arc(vals, edge_list)
        params[name + "." + attr] = ParamValue((name + ".arcs",), vals)
    node_attrs = _numeric_attrs(name, "node", list(G.nodes), [d for _, d in G.nodes(data=True)])
    for attr, vals in node_attrs.items():
        if attr in edge_attrs:
            raise _err("graph %s: %s is both a node and an edge attribute" % (name, _show(attr)))
        params[name + "." + attr] = ParamValue((name + ".nodes",), vals)
    neighbors = [_set_or_empty([norm[w] for w in G.neighbors(v)], 1) for v in G.nodes]
    nodes = sets[name + ".nodes"]
    families = {name + ".neighbors": SetFamilyValue(nodes, neighbors)}
    if G.is_directed():
        families.update(_directed_families(name, G, norm, nodes, neighbors))
    return sets, params, families


#: The set families of a directed graph only: on an undirected graph "successor" and "in
#: edge" have no meaning, and a model using them most likely forgot "directed": true.
DIRECTED_MEMBERS = ("successors", "predecessors", "out_edges", "in_edges")


def _directed_families(name, G, norm, nodes, successors) -> dict:
    """``NAME.successors(v)`` (= ``neighbors``), ``NAME.predecessors(v)``, and the arcs
    leaving and entering ``v``, ``NAME.out_edges(v)`` = {(v, w)}, ``NAME.in_edges(v)`` =
    {(u, v)}, each in the graph's own order."""
    preds = [_set_or_empty([norm[u] for u in G.predecessors(v)], 1) for v in G.nodes]
    outs = [_set_or_empty([(norm[v], norm[w]) for w in G.successors(v)], 2) for v in G.nodes]
    ins = [_set_or_empty([(norm[u], norm[v]) for u in G.predecessors(v)], 2) for v in G.nodes]
    return {name + ".successors": SetFamilyValue(nodes, successors),
            name + ".predecessors": SetFamilyValue(nodes, preds),
            name + ".out_edges": SetFamilyValue(nodes, outs),
            name + ".in_edges": SetFamilyValue(nodes, ins)}


def _set_or_empty(elements, arity) -> SetValue:
    return SetValue.from_elements(elements) if elements else SetValue([], arity, None)


def _expand_nodes(name, G) -> list:
    nodes = []
    for v in G.nodes:
        if not _is_scalar(v):
            raise _err("graph %s: node %s is not a number or a string" % (name, _show(v)),
                       hint="relabel the nodes, e.g. nx.convert_node_labels_to_integers(G)")
        nodes.append(norm_element(v))
    _check_unique("%s.nodes" % name, nodes, None, None)
    return nodes


def _arcs(edge_list, directed) -> list:
    if directed:
        return list(edge_list)
    out = []
    for u, v in edge_list:
        out.append((u, v))
        if u != v:
            out.append((v, u))
    return out


def _per_arc(vals, edge_list) -> np.ndarray:
    """Edge values repeated for both directions, as laid out by :func:`_arcs`."""
    reps = np.array([1 if u == v else 2 for u, v in edge_list], dtype=np.int64)
    return np.repeat(vals, reps)


def _numeric_attrs(name, what, items, dicts) -> dict[str, np.ndarray]:
    """Attribute -> float64 array aligned with ``items``.

    An attribute is exposed when some value is a number (labels such as GraphML ids or
    ``pos`` tuples are not); then every item must have a number.  Names that are not
    identifiers cannot be written in a model, so they are skipped.
    """
    names = list(dict.fromkeys(k for d in dicts for k in d))
    out = {}
    for attr in names:
        if not isinstance(attr, str) or not attr.isidentifier():
            continue
        if not any(_is_number(d.get(attr)) for d in dicts):
            continue
        if attr in GRAPH_MEMBERS:
            raise _err("graph %s: %s attribute %s collides with %s.%s"
                       % (name, what, _show(attr), name, attr),
                       hint="rename the attribute; %s are reserved" % ", ".join(GRAPH_MEMBERS))
        out[attr] = _attr_column(name, what, attr, items, dicts)
    return out


def _attr_column(name, what, attr, items, dicts) -> np.ndarray:
    vals = np.empty(len(items), dtype=np.float64)
    for k, (item, d) in enumerate(zip(items, dicts)):
        val = d.get(attr)
        if val is None:
            raise _err("graph %s: %s %s has no %s attribute but other %ss do"
                       % (name, what, _show(item), _show(attr), what),
                       hint="give %s on every %s" % (attr, what))
        if not _is_number(val):
            raise _err("graph %s: %s attribute %s of %s must be a number; data has %s"
                       % (name, what, _show(attr), _show(item), _show_kind(val)))
        if _as_float(val) is None:
            raise _not_finite("graph %s: %s attribute %s of %s" % (name, what, _show(attr),
                                                                  _show(item)), val, None, None,
                              _GRAPH_HINT)
        vals[k] = float(val)
    return vals

