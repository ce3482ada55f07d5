"""classify() on the models of the cvxpy backend tests, and its cost on a large LP."""
from __future__ import annotations

import time

import pytest
import sympy

from lagdsl.ir.builder import ModelBuilder
from lagdsl.ir.classify import classify

try:
    import test_cvxpy_backend as M
except ImportError:  # tests run as a package
    from tests import test_cvxpy_backend as M


@pytest.mark.parametrize("build, kind", [
    (M.production_lp, "LP"), (M.infeasible_lp, "LP"), (M.knapsack, "binary linear"),
    (M.maxcut, "binary quadratic"), (M.mis_with_squares, "binary quadratic"), (M.hs35, "QP"),
    (M.qcqp, "QCQP"), (M.nonconvex_qp, "QP"), (M.least_distance, "SOCP"), (M.lasso, "SOCP"),
    (M.exp_cone, "convex"), (M.not_dcp, "convex"), (M.segment_norms, "SOCP"),
])
def test_kinds(build, kind):
    assert classify(build()).kind == kind


def test_flags_and_details():
    c = classify(M.hs35())
    assert c.degree == 2 and not c.integer and not c.nonlinear
    assert c.details["objective"]["degree"] == 2 and c.details["constraints"]["c"]["degree"] == 1
    assert any("objective f" in r for r in c.reasons)
    k = classify(M.knapsack())
    assert k.integer and k.binary_only and k.degree == 1
    s = classify(M.least_distance())
    assert s.nonlinear and s.degree is None and s.details["objective"]["atoms"] == ["norm2"]


def test_mixed_integer_and_nonlinear_kinds():
    b = ModelBuilder("mi")
    k = b.var("k", domain="integer", lower=0, upper=9)
    x = b.var("x", lower=0)
    b.minimize("f", x ** 2 + k)
    b.subject_to("c", x + k >= 3)
    assert classify(b.build()).kind == "MIQP"
    b.subject_to("trig", sympy.sin(x) <= 0.5)
    c = classify(b.build())
    assert c.kind == "MINLP" and "sin" in c.details["constraints"]["trig"]["atoms"]
    b2 = ModelBuilder("cubic")
    y = b2.var("y")
    b2.minimize("f", y ** 3)
    assert classify(b2.build()).kind == "NLP" and classify(b2.build()).degree == 3
    b3 = ModelBuilder("feas")
    z = b3.var("z", lower=0)
    b3.subject_to("c", z <= 1)
    f = classify(b3.build())
    assert f.kind == "LP" and f.feasibility


def test_fields_are_pde():
    b = ModelBuilder("heat")
    b.domain("D", x=(0, 1), t=(0, 1))
    u = b.field("u", ["x", "t"], "D")
    x, t = sympy.symbols("x t")
    b.minimize("e", sympy.Derivative(u(x, t), x) ** 2)
    assert classify(b.build()).kind == "PDE"


def test_cost_does_not_grow_with_data():
    b = ModelBuilder("big")
    n = 700
    S, D = b.set("S", range(n)), b.set("D", range(n))
    c = b.param("c", [S, D], default=1.0)
    x = b.var("x", [S, D], lower=0)
    i, j = b.index("i j")
    b.minimize("cost", b.sum([(i, S), (j, D)], c[i, j] * x[i, j]))
    b.subject_to("sup", b.sum([(j, D)], x[i, j]) <= 1, over=[(i, S)])
    m = b.build()
    t = time.perf_counter()
    cls = classify(m)
    assert cls.kind == "LP" and time.perf_counter() - t < 0.05


def test_nonconvex_models_are_never_convex():
    """HS7 (a log objective over a quartic equality) was labelled ``convex``: a non-polynomial
    objective hid the constraint's degree 4.  A convex atom in an equality row is not convex
    either."""
    from pathlib import Path
    from lagdsl.frontend import compile_file
    hs7 = classify(compile_file(str(Path(__file__).parent.parent / "examples" / "hs007.lag")))
    assert hs7.kind == "NLP"
    assert hs7.details["constraints"]["c"]["degree"] == 4
    b = ModelBuilder("sphere")
    x = b.var("x")
    y = b.var("y")
    b.minimize("f", x + y)
    b.subject_to("on_circle", sympy.Eq(sympy.sqrt(x ** 2 + y ** 2), 1))
    assert classify(b.build()).kind == "NLP"
    b2 = ModelBuilder("ball")
    u = b2.var("u")
    v = b2.var("v")
    b2.minimize("f", u + v)
    b2.subject_to("in_disk", sympy.sqrt(u ** 2 + v ** 2) <= 1)
    assert classify(b2.build()).kind == "SOCP"
