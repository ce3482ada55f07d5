"""Small models that several test files build the same way."""
from __future__ import annotations

from lagdsl.ir.builder import ModelBuilder

#: The same knapsack in .lag text, with a family forbidding neighbouring items.
KNAPSACK_PAIRS_LAG = """model knap
set I = 1..5
param w[I] = [2, 3, 4, 5, 9]
param v[I] = [3, 4, 5, 8, 10]
var x[I] binary
maximize value: sum(i in I) v[i] * x[i]
subject to cap: sum(i in I) w[i] * x[i] <= 10
subject to pair[i in I, j in I : i < j and j == i + 1]: x[i] + x[j] <= 1
"""


def knapsack_builder(name: str = "knap"):
    """The 5-item 0-1 knapsack ``max v.x s.t. w.x <= 10`` (optimum 15: items 1, 2 and 4, by
    enumeration) as a builder, so a test can add constraints before ``build()``.

    Returns ``(builder, x)`` with ``x`` the IndexedBase of the binary variable.
    """
    b = ModelBuilder(name)
    I = b.set("I", range(1, 6))
    w = b.param("w", [I], [2, 3, 4, 5, 9])
    v = b.param("v", [I], [3, 4, 5, 8, 10])
    x = b.var("x", [I], "binary")
    i = b.index("i")
    b.maximize("value", b.sum([(i, I)], v[i] * x[i]))
    b.subject_to("capacity", b.sum([(i, I)], w[i] * x[i]) <= 10)
    return b, x
