"""The cvxpy backend: convex and mixed-integer convex models through cvxpy's solvers.

Pipeline (:meth:`CvxpyBackend.compile`)::

    Model --classify--> ModelClass
          --lower_instance--> Instance --[BinaryProduct2Linear][Quadratic2QuadForm]--> cvxpy
          (or, when a body is not a polynomial of degree <= 2)
          --Evaluator + CvxpyAlgebra--> cvxpy expressions, DCP-checked

All unknowns are one flat ``cp.Variable`` (integer columns marked by index, bounds through
cvxpy's ``bounds=``, which HiGHS takes as column bounds); a constraint family becomes at most
three vector constraints (rows with ``lower == upper`` as ``==``, finite upper as ``<=``,
finite lower as ``>=``) over a sparse ``A @ x``.  Nothing is built per row in Python.

Duals (``Result.duals[constraint][row]``) are **shadow prices**: the derivative of the
optimal objective, in the user's sense, with respect to the row's bound — for a ranged row
with respect to whichever bound is active (the other has a zero multiplier, so the two parts
are simply added).  A binding ``<=`` capacity in a maximisation has a non-negative dual
(more capacity, more profit); a binding ``>=`` demand in a minimisation has a non-negative
dual (more demand, more cost).  From cvxpy's multipliers (``y >= 0`` for inequalities,
Lagrangian ``f + y'(g - u)``): ``dual = s * (-y_le + y_ge - y_eq)`` with ``s = +1`` when
minimising and ``-1`` when maximising.  Mixed-integer models have no duals.

Statuses: ``optimal``; cvxpy's ``optimal_inaccurate`` becomes ``feasible`` with
``stats["inaccurate"] = True`` (the point is usable but carries no optimality certificate —
SCIP also reports a time-limited incumbent this way; with a time limit that was reached it is
``limit``); ``infeasible(_inaccurate)`` -> ``infeasible``; ``unbounded(_inaccurate)`` ->
``unbounded``; ``infeasible_or_unbounded`` is settled by a feasibility solve (zero objective);
``user_limit`` -> ``limit`` with the incumbent when there is one; a solver error -> ``error``.
``unbounded`` is settled the same way: conic solvers report the certificate of an infeasible
model with a free objective direction as unbounded, so a feasibility solve decides (it stays
``unbounded`` only when the constraints have a point, and becomes ``error`` with the reason
when the objective is strictly convex in every unknown it uses, so that it cannot be
unbounded).  A continuous solver's ``infeasible`` is checked by a feasibility solve measured
in the user's model; refuted, the model is solved again with a fallback solver (SCS or
Clarabel), or the feasible point is reported as ``feasible``.  A point with nan in it, or a nan
objective or violation, is ``error`` with the reason in ``stats["message"]`` — never
``optimal``.

Numerical honesty: HiGHS reads matrix entries with ``|a| < 1e-9`` as zero and bounds beyond
``1e20`` as infinite, so ``1e-10 x >= 1`` would read ``0 >= 1``.  Every linear row (on either
path) whose largest coefficient lies outside ``[1e-3, 1e6]`` is multiplied by a power of two
(exact) that brings it near 1; a nonlinear row on the DCP path is scaled the same way by its
measured spread (:func:`body_spread`: how much it changes over a few fixed points of the unit
box), and a quadratic row by its largest coefficient before its form is factored
(:func:`prescale_quadratic_rows`); duals are scaled back, so they stay in the user's units.
An objective whose coefficients (or measured spread, on the DCP path) are all below 1e-3 is
scaled up the same way (:func:`~.polynomial.prescale_objective`): solvers compare costs with
absolute tolerances, so ``maximize 1e-10 * x`` stopped at ``x = 0``; the objective is
measured in the user's model and the duals and MIP bound are divided by the factor.
Each scaled family, and — when the solver is HiGHS — each coefficient it would still drop or
bound it would read as infinite, is a line in ``stats["notes"]`` naming the row.  The band,
the powers of two, the objective rule and the notes' wording are
:mod:`lagdsl.lower.matrix`'s, and the dual sign table, the MIP bound and the nan rule
:mod:`lagdsl.solution`'s: the ``highs`` backend uses the same ones.  Odd powers
of non-negative expressions (``abs(x - 2)^3``) are ``cp.power``, convex and DCP.

Modules: :mod:`.polynomial` (the polynomial path), :mod:`.dcp` and :mod:`.algebra` (the DCP
path), :mod:`.lowered` (the cvxpy form both produce), :mod:`.scaling` (rows split by sense
scaled, the spread of nonlinear bodies), :mod:`.options` (solver choice and options),
:mod:`.program` (solving and reading the answer back), :mod:`.statuses` and :mod:`.progress`
(statuses, MIP gap and bound); this module holds the backend itself.
"""
from __future__ import annotations

import time
import weakref

from lagdsl.backend import Backend, Refusal, coerce_options, fields_refusal
from lagdsl.errors import LagDataError, LagError
from lagdsl.ir.classify import NONCONVEX_ATOMS, ModelClass, classify
from lagdsl.ir.model import Model
from lagdsl.lower.instance import lower_instance, owner_label
from lagdsl.lower.poly import NotPolynomial
from lagdsl.options import boolean, choice, number
from lagdsl.passes.base import PassError

import cvxpy as cp  # after lagdsl: a missing cvxpy is reported by get_backend

# The backend was one module, lagdsl.backends.cvxpy; every public name it had is still
# importable from here, except the scaling rules it now shares with the highs backend
# (HIGHS_SMALL, HIGHS_INFINITE, SCALE_BAND, scaling_note, ...: lagdsl.lower.matrix).
from .algebra import CvxpyAlgebra
from .dcp import dcp_refusal, lower_dcp
from .lowered import Lowered, Part, flat_variable, split_rows
from .options import (MIQP_SOLVERS, SOLVER_ARGS, check_solver_args, parse_solver_args,
                      pick_solver, quiet_stdout, solver_options)
from .polynomial import (lower_polynomial, prescale_quadratic_rows, quad_rows_expr,
                         strictly_convex_objective)
from .program import EMITS, CvxpyProgram
from .progress import mip_progress
from .scaling import FEASIBILITY_TOL, body_spread, scale_rows
from .statuses import STATUS

__all__ = ["BACKEND", "CvxpyBackend", "CvxpyProgram", "CvxpyAlgebra", "Lowered", "Part", "STATUS",
           "SOLVER_ARGS", "MIQP_SOLVERS", "FEASIBILITY_TOL", "body_spread", "check_solver_args",
           "dcp_refusal", "flat_variable", "lower_dcp", "lower_polynomial", "mip_progress",
           "parse_solver_args", "pick_solver", "prescale_quadratic_rows", "quad_rows_expr",
           "quiet_stdout", "scale_rows", "solver_options", "split_rows",
           "strictly_convex_objective"]


class CvxpyBackend(Backend):
    """Convex and mixed-integer convex models through cvxpy (HiGHS, Clarabel, SCIP, ...)."""

    name = "cvxpy"
    description = "convex and mixed-integer convex models via cvxpy (HiGHS, Clarabel, SCIP)"
    options = {
        "solver": ("auto", "cvxpy solver name, or auto: HIGHS for LP/MILP, CLARABEL for "
                           "continuous QP/SOCP/exp-cone, SCIP for mixed-integer QP/SOCP",
                   choice("auto", *sorted(cp.installed_solvers()), fold_case=True)),
        "verbose": (False, "show the solver's log (on stderr; stdout stays clean)", boolean()),
        "time_limit": (0.0, "seconds; 0 means no limit", number(0)),
        "mip_gap": (1e-4, "relative MIP gap at which a mixed-integer solve stops as optimal",
                    number(0, 1, high_open=True)),
        "binary_products": ("auto", "linearize | keep | auto: products of binaries become "
                                    "linear rows unless the solver is a MIQP solver",
                            choice("linearize", "keep", "auto")),
        "solver_args": ("", "extra options for the solver as k=v;k=v (e.g. presolve=off for "
                            "HiGHS, whose presolve is slow on one very long dense row); keys "
                            "are checked against HiGHS's, SCIP's and Clarabel's settings",
                        SOLVER_ARGS),
    }
    emits = EMITS

    def __init__(self):
        self._cache: tuple | None = None

    def accepts(self, model: Model) -> list[Refusal]:
        """Reasons not to take ``model``: fields, constructs no convex solver takes, and —
        by lowering quadratic and nonlinear models — non-convex quadratics and non-DCP bodies."""
        cls = classify(model)
        out = []
        fields = fields_refusal(model)
        if fields is not None:
            return [fields]
        for owner, info in self._bodies(model, cls):
            bad = sorted(set(info["atoms"]) & NONCONVEX_ATOMS)
            if bad:
                out.append(Refusal("%s: %s of unknowns is not convex-representable"
                                   % (owner_label(owner), ", ".join(bad)), owner.span))
        if out or cls.kind in ("LP", "MILP", "binary linear"):
            return out
        try:
            self._lower(model, coerce_options(self, None))
        except LagDataError:
            raise           # the data is wrong for every backend: a data error, not a refusal
        except LagError as exc:
            out.append(Refusal(getattr(exc, "reason", exc.message), exc.span))
        return out

    @staticmethod
    def _bodies(model: Model, cls: ModelClass):
        if model.objective is not None and cls.details.get("objective"):
            yield model.objective, cls.details["objective"]
        for name, info in cls.details.get("constraints", {}).items():
            yield model.constraints[name], info

    def compile(self, model: Model, options: dict | None = None) -> CvxpyProgram:
        """Lower ``model`` to a cvxpy problem (refusing it with a positioned reason)."""
        opts = coerce_options(self, options)
        if model.fields:
            self.refuse_unless_accepted(model)
        t0 = time.perf_counter()
        low, cls = self._lower(model, opts)
        return CvxpyProgram(model, low, cls, opts, time.perf_counter() - t0)

    def _lower(self, model: Model, opts: dict) -> tuple[Lowered, ModelClass]:
        """Lower once per (model, lowering options); :meth:`accepts` then :meth:`compile`
        reuse the result instead of lowering twice."""
        key = (opts["solver"].upper(), opts["binary_products"])
        if self._cache is not None:
            ref, k, value = self._cache
            if ref() is model and k == key:
                return value
        cls = classify(model)
        for owner, info in self._bodies(model, cls):
            bad = sorted(set(info["atoms"]) & NONCONVEX_ATOMS)
            if bad:
                raise self.refusal("%s: %s of unknowns is not convex-representable"
                                   % (owner_label(owner), ", ".join(bad)), owner.span, source=model.source)
        try:
            low = None
            if not cls.nonlinear:
                try:
                    low = lower_polynomial(model, lower_instance(model), opts)
                except NotPolynomial:
                    low = None
            if low is None:
                low = lower_dcp(model, opts, cls)
        except PassError as exc:
            raise self.refusal(exc.message, exc.span, exc.hint, model.source) from None
        self._cache = (weakref.ref(model), key, (low, cls))
        return low, cls


BACKEND = CvxpyBackend()
