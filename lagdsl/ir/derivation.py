"""How the checker derived a model's data, kept so that new data can be bound cheaply.

The IR holds evaluated values only (a formula param is an array).  A re-solve with new data
(:mod:`lagdsl.resolve`) must know which values came from the data, which formulas read which
params, and which params decide the model's shape; the checker records that here as it
elaborates (:class:`Derivation`, on ``Model.derivation``).  It is not part of the IR's JSON:
a model read back from IR, or built with :class:`~lagdsl.ir.builder.ModelBuilder`, has
``derivation = None`` and all its params count as plain data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy

from .model import Span
from .sym import Over


@dataclass
class Formula:
    """``param NAME[...] = expr``: the body and its binding over the declared axes, with the
    spans the evaluator points into, and the params it reads."""

    name: str
    expr: sympy.Expr
    binding: tuple[Over, ...]
    spans: dict
    span: Span | None
    reads: frozenset[str]


@dataclass
class Derivation:
    """What the checker did with the data, per name (see the module docstring).

    ``program`` and ``graph_dir`` let the front end elaborate the model again with other data
    (a structural change); ``data_names`` are the sets and params that took their value from
    the data; ``graphs`` the loaded graphs (given back as they are); ``defaults`` the
    evaluated ``default`` of each param that has one; ``formulas`` in declaration order;
    ``structural`` the params that something evaluated while checking reads (set
    definitions, ranges, defaults, variable bounds and starts, domain boxes, inline lists):
    a new value for one of them means elaborating again; ``strings`` the string-valued
    scalar params (``param s`` with ``"s": "a"``), which the checker writes into the bodies
    as elements, so that a new value for one means elaborating again too."""

    program: object
    graph_dir: object = None
    data_names: set[str] = field(default_factory=set)
    graphs: dict = field(default_factory=dict)
    defaults: dict[str, np.ndarray] = field(default_factory=dict)
    formulas: dict[str, Formula] = field(default_factory=dict)
    structural: set[str] = field(default_factory=set)
    strings: dict[str, str] = field(default_factory=dict)


def param_reads(e, params) -> set[str]:
    """Names of the params (of the mapping ``params``) that expression ``e`` reads: scalar
    params as symbols, indexed ones through their ``IndexedBase``."""
    if e is None or not isinstance(e, sympy.Basic):
        return set()
    return {s.name for s in e.atoms(sympy.Symbol) if s.name in params}
