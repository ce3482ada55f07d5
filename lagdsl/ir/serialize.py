"""The IR as JSON and back (``lagdsl compile MODEL --emit ir``).

The document is one JSON object with a ``"format": "lagdsl-ir", "version": 2`` header and the
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

Every sympy expression is stored as ``{"nodes": [...], "str": ...}``: the flat node table of
:mod:`lagdsl.ir.exprjson` is what is read back, the ``str`` is for people.  The file is
untrusted input: reading never evaluates text (no ``eval``, ``sympify`` or ``parse_expr``),
rebuilds expressions only from whitelisted classes with checked arguments, and validates
every field (names, senses, domains, bounds, spans, set shapes, array lengths against set
sizes, sizes against :func:`lagdsl.limits.max_elements`); anything else is an
:class:`IRFormatError` (exit 2) naming the field.  Non-finite numbers are written as the
strings ``"inf"``, ``"-inf"`` and ``"nan"`` so that the output is strict JSON.

Version 1 stored expressions as Python-like ``srepr`` text; it is no longer read.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import sympy
from sympy.logic.boolalg import Boolean

from ..errors import LagError
from ..jsonnum import number
from ..limits import check_size
from .exprjson import MAX_NAME, IRFormatError, from_nodes, to_nodes
from .model import (Constraint, DomainDecl, FieldDecl, Model, Objective, Region, Source, Span,
                    VarDecl)
from sympy.core.function import AppliedUndef

from .sym import Agg, Member, Over, SetFamilyRef, SetName, Str
from .values import ParamValue, SetFamilyValue, SetValue

FORMAT = "lagdsl-ir"
VERSION = 2

__all__ = ["FORMAT", "VERSION", "IRFormatError", "to_dict", "from_dict", "to_json", "from_json",
           "is_ir_document", "expr_to_json", "expr_from_json"]


# --- expressions -----------------------------------------------------------------------------

def expr_to_json(e):
    """One expression as ``{"nodes": [...], "str": ...}`` (None stays None)."""
    if e is None:
        return None
    return {"nodes": to_nodes(e), "str": str(e)}


def expr_from_json(d, where: str, kind=sympy.Basic):
    """Rebuild one stored expression (None stays None); the root must be a ``kind``."""
    if d is None:
        return None
    if not isinstance(d, dict) or "nodes" not in d:
        raise IRFormatError("%s: expected an expression object with 'nodes'" % where)
    e = from_nodes(d["nodes"], where)
    if not isinstance(e, kind):
        raise IRFormatError("%s: expected %s, got %s" % (
            where, {sympy.Expr: "an expression", Boolean: "a condition", Over: "a binding"}.get(
                kind, "a sympy object"), type(e).__name__))
    return e


# --- numbers ---------------------------------------------------------------------------------

def _num_out(v):
    v = float(v)
    if math.isfinite(v):
        return int(v) if v.is_integer() and abs(v) < 2 ** 53 else v
    return number(v)         # "inf", "-inf", "nan": lagdsl's one JSON encoding


def _nested_out(a: np.ndarray):
    if a.ndim == 0:
        return _num_out(a)
    return [_nested_out(r) for r in a]


_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _num_in(x, where: str) -> float:
    """One stored number: a JSON number, or one of the strings ``inf``, ``-inf``, ``nan``."""
    if isinstance(x, str) and x in _NONFINITE:
        return _NONFINITE[x]
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise IRFormatError("%s: expected a number, got %s" % (where, _show(x)))
    v = float(x) if not isinstance(x, int) or abs(x) < 2 ** 1023 else math.inf
    if isinstance(x, int) and not math.isfinite(v):
        raise IRFormatError("%s: the integer %s is beyond float64" % (where, _show(x)))
    return v


def _flat_numbers(x, shape: tuple, where: str) -> list[float]:
    """The numbers of a nested list of exactly ``shape``, row-major, without recursion."""
    out: list[float] = []
    stack = [(x, 0)]
    while stack:
        v, depth = stack.pop()
        if depth == len(shape):
            out.append(_num_in(v, where))
            continue
        if not isinstance(v, list) or len(v) != shape[depth]:
            raise IRFormatError("%s: expected a list of %d at depth %d, got %s"
                                % (where, shape[depth], depth + 1, _show(v)))
        stack.extend((w, depth + 1) for w in reversed(v))
    return out


def _array_in(x, n: int, where: str) -> np.ndarray:
    """A flat float array of length ``n`` from one number (uniform) or a list."""
    if isinstance(x, list):
        return np.asarray(_flat_numbers(x, (n,), where), dtype=np.float64)
    return np.full(n, _num_in(x, where), dtype=np.float64)


def _array_out(a: np.ndarray):
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if a.size and (np.all(a == a[0]) or np.all(np.isnan(a))):
        return _num_out(a[0])
    return [_num_out(v) for v in a]


def _show(v) -> str:
    """A value from the file, cut short for a message (a file is never echoed in full)."""
    text = json.dumps(v) if isinstance(v, (str, int, float, bool, type(None))) else type(v).__name__
    return text if len(text) <= 40 else text[:37] + "..."


# --- plain fields ----------------------------------------------------------------------------

def _obj(x, where: str) -> dict:
    if not isinstance(x, dict):
        raise IRFormatError("%s: expected an object, got %s" % (where, _show(x)))
    return x


def _list(x, where: str) -> list:
    if not isinstance(x, list):
        raise IRFormatError("%s: expected a list, got %s" % (where, _show(x)))
    return x


def _str(x, where: str, limit: int = MAX_NAME) -> str:
    if not isinstance(x, str) or len(x) > limit:
        raise IRFormatError("%s: expected a name (text of at most %d characters), got %s"
                            % (where, limit, _show(x)))
    return x


def _int(x, where: str, lo: int | None = None) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or (lo is not None and x < lo):
        raise IRFormatError("%s: expected an integer%s, got %s"
                            % (where, "" if lo is None else " >= %d" % lo, _show(x)))
    return x


def _choice(x, allowed: tuple, where: str) -> str:
    if x not in allowed:
        raise IRFormatError("%s: %s is not one of %s" % (where, _show(x), ", ".join(allowed)))
    return x


def _table(d: dict, key: str) -> dict:
    return _obj(d.get(key, {}), key)


# --- sets and spans --------------------------------------------------------------------------

def _elem_out(e):
    if isinstance(e, tuple):
        return [_elem_out(v) for v in e]
    if isinstance(e, (np.integer,)):
        return int(e)
    if isinstance(e, (float, np.floating)):
        return _num_out(e)
    return e


def _scalar_elem(v, where: str):
    if isinstance(v, str):
        return _str(v, where + " element", 10_000)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise IRFormatError("%s: an element is a number, a string or a list of them, got %s"
                            % (where, _show(v)))
    if isinstance(v, int) and abs(v) >= 2 ** 63:
        raise IRFormatError("%s: the element %s is beyond 64-bit integers" % (where, _show(v)))
    if isinstance(v, float) and not math.isfinite(v):
        raise IRFormatError("%s: a set element must be finite" % where)
    return v


def _set_out(s: SetValue) -> dict:
    if s.range_lo is not None and len(s) > 0:
        return {"range": [int(s.range_lo), int(s.range_lo) + len(s) - 1]}
    return {"elements": [_elem_out(e) for e in s.elements], "arity": s.arity}


def _set_in(d, where: str) -> SetValue:
    d = _obj(d, where)
    if "range" in d:
        r = _list(d["range"], where + " range")
        if len(r) != 2:
            raise IRFormatError("%s: a range is [lo, hi]" % where)
        lo, hi = (_int(v, where + " range") for v in r)
        if max(abs(lo), abs(hi)) >= 2 ** 62:
            raise IRFormatError("%s: range bounds beyond 64-bit integers" % where)
        check_size(max(0, hi - lo + 1), where)
        return SetValue.from_range(lo, hi)
    if "elements" in d:
        elems = _list(d["elements"], where + " elements")
        check_size(len(elems), where)
        arity = _int(d.get("arity", 1), where + " arity", 1)
        out = []
        for e in elems:
            if isinstance(e, list):
                if len(e) != arity or arity < 2:
                    raise IRFormatError("%s: a tuple element has %d components, the set's arity is %d"
                                        % (where, len(e), arity))
                out.append(tuple(_scalar_elem(v, where) for v in e))
            else:
                if arity != 1:
                    raise IRFormatError("%s: a scalar element in a set of arity %d" % (where, arity))
                out.append(_scalar_elem(e, where))
        s = SetValue.from_elements(out)
        if len(s) != len(out):
            raise IRFormatError("%s: an element is listed twice" % where)
        s.arity = arity
        return s
    raise IRFormatError("%s: a set needs 'range' or 'elements'" % where)


def _span_out(s: Span | None):
    if s is None:
        return None
    out = [s.file, s.line, s.col]
    if s.end_line is not None or s.end_col is not None:
        out += [s.end_line, s.end_col]
    return out


def _span_in(x, where: str) -> Span | None:
    if x is None:
        return None
    where += " span"
    x = _list(x, where)
    if len(x) not in (3, 5):
        raise IRFormatError("%s: a span is [file, line, col] or [file, line, col, end_line, end_col]"
                            % where)
    file = _str(x[0], where, 4096)
    nums = [None if v is None and k >= 3 else _int(v, where, 1) for k, v in enumerate(x[1:], 1)]
    return Span(file, *nums)


# --- the model -------------------------------------------------------------------------------

def _spans_out(spans: dict | None) -> list:
    return [[expr_to_json(e), _span_out(s)] for e, s in (spans or {}).items() if isinstance(e, sympy.Basic)]


def _spans_in(items, where: str) -> dict:
    out = {}
    for k, pair in enumerate(_list(items if items is not None else [], where + " spans")):
        pair = _list(pair, "%s spans[%d]" % (where, k))
        if len(pair) != 2:
            raise IRFormatError("%s spans[%d]: expected [expression, span]" % (where, k))
        w = "%s spans[%d]" % (where, k)
        out[expr_from_json(pair[0], w)] = _span_in(pair[1], w)
    return out


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
                                                "expr": expr_to_json(ob.expr), "span": _span_out(ob.span),
                                                "spans": _spans_out(getattr(ob, "spans", None))}
    out["constraints"] = {}
    for k, c in model.constraints.items():
        region = None
        if c.region is not None:
            region = {"domain": c.region.domain, "kind": c.region.kind,
                      "where": expr_to_json(c.region.where)}
        out["constraints"][k] = {
            "name": c.name, "sense": c.sense, "body": expr_to_json(c.body),
            "lower": expr_to_json(c.lower), "upper": expr_to_json(c.upper),
            "binding": [expr_to_json(o) for o in c.binding], "where": expr_to_json(c.where),
            "region": region, "span": _span_out(c.span),
            "spans": _spans_out(c.spans),
        }
    out["decl_spans"] = {k: _span_out(s) for k, s in model.decl_spans.items()}
    return out


def from_dict(d: dict) -> Model:
    """Rebuild a model from :func:`to_dict` output; other formats or versions, and any field
    that is not what the writer writes, are refused with an :class:`IRFormatError`."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        got = d.get("format") if isinstance(d, dict) else type(d).__name__
        raise IRFormatError("not a lagdsl IR document (format is %s, expected %s)"
                            % (_show(got), json.dumps(FORMAT)))
    if d.get("version") == 1:
        raise IRFormatError("lagdsl IR version 1 is no longer read (it stored expressions as "
                            "Python-like text); compile the model again with "
                            "`lagdsl compile MODEL --emit ir`")
    if d.get("version") != VERSION:
        raise IRFormatError("lagdsl IR version %s is not supported (this lagdsl reads version %d)"
                            % (_show(d.get("version")), VERSION))
    try:
        return _from_dict(d)
    except LagError:
        raise
    except RecursionError:
        raise IRFormatError("malformed lagdsl IR document: nested too deeply") from None
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
        # A sympy constructor refusing validated arguments: still the file's fault.
        raise IRFormatError("malformed lagdsl IR document: %s: %s"
                            % (type(exc).__name__, str(exc)[:200])) from None


_DOMAINS = ("real", "integer", "binary")
_SENSES = ("minimize", "maximize")
_REGION_KINDS = ("all", "interior", "boundary", "where")
_KNOWN_KEYS = {"format", "version", "name", "source", "sets", "set_families", "params", "vars",
               "domains", "fields", "objective", "constraints", "decl_spans"}


def _from_dict(d: dict) -> Model:
    unknown = sorted(set(d) - _KNOWN_KEYS)
    if unknown:
        raise IRFormatError("unknown field %s in a lagdsl IR document" % _show(unknown[0]))
    m = Model(name=_str(d.get("name", "model"), "name"))
    src = d.get("source")
    if src is not None:
        src = _obj(src, "source")
        m.source = Source(_str(src.get("path"), "source path", 4096),
                          _str(src.get("text", ""), "source text", 1 << 30))
    for k, s in _table(d, "sets").items():
        m.sets[k] = _set_in(s, "set %s" % k)
    for k, f in _table(d, "set_families").items():
        w = "set family %s" % k
        f = _obj(f, w)
        over = _obj(f.get("over"), w + " over")
        if "set" in over:
            over = m.sets[_known(m.sets, over["set"], w + " over", "set")]
        else:
            over = _set_in(over, w + " over")
        members = _list(f.get("members"), w + " members")
        if len(members) != len(over):
            raise IRFormatError("%s: %d members for the %d elements of its set"
                                % (w, len(members), len(over)))
        m.set_families[k] = SetFamilyValue(over, [_set_in(s, w + " member") for s in members])
    for k, p in _table(d, "params").items():
        w = "param %s" % k
        p = _obj(p, w)
        index = tuple(_index_sets(m, p.get("index"), w))
        shape = tuple(len(m.sets[s]) for s in index)
        check_size(math.prod(shape), w)
        stored = _list(p.get("shape", list(shape)), w + " shape")
        if tuple(stored) != shape:
            raise IRFormatError("%s: shape %s does not match its sets (%s)"
                                % (w, _show(stored), _show(list(shape))))
        vals = np.asarray(_flat_numbers(p.get("values"), shape, w + " values"), dtype=np.float64)
        m.params[k] = ParamValue(index, vals.reshape(shape))
    for k, v in _table(d, "vars").items():
        w = "var %s" % k
        v = _obj(v, w)
        index = tuple(_index_sets(m, v.get("index"), w))
        n = math.prod(len(m.sets[s]) for s in index)
        check_size(n, w)
        domain = _choice(v.get("domain"), _DOMAINS, w + " domain")
        lower = _array_in(v.get("lower"), n, w + " lower")
        upper = _array_in(v.get("upper"), n, w + " upper")
        if np.isnan(lower).any() or np.isnan(upper).any() or (lower == np.inf).any() \
                or (upper == -np.inf).any():
            raise IRFormatError("%s: a bound is nan, or a lower bound +inf / upper bound -inf" % w)
        bad = np.flatnonzero(lower > upper)
        if bad.size:
            raise IRFormatError("%s: lower bound %g above upper bound %g at position %d"
                                % (w, lower[bad[0]], upper[bad[0]], bad[0]))
        start = None if v.get("start") is None else _array_in(v["start"], n, w + " start")
        m.vars[k] = VarDecl(k, index, domain, lower, upper, start, _span_in(v.get("span"), w))
    for k, dm in _table(d, "domains").items():
        w = "domain %s" % k
        dm = _obj(dm, w)
        coords = {}
        for c, ab in _obj(dm.get("coords"), w + " coords").items():
            ab = _list(ab, "%s coordinate %s" % (w, c))
            if len(ab) != 2:
                raise IRFormatError("%s coordinate %s: expected [lo, hi]" % (w, c))
            a, b = (_num_in(x, "%s coordinate %s" % (w, c)) for x in ab)
            if not (math.isfinite(a) and math.isfinite(b) and a <= b):
                raise IRFormatError("%s coordinate %s: [%s, %s] is not a finite interval"
                                    % (w, c, a, b))
            coords[_str(c, w + " coordinate")] = (a, b)
        m.domains[k] = DomainDecl(k, coords, _span_in(dm.get("span"), w))
    for k, f in _table(d, "fields").items():
        w = "field %s" % k
        f = _obj(f, w)
        domain = _known(m.domains, f.get("domain"), w + " domain", "domain")
        coords = tuple(_str(c, w + " coordinate") for c in _list(f.get("coords"), w + " coords"))
        missing = [c for c in coords if c not in m.domains[domain].coords]
        if missing:
            raise IRFormatError("%s: coordinate %s is not one of domain %s"
                                % (w, _show(missing[0]), domain))
        m.fields[k] = FieldDecl(k, coords, domain, _span_in(f.get("span"), w))
    ob = d.get("objective")
    if ob is not None:
        ob = _obj(ob, "objective")
        name = _str(ob.get("name"), "objective name")
        w = "objective %s" % name
        m.objective = Objective(name, _choice(ob.get("sense"), _SENSES, w + " sense"),
                                expr_from_json(ob.get("expr"), w, sympy.Expr),
                                _span_in(ob.get("span"), w))
        if m.objective.expr is None:
            raise IRFormatError("%s: the expression is missing" % w)
        m.objective.spans = _spans_in(ob.get("spans"), w)
    for k, c in _table(d, "constraints").items():
        m.constraints[k] = _constraint_in(m, k, _obj(c, "constraint %s" % k))
    m.decl_spans = {k: _span_in(s, "decl_spans %s" % k) for k, s in _table(d, "decl_spans").items()}
    _check_names(m)
    return m


def _check_names(m: Model) -> None:
    """Every name an expression uses is declared in the document, with the right number of
    subscripts; every index is used inside its binding and names no declaration; unknowns
    appear only where the checker allows them (not in subscripts, conditions, set terms or a
    constraint's bounds); strings only as elements (subscripts, ``==``/``!=``, members).
    What the checker guarantees for a ``.lag`` model, so that lowering an IR model never
    meets a name or a construct it does not know."""
    coords = {c for dm in m.domains.values() for c in dm.coords}
    scalars = {k for k, p in m.params.items() if not p.index} | \
        {k for k, v in m.vars.items() if not v.index}
    items = []          # (where, expression, indices in scope, data only)
    if m.objective is not None:
        items.append(("objective %s" % m.objective.name, m.objective.expr, (), False))
    for k, c in m.constraints.items():
        w = "constraint %s" % k
        bound: tuple = ()
        for o in c.binding:             # a binding's set may use earlier indices
            _check_indices(m, o, w)
            items.append((w + " binding", o.set, bound, True))
            bound += tuple(o.indices)
        items.append((w, c.body, bound, False))
        items += [(w, e, bound, True) for e in (c.lower, c.upper, c.where) if e is not None]
        if c.region is not None and c.region.where is not None:
            items.append((w + " region", c.region.where, (), True))
    for where, expr, bound, data_only in items:
        _check_expr(m, expr, frozenset(bound), data_only, where, scalars, coords)


_STR_PARENTS = (sympy.Indexed, sympy.Eq, sympy.Ne, sympy.Tuple, SetFamilyRef, Member)


def _check_indices(m: Model, over: Over, where: str) -> None:
    for s in over.indices:
        if m.kind_of(s.name) is not None:
            raise IRFormatError("%s: the index %s is also the name of a %s"
                                % (where, _show(s.name), m.kind_of(s.name)))


def _check_expr(m: Model, expr, scope: frozenset, data_only: bool, where: str, scalars, coords):
    stack = [(expr, scope, data_only)]
    while stack:
        e, scope, data = stack.pop()
        if isinstance(e, Str):
            continue
        if not isinstance(e, _STR_PARENTS) and any(isinstance(a, Str) for a in e.args):
            raise IRFormatError("%s: a string is used as a number in %s" % (where, _show(str(e))))
        if isinstance(e, Agg):
            inner = set(scope)
            for o in e.bindings:
                _check_indices(m, o, where)
                stack.append((o.set, frozenset(inner), True))
                inner |= set(o.indices)
            stack.extend([(e.cond, frozenset(inner), True), (e.body, frozenset(inner), data)])
            continue
        if isinstance(e, Over):
            stack.append((e.set, scope, True))
            continue
        if isinstance(e, SetName):
            _known(m.sets, e.name, where, "set")
            continue
        if isinstance(e, SetFamilyRef):
            _known(m.set_families, e.name, where, "set family")
            stack.extend((a, scope, True) for a in e.subscripts)
            continue
        if isinstance(e, sympy.Indexed):
            name = e.base.label.name
            decl = m.params.get(name) or m.vars.get(name)
            if decl is None or not decl.index:
                raise IRFormatError("%s: %s is not an indexed param or var of the document"
                                    % (where, _show(name)))
            if data and name in m.vars:
                raise IRFormatError("%s: the unknown %s is used where only data may be" % (where, name))
            arity = sum(m.sets[s].arity for s in decl.index)
            if len(e.indices) != arity:
                raise IRFormatError("%s: %s takes %d subscript%s, got %d"
                                    % (where, name, arity, "" if arity == 1 else "s", len(e.indices)))
            stack.extend((a, scope, True) for a in e.indices)
            continue
        if isinstance(e, AppliedUndef):
            _known(m.fields, e.func.__name__, where, "field")
        elif type(e) is sympy.Symbol:
            if e in scope or e.name in coords:
                continue
            if e.name not in scalars:
                raise IRFormatError("%s: %s is not a scalar param or var, an index in scope "
                                    "or a coordinate" % (where, _show(e.name)))
            if data and e.name in m.vars:
                raise IRFormatError("%s: the unknown %s is used where only data may be" % (where, e.name))
        if isinstance(e, (sympy.Derivative, sympy.Integral)):
            stack.append((e.args[0], scope, data))
            continue
        stack.extend((a, scope, data) for a in e.args)


def _constraint_in(m: Model, k: str, c: dict) -> Constraint:
    w = "constraint %s" % k
    region = None
    if c.get("region") is not None:
        r = _obj(c["region"], w + " region")
        region = Region(_known(m.domains, r.get("domain"), w + " region domain", "domain"),
                        _choice(r.get("kind", "all"), _REGION_KINDS, w + " region kind"),
                        expr_from_json(r.get("where"), w + " region where", Boolean))
    body = expr_from_json(c.get("body"), w + " body")
    if body is None or not isinstance(body, (sympy.Expr, sympy.core.relational.Relational)):
        raise IRFormatError("%s body: expected an expression" % w)
    lower = expr_from_json(c.get("lower"), w + " lower", sympy.Expr)
    upper = expr_from_json(c.get("upper"), w + " upper", sympy.Expr)
    binding = tuple(expr_from_json(o, "%s binding %d" % (w, j), Over)
                    for j, o in enumerate(_list(c.get("binding", []), w + " binding")))
    if None in binding:         # a null entry would reach the name checks as no binding at all
        raise IRFormatError("%s binding %d: expected a binding, got null" % (w, binding.index(None)))
    where = expr_from_json(c.get("where"), w + " where", Boolean)
    if c.get("name", k) != k:
        raise IRFormatError("%s: its name %s differs from its key" % (w, _show(c.get("name"))))
    out = Constraint(k, body, lower, upper, binding, where,
                     region, _span_in(c.get("span"), w), _spans_in(c.get("spans"), w))
    if "sense" in c:
        try:
            sense = out.sense
        except Exception:       # a body without bounds: sense says what it is
            sense = None
        if sense is not None and c["sense"] != sense:
            raise IRFormatError("%s: sense %s does not match its bounds (%s)"
                                % (w, _show(c["sense"]), sense))
    return out


def _known(table: dict, name, where: str, what: str) -> str:
    if not isinstance(name, str) or name not in table:
        raise IRFormatError("%s: %s is not a %s of the document" % (where, _show(name), what))
    return name


def _index_sets(m: Model, index, where: str) -> list[str]:
    return [_known(m.sets, s, where + " index", "set") for s in _list(index, where + " index")]


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


def _reject_constant(name: str):
    raise IRFormatError("not strict JSON: %s is not a JSON value" % name)


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise IRFormatError("the key %s appears twice in one object" % _show(k))
        out[k] = v
    return out


def parse_json(text) -> Any:
    """Strict JSON (no NaN/Infinity literals, no duplicate keys, bounded nesting and
    integers) as an :class:`IRFormatError` when it is not."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IRFormatError("not UTF-8 text (byte %d)" % exc.start) from None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise IRFormatError("not JSON: %s (line %d, column %d)" % (exc.msg, exc.lineno, exc.colno)) from None
    except RecursionError:
        raise IRFormatError("not a lagdsl IR document: JSON nested too deeply") from None
    except ValueError as exc:     # an integer beyond Python's digit limit
        raise IRFormatError("not a lagdsl IR document: %s" % str(exc)[:120]) from None


def from_json(doc) -> Model:
    """A model from JSON text (or an already-parsed dict)."""
    if isinstance(doc, (str, bytes)):
        doc = parse_json(doc)
    return from_dict(doc)


def is_ir_document(text: str) -> bool:
    """Whether ``text`` declares itself a lagdsl IR document: a JSON object whose
    ``"format"`` is ``"lagdsl-ir"`` (any version; the reader then says which it reads).
    The first character alone decides nothing: ``.lag`` text starting with ``{`` is ``.lag``."""
    try:
        d = parse_json(text)
    except IRFormatError:
        return False
    return isinstance(d, dict) and d.get("format") == FORMAT
