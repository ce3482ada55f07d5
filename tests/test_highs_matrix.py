"""The shared matrix form (``lagdsl/lower/matrix.py``) and answer helpers
(``lagdsl/solution.py``) that the highs backend is built on."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import scipy.sparse as sp

import lagdsl
from lagdsl.lower.instance import lower_instance
from lagdsl.lower.matrix import QuadraticRows, matrix_form, row_max_abs, scale_for
from lagdsl.passes.quad2form import NonConvexQuadratic
from lagdsl.result import Result
from lagdsl.solution import mip_stats, multiplier_duals, no_nan, user_duals


def form_of(text: str, data=None):
    return matrix_form(lower_instance(lagdsl.parse(text, data=data).ir))


def test_rows_bounds_objective_and_hessian_reproduce_the_model():
    f = form_of("set I = 1..3\nvar x[I] >= -1, <= 2\nvar b binary\n"
                "minimize f: sum(i in I) (x[i] - i)^2 + x[1]*x[2] + 3*b + 7\n"
                "subject to r[i in I]: 1 <= x[i] + 2*b - 1 <= 4\nsubject to e: x[1] - x[3] == 0.5\n")
    rng = np.random.default_rng(1)
    inst = f.inst
    for _ in range(5):
        x = rng.uniform(-1, 2, f.N)
        # objective: c'x + offset + 0.5 x'Hx with H's lower triangle
        H = f.hessian.toarray()
        H = H + np.tril(H, -1).T
        assert f.c @ x + f.offset + 0.5 * x @ H @ x == pytest.approx(inst.objective.evaluate(x)[0])
        # rows: constants moved to the bounds
        body = np.concatenate([b.body.evaluate(x) for b in inst.blocks])
        const = np.concatenate([b.body.const for b in inst.blocks])
        assert f.A @ x == pytest.approx(body - const)
    assert f.row_lo.tolist() == [2, 2, 2, 0.5] and f.row_hi.tolist() == [5, 5, 5, 0.5]
    assert f.blocks == {"r": (0, 3), "e": (3, 4)}
    assert f.integrality.tolist() == [0, 0, 0, 1] and f.col_hi[3] == 1.0
    assert f.keys_of("r") == (["1", "2", "3"], False) and f.keys_of("e") == ([""], True)


def test_row_and_objective_scaling_are_powers_of_two_with_notes():
    f = form_of("var x >= 0, <= 1\nvar y >= 0\nmaximize f: 1e-10 * x\n"
                "subject to c: 1e-10 * y >= 1\nsubject to d: x + y <= 1e12\n")
    assert f.obj_scale == 2.0 ** 33 and f.c[0] == pytest.approx(1e-10 * 2.0 ** 33)
    assert f.row_scale.tolist() == [2.0 ** 33, 1.0]
    assert f.row_lo[0] == 2.0 ** 33 and f.A[0, 1] == pytest.approx(1e-10 * 2.0 ** 33)
    assert f.notes[0].startswith("constraint c: row scaled by 2^33")
    assert f.notes[1].startswith("objective f: scaled by 2^33")
    # duals come back per unit of the user's bound and objective
    assert user_duals(np.array([2.0, 0.0]), 1.0, f.row_scale, f.obj_scale) == \
        pytest.approx([2.0, 0.0])
    # a bound HiGHS reads as infinite is a solver note
    g = form_of("var x >= 0\nminimize f: x\nsubject to c: x <= 1e21\n")
    assert "HiGHS reads the bound 1e+21" in g.solver_notes[0]


def test_what_has_no_matrix_form_is_refused():
    with pytest.raises(QuadraticRows) as exc:
        form_of("var x\nminimize f: x\nsubject to c: x^2 <= 1\n")
    assert exc.value.block.name == "c"
    with pytest.raises(NonConvexQuadratic):
        form_of("var x\nvar y\nminimize f: x*y\n")
    f = form_of("var x\nmaximize f: -x^2 + x\n")      # concave, maximised: fine
    assert f.maximize and f.hessian.toarray().tolist() == [[-2.0]]


def test_small_helpers():
    A = sp.csr_matrix(np.array([[0.0, -3.0, 1.0], [0.0, 0.0, 0.0], [1e-9, 0.0, 0.0]]))
    assert row_max_abs(A).tolist() == [3.0, 0.0, 1e-9]
    assert scale_for(np.array([3.0, 0.0, 1e-9, 1e7, np.inf])).tolist() == [1, 1, 2.0 ** 30, 2.0 ** -23, 1]
    # cvxpy's multipliers: a binding >= row in a minimisation, a <= row in a maximisation
    assert multiplier_duals(np.array([2.0]), ">=", 1.0).tolist() == [2.0]
    assert multiplier_duals(np.array([2.0]), "<=", -1.0).tolist() == [2.0]
    # a solver minimising -f: incumbent -100, bound -120 -> the user's bound 125 for f = 105
    assert mip_stats(0.25, -120.0, -100.0, 105.0, True) == {"mip_gap": 0.25, "bound": 125.0}
    assert mip_stats(0.25, 90.0, 100.0, 100.0, False) == {"mip_gap": 0.25, "bound": 90.0}
    assert mip_stats(np.inf, 90.0, 100.0, 100.0, False) == {}
    r = Result("optimal", objective=1.0, max_violation=0.0)
    no_nan(r, np.array([1.0, np.nan]))
    assert r.status == "error" and r.stats["message"] == "the solver's point has non-finite values"


# --- update_form: the parts new data touches, equal to a fresh matrix_form --------------

UPDATED = """\
set I = 1..3
param a[i in I]
param b[i in I]
param w
param u
var x[I] >= 0, <= u
minimize f: w * sum(i in I) i * x[i] + w
subject to need[i in I]: a[i] * x[i] + 1e-12 * x[1] >= b[i]
subject to total: sum(i in I) x[i] <= 1e4
"""


def assert_forms_equal(got, want):
    for name in ("c", "row_lo", "row_hi", "row_scale", "col_lo", "col_hi", "integrality"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert (got.A != want.A).nnz == 0 and np.array_equal(got.A.indices, want.A.indices)
    assert (got.offset, got.obj_scale, got.blocks) == (want.offset, want.obj_scale, want.blocks)
    assert got.notes == want.notes and got.solver_notes == want.solver_notes


def test_update_form_rebuilds_only_what_changed_and_equals_matrix_form():
    from lagdsl.lower.incremental import relower
    from lagdsl.lower.matrix import update_form
    data = {"a": [1.0, 1.0, 1.0], "b": [1.0, 2.0, 3.0], "w": 1.0, "u": 1e4}
    inst = lower_instance(lagdsl.parse(UPDATED, data=data).ir)
    form = matrix_form(inst)
    steps = [({"b": [1.0, 2.0, 1e21]}, {"rows": 3, "coefficients": 0}),          # a far bound
             ({"a": [1e-5, 1.0, 2e7]}, {"rows": 3, "coefficients": 5}),          # scales cross
             ({"b": [1.0, 5.0, 3.0]}, {"rows": 3, "coefficients": 0}),           # scaled rows' bounds
             ({"w": 1e-7}, {"rows": 0, "coefficients": 0, "costs": True}),       # obj_scale
             ({"u": 1e21}, {"rows": 0, "coefficients": 0, "columns": True}),     # a far column bound
             ({"a": [1.0, 1.0, 1.0], "w": 1.0, "u": 10.0},
              {"rows": 3, "coefficients": 5, "costs": True, "columns": True})]
    for change, compared in steps:
        data = dict(data, **change)
        model = lagdsl.parse(UPDATED, data=data).ir
        if "u" not in change:           # as a re-solve does: the same declarations, new params
            params, model = model.params, copy.copy(inst.model)
            model.params = params
        new = relower(inst, model, frozenset(change))
        got = update_form(form, new)
        assert got is not None
        got_form, touched = got
        assert touched.summary() == compared
        assert_forms_equal(got_form, matrix_form(lower_instance(model)))
        # the kept form is never written to
        assert_forms_equal(form, matrix_form(inst))
        inst, form = new, got_form


def test_update_form_returns_none_when_the_sparsity_changes():
    from lagdsl.lower.incremental import relower
    from lagdsl.lower.matrix import update_form
    text = ("set I = 1..2\nparam a[i in I]\nvar x[I] >= 0\nminimize f: sum(i in I) x[i]\n"
            "subject to r: sum(i in I) a[i] * x[i] >= 1\n")
    inst = lower_instance(lagdsl.parse(text, data={"a": [1.0, 2.0]}).ir)
    model = lagdsl.parse(text, data={"a": [1.0, 0.0]}).ir
    new = relower(inst, model, frozenset({"a"}))
    assert new.blocks[0].body.lin.nnz == 1        # the lowering drops the zero coefficient
    assert update_form(matrix_form(inst), new) is None
