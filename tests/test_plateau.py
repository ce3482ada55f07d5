"""Training that stops when it is done (issue 18, item 9): the shared plateau detector
(lagdsl/plateau.py) and each iterative backend's default budget ending on it, with explicit
counts honoured as caps and ``stats["stop_reason"]`` saying why a run stopped."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

import lagdsl
from lagdsl.plateau import Plateau, stop_reason

EX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")


def example(name: str, data: str | None = None):
    return lagdsl.load(os.path.join(EX, name + ".lag"),
                       data=os.path.join(EX, data + ".json") if data else None)


# --- the detector -----------------------------------------------------------------------------

def test_plateau_needs_window_plus_one_checks_of_every_metric_within_rtol():
    p = Plateau(rtol=1e-2, window=2)
    assert not p.update(loss=1.0, bc=5.0)
    assert not p.update(loss=1.0, bc=5.0)
    assert p.update(loss=1.005, bc=5.0)               # 3 values, 0.5% apart
    assert "changed < 0.01 over the last 2 checks" in p.reason and p.reason.startswith("converged: ")
    assert not p.update(loss=1.0, bc=4.0)             # one residual moved by 20%: not settled
    p.reset()
    assert not p.update(loss=1.0) and not p.converged


def test_plateau_on_a_falling_series_oscillation_nan_atol_and_off():
    falling = Plateau(rtol=0.1, window=1)
    assert not any(falling.update(loss=v) for v in (1.0, 0.5, 0.25, 0.125))
    shaky = Plateau(rtol=1e-3, window=2)             # max - min, not first - last
    assert not any(shaky.update(loss=v) for v in (1.0, 2.0, 1.0, 2.0, 1.0))
    bad = Plateau(rtol=1.0, window=1)
    assert not any(bad.update(loss=v) for v in (math.nan, math.nan, math.nan))
    tiny = Plateau(rtol=1e-6, window=1, atol=1e-9)    # at rounding level: settled by atol
    tiny.update(viol=3e-10)
    assert tiny.update(viol=-4e-10)
    off = Plateau(rtol=0.0, window=1)
    assert not any(off.update(loss=1.0) for _ in range(5))
    with pytest.raises(ValueError):
        Plateau(rtol=-1.0)


def test_stop_reason_wording():
    p = Plateau(1e-3, 1)
    assert stop_reason(p, time_limit=False) == "budget"
    p.update(loss=1.0)
    p.update(loss=1.0)
    assert stop_reason(p, time_limit=False) == p.reason
    assert stop_reason(p, time_limit=True) == "time_limit"
    assert stop_reason("converged: tolerance", False) == "converged: tolerance"
    assert stop_reason(None, False) == "budget"


# --- pinn -------------------------------------------------------------------------------------

TINY_NET = dict(points=64, boundary_points=2, width=8, depth=2, seed=0)


def test_pinn_default_adam_budget_stops_on_the_held_out_plateau():
    # a learning rate that moves nothing: the held-out loss and residual plateau at once, so the
    # default Adam budget (at most 2000) ends after the second check (200 steps)
    r = example("poisson1d").solve("pinn", lr=1e-12, lbfgs=0, **TINY_NET)
    st = r.stats
    assert st["epochs"] == 200 and st["lbfgs_iterations"] == 0
    assert st["stop_reason"] == "converged: loss and residuals changed < 0.25 over the last check"


def test_pinn_default_lbfgs_budget_ends_converged_and_the_answer_is_still_right():
    r = example("poisson1d").solve("pinn", epochs=300, **TINY_NET)
    st = r.stats
    assert st["epochs"] == 300                                  # an explicit count: run in full
    assert 0 < st["lbfgs_iterations"] < 1000                    # default L-BFGS: ended early
    assert st["stop_reason"].startswith("converged: ")
    xs = np.linspace(0, 1, 201)
    err = np.linalg.norm(r.fields["u"](x=xs) - np.sin(np.pi * xs)) / np.linalg.norm(np.sin(np.pi * xs))
    assert r.status == "feasible" and err < 1e-2


def test_pinn_explicit_counts_are_caps_and_say_budget():
    r = example("poisson1d").solve("pinn", epochs=40, lbfgs=7, stall=0, **TINY_NET)
    st = r.stats
    # (L-BFGS ends on its evaluations, 1.25 per budgeted iteration, at or before 7 iterations)
    assert st["epochs"] == 40 and 0 < st["lbfgs_iterations"] <= 7 and st["stop_reason"] == "budget"
    r = example("poisson1d").solve("pinn", epochs=10 ** 6, lbfgs=0, time_limit=0.3, **TINY_NET)
    assert r.stats["stop_reason"] == "time_limit" and r.stats["epochs"] < 10 ** 6


# --- lagrangian gda ---------------------------------------------------------------------------

QP = "var x\nvar y\nminimize f: (x-1)^2 + (y-2)^2\nsubject to c: x + y == 1\n"


def test_gda_default_budget_reports_convergence_by_tolerance():
    r = lagdsl.parse(QP).solve("lagrangian", method="gda")
    assert r.status == "optimal" and abs(r.objective - 2.0) < 1e-5
    assert r.stats["stop_reason"] == "converged: violation <= tol and KKT stationarity <= stationarity_tol"


def test_gda_default_budget_ends_on_a_plateau_short_of_unreachable_tolerances():
    # tolerances no float64 run meets: the iterates settle, and the default budget ends there
    # (limit, the reason in a note) instead of running 20000 steps
    r = lagdsl.parse(QP).solve("lagrangian", method="gda", tol=1e-300, stationarity_tol=1e-300)
    st = r.stats
    assert r.status == "limit" and st["inner_iterations"] < 20000
    assert st["stop_reason"].startswith("converged: objective, violation and multipliers changed < 1e-07")
    assert abs(r.objective - 2.0) < 1e-6 and any(st["stop_reason"] in n for n in st["notes"])
    capped = lagdsl.parse(QP).solve("lagrangian", method="gda", tol=1e-300, stationarity_tol=1e-300,
                                    max_iter=500)
    assert capped.stats["inner_iterations"] == 500 and capped.stats["stop_reason"] == "budget"


# --- qubo multiplier loops --------------------------------------------------------------------

@pytest.mark.parametrize("method", ["augmented-lagrangian", "dual-ascent"])
def test_qubo_default_rounds_end_on_a_plateau_with_the_optimum(method):
    r = example("mknap1", "pet2").solve("qubo", method=method, sampler="exact", seed=0)
    st = r.stats
    assert r.objective == 87061.0                              # the known optimum (REFERENCES.md)
    assert st["iterations"] < 20
    assert st["stop_reason"] == ("converged: best feasible objective and dual bound changed < 0.001 "
                                 "over the last 3 checks")


def test_qubo_explicit_max_iter_is_a_cap_and_other_reasons():
    r = example("mknap1", "pet2").solve("qubo", method="dual-ascent", sampler="exact", seed=0, max_iter=3)
    assert r.stats["iterations"] == 3 and r.stats["stop_reason"] == "budget"
    r = example("mknap1", "mknap1").solve("qubo", method="cutting-plane", sampler="exact", seed=0)
    assert r.stats["stop_reason"] == "converged: the multipliers did not move for two iterations"
    r = example("mis_petersen", "mis_petersen").solve("qubo", sampler="exact", seed=0)
    assert r.stats["stop_reason"] == "converged: the dual bound proves the incumbent optimal"
    r = example("mis_petersen", "mis_petersen").solve("qubo", method="penalty", sampler="exact", seed=0)
    assert r.stats["stop_reason"] == "budget"


# --- QAOA angle training ----------------------------------------------------------------------

def test_interp_keeps_a_schedule_and_the_ramp_is_annealing_shaped():
    from lagdsl.backends.qubo.qaoa import interpolate, ramp
    a = ramp(1)
    assert np.allclose(interpolate(a), [a[0], a[0], a[1], a[1]])     # constant stays constant
    two = np.array([0.6, 0.2, 0.1, 0.5])                               # betas fall, gammas rise
    three = interpolate(two)
    assert np.allclose(three, [0.6, 0.4, 0.2, 0.1, 0.3, 0.5])
    r = ramp(3)
    assert np.all(np.diff(r[:3]) < 0) and np.all(np.diff(r[3:]) > 0)


def test_qaoa_schedule_start_reaches_the_optimum_with_one_start():
    from lagdsl.backends.qubo import qaoa
    r = example("mis_petersen", "mis_petersen").solve("qubo", sampler="qaoa", reps=3, seed=0, repair=False)
    st = r.stats
    assert r.objective == 4.0 and st["reps"] == 3
    # one start (restarts=1): depth 1 from the ramp, 2 and 3 interpolated, each training
    # ended by its plateau or train_iter; far below 2 starts x 60 iterations
    assert st["circuit_evaluations"] < 3 * 60
    # the trained depth-3 state is far better than the ramp it would otherwise start from
    s = lagdsl.load(os.path.join(EX, "mis_petersen.lag"), data=os.path.join(EX, "mis_petersen.json")).compile(
        "qubo", sampler="qaoa", reps=3, seed=0)
    s.solve()
    sam = s.sampler
    E = qaoa.all_energies(sam.qubo) / sam.scale
    trained = np.abs(qaoa.fast_state(E, sam.angles[:3], sam.angles[3:], sam.qubo.n)) ** 2 @ E
    start = qaoa.ramp(3)
    ramped = np.abs(qaoa.fast_state(E, start[:3], start[3:], sam.qubo.n)) ** 2 @ E
    assert trained < ramped


@pytest.mark.parametrize("name,data", [("mis_petersen", "mis_grid4x4"), ("tsp4_qubo", "tsp4_qubo"),
                                       ("maxcut", "maxcut"), ("mknap1", "mknap1")])
def test_fast_path_depth_without_qiskit_equals_qiskits_transpiled_depth(name, data):
    from lagdsl.backends.qubo import qaoa
    prog = example(name, data).compile("qubo", sampler="qaoa")
    low = prog.low
    q = low.objective + low.exact.scaled(prog.strength) + low.squared(np.full(low.G.shape[0], 3.0))
    for reps in (1, 2, 3):
        circ, _, _ = qaoa.build_circuit(q, reps, q.scale())
        assert qaoa.ansatz_depth(q, reps) == qaoa.circuit_depth(circ)
