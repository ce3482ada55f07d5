"""Sympy bodies as flat JSON node tables, read back without evaluating any text.

An expression is stored as a list of nodes in post-order; each node is a JSON list whose
first item is a tag and whose other items are either *references* (indices of earlier nodes)
or, for leaves, plain validated values.  The last node is the root.  Shared sub-expressions
are written once, the document never nests deeper than two lists however deep the
expression is, and reading is one loop over the table (no recursion, no ``eval``, no
``sympify`` of text).

Leaves::

    ["int", 12] or ["int", "123456789012345678901234567890"]     Integer
    ["rat", p, q]                                                Rational
    ["float", mantissa, exponent, precision]                     Float (mantissa * 2**exponent)
    ["sym", "x"]  ["str", "north"]  ["base", "x"]                Symbol, Str, IndexedBase
    ["const", "oo" | "-oo" | "zoo" | "nan" | "pi" | "E" | "true" | "false"]

Inner nodes: ``["app", f, arg...]`` applies an undefined function; ``[CLASS, arg...]`` calls
one of the whitelisted classes of :data:`CLASSES` with already built sympy objects, after
checking the number and kind of its arguments.  Numbers that would take unbounded time to
build are refused (:data:`MAX_DIGITS`, :func:`_check_pow`), and so is a table whose
expanded tree exceeds :data:`lagdsl.limits.MAX_EXPRESSION_NODES`.
"""
from __future__ import annotations

import json
import re

import mpmath
import sympy
from sympy.core.function import AppliedUndef
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.logic.boolalg import Boolean

from ..errors import LagError
from .atoms import ATOM_FUNCTIONS, ATOMS
from ..limits import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_NODES, power_too_large
from .sym import AGG_KINDS, VECTOR_AGG_KINDS, Agg, Member, Over, SetFamilyRef, SetName, SetRange, \
    SetTerm, Str, sigmoid


class IRFormatError(LagError):
    """A document that is not lagdsl IR of a version this reader knows, or is malformed."""

    kind = "IR error"


#: The most decimal digits of one stored integer (float64 needs 309; more is never data).
MAX_DIGITS = 1000
#: The largest |binary exponent| of a stored Float.
MAX_FLOAT_EXPONENT = 100_000
#: The largest order of a stored derivative.
MAX_DERIVATIVE_ORDER = 100
#: A name: what the language and the builder produce (dotted graph attributes, ``_m0``).
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(\.[A-Za-z_][A-Za-z_0-9]*)*\Z")
MAX_NAME = 200
MAX_STRING = 10_000

_CONSTS = {"oo": sympy.oo, "-oo": sympy.S.NegativeInfinity, "zoo": sympy.zoo, "nan": sympy.nan,
           "pi": sympy.pi, "E": sympy.E, "true": sympy.true, "false": sympy.false}

# argument kinds
E, B, ANY, SYM, TUP, TERM, PAIR = "an expression", "a condition", "a sympy object", "a symbol", \
    "a tuple", "a set term", "an (expression, condition) pair"

#: Whitelisted classes: tag -> (class, fixed argument kinds, kind of further arguments or
#: None, least number of arguments).
CLASSES = {
    "Add": (sympy.Add, (), E, 1), "Mul": (sympy.Mul, (), E, 1), "Pow": (sympy.Pow, (E, E), None, 2),
    "Mod": (sympy.Mod, (E, E), None, 2), "Abs": (sympy.Abs, (E,), None, 1),
    "exp": (sympy.exp, (E,), None, 1), "log": (sympy.log, (E,), None, 1),
    "sin": (sympy.sin, (E,), None, 1), "cos": (sympy.cos, (E,), None, 1),
    "tan": (sympy.tan, (E,), None, 1), "tanh": (sympy.tanh, (E,), None, 1),
    "sign": (sympy.sign, (E,), None, 1), "floor": (sympy.floor, (E,), None, 1),
    "ceiling": (sympy.ceiling, (E,), None, 1), "Heaviside": (sympy.Heaviside, (E,), E, 1),
    "sigmoid": (sigmoid, (E,), None, 1),
    # the atoms, each with all its arguments (huber(x) is stored as huber(x, 1))
    **{name: (cls, (E,) * ATOMS[name].nargs[1], None, ATOMS[name].nargs[1])
       for name, cls in ATOM_FUNCTIONS.items()}, "Min": (sympy.Min, (), E, 1), "Max": (sympy.Max, (), E, 1),
    "Piecewise": (sympy.Piecewise, (), PAIR, 1), "ExprCondPair": (ExprCondPair, (E, B), None, 2),
    "Indexed": (sympy.Indexed, (ANY,), E, 2),
    "Equality": (sympy.Eq, (E, E), None, 2), "Unequality": (sympy.Ne, (E, E), None, 2),
    "LessThan": (sympy.Le, (E, E), None, 2), "GreaterThan": (sympy.Ge, (E, E), None, 2),
    "StrictLessThan": (sympy.Lt, (E, E), None, 2), "StrictGreaterThan": (sympy.Gt, (E, E), None, 2),
    "And": (sympy.And, (), B, 1), "Or": (sympy.Or, (), B, 1), "Not": (sympy.Not, (B,), None, 1),
    "Member": (Member, (ANY, TERM), None, 2), "Tuple": (sympy.Tuple, (), ANY, 0),
    "Over": (Over, (TUP, TERM), None, 2), "SetName": (SetName, (SYM,), None, 1),
    "SetRange": (SetRange, (E, E), None, 2), "SetFamilyRef": (SetFamilyRef, (SYM, TUP), None, 2),
    "Agg": (Agg, (SYM, TUP, B, E), None, 4),
    "Derivative": (sympy.Derivative, (E,), TUP, 2), "Integral": (sympy.Integral, (E,), TUP, 2),
}
_TAG_OF = {cls: tag for tag, (cls, *_rest) in CLASSES.items()}
# sympy's relational shorthands are the classes themselves; And/Or/Not too.


def _is_kind(v, kind: str) -> bool:
    if kind == E:
        return isinstance(v, sympy.Expr)
    if kind == B:
        return isinstance(v, Boolean)
    if kind == SYM:
        return type(v) is sympy.Symbol
    if kind == TUP:
        return isinstance(v, sympy.Tuple)
    if kind == TERM:
        return isinstance(v, SetTerm)
    if kind == PAIR:
        return isinstance(v, ExprCondPair)
    return isinstance(v, sympy.Basic)


# --- writing ---------------------------------------------------------------------------------

def to_nodes(expr) -> list:
    """The node table of ``expr`` (post-order, shared sub-expressions once).

    Walks with an explicit stack, keyed by object identity, so that neither depth nor
    sympy's (recursive) hashing of deep trees matters."""
    nodes: list = []
    ref: dict[int, int] = {}
    keep = []                           # keeps visited objects alive so ids stay unique
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if id(e) in ref:
            continue
        children = _children(e)
        if not ready and any(id(c) not in ref for c in children):
            stack.append((e, True))
            stack.extend((c, False) for c in reversed(children) if id(c) not in ref)
            continue
        keep.append(e)
        ref[id(e)] = len(nodes)
        nodes.append(_node(e, [ref[id(c)] for c in children]))
    return nodes


def _children(e) -> list:
    if isinstance(e, AppliedUndef):
        return list(e.args)
    if _leaf(e) is not None:
        return []
    return list(e.args)


def _leaf(e):
    """The node of a leaf, or None for an inner node."""
    if isinstance(e, (bool, int)) or e is None:
        raise LagError("cannot store the Python value %r in an expression" % (e,))
    for name, c in _CONSTS.items():
        if e is c:
            return ["const", name]
    if isinstance(e, sympy.Integer):
        v = int(e)
        return ["int", v if abs(v) < 2 ** 53 else str(v)]
    if isinstance(e, sympy.Rational):
        return ["rat", _int_out(e.p), _int_out(e.q)]
    if isinstance(e, sympy.Float):
        sign, man, exp, _bc = e._mpf_
        return ["float", str(-man if sign else man), int(exp), int(e._prec)]
    if isinstance(e, Str):
        return ["str", e.name]
    if type(e) is sympy.Symbol:
        return ["sym", e.name]
    if isinstance(e, sympy.IndexedBase):
        return ["base", e.label.name]
    return None


def _int_out(v: int):
    return int(v) if abs(v) < 2 ** 53 else str(v)


def _node(e, args: list) -> list:
    leaf = _leaf(e)
    if leaf is not None:
        return leaf
    if isinstance(e, AppliedUndef):
        return ["app", e.func.__name__] + args
    tag = _TAG_OF.get(type(e))
    if tag is None:
        for cls, t in _TAG_OF.items():      # sympy's singletons subclass the whitelisted ones
            if isinstance(e, cls) and not isinstance(e, (sympy.Number, sympy.Symbol)):
                tag = t
                break
    if tag is None:
        raise LagError("cannot store %s (a %s) in lagdsl IR" % (e, type(e).__name__))
    return [tag] + args


# --- reading ---------------------------------------------------------------------------------

def from_nodes(nodes, where: str):
    """Rebuild the expression of a node table; anything not whitelisted is an
    :class:`IRFormatError` naming ``where`` and the node."""
    if not isinstance(nodes, list) or not nodes:
        raise IRFormatError("%s: an expression must be a non-empty list of nodes" % where)
    built: list = []
    sizes: list[int] = []
    depths: list[int] = []
    for k, node in enumerate(nodes):
        at = "%s, node %d" % (where, k)
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise IRFormatError("%s: a node is a list starting with its tag" % at)
        tag, rest = node[0], node[1:]
        if tag in ("int", "rat", "float", "sym", "str", "base", "const"):
            built.append(_leaf_in(tag, rest, at))
            sizes.append(1)
            depths.append(1)
            continue
        if tag == "app":
            if len(rest) < 2:
                raise IRFormatError("%s: 'app' needs a function name and arguments" % at)
            f = sympy.Function(_name(rest[0], at))
            args = [_ref(r, k, built, at) for r in rest[1:]]
            if not all(isinstance(a, sympy.Expr) for a in args):
                raise IRFormatError("%s: a function's arguments must be expressions" % at)
            obj = f(*args)
        elif tag in CLASSES:
            args = [_ref(r, k, built, at) for r in rest]
            obj = _call(tag, args, at)
        else:
            raise IRFormatError("%s: %r is not allowed in a stored expression" % (at, tag[:40]))
        refs = [r for r in rest if isinstance(r, int) and not isinstance(r, bool)]
        size = 1 + sum(sizes[r] for r in refs)
        if size > MAX_EXPRESSION_NODES:
            raise IRFormatError("%s: the expression expands to more than %d nodes"
                                % (at, MAX_EXPRESSION_NODES))
        depth = 1 + max((depths[r] for r in refs), default=0)
        if depth > MAX_EXPRESSION_DEPTH:
            raise IRFormatError("%s: the expression is nested more than %d levels deep"
                                % (at, MAX_EXPRESSION_DEPTH))
        built.append(obj)
        sizes.append(size)
        depths.append(depth)
    return built[-1]


def _ref(r, k: int, built: list, at: str):
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < k:
        raise IRFormatError("%s: %s is not a reference to an earlier node" % (at, _show(r)))
    return built[r]


def _name(v, at: str) -> str:
    if not isinstance(v, str) or len(v) > MAX_NAME or not _NAME.match(v):
        raise IRFormatError("%s: %s is not a name" % (at, _show(v)))
    return v


def _show(v) -> str:
    """A value from the file, quoted and cut short for a message."""
    text = json.dumps(v) if isinstance(v, (str, int, float, bool, type(None))) else type(v).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _int_in(v, at: str) -> int:
    if isinstance(v, bool):
        raise IRFormatError("%s: expected an integer, got %s" % (at, _show(v)))
    if isinstance(v, int):
        return v
    if isinstance(v, str) and 0 < len(v.lstrip("-")) <= MAX_DIGITS and \
            re.fullmatch(r"-?[0-9]+", v):
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v):
        raise IRFormatError("%s: an integer of %d digits is too long (at most %d)"
                            % (at, len(v.lstrip("-")), MAX_DIGITS))
    raise IRFormatError("%s: expected an integer, got %s" % (at, _show(v)))


def _leaf_in(tag: str, rest: list, at: str):
    want = {"int": 1, "rat": 2, "float": 3, "sym": 1, "str": 1, "base": 1, "const": 1}[tag]
    if len(rest) != want:
        raise IRFormatError("%s: %r takes %d value(s), got %d" % (at, tag, want, len(rest)))
    if tag == "int":
        return sympy.Integer(_int_in(rest[0], at))
    if tag == "rat":
        p, q = _int_in(rest[0], at), _int_in(rest[1], at)
        if q == 0:
            raise IRFormatError("%s: a rational with denominator 0" % at)
        return sympy.Rational(p, q)
    if tag == "float":
        man, exp, prec = _int_in(rest[0], at), _int_in(rest[1], at), _int_in(rest[2], at)
        if abs(exp) > MAX_FLOAT_EXPONENT or not 1 <= prec <= 4 * MAX_DIGITS:
            raise IRFormatError("%s: float exponent %d or precision %d out of range" % (at, exp, prec))
        return sympy.Float(mpmath.mpf((man, exp)), precision=prec)
    if tag == "sym":
        return sympy.Symbol(_name(rest[0], at))   # never with assumptions from the file
    if tag == "base":
        return sympy.IndexedBase(sympy.Symbol(_name(rest[0], at)))
    if tag == "str":
        if not isinstance(rest[0], str) or len(rest[0]) > MAX_STRING:
            raise IRFormatError("%s: a string element must be text of at most %d characters"
                                % (at, MAX_STRING))
        return Str(rest[0])
    if rest[0] not in _CONSTS:
        raise IRFormatError("%s: unknown constant %s" % (at, _show(rest[0])))
    return _CONSTS[rest[0]]


def _call(tag: str, args: list, at: str):
    cls, fixed, more, least = CLASSES[tag]
    if len(args) < least or (more is None and len(args) != len(fixed)):
        raise IRFormatError("%s: %s takes %s argument(s), got %d"
                            % (at, tag, len(fixed) if more is None else "%d or more" % least, len(args)))
    for i, a in enumerate(args):
        kind = fixed[i] if i < len(fixed) else more
        if not _is_kind(a, kind):
            raise IRFormatError("%s: argument %d of %s must be %s, got %s"
                                % (at, i + 1, tag, kind, type(a).__name__))
    if tag == "Pow":
        _check_pow(args[0], args[1], at)
    elif tag == "Agg":
        _check_agg(args, at)
    elif tag == "Over":
        if not args[0].args or not all(type(s) is sympy.Symbol for s in args[0].args):
            raise IRFormatError("%s: a binding's indices must be symbols" % at)
    elif tag == "Derivative":
        for t in args[1:]:
            if len(t) != 2 or type(t[0]) is not sympy.Symbol or not isinstance(t[1], sympy.Integer) \
                    or not 1 <= int(t[1]) <= MAX_DERIVATIVE_ORDER:
                raise IRFormatError("%s: a derivative is taken by (symbol, order 1..%d)"
                                    % (at, MAX_DERIVATIVE_ORDER))
    elif tag == "Integral":
        for t in args[1:]:
            if len(t) not in (1, 3) or type(t[0]) is not sympy.Symbol:
                raise IRFormatError("%s: an integral's limits are (symbol, lower, upper)" % at)
    elif tag == "Indexed" and not isinstance(args[0], sympy.IndexedBase):
        raise IRFormatError("%s: Indexed needs an IndexedBase first" % at)
    try:
        return cls(*args)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise IRFormatError("%s: %s(...) cannot be built: %s" % (at, tag, str(exc)[:200])) from None


def _check_pow(base, exp, at: str) -> None:
    """Refuse an exact power whose value would be huge: ``Pow(10, 10**10)`` is evaluated by
    sympy on construction, digit by digit."""
    if power_too_large(base, exp):
        raise IRFormatError("%s: the power %s^%s is too large to build exactly" % (
            at, _short(base), _short(exp)))


def _short(v) -> str:
    text = str(v)
    return text if len(text) <= 24 else "%s...(%d digits)" % (text[:12], len(text))


def _check_agg(args: list, at: str) -> None:
    kind, bindings = args[0].name, args[1]
    if kind not in AGG_KINDS + VECTOR_AGG_KINDS:
        raise IRFormatError("%s: %s is not an aggregate (expected one of %s)"
                            % (at, _show(kind), ", ".join(AGG_KINDS + VECTOR_AGG_KINDS)))
    if not bindings.args or not all(isinstance(b, Over) for b in bindings.args):
        raise IRFormatError("%s: an aggregate's bindings must be one or more Over" % at)
