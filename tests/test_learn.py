"""Learned policies (lagdsl.learn, docs/learn.md): completion, answers, dual bounds, saving
and loading, refusals and the command line — on small instances, fixed seeds, few epochs."""
from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lagdsl  # noqa: E402
from lagdsl.errors import BackendRefusal, LagDataError, LagError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "examples", "dc3_qp.lag")
sys.path.insert(0, os.path.join(ROOT, "examples"))
from dc3_qp_gen import generate  # noqa: E402

FAST = dict(outer=2, epochs=4, dual_epochs=2, width=32, validation=8, progress=False)

LP = """model lp_box
set I = 1..4
set J = 1..6
param C[J]
param A[I, J]
param b[I]
var y[J] >= 0, <= 10
minimize cost: sum(j in J) C[j] * y[j]
subject to cover[i in I]: sum(j in J) A[i, j] * y[j] >= b[i]
"""


@pytest.fixture(scope="module")
def dc3(tmp_path_factory):
    """A small DC3 QP (8 unknowns, 3 equalities, 4 inequalities): files and scenarios."""
    d = tmp_path_factory.mktemp("dc3")
    base, train, test = generate(n=8, neq=3, nineq=4, train=60, test=10, seed=3)
    (d / "base.json").write_text(json.dumps(base))
    (d / "train.jsonl").write_text("".join(json.dumps(s) + "\n" for s in train))
    (d / "test.jsonl").write_text("".join(json.dumps(s) + "\n" for s in test))
    return d, train, test


@pytest.fixture(scope="module")
def pdl_policy(dc3):
    d, train, _ = dc3
    m = lagdsl.load(MODEL, data=str(d / "base.json"))
    return lagdsl.learn(m, str(d / "train.jsonl"), method="pdl", seed=1, **FAST)


def _exact(model_path, data_path, scen):
    prog = lagdsl.load(model_path, data=data_path).compile("highs")
    return [prog.solve(data={k: v for k, v in s.items() if k != "id"}) for s in scen]


def _violation(model_path, data_path, overrides, values):
    """The violation of an answer, measured independently: the model loaded with the
    instance's data, the point's rows evaluated by the numeric algebra."""
    from lagdsl.learn.exact import flat_values
    from lagdsl.lower.numeric import point_violation
    data = json.load(open(data_path))
    data.update(overrides)
    m = lagdsl.load(model_path, data=data)
    return point_violation(m.ir, flat_values(m.ir, values))


# --- completion -------------------------------------------------------------------------------

def test_completion_satisfies_equalities_exactly_and_reproduces_optima(dc3):
    from lagdsl.learn.completion import Completion
    from lagdsl.learn.family import build_family
    d, train, test = dc3
    m = lagdsl.load(MODEL, data=str(d / "base.json"))
    fam = build_family(m.ir, ["x"])
    comp = Completion(fam)
    assert (len(comp.D), len(comp.Z), comp.m) == (3, 5, 4)
    datas = [{"x": s["x"]} for s in test]
    th = fam.thetas(datas)
    _, _, lo, hi = fam.arrays(th)
    rng = np.random.default_rng(0)
    yZ = torch.tensor(rng.normal(size=(len(datas), comp.nZ)) * 10)
    b = torch.tensor(comp.b(lo))
    Y = comp.complete(yZ, b, torch.tensor(comp.T), torch.tensor(comp.S)).numpy()
    A = np.array(json.load(open(d / "base.json"))["A"])
    X = np.array([s["x"] for s in test])
    assert np.abs(Y @ A.T - X).max() < 1e-10
    # the exact optimum's free part completes back to the exact optimum
    exact = _exact(MODEL, str(d / "base.json"), test)
    Ystar = np.array([r.values["y"].array for r in exact])
    back = comp.complete(torch.tensor(Ystar[:, comp.Z]), b, torch.tensor(comp.T), torch.tensor(comp.S)).numpy()
    assert np.abs(back - Ystar).max() < 1e-9


def test_correction_removes_inequality_violations(dc3):
    from lagdsl.learn.completion import Completion
    from lagdsl.learn.family import build_family
    d, _, test = dc3
    m = lagdsl.load(MODEL, data=str(d / "base.json"))
    fam = build_family(m.ir, ["x"])
    comp = Completion(fam)
    th = fam.thetas([{"x": s["x"]} for s in test])
    _, _, lo, hi = fam.arrays(th)
    rng = np.random.default_rng(1)
    yZ = torch.tensor(rng.normal(size=(len(test), comp.nZ)) * 3)
    b, hc = torch.tensor(comp.b(lo)), torch.tensor(comp.hc(lo, hi))
    T, S = torch.tensor(comp.T), torch.tensor(comp.S)
    before = fam.violation(comp.complete(yZ, b, T, S).numpy(), lo, hi)
    after = fam.violation(comp.complete(comp.correct(yZ, b, hc, 20, torch), b, T, S).numpy(), lo, hi)
    assert before.max() > 1.0
    assert after.max() <= 1e-8


# --- answers ----------------------------------------------------------------------------------

def test_pdl_answers_are_measured_and_never_optimal(dc3, pdl_policy):
    d, _, test = dc3
    datas = [{"x": s["x"]} for s in test]
    for repair in ("completion", "none"):
        rs = pdl_policy.solve_batch(datas, repair=repair)
        assert len(rs) == len(test)
        for data, r in zip(datas, rs):
            assert r.status in ("feasible", "infeasible")
            assert r.status == ("feasible" if r.max_violation <= pdl_policy.tol else "infeasible")
            indep = _violation(MODEL, str(d / "base.json"), data, r.values)
            assert abs(indep - r.max_violation) <= 1e-9 * max(1.0, indep)
            assert r.stats["policy"] == {"method": "pdl", "repair": repair}
    # repair=completion makes every answer feasible here
    assert all(r.status == "feasible" for r in pdl_policy.solve_batch(datas))
    one = pdl_policy.solve(datas[0])
    assert one.values["y"].array.tolist() == pdl_policy.solve_batch(datas[:1])[0].values["y"].array.tolist()


def test_dual_bound_below_optimum_on_qp(dc3, pdl_policy):
    d, _, test = dc3
    exact = _exact(MODEL, str(d / "base.json"), test)
    rs = pdl_policy.solve_batch([{"x": s["x"]} for s in test])
    for r, e in zip(rs, exact):
        assert e.status == "optimal"
        assert r.stats["dual_bound"] <= e.objective + 1e-9
        assert r.objective >= e.objective - 1e-9          # feasible, so no better than optimal


def test_dual_bound_below_optimum_on_lp(tmp_path):
    rng = np.random.default_rng(5)
    base = {"C": rng.uniform(1, 2, 6).tolist(), "A": rng.uniform(0, 1, (4, 6)).tolist(), "b": [1.0] * 4}
    (tmp_path / "lp.lag").write_text(LP)
    (tmp_path / "lp.json").write_text(json.dumps(base))
    scen = [{"id": str(i), "b": rng.uniform(0.5, 3, 4).tolist()} for i in range(40)]
    m = lagdsl.load(str(tmp_path / "lp.lag"), data=str(tmp_path / "lp.json"))
    pol = lagdsl.learn(m, scen, method="pdl", seed=0, **FAST)
    test = scen[:10]
    exact = _exact(str(tmp_path / "lp.lag"), str(tmp_path / "lp.json"), test)
    rs = pol.solve_batch([{"b": s["b"]} for s in test])
    for r, e in zip(rs, exact):
        assert np.isfinite(r.stats["dual_bound"])
        assert r.stats["dual_bound"] <= e.objective + 1e-9
        # boxed unknowns hold their bounds by construction
        y = r.values["y"].array
        assert (y >= 0).all() and (y <= 10).all()


def test_repair_solve_is_exact_and_reports_warm_start(dc3, pdl_policy):
    d, _, test = dc3
    r = pdl_policy.solve({"x": test[0]["x"]}, repair="solve")
    e = _exact(MODEL, str(d / "base.json"), test[:1])[0]
    assert r.status == "optimal"
    assert abs(r.objective - e.objective) <= 1e-7 * max(1, abs(e.objective))
    ws = r.stats["warm_start"]
    assert ws["cold_seconds"] > 0 and ws["seconds"] > 0
    with pytest.raises(BackendRefusal, match="repair='exact'"):
        pdl_policy.solve({"x": test[0]["x"]}, repair="exact")


def test_supervised_baseline(dc3):
    d, train, test = dc3
    m = lagdsl.load(MODEL, data=str(d / "base.json"))
    pol = lagdsl.learn(m, str(d / "train.jsonl"), method="supervised", seed=0, epochs=30,
                       width=32, validation=8, progress=False)
    assert pol.report["method"] == "supervised" and pol.report["training_instances"] == 52
    rs = pol.solve_batch([{"x": s["x"]} for s in test])
    assert all(r.status == "feasible" for r in rs)
    assert "dual_bound" not in rs[0].stats and "multipliers" in rs[0].stats["dual_bound_reason"]


# --- inputs and refusals ----------------------------------------------------------------------

def test_input_not_trained_is_refused(dc3, pdl_policy):
    with pytest.raises(LagDataError, match="h is not an input of this policy"):
        pdl_policy.solve({"h": [1, 1, 1, 1]})
    with pytest.raises(LagError, match="x"):
        pdl_policy.solve({"x": [1, 2]})           # wrong length: the data file's error
    # a whole data file: the fixed params at their trained values are accepted
    d, _, test = dc3
    full = json.load(open(d / "base.json"))
    full["x"] = test[0]["x"]
    (d / "full.json").write_text(json.dumps(full))
    a = pdl_policy.solve(str(d / "full.json"))
    b = pdl_policy.solve({"x": test[0]["x"]})
    assert a.values["y"].array.tolist() == b.values["y"].array.tolist()


def test_refusals(tmp_path):
    (tmp_path / "lp.lag").write_text(LP)
    base = {"C": [1] * 6, "A": [[1] * 6] * 4, "b": [1] * 4}
    (tmp_path / "lp.json").write_text(json.dumps(base))
    m = lagdsl.load(str(tmp_path / "lp.lag"), data=str(tmp_path / "lp.json"))
    with pytest.raises(BackendRefusal, match="change coefficients of unknowns"):
        lagdsl.learn(m, [{"A": [[2] * 6] * 4}], method="pdl", **FAST)
    with pytest.raises(LagDataError, match=r"scenario 2 \(scenario 2\): param b\[I\]: data has 3 entries"):
        lagdsl.learn(m, [{"b": [1] * 4}, {"b": [1] * 3}], method="pdl", **FAST)
    with pytest.raises(BackendRefusal, match="(?s)unknown learning method 'pld'.*did you mean pdl"):
        lagdsl.learn(m, [{"b": [1] * 4}], method="pld")
    with pytest.raises(BackendRefusal, match="no option 'epoch'"):
        lagdsl.learn(m, [{"b": [1] * 4}], method="pdl", epoch=3)
    with pytest.raises(BackendRefusal, match="--targets is an option of method ts-ddr"):
        lagdsl.learn(m, [{"b": [1] * 4}], method="pdl", targets=["y"])
    (tmp_path / "int.lag").write_text(LP.replace("var y[J] >= 0", "var y[J] integer >= 0"))
    mi = lagdsl.load(str(tmp_path / "int.lag"), data=str(tmp_path / "lp.json"))
    with pytest.raises(BackendRefusal, match="is integer"):
        lagdsl.learn(mi, [{"b": [1] * 4}], method="pdl", **FAST)


# --- saving and loading -----------------------------------------------------------------------

def test_save_load_round_trip_identical(dc3, pdl_policy, tmp_path):
    _, _, test = dc3
    out = tmp_path / "pol"
    pdl_policy.save(str(out))
    assert sorted(os.listdir(out)) == ["model.ir.json", "policy.json", "report.json", "weights.pt"]
    back = lagdsl.load_policy(str(out))
    datas = [{"x": s["x"]} for s in test]
    a, b = pdl_policy.solve_batch(datas), back.solve_batch(datas)
    for ra, rb in zip(a, b):
        assert ra.values["y"].array.tolist() == rb.values["y"].array.tolist()
        assert ra.stats["dual_bound"] == rb.stats["dual_bound"]
        assert ra.status == rb.status
    report = json.loads((out / "report.json").read_text())
    assert report["validation"]["instances"] == 8
    with pytest.raises(LagError, match="not empty"):
        pdl_policy.save(str(out))
    pdl_policy.save(str(out), overwrite=True)


def _saved(pdl_policy, tmp_path, name="pol"):
    out = tmp_path / name
    if not out.exists():
        pdl_policy.save(str(out))
    return out


def test_load_refuses_unsafe_or_corrupt(pdl_policy, tmp_path):
    good = _saved(pdl_policy, tmp_path)

    def variant(tag):
        v = tmp_path / tag
        shutil.copytree(good, v)
        return v

    v = variant("nomanifest")
    os.remove(v / "policy.json")
    with pytest.raises(LagDataError, match="has no policy.json"):
        lagdsl.load_policy(str(v))
    v = variant("format")
    man = json.loads((v / "policy.json").read_text())
    man["format"] = "something"
    (v / "policy.json").write_text(json.dumps(man))
    with pytest.raises(LagDataError, match='format "something", expected "lagdsl-policy"'):
        lagdsl.load_policy(str(v))
    v = variant("method")
    man["format"], man["method"] = "lagdsl-policy", "os.system"
    (v / "policy.json").write_text(json.dumps(man))
    with pytest.raises(LagDataError, match="method 'os.system' is not one this lagdsl knows"):
        lagdsl.load_policy(str(v))
    v = variant("pickle")
    torch.save({"primal.0.weight": torch.zeros(1), "evil": np.float64(1.0).__class__}, v / "weights.pt")
    with pytest.raises(LagDataError, match="objects other than tensors"):
        lagdsl.load_policy(str(v))
    v = variant("shape")
    w = torch.load(v / "weights.pt", weights_only=True)
    w["primal.0.weight"] = torch.zeros(3, 3, dtype=torch.float64)
    torch.save(w, v / "weights.pt")
    with pytest.raises(LagDataError, match="tensor primal.0.weight has shape"):
        lagdsl.load_policy(str(v))
    v = variant("nan")
    w = torch.load(v / "weights.pt", weights_only=True)
    w["primal.0.bias"] = w["primal.0.bias"] * float("nan")
    torch.save(w, v / "weights.pt")
    with pytest.raises(LagDataError, match="NaN or infinite"):
        lagdsl.load_policy(str(v))
    v = variant("link")
    os.remove(v / "model.ir.json")
    os.symlink(good / ".." / "outside.json", v / "model.ir.json")
    with pytest.raises(LagDataError, match="leads out of the policy folder"):
        lagdsl.load_policy(str(v))
    v = variant("ir")
    (v / "model.ir.json").write_text('{"format": "lagdsl-ir", "version": 2, "name": 3}')
    with pytest.raises(LagDataError, match="not a lagdsl IR document"):
        lagdsl.load_policy(str(v))
    v = variant("huge")
    man = json.loads((v / "policy.json").read_text())
    man["meta"]["width"] = 60000
    (v / "policy.json").write_text(json.dumps(man))
    from lagdsl.limits import limited
    with limited(10 ** 6), pytest.raises(LagError, match="saved policy's networks would have"):
        lagdsl.load_policy(str(v))
    man["meta"]["width"] = 10 ** 9
    (v / "policy.json").write_text(json.dumps(man))
    with pytest.raises(LagDataError, match="meta.width"):
        lagdsl.load_policy(str(v))
    with pytest.raises(LagDataError, match="not a directory"):
        lagdsl.load_policy(str(good / "policy.json"))


# --- command line -----------------------------------------------------------------------------

def _has_matplotlib() -> bool:
    import importlib.util
    return importlib.util.find_spec("matplotlib") is not None


@pytest.fixture
def cli(capfd):
    """Run ``main`` in this process (fast); returns ``(exit status, stdout, stderr)``."""
    from lagdsl.cli import main

    def call(*args):
        capfd.readouterr()
        code = main([str(a) for a in args])
        out, err = capfd.readouterr()
        return code, out, err
    return call


def test_cli_learn_solve_sweep(dc3, tmp_path, cli):
    _cli = cli
    d, _, test = dc3
    opts = ["--option", "outer=1", "--option", "epochs=3", "--option", "dual_epochs=1",
            "--option", "width=16", "--option", "validation=8"]
    plot = ["--plot", str(tmp_path / "curves.png")] if _has_matplotlib() else []
    code, out, err = _cli("learn", MODEL, "--data", str(d / "base.json"), "--scenarios",
                          str(d / "train.jsonl"), "--method", "pdl", *opts, "--seed", "2",
                          "--save", str(tmp_path / "p"), *plot)
    assert code == 0, err
    assert "learned: pdl policy for dc3_qp (inputs: x)" in out
    if plot:
        assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = _cli("learn", MODEL, "--data", str(d / "base.json"), "--scenarios",
                          str(d / "train.jsonl"), "--method", "supervised", "--option", "epochs=2",
                          "--option", "width=8", "--option", "validation=8", "--json",
                          "--save", str(tmp_path / "s"))
    assert code == 0, err
    rep = json.loads(out)
    assert rep["method"] == "supervised" and rep["validation"]["instances"] == 8
    inst = json.load(open(d / "base.json"))
    inst["x"] = test[0]["x"]
    (tmp_path / "inst.json").write_text(json.dumps(inst))
    code, out, err = _cli("solve", MODEL, "--data", str(tmp_path / "inst.json"), "--policy",
                          str(tmp_path / "p"), "--json")
    assert code in (0, 1), err
    r = json.loads(out)
    assert r["status"] in ("feasible", "infeasible") and r["backend"] == "policy:pdl"
    code, out, err = _cli("sweep", MODEL, "--data", str(d / "base.json"), "--scenarios",
                          str(d / "test.jsonl"), "-o", str(tmp_path / "rows.jsonl"), "--policy",
                          str(tmp_path / "p"))
    assert code in (0, 1), err
    rows = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [s["id"] for s in test]
    # another value of a param the policy holds fixed is refused
    inst["h"] = [v + 1 for v in inst["h"]]
    (tmp_path / "other.json").write_text(json.dumps(inst))
    code, out, err = _cli("solve", MODEL, "--data", str(tmp_path / "other.json"), "--policy", str(tmp_path / "p"))
    assert code == 2 and "param h differs from the value the policy was trained with" in err


def test_cli_learn_errors(dc3, tmp_path, cli):
    _cli = cli
    d, _, _ = dc3
    base = ["learn", MODEL, "--data", str(d / "base.json"), "--scenarios", str(d / "train.jsonl")]
    code, _, err = _cli(*base, "--method", "pld", "--save", str(tmp_path / "a"))
    assert code == 2 and "unknown learning method 'pld'" in err and "did you mean pdl" in err
    code, _, err = _cli(*base, "--targets", "z", "--save", str(tmp_path / "a"))
    assert code == 2 and "--targets z: the model has no variable z" in err
    code, _, err = _cli(*base, "--targets", "y", "--save", str(tmp_path / "a"))
    assert code == 2 and "--targets is an option of method ts-ddr" in err
    code, _, err = _cli(*base, "--option", "width=0", "--save", str(tmp_path / "a"))
    assert code == 2 and "option width=0: expected an integer in [1, 65536]" in err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    code, _, err = _cli(*base, "--save", str(tmp_path / "full"))
    assert code == 2 and "not empty" in err
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "x": [0, 0, 0]}\n{"id": 7, "x": [0, 0, 0]}\n')
    code, _, err = _cli("learn", MODEL, "--data", str(d / "base.json"), "--scenarios", str(bad),
                        "--save", str(tmp_path / "b"))
    assert code == 2 and "%s:2:" % bad in err and "scenario id must be a non-empty string" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    code, _, err = _cli("learn", MODEL, "--data", str(d / "base.json"), "--scenarios", str(d / "train.jsonl"),
                        "--option", "device=cuda", "--option", "outer=1", "--option", "epochs=1",
                        "--option", "width=8", "--save", str(tmp_path / "c"))
    if not torch.cuda.is_available():
        assert code == 2 and "device=cuda: torch sees no CUDA device" in err


def test_varying_costs_and_maximise(tmp_path):
    """Costs and right-hand sides vary together in a maximisation: objectives are the
    model's (measured independently), the dual bound is an upper bound on the optimum."""
    from lagdsl.learn.exact import flat_values
    from lagdsl.lower.numeric import objective_value
    text = LP.replace("minimize cost", "maximize gain").replace(">= b[i]", "<= b[i]")
    (tmp_path / "mx.lag").write_text(text)
    rng = np.random.default_rng(9)
    base = {"C": rng.uniform(1, 2, 6).tolist(), "A": rng.uniform(0.2, 1, (4, 6)).tolist(), "b": [2.0] * 4}
    (tmp_path / "mx.json").write_text(json.dumps(base))
    scen = [{"id": str(i), "C": rng.uniform(1, 2, 6).tolist(), "b": rng.uniform(1, 3, 4).tolist()}
            for i in range(40)]
    m = lagdsl.load(str(tmp_path / "mx.lag"), data=str(tmp_path / "mx.json"))
    pol = lagdsl.learn(m, scen, method="pdl", seed=0, **FAST)
    assert pol.inputs == ["C", "b"]
    test = [{k: v for k, v in s.items() if k != "id"} for s in scen[:8]]
    exact = _exact(str(tmp_path / "mx.lag"), str(tmp_path / "mx.json"), scen[:8])
    for data, r, e in zip(test, pol.solve_batch(test), exact):
        inst = dict(base, **data)
        mi = lagdsl.load(str(tmp_path / "mx.lag"), data=inst)
        assert r.objective == pytest.approx(objective_value(mi.ir, flat_values(mi.ir, r.values)), abs=1e-9)
        assert r.stats["dual_bound"] >= e.objective - 1e-9
        if r.status == "feasible":
            assert r.objective <= e.objective + 1e-9


def test_dual_bound_with_free_unknowns_on_dcopf():
    """The DC-OPF LP has free unknowns (the angles): the dual completion makes their reduced
    costs vanish, so the bound is finite, and it is below every exact optimum."""
    path = os.path.join(ROOT, "examples", "dcopf.lag")
    data = os.path.join(ROOT, "examples", "dcopf.json")
    load = np.array(json.load(open(data))["load"], float)
    rng = np.random.default_rng(2)
    scen = [{"id": str(i), "load": (load * rng.uniform(0.8, 1.2, 6)).tolist()} for i in range(40)]
    pol = lagdsl.learn(lagdsl.load(path, data=data), scen, method="pdl", seed=0, **FAST)
    exact = _exact(path, data, scen[:10])
    rs = pol.solve_batch([{"load": s["load"]} for s in scen[:10]])
    for r, e in zip(rs, exact):
        assert np.isfinite(r.stats["dual_bound"])
        assert r.stats["dual_bound"] <= e.objective + 1e-6
        p = r.values["p"].array                     # boxed by construction
        assert (p >= 0).all() and (p <= np.array(json.load(open(data))["pmax"])).all()
