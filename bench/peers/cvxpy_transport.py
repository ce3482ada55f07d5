"""Hand-written vectorised cvxpy: the transport LP from the same JSON data file."""
import json
import sys

import cvxpy as cp
import numpy as np

data = json.load(open(sys.argv[1]))
cost = np.asarray(data["cost"], dtype=float)
supply = np.asarray(data["supply"], dtype=float)
demand = np.asarray(data["demand"], dtype=float)
x = cp.Variable(cost.shape, nonneg=True)
prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(cost, x))),
                  [cp.sum(x, axis=1) <= supply, cp.sum(x, axis=0) >= demand])
prob.solve(solver=cp.HIGHS)
print(json.dumps({"status": prob.status, "objective": prob.value,
                  "solver_time": prob.solver_stats.solve_time}))
