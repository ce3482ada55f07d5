"""Re-solves with new data: a 50 x 100 transport LP (5,000 unknowns), new demand vectors.

    python bench/resolve.py [--scenarios 200] [--sources 50] [--sinks 100]

Rows (same scenarios, objectives checked against the first row to 1e-6 relative):

* raw highspy — the LP passed once (``HighsLp``, CSC), then per scenario ``changeRowsBounds``
  on the demand rows and ``run()`` from the kept basis (warm start);
* cvxpy + Parameter — hand-written, demand a ``cp.Parameter``, ``prob.solve(HIGHS)``;
* lagdsl cvxpy — ``prog = model.compile("cvxpy")``; ``prog.solve(data={"demand": d})``
  (its ``rebind`` makes the problem parametric at the first re-solve, inside the timed
  loop, and then sets the new demand as a ``cp.Parameter`` value: cvxpy's DPP cache);
* lagdsl highs — the same on ``highs`` when it is registered (skipped with a note otherwise);
* lagdsl layer — the same on a program whose ``rebind`` is ``relower`` and whose ``solve``
  builds the Result of a fixed point without a solver: what lagdsl itself adds per re-solve
  (checking the override, updating the IR, re-lowering the touched block, the Result).

Prints the threads each HiGHS row runs with (HiGHS's ``threads`` option as set; both rows
leave it to HiGHS), the timer and the machine load next to the table, and CPU time per
re-solve beside wall time (``process_time``: all threads of this process): timings on a
loaded machine are noisy, CPU time less so.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "bench" / "models" / "transport.lag"


def instance(m: int, n: int, k: int, seed: int = 0):
    """Base data and ``k`` demand vectors (each feasible: supply covers 1.3x the base)."""
    rng = np.random.default_rng(seed)
    demand = rng.integers(10, 50, n).astype(float)
    supply = np.full(m, np.ceil(1.3 * demand.sum() / m))
    cost = np.round(rng.uniform(1, 100, (m, n)), 2)
    data = {"S": list(range(1, m + 1)), "D": list(range(1, n + 1)), "supply": supply.tolist(),
            "demand": demand.tolist(), "cost": cost.tolist()}
    scenarios = [np.round(demand * rng.uniform(0.8, 1.2, n), 3) for _ in range(k)]
    return data, scenarios


def raw_highspy(data, scenarios):
    import highspy
    import scipy.sparse as sp
    m, n = len(data["S"]), len(data["D"])
    cost = np.asarray(data["cost"]).ravel()
    # rows: supply (sum_j x_ij <= s_i), then demand (sum_i x_ij >= d_j); x row-major
    A = sp.vstack([sp.kron(sp.eye(m), np.ones((1, n))), sp.kron(np.ones((1, m)), sp.eye(n))]).tocsc()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m * n, m + n
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = np.zeros(m * n), np.full(m * n, highspy.kHighsInf)
    lp.row_lower_ = np.concatenate([np.full(m, -highspy.kHighsInf), data["demand"]])
    lp.row_upper_ = np.concatenate([data["supply"], np.full(n, highspy.kHighsInf)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    THREADS["raw highspy"] = _option(h, "threads")
    h.passModel(lp)
    h.run()
    rows = np.arange(m, m + n, dtype=np.int32)
    upper = np.full(n, highspy.kHighsInf)
    out = []
    t0 = _timed()
    for d in scenarios:
        h.changeRowsBounds(n, rows, d, upper)
        h.run()
        out.append(h.getInfo().objective_function_value)
    return _since(t0), out


#: HiGHS's ``threads`` option per row, as each row's Highs object holds it
THREADS: dict = {}


def _option(h, name):
    """A HiGHS option's value (highspy returns ``(status, value)`` or the value)."""
    got = h.getOptionValue(name)
    return got[1] if isinstance(got, tuple) else got


def _timed():
    """``(wall, cpu)`` now."""
    return time.perf_counter(), time.process_time()


def cvxpy_parameter(data, scenarios):
    import cvxpy as cp
    m, n = len(data["S"]), len(data["D"])
    x = cp.Variable((m, n), nonneg=True)
    d = cp.Parameter(n)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(np.asarray(data["cost"]), x))),
                      [cp.sum(x, axis=1) <= np.asarray(data["supply"]), cp.sum(x, axis=0) >= d])
    d.value = np.asarray(data["demand"])
    prob.solve(solver=cp.HIGHS)
    out = []
    t0 = _timed()
    for v in scenarios:
        d.value = v
        prob.solve(solver=cp.HIGHS)
        out.append(prob.value)
    return _since(t0), out


def lagdsl_resolve(data, scenarios, backend):
    import lagdsl
    prog = lagdsl.load(MODEL, data=data).compile(backend)
    prog.solve()
    h = getattr(prog.program, "h", None)
    if h is not None:
        THREADS["lagdsl " + backend] = _option(h, "threads")
    out, recompiled, bind = [], 0, 0.0
    t0 = _timed()
    for d in scenarios:
        r = prog.solve(data={"demand": d.tolist()})
        out.append(r.objective)
        info = r.stats["resolve"]
        recompiled += info["recompiled"]
        bind += info["times"]["update"] + info["times"].get("rebind", 0.0)
    t = _since(t0)
    note = "recompiled %d/%d; checking the data, updating the IR and rebind: %.3f ms per call" % (
        recompiled, len(scenarios), 1e3 * bind / len(scenarios))
    return t, out, note


# --- the layer alone: a program that relowers and reports a fixed point -------------------

from lagdsl.backend import Backend, Program  # noqa: E402


class LayerProgram(Program):
    """``rebind`` = :func:`relower`; ``solve`` = the Result of the base optimum (no solver)."""

    backend = "layer"

    def __init__(self, model):
        from lagdsl.lower.instance import lower_instance
        self.inst = lower_instance(model)
        self.x = np.zeros(self.inst.N)

    def rebind(self, model, changed):
        from lagdsl.lower.incremental import relower
        self.inst = relower(self.inst, model, changed)
        return True

    def solve(self):
        from lagdsl.lower.instance import max_violation, unflatten
        from lagdsl.result import Result
        inst = self.inst
        obj = float(inst.objective.evaluate(self.x)[0])
        duals = {b.name: dict.fromkeys(b.keys(), 0.0) for b in inst.blocks}
        return Result("optimal", obj, unflatten(inst.model, self.x), duals,
                      max_violation(inst, self.x))


class LayerBackend(Backend):
    name = "layer"

    def accepts(self, model):
        return []

    def compile(self, model, options=None):
        return LayerProgram(model)


BACKEND = LayerBackend()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=200)
    ap.add_argument("--sources", type=int, default=50)
    ap.add_argument("--sinks", type=int, default=100)
    ap.add_argument("--profile", action="store_true", help="cProfile the lagdsl layer row")
    a = ap.parse_args()
    from lagdsl import backend as B
    data, scenarios = instance(a.sources, a.sinks, a.scenarios)
    k = len(scenarios)
    clock = time.get_clock_info("perf_counter")
    print("re-solves: %d x %d transport LP (%d unknowns), %d demand vectors" % (
        a.sources, a.sinks, a.sources * a.sinks, k))
    print("machine: %s, python %s, %d cpus, load average %s; timer perf_counter (%s, resolution %g s)"
          % (platform.machine(), platform.python_version(), os.cpu_count(),
             " ".join("%.2f" % v for v in os.getloadavg()), clock.implementation, clock.resolution))
    print("threads: OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s" % (
        os.environ.get("OMP_NUM_THREADS", "unset"), os.environ.get("OPENBLAS_NUM_THREADS", "unset")))
    rows, ref = [], None
    t, objs = raw_highspy(data, scenarios)
    ref = objs
    rows.append(("raw highspy (kept model, changeRowsBounds, warm start)", t, ""))
    t, objs = cvxpy_parameter(data, scenarios)
    rows.append(("cvxpy + Parameter (hand-written)", t, _check(objs, ref)))
    t, objs, note = lagdsl_resolve(data, scenarios, "cvxpy")
    rows.append(("lagdsl prog.solve(data=...) on cvxpy", t, _check(objs, ref) + "; " + note))
    if "highs" in B.REGISTRY:
        t, objs, note = lagdsl_resolve(data, scenarios, "highs")
        rows.append(("lagdsl prog.solve(data=...) on highs", t, _check(objs, ref) + "; " + note))
    else:
        rows.append(("lagdsl prog.solve(data=...) on highs", None, "skipped: highs is not registered"))
    B.REGISTRY["layer"] = "__main__" if __name__ == "__main__" else __name__
    if a.profile:
        import cProfile
        import pstats
        pr = cProfile.Profile()
        pr.enable()
    t, objs, note = lagdsl_resolve(data, scenarios, "layer")
    if a.profile:
        pr.disable()
        pstats.Stats(pr, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    rows.append(("lagdsl layer alone (bind + relower + Result, no solver)", t, note))
    print("HiGHS threads option: %s (0: HiGHS chooses)" % ", ".join(
        "%s %s" % kv for kv in THREADS.items()))
    base = rows[0][1]
    print("\n| method | total s | ms per re-solve | vs raw highspy | cpu ms per re-solve | cpu vs raw | check |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, t, note in rows:
        if t is None:
            print("| %s | – | – | – | – | – | %s |" % (name, note))
        else:
            print("| %s | %.3f | %.3f | %.2fx | %.3f | %.2fx | %s |" % (
                name, t[0], 1e3 * t[0] / k, t[0] / base[0], 1e3 * t[1] / k, t[1] / base[1], note))


def _since(t0) -> tuple[float, float]:
    """``(wall, cpu)`` seconds since ``t0`` (from :func:`_timed`)."""
    return time.perf_counter() - t0[0], time.process_time() - t0[1]


def _check(objs, ref) -> str:
    bad = [i for i, (a, b) in enumerate(zip(objs, ref)) if abs(a - b) > 1e-6 * max(1.0, abs(b))]
    return "same objectives" if not bad else "%d objectives differ (first: scenario %d: %r vs %r)" % (
        len(bad), bad[0], objs[bad[0]], ref[bad[0]])


if __name__ == "__main__":
    main()
