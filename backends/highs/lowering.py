"""A model -> the matrix form HiGHS takes, or the reasons it cannot.

HiGHS solves LPs, MILPs and convex QPs over continuous unknowns.  The pipeline is

    Model --lower_instance--> Instance --[BinaryProduct2Linear]--> Instance
          --matrix_form--> MatrixForm (rows scaled, objective checked convex and scaled)

Products of binaries (``x[i] * x[j]``, ``y^2``) become linear rows first, so binary quadratic
models (max-cut) are MILPs here.  What remains and HiGHS cannot take is refused with the
construct's source position: fields, non-polynomial or high-degree bodies (``abs``,
``norm2``, ``exp``, ``x^3``), quadratic constraint rows, a quadratic objective over integer
unknowns, a non-convex quadratic objective.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lagdsl.backend import Refusal, fields_refusal
from lagdsl.ir.classify import classify
from lagdsl.ir.model import Model
from lagdsl.lower.instance import Instance, lower_instance, owner_label
from lagdsl.lower.matrix import MatrixForm, QuadraticRows, matrix_form
from lagdsl.lower.poly import NotPolynomial
from lagdsl.passes.base import Chain, PassError
from lagdsl.passes.binary_product2linear import BinaryProduct2Linear

HINT = "the cvxpy backend takes convex conic models, the lagrangian backend non-convex ones"


class Refused(Exception):
    """The model has a construct HiGHS cannot take (``refusal`` says which, and where)."""

    def __init__(self, refusal: Refusal, hint: str | None = HINT):
        super().__init__(refusal.reason)
        self.refusal, self.hint = refusal, hint


@dataclass
class Lowered:
    """What a solve needs: the user's instance (for values, violation and labels), the
    solver's matrix form, and the passes' inverse data."""

    inst: Instance
    form: MatrixForm
    inverse: list = field(default_factory=list)
    passes: list[str] = field(default_factory=list)


def structural_refusals(model: Model) -> list[Refusal]:
    """Reasons found without lowering: fields, and bodies that are not polynomials of
    degree <= 2 (each at its objective or constraint)."""
    fields = fields_refusal(model)
    if fields is not None:
        return [fields]
    cls = classify(model)
    out = []
    owners = []
    if model.objective is not None and cls.details.get("objective"):
        owners.append((model.objective, cls.details["objective"]))
    owners += [(model.constraints[n], i) for n, i in cls.details.get("constraints", {}).items()]
    for owner, info in owners:
        if info["atoms"]:
            out.append(Refusal("%s: %s of unknowns; HiGHS takes linear and quadratic bodies "
                               "only" % (owner_label(owner), ", ".join(info["atoms"])), owner.span))
        elif info["degree"] is None or info["degree"] > 2:
            out.append(Refusal("%s: a polynomial of degree %s; HiGHS takes linear and quadratic "
                               "bodies only" % (owner_label(owner), info["degree"] or "> 2"),
                               owner.span))
    return out


def lower(model: Model) -> Lowered:
    """The model in matrix form; raises :class:`Refused` for what HiGHS cannot take and
    lets data errors (:class:`~lagdsl.errors.LagError`) through."""
    found = structural_refusals(model)
    if found:
        raise Refused(found[0])
    try:
        inst = lower_instance(model)
    except NotPolynomial as exc:     # classify and the lowering disagree: still a refusal
        raise Refused(Refusal(str(exc), None)) from None
    work, inverse, passes = inst, [], []
    if inst.degree == 2 and (inst.vtype != "C").any():
        chain = Chain([BinaryProduct2Linear()], strict=False)
        work, inverse = chain.apply(inst)
        passes = list(chain.applied)
    if work.objective is not None and work.objective.degree == 2 and (work.vtype != "C").any():
        o = model.objective
        raise Refused(Refusal("%s: a quadratic objective over integer unknowns (a MIQP); HiGHS "
                              "solves quadratic objectives over continuous unknowns only"
                              % owner_label(o), o.span),
                      "the cvxpy backend takes MIQPs with solver=SCIP")
    try:
        form = matrix_form(work)
    except QuadraticRows as exc:
        c = exc.block.constraint
        raise Refused(Refusal("constraint %s: a quadratic constraint row; HiGHS takes linear "
                              "rows only" % c.name, c.span),
                      "the cvxpy backend takes convex quadratic rows") from None
    except PassError as exc:         # a non-convex quadratic objective
        raise Refused(Refusal(exc.message, exc.span), exc.hint) from None
    return Lowered(inst, form, inverse, passes)
