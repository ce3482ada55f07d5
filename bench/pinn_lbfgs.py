"""The L-BFGS direction: torch's two-loop recursion against the compact form (``backends/pinn/lbfgs.py``).

Both optimisers run the same iterations (same line search, same pairs; the iterates agree up to
rounding) on an n-dimensional Rosenbrock function, whose evaluation is cheap, so that the time
left is the optimiser's own: the seconds of 400 iterations with 50 and 100 curvature pairs on
one torch thread (best of 3), and the milliseconds an iteration the compact form saves.

    python bench/pinn_lbfgs.py [--n 2200] [--iterations 400]
"""
from __future__ import annotations

import argparse
import time

import torch

from lagdsl.backends.pinn.lbfgs import CompactLBFGS


def seconds(cls, n: int, iters: int, history: int) -> tuple[float, float]:
    """Best CPU seconds of ``iters`` iterations from the same start, and the final loss."""
    best, loss = float("inf"), None
    for _ in range(3):
        w = torch.full((n,), -1.0, requires_grad=True)
        kw = dict(lr=1.0, max_iter=iters, max_eval=10 * iters, history_size=history, tolerance_grad=0.0,
                  tolerance_change=0.0)
        opt = (torch.optim.LBFGS([w], line_search_fn="strong_wolfe", **kw) if cls is torch.optim.LBFGS
               else cls([w], **kw))

        def closure():
            opt.zero_grad()
            L = (100 * (w[1:] - w[:-1] ** 2) ** 2 + (1 - w[:-1]) ** 2).sum()
            L.backward()
            return L
        t0 = time.process_time()
        opt.step(closure)
        best = min(best, time.process_time() - t0)
        loss = float(closure().detach())
    return best, loss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=2200, help="unknowns (the bench network has 2,209 weights)")
    p.add_argument("--iterations", type=int, default=400)
    a = p.parse_args()
    torch.set_num_threads(1)
    print("| pairs | torch.optim.LBFGS s | CompactLBFGS s | saved ms / iteration | final loss (torch, compact) |")
    print("|---:|---:|---:|---:|---|")
    for history in (50, 100):
        t, lt = seconds(torch.optim.LBFGS, a.n, a.iterations, history)
        c, lc = seconds(CompactLBFGS, a.n, a.iterations, history)
        print("| %d | %.3f | %.3f | %.2f | %.6g, %.6g |" % (history, t, c, (t - c) / a.iterations * 1e3, lt, lc),
              flush=True)


if __name__ == "__main__":
    main()
