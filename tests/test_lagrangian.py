"""The lagrangian backend: Hock-Schittkowski optima, duals against cvxpy, refusals, the tape's
derivatives, minibatches, the torch engine, gda, statuses, history and the CLI."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import sympy

import lagdsl
from lagdsl.backend import get_backend
from lagdsl.errors import BackendRefusal
from lagdsl.ir.builder import ModelBuilder

ROOT = Path(__file__).parent.parent
EX = ROOT / "examples"
CASES = Path(__file__).parent / "conformance" / "cases"

#: Hock & Schittkowski (1981), REFERENCES.md
HS = {"hs006": 0.0, "hs007": -math.sqrt(3), "hs028": 0.0, "hs35": 1 / 9, "hs039": -1.0,
      "hs040": -0.25, "hs048": 0.0, "hs051": 0.0, "hs71": 17.0140173, "hs076": -103 / 22}


def load_case(name):
    data = CASES / (name + ".json")
    return lagdsl.load(str(CASES / (name + ".lag")), data=str(data) if data.exists() else None)


@pytest.mark.parametrize("name", sorted(HS))
def test_hock_schittkowski_from_the_standard_start(name):
    """Default options, the examples' standard starts: optimum within 1e-4 (absolute or
    relative), violation <= 1e-4, status optimal."""
    r = lagdsl.load(str(EX / (name + ".lag"))).solve("lagrangian")
    f_star = HS[name]
    assert r.status == "optimal", r.stats.get("notes")
    assert abs(r.objective - f_star) <= 1e-4 * max(1.0, abs(f_star))
    assert r.max_violation <= 1e-4
    assert r.stats["kkt_stationarity"] <= 1e-6 * r.stats["stationarity_scale"]
    assert r.stats["outer_iterations"] >= 1 and r.stats["inner_iterations"] >= 1


def test_hs71_optimal_point_and_the_active_product_constraint():
    r = lagdsl.load(str(EX / "hs71.lag")).solve("lagrangian")
    x = r.values["x"]
    assert [round(x[k], 3) for k in "1234"] == [1.0, 4.743, 3.821, 1.379]
    # product >= 25 is active: its shadow price is positive (more room, lower cost... of a
    # minimisation with a lower bound: raising the bound raises the optimum)
    assert r.duals["product"] > 0


# --- duals agree with cvxpy -----------------------------------------------------------------

def _flat(d):
    if isinstance(d, float):
        return {"": d}
    return dict(d)


@pytest.mark.parametrize("model", [
    ("case", "qp_hs76"), ("case", "lp_indexed"), ("case", "socp_projection"),
    ("example", "hs35"), ("example", "production"), ("example", "diet"),
])
def test_duals_agree_with_cvxpy(model):
    """Shadow prices in the user's sense (minimise and maximise, <=, >=, == and ranged rows).
    (Not lp_basic: its optimum is a degenerate vertex — three active constraints in two
    unknowns — where the duals are not unique.)"""
    kind, name = model
    if kind == "case":
        m = load_case(name)
    else:
        data = EX / (name + ".json")
        m = lagdsl.load(str(EX / (name + ".lag")), data=str(data) if data.exists() else None)
    a = m.solve("lagrangian")
    b = m.solve("cvxpy")
    assert a.status == "optimal" and b.status == "optimal"
    assert abs(a.objective - b.objective) <= 1e-6 * max(1.0, abs(b.objective))
    assert set(a.duals) == set(b.duals)
    for c in b.duals:
        da, db = _flat(a.duals[c]), _flat(b.duals[c])
        assert set(da) == set(db)
        for k in db:
            assert abs(da[k] - db[k]) <= 1e-4 * max(1.0, abs(db[k])), (c, k, da[k], db[k])


# --- refusals and relax ---------------------------------------------------------------------

def test_integer_variables_are_refused_with_name_and_line():
    m = load_case("milp_small")
    reasons = get_backend("lagrangian").accepts(m.ir)
    assert reasons and "variable x (line 4) is integer" in reasons[0].reason
    assert reasons[0].span.line == 4
    with pytest.raises(BackendRefusal) as info:
        m.solve("lagrangian")
    assert "relax=true" in info.value.message and "milp_small.lag:4:" in info.value.format()


def test_relax_solves_the_continuous_relaxation():
    from scipy.optimize import linprog
    m = load_case("knapsack_binary")
    r = m.solve("lagrangian", relax=True)
    assert r.status == "optimal" and r.stats["notes"][0].startswith("relax=true")
    # the same relaxation by scipy: max v.x s.t. w.x <= cap, 0 <= x <= 1 (fractional optimum)
    v, w = np.array([4, 5, 7, 8, 3.0]), np.array([3, 4, 5, 6, 2.0])
    lp = linprog(-v, A_ub=[w], b_ub=[10], bounds=[(0, 1)] * 5)
    assert abs(r.objective + lp.fun) <= 1e-6 * abs(lp.fun)
    x = r.values["x"].array        # items 1 and 4 tie (value/weight 4/3): the optimum is a face
    assert abs(x @ [3, 4, 5, 6, 2] - 10) <= 1e-6 and np.any(np.abs(x - np.round(x)) > 0.1)
    assert r.max_violation <= 1e-6


def test_fields_are_refused_for_the_pinn_backend():
    reasons = get_backend("lagrangian").accepts(load_case("pde_heat").ir)
    assert reasons and "pinn" in reasons[0].reason


def test_batch_needs_a_stochastic_inner_solver():
    m = lagdsl.load(str(EX / "hs71.lag"))
    with pytest.raises(BackendRefusal, match="inner=adam or method=gda"):
        m.solve("lagrangian", batch=2)
    with pytest.raises(BackendRefusal, match="method"):
        m.solve("lagrangian", method="newton")
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(BackendRefusal, match="no CUDA device"):
            m.solve("lagrangian", device="cuda")


# --- statuses -------------------------------------------------------------------------------

def test_limit_returns_the_best_point_with_a_note():
    r = lagdsl.load(str(EX / "hs71.lag")).solve("lagrangian", max_iter=1)
    assert r.status == "limit"
    assert any("outer iteration limit (1)" in n for n in r.stats["notes"])
    assert r.values["x"]["1"] >= 1.0 and r.max_violation < 1.0


def test_infeasible_stalls_and_unbounded_diverges():
    r = load_case("lp_infeasible").solve("lagrangian")
    assert r.status == "limit" and "may be infeasible" in r.stats["notes"][0]
    u = load_case("lp_unbounded").solve("lagrangian")
    assert u.status == "unbounded" and "looks unbounded" in u.stats["notes"][0]


# --- the tape: derivatives of every atom -----------------------------------------------------

def _atoms_model():
    b = ModelBuilder("atoms")
    I = b.set("I", [1, 2, 3, 4])
    x = b.var("x", index=["I"], lower=-2, upper=2)
    y = b.var("y", lower=0.5, upper=3)
    i = sympy.Symbol("i")
    xi = x[i]
    terms = (sympy.exp(y) + sympy.log(y) + sympy.sin(x[1]) + sympy.cos(x[2]) + sympy.tanh(x[3])
             + sympy.Abs(x[4] - 0.3) + sympy.Max(x[1], x[2]) + sympy.Min(x[3], y) + y ** 2.5
             + x[1] ** 3 + 1 / y)
    b.minimize("f", terms + b.aggregate("sumsq", [(i, I)], xi) + b.aggregate("norm2", [(i, I)], xi - 1)
               + b.aggregate("logsumexp", [(i, I)], xi) + b.aggregate("prod", [(i, I)], xi)
               + b.aggregate("max", [(i, I)], xi) + b.aggregate("norm1", [(i, I)], xi)
               + b.aggregate("norminf", [(i, I)], xi))
    b.subject_to("row", b.aggregate("sum", [(i, I)], xi * y) <= 3, over=())
    b.subject_to("fam", x[i] ** 2 + y * x[i] <= 4, over=[(i, I)])
    return b.build()


def test_reverse_mode_matches_finite_differences_and_torch():
    from lagdsl.backends.lagrangian.oracle import NumpyOracle, TorchOracle
    from lagdsl.backends.lagrangian.problem import lower
    from lagdsl.lower.numeric import objective_value
    model = _atoms_model()
    nlp = lower(model)
    rng = np.random.default_rng(3)
    x = np.array([0.3, -0.7, 1.1, 0.9, 1.7])
    assert abs(nlp.forward(x)[0] - objective_value(model, x)) <= 1e-12
    lam, mu = np.zeros(nlp.m_eq), rng.uniform(0.1, 1, nlp.m_in)
    a = NumpyOracle(nlp).lagrangian(x, lam, mu, 0.0)
    t = TorchOracle(nlp).lagrangian(x, lam, mu, 0.0)
    fd = np.array([(NumpyOracle(nlp).lagrangian(x + 1e-6 * e, lam, mu, 0.0).L
                    - NumpyOracle(nlp).lagrangian(x - 1e-6 * e, lam, mu, 0.0).L) / 2e-6 for e in np.eye(5)])
    assert abs(a.L - t.L) <= 1e-12
    assert np.max(np.abs(a.grad - fd)) <= 1e-5
    assert np.max(np.abs(a.grad - t.grad)) <= 1e-10


def test_restricted_tape_computes_the_sampled_rows():
    from lagdsl.backends.lagrangian.problem import lower
    from lagdsl.backends.lagrangian.tape import NumpyTape, restrict
    model = load_case("lp_indexed").ir
    nlp = lower(model)
    x = np.random.default_rng(0).uniform(0, 300, nlp.N)
    vals = nlp.tape.forward(x)
    for b in nlp.bodies:
        full = nlp.tape.value(vals, b)
        rows = np.array([0, len(full) - 1])
        nodes, out = restrict(nlp.tape.nodes, b, rows)
        sub = NumpyTape(nodes, nlp.N, [out])
        assert np.allclose(sub.value(sub.forward(x), out), full[rows])


# --- engines and methods ----------------------------------------------------------------------

def test_torch_engine_agrees_with_numpy():
    m = lagdsl.load(str(EX / "hs71.lag"))
    a = m.solve("lagrangian")
    b = m.solve("lagrangian", engine="torch")
    assert b.stats["engine"] == "torch" and b.status == "optimal"
    assert abs(a.objective - b.objective) <= 1e-7


def test_gda_reaches_hs35():
    r = lagdsl.load(str(EX / "hs35.lag")).solve("lagrangian", method="gda")
    assert r.status == "optimal" and abs(r.objective - 1 / 9) <= 1e-5
    e = lagdsl.load(str(EX / "hs35.lag")).solve("lagrangian", method="gda", extragradient=True)
    assert e.status == "optimal" and abs(e.objective - 1 / 9) <= 1e-5


def _ring(n):
    """min sum (x_i - 1)^2 s.t. x_i^2 + x_{i+1}^2 <= 1 on a ring: optimum x_i = 1/sqrt(2)."""
    b = ModelBuilder("ring")
    b.set("I", list(range(n)))
    x = b.var("x", index=["I"])
    i = sympy.Symbol("i")
    b.minimize("f", b.aggregate("sum", [(i, "I")], (x[i] - 1) ** 2))
    b.subject_to("disk", x[i] ** 2 + x[sympy.Mod(i + 1, n)] ** 2 <= 1, over=[(i, "I")])
    return b.build()


def test_minibatches_with_per_row_multipliers_are_reproducible():
    model = lagdsl.Model.from_ir(_ring(200))
    opts = dict(method="gda", batch=50, max_iter=1500, seed=7)
    a = model.solve("lagrangian", **opts)
    b = model.solve("lagrangian", **opts)
    assert a.values["x"].array.tolist() == b.values["x"].array.tolist()
    # stochastic steps: near the optimum, not at it (measured: 0.02 and 0.04 after 1500 steps)
    x = a.values["x"].array
    assert a.status == "limit" and a.stats["engine"] == "torch"
    assert np.max(np.abs(x - 1 / math.sqrt(2))) <= 5e-2 and a.max_violation <= 8e-2
    assert len(a.duals["disk"]) == 200
    full = model.solve("lagrangian")
    f_star = 200 * (1 - 1 / math.sqrt(2)) ** 2
    assert full.status == "optimal" and abs(full.objective - f_star) <= 1e-5 * f_star
    d = np.array(list(full.duals["disk"].values()))
    assert np.all(d < 0)      # a binding <= row of a minimisation: more room, lower cost


def test_default_start_is_inside_the_bounds():
    from lagdsl.backends.lagrangian.problem import default_start
    lb = np.array([-np.inf, 1.0, 0.0, -np.inf, -3.0])
    ub = np.array([np.inf, 5.0, np.inf, -2.0, np.inf])
    assert default_start(lb, ub).tolist() == [0.0, 3.0, 1.0, -3.0, 0.0]


# --- history, progress and the CLI -------------------------------------------------------------

def test_history_and_stats():
    r = lagdsl.load(str(EX / "hs006.lag")).solve("lagrangian")
    h = r.stats["history"]
    assert {"step", "objective", "violation", "multiplier_norm", "rho"} <= set(h)
    assert len(h["step"]) == r.stats["outer_iterations"]
    assert h["violation"][-1] <= 1e-6 and r.stats["rho"] == h["rho"][-1]
    assert get_backend("lagrangian").records_history


def test_cli_json_plot_and_exit_codes(tmp_path, capfd):
    from lagdsl.cli import main
    png = tmp_path / "h.png"
    assert main(["solve", str(EX / "hs71.lag"), "-b", "lagrangian", "--json", "--plot", str(png)]) == 0
    out = json.loads(capfd.readouterr().out)
    assert out["status"] == "optimal" and out["backend"] == "lagrangian"
    assert png.stat().st_size > 1000
    assert main(["solve", str(EX / "hs71.lag"), "-b", "lagrangian", "--json",
                 "--option", "max_iter=1"]) == 1
    assert json.loads(capfd.readouterr().out)["status"] == "limit"
    assert main(["solve", str(CASES / "milp_small.lag"), "-b", "lagrangian"]) == 2
    assert "is integer" in capfd.readouterr().err
