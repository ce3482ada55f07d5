"""Property tests: whatever the input, the front end returns a Model or raises a LagError.

Random text and mutations of valid models (tokens deleted, duplicated, swapped or replaced)
must never escape as another exception (a lark error, a KeyError, a sympy TypeError ...).
"""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lagdsl.errors import LagError
from lagdsl.frontend import compile_text
from lagdsl.ir.model import Model
from shared_models import KNAPSACK_PAIRS_LAG

SEED_MODELS = [
    KNAPSACK_PAIRS_LAG,
    """param n = 4
set N = 1..n
set A = {(i, j) in N cross N : i != j}
param dist[i in N, j in N] = abs(i - j) + 1
var x[A] binary
var u[2..n] >= 2, <= n start 2
minimize length: sum((i, j) in A) dist[i, j] * x[i, j]
subject to leave[i in N]: sum(j in N : j != i) x[i, j] == 1
subject to mtz[(i, j) in A : i >= 2 and j >= 2]: u[i] - u[j] + (n - 1) * x[i, j] <= n - 2
subject to band: 1 <= sum(j in 2..n) u[j] <= 30
""",
    """domain D: x in [0, 1], t in [0, 1]
field u(x, t)
param alpha = 0.1
var kappa >= 0
subject to heat on D: d(u, t) - alpha * d(u, x, x) == 0
subject to ic on D where t == 0: u == sin(pi * x)
subject to walls on boundary(D): u == 0
minimize energy: integral(D) (0.5 * d(u, x) ^ 2 - u) + kappa
""",
    """set C = {"a", "b", "c"}
param c[C] default 1
var y[C] in [-1, 1]
var t
minimize m: norm2(k in C) (y[k] - c[k]) + max(t, 0) - logsumexp(k in C) y[k]
subject to s[k in C : k != "a"]: y[k] ^ 2 <= t mod 3 + 1
""",
]

TOKEN = re.compile(r'"[^"\n]*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|\.\.|[<>=!]=|\S')
ALPHABET = "abcdxyzIJ01239 \n()[]{}:,.+-*/^<>=!#\"_"
VOCAB = ["sum", "in", "subject to", "var", "param", "set", "(", ")", "[", "]", "{", "}", ":",
         ",", "..", "cross", "<=", "==", "<", "=", "x", "I", "i", "1", '"a"', "d", "u", "-",
         "^", "mod", "on", "where", "not", "inf", "pi", "integral", "D", "max"]


def outcome(text: str) -> None:
    """Compile ``text``: a Model or a LagError is fine, anything else fails the test."""
    try:
        result = compile_text(text, "fuzz.lag")
    except LagError as e:
        assert e.format()           # formatting the message must not fail either
        return
    assert isinstance(result, Model)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@st.composite
def mutated(draw):
    """A seed model with a few token-level edits."""
    toks = tokens(draw(st.sampled_from(SEED_MODELS)))
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(0, len(toks) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace"]))
        if op == "delete":
            del toks[k]
        elif op == "duplicate":
            toks.insert(k, toks[k])
        elif op == "swap" and k + 1 < len(toks):
            toks[k], toks[k + 1] = toks[k + 1], toks[k]
        else:
            toks[k] = draw(st.sampled_from(VOCAB))
        if not toks:
            toks = ["x"]
    sep = draw(st.sampled_from([" ", "\n"]))
    return sep.join(toks)


FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(alphabet=ALPHABET, max_size=80))
def test_random_text_gives_model_or_lag_error(text):
    outcome(text)


@FAST
@given(st.lists(st.sampled_from(VOCAB), max_size=25).map(" ".join))
def test_random_token_soup_gives_model_or_lag_error(text):
    outcome(text)


@FAST
@given(mutated())
def test_mutated_models_give_model_or_lag_error(text):
    outcome(text)


def test_seed_models_compile():
    for text in SEED_MODELS:
        assert isinstance(compile_text(text, "seed.lag"), Model)
