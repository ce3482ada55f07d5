"""Property tests: mutated IR JSON and data files give a Model or a LagError, and never run code.

Valid documents (an IR compiled from a model with data, and that model's data) are mutated
structurally by hypothesis — a value replaced by a hostile one (payload strings, huge
integers, nested lists, wrong types), a key dropped — or damaged as text (cut short).  A
payload that would set an attribute on ``builtins`` if any text were evaluated is among the
values; the sentinel must stay unset.  ``bench/fuzz.py`` runs the same idea at 100,000 inputs.
"""
from __future__ import annotations

import builtins
import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lagdsl.errors import LagError
from lagdsl.frontend import compile_text
from lagdsl.ir.model import Model
from lagdsl.ir.serialize import from_json, to_dict
from lagdsl.limits import limited

SENTINEL = "LAGDSL_FUZZ_SENTINEL"
PAYLOAD = '__import__("builtins").setattr(__import__("builtins"), "%s", 1) or 0' % SENTINEL
LAG = """set I = 1..3
set C = {"a", "b"}
param w[I] = [2, 3, 4]
param c[C]
var x[I] >= 0 <= 1
var y[C] binary
maximize value: sum(i in I) w[i] * x[i] + sum(k in C) c[k] * y[k]
subject to cap: sum(i in I) x[i] + sum(k in C : c[k] > 1) y[k] <= 2
"""
DATA = {"c": {"a": 1.5, "b": 0.5}}
with limited(10 ** 5):
    BASE_IR = to_dict(compile_text(LAG, "m.lag", data=DATA))

HOSTILE = st.sampled_from([None, True, -1, 0, 2 ** 64, 10 ** 400, 1e308, "inf", "nan", "", PAYLOAD,
                           [PAYLOAD], {"__class__": PAYLOAD}, [], {}, [[1, 2], [3]], "1" * 5000,
                           ["sym", PAYLOAD], ["int", "9" * 2000], ["Pow", 0, 0], [0, 1, 2],
                           {"range": [1, 10 ** 12]}, "../../etc/passwd"])


def _paths(obj):
    out, stack = [], [((), obj)]
    while stack:
        p, v = stack.pop()
        out.append(p)
        if isinstance(v, dict):
            stack.extend((p + (k,), w) for k, w in v.items())
        elif isinstance(v, list):
            stack.extend((p + (i,), w) for i, w in enumerate(v))
    return out[1:]


@st.composite
def mutated(draw, base):
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        if draw(st.booleans()):
            parent[path[-1]] = copy.deepcopy(draw(HOSTILE))
        else:
            del parent[path[-1]]
    return doc


def _outcome(run):
    try:
        result = run()
    except LagError:
        result = None
    assert result is None or isinstance(result, Model)
    assert not hasattr(builtins, SENTINEL), "code from the input ran"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(BASE_IR))
def test_mutated_ir_is_a_model_or_a_lag_error(doc):
    with limited(10 ** 5):
        _outcome(lambda: from_json(json.dumps(doc)))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10 ** 6))
def test_truncated_ir_is_a_lag_error(cut):
    text = json.dumps(BASE_IR)
    _outcome(lambda: from_json(text[: cut % len(text)]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(DATA))
def test_mutated_data_is_a_model_or_a_lag_error(data):
    with limited(10 ** 5):
        _outcome(lambda: compile_text(LAG, "m.lag", data=data))


def test_the_unmutated_documents_are_read():
    m = from_json(json.dumps(BASE_IR))
    assert m.params["c"].values.tolist() == [1.5, 0.5]
