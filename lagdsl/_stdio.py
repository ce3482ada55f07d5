"""The process around a command: stdout kept for results (solver output redirected while
models compile and solve), Ctrl-C during a C solver, closed descriptors, files written whole,
and Python warnings turned into notes."""
from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
import sys
import tempfile
import threading
import warnings


@contextlib.contextmanager
def stdout_redirected(to_stderr: bool):
    """Send what is printed to stdout meanwhile — Python's ``sys.stdout`` and file descriptor
    1, which solvers written in C (HiGHS, SCIP) print to — to stderr, or nowhere when
    ``to_stderr`` is false.  A process without a file descriptor 1 is left as it is."""
    sys.stdout.flush()
    saved_py = sys.stdout
    try:
        saved_fd = os.dup(1)
    except OSError:
        saved_fd = None
    target = sys.stderr if to_stderr else open(os.devnull, "w")
    try:
        if saved_fd is not None:
            _point_fd1_at(target)
        sys.stdout = target
        yield
    finally:
        try:
            target.flush()
        except (OSError, ValueError):  # pragma: no cover - a closed stream
            pass
        sys.stdout = saved_py
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)
        if not to_stderr:
            target.close()


def _point_fd1_at(target) -> None:
    """Make file descriptor 1 write where ``target`` does; a ``target`` without a descriptor
    of its own (an ``io.StringIO`` standing in for stderr, as in tests and notebooks) gets
    Python's prints, and what C code prints on descriptor 1 goes to the null device."""
    try:
        fd = target.fileno()
    except (AttributeError, OSError, ValueError):   # io.UnsupportedOperation is an OSError
        fd = None
    if fd is not None:
        os.dup2(fd, 1)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
    finally:
        os.close(null)


# --- Ctrl-C during a solve ---------------------------------------------------------------

#: Done-flags of worker threads left running after an interrupt (a C solver that has not
#: returned).  Events, not ``Thread.is_alive``: a ``join`` interrupted by Ctrl-C marks the
#: thread stopped although it still runs (CPython's bpo-45274 handling).
_abandoned: list[threading.Event] = []

#: How often the waiting main thread wakes up; Ctrl-C is seen within this time.
POLL_S = 0.1


def run_interruptible(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` in a worker thread while the main thread waits.

    A solver written in C (HiGHS, SCIP) does not see ``KeyboardInterrupt`` until it returns;
    the waiting main thread does, within :data:`POLL_S`, and re-raises it at once, leaving the
    worker behind (a daemon thread; :func:`abandoned_work` tells the caller to end the
    process with ``os._exit`` rather than wait for it).  Outside the main thread this is just
    the call.  The worker's exception, if any, is re-raised."""
    if threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    box: dict = {}
    done = threading.Event()
    context = contextvars.copy_context()     # what the caller switched on (progress bars)

    def work():
        try:
            box["value"] = context.run(fn, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread as it is
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="lagdsl-solve", daemon=True).start()
    try:
        while not done.wait(POLL_S):
            pass
    except KeyboardInterrupt:
        _abandoned.append(done)
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


def abandoned_work() -> bool:
    """Whether an interrupted solve is still running in a worker thread."""
    return any(not done.is_set() for done in _abandoned)


# --- closed descriptors and files written whole --------------------------------------------

def reserve_std_fds() -> set[int]:
    """Open ``/dev/null`` on any of descriptors 0, 1, 2 that the process started without, so
    that no file opened later takes its number (solver output to "stdout" would land in it).
    Returns the closed ones."""
    closed = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
    for fd in sorted(closed):
        new = os.open(os.devnull, os.O_RDWR)
        if new != fd:               # a lower number was free after all
            os.dup2(new, fd)
            os.close(new)
    return closed


def write_atomic(path: str, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to ``path`` whole or not at all: into a temporary file in the same
    directory, renamed over ``path`` once complete (an interrupt or a full disk leaves the old
    file, or none).  A path that exists and is not a regular file (``/dev/null``, a FIFO)
    is written directly: renaming over a device would replace it.  A symbolic link is never
    followed to a regular file or a directory (``OSError`` ``ELOOP``): an output must not
    land on a file the link happens to point at (``/dev/stdout`` on a terminal or a pipe, a
    link to a device, is written directly).  Callers check paths first with
    :func:`lagdsl.outputs.check_output_path`; this is the last guard."""
    mode, enc = ("wb", None) if isinstance(text, bytes) else ("w", "utf-8")
    if _writes_directly(path):
        with open(path, mode, encoding=enc) as fh:
            fh.write(text)
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".part")
    try:
        # mkstemp makes the file private; give it the mode a plain open() would have
        os.chmod(tmp, _mode_for(path))
        with os.fdopen(fd, mode, encoding=enc) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        # rename never follows a link at ``path``: it replaces the entry itself
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _writes_directly(path: str) -> bool:
    """Whether ``path`` is a device or FIFO (itself or through a link), written in place;
    a link to anything else is refused, a regular file or a new name is not direct."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.stat(path)
        except OSError:
            target = None       # a dangling link: writing would create its target
        if target is None or not (stat.S_ISCHR(target.st_mode) or stat.S_ISFIFO(target.st_mode)):
            raise OSError(errno.ELOOP, "it is a symbolic link; lagdsl does not write through links")
        return True
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory")
    return not stat.S_ISREG(st.st_mode)


def _mode_for(path: str) -> int:
    """The permission bits of the file being replaced, or those a new file gets (umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


# --- Python warnings as notes --------------------------------------------------------------

def warning_note(w: warnings.WarningMessage) -> str:
    """One readable line for a Python warning: its message (on one line) and where from."""
    text = " ".join(str(w.message).split())
    origin = _package_of(w.filename or "")
    # A warning issued for lagdsl's call into a library names that call's file: say no more.
    return "%s (%s%s)" % (text, w.category.__name__, "" if origin == "lagdsl" else " from " + origin)


def _package_of(filename: str) -> str:
    """The top-level package a file belongs to: ``cvxpy`` for ``…/site-packages/cvxpy/x.py``."""
    parts = os.path.normpath(filename).split(os.sep)
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            i = len(parts) - 1 - parts[::-1].index(marker)
            if i + 1 < len(parts):
                return parts[i + 1].split(".")[0]
    if "lagdsl" in parts or "backends" in parts:
        return "lagdsl"
    return os.path.basename(filename) or "python"


@contextlib.contextmanager
def warnings_as_notes():
    """Collect every Python warning raised meanwhile (cvxpy's ``UserWarning``, numpy's
    ``RuntimeWarning``, torch's …) instead of letting Python print it; yields the list of
    notes (:func:`warning_note`, each once, in order)."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        # Every time (each result gets its notes, not only the first solve of a process),
        # but not the categories Python hides from users by default: they are for developers.
        warnings.simplefilter("always")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.filterwarnings("ignore", category=category)
        try:
            yield notes
        finally:
            for w in caught:
                note = warning_note(w)
                if note not in notes:
                    notes.append(note)
