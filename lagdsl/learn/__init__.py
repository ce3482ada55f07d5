"""Learned decision policies from a model file (``lagdsl learn``; docs/learn.md).

``lagdsl.learn(model, scenarios, method="pdl", **options) -> Policy`` trains a policy that
maps the params varying in ``scenarios`` (a sweep scenario file, or dicts) to the model's
decisions; ``lagdsl.load_policy(dir)`` reads a saved one back (:mod:`.policy`).

Methods are a registry: :data:`METHODS` maps a name to the module that implements it, imported
when first used.  Such a module exposes ``train(model, base_data, scenarios, *, targets,
stages, options, seed) -> Policy`` and ``load(model, manifest, tensors) -> Policy`` (see
:mod:`lagdsl.learn.policy` for the interface).
"""
from __future__ import annotations

import importlib

from ..errors import BackendRefusal

#: method name -> module path (``train`` and ``load`` live there)
METHODS = {
    "pdl": "lagdsl.learn.pdl",
    "supervised": "lagdsl.learn.supervised",
    "ts-ddr": "lagdsl.learn.tsddr",
}


def method_module(name: str):
    """The module of method ``name``; an unknown name is refused with the known ones."""
    if name not in METHODS:
        import difflib
        close = difflib.get_close_matches(str(name), list(METHODS), n=1)
        raise BackendRefusal("unknown learning method %r; methods: %s" % (name, ", ".join(METHODS)),
                             hint="did you mean %s?" % close[0] if close else None)
    return importlib.import_module(METHODS[name])


def learn(model, scenarios, method: str = "pdl", *, data=None, targets=None, stages=None,
          seed: int | None = 0, **options):
    """Train a policy for ``model`` (a :class:`lagdsl.Model` or a ``.lag`` path, with
    ``data`` the base data file or dict for a path) on ``scenarios`` (a scenario file, a
    directory of them, or an iterable of override dicts); returns a
    :class:`~lagdsl.learn.policy.Policy`.  ``options`` are the method's (docs/learn.md)."""
    from ..api import Model, load
    from ..sweep.scenarios import read_scenarios
    mod = method_module(method)
    if not isinstance(model, Model):
        model = load(model, data=data)
    found = read_scenarios(scenarios)
    return mod.train(model, None, found, targets=targets, stages=stages, options=options, seed=seed)


def load_policy(directory):
    """The policy saved in ``directory`` (:func:`lagdsl.learn.policy.load_policy`)."""
    from .policy import load_policy as load
    return load(directory)


class _CallableModule(__import__("types").ModuleType):
    """``lagdsl.learn`` is both this package and the function (as ``lagdsl.sweep`` is):
    importing a submodule binds the package as ``lagdsl.learn``, so the package itself must
    call :func:`learn`, or ``lagdsl.learn(...)`` would depend on import order."""

    def __call__(self, *args, **kwargs):
        return learn(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
