"""Data as users hold it: the same transport model solved with every form of its data --
lists in set order, objects keyed by element (joined keys ``"seattle,chicago"``), nested
objects, lists and objects mixed, CSV tables (by default columns, by named value and index
columns) -- binds identical arrays and gives identical optima; the strictness of each form
(missing, extra and duplicate keys) with positions."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import lagdsl
from lagdsl.errors import LagDataError

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "tests" / "data" / "forms"
MODEL = (ROOT / "examples" / "transport.lag").read_text()

SETS = {"Plants": ["seattle", "san-diego"], "Markets": ["new-york", "chicago", "topeka"]}
LISTS = {"supply": [350, 600], "demand": [325, 300, 275],
         "dist": [[2.5, 1.7, 1.8], [2.5, 1.8, 1.4]]}
JOINED = {"supply": {"seattle": 350, "san-diego": 600},
          "demand": {"new-york": 325, "chicago": 300, "topeka": 275},
          "dist": {"seattle,new-york": 2.5, "seattle,chicago": 1.7, "seattle,topeka": 1.8,
                   "san-diego,new-york": 2.5, "san-diego,chicago": 1.8, "san-diego,topeka": 1.4}}
NESTED = {"supply": {"san-diego": 600, "seattle": 350},          # any key order
          "demand": {"topeka": 275, "new-york": 325, "chicago": 300},
          "dist": {"seattle": {"new-york": 2.5, "chicago": 1.7, "topeka": 1.8},
                   "san-diego": {"topeka": 1.4, "chicago": 1.8, "new-york": 2.5}}}
MIXED = {"supply": [350, 600], "demand": {"new-york": 325, "chicago": 300, "topeka": 275},
         "dist": {"seattle": [2.5, 1.7, 1.8],
                  "san-diego": {"new-york": 2.5}, "san-diego,chicago": 1.8,
                  "san-diego,topeka": 1.4}}
LIST_OF_OBJECTS = {"supply": [350, 600], "demand": [325, 300, 275],
                   "dist": [{"new-york": 2.5, "chicago": 1.7, "topeka": 1.8},
                            {"new-york": 2.5, "chicago": 1.8, "topeka": 1.4}]}
CSV = {"supply": [350, 600], "demand": {"file": "markets.csv", "value": "demand"},
       "dist": {"file": "dist.csv"}}
CSV_NAMED = {"supply": [350, 600], "demand": {"file": "markets.csv", "index": ["market"],
                                              "value": "demand"},
             "dist": {"file": "dist.csv", "index": ["plant", "market"], "value": "miles"}}
FORMS_ALL = {"lists": LISTS, "joined": JOINED, "nested": NESTED, "mixed": MIXED,
             "list_of_objects": LIST_OF_OBJECTS, "csv": CSV, "csv_named": CSV_NAMED}


def _load(tmp_path, data: dict):
    tmp_path.mkdir(exist_ok=True)
    for f in FORMS.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "model.lag").write_text(MODEL)
    (tmp_path / "data.json").write_text(json.dumps({**SETS, **data}))
    return lagdsl.load(tmp_path / "model.lag", data=tmp_path / "data.json")


@pytest.mark.parametrize("form", sorted(FORMS_ALL))
def test_every_form_binds_the_same_arrays_and_optimum(tmp_path, form):
    ref = _load(tmp_path / "ref", LISTS)
    m = _load(tmp_path, FORMS_ALL[form])
    for name in ("supply", "demand", "dist", "cost"):
        assert np.array_equal(m.ir.params[name].values, ref.ir.params[name].values), name
    r, r0 = m.solve(backend="highs"), ref.solve(backend="highs")
    assert r.objective == r0.objective == pytest.approx(153.675, rel=1e-9)


def test_inline_lag_values_match_the_data_forms(tmp_path):
    inline = MODEL.replace("set Plants", 'set Plants = {"seattle", "san-diego"}').replace(
        "set Markets", 'set Markets = {"new-york", "chicago", "topeka"}').replace(
        "param supply[Plants]", "param supply[Plants] = [350, 600]").replace(
        "param demand[Markets]", "param demand[Markets] = [325, 300, 275]").replace(
        "param dist[Plants, Markets]", "param dist[Plants, Markets] = [[2.5, 1.7, 1.8], [2.5, 1.8, 1.4]]")
    m = lagdsl.parse(inline)
    ref = _load(tmp_path, NESTED)
    assert np.array_equal(m.ir.params["dist"].values, ref.ir.params["dist"].values)
    assert m.solve(backend="highs").objective == ref.solve(backend="highs").objective


def test_element_with_a_comma_as_a_nested_key():
    m = lagdsl.parse('set C = {"Seattle, WA", "Austin, TX"}\nset K = {1, 2}\nparam a[C, K]\n',
                     data={"a": {"Seattle, WA": {"1": 5, "2": 6}, "Austin, TX": [7, 8]}})
    assert m.ir.params["a"].values.tolist() == [[5, 6], [7, 8]]


def test_nested_object_over_a_tuple_set_and_three_axes():
    m = lagdsl.parse("set P = {(1, 2), (2, 3)}\nset K = {1, 2}\nset L = {\"a\"}\n"
                     "param w[P, K, L]\n",
                     data={"w": {"1,2": {"1": {"a": 1}, "2": {"a": 2}},
                                 "2,3,1": {"a": 3}, "2,3": {"2,a": 4}}})
    assert m.ir.params["w"].values.reshape(-1).tolist() == [1, 2, 3, 4]


def test_defaults_fill_what_nested_data_and_tables_leave_out(tmp_path):
    (tmp_path / "t.csv").write_text("i,j,v\n1,1,5\n2,2,\n")
    text = "set I = {1, 2}\nparam a[I, I] default -1\nparam b[I, I] default -1\n"
    (tmp_path / "m.lag").write_text(text)
    (tmp_path / "d.json").write_text(json.dumps({"a": {"1": {"2": 3}, "2": {"1": None}},
                                                 "b": {"file": "t.csv"}}))
    m = lagdsl.load(tmp_path / "m.lag", data=tmp_path / "d.json")
    assert m.ir.params["a"].values.tolist() == [[-1, 3], [-1, -1]]
    assert m.ir.params["b"].values.tolist() == [[5, -1], [-1, -1]]


def _error(data: dict, tmp_path=None, files=()) -> LagDataError:
    text = "set S = {\"a\", \"b\"}\nset T = {\"x\", \"y\"}\nparam d[S, T]\n"
    if tmp_path is None:
        with pytest.raises(LagDataError) as e:
            lagdsl.parse(text, data=data, path="m.lag")
        return e.value
    for name, content in files:
        (tmp_path / name).write_text(content)
    (tmp_path / "m.lag").write_text(text)
    (tmp_path / "data.json").write_text(json.dumps(data))
    with pytest.raises(LagDataError) as e:
        lagdsl.load(tmp_path / "m.lag", data=tmp_path / "data.json")
    return e.value


def test_nested_missing_extra_and_duplicate_keys():
    e = _error({"d": {"a": {"x": 1, "y": 2}, "b": {"x": 3}}})
    assert 'no value for d["b", "y"] and no default' in str(e)
    assert (e.span.line, e.span.col) == (3, 7)
    e = _error({"d": {"a": {"x": 1, "y": 2, "z": 0}, "b": {"x": 3, "y": 4}}})
    assert 'data key "z" (under d["a", :]) is not an element of T' in str(e)
    e = _error({"d": {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 4}, "a,x": 9}})
    assert 'data gives d["a", "x"] twice' in str(e)
    e = _error({"d": {"c": {"x": 1}}})
    assert 'data key "c" is not an element of S' in str(e)


def test_table_errors_are_at_the_cell(tmp_path):
    e = _error({"d": {"file": "t.csv"}}, tmp_path, [("t.csv", "s,t,v\na,x,1\na,z,2\n")])
    assert e.message == 'param d: "z" in column "t" is not an element of T'
    assert (Path(e.span.file).name, e.span.line, e.span.col) == ("t.csv", 3, 3)
    e = _error({"d": {"file": "t.csv"}}, tmp_path, [("t.csv", "s,t,v\na,x,1\nb,y,2\na,x,3\n")])
    assert 'the table gives d["a", "x"] twice (first at line 2)' in str(e)
    assert e.span.line == 4
    e = _error({"d": {"file": "t.csv"}}, tmp_path, [("t.csv", "s,t,v\na,x,1\nb,y,1e999\n")])
    assert 'value "1e999" in column "v" is not a finite number' in str(e)
    assert (e.span.line, e.span.col) == (3, 5)
    e = _error({"d": {"file": "t.csv"}}, tmp_path, [("t.csv", "s,t,v,w\na,x,1,2\n")])
    assert "the table has 4 columns (s, t, v, w)" in str(e)
    assert e.hint == 'name the value column: {"file": ..., "value": "w"}'
    e = _error({"d": {"file": "t.csv", "value": "q"}}, tmp_path, [("t.csv", "s,t,v\n")])
    assert "the table has no column \"q\" (its columns: s, t, v)" in str(e)
    e = _error({"d": {"file": "t.csv"}}, tmp_path, [("t.csv", "s,t,v\na,x,1\nb,y\n")])
    assert "table row has 2 cells but the header has 3" in str(e)


def test_table_is_confined_to_the_data_files_directory(tmp_path):
    (tmp_path / "inner").mkdir()
    (tmp_path / "t.csv").write_text("s,t,v\na,x,1\n")
    (tmp_path / "inner" / "m.lag").write_text("set S = {\"a\"}\nset T = {\"x\"}\nparam d[S, T]\n")
    (tmp_path / "inner" / "data.json").write_text(json.dumps({"d": {"file": "../t.csv"}}))
    with pytest.raises(LagDataError) as e:
        lagdsl.load(tmp_path / "inner" / "m.lag", data=tmp_path / "inner" / "data.json")
    assert 'file "../t.csv" leads out of the data file\'s directory' in str(e.value)
    m = lagdsl.load(tmp_path / "inner" / "m.lag", data=tmp_path / "inner" / "data.json",
                    allow_dirs=[tmp_path])
    assert m.ir.params["d"].values.tolist() == [[1.0]]


def test_table_is_recorded_as_an_input(tmp_path):
    from lagdsl.frontend.files import inputs_read, recording_inputs
    (tmp_path / "t.csv").write_text("s,t,v\na,x,1\na,y,2\nb,x,3\nb,y,4\n")
    with recording_inputs():
        (tmp_path / "m.lag").write_text("set S = {\"a\", \"b\"}\nset T = {\"x\", \"y\"}\nparam d[S, T]\n")
        (tmp_path / "data.json").write_text(json.dumps({"d": {"file": "t.csv"}}))
        lagdsl.load(tmp_path / "m.lag", data=tmp_path / "data.json")
        kinds = {Path(f.path).name: f.what for f in inputs_read()}
    assert kinds["t.csv"] == "table file"


def test_resolve_with_new_nested_data(tmp_path):
    m = _load(tmp_path, LISTS)
    prog = m.compile(backend="highs")
    new = {"dist": {"seattle": {"new-york": 1.0, "chicago": 1.7, "topeka": 1.8},
                    "san-diego": {"new-york": 2.5, "chicago": 1.8, "topeka": 1.4}}}
    r = prog.solve(data=new)
    m2 = _load(tmp_path / "new", {**LISTS, "dist": [[1.0, 1.7, 1.8], [2.5, 1.8, 1.4]]})
    assert r.objective == pytest.approx(m2.solve(backend="highs").objective, rel=1e-12)
