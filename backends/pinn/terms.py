"""The loss terms of a field model: one per constraint, plus the objective.

Each constraint becomes a :class:`Term` that knows where its residual is evaluated — points of
its region (resampled during training) or the rows of its index binding (``obs[k in K]:
u(xo[k], to[k]) == uo[k]``, fixed) — and how its residual is formed: ``body - bound`` for an
equality, the distance to ``[lower, upper]`` otherwise.  Which terms are *constraints* and which
form the *objective* follows the issue: a model's own objective is the objective and every
constraint a constraint; without one, the PDE residuals (constraints whose body holds a
derivative) are the objective and the rest (boundary, initial, data) are constraints.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy
import torch
from sympy.core.function import AppliedUndef

from lagdsl.ir.model import Constraint, Model
from lagdsl.lower.rows import Rows

from .lower import Batch, TorchEvaluator, Unsupported
from .sampling import RegionError, RegionSampler


@dataclass
class Term:
    """One constraint's residual: where it is evaluated and whether it is an objective part."""

    name: str
    constraint: Constraint
    role: str                         # "objective" (a PDE residual) or "constraint"
    sampler: RegionSampler | None     # None: evaluated on its rows, fixed
    rows: Rows | None
    points: int

    @property
    def resampled(self) -> bool:
        return self.sampler is not None

    def batch(self, ev: TorchEvaluator, rng: np.random.Generator, n: int | None = None) -> Batch:
        """A fresh batch: sampled points of the region, or the constraint's rows."""
        if self.sampler is None:
            return Batch(self.rows)
        try:
            pts = self.sampler.sample(n or self.points, rng)
        except RegionError as exc:      # a filter the pilot sample missed, and no draw meets
            raise Unsupported("constraint %s: %s" % (self.name, exc), self.constraint.span,
                              source=ev.model.source) from None
        m = len(next(iter(pts.values())))
        return Batch(Rows(m, {}), {c: ev.tensor(v).requires_grad_(True) for c, v in pts.items()})

    def residual(self, ev: TorchEvaluator, b: Batch) -> torch.Tensor:
        """Per point/row residual: 0 where the constraint holds."""
        c = self.constraint
        ev.for_owner(c)
        body = ev.value(c.body, b)
        if c.sense == "==":
            r = body - ev.value(c.lower, b)
        else:
            r = torch.zeros_like(body)
            if c.lower is not None:
                r = r + torch.relu(ev.value(c.lower, b) - body)
            if c.upper is not None:
                r = r + torch.relu(body - ev.value(c.upper, b))
        return r.expand(b.n) if r.dim() == 0 else r


    def scale(self, ev: TorchEvaluator, rng: np.random.Generator) -> float:
        """``max(1, rms of the bounds)`` on a batch: what a residual is measured against, so that
        ``-laplacian(u) == 2 pi^2 sin(pi x) sin(pi y)`` is judged relative to its source."""
        c = self.constraint
        b = self.batch(ev, rng)
        vals = [1.0]
        with torch.no_grad():
            for e in (c.lower, c.upper):
                if e is not None and not e.has(sympy.Derivative, AppliedUndef):
                    v = ev.for_owner(c).value(e, b).detach().numpy()
                    vals.append(float(np.sqrt(np.mean(np.square(v)))))
        return max(vals)


def has_derivative(e) -> bool:
    """Whether a body differentiates a field (a PDE residual)."""
    return bool(e.atoms(sympy.Derivative))


def build_terms(model: Model, ev: TorchEvaluator, points: int, boundary_points: int) -> list[Term]:
    """The terms of every constraint of ``model`` (samplers built, rows bound)."""
    terms = []
    own_objective = model.objective is not None
    for c in model.constraints.values():
        role = "objective" if (not own_objective and c.region is not None and has_derivative(c.body)) else "constraint"
        if c.region is not None:
            try:
                sampler = RegionSampler(model.domains[c.region.domain], c.region, ev.for_owner(c).ev)
            except RegionError as exc:
                raise Unsupported("constraint %s: %s" % (c.name, exc), c.span, source=model.source)
            n = points if sampler.dim == len(model.domains[c.region.domain].coords) else boundary_points
            terms.append(Term(c.name, c, role, sampler, None, n))
        else:
            ev.for_owner(c)
            rows, _ = ev.ev.bind(Rows.unit(), c.binding, c.where) if c.binding else (Rows.unit(), None)
            terms.append(Term(c.name, c, role, None, rows, rows.n))
    return terms
