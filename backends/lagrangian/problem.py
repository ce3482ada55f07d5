"""A model lowered to the normal form of the Lagrangian methods.

    minimise  s * f(x)   subject to  h(x) = 0,  g(x) <= 0,  lb <= x <= ub

with ``s = +1`` when the user minimises and ``-1`` when they maximise.  Every constraint
family is recorded once on a :class:`~.tape.TapeAlgebra` tape as one body vector; the rows of
all families are concatenated into ``c(x)`` and split by their bounds:

* ``lower == upper``: an equality row, ``h = c - lower``;
* finite ``upper``: ``g = c - upper``;
* finite ``lower`` (not an equality): ``g = lower - c`` — so a ranged row gives two rows.

Bounds stay bounds (the inner solvers project onto them).  The start is the variable's
``start`` where it has one, otherwise :func:`default_start`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lagdsl.ir.model import Model
from lagdsl.lower.evaluate import Evaluator
from lagdsl.lower.instance import bound_vector, constraint_rows, variable_arrays
from lagdsl.lower.rows import Rows

from .tape import NumpyTape, Ref, TapeAlgebra


def default_start(lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """The documented start of a variable without ``start``: 0 when that lies strictly inside
    its bounds; otherwise the midpoint of a finite box, or one unit inside the one finite
    bound (``x >= 0`` starts at 1, so that ``log(x)`` or ``1/x`` are defined at the start)."""
    x = np.zeros(len(lb))
    box = np.isfinite(lb) & np.isfinite(ub)
    x[box] = 0.5 * (lb[box] + ub[box])
    lo_only = np.isfinite(lb) & ~np.isfinite(ub) & (lb >= 0)
    x[lo_only] = lb[lo_only] + 1.0
    hi_only = np.isfinite(ub) & ~np.isfinite(lb) & (ub <= 0)
    x[hi_only] = ub[hi_only] - 1.0
    return x


@dataclass
class Family:
    """One constraint family's rows inside ``c(x)``: ``c[start:stop]``."""

    name: str
    start: int
    stop: int
    rows: Rows
    scalar: bool


@dataclass
class NLP:
    """The model in normal form, with its tape (see the module docstring)."""

    model: Model
    tape: NumpyTape
    objective: object                 # Ref or constant array of length 1
    bodies: list                      # per family: Ref or constant array
    families: list[Family]
    lb: np.ndarray
    ub: np.ndarray
    x0: np.ndarray
    sign: float                       # +1 minimise, -1 maximise
    c_lo: np.ndarray
    c_hi: np.ndarray
    eq: np.ndarray                    # rows of c that are equalities
    up: np.ndarray                    # rows with a finite upper bound (not equalities)
    lo: np.ndarray                    # rows with a finite lower bound (not equalities)
    started: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def N(self) -> int:
        return len(self.lb)

    @property
    def m_eq(self) -> int:
        return len(self.eq)

    @property
    def m_in(self) -> int:
        return len(self.up) + len(self.lo)

    # --- evaluation ---------------------------------------------------------------------
    def forward(self, x: np.ndarray):
        """``(f, h, g, vals)`` at ``x``: the objective in minimising sense, the residuals and
        the tape values (for :meth:`gradient`)."""
        vals = self.tape.forward(x)
        f = self.sign * float(self.tape.value(vals, self.objective)[0]) if self.objective is not None else 0.0
        c = self.constraint_vector(vals)
        h = c[self.eq] - self.c_lo[self.eq]
        g = np.concatenate([c[self.up] - self.c_hi[self.up], self.c_lo[self.lo] - c[self.lo]])
        return f, h, g, vals

    def constraint_vector(self, vals) -> np.ndarray:
        """``c(x)``: all families' bodies, concatenated."""
        m = len(self.c_lo)
        if not self.families:
            return np.zeros(0)
        if len(self.bodies) == 1:
            return self.tape.value(vals, self.bodies[0])
        return np.concatenate([self.tape.value(vals, b) for b in self.bodies]) if m else np.zeros(0)

    def gradient(self, vals, wf: float, wh: np.ndarray, wg: np.ndarray) -> np.ndarray:
        """Gradient of ``wf * f + wh . h + wg . g`` (``f`` in minimising sense)."""
        seeds: dict = {}
        if isinstance(self.objective, Ref) and wf != 0.0:
            seeds[self.objective.id] = np.array([wf * self.sign])
        if len(self.c_lo):
            wc = np.zeros(len(self.c_lo))
            wc[self.eq] += wh
            nu = len(self.up)
            wc[self.up] += wg[:nu]
            wc[self.lo] -= wg[nu:]
            for b, fam in zip(self.bodies, self.families):
                if isinstance(b, Ref):
                    w = wc[fam.start:fam.stop]
                    seeds[b.id] = w if b.id not in seeds else seeds[b.id] + w
        return self.tape.backward(vals, seeds)

    def row_multipliers(self, lam: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Per-row multiplier of ``c`` in the Lagrangian ``f + y . c`` (minimising sense)."""
        y = np.zeros(len(self.c_lo))
        y[self.eq] += lam
        nu = len(self.up)
        y[self.up] += mu[:nu]
        y[self.lo] -= mu[nu:]
        return y


def lower(model: Model) -> NLP:
    """Record ``model``'s objective and constraint families on one tape."""
    offsets = model.var_offsets()
    alg = TapeAlgebra(offsets)
    objective = None
    sign = 1.0
    if model.objective is not None:
        ev = Evaluator(model, owner=model.objective)
        objective = ev.value(model.objective.expr, Rows.unit(), alg)
        sign = 1.0 if model.objective.sense == "minimize" else -1.0
    bodies, families, los, his = [], [], [], []
    k = 0
    for c in model.constraints.values():
        if c.region is not None:
            continue
        ev = Evaluator(model, owner=c)
        rows = constraint_rows(ev, c)
        if rows.n == 0:
            continue
        body = ev.value(c.body, rows, alg)
        bodies.append(body)
        families.append(Family(c.name, k, k + rows.n, rows, not c.binding))
        los.append(bound_vector(ev, c.lower, rows, -np.inf))
        his.append(bound_vector(ev, c.upper, rows, np.inf))
        k += rows.n
    c_lo = np.concatenate(los) if los else np.zeros(0)
    c_hi = np.concatenate(his) if his else np.zeros(0)
    eq_mask = np.isfinite(c_lo) & (c_lo == c_hi)
    eq = np.flatnonzero(eq_mask)
    up = np.flatnonzero(np.isfinite(c_hi) & ~eq_mask)
    lo = np.flatnonzero(np.isfinite(c_lo) & ~eq_mask)
    lb, ub, _ = variable_arrays(model)
    x0 = default_start(lb, ub)
    started = np.zeros(len(lb), dtype=bool)
    for name, v in model.vars.items():
        if v.start is not None:
            a, b = offsets[name]
            s = np.broadcast_to(np.asarray(v.start, dtype=np.float64), (b - a,))
            ok = np.isfinite(s)
            x0[a:b][ok] = s[ok]
            started[a:b] = ok
    x0 = np.clip(x0, lb, ub)
    return NLP(model, NumpyTape(alg.nodes, len(lb), [objective] + bodies), objective, bodies, families, lb, ub, x0,
               sign, c_lo, c_hi, eq, up, lo, started)
