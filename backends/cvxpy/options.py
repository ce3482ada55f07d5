"""Solver choice and solver options: ``auto`` resolution, time limit and MIP gap in each
solver's own option names, ``solver_args`` parsed and checked against the solver's settings,
and solver banners kept off stdout."""
from __future__ import annotations

from typing import Any

from lagdsl._stdio import stdout_redirected
from lagdsl.options import assignments, unknown_keys

from .lowered import Lowered

#: The ``solver_args`` validator (also used to read the option back in ``solver_options``).
SOLVER_ARGS = assignments()

#: Solvers that take integer unknowns with quadratic or second-order-cone parts.
MIQP_SOLVERS = ("SCIP", "GUROBI", "CPLEX", "MOSEK", "XPRESS", "COPT")


def quiet_stdout(verbose: bool):
    """Keep solver output off stdout while solving (to stderr when ``verbose``)."""
    return stdout_redirected(to_stderr=verbose)


def pick_solver(low: Lowered, requested: str) -> str:
    """``auto``: HiGHS for LP/MILP (binary quadratics arrive here linearised), Clarabel for
    continuous QP/SOCP/exponential-cone models, SCIP for mixed-integer QP/SOCP."""
    if requested.lower() != "auto":
        return requested.upper()
    conic = low.quadratic or bool(low.cones)
    if not conic:
        return "HIGHS"
    return "SCIP" if low.integer else "CLARABEL"


def solver_options(solver: str, opts: dict, integer: bool) -> dict:
    """Time limit and MIP gap in each solver's own option names (0 / None: the default)."""
    t, gap = float(opts["time_limit"] or 0.0), opts["mip_gap"]
    kw: dict[str, Any] = {}
    if solver == "HIGHS":
        if t > 0:
            kw["time_limit"] = t
        if integer and gap is not None:
            kw["mip_rel_gap"] = float(gap)
    elif solver == "SCIP":
        # Ctrl-C is lagdsl's to handle (exit 130, see lagdsl._stdio.run_interruptible), not a
        # SCIP limit that returns an incumbent with status "limit".
        params = {"misc/catchctrlc": False}
        if t > 0:
            params["limits/time"] = t
        if gap is not None:
            params["limits/gap"] = float(gap)
        kw["scip_params"] = params
    elif solver in ("CLARABEL", "OSQP") and t > 0:
        kw["time_limit"] = t
    elif solver == "SCS" and t > 0:
        kw["time_limit_secs"] = t
    elif solver == "GUROBI":
        if t > 0:
            kw["TimeLimit"] = t
        if gap is not None:
            kw["MIPGap"] = float(gap)
    extra = parse_solver_args(opts.get("solver_args") or {})
    if solver == "HIGHS" and extra:
        # HiGHS's own option names may clash with cvxpy's keywords (``solver=ipm``)
        kw["highs_options"] = extra
    elif solver == "SCIP" and extra:
        kw.setdefault("scip_params", {}).update(extra)      # SCIP's parameters by their names
    else:
        kw.update(extra)
    return kw


def canon_options(low: Lowered) -> dict:
    """cvxpy's canonicalisation backend for ``low``: SciPy's for a polynomial problem without
    parameters (it builds the same matrices as the default C++ backend, bit for bit on
    bench/'s 490k-unknown transport LP, in about 60% of the time), cvxpy's own choice
    otherwise (with parameters it picks one by their size)."""
    if low.path == "polynomial" and not low.problem.parameters():
        return {"canon_backend": "SCIPY"}
    return {}


def parse_solver_args(value) -> dict:
    """``"presolve=off;threads=2"`` (or the dict the option's validator made of it) ->
    ``{"presolve": "off", "threads": 2}`` (numbers and true/false converted)."""
    return SOLVER_ARGS("solver_args", value) if value else {}


def check_solver_args(solver: str, settings: dict) -> None:
    """Refuse ``solver_args`` keys the chosen solver does not have, where its settings can
    be listed (HiGHS, SCIP, Clarabel); other solvers report unknown keys when solving."""
    if not settings:
        return
    if solver == "HIGHS":
        import highspy
        with stdout_redirected(to_stderr=False):         # HiGHS prints a banner and errors
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            bad = [k for k in settings if h.getOptionType(k)[0] != highspy.HighsStatus.kOk]
        if bad:     # the names to suggest: the options HiGHS's Python binding lists
            names = [a for a in dir(highspy.HighsOptions()) if not a.startswith("_")]
            unknown_keys("solver_args", {bad[0]: settings[bad[0]]}, names, "HiGHS")
    elif solver == "SCIP":
        import pyscipopt
        unknown_keys("solver_args", settings, pyscipopt.Model().getParams(), "SCIP")
    elif solver == "CLARABEL":
        import clarabel
        unknown_keys("solver_args", settings, {a for a in dir(clarabel.DefaultSettings())
                                               if not a.startswith("_")}, "Clarabel")
