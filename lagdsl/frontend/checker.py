"""Check an AST against its data and elaborate it into the IR (:class:`~lagdsl.ir.model.Model`).

Statements are elaborated in order, so a name is known exactly from its declaration on.
Data is bound as it is met: sets and parameters become arrays at once (formulas are
evaluated vectorised with :class:`~lagdsl.lower.evaluate.Evaluator`), so later set
expressions, ranges and bounds can use them.  Bodies become sympy in the vocabulary of
:mod:`lagdsl.ir.sym`.

Anonymous set expressions that do not depend on bound indices (``I cross J``, ``1..n``,
``{(i, j) in P : i < j}``) are evaluated here and *hoisted* into ``model.sets`` under their
source text, so that every binding of the IR names a set; ``lo..hi`` whose bounds depend on
outer indices stays a :class:`SetRange` and ``G.neighbors(v)`` a :class:`SetFamilyRef`.

Every mistake raises :class:`LagSemanticError` (or the :class:`LagDataError` of
:mod:`lagdsl.frontend.data`) at the position of the offending text, with a hint.
"""
from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field, fields, replace
from types import SimpleNamespace

import numpy as np
import sympy
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational

from ..errors import LagDataError, LagError, LagSemanticError
from ..ir.atoms import ATOMS
from ..ir.builder import constraint_parts, mentions_unknown
from ..ir.derivation import Derivation, Formula, param_reads
from ..ir.model import (Constraint, DomainDecl, FieldDecl, Model, Objective, Region, Source, Span,
                        VarDecl)
from ..ir.sym import (AGG_KINDS, FUNCTIONS, VECTOR_AGG_KINDS, Agg, Member, Over, SetFamilyRef,
                      SetName, SetRange, Str)
from ..ir.values import ParamValue, SetValue, label_clash, norm_element
from ..lower.evaluate import FLOAT_MAX, Evaluator
from ..limits import MAX_EXPRESSION_DEPTH, check_size, expression_depth
from ..lower.rows import Rows
from . import ast
from .data import (DIRECTED_MEMBERS, check_element_number, coerce_param, coerce_set,
                   expand_graph, load_graph)

#: Words a user reads in messages for each kind of name.
KIND_WORDS = {"set": "set", "param": "param", "var": "var", "graph": "graph", "domain": "domain",
              "field": "field", "family": "set family", "constraint": "constraint",
              "objective": "objective"}
#: Built-in constants (names, not keywords).
CONSTANTS = {"pi": sympy.pi, "inf": sympy.oo}
_RELATIONS = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge, "==": sympy.Eq,
              "!=": sympy.Ne}
_SET_OPS = ("..", "cross", "union", "inter", "diff")


@dataclass(frozen=True)
class Scope:
    """What names mean at one point of a body: bound indices, active coordinates (inside a
    region or an integral) and where to record source spans of sub-expressions."""

    indices: dict = field(default_factory=dict)
    coords: dict = field(default_factory=dict)
    spans: dict = field(default_factory=dict)
    owner: str = ""

    def with_indices(self, new: dict) -> "Scope":
        return replace(self, indices={**self.indices, **new})

    def with_coords(self, new: dict) -> "Scope":
        return replace(self, coords={**self.coords, **new})

    def note(self, node, span: Span) -> None:
        """Remember where ``node`` came from (the first occurrence wins)."""
        self.spans.setdefault(node, span)


def walk(node):
    """Every AST node under ``node`` (itself included), depth first, in source order.

    An explicit stack: a 600-term chain ``x + x + ...`` is a 600-deep tree."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        children = []
        for f in fields(node):
            value = getattr(node, f.name)
            items = value if isinstance(value, tuple) else (value,)
            children.extend(v for v in items if isinstance(v, ast.Node))
        stack.extend(reversed(children))


def chain(node, ops: tuple) -> list:
    """The operands of a left-leaning chain of binary ``ops`` (``a + b - c`` is
    ``((a + b) - c)``), in source order, each with the operator before it (None for the
    first): walked with a loop, so a chain of any length costs no recursion."""
    out = []
    while isinstance(node, (ast.BinOp, ast.BoolOp)) and node.op in ops:
        out.append((node.op, node.right))
        node = node.left
    out.append((None, node))
    out.reverse()
    return out


def _binding_names(b: ast.Compare) -> list:
    lhs = b.operands[0]
    return list(lhs.items) if isinstance(lhs, ast.TupleExpr) else [lhs]


def _where(span: Span) -> str:
    return "%d:%d" % (span.line, span.col)


class Checker:
    """Elaborates one :class:`~lagdsl.frontend.ast.Program` with its data into a Model."""

    def __init__(self, program: ast.Program, source: Source, data: dict, graph_dir=None):
        self.program = program
        self.source = source
        self.data = data
        self.graph_dir = graph_dir
        self.model = Model(source=source)
        self.decls: dict[str, tuple[str, Span]] = {}
        self.later: dict[str, Span] = {}
        self.coordinates: dict[str, Span] = {}
        self.bases: dict[str, sympy.IndexedBase] = {}
        self.strings: dict[str, str] = {}      # string-valued scalar params
        self.string_indices: dict[sympy.Symbol, str] = {}
        # what re-solves with new data need to know (lagdsl.ir.derivation); ``reads``
        # collects the params read by whatever is being evaluated now
        self.derivation = Derivation(program, graph_dir)
        self.last_overs: tuple = ()     # the binding of the latest declaration's axes
        self.reads = self.derivation.structural

    # --- driver ----------------------------------------------------------------------------
    def run(self) -> Model:
        """Elaborate every statement in order and return the model."""
        for st in self.program.statements:
            if hasattr(st, "name_span"):
                self.later.setdefault(st.name, st.name_span)
        for k, st in enumerate(self.program.statements):
            try:
                getattr(self, "_stmt_" + type(st).__name__)(st, k)
                self.check_depth(st)
            except RecursionError:
                # chains (a + b + ..., a * b * ..., - - x, not not c) are loops; what is left
                # is brackets around operators nested hundreds deep
                raise self.error("%s nests brackets around operators too deeply for lagdsl "
                                 "(several hundred levels)" % getattr(st, "name", "this statement"),
                                 getattr(st, "name_span", None) or st.span,
                                 "name an inner part as a param, or write it as a longer chain "
                                 "without brackets") from None
            except OverflowError:
                # a JSON integer or literal beyond float64 (10**400) met a float conversion
                span = getattr(st, "name_span", None) or st.span
                raise LagDataError("a number in the data or formula of %s is beyond the range of "
                                   "float64 (about 1.8e308)" % getattr(st, "name", "this statement"),
                                   span, None, self.source) from None
        self.model.derivation = self.derivation
        return self.model

    def check_depth(self, st) -> None:
        """Refuse an objective or constraint whose expression stays deeper than
        :data:`lagdsl.limits.MAX_EXPRESSION_DEPTH` after chains are flattened (brackets
        around products of unknowns nested hundreds deep): what comes after the checker
        recurses once per level."""
        if isinstance(st, ast.ObjectiveStmt):
            exprs = [self.model.objective.expr]
        elif isinstance(st, ast.ConstraintStmt):
            c = self.model.constraints[st.name]
            exprs = [e for e in (c.body, c.lower, c.upper) if e is not None]
        else:
            return
        for e in exprs:
            depth = expression_depth(e)
            if depth > MAX_EXPRESSION_DEPTH:
                raise self.error("%s is nested %d levels deep, more than the %d lagdsl can lower"
                                 % (st.name, depth, MAX_EXPRESSION_DEPTH), st.name_span,
                                 "name an inner part as a variable with an equality constraint")

    # --- errors and names ----------------------------------------------------------------
    def error(self, message: str, span: Span | None, hint: str | None = None) -> LagSemanticError:
        """A positioned semantic error quoting this program's source."""
        return LagSemanticError(message, span, hint, self.source)

    def kind(self, name: str) -> str | None:
        """What ``name`` is declared as (``'set'``, ``'param'`` ...), or None."""
        d = self.decls.get(name)
        return d[0] if d else None

    def check_new(self, name: str, span: Span) -> None:
        """Refuse a declaration whose name is already taken."""
        if name in self.decls:
            kind, at = self.decls[name]
            raise self.error("%s is already declared (as a %s at %s)" % (name, KIND_WORDS[kind], _where(at)),
                             span, "each name is declared once; rename one of them")
        if name in CONSTANTS:
            raise self.error("%s is a built-in constant and cannot be declared" % name, span)
        if name in self.coordinates:
            raise self.error("%s is already a coordinate (declared at %s)" % (name, _where(self.coordinates[name])),
                             span, "rename one of them")

    def declare(self, name: str, kind: str, span: Span) -> None:
        """Enter ``name`` in the namespace and the model's declaration spans."""
        self.decls[name] = (kind, span)
        self.model.decl_spans[name] = span

    def undeclared(self, node: ast.Name, scope: Scope, what: str = "name") -> LagSemanticError:
        """The error for a name that means nothing here, with a 'did you mean'."""
        name = node.name
        if name in self.later:
            at = self.later[name]
            return self.error("%s is used before it is declared" % name, node.span,
                              "it is declared at %s; declare names before using them" % _where(at))
        head = name.split(".")[0]
        member = name[len(head) + 1:]
        if "." in name and self.kind(head) == "graph" and member in DIRECTED_MEMBERS:
            return self.error("%s.%s needs a directed graph; graph %s is undirected" % (head, member, head),
                              node.span, "use %s.neighbors(v) and %s.arcs on an undirected graph, or "
                              "give the graph's data \"directed\": true" % (head, head))
        if "." in name and self.kind(head) == "graph":
            members = sorted(n for n in self.decls if n.startswith(head + "."))
            return self.error("graph %s has no member %s" % (head, name[len(head) + 1:]), node.span,
                              "%s has %s" % (head, ", ".join(members)))
        candidates = list(self.decls) + list(scope.indices) + list(scope.coords)
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        hint = "did you mean %s?" % close[0] if close else None
        if hint is None and scope.coords:
            hint = "the coordinates here are %s" % ", ".join(scope.coords)
        return self.error("undeclared %s %s" % (what, name), node.span, hint)

    def check_fresh(self, node: ast.Name, scope: Scope) -> sympy.Symbol:
        """The symbol of a new index; an index may not shadow a name or an outer index."""
        name = node.name
        if "." in name:
            raise self.error("an index is a plain name, not %s" % name, node.span)
        if name in scope.indices:
            raise self.error("index %s is already bound here" % name, node.span,
                             "use a different name for the inner index")
        if name in self.decls:
            kind, at = self.decls[name]
            raise self.error("index %s shadows the %s %s declared at %s" % (name, KIND_WORDS[kind], name, _where(at)),
                             node.span, "rename the index")
        if name in scope.coords or name in CONSTANTS:
            raise self.error("index %s shadows the %s %s" % (
                name, "coordinate" if name in scope.coords else "constant", name), node.span,
                "rename the index")
        return sympy.Symbol(name)

    def span_text(self, span: Span) -> str:
        """The source text of ``span`` with its whitespace normalised (hoisted set names)."""
        lines = self.source.text.splitlines()
        if span.end_line is None or span.end_col is None:
            return lines[span.line - 1][span.col - 1:]
        if span.line == span.end_line:
            text = lines[span.line - 1][span.col - 1:span.end_col - 1]
        else:
            parts = [lines[span.line - 1][span.col - 1:]] + lines[span.line:span.end_line - 1]
            parts.append(lines[span.end_line - 1][:span.end_col - 1])
            text = " ".join(parts)
        return " ".join(text.split())

    # --- data-only checks ------------------------------------------------------------------
    def require_data(self, e, node, what: str, owner: str = "") -> None:
        """Refuse unknowns in ``what`` (a condition, a subscript, a set, a bound ...)."""
        if not mentions_unknown(self.model, e):
            return
        culprit = node
        for n in walk(node):
            ref = n.base if isinstance(n, ast.Subscript) else n.func if isinstance(n, ast.Call) else n
            if isinstance(ref, ast.Name) and self.kind(ref.name) in ("var", "field"):
                culprit = n
                break
        name = culprit.base.name if isinstance(culprit, ast.Subscript) else (
            culprit.func.name if isinstance(culprit, ast.Call) else getattr(culprit, "name", "?"))
        where = " of %s" % owner if owner else ""
        raise self.error("the unknown %s cannot appear in %s%s" % (name, what, where), culprit.span,
                         "only data (params, sets, indices) may appear in %s" % what)

    def numeric(self, e, node) -> None:
        """Refuse a string where arithmetic needs a number: a string literal, or an index
        whose set holds strings."""
        if isinstance(e, Str):
            raise self.error("the string \"%s\" is used where a number is needed" % e.name, node.span,
                             "strings can be set elements and subscripts, not numbers")
        if isinstance(e, sympy.Symbol) and e in self.string_indices:
            raise self.error("the index %s takes string values (elements of %s) and is used where "
                             "a number is needed" % (e.name, self.string_indices[e]), node.span,
                             "strings can be set elements and subscripts, not numbers")

    def note_string_indices(self, over: Over) -> None:
        """Remember which indices of a new binding range over strings (statements and their
        bindings are checked in order, so the latest binding of a name is the one in scope)."""
        term = over.set
        for k, sym in enumerate(over.indices):
            self.string_indices.pop(sym, None)
            if isinstance(term, SetName):
                members = [self.model.sets[term.name]]
            elif isinstance(term, SetFamilyRef):
                members = self.model.set_families[term.name].members
            else:
                continue
            for m in members:
                col = m.columns()[k] if k < m.arity and len(m) else None
                if col is not None and col.dtype == object and any(isinstance(v, str) for v in col):
                    self.string_indices[sym] = term.name
                    break

    def evaluate(self, e, rows: Rows, node, scope: Scope):
        """Vectorised value of data expression ``e`` over ``rows``; errors point into ``node``."""
        owner = SimpleNamespace(spans=scope.spans, span=node.span)
        if not e.is_Number:
            self.reads |= param_reads(e, self.model.params)
        try:
            return Evaluator(self.model, owner).data(e, rows)
        except LagError as err:
            if err.span is None:
                err.span = node.span
            raise err.with_source(self.source)

    def eval_over(self, node, rows: Rows, scope: Scope, what: str) -> np.ndarray:
        """A numeric data expression evaluated for every row: a float64 array of ``rows.n``."""
        return self.eval_data(self.data_number(node, scope, what), rows, node, scope, what)

    def data_number(self, node, scope: Scope, what: str):
        """The sympy form of a numeric data expression (no unknowns, no strings)."""
        e = self.expr(node, scope)
        self.require_data(e, node, what, scope.owner)
        self.numeric(e, node)
        return e

    def eval_data(self, e, rows: Rows, node, scope: Scope, what: str) -> np.ndarray:
        """:meth:`data_number` ``e`` of ``node`` evaluated for every row (float64, ``rows.n``)."""
        arr = np.asarray(self.evaluate(e, rows, node, scope))
        if arr.dtype == object:
            raise self.error("%s must be a number, not a string" % what, node.span)
        return np.broadcast_to(arr.astype(np.float64), (rows.n,)).copy()

    def eval_number(self, node, what: str) -> float:
        """A scalar data expression (no indices in scope) as a float."""
        return float(self.eval_over(node, Rows.unit(), Scope(), what)[0])

    def eval_int(self, node, what: str) -> int:
        v = self.eval_number(node, what)
        if not float(v).is_integer():
            raise self.error("%s must be an integer, got %s" % (what, v), node.span)
        if abs(v) >= 2.0 ** 63:
            raise self.error("%s must be a 64-bit integer (below about 9.2e18), got %g" % (what, v),
                             node.span)
        return int(v)

    # --- statements ----------------------------------------------------------------------
    def _stmt_ModelStmt(self, st: ast.ModelStmt, k: int) -> None:
        if k != 0:
            raise self.error("'model %s' must be the first statement" % st.name, st.span,
                             "move it to the top of the file")
        self.model.name = st.name

    def _stmt_SetDecl(self, st: ast.SetDecl, k: int) -> None:
        self.check_new(st.name, st.name_span)
        if st.name in self.data or st.value is None:
            # data overrides a declared value, as it does for params
            value = coerce_set(st.name, self.data.get(st.name), st.name_span, self.source)
            self.derivation.data_names.add(st.name)
        else:
            value = self.eval_set(st.value)
        self.model.sets[st.name] = value
        self.declare(st.name, "set", st.name_span)

    def _stmt_ParamDecl(self, st: ast.ParamDecl, k: int) -> None:
        self.check_new(st.name, st.name_span)
        self.no_index_cond(st)
        if self.string_param(st):
            return
        axes, scope, rows = self.decl_axes(st.name, st.index, "param")
        sets = [self.model.sets[a] for a in axes]
        shape = tuple(len(s) for s in sets)
        default = None
        if st.default is not None:
            default = self.eval_over(st.default, rows, scope, "a default").reshape(shape)
            self.derivation.defaults[st.name] = default
        if st.name in self.data:
            values = coerce_param(st.name, tuple(axes), sets, self.data[st.name], default,
                                  st.name_span, self.source, self.graph_dir)
            self.derivation.data_names.add(st.name)
        elif isinstance(st.value, ast.ListLiteral):
            values = coerce_param(st.name, tuple(axes), sets, self.list_values(st.value), default,
                                  st.value.span, self.source)
        elif st.value is not None:
            values = self.formula(st, rows, scope).reshape(shape)
        else:
            values = coerce_param(st.name, tuple(axes), sets, None, default, st.name_span, self.source)
        self.model.params[st.name] = ParamValue(tuple(axes), np.asarray(values, dtype=np.float64))
        self.declare(st.name, "param", st.name_span)

    def string_param(self, st: ast.ParamDecl) -> bool:
        """``param s`` whose value is a string (``"s": "a"`` in the data, or ``param s =
        "a"``): an element, such as a graph's source node, written into every body that
        uses it (a new value means elaborating again: ``Derivation.strings``)."""
        raw = self.data.get(st.name, st.value.value if isinstance(st.value, ast.String) else None)
        if not isinstance(raw, str) or not (st.value is None or isinstance(st.value, ast.String)):
            return False        # a param declared with a number takes numbers only
        if st.index:
            raise LagDataError("param %s is indexed; data gives it the string %s" % (
                st.name, json.dumps(raw)), st.name_span, "string values are for scalar params "
                "(an element such as a source node); an indexed param holds numbers", self.source)
        if st.default is not None:
            raise self.error("param %s takes a string; a default must be a number" % st.name,
                             st.default.span)
        self.strings[st.name] = raw
        self.derivation.strings[st.name] = raw
        self.declare(st.name, "param", st.name_span)
        return True

    def formula(self, st: ast.ParamDecl, rows: Rows, scope: Scope) -> np.ndarray:
        """Evaluate ``param NAME[...] = expr`` and record it (its body, binding and reads)
        so that a re-solve can evaluate it again on new data."""
        outer, self.reads = self.reads, set()
        try:
            e = self.data_number(st.value, scope, "a parameter formula")
            values = self.eval_data(e, rows, st.value, scope, "a parameter formula")
        finally:
            reads, self.reads = self.reads, outer
        self.derivation.formulas[st.name] = Formula(st.name, e, self.last_overs, scope.spans,
                                                    st.value.span, frozenset(reads))
        return values

    def list_values(self, lit: ast.ListLiteral) -> list:
        """An inline ``[...]`` as nested lists of floats (``coerce_param`` checks the shape)."""
        return [self.list_values(i) if isinstance(i, ast.ListLiteral)
                else self.eval_number(i, "a parameter value") for i in lit.items]

    def no_index_cond(self, st) -> None:
        if st.index_cond is not None:
            raise self.error("the index of %s cannot have a ':' condition" % st.name,
                             st.index_cond.span, "filter a set instead: set P = {i in I : ...}")

    def decl_axes(self, owner: str, items: tuple, kind: str):
        """The axes of a declaration's ``[...]``: set names (anonymous ones hoisted), the
        scope with the named indices, and the rows of the product in row-major order."""
        scope = Scope(owner="%s %s" % (kind, owner))
        axes, overs = [], []
        for k, item in enumerate(items):
            names = _binding_names(item) if ast.is_binding(item) else None
            set_node = item.operands[1] if names else item
            dep = self.dependency(set_node, scope)
            if dep is not None:
                raise self.error("the index set of %s cannot depend on the index %s" % (owner, dep.name),
                                 dep.span, "declare over a fixed set and filter in the constraints")
            axis = self.static_set(set_node)
            arity = self.model.sets[axis].arity
            if names is None:
                syms = [sympy.Symbol("%s#%d.%d" % (owner, k, c)) for c in range(arity)]
            else:
                self.check_arity(names, arity, axis, item)
                syms = [self.check_fresh(n, scope) for n in names]
                scope = scope.with_indices({n.name: s for n, s in zip(names, syms)})
            overs.append(Over(sympy.Tuple(*syms), SetName(sympy.Symbol(axis))))
            self.note_string_indices(overs[-1])
            axes.append(axis)
        if items:
            first, last = items[0].span, items[-1].span
            self.check_size(math.prod(len(self.model.sets[a]) for a in axes), "%s %s" % (kind, owner),
                            Span(first.file, first.line, first.col, last.end_line, last.end_col))
        rows, _ = Evaluator(self.model).bind(Rows.unit(), overs, None)
        self.last_overs = tuple(overs)  # how to bind the rows again (a formula, on new data)
        return axes, scope, rows

    def check_size(self, n: int, what: str, span: Span) -> None:
        """Refuse ``what`` of ``n`` elements beyond :func:`lagdsl.limits.max_elements`,
        before it is built."""
        try:
            check_size(n, what, span)
        except LagError as err:
            raise err.with_source(self.source)

    def check_arity(self, names: list, arity: int, set_text: str, node) -> None:
        if len(names) != arity:
            raise self.error("the binding names %d ind%s but the elements of %s have %d component%s"
                             % (len(names), "ex" if len(names) == 1 else "ices", set_text, arity,
                                "" if arity == 1 else "s"), node.span,
                             "write (%s) in %s" % (", ".join("i%d" % (k + 1) for k in range(arity)), set_text)
                             if arity > 1 else None)

    def _stmt_VarDecl(self, st: ast.VarDecl, k: int) -> None:
        self.check_new(st.name, st.name_span)
        self.no_index_cond(st)
        axes, scope, rows = self.decl_axes(st.name, st.index, "var")
        domain = st.domain or "real"
        lo, hi = np.full(rows.n, -np.inf), np.full(rows.n, np.inf)
        if domain == "binary":
            lo[:], hi[:] = 0.0, 1.0
        for b in st.bounds:
            blo, bhi = self.bound_values(b, rows, scope)
            lo, hi = np.maximum(lo, blo), np.minimum(hi, bhi)
        start = None if st.start is None else self.eval_over(st.start, rows, scope, "a start value")
        if start is not None and not np.isfinite(start).all():
            raise self.error("the start value of %s is %g: a start value must be finite" % (
                st.name, start[np.flatnonzero(~np.isfinite(start))[0]]), st.start.span)
        bad = np.flatnonzero(lo > hi)
        if bad.size:
            where = self.row_label(axes, int(bad[0]))
            raise self.error("var %s%s has lower bound %g above its upper bound %g" % (
                st.name, where, lo[bad[0]], hi[bad[0]]), st.name_span)
        self.refuse_label_clash([self.model.sets[a] for a in axes], "var", st,
                                "the elements", "results and exports key elements")
        self.model.vars[st.name] = VarDecl(st.name, tuple(axes), domain, lo, hi, start, st.name_span)
        self.declare(st.name, "var", st.name_span)

    def row_label(self, axes: list, flat: int) -> str:
        """``[2, "b"]`` for row ``flat`` of the product of ``axes`` (empty for a scalar)."""
        if not axes:
            return ""
        sets = [self.model.sets[a] for a in axes]
        pos = np.unravel_index(flat, tuple(len(s) for s in sets))
        return "[%s]" % ", ".join(s.label(int(p)) for s, p in zip(sets, pos))

    def bound_values(self, b: ast.Bound, rows: Rows, scope: Scope):
        """(lower, upper) arrays from one bound clause."""
        inf = np.full(rows.n, np.inf)
        if b.kind == ">=":
            return self.bound_side(b.lo, rows, scope, "lower"), inf
        if b.kind == "<=":
            return -inf, self.bound_side(b.lo, rows, scope, "upper")
        if b.kind == "interval":
            return (self.bound_side(b.lo, rows, scope, "lower"),
                    self.bound_side(b.hi, rows, scope, "upper"))
        if isinstance(b.lo, ast.BinOp) and b.lo.op == "..":
            return (self.bound_side(b.lo.left, rows, scope, "lower"),
                    self.bound_side(b.lo.right, rows, scope, "upper"))
        raise self.error("a variable's 'in' takes an interval [lo, hi] or a range lo..hi", b.lo.span)

    def bound_side(self, node, rows: Rows, scope: Scope, side: str) -> np.ndarray:
        """One side of a variable's bounds; ``-inf`` below and ``inf`` above mean "no
        bound", the other infinity no value can meet."""
        v = self.eval_over(node, rows, scope, "a bound")
        wrong = np.isposinf(v) if side == "lower" else np.isneginf(v)
        if wrong.any():
            r = int(np.flatnonzero(wrong)[0])
            where = ", ".join("%s=%s" % (k, c[r]) for k, c in rows.cols.items()
                              if "#" not in str(k))
            raise self.error("%s has %s bound of %s: no number can meet it%s" % (
                scope.owner, "a lower" if side == "lower" else "an upper",
                "inf" if side == "lower" else "-inf", " (at %s)" % where if where else ""),
                node.span, "inf means \"no bound\" as an upper bound, -inf as a lower bound")
        return v

    def _stmt_GraphDecl(self, st: ast.GraphDecl, k: int) -> None:
        self.check_new(st.name, st.name_span)
        try:
            G = load_graph(st.name, self.data.get(st.name), self.graph_dir, st.name_span, self.source)
            sets, params, families = expand_graph(st.name, G)
        except LagError as err:
            if err.span is None:
                err.span = st.name_span
            raise err.with_source(self.source)
        self.derivation.graphs[st.name] = G
        for table, kind, values in ((self.model.sets, "set", sets), (self.model.params, "param", params),
                                    (self.model.set_families, "family", families)):
            for name, value in values.items():
                table[name] = value
                self.declare(name, kind, st.name_span)
        self.declare(st.name, "graph", st.name_span)

    def _stmt_DomainDecl(self, st: ast.DomainDecl, k: int) -> None:
        self.check_new(st.name, st.name_span)
        coords = {}
        for c in st.coords:
            if c.name in coords:
                raise self.error("coordinate %s is given twice in domain %s" % (c.name, st.name), c.span)
            if c.name in self.decls:
                kind, at = self.decls[c.name]
                raise self.error("coordinate %s clashes with the %s %s declared at %s" % (
                    c.name, KIND_WORDS[kind], c.name, _where(at)), c.span, "rename the coordinate")
            lo = self.eval_number(c.lo, "a domain bound")
            hi = self.eval_number(c.hi, "a domain bound")
            for v, n in ((lo, c.lo), (hi, c.hi)):
                if not math.isfinite(v):
                    raise self.error("a domain bound must be finite, not %g" % v, n.span,
                                     "a field lives on a bounded box")
            if not lo < hi:
                raise self.error("coordinate %s of domain %s has an empty interval [%g, %g]" % (
                    c.name, st.name, lo, hi), c.span, "write [lo, hi] with lo < hi")
            coords[c.name] = (lo, hi)
        for c in st.coords:
            self.coordinates.setdefault(c.name, c.span)
        self.model.domains[st.name] = DomainDecl(st.name, coords, st.name_span)
        self.declare(st.name, "domain", st.name_span)

    def _stmt_FieldDecl(self, st: ast.FieldDecl, k: int) -> None:
        self.check_new(st.name, st.name_span)
        names = [c.name for c in st.coords]
        for c in st.coords:
            if c.name not in self.coordinates:
                known = ", ".join(self.coordinates) or "none yet"
                raise self.error("unknown coordinate %s in field %s" % (c.name, st.name), c.span,
                                 "declared coordinates: %s (declare a domain first: domain D: %s in [0, 1])"
                                 % (known, c.name))
            if names.count(c.name) > 1:
                raise self.error("coordinate %s is given twice in field %s" % (c.name, st.name), c.span)
        domain = next((d.name for d in self.model.domains.values() if set(names) <= set(d.coords)), None)
        if domain is None:
            raise self.error("no domain has all of the coordinates %s of field %s" % (", ".join(names), st.name),
                             st.name_span, "a field lives on one domain: declare domain D: %s"
                             % ", ".join("%s in [0, 1]" % n for n in names))
        self.model.fields[st.name] = FieldDecl(st.name, tuple(names), domain, st.name_span)
        self.declare(st.name, "field", st.name_span)

    def _stmt_ObjectiveStmt(self, st: ast.ObjectiveStmt, k: int) -> None:
        if self.model.objective is not None:
            first = self.model.objective
            raise self.error("a second objective %s: the model already has %s %s at %s" % (
                st.name, first.sense, first.name, _where(first.span)), st.span,
                "a model has at most one objective; combine them or make one a constraint")
        self.check_new(st.name, st.name_span)
        scope = Scope(owner="objective %s" % st.name)
        e = self.expr(st.expr, scope)
        self.model.objective = Objective(st.name, st.sense, e, st.name_span, scope.spans)
        self.declare(st.name, "objective", st.name_span)

    def _stmt_ConstraintStmt(self, st: ast.ConstraintStmt, k: int) -> None:
        self.check_new(st.name, st.name_span)
        scope = Scope(owner="constraint %s" % st.name)
        overs, scope, cond = self.bindings(st.index, st.index_cond, scope)
        region = None
        if st.region is not None:
            region, scope = self.region(st.region, scope)
        body, lower, upper = self.relation(st.expr, scope)
        self.check_bounds(st, lower, upper, scope)
        self.check_row_labels(st, overs)
        self.model.constraints[st.name] = Constraint(
            st.name, body, lower, upper, tuple(overs), cond, region, st.name_span, scope.spans)
        self.declare(st.name, "constraint", st.name_span)

    def check_row_labels(self, st, overs) -> None:
        """Refuse a constraint family two of whose rows would print the same label (``1`` and
        ``"1"`` both print ``c[1]``): duals, exports and solver row names key rows by it.
        Over a product of named sets the whole product is checked, else each named set (a
        range or a graph's neighbours cannot clash where their sets do not)."""
        named = [self.model.sets[o.set.name] for o in overs
                 if isinstance(o.set, SetName) and o.set.name in self.model.sets]
        groups = [named] if named and len(named) == len(overs) else [[s] for s in named]
        for sets in groups:
            self.refuse_label_clash(sets, "constraint", st, "the rows", "duals and exports key rows")

    def refuse_label_clash(self, sets, kind: str, st, what: str, why: str) -> None:
        """A data error when two elements of the product of ``sets`` print the same label
        (:func:`lagdsl.ir.values.label_clash`), naming both, at ``st``'s name."""
        clash = label_clash(sets)
        if clash is not None:
            raise LagDataError(
                "%s %s has %s %r and %r, which both print as %s[%s]; %s by that label, so it "
                "must be unique" % (kind, st.name, what, clash[0], clash[1], st.name, clash[2], why),
                st.name_span, "make the elements distinct as text (e.g. all numbers or all strings)",
                self.model.source)

    def relation(self, node, scope: Scope):
        """``(body, lower, upper)`` of a constraint's relation (one or a ranged pair)."""
        if not isinstance(node, ast.Compare):
            raise self.error("a constraint needs a relation: lhs <= rhs, lhs >= rhs or lhs == rhs",
                             node.span)
        for op, sp in zip(node.ops, node.op_spans):
            if op in ("<", ">"):
                raise self.error("strict inequality '%s' in a constraint" % op, sp,
                                 "constraints use <=, >= or ==")
            if op in ("!=", "in", "not in"):
                raise self.error("'%s' cannot be a constraint" % op, sp, "constraints use <=, >= or ==")
        terms = [self.expr(o, scope) for o in node.operands]
        for t, o in zip(terms, node.operands):
            self.numeric(t, o)
        if len(node.ops) == 1:
            return constraint_parts(self.model, terms[0], node.ops[0], terms[1])
        if len(node.ops) > 2 or node.ops[0] != node.ops[1] or node.ops[0] == "==":
            raise self.error("a ranged constraint is lo <= expr <= hi (or hi >= expr >= lo)",
                             node.op_spans[1])
        lo, body, hi = terms
        lo_node, hi_node = node.operands[0], node.operands[2]
        if node.ops[0] == ">=":
            lo, hi, lo_node, hi_node = hi, lo, hi_node, lo_node
        for t, o in ((lo, lo_node), (hi, hi_node)):
            self.require_data(t, o, "a range bound", scope.owner)
        return body, lo, hi

    def check_bounds(self, st, lower, upper, scope: Scope) -> None:
        """A constant bound of inf below (``x >= inf``) or -inf above cannot be met; say so
        here rather than let the row be dropped as free.  Data bounds are checked when
        the constraint is lowered (:func:`lagdsl.lower.instance.bound_vector`)."""
        for bound, bad, side in ((lower, sympy.oo, "lower"), (upper, sympy.S.NegativeInfinity, "upper")):
            if bound is bad:
                raise self.error("constraint %s has %s bound of %s: no number can meet it" % (
                    st.name, "a lower" if side == "lower" else "an upper",
                    "inf" if side == "lower" else "-inf"), scope.spans.get(bound, st.name_span),
                    "inf means \"no bound\" only as an upper bound (x <= inf), -inf only as a "
                    "lower bound")

    def region(self, r: ast.RegionAst, scope: Scope):
        """The :class:`Region` of ``on ...`` and the scope with its coordinates."""
        term, kind = r.term, "all"
        if isinstance(term, ast.Call) and term.func.name in ("interior", "boundary") and len(term.args) == 1:
            kind, term = term.func.name, term.args[0]
        if not isinstance(term, ast.Name):
            raise self.error("a region is D, interior(D), boundary(D) or D where COND", r.term.span)
        if self.kind(term.name) != "domain":
            if self.kind(term.name) is None:
                raise self.undeclared(term, scope, "domain")
            raise self.error("%s is a %s, not a domain" % (term.name, KIND_WORDS[self.kind(term.name)]),
                             term.span, "declare one: domain D: x in [0, 1]")
        dom = self.model.domains[term.name]
        for c in dom.coords:
            if c in scope.indices:
                raise self.error("index %s shadows the coordinate %s of domain %s" % (c, c, dom.name),
                                 r.span, "rename the index")
        inner = scope.with_coords({c: sympy.Symbol(c) for c in dom.coords})
        where = None
        if r.where is not None:
            if kind != "all":
                raise self.error("'where' restricts a plain domain: on %s where ..." % dom.name, r.where.span)
            where, kind = self.condition(r.where, inner), "where"
        return Region(dom.name, kind, where), inner

    # --- bindings and sets ---------------------------------------------------------------
    def bindings(self, args: tuple, cond, scope: Scope):
        """``Over`` terms of ``i in S, (j, k) in T`` (each may use the earlier indices), the
        scope inside, and the ``: cond`` as sympy (None when absent)."""
        overs = []
        for a in args:
            if not ast.is_binding(a):
                raise self.error("expected an index binding such as i in I", a.span,
                                 "bind indices with 'in': sum(i in I) ..., subject to c[i in I]: ...")
            names = _binding_names(a)
            term = self.set_term(a.operands[1], scope)
            self.check_arity(names, self.term_arity(term), self.span_text(a.operands[1].span), a)
            new = {}
            for n in names:
                if n.name in new:
                    raise self.error("index %s is bound twice" % n.name, n.span)
                new[n.name] = self.check_fresh(n, scope)
            scope = scope.with_indices(new)
            overs.append(Over(sympy.Tuple(*new.values()), term))
            self.note_string_indices(overs[-1])
        cond_sym = None if cond is None else self.condition(cond, scope)
        return overs, scope, cond_sym

    def term_arity(self, term) -> int:
        if isinstance(term, SetName):
            return self.model.sets[term.name].arity
        if isinstance(term, SetFamilyRef):
            members = self.model.set_families[term.name].members
            return members[0].arity if members else 1
        return 1

    def dependency(self, node, scope: Scope):
        """The first name in ``node`` that is a bound index of ``scope`` (None if none)."""
        for n in walk(node):
            if isinstance(n, ast.Name) and n.name in scope.indices:
                return n
        return None

    def set_term(self, node, scope: Scope):
        """The IR set term of a binding's set: a (possibly hoisted) :class:`SetName`, or a
        :class:`SetRange` / :class:`SetFamilyRef` when it depends on bound indices."""
        dep = self.dependency(node, scope)
        if dep is None:
            return SetName(sympy.Symbol(self.static_set(node)))
        if isinstance(node, ast.BinOp) and node.op == "..":
            term = SetRange(self.data_expr(node.left, scope, "a range bound"),
                            self.data_expr(node.right, scope, "a range bound"))
            scope.note(term, node.span)
            return term
        if isinstance(node, ast.Call) and self.kind(node.func.name) == "family":
            return self.family_ref(node, scope)
        if isinstance(node, ast.Call) and self.kind(node.func.name) is None:
            raise self.undeclared(node.func, scope, "set family")
        raise self.error("this set depends on the index %s" % dep.name, node.span,
                         "a set that changes with an outer index must be a range lo..hi or "
                         "a neighbour set G.neighbors(v); filter with ':' instead")

    def family_ref(self, node: ast.Call, scope: Scope) -> SetFamilyRef:
        name = node.func.name
        fam = self.model.set_families[name]
        if node.cond is not None or len(node.args) != fam.over.arity:
            raise self.error("%s takes %d argument%s" % (name, fam.over.arity, "" if fam.over.arity == 1 else "s"),
                             node.span)
        subs = [self.data_expr(a, scope, "a subscript") for a in node.args]
        term = SetFamilyRef(sympy.Symbol(name), sympy.Tuple(*subs))
        scope.note(term, node.span)
        return term

    def static_set(self, node) -> str:
        """The name of a set that does not depend on indices: a declared name, or the
        source text under which the evaluated set is hoisted into ``model.sets``."""
        if isinstance(node, ast.Name):
            kind = self.kind(node.name)
            if kind == "set":
                return node.name
            if kind is None:
                raise self.undeclared(node, Scope(), "set")
            hint = "use %s.nodes, %s.edges or %s.arcs" % ((node.name,) * 3) if kind == "graph" else None
            raise self.error("%s is a %s, not a set" % (node.name, KIND_WORDS[kind]), node.span, hint)
        key = self.span_text(node.span)
        if key not in self.model.sets:
            self.model.sets[key] = self.eval_set(node)
        return key

    def eval_set(self, node) -> SetValue:
        """The value of a set expression without free indices."""
        if isinstance(node, ast.Name):
            return self.model.sets[self.static_set(node)]
        if isinstance(node, ast.BinOp) and node.op == "..":
            lo, hi = self.eval_int(node.left, "a range bound"), self.eval_int(node.right, "a range bound")
            self.check_size(hi - lo + 1, "the range %d..%d" % (lo, hi), node.span)
            return SetValue.from_range(lo, hi)
        if isinstance(node, ast.BinOp) and node.op in _SET_OPS:
            a, b = self.eval_set(node.left), self.eval_set(node.right)
            n = len(a) * len(b) if node.op == "cross" else len(a) + len(b)
            self.check_size(n, "the set `%s`" % self.span_text(node.span), node.span)
            return self.set_operation(node, a, b)
        if isinstance(node, ast.SetLiteral):
            return self.comprehension(node) if node.is_comprehension else self.set_literal(node)
        if isinstance(node, ast.Call) and self.kind(node.func.name) == "family":
            return self.family_member(node)
        if isinstance(node, ast.Call) and self.kind(node.func.name) is None:
            raise self.undeclared(node.func, Scope(), "set family")
        raise self.error("expected a set", node.span,
                         "a set is a name, a range 1..n, a literal {\"a\", \"b\"}, a comprehension "
                         "{i in I : cond} or a combination with cross, union, inter, diff")

    def set_operation(self, node: ast.BinOp, a: SetValue, b: SetValue) -> SetValue:
        if node.op == "cross":
            elems = [_flat(x) + _flat(y) for x in a.elements for y in b.elements]
            return SetValue.from_elements(elems) if elems else SetValue([], a.arity + b.arity)
        if a.arity != b.arity and len(a) and len(b):
            raise self.error("%s of sets whose elements have %d and %d components" % (node.op, a.arity, b.arity),
                             node.span)
        if node.op == "union":
            elems = a.elements + [e for e in b.elements if e not in a]
        elif node.op == "inter":
            elems = [e for e in a.elements if e in b]
        else:
            elems = [e for e in a.elements if e not in b]
        return SetValue.from_elements(elems) if elems else SetValue([], a.arity)

    def set_literal(self, node: ast.SetLiteral) -> SetValue:
        elems = [self.element(i) for i in node.items]
        if not elems:
            return SetValue([], 1)
        arities = {len(e) if isinstance(e, tuple) else 1 for e in elems}
        if len(arities) > 1:
            raise self.error("the elements of a set must all have the same number of components",
                             node.span)
        return SetValue.from_elements(elems)

    def element(self, node):
        """A constant set element: a number, a string or a tuple of them."""
        if isinstance(node, ast.String):
            return node.value
        if isinstance(node, ast.Name) and node.name in self.strings:
            return self.strings[node.name]
        if isinstance(node, ast.TupleExpr):
            return tuple(self.element(i) for i in node.items)
        if isinstance(node, ast.Compare):
            raise self.error("expected a set element, got a condition", node.span,
                             "a comprehension binds every item: {i in I : cond}")
        v = self.eval_number(node, "a set element")
        check_element_number("the set element", v, node.span, self.source)
        return norm_element(v)

    def comprehension(self, node: ast.SetLiteral) -> SetValue:
        """``{(i, j) in I cross J : cond}``: the bound tuples where ``cond`` holds."""
        scope = Scope()
        overs, scope, cond = self.bindings(node.items, node.cond, scope)
        owner = SimpleNamespace(spans=scope.spans, span=node.span)
        for part in (cond, *overs):
            self.reads |= param_reads(part, self.model.params)
        try:
            rows, _ = Evaluator(self.model, owner).bind(Rows.unit(), overs, cond)
        except LagError as err:
            if err.span is None:
                err.span = node.span
            raise err.with_source(self.source)
        syms = [s for o in overs for s in o.indices]
        cols = [np.asarray(rows.cols[s]).tolist() for s in syms]
        elems = list(zip(*cols)) if len(syms) > 1 else cols[0]
        return SetValue.from_elements(elems) if elems else SetValue([], len(syms))

    def family_member(self, node: ast.Call) -> SetValue:
        fam = self.model.set_families[node.func.name]
        if len(node.args) != fam.over.arity:
            raise self.error("%s takes %d argument%s" % (node.func.name, fam.over.arity,
                             "" if fam.over.arity == 1 else "s"), node.span)
        key = tuple(self.element(a) for a in node.args)
        key = key[0] if len(key) == 1 else key
        pos = fam.over.index().get(norm_element(key))
        if pos is None:
            raise self.error("%s(%s) is not defined: the element is not in %s" % (
                node.func.name, key, node.func.name.split(".")[0] + ".nodes"), node.span)
        return fam.members[pos]

    # --- conditions ----------------------------------------------------------------------
    def condition(self, node, scope: Scope, what: str = "a condition"):
        """A data condition as sympy (relationals, And/Or/Not, :class:`Member`); ``what``
        names it in the error for an unknown in it."""
        if isinstance(node, ast.BoolOp):
            # `a and b and c ...` as one n-ary And: no recursion along the chain
            parts = [self.condition(o, scope, what) for _op, o in chain(node, (node.op,))]
            return sympy.And(*parts) if node.op == "and" else sympy.Or(*parts)
        if isinstance(node, ast.Not):
            negate = False
            while isinstance(node, ast.Not):
                node, negate = node.operand, not negate
            inner = self.condition(node, scope, what)
            return sympy.Not(inner) if negate else inner
        if isinstance(node, ast.IfExpr):
            # a conditional between conditions: (c and a) or (not c and b)
            c = self.condition(node.cond, scope, "the condition of 'if'")
            a, b = self.condition(node.then_, scope, what), self.condition(node.else_, scope, what)
            return sympy.Or(sympy.And(c, a), sympy.And(sympy.Not(c), b))
        if not isinstance(node, ast.Compare):
            raise self.error("expected a condition", node.span,
                             "a condition compares data (i < j, c[i] == 0) or tests i in S")
        parts = []
        for k, op in enumerate(node.ops):
            a, b = node.operands[k], node.operands[k + 1]
            if op in ("in", "not in"):
                member = Member(self.element_expr(a, scope, what), self.set_term(b, scope))
                parts.append(member if op == "in" else sympy.Not(member))
                continue
            la, lb = self.expr(a, scope), self.expr(b, scope)
            self.require_data(la, a, what, scope.owner)
            self.require_data(lb, b, what, scope.owner)
            rel = _RELATIONS[op](la, lb)
            if isinstance(rel, Relational):     # where an element compared with data fails
                scope.note(rel, Span(a.span.file, a.span.line, a.span.col, b.span.end_line, b.span.end_col))
            parts.append(rel)
        return sympy.And(*parts)

    def element_expr(self, node, scope: Scope, what: str = "a condition"):
        """The left side of ``in``: a data expression or a tuple of them."""
        if isinstance(node, ast.TupleExpr):
            return sympy.Tuple(*(self.data_expr(i, scope, what) for i in node.items))
        return self.data_expr(node, scope, what)

    # --- expressions ---------------------------------------------------------------------
    def data_expr(self, node, scope: Scope, what: str):
        """An expression that must not mention unknowns."""
        e = self.expr(node, scope)
        if not (e.is_Number or isinstance(e, Str)):     # a literal is data: skip the walk
            self.require_data(e, node, what, scope.owner)
        return e

    def expr(self, node, scope: Scope):
        """A numeric expression as sympy (the dispatcher of the ``_x_*`` methods)."""
        return getattr(self, "_x_" + type(node).__name__)(node, scope)

    def _x_Number(self, node: ast.Number, scope: Scope):
        v = node.value
        if not math.isfinite(v if isinstance(v, float) else float(min(abs(v), 10 ** 309))):
            raise self.error("the number %s is beyond the range of float64 (about 1.8e308)"
                             % _short_text(self.span_text(node.span)), node.span,
                             "write inf for \"no bound\"; other numbers must be finite")
        return sympy.Integer(v) if isinstance(v, int) else sympy.Float(v)

    def _x_String(self, node: ast.String, scope: Scope):
        return Str(node.value)

    def _x_Name(self, node: ast.Name, scope: Scope):
        name = node.name
        if name in scope.indices:
            return scope.indices[name]
        if name in scope.coords:
            return scope.coords[name]
        if name in CONSTANTS:
            scope.note(CONSTANTS[name], node.span)
            return CONSTANTS[name]
        kind = self.kind(name)
        if kind is None:
            raise self.undeclared(node, scope)
        if name in self.strings:
            return Str(self.strings[name])
        if kind in ("param", "var"):
            decl = self.model.params[name] if kind == "param" else self.model.vars[name]
            if decl.index:
                raise self.error("%s %s is indexed over %s: write %s[...]" % (
                    kind, name, " x ".join(decl.index), name), node.span)
            return sympy.Symbol(name)
        if kind == "field":
            return self.field_here(node, scope)
        raise self.error("%s is a %s, not a number" % (name, KIND_WORDS[kind]), node.span)

    def _x_Subscript(self, node: ast.Subscript, scope: Scope):
        name = node.base.name
        kind = self.kind(name)
        if name in scope.indices or name in scope.coords:
            raise self.error("%s is an index and takes no subscripts" % name, node.span)
        if kind is None:
            raise self.undeclared(node.base, scope)
        if name in self.strings:
            raise self.error("param %s is a string (%s) and takes no subscripts" % (
                name, json.dumps(self.strings[name])), node.span)
        if kind not in ("param", "var"):
            raise self.error("%s is a %s; only params and vars take subscripts" % (name, KIND_WORDS[kind]),
                             node.span, "write %s(...) to evaluate a field" % name if kind == "field" else None)
        decl = self.model.params[name] if kind == "param" else self.model.vars[name]
        arity = sum(self.model.sets[s].arity for s in decl.index)
        if not decl.index:
            raise self.error("%s %s is a scalar and takes no subscripts" % (kind, name), node.span)
        if len(node.subs) != arity:
            raise self.error("%s %s takes %d subscript%s (its index %s %s), got %d" % (
                kind, name, arity, "" if arity == 1 else "s", "sets are" if len(decl.index) > 1 else "set is",
                ", ".join(decl.index), len(node.subs)), node.span)
        subs = [self.data_expr(s, scope, "a subscript") for s in node.subs]
        base = self.bases.get(name)
        if base is None:        # one IndexedBase per name: 100,000 subscripts build it once
            base = self.bases[name] = sympy.IndexedBase(name)
        e = base[tuple(subs)]
        scope.note(e, node.span)
        return e

    def _x_Call(self, node: ast.Call, scope: Scope):
        f = node.func.name
        if node.cond is not None:
            raise self.error("a ':' condition belongs to an aggregate", node.cond.span,
                             "e.g. sum(i in I : c[i] > 0) x[i]")
        if f == "d":
            return self.derivative(node, scope)
        if f == "laplacian":
            return self.laplacian(node, scope)
        if self.kind(f) == "field":
            return self.field_call(node, scope)
        if f in FUNCTIONS:
            return self.function(node, scope)
        if f in AGG_KINDS or f in VECTOR_AGG_KINDS or f == "integral":
            raise self.error("%s needs a body after its bindings" % f, node.span,
                             "e.g. %s(i in I) x[i]" % f if f != "integral" else "e.g. integral(D) u ^ 2")
        if self.kind(f) == "family":
            raise self.error("%s(...) is a set, not a number" % f, node.span,
                             "use it in a binding: sum(u in %s(v)) ..." % f)
        if f in ("interior", "boundary"):
            raise self.error("%s(...) is a region; it goes after 'on'" % f, node.span)
        if self.kind(f) is not None or f in scope.indices:
            kind = KIND_WORDS.get(self.kind(f), "index")
            raise self.error("%s is a %s, not a function" % (f, kind), node.func.span,
                             "subscripts use brackets: %s[...]" % f if kind in ("param", "var") else None)
        names = list(FUNCTIONS) + ["d", "laplacian"] + list(self.model.fields)
        close = difflib.get_close_matches(f, names, n=1, cutoff=0.6)
        raise self.error("unknown function %s" % f, node.func.span,
                         "did you mean %s?" % close[0] if close else
                         "functions: %s" % ", ".join(sorted(FUNCTIONS)))

    def function(self, node: ast.Call, scope: Scope):
        f = node.func.name
        n = len(node.args)
        atom = ATOMS.get(f)
        if atom is not None:
            lo, hi = atom.nargs
            if not lo <= n <= hi:
                want = "%d argument%s" % (lo, "" if lo == 1 else "s") if lo == hi else \
                    "%d or %d arguments" % (lo, hi)
                raise self.error("%s takes %s, got %d" % (f, want, n), node.span,
                                 "%s(%s) = %s" % (f, atom.signature, atom.meaning))
        elif (f in ("min", "max") and n < 2) or (f not in ("min", "max") and n != 1):
            want = "at least 2 arguments" if f in ("min", "max") else "1 argument"
            hint = "for the %s over a set write %s(i in I) body" % (f, f) if f in ("min", "max") else None
            raise self.error("%s takes %s, got %d" % (f, want, n), node.span, hint)
        args = [self.expr(a, scope) for a in node.args]
        for a, an in zip(args, node.args):
            self.numeric(a, an)
        if atom is not None:
            for k in atom.data_args:
                if k < n and (mentions_unknown(self.model, args[k])):
                    raise self.error("argument %d of %s must be data, not an expression of unknowns"
                                     % (k + 1, f), node.args[k].span,
                                     "%s's threshold is a constant: %s" % (f, atom.domain))
            args += [sympy.sympify(d) for d in atom.defaults[len(atom.defaults) - (atom.nargs[1] - n):]] \
                if n < atom.nargs[1] else []
        if all(_is_num(a) for a in args):
            self.guard_function(f, args, node)
        out = FUNCTIONS[f](*args)
        if all(_is_num(a) for a in args):
            self.check_folded(out, node)
        scope.note(out, node.span)
        return out

    def graft_negated_body(self, left, right):
        """``sum(i in I) -x[i]`` parses as the call ``sum(i in I)`` minus ``x[i]``: the grammar
        cannot tell a body's sign from a subtraction.  A bodiless aggregate is an error
        anyway, so when one ends the left operand of ``-`` (possibly inside ``a + ...``,
        ``2 * ...`` or ``-...``), the product after the minus is its negated body, as AMPL
        reads it.  Returns the rewritten AST, or None when there is nothing to graft."""
        path = []               # the nodes walked through, rebuilt around the graft
        while True:
            if isinstance(left, ast.BinOp) and left.op in ("+", "-", "*", "/"):
                path.append(left)
                left = left.right
            elif isinstance(left, ast.Neg):
                path.append(left)
                left = left.operand
            else:
                break
        if not isinstance(left, ast.Call):
            return None
        f = left.func.name
        # max(a, b) and min(a, b) are functions: only bindings make an aggregate head
        if not ((f in AGG_KINDS or f in VECTOR_AGG_KINDS) and self.kind(f) != "field"
                and left.args and all(ast.is_binding(a) for a in left.args)):
            return None
        span = Span(left.span.file, left.span.line, left.span.col,
                    right.span.end_line, right.span.end_col)
        g = ast.Aggregate(span, left.func, left.args, left.cond, ast.Neg(right.span, right))
        for p in reversed(path):
            g = ast.BinOp(p.span, p.op, p.left, g) if isinstance(p, ast.BinOp) else ast.Neg(p.span, g)
        return g

    def _x_Aggregate(self, node: ast.Aggregate, scope: Scope):
        f = node.func.name
        if f in AGG_KINDS or f in VECTOR_AGG_KINDS:
            overs, inner, cond = self.bindings(node.args, node.cond, scope)
            body = self.expr(node.body, inner)
            self.numeric(body, node.body)
            out = Agg(f, overs, cond, body)
            scope.note(out, node.span)
            return out
        if f == "integral":
            return self.integral(node, scope)
        raise self.error("unexpected expression after %s(...)" % f, node.body.span,
                         "an operator is missing here (aggregates are %s and integral)"
                         % ", ".join(AGG_KINDS + VECTOR_AGG_KINDS))

    def _x_BinOp(self, node: ast.BinOp, scope: Scope):
        if node.op in _SET_OPS:          # a leaf of the arithmetic walk, never one of its nodes
            raise self.error("a set (%s) is used where a number is needed" % node.op, node.span)
        return self.arithmetic(node, scope)

    def _x_Neg(self, node: ast.Neg, scope: Scope):
        return self.arithmetic(node, scope)

    def _x_IfExpr(self, node: ast.IfExpr, scope: Scope):
        """``if c then a else b`` (``else if`` chains walked with a loop) as a sympy
        ``Piecewise``; the conditions are data, the branches any expression.  The
        evaluator computes each branch only on the rows that take it, so a branch may hold
        what has no value elsewhere (``if i < n then x[i + 1] else 0``)."""
        pairs, at = [], node
        while isinstance(at, ast.IfExpr):
            cond = self.condition(at.cond, scope, "the condition of 'if'")
            pairs.append((self.expr(at.then_, scope), cond))
            at = at.else_
        pairs.append((self.expr(at, scope), sympy.true))
        out = sympy.Piecewise(*pairs)
        scope.note(out, node.span)
        return out

    def arithmetic(self, root, scope: Scope):
        """Arithmetic (``+ - * / mod ^`` and unary ``-``) as sympy, walked with an explicit
        stack: neither a 100,000-term chain nor brackets nested hundreds deep use Python's
        recursion.  Chains become one n-ary ``Add``/``Mul`` (built once, not re-flattened
        per term); every other construct is a leaf converted by :meth:`expr`.  Operands
        are converted and checked to be numbers in source order, so the first error in the
        text is the one reported."""
        done: dict[int, object] = {}
        parts: dict[int, tuple] = {}
        stack = [root]
        while stack:
            node = stack[-1]
            if id(node) in done:
                stack.pop()
                continue
            p = parts.get(id(node))
            if p is None:
                p = self.arithmetic_parts(node)
                if p is None:                   # a leaf: a name, a call, an aggregate ...
                    stack.pop()
                    done[id(node)] = self._operand(node, getattr(self, "_x_" + type(node).__name__)(node, scope), root)
                    continue
                parts[id(node)] = p
                pending = [c for _op, c, _at in p[1] if id(c) not in done]
                if pending:
                    stack.extend(reversed(pending))
                    continue
            stack.pop()
            done[id(node)] = self._operand(node, self.arithmetic_combine(node, p, done, scope), root)
        return done[id(root)]

    def _operand(self, node, e, root):
        """``e``, checked to be a number unless it is the whole expression (whose caller
        decides what it must be)."""
        if node is not root:
            self.numeric(e, node)
        return e

    def arithmetic_parts(self, node):
        """``(kind, [(op, operand, at), ...])`` of an arithmetic node, or None for a leaf;
        ``at`` is the operator node that brought the operand in (None for the first), so
        that an error found while folding points at it."""
        if isinstance(node, ast.Neg):
            negate = False
            while isinstance(node, ast.Neg):    # `- - - x`: one node, not a recursion
                node, negate = node.operand, not negate
            return "neg", [(negate, node, None)]
        if not isinstance(node, ast.BinOp) or node.op in _SET_OPS:
            return None
        if node.op in ("+", "-", "*", "/"):
            ops = ("+", "-") if node.op in ("+", "-") else ("*", "/")
            steps = []
            while isinstance(node, ast.BinOp) and node.op in ops:
                if node.op == "-":
                    grafted = self.graft_negated_body(node.left, node.right)
                    if grafted is not None:
                        node = grafted
                        continue
                steps.append((node.op, node.right, node))
                node = node.left
            steps.append((ops[0], node, None))
            steps.reverse()
            return ("sum" if ops[0] == "+" else "product"), steps
        return node.op, [(None, node.left, None), (None, node.right, None)]

    def arithmetic_combine(self, node, parts: tuple, done: dict, scope: Scope):
        """The sympy value of an arithmetic node from its converted operands.  Constant
        operands are folded as they come, so that what has no float64 value (``1/0``,
        ``inf - inf``, ``1e308 * 10``, ``9^9^9``) is refused at the operator where it
        happens, before sympy computes it; a division by an expression is noted with its
        span so that the evaluator can point at it when data makes it zero."""
        kind, items = parts
        vals = [done[id(c)] for _op, c, _at in items]
        if kind == "neg":
            if not items[0][0]:
                return vals[0]
            out = -vals[0]
            if len(out.args) <= 16:
                scope.note(out, node.span)
            return out
        if kind in ("sum", "product"):
            terms, constant = [], None
            for (op, _c, at), v in zip(items, vals):
                if op == "/":
                    if _is_num(v) and float(v) == 0:
                        raise self.error("division by zero", at.span)
                    if not _is_num(v):
                        scope.note(sympy.Pow(v, -1), at.span)
                t = -v if op == "-" else 1 / v if op == "/" else v
                terms.append(t)
                if _is_num(t):
                    constant = t if constant is None else constant + t if kind == "sum" else constant * t
                    if at is not None:
                        self.check_folded(constant, at)
            out = sympy.Add(*terms) if kind == "sum" else sympy.Mul(*terms)
            return self.settled(out, node, scope, _is_num(out))
        return self.binary_arithmetic(node, vals[0], vals[1], scope)

    def binary_arithmetic(self, node: ast.BinOp, a, b, scope: Scope):
        """``a mod b`` or ``a ^ b`` in sympy (chains of ``+ - * /`` are built by
        :meth:`arithmetic_combine`).  Constant operands are checked before sympy computes
        them -- an exact power tower would take minutes."""
        op, folded = node.op, _is_num(a) and _is_num(b)
        if op == "mod" and _is_num(b) and float(b) == 0:
            raise self.error("mod 0 (division by zero)", node.span)
        if folded:
            early = self.guard_numbers(op, a, b, node)
            if early is not None:
                return early
        try:
            # sympy's Mod simplifies symbolic arguments with polynomial gcds, which fail on
            # floats such as 1e300; the evaluator computes it on the data
            out = sympy.Mod(a, b, evaluate=folded) if op == "mod" else sympy.Pow(a, b)
        except (ArithmeticError, ValueError) as exc:    # sympy's own limits on huge numbers
            raise self.error("%s cannot be computed: %s" % (
                _short_text(self.span_text(node.span)), exc), node.span) from None
        return self.settled(out, node, scope, folded)

    def settled(self, out, node, scope: Scope, folded: bool):
        """``out``, built at ``node``: its folded value (or numeric coefficient) checked to
        be a float64, and noted with the node's span so that the evaluator can point at it
        (short expressions only: hashing a huge sum for the note table costs too much)."""
        if folded or out is sympy.nan or out is sympy.zoo:
            self.check_folded(out, node)
        elif (out.is_Mul or out.is_Add) and out.args[0].is_Number and out.args[0].is_finite:
            self.check_folded(out.args[0], node)    # 1e300 * x * 1e10: sympy folds 1e310
        if len(out.args) <= 16:
            scope.note(out, node.span)
        return out

    def guard_numbers(self, op: str, a, b, node):
        """Refuse constant arithmetic without a value; returns a replacement for a power
        too small to matter (an exact ``2^-(10^9)`` would not finish), else None."""
        if op != "^" or not (a.is_finite and b.is_finite):
            return None
        fa, fb = float(a), float(b)
        if fa == 0 and fb < 0:
            raise self.error("0 ^ %s is a division by zero" % b, node.span)
        if fa < 0 and not fb.is_integer():
            raise self.error("a negative number to a fractional power (%s ^ %s) is not a real "
                             "number" % (_short_text(str(a)), _short_text(str(b))), node.span)
        if fa == 0 or abs(fa) == 1:
            return None
        magnitude = fb * math.log10(abs(fa))
        if magnitude > 308.2:
            raise self.error("%s overflows float64: it has about %.0f digits" % (
                _short_text(self.span_text(node.span)), magnitude + 1), node.span,
                "the largest float64 is about 1.8e308")
        if magnitude < -400:
            return sympy.Float(0.0)         # below the smallest float64
        return None

    def guard_function(self, f: str, args, node) -> None:
        """Refuse a function of constants outside its domain (``log(0)``, ``sqrt(-1)``)."""
        a = args[0]
        atom = ATOMS.get(f)
        if atom is not None and all(x.is_finite for x in args):
            bad = atom.domain_error([float(x) for x in args])
            if bad is not None:
                raise self.error(bad[1], node.span)
            return
        if f == "log" and a.is_finite and a <= 0:
            raise self.error("log of %s" % ("0 (it is -inf)" if a == 0 else "a negative number (%s)"
                                            % _short_text(str(a))), node.span)
        if f == "sqrt" and a.is_finite and a < 0:
            raise self.error("sqrt of a negative number (%s)" % _short_text(str(a)), node.span)
        if f == "exp" and a.is_finite and a > 709.78:
            raise self.error("exp(%s) overflows float64 (its value is beyond 1.8e308)"
                             % _short_text(str(a)), node.span)

    def check_folded(self, out, node) -> None:
        """A folded constant must be a real float64 (or ``inf`` from ``inf``)."""
        if out is sympy.nan:
            raise self.error("%s is undefined (nan)" % _short_text(self.span_text(node.span)),
                             node.span, "inf - inf, 0 * inf and inf / inf have no value")
        if out is sympy.zoo:
            raise self.error("%s is a division by zero" % _short_text(self.span_text(node.span)),
                             node.span)
        if not out.is_number:
            return
        if out.is_extended_real is False:
            raise self.error("%s is not a real number" % _short_text(self.span_text(node.span)),
                             node.span)
        if out.is_finite and out.is_Number and abs(float(out)) > FLOAT_MAX:
            raise self.error("%s overflows float64 (its value is beyond 1.8e308)"
                             % _short_text(self.span_text(node.span)), node.span)


    def _not_a_number(what: str, hint: str | None = None):
        """A handler for constructs that are never numbers (conditions, tuples, sets)."""
        def build(self, node, scope):
            raise self.error("%s is used where a number is needed" % what, node.span, hint)
        return build

    _x_Compare = _not_a_number("a condition", "conditions go after ':' in an index or an "
                               "aggregate; constraints are 'subject to NAME: lhs <= rhs'")
    _x_BoolOp = _x_Compare
    _x_Not = _x_Compare
    _x_TupleExpr = _not_a_number("a tuple", "tuples are set elements and bindings")
    _x_SetLiteral = _not_a_number("a set", "bind it: sum(i in {...}) body")
    del _not_a_number

    # --- fields --------------------------------------------------------------------------
    def field_here(self, node: ast.Name, scope: Scope):
        """A bare field ``u``: the field at the point of the region (or integral)."""
        f = self.model.fields[node.name]
        if not scope.coords:
            if scope.owner.startswith("constraint"):
                raise self.error("%s uses the field %s but does not say where it holds" % (scope.owner, node.name),
                                 node.span, "a field constraint needs a region: subject to NAME on %s: ..." % f.domain)
            raise self.error("the field %s has no point here" % node.name, node.span,
                             "use it in an 'on %s' constraint or inside integral(%s), or evaluate it: %s(%s)"
                             % (f.domain, f.domain, node.name, ", ".join(f.coords)))
        missing = [c for c in f.coords if c not in scope.coords]
        if missing:
            raise self.error("the field %s(%s) is not defined here: coordinate %s is missing" % (
                node.name, ", ".join(f.coords), missing[0]), node.span)
        return sympy.Function(node.name)(*(scope.coords[c] for c in f.coords))

    def field_call(self, node: ast.Call, scope: Scope):
        """``u(0, t)``: a field evaluated at another point."""
        f = self.model.fields[node.func.name]
        if len(node.args) != len(f.coords):
            raise self.error("field %s(%s) takes %d argument%s, got %d" % (
                f.name, ", ".join(f.coords), len(f.coords), "" if len(f.coords) == 1 else "s",
                len(node.args)), node.span)
        args = [self.expr(a, scope) for a in node.args]
        for a, an in zip(args, node.args):
            self.numeric(a, an)
        return sympy.Function(f.name)(*args)

    def fields_in(self, e) -> list:
        """The field declarations applied in ``e``, in a stable order."""
        names = sorted({a.func.__name__ for a in e.atoms(AppliedUndef)} & set(self.model.fields))
        return [self.model.fields[n] for n in names]

    def derivative(self, node: ast.Call, scope: Scope):
        """``d(u, x, x)``: a partial derivative of a field expression."""
        if len(node.args) < 2:
            raise self.error("d() takes a field expression and coordinates", node.span,
                             "e.g. d(u, x) or d(u, x, x)")
        e = self.expr(node.args[0], scope)
        fields_ = self.fields_in(e)
        if not fields_:
            raise self.error("d() differentiates fields; %s is not a field expression" % self.span_text(node.args[0].span),
                             node.args[0].span, "declare the unknown function: field u(x, t)")
        allowed = [c for f in fields_ for c in f.coords]
        syms = []
        for a in node.args[1:]:
            if not isinstance(a, ast.Name) or a.name not in allowed:
                raise self.error("unknown coordinate %s in d()" % self.span_text(a.span), a.span,
                                 "%s has coordinates %s" % (fields_[0].name, ", ".join(dict.fromkeys(allowed))))
            syms.append(sympy.Symbol(a.name))
        return sympy.diff(e, *syms)

    def laplacian(self, node: ast.Call, scope: Scope):
        """``laplacian(u)``: the sum of the second derivatives over the field's coordinates."""
        if len(node.args) != 1:
            raise self.error("laplacian takes one field expression", node.span)
        e = self.expr(node.args[0], scope)
        fields_ = self.fields_in(e)
        if not fields_:
            raise self.error("laplacian() differentiates fields; %s is not a field expression"
                             % self.span_text(node.args[0].span), node.args[0].span)
        coords = list(dict.fromkeys(c for f in fields_ for c in f.coords))
        return sympy.Add(*(sympy.diff(e, sympy.Symbol(c), sympy.Symbol(c)) for c in coords))

    def integral(self, node: ast.Aggregate, scope: Scope):
        """``integral(D) body``: an unevaluated sympy Integral over the box of D."""
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Name) or node.cond is not None:
            raise self.error("integral takes one domain: integral(D) body", node.span)
        dname = node.args[0].name
        if self.kind(dname) != "domain":
            if self.kind(dname) is None:
                raise self.undeclared(node.args[0], scope, "domain")
            raise self.error("%s is a %s, not a domain" % (dname, KIND_WORDS[self.kind(dname)]), node.args[0].span)
        dom = self.model.domains[dname]
        inner = scope.with_coords({c: sympy.Symbol(c) for c in dom.coords})
        body = self.expr(node.body, inner)
        limits = [(sympy.Symbol(c), _exact(lo), _exact(hi)) for c, (lo, hi) in dom.coords.items()]
        return sympy.Integral(body, *limits)


def _is_num(e) -> bool:
    """A sympy constant the checker folds: a number (``inf`` included) or ``pi``."""
    return bool(e.is_Number or e.is_NumberSymbol) and e is not sympy.nan


def _short_text(text: str) -> str:
    """Source text or a number, cut to a readable length for a message."""
    return text if len(text) <= 40 else text[:30] + "... (%d characters)" % len(text)


def _flat(e) -> tuple:
    return e if isinstance(e, tuple) else (e,)


def _exact(v: float):
    """An integral float as a sympy Integer (prints as 0, not 0.0), else a Float."""
    return sympy.Integer(int(v)) if float(v).is_integer() else sympy.Float(v)


def check_program(program: ast.Program, source: Source, data: dict, graph_dir=None) -> Model:
    """Elaborate ``program`` with already loaded ``data`` into a :class:`Model`."""
    return Checker(program, source, data, graph_dir).run()


def check_overrides(model: Model, params) -> None:
    """Refuse ``--set NAME=...`` for a name the model does not declare (a likely typo)."""
    if not params:
        return
    keys = params.keys() if isinstance(params, dict) else [
        str(p).split("=", 1)[0].strip() for p in ([params] if isinstance(params, str) else params)]
    declared = set(model.params) | set(model.sets) | {n for n in model.decl_spans}
    for k in keys:
        if k not in declared:
            close = difflib.get_close_matches(k, sorted(declared), n=1, cutoff=0.6)
            raise LagDataError("--set %s: the model declares no %s" % (k, k), None,
                               "did you mean %s?" % close[0] if close else None, model.source)
