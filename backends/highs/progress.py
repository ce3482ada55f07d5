"""Running HiGHS: live MIP progress from its callbacks, and Ctrl-C through its interrupt
callback.

Progress goes through :mod:`lagdsl.progress` (incumbent, bound, gap, nodes; the bar shows the
elapsed time) and only for mixed-integer models, only where bars are on (the CLI without
``--quiet``/``--json``, or ``showing_progress(True)``) and only when stderr is a terminal.

Ctrl-C: HiGHS in C does not see ``KeyboardInterrupt``.  Called from the main thread (the
Python API), :func:`run` installs, for the length of the solve, a SIGINT handler that sets
a flag; HiGHS's simplex, IPM and MIP interrupt callbacks (Python code running in the main
thread, where pending signal handlers run first) read it and stop the solve, and
``KeyboardInterrupt`` is raised once HiGHS has returned.  No thread is started, so a small
warm re-solve costs what HiGHS takes.  A phase without callbacks (presolve) finishes first.
Elsewhere the CLI already solves in a worker thread (:func:`lagdsl._stdio.run_interruptible`
sees Ctrl-C at once and the process exits 130), so no interrupt callback is installed: a
Python callback per simplex iteration costs time on large LPs.
"""
from __future__ import annotations

import signal
import sys
import threading
import time

import highspy

from lagdsl.progress import progress, progress_enabled

#: Seconds between two progress updates taken from HiGHS's MIP callback.
EVERY = 0.2
#: How long an interrupted solve may take to stop before the interrupt is raised anyway.
STOP_WAIT = 5.0

def _bars_wanted() -> bool:
    if not progress_enabled():
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class _Watch:
    """The callbacks of one solve: the stop flag and the progress bar."""

    def __init__(self, h: highspy.Highs, form, integer: bool, interruptible: bool):
        self.stop = threading.Event()
        self.form = form
        self.bar = progress(None, desc="highs mip") if integer and _bars_wanted() else None
        self.last = 0.0
        self.nodes = 0
        self.installed = False
        if interruptible:
            h.cbSimplexInterrupt += self._interrupt
            h.cbIpmInterrupt += self._interrupt
        if interruptible or self.bar is not None:
            h.cbMipInterrupt += self._interrupt
            self.installed = True

    def _interrupt(self, e) -> None:
        if self.stop.is_set():
            e.interrupt()
        if self.bar is not None and e.callback_type == highspy.cb.HighsCallbackType.kCallbackMipInterrupt:
            now = time.monotonic()
            if now - self.last >= EVERY:
                self.last = now
                self._show(e.data_out)

    def _show(self, d) -> None:
        nodes = int(d.mip_node_count)
        metrics = {"elapsed": "%.1fs" % d.running_time, "nodes": nodes}
        if abs(d.mip_primal_bound) < highspy.kHighsInf:
            metrics["incumbent"] = self.form.user_objective(d.mip_primal_bound)
        if abs(d.mip_dual_bound) < highspy.kHighsInf:
            metrics["bound"] = self.form.user_objective(d.mip_dual_bound)
        if d.mip_gap < highspy.kHighsInf:
            metrics["gap"] = "%.3g%%" % (100 * d.mip_gap)
        self.bar.update(max(nodes - self.nodes, 0), **metrics)
        self.nodes = max(nodes, self.nodes)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(h: highspy.Highs, form, integer: bool) -> highspy.HighsStatus:
    """``h.run()`` with progress and Ctrl-C handling (see the module docstring)."""
    main = threading.current_thread() is threading.main_thread()
    own = main and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    watch = _Watch(h, form, integer, own)
    if own:
        # The handler only sets the flag; HiGHS's next interrupt callback (Python code in this
        # thread, where pending signal handlers run first) reads it and stops the solve.
        signal.signal(signal.SIGINT, lambda *_: watch.stop.set())
    try:
        status = h.run()
    finally:
        if own:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        watch.close()
        if watch.installed:
            h.clearCallbacks()
    if watch.stop.is_set():
        raise KeyboardInterrupt
    return status
