"""Optimality measures shared by the methods: violation, KKT stationarity, the best point.

For the normal form of :mod:`.problem` with multipliers ``lam`` (equalities) and
``mu >= 0`` (inequalities), the Lagrangian is ``f + lam.h + mu.g`` and

* the **violation** is ``max(|h|_inf, max(g, 0)_inf)`` (bounds hold by construction);
* the **stationarity residual** is ``s |x - clip(x - grad_x L / s, lb, ub)|_inf`` with the
  scale ``s = max(1, |grad f|_inf)``: the projected gradient of the Lagrangian, so that an
  active bound absorbs its own part of the gradient; it is compared with ``tol * s``.  The
  step is taken on the scaled gradient so that the projection cannot hide a huge gradient
  (near the pole of ``1/x`` the unscaled residual is capped by the distance to the bound,
  which a huge ``s`` would then call small).  For ``s = 1`` both forms agree.
"""
from __future__ import annotations

import numpy as np


def violation(h: np.ndarray, g: np.ndarray) -> float:
    """Largest equality residual or positive inequality residual."""
    v = 0.0
    if len(h):
        v = float(np.max(np.abs(h)))
    if len(g):
        v = max(v, float(np.max(g)))
    return max(v, 0.0)


def projected_residual(x: np.ndarray, grad: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> float:
    """``|x - clip(x - grad, lb, ub)|_inf``: zero exactly at a bound-constrained stationary point."""
    if not len(x):
        return 0.0
    return float(np.max(np.abs(x - np.clip(x - grad, lb, ub))))


def stationarity(nlp, x, vals, lam, mu) -> tuple[float, float]:
    """``(residual, scale)``: the projected gradient of ``f + lam.h + mu.g`` at ``x`` (on
    the scaled gradient, see the module docstring) and ``max(1, |grad f|_inf)``, the scale
    its tolerance is relative to."""
    gl = nlp.gradient(vals, 1.0, lam, mu)
    gf = nlp.gradient(vals, 1.0, np.zeros_like(lam), np.zeros_like(mu))
    scale = max(1.0, float(np.max(np.abs(gf), initial=0.0)))
    if not np.isfinite(scale):
        return projected_residual(x, gl, nlp.lb, nlp.ub), scale
    return scale * projected_residual(x, gl / scale, nlp.lb, nlp.ub), scale


class Best:
    """The best point seen: the least violation above ``tol``, then the least objective."""

    def __init__(self, tol: float):
        self.tol = tol
        self.key = None
        self.x = None
        self.lam = None
        self.mu = None

    def offer(self, x, f: float, viol: float, lam, mu) -> None:
        if not np.isfinite(f) or not np.isfinite(viol):
            return
        key = (max(viol, self.tol), f)
        if self.key is None or key < self.key:
            self.key, self.x, self.lam, self.mu = key, x.copy(), lam.copy(), mu.copy()
