"""Classify a model: LP, MILP, QP, SOCP, convex, NLP, binary quadratic, PDE, ...

:func:`classify` decides from the *symbolic* bodies (one sympy walk per objective and
constraint family, memoised per node) and the variable domains, so its cost does not grow
with the data: a 490,000-unknown LP is classified as fast as a 3-unknown one.  It does not
prove convexity — "SOCP" or "convex" mean "built from convex-modelling atoms"; the cvxpy
backend's DCP check and the quadratic-form pass decide curvature.

Kinds, first match wins:

* ``PDE`` — the model has fields;
* ``NLP`` / ``MINLP`` — a body that is a polynomial of degree > 2, or sin/cos/tan/tanh/sigmoid,
  ``prod`` of unknowns, a power with an unknown exponent, or a convex-modelling atom in an
  equality or ranged row (``norm2(x) == 1`` is not convex);
* ``SOCP`` / ``MISOCP`` — otherwise, when the non-polynomial atoms are only abs/min/max,
  norm1/norm2/norminf/sumsq, sqrt and other powers;
* ``SOCP`` also takes the atoms quad_over_lin, inv_pos and huber (:mod:`.atoms`);
* ``convex`` / ``mixed-integer convex`` — also exp/log/logsumexp and entr, xlogx, kl_div,
  rel_entr (exponential cone);
* ``binary quadratic`` / ``binary linear`` — all unknowns binary, objective of degree <= 2
  and linear constraints;
* ``QCQP`` / ``MIQCQP`` (quadratic rows), ``QP`` / ``MIQP`` (quadratic objective only),
  ``LP`` / ``MILP``.

A model without an objective keeps its structural kind and has ``feasibility=True``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from .atoms import ATOMS, AtomFunction
from .model import Model
from .sym import Agg, Str

#: Atoms a polynomial backend cannot take and no convex backend can either.
NONCONVEX_ATOMS = frozenset({"sin", "cos", "tan", "tanh", "sigmoid", "prod", "power of unknown",
                             "piecewise"})
#: Atoms representable with linear and second-order cones.
SOC_ATOMS = frozenset({"abs", "min", "max", "norm1", "norm2", "norminf", "sumsq", "sqrt",
                       "inverse", "power"} | {a.name for a in ATOMS.values() if a.cone == "soc"})
#: Atoms that need the exponential cone.
EXP_ATOMS = frozenset({"exp", "log", "logsumexp"} | {a.name for a in ATOMS.values() if a.cone == "exp"})

_FUNC = {sympy.exp: "exp", sympy.log: "log", sympy.sin: "sin", sympy.cos: "cos",
         sympy.tan: "tan", sympy.tanh: "tanh", sympy.Abs: "abs", sympy.Min: "min",
         sympy.Max: "max"}


@dataclass(frozen=True)
class ExprInfo:
    """What a body is in the unknowns: its polynomial degree (``math.inf`` when it is not
    a polynomial) and the non-polynomial atoms applied to unknowns."""

    degree: float = 0
    atoms: frozenset = frozenset()

    @property
    def polynomial(self) -> bool:
        return not self.atoms and self.degree != math.inf


@dataclass
class ModelClass:
    """The class of a model (see the module docstring for the kinds).

    ``degree`` is the highest polynomial degree (None when some body is not a polynomial);
    ``nonlinear`` is True when some body is not a polynomial of degree <= 2 (so it needs the
    generic evaluator rather than the polynomial lowering); ``details`` has per-body
    ``degree``/``atoms`` under ``"objective"`` and ``"constraints"``; ``reasons`` says why
    in one line per body that is not linear.
    """

    kind: str
    integer: bool = False
    binary_only: bool = False
    degree: int | None = 1
    nonlinear: bool = False
    feasibility: bool = False
    reasons: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.kind


class _Walker:
    """Memoised sympy walk computing :class:`ExprInfo` of bodies of one model."""

    def __init__(self, model: Model):
        self.vars = set(model.vars)
        self.fields = set(model.fields)
        self.memo: dict = {}

    def info(self, e) -> ExprInfo:
        r = self.memo.get(e)
        if r is None:
            r = self._info(e)
            self.memo[e] = r
        return r

    def _info(self, e) -> ExprInfo:
        if isinstance(e, Str) or not isinstance(e, sympy.Basic):
            return ExprInfo()
        if isinstance(e, sympy.Symbol):
            return ExprInfo(1) if e.name in self.vars else ExprInfo()
        if isinstance(e, sympy.Indexed):
            return ExprInfo(1) if e.base.label.name in self.vars else ExprInfo()
        if isinstance(e, (AppliedUndef, sympy.Derivative, sympy.Integral)):
            return ExprInfo(math.inf, frozenset({"field"}))
        if isinstance(e, Agg):
            body = self.info(e.body)
            if body.degree == 0:
                return ExprInfo()
            if e.kind == "sum":
                return body
            kind = "prod" if e.kind == "prod" else e.kind
            return ExprInfo(math.inf, body.atoms | {kind})
        if isinstance(e, sympy.Piecewise):
            # `if` on data: the conditions are data (the checker refuses unknowns there),
            # so the body is as polynomial as its most complex branch
            vals = [self.info(v) for v, _c in e.args]
            return ExprInfo(max(v.degree for v in vals),
                            frozenset().union(*(v.atoms for v in vals)))
        if isinstance(e, sympy.Pow):
            base, ex = self.info(e.base), self.info(e.exp)
            if ex.degree != 0:
                return ExprInfo(math.inf, base.atoms | ex.atoms | {"power of unknown"})
            if base.degree == 0:
                return ExprInfo()
            p = e.exp
            if p.is_Integer and int(p) >= 0:
                return ExprInfo(base.degree * int(p), base.atoms)
            atom = "sqrt" if p == sympy.Rational(1, 2) else "inverse" if p == -1 else "power"
            return ExprInfo(math.inf, base.atoms | {atom})
        args = [self.info(a) for a in e.args]
        atoms = frozenset().union(*(a.atoms for a in args)) if args else frozenset()
        if isinstance(e, sympy.Add):
            return ExprInfo(max((a.degree for a in args), default=0), atoms)
        if isinstance(e, sympy.Mul):
            return ExprInfo(sum(a.degree for a in args), atoms)
        if all(a.degree == 0 for a in args):
            return ExprInfo()
        name = _FUNC.get(type(e)) or ("sigmoid" if type(e).__name__ == "sigmoid" else None)
        if isinstance(e, AtomFunction):
            name = e.atom.name
        return ExprInfo(math.inf, atoms | {name or type(e).__name__})


def _kind(integer: bool, binary_only: bool, obj: ExprInfo, con: ExprInfo, atoms: frozenset,
          curved_equality: bool = False) -> str:
    mixed = (lambda k, mk: mk if integer else k)
    # each body's own degree: a quartic row must not hide behind a non-polynomial objective
    high = any(d != math.inf and d > 2 for d in (obj.degree, con.degree))
    if atoms & NONCONVEX_ATOMS or high or "field" in atoms:
        return mixed("NLP", "MINLP")
    if atoms and curved_equality:
        # a convex atom in an equality (or ranged) row, e.g. norm2(x) == 1: never convex
        return mixed("NLP", "MINLP")
    if atoms:
        if atoms <= SOC_ATOMS:
            return mixed("SOCP", "MISOCP")
        if atoms <= SOC_ATOMS | EXP_ATOMS:
            return mixed("convex", "mixed-integer convex")
        return mixed("NLP", "MINLP")
    if binary_only and con.degree <= 1:
        return "binary quadratic" if obj.degree == 2 else "binary linear"
    if con.degree == 2:
        return mixed("QCQP", "MIQCQP")
    if obj.degree == 2:
        return mixed("QP", "MIQP")
    return mixed("LP", "MILP")


def _describe(info: ExprInfo) -> str:
    if info.atoms:
        return ", ".join(sorted(info.atoms)) + " of unknowns"
    return "degree %d" % info.degree


def classify(model: Model) -> ModelClass:
    """The class of ``model`` from its symbolic bodies and variable domains (cheap)."""
    w = _Walker(model)
    domains = [v.domain for v in model.vars.values()]
    integer = any(d != "real" for d in domains)
    binary_only = bool(domains) and all(
        v.domain == "binary" or (v.domain == "integer" and np.all(v.lower >= 0) and np.all(v.upper <= 1))
        for v in model.vars.values())
    details: dict = {"objective": None, "constraints": {}}
    reasons: list[str] = []
    obj = ExprInfo()
    if model.objective is not None:
        obj = w.info(model.objective.expr)
        details["objective"] = {"name": model.objective.name, "degree": _deg(obj),
                                "atoms": sorted(obj.atoms)}
        if obj.degree > 1 or obj.atoms:
            reasons.append("objective %s: %s" % (model.objective.name, _describe(obj)))
    con = ExprInfo()
    curved_equality = False
    for c in model.constraints.values():
        i = w.info(c.body)
        for bound in (c.lower, c.upper):      # bounds are data, but a front end may differ
            if bound is not None:
                b = w.info(bound)
                i = ExprInfo(max(i.degree, b.degree), i.atoms | b.atoms)
        details["constraints"][c.name] = {"degree": _deg(i), "atoms": sorted(i.atoms)}
        if i.degree > 1 or i.atoms:
            reasons.append("constraint %s: %s" % (c.name, _describe(i)))
        con = ExprInfo(max(con.degree, i.degree), con.atoms | i.atoms)
        if i.atoms and c.lower is not None and c.upper is not None:
            curved_equality = True
    atoms = obj.atoms | con.atoms
    if model.fields:
        kind = "PDE"
        reasons.insert(0, "fields: %s" % ", ".join(model.fields))
    else:
        kind = _kind(integer, binary_only, obj, con, atoms, curved_equality)
    degree = max(obj.degree, con.degree)
    polynomial = not atoms and degree != math.inf
    return ModelClass(kind=kind, integer=integer, binary_only=binary_only,
                      degree=int(degree) if polynomial else None,
                      nonlinear=not (polynomial and degree <= 2), feasibility=model.objective is None,
                      reasons=reasons, details=details)


def _deg(info: ExprInfo):
    return None if info.degree == math.inf else int(info.degree)
