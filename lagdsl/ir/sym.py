"""The sympy vocabulary of lagdsl bodies.

Every objective, constraint and formula body in the IR is a sympy expression built from:

* ``sympy.Symbol(name)`` — an index (``i``), a coordinate of a domain (``x``), a scalar
  parameter (``n``) or a scalar variable (``t``).  What a name *is* comes from the model's
  tables (``Model.kind_of``), never from the symbol itself;
* ``sympy.Indexed(IndexedBase(name), *subscripts)`` — an element of an indexed parameter or
  variable (``x[i, j]``).  Graph attributes are ordinary names with a dot (``G.weight``);
* :class:`Str` — a string element such as ``"north"``;
* numbers, arithmetic, ``Mod``, ``exp log sqrt sin cos tan tanh Abs Min Max``,
  :class:`sigmoid` and the convex-modelling atoms of :mod:`lagdsl.ir.atoms` (``entr`` …);
* :class:`Agg` — an aggregate ``sum/prod/max/min`` or a vector aggregate
  ``norm1/norm2/norminf/sumsq/logsumexp`` over :class:`Over` bindings with a condition;
* relationals, ``And/Or/Not`` and :class:`Member` for data conditions;
* for fields: applied undefined functions ``u(x, t)``, ``Derivative`` and ``Integral``.

Set terms inside bindings are small sympy nodes too (:class:`SetName`, :class:`SetRange`,
:class:`SetFamilyRef`) so that a body is one self-contained, hashable, printable tree.
"""
from __future__ import annotations

import sympy
from sympy.logic.boolalg import Boolean

from .atoms import ATOM_FUNCTIONS

AGG_KINDS = ("sum", "prod", "max", "min")
VECTOR_AGG_KINDS = ("norm1", "norm2", "norminf", "sumsq", "logsumexp")


class Str(sympy.Symbol):
    """A string element of a set (``"north"``); distinct from any symbol of the same name."""

    def __new__(cls, value: str):
        return sympy.Symbol.__new__(cls, value)

    @property
    def value(self) -> str:
        return self.name

    def _latex(self, printer):
        return r"\text{``%s''}" % self.name

    def _sympystr(self, printer):
        return '"%s"' % self.name


class sigmoid(sympy.Function):
    """The logistic function 1 / (1 + exp(-z))."""

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _latex(self, printer):
        return r"\sigma\left(%s\right)" % printer._print(self.args[0])


# --- set terms -------------------------------------------------------------------------


class SetTerm(sympy.Basic):
    """Base of the set terms that may appear in a binding."""


class SetName(SetTerm):
    """A set of the model's table, by name: ``SetName(Symbol('I'))``."""

    @property
    def name(self) -> str:
        return self.args[0].name

    def _sympystr(self, printer):
        return self.name

    def _latex(self, printer):
        return printer._print(self.args[0])


class SetRange(SetTerm):
    """The integer range ``lo..hi`` whose bounds may depend on outer indices."""

    def __new__(cls, lo, hi):
        return SetTerm.__new__(cls, sympy.sympify(lo), sympy.sympify(hi))

    @property
    def lo(self):
        return self.args[0]

    @property
    def hi(self):
        return self.args[1]

    def _sympystr(self, printer):
        return "%s..%s" % (printer._print(self.lo), printer._print(self.hi))

    def _latex(self, printer):
        return r"\{%s,\dots,%s\}" % (printer._print(self.lo), printer._print(self.hi))


class SetFamilyRef(SetTerm):
    """A member of a set family chosen by subscripts: ``G.neighbors(v)`` is
    ``SetFamilyRef(Symbol('G.neighbors'), Tuple(v))``."""

    @property
    def name(self) -> str:
        return self.args[0].name

    @property
    def subscripts(self) -> tuple:
        return tuple(self.args[1])

    def _sympystr(self, printer):
        return "%s(%s)" % (self.name, ", ".join(printer._print(a) for a in self.subscripts))

    def _latex(self, printer):
        return r"\mathrm{%s}(%s)" % (self.name, ", ".join(printer._print(a) for a in self.subscripts))


class Over(sympy.Basic):
    """One binding ``(i, j) in S``: ``Over(Tuple(i, j), S)``; one index gives ``Tuple(i)``."""

    @property
    def indices(self) -> tuple:
        return tuple(self.args[0])

    @property
    def set(self) -> SetTerm:
        return self.args[1]

    def _head(self, printer) -> str:
        """``i`` for one index, ``(i, j)`` for a destructured tuple."""
        idx = self.indices
        return printer._print(idx[0]) if len(idx) == 1 else "(%s)" % ", ".join(map(printer._print, idx))

    def _sympystr(self, printer):
        return "%s in %s" % (self._head(printer), printer._print(self.set))

    def _latex(self, printer):
        return r"%s \in %s" % (self._head(printer), printer._print(self.set))


class Member(Boolean, sympy.Basic):
    """The data condition ``e in S`` (``e`` may be a ``Tuple`` for tuple sets; ``S`` is any
    set term, or a set's name or symbol)."""

    def __new__(cls, elem, term):
        return sympy.Basic.__new__(cls, sympy.sympify(elem), as_set_term(term))

    def _sympystr(self, printer):
        return "%s in %s" % (printer._print(self.args[0]), printer._print(self.args[1]))

    def _latex(self, printer):
        return r"%s \in %s" % (printer._print(self.args[0]), printer._print(self.args[1]))


class Agg(sympy.Expr):
    """An aggregate: ``Agg(Symbol(kind), Tuple(Over, ...), cond, body)``.

    ``kind`` is one of :data:`AGG_KINDS` or :data:`VECTOR_AGG_KINDS`; ``cond`` is
    ``sympy.true`` when there is no ``:`` clause.  The body is one entry of the aggregated
    vector; it is never auto-simplified across entries.
    """

    def __new__(cls, kind, bindings, cond, body):
        if isinstance(kind, str):
            kind = sympy.Symbol(kind)
        if not isinstance(bindings, sympy.Tuple):
            bindings = sympy.Tuple(*bindings)
        if cond is None or cond is True:
            cond = sympy.true
        return sympy.Expr.__new__(cls, kind, bindings, cond, sympy.sympify(body))

    @property
    def kind(self) -> str:
        return self.args[0].name

    @property
    def bindings(self) -> tuple:
        return tuple(self.args[1])

    @property
    def cond(self):
        return self.args[2]

    @property
    def body(self):
        return self.args[3]

    @property
    def bound_symbols(self):
        return [s for b in self.bindings for s in b.indices]

    @property
    def free_symbols(self):
        inner = set()
        for b in self.bindings:
            inner |= b.set.free_symbols
        inner |= self.cond.free_symbols if self.cond is not sympy.true else set()
        inner |= self.body.free_symbols
        return inner - set(self.bound_symbols)

    def _eval_derivative(self, s):
        if self.kind == "sum":
            return Agg(self.args[0], self.args[1], self.cond, sympy.diff(self.body, s))
        return sympy.Derivative(self, s)

    def _sympystr(self, printer):
        head = ", ".join(printer._print(b) for b in self.bindings)
        if self.cond is not sympy.true:
            head += " : " + printer._print(self.cond)
        return "%s(%s) (%s)" % (self.kind, head, printer._print(self.body))

    def _latex(self, printer):
        sub = ", ".join(printer._print(b) for b in self.bindings)
        if self.cond is not sympy.true:
            sub += r",\ " + printer._print(self.cond)
        big = {"sum": r"\sum", "prod": r"\prod", "max": r"\max", "min": r"\min"}
        if self.kind in big:
            return r"%s_{%s} \left(%s\right)" % (big[self.kind], sub, printer._print(self.body))
        norm = {"norm1": r"\left\| %s \right\|_1", "norm2": r"\left\| %s \right\|_2",
                "norminf": r"\left\| %s \right\|_\infty", "sumsq": r"\left\| %s \right\|_2^2",
                "logsumexp": r"\operatorname{logsumexp}\left(%s\right)"}[self.kind]
        return norm % (r"\left(%s\right)_{%s}" % (printer._print(self.body), sub))


def agg(kind: str, bindings, body, cond=None) -> Agg:
    """Build an aggregate; ``bindings`` is a list of ``(index or tuple of indices, set)``
    pairs where the set is a name, a :class:`SetTerm` or ``(lo, hi)`` for a range."""
    return Agg(kind, overs(bindings), cond, body)


def overs(bindings) -> tuple[Over, ...]:
    """:class:`Over` bindings from ``(index or tuple of indices, set)`` pairs (indices as
    symbols or names; sets as anything :func:`as_set_term` takes)."""
    out = []
    for idx, s in bindings:
        idx = (idx,) if isinstance(idx, (sympy.Symbol, str)) else tuple(idx)
        idx = tuple(sympy.Symbol(i) if isinstance(i, str) else i for i in idx)
        out.append(Over(sympy.Tuple(*idx), as_set_term(s)))
    return tuple(out)


def as_set_term(s) -> SetTerm:
    """Coerce a set name, ``(lo, hi)`` pair or :class:`SetTerm` to a :class:`SetTerm`."""
    if isinstance(s, SetTerm):
        return s
    if isinstance(s, str):
        return SetName(sympy.Symbol(s))
    if isinstance(s, sympy.Symbol):
        # a plain Symbol, also for subclasses such as the builder's SetHandle, so that
        # bodies hold only the vocabulary of this module
        return SetName(sympy.Symbol(s.name))
    if isinstance(s, tuple) and len(s) == 2:
        return SetRange(sympy.sympify(s[0]), sympy.sympify(s[1]))
    raise TypeError("not a set term: %r" % (s,))


#: Functions a body may call, by their .lag name.
FUNCTIONS = {
    "abs": sympy.Abs, "exp": sympy.exp, "log": sympy.log, "sqrt": sympy.sqrt,
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "tanh": sympy.tanh,
    "sigmoid": sigmoid, "min": sympy.Min, "max": sympy.Max,
    **ATOM_FUNCTIONS,          # entr xlogx kl_div rel_entr quad_over_lin inv_pos huber
}
