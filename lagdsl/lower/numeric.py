"""Numeric evaluation of bodies at a point: the algebra of plain numpy values.

Used to measure ``max_violation`` and objective values of any model, polynomial or not, from
a flat vector of unknowns (e.g. a solver's answer).
"""
from __future__ import annotations

import numpy as np

from ..ir.atoms import ATOMS
from ..ir.model import Constraint, Model
from .evaluate import Evaluator, reduce_data
from .rows import Rows

_FUNCS = {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "tanh": np.tanh, "abs": np.abs, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


class NumericAlgebra:
    """Values are float arrays, unknowns read from the flat point ``x``."""

    def __init__(self, model: Model, x: np.ndarray):
        self.x = np.asarray(x, dtype=np.float64)
        self.offsets = model.var_offsets()

    def const(self, values):
        return np.asarray(values, dtype=np.float64)

    def var(self, name, flat):
        return self.x[self.offsets[name][0] + flat]

    def add(self, a, b):
        return a + b

    def mul(self, a, b):
        return a * b

    def pow(self, a, p):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(a, p)

    def func(self, name, args):
        if name == "min":
            return np.minimum.reduce(args)
        if name == "max":
            return np.maximum.reduce(args)
        if name in ATOMS:
            return ATOMS[name].numpy(*args)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _FUNCS[name](args[0])

    def reduce(self, kind, values, parent, n):
        return reduce_data(kind, values, parent, n)


def objective_value(model: Model, x: np.ndarray) -> float | None:
    """The objective at ``x`` in the user's sense (None without an objective)."""
    if model.objective is None:
        return None
    ev = Evaluator(model, owner=model.objective)
    return float(ev.value(model.objective.expr, Rows.unit(), NumericAlgebra(model, x))[0])


def constraint_values(model: Model, c: Constraint, x: np.ndarray):
    """``(rows, body, lower, upper)`` of a constraint family at ``x``, all as arrays."""
    from .instance import bound_vector, constraint_rows
    ev = Evaluator(model, owner=c)
    rows = constraint_rows(ev, c)
    body = ev.value(c.body, rows, NumericAlgebra(model, x))
    return rows, body, bound_vector(ev, c.lower, rows, -np.inf), bound_vector(ev, c.upper, rows, np.inf)


def point_violation(model: Model, x: np.ndarray) -> float:
    """Largest violation at ``x`` of bounds, integrality and every non-field constraint."""
    from .instance import variable_arrays
    x = np.asarray(x, dtype=np.float64)
    lb, ub, vtype = variable_arrays(model)
    viol = 0.0
    if len(x):
        viol = max(np.max(lb - x, initial=0.0), np.max(x - ub, initial=0.0))
        integral = vtype != "C"
        if integral.any():
            viol = max(viol, float(np.max(np.abs(x[integral] - np.round(x[integral])))))
    for c in model.constraints.values():
        if c.region is not None:
            continue
        _rows, body, lo, hi = constraint_values(model, c, x)
        if len(body):
            viol = max(viol, float(np.max(lo - body, initial=0.0)), float(np.max(body - hi, initial=0.0)))
    return float(viol)
