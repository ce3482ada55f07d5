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
Each scaled family, and — when the solver is HiGHS — each coefficient it would still drop or
bound it would read as infinite, is a line in ``stats["notes"]`` naming the row.  Odd powers
of non-negative expressions (``abs(x - 2)^3``) are ``cp.power``, convex and DCP.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from lagdsl._stdio import stdout_redirected
from lagdsl.backend import Backend, Program, Refusal, coerce_options, fields_refusal
from lagdsl.errors import BackendRefusal, LagError
from lagdsl.ir.classify import NONCONVEX_ATOMS, ModelClass, classify
from lagdsl.ir.model import Model
from lagdsl.lower.evaluate import Evaluator, reduce_data
from lagdsl.lower.instance import (Instance, constraint_rows, bound_vector, lower_block,
                                   lower_instance, max_violation, owner_label, per_row, row_keys,
                                   unflatten, variable_arrays)
from lagdsl.lower.numeric import NumericAlgebra, objective_value, point_violation
from lagdsl.lower.poly import NotPolynomial, PolyBatch, Quad
from lagdsl.options import assignments, boolean, choice, number, unknown_keys
from lagdsl.lower.rows import Rows, segment_matrix
from lagdsl.passes.base import (Chain, PassError, Solution, binary_mask, column_label, linear_part,
                                polys)
from lagdsl.passes.binary_product2linear import BinaryProduct2Linear
from lagdsl.passes.quad2form import NonConvexQuadratic, QuadForms, QuadInstance, Quadratic2QuadForm
from lagdsl.result import Result

import cvxpy as cp  # after lagdsl: a missing cvxpy is reported by get_backend
import cvxpy.settings as cvxpy_settings

#: cvxpy statuses -> lagdsl statuses (see the module docstring).
STATUS = {
    cp.OPTIMAL: "optimal", cp.OPTIMAL_INACCURATE: "feasible",
    cp.INFEASIBLE: "infeasible", cp.INFEASIBLE_INACCURATE: "infeasible",
    cp.UNBOUNDED: "unbounded", cp.UNBOUNDED_INACCURATE: "unbounded",
    cp.USER_LIMIT: "limit", cp.SOLVER_ERROR: "error",
}

#: The ``solver_args`` validator (also used to read the option back in ``solver_options``).
SOLVER_ARGS = assignments()

#: Solvers that take integer unknowns with quadratic or second-order-cone parts.
MIQP_SOLVERS = ("SCIP", "GUROBI", "CPLEX", "MOSEK", "XPRESS", "COPT")


# --- keeping solver banners off stdout ---------------------------------------------------


def quiet_stdout(verbose: bool):
    """Keep solver output off stdout while solving (to stderr when ``verbose``)."""
    return stdout_redirected(to_stderr=verbose)


# --- the flat variable -------------------------------------------------------------------


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


# --- numerical honesty: what a solver would silently change --------------------------------

#: HiGHS reads matrix entries with |a| below this as zero (its ``small_matrix_value``) ...
HIGHS_SMALL = 1e-9
#: ... and bounds at or beyond this as infinite (its ``infinite_bound``).
HIGHS_INFINITE = 1e20
#: A point violating no constraint by more than this (relative to its size) is feasible.
FEASIBILITY_TOL = 1e-6
#: Rows whose largest coefficient lies outside this band are scaled to a largest of about 1.
SCALE_BAND = (1e-3, 1e6)


def row_scale(A: sp.csr_matrix) -> np.ndarray:
    """A power of two per row (exact in floating point) that brings the row's largest
    coefficient near 1 when it lies outside :data:`SCALE_BAND`; 1 elsewhere."""
    big = np.zeros(A.shape[0])
    if A.nnz:
        big = np.asarray(abs(A).max(axis=1).todense()).reshape(-1)
    return _scale_for(big)


def _scale_for(big: np.ndarray) -> np.ndarray:
    """Powers of two bringing positive finite magnitudes outside :data:`SCALE_BAND` near 1."""
    out = np.ones(len(big))
    off = np.isfinite(big) & (big > 0) & ((big < SCALE_BAND[0]) | (big > SCALE_BAND[1]))
    out[off] = np.exp2(-np.round(np.log2(big[off])))
    return out


def body_spread(model: Model, c, rows: Rows, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """How much each row of a nonlinear body changes over a few points of the unit box
    (moved inside the variables' bounds): the scale of its coefficients, which cvxpy's
    canonical form will carry to the solver.  nan where the body cannot be evaluated."""
    rng = np.random.default_rng(0)        # fixed: the same model always scales the same
    N = model.num_unknowns
    vals = []
    for _ in range(4):
        p = np.clip(rng.uniform(-1.0, 1.0, N), lb, ub)
        p = np.where(np.isfinite(lb) & ~np.isfinite(ub), lb + np.abs(p), p)
        with np.errstate(all="ignore"):
            try:
                v = Evaluator(model, owner=c).value(c.body, rows, NumericAlgebra(model, p))
            except (LagError, ValueError, FloatingPointError):
                return np.full(rows.n, np.nan)
        vals.append(np.broadcast_to(np.asarray(v, dtype=np.float64), (rows.n,)))
    with np.errstate(all="ignore"):
        return np.max([np.abs(v - vals[0]) for v in vals[1:]], axis=0)


def _label(name: str, keys, r: int) -> str:
    """``c[3,a]`` for row ``r`` of constraint ``name`` (``c`` when it is scalar)."""
    if keys is None or keys[1] or r >= len(keys[0]):
        return name
    return "%s[%s]" % (name, keys[0][r])


def scaling_note(name: str, keys, rows: np.ndarray, scale: np.ndarray, big: np.ndarray) -> str:
    """One line for ``stats["notes"]`` about the rows of a block that were scaled."""
    k = np.flatnonzero(scale != 1)
    first = int(rows[k[0]])
    if len(k) == 1:
        why = "HiGHS reads |a| < 1e-9 as zero" if big[k[0]] < 1 else "solvers lose digits on it"
        return ("constraint %s: row scaled by 2^%d (its largest coefficient is %g; %s); the "
                "answer is for the row as written"
                % (_label(name, keys, first), int(round(np.log2(scale[k[0]]))), big[k[0]], why))
    return ("constraint %s: %d rows scaled by powers of 2 (largest coefficients from %g to %g, "
            "first %s); the answer is for the rows as written"
            % (name, len(k), big[k].min(), big[k].max(), _label(name, keys, first)))


def scale_rows(name: str, keys, rows: np.ndarray, A: sp.csr_matrix, rhs: np.ndarray,
               notes: list, highs: list):
    """``(A, rhs, scale)`` of linear rows ``A x (sense) rhs`` after row scaling by powers of
    two — exact, and it keeps HiGHS from reading a row of tiny coefficients (``1e-10 x >=
    1``) as ``0 >= 1``; ``scale`` is None when no row changed.  Appends the scaling note to
    ``notes`` and what HiGHS would still change to ``highs``."""
    scale = None
    if A.nnz:
        s = row_scale(A)
        if np.any(s != 1):
            big = np.asarray(abs(A).max(axis=1).todense()).reshape(-1)
            notes.append(scaling_note(name, keys, rows, s, big))
            A, rhs, scale = (sp.diags(s) @ A).tocsr(), s * rhs, s
    highs.extend(highs_notes(name, keys, rows, A, rhs))
    return A, rhs, scale


def highs_notes(name: str, keys, rows: np.ndarray, A: sp.csr_matrix, rhs: np.ndarray) -> list[str]:
    """What HiGHS would change in these (already scaled) rows: coefficients it drops and
    right-hand sides it takes as infinite."""
    out = []
    tiny = A.nnz and np.abs(A.data) < HIGHS_SMALL
    if tiny is not False and np.any(tiny):
        e = int(np.flatnonzero(tiny)[0])
        r = int(np.searchsorted(A.indptr, e, side="right") - 1)
        out.append("constraint %s: HiGHS reads %d coefficient%s below 1e-9 as zero (e.g. %g, "
                   "next to coefficients up to %g in the same row)"
                   % (_label(name, keys, int(rows[r])), int(np.sum(tiny)),
                      "" if np.sum(tiny) == 1 else "s", A.data[e],
                      float(np.max(np.abs(A.data[A.indptr[r]:A.indptr[r + 1]])))))
    far = np.isfinite(rhs) & (np.abs(rhs) >= HIGHS_INFINITE)
    if np.any(far):
        r = int(np.flatnonzero(far)[0])
        out.append("constraint %s: HiGHS reads the bound %g (beyond 1e20) as infinite, so the "
                   "row is not enforced" % (_label(name, keys, int(rows[r])), rhs[r]))
    return out


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


def _relation(sense: str, lhs, rhs) -> cp.Constraint:
    if sense == "==":
        return lhs == rhs
    return lhs <= rhs if sense == "<=" else lhs >= rhs


# --- lowering: polynomial models ---------------------------------------------------------


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


def quad_rows_expr(forms: QuadForms, rows: np.ndarray, x) -> Any:
    """``x'P_r x`` for batch rows ``rows`` as one expression ``S @ square(F @ x)`` (times the
    rows' common sign): the factor vectors of those rows, squared and summed per row."""
    if forms.factor is None:
        return None
    pos = np.full(forms.n, -1)
    pos[rows] = np.arange(len(rows))
    k = np.flatnonzero(pos[forms.factor_row] >= 0)
    if not len(k):
        return None
    S = sp.csr_matrix((np.ones(len(k)), (pos[forms.factor_row[k]], np.arange(len(k)))),
                      shape=(len(rows), len(k)))
    sign = forms.sign[np.searchsorted(forms.rows, forms.factor_row[k[0]])]
    e = S @ cp.square(forms.factor[k] @ x)
    return e if sign > 0 else -e


def lower_polynomial(model: Model, inst: Instance, opts: dict) -> Lowered:
    """A polynomial instance as a cvxpy problem: linearise binary products (see
    :func:`_chain`), check and factor the remaining quadratics, build vector rows."""
    keys = {b.name: (b.keys(), not b.constraint.binding) for b in inst.blocks}
    notes: list[str] = []
    highs: list[str] = []
    scaled, pre = prescale_quadratic_rows(inst, keys, notes)
    chain, (problem, inverse) = _chain(scaled, opts)
    qi = problem if isinstance(problem, QuadInstance) else QuadInstance(problem)
    low = qi.inst
    x = flat_variable(low.lb, low.ub, low.vtype)
    N = low.N
    objective = _poly_objective(low, qi.objective, x, N)
    parts: dict[str, list[Part]] = {}
    constraints = []
    for b in low.blocks:
        A = linear_part(b.body, N)
        forms = qi.blocks.get(b.name)
        parts[b.name] = []
        for sense, idx, bound in split_rows(b.lower, b.upper):
            Ai, rhs, scale = A[idx], bound - b.body.const[idx], None
            if forms is None:
                Ai, rhs, scale = scale_rows(b.name, keys.get(b.name), idx, Ai, rhs, notes, highs)
            if b.name in pre:
                scale = pre[b.name][idx] * (1.0 if scale is None else scale)
            lhs = Ai @ x if Ai.nnz else cp.Constant(np.zeros(len(idx)))
            if forms is not None:
                qe = quad_rows_expr(forms, idx, x)
                lhs = lhs if qe is None else lhs + qe
            c = _relation(sense, lhs, rhs)
            constraints.append(c)
            parts[b.name].append(Part(c, idx, sense, scale))
    far = (np.isfinite(low.lb) & (np.abs(low.lb) >= HIGHS_INFINITE)) | \
        (np.isfinite(low.ub) & (np.abs(low.ub) >= HIGHS_INFINITE))
    if far.any():
        k = int(np.flatnonzero(far)[0])
        bound = low.ub[k] if np.isfinite(low.ub[k]) and abs(low.ub[k]) >= HIGHS_INFINITE else low.lb[k]
        highs.append("var %s: HiGHS reads the bound %g (beyond 1e20) as infinite%s" % (
            column_label(low, k), bound, "" if far.sum() == 1 else "; %d bounds like it" % int(far.sum())))
    quadratic = qi.objective is not None or bool(qi.blocks)
    out = Lowered(cp.Problem(objective, constraints), x, parts, keys, inverse, chain.applied,
                  inst, "polynomial", bool((low.vtype != "C").any()), quadratic,
                  frozenset({"soc"}) if qi.blocks else frozenset(),
                  sum(b.n for b in inst.blocks), notes, highs)
    out.bounded = strictly_convex_objective(low, qi.objective)
    return out


def strictly_convex_objective(inst: Instance, forms: QuadForms | None) -> bool:
    """Whether the objective is strictly convex (concave, when maximising) in every unknown
    it uses: then it is bounded in its sense on any feasible set, and ``unbounded`` from a
    solver is a numerical failure (``min 1e-10 x^2 - x`` comes back unbounded from Clarabel)."""
    o = inst.objective
    if o is None or forms is None or forms.P is None or not forms.P.nnz or not len(forms.eig):
        return False
    want = 1 if inst.sense == "minimize" else -1
    if int(forms.sign[0]) != want:
        return False
    size = float(np.max(np.abs(forms.P.data)))
    if not want * float(forms.eig[0]) > 1e-9 * size:
        return False
    used = linear_part(o, inst.N).indices if o.lin is not None else np.zeros(0, np.int64)
    return bool(np.all(np.isin(used, forms.support)))


def prescale_quadratic_rows(inst: Instance, keys: dict, notes: list):
    """The instance with each quadratic row whose coefficients (linear and quadratic) are
    all tiny or huge multiplied by a power of two, before the quadratic forms are checked
    and factored (the factoring drops eigenvalues below 1e-9, so ``1e-10 (x + y)^2 <= 1``
    would lose its curvature); and ``{block: per-row scale}`` for the duals."""
    pre: dict[str, np.ndarray] = {}
    blocks = []
    for b in inst.blocks:
        q = b.body.quad
        if q is None or not len(q.coef) or b.n == 0:
            blocks.append(b)
            continue
        big = np.zeros(b.n)
        np.maximum.at(big, q.row, np.abs(q.coef))
        if b.body.lin is not None and b.body.lin.nnz:
            big = np.maximum(big, np.asarray(abs(b.body.lin).max(axis=1).todense()).reshape(-1))
        s = _scale_for(big)
        if np.all(s == 1):
            blocks.append(b)
            continue
        notes.append(scaling_note(b.name, keys.get(b.name), np.arange(b.n), s, big))
        body = PolyBatch(b.body.const * s, None if b.body.lin is None else (sp.diags(s) @ b.body.lin).tocsr(),
                         Quad(q.row, q.i, q.j, q.coef * s[q.row]))
        pre[b.name] = s
        blocks.append(replace(b, body=body, lower=b.lower * s, upper=b.upper * s))
    if not pre:
        return inst, pre
    return replace(inst, blocks=blocks), pre


def _chain(inst: Instance, opts: dict):
    """Apply ``[BinaryProduct2Linear] Quadratic2QuadForm`` as ``binary_products`` says.

    ``auto``: a MIQP solver named explicitly keeps the products; otherwise a model whose
    products are all binary x binary is linearised (a MILP for HiGHS), and a mixed one is
    kept when its quadratic form is convex as it stands (linearising ``y^2 -> y`` can break
    the convexity of the rest) and linearised only when it is not.
    """
    mode = opts["binary_products"]
    lin, keep = Chain([BinaryProduct2Linear(), Quadratic2QuadForm()], strict=False), \
        Chain([Quadratic2QuadForm()], strict=False)
    if mode == "linearize":
        return lin, lin.apply(inst)
    if mode == "keep" or opts["solver"].upper() in MIQP_SOLVERS or not BinaryProduct2Linear().accepts(inst):
        return keep, keep.apply(inst)
    if _all_binary_products(inst):
        return lin, lin.apply(inst)
    try:
        return keep, keep.apply(inst)
    except NonConvexQuadratic:
        return lin, lin.apply(inst)


def _all_binary_products(inst: Instance) -> bool:
    isb = binary_mask(inst)
    return all(p.quad is None or bool(np.all(isb[p.quad.i] & isb[p.quad.j])) for _, p in polys(inst))


def _poly_objective(inst: Instance, forms: QuadForms | None, x, N: int):
    """``const + q'x (+ x'Px)`` in the instance's sense (zero for a feasibility model)."""
    if inst.objective is None:
        return cp.Minimize(0)
    o = inst.objective
    q = np.asarray(linear_part(o, N).todense()).reshape(-1) if o.lin is not None else np.zeros(N)
    e = q @ x + float(o.const[0]) if N else cp.Constant(float(o.const[0]))
    if forms is not None and forms.P is not None and forms.P.nnz:
        xs = x[forms.support]
        # assume_PSD: Quadratic2QuadForm has just checked the curvature
        if inst.sense == "minimize":
            e = e + cp.quad_form(xs, forms.P, assume_PSD=True)
        else:
            e = e - cp.quad_form(xs, -forms.P, assume_PSD=True)
    return cp.Minimize(e) if inst.sense == "minimize" else cp.Maximize(e)


# --- lowering: DCP models through the generic evaluator -----------------------------------


class _NotRepresentable(Exception):
    """A construct cvxpy cannot represent (sin of an unknown, a power with an unknown exponent)."""


def _is_expr(v) -> bool:
    return isinstance(v, cp.Expression)


class CvxpyAlgebra:
    """The :class:`~lagdsl.lower.evaluate.Algebra` whose values are cvxpy vector expressions
    (numpy arrays while a value is data).  Affine leaves are sparse selections of the flat
    variable; data scales with ``cp.multiply``; sums are a sparse segment matrix."""

    def __init__(self, model: Model, x: cp.Variable):
        self.x = x
        self.N = model.num_unknowns
        self.offsets = model.var_offsets()
        self.cones: set[str] = set()

    def const(self, values):
        return np.asarray(values, dtype=np.float64)

    def var(self, name, flat):
        start, stop = self.offsets[name]
        cols = start + np.asarray(flat, dtype=np.int64)
        n = len(cols)
        if n and cols[0] + n - 1 == cols[-1] and np.all(np.diff(cols) == 1):
            return self.x[int(cols[0]):int(cols[0]) + n]       # a contiguous slice
        return sp.csr_matrix((np.ones(n), (np.arange(n), cols)), shape=(n, self.N)) @ self.x

    def add(self, a, b):
        if not _is_expr(a) and _is_expr(b):
            a, b = b, a          # numpy first would broadcast element by element
        return a + b

    def mul(self, a, b):
        if not _is_expr(a) or not _is_expr(b):
            return cp.multiply(a, b) if (_is_expr(a) or _is_expr(b)) else a * b
        return cp.multiply(a, b)  # not DCP: reported by the DCP check with its sub-expression

    def pow(self, a, p):
        if _is_expr(p):
            raise _NotRepresentable("a power with an unknown exponent")
        p = np.asarray(p, dtype=np.float64)
        if not _is_expr(a):
            return np.power(a, p)
        if p.size and not np.all(p == p.flat[0]):
            return self._pow_by_exponent(a, p.reshape(-1))
        return self._pow(a, float(p.flat[0]) if p.size else 1.0)

    #: At most this many distinct exponents in one power (``abs(x[i] - c[i])^p[i]``).
    MAX_EXPONENTS = 64

    def _pow_by_exponent(self, a, p: np.ndarray):
        """A power whose exponent changes from row to row: one atom per distinct exponent
        over its rows, put back in place by sparse 0/1 selections (convex pieces stay
        convex under a non-negative selection)."""
        exps, which = np.unique(p, return_inverse=True)
        if len(exps) > self.MAX_EXPONENTS:
            raise _NotRepresentable("a power with %d different exponents (at most %d)"
                                    % (len(exps), self.MAX_EXPONENTS))
        n = len(p)
        out = None
        for k, e in enumerate(exps):
            rows = np.flatnonzero(which == k)
            piece = self._pow(a[rows], float(e))
            place = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))),
                                  shape=(n, len(rows)))
            term = place @ piece
            out = term if out is None else out + term
        return out

    def _pow(self, a, e: float):
        """``a ^ e`` for one exponent, as the DCP atom that represents it."""
        if e == 1:
            return a
        if e == 2:
            return cp.square(a)
        if e == 0.5:
            self.cones.add("soc")
            return cp.sqrt(a)
        if e == -1:
            self.cones.add("soc")
            return cp.inv_pos(a)
        if e.is_integer() and e > 2 and int(e) % 2 == 1 and not a.is_nonneg():
            # abs(e)^3, max(x, 0)^3: convex and increasing on [0, inf), so power() is DCP
            raise _NotRepresentable("an odd power x^%d (not convex on all of R)" % int(e))
        self.cones.add("soc")
        return cp.power(a, e)

    def func(self, name, args):
        if name in ("min", "max"):
            f = cp.minimum if name == "min" else cp.maximum
            out = args[0]
            for a in args[1:]:
                out = f(out, a) if (_is_expr(out) or _is_expr(a)) else (np.minimum if name == "min" else np.maximum)(out, a)
            return out
        if name == "abs":
            return cp.abs(args[0])
        if name in ("exp", "log"):
            self.cones.add("exp")
            return cp.exp(args[0]) if name == "exp" else cp.log(args[0])
        raise _NotRepresentable("%s of an unknown" % name)

    def take(self, a, idx):
        return a[idx]

    def reduce(self, kind, values, parent, n):
        if not _is_expr(values):
            return reduce_data(kind, values, parent, n)
        if kind == "sum":
            return segment_matrix(parent, n) @ values
        if kind == "sumsq":
            return segment_matrix(parent, n) @ cp.square(values)
        if kind == "norm1":
            return segment_matrix(parent, n) @ cp.abs(values)
        if kind == "prod":
            raise _NotRepresentable("prod of unknowns")
        self.cones.add("exp" if kind == "logsumexp" else "soc")
        return _segment_atom(kind, values, parent, n)


_AXIS_ATOMS = {
    "norm2": lambda V: cp.norm(V, 2, axis=1), "norminf": lambda V: cp.norm(V, "inf", axis=1),
    "max": lambda V: cp.max(V, axis=1), "min": lambda V: cp.min(V, axis=1),
    "logsumexp": lambda V: cp.log_sum_exp(V, axis=1),
}


def _segment_atom(kind: str, values, parent: np.ndarray, n: int):
    """A vector aggregate per segment as one ``axis=1`` atom over an ``n x k`` matrix.

    Equal contiguous segments are a plain reshape.  Otherwise each segment is padded to the
    longest: with zeros for norms (they do not change a norm) and with a repeat of the
    segment's first entry for max/min/norminf (a repeat does not change a max); logsumexp
    has no neutral padding and is built segment by segment.
    """
    m = values.shape[0]
    counts = np.bincount(parent, minlength=n)
    if np.any(counts == 0):
        raise _NotRepresentable("%s over an empty set of unknowns" % kind)
    k = int(counts.max())
    if np.all(counts == k) and np.all(parent == np.repeat(np.arange(n), k)):
        return _AXIS_ATOMS[kind](cp.reshape(values, (n, k), order="C"))
    order = np.argsort(parent, kind="stable")
    starts = np.cumsum(counts) - counts
    if kind == "logsumexp":
        return cp.hstack([cp.log_sum_exp(values[order[starts[s]:starts[s] + counts[s]]]) for s in range(n)])
    slot = np.arange(m) - starts[parent[order]]          # position inside its segment
    rows = parent[order] * k + slot
    cols = order
    if kind != "norm2":
        # pad with the first entry of the segment
        fill_seg = np.repeat(np.arange(n), k - counts)
        fill_slot = np.concatenate([np.arange(c, k) for c in counts]) if len(fill_seg) else np.zeros(0, np.int64)
        rows = np.concatenate([rows, fill_seg * k + fill_slot])
        cols = np.concatenate([cols, order[starts[fill_seg]]])
    M = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n * k, m))
    return _AXIS_ATOMS[kind](cp.reshape(M @ values, (n, k), order="C"))


class _TracingEvaluator(Evaluator):
    """An evaluator that remembers which sympy node produced each cvxpy expression, so that a
    DCP failure can name the user's sub-expression rather than cvxpy's."""

    def __init__(self, model: Model, owner=None, origin: dict | None = None):
        super().__init__(model, owner)
        self.origin = {} if origin is None else origin

    def value(self, e, rows, alg):
        out = super().value(e, rows, alg)
        if _is_expr(out):
            self.origin[id(out)] = (out, e)   # keep `out` alive so that its id stays unique
        return out


def _describe_node(node) -> str:
    """Why a cvxpy node is not DCP, from its atom and its arguments' curvature."""
    name = type(node).__name__
    curv = [a.curvature.lower() for a in node.args]
    if name in ("multiply", "MulExpression"):
        return "a product of two non-constant expressions (%s)" % " * ".join(curv)
    if name in ("AddExpression",):
        return "a sum of %s terms" % " and ".join(sorted(set(curv)))
    args = ", ".join(curv) or "no"
    mono = []
    if hasattr(node, "is_incr") and node.args:
        mono = ["increasing" if node.is_incr(0) else "decreasing" if node.is_decr(0) else "non-monotone"]
    return "%s (%s%s) of a %s argument" % (name, node.curvature.lower(),
                                           ", " + mono[0] if mono else "", args)


def _offender(expr, origin: dict):
    """The deepest non-DCP node of ``expr`` (all its arguments DCP), with the sympy node of
    it or of its nearest traced ancestor."""
    node, sym = expr, origin.get(id(expr), (None, None))[1]
    while True:
        bad = [a for a in node.args if not a.is_dcp()]
        if not bad:
            return node, sym
        node = bad[0]
        if id(node) in origin:
            sym = origin[id(node)][1]


def dcp_refusal(model: Model, owner, what: str, expr, need: str, origin: dict) -> BackendRefusal:
    """A positioned refusal naming the offending sub-expression and its curvature."""
    if not expr.is_dcp():
        node, sym = _offender(expr, origin)
        text = "%s is not DCP: `%s` is %s" % (what, sym if sym is not None else node, _describe_node(node))
    else:
        text = "%s is not DCP: %s needs a %s expression but `%s` is %s" % (
            what, {"convex": "`<=` / minimize", "concave": "`>=` / maximize", "affine": "`==`"}[need],
            need, owner.body if hasattr(owner, "body") else owner.expr, expr.curvature.lower())
    return BackendRefusal(text, getattr(owner, "span", None),
                          hint="rewrite it with DCP atoms (cvxpy's rules), or use the lagrangian backend",
                          source=model.source)


def _curvature_ok(expr, need: str) -> bool:
    if need == "affine":
        return expr.is_affine()
    return expr.is_convex() if need == "convex" else expr.is_concave()


def lower_dcp(model: Model, opts: dict, cls: ModelClass | None = None) -> Lowered:
    """A non-polynomial model through :class:`CvxpyAlgebra`; refuses what is not DCP.
    Linear constraint families (by ``cls``, the model's classification) become sparse rows
    as on the polynomial path, row scaling included."""
    cls = cls or classify(model)
    lb, ub, vtype = variable_arrays(model)
    x = flat_variable(lb, ub, vtype)
    alg = CvxpyAlgebra(model, x)
    origin: dict = {}
    objective = cp.Minimize(0)
    o = model.objective
    if o is not None:
        ev = _TracingEvaluator(model, owner=o, origin=origin)
        e = _evaluate(ev, o, o.expr, Rows.unit(), alg)
        e = cp.sum(e) if _is_expr(e) else cp.Constant(float(np.sum(e)))
        need = "convex" if o.sense == "minimize" else "concave"
        if not _curvature_ok(e, need):
            raise dcp_refusal(model, o, "objective %s" % o.name, e, need, origin)
        objective = cp.Minimize(e) if o.sense == "minimize" else cp.Maximize(e)
    parts: dict[str, list[Part]] = {}
    keys = {}
    constraints = []
    n_rows = 0
    notes: list[str] = []
    highs: list[str] = []
    for c in model.constraints.values():
        if c.region is not None:
            continue
        block = _linear_block(model, c, cls.details.get("constraints", {}).get(c.name))
        if block is not None:
            # a linear family: sparse rows, scaled as on the polynomial path
            keys[c.name] = (block.keys(), not c.binding)
            n_rows += block.n
            parts[c.name] = []
            A = linear_part(block.body, model.num_unknowns)
            for sense, idx, bound in split_rows(block.lower, block.upper):
                Ai, rhs, scale = scale_rows(c.name, keys[c.name], idx, A[idx],
                                            bound - block.body.const[idx], notes, highs)
                con = _relation(sense, Ai @ x if Ai.nnz else cp.Constant(np.zeros(len(idx))), rhs)
                constraints.append(con)
                parts[c.name].append(Part(con, idx, sense, scale))
            continue
        ev = _TracingEvaluator(model, owner=c, origin=origin)
        rows = constraint_rows(ev, c)
        body = _evaluate(ev, c, c.body, rows, alg)
        lo, hi = bound_vector(ev, c.lower, rows, -np.inf), bound_vector(ev, c.upper, rows, np.inf)
        keys[c.name] = (row_keys(c, rows), not c.binding)
        n_rows += rows.n
        parts[c.name] = []
        spread = body_spread(model, c, rows, lb, ub) if _is_expr(body) else None
        for sense, idx, bound in split_rows(lo, hi):
            lhs = body if len(idx) == rows.n else body[idx]
            need = {"==": "affine", "<=": "convex", ">=": "concave"}[sense]
            if not _is_expr(lhs):
                lhs = cp.Constant(lhs)
            if not _curvature_ok(lhs, need):
                raise dcp_refusal(model, c, "constraint %s" % c.name, lhs, need, origin)
            scale = None
            if spread is not None:
                # a nonlinear row's scale, measured: 1e-10 * abs(x) <= 1 varies by ~1e-10
                s = _scale_for(spread[idx])
                if np.any(s != 1):
                    notes.append(scaling_note(c.name, keys[c.name], idx, s, spread[idx]))
                    lhs, bound, scale = cp.multiply(s, lhs), s * bound, s
            con = _relation(sense, lhs, bound)
            constraints.append(con)
            parts[c.name].append(Part(con, idx, sense, scale))
    return Lowered(cp.Problem(objective, constraints), x, parts, keys, path="dcp",
                   integer=bool((vtype != "C").any()), quadratic=False,
                   cones=frozenset(alg.cones), rows=n_rows, notes=notes, highs_notes=highs)


def _linear_block(model: Model, c, info: dict | None):
    """Constraint ``c`` as a linear :class:`~lagdsl.lower.instance.Block`, or None when its
    classification ``info`` or its lowering says it is not linear (then the cvxpy algebra
    lowers it)."""
    if info is None or info.get("atoms") or info.get("degree") not in (0, 1):
        return None
    try:
        block = lower_block(model, c)
    except NotPolynomial:
        return None
    return block if block.body.degree <= 1 else None


def _evaluate(ev: Evaluator, owner, expr, rows: Rows, alg: CvxpyAlgebra):
    try:
        return ev.value(expr, rows, alg)
    except _NotRepresentable as exc:
        raise BackendRefusal("%s: %s is not representable in cvxpy" % (owner_label(owner), exc),
                             getattr(owner, "span", None), source=ev.model.source) from None


# --- solving -----------------------------------------------------------------------------


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


def mip_progress(ss, objective: float, maximize: bool) -> dict:
    """``mip_gap`` and ``bound`` (in the user's sense) of a mixed-integer solve that stopped
    before proving optimality, from HiGHS's own statistics (``mip_gap``, ``mip_dual_bound``);
    empty for solvers whose cvxpy interface does not pass them on (SCIP's keeps only the
    status, value and point).  The bound is moved by the same offset that separates the
    solver's incumbent value from the measured ``objective``, so constant terms and the
    sense are the user's."""
    info = getattr(ss, "extra_stats", None) if ss is not None else None
    if info is None or not hasattr(info, "mip_gap"):
        return {}
    gap, bound, incumbent = info.mip_gap, info.mip_dual_bound, info.objective_function_value
    if not (np.isfinite(gap) and np.isfinite(bound) and np.isfinite(incumbent)):
        return {}
    sign = -1.0 if maximize else 1.0
    return {"mip_gap": float(gap), "bound": float(objective + sign * (bound - incumbent))}


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
        if fmt not in CvxpyBackend.emits:
            return super().emit(fmt)
        from lagdsl.export import emit
        return emit(self.model, fmt)

    def solve(self) -> Result:
        """Solve with the chosen solver and report in the user's names and sense."""
        low, opts = self.low, self.opts
        t0 = time.perf_counter()
        kw = solver_options(self.solver, opts, low.integer)
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
            self._no_nan(res, x)
        if ss is not None and ss.solve_time is not None:
            res.times["solver"] = float(ss.solve_time)
        if status != cp.SOLVER_ERROR and low.problem.compilation_time is not None:
            res.times["canonicalize"] = float(low.problem.compilation_time)
        res.times.update({"lower": self.t_lower, "solve": t_solve, "total": self.t_lower + t_solve})
        if low.integer and res.objective is not None and lstatus in ("limit", "feasible"):
            stats.update(mip_progress(ss, res.objective, isinstance(low.problem.objective, cp.Maximize)))
        return res

    @staticmethod
    def _no_nan(res: Result, x: np.ndarray) -> None:
        """A point with nan in it, or a nan objective or violation, is not an answer:
        the status becomes ``error`` with the reason (never ``optimal``)."""
        if res.status not in ("optimal", "feasible"):
            return
        why = None
        if not np.all(np.isfinite(x)):
            why = "the solver's point has non-finite values"
        elif res.objective is not None and not np.isfinite(res.objective):
            why = "the objective is %s at the solver's point" % res.objective
        elif res.max_violation is not None and np.isnan(res.max_violation):
            why = "the constraints cannot be evaluated at the solver's point (nan)"
        if why is not None:
            res.status = "error"
            res.stats["message"] = why
            res.stats.setdefault("notes", []).append(why)

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
                d[p.rows] += {"==": -1.0, "<=": -1.0, ">=": 1.0}[p.sense] * y
            if ok:
                out[name] = s * d + 0.0    # + 0.0: no negative zeros in reports
        return out


# --- the backend ---------------------------------------------------------------------------


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
    emits = ("lp", "mps")

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
