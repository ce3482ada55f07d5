"""Running HiGHS: live MIP progress from its callbacks, and Ctrl-C through its interrupt
callbacks.

Progress goes through :mod:`lagdsl.progress` (incumbent, bound, gap, nodes; the bar shows the
elapsed time) and only for mixed-integer models, only where bars are on (the CLI without
``--quiet``/``--json``, or ``showing_progress(True)``) and only when stderr is a terminal.

Ctrl-C: HiGHS in C does not see ``KeyboardInterrupt``; it asks its simplex, IPM and MIP
interrupt callbacks, which read a flag that the interrupt sets.  From the main thread (the
Python API) :meth:`Runner.run` takes one of two ways:

- MILPs, and continuous models with more than :data:`THREAD_NNZ` nonzeros: HiGHS runs in a
  worker thread while the main thread waits, where ``KeyboardInterrupt`` arrives at once.
  HiGHS asks no callback inside a MIP's sub-MIP heuristics, which run for seconds on mid-sized
  models, nor in a large LP's presolve, so the interrupt sets the flag, waits up to
  :data:`GRACE` seconds for HiGHS to stop, and is re-raised: within a second whatever HiGHS
  is doing.  A solve that has not stopped by then ends at HiGHS's next interrupt check, in its
  (non-daemon) thread; the kept ``Highs`` object is not touched again before it has
  (:meth:`Runner.idle`), and the interpreter waits for it at exit rather than kill a thread
  inside C++.
- small continuous models, whose every phase is short and whose simplex and IPM iterations
  each ask the callback: HiGHS runs in the main thread under a SIGINT handler that only sets
  the flag (a pending handler runs as soon as a callback executes Python), and
  ``KeyboardInterrupt`` is raised once HiGHS has returned.  No thread is started: a warm
  re-solve of a small LP costs what HiGHS takes (a thread hand-off costs about as much again).

Elsewhere the CLI already solves in a worker thread (:func:`lagdsl._stdio.run_interruptible`
sees Ctrl-C at once and the process exits 130), so HiGHS runs in the caller's thread and no
interrupt callback is installed: a Python callback per simplex iteration costs time on large
LPs.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

import highspy

from lagdsl.progress import progress, progress_enabled

#: Seconds between two progress updates taken from HiGHS's MIP callback.
EVERY = 0.2
#: Seconds an interrupted solve is given to stop before ``KeyboardInterrupt`` is raised anyway.
GRACE = 0.3
#: Seconds between two looks of the waiting main thread at the worker (the interrupt itself
#: wakes it at once).
POLL = 0.1
#: Continuous models with more nonzeros than this run in a worker thread (see above).
THREAD_NNZ = 200_000

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
        # Written on every call, not only to stop: HiGHS keeps the flag from the run that was
        # interrupted, and the next run with a callback would stop at its first one.
        e.interrupt(self.stop.is_set())
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


#: HiGHS solves in the threads of one process-wide pool, sized by the first run's ``threads``;
#: a later run asking another size fails at once (model status "not set").  Runs of lagdsl's
#: are counted so that the pool is only restarted when no other one is using it.
_runs_lock = threading.Lock()
_runs = 0


@contextlib.contextmanager
def _one_more_run():
    global _runs
    with _runs_lock:
        _runs += 1
    try:
        yield
    finally:
        with _runs_lock:
            _runs -= 1


def _restart_pool() -> bool:
    """Restart HiGHS's process-wide thread pool for a run that asked another thread count,
    when that run is lagdsl's only one (True); else leave it (False)."""
    with _runs_lock:
        if _runs != 1:
            return False
        highspy.Highs.resetGlobalScheduler(True)
        return True


class Runner:
    """Runs the solves of one kept ``highspy.Highs`` object (see the module docstring)."""

    def __init__(self, h: highspy.Highs):
        self.h = h
        #: the worker of an interrupted solve that had not stopped when the interrupt was raised
        self.pending: threading.Thread | None = None

    def idle(self) -> None:
        """Wait until an interrupted solve of this object has stopped; call before any other use
        of the ``Highs`` object."""
        if self.pending is not None:
            self.pending.join()
            self.pending = None

    def run(self, form, integer: bool) -> highspy.HighsStatus:
        """``h.run()`` with progress and Ctrl-C handling; ``KeyboardInterrupt`` if interrupted."""
        self.idle()
        if threading.current_thread() is not threading.main_thread():
            return self._run_here(_Watch(self.h, form, integer, interruptible=False))
        if integer or form.A.nnz + (form.hessian.nnz if form.hessian is not None else 0) > THREAD_NNZ:
            return self._run_in_worker(_Watch(self.h, form, integer, interruptible=True))
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            # the caller handles SIGINT its own way: leave it to them
            return self._run_here(_Watch(self.h, form, integer, interruptible=False))
        watch = _Watch(self.h, form, integer, interruptible=True)
        signal.signal(signal.SIGINT, lambda *_: watch.stop.set())
        try:
            status = self._run_here(watch)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if watch.stop.is_set():
            raise KeyboardInterrupt
        return status

    def _run_here(self, watch: _Watch) -> highspy.HighsStatus:
        try:
            with _one_more_run():
                status = self.h.run()
                if (status == highspy.HighsStatus.kError
                        and self.h.getModelStatus() == highspy.HighsModelStatus.kNotset
                        and _restart_pool()):
                    status = self.h.run()
            return status
        finally:
            watch.close()
            if watch.installed:
                self.h.clearCallbacks()

    def _run_in_worker(self, watch: _Watch) -> highspy.HighsStatus:
        box: dict = {}
        done = threading.Event()

        def work():
            try:
                box["status"] = self._run_here(watch)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread as it is
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=work, name="lagdsl-highs", daemon=False)
        worker.start()
        try:
            while not done.wait(POLL):
                pass
        except BaseException:
            watch.stop.set()
            if not done.wait(GRACE):
                self.pending = worker
            raise
        if "error" in box:
            raise box["error"]
        return box["status"]
