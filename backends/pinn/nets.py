"""The networks that represent fields: one multilayer perceptron per field.

Inputs are first mapped affinely from the field's box to ``[-1, 1]`` (so that ``t`` in
``[0, 100]`` and ``x`` in ``[0, 1e-3]`` train alike), then optionally embedded: random Fourier
features (Tancik et al. 2020) against spectral bias, and exact periodic embeddings
``cos/sin(2 pi k (c - lo) / L)`` for coordinates the user names, which make the field periodic
in those coordinates by construction.  Everything a network needs to be rebuilt is in its
:attr:`FieldNet.config` (plain JSON) and its ``state_dict`` (tensors only), so that saved
weights load with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .jets import ELEMENTWISE, SECOND_FROM_FIRST, Jet

ACTIVATIONS = {"tanh": nn.Tanh, "sin": None, "gelu": nn.GELU, "silu": nn.SiLU, "softplus": nn.Softplus}


class Sine(nn.Module):
    """``sin(z)``: an activation whose derivatives of every order stay informative."""

    def forward(self, z):
        return torch.sin(z)


class FieldNet(nn.Module):
    """``u(coords) -> R``: normalisation, embedding, then a tanh/sin/... MLP.

    ``config`` keys: ``coords`` (names, in order), ``box`` (``[lo, hi]`` per coordinate),
    ``width``, ``depth`` (hidden layers), ``activation``, ``fourier`` (number of random
    features, 0 = none), ``fourier_scale``, ``periodic`` (coordinate names), ``harmonics``.
    """

    def __init__(self, config: dict, generator: torch.Generator | None = None):
        super().__init__()
        self.config = dict(config)
        coords = list(config["coords"])
        box = torch.tensor(config["box"], dtype=torch.float64).reshape(len(coords), 2)
        self.register_buffer("lo", box[:, 0].clone())
        self.register_buffer("span", (box[:, 1] - box[:, 0]).clone())
        # the same map to [-1, 1] as one multiply-add, for the common plain case (it sits in
        # every forward and every derivative pass); derived, so not saved
        self.register_buffer("scale", 2.0 / self.span, persistent=False)
        self.register_buffer("shift", -2.0 * self.lo / self.span - 1.0, persistent=False)
        periodic = [coords.index(c) for c in config.get("periodic", ())]
        plain = [k for k in range(len(coords)) if k not in periodic]
        self.register_buffer("plain_idx", torch.tensor(plain, dtype=torch.long))
        self.register_buffer("periodic_idx", torch.tensor(periodic, dtype=torch.long))
        harmonics = int(config.get("harmonics", 1))
        self.register_buffer("freqs", torch.arange(1, harmonics + 1, dtype=torch.float64))
        n_in = len(plain) + 2 * harmonics * len(periodic)
        nf = int(config.get("fourier", 0))
        B = torch.randn(nf, n_in, generator=generator, dtype=torch.float64) * float(config.get("fourier_scale", 1.0))
        self.register_buffer("B", B)
        width, depth = int(config["width"]), int(config["depth"])
        act = config.get("activation", "tanh")
        layers, d = [], (2 * nf if nf else n_in)
        for _ in range(depth):
            lin = nn.Linear(d, width, dtype=torch.float64)
            layers += [lin, Sine() if act == "sin" else ACTIVATIONS[act]()]
            d = width
        layers.append(nn.Linear(d, 1, dtype=torch.float64))
        self.mlp = nn.Sequential(*layers)
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                # Glorot (as DeepXDE and Raissi et al.): keeps tanh units out of saturation
                nn.init.xavier_normal_(m.weight, generator=generator)
                nn.init.zeros_(m.bias)

    def embed(self, X: torch.Tensor) -> torch.Tensor:
        """The network's input features for points ``X`` (``n x len(coords)``)."""
        if not len(self.periodic_idx) and not self.B.shape[0]:
            return X * self.scale + self.shift
        Z = (X - self.lo) / self.span
        parts = [2.0 * Z[:, self.plain_idx] - 1.0] if len(self.plain_idx) else []
        if len(self.periodic_idx):
            ang = 2 * math.pi * Z[:, self.periodic_idx, None] * self.freqs
            parts += [torch.cos(ang).flatten(1), torch.sin(ang).flatten(1)]
        H = torch.cat(parts, dim=1)
        if self.B.shape[0]:
            P = 2 * math.pi * H @ self.B.T
            H = torch.cat([torch.sin(P), torch.cos(P)], dim=1)
        return H

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.embed(X)).squeeze(-1)

    @property
    def activation_rule(self):
        """The activation's second-order rule for :meth:`jet` (an entry of ``ELEMENTWISE``)."""
        return ELEMENTWISE[self.config.get("activation", "tanh")]

    @property
    def folded_second_order(self) -> bool:
        """Whether the activation's second derivative folds into its first (tanh's ``-2 f f'``),
        which makes :meth:`jet` cheap enough to beat reverse mode even where a first-only
        derivative rides along (``TorchEvaluator._make_plan``)."""
        return self.activation_rule in SECOND_FROM_FIRST

    def jet(self, X: torch.Tensor, seeds: torch.Tensor, pairs: list):
        """The value at ``X`` with its derivatives along the input directions ``seeds``
        (``k1 x len(coords)``) and the second derivatives for ``pairs`` of them, in one
        forward pass (:mod:`.jets`): ``(n,)``, ``(k1, n)``, ``(k2, n)`` tensors."""
        J = self._embed_jet(Jet.seed(X, seeds, pairs))
        act = self.activation_rule
        for m in self.mlp:
            J = J.linear(m.weight, m.bias) if isinstance(m, nn.Linear) else J.apply(act)
        return J.outputs()

    def _embed_jet(self, J: Jet) -> Jet:
        """:meth:`embed` on a jet (the same operations, carried to second order)."""
        if not len(self.periodic_idx) and not self.B.shape[0]:
            return J.affine(self.scale, self.shift)
        Z = J.affine(1.0 / self.span, -self.lo / self.span)
        parts = [Z.columns(self.plain_idx).affine(2.0, -1.0)] if len(self.plain_idx) else []
        if len(self.periodic_idx):
            h = len(self.freqs)
            # angle column p * h + k is 2 pi Z[:, periodic[p]] * freqs[k], as in embed's flatten
            ang = Z.columns(self.periodic_idx.repeat_interleave(h)).affine(
                2 * math.pi * self.freqs.repeat(len(self.periodic_idx)), 0.0)
            parts += [ang.apply(_COS), ang.apply(_SIN)]
        H = Jet.cat(parts)
        if self.B.shape[0]:
            P = H.linear(2 * math.pi * self.B)
            H = Jet.cat([P.apply(_SIN), P.apply(_COS)])
        return H


_SIN, _COS = ELEMENTWISE["sin"], ELEMENTWISE["cos"]


def build_net(config: dict, seed: int) -> FieldNet:
    """A fresh network for ``config`` with weights drawn from ``seed``."""
    g = torch.Generator().manual_seed(int(seed))
    return FieldNet(config, g)
