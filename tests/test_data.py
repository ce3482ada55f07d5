"""Behaviour of lagdsl.frontend.data: loading, overrides, coercion of sets, params and graphs."""
import json
import os
import time

import networkx as nx
import numpy as np
import pytest

from lagdsl.errors import LagDataError
from lagdsl.frontend.data import (apply_overrides, coerce_param, coerce_set, data_base_dir,
                                  expand_graph, load_data, load_graph)
from lagdsl.ir.model import Source, Span
from lagdsl.ir.values import ParamValue, SetFamilyValue

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, "data")
SPAN = Span("m.lag", 4, 7)
SRC = Source("m.lag", "model m\nset I\nset J\nparam A[I, J]\n")


def err(fn, *args, **kw) -> LagDataError:
    with pytest.raises(LagDataError) as info:
        fn(*args, **kw)
    return info.value


# --------------------------------------------------------------------------- load_data

def test_load_data_none_and_dict_copy():
    assert load_data(None) == {}
    d = {"n": 1}
    out = load_data(d)
    assert out == d and out is not d


def test_load_data_json_file_and_base_dir():
    data = load_data(os.path.join(FIX, "with_graphs.json"))
    assert data == {"n": 3, "G": "triangle.graphml", "H": "path.txt"}
    assert load_data("with_graphs.json", base_dir=FIX) == data
    assert data_base_dir(os.path.join(FIX, "with_graphs.json")) == os.path.abspath(FIX)
    assert data_base_dir({"n": 1}, "/some/dir") == "/some/dir"
    assert data_base_dir(None) is None


def test_load_data_json_syntax_error_position():
    path = os.path.join(FIX, "bad.json")
    e = err(load_data, path)
    assert e.span == Span(path, 3, 14)
    text = e.format()
    assert text.startswith("%s:3:14: data error: invalid JSON" % path)
    assert '  "w": [1, 2,, 3]' in text
    assert "\n    " + " " * 13 + "^" in text


def test_load_data_missing_file_names_path(tmp_path):
    path = str(tmp_path / "nope.json")
    e = err(load_data, path)
    assert path in e.message and "not found" in e.message


def test_load_data_top_level_must_be_object(tmp_path):
    p = tmp_path / "list.json"
    p.write_text("[1, 2]")
    e = err(load_data, str(p))
    assert "one JSON object" in e.message and "a list" in e.message
    assert e.span.line == 1


# --------------------------------------------------------------------------- apply_overrides

def test_apply_overrides_parses_json_values():
    data = {"n": 5, "name": "x"}
    out = apply_overrides(data, ["n=20", "r = 2.5", "w=[1,2]", 's="a"', "city=north"])
    assert out == {"n": 20, "name": "x", "r": 2.5, "w": [1, 2], "s": "a", "city": "north"}
    assert data == {"n": 5, "name": "x"}              # a new dict
    assert isinstance(out["n"], int)


def test_apply_overrides_dict_and_empty():
    assert apply_overrides({"n": 1}, {"n": 2, "m": [3]}) == {"n": 2, "m": [3]}
    assert apply_overrides({"n": 1}, None) == {"n": 1}
    assert apply_overrides({"n": 1}, []) == {"n": 1}


@pytest.mark.parametrize("item", ["n", "=3", "n="])
def test_apply_overrides_malformed(item):
    e = err(apply_overrides, {}, [item])
    assert "malformed override" in e.message and json.dumps(item) in e.message
    assert "--set NAME=VALUE" in e.hint


# --------------------------------------------------------------------------- coerce_set

def test_coerce_set_scalars_and_order():
    s = coerce_set("C", ["b", "a", "c"], SPAN, SRC)
    assert s.elements == ["b", "a", "c"] and s.arity == 1


def test_coerce_set_integral_floats_become_ints_and_range():
    s = coerce_set("I", [1.0, 2, 3.0])
    assert s.elements == [1, 2, 3] and all(type(e) is int for e in s.elements)
    assert s.range_lo == 1
    assert coerce_set("F", [0.5, 1.5]).elements == [0.5, 1.5]


def test_coerce_set_tuples():
    s = coerce_set("P", [[1, 2], (2, 3.0), ["a", 1]])
    assert s.elements == [(1, 2), (2, 3), ("a", 1)] and s.arity == 2


def test_coerce_set_large_integer_list_is_fast():
    t = time.perf_counter()
    s = coerce_set("I", list(range(200_000)))
    assert len(s) == 200_000 and s.range_lo == 0
    assert time.perf_counter() - t < 1.0


def test_coerce_set_empty():
    assert len(coerce_set("E", [])) == 0


def test_coerce_set_mixed_arity_error():
    e = err(coerce_set, "P", [[1, 2], [1, 2, 3]], SPAN, SRC)
    assert e.message == "set P: element (1, 2, 3) has 3 component(s) but the first element (1, 2) has 2"
    assert e.span == SPAN
    e = err(coerce_set, "P", [1, [1, 2]])
    assert "set P: element (1, 2)" in e.message and "first element 1 has 1" in e.message


def test_coerce_set_nested_and_bad_elements():
    assert 'set P: element [1, {"a": 1}] is not a scalar' in err(coerce_set, "P", [[1, {"a": 1}]]).message
    assert 'set P: element {"a": 1} is not a number' in err(coerce_set, "P", [{"a": 1}]).message
    assert "element [[1, 2], 3]" in err(coerce_set, "P", [[[1, 2], 3]]).message
    assert "element null" in err(coerce_set, "P", [1, None]).message
    assert "element true" in err(coerce_set, "P", [True]).message


def test_coerce_set_duplicates_named():
    assert err(coerce_set, "C", ["a", "b", "a"]).message == 'set C: element "a" is given twice'
    assert err(coerce_set, "I", [1, 2.0, 2]).message == "set I: element 2 is given twice"
    assert err(coerce_set, "P", [[1, 2], [1, 2]]).message == "set P: element (1, 2) is given twice"


def test_coerce_set_not_a_list():
    e = err(coerce_set, "S", "abc", SPAN, SRC)
    assert e.message == 'set S expects a list of elements; data has the string "abc"'
    assert "set S has no elements" in err(coerce_set, "S", None).message
    assert "data has an object" in err(coerce_set, "S", {"a": 1}).message


# --------------------------------------------------------------------------- coerce_param

I3 = coerce_set("I", [1, 2, 3])
J2 = coerce_set("J", ["a", "b"])


def test_param_scalar():
    a = coerce_param("n", [], [], 5, None, SPAN, SRC)
    assert a.shape == () and a.dtype == np.float64 and float(a) == 5.0
    assert float(coerce_param("n", [], [], None, 2.5)) == 2.5


def test_param_scalar_errors():
    e = err(coerce_param, "n", [], [], "abc", None, SPAN, SRC)
    assert e.message == 'param n expects a number; data has the string "abc"'
    assert e.span == SPAN and e.source is SRC
    assert err(coerce_param, "n", [], [], [1, 2], None).message == "param n expects a number; data has a list"


def test_param_no_value():
    e = err(coerce_param, "w", ["I"], [I3], None, None, SPAN, SRC)
    assert e.message == "param w has no value: give it in the data or declare a default"
    assert np.array_equal(coerce_param("w", ["I"], [I3], None, 7), [7, 7, 7])


def test_param_flat_and_nested_lists():
    w = coerce_param("w", ["I"], [I3], [2, 3, 4])
    assert w.dtype == np.float64 and w.tolist() == [2, 3, 4]
    A = coerce_param("A", ["I", "J"], [I3, J2], [[1, 2], [3, 4], [5, 6.5]])
    assert A.shape == (3, 2) and A[2, 1] == 6.5
    assert coerce_param("A", ["I", "J"], [I3, J2], np.ones((3, 2))).shape == (3, 2)


def test_param_bools_count_as_numbers():
    assert coerce_param("f", ["I"], [I3], [True, False, 1]).tolist() == [1, 0, 1]


def test_param_indexed_given_a_number_is_an_error():
    e = err(coerce_param, "w", ["I"], [I3], 3, None, SPAN, SRC)
    assert e.message == "param w[I] is indexed over I; data has 3, not a list or an object"
    assert "default 3" in e.hint


def test_param_shape_errors_name_both_sides():
    e = err(coerce_param, "A", ["I", "J"], [coerce_set("I", [1, 2, 3, 4]), J2],
            [[1, 2], [3, 4], [5, 6]], None, SPAN, SRC)
    assert e.message == "param A[I, J]: data has 3 rows but I has 4 elements"
    assert "4 (I) x 2 (J)" in e.hint
    e = err(coerce_param, "A", ["I", "J"], [I3, J2], [[1, 2], [3, 4, 5], [5, 6]])
    assert e.message == "param A[I, J]: data row A[2, :] has 3 entries but J has 2 elements"
    e = err(coerce_param, "w", ["I"], [I3], [1, 2])
    assert e.message == "param w[I]: data has 2 entries but I has 3 elements"


def test_param_flat_list_for_two_axes_is_a_shape_error():
    e = err(coerce_param, "A", ["I", "J"], [I3, J2], [1, 2, 3, 4, 5, 6])
    assert e.message == "param A[I, J]: data has 6 rows but I has 3 elements"


def test_param_nesting_errors():
    e = err(coerce_param, "A", ["I", "J"], [I3, J2], [[1, 2], 5, [5, 6]])
    assert e.message == ("param A[I, J]: data A[2, :] is 5; expected a list of 2 entries, "
                         "one per element of J")
    e = err(coerce_param, "w", ["I"], [I3], [1, [2, 3], 4])
    assert e.message.startswith("param w[I] expects a number at w[2]; data has a list [2, 3]")


def test_param_non_number_names_both_sides():
    e = err(coerce_param, "A", ["I", "J"], [I3, J2], [[1, 2], [3, "abc"], [5, 6]], None, SPAN, SRC)
    assert e.message == 'param A[I, J] expects a number at A[2, "b"]; data has the string "abc"'
    e = err(coerce_param, "c", ["J"], [J2], {"a": "abc"})
    assert e.message == 'param c[J] expects a number at c["a"]; data has the string "abc"'
    e = err(coerce_param, "w", ["I"], [I3], ["1", "2", "3"])
    assert 'expects a number at w[1]; data has the string "1"' in e.message


def test_param_dict_keys():
    c = coerce_param("c", ["J"], [J2], {"a": 1.5, "b": 2})
    assert c.tolist() == [1.5, 2.0]
    w = coerce_param("w", ["I"], [I3], {"3": 30, "1": 10, 2: 20})
    assert w.tolist() == [10, 20, 30]
    M = coerce_param("M", ["I", "J"], [I3, J2], {"1,a": 3.0, "2, b": 4, (3, "a"): 5}, 0)
    assert M.tolist() == [[3, 0], [0, 4], [5, 0]]


def test_param_dict_over_tuple_set():
    P = coerce_set("P", [[1, 2], [2, 3]])
    d = coerce_param("d", ["P"], [P], {"1,2": 3.0, (2, 3): 4.0})
    assert d.tolist() == [3, 4]
    M = coerce_param("M", ["J", "P"], [J2, P], {"a,2,3": 1, ("b", (1, 2)): 2}, 0)
    assert M.tolist() == [[0, 1], [2, 0]]


def test_param_float_elements_as_keys():
    F = coerce_set("F", [0.5, 1.5])
    assert coerce_param("f", ["F"], [F], {"0.5": 1, "1.5": 2}).tolist() == [1, 2]


def test_param_missing_entries():
    c = coerce_param("c", ["J"], [J2], {"a": 1.5}, 0)
    assert c.tolist() == [1.5, 0.0]
    e = err(coerce_param, "c", ["J"], [J2], {"a": 1.5}, None, SPAN, SRC)
    assert e.message == 'param c[J]: no value for c["b"] and no default'
    e = err(coerce_param, "M", ["I", "J"], [I3, J2], {"1,a": 3.0, "1,b": 1})
    assert e.message == 'param M[I, J]: no value for M[2, "a"] and no default'


def test_param_null_means_missing():
    assert coerce_param("w", ["I"], [I3], [1, None, 3], 9).tolist() == [1, 9, 3]
    assert coerce_param("c", ["J"], [J2], {"a": None, "b": 1}, 9).tolist() == [9, 1]
    e = err(coerce_param, "w", ["I"], [I3], [1, None, 3])
    assert e.message == "param w[I]: no value for w[2] and no default"


def test_param_default_array():
    d = np.array([[1.0, 2.0]] * 3)
    M = coerce_param("M", ["I", "J"], [I3, J2], {"1,a": 9}, d)
    assert M.tolist() == [[9, 2], [1, 2], [1, 2]]


def test_param_dict_key_errors():
    e = err(coerce_param, "c", ["J"], [J2], {"z": 1}, 0, SPAN, SRC)
    assert e.message == 'param c[J]: data key "z" is not an element of J'
    e = err(coerce_param, "M", ["I", "J"], [I3, J2], {"1,z": 1}, 0)
    assert e.message == 'param M[I, J]: data key "1,z": "z" is not an element of J'
    e = err(coerce_param, "M", ["I", "J"], [I3, J2], {"9,a": 1}, 0)
    assert e.message == 'param M[I, J]: data key "9,a": "9" is not an element of I'
    e = err(coerce_param, "M", ["I", "J"], [I3, J2], {"1": 1}, 0)
    assert e.message == 'param M[I, J]: data key "1" has 1 component(s) but the index has 2'
    assert '"1,2"' in e.hint


def test_param_dict_duplicate_key():
    e = err(coerce_param, "w", ["I"], [I3], {"1": 1, 1: 2}, 0)
    assert e.message == 'param w[I]: data gives w[1] twice (key 1)'


def test_param_scalar_given_dict():
    assert err(coerce_param, "n", [], [], {"a": 1}, None).message == \
        "param n expects a number; data has an object"


def test_param_large_nested_list_is_fast():
    I = coerce_set("I", list(range(700)))
    raw = np.random.default_rng(0).random((700, 700)).tolist()
    t = time.perf_counter()
    A = coerce_param("A", ["I", "J"], [I, I], raw)
    assert A.shape == (700, 700)
    raw[3][4] = None
    B = coerce_param("A", ["I", "J"], [I, I], raw, 0.0)
    assert B[3, 4] == 0.0
    assert time.perf_counter() - t < 1.0


def test_param_empty_index_set():
    E = coerce_set("E", [])
    assert coerce_param("e", ["E"], [E], []).shape == (0,)
    assert coerce_param("e", ["E", "J"], [E, J2], [], None).shape == (0, 2)


# --------------------------------------------------------------------------- load_graph

def test_graph_as_networkx_object_is_returned_as_is():
    G = nx.path_graph(3)
    assert load_graph("G", G, None) is G


def test_graph_dict_edges_weights_attrs():
    G = load_graph("G", {"edges": [[0, 1], [1, 2]], "weights": [1.0, 2.5],
                         "edge_attrs": {"cap": [3, 4]},
                         "node_attrs": {"demand": [1, 0, -1], "supply": {"0": 5, "1": 6, "2": 7}}})
    assert not G.is_directed()
    assert list(G.nodes) == [0, 1, 2]
    assert G.edges[0, 1] == {"weight": 1.0, "cap": 3}
    assert G.nodes[2] == {"demand": -1, "supply": 7}


def test_graph_dict_nodes_first_seen_order_and_explicit_nodes():
    G = load_graph("G", {"edges": [["c", "a"], ["a", "b"]]})
    assert list(G.nodes) == ["c", "a", "b"]
    G = load_graph("G", {"nodes": [3, 2, 1, 0], "edges": [[1, 2]]})
    assert list(G.nodes) == [3, 2, 1, 0]


def test_graph_dict_directed():
    G = load_graph("G", {"edges": [[0, 1], [1, 0]], "directed": True})
    assert G.is_directed() and G.number_of_edges() == 2


def test_graph_dict_errors():
    e = err(load_graph, "G", {"edges": [[0, 1]], "weights": [1, 2]}, None, SPAN, SRC)
    assert e.message == "graph G: weights has 2 values but there are 1 edges"
    assert e.span == SPAN
    assert err(load_graph, "G", {"edges": [[0, 1, 5]]}).message == \
        "graph G: edges[0] is [0, 1, 5]; expected a pair [u, v]"
    assert err(load_graph, "G", {"edges": [[0, 1]], "weights": ["x"]}).message == \
        'graph G: weights[0] must be a number; data has the string "x"'
    assert err(load_graph, "G", {"nodes": [0, 1], "edges": [[0, 9]]}).message == \
        'graph G: edges[0] (0, 9) uses node 9, which is not in "nodes"'
    assert err(load_graph, "G", {"edges": [[0, 1], [1, 0]]}).message == \
        "graph G: edge (1, 0) is given twice (edges[1])"
    e = err(load_graph, "G", {"edges": [[0, 1]], "wieghts": [1]})
    assert e.message == 'graph G: unknown key "wieghts"' and '"weights"' in e.hint
    assert 'node_attrs.d names node "7", which is not in the graph' in err(load_graph, "G", {"edges": [[0, 1]],
                                                              "node_attrs": {"d": {"7": 1}}}).message
    assert "has no value" in err(load_graph, "G", None).message
    assert '"directed" must be true or false' in err(load_graph, "G", {"edges": [], "directed": 1}).message


def test_graph_generator_deterministic_with_seed():
    spec = {"generator": "gnp_random_graph", "n": 12, "p": 0.3, "seed": 7}
    G1, G2 = load_graph("G", spec), load_graph("G", dict(spec))
    assert list(G1.edges) == list(G2.edges) and G1.number_of_nodes() == 12
    assert list(G1.edges) == list(nx.gnp_random_graph(12, 0.3, seed=7).edges)


def test_graph_generator_tuple_labels_become_integers():
    G = load_graph("G", {"generator": "grid_2d_graph", "m": 2, "n": 3})
    assert list(G.nodes) == list(range(6))


def test_graph_generator_errors():
    e = err(load_graph, "G", {"generator": "gnp_random_grph", "n": 5}, None, SPAN, SRC)
    assert e.message == 'graph G: unknown generator "gnp_random_grph"'
    assert "gnp_random_graph" in e.hint
    # Only networkx.generators functions: nothing else in networkx, nothing private.
    assert "unknown generator" in err(load_graph, "G", {"generator": "write_graphml"}).message
    assert "unknown generator" in err(load_graph, "G", {"generator": "__class__"}).message
    e = err(load_graph, "G", {"generator": "gnp_random_graph", "n": 5})
    assert e.message.startswith('graph G: generator gnp_random_graph failed with arguments {"n": 5}')


def test_graph_graphml_fixture_numeric_labels_become_ints():
    G = load_graph("G", "triangle.graphml", FIX)
    assert sorted(G.nodes) == [1, 2, 3] and all(type(v) is int for v in G.nodes)
    assert G.edges[1, 3]["weight"] == 0.5 and G.nodes[1]["demand"] == 4.0


def test_graph_graphml_round_trip(tmp_path):
    G = nx.DiGraph()
    G.add_edge("a", "b", cost=2.0)
    G.add_edge("b", "7", cost=1.0)
    nx.write_graphml(G, str(tmp_path / "g.graphml"))
    H = load_graph("G", "g.graphml", str(tmp_path))
    assert H.is_directed()
    hs, _, _ = expand_graph("H", H)
    gs, _, _ = expand_graph("H", nx.relabel_nodes(G, {"7": 7}))
    assert hs["H.nodes"].elements == gs["H.nodes"].elements == ["a", "b", 7]
    assert hs["H.arcs"].elements == gs["H.arcs"].elements == [("a", "b"), ("b", 7)]


def test_graph_edge_list_round_trip(tmp_path):
    G = nx.Graph()
    G.add_weighted_edges_from([(0, 1, 1.5), (1, 2, 2.0), (2, 0, 3.0)])
    nx.write_weighted_edgelist(G, str(tmp_path / "g.edgelist"))
    H = load_graph("G", "g.edgelist", str(tmp_path))
    assert set(map(frozenset, H.edges)) == set(map(frozenset, G.edges))
    assert {frozenset(e): d["weight"] for *e, d in H.edges(data=True)} == \
        {frozenset(e): d["weight"] for *e, d in G.edges(data=True)}


def test_graph_edge_list_fixtures():
    H = load_graph("H", "path.txt", FIX)
    assert list(H.edges(data="weight")) == [(0, 1, 2.0), (1, 2, 3.5), (2, 3, 1.0)]
    C = load_graph("C", {"file": "caps.csv", "directed": True}, FIX)
    assert C.is_directed() and list(C.edges(data="cap")) == [("a", "b", 4.0), ("b", "c", 2.0)]


def test_graph_paths_from_data_file_resolve_against_its_directory():
    path = os.path.join(FIX, "with_graphs.json")
    data = load_data(path)
    G = load_graph("G", data["G"], data_base_dir(path))
    assert G.number_of_edges() == 3


def test_graph_edge_list_errors(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("0 1 2\n1 2\n")
    e = err(load_graph, "G", "bad.txt", str(tmp_path))
    assert e.span == Span(str(p), 2, 1)
    assert e.message == "graph G: this line has 2 columns but the lines before have 3"
    assert "\n" not in e.format().split("\nhint")[0]     # a graph file's lines are never quoted
    p.write_text("0 1 2 3\n")
    assert "expected \"u v\" or \"u v weight\", got 4 columns" in err(load_graph, "G", str(p)).message
    p.write_text("0 1 1\n1 2 x\n")
    assert err(load_graph, "G", str(p)).message == \
        'graph G: weight of edge (1, 2) must be a number; the file has "x"'


def test_graph_file_errors(tmp_path):
    e = err(load_graph, "G", "nope.graphml", str(tmp_path))
    assert "not found" in e.message and str(tmp_path / "nope.graphml") in e.message
    (tmp_path / "g.dot").write_text("")
    assert 'unknown file type ".dot"' in err(load_graph, "G", "g.dot", str(tmp_path)).message
    (tmp_path / "b.graphml").write_text("<graphml>\n<graph>\n</grap>\n")
    e = err(load_graph, "G", "b.graphml", str(tmp_path))
    assert "invalid GraphML" in e.message and e.span.line == 3


# --------------------------------------------------------------------------- expand_graph

def test_expand_undirected():
    G = load_graph("G", {"edges": [[0, 1], [1, 2]], "weights": [1.0, 2.5],
                         "node_attrs": {"demand": [1, 0, -1]}})
    sets, params, fams = expand_graph("G", G)
    assert sets["G.nodes"].elements == [0, 1, 2]
    assert sets["G.edges"].elements == [(0, 1), (1, 2)]
    assert sets["G.arcs"].elements == [(0, 1), (1, 0), (1, 2), (2, 1)]
    w = params["G.weight"]
    assert isinstance(w, ParamValue) and w.index == ("G.arcs",)
    assert w.values.tolist() == [1.0, 1.0, 2.5, 2.5]
    assert params["G.demand"].index == ("G.nodes",)
    assert params["G.demand"].values.tolist() == [1, 0, -1]
    nb = fams["G.neighbors"]
    assert isinstance(nb, SetFamilyValue) and nb.over is sets["G.nodes"]
    assert [m.elements for m in nb.members] == [[1], [0, 2], [1]]


def test_expand_directed():
    G = nx.DiGraph()
    G.add_edge("a", "b", weight=1)
    G.add_edge("b", "a", weight=2)
    G.add_edge("b", "c", weight=3)
    sets, params, fams = expand_graph("D", G)
    assert sets["D.edges"].elements == sets["D.arcs"].elements == [("a", "b"), ("b", "a"), ("b", "c")]
    assert params["D.weight"].values.tolist() == [1, 2, 3]
    assert [m.elements for m in fams["D.neighbors"].members] == [["b"], ["a", "c"], []]


def test_expand_self_loop_and_isolated_node():
    G = nx.Graph()
    G.add_nodes_from([0, 1, 2])
    G.add_edge(0, 0, weight=5)
    G.add_edge(0, 1, weight=6)
    sets, params, fams = expand_graph("G", G)
    assert sets["G.arcs"].elements == [(0, 0), (0, 1), (1, 0)]
    assert params["G.weight"].values.tolist() == [5, 6, 6]
    assert len(fams["G.neighbors"].members[2]) == 0


def test_expand_empty_graph():
    sets, params, fams = expand_graph("G", nx.Graph())
    assert len(sets["G.nodes"]) == 0 and sets["G.edges"].arity == 2 and sets["G.arcs"].arity == 2
    assert params == {} and fams["G.neighbors"].members == []


def test_expand_skips_non_numeric_attributes():
    G = nx.random_geometric_graph(5, 0.5, seed=1)      # "pos" node attribute: tuples
    G.nodes[0]["label"] = "depot"
    _, params, _ = expand_graph("G", G)
    assert params == {}


def test_expand_missing_edge_attribute_names_the_edge():
    G = nx.Graph()
    G.add_edge(0, 1, cap=1)
    G.add_edge(1, 2)
    e = err(expand_graph, "G", G)
    assert e.message == 'graph G: edge (1, 2) has no "cap" attribute but other edges do'
    G = nx.Graph()
    G.add_edge(0, 1, cap=1)
    G.add_edge(1, 2, cap="big")
    assert err(expand_graph, "G", G).message == \
        'graph G: edge attribute "cap" of (1, 2) must be a number; data has the string "big"'
    G = nx.Graph()
    G.add_node(0, demand=1)
    G.add_node(1)
    assert err(expand_graph, "G", G).message == \
        'graph G: node 1 has no "demand" attribute but other nodes do'


def test_expand_attribute_name_collisions():
    G = nx.Graph()
    G.add_edge(0, 1, edges=1)
    e = err(expand_graph, "G", G)
    assert e.message == 'graph G: edge attribute "edges" collides with G.edges'
    G = nx.Graph()
    G.add_node(0, neighbors=3)
    assert "collides with G.neighbors" in err(expand_graph, "G", G).message
    G = nx.Graph()
    G.add_edge(0, 1, w=1)
    G.nodes[0]["w"] = 1
    G.nodes[1]["w"] = 2
    assert err(expand_graph, "G", G).message == 'graph G: "w" is both a node and an edge attribute'


def test_expand_rejects_multigraph_and_tuple_nodes():
    assert "multigraphs" in err(expand_graph, "G", nx.MultiGraph([(0, 1), (0, 1)])).message
    e = err(expand_graph, "G", nx.grid_2d_graph(2, 2))
    assert e.message == "graph G: node (0, 0) is not a number or a string"
    assert "convert_node_labels_to_integers" in e.hint


def test_expand_from_all_sources_agrees(tmp_path):
    """The same graph given four ways expands to the same sets."""
    G = nx.cycle_graph(4)
    nx.write_graphml(G, str(tmp_path / "c.graphml"))
    nx.write_edgelist(G, str(tmp_path / "c.txt"), data=False)
    sources = [G, {"edges": [list(e) for e in G.edges]}, "c.graphml", "c.txt",
               {"generator": "cycle_graph", "n": 4}]
    expanded = [expand_graph("C", load_graph("C", s, str(tmp_path)))[0] for s in sources]
    for sets in expanded:       # an edge list orders nodes as first seen along its lines
        assert sorted(sets["C.nodes"].elements) == [0, 1, 2, 3]
        assert {frozenset(e) for e in sets["C.edges"].elements} == {frozenset(e) for e in G.edges}
        assert len(sets["C.arcs"]) == 8
