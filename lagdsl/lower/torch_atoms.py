"""The atoms of :mod:`lagdsl.ir.atoms` as differentiable torch functions (the lagrangian
backend's torch engine and the pinn backend).

Autograd through the atoms' ``where`` forms would give 0 for the derivative of ``entr`` at
0 and nan where a masked branch is not finite; :class:`_AtomFn` instead returns the atom's
own partial derivatives — the one-sided limit on the boundary (``+inf`` for ``entr`` at 0),
0 wherever the incoming gradient is 0 — computed with torch operations, so that second
derivatives (the pinn backend's ``d(entr(u), x, x)``) are taken through them.
"""
from __future__ import annotations

import torch

from ..ir.atoms import ATOMS


def _unbroadcast(g: torch.Tensor, shape) -> torch.Tensor:
    """``g`` summed back to an argument's shape (a one-row argument broadcast over rows)."""
    if g.shape == shape:
        return g
    while g.dim() > len(shape):
        g = g.sum(0)
    for k, n in enumerate(shape):
        if n == 1 and g.shape[k] != 1:
            g = g.sum(k, keepdim=True)
    return g


class _AtomFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, name, *args):
        ctx.name = name
        ctx.save_for_backward(*args)
        return ATOMS[name].value(torch, *args)

    @staticmethod
    def backward(ctx, grad):
        args = ctx.saved_tensors
        parts = ATOMS[ctx.name].partials(torch, *args)
        out = []
        for a, p in zip(args, parts):
            if not ctx.needs_input_grad[1 + len(out)]:
                out.append(None)
                continue
            g = torch.where(grad == 0, torch.zeros_like(p), grad * p)
            out.append(_unbroadcast(g, a.shape))
        return (None, *out)


def atom(name: str, args: list) -> torch.Tensor:
    """The atom ``name`` of tensor arguments (a number is made a tensor like the others)."""
    ref = next((a for a in args if isinstance(a, torch.Tensor)), torch.zeros((), dtype=torch.float64))
    args = [a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=ref.dtype, device=ref.device)
            for a in args]
    return _AtomFn.apply(name, *args)
