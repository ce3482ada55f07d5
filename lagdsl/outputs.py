"""Where lagdsl writes: every output path (``compile -o``, ``solve --plot``, ``solve --save``)
is checked here before anything is compiled or solved, and written whole.

The rules (docs/security.md, "Output paths"):

* an output never lands on an input of the run — the model, the data file, an IR file, a
  graph or table file named in the data — compared by resolved path and by ``(st_dev,
  st_ino)`` (so a hard link or a second name of the model is caught too);
* an output never follows a symbolic link (a link to a device such as ``/dev/stdout`` on a
  terminal or a pipe is written in place, like the device itself);
* every file is written to a temporary name in its directory and renamed into place
  (:func:`lagdsl._stdio.write_atomic`);
* a ``--save`` directory that holds anything is refused unless ``overwrite`` is given, and then
  only lagdsl's own files in it are replaced; a symlinked entry is refused either way.

A refusal is an :class:`OutputPathError` (exit 2) whose message starts with the option and
the path as the user gave them (``-o m.lag: ...``): on the command line the option is the
position of the mistake.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from ._stdio import write_atomic
from .errors import LagError, printable

__all__ = ["OutputPathError", "check_output_path", "check_save_dir", "check_plot_path",
           "plot_formats", "write_file", "model_inputs"]


class OutputPathError(LagError):
    """An output path that lagdsl refuses to write (exit 2)."""


def _fail(what: str, path: str, reason: str, hint: str | None = None) -> OutputPathError:
    return OutputPathError("%s %s: %s" % (what, printable(path, False), reason), hint=hint)


def _shown(p: str) -> str:
    from .frontend.files import shown_path
    return shown_path(p)


def model_inputs(model_ir=None) -> list:
    """The inputs an output must not land on: every file read in the open
    :func:`~lagdsl.frontend.files.recording_inputs` block (the CLI opens one per command),
    and the model's own file when ``model_ir`` (a :class:`lagdsl.ir.model.Model`) came
    from one (a Python caller that loaded the model itself)."""
    from .frontend.files import InputFile, inputs_read
    found = inputs_read()
    src = getattr(getattr(model_ir, "source", None), "path", None)
    if src and not src.startswith("<"):
        try:
            st = os.stat(src)
        except OSError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            found.append(InputFile(src, "model file", os.path.realpath(src), st.st_dev, st.st_ino))
    return found


def _input_at(path: str, st: os.stat_result | None, inputs: Iterable) -> object | None:
    """The input that ``path`` (with its ``os.stat``, if it exists) is, or None."""
    real = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))
    for f in inputs:
        if f.real == real or os.path.realpath(real) == f.real:
            return f
        if st is not None and (st.st_dev, st.st_ino) == (f.dev, f.ino):
            return f
    return None


def _lstat(path, what: str, kind: str) -> os.stat_result | None:
    """``os.lstat(path)``, None when nothing is there; a name that cannot be one is refused."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise _fail(what, str(path), "not a %s name" % kind)
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _fail(what, path, "cannot write: %s" % (exc.strerror or exc).lower())


def check_output_path(path: str, inputs: Iterable = (), what: str = "-o") -> str:
    """Refuse ``path`` as the output file of option ``what`` unless writing it is safe: not an
    input (resolved path or inode), not a symbolic link (but one to a device or FIFO), not
    a directory, in a directory that exists.  Returns ``path``."""
    inputs = list(inputs)
    lst = _lstat(path, what, "file")
    st = None
    if lst is not None:
        if stat.S_ISLNK(lst.st_mode):
            try:
                st = os.stat(path)
            except OSError:
                st = None
            if st is None or not (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
                target = os.readlink(path)
                hit = _input_at(path, st, inputs)
                why = "the %s %s" % (hit.what, _shown(hit.path)) if hit is not None else target
                raise _fail(what, path, "is a symbolic link (to %s); lagdsl never writes through a link"
                            % why, "name the file itself, or a new file" +
                            (" (without -o the output goes to standard output)" if what == "-o" else ""))
        else:
            st = lst
        if stat.S_ISDIR(st.st_mode):
            raise _fail(what, path, "is a directory", "name a file in it")
    else:
        parent = os.path.dirname(path) or os.curdir
        if not os.path.isdir(parent):
            raise _fail(what, path, "cannot write: the directory %s does not exist" % parent)
    if st is None or stat.S_ISREG(st.st_mode):
        # a new file or a replaced one is a rename in its directory: it must be writable
        parent = os.path.dirname(path) or os.curdir
        if not os.access(parent, os.W_OK | os.X_OK):
            raise _fail(what, path, "cannot write: no permission to write in the directory %s" % parent)
    hit = _input_at(path, st, inputs)
    if hit is not None:
        same = "" if os.path.abspath(hit.path) == os.path.abspath(path) else " (%s)" % _shown(hit.path)
        raise _fail(what, path, "is the %s%s of this run; lagdsl never writes over its inputs"
                    % (hit.what, same), "choose another output name")
    return path


def plot_formats() -> list[str]:
    """The file extensions ``--plot`` writes: matplotlib's (Agg) formats, less ``pgf``
    (it needs a LaTeX installation, found missing only after the solve)."""
    from matplotlib.backend_bases import FigureCanvasBase
    return sorted(f for f in FigureCanvasBase.get_supported_filetypes() if f != "pgf")


def check_plot_path(path: str, inputs: Iterable = (), what: str = "--plot") -> str:
    """:func:`check_output_path` and :func:`check_plot_format`; returns the format (``png``)."""
    check_output_path(path, inputs, what)
    return check_plot_format(path, what)


def check_plot_format(path: str, what: str = "--plot") -> str:
    """The format of plot file ``path``, named by its extension, refused unless matplotlib
    writes it here (:func:`plot_formats`); returns it (``png``)."""
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    formats = plot_formats()
    if ext not in formats:
        raise _fail(what, path, ("has no extension" if not ext else "unknown plot format %r" % ext)
                    + "; the extension names the format, one of " + ", ".join(formats),
                    "e.g. --plot history.png")
    return ext


def check_save_dir(directory: str, files: Iterable[str], inputs: Iterable = (),
                   overwrite: bool = False, what: str = "--save") -> list[str]:
    """Refuse ``directory`` for writing ``files`` (bare names) unless it is safe: not a
    symbolic link, a directory or a new name; empty, or — with ``overwrite`` — any of
    ``files`` in it a regular file that is no input (others are left alone).  Returns the
    paths to write."""
    files = list(files)
    inputs = list(inputs)
    lst = _lstat(directory, what, "directory")
    if lst is None:
        # makedirs creates the missing parents: the nearest existing one must be a directory
        parent = os.path.dirname(os.path.abspath(directory))
        while not os.path.lexists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise _fail(what, directory, "cannot create it: %s is not a directory" % _shown(parent))
        return [os.path.join(directory, f) for f in files]
    if stat.S_ISLNK(lst.st_mode):
        raise _fail(what, directory, "is a symbolic link (to %s); lagdsl never writes through a link"
                    % os.readlink(directory), "name the directory itself, or a new one")
    if not stat.S_ISDIR(lst.st_mode):
        raise _fail(what, directory, "is not a directory", "name a new or empty directory")
    try:
        present = sorted(os.listdir(directory))
    except OSError as exc:
        raise _fail(what, directory, "cannot read: %s" % (exc.strerror or exc).lower())
    if present and not overwrite:
        shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
        raise _fail(what, directory, "the directory is not empty (%d entr%s: %s)" % (
            len(present), "y" if len(present) == 1 else "ies", shown),
            "name a new or empty directory, or add --overwrite to replace lagdsl's own files "
            "in it (%s; nothing else is touched)" % ", ".join(files))
    out = []
    for f in files:
        p = os.path.join(directory, f)
        if os.path.lexists(p):
            if not os.path.islink(p) and not os.path.isfile(p):
                from .frontend.files import _not_regular
                raise _fail(what, p, "is %s, not a file lagdsl wrote; --overwrite replaces regular "
                            "files only" % _not_regular(os.stat(p).st_mode),
                            "move it away, or name a new or empty directory")
            check_output_path(p, inputs, what)      # a link, or an input of the run
        out.append(p)
    return out


def write_file(path: str, data: str | bytes, inputs: Iterable = (), what: str = "-o") -> None:
    """Check ``path`` again (the run may have been long) and write ``data`` whole."""
    check_output_path(path, inputs, what)
    write_atomic(path, data)
