"""The polynomial path: a degree-2 :class:`~lagdsl.lower.instance.Instance` as a cvxpy
problem (binary products linearised, quadratic forms checked and factored, sparse rows)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from lagdsl.ir.model import Model
from lagdsl.lower.instance import Instance
from lagdsl.lower.poly import PolyBatch, Quad
from lagdsl.passes.base import Chain, binary_mask, linear_part, polys
from lagdsl.passes.binary_product2linear import BinaryProduct2Linear
from lagdsl.passes.quad2form import NonConvexQuadratic, QuadForms, QuadInstance, Quadratic2QuadForm

import cvxpy as cp

from .lowered import Lowered, Part, flat_variable, relation, split_rows
from .options import MIQP_SOLVERS
from lagdsl.lower.matrix import (canonical, far_bound_notes, hessian_lower, objective_arrays,
                                 objective_name, objective_scale, objective_size, row_max_abs,
                                 scale_for, scaling_note)

from .scaling import scale_rows

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


@dataclass
class PolyArrays:
    """The numbers of a polynomial lowering before any cvxpy object is made: what
    :func:`build_problem` turns into a problem and what a re-solve compares
    (:func:`structure_change`) and passes as parameter values."""

    inst: Instance                       # after the passes (what the cvxpy problem is of)
    forms: QuadInstance
    pre: dict                            # block -> per-row prescale of quadratic rows
    objective_scale: float
    parts: dict                          # block -> [(sense, rows, Ai, rhs, scale)]
    q: np.ndarray | None                 # objective's linear vector and constant (None:
    const: float                         # a feasibility model)
    inverse: list
    applied: list
    notes: list
    highs: list


def poly_arrays(inst: Instance, opts: dict) -> PolyArrays:
    """Linearise binary products (see :func:`_chain`), check and factor the remaining
    quadratics, split each block's rows by sense and scale them: the arrays of the problem."""
    keys = {b.name: (b.keys(), not b.constraint.binding) for b in inst.blocks}
    notes: list[str] = []
    highs: list[str] = []
    scaled, pre = prescale_quadratic_rows(inst, keys, notes)
    scaled, obj_scale = prescale_objective(scaled, notes)
    chain, (problem, inverse) = _chain(scaled, opts)
    qi = problem if isinstance(problem, QuadInstance) else QuadInstance(problem)
    low = qi.inst
    N = low.N
    parts: dict[str, list] = {}
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
            parts[b.name].append((sense, idx, Ai, rhs, scale))
    highs.extend(far_bound_notes(low, low.lb, low.ub))
    q, const = objective_arrays(low) if low.objective is not None else (None, 0.0)
    return PolyArrays(low, qi, pre, obj_scale, parts, q, float(const), inverse,
                      list(chain.applied), notes, highs)


def build_problem(arrays: PolyArrays, x, parametric: bool):
    """The cvxpy problem of ``arrays`` over ``x``: ``(problem, parts, parameters)``.  With
    ``parametric`` the right-hand sides and the objective's linear vector and constant are
    ``cp.Parameter`` s (``parameters``: ``{(block, part) or "q"/"const": Parameter}``), so the
    problem is DPP and cvxpy keeps its canonicalisation when only they change."""
    params: dict = {}

    def value(key, v):
        if not parametric:
            return v
        p = params[key] = cp.Parameter(np.shape(v))
        p.value = v
        return p

    low, qi = arrays.inst, arrays.forms
    parts: dict[str, list[Part]] = {}
    constraints = []
    for name, plist in arrays.parts.items():
        forms = qi.blocks.get(name)
        parts[name] = []
        for k, (sense, idx, Ai, rhs, scale) in enumerate(plist):
            lhs = Ai @ x if Ai.nnz else cp.Constant(np.zeros(len(idx)))
            if forms is not None:
                qe = quad_rows_expr(forms, idx, x)
                lhs = lhs if qe is None else lhs + qe
            c = relation(sense, lhs, value((name, k), rhs))
            constraints.append(c)
            parts[name].append(Part(c, idx, sense, scale))
    if arrays.q is None:
        objective = cp.Minimize(0)
    else:
        objective = _poly_objective(low, qi.objective, x, low.N,
                                    *((value("q", arrays.q), value("const", arrays.const))
                                      if low.N else (arrays.q, arrays.const)))
    return cp.Problem(objective, constraints), parts, params


def lower_polynomial(model: Model, inst: Instance, opts: dict) -> Lowered:
    """A polynomial instance as a cvxpy problem (:func:`poly_arrays` then
    :func:`build_problem`, parameter-free: cvxpy's SciPy canonicalisation is the fastest
    for a problem solved once; a re-solve makes it parametric, see
    :meth:`~.program.CvxpyProgram.rebind`)."""
    arrays = poly_arrays(inst, opts)
    low, qi = arrays.inst, arrays.forms
    x = flat_variable(low.lb, low.ub, low.vtype)
    problem, parts, _ = build_problem(arrays, x, parametric=False)
    keys = {b.name: (b.keys(), not b.constraint.binding) for b in inst.blocks}
    quadratic = qi.objective is not None or bool(qi.blocks)
    out = Lowered(problem, x, parts, keys, arrays.inverse, arrays.applied,
                  inst, "polynomial", bool((low.vtype != "C").any()), quadratic,
                  frozenset({"soc"}) if qi.blocks else frozenset(),
                  sum(b.n for b in inst.blocks), arrays.notes, arrays.highs)
    out.bounded = strictly_convex_objective(low, qi.objective)
    out.objective_scale = arrays.objective_scale
    out.arrays = arrays
    return out


def structure_change(old: PolyArrays, new: PolyArrays) -> str | None:
    """Why the problem of ``new`` is not the problem of ``old`` with other parameter values
    (None when it is): the passes, the variables' bounds and integrality, the row split by
    sense, a row's coefficients or scale, a quadratic form, the objective's scale."""
    if old.applied != new.applied:
        return "the passes differ (%s, then %s)" % (", ".join(old.applied) or "none",
                                                    ", ".join(new.applied) or "none")
    if any(p != "quad2form" for p in new.applied):
        return "the model was rewritten by %s" % ", ".join(new.applied)
    a, b = old.inst, new.inst
    if not (np.array_equal(a.lb, b.lb) and np.array_equal(a.ub, b.ub) and np.array_equal(a.vtype, b.vtype)):
        return "the new data changes the unknowns' bounds or integrality"
    if old.objective_scale != new.objective_scale:
        return "the new data changes the objective's scale"
    if (old.q is None) != (new.q is None):
        return "the objective appears or disappears"
    if not _same_forms(old.forms.objective, new.forms.objective):
        return "the new data changes the objective's quadratic form"
    for name, plist in old.parts.items():
        nlist = new.parts[name]
        if [(s, len(i)) for s, i, *_ in plist] != [(s, len(i)) for s, i, *_ in nlist] or \
                not all(np.array_equal(p[1], n[1]) for p, n in zip(plist, nlist)):
            return "the new data changes which rows of %s are equalities, upper or lower bounds" % name
        if any(not _same_csr(p[2], n[2]) for p, n in zip(plist, nlist)):
            return "the new data changes coefficients of unknowns in %s" % name
        if any(not _same_opt(p[4], n[4]) for p, n in zip(plist, nlist)):
            return "the new data changes the row scaling of %s" % name
        if not _same_forms(old.forms.blocks.get(name), new.forms.blocks.get(name)):
            return "the new data changes the quadratic form of %s" % name
    return None


def _same_opt(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def _same_csr(a, b) -> bool:
    """Equal sparse matrices, values and stored pattern alike."""
    if a is None or b is None:
        return a is b
    a, b = sp.csr_matrix(a), sp.csr_matrix(b)
    return a.shape == b.shape and np.array_equal(a.indptr, b.indptr) and \
        np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data)


def _same_forms(a: QuadForms | None, b: QuadForms | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.n == b.n and np.array_equal(a.rows, b.rows) and np.array_equal(a.sign, b.sign) \
        and _same_csr(a.factor, b.factor) and np.array_equal(a.factor_row, b.factor_row) \
        and _same_opt(a.support, b.support) and _same_csr(a.P, b.P)


def prescale_objective(inst: Instance, notes: list) -> tuple[Instance, float]:
    """The instance with its objective multiplied by the power of two that brings its largest
    coefficient (linear or quadratic) near 1 when it is tiny
    (:func:`lagdsl.lower.matrix.objective_scale`, the rule the ``highs`` backend uses), before the quadratic form is checked and factored;
    and that factor, which the duals are divided by."""
    o = inst.objective
    if o is None or inst.model.objective is None:
        return inst, 1.0
    # measured as matrix_form measures it, so that both backends scale the same objectives
    big = objective_size(objective_arrays(inst)[0], hessian_lower(inst))
    s = objective_scale(objective_name(inst), big, notes)
    if s == 1:
        return inst, 1.0
    body = PolyBatch(o.const * s, None if o.lin is None else (o.lin * s).tocsr(),
                     None if o.quad is None else Quad(o.quad.row, o.quad.i, o.quad.j, o.quad.coef * s))
    return replace(inst, objective=body), s


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
            big = np.maximum(big, row_max_abs(canonical(b.body.lin.tocsr())))
        s = scale_for(big)
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


def _poly_objective(inst: Instance, forms: QuadForms | None, x, N: int, q, const):
    """``const + q'x (+ x'Px)`` in the instance's sense; ``q`` and ``const`` are arrays or
    parameters (:func:`build_problem`)."""
    e = q @ x + const if N else cp.Constant(const)
    if forms is not None and forms.P is not None and forms.P.nnz:
        xs = x[forms.support]
        # assume_PSD: Quadratic2QuadForm has just checked the curvature
        if inst.sense == "minimize":
            e = e + cp.quad_form(xs, forms.P, assume_PSD=True)
        else:
            e = e - cp.quad_form(xs, -forms.P, assume_PSD=True)
    return cp.Minimize(e) if inst.sense == "minimize" else cp.Maximize(e)
