"""The pinn backend's regions: faces given by any affine equality (``x == t``, ``x + t == 1``)
or one of degree 2 in a coordinate (a circle), with their true measures; and indexed
constraints on a region (``bc[k in K] on D where x == a[k]: u == g[k]``), one region and one
set of points per row, one term per family."""
import numpy as np
import pytest
import torch

import lagdsl
from lagdsl.backends.pinn import BACKEND
from lagdsl.backends.pinn.lower import TorchEvaluator
from lagdsl.backends.pinn.sampling import RegionSampler
from lagdsl.errors import BackendRefusal, LagDataError
from lagdsl.limits import SizeLimitError
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


# --- indexed constraints on a region -----------------------------------------------------------

FACES = """set K = 1..3
param a[K] = [0, 0.25, 1]
param g[K] = [1, 2, 3]
domain D: x in [0, 1], t in [0, 1]
field u(x, t)
subject to bc[k in K] on D where %s: u == g[k] * %s
"""


def family(where: str, factor: str = "1", **opts):
    """The program of FACES, its only term, an evaluator and a batch of it."""
    m = lagdsl.parse(FACES % (where, factor), path="m.lag")
    prog = BACKEND.compile(m.ir, {"width": 4, "depth": 1, "boundary_points": 16, **opts})
    ev = TorchEvaluator(m.ir, prog.nets, prog.params)
    [term] = prog.terms
    return prog, term, ev, term.batch(ev, np.random.default_rng(0))


def field_at(prog, b):
    X = torch.stack([b.coords["x"], b.coords["t"]], 1).detach()
    return prog.nets["u"](X).detach()


def test_each_row_of_an_indexed_face_family_gets_its_face_and_its_residual():
    prog, term, ev, b = family("x == a[k]")
    k = b.rows.cols[next(iter(b.rows.cols))]
    assert b.n == 48 and np.array_equal(np.bincount(k), [0, 16, 16, 16])   # 16 points per row
    a, g = np.array([0, 0.25, 1]), np.array([1.0, 2.0, 3.0])
    assert np.array_equal(b.coords["x"].detach().numpy(), a[k - 1])
    r = term.residual(ev, b).detach()
    assert torch.allclose(r, field_at(prog, b) - torch.as_tensor(g[k - 1]), rtol=0, atol=1e-15)
    assert len(term.sampler.samplers) == 3 and term.points == 16


def test_a_family_on_a_region_without_its_index_shares_one_sampler_and_its_points():
    prog, term, ev, b = family("x == 0", "t")
    k = b.rows.cols[next(iter(b.rows.cols))]
    assert len(term.sampler.samplers) == 1
    t = b.coords["t"].detach().numpy().reshape(3, 16)
    assert np.all(t == t[0]) and np.all(b.coords["x"].detach().numpy() == 0)
    r = term.residual(ev, b).detach()
    want = field_at(prog, b) - torch.as_tensor(np.array([1.0, 2.0, 3.0])[k - 1]) * b.coords["t"].detach()
    assert torch.allclose(r, want, rtol=0, atol=1e-15)


def test_an_indexed_family_of_diagonals():
    prog, term, ev, b = family("x + t == 0.5 + a[k]")
    k = b.rows.cols[next(iter(b.rows.cols))]
    x, t = b.coords["x"].detach().numpy(), b.coords["t"].detach().numpy()
    assert np.allclose(x + t, 0.5 + np.array([0, 0.25, 1])[k - 1], atol=1e-12)
    assert np.all(np.bincount(k) == [0, 16, 16, 16])
    lengths = [sum(p.measure for p in s.pieces) for s in term.sampler.samplers]
    assert np.allclose(lengths, np.sqrt(2) * np.array([0.5, 0.75, 0.5]), rtol=1e-2)


def test_indexed_boundary_family_trains_to_every_row():
    """-u'' = 0 with u(a[k]) = g[k] at both ends: u = 1 + 2 x."""
    m = lagdsl.parse("set K = 1..2\nparam a[K] = [0, 1]\nparam g[K] = [1, 3]\n"
                     "domain D: x in [0, 1]\nfield u(x)\n"
                     "subject to pde on D: d(u, x, x) == 0\n"
                     "subject to ends[k in K] on D where x == a[k]: u == g[k]\n")
    r = m.solve("pinn", epochs=150, lbfgs=100, points=64, width=8, depth=2, seed=0)
    u = r.fields["u"]
    assert abs(float(u(x=0.0)) - 1) < 1e-2 and abs(float(u(x=1.0)) - 3) < 1e-2
    assert r.stats["residuals"]["ends"]["points"] == 2         # an end of an interval: 1 point per row
    assert set(r.stats["multipliers"]) == {"ends"}             # one term, one multiplier


def test_errors_in_a_family_name_the_row_and_point_at_the_constraint():
    m = lagdsl.parse(FACES % ("x == 4 * a[k]", "1"), path="m.lag")
    [r] = BACKEND.accepts(m.ir)
    assert r.reason == "constraint bc: x == 4 lies outside D, where x is in [0, 1] (at k=3)"
    assert str(r.span) == "m.lag:6:12"
    m = lagdsl.parse(FACES % ("x == a[k + 1]", "1"), path="m.lag")
    with pytest.raises(LagDataError) as info:
        BACKEND.accepts(m.ir)
    assert info.value.message == "subscript [4] of a is outside its index set K (at k=3)"
    assert str(info.value.span) == "m.lag:6:39"
    m = lagdsl.parse(FACES % ("x == 0 and k > 1", "1"), path="m.lag")
    [r] = BACKEND.accepts(m.ir)
    assert r.reason == "constraint bc: no point of D satisfies x == 0 and k > 1 (at k=1)"


def test_a_huge_family_on_a_region_is_a_size_error_before_any_point_is_drawn():
    m = lagdsl.parse("set K = 1..100000\ndomain D: x in [0, 1], t in [0, 1]\nfield u(x, t)\n"
                     "subject to bc[k in K] on D where x == 0: u == k\n", path="m.lag")
    with pytest.raises(SizeLimitError) as info:
        m.solve("pinn")
    assert info.value.message == ("the points of constraint bc (100000 rows x 200 points) would have "
                                  "20000000 (2.0e+07) elements, more than the limit of 10000000 (1.0e+07)")
    assert str(info.value.span) == "m.lag:4:12" and "boundary_points=" in info.value.hint


def test_indexed_regions_are_accepted_where_they_were_refused():
    m = lagdsl.parse(FACES % ("x == a[k]", "1"))
    assert BACKEND.accepts(m.ir) == []
    with pytest.raises(BackendRefusal, match="no point of D satisfies"):
        lagdsl.parse(FACES % ("x == a[k] and t < -1", "1")).solve("pinn")


@pytest.mark.parametrize("family", [
    "subject to obs[k in K : k > 5]: u(a[k]) == 0",
    "subject to bc[k in K : k > 5] on D where x == a[k]: u == 0",
    "subject to bc[k in K : k > 5] on D where x == 0: u == k",
])
def test_a_family_whose_condition_keeps_no_row_asks_nothing(family):
    head = "set K = 1..3\nparam a[K] = [0, 0.5, 1]\ndomain D: x in [0, 1]\nfield u(x)\n"
    r = lagdsl.parse(head + "subject to pde on D: d(u, x, x) == 0\n" + family + "\n").solve(
        "pinn", epochs=3, lbfgs=0, points=8)
    assert set(r.stats["residuals"]) == {"pde"}
    r = lagdsl.parse(head + family + "\n").solve("pinn", epochs=3, lbfgs=0, points=8)
    assert r.status == "feasible" and r.stats["residuals"] == {} and r.stats["epochs"] == 0
