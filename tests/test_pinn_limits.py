"""The pinn backend's options against the size limit, unnormalisable domains, and
``time_limit`` (issue 17, classes 4 and 5): every allocation an option drives is refused
before it happens, naming the option; a time limit stops training promptly with ``limit``."""
import os
import time

import numpy as np
import pytest

import lagdsl
from lagdsl.errors import BackendRefusal
from lagdsl.limits import SizeLimitError, limited

EX = os.path.join(os.path.dirname(__file__), "..", "examples")
TINY = {"epochs": 2, "lbfgs": 0, "points": 16, "boundary_points": 4}


def example(name):
    return lagdsl.load(os.path.join(EX, name + ".lag"))


@pytest.mark.parametrize("opts, named", [
    ({"width": 10 ** 9}, "option width=1000000000, depth=3: the networks of field u"),
    ({"width": 1000, "depth": 1000}, "option width=1000, depth=1000:"),
    ({"fourier": 10 ** 9}, "fourier=1000000000: the networks"),
    ({"harmonics": 10 ** 13}, "harmonics=10000000000000: the networks"),
    ({"periodic": "x", "harmonics": 10 ** 8}, "harmonics=100000000: the networks"),
    ({"grid": 10 ** 8}, "option grid=100000000: the grids of field u would have 100000000"),
    ({"points": 10 ** 6, "width": 100}, "option points=1000000, boundary_points=4, width=100, depth=3: one pass"),
])
def test_option_sizes_are_refused_before_allocating(opts, named):
    # (built first, each of these would raise MemoryError or take the machine's memory)
    with limited(10 ** 7), pytest.raises(SizeLimitError) as info:
        example("poisson1d").solve("pinn", **dict(TINY, **opts))
    assert named in info.value.message


def test_integral_points_are_counted_where_a_model_integrates():
    with limited(10 ** 7), pytest.raises(SizeLimitError, match="option integral_points=1000000000, width=32"):
        example("ritz1d").solve("pinn", **dict(TINY, integral_points=10 ** 9))
    # without an integral the option allocates nothing
    r = example("poisson1d").solve("pinn", **dict(TINY, integral_points=10 ** 9))
    assert r.status in ("feasible", "limit")


def test_the_limit_in_force_decides():
    # width 600, depth 3: about 0.75 M weights, 1.6e8 values with Adam's and L-BFGS's state
    opts = dict(TINY, width=600, lbfgs=1)
    with limited(10 ** 6), pytest.raises(SizeLimitError, match="more than the limit of 32000000"):
        example("poisson1d").solve("pinn", **opts)
    with limited(10 ** 7):
        assert example("poisson1d").solve("pinn", **opts).status in ("feasible", "limit")


def test_threads_are_capped_and_every_valid_seed_works():
    with pytest.raises(BackendRefusal, match=r"option threads=100000: expected an integer in \[1, 256\]"):
        example("poisson1d").solve("pinn", threads=100000, **TINY)
    a = example("poisson1d").solve("pinn", seed=2 ** 32 - 1, **TINY)     # the largest seed
    b = example("poisson1d").solve("pinn", seed=2 ** 32 - 1, **TINY)
    xs = np.linspace(0, 1, 5)
    assert np.array_equal(a.fields["u"](xs), b.fields["u"](xs))
    with pytest.raises(BackendRefusal, match=r"option seed=10+: expected an integer in \[0, 4294967295\]"):
        example("poisson1d").solve("pinn", seed=10 ** 30, **TINY)


@pytest.mark.parametrize("box, why", [
    ("[-1e308, 1e308]", "has width inf, which float64 cannot map to [-1, 1]"),
    ("[0, 1e-310]", "has width 1e-310, which float64 cannot map to [-1, 1]"),
])
def test_a_domain_float64_cannot_normalise_is_refused_at_its_declaration(box, why):
    m = lagdsl.parse("domain D: x in %s\nfield u(x)\nsubject to pde on D: d(u, x, x) == 0\n"
                     "subject to ends on boundary(D): u == 0\n" % box, path="m.lag")
    with pytest.raises(BackendRefusal) as info:
        m.solve("pinn", **TINY)
    assert why in info.value.message and (info.value.span.line, info.value.span.col) == (1, 8)


def test_a_box_whose_measure_overflows_is_refused():
    m = lagdsl.parse("domain D: x in [0, 1e200], y in [0, 1e200]\nfield u(x, y)\n"
                     "subject to pde on D: d(u, x, x) + d(u, y, y) == 0\n", path="m.lag")
    with pytest.raises(BackendRefusal, match="the measure of its box .* overflows"):
        m.solve("pinn", **TINY)


def test_time_limit_stops_lbfgs_promptly_with_the_best_weights():
    m = example("heat")
    t = time.perf_counter()
    r = m.solve("pinn", epochs=0, lbfgs=10 ** 6, stall=0, points=64, boundary_points=16, time_limit=0.5)
    took = time.perf_counter() - t
    assert r.status == "limit" and r.stats["time_limit_reached"]
    assert r.stats["lbfgs_stops"][-1].endswith(": time")
    assert "training stopped at the time limit of 0.5 s" in r.stats["notes"]
    assert r.times["train"] < 1.5 and took < 10     # measured 0.51 s of training (2 busy cores)
    assert np.isfinite(r.stats["final_loss"]) and r.max_violation is not None


def test_time_limit_is_limit_even_when_the_residuals_are_met():
    r = example("poisson1d").solve("pinn", epochs=10 ** 6, lbfgs=0, points=16, boundary_points=2,
                                   time_limit=0.3, tol=1e6)
    assert r.status == "limit" and r.stats["time_limit_reached"]
    r = example("poisson1d").solve("pinn", epochs=3, lbfgs=0, points=16, boundary_points=2, tol=1e6)
    assert r.status == "feasible" and not r.stats["time_limit_reached"]
