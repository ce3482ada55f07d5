"""Directed graphs: ``G.successors(v)``, ``G.predecessors(v)``, ``G.out_edges(v)``,
``G.in_edges(v)`` and string-valued scalar params as nodes.  Max flow and shortest paths on
random directed graphs against networkx; the refusal of these members on an undirected
graph; string params through data, ``--set``, inline values and re-solves."""
from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import lagdsl
from lagdsl.errors import LagDataError, LagSemanticError

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"
MAXFLOW = (EX / "maxflow.lag").read_text()
SHORTEST = (EX / "shortest_path.lag").read_text()

# the same max flow with the arcs leaving and entering each node
MAXFLOW_EDGES = """
graph G
param s
param t
var flow[(u, v) in G.arcs] >= 0, <= G.capacity[u, v]
maximize value: sum((a, w) in G.out_edges(s)) flow[a, w] - sum((u, b) in G.in_edges(s)) flow[u, b]
subject to conserve[v in G.nodes : v != s and v != t]:
    sum((u, b) in G.in_edges(v)) flow[u, b] == sum((a, w) in G.out_edges(v)) flow[a, w]
"""


def random_network(seed: int, n: int = 12, p: float = 0.3, attr: str = "capacity"):
    rng = np.random.default_rng(seed)
    G = nx.gnp_random_graph(n, p, seed=seed, directed=True)
    G = nx.relabel_nodes(G, {v: "n%d" % v for v in G})
    for u, v in G.edges:
        G[u][v][attr] = int(rng.integers(1, 20))
    return G


def graph_data(G, attr: str) -> dict:
    return {"directed": True, "nodes": list(G.nodes), "edges": [list(e) for e in G.edges],
            "edge_attrs": {attr: [G[u][v][attr] for u, v in G.edges]}}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("text", [MAXFLOW, MAXFLOW_EDGES], ids=["successors", "edges"])
def test_max_flow_matches_networkx(seed, text):
    G = random_network(seed)
    want = nx.maximum_flow_value(G, "n0", "n11", capacity="capacity")
    m = lagdsl.parse(text, data={"G": graph_data(G, "capacity"), "s": "n0", "t": "n11"})
    r = m.solve(backend="highs")
    assert r.status == "optimal"
    assert r.objective == pytest.approx(want, abs=1e-9)


def test_max_flow_example_on_cvxpy_and_its_flow_is_conserved():
    m = lagdsl.load(EX / "maxflow.lag", data=EX / "maxflow.json")
    r = m.solve(backend="cvxpy")
    assert r.objective == pytest.approx(23, abs=1e-6)
    flow = {tuple(k.split(",")): v for k, v in r.values["flow"].items()}
    for v in ("v1", "v2", "v3", "v4"):
        into = sum(f for (a, b), f in flow.items() if b == v)
        out = sum(f for (a, b), f in flow.items() if a == v)
        assert into == pytest.approx(out, abs=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_shortest_path_matches_networkx(seed):
    G = random_network(seed, n=10, p=0.35, attr="weight")
    lengths = nx.single_source_dijkstra_path_length(G, "n0", weight="weight")
    t = max(lengths, key=lengths.get)       # the farthest reachable node
    m = lagdsl.parse(SHORTEST, data={"G": graph_data(G, "weight"), "s": "n0", "t": t})
    r = m.solve(backend="highs")
    assert r.objective == pytest.approx(lengths[t], abs=1e-9)


def test_directed_families_follow_the_arcs():
    m = lagdsl.parse("graph G\n", data={"G": {"directed": True, "nodes": [1, 2, 3],
                                              "edges": [[1, 2], [3, 2], [2, 1]]}})
    fam = m.ir.set_families
    assert [s.elements for s in fam["G.successors"].members] == [[2], [1], [2]]
    assert [s.elements for s in fam["G.predecessors"].members] == [[2], [1, 3], []]
    assert [s.elements for s in fam["G.out_edges"].members] == [[(1, 2)], [(2, 1)], [(3, 2)]]
    assert [s.elements for s in fam["G.in_edges"].members] == [[(2, 1)], [(1, 2), (3, 2)], []]


@pytest.mark.parametrize("member", ["successors", "predecessors", "in_edges", "out_edges"])
def test_directed_members_on_an_undirected_graph_are_refused(member):
    bind = "(a, b)" if member.endswith("edges") else "w"
    text = "graph G\nvar x[G.nodes] >= 0\nsubject to c[v in G.nodes]: sum(%s in G.%s(v)) 1 <= 1\n" % (bind, member)
    with pytest.raises(LagSemanticError) as e:
        lagdsl.parse(text, data={"G": {"edges": [[1, 2]]}}, path="m.lag")
    assert str(e.value.message) == "G.%s needs a directed graph; graph G is undirected" % member
    assert (e.value.span.line, e.value.span.col) == (3, 38 if bind == "w" else 43)
    assert '"directed": true' in e.value.hint


def test_string_param_as_node_through_set_inline_and_resolve(tmp_path):
    data = json.loads((EX / "maxflow.json").read_text())
    G = nx.DiGraph()
    G.add_edges_from((u, v, {"capacity": c}) for (u, v), c in
                     zip(data["G"]["edges"], data["G"]["edge_attrs"]["capacity"]))
    m = lagdsl.load(EX / "maxflow.lag", data=EX / "maxflow.json", params={"s": "v2"})
    assert m.solve(backend="highs").objective == pytest.approx(
        nx.maximum_flow_value(G, "v2", "t", capacity="capacity"))
    inline = MAXFLOW.replace("param s ", 'param s = "v1" ').replace("param t ", 'param t = "t" ')
    data.pop("s"), data.pop("t")
    m = lagdsl.parse(inline, data=data)
    prog = m.compile(backend="highs")
    assert prog.solve().objective == pytest.approx(nx.maximum_flow_value(G, "v1", "t", capacity="capacity"))
    r = prog.solve(data={"s": "v4"})
    assert r.objective == pytest.approx(nx.maximum_flow_value(G, "v4", "t", capacity="capacity"))


def test_string_param_mistakes():
    base = 'set I = {"a", "b"}\nparam s\n'
    with pytest.raises(LagSemanticError, match='the string "a" is used where a number is needed'):
        lagdsl.parse(base + "param y = s + 1\n", data={"s": "a"})
    with pytest.raises(LagSemanticError, match=r'param s is a string \("a"\) and takes no subscripts'):
        lagdsl.parse(base + "param y = s[1]\n", data={"s": "a"})
    with pytest.raises(LagDataError, match='param w is indexed; data gives it the string "a"'):
        lagdsl.parse(base + "param w[I]\n", data={"s": "a", "w": "a"})
    # a string that is no node: the subscript is outside its set, at the use
    with pytest.raises(LagDataError) as e:
        lagdsl.parse(base + "var x[I]\nsubject to c: x[s] <= 1\n", data={"s": "z"},
                     path="m.lag").solve(backend="highs")
    assert 'subscript [z] of x is outside its index set I' in e.value.message
    # a string param compares with string elements in conditions
    m = lagdsl.parse(base + "param w[i in I] = if i == s then 1 else 0\n", data={"s": "b"})
    assert m.ir.params["w"].values.tolist() == [0, 1]
