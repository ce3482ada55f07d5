"""Data, model and graph files as untrusted input (issue 5, class 6), through the Python API
and the error formatter; the CLI side is in ``tests/bad_input/data_files``."""
from __future__ import annotations

import os

import pytest

import lagdsl
from lagdsl.cli import main
from lagdsl.errors import LagDataError, LagError, printable, quote_line
from lagdsl.frontend.data import load_data, load_graph
from lagdsl.frontend.files import MAX_TEXT_BYTES, FileScope, read_text
from lagdsl.frontend.jsontext import key_span, parse_object
from lagdsl.ir.model import Source

GRAPH = "graph G\nvar x[G.nodes] >= 0, <= 1\nmaximize s: sum(v in G.nodes) x[v]\n"


def test_a_syntax_error_on_a_5_mb_line_shows_a_window(tmp_path):
    p = tmp_path / "big.json"
    p.write_text('{"w": [' + "1, " * 1_000_000 + "x" + ", 2" * 700_000 + "]}")
    assert p.stat().st_size > 5_000_000
    with pytest.raises(LagDataError) as e:
        load_data(str(p))
    lines = e.value.format().splitlines()
    assert lines[0] == "%s:1:3000008: data error: invalid JSON in data file: Expecting value" % p
    assert lines[1] == "    …" + "1, " * 20 + "x" + ", 2" * 20 + "…"
    assert lines[2] == "    " + " " * 61 + "^"
    assert len(e.value.format()) < 400


def test_window_edges_and_escapes():
    assert quote_line("abc", 2) == ("abc", " ^")
    shown, caret = quote_line("\x1b[2J x", 6)           # the caret follows the escaped text
    assert shown == "\\x1b[2J x" and caret == " " * 8 + "^"
    shown, caret = quote_line("a" * 200, 200, 5)
    assert shown == "…" + "a" * 61 and caret == " " * 61 + "^"
    assert printable("a\u202eb\x07\n") == "a\\u202eb\\x07\n"
    assert printable("a\nb", keep_newlines=False) == "a\\nb"


def test_keys_are_found_at_any_depth_and_escaped_keys_count_as_equal():
    src = Source("d.json", '{"a": {"N": 1},\n  "N": 3}')
    span = key_span(src, "N")
    assert (span.line, span.col, span.end_col) == (2, 3, 6)
    assert parse_object('{"a": {"x": 1}, "b": {"x": 2}}', "d.json") == {"a": {"x": 1}, "b": {"x": 2}}
    with pytest.raises(LagDataError) as e:
        parse_object('{"a": [{"k": 1, "j": {"k": 2}, "\\u006b": 3}]}', "d.json")
    assert e.value.message == 'key "k" is given twice in the same object (first at 1:9)'
    assert (e.value.span.line, e.value.span.col) == (1, 32)


def test_unknown_data_key_from_python_has_a_did_you_mean_but_no_position():
    with pytest.raises(LagDataError) as e:
        lagdsl.parse("param n = 10\nvar x >= 0, <= n\nmaximize s: x\n", data={"N": 20})
    assert e.value.message == 'data key "N" names nothing in the model'
    assert e.value.hint == "did you mean n?" and e.value.span is None


def test_allow_dirs_from_python(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "shared" / "g.txt").write_text("0 1\n1 2\n")
    (tmp_path / "data" / "d.json").write_text('{"G": "../shared/g.txt"}')
    (tmp_path / "m.lag").write_text(GRAPH)
    with pytest.raises(LagDataError, match="leads out of the data file's directory"):
        lagdsl.load(tmp_path / "m.lag", data=str(tmp_path / "data" / "d.json"))
    m = lagdsl.load(tmp_path / "m.lag", data=str(tmp_path / "data" / "d.json"),
                    allow_dirs=[tmp_path / "shared"])
    assert m.solve().objective == pytest.approx(3.0)


def test_dict_data_files_resolve_inside_the_model_directory(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "m.lag").write_text(GRAPH)
    (tmp_path / "m" / "g.txt").write_text("0 1\n")
    (tmp_path / "g.txt").write_text("5 6\n")
    model = tmp_path / "m" / "m.lag"
    assert lagdsl.load(model, data={"G": "g.txt"}).ir.sets["G.nodes"].elements == [0, 1]
    # any spelling that reaches a file inside the directory is fine; one that leaves it is not
    inside = str(tmp_path / "m" / "g.txt")
    assert lagdsl.load(model, data={"G": inside}).ir.sets["G.nodes"].elements == [0, 1]
    with pytest.raises(LagDataError, match="is an absolute path"):
        lagdsl.load(model, data={"G": str(tmp_path / "g.txt")})


def test_a_direct_python_call_names_any_file(tmp_path):
    (tmp_path / "g.txt").write_text("0 1\n")
    assert list(load_graph("G", str(tmp_path / "g.txt")).edges) == [(0, 1)]
    assert FileScope.of(None).confined is False and FileScope.of(str(tmp_path)).confined


def test_special_files_are_refused_before_reading(tmp_path):
    for path, kind in (("/dev/zero", "a character device"), (str(tmp_path), "a directory")):
        with pytest.raises(LagDataError) as e:
            read_text(path, "data file")
        assert e.value.message == "data file %s is %s, not a regular file" % (path, kind)
    os.mkfifo(tmp_path / "fifo.json")
    with pytest.raises(LagError, match=r"is a named pipe \(FIFO\)"):
        lagdsl.load(str(tmp_path / "fifo.json"))
    assert MAX_TEXT_BYTES == 1 << 30


def test_labels_in_the_summary_are_escaped(tmp_path, capfd):
    (tmp_path / "m.lag").write_text("set S\nvar x[S] >= 0, <= 1\nmaximize s: sum(k in S) x[k]\n")
    (tmp_path / "d.json").write_text('{"S": ["\\u001b[31mred", "b\\u202ec"]}')
    assert main(["solve", str(tmp_path / "m.lag"), "--data", str(tmp_path / "d.json")]) == 0
    out = capfd.readouterr().out
    assert "  x[\\x1b[31mred] = 1\n  x[b\\u202ec] = 1\n" in out
    assert "\x1b" not in out and "\u202e" not in out
    for argv in (["show"], ["check"], ["compile", "--emit", "text"], ["compile", "--emit", "latex"]):
        assert main(argv[:1] + [str(tmp_path / "m.lag"), "--data", str(tmp_path / "d.json")] + argv[1:]) == 0
        out = capfd.readouterr().out
        assert "\x1b" not in out and "\u202e" not in out, argv
    assert 'set S = {"\\x1b[31mred", "b\\u202ec"}' in (main(["show", str(tmp_path / "m.lag"), "--data",
                                                           str(tmp_path / "d.json")]) == 0 and capfd.readouterr().out)


def test_every_option_in_a_help_example_exists():
    import re

    from lagdsl.backend import get_backend
    from lagdsl.cli import _parser
    p = _parser()
    sub = next(a for a in p._actions if a.dest == "command")
    texts = [sub.choices[c].format_help() for c in sub.choices]
    import lagdsl.cli as cli
    texts.append(cli.__doc__)
    named = {m for t in texts for m in re.findall(r"--option\s+([a-z_]{2,})=", t)}
    assert named, "the help shows an example option"
    options = get_backend("cvxpy").options
    assert named <= set(options), named - set(options)


# --- the key scanner against Python's own JSON reader -------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

_keys = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20)


def _dump(value, rng):
    """JSON text of ``value`` with random spacing (what a hand-written file looks like)."""
    import json
    sp = lambda: rng.choice(["", " ", "\n", "  ", "\t"])     # noqa: E731
    if isinstance(value, dict):
        items = ["%s%s%s:%s%s" % (sp(), json.dumps(k, ensure_ascii=rng.random() < 0.5), sp(), sp(),
                                  _dump(v, rng)) for k, v in value.items()]
        return "{" + ",".join(items) + sp() + "}"
    if isinstance(value, list):
        return "[" + ",".join(sp() + _dump(v, rng) for v in value) + sp() + "]"
    return json.dumps(value)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_keys, _json, max_size=5), st.randoms(use_true_random=False))
def test_scanner_agrees_with_json(obj, rng):
    import json
    text = _dump(obj, rng)
    assert parse_object(text, "d.json") == json.loads(text)
    src = Source("d.json", text)
    for k in obj:
        span = key_span(src, k)
        lines = text.split("\n")
        token = lines[span.line - 1][span.col - 1:span.end_col - 1]
        assert json.loads(token) == k


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(_keys, _json, min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_a_repeated_key_is_found_where_it_is(obj, rng):
    import json
    key = rng.choice(sorted(obj))
    text = _dump(obj, rng)
    text = text[:-1] + ', %s: 0}' % json.dumps(key)        # the same key again, at the end
    with pytest.raises(LagDataError) as e:
        parse_object(text, "d.json")
    shown = json.dumps(key)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    assert e.value.message.startswith("key %s is given twice in the same object" % shown)
    span = e.value.span        # nested objects are dicts, so the appended key is the repeat
    line = text.split("\n")[span.line - 1]
    assert json.loads(line[span.col - 1:span.end_col - 1]) == key
    assert span.line == text.count("\n") + 1


# --- any JSON data: a result or a LagError, never an internal error --------------------------

FUZZ_MODEL = """\
set S
param n default 2
param w[S] default 1
graph G
var x[S] >= 0, <= n
var y[G.nodes] >= 0, <= 1
maximize s: sum(k in S) w[k]*x[k] + sum(v in G.nodes) y[v]
"""

_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["a", "b", "g.txt", "../g.txt", "/dev/zero", "\x1b[2J", "\ud800"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["a", "b", "1", "edges", "nodes", "file", "generator", "weights", "directed", "n"]),
        inner, max_size=3),
    max_leaves=10)


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.sampled_from(["S", "n", "w", "G", "x", "N", "s"]), _values, max_size=4))
def test_any_json_data_gives_a_model_or_a_lag_error(tmp_path_factory, data):
    import json
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "m.lag").write_text(FUZZ_MODEL)
    (folder / "g.txt").write_text("0 1\n")
    (folder / "d.json").write_text(json.dumps(data))
    try:
        lagdsl.load(folder / "m.lag", data=str(folder / "d.json"))
    except LagError as e:
        e.format().encode("utf-8")          # printable: no lone surrogate, no raw escape
        assert "\x1b" not in e.format()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["solver", "verbose", "time_limit", "mip_gap", "binary_products", "solver_args"]),
       st.text(max_size=12) | st.sampled_from(["nan", "inf", "-0", "1e400", "true", "1", "0.5", "a=1;b"]))
def test_any_option_text_is_taken_or_refused(name, value):
    import math

    from lagdsl.backend import coerce_options, get_backend
    from lagdsl.errors import BackendRefusal
    b = get_backend("cvxpy")
    try:
        v = coerce_options(b, {name: value})[name]
    except BackendRefusal as e:
        assert e.message.startswith("option %s" % name)
        return
    if name in ("time_limit", "mip_gap"):
        assert math.isfinite(v) and v >= 0 and (name == "time_limit" or v < 1)
    elif name == "verbose":
        assert isinstance(v, bool)
    elif name == "solver_args":
        assert isinstance(v, dict)
    else:
        assert v in b.options[name][2].values
