"""From a method's :class:`~.alm.Outcome` to a :class:`~lagdsl.result.Result`.

Duals follow the cvxpy backend's convention — shadow prices in the user's sense, the
derivative of the optimal objective with respect to the row's bound.  With the Lagrangian
``f + y.c`` of the minimising form (``y`` from :meth:`~.problem.NLP.row_multipliers`), that
derivative is ``-y``; maximising flips the sign once more: ``dual = -s * y``.
"""
from __future__ import annotations

import numpy as np

from lagdsl.lower.instance import per_row, row_keys, unflatten
from lagdsl.lower.numeric import point_violation
from lagdsl.result import Result


def duals(nlp, lam: np.ndarray, mu: np.ndarray) -> dict:
    """Signed shadow prices per constraint family, in result form."""
    y = -nlp.sign * nlp.row_multipliers(lam, mu) + 0.0
    model = nlp.model
    out = {}
    for fam in nlp.families:
        c = model.constraints[fam.name]
        keys = [""] if fam.scalar else row_keys(c, fam.rows)
        out[fam.name] = per_row(keys, y[fam.start:fam.stop], fam.scalar)
    return out


def relaxed(model):
    """``model`` with every variable real (what ``relax=true`` solves and reports)."""
    import copy
    import dataclasses
    out = copy.copy(model)
    out.vars = {k: dataclasses.replace(v, domain="real") for k, v in model.vars.items()}
    return out


def build_result(nlp, outcome, stats: dict, history, relax: bool = False) -> Result:
    """The result in the user's names: values, duals, measured objective and violation
    (of the relaxation when ``relax``: fractional values are the answer then)."""
    model, x = nlp.model, outcome.x
    if relax:
        model = relaxed(model)
    res = Result(outcome.status, backend="lagrangian")
    res.values = unflatten(model, x)
    # the objective from the tape (the same bodies the evaluator recorded); the violation is
    # measured independently, by the numeric algebra, as for every backend
    res.objective = None if model.objective is None else nlp.sign * nlp.forward(x)[0]
    res.max_violation = point_violation(model, x)
    res.duals = duals(nlp, outcome.lam, outcome.mu)
    stats.update({
        "outer_iterations": outcome.outer, "inner_iterations": outcome.inner,
        "evaluations": outcome.evaluations, "kkt_stationarity": outcome.stationarity,
        "stationarity_scale": outcome.stationarity_scale, "violation": outcome.violation,
        "history": history.to_dict(),
    })
    if outcome.stop_reason:
        stats["stop_reason"] = outcome.stop_reason
    if outcome.escapes:
        stats["escapes"] = outcome.escapes
    if outcome.rho is not None:
        stats["rho"] = outcome.rho
    notes = list(stats.get("notes", [])) + list(outcome.notes)
    if outcome.status != "optimal" and outcome.reason:
        notes.append("stopped: %s; returning the best point found (violation %.3g, "
                     "stationarity %.3g)" % (outcome.reason, outcome.violation, outcome.stationarity))
    if notes:
        stats["notes"] = notes
    res.stats = stats
    return res
