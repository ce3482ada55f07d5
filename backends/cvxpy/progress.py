"""What a mixed-integer solve that stopped early reached: its gap and bound, read from
cvxpy's solver statistics (the arithmetic is :func:`lagdsl.solution.mip_stats`)."""
from __future__ import annotations

from lagdsl.solution import mip_stats


def mip_progress(ss, objective: float, maximize: bool, scale: float = 1.0) -> dict:
    """``mip_gap`` and ``bound`` (in the user's sense) of a mixed-integer solve that stopped
    before proving optimality, from HiGHS's own statistics (``mip_gap``, ``mip_dual_bound``);
    empty for solvers whose cvxpy interface does not pass them on (SCIP's keeps only the
    status, value and point).  cvxpy minimises the negation of a maximisation, and ``scale``
    is the factor the solver's objective was multiplied by."""
    info = getattr(ss, "extra_stats", None) if ss is not None else None
    if info is None or not hasattr(info, "mip_gap"):
        return {}
    return mip_stats(info.mip_gap, info.mip_dual_bound, info.objective_function_value,
                     objective, negated=maximize, scale=scale)
