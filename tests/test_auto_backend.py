"""The ``auto`` backend: chosen by model class, the first taker of a preference list."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import lagdsl
from lagdsl import backend as B
from lagdsl.backend import Backend, Program, Refusal, choose_backend
from lagdsl.cli import main
from lagdsl.errors import BackendRefusal
from lagdsl.ir.classify import classify
from lagdsl.result import Result

EX = Path(__file__).resolve().parent.parent / "examples"


def load(name):
    data = EX / (name + ".json")
    return lagdsl.load(EX / (name + ".lag"), data=data if data.exists() else None)


class FakeHighs(Backend):
    """Stands in for the highs backend: takes LP, MILP, QP, binary models; solves nothing."""

    name = "highs"

    def accepts(self, model):
        kind = classify(model).kind
        ok = kind in ("LP", "MILP", "QP", "binary linear", "binary quadratic")
        return [] if ok else [Refusal("class %s is not for highs" % kind)]

    def compile(self, model, options=None):
        class P(Program):
            backend = "highs"

            def solve(self):
                return Result("optimal", 0.0, {})
        return P()


BACKEND = FakeHighs()

# example -> (class, choice without highs, choice with highs)
CASES = {
    "transport": ("LP", "cvxpy", "highs"),
    "facility": ("MILP", "cvxpy", "highs"),
    "portfolio": ("QP", "cvxpy", "highs"),
    "chebyshev": ("SOCP", "cvxpy", "cvxpy"),
    "hs71": ("NLP", "lagrangian", "lagrangian"),
    "heat": ("PDE", "pinn", "pinn"),
    "maxcut": ("binary quadratic", "cvxpy", "highs"),
    "hs006": ("QCQP", "lagrangian", "lagrangian"),      # cvxpy refuses the curved equality
}


@pytest.fixture
def registry():
    """The registry, restored afterwards in its own order (monkeypatch.delitem would put a
    deleted entry back at the end, and every later listing of backends would change)."""
    saved = dict(B.REGISTRY)
    yield B.REGISTRY
    B.REGISTRY.clear()
    B.REGISTRY.update(saved)


@pytest.fixture
def no_highs(registry):
    registry.pop("highs", None)


@pytest.fixture
def fake_highs(registry):
    registry["highs"] = __name__


@pytest.mark.parametrize("name", sorted(CASES))
def test_auto_picks_by_class(name, no_highs):
    kind, want, _ = CASES[name]
    m = load(name)
    assert classify(m.ir).kind == kind
    choice = choose_backend(m.ir)
    assert choice.backend == want
    assert choice.reason.startswith("class %s: the first of %s that accepts it"
                                    % (kind, ", ".join(B.AUTO_PREFERENCE[kind])))
    assert "qubo" not in B.AUTO_PREFERENCE[kind]


@pytest.mark.parametrize("name", sorted(CASES))
def test_auto_prefers_highs_when_registered(name, fake_highs):
    kind, _, want = CASES[name]
    assert choose_backend(load(name).ir).backend == want


def test_reason_names_what_was_skipped(no_highs):
    assert choose_backend(load("transport").ir).reason == (
        "class LP: the first of highs, cvxpy, lagrangian that accepts it; highs not registered")
    assert choose_backend(load("hs006").ir).reason == (
        "class QCQP: the first of cvxpy, lagrangian that accepts it; cvxpy refuses it")


def test_solve_records_the_choice(no_highs):
    r = load("transport").solve()
    assert r.backend == "cvxpy" and r.stats["backend"] == "cvxpy"
    assert r.stats["backend_choice"] == ("auto: class LP: the first of highs, cvxpy, lagrangian "
                                         "that accepts it; highs not registered")
    assert r.objective == pytest.approx(153.675)
    forced = load("transport").solve("lagrangian")
    assert forced.backend == "lagrangian" and "backend_choice" not in forced.stats


def test_options_steer_the_choice(no_highs):
    minlp = lagdsl.parse("var x integer >= 0 <= 3\nvar y >= 0 <= 3\nminimize f: sin(x) + y^3\n"
                         "subject to c: x + y >= 1\n", path="m.lag")
    with pytest.raises(BackendRefusal) as ei:
        minlp.solve()
    assert ei.value.message.startswith("no backend takes this MINLP model (auto tried lagrangian, "
                                       "cvxpy): lagrangian: variable x (line 1) is integer")
    r = minlp.compile(relax="true")           # lagrangian takes the relaxation
    assert r.backend == "lagrangian" and r.choice.backend == "lagrangian"


def test_check_shows_the_choice(capsys, no_highs):
    assert main(["check", str(EX / "hs71.lag")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "auto: lagrangian (class NLP: the first of lagrangian, cvxpy that accepts it)"
    assert main(["check", str(EX / "hs71.lag"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["auto"] == {"backend": "lagrangian",
                            "reason": "class NLP: the first of lagrangian, cvxpy that accepts it"}


def test_cli_solve_defaults_to_auto_and_backend_forces(capsys, no_highs):
    assert main(["solve", str(EX / "transport.lag"), "--data", str(EX / "transport.json"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "cvxpy" and out["stats"]["backend_choice"].startswith("auto: class LP")
    assert main(["solve", str(EX / "hs35.lag"), "--backend", "lagrangian", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["backend"] == "lagrangian" and "backend_choice" not in out["stats"]
