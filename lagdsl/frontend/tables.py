"""Parameter values from CSV tables named in the data: ``"dist": {"file": "dist.csv"}``.

A table has a header row naming its columns; every other row gives one entry: the index
columns hold the elements (one column per component, in the declaration's order) and the
value column the number.  By default the index columns are the first ones and the value
column the one after them; ``"value": COLUMN`` picks the value column by name and ``"index":
[COLUMN, ...]`` the index columns, so one table may feed several params.

The file is found like a graph file (:class:`~lagdsl.frontend.files.FileScope`: the data
file's directory, or one the user allowed) and read as untrusted input
(:func:`~lagdsl.frontend.files.read_text`, which records it so that no output overwrites it).
Every mistake -- an element that is not in its set, an entry given twice, a value that is not
a finite number, a row of the wrong length -- is a data error at the table's
``file:line:col`` naming the cell, never quoting more of the file than the cell.
"""
from __future__ import annotations

import csv
import io
import os

import numpy as np

from ..errors import LagDataError
from ..ir.model import Span
from .files import FileScope, read_text

#: The keys of a table reference; an object with a string "file" and no other keys.
TABLE_KEYS = ("file", "value", "index")
TABLE_EXTS = (".csv",)


def is_table(raw) -> bool:
    """Whether the data ``raw`` of a param names a table: ``{"file": "dist.csv", ...}``."""
    return isinstance(raw, dict) and isinstance(raw.get("file"), str) and set(raw) <= set(TABLE_KEYS)


def table_values(name: str, decl: str, index_names, sets, raw: dict, files, span=None,
                 source=None) -> np.ndarray:
    """The dense values of param ``name`` from the table ``raw`` names (NaN where the table
    has no row or an empty value cell: "not given", as a JSON null)."""
    from .data import _KeyLookup, _at, _close_element, _show    # data.py calls this module
    if not sets:
        raise LagDataError("%s is a scalar; a table gives indexed params" % decl, span,
                           'give the number itself: "%s": 3.5' % name, source)
    path = FileScope.of(files).resolve(raw["file"], "param %s" % name, span, source)
    ext = os.path.splitext(path)[1].lower()
    if ext not in TABLE_EXTS:
        raise LagDataError("param %s: cannot read %s: unknown table type %s" % (name, path, _show(ext)),
                           span, "a table is a .csv file with a header row", source)
    text = read_text(path, "table file", quote=False)
    reader = csv.reader(io.StringIO(text, newline=""))
    lookups = [_KeyLookup(s) for s in sets]
    arity = sum(lk.arity for lk in lookups)
    header, index_cols, value_col = None, None, None
    shape = tuple(len(s) for s in sets)
    arr = np.full(shape, np.nan)
    first_line = np.zeros(shape, dtype=np.int64)
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            cells = [c.strip() for c in row]
            if header is None:
                header = cells
                index_cols, value_col = _columns(name, header, raw, arity, path, line)
                continue
            if len(cells) != len(header):
                raise LagDataError("param %s: table row has %d cells but the header has %d"
                                   % (name, len(cells), len(header)), Span(path, line, 1))
            pos, k = [], 0
            for lk, set_name in zip(lookups, index_names):
                cols = index_cols[k:k + lk.arity]
                p = lk.find([cells[c] for c in cols])
                if p is None:
                    shown = ", ".join(_show(cells[c]) for c in cols)
                    raise LagDataError("param %s: %s in column %s is not an element of %s"
                                       % (name, shown, _show(header[cols[0]]), set_name),
                                       _cell(path, line, row, cols[0]),
                                       _close_element([cells[c] for c in cols], lk))
                pos.append(p)
                k += lk.arity
            pos = tuple(pos)
            if first_line[pos]:
                raise LagDataError("param %s: the table gives %s twice (first at line %d)"
                                   % (name, _at(name, sets, pos), first_line[pos]),
                                   _cell(path, line, row, index_cols[0]))
            first_line[pos] = line
            arr[pos] = _number(name, cells[value_col], path, line, row, value_col, header)
    except csv.Error as e:
        raise LagDataError("param %s: invalid CSV: %s" % (name, e), Span(path, reader.line_num, 1)) from None
    if header is None:
        raise LagDataError("param %s: table %s is empty; it needs a header row" % (name, path),
                           span, None, source)
    return arr


def _columns(name: str, header: list, raw: dict, arity: int, path: str, line: int):
    """The index columns and the value column of a table, from its header and the
    reference's optional ``"index"`` and ``"value"``."""
    from .data import _show

    def column(c) -> int:
        if not isinstance(c, str) or c not in header:
            raise LagDataError("param %s: the table has no column %s (its columns: %s)"
                               % (name, _show(c), ", ".join(header)), Span(path, line, 1))
        return header.index(c)
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise LagDataError("param %s: the table's header names column %s twice" % (name, _show(dupes[0])),
                           Span(path, line, 1))
    value = raw.get("value")
    index = raw.get("index")
    if index is not None:
        if not isinstance(index, list) or len(index) != arity:
            raise LagDataError("param %s: \"index\" must list %d column name(s), one per index "
                               "component" % (name, arity), Span(path, line, 1))
        index_cols = [column(c) for c in index]
    if value is not None:
        value_col = column(value)
    elif len(header) == arity + 1:
        value_col = arity if index is None else next(k for k in range(len(header)) if k not in index_cols)
    else:
        raise LagDataError("param %s: the table has %d columns (%s); a param with %d index "
                           "component(s) reads %d index columns and one value column"
                           % (name, len(header), ", ".join(header), arity, arity),
                           Span(path, line, 1),
                           'name the value column: {"file": ..., "value": "%s"}' % header[-1])
    if index is None:
        index_cols = [k for k in range(len(header)) if k != value_col][:arity]
        if len(index_cols) < arity:
            raise LagDataError("param %s: the table has %d columns; a param with %d index "
                               "component(s) needs %d index columns and a value column"
                               % (name, len(header), arity, arity), Span(path, line, 1))
    if value_col in index_cols:
        raise LagDataError("param %s: column %s is both an index and the value" % (name, _show(header[value_col])),
                           Span(path, line, 1))
    return index_cols, value_col


def _cell(path: str, line: int, row: list, k: int) -> Span:
    """The position of cell ``k`` of ``row`` (exact for unquoted cells)."""
    col = 1 + sum(len(c) + 1 for c in row[:k])
    return Span(path, line, col, line, col + len(row[k]))


def _number(name: str, text: str, path: str, line: int, row: list, k: int, header: list) -> float:
    """A value cell: empty is "not given" (NaN), else a finite float."""
    if text == "":
        return np.nan
    try:
        v = float(text)
    except ValueError:
        v = None
    if v is None or not np.isfinite(v):
        from .data import _show
        raise LagDataError("param %s: value %s in column %s is not a finite number"
                           % (name, _show(text if len(text) <= 40 else text[:37] + "..."),
                              _show(header[k])), _cell(path, line, row, k),
                           "leave the cell empty for \"not given\" (the default applies)")
    return v
