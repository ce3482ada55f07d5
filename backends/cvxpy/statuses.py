"""cvxpy's statuses in lagdsl's words (the mapping is explained in the package docstring)."""
from __future__ import annotations

import cvxpy as cp

#: cvxpy statuses -> lagdsl statuses (see the module docstring).
STATUS = {
    cp.OPTIMAL: "optimal", cp.OPTIMAL_INACCURATE: "feasible",
    cp.INFEASIBLE: "infeasible", cp.INFEASIBLE_INACCURATE: "infeasible",
    cp.UNBOUNDED: "unbounded", cp.UNBOUNDED_INACCURATE: "unbounded",
    cp.USER_LIMIT: "limit", cp.SOLVER_ERROR: "error",
}
