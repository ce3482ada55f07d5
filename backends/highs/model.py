"""Handing a :class:`~lagdsl.lower.matrix.MatrixForm` to a ``highspy.Highs`` object: the
whole model as arrays in one call, and afterwards only what changed."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import highspy

from lagdsl.errors import BackendRefusal
from lagdsl.lower.matrix import MatrixForm

#: Above this many changed matrix coefficients (and this share of them), re-passing the
#: model beats one ``changeCoeff`` call per coefficient.
COEFF_COUNT, COEFF_SHARE = 1000, 0.05

_i32 = (lambda a: np.ascontiguousarray(a, dtype=np.int32))
_f64 = (lambda a: np.ascontiguousarray(a, dtype=np.float64))


def new_highs(settings: dict) -> highspy.Highs:
    """A silent ``Highs`` with ``settings`` applied (an option HiGHS refuses is a user error
    naming it)."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in settings.items():
        if h.setOptionValue(k, v) != highspy.HighsStatus.kOk:
            raise BackendRefusal("HiGHS refuses the setting %s=%r" % (k, v))
    return h


def pass_form(h: highspy.Highs, form: MatrixForm, zero_objective: bool = False) -> None:
    """Pass the whole model in one ``passModel`` call over the arrays (``zero_objective``:
    with no objective, for feasibility solves; a linear one through :func:`pass_arrays`)."""
    A, H = form.A, form.hessian
    c = np.zeros(form.N) if zero_objective else form.c
    offset = 0.0 if zero_objective else float(form.offset)
    if H is None or zero_objective:
        pass_arrays(h, c, form.col_lo, form.col_hi, form.row_lo, form.row_hi, A, form.integrality,
                    maximize=form.maximize, offset=offset)
        return
    sense = highspy.ObjSense.kMaximize if form.maximize else highspy.ObjSense.kMinimize
    st = h.passModel(form.N, form.M, int(A.nnz), int(H.nnz), highspy.MatrixFormat.kRowwise,
                     highspy.HessianFormat.kTriangular, sense, offset, _f64(c), _f64(form.col_lo),
                     _f64(form.col_hi), _f64(form.row_lo), _f64(form.row_hi), _i32(A.indptr),
                     _i32(A.indices), _f64(A.data), _i32(H.indptr), _i32(H.indices), _f64(H.data),
                     _i32(form.integrality))
    if st == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS did not take the model (passModel returned an error)")


def pass_arrays(h: highspy.Highs, c, col_lo, col_hi, row_lo, row_hi, A: sp.csr_matrix,
                integrality=None, maximize: bool = False, offset: float = 0.0,
                what: str = "the model") -> None:
    """Pass a linear model given as arrays (``A`` CSR, rows ``row_lo <= A x <= row_hi``) in
    one ``passModel`` call; ``integrality`` None: all continuous.

    The array overloads read ``num_col`` integrality values even from an empty array, so an
    LP passes zeros (HiGHS notes "no integer variables" in a verbose log and drops them);
    setting the fields of a ``HighsLp`` instead converts element by element (0.4 s instead of
    0.07 s on 490,000 columns)."""
    n = len(c)
    integ = np.zeros(n, dtype=np.int32) if integrality is None else _i32(integrality)
    sense = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    st = h.passModel(n, A.shape[0], int(A.nnz), highspy.MatrixFormat.kRowwise, sense, float(offset),
                     _f64(c), _f64(col_lo), _f64(col_hi), _f64(row_lo), _f64(row_hi),
                     _i32(A.indptr), _i32(A.indices), _f64(A.data), integ)
    if st == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS did not take %s (passModel returned an error)" % what)


def same_structure(a: MatrixForm, b: MatrixForm) -> bool:
    """Whether ``b`` differs from ``a`` only in numbers: the same columns, rows, sparsity
    pattern of the matrix and the Hessian, integrality and sense."""
    if (a.N, a.M, a.sign) != (b.N, b.M, b.sign) or a.blocks != b.blocks:
        return False
    if not (np.array_equal(a.A.indptr, b.A.indptr) and np.array_equal(a.A.indices, b.A.indices)):
        return False
    if not np.array_equal(a.integrality, b.integrality):
        return False
    if (a.hessian is None) != (b.hessian is None):
        return False
    if a.hessian is not None and not (np.array_equal(a.hessian.indptr, b.hessian.indptr)
                                      and np.array_equal(a.hessian.indices, b.hessian.indices)):
        return False
    return True


def _differs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Where two float arrays differ, as a mask (infinities equal to themselves)."""
    return ~((x == y) | (np.isnan(x) & np.isnan(y)))


def _changed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices where two float arrays differ."""
    return np.flatnonzero(_differs(x, y))


def pass_changes(h: highspy.Highs, old: MatrixForm, new: MatrixForm, touched=None) -> dict:
    """Pass only what differs between two forms of the same structure (costs, column
    bounds, row bounds, coefficients, the Hessian's values, the offset); HiGHS keeps its
    basis.  ``touched`` (a :class:`~lagdsl.lower.matrix.Touched` from ``update_form``)
    limits the comparison to the parts built again; without it everything is compared.
    Returns counts of what was changed, for ``stats``."""
    if touched is None:
        k = _changed(old.A.data, new.A.data)
    elif touched.coefficients:
        nz = np.concatenate([np.arange(a, z) for a, z in touched.coefficients])
        k = nz[_differs(old.A.data[nz], new.A.data[nz])]
    else:
        k = np.zeros(0, dtype=np.int64)
    if len(k) > max(COEFF_COUNT, COEFF_SHARE * new.A.nnz):
        basis = h.getBasis()
        pass_form(h, new)
        if basis.valid:
            h.setBasis(basis)
        return {"model": int(new.A.nnz)}          # the whole model went again
    out = {}
    if len(k):
        rows = np.searchsorted(new.A.indptr, k, side="right") - 1
        for r, c, v in zip(rows.tolist(), new.A.indices[k].tolist(), new.A.data[k].tolist()):
            h.changeCoeff(r, c, v)
        out["coefficients"] = len(k)
    if touched is None or touched.costs:
        k = _changed(old.c, new.c)
        if len(k):
            h.changeColsCost(len(k), _i32(k), _f64(new.c[k]))
            out["costs"] = len(k)
        if new.hessian is not None and len(_changed(old.hessian.data, new.hessian.data)):
            H = new.hessian
            h.passHessian(new.N, int(H.nnz), highspy.HessianFormat.kTriangular, _i32(H.indptr),
                          _i32(H.indices), _f64(H.data))
            out["hessian"] = int(H.nnz)
        if old.offset != new.offset:
            h.changeObjectiveOffset(float(new.offset))
    if touched is None or touched.columns:
        k = np.flatnonzero(_differs(old.col_lo, new.col_lo) | _differs(old.col_hi, new.col_hi))
        if len(k):
            h.changeColsBounds(len(k), _i32(k), _f64(new.col_lo[k]), _f64(new.col_hi[k]))
            out["column_bounds"] = len(k)
    r = np.arange(new.M) if touched is None else touched.rows
    if len(r):
        k = r[_differs(old.row_lo[r], new.row_lo[r]) | _differs(old.row_hi[r], new.row_hi[r])]
        if len(k):
            h.changeRowsBounds(len(k), _i32(k), _f64(new.row_lo[k]), _f64(new.row_hi[k]))
            out["row_bounds"] = len(k)
    return out
