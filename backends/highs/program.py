"""A model compiled into a kept ``highspy.Highs`` object: solve, solve again after
:meth:`HighsProgram.rebind` (warm from HiGHS's basis), emit what HiGHS writes.

Statuses (:data:`lagdsl.solution.HIGHS_STATUS`): ``kOptimal`` -> ``optimal``; ``kInfeasible``
-> ``infeasible``; ``kUnbounded`` and ``kUnboundedOrInfeasible`` are settled by a solve of
the same rows with no objective (``unbounded`` only when the rows have a point); time,
iteration and other limits -> ``limit`` with the incumbent when HiGHS has one (and, for
MILPs, ``stats["mip_gap"]`` and ``stats["bound"]``); anything else -> ``error`` with HiGHS's
status in ``stats["message"]``.
"""
from __future__ import annotations

import os
import tempfile
import time

import highspy

from lagdsl._stdio import stdout_redirected
from lagdsl.backend import Program
from lagdsl.errors import BackendRefusal
from lagdsl.ir.model import Model
from lagdsl.lower.matrix import QuadraticRows
from lagdsl.passes.base import PassError
from lagdsl.result import Result
from lagdsl.solution import HIGHS_STATUS

from . import model as hm
from . import options as ho
from . import progress as hp
from . import results as hr
from .lowering import Lowered


def _status_name(h: highspy.Highs) -> str:
    return h.getModelStatus().name


class HighsProgram(Program):
    """A model compiled for HiGHS; :meth:`solve` may be called more than once."""

    backend = "highs"

    def __init__(self, model: Model, low: Lowered, kind: str, opts: dict, t_lower: float):
        self.model, self.low, self.kind, self.opts = model, low, kind, opts
        self.t_lower = t_lower
        self.settings = ho.settings(opts, low.form.integer)
        t0 = time.perf_counter()
        with stdout_redirected(to_stderr=bool(opts["verbose"])):
            self.h = hm.new_highs(self.settings)
            hm.pass_form(self.h, low.form)
        self.runner = hp.Runner(self.h)
        self.t_pass = time.perf_counter() - t0
        self.solves = 0
        self.changes: dict | None = None

    # --- solving ---------------------------------------------------------------------

    def solve(self) -> Result:
        """Solve (warm from the last basis after the first solve) and report in the user's
        names and sense."""
        form = self.low.form
        t0 = time.perf_counter()
        message = None
        self.runner.idle()
        run0 = self.h.getRunTime()      # HiGHS's run clock accumulates over runs
        with stdout_redirected(to_stderr=bool(self.opts["verbose"])):
            self.runner.run(form, form.integer)
            t_solver = self.h.getRunTime() - run0
            name = _status_name(self.h)
            if name in ("kUnbounded", "kUnboundedOrInfeasible"):
                name, message = self._settle(name)
        t_solve = time.perf_counter() - t0
        status = HIGHS_STATUS.get(name, "error")
        if status == "error" and message is None:
            message = "HiGHS stopped with status %s" % self.h.modelStatusToString(self.h.getModelStatus())
            if name == "kSolveError" and form.hessian is not None:
                # HiGHS 1.16's active-set QP solver fails so on about 2% of DC3's random QPs
                # (it "claims optimality" with primal infeasibilities) whatever its options
                message += ("; HiGHS's QP solver failed on this instance (a numerical failure, not "
                            "a property of the model): --backend cvxpy solves convex QPs with "
                            "another solver")
            if name == "kNotset" and "threads" in self.settings:
                message += (" (HiGHS runs one thread pool per process; another solve running in this "
                            "process uses it with another thread count than threads=%d)"
                            % self.settings["threads"])
        info = self.h.getInfo()
        stats = {"solver": "HiGHS %s" % self.h.version(), "class": self.kind,
                 "unknowns": self.model.num_unknowns, "rows": int(sum(b.n for b in self.low.inst.blocks)),
                 "lowered_unknowns": form.N, "passes": list(self.low.passes),
                 "highs_status": name, "warm_start": self.solves > 0,
                 "simplex_iterations": int(info.simplex_iteration_count)}
        if info.ipm_iteration_count:
            stats["ipm_iterations"] = int(info.ipm_iteration_count)
        if info.pdlp_iteration_count:
            stats["pdlp_iterations"] = int(info.pdlp_iteration_count)
        if self.changes is not None:
            # what the last rebind passed: reported by the solve that follows it, once
            stats["changed"], self.changes = dict(self.changes), None
        if message:
            stats["message"] = message
        notes = list(form.notes) + list(form.solver_notes)
        if notes:
            stats["notes"] = notes
        times = {"lower": self.t_lower, "pass": self.t_pass, "solver": float(t_solver),
                 "solve": t_solve, "total": self.t_lower + self.t_pass + t_solve}
        self.solves += 1
        t1 = time.perf_counter()
        res = hr.build(self.h, self.low, self.model, status, stats, times)
        times["results"] = time.perf_counter() - t1
        return res

    def _settle(self, name: str) -> tuple[str, str | None]:
        """``unbounded`` (or HiGHS's "unbounded or infeasible") is decided by the rows alone:
        a feasibility solve of the same rows and bounds with no objective."""
        feas = hm.new_highs({k: v for k, v in self.settings.items() if k != "output_flag"})
        hm.pass_form(feas, self.low.form, zero_objective=True)
        feas.run()
        got = _status_name(feas)
        if got == "kInfeasible":
            return "kInfeasible", None
        if got == "kOptimal":
            return "kUnbounded", None
        return name, "HiGHS says %s; a feasibility check was inconclusive (%s)" % (
            "unbounded" if name == "kUnbounded" else "unbounded or infeasible", got)

    # --- re-solving with new data ------------------------------------------------------

    def rebind(self, model: Model, changed: frozenset[str]) -> bool:
        """Take ``model`` (the same structure, new values for the params in ``changed``):
        re-lower what the changed params touch (:func:`~lagdsl.lower.incremental.relower`),
        rebuild only those parts of the kept matrix form (:func:`~lagdsl.lower.matrix.
        update_form`), and pass HiGHS only the costs, bounds and coefficients that differ,
        keeping its basis for a warm start.  False (nothing changed here; ``rebind_info``
        says why) when the new data changes the structure: sizes, the sparsity pattern,
        integrality, or a pass's rewriting."""
        from lagdsl.lower.incremental import relower
        from lagdsl.lower.matrix import matrix_form, update_form
        if self.low.inverse:
            self.rebind_info = {"reason": "the model was rewritten by %s" % ", ".join(self.low.passes)}
            return False
        t0 = time.perf_counter()
        inst = relower(self.low.inst, model, changed)
        try:
            got = update_form(self.low.form, inst)
            form, touched = got if got is not None else (matrix_form(inst), None)
        except PassError as exc:         # new data can make a QP non-convex
            from . import BACKEND
            raise BACKEND.refusal(exc.message, exc.span, exc.hint, model.source) from None
        except QuadraticRows:
            self.rebind_info = {"reason": "the new data makes a constraint row quadratic"}
            return False
        if touched is None and not hm.same_structure(self.low.form, form):
            self.rebind_info = {"reason": "the new data changes the sparsity pattern or integrality"}
            return False
        t1 = time.perf_counter()
        form._keys = self.low.form._keys        # same families, same rows: same labels
        self.runner.idle()
        self.changes = hm.pass_changes(self.h, self.low.form, form, touched)
        self.t_pass = time.perf_counter() - t1
        self.t_lower = t1 - t0
        self.rebind_info = {"compared": "whole form" if touched is None else touched.summary(),
                            "passed": dict(self.changes)}
        self.model, self.low = model, Lowered(inst, form)
        return True

    # --- export --------------------------------------------------------------------------

    def emit(self, fmt: str) -> str:
        """The model as HiGHS writes it (``mps`` or ``lp``; rows and objective as passed to
        HiGHS, so a scaled row appears scaled)."""
        from . import HighsBackend
        if fmt not in HighsBackend.emits:
            return super().emit(fmt)
        with tempfile.TemporaryDirectory(prefix="lagdsl-highs-") as d:
            path = os.path.join(d, "model." + fmt)
            self.runner.idle()
            with stdout_redirected(to_stderr=False):
                st = self.h.writeModel(path)
            if st == highspy.HighsStatus.kError or not os.path.exists(path):
                raise BackendRefusal("HiGHS could not write the model as %s" % fmt)
            with open(path, encoding="utf-8") as fh:
                return fh.read()
