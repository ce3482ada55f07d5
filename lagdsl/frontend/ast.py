"""The abstract syntax tree of a ``.lag`` program.

Small frozen dataclasses, one per construct, each with the :class:`~lagdsl.ir.model.Span`
of its source text.  The tree is untyped on purpose: the grammar shares one expression
language for sets, conditions and arithmetic, and :mod:`lagdsl.frontend.checker` decides
what each expression must be, so that its errors can say what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..ir.model import Span


@dataclass(frozen=True)
class Node:
    """Base of every AST node."""

    span: Span


# --- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Number(Node):
    """A numeric literal; ``value`` is an ``int`` when the text has no ``.`` or exponent."""

    value: Union[int, float]


@dataclass(frozen=True)
class String(Node):
    """A string literal ``"north"`` (without the quotes)."""

    value: str


@dataclass(frozen=True)
class Name(Node):
    """A name; graph members keep their dot (``G.nodes``, ``G.weight``)."""

    name: str


@dataclass(frozen=True)
class Subscript(Node):
    """``base[s1, s2, ...]``."""

    base: Name
    subs: tuple


@dataclass(frozen=True)
class Call(Node):
    """``func(args)`` with an optional ``: cond`` (only meaningful for aggregates)."""

    func: Name
    args: tuple
    cond: "Expr | None" = None


@dataclass(frozen=True)
class Aggregate(Node):
    """``func(bindings : cond) body``: ``sum``, ``prod``, ``norm2``, ``integral`` ..."""

    func: Name
    args: tuple
    cond: "Expr | None"
    body: "Expr"


@dataclass(frozen=True)
class BinOp(Node):
    """A binary operator: ``+ - * / mod ^ .. cross union inter diff``."""

    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Neg(Node):
    """Unary minus."""

    operand: "Expr"


@dataclass(frozen=True)
class Compare(Node):
    """A chain ``a op b op c`` of ``< <= > >= == != in``; ``op_spans`` locate the operators."""

    operands: tuple
    ops: tuple
    op_spans: tuple


@dataclass(frozen=True)
class BoolOp(Node):
    """``left and right`` / ``left or right``."""

    op: str
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Not(Node):
    """``not operand``."""

    operand: "Expr"


@dataclass(frozen=True)
class IfExpr(Node):
    """``if cond then then_ else else_`` — a conditional on data (``else if`` nests)."""

    cond: "Expr"
    then_: "Expr"
    else_: "Expr"


@dataclass(frozen=True)
class TupleExpr(Node):
    """``(a, b, ...)`` — a tuple element or a tuple of indices in a binding."""

    items: tuple


@dataclass(frozen=True)
class SetLiteral(Node):
    """``{a, b}`` (a literal) or ``{(i, j) in I cross J : i < j}`` (a comprehension:
    its items are ``in`` bindings)."""

    items: tuple
    cond: "Expr | None" = None

    @property
    def is_comprehension(self) -> bool:
        return self.cond is not None or (
            len(self.items) > 0 and all(is_binding(e) for e in self.items))


@dataclass(frozen=True)
class ListLiteral(Node):
    """``[2, 3, 4]`` (nested for several index sets) — a parameter's inline values."""

    items: tuple


Expr = Union[Number, String, Name, Subscript, Call, Aggregate, BinOp, Neg, Compare, BoolOp,
             Not, IfExpr, TupleExpr, SetLiteral]


def is_binding(e) -> bool:
    """Whether ``e`` reads as a binding ``i in S`` / ``(i, j) in S``."""
    return isinstance(e, Compare) and e.ops == ("in",) and (
        isinstance(e.operands[0], Name) or (
            isinstance(e.operands[0], TupleExpr)
            and all(isinstance(i, Name) for i in e.operands[0].items)))


# --- statements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelStmt(Node):
    """``model NAME``."""

    name: str
    name_span: Span


@dataclass(frozen=True)
class SetDecl(Node):
    """``set S`` (from data) or ``set S = expr``."""

    name: str
    name_span: Span
    value: "Expr | None"


@dataclass(frozen=True)
class ParamDecl(Node):
    """``param p[index] = value default d``; ``value`` is an expression or a list."""

    name: str
    name_span: Span
    index: tuple
    index_cond: "Expr | None"
    value: "Expr | ListLiteral | None"
    default: "Expr | None"


@dataclass(frozen=True)
class Bound(Node):
    """One bound of a variable: ``kind`` is ``">="``, ``"<="``, ``"interval"`` (``in [lo,
    hi]``: ``lo`` and ``hi``) or ``"in"`` (``in lo..hi``: ``lo`` holds the set)."""

    kind: str
    lo: "Expr | None"
    hi: "Expr | None" = None


@dataclass(frozen=True)
class VarDecl(Node):
    """``var x[index] domain bounds start s``."""

    name: str
    name_span: Span
    index: tuple
    index_cond: "Expr | None"
    domain: "str | None"
    domain_span: "Span | None"
    bounds: tuple
    start: "Expr | None"


@dataclass(frozen=True)
class GraphDecl(Node):
    """``graph G`` (from data)."""

    name: str
    name_span: Span


@dataclass(frozen=True)
class Coord(Node):
    """``x in [lo, hi]`` inside a domain declaration."""

    name: str
    lo: "Expr"
    hi: "Expr"


@dataclass(frozen=True)
class DomainDecl(Node):
    """``domain D: x in [0, 1], t in [0, 1]``."""

    name: str
    name_span: Span
    coords: tuple


@dataclass(frozen=True)
class FieldDecl(Node):
    """``field u(x, t)``; ``coords`` are :class:`Name` nodes."""

    name: str
    name_span: Span
    coords: tuple


@dataclass(frozen=True)
class ObjectiveStmt(Node):
    """``minimize name: expr`` / ``maximize name: expr``."""

    sense: str
    name: str
    name_span: Span
    expr: "Expr"


@dataclass(frozen=True)
class RegionAst(Node):
    """``on D``, ``on interior(D)``, ``on boundary(D)``, ``on D where cond``."""

    term: "Expr"
    where: "Expr | None"


@dataclass(frozen=True)
class ConstraintStmt(Node):
    """``subject to name[bindings : cond] on region: relation``."""

    name: str
    name_span: Span
    index: tuple
    index_cond: "Expr | None"
    region: "RegionAst | None"
    expr: "Expr"


Statement = Union[ModelStmt, SetDecl, ParamDecl, VarDecl, GraphDecl, DomainDecl, FieldDecl,
                  ObjectiveStmt, ConstraintStmt]


@dataclass(frozen=True)
class Program(Node):
    """A whole file: its statements in order."""

    statements: tuple
