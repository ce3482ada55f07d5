"""The Python API: :func:`load`, :func:`parse` and :class:`Model`.

::

    import lagdsl
    m = lagdsl.load("knapsack.lag", data="knapsack.json", params={"n": 20})
    r = m.solve()                                 # backend="auto": picked by model class
    r.status, r.objective, r.values["x"]["3"]
    prog = m.compile("cvxpy")                     # compile once ...
    r2 = prog.solve(data={"w": [3, 1, 4]})        # ... solve again with new data

    m = lagdsl.Model.from_ir(builder.build())     # a model built with lagdsl.ModelBuilder
    m.check()                                     # sizes, class, which backends take it
    print(m)                                      # .lag-like text; m.to_latex() for LaTeX

Backends are imported when first used, never by ``import lagdsl``.
"""
from __future__ import annotations

import os
import time
from typing import Any

from . import backend as _backend
from .errors import LagError
from .ir.model import Model as IRModel
from .result import Result

__all__ = ["load", "parse", "Model"]


class Model:
    """A compiled model (its IR with the data bound), ready to check, show, compile or solve."""

    def __init__(self, ir: IRModel):
        if not isinstance(ir, IRModel):
            raise TypeError("lagdsl.Model wraps a lagdsl.ir.model.Model, got %s" % type(ir).__name__)
        self.ir = ir

    # --- construction ----------------------------------------------------------------
    @classmethod
    def from_ir(cls, ir: IRModel) -> "Model":
        """Wrap an IR model, e.g. one made with :class:`lagdsl.ModelBuilder`."""
        return cls(ir)

    @classmethod
    def from_json(cls, doc) -> "Model":
        """A model from IR JSON text (or a parsed dict), as written by :meth:`to_json`."""
        from .ir.serialize import from_json
        return cls(from_json(doc))

    def to_json(self, indent: int | None = None) -> str:
        """The IR as JSON (``lagdsl compile MODEL --emit ir``)."""
        from .ir.serialize import to_json
        return to_json(self.ir, indent=indent)

    # --- inspection ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.ir.name

    def classify(self):
        """The model class (``.kind`` such as ``"LP"`` or ``"MILP"``, and ``.reasons``)."""
        from .ir.classify import classify
        return classify(self.ir)

    def check(self) -> dict:
        """Sizes, class, and for every registered backend whether it accepts the model and,
        if not, why (each reason with its ``file:line:col`` where known)."""
        info: dict[str, Any] = {"model": self.ir.name,
                                "source": self.ir.source.path if self.ir.source else None,
                                "sizes": self.ir.summary()}
        mc = self.classify()
        info["class"] = {"kind": mc.kind, "reasons": [str(r) for r in mc.reasons],
                         "integer": mc.integer, "feasibility": mc.feasibility}
        backends, said = {}, {}
        for name, (b, refusals) in _backend.acceptance(self.ir).items():
            entry: dict[str, Any] = {"accepts": not refusals,
                                     "reasons": [_refusal_text(r) for r in refusals]}
            if b is not None:
                entry["description"] = b.description
            said[name] = refusals
            backends[name] = entry
        info["backends"] = backends
        try:
            info["auto"] = _backend.choose_backend(self.ir, accepts=said.__getitem__).to_dict()
        except LagError as exc:
            info["auto"] = {"backend": None, "reason": exc.message}
        return info

    def to_text(self) -> str:
        """The model as readable ``.lag``-like text."""
        from .pretty import to_text
        return to_text(self.ir)

    def to_latex(self) -> str:
        """The objective and constraints as a LaTeX ``align*`` environment."""
        from .pretty import to_latex
        return to_latex(self.ir)

    def _repr_latex_(self) -> str:
        return self.to_latex()

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        s = self.ir.summary()
        return "<lagdsl.Model %s: %d unknowns, %d constraints%s>" % (
            self.ir.name, s["unknowns"], s["constraints"],
            ", %d fields" % s["fields"] if s["fields"] else "")

    # --- compile and solve -----------------------------------------------------------
    def compile(self, backend: str = "auto", seed: int | None = None, **options):
        """The model compiled for ``backend``: a :class:`~lagdsl.resolve.CompiledModel`,
        whose ``solve(data={...})`` solves again with new parameter values (the backend's
        :class:`~lagdsl.backend.Program` is its ``program``; its other attributes are
        reached through it).

        ``backend="auto"`` (the default) picks by model class
        (:func:`lagdsl.backend.choose_backend`).  Options are checked and converted against
        the backend's declared options; ``seed`` is passed to backends that declare a
        ``seed`` option and ignored by deterministic ones.  A backend that does not accept
        the model raises a positioned :class:`~lagdsl.errors.BackendRefusal`.
        """
        from .resolve import CompiledModel
        choice = None
        if backend is None or backend == "auto":
            choice = _backend.choose_backend(self.ir, options)
            backend = choice.backend
        b = _backend.get_backend(backend)
        if seed is not None:
            from .options import SEED
            seed = SEED("seed", seed)       # one check, whether the backend uses it or not
            if "seed" in b.options:
                options = dict(options, seed=seed)
        opts = _backend.coerce_options(b, options)
        if choice is None:          # auto asked the backend already
            b.refuse_unless_accepted(self.ir, opts)
        try:
            program = b.compile(self.ir, opts)
        except LagError as exc:
            raise exc.with_source(self.ir.source)
        return CompiledModel(self, b, opts, program, choice)

    def solve(self, backend: str = "auto", seed: int | None = None, **options) -> Result:
        """Compile for ``backend`` (``auto``: by model class) and solve; returns a
        :class:`~lagdsl.result.Result` (``stats["backend"]`` names the backend, and
        ``stats["backend_choice"]`` says why when ``auto`` chose it).

        Python warnings raised meanwhile (cvxpy's, numpy's, torch's) are not printed: each
        becomes one line in ``result.stats["notes"]``."""
        from ._stdio import warnings_as_notes
        t0 = time.perf_counter()
        with warnings_as_notes() as caught:
            program = self.compile(backend, seed=seed, **options)
            t1 = time.perf_counter()
            try:
                result = program.solve()
            except LagError as exc:
                raise exc.with_source(self.ir.source)
        notes = result.stats.setdefault("notes", [])
        notes.extend(n for n in caught if n not in notes)
        result.times.setdefault("compile", t1 - t0)
        # Phases reported by backends overlap (a solve contains the solver's time), so the
        # one end-to-end figure is measured here rather than summed.
        result.times["wall"] = time.perf_counter() - t0
        return result

    def emit(self, fmt: str, backend: str | None = None, **options) -> str:
        """Text of the model in ``fmt``.

        ``ir`` (lossless JSON), ``text`` and ``latex`` need no backend.  Otherwise a named
        ``backend`` writes the format when it lists it in its ``emits``; ``lp`` and ``mps``
        fall back to :func:`lagdsl.export.emit` (no solver needed), and any other format is
        asked of the backend's program (``cvxpy`` when none is named), which refuses formats
        it does not know.
        """
        key = str(fmt).lower().lstrip(".")
        if key in ("ir", "json"):
            return self.to_json(indent=1) + "\n"
        if key == "text":
            return self.to_text()
        if key == "lag":
            from .export.lag import to_lag
            return to_lag(self.ir)
        if key in ("latex", "tex"):
            return self.to_latex() + "\n"
        b = _backend.get_backend(backend) if backend is not None else None
        if b is not None and key in getattr(b, "emits", ()):
            return self.compile(backend, **options).emit(key)
        from .export import FORMATS, emit as export_emit
        if key in FORMATS:
            try:
                return export_emit(self.ir, key)
            except LagError as exc:
                raise exc.with_source(self.ir.source)
        formats = ["ir", "text", "latex"] + sorted(set(FORMATS) | set(getattr(b, "emits", ())))
        if b is None:
            raise LagError("unknown output format %r; formats: %s" % (fmt, ", ".join(formats)))
        from .errors import BackendRefusal
        raise BackendRefusal("backend %s cannot emit %r; formats: %s" % (b.name, fmt, ", ".join(formats)))


def _refusal_text(r) -> str:
    span = getattr(r, "span", None)
    return ("%s: %s" % (span, r.reason)) if span is not None else str(r.reason)


def _ir_document(text: str):
    """The parsed document when ``text`` is JSON that declares itself lagdsl IR by its
    ``"format"`` marker, else None.  The first character decides nothing."""
    if not text.lstrip().startswith("{"):
        return None                 # cheap: only a JSON object can carry the marker
    from .ir.serialize import FORMAT, parse_json
    try:
        doc = parse_json(text)
    except LagError:
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None


def load(path, data=None, params: dict | None = None, max_elements: int | None = None,
         allow_dirs=()) -> Model:
    """Compile the ``.lag`` file at ``path`` with ``data`` (None, a dict, or a JSON file
    path) and ``params`` (overrides such as ``{"n": 20}``).  A lagdsl IR JSON file (from
    ``lagdsl compile --emit ir``; recognised by its ``"format": "lagdsl-ir"`` marker) is read
    back as it is.  ``max_elements`` bounds the size of any one set or declaration
    (default: from available memory, see :mod:`lagdsl.limits`).  Graph files named in the
    data must lie in the data file's directory (the model's, for a dict) or in one of
    ``allow_dirs``."""
    from .frontend.files import check_regular, read_text
    from .limits import limited
    path = os.fspath(path)
    if not os.path.exists(path):
        raise LagError("model file not found: %s" % path)
    check_regular(path, "model file", LagError)     # no FIFO, device or directory: never hang
    with limited(max_elements):
        text = read_text(path, "model file", LagError)
        doc = _ir_document(text)
        if doc is not None:
            if data is not None or params:
                raise LagError("%s is compiled IR: its data is already bound (drop --data/--set)" % path)
            from .ir.serialize import from_dict
            try:
                return Model(from_dict(doc))
            except LagError as exc:
                exc.message = "%s: %s" % (path, exc.message)
                exc.args = (exc.message,)
                raise
        from .frontend import compile_text
        try:
            return Model(compile_text(text, path, data, params, os.path.dirname(os.path.abspath(path)),
                                      allow_dirs))
        except LagError as exc:
            _explain_broken_ir(exc, text, path)
            raise


def _explain_broken_ir(exc: LagError, text: str, path: str) -> None:
    """A file that looks like IR but is not valid JSON (cut short, edited) fails as ``.lag``
    text at its first ``{``; say what is wrong with it as JSON instead."""
    from .errors import LagSyntaxError
    head = text.lstrip()[:400]
    if not (isinstance(exc, LagSyntaxError) and head.startswith("{")):
        return
    from .ir.serialize import parse_json
    try:
        doc = parse_json(text)
    except LagError as why:
        if '"lagdsl-ir"' in head:
            raise LagError("%s: %s" % (path, why.message),
                           hint="the file starts like lagdsl IR but is not valid JSON") from None
        return
    if isinstance(doc, dict):
        raise LagError("%s is JSON but not lagdsl IR: it has no \"format\": \"lagdsl-ir\" marker"
                       % path, hint="a data file goes after --data; IR comes from "
                       "`lagdsl compile MODEL --emit ir`") from None


def parse(text: str, data=None, params: dict | None = None, path: str = "<string>",
          base_dir: str | None = None, max_elements: int | None = None, allow_dirs=()) -> Model:
    """Compile ``.lag`` source text (see :func:`load` for ``data``, ``params``,
    ``max_elements`` and ``allow_dirs``)."""
    from .frontend import compile_text
    from .limits import limited
    with limited(max_elements):
        return Model(compile_text(text, path=path, data=data, params=params, base_dir=base_dir,
                                  allow_dirs=allow_dirs))
