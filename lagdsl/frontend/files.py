"""Reading a user's files: only regular files, at most :data:`MAX_TEXT_BYTES`, UTF-8 errors at
``line:col``; and where a file named *inside* a data file may come from (:class:`FileScope`).

A model, data or graph file may be untrusted.  Nothing here follows a path into a device, a
FIFO or a directory (the mode is checked with ``os.stat`` before opening, and again on the
open descriptor, which is opened non-blocking so that a FIFO swapped in meanwhile cannot
hang the read), and no message quotes more of a file than the offending token.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import stat
from dataclasses import dataclass

from ..errors import LagDataError
from ..ir.model import Source, Span
from .jsontext import quoted

#: The largest text file lagdsl reads (model, data, graph): 1 GiB.
MAX_TEXT_BYTES = 1 << 30

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _not_regular(mode: int) -> str | None:
    """What a non-regular file is ("a directory", "a named pipe (FIFO)" …), else None."""
    if stat.S_ISREG(mode):
        return None
    return next((word for test, word in _KINDS if test(mode)), "not a regular file")


def check_regular(path: str, what: str, error=LagDataError, limit: int = MAX_TEXT_BYTES) -> None:
    """Refuse ``path`` unless it names an existing regular file (symlinks followed) of at
    most ``limit`` bytes."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error("%s not found: %s" % (what, path)) from None
    except OSError as e:
        raise error("cannot read %s %s: %s" % (what, path, (e.strerror or str(e)).lower())) from None
    kind = _not_regular(st.st_mode)
    if kind is not None:
        raise error("%s %s is %s, not a regular file" % (what, path, kind),
                    hint="lagdsl reads models and data from regular files only")
    if st.st_size > limit:
        raise error("%s %s is %s, more than lagdsl reads (%s)"
                    % (what, path, _size(st.st_size), _size(limit)))


@dataclass(frozen=True)
class InputFile:
    """A file read as input: how it was named, what it is ("model file", "data file",
    "graph file"), its resolved path and its identity on disk (``st_dev``, ``st_ino``)."""

    path: str
    what: str
    real: str
    dev: int
    ino: int


#: The inputs read meanwhile, while a :func:`recording_inputs` block is open (None: not
#: recording).  A context variable: the solve's worker thread sees the caller's list.
_INPUTS: contextvars.ContextVar[list | None] = contextvars.ContextVar("lagdsl_inputs", default=None)


@contextlib.contextmanager
def recording_inputs():
    """Yield the list of :class:`InputFile` that every file read meanwhile is added to (the
    CLI keeps outputs off them: :mod:`lagdsl.outputs`)."""
    token = _INPUTS.set([])
    try:
        yield _INPUTS.get()
    finally:
        _INPUTS.reset(token)


def inputs_read() -> list:
    """The :class:`InputFile` entries read so far in the open :func:`recording_inputs`
    block (empty outside one)."""
    return list(_INPUTS.get() or ())


def _note_input(path: str, what: str, st: os.stat_result) -> None:
    seen = _INPUTS.get()
    if seen is not None:
        seen.append(InputFile(path, what, os.path.realpath(path), st.st_dev, st.st_ino))


def read_bytes(path: str, what: str, error=LagDataError, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` (default
    :data:`MAX_TEXT_BYTES`)."""
    check_regular(path, what, error, limit)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise error("cannot read %s %s: %s" % (what, path, (e.strerror or str(e)).lower())) from None
    try:
        st = os.fstat(fd)
        kind = _not_regular(st.st_mode)
        if kind is not None:       # replaced between the stat and the open
            raise error("%s %s is %s, not a regular file" % (what, path, kind))
        _note_input(path, what, st)    # the file actually opened, even if renamed since
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as e:
        raise error("cannot read %s %s: %s" % (what, path, (e.strerror or str(e)).lower())) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise error("%s %s is more than lagdsl reads (%s)" % (what, path, _size(limit)))
    return data


def read_text(path: str, what: str, error=LagDataError, quote: bool = True,
              limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path`` (a leading byte-order mark dropped); bytes that are not
    UTF-8 are an error at their ``line:col``, quoting the line with the bad bytes replaced
    (unless ``quote`` is false: a file named inside data is never quoted)."""
    data = read_bytes(path, what, error, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        start = data.rfind(b"\n", 0, e.start) + 1
        col = len(data[start:e.start].decode("utf-8", "replace")) + 1
        shown = data.decode("utf-8", "replace")
        raise error("%s is not UTF-8 text: byte 0x%02x cannot be decoded" % (what, data[e.start]),
                    Span(path, line, col), "save the file as UTF-8",
                    Source(path, shown) if quote else None) from None
    return text[1:] if text.startswith("\ufeff") else text


def _size(n: int) -> str:
    for unit, k in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << k:
            return "%.3g %s" % (n / (1 << k), unit)
    return "%d bytes" % n


@dataclass(frozen=True)
class FileScope:
    """Where files named inside data may come from: ``base`` (the data file's directory, or
    the model's for data given as a dict; None: the working directory) and the directories
    the user allowed explicitly (``--allow-dir``, ``allow_dirs=``).

    A name resolves against ``base``; the file it reaches — after ``..`` and every symlink —
    must lie inside ``base`` or inside an allowed directory.  So an absolute path, a ``..``
    or a symlink leading out is refused unless the user allowed where it leads.
    """

    base: str | None = None
    allowed: tuple[str, ...] = ()
    #: False only for a file named by Python code directly (``load_graph(name, path)``).
    confined: bool = True

    @classmethod
    def of(cls, where) -> "FileScope":
        """A scope from a :class:`FileScope` or a directory path; None (a Python caller naming
        a file itself, not through data) confines nothing."""
        if isinstance(where, FileScope):
            return where
        if where is None:
            return cls(None, (), False)
        return cls(os.fspath(where))

    def resolve(self, name, what: str, span=None, source=None) -> str:
        """The path of the file ``name`` (as written in the data), checked against the scope."""
        if not isinstance(name, (str, os.PathLike)):
            raise LagDataError("%s: a file name must be a string" % what, span, source=source)
        name = os.fspath(name)
        if not name or "\x00" in name:
            raise LagDataError("%s: %s is not a file name" % (what, quoted(name)), span, source=source)
        base = os.path.abspath(self.base if self.base is not None else os.curdir)
        path = os.path.normpath(os.path.join(base, name))
        real = os.path.realpath(path)
        roots = [os.path.realpath(base)] + [os.path.realpath(d) for d in self.allowed]
        if not self.confined or any(_inside(real, r) for r in roots):
            return shown_path(path)
        if os.path.isabs(name):
            why = "is an absolute path"
        elif ".." in name.replace("\\", "/").split("/"):
            why = "leads out of the data file's directory (..)"
        else:
            why = "is a symbolic link that leads out of the data file's directory"
        raise LagDataError("%s: file %s %s; a data file may name files in its own directory "
                           "(%s) only" % (what, quoted(name), why, shown_path(base)), span, source=source,
                           hint="allow another directory explicitly: --allow-dir DIR "
                                "(Python: allow_dirs=[DIR])")


def shown_path(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it (messages then do
    not depend on where the user's tree is), else absolute."""
    rel = os.path.relpath(path)
    return path if rel == ".." or rel.startswith(".." + os.sep) else rel


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)



