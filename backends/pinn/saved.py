"""Reading a saved folder (``lagdsl solve --save DIR``) back: :func:`load_fields`.

A saved folder is untrusted input, read by the rules of data files
(:mod:`lagdsl.frontend.files`): ``fields.json`` and ``weights.pt`` must be regular files (no
FIFO, device or directory; a symbolic link only to a file inside the folder), at most
:data:`MAX_CONFIG_BYTES` and a cap computed from the configuration respectively, read once
through a non-blocking descriptor.  Every configuration value passes the validator of the pinn
option of the same name (``width``, ``activation`` …), names come from closed vocabularies,
boxes must be finite and normalisable, the networks' sizes are checked against the size limit
before one is built, and the weights must be a zip archive of tensors only
(``torch.load(weights_only=True)``) whose names and shapes are exactly those the configuration
builds, all finite.  Each failure is a :class:`~lagdsl.errors.LagDataError` naming the file,
and for ``fields.json`` the ``line:col`` of the offending key.
"""
from __future__ import annotations

import json
import math
import re

import torch

from lagdsl.errors import LagDataError
from lagdsl.frontend.files import read_bytes, read_text
from lagdsl.frontend.jsontext import key_path_span, parse_object, quoted
from lagdsl.ir.model import Source, Span
from lagdsl.savedfolder import folder_member, saved_folder, torch_archive
from lagdsl.limits import FLOATS_PER_ELEMENT, SizeLimitError, check_option_size
from lagdsl.options import OptionError, validator_of

from .nets import FieldNet
from .results import FORMAT, FieldFunction
from .sizes import box_problem, network_option, network_values

CONFIG, WEIGHTS = "fields.json", "weights.pt"

#: The largest ``fields.json`` read (a configuration per field and the scalar unknowns).
MAX_CONFIG_BYTES = 16 << 20
#: Bytes a weights file may hold beyond its tensors' values (the archive's records and pickle).
WEIGHTS_SLACK = 1 << 20

#: Buffers a network computes from its configuration; the saved copies must agree with it.
DERIVED = {"lo": "box", "span": "box", "plain_idx": "coords, periodic", "periodic_idx": "coords, periodic",
           "freqs": "harmonics"}

#: Float values one network's Python objects (modules, buffers, the callable) count for, so
#: that a configuration of many tiny fields is sized too.
NET_OVERHEAD = 4096

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TOP = ("format", "fields", "values")
#: The keys of one field's configuration: required ones, then those with a default.
_REQUIRED = ("coords", "box", "width", "depth", "activation")
_OPTIONAL = {"fourier": 0, "fourier_scale": 1.0, "periodic": [], "harmonics": 1}


def load_fields(directory) -> dict:
    """The fields saved by ``lagdsl solve --save DIR`` (or :func:`.results.save_fields`), as
    ``{name: FieldFunction}``; anything wrong with the folder is a :class:`LagDataError`."""
    directory = saved_folder(directory, "load_fields", "saved folder", "lagdsl solve --save")
    cfg_path = folder_member(directory, CONFIG, "saved folder")
    text = read_text(cfg_path, "saved fields file", limit=MAX_CONFIG_BYTES)
    configs = _configs(parse_object(text, cfg_path, "saved fields file"), Source(cfg_path, text))
    w_path = folder_member(directory, WEIGHTS, "saved folder")
    values = sum(network_values(len(c["coords"]), len(c["periodic"]), c) for c in configs.values())
    states = _weights(read_bytes(w_path, "weights file", limit=8 * values + WEIGHTS_SLACK), w_path)
    out = {}
    for name, config in configs.items():
        net = FieldNet(config)
        _check_state(net, states, name, w_path)
        net.load_state_dict(states[name])
        net.eval()
        out[name] = FieldFunction(name, net)
    return out


def _configs(meta: dict, source: Source) -> dict:
    """Each field's validated network configuration, from the parsed ``fields.json``."""
    def fail(message, *key):
        span = key_path_span(source, key) if key else None
        raise LagDataError(message, span or Span(source.path, 1, 1), source=source)

    for k in meta:
        if k not in _TOP:
            fail("unknown key %s in the saved fields file (keys: %s)" % (quoted(k), ", ".join(_TOP)), k)
    if meta.get("format") != FORMAT:
        fail("%s was not written by lagdsl solve --save: format %s, expected %s"
             % (source.path, quoted(meta.get("format")), json.dumps(FORMAT)), *(("format",) if "format" in meta else ()))
    fields = meta.get("fields")
    if not isinstance(fields, dict) or not fields:
        fail("fields must be an object with one network configuration per field", *(("fields",) if "fields" in meta else ()))
    values = meta.get("values", {})
    if not isinstance(values, dict):
        fail("values must be an object {name: number}", "values")
    for k, v in values.items():
        if not _NAME.match(k) or isinstance(v, bool) or not isinstance(v, (int, float)):
            fail("values: %s must be a name with a number" % quoted(k), "values", k)
    out = {name: _config(name, cfg, fail) for name, cfg in fields.items()}
    sizes = {name: network_values(len(c["coords"]), len(c["periodic"]), c) for name, c in out.items()}
    big = max(sizes, key=sizes.get)
    try:
        check_option_size(sum(sizes.values()) + NET_OVERHEAD * len(sizes), network_option(out[big], bool(out[big]["periodic"])),
                          "the saved networks", "float64 values", FLOATS_PER_ELEMENT)
    except SizeLimitError as exc:
        exc.message = "field %s: %s" % (big, exc.message[len("option "):])
        exc.span = key_path_span(source, ("fields", big, "width")) or Span(source.path, 1, 1)
        exc.source = source
        exc.hint = ("raise the limit with `with lagdsl.limits.limited(N):` around load_fields (or "
                    "$LAGDSL_MAX_ELEMENTS) if the folder is trusted and the machine has the memory")
        exc.args = (exc.message,)
        raise
    return out


def _config(name: str, cfg, fail) -> dict:
    """One field's configuration, each value checked as the CLI option of its name is."""
    from . import PinnBackend
    if not _NAME.match(name):
        fail("field name %s is not a name" % quoted(name), "fields", name)
    if not isinstance(cfg, dict):
        fail("field %s: its configuration must be an object" % name, "fields", name)
    for k in cfg:
        if k not in _REQUIRED and k not in _OPTIONAL:
            fail("field %s: unknown key %s (keys: %s)" % (name, quoted(k), ", ".join(_REQUIRED + tuple(_OPTIONAL))),
                 "fields", name, k)
    for k in _REQUIRED:
        if k not in cfg:
            fail("field %s: %s is missing" % (name, k), "fields", name)
    out = {k: cfg.get(k, v) for k, v in _OPTIONAL.items()}
    for k in ("width", "depth", "activation", "fourier", "fourier_scale", "harmonics"):
        if k not in cfg:
            continue
        try:
            out[k] = validator_of(PinnBackend.options[k])(k, cfg[k])
        except OptionError as exc:
            fail("field %s: %s" % (name, exc.message.replace("option ", "", 1)), "fields", name, k)
    coords = cfg["coords"]
    if not isinstance(coords, list) or not coords or not all(isinstance(c, str) and _NAME.match(c) for c in coords) \
            or len(set(coords)) != len(coords):
        fail("field %s: coords must be a list of distinct coordinate names" % name, "fields", name, "coords")
    box = cfg["box"]
    if not isinstance(box, list) or len(box) != len(coords) or not all(
            isinstance(b, list) and len(b) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)
            for b in box):
        fail("field %s: box must hold one [low, high] pair of numbers per coordinate (%d)" % (name, len(coords)),
             "fields", name, "box")
    for c, (lo, hi) in zip(coords, box):
        why = box_problem(_float(lo), _float(hi))
        if why:
            fail("field %s: the box of %s, [%s, %s], %s" % (name, c, lo, hi, why), "fields", name, "box")
    periodic = out["periodic"]
    if not isinstance(periodic, list) or not all(isinstance(c, str) and c in coords for c in periodic) \
            or len(set(periodic)) != len(periodic):
        fail("field %s: periodic must be a list of distinct coordinates of %s" % (name, ", ".join(coords)),
             "fields", name, "periodic")
    out.update(coords=list(coords), box=[[float(lo), float(hi)] for lo, hi in box], periodic=list(periodic))
    return out


def _weights(data: bytes, path: str) -> dict:
    """The state dicts of ``weights.pt`` (:func:`lagdsl.savedfolder.torch_archive`): one dict
    of tensors per field."""
    states = torch_archive(data, path, "lagdsl solve --save")
    if not isinstance(states, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and all(isinstance(n, str) and torch.is_tensor(t) for n, t in v.items())
            for k, v in states.items()):
        raise LagDataError("weights file %s is not a lagdsl weights file: it must map each field to a dict "
                           "of tensors" % path, hint="the folder must hold what lagdsl solve --save wrote")
    return states


def _check_state(net: FieldNet, states: dict, name: str, path: str) -> None:
    """Refuse a field's saved tensors unless their names and shapes are the network's and
    every value is finite."""
    if name not in states:
        raise LagDataError("weights file %s has no weights for field %s" % (path, name))
    want, got = net.state_dict(), states[name]
    for k in sorted(set(want) ^ set(got)):
        raise LagDataError("weights file %s: field %s %s tensor %s" % (
            path, name, "lacks the" if k in want else "has an unknown", quoted(k)))
    for k, t in got.items():
        if tuple(t.shape) != tuple(want[k].shape):
            raise LagDataError("weights file %s: field %s: tensor %s has shape %s, the configuration gives %s"
                               % (path, name, k, list(t.shape), list(want[k].shape)))
        if t.is_floating_point() != want[k].is_floating_point():
            raise LagDataError("weights file %s: field %s: tensor %s has type %s, the network's is %s"
                               % (path, name, k, str(t.dtype)[6:], str(want[k].dtype)[6:]))
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise LagDataError("weights file %s: field %s: tensor %s holds NaN or infinite values" % (path, name, k))
        if k in DERIVED and not torch.equal(t.to(want[k].dtype), want[k]):
            raise LagDataError("weights file %s: field %s: tensor %s disagrees with the configuration (%s)"
                               % (path, name, k, DERIVED[k]))


def _float(v) -> float:
    """``v`` as a float64; an integer beyond it is infinite (refused as such)."""
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf

