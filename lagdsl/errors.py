"""Errors a user can cause, reported as ``file:line:col: message`` with the line and a caret.

Every mistake of a user's — syntax, names, types, data, a backend's refusal — is raised as a
:class:`LagError` (or subclass).  The CLI prints :meth:`LagError.format` and exits 2; anything
else reaching the CLI is a bug in lagdsl and is reported as one.
"""
from __future__ import annotations

import os
import re

from .ir.model import Source, Span

#: Characters of the source line shown on each side of the caret; a longer line (a minified
#: JSON file, a generated model) is cut to this window with "…" at the cut ends.
WINDOW = 60

# C0 and C1 controls (but tab and newline), DEL, the invisible format characters that
# reorder or hide text on a terminal (bidi overrides and isolates, zero-width characters), and
# lone surrogates (JSON's "\ud800"), which no terminal encoding can write.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e"
                          "\u2066-\u2069\ufeff\ud800-\udfff]")


def printable(text: str, keep_newlines: bool = True) -> str:
    """``text`` with control characters and terminal escapes written as ``\\x1b``,
    ``\\u202e`` …, so that nothing from a user's file can drive the terminal; a newline is
    kept unless ``keep_newlines`` is false (then it is ``\\n`` too)."""
    out = _UNPRINTABLE.sub(_escape_char, text)
    return out if keep_newlines else out.replace("\n", "\\n")


def _escape_char(m: re.Match) -> str:
    c = ord(m.group())
    return "\\x%02x" % c if c < 0x100 else "\\u%04x" % c


def source_line(text: str, n: int) -> str:
    """Line ``n`` (1-based) of ``text``, counting only newlines as line breaks, as the parser
    and the JSON reader do (``str.splitlines`` also breaks at form feeds and U+2028)."""
    start = 0
    for _ in range(n - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    line = text[start:] if end < 0 else text[start:end]
    return line.rstrip("\r")


def quote_line(line: str, col: int, width: int = 1) -> tuple[str, str]:
    """The line as shown under a message and the caret line under it: at most ``WINDOW``
    characters on each side of column ``col`` (cut ends marked "…"), unprintable characters
    escaped, the caret under the escaped column; tabs before the caret are kept so that it
    lines up."""
    i, w = max(col - 1, 0), min(max(width, 1), 2 * WINDOW)
    lo, hi = max(0, i - WINDOW), min(len(line), i + w + WINDOW)
    before, token, after = line[lo:i], line[i:i + w], line[i + w:hi]
    head = ("…" if lo > 0 else "") + printable(before, False)
    tok = printable(token, False) if token else ""
    tail = printable(after, False) + ("…" if hi < len(line) else "")
    pad = "".join("\t" if ch == "\t" else " " for ch in head)
    return head + tok + tail, pad + "^" + "~" * (max(len(tok), 1) - 1)


def _same_file(a: str, b: str) -> bool:
    return a == b or os.path.abspath(a) == os.path.abspath(b)


class LagError(Exception):
    """A user-facing error with an optional position and hint."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None,
                 source: Source | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        self.source = source

    def with_source(self, source: Source | None) -> "LagError":
        """Attach the source text (if not yet known) so that :meth:`format` can quote it."""
        if self.source is None and source is not None:
            self.source = source
        return self

    def format(self) -> str:
        """``file:line:col: error: message``, the source line, a caret, and the hint."""
        out = []
        if self.span is not None:
            out.append("%s: %s: %s" % (self.span, self.kind, self.message))
            text = None
            # Only the file the span is in: a graph file's error must not quote the model.
            if self.source is not None and _same_file(self.source.path, self.span.file):
                text = source_line(self.source.text, self.span.line)
            if text:
                width = 1
                if self.span.end_line == self.span.line and self.span.end_col and self.span.end_col > self.span.col:
                    width = self.span.end_col - self.span.col
                shown, caret = quote_line(text, self.span.col, width)
                out.append("    " + shown)
                out.append("    " + caret)
        else:
            out.append("%s: %s" % (self.kind, self.message))
        if self.hint:
            out.append("hint: " + self.hint)
        # The span's file name and the message may carry a user's text (a path, a label).
        out[0] = printable(out[0])
        if self.hint:
            out[-1] = printable(out[-1])
        return "\n".join(out)

    def __str__(self) -> str:
        return self.format()


class LagSyntaxError(LagError):
    """The text does not parse."""

    kind = "syntax error"


class LagSemanticError(LagError):
    """A name, type, arity or domain mistake found by the checker."""


class LagDataError(LagError):
    """Data that does not match its declaration."""

    kind = "data error"


class BackendRefusal(LagError):
    """A backend cannot take the model (its class, or a construct it does not support).

    A backend that refuses for several reasons (``Backend.refuse_unless_accepted``) puts the
    first in the message, says how many more there are, and keeps them in ``others``
    (``file:line:col: reason`` lines); :meth:`every_reason` is the refusal that lists them
    all (``lagdsl solve/compile --all``)."""

    kind = "refused"
    others: tuple = ()
    alone: str | None = None        # the message without the "(and N more reasons …)"
    also: tuple = ()                # lines printed after the hint

    def every_reason(self) -> "BackendRefusal":
        """This refusal with every reason listed (itself when it has one)."""
        if not self.others:
            return self
        import copy
        new = copy.copy(self)
        new.message, new.also, new.others = self.alone or self.message, self.others, ()
        return new

    def format(self) -> str:
        return super().format() + "".join("\n" + printable("also: " + line) for line in self.also)
