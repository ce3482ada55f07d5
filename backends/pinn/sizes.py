"""What the pinn backend's options make it allocate, checked before anything is allocated.

Options size tensors: ``width``, ``depth``, ``fourier`` and ``harmonics`` the networks (and,
through Adam and L-BFGS, their optimiser state), ``points``, ``boundary_points`` and
``integral_points`` the batches a forward pass holds, ``grid`` the field grids of ``--json``.
Each is checked against the size limit (:mod:`lagdsl.limits`, ``--max-elements``) from the
options alone, with the option named in the message; float64 tensors count
:data:`~lagdsl.limits.FLOATS_PER_ELEMENT` values to an element.  Domains whose box float64
cannot map to ``[-1, 1]`` (``x in [-1e308, 1e308]``) are refused at their declaration.
"""
from __future__ import annotations

import math

import numpy as np

from lagdsl.limits import FLOATS_PER_ELEMENT, check_option_size
from lagdsl.ir.model import Model

from .lower import Unsupported

#: Copies of the weights training keeps besides L-BFGS's pairs: the weights, their gradient,
#: Adam's two moments.
STATE_COPIES = 4
#: Float values a forward pass keeps per unit and point, per derivative carried: the linear
#: layer's output and the activation's (reverse mode keeps both for the backward pass; a
#: Taylor jet carries one per derivative).
PER_UNIT = 2


def network_inputs(n_coords: int, n_periodic: int, harmonics: int, fourier: int) -> int:
    """Width of a network's first layer (:class:`.nets.FieldNet`): the plain coordinates and
    two features per harmonic of each periodic one, or two per Fourier feature."""
    n_in = (n_coords - n_periodic) + 2 * harmonics * n_periodic
    return 2 * fourier if fourier else n_in


def network_values(n_coords: int, n_periodic: int, opts: dict) -> int:
    """Float values of one field's network: weights and biases, the Fourier matrix, the
    harmonic frequencies."""
    w, d, h, nf = opts["width"], opts["depth"], opts["harmonics"], opts["fourier"]
    n_in = (n_coords - n_periodic) + 2 * h * n_periodic
    d0 = network_inputs(n_coords, n_periodic, h, nf)
    return d0 * w + w + (d - 1) * (w * w + w) + w + 1 + nf * n_in + h


def network_option(opts: dict, periodic: bool) -> str:
    """The options that size a network, as the user set them (``width=…, depth=…``)."""
    out = "width=%s, depth=%s" % (_num(opts["width"]), _num(opts["depth"]))
    if opts["fourier"]:
        out += ", fourier=%s" % _num(opts["fourier"])
    if periodic or opts["harmonics"] > 1:
        out += ", harmonics=%s" % _num(opts["harmonics"])
    return out


def check_networks(model: Model, opts: dict, periodic: list) -> None:
    """Refuse networks whose weights and optimiser state (Adam's moments; L-BFGS's curvature
    pairs when ``lbfgs`` > 0) would exceed the limit, before any is built."""
    from .train import LBFGS_HISTORY
    copies = STATE_COPIES + (2 * LBFGS_HISTORY + STATE_COPIES if opts["lbfgs"] is None or opts["lbfgs"] > 0 else 0)
    total, any_periodic = 0, False
    for f in model.fields.values():
        n_per = sum(1 for c in periodic if c in f.coords)
        any_periodic |= bool(n_per)
        total += network_values(len(f.coords), n_per, opts) * copies
    what = "the networks of %s (weights, gradients and optimiser state)" % _fields(model)
    check_option_size(total, network_option(opts, any_periodic), what, "float64 values", FLOATS_PER_ELEMENT)


def check_passes(model: Model, terms: list, opts: dict, periodic: list) -> None:
    """Refuse batches whose forward pass would exceed the limit: the points of all terms
    (training evaluates them together), twice one term's points (the final measurement), or
    four times ``integral_points`` (an integral measured at the end)."""
    train = sum(t.rows.n * t.points for t in terms if t.sampler is not None)
    final = max((2 * t.rows.n * t.points for t in terms if t.sampler is not None), default=0)
    integral = 4 * opts["integral_points"] if _has_integral(model) else 0
    n = max(train, final, integral)
    if not n:
        return
    option = "integral_points=%s" % _num(opts["integral_points"]) if n == integral else \
        "points=%s, boundary_points=%s" % (_num(opts["points"]), _num(opts["boundary_points"]))
    per_point = 0
    for f in model.fields.values():
        k = len(f.coords)
        n_per = sum(1 for c in periodic if c in f.coords)
        first = network_inputs(k, n_per, opts["harmonics"], opts["fourier"])
        carried = 1 + k + k * (k + 1) // 2          # value, first and second derivatives
        per_point += (first + PER_UNIT * opts["width"] * opts["depth"]) * carried
    check_option_size(n * per_point, option + ", " + network_option(opts, bool(periodic)),
                      "one pass of the networks over %s points" % _num(n), "float64 values", FLOATS_PER_ELEMENT)


def check_grid(model: Model, opts: dict) -> None:
    """Refuse field grids for ``--json`` (``grid`` points per axis) beyond the limit."""
    n = sum(opts["grid"] ** len(f.coords) for f in model.fields.values())
    check_option_size(n, "grid=%s" % _num(opts["grid"]), "the grids of %s" % _fields(model), "points")


def check_domains(model: Model) -> None:
    """Refuse a domain whose box float64 cannot normalise: a coordinate's interval wider than
    float64 holds (``[-1e308, 1e308]``), so narrow that ``2 / width`` overflows, or a box (or
    face) whose measure overflows or vanishes."""
    used = {f.domain for f in model.fields.values()}
    for name, dom in model.domains.items():
        if name not in used:
            continue
        widths = []
        with np.errstate(all="ignore"):
            for c, (lo, hi) in dom.coords.items():
                why = box_problem(float(lo), float(hi))
                if why:
                    raise Unsupported("domain %s: the interval of %s, [%g, %g], %s; rescale the coordinate "
                                      "(e.g. measure it in other units)" % (name, c, lo, hi, why),
                                      dom.span, source=model.source)
                widths.append(float(hi) - float(lo))
            big = float(np.prod([w for w in widths if w > 1])) if widths else 1.0
            small = float(np.prod([w for w in widths if w < 1])) if widths else 1.0
        if not math.isfinite(big) or small == 0.0:
            raise Unsupported("domain %s: the measure of its box (the product of its coordinates' "
                              "widths) %s float64; rescale the coordinates"
                              % (name, "overflows" if not math.isfinite(big) else "underflows to 0 in"),
                              dom.span, source=model.source)


def box_problem(lo: float, hi: float) -> str | None:
    """Why the interval ``[lo, hi]`` cannot be a network's input range (None: it can): its
    bounds must be finite with ``lo < hi``, and the map to ``[-1, 1]`` (``2 / width``,
    ``lo / width``) finite in float64."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "is not finite"
    if not lo < hi:
        return "is empty or a single point"
    w = hi - lo
    if not (math.isfinite(w) and math.isfinite(2.0 / w) and math.isfinite(lo / w)):
        return "has width %g, which float64 cannot map to [-1, 1]" % w
    return None


def _has_integral(model: Model) -> bool:
    import sympy
    exprs = [c.body for c in model.constraints.values()]
    if model.objective is not None:
        exprs.append(model.objective.expr)
    return any(getattr(e, "has", None) is not None and e.has(sympy.Integral) for e in exprs)


def _num(n: int) -> str:
    """An option's count as given, shortened when it has more than 15 digits (``1.0e+400``)."""
    digits = str(n)
    return digits if len(digits) <= 15 else "%s.%se+%d" % (digits[0], digits[1], len(digits) - 1)


def _fields(model: Model) -> str:
    names = list(model.fields)
    return ("field " if len(names) == 1 else "fields ") + ", ".join(names)
