"""Compile once, solve again with new data (lagdsl.resolve, lagdsl.lower.incremental)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

import lagdsl
from lagdsl import backend as B
from lagdsl.backend import Backend, Program
from lagdsl.errors import LagDataError
from lagdsl.lower.incremental import Dependencies, relower
from lagdsl.lower.instance import lower_instance, max_violation, unflatten
from lagdsl.result import Result

EX = Path(__file__).resolve().parent.parent / "examples"
TRANSPORT = json.loads((EX / "transport.json").read_text())


def transport(data=None):
    return lagdsl.load(EX / "transport.lag", data=dict(TRANSPORT, **(data or {})))


def plain(values):
    """Result values/duals as plain dicts of floats (FamilyValues included)."""
    return {k: (dict(v) if not isinstance(v, float) else v) for k, v in values.items()}


def assert_same(r, fresh):
    assert r.status == fresh.status == "optimal"
    assert r.objective == pytest.approx(fresh.objective, rel=1e-9)
    for k, v in plain(fresh.values).items():
        got = plain(r.values)[k]
        assert got == pytest.approx(v, abs=1e-6) if isinstance(v, float) else \
            {e: pytest.approx(x, abs=1e-6) for e, x in v.items()} == got
    assert plain(r.duals) == {k: ({e: pytest.approx(x, abs=1e-6) for e, x in v.items()}
                                  if isinstance(v, dict) else pytest.approx(v, abs=1e-6))
                              for k, v in plain(fresh.duals).items()}


# --- a small LP backend that updates in place (what a highs program does) -------------------

class RelowerProgram(Program):
    """An LP from ``lower_instance`` solved by scipy's HiGHS; ``rebind`` uses ``relower``."""

    backend = "relower"

    def __init__(self, model):
        self.inst = lower_instance(model)
        self.rebinds = 0

    def rebind(self, model, changed):
        self.inst = relower(self.inst, model, changed)
        self.rebinds += 1
        self.rebind_info = {"relowered": self.inst.relowered}
        return True

    def solve(self):
        inst = self.inst
        A = sp.vstack([b.body.lin for b in inst.blocks]).tocsr()
        const = np.concatenate([b.body.const for b in inst.blocks])
        lo = np.concatenate([b.lower for b in inst.blocks]) - const
        hi = np.concatenate([b.upper for b in inst.blocks]) - const
        s = -1.0 if inst.sense == "maximize" else 1.0
        c = s * inst.objective.lin.toarray().ravel()
        up, dn = np.isfinite(hi), np.isfinite(lo)
        res = scipy.optimize.linprog(c, A_ub=sp.vstack([A[up], -A[dn]]),
                                     b_ub=np.concatenate([hi[up], -lo[dn]]),
                                     bounds=list(zip(inst.lb, inst.ub)), method="highs")
        return Result("optimal" if res.status == 0 else "error",
                      s * res.fun + float(inst.objective.const[0]),
                      unflatten(inst.model, res.x), max_violation=max_violation(inst, res.x))


class RelowerBackend(Backend):
    name = "relower"

    def accepts(self, model):
        return []

    def compile(self, model, options=None):
        return RelowerProgram(model)


BACKEND = RelowerBackend()


@pytest.fixture
def relower_backend(monkeypatch):
    monkeypatch.setitem(B.REGISTRY, "relower", __name__)


# --- re-solve equals a fresh solve ----------------------------------------------------------

@pytest.mark.parametrize("demand", [[330, 310, 280],                                # a list
                                    {"new-york": 300, "chicago": 340, "topeka": 250}])  # by label
def test_resolve_equals_fresh_solve_lp(demand):
    prog = transport().compile("cvxpy")
    first = prog.solve()
    assert first.objective == pytest.approx(153.675)
    r = prog.solve(data={"demand": demand})
    assert_same(r, transport({"demand": demand}).solve("cvxpy"))
    info = r.stats["resolve"]
    assert info["changed"] == ["demand"] and info["derived"] == []
    assert info["relowered"] == {"blocks": [], "bounds": ["meet_demand"], "objective": False,
                                 "structure": []}
    assert info["recompiled"] is False         # new right-hand sides: cvxpy Parameters
    assert info["rebind"]["parameters"] == "made the problem parametric"
    assert r.stats["backend"] == "cvxpy" and r.backend == "cvxpy"


def test_resolve_nested_list_and_back_to_the_compiled_data():
    prog = transport().compile("cvxpy")
    dist = [[2.0, 1.7, 1.8], [2.5, 1.2, 1.4]]
    r = prog.solve(data={"dist": dist, "supply": {"seattle": 400, "san-diego": 550}})
    assert_same(r, transport({"dist": dist, "supply": {"seattle": 400, "san-diego": 550}}).solve("cvxpy"))
    assert r.stats["resolve"]["derived"] == ["cost"]         # cost = f * dist / 1000
    # each call starts from the compiled data: {} gives it back
    back = prog.solve(data={})
    assert back.objective == pytest.approx(153.675)
    assert back.stats["resolve"]["changed"] == ["cost", "dist", "supply"]


def test_formula_param_dependency_is_re_evaluated(relower_backend):
    m = transport()
    prog = m.compile("relower")
    assert prog.solve().objective == pytest.approx(153.675)
    r = prog.solve(data={"f": 120})
    info = r.stats["resolve"]
    assert info["changed"] == ["cost", "f"] and info["derived"] == ["cost"]
    assert info["recompiled"] is False and prog.program.rebinds == 1
    assert info["relowered"]["objective"] is True and info["relowered"]["blocks"] == []
    assert r.objective == pytest.approx(153.675 * 120 / 90)
    assert_same_objective = transport({"f": 120}).solve("cvxpy").objective
    assert r.objective == pytest.approx(assert_same_objective)
    # copy-on-write: the user's model and its arrays are untouched
    assert m.ir.params["f"].values == 90 and float(m.ir.params["cost"].values[0, 0]) == pytest.approx(0.225)


def test_rebind_path_equals_fresh_on_new_demand(relower_backend):
    prog = transport().compile("relower")
    for k, demand in enumerate([[330, 310, 280], [100, 100, 100], [325, 300, 275]]):
        r = prog.solve(data={"demand": demand})
        fresh = transport({"demand": demand}).solve("cvxpy")
        assert r.objective == pytest.approx(fresh.objective, rel=1e-9)
        assert r.stats["resolve"]["recompiled"] is False
    assert prog.program.rebinds == 3
    assert r.stats["resolve"]["rebind"]["relowered"]["bounds"] == ["meet_demand"]


def test_data_file_path_as_override(tmp_path):
    f = tmp_path / "d.json"
    f.write_text('{"demand": [330, 310, 280]}')
    r = transport().compile("cvxpy").solve(data=str(f))
    assert r.objective == pytest.approx(transport({"demand": [330, 310, 280]}).solve("cvxpy").objective)


# --- structural changes recompile and say so -------------------------------------------------

KNAP = """
param n
set I = 1..n
param w[I]
param v[I]
param cap
var take[I] binary
maximize value: sum(i in I) v[i] * take[i]
subject to weight: sum(i in I : w[i] <= cap) w[i] * take[i] <= cap
"""


def test_structural_change_recompiles_and_says_why():
    data = {"n": 3, "w": [4, 5, 6], "v": [5, 6, 7], "cap": 10}
    prog = lagdsl.parse(KNAP, data=data, path="k.lag").compile("cvxpy")
    assert prog.solve().objective == pytest.approx(12)       # {4, 6}
    r = prog.solve(data={"n": 4, "w": [4, 5, 6, 1], "v": [5, 6, 7, 3]})
    assert r.objective == pytest.approx(14)                  # {4, 5, 1}
    info = r.stats["resolve"]
    assert info["recompiled"] is True
    assert info["reason"] == ("n decides the model's structure (n is read by a set, range, "
                              "default or variable bound): elaborated and compiled again")
    back = prog.solve(data={})
    assert back.stats["resolve"]["reason"] == "the previous solve changed the structure: compiled again"
    assert back.objective == pytest.approx(12)
    # cap is read by the aggregate's condition: it decides which terms exist
    r = prog.solve(data={"cap": 11})
    assert r.stats["resolve"]["reason"] == "cap decides which rows or terms exist (cap in weight): compiled again"
    assert r.objective == pytest.approx(13)                  # {5, 6}
    fresh = lagdsl.parse(KNAP, data=dict(data, cap=11), path="k.lag").solve("cvxpy")
    assert r.objective == pytest.approx(fresh.objective)


def test_a_row_deciding_param_of_a_model_without_source_recompiles():
    data = {"n": 3, "w": [4, 5, 6], "v": [5, 6, 7], "cap": 10}
    m = lagdsl.Model.from_json(lagdsl.parse(KNAP, data=data, path="k.lag").to_json())
    assert m.ir.derivation is None
    prog = m.compile("cvxpy")
    r = prog.solve(data={"cap": 11, "w": [4, 5, 7]})
    assert r.stats["resolve"]["reason"] == ("cap, w decide which rows or terms exist (cap in weight; "
                                            "w in weight): compiled again")
    fresh = lagdsl.parse(KNAP, data=dict(data, cap=11, w=[4, 5, 7]), path="k.lag").solve("cvxpy")
    assert r.objective == pytest.approx(fresh.objective) == 12       # weights {4, 7}: 5 + 7
    assert r.values == fresh.values


def test_a_set_is_given_anew():
    prog = transport().compile("cvxpy")
    r = prog.solve(data={"Markets": ["a", "b"], "demand": [10, 20], "dist": [[1, 2], [3, 4]]})
    assert r.objective == pytest.approx(90 * (10 * 1 + 20 * 2) / 1000)
    assert r.stats["resolve"]["reason"] == ("Markets decides the model's structure (Markets is a "
                                            "set): elaborated and compiled again")
    assert set(dict(r.values["ship"])) == {"seattle,a", "seattle,b", "san-diego,a", "san-diego,b"}
    # the next ordinary re-solve is back on the compiled sets
    r = prog.solve(data={"demand": [330, 310, 280]})
    assert r.stats["resolve"]["recompiled"] is True
    assert r.objective == pytest.approx(transport({"demand": [330, 310, 280]}).solve("cvxpy").objective)


# --- refusals: the data-file messages ---------------------------------------------------------

def refused(prog, data) -> str:
    with pytest.raises(LagDataError) as ei:
        prog.solve(data=data)
    return ei.value.format()


def test_refusals_name_the_parameter_like_a_data_file():
    prog = transport().compile("cvxpy")
    assert refused(prog, {"dmand": [1, 2, 3]}) == (
        'data error: data key "dmand" names nothing in the model\nhint: did you mean demand?')
    text = refused(prog, {"demand": [1, 2]})
    assert text.splitlines()[0] == ("%s:15:7: data error: param demand[Markets]: data has 2 entries "
                                    "but Markets has 3 elements" % (EX / "transport.lag"))
    assert text.splitlines()[1] == "    param demand[Markets]                     # cases required"
    text = refused(prog, {"demand": [1, float("nan"), 2]})
    assert 'param demand[Markets]: demand["chicago"] is NaN, not a finite number' in text
    text = refused(prog, {"supply": {"seattle": float("inf"), "san-diego": 1}})
    assert 'param supply[Plants]: supply["seattle"] is Infinity, not a finite number' in text
    assert refused(prog, {"ship": 1}) == ('data error: data key "ship" names a variable, which '
                                          'takes no data\nhint: data gives values to sets, params and graphs')
    text = refused(prog, {"demand": {"boston": 3}})
    assert 'data key "boston" is not an element of Markets' in text
    # the same text a data file gets
    with pytest.raises(LagDataError) as ei:
        transport({"demand": [1, 2]})
    assert ei.value.format() == refused(prog, {"demand": [1, 2]})
    with pytest.raises(LagDataError, match="not list"):
        prog.solve(data=[1, 2])
    # nothing was bound by the refused calls
    assert prog.solve().objective == pytest.approx(153.675)


def test_a_set_is_refused_for_a_model_without_source():
    m = lagdsl.Model.from_json(transport().to_json())
    prog = m.compile("cvxpy")
    with pytest.raises(LagDataError) as ei:
        prog.solve(data={"Markets": ["a"]})
    assert ei.value.message == ("Markets is a set: a model without its .lag source (read from IR "
                                "or built in Python) takes new values for params only")
    r = prog.solve(data={"demand": [330, 310, 280]})        # params still work
    assert r.objective == pytest.approx(transport({"demand": [330, 310, 280]}).solve("cvxpy").objective)
    with pytest.raises(LagDataError, match='data key "dmand" names nothing in the model'):
        prog.solve(data={"dmand": 1})


# --- relower ---------------------------------------------------------------------------------

def same_instance(a, b):
    assert [bl.name for bl in a.blocks] == [bl.name for bl in b.blocks]
    for x, y in zip(a.blocks, b.blocks):
        assert (x.body.lin != y.body.lin).nnz == 0
        np.testing.assert_array_equal(x.body.const, y.body.const)
        np.testing.assert_array_equal(x.lower, y.lower)
        np.testing.assert_array_equal(x.upper, y.upper)
    assert (a.objective.lin != b.objective.lin).nnz == 0
    np.testing.assert_array_equal(a.lb, b.lb)
    np.testing.assert_array_equal(a.ub, b.ub)


@pytest.mark.parametrize("new", [{"demand": [1, 2, 3]}, {"f": 50}, {"supply": [1, 2], "dist": [[1, 2, 3], [4, 5, 6]]}])
def test_relower_equals_lower_instance_on_new_data(new):
    old = transport()
    inst = lower_instance(old.ir)
    fresh = transport(new).ir
    changed = {n for n in fresh.params if not np.array_equal(fresh.params[n].values, old.ir.params[n].values)}
    got = relower(inst, fresh, changed)
    same_instance(got, lower_instance(fresh))
    untouched = [b for b in inst.blocks if b.name not in got.relowered["blocks"] + got.relowered["bounds"]]
    for b in untouched:     # reused, not rebuilt
        assert next(g for g in got.blocks if g.name == b.name) is b


def test_dependencies_sort_reads_by_role():
    m = lagdsl.parse(KNAP, data={"n": 3, "w": [4, 5, 6], "v": [5, 6, 7], "cap": 10}, path="k.lag")
    d = Dependencies(m.ir)
    r = d.constraints["weight"]
    assert r.structure == {"cap", "w"} and r.values == {"w"} and r.bounds == {"cap"}
    assert d.objective.values == {"v"} and not d.objective.structure
    assert d.touched({"v"}) == {"blocks": [], "bounds": [], "objective": True, "structure": []}


# --- warm starts -----------------------------------------------------------------------------

NLP = """
param a
var x >= 0
var y >= 0
minimize f: (x - a)^2 + (y - 2)^4
subject to c: x * y >= 1
"""


def test_lagrangian_rebind_warm_starts_and_matches_fresh():
    prog = lagdsl.parse(NLP, data={"a": 1}).compile("lagrangian")
    prog.solve()
    r = prog.solve(data={"a": 3})
    assert r.stats["resolve"]["recompiled"] is False
    assert r.stats["resolve"]["rebind"] == {"lowered_again": True, "warm_start": True}
    fresh = lagdsl.parse(NLP, data={"a": 3}).solve("lagrangian")
    assert r.status == fresh.status == "optimal"
    assert r.objective == pytest.approx(fresh.objective, abs=1e-5)
    assert r.values["x"] == pytest.approx(fresh.values["x"], abs=1e-3)


POISSON = """
param a
domain D: x in [0, 1]
field u(x)
subject to pde on D: -d(u, x, x) == a * pi ^ 2 * sin(pi * x)
subject to ends on boundary(D): u == 0
"""


def test_pinn_rebind_keeps_the_trained_weights():
    import torch
    prog = lagdsl.parse(POISSON, data={"a": 1}).compile("pinn", epochs=20, lbfgs=0, points=32,
                                                       width=8, depth=1, seed=0)
    prog.solve()
    net, terms = prog.program.nets["u"], prog.program.terms
    trained = {k: v.clone() for k, v in net.state_dict().items()}
    r = prog.solve(data={"a": 2})
    info = r.stats["resolve"]
    assert info["recompiled"] is False and info["changed"] == ["a"]
    assert info["rebind"] == {"warm_start": "the previous solve's network weights and unknowns"}
    assert prog.program.nets["u"] is net              # the same network, trained further
    assert any(not torch.equal(trained[k], v) for k, v in net.state_dict().items())
    # the loss terms were built again on the new data
    assert prog.program.model.params["a"].values == 2 and prog.program.terms is not terms


BOUNDS = """
set I
param cap
param lo[I] default 0
var x[I] >= 0
minimize f: sum(i in I) x[i]
subject to upper[i in I]: x[i] <= cap
subject to lower[i in I]: x[i] >= lo[i]
"""


def test_relower_gathers_bounds_and_keeps_their_errors():
    base = lagdsl.parse(BOUNDS, data={"I": [1, 2, 3], "cap": 5, "lo": [1, 2, 3]}, path="b.lag")
    inst = lower_instance(base.ir)
    new = lagdsl.parse(BOUNDS, data={"I": [1, 2, 3], "cap": 7, "lo": {"2": 4}}, path="b.lag")
    got = relower(inst, new.ir, {"cap", "lo"})
    assert got.relowered["bounds"] == ["upper", "lower"] and got.relowered["blocks"] == []
    same_instance(got, lower_instance(new.ir))
    np.testing.assert_array_equal(got.blocks[1].lower, [0, 4, 0])      # the default fills in
    # a lower bound of inf (from a default) is the lowering's error, at the bound
    bad = lagdsl.parse(BOUNDS.replace("default 0", "default inf"),
                       data={"I": [1, 2, 3], "cap": 7, "lo": {"2": 4}}, path="b.lag")
    with pytest.raises(LagDataError) as fresh:
        lower_instance(bad.ir)
    with pytest.raises(LagDataError) as again:
        relower(inst, bad.ir, {"lo"})
    assert again.value.message == fresh.value.message
    assert "constraint lower has a lower bound of inf (at i=1): no number can meet it" in fresh.value.message
