"""Where the expected numbers of the conformance cases come from.

Each test recomputes a case's ``expected.json`` independently of lagdsl — scipy's HiGHS LP/MILP
solvers, SLSQP, closed forms or brute force over the few points of a small instance — and
checks the file against it. The data is restated here by hand on purpose: if a case file
changes, its reference must be changed with it.
"""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, linprog, milp, minimize

CASES = Path(__file__).parent / "cases"


def exp(case: str) -> dict:
    return json.loads((CASES / (case + ".expected.json")).read_text())


def test_lp_basic():
    r = linprog([-3, -2], A_ub=[[1, 1], [1, 3]], b_ub=[4, 6], bounds=[(0, 3), (0, None)], method="highs")
    e = exp("lp_basic")
    assert -r.fun == pytest.approx(e["objective"], abs=1e-9)
    assert r.x == pytest.approx([e["values"]["x"], e["values"]["y"]], abs=1e-9)


def test_lp_infeasible_and_unbounded():
    r = linprog([1, 1], A_ub=[[1, 1], [-1, -1]], b_ub=[1, -2], bounds=(0, None), method="highs")
    assert r.status == 2 and exp("lp_infeasible")["status"] == "infeasible"
    r = linprog([-1, -1], A_ub=[[1, -1]], b_ub=[1], bounds=(0, None), method="highs")
    assert r.status == 3 and exp("lp_unbounded")["status"] == "unbounded"


def test_lp_indexed():
    data = json.loads((CASES / "lp_indexed.json").read_text())
    cost = 90 * np.array(data["dist"]) / 1000
    supply = [data["supply"][p] for p in data["Plants"]]
    a_ub = np.kron(np.eye(2), np.ones(3))            # rows: plants
    a_eq = np.kron(np.ones(2), np.eye(3))            # rows: markets
    r = linprog(cost.ravel(), A_ub=a_ub, b_ub=supply, A_eq=a_eq, b_eq=data["demand"], method="highs")
    e = exp("lp_indexed")
    assert r.fun == pytest.approx(e["objective"], rel=1e-9)
    # the two shipments the case checks are the same at every optimum: minimise and maximise
    # each over the optimal face
    for k, key in ((1, "seattle,chicago"), (5, "san-diego,topeka")):
        face = dict(A_ub=np.vstack([a_ub, cost.ravel()]), b_ub=np.r_[supply, r.fun + 1e-9],
                    A_eq=a_eq, b_eq=data["demand"], method="highs")
        lo = linprog(np.eye(6)[k], **face).fun
        hi = -linprog(-np.eye(6)[k], **face).fun
        assert lo == pytest.approx(hi, abs=1e-6) and lo == pytest.approx(e["values"]["ship"][key], abs=1e-6)


def test_milp_small():
    r = milp([-1, -1], constraints=LinearConstraint([[-1, 1], [3, 2], [2, 3]], -np.inf, [1, 12, 12]),
             integrality=[1, 1], bounds=Bounds(0, np.inf))
    brute = max(x + y for x in range(10) for y in range(10)
                if -x + y <= 1 and 3 * x + 2 * y <= 12 and 2 * x + 3 * y <= 12)
    assert -r.fun == brute == exp("milp_small")["objective"]


def test_knapsack_binary():
    w, v, cap = [3, 4, 5, 6, 2], [4, 5, 7, 8, 3], 10
    sols = {x: np.dot(v, x) for x in itertools.product([0, 1], repeat=5) if np.dot(w, x) <= cap}
    best = max(sols.values())
    arg = [x for x in sols if sols[x] == best]
    e = exp("knapsack_binary")
    assert best == e["objective"] and len(arg) == 1
    assert {str(i + 1): xi for i, xi in enumerate(arg[0])} == e["values"]["x"]


def test_mis_tree():
    data = json.loads((CASES / "mis_tree.json").read_text())["G"]
    n, edges = len(data["nodes"]), data["edges"]
    sols = [x for x in itertools.product([0, 1], repeat=n) if all(not (x[u] and x[v]) for u, v in edges)]
    best = max(map(sum, sols))
    arg = [x for x in sols if sum(x) == best]
    e = exp("mis_tree")
    assert best == e["objective"] and len(arg) == 1
    assert {str(i): xi for i, xi in enumerate(arg[0])} == e["values"]["x"]


def test_maxcut_weighted():
    g = json.loads((CASES / "maxcut_weighted.json").read_text())["G"]
    ew = [(u, v, w) for (u, v), w in zip(g["edges"], g["weights"])]
    best = max(sum(w * (x[u] + x[v] - 2 * x[u] * x[v]) for u, v, w in ew)
               for x in itertools.product([0, 1], repeat=len(g["nodes"])))
    assert best == pytest.approx(exp("maxcut_weighted")["objective"], abs=1e-12)


def test_assignment():
    c = np.array(json.loads((CASES / "assignment.json").read_text())["c"])
    costs = {p: sum(c[i, p[i]] for i in range(4)) for p in itertools.permutations(range(4))}
    best = min(costs.values())
    arg = [p for p in costs if costs[p] == best]
    e = exp("assignment")
    assert best == e["objective"] and len(arg) == 1
    for key, val in e["values"]["x"].items():
        i, j = (int(s) - 1 for s in key.split(","))
        assert (arg[0][i] == j) == bool(val)


def test_qp_hs76():
    h = np.array([[2, 0, -1, 0], [0, 1, 0, 0], [-1, 0, 2, 1], [0, 0, 1, 1.0]])
    g = np.array([-1, -3, 1, -1.0])
    assert np.linalg.eigvalsh(h).min() > 0                       # convex
    cons = [{"type": "ineq", "fun": lambda x: 5 - (x[0] + 2 * x[1] + x[2] + x[3])},
            {"type": "ineq", "fun": lambda x: 4 - (3 * x[0] + x[1] + 2 * x[2] - x[3])},
            {"type": "ineq", "fun": lambda x: x[1] + 4 * x[2] - 1.5}]
    r = minimize(lambda x: 0.5 * x @ h @ x + g @ x, np.full(4, 0.5), jac=lambda x: h @ x + g,
                 constraints=cons, bounds=[(0, None)] * 4, method="SLSQP", options={"ftol": 1e-14})
    e = exp("qp_hs76")
    assert e["objective"] == pytest.approx(-103 / 22, abs=1e-12)           # literature
    assert r.fun == pytest.approx(e["objective"], abs=1e-8)
    assert r.x == pytest.approx([e["values"]["x"][k] for k in "1234"], abs=1e-6)


def test_socp_projection():
    p = np.array([1.0, 2.0, 3.0])
    e = exp("socp_projection")
    assert e["objective"] == pytest.approx(abs(p.sum() - 1) / math.sqrt(3), abs=1e-12)
    assert [e["values"]["x"][k] for k in "123"] == pytest.approx(p - (p.sum() - 1) / 3, abs=1e-9)


def test_nlp_literature_values():
    assert exp("nlp_hs6")["objective"] == 0.0
    x = np.array([exp("nlp_hs71")["values"]["x"][k] for k in "1234"])
    f = x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]
    assert f == pytest.approx(exp("nlp_hs71")["objective"], abs=2e-3)      # the rounded x*
    assert x.prod() == pytest.approx(25, abs=2e-3) and (x ** 2).sum() == pytest.approx(40, abs=2e-3)


def test_convex_entropy():
    """Jaynes' dice: the maximum-entropy distribution on 1..6 with mean 4.5 is
    p_i = exp(lam i) / Z, lam the root of the mean condition."""
    from scipy.optimize import brentq
    i = np.arange(1, 7)
    lam = brentq(lambda t: (i * np.exp(t * i)).sum() / np.exp(t * i).sum() - 4.5, -5, 5)
    p = np.exp(lam * i) / np.exp(lam * i).sum()
    e = exp("convex_entropy")
    assert e["objective"] == pytest.approx(-(p * np.log(p)).sum(), abs=1e-11)
    assert [e["values"]["p"][str(k)] for k in i] == pytest.approx(p, abs=1e-8)
