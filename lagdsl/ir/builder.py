"""Build the IR from Python, without ``.lag`` text.

The builder produces exactly the :class:`~lagdsl.ir.model.Model` the front end produces, so
everything downstream (classification, passes, backends) is shared::

    from lagdsl.ir.builder import ModelBuilder
    b = ModelBuilder("knapsack")
    I = b.set("I", range(1, 4))
    w = b.param("w", [I], [2, 3, 4]); v = b.param("v", [I], [3, 4, 5])
    x = b.var("x", [I], "binary")
    i = b.index("i")
    b.maximize("value", b.sum([(i, I)], v[i] * x[i]))
    b.subject_to("cap", b.sum([(i, I)], w[i] * x[i]) <= 5)
    model = b.build()
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from .model import Constraint, DomainDecl, FieldDecl, Model, Objective, Region, VarDecl
from .sym import Agg, Str, overs
from .values import ParamValue, SetFamilyValue, SetValue, product_size


def _name(s) -> str:
    return s if isinstance(s, str) else s.name


def as_sympy_element(e):
    """A Python set element as it appears inside a body (``"a"`` -> :class:`Str`)."""
    if isinstance(e, str):
        return Str(e)
    if isinstance(e, tuple):
        return sympy.Tuple(*(as_sympy_element(v) for v in e))
    return sympy.sympify(e)


class SetHandle(sympy.Symbol):
    """The symbol naming a set; pass it wherever a set is expected."""


class ModelBuilder:
    """Accumulates declarations and returns a :class:`Model` from :meth:`build`."""

    def __init__(self, name: str = "model"):
        self.model = Model(name=name)

    # --- data ------------------------------------------------------------------------
    def set(self, name: str, elements: Iterable) -> SetHandle:
        """Declare an ordered set; a ``range`` becomes a fast integer range."""
        if isinstance(elements, range) and elements.step == 1:
            value = SetValue.from_range(elements.start, elements.stop - 1)
        else:
            value = SetValue.from_elements(list(elements))
        self.model.sets[name] = value
        return SetHandle(name)

    def set_family(self, name: str, over, members: dict) -> None:
        """Declare sets indexed by the elements of ``over`` (``members[e]`` lists the set)."""
        o = self.model.sets[_name(over)]
        self.model.set_families[name] = SetFamilyValue(
            o, [SetValue.from_elements(list(members.get(e, []))) for e in o.elements])

    def param(self, name: str, index: Sequence = (), values=None, default: float | None = None):
        """Declare a parameter over ``index`` sets: an array in set order (nested lists or
        numpy), a dict keyed by element, or a scalar.  Returns its symbol/IndexedBase."""
        index = tuple(_name(s) for s in index)
        sets = [self.model.sets[s] for s in index]
        shape = tuple(len(s) for s in sets)
        if isinstance(values, dict):
            arr = np.full(product_size(sets), np.nan if default is None else float(default))
            from .values import flat_positions, norm_element
            for key, v in values.items():
                key = norm_element(key)
                comps = list(key) if isinstance(key, tuple) else [key]
                cols = [np.array([c], dtype=object) for c in comps]
                pos = flat_positions(sets, cols)[0]
                if pos < 0:
                    raise KeyError("%s%r is outside the index sets of %s" % (name, key, name))
                arr[pos] = float(v)
            if np.isnan(arr).any():
                raise ValueError("parameter %s has missing entries and no default" % name)
            arr = arr.reshape(shape)
        elif values is None:
            if default is None:
                raise ValueError("parameter %s needs values or a default" % name)
            arr = np.full(shape, float(default))
        else:
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != shape:
                arr = arr.reshape(shape) if arr.size == product_size(sets) else None
                if arr is None:
                    raise ValueError("parameter %s: shape does not match its index sets" % name)
        self.model.params[name] = ParamValue(index, arr)
        return sympy.Symbol(name) if not index else sympy.IndexedBase(name)

    # --- unknowns --------------------------------------------------------------------
    def var(self, name: str, index: Sequence = (), domain: str = "real", lower=None, upper=None,
            start=None):
        """Declare a variable family; bounds and start are scalars or flat arrays."""
        index = tuple(_name(s) for s in index)
        n = product_size([self.model.sets[s] for s in index])
        lo = -np.inf if lower is None else lower
        hi = np.inf if upper is None else upper
        if domain == "binary":
            lo = 0.0 if lower is None else lo
            hi = 1.0 if upper is None else hi
        lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (n,)).copy()
        hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (n,)).copy()
        st = None if start is None else np.broadcast_to(np.asarray(start, dtype=np.float64), (n,)).copy()
        self.model.vars[name] = VarDecl(name, index, domain, lo, hi, st)
        return sympy.Symbol(name) if not index else sympy.IndexedBase(name)

    def domain(self, name: str, **coords) -> None:
        """Declare a box domain: ``b.domain("D", x=(0, 1), t=(0, 1))``."""
        self.model.domains[name] = DomainDecl(name, {k: (float(a), float(b)) for k, (a, b) in coords.items()})

    def field(self, name: str, coords: Sequence[str], domain: str):
        """Declare an unknown function over a domain; returns the sympy function."""
        self.model.fields[name] = FieldDecl(name, tuple(coords), domain)
        return sympy.Function(name)

    # --- expressions -----------------------------------------------------------------
    @staticmethod
    def index(names: str):
        """Index symbols: ``i = b.index("i")`` or ``i, j = b.index("i j")``."""
        return sympy.symbols(names)

    @staticmethod
    def sum(bindings, body, where=None) -> Agg:
        """``sum(i in I, ... : where) body``; bindings are ``(index, set)`` pairs."""
        return ModelBuilder.aggregate("sum", bindings, body, where)

    @staticmethod
    def aggregate(kind: str, bindings, body, where=None) -> Agg:
        """Any aggregate kind (``sum prod max min norm1 norm2 norminf sumsq logsumexp``)."""
        return Agg(kind, overs(bindings), where, body)

    # --- objective and constraints ---------------------------------------------------
    def minimize(self, name: str, expr) -> None:
        self.model.objective = Objective(name, "minimize", sympy.sympify(expr))

    def maximize(self, name: str, expr) -> None:
        self.model.objective = Objective(name, "maximize", sympy.sympify(expr))

    def subject_to(self, name: str, relation=None, over=(), where=None, *, lower=None,
                   body=None, upper=None, region: Region | None = None) -> Constraint:
        """Add a constraint (family).  Give a sympy relation (``e <= 5``, ``sympy.Eq(a, b)``)
        or ``lower``/``body``/``upper`` for a ranged one; ``over`` lists ``(index, set)``."""
        if relation is not None:
            body, lower, upper = constraint_parts(self.model, relation.lhs, relation.rel_op, relation.rhs)
        c = Constraint(name, sympy.sympify(body),
                       None if lower is None else sympy.sympify(lower),
                       None if upper is None else sympy.sympify(upper),
                       overs(over), where, region)
        self.model.constraints[name] = c
        return c

    def build(self) -> Model:
        """The finished model."""
        return self.model


def mentions_unknown(model: Model, e) -> bool:
    """Whether expression ``e`` mentions an unknown of ``model``: a variable, or a field
    (anywhere, also evaluated elsewhere as in ``u(0, t)``)."""
    e = sympy.sympify(e)
    if any(ix.base.label.name in model.vars for ix in e.atoms(sympy.Indexed)):
        return True
    if any(s.name in model.vars for s in e.free_symbols if isinstance(s, sympy.Symbol)):
        return True
    return any(f.func.__name__ in model.fields for f in e.atoms(AppliedUndef))


def constraint_parts(model: Model, lhs, op: str, rhs):
    """``(body, lower, upper)`` of ``lhs op rhs`` keeping the user's form where possible.

    Unknowns stay on the body side: ``c >= sum(...)`` becomes ``sum(...) <= c``; when both
    sides hold unknowns the right side moves over (``lhs - rhs op 0``).
    """
    lhs, rhs = sympy.sympify(lhs), sympy.sympify(rhs)
    if op == "<":
        op = "<="
    if op == ">":
        op = ">="
    lv, rv = mentions_unknown(model, lhs), mentions_unknown(model, rhs)
    if rv and not lv:
        lhs, rhs = rhs, lhs
        op = {"<=": ">=", ">=": "<=", "==": "=="}[op]
    elif rv and lv:
        lhs, rhs = lhs - rhs, sympy.Integer(0)
    if op == "==":
        return lhs, rhs, rhs
    if op == "<=":
        return lhs, None, rhs
    if op == ">=":
        return lhs, rhs, None
    raise ValueError("not a constraint relation: %s" % op)
