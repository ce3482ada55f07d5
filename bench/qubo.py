"""Benchmark of the qubo backend (run on demand, never in the test suite).

Part 1 — constraint handling: per instance and method, the qubits (slack-free vs the slack
penalty baseline), the feasible fraction of the raw samples, the best objective and its gap to
the known optimum, the dual bound, and the wall time, with one sampler (``--sampler``,
default ``anneal``; seed 0).  Every method gets the same sample budget (``--budget``, default
2,000 samples) and the same repair: ``penalty`` samples its one QUBO ``budget`` times, the
multiplier methods ``budget / max_iter`` times in each of their ``max_iter`` (20) rounds; the
samples each actually drew are a column (a method that stops early draws fewer).

Part 2 — QAOA against qiskit-optimization: lagdsl's ``sampler=qaoa`` (fast statevector,
default options) and ``MinimumEigenOptimizer(QAOA(StatevectorSampler(seed=0), COBYLA(),
reps=p))`` on the same ``QuadraticProgram`` (``Program.quadratic_program()``), same depth
``p``; each timed end to end by wall clock after a warm-up run of both on a 3-qubit model
(lagdsl: compile + solve; qiskit: its solve of the ready QuadraticProgram, QUBO conversion
included).  Only instances whose qiskit QUBO fits a
statevector (the MDKP slack encodings need 62-116 qubits) are run.

    python bench/qubo.py                      # both parts
    python bench/qubo.py --part 1 --sampler qaoa --only mknap1,pet2
    python bench/qubo.py --part 1 --no-repair --only mknap1,pet2,pet3
    python bench/qubo.py --part 2 --reps 2 --only mis_grid4x4
    python bench/qubo.py --part peer --runs 3  # whole processes against a direct QuadraticProgram

Part "peer" — maximum independent set of the 4x4 grid (16 qubits, p = 2), whole processes:
lagdsl (``lagdsl.load(mis_petersen.lag, data=mis_grid4x4.json).solve("qubo",
sampler="qaoa", reps=2)``, default options otherwise) against qiskit-optimization's
``MinimumEigenOptimizer(QAOA(StatevectorSampler(), COBYLA(), reps=2))`` on a
``QuadraticProgram`` written directly for the problem (one binary per node, one ``<= 1`` row
per edge; not lagdsl's export).  Each contender is a fresh ``python`` process (imports, model
building and solving included) started by this script with the same pinned thread counts, timed
by wall clock from start to exit, ``--runs`` times, alternating.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"

#: name -> (model, data, known optimum)
INSTANCES = {
    "mknap1": ("mknap1.lag", "mknap1.json", 3800.0),
    "pet2": ("mknap1.lag", "pet2.json", 87061.0),
    "pet3": ("mknap1.lag", "pet3.json", 4015.0),
    "sac94_pb5": ("mknap1.lag", "sac94_pb5.json", 2139.0),
    "mis_petersen": ("mis_petersen.lag", "mis_petersen.json", 4.0),
    "mis_grid4x4": ("mis_petersen.lag", "mis_grid4x4.json", 8.0),
    "mis_dodecahedral": ("mis_petersen.lag", "mis_dodecahedral.json", 8.0),
    "maxcut": ("maxcut.lag", "maxcut.json", 12.0),
    "vertex_cover": ("vertex_cover.lag", "vertex_cover.json", 6.0),
    "coloring": ("coloring.lag", "coloring.json", 3.0),
    "tsp4": ("tsp4_qubo.lag", "tsp4_qubo.json", 80.0),
}
METHODS = ("penalty", "augmented-lagrangian", "dual-ascent", "bundle", "cutting-plane")
QAOA_CASES = ("mis_petersen", "maxcut", "vertex_cover", "mis_grid4x4", "tsp4")


def load(name):
    import lagdsl
    lag, data, _ = INSTANCES[name]
    return lagdsl.load(str(EX / lag), data=str(EX / data))


def fmt(v, spec="%.4g"):
    return "—" if v is None else spec % v


#: the option that sets how many samples one round draws, per sampler
SAMPLE_OPTION = {"anneal": "num_reads", "qaoa": "shots", "exact": "num_samples"}
ROUNDS = 20


def budget_options(method: str, sampler: str, budget: int) -> dict:
    """Options giving ``method`` ``budget`` samples in all: one round for the slack penalty,
    ``budget / ROUNDS`` in each of ``ROUNDS`` rounds for the multiplier methods."""
    per_round = budget if method == "penalty" else max(1, budget // ROUNDS)
    return {SAMPLE_OPTION[sampler]: per_round, "max_iter": ROUNDS}


def part1(names, sampler: str, extra: dict, budget: int) -> None:
    from lagdsl.errors import BackendRefusal
    print("| instance | method | qubits | slack qubits | samples drawn | feasible fraction | "
          "objective | gap | dual bound | wall s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        opt = INSTANCES[name][2]
        for method in METHODS:
            model = load(name)
            t0 = time.perf_counter()
            try:
                res = model.solve("qubo", method=method, sampler=sampler, seed=0,
                                  **budget_options(method, sampler, budget), **extra)
            except BackendRefusal as exc:
                print("| %s | %s | — | — | — | — | refused: %s | | | |" % (name, method, exc.reason))
                continue
            wall = time.perf_counter() - t0
            st = res.stats
            gap = None if res.objective is None else abs(res.objective - opt) / abs(opt)
            print("| %s | %s | %d | %d | %d | %.3f | %s | %s | %s | %.2f |" % (
                name, method, st["qubits"], st["slack_qubits"], st["samples"], st["feasible_fraction"],
                fmt(res.objective, "%.6g"), fmt(gap, "%.2g"), fmt(st["dual_bound"], "%.6g"), wall))
            sys.stdout.flush()


def qiskit_qaoa(qp, reps: int, maxiter: int):
    from qiskit.primitives import StatevectorSampler
    from qiskit_optimization.algorithms import MinimumEigenOptimizer
    from qiskit_optimization.minimum_eigensolvers import QAOA
    from qiskit_optimization.optimizers import COBYLA
    t0 = time.perf_counter()
    res = MinimumEigenOptimizer(QAOA(StatevectorSampler(seed=0), COBYLA(maxiter=maxiter), reps=reps)).solve(qp)
    return res.fval, time.perf_counter() - t0, qp.is_feasible(res.x)


def warm_up(reps: int) -> None:
    """Import both stacks and run each once on a 3-qubit model, so that neither timing pays
    for imports (qiskit, scipy.optimize, torch) or first-call set-up."""
    import lagdsl
    model = lagdsl.parse("var x[1..3] binary\nmaximize f: x[1] + x[2] + x[3]\n"
                         "subject to c: x[1] + x[2] <= 1\n")
    model.solve("qubo", sampler="qaoa", reps=reps, seed=0)
    qiskit_qaoa(model.compile("qubo").quadratic_program(), reps, 20)


def part2(names, reps: int, maxiter: int, qiskit: bool = True) -> None:
    warm_up(reps)
    print("| instance | qubits (lagdsl / qiskit) | p | lagdsl objective | lagdsl s | lagdsl raw objective "
          "(repair=false) | raw s | qiskit objective | qiskit s | speed-up | optimum |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        from qiskit_optimization.converters import QuadraticProgramToQubo
        model = load(name)
        t0 = time.perf_counter()
        res = model.solve("qubo", sampler="qaoa", reps=reps, seed=0)
        t_lag = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw = model.solve("qubo", sampler="qaoa", reps=reps, seed=0, repair=False)
        t_raw = time.perf_counter() - t0
        qp = model.compile("qubo").quadratic_program()
        nq = QuadraticProgramToQubo().convert(qp).get_num_vars()
        if qiskit:
            fval, t_q, ok = qiskit_qaoa(qp, reps, maxiter)
            q_cols = "%.6g%s | %.2f | %.1fx" % (fval, "" if ok else " (infeasible)", t_q, t_q / t_lag)
        else:
            q_cols = "— | — | —"
        print("| %s | %d / %d | %d | %.6g | %.2f | %s | %.2f | %s | %.6g |" % (
            name, res.stats["qubits"], nq, reps, res.objective, t_lag,
            "%.6g" % raw.objective if raw.objective is not None else "none feasible", t_raw,
            q_cols, INSTANCES[name][2]))
        sys.stdout.flush()


def grid_edges(m: int = 4, n: int = 4) -> list:
    """The 4-neighbour edges of an ``m x n`` grid, nodes numbered row by row."""
    out = []
    for i in range(m):
        for j in range(n):
            if j + 1 < n:
                out.append((i * n + j, i * n + j + 1))
            if i + 1 < m:
                out.append((i * n + j, (i + 1) * n + j))
    return out


def contender(name: str, reps: int) -> None:
    """One whole-process run of the peer part: solve MIS on the 4x4 grid and print
    ``objective feasible seconds`` (the in-process part; the parent times the process)."""
    t0 = time.perf_counter()
    if name == "lagdsl":
        import lagdsl
        res = lagdsl.load(str(EX / "mis_petersen.lag"), data=str(EX / "mis_grid4x4.json")).solve(
            "qubo", sampler="qaoa", reps=reps)
        edges = grid_edges()
        x = [res.values["x"][str(k)] for k in range(16)]     # grid nodes numbered row by row
        ok = all(x[u] + x[v] <= 1 for u, v in edges)
        print("RESULT %s %d %.3f" % (res.objective, ok, time.perf_counter() - t0))
        return
    from qiskit.primitives import StatevectorSampler
    from qiskit_optimization import QuadraticProgram
    from qiskit_optimization.algorithms import MinimumEigenOptimizer
    from qiskit_optimization.minimum_eigensolvers import QAOA
    from qiskit_optimization.optimizers import COBYLA
    qp = QuadraticProgram("mis_grid4x4")
    for k in range(16):
        qp.binary_var("x%d" % k)
    qp.maximize(linear={"x%d" % k: 1 for k in range(16)})
    for u, v in grid_edges():
        qp.linear_constraint({"x%d" % u: 1, "x%d" % v: 1}, "<=", 1, name="e%d_%d" % (u, v))
    res = MinimumEigenOptimizer(QAOA(StatevectorSampler(), COBYLA(), reps=reps)).solve(qp)
    print("RESULT %s %d %.3f" % (res.fval, qp.is_feasible(res.x), time.perf_counter() - t0))


def peer(reps: int, runs: int) -> None:
    """The peer part: whole-process timings of both contenders, ``runs`` times each."""
    import statistics
    import subprocess
    rows = {"lagdsl": [], "qiskit": []}
    for r in range(runs):
        for name in ("lagdsl", "qiskit"):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--contender", name, "--reps", str(reps)],
                                 capture_output=True, text=True, check=True).stdout
            wall = time.perf_counter() - t0
            line = [ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1].split()
            rows[name].append((float(line[1]), line[2] == "1", wall, float(line[3])))
            print("run %d %s: objective %s (%s), process %.2f s, in-process %.2f s" % (
                r + 1, name, line[1], "feasible" if line[2] == "1" else "infeasible", wall, float(line[3])))
            sys.stdout.flush()
    print("\n| contender | objectives (runs) | process s, median [min, max] | in-process s, median |")
    print("|---|---|---:|---:|")
    label = {"lagdsl": "lagdsl qubo, sampler=qaoa reps=%d (defaults)" % reps,
             "qiskit": "qiskit-optimization MinimumEigenOptimizer(QAOA(StatevectorSampler(), COBYLA(), "
                       "reps=%d)), direct QuadraticProgram" % reps}
    med = {}
    for name, rs in rows.items():
        walls = [w for _, _, w, _ in rs]
        med[name] = statistics.median(walls)
        print("| %s | %s | %.2f [%.2f, %.2f] | %.2f |" % (
            label[name], ", ".join("%g%s" % (f, "" if ok else " (infeasible)") for f, ok, _, _ in rs),
            med[name], min(walls), max(walls), statistics.median([c for _, _, _, c in rs])))
    print("\nspeed-up (median process times): %.1fx; optimum 8" % (med["qiskit"] / med["lagdsl"]))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("1", "2", "peer", "all"), default="all")
    ap.add_argument("--runs", type=int, default=3, help="part peer: whole-process runs per contender")
    ap.add_argument("--contender", choices=("lagdsl", "qiskit"), help=argparse.SUPPRESS)
    ap.add_argument("--only", help="comma-separated instance names")
    ap.add_argument("--sampler", default="anneal", help="part 1 sampler (anneal, exact, qaoa)")
    ap.add_argument("--no-repair", action="store_true", help="part 1 with repair=false (raw samples)")
    ap.add_argument("--budget", type=int, default=2000, help="part 1: samples per method, all rounds together")
    ap.add_argument("--reps", type=int, default=2, help="QAOA depth p (part 2)")
    ap.add_argument("--no-qiskit", action="store_true", help="part 2 without the qiskit runs")
    ap.add_argument("--maxiter", type=int, default=1000, help="qiskit COBYLA maxiter (its default)")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/torch threads for every contender (default 1)")
    args = ap.parse_args(argv)
    if args.contender:               # a child of the peer part: one whole-process run
        contender(args.contender, args.reps)
        return
    from conditions import describe, pin_threads
    pin_threads(args.threads)
    print(describe())
    only = args.only.split(",") if args.only else None
    if args.part in ("1", "all"):
        names = only or list(INSTANCES)
        extra = {"repair": not args.no_repair}
        print("\n## Part 1: constraint handling, sampler=%s, seed 0, %d samples per method "
              "(penalty: 1 round of %d; multiplier methods: %d rounds of %d), repair=%s\n" % (
                  args.sampler, args.budget, args.budget, ROUNDS, args.budget // ROUNDS,
                  str(not args.no_repair).lower()))
        part1(names, args.sampler, extra, args.budget)
    if args.part in ("2", "all"):
        names = only or list(QAOA_CASES)
        print("\n## Part 2: QAOA p=%d, lagdsl fast statevector vs qiskit-optimization "
              "MinimumEigenOptimizer(QAOA(StatevectorSampler))\n" % args.reps)
        part2(names, args.reps, args.maxiter, qiskit=not args.no_qiskit)
    if args.part in ("peer", "all"):
        print("\n## Part peer: MIS on the 4x4 grid, QAOA p=%d, whole processes, %d runs each "
              "(same pinned threads)\n" % (args.reps, args.runs))
        peer(args.reps, args.runs)
        print(describe())


if __name__ == "__main__":
    main()
