"""ts-ddr: stage slicing, rollouts, dual gradients, training, save/load (a tiny hydrothermal
instance: 4 stages, one reservoir, fixed seeds; a few seconds)."""
from __future__ import annotations

import os

import numpy as np
import pytest

import lagdsl
from lagdsl.errors import BackendRefusal
from lagdsl.learn import tsddr
from lagdsl.learn.stages import StageSolver

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "examples", "hydrothermal.lag")

BASE = {"H": 4, "R": ["a"], "G": ["cheap", "dear"], "inflow": [[20.0, 5.0, 30.0, 10.0]],
        "demand": [40.0, 45.0, 35.0, 50.0], "v0": [30.0], "vmin": [5.0], "vmax": [60.0],
        "qmax": [30.0], "rho": [1.0], "gmax": [20.0, 15.0], "gcost": [10.0, 40.0],
        "deficit_cost": 300.0, "spill_cost": 0.01, "water_value": [20.0]}


def scenarios(n, seed=3):
    rng = np.random.default_rng(seed)
    return [{"inflow": [list(np.round(rng.uniform(0, 40, 4), 3))]} for _ in range(n)]


@pytest.fixture(scope="module")
def model():
    return lagdsl.load(MODEL, data=BASE)


@pytest.fixture(scope="module")
def engine(model):
    return tsddr.Engine(model, "T", ["vol"], ["inflow"], "auto")


@pytest.fixture(scope="module")
def policy(model):
    return tsddr.train(model, None, scenarios(12), targets="vol", stages="T",
                       options={"epochs": 3, "batch": 4, "init": "none"}, seed=0)


def test_staging_reads_the_ir(engine):
    st = engine.staging
    assert st.H == 4 and st.K == 1
    # stage t: first/balance of t and meet[t]; the balance row of t reads vol[t-1] as data
    assert [len(r) for r in st.rows] == [2, 2, 2, 2]
    assert [st.label(c) for c in st.target_cols[2]] == ["vol[a,3]"]
    Ap, past = st.A_past[2]
    assert [st.label(past[j]) for j in Ap.indices] == ["vol[a,2]"]
    assert engine.penalty == 10 * 300.0       # 10 max|c| max(1, max|A|)


def test_perfect_targets_reproduce_the_full_optimum(model, engine):
    datas = scenarios(5, seed=7)
    lows = engine.lower(datas)
    X, cost = engine.foresight(lows)
    roll = engine.rollout(lows, engine.plan_targets(X), B=2)
    prog = model.compile("highs")
    exact = [prog.solve(data=d).objective for d in datas]
    np.testing.assert_allclose(cost, exact, rtol=1e-9)
    np.testing.assert_allclose(roll["cost"], exact, rtol=1e-9)
    np.testing.assert_allclose(roll["x"], X, atol=1e-7)
    assert roll["ok"].all()


def test_myopic_turbines_now_and_is_dearer(engine):
    lows = engine.lower(scenarios(4))
    my = engine.rollout(lows, None, B=4)
    _, pf = engine.foresight(lows)
    assert my["ok"].all() and (my["cost"] >= pf - 1e-6).all()


def test_target_dual_is_the_stage_cost_slope(engine):
    """The target row's dual against a central difference of the stage objective."""
    st = engine.staging
    low = engine.lower(scenarios(1, seed=11))[0]
    t = 1
    solver = StageSolver(st, t, 1, engine.penalty, engine.base)
    X, _ = engine.foresight([low])
    Ap, past = st.A_past[t]
    shift = X[:, past] @ Ap.T.toarray()
    lo, hi = low.lo[st.rows[t]][None] - shift, low.hi[st.rows[t]][None] - shift
    C = low.c[st.cols[t]][None]
    checked = 0
    for target in (12.0, 25.0, 40.0):
        ok, _, v, _, yt = solver.solve(lo, hi, np.array([[target]]), C)
        h = 1e-4
        vp = solver.solve(lo, hi, np.array([[target + h]]), C)[2][0]
        vm = solver.solve(lo, hi, np.array([[target - h]]), C)[2][0]
        fd = (vp - vm) / (2 * h)
        assert ok and yt[0, 0] == pytest.approx(fd, rel=1e-6, abs=1e-6)
        checked += abs(fd) > 1e-3
    assert checked >= 2                      # not only flat points


def test_rollout_gradient_matches_a_finite_difference(engine):
    """d(total stage objective)/d(target): target dual plus the next stage's price of the
    realised state, checked against a central difference of the whole rollout."""
    lows = engine.lower(scenarios(1, seed=5))
    targets = np.array([[[25.0], [20.0], [30.0], [22.0]]])
    base = engine.rollout(lows, targets)
    for t in range(3):
        h = 1e-4
        up, dn = targets.copy(), targets.copy()
        up[0, t, 0] += h
        dn[0, t, 0] -= h
        fd = (engine.rollout(lows, up)["value"].sum() - engine.rollout(lows, dn)["value"].sum()) / (2 * h)
        assert base["grad"][0, t, 0] == pytest.approx(fd, rel=1e-6, abs=1e-6)


def test_policy_rollout_is_feasible(policy):
    rs = policy.solve_batch(scenarios(5, seed=9))
    assert all(r.status == "feasible" and r.max_violation <= 1e-6 for r in rs)
    assert rs[0].backend == "policy:ts-ddr"
    assert set(rs[0].values) == {"vol", "turb", "spill", "gen", "deficit"}


def test_non_anticipative(policy):
    """Changing the inflows after stage k changes no decision of stages up to k."""
    a = {"inflow": [[20.0, 5.0, 30.0, 10.0]]}
    for k in (1, 2, 3):
        b = {"inflow": [[20.0, 5.0, 30.0, 10.0][:k] + [1.0, 39.0, 2.0][:4 - k]]}
        ra, rb = policy.solve_batch([a, b])
        for name in ("vol", "turb", "spill", "gen", "deficit"):
            for key, va in ra.values[name].items():
                stage = int(key.split(",")[-1])
                if stage <= k:
                    assert rb.values[name][key] == pytest.approx(va, abs=1e-9), (name, key, k)
        assert ra.objective != rb.objective


def test_training_beats_its_start(model):
    policy = tsddr.train(model, None, scenarios(12), targets="vol", stages="T",
                         options={"epochs": 6, "batch": 4, "init": "none", "valid": 0.0}, seed=1)
    hist = policy.report["history"]
    assert min(h["valid_cost"] for h in hist[1:]) < hist[0]["valid_cost"]
    val = policy.report["validation"]
    # no causal policy beats perfect foresight; the myopic policy burns the water early
    assert val["mean_gap"] >= -1e-9 and val["foresight_cost"] <= val["mean_cost"] + 1e-6
    assert val["feasible"] == 1.0 and val["violation"] <= 1e-6
    assert val["myopic_cost"] > val["foresight_cost"]


def test_save_load_round_trip(policy, tmp_path, monkeypatch):
    import lagdsl.learn as learn
    monkeypatch.setitem(learn.METHODS, "ts-ddr", "lagdsl.learn.tsddr")
    policy.save(tmp_path / "p")
    back = learn.load_policy(tmp_path / "p")
    datas = scenarios(3, seed=4)
    for r0, r1 in zip(policy.solve_batch(datas), back.solve_batch(datas)):
        assert r1.objective == pytest.approx(r0.objective, rel=1e-12)
        assert r1.values["vol"] == pytest.approx(r0.values["vol"])
    assert back.engine.penalty == policy.engine.penalty


def test_refusals(model):
    with pytest.raises(BackendRefusal, match="the model has no variable volume"):
        tsddr.Engine(model, "T", ["volume"], ["inflow"], "auto")
    with pytest.raises(BackendRefusal, match="the model has no set S"):
        tsddr.Engine(model, "S", ["vol"], ["inflow"], "auto")
    with pytest.raises(BackendRefusal, match="no option 'epoch'"):
        tsddr.parse_options({"epoch": 3})
    with pytest.raises(BackendRefusal, match="repair='none'"):
        tsddr.train(model, None, scenarios(3), targets="vol", stages="T",
                    options={"epochs": 1, "init": "none"}, seed=0).solve({}, repair="none")


LOOKAHEAD = """
param H = 3
set T = 1..H
param d[T]
var x[t in T] in [0, 10]
var s
minimize c: sum(t in T) x[t] + s
subject to r[t in T : t < H]: x[t] >= d[t + 1]
"""


def test_refuses_what_it_cannot_slice(tmp_path):
    path = tmp_path / "m.lag"
    path.write_text(LOOKAHEAD)
    m = lagdsl.load(str(path), data={"d": [1, 2, 3]})
    with pytest.raises(BackendRefusal, match="variable s is not indexed by T") as e:
        tsddr.Engine(m, "T", ["x"], ["d"], "auto")
    assert e.value.span is not None and e.value.span.line == 6
    path.write_text(LOOKAHEAD.replace("var s\n", "").replace(" + s", ""))
    m = lagdsl.load(str(path), data={"d": [1, 2, 3]})
    eng = tsddr.Engine(m, "T", ["x"], ["d"], "auto")
    with pytest.raises(BackendRefusal, match=r"row r\[1\] of stage 1 reads d of stage 2"):
        eng.staging.check_causal(eng.lowering, ["d"], eng.base)


def test_stage_solves_after_a_highs_solve(model):
    """Stage and full-horizon solvers run after the highs backend has started HiGHS's thread
    pool (a ``threads`` setting of their own would make every run fail)."""
    assert model.solve(backend="highs").status == "optimal"
    eng = tsddr.Engine(model, "T", ["vol"], ["inflow"], "auto")
    lows = eng.lower(scenarios(3))
    assert np.isfinite(eng.foresight(lows)[1]).all()
    assert eng.rollout(lows, None)["ok"].all()


def test_costs_and_stage_free_inputs(model):
    """An input not indexed by T (deficit_cost: known from the start, fed at every stage)
    changes the stages' costs; perfect targets still reproduce each scenario's optimum."""
    datas = [{"deficit_cost": v, "inflow": s["inflow"]} for v, s in zip((60.0, 300.0, 900.0), scenarios(3))]
    eng = tsddr.Engine(model, "T", ["vol"], ["deficit_cost", "inflow"], "auto")
    lows = eng.lower(datas)
    X, cost = eng.foresight(lows)
    prog = model.compile("highs")
    np.testing.assert_allclose(cost, [prog.solve(data=d).objective for d in datas], rtol=1e-9)
    roll = eng.rollout(lows, eng.plan_targets(X), B=4)
    np.testing.assert_allclose(roll["cost"], cost, rtol=1e-9)
    feats = tsddr.Features(model.ir, "T", ["deficit_cost", "inflow"])
    raw = feats.raw([tsddr.params_of(l, feats.inputs) for l in lows])
    assert raw.shape == (3, 4, 2)
    assert (raw[1, :, 0] == 300.0).all() and list(raw[0, :, 1]) == datas[0]["inflow"][0]


@pytest.mark.parametrize("old, new, why", [
    ("var x[t in T] in [0, 10]", "var x[T] binary", "variable x is binary; stage solves need duals"),
    ("minimize c: sum(t in T) x[t]", "minimize c: sum(t in T) x[t] ^ 2", "objective c is quadratic"),
])
def test_refuses_integers_and_quadratic_objectives(tmp_path, old, new, why):
    text = LOOKAHEAD.replace("var s\n", "").replace(" + s", "").replace("x[t] >= d[t + 1]", "x[t] >= d[t]")
    path = tmp_path / "m.lag"
    path.write_text(text.replace(old, new))
    m = lagdsl.load(str(path), data={"d": [0, 1, 0]})
    with pytest.raises(BackendRefusal, match=why):
        tsddr.Engine(m, "T", ["x"], ["d"], "auto")
