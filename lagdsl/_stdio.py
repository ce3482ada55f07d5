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
        try:
            target_fd = target.fileno()
        except (OSError, ValueError):   # sys.stderr replaced by an in-memory stream (Jupyter, tests)
            target_fd = None
        if saved_fd is not None and target_fd is not None:
            os.dup2(target_fd, 1)
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
