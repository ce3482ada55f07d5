"""Size (issue 5, class 4): long chains compile and solve without a recursion limit; objects
beyond the size limit are refused, with their size and line, before they are allocated."""
import os

import numpy as np
import pytest

import lagdsl
from lagdsl import limits
from lagdsl.errors import LagError
from lagdsl.limits import SizeLimitError, limited

HEAD = "var x >= 0 <= 1\nvar y >= 0 <= 2\n"


@pytest.mark.parametrize("expr, objective", [
    (" + ".join(["x"] * 600), 10),                     # x + x + ...: 600x <= 10
    (" - ".join(["x"] * 600), 0),
    ("- " * 600 + "x", 1),
    ("- " * 601 + "x", 0),
    ("(" * 300 + "x" + ")" * 300, 1),
    (" + ".join(["x", "(y - y)"] * 300), 10),
])
def test_deep_chains_compile_and_solve(expr, objective):
    m = lagdsl.parse(HEAD + "maximize f: %s\nsubject to c: %s <= 10\n" % (expr, expr))
    r = m.solve()
    assert r.status == "optimal" and r.objective == pytest.approx(objective, abs=1e-7)
    assert str(m)                                     # the pretty printer copes too
    assert lagdsl.Model.from_json(m.to_json()).solve().objective == pytest.approx(objective, abs=1e-7)


def test_long_product_and_condition_chains():
    m = lagdsl.parse(HEAD + "minimize f: " + "*".join(["y"] * 600) + "\n")
    assert m.classify().reasons[0].endswith("degree 600")
    cond = " and ".join(["i > 1"] * 600)
    m = lagdsl.parse("set I = 1..5\nvar z[I] >= 0 <= 1\nmaximize f: sum(i in I : %s) z[i]\n" % cond)
    assert m.solve().objective == pytest.approx(4)


def test_explicit_sum_is_lowered_as_one_batch_with_the_same_answer():
    n = 3000
    terms = " + ".join("%d * x[%d]" % (i % 7 + 1, i) for i in range(1, n + 1))
    strings = " + ".join('w["%s"]' % c for c in "abcdefghijklmnopqrstu")
    text = ("set I = 1..%d\nset C = {%s}\nvar x[I] >= 0 <= 1\nvar w[C] >= 0 <= 2\n"
            "maximize f: %s + %s\nsubject to cap: %s <= 100\n"
            % (n, ", ".join('"%s"' % c for c in "abcdefghijklmnopqrstu"), terms, strings, terms))
    r = lagdsl.parse(text).solve()
    assert r.status == "optimal"
    # the same model written as an indexed sum: the batched and general paths agree
    coef = "((i - 1) mod 7 + 1)"
    indexed = lagdsl.parse(("set I = 1..%d\nset C = {%s}\nvar x[I] >= 0 <= 1\nvar w[C] >= 0 <= 2\n"
                            "maximize f: sum(i in I) %s * x[i] + sum(c in C) w[c]\n"
                            "subject to cap: sum(i in I) %s * x[i] <= 100\n")
                           % (n, ", ".join('"%s"' % c for c in "abcdefghijklmnopqrstu"), coef, coef)
                           ).solve()
    assert r.objective == pytest.approx(indexed.objective) == pytest.approx(142)


def test_subscript_outside_its_set_in_a_long_sum_keeps_its_position():
    terms = " + ".join("x[%d]" % i for i in range(1, 40)) + " + x[99]"
    m = lagdsl.parse("set I = 1..39\nvar x[I] >= 0 <= 1\nmaximize f: %s\n" % terms, path="m.lag")
    with pytest.raises(LagError, match=r"subscript \[99\] of x is outside its index set I") as err:
        m.solve()
    assert err.value.span.line == 3


def test_limit_from_memory_and_overrides(monkeypatch):
    monkeypatch.delenv(limits.ENV_VAR, raising=False)
    n = limits.default_max_elements()
    assert limits.MIN_DEFAULT <= n <= limits.MAX_DEFAULT
    assert limits.max_elements() == n
    monkeypatch.setenv(limits.ENV_VAR, "1234")
    assert limits.max_elements() == 1234
    with limited(77):
        assert limits.max_elements() == 77
    assert limits.max_elements() == 1234
    with pytest.raises(LagError, match="max_elements must be a positive integer"):
        with limited(0):
            pass


@pytest.mark.parametrize("text, size, line", [
    ("set I = 1..10^12\n", 10 ** 12, 1),
    ("set I = 1..2000\nset J = I cross I\n", 4 * 10 ** 6, 2),
    ("set I = 1..5000\nvar x[I, I] >= 0\n", 25 * 10 ** 6, 2),
    ("set I = 1..5000\nset P = {i in I, j in I : i < j}\n", 25 * 10 ** 6, 2),
])
def test_refused_before_allocation_with_size_and_line(text, size, line):
    with pytest.raises(SizeLimitError) as err:
        lagdsl.parse(text, path="m.lag", max_elements=10 ** 6)
    assert "would have %d" % size in err.value.message
    assert err.value.span.line == line


def test_load_takes_max_elements(tmp_path):
    path = tmp_path / "m.lag"
    path.write_text("set I = 1..1000\nvar x[I] >= 0\nminimize f: sum(i in I) x[i]\n")
    assert lagdsl.load(path, max_elements=1000).ir.num_unknowns == 1000
    with pytest.raises(SizeLimitError, match="the range 1..1000 would have 1000 elements, more than the limit of 999"):
        lagdsl.load(path, max_elements=999)
    ir = tmp_path / "m.json"
    ir.write_text(lagdsl.load(path).to_json())
    with pytest.raises(SizeLimitError, match="set I would have 1000 elements"):
        lagdsl.load(ir, max_elements=10)


@pytest.mark.slow
def test_explicit_sum_of_100000_terms_solves():
    n = 100_000
    terms = " + ".join("x[%d]" % i for i in range(1, n + 1))
    m = lagdsl.parse("set I = 1..%d\nvar x[I] >= 0 <= 1\nmaximize f: %s\nsubject to c: %s <= 10\n"
                     % (n, terms, terms))
    r = m.solve()
    assert r.status == "optimal" and r.objective == pytest.approx(10)
    assert np.isclose(r.values["x"].array.sum(), 10)


def test_power_tower_is_refused_before_sympy_builds_it():
    # 9^9^9 has 370 million digits; sympy would compute every one of them
    with pytest.raises(LagError, match=r"9\^9\^9 overflows float64: it has about 369693101 digits") as err:
        lagdsl.parse("var x >= 0\nminimize f: x + 9^9^9\n", path="m.lag")
    assert (err.value.span.line, err.value.span.col) == (2, 17)
    assert lagdsl.parse("var x >= 0\nminimize f: x + 2^10 + 4^(1/2)\n").ir.objective.expr.args[0] == 1026


def test_fuzz_findings_are_positioned_errors(tmp_path):
    # found by bench/fuzz.py: sympy raised ZeroDivisionError, a float graph path a TypeError
    with pytest.raises(LagError, match=r"mod 0 \(division by zero\)") as err:
        lagdsl.parse("set I = 1..3\nvar x[I] >= 0\nminimize f: sum(i in I) (i mod 0) * x[i]\n")
    assert (err.value.span.line, err.value.span.col) == (3, 26)
    with pytest.raises(LagError, match='graph G: "file" must be a path'):
        lagdsl.parse("graph G\nvar x[G.nodes] binary\nmaximize f: sum(v in G.nodes) x[v]\n",
                     data={"G": {"file": 1.5}}, base_dir=str(tmp_path))


def test_nesting_flattened_by_sympy_compiles_and_deep_bodies_are_refused():
    e = "(" * 600 + "x" + " + 1) * 0.5" * 600
    m = lagdsl.parse("var x >= 0 <= 1\nmaximize f: %s\nsubject to c: %s <= 1.5\n" % (e, e))
    assert m.solve().objective == pytest.approx(1)
    deep = "(" * 150 + "x" + " * y + 1)" * 150
    with pytest.raises(LagError, match="f is nested 301 levels deep, more than the 200 lagdsl can lower"):
        lagdsl.parse(HEAD + "minimize f: %s\n" % deep)
    ok = "(" * 99 + "x" + " * y + 1)" * 99
    m = lagdsl.parse(HEAD + "minimize f: %s\n" % ok)
    assert str(m) and lagdsl.Model.from_json(m.to_json()).ir.objective.expr == m.ir.objective.expr


def test_index_over_strings_used_as_a_number_is_a_positioned_error():
    # found by bench/fuzz.py: numpy raised TypeError / ValueError on the string column
    with pytest.raises(LagError, match=r"the index p takes string values \(elements of P\)") as err:
        lagdsl.parse('set P = {"a", "b"}\nvar x[P] >= 0\nminimize f: sum(p in P) p * x[p]\n')
    assert (err.value.span.line, err.value.span.col) == (3, 25)
    m = lagdsl.parse('set P = {"a", "b"}\nvar x[P] >= 0\nminimize f: sum(p in P : p != "a") x[p]\n'
                     'subject to c[p in P]: x[p] >= 1\n')
    assert m.solve().objective == pytest.approx(1)
