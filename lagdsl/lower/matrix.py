"""The matrix form of an :class:`~lagdsl.lower.instance.Instance`: what an LP/QP/MILP solver
takes, as flat arrays.

    minimise or maximise (as the user does)   obj_scale * (c'x + offset + x'Qx)
    subject to row_lo <= A x <= row_hi                      (one row per constraint row)
               col_lo <= x <= col_hi,  x[j] integral where integrality[j] == 1

Every backend that hands a matrix to a solver builds it here (``highs``), or builds its own
rows with the pieces at the end of this module (``cvxpy``: :func:`scale_for`,
:func:`scaling_note`, :func:`solver_drop_notes`, :func:`far_bound_notes`,
:func:`objective_scale`), with the same numerical honesty:

* **Row scaling.**  HiGHS reads matrix entries with ``|a| < 1e-9`` as zero, so ``1e-10 x >=
  1`` would read ``0 >= 1``.  Every row whose largest coefficient lies outside
  :data:`SCALE_BAND` is multiplied by a power of two (exact) that brings it near 1; each
  scaled family is a line in ``notes``, and :attr:`MatrixForm.row_scale` undoes it for duals.
* **Objective scaling.**  An objective whose coefficients are all tiny (``maximize 1e-10 *
  x``) looks optimal at any vertex to a solver's dual tolerance (1e-7); it is multiplied by a
  power of two that brings its largest coefficient near 1 (:attr:`MatrixForm.obj_scale`),
  undone in objective and duals.  A large objective is left alone: scaling it down would push
  its small costs under that tolerance.
* **What HiGHS would still change**: coefficients below 1e-9 next to large ones in the same
  row, bounds beyond 1e20 (read as infinite) — lines in :attr:`MatrixForm.solver_notes`.

The objective's quadratic part becomes ``Q`` as the lower triangle of a symmetric CSC matrix
(HiGHS's ``0.5 x'Hx`` with ``H = 2 Q``), checked convex in the user's sense first by
:class:`~lagdsl.passes.quad2form.Quadratic2QuadForm` (a non-convex objective is refused with
its eigenvalue and variables).  Quadratic *rows* have no matrix form: :func:`matrix_form`
raises :class:`QuadraticRows` for them.

For re-solves, :func:`update_form` builds the form of a re-lowered instance from the kept
one, redoing only the parts with new inputs (and their scales and notes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .instance import Instance

#: HiGHS reads matrix entries with |a| below this as zero (its ``small_matrix_value``) ...
HIGHS_SMALL = 1e-9
#: ... and bounds at or beyond this as infinite (its ``infinite_bound``).
HIGHS_INFINITE = 1e20
#: Rows (and objectives) whose largest coefficient lies outside this band are scaled to a
#: largest of about 1.
SCALE_BAND = (1e-3, 1e6)


class QuadraticRows(ValueError):
    """The instance has quadratic constraint rows (``block`` names the first), which a matrix
    solver does not take."""

    def __init__(self, block):
        super().__init__("constraint %s is quadratic" % block.name)
        self.block = block


def scale_for(big: np.ndarray) -> np.ndarray:
    """Powers of two bringing positive finite magnitudes outside :data:`SCALE_BAND` near 1
    (1 for the others)."""
    big = np.asarray(big, dtype=np.float64)
    out = np.ones(len(big))
    off = np.isfinite(big) & (big > 0) & ((big < SCALE_BAND[0]) | (big > SCALE_BAND[1]))
    out[off] = np.exp2(-np.round(np.log2(big[off])))
    return out


def row_max_abs(A: sp.csr_matrix) -> np.ndarray:
    """The largest ``|a|`` of each row of a CSR matrix (0 for an empty row), without the
    temporary matrices ``abs(A).max(axis=1)`` makes."""
    out = np.zeros(A.shape[0])
    if not A.nnz:
        return out
    filled = np.flatnonzero(np.diff(A.indptr) > 0)
    out[filled] = np.maximum.reduceat(np.abs(A.data), A.indptr[filled])
    return out


def row_label(name: str, keys, r: int) -> str:
    """``c[3,a]`` for row ``r`` of constraint ``name`` (``c`` when it is scalar); ``keys`` is
    ``(labels, scalar)`` or None."""
    if keys is None or keys[1] or r >= len(keys[0]):
        return name
    return "%s[%s]" % (name, keys[0][r])


def scaling_note(name: str, keys, rows: np.ndarray, scale: np.ndarray, big: np.ndarray) -> str:
    """One line for ``stats["notes"]`` about the rows of a family that were scaled
    (``rows``: the family's row numbers of ``scale``/``big``)."""
    k = np.flatnonzero(scale != 1)
    first = int(rows[k[0]])
    if len(k) == 1:
        why = "HiGHS reads |a| < 1e-9 as zero" if big[k[0]] < 1 else "solvers lose digits on it"
        return ("constraint %s: row scaled by 2^%d (its largest coefficient is %g; %s); the "
                "answer is for the row as written"
                % (row_label(name, keys, first), int(round(np.log2(scale[k[0]]))), big[k[0]], why))
    return ("constraint %s: %d rows scaled by powers of 2 (largest coefficients from %g to %g, "
            "first %s); the answer is for the rows as written"
            % (name, len(k), big[k].min(), big[k].max(), row_label(name, keys, first)))


def solver_drop_notes(name: str, keys, rows: np.ndarray, A: sp.csr_matrix,
                      lo: np.ndarray, hi: np.ndarray) -> list[str]:
    """What HiGHS would change in these (already scaled) rows: coefficients it drops and
    bounds it takes as infinite."""
    return coefficient_drop_notes(name, keys, rows, A) + bound_drop_notes(name, keys, rows, lo, hi)


def coefficient_drop_notes(name: str, keys, rows: np.ndarray, A: sp.csr_matrix) -> list[str]:
    """A line when HiGHS would read coefficients of these (scaled) rows as zero."""
    if not A.nnz:
        return []
    tiny = np.abs(A.data) < HIGHS_SMALL
    if not tiny.any():
        return []
    e = int(np.flatnonzero(tiny)[0])
    r = int(np.searchsorted(A.indptr, e, side="right") - 1)
    return ["constraint %s: HiGHS reads %d coefficient%s below 1e-9 as zero (e.g. %g, next to "
            "coefficients up to %g in the same row)"
            % (row_label(name, keys, int(rows[r])), int(tiny.sum()), "" if tiny.sum() == 1 else "s",
               A.data[e], float(np.max(np.abs(A.data[A.indptr[r]:A.indptr[r + 1]]))))]


def bound_drop_notes(name: str, keys, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> list[str]:
    """A line when HiGHS would read a (scaled) bound of these rows as infinite."""
    for rhs in (lo, hi):
        far = np.isfinite(rhs) & (np.abs(rhs) >= HIGHS_INFINITE)
        if far.any():
            r = int(np.flatnonzero(far)[0])
            return ["constraint %s: HiGHS reads the bound %g (beyond 1e20) as infinite, so the "
                    "row is not enforced" % (row_label(name, keys, int(rows[r])), rhs[r])]
    return []


@dataclass
class MatrixForm:
    """An instance as solver arrays (see the module docstring).  ``blocks`` maps each
    constraint family to its row range ``(start, stop)`` in ``A``; ``keys`` (filled lazily by
    :meth:`keys_of`) its row labels."""

    inst: Instance
    c: np.ndarray
    offset: float
    sign: float                                  # +1 minimise, -1 maximise
    obj_scale: float
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    row_scale: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integrality: np.ndarray                      # int32: 1 integral, 0 continuous
    hessian: sp.csc_matrix | None = None         # lower triangle of H (objective 0.5 x'Hx)
    blocks: dict[str, tuple[int, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    solver_notes: list[str] = field(default_factory=list)
    _keys: dict = field(default_factory=dict, repr=False)
    #: the note lines of each part (family name, columns, objective), for update_form
    _lines: dict = field(default_factory=dict, repr=False)

    @property
    def N(self) -> int:
        return len(self.c)

    @property
    def M(self) -> int:
        return self.A.shape[0]

    @property
    def integer(self) -> bool:
        return bool(self.integrality.any())

    def keys_of(self, name: str) -> tuple[list[str], bool]:
        """``(row labels, scalar?)`` of constraint family ``name`` (computed once)."""
        if name not in self._keys:
            b = next(b for b in self.inst.blocks if b.name == name)
            self._keys[name] = (b.keys(), not b.constraint.binding)
        return self._keys[name]

    @property
    def maximize(self) -> bool:
        return self.sign < 0

    def user_objective(self, solver_value: float) -> float:
        """A solver objective value (an incumbent, a bound) in the user's units."""
        return solver_value / self.obj_scale

    def shadow_prices(self, row_dual: np.ndarray) -> np.ndarray:
        """Row duals ``d(solver objective)/d(row bound)`` of a solver given this form in the
        user's sense -> the user's shadow prices (:func:`lagdsl.solution.user_duals`)."""
        from ..solution import user_duals
        return user_duals(row_dual, 1.0, self.row_scale, self.obj_scale)


def objective_arrays(inst: Instance) -> tuple[np.ndarray, float]:
    """``(c, offset)`` of the objective in the user's sense (zeros for a feasibility model)."""
    o, N = inst.objective, inst.N
    c = np.zeros(N)
    if o is None:
        return c, 0.0
    if o.lin is not None and o.lin.nnz:
        lin = o.lin.tocoo()
        np.add.at(c, lin.col[lin.col < N], lin.data[lin.col < N])
    return c, float(o.const[0])


def hessian_lower(inst: Instance) -> sp.csc_matrix | None:
    """The objective's quadratic part ``sum coef x_i x_j`` as the lower triangle of the
    symmetric ``H`` with ``0.5 x'Hx`` equal to it (CSC, duplicates summed); None when the
    objective is at most linear."""
    o, N = inst.objective, inst.N
    if o is None or o.quad is None or not len(o.quad.coef):
        return None
    q = o.quad
    i, j = np.maximum(q.i, q.j), np.minimum(q.i, q.j)
    # diagonal: coef x_i^2 = 0.5 * (2 coef) x_i^2; off-diagonal: H_ij = H_ji = coef
    v = np.where(i == j, 2.0 * q.coef, q.coef)
    H = sp.csc_matrix((v, (i, j)), shape=(N, N))
    H.sum_duplicates()
    H.eliminate_zeros()
    return H if H.nnz else None


def check_convex_objective(inst: Instance) -> None:
    """Refuse (:class:`~lagdsl.passes.quad2form.NonConvexQuadratic`, with the eigenvalue, the
    variables and the objective's position) an objective that is not convex when minimised
    or concave when maximised."""
    o = inst.objective
    if o is None or o.degree < 2:
        return
    from ..passes.quad2form import quad_forms     # scipy.sparse.linalg: 0.6 s to import
    quad_forms(inst, o, np.array([1 if inst.sense == "minimize" else -1]), None)


def matrix_form(inst: Instance, check_convex: bool = True) -> MatrixForm:
    """The matrix form of ``inst`` (see the module docstring); raises
    :class:`QuadraticRows` for quadratic constraint rows and
    :class:`~lagdsl.passes.quad2form.NonConvexQuadratic` for a non-convex objective."""
    N = inst.N
    for b in inst.blocks:
        if b.body.degree == 2:
            raise QuadraticRows(b)
    if check_convex:
        check_convex_objective(inst)
    parts, los, his, scales = [], [], [], []
    blocks: dict[str, tuple[int, int]] = {}
    keys: dict = {}
    lines: dict = {}
    start = 0
    for b in inst.blocks:
        A, lo, hi, s, big = scaled_rows(b, N)
        lines[b.name] = _row_lines(b, keys, A, s, big) + (_bound_lines(b, keys, lo, hi),)
        parts.append(A)
        los.append(lo)
        his.append(hi)
        scales.append(s)
        blocks[b.name] = (start, start + b.n)
        start += b.n
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0))
    A = _stack(parts, N)
    col_lo, col_hi, lines[_COLUMNS] = column_arrays(inst)
    c, offset, H, obj_scale, lines[_OBJECTIVE] = scaled_objective(inst)
    notes, solver_notes = _collect(inst, lines)
    out = MatrixForm(inst, c, offset, 1.0 if inst.sense == "minimize" else -1.0, obj_scale, A,
                     cat(los), cat(his), cat(scales), col_lo, col_hi,
                     (inst.vtype != "C").astype(np.int32), H, blocks, notes, solver_notes)
    out._keys.update(keys)
    out._lines = lines
    return out


# keys of MatrixForm._lines besides the families' names (not valid family names)
_COLUMNS, _OBJECTIVE = "<columns>", "<objective>"


def _collect(inst: Instance, lines: dict) -> tuple[list[str], list[str]]:
    """``(notes, solver_notes)`` from the per-part lines, in the order of the rows: the
    families', then the columns' and the objective's."""
    notes: list[str] = []
    solver_notes: list[str] = []
    for b in inst.blocks:
        scaling, coeffs, bounds = lines[b.name]
        notes += scaling
        solver_notes += coeffs + bounds
    solver_notes += lines[_COLUMNS]
    notes += lines[_OBJECTIVE]
    return notes, solver_notes


def scaled_rows(b, N: int):
    """Block ``b``'s rows as the solver takes them: ``(A, lo, hi, scale, big)`` with each
    row whose largest coefficient (``big``, before scaling) lies outside :data:`SCALE_BAND`
    multiplied by its power of two, and the body's constant moved to the bounds."""
    A = _block_matrix(b, N)
    const = b.body.const
    lo, hi = b.lower - const, b.upper - const
    big = row_max_abs(A)
    s = scale_for(big)
    if np.any(s != 1):
        A = sp.csr_matrix((A.data * np.repeat(s, np.diff(A.indptr)), A.indices, A.indptr),
                          shape=A.shape)
        lo, hi = lo * s, hi * s
    return A, lo, hi, s, big


def _family_keys(b, keys: dict):
    """The row labels of family ``b`` for a note (made once, kept in ``keys``)."""
    if b.name not in keys:
        keys[b.name] = (b.keys(), not b.constraint.binding)
    return keys[b.name]


def _row_lines(b, keys: dict, A, s, big) -> tuple[list[str], list[str]]:
    """A family's ``(scaling notes, dropped-coefficient solver notes)``."""
    rows = np.arange(b.n)
    scaling = [scaling_note(b.name, _family_keys(b, keys), rows, s, big)] if np.any(s != 1) else []
    coeffs = coefficient_drop_notes(b.name, None, rows, A)
    if coeffs:
        coeffs = coefficient_drop_notes(b.name, _family_keys(b, keys), rows, A)
    return scaling, coeffs


def _bound_lines(b, keys: dict, lo, hi) -> list[str]:
    """A family's far-bound solver notes."""
    rows = np.arange(b.n)
    if not bound_drop_notes(b.name, None, rows, lo, hi):
        return []
    return bound_drop_notes(b.name, _family_keys(b, keys), rows, lo, hi)


def column_arrays(inst: Instance) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(col_lo, col_hi, solver notes)``: the variable bounds with binaries clamped to
    [0, 1], and a line when HiGHS would read one as infinite."""
    col_lo, col_hi = inst.lb.astype(np.float64, copy=True), inst.ub.astype(np.float64, copy=True)
    isb = inst.vtype == "B"
    if isb.any():
        col_lo[isb], col_hi[isb] = np.maximum(col_lo[isb], 0.0), np.minimum(col_hi[isb], 1.0)
    return col_lo, col_hi, far_bound_notes(inst, col_lo, col_hi)


def scaled_objective(inst: Instance):
    """``(c, offset, H, obj_scale, notes)``: the objective in the user's sense, multiplied
    by ``obj_scale`` (:func:`objective_scale`: a power of two bringing an all-tiny
    objective's largest coefficient near 1, only up)."""
    c, offset = objective_arrays(inst)
    H = hessian_lower(inst)
    notes: list[str] = []
    f = objective_scale(objective_name(inst), objective_size(c, H), notes)
    return f * c, f * offset, None if H is None else (f * H).tocsc(), f, notes


def _block_matrix(b, N: int) -> sp.csr_matrix:
    """A block's linear part as an ``n x N`` CSR matrix (canonical: sorted, no duplicates)."""
    lin = b.body.lin
    if lin is None:
        return sp.csr_matrix((b.n, N))
    if lin.shape[1] != N:
        lin = sp.csr_matrix((lin.data, lin.indices, lin.indptr), shape=(b.n, N))
    return canonical(lin)


def _stack(parts: list[sp.csr_matrix], N: int) -> sp.csr_matrix:
    """Row blocks -> one CSR matrix, by concatenating the arrays (no per-block conversions)."""
    if not parts:
        return sp.csr_matrix((0, N))
    if len(parts) == 1:
        return parts[0]
    nnz = np.cumsum([0] + [p.nnz for p in parts])
    indptr = np.concatenate([parts[0].indptr] + [p.indptr[1:] + nnz[k] for k, p in enumerate(parts[1:], 1)])
    return sp.csr_matrix((np.concatenate([p.data for p in parts]),
                          np.concatenate([p.indices for p in parts]), indptr),
                         shape=(sum(p.shape[0] for p in parts), N))


@dataclass
class Touched:
    """The parts of a :class:`MatrixForm` that :func:`update_form` built again (the rest is
    the old form's, shared): ``rows`` (row numbers whose bounds or scale may differ),
    ``coefficients`` (``(start, stop)`` ranges of ``A.data``), ``costs`` (``c``, the
    offset and the Hessian's values), ``columns`` (``col_lo``/``col_hi``)."""

    rows: np.ndarray
    coefficients: list[tuple[int, int]]
    costs: bool = False
    columns: bool = False

    def summary(self) -> dict:
        """Counts for ``stats``: what was compared with the solver's copy."""
        out = {"rows": int(len(self.rows)),
               "coefficients": int(sum(z - a for a, z in self.coefficients))}
        out.update({k: True for k in ("costs", "columns") if getattr(self, k)})
        return out


def update_form(form: MatrixForm, inst: Instance, check_convex: bool = True
                ) -> tuple[MatrixForm, Touched] | None:
    """The matrix form of ``inst`` — an instance with ``form.inst``'s structure, as
    :func:`~lagdsl.lower.incremental.relower` makes it (untouched blocks, bound vectors,
    objective and variable arrays are the same objects) — building again only the parts
    whose inputs are new objects, with what was built; None when the new data changes a
    block's sparsity pattern, a Hessian's pattern or the integrality (a fresh
    :func:`matrix_form` is then the honest answer).

    A new bound vector keeps its rows' scale (decided by the coefficients, which did not
    change); a new body decides its rows' scales again, so a row that crosses a
    :data:`SCALE_BAND` edge gets its new scale and scaled coefficients; a new objective
    decides ``obj_scale`` again (every cost then changes with it)."""
    old = form.inst
    if not form._lines or len(inst.blocks) != len(old.blocks) or inst.N != old.N:
        return None
    N = inst.N
    lines = dict(form._lines)
    keys = form._keys
    row_lo, row_hi, row_scale, data = form.row_lo, form.row_hi, form.row_scale, form.A.data
    rows: list[np.ndarray] = []
    ranges: list[tuple[int, int]] = []
    for b, ob in zip(inst.blocks, old.blocks):
        if b is ob:
            continue
        if b.name != ob.name or b.n != ob.n:
            return None
        a, z = form.blocks[b.name]
        if b.body is ob.body:
            if b.lower is ob.lower and b.upper is ob.upper:
                continue
            s = row_scale[a:z]
            const = b.body.const
            lo, hi = (b.lower - const) * s, (b.upper - const) * s
        else:
            if b.body.degree == 2:
                raise QuadraticRows(b)
            A, lo, hi, s, big = scaled_rows(b, N)
            p, q = int(form.A.indptr[a]), int(form.A.indptr[z])
            if A.nnz != q - p or not (np.array_equal(A.indptr, form.A.indptr[a:z + 1] - p)
                                      and np.array_equal(A.indices, form.A.indices[p:q])):
                return None
            if data is form.A.data:
                data, row_scale = data.copy(), row_scale.copy()
            data[p:q] = A.data
            row_scale[a:z] = s
            ranges.append((p, q))
            lines[b.name] = _row_lines(b, keys, A, s, big) + (lines[b.name][2],)
        if row_lo is form.row_lo:
            row_lo, row_hi = row_lo.copy(), row_hi.copy()
        row_lo[a:z], row_hi[a:z] = lo, hi
        lines[b.name] = lines[b.name][:2] + (_bound_lines(b, keys, lo, hi),)
        rows.append(np.arange(a, z))
    A = form.A
    if data is not form.A.data:
        A = sp.csr_matrix((data, A.indices, A.indptr), shape=A.shape)
    col_lo, col_hi, integrality = form.col_lo, form.col_hi, form.integrality
    columns = not (inst.lb is old.lb and inst.ub is old.ub and inst.vtype is old.vtype)
    if columns:
        integrality = (inst.vtype != "C").astype(np.int32)
        if not np.array_equal(integrality, form.integrality):
            return None
        col_lo, col_hi, lines[_COLUMNS] = column_arrays(inst)
    c, offset, H, obj_scale = form.c, form.offset, form.hessian, form.obj_scale
    costs = inst.objective is not old.objective
    if costs:
        if check_convex:
            check_convex_objective(inst)
        c, offset, H, obj_scale, lines[_OBJECTIVE] = scaled_objective(inst)
        if (H is None) != (form.hessian is None) or (H is not None and not (
                np.array_equal(H.indptr, form.hessian.indptr)
                and np.array_equal(H.indices, form.hessian.indices))):
            return None
    notes, solver_notes = _collect(inst, lines)
    out = MatrixForm(inst, c, offset, form.sign, obj_scale, A, row_lo, row_hi, row_scale,
                     col_lo, col_hi, integrality, H, form.blocks, notes, solver_notes, keys)
    out._lines = lines
    touched = Touched(np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64), ranges,
                      costs, columns)
    return out, touched


# What the cvxpy backend shares with matrix_form (kept here so that the rules exist once).

def far_bound_notes(inst: Instance, col_lo: np.ndarray, col_hi: np.ndarray) -> list[str]:
    """The note on variable bounds HiGHS reads as infinite (at or beyond
    :data:`HIGHS_INFINITE`): the first one by name and how many there are; empty when none."""
    far = (np.isfinite(col_lo) & (np.abs(col_lo) >= HIGHS_INFINITE)) | \
        (np.isfinite(col_hi) & (np.abs(col_hi) >= HIGHS_INFINITE))
    if not far.any():
        return []
    from ..passes.base import column_label
    k = int(np.flatnonzero(far)[0])
    bound = col_hi[k] if np.isfinite(col_hi[k]) and abs(col_hi[k]) >= HIGHS_INFINITE else col_lo[k]
    return ["var %s: HiGHS reads the bound %g (beyond 1e20) as infinite%s" % (
        column_label(inst, k), bound, "" if far.sum() == 1 else "; %d bounds like it" % int(far.sum()))]


def objective_name(inst: Instance) -> str:
    """The objective's name for notes (``objective`` for a feasibility model)."""
    o = inst.model.objective
    return "objective" if o is None else o.name


def objective_size(c: np.ndarray, H: sp.spmatrix | None) -> float:
    """The largest coefficient of the objective ``c'x + 0.5 x'Hx`` (``c`` from
    :func:`objective_arrays`, ``H`` from :func:`hessian_lower`): what :func:`objective_scale`
    compares with :data:`SCALE_BAND`."""
    return max(float(np.max(np.abs(c), initial=0.0)),
               0.0 if H is None else 0.5 * float(np.max(np.abs(H.data), initial=0.0)))


def objective_scale(name: str, big: float, notes: list, measured: bool = False) -> float:
    """A power of two bringing an objective whose largest coefficient (or, ``measured``, its
    change over the unit box, measured by a backend that has no coefficients to read) is
    ``big`` near 1 when ``big`` lies below :data:`SCALE_BAND`; 1 otherwise.  Solvers compare
    costs with absolute tolerances (HiGHS: reduced costs below 1e-7 count as zero, a MIP gap
    below 1e-6 is closed), so ``maximize 1e-10 * x`` would stop at any feasible point.  Only
    up: scaling a large objective down would push its small costs under those tolerances
    (``minimize 1e7 x + y`` would stop caring about ``y``).  Appends a note when it scales."""
    scale = float(scale_for(np.array([big], dtype=np.float64))[0]) if big < SCALE_BAND[0] else 1.0
    if scale != 1:
        notes.append("objective %s: scaled by 2^%d (%s %g; solvers take costs this small for "
                     "zero against their tolerances); the objective and duals reported are for "
                     "the objective as written"
                     % (name, int(round(np.log2(scale))), "it changes by about" if measured
                        else "its largest coefficient is", big))
    return scale


def canonical(A: sp.csr_matrix) -> sp.csr_matrix:
    """``A`` with duplicate entries summed (a copy only when it has any), so that a row's
    largest coefficient (:func:`row_max_abs`) is the one a solver sees."""
    if A.has_canonical_format:
        return A
    A = A.copy()
    A.sum_duplicates()
    return A
