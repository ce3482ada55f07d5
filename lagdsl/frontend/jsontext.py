"""JSON data text with positions: syntax errors, duplicate keys and a key's ``line:col``.

Python's ``json`` keeps the last of two equal keys silently and forgets where each key was.
:func:`parse_object` refuses a repeated key (``object_pairs_hook`` notices it cheaply while
parsing); only then, or when a caller asks where a key is (:func:`key_span`), a tokenizer
walks the text to find the position.
"""
from __future__ import annotations

import json
import re

from ..errors import LagDataError
from ..ir.model import Source, Span

# A JSON string (escapes included) or a structural character; numbers and literals are
# skipped by ``finditer``, which is all that finding keys needs.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]:,]')


# An integer literal longer than Python converts (sys.get_int_max_str_digits(), 4300).
_LONG_INT = re.compile(r"-?[0-9]{4301,}")


class _Repeated(Exception):
    """Raised inside ``json.loads`` when an object repeats a key."""


def _no_repeats(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Repeated()
    return obj


def parse_object(text: str, path: str, what: str = "data file") -> dict:
    """The JSON object in ``text`` (the file ``path``); a syntax error, a repeated key, too
    deep nesting or a top level that is not an object is a :class:`LagDataError` at its
    ``line:col``."""
    source = Source(path, text)
    if not text.strip():
        raise LagDataError("%s is empty; it must hold one JSON object {\"name\": value, ...}"
                           % what, Span(path, 1, 1), source=source)
    try:
        data = json.loads(text, object_pairs_hook=_no_repeats)
    except json.JSONDecodeError as e:
        msg = e.msg
        if msg.startswith("Invalid control character"):
            msg = "a control character inside a string (write it escaped, e.g. \\u001b)"
        raise LagDataError("invalid JSON in %s: %s" % (what, msg), Span(path, e.lineno, e.colno),
                           source=source) from None
    except _Repeated:
        key, first, again = _first_repeat(text)
        raise LagDataError("key %s is given twice in the same object (first at %s)"
                           % (quoted(key), _where(text, first)), _span(path, text, again),
                           source=source, hint="each key of a JSON object appears once") from None
    except ValueError:         # an integer too long for int() (Python's 4300-digit limit)
        m = _LONG_INT.search(text)
        if m is None:
            raise
        raise LagDataError("a number with %d digits; numbers in data must fit a float64 (at most "
                           "about 1.8e308)" % len(m.group().lstrip("-")), _span(path, text, m.start(), 1),
                           source=source) from None
    except RecursionError:
        raise LagDataError("%s nests lists or objects too deeply" % what, Span(path, 1, 1),
                           source=source) from None
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a string" if isinstance(data, str) else \
            json.dumps(data)
        raise LagDataError("%s must hold one JSON object {\"name\": value, ...}; it holds %s"
                           % (what, kind), Span(path, 1, 1), source=source)
    return data


def key_span(source: Source, key: str) -> Span | None:
    """Where the top-level key ``key`` of the JSON object in ``source`` is written."""
    for depth, k, off in _keys(source.text):
        if depth == 1 and k == key:
            return _span(source.path, source.text, off)
    return None


def key_path_span(source: Source, path) -> Span | None:
    """Where the key at ``path`` (top-level key, then keys of the objects inside, e.g.
    ``("fields", "u", "width")``) is written; None when it is not."""
    path, current = list(path), []
    for depth, k, off in _keys(source.text):
        del current[depth - 1:]
        current.extend([None] * (depth - 1 - len(current)))
        current.append(k)
        if current == path:
            return _span(source.path, source.text, off)
    return None


def _keys(text: str):
    """``(depth, key, offset)`` for every object key in ``text``, in order (depth 1: the top
    level).  A string is a key when it sits directly in an object and a ``:`` follows it."""
    stack: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok in "{[":
            stack.append(tok)
        elif tok in "}]":
            if stack:
                stack.pop()
        elif tok not in ",:" and stack and stack[-1] == "{" and _is_key(text, m.end()):
            yield len(stack), json.loads(tok), m.start()


def _first_repeat(text: str) -> tuple[str, int, int]:
    """The first repeated key: ``(key, offset of its first use, offset of the repeat)``."""
    open_objects: list[dict] = []       # keys seen so far in each enclosing object
    depth_of: list[int] = []
    stack: list[str] = []
    for m in _TOKEN.finditer(text):
        tok = m.group()
        if tok in "{[":
            stack.append(tok)
            if tok == "{":
                open_objects.append({})
                depth_of.append(len(stack))
        elif tok in "}]":
            if stack and stack[-1] == "{" and depth_of and depth_of[-1] == len(stack):
                open_objects.pop()
                depth_of.pop()
            if stack:
                stack.pop()
        elif tok not in ",:" and stack and stack[-1] == "{" and _is_key(text, m.end()):
            keys, k = open_objects[-1], json.loads(tok)
            if k in keys:
                return k, keys[k], m.start()
            keys[k] = m.start()
    return "", 0, 0


def _is_key(text: str, end: int) -> bool:
    """Whether the string ending at ``end`` is followed by ``:`` (a key, not a value)."""
    i = end
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i < len(text) and text[i] == ":"


def _line_col(text: str, off: int) -> tuple[int, int]:
    line = text.count("\n", 0, off) + 1
    return line, off - (text.rfind("\n", 0, off) + 1) + 1


def _span(path: str, text: str, off: int, width: int | None = None) -> Span:
    line, col = _line_col(text, off)
    if width is None:
        m = _TOKEN.match(text, off)
        width = len(m.group()) if m else 1
    return Span(path, line, col, line, col + width)


def _where(text: str, off: int) -> str:
    return "%d:%d" % _line_col(text, off)


def quoted(v) -> str:
    """``v`` written as JSON for a message, cut to 60 characters (a key or value from an
    untrusted file can be any length)."""
    text = json.dumps(v)
    return text if len(text) <= 60 else text[:57] + "..."
