"""Vectorised evaluation of IR bodies over row tables.

:class:`Evaluator` walks a sympy body once per *shape*, not once per element: each node is
computed for all rows of a :class:`~lagdsl.lower.rows.Rows` at the same time.  Sub-trees
without unknowns are plain numpy (:meth:`Evaluator.data`); sub-trees with unknowns are handed
to an *algebra* — an object with the small interface of :class:`Algebra` — which decides what
a value is: a sparse polynomial batch (:mod:`lagdsl.lower.poly`), a cvxpy expression, a torch
tensor.  Aggregates expand the rows by their bindings and reduce back by segment.
"""
from __future__ import annotations

import re
from typing import Any, Protocol

import numpy as np
import sympy
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanFalse, BooleanTrue

from ..errors import LagDataError, LagError
from ..ir.atoms import ATOM_FUNCTIONS, ATOMS, atom_of
from ..ir.model import Model, Span
from ..ir.sym import Agg, Member, SetFamilyRef, SetName, SetRange, Str, sigmoid
from ..ir.values import flat_positions
from .rows import Rows, bind


class Algebra(Protocol):
    """What an evaluator needs from a representation of per-row values with unknowns."""

    def const(self, values: np.ndarray) -> Any: ...
    def var(self, name: str, flat: np.ndarray) -> Any: ...
    def add(self, a: Any, b: Any) -> Any: ...
    def mul(self, a: Any, b: Any) -> Any: ...
    def pow(self, a: Any, p: Any) -> Any: ...
    def func(self, name: str, args: list) -> Any: ...
    def take(self, a: Any, idx: np.ndarray) -> Any: ...
    def reduce(self, kind: str, values: Any, parent: np.ndarray, n: int) -> Any: ...


_NP_FUNCS = {
    sympy.exp: np.exp, sympy.log: np.log, sympy.sin: np.sin, sympy.cos: np.cos,
    sympy.tan: np.tan, sympy.tanh: np.tanh, sympy.Abs: np.abs,
    sigmoid: lambda z: 1.0 / (1.0 + np.exp(-z)),
}

#: sympy function class -> the name algebras receive in ``func``.
FUNC_NAMES = {
    sympy.exp: "exp", sympy.log: "log", sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan",
    sympy.tanh: "tanh", sympy.Abs: "abs", sigmoid: "sigmoid", sympy.Min: "min", sympy.Max: "max",
    **{cls: name for name, cls in ATOM_FUNCTIONS.items()},
}


#: Sums with at least this many terms (and groups of at least this many terms of one
#: variable) are lowered as one batch (:meth:`Evaluator.batch_terms`).
_BATCH_MIN = 16


def _bcast(a, n: int) -> np.ndarray:
    a = np.asarray(a)
    return a if a.shape == (n,) else np.broadcast_to(a, (n,)).copy()


class Evaluator:
    """Evaluates bodies of one model; ``where`` names the constraint or objective being
    lowered so that data errors point at it (its ``span`` and ``spans``)."""

    def __init__(self, model: Model, owner=None):
        self.model = model
        self.owner = owner
        self._has_var: dict = {}
        self._families: dict = {}
        self._depth = 0

    # --- errors ----------------------------------------------------------------------
    def span_of(self, node) -> Span | None:
        """The most precise known source position of ``node``."""
        if self.owner is not None:
            spans = getattr(self.owner, "spans", None) or {}
            if node in spans:
                return spans[node]
            return getattr(self.owner, "span", None)
        return None

    def fail(self, message: str, node=None, hint: str | None = None):
        raise LagDataError(message, self.span_of(node), hint, self.model.source)

    # --- structure -------------------------------------------------------------------
    def has_var(self, e) -> bool:
        """Whether ``e`` mentions an unknown (memoised per node)."""
        r = self._has_var.get(e)
        if r is None:
            if isinstance(e, sympy.Indexed):
                r = e.base.label.name in self.model.vars or any(self.has_var(a) for a in e.indices)
            elif isinstance(e, sympy.Symbol):
                r = e.name in self.model.vars and not isinstance(e, Str)
            elif isinstance(e, Agg):
                r = self.has_var(e.body)
            else:
                r = any(self.has_var(a) for a in e.args)
            self._has_var[e] = r
        return r

    def family_table(self, name: str) -> dict:
        """Set family ``name`` flattened: counts, starts and element columns."""
        t = self._families.get(name)
        if t is None:
            fam = self.model.set_families[name]
            counts = np.array([len(m) for m in fam.members], dtype=np.int64)
            starts = np.cumsum(counts) - counts
            arity = fam.members[0].arity if fam.members else 1
            cols = []
            for k in range(arity):
                parts = [m.columns()[k] for m in fam.members if len(m)]
                cols.append(np.concatenate(parts) if parts else np.zeros(0, np.int64))
            t = {"counts": counts, "starts": starts, "cols": cols}
            self._families[name] = t
        return t

    def bind(self, rows: Rows, overs, cond):
        """Expand ``rows`` by bindings under a condition (see :func:`lagdsl.lower.rows.bind`)."""
        return bind(self, rows, overs, cond)

    def subscripts(self, e: sympy.Indexed, rows: Rows) -> list[np.ndarray]:
        return [_bcast(self.data(a, rows), rows.n) for a in e.indices]

    def positions(self, e: sympy.Indexed, sets, rows: Rows, what: str) -> np.ndarray:
        """Flat positions of ``e``'s subscripts in the product of ``sets``; a positioned error
        names the first subscript outside its set."""
        subs = self.subscripts(e, rows)
        arity = sum(s.arity for s in sets)
        name = e.base.label.name
        if len(subs) != arity:
            self.fail("%s %s takes %d subscript%s, got %d" % (what, name, arity,
                      "" if arity == 1 else "s", len(subs)), e)
        pos = flat_positions(sets, subs)
        if pos.size and pos.min() < 0:
            r = int(np.flatnonzero(pos < 0)[0])
            elem = ", ".join(str(s[r]) for s in subs)
            ctx = ", ".join("%s=%s" % (k, v[r]) for k, v in rows.cols.items())
            decl = (self.model.vars[name] if name in self.model.vars else self.model.params[name]).index
            self.fail("subscript [%s] of %s is outside its index set %s%s" % (
                elem, name, " x ".join(decl), (" (at %s)" % ctx) if ctx else ""), e)
        return pos

    def batch_terms(self, terms: list, rows: Rows, alg: Algebra):
        """An explicit sum ``x[1] + 2*x[2] + ...`` of many terms with constant subscripts as
        one gather and one segment sum per variable, instead of one algebra value and one
        addition per term (quadratic in the number of terms for sparse batches).  Returns
        the value of the batched terms (or None) and the terms left for the general path;
        a subscript outside its set is left there too, so that it gets its positioned error."""
        groups: dict[str, list] = {}
        rest = []
        for a in terms:
            t = _constant_term(a, self.model)
            if t is None:
                rest.append(a)
            else:
                groups.setdefault(t[1], []).append((a, t[0], t[2]))
        out = None
        for name, items in groups.items():
            sets = self.model.var_sets(name)
            arity = sum(st.arity for st in sets)
            if len(items) < _BATCH_MIN or any(len(subs) != arity for _a, _c, subs in items):
                rest.extend(a for a, _c, _s in items)
                continue
            cols = [np.array([subs[j] for _a, _c, subs in items],
                             dtype=object if any(isinstance(subs[j], str) for _a, _c, subs in items)
                             else None) for j in range(arity)]
            pos = flat_positions(sets, cols)
            if pos.size and pos.min() < 0:
                rest.extend(a for a, _c, _s in items)
                continue
            k, n = len(items), rows.n
            coefs = np.array([c for _a, c, _s in items], dtype=np.float64)
            v = alg.var(name, np.tile(pos, n))
            if not np.all(coefs == 1.0):
                v = alg.mul(alg.const(np.tile(coefs, n)), v)
            v = alg.reduce("sum", v, np.repeat(np.arange(n, dtype=np.int64), k), n)
            out = v if out is None else alg.add(out, v)
        return out, rest

    # --- data ------------------------------------------------------------------------
    def data(self, e, rows: Rows):
        """Value of a data expression for every row: a numpy array of length ``rows.n``
        (or a 0-d scalar when it does not depend on the rows).

        Arithmetic that has no float64 value (division by zero, ``mod 0``, log or sqrt of a
        negative number, ``max`` over an empty set, ``inf - inf``, overflow) is a
        :class:`LagDataError` at the innermost sub-expression whose source position is known,
        naming the operands and the row."""
        return self._positioned(e, self._data, e, rows)

    def _positioned(self, e, walk, *args):
        """``walk(*args)``, with an arithmetic failure below ``e`` raised as a
        :class:`LagDataError` at the innermost enclosing sub-expression whose span is noted
        (``e`` itself, if no deeper one is)."""
        self._depth += 1
        try:
            return walk(*args)
        except _Arithmetic as err:
            span = self._noted(e)
            if span is not None or self._depth == 1:
                raise LagDataError(err.message, span or self.span_of(None), err.hint,
                                   self.model.source) from None
            raise
        finally:
            self._depth -= 1

    def _noted(self, node) -> Span | None:
        spans = getattr(self.owner, "spans", None) or {}
        return spans.get(node) if node is not None else None

    def _data(self, e, rows: Rows):
        if isinstance(e, (BooleanTrue, BooleanFalse)):
            return np.bool_(bool(e))
        if isinstance(e, Str):
            return np.array(e.name, dtype=object)
        if e is sympy.zoo:
            raise _Arithmetic("division by zero")
        if e is sympy.nan:
            raise _Arithmetic("an undefined number (nan), e.g. inf - inf or 0 * inf")
        if e.is_Number:
            return number_value(e)      # beyond int64 a float64, beyond float64 an error
        if e.is_NumberSymbol:          # pi, E (exp(1) evaluates to E), ...
            return np.float64(float(e))
        if isinstance(e, sympy.Symbol):
            if e in rows.cols:
                return rows.cols[e]
            p = self.model.params.get(e.name)
            if p is not None and p.is_scalar:
                return np.float64(p.values)
            if e.name in self.model.vars:
                self.fail("unknown %s used where data is required" % e.name, e)
            self.fail("%s has no value here" % e.name, e)
        if isinstance(e, sympy.Indexed):
            name = e.base.label.name
            p = self.model.params.get(name)
            if p is None:
                self.fail("unknown %s used where data is required" % name, e)
            sets = [self.model.sets[s] for s in p.index]
            pos = self.positions(e, sets, rows, "parameter")
            return p.values.reshape(-1)[pos]
        if isinstance(e, sympy.Add):
            out = self.data(e.args[0], rows)
            for a in e.args[1:]:
                b = self.data(a, rows)
                out = self._op(e, "+", out, b, np.add, rows)
            return out
        if isinstance(e, sympy.Mul):
            out = self.data(e.args[0], rows)
            for a in e.args[1:]:
                b = self.data(a, rows)
                out = self._op(e, "*", out, b, np.multiply, rows)
            return out
        if isinstance(e, sympy.Pow):
            b = np.asarray(self.data(e.base, rows), dtype=np.float64)
            x = np.asarray(self.data(e.exp, rows), dtype=np.float64)
            return self._op(e, "^", b, x, np.power, rows)
        if isinstance(e, sympy.Mod):      # integers stay integers (subscripts such as p mod n)
            a, b = self.data(e.args[0], rows), self.data(e.args[1], rows)
            return self._op(e, "mod", a, b, np.mod, rows)
        if isinstance(e, (sympy.Min, sympy.Max)):
            f = np.minimum if isinstance(e, sympy.Min) else np.maximum
            out = self.data(e.args[0], rows)
            for a in e.args[1:]:
                out = f(out, self.data(a, rows))
            return out
        if isinstance(e, (sympy.floor, sympy.ceiling)):
            f = np.floor if isinstance(e, sympy.floor) else np.ceil
            return f(np.asarray(self.data(e.args[0], rows), dtype=np.float64))
        if type(e) in _NP_FUNCS:
            a = np.asarray(self.data(e.args[0], rows), dtype=np.float64)
            return self._op(e, FUNC_NAMES[type(e)], a, None, _NP_FUNCS[type(e)], rows)
        atom = atom_of(e)
        if atom is not None:
            args = [np.asarray(self.data(a, rows), dtype=np.float64) for a in e.args]
            return self._op(e, atom.name, args[0], args[1] if len(args) > 1 else None, atom.numpy, rows)
        if isinstance(e, Relational):
            a, b = self.data(e.lhs, rows), self.data(e.rhs, rows)
            op = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                  "==": np.equal, "!=": np.not_equal}[e.rel_op]
            try:
                return op(a, b)
            except TypeError:          # a string element ordered against a number
                raise _Arithmetic(_mixed_order(a, b, e.rel_op),
                                  "order comparisons (<, <=, >, >=) need two numbers or two "
                                  "strings; == and != compare any elements") from None
        if isinstance(e, sympy.And):
            out = np.bool_(True)
            for a in e.args:
                out = out & np.asarray(self.data(a, rows), dtype=bool)
            return out
        if isinstance(e, sympy.Or):
            out = np.bool_(False)
            for a in e.args:
                out = out | np.asarray(self.data(a, rows), dtype=bool)
            return out
        if isinstance(e, sympy.Not):
            return ~np.asarray(self.data(e.args[0], rows), dtype=bool)
        if isinstance(e, Member):
            return self.member(e, rows)
        if isinstance(e, Agg):
            inner, parent = self.bind(rows, e.bindings, e.cond)
            vals = _bcast(self.data(e.body, inner), inner.n).astype(np.float64)
            return self._reduce(e, vals, parent, rows)
        if isinstance(e, sympy.Piecewise):
            pieces = [(sel, _bcast(self.data(val, rows.take(sel)), len(sel)))
                      for val, sel in self.branches(e, rows)]
            kinds = [v.dtype for _s, v in pieces]
            dtype = object if any(k == object for k in kinds) else np.result_type(*kinds)
            out = np.zeros(rows.n, dtype=dtype)
            for sel, v in pieces:
                out[sel] = v
            return out
        self.fail("cannot evaluate %s as data" % e, e)

    def branches(self, e: sympy.Piecewise, rows: Rows) -> list:
        """``[(value, rows it holds on)]`` of a ``Piecewise``: each condition is evaluated
        only on the rows no earlier one took, and each branch gets its own rows, so that a
        branch is never computed where it is not taken (``if i < n then c[i + 1] else 0``)."""
        left = np.arange(rows.n, dtype=np.int64)
        out = []
        for val, c in e.args:
            if not left.size:
                break
            hold = np.asarray(_bcast(self.data(c, rows.take(left)), left.size), dtype=bool)
            out.append((val, left[hold]))
            left = left[~hold]
        return out

    def atom_args(self, e, atom, rows: Rows, alg) -> list:
        """The arguments of an atom of unknowns: its data arguments checked against the
        atom's domain (``huber``'s threshold, a data ``y`` of ``quad_over_lin`` or
        ``kl_div``), so that a data error points at the atom rather than at an infinite
        value."""
        data = [None if self.has_var(a) else np.asarray(self.data(a, rows), dtype=np.float64)
                for a in e.args]
        for k in atom.data_args:
            if data[k] is None:
                self.fail("argument %d of %s must be data, not an expression of unknowns"
                          % (k + 1, atom.name), e.args[k])
        bad = atom.domain_error(data)
        if bad is not None:
            self._arith(bad[0], bad[1], [d for d in data if d is not None], rows, atom.name)
        return [alg.const(self.finite(a, d, rows)) if d is not None else self.value(a, rows, alg)
                for a, d in zip(e.args, data)]

    def member(self, e: Member, rows: Rows) -> np.ndarray:
        elem, term = e.args
        parts = list(elem) if isinstance(elem, sympy.Tuple) else [elem]
        cols = [_bcast(self.data(a, rows), rows.n) for a in parts]
        if isinstance(term, SetName):
            return self.model.sets[term.name].positions(cols) >= 0
        if isinstance(term, SetRange):
            v = cols[0]
            lo, hi = self.data(term.lo, rows), self.data(term.hi, rows)
            return (v >= lo) & (v <= hi) & (np.mod(v.astype(np.float64), 1) == 0)
        if isinstance(term, SetFamilyRef):
            # Membership in a row-dependent set: bind and match.
            inner, parent = self.bind(rows, [_fresh_over(term, len(parts))], None)
            syms = _fresh_syms(len(parts))
            hit = np.ones(inner.n, dtype=bool)
            for s, c in zip(syms, cols):
                hit &= inner.cols[s] == c[parent]
            return np.bincount(parent[hit], minlength=rows.n) > 0
        self.fail("cannot test membership in %s" % term, e)

    # --- arithmetic that has no float64 value -----------------------------------------
    def _op(self, e, op: str, a, b, f, rows: Rows):
        """``f(a, b)`` (or ``f(a)`` when ``b`` is None) with numpy's warnings off; a result
        that is not finite where the operands are is an error, and so is nan out of
        infinite operands (``inf - inf``).  Infinite operands may otherwise give infinity:
        ``inf`` means "no bound" and the consumer decides whether it may appear."""
        args = (a,) if b is None else (a, b)
        with np.errstate(all="ignore"):
            pre = _domain_error(op, a, b)
            if pre is not None:
                self._arith(pre[0], pre[1], args, rows, op)
            out = f(*args)
            if op in ("+", "*") and np.asarray(out).dtype.kind in "iu" and _may_wrap(op, a, b):
                # int64 arithmetic wraps around silently: beyond it, the value is a float
                wide = f(*(np.asarray(x, dtype=np.float64) for x in args))
                if np.any(np.abs(wide) >= 2.0 ** 63):
                    out = wide
        arr = np.asarray(out)
        if arr.dtype.kind != "f":
            return out
        bad = ~np.isfinite(arr)
        if not bad.any():
            return out
        ins = [np.asarray(x, dtype=np.float64) for x in args]
        fin = np.ones(arr.shape, dtype=bool)
        nan_in = np.zeros(arr.shape, dtype=bool)
        for x in ins:
            fin &= np.isfinite(x)
            nan_in |= np.isnan(x)
        wrong = bad & fin | (np.isnan(arr) & ~nan_in)
        if wrong.any():
            self._arith(wrong, None, args, rows, op, out=arr)
        return out

    def _arith(self, mask, message, args, rows: Rows, op: str, out=None):
        """Raise for the first row of ``mask`` with the operands' values and the row."""
        mask = np.broadcast_to(mask, np.broadcast_shapes(*(np.shape(x) for x in args))
                               if args else np.shape(mask))
        r = int(np.flatnonzero(mask.reshape(-1))[0]) if mask.ndim else 0
        vals = [float(np.broadcast_to(x, mask.shape).reshape(-1)[r]) if mask.ndim else float(x)
                for x in args]
        if message is None:
            res = float(np.asarray(out).reshape(-1)[r] if np.ndim(out) else out)
            message = _describe(op, vals, res)
        raise _Arithmetic(message + row_context(rows, r if mask.ndim else None))

    def _reduce(self, e: Agg, vals: np.ndarray, parent: np.ndarray, rows: Rows) -> np.ndarray:
        """A data aggregate; ``max``/``min``/``logsumexp`` over an empty set has no value."""
        with np.errstate(all="ignore"):
            out = reduce_data(e.kind, vals, parent, rows.n)
        empty = empty_aggregate(e.kind, rows, parent)
        if empty is not None:
            raise _Arithmetic(*empty)
        bad = ~np.isfinite(out)
        if bad.any():
            inf_in = np.bincount(parent, weights=(~np.isfinite(vals)).astype(np.float64),
                                 minlength=rows.n) > 0
            wrong = bad & ~inf_in | np.isnan(out)
            if wrong.any():
                r = int(np.flatnonzero(wrong)[0])
                what = "is undefined (nan)" if np.isnan(out[r]) else \
                    "overflows float64 (its value is beyond 1.8e308)"
                raise _Arithmetic("the %s %s%s" % (e.kind, what, row_context(rows, r)))
        return out

    # --- unknowns --------------------------------------------------------------------
    def value(self, e, rows: Rows, alg: Algebra):
        """Value of ``e`` for every row in algebra ``alg``.  Data next to unknowns (a
        coefficient, a constant term, an exponent) must be finite: ``inf`` means "no bound"
        only as a whole bound."""
        return self._positioned(e, self._value, e, rows, alg)

    def finite(self, e, vals, rows: Rows) -> np.ndarray:
        """``vals`` as a float64 row vector; a non-finite entry is an error at ``e``."""
        vals = _bcast(np.asarray(vals, dtype=np.float64), rows.n)
        bad = ~np.isfinite(vals)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            err = _Arithmetic("%g appears next to unknowns (as a coefficient or a constant "
                              "term)%s" % (vals[r], row_context(rows, r)),
                              "inf means \"no bound\" only as a whole bound: x <= inf, "
                              "var x >= -inf")
            # -inf moved over from the other side (x >= y + inf) has no span: point at inf
            literal = self._noted(sympy.oo) if e in (sympy.oo, sympy.S.NegativeInfinity) else None
            if literal is not None and self._noted(e) is None:
                raise LagDataError(err.message, literal, err.hint, self.model.source)
            raise err
        return vals

    def _value(self, e, rows: Rows, alg: Algebra):
        if not self.has_var(e):
            return alg.const(self.finite(e, self.data(e, rows), rows))
        if isinstance(e, sympy.Symbol):
            return alg.var(e.name, np.zeros(rows.n, dtype=np.int64))
        if isinstance(e, sympy.Indexed):
            name = e.base.label.name
            pos = self.positions(e, self.model.var_sets(name), rows, "variable")
            return alg.var(name, pos)
        if isinstance(e, sympy.Add):
            out, terms = None, list(e.args)
            if len(terms) >= _BATCH_MIN:
                out, terms = self.batch_terms(terms, rows, alg)
            for a in terms:
                v = self.value(a, rows, alg)
                out = v if out is None else alg.add(out, v)
            return out
        if isinstance(e, sympy.Mul):
            # data factors first, so that an algebra scales once
            data = [a for a in e.args if not self.has_var(a)]
            rest = [a for a in e.args if self.has_var(a)]
            out = self.value(rest[0], rows, alg)
            for a in rest[1:]:
                out = alg.mul(out, self.value(a, rows, alg))
            if data:
                m = sympy.Mul(*data)
                out = alg.mul(alg.const(self.finite(m, self.data(m, rows), rows)), out)
            return out
        if isinstance(e, sympy.Pow):
            base = self.value(e.base, rows, alg)
            if self.has_var(e.exp):
                return alg.pow(base, self.value(e.exp, rows, alg))
            return alg.pow(base, self.finite(e.exp, self.data(e.exp, rows), rows))
        if isinstance(e, Agg):
            inner, parent = self.bind(rows, e.bindings, e.cond)
            return alg.reduce(e.kind, self.value(e.body, inner, alg), parent, rows.n)
        if isinstance(e, sympy.Piecewise):
            # each branch on its own rows, scattered back by a segment sum (every algebra
            # has one); a row no branch takes cannot occur (the last condition is True)
            out = None
            for val, sel in self.branches(e, rows):
                v = alg.reduce("sum", self.value(val, rows.take(sel), alg), sel, rows.n)
                out = v if out is None else alg.add(out, v)
            return out
        atom = atom_of(e)
        if atom is not None:
            return alg.func(atom.name, self.atom_args(e, atom, rows, alg))
        fname = FUNC_NAMES.get(type(e))
        if fname is not None:
            return alg.func(fname, [self.value(a, rows, alg) for a in e.args])
        raise LagError("unsupported construct for unknowns: %s" % e, self.span_of(e),
                       source=self.model.source)


def _constant_term(a, model: Model):
    """``(coefficient, name, subscripts)`` when ``a`` is ``c * x[s1, ...]`` with a number
    ``c`` (1 when absent), a variable ``x`` and constant subscripts; else None."""
    coef = 1.0
    if isinstance(a, sympy.Mul) and len(a.args) == 2 and a.args[0].is_Number:
        coef, a = float(a.args[0]), a.args[1]
    if not isinstance(a, sympy.Indexed) or a.base.label.name not in model.vars:
        return None
    subs = []
    for s in a.indices:
        if isinstance(s, Str):
            subs.append(s.name)
        elif s.is_Integer:
            subs.append(int(s))
        elif s.is_Number:
            subs.append(float(s))
        else:
            return None
    return coef, a.base.label.name, subs


def _mixed_order(a, b, op: str) -> str:
    """The message for ``a op b`` that Python cannot order: the first offending pair."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
    for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist()):
        if isinstance(x, str) != isinstance(y, str):
            kind = (lambda v: "the string %r" % v if isinstance(v, str) else "the number %s" % v)
            return "cannot compare %s with %s using %s" % (kind(x), kind(y), op)
    return "cannot compare these values using %s" % op


class _Arithmetic(Exception):
    """Data arithmetic without a float64 value; :meth:`Evaluator.data` turns it into a
    positioned :class:`LagDataError` at the nearest sub-expression with a known span."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


#: The largest float64; integers beyond it have no float64 value.
FLOAT_MAX = float(np.finfo(np.float64).max)


def number_value(e):
    """A sympy number as numpy: int64 when it fits, else float64; beyond float64 (a literal
    such as ``1e400`` or a 400-digit integer) it is an error.  ``oo`` is ``inf``."""
    if e is sympy.oo or e is sympy.S.NegativeInfinity:
        return np.float64(np.inf if e is sympy.oo else -np.inf)
    if e.is_Integer:
        v = int(e)
        if -2 ** 63 <= v < 2 ** 63:
            return np.int64(v)
        if abs(v) <= FLOAT_MAX:
            return np.float64(v)
    else:
        v = float(e)
        if np.isfinite(v):
            return np.float64(v)
    raise _Arithmetic("the number %s is beyond the range of float64 (about 1.8e308)" % _short(e))


def _short(e) -> str:
    text = str(e.evalf(4)) if e.is_Float else str(e)
    return text if len(text) <= 24 else "%s...(%d digits)" % (text[:12], len(text))


def _may_wrap(op: str, a, b) -> bool:
    """Whether integer ``a op b`` could leave int64, from the operands' extremes."""
    big = [max(abs(float(np.min(x))), abs(float(np.max(x)))) if np.size(x) else 0.0
           for x in (a, b)]
    return (big[0] + big[1] if op == "+" else big[0] * big[1]) >= 2.0 ** 62


def _domain_error(op: str, a, b):
    """``(mask, message)`` for operands outside an operation's domain, checked before
    computing so that the message names the cause rather than the nan it would give."""
    if op == "^":
        zero_neg = (a == 0) & (b < 0)
        if np.any(zero_neg):
            bb = np.broadcast_to(b, np.shape(zero_neg))
            return zero_neg, ("division by zero" if np.all(bb[zero_neg] == -1)
                              else "0 to a negative power (division by zero)")
        frac = (a < 0) & np.isfinite(b) & (np.mod(b, 1) != 0)
        if np.any(frac):
            return frac, ("sqrt of a negative number" if np.all(b == 0.5) else
                          "a negative number to a fractional power is not a real number")
    elif op == "mod":
        zero = b == 0
        if np.any(zero):
            return zero, "mod 0 (division by zero)"
    elif op in ATOMS:
        return ATOMS[op].domain_error([a] if b is None else [a, b])
    elif op == "log":
        neg = a <= 0
        if np.any(neg):
            aa = np.broadcast_to(a, np.shape(neg))
            return neg, "log of 0 (it is -inf)" if np.all(aa[neg] == 0) else \
                "log of a negative number"
    return None


def _describe(op: str, vals: list, res: float) -> str:
    """Why a result is not finite, with the operands' values."""
    v = ["%g" % x for x in vals]
    if op in ("+", "*", "^", "mod"):
        shown = {"+": "%s + %s", "*": "%s * %s", "^": "%s ^ %s", "mod": "%s mod %s"}[op] % tuple(v)
    else:
        shown = "%s(%s)" % (op, v[0])
    if np.isnan(res) and op == "+":
        return "inf - inf is undefined (nan)"
    if np.isnan(res) and op == "*":
        return "0 * inf is undefined (nan)"
    if np.isnan(res):
        return "%s is undefined (nan)" % shown
    return "%s overflows float64 (its value is beyond 1.8e308)" % shown


def row_context(rows: Rows, r: int | None) -> str:
    """`` (at i=3, j=b)`` for row ``r`` of ``rows``; empty without bound indices."""
    if r is None or not rows.cols:
        return ""
    shown = [(k, v) for k, v in rows.cols.items() if not _HIDDEN.match(str(k))]
    if not shown:
        return ""
    return " (at %s)" % ", ".join("%s=%s" % (k, v[r] if np.ndim(v) else v) for k, v in shown)


#: Index symbols a user did not name: a declaration's unnamed axes (``x#0.0``) and the
#: fresh symbols of membership tests (``_m0``).
_HIDDEN = re.compile(r".*#|_m\d+$")


#: Aggregates that have no value over an empty set (``sum`` is 0, ``prod`` 1, a norm 0).
NEEDS_AN_ELEMENT = ("max", "min", "logsumexp")


def empty_aggregate(kind: str, rows: Rows, parent: np.ndarray) -> tuple[str, str] | None:
    """The message and hint of a ``max``/``min``/``logsumexp`` with an empty set in some row of
    ``rows`` (``parent`` maps each expanded row to its row), or None when it has a value."""
    if kind not in NEEDS_AN_ELEMENT:
        return None
    empty = np.bincount(parent, minlength=rows.n) == 0
    if not empty.any():
        return None
    r = int(np.flatnonzero(empty)[0])
    return ("%s over an empty set%s" % (kind, row_context(rows, r)),
            "%s has no value over an empty set; filter out the rows where the set is empty "
            "with ':'" % kind)


def reduce_data(kind: str, vals: np.ndarray, parent: np.ndarray, n: int) -> np.ndarray:
    """Segment-reduce numpy values by ``parent`` into ``n`` outputs."""
    if kind == "sum":
        return np.bincount(parent, weights=vals, minlength=n)
    if kind == "sumsq":
        return np.bincount(parent, weights=vals * vals, minlength=n)
    if kind == "norm1":
        return np.bincount(parent, weights=np.abs(vals), minlength=n)
    if kind == "norm2":
        # scaled by each segment's largest entry, so that norm2 of 1e200s does not overflow
        m = np.zeros(n)
        np.maximum.at(m, parent, np.abs(vals))
        safe = np.where((m > 0) & np.isfinite(m), m, 1.0)
        with np.errstate(invalid="ignore", over="ignore"):
            out = safe * np.sqrt(np.bincount(parent, weights=(vals / safe[parent]) ** 2, minlength=n))
        return np.where(np.isinf(m), np.inf, np.where(m > 0, out, 0.0))
    init = {"prod": 1.0, "max": -np.inf, "min": np.inf, "norminf": 0.0, "logsumexp": -np.inf}[kind]
    out = np.full(n, init)
    if kind == "prod":
        np.multiply.at(out, parent, vals)
    elif kind == "max":
        np.maximum.at(out, parent, vals)
    elif kind == "min":
        np.minimum.at(out, parent, vals)
    elif kind == "norminf":
        np.maximum.at(out, parent, np.abs(vals))
    elif kind == "logsumexp":
        np.maximum.at(out, parent, vals)
        m = np.where(np.isfinite(out), out, 0.0)
        s = np.bincount(parent, weights=np.exp(vals - m[parent]), minlength=n)
        with np.errstate(divide="ignore"):
            out = m + np.log(s)
    return out


def _fresh_syms(k: int):
    return [sympy.Symbol("_m%d" % j) for j in range(k)]


def _fresh_over(term, k: int):
    from ..ir.sym import Over
    return Over(sympy.Tuple(*_fresh_syms(k)), term)
