"""Second-order checks before ``optimal``: is a stationary point a local minimum?

A first-order method stops wherever the projected gradient vanishes — at a minimum, but
also at a saddle point or a maximum it started on (``-x^2`` from 0), or at an inflection
(``x^3`` after a run towards it).  Before a method reports ``optimal``, :func:`probe`
looks for a way down from ``x`` in the space of the *free* unknowns (those strictly inside
their bounds; an active bound is not a direction to explore):

1. **curvature** — a few Lanczos steps on the Hessian of the function the inner solver
   minimises (the augmented Lagrangian ``L_rho`` at the current multipliers), whose
   products are central differences of its exact gradient: ``H v ~ (grad(x + e v) -
   grad(x - e v)) / 2e``.  On a small free space the Lanczos run is complete (exact lowest
   eigenvalue), on a large one it is a cheap estimate;
2. **a step** along the lowest-curvature direction, both signs, at a few lengths: where the
   curvature is negative, or too small to decide (``x^3`` at 0), a point with a lower
   ``L_rho`` by a clear margin is the evidence that ``x`` is not a minimum.  Without
   constraint rows ``L_rho`` is the objective, and the steps are tried whatever the
   curvature (a handful of evaluations).

The caller continues its method from that point (see :mod:`.alm`) rather than only
downgrading the status: the user wants the minimum.  When no lower point is found the
stationary point stands.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Lanczos steps at most (each costs two gradient evaluations).
LANCZOS = 20

#: Step lengths tried along the descent direction, as fractions of ``max(1, |x|_inf)``.
STEPS = (1.0, 0.25, 1e-1, 1e-2, 1e-3)


@dataclass
class Probe:
    """What :func:`probe` found: ``point`` with a lower ``L_rho`` (None: none found), the
    lowest curvature measured and the number of evaluations it took."""

    point: np.ndarray | None
    curvature: float
    evaluations: int


def free_mask(x, lb, ub, eps: float) -> np.ndarray:
    """Unknowns at least ``2 eps`` inside both bounds: the space a probe may move in."""
    return (x - lb > 2 * eps) & (ub - x > 2 * eps)


def lowest_curvature(hv, n: int, rng, steps: int = LANCZOS):
    """``(theta, v)``: the smallest Ritz value of the symmetric operator ``hv`` on R^n and
    its unit Ritz vector, by Lanczos with full reorthogonalisation from a random start."""
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    Q, alpha, beta = [q], [], []
    for j in range(min(steps, n)):
        w = hv(Q[j])
        a = float(Q[j] @ w)
        alpha.append(a)
        basis = np.array(Q)
        w = w - basis.T @ (basis @ w)
        w = w - basis.T @ (basis @ w)        # twice is enough (Kahan)
        b = float(np.linalg.norm(w))
        if j == min(steps, n) - 1 or not np.isfinite(b) or b <= 1e-12 * max(1.0, abs(a)):
            break
        beta.append(b)
        Q.append(w / b)
    k = len(alpha)
    T = np.diag(alpha) + np.diag(beta[:k - 1], 1) + np.diag(beta[:k - 1], -1)
    if not np.all(np.isfinite(T)):
        return float("nan"), Q[0]
    vals, vecs = np.linalg.eigh(T)
    v = np.array(Q[:k]).T @ vecs[:, 0]
    return float(vals[0]), v / max(float(np.linalg.norm(v)), 1e-300)


def probe(value_grad, x, lb, ub, rng, margin_rel: float = 1e-6, exact: bool = False) -> Probe:
    """Look for a point near the stationary point ``x`` with a clearly lower value of
    ``value_grad(z) -> (value, gradient)`` (see the module docstring).  ``exact``: the
    value is the objective itself (no constraint rows), so the steps are tried even where
    the curvature is positive — a lower value is then a lower objective, and only steps
    tell an inflection approached from above (``x^3`` near 0) from a minimum."""
    count = [0]

    def vg(z):
        count[0] += 1
        return value_grad(z)

    f0, _ = vg(x)
    if not np.isfinite(f0):
        return Probe(None, float("nan"), count[0])
    scale = max(1.0, float(np.max(np.abs(x), initial=0.0)))
    eps = np.cbrt(np.finfo(float).eps) * scale
    free = np.flatnonzero(free_mask(x, lb, ub, eps))
    if not len(free):
        return Probe(None, float("inf"), count[0])

    def hv(d):
        D = np.zeros(len(x))
        D[free] = d
        _, gp = vg(x + eps * D)
        _, gm = vg(x - eps * D)
        return (gp[free] - gm[free]) / (2 * eps)

    theta, v = lowest_curvature(hv, len(free), rng)
    if not np.isfinite(theta):
        return Probe(None, theta, count[0])
    # curvature judged against the function's own scale: |grad| is ~0 here, so use the
    # largest Hessian entry seen along v (a relative test, like the stationarity one)
    Hv = hv(v)
    thr = 1e-6 * max(1.0, float(np.max(np.abs(Hv), initial=0.0)))
    if theta > thr and not exact:
        return Probe(None, theta, count[0])
    margin = margin_rel * max(1.0, abs(f0))
    D = np.zeros(len(x))
    D[free] = v
    for t in STEPS:
        for sign in (1.0, -1.0):
            z = np.clip(x + sign * t * scale * D, lb, ub)
            fz, _ = vg(z)
            if np.isfinite(fz) and fz < f0 - margin:
                return Probe(z, theta, count[0])
    return Probe(None, theta, count[0])
