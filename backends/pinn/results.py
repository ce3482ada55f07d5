"""Trained fields as results: callables, grids for ``--json``, plots, and saving/loading.

``Result.fields[name]`` is a :class:`FieldFunction`: ``u(x=xs, t=ts)`` (or positionally, in
the field's coordinate order) broadcasts the arrays, evaluates the network in float64 without
building a graph, and returns a NumPy array of the broadcast shape.

``save_fields(result, model, DIR)`` writes ``DIR/weights.pt`` (a dict of ``state_dict``s:
tensors only, loadable with ``torch.load(weights_only=True)``), ``DIR/fields.json`` (each
network's configuration and the scalar unknowns' values) and ``DIR/model.json`` (the model's
IR, as ``lagdsl compile --emit ir`` writes it).  :func:`load_fields` rebuilds the callables.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from .nets import FieldNet

FORMAT = "lagdsl-pinn-fields/1"


class FieldFunction:
    """A trained field, callable on coordinate arrays by keyword (``u(x=xs, t=ts)``)."""

    def __init__(self, name: str, net: FieldNet):
        self.name, self.net = name, net
        self.coords = tuple(net.config["coords"])

    def __call__(self, *args, **kw) -> np.ndarray:
        if args:
            if len(args) > len(self.coords):
                raise TypeError("%s takes %d coordinates (%s), got %d" % (
                    self.name, len(self.coords), ", ".join(self.coords), len(args)))
            for c, a in zip(self.coords, args):
                if c in kw:
                    raise TypeError("%s: coordinate %s given twice" % (self.name, c))
                kw[c] = a
        unknown = sorted(set(kw) - set(self.coords))
        missing = [c for c in self.coords if c not in kw]
        if unknown or missing:
            raise TypeError("%s(%s) takes the coordinates %s%s%s" % (
                self.name, ", ".join(self.coords), ", ".join(self.coords),
                "; unknown: " + ", ".join(unknown) if unknown else "",
                "; missing: " + ", ".join(missing) if missing else ""))
        arrs = np.broadcast_arrays(*[np.asarray(kw[c], dtype=np.float64) for c in self.coords])
        shape = arrs[0].shape
        X = torch.as_tensor(np.stack([a.reshape(-1) for a in arrs], axis=1))
        with torch.no_grad():
            out = self.net.to(torch.float64)(X).numpy()
        return out.reshape(shape)

    def __repr__(self) -> str:
        return "<field %s(%s)>" % (self.name, ", ".join(self.coords))


def grid_axes(fn: FieldFunction, n: int) -> list[np.ndarray]:
    """``n`` evenly spaced values per coordinate of the field's box."""
    box = fn.net.config["box"]
    return [np.linspace(lo, hi, n) for lo, hi in box]


def grid_values(fn: FieldFunction, n: int) -> dict:
    """``{"coords": {c: [...]}, "values": nested lists}`` on an ``n``-per-axis grid (``ij``
    order: the first coordinate is the outer list)."""
    axes = grid_axes(fn, n)
    mesh = np.meshgrid(*axes, indexing="ij")
    vals = fn(**dict(zip(fn.coords, mesh)))
    return {"coords": {c: a.tolist() for c, a in zip(fn.coords, axes)}, "values": vals.tolist()}


def field_panels(fields: dict) -> dict:
    """``--plot`` panels: a line for a 1D field, a heat map in 2D, snapshots in space-time
    (a coordinate named ``t``), a heat map at the last ``t`` for more coordinates."""
    panels = {}
    for name, fn in fields.items():
        panels["field %s(%s)" % (name, ", ".join(fn.coords))] = _drawer(fn)
    return panels


def _drawer(fn: FieldFunction):
    coords, box = list(fn.coords), fn.net.config["box"]

    def draw(ax):
        if len(coords) == 1:
            xs = np.linspace(*box[0], 400)
            ax.plot(xs, fn(xs))
            ax.set_xlabel(coords[0])
            ax.set_ylabel(fn.name)
            return
        if len(coords) == 2 and "t" in coords:
            k = coords.index("t")
            s = 1 - k
            xs = np.linspace(*box[s], 300)
            for tv in np.linspace(*box[k], 5):
                pt = {coords[s]: xs, "t": np.full_like(xs, tv)}
                ax.plot(xs, fn(**pt), label="t = %.3g" % tv)
            ax.set_xlabel(coords[s])
            ax.set_ylabel(fn.name)
            ax.legend(fontsize="small")
            return
        a, b = (0, 1) if "t" not in coords[:2] else [k for k in range(len(coords)) if coords[k] != "t"][:2]
        ga, gb = np.linspace(*box[a], 120), np.linspace(*box[b], 120)
        A, B = np.meshgrid(ga, gb, indexing="ij")
        pt = {coords[a]: A, coords[b]: B}
        for k, c in enumerate(coords):
            if c not in pt:
                pt[c] = np.full_like(A, box[k][1])
        im = ax.pcolormesh(A, B, fn(**pt), shading="auto")
        ax.figure.colorbar(im, ax=ax)
        ax.set_xlabel(coords[a])
        ax.set_ylabel(coords[b])

    return draw


#: The files :func:`save_fields` writes into its directory (and ``--overwrite`` replaces).
SAVED_FILES = ("weights.pt", "fields.json", "model.json")


def save_fields(result, model_ir, directory: str, overwrite: bool = False, inputs=None) -> list[str]:
    """Write the trained fields of ``result`` and the model's IR under ``directory``;
    returns the paths written.  The directory must be new or empty unless ``overwrite``
    (then only :data:`SAVED_FILES` in it are replaced); no file lands on an input of the run
    (``inputs``, default: :func:`lagdsl.outputs.model_inputs`) or through a symbolic link,
    and each is written whole (:mod:`lagdsl.outputs`)."""
    import io
    from lagdsl.ir.serialize import to_json
    from lagdsl.jsonnum import dumps
    from lagdsl.outputs import check_save_dir, model_inputs, write_file
    fns = {k: v for k, v in result.fields.items() if isinstance(v, FieldFunction)}
    if not fns:
        raise ValueError("the result has no trained fields to save")
    inputs = model_inputs(model_ir) if inputs is None else list(inputs)
    paths = check_save_dir(directory, SAVED_FILES, inputs, overwrite)
    buf = io.BytesIO()
    torch.save({k: {n: t.detach().cpu() for n, t in fn.net.state_dict().items()} for k, fn in fns.items()}, buf)
    meta = {"format": FORMAT, "fields": {k: fn.net.config for k, fn in fns.items()},
            "values": {k: v for k, v in result.values.items() if isinstance(v, float)}}
    os.makedirs(directory, exist_ok=True)
    for path, data in zip(paths, (buf.getvalue(), dumps(meta, indent=1) + "\n", to_json(model_ir, indent=1) + "\n")):
        write_file(path, data, inputs, "--save")
    return paths


def load_fields(directory) -> dict:
    """The fields saved by ``lagdsl solve --save DIR`` (or :func:`save_fields`), as
    ``{name: FieldFunction}``; the folder is checked as untrusted input (:mod:`.saved`)."""
    from .saved import load_fields as load
    return load(directory)
