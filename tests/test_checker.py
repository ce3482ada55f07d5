"""Checker: the IR produced from representative models (bodies, bindings, hoisted sets,
bound and parameter arrays, regions) and the semantic errors with their positions."""
from __future__ import annotations

import json

import numpy as np
import pytest
import sympy

from lagdsl.errors import LagDataError, LagError, LagSemanticError
from lagdsl.frontend import compile_file, compile_text, elaborate, parse_program
from lagdsl.ir.model import Source
from lagdsl.ir.sym import Agg, Member, Over, SetFamilyRef, SetName, SetRange, Str

S = sympy.Symbol
X = sympy.IndexedBase


def sname(name):
    return SetName(S(name))


def over(idx, term):
    idx = (idx,) if isinstance(idx, str) else idx
    return Over(sympy.Tuple(*map(S, idx)), term)


KNAP = """model knap
param n = 5
set I = 1..n
param w[I] = [2, 3, 4, 5, 9]
param v[I] = [3, 4, 5, 8, 10]
var x[I] binary
maximize value: sum(i in I) v[i] * x[i]
subject to cap: sum(i in I) w[i] * x[i] <= 10
subject to pair[i in I, j in I : i < j and j == i + 1]: x[i] + x[j] <= 1
"""


def test_knapsack_ir():
    m = compile_text(KNAP, "knap.lag")
    i, j = S("i"), S("j")
    assert m.name == "knap"
    assert m.sets["I"].elements == [1, 2, 3, 4, 5]
    assert m.params["n"].index == () and float(m.params["n"].values) == 5
    np.testing.assert_array_equal(m.params["w"].values, [2, 3, 4, 5, 9])
    x = m.vars["x"]
    assert (x.index, x.domain) == (("I",), "binary")
    np.testing.assert_array_equal(x.lower, np.zeros(5))
    np.testing.assert_array_equal(x.upper, np.ones(5))
    assert m.objective.sense == "maximize"
    assert m.objective.expr == Agg("sum", [over("i", sname("I"))], None, X("v")[i] * X("x")[i])
    cap = m.constraints["cap"]
    assert cap.body == Agg("sum", [over("i", sname("I"))], None, X("w")[i] * X("x")[i])
    assert (cap.lower, cap.upper, cap.binding) == (None, 10, ())
    pair = m.constraints["pair"]
    assert pair.binding == (over("i", sname("I")), over("j", sname("I")))
    assert pair.where == sympy.And(sympy.Lt(i, j), sympy.Eq(j, i + 1))
    assert pair.body == X("x")[i] + X("x")[j] and pair.upper == 1
    assert (pair.span.line, pair.span.col) == (9, 12)
    assert m.decl_spans["w"].line == 4 and m.source.path == "knap.lag"


def test_pair_constraint_spans_point_at_subscripts():
    m = compile_text(KNAP, "knap.lag")
    spans = m.constraints["pair"].spans
    xi = X("x")[S("i")]
    assert (spans[xi].line, spans[xi].col, spans[xi].end_col) == (9, 57, 61)


def test_hoisted_sets_ranges_and_families():
    src = """param n = 4
set N = 1..n
set A = {(i, j) in N cross N : i != j}
var x[A] binary
var u[2..n] >= 2, <= n
var y[N cross N] >= 0
graph G
minimize f: sum(i in N) sum(j in i + 1..n) y[i, j]
subject to mtz[(i, j) in A : i >= 2 and j >= 2]: u[i] - u[j] + (n - 1) * x[i, j] <= n - 2
subject to dom[v in G.nodes]: sum(w in G.neighbors(v)) G.weight[w, v] * x[w, v] >= 1
subject to lit: sum(k in {1, 3}) y[k, k] >= 1
"""
    data = {"G": {"edges": [[1, 2], [2, 3]], "weights": [1.5, 2.5]}}
    m = compile_text(src, "h.lag", data=data)
    assert m.sets["A"].elements == [(i, j) for i in range(1, 5) for j in range(1, 5) if i != j]
    assert m.sets["A"].arity == 2
    assert "N cross N" in m.sets and m.sets["2..n"].elements == [2, 3, 4]
    assert m.sets["{1, 3}"].elements == [1, 3]
    assert m.vars["u"].index == ("2..n",) and m.vars["y"].index == ("N cross N",)
    np.testing.assert_array_equal(m.vars["u"].upper, [4, 4, 4])
    i, j = S("i"), S("j")
    inner = Agg("sum", [Over(sympy.Tuple(j), SetRange(i + 1, S("n")))], None, X("y")[i, j])
    assert m.objective.expr == Agg("sum", [over("i", sname("N"))], None, inner)
    fam = SetFamilyRef(S("G.neighbors"), sympy.Tuple(S("v")))
    dom = m.constraints["dom"]
    assert dom.body == Agg("sum", [Over(sympy.Tuple(S("w")), fam)], None,
                           X("G.weight")[S("w"), S("v")] * X("x")[S("w"), S("v")])
    assert dom.spans[fam].col == 40
    assert m.params["G.weight"].index == ("G.arcs",)
    assert m.constraints["lit"].body.bindings[0].set == sname("{1, 3}")


def test_params_inline_formula_default_and_data_override():
    src = """set I = 1..3
param w[1..3] = [2, 3, 4]
param sq[i in I] = i ^ 2
param c[I] default 7
param k[I] default 1
param M[I, I] = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
param n = 10
param m = 2 * n
"""
    m = compile_text(src, data={"k": {"2": 5}}, params={"n": 20})
    np.testing.assert_array_equal(m.params["w"].values, [2, 3, 4])
    assert m.params["w"].index == ("1..3",)
    np.testing.assert_array_equal(m.params["sq"].values, [1, 4, 9])
    np.testing.assert_array_equal(m.params["c"].values, [7, 7, 7])
    np.testing.assert_array_equal(m.params["k"].values, [1, 5, 1])
    assert m.params["M"].values.shape == (3, 3) and m.params["M"].values[1, 2] == 6
    assert float(m.params["n"].values) == 20 and float(m.params["m"].values) == 40


def test_var_bounds_start_and_domains():
    src = """set I = 1..3
param v0[i in I] = i / 2
var k[I] integer in 0..7
var z[I] >= 0, <= 10
var t
var y[I] in [-1, 1] start 0.5
var v[i in I] in [1, 5] start v0[i] + i
var lo[i in I] >= i
"""
    m = compile_text(src)
    k = m.vars["k"]
    assert k.domain == "integer" and list(k.lower) == [0] * 3 and list(k.upper) == [7] * 3
    assert list(m.vars["z"].upper) == [10] * 3
    t = m.vars["t"]
    assert t.is_scalar and t.lower[0] == -np.inf and t.upper[0] == np.inf and t.domain == "real"
    np.testing.assert_array_equal(m.vars["y"].start, [0.5] * 3)
    np.testing.assert_array_equal(m.vars["v"].start, [1.5, 3, 4.5])
    np.testing.assert_array_equal(m.vars["lo"].lower, [1, 2, 3])


def test_strings_sets_and_conditions():
    src = """set C = {"north", "south"}
param c[C] default 1
var y[C] >= 0
subject to s[k in C : k != "north" and k in C]: y[k] <= c[k]
minimize f: y["north"] + max(k in C) c[k]
"""
    m = compile_text(src)
    assert m.sets["C"].elements == ["north", "south"]
    s = m.constraints["s"]
    assert s.where == sympy.And(sympy.Ne(S("k"), Str("north")), Member(S("k"), sname("C")))
    assert X("y")[Str("north")] in m.objective.expr.args


def test_ranged_constraints_and_moved_sides():
    src = """var x >= 0
var y >= 0
subject to band: 1 <= x + y <= 3
subject to rev: 3 >= x >= 1
subject to both: x <= 2 * y
subject to flip: 4 >= x
"""
    m = compile_text(src)
    band, rev = m.constraints["band"], m.constraints["rev"]
    assert (band.lower, band.body, band.upper, band.sense) == (1, S("x") + S("y"), 3, "range")
    assert (rev.lower, rev.body, rev.upper) == (1, S("x"), 3)
    both = m.constraints["both"]
    assert both.body == S("x") - 2 * S("y") and both.upper == 0
    flip = m.constraints["flip"]
    assert (flip.body, flip.upper, flip.lower) == (S("x"), 4, None)


def test_vector_aggregates_and_functions():
    src = """set R = 1..2
set C = 1..2
param A[R, C] default 1
param b[R] default 0
var x[C]
var t
minimize f: norm2(i in R) (sum(j in C) A[i, j] * x[j] - b[i]) + exp(t) + sigmoid(t) + min(t, 1) + abs(t) + t mod 2 + pi + sqrt(t)
"""
    m = compile_text(src)
    e = m.objective.expr
    aggs = [a for a in e.args if isinstance(a, Agg)]
    assert aggs[0].kind == "norm2" and aggs[0].bindings == (over("i", sname("R")),)
    assert sympy.exp(S("t")) in e.args and sympy.Min(S("t"), 1) in e.args
    assert sympy.Mod(S("t"), 2) in e.args and sympy.pi in e.args


def test_fields_regions_derivatives_and_integrals():
    src = """domain D: x in [0, 1], t in [0, 2]
field u(x, t)
param alpha = 0.1
var kappa >= 0
subject to heat on D: d(u, t) - alpha * d(u, x, x) == 0
subject to ic on D where t == 0: u == sin(pi * x)
subject to walls on boundary(D): u == 0
subject to lap on interior(D): laplacian(u) == 0
subject to per on D: u(0, t) == u(1, t)
minimize energy: integral(D) (0.5 * d(u, x) ^ 2 - u) + kappa
"""
    m = compile_text(src)
    x, t = S("x"), S("t")
    u = sympy.Function("u")(x, t)
    assert m.domains["D"].coords == {"x": (0.0, 1.0), "t": (0.0, 2.0)}
    assert m.fields["u"].coords == ("x", "t") and m.fields["u"].domain == "D"
    heat = m.constraints["heat"]
    assert heat.region.domain == "D" and heat.region.kind == "all"
    assert heat.body == sympy.diff(u, t) - S("alpha") * sympy.diff(u, x, x)
    ic = m.constraints["ic"]
    assert ic.region.kind == "where" and ic.region.where == sympy.Eq(t, 0)
    assert ic.body == u and ic.upper == sympy.sin(sympy.pi * x)
    assert m.constraints["walls"].region.kind == "boundary"
    assert m.constraints["lap"].body == sympy.diff(u, x, x) + sympy.diff(u, t, t)
    assert m.constraints["lap"].region.kind == "interior"
    per = m.constraints["per"]
    assert per.region is not None
    assert per.body == sympy.Function("u")(0, t) - sympy.Function("u")(1, t)
    integral = [a for a in m.objective.expr.args if isinstance(a, sympy.Integral)][0]
    assert integral.limits == ((x, 0, 1), (t, 0, 2))
    assert integral.function == sympy.Float(0.5) * sympy.diff(u, x) ** 2 - u


def test_index_named_d_and_derivative_coexist():
    src = """set D2 = 1..2
domain Dom: x in [0, 1]
field u(x)
var y[D2]
subject to c[d in D2] on Dom: d(u, x) + y[d] == 0
"""
    m = compile_text(src)
    assert m.constraints["c"].body == sympy.diff(sympy.Function("u")(S("x")), S("x")) + X("y")[S("d")]


def test_graph_from_json_file(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps({"G": {"edges": [[0, 1], [1, 2]]}}))
    (tmp_path / "m.lag").write_text("graph G\nvar x[G.nodes] binary\n"
                                    "subject to e[(u, v) in G.edges]: x[u] + x[v] <= 1\n")
    m = compile_file(tmp_path / "m.lag", data=str(tmp_path / "g.json"))
    assert m.sets["G.edges"].elements == [(0, 1), (1, 2)]
    assert m.sets["G.arcs"].arity == 2 and m.vars["x"].index == ("G.nodes",)
    assert m.source.path == str(tmp_path / "m.lag")


def test_elaborate_takes_a_parsed_program():
    text = "param n = 3\nset I = 1..n\n"
    m = elaborate(parse_program(text, "p.lag"), Source("p.lag", text), params=["n=4"])
    assert m.sets["I"].elements == [1, 2, 3, 4]


# --- semantic errors -----------------------------------------------------------------------

H = "set I = 1..3\nparam c[I] = [1, 2, 3]\nvar x[I] >= 0\nvar y\n"


def error_of(text: str, **kw) -> LagError:
    with pytest.raises(LagError) as info:
        compile_text(H + text, "e.lag", **kw)
    return info.value


@pytest.mark.parametrize("text,where,message,hint", [
    ("subject to k: sum(i in I) x[i] < 3", (5, 32), "strict inequality '<' in a constraint",
     "constraints use <=, >= or =="),
    ("subject to k: xx + 1 <= 3", (5, 15), "undeclared name xx", "did you mean x?"),
    ("subject to k: z <= 3\nvar z", (5, 15), "z is used before it is declared", "it is declared at 6:5"),
    ("var c", (5, 5), "c is already declared (as a param at 2:7)", "rename"),
    ("subject to k[c in I]: x[c] <= 1", (5, 14), "index c shadows the param c declared at 2:7", "rename"),
    ("subject to k[i in I]: x[i, i] <= 1", (5, 23),
     "var x takes 1 subscript (its index set is I), got 2", None),
    ("subject to k[i in I : x[i] >= 1]: x[i] <= 1", (5, 23),
     "the unknown x cannot appear in a condition of constraint k", "only data"),
    ("subject to k[i in I]: x[y] <= 1", (5, 25),
     "the unknown y cannot appear in a subscript of constraint k", None),
    ("var z[i in I] >= y", (5, 18), "the unknown y cannot appear in a bound of var z", None),
    ('param s = 1 + "north"', (5, 15), 'the string "north" is used where a number is needed', None),
    ("subject to k: d(y, x) == 0", (5, 17), "d() differentiates fields; y is not a field expression",
     "field u(x, t)"),
    ("domain D: s in [0, 1]\nfield u(s)\nsubject to k: u == 0", (7, 15),
     "constraint k uses the field u but does not say where it holds", "on D"),
    ("domain D: s in [0, 1]\nfield u(s)\nsubject to k on D: d(u, z) == 0", (7, 25),
     "unknown coordinate z in d()", "u has coordinates s"),
    ("domain D: s in [0, 1]\nfield u(s, r)", (6, 12), "unknown coordinate r in field u", None),
    ("minimize a: y\nmaximize b: y", (6, 1), "a second objective b: the model already has minimize a at 5:10",
     "at most one objective"),
    ("subject to k: sum(i in I) <= 1", (5, 15), "sum needs a body after its bindings", None),
    ("subject to k: 1 <= y >= 2", (5, 22), "a ranged constraint is lo <= expr <= hi", None),
    ("subject to k: y <= y <= 3", (5, 15), "the unknown y cannot appear in a range bound of constraint k", None),
    ("subject to k: sum(i in I) sum(j in {m in I : m > i}) x[j] <= 1", (5, 36),
     "this set depends on the index i", "range lo..hi"),
    ("subject to k: sum(i in I cross I) x[i] <= 1", (5, 19),
     "the binding names 1 index but the elements of I cross I have 2 components", "(i1, i2)"),
    ("param p[i in I] = c[i + 5]", (5, 19), "subscript [6] of c is outside its index set I", None),
    ("subject to k: foo(y) <= 1", (5, 15), "unknown function foo", None),
    ("subject to k: y == I", (5, 20), "I is a set, not a number", None),
    ("model m", (5, 1), "'model m' must be the first statement", None),
])
def test_semantic_errors(text, where, message, hint):
    e = error_of(text)
    assert (e.span.line, e.span.col) == where
    assert e.message.startswith(message)
    if hint:
        assert hint in e.hint
    assert e.format().startswith("e.lag:%d:%d: " % where)


def test_data_errors_come_from_the_data_layer():
    e = error_of("param q[I]")
    assert isinstance(e, LagDataError) and "param q has no value" in e.message
    e = error_of("param q[I] = [1, 2]")
    assert isinstance(e, LagDataError) and (e.span.line, e.span.col) == (5, 14)
    e = error_of("set S", data={"S": [1, [2, 3]]})
    assert isinstance(e, LagDataError) and "set S" in e.message


def test_unknown_override_is_an_error():
    with pytest.raises(LagDataError) as info:
        compile_text("param n = 3", params={"nn": 4})
    assert "--set nn" in info.value.message and info.value.hint == "did you mean n?"


def test_semantic_errors_are_lag_semantic_errors():
    assert isinstance(error_of("subject to k: y < 1"), LagSemanticError)


@pytest.mark.parametrize("text, want", [
    ("sum(i in I) -v[i] * x[i]", "sum(i in I) (-v[i]*x[i])"),
    ("sum(i in I) -x[i] + 3", "3 + sum(i in I) (-x[i])"),
    ("y + 2 * sum(i in I) -v[i] * x[i]", "y + 2*sum(i in I) (-v[i]*x[i])"),
    ("-sum(i in I) -x[i]", "-sum(i in I) (-x[i])"),
    ("max(i in I) -x[i]", "max(i in I) (-x[i])"),
    ("max(y, 0) - sum(i in I) x[i]", "Max(0, y) - sum(i in I) (x[i])"),
    ("sum(i in I) x[i] - y", "-y + sum(i in I) (x[i])"),
])
def test_an_aggregate_body_may_start_with_a_minus(text, want):
    src = "set I = 1..3\nparam v[I] = [1, 2, 3]\nvar x[I] in [0, 1]\nvar y in [0, 5]\nminimize f: "
    m = compile_text(src + text, "neg.lag")
    assert str(m.objective.expr) == want


def test_not_in_filters_sets_and_aggregates_and_is_refused_as_a_constraint():
    src = ("set I = 1..5\nset S = {2, 4}\n"
           "set P = {(i, j) in I cross I : i < j and j not in S}\n"
           "param w[i in I] = i\nparam total = sum(i in I : i not in S) w[i]\n")
    m = compile_text(src, "notin.lag")
    assert m.sets["P"].elements == [(1, 3), (1, 5), (2, 3), (2, 5), (3, 5), (4, 5)]
    assert float(m.params["total"].values) == 1 + 3 + 5
    with pytest.raises(LagError) as e:
        compile_text("set I = 1..3\nvar x[I]\nsubject to c: x[1] not in I\n", "c.lag")
    assert "c.lag:3:20" in e.value.format() and "'not in' cannot be a constraint" in e.value.message
