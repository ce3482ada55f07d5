"""Re-solves on cvxpy with parameters (backends/cvxpy CvxpyProgram.rebind): the polynomial
path keeps one DPP problem and sets new right-hand sides and objective vectors as
``cp.Parameter`` values; a change of structure compiles again and says why."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import lagdsl
from test_resolve import assert_same, transport

EX = Path(__file__).resolve().parent.parent / "examples"
PORTFOLIO = json.loads((EX / "portfolio.json").read_text())


def portfolio(data=None):
    return lagdsl.load(EX / "portfolio.lag", data=dict(PORTFOLIO, **(data or {})))


def test_transport_new_demand_sets_parameters_without_recompiling():
    prog = transport().compile("cvxpy")
    assert prog.low.parameters is None              # compiled once: parameter-free
    assert prog.solve().objective == pytest.approx(153.675)
    program = prog.program
    for k, demand in enumerate(([330, 310, 280], [300, 320, 250], [325, 300, 275])):
        r = prog.solve(data={"demand": demand})
        assert_same(r, transport({"demand": demand}).solve("cvxpy"))
        info = r.stats["resolve"]
        assert info["recompiled"] is False and info["reason"] is None
        assert info["rebind"]["parameters"] == ("made the problem parametric" if k == 0
                                                else "set parameter values")
        assert prog.program is program
    assert prog.low.problem.is_dpp() and prog.low.parameters
    assert r.objective == pytest.approx(153.675)


def test_objective_coefficients_are_parameters_too():
    prog = transport().compile("cvxpy")
    prog.solve(data={"demand": [330, 310, 280]})
    dist = [[2.0, 1.7, 1.8], [2.5, 1.2, 1.4]]          # cost = f * dist / 1000: c in c'x
    r = prog.solve(data={"dist": dist, "f": 95})
    assert_same(r, transport({"dist": dist, "f": 95}).solve("cvxpy"))
    assert r.stats["resolve"]["recompiled"] is False


def test_qp_new_returns_rebinds_and_new_covariance_recompiles():
    prog = portfolio().compile("cvxpy")
    prog.solve()
    mu = [0.04, 0.07, 0.06, 0.10]
    r = prog.solve(data={"mu": mu, "gamma": 0.7})
    assert_same(r, portfolio({"mu": mu, "gamma": 0.7}).solve("cvxpy"))
    assert r.stats["resolve"]["recompiled"] is False
    sigma = [[0.004, 0.0, 0.0, 0.0], [0.0, 0.03, 0.0, 0.0], [0.0, 0.0, 0.02, 0.0],
             [0.0, 0.0, 0.0, 0.08]]
    r = prog.solve(data={"Sigma": sigma})
    assert_same(r, portfolio({"Sigma": sigma}).solve("cvxpy"))
    info = r.stats["resolve"]
    assert info["recompiled"] is True
    assert info["reason"] == ("backend cvxpy could not update in place: the new data changes "
                              "the objective's quadratic form")


KNAP = """
model knap
set I
param w[I]
param v[I]
param W
param lo[I]
param hi[I]
var x[I] >= 0, <= 1
maximize value: sum(i in I) v[i] * x[i]
subject to cap: sum(i in I) w[i] * x[i] <= W
subject to band[i in I]: lo[i] <= x[i] + 0.5 * x[i] <= hi[i]
"""
KNAP_DATA = {"I": ["a", "b", "c"], "w": [2, 3, 4], "v": [3, 4, 5], "W": 5,
             "lo": [0, 0, 0], "hi": [1.5, 1.5, 1.5]}


def knap(data=None):
    return lagdsl.parse(KNAP, data=dict(KNAP_DATA, **(data or {})))


def test_a_coefficient_of_an_unknown_recompiles_with_the_reason():
    prog = knap().compile("cvxpy")
    prog.solve()
    r = prog.solve(data={"W": 6})                  # a right-hand side: parameters
    assert_same(r, knap({"W": 6}).solve("cvxpy"))
    assert r.stats["resolve"]["recompiled"] is False
    r = prog.solve(data={"w": [2, 5, 4]})          # w[i] * x[i]: a coefficient
    assert_same(r, knap({"w": [2, 5, 4]}).solve("cvxpy"))
    info = r.stats["resolve"]
    assert info["recompiled"] is True
    assert info["reason"] == ("backend cvxpy could not update in place: the new data changes "
                              "coefficients of unknowns in cap")


def test_a_row_that_becomes_an_equality_recompiles():
    prog = knap().compile("cvxpy")
    prog.solve(data={"hi": [1.5, 1.2, 1.5]})         # parametric now
    new = {"lo": [0, 0.9, 0], "hi": [1.5, 0.9, 1.5]}  # band[b]: lo == hi, an equality row
    r = prog.solve(data=new)
    assert_same(r, knap(new).solve("cvxpy"))
    info = r.stats["resolve"]
    assert info["recompiled"] is True
    assert info["reason"] == ("backend cvxpy could not update in place: the new data changes "
                              "which rows of band are equalities, upper or lower bounds")
    assert r.values["x"]["b"] == pytest.approx(0.6, abs=1e-6)


def test_the_dcp_path_recompiles():
    src = """
model d
param a = 1
var x
minimize o: abs(x - a) + 0.1 * x
"""
    prog = lagdsl.parse(src).compile("cvxpy")
    prog.solve()
    r = prog.solve(data={"a": 2})
    assert r.objective == pytest.approx(0.2, abs=1e-6)
    info = r.stats["resolve"]
    assert info["recompiled"] is True and "not polynomial" in info["reason"]
