"""The ten Hock-Schittkowski problems of bench/nlp.py written directly in numpy for the peer
solvers (scipy, Ipopt, Cooper): objective, equality and inequality residuals (``g(x) >= 0``
as scipy writes them), bounds, the standard start and the known optimum.  lagdsl solves the
same problems from ``examples/hs*.lag``."""
from __future__ import annotations

import math

import numpy as np

INF = np.inf


def _p(name, lag, f, eq, ineq, x0, fstar, lb=None, ub=None):
    n = len(x0)
    return {"name": name, "lag": lag, "f": f, "eq": eq, "ineq": ineq, "x0": np.array(x0, float),
            "fstar": fstar, "lb": np.full(n, -INF) if lb is None else np.array(lb, float),
            "ub": np.full(n, INF) if ub is None else np.array(ub, float)}


PROBLEMS = [
    _p("hs006", "examples/hs006.lag", lambda x: (1 - x[0]) ** 2,
       lambda x: np.array([10 * (x[1] - x[0] ** 2)]), None, [-1.2, 1.0], 0.0),
    _p("hs007", "examples/hs007.lag", lambda x: math.log(1 + x[0] ** 2) - x[1],
       lambda x: np.array([(1 + x[0] ** 2) ** 2 + x[1] ** 2 - 4]), None, [2.0, 2.0], -math.sqrt(3)),
    _p("hs028", "examples/hs028.lag", lambda x: (x[0] + x[1]) ** 2 + (x[1] + x[2]) ** 2,
       lambda x: np.array([x[0] + 2 * x[1] + 3 * x[2] - 1]), None, [-4.0, 1.0, 1.0], 0.0),
    _p("hs035", "examples/hs35.lag",
       lambda x: 9 - 8 * x[0] - 6 * x[1] - 4 * x[2] + 2 * x[0] ** 2 + 2 * x[1] ** 2 + x[2] ** 2
       + 2 * x[0] * x[1] + 2 * x[0] * x[2],
       None, lambda x: np.array([3 - x[0] - x[1] - 2 * x[2]]), [0.5, 0.5, 0.5], 1 / 9, lb=[0, 0, 0]),
    _p("hs039", "examples/hs039.lag", lambda x: -x[0],
       lambda x: np.array([x[1] - x[0] ** 3 - x[2] ** 2, x[0] ** 2 - x[1] - x[3] ** 2]), None,
       [2.0] * 4, -1.0),
    _p("hs040", "examples/hs040.lag", lambda x: -x[0] * x[1] * x[2] * x[3],
       lambda x: np.array([x[0] ** 3 + x[1] ** 2 - 1, x[0] ** 2 * x[3] - x[2], x[3] ** 2 - x[1]]),
       None, [0.8] * 4, -0.25),
    _p("hs048", "examples/hs048.lag", lambda x: (x[0] - 1) ** 2 + (x[1] - x[2]) ** 2 + (x[3] - x[4]) ** 2,
       lambda x: np.array([x.sum() - 5, x[2] - 2 * (x[3] + x[4]) + 3]), None,
       [3.0, 5.0, -3.0, 2.0, -2.0], 0.0),
    _p("hs051", "examples/hs051.lag",
       lambda x: (x[0] - x[1]) ** 2 + (x[1] + x[2] - 2) ** 2 + (x[3] - 1) ** 2 + (x[4] - 1) ** 2,
       lambda x: np.array([x[0] + 3 * x[1] - 4, x[2] + x[3] - 2 * x[4], x[1] - x[4]]), None,
       [2.5, 0.5, 2.0, -1.0, 0.5], 0.0),
    _p("hs071", "examples/hs71.lag", lambda x: x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2],
       lambda x: np.array([np.sum(x ** 2) - 40]), lambda x: np.array([x[0] * x[1] * x[2] * x[3] - 25]),
       [1.0, 5.0, 5.0, 1.0], 17.0140173, lb=[1] * 4, ub=[5] * 4),
    _p("hs076", "examples/hs076.lag",
       lambda x: x[0] ** 2 + 0.5 * x[1] ** 2 + x[2] ** 2 + 0.5 * x[3] ** 2 - x[0] * x[2] + x[2] * x[3]
       - x[0] - 3 * x[1] + x[2] - x[3],
       None, lambda x: np.array([5 - x[0] - 2 * x[1] - x[2] - x[3], 4 - 3 * x[0] - x[1] - 2 * x[2] + x[3],
                                 x[1] + 4 * x[2] - 1.5]), [0.5] * 4, -103 / 22, lb=[0] * 4),
]


def violation(p, x) -> float:
    """Largest violation of bounds and constraints at ``x``."""
    v = max(float(np.max(p["lb"] - x, initial=0)), float(np.max(x - p["ub"], initial=0)))
    if p["eq"] is not None:
        v = max(v, float(np.max(np.abs(p["eq"](x)))))
    if p["ineq"] is not None:
        v = max(v, float(np.max(-p["ineq"](x), initial=0)))
    return v
