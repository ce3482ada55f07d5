"""Bounds on which the model is not defined: ``log(p)``, ``p*log(p)``, ``sqrt(x)`` at 0.

A bound-constrained solver steps onto its bounds (L-BFGS-B's first step is a projection):
where the value or the gradient is not finite there (``log(0) = -inf``, ``0*log(0) = nan``,
``d sqrt(x)/dx = inf`` at 0), its line search cannot recover and the run never leaves its
start.  :class:`Box` keeps an *effective* box for the inner solver: a bound found hazardous
(a non-finite evaluation at a point on it) is moved a little inside, by a margin that
shrinks while the solution presses against it, so that an interior optimum close to the
bound (a maximum-entropy weight of 1e-8) is still reached.  :func:`interior_start` moves a
start at which the model is not finite a little inside, or off the singular point.
"""
from __future__ import annotations

import numpy as np

#: First margin, as a fraction of the distance from the last finite point to the bound.
FIRST = 1e-3

#: Each shrink multiplies the margin by this; below ``FLOOR * max(1, |bound|)`` it stops.
SHRINK = 1e-3
FLOOR = 1e-12


def finite(value, grad) -> bool:
    """Both the value and every entry of the gradient are finite numbers."""
    return bool(np.isfinite(value)) and bool(np.all(np.isfinite(grad)))


class Box:
    """The inner solver's box: the user's bounds, moved inside where found hazardous."""

    def __init__(self, lb: np.ndarray, ub: np.ndarray):
        self.lb, self.ub = lb, ub
        self.lo, self.hi = lb.copy(), ub.copy()

    def tighten(self, bad: np.ndarray, good: np.ndarray) -> bool:
        """After a non-finite evaluation at ``bad``, move inside the bounds that ``bad`` sits
        on and ``good`` (a finite point) does not; False when there are none."""
        at_lo = (bad <= self.lo) & (good > self.lo)
        at_hi = (bad >= self.hi) & (good < self.hi)
        if not (at_lo.any() or at_hi.any()):
            return False
        self.lo[at_lo] = self.lo[at_lo] + FIRST * (good[at_lo] - self.lo[at_lo])
        self.hi[at_hi] = self.hi[at_hi] - FIRST * (self.hi[at_hi] - good[at_hi])
        return True

    def moved(self) -> bool:
        """Whether any bound has been moved inside."""
        return bool(np.any(self.lo > self.lb) or np.any(self.hi < self.ub))

    def pressed(self, x: np.ndarray, grad: np.ndarray):
        """Masks of the moved lower and upper bounds that ``x`` sits on with the gradient
        pointing outwards (the solution wants to go closer to the user's bound)."""
        lo = (self.lo > self.lb) & (x <= self.lo) & (grad > 0)
        hi = (self.hi < self.ub) & (x >= self.hi) & (grad < 0)
        return lo, hi

    def shrink(self, x: np.ndarray, grad: np.ndarray):
        """Bring the pressed moved bounds closer to the user's (down to ``FLOOR``) and ``x``
        onto them: the new point, or None when no bound could move."""
        lo, hi = self.pressed(x, grad)
        lo &= (self.lo - self.lb) > FLOOR * np.maximum(1.0, np.abs(self.lb))
        hi &= (self.ub - self.hi) > FLOOR * np.maximum(1.0, np.abs(self.ub))
        if not (lo.any() or hi.any()):
            return None
        self.lo[lo] = self.lb[lo] + SHRINK * (self.lo[lo] - self.lb[lo])
        self.hi[hi] = self.ub[hi] - SHRINK * (self.ub[hi] - self.hi[hi])
        z = x.copy()
        z[lo], z[hi] = self.lo[lo], self.hi[hi]
        return z

    def against(self, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """Indices of unknowns held by a moved bound: on it, with the gradient pushing them
        towards the user's bound, on which the model is not differentiable — the projected
        gradient is small only because of the moved bound, and KKT conditions say nothing
        there.  (An unknown strictly inside the moved bound is an interior solution.)"""
        with np.errstate(invalid="ignore"):
            lo = (self.lo > self.lb) & (x <= self.lo) & ~(grad <= 0)
            hi = (self.hi < self.ub) & (x >= self.hi) & ~(grad >= 0)
        return np.flatnonzero(lo | hi)


def interior_start(value_grad, x0: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """``x0``, or where the model's value or gradient is not finite there, a point close to
    it where both are: unknowns on a bound move inside, others a little either way (the
    side with the lower value).  ``x0`` itself when no such point is found."""
    v0, g0 = value_grad(x0)
    if finite(v0, g0):
        return x0
    width = ub - lb
    step = 1e-3 * np.maximum(1.0, np.abs(x0))
    step = np.where(np.isfinite(width), np.minimum(step, 0.5 * width), step)
    on_lo, on_hi = x0 <= lb, x0 >= ub
    bad = ~np.isfinite(g0)
    if not bad.any():          # the value alone is not finite: move every unknown
        bad = np.ones(len(x0), bool)
    best, best_v = x0, np.inf
    for sign in (1.0, -1.0):
        z = x0.copy()
        z[bad] = x0[bad] + sign * step[bad]
        z[on_lo] = lb[on_lo] + step[on_lo]
        z[on_hi] = ub[on_hi] - step[on_hi]
        z = np.clip(z, lb, ub)
        v, g = value_grad(z)
        if finite(v, g) and v < best_v:
            best, best_v = z, v
    return best
