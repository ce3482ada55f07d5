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

import io
import json
import os
import pickle
import stat
import zipfile

from ..errors import LagDataError, LagError
from .policy import FORMAT, MANIFEST, MODEL, VERSION, WEIGHTS

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
    directory = _folder(directory)
    mpath = _member(directory, MANIFEST)
    manifest = _manifest(read_text(mpath, "policy file", limit=MAX_MANIFEST_BYTES), mpath)
    from . import METHODS
    if manifest["method"] not in METHODS:
        raise LagDataError("policy file %s: method %r is not one this lagdsl knows (%s)"
                           % (mpath, manifest["method"], ", ".join(METHODS)))
    ipath = _member(directory, MODEL)
    text = read_text(ipath, "policy model file", limit=MAX_MODEL_BYTES)
    try:
        model = Model.from_json(text)
    except LagError as exc:
        raise LagDataError("policy model file %s is not a lagdsl IR document: %s" % (ipath, exc.message),
                           hint="the folder must hold what lagdsl learn --save wrote") from None
    for name in manifest["inputs"]:
        if name not in model.ir.params:
            raise LagDataError("policy file %s: input %r is not a param of the saved model" % (mpath, name))
    wpath = _member(directory, WEIGHTS)
    from ..limits import max_elements
    limit = min(MAX_WEIGHTS_BYTES, 8 * max_elements() + WEIGHTS_SLACK)
    tensors = _weights(read_bytes(wpath, "weights file", limit=limit), wpath)
    return model, manifest, tensors


def _folder(directory) -> str:
    if not isinstance(directory, (str, os.PathLike)):
        raise LagDataError("load_policy: a saved policy is a folder path, got %s" % type(directory).__name__)
    directory = os.fspath(directory)
    try:
        st = os.stat(directory)
    except (OSError, ValueError) as e:
        raise LagDataError("policy folder %s cannot be read: %s" % (
            directory, (getattr(e, "strerror", None) or str(e)).lower())) from None
    if not stat.S_ISDIR(st.st_mode):
        raise LagDataError("policy folder %s is not a directory" % directory,
                           hint="name the folder given to lagdsl learn --save")
    return directory


def _member(directory: str, name: str) -> str:
    """The path of a file of the folder; it must exist, and a symbolic link must lead to a
    file inside the folder."""
    path = os.path.join(directory, name)
    if os.path.islink(path):
        root = os.path.realpath(directory)
        if not os.path.realpath(path).startswith(root.rstrip(os.sep) + os.sep):
            raise LagDataError("%s is a symbolic link leading out of the policy folder" % path,
                               hint="a saved policy folder holds its own files")
    if not os.path.lexists(path):
        raise LagDataError("policy folder %s has no %s: it is not a saved policy (or saving it "
                           "did not finish)" % (directory, name),
                           hint="save it again with lagdsl learn --save")
    return path


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

    def fail(why):
        raise LagDataError("weights file %s is not a lagdsl weights file: %s" % (path, why),
                           hint="the folder must hold what lagdsl learn --save wrote")

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        fail("not a torch zip archive")
    # a compressed record could expand without bound: torch writes them stored
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos) or sum(i.file_size for i in infos) > len(data):
        fail("its records are compressed or larger than the file")
    try:
        states = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:
        fail("it holds objects other than tensors, which lagdsl never loads")
    except Exception as e:          # noqa: BLE001 — any failure of the decoder on hostile bytes
        fail("torch cannot read it (%s)" % (str(e).splitlines()[0][:120] if str(e) else type(e).__name__))
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
