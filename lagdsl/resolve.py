"""Compile once, solve again with new data: what ``Model.compile`` returns.

::

    prog = lagdsl.load("transport.lag", data="transport.json").compile("highs")
    r0 = prog.solve()
    r1 = prog.solve(data={"demand": [300, 310, 290]})    # the data-file shapes
    r1.stats["resolve"]     # what changed, what was re-lowered, whether it recompiled and why

``data`` overrides params of the *compiled* model's data (each call starts from it, so a
sweep's scenarios do not leak into each other; ``solve()`` without data solves what the
program holds now).  Overrides are checked by the data-file code (:func:`~lagdsl.frontend.
data.coerce_param`, :func:`~lagdsl.frontend.check_data_keys`): a wrong shape, an unknown
name, NaN or infinity is the same positioned error a data file gets.

What happens, cheapest first:

1. the IR is updated copy-on-write: a new ``Model`` sharing everything but the params
   dict, new ``ParamValue`` arrays for the changed params (never the user's arrays);
   formula params that read a changed one are evaluated again from the body the checker
   recorded (:class:`~lagdsl.ir.derivation.Formula`), with the shared ``Evaluator``;
2. when a changed param decides structure — a set, a range, a variable's bounds or index,
   anything the checker evaluates (:attr:`Derivation.structural
   <lagdsl.ir.derivation.Derivation>`) — the model is elaborated again from its kept AST
   with the new data and compiled afresh (sets and graphs may be given that way); when it
   picks rows or sparsity in a body (a ``where`` filter, an aggregate's condition, a
   variable's subscript: :class:`~lagdsl.lower.incremental.Dependencies`) the updated IR is
   compiled afresh;
3. otherwise the program takes the new model in place (:meth:`Program.rebind
   <lagdsl.backend.Program.rebind>`: new bounds/costs into a kept solver model, a warm
   start); a program that cannot is compiled afresh.

``stats["resolve"]`` says which of these happened and why, with times.
"""
from __future__ import annotations

import copy
import os
import time
from types import SimpleNamespace

import numpy as np

from .backend import Program
from .errors import LagDataError, LagError
from .ir.model import Model as IRModel
from .ir.values import ParamValue
from .result import Result


class CompiledModel:
    """A model compiled for one backend, solvable again with new data (see the module
    docstring).  Attributes the backend's program has (``model``, ``backend``, ``emit``,
    ``quadratic_program`` ...) are reached through it; ``program`` is that program (it
    changes when a re-solve compiles again) and ``choice`` the ``auto`` choice, if any."""

    def __init__(self, model, backend, options: dict, program: Program, choice=None):
        # underscored: the program's own attributes (model, backend, ...) are reached
        # through __getattr__ and must not be shadowed
        self._model = model                 # the lagdsl.Model it came from (never changed)
        self._backend = backend             # the Backend instance
        self._options = options             # coerced options
        self.program = program
        self.choice = choice                # AutoChoice when auto picked the backend
        self._base: IRModel = model.ir
        self._current: IRModel = model.ir
        self._dirty: frozenset[str] = frozenset()    # params of ``current`` that differ from base
        self._reshaped = False               # ``current`` was elaborated again (new structure)
        self._deps = None                   # Dependencies, walked at the first re-solve

    @property
    def _dependencies(self):
        """What each body reads (:class:`~lagdsl.lower.incremental.Dependencies`); sets
        ``_elaborated`` (params whose new values need the model elaborated again: the checker
        read them) and ``_shaping`` (params deciding rows or sparsity in a body: the new IR
        is compiled again), both closed over the formulas that feed them."""
        if self._deps is None:
            from .lower.incremental import Dependencies
            self._deps = Dependencies(self._base)
            derivation = self._base.derivation
            self._elaborated = set(derivation.structural) if derivation is not None else set()
            self._shaping = set(self._deps.structure())
            formulas = list(derivation.formulas.values()) if derivation is not None else []
            for f in reversed(formulas):        # m = 2 * n; set I = 1..m
                for names in (self._elaborated, self._shaping):
                    if f.name in names:
                        names |= f.reads
        return self._deps

    def __getattr__(self, name):
        program = self.__dict__.get("program")
        if program is None:
            raise AttributeError(name)
        return getattr(program, name)

    def __repr__(self) -> str:
        return "<lagdsl compiled %s for %s>" % (self._base.name, self._backend.name)

    def emit(self, fmt: str) -> str:
        """The program's export in ``fmt`` (see :meth:`Program.emit`)."""
        return self.program.emit(fmt)

    # --- solving ----------------------------------------------------------------------
    def solve(self, data=None) -> Result:
        """Solve, after binding ``data`` (a dict of param overrides in the data-file shapes,
        or the path of a JSON data file) when given; returns a :class:`Result` whose
        ``stats["resolve"]`` says what was redone."""
        from ._stdio import warnings_as_notes
        t0 = time.perf_counter()
        info = None
        with warnings_as_notes() as caught:
            try:
                if data is not None:
                    info = self.bind(data)
                t1 = time.perf_counter()
                result = self.program.solve()
            except LagError as exc:
                raise exc.with_source(self._current.source)
        t2 = time.perf_counter()
        notes = result.stats.setdefault("notes", [])
        notes.extend(n for n in caught if n not in notes)
        if not result.backend:
            result.backend = self._backend.name
        result.stats.setdefault("backend", result.backend)
        if self.choice is not None:
            result.stats["backend_choice"] = "auto: " + self.choice.reason
        if info is not None:
            info["times"]["solve"] = t2 - t1
            result.stats["resolve"] = info
            result.times["update"] = t1 - t0
        result.times.setdefault("solve", t2 - t1)
        result.times["wall"] = t2 - t0
        return result

    def bind(self, data) -> dict:
        """Make the program hold the compiled model with ``data`` applied, without solving
        (what :meth:`solve` does first; ts-ddr's stages lower each scenario this way); returns
        what was done: the params given and changed, whether it recompiled and why, times."""
        t0 = time.perf_counter()
        self._dependencies           # noqa: B018 (walked once, here rather than at compile)
        raw = read_overrides(self._base, data)
        deciding = self._reshaping(raw)
        given = {} if deciding else coerce_overrides(self._base, raw)
        params, dirty, derived = self._target_params(given)
        info: dict = {"given": list(raw), "changed": sorted(dirty | set(raw) if deciding else dirty),
                      "derived": derived, "recompiled": False, "reason": None, "times": {}}
        elaborate = sorted(set(deciding) | (dirty & self._elaborated))
        if elaborate:
            model = self._elaborate(raw)
            info["reason"] = "%s decide%s the model's structure (%s): elaborated and compiled again" % (
                ", ".join(elaborate), "s" if len(elaborate) == 1 else "", self._shapes(elaborate))
            info["times"]["update"] = time.perf_counter() - t0
            self._recompile(model, info, reshaped=True)
            self._dirty = frozenset(dirty | {k for k in raw if k in self._base.params})
            return info
        model = copy.copy(self._base)
        model.params = params
        changed = frozenset(n for n in dirty | self._dirty if n in self._current.params
                            and params[n].values is not self._current.params[n].values
                            and not _same(params[n].values, self._current.params[n].values))
        info["changed"] = sorted(changed)       # against what the program held
        info["relowered"] = self._dependencies.touched(changed)
        info["times"]["update"] = time.perf_counter() - t0
        shaping = sorted(changed & self._shaping)
        if self._reshaped:
            info["reason"] = "the previous solve changed the structure: compiled again"
            self._recompile(model, info, reshaped=False)
        elif shaping:
            info["reason"] = "%s decide%s which rows or terms exist (%s): compiled again" % (
                ", ".join(shaping), "s" if len(shaping) == 1 else "", self._shapes(shaping))
            self._recompile(model, info, reshaped=False)
        elif not changed:
            self._current = model
        else:
            t1 = time.perf_counter()
            self.program.rebind_info = None
            ok = self.program.rebind(model, changed)
            info["times"]["rebind"] = time.perf_counter() - t1
            if ok:
                self._current = model
                if getattr(self.program, "rebind_info", None):
                    info["rebind"] = self.program.rebind_info
            else:
                if type(self.program).rebind is Program.rebind:
                    info["reason"] = "backend %s keeps no solver model to update in place" % self._backend.name
                else:
                    why = (getattr(self.program, "rebind_info", None) or {}).get("reason")
                    info["reason"] = "backend %s could not update in place%s" % (
                        self._backend.name, ": " + why if why else "")
                self._recompile(model, info, reshaped=False)
        self._dirty = frozenset(dirty)
        return info

    def _reshaping(self, raw: dict) -> list[str]:
        """The keys of ``raw`` that change the structure: sets, graphs, and structural
        params with new values (then all params of ``raw`` are checked against the new
        sets when the model is elaborated again); empty for the fast path."""
        shaping = [k for k in raw if k not in self._base.params or k in self._elaborated]
        if not shaping:
            return []
        if all(k in self._base.params for k in shaping):
            try:
                same = all(_same(v, self._base.params[k].values)
                           for k, v in coerce_overrides(self._base, {k: raw[k] for k in shaping}).items())
            except LagDataError:
                same = False        # maybe a shape the new structure explains: elaborate
            if same:
                return []
        return shaping

    def _target_params(self, given: dict):
        """The params of the compiled model with ``given`` (name -> array) applied and the
        formulas that read them evaluated again: ``(params, dirty, derived)`` where
        ``dirty`` names the params whose values differ from the compiled model's."""
        base = self._base.params
        params = dict(base)
        dirty = set()
        for name, arr in given.items():
            old = base[name]
            if _same(arr, old.values):
                continue
            params[name] = ParamValue(old.index, arr)
            dirty.add(name)
        derived = []
        derivation = self._base.derivation
        if dirty and derivation is not None:
            scratch = None
            for f in derivation.formulas.values():
                if f.name in given or not (f.reads & dirty):
                    continue
                if scratch is None:
                    scratch = copy.copy(self._base)
                    scratch.params = params         # the dict grows as formulas are done
                values = evaluate_formula(scratch, f)
                if not _same(values, base[f.name].values):
                    params[f.name] = ParamValue(base[f.name].index, values)
                    dirty.add(f.name)
                    derived.append(f.name)
        return params, dirty, derived

    def _elaborate(self, raw: dict) -> IRModel:
        """The model elaborated again from its kept AST with ``raw`` over the compiled data."""
        from .frontend.checker import check_program
        d = self._base.derivation
        data = {n: (_raw_values(self._base.params[n].values) if n in self._base.params else
                    list(self._base.sets[n].elements)) for n in d.data_names}
        data.update(d.graphs)
        data.update(d.strings)
        data.update(raw)
        return check_program(d.program, self._base.source, data, d.graph_dir)

    def _shapes(self, names) -> str:
        """What the structural params shape, for the reason line."""
        shapes = self._dependencies.structure()
        parts = []
        for n in names:
            if n in shapes:
                parts.append("%s in %s" % (n, ", ".join(sorted(shapes[n]))))
            elif n in self._base.sets:
                parts.append("%s is a set" % n)
            elif self._base.derivation is not None and n in self._base.derivation.graphs:
                parts.append("%s is a graph" % n)
            else:
                parts.append("%s is read by a set, range, default or variable bound" % n)
        return "; ".join(parts)

    def _recompile(self, model: IRModel, info: dict, reshaped: bool) -> None:
        t0 = time.perf_counter()
        self._backend.refuse_unless_accepted(model, self._options)
        self.program = self._backend.compile(model, self._options)
        self._current, self._reshaped = model, reshaped
        info["recompiled"] = True
        info["times"]["compile"] = time.perf_counter() - t0


def _raw_values(values: np.ndarray):
    """A param's array as data: a number for a scalar (the data file's shape), else as is."""
    return values.item() if values.ndim == 0 else values


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal arrays (NaN never occurs: data is finite)."""
    return a is b or (a.shape == b.shape and bool(np.array_equal(a, b)))


def read_overrides(model: IRModel, data) -> dict:
    """The raw override dict of re-solve ``data`` (a dict, or the path of a JSON data file),
    its keys checked as a data file's are: an unknown name is the data file's
    :class:`~lagdsl.errors.LagDataError`; a set or graph for a model without its ``.lag``
    source (IR, or built in Python) is refused."""
    from .frontend import check_data_keys, check_keys
    from .frontend.data import load_data
    d = model.derivation
    if isinstance(data, (str, os.PathLike)):
        raw = load_data(data)
    elif isinstance(data, dict):
        raw = data
    else:
        raise LagDataError("data for a re-solve is a dict of parameter values or the path of a "
                           "JSON data file, not %s" % type(data).__name__)
    if d is not None:
        check_data_keys(d.program, raw, getattr(raw, "source", None))
        return raw
    check_keys({**{n: "set" for n in model.sets}, **{n: "param" for n in model.params}},
               {n: "VarDecl" for n in model.vars}, raw, getattr(raw, "source", None))
    for key in raw:
        if key not in model.params:
            raise LagDataError("%s is a set: a model without its .lag source (read from IR or "
                               "built in Python) takes new values for params only" % key,
                               model.decl_spans.get(key), "load the .lag file to change sets",
                               model.source)
    return raw


def coerce_overrides(model: IRModel, raw: dict) -> dict:
    """The params of ``raw`` as float64 arrays by the data-file code
    (:func:`~lagdsl.frontend.data.coerce_param`, with the declared defaults): a wrong shape,
    a missing entry without default, NaN or infinity is the data file's error, at the
    param's declaration."""
    from .frontend.data import coerce_param
    d = model.derivation
    out = {}
    for key, value in raw.items():
        pv = model.params[key]
        default = d.defaults.get(key) if d is not None else None
        out[key] = coerce_param(key, pv.index, [model.sets[a] for a in pv.index], value,
                                default, model.decl_spans.get(key), model.source,
                                d.graph_dir if d is not None else None)
    return out


def evaluate_formula(model: IRModel, f) -> np.ndarray:
    """The values of formula param ``f`` (:class:`~lagdsl.ir.derivation.Formula`) on
    ``model``'s data, shaped like the param; errors point into the formula."""
    from .lower.evaluate import Evaluator
    from .lower.rows import Rows
    owner = SimpleNamespace(spans=f.spans, span=f.span)
    ev = Evaluator(model, owner)
    try:
        rows, _ = ev.bind(Rows.unit(), f.binding, None)
        arr = np.asarray(ev.data(f.expr, rows))
    except LagError as err:
        if err.span is None:
            err.span = f.span
        raise err.with_source(model.source)
    shape = tuple(len(model.sets[a]) for a in model.params[f.name].index)
    return np.broadcast_to(arr.astype(np.float64), (rows.n,)).reshape(shape).copy()
