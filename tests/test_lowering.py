"""The vectorised lowering core: sets, row tables, data evaluation, polynomial batches."""
import numpy as np
import pytest
import sympy

from lagdsl.errors import LagDataError
from lagdsl.ir.builder import ModelBuilder
from lagdsl.ir.sym import Member, SetFamilyRef, SetName, SetRange, Str, agg
from lagdsl.ir.values import SetValue, flat_positions, labels
from lagdsl.lower.evaluate import Evaluator, reduce_data
from lagdsl.lower.instance import lower_instance, max_violation, unflatten
from lagdsl.lower.numeric import objective_value, point_violation
from lagdsl.lower.poly import NotPolynomial, PolyAlgebra
from lagdsl.lower.rows import Rows

i, j, k = sympy.symbols("i j k")


def test_set_positions_range_and_general():
    r = SetValue.from_range(3, 7)
    assert r.positions([np.array([3, 7, 8, 2])]).tolist() == [0, 4, -1, -1]
    s = SetValue.from_elements(["b", "a", "b"])
    assert s.elements == ["b", "a"]
    assert s.positions([np.array(["a", "z"], dtype=object)]).tolist() == [1, -1]
    t = SetValue.from_elements([(1, "x"), (2, "y")])
    assert t.arity == 2
    assert t.positions([np.array([2, 1]), np.array(["y", "y"], dtype=object)]).tolist() == [1, -1]
    # integral floats are the same elements as ints
    assert SetValue.from_elements([1.0, 2.0]).range_lo == 1


def test_flat_positions_row_major_and_labels():
    I, J = SetValue.from_range(1, 2), SetValue.from_elements(["a", "b", "c"])
    pos = flat_positions([I, J], [np.array([1, 2, 2]), np.array(["a", "c", "q"], dtype=object)])
    assert pos.tolist() == [0, 5, -1]
    assert labels([I, J])[:4] == ["1,a", "1,b", "1,c", "2,a"]


def _chain_model():
    b = ModelBuilder()
    I = b.set("I", range(1, 5))
    b.param("w", [I], [1.0, 2.0, 3.0, 4.0])
    b.set("E", [(1, 2), (2, 3), (3, 4)])
    b.set_family("nb", I, {1: [2], 2: [1, 3], 3: [2, 4], 4: [3]})
    b.var("x", [I], lower=0, upper=1)
    return b.build()


def test_data_aggregates_conditions_and_families():
    m = _chain_model()
    ev = Evaluator(m)
    w = sympy.IndexedBase("w")
    rows, _ = ev.bind(Rows.unit(), agg("sum", [(i, "I")], 0).bindings, None)
    # sum over a dependent range 1..i of w[k]
    s = agg("sum", [(k, SetRange(1, i))], w[k])
    assert ev.data(s, rows).tolist() == [1, 3, 6, 10]
    # condition and membership in a tuple set
    cond = Member(sympy.Tuple(i, i + 1), SetName(sympy.Symbol("E")))
    assert ev.data(cond, rows).tolist() == [True, True, True, False]
    # neighbours through a set family
    deg = agg("sum", [(j, SetFamilyRef(sympy.Symbol("nb"), sympy.Tuple(i)))], 1)
    assert ev.data(deg, rows).tolist() == [1, 2, 2, 1]
    mx = agg("max", [(j, SetFamilyRef(sympy.Symbol("nb"), sympy.Tuple(i)))], w[j])
    assert ev.data(mx, rows).tolist() == [2, 3, 4, 3]
    odd = agg("sum", [(k, "I")], w[k], cond=sympy.Eq(sympy.Mod(k, 2), 1))
    assert ev.data(odd, Rows.unit()).tolist() == [4.0]


def test_subscript_outside_set_is_positioned():
    m = _chain_model()
    x = sympy.IndexedBase("x")
    b = ModelBuilder()
    b.model = m
    c = b.subject_to("next", x[i + 1] <= 1, over=[(i, "I")])
    from lagdsl.ir.model import Span
    c.span = Span("m.lag", 7, 3)
    with pytest.raises(LagDataError) as e:
        lower_instance(m)
    assert "subscript [5] of x is outside its index set I" in e.value.message
    assert "i=4" in e.value.message
    assert str(e.value.span) == "m.lag:7:3"


def test_poly_products_and_sums():
    b = ModelBuilder()
    K = b.set("K", ["a", "b", "c"])
    y = b.var("y", [K])
    m = b.build()
    e = agg("sum", [(i, "K"), (j, "K")], y[i] * y[j], cond=sympy.Ne(i, j)) + 2 * y[Str("a")] - 1
    pb = Evaluator(m).value(e, Rows.unit(), PolyAlgebra(m))
    assert pb.degree == 2
    Q = pb.row_matrix(0, 3).toarray()
    assert np.allclose(Q, [[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    x = np.array([1.0, 2.0, 3.0])
    assert pb.evaluate(x)[0] == pytest.approx(2 * (2 + 3 + 6) + 2 - 1)
    with pytest.raises(NotPolynomial):
        Evaluator(m).value(y[Str("a")] * y[Str("b")] * y[Str("c")], Rows.unit(), PolyAlgebra(m))
    with pytest.raises(NotPolynomial):
        Evaluator(m).value(sympy.exp(y[Str("a")]), Rows.unit(), PolyAlgebra(m))


def test_instance_blocks_keys_values_and_violation():
    b = ModelBuilder()
    I = b.set("I", ["a", "b", "c"])
    x = b.var("x", [I], "binary")
    t = b.var("t", lower=0, upper=3)
    w = b.param("w", [I], {"a": 1, "b": 2, "c": 3})
    b.maximize("v", b.sum([(i, I)], w[i] * x[i]) + t)
    b.subject_to("cap", b.sum([(i, I)], w[i] * x[i]) + t <= 4)
    b.subject_to("pair", x[i] + x[j] <= 1, over=[(i, I), (j, I)], where=sympy.Lt(i, j))
    b.subject_to("band", lower=1, body=b.sum([(i, I)], x[i]), upper=2)
    m = b.build()
    inst = lower_instance(m)
    assert [bl.name for bl in inst.blocks] == ["cap", "pair", "band"]
    pair = inst.blocks[1]
    assert pair.keys() == ["a,b", "a,c", "b,c"]
    assert pair.body.lin.toarray().tolist() == [[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0]]
    assert inst.blocks[2].lower.tolist() == [1] and inst.blocks[2].upper.tolist() == [2]
    pt = np.array([1, 0, 1, 0.5])
    assert unflatten(m, pt) == {"x": {"a": 1.0, "b": 0.0, "c": 1.0}, "t": 0.5}
    rounded = unflatten(m, np.array([1 - 1e-9, -1e-9, 1e-9, 0.5]))["x"]
    assert rounded.values() == [1.0, 0.0, 0.0] and str(rounded.values()) == "[1.0, 0.0, 0.0]"
    assert max_violation(inst, pt) == pytest.approx(1.0)     # pair a,c and cap both off by 1/0.5
    assert point_violation(m, pt) == pytest.approx(1.0)
    assert objective_value(m, pt) == pytest.approx(4.5)
    assert inst.vtype.tolist() == ["B", "B", "B", "C"]


def test_reduce_data_kinds_and_empty_segments():
    v = np.array([1.0, -2.0, 3.0])
    p = np.array([0, 0, 2])
    assert reduce_data("sum", v, p, 3).tolist() == [-1, 0, 3]
    assert reduce_data("prod", v, p, 3).tolist() == [-2, 1, 3]
    assert reduce_data("max", v, p, 3).tolist() == [1, -np.inf, 3]
    assert reduce_data("norm1", v, p, 3).tolist() == [3, 0, 3]
    assert reduce_data("norminf", v, p, 3).tolist() == [2, 0, 3]
    assert reduce_data("logsumexp", v, p, 3)[0] == pytest.approx(np.log(np.e + np.exp(-2)))


def test_large_transport_lowers_to_sparse_blocks():
    """The vectorised path: 490,000 unknowns lower to sparse blocks (timings live in bench/)."""
    n = 700
    b = ModelBuilder()
    I, J = b.set("I", range(1, n + 1)), b.set("J", range(1, n + 1))
    c = b.param("c", [I, J], np.random.default_rng(0).random((n, n)))
    x = b.var("x", [I, J], lower=0)
    b.minimize("cost", b.sum([(i, I), (j, J)], c[i, j] * x[i, j]))
    b.subject_to("supply", b.sum([(j, J)], x[i, j]) <= 10, over=[(i, I)])
    b.subject_to("demand", b.sum([(i, I)], x[i, j]) >= 1, over=[(j, J)])
    inst = lower_instance(b.build())
    assert inst.objective.lin.nnz == n * n
    assert [bl.body.lin.nnz for bl in inst.blocks] == [n * n, n * n]


def test_subscripted_scalar_variable_is_a_positioned_error_not_a_crash():
    b = ModelBuilder()
    b.set("I", range(1, 3))
    b.var("t")
    b.minimize("f", sympy.IndexedBase("t")[1])
    with pytest.raises(LagDataError, match="variable t takes 0 subscripts, got 1"):
        lower_instance(b.build())


def test_builder_set_handles_become_plain_set_terms():
    """A set handle from the builder used in a condition is stored as a plain SetName, so it
    evaluates and survives the IR's JSON round trip."""
    from lagdsl.ir.serialize import from_json, to_json
    b = ModelBuilder()
    I, S = b.set("I", range(1, 5)), b.set("S", [2, 3])
    x = b.var("x", [I], "binary")
    b.maximize("f", b.sum([(i, I)], x[i], where=sympy.Not(Member(i, S))))
    m = b.build()
    member = m.objective.expr.cond.args[0]
    assert type(member.args[1]) is SetName and type(member.args[1].args[0]) is sympy.Symbol
    assert point_violation(m, np.zeros(4)) == 0.0
    assert objective_value(m, np.ones(4)) == 2.0          # only x[1] and x[4] count
    assert from_json(to_json(m)).objective.expr == m.objective.expr


def test_fields_count_as_unknowns_when_a_constraint_is_normalised():
    """``u(0, t) == u(1, t)`` from the builder keeps both sides in the body, as the front
    end does: neither bound may hold a field."""
    b = ModelBuilder()
    b.domain("D", x=(0, 1), t=(0, 1))
    u = b.field("u", ["x", "t"], "D")
    t = sympy.Symbol("t")
    c = b.subject_to("per", sympy.Eq(u(0, t), u(1, t)))
    assert c.body == u(0, t) - u(1, t) and c.lower == 0 and c.upper == 0


def test_range_positions_of_non_finite_or_huge_floats_are_not_found_without_warnings():
    # found by bench/fuzz.py: np.mod(inf, 1) warned, and floats beyond int64 would wrap
    import warnings
    import numpy as np
    from lagdsl.ir.values import SetValue
    s = SetValue.from_range(1, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pos = s.positions([np.array([1.0, np.inf, np.nan, 3.0, 1e300, -2.0, 2.0 ** 64 + 1])])
    assert pos.tolist() == [0, -1, -1, 2, -1, -1, -1]
