"""What runs in a sweep's worker (a pool process, a Dask worker, a Ray actor): compile the
model once, then re-solve it for each scenario and make the row.

A :class:`Job` is everything a worker needs, as plain picklable values: the model's *text*
(not its path: a worker on another machine need not see the user's files), the base data as a
dict, the backend, its options and the ``--collect`` names.  :class:`Solver` holds the compiled
program of one job; :func:`solver_for` keeps one per job and thread in a worker process.
"""
from __future__ import annotations

import os
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field

from ..errors import LagError
from .rows import error_row, result_row


@dataclass
class Job:
    """The compiled-once part of a sweep, shipped to every worker."""

    model_path: str                 # for messages and graph files; the text below is what is read
    model_text: str
    data: dict | None = None        # the base data (a data file's object), or None
    data_dir: str | None = None     # where graph files named in the base data resolve
    params: dict | None = None      # --set overrides on the base data
    backend: str | None = None      # None: the API's default (Model.compile's)
    options: dict = field(default_factory=dict)
    seed: int | None = None
    collect: dict = field(default_factory=dict)     # name -> "variables" | "duals"
    allow_dirs: tuple = ()
    max_elements: int | None = None
    is_ir: bool = False             # model_text is lagdsl IR JSON
    model_obj: object = None        # a lagdsl.Model given to the Python API (pickled as it is)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    def load(self):
        """The :class:`lagdsl.Model` of this job with its base data (scenarios come later,
        through the re-solve API)."""
        from ..api import Model, parse
        if self.is_ir or self.model_obj is not None:
            return self.model_obj if self.model_obj is not None else Model.from_json(self.model_text)
        data = self.data
        base = self.data_dir or os.path.dirname(os.path.abspath(self.model_path))
        return parse(self.model_text, data=data, params=self.params or None, path=self.model_path,
                     base_dir=base, max_elements=self.max_elements, allow_dirs=self.allow_dirs)

    def compile(self, model):
        """``model`` compiled for this job's backend and options."""
        kw = dict(self.options)
        if self.backend is not None:
            kw["backend"] = self.backend
        return model.compile(seed=self.seed, **kw)


def resolve(prog, data: dict):
    """``prog`` (a :class:`lagdsl.resolve.CompiledModel`) solved with ``data`` overriding
    the base data; every path of a sweep re-solves through this one function."""
    return prog.solve(data=data)


class Solver:
    """A job's model compiled once, solving scenarios into rows."""

    def __init__(self, job: Job):
        self.job = job
        self.prog = job.compile(job.load())

    def row(self, sid: str, data: dict, where: str = "") -> dict:
        """The row of scenario ``sid`` (read at ``where``): never raises for the scenario's
        own mistakes."""
        from .._stdio import warnings_as_notes
        t0 = time.perf_counter()
        try:
            with warnings_as_notes():
                result = resolve(self.prog, data)
        except LagError as exc:
            text = exc.format()
            if exc.span is None and where:
                text = "%s: %s" % (where, text)     # a key of the scenario itself: say which line
            return error_row(sid, text, time.perf_counter() - t0, self.job.collect)
        except Exception as exc:  # noqa: BLE001 - a solver's crash is that scenario's row, not the sweep's end
            where = traceback.extract_tb(exc.__traceback__)[-1]
            return error_row(sid, "internal error in lagdsl or its solver (please report): %s: %s (at %s:%d)"
                             % (type(exc).__name__, exc, os.path.basename(where.filename), where.lineno),
                             time.perf_counter() - t0, self.job.collect)
        return result_row(sid, result, time.perf_counter() - t0, self.job.collect)

    def rows(self, chunk: list) -> list[dict]:
        """Rows for ``chunk``, a list of ``(id, data, where)`` triples."""
        return [self.row(sid, data, where) for sid, data, where in chunk]


#: Solvers kept in this process: (job key, thread id) -> Solver; a few of the latest only, so
#: a long-lived Dask worker serving many sweeps does not keep every model it ever compiled.
_SOLVERS: dict = {}
_KEEP = 4
_lock = threading.Lock()


def solver_for(job: Job) -> Solver:
    """This thread's :class:`Solver` for ``job``, compiled on first use."""
    key = (job.key, threading.get_ident())
    with _lock:
        s = _SOLVERS.get(key)
    if s is None:
        s = Solver(job)
        with _lock:
            _SOLVERS[key] = s
            while len(_SOLVERS) > _KEEP:
                _SOLVERS.pop(next(iter(_SOLVERS)))
    return s


def run_chunk(job: Job, chunk: list) -> list[dict]:
    """Rows for ``chunk`` on this worker (the task Dask runs)."""
    return solver_for(job).rows(chunk)


# --- process pool: an initializer compiles once per worker process --------------------------

_POOL_JOB: Job | None = None
_POOL_FAILED: BaseException | None = None


def pool_init(job: Job) -> None:
    """Initializer of a pool process: leave Ctrl-C to the parent (which stops the pool and
    keeps the rows), send solver output on descriptor 1 to stderr, compile the model."""
    import signal
    global _POOL_JOB, _POOL_FAILED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.dup2(2, 1)       # stdout is the parent's report; HiGHS/SCIP logs go to stderr
    except OSError:
        pass
    _POOL_JOB = job
    try:
        solver_for(job)
    except BaseException as exc:  # noqa: BLE001 - raised again by the first chunk, in the parent
        _POOL_FAILED = exc


def pool_chunk(chunk: list) -> list[dict]:
    """Rows for ``chunk`` in a pool process set up by :func:`pool_init`."""
    if _POOL_FAILED is not None:
        raise _POOL_FAILED
    return solver_for(_POOL_JOB).rows(chunk)


class RayActor:
    """A Ray actor: one compiled program, many chunks (wrapped by ``ray.remote`` when used)."""

    def __init__(self, job: Job):
        self.solver = Solver(job)

    def rows(self, chunk: list) -> list[dict]:
        """Rows for ``chunk``."""
        return self.solver.rows(chunk)
