"""Result values: lazy label-keyed families and the --json object."""
import json
import math

import numpy as np

from lagdsl.ir.values import SetValue
from lagdsl.result import FamilyValues, Result


def family():
    I, J = SetValue.from_range(1, 2), SetValue.from_elements(["a", "b", "c"])
    return FamilyValues(np.arange(6.0), [I, J])


def test_family_values_behave_like_a_dict_keyed_by_label():
    f = family()
    assert f["2,b"] == 4.0
    assert len(f) == 6 and list(f)[:3] == ["1,a", "1,b", "1,c"]
    assert f == {"1,a": 0.0, "1,b": 1.0, "1,c": 2.0, "2,a": 3.0, "2,b": 4.0, "2,c": 5.0}
    assert f.items()[4] == ("2,b", 4.0) and f.values()[-1] == 5.0
    assert [f.label_at(k) for k in range(6)] == list(f)
    assert f.array.tolist() == [0, 1, 2, 3, 4, 5]


def test_json_object_from_families_with_non_finite_values():
    f = FamilyValues(np.array([1.0, math.inf]), [SetValue.from_elements(["p", "q"])])
    r = Result("optimal", 2.0, {"x": f, "t": 0.5, "y": family()}, stats={"rows": np.int64(3)})
    d = json.loads(r.to_json())
    assert d["variables"]["x"] == {"p": 1.0, "q": "inf"}
    assert d["variables"]["y"]["2,c"] == 5.0 and d["variables"]["t"] == 0.5
    assert d["stats"]["rows"] == 3 and isinstance(d["stats"]["rows"], int)
    assert set(d) == {"status", "objective", "variables", "duals", "max_violation", "backend", "stats"}


def test_to_json_text_is_exactly_json_dumps_of_the_dict():
    f = FamilyValues(np.array([1.5, -0.0, 2e-300, 1e22]), [SetValue.from_elements(['q"uote', "é", "b,c", 7])])
    g = FamilyValues(np.array([1.0, math.nan]), [SetValue.from_elements(["p", "q"])])
    r = Result("optimal", 2.0, {"x": f, "g": g, "t": 0.5, "d": {"k": math.inf}},
               duals={"c": {"1": 0.25}}, stats={"rows": 3, "times": {"solve": 0.1}})
    assert r.to_json() == json.dumps(r.to_json_dict())
    assert json.loads(r.to_json())["variables"]["x"]['q"uote'] == 1.5


def test_to_json_of_products_of_sets_matches_json_dumps():
    # the fast writer builds keys per set and formats only non-zero entries
    I = SetValue.from_elements(['q"uote', "é", "b,c", 7, "\U0001f600"])
    J = SetValue.from_elements([("a", 1), ("b", 2)])
    K = SetValue.from_range(1, 3)
    vals = np.array([0.0, -0.0, 1.5, 2e-300, 1e22, -3.25, 0.1, 1 / 3, 0.0, 5.0] * 3)
    for sets in ([I, J, K], [J, K], [I], [J]):
        n = int(np.prod([len(s) for s in sets]))
        f = FamilyValues(vals[:n] if n <= len(vals) else np.resize(vals, n), sets)
        r = Result("optimal", 1.0, {"x": f})
        assert r.to_json() == json.dumps(r.to_json_dict())
        assert json.loads(r.to_json())["variables"]["x"] == f.to_dict()
    empty = FamilyValues(np.zeros(0), [SetValue.from_elements([])])
    assert json.loads(Result("optimal", 0.0, {"x": empty}).to_json())["variables"]["x"] == {}
