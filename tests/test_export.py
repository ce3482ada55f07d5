"""LP and MPS export: round trips through HiGHS, exact text of a tiny model, names, refusals.

The round-trip proof: for each model, write LP and MPS files, read each back with
``highspy.Highs().readModel`` and solve; the optimum must equal the one HiGHS finds when the
same flat instance is passed to it directly from the CSR arrays (:func:`reference_optimum`,
which does not use the export code).
"""
from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import scipy.sparse as sp
import sympy

highspy = pytest.importorskip("highspy")

from lagdsl.errors import BackendRefusal  # noqa: E402
from lagdsl.export import FORMATS, emit, lower_for_export, write_lp, write_mps  # noqa: E402
from lagdsl.export.names import fmt_number, fmt_numbers, legal_names, sanitize  # noqa: E402
from lagdsl.ir.builder import ModelBuilder  # noqa: E402
from lagdsl.ir.model import Region, Span  # noqa: E402
from lagdsl.lower.instance import lower_instance  # noqa: E402


# --- helpers -------------------------------------------------------------------------


def _highs():
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def reference_optimum(model) -> float:
    """Optimum of the flat instance passed to HiGHS directly (no text in between)."""
    inst = lower_instance(model)
    N = inst.N
    mats, lo, hi = [], [], []
    for blk in inst.blocks:
        mats.append(sp.csr_matrix((blk.n, N)) if blk.body.lin is None else sp.csr_matrix(blk.body.lin))
        lo.append(blk.lower - blk.body.const)
        hi.append(blk.upper - blk.body.const)
    A = sp.vstack(mats, format="csr") if mats else sp.csr_matrix((0, N))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = N, A.shape[0]
    obj = inst.objective
    cost = np.zeros(N) if obj is None or obj.lin is None else sp.csr_matrix(obj.lin).toarray().ravel()
    lp.col_cost_ = cost
    lp.offset_ = 0.0 if obj is None else float(obj.const[0])
    lb, ub = inst.lb.copy(), inst.ub.copy()
    binary = inst.vtype == "B"
    lb[binary], ub[binary] = np.maximum(lb[binary], 0), np.minimum(ub[binary], 1)
    lp.col_lower_, lp.col_upper_ = lb, ub
    lp.row_lower_ = np.concatenate(lo) if lo else np.zeros(0)
    lp.row_upper_ = np.concatenate(hi) if hi else np.zeros(0)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = N, A.shape[0]
    if inst.sense == "maximize":
        lp.sense_ = highspy.ObjSense.kMaximize
    if (inst.vtype != "C").any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if t != "C" else highspy.HighsVarType.kContinuous
                           for t in inst.vtype]
    h = _highs()
    assert h.passModel(lp) == highspy.HighsStatus.kOk
    if obj is not None and obj.quad is not None and len(obj.quad.coef):
        q = obj.quad
        M = sp.coo_matrix((q.coef, (q.i, q.j)), shape=(N, N)).tocsr()
        Q = sp.tril((M + M.T).tocsc(), format="csc")   # minimise c'x + 1/2 x'Qx
        Q.sort_indices()
        hess = highspy.HighsHessian()
        hess.dim_, hess.format_ = N, highspy.HessianFormat.kTriangular
        hess.start_, hess.index_, hess.value_ = Q.indptr, Q.indices, Q.data
        assert h.passHessian(hess) == highspy.HighsStatus.kOk
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return h.getInfo().objective_function_value


def read_back(path) -> tuple[float, object]:
    h = _highs()
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk, path
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal, path
    return h.getInfo().objective_function_value, h


def assert_round_trip(model, tmp_path, check=None):
    """Both formats read back by HiGHS reach the reference optimum."""
    want = reference_optimum(model)
    for fmt in FORMATS:
        path = tmp_path / ("%s.%s" % (model.name, fmt))
        path.write_text(emit(model, fmt))
        got, h = read_back(path)
        assert got == pytest.approx(want, rel=1e-7, abs=1e-7), (fmt, got, want)
        assert h.getLp().num_col_ == model.num_unknowns
        if check is not None:
            check(fmt, h)
    return want


# --- models --------------------------------------------------------------------------


def production():
    b = ModelBuilder("production")
    P = b.set("P", ["chairs", "tables", "desks"])
    R = b.set("R", ["wood", "labour"])
    profit = b.param("profit", [P], [45, 80, 60])
    use = b.param("use", [R, P], [[5, 20, 12], [10, 15, 11]])
    cap = b.param("cap", [R], [400, 450])
    x = b.var("make", [P], lower=0)
    p, r = b.index("p r")
    b.maximize("profit", b.sum([(p, P)], profit[p] * x[p]))
    b.subject_to("capacity", b.sum([(p, P)], use[r, p] * x[p]) <= cap[r], over=[(r, R)])
    return b.build()


def transport(n_s=5, n_d=7, seed=1):
    rng = np.random.default_rng(seed)
    b = ModelBuilder("transport")
    S = b.set("S", ["plant %d" % k for k in range(n_s)])       # spaces: sanitised in names
    D = b.set("D", range(1, n_d + 1))
    dem_v = rng.integers(5, 15, n_d).astype(float)
    sup_v = rng.dirichlet(np.ones(n_s)) * dem_v.sum() * 1.3
    sup = b.param("supply", [S], sup_v)
    dem = b.param("demand", [D], dem_v)
    cost = b.param("cost", [S, D], rng.uniform(1, 9, (n_s, n_d)))
    x = b.var("ship", [S, D], lower=0)
    i, j = b.index("i j")
    b.minimize("cost", b.sum([(i, S), (j, D)], cost[i, j] * x[i, j]))
    b.subject_to("supply", b.sum([(j, D)], x[i, j]) <= sup[i], over=[(i, S)])
    b.subject_to("demand", b.sum([(i, S)], x[i, j]) >= dem[j], over=[(j, D)])
    return b.build()


def knapsack():
    b = ModelBuilder("knapsack")
    I = b.set("I", range(1, 9))
    w = b.param("w", [I], [12, 7, 11, 8, 9, 6, 14, 5])
    v = b.param("v", [I], [24, 13, 23, 15, 16, 11, 27, 8])
    x = b.var("take", [I], "binary")
    i = b.index("i")
    b.maximize("value", b.sum([(i, I)], v[i] * x[i]))
    b.subject_to("weight", b.sum([(i, I)], w[i] * x[i]) <= 30)
    return b.build()


def bounded_integer():
    b = ModelBuilder("bint")
    I = b.set("I", range(1, 5))
    c = b.param("c", [I], [3, -2, 4, -1])
    k = b.var("k", [I], "integer", lower=[-5, -3, -7, -2], upper=[4, 6, 2, 9])
    y = b.var("y", (), "real", lower=-2.5, upper=3.5)
    i = b.index("i")
    b.minimize("obj", b.sum([(i, I)], c[i] * k[i]) + 1.5 * y)
    b.subject_to("mix", b.sum([(i, I)], k[i]) + y >= -3.7)
    b.subject_to("pair", 2 * k[1] - 3 * k[2] <= 4.5)
    return b.build()


def free_variables():
    # least absolute deviation fit: r = A z - obs with z and r free, t >= |r|
    rng = np.random.default_rng(3)
    b = ModelBuilder("lad")
    R = b.set("R", range(1, 9))
    C = b.set("C", range(1, 4))
    A = b.param("A", [R, C], rng.normal(size=(8, 3)))
    obs = b.param("obs", [R], rng.normal(size=8) * 3)
    z = b.var("z", [C])
    r = b.var("r", [R])
    t = b.var("t", [R], lower=0)
    i, j = b.index("i j")
    b.minimize("dev", b.sum([(i, R)], t[i]))
    b.subject_to("resid", sympy.Eq(r[i], b.sum([(j, C)], A[i, j] * z[j]) - obs[i]), over=[(i, R)])
    b.subject_to("up", t[i] - r[i] >= 0, over=[(i, R)])
    b.subject_to("dn", t[i] + r[i] >= 0, over=[(i, R)])
    return b.build()


def ranged():
    b = ModelBuilder("ranged")
    I = b.set("I", range(1, 4))
    x = b.var("x", [I], lower=-10, upper=10)
    i = b.index("i")
    b.maximize("obj", 3 * x[1] + 2 * x[2] - x[3])
    b.subject_to("band", lower=-2.5, body=b.sum([(i, I)], x[i]), upper=4.25)
    b.subject_to("gap", lower=1, body=x[1] - x[2], upper=3)
    b.subject_to("lim", x[1] + 2 * x[3] <= 6)
    return b.build()


def equality():
    b = ModelBuilder("equality")
    I = b.set("I", range(1, 4))
    c = b.param("c", [I], [2, 3, 1.5])
    x = b.var("x", [I], lower=0)
    i = b.index("i")
    b.minimize("cost", b.sum([(i, I)], c[i] * x[i]))
    b.subject_to("total", sympy.Eq(b.sum([(i, I)], x[i]), 10))
    b.subject_to("ratio", sympy.Eq(x[1] - 2 * x[2], 1))
    b.subject_to("floor", x[3] >= 2)
    return b.build()


def max_with_constant():
    b = ModelBuilder("maxconst")
    x = b.var("x", (), lower=0, upper=4)
    y = b.var("y", (), lower=1)
    b.maximize("score", 5 * x + 3 * y - 17.25)
    b.subject_to("c1", x + y <= 7)
    b.subject_to("c2", x - y + 3 >= 0)            # body constant moves into the bound
    return b.build()


def multidim_knapsack(n=12, m=3, seed=5):
    rng = np.random.default_rng(seed)
    b = ModelBuilder("mdkp")
    I = b.set("I", range(1, n + 1))
    D = b.set("D", ["dim%d" % k for k in range(m)])
    w = b.param("w", [D, I], rng.integers(1, 20, (m, n)))
    v = b.param("v", [I], rng.integers(5, 40, n))
    cap = b.param("cap", [D], [60, 55, 70][:m])
    x = b.var("x", [I], "binary")
    i, d = b.index("i d")
    b.maximize("value", b.sum([(i, I)], v[i] * x[i]))
    b.subject_to("cap", b.sum([(i, I)], w[d, i] * x[i]) <= cap[d], over=[(d, D)])
    return b.build()


def quadratic_objective():
    b = ModelBuilder("qp")
    I = b.set("I", range(1, 4))
    x = b.var("x", [I], lower=-5, upper=5)
    i = b.index("i")
    b.minimize("energy", b.sum([(i, I)], x[i] ** 2) + x[1] * x[2] - 2 * x[1] + x[3] + 4)
    b.subject_to("sum", b.sum([(i, I)], x[i]) >= 1)
    return b.build()


ROUND_TRIP = [production, transport, knapsack, bounded_integer, free_variables, ranged, equality,
              max_with_constant, multidim_knapsack, quadratic_objective]


@pytest.mark.parametrize("make", ROUND_TRIP, ids=lambda f: f.__name__)
def test_round_trip_same_optimum(make, tmp_path):
    assert_round_trip(make(), tmp_path)


def test_known_optima(tmp_path):
    # hand-checkable values, so that the reference itself is pinned
    assert assert_round_trip(max_with_constant(), tmp_path) == pytest.approx(5 * 4 + 3 * 3 - 17.25)
    # x1 = 1 + 2 x2, x3 = 9 - 3 x2 >= 2: cost 15.5 + 2.5 x2, least at x2 = 0
    assert assert_round_trip(equality(), tmp_path) == pytest.approx(15.5)
    w, v = [12, 7, 11, 8, 9, 6, 14, 5], [24, 13, 23, 15, 16, 11, 27, 8]
    best = max(sum(vi for vi, t in zip(v, pick) if t) for pick in itertools.product([0, 1], repeat=8)
               if sum(wi for wi, t in zip(w, pick) if t) <= 30)
    assert assert_round_trip(knapsack(), tmp_path) == pytest.approx(best)


def test_bounds_and_types_read_back(tmp_path):
    def check(fmt, h):
        lp = h.getLp()
        names = list(lp.col_names_)
        col = {n: k for k, n in enumerate(names)}
        k1 = col["k(1)"]
        assert (lp.col_lower_[k1], lp.col_upper_[k1]) == (-5, 4)
        assert lp.integrality_[k1] == highspy.HighsVarType.kInteger
        yk = col["y"]
        assert (lp.col_lower_[yk], lp.col_upper_[yk]) == (-2.5, 3.5)
    assert_round_trip(bounded_integer(), tmp_path, check)

    def check_free(fmt, h):
        lp = h.getLp()
        col = {n: k for k, n in enumerate(lp.col_names_)}
        assert lp.col_lower_[col["z(1)"]] == -np.inf and lp.col_upper_[col["z(1)"]] == np.inf
        assert lp.col_lower_[col["t(1)"]] == 0 and lp.col_upper_[col["t(1)"]] == np.inf
    assert_round_trip(free_variables(), tmp_path, check_free)


def test_ranged_rows(tmp_path):
    lp_text = emit(ranged(), "lp")
    assert "band_lo: + x(1) + x(2) + x(3) >= -2.5" in lp_text
    assert "band_hi: + x(1) + x(2) + x(3) <= 4.25" in lp_text
    mps_text = emit(ranged(), "mps")
    assert re.search(r"^ G  band$", mps_text, re.M)
    assert re.search(r"^    RNG band 6.75$", mps_text, re.M)
    path = tmp_path / "r.mps"
    path.write_text(mps_text)
    _, h = read_back(path)
    lp = h.getLp()
    k = list(lp.row_names_).index("band")
    assert (lp.row_lower_[k], lp.row_upper_[k]) == (-2.5, 4.25)


def test_objective_constant_sign(tmp_path):
    for fmt in FORMATS:
        path = tmp_path / ("c." + fmt)
        path.write_text(emit(max_with_constant(), fmt))
        _, h = read_back(path)
        assert h.getLp().offset_ == -17.25
        assert h.getLp().sense_ == highspy.ObjSense.kMaximize
    assert "    RHS score 17.25" in emit(max_with_constant(), "mps")


def test_quadratic_objective_text(tmp_path):
    text = emit(quadratic_objective(), "lp")
    assert "\n    + [ 2 x(1) ^ 2 + 2 x(1) * x(2) + 2 x(2) ^ 2 + 2 x(3) ^ 2 ] / 2 + 4\n" in text
    mps = emit(quadratic_objective(), "mps")
    quad = mps.split("QUADOBJ\n")[1].split("ENDATA")[0].split("\n")
    assert "    x(1) x(2) 1" in quad and "    x(1) x(1) 2" in quad
    for fmt in FORMATS:
        path = tmp_path / ("q." + fmt)
        path.write_text(emit(quadratic_objective(), fmt))
        _, h = read_back(path)
        hess = h.getModel().hessian_
        assert hess.dim_ == 3


def test_binary_markers_and_bounds():
    text = emit(knapsack(), "mps")
    cols = text.split("COLUMNS\n")[1].split("RHS\n")[0]
    assert cols.startswith("    MARKER 'MARKER' 'INTORG'\n") and cols.endswith("    MARKER 'MARKER' 'INTEND'\n")
    assert text.count(" BV BND take(") == 8
    lp = emit(knapsack(), "lp")
    assert "Binary\n take(1) take(2)" in lp and "Bounds" not in lp


def test_unused_variable_and_empty_rows_survive(tmp_path):
    b = ModelBuilder("odd")
    x = b.var("x", (), lower=0, upper=3)
    b.var("unused", (), "integer", lower=-2, upper=5)
    b.var("fixedbin", (), "binary", lower=1)            # binary narrowed to [1, 1]
    n = b.var("n", (), "integer", lower=0)              # default integer bounds [0, inf)
    b.maximize("obj", x + 2 + n)
    b.subject_to("ncap", 2 * n <= 5)
    b.subject_to("c", x <= 2)
    zero = b.param("zero", (), 0.0)
    b.subject_to("vacuous", zero * x <= 1)               # empty row, still a row
    b.subject_to("constant", body=sympy.Integer(0), lower=-1)   # no linear part at all
    b.subject_to("nobound", lower=-np.inf, body=x, upper=np.inf)   # says nothing: dropped
    m = b.build()
    want = assert_round_trip(m, tmp_path)
    assert want == pytest.approx(6)
    lp = emit(m, "lp")
    assert " vacuous: 0 x <= 1" in lp and " constant: 0 x >= -1" in lp and " nobound:" not in lp
    assert "\\ 1 row without a finite bound (free) left out: nobound\n" in lp   # said, not lost
    assert "fixedbin = 1" in lp and "General\n unused fixedbin n\n" in lp and " n >=" not in lp
    mps = emit(m, "mps")
    assert "    unused obj 0\n" in mps and " FX BND fixedbin 1" in mps and " PL BND n\n" in mps


def test_feasibility_and_constant_objective(tmp_path):
    def model(objective):
        b = ModelBuilder("feas")
        x = b.var("x", (), lower=0, upper=3)
        y = b.var("y", (), "integer", lower=-4, upper=4)
        if objective is not None:
            b.minimize("k", objective)
        b.subject_to("c", x + y >= 2.5)
        return b.build()
    assert assert_round_trip(model(None), tmp_path) == 0
    text = emit(model(None), "lp")
    assert text.startswith("\\ lagdsl LP export of model feas\nminimize\n obj: 0 x\n")
    assert assert_round_trip(model(sympy.Integer(7)), tmp_path) == 7
    assert " k: + 7\n" in emit(model(sympy.Integer(7)), "lp")


GOLDEN_LP = """\\ lagdsl LP export of model tiny
maximize
 profit: + 3 x(a) + 2.5 x(b_c) - y + 0 z + 0 w + 5
Subject To
 cap: + x(a) + x(b_c) + y <= 6
 link(a): + x(a) - y >= -1
 link(b_c): + x(b_c) - y >= -1
 fix: + x(a) - x(b_c) = 0
 band_lo: + x(a) + 2 y >= 1
 band_hi: + x(a) + 2 y <= 8
Bounds
 0 <= x(a) <= 4
 -inf <= y <= 3
 z = 1
General
 y
Binary
 w
End
"""

GOLDEN_MPS = """NAME tiny
OBJSENSE
    MAX
ROWS
 N  profit
 L  cap
 G  link(a)
 G  link(b_c)
 E  fix
 G  band
COLUMNS
    x(a) profit 3
    x(a) cap 1
    x(a) link(a) 1
    x(a) fix 1
    x(a) band 1
    x(b_c) profit 2.5
    x(b_c) cap 1
    x(b_c) link(b_c) 1
    x(b_c) fix -1
    MARKER 'MARKER' 'INTORG'
    y profit -1
    y cap 1
    y link(a) -1
    y link(b_c) -1
    y band 2
    MARKER 'MARKER' 'INTEND'
    z profit 0
    MARKER 'MARKER' 'INTORG'
    w profit 0
    MARKER 'MARKER' 'INTEND'
RHS
    RHS profit -5
    RHS cap 6
    RHS link(a) -1
    RHS link(b_c) -1
    RHS band 1
RANGES
    RNG band 7
BOUNDS
 UP BND x(a) 4
 MI BND y
 UP BND y 3
 FX BND z 1
 BV BND w
ENDATA
"""


def tiny():
    b = ModelBuilder("tiny")
    I = b.set("I", ["a", "b c"])
    x = b.var("x", [I], lower=0, upper=[4, np.inf])
    y = b.var("y", (), "integer", upper=3)
    b.var("z", (), lower=1, upper=1)
    b.var("w", (), "binary")
    i = b.index("i")
    b.maximize("profit", 3 * _el(x, "a") + 2.5 * _el(x, "b c") - y + 5)
    b.subject_to("cap", b.sum([(i, I)], x[i]) + y <= 6)
    b.subject_to("link", x[i] - y >= -1, over=[(i, I)])
    b.subject_to("fix", sympy.Eq(_el(x, "a"), _el(x, "b c")))
    b.subject_to("band", lower=1, body=_el(x, "a") + 2 * y, upper=8)
    return b.build()


def _el(x, label):
    from lagdsl.ir.builder import as_sympy_element
    return x[as_sympy_element(label)]


def test_golden_lp_text():
    assert emit(tiny(), "lp") == GOLDEN_LP


def test_golden_mps_text():
    assert emit(tiny(), "mps") == GOLDEN_MPS


def test_golden_files_read_back(tmp_path):
    assert_round_trip(tiny(), tmp_path)


def test_write_functions_take_an_instance():
    inst = lower_for_export(tiny())
    assert write_lp(inst) == GOLDEN_LP and write_mps(inst) == GOLDEN_MPS
    assert write_lp(lower_instance(tiny())) == GOLDEN_LP


# --- names ---------------------------------------------------------------------------


def test_sanitize_rules():
    assert sanitize("cap(a,1)") == "cap(a,1)"
    assert sanitize("x(New York,-1)") == "x(New_York,_1)"
    assert sanitize("flow[a]:b+c*d/e^2<=3") == "flow_a__b_c_d_e_2__3"
    assert sanitize("café") == "caf_"
    assert sanitize("1st") == "_1st" and sanitize(".x") == "_.x"
    assert sanitize("e") == "_e" and sanitize("E12") == "_E12" and sanitize("eels") == "_eels"
    assert sanitize("edge(1,2)") == "edge(1,2)"
    for kw in ("free", "INF", "st", "End", "bin", "infinity", "Subject"):
        assert sanitize(kw) == "_" + kw
    assert len(sanitize("v" * 400)) == 255
    assert sanitize("") == "_"


def test_legal_names_unique():
    got = legal_names(["x(a b)", "x(a_b)", "x(a b)", "x(a_b)~2", "y"])
    assert len(set(got)) == 5
    assert got == ["x(a_b)", "x(a_b)~3", "x(a_b)~4", "x(a_b)~2", "y"]
    for n in got:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_(),.!#$%&;?@{}~]*", n)
    assert legal_names(["x(1)", "x(2)"]) == ["x(1)", "x(2)"]


def test_colliding_labels_round_trip(tmp_path):
    # "a b" and "a_b" sanitise alike; constraint named like the objective; keyword names
    b = ModelBuilder("clash")
    I = b.set("I", ["a b", "a_b", "a-b", "é"])
    x = b.var("x", [I], lower=0, upper=[1, 2, 3, 4])
    f = b.var("free", (), lower=-1, upper=1)
    i = b.index("i")
    b.maximize("obj", b.sum([(i, I)], x[i]) + f)
    b.subject_to("obj", b.sum([(i, I)], x[i]) <= 7.5)
    m = b.build()
    want = assert_round_trip(m, tmp_path)
    assert want == pytest.approx(8.5)
    for fmt in FORMATS:
        text = emit(m, fmt)
        assert "x(a_b)~2" in text and "x(a_b)~3" in text and "_free" in text
        assert "obj~2" in text


def test_numbers():
    assert fmt_number(1.0) == "1" and fmt_number(-0.0) == "0" and fmt_number(0.1) == "0.1"
    assert fmt_number(1e20) == "100000000000000000000" or fmt_number(1e20) == "1e+20"
    assert fmt_number(np.inf) == "+inf" and fmt_number(-np.inf) == "-inf"
    v = np.array([1 / 3, 2.0, 1 / 3, -7.5e-12])
    assert [float(s) for s in fmt_numbers(v)] == v.tolist()
    with pytest.raises(ValueError):
        fmt_number(float("nan"))


def test_long_rows_are_wrapped():
    text = emit(transport(3, 30), "lp")
    assert max(len(line) for line in text.splitlines()) < 510


# --- refusals ------------------------------------------------------------------------


def test_unknown_format_refused():
    with pytest.raises(BackendRefusal, match="lp, mps"):
        emit(production(), "gms")


def test_quadratic_constraint_refused():
    b = ModelBuilder("ball")
    I = b.set("I", range(1, 3))
    x = b.var("x", [I])
    i = b.index("i")
    b.minimize("obj", x[1])
    c = b.subject_to("ball", b.sum([(i, I)], x[i] ** 2) <= 1)
    c.span = Span("ball.lag", 4, 12)
    m = b.build()
    for fmt in FORMATS:
        with pytest.raises(BackendRefusal) as e:
            emit(m, fmt)
        assert e.value.message == ("%s export cannot write constraint ball: it is quadratic in the "
                                   "unknowns; an %s file holds linear constraints only" % (fmt.upper(), fmt.upper()))
        assert e.value.span == Span("ball.lag", 4, 12)
    with pytest.raises(BackendRefusal, match="constraint ball: it is quadratic"):
        write_lp(lower_instance(m))


def test_nonlinear_constraint_and_objective_refused():
    b = ModelBuilder("nl")
    x = b.var("x", ())
    b.minimize("obj", x)
    c = b.subject_to("grow", sympy.exp(x) <= 3)
    c.span = Span("nl.lag", 2, 1)
    with pytest.raises(BackendRefusal) as e:
        emit(b.build(), "lp")
    assert e.value.message == ("LP export cannot write constraint grow: it takes exp of an unknown; "
                               "an LP file holds linear constraints only")
    assert e.value.span.line == 2
    b2 = ModelBuilder("nlobj")
    y = b2.var("y", ())
    b2.minimize("wiggle", sympy.sin(y))
    b2.model.objective.span = Span("o.lag", 7, 3)
    with pytest.raises(BackendRefusal) as e:
        emit(b2.build(), "mps")
    assert e.value.message == ("MPS export cannot write objective wiggle: it takes sin of an unknown; "
                               "an MPS file holds linear and quadratic objectives only")
    assert e.value.span.line == 7
    b3 = ModelBuilder("cubic")
    z = b3.var("z", ())
    b3.minimize("c", z ** 3)
    with pytest.raises(BackendRefusal, match="objective c: it raises an unknown to the power 3;"):
        emit(b3.build(), "lp")


def test_refusal_counts_the_degree_of_the_whole_product():
    m = _parse("var x[1..4] >= 1, <= 2\nminimize f: x[1]*x[2]*x[3]*x[4]\n"
               "subject to c: 2*x[1]*(x[2] + x[3])^2 + x[4] <= 9\n")
    with pytest.raises(BackendRefusal) as e:
        emit(m, "lp")
    assert e.value.message == ("LP export cannot write constraint c: it is of degree 3 in the "
                               "unknowns; an LP file holds linear constraints only")
    m = _parse("var x[1..4] >= 1, <= 2\nminimize f: x[1]*x[2]*x[3]*x[4]\n")
    with pytest.raises(BackendRefusal) as e:
        emit(m, "lp")
    assert e.value.message == ("LP export cannot write objective f: it is of degree 4 in the "
                               "unknowns; an LP file holds linear and quadratic objectives only")
    m = _parse("var x[1..3]\nminimize worst: norminf(i in 1..3) x[i]\n")
    with pytest.raises(BackendRefusal, match="objective worst: it takes norminf of unknowns; "):
        emit(m, "mps")


def test_field_model_refused():
    b = ModelBuilder("heat")
    b.domain("D", x=(0, 1), t=(0, 1))
    u = b.field("u", ["x", "t"], "D")
    X, T = sympy.symbols("x t")
    b.subject_to("pde", sympy.Eq(sympy.Derivative(u(X, T), T), 0), region=Region("D"))
    with pytest.raises(BackendRefusal, match="field"):
        emit(b.build(), "lp")


def test_empty_model_refused():
    b = ModelBuilder("empty")
    with pytest.raises(BackendRefusal, match="no"):
        emit(b.build(), "mps")


def test_larger_transport_writes_every_row():
    m = transport(150, 150, seed=2)           # 22,500 unknowns; export timings live in bench/
    lp, mps = emit(m, "lp"), emit(m, "mps")
    assert lp.count("\n supply(") == 150 and mps.count(" G  demand(") == 150


# --- from .lag text ------------------------------------------------------------------

LAG_MODEL = """model plan
set P = {"chairs", "tables", "desks"}
set R = {"wood", "labour"}
param profit[P] = [45, 80, 60]
param use[R, P]
param cap[R] = [400, 450]
var make[P] >= 0
var extra in [0, 30]
maximize total: sum(p in P) profit[p] * make[p] - 2 * extra + 10
subject to capacity[r in R]: sum(p in P) use[r, p] * make[p] <= cap[r] + extra
subject to mix: 5 <= make["chairs"] + make["tables"] <= 25
"""


def _parse(text, data=None):
    import lagdsl
    m = lagdsl.parse(text, data=data)
    return getattr(m, "ir", m)


def test_lag_model_round_trip(tmp_path):
    m = _parse(LAG_MODEL, data={"use": [[5, 20, 12], [10, 15, 11]]})
    assert_round_trip(m, tmp_path)
    lp = emit(m, "lp")
    assert " capacity(wood): + 5 make(chairs)" in lp and " mix_lo:" in lp and "10\n" in lp


def test_lag_refusal_points_at_the_line():
    m = _parse("model ballm\nset I = 1..2\nvar x[I]\nminimize obj: x[1]\n"
               "subject to ball: sum(i in I) x[i]^2 <= 1\n")
    with pytest.raises(BackendRefusal) as e:
        emit(m, "mps")
    text = e.value.format()
    assert "5:12: refused: MPS export cannot write constraint ball: it is quadratic in the unknowns" in text
    assert "subject to ball: sum(i in I) x[i]^2 <= 1" in text
