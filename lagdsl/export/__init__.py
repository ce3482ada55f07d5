"""Export a model as CPLEX LP or free MPS text, for any external solver.

    from lagdsl.export import emit
    text = emit(model, "lp")          # or "mps"

:func:`emit` lowers the model (:func:`~lagdsl.lower.instance.lower_instance` style, one
constraint at a time so that a refusal can name the offender and its line) and calls
:func:`~lagdsl.export.lp.write_lp` or :func:`~lagdsl.export.mps.write_mps`.  Both formats
take linear constraints, continuous / general integer / binary unknowns, and a linear or
quadratic objective (LP ``[ ... ] / 2``, MPS ``QUADOBJ``) with a constant.  Anything else --
quadratic or nonlinear constraints, nonlinear objectives, field (PDE) models -- is refused
with a :class:`~lagdsl.errors.BackendRefusal`.  Names follow :mod:`lagdsl.export.names`.
"""
from __future__ import annotations

import re

from ..errors import BackendRefusal
from ..ir.model import Model
from .lp import check_exportable, write_lp
from .mps import write_mps

FORMATS = ("lp", "mps")

__all__ = ["FORMATS", "emit", "lower_for_export", "write_lp", "write_mps"]


def lower_for_export(model: Model, fmt: str = "LP"):
    """The model's :class:`~lagdsl.lower.instance.Instance`, refusing what ``fmt`` cannot hold."""
    from ..lower.instance import Instance, lower_block, lower_objective, variable_arrays
    from ..lower.poly import NotPolynomial

    what = "%s export" % fmt
    for fname, f in model.fields.items():
        raise BackendRefusal("%s cannot take field (PDE) models: field %s is a function over a domain"
                             % (what, fname), f.span or model.decl_spans.get(fname), source=model.source)
    blocks = []
    for c in model.constraints.values():
        if c.region is not None:
            raise BackendRefusal("%s cannot take field (PDE) models: constraint %s holds on a region"
                                 % (what, c.name), c.span, source=model.source)
        try:
            blk = lower_block(model, c)
        except NotPolynomial as exc:
            raise BackendRefusal("%s cannot write constraint %s: %s; an %s file holds linear "
                                 "constraints only" % (what, c.name, _reason(model, c.body, exc, c.name),
                                                       fmt), c.span, source=model.source) from None
        blocks.append(blk)
    try:
        objective = lower_objective(model)
    except NotPolynomial as exc:
        o = model.objective
        raise BackendRefusal("%s cannot write objective %s: %s; an %s file holds linear and "
                             "quadratic objectives only" % (what, o.name, _reason(model, o.expr, exc, o.name),
                                                            fmt), o.span, source=model.source) from None
    lb, ub, vtype = variable_arrays(model)
    sense = model.objective.sense if model.objective else "minimize"
    inst = Instance(model, model.var_offsets(), lb, ub, vtype, objective, sense, blocks)
    check_exportable(inst, fmt)
    return inst


def _reason(model: Model, body, exc: Exception, name: str) -> str:
    """Why ``body`` is not a polynomial the formats hold, as a clause: "it is a product of
    degree 4 in the unknowns", "it takes exp of an unknown" …  The lowering stops at the
    first product beyond degree 2, so the degree of the whole body is counted here."""
    msg = str(exc)
    for prefix in ("constraint %s: " % name, "objective %s: " % name):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if msg.startswith("a product of degree"):
        try:
            degree = _degree(model, body)
        except RecursionError:
            degree = None
        if degree is not None:
            return "it is of degree %d in the unknowns" % degree
        return "it is a product of unknowns of degree above 2"
    m = re.fullmatch(r"a power (\S+) of an unknown", msg)
    if m:
        return "it raises an unknown to the power %s" % m.group(1)
    m = re.fullmatch(r"(\w+) of (an unknown|unknowns)", msg)
    if m:
        return "it takes %s of %s" % m.groups()
    if msg.startswith("a power"):
        return "it has " + msg
    return "it is not a polynomial in the unknowns (%s)" % msg


def _degree(model: Model, e) -> int | None:
    """The degree of ``e`` in the model's unknowns, or None when it is not a polynomial."""
    import sympy

    from ..ir.sym import Agg
    if isinstance(e, sympy.Indexed):
        return 1 if model.kind_of(str(e.base.label)) == "var" else 0
    if isinstance(e, sympy.Symbol):
        return 1 if model.kind_of(e.name) == "var" else 0
    if isinstance(e, Agg):
        d = _degree(model, e.args[3])
        return d if e.kind == "sum" or d == 0 else None
    if isinstance(e, (sympy.Add, sympy.Mul)):
        ds = [_degree(model, a) for a in e.args]
        if any(d is None for d in ds):
            return None
        return max(ds, default=0) if isinstance(e, sympy.Add) else sum(ds)
    if isinstance(e, sympy.Pow):
        base, ex = _degree(model, e.base), e.exp
        if base == 0:
            return 0 if _degree(model, ex) == 0 else None
        if base is not None and ex.is_Integer and int(ex) >= 0:
            return base * int(ex)
        return None
    if not e.args:
        return 0
    return 0 if all(_degree(model, a) == 0 for a in e.args) else None


def emit(model: Model, fmt: str) -> str:
    """The text of ``model`` in ``fmt`` (``"lp"`` or ``"mps"``)."""
    key = str(fmt).lower().lstrip(".")
    if key not in FORMATS:
        raise BackendRefusal("cannot export to %r: the formats are %s" % (fmt, ", ".join(FORMATS)),
                             source=getattr(model, "source", None))
    inst = lower_for_export(model, key.upper())
    return write_lp(inst) if key == "lp" else write_mps(inst)
