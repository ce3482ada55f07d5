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

from lagdsl.lower.instance import column_name

from .blas import single_threaded_blas
from .adam import Adam
from .escape import probe
from .hazard import Box, finite, interior_start
from .kkt import Best, projected_residual, stationarity, violation
from .lbfgsb import lbfgsb
from .problem import default_start


@dataclass
class Outcome:
    """What a method returns to :mod:`.results`."""

    x: np.ndarray
    lam: np.ndarray
    mu: np.ndarray
    status: str                        # "optimal", "feasible", "unbounded" or "limit"
    outer: int = 0
    inner: int = 0
    evaluations: int = 0
    rho: float | None = None
    stationarity: float = float("nan")
    stationarity_scale: float = 1.0
    violation: float = float("nan")
    reason: str = ""
    notes: list = field(default_factory=list)
    escapes: int = 0                   # stationary points left for a lower point (escape.py)
    stop_reason: str = ""              # gda: stats["stop_reason"] (lagdsl.plateau's words)
    tol: float = 0.0


def inner(nlp, oracle, x, lam, mu, rho, omega, tol, max_inner, opts, rng, box=None, deadline=None):
    """Minimise ``L_rho`` over the box from ``x``: ``(x, iterations, evaluations)``.

    ``box`` (a :class:`~.hazard.Box`, default the user's bounds) is the effective box: a
    bound on which the model is not finite is moved inside and kept there across calls.
    Past ``deadline`` (a ``time.perf_counter()`` value) the solve stops with :class:`TimeUp`
    carrying the best point seen."""
    box = box if box is not None else Box(nlp.lb, nlp.ub)
    if opts["inner"] == "adam":
        opt = Adam(x, box.lo, box.hi, float(opts["lr"] or 1e-2))
        last = None                     # the last point with a finite value and gradient
        for k in range(1, max_inner + 1):
            if deadline is not None and time.perf_counter() > deadline:
                raise TimeUp((opt.x if last is None else last).copy(), k)
            ev = oracle.lagrangian(opt.x, lam, mu, rho, rng)
            if not finite(ev.L, ev.grad):
                if last is None or not box.tighten(opt.x, last):
                    return (opt.x if last is None else last), k, k
                opt.lb, opt.ub, opt.x = box.lo, box.hi, last.copy()
                continue
            last = opt.x.copy()
            if ev.eq is None and projected_residual(opt.x, ev.grad, box.lo, box.hi) <= omega:
                return opt.x, k - 1, k
            opt.step(ev.grad)
        return opt.x, max_inner, max_inner

    count = [0]
    start = x.copy()
    bad = [None]
    seen = [np.inf, x.copy()]           # the lowest finite L and its point

    def fg(z):
        count[0] += 1
        if deadline is not None and time.perf_counter() > deadline:
            raise TimeUp(seen[1].copy(), count[0])
        ev = oracle.lagrangian(z, lam, mu, rho)
        if ev.f < -UNBOUNDED or (len(z) and np.max(np.abs(z)) > FAR
                                 and ev.f < oracle.lagrangian(start, lam, mu, rho).f):
            raise Diverged(z.copy())
        if not finite(ev.L, ev.grad):
            # too far: the line search backs off from an infinite value (a nan, or an
            # infinite gradient, would poison L-BFGS-B's model), and the point is kept to
            # find the bound the model is not defined on
            bad[0] = z.copy()
            return np.inf, np.zeros_like(z)
        if ev.L < seen[0]:
            seen[0], seen[1] = ev.L, z.copy()
        return ev.L, ev.grad

    nit = 0
    try:
        with single_threaded_blas():
            for _ in range(RESTARTS + HAZARD_ROUNDS + 1):
                bad[0] = None
                res = lbfgsb(fg, x, box.lo, box.hi, gtol=omega, ftol=0.0 if omega <= tol else 1e-12,
                             maxiter=max_inner - nit)
                x, nit = res.x, nit + res.nit
                if nit >= max_inner:
                    break
                if bad[0] is not None and box.tighten(bad[0], x):
                    continue            # the model is not defined on a bound: solve inside it
                if bad[0] is None and (res.converged or (res.nit > 0 and not res.stalled)):
                    closer = box.shrink(x, fg(x)[1]) if box.moved() else None
                    if closer is not None:
                        x = closer      # pressed against a moved bound: let it come closer
                        continue
                    break
                if res.stalled and bad[0] is None:
                    # L-BFGS-B stops where the decrease of L is lost in round-off (a large
                    # objective summed over many rows): gradient-only steps go further
                    x, k = spectral_polish(fg, x, box.lo, box.hi, omega, max_inner - nit)
                    nit += k
                    break
                # L-BFGS-B's line search gave up at its first step (seen at a kink of the
                # max(0, .)^2 term on a badly scaled row, or on a non-finite value inside the
                # box): one Armijo step along the projected gradient moves past it, then
                # L-BFGS-B restarts from there
                moved = projected_gradient_step(fg, x, box.lo, box.hi)
                if moved is None:
                    break
                x = moved
    except (Diverged, TimeUp) as exc:
        exc.evaluations = count[0]
        raise
    return x, nit, count[0]


def spectral_polish(fg, x, lb, ub, gtol: float, maxiter: int):
    """Projected Barzilai-Borwein steps (no line search: they use gradients only) from ``x``
    until the projected gradient is <= ``gtol``; returns the point with the smallest
    projected gradient seen and the number of steps."""
    f, g = fg(x)
    best_x, best_pg = x, projected_residual(x, g, lb, ub)
    # the answer may not be worse than the start: a Barzilai-Borwein step does not descend
    # monotonically, and a point with a small projected gradient may lie far uphill
    ceiling = f + 1e-8 * max(1.0, abs(f))
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
        if pg < best_pg and fz <= ceiling:
            best_x, best_pg = x, pg
    return best_x, k


#: Most gradient-only polishing steps per inner solve.
POLISH = 200

#: Projected-gradient restarts of L-BFGS-B after a failed first line search.
RESTARTS = 5

#: L-BFGS-B restarts after moving or shrinking a bound the model is not defined on.
HAZARD_ROUNDS = 12


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


class TimeUp(Exception):
    """``time_limit`` passed during an inner solve; ``x`` is the best point it had seen."""

    def __init__(self, x, evaluations: int = 0):
        super().__init__("time limit reached")
        self.x = x
        self.evaluations = evaluations


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

#: Escapes from stationary points that are not minima (see :mod:`.escape`) per run.
MAX_ESCAPES = 5

#: Outer iterations with the penalty at its cap and no fall of the violation before the run
#: stops as stalled (the constraints may be infeasible).
STALL = 5


def value_grad(oracle, lam, mu, rho, rng=None):
    """``z -> (L_rho(z), grad)`` at fixed multipliers: the function the inner solver sees
    (``rng`` draws the rows of a minibatch oracle)."""
    def vg(z):
        ev = oracle.lagrangian(z, lam, mu, rho, rng)
        return ev.L, ev.grad
    return vg


def unbounded(nlp, out, exc, k, rho, lam, mu) -> bool:
    """Fill ``out`` as ``unbounded`` when the divergence of ``exc`` happened at a feasible
    point (True); False when it did not (the caller goes on from ``exc.x``)."""
    f, h, g, vals = nlp.forward(exc.x)
    out.evaluations += exc.evaluations
    if violation(h, g) > out.tol:
        return False
    out.x, out.status, out.outer, out.rho = exc.x, "unbounded", k, rho
    out.violation = violation(h, g)
    out.stationarity, out.stationarity_scale = stationarity(nlp, exc.x, vals, lam, mu)
    out.notes.append("the objective reached %g at a point with |x| = %.3g that satisfies "
                     "the constraints (within tol) and was still improving: the model "
                     "looks unbounded" % (nlp.sign * f, float(np.max(np.abs(exc.x)))))
    return True


def settle(nlp, oracle, x, f, scale, lam, mu, rho, box, rng):
    """What a stationary feasible point is: ``(kind, point, note, evaluations)`` with kind
    ``optimal`` (no way down found), ``escape`` (``point`` is lower: go on from there),
    ``restart`` (not differentiable there: try elsewhere) or ``limit`` (objective not
    finite)."""
    if not np.isfinite(f):
        return "limit", None, "the objective is %g at the point found" % (nlp.sign * f), 0
    vals = nlp.forward(x)[3]
    against = box.against(x, nlp.gradient(vals, 1.0, lam, mu))
    if len(against) or not np.isfinite(scale):
        where = against if len(against) else np.flatnonzero(~np.isfinite(
            nlp.gradient(vals, 1.0, np.zeros_like(lam), np.zeros_like(mu))))
        names = ", ".join(column_name(nlp.model, int(j)) for j in where[:3])
        more = " and %d more" % (len(where) - 3) if len(where) > 3 else ""
        return "restart", None, ("the gradient of the model is not finite at %s%s (at or next to a "
                                 "bound on which the model is not differentiable, as sqrt or log at "
                                 "0): the point is not shown to be a local minimum" % (names, more)), 0
    if getattr(oracle, "batch", 0):
        # minibatch values are estimates: no second-order test can be read from them
        return "optimal", None, "", 0
    p = probe(value_grad(oracle, lam, mu, rho), x, box.lo, box.hi, rng,
              exact=nlp.m_eq + nlp.m_in == 0)
    if p.point is None:
        return "optimal", None, "", p.evaluations
    sense = "minimum" if nlp.sign > 0 else "maximum"
    return "escape", p.point, ("a stationary point with objective %.6g is not a local %s "
                               "(lowest curvature %.3g along the free unknowns, minimising sense; a "
                               "nearby point is better)" % (nlp.sign * f + 0.0, sense, p.curvature)), \
        p.evaluations


def solve_alm(nlp, opts: dict, history, bar, oracle, rng) -> Outcome:
    """Run the augmented Lagrangian method on ``nlp`` with the backend's options."""
    t0 = time.perf_counter()
    tol, stol = float(opts["tol"]), float(opts["stationarity_tol"])
    rho, rho_max, factor = float(opts["rho"]), float(opts["rho_max"]), float(opts["rho_factor"])
    max_outer, max_inner = int(opts["max_iter"] or 100), int(opts["max_inner"])
    limit = opts["time_limit"]
    deadline = None if limit is None else t0 + float(limit)
    lam, mu = np.zeros(nlp.m_eq), np.zeros(nlp.m_in)
    box = Box(nlp.lb, nlp.ub)
    x = nlp.x0.copy()
    if nlp.N:
        # its own generator: the minibatch sampler's sequence stays that of the seed
        x = interior_start(value_grad(oracle, lam, mu, rho, np.random.default_rng(opts["seed"])),
                           x, nlp.lb, nlp.ub)
    best = Best(tol)
    omega = 1e-2
    floor = min(tol, stol) * 0.1
    prev_measure = np.inf
    out = Outcome(x, lam, mu, "limit", rho=rho)
    out.tol = tol
    unconstrained = nlp.m_eq + nlp.m_in == 0
    stalled, best_viol = 0, np.inf
    escapes, restarted = 0, False
    for k in range(1, max_outer + 1):
        x_before, timed_out, nit = x, False, 0
        if nlp.N:
            try:
                x, nit, nev = inner(nlp, oracle, x, lam, mu, rho, omega, tol, max_inner, opts, rng,
                                    box, deadline)
            except Diverged as exc:
                if unbounded(nlp, out, exc, k, rho, lam, mu):
                    return out
                x = exc.x
                nit = nev = 0
            except TimeUp as exc:
                x, nev, timed_out = exc.x, exc.evaluations, True
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
        if viol <= tol and stat <= stol * scale and not timed_out:
            kind, point, note, nev = settle(nlp, oracle, x, f, scale, lam, mu, rho, box, rng)
            out.evaluations += nev
            if kind == "optimal":
                out.x, out.lam, out.mu, out.status = x, lam, mu, "optimal"
                out.stationarity, out.stationarity_scale, out.violation, out.rho = stat, scale, viol, rho
                return out
            if kind == "escape" and escapes < MAX_ESCAPES:
                escapes += 1
                out.escapes = escapes
                out.notes.append(note + "; went on from there")
                x = point
                continue
            if kind == "restart" and not restarted:
                restarted = True
                found = restart(nlp, oracle, x, f, lam, mu, rho, omega, tol, max_inner, opts, rng,
                                box, deadline, out, k)
                if out.status == "unbounded":
                    return out
                if found is not None:
                    x = found
                    continue
            out.x, out.lam, out.mu, out.rho = x, lam, mu, rho
            out.status = "limit" if kind == "limit" else "feasible"
            out.stationarity, out.stationarity_scale, out.violation = stat, scale, viol
            if kind == "escape":
                note += "; still so after %d escapes" % MAX_ESCAPES
            if kind == "limit":
                out.reason = note
            else:
                out.notes.append(note)
            return out
        if timed_out:
            out.reason = "time limit reached"
            break
        if unconstrained and omega <= floor and (nit == 0 or np.array_equal(x, x_before)):
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
        omega = max(omega * 0.1, floor)
    else:
        out.reason = "outer iteration limit (%d) reached" % max_outer
    x, lam, mu = (best.x, best.lam, best.mu) if best.x is not None else (x, lam, mu)
    f, h, g, vals = nlp.forward(x)
    out.x, out.lam, out.mu, out.rho = x, lam, mu, rho
    out.violation = violation(h, g)
    out.stationarity, out.stationarity_scale = stationarity(nlp, x, vals, lam, mu)
    return out


def restart(nlp, oracle, x, f, lam, mu, rho, omega, tol, max_inner, opts, rng, box, deadline, out, k):
    """One inner solve from the default start (inside the effective box): its point when it
    is clearly lower than ``x`` (objective ``f``) and no less feasible, else None.  Fills
    ``out`` as ``unbounded`` when the solve diverges at a feasible point."""
    z = np.clip(default_start(nlp.lb, nlp.ub), box.lo, box.hi)
    if np.allclose(z, x):
        return None
    try:
        xr, nit, nev = inner(nlp, oracle, z, lam, mu, rho, omega, tol, max_inner, opts, rng, box, deadline)
    except Diverged as exc:
        unbounded(nlp, out, exc, k, rho, lam, mu)
        return None
    except TimeUp as exc:
        out.evaluations += exc.evaluations
        return None
    out.inner += nit
    out.evaluations += nev
    fr, h, g, _ = nlp.forward(xr)
    viol_x = violation(*nlp.forward(x)[1:3])
    if np.isfinite(fr) and fr < f - 1e-6 * max(1.0, abs(f)) and violation(h, g) <= max(tol, viol_x):
        return xr
    return None
