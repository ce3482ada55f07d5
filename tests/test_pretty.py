"""The model printed back: .lag-like text and LaTeX."""
import numpy as np
import pytest
import sympy as sp

from lagdsl.ir.builder import ModelBuilder
from lagdsl.ir.model import Region
from lagdsl.pretty import expr_text, to_latex, to_text


def model():
    b = ModelBuilder("demo")
    I = b.set("I", range(1, 101))
    C = b.set("C", ["north", "south"])
    w = b.param("w", [I], np.arange(1, 101))
    b.param("n", (), 10)
    x = b.var("x", [I], "binary")
    y = b.var("y", [C], lower=0, upper=10, start=0.5)
    b.var("k", [I], "integer", lower=0, upper=7)
    t = b.var("t")
    i, c = sp.symbols("i c")
    b.maximize("value", b.sum([(i, I)], w[i] * x[i]) - t ** 2)
    b.subject_to("cap", b.sum([(i, I)], w[i] * x[i]) <= 50)
    b.subject_to("link", x[i] + y[c] >= 1, over=[(c, C), (i, I)], where=sp.Ne(i, 2))
    b.subject_to("band", lower=1, body=b.sum([(i, I)], x[i]), upper=3)
    b.domain("D", x=(0, 1), t=(0, 1))
    u = b.field("u", ["x", "t"], "D")
    X, T = sp.symbols("x t")
    b.subject_to("ic", sp.Eq(u(X, T), sp.sin(sp.pi * X)), region=Region("D", "where", sp.Eq(T, 0)))
    b.subject_to("walls", sp.Eq(u(X, T), 0), region=Region("D", "boundary"))
    return b.build()


def test_text_has_sets_params_vars_objective_constraints():
    text = to_text(model())
    lines = text.splitlines()
    assert lines[0] == "model demo"
    assert "set I = 1..100    # 100 elements" in lines
    assert 'set C = {"north", "south"}    # 2 elements' in lines
    assert "param n = 10" in lines
    assert any(l.startswith("param w[I]") and "1, 2, 3, 4, 5, ..." in l and "max 100" in l for l in lines)
    assert "var x[I] binary    # 100 unknowns" in lines
    assert "var y[C] >= 0, <= 10 start 0.5    # 2 unknowns" in lines
    assert "var k[I] integer in 0..7    # 100 unknowns" in lines
    assert "var t" in lines
    assert "domain D: x in [0, 1], t in [0, 1]" in lines
    assert "maximize value: -t^2 + sum(i in I) (w[i]*x[i])" in lines
    assert "subject to cap: sum(i in I) (w[i]*x[i]) <= 50" in lines
    assert "subject to link[c in C, i in I : i != 2]: x[i] + y[c] >= 1" in lines
    assert "subject to band: 1 <= sum(i in I) (x[i]) <= 3" in lines
    assert any(l.startswith("subject to ic on D where t == 0:") for l in lines)
    assert any(l.startswith("subject to walls on boundary(D):") for l in lines)


def test_long_sets_are_abbreviated():
    b = ModelBuilder()
    b.set("S", ["s%d" % k for k in range(50)])
    text = to_text(b.build())
    assert 'set S = {"s0", "s1", "s2", "s3", "s4", ...}    # 50 elements' in text


@pytest.mark.parametrize("expr, want", [
    (sp.Symbol("a") ** 2, "a^2"),
    (sp.Mod(sp.Symbol("i"), 3), "i mod 3"),
    (sp.sqrt(sp.Symbol("a")), "sqrt(a)"),
    (sp.And(sp.Lt(sp.Symbol("i"), 3), sp.Ne(sp.Symbol("i"), sp.Symbol("j"))), "i < 3 and i != j"),
    (sp.Or(sp.Eq(sp.Symbol("x"), 0), sp.Eq(sp.Symbol("x"), 1)), "x == 0 or x == 1"),
    (sp.Abs(sp.Symbol("z")), "abs(z)"),
])
def test_expression_syntax_is_lag(expr, want):
    assert expr_text(expr) == want


def test_latex_align_with_forall_and_relations():
    tex = to_latex(model())
    assert tex.startswith("\\begin{align*}") and tex.endswith("\\end{align*}")
    assert r"\text{maximize} \quad &" in tex
    assert r"\sum_{i \in I}" in tex
    assert r"\text{subject to} \quad &" in tex
    assert r"\leq 50" in tex
    assert r"\quad \forall c \in C, i \in I : i \neq 2" in tex
    assert r"1 \leq \sum_{i \in I}" in tex and r"\leq 3" in tex
    assert r"\text{on } D,\ t = 0" in tex
    assert r"\text{on } \partial D" in tex
    assert tex.count(r" \\") == 5          # objective + 5 constraints -> 5 line breaks
    assert r"\text{cap}" in tex


def test_latex_feasibility_model_says_find():
    b = ModelBuilder("feas")
    I = b.set("I", range(1, 3))
    x = b.var("x", [I], lower=0)
    i = b.index("i")
    b.subject_to("one", sp.Eq(b.sum([(i, I)], x[i]), 1))
    tex = to_latex(b.build())
    assert r"\text{find} \quad & x" in tex
    assert r"= 1" in tex
