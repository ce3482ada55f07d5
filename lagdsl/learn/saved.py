"""Reading a saved policy folder back (:func:`read_policy_dir`), as untrusted input.

By the rules of data files (:mod:`lagdsl.frontend.files`) and of the pinn backend's saved
fields (:mod:`lagdsl.backends.pinn.saved`): every member must be a regular file (a symbolic
link only to a file inside the folder), of bounded size, read once; ``policy.json`` is parsed
as JSON with duplicate keys refused; ``model.ir.json`` by the untrusted IR reader
(:mod:`lagdsl.ir.serialize`: whitelisted node classes, no text evaluated); ``weights.pt`` (at
most 8 bytes per element of the size limit, :func:`lagdsl.limits.max_elements`) must be an
uncompressed torch zip archive of a flat ``{name: tensor}`` dict, read with
``torch.load(weights_only=True)``, every value finite.  Each failure is a
:class:`~lagdsl.errors.LagDataError` naming the file.
"""
from __future__ import annotations

import json

from ..errors import LagDataError, LagError
from ..savedfolder import folder_member, saved_folder, torch_archive
from .policy import FORMAT, MANIFEST, MODEL, VERSION, WEIGHTS

#: a folder without one of its files: what it then is not, and what to do
_MISSING = ("a saved policy", "save it again with lagdsl learn --save")

MAX_MANIFEST_BYTES = 16 << 20
MAX_MODEL_BYTES = 256 << 20
MAX_WEIGHTS_BYTES = 2 << 30
#: Bytes a weights file may hold beyond its values (the archive's records and pickle).
WEIGHTS_SLACK = 1 << 20
_KEYS = ("format", "version", "method", "inputs", "tol", "options", "meta")


def read_policy_dir(directory):
    """``(model, manifest, tensors)`` of a saved policy folder (see the module docstring)."""
    from ..api import Model
    from ..frontend.files import read_bytes, read_text
    directory = saved_folder(directory, "load_policy", "policy folder", "lagdsl learn --save")
    mpath = folder_member(directory, MANIFEST, "policy folder", _MISSING)
    manifest = _manifest(read_text(mpath, "policy file", limit=MAX_MANIFEST_BYTES), mpath)
    from . import METHODS
    if manifest["method"] not in METHODS:
        raise LagDataError("policy file %s: method %r is not one this lagdsl knows (%s)"
                           % (mpath, manifest["method"], ", ".join(METHODS)))
    ipath = folder_member(directory, MODEL, "policy folder", _MISSING)
    text = read_text(ipath, "policy model file", limit=MAX_MODEL_BYTES)
    try:
        model = Model.from_json(text)
    except LagError as exc:
        raise LagDataError("policy model file %s is not a lagdsl IR document: %s" % (ipath, exc.message),
                           hint="the folder must hold what lagdsl learn --save wrote") from None
    for name in manifest["inputs"]:
        if name not in model.ir.params:
            raise LagDataError("policy file %s: input %r is not a param of the saved model" % (mpath, name))
    wpath = folder_member(directory, WEIGHTS, "policy folder", _MISSING)
    from ..limits import max_elements
    limit = min(MAX_WEIGHTS_BYTES, 8 * max_elements() + WEIGHTS_SLACK)
    tensors = _weights(read_bytes(wpath, "weights file", limit=limit), wpath)
    return model, manifest, tensors


def _manifest(text: str, path: str) -> dict:
    from ..frontend.jsontext import parse_object
    meta = parse_object(text, path, "policy file")

    def fail(why):
        raise LagDataError("policy file %s: %s" % (path, why),
                           hint="the folder must hold what lagdsl learn --save wrote")

    if meta.get("format") != FORMAT:
        fail("format %s, expected %s" % (json.dumps(meta.get("format"))[:60], json.dumps(FORMAT)))
    if meta.get("version") != VERSION:
        fail("version %s, this lagdsl reads version %d" % (json.dumps(meta.get("version"))[:30], VERSION))
    for k in meta:
        if k not in _KEYS:
            fail("unknown key %s (keys: %s)" % (json.dumps(k)[:60], ", ".join(_KEYS)))
    for k in _KEYS:
        if k not in meta:
            fail("the key %s is missing" % k)
    if not isinstance(meta["method"], str):
        fail("method must be a string")
    if not isinstance(meta["inputs"], list) or not all(isinstance(n, str) for n in meta["inputs"]):
        fail("inputs must be a list of param names")
    tol = meta["tol"]
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (0 <= tol < 1):
        fail("tol must be a number in [0, 1)")
    if not isinstance(meta["options"], dict) or not isinstance(meta["meta"], dict):
        fail("options and meta must be objects")
    return dict(meta)


def _weights(data: bytes, path: str) -> dict:
    """The ``{name: tensor}`` of ``weights.pt`` (see the module docstring)."""
    import torch
    states = torch_archive(data, path, "lagdsl learn --save")

    def fail(why):
        raise LagDataError("weights file %s is not a lagdsl weights file: %s" % (path, why),
                           hint="the folder must hold what lagdsl learn --save wrote")

    if not isinstance(states, dict) or not all(isinstance(k, str) and torch.is_tensor(v)
                                               for k, v in states.items()):
        fail("it must map names to tensors")
    for k, v in states.items():
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            fail("tensor %s holds NaN or infinite values" % k[:60])
    return states


def expect(tensors: dict, shapes: dict, path: str = WEIGHTS) -> None:
    """Refuse saved ``tensors`` unless their names and shapes are exactly ``shapes``
    (``{name: tuple}``), what the method's meta builds."""
    for k in sorted(set(shapes) ^ set(tensors)):
        raise LagDataError("weights file %s %s tensor %s" % (
            path, "lacks the" if k in shapes else "has an unknown", k[:60]),
            hint="the folder must hold what lagdsl learn --save wrote")
    for k, shape in shapes.items():
        if tuple(tensors[k].shape) != tuple(shape):
            raise LagDataError("weights file %s: tensor %s has shape %s, the policy file gives %s"
                               % (path, k, tuple(tensors[k].shape), tuple(shape)))
