"""Network passes shared between the terms of a step, and coordinates that need no gradient:
the same losses and gradients as one pass per term, in fewer passes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import lagdsl
from lagdsl.backends.pinn.train import Trainer

POISSON1D = """model p
domain D: x in [0, 1]
field u(x)
subject to pde on D: -d(u, x, x) == pi ^ 2 * sin(pi * x)
subject to ends on boundary(D): u == 0
"""
HEAT = """model h
domain D: x in [0, 1], t in [0, 1]
field u(x, t)
subject to pde on D: d(u, t) - 0.1 * d(u, x, x) == 0
subject to initial on D where t == 0: u == sin(pi * x)
subject to walls on D where x == 0 or x == 1: u == 0
subject to probe on D where x == 0.5: d(u, x) == 0
"""
TWO_FIELDS = """model two
domain D: x in [0, 1]
field u(x)
field v(x)
subject to pde on D: -d(u, x, x) + v == 1
subject to vpde on D: -d(v, x, x) == u
subject to ends on boundary(D): u + v == 0
"""


def _trainer(text, points=200, boundary=40, **opts):
    prog = lagdsl.parse(text).compile("pinn", points=points, boundary_points=boundary, epochs=0, lbfgs=0,
                                      width=8, depth=2, precision="float64", **opts)
    return Trainer(prog.model, prog.nets, prog.params, prog.bounds, prog.terms, prog.opts,
                   np.random.default_rng(0))


def _counted(tr):
    """Count the network passes (plain or forward-mode) of every field of ``tr``."""
    calls = {"n": 0}
    for net in tr.nets.values():
        for name in ("forward", "jet"):
            orig = getattr(net, name)

            def wrapped(*a, _orig=orig, **k):
                calls["n"] += 1
                return _orig(*a, **k)
            setattr(net, name, wrapped)
    return calls


def _loss_grads(tr):
    batches = tr.fresh(tr.batches)
    L, _, res, _ = tr.loss(batches)
    ps = tr.parameters()
    grads = torch.autograd.grad(L, ps, allow_unused=True)
    return L.detach(), [torch.zeros_like(p) if g is None else g for p, g in zip(ps, grads)], batches


@pytest.mark.parametrize("text,derivatives,shared,separate", [
    (POISSON1D, "auto", 1, 2),        # the two boundary points ride in the PDE's forward pass
    (POISSON1D, "reverse", 1, 2),     # ... or in its plain pass, differentiated by autograd
    (HEAT, "auto", 2, 4),             # initial and walls (40 points each) join the PDE's; probe (u_x) keeps its own
    (TWO_FIELDS, "auto", 4, 6),       # per field: the boundary joins the PDE's pass, the other PDE's value its own
], ids=["poisson1d-forward", "poisson1d-reverse", "heat", "two-fields"])
def test_shared_passes_give_the_same_loss_and_gradients_in_fewer_passes(text, derivatives, shared, separate):
    out = {}
    for share in (True, False):
        tr = _trainer(text, derivatives=derivatives, share_passes=share)
        calls = _counted(tr)
        L, grads, _ = _loss_grads(tr)
        out[share] = (L, grads, calls["n"])
    (L1, g1, n1), (L0, g0, n0) = out[True], out[False]
    assert (n1, n0) == (shared, separate)
    assert torch.allclose(L1, L0, rtol=1e-12, atol=0)
    for a, b in zip(g1, g0):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_large_batch_keeps_its_own_derivative_pass():
    # 200 boundary points are more than SHARED_UP_TO: they would take the PDE's derivatives along
    from lagdsl.backends.pinn.lower import SHARED_UP_TO
    tr = _trainer(HEAT.replace("subject to probe on D where x == 0.5: d(u, x) == 0\n", ""),
                  points=400, boundary=SHARED_UP_TO + 1)
    calls = _counted(tr)
    _loss_grads(tr)
    assert calls["n"] == 2            # pde; initial + walls together


def test_coordinates_require_grad_only_where_a_derivative_is_taken_by_autograd():
    tr = _trainer(POISSON1D)                              # u_xx from the forward pass
    b = tr.fresh(tr.batches)
    assert not b["pde"].coords["x"].requires_grad and not b["ends"].coords["x"].requires_grad
    tr = _trainer(POISSON1D, derivatives="reverse")
    assert tr.fresh(tr.batches)["pde"].coords["x"].requires_grad
    tr = _trainer(HEAT, activation="sin")                  # u_t rides along, no folded rule: reverse
    b = tr.fresh(tr.batches)
    assert b["pde"].coords["t"].requires_grad and b["probe"].coords["x"].requires_grad
    assert not b["initial"].coords["x"].requires_grad
    tr = _trainer(HEAT)                  # tanh: u_t, u_xx forward; the probe's lone u_x by autograd
    b = tr.fresh(tr.batches)
    assert not b["pde"].coords["t"].requires_grad and b["probe"].coords["x"].requires_grad
    fourth = POISSON1D.replace("-d(u, x, x)", "d(u, x, x, x, x)")   # beyond second order: autograd
    tr = _trainer(fourth)
    assert tr.fresh(tr.batches)["pde"].coords["x"].requires_grad
    L, grads, _ = _loss_grads(tr)
    assert torch.isfinite(L) and any(float(g.abs().sum()) > 0 for g in grads)
