"""The convex atoms of lagdsl/ir/atoms.py (entr, xlogx, kl_div, rel_entr, quad_over_lin,
inv_pos, huber): values against CVXPY's atoms evaluated on numbers, derivatives against finite
differences, the boundary x = 0, DCP properties against CVXPY's, small models with known
optima on cvxpy and lagrangian, refusals and errors with their positions."""
import math

import cvxpy as cp
import numpy as np
import pytest
import torch

import lagdsl
from lagdsl.errors import BackendRefusal, LagError
from lagdsl.ir.atoms import ATOMS
from lagdsl.lower.torch_atoms import atom as torch_atom

X = np.array([0.0, 1e-300, 0.05, 0.3, 1.0, 2.5, 7.0])
Y = np.array([0.5, 0.7, 0.05, 1.0, 0.2, 3.0, 7.0])
XS = np.array([-2.0, -0.4, 0.0, 0.3, 0.8, 1.7])         # huber, quad_over_lin's x: any sign


def cvxpy_value(name, *args):
    """CVXPY's own atom on numbers (elementwise, one call per entry where CVXPY's atom
    takes a scalar second argument)."""
    if name == "xlogx":
        return -cp.entr(args[0]).value
    if name == "quad_over_lin":
        return np.array([cp.quad_over_lin(a, b).value for a, b in zip(*args)])
    if name == "huber":
        return np.array([cp.huber(a, m).value for a, m in zip(*args)])
    return getattr(cp, name)(*args).value


CASES = {
    "entr": (X,), "xlogx": (X,), "kl_div": (X, Y), "rel_entr": (X, Y),
    "quad_over_lin": (XS, np.array([0.5, 1.0, 2.0, 0.1, 3.0, 0.7])), "inv_pos": (Y,),
    "huber": (XS, np.array([1.0, 0.5, 1.0, 2.0, 0.25, 1.0])),
}


@pytest.mark.parametrize("name", sorted(ATOMS))
def test_value_equals_cvxpy_on_numpy_and_torch(name):
    args = CASES[name]
    want = cvxpy_value(name, *args)
    assert np.allclose(ATOMS[name].numpy(*args), want, rtol=1e-12, atol=1e-300)
    t = torch_atom(name, [torch.tensor(a, dtype=torch.float64) for a in args])
    assert np.allclose(t.numpy(), want, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", sorted(ATOMS))
def test_value_of_a_model_equals_cvxpy(name):
    """The whole pipeline: an objective of the atom measured at a point (NumericAlgebra) and
    the same atom of data folded by the evaluator."""
    args = CASES[name]
    n = len(args[0])
    want = cvxpy_value(name, *args)
    lines = ["set I = 1..%d" % n]
    for k, a in enumerate(args):
        lines.append("param a%d[I] = [%s]" % (k, ", ".join(repr(float(v)) for v in a)))
    lines.append("var z[I]")
    call = "%s(z[i]%s)" % (name, "".join(", a%d[i]" % k for k in range(1, len(args))))
    lines.append("param folded[i in I] = %s(%s)" % (name, ", ".join("a%d[i]" % k for k in range(len(args)))))
    lines.append("minimize f: sum(i in I) %s" % call)
    m = lagdsl.parse("\n".join(lines))
    from lagdsl.lower.numeric import objective_value
    assert math.isclose(objective_value(m.ir, args[0]), want.sum(), rel_tol=1e-12)
    assert np.allclose(m.ir.params["folded"].values, want, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ATOMS))
def test_torch_derivatives_match_finite_differences(name):
    """First and second derivatives of the torch form inside the domain, by torch's own
    central-difference checks; the numpy partials (the lagrangian tape) by the same."""
    rng = np.random.default_rng(0)
    ins = [rng.uniform(0.2, 2.0, 5) for _ in ATOMS[name].arg_domain]
    if name in ("huber", "quad_over_lin"):
        ins[0] = rng.uniform(-3.0, 3.0, 5)
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=k not in ATOMS[name].data_args)
          for k, a in enumerate(ins)]
    f = lambda *a: torch_atom(name, list(a))                               # noqa: E731
    assert torch.autograd.gradcheck(f, ts)
    assert torch.autograd.gradgradcheck(f, ts)
    h = 1e-6
    for k in range(len(ins)):
        up = [a.copy() for a in ins]
        dn = [a.copy() for a in ins]
        up[k] += h
        dn[k] -= h
        fd = (ATOMS[name].numpy(*up) - ATOMS[name].numpy(*dn)) / (2 * h)
        assert np.allclose(ATOMS[name].numpy_partials(*ins)[k], fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,sign", [("entr", 1.0), ("xlogx", -1.0), ("kl_div", -1.0), ("rel_entr", -1.0)])
def test_boundary_x_zero_value_is_zero_and_derivative_infinite(name, sign):
    """At x = 0 the value is the limit (0, or y for kl_div), never nan; the derivative in x
    is the one-sided limit, +inf for entr and -inf for the others; an adjoint of 0 gives 0."""
    y = [torch.tensor([0.5], dtype=torch.float64)] if ATOMS[name].nargs[0] == 2 else []
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    v = torch_atom(name, [x] + y)
    assert not torch.isnan(v).any()
    assert v.item() == (0.5 if name == "kl_div" else 0.0)
    (g,) = torch.autograd.grad(v.sum(), x)
    assert g.item() == sign * math.inf
    (g0,) = torch.autograd.grad((0.0 * torch_atom(name, [x] + y)).sum(), x)
    assert g0.item() == 0.0
    # the numpy forms (evaluator, lagrangian tape) agree
    yn = [np.array([0.5])] if y else []
    assert ATOMS[name].numpy(np.zeros(1), *yn)[0] == v.item()
    assert ATOMS[name].numpy_grad(0, np.ones(1), np.zeros(1), *yn)[0] == sign * math.inf
    assert ATOMS[name].numpy_grad(0, np.zeros(1), np.zeros(1), *yn)[0] == 0.0


@pytest.mark.parametrize("name", sorted(ATOMS))
def test_declared_properties_agree_with_cvxpy(name):
    """Curvature and sign as declared are CVXPY's for the atom of a variable."""
    a = ATOMS[name]
    x = cp.Variable(3, nonneg=a.arg_domain[0] is not None)
    args = [x] + ([cp.Variable(3, pos=True)] if a.nargs[1] == 2 and not a.data_args else []) \
        + ([np.ones(3)] if a.data_args else [])
    if name == "quad_over_lin":
        e = cp.quad_over_lin(cp.Variable(), cp.Variable(pos=True))
    else:
        e = a.cvxpy(cp, args)
    assert e.curvature.lower() == a.curvature
    sign = {"nonnegative": "nonnegative", "positive": "nonnegative", "unknown": "unknown"}[a.sign]
    assert e.sign.lower() == sign


# --- models with known optima ----------------------------------------------------------------

MODELS = [
    # maximum entropy over the simplex: the uniform distribution, log n
    ("set I = 1..5\nvar p[I] >= 0\nmaximize H: sum(i in I) entr(p[i])\n"
     "subject to total: sum(i in I) p[i] == 1\n", math.log(5)),
    # the I-projection of q onto {p1 >= 0.4}: p1 = 0.4, the rest proportional to q
    ("set I = 1..3\nparam q[I] = [0.2, 0.3, 0.5]\nvar p[I] >= 0\n"
     "minimize D: sum(i in I) kl_div(p[i], q[i])\n"
     "subject to total: sum(i in I) p[i] == 1\nsubject to first: p[1] >= 0.4\n",
     0.4 * math.log(2) + 0.6 * math.log(0.6 / 0.8)),
    ("set I = 1..3\nparam q[I] = [0.2, 0.3, 0.5]\nvar p[I] >= 0\n"
     "minimize D: sum(i in I) rel_entr(p[i], q[i])\n"
     "subject to total: sum(i in I) p[i] == 1\nsubject to first: p[1] >= 0.4\n",
     0.4 * math.log(2) + 0.6 * math.log(0.6 / 0.8)),
    ("var x >= 0.01\nminimize f: xlogx(x)\n", -1 / math.e),
    ("var x >= 0.01\nminimize f: inv_pos(x) + x\n", 2.0),
    # x^2 / y + y at x = 2: 4 / y + y, least at y = 2
    ("var x\nvar y >= 0.1\nminimize f: quad_over_lin(x, y) + y\nsubject to fix: x == 2\n", 4.0),
    ("var x\nminimize f: huber(x, 2)\nsubject to far: x >= 3\n", 2 * 2 * 3 - 4.0),
    ("var x\nminimize f: huber(x) + 0.5 * x\n", -0.0625),
]


@pytest.mark.parametrize("backend", ["cvxpy", "lagrangian"])
@pytest.mark.parametrize("text,optimum", MODELS, ids=[str(k) for k in range(len(MODELS))])
def test_known_optimum(text, optimum, backend):
    r = lagdsl.parse(text).solve(backend)
    assert r.status == "optimal", (r.status, r.stats.get("notes"))
    assert r.objective == pytest.approx(optimum, rel=1e-5, abs=1e-6)
    assert r.max_violation < 1e-5


@pytest.mark.parametrize("text", [MODELS[0][0], MODELS[4][0], MODELS[6][0]])
def test_highs_refuses_with_the_reason(text):
    with pytest.raises(BackendRefusal) as exc:
        lagdsl.parse(text).solve("highs")
    assert "of unknowns; HiGHS takes linear and quadratic bodies only" in exc.value.message
    assert exc.value.span is not None


def test_classes():
    assert lagdsl.parse(MODELS[0][0]).classify().kind == "convex"
    assert lagdsl.parse(MODELS[5][0]).classify().kind == "SOCP"
    # an atom in an equality row is never convex
    assert lagdsl.parse("var x >= 0\nsubject to c: entr(x) == 0.1\n").classify().kind == "NLP"


@pytest.mark.parametrize("text,message,line,col", [
    ("set I = 1..2\nparam q[I] = [0.5, 0.5]\nvar p[I] >= 0\nmaximize D: sum(i in I) kl_div(p[i], q[i])\n",
     "objective D is not DCP: `>=` / maximize needs a concave expression but "
     "`sum(i in I) (kl_div(p[i], q[i]))` is convex", 4, 10),
    ("var x >= 0\nminimize f: entr(x)\n", "objective f is not DCP", 2, 10),
    ("var x\nvar y >= 1\nminimize f: x\nsubject to c: quad_over_lin(x, y) >= 1\n",
     "constraint c is not DCP", 4, 12),
])
def test_non_dcp_uses_are_refused_by_cvxpy_with_position(text, message, line, col):
    with pytest.raises(BackendRefusal) as exc:
        lagdsl.parse(text).solve("cvxpy")
    assert message in exc.value.message, exc.value.message
    assert (exc.value.span.line, exc.value.span.col) == (line, col)


@pytest.mark.parametrize("text,message,line,col", [
    ("var x\nminimize f: entr(x, 2)\n", "entr takes 1 argument, got 2", 2, 13),
    ("var x\nminimize f: kl_div(x)\n", "kl_div takes 2 arguments, got 1", 2, 13),
    ("var x\nvar m\nminimize f: huber(x, m)\n",
     "argument 2 of huber must be data, not an expression of unknowns", 3, 22),
    ("param a = entr(-1)\n", "entr of a negative number (its domain is x >= 0)", 1, 11),
    ("param a = inv_pos(0)\n", "inv_pos needs x > 0", 1, 11),
    ("param a = kl_div(1, 0)\n", "kl_div(x, 0) with x > 0 is +inf", 1, 11),
    ("set I = 1..2\nparam y[I] = [1, -1]\nvar x[I]\nminimize f: sum(i in I) quad_over_lin(x[i], y[i])\n",
     "quad_over_lin needs y > 0 (at i=2)", 4, 25),
    ("set I = 1..2\nparam M[I] = [1, 0]\nvar x[I]\nminimize f: sum(i in I) huber(x[i], M[i])\n",
     "huber needs M > 0 (at i=2)", 4, 25),
])
def test_errors_are_positioned(text, message, line, col):
    with pytest.raises(LagError) as exc:
        lagdsl.parse(text).solve("cvxpy")
    assert message in exc.value.message, exc.value.message
    assert (exc.value.span.line, exc.value.span.col) == (line, col)


def test_ir_round_trip_keeps_the_atoms():
    from lagdsl.ir.serialize import from_json, to_json
    m = lagdsl.parse(MODELS[1][0])
    back = from_json(to_json(m.ir))
    assert str(back.objective.expr) == str(m.ir.objective.expr)
    r = lagdsl.Model.from_ir(back).solve("cvxpy")
    assert r.objective == pytest.approx(MODELS[1][1], rel=1e-6)


def test_pinn_trains_through_an_atom():
    """Atoms of a field and of a coordinate in a PDE residual train (a few steps) with
    finite, falling losses: the torch forms carry the weights' gradients."""
    text = ("domain D: x in [0, 1]\nfield u(x)\n"
            "subject to pde on interior(D): d(u, x, x) - inv_pos(1 + u ^ 2) == xlogx(1 + x) - 1\n"
            "subject to ends on boundary(D): u == 0\n")
    r = lagdsl.parse(text).solve("pinn", epochs=20, lbfgs=5, points=32, seed=0)
    assert r.status in ("feasible", "limit")
    loss = np.asarray(r.stats["history"]["loss"], dtype=float)
    assert np.all(np.isfinite(loss)) and loss[-1] < loss[0]
    assert np.all(np.isfinite(r.fields["u"](x=np.linspace(0, 1, 5))))


def test_the_docs_table_lists_every_atom_as_declared():
    import re
    from pathlib import Path
    text = (Path(__file__).parent.parent / "docs" / "language.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]   # \| is a pipe in a cell
        if line.startswith("| `") and "(" in cells[0]:
            rows[cells[0].strip("`").split("(")[0]] = cells
    for name, a in ATOMS.items():
        cells = rows[name]
        assert cells[0] == "`%s(%s)`" % (name, a.signature)
        assert cells[2] == a.curvature and cells[6] == a.cone
        assert {"nonnegative": "≥ 0", "positive": "> 0", "unknown": "any"}[a.sign] == cells[3]
