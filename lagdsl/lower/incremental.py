"""Re-lowering only what new parameter values touch.

:class:`Dependencies` walks every body once (at compile time) and records, per constraint
family and for the objective, which params it reads and *how*:

* ``values`` — as numbers: coefficients, constants, bounds.  New values re-evaluate the
  block (only its bound vectors when the params are read by the bounds alone);
* ``structure`` — in a position that decides the rows or the sparsity: the ``where`` filter,
  a binding's set term (a range bound, a family member), an aggregate's condition or range,
  a subscript of a variable, an exponent, a relation inside a body.  New values there change
  which rows or terms exist, so a compiled solver model cannot be kept.

:func:`relower` uses the table to build the :class:`~lagdsl.lower.instance.Instance` of a
model with new data from the previous one, re-lowering the touched blocks and reusing the
rest; it equals :func:`~lagdsl.lower.instance.lower_instance` of the new model.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import sympy
from sympy.logic.boolalg import Boolean

from ..ir.model import Model
from ..ir.sym import Agg, Over, SetTerm
from .evaluate import Evaluator
from .instance import (Block, Instance, bound_vector, lower_block, lower_objective,
                       variable_arrays)


@dataclass
class Reads:
    """The params one body (with its bounds and binding) reads, by role."""

    values: set[str] = field(default_factory=set)      # in coefficients and constants
    bounds: set[str] = field(default_factory=set)      # in the row bounds only
    structure: set[str] = field(default_factory=set)   # deciding rows or sparsity

    @property
    def all(self) -> set[str]:
        return self.values | self.bounds | self.structure


def _walk(e, params, reads: Reads, structural: bool = False) -> None:
    """Sort the params ``e`` reads into ``reads`` (explicit stack: bodies may be long chains)."""
    stack = [(e, structural)]
    while stack:
        node, struct = stack.pop()
        if not isinstance(node, sympy.Basic):
            continue
        if isinstance(node, sympy.Symbol):
            if node.name in params:
                (reads.structure if struct else reads.values).add(node.name)
            continue
        if isinstance(node, sympy.Indexed):
            stack.append((node.base.label, struct))
            # a param's subscripts pick values; a variable's pick columns (the sparsity)
            sub_struct = struct or node.base.label.name not in params
            stack.extend((s, sub_struct) for s in node.indices)
            continue
        if isinstance(node, Agg):
            stack.extend((b, True) for b in node.bindings)
            stack.append((node.cond, True))
            stack.append((node.body, struct))
            continue
        if isinstance(node, sympy.Pow):
            stack.append((node.base, struct))
            stack.append((node.exp, True))          # the degree (x^p) is structure
            continue
        if isinstance(node, (Over, SetTerm, Boolean, sympy.core.relational.Relational)):
            stack.extend((a, True) for a in node.args)
            continue
        stack.extend((a, struct) for a in node.args)


class Dependencies:
    """Per constraint family (``constraints[name]``) and for the objective, the params each
    reads (:class:`Reads`), computed once from the model's bodies; ``var_reads`` is empty
    (variable bounds are arrays in the IR: the checker's :class:`~lagdsl.ir.derivation.
    Derivation` knows what they were computed from)."""

    def __init__(self, model: Model):
        params = model.params
        self.constraints: dict[str, Reads] = {}
        for c in model.constraints.values():
            r = Reads()
            _walk(c.body, params, r)
            for b in (c.lower, c.upper):
                bound = Reads()
                _walk(b, params, bound)
                r.bounds |= bound.values
                r.structure |= bound.structure
            for part in (c.where, *c.binding):
                _walk(part, params, r, True)
            if c.region is not None:
                _walk(c.region.where, params, r, True)
            self.constraints[c.name] = r
        self.objective = Reads()
        if model.objective is not None:
            _walk(model.objective.expr, params, self.objective)
        self.gathers: dict = {}         # (constraint, side) -> (param, positions) or False

    def bound(self, model: Model, c, block: Block, side: str) -> np.ndarray:
        """Block ``block``'s ``side`` bound vector on ``model``'s data: a gather of one param
        at positions found once (the common ``<= cap[i]``), else :func:`bound_vector`."""
        e = c.lower if side == "lower" else c.upper
        default = -np.inf if side == "lower" else np.inf
        if e is None:
            return block.lower if side == "lower" else block.upper      # all ±inf: unchanged
        key = (c.name, side)
        plan = self.gathers.get(key)
        if plan is None:
            plan = self.gathers[key] = _gather_plan(model, c, e, block.rows)
        if plan is not False:
            name, pos = plan
            v = model.params[name].values.reshape(-1)[pos]
            if not ((v == -default) | np.isnan(v)).any():
                return v
        return bound_vector(Evaluator(model, owner=c), e, block.rows, default)

    def structure(self) -> dict[str, set[str]]:
        """``{param: [what it shapes]}`` for the params in structural positions."""
        out: dict[str, set[str]] = {}
        items = list(self.constraints.items()) + [("objective", self.objective)]
        for name, r in items:
            for p in r.structure:
                out.setdefault(p, set()).add(name)
        return out

    def touched(self, changed) -> dict:
        """What new values of ``changed`` re-lower: ``blocks`` (whole bodies), ``bounds``
        (bound vectors only), ``objective`` (bool), and ``structure`` (the families or
        ``objective`` whose rows or sparsity they decide)."""
        changed = set(changed)
        out = {"blocks": [], "bounds": [], "objective": bool(changed & self.objective.all),
               "structure": sorted(n for n, r in self.constraints.items() if changed & r.structure)}
        if changed & self.objective.structure:
            out["structure"].append("objective")
        for name, r in self.constraints.items():
            if changed & (r.values | r.structure):
                out["blocks"].append(name)
            elif changed & r.bounds:
                out["bounds"].append(name)
        return out


def _gather_plan(model: Model, c, e, rows):
    """``(param, flat positions)`` when bound ``e`` is one param's element per row (its
    subscripts read no param), found by evaluating ``e`` once on the positions themselves;
    else False."""
    if isinstance(e, sympy.Symbol) and e.name in model.params:
        return e.name, np.zeros(rows.n, dtype=np.int64)
    if not (isinstance(e, sympy.Indexed) and e.base.label.name in model.params):
        return False
    name = e.base.label.name
    if any(_reads_param(s, model.params) for s in e.indices):
        return False
    pv = model.params[name]
    probe = copy.copy(model)
    probe.params = dict(model.params)
    probe.params[name] = type(pv)(pv.index, np.arange(pv.values.size, dtype=np.float64).reshape(pv.values.shape))
    pos = np.asarray(Evaluator(probe, owner=c).data(e, rows), dtype=np.float64)
    return name, np.broadcast_to(pos, (rows.n,)).astype(np.int64)


def _reads_param(e, params) -> bool:
    return any(s.name in params for s in e.atoms(sympy.Symbol))


def dependencies(inst: Instance) -> Dependencies:
    """The :class:`Dependencies` of ``inst``'s model, computed on first use and kept on the
    instance (and passed on to instances :func:`relower` makes from it)."""
    deps = getattr(inst, "dependencies", None)
    if deps is None:
        deps = inst.dependencies = Dependencies(inst.model)
    return deps


def relower(inst: Instance, model: Model, changed) -> Instance:
    """The :class:`Instance` of ``model`` (``inst.model``'s structure with new values for the
    params ``changed``), re-lowering only the blocks, bound vectors, objective and variable
    bounds that read a changed param; everything else is ``inst``'s, shared.  The result
    carries ``relowered`` (what was redone, as :meth:`Dependencies.touched` says)."""
    deps = dependencies(inst)
    touched = deps.touched(changed)
    whole, bounds_only = set(touched["blocks"]), set(touched["bounds"])
    blocks = []
    for b in inst.blocks:
        if b.name in whole:
            b = lower_block(model, model.constraints[b.name])
        elif b.name in bounds_only:
            c = model.constraints[b.name]
            b = Block(b.name, c, b.rows, b.body, deps.bound(model, c, b, "lower"),
                      deps.bound(model, c, b, "upper"), b._keys)
        blocks.append(b)
    objective = lower_objective(model) if touched["objective"] else inst.objective
    old_vars = inst.model.vars
    var_bounds = any(old_vars.get(n) is not v for n, v in model.vars.items())
    if var_bounds:
        lb, ub, vtype = variable_arrays(model)
    else:
        lb, ub, vtype = inst.lb, inst.ub, inst.vtype
    out = Instance(model, inst.offsets, lb, ub, vtype, objective, inst.sense, blocks)
    out.dependencies = deps
    out.relowered = dict(touched, variable_bounds=var_bounds)
    return out
