"""The Lagrangian methods' algebra over PyTorch tensors, and tapes replayed in it.

:class:`TorchAlgebra` implements the :class:`~lagdsl.lower.evaluate.Algebra` protocol with
float64 tensors on a device (a value is one tensor over all rows of a family; an aggregate over
a set is a segment reduction of :mod:`lagdsl.lower.torch_segments`), so the evaluator can build a
differentiable objective and residuals directly.  :class:`TorchTape` replays a recorded
:mod:`.tape` in it instead: the model's constants are moved to the device once, and each
iteration is one pass of tensor operations, differentiated by autograd.
"""
from __future__ import annotations

import numpy as np
import torch

from lagdsl.ir.atoms import ATOMS
from lagdsl.lower.torch_atoms import atom as torch_atom
from lagdsl.lower.torch_segments import segment_reduce

from .tape import Node, Ref, replay

_FUNCS = {"exp": torch.exp, "log": torch.log, "sin": torch.sin, "cos": torch.cos,
          "tan": torch.tan, "tanh": torch.tanh, "abs": torch.abs, "sigmoid": torch.sigmoid}


class TorchAlgebra:
    """Per-row values as tensors; the unknowns are the flat tensor ``x``."""

    def __init__(self, x: torch.Tensor, offsets: dict | None = None):
        self.x = x
        self.offsets = offsets or {}
        self.dtype, self.device = x.dtype, x.device

    def tensor(self, a, dtype=None) -> torch.Tensor:
        if isinstance(a, torch.Tensor):
            return a
        return torch.as_tensor(np.asarray(a), dtype=dtype or self.dtype, device=self.device)

    def const(self, values):
        return self.tensor(values)

    def var(self, name, flat):
        return self.gather(self.offsets[name][0] + np.asarray(flat, dtype=np.int64))

    def gather(self, cols):
        return self.x[self.tensor(cols, torch.int64)]

    def add(self, a, b):
        return a + b

    def mul(self, a, b):
        return a * b

    def pow(self, a, p):
        if isinstance(p, torch.Tensor) and p.numel() and not p.requires_grad and bool(torch.all(p == 2)):
            return a * a
        return torch.pow(a, p)

    def func(self, name, args):
        if name in ("min", "max"):
            f = torch.minimum if name == "min" else torch.maximum
            out = args[0]
            for b in args[1:]:
                out = f(out, b)
            return out
        if name in ATOMS:
            return torch_atom(name, [self.tensor(a) for a in args])
        return _FUNCS[name](args[0])

    def take(self, a, idx):
        return a[self.tensor(idx, torch.int64)]

    def reduce(self, kind, values, parent, n):
        return segment_reduce(kind, values, self.tensor(parent, torch.int64), n)


class TorchTape:
    """A recorded tape with its constants on ``device``, replayed per call."""

    def __init__(self, nodes: list[Node], outputs: list, device: str = "cpu",
                 dtype: torch.dtype = torch.float64):
        self.device, self.dtype = torch.device(device), dtype
        conv = TorchAlgebra(torch.zeros(0, dtype=dtype, device=self.device))

        def t(a):
            return a if isinstance(a, Ref) else conv.tensor(a)

        self.nodes = []
        for nd in nodes:
            data = nd.data
            if nd.op in ("var", "take"):
                data = conv.tensor(data, torch.int64)
            elif nd.op == "reduce":
                data = (data[0], conv.tensor(data[1], torch.int64))
            self.nodes.append(Node(nd.op, tuple(t(a) for a in nd.args), data, nd.n))
        self.outputs = [o if isinstance(o, Ref) else conv.tensor(o) for o in outputs]

    def __call__(self, x: torch.Tensor) -> list:
        """The outputs at ``x`` (a tensor; differentiable when ``x`` requires grad)."""
        return replay(self.nodes, TorchAlgebra(x), self.outputs)
