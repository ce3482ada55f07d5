"""The backend interface and registry.

A backend is a class with a ``name``, a one-line ``description``, an ``accepts(model)`` that
returns a list of :class:`Refusal` reasons (empty when it takes the model) and a
``compile(model, options) -> Program``.  A :class:`Program` is the compiled form: ``solve()``
returns a :class:`~lagdsl.result.Result`, ``emit(fmt)`` writes an export.

Backends live in ``backends/<name>.py`` (imported as ``lagdsl.backends.<name>``) and are
registered here by module path, so that importing lagdsl never imports cvxpy, torch or qiskit.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .errors import BackendRefusal, LagError
from .ir.model import Model, Span
from .result import Result

#: name -> module that defines ``BACKEND`` (an instance of a :class:`Backend` subclass).
REGISTRY: dict[str, str] = {
    "cvxpy": "lagdsl.backends.cvxpy",
    "highs": "lagdsl.backends.highs",
    "lagrangian": "lagdsl.backends.lagrangian",
    "qubo": "lagdsl.backends.qubo",
    "pinn": "lagdsl.backends.pinn",
}


@dataclass
class Refusal:
    """One reason a backend will not take a model, pointing at the construct when it can."""

    reason: str
    span: Span | None = None


def fields_refusal(model: Model) -> Refusal | None:
    """The refusal every non-field backend gives a model with fields (at its first field
    constraint), or None for a model without fields."""
    if not model.fields:
        return None
    span = next((c.span for c in model.constraints.values() if c.region is not None), None)
    return Refusal("the model has fields (%s); PDE models need the pinn backend"
                   % ", ".join(model.fields), span)


class Program:
    """A model compiled for one backend."""

    backend: str = ""

    def solve(self) -> Result:
        raise NotImplementedError

    def emit(self, fmt: str) -> str:
        """Text of the model in ``fmt`` (e.g. ``lp``, ``mps``); refuses unknown formats."""
        raise BackendRefusal("backend %s cannot emit %r" % (self.backend, fmt))

    def rebind(self, model, changed: frozenset[str]) -> bool:
        """Take new data in place for a re-solve (:mod:`lagdsl.resolve`).

        ``model`` is an IR model with the same structure as the compiled one and new values
        for the params in ``changed`` (formula params that depend on them included).  Return
        True once the program solves ``model`` next, or False, leaving itself unchanged, when
        it cannot (the caller then compiles ``model`` afresh, which also re-checks what
        ``accepts`` decided: a quadratic that is no longer convex, say).  A program
        may set ``self.rebind_info`` (a dict) to say what it redid; it lands in
        ``stats["resolve"]``."""
        return False


class Backend:
    """Base class of backends."""

    name: str = ""
    description: str = ""
    #: option name -> (default, help) or (default, help, validator) for ``--option k=v`` and
    #: ``lagdsl backends``; see :mod:`lagdsl.options`.
    options: dict[str, tuple[Any, str]] = {}
    #: formats ``compile --emit`` accepts besides ``ir``.
    emits: tuple[str, ...] = ()
    #: whether results carry ``stats["history"]`` (:mod:`lagdsl.history`), so ``--plot`` works.
    records_history: bool = False
    #: whether :meth:`save_fields` can write trained fields (``solve --save DIR``).
    saves_fields: bool = False
    #: the file names :meth:`save_fields` writes into its directory (checked before solving,
    #: and the only files ``--overwrite`` replaces).
    saved_files: tuple[str, ...] = ()

    def save_fields(self, result: Result, model: Model, directory: str, overwrite: bool = False,
                    inputs=None) -> list[str]:
        """Write ``result``'s trained fields (and what reads them back) into ``directory``
        (new or empty unless ``overwrite``; never onto ``inputs``: :mod:`lagdsl.outputs`);
        returns the files written.  Backends without fields refuse."""
        raise BackendRefusal("backend %s trains no fields to save" % self.name)

    def accepts(self, model: Model) -> list[Refusal]:
        raise NotImplementedError

    def compile(self, model: Model, options: dict | None = None) -> Program:
        raise NotImplementedError

    def refusal(self, reason: str, span: Span | None = None, hint: str | None = None,
                source=None) -> BackendRefusal:
        """The error that refuses a model for ``reason``; ``.reason`` keeps the bare reason
        so that :meth:`accepts` can collect it without the backend's prefix."""
        exc = BackendRefusal("backend %s cannot take this model: %s" % (self.name, reason), span, hint, source)
        exc.reason = reason
        return exc

    def accepts_with(self, model: Model, options: dict | None) -> list[Refusal]:
        """:meth:`accepts` for a solve with ``options`` (coerced); a backend whose options
        change what it takes (``relax=true``) overrides this."""
        return self.accepts(model)

    def refuse_unless_accepted(self, model: Model, options: dict | None = None) -> None:
        """Raise a positioned :class:`BackendRefusal` for the first reason, if any."""
        reasons = self.accepts_with(model, options)
        if reasons:
            r = reasons[0]
            more = "" if len(reasons) == 1 else " (and %d more reason%s: --all lists every " \
                "one, as does lagdsl check)" % (len(reasons) - 1, "" if len(reasons) == 2 else "s")
            exc = self.refusal(r.reason + more, r.span, hint=takers_hint(model, self.name),
                               source=model.source)
            exc.alone = exc.message[:len(exc.message) - len(more)]
            exc.others = tuple("%s: %s" % (o.span, o.reason) if o.span is not None else o.reason
                               for o in reasons[1:])
            raise exc


#: Model class (:func:`lagdsl.ir.classify.classify`) -> backends ``auto`` tries, in order.
#: The first registered one whose ``accepts`` takes the model wins; ``qubo`` is never
#: chosen (binary quadratic models stay on the exact solvers; qubo only on request).
AUTO_PREFERENCE: dict[str, tuple[str, ...]] = {
    "PDE": ("pinn",),
    **{k: ("highs", "cvxpy", "lagrangian") for k in ("LP", "QP")},
    **{k: ("highs", "cvxpy") for k in ("MILP", "MIQP", "binary linear", "binary quadratic")},
    **{k: ("cvxpy", "lagrangian") for k in ("QCQP", "SOCP", "convex")},
    **{k: ("cvxpy",) for k in ("MIQCQP", "MISOCP", "mixed-integer convex")},
    "NLP": ("lagrangian", "cvxpy"),
    "MINLP": ("lagrangian", "cvxpy"),
}


@dataclass
class AutoChoice:
    """The backend ``auto`` picked for a model, and why (one line)."""

    backend: str
    reason: str
    refusals: dict[str, list[Refusal]]      # candidates tried before it that refused

    def to_dict(self) -> dict:
        return {"backend": self.backend, "reason": self.reason}


def choose_backend(model: Model, options: dict | None = None, accepts=None) -> AutoChoice:
    """The backend ``auto`` stands for: by model class, the first registered backend of
    :data:`AUTO_PREFERENCE` that accepts ``model``; candidates that declare every option in
    ``options`` come first (``relax=true`` changes what lagrangian takes; a refused option
    value is the usual error, and an option no candidate has is reported by the chosen
    backend when it checks its options).  ``accepts(name)`` may supply refusals already computed
    (``lagdsl check`` has them).  No taker is a :class:`BackendRefusal` naming each
    candidate's first reason."""
    from .ir.classify import classify
    kind = classify(model).kind
    order = AUTO_PREFERENCE.get(kind, ("cvxpy", "lagrangian"))
    missing = [n for n in order if n not in REGISTRY]
    tried: dict[str, list[Refusal]] = {}
    for fit_options in (True, False):
        for name in order:
            if name not in REGISTRY or name in tried:
                continue
            if accepts is not None:
                reasons = accepts(name)
            else:
                b = get_backend(name)
                unknown = [k for k in options or () if k not in b.options]
                if fit_options and unknown:
                    continue            # another candidate may know the option
                reasons = b.accepts_with(model, coerce_options(b, options)) if options and not unknown \
                    else b.accepts(model)
            if not reasons:
                notes = ["%s not registered" % " and ".join(missing)] if missing else []
                notes += ["%s refuses it" % n for n in tried]
                why = "; ".join(["class %s: the first of %s that accepts it" % (kind, ", ".join(order))]
                                + notes)
                return AutoChoice(name, why, tried)
            tried[name] = reasons
        if not options:
            break
    detail = "; ".join("%s: %s" % (n, r[0].reason if r else "?") for n, r in tried.items())
    raise BackendRefusal("no backend takes this %s model (auto tried %s)%s" % (
        kind, ", ".join(n for n in order if n in REGISTRY) or "none registered",
        ": " + detail if detail else ""),
        next((r[0].span for r in tried.values() if r), None),
        "name one with --backend (lagdsl check lists what each backend says)", model.source)


def acceptance(model: Model, skip: str | None = None) -> dict[str, tuple[Backend | None, list[Refusal]]]:
    """Per registered backend (but ``skip``): the backend and its refusals of ``model``
    (empty: it accepts); one that cannot be loaded refuses with why.  What ``lagdsl check``
    reports and what a refusal's hint names."""
    out: dict = {}
    for name in available():
        if name == skip:
            continue
        b = None
        try:
            b = get_backend(name)
            out[name] = (b, b.accepts(model))
        except LagError as exc:         # not importable, or the model's data is wrong for it
            out[name] = (b, [Refusal(exc.message, exc.span)])
    return out


def takers_hint(model: Model, refused: str) -> str | None:
    """The hint of a refusal by ``refused``: the backends that take ``model``, those
    ``auto`` would try first for its class in front (``the lagrangian backend accepts this
    model: --backend lagrangian``), or that none does."""
    try:
        from .ir.classify import classify
        kind = classify(model).kind
    except Exception:        # a model classify cannot read still gets its refusal
        kind = None
    takers = [n for n, (_b, refusals) in acceptance(model, skip=refused).items() if not refusals]
    if not takers:
        return "no other backend accepts this model either: lagdsl check lists why"
    first = [n for n in AUTO_PREFERENCE.get(kind, ()) if n in takers]
    takers = first + [n for n in takers if n not in first]
    if len(takers) == 1:
        return "the %s backend accepts this model: --backend %s" % (takers[0], takers[0])
    return "the %s and %s backends accept this model: --backend %s" % (
        ", ".join(takers[:-1]), takers[-1], takers[0])


def available() -> list[str]:
    """Registered backend names."""
    return list(REGISTRY)


def get_backend(name: str) -> Backend:
    """The backend called ``name``; unknown names are a user error listing the known ones
    (``auto`` is not a backend: :func:`choose_backend` resolves it for a model)."""
    mod = REGISTRY.get(name)
    if mod is None:
        raise BackendRefusal("unknown backend %r; available: auto, %s" % (name, ", ".join(REGISTRY)))
    try:
        module = importlib.import_module(mod)
    except ImportError as exc:  # an optional dependency is missing
        raise BackendRefusal("backend %s cannot be loaded: %s (its dependencies are part of lagdsl's "
                             "install: reinstall with `pip install -c constraints.txt lagdsl`)" % (name, exc))
    return module.BACKEND


def coerce_options(backend: Backend, options: dict | None) -> dict:
    """Options with defaults filled in and each value converted and checked by its validator
    (:mod:`lagdsl.options`); unknown option names and refused values are user errors naming
    what is allowed."""
    from .options import validator_of
    out = {k: spec[0] for k, spec in backend.options.items()}
    for k, v in (options or {}).items():
        if k not in backend.options:
            import difflib
            close = difflib.get_close_matches(str(k).lower(), list(backend.options), n=1, cutoff=0.6)
            raise BackendRefusal("backend %s has no option %r; %soptions: %s" % (
                backend.name, k, "did you mean %s? " % close[0] if close else "",
                ", ".join(sorted(backend.options)) or "none"))
        check = validator_of(backend.options[k], k)
        out[k] = check(k, v) if check is not None else v
    return out
