"""The shared conformance suite: every registered backend against every case.

Each case is ``cases/NAME.lag`` (+ optional ``NAME.json`` data) with ``NAME.expected.json``::

    {"status": "optimal" | "infeasible" | "unbounded" | ...,
     "objective": number or null,
     "values": {"x": 3.0, "y": {"1": 1, "2,3": 0.5}},      # optional, checked entries only
     "tol": 1e-6,                  # objective: |f - f*| <= tol * max(1, |f*|)
     "values_tol": 1e-6,           # optional, absolute, default = tol
     "viol_tol": 1e-6,             # optional, max_violation bound, default 1e-6
     "classes": ["LP"],            # the classes the case exercises (documentation + checks)
     "accepted_by": ["cvxpy"],     # these backends must accept the case
     "refused_by": ["cvxpy"],      # these backends must refuse it, with a reason
                                   # (every registered backend is in exactly one of the two)
     "fields": {"u": {"exact": "sin(pi*x)", "tol": 0.05}},   # optional, field backends
     "options": {"qubo": {"method": "exact"}},               # optional per-backend options
     "tol_by_backend": {"qubo": 0.0}}                        # any key may be overridden per
                                                             # backend with KEY_by_backend

A backend joins the suite by being registered in ``lagdsl.backend.REGISTRY`` and named in the
``accepted_by`` or ``refused_by`` of every case: a pair named in neither fails (see README.md).
"""
from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest

from lagdsl.backend import REGISTRY, get_backend
from lagdsl.errors import BackendRefusal, LagError
from lagdsl.result import SOLVED

CASES_DIR = Path(__file__).parent / "cases"
CASES = sorted(p.name[:-4] for p in CASES_DIR.glob("*.lag"))
BACKENDS = sorted(REGISTRY)


def expected(case: str) -> dict:
    return json.loads((CASES_DIR / (case + ".expected.json")).read_text())


def setting(exp: dict, key: str, backend: str, default=None):
    """``exp[key]``, overridden by ``exp[key + "_by_backend"][backend]`` when present."""
    per = exp.get(key + "_by_backend", {})
    if backend in per:
        return per[backend]
    return exp.get(key, default)


def load_case(case: str):
    """The case's model through the public API (``lagdsl.load``)."""
    import lagdsl

    data = CASES_DIR / (case + ".json")
    return lagdsl.load(str(CASES_DIR / (case + ".lag")), data=str(data) if data.exists() else None)


def the_backend(name: str):
    try:
        return get_backend(name)
    except BackendRefusal as exc:  # registered but its module or dependency is missing
        pytest.skip("backend %s cannot be imported: %s" % (name, exc.message))


def solve_options(model, backend, exp: dict) -> dict:
    """Default options, seed 0 where the backend or the API takes one, plus case options."""
    opts = dict(exp.get("options", {}).get(backend.name, {}))
    params = inspect.signature(model.solve).parameters
    if "seed" in backend.options or "seed" in params:
        opts.setdefault("seed", 0)
    return opts


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


def check_values(res, exp: dict, backend: str) -> None:
    vtol = setting(exp, "values_tol", backend, setting(exp, "tol", backend, 1e-6))
    for name, want in exp.get("values", {}).items():
        assert name in res.values, "no value for %s (have %s)" % (name, sorted(res.values))
        got = res.values[name]
        if isinstance(want, dict):
            for key, w in want.items():
                assert key in got, "%s has no entry %r (keys %s)" % (name, key, list(got)[:10])
                assert abs(got[key] - w) <= vtol, "%s[%s] = %r, expected %r" % (name, key, got[key], w)
        else:
            assert abs(float(got) - want) <= vtol, "%s = %r, expected %r" % (name, got, want)


def check_fields(model, res, exp: dict) -> None:
    import sympy

    ir = model.ir
    for name, spec in exp.get("fields", {}).items():
        assert name in res.fields, "no field %s in the result" % name
        decl = ir.fields[name]
        box = ir.domains[decl.domain].coords
        axes = [np.linspace(*box[c], 21) for c in decl.coords]
        mesh = np.meshgrid(*axes, indexing="ij")
        pts = {c: m.ravel() for c, m in zip(decl.coords, mesh)}
        syms = [sympy.Symbol(c) for c in decl.coords]
        exact = sympy.lambdify(syms, sympy.sympify(spec["exact"]), "numpy")
        want = np.broadcast_to(exact(*[pts[c] for c in decl.coords]), mesh[0].ravel().shape)
        got = np.asarray(res.fields[name](**pts), dtype=float).reshape(-1)
        err = float(np.max(np.abs(got - want)))
        assert err <= spec["tol"], "field %s: max error %.3g > %.3g" % (name, err, spec["tol"])


def check_classes(model, exp: dict) -> None:
    """The compiler's classification (``Model.classify().kind``) is one of the case's classes."""
    if not exp.get("classes"):
        return
    kind = model.classify().kind
    assert kind in exp["classes"], "classified as %r, the case says %s" % (kind, exp["classes"])


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("case", CASES)
def test_conformance(case: str, backend_name: str) -> None:
    exp = expected(case)
    backend = the_backend(backend_name)
    if backend_name not in exp.get("accepted_by", []) + exp.get("refused_by", []):
        pytest.fail("case %s does not say whether backend %s must accept it: add %r to its "
                    "accepted_by or refused_by" % (case, backend_name, backend_name))
    model = load_case(case)
    check_classes(model, exp)

    reasons = backend.accepts(model.ir)
    if reasons:
        for r in reasons:
            assert isinstance(r.reason, str) and r.reason.strip(), "a refusal without a reason"
        assert backend_name not in exp.get("accepted_by", []), (
            "%s must accept %s but refused: %s" % (backend_name, case, reasons[0].reason))
        # the API refuses the same way, as a user error (CLI exit 2), never a crash
        with pytest.raises(BackendRefusal) as info:
            model.solve(backend=backend_name)
        assert info.value.message
        return
    assert backend_name not in exp.get("refused_by", []), (
        "%s must refuse %s (%s) but accepted it" % (backend_name, case, exp.get("classes")))

    res = model.solve(backend=backend_name, **solve_options(model, backend, exp))
    want = setting(exp, "status", backend_name)
    if want in SOLVED:
        assert res.status in SOLVED, "status %s, expected %s" % (res.status, want)
    else:
        assert res.status == want, "status %s, expected %s" % (res.status, want)
        return

    tol = setting(exp, "tol", backend_name, 1e-6)
    f_star = setting(exp, "objective", backend_name)
    if f_star is not None:
        assert res.objective is not None and math.isfinite(res.objective)
        assert close(res.objective, f_star, tol), "objective %r, expected %r (tol %g)" % (
            res.objective, f_star, tol)
    check_values(res, exp, backend_name)
    viol_tol = setting(exp, "viol_tol", backend_name, 1e-6)
    if not model.ir.fields:
        assert res.max_violation is not None, "a solved result must report max_violation"
        assert res.max_violation <= viol_tol, "max_violation %g > %g" % (res.max_violation, viol_tol)
    check_fields(model, res, exp)


def test_every_case_has_expectations() -> None:
    assert len(CASES) >= 10
    for case in CASES:
        exp = expected(case)
        assert "status" in exp and "objective" in exp and "classes" in exp, case
        assert set(exp.get("refused_by", [])).isdisjoint(exp.get("accepted_by", [])), case


def test_refusals_are_user_errors() -> None:
    """``LagError`` is what the CLI turns into exit 2; a refusal must be one."""
    assert issubclass(BackendRefusal, LagError)
