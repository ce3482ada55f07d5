"""The ``highs`` backend: statuses, scaling, refusals with positions, options, emitted
files read back by HiGHS, and re-solves after :meth:`HighsProgram.rebind`."""
from __future__ import annotations

import json

import numpy as np
import pytest

import lagdsl
from lagdsl.solution import MIP_NO_DUALS
from lagdsl.errors import BackendRefusal, LagError

TRANSPORT = """\
set I = 1..{m}
set J = 1..{n}
param supply[i in I]
param demand[j in J]
param cost[i in I, j in J] = 1 + (i*7 + j*13) mod 17
var ship[I, J] >= 0
minimize total: sum(i in I, j in J) cost[i,j] * ship[i,j]
subject to sup[i in I]: sum(j in J) ship[i,j] <= supply[i]
subject to dem[j in J]: sum(i in I) ship[i,j] >= demand[j]
"""


def transport(m: int, n: int, demand: list[float], supply: float) -> lagdsl.Model:
    return lagdsl.parse(TRANSPORT.format(m=m, n=n),
                        data={"supply": [supply] * m, "demand": demand})


def solve(text: str, **opts):
    return lagdsl.parse(text).solve("highs", **opts)


# --- statuses --------------------------------------------------------------------------


def test_lp_optimum_values_and_duals_in_the_users_sense():
    r = solve("var x >= 0\nvar y >= 0\nmaximize f: 3*x + 2*y + 1\n"
              "subject to a: x + y <= 4\nsubject to b: x + 3*y <= 9\nsubject to c: x <= 3\n")
    assert r.status == "optimal" and r.objective == pytest.approx(12.0)
    assert r.values == {"x": pytest.approx(3.0), "y": pytest.approx(1.0)}
    # more capacity in a maximisation: non-negative shadow prices
    assert r.duals == {"a": pytest.approx(2.0), "b": pytest.approx(0.0), "c": pytest.approx(1.0)}
    assert r.max_violation == 0.0 and r.stats["simplex_iterations"] > 0


def test_minimisation_with_a_demand_row_has_a_positive_dual_and_equality_duals_signed():
    r = solve("var x >= 0\nvar y >= 0\nminimize f: 2*x + 3*y\n"
              "subject to d: x + y >= 10\nsubject to e: x - y == 2\n")
    assert r.objective == pytest.approx(24.0)
    # d(f*)/d(bound): +10 demand costs 2.5 per unit, shifting e's right-hand side by +1 saves 0.5
    assert r.duals["d"] == pytest.approx(2.5) and r.duals["e"] == pytest.approx(-0.5)


def test_infeasible_and_unbounded_are_exact_and_carry_no_point():
    r = solve("var x >= 0\nminimize f: x\nsubject to c: x <= -1\n")
    assert r.status == "infeasible" and r.values == {} and r.objective is None
    r = solve("var x >= 0\nvar y\nmaximize f: x\nsubject to c: x - y <= 1\n")
    assert r.status == "unbounded" and r.values == {}


def test_infeasible_or_unbounded_after_presolve_is_settled_by_a_feasibility_solve():
    # infeasible rows and a free objective direction: presolve cannot tell which one it is
    text = ("var x\nvar y >= 0\nminimize f: -y\nsubject to a: x >= 1\nsubject to b: x <= 0\n")
    r = solve(text)
    assert r.status == "infeasible" and r.stats["highs_status"] == "kInfeasible"


def test_a_time_limited_milp_returns_limit_with_incumbent_gap_and_bound():
    from test_process import SLOW
    r = solve(SLOW, time_limit=1.0)
    assert r.status == "limit" and r.values and r.objective is not None
    gap, bound = r.stats["mip_gap"], r.stats["bound"]
    assert 0 < gap < 1 and bound < r.objective
    assert gap == pytest.approx((r.objective - bound) / r.objective, rel=1e-6)
    assert r.max_violation <= 1e-6 and r.duals == {}


def test_milp_duals_are_empty_with_the_reason():
    r = solve("var x integer >= 0, <= 10\nmaximize f: x\nsubject to c: 2*x <= 7\n")
    assert r.status == "optimal" and r.values["x"] == 3.0 and r.duals == {}
    assert any("duals of a mixed-integer program are not defined" in n for n in r.stats["notes"])
    assert r.duals.reason == r.stats["no_duals"] == MIP_NO_DUALS
    assert "mip_gap" not in r.stats      # proven optimal: nothing left open to report


@pytest.mark.parametrize("backend", ["highs", "cvxpy"])
def test_milp_duals_say_why_on_every_backend_and_in_the_cli(backend, tmp_path, capsys):
    from lagdsl.cli import main
    text = "var x integer >= 0, <= 10\nmaximize f: x\nsubject to c: 2*x <= 7\n"
    r = lagdsl.parse(text).solve(backend)
    assert r.duals == {} and r.duals.reason == MIP_NO_DUALS and "NoDuals(" in repr(r.duals)
    assert r.to_json_dict()["stats"]["no_duals"] == MIP_NO_DUALS
    (tmp_path / "m.lag").write_text(text)
    assert main(["solve", str(tmp_path / "m.lag"), "--backend", backend, "--duals"]) == 0
    assert "duals: none: " + MIP_NO_DUALS + "\n" in capsys.readouterr().out
    # an LP has its duals and no reason
    lp = lagdsl.parse(text.replace("integer ", "")).solve(backend)
    assert lp.duals["c"] == pytest.approx(0.5) and "no_duals" not in lp.stats


def test_empty_model_is_optimal():
    r = solve("var x >= 1, <= 2\nminimize f: 5\n")
    assert r.status == "optimal" and r.objective == 5.0 and 1 <= r.values["x"] <= 2


# --- numerical honesty -----------------------------------------------------------------


def test_a_tiny_objective_is_scaled_not_read_as_zero():
    r = solve("var x >= 0, <= 1\nmaximize f: 1e-10 * x\n")
    assert r.status == "optimal" and r.values["x"] == 1.0 and r.objective == pytest.approx(1e-10)
    assert any(n.startswith("objective f: scaled by 2^") for n in r.stats["notes"])


def test_a_large_objective_is_not_scaled_down_past_its_small_costs():
    r = solve("var x >= 0\nvar y >= 0\nminimize f: 1e7 * x + y\nsubject to c: x + y >= 1\n"
              "subject to d: y <= 5\n")
    assert r.values == {"x": 0.0, "y": 1.0} and r.objective == 1.0
    assert not any(n.startswith("objective") for n in r.stats["notes"])


def test_tiny_row_coefficients_are_scaled_and_duals_come_back_in_user_units():
    r = solve("var x >= 0\nminimize f: x\nsubject to c: 1e-10 * x >= 1\n")
    assert r.status == "optimal" and r.objective == pytest.approx(1e10)
    assert r.duals["c"] == pytest.approx(1e10)
    assert any(n.startswith("constraint c: row scaled by 2^") for n in r.stats["notes"])


def test_a_tiny_qp_objective_keeps_its_curvature():
    r = solve("var x\nminimize f: 1e-8 * (x - 3)^2\n")
    assert r.status == "optimal" and r.values["x"] == pytest.approx(3.0, abs=1e-5)


def test_convex_qp_with_cross_terms_and_concave_maximisation():
    r = solve("var x\nvar y\nminimize f: x^2 + x*y + y^2 - 3*x\nsubject to c: x + y >= 0\n")
    assert r.objective == pytest.approx(-3.0) and r.values["x"] == pytest.approx(2.0, abs=1e-6)
    r = solve("var x\nmaximize f: -2*x^2 + 4*x + 1\n")
    assert r.objective == pytest.approx(3.0) and r.values["x"] == pytest.approx(1.0, abs=1e-6)


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("text,reason,line", [
    ("var x\nvar y\nminimize f: x*y\n", "objective f: minimize needs a convex quadratic", 3),
    ("var x integer >= 0, <= 3\nminimize f: (x - 1.5)^2\n", "a quadratic objective over integer unknowns", 2),
    ("var x\nminimize f: x\nsubject to c: x^2 <= 1\n", "constraint c: a quadratic constraint row", 3),
    ("var x\nminimize f: abs(x - 1)\n", "objective f: abs of unknowns", 2),
    ("var x >= 1\nminimize f: x^3\n", "objective f: a polynomial of degree 3", 2),
])
def test_what_highs_cannot_take_is_refused_at_its_position(text, reason, line):
    model = lagdsl.parse(text)
    with pytest.raises(BackendRefusal) as exc:
        model.solve("highs")
    assert reason in exc.value.message, exc.value.message
    assert exc.value.span is not None and exc.value.span.line == line
    assert exc.value.message.startswith("backend highs cannot take this model: ")


def test_nonconvex_refusal_names_the_variables():
    with pytest.raises(BackendRefusal) as exc:
        lagdsl.parse("var x\nvar y\nmaximize f: x^2 - y^2\n").solve("highs")
    assert "eigenvalue" in exc.value.message and "x" in exc.value.message


def test_options_are_validated():
    m = lagdsl.parse("var x >= 0\nminimize f: x\n")
    for bad in ({"method": "barrier"}, {"seed": -1}, {"seed": 2**31}, {"threads": 1.5},
                {"mip_gap": 1}, {"time_limit": -1}, {"presolve": "maybe"}, {"gap": 0.1}):
        with pytest.raises(BackendRefusal):
            m.solve("highs", **bad)
    for method in ("simplex", "ipm", "pdlp"):
        r = lagdsl.parse("var x >= 0\nvar y >= 0\nmaximize f: x + y\nsubject to c: x + 2*y <= 4\n"
                         "subject to d: x <= 3\n").solve("highs", method=method, presolve=False)
        assert r.status == "optimal" and r.objective == pytest.approx(3.5, rel=1e-4), method


def test_seed_reaches_highs():
    prog = lagdsl.parse("var x >= 0\nminimize f: x\n").compile("highs", seed=1234)
    assert prog.h.getOptionValue("random_seed")[1] == 1234


# --- emitted files -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mps", "lp"])
@pytest.mark.parametrize("text,objective", [
    (TRANSPORT.format(m=3, n=4), None),
    ("var x integer >= 0, <= 10\nvar y >= 0\nmaximize f: 3*x + 2*y\n"
     "subject to c: 2*x + y <= 7.5\nsubject to d: y <= 2\n", 12.0),
    ("var x\nvar y\nminimize f: x^2 + x*y + y^2 - 3*x\nsubject to c: x + y >= 0\n", -3.0),
])
def test_emit_writes_what_highs_reads_back_to_the_same_optimum(tmp_path, fmt, text, objective):
    import highspy
    data = {"supply": [30, 30, 30], "demand": [10, 20, 15, 25]} if "supply" in text else None
    model = lagdsl.parse(text, data=data)
    out = model.emit(fmt, backend="highs")
    path = tmp_path / ("m." + fmt)
    path.write_text(out)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    want = model.solve("highs").objective
    if objective is not None:
        assert want == pytest.approx(objective)
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    assert h.getInfo().objective_function_value == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_compile_emit_from_the_cli(tmp_path):
    from lagdsl.cli import main
    (tmp_path / "m.lag").write_text("var x >= 0\nminimize f: x\nsubject to c: x >= 2\n")
    assert main(["compile", str(tmp_path / "m.lag"), "--backend", "highs", "--emit", "mps",
                 "-o", str(tmp_path / "m.mps")]) == 0
    assert "ROWS" in (tmp_path / "m.mps").read_text()


# --- re-solves with new data ------------------------------------------------------------


def test_rebind_with_a_new_demand_vector_matches_a_fresh_compile_with_fewer_iterations():
    rng = np.random.default_rng(7)
    m, n = 20, 40
    d0 = rng.integers(5, 15, n).astype(float).tolist()
    prog = transport(m, n, d0, 40.0).compile("highs", method="simplex")
    first = prog.solve()
    assert first.status == "optimal" and first.stats["warm_start"] is False
    for _ in range(3):
        d = (np.array(d0) + rng.integers(-3, 4, n)).tolist()
        fresh = transport(m, n, d, 40.0)
        assert prog.rebind(fresh.ir, frozenset({"demand"})) is True
        warm = prog.solve()
        cold = fresh.solve("highs", method="simplex")
        assert warm.status == cold.status == "optimal"
        assert warm.objective == pytest.approx(cold.objective, rel=1e-9)
        assert warm.duals["dem"] == pytest.approx(cold.duals["dem"], abs=1e-7)
        assert warm.stats["warm_start"] is True
        assert warm.stats["changed"] == {"row_bounds": n} or set(warm.stats["changed"]) == {"row_bounds"}
        assert warm.stats["simplex_iterations"] < cold.stats["simplex_iterations"]


def test_rebind_passes_changed_costs_and_coefficients():
    text = ("set I = 1..3\nparam c[i in I]\nparam a[i in I]\nvar x[I] >= 0, <= 5\n"
            "maximize f: sum(i in I) c[i]*x[i]\nsubject to cap: sum(i in I) a[i]*x[i] <= 6\n")
    m1 = lagdsl.parse(text, data={"c": [1, 2, 3], "a": [1, 1, 1]})
    prog = m1.compile("highs")
    assert prog.solve().objective == pytest.approx(17.0)
    m2 = lagdsl.parse(text, data={"c": [3, 2, 1], "a": [1, 2, 1]})
    assert prog.rebind(m2.ir, frozenset({"c", "a"}))
    r = prog.solve()
    assert r.objective == pytest.approx(m2.solve("highs").objective)
    assert r.stats["changed"]["costs"] == 2 and r.stats["changed"]["coefficients"] == 1


def test_rebind_refuses_a_change_of_structure():
    prog = transport(2, 3, [1, 2, 3], 10).compile("highs")
    prog.solve()
    assert prog.rebind(transport(2, 4, [1, 2, 3, 4], 10).ir, frozenset({"demand"})) is False
    # the program still solves its own model
    assert prog.solve().objective == pytest.approx(transport(2, 3, [1, 2, 3], 10).solve("highs").objective)


def test_rebind_to_data_that_makes_the_qp_nonconvex_is_refused():
    text = "param a\nvar x >= -1, <= 1\nminimize f: a * x^2 + x\n"
    prog = lagdsl.parse(text, data={"a": 1.0}).compile("highs")
    assert prog.solve().objective == pytest.approx(-0.25)
    with pytest.raises(BackendRefusal) as exc:
        prog.rebind(lagdsl.parse(text, data={"a": -1.0}).ir, frozenset({"a"}))
    assert "minimize needs a convex quadratic" in exc.value.message
    assert prog.rebind(lagdsl.parse(text, data={"a": 2.0}).ir, frozenset({"a"}))
    r = prog.solve()
    assert r.objective == pytest.approx(-0.125) and r.stats["changed"] == {"hessian": 1}


def test_other_backends_do_not_rebind():
    from lagdsl.backend import Program
    assert Program().rebind(None, frozenset()) is False


# --- the CLI -----------------------------------------------------------------------------


def test_cli_json_and_backends_listing(tmp_path, capsys):
    from lagdsl.cli import main
    (tmp_path / "m.lag").write_text("var x >= 0\nminimize f: x\nsubject to c: x >= 2\n")
    assert main(["solve", str(tmp_path / "m.lag"), "--backend", "highs", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["status"] == "optimal" and res["objective"] == 2.0 and res["duals"] == {"c": 1.0}
    assert res["backend"] == "highs"
    assert main(["backends", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    highs = listing["highs"]
    assert {"time_limit", "mip_gap", "threads", "presolve", "method", "seed", "verbose"} <= set(highs["options"])


def test_data_errors_are_not_refusals():
    model = lagdsl.parse("param a\nvar x >= 0\nminimize f: x\nsubject to c: x >= a\n",
                         data={"a": 1.0})
    assert model.solve("highs").objective == 1.0
    with pytest.raises(LagError):
        lagdsl.parse("var x >= 0\nminimize f: x\nsubject to c: x >= inf\n").solve("highs")


# --- re-solves pass only what changed, and stay equal to a fresh solve ------------------

BENCH_TRANSPORT = (__import__("pathlib").Path(__file__).resolve().parent.parent
                   / "bench" / "models" / "transport.lag")


def transport_data(m: int, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    demand = rng.integers(10, 50, n).astype(float)
    return {"S": list(range(1, m + 1)), "D": list(range(1, n + 1)),
            "supply": np.full(m, np.ceil(1.3 * demand.sum() / m)).tolist(),
            "demand": demand.tolist(), "cost": np.round(rng.uniform(1, 100, (m, n)), 2).tolist()}


def assert_same_answer(got, want):
    assert got.status == want.status == "optimal"
    assert got.objective == pytest.approx(want.objective, rel=1e-9)
    assert got.duals.keys() == want.duals.keys()
    for name, d in want.duals.items():
        assert got.duals[name] == pytest.approx(d, rel=1e-7, abs=1e-9), name
    assert got.max_violation == pytest.approx(want.max_violation, abs=1e-9)
    assert got.stats.get("notes", []) == want.stats.get("notes", [])


def test_a_new_demand_vector_passes_only_the_changed_row_bounds():
    data = transport_data(4, 6, 1)
    prog = lagdsl.load(BENCH_TRANSPORT, data=data).compile("highs", method="simplex")
    prog.solve()
    demand = list(data["demand"])
    demand[1] += 5
    demand[4] -= 3
    r = prog.solve(data={"demand": demand})
    info = r.stats["resolve"]
    assert info["recompiled"] is False and r.stats["warm_start"] is True
    # the 6 demand rows were compared with HiGHS's copy, the 2 that differ were passed
    assert info["rebind"] == {"compared": {"rows": 6, "coefficients": 0}, "passed": {"row_bounds": 2}}
    assert r.stats["changed"] == {"row_bounds": 2}
    fresh = lagdsl.load(BENCH_TRANSPORT, data=dict(data, demand=demand)).solve("highs", method="simplex")
    assert_same_answer(r, fresh)


def test_new_costs_supply_and_demand_together_equal_a_fresh_solve():
    data = transport_data(5, 7, 2)
    prog = lagdsl.load(BENCH_TRANSPORT, data=data).compile("highs")
    prog.solve()
    rng = np.random.default_rng(3)
    for _ in range(3):
        new = {"demand": (np.asarray(data["demand"]) + rng.integers(-5, 6, 7)).tolist(),
               "supply": (np.asarray(data["supply"]) * rng.uniform(0.9, 1.1, 5)).tolist(),
               "cost": (np.asarray(data["cost"]) * rng.uniform(0.5, 1.5, (5, 7))).tolist()}
        r = prog.solve(data=new)
        info = r.stats["resolve"]
        assert info["recompiled"] is False
        assert info["rebind"]["compared"] == {"rows": 12, "coefficients": 0, "costs": True}
        assert set(r.stats["changed"]) <= {"row_bounds", "costs"} and r.stats["changed"]["costs"] == 35
        assert_same_answer(r, lagdsl.load(BENCH_TRANSPORT, data=dict(data, **new)).solve("highs"))


SCALED = """\
set I = 1..3
param a[i in I]
param b[i in I]
param w
var x[I] >= 0, <= 1e4
minimize f: w * sum(i in I) i * x[i]
subject to need[i in I]: a[i] * x[i] >= b[i]
subject to total: sum(i in I) x[i] <= 1e4
"""


def test_new_coefficients_across_the_scaling_band_equal_a_fresh_compile():
    base = {"a": [1.0, 1.0, 1.0], "b": [1.0, 2.0, 3.0], "w": 1.0}
    prog = lagdsl.parse(SCALED, data=base).compile("highs")
    assert prog.solve().objective == pytest.approx(14.0)
    # row 1 becomes tiny (scaled up), row 3 huge (scaled down), the objective all tiny
    # (obj_scale): each decided again, with the row's coefficients passed at the new scale
    steps = [{"a": [1e-5, 1.0, 2e7], "b": [5e-5, 2.0, 3.0], "w": 1e-6},
             {"a": [1e-5, 1.0, 2e7], "b": [7e-5, 2.0, 6.0], "w": 1e-6},     # bounds of scaled rows
             base]                                                           # and back to scale 1
    for new in steps:
        r = prog.solve(data=new)
        assert r.stats["resolve"]["recompiled"] is False
        fresh = lagdsl.parse(SCALED, data=new).solve("highs")
        assert_same_answer(r, fresh)
        assert r.values["x"].to_dict() == pytest.approx(fresh.values["x"].to_dict(), rel=1e-9)
    scaled = prog.solve(data=steps[0])
    assert any("scaled by 2^" in n for n in scaled.stats["notes"])
    assert scaled.duals["need"]["1"] == pytest.approx(1e-6 / 1e-5, rel=1e-7)
    assert scaled.stats["resolve"]["rebind"]["compared"]["coefficients"] == 3
    # a bound-only change of a scaled row keeps its scale: only that row's bound is passed
    r = prog.solve(data=steps[1])
    assert r.stats["changed"] == {"row_bounds": 2}
    assert r.stats["resolve"]["rebind"]["compared"] == {"rows": 3, "coefficients": 0}


def test_a_coefficient_that_becomes_zero_recompiles_and_says_why():
    text = ("set I = 1..2\nparam a[i in I]\nvar x[I] >= 0, <= 10\nminimize f: sum(i in I) x[i]\n"
            "subject to r: sum(i in I) a[i] * x[i] >= 1\n")
    prog = lagdsl.parse(text, data={"a": [1.0, 2.0]}).compile("highs")
    assert prog.solve().objective == pytest.approx(0.5)
    r = prog.solve(data={"a": [1.0, 0.0]})
    info = r.stats["resolve"]
    assert info["recompiled"] is True
    assert info["reason"] == ("backend highs could not update in place: the new data changes the "
                              "sparsity pattern or integrality")
    assert r.objective == pytest.approx(1.0)


def test_changed_is_reported_by_the_solve_after_a_rebind_only():
    data = transport_data(3, 4, 5)
    prog = lagdsl.load(BENCH_TRANSPORT, data=data).compile("highs")
    prog.solve()
    r = prog.solve(data={"demand": (np.asarray(data["demand"]) + 1).tolist()})
    assert r.stats["changed"] == {"row_bounds": 4}
    assert "changed" not in prog.solve().stats


def test_thread_counts_may_change_between_solves_in_one_process():
    # HiGHS sizes one process-wide pool at the first run; a later run asking another size used
    # to end in `error` ("HiGHS stopped with status Not Set") until the pool is restarted
    m = lagdsl.parse("var x >= 0\nminimize f: x + 1\nsubject to c: x >= 2\n")
    for threads in (None, 1, 2, None, 1):
        r = m.solve("highs") if threads is None else m.solve("highs", threads=threads)
        assert (r.status, r.objective) == ("optimal", 3.0), (threads, r.stats.get("message"))


def test_a_qp_highs_fails_on_says_which_backend_solves_it(tmp_path, monkeypatch):
    # one of DC3's random QPs (examples/dc3_qp_gen.py with 10 training scenarios: held-out 66) on which HiGHS
    # 1.16's QP solver ends in "Solve error" with any of its options; cvxpy solves it
    from pathlib import Path
    EX = Path(__file__).resolve().parent.parent / "examples"
    monkeypatch.syspath_prepend(str(EX))
    from dc3_qp_gen import generate
    base, _train, test = generate(train=10, test=67)
    (tmp_path / "base.json").write_text(json.dumps(base))
    m = lagdsl.load(str(EX / "dc3_qp.lag"), data=str(tmp_path / "base.json"))
    data = {k: v for k, v in test[66].items() if k != "id"}
    r = m.compile("highs").solve(data=data)
    if r.status == "optimal":
        pytest.skip("this HiGHS solves the instance")
    assert r.status == "error" and r.stats["highs_status"] == "kSolveError"
    assert r.stats["message"].endswith("--backend cvxpy solves convex QPs with another solver")
    assert m.compile("cvxpy").solve(data=data).status == "optimal"
