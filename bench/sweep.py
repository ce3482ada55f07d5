"""Scenario sweeps: scenarios per second of a serial in-process loop of ``prog.solve(data=...)``
against ``lagdsl.sweep`` on the ``process``, ``dask`` and ``ray`` executors with 1 and 2 workers.

The model is bench/models/transport.lag at 50 x 100 (5,000 variables), data generated here
from a fixed seed; each scenario gives a new demand vector.  The backend is ``highs`` when it
is registered, else ``cvxpy`` (printed).  Per executor and worker count the table shows:

* ``start s``: until the executor is up (``ready``) and until the first rows are back
  (``first``: the workers have compiled the model);
* ``scen/s``: end to end (start-up included) and after the first rows (the steady rate);
* ``x1``: the steady rate against the same executor with 1 worker (the issue asks >= 1.6x
  with 2 workers);
* ``overhead ms``: per scenario, worker-seconds spent against the serial loop's seconds:
  ``(workers * steady seconds - serial seconds) / scenarios``.

    python bench/sweep.py                        # 2,000 scenarios (minutes)
    python bench/sweep.py --scenarios 100        # a quick check

Executors whose extra is not installed are skipped with a line saying so.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODEL = HERE / "models" / "transport.lag"


def generate(folder: Path, m: int, n: int, scenarios: int, seed: int = 0) -> tuple[Path, Path, list]:
    """Base data (m sources, n sinks) and ``scenarios`` demand vectors, deterministic."""
    rng = np.random.default_rng(seed)
    demand = rng.integers(10, 50, n)
    supply = rng.integers(10, 50, m)
    supply = supply + max(0, int(1.3 * demand.sum() - supply.sum())) // m + 1   # room for +30%
    cost = np.round(rng.uniform(1, 100, (m, n)), 2)
    base = {"S": list(range(1, m + 1)), "D": list(range(1, n + 1)), "supply": supply.tolist(),
            "demand": demand.tolist(), "cost": cost.tolist()}
    data = folder / "base.json"
    data.write_text(json.dumps(base))
    scen = []
    for k in range(scenarios):
        d = np.round(demand * rng.uniform(0.7, 1.3, n)).astype(int)
        scen.append({"id": "s%05d" % k, "demand": d.tolist()})
    path = folder / "scenarios.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in scen))
    return data, path, scen


def serial(data: Path, scen: list, backend: str) -> tuple[float, list]:
    """Seconds of a plain loop of ``prog.solve(data=...)`` over ``scen`` (compiled once,
    outside the timing), and the objectives."""
    import lagdsl
    prog = lagdsl.load(str(MODEL), data=str(data)).compile(backend)
    t0 = time.perf_counter()
    objs = [prog.solve(data={"demand": s["demand"]}).objective for s in scen]
    return time.perf_counter() - t0, objs


def swept(data: Path, scen_path: Path, backend: str, executor: str, workers: int):
    """``(plan.times, rows)`` of one sweep."""
    from lagdsl.sweep.run import execute, prepare
    plan = prepare(str(MODEL), str(scen_path), str(data), backend=backend, executor=executor,
                   workers=workers)
    rows = execute(plan)
    return plan.times, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", type=int, default=2000)
    ap.add_argument("--size", default="50x100", help="sources x sinks (default 50x100)")
    ap.add_argument("--executors", default="process,dask,ray")
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    from lagdsl.backend import REGISTRY
    backend = "highs" if "highs" in REGISTRY else "cvxpy"
    m, n = (int(v) for v in args.size.lower().split("x"))
    workers = [int(w) for w in args.workers.split(",")]
    try:
        threads = len(os.sched_getaffinity(0))
    except AttributeError:
        threads = os.cpu_count()
    print("sweep bench: %d scenarios of transport %dx%d (%d variables), backend %s" % (
        args.scenarios, m, n, m * n, backend))
    print("threads available: %s (cpu_count %s), load average before: %s" % (
        threads, os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())))
    with tempfile.TemporaryDirectory() as tmp:
        data, scen_path, scen = generate(Path(tmp), m, n, args.scenarios)
        t_serial, objs = serial(data, scen, backend)
        ref = dict(zip((s["id"] for s in scen), objs))
        rate_serial = args.scenarios / t_serial
        rows_out = [("serial loop", "-", "-", "-", "%.1f" % rate_serial, "%.1f" % rate_serial, "-", "0")]
        for ex in args.executors.split(","):
            mod = {"dask": "distributed", "ray": "ray"}.get(ex)
            if mod and importlib.util.find_spec(mod) is None:
                print("%s: skipped (pip install 'lagdsl[%s]')" % (ex, ex))
                continue
            one = None
            for w in workers:
                times, rows = swept(data, scen_path, backend, ex, w)
                bad = [r["id"] for r in rows if r["objective"] is None or
                       abs(r["objective"] - ref[r["id"]]) > 1e-6 * max(1.0, abs(ref[r["id"]]))]
                if bad:
                    print("%s x%d: %d objectives differ from the serial loop (first %s)" % (ex, w, len(bad), bad[0]))
                steady_n = args.scenarios - _first_chunk(args.scenarios, w)
                steady = steady_n / max(times["end"] - times["first"], 1e-9)
                one = steady if w == 1 else one
                overhead = (w * (times["end"] - times["first"]) / max(steady_n, 1) - t_serial / args.scenarios)
                rows_out.append((ex, str(w), "%.2f" % times["ready"], "%.2f" % times["first"],
                                 "%.1f" % (args.scenarios / times["end"]), "%.1f" % steady,
                                 "%.2fx" % (steady / one) if one else "-", "%.2f" % (1000 * overhead)))
    head = ("executor", "workers", "ready s", "first s", "scen/s e2e", "scen/s steady", "x1", "overhead ms")
    widths = [max(len(h), *(len(r[i]) for r in rows_out)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(wd) for h, wd in zip(head, widths)))
    for r in rows_out:
        print("  ".join(c.rjust(wd) for c, wd in zip(r, widths)))
    print("serial loop: %.2f ms per scenario (prog.solve(data=...))" % (1000 * t_serial / args.scenarios))
    print("load average after: %s" % " ".join("%.2f" % x for x in os.getloadavg()))


def _first_chunk(n: int, workers: int) -> int:
    """Scenarios in the chunk whose return marks ``first`` (as :func:`lagdsl.sweep.run.prepare` sizes it)."""
    from lagdsl.sweep.run import MAX_CHUNK
    return max(1, min(MAX_CHUNK, -(-n // (workers * 4))))


if __name__ == "__main__":
    sys.exit(main())
