"""The pinn backend's regions: faces given by any affine equality (``x == t``, ``x + t == 1``)
or one of degree 2 in a coordinate (a circle), with their true measures."""
import numpy as np
import pytest
import torch

import lagdsl
from lagdsl.backends.pinn import BACKEND
from lagdsl.backends.pinn.lower import TorchEvaluator
from lagdsl.backends.pinn.sampling import RegionSampler
from lagdsl.lower.evaluate import Evaluator

SQUARE = "x in [0, 1], t in [0, 1]"


def sampler(where: str, box: str = SQUARE) -> RegionSampler:
    """The sampler of ``D where <where>`` on the box ``box``."""
    coords = [part.split(" in ")[0].strip() for part in box.split("],")]
    m = lagdsl.parse("domain D: %s\nfield u(%s)\nsubject to a on D where %s: u == 0\n"
                     % (box, ", ".join(coords), where))
    return RegionSampler(m.ir.domains["D"], m.ir.constraints["a"].region, Evaluator(m.ir))


def measure(s: RegionSampler) -> float:
    return sum(p.measure for p in s.pieces)


# --- faces that are not COORD == VALUE --------------------------------------------------------

def test_diagonal_face_points_lie_on_the_diagonal_spread_inside_the_box():
    s = sampler("x == t")
    pts = s.sample(512, np.random.default_rng(0))
    assert len(pts["x"]) == 512 and s.dim == 1
    assert np.all(pts["x"] == pts["t"])
    assert pts["t"].min() >= 0 and pts["t"].max() <= 1
    assert np.all(np.histogram(pts["t"], bins=8, range=(0, 1))[0] == 64)    # Sobol: balanced
    assert abs(measure(s) - np.sqrt(2)) < 1e-12


@pytest.mark.parametrize("where, box, length, on", [
    ("x + t == 1", SQUARE, np.sqrt(2), lambda x, t: x + t - 1),            # the anti-diagonal
    ("x == 2 * t", SQUARE, np.sqrt(1.25), lambda x, t: x - 2 * t),         # t = x / 2: all inside
    ("x == 2 * t", "x in [0, 100], t in [0, 1]", np.sqrt(5), lambda x, t: x - 2 * t),
    ("x - t == 0.5", SQUARE, np.sqrt(2) / 2, lambda x, t: x - t - 0.5),    # half leaves the box
])
def test_affine_faces_have_their_length_and_keep_points_inside(where, box, length, on):
    s = sampler(where, box)
    assert abs(measure(s) - length) < 1e-2 * length
    pts = s.sample(300, np.random.default_rng(1))
    assert np.allclose(on(pts["x"], pts["t"]), 0, atol=1e-12)
    hi = 100 if "100" in box else 1
    assert pts["x"].min() >= 0 and pts["x"].max() <= hi and pts["t"].min() >= 0 and pts["t"].max() <= 1


def test_affine_face_is_solved_for_the_coordinate_that_keeps_the_most_points():
    # x = 2 t over t in [0, 1] stays inside x in [0, 100]; t = x / 2 would keep 2% of x's draws
    [piece] = sampler("x == 2 * t", "x in [0, 100], t in [0, 1]").pieces
    assert piece.surface.coord == "x" and piece.free == ["t"] and piece.rate == 1.0
    [piece] = sampler("x == 2 * t").pieces
    assert piece.surface.coord == "t" and piece.rate == 1.0


def test_pieces_of_a_region_are_weighted_by_their_true_measure():
    pts = sampler("x == 0 or x == t").sample(2000, np.random.default_rng(2))
    left = (pts["x"] == 0) & (pts["t"] > 0)
    assert np.all(left | (pts["x"] == pts["t"]))
    assert abs(left.mean() - 1 / (1 + np.sqrt(2))) < 0.01      # lengths 1 and sqrt(2)


def test_circle_is_four_arcs_sampled_uniformly_with_its_circumference():
    s = sampler("(x - 0.5)^2 + (t - 0.5)^2 == 0.0625")
    assert sorted((p.surface.coord, p.surface.branch) for p in s.pieces) == [
        ("t", -1), ("t", 1), ("x", -1), ("x", 1)]
    assert abs(measure(s) - 2 * np.pi * 0.25) < 1e-3
    pts = s.sample(4000, np.random.default_rng(3))
    r = np.hypot(pts["x"] - 0.5, pts["t"] - 0.5)
    assert np.allclose(r, 0.25, atol=1e-12)
    counts = np.histogram(np.arctan2(pts["t"] - 0.5, pts["x"] - 0.5), bins=16, range=(-np.pi, np.pi))[0]
    assert counts.min() > 0.85 * counts.mean() and counts.max() < 1.15 * counts.mean()


def test_circle_cut_by_the_box_and_a_filter():
    s = sampler("x^2 + t^2 == 0.25 and t <= x")                   # an eighth of the circle
    assert abs(measure(s) - 2 * np.pi * 0.5 / 8) < 2e-3
    pts = s.sample(500, np.random.default_rng(4))
    assert np.allclose(np.hypot(pts["x"], pts["t"]), 0.5) and np.all(pts["t"] <= pts["x"])


def test_graph_of_a_function_has_its_arc_length():
    s = sampler("t == sin(pi * x)")
    xs = np.linspace(0, 1, 200001)
    length = np.trapezoid(np.sqrt(1 + (np.pi * np.cos(np.pi * xs)) ** 2), xs)
    assert abs(measure(s) - length) < 1e-2 * length
    pts = s.sample(400, np.random.default_rng(5))
    assert np.allclose(pts["t"], np.sin(np.pi * pts["x"]), atol=1e-12)


@pytest.mark.parametrize("where, reason", [
    ("x^3 + t^3 == 1", "constraint a: cannot sample the face t^3 + x^3 == 1: an equality must be affine in "
     "the coordinates (x == t, x + 2 * t == 1) or of degree at most 2 in one of them "
     "(x^2 + y^2 == 0.25, t == sin(pi * x))"),
    ("x == t and x == 1 - t", "constraint a: cannot sample x == t and x == 1 - t: one equality besides "
     "COORD == VALUE may hold at once"),
    ("x + t == 3", "constraint a: no point of D satisfies t + x == 3"),
])
def test_faces_that_cannot_be_sampled_are_refused_at_the_constraint(where, reason):
    m = lagdsl.parse("domain D: %s\nfield u(x, t)\nsubject to a on D where %s: u == 0\n" % (SQUARE, where),
                     path="m.lag")
    [r] = BACKEND.accepts(m.ir)
    assert r.reason == reason and str(r.span) == "m.lag:3:12"


def test_term_residual_on_a_diagonal_face_is_the_field_there():
    m = lagdsl.parse("domain D: %s\nfield u(x, t)\nsubject to diag on D where x + t == 1: u == x\n" % SQUARE)
    prog = BACKEND.compile(m.ir, {"width": 4, "depth": 1, "boundary_points": 64})
    ev = TorchEvaluator(m.ir, prog.nets, prog.params)
    [term] = prog.terms
    b = term.batch(ev, np.random.default_rng(0))
    x, t = (b.coords[c].detach() for c in ("x", "t"))
    assert b.n == 64 and torch.allclose(x + t, torch.ones(64, dtype=torch.float64))
    want = prog.nets["u"](torch.stack([x, t], 1)) - x
    assert torch.allclose(term.residual(ev, b).detach(), want.detach(), rtol=0, atol=1e-15)
