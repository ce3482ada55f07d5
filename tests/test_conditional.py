"""``if COND then A else B`` on data, in every position a data expression may take
(parameter formulas, coefficients, constants, variable bounds and starts, filters of sets,
aggregates and constraint families, constraint bodies), with exact optima; the error for a
condition on unknowns; syntax errors; the pinn backend's conditions on coordinates."""
from __future__ import annotations

import numpy as np
import pytest

import lagdsl
from lagdsl.errors import LagSemanticError, LagSyntaxError


def values(model, name):
    p = model.ir.params[name]
    return p.values.reshape(-1).tolist()


def test_param_formula_with_else_if_chain():
    m = lagdsl.parse("""
        param n = 5
        set I = 1..n
        param c[I] = [3, 0, 2, 5, 0]
        param tier[i in I] = if i <= 2 then 10 else if i == 3 then 20 else 30
        param inv[i in I] = if c[i] != 0 then 1 / c[i] else 0      # 1/0 is never computed
        param nxt[i in I] = if i < n then c[i + 1] else c[1]       # c[n + 1] is never read
        param both[i in I] = if i > 1 and c[i] > 0 then 1 else if not i in {1, 2} then 2 else 3
        param s = if n > 3 then (if n > 4 then 7 else 6) else 5
    """)
    assert values(m, "tier") == [10, 10, 20, 30, 30]
    assert values(m, "inv") == pytest.approx([1 / 3, 0, 1 / 2, 1 / 5, 0])
    assert values(m, "nxt") == [0, 2, 5, 0, 3]
    assert values(m, "both") == [3, 3, 1, 1, 2]
    assert values(m, "s") == [7]


def test_default_and_string_conditions():
    m = lagdsl.parse("""
        set C = {"north", "south", "east"}
        param w[c in C] = if c == "south" then 2 else 1
        param d[c in C] default (if c == "east" then 9 else 0)
    """, data={"d": {"north": 4}})
    assert values(m, "w") == [1, 2, 1]
    assert values(m, "d") == [4, 0, 9]


# A small LP in which every position holds a conditional; its optimum by hand:
# bounds x[1] in [1, 1], x[2..4] in [0, 10]; step rows x[i+1] - x[i] <= 1 for i < 4
# (the last row's body is 0); pos rows force x[2] >= 2 (c[2] == 0).  Objective weights
# (if c[i] > 2 then 2 else 1): c = [3, 0, 2, 5] -> [2, 1, 1, 2] on x = [1, 2, 3, 4]
# plus the filtered sum over {i : c[i] > 0} of w[i] x[i] with w = 1/c:
# 1/3 * 1 + 1/2 * 3 + 1/5 * 4.
COND_LP = """
    param n = 4
    set I = 1..n
    param c[I] = [3, 0, 2, 5]
    param w[i in I] = if c[i] > 0 then 1 / c[i] else 0
    set P = {i in I : (if c[i] > 2 then 1 else 0) == 1}
    var x[i in I] >= if i == 1 then 1 else 0, <= if i == 1 then 1 else 10 start (if i > 2 then 1 else 0)
    subject to step[i in I]: (if i < n then x[i + 1] - x[i] else 0) <= 1
    subject to pos[i in I : if c[i] == 0 then i >= 2 else i > 100]:
        x[i] >= (if c[i] == 0 then 2 else 0)
    subject to big: sum(i in P) x[i] <= 100
    maximize obj: sum(i in I) (if c[i] > 2 then 2 else 1) * x[i]
                  + sum(i in I : if c[i] > 0 then i >= 1 else i > 100) w[i] * x[i]
"""
COND_LP_OPT = 2 * 1 + 2 + 3 + 2 * 4 + 1 / 3 * 1 + 1 / 2 * 3 + 1 / 5 * 4


@pytest.mark.parametrize("backend", ["highs", "cvxpy"])
def test_every_position_exact_optimum(backend):
    m = lagdsl.parse(COND_LP)
    assert m.ir.sets["P"].elements == [1, 4]
    assert m.ir.vars["x"].start.tolist() == [0, 0, 1, 1]
    r = m.solve(backend=backend)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(COND_LP_OPT, rel=1e-9)
    assert [r.values["x"][i] for i in (1, 2, 3, 4)] == pytest.approx([1, 2, 3, 4], abs=1e-7)
    # the row of step where the body is 0 is still a row (0 <= 1)
    assert set(r.duals["step"]) == {"1", "2", "3", "4"}
    assert set(r.duals["pos"]) == {"2"}


def test_conditional_in_a_nonlinear_body_on_lagrangian():
    # minimise sum (x[i] - t[i])^2 with t from a conditional: the optimum is x = t
    m = lagdsl.parse("""
        set I = 1..4
        var x[I]
        minimize f: sum(i in I) (x[i] - (if i mod 2 == 0 then exp(0) else -2)) ^ 2
                    + sum(i in I) (if i == 1 then 0.5 * sin(x[i]) ^ 2 else 0)
    """)
    r = m.solve(backend="lagrangian", seed=0)
    x = [r.values["x"][i] for i in (1, 2, 3, 4)]
    # x[1] minimises (x + 2)^2 + 0.5 sin(x)^2: measured by a fine grid
    grid = np.linspace(-3, -1, 200001)
    best = grid[np.argmin((grid + 2) ** 2 + 0.5 * np.sin(grid) ** 2)]
    assert x == pytest.approx([best, 1, -2, 1], abs=1e-4)


def test_resolve_with_new_data_moves_the_branches():
    m = lagdsl.parse("""
        set I = 1..3
        param c[I]
        var x[I] >= 0, <= 1
        maximize f: sum(i in I) (if c[i] > 0 then c[i] else -1) * x[i]
    """, data={"c": [1, -5, 2]})
    prog = m.compile(backend="highs")
    assert prog.solve().objective == pytest.approx(3)
    assert prog.solve(data={"c": [-1, 4, -2]}).objective == pytest.approx(4)


def test_condition_on_an_unknown_is_a_positioned_error():
    text = ("set I = 1..3\nvar x[I] >= 0\n"
            "subject to c[i in I]: (if x[i] >= 1 then 2 else 3) * x[i] <= 4\n")
    with pytest.raises(LagSemanticError) as e:
        lagdsl.parse(text, path="m.lag")
    err = e.value
    assert "the unknown x cannot appear in the condition of 'if' of constraint c" in str(err)
    assert (err.span.line, err.span.col) == (3, 27)


def test_condition_on_an_unknown_in_a_bound_names_it():
    with pytest.raises(LagSemanticError) as e:
        lagdsl.parse("var y\nvar x >= if y > 0 then 1 else 0\n", path="m.lag")
    assert "the unknown y cannot appear in the condition of 'if'" in str(e.value)
    assert (e.value.span.line, e.value.span.col) == (2, 13)


@pytest.mark.parametrize("text, col", [
    ("param n = 1\nparam p = if n > 0 then 1\n", 26),
    ("param n = 1\nparam p = if n > 0 1 else 2\n", 20),
    ("param n = 1\nparam p = if n > 0 else 2\n", 20),
])
def test_missing_parts_are_friendly_syntax_errors(text, col):
    with pytest.raises(LagSyntaxError) as e:
        lagdsl.parse(text, path="m.lag")
    assert e.value.hint == "a conditional is 'if COND then A else B' (the 'else' part is required)"
    assert e.value.span.col == col


def test_if_then_else_are_keywords():
    with pytest.raises(LagSyntaxError):
        lagdsl.parse("param then = 1\n")
    # longer names that start with a keyword stay names
    m = lagdsl.parse("param iffy = 1\nparam elsewhere = if iffy > 0 then 2 else 3\n")
    assert values(m, "elsewhere") == [2]


def test_pinn_condition_on_a_coordinate():
    pytest.importorskip("torch")
    # u' = f with f = 1 on [0, 0.5) and 3 on [0.5, 1], u(0) = 0: u(1) = 0.5 + 1.5 = 2
    m = lagdsl.parse("""
        domain D: x in [0, 1]
        field u(x)
        subject to ode on D: d(u, x) == (if x < 0.5 then 1 else 3)
        subject to left on D where x == 0: u == 0
    """)
    r = m.solve(backend="pinn", seed=0, epochs=1500, lbfgs=300)
    u1 = float(r.fields["u"](x=np.array([1.0]))[0])
    assert u1 == pytest.approx(2.0, abs=0.05)
