"""The Python API: lagdsl.load / parse / Model, with a stub backend and (when present) cvxpy."""
import subprocess
import sys

import pytest
import sympy as sp

import lagdsl
from lagdsl import backend as B
from lagdsl.backend import Backend, Program, Refusal
from lagdsl.errors import BackendRefusal, LagError
from lagdsl.ir.model import Source, Span
from lagdsl.result import Result
from shared_models import knapsack_builder

KNAP = """model knap
set I = 1..5
param w[I] = [2, 3, 4, 5, 9]
param v[I] = [3, 4, 5, 8, 10]
param cap = 10
var x[I] binary
maximize value: sum(i in I) v[i] * x[i]
subject to capacity: sum(i in I) w[i] * x[i] <= cap
"""


# --- a stub backend: records what it was given ---------------------------------------------

class StubProgram(Program):
    backend = "stub"

    def __init__(self, model, options):
        self.model, self.options = model, options

    def solve(self):
        return Result(status=self.options["status"], objective=1.5,
                      values={n: 0.0 for n in self.model.vars}, backend="stub",
                      stats={"options": dict(self.options)})

    def emit(self, fmt):
        if fmt == "lp":
            return "\\ stub LP of %s\n" % self.model.name
        return super().emit(fmt)


class StubBackend(Backend):
    name = "stub"
    description = "a test double"
    options = {"status": ("optimal", "status to report"), "seed": (0, "random seed"),
               "iters": (10, "iterations")}
    emits = ("lp",)

    def accepts(self, model):
        return [Refusal("constraint %s is not allowed here" % c.name, c.span)
                for c in model.constraints.values() if c.name.startswith("bad")]

    def compile(self, model, options=None):
        return StubProgram(model, options)


BACKEND = StubBackend()


class SeedlessBackend(StubBackend):
    name = "seedless"
    options = {"status": ("optimal", "status to report")}


SEEDLESS = SeedlessBackend()


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setitem(B.REGISTRY, "stub", __name__)
    return BACKEND


def knap_ir(extra_bad=False):
    b, x = knapsack_builder()
    if extra_bad:
        c = b.subject_to("bad_one", x[1] + x[2] <= 1)
        c.span = Span("knap.lag", 3, 12, 3, 19)
        b.model.source = Source("knap.lag", "line one\nline two\nsubject to bad_one: x[1] + x[2] <= 1\n")
    return b.build()


# --- package surface ---------------------------------------------------------------------------

def test_package_exports():
    for name in ("load", "parse", "Model", "Result", "LagError", "ModelBuilder"):
        assert hasattr(lagdsl, name), name
        assert name in dir(lagdsl)
    assert lagdsl.Result is Result and lagdsl.LagError is LagError
    from lagdsl.ir.builder import ModelBuilder
    assert lagdsl.ModelBuilder is ModelBuilder
    with pytest.raises(AttributeError):
        lagdsl.no_such_thing


def test_import_is_cheap():
    code = ("import sys, lagdsl; heavy = [m for m in ('cvxpy', 'torch', 'qiskit', 'sympy', 'numpy') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = ("import sys, lagdsl; lagdsl.Model; lagdsl.ModelBuilder; "
            "print([m for m in ('cvxpy', 'torch', 'qiskit') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- Model from IR ---------------------------------------------------------------------------

def test_from_ir_inspect_and_print():
    m = lagdsl.Model.from_ir(knap_ir())
    assert m.ir.vars["x"].domain == "binary" and m.name == "knap"
    assert repr(m) == "<lagdsl.Model knap: 5 unknowns, 1 constraints>"
    assert "var x[I] binary" in str(m)
    assert "subject to capacity: sum(i in I) (w[i]*x[i]) <= 10" in str(m)
    assert m._repr_latex_() == m.to_latex()
    assert r"\sum_{i \in I}" in m.to_latex()
    with pytest.raises(TypeError):
        lagdsl.Model("not an IR model")


def test_json_round_trip_through_model():
    m = lagdsl.Model.from_ir(knap_ir())
    m2 = lagdsl.Model.from_json(m.to_json())
    assert m2.to_json() == m.to_json()
    assert sp.srepr(m2.ir.constraints["capacity"].body) == sp.srepr(m.ir.constraints["capacity"].body)
    m3 = lagdsl.Model.from_json(__import__("json").loads(m.to_json(indent=2)))
    assert str(m3) == str(m)


def test_load_reads_ir_json(tmp_path):
    p = tmp_path / "knap.ir.json"
    p.write_text(lagdsl.Model.from_ir(knap_ir()).to_json(indent=1))
    m = lagdsl.load(p)
    assert m.ir.constraints["capacity"].upper == 10
    with pytest.raises(LagError, match="already bound"):
        lagdsl.load(p, params={"n": 3})


def test_load_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(LagError, match="not found"):
        lagdsl.load(tmp_path / "nope.lag")
    with pytest.raises(LagError, match="directory"):
        lagdsl.load(tmp_path)


# --- compile and solve through the registry --------------------------------------------------

def test_solve_passes_coerced_options_and_seed(stub):
    m = lagdsl.Model.from_ir(knap_ir())
    r = m.solve("stub", iters="25", seed=7)
    assert r.status == "optimal" and r.backend == "stub"
    assert r.stats["options"] == {"status": "optimal", "seed": 7, "iters": 25}
    assert "compile" in r.times and "solve" in r.times
    assert m.solve("stub", status="infeasible").solved is False


def test_seed_is_ignored_by_deterministic_backends(monkeypatch):
    import types
    mod = types.ModuleType("_lagdsl_seedless")
    mod.BACKEND = SEEDLESS
    monkeypatch.setitem(sys.modules, "_lagdsl_seedless", mod)
    monkeypatch.setitem(B.REGISTRY, "seedless", "_lagdsl_seedless")
    r = lagdsl.Model.from_ir(knap_ir()).solve("seedless", seed=3)
    assert r.stats["options"] == {"status": "optimal"}


def test_unknown_backend_and_option_are_user_errors(stub):
    m = lagdsl.Model.from_ir(knap_ir())
    with pytest.raises(LagError, match="unknown backend 'nope'"):
        m.solve("nope")
    with pytest.raises(LagError, match="no option 'colour'"):
        m.solve("stub", colour="red")
    with pytest.raises(LagError, match="option iters=many: expected an integer"):
        m.solve("stub", iters="many")


def test_refusal_points_at_the_constraint(stub):
    m = lagdsl.Model.from_ir(knap_ir(extra_bad=True))
    with pytest.raises(BackendRefusal) as ei:
        m.compile("stub")
    text = ei.value.format()
    assert text.splitlines()[0].startswith("knap.lag:3:12: refused: backend stub cannot take this model")
    assert "subject to bad_one: x[1] + x[2] <= 1" in text
    assert "^~~~~~~" in text


def test_check_reports_sizes_class_and_backends(stub):
    info = lagdsl.Model.from_ir(knap_ir(extra_bad=True)).check()
    assert info["model"] == "knap"
    assert info["sizes"]["unknowns"] == 5 and info["sizes"]["constraints"] == 2
    assert "kind" in info["class"]
    st = info["backends"]["stub"]
    assert st["accepts"] is False
    assert st["reasons"] == ["knap.lag:3:12: constraint bad_one is not allowed here"]
    assert set(info["backends"]) >= {"stub", "cvxpy"}
    ok = lagdsl.Model.from_ir(knap_ir()).check()
    assert ok["backends"]["stub"] == {"accepts": True, "reasons": [], "description": "a test double"}


def test_emit_formats(stub):
    m = lagdsl.Model.from_ir(knap_ir())
    assert m.emit("lp", backend="stub") == "\\ stub LP of knap\n"
    assert lagdsl.Model.from_json(m.emit("ir")).to_json() == m.to_json()
    assert m.emit("latex").startswith("\\begin{align*}")
    assert m.emit("text") == str(m)
    with pytest.raises(BackendRefusal, match="cannot emit 'xyz'; formats: ir, text, latex, lp, mps"):
        m.emit("xyz", backend="stub")
    with pytest.raises(LagError, match="unknown output format 'xyz'"):
        m.emit("xyz")
    lp = m.emit("lp")                      # no backend: the LP writer of lagdsl.export
    assert "Maximize" in lp or "maximize" in lp.lower()
    assert "MPS" in m.emit("mps").upper() or "ROWS" in m.emit("mps")


# --- with the front end and the cvxpy backend -------------------------------------------------

def test_parse_and_load_with_data_and_params(tmp_path):
    m = lagdsl.parse(KNAP)
    assert m.ir.params["cap"].values == 10
    m = lagdsl.parse(KNAP, params={"cap": 5})
    assert float(m.ir.params["cap"].values) == 5
    p = tmp_path / "knap.lag"
    p.write_text(KNAP.replace("param w[I] = [2, 3, 4, 5, 9]", "param w[I]"))
    (tmp_path / "d.json").write_text('{"w": [1, 1, 1, 1, 1]}')
    m = lagdsl.load(p, data=str(tmp_path / "d.json"))
    assert list(m.ir.params["w"].values) == [1, 1, 1, 1, 1]
    m = lagdsl.load(str(p), data={"w": [2, 2, 2, 2, 2]})
    assert m.ir.source.path.endswith("knap.lag")


def test_parse_error_is_positioned():
    with pytest.raises(LagError) as ei:
        lagdsl.parse("set I = 1..3\nvar x[I] binary\nsubject to c: x[1] + < 3\n", path="bad.lag")
    text = ei.value.format()
    assert text.startswith("bad.lag:3:")
    assert "subject to c: x[1] + < 3" in text and "^" in text


def test_solve_knapsack_with_cvxpy():
    r = lagdsl.parse(KNAP).solve(backend="cvxpy")
    assert r.status == "optimal" and r.backend == "cvxpy"
    assert r.objective == pytest.approx(15)
    assert r.values["x"] == {"1": 1, "2": 1, "3": 0, "4": 1, "5": 0}
    r2 = lagdsl.parse(KNAP, params={"cap": 2}).solve(backend="cvxpy")
    assert r2.objective == pytest.approx(3)


def test_builder_model_solves_with_cvxpy():
    r = lagdsl.Model.from_ir(knap_ir()).solve("cvxpy")
    assert r.status == "optimal" and r.objective == pytest.approx(15)
