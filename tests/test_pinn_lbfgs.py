"""The pinn backend's L-BFGS: torch's iterates, with the direction from the compact form."""
from __future__ import annotations

import pytest
import torch

from lagdsl.backends.pinn.lbfgs import CompactLBFGS


def _rosenbrock(w):
    return (100 * (w[1:] - w[:-1] ** 2) ** 2 + (1 - w[:-1]) ** 2).sum()


def _run(cls, history, iters, chunks=1, n=40):
    w = torch.linspace(-1.2, 1.0, n, dtype=torch.float64).requires_grad_(True)
    kw = dict(lr=1.0, max_iter=iters // chunks, history_size=history, tolerance_grad=0.0, tolerance_change=0.0)
    opt = torch.optim.LBFGS([w], line_search_fn="strong_wolfe", **kw) if cls is torch.optim.LBFGS else cls([w], **kw)

    def closure():
        opt.zero_grad()
        L = _rosenbrock(w)
        L.backward()
        return L
    for _ in range(chunks):
        opt.step(closure)
    return w.detach(), opt.state[w]


@pytest.mark.parametrize("history,chunks", [(3, 1), (10, 1), (10, 4), (100, 2)])
def test_compact_direction_gives_torchs_iterates(history, chunks):
    # the same algorithm, the history dropping its oldest pairs and carried across step() calls
    # (30 iterations: Rosenbrock's valley amplifies rounding differences later on)
    want, st_want = _run(torch.optim.LBFGS, history, 30, chunks)
    got, st = _run(CompactLBFGS, history, 30, chunks)
    assert st["n_iter"] == st_want["n_iter"] > 20      # a chunk may end early on its evaluations
    assert st["func_evals"] == st_want["func_evals"]
    assert torch.allclose(got, want, rtol=0, atol=1e-10)
    assert len(st["S"]) == min(history, len(st_want["old_dirs"]))


def test_compact_direction_is_the_two_loop_recursion():
    torch.manual_seed(0)
    n, k = 12, 5
    S = torch.randn(k, n, dtype=torch.float64)
    Y = S + 0.1 * torch.randn(k, n, dtype=torch.float64)       # positive curvature pairs
    g = torch.randn(n, dtype=torch.float64)
    gamma = float(S[-1] @ Y[-1] / (Y[-1] @ Y[-1]))
    q, alpha = g.clone(), []
    for i in reversed(range(k)):                                # the textbook two loops
        a = (S[i] @ q) / (Y[i] @ S[i])
        alpha.append(a)
        q -= a * Y[i]
    r = gamma * q
    for i, a in zip(range(k), reversed(alpha)):
        b = (Y[i] @ r) / (Y[i] @ S[i])
        r += S[i] * (a - b)
    got = CompactLBFGS.direction(g, S, Y, S @ Y.T, Y @ Y.T, gamma)
    assert torch.allclose(got, -r, rtol=1e-10, atol=1e-12)


def test_converges_and_stops_at_the_minimum():
    w = torch.tensor([3.0, -4.0], dtype=torch.float64, requires_grad=True)
    opt = CompactLBFGS([w], max_iter=100, tolerance_grad=1e-10, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        L = ((w - torch.tensor([1.0, 2.0], dtype=torch.float64)) ** 2 * torch.tensor([1.0, 50.0],
                                                                                        dtype=torch.float64)).sum()
        L.backward()
        return L
    opt.step(closure)
    assert torch.allclose(w.detach(), torch.tensor([1.0, 2.0], dtype=torch.float64), atol=1e-9)
    assert opt.state[w]["n_iter"] < 100                         # stopped early, on a tolerance
    assert opt.state[w]["stop"] in ("gradient", "step", "change", "direction")
