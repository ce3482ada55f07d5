"""How long one loss-and-gradient evaluation takes with each way of taking field derivatives.

The pinn backend takes a field's derivatives either by nested reverse-mode autograd (one
backward pass for all first derivatives, then one per coordinate that needs second derivatives)
or by one forward Taylor-mode pass that carries every wanted derivative through the network
(``backends/pinn/jets.py``).  Which is faster depends on how many derivatives a residual needs;
``derivatives=auto`` follows what this script measures (``TorchEvaluator._make_plan``).  Each row is a
PDE residual on 2000 points of a 3x32 tanh network, one torch thread, best of 3 x 100 steps.

    python bench/pinn_derivatives.py
"""
from __future__ import annotations

import time

import numpy as np
import torch

CASES = {
    "poisson1d (u_xx)": "domain D: x in [0, 1]\nfield u(x)\nsubject to pde on D: -d(u, x, x) == 1\n",
    "heat (u_t, u_xx)": "domain D: x in [0, 1], t in [0, 1]\nfield u(x, t)\n"
                        "subject to pde on D: d(u, t) - 0.1 * d(u, x, x) == 0\n",
    "burgers (u_t, u_x, u_xx)": "domain D: x in [-1, 1], t in [0, 1]\nfield u(x, t)\n"
                                "subject to pde on D: d(u, t) + u * d(u, x) - 0.003 * d(u, x, x) == 0\n",
    "poisson2d (u_xx, u_yy)": "domain D: x in [0, 1], y in [0, 1]\nfield u(x, y)\n"
                              "subject to pde on D: -laplacian(u) == 1\n",
    "poisson3d (u_xx, u_yy, u_zz)": "domain D: x in [0, 1], y in [0, 1], z in [0, 1]\nfield u(x, y, z)\n"
                                    "subject to pde on D: -laplacian(u) == 1\n",
    "heat2d (u_t, u_xx, u_yy)": "domain D: x in [0, 1], y in [0, 1], t in [0, 1]\nfield u(x, y, t)\n"
                                "subject to pde on D: d(u, t) - 0.1 * (d(u, x, x) + d(u, y, y)) == 0\n",
}


def step_ms(text: str, derivatives: str, dtype) -> float:
    """Best mean milliseconds of one residual + backward over three runs of 100 steps."""
    import lagdsl
    from lagdsl.backends.pinn.train import Trainer
    m = lagdsl.parse("model bench\n" + text)
    opts = {"points": 2000, "epochs": 0, "lbfgs": 0, "derivatives": derivatives,
            "precision": "float64" if dtype == torch.float64 else "mixed"}
    prog = m.compile("pinn", **opts)
    tr = Trainer(prog.model, prog.nets, prog.params, prog.bounds, prog.terms, prog.opts, np.random.default_rng(0))
    tr.set_dtype(dtype)
    ps = tr.parameters()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(100):
            L = tr.loss(tr.fresh(tr.batches))[0]
            L.backward(inputs=ps)
        best = min(best, (time.perf_counter() - t0) * 10.0)
    return best


def main() -> None:
    torch.set_num_threads(1)
    print("| residual | dtype | reverse ms | forward ms | forward / reverse |")
    print("|---|---|---:|---:|---:|")
    for dtype in (torch.float32, torch.float64):
        for label, text in CASES.items():
            rev, fwd = step_ms(text, "reverse", dtype), step_ms(text, "forward", dtype)
            print("| %s | %s | %.2f | %.2f | %.2f |" % (label, str(dtype)[6:], rev, fwd, fwd / rev), flush=True)


if __name__ == "__main__":
    main()
