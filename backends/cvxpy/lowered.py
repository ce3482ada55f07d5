"""The cvxpy form both lowering paths produce: one flat variable, vector constraints per
family (:class:`Part`) and the :class:`Lowered` problem with what it takes to read it back."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lagdsl.lower.instance import Instance

import cvxpy as cp

def flat_variable(lb: np.ndarray, ub: np.ndarray, vtype: np.ndarray) -> cp.Variable:
    """One ``cp.Variable`` for all unknowns: integer/binary columns by index, bounds vector.

    Binaries are integers in ``[0, 1]`` (their bounds already say so), which every MIP
    solver takes the same way and avoids a second index list.
    """
    N = len(lb)
    lo, hi = lb.copy(), ub.copy()
    isb = vtype == "B"
    lo[isb], hi[isb] = np.maximum(lo[isb], 0.0), np.minimum(hi[isb], 1.0)
    ints = np.flatnonzero(vtype != "C")
    kw: dict[str, Any] = {}
    if len(ints):
        kw["integer"] = (ints,)
    if np.isfinite(lo).any() or np.isfinite(hi).any():
        kw["bounds"] = [lo, hi]
    return cp.Variable(max(N, 1), name="x", **kw)


@dataclass
class Part:
    """One vector constraint of a block: ``sense`` is ``==``, ``<=`` or ``>=`` over ``rows``;
    ``scale`` (per row, or None) is the positive factor the rows were multiplied by, so that
    a dual of the scaled row times it is the dual of the user's row."""

    constraint: cp.Constraint
    rows: np.ndarray
    sense: str
    scale: np.ndarray | None = None


def split_rows(lower: np.ndarray, upper: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(sense, rows, bound)`` for the equality, upper and lower parts that are not empty."""
    eq = np.isfinite(lower) & (lower == upper)
    le = np.isfinite(upper) & ~eq
    ge = np.isfinite(lower) & ~eq
    out = []
    for sense, mask, bound in (("==", eq, lower), ("<=", le, upper), (">=", ge, lower)):
        idx = np.flatnonzero(mask)
        if len(idx):
            out.append((sense, idx, bound[idx]))
    return out


def relation(sense: str, lhs, rhs) -> cp.Constraint:
    """The cvxpy constraint ``lhs (sense) rhs`` for ``sense`` in ``==``, ``<=``, ``>=``."""
    if sense == "==":
        return lhs == rhs
    return lhs <= rhs if sense == "<=" else lhs >= rhs


@dataclass
class Lowered:
    """A model as a cvxpy problem plus what it takes to read the answer back."""

    problem: cp.Problem
    x: cp.Variable
    parts: dict[str, list[Part]]
    keys: dict[str, tuple[list[str], bool]]      # block -> (row labels, scalar?)
    inverse: list = field(default_factory=list)
    passes: list[str] = field(default_factory=list)
    instance: Instance | None = None              # the original instance (polynomial path)
    path: str = "polynomial"
    integer: bool = False
    quadratic: bool = False
    cones: frozenset = frozenset()
    rows: int = 0
    notes: list = field(default_factory=list)          # for stats["notes"], any solver
    highs_notes: list = field(default_factory=list)    # ... when the solver is HiGHS
    bounded: bool = False                               # the objective cannot be unbounded
    objective_scale: float = 1.0                        # the solver's objective / the user's
    arrays: Any = None          # polynomial path: the PolyArrays the problem was built from
    parameters: dict | None = None      # ... its cp.Parameters once a re-solve made it parametric
