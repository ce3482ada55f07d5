"""A sweep from start to end: check everything that can be checked before running (the
command, the model, the base data, the scenario file, the output), skip the scenarios already
in the output, run the rest on an executor, append the rows in whole batches, and summarise.

:func:`prepare` raises a :class:`~lagdsl.errors.LagError` for any mistake (nothing has run);
:func:`execute` runs; Ctrl-C inside it writes the rows finished so far and re-raises
``KeyboardInterrupt``.
"""
from __future__ import annotations

import difflib
import os
import time
from dataclasses import dataclass, field

from ..errors import LagError
from .rows import Rows, solved
from .scenarios import Scenario, read_scenarios
from .store import Batcher, Store, backup, check_output, note, output_format
from .worker import Job

#: Chunks kept in flight per worker: enough to keep each busy, few enough that Ctrl-C and the
#: end of the sweep wait for little.
IN_FLIGHT = 2
#: Largest number of scenarios sent to a worker at once.
MAX_CHUNK = 32


@dataclass
class Plan:
    """A checked sweep, ready to run."""

    job: Job
    scenarios: list[Scenario]
    executor: str
    workers: int
    address: str | None
    store: Store | None
    backend_name: str
    chunk: int
    rows: dict = field(default_factory=dict)       # id -> row, this sweep's so far
    backup: str | None = None
    #: seconds from the start of :func:`execute`: ``ready`` (executor started), ``first``
    #: (first rows back: workers compiled), ``end``
    times: dict = field(default_factory=dict)

    @property
    def todo(self) -> list[Scenario]:
        """The scenarios without a row yet."""
        return [s for s in self.scenarios if s.id not in self.rows]


def _model_job(model, data, params, backend, options, seed, allow_dirs, max_elements) -> Job:
    """The :class:`Job` for ``model`` (a path, or a :class:`lagdsl.Model`)."""
    from ..api import Model, _ir_document
    from ..frontend.data import data_base_dir, load_data
    from ..frontend.files import check_regular, read_text
    if isinstance(model, Model):
        # shipped to the workers as it is (pickled): it carries its data already
        if data is not None or params:
            raise LagError("lagdsl.sweep: a loaded Model has its data bound; pass data= and params= "
                           "with the model's path instead")
        src = model.ir.source
        return Job(model_path=src.path if src is not None else "<model>", model_text="",
                   backend=backend, options=dict(options or {}), seed=seed, model_obj=model)
    path = os.fspath(model)
    if not os.path.exists(path):
        raise LagError("model file not found: %s" % path)
    check_regular(path, "model file", LagError)
    text = read_text(path, "model file", LagError)
    is_ir = _ir_document(text) is not None
    base, data_dir = None, None
    if data is not None:
        if isinstance(data, (str, os.PathLike)) and not os.path.exists(data):
            raise LagError("data file not found: %s" % os.fspath(data))
        base = dict(load_data(data))
        data_dir = data_base_dir(data) if isinstance(data, (str, os.PathLike)) else None
    return Job(model_path=path, model_text=text, data=base, data_dir=data_dir, params=params or None,
               backend=backend, options=dict(options or {}), seed=seed,
               allow_dirs=tuple(os.fspath(d) for d in allow_dirs or ()), max_elements=max_elements,
               is_ir=is_ir)


def _load_as_solve(job: Job, model, data):
    """The job's model, loaded from the user's files as ``lagdsl solve`` loads them, so that a
    mistake in the base data is reported at its ``line:col`` in the data file (workers read
    the same data from the job's dict)."""
    if job.model_obj is not None:
        return job.load()
    from ..api import load
    return load(job.model_path, data=data, params=job.params, max_elements=job.max_elements,
                allow_dirs=job.allow_dirs)


def _collect(model, names) -> dict:
    """``--collect`` names -> ``"variables"`` or ``"duals"``; an unknown name is refused."""
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    out = {}
    for n in names or ():
        n = n.strip()
        if not n:
            continue
        if n in model.ir.vars:
            out[n] = "variables"
        elif n in model.ir.constraints:
            out[n] = "duals"
        else:
            known = list(model.ir.vars) + list(model.ir.constraints)
            close = difflib.get_close_matches(n, known, n=1, cutoff=0.6)
            raise LagError("--collect %s: the model has no variable or constraint %s" % (n, n),
                           hint=("did you mean %s?" % close[0]) if close else
                           "variables: %s; constraints: %s" % (", ".join(model.ir.vars) or "none",
                                                               ", ".join(model.ir.constraints) or "none"))
    return out


def _backend_name(prog) -> str:
    b = getattr(prog, "backend", "")
    return getattr(b, "name", None) or str(b or "?")


def prepare(model, scenarios, data=None, *, params=None, backend=None, options=None, seed=None,
            executor="process", workers=None, address=None, collect=(), out=None,
            restart=False, allow_dirs=(), max_elements=None, chunk=None,
            inputs=()) -> Plan:
    """Check a sweep before anything runs (see :func:`lagdsl.sweep.sweep` for the arguments);
    every mistake is a :class:`LagError`."""
    from .executors import default_workers, require
    require(executor)
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise LagError("--workers %r: a positive number of workers" % (workers,))
    fmt = None
    if out is not None:
        out = os.fspath(out)
        fmt = output_format(out)
        check_output(out, [("model file", model if isinstance(model, (str, os.PathLike)) else None),
                           ("data file", data if isinstance(data, (str, os.PathLike)) else None),
                           ("scenario file" if not os.path.isdir(scenarios) else "scenario directory",
                            scenarios) if isinstance(scenarios, (str, os.PathLike)) else ("", None),
                           *inputs])
    if restart and out is None:
        raise LagError("--restart needs -o: there is no output to start over")
    job = _model_job(model, data, params, backend, options, seed, allow_dirs, max_elements)
    from .._stdio import stdout_redirected, warnings_as_notes
    with stdout_redirected(to_stderr=True), warnings_as_notes():
        m = _load_as_solve(job, model, data)    # the model and base data: exit 2 on a mistake
        job.collect = _collect(m, collect)
        prog = job.compile(m)               # the backend, its options, its refusals
    found = read_scenarios(scenarios)
    workers = workers or default_workers()
    store, old = None, None
    if out is not None:
        if restart:
            old = backup(out)
        store = Store.open(out, fmt)
        if store.note:
            note(store.note)
    ids = {s.id for s in found}
    rows = {i: r for i, r in (store.rows.items() if store else ()) if i in ids}
    n_todo = sum(1 for s in found if s.id not in rows)
    workers = max(1, min(workers, n_todo))      # no worker without a scenario to start
    size = chunk or max(1, min(MAX_CHUNK, -(-n_todo // (workers * 4))))
    return Plan(job=job, scenarios=found, executor=executor, workers=workers, address=address,
                store=store, backend_name=_backend_name(prog),
                chunk=size, rows=rows, backup=old)


def execute(plan: Plan, show_progress: bool = False) -> Rows:
    """Run the scenarios of ``plan`` without a row; returns every row of its scenarios, in
    scenario order.  On Ctrl-C the finished rows are written before ``KeyboardInterrupt``
    goes on."""
    from ..progress import progress
    t0 = time.perf_counter()
    todo = plan.todo
    batcher = Batcher(plan.store)
    if todo:
        from .executors import make_executor
        chunks = [[(s.id, s.data, s.where) for s in todo[i:i + plan.chunk]]
                  for i in range(0, len(todo), plan.chunk)]
        failed = 0
        # started before the progress bar, whose monitor thread would make the parent
        # multi-threaded (see ProcessExecutor)
        ex = make_executor(plan.executor, plan.job, plan.workers, plan.address)
        plan.times["ready"] = time.perf_counter() - t0
        with progress(len(todo), desc="sweep", enabled=show_progress) as bar:
            try:
                pending: list = []
                queue = iter(chunks)
                for c in queue:
                    pending.append(ex.submit(c))
                    if len(pending) >= plan.workers * IN_FLIGHT:
                        break
                while pending:
                    for h in ex.wait(pending, 0.2):
                        pending.remove(h)
                        rows = ex.result(h)
                        plan.times.setdefault("first", time.perf_counter() - t0)
                        for r in rows:
                            plan.rows.setdefault(r["id"], r)
                        batcher.add(rows)
                        failed += sum(1 for r in rows if not solved(r))
                        bar.update(len(rows), failed=failed)
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.append(ex.submit(nxt))
            except BaseException:
                # Ctrl-C, a lost worker: what finished is written whole before anything else
                try:
                    batcher.flush()
                finally:
                    ex.abort()
                raise
            batcher.flush()
            plan.times["end"] = time.perf_counter() - t0
            ex.close()
    return Rows(plan.rows[s.id] for s in plan.scenarios if s.id in plan.rows)


def exit_code(rows) -> int:
    """0 when every row is solved, else 1."""
    return 0 if all(solved(r) for r in rows) else 1


# --- the report ---------------------------------------------------------------------------------

def summary(plan: Plan, rows: Rows, new: int, seconds: float) -> str:
    """The table printed at the end of a sweep: statuses, objective min/median/max, time per
    scenario, and where the rows are."""
    import numpy as np
    lines = ["sweep: %d scenario%s, %d run now%s, on %s with %d worker%s (backend %s) in %.3g s" % (
        len(rows), "" if len(rows) == 1 else "s", new,
        ", %d already in %s" % (len(rows) - new, plan.store.path) if plan.store and len(rows) > new else "",
        plan.executor, plan.workers, "" if plan.workers == 1 else "s", plan.backend_name, seconds)]
    if not new:
        lines[0] = "sweep: %d scenario%s, all already in %s: nothing run" % (
            len(rows), "" if len(rows) == 1 else "s", plan.store.path if plan.store else "the output")
    counts: dict = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    width = max([len(s) for s in counts] + [len("status")])
    lines.append("  %-*s  %s" % (width, "status", "rows"))
    for s in sorted(counts, key=lambda k: (-counts[k], k)):
        lines.append("  %-*s  %d" % (width, s, counts[s]))
    obj = np.array([r["objective"] for r in rows if solved(r) and r["objective"] is not None], dtype=float)
    if obj.size:
        lines.append("  objective  min %s  median %s  max %s  (%d solved rows)" % (
            _g(obj.min()), _g(np.median(obj)), _g(obj.max()), obj.size))
    t = np.array([r["time_s"] for r in rows if r.get("time_s") is not None], dtype=float)
    if t.size:
        lines.append("  time per scenario  mean %s  median %s  max %s" % (
            _ms(t.mean()), _ms(np.median(t)), _ms(t.max())))
    if new and seconds > 0:
        lines.append("  throughput  %.3g scenarios/s" % (new / seconds))
    return "\n".join(lines)


def _g(v: float) -> str:
    return "%.6g" % v


def _ms(s: float) -> str:
    return "%.3g ms" % (1000 * s) if s < 1 else "%.3g s" % s


def first_varying(scenarios: list[Scenario]):
    """``(label, {id: value})`` for the first number in the scenarios' overrides (in their key
    order, then element order) that is not the same in all of them, or None."""
    seen: dict = {}
    order: list = []
    for s in scenarios:
        for path, v in _leaves(s.data, ()):
            if path not in seen:
                seen[path] = {}
                order.append(path)
            seen[path][s.id] = v
    for path in order:
        vals = seen[path]
        if len(set(vals.values())) > 1:
            label = str(path[0]) + "".join("[%s]" % p for p in path[1:])
            return label, vals
    return None


def _leaves(obj, path):
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        yield path, float(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, path + (i,))


def save_sweep_plot(plan: Plan, rows: Rows, path: str) -> None:
    """``--plot``: the objective's distribution and the objective against the first varying
    parameter, through :func:`lagdsl.plot.save_plot`."""
    from ..plot import save_plot
    from ..result import Result
    import numpy as np
    ok = [r for r in rows if solved(r) and r["objective"] is not None]
    if not ok:
        raise LagError("--plot: no scenario was solved; there is no objective to draw")
    obj = np.array([r["objective"] for r in ok], dtype=float)
    panels = {}

    def hist(ax):
        ax.hist(obj, bins=min(50, max(5, int(np.sqrt(obj.size)))))
        ax.set_xlabel("objective")
        ax.set_ylabel("scenarios")
    panels["objective distribution (%d solved)" % obj.size] = hist
    vary = first_varying(plan.scenarios)
    if vary is not None:
        label, vals = vary
        xs = np.array([vals.get(r["id"], np.nan) for r in ok], dtype=float)

        def scatter(ax):
            ax.scatter(xs, obj, s=8)
            ax.set_xlabel(label)
            ax.set_ylabel("objective")
            ax.grid(alpha=0.3)
        panels["objective against %s" % label] = scatter
    save_plot(Result("optimal", backend=plan.backend_name, panels=panels), path,
              title="sweep of %s: %d scenarios" % (os.path.basename(plan.job.model_path), len(rows)))
