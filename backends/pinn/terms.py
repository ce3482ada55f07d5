"""The loss terms of a field model: one per constraint, plus the objective.

Each constraint becomes a :class:`Term` that knows where its residual is evaluated — points of
its region (resampled during training), the rows of its index binding (``obs[k in K]:
u(xo[k], to[k]) == uo[k]``, fixed), or both: an indexed constraint on a region
(``bc[k in K] on D where x == a[k]: u == g[k]``) has points of each row's region, every point
carrying its row's index values — and how its residual is formed: ``body - bound`` for an
equality, the distance to ``[lower, upper]`` otherwise.  An indexed family is one term (one
multiplier), its residual the vector over all rows' points.  Which terms are *constraints* and
which form the *objective* follows the issue: a model's own objective is the objective and every
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
from lagdsl.limits import SizeLimitError, check_size
from lagdsl.lower.rows import Rows

from .lower import Batch, TorchEvaluator, Unsupported
from .sampling import FamilySampler, RegionError


@dataclass
class Term:
    """One constraint's residual: where it is evaluated and whether it is an objective part."""

    name: str
    constraint: Constraint
    role: str                         # "objective" (a PDE residual) or "constraint"
    sampler: FamilySampler | None     # None: evaluated on its rows, fixed
    rows: Rows                        # the index values of each row (one empty row if none)
    points: int                       # points per row of its region (no region: the rows)

    @property
    def resampled(self) -> bool:
        return self.sampler is not None

    def batch(self, ev: TorchEvaluator, rng: np.random.Generator, n: int | None = None) -> Batch:
        """A fresh batch: sampled points of the region with the row of each, or the rows."""
        if self.sampler is None:
            return Batch(self.rows)
        n = n or self.points
        check_points(self.constraint, self.rows.n, n, ev.model)
        try:
            row, pts = self.sampler.sample(n, rng)
        except RegionError as exc:      # a filter the pilot sample missed, and no draw meets
            raise Unsupported("constraint %s: %s" % (self.name, exc), self.constraint.span,
                              source=ev.model.source) from None
        return Batch(self.rows.take(row), {c: ev.tensor(v).requires_grad_(True) for c, v in pts.items()})

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


def check_points(c: Constraint, rows: int, n: int, model: Model) -> None:
    """Refuse a batch of ``rows`` times ``n`` points beyond the size limit, before drawing it."""
    what = "the points of constraint %s" % c.name
    if rows != 1:
        what += " (%d rows x %d points)" % (rows, n)
    try:
        check_size(rows * n, what, c.span, hint_option=False, source=model.source)
    except SizeLimitError as exc:
        exc.hint = ("give fewer points per row (options points= and boundary_points=), or raise the "
                    "limit with --max-elements N (or $LAGDSL_MAX_ELEMENTS) if the machine has the memory")
        raise


def build_terms(model: Model, ev: TorchEvaluator, points: int, boundary_points: int) -> list[Term]:
    """The terms of every constraint of ``model`` (rows bound, samplers built).  On a region,
    each row gets ``points`` points of a full domain or ``boundary_points`` of a face: a row is
    a constraint of its own, with as many points as one."""
    terms = []
    own_objective = model.objective is not None
    for c in model.constraints.values():
        role = "objective" if (not own_objective and c.region is not None and has_derivative(c.body)) else "constraint"
        ev.for_owner(c)
        rows, _ = ev.ev.bind(Rows.unit(), c.binding, c.where) if c.binding else (Rows.unit(), None)
        if rows.n == 0:
            continue        # a family whose condition keeps no row asks nothing
        if c.region is None:
            terms.append(Term(c.name, c, role, None, rows, rows.n))
            continue
        dom = model.domains[c.region.domain]
        # the smaller count first: a family too large for its faces' points is refused
        # before a sampler is built for each of its rows
        check_points(c, rows.n, min(points, boundary_points), model)
        indices = [s for over in c.binding for s in over.indices]
        try:
            sampler = FamilySampler(dom, c.region, ev.ev, rows, indices)
        except RegionError as exc:
            raise Unsupported("constraint %s: %s" % (c.name, exc), c.span, source=model.source) from None
        n = points if sampler.dim == len(dom.coords) else boundary_points
        check_points(c, rows.n, n, model)
        terms.append(Term(c.name, c, role, sampler, rows, n))
    return terms
