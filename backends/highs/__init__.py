"""The ``highs`` backend: LPs, MILPs and convex QPs straight into HiGHS, without cvxpy.

Pipeline::

    Model --lower_instance--> Instance --[BinaryProduct2Linear]--> MatrixForm
          --passModel (CSR rows, bounds, integrality, triangular Hessian)--> highspy.Highs

Modules: :mod:`.lowering` (what HiGHS takes, refusals with positions), :mod:`.options`,
:mod:`.model` (arrays into HiGHS, and only what changed on :meth:`~.program.HighsProgram.rebind`),
:mod:`.progress` (MIP progress bar, Ctrl-C through HiGHS's interrupt callbacks),
:mod:`.program` (solve, statuses, emit), :mod:`.results` (values, objective, duals in the
user's sense).  The matrix form, its row and objective scaling and the dual sign convention are
shared with other backends: :mod:`lagdsl.lower.matrix`, :mod:`lagdsl.solution`.
"""
from __future__ import annotations

import time
import weakref

from lagdsl.backend import Backend, Refusal, coerce_options
from lagdsl.errors import LagError
from lagdsl.ir.classify import classify
from lagdsl.ir.model import Model

from .lowering import Lowered, Refused, lower
from .options import OPTIONS
from .program import HighsProgram

import highspy  # noqa: F401  (after lagdsl: a missing highspy is reported by get_backend)


class HighsBackend(Backend):
    """LP, MILP and convex QP through HiGHS's own interface."""

    name = "highs"
    description = "LP, MILP and convex QP straight into HiGHS (no cvxpy); warm re-solves"
    options = OPTIONS
    emits = ("lp", "mps")

    def __init__(self):
        self._cache: tuple | None = None

    def accepts(self, model: Model) -> list[Refusal]:
        """Reasons not to take ``model`` (see :mod:`.lowering`); data errors found while
        lowering are left for :meth:`compile` to raise."""
        try:
            self._lower(model)
        except Refused as exc:
            return [exc.refusal]
        except LagError:
            return []
        return []

    def compile(self, model: Model, options: dict | None = None) -> HighsProgram:
        """Lower ``model`` and pass it to HiGHS (refusing it with a positioned reason)."""
        opts = coerce_options(self, options)
        t0 = time.perf_counter()
        try:
            low = self._lower(model)
        except Refused as exc:
            raise self.refusal(exc.refusal.reason, exc.refusal.span, exc.hint, model.source) from None
        finally:
            self._cache = None      # the program owns the arrays now; keep no second reference
        t_lower = time.perf_counter() - t0
        return HighsProgram(model, low, classify(model).kind, opts, t_lower)

    def _lower(self, model: Model) -> Lowered:
        """Lower once per model: :meth:`accepts` then :meth:`compile` reuse the result."""
        if self._cache is not None and self._cache[0]() is model:
            return self._cache[1]
        low = lower(model)
        self._cache = (weakref.ref(model), low)
        return low


BACKEND = HighsBackend()
