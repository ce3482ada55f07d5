"""Scenario sweeps: one model, thousands of data scenarios, on a local process pool, Dask or
Ray; rows appended whole to a resumable file.  See docs/sweep.md.

::

    rows = lagdsl.sweep("transport.lag", "scenarios.jsonl", data="transport.json",
                        collect=["ship"], out="rows.jsonl")
    rows[0]["status"], rows[0]["objective"], rows.to_pandas()

Modules: :mod:`.scenarios` (reading them), :mod:`.rows` (the row schema), :mod:`.store`
(the output file: batches written whole, resumption), :mod:`.worker` (compile once,
re-solve per scenario), :mod:`.executors` (process, dask, ray), :mod:`.run` (the whole run),
:mod:`.command` (``lagdsl sweep``).
"""
from __future__ import annotations

from .rows import COLUMNS, Rows

__all__ = ["sweep", "Rows", "COLUMNS"]


def sweep(model, scenarios, data=None, *, backend=None, executor="process", workers=None,
          collect=(), out=None, options=None, seed=None, params=None, address=None,
          restart=False, progress=False, allow_dirs=(), max_elements=None, chunk=None) -> Rows:
    """Solve ``model`` once per scenario; returns the rows (:class:`Rows`, a list of dicts
    with ``.to_pandas()``) in scenario order.

    ``model`` is a ``.lag`` path (with ``data``, the base data: a JSON path or a dict, and
    ``params``, ``--set`` overrides) or a loaded :class:`lagdsl.Model`.  ``scenarios`` is a
    JSONL file, a directory of JSON files, or an iterable of dicts (each ``{"id": ...,
    param: value, ...}``; the id defaults to the position).  ``backend`` (default: what
    ``Model.compile`` picks) and ``options`` as for ``Model.compile``; ``executor`` is
    ``"process"``, ``"dask"`` or ``"ray"`` with ``workers`` workers (default: the cores) or
    the cluster at ``address``; ``collect`` names variables and constraints whose values and
    duals go into each row.  With ``out`` (``.jsonl``, ``.csv``, ``.parquet``) rows are
    appended there and the ids already in it are skipped (``restart=True`` moves it to a
    ``.bak`` file first).  A scenario that fails is a row with its status and message; a
    mistake in the model, base data, scenario file or arguments raises a
    :class:`~lagdsl.errors.LagError` before anything runs.
    """
    from .run import execute, prepare
    plan = prepare(model, scenarios, data, params=params, backend=backend, options=options,
                   seed=seed, executor=executor, workers=workers, address=address,
                   collect=collect, out=out, restart=restart, allow_dirs=allow_dirs,
                   max_elements=max_elements, chunk=chunk)
    from ..progress import showing_progress
    with showing_progress(progress):
        return execute(plan, show_progress=bool(progress))


class _CallableModule(__import__("types").ModuleType):
    """``lagdsl.sweep`` is both this package and the function: importing a submodule
    (``lagdsl.sweep.rows``) binds the package as ``lagdsl.sweep``, so the package itself must
    call :func:`sweep`, or ``lagdsl.sweep(...)`` would depend on import order."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
