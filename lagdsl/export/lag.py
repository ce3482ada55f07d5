"""The instantiated model as self-contained ``.lag`` source (``lagdsl compile --emit lag``).

Every set, parameter and graph of the checked model is written out with its values, so the
text parses, checks and solves to the same answer without the data file:

* sets become literals (``1..n`` for integer ranges); sets whose names are no identifiers --
  the anonymous sets the checker hoisted (``I cross J``) and a graph's ``G.nodes`` -- get
  fresh names (``I_cross_J``, ``G_nodes``);
* parameters become inline lists in set order (formula parameters their evaluated values);
  values without a finite float64 (``default inf``) a formula choosing ``inf`` by a mask;
* a set family (``G.neighbors(v)``, ``G.successors(v)`` ...) becomes two sets, the union of
  its members and the pairs ``(v, member)``, and a binding ``u in G.neighbors(v)`` the
  binding ``u in G_neighbors_members`` with the condition ``(v, u) in G_neighbors_pairs``
  (the same rows, found by a filter: fine for the models people read, slower on graphs of
  many thousands of nodes);
* variables keep their domain; bounds and starts that differ by element are helper
  parameters (``x__lower``), read in the declaration by a named index;
* bodies print in ``.lag`` syntax (:class:`LagSourcePrinter`): floats exactly (shortest
  round-trip), aggregates bracketed, ``Piecewise`` as ``if ... then ... else``.

Strings that ``.lag`` cannot hold (a double quote or a newline in an element) are refused.
``lagdsl show`` keeps its abbreviated summary (:mod:`lagdsl.pretty`).
"""
from __future__ import annotations

import re

import numpy as np
import sympy

from ..errors import LagError
from ..frontend.parser import KEYWORDS
from ..ir.model import Constraint, Model
from ..ir.sym import Agg, Member, Over, SetFamilyRef, SetName
from ..pretty import LagPrinter

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED = (set(KEYWORDS) - {"subject to"}) | {"pi", "inf"}


class LagSourcePrinter(LagPrinter):
    """:class:`~lagdsl.pretty.LagPrinter` for text that must parse back to the same model:
    exact floats, every aggregate in brackets (so that ``(sum(i in I) x[i]) ^ 2`` keeps its
    meaning) and ``integral(D)`` by the domain's name."""

    def __init__(self, domains: dict):
        super().__init__()
        self.domains = domains

    def _print_Float(self, expr):
        return _num(float(expr))

    def _print(self, expr, **kwargs):
        # Agg prints itself (_sympystr), which the printer prefers to any _print_Agg
        if isinstance(expr, Agg):
            return "(%s)" % expr._sympystr(self)
        return super()._print(expr, **kwargs)

    def _print_Integral(self, expr):
        coords = [str(lim[0]) for lim in expr.limits]
        dom = next((d.name for d in self.domains.values() if list(d.coords) == coords), None)
        if dom is None:
            raise LagError("cannot write an integral over %s as .lag: no domain has exactly "
                           "these coordinates" % ", ".join(coords))
        return "(integral(%s) (%s))" % (dom, self._print(expr.function))


def _num(v: float) -> str:
    """A number as ``.lag`` reads it back to the same float64."""
    v = float(v)
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 2 ** 53:
        return str(int(v))
    return repr(v)


def _elem(e) -> str:
    """A set element in ``.lag``: a number, a string or a tuple of them."""
    if isinstance(e, tuple):
        return "(%s)" % ", ".join(_elem(v) for v in e)
    if isinstance(e, str):
        if '"' in e or "\n" in e or "\r" in e:
            raise LagError("cannot write the element %r as .lag: a string element may not hold "
                           "a double quote or a line break" % e)
        return '"%s"' % e
    return _num(e) if isinstance(e, float) else str(int(e))


def _set_text(s) -> str:
    if s.range_lo is not None and len(s) > 0:
        return "%d..%d" % (s.range_lo, s.range_lo + len(s) - 1)
    if not s.elements and s.arity > 1:
        # `{}` has one component; an empty set of pairs is a difference
        zero = "(%s)" % ", ".join(["0"] * s.arity)
        return "{%s} diff {%s}" % (zero, zero)
    return "{%s}" % ", ".join(_elem(e) for e in s.elements)


def _list_text(a: np.ndarray) -> str:
    if a.ndim == 0:
        return _num(a)
    if a.ndim == 1:
        return "[%s]" % ", ".join(_num(v) for v in a.tolist())
    return "[%s]" % ", ".join(_list_text(row) for row in a)


class _Writer:
    """Names, declarations and bodies of one model as ``.lag`` lines."""

    def __init__(self, model: Model):
        self.model = model
        self.taken = set(model.sets) | set(model.params) | set(model.vars) | set(model.domains) \
            | set(model.fields) | set(model.constraints) | set(model.set_families) | set(model.decl_spans)
        for e in self._bodies():
            self.taken |= {s.name for s in e.atoms(sympy.Symbol)}
        if model.objective is not None:
            self.taken.add(model.objective.name)
        self.rename: dict[str, str] = {}
        for name in list(model.sets) + list(model.params):
            if not _IDENT.match(name) or name in _RESERVED:
                self.rename[name] = self.fresh(name)
        self.families: dict[str, tuple[str, str]] = {}
        for name in model.set_families:
            self.families[name] = (self.fresh(name + "_members"), self.fresh(name + "_pairs"))
        self.lines: list[str] = []
        self.printer = LagSourcePrinter(model.domains)
        self.memo: dict = {}

    def _bodies(self):
        m = self.model
        if m.objective is not None:
            yield m.objective.expr
        for c in m.constraints.values():
            for e in (c.body, c.lower, c.upper, c.where, *c.binding):
                if isinstance(e, sympy.Basic):
                    yield e
            if c.region is not None and isinstance(c.region.where, sympy.Basic):
                yield c.region.where

    def fresh(self, base: str) -> str:
        """An identifier from ``base`` that names nothing in the model yet."""
        text = re.sub(r"[^A-Za-z0-9_]+", "_", base).strip("_") or "S"
        if not _IDENT.match(text):
            text = "S_" + text
        name, k = text, 1
        while name in self.taken or name in _RESERVED:
            k += 1
            name = "%s_%d" % (text, k)
        self.taken.add(name)
        return name

    def name(self, n: str) -> str:
        return self.rename.get(n, n)

    # --- bodies --------------------------------------------------------------------------
    def text(self, e) -> str:
        """``e`` with families unfolded and names renamed, in ``.lag`` syntax."""
        return self.printer.doprint(self.rewrite(e))

    def rewrite(self, e):
        e = self.unfold(e)
        subs = {sympy.Symbol(old): sympy.Symbol(new) for old, new in self.rename.items()}
        return e.xreplace(subs) if subs else e

    def unfold(self, e):
        """``e`` with every set-family binding and membership written over plain sets."""
        if not isinstance(e, sympy.Basic) or not e.args:
            return e
        out = self.memo.get(e)
        if out is not None:
            return out
        if isinstance(e, Agg):
            overs, extra = self.unfold_overs(e.bindings)
            cond = self.unfold(e.cond)
            if extra:
                cond = sympy.And(*extra, cond) if cond is not sympy.true else sympy.And(*extra)
            out = Agg(e.kind, overs, cond, self.unfold(e.body))
        elif isinstance(e, Member) and isinstance(e.args[1], SetFamilyRef):
            ref = e.args[1]
            elem = tuple(e.args[0]) if isinstance(e.args[0], sympy.Tuple) else (e.args[0],)
            out = Member(sympy.Tuple(*map(self.unfold, ref.subscripts), *map(self.unfold, elem)),
                         SetName(sympy.Symbol(self.families[ref.name][1])))
        else:
            args = [self.unfold(a) for a in e.args]
            out = e if all(a is b for a, b in zip(args, e.args)) else e.func(*args)
        self.memo[e] = out
        return out

    def unfold_overs(self, overs) -> tuple[list, list]:
        """Bindings over plain sets, and the membership conditions that replace families."""
        new, extra = [], []
        for o in overs:
            term = o.set
            if isinstance(term, SetFamilyRef):
                members, pairs = self.families[term.name]
                new.append(Over(sympy.Tuple(*o.indices), SetName(sympy.Symbol(members))))
                extra.append(Member(sympy.Tuple(*map(self.unfold, term.subscripts), *o.indices),
                                    SetName(sympy.Symbol(pairs))))
            else:
                new.append(Over(sympy.Tuple(*o.indices), self.unfold(term)))
        return new, extra

    # --- declarations ----------------------------------------------------------------------
    def axes(self, index: tuple) -> tuple[str, list[str]]:
        """``"[(_i1, _i2) in P, _i3 in J]"`` naming the indices of ``index`` and the names."""
        parts, names = [], []
        for s in index:
            k = self.model.sets[s].arity
            idx = [self.fresh("_i%d" % (len(names) + j + 1)) for j in range(k)]
            names += idx
            head = idx[0] if k == 1 else "(%s)" % ", ".join(idx)
            parts.append("%s in %s" % (head, self.name(s)))
        return "[%s]" % ", ".join(parts), names

    def array(self, name: str, index: tuple, values: np.ndarray) -> None:
        """``param NAME[index] = [...]``; entries without a finite value through a mask."""
        values = np.asarray(values, dtype=np.float64)
        sets = "[%s]" % ", ".join(self.name(s) for s in index) if index else ""
        finite = np.isfinite(values)
        if finite.all():
            self.lines.append("param %s%s = %s" % (name, sets, _list_text(values)))
            return
        fin = self.fresh(name + "__finite")
        sign = self.fresh(name + "__inf")
        self.lines.append("param %s%s = %s" % (fin, sets, _list_text(np.where(finite, values, 0.0))))
        self.lines.append("param %s%s = %s" % (sign, sets, _list_text(
            np.where(finite, 0.0, np.sign(np.nan_to_num(values, nan=0.0))))))
        if not index:
            self.lines.append("param %s = if %s == 1 then inf else if %s == -1 then -inf else %s"
                              % (name, sign, sign, fin))
            return
        head, idx = self.axes(index)
        at = "[%s]" % ", ".join(idx)
        self.lines.append("param %s%s = if %s%s == 1 then inf else if %s%s == -1 then -inf else %s%s"
                          % (name, head, sign, at, sign, at, fin, at))

    def var(self, v) -> None:
        m = self.model
        parts = [] if v.domain == "real" else [v.domain]
        lo, hi = np.asarray(v.lower, dtype=np.float64), np.asarray(v.upper, dtype=np.float64)
        if v.domain == "binary":
            lo, hi = np.maximum(lo, 0.0), np.minimum(hi, 1.0)
        shape = tuple(len(m.sets[s]) for s in v.index)
        needs_index = False
        bounds = []
        for arr, op, free, side in ((lo, ">=", -np.inf, "lower"), (hi, "<=", np.inf, "upper")):
            if v.domain == "binary" and np.all(arr == (0.0 if side == "lower" else 1.0)):
                continue
            if arr.size and np.all(arr == arr.reshape(-1)[0]):
                if arr.reshape(-1)[0] != free:
                    bounds.append("%s %s" % (op, _num(arr.reshape(-1)[0])))
            elif arr.size:
                helper = self.fresh("%s__%s" % (v.name, side))
                self.array(helper, v.index, arr.reshape(shape))
                bounds.append((op, helper))
                needs_index = True
        start = None
        if v.start is not None:
            st = np.asarray(v.start, dtype=np.float64)
            if st.size and np.all(st == st.reshape(-1)[0]):
                start = _num(st.reshape(-1)[0])
            elif st.size:
                helper = self.fresh(v.name + "__start")
                self.array(helper, v.index, st.reshape(shape))
                start = ("start", helper)
                needs_index = True
        if needs_index:
            head, idx = self.axes(v.index)
        else:
            head = "[%s]" % ", ".join(self.name(s) for s in v.index) if v.index else ""
            idx = []
        at = "[%s]" % ", ".join(idx)
        out = []
        for b in bounds:
            out.append(b if isinstance(b, str) else "%s %s%s" % (b[0], b[1], at))
        text = "var %s%s" % (v.name, head)
        if parts:
            text += " " + " ".join(parts)
        if out:
            text += " " + ", ".join(out)
        if start is not None:
            text += " start " + (start if isinstance(start, str) else "%s%s" % (start[1], at))
        self.lines.append(text)

    def constraint(self, c: Constraint) -> None:
        overs, extra = self.unfold_overs(c.binding)
        where = self.unfold(c.where) if c.where is not None else None
        if extra:
            where = sympy.And(*extra, where) if where not in (None, sympy.true) else sympy.And(*extra)
        head = ""
        if overs:
            head = "[%s" % ", ".join(self.printer.doprint(self.rewrite(o)) for o in overs)
            if where is not None and where is not sympy.true:
                head += " : " + self.text(where)
            head += "]"
        region = ""
        if c.region is not None:
            r = c.region
            region = (" on %s" % r.domain if r.kind == "all" else
                      " on %s(%s)" % (r.kind, r.domain) if r.kind in ("interior", "boundary") else
                      " on %s where %s" % (r.domain, self.text(r.where)))
        body = self.text(c.body)
        s = c.sense
        if s == "==":
            rel = "%s == %s" % (body, self.text(c.upper))
        elif s == "range":
            rel = "%s <= %s <= %s" % (self.text(c.lower), body, self.text(c.upper))
        elif s == "<=":
            rel = "%s <= %s" % (body, self.text(c.upper))
        else:
            rel = "%s >= %s" % (body, self.text(c.lower))
        self.lines.append("subject to %s%s%s: %s" % (c.name, head, region, rel))

    def write(self) -> str:
        m = self.model
        src = m.source.path if m.source is not None else None
        self.lines.append("# lagdsl --emit lag: the instantiated model%s, every set, param and "
                          "graph written out" % (" of %s" % src if src else ""))
        if m.name and _IDENT.match(m.name) and m.name not in _RESERVED:
            self.lines.append("model %s" % m.name)
        for name, s in m.sets.items():
            self.lines.append("set %s = %s" % (self.name(name), _set_text(s)))
        for name, fam in m.set_families.items():
            members, pairs = self.families[name]
            union: dict = {}
            pair_list = []
            for owner, mem in zip(fam.over.elements, fam.members):
                own = owner if isinstance(owner, tuple) else (owner,)
                for e in mem.elements:
                    union.setdefault(e, None)
                    pair_list.append(own + (e if isinstance(e, tuple) else (e,)))
            arity = max((mm.arity for mm in fam.members), default=1)
            from ..ir.values import SetValue
            self.lines.append("set %s = %s    # the members of %s" % (
                members, _set_text(SetValue(list(union), arity)), name))
            self.lines.append("set %s = %s    # (v, member) of %s(v)" % (
                pairs, _set_text(SetValue(pair_list, fam.over.arity + arity)), name))
        for name, p in m.params.items():
            self.array(self.name(name), p.index, p.values)
        for name, d in m.domains.items():
            self.lines.append("domain %s: %s" % (name, ", ".join(
                "%s in [%s, %s]" % (c, _num(a), _num(b)) for c, (a, b) in d.coords.items())))
        for name, f in m.fields.items():
            self.lines.append("field %s(%s)" % (name, ", ".join(f.coords)))
        for v in m.vars.values():
            self.var(v)
        if m.objective is not None:
            ob = m.objective
            self.lines.append("%s %s: %s" % (ob.sense, ob.name, self.text(ob.expr)))
        for c in m.constraints.values():
            self.constraint(c)
        return "\n".join(self.lines) + "\n"


def to_lag(model: Model) -> str:
    """The instantiated ``model`` as self-contained ``.lag`` source (see the module docstring)."""
    try:
        return _Writer(model).write()
    except LagError as exc:
        raise exc.with_source(model.source)
