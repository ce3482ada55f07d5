"""The examples in ``examples/``: expected results, where they come from, and lagdsl's answers.

For every example, ``EXPECTED`` holds the optimum (and key values) stated in the model's header.
``test_reference_*`` recomputes each of those numbers *independently of lagdsl* — scipy's
HiGHS LP solver, exact active-set enumeration, L-BFGS-B with an optimality check, or brute
force over the few points of a small instance — or checks it against the literature
(REFERENCES.md). ``test_solve`` then solves each example through the public API
(``lagdsl.load(...).solve(backend="cvxpy")``) and compares. Examples the cvxpy backend must
refuse (the NLP HS71, the heat-equation field model) are checked for the refusal. Two
examples go through the CLI (``python -m lagdsl solve ... --json``). The last tests parse
every ```lag block of docs/language.md.
"""
from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy.optimize import linprog, minimize

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
DOC = ROOT / "docs" / "language.md"


def data(name: str) -> dict:
    return json.loads((EX / (name + ".json")).read_text())


# --- the expected results -------------------------------------------------------------------
# objective, values to check (name -> scalar or {label: value}), and tolerances: ``rel`` for the
# objective (relative, LP/MILP 1e-6, conic looser), ``vabs`` absolute for values.

EXPECTED = {
    "production": dict(objective=280.0, values={"make": {"desks": 2.0, "tables": 0.0, "chairs": 8.0}}),
    "transport": dict(objective=153.675,
                      values={"ship": {"seattle,chicago": 300.0, "san-diego,topeka": 275.0}}),
    "diet": dict(objective=35.853994490358126,
                 values={"buy": {"bread": 3.9485766758494, "milk": 0.8448117539026, "cheese": 0.0,
                                 "potato": 10.0, "fish": 0.0, "yogurt": 10.0}}, vabs=1e-5),
    "knapsack": dict(objective=249.0,
                     values={"take": {str(i): float(i in (1, 2, 3, 4, 6, 11, 12, 14)) for i in range(1, 16)}}),
    "mknap1": dict(objective=3800.0, values={"x": {"1": 0, "2": 1, "3": 1, "4": 0, "5": 0, "6": 1}}),
    "mis_petersen": dict(objective=4.0),
    "dominating_set": dict(objective=3.0),
    "tsp4": dict(objective=80.0),
    "lasso": dict(objective=4.274039190930644, rel=1e-5, vabs=1e-3,
                  values={"x": {"1": 1.40090426, "2": 0.0, "3": 0.0, "4": -1.92415084, "5": 0.0,
                                "6": 0.0, "7": 0.72024902, "8": 0.0}}),
    "portfolio": dict(objective=-0.0223864865512586, rel=1e-5, vabs=1e-4,
                      values={"x": {"bonds": 0.38455865, "stocks": 0.26321419, "gold": 0.19592566,
                                    "tech": 0.15630151}}),
    "facility": dict(objective=891.0, values={"open": {"north": 1, "south": 0, "east": 1, "west": 0}}),
    "hs35": dict(objective=1 / 9, rel=1e-5, vabs=1e-4, values={"x": {"1": 4 / 3, "2": 7 / 9, "3": 4 / 9}}),
    "hs028": dict(objective=0.0, rel=1e-6, vabs=1e-4, values={"x": {"1": 0.5, "2": -0.5, "3": 0.5}}),
    "hs048": dict(objective=0.0, rel=1e-6, vabs=1e-4, values={"x": {str(i): 1.0 for i in range(1, 6)}}),
    "hs051": dict(objective=0.0, rel=1e-6, vabs=1e-4, values={"x": {str(i): 1.0 for i in range(1, 6)}}),
    "hs076": dict(objective=-103 / 22, rel=1e-6, vabs=1e-4,
                  values={"x": {"1": 3 / 11, "2": 23 / 11, "3": 0.0, "4": 6 / 11}}),
    "chebyshev": dict(objective=0.815, rel=1e-6, vabs=1e-5, values={"a": 1.97, "b": 1.235}),
    "maxcut": dict(objective=12.0),
    "vertex_cover": dict(objective=6.0),
    "coloring": dict(objective=3.0),
    "tsp4_qubo": dict(objective=80.0),
    "dc3_qp": dict(objective=-12.126788885348255, rel=1e-7),
    "dcopf": dict(objective=41816 / 7, rel=1e-9, values={"p": {"g1": 1068.4 / 7, "g2": 0, "g3": 681.6 / 7, "g6": 0}},
                  vabs=1e-5),
    "inventory": dict(objective=3750.0,
                      values={"make": {"1": 60, "2": 50, "3": 60, "4": 30, "5": 60, "6": 60},
                              "stock": {"0": 10, "1": 30, "2": 20, "3": 0, "4": 0, "5": 10, "6": 0}}),
    "maxflow": dict(objective=23.0),
    "shortest_path": dict(objective=9.0, values={"x": {"a,c": 1, "c,b": 1, "b,d": 1, "d,f": 1,
                                                      "a,b": 0, "d,e": 0, "e,f": 0}}),
    "hydrothermal": dict(objective=21954.1),
}
#: Examples the cvxpy backend must refuse, with the class the compiler must give them.
REFUSED = {"hs71": "NLP", "heat": "PDE", "hs006": "QCQP", "hs007": "NLP", "hs039": "NLP",
           "hs040": "NLP", "poisson1d": "PDE", "poisson2d": "PDE", "burgers": "PDE",
           "inverse_heat": "PDE", "ritz1d": "PDE"}
#: The class each solvable example must be given (Model.classify().kind).
CLASSES = {"dc3_qp": "QP", "dcopf": "LP", "production": "LP", "transport": "LP", "diet": "LP", "knapsack": "binary linear",
           "mknap1": "binary linear", "mis_petersen": "binary linear",
           "dominating_set": "binary linear", "tsp4": "MILP", "lasso": "SOCP", "portfolio": "QP",
           "facility": "MILP", "hs35": "QP", "chebyshev": "SOCP", "inventory": "LP", "hydrothermal": "LP",
           "hs028": "QP", "hs048": "QP", "hs051": "QP", "hs076": "QP",
           "maxcut": "binary quadratic", "vertex_cover": "binary linear", "coloring": "binary linear",
           "tsp4_qubo": "binary quadratic", "maxflow": "LP", "shortest_path": "LP"}
HS71_OPT = 17.0140173                          # REFERENCES.md
HS71_X = (1.0, 4.74299963, 3.82114998, 1.37940829)


def test_every_example_is_covered():
    names = {p.stem for p in EX.glob("*.lag")}
    assert len(names) >= 12
    assert names == set(EXPECTED) | set(REFUSED)
    for name in names:
        head = (EX / (name + ".lag")).read_text().splitlines()[0]
        assert head.startswith("#"), "%s.lag has no header comment" % name


# --- independent references -----------------------------------------------------------------

def _face_is_point(c, opt, k, **lp):
    """min and max of x[k] over the optimal face of an LP agree (the value is unique)."""
    a_ub = np.vstack([lp.pop("A_ub"), c]) if "A_ub" in lp else np.array([c])
    b_ub = np.r_[lp.pop("b_ub"), opt + 1e-9] if "b_ub" in lp else np.array([opt + 1e-9])
    e = np.eye(len(c))[k]
    lo = linprog(e, A_ub=a_ub, b_ub=b_ub, method="highs", **lp).fun
    hi = -linprog(-e, A_ub=a_ub, b_ub=b_ub, method="highs", **lp).fun
    return abs(hi - lo) < 1e-6


def ref_production():
    c = -np.array([60, 30, 20.0])
    lp = dict(A_ub=[[8, 6, 1], [4, 2, 1.5], [2, 1.5, 0.5]], b_ub=[48, 20, 8],
              bounds=[(0, None), (0, 5), (0, None)])
    r = linprog(c, method="highs", **lp)
    assert all(_face_is_point(c, r.fun, k, **dict(lp)) for k in range(3))
    return -r.fun, {"make": dict(zip(["desks", "tables", "chairs"], r.x))}


def ref_transport():
    d = data("transport")
    cost = (90 * np.array(d["dist"]) / 1000).ravel()
    supply = [d["supply"][p] for p in d["Plants"]]
    lp = dict(A_ub=np.vstack([np.kron(np.eye(2), np.ones(3)), -np.kron(np.ones(2), np.eye(3))]),
              b_ub=np.r_[supply, -np.array(d["demand"])], bounds=(0, None))
    r = linprog(cost, method="highs", **lp)
    assert _face_is_point(cost, r.fun, 1, **dict(lp)) and _face_is_point(cost, r.fun, 5, **dict(lp))
    assert not _face_is_point(cost, r.fun, 0, **dict(lp))      # new-york's split is not unique
    return r.fun, {"ship": {"seattle,chicago": r.x[1], "san-diego,topeka": r.x[5]}}


def ref_diet():
    d = data("diet")
    a = np.array(d["amount"], dtype=float)
    lp = dict(A_ub=np.vstack([-a, a]), b_ub=np.r_[-np.array(d["nmin"]), d["nmax"]], bounds=(0, 10))
    r = linprog(d["cost"], method="highs", **lp)
    assert all(_face_is_point(d["cost"], r.fun, k, **dict(lp)) for k in range(len(d["F"])))
    return r.fun, {"buy": dict(zip(d["F"], r.x))}


def ref_knapsack():
    d = data("knapsack")
    best, arg = -1, []
    for x in itertools.product([0, 1], repeat=d["n"]):
        if np.dot(d["w"], x) <= d["capacity"]:
            v = int(np.dot(d["v"], x))
            if v > best:
                best, arg = v, [x]
            elif v == best:
                arg.append(x)
    assert len(arg) == 1
    return best, {"take": {str(i + 1): float(t) for i, t in enumerate(arg[0])}}


def ref_mknap1():
    d = data("mknap1")
    w, cap = np.array(d["W"]), np.array(d["cap"])
    sols = {x: int(np.dot(d["p"], x)) for x in itertools.product([0, 1], repeat=d["n"])
            if np.all(w @ np.array(x) <= cap)}
    best = max(sols.values())
    arg = [x for x in sols if sols[x] == best]
    assert len(arg) == 1
    return best, {"x": {str(i + 1): t for i, t in enumerate(arg[0])}}


def ref_mis_petersen():
    assert data("mis_petersen") == {"G": {"generator": "petersen_graph"}}
    g = nx.petersen_graph()
    best = max(sum(x) for x in itertools.product([0, 1], repeat=10)
               if all(not (x[u] and x[v]) for u, v in g.edges))
    return best, {}


def ref_dominating_set():
    gd = data("dominating_set")["G"]
    g = nx.Graph(gd["edges"])
    assert nx.is_isomorphic(g, nx.petersen_graph())
    best = min(sum(x) for x in itertools.product([0, 1], repeat=10)
               if all(x[v] or any(x[u] for u in g[v]) for v in g))
    return best, {}


def ref_tsp4():
    dist = data("tsp4")["dist"]
    best = min(dist[0][p[0]] + dist[p[0]][p[1]] + dist[p[1]][p[2]] + dist[p[2]][0]
               for p in itertools.permutations([1, 2, 3]))
    return best, {}


def ref_lasso():
    d = data("lasso")
    a, b, lam = np.array(d["A"]), np.array(d["b"]), 1.0
    n = a.shape[1]
    f = lambda z: np.sum((a @ (z[:n] - z[n:]) - b) ** 2) + lam * np.sum(z)
    g = lambda z: (lambda r: np.r_[2 * a.T @ r + lam, -2 * a.T @ r + lam])(a @ (z[:n] - z[n:]) - b)
    r = minimize(f, np.zeros(2 * n), jac=g, method="L-BFGS-B", bounds=[(0, None)] * (2 * n),
                 options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
    x = r.x[:n] - r.x[n:]
    grad = 2 * a.T @ (a @ x - b)                  # optimality: grad = -lam sign(x), |grad| <= lam at 0
    for xi, gi in zip(x, grad):
        assert (abs(gi + lam * np.sign(xi)) < 1e-5) if abs(xi) > 1e-8 else (abs(gi) <= lam + 1e-6)
    return float(r.fun), {"x": {str(j + 1): v for j, v in enumerate(x)}}


def ref_portfolio():
    """Exact: enumerate which bounds are active (3^n), solve the KKT system of each, keep the
    one that is primal and dual feasible (the problem is strictly convex: it is unique)."""
    d = data("portfolio")
    s, mu, gamma, ub = np.array(d["Sigma"]), np.array(d["mu"]), 0.5, 0.6
    assert np.linalg.eigvalsh(s).min() > 0
    n, found = len(mu), []
    for st in itertools.product([0, 1, 2], repeat=n):       # 0 at 0, 1 at cap, 2 free
        fixed = [i for i in range(n) if st[i] != 2]
        free = [i for i in range(n) if st[i] == 2]
        x = np.array([0.0 if st[i] == 0 else ub for i in range(n)])
        x[free] = 0
        k = len(free)
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k], kkt[:k, k], kkt[k, :k] = 2 * s[np.ix_(free, free)], 1, 1
        rhs = np.r_[gamma * mu[free] - 2 * s[np.ix_(free, fixed)] @ x[fixed], 1 - x[fixed].sum()]
        try:
            sol = np.linalg.solve(kkt, rhs)
        except np.linalg.LinAlgError:
            continue
        x[free] = sol[:k]
        if np.any(x < -1e-12) or np.any(x > ub + 1e-12):
            continue
        gr = 2 * s @ x - gamma * mu + sol[k]
        if all(gr[i] >= -1e-12 if st[i] == 0 else gr[i] <= 1e-12 for i in fixed):
            found.append((x @ s @ x - gamma * mu @ x, x))
    assert found and all(np.allclose(f[1], found[0][1]) for f in found)
    return float(found[0][0]), {"x": dict(zip(d["A"], found[0][1]))}


def ref_facility():
    d = data("facility")
    nf, nc = len(d["F"]), len(d["C"])
    cost, dem = np.array(d["cost"], float), np.array(d["demand"], float)
    a_eq = np.kron(np.ones(nf), np.eye(nc))
    a_ub = np.kron(np.eye(nf), dem)
    results = []
    for op in itertools.product([0, 1], repeat=nf):
        r = linprog((cost * dem).ravel(), A_ub=a_ub, b_ub=np.array(d["capacity"]) * op, A_eq=a_eq,
                    b_eq=np.ones(nc), bounds=[(0, op[i]) for i in range(nf) for _ in range(nc)],
                    method="highs")
        if r.status == 0:
            results.append((r.fun + np.dot(d["fixed"], op), op))
    best = min(results)[0]
    arg = [op for f, op in results if abs(f - best) < 1e-9]
    assert len(arg) == 1
    return best, {"open": dict(zip(d["F"], arg[0]))}


def ref_hs35():
    x = np.array([4 / 3, 7 / 9, 4 / 9])              # literature optimum (REFERENCES.md)
    f = (9 - 8 * x[0] - 6 * x[1] - 4 * x[2] + 2 * x[0] ** 2 + 2 * x[1] ** 2 + x[2] ** 2
         + 2 * x[0] * x[1] + 2 * x[0] * x[2])
    assert f == pytest.approx(1 / 9, abs=1e-12) and x[0] + x[1] + 2 * x[2] == pytest.approx(3)
    return 1 / 9, {"x": {"1": x[0], "2": x[1], "3": x[2]}}


def _kkt_equality_qp(P, q, A, b):
    """min 1/2 x'Px + q'x s.t. Ax = b, solved from its KKT system (P is PSD on ker A)."""
    n, m = len(q), len(b)
    K = np.block([[P, A.T], [A, np.zeros((m, m))]])
    sol = np.linalg.solve(K, np.r_[-q, b])
    x = sol[:n]
    return 0.5 * x @ P @ x + q @ x, x


def ref_hs028():
    # f = (x1 + x2)^2 + (x2 + x3)^2 = 1/2 x'Px with P below; x1 + 2 x2 + 3 x3 = 1
    P = 2 * np.array([[1, 1, 0], [1, 2, 1], [0, 1, 1.0]])
    f, x = _kkt_equality_qp(P, np.zeros(3), np.array([[1, 2, 3.0]]), np.array([1.0]))
    return f, {"x": {str(i + 1): v for i, v in enumerate(x)}}


def ref_hs048():
    # (x1 - 1)^2 + (x2 - x3)^2 + (x4 - x5)^2 = 1/2 x'Px + q'x + 1
    P = 2 * np.array([[1, 0, 0, 0, 0], [0, 1, -1, 0, 0], [0, -1, 1, 0, 0], [0, 0, 0, 1, -1], [0, 0, 0, -1, 1.0]])
    q = np.array([-2.0, 0, 0, 0, 0])
    A = np.array([[1, 1, 1, 1, 1], [0, 0, 1, -2, -2.0]])
    f, x = _kkt_equality_qp(P, q, A, np.array([5, -3.0]))
    return f + 1, {"x": {str(i + 1): v for i, v in enumerate(x)}}


def ref_hs051():
    # (x1 - x2)^2 + (x2 + x3 - 2)^2 + (x4 - 1)^2 + (x5 - 1)^2 = 1/2 x'Px + q'x + 6
    P = 2 * np.array([[1, -1, 0, 0, 0], [-1, 2, 1, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1.0]])
    q = np.array([0, -4, -4, -2, -2.0])
    A = np.array([[1, 3, 0, 0, 0], [0, 0, 1, 1, -2], [0, 1, 0, 0, -1.0]])
    f, x = _kkt_equality_qp(P, q, A, np.array([4, 0, 0.0]))
    return f + 6, {"x": {str(i + 1): v for i, v in enumerate(x)}}


def ref_hs076():
    def f(x):
        return (x[0] ** 2 + 0.5 * x[1] ** 2 + x[2] ** 2 + 0.5 * x[3] ** 2 - x[0] * x[2] + x[2] * x[3]
                - x[0] - 3 * x[1] + x[2] - x[3])
    cons = [{"type": "ineq", "fun": lambda x: 5 - x[0] - 2 * x[1] - x[2] - x[3]},
            {"type": "ineq", "fun": lambda x: 4 - 3 * x[0] - x[1] - 2 * x[2] + x[3]},
            {"type": "ineq", "fun": lambda x: x[1] + 4 * x[2] - 1.5}]
    r = minimize(f, [0.5] * 4, method="SLSQP", constraints=cons, bounds=[(0, None)] * 4,
                 options={"ftol": 1e-14})
    x = np.array([3 / 11, 23 / 11, 0, 6 / 11])        # literature point (REFERENCES.md)
    assert np.allclose(r.x, x, atol=1e-6) and f(x) == pytest.approx(-103 / 22, abs=1e-12)
    return f(x), {"x": {str(i + 1): v for i, v in enumerate(x)}}


def ref_chebyshev():
    d = data("chebyshev")
    t, y = np.array(d["t"], float), np.array(d["y"], float)
    m = len(t)
    c = np.array([0, 0, 1.0])
    lp = dict(A_ub=np.vstack([np.c_[t, np.ones(m), -np.ones(m)], np.c_[-t, -np.ones(m), -np.ones(m)]]),
              b_ub=np.r_[y, -y], bounds=[(None, None)] * 3)
    r = linprog(c, method="highs", **lp)
    assert all(_face_is_point(c, r.fun, k, **dict(lp)) for k in range(3))
    return r.fun, {"a": r.x[0], "b": r.x[1]}


def ref_inventory():
    dem, uc, T = [40, 60, 80, 30, 50, 70], [10, 12, 11, 14, 10, 13], 6
    c = np.r_[uc, 0, [1.5] * T]                          # make[1..T], stock[0..T]
    a_eq, b_eq = np.zeros((T + 1, 2 * T + 1)), np.zeros(T + 1)
    a_eq[0, T], b_eq[0] = 1, 10
    for k in range(1, T + 1):
        a_eq[k, T + k - 1], a_eq[k, k - 1], a_eq[k, T + k], b_eq[k] = 1, 1, -1, dem[k - 1]
    lp = dict(A_eq=a_eq, b_eq=b_eq, bounds=[(0, 60)] * T + [(0, None)] * (T + 1))
    r = linprog(c, method="highs", **lp)
    assert all(_face_is_point(c, r.fun, k, **dict(lp)) for k in range(2 * T + 1))
    return r.fun, {"make": {str(k + 1): r.x[k] for k in range(T)},
                   "stock": {str(k): r.x[T + k] for k in range(T + 1)}}


def _subsets(n: int) -> np.ndarray:
    """All 0/1 vectors of length n (rows)."""
    return ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(np.int64)


def _petersen_edges() -> np.ndarray:
    return np.array(nx.petersen_graph().edges())


def ref_maxcut():
    X, E = _subsets(10), _petersen_edges()
    return float((X[:, E[:, 0]] != X[:, E[:, 1]]).sum(axis=1).max()), {}


def ref_vertex_cover():
    X, E = _subsets(10), _petersen_edges()
    cover = np.all(X[:, E[:, 0]] | X[:, E[:, 1]], axis=1)
    return float(X[cover].sum(axis=1).min()), {}


def ref_coloring():
    g = data("coloring")["G"]
    G = getattr(nx, g["generator"])(g["n"])
    best = min(len(set(c)) for c in itertools.product(range(data("coloring")["K"]), repeat=G.number_of_nodes())
               if all(c[u] != c[v] for u, v in G.edges))
    return float(best), {}


def ref_tsp4_qubo():
    d = data("tsp4_qubo")["dist"]
    tours = [(0,) + p for p in itertools.permutations(range(1, 4))]
    return float(min(sum(d[t[k]][t[(k + 1) % 4]] for k in range(4)) for t in tours)), {}


def _digraph(name: str, attr: str):
    d = data(name)["G"]
    G = nx.DiGraph()
    G.add_nodes_from(d["nodes"])
    values = d["weights"] if attr == "weight" else d["edge_attrs"][attr]
    G.add_edges_from((u, v, {attr: w}) for (u, v), w in zip(d["edges"], values))
    return G, data(name)["s"], data(name)["t"]


def ref_maxflow():
    G, s, t = _digraph("maxflow", "capacity")
    return float(nx.maximum_flow_value(G, s, t, capacity="capacity")), {}


def ref_shortest_path():
    G, s, t = _digraph("shortest_path", "weight")
    path = nx.shortest_path(G, s, t, weight="weight")
    on = set(zip(path, path[1:]))
    return float(nx.shortest_path_length(G, s, t, weight="weight")), {
        "x": {"%s,%s" % (u, v): float((u, v) in on)
              for u, v in [("a", "c"), ("c", "b"), ("b", "d"), ("d", "f"), ("a", "b"), ("d", "e"),
                           ("e", "f")]}}


def ref_dcopf():
    """linprog on the same data, unknowns (p, f, theta), written out here."""
    d = data("dcopf")
    at, inc = np.array(d["at"], float), np.array(d["inc"], float)
    ng, nl, nb = at.shape[0], inc.shape[0], inc.shape[1]
    c = np.r_[d["cost"], np.zeros(nl + nb)]
    a_eq = np.vstack([np.hstack([at.T, -inc.T, np.zeros((nb, nb))]),
                      np.hstack([np.zeros((nl, ng)), np.diag(d["x"]), -inc]),
                      np.r_[np.zeros(ng + nl), d["ref"]][None, :]])
    b_eq = np.r_[d["load"], np.zeros(nl), 0.0]
    bounds = [(0, u) for u in d["pmax"]] + [(-u, u) for u in d["cap"]] + [(None, None)] * nb
    r = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert r.status == 0
    return r.fun, {"p": dict(zip(d["Gen"], r.x[:ng]))}


def ref_dc3_qp():
    """SLSQP finds the active inequalities; the KKT system on them gives the point exactly,
    checked primal feasible and dual feasible (the objective is strictly convex: unique)."""
    from scipy.optimize import minimize
    d = data("dc3_qp")
    Q, p, A, G, h, x = (np.array(d[k], dtype=float) for k in ("Q", "p", "A", "G", "h", "x"))
    n, m = len(p), len(x)
    r = minimize(lambda y: 0.5 * y @ (Q * y) + p @ y, np.zeros(n), jac=lambda y: Q * y + p,
                 method="SLSQP", options={"maxiter": 1000, "ftol": 1e-12},
                 constraints=[{"type": "eq", "fun": lambda y: A @ y - x, "jac": lambda y: A},
                              {"type": "ineq", "fun": lambda y: h - G @ y, "jac": lambda y: -G}])
    act = np.flatnonzero(h - G @ r.x < 1e-6)
    k = len(act)
    K = np.block([[np.diag(Q), A.T, G[act].T], [A, np.zeros((m, m + k))], [G[act], np.zeros((k, m + k))]])
    sol = np.linalg.solve(K, np.r_[-p, x, h[act]])
    y, lam = sol[:n], sol[n + m:]
    assert lam.min() >= 0 and (G @ y - h).max() <= 1e-9
    return 0.5 * y @ (Q * y) + p @ y, {}


def ref_hydrothermal():
    """The base data's LP rebuilt column by column from the JSON (vol, turb, spill, gen, deficit)."""
    d = data("hydrothermal")
    H, nR, nG = d["H"], len(d["R"]), len(d["G"])
    sizes = [nR * H, nR * H, nR * H, nG * H, H]          # vol, turb, spill, gen, deficit
    start = np.cumsum([0] + sizes)
    n = start[-1]
    col = lambda k, i, t: start[k] + i * H + t if k < 4 else start[4] + t
    c = np.zeros(n)
    for g in range(nG):
        c[[col(3, g, t) for t in range(H)]] = d["gcost"][g]
    c[start[4]:] = d["deficit_cost"]
    c[start[2]:start[3]] = d["spill_cost"]
    for r in range(nR):
        c[col(0, r, H - 1)] -= d["water_value"][r]
    A, b = [], []
    for r in range(nR):                 # vol[t] - vol[t-1] + turb + spill = inflow (+ v0 at t = 1)
        for t in range(H):
            row = np.zeros(n)
            row[[col(0, r, t), col(1, r, t), col(2, r, t)]] = 1
            if t:
                row[col(0, r, t - 1)] = -1
            A.append(row)
            b.append(d["inflow"][r][t] + (d["v0"][r] if t == 0 else 0))
    for t in range(H):                  # energy balance
        row = np.zeros(n)
        for r in range(nR):
            row[col(1, r, t)] = d["rho"][r]
        for g in range(nG):
            row[col(3, g, t)] = 1
        row[col(4, 0, t)] = 1
        A.append(row)
        b.append(d["demand"][t])
    bounds = ([(d["vmin"][r], d["vmax"][r]) for r in range(nR) for _ in range(H)]
              + [(0, d["qmax"][r]) for r in range(nR) for _ in range(H)] + [(0, None)] * (nR * H)
              + [(0, d["gmax"][g]) for g in range(nG) for _ in range(H)] + [(0, None)] * H)
    r = linprog(c, A_eq=np.array(A), b_eq=b, bounds=bounds, method="highs")
    assert r.status == 0
    return r.fun, {}


REFERENCES = {name[4:]: fn for name, fn in list(globals().items()) if name.startswith("ref_")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference(name):
    """The documented optimum is what an independent method computes (or the literature says)."""
    f, values = REFERENCES[name]()
    exp = EXPECTED[name]
    assert f == pytest.approx(exp["objective"], rel=1e-9, abs=1e-12)
    for var, want in values.items():
        if isinstance(want, dict):
            for key, w in want.items():
                assert w == pytest.approx(exp["values"][var][key], abs=1e-6), (var, key)
        else:
            assert want == pytest.approx(exp["values"][var], abs=1e-6), var


def test_reference_hs71_literature_point():
    x = np.array(HS71_X)
    f = x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]
    assert f == pytest.approx(HS71_OPT, abs=1e-6)
    assert x.prod() >= 25 - 1e-6 and (x ** 2).sum() == pytest.approx(40, abs=1e-6)


# --- lagdsl -----------------------------------------------------------------------------------

def load(name: str, **kw):
    import lagdsl

    d = EX / (name + ".json")
    return lagdsl.load(EX / (name + ".lag"), data=str(d) if d.exists() else None, **kw)


def cvxpy_backend():
    from lagdsl.backend import get_backend

    return get_backend("cvxpy")


def check_values(values: dict, want: dict, vabs: float):
    for var, w in want.items():
        got = values[var]
        if isinstance(w, dict):
            for key, wv in w.items():
                assert got[key] == pytest.approx(wv, abs=vabs), "%s[%s]" % (var, key)
        else:
            assert got == pytest.approx(w, abs=vabs), var


def check_structure(name: str, values: dict):
    """Key properties of examples whose optimum is not unique."""
    if name == "mis_petersen":
        x = {int(k): round(v) for k, v in values["x"].items()}
        assert sorted(x) == list(range(10)) and sum(x.values()) == 4
        assert all(not (x[u] and x[v]) for u, v in nx.petersen_graph().edges)
    if name == "dominating_set":
        g = nx.Graph(data("dominating_set")["G"]["edges"])
        x = {int(k): round(v) for k, v in values["pick"].items()}
        assert all(x[v] or any(x[u] for u in g[v]) for v in g)
    if name == "tsp4":
        arcs = [tuple(map(int, k.split(","))) for k, v in values["x"].items() if round(v) == 1]
        assert len(values["x"]) == 12 and len(arcs) == 4
        succ = dict(arcs)
        city, seen = 1, []
        for _ in range(4):
            seen.append(city)
            city = succ[city]
        assert city == 1 and sorted(seen) == [1, 2, 3, 4]            # one tour through all
    if name == "transport":
        assert sum(v for k, v in values["ship"].items() if k.endswith(",new-york")) == pytest.approx(325)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_classified(name):
    assert load(name).classify().kind == CLASSES[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_solve(name):
    model = load(name)
    cvxpy_backend()
    res = model.solve(backend="cvxpy")
    exp = EXPECTED[name]
    assert res.status == "optimal", res
    assert res.objective == pytest.approx(exp["objective"], rel=exp.get("rel", 1e-6), abs=1e-9)
    assert res.max_violation is not None and res.max_violation <= 1e-6
    check_values(res.values, exp.get("values", {}), exp.get("vabs", 1e-6))
    check_structure(name, res.values)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_cvxpy_refuses(name):
    from lagdsl.errors import BackendRefusal

    model = load(name)
    assert model.classify().kind == REFUSED[name]
    reasons = cvxpy_backend().accepts(model.ir)
    assert reasons and all(r.reason.strip() for r in reasons)
    with pytest.raises(BackendRefusal) as info:
        model.solve(backend="cvxpy")
    text = info.value.format()
    assert "cvxpy" in text and ("%s.lag" % name) in text        # positioned in the user's file


def test_hs71_model_is_hs71():
    """The IR of hs71.lag evaluates to the literature optimum at x* and starts at x0."""
    from lagdsl.lower.numeric import objective_value, point_violation

    ir = load("hs71").ir
    assert list(ir.vars["x"].start) == [1, 5, 5, 1]
    assert list(ir.vars["x"].lower) == [1] * 4 and list(ir.vars["x"].upper) == [5] * 4
    x = np.array(HS71_X)
    assert objective_value(ir, x) == pytest.approx(HS71_OPT, abs=1e-6)
    assert point_violation(ir, x) <= 1e-6
    assert point_violation(ir, np.array([1.0, 5, 5, 1])) > 1        # x0 violates the sphere


def test_heat_model_has_the_exact_solution():
    """The field model parses into one PDE and two face conditions that the exact solution
    u = exp(-alpha pi^2 t) sin(pi x) satisfies."""
    import sympy

    ir = load("heat").ir
    assert list(ir.fields) == ["u"] and ir.fields["u"].coords == ("x", "t")
    assert ir.domains["D"].coords == {"x": (0.0, 1.0), "t": (0.0, 1.0)}
    x, t = sympy.symbols("x t")
    alpha = float(ir.params["alpha"].values)
    exact = sympy.exp(-alpha * sympy.pi ** 2 * t) * sympy.sin(sympy.pi * x)
    u = sympy.Function("u")
    pde = ir.constraints["pde"]
    assert pde.region is not None and pde.region.domain == "D"
    body = pde.body.subs(sympy.Symbol("alpha"), alpha)
    body = body.replace(u, sympy.Lambda((x, t), exact)).doit()
    rhs = 0 if pde.upper is None else pde.upper
    assert sympy.simplify(body - rhs) == 0
    assert {c.region.kind for n, c in ir.constraints.items() if n != "pde"} == {"where"}


def test_params_override():
    """``params=`` overrides a default: lam = 0 makes lasso plain least squares."""
    model = load("lasso", params={"lam": 0})
    cvxpy_backend()
    res = model.solve(backend="cvxpy")
    d = data("lasso")
    a, b = np.array(d["A"]), np.array(d["b"])
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    assert res.objective == pytest.approx(float(np.sum((a @ x - b) ** 2)), rel=1e-5)


def test_transport_duals():
    """Shadow prices of the demand rows equal HiGHS's marginals from scipy (and the published
    GAMS trnsport marginals 0.225, 0.153, 0.126)."""
    model = load("transport")
    cvxpy_backend()
    res = model.solve(backend="cvxpy")
    d = data("transport")
    cost = (90 * np.array(d["dist"]) / 1000).ravel()
    supply = [d["supply"][p] for p in d["Plants"]]
    r = linprog(cost, A_ub=np.vstack([np.kron(np.eye(2), np.ones(3)), -np.kron(np.ones(2), np.eye(3))]),
                b_ub=np.r_[supply, -np.array(d["demand"])], method="highs")
    demand_marginals = -r.ineqlin.marginals[2:]          # d(cost)/d(demand) >= 0
    assert demand_marginals == pytest.approx([0.225, 0.153, 0.126], abs=1e-9)
    got = [res.duals["meet_demand"][m] for m in d["Markets"]]
    assert got == pytest.approx(demand_marginals, abs=1e-7)
    assert list(res.duals["supply_limit"].values()) == pytest.approx([0, 0], abs=1e-9)


def test_exp1_is_e():
    """LANGUAGE.md: 'use exp(1) for e'."""
    import lagdsl

    load("production")
    m = lagdsl.parse("param e = exp(1)")
    assert float(m.ir.params["e"].values) == pytest.approx(math.e)


# --- the CLI ----------------------------------------------------------------------------------

def run_cli(*args):
    load("production")                 # skips while the front end is missing
    cvxpy_backend()
    return subprocess.run([sys.executable, "-m", "lagdsl", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_cli_transport_json():
    p = run_cli("solve", "examples/transport.lag", "--backend", "cvxpy",
                "--data", "examples/transport.json", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == "optimal" and out["backend"] == "cvxpy"
    assert out["objective"] == pytest.approx(153.675, rel=1e-6)
    assert out["variables"]["ship"]["seattle,chicago"] == pytest.approx(300, abs=1e-6)
    assert out["max_violation"] <= 1e-6
    assert set(out) >= {"status", "objective", "variables", "duals", "max_violation", "backend", "stats"}


def test_cli_knapsack_json_with_set():
    """``--set`` overrides data: with capacity 0 nothing fits."""
    p = run_cli("solve", "examples/knapsack.lag", "--backend", "cvxpy",
                "--data", "examples/knapsack.json", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["objective"] == pytest.approx(249)
    assert sorted(k for k, v in out["variables"]["take"].items() if round(v) == 1) == \
        sorted(str(i) for i in (1, 2, 3, 4, 6, 11, 12, 14))
    p = run_cli("solve", "examples/knapsack.lag", "--backend", "cvxpy",
                "--data", "examples/knapsack.json", "--set", "capacity=0", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["objective"] == pytest.approx(0, abs=1e-9)


def test_cli_refusal_exits_2():
    p = run_cli("solve", "examples/hs71.lag", "--backend", "cvxpy", "--json")
    assert p.returncode == 2
    assert "hs71.lag:" in p.stderr and "Traceback" not in p.stderr


# --- docs/language.md -----------------------------------------------------------------------

def doc_blocks():
    if not DOC.exists():
        return []
    return re.findall(r"```lag\n(.*?)```", DOC.read_text(), flags=re.S)


def test_language_doc_has_blocks():
    assert DOC.exists()
    assert len(doc_blocks()) >= 5


@pytest.mark.parametrize("k", range(len(doc_blocks())))
def test_language_doc_block_parses(k):
    """Every ```lag block of docs/language.md parses; a block whose first line is
    ``# complete`` (optionally followed by ``data: {...}``) is also compiled with that data."""
    from lagdsl.frontend.parser import parse_program

    text = doc_blocks()[k]
    parse_program(text, "docs/language.md[block %d]" % k)
    first = text.splitlines()[0] if text.strip() else ""
    if first.startswith("# complete"):
        import lagdsl

        m = re.search(r"data:\s*(\{.*\})\s*$", first)
        lagdsl.parse(text, data=json.loads(m.group(1)) if m else None, path="language.md")
