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
from .adam import Adam
from .kkt import Best, projected_residual, stationarity, violation
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


def inner(nlp, oracle, x, lam, mu, rho, omega, tol, max_inner, opts, rng):
    """Minimise ``L_rho`` over the box from ``x``: ``(x, iterations, evaluations)``."""
    if opts["inner"] == "adam":
        opt = Adam(x, nlp.lb, nlp.ub, float(opts["lr"] or 1e-2))
        for k in range(1, max_inner + 1):
            ev = oracle.lagrangian(opt.x, lam, mu, rho, rng)
            if ev.eq is None and projected_residual(opt.x, ev.grad, nlp.lb, nlp.ub) <= omega:
                return opt.x, k - 1, k
            opt.step(ev.grad)
        return opt.x, max_inner, max_inner

    count = [0]
    start = x.copy()

    def fg(z):
        count[0] += 1
        ev = oracle.lagrangian(z, lam, mu, rho)
        if ev.f < -UNBOUNDED or (len(z) and np.max(np.abs(z)) > FAR
                                 and ev.f < oracle.lagrangian(start, lam, mu, rho).f):
            raise Diverged(z.copy())
        if not np.isfinite(ev.L):
            return np.inf, np.zeros_like(z)
        return ev.L, ev.grad

    nit = 0
    try:
        with single_threaded_blas():
            for _ in range(RESTARTS + 1):
                res = lbfgsb(fg, x, nlp.lb, nlp.ub, gtol=omega, ftol=0.0 if omega <= tol else 1e-12,
                             maxiter=max_inner - nit)
                x, nit = res.x, nit + res.nit
                if res.stalled and nit < max_inner:
                    # L-BFGS-B stops where the decrease of L is lost in round-off (a large
                    # objective summed over many rows): gradient-only steps go further
                    x, k = spectral_polish(fg, x, nlp.lb, nlp.ub, omega, max_inner - nit)
                    nit += k
                    break
                if res.converged or res.nit > 0 or nit >= max_inner:
                    break
                # L-BFGS-B's line search gave up at its first step (seen at a kink of the
                # max(0, .)^2 term on a badly scaled row): one Armijo step along the
                # projected gradient moves past it, then L-BFGS-B restarts from there
                moved = projected_gradient_step(fg, x, nlp.lb, nlp.ub)
                if moved is None:
                    break
                x = moved
    except Diverged as exc:
        exc.evaluations = count[0]
        raise
    return x, nit, count[0]


def spectral_polish(fg, x, lb, ub, gtol: float, maxiter: int):
    """Projected Barzilai-Borwein steps (no line search: they use gradients only) from ``x``
    until the projected gradient is <= ``gtol``; returns the point with the smallest
    projected gradient seen and the number of steps."""
    f, g = fg(x)
    best_x, best_pg = x, projected_residual(x, g, lb, ub)
    alpha = 1.0 / max(1.0, float(np.max(np.abs(g), initial=0.0)))
    k = 0
    for k in range(1, min(maxiter, POLISH) + 1):
        if best_pg <= gtol:
            break
        z = np.clip(x - alpha * g, lb, ub)
        fz, gz = fg(z)
        if not np.isfinite(fz):
            break
        s_, y_ = z - x, gz - g
        sy = float(s_ @ y_)
        alpha = float(s_ @ s_) / sy if sy > 0 else 2.0 * alpha
        x, g = z, gz
        pg = projected_residual(x, g, lb, ub)
        if pg < best_pg:
            best_x, best_pg = x, pg
    return best_x, k


#: Most gradient-only polishing steps per inner solve.
POLISH = 200

#: Projected-gradient restarts of L-BFGS-B after a failed first line search.
RESTARTS = 5


def projected_gradient_step(fg, x, lb, ub, shrink: float = 0.5, tries: int = 60):
    """A point ``clip(x - t grad)`` with sufficient decrease (Armijo), or None."""
    f0, g0 = fg(x)
    t = 1.0 / max(1.0, float(np.max(np.abs(g0), initial=0.0)))
    for _ in range(tries):
        z = np.clip(x - t * g0, lb, ub)
        f1, _ = fg(z)
        if f1 <= f0 - 1e-4 * float(g0 @ (x - z)) and f1 < f0:
            return z
        t *= shrink
    return None


class Diverged(Exception):
    """The objective fell below ``-UNBOUNDED``, or the unknowns passed ``FAR`` while the
    objective kept falling, at point ``x`` during an inner solve."""

    def __init__(self, x):
        super().__init__("objective below %g" % -UNBOUNDED)
        self.x = x
        self.evaluations = 0


#: An objective below minus this (in minimising sense), or unknowns beyond ``FAR`` with the
#: objective still falling, count as diverging to -infinity.
UNBOUNDED = 1e20
FAR = 1e10

#: Outer iterations with the penalty at its cap and no fall of the violation before the run
#: stops as stalled (the constraints may be infeasible).
STALL = 5


def solve_alm(nlp, opts: dict, history, bar, oracle, rng) -> Outcome:
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
    stalled, best_viol = 0, np.inf
    for k in range(1, max_outer + 1):
        if nlp.N:
            try:
                x, nit, nev = inner(nlp, oracle, x, lam, mu, rho, omega, tol, max_inner, opts, rng)
            except Diverged as exc:
                f, h, g, vals = nlp.forward(exc.x)
                out.evaluations += exc.evaluations
                if violation(h, g) <= tol:
                    out.x, out.status, out.outer, out.rho = exc.x, "unbounded", k, rho
                    out.violation = violation(h, g)
                    out.stationarity, out.stationarity_scale = stationarity(nlp, exc.x, vals, lam, mu)
                    out.notes.append("the objective reached %g at a point with |x| = %.3g that satisfies "
                                     "the constraints (within tol) and was still improving: the model "
                                     "looks unbounded" % (nlp.sign * f, float(np.max(np.abs(exc.x)))))
                    return out
                x = exc.x
                nit = nev = 0
            out.inner += nit
            out.evaluations += nev
        f, h, g, vals = nlp.forward(x)
        viol = violation(h, g)
        if rho >= rho_max and viol >= 0.99 * best_viol:
            stalled += 1
        else:
            stalled = 0
        best_viol = min(best_viol, viol)
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
        if stalled >= STALL:
            out.reason = ("the violation stalled at %.3g with rho at its cap (%g): the constraints "
                          "may be infeasible" % (viol, rho_max))
            break
        if limit is not None and time.perf_counter() - t0 > float(limit):
            out.reason = "time limit reached"
            break
        if measure > 0.25 * prev_measure and viol > tol:
            # only a stalling *violation* calls for more penalty; what is left once the
            # point is feasible is stationarity, which a larger rho would only make harder
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
