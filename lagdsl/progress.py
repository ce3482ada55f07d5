"""One progress bar for every iterative backend (``lagrangian``, ``qubo``, ``pinn``).

Bars go to stderr and only where the caller asked for them: the CLI turns them on for a plain
``lagdsl solve`` (not under ``--quiet`` or ``--json``) with :func:`showing_progress`; the
Python API leaves them off unless the user wraps a solve in ``showing_progress(True)``.  A bar
appears only once a run has lasted about a second, so quick solves print nothing.

A backend writes::

    with progress(total=outer_iterations, desc="alm") as bar:
        for k in range(outer_iterations):
            ...
            bar.update(objective=f, violation=v, rho=rho)
"""
from __future__ import annotations

import contextlib
import contextvars
import sys

_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("lagdsl_progress", default=False)

#: Seconds a run must last before its bar is drawn, and between two redraws.
DELAY = 1.0
REDRAW = 0.2


@contextlib.contextmanager
def showing_progress(flag: bool = True):
    """Turn progress bars on (or off) for the solves inside the ``with`` block."""
    token = _ENABLED.set(bool(flag))
    try:
        yield
    finally:
        _ENABLED.reset(token)


def progress_enabled() -> bool:
    """Whether bars are on here (see :func:`showing_progress`)."""
    return _ENABLED.get()


class Progress:
    """A bar over ``total`` steps (``None``: unknown) showing the latest metrics; a no-op when
    bars are off.  Use as a context manager, or call :meth:`close`."""

    def __init__(self, total: int | None, desc: str = "", enabled: bool | None = None):
        on = progress_enabled() if enabled is None else enabled
        self._bar = None
        if on:
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=desc, file=sys.stderr, delay=DELAY, leave=False,
                             dynamic_ncols=True, mininterval=REDRAW)

    def update(self, n: int = 1, **metrics) -> None:
        """Advance ``n`` steps and show ``metrics`` (numbers, printed with 3 significant digits)."""
        if self._bar is None:
            return
        if metrics:
            self._bar.set_postfix({k: _short(v) for k, v in metrics.items()}, refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        """Remove the bar from the terminal."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(total: int | None, desc: str = "", enabled: bool | None = None) -> Progress:
    """A :class:`Progress` bar (the usual way to make one)."""
    return Progress(total, desc, enabled)


def _short(v) -> str:
    try:
        return "%.3g" % float(v)
    except (TypeError, ValueError):
        return str(v)
