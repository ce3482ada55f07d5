"""The IR: a model with its data bound, as plain dataclasses.

A :class:`Model` is what the front end produces from ``.lag`` text plus data, what the Python
builder produces from code, and what every backend consumes.  It keeps the indexed structure:
a constraint family over a set is *one* :class:`Constraint` with a binding, and its body is a
sympy expression in the index symbols (see :mod:`lagdsl.ir.sym` for the vocabulary).

Reading order for a newcomer: :class:`Span` (where a thing came from), the declarations
(:class:`VarDecl`, :class:`DomainDecl`, :class:`FieldDecl`), :class:`Objective`,
:class:`Constraint`, and :class:`Model`, which holds them all with the data tables
(:mod:`lagdsl.ir.values`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import sympy

from .sym import Over
from .values import ParamValue, SetFamilyValue, SetValue, product_size

Sense = Literal["minimize", "maximize"]
VarDomain = Literal["real", "integer", "binary"]


@dataclass(frozen=True)
class Span:
    """A position in a source file (1-based line and column); ``end_*`` may equal the start."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return "%s:%d:%d" % (self.file, self.line, self.col)


@dataclass
class VarDecl:
    """A decision variable family ``var x[I, J] ...``.

    ``index`` names the index sets in order (one axis each; a tuple set is one axis).  Values
    are laid out row-major over that product.  ``lower``/``upper`` are float64 arrays of that
    flat length (``-inf``/``inf`` when free); ``start`` likewise or ``None``.
    """

    name: str
    index: tuple[str, ...]
    domain: VarDomain
    lower: np.ndarray
    upper: np.ndarray
    start: np.ndarray | None = None
    span: Span | None = None

    @property
    def is_scalar(self) -> bool:
        return not self.index


@dataclass
class DomainDecl:
    """A box domain ``domain D: x in [0, 1], t in [0, 1]`` (coordinate -> (lo, hi))."""

    name: str
    coords: dict[str, tuple[float, float]]
    span: Span | None = None


@dataclass
class FieldDecl:
    """An unknown function ``field u(x, t)`` over the coordinates of a domain."""

    name: str
    coords: tuple[str, ...]
    domain: str
    span: Span | None = None


@dataclass
class Region:
    """Where a field constraint holds.

    ``kind`` is ``"all"`` (``on D``), ``"interior"``, ``"boundary"`` or ``"where"`` (``on D
    where x == 0 or x == 1``, with ``where`` the condition on the coordinates).
    """

    domain: str
    kind: Literal["all", "interior", "boundary", "where"] = "all"
    where: sympy.Basic | None = None


@dataclass
class Objective:
    """``minimize name: expr`` or ``maximize name: expr``."""

    name: str
    sense: Sense
    expr: sympy.Expr
    span: Span | None = None
    spans: dict = field(default_factory=dict)   # sub-expression -> Span, as in Constraint


@dataclass
class Constraint:
    """A named constraint, or a family of them: ``lower <= body <= upper``.

    ``binding`` lists the index bindings (empty for a single constraint) and ``where`` the
    optional data condition after ``:``.  At least one of ``lower``/``upper`` is set; an
    equality has ``lower == upper``.  Bodies keep the user's form: ``x[u] + x[v] <= 1`` is
    ``body = x[u] + x[v], upper = 1``; when both sides hold unknowns the front end moves the
    right side over (``body = lhs - rhs``, bound 0).  ``region`` is set for field constraints.
    ``spans`` maps sub-expressions (e.g. an ``Indexed`` subscript) to their source position,
    so that lowering can point at the exact place of a data error.
    """

    name: str
    body: sympy.Expr
    lower: sympy.Expr | None = None
    upper: sympy.Expr | None = None
    binding: tuple[Over, ...] = ()
    where: sympy.Basic | None = None
    region: Region | None = None
    span: Span | None = None
    spans: dict = field(default_factory=dict)

    @property
    def sense(self) -> str:
        """``'=='``, ``'<='``, ``'>='`` or ``'range'``."""
        if self.lower is not None and self.upper is not None:
            return "==" if self.lower == self.upper else "range"
        return "<=" if self.upper is not None else ">="

    @property
    def is_family(self) -> bool:
        return bool(self.binding)


@dataclass
class Source:
    """The text a model came from, for error messages that quote the line."""

    path: str
    text: str

    def line(self, n: int) -> str:
        lines = self.text.splitlines()
        return lines[n - 1] if 0 < n <= len(lines) else ""


@dataclass
class Model:
    """A whole model with its data: the unit every pass and backend works on.

    Tables are ordered dicts in declaration order.  Graphs are already expanded into sets
    (``G.nodes``, ``G.edges``, ``G.arcs``), parameters (``G.weight``) and set families
    (``G.neighbors``), so a backend never sees a networkx object.
    """

    name: str = "model"
    sets: dict[str, SetValue] = field(default_factory=dict)
    set_families: dict[str, SetFamilyValue] = field(default_factory=dict)
    params: dict[str, ParamValue] = field(default_factory=dict)
    vars: dict[str, VarDecl] = field(default_factory=dict)
    domains: dict[str, DomainDecl] = field(default_factory=dict)
    fields: dict[str, FieldDecl] = field(default_factory=dict)
    objective: Objective | None = None
    constraints: dict[str, Constraint] = field(default_factory=dict)
    source: Source | None = None
    decl_spans: dict[str, Span] = field(default_factory=dict)
    #: how the checker derived the data (:class:`lagdsl.ir.derivation.Derivation`), for
    #: re-solves with new data; None for IR read back or built in Python.  Not serialised.
    derivation: object = field(default=None, repr=False, compare=False)

    def kind_of(self, name: str) -> str | None:
        """``'set'``, ``'family'``, ``'param'``, ``'var'``, ``'field'``, ``'domain'`` or None."""
        for kind, table in (("var", self.vars), ("param", self.params), ("set", self.sets),
                            ("family", self.set_families), ("field", self.fields),
                            ("domain", self.domains)):
            if name in table:
                return kind
        return None

    def var_sets(self, name: str) -> list[SetValue]:
        """The index sets of variable ``name``."""
        return [self.sets[s] for s in self.vars[name].index]

    def var_size(self, name: str) -> int:
        """Number of scalar unknowns in variable family ``name``."""
        return product_size(self.var_sets(name))

    def var_offsets(self) -> dict[str, tuple[int, int]]:
        """Flat ``[start, stop)`` of each variable in the concatenated vector of unknowns."""
        out, k = {}, 0
        for name in self.vars:
            n = self.var_size(name)
            out[name] = (k, k + n)
            k += n
        return out

    @property
    def num_unknowns(self) -> int:
        return sum(self.var_size(n) for n in self.vars)

    def summary(self) -> dict:
        """Counts for ``lagdsl check``."""
        return {"sets": len(self.sets), "params": len(self.params), "variables": len(self.vars),
                "unknowns": self.num_unknowns, "constraints": len(self.constraints),
                "fields": len(self.fields)}
