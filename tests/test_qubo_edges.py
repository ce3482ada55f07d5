"""The ``qubo`` backend at its edges: empty and impossible rows, huge integer ranges and
weights, labels that collide as text, option sizes, ``time_limit``, and the exports (the
default is an exact encoding whose ground state is the model's optimum)."""
from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import lagdsl
from lagdsl.errors import BackendRefusal, LagDataError
from lagdsl.limits import SizeLimitError, limited

KNAP = """
set I = 1..5
param w[I] = [2, 3, 4, 5, 3]
param v[I] = [3, 4, 5, 6, 2]
var x[I] binary
maximize val: sum(i in I) v[i]*x[i] - 2*x[1]*x[2]
subject to cap: sum(i in I) w[i]*x[i] <= 9
subject to pick: x[3] + x[4] + x[5] == 1
subject to amo: x[1] + x[5] <= 1
"""


def parse(text, data=None):
    return lagdsl.parse(text, data=data)


def brute_force(model) -> tuple[float, list[np.ndarray]]:
    """The optimum of a small all-binary model by enumeration, and its optimal points."""
    from lagdsl.lower.instance import lower_instance, max_violation
    inst = lower_instance(model.ir)
    best, arg = -np.inf, []
    s = -1.0 if inst.sense == "minimize" else 1.0
    for bits in itertools.product((0.0, 1.0), repeat=inst.N):
        x = np.array(bits)
        if max_violation(inst, x) > 1e-9:
            continue
        f = s * float(inst.objective.evaluate(x)[0])
        if f > best + 1e-9:
            best, arg = f, [x]
        elif abs(f - best) <= 1e-9:
            arg.append(x)
    return s * best, arg


# --- rows ---------------------------------------------------------------------------------------


def test_all_zero_rows_impossible_is_infeasible_and_free_is_dropped():
    m = parse("var x[1..3] binary\nmaximize s: sum(i in 1..3) x[i]\n"
              "subject to never: 0*x[1] >= 1\n")
    for method in ("augmented-lagrangian", "penalty", "bundle"):
        r = m.solve("qubo", method=method)
        assert r.status == "infeasible"
        assert any("constraint never can never hold" in n and "[0, 0]" in n for n in r.stats["notes"])
    r = parse("var x[1..3] binary\nmaximize s: sum(i in 1..3) x[i]\n"
              "subject to free: 0*x[1] <= 1\nsubject to one: x[1] + x[2] <= 1\n").solve(
        "qubo", sampler="exact")
    assert r.status == "optimal" and r.objective == 2.0


def test_negative_capacity_over_nonnegative_weights_is_infeasible():
    m = parse("set I = 1..4\nparam w[I] = [2, 3, 4, 5]\nvar x[I] binary\n"
              "maximize val: sum(i in I) x[i]\nsubject to knap[k in 1..2]: sum(i in I) w[i]*x[i] <= k - 3\n")
    for method in ("augmented-lagrangian", "penalty", "dual-ascent"):
        r = m.solve("qubo", method=method, num_reads=10)
        assert r.status == "infeasible" and r.values == {}
        notes = r.stats["notes"]
        assert "constraint knap[1] can never hold" in notes[0] and "must be <= -2" in notes[0]
        assert "knap[2]" in notes[1]


# --- integers and weights -----------------------------------------------------------------------


@pytest.mark.parametrize("bounds,shown", [("0..1e300", "0..1e+300"),
                                          ("-9223372036854775808..9223372036854775807",
                                           "-9.22337203685478e+18..9.22337203685478e+18")])
def test_integer_ranges_beyond_2_53_are_refused_at_the_declaration(bounds, shown):
    m = parse("var y integer in %s\nmaximize s: y\nsubject to c: y <= 5\n" % bounds)
    with pytest.raises(BackendRefusal, match="integer variable y has the range %s" % re.escape(shown)) as e:
        m.solve("qubo")
    assert (e.value.span.line, e.value.span.col) == (1, 5)


def test_integer_range_of_2_53_is_encoded_exactly():
    m = parse("var y integer in 0..9007199254740992\nminimize s: (y - 9007199254740991)^2 / 1e30\n")
    q, names, _ = m.compile("qubo").exact_qubo()
    assert q.n == 54 and names[-1] == "y#53"


def test_penalty_and_rho_are_bounded_and_overflow_is_refused():
    m = parse(KNAP)
    with pytest.raises(BackendRefusal, match=r"option penalty=1e\+308: expected a finite number in \(0, 1e\+100\]"):
        m.solve("qubo", penalty=1e308)
    with pytest.raises(BackendRefusal, match=r"option rho=1e\+200"):
        m.solve("qubo", rho=1e200)
    huge = parse("var x[1..3] binary\nmaximize s: sum(i in 1..3) x[i]\n"
                 "subject to big: 1e200*x[1] + 1e200*x[2] + x[3] <= 1e200\n")
    with pytest.raises(BackendRefusal, match="no augmented-Lagrangian weight rho"):
        huge.solve("qubo")
    with pytest.raises(BackendRefusal, match=r"overflow float64 or exceed 1e\+150"):
        huge.solve("qubo", rho=1.0)
    with pytest.raises(BackendRefusal, match="more than 2\\^53"):
        huge.emit("qubo", backend="qubo")


# --- labels -------------------------------------------------------------------------------------


LABELS = "set S\nvar x[S] binary\nmaximize s: sum(i in S) x[i]\nsubject to c: sum(i in S) x[i] <= 2\n"


def test_labels_that_collide_as_text_are_refused_when_the_model_is_checked():
    with pytest.raises(LagDataError, match="var x has the elements 1 and '1', which both print as "
                                           "x\\[1\\]") as e:
        parse(LABELS, data={"S": [1, "1", "2"]})
    assert (e.value.span.line, e.value.span.col) == (2, 5)
    with pytest.raises(LagDataError, match=r"elements \('a', '1'\) and \('a', 1\), which both print as x\[a,1\]"):
        parse('set P = {("a", "1"), ("a", 1)}\nvar x[P] binary\nmaximize s: sum((i, j) in P) x[i, j]\n')
    with pytest.raises(LagDataError, match=r"elements \('a,b', 'c'\) and \('a', 'b,c'\)"):
        parse("set A\nset B\nvar x[A, B] binary\n", data={"A": ["a,b", "a"], "B": ["c", "b,c"]})
    distinct = parse(LABELS, data={"S": [1, "a", 2.5]})
    assert distinct.solve("qubo", sampler="exact").objective == 2.0
    assert parse("set S\nparam p[S] = 1\nvar y\nminimize f: y^2\n", data={"S": [1, "1"]}) is not None


def test_labels_that_collide_in_an_ir_file_are_refused_by_every_qubo_path():
    m = parse(LABELS, data={"S": [1, "2", "3"]})
    ir = json.loads(m.emit("ir"))
    ir["sets"]["S"]["elements"] = [1, "1", "3"]          # an IR file is not re-checked
    bad = lagdsl.Model.from_json(json.dumps(ir))
    msg = "variable x has the elements 1 and '1', which both print as x\\[1\\]"
    for call in (lambda: bad.solve("qubo"), lambda: bad.emit("qubo", backend="qubo"),
                 lambda: bad.emit("bqm", backend="qubo"), lambda: bad.emit("qasm", backend="qubo")):
        with pytest.raises(BackendRefusal, match=msg) as e:
            call()
        assert e.value.span.line == 2


def test_slack_qubits_never_take_a_model_name():
    import dimod
    m = parse("var _slack[0..3] binary\nmaximize s: sum(i in 0..3) _slack[i]\n"
              "subject to c: sum(i in 0..3) 3*_slack[i] <= 7\n")
    d = json.loads(m.emit("bqm", backend="qubo"))
    assert d["variable_labels"] == ["_slack[%d]" % i for i in range(4)] + ["#slack[%d]" % i for i in range(3)]
    ss = dimod.ExactSolver().sample(dimod.BinaryQuadraticModel.from_serializable(d))
    assert ss.first.energy == pytest.approx(-2.0)       # two items of weight 3 fit in 7


def test_constraint_rows_that_collide_as_text_are_refused():
    text = ("set S\nparam p[S] = 1\nvar x[1..2] binary\nmaximize s: x[1] + x[2]\n"
            "subject to c[k in S]: x[1] + x[2] <= p[k] + 1\n")
    with pytest.raises(LagDataError, match=r"constraint c has the rows '2' and 2, which both print as c\[2\]"):
        parse(text, data={"S": ["2", 2]})             # the checker, for every backend
    # a model read from IR skips the checker: the qubo backend refuses it itself
    doc = json.loads(parse(text, data={"S": ["2", 3]}).to_json())
    doc["sets"]["S"]["elements"] = ["2", 2]
    m = lagdsl.Model.from_json(json.dumps(doc))
    with pytest.raises(BackendRefusal, match=r"constraint c has the rows '2' and 2, which both print as c\[2\]"):
        m.solve("qubo")


# --- options: sizes, bound_qubits, time_limit ---------------------------------------------------


@pytest.mark.parametrize("opts,option", [
    ({"num_reads": 10 ** 11}, "num_reads"), ({"num_sweeps": 10 ** 11}, "num_sweeps"),
    ({"max_iter": 10 ** 11}, "max_iter"), ({"repair_samples": 10 ** 11}, "repair_samples"),
    ({"sampler": "exact", "num_samples": 10 ** 11}, "num_samples"),
    ({"sampler": "qaoa", "shots": 10 ** 11}, "shots"),
    ({"sampler": "qaoa", "restarts": 10 ** 11}, "restarts"),
    ({"sampler": "qaoa", "train_iter": 10 ** 11}, "train_iter")])
def test_option_sizes_are_checked_before_compiling_finishes(opts, option):
    with pytest.raises(SizeLimitError, match=r"option %s=\d+: .* would have" % option):
        parse(KNAP).compile("qubo", **opts)


def test_option_products_use_the_limit_in_force():
    m = parse(KNAP)
    with limited(1000):
        with pytest.raises(SizeLimitError, match=r"option num_reads=201: the samples of one round "
                                                 r"\(num_reads x 5 qubits\) would have 1005 bits"):
            m.compile("qubo", num_reads=201)
        m.compile("qubo", num_reads=200)
        with pytest.raises(SizeLimitError, match=r"option max_iter=7: the stored cuts .* would have 1400 values"):
            m.compile("qubo", method="cutting-plane", num_reads=100, max_iter=7)


def test_bound_qubits_at_its_maximum_says_why_there_is_no_bound():
    text = ("set I = 1..26\nvar x[I] binary\nmaximize s: sum(i in I) x[i] + x[1]*x[2]\n"
            "subject to c: sum(i in I) x[i] <= 13\nsubject to d: sum(i in 1..10) x[i] <= 3\n")
    m = parse(text)
    opts = dict(bound_qubits=26, max_iter=1, num_reads=5, num_sweeps=50)
    with limited(10 ** 8):
        r = m.solve("qubo", **opts)
    note = next(n for n in r.stats["notes"] if n.startswith("no dual bound"))
    assert "26 qubits exceed" not in note
    assert "enumerating the Lagrangian's 2^26 states over 2 relaxed rows would take 2.7 GB" in note
    with limited(10 ** 7):          # 2^26 energies alone exceed the size limit
        r = m.solve("qubo", **opts)
    assert "no dual bound: enumerating the Lagrangian's 2^26 states exceeds the size limit" \
        " (--max-elements)" in r.stats["notes"]
    with limited(500):              # the slack QUBO's 2^9 states, for the penalty method
        r = parse(KNAP).solve("qubo", method="penalty", num_reads=20, num_sweeps=100)
    assert "no dual bound: enumerating the 2^9 states of the slack QUBO exceeds the size " \
        "limit (--max-elements)" in r.stats["notes"]
    assert parse(KNAP).solve("qubo", method="penalty", num_reads=20).stats["dual_bound"] is not None


def test_time_limit_stops_the_multiplier_loop_with_the_best_feasible_sample():
    m = parse(KNAP)
    full = m.solve("qubo", seed=1, num_reads=20, num_sweeps=100, max_iter=20, method="dual-ascent",
                   bound_qubits=0)
    r = m.solve("qubo", seed=1, num_reads=20, num_sweeps=100, max_iter=20, method="dual-ascent",
                bound_qubits=0, time_limit=1e-9)
    assert full.stats["iterations"] > 1 and full.stats["stopped"] != "time_limit"
    assert r.stats["iterations"] == 1 and r.stats["stopped"] == "time_limit"
    assert r.status == "feasible" and r.max_violation == 0.0
    assert any(n.startswith("stopped at the time limit of 1e-09 s after 1 iteration") for n in r.stats["notes"])


def test_time_limit_stops_the_annealer_and_qaoa_training():
    m = parse(KNAP)
    # pieces of the anneal: a limit that has passed ends it after the first piece (one sweep)
    r = m.solve("qubo", seed=0, num_reads=10, num_sweeps=10 ** 6, time_limit=1e-9)
    assert r.stats["stopped"] == "time_limit" and r.stats["samples"] == 10
    q = m.solve("qubo", sampler="qaoa", seed=0, max_iter=3, restarts=3, train_iter=500, time_limit=1e-9)
    assert q.stats["stopped"] == "time_limit" and q.stats["iterations"] == 1
    # one objective evaluation per start at most: the first start's first point, then stop
    assert q.stats["circuit_evaluations"] <= 3


def test_same_anneal_without_time_limit_is_unchanged_by_the_option():
    m = parse(KNAP)
    a = m.solve("qubo", seed=4, num_reads=20, num_sweeps=200, max_iter=3)
    b = m.solve("qubo", seed=4, num_reads=20, num_sweeps=200, max_iter=3, time_limit=3600)
    assert a.objective == b.objective and a.stats["iterations"] == b.stats["iterations"]


# --- exports ------------------------------------------------------------------------------------


def test_default_bqm_ground_state_is_the_models_optimum():
    import dimod
    m = parse(KNAP)
    opt, points = brute_force(m)
    d = json.loads(m.emit("bqm", backend="qubo"))
    assert d["info"]["form"] == "exact" and d["info"]["ground_state_exact"] is True
    bqm = dimod.BinaryQuadraticModel.from_serializable(d)
    ss = dimod.ExactSolver().sample(bqm)
    low = ss.lowest()
    xs = [np.array([s["x[%d]" % i] for i in range(1, 6)], float) for s in low.samples()]
    # every ground state is an optimum of the model (energy: minus the maximised objective)
    assert all(any(np.array_equal(x, p) for p in points) for x in xs)
    assert low.first.energy == pytest.approx(-opt)
    # the relaxed form at zero multipliers is not exact: its ground state violates `cap`
    rel = json.loads(m.emit("bqm", backend="qubo", export="relaxed"))
    assert rel["info"]["form"] == "relaxed" and rel["info"]["multipliers"] == [0.0]
    assert rel["variable_labels"] == ["x[%d]" % i for i in range(1, 6)]


def test_default_export_with_integers_and_equalities_only_needs_no_slack():
    import dimod
    m = parse("var k integer in 0..5\nvar x[1..3] binary\n"
              "minimize f: (k - 3)^2 + x[1] - x[2]*x[3]\nsubject to e: k + x[1] + x[2] == 4\n")
    d = json.loads(m.emit("bqm", backend="qubo"))
    assert d["info"]["slack_qubits"] == 0 and d["variable_labels"][:3] == ["x[1]", "x[2]", "x[3]"]
    ss = dimod.ExactSolver().sample(dimod.BinaryQuadraticModel.from_serializable(d))
    best = ss.first.sample
    k = sum(best[v] * w for v, w in (("k#0", 1), ("k#1", 2), ("k#2", 2)))
    # k + x1 + x2 == 4 with the objective's minimum -1 at k=3, x1=0, x2=x3=1
    assert (k, best["x[1]"], best["x[2]"], best["x[3]"]) == (3, 0, 1, 1)
    assert ss.first.energy == pytest.approx(-1.0)
    opt = m.solve("qubo", sampler="exact").objective
    assert opt == -1.0


def test_bqm_variables_in_index_order_and_relaxed_export_announced(capsys):
    m = parse("var x[1..10] binary\nmaximize s: sum(i in 1..10) i*x[i]\n"
              "subject to c: sum(i in 1..10) x[i] <= 3\n")
    d = json.loads(m.emit("bqm", backend="qubo"))
    assert d["variable_labels"] == ["x[%d]" % i for i in range(1, 11)] + ["_slack[0]", "_slack[1]"]
    assert capsys.readouterr().err == ""
    prog = m.compile("qubo", export="relaxed", num_reads=20, num_sweeps=100, seed=0)
    prog.solve()
    text = prog.emit("qubo")
    err = capsys.readouterr().err
    lam = json.loads(text)["multipliers"]
    assert err.startswith("note: writing the relaxed augmented-lagrangian form at multipliers [%.6g]"
                          % lam[0])
    assert "rho=" in err and "may violate the relaxed rows" in err


def test_fractional_rows_have_no_exact_export_but_a_relaxed_one():
    m = parse("var x[1..3] binary\nmaximize s: sum(i in 1..3) x[i]\n"
              "subject to c: 0.5*x[1] + 0.7*x[2] + 0.9*x[3] <= 1.3\n")
    with pytest.raises(BackendRefusal, match="no exact QUBO for this model: .*--option export=relaxed"):
        m.emit("qubo", backend="qubo")
    assert json.loads(m.emit("qubo", backend="qubo", export="relaxed"))["form"] == "relaxed"
    with pytest.raises(BackendRefusal, match="export=relaxed needs a multiplier method"):
        m.emit("bqm", backend="qubo", method="penalty", export="relaxed")


def test_qasm_is_refused_above_the_simulator_limit_as_a_solve_is():
    m = parse("set I = 1..30\nvar x[I] binary\nmaximize s: sum(i in I) x[i]\n"
              "subject to c: sum(i in I) x[i] == 3\n")
    with pytest.raises(BackendRefusal, match="the QAOA circuit needs at least 30 qubits; simulator=fast holds at most 24"):
        m.emit("qasm", backend="qubo")
    with pytest.raises(BackendRefusal, match="needs 30 qubits; sampler qaoa"):
        m.solve("qubo", sampler="qaoa")
    with pytest.raises(BackendRefusal, match="the QAOA circuit needs at least 30 qubits; simulator=statevector holds at most 20"):
        m.emit("qasm", backend="qubo", simulator="statevector")


# --- a string element ordered against a number (lowering) --------------------------------------


def test_string_element_compared_with_number_is_a_positioned_error():
    m = parse("set C\nvar x[C] binary\nmaximize s: sum(c in C : c > 1) x[c]\n", data={"C": ["a", "b"]})
    with pytest.raises(LagDataError, match="cannot compare the string 'a' with the number 1 using >") as e:
        m.solve("qubo")
    assert (e.value.span.line, e.value.span.col, e.value.span.end_col) == (3, 26, 31)
    ok = parse("set C\nvar x[C] binary\nmaximize s: sum(c in C : c > \"a\") x[c]\n", data={"C": ["a", "b"]})
    assert ok.solve("qubo", sampler="exact").objective == 1.0


THREADS_SCRIPT = """\\
import threading
import lagdsl
m = lagdsl.parse("set I = 1..4\\nvar x[I] binary\\nmaximize f: sum(i in I) x[i]\\n"
                 "subject to c: x[1] + x[2] <= 1\\n")
def solve(k):
    r = m.solve("qubo", sampler="qaoa", seed=0, max_iter=1, reps=1, shots=64)
    print(k, r.status, r.objective, flush=True)
for k in range(4):
    t = threading.Thread(target=solve, args=(k,))
    t.start()
    t.join()
"""


def test_qaoa_on_successive_short_lived_threads_does_not_crash(tmp_path):
    # qiskit's allocator segfaulted in the second or third thread once the thread that first
    # used it had ended (the CLI's main() run twice in one process did exactly this)
    (tmp_path / "run.py").write_text(THREADS_SCRIPT)
    p = subprocess.run([sys.executable, "run.py"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert p.stdout.splitlines() == ["%d optimal 3.0" % k for k in range(4)]
