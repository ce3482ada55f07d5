"""Pyomo (with HiGHS through appsi): the transport LP from the same JSON data file."""
import json
import sys

import pyomo.environ as pyo

data = json.load(open(sys.argv[1]))
S, D = data["S"], data["D"]
m = pyo.ConcreteModel()
m.x = pyo.Var(S, D, domain=pyo.NonNegativeReals)
cost = {(i, j): data["cost"][a][b] for a, i in enumerate(S) for b, j in enumerate(D)}
m.obj = pyo.Objective(expr=sum(cost[i, j] * m.x[i, j] for i in S for j in D), sense=pyo.minimize)
m.ship = pyo.Constraint(S, rule=lambda m, i: sum(m.x[i, j] for j in D) <= data["supply"][S.index(i)])
m.meet = pyo.Constraint(D, rule=lambda m, j: sum(m.x[i, j] for i in S) >= data["demand"][D.index(j)])
opt = pyo.SolverFactory("appsi_highs")
res = opt.solve(m)
print(json.dumps({"status": str(res.solver.termination_condition), "objective": pyo.value(m.obj),
                  "solver_time": None}))
