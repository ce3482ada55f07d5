"""Errors a user can cause, reported as ``file:line:col: message`` with the line and a caret.

Every mistake of a user's — syntax, names, types, data, a backend's refusal — is raised as a
:class:`LagError` (or subclass).  The CLI prints :meth:`LagError.format` and exits 2; anything
else reaching the CLI is a bug in lagdsl and is reported as one.
"""
from __future__ import annotations

from .ir.model import Source, Span


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
            if self.source is not None and self.source.path == self.span.file:
                text = self.source.line(self.span.line)
            elif self.source is not None:
                text = self.source.line(self.span.line)
            if text:
                out.append("    " + text.rstrip("\n"))
                width = 1
                if self.span.end_line == self.span.line and self.span.end_col and self.span.end_col > self.span.col:
                    width = self.span.end_col - self.span.col
                out.append("    " + " " * (self.span.col - 1) + "^" + "~" * (width - 1))
        else:
            out.append("%s: %s" % (self.kind, self.message))
        if self.hint:
            out.append("hint: " + self.hint)
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
    """A backend cannot take the model (its class, or a construct it does not support)."""

    kind = "refused"
