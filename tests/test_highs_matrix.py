"""The shared matrix form (``lagdsl/lower/matrix.py``) and answer helpers
(``lagdsl/solution.py``) that the highs backend is built on."""
from __future__ import annotations

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
