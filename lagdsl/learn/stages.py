"""Stage subproblems of a model, sliced along a time set (``lagdsl learn --stages T``).

Nothing is written by the user: the slicing is read off the IR and its lowering.

* A **column** (one scalar unknown) belongs to stage k when its variable is indexed by the
  set ``T`` and its entry on that axis is ``T``'s k-th element.  Every variable must be
  indexed by ``T`` (once); a variable that is not (a first-stage decision, a design
  variable) is refused, as are integer variables (no duals) and quadratic objectives.
* A **row** belongs to the latest stage among the columns it touches, so that
  ``vol[r, t] == vol[r, t - 1] + inflow[r, t] - ...`` is a row of stage t in which
  ``vol[r, t - 1]`` is *data*: the realised value from stage t - 1.  A row that touches
  only stage-t columns is simply stage t's.  Rows without unknowns are left out (they hold
  or fail whatever is decided; ``max_violation`` of the assembled answer says which).
* The **objective** must be linear, so that it splits into a cost per stage.
* The **data** must be causal: a stage-k row's bounds and a stage-k column's cost may read
  the inputs (the params that vary between scenarios) of stages up to k only.
  :meth:`Staging.check_causal` perturbs each input at each stage and refuses a row or cost
  of an earlier stage that moves, naming it.

For one scenario the whole model is lowered once (:class:`ScenarioLowering`, through the
re-solve machinery of :class:`~lagdsl.resolve.CompiledModel`: only what the changed params
touch is re-lowered); a stage then needs only its rows' bounds with the realised past moved
to the right-hand side, ``lo - A_past x_past <= A_t x_t <= hi - A_past x_past``.
:class:`StageSolver` keeps one HiGHS model per stage (a block-diagonal copy per instance of
a batch, so that a batch is one solve per stage) and changes only row bounds, target values
and costs between solves, warm from the last basis.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import BackendRefusal, LagDataError


def _refuse(ir, message: str, span=None, hint: str | None = None):
    return BackendRefusal(message, span, hint, ir.source)


def column_stages(ir, set_name: str) -> np.ndarray:
    """The stage (position in ``set_name``) of every scalar unknown of ``ir``, in the flat
    order of :meth:`~lagdsl.ir.model.Model.var_offsets`; refuses a variable not indexed by
    the set (or indexed by it twice) with the variable's position."""
    if set_name not in ir.sets:
        raise _refuse(ir, "--stages %s: the model has no set %s" % (set_name, set_name),
                      hint="sets: %s" % ", ".join(ir.sets) if ir.sets else None)
    if ir.sets[set_name].arity != 1:
        raise _refuse(ir, "--stages %s: a set of tuples cannot order stages" % set_name,
                      ir.decl_spans.get(set_name))
    parts = []
    for name, v in ir.vars.items():
        axes = [k for k, s in enumerate(v.index) if s == set_name]
        if len(axes) != 1:
            why = ("is not indexed by %s: every decision must belong to a stage (a decision taken "
                   "once for all stages is not supported)" % set_name) if not axes else (
                   "is indexed by %s twice" % set_name)
            raise _refuse(ir, "ts-ddr stages: variable %s %s" % (name, why), v.span)
        if v.domain != "real":
            raise _refuse(ir, "ts-ddr stages: variable %s is %s; stage solves need duals, so "
                          "every variable must be real" % (name, v.domain), v.span)
        shape = tuple(len(s) for s in ir.var_sets(name))
        pos = np.unravel_index(np.arange(int(np.prod(shape, dtype=np.int64))), shape)[axes[0]]
        parts.append(pos.astype(np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def param_stage_axis(ir, name: str, set_name: str) -> int | None:
    """The axis of param ``name`` indexed by ``set_name`` (None: the param has none, so it is
    known before the first stage)."""
    axes = [k for k, s in enumerate(ir.params[name].index) if s == set_name]
    if len(axes) > 1:
        raise _refuse(ir, "ts-ddr stages: param %s is indexed by %s twice" % (name, set_name),
                      ir.decl_spans.get(name))
    return axes[0] if axes else None


@dataclass
class Lowered:
    """One scenario's model as arrays: rows ``lo <= A x <= hi`` (constants moved into the
    bounds), linear costs ``c`` with ``offset``, column bounds, and the instance itself (for
    the answer's objective, violation and labels)."""

    inst: object
    A: sp.csr_matrix
    lo: np.ndarray
    hi: np.ndarray
    c: np.ndarray
    offset: float
    col_lo: np.ndarray
    col_hi: np.ndarray


def lower_arrays(inst) -> Lowered:
    """The arrays of an :class:`~lagdsl.lower.instance.Instance` (unscaled, user's sense
    turned into minimisation: ``c`` is negated for ``maximize``)."""
    from ..lower.matrix import _block_matrix, _stack, objective_arrays
    N = inst.N
    parts, lo, hi = [], [], []
    for b in inst.blocks:
        parts.append(_block_matrix(b, N))
        lo.append(b.lower - b.body.const)
        hi.append(b.upper - b.body.const)
    cat = (lambda xs: np.concatenate(xs).astype(np.float64) if xs else np.zeros(0))
    A = _stack(parts, N) if parts else sp.csr_matrix((0, N))
    c, offset = objective_arrays(inst)
    sign = 1.0 if inst.sense == "minimize" else -1.0
    return Lowered(inst, A, cat(lo), cat(hi), sign * c, sign * offset,
                   inst.lb.astype(np.float64), inst.ub.astype(np.float64))


class ScenarioLowering:
    """Scenario data -> :class:`Lowered`, by the re-solve path of a model compiled once for
    the ``highs`` backend (so formulas that read an input are evaluated again and only the
    touched blocks are re-lowered).  Refuses data that changes the structure."""

    def __init__(self, model):
        self.model = model
        self.prog = model.compile("highs")
        self.base = lower_arrays(self.prog.program.low.inst)

    def lower(self, data) -> Lowered:
        """The arrays of the model with ``data`` (override dict) applied."""
        info = self.prog.bind(data or {})
        if info is not None and info.get("recompiled"):
            raise LagDataError("ts-ddr: the scenario data changes the model's structure (%s); "
                               "stage policies take new values of data in rows and costs only"
                               % info.get("reason"))
        low = lower_arrays(self.prog.program.low.inst)
        if low.A.nnz != self.base.A.nnz or not (np.array_equal(low.A.indices, self.base.A.indices)
                                                and np.array_equal(low.A.data, self.base.A.data)):
            raise LagDataError("ts-ddr: the scenario data changes coefficients of unknowns in "
                               "the rows; stage policies take new row bounds and costs only")
        if not (np.array_equal(low.col_lo, self.base.col_lo) and np.array_equal(low.col_hi, self.base.col_hi)):
            raise LagDataError("ts-ddr: the scenario data changes variable bounds; stage "
                               "policies take new row bounds and costs only")
        return low


class Staging:
    """How a model splits into stages along ``set_name`` (see the module docstring), for
    the target variables ``targets``: per stage its columns, rows, the matrix over its own
    columns, the coupling to earlier columns, and its target columns."""

    def __init__(self, ir, base: Lowered, set_name: str, targets):
        self.ir, self.set_name = ir, set_name
        self.col_stage = column_stages(ir, set_name)
        self.H = len(ir.sets[set_name])
        inst = base.inst
        if inst.objective is not None and inst.objective.degree > 1:
            o = ir.objective
            raise _refuse(ir, "ts-ddr stages: objective %s is quadratic; the stages need a "
                          "linear objective, a sum of stage costs" % o.name, o.span)
        A = base.A.tocsr()
        self.row_stage = np.full(A.shape[0], -1, dtype=np.int64)
        nnz = np.diff(A.indptr) > 0
        if A.nnz:
            mx = np.maximum.reduceat(self.col_stage[A.indices], A.indptr[:-1][nnz])
            self.row_stage[nnz] = mx
        self.cols = [np.flatnonzero(self.col_stage == t) for t in range(self.H)]
        self.rows = [np.flatnonzero(self.row_stage == t) for t in range(self.H)]
        self.A_cur, self.A_past = [], []
        for t in range(self.H):
            At = A[self.rows[t]]
            self.A_cur.append(At[:, self.cols[t]].tocsr())
            past = np.flatnonzero(self.col_stage < t)
            self.A_past.append((At[:, past].tocsr(), past))
        self.targets = list(targets)
        self.target_cols = self._target_columns(base)
        # per stage, its coupling to the previous stage's target columns (for the gradient)
        self.prev_targets = [None] + [
            self.A_past[t][0][:, np.searchsorted(self.A_past[t][1], self.target_cols[t - 1])].tocsr()
            for t in range(1, self.H)]

    def _target_columns(self, base: Lowered) -> list[np.ndarray]:
        """Per stage the flat columns of the target variables (the same count each stage)."""
        ir = self.ir
        offsets = ir.var_offsets()
        if not self.targets:
            raise _refuse(ir, "ts-ddr: --targets names no variable",
                          hint="name the state variables, e.g. --targets vol")
        picked = np.zeros(len(self.col_stage), dtype=bool)
        for name in self.targets:
            if name not in ir.vars:
                import difflib
                close = difflib.get_close_matches(name, list(ir.vars), n=1)
                raise _refuse(ir, "--targets %s: the model has no variable %s" % (name, name),
                              hint="did you mean %s?" % close[0] if close else None)
            a, z = offsets[name]
            picked[a:z] = True
        out = [np.flatnonzero(picked & (self.col_stage == t)) for t in range(self.H)]
        if len({len(o) for o in out}) != 1:
            raise _refuse(ir, "--targets %s: the targets have %s entries in different stages; "
                          "a stage policy predicts as many targets in every stage"
                          % (",".join(self.targets), "/".join(str(len(o)) for o in out)))
        for name in self.targets:
            a, z = offsets[name]
            if not np.isfinite(base.col_lo[a:z]).all() or not np.isfinite(base.col_hi[a:z]).all():
                raise _refuse(ir, "--targets %s: variable %s needs finite bounds (the policy's "
                              "targets range between them)" % (name, name), ir.vars[name].span)
        return out

    @property
    def K(self) -> int:
        """Targets per stage."""
        return len(self.target_cols[0])

    def label(self, col: int) -> str:
        """``name[label]`` of flat column ``col``."""
        from ..ir.values import label_at
        for name, (a, z) in self.ir.var_offsets().items():
            if a <= col < z:
                return "%s[%s]" % (name, label_at(self.ir.var_sets(name), col - a))
        return str(col)

    def row_label(self, inst, row: int) -> str:
        """``family[label]`` of flat row ``row`` of ``inst``."""
        k = row
        for b in inst.blocks:
            if k < b.n:
                keys = b.keys()
                return "%s[%s]" % (b.name, keys[k]) if b.constraint.binding else b.name
            k -= b.n
        return str(row)

    def check_causal(self, lowering: ScenarioLowering, inputs, base: Lowered) -> None:
        """Refuse when a row bound or cost of some stage reads an input of a later stage:
        each input is perturbed at each stage in turn (a relative step), and the rows and
        costs of the earlier stages must not move."""
        ir = self.ir
        for name in inputs:
            axis = param_stage_axis(ir, name, self.set_name)
            if axis is None:
                continue
            values = ir.params[name].values
            for k in range(1, self.H):
                bumped = values.copy()
                idx = [slice(None)] * values.ndim
                idx[axis] = k
                bumped[tuple(idx)] = bumped[tuple(idx)] * 1.5 + 1.0
                low = lowering.lower({name: bumped.tolist()})
                moved_rows = np.flatnonzero(((low.lo != base.lo) | (low.hi != base.hi))
                                            & (self.row_stage >= 0) & (self.row_stage < k))
                moved_cols = np.flatnonzero((low.c != base.c) & (self.col_stage < k))
                if len(moved_rows) or len(moved_cols):
                    what = (("row %s of stage %d" % (self.row_label(base.inst, moved_rows[0]),
                                                     self.row_stage[moved_rows[0]] + 1))
                            if len(moved_rows) else
                            ("the cost of %s (stage %d)" % (self.label(moved_cols[0]),
                                                            self.col_stage[moved_cols[0]] + 1)))
                    raise _refuse(ir, "ts-ddr stages: %s reads %s of stage %d (a later stage): "
                                  "the stage would see the future" % (what, name, k + 1),
                                  ir.decl_spans.get(name))


class StageSolver:
    """Stage ``t`` for a batch of ``B`` instances, kept in one HiGHS model: per instance
    the stage's own columns, then for each target a pair of deviation columns ``d+, d-``
    with cost ``penalty`` and the row ``x_target - d+ + d- == target``.  ``penalty == 0``
    drops the pull of the targets (the myopic policy)."""

    def __init__(self, staging: Staging, t: int, B: int, penalty: float, base: Lowered):
        from ..backends.highs.model import new_highs, pass_arrays
        self.t, self.B, self.penalty = t, B, float(penalty)
        cols, rows, K = staging.cols[t], staging.rows[t], staging.K
        self.n, self.m, self.K = len(cols), len(rows), K
        sel = np.searchsorted(cols, staging.target_cols[t])
        E = sp.csr_matrix((np.ones(K), (np.arange(K), sel)), shape=(K, self.n))
        one = sp.identity(K, format="csr")
        block = sp.bmat([[staging.A_cur[t], None, None], [E, -one, one]], format="csr")
        M = sp.kron(sp.identity(B, format="csr"), block, format="csr")
        self.width = self.n + 2 * K
        self.height = self.m + K
        col_lo = np.tile(np.concatenate([base.col_lo[cols], np.zeros(2 * K)]), B)
        col_hi = np.tile(np.concatenate([base.col_hi[cols], np.full(2 * K, np.inf)]), B)
        self.cost = np.tile(np.concatenate([base.c[cols], np.full(2 * K, self.penalty)]), B)
        lo = np.zeros(B * self.height)
        # simplex without presolve: warm re-solves from the last basis, and a basic dual.
        # No ``threads``: HiGHS refuses every run once its scheduler runs with another count.
        self.h = new_highs({"presolve": "off", "solver": "simplex"})
        pass_arrays(self.h, self.cost, col_lo, col_hi, lo, lo.copy(), M, what="stage %d" % (t + 1))
        self.all_rows = np.arange(B * self.height, dtype=np.int32)
        self.all_cols = np.arange(B * self.width, dtype=np.int32)

    def solve(self, lo: np.ndarray, hi: np.ndarray, targets: np.ndarray, costs: np.ndarray | None):
        """Solve the batch: ``lo``, ``hi`` (B x m) the stage rows' bounds with the past moved
        over, ``targets`` (B x K), ``costs`` (B x n, None: unchanged).  Returns ``(ok, x,
        value, row_dual, target_dual)``: per instance whether HiGHS found the optimum, the
        stage columns' values (B x n), the stage objective with the penalty (B), the stage
        rows' duals and the target rows' duals, each ``d(value)/d(bound)``."""
        import highspy
        B, m, K = self.B, self.m, self.K
        rlo = np.concatenate([lo, targets], axis=1).ravel()
        rhi = np.concatenate([hi, targets], axis=1).ravel()
        self.h.changeRowsBounds(len(self.all_rows), self.all_rows, rlo, rhi)
        if costs is not None:
            cost = np.concatenate([costs, np.full((B, 2 * K), self.penalty)], axis=1).ravel()
            if not np.array_equal(cost, self.cost):
                self.h.changeColsCost(len(self.all_cols), self.all_cols, cost)
                self.cost = cost
        self.h.run()
        ok = self.h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        if not ok:
            return False, None, None, None, None
        sol = self.h.getSolution()
        x = np.fromiter(sol.col_value, dtype=np.float64, count=B * self.width).reshape(B, self.width)
        y = np.fromiter(sol.row_dual, dtype=np.float64, count=B * self.height).reshape(B, self.height)
        value = (x * self.cost.reshape(B, self.width)).sum(axis=1)
        return True, x[:, :self.n], value, y[:, :m], y[:, m:]
