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
            raise BackendRefusal("%s needs linear constraints: constraint %s is not linear (%s)"
                                 % (what, c.name, _reason(exc, c.name)), c.span,
                                 source=model.source) from None
        blocks.append(blk)
    try:
        objective = lower_objective(model)
    except NotPolynomial as exc:
        o = model.objective
        raise BackendRefusal("%s needs a linear or quadratic objective: objective %s is not (%s)"
                             % (what, o.name, _reason(exc, o.name)), o.span,
                             source=model.source) from None
    lb, ub, vtype = variable_arrays(model)
    sense = model.objective.sense if model.objective else "minimize"
    inst = Instance(model, model.var_offsets(), lb, ub, vtype, objective, sense, blocks)
    check_exportable(inst, fmt)
    return inst


def _reason(exc: Exception, name: str) -> str:
    msg = str(exc)
    for prefix in ("constraint %s: " % name, "objective %s: " % name):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg


def emit(model: Model, fmt: str) -> str:
    """The text of ``model`` in ``fmt`` (``"lp"`` or ``"mps"``)."""
    key = str(fmt).lower().lstrip(".")
    if key not in FORMATS:
        raise BackendRefusal("cannot export to %r: the formats are %s" % (fmt, ", ".join(FORMATS)),
                             source=getattr(model, "source", None))
    inst = lower_for_export(model, key.upper())
    return write_lp(inst) if key == "lp" else write_mps(inst)
