"""The DCP path: a non-polynomial model through the evaluator and :class:`CvxpyAlgebra`,
checked against cvxpy's DCP rules, with a positioned refusal naming the user's
sub-expression that breaks them."""
from __future__ import annotations

import numpy as np

from lagdsl.errors import BackendRefusal
from lagdsl.ir.classify import ModelClass, classify
from lagdsl.ir.model import Model
from lagdsl.lower.evaluate import Evaluator
from lagdsl.lower.instance import (bound_vector, constraint_rows, lower_block, owner_label,
                                   row_keys, variable_arrays)
from lagdsl.lower.matrix import objective_scale, scale_for, scaling_note
from lagdsl.lower.poly import NotPolynomial
from lagdsl.lower.rows import Rows
from lagdsl.passes.base import linear_part

import cvxpy as cp

from .algebra import CvxpyAlgebra, NotRepresentable, is_expr
from .lowered import Lowered, Part, flat_variable, relation, split_rows
from .scaling import body_spread, scale_rows

class _TracingEvaluator(Evaluator):
    """An evaluator that remembers which sympy node produced each cvxpy expression, so that a
    DCP failure can name the user's sub-expression rather than cvxpy's."""

    def __init__(self, model: Model, owner=None, origin: dict | None = None):
        super().__init__(model, owner)
        self.origin = {} if origin is None else origin

    def value(self, e, rows, alg):
        out = super().value(e, rows, alg)
        if is_expr(out):
            self.origin[id(out)] = (out, e)   # keep `out` alive so that its id stays unique
        return out


def _describe_node(node) -> str:
    """Why a cvxpy node is not DCP, from its atom and its arguments' curvature."""
    name = type(node).__name__
    curv = [a.curvature.lower() for a in node.args]
    if name in ("multiply", "MulExpression"):
        return "a product of two non-constant expressions (%s)" % " * ".join(curv)
    if name in ("AddExpression",):
        return "a sum of %s terms" % " and ".join(sorted(set(curv)))
    args = ", ".join(curv) or "no"
    mono = []
    if hasattr(node, "is_incr") and node.args:
        mono = ["increasing" if node.is_incr(0) else "decreasing" if node.is_decr(0) else "non-monotone"]
    return "%s (%s%s) of a %s argument" % (name, node.curvature.lower(),
                                           ", " + mono[0] if mono else "", args)


def _offender(expr, origin: dict):
    """The deepest non-DCP node of ``expr`` (all its arguments DCP), with the sympy node of
    it or of its nearest traced ancestor."""
    node, sym = expr, origin.get(id(expr), (None, None))[1]
    while True:
        bad = [a for a in node.args if not a.is_dcp()]
        if not bad:
            return node, sym
        node = bad[0]
        if id(node) in origin:
            sym = origin[id(node)][1]


def dcp_refusal(model: Model, owner, what: str, expr, need: str, origin: dict) -> BackendRefusal:
    """A positioned refusal naming the offending sub-expression and its curvature."""
    if not expr.is_dcp():
        node, sym = _offender(expr, origin)
        text = "%s is not DCP: `%s` is %s" % (what, sym if sym is not None else node, _describe_node(node))
    else:
        text = "%s is not DCP: %s needs a %s expression but `%s` is %s" % (
            what, {"convex": "`<=` / minimize", "concave": "`>=` / maximize", "affine": "`==`"}[need],
            need, owner.body if hasattr(owner, "body") else owner.expr, expr.curvature.lower())
    return BackendRefusal(text, getattr(owner, "span", None),
                          hint="rewrite it with DCP atoms (cvxpy's rules), or use the lagrangian backend",
                          source=model.source)


def _curvature_ok(expr, need: str) -> bool:
    if need == "affine":
        return expr.is_affine()
    return expr.is_convex() if need == "convex" else expr.is_concave()


def lower_dcp(model: Model, opts: dict, cls: ModelClass | None = None) -> Lowered:
    """A non-polynomial model through :class:`CvxpyAlgebra`; refuses what is not DCP.
    Linear constraint families (by ``cls``, the model's classification) become sparse rows
    as on the polynomial path, row scaling included."""
    cls = cls or classify(model)
    lb, ub, vtype = variable_arrays(model)
    x = flat_variable(lb, ub, vtype)
    alg = CvxpyAlgebra(model, x)
    origin: dict = {}
    objective = cp.Minimize(0)
    notes: list[str] = []
    highs: list[str] = []
    obj_scale = 1.0
    o = model.objective
    if o is not None:
        ev = _TracingEvaluator(model, owner=o, origin=origin)
        e = _evaluate(ev, o, o.expr, Rows.unit(), alg)
        varies = is_expr(e)
        e = cp.sum(e) if varies else cp.Constant(float(np.sum(e)))
        need = "convex" if o.sense == "minimize" else "concave"
        if not _curvature_ok(e, need):
            raise dcp_refusal(model, o, "objective %s" % o.name, e, need, origin)
        if varies:
            # its scale, measured as for nonlinear rows: 1e-10 * log(x) varies by ~1e-10
            spread = body_spread(model, o, Rows.unit(), lb, ub, expr=o.expr)
            obj_scale = objective_scale(o.name, float(spread[0]), notes, measured=True)
            if obj_scale != 1:
                e = obj_scale * e
        objective = cp.Minimize(e) if o.sense == "minimize" else cp.Maximize(e)
    parts: dict[str, list[Part]] = {}
    keys = {}
    constraints = []
    n_rows = 0
    for c in model.constraints.values():
        if c.region is not None:
            continue
        block = _linear_block(model, c, cls.details.get("constraints", {}).get(c.name))
        if block is not None:
            # a linear family: sparse rows, scaled as on the polynomial path
            keys[c.name] = (block.keys(), not c.binding)
            n_rows += block.n
            parts[c.name] = []
            A = linear_part(block.body, model.num_unknowns)
            for sense, idx, bound in split_rows(block.lower, block.upper):
                Ai, rhs, scale = scale_rows(c.name, keys[c.name], idx, A[idx],
                                            bound - block.body.const[idx], notes, highs)
                con = relation(sense, Ai @ x if Ai.nnz else cp.Constant(np.zeros(len(idx))), rhs)
                constraints.append(con)
                parts[c.name].append(Part(con, idx, sense, scale))
            continue
        ev = _TracingEvaluator(model, owner=c, origin=origin)
        rows = constraint_rows(ev, c)
        body = _evaluate(ev, c, c.body, rows, alg)
        lo, hi = bound_vector(ev, c.lower, rows, -np.inf), bound_vector(ev, c.upper, rows, np.inf)
        keys[c.name] = (row_keys(c, rows), not c.binding)
        n_rows += rows.n
        parts[c.name] = []
        spread = body_spread(model, c, rows, lb, ub) if is_expr(body) else None
        for sense, idx, bound in split_rows(lo, hi):
            lhs = body if len(idx) == rows.n else body[idx]
            need = {"==": "affine", "<=": "convex", ">=": "concave"}[sense]
            if not is_expr(lhs):
                lhs = cp.Constant(lhs)
            if not _curvature_ok(lhs, need):
                raise dcp_refusal(model, c, "constraint %s" % c.name, lhs, need, origin)
            scale = None
            if spread is not None:
                # a nonlinear row's scale, measured: 1e-10 * abs(x) <= 1 varies by ~1e-10
                s = scale_for(spread[idx])
                if np.any(s != 1):
                    notes.append(scaling_note(c.name, keys[c.name], idx, s, spread[idx]))
                    lhs, bound, scale = cp.multiply(s, lhs), s * bound, s
            con = relation(sense, lhs, bound)
            constraints.append(con)
            parts[c.name].append(Part(con, idx, sense, scale))
    return Lowered(cp.Problem(objective, constraints), x, parts, keys, path="dcp",
                   integer=bool((vtype != "C").any()), quadratic=False,
                   cones=frozenset(alg.cones), rows=n_rows, notes=notes, highs_notes=highs,
                   objective_scale=obj_scale)


def _linear_block(model: Model, c, info: dict | None):
    """Constraint ``c`` as a linear :class:`~lagdsl.lower.instance.Block`, or None when its
    classification ``info`` or its lowering says it is not linear (then the cvxpy algebra
    lowers it)."""
    if info is None or info.get("atoms") or info.get("degree") not in (0, 1):
        return None
    try:
        block = lower_block(model, c)
    except NotPolynomial:
        return None
    return block if block.body.degree <= 1 else None


def _evaluate(ev: Evaluator, owner, expr, rows: Rows, alg: CvxpyAlgebra):
    try:
        return ev.value(expr, rows, alg)
    except NotRepresentable as exc:
        raise BackendRefusal("%s: %s is not representable in cvxpy" % (owner_label(owner), exc),
                             getattr(owner, "span", None), source=ev.model.source) from None
