"""The engines that distribute a sweep: a local process pool, Dask, Ray.  lagdsl schedules
nothing itself: each executor starts workers that compile the model once, takes chunks of
scenarios, and hands back their rows as they finish.

Interface (what :func:`lagdsl.sweep.run.run_sweep` drives)::

    ex = make_executor("process", job, workers=2, address=None)
    handle = ex.submit(chunk)            # chunk: [(id, data), ...]
    finished = ex.wait(handles, 0.2)     # the handles that are done (may be empty)
    rows = ex.result(handle)
    ex.close()                           # after the last chunk
    ex.abort()                           # Ctrl-C: stop the workers now

``dask`` and ``ray`` are optional extras; a missing one is a :class:`LagError` naming it.
"""
from __future__ import annotations

import contextlib
import os
import sys

from ..errors import LagError
from .worker import Job

EXECUTORS = ("process", "dask", "ray")


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def require(executor: str) -> None:
    """Refuse an executor whose extra is not installed, naming the extra."""
    if executor not in EXECUTORS:
        raise LagError("unknown executor %r; executors: %s" % (executor, ", ".join(EXECUTORS)))
    module = {"dask": "distributed", "ray": "ray"}.get(executor)
    if module is None:
        return
    import importlib.util
    if importlib.util.find_spec(module) is None:
        raise LagError("--executor %s needs %s: pip install 'lagdsl[%s]'" % (executor, module, executor))


def make_executor(name: str, job: Job, workers: int, address: str | None = None):
    """A started executor ``name`` with ``workers`` workers (``address``: an existing Dask
    scheduler or Ray cluster instead of a local one)."""
    require(name)
    if name == "process":
        if address:
            raise LagError("--address is for --executor dask or ray; the process pool is local")
        return ProcessExecutor(job, workers)
    if name == "dask":
        return DaskExecutor(job, workers, address)
    return RayExecutor(job, workers, address)


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore Ctrl-C while worker processes are started, so that they inherit "ignore" (kept
    across exec): a Ctrl-C in a terminal reaches the whole process group, and only the parent
    should answer it — by writing the rows so far and stopping the workers — not every worker
    with a traceback.  A Ctrl-C in this window is lost; the next one stops the sweep."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class ProcessExecutor:
    """A local ``concurrent.futures`` process pool; each process compiles in its initializer."""

    def __init__(self, job: Job, workers: int):
        import multiprocessing
        import threading
        from concurrent.futures import ProcessPoolExecutor
        from . import worker
        methods = multiprocessing.get_all_start_methods()
        if "fork" in methods and threading.active_count() == 1 and sys.platform == "linux":
            # a single-threaded parent forks safely, and its workers start with lagdsl and the
            # backend already imported (seconds each on a loaded machine)
            ctx = multiprocessing.get_context("fork")
        else:
            # threads in the parent (a notebook, a server): fork could copy a held lock;
            # forkserver starts from a clean process that imports lagdsl's worker once
            method = "forkserver" if "forkserver" in methods else "spawn"
            ctx = multiprocessing.get_context(method)
            if method == "forkserver":
                ctx.set_forkserver_preload(["lagdsl.sweep.worker"])
        self.workers = workers
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                        initializer=worker.pool_init, initargs=(job,))
        self._chunk = worker.pool_chunk

    def submit(self, chunk):
        return self.pool.submit(self._chunk, chunk)

    def wait(self, handles, timeout):
        from concurrent.futures import FIRST_COMPLETED, wait
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        # in the order submitted: two chunks finished together are written in scenario order
        return [h for h in handles if h in done]

    def result(self, handle):
        from concurrent.futures.process import BrokenProcessPool
        try:
            return handle.result()
        except BrokenProcessPool:
            raise LagError("a worker process died (killed, or out of memory?); the rows finished "
                           "so far are kept: run the same command again to go on") from None

    def close(self):
        self.pool.shutdown(wait=True)

    def abort(self):
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:         # a worker inside a solve in C would finish it first
            try:
                p.terminate()
            except (OSError, AttributeError):
                pass
        for p in procs:
            try:
                p.join(2)
            except (OSError, AttributeError, AssertionError):
                pass


class DaskExecutor:
    """Dask's ``distributed``: a ``LocalCluster`` of ``workers`` single-threaded processes, or
    the scheduler at ``address``; the job is scattered to every worker once and each worker
    thread compiles it on its first chunk."""

    def __init__(self, job: Job, workers: int, address: str | None):
        import logging
        from distributed import Client, LocalCluster
        from . import worker
        self.cluster = None
        if address:
            try:
                self.client = Client(address, timeout="30s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise LagError("--address %s: no Dask scheduler answers there (%s)" % (address, exc),
                               hint="start one with `dask scheduler`, or leave --address out for a "
                                    "local cluster") from None
        else:
            with _sigint_ignored():
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        # the worker processes of a cluster started here, stopped at once on Ctrl-C
        self.pids = list(self.client.run(os.getpid).values()) if self.cluster is not None else []
        self.job = self.client.scatter(job, broadcast=True)
        self._run = worker.run_chunk

    def submit(self, chunk):
        # pure=False: two equal chunks (two scenarios with the same data) are still two tasks
        return self.client.submit(self._run, self.job, chunk, pure=False)

    def wait(self, handles, timeout):
        from distributed import wait
        try:
            done, _ = wait(list(handles), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return [h for h in handles if h in done]

    def result(self, handle):
        return handle.result()

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def abort(self):
        import contextlib
        import signal
        for pid in self.pids:
            # they are inside a solve; a graceful close would wait for it (measured: 12 s)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.client.close(timeout=2)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=2)


class RayExecutor:
    """Ray: ``ray.init()`` locally (or at ``address``), ``workers`` actors each holding the
    compiled program; a chunk goes to the first actor that is free."""

    def __init__(self, job: Job, workers: int, address: str | None):
        import logging
        import ray
        from .worker import RayActor
        self.ray = ray
        self.started = not ray.is_initialized()
        if self.started:
            kw = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                      configure_logging=True)
            if address:
                try:
                    ray.init(address=address, **kw)
                except (ConnectionError, OSError, TimeoutError, ValueError) as exc:
                    raise LagError("--address %s: no Ray cluster answers there (%s)" % (address, exc),
                                   hint="start one with `ray start --head`, or leave --address out "
                                        "for a local instance") from None
            else:
                ray.init(num_cpus=workers, **kw)
        actor = ray.remote(num_cpus=1)(RayActor)
        self.actors = [actor.remote(job) for _ in range(workers)]
        self.free = list(self.actors)
        self.owner: dict = {}
        self.queue: list = []

    def submit(self, chunk):
        # A chunk is given to an actor only when one is free: each actor works on one chunk
        # at a time, and a Ctrl-C leaves nothing queued inside Ray.
        handle = _RayHandle(chunk)
        self.queue.append(handle)
        self._dispatch()
        return handle

    def _dispatch(self):
        while self.free and self.queue:
            handle, actor = self.queue.pop(0), self.free.pop()
            handle.ref = actor.rows.remote(handle.chunk)
            self.owner[handle.ref] = (actor, handle)

    def wait(self, handles, timeout):
        refs = [h.ref for h in handles if h.ref is not None]
        if not refs:
            return []
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        done = []
        for ref in ready:
            actor, handle = self.owner.pop(ref)
            self.free.append(actor)
            done.append(handle)
        self._dispatch()
        return done

    def result(self, handle):
        return self.ray.get(handle.ref)

    def close(self):
        for a in self.actors:
            self.ray.kill(a)
        if self.started:
            self.ray.shutdown()

    def abort(self):
        import contextlib
        with contextlib.suppress(Exception):
            self.close()


class _RayHandle:
    """A chunk waiting for a free actor, then its object ref."""

    __slots__ = ("chunk", "ref")

    def __init__(self, chunk):
        self.chunk, self.ref = chunk, None
