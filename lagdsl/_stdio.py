"""Keeping stdout for results: solver output is redirected while models compile and solve."""
from __future__ import annotations

import contextlib
import os
import sys


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
