"""The IR as JSON and back (``lagdsl compile MODEL --emit ir``).

The document is one JSON object with a ``"format": "lagdsl-ir", "version": 1`` header and the
model's tables in declaration order:

* ``sets``: ``{"range": [lo, hi]}`` for a contiguous integer range, else
  ``{"elements": [...], "arity": k}`` (tuples as lists);
* ``set_families``: ``{"over": SET, "members": [SET, ...]}`` where ``over`` names a model set
  when it is one (``{"set": "G.nodes"}``);
* ``params``: ``{"index": [...], "shape": [...], "values": nested lists}``;
* ``vars``: domain, index, and ``lower``/``upper``/``start`` as one number when uniform, else a
  flat list;
* ``domains``, ``fields``, ``objective``, ``constraints`` (with bindings, ``where``,
  ``region`` and the positions in ``spans``), ``source`` and ``decl_spans``.

Every sympy expression is stored as ``{"srepr": ..., "str": ...}``: the ``srepr`` string is
what is read back, the ``str`` is for people.  Reading never ``eval``s: the ``srepr`` text is
parsed with :mod:`ast` and rebuilt by calling only whitelisted sympy classes and the lagdsl
vocabulary (:data:`lagdsl.ir.sym.SYMPY_NAMESPACE`).  Non-finite numbers are written as the
strings ``"inf"``, ``"-inf"`` and ``"nan"`` so that the output is strict JSON.
"""
from __future__ import annotations

import ast
import json
import math
from typing import Any

import numpy as np
import sympy

from ..errors import LagError
from .model import (Constraint, DomainDecl, FieldDecl, Model, Objective, Region, Source, Span,
                    VarDecl)
from .sym import SYMPY_NAMESPACE
from .values import ParamValue, SetFamilyValue, SetValue

FORMAT = "lagdsl-ir"
VERSION = 1


class IRFormatError(LagError):
    """A document that is not lagdsl IR of a version this reader knows, or is malformed."""

    kind = "IR error"


# --- the restricted sympy namespace ----------------------------------------------------------

_SYMPY_CLASSES = """
Symbol Dummy Integer Rational Float Add Mul Pow Mod Abs exp log sin cos tan tanh asin acos
atan atan2 sinh cosh asinh acosh atanh sign floor ceiling Min Max Heaviside Piecewise
ExprCondPair Indexed IndexedBase Idx Tuple Function Lambda Derivative Integral Subs Sum Product
Equality Unequality LessThan GreaterThan StrictLessThan StrictGreaterThan And Or Not Xor
Implies ITE Interval FiniteSet
""".split()

_SYMPY_CONSTANTS = {
    "true": sympy.true, "false": sympy.false, "oo": sympy.oo, "zoo": sympy.zoo,
    "nan": sympy.nan, "pi": sympy.pi, "E": sympy.E, "I": sympy.I, "EulerGamma": sympy.EulerGamma,
    "True": True, "False": False, "None": None,
}

#: Calls a stored expression may make, by name.
NAMESPACE: dict[str, Any] = {n: getattr(sympy, n) for n in _SYMPY_CLASSES if hasattr(sympy, n)}
NAMESPACE["ExprCondPair"] = sympy.functions.elementary.piecewise.ExprCondPair
NAMESPACE.update(SYMPY_NAMESPACE)

#: Names whose arguments may be strings (a name, or a Float's digits).
_STRING_TAKERS = {"Symbol", "Dummy", "Str", "Float", "Function", "IndexedBase", "Idx"}


def _rebuild(node: ast.AST, where: str):
    """Evaluate one node of a parsed ``srepr`` string, calling whitelisted names only."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return node.value
    elif isinstance(node, ast.Name):
        if node.id in _SYMPY_CONSTANTS:
            return _SYMPY_CONSTANTS[node.id]
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _rebuild(node.operand, where)
        return -v if isinstance(node.op, ast.USub) else v
    elif isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_rebuild(e, where) for e in node.elts)
    elif isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Call):  # Function('u')(x, t): an applied undefined function
            f = _rebuild(func, where)
            if not isinstance(f, sympy.core.function.UndefinedFunction):
                raise IRFormatError("%s: only an undefined function may be applied" % where)
        elif isinstance(func, ast.Name) and func.id in NAMESPACE:
            f = NAMESPACE[func.id]
        else:
            name = func.id if isinstance(func, ast.Name) else ast.dump(func)
            raise IRFormatError("%s: %r is not allowed in a stored expression" % (where, name))
        takes_strings = isinstance(func, ast.Name) and func.id in _STRING_TAKERS
        args = []
        for a in node.args:
            v = _rebuild(a, where)
            if isinstance(v, str) and not takes_strings:
                raise IRFormatError("%s: a string argument is not allowed here" % where)
            args.append(v)
        kwargs = {}
        for kw in node.keywords:
            v = _rebuild(kw.value, where)
            if kw.arg is None or not isinstance(v, (bool, int, float)):
                raise IRFormatError("%s: bad keyword argument in a stored expression" % where)
            kwargs[kw.arg] = v
        return f(*args, **kwargs)
    raise IRFormatError("%s: unexpected syntax %s in a stored expression" % (where, type(node).__name__))


def expr_from_srepr(text: str, where: str = "expression"):
    """Rebuild a sympy expression from its ``srepr`` string with the restricted namespace."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise IRFormatError("%s: not a stored expression: %s" % (where, exc.msg)) from None
    return _rebuild(tree.body, where)


def _expr_out(e):
    if e is None:
        return None
    return {"srepr": sympy.srepr(e), "str": str(e)}


def _expr_in(d, where: str):
    if d is None:
        return None
    if isinstance(d, dict) and "srepr" in d:
        return expr_from_srepr(d["srepr"], where)
    if isinstance(d, str):
        return expr_from_srepr(d, where)
    raise IRFormatError("%s: expected an expression object with 'srepr'" % where)


# --- numbers ---------------------------------------------------------------------------------

def _num_out(v):
    v = float(v)
    if math.isfinite(v):
        return int(v) if v.is_integer() and abs(v) < 2 ** 53 else v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def _nested_out(a: np.ndarray):
    if a.ndim == 0:
        return _num_out(a)
    return [_nested_out(r) for r in a]


def _nested_in(x):
    if isinstance(x, list):
        return [_nested_in(v) for v in x]
    if isinstance(x, str):
        return float(x)  # "inf", "-inf", "nan"
    return float(x)


def _array_in(x, n: int, where: str) -> np.ndarray:
    """A flat float array of length ``n`` from one number (uniform) or a list."""
    if isinstance(x, list):
        a = np.asarray(_nested_in(x), dtype=np.float64).reshape(-1)
        if a.size != n:
            raise IRFormatError("%s: expected %d values, got %d" % (where, n, a.size))
        return a
    return np.full(n, _nested_in(x), dtype=np.float64)


def _array_out(a: np.ndarray):
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if a.size and (np.all(a == a[0]) or np.all(np.isnan(a))):
        return _num_out(a[0])
    return [_num_out(v) for v in a]


# --- sets and spans --------------------------------------------------------------------------

def _elem_out(e):
    if isinstance(e, tuple):
        return [_elem_out(v) for v in e]
    if isinstance(e, (np.integer,)):
        return int(e)
    if isinstance(e, (float, np.floating)):
        return _num_out(e)
    return e


def _elem_in(e):
    if isinstance(e, list):
        return tuple(_elem_in(v) for v in e)
    return e


def _set_out(s: SetValue) -> dict:
    if s.range_lo is not None and len(s) > 0:
        return {"range": [int(s.range_lo), int(s.range_lo) + len(s) - 1]}
    return {"elements": [_elem_out(e) for e in s.elements], "arity": s.arity}


def _set_in(d: dict, where: str) -> SetValue:
    if "range" in d:
        lo, hi = d["range"]
        return SetValue.from_range(lo, hi)
    if "elements" in d:
        elems = [_elem_in(e) for e in d["elements"]]
        s = SetValue.from_elements(elems)
        if not elems:
            s.arity = int(d.get("arity", 1))
        return s
    raise IRFormatError("%s: a set needs 'range' or 'elements'" % where)


def _span_out(s: Span | None):
    if s is None:
        return None
    out = [s.file, s.line, s.col]
    if s.end_line is not None or s.end_col is not None:
        out += [s.end_line, s.end_col]
    return out


def _span_in(x) -> Span | None:
    if x is None:
        return None
    return Span(*x)


# --- the model -------------------------------------------------------------------------------

def _spans_out(spans: dict | None) -> list:
    return [[_expr_out(e), _span_out(s)] for e, s in (spans or {}).items() if isinstance(e, sympy.Basic)]


def _spans_in(items, where: str) -> dict:
    return {_expr_in(e, where): _span_in(s) for e, s in (items or [])}


def to_dict(model: Model) -> dict:
    """The model as a JSON-ready dict (see the module docstring for the layout)."""
    set_ids = {id(v): k for k, v in model.sets.items()}

    def set_ref(s: SetValue):
        return {"set": set_ids[id(s)]} if id(s) in set_ids else _set_out(s)

    out: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": model.name}
    out["source"] = None if model.source is None else {"path": model.source.path,
                                                       "text": model.source.text}
    out["sets"] = {k: _set_out(v) for k, v in model.sets.items()}
    out["set_families"] = {k: {"over": set_ref(f.over), "members": [_set_out(m) for m in f.members]}
                           for k, f in model.set_families.items()}
    out["params"] = {k: {"index": list(p.index), "shape": list(np.shape(p.values)),
                         "values": _nested_out(np.asarray(p.values, dtype=np.float64))}
                     for k, p in model.params.items()}
    out["vars"] = {}
    for k, v in model.vars.items():
        out["vars"][k] = {"index": list(v.index), "domain": v.domain,
                          "lower": _array_out(v.lower), "upper": _array_out(v.upper),
                          "start": None if v.start is None else _array_out(v.start),
                          "span": _span_out(v.span)}
    out["domains"] = {k: {"coords": {c: [_num_out(a), _num_out(b)] for c, (a, b) in d.coords.items()},
                          "span": _span_out(d.span)} for k, d in model.domains.items()}
    out["fields"] = {k: {"coords": list(f.coords), "domain": f.domain, "span": _span_out(f.span)}
                     for k, f in model.fields.items()}
    ob = model.objective
    out["objective"] = None if ob is None else {"name": ob.name, "sense": ob.sense,
                                                "expr": _expr_out(ob.expr), "span": _span_out(ob.span),
                                                "spans": _spans_out(getattr(ob, "spans", None))}
    out["constraints"] = {}
    for k, c in model.constraints.items():
        region = None
        if c.region is not None:
            region = {"domain": c.region.domain, "kind": c.region.kind,
                      "where": _expr_out(c.region.where)}
        out["constraints"][k] = {
            "name": c.name, "sense": c.sense, "body": _expr_out(c.body),
            "lower": _expr_out(c.lower), "upper": _expr_out(c.upper),
            "binding": [_expr_out(o) for o in c.binding], "where": _expr_out(c.where),
            "region": region, "span": _span_out(c.span),
            "spans": _spans_out(c.spans),
        }
    out["decl_spans"] = {k: _span_out(s) for k, s in model.decl_spans.items()}
    return out


def from_dict(d: dict) -> Model:
    """Rebuild a model from :func:`to_dict` output; other formats or versions are refused."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        got = d.get("format") if isinstance(d, dict) else type(d).__name__
        raise IRFormatError("not a lagdsl IR document (format is %r, expected %r)" % (got, FORMAT))
    if d.get("version") != VERSION:
        raise IRFormatError("lagdsl IR version %r is not supported (this lagdsl reads version %d)"
                            % (d.get("version"), VERSION))
    try:
        return _from_dict(d)
    except IRFormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise IRFormatError("malformed lagdsl IR document: %s: %s" % (type(exc).__name__, exc)) from None


def _from_dict(d: dict) -> Model:
    m = Model(name=d.get("name", "model"))
    src = d.get("source")
    if src is not None:
        m.source = Source(src["path"], src.get("text", ""))
    for k, s in d.get("sets", {}).items():
        m.sets[k] = _set_in(s, "set %s" % k)
    for k, f in d.get("set_families", {}).items():
        over = f["over"]
        over = m.sets[over["set"]] if "set" in over else _set_in(over, "family %s" % k)
        m.set_families[k] = SetFamilyValue(over, [_set_in(s, "family %s" % k) for s in f["members"]])
    for k, p in d.get("params", {}).items():
        vals = np.asarray(_nested_in(p["values"]), dtype=np.float64)
        shape = tuple(p.get("shape", vals.shape))
        m.params[k] = ParamValue(tuple(p["index"]), vals.reshape(shape))
    for k, v in d.get("vars", {}).items():
        index = tuple(v["index"])
        n = 1
        for s in index:
            n *= len(m.sets[s])
        start = None if v.get("start") is None else _array_in(v["start"], n, "var %s start" % k)
        m.vars[k] = VarDecl(k, index, v["domain"], _array_in(v["lower"], n, "var %s lower" % k),
                            _array_in(v["upper"], n, "var %s upper" % k), start, _span_in(v.get("span")))
    for k, dm in d.get("domains", {}).items():
        m.domains[k] = DomainDecl(k, {c: (float(_nested_in(a)), float(_nested_in(b)))
                                      for c, (a, b) in dm["coords"].items()}, _span_in(dm.get("span")))
    for k, f in d.get("fields", {}).items():
        m.fields[k] = FieldDecl(k, tuple(f["coords"]), f["domain"], _span_in(f.get("span")))
    ob = d.get("objective")
    if ob is not None:
        w = "objective %s" % ob["name"]
        m.objective = Objective(ob["name"], ob["sense"], _expr_in(ob["expr"], w), _span_in(ob.get("span")))
        if ob.get("spans"):
            m.objective.spans = _spans_in(ob["spans"], w)
    for k, c in d.get("constraints", {}).items():
        w = "constraint %s" % k
        region = None
        if c.get("region") is not None:
            r = c["region"]
            region = Region(r["domain"], r.get("kind", "all"), _expr_in(r.get("where"), w))
        spans = _spans_in(c.get("spans"), w)
        m.constraints[k] = Constraint(
            c.get("name", k), _expr_in(c["body"], w), _expr_in(c.get("lower"), w),
            _expr_in(c.get("upper"), w), tuple(_expr_in(o, w) for o in c.get("binding", [])),
            _expr_in(c.get("where"), w), region, _span_in(c.get("span")), spans)
    m.decl_spans = {k: _span_in(s) for k, s in d.get("decl_spans", {}).items()}
    return m


def to_json(model: Model, indent: int | None = None) -> str:
    """The model as strict JSON text; with ``indent``, objects are laid out one key a line and
    lists (data, elements) stay on one line each."""
    d = to_dict(model)
    if indent is None:
        return json.dumps(d, allow_nan=False, separators=(",", ":"))
    return _dump(d, 0, indent)


def _dump(obj, level: int, indent: int) -> str:
    if isinstance(obj, dict) and obj:
        pad = " " * (indent * (level + 1))
        items = ["%s%s: %s" % (pad, json.dumps(k), _dump(v, level + 1, indent)) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * (indent * level) + "}"
    return json.dumps(obj, allow_nan=False)


def from_json(doc) -> Model:
    """A model from JSON text (or an already-parsed dict)."""
    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise IRFormatError("not JSON: %s (line %d, column %d)" % (exc.msg, exc.lineno, exc.colno)) from None
    return from_dict(doc)


def looks_like_ir(text: str) -> bool:
    """Whether ``text`` is (probably) a lagdsl IR JSON document rather than ``.lag`` source."""
    return text.lstrip().startswith("{")
