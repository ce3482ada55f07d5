"""Output paths (docs/security.md, "Output paths"): no output lands on an input of the run or
goes through a symbolic link, files are written whole, ``--save`` keeps other files, and every
path and format is checked before anything is solved.  Beside the golden cases of
``tests/bad_input/outputs`` (exit code and message), these check the disk: after a refused
run every file is unchanged, content and inode."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
from pathlib import Path

import pytest

import lagdsl
from lagdsl import _stdio
from lagdsl.cli import main
from lagdsl.errors import LagError
from lagdsl.options import OptionError
from lagdsl.outputs import OutputPathError, check_output_path, check_save_dir

CORPUS = Path(__file__).parent / "bad_input" / "outputs"
REFUSED = sorted(p.parent.name for p in CORPUS.glob("*/args"))
EX = Path(__file__).parent.parent / "examples"
BIN = "var x binary\nvar y binary\nmaximize f: x + y\nsubject to c: x + y <= 1\n"
LIN = "var x >= 1, <= 2\nminimize f: x\n"
PINN_FAST = ["--backend", "pinn", "--option", "epochs=20", "--option", "lbfgs=5", "--option", "points=32"]


def cli(cwd, *argv) -> tuple[int, str, str]:
    """``lagdsl ARGV`` in-process in ``cwd``: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as exc:
                code = exc.code
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def snapshot(root: Path) -> dict:
    """Every entry under ``root``: a link's target, a file's bytes and inode, a directory."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if p.is_symlink():
                snap[str(p.relative_to(root))] = ("link", os.readlink(p), st.st_ino)
            elif p.is_dir():
                snap[str(p.relative_to(root))] = ("dir", st.st_ino)
            else:
                snap[str(p.relative_to(root))] = ("file", p.read_bytes(), st.st_ino, st.st_mtime_ns)
    return snap


@pytest.mark.parametrize("case", REFUSED)
def test_a_refused_output_leaves_every_file_as_it_was(case, tmp_path):
    work = tmp_path / case
    shutil.copytree(CORPUS / case, work, symlinks=True)
    before = snapshot(work)
    code, _, err = cli(work, *shlex.split((work / "args").read_text()))
    assert code == 2, err
    assert snapshot(work) == before          # content and inode, and no temporary file left


def test_a_hard_link_to_the_model_is_the_model(tmp_path):
    (tmp_path / "m.lag").write_text(BIN)
    os.link(tmp_path / "m.lag", tmp_path / "other.lp")
    before = snapshot(tmp_path)
    code, _, err = cli(tmp_path, "compile", "m.lag", "--emit", "lp", "-o", "other.lp")
    assert code == 2 and err.startswith("error: -o other.lp: is the model file (m.lag) of this run")
    assert snapshot(tmp_path) == before


def test_a_dangling_link_is_refused(tmp_path):
    # not a corpus case: the wheel test copies the tree, following links
    (tmp_path / "m.lag").write_text(BIN)
    (tmp_path / "link.lp").symlink_to("nowhere/new.lp")
    before = snapshot(tmp_path)
    code, _, err = cli(tmp_path, "compile", "m.lag", "--emit", "lp", "-o", "link.lp")
    assert code == 2 and err.startswith(
        "error: -o link.lp: is a symbolic link (to nowhere/new.lp); lagdsl never writes through a link\n")
    assert snapshot(tmp_path) == before


def test_a_link_to_a_device_is_written_and_a_new_file_is_whole(tmp_path):
    (tmp_path / "m.lag").write_text(BIN)
    (tmp_path / "null").symlink_to(os.devnull)       # as /dev/stdout on a terminal or a pipe
    code, _, err = cli(tmp_path, "compile", "m.lag", "--emit", "lp", "-o", "null")
    assert code == 0, err
    assert (tmp_path / "null").is_symlink()
    code, _, err = cli(tmp_path, "compile", "m.lag", "--emit", "lp", "-o", "sub/../out.lp")
    assert code == 2 and "the directory sub/.. does not exist" in err
    code, _, err = cli(tmp_path, "compile", "m.lag", "--emit", "lp", "-o", "out.lp")
    assert code == 0 and (tmp_path / "out.lp").read_text().startswith("\\ lagdsl LP export")
    assert sorted(os.listdir(tmp_path)) == ["m.lag", "null", "out.lp"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.lp"
    target.write_text("old")
    ino = target.stat().st_ino

    def full_disk(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        _stdio.write_atomic(str(target), "new text")
    assert target.read_text() == "old" and target.stat().st_ino == ino
    assert os.listdir(tmp_path) == ["out.lp"]


def test_paths_and_formats_are_checked_before_solving_or_emitting(tmp_path, monkeypatch):
    (tmp_path / "m.lag").write_text(LIN)
    calls = []
    monkeypatch.setattr(lagdsl.Model, "solve", lambda *a, **k: calls.append("solve"))
    monkeypatch.setattr(lagdsl.Model, "emit", lambda *a, **k: calls.append("emit"))
    for argv in (["solve", "m.lag", "-b", "lagrangian", "--plot", "out.xyz"],
                 ["solve", "m.lag", "-b", "lagrangian", "--plot", "m.lag"],
                 ["solve", "m.lag", "-b", "lagrangian", "--seed", "-1"],
                 ["compile", "m.lag", "--emit", "lp", "-o", "m.lag"]):
        code, _, err = cli(tmp_path, *argv)
        assert code == 2, err
    assert calls == []


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short pinn run of examples/poisson1d.lag saved with the CLI: its folder."""
    work = tmp_path_factory.mktemp("pinn")
    shutil.copy(EX / "poisson1d.lag", work / "m.lag")
    code, _, err = cli(work, "solve", "m.lag", *PINN_FAST, "-q", "--save", "out")
    assert code in (0, 1), err
    assert sorted(os.listdir(work / "out")) == ["fields.json", "model.json", "weights.pt"]
    return work


def test_overwrite_replaces_only_lagdsls_own_files(trained, tmp_path):
    work = tmp_path / "w"
    shutil.copytree(trained, work)
    (work / "out" / "notes.txt").write_text("my notes")
    (work / "out" / "fields.json").write_text("stale")
    notes_ino = (work / "out" / "notes.txt").stat().st_ino
    code, _, err = cli(work, "solve", "m.lag", *PINN_FAST, "-q", "--save", "out")
    assert code == 2 and "the directory is not empty (4 entries" in err
    assert (work / "out" / "fields.json").read_text() == "stale"
    code, _, err = cli(work, "solve", "m.lag", *PINN_FAST, "-q", "--save", "out", "--overwrite")
    assert code in (0, 1), err
    assert sorted(os.listdir(work / "out")) == ["fields.json", "model.json", "notes.txt", "weights.pt"]
    assert (work / "out" / "notes.txt").read_text() == "my notes"
    assert (work / "out" / "notes.txt").stat().st_ino == notes_ino
    meta = json.loads((work / "out" / "fields.json").read_text())
    assert meta["format"] == "lagdsl-pinn-fields/1"
    assert set(lagdsl.load_fields(str(work / "out"))) == {"u"}


def test_save_fields_from_python_keeps_off_the_models_own_file(tmp_path):
    from lagdsl.backends.pinn.results import save_fields
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(EX / "poisson1d.lag", run / "model.json")       # .lag text under that name
    m = lagdsl.load(str(run / "model.json"))
    r = m.solve("pinn", epochs=5, lbfgs=0, points=16)
    with pytest.raises(OutputPathError) as info:
        save_fields(r, m.ir, str(run), overwrite=True)
    assert "is the model file of this run" in info.value.message
    assert (run / "model.json").read_text() == (EX / "poisson1d.lag").read_text()
    with pytest.raises(OutputPathError, match="the directory is not empty"):
        save_fields(r, m.ir, str(run))
    paths = save_fields(r, m.ir, str(tmp_path / "new" / "deeper"))
    assert [os.path.basename(p) for p in paths] == ["weights.pt", "fields.json", "model.json"]


def test_the_checks_compare_resolved_paths_and_inodes(tmp_path):
    from lagdsl.frontend.files import inputs_read, read_text, recording_inputs
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "m.lag"
    f.write_text(BIN)
    (tmp_path / "dirlink").symlink_to("d")
    with recording_inputs():
        read_text(str(f), "model file")
        inputs = inputs_read()
    assert [i.what for i in inputs] == ["model file"]
    assert inputs_read() == []                      # recorded only inside the block
    for other in (tmp_path / "dirlink" / "m.lag", tmp_path / "d" / ".." / "d" / "m.lag"):
        with pytest.raises(OutputPathError, match="is the model file"):
            check_output_path(str(other), inputs, "-o")
    assert check_output_path(str(tmp_path / "d" / "m.lp"), inputs, "-o")
    with pytest.raises(OutputPathError, match="is a symbolic link"):
        check_save_dir(str(tmp_path / "dirlink"), ["a.json"], inputs)


# --- seeds -----------------------------------------------------------------------------------

def test_one_seed_rule_on_every_path():
    m = lagdsl.parse(BIN)
    assert m.solve("qubo", seed=2 ** 32 - 1).status == "optimal"
    assert m.solve("qubo", seed="7").status == "optimal"             # as --option gives it
    for bad in (-1, 2 ** 32, 10 ** 23, 1.5, True, "x"):
        with pytest.raises(OptionError, match=r"option seed=.*: expected an integer in \[0, 4294967295\]"):
            m.solve("qubo", seed=bad)
        with pytest.raises(OptionError):
            m.solve("cvxpy", seed=bad)          # checked even where no backend uses it
    with pytest.raises(OptionError, match="seed=-1"):
        m.solve("qubo", **{"seed": -1})
    import numpy as np
    assert m.solve("qubo", seed=np.int64(3)).status == "optimal"


# --- JSON ------------------------------------------------------------------------------------

def _strict(text: str):
    def no_constant(name):
        raise AssertionError("non-standard JSON literal %s" % name)
    return json.loads(text, parse_constant=no_constant)


def test_one_number_encoding_in_every_json():
    from lagdsl.jsonnum import dumps
    from lagdsl.ir.values import SetValue
    from lagdsl.result import FamilyValues, Result
    r = Result("limit", objective=float("inf"), max_violation=float("nan"),
               values={"x": FamilyValues([1.0, float("-inf"), float("nan")], [SetValue([1, 2, 3])]),
                       "y": float("nan")},
               stats={"bound": float("-inf"), "n": 3})
    for text in (r.to_json(), r.to_json(indent=1)):
        d = _strict(text)
        assert d["objective"] == "inf" and d["max_violation"] == "nan"
        assert d["variables"] == {"x": {"1": 1.0, "2": "-inf", "3": "nan"}, "y": "nan"}
        assert d["stats"]["bound"] == "-inf" and d["stats"]["n"] == 3
    assert Result("error").to_json_dict()["objective"] is None         # no value: null
    import numpy as np
    assert _strict(dumps({"a": np.array([1.0, np.inf]), "b": np.float32("nan"), "c": (1, -np.inf)})) == \
        {"a": [1.0, "inf"], "b": "nan", "c": [1, "-inf"]}


def test_cli_json_outputs_are_strict(tmp_path):
    (tmp_path / "m.lag").write_text(BIN)
    for argv in (["check", "m.lag", "--json"], ["backends", "--json"],
                 ["solve", "m.lag", "-b", "qubo", "--json"],
                 ["compile", "m.lag", "-b", "qubo", "--emit", "qubo"]):
        code, out, err = cli(tmp_path, *argv)
        assert code == 0, err
        _strict(out)


def test_json_errors_are_objects_on_stdout(tmp_path):
    (tmp_path / "m.lag").write_text(LIN)
    code, out, err = cli(tmp_path, "solve", "m.lag", "--json", "--max-elements", "0")
    assert code == 2 and "usage:" in err
    d = _strict(out)
    assert d["status"] == "error" and d["exit"] == 2
    assert d["error"]["message"].endswith("argument --max-elements: '0' is not a positive integer up to 10^15")
    code, out, err = cli(tmp_path, "solve", "m.lag", "--max-elements", "0")
    assert code == 2 and out == ""                   # without --json, stdout stays empty


def test_internal_errors_are_generic_json(tmp_path, monkeypatch):
    (tmp_path / "m.lag").write_text(LIN)

    def boom(*a, **k):
        raise RuntimeError("secret detail")
    monkeypatch.setattr(lagdsl.Model, "solve", boom)
    code, out, err = cli(tmp_path, "solve", "m.lag", "--json")
    assert code == 3 and "secret detail" in err
    d = _strict(out)
    assert d["exit"] == 3 and "secret" not in out and d["error"]["message"].startswith("internal error")


def test_lag_errors_keep_their_type():
    assert issubclass(OutputPathError, LagError)


def test_a_failure_after_the_result_adds_no_second_json_object(tmp_path, monkeypatch):
    import lagdsl.plot
    (tmp_path / "m.lag").write_text(LIN)

    def refuse(result, path, title=None, inputs=()):
        raise OutputPathError("--plot out.png: is a symbolic link (to elsewhere); lagdsl never writes through a link")
    monkeypatch.setattr(lagdsl.plot, "save_plot", refuse)
    code, out, err = cli(tmp_path, "solve", "m.lag", "-b", "lagrangian", "--json", "--plot", "out.png")
    assert code == 2 and "is a symbolic link" in err
    assert out.count("\n") == 1 and _strict(out)["status"] == "optimal"


def test_an_interrupt_is_a_json_object_too(tmp_path, monkeypatch):
    (tmp_path / "m.lag").write_text(LIN)

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(lagdsl.Model, "solve", interrupted)
    code, out, err = cli(tmp_path, "solve", "m.lag", "--json")
    assert code == 130 and err == "interrupted\n"
    assert _strict(out) == {"status": "error", "exit": 130, "error": {
        "message": "interrupted", "file": None, "line": None, "col": None, "hint": None}}


def test_an_unwritable_directory_is_refused_before_solving(tmp_path, monkeypatch):
    # (root may write anywhere: the permission test is os.access's answer, stubbed here)
    (tmp_path / "m.lag").write_text(BIN)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    code, _, err = cli(tmp_path, "compile", "m.lag", "--emit", "lp", "-o", "out.lp")
    assert code == 2 and err == "error: -o out.lp: cannot write: no permission to write in the directory .\n"
