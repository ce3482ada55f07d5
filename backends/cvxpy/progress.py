"""What a mixed-integer solve that stopped early reached: its gap and bound."""
from __future__ import annotations

import numpy as np

def mip_progress(ss, objective: float, maximize: bool, scale: float = 1.0) -> dict:
    """``mip_gap`` and ``bound`` (in the user's sense) of a mixed-integer solve that stopped
    before proving optimality, from HiGHS's own statistics (``mip_gap``, ``mip_dual_bound``);
    empty for solvers whose cvxpy interface does not pass them on (SCIP's keeps only the
    status, value and point).  The bound is moved by the same offset that separates the
    solver's incumbent value from the measured ``objective``, so constant terms and the
    sense are the user's; ``scale`` is the factor the solver's objective was multiplied by."""
    info = getattr(ss, "extra_stats", None) if ss is not None else None
    if info is None or not hasattr(info, "mip_gap"):
        return {}
    gap, bound, incumbent = info.mip_gap, info.mip_dual_bound, info.objective_function_value
    if not (np.isfinite(gap) and np.isfinite(bound) and np.isfinite(incumbent)):
        return {}
    sign = -1.0 if maximize else 1.0
    return {"mip_gap": float(gap), "bound": float(objective + sign * (bound - incumbent) / scale)}
