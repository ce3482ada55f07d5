"""The cvxpy backend on small models with known optima, built with ModelBuilder."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sympy

from lagdsl.backend import get_backend
from lagdsl.errors import BackendRefusal
from lagdsl.ir.builder import ModelBuilder
from lagdsl.ir.model import Span

cvxpy_backend = pytest.importorskip("lagdsl.backends.cvxpy")
BACKEND = cvxpy_backend.BACKEND


def solve(model, **options):
    return BACKEND.compile(model, options).solve()


# --- models (also used by test_classify) -----------------------------------------------------


def production_lp():
    """Wyndor glass (Hillier & Lieberman): max 3 d + 5 w; optimum 36 at (2, 6); shadow
    prices of the plant hours 0, 1.5, 1."""
    b = ModelBuilder("wyndor")
    P = b.set("P", ["doors", "windows"])
    R = b.set("R", ["plant1", "plant2", "plant3"])
    profit = b.param("profit", [P], [3, 5])
    use = b.param("use", [R, P], [[1, 0], [0, 2], [3, 2]])
    cap = b.param("cap", [R], [4, 12, 18])
    x = b.var("x", [P], lower=0)
    p, r = b.index("p r")
    b.maximize("profit", b.sum([(p, P)], profit[p] * x[p]))
    b.subject_to("hours", b.sum([(p, P)], use[r, p] * x[p]) <= cap[r], over=[(r, R)])
    return b.build()


def diet_lp():
    """min 2a + 3b s.t. a + b >= 4 (dual 2), a - b == 1 (dual 0.5... see test), a, b >= 0."""
    b = ModelBuilder("diet")
    a, c = b.var("a", lower=0), b.var("b", lower=0)
    b.minimize("cost", 2 * a + 3 * c)
    b.subject_to("need", a + c >= 4)
    b.subject_to("link", a - c <= 10)
    return b.build()


def infeasible_lp():
    b = ModelBuilder("infeasible")
    x = b.var("x", lower=0)
    b.minimize("f", x)
    b.subject_to("neg", x <= -1)
    return b.build()


def unbounded_lp():
    b = ModelBuilder("unbounded")
    x, y = b.var("x", lower=0), b.var("y", lower=0)
    b.maximize("f", x + y)
    b.subject_to("c", x - y <= 1)
    return b.build()


def knapsack():
    """Optimum 15: every item but the 12 kg one."""
    b = ModelBuilder("knapsack")
    I = b.set("I", range(1, 6))
    w = b.param("w", [I], [12, 2, 1, 1, 4])
    v = b.param("v", [I], [4, 2, 1, 2, 10])
    x = b.var("x", [I], "binary")
    i = b.index("i")
    b.maximize("value", b.sum([(i, I)], v[i] * x[i]))
    b.subject_to("cap", b.sum([(i, I)], w[i] * x[i]) <= 15)
    return b.build()


MAXCUT_EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0), (0, 2)]


def maxcut():
    """Max-cut as a binary quadratic: sum over edges of x_u + x_v - 2 x_u x_v."""
    b = ModelBuilder("maxcut")
    V = b.set("V", range(5))
    E = b.set("E", MAXCUT_EDGES)
    x = b.var("x", [V], "binary")
    u, v = b.index("u v")
    b.maximize("cut", b.sum([((u, v), E)], x[u] + x[v] - 2 * x[u] * x[v]))
    return b.build()


def mis_with_squares():
    """Maximum independent set with a penalty: sum x_i^2 - 2 sum_edges x_u x_v (x^2 == x)."""
    b = ModelBuilder("mis")
    V = b.set("V", range(5))
    E = b.set("E", MAXCUT_EDGES)
    x = b.var("x", [V], "binary")
    u, v, i = b.index("u v i")
    b.maximize("size", b.sum([(i, V)], x[i] ** 2) - 2 * b.sum([((u, v), E)], x[u] * x[v]))
    return b.build()


def hs35():
    """Hock-Schittkowski 35: optimum 1/9 at (4/3, 7/9, 4/9)."""
    b = ModelBuilder("hs35")
    x1, x2, x3 = (b.var(n, lower=0) for n in ("x1", "x2", "x3"))
    b.minimize("f", 9 - 8 * x1 - 6 * x2 - 4 * x3 + 2 * x1 ** 2 + 2 * x2 ** 2 + x3 ** 2
               + 2 * x1 * x2 + 2 * x1 * x3)
    b.subject_to("c", x1 + x2 + 2 * x3 <= 3)
    return b.build()


def qcqp():
    """min -x - y s.t. x^2 + y^2 <= 2 and x^2 + xy + y^2 <= 3: optimum -2 at (1, 1)."""
    b = ModelBuilder("qcqp")
    x, y = b.var("x"), b.var("y")
    b.minimize("f", -x - y)
    b.subject_to("disk", x ** 2 + y ** 2 <= 2)
    b.subject_to("ellipse", x ** 2 + x * y + y ** 2 <= 3)
    return b.build()


def nonconvex_qp():
    b = ModelBuilder("nonconvex")
    x, y = b.var("x", lower=-1, upper=1), b.var("y", lower=-1, upper=1)
    b.minimize("f", x * y + x ** 2)
    b.model.objective.span = Span("nc.lag", 4, 1, 4, 20)
    return b.build()


def least_distance():
    """Distance from p = (1, 2, 3) to the plane sum x = 1: 5 / sqrt(3)."""
    b = ModelBuilder("lsd")
    I = b.set("I", range(3))
    p = b.param("p", [I], [1, 2, 3])
    x = b.var("x", [I])
    i = b.index("i")
    b.minimize("dist", b.aggregate("norm2", [(i, I)], x[i] - p[i]))
    b.subject_to("plane", sympy.Eq(b.sum([(i, I)], x[i]), 1))
    return b.build()


def lasso():
    """sumsq(x - b) + norm1(x): soft thresholding x = sign(b) max(|b| - 1/2, 0)."""
    b = ModelBuilder("lasso")
    I = b.set("I", range(3))
    bb = b.param("b", [I], [3, -0.2, 1])
    x = b.var("x", [I])
    i = b.index("i")
    b.minimize("fit", b.aggregate("sumsq", [(i, I)], x[i] - bb[i]) + b.aggregate("norm1", [(i, I)], x[i]))
    return b.build()


def exp_cone():
    """logsumexp(x) + exp(t) - t - log(s) with sum x = 1, s <= 2: log 3 + 1/3 + 1 - log 2."""
    b = ModelBuilder("expcone")
    I = b.set("I", range(3))
    x = b.var("x", [I])
    t, s = b.var("t"), b.var("s", lower=0.1)
    i = b.index("i")
    b.minimize("f", b.aggregate("logsumexp", [(i, I)], x[i]) + sympy.exp(t) - t - sympy.log(s))
    b.subject_to("total", sympy.Eq(b.sum([(i, I)], x[i]), 1))
    b.subject_to("cap", s <= 2)
    return b.build()


def not_dcp():
    b = ModelBuilder("notdcp")
    x = b.var("x", lower=-3, upper=3)
    b.minimize("f", x)
    c = b.subject_to("floor", sympy.exp(x) >= 2)
    c.span = Span("bad.lag", 7, 5, 7, 30)
    return b.build()


def not_dcp_inner():
    b = ModelBuilder("notdcp2")
    x = b.var("x", lower=1, upper=3)
    b.minimize("f", x)
    c = b.subject_to("inner", sympy.log(x ** 2 + 1) <= 1)
    c.span = Span("bad.lag", 9, 3)
    return b.build()


SEGMENTS = {"a": [0, 1, 2], "b": [3], "c": [1, 4]}
ZVAL = [3.0, 4.0, 1.0, 2.0, 5.0]


def segment_norms():
    """Per-row norm2 / norminf / max over unequal segments and norm2 over equal rows."""
    b = ModelBuilder("segments")
    J = b.set("J", range(5))
    R = b.set("R", list(SEGMENTS))
    b.set_family("S", R, SEGMENTS)
    K = b.set("K", range(2))
    zc = b.param("zc", [J], ZVAL)
    z = b.var("z", [J])
    t = b.var("t", [R])
    u = b.var("u", [R])
    m = b.var("m", [R])
    e = b.var("e", [K])
    j, r, k = b.index("j r k")
    from lagdsl.ir.sym import SetFamilyRef
    fam = SetFamilyRef(sympy.Symbol("S"), sympy.Tuple(r))
    b.minimize("total", b.sum([(r, R)], t[r] + u[r] + m[r]) + b.sum([(k, K)], e[k]))
    b.subject_to("fix", sympy.Eq(z[j], zc[j]), over=[(j, J)])
    b.subject_to("soc", b.aggregate("norm2", [(j, fam)], z[j]) <= t[r], over=[(r, R)])
    b.subject_to("inf", b.aggregate("norminf", [(j, fam)], z[j]) <= u[r], over=[(r, R)])
    b.subject_to("top", b.aggregate("max", [(j, fam)], z[j]) <= m[r], over=[(r, R)])
    b.subject_to("rows", b.aggregate("norm2", [(j, J)], (k + 1) * z[j]) <= e[k], over=[(k, K)])
    return b.build()


# --- LP ---------------------------------------------------------------------------------------


def test_production_lp_optimum_and_shadow_prices():
    res = solve(production_lp())
    assert res.status == "optimal"
    assert res.objective == pytest.approx(36)
    assert res.values["x"] == pytest.approx({"doors": 2, "windows": 6})
    assert res.duals["hours"] == pytest.approx({"plant1": 0, "plant2": 1.5, "plant3": 1}, abs=1e-7)
    assert res.max_violation == pytest.approx(0, abs=1e-7)
    assert res.stats["solver"] == "HIGHS" and res.stats["class"] == "LP"
    assert set(res.times) >= {"lower", "solve", "total"}


def test_shadow_price_is_derivative_of_optimum():
    """The documented sign convention: d(optimal objective)/d(bound), checked numerically."""
    base = solve(diet_lp())
    m = diet_lp()
    m.constraints["need"].lower = sympy.Float(4.01)
    bumped = solve(m)
    slope = (bumped.objective - base.objective) / 0.01
    assert base.duals["need"] == pytest.approx(slope, abs=1e-6)
    assert base.duals["need"] == pytest.approx(2)         # buy the cheap one
    assert base.duals["link"] == pytest.approx(0, abs=1e-9)  # inactive


def test_ranged_and_equality_rows_report_one_signed_dual():
    b = ModelBuilder("ranged")
    x, y = b.var("x", lower=0), b.var("y", lower=0)
    b.maximize("f", x + 2 * y)
    b.subject_to("band", lower=1, body=x + y, upper=3)
    b.subject_to("eq", sympy.Eq(x - y, 1))
    res = solve(b.build())
    assert res.status == "optimal" and res.objective == pytest.approx(4)   # x=2, y=1
    # d f / d(upper of band): x + y = u, x - y = 1 -> f = (u+1)/2 + (u-1) -> 1.5
    assert res.duals["band"] == pytest.approx(1.5)
    # d f / d(rhs of eq): x = (3+c)/2, y = (3-c)/2 -> f = (3+c)/2 + 3 - c -> -0.5
    assert res.duals["eq"] == pytest.approx(-0.5)


def test_infeasible_lp():
    res = solve(infeasible_lp())
    assert res.status == "infeasible"
    assert res.values == {} and res.objective is None


def test_unbounded_lp():
    assert solve(unbounded_lp()).status == "unbounded"


# --- MILP and binary quadratic ------------------------------------------------------------------


def test_knapsack_milp_exact():
    res = solve(knapsack())
    assert res.status == "optimal"
    assert res.objective == pytest.approx(15)
    assert res.values["x"] == {"1": 0.0, "2": 1.0, "3": 1.0, "4": 1.0, "5": 1.0}
    assert res.duals == {}
    assert res.stats["class"] == "binary linear"


def _brute_cut():
    return max(sum(s[u] != s[v] for u, v in MAXCUT_EDGES) for s in itertools.product([0, 1], repeat=5))


def test_maxcut_through_binary_product_linearisation():
    res = solve(maxcut())
    assert res.status == "optimal"
    assert res.objective == pytest.approx(_brute_cut()) and res.objective == pytest.approx(5)
    x = res.values["x"]
    assert sum(x[str(u)] != x[str(v)] for u, v in MAXCUT_EDGES) == 5
    assert res.stats["passes"][0] == "binary_product2linear"
    assert res.stats["solver"] == "HIGHS"
    assert res.max_violation == pytest.approx(0, abs=1e-9)


def test_mis_squares_become_linear():
    res = solve(mis_with_squares())
    assert res.status == "optimal"
    assert res.objective == pytest.approx(2)   # {1, 3} or {1, 4} ...: the MIS of the graph
    x = res.values["x"]
    assert all(not (x[str(u)] and x[str(v)]) for u, v in MAXCUT_EDGES)


# --- QP, QCQP, refusals ----------------------------------------------------------------------


def test_hs35_qp():
    res = solve(hs35())
    assert res.status == "optimal"
    assert res.objective == pytest.approx(1 / 9, abs=1e-6)
    assert [res.values[n] for n in ("x1", "x2", "x3")] == pytest.approx([4 / 3, 7 / 9, 4 / 9], abs=1e-4)
    assert res.stats["passes"] == ["quad2form"] and res.stats["solver"] == "CLARABEL"


def test_convex_qcqp():
    res = solve(qcqp())
    assert res.status == "optimal"
    assert res.objective == pytest.approx(-2, abs=1e-6)
    assert (res.values["x"], res.values["y"]) == pytest.approx((1, 1), abs=1e-4)
    assert res.max_violation < 1e-6


def test_nonconvex_quadratic_objective_refused_with_eigenvalue_and_span():
    m = nonconvex_qp()
    reasons = BACKEND.accepts(m)
    assert reasons and "eigenvalue" in reasons[0].reason and reasons[0].span.line == 4
    with pytest.raises(BackendRefusal) as exc:
        BACKEND.compile(m)
    text = exc.value.format()
    assert "nc.lag:4:1" in text and "minimize needs a convex quadratic" in text
    lam = (1 - math.sqrt(2)) / 2          # min eigenvalue of [[1, .5], [.5, 0]]
    assert ("%.6g" % lam) in text and "x" in text and "y" in text


def test_nonconvex_quadratic_row_refused():
    b = ModelBuilder("ncrow")
    x, y = b.var("x"), b.var("y")
    b.minimize("f", x + y)
    c = b.subject_to("hyper", x * y <= 1)
    c.span = Span("h.lag", 3, 2)
    with pytest.raises(BackendRefusal, match="needs a convex quadratic"):
        BACKEND.compile(b.build())


def test_unsupported_functions_refused_at_their_span():
    b = ModelBuilder("trig")
    x = b.var("x")
    b.minimize("f", x)
    c = b.subject_to("wave", sympy.sin(x) <= 0.5)
    c.span = Span("t.lag", 5, 1)
    reasons = BACKEND.accepts(b.build())
    assert len(reasons) == 1 and "sin" in reasons[0].reason and reasons[0].span.line == 5


def test_fields_refused():
    b = ModelBuilder("pde")
    b.domain("D", x=(0, 1))
    b.field("u", ["x"], "D")
    reasons = BACKEND.accepts(b.build())
    assert reasons and "pinn" in reasons[0].reason


# --- conic models through the DCP path --------------------------------------------------------


def test_socp_least_distance():
    res = solve(least_distance())
    assert res.status == "optimal"
    assert res.objective == pytest.approx(5 / math.sqrt(3), abs=1e-6)
    x = res.values["x"]
    assert [x["0"], x["1"], x["2"]] == pytest.approx([1 - 5 / 3, 2 - 5 / 3, 3 - 5 / 3], abs=1e-4)
    assert res.stats["path"] == "dcp"


def test_lasso_norm1():
    res = solve(lasso())
    assert res.status == "optimal"
    assert list(res.values["x"].values()) == pytest.approx([2.5, 0, 0.5], abs=1e-5)
    assert res.objective == pytest.approx(3.54, abs=1e-6)


def test_exponential_cone_model():
    res = solve(exp_cone())
    assert res.status == "optimal"
    assert res.objective == pytest.approx(math.log(3) + 1 / 3 + 1 - math.log(2), abs=1e-5)
    assert res.values["s"] == pytest.approx(2, abs=1e-5)


def test_not_dcp_refused_with_constraint_line():
    with pytest.raises(BackendRefusal) as exc:
        BACKEND.compile(not_dcp())
    text = exc.value.format()
    assert "bad.lag:7:5" in text and "floor" in text and "convex" in text and "concave" in text


def test_not_dcp_names_the_inner_subexpression():
    m = not_dcp_inner()
    reasons = BACKEND.accepts(m)
    assert reasons and reasons[0].span.line == 9
    assert "log(x**2 + 1)" in reasons[0].reason and "convex argument" in reasons[0].reason


def test_vector_aggregates_per_segment():
    res = solve(segment_norms())
    assert res.status == "optimal"
    z = np.array(ZVAL)
    for r, seg in SEGMENTS.items():
        assert res.values["t"][r] == pytest.approx(np.linalg.norm(z[seg]), abs=1e-5)
        assert res.values["u"][r] == pytest.approx(np.abs(z[seg]).max(), abs=1e-5)
        assert res.values["m"][r] == pytest.approx(z[seg].max(), abs=1e-5)
    assert res.values["e"]["1"] == pytest.approx(2 * np.linalg.norm(z), abs=1e-5)


# --- plumbing -------------------------------------------------------------------------------------


def test_stdout_stays_clean(capfd):
    for m in (production_lp(), knapsack(), hs35()):
        solve(m)
    out, _err = capfd.readouterr()
    assert out == ""


def test_verbose_goes_to_stderr(capfd):
    solve(knapsack(), verbose=True)
    out, err = capfd.readouterr()
    assert out == "" and "HiGHS" in err


def test_registry_options_and_emit():
    be = get_backend("cvxpy")
    assert be is BACKEND and be.name == "cvxpy" and be.emits == ("lp", "mps")
    with pytest.raises(BackendRefusal):
        BACKEND.compile(production_lp(), {"no_such_option": 1})
    prog = BACKEND.compile(production_lp(), {"time_limit": "5", "mip_gap": "0"})
    with pytest.raises(BackendRefusal):
        prog.emit("ir-json")
    assert prog.solve().status == "optimal"


def test_explicit_solver_and_miqp_with_scip():
    res = solve(hs35(), solver="OSQP")
    assert res.status in ("optimal", "feasible") and res.objective == pytest.approx(1 / 9, abs=1e-3)
    res = solve(mis_with_squares(), solver="SCIP", binary_products="linearize")
    assert res.status == "optimal" and res.objective == pytest.approx(2)


def test_solver_args_parsing():
    assert cvxpy_backend.parse_solver_args("presolve=off; threads=2,eps=1e-3,x=true") == {
        "presolve": "off", "threads": 2, "eps": 1e-3, "x": True}
