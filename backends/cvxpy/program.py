"""A compiled cvxpy problem: solving it, settling doubtful statuses, and reading the answer
back in the user's names, sense and units."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from lagdsl.backend import Program
from lagdsl.ir.classify import ModelClass
from lagdsl.ir.model import Model
from lagdsl.lower.instance import max_violation, per_row, unflatten
from lagdsl.lower.matrix import HIGHS_SMALL
from lagdsl.lower.numeric import objective_value, point_violation
from lagdsl.passes.base import Chain, Solution
from lagdsl.result import Result
from lagdsl.solution import multiplier_duals, no_mip_duals, no_nan

import cvxpy as cp
import cvxpy.settings as cvxpy_settings

from .lowered import Lowered
from .options import (canon_options, check_solver_args, parse_solver_args, pick_solver, quiet_stdout,
                      solver_options)
from .progress import mip_progress
from .scaling import FEASIBILITY_TOL
from .statuses import STATUS

#: The export formats ``compile --emit`` takes besides ``ir``.
EMITS = ("lp", "mps")

class CvxpyProgram(Program):
    """A model compiled to a cvxpy problem; :meth:`solve` may be called more than once."""

    backend = "cvxpy"

    def __init__(self, model: Model, low: Lowered, cls: ModelClass, opts: dict, t_lower: float):
        self.model, self.low, self.cls, self.opts = model, low, cls, opts
        self.t_lower = t_lower
        self.solver = pick_solver(low, opts["solver"])
        self.used_solver, self.run_notes = self.solver, []   # what the last solve() used, saw
        check_solver_args(self.solver, parse_solver_args(opts.get("solver_args")))

    def emit(self, fmt: str) -> str:
        """LP or MPS text of the model (from :mod:`lagdsl.export`, imported when asked)."""
        if fmt not in EMITS:
            return super().emit(fmt)
        from lagdsl.export import emit
        return emit(self.model, fmt)

    def solve(self) -> Result:
        """Solve with the chosen solver and report in the user's names and sense."""
        low, opts = self.low, self.opts
        t0 = time.perf_counter()
        kw = solver_options(self.solver, opts, low.integer)
        kw.update(canon_options(low))
        message = None
        self.used_solver, self.run_notes = self.solver, []
        try:
            with quiet_stdout(bool(opts["verbose"])):
                if self.solver == "HIGHS" and low.path == "dcp":
                    self.run_notes.extend(self._canonical_drops())
                low.problem.solve(solver=self.solver, verbose=bool(opts["verbose"]), **kw)
                status = low.problem.status
                if status == cvxpy_settings.INFEASIBLE_OR_UNBOUNDED:
                    status = self._settle(kw)
                elif status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
                    # conic solvers report a dual infeasibility certificate of an infeasible
                    # model (exp(x) <= 0) as unbounded: unbounded needs a feasible point
                    settled = self._settle(kw)
                    status = status if settled == cp.SOLVER_ERROR else settled
                    if settled == cp.SOLVER_ERROR:
                        message = "the solver says unbounded; a feasibility check was inconclusive"
                    elif status == cp.UNBOUNDED and low.bounded:
                        status = cp.SOLVER_ERROR
                        message = ("%s says unbounded, but the objective is strictly %s in every "
                                   "unknown it uses, so it is bounded: the model is badly scaled "
                                   "(rescale its unknowns)" % (self.solver, "convex" if isinstance(
                                       low.problem.objective, cp.Minimize) else "concave"))
                elif status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE) and not low.integer \
                        and self.solver != "HIGHS":
                    status = self._doubt_infeasible(kw, status)
        except (cp.error.SolverError, ValueError) as exc:
            # cvxpy raises ValueError("Cannot unpack invalid solution") on an UNKNOWN status
            status, message = cp.SOLVER_ERROR, str(exc)
        t_solve = time.perf_counter() - t0
        return self._result(status, message, t_solve)

    # --- re-solving with new data ------------------------------------------------------

    def rebind(self, model: Model, changed: frozenset[str]) -> bool:
        """Take ``model`` (the same structure, new values for the params in ``changed``) on
        the polynomial path: re-lower what they touch (:func:`~lagdsl.lower.incremental.
        relower`), recompute the problem's arrays with the same passes and scalings
        (:func:`~.polynomial.poly_arrays`) and, when only right-hand sides and the
        objective's linear vector and constant differ (:func:`~.polynomial.structure_change`),
        set them as ``cp.Parameter`` values: cvxpy then reuses its (DPP) canonicalisation.
        The first rebind builds the parametric problem (a compiled program that is never
        re-solved keeps the parameter-free one and SciPy's faster canonicalisation).  False
        (``rebind_info["reason"]`` says why; the caller compiles again) on the DCP path or
        when the structure changes."""
        from lagdsl.lower.incremental import relower
        from lagdsl.passes.base import PassError
        from .polynomial import build_problem, poly_arrays, strictly_convex_objective, structure_change
        low = self.low
        if low.path != "polynomial" or low.arrays is None:
            self.rebind_info = {"reason": "the model is not polynomial (cvxpy's DCP path has "
                                          "no parameters)"}
            return False
        t0 = time.perf_counter()
        inst = relower(low.instance, model, changed)
        try:
            arrays = poly_arrays(inst, self.opts)
        except PassError as exc:          # new data can make a QP non-convex: compile again
            self.rebind_info = {"reason": exc.message}
            return False
        why = structure_change(low.arrays, arrays)
        if why is not None:
            self.rebind_info = {"reason": why}
            return False
        if low.parameters is None:
            low.problem, low.parts, low.parameters = build_problem(arrays, low.x, parametric=True)
            made = "made the problem parametric"
        else:
            for (key, p) in low.parameters.items():
                if key == "q":
                    p.value = arrays.q
                elif key == "const":
                    p.value = arrays.const
                else:
                    name, k = key
                    p.value = arrays.parts[name][k][3]
            made = "set parameter values"
        low.arrays, low.instance, low.inverse = arrays, inst, arrays.inverse
        # a cost that becomes zero can leave an unknown outside the strictly convex part
        low.bounded = strictly_convex_objective(arrays.inst, arrays.forms.objective)
        low.notes, low.highs_notes = arrays.notes, arrays.highs
        self.model, self.t_lower = model, time.perf_counter() - t0
        self.rebind_info = {"parameters": made, "count": len(low.parameters)}
        return True

    def _settle(self, kw: dict) -> str:
        """``infeasible_or_unbounded``: the constraints alone decide which one it is."""
        feas = cp.Problem(cp.Minimize(0), self.low.problem.constraints)
        feas.solve(solver=self.solver, **kw)
        if feas.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            return cp.INFEASIBLE
        return cp.UNBOUNDED if feas.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) else cp.SOLVER_ERROR

    def _canonical_drops(self) -> list[str]:
        """On the DCP path, cvxpy's reformulation (abs, max, norms) builds HiGHS's rows, so
        mixed rows such as ``1e-10 * x + abs(y) <= 1`` can only be checked in the matrix HiGHS
        receives.  cvxpy keeps that reformulation for the solve that follows, so looking costs
        nothing more."""
        try:
            data = self.low.problem.get_problem_data(cp.HIGHS)[0]
        except (cp.error.SolverError, cp.error.DCPError, ValueError, KeyError):
            return []
        A = data.get("A")
        if A is None or not sp.issparse(A) or not A.nnz:
            return []
        vals = np.abs(A.data)
        tiny = (vals > 0) & (vals < HIGHS_SMALL)
        if not tiny.any():
            return []
        return ["HiGHS reads %d coefficient%s of the reformulated model below 1e-9 as zero "
                "(e.g. %g); scale the rows they are in" % (
                    int(tiny.sum()), "" if tiny.sum() == 1 else "s", float(A.data[tiny][0]))]

    def _doubt_infeasible(self, kw: dict, status: str) -> str:
        """An interior-point solver's ``infeasible`` on a badly scaled model can be false
        (Clarabel: ``min x^2`` over ``1e5 <= x <= 1e13``).  A feasibility solve that finds a
        point meeting every constraint (measured by lagdsl, in the user's model) refutes it:
        the model is solved again with a fallback solver, and if that fails too the feasible
        point is reported as ``feasible``.  Each step is a line in ``stats["notes"]``."""
        low = self.low
        feas = cp.Problem(cp.Minimize(0), low.problem.constraints)
        try:
            feas.solve(solver=self.solver, **kw)
        except (cp.error.SolverError, ValueError):
            return status
        if feas.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or low.x.value is None:
            return status
        point = np.asarray(low.x.value, dtype=np.float64).reshape(-1).copy()
        viol = self._violation(point)
        if not viol <= FEASIBILITY_TOL * max(1.0, float(np.max(np.abs(point), initial=0.0))):
            return status
        why = ("%s reported infeasible, but lagdsl found a point that meets every constraint "
               "(max violation %.3g)" % (self.solver, viol))
        for other in ("SCS", "CLARABEL"):
            if other == self.solver:
                continue
            try:
                low.problem.solve(solver=other, **solver_options(other, self.opts, False))
            except (cp.error.SolverError, ValueError):
                continue
            if low.problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
                self.used_solver = other
                self.run_notes.append("%s; solved again with %s" % (why, other))
                return low.problem.status
        low.x.value = point.reshape(low.x.shape)
        self.run_notes.append("%s; no other solver found an optimum, so that point is reported"
                              % why)
        return cp.OPTIMAL_INACCURATE

    def _violation(self, xv: np.ndarray) -> float:
        """The largest violation, in the user's model, of a point of the lowered variable."""
        x = Chain.invert(Solution(xv, {}), self.low.inverse).x[:self.model.num_unknowns]
        with np.errstate(all="ignore"):
            if self.low.instance is not None:
                return max_violation(self.low.instance, x)
            return point_violation(self.model, x)

    def _result(self, status: str, message: str | None, t_solve: float) -> Result:
        low, model = self.low, self.model
        lstatus = STATUS.get(status, "error")
        stats: dict[str, Any] = {"solver": self.used_solver, "class": self.cls.kind,
                                 "unknowns": model.num_unknowns, "rows": low.rows,
                                 "lowered_unknowns": int(low.x.size), "path": low.path,
                                 "passes": list(low.passes), "cvxpy_status": status}
        if message:
            stats["message"] = message
        notes = list(low.notes) + (list(low.highs_notes) if self.used_solver == "HIGHS" else [])
        notes.extend(self.run_notes)
        if notes:
            stats["notes"] = notes
        ss = low.problem.solver_stats if status != cp.SOLVER_ERROR else None
        if ss is not None and ss.num_iters is not None:
            stats["iterations"] = int(ss.num_iters)
        if status == cp.OPTIMAL_INACCURATE:
            stats["inaccurate"] = True
            t = float(self.opts["time_limit"] or 0)
            if t > 0 and ss is not None and (ss.solve_time or 0) >= 0.98 * t:
                lstatus = "limit"
        res = Result(lstatus, backend="cvxpy", stats=stats)
        xv = low.x.value if status not in (cp.SOLVER_ERROR, cp.INFEASIBLE, cp.UNBOUNDED,
                                            cp.INFEASIBLE_INACCURATE, cp.UNBOUNDED_INACCURATE) else None
        if xv is not None:
            sol = Chain.invert(Solution(np.asarray(xv, dtype=np.float64).reshape(-1),
                                        self._duals(low)), low.inverse)
            x = sol.x[:model.num_unknowns]
            res.values = unflatten(model, x)
            res.duals = {name: per_row(low.keys[name][0], d, low.keys[name][1])
                         for name, d in sol.duals.items() if name in low.keys}
            with np.errstate(all="ignore"):
                if low.instance is not None:
                    o = low.instance.objective
                    res.objective = None if o is None else float(o.evaluate(x)[0])
                    res.max_violation = max_violation(low.instance, x)
                else:
                    res.objective = objective_value(model, x)
                    res.max_violation = point_violation(model, x)
            no_nan(res, x)
        if ss is not None and ss.solve_time is not None:
            res.times["solver"] = float(ss.solve_time)
        if status != cp.SOLVER_ERROR and low.problem.compilation_time is not None:
            res.times["canonicalize"] = float(low.problem.compilation_time)
        res.times.update({"lower": self.t_lower, "solve": t_solve, "total": self.t_lower + t_solve})
        if low.integer:
            no_mip_duals(res)
        if low.integer and res.objective is not None and lstatus in ("limit", "feasible"):
            stats.update(mip_progress(ss, res.objective, isinstance(low.problem.objective, cp.Maximize),
                                      low.objective_scale))
        return res

    def _duals(self, low: Lowered) -> dict[str, np.ndarray]:
        """Signed shadow prices per block (see the module docstring); none for MIPs."""
        if low.integer:
            return {}
        s = 1.0 if not isinstance(low.problem.objective, cp.Maximize) else -1.0
        out = {}
        for name, parts in low.parts.items():
            n = len(low.keys[name][0]) if name in low.keys else (
                max((int(p.rows.max()) + 1 for p in parts), default=0))
            d = np.zeros(n)
            ok = True
            for p in parts:
                y = p.constraint.dual_value
                if y is None:
                    ok = False
                    break
                y = np.asarray(y, dtype=np.float64).reshape(-1)
                if p.scale is not None:
                    y = y * p.scale
                d[p.rows] += multiplier_duals(y, p.sense, s)
            if ok:
                # / objective_scale (a power of two): the solver's objective was scaled
                out[name] = d / low.objective_scale + 0.0    # + 0.0: no negative zeros
        return out
