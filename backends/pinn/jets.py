"""Forward-mode (Taylor) derivatives of a field network: ``u``, ``u_x`` and ``u_xy`` in one pass.

A PDE residual needs a field's value and a few of its first and second partial derivatives at
every collocation point.  Nested reverse-mode autograd computes them with one backward pass per
order, each building a graph of its own, so that the final backward for the weights runs
through three stacked graphs; for the small networks of PINNs those passes are hundreds of
tiny kernels, and their count, not the arithmetic, sets the time.  A :class:`Jet` instead
carries the value together with the wanted directional derivatives through the network, layer
by layer:

* a linear map acts on every derivative alike (``D W^T``; the bias only moves the value);
* an elementwise ``f`` follows the chain rule to second order,
  ``(f∘g)_i = f'(g) g_i`` and ``(f∘g)_ij = f''(g) g_i g_j + f'(g) g_ij``.

Derivatives are stacked along a leading axis so that each layer costs a handful of batched
operations whatever their number, and the weights' gradient is one ordinary backward pass
through that forward graph.  Higher orders (``d(u, x, x, x, x)``) start from the second-order
jet and continue with autograd, which the jet's tensors support since they are differentiable
functions of the inputs.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _tanh(z, second):
    s = torch.tanh(z)
    s1 = 1.0 - s * s
    return s, s1, (-2.0 * s * s1 if second else None)


def _sin(z, second):
    s, c = torch.sin(z), torch.cos(z)
    return s, c, (-s if second else None)


def _cos(z, second):
    c, s = torch.cos(z), torch.sin(z)
    return c, -s, (-c if second else None)


def _silu(z, second):
    sg = torch.sigmoid(z)
    d = sg * (1.0 - sg)
    return z * sg, sg + z * d, (d * (2.0 + z * (1.0 - 2.0 * sg)) if second else None)


def _softplus(z, second):
    # torch's Softplus is linear above its threshold 20; so is its derivative then
    sg = torch.sigmoid(z)
    big = z > 20.0
    s = torch.where(big, z, F.softplus(z))
    s1 = torch.where(big, torch.ones_like(z), sg)
    return s, s1, (torch.where(big, torch.zeros_like(z), sg * (1.0 - sg)) if second else None)


def _gelu(z, second):
    cdf = 0.5 * (1.0 + torch.erf(z * _SQRT_HALF))
    pdf = _INV_SQRT_2PI * torch.exp(-0.5 * z * z)
    return z * cdf, cdf + z * pdf, (pdf * (2.0 - z * z) if second else None)


#: activation (or embedding) name -> ``f(z, second) -> (f, f', f'' or None)``
ELEMENTWISE = {"tanh": _tanh, "sin": _sin, "cos": _cos, "silu": _silu, "softplus": _softplus, "gelu": _gelu}

#: ``f -> c`` for the activations whose second derivative is ``c f f'`` (tanh: ``-2 f f'``):
#: :meth:`Jet.apply` then forms ``(f∘g)_ij = f' (g_ij + c f g_i g_j)`` in two kernels instead of
#: five, without ``f''`` (tanh is the default activation, and the jet sits in every step)
SECOND_FROM_FIRST = {_tanh: -2.0}


def _selector(idx: list, k1: int):
    """How to pick the first-derivative rows ``idx`` out of ``k1``: None for all of them in
    order (``u_xx`` alone, the common case), a slice for a run, else an index tensor.  On every
    layer an index tensor costs a gather forward and a scatter-add backward, a slice a copy
    into zeros backward; taking the rows as they are costs nothing."""
    if idx == list(range(k1)):
        return None
    if idx == list(range(idx[0], idx[0] + len(idx))):
        return slice(idx[0], idx[0] + len(idx))
    return torch.tensor(idx, dtype=torch.long)


class Jet:
    """Values ``V`` (``n x m``) with first derivatives ``D1`` (``k1 x n x m``, or broadcastable:
    ``k1 x 1 x m`` while they are constant) along ``k1`` input directions, and second
    derivatives ``D2`` (``k2 x n x m``, or None while they are all zero) for the direction pairs
    ``pairs`` (indices into the first derivatives)."""

    def __init__(self, V, D1, D2, pairs):
        self.V, self.D1, self.D2, self.pairs = V, D1, D2, pairs
        if pairs:
            k1 = D1.shape[0]
            self._i = _selector([a for a, _ in pairs], k1)
            self._j = _selector([b for _, b in pairs], k1)
            self._square = all(a == b for a, b in pairs)

    @classmethod
    def seed(cls, X: torch.Tensor, seeds: torch.Tensor, pairs: list) -> "Jet":
        """The jet of the inputs themselves: ``d X / d s = s`` for each seed direction ``s``."""
        return cls(X, seeds.to(X.dtype)[:, None, :], None, pairs)

    def _like(self, V, D1, D2) -> "Jet":
        out = Jet.__new__(Jet)
        out.V, out.D1, out.D2, out.pairs = V, D1, D2, self.pairs
        if self.pairs:
            out._i, out._j, out._square = self._i, self._j, self._square
        return out

    def affine(self, scale, shift) -> "Jet":
        """``V * scale + shift`` columnwise (derivatives scale, the shift drops out)."""
        return self._like(self.V * scale + shift, self.D1 * scale, None if self.D2 is None else self.D2 * scale)

    def linear(self, W, b=None) -> "Jet":
        """``V W^T + b``."""
        return self._like(F.linear(self.V, W, b), F.linear(self.D1, W),
                          None if self.D2 is None else F.linear(self.D2, W))

    def columns(self, idx) -> "Jet":
        """The columns ``idx`` of every part."""
        return self._like(self.V[:, idx], self.D1[..., idx], None if self.D2 is None else self.D2[..., idx])

    def apply(self, f) -> "Jet":
        """``f`` elementwise, by the chain rule to second order (``f`` as in :data:`ELEMENTWISE`)."""
        c = SECOND_FROM_FIRST.get(f)
        s, s1, s2 = f(self.V, bool(self.pairs) and c is None)
        D1 = s1 * self.D1
        D2 = None
        if self.pairs:
            Di = self.D1 if self._i is None else self.D1[self._i]
            g = Di * Di if self._square else Di * (self.D1 if self._j is None else self.D1[self._j])
            if c is not None:
                D2 = s1 * (c * s * g if self.D2 is None else torch.addcmul(self.D2, s, g, value=c))
            else:
                D2 = s2 * g if self.D2 is None else s2 * g + s1 * self.D2
        return self._like(s, D1, D2)

    @staticmethod
    def cat(parts: list) -> "Jet":
        """Columns of several jets side by side (same directions and pairs)."""
        n = max(p.V.shape[0] for p in parts)
        V = torch.cat([p.V for p in parts], dim=-1)
        k1 = parts[0].D1.shape[0]
        D1 = torch.cat([p.D1.expand(k1, n, p.D1.shape[-1]) for p in parts], dim=-1)
        if all(p.D2 is None for p in parts):
            D2 = None
        else:
            k2 = len(parts[0].pairs)
            D2 = torch.cat([torch.zeros(k2, n, p.V.shape[-1], dtype=p.V.dtype) if p.D2 is None else p.D2
                            for p in parts], dim=-1)
        return parts[0]._like(V, D1, D2)

    def outputs(self):
        """Value, first and second derivatives of a one-column jet: ``(n,)``, ``(k1, n)``, ``(k2, n)``."""
        n = self.V.shape[0]
        D1 = self.D1[..., 0].expand(self.D1.shape[0], n)
        if self.D2 is None:
            D2 = torch.zeros(len(self.pairs), n, dtype=self.V.dtype)
        else:
            D2 = self.D2[..., 0].expand(len(self.pairs), n)
        return self.V[:, 0], D1, D2
