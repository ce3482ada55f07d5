"""Pyomo (with HiGHS through appsi): the knapsack LP relaxation from the same JSON data file."""
import json
import sys

import pyomo.environ as pyo

data = json.load(open(sys.argv[1]))
n = len(data["I"])
m = pyo.ConcreteModel()
m.x = pyo.Var(range(n), bounds=(0, 1))
m.obj = pyo.Objective(expr=sum(data["value"][k] * m.x[k] for k in range(n)), sense=pyo.maximize)
m.cap = pyo.Constraint(expr=sum(data["weight"][k] * m.x[k] for k in range(n)) <= data["capacity"])
opt = pyo.SolverFactory("appsi_highs")
opt.options["solver"] = "ipm"        # the same HiGHS settings as every contender
opt.options["presolve"] = "off"
res = opt.solve(m)
print(json.dumps({"status": str(res.solver.termination_condition), "objective": pyo.value(m.obj),
                  "solver_time": None}))
