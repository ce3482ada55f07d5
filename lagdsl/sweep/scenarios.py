"""Reading scenarios: a JSONL file (one JSON object per line), a directory of JSON files, or
an iterable of dicts (the Python API).

A scenario is an ``"id"`` and parameter overrides in the data-file shapes.  The id is a
string; when absent it is the line number (JSONL), the file name without ``.json`` (a
directory) or the 1-based position (an iterable).  Everything about the file itself — a line
that is not a JSON object, an id that is not a string, an id given twice — is a
:class:`~lagdsl.errors.LagDataError` at ``file:line:col``: the sweep does not start.  What the
overrides say is checked later, per scenario, by the model (a bad one becomes a row).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import LagDataError
from ..ir.model import Source, Span


@dataclass
class Scenario:
    """One scenario: its id, its overrides (``data``) and where it was read (``file:line``)."""

    id: str
    data: dict
    where: str = ""


def read_scenarios(source) -> list[Scenario]:
    """The scenarios of ``source``: a JSONL file path, a directory of ``*.json`` files, or an
    iterable of dicts; ids checked to be strings and unique."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            found = _read_dir(path)
        elif os.path.exists(path):
            found = _read_jsonl(path)
        else:
            raise LagDataError("scenario file not found: %s" % path)
    else:
        found = _read_iterable(source)
    return found


def _read_jsonl(path: str) -> list[Scenario]:
    from ..frontend.files import check_regular, read_text
    check_regular(path, "scenario file", LagDataError)
    text = read_text(path, "scenario file", LagDataError)
    source = Source(path, text)
    out: list[Scenario] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue            # blank lines (and the final newline) separate nothing
        obj = _parse_line(line, path, n, source)
        sid = obj.pop("id", None) if "id" in obj else str(n)
        if not isinstance(sid, str) or not sid:
            raise LagDataError("the scenario id must be a non-empty string, not %s"
                               % _shown(sid), _key_span(line, path, n, "id"), source=source,
                               hint='write "id": "%s" (ids are strings)' % _shown(sid).strip('"'))
        if sid in seen:
            raise LagDataError("scenario id %s is given twice (first on line %d)" % (_shown(sid), seen[sid]),
                               _key_span(line, path, n, "id") or Span(path, n, 1), source=source,
                               hint="each scenario needs its own id (the line number when absent)")
        seen[sid] = n
        out.append(Scenario(sid, obj, "%s:%d" % (path, n)))
    return out


def _parse_line(line: str, path: str, n: int, source: Source) -> dict:
    """The JSON object on line ``n``; an error is moved from the line to the file's position."""
    from ..frontend.jsontext import parse_object
    try:
        return parse_object(line, path, what="a scenario line")
    except LagDataError as exc:
        if exc.span is not None:
            exc.span = Span(path, n, exc.span.col)
        exc.source = source
        exc.hint = exc.hint or "a scenario file holds one JSON object per line: {\"id\": \"s1\", \"demand\": [...]}"
        raise


def _key_span(line: str, path: str, n: int, key: str) -> Span | None:
    from ..frontend.jsontext import key_span
    span = key_span(Source(path, line), key)
    return Span(path, n, span.col) if span is not None else None


def _read_dir(path: str) -> list[Scenario]:
    from ..frontend.data import load_data
    names = sorted(f for f in os.listdir(path) if f.endswith(".json") and not f.startswith("."))
    if not names:
        raise LagDataError("scenario directory %s holds no .json files" % path)
    out: list[Scenario] = []
    seen: dict[str, str] = {}
    for name in names:
        file = os.path.join(path, name)
        obj = dict(load_data(file))     # positioned syntax errors, regular files only
        sid = obj.pop("id", name[:-len(".json")])
        if not isinstance(sid, str) or not sid:
            raise LagDataError("the scenario id must be a non-empty string, not %s" % _shown(sid),
                               Span(file, 1, 1))
        if sid in seen:
            raise LagDataError("scenario id %s is given twice (also in %s)" % (_shown(sid), seen[sid]),
                               Span(file, 1, 1))
        seen[sid] = file
        out.append(Scenario(sid, obj, file))
    return out


def _read_iterable(items) -> list[Scenario]:
    out: list[Scenario] = []
    seen: set[str] = set()
    try:
        iterator = iter(items)
    except TypeError:
        raise LagDataError("scenarios are a file path or an iterable of dicts, not %s"
                           % type(items).__name__) from None
    for n, item in enumerate(iterator, start=1):
        if not isinstance(item, dict):
            raise LagDataError("scenario %d is %s, not a dict of parameter overrides"
                               % (n, type(item).__name__))
        obj = dict(item)
        sid = obj.pop("id", str(n))
        if not isinstance(sid, str) or not sid:
            raise LagDataError("scenario %d: the id must be a non-empty string, not %s" % (n, _shown(sid)))
        if sid in seen:
            raise LagDataError("scenario %d: id %s is given twice" % (n, _shown(sid)))
        seen.add(sid)
        out.append(Scenario(sid, obj, "scenario %d" % n))
    return out


def _shown(v) -> str:
    import json
    try:
        text = json.dumps(v)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
