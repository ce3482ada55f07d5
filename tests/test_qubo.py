"""The qubo backend: qubit counts, known optima with every sampler, the fast QAOA statevector
against qiskit, exports loaded back, refusals, statuses, duals, repair and histories.

Known optima are the literature values of REFERENCES.md, recomputed here by brute force
(numpy over all 2^n subsets) where the instance is small enough.
"""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lagdsl
from lagdsl.backend import get_backend
from lagdsl.errors import BackendRefusal

EX = Path(__file__).resolve().parent.parent / "examples"

#: (model, data, known optimum, model binaries, qubits of qiskit-optimization's
#: QuadraticProgramToQubo: slack only for rows its LinearInequalityToPenalty cannot take)
INSTANCES = {
    "mknap1": ("mknap1.lag", "mknap1.json", 3800.0, 6, 62),
    "pet2": ("mknap1.lag", "pet2.json", 87061.0, 10, 99),
    "pet3": ("mknap1.lag", "pet3.json", 4015.0, 15, 102),
    "sac94_pb5": ("mknap1.lag", "sac94_pb5.json", 2139.0, 20, 116),
    "mis_petersen": ("mis_petersen.lag", "mis_petersen.json", 4.0, 10, 10),
    "mis_grid4x4": ("mis_petersen.lag", "mis_grid4x4.json", 8.0, 16, 16),
    "mis_dodecahedral": ("mis_petersen.lag", "mis_dodecahedral.json", 8.0, 20, 20),
    "tsp4": ("tsp4_qubo.lag", "tsp4_qubo.json", 80.0, 16, 16),
    "maxcut": ("maxcut.lag", "maxcut.json", 12.0, 10, 10),
    "vertex_cover": ("vertex_cover.lag", "vertex_cover.json", 6.0, 10, 10),
    "coloring": ("coloring.lag", "coloring.json", 3.0, 18, 18),
}
SMALL = ["mknap1", "pet2", "mis_petersen", "maxcut", "vertex_cover"]     # <= 12 qubits


def load(name):
    lag, data, *_ = INSTANCES[name]
    return lagdsl.load(str(EX / lag), data=str(EX / data))


def brute_force_mknap(data: dict) -> float:
    best = -np.inf
    W, cap, p = np.array(data["W"], float), np.array(data["cap"], float), np.array(data["p"], float)
    for lo in range(0, 1 << data["n"], 1 << 16):        # in chunks: 2^20 subsets for sac94_pb5
        X = ((np.arange(lo, min(lo + (1 << 16), 1 << data["n"]))[:, None] >> np.arange(data["n"])) & 1).astype(float)
        ok = np.all(X @ W.T <= cap, axis=1)
        if ok.any():
            best = max(best, float(np.max(X[ok] @ p)))
    return best


@pytest.mark.parametrize("data,opt", [("mknap1.json", 3800.0), ("pet2.json", 87061.0), ("pet3.json", 4015.0),
                                      ("sac94_pb5.json", 2139.0)])
def test_knapsack_optima_by_brute_force(data, opt):
    assert brute_force_mknap(json.loads((EX / data).read_text())) == opt


def test_graph_optima_by_brute_force():
    import networkx as nx
    for G, alpha in ((nx.petersen_graph(), 4), (nx.grid_2d_graph(4, 4), 8), (nx.dodecahedral_graph(), 8)):
        G = nx.convert_node_labels_to_integers(G)
        n = G.number_of_nodes()
        X = ((np.arange(1 << n)[:, None] >> np.arange(n)) & 1).astype(np.int8)
        E = np.array(G.edges())
        indep = ~np.any(X[:, E[:, 0]] & X[:, E[:, 1]], axis=1)
        assert X[indep].sum(axis=1).max() == alpha
        if n == 10:
            cover = np.all(X[:, E[:, 0]] | X[:, E[:, 1]], axis=1)
            assert X[cover].sum(axis=1).min() == 6
            assert (X[:, E[:, 0]] != X[:, E[:, 1]]).sum(axis=1).max() == 12
    # the 5-cycle needs 3 colours: no 2-colouring, and 3 suffice
    cyc = [(i, (i + 1) % 5) for i in range(5)]
    cols = list(itertools.product(range(3), repeat=5))
    proper = [c for c in cols if all(c[u] != c[v] for u, v in cyc)]
    assert min(len(set(c)) for c in proper) == 3
    d = json.loads((EX / "tsp4.json").read_text())["dist"]
    tours = [(0,) + p for p in itertools.permutations(range(1, 4))]
    assert min(sum(d[t[k]][t[(k + 1) % 4]] for k in range(4)) for t in tours) == 80


@pytest.mark.parametrize("name", list(INSTANCES))
def test_qubit_counts_slack_free_vs_penalty(name):
    model = load(name)
    *_, binaries, slack_qubits = INSTANCES[name]
    free = model.compile("qubo")
    q, names = free.first_qubo()
    assert q.n == binaries == free.low.n
    pen = model.compile("qubo", method="penalty")
    q, names = pen.first_qubo()
    assert q.n == slack_qubits


EXACT_FAST = ["mknap1", "pet2", "pet3", "mis_petersen", "mis_grid4x4", "tsp4", "maxcut",
              "vertex_cover", "coloring"]


@pytest.mark.parametrize("sampler", ["exact", "anneal"])
@pytest.mark.parametrize("name", EXACT_FAST)
def test_known_optimum_exact_and_anneal(name, sampler):
    *_, opt, binaries, _ = INSTANCES[name]
    res = load(name).solve("qubo", sampler=sampler, seed=0, num_reads=50, max_iter=8)
    assert res.status in ("optimal", "feasible")
    assert res.objective == opt
    assert res.max_violation == 0.0
    assert res.stats["qubits"] == binaries and res.stats["slack_qubits"] == 0


@pytest.mark.parametrize("sampler,opts", [("exact", dict(max_iter=3, bound_qubits=0, num_samples=20)),
                                          ("anneal", dict(max_iter=4, num_reads=50))])
def test_known_optimum_sac94_pb5(sampler, opts):
    """SAC-94 pb5 (20 items x 10 rows, optimum 2139) slack-free on 20 qubits; small budgets
    and a fixed seed keep it to seconds (bound_qubits=0: no 2^20 dual-bound enumeration)."""
    res = load("sac94_pb5").solve("qubo", sampler=sampler, seed=0, **opts)
    assert res.status in ("optimal", "feasible")
    assert res.objective == 2139.0 and res.max_violation == 0.0
    assert res.stats["qubits"] == 20 and res.stats["slack_qubits"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["exact", "anneal"])
def test_known_optimum_dodecahedral(sampler):
    res = load("mis_dodecahedral").solve("qubo", sampler=sampler, seed=0)
    assert res.objective == 8.0 and res.stats["qubits"] == 20 and res.status == "optimal"


@pytest.mark.parametrize("name", SMALL)
def test_known_optimum_qaoa(name):
    *_, opt, binaries, _ = INSTANCES[name]
    res = load(name).solve("qubo", sampler="qaoa", seed=0, max_iter=4, restarts=2, shots=256)
    assert res.objective == opt and res.max_violation == 0.0
    assert res.stats["qubits"] == binaries
    assert res.stats["circuit_depth"] > 0 and res.stats["reps"] == 2


@pytest.mark.parametrize("name", ["mis_petersen", "maxcut"])
def test_trained_qaoa_state_is_far_better_than_uniform(name):
    """Only a working QAOA passes: a uniform (or untrained) sampler gives a ratio near 0."""
    from lagdsl.backends.qubo.form import all_energies
    from lagdsl.backends.qubo.lowering import lower
    from lagdsl.backends.qubo.qaoa import QaoaSampler, fast_state
    low = lower(load(name).ir)
    qubo = low.lagrangian(np.zeros(low.G.shape[0]), low.strength)   # every row exact here
    E = all_energies(qubo)
    ground = np.isclose(E, E.min())
    sampler = QaoaSampler(reps=2, shots=256, restarts=2, train_iter=60)
    sampler.sample(qubo, seed=0)
    probs = np.abs(fast_state(E / sampler.scale, sampler.angles[:2], sampler.angles[2:], qubo.n)) ** 2
    # how far the expected energy moved from the uniform mean towards the ground energy
    ratio = (E.mean() - probs @ E) / (E.mean() - E.min())
    assert ratio > 0.75                                       # measured 0.93 (MIS), 0.78 (max-cut)
    assert probs[ground].sum() > 2.5 * ground.mean()          # measured 2.6x, 28x uniform


def test_qaoa_samples_are_feasible_without_repair():
    """Independent sets are 76 of Petersen's 1024 subsets (7.4%); trained QAOA samples them."""
    res = load("mis_petersen").solve("qubo", sampler="qaoa", seed=0, max_iter=4, restarts=2,
                                     shots=256, repair=False)
    assert res.stats["repaired"] == 0
    assert res.stats["history"]["feasible_fraction"][0] > 0.5    # measured 0.98
    assert res.objective == 4.0 and res.max_violation == 0.0


@pytest.mark.parametrize("method", ["augmented-lagrangian", "dual-ascent", "bundle", "cutting-plane", "penalty"])
def test_every_method_finds_mknap1(method):
    res = load("mknap1").solve("qubo", method=method, sampler="anneal", seed=0, num_reads=50)
    assert res.objective == 3800.0 and res.stats["method"] == method
    if method != "penalty":
        assert res.stats["dual_bound"] >= 3800.0 - 1e-6   # a valid bound for a maximisation


def test_dual_bound_proves_optimal_status():
    res = load("mis_grid4x4").solve("qubo", sampler="exact", seed=0)
    assert res.status == "optimal" and res.stats["dual_bound"] == pytest.approx(8.0)
    res = load("pet2").solve("qubo", method="dual-ascent", sampler="exact", seed=0)
    assert res.status == "feasible"                        # integer duality gap
    assert res.stats["dual_bound"] > 87061.0 and res.stats["gap"] > 0


def test_duals_are_shadow_prices_of_relaxed_rows():
    res = load("mknap1").solve("qubo", method="cutting-plane", sampler="exact", seed=0)
    d = res.duals["capacity"]
    assert set(d) == {str(k) for k in range(1, 11)}
    assert all(v >= 0 or np.isnan(v) for v in d.values())  # more capacity, more profit
    assert np.isnan(d["7"])                                 # 8 x[5] <= 10 always holds: dropped
    assert any(v > 0 for v in d.values())
    # exactly penalised rows carry no multiplier
    res = load("coloring").solve("qubo", sampler="anneal", seed=0)
    assert res.duals == {} and res.stats["relaxed_rows"] == 0 and res.stats["exact_rows"] == 35


def test_repair_off_reports_raw_samples():
    on = load("pet3").solve("qubo", sampler="anneal", seed=0, num_reads=20, max_iter=3)
    off = load("pet3").solve("qubo", sampler="anneal", seed=0, num_reads=20, max_iter=3, repair=False)
    assert off.stats["repaired"] == 0
    assert on.stats["repaired"] > 0
    # raw annealer samples of pet3 at 20 reads x 3 rounds include feasible ones (seed 0)
    assert off.solved and off.max_violation == 0.0 and off.objective <= on.objective


def test_infeasible_model_is_proven_by_enumeration():
    text = "var x[1..3] binary\nmaximize f: sum(i in 1..3) x[i]\nsubject to c: x[1] + 2 * x[2] + 2 * x[3] == 6\n"
    res = lagdsl.parse(text).solve("qubo", sampler="exact", seed=0, max_iter=3)
    assert res.status == "infeasible" and not res.solved


def test_bounded_integers_are_expanded_and_rebuilt():
    text = ("var k[1..2] integer in 0..5\nvar b binary\n"
            "maximize f: 3 * k[1] + 2 * k[2] + 4 * b - k[1] * k[2]\n"
            "subject to c: k[1] + k[2] + 3 * b <= 7\n")
    model = lagdsl.parse(text)
    best = max((3 * a + 2 * c + 4 * b - a * c, a, c, b) for a in range(6) for c in range(6)
               for b in range(2) if a + c + 3 * b <= 7)
    res = model.solve("qubo", sampler="exact", seed=0)
    assert res.objective == best[0]
    assert res.values["k"]["1"] + res.values["k"]["2"] + 3 * res.values["b"] <= 7
    prog = model.compile("qubo")
    assert prog.low.n == 3 + 3 + 1
    enc = [e for e in prog.low.encoding if e["variable"] == "k"]
    assert sorted(e["weight"] for e in enc if e["label"] == "1") == [1.0, 2.0, 2.0]


def test_refuses_continuous_variables_with_name_and_line():
    model = lagdsl.load(str(EX / "tsp4.lag"), data=str(EX / "tsp4.json"))
    reasons = get_backend("qubo").accepts(model.ir)
    assert reasons[0].reason.startswith("variable u is continuous")
    assert reasons[0].span.line == 15
    with pytest.raises(BackendRefusal) as err:
        model.solve("qubo")
    assert "tsp4.lag:15:" in err.value.format()


def test_cli_refusal_exit_code_and_position():
    r = subprocess.run([sys.executable, "-m", "lagdsl", "solve", str(EX / "tsp4.lag"), "--data",
                        str(EX / "tsp4.json"), "--backend", "qubo"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "tsp4.lag:15:" in r.stderr and "variable u is continuous" in r.stderr


def test_refuses_more_qubits_than_the_sampler_holds():
    with pytest.raises(BackendRefusal, match="needs 102 qubits with slack; sampler exact holds at most 24"):
        load("pet3").solve("qubo", method="penalty", sampler="exact")
    with pytest.raises(BackendRefusal, match="needs 62 qubits with slack; sampler qaoa \\(simulator=fast\\) holds at most 24"):
        load("mknap1").solve("qubo", method="penalty", sampler="qaoa")


def test_refuses_quadratic_constraints():
    text = "var x[1..2] binary\nmaximize f: x[1] + x[2]\nsubject to q: x[1] * x[2] <= 0\n"
    reasons = get_backend("qubo").accepts(lagdsl.parse(text).ir)
    assert reasons[0].reason.startswith("constraint q is not linear") and reasons[0].span.line == 3


# --- the fast statevector against qiskit -------------------------------------------------


def _random_qubo(n, seed):
    from lagdsl.backends.qubo.form import Qubo
    rng = np.random.default_rng(seed)
    i, j = np.triu_indices(n, 1)
    return Qubo.build(n, rng.normal(size=n), i, j, rng.normal(size=len(i)), 0.5)


def test_energies_ising_and_fast_state_match_qiskit():
    from qiskit.quantum_info import Statevector
    from lagdsl.backends.qubo import qaoa
    from lagdsl.backends.qubo.form import all_energies, bits_of
    q = _random_qubo(6, 3)
    E = all_energies(q)
    assert np.allclose(E, q.energy(bits_of(np.arange(64), 6)))
    assert np.allclose(np.real(np.diag(q.pauli().to_matrix())), E)
    circ, b, g = qaoa.build_circuit(q, 2, q.scale())
    a = np.array([0.4, 0.9, 1.3, 0.2])
    sv = Statevector(qaoa.bind(circ, b, g, a)).data
    fast = qaoa.fast_state(E / q.scale(), a[:2], a[2:], 6)
    assert abs(abs(np.vdot(sv, fast)) - 1.0) < 1e-10          # equal up to a global phase


def test_fast_expectation_matches_statevector_estimator():
    from qiskit.primitives import StatevectorEstimator
    from lagdsl.backends.qubo import qaoa
    from lagdsl.backends.qubo.form import all_energies
    q = _random_qubo(6, 7)
    scale = q.scale()
    E = all_energies(q) / scale
    circ, b, g = qaoa.build_circuit(q, 2, scale)
    a = np.array([0.25, 0.6, 0.9, 0.35])
    job = StatevectorEstimator().run([(qaoa.bind(circ, b, g, a), q.pauli(scale))])
    want = float(job.result()[0].data.evs)
    got, _ = qaoa.fast_value_grad(E, a, 6, np.argsort(E), 1.0)
    assert got == pytest.approx(want, abs=1e-10)


def test_fast_state_matches_aer_statevector_and_shots():
    from qiskit import transpile
    from qiskit_aer import AerSimulator
    from lagdsl.backends.qubo import qaoa
    from lagdsl.backends.qubo.form import all_energies
    q = _random_qubo(5, 4)
    E = all_energies(q) / q.scale()
    circ, b, g = qaoa.build_circuit(q, 1, q.scale())
    a = np.array([0.7, 0.5])
    qc = qaoa.bind(circ, b, g, a).copy()
    qc.save_statevector()
    sim = AerSimulator(method="statevector")
    sv = np.asarray(sim.run(transpile(qc, sim)).result().get_statevector())
    fast = qaoa.fast_state(E, a[:1], a[1:], 5)
    assert abs(abs(np.vdot(sv, fast)) - 1.0) < 1e-8
    idx, counts = qaoa.aer_counts(circ, b, g, a, 20000, 0.0, seed=1)
    freq = np.zeros(32)
    freq[idx] = counts / counts.sum()
    assert 0.5 * np.abs(freq - np.abs(fast) ** 2).sum() < 0.03   # total variation at 20k shots


def test_adjoint_gradient_matches_finite_differences():
    from lagdsl.backends.qubo import qaoa
    from lagdsl.backends.qubo.form import all_energies
    q = _random_qubo(5, 5)
    E = all_energies(q)
    order = np.argsort(E)
    a = np.array([0.3, 0.8, 1.1, 0.4])
    for alpha in (1.0, 0.25):
        _, g = qaoa.fast_value_grad(E, a, 5, order, alpha)
        h = 1e-6
        num = [(qaoa.fast_value_grad(E, a + h * e, 5, order, alpha)[0]
                - qaoa.fast_value_grad(E, a - h * e, 5, order, alpha)[0]) / (2 * h) for e in np.eye(4)]
        assert np.allclose(g, num, atol=1e-5)


def test_qaoa_simulators_agree_on_a_small_model():
    text = "var x[1..4] binary\nmaximize f: 3*x[1] + 2*x[2] + 2*x[3] + x[4]\nsubject to c: 2*x[1] + x[2] + x[3] + x[4] <= 3\n"
    model = lagdsl.parse(text)
    for sim in ("fast", "statevector", "aer"):
        res = model.solve("qubo", sampler="qaoa", simulator=sim, seed=0, max_iter=2, restarts=1,
                          train_iter=30, shots=200)
        assert res.objective == 5.0 and res.stats["simulator"] == sim


def test_noise_lowers_feasibility_on_aer():
    model = load("mis_petersen")
    opts = dict(sampler="qaoa", simulator="aer", seed=0, max_iter=1, restarts=1, train_iter=40,
                shots=2000, repair=False)
    clean = model.solve("qubo", **opts)
    noisy = model.solve("qubo", noise=0.05, **opts)
    # measured: 0.98 of the noiseless shots are independent sets, 0.28 with 5% noise
    assert clean.stats["feasible_fraction"] > 0.9
    assert noisy.stats["feasible_fraction"] < 0.5


# --- exports ---------------------------------------------------------------------------------


def test_emit_qubo_json_round_trip():
    from lagdsl.backends.qubo.export import qubo_from_json
    from lagdsl.backends.qubo.form import bits_of
    model = load("mknap1")
    for method, form in (("augmented-lagrangian", "exact"), ("augmented-lagrangian", "relaxed"),
                         ("penalty", "exact")):
        prog = model.compile("qubo", method=method, export=form)
        q, names, _ = prog.exact_qubo() if form == "exact" else prog.relaxed_qubo()
        text = model.emit("qubo", backend="qubo", method=method, export=form)
        back, back_names = qubo_from_json(text)
        assert back_names == names
        X = bits_of(np.random.default_rng(0).integers(0, 1 << min(q.n, 62), 50), q.n)
        assert np.allclose(back.energy(X), q.energy(X))
        d = json.loads(text)
        assert d["encoding"][0]["variable"] == "x" and d["relaxed"]["rows"] == 7    # 3 rows always hold
        assert d["form"] == form


def test_emit_bqm_round_trip():
    import dimod
    from lagdsl.backends.qubo.form import bits_of
    model = load("mis_petersen")
    q, names, _ = model.compile("qubo").exact_qubo()
    bqm = dimod.BinaryQuadraticModel.from_serializable(json.loads(model.emit("bqm", backend="qubo")))
    assert list(bqm.variables) == names
    X = bits_of(np.arange(0, 1 << q.n, 7), q.n)
    got = bqm.energies((X, names))
    assert np.allclose(got, q.energy(X))


def test_emit_qasm_round_trip_with_trained_angles():
    import qiskit_qasm3_import  # noqa: F401  (a test dependency: a missing one must fail, not skip)
    from qiskit import qasm3
    from qiskit.quantum_info import Statevector
    from lagdsl.backends.qubo import qaoa
    from lagdsl.backends.qubo.form import all_energies
    model = load("mknap1")
    prog = model.compile("qubo", sampler="qaoa", seed=0, max_iter=1, restarts=1)
    prog.solve()
    circ = qasm3.loads(prog.emit("qasm"))
    s = prog.sampler
    fast = qaoa.fast_state(all_energies(s.qubo) / s.scale, s.angles[:2], s.angles[2:], 6)
    assert abs(abs(np.vdot(Statevector(circ).data, fast)) - 1.0) < 1e-8
    # untrained: free input angles, of the slack-free form on request (the exact slack
    # encoding needs 62 qubits, refused as a QAOA solve would be)
    free = qasm3.loads(model.emit("qasm", backend="qubo", export="relaxed"))
    assert len(free.parameters) == 4 and free.num_qubits == 6
    with pytest.raises(BackendRefusal, match="the QAOA circuit needs 62 qubits; simulator=fast holds at most 24"):
        model.emit("qasm", backend="qubo")


def test_quadratic_program_matches_qiskit_slack_count():
    import qiskit_optimization  # noqa: F401  (a test dependency: a missing one must fail, not skip)
    from qiskit_optimization.converters import QuadraticProgramToQubo
    for name in ("mknap1", "pet2", "pet3", "mis_petersen", "vertex_cover", "coloring", "tsp4"):
        qp = load(name).compile("qubo").quadratic_program()
        assert qp.get_num_binary_vars() == INSTANCES[name][3]
        qubo = QuadraticProgramToQubo().convert(qp)
        assert qubo.get_num_vars() == INSTANCES[name][4]
    qp = load("mknap1").compile("qubo").quadratic_program()
    x = np.zeros(6)
    x[[1, 2, 5]] = 1                                          # items 2, 3 and 6
    assert qp.objective.evaluate(x) == 3800.0 and qp.is_feasible(x)


def test_cli_compile_emit_qubo(tmp_path):
    out = tmp_path / "m.json"
    r = subprocess.run([sys.executable, "-m", "lagdsl", "compile", str(EX / "mknap1.lag"), "--data",
                        str(EX / "mknap1.json"), "--backend", "qubo", "--emit", "qubo", "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    # the exact encoding: the 6 items and the slack bits of the knapsack rows
    assert len(d["variables"]) == 62 and d["variables"][6] == "_slack[0]"
    assert d["form"] == "exact" and d["ground_state_exact"] is True


# --- history, plot, progress -------------------------------------------------------------------


def test_history_and_plot(tmp_path):
    import matplotlib  # noqa: F401  (a test dependency: a missing one must fail, not skip)
    from lagdsl.plot import save_plot
    res = load("pet2").solve("qubo", method="dual-ascent", sampler="anneal", seed=0, num_reads=20, max_iter=5)
    h = res.stats["history"]
    assert {"objective", "multiplier_norm", "violation", "feasible_fraction", "dual_bound"} <= set(h)
    assert len(h["step"]) == res.stats["iterations"]
    assert "final samples" in res.panels
    assert save_plot(res, str(tmp_path / "p.png")) >= 5
    assert (tmp_path / "p.png").stat().st_size > 0


def test_same_seed_same_result():
    a = load("pet3").solve("qubo", sampler="anneal", seed=3, num_reads=20, max_iter=3)
    b = load("pet3").solve("qubo", sampler="anneal", seed=3, num_reads=20, max_iter=3)
    assert a.objective == b.objective and a.stats["samples"] == b.stats["samples"]
    assert a.values["x"].to_dict() == b.values["x"].to_dict()
