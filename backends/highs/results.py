"""HiGHS's answer -> a :class:`~lagdsl.result.Result` in the user's names, sense and units.

Values come back through the passes' inverse (linearised binary products drop their
columns); the objective and ``max_violation`` are measured on the user's instance at that
point (so constant terms, scaling and the sense are the user's); duals are shadow prices
(:mod:`lagdsl.solution`), none for mixed-integer models.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import highspy

from lagdsl.lower.instance import max_violation, per_row, unflatten
from lagdsl.passes.base import Chain, Solution
from lagdsl.result import Result
from lagdsl.solution import MIP_NO_DUALS, mip_stats, no_mip_duals, no_nan



def point(h: highspy.Highs, sol, low) -> np.ndarray | None:
    """The solver's point in the user's unknowns, or None when it has none."""
    if not sol.value_valid:
        return None
    # highspy hands a list: fromiter with the count skips asarray's type probing (~30% less)
    x = np.fromiter(sol.col_value, dtype=np.float64, count=low.form.N)
    if low.inverse:
        x = Chain.invert(Solution(x, {}), low.inverse).x
    return x[:low.inst.N]


def duals(sol, low) -> dict[str, Any]:
    """Shadow prices per constraint family, in result form."""
    form = low.form
    if form.integer or not sol.dual_valid or not form.M:
        return {}
    d = form.shadow_prices(np.asarray(sol.row_dual, dtype=np.float64))
    out = {}
    for b in low.inst.blocks:
        a, z = form.blocks[b.name]
        labels, scalar = form.keys_of(b.name)
        out[b.name] = per_row(labels, d[a:z], scalar)
    return out


def build(h: highspy.Highs, low, model, status: str, stats: dict, times: dict) -> Result:
    """The result of the last ``run`` of ``h`` with lagdsl status ``status``."""
    form = low.form
    res = Result(status, backend="highs", stats=stats, times=times)
    if status in ("infeasible", "unbounded", "error"):
        return res
    sol = h.getSolution()
    x = point(h, sol, low)
    if x is None:
        return res
    res.values = unflatten(model, x)
    with np.errstate(all="ignore"):
        o = low.inst.objective
        res.objective = None if o is None else float(o.evaluate(x)[0])
        res.max_violation = max_violation(low.inst, x)
    res.duals = duals(sol, low)
    if form.integer:
        no_mip_duals(res)
        stats.setdefault("notes", []).append(MIP_NO_DUALS)
        info = h.getInfo()
        stats["nodes"] = int(info.mip_node_count)
        if status != "optimal" and res.objective is not None:
            # HiGHS optimises in the user's sense, scaled by obj_scale
            stats.update(mip_stats(info.mip_gap, form.user_objective(info.mip_dual_bound),
                                   form.user_objective(info.objective_function_value),
                                   res.objective, False))
    no_nan(res, x)
    return res
