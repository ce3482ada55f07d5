"""The augmented Lagrangian method (Nocedal & Wright §17.3-17.4, bound-constrained form).

Each outer iteration minimises, over the box ``lb <= x <= ub``,

    L_rho(x) = f + lam.h + (rho/2)|h|^2 + (1/2rho) sum(max(0, mu + rho g)^2 - mu^2)

from the previous point, then updates ``lam <- lam + rho h``, ``mu <- max(0, mu + rho g)``.
``rho`` is multiplied by ``rho_factor`` only when the constraint measure
``max(|h|, |max(g, -mu/rho)|)`` did not fall below a quarter of its previous value, and is
capped at ``rho_max`` (an unbounded ``rho`` ruins the conditioning of the inner problem).
The inner tolerance starts loose and tightens by 10x per outer iteration down to
``tol / 10`` (inexact early solves cost little and are undone by the next update anyway).

Inner solvers: ``lbfgs`` — scipy's L-BFGS-B (compiled, bounds handled natively, a line
search), fed the value and exact reverse-mode gradient from the numpy tape or torch; ``adam``
— projected Adam steps in torch, which takes minibatches of the constraint rows
(``batch``) with per-row multipliers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .blas import single_threaded_blas
from .kkt import Best, stationarity, violation
from .lbfgsb import lbfgsb


@dataclass
class Outcome:
    """What a method returns to :mod:`.results`."""

    x: np.ndarray
    lam: np.ndarray
    mu: np.ndarray
    status: str                        # "optimal" or "limit"
    outer: int = 0
    inner: int = 0
    evaluations: int = 0
    rho: float | None = None
    stationarity: float = float("nan")
    stationarity_scale: float = 1.0
    violation: float = float("nan")
    reason: str = ""
    notes: list = field(default_factory=list)


#: Below this many unknowns L-BFGS-B runs with one BLAS thread (see :mod:`.blas`).
SMALL = 100_000


def augmented(nlp, x, lam, mu, rho):
    """``(L_rho, grad, f, h, g, vals)`` at ``x``."""
    f, h, g, vals = nlp.forward(x)
    wh = lam + rho * h
    wg = np.maximum(0.0, mu + rho * g)
    L = f + float(lam @ h) + 0.5 * rho * float(h @ h) + (float(wg @ wg) - float(mu @ mu)) / (2.0 * rho)
    return L, nlp.gradient(vals, 1.0, wh, wg), f, h, g, vals


def solve_alm(nlp, opts: dict, history, bar, engine: str = "numpy") -> Outcome:
    """Run the augmented Lagrangian method on ``nlp`` with the backend's options."""
    t0 = time.perf_counter()
    tol, stol = float(opts["tol"]), float(opts["stationarity_tol"])
    rho, rho_max, factor = float(opts["rho"]), float(opts["rho_max"]), float(opts["rho_factor"])
    max_outer, max_inner = int(opts["max_iter"] or 100), int(opts["max_inner"])
    limit = opts["time_limit"]
    x = nlp.x0.copy()
    lam, mu = np.zeros(nlp.m_eq), np.zeros(nlp.m_in)
    best = Best(tol)
    omega = 1e-2
    prev_measure = np.inf
    out = Outcome(x, lam, mu, "limit", rho=rho)
    unconstrained = nlp.m_eq + nlp.m_in == 0
    for k in range(1, max_outer + 1):
        counter = [0]

        def fg(z, lam=lam, mu=mu, rho=rho):
            counter[0] += 1
            L, grad = augmented(nlp, z, lam, mu, rho)[:2]
            if not np.isfinite(L):
                return np.inf, np.zeros_like(z)
            return L, grad

        if nlp.N:
            with single_threaded_blas(nlp.N < SMALL):
                res = lbfgsb(fg, x, nlp.lb, nlp.ub, gtol=omega, ftol=1e-15 if omega <= tol else 1e-12,
                             maxiter=max_inner)
            x = res.x
            out.inner += res.nit
        out.evaluations += counter[0]
        f, h, g, vals = nlp.forward(x)
        viol = violation(h, g)
        measure = max(viol, float(np.max(np.abs(np.maximum(g, -mu / rho)), initial=0.0)))
        lam = lam + rho * h
        mu = np.maximum(0.0, mu + rho * g)
        stat, scale = stationarity(nlp, x, vals, lam, mu)
        out.outer = k
        best.offer(x, f, viol, lam, mu)
        history.record(k, objective=nlp.sign * f, violation=viol, multiplier_norm=float(
            np.sqrt(lam @ lam + mu @ mu)), rho=rho, stationarity=stat)
        bar.update(objective=nlp.sign * f, violation=viol, rho=rho)
        if viol <= tol and stat <= stol * scale:
            out.x, out.lam, out.mu, out.status = x, lam, mu, "optimal"
            out.stationarity, out.stationarity_scale, out.violation, out.rho = stat, scale, viol, rho
            return out
        if unconstrained:
            out.reason = "the inner solver stopped short of stationarity"
            break
        if limit is not None and time.perf_counter() - t0 > float(limit):
            out.reason = "time limit reached"
            break
        if measure > 0.25 * prev_measure:
            rho = min(rho * factor, rho_max)
        prev_measure = measure
        omega = max(omega * 0.1, min(tol, stol) * 0.1)
    else:
        out.reason = "outer iteration limit (%d) reached" % max_outer
    x, lam, mu = (best.x, best.lam, best.mu) if best.x is not None else (x, lam, mu)
    f, h, g, vals = nlp.forward(x)
    out.x, out.lam, out.mu, out.rho = x, lam, mu, rho
    out.violation = violation(h, g)
    out.stationarity, out.stationarity_scale = stationarity(nlp, x, vals, lam, mu)
    return out
