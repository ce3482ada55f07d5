"""Hand-written vectorised cvxpy: the knapsack LP relaxation from the same JSON data file."""
import json
import sys

import cvxpy as cp
import numpy as np

data = json.load(open(sys.argv[1]))
value = np.asarray(data["value"], dtype=float)
weight = np.asarray(data["weight"], dtype=float)
x = cp.Variable(len(value), bounds=[0, 1])
prob = cp.Problem(cp.Maximize(value @ x), [weight @ x <= data["capacity"]])
# The same HiGHS settings as every contender: its default presolve spends ~40 s on this
# single dense row (for cvxpy, Pyomo and lagdsl alike).
prob.solve(solver=cp.HIGHS, highs_options={"solver": "ipm", "presolve": "off"})
print(json.dumps({"status": prob.status, "objective": prob.value,
                  "solver_time": prob.solver_stats.solve_time}))
