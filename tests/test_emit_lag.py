"""``lagdsl compile --emit lag``: every example written as self-contained ``.lag`` source
parses and checks without its data file, has the same unknowns, the same objective and the
same constraint rows at random points, and solves to the same optimum on a fast backend
(field models: the same checked bodies; training is skipped).  Plus the edge cases of the
writer: hoisted sets, infinities in params and bounds, per-element bounds and starts,
conditionals, squared aggregates, and what ``.lag`` cannot hold."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lagdsl
from lagdsl.backend import get_backend
from lagdsl.errors import LagError
from lagdsl.lower.numeric import constraint_values, objective_value

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
EXAMPLES = sorted(p.stem for p in EX.glob("*.lag"))
#: Backends tried in order for the solve comparison (the first that accepts the model).
FAST = ("highs", "cvxpy", "qubo", "lagrangian")
OPTIONS = {"qubo": {"sampler": "exact"}, "lagrangian": {"seed": 0}}


def load_example(name: str):
    data = EX / (name + ".json")
    return lagdsl.load(EX / (name + ".lag"), data=data if data.exists() else None)


def emitted(model, tmp_path):
    text = model.emit("lag")
    path = tmp_path / "emitted.lag"
    path.write_text(text)
    return lagdsl.load(path), text


def rows_at(model, x):
    out = {}
    for c in model.ir.constraints.values():
        if c.region is not None:
            continue
        _rows, body, lo, hi = constraint_values(model.ir, c, x)
        table = np.stack([np.broadcast_to(np.asarray(a, dtype=np.float64), (len(body),))
                          for a in (body, lo, hi)], axis=1)
        out[c.name] = table[np.lexsort(table.T[::-1])]      # family rows may come in another order
    return out


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_round_trips(name, tmp_path):
    m = load_example(name)
    m2, text = emitted(m, tmp_path)
    assert "--data" not in text
    ir, ir2 = m.ir, m2.ir
    assert [(v.name, v.domain, ir.var_size(v.name)) for v in ir.vars.values()] == \
        [(v.name, v.domain, ir2.var_size(v.name)) for v in ir2.vars.values()]
    for v in ir.vars.values():
        w = ir2.vars[v.name]
        assert np.array_equal(v.lower, w.lower) and np.array_equal(v.upper, w.upper)
        assert (v.start is None) == (w.start is None)
        if v.start is not None:
            assert np.array_equal(v.start, w.start)
    assert list(ir.constraints) == list(ir2.constraints)
    assert m.classify().kind == m2.classify().kind
    if not ir.set_families and "__" not in text:
        # a fixed point: the emitted model emits itself (but for the header naming the file;
        # helper params such as x__start become params of the emitted model, families sets)
        assert m2.emit("lag").splitlines()[1:] == text.splitlines()[1:]
    if ir.fields:
        # field models: the same domains, fields and checked bodies (no data sets to rename)
        assert {k: d.coords for k, d in ir.domains.items()} == {k: d.coords for k, d in ir2.domains.items()}
        assert {k: (f.coords, f.domain) for k, f in ir.fields.items()} == \
            {k: (f.coords, f.domain) for k, f in ir2.fields.items()}
        for c in ir.constraints.values():
            c2 = ir2.constraints[c.name]
            assert (str(c.body), str(c.lower), str(c.upper)) == (str(c2.body), str(c2.lower), str(c2.upper))
            assert (c.region is None) == (c2.region is None)
            if c.region is not None:
                assert (c.region.kind, str(c.region.where)) == (c2.region.kind, str(c2.region.where))
        assert str(getattr(ir.objective, "expr", None)) == str(getattr(ir2.objective, "expr", None))
        pytest.skip("field model: bodies compared; training a network is not a round-trip check")
    rng = np.random.default_rng(0)
    lo = np.concatenate([v.lower for v in ir.vars.values()]) if ir.vars else np.zeros(0)
    hi = np.concatenate([v.upper for v in ir.vars.values()]) if ir.vars else np.zeros(0)
    mid = np.clip(0.0, lo, hi)       # a point of every box, finite: a window of 6 around it
    for _ in range(3):
        x = rng.uniform(np.maximum(lo, mid - 3), np.minimum(hi, mid + 3))
        assert objective_value(ir, x) == pytest.approx(objective_value(ir2, x), rel=1e-12, abs=1e-12)
        a, b = rows_at(m, x), rows_at(m2, x)
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in EXAMPLES if not load_example(n).ir.fields])
def test_every_example_solves_to_the_same_optimum(name, tmp_path):
    m = load_example(name)
    m2, _text = emitted(m, tmp_path)
    backend = next(b for b in FAST if not get_backend(b).accepts(m.ir))
    r = m.solve(backend=backend, **OPTIONS.get(backend, {}))
    r2 = m2.solve(backend=backend, **OPTIONS.get(backend, {}))
    assert r2.status == r.status
    assert r2.objective == pytest.approx(r.objective, rel=1e-6, abs=1e-9)


def test_writer_edge_cases(tmp_path):
    m = lagdsl.parse("""
        model edge
        set I = 1..3
        set P = {(i, j) in I cross I : i < j}
        param cap[I] default inf
        param w[i in I] = if i == 2 then 0.1 else 1 / 3
        var x[i in I] >= -i, <= cap[i] start w[i]
        var b[P] binary
        var k integer in 0..7
        minimize f: (sum(i in I) w[i] * x[i]) ^ 2 + sum((i, j) in P) b[i, j] - k
        subject to c[(i, j) in P]: x[i] - x[j] <= (if i == 1 then 2.5e-7 else 1e20)
        subject to r: -1 <= sum(i in I : i in {1, 3}) x[i] <= 5
    """, data={"cap": {"2": 4}})
    m2, text = emitted(m, tmp_path)
    assert "set I_cross_I = " in text and "param cap__inf[I] = [1, 0, 1]" in text
    assert "if i == 1 then 2.5e-07 else 1e+20" in text
    assert m2.ir.params["w"].values.tolist() == [1 / 3, 0.1, 1 / 3]
    assert m2.ir.vars["x"].upper.tolist() == [np.inf, 4, np.inf]
    assert m2.ir.vars["x"].start.tolist() == [1 / 3, 0.1, 1 / 3]
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, m.ir.num_unknowns)
    assert objective_value(m.ir, x) == objective_value(m2.ir, x)


def test_string_that_lag_cannot_hold_is_refused():
    m = lagdsl.parse("set S\nvar x[S]\n", data={"S": ['say "hi"']})
    with pytest.raises(LagError, match="a string element may not hold a double quote"):
        m.emit("lag")


def test_cli_emit_lag_and_show_keeps_its_summary(tmp_path, capsys):
    from lagdsl.cli import main
    out = tmp_path / "t.lag"
    assert main(["compile", str(EX / "transport.lag"), "--data", str(EX / "transport.json"),
                 "--emit", "lag", "-o", str(out)]) == 0
    assert "param supply[Plants] = [350, 600]" in out.read_text()
    assert main(["solve", str(out), "--backend", "highs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["objective"] == pytest.approx(153.675, rel=1e-12)
    assert main(["show", str(EX / "transport.lag"), "--data", str(EX / "transport.json")]) == 0
    assert "param supply[Plants]    # 2: 350, 600" in capsys.readouterr().out
