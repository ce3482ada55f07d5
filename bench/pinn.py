"""PINN benchmark: lagdsl's pinn backend (penalty and alm) beside DeepXDE.

For each problem — 1D Poisson, heat, viscous Burgers (nu = 0.01/pi), 2D Poisson — every
contender trains the same network (tanh MLP, Glorot-normal initialisation, the same width and
depth), on the same numbers of domain and boundary/initial points, for the same numbers of Adam
and L-BFGS iterations, on one torch thread, with seeds 0..N-1.  Points are each contender's
default: lagdsl redraws all of them every 100 Adam steps (``resample``); DeepXDE's
``PDEPointResampler(period=100)`` redraws its boundary points every 100 steps, but its domain
and initial points are Hammersley points, a deterministic sequence, so they come back the same;
each reports the relative L2 error on a grid against the exact solution (finite differences
for Burgers, ``tests/pinn_reference.py``), its wall time and its CPU time (model set-up and
training, not imports; on a shared machine the CPU time is the steadier of the two), as
medians over the seeds, and its L-BFGS iterations.  Each row states its floating-point
precision: lagdsl's default ``precision=mixed`` trains Adam and a first L-BFGS stage in float32
and finishes L-BFGS in float64; DeepXDE runs float32 throughout by default, and a second
DeepXDE row runs it in float64 throughout (``dde.config.set_default_float("float64")``), so that
an error near 1e-6 compares methods, not precisions (``--deepxde-precision``).

    DDE_BACKEND=pytorch python bench/pinn.py [--only NAME] [--seeds N] [--epochs N] [--lbfgs N]
                                             [--no-deepxde] [--option KEY=VALUE ...]
                                             [--defaults] [--no-budget-rows]

``--defaults`` adds a row for lagdsl's defaults (``alm``, no ``epochs`` or ``lbfgs`` given:
training ends on the held-out plateau, issue 18) beside the fixed-budget rows, which
``--no-budget-rows`` leaves out; DeepXDE keeps the ``--epochs`` / ``--lbfgs`` budget.

DeepXDE is a bench-only peer: ``pip install -c constraints.txt deepxde`` (the ``bench`` extra).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
os.environ.setdefault("DDE_BACKEND", "pytorch")

from pinn_reference import burgers_reference  # noqa: E402

EX = os.path.join(HERE, "..", "examples")
NU = 0.01 / np.pi


def grid_problem(name):
    """``(grid dict, reference values)`` on which every contender is measured."""
    if name == "poisson1d":
        x = np.linspace(0, 1, 401)
        return {"x": x}, np.sin(np.pi * x)
    if name == "heat":
        X, T = np.meshgrid(np.linspace(0, 1, 101), np.linspace(0, 1, 101), indexing="ij")
        return {"x": X, "t": T}, np.exp(-0.1 * np.pi ** 2 * T) * np.sin(np.pi * X)
    if name == "burgers":
        x, times, U = burgers_reference()
        X, T = np.meshgrid(x[::8], times, indexing="xy")
        return {"x": X, "t": T}, U[:, ::8]
    X, Y = np.meshgrid(np.linspace(0, 1, 101), np.linspace(0, 1, 101), indexing="ij")
    return {"x": X, "y": Y}, np.sin(np.pi * X) * np.sin(np.pi * Y)


def rel(got, want) -> float:
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def run_lagdsl(name, method, cfg, seed):
    import lagdsl
    m = lagdsl.load(os.path.join(EX, name + ".lag"))
    t, c = time.perf_counter(), time.process_time()
    opts = dict(method=method, epochs=cfg["epochs"], lbfgs=cfg["lbfgs"], width=cfg["width"],
                depth=cfg["depth"], points=cfg["points"], boundary_points=cfg["bpoints"], seed=seed)
    if cfg.get("defaults"):            # the budgets left to the backend: stop on convergence
        del opts["epochs"], opts["lbfgs"]
    opts.update(cfg["options"])
    r = m.solve("pinn", **opts)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    g, want = grid_problem(name)
    return rel(r.fields["u"](**g), want), wall, cpu, r.stats["lbfgs_iterations"]


def run_deepxde(name, cfg, seed, precision="float32"):
    import deepxde as dde
    import torch
    dde.config.set_default_float(precision)       # global in DeepXDE: set for every run
    dde.config.set_random_seed(seed)
    pi = np.pi
    t0, c0 = time.perf_counter(), time.process_time()
    W, D = cfg["width"], cfg["depth"]
    if name == "poisson1d":
        geom = dde.geometry.Interval(0, 1)

        def pde(x, u):
            return -dde.grad.hessian(u, x) - pi ** 2 * torch.sin(pi * x)
        bcs = [dde.icbc.DirichletBC(geom, lambda x: 0 * x[:, :1], lambda x, on: on)]
        data = dde.data.PDE(geom, pde, bcs, num_domain=cfg["points"], num_boundary=2)
        dim = 1
    elif name == "poisson2d":
        geom = dde.geometry.Rectangle([0, 0], [1, 1])

        def pde(x, u):
            lap = dde.grad.hessian(u, x, i=0, j=0) + dde.grad.hessian(u, x, i=1, j=1)
            return -lap - 2 * pi ** 2 * torch.sin(pi * x[:, 0:1]) * torch.sin(pi * x[:, 1:2])
        bcs = [dde.icbc.DirichletBC(geom, lambda x: 0 * x[:, :1], lambda x, on: on)]
        data = dde.data.PDE(geom, pde, bcs, num_domain=cfg["points"], num_boundary=cfg["bpoints"])
        dim = 2
    else:
        lo = -1 if name == "burgers" else 0
        geom = dde.geometry.GeometryXTime(dde.geometry.Interval(lo, 1), dde.geometry.TimeDomain(0, 1))
        if name == "heat":
            def pde(x, u):
                return dde.grad.jacobian(u, x, i=0, j=1) - 0.1 * dde.grad.hessian(u, x, i=0, j=0)
            u0 = lambda x: np.sin(pi * x[:, 0:1])   # noqa: E731
        else:
            def pde(x, u):
                return (dde.grad.jacobian(u, x, i=0, j=1) + u * dde.grad.jacobian(u, x, i=0, j=0)
                        - NU * dde.grad.hessian(u, x, i=0, j=0))
            u0 = lambda x: -np.sin(pi * x[:, 0:1])  # noqa: E731
        bcs = [dde.icbc.DirichletBC(geom, lambda x: 0 * x[:, :1], lambda x, on: on),
               dde.icbc.IC(geom, u0, lambda x, on: on)]
        data = dde.data.TimePDE(geom, pde, bcs, num_domain=cfg["points"], num_boundary=cfg["bpoints"],
                                num_initial=cfg["bpoints"])
        dim = 2
    net = dde.nn.FNN([dim] + [W] * D + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    with contextlib.redirect_stdout(io.StringIO()):
        model.compile("adam", lr=1e-3)
        model.train(iterations=cfg["epochs"], callbacks=[dde.callbacks.PDEPointResampler(period=100)],
                    display_every=max(1, cfg["epochs"]))
        dde.optimizers.config.set_LBFGS_options(maxiter=cfg["lbfgs"])
        model.compile("L-BFGS")
        model.train(display_every=max(1, cfg["lbfgs"]))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    g, want = grid_problem(name)
    X = np.stack([np.asarray(v, dtype=np.float64).reshape(-1) for v in g.values()], axis=1)
    got = model.predict(X.astype(precision)).reshape(want.shape)
    return rel(got, want), wall, cpu, int(model.train_state.step) - cfg["epochs"]


def main(argv=None) -> None:
    import torch
    torch.set_num_threads(1)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", choices=["poisson1d", "heat", "burgers", "poisson2d"])
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--lbfgs", type=int, default=1000)
    p.add_argument("--no-deepxde", action="store_true")
    p.add_argument("--defaults", action="store_true",
                   help="add a row of lagdsl's defaults (alm, epochs and lbfgs not given: stop on convergence)")
    p.add_argument("--no-budget-rows", action="store_true",
                   help="leave out lagdsl's fixed-budget rows (penalty, alm at --epochs/--lbfgs)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per contender; medians are reported")
    p.add_argument("--deepxde-precision", default="float32,float64",
                   help="DeepXDE rows: comma-separated float32 / float64 (one row each)")
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads for every contender")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a pinn option for lagdsl's rows (repeatable), as with lagdsl solve --option")
    a = p.parse_args(argv)
    from conditions import describe, pin_threads
    pin_threads(a.threads)
    torch.set_num_threads(a.threads)
    print(describe())
    print()
    from lagdsl.cli import UsageError, _parse_kv
    try:
        options = _parse_kv(a.option, "--option")      # strings: the backend coerces them
    except UsageError as exc:
        p.error(str(exc))
    cfg = {"epochs": a.epochs, "lbfgs": a.lbfgs, "width": 32, "depth": 3, "points": 2000, "bpoints": 200,
           "options": options}
    lag_precision = ("float64" if options.get("precision") == "float64"
                     else "mixed (f32, L-BFGS ends f64)")
    dde_precisions = [] if a.no_deepxde else [v.strip() for v in a.deepxde_precision.split(",") if v.strip()]
    for v in dde_precisions:
        if v not in ("float32", "float64"):
            p.error("--deepxde-precision: %r is not float32 or float64" % v)
    print("| problem | contender | precision | rel. L2 error: median [min, max] | wall s: median | CPU s: median [min, max] | L-BFGS iterations (median) |")
    print("|---|---|---|---|---:|---|---:|")
    for name in [a.only] if a.only else ["poisson1d", "heat", "burgers", "poisson2d"]:
        rows = [] if a.no_budget_rows else [
            ("lagdsl pinn penalty", lag_precision, lambda s: run_lagdsl(name, "penalty", cfg, s)),
            ("lagdsl pinn alm", lag_precision, lambda s: run_lagdsl(name, "alm", cfg, s))]
        if a.defaults:
            rows.append(("lagdsl pinn defaults (alm, stops on convergence)", lag_precision,
                         lambda s: run_lagdsl(name, "alm", dict(cfg, defaults=True), s)))
        for prec in dde_precisions:
            rows.append(("DeepXDE %s" % __import__("deepxde").__version__, prec,
                         lambda s, prec=prec: run_deepxde(name, cfg, s, prec)))
        runs = {(label, prec): [] for label, prec, _ in rows}
        # one short untimed run each first: the process's one-time costs (torch's lazy
        # initialisation, imports, caches) would otherwise fall on whichever contender runs first
        warm = dict(cfg, epochs=5, lbfgs=2)
        for fn in ([lambda: run_lagdsl(name, "alm", warm, 0)]
                   + [lambda prec=prec: run_deepxde(name, warm, 0, prec) for prec in dde_precisions]):
            fn()
        for seed in range(a.seeds):          # seeds outermost: the contenders share the load
            for label, prec, fn in rows:
                runs[label, prec].append(fn(seed))
        for label, prec, _ in rows:
            err, wall, cpu, iters = (np.array(v, dtype=float) for v in zip(*runs[label, prec]))
            print("| %s | %s | %s | %.2e [%.2e, %.2e] | %.1f | %.1f [%.1f, %.1f] | %d |" % (
                name, label, prec, np.median(err), err.min(), err.max(), np.median(wall), np.median(cpu),
                cpu.min(), cpu.max(), np.median(iters)), flush=True)


if __name__ == "__main__":
    main()
