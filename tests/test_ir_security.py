"""Reading an IR file never runs code from it (issue 5, class 1).

Before the reader was rebuilt, a string nested in a tuple inside an ``srepr`` reached
``sympify`` (that is, ``eval``): ``lagdsl check evil.lag`` ran the payload below and set the
sentinel.  Every test here plants a payload that would set a sentinel attribute on
``builtins`` and asserts that the outcome is a ``LagError`` and the sentinel is unset."""
import builtins
import json

import pytest

import lagdsl
from lagdsl.cli import main
from lagdsl.errors import LagError
from lagdsl.ir.serialize import FORMAT, VERSION, to_dict
import lagdsl.frontend as fe

SENTINEL = "LAGDSL_PWNED"
PAYLOAD = '__import__("builtins").setattr(__import__("builtins"), "%s", 1) or 0' % SENTINEL
LAG = "var x >= 0\nminimize f: x\n"


@pytest.fixture(autouse=True)
def no_sentinel():
    if hasattr(builtins, SENTINEL):
        delattr(builtins, SENTINEL)
    yield
    assert not hasattr(builtins, SENTINEL), "code from the file ran"


def _doc():
    return to_dict(fe.compile_text(LAG, path="m.lag"))


def _v1_payload_doc():
    """A version-1 document whose objective hides the payload in a tuple of an srepr."""
    d = _doc()
    d["version"] = 1
    d["objective"]["expr"] = {"srepr": "Add(Symbol('x'), (%r,))" % PAYLOAD, "str": "x"}
    return d


def test_old_srepr_payload_runs_no_code(tmp_path, capsys):
    path = tmp_path / "evil.lag"
    path.write_text(json.dumps(_v1_payload_doc()))
    with pytest.raises(LagError, match="version 1 is no longer read"):
        lagdsl.load(path)
    assert main(["check", str(path)]) == 2
    assert "version 1 is no longer read" in capsys.readouterr().err


@pytest.mark.parametrize("nodes", [
    [["sym", PAYLOAD]],
    [["sym", "x"], ["Add", 0, PAYLOAD]],
    [["sym", "x"], ["Add", 0, [PAYLOAD]]],
    [[PAYLOAD, 0]],
    [["int", PAYLOAD]],
    [["float", PAYLOAD, 0, 53]],
    [["app", PAYLOAD, 0]],
    [["const", PAYLOAD]],
])
def test_payload_in_any_node_position_runs_no_code(tmp_path, nodes):
    d = _doc()
    d["objective"]["expr"] = {"nodes": nodes, "str": "x"}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(d))
    with pytest.raises(LagError):
        lagdsl.load(path)


def test_payload_in_names_and_spans_is_only_data(tmp_path):
    d = _doc()
    d["name"] = PAYLOAD
    d["objective"]["span"] = [PAYLOAD, 1, 1]
    d["source"]["path"] = PAYLOAD
    path = tmp_path / "m.json"
    path.write_text(json.dumps(d))
    m = lagdsl.load(path)           # harmless text: read, never run
    assert m.name == PAYLOAD and m.ir.objective.span.file == PAYLOAD


def test_a_lag_file_starting_with_a_brace_is_lag_text(tmp_path):
    path = tmp_path / "m.lag"
    path.write_text('{1, 2}\nvar x\n')
    with pytest.raises(LagError) as err:
        lagdsl.load(path)
    assert err.value.kind == "syntax error" and (err.value.span.line, err.value.span.col) == (1, 1)
    path.write_text('{"format": "not-ir", "x": 1}\n')      # JSON, but no IR marker: never read as IR
    with pytest.raises(LagError, match='is JSON but not lagdsl IR: it has no "format": "lagdsl-ir" marker'):
        lagdsl.load(path)


def test_ir_is_recognised_by_its_marker_whatever_the_name(tmp_path):
    path = tmp_path / "model.lag"
    path.write_text(json.dumps(_doc()))
    m = lagdsl.load(path)
    assert m.ir.objective.name == "f"
    assert _doc()["format"] == FORMAT and _doc()["version"] == VERSION


def test_truncated_ir_says_it_is_not_json(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_doc())[:300])
    with pytest.raises(LagError, match="not JSON: .*line 1") as err:
        lagdsl.load(path)
    assert "not valid JSON" in err.value.hint
