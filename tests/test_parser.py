"""Parser: every fragment of the language reference parses to the expected AST shape, and
syntax errors are positioned with a hint."""
from __future__ import annotations

import pytest

from lagdsl.errors import LagSyntaxError
from lagdsl.frontend import ast
from lagdsl.frontend.parser import lark_parser, parse_program

# One fragment per line of the reference's declaration, expression and field examples.
FRAGMENTS = [
    "model mdkp",
    "param n = 10",
    "set I = 1..n",
    'set C = {"a", "b", "c"}',
    "set P = {(i, j) in I cross I : i < j}",
    "set S",
    "param w[1..3] = [2, 3, 4]",
    "param A[I, J]",
    "param sq[i in I] = i ^ 2",
    "param c[I] default 0",
    "var x[I] binary",
    "var k[I] integer in 0..7",
    "var z[I] >= 0, <= 10",
    "var t",
    "var y[I] in [-1, 1] start 0.5",
    "var v[i in I] in [1, 5] start v0[i]",
    "graph G",
    "minimize cost: sum(i in I) c[i] * x[i]",
    "maximize value: x",
    "subject to cap[d in D]: sum(i in I) w[d, i] * x[i] <= c[d]",
    "subject to link[(u, v) in G.edges]: x[u] + x[v] <= 1",
    "subject to pair[i in I, j in I : i != j]: x[i] + x[j] >= 1",
    "subject to band: 1 <= sum(i in I) x[i] <= 3",
    "var q[I cross J]",
    "var p[G.nodes]",
    "subject to s[p in P]: x[j, nxt[p]] + x[i + 1] + y[(p mod n) + 1] <= 1",
    "minimize f: abs(a) + exp(a) + log(a) + sqrt(a) + sin(a) + cos(a) + tan(a) + tanh(a) + sigmoid(a) + min(a, b) + max(a, b)",
    "minimize f: sum(i in I, j in J : i != j) a[i, j] + prod(i in I) a[i] + max(i in I) a[i] + min(i in I) a[i]",
    "minimize f: norm2(i in R) (sum(j in C) A[i, j] * x[j] - b[i])",
    "minimize f: norm1(i in R) x[i] + norminf(i in R) x[i] + sumsq(i in R) x[i] + logsumexp(i in R) x[i]",
    "subject to c[i in I : i < 3 and not i in S or i >= 5]: x[i] == 1",
    "domain D: x in [0, 1], t in [0, 1]",
    "field u(x, t)",
    "subject to heat on D: d(u, t) - alpha * d(u, x, x) == 0",
    "subject to ic on D where t == 0: u == sin(pi * x)",
    "subject to walls on D where x == 0 or x == 1: u == 0",
    "subject to edge on boundary(D): u == 0",
    "subject to inside on interior(D): laplacian(u) == 0",
    "subject to per on D: u(0, t) == u(1, t)",
    "subject to obs[k in K]: u(xo[k], tobs[k]) == uo[k]",
    "minimize energy: integral(D) (0.5 * d(u, x) ^ 2 - u)",
    "set U = A union B diff C inter D",
    "param big = inf",
    "subject to neigh[v in G.nodes]: sum(u in G.neighbors(v)) G.weight[u, v] * x[u] >= G.demand[v]",
]


@pytest.mark.parametrize("text", FRAGMENTS)
def test_reference_fragments_parse(text):
    program = parse_program(text, "frag.lag")
    assert len(program.statements) == 1
    assert program.statements[0].span.line == 1


def only_expr(text: str):
    """The expression of ``minimize f: TEXT``."""
    return parse_program("minimize f: " + text).statements[0].expr


def test_aggregate_body_is_the_product_that_follows():
    e = only_expr("sum(i in I) a[i] * x[i] + 5")
    assert isinstance(e, ast.BinOp) and e.op == "+"
    assert isinstance(e.left, ast.Aggregate) and e.left.body.op == "*"
    assert e.right == ast.Number(e.right.span, 5)


def test_parenthesised_body_sums_a_sum():
    e = only_expr("sum(i in I) (a[i] + x[i])")
    assert isinstance(e, ast.Aggregate) and e.body.op == "+"


def test_nested_aggregates_and_scaled_aggregate():
    e = only_expr("2 * sum(i in I) sum(j in J) a[i, j] * x[j] - 1")
    assert e.op == "-" and e.left.op == "*"
    outer = e.left.right
    assert isinstance(outer, ast.Aggregate) and isinstance(outer.body, ast.Aggregate)
    assert outer.body.body.op == "*"


def test_negated_aggregate():
    e = only_expr("-sum(i in I) x[i] + 1")
    assert e.op == "+" and isinstance(e.left, ast.Neg) and isinstance(e.left.operand, ast.Aggregate)


def test_call_then_minus_is_subtraction_not_an_aggregate():
    e = only_expr("exp(x) - 1")
    assert e.op == "-" and isinstance(e.left, ast.Call)


def test_power_is_right_associative_and_binds_tighter_than_unary_minus():
    e = only_expr("-a ^ b ^ c")
    assert isinstance(e, ast.Neg)
    p = e.operand
    assert p.op == "^" and p.left.name == "a" and p.right.op == "^"


def test_precedence_of_set_operators():
    e = parse_program("set S = 1..n + 1 cross J union K").statements[0].value
    assert e.op == "union" and e.left.op == "cross"
    assert e.left.left.op == ".." and e.left.left.right.op == "+"


def test_number_does_not_swallow_the_dot_of_a_range():
    e = parse_program("set S = 1..3").statements[0].value
    assert e.op == ".." and e.left.value == 1 and e.right.value == 3
    assert parse_program("param p = 1.5").statements[0].value.value == 1.5
    assert parse_program("param p = 1e-3").statements[0].value.value == 1e-3


def test_chained_comparison_and_membership():
    e = parse_program("subject to c: 1 <= x <= 3").statements[0].expr
    assert e.ops == ("<=", "<=") and len(e.operands) == 3
    cond = parse_program("subject to c[i in I : (i, 2) in P and not i == 3]: x[i] <= 1").statements[0].index_cond
    assert cond.op == "and" and cond.left.ops == ("in",) and isinstance(cond.right, ast.Not)


def test_set_comprehension_and_literal():
    comp = parse_program("set P = {(i, j) in I cross I : i < j}").statements[0].value
    assert comp.is_comprehension and comp.cond.ops == ("<",)
    lit = parse_program('set C = {"a", (1, 2), 3}').statements[0].value
    assert not lit.is_comprehension and isinstance(lit.items[1], ast.TupleExpr)
    assert parse_program("set E = {}").statements[0].value.items == ()


def test_declaration_parts():
    p = parse_program("param c[i in I] = 2 * i default 0").statements[0]
    assert p.index[0].ops == ("in",) and p.value.op == "*" and p.default.value == 0
    v = parse_program("var y[I] integer in 0..7 start 3").statements[0]
    assert v.domain == "integer" and v.bounds[0].kind == "in" and v.start.value == 3
    v = parse_program("var z >= 0, <= 10").statements[0]
    assert [b.kind for b in v.bounds] == [">=", "<="]
    w = parse_program("param w[I, J] = [[1, 2], [3, 4]]").statements[0]
    assert isinstance(w.value, ast.ListLiteral) and isinstance(w.value.items[0], ast.ListLiteral)


def test_dotted_graph_names():
    c = parse_program("subject to c[(u, v) in G.edges]: G.weight[u, v] <= 1").statements[0]
    assert c.index[0].operands[1].name == "G.edges"
    assert c.expr.operands[0].base.name == "G.weight"


def test_subject_to_is_one_keyword_and_to_is_a_free_name():
    c = parse_program("subject  to to: to <= 1").statements[0]
    assert c.name == "to" and c.expr.operands[0].name == "to"
    c = parse_program("subject\n  to c: x <= 1").statements[0]
    assert c.name == "c" and c.name_span.line == 2


def test_builtin_function_names_are_not_reserved():
    c = parse_program("subject to c[d in D]: sum(sum in S) x[d, sum] <= d(u, x)").statements[0]
    assert c.index[0].operands[0].name == "d"
    assert isinstance(c.expr.operands[1], ast.Call) and c.expr.operands[1].func.name == "d"


def test_keywords_are_reserved():
    with pytest.raises(LagSyntaxError):
        parse_program("param in = 3")
    with pytest.raises(LagSyntaxError):
        parse_program("var x[cross]")
    # a keyword is only reserved as a whole word
    assert parse_program("param index = 3").statements[0].name == "index"


def test_comments_and_spans():
    program = parse_program("# header\nparam n = 10  # trailing\n\nvar x >= n", "m.lag")
    p, v = program.statements
    assert (p.name_span.file, p.name_span.line, p.name_span.col) == ("m.lag", 2, 7)
    assert (v.span.line, v.span.col, v.span.end_col) == (4, 1, 11)


def test_empty_program():
    assert parse_program("  # nothing\n").statements == ()


def test_grammar_is_loaded_from_package_data():
    assert lark_parser().options.parser == "lalr"


# --- syntax errors -------------------------------------------------------------------------

def syntax(text: str) -> LagSyntaxError:
    with pytest.raises(LagSyntaxError) as info:
        parse_program(text, "s.lag")
    return info.value


@pytest.mark.parametrize("text,where,hint", [
    ("minimise cost: x", (1, 1), "did you mean 'minimize'?"),
    ("maximise cost: x", (1, 1), "did you mean 'maximize'?"),
    ("subjectto c: x <= 1", (1, 1), "did you mean 'subject to'?"),
    ("paramm n = 3", (1, 1), "did you mean 'param'?"),
    ("var x binarry", (1, 7), "did you mean 'binary'?"),
    ("subject to c: x + y = 3", (1, 21), "use '==' for equality"),
    ("subject to c x <= 1", (1, 14), "a constraint's name is followed by ':'"),
    ("minimize x + y", (1, 12), "an objective is written 'minimize NAME: expr'"),
    ("subject to c: (x + 1 <= 3", (1, 15), "add the matching ')' before the end of input"),
    ("set S = {1, 2\nvar x", (1, 9), "add the matching '}' before 'var' at 2:1"),
    ("subject to c: x <= 1)", (1, 21), "there is no '(' before it"),
    ("subject to c: (x + 1] <= 3", (1, 21), "the '(' opened at 1:15 needs ')' first"),
    ("param n = ", (1, 10), "the last statement is incomplete"),
    ("param n = 3 & 4", (1, 13), "write 'and'"),
    ('set C = {"a}', (1, 10), "a string must end with '\"' on the same line"),
])
def test_syntax_errors_have_position_and_hint(text, where, hint):
    e = syntax(text)
    assert (e.span.line, e.span.col) == where
    assert e.hint is not None and hint in e.hint
    assert e.format().startswith("s.lag:%d:%d: syntax error: " % where)


def test_unexpected_end_of_input_message():
    e = syntax("subject to c: x <=")
    assert e.message == "unexpected end of input"
    assert (e.span.line, e.span.col) == (1, 19)


def test_aggregate_body_may_not_start_with_minus():
    # so that `exp(x) - 1` stays a subtraction, `sum(i in I) -x[i]` is `sum(...)` minus x[i]
    # (the checker then says that sum needs a body)
    e = only_expr("sum(i in I) -x[i]")
    assert e.op == "-" and isinstance(e.left, ast.Call) and e.left.func.name == "sum"
