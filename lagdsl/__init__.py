"""lagdsl: a modelling language and compiler for constrained problems.

``lagdsl.load(path, data=None, params=None)`` and ``lagdsl.parse(text, ...)`` return a
:class:`Model`; ``model.solve(backend="auto", **options)`` returns a :class:`Result`, and
``model.compile(backend).solve(data={...})`` solves again with new data.
``lagdsl.ModelBuilder`` builds the same IR from Python (wrap it with ``Model.from_ir``).
``lagdsl.sweep(model, scenarios, ...)`` solves one model over many data scenarios
(docs/sweep.md); ``lagdsl.learn(model, scenarios, method="pdl")`` trains a decision policy
over them and ``lagdsl.load_policy(dir)`` reads a saved one back (docs/learn.md).

Importing lagdsl is cheap: the names below are loaded on first use (PEP 562), and no backend
(cvxpy, torch, qiskit) is imported until a model is compiled for it.
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load": ("lagdsl.api", "load"),
    "parse": ("lagdsl.api", "parse"),
    "Model": ("lagdsl.api", "Model"),
    "Result": ("lagdsl.result", "Result"),
    "LagError": ("lagdsl.errors", "LagError"),
    "ModelBuilder": ("lagdsl.ir.builder", "ModelBuilder"),
    "load_fields": ("lagdsl.backends.pinn.results", "load_fields"),
    "sweep": ("lagdsl.sweep", "sweep"),
    "learn": ("lagdsl.learn", "learn"),
    "load_policy": ("lagdsl.learn", "load_policy"),
}

__all__ = ["load", "parse", "Model", "Result", "LagError", "ModelBuilder", "load_fields", "sweep",
           "learn", "load_policy", "__version__"]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError("module 'lagdsl' has no attribute %r" % name)
    import importlib
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
