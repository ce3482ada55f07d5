"""``pdl``: Primal-Dual Learning (Park & Van Hentenryck, AAAI 2023), self-supervised.

A primal network maps the scaled inputs to the free variables of the equality completion
(:mod:`.completion`); it minimises, over the training instances, the augmented Lagrangian

    L_rho(y; lam) = f(y) + 1/(2 rho) (||max(0, lam + rho g(y))||^2 - ||lam||^2)

of each instance, where ``g(y) <= 0`` are the rows completion leaves (inequalities and the
dependent variables' bounds, each row scaled to unit norm, the objective by the base
optimum's size) and ``lam`` the instance's multipliers, predicted by a dual network.  Each
outer iteration trains the primal network with the dual one fixed, then trains the dual
network to imitate the ALM update ``max(0, lam + rho g(y))``, and raises ``rho`` (times
``alpha``, at most ``rho_max``) when the violation did not fall below ``tau`` times the
previous one.  No instance is solved for training; a small validation split is solved
exactly to measure the gap (progress, early stopping, the report).  The dual network's
multipliers, completed into a dual-feasible point (:mod:`.dual`), give every answer a proven
bound.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import BackendRefusal
from ..options import integer, number
from ..progress import progress
from .neural import (COMMON_OPTIONS, EarlyStop, NetPolicy, Prepared, coerce, evaluate, mlp, restore,
                     torch_setup, torch_threads)

OPTIONS = dict(COMMON_OPTIONS, **{
    "outer": (20, "outer (multiplier) iterations", integer(1, 100000)),
    "epochs": (40, "primal epochs per outer iteration", integer(1, 100000)),
    "dual_epochs": (20, "dual-network epochs per outer iteration", integer(0, 100000)),
    "rho": (1.0, "initial penalty of the augmented Lagrangian", number(0, None, low_open=True)),
    "rho_max": (1e4, "largest penalty", number(0, None, low_open=True)),
    "alpha": (2.0, "penalty growth factor", number(1, None)),
    "tau": (0.8, "violation ratio above which the penalty grows", number(0, 1)),
})


class PdlPolicy(NetPolicy):
    """A policy trained by :func:`train` (answers: :class:`~lagdsl.learn.neural.NetPolicy`)."""

    method = "pdl"


def train(model, base_data, scenarios, *, targets=None, stages=None, options=None, seed=0):
    """Train a ``pdl`` policy for ``model`` on ``scenarios`` (see the module docstring)."""
    opts = coerce("pdl", OPTIONS, options)
    with torch_threads(opts["threads"]):
        return _train(model, scenarios, targets, stages, opts, seed)


def _train(model, scenarios, targets, stages, opts, seed):
    """The training itself, inside :func:`train`'s thread setting."""
    if targets:
        raise BackendRefusal("--targets is an option of method ts-ddr; pdl predicts every unknown")
    if stages:
        raise BackendRefusal("--stages is an option of method ts-ddr; pdl answers whole instances")
    torch, dev, dt = torch_setup(opts)
    torch.manual_seed(0 if seed is None else seed)
    t_start = time.perf_counter()
    prep = Prepared(model, scenarios, opts, seed)
    fam, comp = prep.fam, prep.comp
    primal = mlp(torch, fam.P, opts["width"], opts["depth"], comp.nZ).to(dev)
    dual = mlp(torch, fam.P, opts["width"], opts["depth"], comp.m).to(dev)
    # training units: rows of g at unit norm, the objective by the base optimum's size
    gn = np.linalg.norm(comp.G, axis=1)
    gn = np.where(gn > 0, gn, 1.0)
    scaling = {"in_mean": prep.in_mean, "in_std": prep.in_std, "out_center": prep.out_center,
               "out_scale": prep.out_scale}
    policy = PdlPolicy(model, prep.inputs, fam, comp, primal, dual, scaling, None, opts, opts["tol"])
    policy.scaling["dual_scale"] = prep.fscale / gn       # multipliers in the model's units
    T = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=dev)   # noqa: E731
    tr = prep.train_idx
    th = prep.theta[tr]
    c, off, lo, hi = fam.arrays(th)
    X = T((th - prep.in_mean) / prep.in_std).float()
    Bq = T(comp.b(lo))
    Hs = T(comp.h(lo, hi) / gn)
    Cm = T(fam.sense * c / prep.fscale)
    Gs = T(comp.G / gn[:, None])
    Hm = None if fam.H is None else T(fam.sense * fam.H / prep.fscale)
    Tm, Sm = T(comp.T), T(comp.S)
    center, scale = T(prep.out_center), T(prep.out_scale)

    def complete(idx):
        yZ = comp.bounded(center + scale * primal(X[idx]).double(), torch)
        return comp.complete(yZ, Bq[idx], Tm, Sm)

    def objective(y, idx):
        f = (Cm[idx] * y).sum(1)
        if Hm is not None:
            f = f + 0.5 * ((y @ Hm) * y).sum(1)
        return f

    popt = torch.optim.Adam(primal.parameters(), lr=opts["lr"])
    dopt = torch.optim.Adam(dual.parameters(), lr=opts["lr"])
    n, bs = len(tr), min(opts["batch"], max(1, len(tr)))
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    rho, prev_viol = opts["rho"], np.inf
    history = []
    stop = EarlyStop([primal, dual], opts, t_start, "outer iterations")
    lam = torch.zeros((n, comp.m), dtype=dt, device=dev)
    steps_done = 0
    total = opts["outer"] * opts["epochs"]
    with progress(total, desc="pdl", enabled=None if opts["progress"] else False) as bar:
        for k in range(opts["outer"]):
            primal.train()
            for _ in range(opts["epochs"]):
                perm = torch.randperm(n, generator=gen).to(dev)
                for s in range(0, n, bs):
                    idx = perm[s:s + bs]
                    y = complete(idx)
                    g = y @ Gs.T - Hs[idx]
                    la = lam[idx]
                    pen = (torch.relu(la + rho * g) ** 2 - la ** 2).sum(1) / (2 * rho)
                    loss = (objective(y, idx) + pen).mean()
                    popt.zero_grad()
                    loss.backward()
                    popt.step()
                steps_done += 1
                bar.update(1, loss=float(loss.detach()), rho=rho)
            with torch.no_grad():
                y = complete(torch.arange(n, device=dev))
                g = y @ Gs.T - Hs
                target = torch.relu(lam + rho * g)
                viol = float(torch.relu(g).max()) if g.numel() else 0.0
            for _ in range(opts["dual_epochs"]):
                perm = torch.randperm(n, generator=gen).to(dev)
                for s in range(0, n, bs):
                    idx = perm[s:s + bs]
                    # on the raw output: relu's zero gradient would freeze a zero multiplier
                    dl = ((dual(X[idx]).double() - target[idx]) ** 2).mean()
                    dopt.zero_grad()
                    dl.backward()
                    dopt.step()
            with torch.no_grad():
                lam = torch.relu(dual(X).double())
            if viol > opts["tau"] * prev_viol:
                rho = min(rho * opts["alpha"], opts["rho_max"])
            prev_viol = viol
            primal.eval()
            metrics = evaluate(policy, prep)
            gap = metrics.get("mean_gap")
            history.append({"outer": k + 1, "loss": float(loss.detach()), "train_violation": viol, "rho": rho,
                            **{k2: v for k2, v in metrics.items() if k2 != "instances"}})
            bar.update(0, loss=float(loss.detach()), viol=viol, gap=gap if gap is not None else float("nan"))
            if stop.check(metrics, k + 1):
                break
    stop.restore()
    primal.eval()
    dual.eval()
    final = evaluate(policy, prep)
    policy.report = {"method": "pdl", "seed": seed, "inputs": prep.inputs,
                     "training_instances": int(n), "validation_instances": int(len(prep.val_idx)),
                     "train_seconds": time.perf_counter() - t_start, "exact_seconds": prep.t_exact,
                     "exact_fallbacks": len(prep.exact.fallbacks),
                     "stopped": stop.stopped or "outer iterations done", "best_outer": stop.at,
                     "validation": final, "history": history}
    return policy


def load(model, manifest, tensors):
    """A saved ``pdl`` policy (:func:`lagdsl.load_policy`)."""
    return restore(PdlPolicy, model, manifest, tensors)
