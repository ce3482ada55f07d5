"""IR <-> JSON: lossless round trip, strict JSON, and a reader that refuses what it must."""
import json

import numpy as np
import pytest
import sympy as sp

from lagdsl.errors import LagError
from lagdsl.ir.builder import ModelBuilder
from lagdsl.ir.model import Region, Source, Span
from lagdsl.ir.sym import SetFamilyRef
from lagdsl.ir.serialize import (FORMAT, VERSION, IRFormatError, expr_from_json, expr_to_json,
                                 from_dict, from_json, to_dict, to_json)
from shared_models import KNAPSACK_PAIRS_LAG, knapsack_builder


def rich_model():
    """A model touching every table: tuple/string/range sets, a family, inf data, starts,
    ranged and conditional families, fields with regions, spans and source text."""
    b = ModelBuilder("rich")
    I = b.set("I", range(1, 5))
    C = b.set("C", ["a", "b"])
    P = b.set("P", [(1, "a"), (2, "b"), (3, "a")])
    b.set("E", [])
    b.set_family("nb", I, {1: [2, 3], 2: [1], 3: [], 4: [1, 2, 3]})
    w = b.param("w", [I], [2, 3, 4.5, 5])
    A = b.param("A", [C, I], [[1, 2, 3, 4], [4, 5, np.inf, -np.inf]])
    b.param("n", (), 7)
    x = b.var("x", [I], "binary")
    y = b.var("y", [C], lower=0, upper=[1, 2], start=0.5)
    z = b.var("z", [P], "integer", lower=0, upper=7, start=[1, 2, 3])
    t = b.var("t")
    i, j, c = sp.symbols("i j c")
    b.maximize("value", b.sum([(i, I)], w[i] * x[i]) - t ** 2 + sp.Rational(1, 3) * sp.sqrt(t))
    b.subject_to("cap", b.sum([(i, I)], w[i] * x[i]) <= 5)
    b.subject_to("fam", x[i] + y[c] >= A[c, i], over=[(c, C), (i, I)],
                 where=sp.Ne(i, 2) & sp.Lt(sp.Mod(i, 3), 2))
    b.subject_to("band", lower=1, body=b.sum([((i, c), P)], z[i, c]), upper=sp.Symbol("n"))
    b.subject_to("nbr", b.sum([(j, SetFamilyRef(sp.Symbol("nb"), sp.Tuple(i)))], x[j], where=None) <= 1,
                 over=[(i, I)])
    b.domain("D", x=(0, 1), t=(0, 2))
    u = b.field("u", ["x", "t"], "D")
    X, T = sp.symbols("x t")
    b.subject_to("heat", sp.Eq(sp.Derivative(u(X, T), T) - sp.Float(0.1) * sp.Derivative(u(X, T), X, X), 0),
                 region=Region("D"))
    b.subject_to("ic", sp.Eq(u(X, T), sp.sin(sp.pi * X)), region=Region("D", "where", sp.Eq(T, 0)))
    m = b.build()
    m.source = Source("rich.lag", "model rich\nset I = 1..4\nsubject to cap: sum(i in I) w[i]*x[i] <= 5\n")
    m.constraints["cap"].span = Span("rich.lag", 3, 1, 3, 44)
    m.constraints["cap"].spans = {w[i]: Span("rich.lag", 3, 29)}
    m.objective.spans = {t: Span("rich.lag", 5, 20)}
    m.decl_spans["I"] = Span("rich.lag", 2, 5)
    m.vars["x"].span = Span("rich.lag", 4, 1)
    return m


def exprs(m):
    out = {"objective": sp.srepr(m.objective.expr)}
    for k, c in m.constraints.items():
        out[k] = [sp.srepr(e) for e in (c.body, c.lower, c.upper, c.where)] + \
                 [sp.srepr(o) for o in c.binding] + \
                 [None if c.region is None else (c.region.domain, c.region.kind, sp.srepr(c.region.where))]
    return out


def test_round_trip_is_lossless():
    m = rich_model()
    text = to_json(m, indent=1)
    m2 = from_json(text)
    assert exprs(m) == exprs(m2)
    for k in m.constraints:
        assert m.constraints[k].body == m2.constraints[k].body
        assert m.constraints[k].binding == m2.constraints[k].binding
        assert m.constraints[k].spans == m2.constraints[k].spans
        assert m.constraints[k].span == m2.constraints[k].span
    for k, s in m.sets.items():
        assert m2.sets[k].elements == s.elements and m2.sets[k].arity == s.arity
        assert m2.sets[k].range_lo == s.range_lo
    assert m2.set_families["nb"].over is m2.sets["I"]
    assert [f.elements for f in m2.set_families["nb"].members] == [[2, 3], [1], [], [1, 2, 3]]
    for k, p in m.params.items():
        assert m2.params[k].index == p.index
        np.testing.assert_array_equal(m2.params[k].values, p.values)
        assert m2.params[k].values.shape == p.values.shape
    for k, v in m.vars.items():
        v2 = m2.vars[k]
        assert (v2.index, v2.domain, v2.span) == (v.index, v.domain, v.span)
        np.testing.assert_array_equal(v2.lower, v.lower)
        np.testing.assert_array_equal(v2.upper, v.upper)
        assert (v.start is None) == (v2.start is None)
        if v.start is not None:
            np.testing.assert_array_equal(v2.start, v.start)
    assert m2.domains["D"].coords == {"x": (0.0, 1.0), "t": (0.0, 2.0)}
    assert m2.fields["u"].coords == ("x", "t") and m2.fields["u"].domain == "D"
    assert (m2.source.path, m2.source.text) == (m.source.path, m.source.text)
    assert m2.decl_spans == m.decl_spans
    assert m2.objective.sense == "maximize" and m2.objective.name == "value"
    assert m2.objective.spans == m.objective.spans == {sp.Symbol("t"): Span("rich.lag", 5, 20)}
    # writing the copy again gives the same document
    assert to_json(m2, indent=1) == text
    assert to_json(m2) == to_json(m)


def test_document_is_strict_json_with_header_and_compact_data():
    m = rich_model()
    d = json.loads(to_json(m), parse_constant=lambda c: pytest.fail("non-strict JSON constant %s" % c))
    assert d["format"] == FORMAT == "lagdsl-ir" and d["version"] == VERSION == 2
    assert d["sets"]["I"] == {"range": [1, 4]}
    assert d["sets"]["P"]["elements"] == [[1, "a"], [2, "b"], [3, "a"]]
    assert d["params"]["A"]["values"][1][2:] == ["inf", "-inf"]
    assert d["vars"]["x"]["lower"] == 0 and d["vars"]["x"]["upper"] == 1   # uniform -> one number
    assert d["vars"]["y"]["upper"] == [1, 2]
    assert d["vars"]["t"]["lower"] == "-inf"
    cap = d["constraints"]["cap"]
    assert cap["body"]["str"] == "sum(i in I) (w[i]*x[i])"
    assert cap["body"]["nodes"][-1][0] == "Agg"
    assert d["source"]["path"] == "rich.lag"


def test_rejects_other_formats_and_versions():
    d = to_dict(rich_model())
    with pytest.raises(IRFormatError, match="not a lagdsl IR document"):
        from_dict(dict(d, format="something-else"))
    with pytest.raises(IRFormatError, match="version 3 is not supported"):
        from_dict(dict(d, version=3))
    with pytest.raises(IRFormatError, match="version 1 is no longer read"):
        from_dict(dict(d, version=1))
    with pytest.raises(IRFormatError, match="not JSON"):
        from_json("{not json")
    with pytest.raises(LagError):  # IRFormatError is a user error
        from_json("[1, 2]")
    bad = json.loads(json.dumps(d))
    del bad["vars"]["x"]["domain"]
    with pytest.raises(IRFormatError, match="^IR error: var x domain: null is not one of real, integer, binary$"):
        from_dict(bad)


@pytest.mark.parametrize("nodes, message", [
    ([["Symbol", "x"]], "'Symbol' is not allowed"),
    ([["sym", "__import__('os')"]], "is not a name"),
    ([["sym", "x"], ["Add", 0, "y"]], "not a reference to an earlier node"),
    ([["sym", "x"], ["Add", 0, 1]], "not a reference to an earlier node"),
    ([["sym", "x"], ["eval", 0]], "'eval' is not allowed"),
    ([["int", "1" * 5000]], "5000 digits is too long"),
    ([["int", 10], ["int", 10 ** 10], ["Pow", 0, 1]], "too large to build exactly"),
    ([["sym", "x"], ["Tuple", 0], ["Add", 0, 1]], "argument 2 of Add must be an expression, got Tuple"),
    ([["sym", "s"], ["sym", "i"], ["Tuple", 1], ["sym", "I"], ["SetName", 3], ["Over", 2, 4],
      ["Tuple", 5], ["const", "true"], ["Agg", 0, 6, 7, 1]], "\"s\" is not an aggregate"),
    ([["const", "__class__"]], "unknown constant"),
    ([["float", "1", 10 ** 9, 53]], "float exponent"),
    ([], "non-empty list"),
])
def test_reader_refuses_what_is_not_whitelisted(nodes, message):
    with pytest.raises(IRFormatError, match=message):
        expr_from_json({"nodes": nodes}, "e")


def test_reader_rebuilds_the_vocabulary():
    for e in [sp.Symbol("x") ** 2 - sp.oo, -sp.oo + sp.Symbol("y"), sp.Mod(sp.Symbol("i"), 3),
              sp.Max(sp.Symbol("a"), sp.Symbol("b")), sp.Float("0.1") * sp.E * sp.pi,
              sp.Float("1e-300") + sp.Rational(2 ** 80, 3),
              sp.Function("u")(sp.Symbol("x")).diff(sp.Symbol("x"), 2),
              sp.Integral(sp.Function("u")(sp.Symbol("x")), (sp.Symbol("x"), 0, 1)),
              sp.Piecewise((sp.Symbol("x"), sp.Symbol("x") > 0), (0, True))]:
        assert expr_from_json(expr_to_json(e), "e") == e


def test_symbols_are_read_without_assumptions():
    # assumptions change what sympy simplifies; a file never sets them
    e = expr_from_json(expr_to_json(sp.Symbol("k", positive=True) + 1), "e")
    assert e == sp.Symbol("k") + 1 and e.free_symbols.pop().is_positive is None


def test_builder_model_solves_the_same_after_round_trip():
    from lagdsl import api
    b, _x = knapsack_builder()
    m = api.Model.from_ir(b.build())
    m2 = api.Model.from_json(m.to_json())
    r1, r2 = m.solve("cvxpy"), m2.solve("cvxpy")
    assert r1.status == r2.status == "optimal"
    assert r1.objective == pytest.approx(r2.objective) == pytest.approx(15)
    assert r1.values == r2.values


def test_lag_model_round_trip_equal_bodies_and_solve():
    import lagdsl.frontend as fe
    m = fe.compile_text(KNAPSACK_PAIRS_LAG, path="knap.lag")
    m2 = from_json(to_json(m))
    assert exprs(m) == exprs(m2)
    assert m2.source.path == "knap.lag"
    for k in m.constraints:
        assert m.constraints[k].span == m2.constraints[k].span
        assert m.constraints[k].spans == m2.constraints[k].spans
    assert m.objective.spans == m2.objective.spans
    from lagdsl.api import Model
    r1, r2 = Model(m).solve(), Model(m2).solve()
    assert r1.status == r2.status == "optimal"
    assert r1.objective == pytest.approx(r2.objective)
    assert r1.values == r2.values
