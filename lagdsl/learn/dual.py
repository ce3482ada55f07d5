"""Dual bounds from predicted multipliers (Dual Lagrangian Learning, Tanneau & Van
Hentenryck 2024): the inequality multipliers ``lam >= 0`` predicted by a policy are
completed into a dual-feasible point, whose Lagrangian dual value is a *proven* bound on
the optimum of each instance.

In the minimising sense, with ``f(y) = 1/2 y'Hy + c'y + off`` and the rows of a
:class:`~lagdsl.learn.completion.Completion` (equalities ``E y = b``, inequalities
``Gi y <= hi``, bounds ``lb <= y <= ub`` kept in the inner problem)::

    d(mu, lam) = off - mu'b - lam'hi + min_{lb <= y <= ub} 1/2 y'Hy + r'y,
    r = c + E'mu + Gi'lam

is at most the optimum for every ``mu`` and every ``lam >= 0``.  The equality multipliers
are completed in closed form: where ``H`` is positive definite and no variable is bounded,
the best ``mu`` given ``lam`` (a linear solve, factorised once), and then a few projected
gradient-ascent steps on ``lam`` (step 1/L, L the dual function's curvature) improve the
predicted multipliers, keeping the best bound seen; otherwise ``mu`` makes the reduced
costs of the free linear unknowns vanish (where the equalities allow: else the bound is
``-inf``; a reduced cost within 1e-9 relative of zero counts as zero, so such a bound is exact
up to rounding) and, within what that leaves free, fits the stationarity of the Lagrangian at
the policy's answer (least squares); the inner minimum is then taken separably (``H`` diagonal or zero: each variable's own box; an unbounded direction with a
non-zero reduced cost gives ``-inf``, still valid).  A non-diagonal ``H`` with bounds has no
closed form here: no bound, and the reason.
"""
from __future__ import annotations

import numpy as np


class DualBound:
    """The bound for one completion (see the module docstring)."""

    def __init__(self, comp):
        f = comp.fam
        self.comp, self.fam = comp, f
        s = f.sense
        A = f.A.toarray() if f.M else np.zeros((0, f.N))
        self.E = A[comp.eq_rows]
        self.Gi = np.vstack([A[comp.up], -A[comp.dn]])
        self.ni = self.Gi.shape[0]
        self.H = None if f.H is None else s * f.H
        bounded = np.isfinite(f.lb).any() or np.isfinite(f.ub).any()
        self.mode, self.reason = None, None
        if self.H is not None and not bounded:
            try:
                L = np.linalg.cholesky(self.H)
            except np.linalg.LinAlgError:
                L = None
            if L is not None:
                self.mode = "closed"
                self.Hinv = np.linalg.inv(self.H)
                EHi = self.E @ self.Hinv
                self.EHi = EHi
                self.Sinv = np.linalg.pinv(EHi @ self.E.T) if len(self.E) else np.zeros((0, 0))
                # curvature of the dual function in lam once mu is eliminated: Gi P Gi'
                P = self.Hinv - (EHi.T @ self.Sinv @ EHi if len(self.E) else 0.0)
                curv = self.Gi @ P @ self.Gi.T
                self.step = 1.0 / max(float(np.linalg.norm(curv, 2)), 1e-300) if self.ni else 0.0
                self.C = -curv                      # d(gradient)/d(lam)
                self.HiGt = self.Hinv @ self.Gi.T
        if self.mode is None:
            diag = self.H is None or np.count_nonzero(self.H - np.diag(np.diag(self.H))) == 0
            if diag:
                self.mode = "separable"
                self.h = np.zeros(f.N) if self.H is None else np.diag(self.H).copy()
                self._split()
            else:
                self.reason = ("the objective's quadratic part is not diagonal and some unknowns "
                               "are bounded: no closed-form dual completion")

    def _split(self) -> None:
        """The separable case's completion of ``mu``: exact on the free linear columns
        (their reduced cost must vanish, else the inner minimum is -inf), least squares on
        the others within what that leaves free."""
        f, E = self.fam, self.E
        free = ~np.isfinite(f.lb) & ~np.isfinite(f.ub) & (self.h == 0)
        self.F, self.O = np.flatnonzero(free), np.flatnonzero(~free)
        m = len(E)
        if m == 0:
            self.AF = np.zeros((0, len(self.F)))
            self.Nf = np.zeros((0, 0))
            self.BO = np.zeros((0, len(self.O)))
            return
        EF, EO = E[:, self.F], E[:, self.O]
        self.AF = np.linalg.pinv(EF.T)                              # (m, |F|)
        # what E_F' mu = -q_F leaves free: the null space of E_F'
        if len(self.F):
            _, sv, vt = np.linalg.svd(EF.T, full_matrices=True)
            rank = int(np.sum(sv > 1e-12 * max(sv.max(initial=0.0), 1e-300)))
            self.Nf = vt[rank:].T                                   # (m, k)
        else:
            self.Nf = np.eye(m)
        self.BO = np.linalg.pinv(EO.T @ self.Nf) if self.Nf.size else np.zeros((0, len(self.O)))

    def _closed(self, lam, cm, offm, b, h) -> np.ndarray:
        """The dual function at ``lam`` with the best ``mu`` (closed-form case)."""
        q = cm + lam @ self.Gi
        if len(self.E):
            mu = -(b + q @ self.EHi.T) @ self.Sinv.T
            r = q + mu @ self.E
        else:
            mu, r = np.zeros((len(cm), 0)), q
        return (offm - np.einsum("br,br->b", mu, b) - np.einsum("bi,bi->b", lam, h)
                - 0.5 * np.einsum("bn,bn->b", r @ self.Hinv, r))

    def bound(self, lam: np.ndarray, Y: np.ndarray, c: np.ndarray, off: np.ndarray,
              lo: np.ndarray, hi: np.ndarray, steps: int = 0) -> np.ndarray | None:
        """Per instance, the proven bound on the optimum *in the user's sense* (a lower
        bound when minimising, an upper one when maximising); None when there is none.
        With ``steps`` (closed form only), that many projected gradient-ascent steps on the
        dual function from the predicted ``lam`` first: every ``lam >= 0`` gives a valid
        bound, and with a step of 1/L the ascent never goes down."""
        if self.mode is None:
            return None
        f, comp = self.fam, self.comp
        s = f.sense
        cm, offm = s * c, s * off
        b = lo[:, comp.eq_rows]
        h = np.concatenate([hi[:, comp.up], -lo[:, comp.dn]], axis=1)
        lam = np.maximum(lam[:, :self.ni], 0.0)
        q = cm + lam @ self.Gi
        if self.mode == "closed":
            first = self._closed(lam, cm, offm, b, h)
            if steps and self.ni:
                # the dual gradient in lam is affine: a0 + lam C (mu eliminated); projected
                # ascent with step 1/L never decreases the dual function, so the last point
                # is the best (the first is kept too, against rounding)
                q0 = cm - ((b + cm @ self.EHi.T) @ self.Sinv.T) @ self.E if len(self.E) else cm
                a0 = -(q0 @ self.HiGt) - h
                for _ in range(steps):
                    lam = np.maximum(0.0, lam + self.step * (a0 + lam @ self.C))
                return s * np.maximum(first, self._closed(lam, cm, offm, b, h))
            return s * first
        grad = q if self.H is None else q + Y @ self.H
        if len(self.E):
            mu = -(q[:, self.F] @ self.AF.T)
            if self.Nf.size:
                z = -((grad[:, self.O] + mu @ self.E[:, self.O]) @ self.BO.T)
                mu = mu + z @ self.Nf.T
        else:
            mu = np.zeros((len(c), 0))
        r = q + mu @ self.E
        # free linear columns: a reduced cost at rounding level is zero (else -inf stays)
        rf = r[:, self.F]
        tiny = np.abs(rf) <= 1e-9 * (1.0 + np.abs(q[:, self.F]))
        r[:, self.F] = np.where(tiny, 0.0, rf)
        inner = _separable(self.h, r, f.lb, f.ub)
        d = offm - np.einsum("br,br->b", mu, b) - np.einsum("bi,bi->b", lam, h) + inner
        return s * d


def _separable(h, r, lb, ub) -> np.ndarray:
    """``sum_j min_{lb_j <= y_j <= ub_j} 1/2 h_j y_j^2 + r_j y_j`` per row of ``r``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        quad = h > 0
        ystar = np.where(quad, -r / np.where(quad, h, 1.0), 0.0)
        ystar = np.clip(ystar, lb, ub)
        vq = 0.5 * h * ystar ** 2 + r * ystar
        # linear columns: the bound on the side r pushes towards (-inf if there is none)
        vl = np.where(r > 0, r * lb, np.where(r < 0, r * ub, 0.0))
        v = np.where(quad, vq, vl)
    v = np.where(np.isnan(v), -np.inf, v)
    return v.sum(axis=1)
