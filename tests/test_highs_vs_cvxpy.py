"""Every conformance case and example that the ``highs`` backend takes (LP, MILP, binary
quadratic, convex QP) gives the same status, objective, duals and — where the optimum is
unique — values on ``highs`` as on ``cvxpy``; every one it refuses, cvxpy's classification
says why (conic, nonlinear, quadratic rows, fields)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import lagdsl
from lagdsl.backend import get_backend

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from test_examples import EXPECTED  # noqa: E402  (the examples' unique optimal values)

CASES = ROOT / "conformance" / "cases"
EXAMPLES = ROOT.parent / "examples"


def _models():
    for lag in sorted(CASES.glob("*.lag")):
        exp = json.loads(lag.with_suffix(".expected.json").read_text())
        yield pytest.param(lag, lag.with_suffix(".json"), exp.get("values", {}), id="case-" + lag.stem)
    for lag in sorted(EXAMPLES.glob("*.lag")):
        yield pytest.param(lag, lag.with_suffix(".json"), EXPECTED.get(lag.stem, {}).get("values", {}),
                           id="example-" + lag.stem)


#: Classes the highs backend takes; everything else it must refuse.
TAKEN = {"LP", "MILP", "binary linear", "binary quadratic", "QP"}


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


@pytest.mark.parametrize("lag,data,unique", list(_models()))
def test_highs_agrees_with_cvxpy(lag, data, unique):
    model = lagdsl.load(lag, data=data if data.exists() else None)
    kind = model.classify().kind
    refusals = get_backend("highs").accepts(model.ir)
    if kind not in TAKEN:
        assert refusals and refusals[0].reason, kind
        return
    assert not refusals, refusals
    h, c = model.solve("highs"), model.solve("cvxpy")
    assert h.status == c.status
    if c.objective is None:
        assert h.objective is None
        return
    assert _close(h.objective, c.objective, 1e-6), (h.objective, c.objective)
    assert h.max_violation <= 1e-6
    for name, want in unique.items():
        got = h.values[name]
        if isinstance(want, dict):
            for k, v in want.items():
                assert abs(got[k] - v) <= 1e-4, (name, k, got[k], v)
        else:
            assert abs(got - want) <= 1e-4, (name, got, want)
    # duals: equal on every row (none for mixed-integer models, on either backend)
    assert set(h.duals) == set(c.duals)
    for name, dc in c.duals.items():
        dh = h.duals[name]
        if isinstance(dc, dict):
            bad = {k: (dh[k], v) for k, v in dc.items() if not _close(dh[k], v, 1e-5)}
            assert not bad, (name, bad)
        else:
            assert _close(dh, dc, 1e-5), (name, dh, dc)
    if kind in ("MILP", "binary linear", "binary quadratic"):
        assert h.duals == {} and any("duals of a mixed-integer program are not defined" in n
                                     for n in h.stats["notes"])
        assert h.duals.reason == c.duals.reason


def test_the_comparison_covers_every_class_highs_takes():
    kinds = set()
    for p in _models():
        lag, data, _ = p.values
        kinds.add(lagdsl.load(lag, data=data if data.exists() else None).classify().kind)
    assert {"LP", "MILP", "QP", "binary quadratic", "binary linear"} <= kinds
