"""Gradient descent-ascent on the augmented Lagrangian, with an optional extragradient step.

Each step moves the primal and dual variables at the same time:

    x   <- clip(x - lr * grad_x L_rho(x, lam, mu), lb, ub)
    lam <- lam + dual_lr * h(x)
    mu  <- max(0, mu + dual_lr * g(x))

``L_rho`` is the augmented Lagrangian of :mod:`.alm` with a fixed ``rho`` (``rho`` damps the
rotation that makes plain descent-ascent orbit a saddle point; the default ``dual_lr`` is
0.1: a step as large as ``rho``, right for exact inner minimisations, makes simultaneous
steps diverge on HS6 and HS48).  The primal step is Adam's
(per-coordinate scaling, so one learning rate fits badly scaled models).  With
``extragradient=true`` the gradient is taken at an extrapolated point (Korpelevich), which
damps the oscillation further at twice the cost per step.  With ``batch`` only the sampled
rows' multipliers move.  Every ``CHECK`` steps the full residuals and the KKT stationarity
are measured; when both are under tolerance the point goes through the same second-order
check as alm's (:func:`~.alm.settle`): ``optimal``, or the steps go on from a lower point
found near a saddle, or ``feasible`` with a note where the gradient is not finite.  With the
default ``max_iter`` (none: at most ``STEPS``) the run also ends, as ``limit``, when the
objective, the violation and the multipliers' norm have plateaued (relative changes below
``PLATEAU_RTOL`` plus ``tol`` over ``PLATEAU_WINDOW`` checks, :class:`lagdsl.plateau.Plateau`) without
meeting the tolerances: more steps would not change the answer.  ``Outcome.stop_reason``
says which rule ended the run.
"""
from __future__ import annotations

import time

import numpy as np

from lagdsl.plateau import BUDGET, TIME_LIMIT, Plateau

from .adam import Adam
from .alm import MAX_ESCAPES, Outcome, settle
from .alm import value_grad
from .hazard import Box, finite, interior_start
from .kkt import Best, stationarity, violation

#: with ``batch``, step sizes decay as ``1 / sqrt(1 + t / DECAY)``
DECAY = 100

#: steps between two full measurements (history, progress, stopping test)
CHECK = 50

#: the default budget's cap, and its plateau test (changes below ``tol`` count as settled)
STEPS = 20000
PLATEAU_RTOL, PLATEAU_WINDOW = 1e-7, 4

#: ``stop_reason`` of a run that met the tolerances
KKT = "converged: violation <= tol and KKT stationarity <= stationarity_tol"


def _ascend(lam, mu, ev, dual_lr, rho):
    lam, mu = lam.copy(), mu.copy()
    if ev.eq is None:
        lam += dual_lr * ev.h
        mu = np.maximum(0.0, mu + dual_lr * ev.g)
    else:
        lam[ev.eq] += dual_lr * ev.h
        mu[ev.ineq] = np.maximum(0.0, mu[ev.ineq] + dual_lr * ev.g)
    return lam, mu


def solve_gda(nlp, opts: dict, history, bar, oracle, rng) -> Outcome:
    """Run descent-ascent on ``nlp`` with the backend's options."""
    t0 = time.perf_counter()
    tol, stol = float(opts["tol"]), float(opts["stationarity_tol"])
    rho = float(opts["rho"])
    lr = float(opts["lr"] or 1e-2)
    dual_lr = float(opts["dual_lr"] or 0.1)
    auto = opts["max_iter"] is None
    steps = STEPS if auto else int(opts["max_iter"])
    plateau = Plateau(PLATEAU_RTOL, PLATEAU_WINDOW, atol=tol, what="objective, violation and multipliers")
    limit = opts["time_limit"]
    lam, mu = np.zeros(nlp.m_eq), np.zeros(nlp.m_in)
    # its own generator: the minibatch sampler's sequence stays that of the seed
    x0 = interior_start(value_grad(oracle, lam, mu, rho, np.random.default_rng(opts["seed"])),
                        nlp.x0, nlp.lb, nlp.ub) if nlp.N else nlp.x0
    opt = Adam(x0, nlp.lb, nlp.ub, lr)
    best = Best(tol)
    box = Box(nlp.lb, nlp.ub)
    previous = None                     # the last point with a finite value and gradient
    out = Outcome(opt.x, lam, mu, "limit", rho=rho)
    stochastic = bool(opts["batch"])
    for t in range(1, steps + 1):
        x = opt.x
        if stochastic:      # Robbins-Monro: steps that shrink like 1/sqrt(t) average the noise out
            opt.lr = lr / np.sqrt(1.0 + t / DECAY)
            dual_step = dual_lr / np.sqrt(1.0 + t / DECAY)
        else:
            dual_step = dual_lr
        ev = oracle.lagrangian(x, lam, mu, rho, rng)
        bad, good = x, previous
        if finite(ev.L, ev.grad) and opts["extragradient"]:
            previous = x.copy()
            probe = Adam.__new__(Adam)
            probe.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.__dict__.items()})
            xh = probe.step(ev.grad)
            lam_h, mu_h = _ascend(lam, mu, ev, dual_step, rho)
            ev = oracle.lagrangian(xh, lam_h, mu_h, rho, rng)
            bad, good = xh, x
        if not finite(ev.L, ev.grad):
            if good is None or not box.tighten(bad, good):
                out.reason = "the model's value or gradient is not finite at the point reached"
                break
            # a step landed on a bound where the model is not finite: back, and stay inside
            opt.lb, opt.ub, opt.x = box.lo, box.hi, np.clip(good, box.lo, box.hi)
            previous = opt.x.copy()
            continue
        previous = x.copy()
        opt.step(ev.grad)
        lam, mu = _ascend(lam, mu, ev, dual_step, rho)
        out.inner = t
        out.evaluations += 2 if opts["extragradient"] else 1
        if t % CHECK == 0 or t == steps:
            f, h, g, vals = nlp.forward(opt.x)
            viol = violation(h, g)
            stat, scale = stationarity(nlp, opt.x, vals, lam, mu)
            if stochastic:
                best = Best(tol)         # a noisy run answers with its latest point
            best.offer(opt.x, f, viol, lam, mu)
            history.record(t, objective=nlp.sign * f, violation=viol,
                           multiplier_norm=float(np.sqrt(lam @ lam + mu @ mu)), rho=rho, stationarity=stat)
            bar.update(CHECK, objective=nlp.sign * f, violation=viol)
            if viol <= tol and stat <= stol * scale:
                kind, point, note, nev = settle(nlp, oracle, opt.x, f, scale, lam, mu, rho, box, rng)
                out.evaluations += nev
                if kind == "escape" and out.escapes < MAX_ESCAPES:
                    out.escapes += 1
                    out.notes.append(note + "; went on from there")
                    opt = Adam(point, nlp.lb, nlp.ub, opt.lr)     # fresh moments from there
                    plateau.reset()
                    continue
                out.x, out.lam, out.mu = opt.x.copy(), lam, mu
                out.stationarity, out.stationarity_scale, out.violation = stat, scale, viol
                out.status = {"optimal": "optimal", "limit": "limit"}.get(kind, "feasible")
                out.stop_reason = KKT
                if kind == "limit":
                    out.reason = note
                elif kind != "optimal":
                    out.notes.append(note)
                return out
            if limit is not None and time.perf_counter() - t0 > float(limit):
                out.reason = "time limit reached"
                out.stop_reason = TIME_LIMIT
                break
            if auto and not stochastic and plateau.update(
                    objective=f, violation=viol, multipliers=float(np.sqrt(lam @ lam + mu @ mu))):
                out.reason = out.stop_reason = plateau.reason + " without meeting the tolerances"
                break
    else:
        out.reason = "step limit (%d) reached" % steps
        out.stop_reason = BUDGET
    x, lam, mu = (best.x, best.lam, best.mu) if best.x is not None else (opt.x, lam, mu)
    f, h, g, vals = nlp.forward(x)
    out.x, out.lam, out.mu = x, lam, mu
    out.violation = violation(h, g)
    out.stationarity, out.stationarity_scale = stationarity(nlp, x, vals, lam, mu)
    return out
