"""The command line: exit codes, --json, error reports, compile -o, backends.

Most tests run ``python -m lagdsl`` in a subprocess, as a user would.  A stub backend (written
to a temporary module and registered by a tiny launcher) makes the exit-code contract testable
independently of any solver; the cvxpy and front-end tests cover the real path.
"""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

import lagdsl
from lagdsl import backend as B
from lagdsl.ir.model import Source, Span
from shared_models import knapsack_builder

JSON_KEYS = {"status", "objective", "variables", "duals", "max_violation", "backend", "stats"}

STUB = textwrap.dedent('''
    import os, sys
    from lagdsl.backend import Backend, Program, Refusal
    from lagdsl.result import Result

    class StubProgram(Program):
        backend = "stub"
        def __init__(self, model, options):
            self.model, self.options = model, options
        def solve(self):
            print("solver chatter on stdout")              # must not reach stdout with --json
            os.write(1, b"C-level chatter on fd 1\\n")
            if self.options["status"] == "crash":
                raise RuntimeError("boom")
            n = self.options["n"]
            return Result(status=self.options["status"], objective=2.5, backend="stub",
                          values={"x": {str(k): float(k % 2) for k in range(1, n + 1)}, "t": 0.25},
                          duals={"capacity": 0.5}, max_violation=0.0, stats={"seed": self.options["seed"]})
        def emit(self, fmt):
            if fmt == "lp":
                return "\\\\ stub LP\\nMaximize\\n obj: x\\nEnd\\n"
            return super().emit(fmt)

    class StubBackend(Backend):
        name = "stub"
        description = "a test double"
        options = {"status": ("optimal", "status to report"), "seed": (0, "random seed"),
                   "n": (3, "entries of x")}
        emits = ("lp",)
        def accepts(self, model):
            return [Refusal("constraint %s is not allowed here" % c.name, c.span)
                    for c in model.constraints.values() if c.name.startswith("bad")]
        def compile(self, model, options=None):
            return StubProgram(model, options)

    BACKEND = StubBackend()
''')

LAUNCH = ("import sys, lagdsl.backend as b; b.REGISTRY['stub'] = 'lagdsl_test_stub'; "
          "from lagdsl.cli import main; raise SystemExit(main(sys.argv[1:]))")


@pytest.fixture(scope="module")
def stubdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("stub")
    (d / "lagdsl_test_stub.py").write_text(STUB)
    return d


def run(*args, stub=None, cwd=None):
    """Run the CLI; with ``stub`` (a directory) through a launcher that registers it."""
    env = dict(os.environ)
    if stub is not None:
        env["PYTHONPATH"] = str(stub) + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [sys.executable, "-c", LAUNCH]
    else:
        cmd = [sys.executable, "-m", "lagdsl"]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


@pytest.fixture
def cli(monkeypatch, capfd):
    """Run ``main`` in this process (fast) with the stub backend registered; returns
    ``(exit status, stdout, stderr)`` captured at the file-descriptor level."""
    import types
    from lagdsl.cli import main
    mod = types.ModuleType("lagdsl_test_stub_inproc")
    exec(compile(STUB, "lagdsl_test_stub_inproc", "exec"), mod.__dict__)
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(B.REGISTRY, "stub", mod.__name__)

    def call(*args):
        capfd.readouterr()
        code = main([str(a) for a in args])
        out, err = capfd.readouterr()
        return code, out, err
    return call


def knap_ir(bad=False):
    b, x = knapsack_builder()
    if bad:
        c = b.subject_to("bad_pair", x[1] + x[2] <= 1)
        c.span = Span("knap.lag", 2, 12, 2, 20)
        b.model.source = Source("knap.lag", "var x[I] binary\nsubject to bad_pair: x[1] + x[2] <= 1\n")
    return b.build()


@pytest.fixture
def irfile(tmp_path):
    p = tmp_path / "knap.ir.json"
    p.write_text(lagdsl.Model.from_ir(knap_ir()).to_json(indent=1))
    return p


# --- exit codes and --json with the stub ------------------------------------------------------

def test_solve_json_is_one_object_with_the_contract_keys(stubdir, irfile):
    p = run("solve", irfile, "--backend", "stub", "--json", "--seed", "11", stub=stubdir)
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)                 # the whole stdout is exactly one JSON object
    assert set(obj) == JSON_KEYS
    assert obj["status"] == "optimal" and obj["objective"] == 2.5 and obj["backend"] == "stub"
    assert obj["variables"]["x"] == {"1": 1.0, "2": 0.0, "3": 1.0} and obj["variables"]["t"] == 0.25
    assert obj["stats"]["seed"] == 11
    assert "solver chatter" in p.stderr and "C-level chatter" in p.stderr


@pytest.mark.parametrize("status, want", [("optimal", 0), ("feasible", 0), ("infeasible", 1),
                                          ("unbounded", 1), ("limit", 1)])
def test_exit_status_follows_the_result(cli, irfile, status, want):
    code, out, err = cli("solve", irfile, "-b", "stub", "--option", "status=" + status, "--json")
    assert code == want, err
    assert json.loads(out)["status"] == status
    code, out, err = cli("solve", irfile, "-b", "stub", "--option", "status=" + status)
    assert code == want
    assert out.startswith("status: " + status)


def test_readable_summary_truncates_long_families(cli, irfile):
    code, out, err = cli("solve", irfile, "-b", "stub", "-O", "n=40")
    assert code == 0, err
    assert out.splitlines()[0] == "status: optimal    objective: 2.5 (maximize value)"
    assert "  x[1] = 1" in out and "  x[2]" not in out       # zeros are not listed
    assert "  t = 0.25" in out
    assert "10 more non-zero values of x not shown" in out    # 20 non-zero, 10 shown
    assert "solver chatter" not in out
    code, out, err = cli("solve", irfile, "-b", "stub", "-O", "n=40", "--all")
    assert "  x[39] = 1" in out and "not shown" not in out
    code, out, err = cli("solve", irfile, "-b", "stub", "--quiet")
    assert out.strip() == "status: optimal    objective: 2.5 (maximize value)"


def test_refusal_is_positioned_and_exits_2(stubdir, tmp_path):
    f = tmp_path / "bad.ir.json"
    f.write_text(lagdsl.Model.from_ir(knap_ir(bad=True)).to_json())
    p = run("solve", f, "-b", "stub", "--json", stub=stubdir)
    assert p.returncode == 2
    # --json: the error as one object on stdout too, positioned like the text on stderr
    assert json.loads(p.stdout) == {"status": "error", "exit": 2, "error": {
        "message": "backend stub cannot take this model: constraint bad_pair is not allowed here",
        "file": "knap.lag", "line": 2, "col": 12,
        # the refusal names the backends that take the model (binary linear: auto's order first)
        "hint": "the highs, cvxpy and qubo backends accept this model: --backend highs"}}
    lines = p.stderr.splitlines()
    assert lines[0].startswith("knap.lag:2:12: refused: backend stub cannot take this model")
    assert lines[1].strip() == "subject to bad_pair: x[1] + x[2] <= 1"
    assert lines[2] == "    " + " " * 11 + "^~~~~~~~"
    assert "Traceback" not in p.stderr


def test_internal_error_exit_3_and_debug_traceback(cli, irfile):
    code, out, err = cli("solve", irfile, "-b", "stub", "-O", "status=crash")
    assert code == 3
    assert "internal error in lagdsl (please report): RuntimeError: boom" in err
    assert "Traceback" not in err
    code, out, err = cli("solve", irfile, "-b", "stub", "-O", "status=crash", "--debug")
    assert code == 3 and "Traceback" in err


@pytest.mark.parametrize("args, msg", [
    (["--option", "colour=red"], "no option 'colour'"),
    (["--option", "n"], "expected NAME=VALUE"),
    (["--option", "n=many"], "option n=many: expected an integer"),
    (["--set", "n"], "expected NAME=VALUE"),
    (["--data", "missing.json"], "data file not found: missing.json"),
])
def test_user_errors_exit_2_without_traceback(cli, irfile, args, msg):
    code, out, err = cli("solve", irfile, "-b", "stub", *args)
    assert code == 2, (out, err)
    assert msg in err and "Traceback" not in err


def test_compile_lp_through_backend_to_stdout_and_file(cli, irfile, tmp_path):
    code, out, err = cli("compile", irfile, "--backend", "stub", "--emit", "lp")
    assert code == 0 and out.startswith("\\ stub LP")
    dest = tmp_path / "m.lp"
    code, out, err = cli("compile", irfile, "-b", "stub", "--emit", "lp", "-o", dest)
    assert code == 0 and out == "" and dest.read_text().startswith("\\ stub LP")
    assert "wrote %s" % dest in err
    code, out, err = cli("compile", irfile, "-b", "stub", "--emit", "gams")
    assert code == 2 and "cannot emit 'gams'" in err


def test_check_lists_backends_and_reasons(cli, tmp_path):
    f = tmp_path / "bad.ir.json"
    f.write_text(lagdsl.Model.from_ir(knap_ir(bad=True)).to_json())
    code, out, err = cli("check", f)
    assert code == 0, err
    assert "model knap" in out and "6 unknowns" not in out and "5 unknowns" in out
    assert "class:" in out
    assert re.search(r"^  stub +refuses: knap\.lag:2:12: constraint bad_pair is not allowed here$",
                     out, re.M), out
    code, out, err = cli("check", f, "--json")
    info = json.loads(out)
    assert info["backends"]["stub"]["accepts"] is False and "cvxpy" in info["backends"]


# --- the real entry point ---------------------------------------------------------------------

def test_backends_lists_cvxpy(cli):
    p = run("backends")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("cvxpy")
    assert "formats: ir" in p.stdout
    code, out, err = cli("backends", "--json")
    rows = json.loads(out)
    assert "cvxpy" in rows and "ir" in rows["cvxpy"]["formats"]
    assert rows["stub"]["options"]["n"] == {"default": 3, "help": "entries of x", "allowed": "an integer"}


def test_compile_emit_ir_to_file_and_read_back(irfile, tmp_path):
    out = tmp_path / "again.json"
    p = run("compile", irfile, "--emit", "ir", "-o", out)
    assert p.returncode == 0, p.stderr
    m = lagdsl.Model.from_json(out.read_text())
    assert m.to_json() == lagdsl.Model.from_ir(knap_ir()).to_json()
    p = run("compile", irfile, "--emit", "ir")
    assert json.loads(p.stdout)["format"] == "lagdsl-ir"


def test_show_text_and_latex(irfile):
    p = run("show", irfile)
    assert p.returncode == 0 and "var x[I] binary" in p.stdout
    p = run("show", irfile, "--latex")
    assert p.returncode == 0 and p.stdout.startswith("\\begin{align*}")


def test_unknown_backend_exits_2(irfile):
    p = run("solve", irfile, "--backend", "nope")
    assert p.returncode == 2 and "unknown backend 'nope'" in p.stderr and "Traceback" not in p.stderr
    assert p.stdout == ""


def test_missing_file_bad_ir_and_usage_exit_2(cli, tmp_path):
    code, out, err = cli("solve", tmp_path / "missing.lag")
    assert code == 2 and "model file not found" in err
    bad = tmp_path / "v2.json"
    bad.write_text('{"format": "lagdsl-ir", "version": 99}')
    code, out, err = cli("show", bad)
    assert code == 2 and "version 99 is not supported" in err and "Traceback" not in err
    code, out, err = cli("show", tmp_path)
    assert code == 2 and "directory" in err
    from lagdsl.cli import main
    for argv in (["frobnicate"], ["solve"]):
        with pytest.raises(SystemExit) as ei:
            main(argv)
        assert ei.value.code == 2
    # a seed is checked by the shared validator (lagdsl.options.SEED), before the model loads
    code, out, err = cli("solve", tmp_path / "missing.lag", "--seed", "x")
    assert code == 2 and err == 'error: --seed "x": expected an integer in [0, 4294967295]\n'


def test_main_in_process(irfile, capsys):
    from lagdsl.cli import main
    assert main(["show", str(irfile)]) == 0
    assert "model knap" in capsys.readouterr().out
    assert main(["solve", str(irfile), "--set", "=3"]) == 2
    assert "not a name" in capsys.readouterr().err


# --- with the front end (and cvxpy) -----------------------------------------------------------

KNAP = """model knap
set I = 1..5
param w[I]
param v[I] = [3, 4, 5, 8, 10]
param cap = 10
var x[I] binary
maximize value: sum(i in I) v[i] * x[i]
subject to capacity: sum(i in I) w[i] * x[i] <= cap
"""


@pytest.fixture
def lagdir(tmp_path):
    (tmp_path / "knap.lag").write_text(KNAP)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "knap.json").write_text('{"w": [2, 3, 4, 5, 9]}')
    return tmp_path


def test_syntax_error_has_position_line_and_caret(tmp_path):
    f = tmp_path / "bad.lag"
    f.write_text("set I = 1..3\nvar x[I] binary\nsubject to c: x[1] + < 3\n")
    p = run("check", f)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    first = p.stderr.splitlines()[0]
    assert first.startswith("%s:3:" % f)
    assert "subject to c: x[1] + < 3" in p.stderr
    assert "^" in p.stderr


def test_data_path_relative_to_cwd(lagdir):
    p = run("show", "knap.lag", "--data", "data/knap.json", cwd=lagdir)
    assert p.returncode == 0, p.stderr
    assert "param w[I]" in p.stdout


def test_solve_lag_with_cvxpy(lagdir, cli, monkeypatch):
    p = run("solve", "knap.lag", "--data", "data/knap.json", "--json", cwd=lagdir)
    assert p.returncode == 0, p.stderr
    obj = json.loads(p.stdout)
    assert set(obj) == JSON_KEYS
    assert obj["status"] == "optimal" and obj["objective"] == pytest.approx(15)
    assert obj["variables"]["x"] == {"1": 1, "2": 1, "3": 0, "4": 1, "5": 0}
    monkeypatch.chdir(lagdir)
    code, out, err = cli("solve", "knap.lag", "--data", "data/knap.json", "--set", "cap=2")
    assert code == 0 and "objective: 3 (maximize value)" in out


def test_infeasible_lag_exits_1_with_json(tmp_path):
    f = tmp_path / "inf.lag"
    f.write_text("var x >= 0, <= 1\nminimize c: x\nsubject to big: x >= 2\n")
    p = run("solve", f, "--json")
    assert p.returncode == 1, p.stderr
    assert json.loads(p.stdout)["status"] == "infeasible"
