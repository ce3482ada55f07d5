"""Projected Adam steps (Kingma & Ba) on the box ``lb <= x <= ub``, in numpy.

The gradients come from an oracle (numpy tape or torch, full or minibatch); the optimiser
state is three vectors, so memory stays linear in the number of unknowns.
"""
from __future__ import annotations

import numpy as np


class Adam:
    """``step(grad)`` moves ``x`` and projects it back onto the bounds."""

    def __init__(self, x: np.ndarray, lb: np.ndarray, ub: np.ndarray, lr: float,
                 betas=(0.9, 0.999), eps: float = 1e-8):
        self.x = np.clip(x, lb, ub).copy()
        self.lb, self.ub, self.lr = lb, ub, lr
        self.b1, self.b2, self.eps = betas[0], betas[1], eps
        self.m = np.zeros_like(self.x)
        self.v = np.zeros_like(self.x)
        self.t = 0

    def step(self, grad: np.ndarray) -> np.ndarray:
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad * grad
        mh = self.m / (1 - self.b1 ** self.t)
        vh = self.v / (1 - self.b2 ** self.t)
        self.x = np.clip(self.x - self.lr * mh / (np.sqrt(vh) + self.eps), self.lb, self.ub)
        return self.x
