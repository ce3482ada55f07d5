"""``supervised``: the baseline that self-supervision is measured against.

Every training scenario is solved exactly first (the model compiled once for the exact
backend and re-solved per scenario, :class:`~lagdsl.learn.exact.Exact`, as ``lagdsl
sweep`` does); the network is the same as ``pdl``'s primal one, with the same equality
completion and repair, and is fitted by mean-squared error between its completed answer and
the exact solution.  It predicts no multipliers, so its answers carry no dual bound.
"""
from __future__ import annotations

import time

import numpy as np

from ..errors import BackendRefusal
from ..options import integer
from ..progress import progress
from .neural import (COMMON_OPTIONS, EarlyStop, NetPolicy, Prepared, coerce, evaluate, mlp, restore,
                     torch_setup, torch_threads)

OPTIONS = dict(COMMON_OPTIONS, **{
    "epochs": (600, "training epochs", integer(1, 10000000)),
    "eval_every": (30, "epochs between two validations (early stopping)", integer(1, 100000)),
})


class SupervisedPolicy(NetPolicy):
    """A policy trained by :func:`train` (answers: :class:`~lagdsl.learn.neural.NetPolicy`)."""

    method = "supervised"


def train(model, base_data, scenarios, *, targets=None, stages=None, options=None, seed=0):
    """Train a ``supervised`` policy for ``model`` on ``scenarios`` (see the module docstring)."""
    opts = coerce("supervised", OPTIONS, options)
    with torch_threads(opts["threads"]):
        return _train(model, scenarios, targets, stages, opts, seed)


def _train(model, scenarios, targets, stages, opts, seed):
    """The training itself, inside :func:`train`'s thread setting."""
    if targets or stages:
        raise BackendRefusal("--targets and --stages are options of method ts-ddr; supervised "
                             "predicts every unknown of whole instances")
    torch, dev, dt = torch_setup(opts)
    torch.manual_seed(0 if seed is None else seed)
    t_start = time.perf_counter()
    prep = Prepared(model, scenarios, opts, seed)
    fam, comp = prep.fam, prep.comp
    tr = prep.train_idx
    t0 = time.perf_counter()
    with progress(len(tr), desc="exact labels", enabled=None if opts["progress"] else False) as bar:
        labels, _, statuses, _ = prep.exact.solve([prep.datas[i] for i in tr], bar)
    t_labels = time.perf_counter() - t0
    ok = np.isfinite(labels).all(axis=1)
    if not ok.any():
        raise BackendRefusal("no training scenario could be solved exactly (%s): nothing to learn from"
                             % ", ".join(sorted(set(statuses))))
    tr = tr[ok]
    primal = mlp(torch, fam.P, opts["width"], opts["depth"], comp.nZ).to(dev)
    scaling = {"in_mean": prep.in_mean, "in_std": prep.in_std, "out_center": prep.out_center,
               "out_scale": prep.out_scale}
    policy = SupervisedPolicy(model, prep.inputs, fam, comp, primal, None, scaling, None, opts, opts["tol"])
    T = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=dev)   # noqa: E731
    th = prep.theta[tr]
    c, off, lo, hi = fam.arrays(th)
    X, Bq, L = T((th - prep.in_mean) / prep.in_std).float(), T(comp.b(lo)), T(labels[ok])
    Tm, Sm, center, scale = T(comp.T), T(comp.S), T(prep.out_center), T(prep.out_scale)
    opt = torch.optim.Adam(primal.parameters(), lr=opts["lr"])
    n, bs = len(tr), min(opts["batch"], len(tr))
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    history = []
    stop = EarlyStop([primal], opts, t_start, "validations")
    with progress(opts["epochs"], desc="supervised", enabled=None if opts["progress"] else False) as bar:
        for e in range(opts["epochs"]):
            primal.train()
            perm = torch.randperm(n, generator=gen).to(dev)
            for s in range(0, n, bs):
                idx = perm[s:s + bs]
                yZ = comp.bounded(center + scale * primal(X[idx]).double(), torch)
                y = comp.complete(yZ, Bq[idx], Tm, Sm)
                loss = ((y - L[idx]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            bar.update(1, loss=float(loss.detach()))
            if (e + 1) % opts["eval_every"] and e + 1 < opts["epochs"]:
                continue
            primal.eval()
            metrics = evaluate(policy, prep)
            history.append({"epoch": e + 1, "loss": float(loss.detach()),
                            **{k: v for k, v in metrics.items() if k != "instances"}})
            if stop.check(metrics, e + 1):
                break
    stop.restore()
    primal.eval()
    policy.report = {"method": "supervised", "seed": seed, "inputs": prep.inputs,
                     "training_instances": int(n), "validation_instances": int(len(prep.val_idx)),
                     "train_seconds": time.perf_counter() - t_start, "label_seconds": t_labels,
                     "exact_seconds": prep.t_exact, "exact_fallbacks": len(prep.exact.fallbacks),
                     "stopped": stop.stopped or "epochs done",
                     "best_epoch": stop.at,
                     "validation": evaluate(policy, prep), "history": history}
    return policy


def load(model, manifest, tensors):
    """A saved ``supervised`` policy (:func:`lagdsl.load_policy`)."""
    return restore(SupervisedPolicy, model, manifest, tensors)
