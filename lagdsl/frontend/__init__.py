"""The front end: ``.lag`` text -> AST (:mod:`.parser`) -> checked IR (:mod:`.checker`).

Public API::

    parse_program(text, path="<string>") -> ast.Program
    elaborate(program, source, data=None, params=None, base_dir=None) -> Model
    compile_text(text, path="<string>", data=None, params=None, base_dir=None) -> Model
    compile_file(path, data=None, params=None) -> Model

``data`` is None, a dict or the path of a JSON file; ``params`` are ``--set`` overrides (a
dict, or ``"k=v"`` strings).  Every user mistake is a :class:`~lagdsl.errors.LagError`.
"""
from __future__ import annotations

import os

from ..errors import LagError
from ..ir.model import Model, Source
from .ast import Program
from .parser import parse_program

__all__ = ["parse_program", "elaborate", "compile_text", "compile_file"]


def elaborate(program: Program, source: Source, data=None, params=None, base_dir=None) -> Model:
    """Check ``program`` against its data and build the IR.

    A relative data path is taken as given (relative to the working directory); ``base_dir``
    is where relative graph files inside *dict* data resolve (a JSON file's own directory is
    used for the files it names).
    """
    from .checker import check_overrides, check_program
    from .data import apply_overrides, data_base_dir, load_data

    raw = load_data(data, None if isinstance(data, (str, os.PathLike)) else base_dir)
    raw = apply_overrides(raw, params)
    graph_dir = data_base_dir(data, base_dir) if not isinstance(data, (str, os.PathLike)) \
        else data_base_dir(data)
    model = check_program(program, source, raw, graph_dir)
    check_overrides(model, params)
    return model


def compile_text(text: str, path: str = "<string>", data=None, params=None, base_dir=None) -> Model:
    """Parse and elaborate ``.lag`` source text into a :class:`Model`."""
    source = Source(path, text)
    try:
        return elaborate(parse_program(text, path), source, data, params, base_dir)
    except LagError as err:
        if err.span is None or err.span.file == path:
            err.with_source(source)
        raise


def compile_file(path, data=None, params=None) -> Model:
    """Read, parse and elaborate the model file ``path`` (graph files named in dict data
    resolve against the model's directory)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise LagError("model file not found: %s" % path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise LagError("cannot read model file %s: %s" % (path, e)) from None
    return compile_text(text, path, data, params, os.path.dirname(os.path.abspath(path)))
