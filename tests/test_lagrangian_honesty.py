"""The lagrangian backend's statuses are honest: ``optimal`` only at a point shown to be a
local minimum (finite value and gradient, no way down along the free unknowns), the minimum
itself where a first-order method would stop at a saddle, ``unbounded`` for an objective
that falls without bound, and models with no constraints or with ``log``/``sqrt`` at a bound
of 0 solved with the default options (issue 17, classes 2 and 3)."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

import lagdsl


def solve(text, data=None, **options):
    return lagdsl.parse(text, data=data).solve("lagrangian", **options)


# --- class 2: no `optimal` away from a minimum -------------------------------------------

def test_infinite_gradient_at_the_start_reaches_the_minimum_at_the_far_bound():
    """sqrt(x) - 2x from 0: the gradient is +inf there (the old stationarity test passed on
    inf <= tol * inf); the minimum is 10^0.5 - 20 at x = 10."""
    r = solve("var x in [0, 10] start 0\nminimize f: sqrt(x) - 2*x\n")
    assert r.status == "optimal", r.stats.get("notes")
    assert abs(r.values["x"] - 10) <= 1e-9
    assert abs(r.objective - (math.sqrt(10) - 20)) <= 1e-9


@pytest.mark.parametrize("extragradient", [False, True])
def test_a_point_held_by_a_bound_where_the_gradient_is_infinite_is_not_optimal(extragradient):
    """gda has no restart: it stops next to x = 0, where sqrt's gradient is infinite — a
    local minimum in fact, but KKT conditions do not show it: feasible, with the reason.
    (The extrapolated point lands on 0 too: it used to turn the run into nan.)"""
    r = solve("var x in [0, 10] start 0\nminimize f: sqrt(x) - 2*x\n", method="gda",
              extragradient=extragradient)
    assert r.status == "feasible"
    assert r.values["x"] <= 1e-3
    assert any("not finite at x" in n and "not shown to be a local minimum" in n
               for n in r.stats["notes"])


def test_a_pole_is_never_optimal():
    """1/x on [-1, 1] from 0 (where it is inf): the objective falls without bound towards
    0 from the left; the run ends at `limit` on the negative side, never `optimal`."""
    r = solve("var x in [-1, 1] start 0\nminimize f: 1 / x\n")
    assert r.status == "limit"
    assert r.values["x"] < 0 and r.objective < -1e6 and math.isfinite(r.objective)


@pytest.mark.parametrize("method", ["alm", "gda"])
def test_the_saddle_of_an_indefinite_quadratic_on_a_box_is_left_for_the_minimum(method):
    """-x^2 - y^2 + xy on [-1, 1]^2: (0, 0) is a maximum with zero gradient; the minimum
    is -3 at (1, -1) and (-1, 1) (eigenvector (1, -1) of the Hessian)."""
    r = solve("var x in [-1, 1]\nvar y in [-1, 1]\nminimize f: -x^2 - y^2 + x*y\n", method=method)
    assert r.status == "optimal"
    assert abs(r.objective + 3) <= 1e-9
    assert sorted([round(r.values["x"], 9), round(r.values["y"], 9)]) == [-1, 1]
    assert r.stats["escapes"] == 1


def test_a_maximisation_leaves_its_saddle_too_and_says_so():
    """x^2 + y^2 - xy maximised on [-1, 1]^2: (0, 0) is a minimum; the maximum is 3."""
    r = solve("var x in [-1, 1]\nvar y in [-1, 1]\nmaximize f: x^2 + y^2 - x*y\n")
    assert r.status == "optimal" and abs(r.objective - 3) <= 1e-9
    assert r.stats["notes"] == [
        "a stationary point with objective 0 is not a local maximum (lowest curvature -3 along "
        "the free unknowns, minimising sense; a nearby point is better); went on from there"]


def test_a_maximum_of_an_unbounded_objective_is_unbounded():
    """-x^2 from 0 (gradient 0): the probe finds the negative curvature, the run follows it
    to the existing test for an unbounded objective at a feasible point far out."""
    r = solve("var x\nminimize f: -x^2\n")
    assert r.status == "unbounded"
    assert abs(r.values["x"]) > 1e10 and r.objective < -1e20
    assert r.stats["escapes"] == 1


def test_an_inflection_is_not_a_minimum():
    """x^3 from 1: L-BFGS-B runs to x = 0 (zero gradient, zero curvature); a step either
    side shows the lower side and the run diverges there: unbounded."""
    r = solve("var x start 1\nminimize f: x^3\n")
    assert r.status == "unbounded"
    assert r.values["x"] < -1e6 and r.objective < -1e20


def test_a_flat_minimum_stays_optimal():
    """x^4 at its minimum: zero curvature too, but no step finds a lower value."""
    r = solve("var x start 1\nminimize f: x^4\n")
    assert r.status == "optimal"
    assert abs(r.values["x"]) <= 1e-2 and r.objective <= 1e-8


def test_a_saddle_of_a_constrained_model_is_left():
    """x*y on the line x + y == 2 is x(2 - x): the start (1, 1) is a KKT point and its
    maximum along the line; the minimum is -3 at the ends of the box, x in [-1, 3]."""
    r = solve("var x in [-1, 3] start 1\nvar y in [-1, 3] start 1\n"
              "minimize f: x*y\nsubject to line: x + y == 2\n")
    assert r.status == "optimal", r.stats.get("notes")
    assert abs(r.objective + 3) <= 1e-5
    assert r.max_violation <= 1e-6
    assert r.stats["escapes"] == 1


# --- class 3: models the backend failed on -----------------------------------------------

def test_rosenbrock_without_constraints_is_optimal():
    """No constraints: the inner tolerance tightens as for constrained models (it used to
    stop after the first, loose, inner solve with `limit`)."""
    r = solve("var x start -1.2\nvar y start 1\nminimize f: 100*(y - x^2)^2 + (1 - x)^2\n")
    assert r.status == "optimal", r.stats.get("notes")
    assert abs(r.values["x"] - 1) <= 1e-5 and abs(r.values["y"] - 1) <= 1e-5
    assert r.objective <= 1e-10


@pytest.mark.parametrize("n", [2, 5, 40])
def test_maximum_entropy_with_p_at_a_bound_of_zero(n):
    """-p log p at p = 0 is nan (0 * -inf) and its gradient is infinite; L-BFGS-B's first
    projected step lands there. Answer: p = 1/n, entropy log n."""
    text = ("set I\nvar p[I] in [0, 1]\nmaximize H: sum(i in I) -p[i]*log(p[i])\n"
            "subject to total: sum(i in I) p[i] == 1\n")
    r = solve(text, data={"I": list(range(1, n + 1))})
    assert r.status == "optimal", r.stats.get("notes")
    assert abs(r.objective - math.log(n)) <= 1e-6
    p = r.values["p"].array
    assert np.max(np.abs(p - 1 / n)) <= 1e-5


def test_maximum_entropy_with_a_tiny_optimal_weight():
    """An interior optimum close to the bound where log is undefined: with a cost c = (0, 20)
    the weights are Gibbs weights exp(-c_i)/Z, p2 = e^-20 / (1 + e^-20) = 2.06e-9.  The
    moved bound must shrink towards 0 to reach it."""
    r = solve("var p[1..2] in [0, 1]\nmaximize H: -p[1]*log(p[1]) - p[2]*log(p[2]) - 20*p[2]\n"
              "subject to total: p[1] + p[2] == 1\n")
    assert r.status == "optimal", r.stats.get("notes")
    p2 = math.exp(-20) / (1 + math.exp(-20))
    assert abs(r.values["p"][2] / p2 - 1) <= 1e-4
    assert abs(r.objective - math.log(1 + math.exp(-20))) <= 1e-6


def test_log_at_a_bound_of_zero():
    """log(x) - x on [0, 10]: the default start is 5; the maximum is -1 at x = 1."""
    r = solve("var x in [0, 10]\nmaximize f: log(x) - x\n")
    assert r.status == "optimal"
    assert abs(r.values["x"] - 1) <= 1e-6 and abs(r.objective + 1) <= 1e-12


@pytest.mark.parametrize("options", [{}, {"inner": "adam"}, {"method": "gda"},
                                     {"method": "gda", "extragradient": True}])
def test_x_log_x_from_its_singular_start(options):
    """x log x from x = 0 (nan there): minimum -1/e at 1/e, with every method."""
    r = solve("var x in [0, 2] start 0\nminimize f: x*log(x)\n", **options)
    assert r.status == "optimal"
    assert abs(r.values["x"] - 1 / math.e) <= 1e-6 and abs(r.objective + 1 / math.e) <= 1e-12


# --- time_limit ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["alm", "gda"])
def test_time_limit_stops_with_the_best_point_and_a_note(method):
    """A limit far below one inner solve: limit, a finite point, the note says why."""
    text = ("set I = 1..20000\nvar x[I] start 2\nminimize f: sum(i in 1..19999) "
            "(100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)\n")
    t0 = time.perf_counter()
    r = solve(text, time_limit=0.01, method=method)     # the whole solve takes ~0.2 s here
    assert time.perf_counter() - t0 < 30
    assert r.status == "limit"
    assert any("time limit reached" in n for n in r.stats["notes"])
    assert np.all(np.isfinite(r.values["x"].array))


def test_log_in_a_constraint_at_a_bound_of_zero_without_noise():
    """log(x) >= -1 with x in [0, 1]: the trial point x = 0 makes log -inf and the
    augmented Lagrangian nan; handled, so no numpy warning reaches the notes. x* = 1/e."""
    r = solve("var x in [0, 1]\nminimize f: x\nsubject to c: log(x) >= -1\n")
    assert r.status == "optimal"
    assert abs(r.values["x"] - 1 / math.e) <= 1e-6
    assert not r.stats.get("notes")


def test_log_falling_to_minus_infinity_at_a_bound_is_unbounded():
    """log(x) on [0, 1] has no minimum: -inf at the bound 0 (reached exactly)."""
    r = solve("var x in [0, 1]\nminimize f: log(x)\n")
    assert r.status == "unbounded"
    assert r.values["x"] == 0 and r.objective == -math.inf
