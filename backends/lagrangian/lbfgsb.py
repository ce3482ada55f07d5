"""A lean driver for scipy's compiled L-BFGS-B (bound-constrained, with a line search).

``scipy.optimize.minimize(method="L-BFGS-B")`` wraps every evaluation in several layers of
Python (about 0.1 ms each: most of the time of a 4-unknown problem) and converts the bounds
in a Python loop over the unknowns (seconds for a million).  This module calls the same
compiled routine, ``scipy.optimize._lbfgsb.setulb``, directly: bounds are coded with numpy,
and each evaluation is one call of ``fg``.  The routine's calling convention is that of
scipy >= 1.15; with an older scipy, or if the private module changes, :func:`lbfgsb` falls
back to ``scipy.optimize.minimize`` (same algorithm, same results, only slower).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

try:  # the private compiled routine; guarded because its signature is not public API
    import scipy
    from scipy.optimize import _lbfgsb
    _DIRECT = tuple(int(p) for p in scipy.__version__.split(".")[:2]) >= (1, 15) and hasattr(_lbfgsb, "setulb")
except (ImportError, ValueError):  # pragma: no cover - depends on the installed scipy
    _DIRECT = False


@dataclass
class LbfgsbResult:
    x: np.ndarray
    fun: float
    nit: int
    nfev: int
    converged: bool
    message: str = ""
    stalled: bool = False          # stopped because L no longer decreased (402 / 601 / ABNORMAL)


def _bound_codes(lb: np.ndarray, ub: np.ndarray):
    """L-BFGS-B's ``nbd`` codes: 0 free, 1 lower only, 2 both, 3 upper only."""
    has_lo, has_hi = np.isfinite(lb), np.isfinite(ub)
    nbd = np.where(has_lo & has_hi, 2, np.where(has_lo, 1, np.where(has_hi, 3, 0))).astype(np.int32)
    return nbd, np.where(has_lo, lb, 0.0).astype(np.float64), np.where(has_hi, ub, 0.0).astype(np.float64)


def lbfgsb(fg, x0: np.ndarray, lb: np.ndarray, ub: np.ndarray, *, gtol: float, ftol: float,
           maxiter: int, m: int = 10, maxls: int = 40, maxfun: int | None = None) -> LbfgsbResult:
    """Minimise ``fg(x) -> (value, gradient)`` over ``lb <= x <= ub`` from ``x0``; stops when
    the projected gradient's largest entry is <= ``gtol``, or the relative decrease of the
    value is <= ``ftol``, or after ``maxiter`` iterations."""
    maxfun = maxfun or 4 * maxiter + 20
    if not _DIRECT:
        from scipy.optimize import Bounds, minimize
        r = minimize(fg, x0, jac=True, method="L-BFGS-B", bounds=Bounds(lb, ub),
                     options={"maxiter": maxiter, "gtol": gtol, "ftol": ftol, "maxcor": m,
                              "maxls": maxls, "maxfun": maxfun})
        msg = str(r.message)
        return LbfgsbResult(np.asarray(r.x, dtype=np.float64), float(r.fun), int(r.nit), int(r.nfev),
                            "PGTOL" in msg, msg, "FACTR" in msg or "ABNORMAL" in msg)
    n = len(x0)
    nbd, low, up = _bound_codes(lb, ub)
    x = np.clip(np.asarray(x0, dtype=np.float64), lb, ub).copy()
    f = np.array(0.0, dtype=np.float64)
    g = np.zeros(n, dtype=np.float64)
    wa = np.zeros(2 * m * n + 5 * n + 11 * m * m + 8 * m, np.float64)
    iwa = np.zeros(3 * n, dtype=np.int32)
    task = np.zeros(2, dtype=np.int32)
    ln_task = np.zeros(2, dtype=np.int32)
    lsave = np.zeros(4, dtype=np.int32)
    isave = np.zeros(44, dtype=np.int32)
    dsave = np.zeros(29, dtype=np.float64)
    factr = ftol / np.finfo(float).eps
    nit = nfev = 0
    while True:
        _lbfgsb.setulb(m, x, low, up, nbd, f, g, factr, gtol, wa, iwa, task, lsave, isave,
                       dsave, maxls, ln_task)
        if task[0] == 3:                       # evaluate f and g at x
            fv, gv = fg(x)
            nfev += 1
            f = np.array(fv, dtype=np.float64)
            g = np.asarray(gv, dtype=np.float64)
        elif task[0] == 1:                     # a new iterate
            nit += 1
            if nit >= maxiter or nfev > maxfun:
                task[0], task[1] = 5, 504
        else:
            break
    stalled = (task[0] == 4 and task[1] == 402) or task[0] in (6, 8)
    return LbfgsbResult(x, float(f), nit, nfev, bool(task[0] == 4 and task[1] == 401),
                        "task %d/%d" % (task[0], task[1]), stalled)
