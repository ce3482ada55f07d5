"""Equality completion and inequality correction (as in DC3), batched in torch.

The equality rows ``E y = b(theta)`` (rows whose lower and upper bounds are equal, with
fixed coefficients) are split once: a pivoted QR of ``E'`` keeps ``r`` independent rows, a
pivoted QR of those picks ``r`` well-conditioned *dependent* columns ``D``; the other
columns ``Z`` are the network's outputs (the free variables), and

    y_D = K b_r(theta) - M y_Z,     K = E_rD^{-1},  M = K E_rZ

— one factorisation, reused, linear (so differentiable) and a matrix product over a
batch.  Bounds of free variables hold by construction (a scaled sigmoid for a box, a
softplus for one side).  What is left, the other rows and the dependent variables' bounds,
is ``g(y) = G y - h(theta) <= 0`` (:attr:`Completion.G`), which training penalises and
:meth:`Completion.correct` repairs: Gauss-Newton steps in ``y_Z`` on the violated rows of
``g`` and of every bound (each a batched ``m x m`` solve), which are exact for linear rows
when one active set suffices.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from .family import Family

#: |R_ii| / |R_00| below this counts as a dependent equality row (dropped: implied).
RANK_TOL = 1e-10


class Completion:
    """The completion of one :class:`~lagdsl.learn.family.Family` (module docstring)."""

    def __init__(self, fam: Family):
        self.fam = fam
        N = fam.N
        A = fam.A.toarray() if fam.M else np.zeros((0, N))
        eq = np.isfinite(fam.lo0) & (fam.lo0 == fam.hi0) & (fam.Jlo == fam.Jhi).all(axis=1)
        eq_rows = np.flatnonzero(eq)
        E = A[eq_rows]
        r = 0
        if len(eq_rows):
            _, R, piv = sla.qr(E.T, mode="economic", pivoting=True)
            d = np.abs(np.diag(R))
            r = int(np.sum(d > RANK_TOL * max(d[0], 1e-300))) if len(d) else 0
            keep = np.sort(piv[:r])
            eq_rows, E = eq_rows[keep], E[keep]
        self.eq_rows = eq_rows                     # independent equality rows (of A)
        if r:
            _, R2, cpiv = sla.qr(E, mode="economic", pivoting=True)
            D = np.sort(cpiv[:r])
        else:
            D = np.zeros(0, dtype=int)
        Z = np.setdiff1d(np.arange(N), D)
        self.D, self.Z = D, Z
        self.K = np.linalg.inv(E[:, D]) if r else np.zeros((0, 0))
        self.M = self.K @ E[:, Z] if r else np.zeros((0, len(Z)))
        # y = T y_Z + S b_r:  T (N x nZ), S (N x r)
        T = np.zeros((N, len(Z)))
        T[Z, np.arange(len(Z))] = 1.0
        T[D] = -self.M
        S = np.zeros((N, r))
        S[D] = self.K
        self.T, self.S = T, S
        # the remaining inequality rows g = G y - h: finite upper sides, finite lower sides
        # of the non-equality rows, then the dependent variables' bounds
        rest = np.setdiff1d(np.arange(fam.M), np.flatnonzero(eq))
        up = rest[np.isfinite(fam.hi0[rest])]
        dn = rest[np.isfinite(fam.lo0[rest])]
        self.up, self.dn = up, dn
        ubD = D[np.isfinite(fam.ub[D])]
        lbD = D[np.isfinite(fam.lb[D])]
        eye = np.eye(N)
        self.G = np.vstack([A[up], -A[dn], eye[ubD], -eye[lbD]])
        self.ubD, self.lbD = ubD, lbD
        # correction rows: every inequality row and every bound (free variables' too)
        ubA = np.flatnonzero(np.isfinite(fam.ub))
        lbA = np.flatnonzero(np.isfinite(fam.lb))
        self.Gc = np.vstack([A[up], -A[dn], eye[ubA], -eye[lbA]])
        self.ubA, self.lbA = ubA, lbA
        self.GcT = self.Gc @ T
        self._scale = float(np.linalg.norm(self.GcT, 2)) ** 2 if self.GcT.size else 1.0
        # free variables' bounds, by construction
        lbZ, ubZ = fam.lb[Z], fam.ub[Z]
        self.boxZ = np.isfinite(lbZ) & np.isfinite(ubZ)
        self.loZ = np.isfinite(lbZ) & ~self.boxZ
        self.hiZ = np.isfinite(ubZ) & ~self.boxZ

    @property
    def nZ(self) -> int:
        return len(self.Z)

    @property
    def m(self) -> int:
        """Rows of ``g`` (what the training penalises)."""
        return self.G.shape[0]

    def b(self, lo: np.ndarray) -> np.ndarray:
        """The independent equality rows' right-hand sides of a batch of lower bounds."""
        return lo[:, self.eq_rows]

    def h(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """``(B, m)`` right-hand sides of ``g``."""
        return self._rhs(lo, hi, self.ubD, self.lbD)

    def hc(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """``(B, mc)`` right-hand sides of the correction rows."""
        return self._rhs(lo, hi, self.ubA, self.lbA)

    def _rhs(self, lo, hi, ub_cols, lb_cols) -> np.ndarray:
        """The rows' upper and (negated) lower bounds of a batch, then the bounds of the
        variables ``ub_cols`` / ``lb_cols`` as ``x <= ub`` and ``-x <= -lb``."""
        f, B = self.fam, len(lo)
        return np.concatenate([hi[:, self.up], -lo[:, self.dn],
                               np.broadcast_to(f.ub[ub_cols], (B, len(ub_cols))),
                               np.broadcast_to(-f.lb[lb_cols], (B, len(lb_cols)))], axis=1)

    # --- torch side ----------------------------------------------------------------------
    def bounded(self, u, torch):
        """Free variables from raw network outputs ``u`` (B, nZ): bounds by construction."""
        f = self.fam
        lb = torch.as_tensor(f.lb[self.Z], dtype=u.dtype, device=u.device)
        ub = torch.as_tensor(f.ub[self.Z], dtype=u.dtype, device=u.device)
        out = u
        if self.boxZ.any():
            box = torch.as_tensor(self.boxZ, device=u.device)
            out = torch.where(box, torch.nan_to_num(lb) + torch.nan_to_num(ub - lb, posinf=0) * torch.sigmoid(u), out)
        if self.loZ.any():
            m = torch.as_tensor(self.loZ, device=u.device)
            out = torch.where(m, torch.nan_to_num(lb, neginf=0) + torch.nn.functional.softplus(u), out)
        if self.hiZ.any():
            m = torch.as_tensor(self.hiZ, device=u.device)
            out = torch.where(m, torch.nan_to_num(ub, posinf=0) - torch.nn.functional.softplus(u), out)
        return out

    def complete(self, yZ, b, T, S):
        """Full ``y`` (B, N) from free variables ``yZ`` and equality right-hand sides ``b``
        (torch tensors; ``T``, ``S`` the tensors of :attr:`T`, :attr:`S`)."""
        return yZ @ T.T + b @ S.T

    def correct(self, yZ, b, hc, steps: int, torch, margin: float = 1e-9):
        """``yZ`` after up to ``steps`` Gauss-Newton steps on the correction rows: each step
        makes the least-norm change of ``yZ`` that brings every row violated so far (a
        row, once violated, stays held: otherwise fixing one row can undo another, step
        after step) to ``-margin``; only the instances with a violated row are worked on,
        and it stops when none is left."""
        dt, dev = yZ.dtype, yZ.device
        if self.GcT.shape[0] == 0 or steps <= 0:
            return yZ
        T = torch.as_tensor(self.T, dtype=dt, device=dev)
        S = torch.as_tensor(self.S, dtype=dt, device=dev)
        Gc = torch.as_tensor(self.Gc, dtype=dt, device=dev)
        J = torch.as_tensor(self.GcT, dtype=dt, device=dev)              # (mc, nZ)
        eye = torch.eye(J.shape[0], dtype=dt, device=dev)
        ridge = 1e-14 * self._scale
        yZ = yZ.clone()
        held = torch.zeros((yZ.shape[0], J.shape[0]), dtype=torch.bool, device=dev)
        work = torch.arange(yZ.shape[0], device=dev)
        for _ in range(steps):
            y = self.complete(yZ[work], b[work], T, S)
            g = y @ Gc.T - hc[work]
            bad = g > 0
            rows = bad.any(dim=1)
            if not bool(rows.any()):
                break
            work, g, bad = work[rows], g[rows], bad[rows]
            held[work] |= bad
            m = held[work].to(dt)
            Jm = m[:, :, None] * J[None]                                   # (B, mc, nZ)
            K = Jm @ Jm.transpose(1, 2) + (1.0 - m)[:, :, None] * eye[None] + ridge * eye[None]
            w = torch.linalg.solve(K, ((g + margin) * m)[:, :, None])
            yZ[work] = yZ[work] - (Jm.transpose(1, 2) @ w)[:, :, 0]
        return yZ
