"""Build-time benchmark: lagdsl's CLI against hand-written cvxpy (and Pyomo where it installs).

Each contender runs as its own process, end to end — start-up, reading the same JSON data,
building, solving with HiGHS, reporting — and is timed by wall clock.  The runs are
interleaved (each round runs every contender once), so that a drift of the machine reaches
all alike; the script prints the conditions (cores, load, BLAS threads: ``--threads``, 1 by
default, for every contender; HiGHS with its default options everywhere).  The table shows the
best of ``--repeat`` runs, the solver's own time where the tool reports it, the rest
(``overhead``: everything that is not the solver) and the ratio to hand-written cvxpy.
Every contender must reach the same optimum; a mismatch is printed in the table.  Beside the
wall clock: CPU seconds (user + system, the least of the runs; on a shared machine the fairer
comparison) and peak resident memory (the largest of the runs), both from each child's own
``rusage``.

lagdsl runs through two backends, each twice: with its default summary output (status,
objective, the first non-zero values — what the hand-written script reports) and with
``--json``, which also writes every one of the 10^5..10^6 values with its label.  The
``cvxpy`` rows carry the 1.3x target, the ``highs`` rows (lagdsl straight into HiGHS, no
cvxpy) the 0.8x one.

    python bench/gen.py            # writes bench/data/*.json (deterministic)
    python bench/compile.py        # prints the table (takes several minutes: the 1e6 LP
                                   # spends ~40 s inside HiGHS for every contender)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

CASES = {
    "transport 700x700 LP (490,000 vars)": ("transport", "transport_700.json"),
    "knapsack LP relaxation (1,000,000 vars)": ("knapsack_lp", "knapsack_1000000.json"),
}
#: HiGHS options per case, the same for every contender.  HiGHS's default presolve spends
#: ~40 s on the knapsack's single dense row, whoever builds the model; IPM without presolve
#: solves it in about a second, which leaves the build time visible.
HIGHS_OPTIONS = {"transport": "", "knapsack_lp": "solver=ipm;presolve=off"}
#: The same settings as options of lagdsl's highs backend.
HIGHS_BACKEND_OPTIONS = {"transport": [], "knapsack_lp": ["method=ipm", "presolve=false"]}
PEERS = {"transport": "transport", "knapsack_lp": "knapsack"}


def lagdsl_cmd() -> list[str]:
    exe = shutil.which("lagdsl", path=str(Path(sys.executable).parent)) or shutil.which("lagdsl")
    return [exe] if exe else [sys.executable, "-m", "lagdsl"]


def run(cmd: list[str]) -> tuple[float, dict, float, float]:
    """Wall seconds of ``cmd``, what it reported (the JSON object it printed last on stdout,
    or, for lagdsl's summary, the status and objective from its first line), its CPU seconds
    (user + system: what a loaded machine distorts least) and its peak resident memory in MB,
    both from the child's own ``rusage`` (``os.wait4``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if p.returncode not in (0, 1):
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, stderr[-2000:]))
    cpu = usage.ru_utime + usage.ru_stime
    rss = usage.ru_maxrss / (2.0 ** 20 if sys.platform == "darwin" else 2.0 ** 10)  # bytes / KiB
    text = stdout.strip()
    if text.startswith("status:"):
        m = re.match(r"status: (\S+)\s+objective: (\S+)", text)
        return wall, {"status": m.group(1), "objective": float(m.group(2))}, cpu, rss
    start = text.rfind("\n{") + 1 if not text.startswith("{") else 0
    return wall, json.loads(text[start:]), cpu, rss


def solver_time(tool: str, out: dict) -> float | None:
    if tool == "lagdsl":
        st = out.get("stats", {})
        return st.get("solver_time") or st.get("times", {}).get("solver")
    return out.get("solver_time")


def contenders(model: str, data: Path, with_pyomo: bool) -> dict[str, list[str]]:
    peer = PEERS[model]
    solve = lagdsl_cmd() + ["solve", str(HERE / "models" / (model + ".lag")), "--backend", "cvxpy",
                            "--data", str(data), "--option", "solver=HIGHS"]
    if HIGHS_OPTIONS[model]:
        solve += ["--option", "solver_args=" + HIGHS_OPTIONS[model]]
    highs = lagdsl_cmd() + ["solve", str(HERE / "models" / (model + ".lag")), "--backend", "highs",
                            "--data", str(data)]
    for opt in HIGHS_BACKEND_OPTIONS[model]:
        highs += ["--option", opt]
    out = {
        "lagdsl CLI (summary)": solve,
        "lagdsl CLI --json (all values)": solve + ["--json", "--quiet"],
        "lagdsl --backend highs (summary)": highs,
        "lagdsl --backend highs --json (all values)": highs + ["--json", "--quiet"],
        "hand-written cvxpy": [sys.executable, str(HERE / "peers" / ("cvxpy_%s.py" % peer)), str(data)],
    }
    if with_pyomo:
        out["Pyomo (appsi_highs)"] = [sys.executable, str(HERE / "peers" / ("pyomo_%s.py" % peer)), str(data)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2, help="runs per contender (best is reported)")
    ap.add_argument("--no-pyomo", action="store_true", help="skip Pyomo even when installed")
    ap.add_argument("--only", choices=sorted(PEERS), help="run one case")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP threads for every contender (default 1; HiGHS's own default "
                         "threads for every contender)")
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from conditions import describe, pin_threads
    pin_threads(a.threads)            # every contender inherits the environment
    print(describe() + "; runs interleaved, best of %d per contender" % a.repeat,
          file=sys.stderr if a.json else sys.stdout)
    with_pyomo = not a.no_pyomo and importlib.util.find_spec("pyomo") is not None
    rows = []
    for title, (model, data_name) in CASES.items():
        if a.only and model != a.only:
            continue
        data = DATA / data_name
        if not data.exists():
            sys.exit("missing %s: run python bench/gen.py first" % data)
        results = {}
        cmds = contenders(model, data, with_pyomo)
        runs: dict = {name: [] for name in cmds}
        # Round-robin, not each contender's repeats back to back: a drift of the machine (HiGHS
        # alone varied 2.4-3.1 s on the transport LP in one afternoon) then reaches every
        # contender alike instead of one contender's whole batch.
        for _ in range(a.repeat):
            for name, cmd in cmds.items():
                runs[name].append(run(cmd))
                print("  %-40s %-44s %8.2f s %8.2f s CPU %6.0f MiB" % (
                    (title, name) + (runs[name][-1][0],) + runs[name][-1][2:]), file=sys.stderr)
        for name in cmds:
            wall, out = min(runs[name], key=lambda r: r[0])[:2]
            results[name] = (wall, out, min(r[2] for r in runs[name]), max(r[3] for r in runs[name]))
        base = results["hand-written cvxpy"]
        for name, (wall, out, cpu, rss) in results.items():
            st = solver_time("lagdsl" if name.startswith("lagdsl") else name, out)
            obj = out.get("objective")
            same = base[1].get("objective")
            ok = obj is not None and same is not None and abs(obj - same) <= 1e-6 * max(1, abs(same))
            rows.append({"case": title, "contender": name, "wall_s": wall, "solver_s": st,
                         "overhead_s": None if st is None else wall - st, "vs_cvxpy": wall / base[0],
                         "cpu_s": cpu, "cpu_vs_cvxpy": cpu / base[2],
                         "peak_rss_mib": rss, "rss_vs_cvxpy": rss / base[3], "objective": obj,
                         "same_optimum": ok})
    if a.json:
        print(json.dumps(rows, indent=1))
        return
    print("| case | contender | wall s | solver s | overhead s | vs cvxpy | CPU s | CPU vs cvxpy "
          "| peak RSS MiB | RSS vs cvxpy | objective | same optimum |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    fmt = (lambda v: "—" if v is None else "%.2f" % v)
    for r in rows:
        print("| %s | %s | %.2f | %s | %s | %.2fx | %.2f | %.2fx | %.0f | %.2fx | %s | %s |" % (
            r["case"], r["contender"], r["wall_s"], fmt(r["solver_s"]), fmt(r["overhead_s"]),
            r["vs_cvxpy"], r["cpu_s"], r["cpu_vs_cvxpy"], r["peak_rss_mib"], r["rss_vs_cvxpy"],
            r["objective"], "yes" if r["same_optimum"] else "NO"))


if __name__ == "__main__":
    main()
