"""Numbers without a float64 value and numerical honesty (issue 5, classes 2, 3 and 5).

The bad-input corpus (``tests/bad_input/{nonfinite,arithmetic,numerics}``) pins what the CLI
prints; these tests pin the pieces underneath: the evaluator's vectorised checks, the
checker's guarded constant folding (no hang on power towers), data coercion, the LP/MPS
guards, and the cvxpy backend's row scaling, duals, status settling and DCP rewrites.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import sympy

from lagdsl.errors import BackendRefusal, LagDataError, LagError
from lagdsl.frontend import compile_text
from lagdsl.frontend.data import coerce_param, coerce_set
from lagdsl.ir.builder import ModelBuilder
from lagdsl.ir.values import SetValue
from lagdsl.lower.evaluate import Evaluator, number_value
from lagdsl.lower.rows import Rows


def fails(text, data=None, params=None) -> LagError:
    with pytest.raises(LagError) as info:
        m = compile_text(text, "m.lag", data=data, params=params)
        from lagdsl.lower.instance import lower_instance
        lower_instance(m)
    return info.value


# --- class 3: arithmetic on data ----------------------------------------------------------


@pytest.mark.parametrize("expr, message, col", [
    ("1 / z[i]", "division by zero (at i=2)", 19),
    ("5 mod z[i]", "mod 0 (division by zero) (at i=2)", 19),
    ("log(z[i])", "log of 0 (it is -inf) (at i=2)", 19),
    ("log(z[i] - 1)", "log of a negative number (at i=2)", 19),
    ("sqrt(z[i] - 1)", "sqrt of a negative number (at i=2)", 19),
    ("z[i] ^ -1", "division by zero (at i=2)", 19),
    ("exp(400 * z[i])", "exp(800) overflows float64 (its value is beyond 1.8e308) (at i=1)", 19),
    ("10 ^ (200 * z[i])", "10 ^ 400 overflows float64 (its value is beyond 1.8e308) (at i=1)", 19),
    ("max(j in I : j > i) z[j]", "max over an empty set (at i=3)", 19),
    ("2 + 1 / z[i]", "division by zero (at i=2)", 23),     # the sub-expression, not the sum
])
def test_data_arithmetic_is_a_positioned_error(expr, message, col):
    err = fails("set I = 1..3\nparam z[I] = [2, 0, 1]\nparam a[i in I] = %s\n" % expr)
    assert isinstance(err, LagDataError)
    assert err.message == message
    assert (err.span.line, err.span.col) == (3, col)


def test_inf_minus_inf_in_data_is_an_error_not_a_dropped_row():
    err = fails("set I = 1..2\nparam u[I] default inf\nparam v[I] default inf\nvar x[I] >= 0\n"
                "minimize f: sum(i in I) x[i]\nsubject to c[i in I]: x[i] >= u[i] - v[i]\n")
    assert err.message == "inf - inf is undefined (nan) (at i=1)"
    assert (err.span.line, err.span.col) == (6, 31)


def test_no_numpy_warning_escapes(recwarn):
    fails("set I = 1..3\nparam z[I] = [2, 0, 1]\nparam a[i in I] = log(z[i]) + 1 / z[i]\n")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("text, message", [
    ("param a = 9^9^9", "9^9^9 overflows float64: it has about 369693101 digits"),
    ("param a = 10^10^10", "10^10^10 overflows float64: it has about 10000000001 digits"),
    ("param a = 2^2^2^2^2", "2^2^2^2^2 overflows float64: it has about 19729 digits"),
    ("param a = 1/0", "division by zero"),
    ("param a = 0^-1", "0 ^ -1 is a division by zero"),
    ("param a = inf - inf", "inf - inf is undefined (nan)"),
    ("param a = sqrt(-1)", "sqrt of a negative number (-1)"),
])
def test_constant_folding_is_guarded_and_fast(text, message):
    t0 = time.perf_counter()
    err = fails(text + "\n")
    assert time.perf_counter() - t0 < 2.0          # an exact power tower would take minutes
    assert err.message.startswith(message)
    assert (err.span.line, err.span.col) == (1, 11)


def test_tiny_power_underflows_to_zero_quickly():
    t0 = time.perf_counter()
    m = compile_text("param a = 2^-100000000\n", "m.lag")
    assert time.perf_counter() - t0 < 2.0
    assert float(m.params["a"].values) == 0.0


def test_number_value_keeps_int64_and_refuses_beyond_float64():
    assert number_value(sympy.Integer(7)) == 7 and number_value(sympy.Integer(7)).dtype == np.int64
    assert number_value(sympy.Integer(10) ** 20) == 1e20        # beyond int64: float64
    assert number_value(sympy.oo) == np.inf
    with pytest.raises(Exception, match="beyond the range of float64"):
        number_value(sympy.Integer(10) ** 400)


def test_evaluator_error_without_spans_points_at_the_owner():
    b = ModelBuilder("m")
    I = b.set("I", [1, 2])
    z = b.param("z", [I], [1.0, 0.0])
    i = sympy.Symbol("i")
    owner = type("Owner", (), {"span": None, "spans": {}})()
    ev = Evaluator(b.build(), owner)
    rows = Rows(2, {i: np.array([1, 2])})
    with pytest.raises(LagDataError, match=r"division by zero \(at i=2\)"):
        ev.data(1 / z[i], rows)


# --- class 2: non-finite numbers --------------------------------------------------------------


def test_data_values_must_be_finite():
    I = SetValue.from_range(1, 3)
    for raw, where in (([1, float("inf"), 3], "w[2]"), ({"1": 1, "3": float("nan")}, "w[3]"),
                       (np.array([1.0, 2.0, np.nan]), "w[3]"), ([1, 2, 10 ** 400], "w[3]")):
        with pytest.raises(LagDataError, match=r"param w\[I\]: %s is .*not a finite number"
                           % where.replace("[", r"\[").replace("]", r"\]")):
            coerce_param("w", ("I",), [I], raw)
    # null is "not given" (the default), not NaN
    out = coerce_param("w", ("I",), [I], [1, None, 3], default=np.inf)
    assert out.tolist() == [1.0, np.inf, 3.0]


def test_scalar_and_set_data_must_be_finite():
    with pytest.raises(LagDataError, match="an integer of 400 digits"):
        coerce_param("c", (), [], -int("1234567890" * 40))
    with pytest.raises(LagDataError, match="set S: an element is Infinity"):
        coerce_set("S", [1, float("inf")])
    with pytest.raises(LagDataError, match="beyond the 64-bit integers"):
        coerce_set("S", [1, 10 ** 30])


def test_infinite_bound_that_means_no_bound_is_kept():
    m = compile_text("set I = 1..2\nparam cap[I] default inf\nvar x[i in I] >= -inf, <= cap[i]\n"
                     "subject to c: x[1] <= inf\n", "m.lag", data={"cap": {"1": 4}})
    assert m.vars["x"].upper.tolist() == [4.0, np.inf]
    assert m.vars["x"].lower.tolist() == [-np.inf, -np.inf]


@pytest.mark.parametrize("text, message", [
    ("var x >= inf", "var x has a lower bound of inf: no number can meet it"),
    ("var x <= -inf", "var x has an upper bound of -inf: no number can meet it"),
    ("var x\nsubject to c: x >= inf", "constraint c has a lower bound of inf: no number can meet it"),
    ("var x\nsubject to c: x == inf", "constraint c has a lower bound of inf: no number can meet it"),
    ("param a = 1e400", "the number 1e400 is beyond the range of float64 (about 1.8e308)"),
    ("var x\nsubject to c: x <= " + "9" * 5000, "the number 999999999999999999999999999999... "
     "(5000 characters) is beyond the range of float64"),
])
def test_non_finite_in_source(text, message):
    assert fails(text + "\n").message.startswith(message)


def test_builder_bounds_are_checked_when_lowered():
    from lagdsl.lower.instance import variable_arrays
    b = ModelBuilder("m")
    I = b.set("I", range(1, 4))
    b.var("x", [I], lower=[0.0, np.inf, 0.0])
    with pytest.raises(LagDataError, match=r"var x\[2\] has bounds \[inf, inf\]"):
        variable_arrays(b.build())


def test_export_refuses_a_row_it_cannot_write_whole():
    from lagdsl.export.lp import flatten
    from lagdsl.lower.instance import lower_instance
    m = compile_text("var x >= 0\nminimize f: x\nsubject to c: x >= 1\n", "m.lag")
    inst = lower_instance(m)
    inst.blocks[0].lower[:] = np.nan        # as a model read from elsewhere might hold
    with pytest.raises(BackendRefusal, match="row c has a coefficient or bound that is not a finite"):
        flatten(inst)


# --- class 5: numerical honesty ----------------------------------------------------------------

cvxpy_backend = pytest.importorskip("lagdsl.backends.cvxpy")


def solve(text, **options):
    m = compile_text(text, "m.lag")
    return cvxpy_backend.BACKEND.compile(m, options).solve()


def test_tiny_row_is_scaled_not_dropped():
    r = solve("var x >= 0, <= 1e13\nminimize f: x\nsubject to c: 1e-10 * x >= 1\n")
    assert r.status == "optimal" and r.objective == pytest.approx(1e10, rel=1e-9)
    assert r.duals["c"] == pytest.approx(1e10, rel=1e-6)     # d objective / d rhs, unscaled
    assert r.stats["notes"] == ["constraint c: row scaled by 2^33 (its largest coefficient is "
                                "1e-10; HiGHS reads |a| < 1e-9 as zero); the answer is for the "
                                "row as written"]


def test_scaled_family_duals_match_an_unscaled_model():
    base = ("set I = 1..3\nparam a[I] = [%s]\nparam c[I] = [1, 2, 3]\nvar x[I] >= 0\n"
            "maximize f: sum(i in I) c[i] * x[i]\nsubject to cap[i in I]: a[i] * x[i] <= 1\n")
    tiny = solve(base % "1e-10, 1e-7, 1")
    plain = solve(base % "1, 1, 1")
    assert tiny.objective == pytest.approx(1e10 + 2e7 + 3, rel=1e-9)
    # the dual of a*x <= 1 is c/a: scaled rows must give it back in the user's units
    assert [tiny.duals["cap"][k] for k in "123"] == pytest.approx([1e10, 2e7, 3], rel=1e-6)
    assert [plain.duals["cap"][k] for k in "123"] == pytest.approx([1, 2, 3], rel=1e-6)
    assert "constraint cap: 2 rows scaled" in tiny.stats["notes"][0]
    assert "notes" not in plain.stats


def test_tiny_objective_is_scaled_not_taken_for_zero():
    # HiGHS takes reduced costs below 1e-7 for zero: unscaled, this stopped at x = 0
    r = solve("var x in [0, 1]\nmaximize f: 1e-10 * x\n")
    assert r.status == "optimal" and r.values["x"] == 1.0 and r.objective == pytest.approx(1e-10, rel=1e-9)
    assert r.stats["notes"] == ["objective f: scaled by 2^33 (its largest coefficient is 1e-10; "
                                "solvers take costs this small for zero against their "
                                "tolerances); the objective and duals reported are for the "
                                "objective as written"]


def test_tiny_objective_duals_and_mip_bound_are_in_the_users_units():
    r = solve("var x >= 0\nmaximize f: 1e-10 * x + 1e-10\nsubject to c: x <= 2\n")
    assert r.objective == pytest.approx(3e-10, rel=1e-9)
    assert r.duals["c"] == pytest.approx(1e-10, rel=1e-6)      # d objective / d rhs
    # a MIP: HiGHS's absolute gap (1e-6) closed at the first incumbent before scaling
    r = solve("var x in [0, 1]\nvar y integer in [0, 5]\nmaximize f: 1e-10 * x + 1e-10 * y\n"
              "subject to c: x + y <= 3.5\n")
    assert r.status == "optimal" and r.objective == pytest.approx(3.5e-10, rel=1e-9)
    assert r.values["y"] == 3.0


def test_tiny_quadratic_and_dcp_objectives_are_scaled():
    # min 1e-10 ((x - 0.5)^2 - x) on [0, 1]: at x = 1
    r = solve("var x in [0, 1]\nminimize f: 1e-10 * (x - 0.5)^2 - 1e-10 * x\n")
    assert r.values["x"] == pytest.approx(1.0, abs=1e-3)       # Clarabel's accuracy (0.788 unscaled)
    assert r.objective == pytest.approx(-7.5e-11, rel=1e-6)
    # the DCP path: its scale is measured like a nonlinear row's
    r = solve("var x in [0, 1]\nmaximize f: 1e-10 * log(x + 1)\n")
    assert r.stats["path"] == "dcp" and r.values["x"] == pytest.approx(1.0, abs=1e-6)
    assert r.objective == pytest.approx(1e-10 * np.log(2), rel=1e-6)
    assert r.stats["notes"][0].startswith("objective f: scaled by 2^")
    r = solve("var x in [0, 1]\nvar y\nmaximize f: 1e-10 * x\nsubject to c: exp(y) <= 5\n")
    assert r.values["x"] == pytest.approx(1.0, abs=1e-6)
    # large costs are left as they are
    assert "notes" not in solve("var x >= 0\nminimize f: 1e8 * x\nsubject to c: x >= 3\n").stats


def test_highs_drops_are_reported_with_the_row():
    r = solve("var x >= 0, <= 1\nvar y >= 0, <= 1e12\nmaximize f: x + y\n"
              "subject to c: x + 1e-12 * y <= 1\nsubject to d: y <= 1e25\n")
    notes = r.stats["notes"]
    assert any(n.startswith("constraint c: HiGHS reads 1 coefficient below 1e-9 as zero") for n in notes)
    assert any(n.startswith("constraint d: HiGHS reads the bound 1e+25") for n in notes)


def test_unbounded_from_an_infeasible_conic_model_is_settled():
    r = solve("var x\nvar y\nminimize f: x\nsubject to c: exp(y) <= -1\n")
    assert r.status == "infeasible"
    r = solve("var x\nmaximize f: x\nsubject to c: exp(-x) <= 5\n")
    assert r.status == "unbounded"            # feasible, and truly unbounded


def test_nan_point_is_never_optimal():
    from lagdsl.result import Result
    from lagdsl.solution import no_nan
    res = Result("optimal", objective=float("nan"), stats={})
    no_nan(res, np.array([1.0]))
    assert res.status == "error" and res.stats["message"] == "the objective is nan at the solver's point"
    res = Result("feasible", objective=1.0, stats={})
    no_nan(res, np.array([np.nan]))
    assert res.status == "error"
    res = Result("limit", objective=1.0, stats={})       # an incumbent with nan is none either
    no_nan(res, np.array([np.nan]))
    assert res.status == "error" and res.stats["message"] == "the solver's point has non-finite values"


def test_powers_of_abs_are_accepted_and_solved():
    # min |x - 2|^3 + x: x = 2 - 1/sqrt(3), value 2 - 1/sqrt(3) + 3^-1.5
    r = solve("var x\nminimize f: abs(x - 2)^3 + x\n")
    want = 2 - 3 ** -0.5 + 3 ** -1.5
    assert r.status == "optimal" and r.objective == pytest.approx(want, abs=1e-6)
    r = solve("set I = 1..3\nvar x[I]\nminimize f: sum(i in I) (abs(x[i] - i)^3 + abs(x[i])^1.5)\n"
              "subject to c[i in I]: x[i] >= i + 1\n")
    assert r.objective == pytest.approx(3 + 2 ** 1.5 + 3 ** 1.5 + 4 ** 1.5, abs=1e-5)
    r = solve("var x\nminimize f: abs(x + 1)^4\nsubject to c: x >= 1\n")
    assert r.objective == pytest.approx(16, abs=1e-5)
    with pytest.raises(BackendRefusal, match="odd power"):
        cvxpy_backend.BACKEND.compile(compile_text("var x\nminimize f: (x - 2)^3\n", "m.lag"))


def test_linear_rows_of_a_dcp_model_are_scaled_too():
    r = solve("var x >= 0, <= 1e13\nminimize f: abs(x - 5)\nsubject to c: 1e-10 * x >= 1\n")
    assert r.status == "optimal" and r.stats["path"] == "dcp"
    assert r.objective == pytest.approx(1e10 - 5, rel=1e-9)
    assert r.duals["c"] == pytest.approx(1e10, rel=1e-6)
    assert r.stats["notes"][0].startswith("constraint c: row scaled by 2^33")


def test_false_infeasible_of_an_interior_point_solver_is_refuted():
    # Clarabel (0.11) calls min x^2 over 1e5 <= x <= 1e13 infeasible; a feasibility solve
    # finds a point, lagdsl measures it, and SCS solves the model
    r = solve("var x >= 0, <= 1e13\nminimize f: x^2\nsubject to c: x >= 1e5\n")
    assert r.status in ("optimal", "feasible")
    assert r.values["x"] == pytest.approx(1e5, rel=1e-6)
    assert any("reported infeasible, but lagdsl found a point" in n for n in r.stats["notes"])
    # a truly infeasible model stays infeasible
    r = solve("var x\nvar y\nminimize f: x + y^2\nsubject to c: y >= 1\nsubject to d: y <= 0\n")
    assert r.status == "infeasible"


# --- property: data arithmetic never escapes as a warning, nan or internal error --------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

LEAVES = ["z[i]", "i", "0", "1", "-1", "0.5", "1e300", "inf", "w"]
UNARY = ["log", "sqrt", "exp", "abs", "sin", "tanh"]
BINARY = ["+", "-", "*", "/", "^", "mod"]


@st.composite
def data_expr(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(LEAVES))
    if draw(st.integers(0, 3)) == 0:
        return "%s(%s)" % (draw(st.sampled_from(UNARY)), draw(data_expr(depth - 1)))
    if draw(st.integers(0, 5)) == 0:
        return "max(j in I : j > %s) z[j]" % draw(st.sampled_from(["i", "0", "5"]))
    return "(%s %s %s)" % (draw(data_expr(depth - 1)), draw(st.sampled_from(BINARY)),
                           draw(data_expr(depth - 1)))


@settings(max_examples=120, deadline=None, derandomize=True)
@given(data_expr())
def test_data_arithmetic_has_a_value_or_a_positioned_error(expr):
    import warnings
    text = "set I = 1..4\nparam z[I] = [2, 0, -3, 1e200]\nparam w = 7\nparam a[i in I] = %s\n" % expr
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # a numpy RuntimeWarning fails the test
        try:
            m = compile_text(text, "m.lag")
        except LagError as err:
            assert err.span is not None and err.span.line == 4, err.format()
            return
    v = m.params["a"].values
    assert not np.isnan(v).any()                  # nan never becomes a parameter value


@settings(max_examples=80, deadline=None, derandomize=True)
@given(data_expr(), data_expr())
def test_rows_get_finite_coefficients_or_a_positioned_error(coef, rhs):
    import warnings
    from lagdsl.lower.instance import lower_instance
    text = ("set I = 1..4\nparam z[I] = [2, 0, -3, 1e200]\nparam w = 7\nvar x[I] >= 0, <= 1\n"
            "minimize f: sum(i in I) x[i]\nsubject to c[i in I]: (%s) * x[i] + x[1] <= (%s)\n"
            % (coef, rhs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            inst = lower_instance(compile_text(text, "m.lag"))
        except LagError as err:
            assert err.span is not None and err.span.line == 6, err.format()
            return
    b = inst.blocks[0]
    assert np.isfinite(b.body.lin.data).all() and np.isfinite(b.body.const).all()
    assert not np.isnan(b.upper).any() and not np.isneginf(b.upper).any()


def test_powers_of_abs_with_exponents_from_data():
    r = solve("set I = 1..3\nparam p[I] = [1.5, 3, 4]\nvar x[I]\n"
              "minimize f: sum(i in I) abs(x[i] - 1)^p[i]\nsubject to c[i in I]: x[i] >= i + 1\n")
    assert r.status == "optimal" and r.objective == pytest.approx(1 + 8 + 81, abs=1e-5)
    # d objective / d bound = p |x - 1|^(p - 1)
    assert [r.duals["c"][k] for k in "123"] == pytest.approx([1.5, 12, 108], rel=1e-3)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(0, 10 ** 6), st.lists(st.integers(-12, 12), min_size=3, max_size=3))
def test_row_multipliers_do_not_change_the_optimum_or_the_duals(seed, ks):
    # multiplying a row by 10^k (k in -12..12) changes neither the feasible set nor the
    # optimum; its dual scales by 10^-k -- whatever HiGHS's thresholds would make of it
    rng = np.random.default_rng(seed)
    A, b, c = rng.integers(1, 9, (3, 3)), rng.integers(5, 20, 3), rng.integers(1, 9, 3)

    def model(mult):
        rows = "\n".join("subject to r%d: %s <= %r" % (i, " + ".join(
            "%r * x[%d]" % (float(A[i, j] * mult[i]), j + 1) for j in range(3)), float(b[i] * mult[i]))
            for i in range(3))
        return "set J = 1..3\nvar x[J] >= 0\nmaximize f: %s\n%s\n" % (
            " + ".join("%d * x[%d]" % (c[j], j + 1) for j in range(3)), rows)

    base = solve(model([1, 1, 1]))
    scaled = solve(model([10.0 ** k for k in ks]))
    assert scaled.status == base.status == "optimal"
    assert scaled.objective == pytest.approx(base.objective, rel=1e-7)
    for i in range(3):
        assert scaled.duals["r%d" % i] * 10.0 ** ks[i] == pytest.approx(base.duals["r%d" % i],
                                                                        rel=1e-5, abs=1e-7)


def test_nonlinear_rows_of_tiny_scale_are_scaled_by_their_measured_spread():
    r = solve("var x\nmaximize f: x\nsubject to c: 1e-10 * abs(x) <= 1\n")
    assert r.status == "optimal" and r.objective == pytest.approx(1e10, rel=1e-7)
    assert r.duals["c"] == pytest.approx(1e10, rel=1e-5)
    assert r.stats["notes"][0].startswith("constraint c: row scaled by 2^3")
    r = solve("var x\nmaximize f: x\nsubject to c: 1e-10 * max(x, 2 * x) <= 1\n")
    assert r.objective == pytest.approx(5e9, rel=1e-7)


def test_mixed_rows_of_a_reformulated_model_are_reported():
    # the row mixes a tiny coefficient with abs(y): no scaling keeps both, so it is said
    r = solve("var x\nvar y\nmaximize f: x\nsubject to c: 1e-10 * x + abs(y) <= 1\n")
    assert r.stats["notes"] == ["HiGHS reads 1 coefficient of the reformulated model below 1e-9 "
                                "as zero (e.g. 1e-10); scale the rows they are in"]


def test_tiny_quadratic_rows_keep_their_curvature():
    # the factoring of x'Px drops eigenvalues below 1e-9: unscaled, this row would vanish
    # and the answer would be 3; scaled first, x + y <= 1 holds and the optimum is 2
    r = solve("var x in [-1, 1]\nvar y in [-1, 1]\nmaximize f: x + 2 * y\n"
              "subject to c: 1e-10 * (x + y)^2 <= 1e-10\n")
    assert r.status == "optimal" and r.objective == pytest.approx(2, abs=1e-6)
    assert r.max_violation < 1e-9
    assert r.stats["notes"][0].startswith("constraint c: row scaled by 2^33")
    assert r.duals["c"] == pytest.approx(1e10 / 2, rel=1e-3)    # d f / d u at (x + y)^2 = 1


def test_unbounded_from_a_strictly_convex_objective_is_an_error_with_its_reason():
    r = solve("var x >= 0\nminimize f: 1e-10 * x^2 - x\n")        # optimum 5e9, Clarabel fails
    assert r.status in ("error", "optimal")       # never "unbounded"
    if r.status == "error":                       # Clarabel 0.x: says unbounded, refuted
        assert "the objective is strictly convex in every unknown it uses" in r.stats["message"]
        assert r.objective is None and r.values == {}
    else:                                         # a solver that copes must give the optimum
        assert r.objective == pytest.approx(-2.5e9, rel=1e-6)
        assert r.values["x"] == pytest.approx(5e9, rel=1e-3)
    assert solve("var x\nvar y\nminimize f: x^2 - y\n").status == "unbounded"    # y is free


def test_cvxpy_and_highs_scale_the_same_objectives_with_the_same_notes():
    # one rule (lagdsl.lower.matrix.objective_scale): 1.5e-3 x*y is 7.5e-4 in x'Qx's
    # symmetric Q, under the band, so both backends scale this objective, and word it alike
    import lagdsl
    text = ("var x in [0, 1]\nvar y in [0, 1]\n"
            "minimize f: 1.5e-3 * x * y + 7.5e-4 * x^2 + 7.5e-4 * y^2 - 7.5e-4 * x\n")
    cv, hi = (lagdsl.parse(text).solve(backend=b) for b in ("cvxpy", "highs"))
    assert cv.stats["notes"] == hi.stats["notes"] == [
        "objective f: scaled by 2^10 (its largest coefficient is 0.00075; solvers take costs "
        "this small for zero against their tolerances); the objective and duals reported are "
        "for the objective as written"]
    assert cv.objective == pytest.approx(hi.objective, rel=1e-5, abs=1e-12)
