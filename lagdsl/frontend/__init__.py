"""The front end: ``.lag`` text -> AST (:mod:`.parser`) -> checked IR (:mod:`.checker`).

Public API::

    parse_program(text, path="<string>") -> ast.Program
    elaborate(program, source, data=None, params=None, base_dir=None, allow_dirs=()) -> Model
    compile_text(text, path="<string>", data=None, params=None, base_dir=None, allow_dirs=()) -> Model
    compile_file(path, data=None, params=None, allow_dirs=()) -> Model

``data`` is None, a dict or the path of a JSON file; ``params`` are ``--set`` overrides (a
dict, or ``"k=v"`` strings).  Every user mistake is a :class:`~lagdsl.errors.LagError`.
"""
from __future__ import annotations

import difflib
import json
import os

from ..errors import LagDataError, LagError
from ..ir.model import Model, Source
from .ast import Program
from .files import FileScope, read_text
from .jsontext import key_span
from .parser import parse_program

__all__ = ["parse_program", "elaborate", "compile_text", "compile_file"]


def elaborate(program: Program, source: Source, data=None, params=None, base_dir=None,
              allow_dirs=()) -> Model:
    """Check ``program`` against its data and build the IR.

    A relative data path is taken as given (relative to the working directory); ``base_dir``
    is where relative graph files inside *dict* data resolve (a JSON file's own directory is
    used for the files it names).  Files named in the data must lie inside that directory or
    inside one of ``allow_dirs`` (see :class:`~lagdsl.frontend.files.FileScope`).  A data key
    that names no set, param or graph of the model is an error (at the key, for a file).
    """
    from .checker import check_overrides, check_program
    from .data import apply_overrides, data_base_dir, load_data

    is_file = isinstance(data, (str, os.PathLike))
    raw = load_data(data, None if is_file else base_dir)
    check_data_keys(program, raw, getattr(raw, "source", None))
    check_data_keys(program, apply_overrides({}, params), what="--set")
    raw = apply_overrides(raw, params)
    scope = FileScope(data_base_dir(data) if is_file else data_base_dir(data, base_dir),
                      tuple(os.fspath(d) for d in allow_dirs or ()))
    model = check_program(program, source, raw, scope)
    check_overrides(model, params)
    return model


#: The declarations that take data, and what each is called in messages.
_DATA_DECLS = {"SetDecl": "set", "ParamDecl": "param", "GraphDecl": "graph"}
#: What the other named statements are, for "data key x names a variable".
_OTHER_DECLS = {"VarDecl": "a variable", "ConstraintStmt": "a constraint",
                "ObjectiveStmt": "an objective", "ModelStmt": "the model itself",
                "DomainDecl": "a domain", "FieldDecl": "a field", "Coord": "a coordinate"}


def check_data_keys(program: Program, data: dict, data_source: Source | None = None,
                    what: str = "data key") -> None:
    """Refuse a data key (or, with ``what="--set"``, an override) that names nothing that
    takes data (a set, param or graph of the model), with a did-you-mean; for a JSON file, at
    the key's ``line:col``."""
    takes = {st.name: _DATA_DECLS[type(st).__name__] for st in program.statements
             if type(st).__name__ in _DATA_DECLS}
    others = {st.name: type(st).__name__ for st in program.statements if hasattr(st, "name")}
    check_keys(takes, others, data, data_source, what)


def check_keys(takes: dict, others: dict, data: dict, data_source: Source | None = None,
               what: str = "data key") -> None:
    """:func:`check_data_keys` given the names that take data (name -> ``set``/``param``/
    ``graph``) and the other declarations (name -> AST class name, e.g. ``VarDecl``)."""
    for key in data:
        if key in takes:
            continue
        span = key_span(data_source, key) if data_source is not None and isinstance(key, str) else None
        shown = json.dumps(key) if isinstance(key, str) else repr(key)
        if what == "--set" and isinstance(key, str) and key.replace(".", "_").isidentifier():
            shown = key
        if key in others:
            kind = _OTHER_DECLS.get(others[key], "a declaration")
            raise LagDataError("%s %s names %s, which takes no data" % (what, shown, kind), span,
                "data gives values to sets, params and graphs", data_source)
        raise LagDataError("%s %s names nothing in the model" % (what, shown), span,
                           _did_you_mean(str(key), takes), data_source)


def _did_you_mean(key: str, takes: dict) -> str:
    """A hint naming the declaration ``key`` most likely meant, else those that take data."""
    folded = {n.lower(): n for n in takes}
    close = [folded[key.lower()]] if key.lower() in folded else \
        [folded[c] for c in difflib.get_close_matches(key.lower(), list(folded), n=1, cutoff=0.6)]
    if close:
        return "did you mean %s?" % close[0]
    if not takes:
        return "the model declares no set, param or graph that takes data"
    names = sorted(takes)
    return "the model takes data for: %s" % ", ".join(names[:20]) + (" …" if len(names) > 20 else "")


def compile_text(text: str, path: str = "<string>", data=None, params=None, base_dir=None,
                 allow_dirs=()) -> Model:
    """Parse and elaborate ``.lag`` source text into a :class:`Model`."""
    source = Source(path, text)
    try:
        return elaborate(parse_program(text, path), source, data, params, base_dir, allow_dirs)
    except LagError as err:
        if err.span is None or err.span.file == path:
            err.with_source(source)
        raise


def compile_file(path, data=None, params=None, allow_dirs=()) -> Model:
    """Read, parse and elaborate the model file ``path`` (graph files named in dict data
    resolve against the model's directory).  Only a regular UTF-8 file is read (see
    :func:`~lagdsl.frontend.files.read_text`)."""
    path = os.fspath(path)
    text = read_text(path, "model file", LagError)
    return compile_text(text, path, data, params, os.path.dirname(os.path.abspath(path)), allow_dirs)
