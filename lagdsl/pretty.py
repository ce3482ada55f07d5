"""A model printed back for people: ``.lag``-like text (:func:`to_text`) and LaTeX
(:func:`to_latex`, an ``align*`` of the objective and the constraints).

Used by ``lagdsl show MODEL [--latex]``, ``str(model)`` and ``model._repr_latex_()``.
The text is a faithful summary, not a round-trippable file: large sets and parameters are
abbreviated (size and a few elements); the IR JSON (:mod:`lagdsl.ir.serialize`) is the
lossless form.
"""
from __future__ import annotations

import numpy as np
import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from .ir.model import Constraint, Model, Region, VarDecl
from .ir.sym import Member
from .ir.values import SetValue

#: How many elements or values a summary line shows before ``...``.
SHOW = 5


# --- expressions in .lag syntax --------------------------------------------------------------

class LagPrinter(StrPrinter):
    """sympy's str printer speaking ``.lag``: ``^``, ``mod``, ``and``/``or``, ``==``."""

    def _print_Pow(self, expr, rational=False):
        b, e = expr.args
        if e == sympy.S.Half:
            return "sqrt(%s)" % self._print(b)
        if e == -1:
            return "1/%s" % self.parenthesize(b, sympy.printing.precedence.PRECEDENCE["Pow"])
        prec = sympy.printing.precedence.precedence(expr)
        return "%s^%s" % (self.parenthesize(b, prec, strict=True), self.parenthesize(e, prec, strict=False))

    def _print_Mod(self, expr):
        prec = sympy.printing.precedence.PRECEDENCE["Mul"]
        return "%s mod %s" % (self.parenthesize(expr.args[0], prec),
                              self.parenthesize(expr.args[1], prec, strict=True))

    def _print_Abs(self, expr):
        return "abs(%s)" % self._print(expr.args[0])

    def _print_Min(self, expr):
        return "min(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_Max(self, expr):
        return "max(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_Relational(self, expr):
        op = {"==": "==", "!=": "!=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}.get(expr.rel_op, expr.rel_op)
        return "%s %s %s" % (self._print(expr.lhs), op, self._print(expr.rhs))

    def _print_And(self, expr):
        return " and ".join(self._paren_bool(a) for a in expr.args)

    def _print_Or(self, expr):
        return " or ".join(self._paren_bool(a) for a in expr.args)

    def _print_Not(self, expr):
        a = expr.args[0]
        if isinstance(a, Member):
            return "%s not in %s" % (self._print(a.args[0]), self._print(a.args[1]))
        return "not " + self._paren_bool(a)

    def _paren_bool(self, a):
        s = self._print(a)
        return "(%s)" % s if isinstance(a, (sympy.And, sympy.Or)) else s

    def _print_Piecewise(self, expr):
        """``(if c then a else if c2 then b else d)`` (the last condition is always true)."""
        parts = []
        for k, (val, cond) in enumerate(expr.args):
            if cond is sympy.true or k == len(expr.args) - 1 and cond == sympy.true:
                parts.append(self._print(val))
                break
            parts.append("if %s then %s else " % (self._print(cond), self._print(val)))
        return "(%s)" % "".join(parts)

    def _print_BooleanTrue(self, expr):
        return "true"

    def _print_BooleanFalse(self, expr):
        return "false"

    def _print_Infinity(self, expr):
        return "inf"

    def _print_NegativeInfinity(self, expr):
        return "-inf"

    def _print_Derivative(self, expr):
        wrt = []
        for v, n in expr.variable_count:
            wrt += [self._print(v)] * int(n)
        return "d(%s, %s)" % (self._print(expr.expr), ", ".join(wrt))

    def _print_Integral(self, expr):
        return "integral(%s) (%s)" % (", ".join(self._print(l[0]) for l in expr.limits),
                                      self._print(expr.function))

    def _print_Exp1(self, expr):
        return "exp(1)"


_PRINTER = LagPrinter()


def expr_text(e) -> str:
    """One expression in ``.lag`` syntax."""
    return _PRINTER.doprint(e)


# --- text ------------------------------------------------------------------------------------

def _fmt_num(v: float) -> str:
    v = float(v)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return "%.6g" % v


def _fmt_elem(e) -> str:
    if isinstance(e, tuple):
        return "(%s)" % ", ".join(_fmt_elem(v) for v in e)
    if isinstance(e, str):
        return '"%s"' % e
    if isinstance(e, float):
        return _fmt_num(e)
    return str(e)


def set_text(s: SetValue) -> str:
    """``1..n`` for a range, else the first few elements in braces."""
    if s.range_lo is not None and len(s) > 0:
        return "%d..%d" % (s.range_lo, s.range_lo + len(s) - 1)
    shown = [_fmt_elem(e) for e in s.elements[:SHOW]]
    if len(s) > SHOW:
        shown.append("...")
    return "{%s}" % ", ".join(shown)


def _plural(n: int, word: str) -> str:
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _values_text(a: np.ndarray) -> str:
    flat = np.asarray(a, dtype=np.float64).reshape(-1)
    if flat.size == 0:
        return "no values"
    if np.all(flat == flat[0]):
        return "all %s" % _fmt_num(flat[0])
    shown = ", ".join(_fmt_num(v) for v in flat[:SHOW])
    if flat.size > SHOW:
        shown += ", ... (min %s, max %s)" % (_fmt_num(np.nanmin(flat)), _fmt_num(np.nanmax(flat)))
    return shown


def _uniform(a: np.ndarray | None):
    """The single value of ``a`` when all entries agree, else None."""
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if a.size and np.all(a == a[0]):
        return float(a[0])
    return None


def var_text(model: Model, v: VarDecl) -> str:
    head = "var %s%s" % (v.name, "[%s]" % ", ".join(v.index) if v.index else "")
    lo, hi = _uniform(v.lower), _uniform(v.upper)
    parts = []
    if v.domain == "binary":
        parts.append("binary")
        if lo not in (0.0, None) or hi not in (1.0, None):
            parts.append("in [%s, %s]" % (_fmt_num(lo), _fmt_num(hi)))
    elif v.domain == "integer" and lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
        parts.append("integer in %s..%s" % (_fmt_num(lo), _fmt_num(hi)))
    else:
        if v.domain == "integer":
            parts.append("integer")
        bounds = []
        if lo is None:
            bounds.append(">= [%s]" % _values_text(v.lower))
        elif np.isfinite(lo):
            bounds.append(">= %s" % _fmt_num(lo))
        if hi is None:
            bounds.append("<= [%s]" % _values_text(v.upper))
        elif np.isfinite(hi):
            bounds.append("<= %s" % _fmt_num(hi))
        if bounds:
            parts.append(", ".join(bounds))
    if v.start is not None:
        st = _uniform(v.start)
        parts.append("start %s" % (_fmt_num(st) if st is not None else "[%s]" % _values_text(v.start)))
    n = model.var_size(v.name)
    text = " ".join([head] + parts)
    return text + ("    # %s" % _plural(n, "unknown") if v.index else "")


def _binding_text(c: Constraint) -> str:
    if not c.binding:
        return ""
    inner = ", ".join(expr_text(o) for o in c.binding)
    if c.where is not None and c.where is not sympy.true:
        inner += " : " + expr_text(c.where)
    return "[%s]" % inner


def _region_text(r: Region | None) -> str:
    if r is None:
        return ""
    if r.kind == "all":
        return " on %s" % r.domain
    if r.kind in ("interior", "boundary"):
        return " on %s(%s)" % (r.kind, r.domain)
    return " on %s where %s" % (r.domain, expr_text(r.where))


def relation_text(c: Constraint) -> str:
    """``body <= upper``, ``body >= lower``, ``body == rhs`` or ``lower <= body <= upper``."""
    body = expr_text(c.body)
    s = c.sense
    if s == "==":
        return "%s == %s" % (body, expr_text(c.upper))
    if s == "range":
        return "%s <= %s <= %s" % (expr_text(c.lower), body, expr_text(c.upper))
    if s == "<=":
        return "%s <= %s" % (body, expr_text(c.upper))
    return "%s >= %s" % (body, expr_text(c.lower))


def constraint_text(c: Constraint) -> str:
    return "subject to %s%s%s: %s" % (c.name, _binding_text(c), _region_text(c.region), relation_text(c))


def to_text(model: Model, header: bool = True) -> str:
    """The model as readable ``.lag``-like text (abbreviated data; see the module docstring)."""
    out = []
    if header:
        out.append("model %s" % model.name)
        src = model.source.path if model.source is not None else None
        out.append("# %s, %s, %s (%s), %s%s" % (
            _plural(len(model.sets), "set"), _plural(len(model.params), "param"),
            _plural(len(model.vars), "variable"), _plural(model.num_unknowns, "unknown"),
            _plural(len(model.constraints), "constraint"), ("; from %s" % src) if src else ""))
    if model.sets:
        out.append("")
        for name, s in model.sets.items():
            out.append("set %s = %s    # %s" % (name, set_text(s), _plural(len(s), "element")))
    for name, f in model.set_families.items():
        sizes = [len(m) for m in f.members]
        out.append("set %s(...)    # family over %s, member sizes %s..%s" % (
            name, _plural(len(f.over), "element"), min(sizes, default=0), max(sizes, default=0)))
    if model.params:
        out.append("")
        for name, p in model.params.items():
            if p.is_scalar:
                out.append("param %s = %s" % (name, _fmt_num(p.values)))
            else:
                shape = " x ".join(str(d) for d in np.shape(p.values))
                out.append("param %s[%s]    # %s: %s" % (name, ", ".join(p.index), shape,
                                                        _values_text(p.values)))
    if model.domains or model.fields:
        out.append("")
        for name, d in model.domains.items():
            out.append("domain %s: %s" % (name, ", ".join(
                "%s in [%s, %s]" % (c, _fmt_num(a), _fmt_num(b)) for c, (a, b) in d.coords.items())))
        for name, f in model.fields.items():
            out.append("field %s(%s)    # on %s" % (name, ", ".join(f.coords), f.domain))
    if model.vars:
        out.append("")
        for v in model.vars.values():
            out.append(var_text(model, v))
    if model.objective is not None or model.constraints:
        out.append("")
    if model.objective is not None:
        ob = model.objective
        out.append("%s %s: %s" % (ob.sense, ob.name, expr_text(ob.expr)))
    for c in model.constraints.values():
        out.append(constraint_text(c))
    return "\n".join(out) + "\n"


# --- LaTeX -----------------------------------------------------------------------------------

_REL = {"<=": r"\leq", ">=": r"\geq", "==": "="}


class _LatexPrinter(LatexPrinter):
    """sympy's LaTeX, with ``not (i in S)`` as ``i \\notin S``."""

    def _print_Not(self, expr):
        a = expr.args[0]
        if isinstance(a, Member):
            return r"%s \notin %s" % (self._print(a.args[0]), self._print(a.args[1]))
        return super()._print_Not(expr)


def _latex(e) -> str:
    return _LatexPrinter().doprint(e)


def _name_tex(name: str) -> str:
    return r"\text{%s}" % name.replace("_", r"\_")


def _region_latex(r: Region | None) -> str:
    if r is None:
        return ""
    if r.kind == "all":
        return r"\quad \text{on } %s" % r.domain
    if r.kind == "interior":
        return r"\quad \text{on } \operatorname{int} %s" % r.domain
    if r.kind == "boundary":
        return r"\quad \text{on } \partial %s" % r.domain
    return r"\quad \text{on } %s,\ %s" % (r.domain, _latex(r.where))


def constraint_latex(c: Constraint) -> str:
    """The relation of one constraint (family) with its ``\\forall`` clause."""
    body = _latex(c.body)
    s = c.sense
    if s == "range":
        rel = r"%s \leq %s \leq %s" % (_latex(c.lower), body, _latex(c.upper))
    elif s == "==":
        rel = "%s = %s" % (body, _latex(c.upper))
    elif s == "<=":
        rel = r"%s \leq %s" % (body, _latex(c.upper))
    else:
        rel = r"%s \geq %s" % (body, _latex(c.lower))
    if c.binding:
        rel += r" \quad \forall " + ", ".join(_latex(o) for o in c.binding)
        if c.where is not None and c.where is not sympy.true:
            rel += r" : " + _latex(c.where)
    return rel + _region_latex(c.region)


def to_latex(model: Model) -> str:
    """An ``align*`` environment: the objective (or "find") and one line per constraint."""
    lines = []
    if model.objective is not None:
        ob = model.objective
        lines.append(r"\text{%s} \quad & %s && %s" % (ob.sense, _latex(ob.expr), _name_tex(ob.name)))
    elif model.vars or model.fields:
        names = ", ".join(sympy.latex(sympy.Symbol(n)) for n in list(model.vars) + list(model.fields))
        lines.append(r"\text{find} \quad & %s" % names)
    first = True
    for c in model.constraints.values():
        lead = r"\text{subject to} \quad " if first else ""
        first = False
        lines.append(r"%s& %s && %s" % (lead, constraint_latex(c), _name_tex(c.name)))
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"
