"""What matrix backends share when they read a solver's answer back: the sign convention of
duals, the map from solver statuses to lagdsl's, the MIP gap and bound in the user's sense,
and the rule that a point with nan in it is never an answer.

**Duals are shadow prices** (the convention of every lagdsl backend that reports them, see
``backends/cvxpy``): the derivative of the optimal objective, *in the user's sense*, with
respect to the row's bound — for a ranged row with respect to whichever bound is active.  A
binding ``<=`` capacity in a maximisation has a non-negative dual; a binding ``>=`` demand in
a minimisation has a non-negative dual.

A solver that optimises ``obj_scale * sign * f`` (``sign = 1`` in the user's sense, ``-1``
when it minimises the negation of a maximisation) over rows multiplied by ``row_scale`` (see
:mod:`lagdsl.lower.matrix`) and reports row duals as ``d(solver objective)/d(row bound)``
(HiGHS does, in either sense) gives ``dual = sign * row_dual * row_scale / obj_scale``.  A solver reporting
Lagrange multipliers ``y >= 0`` of ``f + y'(g - u)`` (cvxpy) gives the same numbers through
``dual = sign * (-y_le + y_ge - y_eq)``.
"""
from __future__ import annotations

import numpy as np

#: HiGHS model statuses (``HighsModelStatus`` member names) -> lagdsl statuses.  Limits
#: report the incumbent when there is one; ``kUnboundedOrInfeasible`` and ``kUnbounded`` are
#: settled by a feasibility solve before this map is used for them.
HIGHS_STATUS = {
    "kOptimal": "optimal", "kModelEmpty": "optimal",
    "kInfeasible": "infeasible", "kUnbounded": "unbounded",
    "kTimeLimit": "limit", "kIterationLimit": "limit", "kSolutionLimit": "limit",
    "kObjectiveBound": "limit", "kObjectiveTarget": "limit", "kInterrupt": "limit",
    "kHighsInterrupt": "limit", "kMemoryLimit": "limit",
}


def user_duals(row_dual: np.ndarray, sign: float, row_scale: np.ndarray | None,
               obj_scale: float = 1.0) -> np.ndarray:
    """Shadow prices in the user's sense from a solver's row duals ``d(solver
    objective)/d(row bound)`` (see the module docstring)."""
    d = np.asarray(row_dual, dtype=np.float64) * (sign / obj_scale)
    if row_scale is not None:
        d = d * row_scale
    return d + 0.0          # + 0.0: no negative zeros in reports


def multiplier_duals(y: np.ndarray, sense: str, sign: float) -> np.ndarray:
    """Shadow prices from Lagrange multipliers ``y >= 0`` of one vector constraint of
    ``sense`` (``==``, ``<=``, ``>=``) in a problem of objective ``sign`` (+1 minimise)."""
    return sign * {"==": -1.0, "<=": -1.0, ">=": 1.0}[sense] * np.asarray(y, dtype=np.float64)


def mip_stats(gap: float, solver_bound: float, solver_incumbent: float, objective: float,
              negated: bool, scale: float = 1.0) -> dict:
    """``mip_gap`` and ``bound`` (in the user's sense) of a mixed-integer solve that stopped
    before proving optimality.  The bound is moved by the offset that separates the solver's
    incumbent value from the measured ``objective``, so constant terms are the user's;
    ``negated``: the solver minimised the negation of the user's maximisation (cvxpy does);
    ``scale``: the factor the solver's objective was multiplied by
    (:func:`lagdsl.lower.matrix.objective_scale`), which the bound's distance is divided by.
    Empty when the solver has no finite gap or bound."""
    if not (np.isfinite(gap) and np.isfinite(solver_bound) and np.isfinite(solver_incumbent)):
        return {}
    sign = -1.0 if negated else 1.0
    return {"mip_gap": float(gap),
            "bound": float(objective + sign * (solver_bound - solver_incumbent) / scale)}


#: Why a mixed-integer solve reports no duals (highs and cvxpy alike).
MIP_NO_DUALS = ("duals of a mixed-integer program are not defined: solve its LP relaxation "
                "(declare the unknowns real), or fix the integers at the answer and solve the "
                "LP, for prices")


def no_mip_duals(res) -> None:
    """Mark ``res`` (a mixed-integer solve) as having no duals, saying why: an empty
    :class:`~lagdsl.result.NoDuals` and ``stats["no_duals"]`` (``solve --duals`` prints
    it; highs also notes it, as it always has)."""
    from .result import NoDuals
    res.duals = NoDuals(MIP_NO_DUALS)
    res.stats["no_duals"] = MIP_NO_DUALS


def no_nan(res, x: np.ndarray) -> None:
    """A point with nan in it, or a nan objective or violation, is not an answer: a solved
    ``res`` becomes ``error`` with the reason in ``stats["message"]`` and the notes."""
    if res.status not in ("optimal", "feasible", "limit"):
        return
    why = None
    if not np.all(np.isfinite(x)):
        why = "the solver's point has non-finite values"
    elif res.objective is not None and not np.isfinite(res.objective):
        why = "the objective is %s at the solver's point" % res.objective
    elif res.max_violation is not None and np.isnan(res.max_violation):
        why = "the constraints cannot be evaluated at the solver's point (nan)"
    if why is not None:
        res.status = "error"
        res.stats["message"] = why
        res.stats.setdefault("notes", []).append(why)
