"""Passes on flat instances: apply, check the rewritten form, solve, invert."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lagdsl.ir.builder import ModelBuilder
from lagdsl.lower.instance import lower_instance, max_violation
from lagdsl.passes.base import Chain, PassError, Solution
from lagdsl.passes.binary_product2linear import LINK_BLOCK, BinaryProduct2Linear
from lagdsl.passes.integer2binary import BoundedInteger2Binary, bit_weights
from lagdsl.passes.quad2form import NonConvexQuadratic, Quadratic2QuadForm

cvxpy_backend = pytest.importorskip("lagdsl.backends.cvxpy")


def integer_model(lower=(0, 1), upper=(5, 6)):
    """max 3 k1 + 2 k2 s.t. k1 + k2 <= 7.5, k1 - k2 <= 2.5, 0 <= k1 <= 5, 1 <= k2 <= 6."""
    b = ModelBuilder("ints")
    K = b.set("K", [1, 2])
    k = b.var("k", [K], "integer", lower=np.array(lower, float), upper=np.array(upper, float))
    b.maximize("f", 3 * k[1] + 2 * k[2] + 1)
    b.subject_to("sum", k[1] + k[2] <= 7.5)
    b.subject_to("gap", k[1] - k[2] <= 2.5)
    return b.build()


def solve_instance(model, inst, opts=None):
    """Solve an instance through the cvxpy backend's polynomial lowering (HiGHS)."""
    opts = cvxpy_backend.coerce_options(cvxpy_backend.BACKEND, opts)
    low = cvxpy_backend.lower_polynomial(model, inst, opts)
    with cvxpy_backend.quiet_stdout(False):
        low.problem.solve(solver="HIGHS")
    x = Chain.invert(Solution(np.asarray(low.x.value).reshape(-1)), low.inverse).x
    return low.problem.value, x


def test_bit_weights_reach_exactly_the_range():
    for r in range(0, 40):
        parent, w = bit_weights(np.array([r]))
        assert len(w) == (r.bit_length() if r else 0) and w.sum() == r
        reach = {int(sum(c for c, bit in zip(w, bits) if bit)) for bits in itertools.product([0, 1], repeat=len(w))}
        assert reach == set(range(r + 1))


def test_integer_to_binary_round_trip():
    m = integer_model()
    inst = lower_instance(m)
    p = BoundedInteger2Binary()
    assert p.accepts(inst)
    new, enc = p.apply(inst)
    assert set(new.vtype) == {"B"} and new.N == 3 + 3          # ranges 5 and 5: 3 bits each
    # every bit pattern maps back to an integer point inside the bounds
    for bits in itertools.product([0, 1], repeat=new.N):
        x = p.invert(Solution(np.array(bits, float)), enc).x
        assert np.all(x >= inst.lb) and np.all(x <= inst.ub) and np.all(x == np.round(x))
    direct_val, direct_x = solve_instance(m, inst)
    bin_val, y = solve_instance(m, new)
    back = p.invert(Solution(y), enc).x
    assert bin_val == pytest.approx(direct_val) and direct_val == pytest.approx(3 * 4 + 2 * 3 + 1)
    assert back == pytest.approx(direct_x)
    assert max_violation(inst, back) == 0


def test_integer_to_binary_refuses_unbounded():
    m = integer_model(upper=(np.inf, 6))
    inst = lower_instance(m)
    p = BoundedInteger2Binary()
    assert not p.accepts(inst)
    with pytest.raises(PassError, match=r"k\[1\] has no finite bounds"):
        p.apply(inst)
    with pytest.raises(PassError):
        Chain([p]).apply(inst)


def test_binary_products_become_linear():
    b = ModelBuilder("bq")
    I = b.set("I", range(3))
    x = b.var("x", [I], "binary")
    b.maximize("f", x[0] * x[1] + x[1] * x[0] + x[2] ** 2 - 3 * x[0] * x[2])
    m = b.build()
    inst = lower_instance(m)
    new, data = BinaryProduct2Linear().apply(inst)
    assert new.degree == 1
    assert new.N == 3 + 2                            # pairs (0, 1) and (0, 2), each once
    link = [blk for blk in new.blocks if blk.name == LINK_BLOCK][0]
    assert link.n == 3 * 2
    # at every binary point z = x_i x_j satisfies the links and the objectives agree
    for bits in itertools.product([0, 1], repeat=3):
        xb = np.array(bits, float)
        z = np.array([xb[0] * xb[1], xb[0] * xb[2]])
        full = np.concatenate([xb, z])
        assert max_violation(new, full) == 0
        assert new.objective.evaluate(full)[0] == pytest.approx(inst.objective.evaluate(xb)[0])
    sol = BinaryProduct2Linear().invert(Solution(np.arange(5.0), {LINK_BLOCK: np.zeros(6)}), data)
    assert list(sol.x) == [0, 1, 2] and sol.duals == {}


def test_mixed_products_keep_continuous_terms():
    b = ModelBuilder("mixed")
    y = b.var("y", domain="binary")
    t = b.var("t", lower=0, upper=2)
    b.minimize("f", y * t + t ** 2 + 2 * y ** 2)
    m = b.build()
    inst = lower_instance(m)
    new, _ = BinaryProduct2Linear().apply(inst)
    q = new.objective.quad
    assert new.N == 2 and sorted(zip(q.i.tolist(), q.j.tolist())) in ([(0, 1), (1, 1)], [(1, 0), (1, 1)])
    assert new.objective.lin.toarray()[0].tolist() == [2, 0]       # 2 y^2 -> 2 y
    # the original form is convex ([[2, .5], [.5, 1]]); the backend keeps it as a MIQP
    qi, _ = Quadratic2QuadForm().apply(inst)
    assert qi.objective.support.tolist() == [0, 1] and qi.objective.eig[0] > 0
    res = cvxpy_backend.BACKEND.compile(m).solve()
    assert res.status == "optimal" and res.objective == pytest.approx(0)
    assert res.stats["solver"] == "SCIP" and res.stats["passes"] == ["quad2form"]


def test_quad2form_factor_matches_form_and_hs35():
    b = ModelBuilder("rows")
    I = b.set("I", range(4))
    x = b.var("x", [I])
    i = b.index("i")
    b.minimize("f", b.sum([(i, I)], x[i] ** 2) + x[0] * x[1])
    b.subject_to("q", x[i] ** 2 + x[i] * x[(i + 1) % 4] + 2 * x[(i + 1) % 4] ** 2 <= 4, over=[(i, I)])
    b.subject_to("conc", -x[0] ** 2 - x[3] ** 2 >= -9)
    inst = lower_instance(b.build())
    qi, _ = Quadratic2QuadForm().apply(inst)
    rng = np.random.default_rng(1)
    for _ in range(5):
        xv = rng.normal(size=4)
        for blk in inst.blocks:
            f = qi.blocks[blk.name]
            quad = blk.body.evaluate(xv) - blk.body.const - (blk.body.lin @ xv if blk.body.lin is not None else 0)
            vals = np.bincount(f.factor_row, weights=(f.factor @ xv) ** 2, minlength=blk.n)
            signs = np.zeros(blk.n)
            signs[f.rows] = f.sign
            assert vals * np.where(signs == 0, 1, signs) == pytest.approx(quad)
        o = qi.objective
        assert xv[o.support] @ o.P @ xv[o.support] == pytest.approx(inst.objective.evaluate(xv)[0])


def test_quad2form_reports_eigenvalue_and_variables():
    b = ModelBuilder("nc")
    x, y = b.var("x"), b.var("y")
    b.maximize("f", x ** 2 - y ** 2)
    with pytest.raises(NonConvexQuadratic) as exc:
        Quadratic2QuadForm().apply(lower_instance(b.build()))
    msg = exc.value.message
    assert "maximize needs a concave quadratic" in msg and "eigenvalue 1 along x" in msg


def test_chain_applies_in_order_and_inverts_in_reverse():
    calls = []

    class Shift:
        def __init__(self, name, k):
            self.name, self.k = name, k

        def accepts(self, p):
            return True

        def apply(self, p):
            calls.append(self.name)
            return p + self.k, self.k

        def invert(self, sol, k):
            calls.append("inv " + self.name)
            return Solution(sol.x - k)

    chain = Chain([Shift("a", 1), Shift("b", 10)])
    p, inv = chain.apply(0)
    assert p == 11 and chain.applied == ["a", "b"]
    assert Chain.invert(Solution(np.array([11.0])), inv).x[0] == 0
    assert calls == ["a", "b", "inv b", "inv a"]


def test_binary_quadratic_model_becomes_milp_end_to_end():
    b = ModelBuilder("bqp")
    I = b.set("I", range(4))
    q = b.param("q", [I, I], np.array([[0, -3, 1, 2], [-3, 0, 2, -1], [1, 2, 0, -4], [2, -1, -4, 0]], float))
    c = b.param("c", [I], [1, 2, -1, 3])
    x = b.var("x", [I], "binary")
    i, j = b.index("i j")
    b.minimize("f", b.sum([(i, I), (j, I)], q[i, j] * x[i] * x[j]) + b.sum([(i, I)], c[i] * x[i]))
    m = b.build()
    Q = m.params["q"].values
    cv = m.params["c"].values
    best = min(np.array(s) @ Q @ np.array(s) + cv @ np.array(s) for s in itertools.product([0, 1], repeat=4))
    res = cvxpy_backend.BACKEND.compile(m).solve()
    assert res.status == "optimal" and res.objective == pytest.approx(best)
